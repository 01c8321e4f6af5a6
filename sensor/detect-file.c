/* detect-file.c: inspects a tracked file with the file rules: name, magic, size, hashes, filestore.
 */
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include "detect-internal.h"

/* What detect_file keeps per transaction: the file rules that matched one of its files in
 * each direction (rule index << 1 | direction). */
struct file_tx_state {
    uint32_t *matched;
    unsigned n, cap;
};

void detect_file_state_free(void **state)
{
    struct file_tx_state *st = *state;
    if (st == NULL)
        return;
    free(st->matched);
    free(st);
    *state = NULL;
}

int detect_wants_files(const struct detect_thread *t)
{
    return t->e->nfile_rules > 0;
}

int detect_wants_file_magic(const struct detect_thread *t)
{
    return t->e->file_magic;
}

static int has_matched(const struct file_tx_state *st, uint32_t key)
{
    for (unsigned i = 0; st != NULL && i < st->n; i++)
        if (st->matched[i] == key)
            return 1;
    return 0;
}

static void note_matched(struct detect_tx *tx, uint32_t key)
{
    if (tx == NULL || tx->state == NULL)
        return;
    struct file_tx_state *st = *tx->state;
    if (st == NULL && (st = *tx->state = calloc(1, sizeof(*st))) == NULL)
        return;
    if (st->n == st->cap) {
        unsigned c = st->cap ? st->cap * 2 : 8;
        uint32_t *v = realloc(st->matched, c * sizeof(*v));
        if (v == NULL)
            return;
        st->matched = v;
        st->cap = c;
    }
    st->matched[st->n++] = key;
}

/* The buffers a file rule reads: the file's name and magic, the rest from its transaction. */
struct file_bufs {
    const struct detect_file *df;
    struct detect_tx *tx;
};

static const uint8_t *file_get(void *txp, unsigned b, int dir, unsigned idx, uint32_t *len)
{
    const struct file_bufs *fb = txp;
    if (b == DB_FILE_NAME || b == DB_FILE_MAGIC) {
        if (idx > 0)
            return NULL;
        if (b == DB_FILE_NAME) {
            *len = fb->df->name_len;
            return fb->df->name != NULL ? fb->df->name : (const uint8_t *)"";
        }
        *len = fb->df->magic ? (uint32_t)strlen(fb->df->magic) : 0;
        return (const uint8_t *)fb->df->magic;
    }
    if (fb->tx == NULL || fb->tx->get == NULL)
        return NULL;
    return fb->tx->get(fb->tx->txp, b, dir, idx, len);
}

/* filesize as Suricata checks it: on a complete file any comparison; on a truncated one only
 * "greater than", the one thing known of a file seen in part. */
static int size_ok(const struct sig_file *fl, const struct detect_file *df)
{
    for (unsigned i = 0; i < fl->nsize; i++) {
        const struct sm_range *r = &fl->size[i];
        if (df->truncated && r->op != RANGE_GT && r->op != RANGE_GE)
            return 0;
        if (!detect_range_match(r, df->size))
            return 0;
    }
    return 1;
}

