/* enrich-lpm.c: longest-prefix match as sorted disjoint ranges, and HOME_NET-style address sets. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enrich-internal.h"
#include "vigil/enrich.h"

#define NETSET_MAX_DEPTH 16
#define NETSET_MAX_SPEC 65536

static lpm_u128 load128(const uint8_t *b)
{
    lpm_u128 v = 0;
    for (int i = 0; i < 16; i++)
        v = (v << 8) | b[i];
    return v;
}

static int is_v4_mapped(const uint8_t *b)
{
    static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(b, pfx, 12) == 0;
}

int lpm_parse_cidr(const char *text, int strict, int *ver, uint8_t addr[16], unsigned *plen,
                   char *why, size_t whylen)
{
    char buf[64];
    size_t len = strlen(text);
    if (len == 0 || len >= sizeof(buf)) {
        snprintf(why, whylen, "not an address or CIDR");
        return -1;
    }
    memcpy(buf, text, len + 1);
    char *slash = strchr(buf, '/');
    if (slash != NULL)
        *slash = '\0';
    memset(addr, 0, 16);
    int v;
    unsigned max;
    if (inet_pton(AF_INET, buf, addr) == 1) {
        v = 4, max = 32;
    } else if (inet_pton(AF_INET6, buf, addr) == 1) {
        v = 6, max = 128;
    } else {
        snprintf(why, whylen, "\"%s\" is not an IPv4 or IPv6 address", buf);
        return -1;
    }
    unsigned n = max;
    if (slash != NULL) {
        const char *p = slash + 1;
        if (*p == '\0' || strlen(p) > 3) {
            snprintf(why, whylen, "bad prefix length in \"%s\"", text);
            return -1;
        }
        n = 0;
        for (; *p; p++) {
            if (!isdigit((unsigned char)*p)) {
                snprintf(why, whylen, "bad prefix length in \"%s\"", text);
                return -1;
            }
            n = n * 10 + (unsigned)(*p - '0');
        }
        if (n > max) {
            snprintf(why, whylen, "prefix length %u too long in \"%s\"", n, text);
            return -1;
        }
    }
    if (v == 6 && n >= 96 && is_v4_mapped(addr)) {
        memmove(addr, addr + 12, 4);
        memset(addr + 4, 0, 12);
        v = 4, max = 32, n -= 96;
    }
    /* Host bits below the prefix. */
    unsigned nbytes = max / 8;
    for (unsigned bit = n; bit < max; bit++) {
        unsigned byte = bit / 8;
        uint8_t mask = (uint8_t)(0x80u >> (bit % 8));
        if (byte < nbytes && (addr[byte] & mask)) {
            if (strict) {
                uint8_t net[16];
                memcpy(net, addr, 16);
                for (unsigned b2 = n; b2 < max; b2++)
                    net[b2 / 8] &= (uint8_t) ~(0x80u >> (b2 % 8));
                char cidr[64];
                lpm_format_cidr(v, net, n, cidr, sizeof(cidr));
                snprintf(why, whylen, "\"%s\" has host bits set (did you mean %s?)", text, cidr);
                return -1;
            }
            addr[byte] &= (uint8_t)~mask;
        }
    }
    *ver = v;
    *plen = n;
    return 0;
}

void lpm_format_cidr(int ver, const uint8_t addr[16], unsigned plen, char *out, size_t len)
{
    char a[INET6_ADDRSTRLEN];
    if (inet_ntop(ver == 4 ? AF_INET : AF_INET6, addr, a, sizeof(a)) == NULL)
        a[0] = '\0';
    snprintf(out, len, "%s/%u", a, plen);
}

