/* fuzz_defrag.c: libFuzzer harness for the defragmenter: many raw IP packets per input. */
#include <pcap/dlt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/decode.h"
#include "vigil/defrag.h"

/*
 * Input: one configuration byte (policy, per-datagram fragment cap, time step), then packets,
 * each a 2-byte big-endian length and that many bytes of raw IP (cut short at the end).
 */

static uint8_t out[DEFRAG_MAX_PACKET];

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_defrag: %s\n", what);
    abort();
}

/* Decodes len bytes from an exact-size copy and checks the bounds decode_packet promises. */
static int decode_copy(struct vg_decode_stats *st, struct vg_packet *p, uint8_t **buf,
                       const uint8_t *data, size_t len, uint32_t dlt, vg_time_t ts)
{
    *buf = malloc(len ? len : 1);
    if (*buf == NULL)
        return -1;
    memcpy(*buf, data, len);
    memset(p, 0, sizeof(*p));
    p->data = *buf;
    p->caplen = p->wirelen = (uint32_t)len;
    p->datalink = dlt;
    p->ts = ts;
    if (dlt == VG_DLT_REASSEMBLED)
        p->flags = VG_PKT_REASSEMBLED;
    int rc = decode_packet(st, p);
    if ((rc < 0) != ((p->flags & VG_PKT_INVALID) != 0))
        fail("return code and VG_PKT_INVALID disagree");
    if (!(p->flags & VG_PKT_INVALID) &&
        (p->l4_off > p->caplen || (uint64_t)p->payload_off + p->payload_len > p->caplen))
        fail("payload beyond the capture");
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct defrag_config cfg;
    defrag_config_defaults(&cfg);
    cfg.memcap = 48 * 1024; /* small, so that inputs reach the eviction paths */
    cfg.policy = (enum defrag_policy)(data[0] % 5);
    cfg.max_frags = 4u + ((data[0] >> 3) & 7u) * 8u;
    cfg.timeout_sec = 30;
    vg_time_t step = (vg_time_t)(1 + (data[0] >> 6)) * 5 * VG_USEC_PER_SEC;
    struct defrag *d = defrag_new(&cfg, NULL);
    if (d == NULL)
        return 0;

    struct vg_decode_stats st;
    memset(&st, 0, sizeof(st));
    vg_time_t ts = 1714521600ULL * VG_USEC_PER_SEC;
    size_t pos = 1;
    unsigned npkts = 0;
    while (pos + 2 <= size && npkts < 256) {
        size_t len = ((size_t)data[pos] << 8) | data[pos + 1];
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        ts += step;
        npkts++;

        struct vg_packet p;
        uint8_t *buf;
        int rc = decode_copy(&st, &p, &buf, data + pos, len, DLT_RAW, ts);
        pos += len;
        if (rc == 0 && (p.flags & VG_PKT_FRAGMENT)) {
            uint32_t n = defrag_insert(d, &st, &p, out);
            if (n > DEFRAG_MAX_PACKET)
                fail("reassembled datagram larger than DEFRAG_MAX_PACKET");
            if (n > 0) {
                /* The rebuilt length field must match what was rebuilt. */
                uint32_t claimed = (out[0] >> 4) == 4 ? ((uint32_t)out[2] << 8 | out[3])
                                                      : 40 + ((uint32_t)out[4] << 8 | out[5]);
                if (claimed != n)
                    fail("reassembled length field does not match the datagram");
                struct vg_packet r;
                uint8_t *rbuf;
                decode_copy(&st, &r, &rbuf, out, n, VG_DLT_REASSEMBLED, ts);
                free(rbuf);
            }
        }
        free(buf);
        if (defrag_stats(d)->memuse > cfg.memcap)
            fail("memuse above the memcap");
        if (npkts % 8 == 0)
            defrag_timeout(d, ts);
    }
    defrag_free(d);
    return 0;
}
