/* fuzz_http.c: libFuzzer harness for the HTTP/1.x parser: both directions in random pieces. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/app-http.h"
#include "vigil/detect.h"
#include "vigil/eve-http.h"

/*
 * Input: a config byte, a 2-byte big-endian split point, then the data: bytes before the split
 * are the request stream, the rest the response stream. Piece sizes come from a small PRNG
 * seeded by the config byte; some pieces become gaps. Every buffer of every tx is read in full
 * (so ASan checks its bounds) and EVE objects are built.
 */

static uint64_t file_bytes;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_http: %s\n", what);
    abort();
}

static void on_file(void *ctx, struct http_tx *tx, int dir, const uint8_t *data, uint32_t len,
                    int last)
{
    (void)ctx;
    (void)tx;
    (void)dir;
    (void)last;
    volatile uint8_t sink = 0;
    for (uint32_t i = 0; i < len; i++)
        sink ^= data[i];
    (void)sink;
    file_bytes += len;
}

static void inspect(struct http_state *s, int release)
{
    unsigned n = http_tx_count(s);
    uint64_t prev = 0;
    for (unsigned i = 0; i < n; i++) {
        struct http_tx *tx = http_tx_get(s, i);
        if (tx == NULL)
            fail("tx_get NULL below count");
        if (i > 0 && tx->id != prev + 1)
            fail("tx ids not consecutive");
        prev = tx->id;
        for (unsigned b = DB_HTTP_URI; b <= DB_FILE_DATA; b++)
            for (int d = 0; d < 2; d++) {
                uint32_t len = 0;
                const uint8_t *p = http_tx_buffer(tx, b, d, &len);
                if (p == NULL && len != 0)
                    fail("NULL buffer with a length");
                volatile uint8_t x = 0;
                for (uint32_t k = 0; k < len; k++)
                    x ^= p[k];
                (void)x;
            }
        uint32_t fl;
        const uint8_t *fn = http_tx_filename(tx, 1, &fl);
        if (fn != NULL && fl == 0)
            fail("empty filename");
        json_t *o = eve_http_object(tx, 1);
        if (o == NULL)
            fail("eve_http_object failed");
        char *js = json_dumps(o, JSON_COMPACT);
        if (js == NULL)
            fail("EVE object does not serialise");
        free(js);
        json_decref(o);
    }
    if (release && n > 0)
        http_tx_release(s, http_tx_get(s, n - 1)->id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t cfgb = data[0];
    size_t split = ((size_t)data[1] << 8) | data[2];
    data += 3;
    size -= 3;
    if (split > size)
        split = size;
    struct http_config c;
    http_config_defaults(&c);
    if (cfgb & 1) {
        /* small limits, to reach them */
        c.request_body_limit = 64;
        c.response_body_limit = 100;
        c.max_header_bytes = 512;
        c.max_line = 128;
        c.max_headers = 8;
        c.max_txs = 4;
        c.decompress_limit = 4096;
        c.decompress_requests = 1;
    }
    struct http_state *s = http_state_new(&c);
    if (s == NULL)
        return 0;
    if (cfgb & 2)
        http_state_set_file_cb(s, on_file, NULL);
    const uint8_t *stream[2] = {data, data + split};
    size_t len[2] = {split, size - split}, off[2] = {0, 0};
    uint32_t rng = 0x9e3779b9u ^ cfgb;
    while (off[0] < len[0] || off[1] < len[1]) {
        rng = rng * 1103515245u + 12345u;
        int dir = (rng >> 16) & 1;
        if (off[dir] >= len[dir])
            dir ^= 1;
        size_t piece = 1 + ((rng >> 8) % 97);
        if (piece > len[dir] - off[dir])
            piece = len[dir] - off[dir];
        if ((cfgb & 4) && ((rng >> 24) & 31) == 0)
            http_gap(s, dir, (uint32_t)piece);
        else
            (void)http_parse(s, dir, stream[dir] + off[dir], (uint32_t)piece);
        off[dir] += piece;
        inspect(s, (cfgb & 8) != 0);
    }
    http_eof(s, 0);
    http_eof(s, 1);
    inspect(s, 0);
    for (unsigned i = 0; i < http_tx_count(s); i++)
        if (!http_tx_complete(http_tx_get(s, i)))
            fail("tx incomplete after both ends");
    http_tx_release(s, UINT64_MAX);
    if (http_tx_count(s) != 0)
        fail("txs left after releasing all at the end");
    http_state_free(s);
    return 0;
}
