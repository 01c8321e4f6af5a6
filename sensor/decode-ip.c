/* decode-ip.c: IPv4 (with options) and IPv6 (with extension headers) decoders, fragments marked. */
#include <string.h>

#include "decode-internal.h"

#define IPV4_HDR_LEN 20
#define IPV6_HDR_LEN 40

enum {
    IPPROTO_V_HOPOPTS = 0,
    IPPROTO_V_ICMP = 1,
    IPPROTO_V_IPIP = 4,
    IPPROTO_V_TCP = 6,
    IPPROTO_V_UDP = 17,
    IPPROTO_V_IPV6 = 41,
    IPPROTO_V_ROUTING = 43,
    IPPROTO_V_FRAGMENT = 44,
    IPPROTO_V_GRE = 47,
    IPPROTO_V_ESP = 50,
    IPPROTO_V_AH = 51,
    IPPROTO_V_ICMPV6 = 58,
    IPPROTO_V_NONE = 59,
    IPPROTO_V_DSTOPTS = 60,
    IPPROTO_V_MH = 135,
};

/* IPv4 option types Suricata validates. */
enum {
    IPV4_OPT_EOL = 0,
    IPV4_OPT_NOP = 1,
    IPV4_OPT_RR = 7,
    IPV4_OPT_QS = 25,
    IPV4_OPT_TS = 68,
    IPV4_OPT_SEC = 130,
    IPV4_OPT_LSRR = 131,
    IPV4_OPT_CIPSO = 134,
    IPV4_OPT_SID = 136,
    IPV4_OPT_SSRR = 137,
    IPV4_OPT_RTRALT = 148,
};

/* Checks the IPv4 options in opts[0..len); raises events, never fails the packet. */
static void decode_ipv4_options(struct vg_decode_stats *st, struct vg_packet *p,
                                const uint8_t *opts, uint32_t len)
{
    uint32_t seen = 0; /* bit per known option, for duplicates */
    uint32_t i = 0;
    p->flags |= VG_PKT_IPV4_OPTS;
    while (i < len) {
        uint8_t type = opts[i];
        if (type == IPV4_OPT_EOL)
            return;
        if (type == IPV4_OPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= len) {
            decode_set_event(st, p, VG_EV_IPV4_OPT_MALFORMED);
            return;
        }
        uint8_t olen = opts[i + 1];
        if (olen < 2) {
            decode_set_event(st, p, VG_EV_IPV4_OPT_INVALID_LEN);
            return;
        }
        if (i + olen > len) {
            decode_set_event(st, p, VG_EV_IPV4_OPT_MALFORMED);
            return;
        }
        int bit;
        switch (type) {
        case IPV4_OPT_RR:
        case IPV4_OPT_LSRR:
        case IPV4_OPT_SSRR:
            bit = type == IPV4_OPT_RR ? 0 : type == IPV4_OPT_LSRR ? 1 : 2;
            /* length 3 + 4n, pointer >= 4 and 4-aligned past the header */
            if (olen < 3 || (olen - 3) % 4 != 0 || opts[i + 2] < 4 || opts[i + 2] % 4 != 0)
                decode_set_event(st, p, VG_EV_IPV4_OPT_INVALID_LEN);
            break;
        case IPV4_OPT_QS:
            bit = 3;
            if (olen != 8)
                decode_set_event(st, p, VG_EV_IPV4_OPT_INVALID_LEN);
            break;
        case IPV4_OPT_TS:
            bit = 4;
            if (olen < 5 || opts[i + 2] < 5)
                decode_set_event(st, p, VG_EV_IPV4_OPT_INVALID_LEN);
            break;
        case IPV4_OPT_SEC:
            bit = 5;
            break;
        case IPV4_OPT_CIPSO:
            bit = 6;
            if (olen < 6)
                decode_set_event(st, p, VG_EV_IPV4_OPT_INVALID_LEN);
            break;
        case IPV4_OPT_SID:
            bit = 7;
            if (olen != 4)
                decode_set_event(st, p, VG_EV_IPV4_OPT_INVALID_LEN);
            break;
        case IPV4_OPT_RTRALT:
            bit = 8;
            if (olen != 4)
                decode_set_event(st, p, VG_EV_IPV4_OPT_INVALID_LEN);
            break;
        default:
            bit = -1;
            decode_set_event(st, p, VG_EV_IPV4_OPT_UNKNOWN);
            break;
        }
        if (bit >= 0) {
            if (seen & (1u << bit))
                decode_set_event(st, p, VG_EV_IPV4_OPT_DUPLICATE);
            seen |= 1u << bit;
        }
        i += olen;
    }
}