int lpm_add(struct lpm_builder *b, int ver, const uint8_t addr[16], unsigned plen, uint32_t val)
{
    int f = ver == 4 ? 0 : 1;
    unsigned bits = f == 0 ? 32 : 128;
    if (plen > bits)
        return -1;
    if (b->n[f] == b->cap[f]) {
        size_t cap = b->cap[f] ? b->cap[f] * 2 : 16;
        struct lpm_prefix *np = realloc(b->p[f], cap * sizeof(*np));
        if (np == NULL)
            return -1;
        b->p[f] = np;
        b->cap[f] = cap;
    }
    lpm_u128 lo = f == 0 ? (lpm_u128)(((uint32_t)addr[0] << 24) | ((uint32_t)addr[1] << 16) |
                                      ((uint32_t)addr[2] << 8) | addr[3])
                         : load128(addr);
    /* The host part: bits - plen one bits (a shift by 128 would be undefined). */
    lpm_u128 span = plen == 0      ? (f == 0 ? (lpm_u128)UINT32_MAX : ~(lpm_u128)0)
                    : plen >= bits ? 0
                                   : (((lpm_u128)1 << (bits - plen)) - 1);
    lo &= ~span;
    struct lpm_prefix *p = &b->p[f][b->n[f]++];
    p->lo = lo;
    p->hi = lo | span;
    p->val = val;
    p->plen = (uint8_t)plen;
    return 0;
}

static int prefix_cmp(const void *x, const void *y)
{
    const struct lpm_prefix *a = x, *b = y;
    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    if (a->plen != b->plen) /* the wider prefix first */
        return a->plen < b->plen ? -1 : 1;
    return a->val < b->val ? -1 : a->val > b->val; /* first added first (values grow) */
}

/* Output of the flattening sweep for one family. */
struct segs {
    struct lpm_seg6 *s;
    size_t n, cap;
};

static int seg_emit(struct segs *o, lpm_u128 lo, lpm_u128 hi, const struct lpm_prefix *p)
{
    if (lo > hi)
        return 0;
    /* Merge with the previous range when it continues it with the same prefix. */
    if (o->n > 0 && o->s[o->n - 1].val == p->val && o->s[o->n - 1].plen == p->plen &&
        o->s[o->n - 1].hi + 1 == lo) {
        o->s[o->n - 1].hi = hi;
        return 0;
    }
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        struct lpm_seg6 *ns = realloc(o->s, cap * sizeof(*ns));
        if (ns == NULL)
            return -1;
        o->s = ns;
        o->cap = cap;
    }
    o->s[o->n++] = (struct lpm_seg6){lo, hi, p->val, p->plen};
    return 0;
}

/*
 * Prefixes are either nested or disjoint, so after sorting by start (wider first) a stack of the
 * prefixes open at the current address gives, for each stretch, the innermost one.
 */
static int flatten(struct lpm_prefix *p, size_t n, struct segs *o,
                   void (*dup)(void *ctx, uint32_t kept, uint32_t dropped), void *ctx)
{
    if (n == 0)
        return 0;
    qsort(p, n, sizeof(*p), prefix_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && p[k - 1].lo == p[i].lo && p[k - 1].hi == p[i].hi) {
            if (dup != NULL)
                dup(ctx, p[k - 1].val, p[i].val);
            continue;
        }
        p[k++] = p[i];
    }
    n = k;
    const struct lpm_prefix **stack = malloc(130 * sizeof(*stack)); /* nesting <= 129 levels */
    if (stack == NULL)
        return -1;
    size_t depth = 0;
    lpm_u128 cur = p[0].lo; /* the first address not yet given to a range */
    for (size_t i = 0; i < n; i++) {
        /* Close the prefixes that end before this one starts (none ends at the top). */
        while (depth > 0 && stack[depth - 1]->hi < p[i].lo) {
            const struct lpm_prefix *t = stack[--depth];
            if (t->hi >= cur) {
                if (seg_emit(o, cur, t->hi, t) < 0)
                    goto oom;
                cur = t->hi + 1;
            }
        }
        if (depth > 0 && cur < p[i].lo && seg_emit(o, cur, p[i].lo - 1, stack[depth - 1]) < 0)
            goto oom;
        cur = p[i].lo;
        stack[depth++] = &p[i];
    }
    int wrapped = 0; /* cur went past the top of the address space */
    while (depth > 0) {
        const struct lpm_prefix *t = stack[--depth];
        if (!wrapped && t->hi >= cur) {
            if (seg_emit(o, cur, t->hi, t) < 0)
                goto oom;
            cur = t->hi + 1;
            wrapped = cur == 0;
        }
    }
    free(stack);
    return 0;
oom:
    free(stack);
    return -1;
}

