/* decode.h: packet decoders from the link layer to TCP/UDP/ICMP, tunnels included. */
#ifndef VIGIL_DECODE_H
#define VIGIL_DECODE_H

#include <stdint.h>

#include "vigil/packet.h"

/*
 * Decoder events, named as Suricata names them (decode-event:NAME in rules, and
 * "decoder.NAME" in EVE anomaly records and stats).
 */
#define VG_DECODE_EVENTS(X)                                                                        \
    X(ETHERNET_PKT_TOO_SMALL, "ethernet.pkt_too_small")                                            \
    X(ETHERNET_UNKNOWN_ETHERTYPE, "ethernet.unknown_ethertype")                                    \
    X(SLL_PKT_TOO_SMALL, "sll.pkt_too_small")                                                      \
    X(SLL2_PKT_TOO_SMALL, "sll2.pkt_too_small")                                                    \
    X(LTNULL_PKT_TOO_SMALL, "ltnull.pkt_too_small")                                                \
    X(LTNULL_UNSUPPORTED_TYPE, "ltnull.unsupported_type")                                          \
    X(IPRAW_INVALID_IP_VERSION, "ipraw.invalid_ip_version")                                        \
    X(VLAN_HEADER_TOO_SMALL, "vlan.header_too_small")                                              \
    X(VLAN_UNKNOWN_TYPE, "vlan.unknown_type")                                                      \
    X(VLAN_TOO_MANY_LAYERS, "vlan.too_many_layers")                                                \
    X(MPLS_HEADER_TOO_SMALL, "mpls.header_too_small")                                              \
    X(MPLS_PKT_TOO_SMALL, "mpls.pkt_too_small")                                                    \
    X(MPLS_BAD_LABEL_RESERVED, "mpls.bad_label_reserved")                                          \
    X(MPLS_UNKNOWN_PAYLOAD_TYPE, "mpls.unknown_payload_type")                                      \
    X(IPV4_PKT_TOO_SMALL, "ipv4.pkt_too_small")                                                    \
    X(IPV4_HLEN_TOO_SMALL, "ipv4.hlen_too_small")                                                  \
    X(IPV4_IPLEN_SMALLER_THAN_HLEN, "ipv4.iplen_smaller_than_hlen")                                \
    X(IPV4_TRUNC_PKT, "ipv4.trunc_pkt")                                                            \
    X(IPV4_OPT_INVALID, "ipv4.opt_invalid")                                                        \
    X(IPV4_OPT_INVALID_LEN, "ipv4.opt_invalid_len")                                                \
    X(IPV4_OPT_MALFORMED, "ipv4.opt_malformed")                                                    \
    X(IPV4_OPT_DUPLICATE, "ipv4.opt_duplicate")                                                    \
    X(IPV4_OPT_UNKNOWN, "ipv4.opt_unknown")                                                        \
    X(IPV4_WRONG_IP_VERSION, "ipv4.wrong_ip_version")                                              \
    X(IPV4_ICMPV6, "ipv4.icmpv6")                                                                  \
    X(IPV4_FRAG_PKT_TOO_LARGE, "ipv4.frag_pkt_too_large")                                          \
    X(IPV4_FRAG_OVERLAP, "ipv4.frag_overlap")                                                      \
    X(IPV4_FRAG_IGNORED, "ipv4.frag_ignored")                                                      \
    X(IPV6_PKT_TOO_SMALL, "ipv6.pkt_too_small")                                                    \
    X(IPV6_TRUNC_PKT, "ipv6.trunc_pkt")                                                            \
    X(IPV6_TRUNC_EXTHDR, "ipv6.trunc_exthdr")                                                      \
    X(IPV6_EXTHDR_DUPL_FH, "ipv6.exthdr_dupl_fh")                                                  \
    X(IPV6_EXTHDR_DUPL_RH, "ipv6.exthdr_dupl_rh")                                                  \
    X(IPV6_EXTHDR_DUPL_HH, "ipv6.exthdr_dupl_hh")                                                  \
    X(IPV6_EXTHDR_DUPL_DH, "ipv6.exthdr_dupl_dh")                                                  \
    X(IPV6_EXTHDR_INVALID_OPTLEN, "ipv6.exthdr_invalid_optlen")                                    \
    X(IPV6_WRONG_IP_VERSION, "ipv6.wrong_ip_version")                                              \
    X(IPV6_RH_TYPE_0, "ipv6.rh_type_0")                                                            \
    X(IPV6_FH_NON_ZERO_RESERVED_FIELD, "ipv6.fh_non_zero_reserved_field")                          \
    X(IPV6_DATA_AFTER_NONE_HEADER, "ipv6.data_after_none_header")                                  \
    X(IPV6_UNKNOWN_NEXT_HEADER, "ipv6.unknown_next_header")                                        \
    X(IPV6_ICMPV4, "ipv6.icmpv4")                                                                  \
    X(IPV6_FRAG_PKT_TOO_LARGE, "ipv6.frag_pkt_too_large")                                          \
    X(IPV6_FRAG_OVERLAP, "ipv6.frag_overlap")                                                      \
    X(IPV6_FRAG_INVALID_LENGTH, "ipv6.frag_invalid_length")                                        \
    X(IPV6_FRAG_IGNORED, "ipv6.frag_ignored")                                                      \
    X(IPV6_IPV4_IN_IPV6_TOO_SMALL, "ipv6.ipv4_in_ipv6_too_small")                                  \
    X(IPV6_IPV4_IN_IPV6_WRONG_VERSION, "ipv6.ipv4_in_ipv6_wrong_version")                          \
    X(IPV6_IPV6_IN_IPV6_TOO_SMALL, "ipv6.ipv6_in_ipv6_too_small")                                  \
    X(IPV6_IPV6_IN_IPV6_WRONG_VERSION, "ipv6.ipv6_in_ipv6_wrong_version")                          \
    X(ICMPV4_PKT_TOO_SMALL, "icmpv4.pkt_too_small")                                                \
    X(ICMPV4_UNKNOWN_TYPE, "icmpv4.unknown_type")                                                  \
    X(ICMPV4_UNKNOWN_CODE, "icmpv4.unknown_code")                                                  \
    X(ICMPV6_PKT_TOO_SMALL, "icmpv6.pkt_too_small")                                                \
    X(ICMPV6_UNKNOWN_TYPE, "icmpv6.unknown_type")                                                  \
    X(ICMPV6_UNKNOWN_CODE, "icmpv6.unknown_code")                                                  \
    X(TCP_PKT_TOO_SMALL, "tcp.pkt_too_small")                                                      \
    X(TCP_HLEN_TOO_SMALL, "tcp.hlen_too_small")                                                    \
    X(TCP_INVALID_OPTLEN, "tcp.invalid_optlen")                                                    \
    X(TCP_OPT_INVALID_LEN, "tcp.opt_invalid_len")                                                  \
    X(TCP_OPT_DUPLICATE, "tcp.opt_duplicate")                                                      \
    X(UDP_PKT_TOO_SMALL, "udp.pkt_too_small")                                                      \
    X(UDP_HLEN_TOO_SMALL, "udp.hlen_too_small")                                                    \
    X(UDP_LEN_INVALID, "udp.len_invalid")                                                          \
    X(GRE_PKT_TOO_SMALL, "gre.pkt_too_small")                                                      \
    X(GRE_WRONG_VERSION, "gre.wrong_version")                                                      \
    X(GRE_VERSION0_RECUR, "gre.version0_recur")                                                    \
    X(GRE_VERSION0_FLAGS, "gre.version0_flags")                                                    \
    X(GRE_VERSION0_HDR_TOO_BIG, "gre.version0_hdr_too_big")                                        \
    X(GRE_VERSION1_CHKSUM, "gre.version1_chksum")                                                  \
    X(GRE_VERSION1_ROUTE, "gre.version1_route")                                                    \
    X(GRE_VERSION1_NO_KEY, "gre.version1_no_key")                                                  \
    X(GRE_VERSION1_WRONG_PROTOCOL, "gre.version1_wrong_protocol")                                  \
    X(GRE_VERSION1_HDR_TOO_BIG, "gre.version1_hdr_too_big")                                        \
    X(VXLAN_PKT_TOO_SMALL, "vxlan.pkt_too_small")                                                  \
    X(TOO_MANY_LAYERS, "too_many_layers")                                                          \
    X(UNSUPPORTED_LINKTYPE, "unsupported_linktype")

