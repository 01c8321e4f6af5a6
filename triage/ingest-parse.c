/* ingest-parse.c: one EVE line into a struct pev: jansson parse, identity hash, the fields kept. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingest-internal.h"

#define ARENA_SIZE (512 * 1024)

/*
 * A bump allocator for the one event being parsed: jansson allocates per value, and malloc/free
 * were a quarter of ingest time. Each parsing thread has its own arena, active only between
 * json_loadb and json_decref of one line; outside that, or for what does not fit, malloc.
 */
static _Thread_local char *arena_buf;
static _Thread_local size_t arena_used;
static _Thread_local int arena_on;
static _Thread_local int arena_spilled; /* this line allocated outside the arena */

static void *arena_malloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (arena_on && n <= ARENA_SIZE - arena_used) {
        void *p = arena_buf + arena_used;
        arena_used += n;
        return p;
    }
    arena_spilled |= arena_on;
    return malloc(n);
}

static void arena_free(void *p)
{
    if (arena_buf != NULL && (char *)p >= arena_buf && (char *)p < arena_buf + ARENA_SIZE)
        return;
    free(p);
}

void ing_alloc_install(struct ing_alloc *saved)
{
    json_get_alloc_funcs(&saved->m, &saved->f);
    json_set_alloc_funcs(arena_malloc, arena_free);
}

void ing_alloc_restore(const struct ing_alloc *saved)
{
    json_set_alloc_funcs(saved->m, saved->f);
}

void ing_parse_thread_done(void)
{
    free(arena_buf);
    arena_buf = NULL;
}

/* Case-insensitive substring test; the first byte is compared before strncasecmp (called for
 * every stage pattern on every alert: this was 4 % of ingest). */
static int ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return 1;
    int lo = tolower((unsigned char)needle[0]), up = toupper((unsigned char)needle[0]);
    for (; *hay; hay++)
        if ((*hay == lo || *hay == up) && strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

static int tactic_stage(const struct tcfg *cfg, const json_t *list)
{
    size_t i;
    json_t *v;
    int best = 0;
    if (json_is_string(list)) {
        for (size_t k = 0; k < cfg->nstage_tactic; k++)
            if (strcasecmp(json_string_value(list), cfg->stage_tactic[k].match) == 0)
                return cfg->stage_tactic[k].stage;
        return 0;
    }
    json_array_foreach(list, i, v)
    {
        int s = tactic_stage(cfg, v);
        if (s > best)
            best = s;
    }
    return best;
}

int ting_stage(const struct tcfg *cfg, const json_t *alert)
{
    const json_t *md = json_object_get(alert, "metadata");
    int s = tactic_stage(cfg, json_object_get(md, "mitre_tactic_name"));
    if (s == 0)
        s = tactic_stage(cfg, json_object_get(md, "mitre_tactic_id"));
    if (s == 0)
        s = tactic_stage(cfg, json_object_get(alert, "mitre_tactic"));
    if (s != 0)
        return s;
    const char *fields[] = {"classtype", "category"};
    for (size_t f = 0; f < 2; f++) {
        const char *c = json_string_value(json_object_get(alert, fields[f]));
        for (size_t k = 0; c != NULL && k < cfg->nstage_class; k++)
            if (strcasecmp(c, cfg->stage_class[k].match) == 0)
                return cfg->stage_class[k].stage;
    }
    const char *sig = json_string_value(json_object_get(alert, "signature"));
    for (size_t k = 0; sig != NULL && k < cfg->nstage_sig; k++)
        if (ci_contains(sig, cfg->stage_sig[k].match))
            return cfg->stage_sig[k].stage;
    return 0;
}

static int sigsev_level(const json_t *alert)
{
    const json_t *v = json_object_get(json_object_get(alert, "metadata"), "signature_severity");
    const char *s =
        json_is_array(v) ? json_string_value(json_array_get(v, 0)) : json_string_value(v);
    if (s == NULL)
        return 0;
    if (strcasecmp(s, "critical") == 0)
        return 3;
    if (strcasecmp(s, "major") == 0)
        return 2;
    return strcasecmp(s, "minor") == 0 || strcasecmp(s, "informational") == 0 ? 1 : 0;
}

/* "CC|ASN" of a GeoIP object (Vigil's country_iso/asn, Logstash's and Suricata's forms) into buf;
 * returns 1, or 0 (buf untouched) if g is not an object or is Vigil's {"internal": true}. */
static int geo_fmt(const json_t *g, char *buf, size_t len)
{
    if (!json_is_object(g) || json_is_true(json_object_get(g, "internal")))
        return 0;
    const char *cc = json_string_value(json_object_get(g, "country_iso"));
    if (cc == NULL)
        cc = json_string_value(json_object_get(g, "country_iso_code"));
    if (cc == NULL)
        cc = json_string_value(json_object_get(json_object_get(g, "country"), "iso_code"));
    json_int_t asn = json_integer_value(json_object_get(g, "asn"));
    if (asn == 0)
        asn = json_integer_value(json_object_get(g, "autonomous_system_number"));
    if (cc == NULL && asn == 0)
        return 0;
    snprintf(buf, len, "%s|%lld", cc ? cc : "", (long long)asn);
    return 1;
}

/*
 * The external actor's GeoIP as "CC|ASN" (empty if none). Vigil writes src_geo/dest_geo for both
 * ends: the actor is the end its inventory calls external (src_asset/dest_asset), else the end
 * that is not a private range; other tools write one geoip/src_geoip/dest_geoip object.
 */
static void geo_of(const json_t *ev, char *buf, size_t len)
{
    static const char *const objs[] = {"geoip", "src_geoip", "dest_geoip", "actor"};
    buf[0] = '\0';
    const char *ds =
        json_string_value(json_object_get(json_object_get(ev, "dest_asset"), "status"));
    int dest_first = ds != NULL && strcmp(ds, "external") == 0;
    const char *order[2] = {dest_first ? "dest_geo" : "src_geo",
                            dest_first ? "src_geo" : "dest_geo"};
    for (size_t i = 0; i < 2; i++)
        if (geo_fmt(json_object_get(ev, order[i]), buf, len))
            return;
    for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++)
        if (geo_fmt(json_object_get(ev, objs[i]), buf, len))
            return;
}

