/* fuzz_decode.c: libFuzzer harness for the packet decoders; the first byte picks the link type. */
#include <pcap/dlt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/decode.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

/* Indexed by the first input byte modulo 6. */
static const uint32_t dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2,
                                DLT_RAW,    DLT_NULL,      DLT_LOOP};

/* Aborts (a finding for libFuzzer) when what decode_packet promises does not hold. */
static void check(const struct vg_packet *p, int rc)
{
    const char *bad = NULL;
    if ((rc < 0) != ((p->flags & VG_PKT_INVALID) != 0))
        bad = "return code and VG_PKT_INVALID disagree";
    else if (p->nevents > VG_PKT_MAX_EVENTS || p->vlan_cnt > VG_PKT_MAX_VLAN)
        bad = "event or VLAN count out of range";
    else if (!(p->flags & VG_PKT_INVALID)) {
        if (p->l4_off > p->caplen || (uint64_t)p->payload_off + p->payload_len > p->caplen)
            bad = "L4 or payload beyond the capture";
        else if (p->ip_ver != 0 && (uint64_t)p->l3_off + p->l3_len > p->caplen)
            bad = "L3 beyond the capture";
    }
    if (bad != NULL) {
        fprintf(stderr, "fuzz_decode: %s\n", bad);
        abort();
    }
    /* Touch what the packet claims to hold, so ASan checks the ranges. */
    volatile uint8_t x = 0;
    if (!(p->flags & VG_PKT_INVALID))
        for (uint32_t i = 0; i < p->payload_len; i++)
            x ^= p->data[p->payload_off + i];
    (void)x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t len = size - 1;
    /* An exact-size copy, so that reading one byte past the capture is an ASan report. */
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, len);

    struct vg_decode_stats st;
    memset(&st, 0, sizeof(st));
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.data = buf;
    p.caplen = p.wirelen = (uint32_t)len;
    p.datalink = dlts[data[0] % (sizeof(dlts) / sizeof(dlts[0]))];
    int rc = decode_packet(&st, &p);
    check(&p, rc);

    free(buf);
    return 0;
}
