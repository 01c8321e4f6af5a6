/* config.c: triage rules (rules/triage.yaml via libyaml): windows, keys, stages, scores, assets. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "vigil/config.h"
#include "vigil/enrich.h"
#include "vigil/triage.h"

#define CFG_MAX_NODES 100000
/* Suricata's default HOME_NET plus IPv6 unique local addresses. */
#define TCFG_HOME_NET "[10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7]"
#define CFG_MAX_DEPTH 32

/* ---- YAML document to a jansson tree (scalars stay strings) ---- */

static json_t *yaml_to_json(yaml_document_t *doc, yaml_node_t *n, int depth, size_t *budget)
{
    if (n == NULL || depth > CFG_MAX_DEPTH || (*budget)-- == 0)
        return NULL;
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return json_stringn((const char *)n->data.scalar.value, n->data.scalar.length);
    case YAML_SEQUENCE_NODE: {
        json_t *a = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            json_t *v = yaml_to_json(doc, yaml_document_get_node(doc, *it), depth + 1, budget);
            if (v == NULL) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, v);
        }
        return a;
    }
    case YAML_MAPPING_NODE: {
        json_t *o = json_object();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(doc, p->key);
            if (k == NULL || k->type != YAML_SCALAR_NODE)
                continue;
            json_t *v = yaml_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1, budget);
            if (v == NULL) {
                json_decref(o);
                return NULL;
            }
            char key[256];
            size_t kl =
                k->data.scalar.length < sizeof(key) - 1 ? k->data.scalar.length : sizeof(key) - 1;
            memcpy(key, k->data.scalar.value, kl);
            key[kl] = '\0';
            json_object_set_new(o, key, v);
        }
        return o;
    }
    default:
        return json_null();
    }
}

/* ---- small readers ---- */

static double parse_duration(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    switch (*end) {
    case '\0':
    case 's':
        return v;
    case 'm':
        return v * 60;
    case 'h':
        return v * 3600;
    case 'd':
        return v * 86400;
    default:
        return -1;
    }
}

static int get_int(const json_t *o, const char *key, int *out, char *errbuf)
{
    const json_t *v = json_object_get(o, key);
    if (v == NULL)
        return 0;
    const char *s = json_string_value(v);
    char *end;
    long l = s ? strtol(s, &end, 10) : 0;
    if (s == NULL || end == s || *end != '\0') {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s: expected an integer", key);
        return -1;
    }
    *out = (int)l;
    return 0;
}

static int get_duration(const json_t *o, const char *key, double *out, char *errbuf)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (json_object_get(o, key) == NULL)
        return 0;
    double d = s ? parse_duration(s) : -1;
    if (d <= 0) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s: expected a duration such as 1h, 30m or 3600", key);
        return -1;
    }
    *out = d;
    return 0;
}

static int get_str(const json_t *o, const char *key, char **out)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (s == NULL)
        return 0;
    char *d = strdup(s);
    if (d == NULL)
        return -1;
    free(*out);
    *out = d;
    return 0;
}

const char *tcfg_stage_name(int stage)
{
    static const char *const names[] = {"-", "recon", "exploit", "c2", "exfiltration"};
    return stage > 0 && stage < STAGE_COUNT ? names[stage] : "-";
}

static int stage_from_name(const char *s)
{
    if (s == NULL)
        return -1;
    for (int i = 1; i < STAGE_COUNT; i++)
        if (strcasecmp(s, tcfg_stage_name(i)) == 0)
            return i;
    if (strcasecmp(s, "exfil") == 0)
        return STAGE_EXFIL;
    if (strcasecmp(s, "none") == 0)
        return 0;
    return -1;
}

static int add_map(struct tcfg_map **arr, size_t *n, const char *match, int stage)
{
    struct tcfg_map *a = realloc(*arr, (*n + 1) * sizeof(**arr));
    if (a == NULL)
        return -1;
    *arr = a;
    a[*n].match = strdup(match);
    a[*n].stage = stage;
    if (a[*n].match == NULL)
        return -1;
    (*n)++;
    return 0;
}

