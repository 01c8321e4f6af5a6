/* fuzz_stream.c: libFuzzer harness for TCP reassembly: segment sequences over a few flows. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/stream.h"

/*
 * Input: one configuration byte (bits 0-3 policy, bit 4 midstream, bit 5 tiny memcap, bits
 * 6-7 depth: unlimited, 16, 1000 bytes or 1 MiB), then records of 5 bytes and data:
 *   byte 0: bit 0 direction, bits 1-2 flow (of 4), bit 3 "end the flow", bit 4 "the first
 *           bytes (up to 40) of the payload are TCP options after a 20-byte header" (the
 *           timestamp the engine reads), bits 5-7 ignored
 *   byte 1: TCP flags as on the wire
 *   bytes 2-3: signed big-endian delta added to the direction's next sequence number
 *   byte 4: payload length, taken from the bytes that follow (cut short at the end)
 * Each direction's next sequence number starts near 2^32 and moves past every segment sent,
 * so a delta of 0 continues in order. The callback checks the delivery contract.
 */

#define NFLOWS 4

struct fdir {
    uint64_t next_off;
    int eof, depth;
};

struct fstate {
    struct flow flow[NFLOWS];
    struct fdir d[NFLOWS][2];
    uint32_t seq[NFLOWS][2];
    uint32_t depth;
};

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_stream: %s\n", what);
    abort();
}

static void on_data(void *ctx, struct flow *f, int dir, const uint8_t *data, uint32_t len,
                    uint64_t offset, unsigned flags)
{
    struct fstate *s = ctx;
    if (f < s->flow || f >= s->flow + NFLOWS || (dir != 0 && dir != 1))
        fail("callback for an unknown flow or direction");
    struct fdir *d = &s->d[f - s->flow][dir];
    if (d->eof)
        fail("callback after EOF");
    if (offset != d->next_off)
        fail("offset does not continue the stream");
    switch (flags) {
    case 0:
        if (data == NULL || len == 0)
            fail("empty data call");
        if (d->depth)
            fail("data after the depth notice");
        /* Touch every byte so that ASan sees reads of freed or short buffers. */
        {
            volatile uint8_t x = 0;
            for (uint32_t i = 0; i < len; i++)
                x ^= data[i];
            (void)x;
        }
        d->next_off += len;
        break;
    case STREAM_DATA_GAP:
        if (data != NULL || len == 0)
            fail("bad gap call");
        if (d->depth)
            fail("gap after the depth notice");
        d->next_off += len;
        break;
    case STREAM_DATA_DEPTH:
        if (data != NULL || len != 0 || d->depth)
            fail("bad depth notice");
        d->depth = 1;
        break;
    case STREAM_DATA_EOF:
        if (data != NULL || len != 0)
            fail("bad EOF call");
        d->eof = 1;
        break;
    default:
        fail("unknown flags");
    }
    if (s->depth != 0 && d->next_off > s->depth)
        fail("delivered past the depth");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const uint32_t depths[4] = {0, 16, 1000, 1u << 20};
    struct stream_config cfg;
    stream_config_defaults(&cfg);
    cfg.policy = (enum stream_policy)((data[0] & 15) % STREAM_POLICY__COUNT);
    cfg.midstream = (data[0] >> 4) & 1;
    cfg.memcap = (data[0] & 0x20) ? 1024 : 1u << 20;
    cfg.depth = depths[data[0] >> 6];
    cfg.max_segments = 16;
    struct stream_engine *e = stream_engine_new(&cfg, NULL);
    if (e == NULL)
        return 0;

    static struct fstate s;
    memset(&s, 0, sizeof(s));
    s.depth = cfg.depth;
    for (int i = 0; i < NFLOWS; i++) {
        s.seq[i][0] = 0xFFFFFF00u + (uint32_t)i * 16;
        s.seq[i][1] = 0x7FFFFFF0u + (uint32_t)i;
    }

    struct stream_stats st;
    size_t pos = 1;
    unsigned npkts = 0;
    while (pos + 5 <= size && npkts < 4096) {
        const uint8_t *r = data + pos;
        pos += 5;
        npkts++;
        int dir = r[0] & 1, fi = (r[0] >> 1) & 3;
        struct flow *f = &s.flow[fi];
        if (r[0] & 8) {
            stream_flow_end(e, f, on_data, &s);
            if (f->stream != NULL)
                fail("state left after the flow ended");
            memset(&s.d[fi], 0, sizeof(s.d[fi]));
            continue;
        }
        uint32_t len = r[4];
        if (len > size - pos)
            len = (uint32_t)(size - pos);
        int16_t delta = (int16_t)((r[2] << 8) | r[3]);
        uint32_t seq = s.seq[fi][dir] + (uint32_t)(int32_t)delta;

        struct vg_packet p;
        memset(&p, 0, sizeof(p));
        p.proto = 6;
        p.ip_ver = 4;
        p.flags = VG_PKT_HAS_PORTS;
        p.tcp_flags = r[1];
        p.tcp_seq = seq;
        p.tcp_ack = s.seq[fi][dir ^ 1];
        /* An exact-size copy, so that reads past the payload are caught. */
        uint32_t olen = 0, hdr = 0;
        if (r[0] & 0x10) {
            olen = len < 40 ? len : 40;
            hdr = 20;
        }
        uint8_t *buf = malloc(hdr + len ? hdr + len : 1);
        if (buf == NULL)
            break;
        memset(buf, 0, hdr);
        if (len)
            memcpy(buf + hdr, data + pos, len);
        p.data = buf;
        p.l4_off = 0;
        p.payload_off = hdr + olen;
        p.payload_len = len - olen;
        p.caplen = hdr + len;
        pos += len;
        stream_handle_packet(e, f, &p, dir, on_data, &s);
        free(buf);
        s.seq[fi][dir] = seq + (len - olen) + ((r[1] & (VG_TH_SYN | VG_TH_FIN)) ? 1u : 0u);

        stream_engine_stats(e, &st);
        if (st.memuse > cfg.memcap)
            fail("memuse above the memcap");
    }
    for (int i = 0; i < NFLOWS; i++)
        stream_flow_end(e, &s.flow[i], on_data, &s);
    stream_engine_stats(e, &st);
    if (st.memuse != 0 || st.flows != 0)
        fail("memory or flows left after every flow ended");
    stream_engine_free(e);
    return 0;
}
