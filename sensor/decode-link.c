/* decode-link.c: link-layer decoders: Ethernet, 802.1Q/QinQ VLAN, MPLS, Linux SLL/SLL2, BSD null. */
#include "decode-internal.h"

#define ETH_HDR_LEN 14
#define VLAN_HDR_LEN 4
#define MPLS_HDR_LEN 4
#define SLL_HDR_LEN 16
#define SLL2_HDR_LEN 20
#define NULL_HDR_LEN 4

static int decode_vlan(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len)
{
    if (len < VLAN_HDR_LEN) {
        decode_set_event(st, p, VG_EV_VLAN_HEADER_TOO_SMALL);
        return -1;
    }
    if (p->vlan_cnt >= VG_PKT_MAX_VLAN) {
        decode_set_event(st, p, VG_EV_VLAN_TOO_MANY_LAYERS);
        return -1;
    }
    if (p->vlan_cnt == 0)
        st->vlan++;
    else
        st->vlan_qinq++;
    const uint8_t *h = p->data + off;
    p->vlan_id[p->vlan_cnt++] = vg_be16(h) & 0x0fff;
    uint16_t type = vg_be16(h + 2);
    return decode_ethertype(st, p, type, off + VLAN_HDR_LEN, len - VLAN_HDR_LEN);
}

static int decode_mpls(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len)
{
    st->mpls++;
    for (int n = 0; n < VG_MAX_MPLS_LABELS; n++) {
        if (len < MPLS_HDR_LEN) {
            decode_set_event(st, p, VG_EV_MPLS_HEADER_TOO_SMALL);
            return -1;
        }
        uint32_t entry = vg_be32(p->data + off);
        uint32_t label = entry >> 12;
        int bottom = (entry >> 8) & 1;
        off += MPLS_HDR_LEN;
        len -= MPLS_HDR_LEN;
        if (!bottom)
            continue;
        if (label == 0) /* IPv4 explicit null */
            return decode_ipv4(st, p, off, len);
        if (label == 2) /* IPv6 explicit null */
            return decode_ipv6(st, p, off, len);
        if (label < 16 && label != 1) {
            decode_set_event(st, p, VG_EV_MPLS_BAD_LABEL_RESERVED);
            return -1;
        }
        if (len < 1) {
            decode_set_event(st, p, VG_EV_MPLS_PKT_TOO_SMALL);
            return -1;
        }
        switch (p->data[off] >> 4) {
        case 4:
            return decode_ipv4(st, p, off, len);
        case 6:
            return decode_ipv6(st, p, off, len);
        case 0: /* pseudowire control word, then an Ethernet frame */
            if (len < 4 + ETH_HDR_LEN) {
                decode_set_event(st, p, VG_EV_MPLS_PKT_TOO_SMALL);
                return -1;
            }
            return decode_ethernet(st, p, off + 4, len - 4);
        default:
            decode_set_event(st, p, VG_EV_MPLS_UNKNOWN_PAYLOAD_TYPE);
            return -1;
        }
    }
    decode_set_event(st, p, VG_EV_MPLS_UNKNOWN_PAYLOAD_TYPE);
    return -1;
}

/* Ethertypes that are valid on the wire but carry nothing Vigil inspects. */
static int ethertype_known(uint16_t type)
{
    switch (type) {
    case VG_ETH_ARP:
    case 0x8035: /* RARP */
    case 0x8137: /* IPX */
    case 0x8809: /* slow protocols (LACP) */
    case 0x8863: /* PPPoE discovery */
    case 0x8864: /* PPPoE session */
    case 0x886d: /* Intel ANS */
    case 0x888e: /* 802.1X */
    case 0x8892: /* PROFINET */
    case 0x88cc: /* LLDP */
    case 0x88e5: /* MACsec */
    case 0x88e7: /* PBB */
    case 0x88f7: /* PTP */
    case 0x8902: /* CFM */
    case 0x9000: /* loopback */
        return 1;
    default:
        return type < 0x0600; /* an 802.3 length field: LLC/SNAP frames */
    }
}

int decode_ethertype(struct vg_decode_stats *st, struct vg_packet *p, uint16_t type, uint32_t off,
                     uint32_t len)
{
    switch (type) {
    case VG_ETH_IPV4:
        return decode_ipv4(st, p, off, len);
    case VG_ETH_IPV6:
        return decode_ipv6(st, p, off, len);
    case VG_ETH_VLAN:
    case VG_ETH_QINQ:
    case VG_ETH_QINQ_OLD:
        return decode_vlan(st, p, off, len);
    case VG_ETH_MPLS_UC:
    case VG_ETH_MPLS_MC:
        return decode_mpls(st, p, off, len);
    default:
        if (!ethertype_known(type)) {
            /* Not malformed, only not ours: counted, and the packet stays valid. */
            decode_set_event(st, p, p->vlan_cnt ? VG_EV_VLAN_UNKNOWN_TYPE
                                                : VG_EV_ETHERNET_UNKNOWN_ETHERTYPE);
        }
        return 0;
    }
}

int decode_ethernet(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len)
{
    if (len < ETH_HDR_LEN) {
        decode_set_event(st, p, VG_EV_ETHERNET_PKT_TOO_SMALL);
        return -1;
    }
    st->ethernet++;
    uint16_t type = vg_be16(p->data + off + 12);
    return decode_ethertype(st, p, type, off + ETH_HDR_LEN, len - ETH_HDR_LEN);
}

int decode_sll(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len)
{
    if (len < SLL_HDR_LEN) {
        decode_set_event(st, p, VG_EV_SLL_PKT_TOO_SMALL);
        return -1;
    }
    st->sll++;
    uint16_t type = vg_be16(p->data + off + 14);
    return decode_ethertype(st, p, type, off + SLL_HDR_LEN, len - SLL_HDR_LEN);
}

int decode_sll2(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len)
{
    if (len < SLL2_HDR_LEN) {
        decode_set_event(st, p, VG_EV_SLL2_PKT_TOO_SMALL);
        return -1;
    }
    st->sll2++;
    uint16_t type = vg_be16(p->data + off);
    return decode_ethertype(st, p, type, off + SLL2_HDR_LEN, len - SLL2_HDR_LEN);
}

int decode_null(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len,
                int network_order)
{
    if (len < NULL_HDR_LEN) {
        decode_set_event(st, p, VG_EV_LTNULL_PKT_TOO_SMALL);
        return -1;
    }
    st->null++;
    /*
     * DLT_NULL stores the address family in the byte order of the machine that captured, so
     * either order may be found; DLT_LOOP is always in network order.
     */
    const uint8_t *h = p->data + off;
    uint32_t family = network_order ? vg_be32(h) : vg_le32(h);
    if (!network_order && family > 0xffff)
        family = vg_be32(h);
    switch (family) {
    case 2: /* AF_INET everywhere */
        return decode_ipv4(st, p, off + NULL_HDR_LEN, len - NULL_HDR_LEN);
    case 10: /* AF_INET6: Linux */
    case 24: /* NetBSD, OpenBSD */
    case 28: /* FreeBSD */
    case 30: /* macOS */
        return decode_ipv6(st, p, off + NULL_HDR_LEN, len - NULL_HDR_LEN);
    default:
        decode_set_event(st, p, VG_EV_LTNULL_UNSUPPORTED_TYPE);
        return -1;
    }
}