static int file_hit(const char *type, const json_t *ev)
{
    const json_t *fi = json_object_get(ev, "fileinfo");
    if (json_object_get(ev, "yara") || json_object_get(fi, "yara"))
        return 2;
    if (strcmp(type, "alert") == 0) {
        const char *sig =
            json_string_value(json_object_get(json_object_get(ev, "alert"), "signature"));
        if (sig != NULL && (ci_contains(sig, "YARA") || ci_contains(sig, "EICAR")))
            return 2;
        return fi != NULL ? 1 : 0;
    }
    return strcmp(type, "fileinfo") == 0 ? 1 : 0;
}

/* Appends s (len bytes) as [u32 length][bytes][NUL]; returns the offset of the bytes, or NONE. */
static uint32_t pbuf_add(struct pbuf *b, const char *s, size_t len)
{
    uint32_t l32 = (uint32_t)len;
    if (s == NULL || len > UINT32_MAX / 4)
        return NONE;
    size_t need = b->used + sizeof(l32) + len + 1;
    if (need > b->cap) {
        size_t nc = b->cap ? b->cap : 65536;
        while (nc < need)
            nc *= 2;
        if (nc > UINT32_MAX / 2)
            return NONE;
        char *np = realloc(b->p, nc);
        if (np == NULL)
            return NONE;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->used, &l32, sizeof(l32));
    memcpy(b->p + b->used + sizeof(l32), s, len);
    b->p[b->used + sizeof(l32) + len] = '\0';
    uint32_t off = (uint32_t)(b->used + sizeof(l32));
    b->used = need;
    return off;
}

/* The length of the string pbuf_add stored at off. */
int ing_pbuf_len(const struct pbuf *b, uint32_t off)
{
    uint32_t l32;
    memcpy(&l32, b->p + off - sizeof(l32), sizeof(l32));
    return (int)l32;
}

static uint32_t pbuf_str(struct pbuf *b, const json_t *v)
{
    return json_is_string(v) ? pbuf_add(b, json_string_value(v), json_string_length(v)) : NONE;
}

/*
 * The sensor's inventory answer (src_asset/dest_asset, docs/enrich.md) as compact JSON
 * {"src":{status,unit,system,criticality},"dest":{...}} with what correlation needs, into the
 * pbuf; NONE if the event has neither object.
 */
