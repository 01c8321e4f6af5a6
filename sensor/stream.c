/* stream.c: TCP stream reassembly: ISNs, in-order delivery, overlap policies, gaps and limits. */
#include <stdlib.h>
#include <string.h>

#include "vigil/stream.h"

/* Segments further than this from the stream's next byte are ignored as out of window. */
#define STREAM_WINDOW (1u << 30)

/*
 * A queued (out-of-order) piece of data. Queued pieces never overlap one another and are kept
 * sorted; each remembers the extent of the segment its bytes came with, which is what the
 * overlap policy compares against.
 */
struct stream_seg {
    struct stream_seg *next;
    uint64_t off;        /* stream offset of the first byte held */
    uint64_t ooff, oend; /* extent of the segment that brought the data */
    uint32_t skip;       /* bytes of data[] already consumed from the front */
    uint32_t len;        /* bytes held, from data[skip] */
    uint32_t cap;        /* bytes allocated for data[] */
    uint8_t data[];
};

enum {
    SD_STARTED = 1u << 0, /* base_seq/base_off are set */
    SD_SYN = 1u << 1,     /* the ISN came from a SYN */
    SD_HINT = 1u << 2,    /* hint_seq holds the peer's first ACK number */
    SD_FIN = 1u << 3,     /* fin_off is set */
    SD_DEPTH = 1u << 4,   /* depth reached: data is no longer delivered */
    SD_EOF = 1u << 5,     /* ended, EOF delivered */
    SD_INIT = 1u << 6,    /* the ISN came from a SYN without ACK: this side opened */
    SD_TS = 1u << 7,      /* that SYN carried a TCP timestamp, syn_tsval */
};

struct stream_dir {
    struct stream_seg *head, *tail; /* queue, sorted by offset */
    uint64_t base_off;              /* every byte before this offset is delivered or skipped */
    uint64_t fin_off;               /* offset of the FIN */
    uint32_t base_seq;              /* sequence number of base_off */
    uint32_t isn;
    uint32_t hint_seq;
    uint32_t nsegs;
    uint32_t syn_tsval; /* TSval of the latest SYN (SD_TS) */
    uint32_t flags;
};

enum {
    SF_MIDSTREAM = 1u << 0,
    SF_RST = 1u << 1, /* a valid RST was seen from direction rst_dir: the session is closed */
};

struct stream_flow {
    struct stream_dir d[2];
    uint32_t flags;
    int rst_dir;
};

struct stream_engine {
    struct stream_config cfg;
    struct stream_stats st;
};

/* What one call works with: the flow, the direction and where to deliver. */
struct stream_ctx {
    struct stream_engine *e;
    struct flow *f;
    struct stream_dir *d;
    int dir;
    stream_data_fn cb;
    void *cbctx;
    unsigned ev;
};

static const struct {
    const char *name;
    enum stream_policy policy;
} policy_names[] = {
    {"bsd", STREAM_POLICY_BSD},         {"bsd-right", STREAM_POLICY_BSD_RIGHT},
    {"first", STREAM_POLICY_FIRST},     {"last", STREAM_POLICY_LAST},
    {"linux", STREAM_POLICY_LINUX},     {"old-linux", STREAM_POLICY_OLD_LINUX},
    {"solaris", STREAM_POLICY_SOLARIS}, {"old-solaris", STREAM_POLICY_OLD_SOLARIS},
    {"hpux10", STREAM_POLICY_HPUX10},   {"hpux11", STREAM_POLICY_HPUX11},
    {"irix", STREAM_POLICY_IRIX},       {"macos", STREAM_POLICY_MACOS},
    {"windows", STREAM_POLICY_WINDOWS}, {"windows2k3", STREAM_POLICY_WINDOWS2K3},
    {"vista", STREAM_POLICY_VISTA},
};

void stream_config_defaults(struct stream_config *c)
{
    memset(c, 0, sizeof(*c));
    c->memcap = 64ULL * 1024 * 1024;
    c->depth = 1024 * 1024;
    c->policy = STREAM_POLICY_BSD;
    c->midstream = 0;
    c->max_segments = 2048;
}

int stream_policy_parse(const char *name)
{
    if (name == NULL)
        return -1;
    for (size_t i = 0; i < VG_ARRAY_LEN(policy_names); i++)
        if (strcmp(policy_names[i].name, name) == 0)
            return (int)policy_names[i].policy;
    return -1;
}

