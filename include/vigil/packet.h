/* packet.h: one captured packet and what the decoders learned about it. */
#ifndef VIGIL_PACKET_H
#define VIGIL_PACKET_H

#include <stdint.h>

#include "vigil/common.h"

/* Most decoder events remembered per packet; more are still counted in the stats. */
#define VG_PKT_MAX_EVENTS 6
/* VLAN layers kept per packet (802.1Q, QinQ and one more, as Suricata does). */
#define VG_PKT_MAX_VLAN 3
/* Link types Vigil decodes besides libpcap's DLT_* values: raw IP from the defragmenter. */
#define VG_DLT_REASSEMBLED 0x10000

/* An IPv4 or IPv6 address. IPv4 uses the first 4 bytes; the rest are zero. */
struct vg_addr {
    union {
        uint8_t u8[16];
        uint32_t u32[4];
        uint64_t u64[2];
    };
};

enum vg_pkt_flags {
    VG_PKT_INVALID = 1u << 0,     /* decoding stopped at a malformed layer */
    VG_PKT_FRAGMENT = 1u << 1,    /* an IP fragment: the defragmenter takes it, no L4 */
    VG_PKT_REASSEMBLED = 1u << 2, /* a datagram rebuilt from fragments */
    VG_PKT_TUNNEL = 1u << 3,      /* the L3/L4 fields describe the innermost tunnelled packet */
    VG_PKT_HAS_PORTS = 1u << 4,   /* sp/dp are valid (TCP, UDP, SCTP) */
    VG_PKT_IPV4_OPTS = 1u << 5,   /* IPv4 header carried options */
};

/* TCP flag bits as on the wire. */
enum {
    VG_TH_FIN = 0x01,
    VG_TH_SYN = 0x02,
    VG_TH_RST = 0x04,
    VG_TH_PUSH = 0x08,
    VG_TH_ACK = 0x10,
    VG_TH_URG = 0x20,
    VG_TH_ECE = 0x40,
    VG_TH_CWR = 0x80,
};

/*
 * A packet. Offsets (l3_off, l4_off, payload_off) are relative to data, so a decoded packet can
 * be copied into a batch and its data pointer moved without decoding again.
 */
struct vg_packet {
    const uint8_t *data; /* captured bytes; owned by the capture buffer or a batch */
    vg_time_t ts;        /* capture time */
    uint64_t pcap_cnt;   /* 1-based packet number within the run */
    uint32_t caplen;     /* bytes captured */
    uint32_t wirelen;    /* bytes on the wire */
    uint32_t datalink;   /* DLT_* of the capture, or VG_DLT_REASSEMBLED */
    uint16_t src_idx;    /* index of the capture source (pcap file) */
    uint32_t flags;      /* vg_pkt_flags */

    /* Link layer. */
    uint16_t vlan_id[VG_PKT_MAX_VLAN];
    uint8_t vlan_cnt;
    uint8_t tunnel_depth; /* tunnels decapsulated (GRE, VXLAN, IP-in-IP) */

    /* Network layer; for a tunnel, the innermost one. */
    uint8_t ip_ver; /* 0 (none), 4 or 6 */
    uint8_t ttl;    /* TTL or hop limit */
    uint8_t proto;  /* L4 protocol number */
    uint8_t ip_tos;
    uint32_t l3_off;
    uint32_t l3_len; /* the IP datagram's length as it claims, bounded by the capture */
    struct vg_addr src;
    struct vg_addr dst;

    /* Fragment details, set when VG_PKT_FRAGMENT is set. */
    uint32_t frag_id;      /* IPv4 id or IPv6 fragment identification */
    uint32_t frag_offset;  /* byte offset of this fragment's data in the datagram */
    uint32_t frag_hdr_off; /* IPv6: offset of the fragment header; IPv4: l3_off */
    uint32_t frag_nh_off;  /* IPv6: offset of the next-header byte pointing at it */
    uint8_t frag_more;     /* more fragments follow */

    /* Transport layer. */
    uint32_t l4_off;
    uint32_t payload_off;
    uint32_t payload_len;
    uint16_t sp;
    uint16_t dp;
    uint8_t tcp_flags;
    uint8_t icmp_type;
    uint8_t icmp_code;
    uint16_t tcp_win;
    uint32_t tcp_seq;
    uint32_t tcp_ack;

    /* Set by the pipeline. */
    uint64_t flow_hash; /* symmetric hash of the flow key; 0 if the packet has none */

    /* Decoder events (enum vg_decode_event) raised on this packet. */
    uint8_t nevents;
    uint16_t events[VG_PKT_MAX_EVENTS];
};

/* Returns a pointer to the L4 payload of p, or NULL if it has none. */
static inline const uint8_t *vg_pkt_payload(const struct vg_packet *p)
{
    return p->payload_len ? p->data + p->payload_off : NULL;
}

#endif
