/* ingest.c: EVE files, directories or stdin into the store, idempotent and resumable. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/triage.h"

#define INGEST_MAX_DEPTH 32
#define ARENA_SIZE (512 * 1024)

/*
 * A bump allocator for the one event being parsed: jansson allocates per value, and malloc/free
 * were a quarter of ingest time. Installed only around json_loadb .. json_decref of one line;
 * whatever does not fit falls back to malloc.
 */
static _Alignas(16) char arena_buf[ARENA_SIZE];
static size_t arena_used;

static void *arena_malloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n <= ARENA_SIZE - arena_used) {
        void *p = arena_buf + arena_used;
        arena_used += n;
        return p;
    }
    return malloc(n);
}

static void arena_free(void *p)
{
    if ((char *)p >= arena_buf && (char *)p < arena_buf + ARENA_SIZE)
        return;
    free(p);
}

struct pbuf {
    char *p;
    size_t used, cap;
};

struct ingest {
    struct tdb *t;
    const struct tcfg *cfg;
    const struct ting_opts *o;
    struct ting_stats *st;
    sqlite3_stmt *ins, *ins_raw, *file_get, *file_put;
    struct pbuf pb; /* the sequential path's event strings */
    EVP_MD_CTX *md;
    long in_batch;
    char *errbuf;
};

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

static void add_example(struct ingest *in, const char *file, long long line, const char *why)
{
    struct ting_stats *st = in->st;
    st->bad++;
    if ((int)st->nexamples >= in->cfg->max_examples)
        return;
    char **a = realloc(st->examples, (st->nexamples + 1) * sizeof(*a));
    if (a == NULL)
        return;
    st->examples = a;
    size_t n = strlen(file) + strlen(why) + 32;
    if ((a[st->nexamples] = malloc(n)) == NULL)
        return;
    if (line > 0)
        snprintf(a[st->nexamples++], n, "%s:%lld: %s", file, line, why);
    else /* a record with no line number: a stream entry, whose id is in file */
        snprintf(a[st->nexamples++], n, "%s: %s", file, why);
}

static int save_file(struct ingest *in, const char *path, const struct stat *sb, long long off,
                     long long lineno, long long bad)
{
    sqlite3_stmt *s = in->file_put;
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)sb->st_dev);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)sb->st_ino);
    sqlite3_bind_int64(s, 4, off);
    sqlite3_bind_int64(s, 5, lineno);
    sqlite3_bind_int64(s, 6, bad);
    if (sqlite3_step(s) != SQLITE_DONE) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "files: %s", sqlite3_errmsg(in->t->db));
        return -1;
    }
    return 0;
}

static int flush_batch(struct ingest *in, const char *path, const struct stat *sb, long long off,
                       long long lineno, long long bad)
{
    if (path != NULL && save_file(in, path, sb, off, lineno, bad) != 0)
        return -1;
    if (tdb_commit(in->t, in->errbuf) != 0 || tdb_begin(in->t, in->errbuf) != 0)
        return -1;
    in->in_batch = 0;
    return 0;
}

/* ---- one event, parsed and extracted (by the reader thread in pipeline mode) ---- */

#define NONE ((uint32_t)-1)
enum { PEV_STORE, PEV_BAD, PEV_SKIP, PEV_EMPTY };

