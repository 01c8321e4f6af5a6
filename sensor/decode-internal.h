/* decode-internal.h: the per-layer decoders, shared between the decode-*.c files only. */
#ifndef VIGIL_DECODE_INTERNAL_H
#define VIGIL_DECODE_INTERNAL_H

#include "vigil/decode.h"

/* Tunnels decapsulated before the decoder gives up with too_many_layers. */
#define VG_MAX_TUNNEL_DEPTH 4
/* MPLS labels followed before giving up. */
#define VG_MAX_MPLS_LABELS 16
/* IPv6 extension headers followed before giving up. */
#define VG_MAX_IPV6_EXTHDRS 16
/* UDP port that carries VXLAN (IANA). */
#define VG_VXLAN_PORT 4789

/* Well-known ethertypes. */
enum {
    VG_ETH_IPV4 = 0x0800,
    VG_ETH_ARP = 0x0806,
    VG_ETH_VLAN = 0x8100,
    VG_ETH_QINQ = 0x88a8,
    VG_ETH_QINQ_OLD = 0x9100,
    VG_ETH_IPV6 = 0x86dd,
    VG_ETH_MPLS_UC = 0x8847,
    VG_ETH_MPLS_MC = 0x8848,
    VG_ETH_TEB = 0x6558, /* transparent Ethernet bridging, in GRE */
    VG_ETH_ERSPAN2 = 0x88be,
};

/*
 * Each decoder takes the packet, the offset of its layer in p->data and the bytes available
 * there (already bounded by the capture and by enclosing length fields). Each returns 0 on
 * success and -1 when the layer is malformed (an event is raised).
 */
int decode_ethernet(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len);
int decode_ethertype(struct vg_decode_stats *st, struct vg_packet *p, uint16_t type, uint32_t off,
                     uint32_t len);
int decode_sll(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len);
int decode_sll2(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len);
int decode_null(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len,
                int network_order);
int decode_raw_ip(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len);
int decode_ipv4(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len);
int decode_ipv6(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len);
int decode_tcp(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len);
int decode_udp(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len);
int decode_icmpv4(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len);
int decode_icmpv6(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len);
int decode_gre(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len);
int decode_vxlan(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len);

/*
 * Decodes the L4 protocol proto found at off (len bytes) of an IP packet: TCP, UDP, ICMP and
 * the tunnel protocols. Unknown protocols are valid and decode no further.
 */
int decode_ip_payload(struct vg_decode_stats *st, struct vg_packet *p, uint8_t proto,
                      uint32_t off, uint32_t len);

/*
 * Decodes an encapsulated packet at off: an Ethernet frame (ethertype 0) or the given
 * ethertype. If the inner packet is malformed, p keeps the outer layers (the tunnel packet
 * stays a valid packet) and the event stays raised. Returns 0 either way, or -1 if the
 * tunnel nesting is too deep.
 */
int decode_tunnel(struct vg_decode_stats *st, struct vg_packet *p, uint16_t ethertype,
                  uint32_t off, uint32_t len);

#endif
