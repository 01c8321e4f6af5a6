/* detect-addr.c: rule address and port specs ($VARS, lists, negation, CIDR, ranges) as sets. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "detect-internal.h"

#define MAX_VAR_DEPTH 16
#define MAX_SPEC 65536

/* Suricata's default variables, used when the configuration does not set them. */
static const struct {
    const char *name, *value;
} default_addr_vars[] = {
    {"HOME_NET", "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"},
    {"EXTERNAL_NET", "!$HOME_NET"},
    {"HTTP_SERVERS", "$HOME_NET"},
    {"SMTP_SERVERS", "$HOME_NET"},
    {"SQL_SERVERS", "$HOME_NET"},
    {"DNS_SERVERS", "$HOME_NET"},
    {"TELNET_SERVERS", "$HOME_NET"},
    {"AIM_SERVERS", "$EXTERNAL_NET"},
    {"DC_SERVERS", "$HOME_NET"},
    {"DNP3_SERVER", "$HOME_NET"},
    {"DNP3_CLIENT", "$HOME_NET"},
    {"MODBUS_CLIENT", "$HOME_NET"},
    {"MODBUS_SERVER", "$HOME_NET"},
    {"ENIP_CLIENT", "$HOME_NET"},
    {"ENIP_SERVER", "$HOME_NET"},
};

static const struct {
    const char *name, *value;
} default_port_vars[] = {
    {"HTTP_PORTS", "80"},
    {"SHELLCODE_PORTS", "!80"},
    {"ORACLE_PORTS", "1521"},
    {"SSH_PORTS", "22"},
    {"DNP3_PORTS", "20000"},
    {"MODBUS_PORTS", "502"},
    {"FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"},
    {"FTP_PORTS", "21"},
    {"GENEVE_PORTS", "6081"},
    {"VXLAN_PORTS", "4789"},
    {"TEREDO_PORTS", "3544"},
};

/* Returns the value of a variable, from the configuration or the defaults; NULL if unknown. */
static const char *var_value(const struct detect_vars *v, const char *kind, const char *name)
{
    char key[256];
    snprintf(key, sizeof(key), "vars.%s.%s", kind, name);
    const char *val = v->cfg ? config_get(v->cfg, key) : NULL;
    if (val != NULL)
        return val;
    if (strcmp(kind, "address-groups") == 0) {
        for (size_t i = 0; i < VG_ARRAY_LEN(default_addr_vars); i++)
            if (strcmp(default_addr_vars[i].name, name) == 0)
                return default_addr_vars[i].value;
    } else {
        for (size_t i = 0; i < VG_ARRAY_LEN(default_port_vars); i++)
            if (strcmp(default_port_vars[i].name, name) == 0)
                return default_port_vars[i].value;
    }
    return NULL;
}

/* ---- Interning: a spec seen before returns the group built then ---- */

static void *map_get(const struct intern_map *m, const char *spec, uint64_t h,
                     const char *(*key)(const void *))
{
    if (m->cap == 0)
        return NULL;
    for (unsigned i = (unsigned)(h & (m->cap - 1));; i = (i + 1) & (m->cap - 1)) {
        if (m->val[i] == NULL)
            return NULL;
        if (m->hash[i] == h && strcmp(key(m->val[i]), spec) == 0)
            return m->val[i];
    }
}

static int map_put(struct intern_map *m, uint64_t h, void *val)
{
    if ((m->n + 1) * 2 > m->cap) {
        unsigned cap = m->cap ? m->cap * 2 : 256;
        uint64_t *nh = calloc(cap, sizeof(*nh));
        void **nv = calloc(cap, sizeof(*nv));
        if (nh == NULL || nv == NULL) {
            free(nh);
            free(nv);
            return -1;
        }
        for (unsigned i = 0; i < m->cap; i++) {
            if (m->val[i] == NULL)
                continue;
            unsigned j = (unsigned)(m->hash[i] & (cap - 1));
            while (nv[j] != NULL)
                j = (j + 1) & (cap - 1);
            nh[j] = m->hash[i];
            nv[j] = m->val[i];
        }
        free(m->hash);
        free(m->val);
        m->hash = nh;
        m->val = nv;
        m->cap = cap;
    }
    unsigned j = (unsigned)(h & (m->cap - 1));
    while (m->val[j] != NULL)
        j = (j + 1) & (m->cap - 1);
    m->hash[j] = h;
    m->val[j] = val;
    m->n++;
    return 0;
}

