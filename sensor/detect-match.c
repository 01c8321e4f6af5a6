/* detect-match.c: runs a rule's items over one buffer: content positions, pcre, byte_*, isdataat.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <emmintrin.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "detect-internal.h"

#define B64_MAX 65536

static inline uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c | 0x20) : c;
}

/* n[0..len) equals h[0..len), ASCII letters compared without case when nocase. */
static inline int same(const uint8_t *h, const uint8_t *n, uint32_t len, int nocase)
{
    if (!nocase)
        return memcmp(h, n, len) == 0;
    for (uint32_t k = 0; k < len; k++)
        if (lower(h[k]) != lower(n[k]))
            return 0;
    return 1;
}

/*
 * First occurrence of n in h, or NULL. Sixteen positions at a time (SSE2): a position is a
 * candidate when the pattern's first and last bytes are there (the case bit ignored for letters
 * under nocase), and only candidates are compared in full.
 */
static const uint8_t *find(const uint8_t *h, uint32_t hlen, const uint8_t *n, uint32_t nlen,
                           int nocase)
{
    if (nlen == 0 || hlen < nlen)
        return NULL;
    uint8_t f = nocase ? lower(n[0]) : n[0], l = nocase ? lower(n[nlen - 1]) : n[nlen - 1];
    uint8_t fm = nocase && f >= 'a' && f <= 'z' ? 0x20 : 0;
    uint8_t lm = nocase && l >= 'a' && l <= 'z' ? 0x20 : 0;
    uint32_t i = 0;
    if (hlen >= nlen + 15) {
        const __m128i F = _mm_set1_epi8((char)f), L = _mm_set1_epi8((char)l);
        const __m128i FM = _mm_set1_epi8((char)fm), LM = _mm_set1_epi8((char)lm);
        for (; i + nlen + 15 <= hlen; i += 16) {
            __m128i a = _mm_loadu_si128((const __m128i *)(h + i));
            __m128i b = _mm_loadu_si128((const __m128i *)(h + i + nlen - 1));
            __m128i eq = _mm_and_si128(_mm_cmpeq_epi8(_mm_or_si128(a, FM), F),
                                       _mm_cmpeq_epi8(_mm_or_si128(b, LM), L));
            unsigned mask = (unsigned)_mm_movemask_epi8(eq);
            while (mask != 0) {
                unsigned bit = (unsigned)__builtin_ctz(mask);
                if (nlen <= 2 || same(h + i + bit + 1, n + 1, nlen - 2, nocase))
                    return h + i + bit;
                mask &= mask - 1;
            }
        }
    }
    for (; i + nlen <= hlen; i++)
        if ((h[i] | fm) == f && (h[i + nlen - 1] | lm) == l &&
            (nlen <= 2 || same(h + i + 1, n + 1, nlen - 2, nocase)))
            return h + i;
    return NULL;
}

/* First occurrence of content m in buf[from..to), or -1. */
static int64_t search(const struct sm *m, const uint8_t *buf, uint32_t from, uint32_t to)
{
    if (to <= from || to - from < m->c.len)
        return -1;
    const uint8_t *r =
        find(buf + from, to - from, m->c.pat, m->c.len, (m->flags & SM_F_NOCASE) != 0);
    return r ? (int64_t)(r - buf) : -1;
}

static inline int64_t num(const struct inspect_ctx *c, const struct sm_num *n)
{
    return n->var >= 0 ? c->vars[(int)n->var] : n->value;
}

/* Do any items after i depend on where the item before them matched? */
static int later_relative(const struct sig_buf *b, unsigned i)
{
    for (unsigned k = i + 1; k < b->n; k++)
        if (b->items[k].flags & SM_F_RELATIVE)
            return 1;
    return 0;
}

/* Reads nbytes at buf[pos] as a number (binary or text). 0, or -1 if it cannot. */
static int extract(const struct sm_byte *b, const uint8_t *buf, uint32_t len, int64_t pos,
                   uint64_t *out)
{
    if (b->nbytes == 0 || pos < 0 || (uint64_t)pos + b->nbytes > len)
        return -1;
    const uint8_t *p = buf + pos;
    if (b->flags & BF_STRING) {
        char tmp[32];
        memcpy(tmp, p, b->nbytes);
        tmp[b->nbytes] = '\0';
        int base = (b->flags & BF_HEX) ? 16 : (b->flags & BF_OCT) ? 8 : 10;
        char *end;
        unsigned long long v = strtoull(tmp, &end, base);
        if (end == tmp)
            return -1;
        *out = v;
        return 0;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < b->nbytes; i++) {
        unsigned k = (b->flags & BF_LITTLE) ? b->nbytes - 1 - i : i;
        v = (v << 8) | p[k];
    }
    *out = v;
    return 0;
}

