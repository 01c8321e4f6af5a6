/* app-http-body.c: HTTP bodies: gzip/deflate decoding with bomb limits, inspection buffer, file
 * hook. */
#include <stdlib.h>
#include <string.h>

#include "app-http-internal.h"

#define BOMB_MIN_OUT (1024u * 1024u) /* the ratio test starts past this much output */

/* Keeps decoded bytes for inspection (up to the limit) and hands them to the file hook. */
static void sink(struct http_state *s, struct httpi_tx *tx, int dir, const uint8_t *p, uint32_t n)
{
    struct httpi_msg *m = &tx->m[dir];
    tx->pub.body_len[dir] += n;
    if (s->file_cb != NULL)
        s->file_cb(s->file_ctx, &tx->pub, dir, p, n, HTTP_FILE_DATA);
    if (m->body_gap)
        return;
    uint32_t room = m->body.len < m->body_limit ? m->body_limit - m->body.len : 0;
    uint32_t take = n < room ? n : room;
    if (take < n && !m->body_truncated) {
        m->body_truncated = 1;
        s->stats.body_truncated++;
    }
    if (take == 0)
        return;
    if (m->body.len + take > m->body.cap) {
        /* grow into a new block and keep the old one: pointers handed out stay valid */
        uint32_t cap = m->body.cap ? m->body.cap * 2 : 4096;
        while (cap < m->body.len + take)
            cap *= 2;
        if (cap > m->body_limit)
            cap = m->body_limit;
        uint8_t *nb = malloc(cap);
        void **r = m->body.p ? realloc(m->retired, (m->nretired + 1) * sizeof(*r)) : m->retired;
        if (nb == NULL || (m->body.p != NULL && r == NULL)) {
            free(nb);
            if (r != NULL)
                m->retired = r;
            m->body_gap = 1; /* out of memory: stop keeping the body */
            return;
        }
        if (m->body.p != NULL) {
            memcpy(nb, m->body.p, m->body.len);
            m->retired = r;
            m->retired[m->nretired++] = m->body.p;
        }
        m->body.p = nb;
        m->body.cap = cap;
    }
    memcpy(m->body.p + m->body.len, p, take);
    m->body.len += take;
}

static void dec_stop(struct http_state *s, struct httpi_tx *tx, struct httpi_decoder *dc,
                     enum http_event e)
{
    if (dc->stopped)
        return;
    dc->stopped = 1;
    tx->pub.events |= HTTPI_EV(e);
    if (e == HTTP_EV_COMPRESSION_BOMB)
        s->stats.bombs++;
    else
        s->stats.decompress_errors++;
}

static void feed_layer(struct http_state *s, struct httpi_tx *tx, int dir, unsigned L,
                       const uint8_t *in, uint32_t n);

/* Runs layer L's inflater over in[0..n); returns a zlib error code or Z_OK. */
static int run_layer(struct http_state *s, struct httpi_tx *tx, int dir, unsigned L,
                     const uint8_t *in, uint32_t n)
{
    struct httpi_decoder *dc = tx->m[dir].dec;
    z_stream *zs = &dc->zs[L];
    uint8_t out[16384];
    zs->next_in = (Bytef *)(uintptr_t)in;
    zs->avail_in = n;
    while (!dc->stopped && !dc->done[L]) {
        zs->next_out = out;
        zs->avail_out = sizeof(out);
        int rc = inflate(zs, Z_NO_FLUSH);
        uint32_t got = (uint32_t)(sizeof(out) - zs->avail_out);
        if (got > 0) {
            if (L + 1 < dc->nlayers) {
                feed_layer(s, tx, dir, L + 1, out, got);
            } else {
                dc->out_total += got;
                uint64_t ratio = s->cfg.decompress_ratio;
                if (dc->out_total > s->cfg.decompress_limit ||
                    (ratio > 0 && dc->out_total > BOMB_MIN_OUT &&
                     dc->out_total / (dc->in_total ? dc->in_total : 1) > ratio)) {
                    dec_stop(s, tx, dc, HTTP_EV_COMPRESSION_BOMB);
                    return Z_OK;
                }
                sink(s, tx, dir, out, got);
            }
        }
        if (rc == Z_STREAM_END) {
            dc->done[L] = 1;
            break;
        }
        if (rc == Z_BUF_ERROR || (rc == Z_OK && zs->avail_in == 0 && zs->avail_out != 0))
            break;
        if (rc != Z_OK)
            return rc;
    }
    return Z_OK;
}

