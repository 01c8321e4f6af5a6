/* fuzz_ftp.c: libFuzzer harness for the FTP control parser: both directions in chunks, gaps,
 * ends, releases, the EVE objects, the port parsers and the expectation table. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/app-ftp.h"
#include "vigil/eve-ftp.h"

/*
 * Input: one configuration byte (bit 0: small limits), then records: a header byte (bit 0 the
 * direction; bits 1-2: 0/1 feed, 2 gap, 3 end of stream; bits 3-7 release transactions), a
 * length byte, and that many bytes (cut short at the end).
 */

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_ftp: %s\n", what);
    abort();
}

struct ctx {
    struct ftp_expect *tab;
    unsigned n;
};

static void on_transfer(void *p, const struct ftp_transfer *t)
{
    struct ctx *c = p;
    if (t->port == 0 || t->mode == FTP_MODE_NONE || t->xfer == FTP_XFER_NONE || t->tx == NULL)
        fail("transfer without a port, mode or command");
    struct ftp_expectation e;
    memset(&e, 0, sizeof(e));
    e.ip_ver = 4;
    e.port = t->port;
    uint32_t n = t->tx->data.len < sizeof(e.name) ? t->tx->data.len : sizeof(e.name);
    memcpy(e.name, t->tx->data.s, n);
    e.name_len = n;
    ftp_expect_add(c->tab, &e, c->n++);
    json_t *o = eve_ftp_data_object(t->tx->command, e.name, e.name_len);
    char *s = json_dumps(o, JSON_COMPACT);
    if (s == NULL)
        fail("ftp_data object does not serialise");
    free(s);
    json_decref(o);
}

static void emit(struct ftp_state *s, const struct ftp_config *cfg)
{
    for (unsigned i = 0; i < ftp_tx_count(s); i++) {
        const struct ftp_tx *tx = ftp_tx_get(s, i);
        if (tx->nreply > cfg->max_replies || tx->data.len > cfg->max_line ||
            tx->command_len >= sizeof(tx->command))
            fail("limits exceeded");
        for (uint32_t k = 0; k < tx->nreply; k++)
            if (tx->reply[k].len > cfg->max_line)
                fail("reply line over max_line");
        json_t *o = eve_ftp_object(tx);
        char *str = json_dumps(o, JSON_COMPACT);
        if (str == NULL)
            fail("ftp object does not serialise");
        free(str);
        json_decref(o);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* The port parsers on the raw input. */
    int p[4] = {ftp_parse_port(data, (uint32_t)size), ftp_parse_pasv(data, (uint32_t)size),
                ftp_parse_epsv(data, (uint32_t)size), ftp_parse_eprt(data, (uint32_t)size)};
    for (int i = 0; i < 4; i++)
        if (p[i] == 0 || p[i] < -1 || p[i] > 65535)
            fail("port out of range");
    struct ftp_config cfg;
    ftp_config_defaults(&cfg);
    if (data[0] & 1) {
        cfg.max_line = 32;
        cfg.max_replies = 2;
        cfg.max_txs = 3;
    }
    struct ftp_state *s = ftp_state_new(&cfg);
    struct ctx c = {ftp_expect_new(4, 1), 0};
    if (s == NULL || c.tab == NULL) {
        ftp_state_free(s);
        ftp_expect_free(c.tab);
        return 0;
    }
    ftp_state_set_transfer_cb(s, on_transfer, &c);
    size_t pos = 1;
    while (pos + 2 <= size) {
        uint8_t h = data[pos];
        size_t len = data[pos + 1];
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        int dir = h & 1, op = (h >> 1) & 3;
        if (op <= 1) {
            uint8_t *b = malloc(len ? len : 1);
            if (b == NULL)
                break;
            memcpy(b, data + pos, len);
            if (ftp_feed(s, dir, b, (uint32_t)len) != 0)
                fail("bad feed result");
            free(b);
        } else if (op == 2) {
            ftp_gap(s, dir, (uint32_t)len + 1);
        } else {
            ftp_eof(s, dir);
        }
        pos += len;
        if (ftp_tx_count(s) > cfg.max_txs)
            fail("more transactions held than max_txs");
        emit(s, &cfg);
        if (h >> 3) {
            const struct ftp_tx *t = ftp_tx_get(s, 0);
            if (t)
                ftp_tx_release(s, t->id + (h >> 6));
        }
        struct ftp_expectation out;
        struct vg_addr z;
        memset(&z, 0, sizeof(z));
        ftp_expect_take(c.tab, 4, &z, &z, (uint16_t)(h * 257), c.n, &out);
    }
    ftp_eof(s, 0);
    ftp_eof(s, 1);
    emit(s, &cfg);
    for (unsigned i = 0; i < ftp_tx_count(s); i++)
        if (!ftp_tx_get(s, i)->complete)
            fail("incomplete transaction after both ends");
    uint64_t before = ftp_state_memuse(s);
    ftp_tx_release(s, UINT64_MAX);
    if (ftp_tx_count(s) != 0 || ftp_state_memuse(s) > before)
        fail("release left transactions or memory");
    struct ftp_expect_stats st;
    ftp_expect_get_stats(c.tab, &st);
    if (st.active > 4 || st.added != st.matched + st.expired + st.dropped + st.active)
        fail("expectation counters disagree");
    ftp_state_free(s);
    ftp_expect_free(c.tab);
    return 0;
}