static uint64_t apply_mask(uint64_t v, uint64_t mask)
{
    if (mask == 0)
        return v;
    v &= mask;
    while ((mask & 1) == 0) {
        mask >>= 1;
        v >>= 1;
    }
    return v;
}

static int byte_test(const struct inspect_ctx *c, const struct sm *m, uint32_t prev_end)
{
    const struct sm_byte *b = &m->b;
    int64_t pos = num(c, &b->offset) + ((m->flags & SM_F_RELATIVE) ? prev_end : 0);
    uint64_t v;
    if (extract(b, c->buf, c->len, pos, &v) < 0)
        return 0;
    v = apply_mask(v, b->bitmask);
    uint64_t t = (uint64_t)num(c, &b->value);
    int r;
    switch (b->op) {
    case BOP_LT:
        r = v < t;
        break;
    case BOP_GT:
        r = v > t;
        break;
    case BOP_EQ:
        r = v == t;
        break;
    case BOP_LE:
        r = v <= t;
        break;
    case BOP_GE:
        r = v >= t;
        break;
    case BOP_AND:
        r = (v & t) != 0;
        break;
    case BOP_XOR:
        r = (v ^ t) != 0;
        break;
    default:
        r = 0;
    }
    return (b->flags & BF_NEGATE_OP) ? !r : r;
}

/* Scans buffer id's Hyperscan pcre database once per inspection and remembers the ids hit. */
static int on_pcre_hit(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                       void *ctx)
{
    (void)from;
    (void)to;
    (void)flags;
    struct detect_thread *t = ctx;
    if (id < t->pcre_cap)
        t->pcre_hit[id] = 1;
    return 0;
}

static int hs_pcre_matched(struct inspect_ctx *c, const struct sm_pcre *p)
{
    struct detect_thread *t = c->t;
    const struct prefilter *pf = &t->e->pf[c->buf_id];
    if (t->pcre_gen != t->gen || t->pcre_data != c->buf || t->pcre_len != c->len ||
        t->pcre_buf != c->buf_id) {
        memset(t->pcre_hit, 0, pf->npcre);
        hs_scan(pf->pcre, (const char *)c->buf, c->len, 0, t->scratch, on_pcre_hit, t);
        t->pcre_gen = t->gen;
        t->pcre_data = c->buf;
        t->pcre_len = c->len;
        t->pcre_buf = c->buf_id;
    }
    return t->pcre_hit[p->hs_id];
}

/*
 * Returns 1 on a match, 0 on no match (an earlier content may try its next occurrence), or -1
 * on no match that ends the inspection, as Suricata's "no_match_discontinue": a negated
 * content or pcre that is found does not make earlier items search further.
 */
static int inspect(struct inspect_ctx *c, const struct sig_buf *b, unsigned i, uint32_t prev_end,
                   uint32_t max_end);