/* The file's hash of hlen bytes into out; 0, or -1 if it has none (not closed). */
static int file_digest(const struct detect_file *df, unsigned hlen, uint8_t *out)
{
    const char *hex = hlen == 16 ? df->md5 : hlen == 20 ? df->sha1 : df->sha256;
    if (hex == NULL || strlen(hex) != 2 * hlen)
        return -1;
    for (unsigned i = 0; i < hlen; i++) {
        int hi = vg_hexval((unsigned char)hex[2 * i]), lo = vg_hexval((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static int in_list(const struct hash_list *h, const uint8_t *d)
{
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(h->v + mid * h->hlen, d, h->hlen);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* filemd5/sha1/sha256: a file without the hash (not closed) matches neither way, as in
 * Suricata; otherwise in the list (not in it, negated). */
static int hashes_ok(const struct sig_file *fl, const struct detect_file *df)
{
    for (unsigned i = 0; i < fl->nhash; i++) {
        uint8_t d[32];
        if (file_digest(df, fl->hash[i].list->hlen, d) < 0)
            return 0;
        if (in_list(fl->hash[i].list, d) == fl->hash[i].negated)
            return 0;
    }
    return 1;
}

int detect_sig_uses_magic(const struct sig *s)
{
    for (unsigned b = 0; b < s->nbufs; b++)
        if (s->bufs[b].id == DB_FILE_MAGIC && s->bufs[b].n > 0)
            return 1;
    return 0;
}

/* The DETECT_FILE_STORE_* bits filestore of s asks for, on file df. */
static unsigned store_bits(const struct sig_file *fl, const struct detect_file *df)
{
    if (!fl->store)
        return 0;
    unsigned ts = fl->store_dirs & 1, tc = (fl->store_dirs >> 1) & 1;
    switch (fl->store_scope) {
    case FSCOPE_TX:
        return (ts ? DETECT_FILE_STORE_TX_TS : 0) | (tc ? DETECT_FILE_STORE_TX_TC : 0);
    case FSCOPE_FLOW:
        return (ts ? DETECT_FILE_STORE_FLOW_TS : 0) | (tc ? DETECT_FILE_STORE_FLOW_TC : 0);
    default:
        return ((fl->store_dirs >> df->dir) & 1) ? DETECT_FILE_STORE : 0;
    }
}

unsigned detect_file(struct detect_thread *t, const struct vg_packet *p, struct flow *f,
                     const struct detect_file *df, struct detect_tx *tx, detect_alert_fn cb,
                     void *ctx)
{
    struct detect_engine *e = t->e;
    if (e->nfile_rules == 0 || p == NULL || (df->dir != 0 && df->dir != 1))
        return 0;
    t->gen++;
    struct file_bufs fb = {df, tx};
    struct detect_tx view = {df->tx_id,
                             tx ? tx->app_proto : 0,
                             {DETECT_PROG_COMPLETE, DETECT_PROG_COMPLETE},
                             file_get,
                             &fb,
                             NULL};
    const struct file_tx_state *st = tx && tx->state ? *tx->state : NULL;
    unsigned out = 0;
    for (unsigned i = 0; i < e->nfile_rules; i++) {
        uint32_t si = e->file_rules[i];
        const struct sig *s = e->sigs[si];
        const struct sig_file *fl = s->fl;
        if (fl->at_close != (df->closed != 0) || !((s->dirs >> df->dir) & 1))
            continue;
        VG_CNT_INC(t->rs[si].checks);
        VG_CNT_INC(t->st.rules_checked);
        uint64_t t0 = e->profiling ? __rdtsc() : 0;
        int ok = detect_header_ok(s, p, f, df->dir, 0) &&
                 (s->ngeo == 0 || detect_geoip_ok(t, s, p)) && size_ok(fl, df) &&
                 hashes_ok(fl, df) && (df->magic != NULL || !detect_sig_uses_magic(s)) &&
                 detect_tx_buffers_ok(t, s, &view, p, df->dir) && detect_bits_check(e, s, f, p);
        if (ok) {
            out |= store_bits(fl, df);
            /* Once per transaction and direction, as Suricata's stateful detection: a second
             * file of the same one is stored if filestore asks, but does not alert again. */
            uint32_t key = si << 1 | (uint32_t)df->dir;
            if (!has_matched(st, key)) {
                uint64_t before = VG_CNT_GET(t->st.alerts);
                t->cur_file = df->handle;
                detect_raise_alert(t, s, p, f, df->dir, 1, df->tx_id, 0, cb, ctx);
                t->cur_file = NULL;
                if (VG_CNT_GET(t->st.alerts) != before)
                    out |= DETECT_FILE_ALERTED;
                note_matched(tx, key);
                st = tx && tx->state ? *tx->state : NULL;
            }
        }
        if (e->profiling)
            VG_CNT_ADD(t->rs[si].ticks, __rdtsc() - t0);
    }
    return out;
}
