/* stream.h: TCP stream reassembly: per-direction in-order delivery, overlap policies, limits. */
#ifndef VIGIL_STREAM_H
#define VIGIL_STREAM_H

#include <stdint.h>

#include "vigil/flow.h"
#include "vigil/packet.h"

/*
 * Target-based overlap policies (Novak and Sturges), named as Suricata's host-os-policy names
 * them. They decide which data wins where a new segment overlaps data still queued; see
 * docs/stream.md for the table. Data already delivered is final whatever the policy.
 */
enum stream_policy {
    STREAM_POLICY_BSD,         /* Suricata's default; also hpux10, irix */
    STREAM_POLICY_BSD_RIGHT,   /* as bsd (Suricata maps it so) */
    STREAM_POLICY_FIRST,       /* the first data received wins */
    STREAM_POLICY_LAST,        /* the last data received wins */
    STREAM_POLICY_LINUX,       /* as bsd, and a new segment starting with the old and longer wins */
    STREAM_POLICY_OLD_LINUX,   /* as linux, and an exact same-extent resend wins */
    STREAM_POLICY_SOLARIS,     /* new wins if it reaches the old segment's end */
    STREAM_POLICY_OLD_SOLARIS, /* as solaris */
    STREAM_POLICY_HPUX10,      /* as bsd */
    STREAM_POLICY_HPUX11,      /* as solaris */
    STREAM_POLICY_IRIX,        /* as bsd */
    STREAM_POLICY_MACOS,       /* as bsd */
    STREAM_POLICY_WINDOWS,     /* as bsd */
    STREAM_POLICY_WINDOWS2K3,  /* as bsd */
    STREAM_POLICY_VISTA,       /* as first */
    STREAM_POLICY__COUNT
};

struct stream_config {
    uint64_t memcap;           /* bytes of queued segments and per-flow state, per engine */
    uint32_t depth;            /* bytes delivered per direction; 0 = unlimited */
    enum stream_policy policy; /* overlap policy */
    int midstream;             /* pick up flows whose handshake was not seen */
    uint32_t max_segments;     /* out-of-order segments queued per direction; 0 = memcap only */
};

/* Bits of the flags argument of a stream_data_fn call; each call carries at most one. */
enum stream_data_flags {
    /* No data: len bytes starting at offset are missing and will never come; the next call of
     * the direction starts at offset + len. */
    STREAM_DATA_GAP = 1u << 0,
    /* No data (len 0): the direction ended (FIN, RST or the flow's end). Comes exactly once per
     * direction of a reassembled flow, and is the direction's last call. */
    STREAM_DATA_EOF = 1u << 1,
    /* No data (len 0): offset reached the configured depth; no more data or gaps will come. */
    STREAM_DATA_DEPTH = 1u << 2,
};

/* Events stream_handle_packet returns, one bit each; stream_event_name names them. */
enum stream_event {
    STREAM_EV_GAP = 1u << 0,            /* a hole in the stream was skipped */
    STREAM_EV_OVERLAP_DIFF = 1u << 1,   /* a segment overlapped queued data with different bytes */
    STREAM_EV_RETRANSMISSION = 1u << 2, /* a segment carried only data seen already */
    STREAM_EV_MEMCAP = 1u << 3,         /* the memcap refused state or queued data */
    STREAM_EV_DEPTH = 1u << 4,          /* the direction reached the reassembly depth */
    STREAM_EV_MIDSTREAM = 1u << 5,      /* the flow was picked up without a handshake */
    STREAM_EV_DUP_SYN = 1u << 6,        /* SYN resent with a new ISN after the SYN/ACK: ignored */
    STREAM_EV_EST_SYN_DIFF = 1u << 7,   /* SYN with a new ISN once data flowed: ignored */
    STREAM_EV_SYNACK_DIFF = 1u << 8,    /* SYN/ACK resent with a new ISN: ignored */
    STREAM_EV_OUT_OF_WINDOW = 1u << 9,  /* sequence number implausibly far from the stream */
    STREAM_EV_BAD_TS = 1u << 10,        /* answer to a SYN echoing a timestamp it never sent */
    STREAM_EV_RST_INJECT = 1u << 11,    /* the sender of an RST went on sending: RST undone */
    STREAM_EV__LAST = STREAM_EV_RST_INJECT
};