static uint32_t asset_of(const json_t *ev, struct pbuf *b)
{
    static const char *const sides[2][2] = {{"src_asset", "src"}, {"dest_asset", "dest"}};
    static const char *const keys[] = {"status", "id", "unit", "system", "criticality"};
    json_t *out = NULL;
    for (size_t i = 0; i < 2; i++) {
        const json_t *a = json_object_get(ev, sides[i][0]);
        if (!json_is_object(a) || !json_is_string(json_object_get(a, "status")))
            continue;
        json_t *o = json_object();
        for (size_t k = 0; o != NULL && k < sizeof(keys) / sizeof(keys[0]); k++) {
            json_t *v = json_object_get(a, keys[k]);
            if (json_is_string(v))
                json_object_set(o, keys[k], v);
        }
        if (out == NULL)
            out = json_object();
        if (out == NULL || o == NULL || json_object_set_new(out, sides[i][1], o) != 0) {
            json_decref(o);
            break;
        }
    }
    if (out == NULL)
        return NONE;
    char *txt = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    uint32_t off = txt ? pbuf_add(b, txt, strlen(txt)) : NONE;
    json_malloc_t jm;
    json_free_t jf; /* jansson's allocator: the arena while a line is parsed */
    json_get_alloc_funcs(&jm, &jf);
    if (txt != NULL)
        jf(txt);
    return off;
}

static void pev_bad(struct pev *e, struct pbuf *b, const char *why)
{
    e->status = PEV_BAD;
    e->why = pbuf_add(b, why, strlen(why));
}