enum vg_decode_event {
    VG_EV_NONE = 0,
#define VG_EV_ENUM(sym, name) VG_EV_##sym,
    VG_DECODE_EVENTS(VG_EV_ENUM)
#undef VG_EV_ENUM
        VG_EV__COUNT
};

/* Packet and byte counters of the decoders, kept per decoding thread. */
#define VG_DECODE_COUNTERS(X)                                                                      \
    X(pkts)                                                                                        \
    X(bytes)                                                                                       \
    X(invalid)                                                                                     \
    X(ethernet)                                                                                    \
    X(sll)                                                                                         \
    X(sll2)                                                                                        \
    X(null)                                                                                        \
    X(raw)                                                                                         \
    X(ipv4)                                                                                        \
    X(ipv6)                                                                                        \
    X(tcp)                                                                                         \
    X(udp)                                                                                         \
    X(sctp)                                                                                        \
    X(icmpv4)                                                                                      \
    X(icmpv6)                                                                                      \
    X(gre)                                                                                         \
    X(vxlan)                                                                                       \
    X(vlan)                                                                                        \
    X(vlan_qinq)                                                                                   \
    X(mpls)                                                                                        \
    X(ipv4_in_ipv4)                                                                                \
    X(ipv6_in_ipv4)                                                                                \
    X(ipv4_in_ipv6)                                                                                \
    X(ipv6_in_ipv6)                                                                                \
    X(fragments)

