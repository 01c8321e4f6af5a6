/* app-http-uri.c: HTTP request URI normalisation (libhtp's defaults), authority and host parsing.
 */
#include <stdlib.h>
#include <string.h>

#include "app-http-internal.h"
#include "vigil/common.h"

/*
 * Decodes %XX in p[0..n) into out (n bytes at most). In the path (path set), backslashes
 * become slashes and runs of slashes fold into one, after decoding, as libhtp's path decoder
 * does. Invalid escapes are kept as they are. Returns the output length.
 */
static uint32_t decode(const uint8_t *p, uint32_t n, uint8_t *out, int path)
{
    uint32_t o = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '%' && i + 2 < n) {
            int hi = vg_hexval(p[i + 1]), lo = vg_hexval(p[i + 2]);
            if (hi >= 0 && lo >= 0) {
                c = (uint8_t)(hi * 16 + lo);
                i += 2;
            }
        }
        if (path) {
            if (c == '\\')
                c = '/';
            if (c == '/' && o > 0 && out[o - 1] == '/')
                continue;
        }
        out[o++] = c;
    }
    return o;
}

/* RFC 3986 remove_dot_segments over p[0..n) into out; returns the output length. */
static uint32_t remove_dots(const uint8_t *p, uint32_t n, uint8_t *out)
{
    uint32_t i = 0, o = 0;
#define REST(s) (n - i >= sizeof(s) - 1 && memcmp(p + i, s, sizeof(s) - 1) == 0)
#define POP()                                                                                      \
    do {                                                                                           \
        while (o > 0 && out[o - 1] != '/')                                                         \
            o--;                                                                                   \
        if (o > 0)                                                                                 \
            o--;                                                                                   \
    } while (0)
    while (i < n) {
        if (REST("../"))
            i += 3;
        else if (REST("./"))
            i += 2;
        else if (REST("/./"))
            i += 2;
        else if (n - i == 2 && REST("/.")) {
            out[o++] = '/';
            i = n;
        } else if (REST("/../")) {
            i += 3;
            POP();
        } else if (n - i == 3 && REST("/..")) {
            POP();
            out[o++] = '/';
            i = n;
        } else if ((n - i == 1 && p[i] == '.') || (n - i == 2 && REST(".."))) {
            i = n;
        } else {
            if (p[i] == '/')
                out[o++] = p[i++];
            while (i < n && p[i] != '/')
                out[o++] = p[i++];
        }
    }
#undef REST
#undef POP
    return o;
}

uint32_t http_uri_normalize(const uint8_t *uri, uint32_t len, uint8_t *out, uint32_t cap,
                            uint64_t *events)
{
    (void)events;
    if (len == 0)
        return 0;
    uint8_t *tmp = malloc((size_t)len * 2);
    if (tmp == NULL)
        return 0;
    const uint8_t *q = memchr(uri, '?', len);
    uint32_t plen = q ? (uint32_t)(q - uri) : len;
    uint32_t dn = decode(uri, plen, tmp, 1);
    uint8_t *res = tmp + len;
    uint32_t o = remove_dots(tmp, dn, res);
    if (q != NULL) {
        res[o++] = '?';
        o += decode(q + 1, len - plen - 1, res + o, 0);
    }
    uint32_t w = o < cap ? o : cap;
    memcpy(out, res, w);
    free(tmp);
    return o;
}

int httpi_parse_authority(const uint8_t *a, uint32_t len, struct httpi_span *host, int *port)
{
    *port = -1;
    host->p = a;
    host->len = len;
    const uint8_t *colon = NULL;
    if (len > 0 && a[0] == '[') {
        const uint8_t *rb = memchr(a, ']', len);
        if (rb == NULL)
            return 0;
        host->len = (uint32_t)(rb - a) + 1;
        if (host->len < len) {
            if (a[host->len] != ':')
                return -1;
            colon = a + host->len;
        }
    } else {
        colon = memchr(a, ':', len);
        if (colon != NULL && memchr(colon + 1, ':', len - (uint32_t)(colon - a) - 1) != NULL)
            return 0; /* a bare IPv6 address: all host */
        if (colon != NULL)
            host->len = (uint32_t)(colon - a);
    }
    if (colon == NULL)
        return 0;
    const uint8_t *p = colon + 1, *e = a + len;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (p == e)
        return 0; /* "host:" carries no port */
    long v = 0;
    for (; p < e; p++) {
        if (*p < '0' || *p > '9' || v > 65535)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

uint8_t *httpi_host_norm(const uint8_t *h, uint32_t len, uint32_t *out_len)
{
    while (len > 0 && h[len - 1] == '.')
        len--;
    uint8_t *o = malloc(len + 1);
    if (o == NULL) {
        *out_len = 0;
        return NULL;
    }
    for (uint32_t i = 0; i < len; i++)
        o[i] = (h[i] >= 'A' && h[i] <= 'Z') ? (uint8_t)(h[i] + 32) : h[i];
    o[len] = 0;
    *out_len = len;
    return o;
}

int httpi_set_uri(struct httpi_tx *tx)
{
    const uint8_t *u = tx->uri_raw.p;
    uint32_t n = tx->uri_raw.len;
    const uint8_t *path = u;
    uint32_t plen = n;
    if (tx->is_connect) {
        /* authority form: host:port */
        struct httpi_span h;
        if (httpi_parse_authority(u, n, &h, &tx->uri_port) < 0)
            tx->pub.events |= HTTPI_EV(HTTP_EV_INVALID_AUTHORITY_PORT);
        tx->uri_host = h.p;
        tx->uri_host_len = h.len;
        tx->uri_norm = malloc(n + 1);
        if (tx->uri_norm == NULL)
            return -1;
        memcpy(tx->uri_norm, u, n);
        tx->uri_norm_len = n;
        return 0;
    }
    uint32_t i = 0;
    while (i < n &&
           ((u[i] >= 'a' && u[i] <= 'z') || (u[i] >= 'A' && u[i] <= 'Z') ||
            (i > 0 && ((u[i] >= '0' && u[i] <= '9') || u[i] == '+' || u[i] == '-' || u[i] == '.'))))
        i++;
    if (i > 0 && n - i >= 3 && memcmp(u + i, "://", 3) == 0) {
        /* absolute form: the authority gives the host */
        uint32_t as = i + 3, ae = as;
        while (ae < n && u[ae] != '/' && u[ae] != '?' && u[ae] != '#')
            ae++;
        uint32_t hs = as;
        for (uint32_t k = as; k < ae; k++)
            if (u[k] == '@')
                hs = k + 1;
        struct httpi_span h;
        if (httpi_parse_authority(u + hs, ae - hs, &h, &tx->uri_port) < 0)
            tx->pub.events |= HTTPI_EV(HTTP_EV_INVALID_AUTHORITY_PORT);
        if (h.len > 0) {
            tx->uri_host = h.p;
            tx->uri_host_len = h.len;
        }
        path = u + ae;
        plen = n - ae;
    }
    tx->uri_norm = malloc(plen + 2);
    if (tx->uri_norm == NULL)
        return -1;
    if (plen == 0) {
        tx->uri_norm[0] = '/';
        tx->uri_norm_len = 1;
        return 0;
    }
    tx->uri_norm_len = http_uri_normalize(path, plen, tx->uri_norm, plen + 1, &tx->pub.events);
    return 0;
}
