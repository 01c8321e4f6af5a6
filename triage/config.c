/* config.c: triage rules (rules/triage.yaml via libyaml): windows, keys, stages, scores, assets. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <yaml.h>

#include "vigil/triage.h"

#define CFG_MAX_NODES 100000
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

/* Parses "a.b.c.d/len" or "v6/len" (or a bare address) into net. Returns 0 or -1. */
static int parse_cidr(const char *s, struct tcfg_net *net)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", s);
    char *slash = strchr(buf, '/');
    long len = -1;
    if (slash != NULL) {
        *slash = '\0';
        char *end;
        len = strtol(slash + 1, &end, 10);
        if (*end != '\0' || len < 0)
            return -1;
    }
    memset(net->addr, 0, 16);
    struct in_addr a4;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        net->addr[10] = net->addr[11] = 0xff;
        memcpy(net->addr + 12, &a4, 4);
        if (len > 32)
            return -1;
        net->prefix = 96 + (int)(len < 0 ? 32 : len);
    } else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
        if (len > 128)
            return -1;
        net->prefix = (int)(len < 0 ? 128 : len);
    } else {
        return -1;
    }
    return 0;
}

static int addr16(const char *ip, uint8_t out[16])
{
    struct in_addr a4;
    memset(out, 0, 16);
    if (ip == NULL)
        return -1;
    if (inet_pton(AF_INET, ip, &a4) == 1) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &a4, 4);
        return 0;
    }
    return inet_pton(AF_INET6, ip, out) == 1 ? 0 : -1;
}

static int in_net(const uint8_t a[16], const struct tcfg_net *n)
{
    int bits = n->prefix;
    for (int i = 0; i < 16 && bits > 0; i++, bits -= 8) {
        uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
        if ((a[i] & mask) != (n->addr[i] & mask))
            return 0;
    }
    return 1;
}

const struct tcfg_net *tcfg_lookup(const struct tcfg *cfg, const char *ip)
{
    uint8_t a[16];
    const struct tcfg_net *best = NULL;
    if (addr16(ip, a) != 0)
        return NULL;
    for (size_t i = 0; i < cfg->nnets; i++) {
        const struct tcfg_net *n = &cfg->nets[i];
        if (n->name != NULL && in_net(a, n) && (best == NULL || n->prefix > best->prefix))
            best = n;
    }
    return best;
}

int tcfg_internal(const struct tcfg *cfg, const char *ip)
{
    static const char *const priv[] = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"};
    static struct tcfg_net nets[4];
    static int ready;
    uint8_t a[16];
    if (!ready) {
        for (size_t i = 0; i < 4; i++)
            parse_cidr(priv[i], &nets[i]);
        ready = 1;
    }
    if (addr16(ip, a) != 0)
        return 0;
    for (size_t i = 0; i < cfg->nnets; i++)
        if (in_net(a, &cfg->nets[i]))
            return 1;
    for (size_t i = 0; i < 4; i++)
        if (in_net(a, &nets[i]))
            return 1;
    return 0;
}

double tcfg_parse_time(const char *s)
{
    struct tm tm;
    int y, mo, d, h = 0, mi = 0, n = 0;
    double sec = 0;
    if (s == NULL || *s == '\0')
        return -1;
    size_t l = strlen(s);
    if (isdigit((unsigned char)s[0]) && (s[l - 1] == 'd' || s[l - 1] == 'h') &&
        strchr(s, '-') == NULL) {
        double dd = parse_duration(s);
        return dd < 0 ? -1 : (double)time(NULL) - dd;
    }
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    const char *p = s + 10;
    if (*p == 'T' || *p == ' ') {
        int m = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &m) != 2)
            return -1;
        p += 1 + m;
        if (*p == ':') {
            char *end;
            sec = strtod(p + 1, &end);
            p = end;
        }
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec >= 61)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    double t = (double)timegm(&tm) + sec;
    if (*p == 'Z' || *p == '\0')
        return t;
    if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh = 0, om = 0;
        const char *q = p + 1;
        if (strlen(q) == 4 && sscanf(q, "%2d%2d", &oh, &om) == 2)
            return t - sign * (oh * 3600 + om * 60);
        if (sscanf(q, "%2d:%2d", &oh, &om) == 2)
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
    cfg->crit_points = 4;
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
    return cfg->default_unit && cfg->default_tlp && cfg->default_pap ? 0 : -1;
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