/* Decodes base64 at the given place and runs the rule's base64_data items on the result. */
static int base64_step(struct inspect_ctx *c, const struct sm *m, uint32_t prev_end)
{
    int64_t start = m->b.offset.value + ((m->flags & SM_F_RELATIVE) ? prev_end : 0);
    if (start < 0 || start >= c->len)
        return 0;
    uint32_t n = c->len - (uint32_t)start;
    if (m->b.value.value > 0 && (uint64_t)m->b.value.value < n)
        n = (uint32_t)m->b.value.value;
    if (c->t->b64buf == NULL && (c->t->b64buf = malloc(B64_MAX + 64)) == NULL)
        return 0;
    /* Decode the longest run of base64 characters (RFC 2045 lenient: whitespace skipped). */
    uint32_t run = 0;
    while (run < n && (isalnum(c->buf[start + run]) || c->buf[start + run] == '+' ||
                       c->buf[start + run] == '/' || c->buf[start + run] == '=' ||
                       isspace(c->buf[start + run])))
        run++;
    if (run > B64_MAX / 3 * 4)
        run = B64_MAX / 3 * 4;
    EVP_ENCODE_CTX *ectx = EVP_ENCODE_CTX_new();
    if (ectx == NULL)
        return 0;
    int outl = 0, fin = 0;
    EVP_DecodeInit(ectx);
    if (EVP_DecodeUpdate(ectx, c->t->b64buf, &outl, c->buf + start, (int)run) < 0)
        outl = 0;
    else if (EVP_DecodeFinal(ectx, c->t->b64buf + outl, &fin) >= 0)
        outl += fin;
    EVP_ENCODE_CTX_free(ectx);
    const struct sig_buf *db = NULL;
    for (unsigned k = 0; k < c->sig->nbufs; k++)
        if (c->sig->bufs[k].id == DB_BASE64_DATA)
            db = &c->sig->bufs[k];
    if (db == NULL)
        return outl > 0;
    struct inspect_ctx sub = *c;
    sub.buf = c->t->b64buf;
    sub.len = (uint32_t)outl;
    sub.base = 0;
    sub.min_end = 0;
    sub.buf_id = DB_BASE64_DATA;
    int r = inspect(&sub, db, 0, 0, 0);
    c->budget = sub.budget;
    return r > 0;
}

