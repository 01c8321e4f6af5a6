/* detect-bits.c: flowbits and flowints kept on the flow, xbits kept per host or host pair. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "detect-internal.h"

#define XB_BUCKETS 4096
#define XB_MAX 100000

struct xb_entry {
    struct xb_entry *next;
    uint32_t bit;
    uint8_t track, ver;
    struct vg_addr a, b;
    vg_time_t expires;
};

struct xb_table {
    struct xb_entry *buckets[XB_BUCKETS];
    unsigned n;
};

struct detect_flow *detect_flow_get(struct flow *f, unsigned nbits, unsigned nints)
{
    struct detect_flow *d = f->detect;
    if (d == NULL) {
        d = calloc(1, sizeof(*d));
        if (d == NULL)
            return NULL;
        f->detect = d;
    }
    if (nbits > d->nbits) {
        unsigned words = (nbits + 63) / 64;
        uint64_t *b = realloc(d->bits, words * sizeof(*b));
        if (b == NULL)
            return NULL;
        memset(b + (d->nbits + 63) / 64, 0, (words - (d->nbits + 63) / 64) * sizeof(*b));
        d->bits = b;
        d->nbits = words * 64;
    }
    if (nints > d->nints) {
        int64_t *v = realloc(d->ints, nints * sizeof(*v));
        if (v != NULL)
            d->ints = v;
        uint8_t *s = realloc(d->int_set, nints);
        if (s != NULL)
            d->int_set = s;
        if (v == NULL || s == NULL)
            return NULL;
        memset(d->ints + d->nints, 0, (nints - d->nints) * sizeof(*v));
        memset(d->int_set + d->nints, 0, nints - d->nints);
        d->nints = nints;
    }
    return d;
}

void detect_flow_free(struct flow *f)
{
    struct detect_flow *d = f->detect;
    if (d == NULL)
        return;
    free(d->bits);
    free(d->ints);
    free(d->int_set);
    free(d->carry[0].v);
    free(d->carry[1].v);
    free(d);
    f->detect = NULL;
}

static int bit_get(const struct detect_flow *d, uint32_t bit)
{
    return d && bit < d->nbits && (d->bits[bit / 64] >> (bit % 64)) & 1;
}

/* The addresses an xbit is tracked by; a pair is ordered so both directions agree. */
static void xb_key(const struct bit_op *op, const struct vg_packet *p, struct vg_addr *a,
                   struct vg_addr *b)
{
    memset(a, 0, sizeof(*a));
    memset(b, 0, sizeof(*b));
    switch (op->track) {
    case TRACK_IP_SRC:
        *a = p->src;
        break;
    case TRACK_IP_DST:
        *a = p->dst;
        break;
    case TRACK_IP_PAIR:
        if (memcmp(&p->src, &p->dst, sizeof(p->src)) <= 0) {
            *a = p->src;
            *b = p->dst;
        } else {
            *a = p->dst;
            *b = p->src;
        }
        break;
    }
}

static struct xb_entry **xb_find(struct xb_table *t, uint32_t bit, uint8_t track, uint8_t ver,
                                 const struct vg_addr *a, const struct vg_addr *b)
{
    struct {
        uint32_t bit;
        uint8_t track, ver, pad[2];
        struct vg_addr a, b;
    } k;
    memset(&k, 0, sizeof(k));
    k.bit = bit;
    k.track = track;
    k.ver = ver;
    k.a = *a;
    k.b = *b;
    struct xb_entry **pp = &t->buckets[XXH3_64bits(&k, sizeof(k)) % XB_BUCKETS];
    while (*pp && !((*pp)->bit == bit && (*pp)->track == track && (*pp)->ver == ver &&
                    memcmp(&(*pp)->a, a, sizeof(*a)) == 0 && memcmp(&(*pp)->b, b, sizeof(*b)) == 0))
        pp = &(*pp)->next;
    return pp;
}

static int xb_isset(struct detect_engine *e, const struct bit_op *op, uint32_t bit,
                    const struct vg_packet *p)
{
    struct xb_table *t = e->xbits_table;
    if (t == NULL)
        return 0;
    struct vg_addr a, b;
    xb_key(op, p, &a, &b);
    pthread_mutex_lock(&e->xbits_lock);
    struct xb_entry **pp = xb_find(t, bit, op->track, p->ip_ver, &a, &b);
    int set = *pp != NULL && (*pp)->expires > p->ts;
    pthread_mutex_unlock(&e->xbits_lock);
    return set;
}

static void xb_apply(struct detect_engine *e, const struct bit_op *op, const struct vg_packet *p)
{
    pthread_mutex_lock(&e->xbits_lock);
    struct xb_table *t = e->xbits_table;
    if (t == NULL && (t = e->xbits_table = calloc(1, sizeof(*t))) == NULL) {
        pthread_mutex_unlock(&e->xbits_lock);
        return;
    }
    struct vg_addr a, b;
    xb_key(op, p, &a, &b);
    for (unsigned i = 0; i < op->n; i++) {
        struct xb_entry **pp = xb_find(t, op->bits[i], op->track, p->ip_ver, &a, &b);
        int set = *pp != NULL && (*pp)->expires > p->ts;
        int want = op->cmd == BIT_SET || (op->cmd == BIT_TOGGLE && !set);
        if (want) {
            if (*pp == NULL && t->n < XB_MAX) {
                struct xb_entry *n = calloc(1, sizeof(*n));
                if (n != NULL) {
                    n->bit = op->bits[i];
                    n->track = op->track;
                    n->ver = p->ip_ver;
                    n->a = a;
                    n->b = b;
                    *pp = n;
                    t->n++;
                }
            }
            if (*pp != NULL)
                (*pp)->expires = p->ts + (vg_time_t)op->expire * VG_USEC_PER_SEC;
        } else if (*pp != NULL) {
            struct xb_entry *d = *pp;
            *pp = d->next;
            free(d);
            t->n--;
        }
    }
    pthread_mutex_unlock(&e->xbits_lock);
}