const char *stream_policy_name(int policy)
{
    for (size_t i = 0; i < VG_ARRAY_LEN(policy_names); i++)
        if ((int)policy_names[i].policy == policy)
            return policy_names[i].name;
    return "unknown";
}

const char *stream_event_name(unsigned bit)
{
    switch (bit) {
    case STREAM_EV_GAP:
        return "stream.reassembly_seq_gap";
    case STREAM_EV_OVERLAP_DIFF:
        return "stream.reassembly_overlap_different_data";
    case STREAM_EV_RETRANSMISSION:
        return "stream.pkt_retransmission";
    case STREAM_EV_MEMCAP:
        return "stream.reassembly_memcap";
    case STREAM_EV_DEPTH:
        return "stream.reassembly_depth_reached";
    case STREAM_EV_MIDSTREAM:
        return "stream.midstream_pickup";
    case STREAM_EV_DUP_SYN:
        return "stream.3whs_syn_resend_diff_seq_on_syn_recv";
    case STREAM_EV_EST_SYN_DIFF:
        return "stream.est_syn_resend_diff_seq";
    case STREAM_EV_SYNACK_DIFF:
        return "stream.3whs_synack_resend_with_diff_seq";
    case STREAM_EV_OUT_OF_WINDOW:
        return "stream.est_packet_out_of_window";
    case STREAM_EV_BAD_TS:
        return "stream.pkt_invalid_timestamp";
    case STREAM_EV_RST_INJECT:
        return "stream.suspected_rst_inject";
    default:
        return NULL;
    }
}

struct stream_engine *stream_engine_new(const struct stream_config *cfg, char *errbuf)
{
    if (cfg == NULL) {
        vg_errbuf_set(errbuf, "stream: no configuration");
        return NULL;
    }
    if ((unsigned)cfg->policy >= STREAM_POLICY__COUNT) {
        vg_errbuf_set(errbuf, "stream: unknown overlap policy %d", (int)cfg->policy);
        return NULL;
    }
    if (cfg->memcap < sizeof(struct stream_flow)) {
        vg_errbuf_set(errbuf, "stream: memcap %llu is too small", (unsigned long long)cfg->memcap);
        return NULL;
    }
    struct stream_engine *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        vg_errbuf_set(errbuf, "stream: out of memory");
        return NULL;
    }
    e->cfg = *cfg;
    return e;
}

void stream_engine_free(struct stream_engine *e)
{
    free(e);
}

void stream_engine_stats(const struct stream_engine *e, struct stream_stats *out)
{
    const struct stream_stats *s = &e->st;
    out->segments = VG_CNT_GET(s->segments);
    out->bytes_reassembled = VG_CNT_GET(s->bytes_reassembled);
    out->retransmissions = VG_CNT_GET(s->retransmissions);
    out->overlaps = VG_CNT_GET(s->overlaps);
    out->overlap_diff = VG_CNT_GET(s->overlap_diff);
    out->gaps = VG_CNT_GET(s->gaps);
    out->gap_bytes = VG_CNT_GET(s->gap_bytes);
    out->out_of_order = VG_CNT_GET(s->out_of_order);
    out->memcap_drops = VG_CNT_GET(s->memcap_drops);
    out->depth_reached = VG_CNT_GET(s->depth_reached);
    out->midstream_pickups = VG_CNT_GET(s->midstream_pickups);
    out->dup_syn = VG_CNT_GET(s->dup_syn);
    out->nosyn_ignored = VG_CNT_GET(s->nosyn_ignored);
    out->out_of_window = VG_CNT_GET(s->out_of_window);
    out->flows = VG_CNT_GET(s->flows);
    out->memuse = VG_CNT_GET(s->memuse);
}

/* Memory accounting: every allocation of the engine goes through these two. */
static inline void mem_add(struct stream_engine *e, uint64_t n)
{
    VG_CNT_ADD(e->st.memuse, n);
}
static inline void mem_sub(struct stream_engine *e, uint64_t n)
{
    VG_CNT_SET(e->st.memuse, e->st.memuse - n);
}
static inline int mem_fits(const struct stream_engine *e, uint64_t n)
{
    return e->st.memuse + n <= e->cfg.memcap;
}

