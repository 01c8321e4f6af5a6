/* fuzz_tls.c: libFuzzer harness for the TLS parser: both directions in chunks, every buffer, EVE.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/app-tls.h"
#include "vigil/detect.h"

/*
 * Input: chunks, each a 3-byte header (direction in bit 0 and a gap in bit 1 of the first
 * byte, then a 16-bit big-endian length) and that many bytes for tls_feed (cut short at the
 * end), or, for a gap, no bytes and the length as the gap's size.
 */

static void check_buffers(struct tls_state *s)
{
    static const unsigned ids[] = {DB_TLS_SNI,
                                   DB_TLS_CERT_SUBJECT,
                                   DB_TLS_CERT_ISSUER,
                                   DB_TLS_CERT_SERIAL,
                                   DB_TLS_CERT_FINGERPRINT,
                                   DB_TLS_CERTS,
                                   DB_TLS_VERSION,
                                   DB_JA3_HASH,
                                   DB_JA3_STRING,
                                   DB_JA3S_HASH,
                                   DB_JA3S_STRING,
                                   DB_HTTP_URI};
    volatile uint8_t sink = 0;
    for (int dir = 0; dir < 2; dir++) {
        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
            for (unsigned idx = 0; idx < 4; idx++) {
                uint32_t len = 0;
                const uint8_t *p = tls_buffer(s, ids[i], dir, idx, &len);
                if (p != NULL && len > 0)
                    sink ^= p[0] ^ p[len - 1];
                if (ids[i] != DB_TLS_CERTS)
                    break;
            }
        }
    }
    const struct tls_hello *h = tls_client_hello(s);
    if (h != NULL && h->sni != NULL)
        sink ^= (uint8_t)strlen(h->sni);
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tls_state *s = tls_state_new();
    if (s == NULL)
        return 0;
    while (size >= 3) {
        int dir = data[0] & 1;
        int gap = (data[0] & 2) != 0;
        uint32_t len = (uint32_t)data[1] << 8 | data[2];
        data += 3;
        size -= 3;
        if (gap) {
            tls_gap(s, dir, len);
            continue;
        }
        if (len > size)
            len = (uint32_t)size;
        tls_feed(s, dir, data, len);
        data += len;
        size -= len;
        if (tls_handshake_done(s))
            check_buffers(s);
    }
    check_buffers(s);
    (void)tls_ja4(s);
    (void)tls_session_resumed(s);
    (void)tls_events(s);
    for (int f = 0; f < 4; f++) {
        json_t *o = eve_tls_object(s, f);
        if (o != NULL) {
            char *text = json_dumps(o, 0);
            if (text == NULL)
                abort(); /* the object must always serialise */
            free(text);
            json_decref(o);
        }
    }
    tls_state_free(s);
    return 0;
}
