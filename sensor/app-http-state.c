/* app-http-state.c: the HTTP parser's state and transaction list, its events, and byte helpers. */
#include <stdlib.h>
#include <string.h>

#include "app-http-internal.h"

static const char *const event_names[HTTP_EV__COUNT] = {
    "REQUEST_LINE_INVALID",
    "REQUEST_LINE_MISSING_PROTOCOL",
    "REQUEST_LINE_LEADING_WHITESPACE",
    "METHOD_DELIM_NON_COMPLIANT",
    "URI_DELIM_NON_COMPLIANT",
    "REQUEST_HEADER_INVALID",
    "RESPONSE_HEADER_INVALID",
    "REQUEST_FIELD_MISSING_COLON",
    "RESPONSE_FIELD_MISSING_COLON",
    "INVALID_REQUEST_FIELD_FOLDING",
    "INVALID_RESPONSE_FIELD_FOLDING",
    "REQUEST_FIELD_TOO_LONG",
    "RESPONSE_FIELD_TOO_LONG",
    "REQUEST_TOO_MANY_HEADERS",
    "RESPONSE_TOO_MANY_HEADERS",
    "REQUEST_HEADER_REPETITION",
    "RESPONSE_HEADER_REPETITION",
    "MISSING_HOST_HEADER",
    "HOST_HEADER_AMBIGUOUS",
    "INVALID_AUTHORITY_PORT",
    "REQUEST_HEADER_HOST_INVALID",
    "INVALID_CONTENT_LENGTH_FIELD_IN_REQUEST",
    "INVALID_CONTENT_LENGTH_FIELD_IN_RESPONSE",
    "DUPLICATE_CONTENT_LENGTH_FIELD_IN_REQUEST",
    "DUPLICATE_CONTENT_LENGTH_FIELD_IN_RESPONSE",
    "INVALID_TRANSFER_ENCODING_VALUE_IN_REQUEST",
    "INVALID_TRANSFER_ENCODING_VALUE_IN_RESPONSE",
    "INVALID_REQUEST_CHUNK_LEN",
    "INVALID_RESPONSE_CHUNK_LEN",
    "REQUEST_CHUNK_EXTENSION",
    "RESPONSE_CHUNKED_OLD_PROTO",
    "RESPONSE_INVALID_PROTOCOL",
    "RESPONSE_INVALID_STATUS",
    "RESPONSE_LINE_INVALID",
    "100_CONTINUE_ALREADY_SEEN",
    "UNABLE_TO_MATCH_RESPONSE_TO_REQUEST",
    "REQUEST_BODY_UNEXPECTED",
    "GZIP_DECOMPRESSION_FAILED",
    "TOO_MANY_ENCODING_LAYERS",
    "ABNORMAL_CE_HEADER",
    "COMPRESSION_BOMB",
    "BODY_TRUNCATED",
    "STREAM_GAP",
    "TOO_MANY_TRANSACTIONS",
    "NOT_HTTP",
    "CONTENT_LENGTH_EXTRA_DATA_START",
    "CONTENT_LENGTH_EXTRA_DATA_END",
    "RESPONSE_BODY_UNEXPECTED",
    "SWITCHING_PROTO_WITH_CONTENT_LENGTH",
    "RESPONSE_ABNORMAL_TRANSFER_ENCODING",
};

const char *http_event_name(unsigned e)
{
    return e < HTTP_EV__COUNT ? event_names[e] : NULL;
}

void http_config_defaults(struct http_config *c)
{
    memset(c, 0, sizeof(*c));
    c->request_body_limit = 100 * 1024;
    c->response_body_limit = 100 * 1024;
    c->decompress_limit = 10 * 1024 * 1024;
    c->decompress_ratio = 2048;
    c->max_header_bytes = 64 * 1024;
    c->max_line = 18000;
    c->max_headers = 1024;
    c->max_txs = 512;
    c->decompress_requests = 0;
}