static inline uint64_t seg_size(const struct stream_seg *s)
{
    return sizeof(*s) + (uint64_t)s->cap;
}

static void seg_free(struct stream_engine *e, struct stream_dir *d, struct stream_seg *s)
{
    mem_sub(e, seg_size(s));
    d->nsegs--;
    free(s);
}

/* Frees the queue of d. */
static void queue_clear(struct stream_engine *e, struct stream_dir *d)
{
    struct stream_seg *s = d->head;
    while (s != NULL) {
        struct stream_seg *next = s->next;
        seg_free(e, d, s);
        s = next;
    }
    d->head = d->tail = NULL;
}

/* Drops queued bytes at or beyond offset end (after a FIN). */
static void queue_cut(struct stream_engine *e, struct stream_dir *d, uint64_t end)
{
    struct stream_seg **pp = &d->head, *last = NULL;
    while (*pp != NULL) {
        struct stream_seg *s = *pp;
        if (s->off >= end) {
            *pp = s->next;
            seg_free(e, d, s);
            continue;
        }
        if (s->off + s->len > end)
            s->len = (uint32_t)(end - s->off);
        last = s;
        pp = &s->next;
    }
    d->tail = last;
}

/*
 * Returns 1 if new data (segment extent [ns, ne)) replaces different queued data that came
 * with a segment of extent [os, oe), under policy p. The rules are Suricata's.
 */
static int policy_new_wins(enum stream_policy p, uint64_t ns, uint64_t ne, uint64_t os, uint64_t oe)
{
    switch (p) {
    case STREAM_POLICY_LAST:
        return 1;
    case STREAM_POLICY_FIRST:
    case STREAM_POLICY_VISTA:
        return 0;
    case STREAM_POLICY_SOLARIS:
    case STREAM_POLICY_OLD_SOLARIS:
    case STREAM_POLICY_HPUX11:
        /* New wins if it reaches past the old end, or reaches it starting no later. */
        return ne > oe || (ne == oe && ns <= os);
    case STREAM_POLICY_LINUX:
        return ns < os || (ns == os && ne > oe);
    case STREAM_POLICY_OLD_LINUX:
        return ns < os || (ns == os && ne >= oe);
    case STREAM_POLICY_BSD:
    case STREAM_POLICY_BSD_RIGHT:
    case STREAM_POLICY_HPUX10:
    case STREAM_POLICY_IRIX:
    case STREAM_POLICY_MACOS:
    case STREAM_POLICY_WINDOWS:
    case STREAM_POLICY_WINDOWS2K3:
    default:
        return ns < os;
    }
}

/* Moves the base of the direction n bytes on. */
static inline void advance(struct stream_dir *d, uint64_t n)
{
    d->base_off += n;
    d->base_seq += (uint32_t)n;
}

/* Delivers n in-order bytes at the base. */
static void emit(struct stream_ctx *c, const uint8_t *data, uint32_t n)
{
    if (n == 0)
        return;
    if (c->cb != NULL)
        c->cb(c->cbctx, c->f, c->dir, data, n, c->d->base_off, 0);
    VG_CNT_ADD(c->e->st.bytes_reassembled, n);
    advance(c->d, n);
}

/* Skips the hole from the base up to offset to, reporting it. */
static void skip_gap(struct stream_ctx *c, uint64_t to)
{
    struct stream_dir *d = c->d;
    if (to <= d->base_off)
        return;
    uint64_t n = to - d->base_off;
    if (c->cb != NULL)
        c->cb(c->cbctx, c->f, c->dir, NULL, (uint32_t)n, d->base_off, STREAM_DATA_GAP);
    VG_CNT_INC(c->e->st.gaps);
    VG_CNT_ADD(c->e->st.gap_bytes, n);
    c->ev |= STREAM_EV_GAP;
    advance(d, n);
}

/* Delivers the queued pieces that start at the base. */
static void flush_contiguous(struct stream_ctx *c)
{
    struct stream_dir *d = c->d;
    while (d->head != NULL && d->head->off <= d->base_off) {
        struct stream_seg *s = d->head;
        uint64_t end = s->off + s->len;
        if (end > d->base_off)
            emit(c, s->data + s->skip + (d->base_off - s->off), (uint32_t)(end - d->base_off));
        d->head = s->next;
        if (d->head == NULL)
            d->tail = NULL;
        seg_free(c->e, d, s);
    }
}