static int read_map(const json_t *o, const char *what, struct tcfg_map **arr, size_t *n,
                    char *errbuf)
{
    const char *k;
    json_t *v;
    if (o == NULL)
        return 0;
    if (!json_is_object(o)) {
        snprintf(errbuf, TRIAGE_ERRBUF, "stages.%s: expected a mapping", what);
        return -1;
    }
    for (size_t i = 0; i < *n; i++)
        free((*arr)[i].match);
    *n = 0;
    json_object_foreach((json_t *)o, k, v)
    {
        int st = stage_from_name(json_string_value(v));
        if (st < 0) {
            snprintf(errbuf, TRIAGE_ERRBUF,
                     "stages.%s.%s: unknown stage (recon, exploit, c2, "
                     "exfiltration, none)",
                     what, k);
            return -1;
        }
        if (add_map(arr, n, k, st) != 0)
            return -1;
    }
    return 0;
}

static int read_points(const json_t *o, struct tcfg_points **arr, size_t *n, char *errbuf)
{
    const char *k;
    json_t *v;
    if (!json_is_object(o))
        return 0;
    json_object_foreach((json_t *)o, k, v)
    {
        int p = 0;
        json_t *tmp = json_pack("{sO}", "x", v);
        int rc = get_int(tmp, "x", &p, errbuf);
        json_decref(tmp);
        if (rc != 0)
            return -1;
        struct tcfg_points *a = realloc(*arr, (*n + 1) * sizeof(**arr));
        if (a == NULL)
            return -1;
        *arr = a;
        a[*n].match = strdup(k);
        a[*n].points = p;
        (*n)++;
    }
    return 0;
}

/* Parses a textual address into the sensor's form. Returns 4, 6 or -1. */
static int parse_ip(const char *s, struct vg_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (s == NULL)
        return -1;
    if (inet_pton(AF_INET, s, a->u8) == 1)
        return 4;
    if (inet_pton(AF_INET6, s, a->u8) == 1)
        return 6;
    return -1;
}

static int addr_of(const struct tcfg *cfg, const char *ip, struct tcfg_addr *out, int cached)
{
    struct vg_addr a;
    int ver = parse_ip(ip, &a);
    out->internal = 0;
    out->asset = NULL;
    if (ver < 0 || cfg->enrich == NULL)
        return ver < 0 ? -1 : 0;
    struct enrich_ip_info tmp;
    const struct enrich_ip_info *info = &tmp;
    if (cached)
        info = enrich_lookup_cached(cfg->enrich, cfg->cache, ver, &a);
    else
        enrich_lookup_ip(cfg->enrich, ver, &a, &tmp);
    if (info == NULL)
        return -1;
    out->asset = info->asset;
    out->internal = info->zone != ENRICH_ZONE_EXTERNAL;
    return 0;
}

int tcfg_addr(const struct tcfg *cfg, const char *ip, struct tcfg_addr *out)
{
    return addr_of(cfg, ip, out, 1);
}

int tcfg_addr_nocache(const struct tcfg *cfg, const char *ip, struct tcfg_addr *out)
{
    return addr_of(cfg, ip, out, 0);
}

int tcfg_internal(const struct tcfg *cfg, const char *ip)
{
    struct tcfg_addr a;
    tcfg_addr(cfg, ip, &a);
    return a.internal;
}

const struct enrich_asset *tcfg_asset_host(const struct tcfg *cfg, const char *host)
{
    if (cfg->enrich == NULL || host == NULL)
        return NULL;
    return enrich_assets_lookup_host(enrich_get_assets(cfg->enrich), host);
}

int tcfg_crit_level(const char *name)
{
    static const char *const names[] = {"low", "normal", "high", "critical"};
    if (name == NULL)
        return 0;
    if (strcasecmp(name, "medium") == 0)
        return ENRICH_CRIT_NORMAL;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, names[i]) == 0)
            return ENRICH_CRIT_LOW + i;
    return 0;
}