struct pev {
    int status, is_alert, sev, sigsev, stage, filehit, pending;
    int has_flow, has_sport, has_dport;
    long long lineno, end_off, flow_id, sport, dport, sid;
    double ts;
    unsigned char hash[16];
    uint32_t raw, raw_len, type, sensor, src, dest, proto, sig, cat, geo, asset, why;
};

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
static int pbuf_len(const struct pbuf *b, uint32_t off)
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
static int extract(const struct tcfg *cfg, const struct ting_opts *o, EVP_MD_CTX *md, json_t *ev,
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

static void bind_off(sqlite3_stmt *s, int i, const struct pbuf *b, uint32_t off)
{
    if (off == NONE)
        sqlite3_bind_null(s, i);
    else /* with its length: no strlen in SQLite */
        sqlite3_bind_text(s, i, b->p + off, pbuf_len(b, off), SQLITE_STATIC);
}

static void bind_opt_int(sqlite3_stmt *s, int i, int has, long long v)
{
    if (has)
        sqlite3_bind_int64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

/* Stores an extracted event. Returns 0 or -1 with errbuf set. */
static int store_pev(struct ingest *in, const struct pev *e, const struct pbuf *b)
{
    sqlite3_stmt *s = in->ins;
    sqlite3_reset(s); /* every parameter is bound below (no clear_bindings) */
    bind_off(s, 1, b, e->sensor);
    sqlite3_bind_blob(s, 2, e->hash, 16, SQLITE_STATIC);
    sqlite3_bind_double(s, 3, e->ts);
    bind_off(s, 4, b, e->type);
    bind_opt_int(s, 5, e->has_flow, e->flow_id);
    bind_off(s, 6, b, e->src);
    bind_opt_int(s, 7, e->has_sport, e->sport);
    bind_off(s, 8, b, e->dest);
    bind_opt_int(s, 9, e->has_dport, e->dport);
    bind_off(s, 10, b, e->proto);
    bind_opt_int(s, 11, e->is_alert, e->sid);
    bind_off(s, 12, b, e->is_alert ? e->sig : NONE);
    bind_off(s, 13, b, e->is_alert ? e->cat : NONE);
    bind_opt_int(s, 14, e->is_alert, e->sev);
    bind_opt_int(s, 15, e->is_alert, e->sigsev);
    bind_opt_int(s, 16, e->is_alert, e->stage);
    bind_off(s, 17, b, e->geo);
    sqlite3_bind_int(s, 18, e->filehit);
    sqlite3_bind_int(s, 19, e->pending);
    bind_off(s, 20, b, e->asset);
    if (sqlite3_step(s) != SQLITE_DONE) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "insert: %s", sqlite3_errmsg(in->t->db));
        return -1;
    }
    if (sqlite3_changes(in->t->db) == 0) {
        in->st->dups++;
        return 0;
    }
    sqlite3_stmt *r = in->ins_raw;
    sqlite3_reset(r);
    sqlite3_bind_int64(r, 1, sqlite3_last_insert_rowid(in->t->db));
    sqlite3_bind_text(r, 2, b->p + e->raw, (int)e->raw_len, SQLITE_STATIC);
    if (sqlite3_step(r) != SQLITE_DONE) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "insert: %s", sqlite3_errmsg(in->t->db));
        return -1;
    }
    in->st->events++;
    in->st->alerts += e->is_alert;
    return 0;
}

/* Trims line and parses it into e (status PEV_EMPTY for a blank line). Returns 0 or -1. */
static int parse_line(const struct tcfg *cfg, const struct ting_opts *o, EVP_MD_CTX *md, char *line,
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
    arena_used = 0;
    json_set_alloc_funcs(arena_malloc, arena_free);
    json_t *ev = json_loadb(line + start, len - start, 0, &jerr);
    int rc = 0;
    if (ev == NULL) {
        char msg[200];
        snprintf(msg, sizeof(msg), "invalid JSON: %s", jerr.text);
        pev_bad(e, b, msg);
    } else {
        rc = extract(cfg, o, md, ev, line + start, len - start, e, b);
        json_decref(ev);
    }
    json_set_alloc_funcs(malloc, free);
    return rc;
}

/* Accounts for one parsed event: counts, examples, the store. Returns 0 or -1. */
static int consume(struct ingest *in, const char *name, const struct pev *e, const struct pbuf *b)
{
    if (e->status == PEV_EMPTY)
        return 0;
    in->st->lines++;
    if (e->status == PEV_SKIP)
        in->st->skipped++;
    else if (e->status == PEV_BAD)
        add_example(in, name, e->lineno, e->why == NONE ? "bad event" : b->p + e->why);
    else
        return store_pev(in, e, b);
    return 0;
}

