/* fuzz_smtp.c: libFuzzer harness for the SMTP parser: both directions in chunks, gaps, EVE. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/app-smtp.h"
#include "vigil/eve-smtp.h"

/*
 * Input: one configuration byte (small or default limits), then records: a header byte (bit 0 the
 * direction; bits 1-2: 0/1 feed, 2 gap, 3 end of stream; bits 3-7 release transactions), a length
 * byte, and that many bytes (cut short at the end).
 */

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_smtp: %s\n", what);
    abort();
}

struct bodyck {
    uint64_t bytes;
};

static void on_body(void *ctx, const struct smtp_tx *tx, const uint8_t *d, uint32_t n, int last)
{
    struct bodyck *b = ctx;
    if (n > 0 && d == NULL)
        fail("body bytes without data");
    for (uint32_t i = 0; i < n; i++)
        b->bytes += d[i] != 0;
    (void)tx;
    (void)last;
}

static void emit(struct smtp_state *s, const struct smtp_config *cfg)
{
    for (unsigned i = 0; i < smtp_tx_count(s); i++) {
        const struct smtp_tx *tx = smtp_tx_get(s, i);
        if (tx->nrcpt > cfg->max_rcpt || tx->nattach > cfg->max_attachments ||
            tx->body_len > cfg->body_limit)
            fail("limits exceeded");
        uint32_t bl;
        const uint8_t *b = smtp_tx_body(tx, &bl);
        if (bl > 0 && b == NULL)
            fail("body length without body");
        json_t *o = eve_smtp_object(tx);
        char *str = json_dumps(o, JSON_COMPACT);
        if (str == NULL)
            fail("smtp object does not serialise");
        free(str);
        json_decref(o);
        json_t *e = eve_email_object(tx, 1);
        if (e != NULL) {
            str = json_dumps(e, JSON_COMPACT);
            if (str == NULL)
                fail("email object does not serialise");
            free(str);
            json_decref(e);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct smtp_config cfg;
    smtp_config_defaults(&cfg);
    if (data[0] & 1) { /* small limits, so that inputs reach them */
        cfg.max_line = 64;
        cfg.max_rcpt = 3;
        cfg.max_headers = 5;
        cfg.max_header_len = 80;
        cfg.max_attachments = 2;
        cfg.body_limit = 100;
        cfg.max_txs = 3;
    }
    struct smtp_state *s = smtp_state_new(&cfg);
    if (s == NULL)
        return 0;
    struct bodyck bc = {0};
    if (data[0] & 2)
        smtp_state_set_body_cb(s, on_body, &bc);
    size_t pos = 1;
    while (pos + 2 <= size) {
        uint8_t h = data[pos];
        size_t len = data[pos + 1];
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        int dir = h & 1, op = (h >> 1) & 3;
        if (op <= 1) {
            uint8_t *c = malloc(len ? len : 1);
            if (c == NULL)
                break;
            memcpy(c, data + pos, len);
            int rc = smtp_feed(s, dir, c, (uint32_t)len);
            free(c);
            if (rc != SMTP_FEED_OK && rc != SMTP_FEED_TLS)
                fail("bad feed result");
            if (rc == SMTP_FEED_TLS && (smtp_tls_offset(s, 0) < 0 || smtp_tls_offset(s, 1) < 0))
                fail("TLS without offsets");
        } else if (op == 2) {
            smtp_gap(s, dir, (uint32_t)len + 1);
        } else {
            smtp_eof(s, dir);
        }
        pos += len;
        if (smtp_tx_count(s) > cfg.max_txs)
            fail("more transactions held than max_txs");
        emit(s, &cfg);
        if (h >> 3) {
            const struct smtp_tx *t = smtp_tx_get(s, 0);
            if (t)
                smtp_tx_release(s, t->id + (h >> 6));
        }
    }
    smtp_eof(s, 0);
    smtp_eof(s, 1);
    emit(s, &cfg);
    smtp_state_free(s);
    return 0;
}