/* After the base moved: announces the depth once, and the end once a FIN is reached. */
static void check_limits(struct stream_ctx *c)
{
    struct stream_dir *d = c->d;
    uint32_t depth = c->e->cfg.depth;
    if (!(d->flags & (SD_DEPTH | SD_EOF)) && depth != 0 && d->base_off >= depth) {
        d->flags |= SD_DEPTH;
        queue_clear(c->e, d);
        if (c->cb != NULL)
            c->cb(c->cbctx, c->f, c->dir, NULL, 0, d->base_off, STREAM_DATA_DEPTH);
        VG_CNT_INC(c->e->st.depth_reached);
        c->ev |= STREAM_EV_DEPTH;
    }
    if (!(d->flags & SD_EOF) && (d->flags & SD_FIN) &&
        (d->base_off >= d->fin_off || (d->flags & SD_DEPTH))) {
        d->flags |= SD_EOF;
        queue_clear(c->e, d);
        if (c->cb != NULL)
            c->cb(c->cbctx, c->f, c->dir, NULL, 0, d->base_off, STREAM_DATA_EOF);
    }
}

/* Skips the first hole of the queue (or up to offset to if the queue is empty) and delivers
 * what then follows in order. */
static void force_progress(struct stream_ctx *c, uint64_t to)
{
    struct stream_dir *d = c->d;
    skip_gap(c, d->head != NULL ? d->head->off : to);
    flush_contiguous(c);
}

/* Ends the direction: delivers everything queued across its holes, then EOF. */
static void close_dir(struct stream_ctx *c)
{
    struct stream_dir *d = c->d;
    if (d->flags & SD_EOF)
        return;
    if (!(d->flags & SD_DEPTH)) {
        while (d->head != NULL) {
            skip_gap(c, d->head->off);
            flush_contiguous(c);
        }
        if ((d->flags & SD_FIN) && d->fin_off > d->base_off) {
            uint32_t depth = c->e->cfg.depth;
            skip_gap(c, depth != 0 && d->fin_off > depth ? depth : d->fin_off);
        }
        check_limits(c);
    }
    if (!(d->flags & SD_EOF)) {
        d->flags |= SD_EOF;
        queue_clear(c->e, d);
        if (c->cb != NULL)
            c->cb(c->cbctx, c->f, c->dir, NULL, 0, d->base_off, STREAM_DATA_EOF);
    }
}

/* Overlap outcome of one segment, counted once per segment. */
struct overlap {
    int any, diff;
};

/*
 * Delivers in-order segment data [s, end) (s is the base), applying the policy where it
 * overlaps queued pieces; [ns, ne) is the segment's full extent.
 */
static void deliver_inorder(struct stream_ctx *c, const uint8_t *data, uint64_t s, uint64_t end,
                            uint64_t ns, uint64_t ne, struct overlap *ov)
{
    struct stream_dir *d = c->d;
    enum stream_policy pol = c->e->cfg.policy;
    while (d->base_off < end) {
        uint64_t cur = d->base_off;
        struct stream_seg *q = d->head;
        if (q == NULL || q->off >= end) {
            emit(c, data + (cur - s), (uint32_t)(end - cur));
            break;
        }
        if (q->off > cur) {
            emit(c, data + (cur - s), (uint32_t)(q->off - cur));
            continue;
        }
        /* q starts at the base (pieces are never behind it): resolve the overlap. */
        uint64_t qend = q->off + q->len;
        uint32_t n = (uint32_t)((qend < end ? qend : end) - cur);
        const uint8_t *qd = q->data + q->skip + (cur - q->off);
        const uint8_t *nd = data + (cur - s);
        ov->any = 1;
        int differ = memcmp(qd, nd, n) != 0;
        int use_new = differ && policy_new_wins(pol, ns, ne, q->ooff, q->oend);
        ov->diff |= differ;
        emit(c, use_new ? nd : qd, n);
        uint32_t used = (uint32_t)(cur + n - q->off);
        q->skip += used;
        q->len -= used;
        q->off += used;
        if (q->len == 0) {
            d->head = q->next;
            if (d->head == NULL)
                d->tail = NULL;
            seg_free(c->e, d, q);
        }
    }
    flush_contiguous(c);
}

