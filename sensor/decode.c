/* decode.c: the decoder entry point, link-type dispatch and the decoder event table. */
#include <pcap/dlt.h>
#include <stddef.h>
#include <string.h>

#include "decode-internal.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

static const char *const event_names[VG_EV__COUNT] = {
    [VG_EV_NONE] = "none",
#define VG_EV_NAME(sym, name) [VG_EV_##sym] = name,
    VG_DECODE_EVENTS(VG_EV_NAME)
#undef VG_EV_NAME
};

const char *decode_event_name(unsigned ev)
{
    return ev < VG_EV__COUNT ? event_names[ev] : "unknown";
}

unsigned decode_event_lookup(const char *name)
{
    for (unsigned i = 1; i < VG_EV__COUNT; i++)
        if (strcmp(event_names[i], name) == 0)
            return i;
    return VG_EV_NONE;
}

void decode_set_event(struct vg_decode_stats *st, struct vg_packet *p, unsigned ev)
{
    if (ev == VG_EV_NONE || ev >= VG_EV__COUNT)
        return;
    st->events[ev]++;
    for (unsigned i = 0; i < p->nevents; i++)
        if (p->events[i] == ev)
            return;
    if (p->nevents < VG_PKT_MAX_EVENTS)
        p->events[p->nevents++] = (uint16_t)ev;
}

int decode_has_event(const struct vg_packet *p, unsigned ev)
{
    for (unsigned i = 0; i < p->nevents; i++)
        if (p->events[i] == ev)
            return 1;
    return 0;
}

void decode_stats_merge(struct vg_decode_stats *dst, const struct vg_decode_stats *src)
{
#define VG_DC_ADD(name) dst->name += VG_CNT_GET(src->name);
    VG_DECODE_COUNTERS(VG_DC_ADD)
#undef VG_DC_ADD
    if (VG_CNT_GET(src->max_pkt_size) > dst->max_pkt_size)
        dst->max_pkt_size = VG_CNT_GET(src->max_pkt_size);
    for (unsigned i = 0; i < VG_EV__COUNT; i++)
        dst->events[i] += VG_CNT_GET(src->events[i]);
}

int decode_datalink_supported(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_NULL:
    case DLT_LOOP:
    case VG_DLT_REASSEMBLED:
        return 1;
    default:
        return 0;
    }
}

int decode_raw_ip(struct vg_decode_stats *st, struct vg_packet *p, uint32_t off, uint32_t len)
{
    if (len < 1) {
        decode_set_event(st, p, VG_EV_IPRAW_INVALID_IP_VERSION);
        return -1;
    }
    switch (p->data[off] >> 4) {
    case 4:
        return decode_ipv4(st, p, off, len);
    case 6:
        return decode_ipv6(st, p, off, len);
    default:
        decode_set_event(st, p, VG_EV_IPRAW_INVALID_IP_VERSION);
        return -1;
    }
}

int decode_packet(struct vg_decode_stats *st, struct vg_packet *p)
{
    /* Everything from vlan_id on is decoder output; clear it and keep the capture fields. */
    memset(&p->vlan_id, 0, sizeof(*p) - offsetof(struct vg_packet, vlan_id));
    p->flags &= VG_PKT_REASSEMBLED;

    /* A datagram rebuilt from fragments was counted as its fragments already. */
    if (p->datalink != VG_DLT_REASSEMBLED) {
        st->pkts++;
        st->bytes += p->caplen;
        if (p->caplen > st->max_pkt_size)
            st->max_pkt_size = p->caplen;
    }

    int rc;
    uint32_t len = p->caplen;
    switch (p->datalink) {
    case DLT_EN10MB:
        rc = decode_ethernet(st, p, 0, len);
        break;
    case DLT_LINUX_SLL:
        rc = decode_sll(st, p, 0, len);
        break;
    case DLT_LINUX_SLL2:
        rc = decode_sll2(st, p, 0, len);
        break;
    case DLT_NULL:
        rc = decode_null(st, p, 0, len, 0);
        break;
    case DLT_LOOP:
        rc = decode_null(st, p, 0, len, 1);
        break;
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
        st->raw++;
        rc = decode_raw_ip(st, p, 0, len);
        break;
    case VG_DLT_REASSEMBLED:
        rc = decode_raw_ip(st, p, 0, len);
        break;
    default:
        decode_set_event(st, p, VG_EV_UNSUPPORTED_LINKTYPE);
        rc = -1;
        break;
    }
    if (rc < 0) {
        p->flags |= VG_PKT_INVALID;
        st->invalid++;
        return -1;
    }
    return 0;
}