static const char *addr_key(const void *g) { return ((const struct addr_group *)g)->spec; }
static const char *port_key(const void *g) { return ((const struct port_group *)g)->spec; }

/* ---- Range sets ---- */

struct set4 {
    struct range4 *r;
    unsigned n, cap;
};
struct set6 {
    struct range6 *r;
    unsigned n, cap;
};
struct aset {
    struct set4 a4;
    struct set6 a6;
};

static int push4(struct set4 *s, uint32_t lo, uint32_t hi)
{
    if (s->n == s->cap) {
        unsigned cap = s->cap ? s->cap * 2 : 8;
        struct range4 *r = realloc(s->r, cap * sizeof(*r));
        if (r == NULL)
            return -1;
        s->r = r;
        s->cap = cap;
    }
    s->r[s->n].lo = lo;
    s->r[s->n].hi = hi;
    s->n++;
    return 0;
}

static int push6(struct set6 *s, u128 lo, u128 hi)
{
    if (s->n == s->cap) {
        unsigned cap = s->cap ? s->cap * 2 : 8;
        struct range6 *r = realloc(s->r, cap * sizeof(*r));
        if (r == NULL)
            return -1;
        s->r = r;
        s->cap = cap;
    }
    s->r[s->n].lo = lo;
    s->r[s->n].hi = hi;
    s->n++;
    return 0;
}