int decode_ipv4(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len)
{
    if (len < IPV4_HDR_LEN) {
        decode_set_event(st, p, VG_EV_IPV4_PKT_TOO_SMALL);
        return -1;
    }
    const uint8_t *h = p->data + off;
    if ((h[0] >> 4) != 4) {
        decode_set_event(st, p, VG_EV_IPV4_WRONG_IP_VERSION);
        return -1;
    }
    uint32_t hlen = (uint32_t)(h[0] & 0x0f) * 4;
    if (hlen < IPV4_HDR_LEN) {
        decode_set_event(st, p, VG_EV_IPV4_HLEN_TOO_SMALL);
        return -1;
    }
    uint32_t iplen = vg_be16(h + 2);
    if (iplen < hlen) {
        decode_set_event(st, p, VG_EV_IPV4_IPLEN_SMALLER_THAN_HLEN);
        return -1;
    }
    /*
     * Fix: a capture ending inside the header (len < hlen) raised hlen_too_small, although the
     * header length is valid. As in Suricata it is a truncated packet: since iplen >= hlen, the
     * check below catches it and also keeps every later read within the capture.
     */
    if (len < iplen) {
        decode_set_event(st, p, VG_EV_IPV4_TRUNC_PKT);
        return -1;
    }
    st->ipv4++;

    p->ip_ver = 4;
    p->l3_off = off;
    p->l3_len = iplen; /* anything past it is link-layer padding */
    p->ip_tos = h[1];
    p->ttl = h[8];
    p->proto = h[9];
    memset(&p->src, 0, sizeof(p->src));
    memset(&p->dst, 0, sizeof(p->dst));
    memcpy(p->src.u8, h + 12, 4);
    memcpy(p->dst.u8, h + 16, 4);
    p->l4_off = off + hlen;
    p->payload_off = p->l4_off;
    p->payload_len = iplen - hlen;

    if (hlen > IPV4_HDR_LEN)
        decode_ipv4_options(st, p, h + IPV4_HDR_LEN, hlen - IPV4_HDR_LEN);

    uint16_t frag = vg_be16(h + 6);
    uint32_t frag_offset = (uint32_t)(frag & 0x1fff) * 8;
    int more = (frag & 0x2000) != 0;
    if (frag_offset != 0 || more) {
        st->fragments++;
        p->flags |= VG_PKT_FRAGMENT;
        p->frag_id = vg_be16(h + 4);
        p->frag_offset = frag_offset;
        p->frag_more = (uint8_t)more;
        p->frag_hdr_off = off;
        p->frag_nh_off = off + 9;
        return 0; /* the transport header, if any, is only whole after reassembly */
    }
    if (p->proto == IPPROTO_V_ICMPV6)
        decode_set_event(st, p, VG_EV_IPV4_ICMPV6);
    return decode_ip_payload(st, p, p->proto, off + hlen, iplen - hlen);
}

/* Validates the TLV options of a hop-by-hop or destination options header. */
static void decode_ipv6_opts(struct vg_decode_stats *st, struct vg_packet *p, const uint8_t *opt,
                             uint32_t len)
{
    uint32_t i = 0;
    while (i < len) {
        if (opt[i] == 0) { /* Pad1 */
            i++;
            continue;
        }
        if (i + 1 >= len || i + 2 + (uint32_t)opt[i + 1] > len) {
            decode_set_event(st, p, VG_EV_IPV6_EXTHDR_INVALID_OPTLEN);
            return;
        }
        i += 2 + (uint32_t)opt[i + 1];
    }
}

