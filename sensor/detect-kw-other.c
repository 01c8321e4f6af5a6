/* detect-kw-other.c: rule keywords other than payload: metadata, flow, flowbits/xbits/flowint, rates, packet. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect-parse.h"

static unsigned split(char *s, char sep, char **f, unsigned max)
{
    unsigned n = 0;
    char *start = s;
    for (char *p = s;; p++) {
        if (*p == sep || *p == '\0') {
            int end = *p == '\0';
            *p = '\0';
            if (n < max)
                f[n++] = parse_trim(start);
            if (end)
                break;
            start = p + 1;
        }
    }
    return n;
}

static int need(struct parse_ctx *pc, const char *value, const char *kw)
{
    if (value == NULL || *value == '\0') {
        vg_errbuf_set(pc->errbuf, "%s needs a value", kw);
        return -1;
    }
    return 0;
}

static int get_uint(struct parse_ctx *pc, const char *t, uint64_t max, uint64_t *out, const char *kw)
{
    if (vg_parse_uint(t, max, out) < 0) {
        vg_errbuf_set(pc->errbuf, "%s: invalid number '%s'", kw, t);
        return -1;
    }
    return 0;
}

/* ---- Metadata ---- */

static int kw_msg(struct parse_ctx *pc, const char *value)
{
    if (need(pc, value, "msg") < 0)
        return -1;
    size_t n = strlen(value) + 1;
    char *m = malloc(n);
    if (m == NULL || parse_unquote(value, m, n) < 0) {
        free(m);
        vg_errbuf_set(pc->errbuf, "invalid msg");
        return -1;
    }
    free((char *)pc->s->info.msg);
    pc->s->info.msg = m;
    return 0;
}

static int kw_sid(struct parse_ctx *pc, const char *value)
{
    uint64_t v;
    if (need(pc, value, "sid") < 0 || get_uint(pc, value, UINT32_MAX, &v, "sid") < 0)
        return -1;
    if (v == 0) {
        vg_errbuf_set(pc->errbuf, "sid must not be 0");
        return -1;
    }
    pc->s->info.sid = (uint32_t)v;
    return 0;
}

static int kw_rev(struct parse_ctx *pc, const char *value)
{
    uint64_t v;
    if (need(pc, value, "rev") < 0 || get_uint(pc, value, UINT32_MAX, &v, "rev") < 0)
        return -1;
    pc->s->info.rev = (uint32_t)v;
    return 0;
}

static int kw_gid(struct parse_ctx *pc, const char *value)
{
    uint64_t v;
    if (need(pc, value, "gid") < 0 || get_uint(pc, value, UINT32_MAX, &v, "gid") < 0)
        return -1;
    pc->s->info.gid = (uint32_t)v;
    return 0;
}

static int kw_classtype(struct parse_ctx *pc, const char *value)
{
    if (need(pc, value, "classtype") < 0)
        return -1;
    for (const char *p = value; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
            vg_errbuf_set(pc->errbuf, "invalid classtype '%s'", value);
            return -1;
        }
    }
    free((char *)pc->s->info.classtype);
    pc->s->info.classtype = strdup(value);
    return pc->s->info.classtype ? 0 : -1;
}

static int kw_priority(struct parse_ctx *pc, const char *value)
{
    uint64_t v;
    if (need(pc, value, "priority") < 0 || get_uint(pc, value, 255, &v, "priority") < 0)
        return -1;
    if (v == 0) {
        vg_errbuf_set(pc->errbuf, "priority must be 1 to 255");
        return -1;
    }
    pc->s->info.priority = (int)v;
    return 0;
}

static int kw_reference(struct parse_ctx *pc, const char *value)
{
    if (need(pc, value, "reference") < 0)
        return -1;
    if (strchr(value, ',') == NULL) {
        vg_errbuf_set(pc->errbuf, "reference must be type,id");
        return -1;
    }
    return 0;
}

/* metadata:key value, key value; kept as text, turned into JSON when an alert needs it. */
static int kw_metadata(struct parse_ctx *pc, const char *value)
{
    if (need(pc, value, "metadata") < 0)
        return -1;
    struct sig *s = pc->s;
    const char *old = s->info.metadata;
    size_t n = (old ? strlen(old) + 2 : 0) + strlen(value) + 1;
    char *m = malloc(n);
    if (m == NULL)
        return -1;
    /* Several metadata options add up, as Suricata merges them. */
    snprintf(m, n, "%s%s%s", old ? old : "", old ? ", " : "", value);
    free((char *)old);
    s->info.metadata = m;
    return 0;
}