int tcfg_geo_lookup(const struct tcfg *cfg, const char *ip, char *buf, size_t len)
{
    struct vg_addr a;
    int ver = parse_ip(ip, &a);
    buf[0] = '\0';
    if (ver < 0 || cfg->enrich == NULL || enrich_geoip_count(enrich_get_geoip(cfg->enrich)) == 0)
        return 0;
    struct enrich_ip_info info; /* no cache: ingest's reader thread calls this */
    enrich_lookup_ip(cfg->enrich, ver, &a, &info);
    if (!info.have_geo)
        return 0;
    snprintf(buf, len, "%s|%lu", info.geo.country_iso, (unsigned long)info.geo.asn);
    return 1;
}

/* The value of exactly n decimal digits at s, or -1 (no sscanf: ingest parses every timestamp). */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (Hinnant's days_from_civil),
 * as timegm without its locking and normalisation. */
static long long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

double tcfg_parse_time(const char *s)
{
    int y, mo, d, h = 0, mi = 0;
    double sec = 0;
    if (s == NULL || *s == '\0')
        return -1;
    size_t l = strlen(s);
    if (isdigit((unsigned char)s[0]) && (s[l - 1] == 'd' || s[l - 1] == 'h') &&
        strchr(s, '-') == NULL) {
        double dd = parse_duration(s);
        return dd < 0 ? -1 : (double)time(NULL) - dd;
    }
    if (l < 10 || (y = digits(s, 4)) < 0 || s[4] != '-' || (mo = digits(s + 5, 2)) < 0 ||
        s[7] != '-' || (d = digits(s + 8, 2)) < 0)
        return -1;
    const char *p = s + 10;
    if (*p == 'T' || *p == ' ') {
        if ((h = digits(p + 1, 2)) < 0 || p[3] != ':' || (mi = digits(p + 4, 2)) < 0)
            return -1;
        p += 6;
        if (*p == ':') {
            if (!isdigit((unsigned char)p[1]))
                return -1;
            char *end;
            sec = strtod(p + 1, &end);
            p = end;
        }
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec >= 61)
        return -1;
    double t = (double)(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60) + sec;
    if (*p == 'Z' || *p == '\0')
        return t;
    if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        const char *q = p + 1;
        if (strlen(q) == 4 && (oh = digits(q, 2)) >= 0 && (om = digits(q + 2, 2)) >= 0)
            return t - sign * (oh * 3600 + om * 60);
        if (strlen(q) == 5 && (oh = digits(q, 2)) >= 0 && q[2] == ':' &&
            (om = digits(q + 3, 2)) >= 0)
            return t - sign * (oh * 3600 + om * 60);
    }
    return -1;
}

const char *tcfg_fmt_time(double t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
        snprintf(buf, len, "-");
        return buf;
    }
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

int tcfg_geo_points(const struct tcfg *cfg, const char *geo)
{
    int best = 0;
    if (geo == NULL)
        return 0;
    const char *bar = strchr(geo, '|');
    size_t cl = bar ? (size_t)(bar - geo) : strlen(geo);
    for (size_t i = 0; i < cfg->ncountries; i++)
        if (strlen(cfg->countries[i].match) == cl &&
            strncmp(cfg->countries[i].match, geo, cl) == 0 && cfg->countries[i].points > best)
            best = cfg->countries[i].points;
    for (size_t i = 0; bar && i < cfg->nasns; i++)
        if (strcmp(cfg->asns[i].match, bar + 1) == 0 && cfg->asns[i].points > best)
            best = cfg->asns[i].points;
    return best;
}

/* ---- defaults ---- */