int decode_ipv6(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len)
{
    if (len < IPV6_HDR_LEN) {
        decode_set_event(st, p, VG_EV_IPV6_PKT_TOO_SMALL);
        return -1;
    }
    const uint8_t *h = p->data + off;
    if ((h[0] >> 4) != 6) {
        decode_set_event(st, p, VG_EV_IPV6_WRONG_IP_VERSION);
        return -1;
    }
    uint32_t plen = vg_be16(h + 4);
    if (len < IPV6_HDR_LEN + plen) {
        decode_set_event(st, p, VG_EV_IPV6_TRUNC_PKT);
        return -1;
    }
    st->ipv6++;

    p->ip_ver = 6;
    p->l3_off = off;
    p->l3_len = IPV6_HDR_LEN + plen;
    p->ip_tos = (uint8_t)(((h[0] & 0x0f) << 4) | (h[1] >> 4));
    p->ttl = h[7];
    memcpy(p->src.u8, h + 8, 16);
    memcpy(p->dst.u8, h + 24, 16);

    uint8_t nh = h[6];
    uint32_t nh_off = off + 6; /* where the current next-header value is stored */
    uint32_t cur = off + IPV6_HDR_LEN;
    uint32_t end = off + IPV6_HDR_LEN + plen;
    int seen_hh = 0, seen_rh = 0, seen_fh = 0, seen_dh = 0;

    for (int n = 0; n < VG_MAX_IPV6_EXTHDRS; n++) {
        uint32_t left = end - cur;
        const uint8_t *e = p->data + cur;
        uint32_t elen;
        switch (nh) {
        case IPPROTO_V_HOPOPTS:
        case IPPROTO_V_DSTOPTS:
        case IPPROTO_V_ROUTING:
        case IPPROTO_V_MH:
            if (left < 8 || left < ((uint32_t)e[1] + 1) * 8) {
                decode_set_event(st, p, VG_EV_IPV6_TRUNC_EXTHDR);
                return -1;
            }
            elen = ((uint32_t)e[1] + 1) * 8;
            if (nh == IPPROTO_V_HOPOPTS) {
                if (seen_hh++)
                    decode_set_event(st, p, VG_EV_IPV6_EXTHDR_DUPL_HH);
                decode_ipv6_opts(st, p, e + 2, elen - 2);
            } else if (nh == IPPROTO_V_DSTOPTS) {
                if (seen_dh++ >= 2)
                    decode_set_event(st, p, VG_EV_IPV6_EXTHDR_DUPL_DH);
                decode_ipv6_opts(st, p, e + 2, elen - 2);
            } else if (nh == IPPROTO_V_ROUTING) {
                if (seen_rh++)
                    decode_set_event(st, p, VG_EV_IPV6_EXTHDR_DUPL_RH);
                if (e[2] == 0)
                    decode_set_event(st, p, VG_EV_IPV6_RH_TYPE_0);
            }
            break;
        case IPPROTO_V_AH:
            if (left < 8 || left < ((uint32_t)e[1] + 2) * 4) {
                decode_set_event(st, p, VG_EV_IPV6_TRUNC_EXTHDR);
                return -1;
            }
            elen = ((uint32_t)e[1] + 2) * 4;
            break;
        case IPPROTO_V_FRAGMENT: {
            if (left < 8) {
                decode_set_event(st, p, VG_EV_IPV6_TRUNC_EXTHDR);
                return -1;
            }
            if (seen_fh++)
                decode_set_event(st, p, VG_EV_IPV6_EXTHDR_DUPL_FH);
            if (e[1] != 0 || (e[3] & 0x06) != 0)
                decode_set_event(st, p, VG_EV_IPV6_FH_NON_ZERO_RESERVED_FIELD);
            uint32_t fo = vg_be16(e + 2) & 0xfff8;
            int more = e[3] & 1;
            if (fo == 0 && !more) { /* an atomic fragment: decode straight through */
                elen = 8;
                break;
            }
            st->fragments++;
            p->flags |= VG_PKT_FRAGMENT;
            p->frag_id = vg_be32(e + 4);
            p->frag_offset = fo;
            p->frag_more = (uint8_t)more;
            p->frag_hdr_off = cur;
            p->frag_nh_off = nh_off;
            p->proto = e[0];
            p->l4_off = cur + 8;
            p->payload_off = cur + 8;
            p->payload_len = end - (cur + 8);
            if (more && (p->payload_len == 0 || p->payload_len % 8 != 0))
                decode_set_event(st, p, VG_EV_IPV6_FRAG_INVALID_LENGTH);
            return 0;
        }
        case IPPROTO_V_NONE:
            if (left > 0)
                decode_set_event(st, p, VG_EV_IPV6_DATA_AFTER_NONE_HEADER);
            p->proto = nh;
            p->l4_off = p->payload_off = cur;
            p->payload_len = 0;
            return 0;
        case IPPROTO_V_ESP:
        default:
            p->proto = nh;
            p->l4_off = cur;
            p->payload_off = cur;
            p->payload_len = left;
            if (nh == IPPROTO_V_ICMP)
                decode_set_event(st, p, VG_EV_IPV6_ICMPV4);
            return decode_ip_payload(st, p, nh, cur, left);
        }
        nh_off = cur;
        nh = e[0];
        cur += elen;
    }
    decode_set_event(st, p, VG_EV_IPV6_UNKNOWN_NEXT_HEADER);
    return -1;
}

