/* decode-l4.c: transport decoders: TCP (with options), UDP, ICMPv4 and ICMPv6. */
#include "decode-internal.h"

#define TCP_HDR_LEN 20
#define UDP_HDR_LEN 8
#define ICMP_HDR_LEN 8

enum {
    TCP_OPT_EOL = 0,
    TCP_OPT_NOP = 1,
    TCP_OPT_MSS = 2,
    TCP_OPT_WS = 3,
    TCP_OPT_SACKOK = 4,
    TCP_OPT_SACK = 5,
    TCP_OPT_TS = 8,
};

/* Checks the TCP options in o[0..len); raises events, never fails the packet. */
static void decode_tcp_options(struct vg_decode_stats *st, struct vg_packet *p, const uint8_t *o,
                               uint32_t len)
{
    unsigned seen = 0;
    uint32_t i = 0;
    while (i < len) {
        uint8_t kind = o[i];
        if (kind == TCP_OPT_EOL)
            return;
        if (kind == TCP_OPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= len) {
            decode_set_event(st, p, VG_EV_TCP_OPT_INVALID_LEN);
            return;
        }
        uint8_t olen = o[i + 1];
        if (olen < 2 || i + olen > len) {
            decode_set_event(st, p, VG_EV_TCP_OPT_INVALID_LEN);
            return;
        }
        int want = -1; /* the fixed length the option must have, -1 if variable */
        switch (kind) {
        case TCP_OPT_MSS:
            want = 4;
            break;
        case TCP_OPT_WS:
            want = 3;
            break;
        case TCP_OPT_SACKOK:
            want = 2;
            break;
        case TCP_OPT_TS:
            want = 10;
            break;
        case TCP_OPT_SACK:
            if (olen < 10 || olen > 34 || (olen - 2) % 8 != 0)
                decode_set_event(st, p, VG_EV_TCP_OPT_INVALID_LEN);
            break;
        default:
            break;
        }
        if (want >= 0 && olen != want)
            decode_set_event(st, p, VG_EV_TCP_OPT_INVALID_LEN);
        if (kind < 32 && kind != TCP_OPT_SACK) {
            if (seen & (1u << kind))
                decode_set_event(st, p, VG_EV_TCP_OPT_DUPLICATE);
            seen |= 1u << kind;
        }
        i += olen;
    }
}

int decode_tcp(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len)
{
    if (len < TCP_HDR_LEN) {
        decode_set_event(st, p, VG_EV_TCP_PKT_TOO_SMALL);
        return -1;
    }
    const uint8_t *h = p->data + off;
    uint32_t hlen = (uint32_t)(h[12] >> 4) * 4;
    if (hlen < TCP_HDR_LEN) {
        decode_set_event(st, p, VG_EV_TCP_HLEN_TOO_SMALL);
        return -1;
    }
    if (len < hlen) {
        decode_set_event(st, p, VG_EV_TCP_PKT_TOO_SMALL);
        return -1;
    }
    st->tcp++;
    p->sp = vg_be16(h);
    p->dp = vg_be16(h + 2);
    p->tcp_seq = vg_be32(h + 4);
    p->tcp_ack = vg_be32(h + 8);
    p->tcp_flags = h[13];
    p->tcp_win = vg_be16(h + 14);
    p->flags |= VG_PKT_HAS_PORTS;
    p->l4_off = off;
    p->payload_off = off + hlen;
    p->payload_len = len - hlen;
    if (hlen > TCP_HDR_LEN)
        decode_tcp_options(st, p, h + TCP_HDR_LEN, hlen - TCP_HDR_LEN);
    return 0;
}