/* Parses and stores one line (the sequential path). Returns 0 or -1. */
static int ingest_line(struct ingest *in, const char *name, long long lineno, char *line,
                       size_t len)
{
    struct pev e = {.lineno = lineno};
    in->pb.used = 0;
    if (parse_line(in->cfg, in->o, in->md, line, len, &e, &in->pb) != 0) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "out of memory or SHA-256 failure");
        return -1;
    }
    return consume(in, name, &e, &in->pb);
}

/* ---- the pipeline: a reader thread parses batches while this thread stores them ---- */

#define PIPE_LINES 4096

struct pipe_batch {
    struct pev ev[PIPE_LINES];
    size_t n;
    struct pbuf buf;
    int last;              /* end of input (or a read error) */
    long long off, lineno; /* after the batch */
};

struct pipe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pipe_batch *b[2];
    int full[2], stop, fail;
    FILE *f;
    long long off, lineno;
    const struct tcfg *cfg;
    const struct ting_opts *o;
    EVP_MD_CTX *md;
};

static void *pipe_reader(void *arg)
{
    struct pipe *p = arg;
    char *line = NULL;
    size_t cap = 0;
    for (int idx = 0;; idx ^= 1) {
        pthread_mutex_lock(&p->mu);
        while (p->full[idx] && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        struct pipe_batch *b = p->b[idx];
        b->n = 0;
        b->buf.used = 0;
        b->last = 0;
        while (b->n < PIPE_LINES) {
            ssize_t n = getline(&line, &cap, p->f);
            if (n < 0) {
                b->last = 1;
                break;
            }
            struct pev *e = &b->ev[b->n];
            memset(e, 0, sizeof(*e));
            e->lineno = ++p->lineno;
            p->off += n;
            e->end_off = p->off;
            if (parse_line(p->cfg, p->o, p->md, line, (size_t)n, e, &b->buf) != 0) {
                b->last = 1;
                pthread_mutex_lock(&p->mu);
                p->fail = 1;
                pthread_mutex_unlock(&p->mu);
                break;
            }
            b->n++;
        }
        b->off = p->off;
        b->lineno = p->lineno;
        pthread_mutex_lock(&p->mu);
        p->full[idx] = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (b->last)
            break;
    }
    free(line);
    return NULL;
}

/*
 * Reads f from its current position (offset off, line lineno) to the end with the pipeline,
 * committing every batch with the offset reached. Returns 0 or -1.
 */
static int ingest_pipelined(struct ingest *in, const char *name, const char *rp,
                            const struct stat *sb, FILE *f, long long *off, long long *lineno,
                            long long bad0, long long bad_start)
{
    struct pipe p = {.f = f, .off = *off, .lineno = *lineno, .cfg = in->cfg, .o = in->o};
    pthread_t th;
    int rc = 0;
    p.md = EVP_MD_CTX_new();
    p.b[0] = calloc(1, sizeof(struct pipe_batch));
    p.b[1] = calloc(1, sizeof(struct pipe_batch));
    if (p.md == NULL || p.b[0] == NULL || p.b[1] == NULL) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "out of memory");
        rc = -1;
        goto out;
    }
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    if (pthread_create(&th, NULL, pipe_reader, &p) != 0) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "cannot start the reader thread");
        rc = -1;
        goto out_sync;
    }
    long batch = in->o && in->o->batch > 0 ? in->o->batch : TING_BATCH;
    for (int idx = 0;; idx ^= 1) {
        pthread_mutex_lock(&p.mu);
        while (!p.full[idx])
            pthread_cond_wait(&p.cv, &p.mu);
        pthread_mutex_unlock(&p.mu);
        struct pipe_batch *b = p.b[idx];
        for (size_t k = 0; k < b->n && rc == 0; k++) {
            const struct pev *e = &b->ev[k];
            rc = consume(in, name, e, &b->buf);
            if (rc == 0 && e->status != PEV_EMPTY && ++in->in_batch >= batch)
                rc = flush_batch(in, rp, sb, e->end_off, e->lineno, bad0 + in->st->bad - bad_start);
        }
        int last = b->last;
        if (rc == 0) {
            *off = b->off;
            *lineno = b->lineno;
        }
        pthread_mutex_lock(&p.mu);
        p.full[idx] = 0;
        if (rc != 0)
            p.stop = 1;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
        if (last || rc != 0)
            break;
    }
    pthread_join(th, NULL);
    if (rc == 0 && p.fail) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "%s: out of memory or SHA-256 failure", name);
        rc = -1;
    }