json_t *detect_sig_metadata_json(const struct detect_sig_info *si)
{
    if (si->metadata == NULL)
        return NULL;
    json_t *obj = json_object();
    const char *p = si->metadata;
    while (obj != NULL && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (len > 0) {
            const char *sp = memchr(p, ' ', len);
            size_t klen = sp ? (size_t)(sp - p) : len;
            const char *v = sp ? sp + 1 : p + len;
            while (v < p + len && *v == ' ')
                v++;
            json_t *arr = json_object_getn(obj, p, klen);
            if (arr == NULL) {
                arr = json_array();
                json_object_setn_new(obj, p, klen, arr);
            }
            json_array_append_new(arr, json_stringn(v, (size_t)(p + len - v)));
        }
        p = end ? end + 1 : p + strlen(p);
    }
    return obj;
}

static int kw_target(struct parse_ctx *pc, const char *value)
{
    if (need(pc, value, "target") < 0)
        return -1;
    if (strcmp(value, "src_ip") != 0 && strcmp(value, "dest_ip") != 0) {
        vg_errbuf_set(pc->errbuf, "target must be src_ip or dest_ip");
        return -1;
    }
    return 0;
}

/* ---- flow ---- */

static int kw_flow(struct parse_ctx *pc, const char *value)
{
    if (need(pc, value, "flow") < 0)
        return -1;
    char buf[256];
    char *f[8];
    snprintf(buf, sizeof(buf), "%s", value);
    unsigned n = split(buf, ',', f, 8);
    static const struct {
        const char *name;
        uint16_t bit;
    } opts[] = {{"established", FK_ESTABLISHED}, {"not_established", FK_NOT_ESTABLISHED},
                {"to_server", FK_TOSERVER},      {"from_client", FK_TOSERVER},
                {"to_client", FK_TOCLIENT},      {"from_server", FK_TOCLIENT},
                {"stateless", FK_STATELESS},     {"only_stream", FK_ONLY_STREAM},
                {"no_stream", FK_NO_STREAM},     {"only_frag", FK_ONLY_FRAG},
                {"no_frag", FK_NO_FRAG}};
    for (unsigned i = 0; i < n; i++) {
        int found = 0;
        for (size_t k = 0; k < VG_ARRAY_LEN(opts); k++) {
            if (strcmp(f[i], opts[k].name) == 0) {
                pc->s->flow |= opts[k].bit;
                found = 1;
            }
        }
        if (!found) {
            vg_errbuf_set(pc->errbuf, "flow: unknown option '%s'", f[i]);
            return -1;
        }
    }
    uint16_t fl = pc->s->flow;
    if (((fl & FK_TOSERVER) && (fl & FK_TOCLIENT)) ||
        ((fl & FK_ESTABLISHED) && (fl & FK_NOT_ESTABLISHED)) ||
        ((fl & FK_ONLY_STREAM) && (fl & FK_NO_STREAM))) {
        vg_errbuf_set(pc->errbuf, "flow: contradictory options '%s'", value);
        return -1;
    }
    return 0;
}

/* ---- flowbits and xbits ---- */

static int parse_bit_names(struct parse_ctx *pc, struct bit_registry *reg, char *names,
                           struct bit_op *op, const char *kw)
{
    char *f[BIT_GROUP_MAX];
    char sep = strchr(names, '|') ? '|' : '&';
    op->any = sep == '|';
    unsigned n = split(names, sep, f, BIT_GROUP_MAX);
    if (n == 0 || (n > 1 && op->cmd != BIT_ISSET && op->cmd != BIT_ISNOTSET)) {
        vg_errbuf_set(pc->errbuf, "%s: a group of names is only allowed with isset/isnotset", kw);
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        if (*f[i] == '\0' || strlen(f[i]) > 256) {
            vg_errbuf_set(pc->errbuf, "%s: invalid name", kw);
            return -1;
        }
        op->bits[i] = detect_bit_intern(reg, f[i]);
        if (op->bits[i] == UINT32_MAX)
            return -1;
    }
    op->n = (uint8_t)n;
    return 0;
}