int decode_udp(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len)
{
    if (len < UDP_HDR_LEN) {
        decode_set_event(st, p, VG_EV_UDP_HLEN_TOO_SMALL);
        return -1;
    }
    const uint8_t *h = p->data + off;
    uint32_t ulen = vg_be16(h + 4);
    if (ulen < UDP_HDR_LEN) {
        decode_set_event(st, p, VG_EV_UDP_LEN_INVALID);
        return -1;
    }
    if (len < ulen) {
        decode_set_event(st, p, VG_EV_UDP_PKT_TOO_SMALL);
        return -1;
    }
    if (len != ulen) {
        decode_set_event(st, p, VG_EV_UDP_LEN_INVALID);
        return -1;
    }
    st->udp++;
    p->sp = vg_be16(h);
    p->dp = vg_be16(h + 2);
    p->flags |= VG_PKT_HAS_PORTS;
    p->l4_off = off;
    p->payload_off = off + UDP_HDR_LEN;
    p->payload_len = ulen - UDP_HDR_LEN;
    if (p->dp == VG_VXLAN_PORT && p->payload_len >= 8)
        return decode_vxlan(st, p, p->payload_off, p->payload_len);
    return 0;
}

/* Largest valid code for each ICMPv4 type, or -1 for types that do not exist. */
static int icmpv4_max_code(uint8_t type)
{
    switch (type) {
    case 0:  /* echo reply */
    case 4:  /* source quench */
    case 8:  /* echo */
    case 10: /* router solicitation */
    case 13: /* timestamp */
    case 14:
    case 15: /* information */
    case 16:
    case 17: /* address mask */
    case 18:
        return 0;
    case 3: /* destination unreachable */
        return 15;
    case 5: /* redirect */
        return 3;
    case 9: /* router advertisement */
        return 16;
    case 11: /* time exceeded */
        return 1;
    case 12: /* parameter problem */
        return 2;
    default:
        return -1;
    }
}

int decode_icmpv4(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len)
{
    if (len < ICMP_HDR_LEN) {
        decode_set_event(st, p, VG_EV_ICMPV4_PKT_TOO_SMALL);
        return -1;
    }
    st->icmpv4++;
    const uint8_t *h = p->data + off;
    p->icmp_type = h[0];
    p->icmp_code = h[1];
    p->l4_off = off;
    p->payload_off = off + ICMP_HDR_LEN;
    p->payload_len = len - ICMP_HDR_LEN;
    int max = icmpv4_max_code(h[0]);
    if (max < 0)
        decode_set_event(st, p, VG_EV_ICMPV4_UNKNOWN_TYPE);
    else if (h[1] > max)
        decode_set_event(st, p, VG_EV_ICMPV4_UNKNOWN_CODE);
    return 0;
}

/* Largest valid code for each ICMPv6 type, or -1 for unassigned types. */
static int icmpv6_max_code(uint8_t type)
{
    if (type >= 200) /* private experimentation and reserved */
        return 255;
    switch (type) {
    case 1: /* destination unreachable */
        return 7;
    case 2: /* packet too big */
        return 0;
    case 3: /* time exceeded */
        return 1;
    case 4: /* parameter problem */
        return 3;
    case 128: /* echo request, reply */
    case 129:
    case 130: /* MLD */
    case 131:
    case 132:
    case 133: /* neighbour discovery */
    case 134:
    case 135:
    case 136:
    case 137:
    case 141:
    case 142:
    case 143: /* MLDv2 report */
    case 148:
    case 149:
    case 151:
    case 152:
    case 153:
        return 0;
    case 138: /* router renumbering */
        return 255;
    case 139: /* node information */
    case 140:
        return 2;
    case 144: /* mobile IPv6 */
    case 145:
    case 146:
    case 147:
        return 0;
    default:
        return -1;
    }
}

int decode_icmpv6(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len)
{
    if (len < ICMP_HDR_LEN) {
        decode_set_event(st, p, VG_EV_ICMPV6_PKT_TOO_SMALL);
        return -1;
    }
    st->icmpv6++;
    const uint8_t *h = p->data + off;
    p->icmp_type = h[0];
    p->icmp_code = h[1];
    p->l4_off = off;
    p->payload_off = off + ICMP_HDR_LEN;
    p->payload_len = len - ICMP_HDR_LEN;
    int max = icmpv6_max_code(h[0]);
    if (max < 0)
        decode_set_event(st, p, VG_EV_ICMPV6_UNKNOWN_TYPE);
    else if (h[1] > max)
        decode_set_event(st, p, VG_EV_ICMPV6_UNKNOWN_CODE);
    return 0;
}