static const struct {
    const char *m;
    int s;
} def_class[] = {
    {"attempted-recon", STAGE_RECON},
    {"successful-recon-limited", STAGE_RECON},
    {"network-scan", STAGE_RECON},
    {"Attempted Information Leak", STAGE_RECON},
    {"Detection of a Network Scan", STAGE_RECON},
    {"attempted-admin", STAGE_EXPLOIT},
    {"attempted-user", STAGE_EXPLOIT},
    {"successful-admin", STAGE_EXPLOIT},
    {"successful-user", STAGE_EXPLOIT},
    {"web-application-attack", STAGE_EXPLOIT},
    {"shellcode-detect", STAGE_EXPLOIT},
    {"exploit-kit", STAGE_EXPLOIT},
    {"Web Application Attack", STAGE_EXPLOIT},
    {"Attempted Administrator Privilege Gain", STAGE_EXPLOIT},
    {"Attempted User Privilege Gain", STAGE_EXPLOIT},
    {"Executable code was detected", STAGE_EXPLOIT},
    {"trojan-activity", STAGE_C2},
    {"command-and-control", STAGE_C2},
    {"A Network Trojan was detected", STAGE_C2},
    {"Malware Command and Control Activity Detected", STAGE_C2},
    {"successful-recon-largescale", STAGE_EXFIL},
};
static const struct {
    const char *m;
    int s;
} def_sig[] = {
    {"ET SCAN", STAGE_RECON},
    {"port scan", STAGE_RECON},
    {"ET EXPLOIT", STAGE_EXPLOIT},
    {"ET WEB_SERVER", STAGE_EXPLOIT},
    {"CnC", STAGE_C2},
    {"C2 ", STAGE_C2},
    {"Beacon", STAGE_C2},
    {"exfil", STAGE_EXFIL},
};
static const struct {
    const char *m;
    int s;
} def_tactic[] = {
    {"reconnaissance", STAGE_RECON},
    {"discovery", STAGE_RECON},
    {"TA0043", STAGE_RECON},
    {"TA0007", STAGE_RECON},
    {"initial_access", STAGE_EXPLOIT},
    {"execution", STAGE_EXPLOIT},
    {"privilege_escalation", STAGE_EXPLOIT},
    {"TA0001", STAGE_EXPLOIT},
    {"TA0002", STAGE_EXPLOIT},
    {"TA0004", STAGE_EXPLOIT},
    {"command_and_control", STAGE_C2},
    {"TA0011", STAGE_C2},
    {"exfiltration", STAGE_EXFIL},
    {"TA0010", STAGE_EXFIL},
};

int tcfg_defaults(struct tcfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->window = 3600;
    cfg->keys = KEY_ASSET;
    cfg->campaign_hosts = 5;
    cfg->campaign_window = 3600;
    cfg->sev_points[1] = 40;
    cfg->sev_points[2] = 25;
    cfg->sev_points[3] = 10;
    cfg->sigsev_points[1] = 0;
    cfg->sigsev_points[2] = 10;
    cfg->sigsev_points[3] = 20;
    cfg->crit_points[ENRICH_CRIT_LOW] = 5;
    cfg->crit_points[ENRICH_CRIT_NORMAL] = 10;
    cfg->crit_points[ENRICH_CRIT_HIGH] = 15;
    cfg->crit_points[ENRICH_CRIT_CRITICAL] = 20;
    cfg->file_points = 10;
    cfg->yara_points = 20;
    cfg->volume_max = 10;
    cfg->stage_points = 15;
    cfg->campaign_points = 10;
    cfg->thresholds[0] = 80;
    cfg->thresholds[1] = 60;
    cfg->thresholds[2] = 35;
    cfg->max_examples = 10;
    for (size_t i = 0; i < sizeof(def_class) / sizeof(def_class[0]); i++)
        if (add_map(&cfg->stage_class, &cfg->nstage_class, def_class[i].m, def_class[i].s) != 0)
            return -1;
    for (size_t i = 0; i < sizeof(def_sig) / sizeof(def_sig[0]); i++)
        if (add_map(&cfg->stage_sig, &cfg->nstage_sig, def_sig[i].m, def_sig[i].s) != 0)
            return -1;
    for (size_t i = 0; i < sizeof(def_tactic) / sizeof(def_tactic[0]); i++)
        if (add_map(&cfg->stage_tactic, &cfg->nstage_tactic, def_tactic[i].m, def_tactic[i].s) != 0)
            return -1;
    cfg->default_unit = strdup("Trung tâm kỹ thuật và ứng cứu an toàn mạng");
    cfg->default_tlp = strdup("amber");
    cfg->default_pap = strdup("amber");
    cfg->home_net = strdup(TCFG_HOME_NET);
    if (!cfg->default_unit || !cfg->default_tlp || !cfg->default_pap || !cfg->home_net)
        return -1;
    char why[TRIAGE_ERRBUF];
    return tcfg_finish(cfg, why); /* HOME_NET only: fails only when out of memory */
}