/* Hands in[0..n) on from layer L as if L did not exist (passthrough): to the next layer. */
static void pass_on(struct http_state *s, struct httpi_tx *tx, int dir, unsigned L,
                    const uint8_t *in, uint32_t n)
{
    struct httpi_decoder *dc = tx->m[dir].dec;
    if (n == 0)
        return;
    if (L + 1 < dc->nlayers) {
        feed_layer(s, tx, dir, L + 1, in, n);
        return;
    }
    dc->out_total += n;
    sink(s, tx, dir, in, n);
}

/*
 * Layer L cannot decode its input. As libhtp: if it has produced nothing yet, the body is not
 * encoded after all and this layer and the ones after it pass the bytes through as sent (from
 * the start when the prefix kept them all); otherwise decoding stops with what it gave.
 */
static void layer_failed(struct http_state *s, struct httpi_tx *tx, int dir, unsigned L,
                         const uint8_t *in, uint32_t n, uint32_t prior, int prefix_whole)
{
    struct httpi_decoder *dc = tx->m[dir].dec;
    if (dc->zs[L].total_out != 0) {
        dec_stop(s, tx, dc, HTTP_EV_GZIP_DECOMPRESSION_FAILED);
        return;
    }
    tx->pub.events |= HTTPI_EV(HTTP_EV_GZIP_DECOMPRESSION_FAILED);
    s->stats.decompress_errors++;
    for (unsigned k = L; k < dc->nlayers; k++)
        dc->passthrough[k] = 1;
    if (prefix_whole && prior > 0)
        pass_on(s, tx, dir, L, dc->prefix[L], prior);
    pass_on(s, tx, dir, L, in, n);
}

static void feed_layer(struct http_state *s, struct httpi_tx *tx, int dir, unsigned L,
                       const uint8_t *in, uint32_t n)
{
    struct httpi_decoder *dc = tx->m[dir].dec;
    if (dc->stopped || n == 0)
        return;
    if (dc->passthrough[L]) {
        pass_on(s, tx, dir, L, in, n);
        return;
    }
    if (dc->done[L])
        return; /* data after the end of the stream is ignored (libhtp: multi-member gzip) */
    if (!dc->inited[L]) {
        memset(&dc->zs[L], 0, sizeof(dc->zs[L]));
        if (inflateInit2(&dc->zs[L], 15 + 32) != Z_OK) {
            dec_stop(s, tx, dc, HTTP_EV_GZIP_DECOMPRESSION_FAILED);
            return;
        }
        dc->inited[L] = 1;
    }
    uint32_t prior = dc->prefix_len[L];
    int prefix_whole = dc->fed[L] <= HTTPI_PREFIX;
    uint32_t keep = n < HTTPI_PREFIX - prior ? n : HTTPI_PREFIX - prior;
    memcpy(dc->prefix[L] + prior, in, keep);
    dc->prefix_len[L] += keep;
    dc->fed[L] += n;
    int rc = run_layer(s, tx, dir, L, in, n);
    if (rc == Z_OK)
        return;
    if (!dc->raw[L] && dc->zs[L].total_out == 0 && prefix_whole) {
        /* not zlib or gzip: servers often send raw deflate as "deflate"; start over raw */
        inflateEnd(&dc->zs[L]);
        memset(&dc->zs[L], 0, sizeof(dc->zs[L]));
        if (inflateInit2(&dc->zs[L], -15) != Z_OK) {
            dc->inited[L] = 0;
            dec_stop(s, tx, dc, HTTP_EV_GZIP_DECOMPRESSION_FAILED);
            return;
        }
        dc->raw[L] = 1;
        rc = prior ? run_layer(s, tx, dir, L, dc->prefix[L], prior) : Z_OK;
        if (rc == Z_OK)
            rc = run_layer(s, tx, dir, L, in, n);
        if (rc == Z_OK)
            return;
    }
    if (dc->stopped)
        return;
    layer_failed(s, tx, dir, L, in, n, prior, prefix_whole);
}

/* Which coding token t[0..n) names, as libhtp reads it: 1 gzip/deflate, 0 none, -1 other. */
static int coding(const uint8_t *t, uint32_t n, int *abnormal)
{
    static const char *const exact[] = {"gzip", "x-gzip", "deflate", "x-deflate"};
    for (unsigned i = 0; i < 4; i++)
        if (httpi_casecmp(t, n, exact[i]) == 0)
            return 1;
    if (httpi_casecmp(t, n, "identity") == 0 || httpi_casecmp(t, n, "inflate") == 0)
        return 0;
    *abnormal = 1;
    for (uint32_t i = 0; i + 4 <= n; i++)
        if (httpi_casecmp(t + i, 4, "gzip") == 0 ||
            (i + 7 <= n && httpi_casecmp(t + i, 7, "deflate") == 0))
            return 1; /* "gzipx", "x-deflate2"... still decoded */
    return -1;
}