static int read_nets(struct tcfg *cfg, const json_t *internal, const json_t *assets, char *errbuf)
{
    size_t i;
    json_t *it;
    json_array_foreach(internal, i, it)
    {
        struct tcfg_net n = {0};
        if (!json_is_string(it) || parse_cidr(json_string_value(it), &n) != 0) {
            snprintf(errbuf, TRIAGE_ERRBUF, "internal_networks[%zu]: bad CIDR", i);
            return -1;
        }
        struct tcfg_net *a = realloc(cfg->nets, (cfg->nnets + 1) * sizeof(*a));
        if (a == NULL)
            return -1;
        cfg->nets = a;
        a[cfg->nnets++] = n;
    }
    json_array_foreach(assets, i, it)
    {
        struct tcfg_net n = {0};
        const char *cidr = json_string_value(json_object_get(it, "cidr"));
        if (cidr == NULL || parse_cidr(cidr, &n) != 0) {
            snprintf(errbuf, TRIAGE_ERRBUF, "assets[%zu].cidr: missing or bad CIDR", i);
            return -1;
        }
        n.criticality = 3;
        if (get_int(it, "criticality", &n.criticality, errbuf) != 0)
            return -1;
        if (n.criticality < 1 || n.criticality > 5) {
            snprintf(errbuf, TRIAGE_ERRBUF, "assets[%zu].criticality: expected 1..5", i);
            return -1;
        }
        const char *name = json_string_value(json_object_get(it, "name"));
        const char *unit = json_string_value(json_object_get(it, "unit"));
        n.name = strdup(name ? name : cidr);
        n.unit = strdup(unit ? unit : cfg->default_unit);
        struct tcfg_net *a = realloc(cfg->nets, (cfg->nnets + 1) * sizeof(*a));
        if (a == NULL || n.name == NULL || n.unit == NULL)
            return -1;
        cfg->nets = a;
        a[cfg->nnets++] = n;
    }
    return 0;
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

static int apply(struct tcfg *cfg, const json_t *root, char *errbuf)
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
        get_int(sc, "asset_criticality", &cfg->crit_points, errbuf) ||
        get_int(sc, "file", &cfg->file_points, errbuf) ||
        get_int(sc, "yara", &cfg->yara_points, errbuf) ||
        get_int(sc, "volume_max", &cfg->volume_max, errbuf) ||
        get_int(sc, "kill_chain_step", &cfg->stage_points, errbuf) ||
        get_int(sc, "campaign", &cfg->campaign_points, errbuf) ||
        get_int(lv, "critical", &cfg->thresholds[0], errbuf) ||
        get_int(lv, "high", &cfg->thresholds[1], errbuf) ||
        get_int(lv, "medium", &cfg->thresholds[2], errbuf))
        return -1;
    if (read_points(json_object_get(sc, "countries"), &cfg->countries, &cfg->ncountries, errbuf) ||
        read_points(json_object_get(sc, "asns"), &cfg->asns, &cfg->nasns, errbuf))
        return -1;
    if (get_str(tk, "default_unit", &cfg->default_unit) || get_str(tk, "tlp", &cfg->default_tlp) ||
        get_str(tk, "pap", &cfg->default_pap))
        return -1;
    if (get_int(in, "max_examples", &cfg->max_examples, errbuf) != 0)
        return -1;
    if (read_nets(cfg, json_object_get(root, "internal_networks"), json_object_get(root, "assets"),
                  errbuf) != 0)
        return -1;
    return read_supp(cfg, json_object_get(root, "suppress"), errbuf);
}

int tcfg_load(struct tcfg *cfg, const char *path, char *errbuf)
{
    FILE *f = fopen(path, "rb");
    yaml_parser_t p;
    yaml_document_t doc;
    if (f == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s: cannot open", path);
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
    int rc = json_is_object(root) ? apply(cfg, root, inner)
                                  : (snprintf(inner, sizeof(inner), "expected a mapping"), -1);
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
    for (size_t i = 0; i < cfg->nnets; i++) {
        free(cfg->nets[i].name);
        free(cfg->nets[i].unit);
    }
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
    free(cfg->nets);
    free(cfg->supp);
    free(cfg->default_unit);
    free(cfg->default_tlp);
    free(cfg->default_pap);
    memset(cfg, 0, sizeof(*cfg));
}
