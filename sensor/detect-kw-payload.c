/* detect-kw-payload.c: payload keywords: content and modifiers, pcre, byte_*, isdataat, bsize, transforms. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect-parse.h"

#define MAX_CONTENT 65535

/* Parses a content string: optional '!', quotes, |hex| runs, \" \\ \; \: escapes. */
static int parse_content_string(struct parse_ctx *pc, const char *value, uint8_t **out,
                                uint32_t *outlen, int *negated)
{
    const char *v = value;
    while (isspace((unsigned char)*v))
        v++;
    *negated = 0;
    if (*v == '!') {
        *negated = 1;
        v++;
        while (isspace((unsigned char)*v))
            v++;
    }
    size_t n = strlen(v);
    while (n > 0 && isspace((unsigned char)v[n - 1]))
        n--;
    if (n < 2 || v[0] != '"' || v[n - 1] != '"') {
        vg_errbuf_set(pc->errbuf, "content must be in double quotes");
        return -1;
    }
    v++;
    n -= 2;
    uint8_t *buf = malloc(n + 1);
    if (buf == NULL) {
        vg_errbuf_set(pc->errbuf, "out of memory");
        return -1;
    }
    size_t o = 0;
    int hex = 0, half = -1;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == '|') {
            if (hex && half >= 0) {
                vg_errbuf_set(pc->errbuf, "odd number of hex digits in content");
                goto bad;
            }
            hex = !hex;
            continue;
        }
        if (hex) {
            if (isspace((unsigned char)c))
                continue;
            int d = vg_hexval((unsigned char)c);
            if (d < 0) {
                vg_errbuf_set(pc->errbuf, "invalid hex digit '%c' in content", c);
                goto bad;
            }
            if (half < 0) {
                half = d;
            } else {
                buf[o++] = (uint8_t)(half << 4 | d);
                half = -1;
            }
            continue;
        }
        if (c == '\\') {
            if (i + 1 >= n || strchr("\"\\;:", v[i + 1]) == NULL) {
                vg_errbuf_set(pc->errbuf, "invalid escape in content");
                goto bad;
            }
            c = v[++i];
        } else if (c == '"' || c == ';') {
            vg_errbuf_set(pc->errbuf, "unescaped '%c' in content", c);
            goto bad;
        }
        buf[o++] = (uint8_t)c;
    }
    if (hex) {
        vg_errbuf_set(pc->errbuf, "unterminated | in content");
        goto bad;
    }
    if (o == 0) {
        vg_errbuf_set(pc->errbuf, "empty content");
        goto bad;
    }
    if (o > MAX_CONTENT) {
        vg_errbuf_set(pc->errbuf, "content too long");
        goto bad;
    }
    *out = buf;
    *outlen = (uint32_t)o;
    return 0;
bad:
    free(buf);
    return -1;
}

static int kw_content(struct parse_ctx *pc, const char *value)
{
    if (value == NULL) {
        vg_errbuf_set(pc->errbuf, "content needs a value");
        return -1;
    }
    uint8_t *pat;
    uint32_t len;
    int neg;
    if (parse_content_string(pc, value, &pat, &len, &neg) < 0)
        return -1;
    struct sm *m = parse_new_item(pc, SM_CONTENT, NULL);
    if (m == NULL) {
        free(pat);
        return -1;
    }
    m->c.pat = pat;
    m->c.len = len;
    if (neg)
        m->flags |= SM_F_NEGATED;
    return 0;
}

static int kw_nocase(struct parse_ctx *pc, const char *value)
{
    (void)value;
    struct sm *m = parse_last_content(pc, "nocase");
    if (m == NULL)
        return -1;
    m->flags |= SM_F_NOCASE;
    return 0;
}

static int kw_rawbytes(struct parse_ctx *pc, const char *value)
{
    /* Suricata accepts rawbytes and ignores it: payloads are always raw. */
    (void)value;
    return parse_last_content(pc, "rawbytes") ? 0 : -1;
}