struct stream_stats {
    uint64_t segments;          /* TCP segments with payload in reassembled flows */
    uint64_t bytes_reassembled; /* bytes delivered in order */
    uint64_t retransmissions;   /* segments with no new byte */
    uint64_t overlaps;          /* segments overlapping queued data */
    uint64_t overlap_diff;      /* ... with different bytes */
    uint64_t gaps;              /* holes skipped */
    uint64_t gap_bytes;         /* bytes in those holes */
    uint64_t out_of_order;      /* segments queued ahead of the stream */
    uint64_t memcap_drops;      /* flows or segments the memcap refused (a gap was forced) */
    uint64_t depth_reached;     /* directions that reached the depth */
    uint64_t midstream_pickups; /* flows picked up without a handshake */
    uint64_t dup_syn;           /* SYN or SYN/ACK resent with a different ISN */
    uint64_t nosyn_ignored;     /* segments with payload of flows not reassembled (no SYN) */
    uint64_t out_of_window;     /* segments, FINs and RSTs ignored as out of window */
    uint64_t flows;             /* flows with reassembly state now */
    uint64_t memuse;            /* bytes used now */
};

struct stream_engine;

/*
 * Receives newly in-order data of direction dir (enum flow_dir) of flow f. data/len are valid
 * only during the call (they may point into the packet). offset is the stream offset of the
 * first byte: 0 is the byte after the ISN (or the first byte seen, for a midstream pickup).
 * flags is 0 for data, or one STREAM_DATA_* notice with data NULL. The callback must not call
 * back into the stream engine for the same flow.
 */
typedef void (*stream_data_fn)(void *ctx, struct flow *f, int dir, const uint8_t *data,
                               uint32_t len, uint64_t offset, unsigned flags);

/* Fills c with the defaults: 64 MiB memcap, 1 MiB depth, bsd, no midstream, 2048 segments. */
void stream_config_defaults(struct stream_config *c);

/* Returns the policy named name ("bsd", "linux", "first", ... as Suricata), or -1 if unknown. */
int stream_policy_parse(const char *name);

/* Returns the name of a policy, or "unknown". */
const char *stream_policy_name(int policy);

/* Creates an engine; one per worker thread, unlocked. Returns NULL with errbuf set on failure. */
struct stream_engine *stream_engine_new(const struct stream_config *cfg, char *errbuf);

/* Frees the engine. Flows still holding state must be ended with stream_flow_end first. */
void stream_engine_free(struct stream_engine *e);

/*
 * Reassembles TCP packet p of flow f (p's direction dir), calling cb (may be NULL) with what
 * became in order in that direction (both directions on a RST). Non-TCP or invalid packets are
 * ignored. Returns the STREAM_EV_* bits raised by the packet (0 if none).
 */
unsigned stream_handle_packet(struct stream_engine *e, struct flow *f, const struct vg_packet *p,
                              int dir, stream_data_fn cb, void *ctx);

/*
 * Ends reassembly of f: for each direction not yet ended, delivers what is queued (reporting
 * the holes before it as gaps, and a hole before a FIN seen), then EOF. Frees f->stream and sets
 * it NULL. Does nothing for a flow without state.
 */
void stream_flow_end(struct stream_engine *e, struct flow *f, stream_data_fn cb, void *ctx);

/* Copies the engine's counters into out (safe to call from another thread). */
void stream_engine_stats(const struct stream_engine *e, struct stream_stats *out);

/* Returns the anomaly name of one STREAM_EV_* bit ("stream.reassembly_seq_gap"), or NULL. */
const char *stream_event_name(unsigned bit);

#endif
