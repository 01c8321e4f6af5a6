/* detect-index.c: finds the header-only rules a packet can match by protocol, port and address, not
 * by scan. */
#include <stdlib.h>
#include <string.h>

#include "detect-internal.h"

/* A side wider than this (in IPv4 addresses) is "broad": the rule is not indexed by it. */
#define NARROW_V4 (1u << 24)
#define NARROW_V6_BITS 104 /* at most a /24 of IPv6 space per range... */
/* A port set of at most this many ports is narrow: the rule is indexed by its ports. */
#define NARROW_PORTS 4096

/* One (range, rule) pair before the segments are built. */
struct ent4 {
    uint32_t lo, hi, rule;
};
struct ent6 {
    u128 lo, hi;
    uint32_t rule;
};

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_u128(const void *a, const void *b)
{
    u128 x = *(const u128 *)a, y = *(const u128 *)b;
    return x < y ? -1 : x > y;
}

/* Index of the last start <= x, or -1. */
static long find4(const uint32_t *starts, unsigned n, uint32_t x)
{
    long lo = 0, hi = (long)n - 1, r = -1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        if (starts[mid] <= x) {
            r = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return r;
}

static long find6(const u128 *starts, unsigned n, u128 x)
{
    long lo = 0, hi = (long)n - 1, r = -1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        if (starts[mid] <= x) {
            r = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return r;
}

/* Builds the segments of the (range, rule) entries: CSR arrays over sorted disjoint segments. */
static int build4(struct seg_index4 *ix, struct ent4 *e, unsigned n)
{
    memset(ix, 0, sizeof(*ix));
    if (n == 0)
        return 0;
    uint32_t *pts = malloc(2 * n * sizeof(*pts));
    if (pts == NULL)
        return -1;
    unsigned np = 0;
    for (unsigned i = 0; i < n; i++) {
        pts[np++] = e[i].lo;
        if (e[i].hi != UINT32_MAX)
            pts[np++] = e[i].hi + 1;
    }
    if (np > 1)
        qsort(pts, np, sizeof(*pts), cmp_u32);
    unsigned u = 0;
    for (unsigned i = 0; i < np; i++)
        if (u == 0 || pts[i] != pts[u - 1])
            pts[u++] = pts[i];
    ix->starts = pts;
    ix->nseg = u;
    /* Count, then fill, the rules of each segment. */
    ix->off = calloc(u + 1, sizeof(uint32_t));
    if (ix->off == NULL)
        return -1;
    for (int pass = 0; pass < 2; pass++) {
        uint32_t *fill = pass ? calloc(u, sizeof(uint32_t)) : NULL;
        if (pass && fill == NULL)
            return -1;
        for (unsigned i = 0; i < n; i++) {
            long a = find4(pts, u, e[i].lo);
            long b = e[i].hi == UINT32_MAX ? (long)u : find4(pts, u, e[i].hi + 1);
            for (long s = a; s < b; s++) {
                if (pass == 0)
                    ix->off[s + 1]++;
                else
                    ix->rules[ix->off[s] + fill[s]++] = e[i].rule;
            }
        }
        if (pass == 0) {
            for (unsigned s = 0; s < u; s++)
                ix->off[s + 1] += ix->off[s];
            ix->rules = malloc((ix->off[u] ? ix->off[u] : 1) * sizeof(uint32_t));
            if (ix->rules == NULL)
                return -1;
        }
        free(fill);
    }
    return 0;
}

static int build6(struct seg_index6 *ix, struct ent6 *e, unsigned n)
{
    memset(ix, 0, sizeof(*ix));
    if (n == 0)
        return 0;
    u128 *pts = malloc(2 * n * sizeof(*pts));
    if (pts == NULL)
        return -1;
    unsigned np = 0;
    for (unsigned i = 0; i < n; i++) {
        pts[np++] = e[i].lo;
        if (e[i].hi != ~(u128)0)
            pts[np++] = e[i].hi + 1;
    }
    if (np > 1)
        qsort(pts, np, sizeof(*pts), cmp_u128);
    unsigned u = 0;
    for (unsigned i = 0; i < np; i++)
        if (u == 0 || pts[i] != pts[u - 1])
            pts[u++] = pts[i];
    ix->starts = pts;
    ix->nseg = u;
    ix->off = calloc(u + 1, sizeof(uint32_t));
    if (ix->off == NULL)
        return -1;
    for (int pass = 0; pass < 2; pass++) {
        uint32_t *fill = pass ? calloc(u, sizeof(uint32_t)) : NULL;
        if (pass && fill == NULL)
            return -1;
        for (unsigned i = 0; i < n; i++) {
            long a = find6(pts, u, e[i].lo);
            long b = e[i].hi == ~(u128)0 ? (long)u : find6(pts, u, e[i].hi + 1);
            for (long s = a; s < b; s++) {
                if (pass == 0)
                    ix->off[s + 1]++;
                else
                    ix->rules[ix->off[s] + fill[s]++] = e[i].rule;
            }
        }
        if (pass == 0) {
            for (unsigned s = 0; s < u; s++)
                ix->off[s + 1] += ix->off[s];
            ix->rules = malloc((ix->off[u] ? ix->off[u] : 1) * sizeof(uint32_t));
            if (ix->rules == NULL)
                return -1;
        }
        free(fill);
    }
    return 0;
}

/* Is g narrow enough to index by? Then its ranges go to the entry lists. */
static int narrow(const struct addr_group *g)
{
    if (g->any)
        return 0;
    uint64_t v4 = 0;
    for (unsigned i = 0; i < g->n4; i++)
        v4 += (uint64_t)(g->v4[i].hi - g->v4[i].lo) + 1;
    if (v4 > NARROW_V4)
        return 0;
    for (unsigned i = 0; i < g->n6; i++)
        if ((g->v6[i].hi - g->v6[i].lo) >> (128 - NARROW_V6_BITS) != 0)
            return 0;
    return 1;
}

/* The number of ports in g (0 for any). */
static unsigned port_count(const struct port_group *g)
{
    if (g->any)
        return 0;
    unsigned n = 0;
    for (unsigned i = 0; i < sizeof(g->bits); i++)
        n += (unsigned)__builtin_popcount(g->bits[i]);
    return n;
}

/* Port p's rules go to ix; pass 0 counts them, pass 1 fills them in (fill: per-port cursor). */
static void port_add(struct port_index *ix, const struct port_group *g, uint32_t rule, int pass,
                     uint32_t *fill)
{
    for (unsigned port = 0; port < 65536; port++) {
        if (!detect_port_match(g, (uint16_t)port))
            continue;
        if (pass == 0)
            ix->off[port + 1]++;
        else
            ix->rules[ix->off[port] + fill[port]++] = rule;
    }
}

/* Which port set of s (non-bidirectional TCP or UDP) indexes it: 1 source, 2 destination, 0
 * none. The destination port is the usual narrow side. */
static int port_side(const struct sig *s)
{
    if (s->bidir || (s->proto != SP_TCP && s->proto != SP_UDP))
        return 0;
    unsigned dn = port_count(s->dp), sn = port_count(s->sp);
    if (dn > 0 && dn <= NARROW_PORTS)
        return 2;
    if (sn > 0 && sn <= NARROW_PORTS)
        return 1;
    return 0;
}

/* Builds the port indexes of class c from the rules port_side() picks. */
static int build_ports(struct detect_engine *e, unsigned c)
{
    struct rule_index *ix = &e->hdr_index[c];
    unsigned proto = c == PCLASS_TCP ? SP_TCP : SP_UDP;
    struct port_index *sides[2] = {&ix->sp, &ix->dp};
    for (int side = 1; side <= 2; side++) {
        struct port_index *pi = sides[side - 1];
        uint32_t *fill = NULL;
        for (int pass = 0; pass < 2; pass++) {
            for (unsigned k = 0; k < e->npkt_rules; k++) {
                const struct sig *s = e->sigs[e->pkt_rules[k]];
                if (s->proto != proto || port_side(s) != side)
                    continue;
                if (pi->off == NULL && (pi->off = calloc(65537, sizeof(uint32_t))) == NULL)
                    return -1;
                port_add(pi, side == 1 ? s->sp : s->dp, e->pkt_rules[k], pass, fill);
            }
            if (pi->off == NULL)
                break;
            if (pass == 0) {
                for (unsigned port = 0; port < 65536; port++)
                    pi->off[port + 1] += pi->off[port];
                pi->rules = malloc((pi->off[65536] ? pi->off[65536] : 1) * sizeof(uint32_t));
                fill = calloc(65536, sizeof(uint32_t));
                if (pi->rules == NULL || fill == NULL) {
                    free(fill);
                    return -1;
                }
            }
        }
        free(fill);
    }
    return 0;
}

unsigned detect_packet_pclass(const struct vg_packet *p)
{
    return p->proto == 6                       ? PCLASS_TCP
           : p->proto == 17                    ? PCLASS_UDP
           : (p->proto == 1 || p->proto == 58) ? PCLASS_ICMP
                                               : PCLASS_OTHER;
}

unsigned detect_sig_pclasses(const struct sig *s)
{
    switch (s->proto) {
    case SP_TCP:
        return 1u << PCLASS_TCP;
    case SP_UDP:
        return 1u << PCLASS_UDP;
    case SP_ICMP:
    case SP_ICMPV4:
    case SP_ICMPV6:
        return 1u << PCLASS_ICMP;
    case SP_SCTP:
        return 1u << PCLASS_OTHER;
    default:
        return (1u << PCLASS__COUNT) - 1;
    }
}

struct entries {
    struct ent4 *e4;
    unsigned n4, c4;
    struct ent6 *e6;
    unsigned n6, c6;
};

static int add_group(struct entries *en, const struct addr_group *g, uint32_t rule)
{
    for (unsigned i = 0; i < g->n4; i++) {
        if (en->n4 == en->c4) {
            unsigned c = en->c4 ? en->c4 * 2 : 256;
            struct ent4 *v = realloc(en->e4, c * sizeof(*v));
            if (v == NULL)
                return -1;
            en->e4 = v;
            en->c4 = c;
        }
        en->e4[en->n4++] = (struct ent4){g->v4[i].lo, g->v4[i].hi, rule};
    }
    for (unsigned i = 0; i < g->n6; i++) {
        if (en->n6 == en->c6) {
            unsigned c = en->c6 ? en->c6 * 2 : 64;
            struct ent6 *v = realloc(en->e6, c * sizeof(*v));
            if (v == NULL)
                return -1;
            en->e6 = v;
            en->c6 = c;
        }
        en->e6[en->n6++] = (struct ent6){g->v6[i].lo, g->v6[i].hi, rule};
    }
    return 0;
}

int detect_index_build(struct detect_engine *e)
{
    struct entries src[PCLASS__COUNT], dst[PCLASS__COUNT];
    memset(src, 0, sizeof(src));
    memset(dst, 0, sizeof(dst));
    int rc = -1;
    for (unsigned k = 0; k < e->npkt_rules; k++) {
        uint32_t ri = e->pkt_rules[k];
        const struct sig *s = e->sigs[ri];
        unsigned classes = detect_sig_pclasses(s);
        if (port_side(s) != 0)
            continue; /* in the port index of its class (build_ports) */
        /* Bidirectional rules may match either address: they stay broad. */
        int by_src = !s->bidir && narrow(s->src);
        int by_dst = !s->bidir && !by_src && narrow(s->dst);
        for (unsigned c = 0; c < PCLASS__COUNT; c++) {
            if (!((classes >> c) & 1))
                continue;
            struct rule_index *ix = &e->hdr_index[c];
            if (by_src) {
                if (add_group(&src[c], s->src, ri) < 0)
                    goto out;
            } else if (by_dst) {
                if (add_group(&dst[c], s->dst, ri) < 0)
                    goto out;
            } else {
                uint32_t *v = realloc(ix->broad, (ix->nbroad + 1) * sizeof(*v));
                if (v == NULL)
                    goto out;
                ix->broad = v;
                ix->broad[ix->nbroad++] = ri;
            }
        }
    }
    if (build_ports(e, PCLASS_TCP) < 0 || build_ports(e, PCLASS_UDP) < 0)
        goto out;
    for (unsigned c = 0; c < PCLASS__COUNT; c++) {
        struct rule_index *ix = &e->hdr_index[c];
        if (build4(&ix->src4, src[c].e4, src[c].n4) < 0 ||
            build6(&ix->src6, src[c].e6, src[c].n6) < 0 ||
            build4(&ix->dst4, dst[c].e4, dst[c].n4) < 0 ||
            build6(&ix->dst6, dst[c].e6, dst[c].n6) < 0)
            goto out;
    }
    rc = 0;
out:
    for (unsigned c = 0; c < PCLASS__COUNT; c++) {
        free(src[c].e4);
        free(src[c].e6);
        free(dst[c].e4);
        free(dst[c].e6);
    }
    return rc;
}

static void free4(struct seg_index4 *ix)
{
    free(ix->starts);
    free(ix->off);
    free(ix->rules);
}

static void free6(struct seg_index6 *ix)
{
    free(ix->starts);
    free(ix->off);
    free(ix->rules);
}

void detect_index_free(struct detect_engine *e)
{
    for (unsigned c = 0; c < PCLASS__COUNT; c++) {
        struct rule_index *ix = &e->hdr_index[c];
        free(ix->broad);
        free(ix->sp.off);
        free(ix->sp.rules);
        free(ix->dp.off);
        free(ix->dp.rules);
        free4(&ix->src4);
        free4(&ix->dst4);
        free6(&ix->src6);
        free6(&ix->dst6);
        memset(ix, 0, sizeof(*ix));
    }
}

static void collect4(struct detect_thread *t, const struct seg_index4 *ix, const uint8_t *a)
{
    long s = ix->nseg ? find4(ix->starts, ix->nseg, vg_be32(a)) : -1;
    if (s < 0)
        return;
    for (uint32_t k = ix->off[s]; k < ix->off[s + 1]; k++)
        detect_prefilter_add(t, ix->rules[k]);
}

static void collect6(struct detect_thread *t, const struct seg_index6 *ix, const uint8_t *a)
{
    if (ix->nseg == 0)
        return;
    u128 x = 0;
    for (int i = 0; i < 16; i++)
        x = (x << 8) | a[i];
    long s = find6(ix->starts, ix->nseg, x);
    if (s < 0)
        return;
    for (uint32_t k = ix->off[s]; k < ix->off[s + 1]; k++)
        detect_prefilter_add(t, ix->rules[k]);
}

static void collect_port(struct detect_thread *t, const struct port_index *pi, uint16_t port)
{
    if (pi->off == NULL)
        return;
    for (uint32_t k = pi->off[port]; k < pi->off[port + 1]; k++)
        detect_prefilter_add(t, pi->rules[k]);
}

void detect_index_collect(struct detect_thread *t, const struct vg_packet *p)
{
    detect_prefilter_begin(t);
    unsigned c = detect_packet_pclass(p);
    const struct rule_index *ix = &t->e->hdr_index[c];
    for (unsigned k = 0; k < ix->nbroad; k++)
        detect_prefilter_add(t, ix->broad[k]);
    if (p->flags & VG_PKT_HAS_PORTS) {
        collect_port(t, &ix->sp, p->sp);
        collect_port(t, &ix->dp, p->dp);
    }
    if (p->ip_ver == 4) {
        collect4(t, &ix->src4, p->src.u8);
        collect4(t, &ix->dst4, p->dst.u8);
    } else if (p->ip_ver == 6) {
        collect6(t, &ix->src6, p->src.u8);
        collect6(t, &ix->dst6, p->dst.u8);
    }
    detect_prefilter_end(t);
}