static int read_keys(const json_t *v, int *keys, char *errbuf)
{
    static const struct {
        const char *n;
        int k;
    } names[] = {{"signature", KEY_SIGNATURE},     {"src", KEY_SRC},     {"dest", KEY_DEST},
                 {"src_dest", KEY_SRC | KEY_DEST}, {"asset", KEY_ASSET}, {"actor", KEY_ACTOR}};
    size_t i;
    json_t *it;
    int k = 0;
    if (json_is_string(v)) {
        json_t *a = json_pack("[O]", v);
        int rc = read_keys(a, keys, errbuf);
        json_decref(a);
        return rc;
    }
    json_array_foreach(v, i, it)
    {
        size_t j;
        for (j = 0; j < sizeof(names) / sizeof(names[0]); j++)
            if (json_string_value(it) && strcmp(json_string_value(it), names[j].n) == 0)
                break;
        if (j == sizeof(names) / sizeof(names[0])) {
            snprintf(errbuf, TRIAGE_ERRBUF,
                     "grouping.keys: unknown key '%s' (signature, src, "
                     "dest, src_dest, asset, actor)",
                     json_string_value(it) ? json_string_value(it) : "?");
            return -1;
        }
        k |= names[j].k;
    }
    if (k == 0) {
        snprintf(errbuf, TRIAGE_ERRBUF, "grouping.keys: empty");
        return -1;
    }
    *keys = k;
    return 0;
}

/* Returns path, or dir/path if path is relative and dir is not empty; malloc'd or NULL. */
static char *resolve(const char *dir, const char *path)
{
    if (path[0] == '/' || dir == NULL || dir[0] == '\0')
        return strdup(path);
    size_t n = strlen(dir) + strlen(path) + 2;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, path);
    return p;
}

/* assets (the inventory file), home_net, internal_networks and geoip. */
static int read_inventory(struct tcfg *cfg, const json_t *root, const char *dir, char *errbuf)
{
    const json_t *as = json_object_get(root, "assets");
    if (json_is_string(as)) {
        free(cfg->assets_path);
        cfg->assets_path = json_string_length(as) ? resolve(dir, json_string_value(as)) : NULL;
        if (json_string_length(as) && cfg->assets_path == NULL)
            return -1;
    } else if (as != NULL) {
        /* one inventory format for sensor and triage: the list of older versions is refused */
        snprintf(errbuf, TRIAGE_ERRBUF,
                 "assets: expected the path of an inventory file (the sensor's enrich.assets "
                 "format, docs/enrich.md), not an inline list");
        return -1;
    }
    const json_t *hn = json_object_get(root, "home_net");
    if (hn != NULL && !json_is_string(hn)) {
        snprintf(errbuf, TRIAGE_ERRBUF,
                 "home_net: expected an address spec such as "
                 "\"[10.0.0.0/8,192.168.0.0/16]\"");
        return -1;
    }
    if (hn != NULL && get_str(root, "home_net", &cfg->home_net) != 0)
        return -1;
    const json_t *in = json_object_get(root, "internal_networks");
    size_t i;
    json_t *it;
    json_array_foreach(in, i, it)
    {
        if (!json_is_string(it)) {
            snprintf(errbuf, TRIAGE_ERRBUF, "internal_networks[%zu]: expected a CIDR", i);
            return -1;
        }
        size_t n = strlen(cfg->home_net) + json_string_length(it) + 4;
        char *h = malloc(n);
        if (h == NULL)
            return -1;
        snprintf(h, n, "[%s,%s]", cfg->home_net, json_string_value(it));
        free(cfg->home_net);
        cfg->home_net = h;
    }
    const json_t *g = json_object_get(root, "geoip");
    if (json_is_string(g) && json_string_length(g) > 0) {
        char *r = resolve(dir, json_string_value(g));
        int bad = r == NULL || tcfg_add_geoip(cfg, r) != 0;
        free(r);
        if (bad)
            return -1;
    } else if (!json_is_string(g)) {
        json_array_foreach(g, i, it)
        {
            char *r = json_is_string(it) ? resolve(dir, json_string_value(it)) : NULL;
            if (r == NULL || tcfg_add_geoip(cfg, r) != 0) {
                free(r);
                snprintf(errbuf, TRIAGE_ERRBUF, "geoip[%zu]: expected a path", i);
                return -1;
            }
            free(r);
        }
    }
    return 0;
}