void lpm_builder_free(struct lpm_builder *b)
{
    for (int f = 0; f < 2; f++) {
        free(b->p[f]);
        b->p[f] = NULL;
        b->n[f] = b->cap[f] = 0;
    }
}

void lpm_table_free(struct lpm_table *t)
{
    free(t->v4);
    free(t->v6);
    memset(t, 0, sizeof(*t));
}

int lpm_build(struct lpm_builder *b, struct lpm_table *t,
              void (*dup)(void *ctx, uint32_t kept, uint32_t dropped), void *ctx)
{
    memset(t, 0, sizeof(*t));
    struct segs o4 = {0}, o6 = {0};
    if (flatten(b->p[0], b->n[0], &o4, dup, ctx) < 0 ||
        flatten(b->p[1], b->n[1], &o6, dup, ctx) < 0)
        goto oom;
    if (o4.n > 0) {
        t->v4 = malloc(o4.n * sizeof(*t->v4));
        if (t->v4 == NULL)
            goto oom;
        for (size_t i = 0; i < o4.n; i++)
            t->v4[i] = (struct lpm_seg4){(uint32_t)o4.s[i].lo, (uint32_t)o4.s[i].hi, o4.s[i].val,
                                         o4.s[i].plen};
        t->n4 = o4.n;
    }
    free(o4.s);
    t->v6 = o6.s;
    t->n6 = o6.n;
    lpm_builder_free(b);
    return 0;
oom:
    free(o4.s);
    free(o6.s);
    lpm_table_free(t);
    lpm_builder_free(b);
    return -1;
}

uint32_t lpm_find(const struct lpm_table *t, int ip_ver, const struct vg_addr *a, unsigned *plen)
{
    const uint8_t *b = a->u8;
    if (ip_ver == 6 && is_v4_mapped(b)) {
        b += 12;
        ip_ver = 4;
    }
    if (ip_ver == 4) {
        uint32_t x = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
        size_t lo = 0, hi = t->n4; /* find the last range starting at or before x */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (t->v4[mid].lo <= x)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == 0 || t->v4[lo - 1].hi < x)
            return LPM_NONE;
        if (plen != NULL)
            *plen = t->v4[lo - 1].plen;
        return t->v4[lo - 1].val;
    }
    if (ip_ver != 6)
        return LPM_NONE;
    lpm_u128 x = load128(b);
    size_t lo = 0, hi = t->n6;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->v6[mid].lo <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || t->v6[lo - 1].hi < x)
        return LPM_NONE;
    if (plen != NULL)
        *plen = t->v6[lo - 1].plen;
    return t->v6[lo - 1].val;
}

/* ---- Address sets: a table whose values say "in" (1) or "out" (0) ---- */

struct enrich_netset {
    struct lpm_table t;
};

struct netset_parser {
    const struct config *cfg;
    struct lpm_builder b;
    int npos; /* positive elements seen */
    char *errbuf;
};

static int netset_expr(struct netset_parser *np, const char *spec, int neg, int depth);

static int netset_elem(struct netset_parser *np, const char *tok, int neg, int depth)
{
    while (*tok == '!') {
        neg = !neg;
        tok++;
    }
    if (*tok == '[')
        return netset_expr(np, tok, neg, depth + 1);
    if (*tok == '$') {
        char key[256];
        snprintf(key, sizeof(key), "vars.address-groups.%s", tok + 1);
        const char *v = np->cfg ? config_get(np->cfg, key) : NULL;
        if (v == NULL && strcmp(tok + 1, "HOME_NET") == 0)
            v = "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]";
        if (v == NULL) {
            vg_errbuf_set(np->errbuf, "unknown address variable %s", tok);
            return -1;
        }
        return netset_expr(np, v, neg, depth + 1);
    }
    uint8_t addr[16] = {0};
    if (strcmp(tok, "any") == 0) {
        if (lpm_add(&np->b, 4, addr, 0, !neg) < 0 || lpm_add(&np->b, 6, addr, 0, !neg) < 0)
            goto oom;
    } else {
        int ver;
        unsigned plen;
        char why[160];
        if (lpm_parse_cidr(tok, 0, &ver, addr, &plen, why, sizeof(why)) < 0) {
            vg_errbuf_set(np->errbuf, "address set: %s", why);
            return -1;
        }
        if (lpm_add(&np->b, ver, addr, plen, !neg) < 0)
            goto oom;
    }
    if (!neg)
        np->npos++;
    return 0;
oom:
    vg_errbuf_set(np->errbuf, "out of memory");
    return -1;
}