static int positional(struct parse_ctx *pc, const char *value, const char *kw, uint16_t flag,
                      struct sm_num *(*field)(struct sm *))
{
    struct sm *m = parse_last_content(pc, kw);
    if (m == NULL || value == NULL) {
        if (m != NULL)
            vg_errbuf_set(pc->errbuf, "%s needs a value", kw);
        return -1;
    }
    if (m->flags & flag) {
        vg_errbuf_set(pc->errbuf, "%s given twice for one content", kw);
        return -1;
    }
    int relative = flag == SM_F_HAS_DISTANCE || flag == SM_F_HAS_WITHIN;
    if (relative && (m->flags & (SM_F_HAS_OFFSET | SM_F_HAS_DEPTH | SM_F_STARTSWITH))) {
        vg_errbuf_set(pc->errbuf, "%s cannot be mixed with offset/depth/startswith", kw);
        return -1;
    }
    if (!relative && (m->flags & (SM_F_HAS_DISTANCE | SM_F_HAS_WITHIN))) {
        vg_errbuf_set(pc->errbuf, "%s cannot be mixed with distance/within", kw);
        return -1;
    }
    if (m->flags & SM_F_STARTSWITH) {
        vg_errbuf_set(pc->errbuf, "%s cannot be mixed with startswith", kw);
        return -1;
    }
    struct sm_num *n = field(m);
    if (parse_num(pc, value, n, kw) < 0)
        return -1;
    if (n->var < 0 && !relative && n->value < 0) {
        vg_errbuf_set(pc->errbuf, "%s must not be negative", kw);
        return -1;
    }
    if (flag == SM_F_HAS_DEPTH && n->var < 0 && n->value < (int64_t)m->c.len) {
        vg_errbuf_set(pc->errbuf, "depth %lld is smaller than the content (%u bytes)",
                      (long long)n->value, m->c.len);
        return -1;
    }
    if (flag == SM_F_HAS_WITHIN && n->var < 0 && n->value < (int64_t)m->c.len) {
        vg_errbuf_set(pc->errbuf, "within %lld is smaller than the content (%u bytes)",
                      (long long)n->value, m->c.len);
        return -1;
    }
    m->flags |= flag;
    if (relative)
        m->flags |= SM_F_RELATIVE;
    return 0;
}

static struct sm_num *f_offset(struct sm *m) { return &m->c.offset; }
static struct sm_num *f_depth(struct sm *m) { return &m->c.depth; }
static struct sm_num *f_distance(struct sm *m) { return &m->c.distance; }
static struct sm_num *f_within(struct sm *m) { return &m->c.within; }

static int kw_offset(struct parse_ctx *pc, const char *v)
{
    return positional(pc, v, "offset", SM_F_HAS_OFFSET, f_offset);
}
static int kw_depth(struct parse_ctx *pc, const char *v)
{
    return positional(pc, v, "depth", SM_F_HAS_DEPTH, f_depth);
}
static int kw_distance(struct parse_ctx *pc, const char *v)
{
    return positional(pc, v, "distance", SM_F_HAS_DISTANCE, f_distance);
}
static int kw_within(struct parse_ctx *pc, const char *v)
{
    return positional(pc, v, "within", SM_F_HAS_WITHIN, f_within);
}

static int kw_startswith(struct parse_ctx *pc, const char *value)
{
    (void)value;
    struct sm *m = parse_last_content(pc, "startswith");
    if (m == NULL)
        return -1;
    if (m->flags & (SM_F_HAS_OFFSET | SM_F_HAS_DEPTH | SM_F_HAS_DISTANCE | SM_F_HAS_WITHIN)) {
        vg_errbuf_set(pc->errbuf, "startswith cannot be mixed with offset/depth/distance/within");
        return -1;
    }
    m->flags |= SM_F_STARTSWITH;
    return 0;
}

static int kw_endswith(struct parse_ctx *pc, const char *value)
{
    (void)value;
    struct sm *m = parse_last_content(pc, "endswith");
    if (m == NULL)
        return -1;
    m->flags |= SM_F_ENDSWITH;
    return 0;
}