static int inspect(struct inspect_ctx *c, const struct sig_buf *b, unsigned i, uint32_t prev_end,
                   uint32_t max_end)
{
    if (i == b->n)
        return c->min_end == 0 || max_end > c->min_end;
    if (c->budget == 0) {
        c->limit_hit = 1;
        return 0;
    }
    c->budget--;
    const struct sm *m = &b->items[i];
    const uint8_t *buf = c->buf;
    uint32_t len = c->len;

    switch (m->type) {
    case SM_CONTENT: {
        int64_t start, end;
        if (m->flags & SM_F_RELATIVE) {
            int64_t dist = (m->flags & SM_F_HAS_DISTANCE) ? num(c, &m->c.distance) : 0;
            start = (int64_t)prev_end + dist;
            end = (m->flags & SM_F_HAS_WITHIN) ? start + num(c, &m->c.within) : (int64_t)len;
            if (start < 0)
                start = 0;
        } else if (m->flags & SM_F_STARTSWITH) {
            start = -(int64_t)c->base;
            end = start + m->c.len;
        } else {
            /* Absolute positions count from the start of the data (of the stream). */
            int64_t off = (m->flags & SM_F_HAS_OFFSET) ? num(c, &m->c.offset) : 0;
            start = off - (int64_t)c->base;
            end = (m->flags & SM_F_HAS_DEPTH) ? start + num(c, &m->c.depth) : (int64_t)len;
        }
        /* A window (partly) before the data held (stream inspection) is cut to what is here. */
        if (start < 0)
            start = 0;
        if (end > (int64_t)len)
            end = len;
        if (m->flags & SM_F_ENDSWITH) {
            int64_t at = (int64_t)len - m->c.len;
            start = at >= start ? at : end; /* an impossible window when it cannot fit */
        }
        int64_t pos = start <= end ? search(m, buf, (uint32_t)start, (uint32_t)end) : -1;
        if (m->flags & SM_F_NEGATED)
            return pos < 0 ? inspect(c, b, i + 1, prev_end, max_end) : -1;
        int retry = later_relative(b, i) || c->min_end > 0;
        while (pos >= 0) {
            uint32_t e = (uint32_t)pos + m->c.len;
            int r = inspect(c, b, i + 1, e, VG_MAX(max_end, e));
            if (r != 0)
                return r;
            if (!retry || c->budget == 0 || (m->flags & SM_F_ENDSWITH))
                return 0;
            c->budget--;
            pos = search(m, buf, (uint32_t)pos + 1, (uint32_t)end);
        }
        return 0;
    }
    case SM_PCRE: {
        const struct sm_pcre *p = &m->p;
        uint32_t start = (m->flags & SM_F_RELATIVE) ? prev_end : 0;
        if (p->hs_id >= 0 && start == 0 && c->min_end == 0 && !later_relative(b, i) &&
            c->base == 0) {
            int hit = hs_pcre_matched(c, p);
            if (m->flags & SM_F_NEGATED)
                return hit ? -1 : inspect(c, b, i + 1, prev_end, max_end);
            return hit ? inspect(c, b, i + 1, prev_end, max_end) : 0;
        }
        /* A relative pcre sees the data from the previous match on, so ^ anchors there. */
        const uint8_t *sub = buf + start;
        uint32_t sublen = start <= len ? len - start : 0;
        uint32_t ms, me;
        int rc = detect_pcre_exec(c->t, p, sub, sublen, 0, &ms, &me);
        if (m->flags & SM_F_NEGATED)
            return rc == 0 ? inspect(c, b, i + 1, prev_end, max_end) : -1;
        int retry = later_relative(b, i) || c->min_end > 0;
        while (rc == 1) {
            uint32_t e = start + me;
            int r = inspect(c, b, i + 1, e, VG_MAX(max_end, e));
            if (r != 0)
                return r;
            if (!retry || c->budget == 0 || ms >= sublen)
                return 0;
            c->budget--;
            rc = detect_pcre_exec(c->t, p, sub, sublen, ms + 1, &ms, &me);
        }
        return 0;
    }
    case SM_BYTE_TEST:
        return byte_test(c, m, prev_end) ? inspect(c, b, i + 1, prev_end, max_end) : 0;
    case SM_BYTE_JUMP: {
        const struct sm_byte *bj = &m->b;
        int64_t pos = num(c, &bj->offset) + ((m->flags & SM_F_RELATIVE) ? prev_end : 0);
        uint64_t v;
        if (extract(bj, buf, len, pos, &v) < 0)
            return 0;
        v = apply_mask(v, bj->bitmask) * (uint64_t)bj->multiplier;
        if ((bj->flags & BF_ALIGN) && (v % 4) != 0)
            v += 4 - v % 4;
        if (v > len)
            return 0;
        int64_t from = (bj->flags & BF_FROM_BEGINNING) ? 0
                       : (bj->flags & BF_FROM_END)     ? (int64_t)len
                                                       : pos + bj->nbytes;
        int64_t np = from + (int64_t)v + bj->post_offset;
        if (np < 0 || np > (int64_t)len)
            return 0;
        return inspect(c, b, i + 1, (uint32_t)np, max_end);
    }
    case SM_BYTE_EXTRACT: {
        const struct sm_byte *be = &m->b;
        int64_t pos = num(c, &be->offset) + ((m->flags & SM_F_RELATIVE) ? prev_end : 0);
        uint64_t v;
        if (extract(be, buf, len, pos, &v) < 0)
            return 0;
        v = apply_mask(v, be->bitmask) * (uint64_t)be->multiplier;
        if ((be->flags & BF_ALIGN) && be->post_offset > 1 && v % (uint64_t)be->post_offset)
            v += (uint64_t)be->post_offset - v % (uint64_t)be->post_offset;
        int64_t saved = c->vars[(int)be->var_out];
        c->vars[(int)be->var_out] = (int64_t)v;
        int r = inspect(c, b, i + 1, (uint32_t)(pos + be->nbytes), max_end);
        if (r <= 0)
            c->vars[(int)be->var_out] = saved;
        return r;
    }
    case SM_ISDATAAT: {
        int64_t at = num(c, &m->at) + ((m->flags & SM_F_RELATIVE) ? prev_end : 0);
        int has = at >= 0 && at < (int64_t)len;
        if ((m->flags & SM_F_NEGATED) ? has : !has)
            return 0;
        return inspect(c, b, i + 1, prev_end, max_end);
    }
    case SM_BSIZE: {
        const struct sm_range *r = &m->r;
        uint64_t v = len;
        int ok;
        switch (r->op) {
        case RANGE_EQ:
            ok = v == r->a;
            break;
        case RANGE_NE:
            ok = v != r->a;
            break;
        case RANGE_LT:
            ok = v < r->a;
            break;
        case RANGE_GT:
            ok = v > r->a;
            break;
        case RANGE_LE:
            ok = v <= r->a;
            break;
        case RANGE_GE:
            ok = v >= r->a;
            break;
        case RANGE_BETWEEN:
            ok = v > r->a && v < r->b;
            break;
        default:
            ok = 0;
        }
        return ok ? inspect(c, b, i + 1, prev_end, max_end) : 0;
    }
    case SM_BASE64_DECODE:
        return base64_step(c, m, prev_end) ? inspect(c, b, i + 1, prev_end, max_end) : 0;
    default:
        return 0;
    }
}

int detect_inspect_buffer(struct inspect_ctx *c, const struct sig_buf *b)
{
    return inspect(c, b, 0, 0, 0) > 0;
}