/* Parses one element or a bracketed list; each element is handled by netset_elem. */
static int netset_expr(struct netset_parser *np, const char *spec, int neg, int depth)
{
    if (depth > NETSET_MAX_DEPTH) {
        vg_errbuf_set(np->errbuf, "address set nested too deep (recursive variable?)");
        return -1;
    }
    size_t len = strlen(spec);
    if (len > NETSET_MAX_SPEC) {
        vg_errbuf_set(np->errbuf, "address set too long");
        return -1;
    }
    while (len > 0 && isspace((unsigned char)spec[len - 1]))
        len--;
    while (len > 0 && isspace((unsigned char)*spec))
        spec++, len--;
    if (len == 0) {
        vg_errbuf_set(np->errbuf, "empty address set");
        return -1;
    }
    if (spec[0] != '[') {
        char *tok = strndup(spec, len);
        if (tok == NULL) {
            vg_errbuf_set(np->errbuf, "out of memory");
            return -1;
        }
        int rc = netset_elem(np, tok, neg, depth);
        free(tok);
        return rc;
    }
    if (spec[len - 1] != ']') {
        vg_errbuf_set(np->errbuf, "unbalanced [ in address set \"%.*s\"", (int)VG_MIN(len, 80),
                      spec);
        return -1;
    }
    /* Split the inside of [...] at top-level commas. */
    const char *p = spec + 1, *end = spec + len - 1;
    while (p <= end) {
        int lvl = 0;
        const char *q = p;
        while (q < end && (lvl > 0 || *q != ',')) {
            if (*q == '[')
                lvl++;
            else if (*q == ']')
                lvl--;
            q++;
        }
        if (lvl != 0) {
            vg_errbuf_set(np->errbuf, "unbalanced [ in address set");
            return -1;
        }
        char *tok = strndup(p, (size_t)(q - p));
        if (tok == NULL) {
            vg_errbuf_set(np->errbuf, "out of memory");
            return -1;
        }
        char *t = tok;
        while (isspace((unsigned char)*t))
            t++;
        size_t tl = strlen(t);
        while (tl > 0 && isspace((unsigned char)t[tl - 1]))
            t[--tl] = '\0';
        int rc = tl == 0 ? (vg_errbuf_set(np->errbuf, "empty element in address set"), -1)
                         : netset_elem(np, t, neg, depth);
        free(tok);
        if (rc < 0)
            return -1;
        p = q + 1;
    }
    return 0;
}

struct enrich_netset *enrich_netset_parse(const struct config *cfg, const char *spec, char *errbuf)
{
    struct netset_parser np = {.cfg = cfg, .errbuf = errbuf};
    if (spec == NULL || netset_expr(&np, spec, 0, 0) < 0) {
        if (spec == NULL)
            vg_errbuf_set(errbuf, "no address set");
        lpm_builder_free(&np.b);
        return NULL;
    }
    uint8_t zero[16] = {0};
    /* Only exclusions ("!10.0.0.0/8"): everything else is in. */
    if (np.npos == 0 && (lpm_add(&np.b, 4, zero, 0, 1) < 0 || lpm_add(&np.b, 6, zero, 0, 1) < 0))
        goto oom;
    struct enrich_netset *s = calloc(1, sizeof(*s));
    if (s == NULL)
        goto oom;
    if (lpm_build(&np.b, &s->t, NULL, NULL) < 0) {
        free(s);
        goto oom;
    }
    return s;
oom:
    lpm_builder_free(&np.b);
    vg_errbuf_set(errbuf, "out of memory");
    return NULL;
}

void enrich_netset_free(struct enrich_netset *s)
{
    if (s == NULL)
        return;
    lpm_table_free(&s->t);
    free(s);
}

int enrich_netset_contains(const struct enrich_netset *s, int ip_ver, const struct vg_addr *a)
{
    return s != NULL && lpm_find(&s->t, ip_ver, a, NULL) == 1;
}