int tcfg_set_assets(struct tcfg *cfg, const char *path)
{
    char *p = strdup(path);
    if (p == NULL)
        return -1;
    free(cfg->assets_path);
    cfg->assets_path = p;
    return 0;
}

int tcfg_add_geoip(struct tcfg *cfg, const char *path)
{
    char **a = realloc(cfg->geoip, (cfg->ngeoip + 1) * sizeof(*a));
    if (a == NULL)
        return -1;
    cfg->geoip = a;
    if ((a[cfg->ngeoip] = strdup(path)) == NULL)
        return -1;
    cfg->ngeoip++;
    return 0;
}

/*
 * Refuses a file the configuration names that is not a regular file (/dev/zero, a FIFO, a
 * directory): reading one would never end, or block, or eat memory. Returns 0, or -1 with
 * "what PATH: not a regular file" (or the stat error) in errbuf.
 */
static int check_regular(const char *what, const char *path, char *errbuf)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s %s: not a regular file", what, path);
        return -1;
    }
    return 0;
}

int tcfg_finish(struct tcfg *cfg, char *errbuf)
{
    char why[VG_ERRBUF_SIZE];
    if (cfg->assets_path != NULL && check_regular("inventory", cfg->assets_path, errbuf) != 0)
        return -1;
    for (size_t i = 0; i < cfg->ngeoip; i++)
        if (check_regular("GeoIP database", cfg->geoip[i], errbuf) != 0)
            return -1;
    struct config *c = config_new();
    if (c == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "out of memory");
        return -1;
    }
    enrich_cache_free(cfg->cache);
    enrich_free(cfg->enrich);
    cfg->cache = NULL;
    cfg->enrich = NULL;
    int rc = -1;
    /* the inventory is loaded by the library itself (one parser, one set of errors) */
    if ((cfg->assets_path && config_set(c, "enrich.assets", cfg->assets_path, why) != 0) ||
        config_set(c, "enrich.home-net", cfg->home_net, why) != 0) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s", why);
        goto out;
    }
    if ((cfg->enrich = enrich_new(c, why)) == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s", why);
        goto out;
    }
    for (size_t i = 0; i < cfg->ngeoip; i++)
        if (enrich_add_database(cfg->enrich, cfg->geoip[i], why) != 0) {
            snprintf(errbuf, TRIAGE_ERRBUF, "%s", why);
            goto out;
        }
    if ((cfg->cache = enrich_cache_new(cfg->enrich, 65536)) == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "out of memory");
        goto out;
    }
    rc = 0;
out:
    config_free(c);
    if (rc != 0) {
        enrich_free(cfg->enrich);
        cfg->enrich = NULL;
    }
    return rc;
}

static int read_supp(struct tcfg *cfg, const json_t *list, char *errbuf)
{
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it)
    {
        struct tcfg_supp s = {0};
        int sid = 0;
        if (get_int(it, "sid", &sid, errbuf) != 0)
            return -1;
        s.sid = sid;
        const char *exp = json_string_value(json_object_get(it, "expires"));
        s.expires = exp ? tcfg_parse_time(exp) : 0;
        if (exp != NULL && s.expires < 0) {
            snprintf(errbuf, TRIAGE_ERRBUF, "suppress[%zu].expires: bad date", i);
            return -1;
        }
        get_str(it, "addr", &s.addr);
        get_str(it, "asset", &s.asset);
        get_str(it, "reason", &s.reason);
        if (s.sid == 0 && s.addr == NULL && s.asset == NULL) {
            snprintf(errbuf, TRIAGE_ERRBUF, "suppress[%zu]: needs sid, addr or asset", i);
            return -1;
        }
        struct tcfg_supp *a = realloc(cfg->supp, (cfg->nsupp + 1) * sizeof(*a));
        if (a == NULL)
            return -1;
        cfg->supp = a;
        a[cfg->nsupp++] = s;
    }
    return 0;
}

