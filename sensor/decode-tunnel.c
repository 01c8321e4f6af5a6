/* decode-tunnel.c: tunnel decoders (GRE, ERSPAN II, VXLAN, IP-in-IP) that decode the inner packet. */
#include <string.h>

#include "decode-internal.h"

#define GRE_HDR_LEN 4
#define VXLAN_HDR_LEN 8
#define ERSPAN2_HDR_LEN 8

enum {
    GRE_FLAG_CSUM = 0x8000,
    GRE_FLAG_ROUTE = 0x4000,
    GRE_FLAG_KEY = 0x2000,
    GRE_FLAG_SEQ = 0x1000,
    GRE_FLAG_SSR = 0x0800,
    GRE_MASK_RECUR = 0x0700,
    GRE_FLAG_ACK = 0x0080,
    GRE_MASK_FLAGS = 0x00f8,
    GRE_MASK_VER = 0x0007,
    GRE_PROTO_PPP = 0x880b,
};

int decode_tunnel(struct vg_decode_stats *st, struct vg_packet *p, uint16_t ethertype,
                  uint32_t off, uint32_t len)
{
    if (p->tunnel_depth >= VG_MAX_TUNNEL_DEPTH) {
        decode_set_event(st, p, VG_EV_TOO_MANY_LAYERS);
        return -1;
    }
    /*
     * The inner decode overwrites the L3/L4 fields. Keep the outer ones so that a malformed
     * inner packet still leaves a valid (outer) packet behind, as a separate pseudo packet
     * would in Suricata.
     */
    struct vg_packet outer = *p;
    p->tunnel_depth++;
    p->flags |= VG_PKT_TUNNEL;
    p->flags &= ~(uint32_t)(VG_PKT_HAS_PORTS | VG_PKT_IPV4_OPTS);
    p->ip_ver = 0; /* stays 0 if the inner frame is not IP: then the outer packet is kept */
    p->sp = p->dp = 0;
    p->tcp_flags = p->icmp_type = p->icmp_code = 0;
    int rc = ethertype == 0 ? decode_ethernet(st, p, off, len)
                            : decode_ethertype(st, p, ethertype, off, len);
    if (rc < 0 || p->ip_ver == 0) {
        uint8_t nevents = p->nevents;
        uint16_t events[VG_PKT_MAX_EVENTS];
        memcpy(events, p->events, sizeof(events));
        *p = outer;
        p->nevents = nevents;
        memcpy(p->events, events, sizeof(events));
    }
    return 0;
}

int decode_gre(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len)
{
    if (len < GRE_HDR_LEN) {
        decode_set_event(st, p, VG_EV_GRE_PKT_TOO_SMALL);
        return -1;
    }
    st->gre++;
    const uint8_t *h = p->data + off;
    uint16_t flags = vg_be16(h);
    uint16_t proto = vg_be16(h + 2);
    uint32_t hlen = GRE_HDR_LEN;
    p->l4_off = off;
    p->payload_off = off;
    p->payload_len = len;

    switch (flags & GRE_MASK_VER) {
    case 0:
        if (flags & GRE_MASK_RECUR) {
            decode_set_event(st, p, VG_EV_GRE_VERSION0_RECUR);
            return -1;
        }
        if (flags & GRE_MASK_FLAGS) {
            decode_set_event(st, p, VG_EV_GRE_VERSION0_FLAGS);
            return -1;
        }
        if (flags & (GRE_FLAG_CSUM | GRE_FLAG_ROUTE))
            hlen += 4;
        if (flags & GRE_FLAG_KEY)
            hlen += 4;
        if (flags & GRE_FLAG_SEQ)
            hlen += 4;
        if (hlen > len) {
            decode_set_event(st, p, VG_EV_GRE_VERSION0_HDR_TOO_BIG);
            return -1;
        }
        if (flags & GRE_FLAG_ROUTE) {
            /* Source route entries follow until a null entry (RFC 1701). */
            for (;;) {
                if (hlen + 4 > len) {
                    decode_set_event(st, p, VG_EV_GRE_VERSION0_HDR_TOO_BIG);
                    return -1;
                }
                uint8_t sre_len = h[hlen + 3];
                uint16_t af = vg_be16(h + hlen);
                hlen += 4;
                if (af == 0 && sre_len == 0)
                    break;
                hlen += sre_len;
            }
        }
        break;
    case 1: /* enhanced GRE (PPTP) carries PPP, which Vigil does not decode */
        if (flags & GRE_FLAG_CSUM) {
            decode_set_event(st, p, VG_EV_GRE_VERSION1_CHKSUM);
            return -1;
        }
        if (flags & GRE_FLAG_ROUTE) {
            decode_set_event(st, p, VG_EV_GRE_VERSION1_ROUTE);
            return -1;
        }
        if (!(flags & GRE_FLAG_KEY)) {
            decode_set_event(st, p, VG_EV_GRE_VERSION1_NO_KEY);
            return -1;
        }
        if (proto != GRE_PROTO_PPP) {
            decode_set_event(st, p, VG_EV_GRE_VERSION1_WRONG_PROTOCOL);
            return -1;
        }
        hlen += 4 + ((flags & GRE_FLAG_SEQ) ? 4 : 0) + ((flags & GRE_FLAG_ACK) ? 4 : 0);
        if (hlen > len) {
            decode_set_event(st, p, VG_EV_GRE_VERSION1_HDR_TOO_BIG);
            return -1;
        }
        return 0;
    default:
        decode_set_event(st, p, VG_EV_GRE_WRONG_VERSION);
        return -1;
    }

    p->payload_off = off + hlen;
    p->payload_len = len - hlen;
    switch (proto) {
    case VG_ETH_IPV4:
    case VG_ETH_IPV6:
    case VG_ETH_MPLS_UC:
    case VG_ETH_MPLS_MC:
        return decode_tunnel(st, p, proto, off + hlen, len - hlen);
    case VG_ETH_TEB:
        return decode_tunnel(st, p, 0, off + hlen, len - hlen);
    case VG_ETH_ERSPAN2:
        if (len - hlen < ERSPAN2_HDR_LEN)
            return 0;
        return decode_tunnel(st, p, 0, off + hlen + ERSPAN2_HDR_LEN,
                             len - hlen - ERSPAN2_HDR_LEN);
    default:
        return 0;
    }
}

int decode_vxlan(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len)
{
    const uint8_t *h = p->data + off;
    /* The I flag must be set and the reserved bits clear, or this is not VXLAN. */
    if (len < VXLAN_HDR_LEN || h[0] != 0x08 || h[7] != 0)
        return 0;
    if (len < VXLAN_HDR_LEN + 14) {
        decode_set_event(st, p, VG_EV_VXLAN_PKT_TOO_SMALL);
        return 0;
    }
    st->vxlan++;
    return decode_tunnel(st, p, 0, off + VXLAN_HDR_LEN, len - VXLAN_HDR_LEN);
}