out_sync:
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
out:
    for (int k = 0; k < 2; k++)
        if (p.b[k] != NULL) {
            free(p.b[k]->buf.p);
            free(p.b[k]);
        }
    EVP_MD_CTX_free(p.md);
    return rc;
}

/* A file holding one JSON array of events (some tools export EVE that way). */
static int ingest_array(struct ingest *in, const char *name, FILE *f)
{
    json_error_t jerr;
    json_t *arr = json_loadf(f, 0, &jerr);
    if (!json_is_array(arr)) {
        char msg[200];
        snprintf(msg, sizeof(msg), "invalid JSON array: %s", jerr.text);
        add_example(in, name, jerr.line, msg);
        json_decref(arr);
        return 0;
    }
    size_t i;
    json_t *ev;
    int rc = 0;
    json_array_foreach(arr, i, ev)
    {
        /* the canonical text of an element: compact, keys sorted */
        char *txt = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
        struct pev e = {.lineno = (long long)i + 1};
        in->pb.used = 0;
        rc = txt ? extract(in->cfg, in->o, in->md, ev, txt, strlen(txt), &e, &in->pb) : -1;
        free(txt);
        if (rc != 0) {
            snprintf(in->errbuf, TRIAGE_ERRBUF, "%s: out of memory or SHA-256 failure", name);
            break;
        }
        if ((rc = consume(in, name, &e, &in->pb)) != 0)
            break;
    }
    json_decref(arr);
    return rc;
}