/*
 * Queues out-of-order data [s, end) (beyond the base) of a segment of extent [ns, ne): holes
 * between queued pieces get new pieces, overlapped bytes follow the policy. With dry set,
 * changes nothing and only counts the pieces and bytes it would add. Returns 1 if any new
 * byte was queued (or would be).
 */
static int queue_insert(struct stream_ctx *c, const uint8_t *data, uint64_t s, uint64_t end,
                        uint64_t ns, uint64_t ne, int dry, uint32_t *npieces, uint64_t *bytes,
                        struct overlap *ov)
{
    struct stream_dir *d = c->d;
    enum stream_policy pol = c->e->cfg.policy;
    struct stream_seg **pp = &d->head;
    if (d->tail != NULL && d->tail->off + d->tail->len <= s)
        pp = &d->tail->next; /* the common case: appending */
    uint64_t cur = s;
    int added = 0;
    while (cur < end) {
        struct stream_seg *q = *pp;
        if (q != NULL && q->off + q->len <= cur) {
            pp = &q->next;
            continue;
        }
        uint64_t hole_end = q == NULL ? end : (q->off < end ? q->off : end);
        if (hole_end > cur) {
            uint32_t n = (uint32_t)(hole_end - cur);
            added = 1;
            if (dry) {
                (*npieces)++;
                *bytes += sizeof(struct stream_seg) + n;
            } else {
                struct stream_seg *p = malloc(sizeof(*p) + n);
                if (p == NULL)
                    return added; /* the hole stays; reported as a gap later */
                p->off = cur;
                p->ooff = ns;
                p->oend = ne;
                p->skip = 0;
                p->len = p->cap = n;
                memcpy(p->data, data + (cur - s), n);
                p->next = q;
                *pp = p;
                if (q == NULL)
                    d->tail = p;
                d->nsegs++;
                mem_add(c->e, seg_size(p));
                pp = &p->next;
            }
            cur = hole_end;
            continue;
        }
        /* q covers cur. */
        uint64_t qend = q->off + q->len;
        uint32_t n = (uint32_t)((qend < end ? qend : end) - cur);
        uint8_t *qd = q->data + q->skip + (cur - q->off);
        const uint8_t *nd = data + (cur - s);
        if (!dry) {
            int differ = memcmp(qd, nd, n) != 0;
            ov->any = 1;
            ov->diff |= differ;
            if (differ && policy_new_wins(pol, ns, ne, q->ooff, q->oend))
                memcpy(qd, nd, n);
        }
        cur += n;
        pp = &q->next;
    }
    return added;
}