/* scoring.asset_criticality: {low: 5, normal: 10, high: 15, critical: 20}, or (the old form) an
 * integer of points per level. */
static int read_crit(struct tcfg *cfg, const json_t *v, char *errbuf)
{
    if (v == NULL)
        return 0;
    if (json_is_string(v)) {
        int per = 0;
        json_t *tmp = json_pack("{sO}", "asset_criticality", (json_t *)v);
        int rc = get_int(tmp, "asset_criticality", &per, errbuf);
        json_decref(tmp);
        if (rc != 0)
            return -1;
        for (int i = 1; i <= 4; i++)
            cfg->crit_points[i] = per * i;
        return 0;
    }
    if (!json_is_object(v)) {
        snprintf(errbuf, TRIAGE_ERRBUF,
                 "scoring.asset_criticality: expected {low: N, normal: N,"
                 " high: N, critical: N}");
        return -1;
    }
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        int lv = tcfg_crit_level(k);
        if (lv == 0) {
            snprintf(errbuf, TRIAGE_ERRBUF,
                     "scoring.asset_criticality.%s: not low, normal, high or critical", k);
            return -1;
        }
        if (get_int(v, k, &cfg->crit_points[lv], errbuf) != 0)
            return -1;
    }
    return 0;
}

static int apply(struct tcfg *cfg, const json_t *root, const char *dir, char *errbuf)
{
    const json_t *g = json_object_get(root, "grouping"), *c = json_object_get(root, "campaign");
    const json_t *s = json_object_get(root, "stages"), *sc = json_object_get(root, "scoring");
    const json_t *tk = json_object_get(root, "tickets"), *in = json_object_get(root, "ingest");
    if (get_duration(g, "window", &cfg->window, errbuf) != 0)
        return -1;
    if (json_object_get(g, "keys") && read_keys(json_object_get(g, "keys"), &cfg->keys, errbuf))
        return -1;
    if (get_int(c, "min_hosts", &cfg->campaign_hosts, errbuf) != 0 ||
        get_duration(c, "window", &cfg->campaign_window, errbuf) != 0)
        return -1;
    if (read_map(json_object_get(s, "classtypes"), "classtypes", &cfg->stage_class,
                 &cfg->nstage_class, errbuf) != 0 ||
        read_map(json_object_get(s, "signatures"), "signatures", &cfg->stage_sig, &cfg->nstage_sig,
                 errbuf) != 0 ||
        read_map(json_object_get(s, "tactics"), "tactics", &cfg->stage_tactic, &cfg->nstage_tactic,
                 errbuf) != 0)
        return -1;
    const json_t *as = json_object_get(sc, "alert_severity");
    const json_t *ss = json_object_get(sc, "signature_severity");
    const json_t *lv = json_object_get(sc, "levels");
    if (get_int(as, "1", &cfg->sev_points[1], errbuf) ||
        get_int(as, "2", &cfg->sev_points[2], errbuf) ||
        get_int(as, "3", &cfg->sev_points[3], errbuf) ||
        get_int(ss, "minor", &cfg->sigsev_points[1], errbuf) ||
        get_int(ss, "major", &cfg->sigsev_points[2], errbuf) ||
        get_int(ss, "critical", &cfg->sigsev_points[3], errbuf) ||
        get_int(sc, "file", &cfg->file_points, errbuf) ||
        get_int(sc, "yara", &cfg->yara_points, errbuf) ||
        get_int(sc, "volume_max", &cfg->volume_max, errbuf) ||
        get_int(sc, "kill_chain_step", &cfg->stage_points, errbuf) ||
        get_int(sc, "campaign", &cfg->campaign_points, errbuf) ||
        get_int(lv, "critical", &cfg->thresholds[0], errbuf) ||
        get_int(lv, "high", &cfg->thresholds[1], errbuf) ||
        get_int(lv, "medium", &cfg->thresholds[2], errbuf))
        return -1;
    if (read_crit(cfg, json_object_get(sc, "asset_criticality"), errbuf) != 0)
        return -1;
    if (read_points(json_object_get(sc, "countries"), &cfg->countries, &cfg->ncountries, errbuf) ||
        read_points(json_object_get(sc, "asns"), &cfg->asns, &cfg->nasns, errbuf))
        return -1;
    if (get_str(tk, "default_unit", &cfg->default_unit) || get_str(tk, "tlp", &cfg->default_tlp) ||
        get_str(tk, "pap", &cfg->default_pap))
        return -1;
    if (get_int(in, "max_examples", &cfg->max_examples, errbuf) != 0)
        return -1;
    if (read_inventory(cfg, root, dir, errbuf) != 0)
        return -1;
    return read_supp(cfg, json_object_get(root, "suppress"), errbuf);
}