int httpi_bytes_append(struct httpi_bytes *b, const void *p, uint32_t n)
{
    if (n == 0)
        return 0;
    if ((uint64_t)b->len + n > UINT32_MAX / 2)
        return -1;
    if (b->len + n > b->cap) {
        uint32_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (q == NULL)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

void httpi_bytes_free(struct httpi_bytes *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

int httpi_casecmp(const uint8_t *a, uint32_t alen, const char *b)
{
    size_t bl = strlen(b);
    if (alen != bl)
        return 1;
    for (uint32_t i = 0; i < alen; i++) {
        uint8_t x = a[i], y = (uint8_t)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (uint8_t)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (uint8_t)(y + 32);
        if (x != y)
            return 1;
    }
    return 0;
}

struct http_state *http_state_new(const struct http_config *c)
{
    struct http_state *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    if (c != NULL)
        s->cfg = *c;
    else
        http_config_defaults(&s->cfg);
    if (s->cfg.max_line == 0)
        s->cfg.max_line = 18000;
    if (s->cfg.max_txs == 0)
        s->cfg.max_txs = 512;
    return s;
}

void httpi_tx_free(struct httpi_tx *tx)
{
    for (int d = 0; d < 2; d++)
        httpi_msg_free(&tx->m[d]);
    free(tx->uri_norm);
    free(tx->host);
    free(tx);
}

void http_state_free(struct http_state *s)
{
    if (s == NULL)
        return;
    for (unsigned i = 0; i < s->ntxs; i++)
        httpi_tx_free(s->txs[i]);
    free(s->txs);
    for (int d = 0; d < 2; d++)
        httpi_bytes_free(&s->d[d].lbuf);
    free(s);
}

void http_state_set_file_cb(struct http_state *s, http_file_fn fn, void *ctx)
{
    s->file_cb = fn;
    s->file_ctx = ctx;
}

const struct http_stats *http_state_stats(const struct http_state *s)
{
    return &s->stats;
}

uint64_t http_state_events(const struct http_state *s)
{
    return s->events;
}

int http_state_active(const struct http_state *s, int dir)
{
    const struct httpi_dir *d = &s->d[dir & 1];
    return !d->dead && !d->tunnel && !d->ended;
}

unsigned http_tx_count(const struct http_state *s)
{
    /* a request whose first line is still arriving may yet turn out not to be one */
    if (s->ntxs > 0) {
        const struct http_tx *last = &s->txs[s->ntxs - 1]->pub;
        if (last->progress[0] == HTTP_PROG_NONE && last->progress[1] == HTTP_PROG_NONE)
            return s->ntxs - 1;
    }
    return s->ntxs;
}

struct http_tx *http_tx_get(struct http_state *s, unsigned i)
{
    return i < http_tx_count(s) ? &s->txs[i]->pub : NULL;
}

int http_tx_complete(const struct http_tx *ptx)
{
    const struct httpi_tx *tx = (const struct httpi_tx *)ptx;
    for (int d = 0; d < 2; d++) {
        const struct httpi_dir *dd = &tx->st->d[d];
        if (ptx->progress[d] != HTTP_PROG_COMPLETE && !dd->dead && !dd->tunnel && !dd->ended)
            return 0;
    }
    return 1;
}

void http_tx_release(struct http_state *s, uint64_t upto_id)
{
    unsigned n = 0, live = http_tx_count(s);
    while (n < live && s->txs[n]->pub.id <= upto_id && http_tx_complete(&s->txs[n]->pub)) {
        struct httpi_tx *tx = s->txs[n];
        for (int d = 0; d < 2; d++)
            if (s->d[d].cur == tx)
                s->d[d].cur = NULL;
        httpi_tx_free(tx);
        n++;
    }
    if (n > 0) {
        memmove(s->txs, s->txs + n, (s->ntxs - n) * sizeof(*s->txs));
        s->ntxs -= n;
    }
}

struct httpi_tx *httpi_tx_by_id(struct http_state *s, uint64_t id)
{
    if (s->ntxs == 0 || id < s->txs[0]->pub.id || id - s->txs[0]->pub.id >= s->ntxs)
        return NULL;
    return s->txs[id - s->txs[0]->pub.id];
}

struct httpi_tx *httpi_tx_new(struct http_state *s)
{
    if (s->ntxs >= s->cfg.max_txs) {
        s->events |= HTTPI_EV(HTTP_EV_TOO_MANY_TRANSACTIONS);
        s->stats.limit_hits++;
        return NULL;
    }
    if (s->ntxs == s->captxs) {
        unsigned cap = s->captxs ? s->captxs * 2 : 4;
        struct httpi_tx **t = realloc(s->txs, cap * sizeof(*t));
        if (t == NULL)
            return NULL;
        s->txs = t;
        s->captxs = cap;
    }
    struct httpi_tx *tx = calloc(1, sizeof(*tx));
    if (tx == NULL)
        return NULL;
    tx->st = s;
    tx->pub.id = s->next_id++;
    tx->pub.status = -1;
    tx->port = -1;
    tx->uri_port = -1;
    tx->m[0].body_limit = s->cfg.request_body_limit;
    tx->m[1].body_limit = s->cfg.response_body_limit;
    s->txs[s->ntxs++] = tx;
    return tx;
}