/* Handles the payload of a segment starting at sequence number seq. */
static void handle_data(struct stream_ctx *c, uint32_t seq, const uint8_t *data, uint32_t len)
{
    struct stream_engine *e = c->e;
    struct stream_dir *d = c->d;
    if (d->flags & (SD_EOF | SD_DEPTH))
        return;
    int32_t rel = (int32_t)(seq - d->base_seq);
    if (rel >= (int32_t)STREAM_WINDOW || (int64_t)rel + len <= -(int64_t)STREAM_WINDOW) {
        VG_CNT_INC(e->st.out_of_window);
        c->ev |= STREAM_EV_OUT_OF_WINDOW;
        return;
    }
    /* The segment's extent in stream offsets; bytes before offset 0 cannot be delivered. */
    int64_t s0 = (int64_t)d->base_off + rel;
    int64_t e0 = s0 + len;
    if (e0 <= (int64_t)d->base_off) {
        VG_CNT_INC(e->st.retransmissions);
        c->ev |= STREAM_EV_RETRANSMISSION;
        return;
    }
    uint64_t ns = s0 < 0 ? 0 : (uint64_t)s0, ne = (uint64_t)e0;
    uint64_t end = ne;
    if ((d->flags & SD_FIN) && end > d->fin_off)
        end = d->fin_off; /* data after the FIN is not part of the stream */
    if (e->cfg.depth != 0 && end > e->cfg.depth)
        end = e->cfg.depth;

    struct overlap ov = {0, 0};
    int queued = 0, forced = 0, inorder = 0;
    for (;;) {
        uint64_t s = ns > d->base_off ? ns : d->base_off;
        if (end <= s)
            break;
        const uint8_t *p = data + (s - (uint64_t)s0);
        if (s == d->base_off) {
            deliver_inorder(c, p, s, end, ns, ne, &ov);
            inorder = 1;
            break;
        }
        uint32_t npieces = 0;
        uint64_t bytes = 0;
        if (!queue_insert(c, p, s, end, ns, ne, 1, &npieces, &bytes, &ov)) {
            queue_insert(c, p, s, end, ns, ne, 0, &npieces, &bytes, &ov); /* overlaps only */
            break;
        }
        uint32_t maxq = e->cfg.max_segments;
        int over_segs = maxq != 0 && d->nsegs + npieces > maxq;
        int over_mem = !mem_fits(e, bytes);
        if (!over_segs && !over_mem) {
            queue_insert(c, p, s, end, ns, ne, 0, &npieces, &bytes, &ov);
            queued = 1;
            break;
        }
        /* No room: give up the oldest hole of this direction and try again. */
        if (over_mem && !forced) {
            VG_CNT_INC(e->st.memcap_drops);
            c->ev |= STREAM_EV_MEMCAP;
        }
        forced = 1;
        force_progress(c, s);
        check_limits(c);
        if (d->flags & (SD_EOF | SD_DEPTH))
            break;
    }
    if (queued)
        VG_CNT_INC(e->st.out_of_order);
    if (ov.any)
        VG_CNT_INC(e->st.overlaps);
    if (ov.diff) {
        VG_CNT_INC(e->st.overlap_diff);
        c->ev |= STREAM_EV_OVERLAP_DIFF;
    }
    if (ov.any && !ov.diff && !inorder && !queued) {
        /* Every byte was queued already, identically. */
        VG_CNT_INC(e->st.retransmissions);
        c->ev |= STREAM_EV_RETRANSMISSION;
    }
    check_limits(c);
}

/* Records the FIN of the direction, at sequence number fin_seq. */
static void handle_fin(struct stream_ctx *c, uint32_t fin_seq)
{
    struct stream_dir *d = c->d;
    if (d->flags & (SD_FIN | SD_EOF))
        return;
    int32_t rel = (int32_t)(fin_seq - d->base_seq);
    if (rel >= (int32_t)STREAM_WINDOW || rel <= -(int32_t)STREAM_WINDOW) {
        VG_CNT_INC(c->e->st.out_of_window);
        c->ev |= STREAM_EV_OUT_OF_WINDOW;
        return;
    }
    d->flags |= SD_FIN;
    d->fin_off = rel < 0 ? d->base_off : d->base_off + (uint64_t)rel;
    queue_cut(c->e, d, d->fin_off);
    check_limits(c);
}

/* Sets the ISN of a direction (and its base at ISN + 1). */
static void set_isn(struct stream_dir *d, uint32_t isn)
{
    d->isn = isn;
    d->base_seq = isn + 1;
    d->base_off = 0;
    d->flags |= SD_STARTED | SD_SYN;
}

/*
 * Handles a SYN or SYN/ACK for the direction. Returns 0 to go on with the packet, -1 to ignore
 * it (a resend with a different ISN that is not taken).
 */
static int handle_syn(struct stream_ctx *c, struct stream_flow *sf, const struct vg_packet *p)
{
    struct stream_dir *d = c->d, *o = &sf->d[c->dir ^ 1];
    uint32_t isn = p->tcp_seq;
    if (!(d->flags & SD_STARTED)) {
        set_isn(d, isn);
        return 0;
    }
    if ((d->flags & SD_SYN) && d->isn == isn)
        return 0; /* a plain resend */
    int fresh = d->base_off == 0 && d->head == NULL && !(d->flags & (SD_FIN | SD_EOF));
    if (!(d->flags & SD_SYN) && fresh && !(p->tcp_flags & VG_TH_ACK)) {
        set_isn(d, isn); /* picked up just before its SYN: the SYN tells the truth */
        return 0;
    }
    VG_CNT_INC(c->e->st.dup_syn);
    if (p->tcp_flags & VG_TH_ACK) {
        c->ev |= STREAM_EV_SYNACK_DIFF; /* the first SYN/ACK stands, as in Suricata */
        return -1;
    }
    if (!fresh) {
        c->ev |= STREAM_EV_EST_SYN_DIFF;
        return -1;
    }
    if (o->flags & SD_SYN) {
        c->ev |= STREAM_EV_DUP_SYN; /* answered already: the answered SYN stands */
        return -1;
    }
    set_isn(d, isn); /* not answered yet: the client retried with a new ISN */
    return 0;
}