static int cmp4(const void *a, const void *b)
{
    const struct range4 *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int cmp6(const void *a, const void *b)
{
    const struct range6 *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorts and merges overlapping or adjacent ranges. */
static void norm4(struct set4 *s)
{
    if (s->n < 2)
        return;
    if (s->n > 1)
        qsort(s->r, s->n, sizeof(*s->r), cmp4);
    unsigned o = 0;
    for (unsigned i = 1; i < s->n; i++) {
        if (s->r[o].hi == UINT32_MAX || s->r[i].lo <= s->r[o].hi + 1) {
            if (s->r[i].hi > s->r[o].hi)
                s->r[o].hi = s->r[i].hi;
        } else {
            s->r[++o] = s->r[i];
        }
    }
    s->n = o + 1;
}

static void norm6(struct set6 *s)
{
    if (s->n < 2)
        return;
    if (s->n > 1)
        qsort(s->r, s->n, sizeof(*s->r), cmp6);
    unsigned o = 0;
    for (unsigned i = 1; i < s->n; i++) {
        if (s->r[o].hi == ~(u128)0 || s->r[i].lo <= s->r[o].hi + 1) {
            if (s->r[i].hi > s->r[o].hi)
                s->r[o].hi = s->r[i].hi;
        } else {
            s->r[++o] = s->r[i];
        }
    }
    s->n = o + 1;
}

/* s = complement of s (s normalised). */
static int comp4(struct set4 *s)
{
    struct set4 o = {NULL, 0, 0};
    uint64_t next = 0;
    for (unsigned i = 0; i < s->n; i++) {
        if (s->r[i].lo > next && push4(&o, (uint32_t)next, s->r[i].lo - 1) < 0)
            return -1;
        next = (uint64_t)s->r[i].hi + 1;
    }
    if (next <= UINT32_MAX && push4(&o, (uint32_t)next, UINT32_MAX) < 0)
        return -1;
    free(s->r);
    *s = o;
    return 0;
}

static int comp6(struct set6 *s)
{
    struct set6 o = {NULL, 0, 0};
    u128 next = 0;
    int done = 0;
    for (unsigned i = 0; i < s->n; i++) {
        if (s->r[i].lo > next && push6(&o, next, s->r[i].lo - 1) < 0)
            return -1;
        if (s->r[i].hi == ~(u128)0) {
            done = 1;
            break;
        }
        next = s->r[i].hi + 1;
    }
    if (!done && push6(&o, next, ~(u128)0) < 0)
        return -1;
    free(s->r);
    *s = o;
    return 0;
}

static int aset_add(struct aset *dst, const struct aset *src)
{
    for (unsigned i = 0; i < src->a4.n; i++)
        if (push4(&dst->a4, src->a4.r[i].lo, src->a4.r[i].hi) < 0)
            return -1;
    for (unsigned i = 0; i < src->a6.n; i++)
        if (push6(&dst->a6, src->a6.r[i].lo, src->a6.r[i].hi) < 0)
            return -1;
    norm4(&dst->a4);
    norm6(&dst->a6);
    return 0;
}

static void aset_free(struct aset *s)
{
    free(s->a4.r);
    free(s->a6.r);
    memset(s, 0, sizeof(*s));
}

static int aset_complement(struct aset *s)
{
    return comp4(&s->a4) < 0 || comp6(&s->a6) < 0 ? -1 : 0;
}

/* dst = dst minus src: dst and the complement of src. */
static int aset_subtract(struct aset *dst, const struct aset *src)
{
    struct aset c = {{NULL, 0, 0}, {NULL, 0, 0}};
    if (aset_add(&c, src) < 0 || aset_complement(&c) < 0) {
        aset_free(&c);
        return -1;
    }
    /* Intersect dst with c, family by family, by a merge walk. */
    struct set4 o4 = {NULL, 0, 0};
    for (unsigned i = 0, j = 0; i < dst->a4.n && j < c.a4.n;) {
        uint32_t lo = VG_MAX(dst->a4.r[i].lo, c.a4.r[j].lo);
        uint32_t hi = VG_MIN(dst->a4.r[i].hi, c.a4.r[j].hi);
        if (lo <= hi)
            push4(&o4, lo, hi);
        if (dst->a4.r[i].hi < c.a4.r[j].hi)
            i++;
        else
            j++;
    }
    struct set6 o6 = {NULL, 0, 0};
    for (unsigned i = 0, j = 0; i < dst->a6.n && j < c.a6.n;) {
        u128 lo = dst->a6.r[i].lo > c.a6.r[j].lo ? dst->a6.r[i].lo : c.a6.r[j].lo;
        u128 hi = dst->a6.r[i].hi < c.a6.r[j].hi ? dst->a6.r[i].hi : c.a6.r[j].hi;
        if (lo <= hi)
            push6(&o6, lo, hi);
        if (dst->a6.r[i].hi < c.a6.r[j].hi)
            i++;
        else
            j++;
    }
    aset_free(&c);
    aset_free(dst);
    dst->a4 = o4;
    dst->a6 = o6;
    return 0;
}

static u128 load6(const uint8_t *b)
{
    u128 v = 0;
    for (int i = 0; i < 16; i++)
        v = (v << 8) | b[i];
    return v;
}

/* Parses one address: IPv4/IPv6, optional /prefix or /netmask, or a-b range, into s. */
static int parse_one_addr(const char *tok, struct aset *s, char *errbuf)
{
    char buf[128];
    if (strlen(tok) >= sizeof(buf)) {
        vg_errbuf_set(errbuf, "address '%.40s...' is too long", tok);
        return -1;
    }
    snprintf(buf, sizeof(buf), "%s", tok);
    char *dash = strchr(buf, '-');
    char *slash = strchr(buf, '/');
    uint8_t a[16], b[16];
    if (dash != NULL) {
        *dash = '\0';
        if (inet_pton(AF_INET, buf, a) == 1 && inet_pton(AF_INET, dash + 1, b) == 1) {
            uint32_t lo = vg_be32(a), hi = vg_be32(b);
            if (lo > hi)
                goto bad;
            return push4(&s->a4, lo, hi);
        }
        if (inet_pton(AF_INET6, buf, a) == 1 && inet_pton(AF_INET6, dash + 1, b) == 1) {
            u128 lo = load6(a), hi = load6(b);
            if (lo > hi)
                goto bad;
            return push6(&s->a6, lo, hi);
        }
        goto bad;
    }
    if (slash != NULL)
        *slash = '\0';
    if (inet_pton(AF_INET, buf, a) == 1) {
        uint32_t ip = vg_be32(a), mask = UINT32_MAX;
        if (slash != NULL) {
            char *end;
            if (strchr(slash + 1, '.') != NULL) {
                if (inet_pton(AF_INET, slash + 1, b) != 1)
                    goto bad;
                mask = vg_be32(b);
            } else {
                long bits = strtol(slash + 1, &end, 10);
                if (*end || bits < 0 || bits > 32 || end == slash + 1)
                    goto bad;
                mask = bits == 0 ? 0 : UINT32_MAX << (32 - bits);
            }
        }
        return push4(&s->a4, ip & mask, (ip & mask) | ~mask);
    }
    if (inet_pton(AF_INET6, buf, a) == 1) {
        u128 ip = load6(a), mask = ~(u128)0;
        if (slash != NULL) {
            char *end;
            long bits = strtol(slash + 1, &end, 10);
            if (*end || bits < 0 || bits > 128 || end == slash + 1)
                goto bad;
            mask = bits == 0 ? 0 : ~(u128)0 << (128 - bits);
        }
        return push6(&s->a6, ip & mask, (ip & mask) | ~mask);
    }
bad:
    vg_errbuf_set(errbuf, "invalid address '%s'", tok);
    return -1;
}

/* A small recursive-descent parser for both address and port specs. */
struct specp {
    const struct detect_vars *v;
    const char *kind; /* "address-groups" or "port-groups" */
    char *errbuf;
    int depth;
};

static int addr_expr(struct specp *sp, const char **pp, struct aset *out);

/* Parses one element (possibly negated, a list, a variable, or an address) into out. */
static int addr_elem(struct specp *sp, const char **pp, struct aset *out, int *negated)
{
    const char *p = *pp;
    while (isspace((unsigned char)*p))
        p++;
    *negated = 0;
    while (*p == '!') {
        *negated = !*negated;
        p++;
        while (isspace((unsigned char)*p))
            p++;
    }
    if (*p == '[') {
        p++;
        if (addr_expr(sp, &p, out) < 0)
            return -1;
        while (isspace((unsigned char)*p))
            p++;
        if (*p != ']') {
            vg_errbuf_set(sp->errbuf, "unbalanced '[' in address list");
            return -1;
        }
        *pp = p + 1;
        return 0;
    }
    char tok[256];
    size_t n = 0;
    while (*p && *p != ',' && *p != ']' && !isspace((unsigned char)*p) && n + 1 < sizeof(tok))
        tok[n++] = *p++;
    tok[n] = '\0';
    *pp = p;
    if (n == 0) {
        vg_errbuf_set(sp->errbuf, "empty element in address list");
        return -1;
    }
    if (tok[0] == '$') {
        const char *val = var_value(sp->v, sp->kind, tok + 1);
        if (val == NULL) {
            vg_errbuf_set(sp->errbuf, "unknown address variable %s", tok);
            return -1;
        }
        if (++sp->depth > MAX_VAR_DEPTH) {
            vg_errbuf_set(sp->errbuf, "variables nested too deep at %s", tok);
            return -1;
        }
        const char *q = val;
        int rc = addr_expr(sp, &q, out);
        sp->depth--;
        return rc;
    }
    if (strcmp(tok, "any") == 0) {
        return push4(&out->a4, 0, UINT32_MAX) < 0 || push6(&out->a6, 0, ~(u128)0) < 0 ? -1 : 0;
    }
    return parse_one_addr(tok, out, sp->errbuf);
}

/* A comma-separated list: positives unioned, negatives subtracted (all if no positive). */
static int addr_expr(struct specp *sp, const char **pp, struct aset *out)
{
    struct aset pos = {{NULL, 0, 0}, {NULL, 0, 0}}, neg = {{NULL, 0, 0}, {NULL, 0, 0}};
    int npos = 0, rc = -1;
    const char *p = *pp;
    for (;;) {
        struct aset e = {{NULL, 0, 0}, {NULL, 0, 0}};
        int negated;
        if (addr_elem(sp, &p, &e, &negated) < 0) {
            aset_free(&e);
            goto out;
        }
        norm4(&e.a4);
        norm6(&e.a6);
        if (aset_add(negated ? &neg : &pos, &e) < 0) {
            aset_free(&e);
            goto out;
        }
        npos += !negated;
        aset_free(&e);
        while (isspace((unsigned char)*p))
            p++;
        if (*p != ',')
            break;
        p++;
    }
    if (npos == 0 && (push4(&pos.a4, 0, UINT32_MAX) < 0 || push6(&pos.a6, 0, ~(u128)0) < 0))
        goto out;
    if (neg.a4.n + neg.a6.n > 0 && aset_subtract(&pos, &neg) < 0)
        goto out;
    if (aset_add(out, &pos) < 0)
        goto out;
    rc = 0;
out:
    aset_free(&pos);
    aset_free(&neg);
    *pp = p;
    return rc;
}

struct addr_group *detect_addr_parse(struct detect_vars *v, const char *spec, char *errbuf)
{
    uint64_t h = XXH3_64bits(spec, strlen(spec));
    struct addr_group *g = map_get(&v->addr_map, spec, h, addr_key);
    if (g != NULL)
        return g;
    if (strlen(spec) > MAX_SPEC) {
        vg_errbuf_set(errbuf, "address spec too long");
        return NULL;
    }
    struct specp sp = {v, "address-groups", errbuf, 0};
    struct aset s = {{NULL, 0, 0}, {NULL, 0, 0}};
    const char *p = spec;
    if (addr_expr(&sp, &p, &s) < 0) {
        aset_free(&s);
        return NULL;
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '\0') {
        vg_errbuf_set(errbuf, "unexpected '%c' in address '%s'", *p, spec);
        aset_free(&s);
        return NULL;
    }
    if (s.a4.n + s.a6.n == 0) {
        vg_errbuf_set(errbuf, "address '%s' matches nothing", spec);
        aset_free(&s);
        return NULL;
    }
    g = calloc(1, sizeof(*g));
    struct addr_group **arr = realloc(v->addrs, (v->naddrs + 1) * sizeof(*arr));
    if (g == NULL || arr == NULL || (g->spec = strdup(spec)) == NULL) {
        free(g);
        aset_free(&s);
        vg_errbuf_set(errbuf, "out of memory");
        return NULL;
    }
    v->addrs = arr;
    if (map_put(&v->addr_map, h, g) < 0) {
        free(g->spec);
        free(g);
        aset_free(&s);
        vg_errbuf_set(errbuf, "out of memory");
        return NULL;
    }
    g->v4 = s.a4.r;
    g->n4 = s.a4.n;
    g->v6 = s.a6.r;
    g->n6 = s.a6.n;
    g->any = g->n4 == 1 && g->v4[0].lo == 0 && g->v4[0].hi == UINT32_MAX && g->n6 == 1 &&
             g->v6[0].lo == 0 && g->v6[0].hi == ~(u128)0;
    v->addrs[v->naddrs++] = g;
    return g;
}

int detect_addr_match(const struct addr_group *g, int ip_ver, const struct vg_addr *a)
{
    if (g->any)
        return 1;
    if (ip_ver == 4) {
        uint32_t x = vg_be32(a->u8);
        unsigned lo = 0, hi = g->n4;
        while (lo < hi) {
            unsigned mid = (lo + hi) / 2;
            if (x < g->v4[mid].lo)
                hi = mid;
            else if (x > g->v4[mid].hi)
                lo = mid + 1;
            else
                return 1;
        }
        return 0;
    }
    if (ip_ver == 6) {
        u128 x = load6(a->u8);
        unsigned lo = 0, hi = g->n6;
        while (lo < hi) {
            unsigned mid = (lo + hi) / 2;
            if (x < g->v6[mid].lo)
                hi = mid;
            else if (x > g->v6[mid].hi)
                lo = mid + 1;
            else
                return 1;
        }
    }
    return 0;
}

/* ---- Ports, as 65536-bit sets ---- */

static int port_expr(struct specp *sp, const char **pp, uint8_t *out);

static void bits_set_range(uint8_t *b, unsigned lo, unsigned hi)
{
    for (unsigned i = lo; i <= hi; i++)
        b[i >> 3] |= (uint8_t)(1u << (i & 7));
}

static int port_elem(struct specp *sp, const char **pp, uint8_t *out, int *negated)
{
    const char *p = *pp;
    while (isspace((unsigned char)*p))
        p++;
    *negated = 0;
    while (*p == '!') {
        *negated = !*negated;
        p++;
    }
    if (*p == '[') {
        p++;
        if (port_expr(sp, &p, out) < 0)
            return -1;
        while (isspace((unsigned char)*p))
            p++;
        if (*p != ']') {
            vg_errbuf_set(sp->errbuf, "unbalanced '[' in port list");
            return -1;
        }
        *pp = p + 1;
        return 0;
    }
    char tok[128];
    size_t n = 0;
    while (*p && *p != ',' && *p != ']' && !isspace((unsigned char)*p) && n + 1 < sizeof(tok))
        tok[n++] = *p++;
    tok[n] = '\0';
    *pp = p;
    if (n == 0) {
        vg_errbuf_set(sp->errbuf, "empty element in port list");
        return -1;
    }
    if (tok[0] == '$') {
        const char *val = var_value(sp->v, sp->kind, tok + 1);
        if (val == NULL) {
            vg_errbuf_set(sp->errbuf, "unknown port variable %s", tok);
            return -1;
        }
        if (++sp->depth > MAX_VAR_DEPTH) {
            vg_errbuf_set(sp->errbuf, "variables nested too deep at %s", tok);
            return -1;
        }
        const char *q = val;
        int rc = port_expr(sp, &q, out);
        sp->depth--;
        return rc;
    }
    if (strcmp(tok, "any") == 0) {
        memset(out, 0xff, 65536 / 8);
        return 0;
    }
    /* N, N:M, N:, :M */
    char *colon = strchr(tok, ':');
    long lo, hi;
    char *end;
    if (colon == NULL) {
        lo = strtol(tok, &end, 10);
        if (*end || lo < 0 || lo > 65535)
            goto bad;
        hi = lo;
    } else {
        *colon = '\0';
        lo = tok[0] ? strtol(tok, &end, 10) : 0;
        if (tok[0] && (*end || lo < 0 || lo > 65535))
            goto bad;
        hi = colon[1] ? strtol(colon + 1, &end, 10) : 65535;
        if (colon[1] && (*end || hi < 0 || hi > 65535))
            goto bad;
        if (lo > hi)
            goto bad;
    }
    bits_set_range(out, (unsigned)lo, (unsigned)hi);
    return 0;
bad:
    vg_errbuf_set(sp->errbuf, "invalid port '%s'", tok);
    return -1;
}

static int port_expr(struct specp *sp, const char **pp, uint8_t *out)
{
    uint8_t *pos = calloc(1, 65536 / 8), *neg = calloc(1, 65536 / 8), *e = calloc(1, 65536 / 8);
    int npos = 0, rc = -1;
    const char *p = *pp;
    if (pos == NULL || neg == NULL || e == NULL)
        goto out;
    for (;;) {
        int negated;
        memset(e, 0, 65536 / 8);
        if (port_elem(sp, &p, e, &negated) < 0)
            goto out;
        uint8_t *dst = negated ? neg : pos;
        for (unsigned i = 0; i < 65536 / 8; i++)
            dst[i] |= e[i];
        npos += !negated;
        while (isspace((unsigned char)*p))
            p++;
        if (*p != ',')
            break;
        p++;
    }
    if (npos == 0)
        memset(pos, 0xff, 65536 / 8);
    for (unsigned i = 0; i < 65536 / 8; i++)
        out[i] |= pos[i] & (uint8_t)~neg[i];
    rc = 0;
out:
    free(pos);
    free(neg);
    free(e);
    *pp = p;
    return rc;
}

struct port_group *detect_port_parse(struct detect_vars *v, const char *spec, char *errbuf)
{
    uint64_t h = XXH3_64bits(spec, strlen(spec));
    struct port_group *g = map_get(&v->port_map, spec, h, port_key);
    if (g != NULL)
        return g;
    g = calloc(1, sizeof(*g));
    if (g == NULL) {
        vg_errbuf_set(errbuf, "out of memory");
        return NULL;
    }
    struct specp sp = {v, "port-groups", errbuf, 0};
    const char *p = spec;
    if (port_expr(&sp, &p, g->bits) < 0) {
        free(g);
        return NULL;
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '\0') {
        vg_errbuf_set(errbuf, "unexpected '%c' in ports '%s'", *p, spec);
        free(g);
        return NULL;
    }
    int all = 1, none = 1;
    for (unsigned i = 0; i < 65536 / 8; i++) {
        all &= g->bits[i] == 0xff;
        none &= g->bits[i] == 0;
    }
    if (none) {
        vg_errbuf_set(errbuf, "ports '%s' match nothing", spec);
        free(g);
        return NULL;
    }
    struct port_group **arr = realloc(v->ports, (v->nports + 1) * sizeof(*arr));
    if (arr == NULL || (g->spec = strdup(spec)) == NULL) {
        free(g);
        vg_errbuf_set(errbuf, "out of memory");
        return NULL;
    }
    v->ports = arr;
    if (map_put(&v->port_map, h, g) < 0) {
        free(g->spec);
        free(g);
        vg_errbuf_set(errbuf, "out of memory");
        return NULL;
    }
    g->any = all;
    v->ports[v->nports++] = g;
    return g;
}

void detect_vars_free(struct detect_vars *v)
{
    for (unsigned i = 0; i < v->naddrs; i++) {
        free(v->addrs[i]->spec);
        free(v->addrs[i]->v4);
        free(v->addrs[i]->v6);
        free(v->addrs[i]);
    }
    free(v->addrs);
    for (unsigned i = 0; i < v->nports; i++) {
        free(v->ports[i]->spec);
        free(v->ports[i]);
    }
    free(v->ports);
    free(v->addr_map.hash);
    free(v->addr_map.val);
    free(v->port_map.hash);
    free(v->port_map.val);
    memset(&v->addr_map, 0, sizeof(v->addr_map));
    memset(&v->port_map, 0, sizeof(v->port_map));
    v->addrs = NULL;
    v->ports = NULL;
    v->naddrs = v->nports = 0;
}