static int bit_cmd(const char *c, uint8_t *cmd)
{
    static const struct {
        const char *name;
        uint8_t cmd;
    } cmds[] = {{"set", BIT_SET},     {"unset", BIT_UNSET},       {"toggle", BIT_TOGGLE},
                {"isset", BIT_ISSET}, {"isnotset", BIT_ISNOTSET}};
    for (size_t i = 0; i < VG_ARRAY_LEN(cmds); i++) {
        if (strcmp(cmds[i].name, c) == 0) {
            *cmd = cmds[i].cmd;
            return 0;
        }
    }
    return -1;
}

static int kw_flowbits(struct parse_ctx *pc, const char *value)
{
    if (need(pc, value, "flowbits") < 0)
        return -1;
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", value);
    char *comma = strchr(buf, ',');
    char *cmd = buf;
    if (comma)
        *comma = '\0';
    cmd = parse_trim(cmd);
    if (strcmp(cmd, "noalert") == 0 && comma == NULL) {
        pc->s->noalert = 1;
        return 0;
    }
    struct bit_op op;
    memset(&op, 0, sizeof(op));
    if (bit_cmd(cmd, &op.cmd) < 0 || comma == NULL) {
        vg_errbuf_set(pc->errbuf, "flowbits: expected set|unset|toggle|isset|isnotset,name "
                                  "or noalert");
        return -1;
    }
    if (parse_bit_names(pc, &pc->e->flowbits, parse_trim(comma + 1), &op, "flowbits") < 0)
        return -1;
    struct sig *s = pc->s;
    struct bit_op *v = realloc(s->fb, (s->nfb + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    s->fb = v;
    s->fb[s->nfb++] = op;
    return 0;
}

static int kw_noalert(struct parse_ctx *pc, const char *value)
{
    (void)value;
    pc->s->noalert = 1;
    return 0;
}

/* xbits:<cmd>,<name>,track <ip_src|ip_dst|ip_pair>[,expire <seconds>] */
static int kw_xbits(struct parse_ctx *pc, const char *value)
{
    if (need(pc, value, "xbits") < 0)
        return -1;
    char buf[1024];
    char *f[6];
    snprintf(buf, sizeof(buf), "%s", value);
    unsigned n = split(buf, ',', f, 6);
    struct bit_op op;
    memset(&op, 0, sizeof(op));
    if (strcmp(f[0], "noalert") == 0) {
        pc->s->noalert = 1;
        return 0;
    }
    if (n < 3 || bit_cmd(f[0], &op.cmd) < 0) {
        vg_errbuf_set(pc->errbuf, "xbits: expected cmd,name,track ...");
        return -1;
    }
    if (parse_bit_names(pc, &pc->e->xbits, f[1], &op, "xbits") < 0)
        return -1;
    for (unsigned i = 2; i < n; i++) {
        if (strncmp(f[i], "track", 5) == 0) {
            char *t = parse_trim(f[i] + 5);
            if (strcmp(t, "ip_src") == 0)
                op.track = TRACK_IP_SRC;
            else if (strcmp(t, "ip_dst") == 0)
                op.track = TRACK_IP_DST;
            else if (strcmp(t, "ip_pair") == 0)
                op.track = TRACK_IP_PAIR;
            else {
                vg_errbuf_set(pc->errbuf, "xbits: unknown track '%s'", t);
                return -1;
            }
        } else if (strncmp(f[i], "expire", 6) == 0) {
            uint64_t e;
            if (get_uint(pc, parse_trim(f[i] + 6), 86400 * 365, &e, "xbits expire") < 0)
                return -1;
            op.expire = (uint32_t)e;
        } else {
            vg_errbuf_set(pc->errbuf, "xbits: unknown option '%s'", f[i]);
            return -1;
        }
    }
    if (op.track == TRACK_FLOW) {
        vg_errbuf_set(pc->errbuf, "xbits: track is required");
        return -1;
    }
    if (op.expire == 0)
        op.expire = 30; /* Suricata's default */
    struct sig *s = pc->s;
    struct bit_op *v = realloc(s->xb, (s->nxb + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    s->xb = v;
    s->xb[s->nxb++] = op;
    return 0;
}

/* flowint:name,<op>,value | name,isset | name,notset */
static int kw_flowint(struct parse_ctx *pc, const char *value)
{
    if (need(pc, value, "flowint") < 0)
        return -1;
    char buf[512];
    char *f[4];
    snprintf(buf, sizeof(buf), "%s", value);
    unsigned n = split(buf, ',', f, 4);
    struct int_op op;
    memset(&op, 0, sizeof(op));
    op.value_var = -1;
    if (n < 2 || *f[0] == '\0') {
        vg_errbuf_set(pc->errbuf, "flowint: expected name,op[,value]");
        return -1;
    }
    op.var = detect_bit_intern(&pc->e->flowints, f[0]);
    const char *o = f[1];
    if (strcmp(o, "isset") == 0 || strcmp(o, "notset") == 0 || strcmp(o, "isnotset") == 0) {
        op.cmd = strcmp(o, "isset") == 0 ? INT_ISSET : INT_NOTSET;
    } else {
        if (n < 3) {
            vg_errbuf_set(pc->errbuf, "flowint: %s needs a value", o);
            return -1;
        }
        static const struct {
            const char *s;
            uint8_t cmd, op;
        } ops[] = {{"=", INT_SET, 0},          {"+", INT_ADD, 0},          {"-", INT_SUB, 0},
                   {"==", INT_CMP, RANGE_EQ},  {"!=", INT_CMP, RANGE_NE},  {"<", INT_CMP, RANGE_LT},
                   {">", INT_CMP, RANGE_GT},   {"<=", INT_CMP, RANGE_LE},  {">=", INT_CMP, RANGE_GE}};
        int found = 0;
        for (size_t i = 0; i < VG_ARRAY_LEN(ops); i++) {
            if (strcmp(ops[i].s, o) == 0) {
                op.cmd = ops[i].cmd;
                op.op = ops[i].op;
                found = 1;
            }
        }
        if (!found) {
            vg_errbuf_set(pc->errbuf, "flowint: unknown operator '%s'", o);
            return -1;
        }
        if (isdigit((unsigned char)f[2][0])) {
            uint64_t v;
            if (get_uint(pc, f[2], INT64_MAX, &v, "flowint") < 0)
                return -1;
            op.value = (int64_t)v;
        } else {
            op.value_var = (int32_t)detect_bit_intern(&pc->e->flowints, f[2]);
        }
    }
    struct sig *s = pc->s;
    struct int_op *v = realloc(s->fi, (s->nfi + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    s->fi = v;
    s->fi[s->nfi++] = op;
    return 0;
}

/* ---- threshold, detection_filter ---- */

static int parse_thr(struct parse_ctx *pc, const char *value, struct thr_spec *t, int need_type,
                     const char *kw)
{
    char buf[256];
    char *f[8];
    snprintf(buf, sizeof(buf), "%s", value);
    unsigned n = split(buf, ',', f, 8);
    int have_type = 0, have_track = 0, have_count = 0, have_secs = 0;
    for (unsigned i = 0; i < n; i++) {
        char *sp = f[i];
        while (*sp && !isspace((unsigned char)*sp))
            sp++;
        char *val = *sp ? parse_trim(sp + 1) : sp;
        *sp = '\0';
        const char *key = f[i];
        uint64_t v;
        if (strcmp(key, "type") == 0) {
            if (strcmp(val, "limit") == 0)
                t->type = THR_LIMIT;
            else if (strcmp(val, "threshold") == 0)
                t->type = THR_THRESHOLD;
            else if (strcmp(val, "both") == 0)
                t->type = THR_BOTH;
            else
                goto bad;
            have_type = 1;
        } else if (strcmp(key, "track") == 0) {
            if (strcmp(val, "by_src") == 0)
                t->track = THR_BY_SRC;
            else if (strcmp(val, "by_dst") == 0)
                t->track = THR_BY_DST;
            else if (strcmp(val, "by_rule") == 0)
                t->track = THR_BY_RULE;
            else if (strcmp(val, "by_both") == 0)
                t->track = THR_BY_BOTH;
            else
                goto bad;
            have_track = 1;
        } else if (strcmp(key, "count") == 0) {
            if (vg_parse_uint(val, UINT32_MAX, &v) < 0 || v == 0)
                goto bad;
            t->count = (uint32_t)v;
            have_count = 1;
        } else if (strcmp(key, "seconds") == 0) {
            if (vg_parse_uint(val, UINT32_MAX, &v) < 0)
                goto bad;
            t->seconds = (uint32_t)v;
            have_secs = 1;
        } else {
            goto bad;
        }
    }
    if ((need_type && !have_type) || !have_track || !have_count || !have_secs) {
        vg_errbuf_set(pc->errbuf, "%s: needs %strack, count and seconds", kw,
                      need_type ? "type, " : "");
        return -1;
    }
    return 0;
bad:
    vg_errbuf_set(pc->errbuf, "%s: invalid option '%s'", kw, f[0]);
    return -1;
}

static int kw_threshold(struct parse_ctx *pc, const char *value)
{
    if (need(pc, value, "threshold") < 0)
        return -1;
    if (pc->s->thr != NULL || pc->s->dfilter != NULL) {
        vg_errbuf_set(pc->errbuf, "only one threshold or detection_filter per rule");
        return -1;
    }
    struct thr_spec *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -1;
    pc->s->thr = t;
    return parse_thr(pc, value, t, 1, "threshold");
}

static int kw_detection_filter(struct parse_ctx *pc, const char *value)
{
    if (need(pc, value, "detection_filter") < 0)
        return -1;
    if (pc->s->thr != NULL || pc->s->dfilter != NULL) {
        vg_errbuf_set(pc->errbuf, "only one threshold or detection_filter per rule");
        return -1;
    }
    struct thr_spec *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -1;
    pc->s->dfilter = t;
    t->type = THR_DETECTION_FILTER;
    return parse_thr(pc, value, t, 0, "detection_filter");
}

/* ---- Packet keywords ---- */

static struct pkt_check *new_check(struct parse_ctx *pc, uint8_t type)
{
    struct sig *s = pc->s;
    if (s->npc == UINT8_MAX)
        return NULL;
    struct pkt_check *v = realloc(s->pc, (s->npc + 1) * sizeof(*v));
    if (v == NULL)
        return NULL;
    s->pc = v;
    struct pkt_check *c = &s->pc[s->npc++];
    memset(c, 0, sizeof(*c));
    c->type = type;
    return c;
}

static int range_check(struct parse_ctx *pc, const char *value, uint8_t type, uint64_t max,
                       const char *kw)
{
    if (need(pc, value, kw) < 0)
        return -1;
    struct pkt_check *c = new_check(pc, type);
    return c == NULL ? -1 : parse_range(pc, value, max, &c->r, kw);
}

static int kw_ttl(struct parse_ctx *pc, const char *v) { return range_check(pc, v, PC_TTL, 255, "ttl"); }
static int kw_itype(struct parse_ctx *pc, const char *v) { return range_check(pc, v, PC_ITYPE, 255, "itype"); }
static int kw_icode(struct parse_ctx *pc, const char *v) { return range_check(pc, v, PC_ICODE, 255, "icode"); }
static int kw_dsize(struct parse_ctx *pc, const char *v) { return range_check(pc, v, PC_DSIZE, 65535, "dsize"); }
static int kw_icmp_id(struct parse_ctx *pc, const char *v) { return range_check(pc, v, PC_ICMP_ID, 65535, "icmp_id"); }
static int kw_icmp_seq(struct parse_ctx *pc, const char *v) { return range_check(pc, v, PC_ICMP_SEQ, 65535, "icmp_seq"); }
static int kw_seq(struct parse_ctx *pc, const char *v) { return range_check(pc, v, PC_SEQ, UINT32_MAX, "seq"); }
static int kw_ack(struct parse_ctx *pc, const char *v) { return range_check(pc, v, PC_ACK, UINT32_MAX, "ack"); }
static int kw_window(struct parse_ctx *pc, const char *v) { return range_check(pc, v, PC_WINDOW, 65535, "window"); }
static int kw_id(struct parse_ctx *pc, const char *v) { return range_check(pc, v, PC_IPID, 65535, "id"); }
static int kw_tos(struct parse_ctx *pc, const char *v) { return range_check(pc, v, PC_TOS, 255, "tos"); }

static int kw_sameip(struct parse_ctx *pc, const char *value)
{
    (void)value;
    return new_check(pc, PC_SAMEIP) ? 0 : -1;
}

/* prefilter: Suricata's hint to prefilter on a non-content keyword. Vigil prefilters on
 * content and ports only, so it changes nothing about what matches. */
static int kw_prefilter(struct parse_ctx *pc, const char *value)
{
    if (value != NULL) {
        vg_errbuf_set(pc->errbuf, "prefilter takes no value");
        return -1;
    }
    return 0;
}

static int kw_ip_proto(struct parse_ctx *pc, const char *value)
{
    if (need(pc, value, "ip_proto") < 0)
        return -1;
    static const struct {
        const char *name;
        unsigned num;
    } names[] = {{"ip", 0},   {"icmp", 1},  {"igmp", 2},   {"ipip", 4},  {"tcp", 6},
                 {"udp", 17}, {"ipv6", 41}, {"gre", 47},   {"esp", 50},  {"ah", 51},
                 {"ipv6-icmp", 58}, {"icmpv6", 58}, {"ospf", 89}, {"pim", 103}, {"vrrp", 112},
                 {"sctp", 132}};
    const char *v = value;
    char buf[32];
    int prefix = (*v == '!' || *v == '<' || *v == '>') ? 1 : 0;
    for (size_t i = 0; i < VG_ARRAY_LEN(names); i++) {
        if (strcasecmp(names[i].name, v + prefix) == 0) {
            snprintf(buf, sizeof(buf), "%.*s%u", prefix, v, names[i].num);
            v = buf;
        }
    }
    return range_check(pc, v, PC_IP_PROTO, 255, "ip_proto");
}

/* flags:[!+*]<SAFRPUCE0>[,<mask>] */
static uint8_t flag_bits(const char *s, int *bad)
{
    uint8_t b = 0;
    for (; *s; s++) {
        switch (toupper((unsigned char)*s)) {
        case 'F': b |= VG_TH_FIN; break;
        case 'S': b |= VG_TH_SYN; break;
        case 'R': b |= VG_TH_RST; break;
        case 'P': b |= VG_TH_PUSH; break;
        case 'A': b |= VG_TH_ACK; break;
        case 'U': b |= VG_TH_URG; break;
        case 'C': case '1': b |= VG_TH_CWR; break;
        case 'E': case '2': b |= VG_TH_ECE; break;
        case '0': break;
        case ' ': break;
        default: *bad = 1;
        }
    }
    return b;
}

static int kw_flags(struct parse_ctx *pc, const char *value)
{
    if (need(pc, value, "flags") < 0)
        return -1;
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", value);
    char *comma = strchr(buf, ',');
    uint8_t mask = 0xff;
    int bad = 0;
    if (comma != NULL) {
        *comma = '\0';
        mask = (uint8_t)~flag_bits(parse_trim(comma + 1), &bad);
    }
    char *t = parse_trim(buf);
    struct pkt_check *c = new_check(pc, PC_FLAGS);
    if (c == NULL)
        return -1;
    c->mode = '=';
    if (*t == '!' || *t == '+' || *t == '*') {
        c->mode = (uint8_t)*t;
        t++;
    }
    size_t n = strlen(t);
    if (n > 0 && (t[n - 1] == '+' || t[n - 1] == '*')) {
        c->mode = (uint8_t)t[n - 1];
        t[n - 1] = '\0';
    }
    c->match = flag_bits(t, &bad);
    c->mask = mask;
    if (bad || *t == '\0') {
        vg_errbuf_set(pc->errbuf, "flags: invalid value '%s'", value);
        return -1;
    }
    return 0;
}

/* fragbits:[+*!]<MDR> */
static int kw_fragbits(struct parse_ctx *pc, const char *value)
{
    if (need(pc, value, "fragbits") < 0)
        return -1;
    struct pkt_check *c = new_check(pc, PC_FRAGBITS);
    if (c == NULL)
        return -1;
    const char *t = value;
    c->mode = '=';
    if (*t == '!' || *t == '+' || *t == '*')
        c->mode = (uint8_t)*t++;
    for (; *t; t++) {
        switch (toupper((unsigned char)*t)) {
        case 'M': c->match |= 0x20; break; /* more fragments */
        case 'D': c->match |= 0x40; break; /* don't fragment */
        case 'R': c->match |= 0x80; break; /* reserved */
        default:
            vg_errbuf_set(pc->errbuf, "fragbits: invalid value '%s'", value);
            return -1;
        }
    }
    return 0;
}

static int kw_ipopts(struct parse_ctx *pc, const char *value)
{
    if (need(pc, value, "ipopts") < 0)
        return -1;
    static const struct {
        const char *name;
        uint8_t type;
    } opts[] = {{"eol", 0},     {"nop", 1},    {"rr", 7},      {"ts", 68},  {"sec", 130},
                {"esec", 133},  {"lsrr", 131}, {"lsrre", 131}, {"ssrr", 137}, {"satid", 136},
                {"any", 255}};
    for (size_t i = 0; i < VG_ARRAY_LEN(opts); i++) {
        if (strcmp(opts[i].name, value) == 0) {
            struct pkt_check *c = new_check(pc, PC_IPOPTS);
            if (c == NULL)
                return -1;
            c->match = opts[i].type;
            return 0;
        }
    }
    vg_errbuf_set(pc->errbuf, "ipopts: unknown option '%s'", value);
    return -1;
}

static int kw_app_layer_protocol(struct parse_ctx *pc, const char *value)
{
    if (need(pc, value, "app-layer-protocol") < 0)
        return -1;
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", value);
    char *comma = strchr(buf, ',');
    if (comma)
        *comma = '\0'; /* ",final" and the like: detection is final when it is known */
    char *t = parse_trim(buf);
    int neg = *t == '!';
    if (neg)
        t++;
    unsigned p;
    if (strcmp(t, "failed") == 0)
        p = APP_FAILED;
    else if (strcmp(t, "unknown") == 0)
        p = APP_UNKNOWN;
    else if ((p = app_proto_lookup(t)) == APP_UNKNOWN) {
        snprintf(pc->unsupported, pc->unsupported_len, "app-layer-protocol:%s", t);
        vg_errbuf_set(pc->errbuf, "app-layer-protocol: unsupported protocol '%s'", t);
        return -1;
    }
    struct pkt_check *c = new_check(pc, PC_APP_PROTO);
    if (c == NULL)
        return -1;
    c->negate = (uint8_t)neg;
    c->r.a = p;
    return 0;
}

/* stream_size:<server|client|both|either>,<op>,<n> */
static int kw_stream_size(struct parse_ctx *pc, const char *value)
{
    if (need(pc, value, "stream_size") < 0)
        return -1;
    char buf[128];
    char *f[3];
    snprintf(buf, sizeof(buf), "%s", value);
    if (split(buf, ',', f, 3) != 3) {
        vg_errbuf_set(pc->errbuf, "stream_size: expected side,operator,value");
        return -1;
    }
    struct pkt_check *c = new_check(pc, PC_STREAM_SIZE);
    if (c == NULL)
        return -1;
    static const char *const sides[] = {"server", "client", "both", "either"};
    int side = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(sides[i], f[0]) == 0)
            side = i;
    if (side < 0) {
        vg_errbuf_set(pc->errbuf, "stream_size: unknown side '%s'", f[0]);
        return -1;
    }
    c->which = (uint8_t)side;
    char expr[96];
    const char *op = strcmp(f[1], "=") == 0 ? "" : f[1];
    if (strcmp(f[1], "!=") == 0)
        op = "!";
    snprintf(expr, sizeof(expr), "%s%s", op, f[2]);
    return parse_range(pc, expr, UINT32_MAX, &c->r, "stream_size");
}

const struct kw_def detect_other_keywords[] = {
    {"msg", kw_msg},
    {"sid", kw_sid},
    {"rev", kw_rev},
    {"gid", kw_gid},
    {"classtype", kw_classtype},
    {"priority", kw_priority},
    {"reference", kw_reference},
    {"metadata", kw_metadata},
    {"target", kw_target},
    {"flow", kw_flow},
    {"flowbits", kw_flowbits},
    {"noalert", kw_noalert},
    {"xbits", kw_xbits},
    {"flowint", kw_flowint},
    {"threshold", kw_threshold},
    {"detection_filter", kw_detection_filter},
    {"ttl", kw_ttl},
    {"itype", kw_itype},
    {"icode", kw_icode},
    {"dsize", kw_dsize},
    {"icmp_id", kw_icmp_id},
    {"icmp_seq", kw_icmp_seq},
    {"seq", kw_seq},
    {"ack", kw_ack},
    {"window", kw_window},
    {"id", kw_id},
    {"tos", kw_tos},
    {"sameip", kw_sameip},
    {"ip_proto", kw_ip_proto},
    {"flags", kw_flags},
    {"tcp.flags", kw_flags},
    {"fragbits", kw_fragbits},
    {"ipopts", kw_ipopts},
    {"app-layer-protocol", kw_app_layer_protocol},
    {"stream_size", kw_stream_size},
    {"prefilter", kw_prefilter},
    {NULL, NULL},
};