/*
 * Finds the TCP timestamp option of p: sets *tsval and *tsecr and returns 1, or returns 0 if
 * the header carries none (or its options are malformed before one is found).
 */
static int tcp_timestamp(const struct vg_packet *p, uint32_t *tsval, uint32_t *tsecr)
{
    if (p->data == NULL || p->payload_off < p->l4_off + 20 || p->payload_off > p->caplen)
        return 0;
    const uint8_t *o = p->data + p->l4_off + 20;
    uint32_t n = p->payload_off - p->l4_off - 20;
    for (uint32_t i = 0; i < n;) {
        uint8_t kind = o[i];
        if (kind == 0)
            return 0; /* end of options */
        if (kind == 1) {
            i++; /* no-op */
            continue;
        }
        if (i + 1 >= n || o[i + 1] < 2 || o[i + 1] > n - i)
            return 0;
        if (kind == 8 && o[i + 1] == 10) {
            const uint8_t *t = o + i + 2;
            *tsval = (uint32_t)t[0] << 24 | (uint32_t)t[1] << 16 | (uint32_t)t[2] << 8 | t[3];
            *tsecr = (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 | (uint32_t)t[6] << 8 | t[7];
            return 1;
        }
        i += o[i + 1];
    }
    return 0;
}

/*
 * Suricata's check of the answers to a SYN (StateSynSentValidateTimestamp): while d, the side
 * that did not open, has sent no SYN/ACK, a packet from it whose timestamp echoes a value the
 * opener never sent (not the SYN's TSval, or anything but 0 when the SYN had none) is not
 * from the peer: returns 0 to ignore it, 1 to go on.
 */
static int answer_ts_valid(const struct stream_dir *d, const struct stream_dir *o,
                           const struct vg_packet *p)
{
    uint32_t tsval, tsecr;
    if (!(o->flags & SD_INIT) || (d->flags & SD_SYN) || !tcp_timestamp(p, &tsval, &tsecr))
        return 1;
    if (o->flags & SD_TS)
        return o->syn_tsval == 0 || tsecr == 0 || tsecr == o->syn_tsval;
    return tsecr == 0;
}

/* Starts a direction seen without its SYN at sequence number seq (or at the peer's ACK). */
static void start_dir(struct stream_dir *d, uint32_t seq)
{
    uint32_t base = seq;
    if (d->flags & SD_HINT) {
        int32_t rel = (int32_t)(seq - d->hint_seq);
        if (rel > 0 && rel < (int32_t)(1u << 20))
            base = d->hint_seq; /* data before this segment is missing: a gap, not lost */
    }
    d->base_seq = base;
    d->base_off = 0;
    d->flags |= SD_STARTED;
}

static struct stream_flow *flow_state_new(struct stream_engine *e)
{
    if (!mem_fits(e, sizeof(struct stream_flow)))
        return NULL;
    struct stream_flow *sf = calloc(1, sizeof(*sf));
    if (sf == NULL)
        return NULL;
    mem_add(e, sizeof(*sf));
    VG_CNT_INC(e->st.flows);
    return sf;
}

unsigned stream_handle_packet(struct stream_engine *e, struct flow *f, const struct vg_packet *p,
                              int dir, stream_data_fn cb, void *ctx)
{
    if (e == NULL || f == NULL || p == NULL || p->proto != 6 || (p->flags & VG_PKT_INVALID) ||
        (p->flags & VG_PKT_FRAGMENT) || (dir != 0 && dir != 1))
        return 0;
    uint8_t fl = p->tcp_flags;
    const uint8_t *payload = vg_pkt_payload(p);
    uint32_t plen = payload != NULL ? p->payload_len : 0;
    if (plen >= STREAM_WINDOW)
        plen = 0;

    struct stream_ctx c = {e, f, NULL, dir, cb, ctx, 0};
    struct stream_flow *sf = f->stream;
    if (sf == NULL) {
        if (!(fl & VG_TH_SYN) && !e->cfg.midstream) {
            if (plen != 0)
                VG_CNT_INC(e->st.nosyn_ignored);
            return 0;
        }
        if (fl & VG_TH_RST)
            return 0;
        sf = flow_state_new(e);
        if (sf == NULL) {
            VG_CNT_INC(e->st.memcap_drops);
            return STREAM_EV_MEMCAP;
        }
        f->stream = sf;
        if (!(fl & VG_TH_SYN)) {
            sf->flags |= SF_MIDSTREAM;
            VG_CNT_INC(e->st.midstream_pickups);
            c.ev |= STREAM_EV_MIDSTREAM;
        }
    }
    if (plen != 0)
        VG_CNT_INC(e->st.segments);

    struct stream_dir *d = &sf->d[dir], *o = &sf->d[dir ^ 1];
    c.d = d;
    if (!answer_ts_valid(d, o, p))
        return c.ev | STREAM_EV_BAD_TS;
    if (sf->flags & SF_RST) {
        /* Closed by an RST: more RSTs and the receiver's packets are ignored, but a packet
         * from the RST's sender means it was injected: the session goes on (as Suricata). */
        if ((fl & VG_TH_RST) || dir != sf->rst_dir)
            return c.ev;
        sf->flags &= ~(uint32_t)SF_RST;
        c.ev |= STREAM_EV_RST_INJECT;
    }
    /* The peer's first ACK tells where its stream starts, should its SYN be missed. */
    if ((fl & VG_TH_ACK) && !(o->flags & (SD_STARTED | SD_HINT))) {
        o->hint_seq = p->tcp_ack;
        o->flags |= SD_HINT;
    }
    uint32_t seq = p->tcp_seq;
    if ((fl & VG_TH_SYN) && !(d->flags & SD_EOF)) {
        if (handle_syn(&c, sf, p) < 0)
            return c.ev;
        if (!(fl & VG_TH_ACK) && d->isn == seq) {
            uint32_t tsval, tsecr;
            d->flags |= SD_INIT; /* a resent SYN's timestamp is the one to echo */
            if (tcp_timestamp(p, &tsval, &tsecr)) {
                d->flags |= SD_TS;
                d->syn_tsval = tsval;
            }
        }
        seq++; /* data on a SYN follows the ISN */
    } else if (!(d->flags & SD_STARTED)) {
        start_dir(d, seq);
    }
    /*
     * A valid RST closes the session: what each direction holds is delivered (across its
     * holes), and a direction that carried data ends (EOF), as Suricata's app layer gets its
     * end at the RST. A direction that carried nothing stays open in case the RST's sender
     * goes on (an injected RST, above); it ends with the flow otherwise.
     */
    if (fl & VG_TH_RST) {
        int32_t rel = (int32_t)(seq - d->base_seq);
        if (rel >= (int32_t)STREAM_WINDOW || rel <= -(int32_t)STREAM_WINDOW) {
            VG_CNT_INC(e->st.out_of_window);
            return c.ev | STREAM_EV_OUT_OF_WINDOW;
        }
        sf->flags |= SF_RST;
        sf->rst_dir = dir;
        for (int k = 0; k < 2; k++) {
            struct stream_ctx ck = {e, f, &sf->d[k], k, cb, ctx, 0};
            if (sf->d[k].base_off != 0 || sf->d[k].head != NULL)
                close_dir(&ck);
            c.ev |= ck.ev;
        }
        return c.ev;
    }
    if (d->flags & SD_EOF)
        return c.ev;
    if (plen != 0)
        handle_data(&c, seq, payload, plen);
    if (fl & VG_TH_FIN)
        handle_fin(&c, seq + plen);
    return c.ev;
}

void stream_flow_end(struct stream_engine *e, struct flow *f, stream_data_fn cb, void *ctx)
{
    if (e == NULL || f == NULL || f->stream == NULL)
        return;
    struct stream_flow *sf = f->stream;
    for (int dir = 0; dir < 2; dir++) {
        struct stream_ctx c = {e, f, &sf->d[dir], dir, cb, ctx, 0};
        close_dir(&c);
    }
    mem_sub(e, sizeof(*sf));
    VG_CNT_SET(e->st.flows, e->st.flows - 1);
    free(sf);
    f->stream = NULL;
}
