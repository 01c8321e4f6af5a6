/* detect-stream.c: inspects reassembled TCP data, scanning each stream byte for literals once. */
#include <stdlib.h>
#include <string.h>

#include "detect-internal.h"

/*
 * Each call gets a window: up to stream-lookback bytes seen before, then the new bytes. A rule
 * may match across the boundary (its fast pattern in the old bytes, a later content in the new
 * ones), so the rules whose fast pattern occurs anywhere in the window are candidates. Instead
 * of scanning the old bytes again, the literals found in them are carried in the flow
 * (struct stream_carry, with the stream offset where the scan that found them ended): a call
 * scans only the new bytes plus the last max_lit - 1 old ones (for a literal that straddles the
 * boundary) and adds the carried rules still inside the window. The candidates are the same
 * as a scan of the whole window would give. The regex prefilter, whose matches have no bounded
 * length, and the always-checked rules are still taken over the whole window; a list that
 * grew too long, or belongs to a replaced engine, falls back to a whole-window scan.
 */

#define CARRY_MAX 1024

/* Adds the carried rules still inside the window starting at base, then the fresh ones found
 * in this scan (t->cand[0..nfresh), ending at until). Returns 0, or -1 if the list is full. */
static int carry_update(struct detect_thread *t, struct stream_carry *c, unsigned nfresh,
                        uint64_t base, uint64_t until)
{
    unsigned keep = 0;
    for (unsigned i = 0; i < c->n; i++) {
        struct carry_ent x = c->v[i];
        if (x.until <= base || t->mark[x.sig] == t->stamp)
            continue; /* out of the window, or found again just now */
        c->v[keep++] = x;
        detect_prefilter_add(t, x.sig);
    }
    c->n = keep;
    if (c->n + nfresh > CARRY_MAX)
        return -1;
    if (c->n + nfresh > c->cap) {
        unsigned cap = c->cap ? c->cap : 32;
        while (cap < c->n + nfresh)
            cap *= 2;
        struct carry_ent *v = realloc(c->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        c->v = v;
        c->cap = cap;
    }
    for (unsigned i = 0; i < nfresh; i++) {
        c->v[c->n].sig = t->cand[i];
        c->v[c->n].until = until;
        c->n++;
    }
    return 0;
}

/* Collects the candidates for the window into t->cand, through carry c when there is one. */
static void collect(struct detect_thread *t, const struct vg_packet *p, int dir,
                    struct stream_carry *c, const uint8_t *win, uint32_t len, uint64_t base,
                    uint32_t new_from)
{
    const struct prefilter_dir *pf = detect_prefilter_dir(t->e, DB_PAYLOAD, dir, PCLASS_TCP);
    if (c != NULL && c->e != t->e) {
        c->e = t->e;
        c->n = 0;
        c->full = 1;
    }
    uint32_t from = 0;
    if (c != NULL && !c->full && pf->max_lit > 0)
        from = new_from > pf->max_lit - 1 ? new_from - (pf->max_lit - 1) : 0;
    detect_prefilter_begin(t);
    detect_prefilter_literals(t, DB_PAYLOAD, dir, PCLASS_TCP, win + from, len - from);
    detect_prefilter_regexes(t, DB_PAYLOAD, dir, PCLASS_TCP, win, len);
    unsigned nfresh = t->ncand;
    if (c != NULL) {
        c->full = 0;
        if (carry_update(t, c, nfresh, base, base + len) < 0) {
            c->n = 0;
            c->full = 1;
        }
    }
    if (p->pcap_cnt != 0 && p->payload_len > 0 && p->payload_len == len - new_from &&
        memcmp(p->data + p->payload_off, win + new_from, p->payload_len) == 0) {
        /* The new bytes are this packet's payload: what was found in them (and around them)
         * is a superset of what a scan of the payload alone finds. */
        memcpy(t->pkt_cand, t->cand, nfresh * sizeof(*t->cand));
        t->npkt_cand = nfresh;
        t->pkt = p;
        t->pkt_cnt = p->pcap_cnt;
    }
    detect_prefilter_always(t, DB_PAYLOAD, dir, PCLASS_TCP); /* stream data is TCP's */
    detect_prefilter_end(t);
}

void detect_stream(struct detect_thread *t, const struct vg_packet *p, struct flow *f, int dir,
                   const uint8_t *win, uint32_t len, uint64_t base, uint32_t new_from,
                   detect_alert_fn cb, void *ctx)
{
    struct detect_engine *e = t->e;
    t->gen++;
    detect_stamp_packet(t, p);
    VG_CNT_INC(t->st.streams_inspected);
    struct detect_flow *df = f != NULL && (dir == 0 || dir == 1) ? detect_flow_get(f, 0, 0) : NULL;
    collect(t, p, dir, df ? &df->carry[dir] : NULL, win, len, base, new_from);
    for (unsigned i = 0; i < t->ncand; i++) {
        const struct sig *s = e->sigs[t->cand[i]];
        if (s->is_tx || s->pkt_only || (s->flow & FK_NO_STREAM) || s->has_dsize)
            continue; /* a rule with dsize looks at packets only */
        detect_check_sig(t, s, p, f, dir, win, len, base, new_from, 1, cb, ctx);
    }
}