int decode_ip_payload(struct vg_decode_stats *st, struct vg_packet *p, uint8_t proto,
                      uint32_t off, uint32_t len)
{
    switch (proto) {
    case IPPROTO_V_TCP:
        return decode_tcp(st, p, off, len);
    case IPPROTO_V_UDP:
        return decode_udp(st, p, off, len);
    case IPPROTO_V_ICMP:
        return decode_icmpv4(st, p, off, len);
    case IPPROTO_V_ICMPV6:
        return decode_icmpv6(st, p, off, len);
    case IPPROTO_V_GRE:
        return decode_gre(st, p, off, len);
    case IPPROTO_V_IPIP:
        if (p->ip_ver == 4)
            st->ipv4_in_ipv4++;
        else
            st->ipv4_in_ipv6++;
        if (len < IPV4_HDR_LEN || (p->data[off] >> 4) != 4) {
            if (p->ip_ver == 6)
                decode_set_event(st, p, len < IPV4_HDR_LEN ? VG_EV_IPV6_IPV4_IN_IPV6_TOO_SMALL
                                                           : VG_EV_IPV6_IPV4_IN_IPV6_WRONG_VERSION);
            else
                decode_set_event(st, p, len < IPV4_HDR_LEN ? VG_EV_IPV4_PKT_TOO_SMALL
                                                           : VG_EV_IPV4_WRONG_IP_VERSION);
            return 0; /* the outer packet stays valid */
        }
        return decode_tunnel(st, p, VG_ETH_IPV4, off, len);
    case IPPROTO_V_IPV6:
        if (p->ip_ver == 4)
            st->ipv6_in_ipv4++;
        else
            st->ipv6_in_ipv6++;
        if (len < IPV6_HDR_LEN || (p->data[off] >> 4) != 6) {
            if (p->ip_ver == 6)
                decode_set_event(st, p, len < IPV6_HDR_LEN ? VG_EV_IPV6_IPV6_IN_IPV6_TOO_SMALL
                                                           : VG_EV_IPV6_IPV6_IN_IPV6_WRONG_VERSION);
            else
                decode_set_event(st, p, len < IPV6_HDR_LEN ? VG_EV_IPV6_PKT_TOO_SMALL
                                                           : VG_EV_IPV6_WRONG_IP_VERSION);
            return 0;
        }
        return decode_tunnel(st, p, VG_ETH_IPV6, off, len);
    case 132: /* SCTP: ports only */
        st->sctp++;
        if (len >= 12) {
            p->sp = vg_be16(p->data + off);
            p->dp = vg_be16(p->data + off + 2);
            p->flags |= VG_PKT_HAS_PORTS;
            p->l4_off = off;
            p->payload_off = off + 12;
            p->payload_len = len - 12;
        }
        return 0;
    default:
        p->l4_off = off;
        p->payload_off = off;
        p->payload_len = len;
        return 0;
    }
}