static int kw_fast_pattern(struct parse_ctx *pc, const char *value)
{
    struct sm *m = parse_last_content(pc, "fast_pattern");
    if (m == NULL)
        return -1;
    m->flags |= SM_F_FAST_PATTERN;
    if (value == NULL)
        return 0;
    if (strcmp(value, "only") == 0) {
        m->flags |= SM_F_FP_ONLY;
        return 0;
    }
    unsigned off, len;
    char extra;
    if (sscanf(value, "%u , %u%c", &off, &len, &extra) == 2 && len > 0 &&
        (uint64_t)off + len <= m->c.len) {
        m->flags |= SM_F_FP_CHOP;
        m->c.fp_off = (uint16_t)off;
        m->c.fp_len = (uint16_t)len;
        return 0;
    }
    vg_errbuf_set(pc->errbuf, "fast_pattern: expected only or offset,length within the content");
    return -1;
}

/* The buffer a keyword applies to must be a sticky one (bsize, transforms). */
static struct sig_buf *sticky_buf(struct parse_ctx *pc, const char *kw)
{
    if (pc->cur_buf < 0) {
        vg_errbuf_set(pc->errbuf, "%s needs a sticky buffer before it", kw);
        return NULL;
    }
    return &pc->s->bufs[pc->cur_buf];
}

static int kw_bsize(struct parse_ctx *pc, const char *value)
{
    if (sticky_buf(pc, "bsize") == NULL || value == NULL)
        return -1;
    struct sm *m = parse_new_item(pc, SM_BSIZE, NULL);
    return m == NULL ? -1 : parse_range(pc, value, UINT32_MAX, &m->r, "bsize");
}

static int kw_urilen(struct parse_ctx *pc, const char *value)
{
    if (value == NULL) {
        vg_errbuf_set(pc->errbuf, "urilen needs a value");
        return -1;
    }
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", value);
    char *comma = strchr(buf, ',');
    unsigned id = DB_HTTP_URI;
    if (comma != NULL) {
        *comma = '\0';
        char *mode = parse_trim(comma + 1);
        if (strcmp(mode, "raw") == 0)
            id = DB_HTTP_URI_RAW;
        else if (strcmp(mode, "norm") != 0) {
            vg_errbuf_set(pc->errbuf, "urilen: unknown mode '%s'", mode);
            return -1;
        }
    }
    int saved = pc->cur_buf;
    uint16_t saved_xf = pc->transforms;
    pc->transforms = 0;
    struct sig_buf *b = parse_buf(pc, id);
    pc->transforms = saved_xf;
    if (b == NULL)
        return -1;
    pc->cur_buf = (int)(b - pc->s->bufs);
    struct sm *m = parse_new_item(pc, SM_BSIZE, NULL);
    pc->cur_buf = saved;
    return m == NULL ? -1 : parse_range(pc, buf, UINT32_MAX, &m->r, "urilen");
}

