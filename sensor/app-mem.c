/* app-mem.c: what each app-layer parser's state holds in memory, for app-layer.memcap. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "app-http-internal.h"
#include "app-layer-internal.h"
#include "app-smtp-internal.h"
#include "app-tls-internal.h"
#include "vigil/app-dns.h"

/*
 * The parsers allocate with malloc as they go; rather than route each allocation through a
 * counting allocator (which would touch every parser), the layer asks after each pass how
 * much a flow's state holds, from the lengths and capacities the states keep. The figures
 * are the bytes the parser asked for (no allocator overhead); what cannot be read exactly is
 * bounded from above: an HTTP body's earlier blocks (each half the next) count as one more
 * block, a zlib stream as its state plus a full window. This file reads the parsers' internal
 * structs so that their own files need no change; it is the one module besides each parser's
 * own that does (docs/security.md, "Resource bounds").
 */

/* zlib's inflate state (about 7 KiB) plus its 32 KiB window, allocated on first output. */
#define ZLIB_STREAM_BYTES (7u * 1024 + 32u * 1024)

static uint64_t bytes_cap(const struct httpi_bytes *b)
{
    return b->p != NULL ? b->cap : 0;
}

static uint64_t http_msg_memuse(const struct httpi_msg *m)
{
    uint64_t n =
        bytes_cap(&m->head) + bytes_cap(&m->norm) + bytes_cap(&m->names) + bytes_cap(&m->start);
    if (m->line != NULL)
        n += (uint64_t)m->line_len + 1;
    if (m->hdrs != NULL)
        n += (uint64_t)(m->nhdrs ? m->nhdrs : 1) * sizeof(*m->hdrs);
    if (m->store != NULL) /* the merged names and values: at most the header block's bytes */
        n += m->head.len;
    n += bytes_cap(&m->body);
    if (m->nretired > 0)
        n += bytes_cap(&m->body) + (uint64_t)m->nretired * sizeof(void *);
    if (m->dec != NULL) {
        n += sizeof(*m->dec);
        for (unsigned l = 0; l < HTTPI_MAX_LAYERS; l++)
            if (m->dec->inited[l])
                n += ZLIB_STREAM_BYTES;
    }
    return n;
}

uint64_t app_mem_http(const void *st)
{
    const struct http_state *s = st;
    uint64_t n = sizeof(*s) + (uint64_t)s->captxs * sizeof(*s->txs);
    for (int d = 0; d < 2; d++)
        n += bytes_cap(&s->d[d].lbuf);
    for (unsigned i = 0; i < s->ntxs; i++) {
        const struct httpi_tx *tx = s->txs[i];
        if (tx == NULL)
            continue;
        n += sizeof(*tx) + http_msg_memuse(&tx->m[0]) + http_msg_memuse(&tx->m[1]);
        if (tx->uri_norm != NULL)
            n += (uint64_t)tx->uri_norm_len + 2;
        if (tx->host != NULL)
            n += (uint64_t)tx->host_len + 1;
    }
    return n;
}

static uint64_t str_len(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

static uint64_t tls_hello_memuse(const struct tls_hello *h)
{
    if (h == NULL)
        return 0;
    uint64_t n = sizeof(*h) + (h->sni != NULL ? (uint64_t)h->sni_len + 1 : 0);
    for (unsigned i = 0; i < h->n_alpn && i < TLS_MAX_ALPN; i++)
        if (h->alpn[i] != NULL)
            n += (uint64_t)h->alpn_len[i] + 1;
    return n;
}

uint64_t app_mem_tls(const void *st)
{
    const struct tls_state *s = st;
    uint64_t n = sizeof(*s) + tls_hello_memuse(s->ch) + tls_hello_memuse(s->sh) +
                 str_len(s->ja3_str) + str_len(s->ja3s_str);
    for (int d = 0; d < 2; d++) {
        const struct tls_dir *t = &s->d[d];
        if (t->hs_buf != NULL)
            n += t->hs_cap;
        for (unsigned i = 0; i < t->chain.n && i < TLS_MAX_CHAIN; i++)
            if (t->chain.der[i] != NULL)
                n += t->chain.len[i];
        if (t->chain.parsed) {
            const struct tls_cert_info *ci = &t->chain.info;
            n += str_len(ci->subject) + str_len(ci->issuer) + str_len(ci->serial) +
                 str_len(ci->fingerprint);
            for (unsigned i = 0; i < ci->n_sans; i++)
                n += sizeof(char *) + str_len(ci->sans[i]);
        }
    }
    return n;
}

static uint64_t smtp_tx_memuse(const struct smtp_tx *tx)
{
    uint64_t n = sizeof(*tx) + str_len(tx->helo) + str_len(tx->mail_from);
    for (uint32_t i = 0; i < tx->nrcpt; i++)
        n += sizeof(char *) + str_len(tx->rcpt_to[i]);
    for (unsigned h = 0; h < SMTP_HDR__COUNT; h++)
        n += str_len(tx->hdr[h]);
    for (uint32_t i = 0; i < tx->nattach; i++)
        n += sizeof(char *) + str_len(tx->attachments[i]);
    if (tx->body != NULL) { /* doubling from 4 KiB: at most twice what it holds */
        uint64_t c = 4096;
        while (c < tx->body_len)
            c *= 2;
        n += c;
    }
    return n;
}

uint64_t app_mem_smtp(const void *st)
{
    const struct smtp_state *s = st;
    /* two command/reply line buffers and the MIME line buffer, max_line bytes each */
    uint64_t n = sizeof(*s) + 3 * (uint64_t)s->cfg.max_line + str_len(s->helo) +
                 (uint64_t)s->ntx * sizeof(*s->txs);
    for (unsigned i = 0; i < s->ntx; i++)
        if (s->txs[i] != NULL)
            n += smtp_tx_memuse(s->txs[i]);
    const struct smtp_mime *m = &s->mime;
    n += (m->cur != NULL ? (uint64_t)m->cur_len + 1 : 0) + str_len(m->fname) + str_len(m->name);
    for (uint32_t i = 0; i < m->nbound && i < SMTP_MAX_BOUNDARIES; i++)
        n += str_len(m->bound[i]);
    return n;
}

uint64_t app_mem_dns_tcp(const struct dns_tcp_state *s)
{
    uint64_t n = 0;
    for (int d = 0; d < 2; d++)
        if (s->d[d].buf != NULL)
            n += s->d[d].cap;
    return n;
}