static int ingest_stream(struct ingest *in, const char *path)
{
    int is_stdin = strcmp(path, "-") == 0;
    char real[PATH_MAX];
    const char *name = is_stdin ? "<stdin>" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    struct stat sb = {0};
    long long off = 0, lineno = 0, bad0 = 0;
    long long bad_start = in->st->bad;
    if (f == NULL) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!is_stdin) {
        if (realpath(path, real) == NULL || fstat(fileno(f), &sb) != 0) {
            snprintf(in->errbuf, TRIAGE_ERRBUF, "%s: %s", path, strerror(errno));
            fclose(f);
            return -1;
        }
        sqlite3_stmt *g = in->file_get;
        sqlite3_reset(g);
        sqlite3_bind_text(g, 1, real, -1, SQLITE_STATIC);
        if (sqlite3_step(g) == SQLITE_ROW && (dev_t)sqlite3_column_int64(g, 0) == sb.st_dev &&
            (ino_t)sqlite3_column_int64(g, 1) == sb.st_ino &&
            sqlite3_column_int64(g, 2) <= (long long)sb.st_size) {
            off = sqlite3_column_int64(g, 2);
            lineno = sqlite3_column_int64(g, 3);
            bad0 = sqlite3_column_int64(g, 4);
        }
        sqlite3_reset(g);
        if (off > 0 && fseeko(f, off, SEEK_SET) != 0)
            off = lineno = 0;
    }
    const char *rp = is_stdin ? NULL : real;
    int c = 0;
    if (off == 0) { /* a JSON array export rather than EVE lines? */
        while ((c = fgetc(f)) != EOF && isspace(c))
            ;
        if (c == '[' && !is_stdin) {
            rewind(f);
            int rc = ingest_array(in, name, f);
            long long end = (long long)sb.st_size;
            fclose(f);
            return rc != 0 ? -1 : flush_batch(in, rp, &sb, end, 1, in->st->bad - bad_start);
        }
        if (c != EOF)
            ungetc(c, f);
    }
    if (in->o == NULL || !in->o->follow) { /* to the end, parsing in a second thread */
        int rc = ingest_pipelined(in, name, rp, &sb, f, &off, &lineno, bad0, bad_start);
        if (rc == 0)
            rc = flush_batch(in, rp, &sb, off, lineno, bad0 + in->st->bad - bad_start);
        if (!is_stdin)
            fclose(f);
        return rc;
    }
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        ssize_t n = getline(&line, &cap, f);
        if (n < 0) {
            if (!in->o || !in->o->follow || is_stdin || (in->o->stop && *in->o->stop))
                break;
            /* --follow: commit, correlate, wait for growth or rotation */
            struct corr_stats cs = {0};
            if (flush_batch(in, rp, &sb, off, lineno, bad0 + in->st->bad - bad_start) != 0 ||
                tdb_commit(in->t, in->errbuf) != 0 || corr_run(in->t, in->cfg, &cs, in->errbuf) ||
                tdb_begin(in->t, in->errbuf) != 0) {
                rc = -1;
                break;
            }
            sleep(1);
            struct stat now;
            clearerr(f);
            if (stat(path, &now) == 0 && (now.st_ino != sb.st_ino || now.st_dev != sb.st_dev)) {
                n = getline(&line, &cap, f); /* drain what the old file still held */
                if (n > 0)
                    goto have_line;
                FILE *nf = fopen(path, "rb");
                if (nf == NULL)
                    continue;
                fclose(f);
                f = nf;
                fstat(fileno(f), &sb);
                off = lineno = bad0 = 0;
                bad_start = in->st->bad;
            } else if (stat(path, &now) == 0 && now.st_size < off) {
                rewind(f);
                off = lineno = 0;
            }
            continue;
        }
    have_line:
        if (in->o && in->o->follow && !is_stdin && line[n - 1] != '\n') {
            fseeko(f, off, SEEK_SET); /* a line still being written */
            clearerr(f);
            if (in->o->stop && *in->o->stop)
                break;
            if (flush_batch(in, rp, &sb, off, lineno, bad0 + in->st->bad - bad_start) != 0) {
                rc = -1;
                break;
            }
            sleep(1);
            continue;
        }
        lineno++;
        off += n;
        if (ingest_line(in, name, lineno, line, (size_t)n) != 0) {
            rc = -1;
            break;
        }
        if (++in->in_batch >= (in->o && in->o->batch > 0 ? in->o->batch : TING_BATCH) &&
            flush_batch(in, rp, &sb, off, lineno, bad0 + in->st->bad - bad_start) != 0) {
            rc = -1;
            break;
        }
    }
    free(line);
    if (rc == 0)
        rc = flush_batch(in, rp, &sb, off, lineno, bad0 + in->st->bad - bad_start);
    if (!is_stdin)
        fclose(f);
    return rc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects *.json under dir recursively, in name order. */
static int collect(const char *dir, int depth, char ***list, size_t *n, char *errbuf)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t nn = 0;
    if (d == NULL || depth > INGEST_MAX_DEPTH) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s: %s", dir, d ? "too deep" : strerror(errno));
        if (d)
            closedir(d);
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char **a = realloc(names, (nn + 1) * sizeof(*a));
        if (a == NULL)
            break;
        names = a;
        names[nn++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof(*names), name_cmp);
    int rc = 0;
    for (size_t i = 0; i < nn; i++) {
        size_t pl = strlen(dir) + strlen(names[i]) + 2;
        char *p = malloc(pl);
        struct stat sb;
        snprintf(p, pl, "%s/%s", dir, names[i]);
        free(names[i]);
        if (rc != 0 || stat(p, &sb) != 0) {
            free(p);
            continue;
        }
        size_t l = strlen(p);
        if (S_ISDIR(sb.st_mode)) {
            rc = collect(p, depth + 1, list, n, errbuf);
            free(p);
        } else if (S_ISREG(sb.st_mode) && l > 5 && strcmp(p + l - 5, ".json") == 0) {
            char **a = realloc(*list, (*n + 1) * sizeof(*a));
            if (a == NULL) {
                free(p);
                rc = -1;
                continue;
            }
            *list = a;
            a[(*n)++] = p;
        } else {
            free(p);
        }
    }
    free(names);
    return rc;
}