struct vg_decode_stats {
#define VG_DC_FIELD(name) uint64_t name;
    VG_DECODE_COUNTERS(VG_DC_FIELD)
#undef VG_DC_FIELD
    uint64_t max_pkt_size; /* a maximum, not a sum */
    uint64_t events[VG_EV__COUNT];
};

/* Returns the Suricata name of a decoder event ("ipv4.trunc_pkt"), or "unknown". */
const char *decode_event_name(unsigned ev);

/* Returns the event whose name is name ("ipv4.trunc_pkt"), or VG_EV_NONE. */
unsigned decode_event_lookup(const char *name);

/* Returns 1 if Vigil can decode packets of libpcap link type dlt, else 0. */
int decode_datalink_supported(int dlt);

/*
 * Decodes p->data (p->caplen bytes, link type p->datalink) into p's fields and counts what it
 * saw in st. Malformed layers raise events on p and in st; decoding never reads beyond caplen.
 * Returns 0 if the packet decoded to a usable network layer (or a fragment), -1 if it is
 * invalid (VG_PKT_INVALID set). Resets every decoded field of p first.
 */
int decode_packet(struct vg_decode_stats *st, struct vg_packet *p);

/* Raises decoder event ev on p (kept if there is room) and counts it in st. */
void decode_set_event(struct vg_decode_stats *st, struct vg_packet *p, unsigned ev);

/* Returns 1 if p carries event ev. */
int decode_has_event(const struct vg_packet *p, unsigned ev);

/* Adds every counter of src into dst (for aggregating threads). */
void decode_stats_merge(struct vg_decode_stats *dst, const struct vg_decode_stats *src);

#endif