int tcfg_load(struct tcfg *cfg, const char *path, char *errbuf)
{
    yaml_parser_t p;
    yaml_document_t doc;
    struct stat sb;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s: cannot open (%s)", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (f == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s: cannot open (%s)", path, strerror(errno));
        close(fd);
        return -1;
    }
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    if (!yaml_parser_load(&p, &doc)) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s:%zu: %s", path, p.problem_mark.line + 1,
                 p.problem ? p.problem : "YAML error");
        yaml_parser_delete(&p);
        fclose(f);
        return -1;
    }
    size_t budget = CFG_MAX_NODES;
    yaml_node_t *rootn = yaml_document_get_root_node(&doc);
    json_t *root = rootn ? yaml_to_json(&doc, rootn, 0, &budget) : json_object();
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    fclose(f);
    if (root == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s: document too deep or too large", path);
        return -1;
    }
    char inner[TRIAGE_ERRBUF];
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    else
        dir[0] = '\0';
    int rc = json_is_object(root) ? apply(cfg, root, dir, inner)
                                  : (snprintf(inner, sizeof(inner), "expected a mapping"), -1);
    if (rc == 0)
        rc = tcfg_finish(cfg, inner);
    if (rc != 0)
        snprintf(errbuf, TRIAGE_ERRBUF, "%.100s: %.400s", path, inner);
    json_decref(root);
    return rc;
}

void tcfg_free(struct tcfg *cfg)
{
    for (size_t i = 0; i < cfg->nstage_class; i++)
        free(cfg->stage_class[i].match);
    for (size_t i = 0; i < cfg->nstage_sig; i++)
        free(cfg->stage_sig[i].match);
    for (size_t i = 0; i < cfg->nstage_tactic; i++)
        free(cfg->stage_tactic[i].match);
    for (size_t i = 0; i < cfg->ncountries; i++)
        free(cfg->countries[i].match);
    for (size_t i = 0; i < cfg->nasns; i++)
        free(cfg->asns[i].match);
    for (size_t i = 0; i < cfg->ngeoip; i++)
        free(cfg->geoip[i]);
    free(cfg->geoip);
    free(cfg->assets_path);
    free(cfg->home_net);
    enrich_cache_free(cfg->cache);
    enrich_free(cfg->enrich);
    for (size_t i = 0; i < cfg->nsupp; i++) {
        free(cfg->supp[i].addr);
        free(cfg->supp[i].asset);
        free(cfg->supp[i].reason);
    }
    free(cfg->stage_class);
    free(cfg->stage_sig);
    free(cfg->stage_tactic);
    free(cfg->countries);
    free(cfg->asns);
    free(cfg->supp);
    free(cfg->default_unit);
    free(cfg->default_tlp);
    free(cfg->default_pap);
    memset(cfg, 0, sizeof(*cfg));
}
