/* detect-tx.c: inspects application transactions: each rule once, when the buffers it reads are
 * complete. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include "detect-internal.h"

/* What the engine remembers of a transaction. */
struct tx_state {
    const struct detect_engine *e; /* the engine whose rule indices these are */
    uint8_t scanned[DB__COUNT];    /* bit per direction: the buffer was prefiltered */
    uint32_t *done;                /* rules evaluated on this transaction */
    unsigned ndone, cdone;
    uint32_t *pending; /* candidates waiting for buffers */
    unsigned npending, cpending;
};

static int u32_push(uint32_t **v, unsigned *n, unsigned *cap, uint32_t x)
{
    if (*n == *cap) {
        unsigned c = *cap ? *cap * 2 : 16;
        uint32_t *nv = realloc(*v, c * sizeof(*nv));
        if (nv == NULL)
            return -1;
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = x;
    return 0;
}

void detect_tx_state_free(void **state)
{
    struct tx_state *ts = *state;
    if (ts == NULL)
        return;
    free(ts->done);
    free(ts->pending);
    free(ts);
    *state = NULL;
}

/* Is buffer id of the transaction complete in direction d? */
static int buf_ready(const struct detect_tx *tx, unsigned id, int d)
{
    const struct detect_buffer_info *bi = detect_buffer_info(id);
    if (!(bi->dirs & (1u << d)))
        return 0;
    uint8_t need = bi->progress[d] ? bi->progress[d] : DETECT_PROG_COMPLETE;
    return tx->progress[d] >= need;
}

/* The direction a rule reads buffer id in. */
static int buf_dir(const struct sig *s, unsigned id, int pkt_dir)
{
    const struct detect_buffer_info *bi = detect_buffer_info(id);
    if (bi->dirs == 1)
        return FLOW_DIR_TOSERVER;
    if (bi->dirs == 2)
        return FLOW_DIR_TOCLIENT;
    if (s->dirs == 1)
        return FLOW_DIR_TOSERVER;
    if (s->dirs == 2)
        return FLOW_DIR_TOCLIENT;
    return pkt_dir;
}

/* Every buffer s reads is complete (or the transaction is final). */
static int sig_ready(const struct sig *s, const struct detect_tx *tx, int pkt_dir, int final)
{
    if (final)
        return 1;
    for (unsigned b = 0; b < s->nbufs; b++) {
        unsigned id = s->bufs[b].id;
        if (id == DB_PAYLOAD || id == DB_BASE64_DATA)
            continue;
        if (!buf_ready(tx, id, buf_dir(s, id, pkt_dir)))
            return 0;
    }
    return 1;
}

int detect_tx_buffers_ok(struct detect_thread *t, const struct sig *s, struct detect_tx *tx,
                         const struct vg_packet *p, int dir)
{
    for (unsigned b = 0; b < s->nbufs; b++) {
        const struct sig_buf *sb = &s->bufs[b];
        if (sb->n == 0 || sb->id == DB_BASE64_DATA)
            continue;
        struct inspect_ctx c;
        memset(&c, 0, sizeof(c));
        c.t = t;
        c.sig = s;
        c.buf_id = sb->id;
        c.budget = t->e->inspection_budget;
        if (sb->id == DB_PAYLOAD) {
            c.buf = p->data + p->payload_off;
            c.len = p->payload_len;
            if (!detect_inspect_buffer(&c, sb))
                return 0;
            continue;
        }
        int d = buf_dir(s, sb->id, dir);
        int multi = detect_buffer_info(sb->id)->multi;
        int matched = 0;
        for (unsigned idx = 0; idx < (multi ? 256u : 1u) && !matched; idx++) {
            uint32_t len = 0;
            const uint8_t *data = tx->get(tx->txp, sb->id, d, idx, &len);
            if (data == NULL) {
                if (idx > 0)
                    break;
                data = (const uint8_t *)"";
                len = 0;
            }
            /* Transformed data never takes the Hyperscan pcre shortcut (no hs_id there). */
            if (sb->transforms)
                len = detect_transform(t, sb->transforms, data, len, &data);
            c.buf = data;
            c.len = len;
            c.budget = t->e->inspection_budget;
            matched = detect_inspect_buffer(&c, sb);
        }
        if (!matched)
            return 0;
    }
    return 1;
}

void detect_tx(struct detect_thread *t, const struct vg_packet *p, struct flow *f, int dir,
               struct detect_tx *tx, int final, detect_alert_fn cb, void *ctx)
{
    struct detect_engine *e = t->e;
    struct tx_state *ts = *tx->state;
    if (ts == NULL) {
        if ((ts = calloc(1, sizeof(*ts))) == NULL)
            return;
        *tx->state = ts;
    }
    if (ts->e != e) {
        /* New, or the rules were reloaded since: start over with this engine's indices. */
        ts->e = e;
        memset(ts->scanned, 0, sizeof(ts->scanned));
        ts->ndone = ts->npending = 0;
    }
    t->gen++;
    VG_CNT_INC(t->st.txs_inspected);
    /* t->txmark[si] == stamp: rule si is done or pending on this transaction. */
    uint32_t stamp = detect_txmark_begin(t);
    for (unsigned i = 0; i < ts->ndone; i++)
        t->txmark[ts->done[i]] = stamp;
    for (unsigned i = 0; i < ts->npending; i++)
        t->txmark[ts->pending[i]] = stamp;
    unsigned npending_before = ts->npending;

    /* Prefilter every buffer of this protocol that became complete, once per direction. */
    for (unsigned id = 1; id < DB__COUNT; id++) {
        const struct detect_buffer_info *bi = detect_buffer_info(id);
        if (id == DB_BASE64_DATA || (bi->app_proto != tx->app_proto && id != DB_FILE_DATA))
            continue;
        for (int d = 0; d < 2; d++) {
            if ((ts->scanned[id] >> d) & 1)
                continue;
            if (!buf_ready(tx, id, d) && !(final && (bi->dirs & (1u << d))))
                continue;
            ts->scanned[id] |= (uint8_t)(1u << d);
            const struct prefilter_dir *pf = detect_prefilter_dir(e, id, d, PCLASS__COUNT);
            if (pf->npat == 0 && pf->nalways == 0)
                continue;
            for (unsigned idx = 0; idx < (bi->multi ? 256u : 1u); idx++) {
                uint32_t len = 0;
                const uint8_t *data = tx->get(tx->txp, id, d, idx, &len);
                if (data == NULL && idx > 0)
                    break;
                detect_prefilter_scan(t, id, d, PCLASS__COUNT, data ? data : (const uint8_t *)"",
                                      data ? len : 0);
                for (unsigned i = 0; i < t->ncand; i++) {
                    uint32_t si = t->cand[i];
                    const struct sig *s = e->sigs[si];
                    if (!s->is_tx || (s->app_proto != APP_UNKNOWN && s->app_proto != tx->app_proto))
                        continue;
                    if (t->txmark[si] != stamp &&
                        u32_push(&ts->pending, &ts->npending, &ts->cpending, si) == 0)
                        t->txmark[si] = stamp;
                }
            }
        }
    }

    /* Evaluate the candidates whose buffers are all there, in rule order. */
    if (ts->npending > npending_before)
        detect_sort_u32(ts->pending, ts->npending, t->cand_tmp, e->nsigs);
    unsigned keep = 0;
    for (unsigned i = 0; i < ts->npending; i++) {
        uint32_t si = ts->pending[i];
        const struct sig *s = e->sigs[si];
        if (!((s->dirs >> dir) & 1) || !sig_ready(s, tx, dir, final)) {
            if (!final)
                ts->pending[keep++] = si;
            continue;
        }
        u32_push(&ts->done, &ts->ndone, &ts->cdone, si);
        VG_CNT_INC(t->rs[si].checks);
        VG_CNT_INC(t->st.rules_checked);
        uint64_t t0 = e->profiling ? __rdtsc() : 0;
        if (detect_header_ok(s, p, f, dir, 0) && (s->ngeo == 0 || detect_geoip_ok(t, s, p)) &&
            detect_tx_buffers_ok(t, s, tx, p, dir) && detect_bits_check(e, s, f, p))
            detect_raise_alert(t, s, p, f, dir, 1, tx->id, 0, cb, ctx);
        if (e->profiling)
            VG_CNT_ADD(t->rs[si].ticks, __rdtsc() - t0);
    }
    ts->npending = keep;
}