/* Prepares in's statements and digest context. Returns 0 or -1 with in->errbuf set. */
static int ingest_prepare(struct ingest *in)
{
    struct tdb *t = in->t;
    char *errbuf = in->errbuf;
    in->md = EVP_MD_CTX_new();
    in->ins = tdb_prepare(t,
                          "INSERT OR IGNORE INTO events(sensor, hash, ts, event_type, flow_id,"
                          " src_ip, src_port, dest_ip, dest_port, proto, sid, signature, category,"
                          " severity, sigsev, stage, geo, filehit, pending, asset)"
                          " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                          errbuf);
    in->ins_raw = tdb_prepare(t, "INSERT INTO event_raw(id, raw) VALUES(?,?)", errbuf);
    in->file_get =
        tdb_prepare(t, "SELECT dev, ino, offset, lineno, bad FROM files WHERE path=?", errbuf);
    in->file_put = tdb_prepare(t, "INSERT OR REPLACE INTO files VALUES(?,?,?,?,?,?)", errbuf);
    if (in->md == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "out of memory");
        return -1;
    }
    return in->ins == NULL || in->ins_raw == NULL || in->file_get == NULL || in->file_put == NULL
               ? -1
               : 0;
}

static void ingest_release(struct ingest *in)
{
    sqlite3_finalize(in->ins);
    sqlite3_finalize(in->ins_raw);
    free(in->pb.p);
    sqlite3_finalize(in->file_get);
    sqlite3_finalize(in->file_put);
    EVP_MD_CTX_free(in->md);
}

int ting_ingest(struct tdb *t, const struct tcfg *cfg, const char *path, const struct ting_opts *o,
                struct ting_stats *st, char *errbuf)
{
    struct ingest in = {.t = t, .cfg = cfg, .o = o, .st = st, .errbuf = errbuf};
    char **files = NULL;
    size_t nfiles = 0;
    struct stat sb;
    int rc = -1;
    if (strcmp(path, "-") != 0 && stat(path, &sb) != 0) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (strcmp(path, "-") != 0 && S_ISDIR(sb.st_mode)) {
        if (collect(path, 0, &files, &nfiles, errbuf) != 0)
            goto out;
    } else {
        files = malloc(sizeof(*files));
        if (files == NULL || (files[0] = strdup(path)) == NULL)
            goto out;
        nfiles = 1;
    }
    if (ingest_prepare(&in) != 0)
        goto out;
    if (tdb_begin(t, errbuf) != 0)
        goto out;
    rc = 0;
    for (size_t i = 0; i < nfiles && rc == 0; i++)
        rc = ingest_stream(&in, files[i]);
    if (rc == 0)
        rc = tdb_commit(t, errbuf);
    else
        tdb_rollback(t);
    if (rc == 0 && !(o && o->no_correlate)) {
        struct corr_stats cs = {0};
        rc = corr_run(t, cfg, &cs, errbuf);
        st->suppressed += cs.suppressed;
    }
out:
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    ingest_release(&in);
    return rc;
}

/* ---- single records in the caller's transaction (consume-redis.c) ---- */

struct ting_rec {
    struct ingest in;
};

struct ting_rec *ting_rec_open(struct tdb *t, const struct tcfg *cfg, const struct ting_opts *o,
                               struct ting_stats *st, char *errbuf)
{
    struct ting_rec *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "out of memory");
        return NULL;
    }
    r->in = (struct ingest){.t = t, .cfg = cfg, .o = o, .st = st, .errbuf = errbuf};
    if (ingest_prepare(&r->in) != 0) {
        ting_rec_close(r);
        return NULL;
    }
    return r;
}

int ting_rec_add(struct ting_rec *r, const char *origin, char *text, size_t len)
{
    return ingest_line(&r->in, origin, 0, text, len);
}

void ting_rec_close(struct ting_rec *r)
{
    if (r == NULL)
        return;
    ingest_release(&r->in);
    free(r);
}

void ting_stats_free(struct ting_stats *st)
{
    for (size_t i = 0; i < st->nexamples; i++)
        free(st->examples[i]);
    free(st->examples);
    st->examples = NULL;
    st->nexamples = 0;
}