/* Splits a comma list into at most max trimmed fields; returns the count. */
static unsigned split_commas(char *s, char **f, unsigned max)
{
    unsigned n = 0;
    char *start = s;
    for (char *p = s;; p++) {
        if (*p == ',' || *p == '\0') {
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

static int kw_isdataat(struct parse_ctx *pc, const char *value)
{
    char buf[128];
    char *f[4];
    if (value == NULL || strlen(value) >= sizeof(buf)) {
        vg_errbuf_set(pc->errbuf, "isdataat needs a value");
        return -1;
    }
    snprintf(buf, sizeof(buf), "%s", value);
    unsigned n = split_commas(buf, f, 4);
    char *t = f[0];
    uint16_t flags = 0;
    if (*t == '!') {
        flags |= SM_F_NEGATED;
        t++;
    }
    for (unsigned i = 1; i < n; i++) {
        if (strcmp(f[i], "relative") == 0)
            flags |= SM_F_RELATIVE;
        else if (strcmp(f[i], "rawbytes") != 0) {
            vg_errbuf_set(pc->errbuf, "isdataat: unknown option '%s'", f[i]);
            return -1;
        }
    }
    struct sm *m = parse_new_item(pc, SM_ISDATAAT, NULL);
    if (m == NULL)
        return -1;
    m->flags = flags;
    return parse_num(pc, t, &m->at, "isdataat");
}

/* The options shared by byte_test, byte_jump and byte_extract. Returns 0, 1 if not one of them,
 * or -1 on a bad value. */
static int byte_option(struct parse_ctx *pc, struct sm *m, const char *opt, const char *kw)
{
    struct sm_byte *b = &m->b;
    if (strcmp(opt, "relative") == 0)
        m->flags |= SM_F_RELATIVE;
    else if (strcmp(opt, "little") == 0)
        b->flags |= BF_LITTLE;
    else if (strcmp(opt, "big") == 0)
        b->flags &= ~(uint32_t)BF_LITTLE;
    else if (strcmp(opt, "string") == 0)
        b->flags |= BF_STRING;
    else if (strcmp(opt, "hex") == 0)
        b->flags |= BF_HEX;
    else if (strcmp(opt, "dec") == 0)
        b->flags |= BF_DEC;
    else if (strcmp(opt, "oct") == 0)
        b->flags |= BF_OCT;
    else if (strcmp(opt, "dce") == 0)
        b->flags |= BF_DCE | BF_LITTLE;
    else if (strcmp(opt, "align") == 0)
        b->flags |= BF_ALIGN;
    else if (strcmp(opt, "from_beginning") == 0)
        b->flags |= BF_FROM_BEGINNING;
    else if (strcmp(opt, "from_end") == 0)
        b->flags |= BF_FROM_END;
    else if (strncmp(opt, "bitmask", 7) == 0) {
        char *end;
        b->bitmask = strtoull(opt + 7, &end, 0);
        if (*parse_trim(end) != '\0' || b->bitmask == 0) {
            vg_errbuf_set(pc->errbuf, "%s: invalid bitmask", kw);
            return -1;
        }
    } else if (strncmp(opt, "multiplier", 10) == 0) {
        char *end;
        b->multiplier = strtoll(opt + 10, &end, 0);
        if (*parse_trim(end) != '\0' || b->multiplier <= 0) {
            vg_errbuf_set(pc->errbuf, "%s: invalid multiplier", kw);
            return -1;
        }
    } else if (strncmp(opt, "post_offset", 11) == 0) {
        char *end;
        b->post_offset = strtoll(opt + 11, &end, 0);
        if (*parse_trim(end) != '\0') {
            vg_errbuf_set(pc->errbuf, "%s: invalid post_offset", kw);
            return -1;
        }
    } else if (strncmp(opt, "align", 5) == 0) {
        /* byte_extract's "align N": round the value up to N (2 or 4). */
        char *end;
        long a = strtol(opt + 5, &end, 0);
        if (*parse_trim(end) != '\0' || (a != 2 && a != 4)) {
            vg_errbuf_set(pc->errbuf, "%s: align must be 2 or 4", kw);
            return -1;
        }
        b->flags |= BF_ALIGN;
        b->post_offset = a; /* reused: the alignment for byte_extract */
    } else {
        return 1;
    }
    return 0;
}

static int check_nbytes(struct parse_ctx *pc, struct sm *m, const char *kw)
{
    unsigned max = (m->b.flags & BF_STRING) ? 23 : 8;
    /* Suricata accepts 0 bytes of a string (ET rules use it); such a test never matches. */
    if ((m->b.nbytes == 0 && !(m->b.flags & BF_STRING)) || m->b.nbytes > max) {
        vg_errbuf_set(pc->errbuf, "%s: number of bytes must be 1 to %u", kw, max);
        return -1;
    }
    return 0;
}

static int parse_nbytes(struct parse_ctx *pc, const char *t, struct sm *m, const char *kw)
{
    char *end;
    long n = strtol(t, &end, 10);
    if (*end != '\0' || n < 0 || n > 23) {
        vg_errbuf_set(pc->errbuf, "%s: invalid byte count '%s'", kw, t);
        return -1;
    }
    m->b.nbytes = (uint8_t)n;
    return 0;
}

static int kw_byte_test(struct parse_ctx *pc, const char *value)
{
    char buf[512];
    char *f[16];
    if (value == NULL || strlen(value) >= sizeof(buf)) {
        vg_errbuf_set(pc->errbuf, "byte_test needs a value");
        return -1;
    }
    snprintf(buf, sizeof(buf), "%s", value);
    unsigned n = split_commas(buf, f, 16);
    if (n < 4) {
        vg_errbuf_set(pc->errbuf, "byte_test: expected bytes,operator,value,offset");
        return -1;
    }
    struct sm *m = parse_new_item(pc, SM_BYTE_TEST, NULL);
    if (m == NULL || parse_nbytes(pc, f[0], m, "byte_test") < 0)
        return -1;
    const char *op = f[1];
    if (*op == '!') {
        m->b.flags |= BF_NEGATE_OP;
        op++;
    }
    static const struct {
        const char *s;
        uint8_t op;
    } ops[] = {{"<=", BOP_LE}, {">=", BOP_GE}, {"<", BOP_LT}, {">", BOP_GT},
               {"=", BOP_EQ},  {"&", BOP_AND},  {"^", BOP_XOR}};
    int found = 0;
    for (size_t i = 0; i < VG_ARRAY_LEN(ops); i++) {
        if (strcmp(op, ops[i].s) == 0) {
            m->b.op = ops[i].op;
            found = 1;
        }
    }
    if (!found && *op == '\0' && (m->b.flags & BF_NEGATE_OP)) {
        m->b.op = BOP_EQ; /* "!" alone is "not equal" */
        found = 1;
    }
    if (!found) {
        vg_errbuf_set(pc->errbuf, "byte_test: unknown operator '%s'", f[1]);
        return -1;
    }
    if (parse_num(pc, f[2], &m->b.value, "byte_test") < 0 ||
        parse_num(pc, f[3], &m->b.offset, "byte_test") < 0)
        return -1;
    for (unsigned i = 4; i < n; i++) {
        int rc = byte_option(pc, m, f[i], "byte_test");
        if (rc < 0)
            return -1;
        if (rc > 0) {
            vg_errbuf_set(pc->errbuf, "byte_test: unknown option '%s'", f[i]);
            return -1;
        }
    }
    return check_nbytes(pc, m, "byte_test");
}

static int kw_byte_jump(struct parse_ctx *pc, const char *value)
{
    char buf[512];
    char *f[16];
    if (value == NULL || strlen(value) >= sizeof(buf)) {
        vg_errbuf_set(pc->errbuf, "byte_jump needs a value");
        return -1;
    }
    snprintf(buf, sizeof(buf), "%s", value);
    unsigned n = split_commas(buf, f, 16);
    if (n < 2) {
        vg_errbuf_set(pc->errbuf, "byte_jump: expected bytes,offset");
        return -1;
    }
    struct sm *m = parse_new_item(pc, SM_BYTE_JUMP, NULL);
    if (m == NULL || parse_nbytes(pc, f[0], m, "byte_jump") < 0 ||
        parse_num(pc, f[1], &m->b.offset, "byte_jump") < 0)
        return -1;
    for (unsigned i = 2; i < n; i++) {
        int rc = byte_option(pc, m, f[i], "byte_jump");
        if (rc < 0)
            return -1;
        if (rc > 0) {
            vg_errbuf_set(pc->errbuf, "byte_jump: unknown option '%s'", f[i]);
            return -1;
        }
    }
    return check_nbytes(pc, m, "byte_jump");
}

static int kw_byte_extract(struct parse_ctx *pc, const char *value)
{
    char buf[512];
    char *f[16];
    if (value == NULL || strlen(value) >= sizeof(buf)) {
        vg_errbuf_set(pc->errbuf, "byte_extract needs a value");
        return -1;
    }
    snprintf(buf, sizeof(buf), "%s", value);
    unsigned n = split_commas(buf, f, 16);
    if (n < 3) {
        vg_errbuf_set(pc->errbuf, "byte_extract: expected bytes,offset,name");
        return -1;
    }
    if (pc->nvars >= DETECT_MAX_VARS || strlen(f[2]) >= sizeof(pc->varnames[0]) ||
        !(isalpha((unsigned char)f[2][0]) || f[2][0] == '_')) {
        vg_errbuf_set(pc->errbuf, "byte_extract: invalid or too many variables ('%s')", f[2]);
        return -1;
    }
    struct sm *m = parse_new_item(pc, SM_BYTE_EXTRACT, NULL);
    if (m == NULL || parse_nbytes(pc, f[0], m, "byte_extract") < 0 ||
        parse_num(pc, f[1], &m->b.offset, "byte_extract") < 0)
        return -1;
    for (unsigned i = 3; i < n; i++) {
        int rc = byte_option(pc, m, f[i], "byte_extract");
        if (rc < 0)
            return -1;
        if (rc > 0) {
            vg_errbuf_set(pc->errbuf, "byte_extract: unknown option '%s'", f[i]);
            return -1;
        }
    }
    if (check_nbytes(pc, m, "byte_extract") < 0)
        return -1;
    snprintf(pc->varnames[pc->nvars], sizeof(pc->varnames[0]), "%s", f[2]);
    m->b.var_out = (int8_t)pc->nvars++;
    pc->s->nvars = (uint8_t)pc->nvars;
    return 0;
}

/* Maps a legacy pcre buffer flag to a buffer, or -1. */
static int pcre_flag_buffer(char c)
{
    switch (c) {
    case 'U':
        return DB_HTTP_URI;
    case 'I':
        return DB_HTTP_URI_RAW;
    case 'P':
        return DB_HTTP_REQUEST_BODY;
    case 'Q':
        return DB_FILE_DATA;
    case 'H':
        return DB_HTTP_HEADER;
    case 'D':
        return DB_HTTP_HEADER_RAW;
    case 'M':
        return DB_HTTP_METHOD;
    case 'C':
    case 'K':
        return DB_HTTP_COOKIE;
    case 'S':
        return DB_HTTP_STAT_CODE;
    case 'Y':
        return DB_HTTP_STAT_MSG;
    case 'V':
        return DB_HTTP_USER_AGENT;
    case 'W':
        return DB_HTTP_HOST;
    case 'Z':
        return DB_HTTP_HOST_RAW;
    default:
        return -1;
    }
}

static int kw_pcre(struct parse_ctx *pc, const char *value)
{
    if (value == NULL) {
        vg_errbuf_set(pc->errbuf, "pcre needs a value");
        return -1;
    }
    const char *v = value;
    int neg = 0;
    while (isspace((unsigned char)*v))
        v++;
    if (*v == '!') {
        neg = 1;
        v++;
    }
    size_t n = strlen(v);
    while (n > 0 && isspace((unsigned char)v[n - 1]))
        n--;
    if (n < 2 || v[0] != '"' || v[n - 1] != '"') {
        vg_errbuf_set(pc->errbuf, "pcre must be in double quotes");
        return -1;
    }
    char *body = malloc(n);
    if (body == NULL)
        return -1;
    /* Inside the quotes: \" and \; are rule escapes; everything else belongs to the regex. */
    size_t o = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        if (v[i] == '\\' && i + 2 < n && (v[i + 1] == '"' || v[i + 1] == ';')) {
            body[o++] = v[++i];
            continue;
        }
        body[o++] = v[i];
    }
    body[o] = '\0';
    char *last = strrchr(body, '/');
    if (body[0] != '/' || last == body) {
        vg_errbuf_set(pc->errbuf, "pcre must be /regex/flags");
        free(body);
        return -1;
    }
    *last = '\0';
    const char *flags = last + 1;
    uint32_t opts = 0;
    uint16_t smf = neg ? SM_F_NEGATED : 0;
    int buf = -1;
    for (const char *f = flags; *f; f++) {
        switch (*f) {
        case 'i':
            opts |= PCRE2_CASELESS;
            break;
        case 's':
            opts |= PCRE2_DOTALL;
            break;
        case 'm':
            opts |= PCRE2_MULTILINE;
            break;
        case 'x':
            opts |= PCRE2_EXTENDED;
            break;
        case 'A':
            opts |= PCRE2_ANCHORED;
            break;
        case 'E':
            opts |= PCRE2_DOLLAR_ENDONLY;
            break;
        case 'G':
            opts |= PCRE2_UNGREEDY;
            break;
        case 'R':
            smf |= SM_F_RELATIVE;
            break;
        case 'B':
        case 'O':
            break; /* rawbytes; override match limits: accepted as Suricata does */
        default: {
            int b = pcre_flag_buffer(*f);
            if (b < 0) {
                vg_errbuf_set(pc->errbuf, "pcre: unknown flag '%c'", *f);
                free(body);
                return -1;
            }
            buf = b;
        }
        }
    }
    int saved = pc->cur_buf;
    if (buf >= 0) {
        uint16_t xf = pc->transforms;
        pc->transforms = 0;
        struct sig_buf *b = parse_buf(pc, (unsigned)buf);
        pc->transforms = xf;
        if (b == NULL) {
            free(body);
            return -1;
        }
        pc->cur_buf = (int)(b - pc->s->bufs);
    }
    struct sm *m = parse_new_item(pc, SM_PCRE, NULL);
    pc->cur_buf = saved;
    if (m == NULL) {
        free(body);
        return -1;
    }
    m->flags = smf;
    int rc = detect_pcre_compile(&m->p, body + 1, opts, pc->errbuf);
    free(body);
    return rc;
}

static int transform(struct parse_ctx *pc, uint16_t xf, const char *kw)
{
    struct sig_buf *b = sticky_buf(pc, kw);
    if (b == NULL)
        return -1;
    pc->transforms |= xf;
    if (b->n == 0) {
        b->transforms = pc->transforms;
        return 0;
    }
    struct sig_buf *nb = parse_buf(pc, b->id);
    if (nb == NULL)
        return -1;
    pc->cur_buf = (int)(nb - pc->s->bufs);
    return 0;
}

static int kw_dotprefix(struct parse_ctx *pc, const char *v)
{
    (void)v;
    return transform(pc, XF_DOTPREFIX, "dotprefix");
}
static int kw_to_lowercase(struct parse_ctx *pc, const char *v)
{
    (void)v;
    return transform(pc, XF_TOLOWER, "to_lowercase");
}
static int kw_strip_whitespace(struct parse_ctx *pc, const char *v)
{
    (void)v;
    return transform(pc, XF_STRIP_WS, "strip_whitespace");
}
static int kw_compress_whitespace(struct parse_ctx *pc, const char *v)
{
    (void)v;
    return transform(pc, XF_COMPRESS_WS, "compress_whitespace");
}
static int kw_url_decode(struct parse_ctx *pc, const char *v)
{
    (void)v;
    return transform(pc, XF_URL_DECODE, "url_decode");
}

static int kw_base64_decode(struct parse_ctx *pc, const char *value)
{
    /* base64_decode[:bytes N][,offset N][,relative]: decodes into base64_data. */
    struct sm *m = parse_new_item(pc, SM_BASE64_DECODE, NULL);
    if (m == NULL)
        return -1;
    m->b.nbytes = 0;
    m->b.offset.var = m->b.value.var = -1;
    m->b.value.value = 0; /* bytes to decode, 0: all */
    if (value == NULL)
        return 0;
    char buf[256];
    char *f[8];
    snprintf(buf, sizeof(buf), "%s", value);
    unsigned n = split_commas(buf, f, 8);
    for (unsigned i = 0; i < n; i++) {
        char *end;
        if (strcmp(f[i], "relative") == 0) {
            m->flags |= SM_F_RELATIVE;
        } else if (strncmp(f[i], "bytes", 5) == 0) {
            m->b.value.value = strtoll(f[i] + 5, &end, 0);
            if (*parse_trim(end) != '\0' || m->b.value.value <= 0)
                goto bad;
        } else if (strncmp(f[i], "offset", 6) == 0) {
            m->b.offset.value = strtoll(f[i] + 6, &end, 0);
            if (*parse_trim(end) != '\0' || m->b.offset.value < 0)
                goto bad;
        } else {
            goto bad;
        }
    }
    return 0;
bad:
    vg_errbuf_set(pc->errbuf, "base64_decode: invalid option");
    return -1;
}

static int kw_tls_version(struct parse_ctx *pc, const char *value)
{
    /* tls.version:1.2 matches the negotiated version: a 2-byte exact match on its buffer. */
    if (value == NULL) {
        vg_errbuf_set(pc->errbuf, "tls.version needs a value");
        return -1;
    }
    static const struct {
        const char *name;
        uint16_t v;
    } names[] = {{"1.0", 0x0301}, {"1.1", 0x0302}, {"1.2", 0x0303}, {"1.3", 0x0304},
                 {"sslv3", 0x0300}, {"SSLv3", 0x0300}};
    uint16_t ver = 0;
    for (size_t i = 0; i < VG_ARRAY_LEN(names); i++)
        if (strcmp(names[i].name, value) == 0)
            ver = names[i].v;
    if (ver == 0) {
        char *end;
        unsigned long v = strtoul(value, &end, 0);
        if (*end != '\0' || v == 0 || v > 0xffff) {
            vg_errbuf_set(pc->errbuf, "tls.version: unknown version '%s'", value);
            return -1;
        }
        ver = (uint16_t)v;
    }
    int saved = pc->cur_buf;
    uint16_t xf = pc->transforms;
    pc->transforms = 0;
    struct sig_buf *b = parse_buf(pc, DB_TLS_VERSION);
    pc->transforms = xf;
    if (b == NULL)
        return -1;
    pc->cur_buf = (int)(b - pc->s->bufs);
    struct sm *m = parse_new_item(pc, SM_CONTENT, NULL);
    pc->cur_buf = saved;
    if (m == NULL || (m->c.pat = malloc(2)) == NULL)
        return -1;
    m->c.pat[0] = (uint8_t)(ver >> 8);
    m->c.pat[1] = (uint8_t)ver;
    m->c.len = 2;
    m->flags |= SM_F_STARTSWITH | SM_F_ENDSWITH;
    pc->last_buf = -1; /* modifiers do not apply to it */
    return 0;
}

const struct kw_def detect_payload_keywords[] = {
    {"content", kw_content},
    {"nocase", kw_nocase},
    {"rawbytes", kw_rawbytes},
    {"offset", kw_offset},
    {"depth", kw_depth},
    {"distance", kw_distance},
    {"within", kw_within},
    {"startswith", kw_startswith},
    {"endswith", kw_endswith},
    {"fast_pattern", kw_fast_pattern},
    {"bsize", kw_bsize},
    {"urilen", kw_urilen},
    {"isdataat", kw_isdataat},
    {"byte_test", kw_byte_test},
    {"byte_jump", kw_byte_jump},
    {"byte_extract", kw_byte_extract},
    {"pcre", kw_pcre},
    {"dotprefix", kw_dotprefix},
    {"to_lowercase", kw_to_lowercase},
    {"strip_whitespace", kw_strip_whitespace},
    {"compress_whitespace", kw_compress_whitespace},
    {"url_decode", kw_url_decode},
    {"base64_decode", kw_base64_decode},
    {"tls.version", kw_tls_version},
    {NULL, NULL},
};
