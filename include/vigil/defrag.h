/* defrag.h: IPv4 and IPv6 fragment reassembly, bounded by a memcap and a tracker timeout. */
#ifndef VIGIL_DEFRAG_H
#define VIGIL_DEFRAG_H

#include <stdint.h>

#include "vigil/decode.h"
#include "vigil/packet.h"

/* Target-based overlap policies (Novak), as Suricata's defrag.policy names them. */
enum defrag_policy {
    DEFRAG_POLICY_FIRST,   /* the first data received wins (also Windows, Solaris) */
    DEFRAG_POLICY_LAST,    /* the last data received wins */
    DEFRAG_POLICY_BSD,     /* lowest offset wins; the first received breaks ties (default) */
    DEFRAG_POLICY_LINUX,   /* lowest offset wins; the last received breaks ties */
    DEFRAG_POLICY_WINDOWS, /* as first */
};

/* Largest unfragmentable part kept: an IPv4 header, or IPv6 and its extension headers. */
#define DEFRAG_MAX_HDR (60 + 40 * 8)
/* Largest datagram the defragmenter rebuilds. */
#define DEFRAG_MAX_PACKET (65535 + DEFRAG_MAX_HDR)

struct defrag_config {
    uint64_t memcap;             /* bytes of fragment data and trackers */
    uint32_t timeout_sec;        /* a datagram not completed in this time is dropped */
    uint32_t max_frags;          /* fragments per datagram */
    enum defrag_policy policy;
};

struct defrag_stats {
    uint64_t ipv4_fragments, ipv4_reassembled, ipv4_timeouts;
    uint64_t ipv6_fragments, ipv6_reassembled, ipv6_timeouts;
    uint64_t max_frag_hits; /* fragments dropped at the memcap or the per-datagram cap */
    uint64_t evictions;     /* incomplete datagrams dropped to make room under the memcap */
    uint64_t overlaps;
    uint64_t trackers;      /* datagrams being reassembled now */
    uint64_t memuse;
};

struct defrag;

/* Fills c with the defaults: 32 MiB, 60 s, 1000 fragments, BSD policy. */
void defrag_config_defaults(struct defrag_config *c);

/* Parses a policy name ("bsd", "linux", "first", "last", "windows", "solaris"). -1 if unknown. */
int defrag_policy_parse(const char *name);

/* Creates a defragmenter. Returns NULL with errbuf set on failure. */
struct defrag *defrag_new(const struct defrag_config *cfg, char *errbuf);

/* Frees the defragmenter and every pending fragment. */
void defrag_free(struct defrag *d);

/*
 * Adds fragment p (decoded with VG_PKT_FRAGMENT set). If it completes its datagram, writes the
 * rebuilt IP packet (header with fixed length and no fragment fields, then the payload) into
 * out, which must hold DEFRAG_MAX_PACKET bytes, and returns its length. Returns 0 while the
 * datagram is incomplete or the fragment was dropped (events on p and counters say why).
 */
uint32_t defrag_insert(struct defrag *d, struct vg_decode_stats *st, struct vg_packet *p,
                       uint8_t *out);

/* Drops datagrams not completed by time now - timeout. */
void defrag_timeout(struct defrag *d, vg_time_t now);

/* Returns the counters. */
const struct defrag_stats *defrag_stats(const struct defrag *d);

#endif