/* Extracts what the store keeps from event ev (raw/len its text). Returns 0, or -1 (hash). */
int ing_extract(const struct tcfg *cfg, const struct ting_opts *o, EVP_MD_CTX *md, json_t *ev,
                const char *raw, size_t len, struct pev *e, struct pbuf *b)
{
    e->status = PEV_STORE;
    if (!json_is_object(ev)) {
        pev_bad(e, b, "not a JSON object");
        return 0;
    }
    const char *type = json_string_value(json_object_get(ev, "event_type"));
    if (type == NULL) {
        pev_bad(e, b, "no event_type");
        return 0;
    }
    const json_t *flow_id = json_object_get(ev, "flow_id");
    int is_alert = strcmp(type, "alert") == 0;
    int keep = is_alert || strcmp(type, "fileinfo") == 0 || strcmp(type, "anomaly") == 0;
    if (!keep && json_is_integer(flow_id) &&
        (strcmp(type, "http") == 0 || strcmp(type, "dns") == 0 || strcmp(type, "tls") == 0 ||
         strcmp(type, "flow") == 0))
        keep = 1;
    if (!keep) {
        e->status = PEV_SKIP;
        return 0;
    }
    e->ts = tcfg_parse_time(json_string_value(json_object_get(ev, "timestamp")));
    if (e->ts < 0) {
        pev_bad(e, b, "missing or invalid timestamp");
        return 0;
    }
    const json_t *al = json_object_get(ev, "alert");
    if (is_alert && !json_is_integer(json_object_get(al, "signature_id"))) {
        pev_bad(e, b, "alert without alert.signature_id");
        return 0;
    }
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    /* the digest is fetched once, then reused by the context (no per-line EVP_MD_fetch) */
    const EVP_MD *mdt = EVP_MD_CTX_get0_md(md);
    if (EVP_DigestInit_ex2(md, mdt ? NULL : EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(md, raw, len) != 1 || EVP_DigestFinal_ex(md, h, &hl) != 1 || hl < 16)
        return -1;
    /* 128 bits of SHA-256 are identity enough and keep the unique index small */
    memcpy(e->hash, h, 16);
    /* Vigil's "sensor", else Suricata's "host" (its sensor-name), else older "sensor_name" */
    const char *sensor = json_string_value(json_object_get(ev, "sensor"));
    if (sensor == NULL)
        sensor = json_string_value(json_object_get(ev, "host"));
    if (sensor == NULL)
        sensor = json_string_value(json_object_get(ev, "sensor_name"));
    if (sensor == NULL)
        sensor = o && o->sensor ? o->sensor : "-";
    char geo[64];
    geo_of(ev, geo, sizeof(geo));
    if (geo[0] == '\0' && cfg->ngeoip > 0) { /* not from the sensor: triage's own databases */
        const char *s = json_string_value(json_object_get(ev, "src_ip"));
        const char *d = json_string_value(json_object_get(ev, "dest_ip"));
        struct tcfg_addr sa, da; /* uncached: this may be the reader thread */
        tcfg_addr_nocache(cfg, s, &sa);
        tcfg_addr_nocache(cfg, d, &da);
        tcfg_geo_lookup(cfg, da.internal || !sa.internal ? s : d, geo, sizeof(geo));
    }
    e->is_alert = is_alert;
    e->raw = pbuf_add(b, raw, len);
    e->raw_len = (uint32_t)len;
    e->type = pbuf_add(b, type, strlen(type));
    e->sensor = pbuf_add(b, sensor, strlen(sensor));
    e->has_flow = json_is_integer(flow_id);
    e->flow_id = json_integer_value(flow_id);
    e->src = pbuf_str(b, json_object_get(ev, "src_ip"));
    e->dest = pbuf_str(b, json_object_get(ev, "dest_ip"));
    e->proto = pbuf_str(b, json_object_get(ev, "proto"));
    e->has_sport = json_is_integer(json_object_get(ev, "src_port"));
    e->sport = json_integer_value(json_object_get(ev, "src_port"));
    e->has_dport = json_is_integer(json_object_get(ev, "dest_port"));
    e->dport = json_integer_value(json_object_get(ev, "dest_port"));
    e->sig = e->cat = NONE;
    if (is_alert) {
        json_int_t sev = json_integer_value(json_object_get(al, "severity"));
        e->sid = json_integer_value(json_object_get(al, "signature_id"));
        e->sig = pbuf_str(b, json_object_get(al, "signature"));
        e->cat = pbuf_str(b, json_object_get(al, "category"));
        e->sev = sev >= 1 && sev <= 3 ? (int)sev : 3;
        e->sigsev = sigsev_level(al);
        e->stage = ting_stage(cfg, al);
    }
    e->geo = geo[0] ? pbuf_add(b, geo, strlen(geo)) : NONE;
    e->asset = asset_of(ev, b);
    e->filehit = file_hit(type, ev);
    e->pending = is_alert || strcmp(type, "fileinfo") == 0;
    if (e->raw == NONE || e->type == NONE || e->sensor == NONE)
        return -1;
    return 0;
}

/* Trims line and parses it into e (status PEV_EMPTY for a blank line). Returns 0 or -1. */
int ing_parse_line(const struct tcfg *cfg, const struct ting_opts *o, EVP_MD_CTX *md, char *line,
                   size_t len, struct pev *e, struct pbuf *b)
{
    while (len > 0 && isspace((unsigned char)line[len - 1]))
        len--;
    size_t start = 0;
    while (start < len && isspace((unsigned char)line[start]))
        start++;
    if (start == len) {
        e->status = PEV_EMPTY;
        return 0;
    }
    json_error_t jerr;
    json_malloc_t jm;
    json_free_t jf;
    struct ing_alloc saved;
    json_get_alloc_funcs(&jm, &jf);
    int own = jm != arena_malloc; /* not installed by the pipeline: around this line only */
    if (own)
        ing_alloc_install(&saved);
    if (arena_buf == NULL)
        arena_buf = malloc(ARENA_SIZE); /* without it, everything goes to malloc */
    arena_used = 0;
    arena_spilled = 0;
    arena_on = arena_buf != NULL;
    /* the line is trimmed: anything after the value is the EOF check's "end of file expected",
     * without the scan for a token after it */
    json_t *ev = json_loadb(line + start, len - start, JSON_DISABLE_EOF_CHECK, &jerr);
    if (ev != NULL && (size_t)jerr.position != len - start) {
        json_decref(ev);
        ev = NULL;
        snprintf(jerr.text, sizeof(jerr.text), "end of file expected");
    }
    int rc = 0;
    if (ev == NULL) {
        char msg[200];
        snprintf(msg, sizeof(msg), "invalid JSON: %s", jerr.text);
        pev_bad(e, b, msg);
    } else {
        rc = ing_extract(cfg, o, md, ev, line + start, len - start, e, b);
        /* nothing else holds the tree: if it is all in the arena, the next line's reset frees
         * it, and the walk of json_delete (3 % of the parse) is saved */
        if (arena_spilled || !arena_on)
            json_decref(ev);
    }
    arena_on = 0;
    if (own)
        ing_alloc_restore(&saved);
    return rc;
}