void detect_xbits_free(struct detect_engine *e)
{
    struct xb_table *t = e->xbits_table;
    if (t == NULL)
        return;
    for (unsigned i = 0; i < XB_BUCKETS; i++) {
        struct xb_entry *x = t->buckets[i];
        while (x) {
            struct xb_entry *n = x->next;
            free(x);
            x = n;
        }
    }
    free(t);
    e->xbits_table = NULL;
}

static int cmp_range(int64_t v, uint8_t op, int64_t t)
{
    switch (op) {
    case RANGE_EQ:
        return v == t;
    case RANGE_NE:
        return v != t;
    case RANGE_LT:
        return v < t;
    case RANGE_GT:
        return v > t;
    case RANGE_LE:
        return v <= t;
    case RANGE_GE:
        return v >= t;
    default:
        return 0;
    }
}

int detect_bits_check(struct detect_engine *e, const struct sig *s, struct flow *f,
                      const struct vg_packet *p)
{
    const struct detect_flow *d = f ? f->detect : NULL;
    for (unsigned i = 0; i < s->nfb; i++) {
        const struct bit_op *op = &s->fb[i];
        if (op->cmd != BIT_ISSET && op->cmd != BIT_ISNOTSET)
            continue;
        if (f == NULL)
            return 0;
        int any = 0, all = 1;
        for (unsigned k = 0; k < op->n; k++) {
            int set = bit_get(d, op->bits[k]);
            any |= set;
            all &= set;
        }
        int set = op->any ? any : all;
        if (op->cmd == BIT_ISSET ? !set : (op->any ? all : any))
            return 0;
    }
    for (unsigned i = 0; i < s->nxb; i++) {
        const struct bit_op *op = &s->xb[i];
        if (op->cmd != BIT_ISSET && op->cmd != BIT_ISNOTSET)
            continue;
        int any = 0, all = 1;
        for (unsigned k = 0; k < op->n; k++) {
            int set = xb_isset(e, op, op->bits[k], p);
            any |= set;
            all &= set;
        }
        int set = op->any ? any : all;
        if (op->cmd == BIT_ISSET ? !set : (op->any ? all : any))
            return 0;
    }
    for (unsigned i = 0; i < s->nfi; i++) {
        const struct int_op *op = &s->fi[i];
        if (op->cmd != INT_ISSET && op->cmd != INT_NOTSET && op->cmd != INT_CMP)
            continue;
        if (f == NULL)
            return 0;
        int set = d && op->var < d->nints && d->int_set[op->var];
        if (op->cmd == INT_ISSET && !set)
            return 0;
        if (op->cmd == INT_NOTSET && set)
            return 0;
        if (op->cmd == INT_CMP) {
            if (!set)
                return 0;
            int64_t other = op->value;
            if (op->value_var >= 0) {
                if (!(d && (unsigned)op->value_var < d->nints && d->int_set[op->value_var]))
                    return 0;
                other = d->ints[op->value_var];
            }
            if (!cmp_range(d->ints[op->var], op->op, other))
                return 0;
        }
    }
    return 1;
}

void detect_bits_apply(struct detect_engine *e, const struct sig *s, struct flow *f,
                       const struct vg_packet *p)
{
    for (unsigned i = 0; i < s->nxb; i++)
        if (s->xb[i].cmd == BIT_SET || s->xb[i].cmd == BIT_UNSET || s->xb[i].cmd == BIT_TOGGLE)
            xb_apply(e, &s->xb[i], p);
    if (f == NULL)
        return;
    for (unsigned i = 0; i < s->nfb; i++) {
        const struct bit_op *op = &s->fb[i];
        if (op->cmd != BIT_SET && op->cmd != BIT_UNSET && op->cmd != BIT_TOGGLE)
            continue;
        struct detect_flow *d = detect_flow_get(f, e->flowbits.n, 0);
        if (d == NULL)
            return;
        for (unsigned k = 0; k < op->n; k++) {
            uint32_t b = op->bits[k];
            uint64_t m = 1ULL << (b % 64);
            if (op->cmd == BIT_SET)
                d->bits[b / 64] |= m;
            else if (op->cmd == BIT_UNSET)
                d->bits[b / 64] &= ~m;
            else
                d->bits[b / 64] ^= m;
        }
    }
    for (unsigned i = 0; i < s->nfi; i++) {
        const struct int_op *op = &s->fi[i];
        if (op->cmd != INT_SET && op->cmd != INT_ADD && op->cmd != INT_SUB)
            continue;
        struct detect_flow *d = detect_flow_get(f, 0, e->flowints.n);
        if (d == NULL)
            return;
        int64_t v = op->value;
        if (op->value_var >= 0)
            v = (unsigned)op->value_var < d->nints ? d->ints[op->value_var] : 0;
        if (op->cmd == INT_SET)
            d->ints[op->var] = v;
        else if (op->cmd == INT_ADD)
            d->ints[op->var] = (d->int_set[op->var] ? d->ints[op->var] : 0) + v;
        else
            d->ints[op->var] = (d->int_set[op->var] ? d->ints[op->var] : 0) - v;
        d->int_set[op->var] = 1;
    }
}