void httpi_body_begin(struct http_state *s, struct httpi_tx *tx, int dir)
{
    struct httpi_msg *m = &tx->m[dir];
    if (s->file_cb != NULL)
        s->file_cb(s->file_ctx, &tx->pub, dir, NULL, 0, HTTP_FILE_BEGIN);
    if (dir == 0 && !s->cfg.decompress_requests)
        return;
    const struct httpi_hdr *ce = httpi_find(m, "content-encoding");
    if (ce == NULL)
        return;
    /*
     * The codings in the order applied, split at commas and spaces as libhtp does; each layer
     * detects gzip, zlib or raw deflate itself. Tokens we do not decode (br, compress) are
     * skipped with an event; if decoding then fails the bytes pass through as sent.
     */
    unsigned nl = 0;
    int abnormal = 0, too_many = 0;
    const uint8_t *v = ce->value;
    uint32_t n = ce->value_len, i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        uint32_t st = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (i == st)
            continue;
        if (coding(v + st, i - st, &abnormal) == 1) {
            if (nl == HTTPI_MAX_LAYERS)
                too_many = 1;
            else
                nl++;
        }
    }
    if (abnormal)
        tx->pub.events |= HTTPI_EV(HTTP_EV_ABNORMAL_CE_HEADER);
    if (too_many)
        tx->pub.events |= HTTPI_EV(HTTP_EV_TOO_MANY_ENCODING_LAYERS);
    if (nl == 0)
        return; /* nothing we decode: inspect as sent */
    m->dec = calloc(1, sizeof(*m->dec));
    if (m->dec == NULL)
        return;
    m->dec->nlayers = nl;
}

void httpi_body_data(struct http_state *s, struct httpi_tx *tx, int dir, const uint8_t *p,
                     uint32_t n)
{
    struct httpi_msg *m = &tx->m[dir];
    if (m->body_ended || n == 0)
        return;
    struct httpi_decoder *dc = m->dec;
    if (dc == NULL) {
        sink(s, tx, dir, p, n);
        return;
    }
    if (dc->stopped)
        return;
    if (s->file_cb == NULL && (m->body_truncated || m->body_gap)) {
        /* nothing more would be kept: spare the CPU */
        return;
    }
    dc->in_total += n;
    feed_layer(s, tx, dir, 0, p, n);
}

void httpi_body_gap(struct http_state *s, struct httpi_tx *tx, int dir)
{
    struct httpi_msg *m = &tx->m[dir];
    m->body_gap = 1;
    if (m->dec != NULL)
        m->dec->stopped = 1; /* a compressed stream cannot continue past a hole */
    if (s->file_cb != NULL && tx->pub.progress[dir] >= HTTP_PROG_BODY && !m->body_ended)
        s->file_cb(s->file_ctx, &tx->pub, dir, NULL, 0, HTTP_FILE_GAP);
}

void httpi_body_end(struct http_state *s, struct httpi_tx *tx, int dir)
{
    struct httpi_msg *m = &tx->m[dir];
    if (m->body_ended)
        return;
    m->body_ended = 1;
    if (s->file_cb != NULL && tx->pub.progress[dir] >= HTTP_PROG_BODY)
        s->file_cb(s->file_ctx, &tx->pub, dir, NULL, 0, HTTP_FILE_END);
    if (m->dec != NULL) {
        for (unsigned L = 0; L < HTTPI_MAX_LAYERS; L++)
            if (m->dec->inited[L])
                inflateEnd(&m->dec->zs[L]);
        free(m->dec);
        m->dec = NULL;
    }
}

void httpi_body_free(struct httpi_msg *m)
{
    if (m->dec != NULL) {
        for (unsigned L = 0; L < HTTPI_MAX_LAYERS; L++)
            if (m->dec->inited[L])
                inflateEnd(&m->dec->zs[L]);
        free(m->dec);
        m->dec = NULL;
    }
    for (unsigned i = 0; i < m->nretired; i++)
        free(m->retired[i]);
    free(m->retired);
    m->retired = NULL;
    m->nretired = 0;
    httpi_bytes_free(&m->body);
}

int http_tx_body_stopped(const struct http_tx *ptx, int dir)
{
    const struct httpi_msg *m = &((const struct httpi_tx *)ptx)->m[dir & 1];
    return m->dec != NULL && m->dec->stopped;
}
