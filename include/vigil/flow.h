/* flow.h: the flow table each worker owns: symmetric keys, TCP state, timeouts, memcap eviction. */
#ifndef VIGIL_FLOW_H
#define VIGIL_FLOW_H

#include <stdint.h>

#include "vigil/packet.h"

enum flow_dir { FLOW_DIR_TOSERVER = 0, FLOW_DIR_TOCLIENT = 1 };

enum flow_state { FLOW_STATE_NEW, FLOW_STATE_ESTABLISHED, FLOW_STATE_CLOSED, FLOW_STATE__COUNT };

enum flow_end_reason { FLOW_END_TIMEOUT, FLOW_END_FORCED, FLOW_END_SHUTDOWN };

enum flow_proto_class { FLOW_PROTO_TCP, FLOW_PROTO_UDP, FLOW_PROTO_ICMP, FLOW_PROTO_OTHER,
                        FLOW_PROTO__COUNT };

/* TCP session states, named in EVE as Suricata names them. */
enum flow_tcp_state {
    FLOW_TCP_NONE,
    FLOW_TCP_SYN_SENT,
    FLOW_TCP_SYN_RECV,
    FLOW_TCP_ESTABLISHED,
    FLOW_TCP_FIN_WAIT1,
    FLOW_TCP_FIN_WAIT2,
    FLOW_TCP_TIME_WAIT,
    FLOW_TCP_LAST_ACK,
    FLOW_TCP_CLOSE_WAIT,
    FLOW_TCP_CLOSING,
    FLOW_TCP_CLOSED,
};

enum flow_flags {
    FLOW_F_ALERTED = 1u << 0,  /* an alert was raised on the flow */
    FLOW_F_REVERSED = 1u << 1, /* first packet was a SYN/ACK: the responder spoke first */
    FLOW_F_MIDSTREAM = 1u << 2,   /* TCP picked up without its handshake */
    FLOW_F_ESTABLISHED = 1u << 3, /* reached the established state (and stays so for rules) */
    FLOW_F_NO_PAYLOAD = 1u << 4   /* encrypted (TLS): content rules no longer inspect it */
};

struct flow_config {
    uint64_t memcap;    /* bytes that flows of one table may use */
    uint32_t hash_size; /* hash buckets (rounded up to a power of two) */
    uint32_t timeout[FLOW_PROTO__COUNT][FLOW_STATE__COUNT]; /* seconds */
};

struct flow {
    /* The key, oriented as the flow began: src is the client. */
    struct vg_addr src, dst;
    uint16_t sp, dp;
    uint8_t proto;
    uint8_t ip_ver;
    uint8_t vlan_cnt;
    uint16_t vlan_id[VG_PKT_MAX_VLAN];
    uint64_t hash;
    uint64_t flow_id;

    vg_time_t start, last;
    uint64_t pkts[2], bytes[2]; /* indexed by enum flow_dir */
    uint8_t state;              /* enum flow_state */
    uint8_t tcp_state;          /* enum flow_tcp_state */
    uint8_t tcp_flags[2];
    uint8_t icmp_type[2], icmp_code[2];
    uint8_t fin_seen;   /* bit per direction */
    uint8_t fin_acked;  /* bit per direction */
    uint32_t fin_seq[2]; /* sequence number a FIN's ACK must reach */
    uint8_t flags;       /* enum flow_flags */
    uint8_t tclass;      /* timeout list the flow is on */
    uint16_t app_proto;  /* set by the application layer */
    uint16_t src_idx;    /* capture source of the first packet */

    void *stream; /* per-flow state of later stages, released through the end callback */
    void *app;
    void *detect;

    struct flow *hnext;         /* hash chain */
    struct flow *tprev, *tnext; /* timeout list, oldest first */
};

struct flow_stats {
    uint64_t total, active;
    uint64_t tcp, udp, icmpv4, icmpv6, other;
    uint64_t timeouts, forced, shutdown; /* how flows ended */
    uint64_t memcap_evictions;          /* flows ended early to make room */
    uint64_t memcap_drops;              /* packets left without a flow */
    uint64_t tcp_reuse;
    uint64_t memuse;
};

struct flow_table;

/* Called once for every flow that ends, before it is freed. when is the end time. */
typedef void (*flow_end_fn)(void *ctx, struct flow *f, enum flow_end_reason reason, vg_time_t when);

/* Fills c with Suricata's defaults: 128 MiB, 65536 buckets and its flow-timeouts. */
void flow_config_defaults(struct flow_config *c);

/* Creates a table. on_end may be NULL. Returns NULL with errbuf set on failure. */
struct flow_table *flow_table_new(const struct flow_config *cfg, flow_end_fn on_end, void *ctx,
                                  char *errbuf);

/* Frees the table and any flows left, without calling on_end (flush first to log them). */
void flow_table_free(struct flow_table *t);

/* Returns 1 if p can belong to a flow: valid, IP, and not a fragment. */
int flow_packet_has_key(const struct vg_packet *p);

/* Returns the symmetric hash of p's flow key (both directions hash alike), or 0 without a key. */
uint64_t flow_hash_packet(const struct vg_packet *p);

/*
 * Finds or creates the flow of p (p->flow_hash must be set) and accounts p in it: counters,
 * TCP state, timeout list. Sets *dir to p's direction. Expired or reused flows found on the way
 * end first. Returns NULL only if no flow could be had within the memcap.
 */
struct flow *flow_handle_packet(struct flow_table *t, const struct vg_packet *p, int *dir);

/* Ends every flow whose timeout has passed at time now. */
void flow_table_timeout(struct flow_table *t, vg_time_t now);

/* Ends every flow: those expired at now as timeouts, the rest as shutdown at now. */
void flow_table_flush(struct flow_table *t, vg_time_t now);

/* Returns the table's counters. */
const struct flow_stats *flow_table_stats(const struct flow_table *t);

/* Names used in EVE: "new"/"established"/"closed", "timeout"/"forced"/"shutdown", "syn_sent"... */
const char *flow_state_name(unsigned state);
const char *flow_end_reason_name(unsigned reason);
const char *flow_tcp_state_name(unsigned state);

/* Returns the protocol class of an IP protocol number, for timeouts. */
enum flow_proto_class flow_proto_class(uint8_t proto);

#endif
