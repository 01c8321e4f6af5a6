/* app-http-hdr.c: HTTP start lines, header tables and the sticky buffers built from them. */
#include <stdlib.h>
#include <string.h>

#include "app-http-internal.h"
#include "vigil/detect.h"

static int is_ws(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static int is_tchar(uint8_t c)
{
    if (c <= 32 || c >= 127)
        return 0;
    return strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}

static int mem_ieq(const uint8_t *a, const uint8_t *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        uint8_t x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (uint8_t)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (uint8_t)(y + 32);
        if (x != y)
            return 0;
    }
    return 1;
}

/* Copies the start line (without terminator) out of head so that it stays put. */
static int copy_line(struct httpi_msg *m)
{
    uint32_t n = m->head.len;
    if (n > 0 && m->head.p[n - 1] == '\n')
        n--;
    if (n > 0 && m->head.p[n - 1] == '\r')
        n--;
    m->line = malloc(n + 1);
    if (m->line == NULL)
        return -1;
    memcpy(m->line, m->head.p, n);
    m->line[n] = 0;
    m->line_len = n;
    return 0;
}

int httpi_parse_request_line(struct http_state *s, struct httpi_tx *tx)
{
    (void)s;
    struct httpi_msg *m = &tx->m[0];
    if (copy_line(m) < 0)
        return -1;
    const uint8_t *p = m->line;
    uint32_t n = m->line_len, i = 0;
    while (i < n && is_ws(p[i]))
        i++;
    if (i > 0)
        tx->pub.events |= HTTPI_EV(HTTP_EV_REQUEST_LINE_LEADING_WHITESPACE);
    uint32_t ms = i;
    while (i < n && is_tchar(p[i]))
        i++;
    if (i == ms || i - ms > 64 || i == n || !is_ws(p[i]))
        return -1; /* no method token, or garbage: not a request */
    tx->method.p = p + ms;
    tx->method.len = i - ms;
    uint32_t ws = i;
    while (i < n && is_ws(p[i]))
        i++;
    if (i - ws != 1 || p[ws] != ' ')
        tx->pub.events |= HTTPI_EV(HTTP_EV_METHOD_DELIM_NON_COMPLIANT);
    uint32_t us = i;
    while (i < n && !is_ws(p[i]))
        i++;
    if (i == us)
        return -1;
    tx->uri_raw.p = p + us;
    tx->uri_raw.len = i - us;
    ws = i;
    while (i < n && is_ws(p[i]))
        i++;
    uint32_t e = n;
    while (e > i && is_ws(p[e - 1]))
        e--;
    if (i >= e) {
        tx->v09 = 1;
        tx->pub.events |= HTTPI_EV(HTTP_EV_REQUEST_LINE_MISSING_PROTOCOL);
    } else {
        if (i - ws != 1 || p[ws] != ' ')
            tx->pub.events |= HTTPI_EV(HTTP_EV_URI_DELIM_NON_COMPLIANT);
        m->proto.p = p + i;
        m->proto.len = e - i;
        if (m->proto.len < 5 || httpi_casecmp(m->proto.p, 5, "HTTP/") != 0)
            tx->pub.events |= HTTPI_EV(HTTP_EV_REQUEST_LINE_INVALID);
    }
    tx->is_head = httpi_casecmp(tx->method.p, tx->method.len, "HEAD") == 0;
    tx->is_connect = httpi_casecmp(tx->method.p, tx->method.len, "CONNECT") == 0;
    return httpi_set_uri(tx);
}

int httpi_parse_response_line(struct http_state *s, struct httpi_tx *tx)
{
    (void)s;
    struct httpi_msg *m = &tx->m[1];
    if (copy_line(m) < 0)
        return -1;
    const uint8_t *p = m->line;
    uint32_t n = m->line_len, i = 0;
    while (i < n && is_ws(p[i]))
        i++;
    if (n - i < 5 || httpi_casecmp(p + i, 5, "HTTP/") != 0)
        return -1;
    uint32_t ps = i;
    while (i < n && !is_ws(p[i]))
        i++;
    m->proto.p = p + ps;
    m->proto.len = i - ps;
    if (!(m->proto.len == 8 &&
          (memcmp(m->proto.p, "HTTP/1.1", 8) == 0 || memcmp(m->proto.p, "HTTP/1.0", 8) == 0 ||
           memcmp(m->proto.p, "HTTP/0.9", 8) == 0)))
        tx->pub.events |= HTTPI_EV(HTTP_EV_RESPONSE_INVALID_PROTOCOL);
    while (i < n && is_ws(p[i]))
        i++;
    uint32_t cs = i;
    while (i < n && !is_ws(p[i]))
        i++;
    tx->stat_code.p = p + cs;
    tx->stat_code.len = i - cs;
    if (i - cs == 3 && p[cs] >= '1' && p[cs] <= '9' && p[cs + 1] >= '0' && p[cs + 1] <= '9' &&
        p[cs + 2] >= '0' && p[cs + 2] <= '9')
        tx->pub.status = (p[cs] - '0') * 100 + (p[cs + 1] - '0') * 10 + (p[cs + 2] - '0');
    else
        tx->pub.events |= HTTPI_EV(HTTP_EV_RESPONSE_INVALID_STATUS);
    while (i < n && is_ws(p[i]))
        i++;
    uint32_t e = n;
    while (e > i && is_ws(p[e - 1]))
        e--;
    tx->stat_msg.p = p + i;
    tx->stat_msg.len = e - i;
    if (tx->stat_code.len == 0)
        tx->stat_code.p = NULL;
    return 0;
}

/* A header field as found in head, before repeats are merged. */
struct rawf {
    uint32_t name, name_len, val, val_end; /* offsets into head */
    uint8_t folded, used;
};

#define HTTPI_MAX_REPEAT 64 /* libhtp's limit before it flags a repetition */

int httpi_build_headers(struct httpi_tx *tx, int dir)
{
    struct httpi_msg *m = &tx->m[dir];
    const uint8_t *h = m->head.p;
    uint32_t end = m->head.len, i = m->hdr_off;
    if (m->line == NULL || i >= end)
        return 0;
    unsigned cap = 16, n = 0;
    struct rawf *f = malloc(cap * sizeof(*f));
    if (f == NULL)
        return -1;
    uint64_t ev_invalid =
        HTTPI_EV(dir ? HTTP_EV_RESPONSE_HEADER_INVALID : HTTP_EV_REQUEST_HEADER_INVALID);
    while (i < end) {
        const uint8_t *nl = memchr(h + i, '\n', end - i);
        uint32_t le = nl ? (uint32_t)(nl - h) : end; /* line content end */
        uint32_t next = nl ? le + 1 : end;
        if (le > i && h[le - 1] == '\r')
            le--;
        if (le == i)
            break; /* the empty line ending the headers */
        if (is_ws(h[i]) && n > 0) {
            /* folded continuation of the previous field */
            uint32_t e = le;
            while (e > i && is_ws(h[e - 1]))
                e--;
            if (e > i) {
                if (f[n - 1].val_end == f[n - 1].val) {
                    uint32_t vs = i; /* the value starts on this line */
                    while (vs < e && is_ws(h[vs]))
                        vs++;
                    f[n - 1].val = vs;
                }
                f[n - 1].val_end = e;
                f[n - 1].folded = 1;
            }
            i = next;
            continue;
        }
        if (is_ws(h[i]))
            tx->pub.events |= HTTPI_EV(dir ? HTTP_EV_INVALID_RESPONSE_FIELD_FOLDING
                                           : HTTP_EV_INVALID_REQUEST_FIELD_FOLDING);
        const uint8_t *colon = memchr(h + i, ':', le - i);
        if (colon == NULL) {
            tx->pub.events |= HTTPI_EV(dir ? HTTP_EV_RESPONSE_FIELD_MISSING_COLON
                                           : HTTP_EV_REQUEST_FIELD_MISSING_COLON);
            i = next;
            continue;
        }
        uint32_t c = (uint32_t)(colon - h), ns = i, ne = c;
        while (ns < ne && is_ws(h[ns]))
            ns++;
        if (ne > ns && is_ws(h[ne - 1])) {
            tx->pub.events |= ev_invalid; /* whitespace before the colon */
            while (ne > ns && is_ws(h[ne - 1]))
                ne--;
        }
        for (uint32_t k = ns; k < ne; k++)
            if (!is_tchar(h[k])) {
                tx->pub.events |= ev_invalid;
                break;
            }
        if (ne == ns)
            tx->pub.events |= ev_invalid;
        uint32_t vs = c + 1, ve = le;
        while (vs < ve && is_ws(h[vs]))
            vs++;
        while (ve > vs && is_ws(h[ve - 1]))
            ve--;
        if (n == cap) {
            cap *= 2;
            struct rawf *g = realloc(f, cap * sizeof(*f));
            if (g == NULL) {
                free(f);
                return -1;
            }
            f = g;
        }
        f[n++] = (struct rawf){ns, ne - ns, vs, ve, 0, 0};
        i = next;
    }
    size_t store = 1;
    for (unsigned k = 0; k < n; k++)
        store += f[k].name_len + (f[k].val_end - f[k].val) + 2;
    m->store = malloc(store);
    m->hdrs = calloc(n ? n : 1, sizeof(*m->hdrs));
    if (m->store == NULL || m->hdrs == NULL) {
        free(f);
        return -1;
    }
    uint8_t *o = m->store;
    for (unsigned k = 0; k < n; k++) {
        if (f[k].used)
            continue;
        struct httpi_hdr *hd = &m->hdrs[m->nhdrs++];
        memcpy(o, h + f[k].name, f[k].name_len);
        hd->name = o;
        hd->name_len = f[k].name_len;
        o += f[k].name_len;
        hd->value = o;
        int is_cl = httpi_casecmp(h + f[k].name, f[k].name_len, "content-length") == 0;
        unsigned reps = 0;
        for (unsigned j = k; j < n; j++) {
            if (j != k && (f[j].used || f[j].name_len != f[k].name_len ||
                           !mem_ieq(h + f[j].name, h + f[k].name, f[k].name_len)))
                continue;
            f[j].used = 1;
            uint32_t vl = f[j].val_end - f[j].val;
            if (j != k) {
                reps++;
                if (is_cl) {
                    /* a repeated Content-Length is kept once; a different one is flagged */
                    uint32_t fl = f[k].val_end - f[k].val;
                    if (vl != fl || memcmp(h + f[j].val, h + f[k].val, vl) != 0)
                        tx->pub.events |=
                            HTTPI_EV(dir ? HTTP_EV_DUPLICATE_CONTENT_LENGTH_FIELD_IN_RESPONSE
                                         : HTTP_EV_DUPLICATE_CONTENT_LENGTH_FIELD_IN_REQUEST);
                    continue;
                }
                *o++ = ',';
                *o++ = ' ';
            }
            /* copy the value, folding each line break and its indentation into one space */
            const uint8_t *v = h + f[j].val;
            for (uint32_t x = 0; x < vl; x++) {
                if (v[x] == '\r' || v[x] == '\n') {
                    while (x + 1 < vl && (v[x + 1] == '\r' || v[x + 1] == '\n' || is_ws(v[x + 1])))
                        x++;
                    *o++ = ' ';
                } else {
                    *o++ = v[x];
                }
            }
        }
        if (reps >= HTTPI_MAX_REPEAT)
            tx->pub.events |= HTTPI_EV(dir ? HTTP_EV_RESPONSE_HEADER_REPETITION
                                           : HTTP_EV_REQUEST_HEADER_REPETITION);
        hd->value_len = (uint32_t)(o - hd->value);
    }
    free(f);
    return 0;
}

const struct httpi_hdr *httpi_find(const struct httpi_msg *m, const char *name)
{
    for (unsigned i = 0; i < m->nhdrs; i++)
        if (httpi_casecmp(m->hdrs[i].name, m->hdrs[i].name_len, name) == 0)
            return &m->hdrs[i];
    return NULL;
}

void httpi_request_headers_done(struct httpi_tx *tx)
{
    const struct httpi_hdr *hh = httpi_find(&tx->m[0], "host");
    struct httpi_span host = {NULL, 0};
    if (tx->uri_host != NULL) {
        host.p = tx->uri_host;
        host.len = tx->uri_host_len;
        tx->host_raw = host;
        tx->port = tx->uri_port;
        if (hh != NULL) {
            struct httpi_span h2;
            int port2 = -1;
            if (httpi_parse_authority(hh->value, hh->value_len, &h2, &port2) < 0 ||
                h2.len != host.len || !mem_ieq(h2.p, host.p, host.len))
                tx->pub.events |= HTTPI_EV(HTTP_EV_HOST_HEADER_AMBIGUOUS);
        }
    } else if (hh != NULL) {
        tx->host_raw.p = hh->value;
        tx->host_raw.len = hh->value_len;
        if (memchr(hh->value, ',', hh->value_len) != NULL)
            tx->pub.events |= HTTPI_EV(HTTP_EV_HOST_HEADER_AMBIGUOUS);
        if (httpi_parse_authority(hh->value, hh->value_len, &host, &tx->port) < 0) {
            tx->pub.events |= HTTPI_EV(HTTP_EV_INVALID_AUTHORITY_PORT);
            tx->pub.events |= HTTPI_EV(HTTP_EV_REQUEST_HEADER_HOST_INVALID);
        }
    } else if (tx->m[0].proto.len == 8 && memcmp(tx->m[0].proto.p, "HTTP/1.1", 8) == 0) {
        tx->pub.events |= HTTPI_EV(HTTP_EV_MISSING_HOST_HEADER);
    }
    if (host.p != NULL && host.len > 0)
        tx->host = httpi_host_norm(host.p, host.len, &tx->host_len);
}

/* Content-Disposition's filename parameter, if any. */
static int disposition_filename(const struct httpi_hdr *h, struct httpi_span *out)
{
    const uint8_t *v = h->value;
    uint32_t n = h->value_len;
    for (uint32_t i = 0; i + 9 <= n; i++) {
        if (httpi_casecmp(v + i, 9, "filename=") != 0)
            continue;
        if (i > 0 && !(v[i - 1] == ';' || is_ws(v[i - 1])))
            continue;
        uint32_t s = i + 9, e;
        if (s < n && v[s] == '"') {
            s++;
            e = s;
            while (e < n && v[e] != '"')
                e++;
        } else {
            e = s;
            while (e < n && v[e] != ';' && !is_ws(v[e]))
                e++;
        }
        if (e > s) {
            out->p = v + s;
            out->len = e - s;
            return 1;
        }
    }
    return 0;
}

void httpi_set_filename(struct httpi_tx *tx, int dir)
{
    struct httpi_msg *m = &tx->m[dir];
    const struct httpi_hdr *cd = httpi_find(m, "content-disposition");
    if (cd != NULL && disposition_filename(cd, &m->filename))
        return;
    if (tx->uri_norm == NULL)
        return;
    uint32_t e = 0;
    while (e < tx->uri_norm_len && tx->uri_norm[e] != '?' && tx->uri_norm[e] != '#')
        e++;
    uint32_t s = e;
    while (s > 0 && tx->uri_norm[s - 1] != '/')
        s--;
    if (e > s) {
        m->filename.p = tx->uri_norm + s;
        m->filename.len = e - s;
    }
}

void httpi_msg_free(struct httpi_msg *m)
{
    httpi_bytes_free(&m->head);
    free(m->line);
    free(m->hdrs);
    free(m->store);
    httpi_bytes_free(&m->norm);
    httpi_bytes_free(&m->names);
    httpi_bytes_free(&m->start);
    httpi_body_free(m);
    memset(m, 0, sizeof(*m));
}

/* Builds http.header (which = 0), http.header_names (1) or http.start (2) once. */
static struct httpi_bytes *built(struct httpi_msg *m, int dir, int which)
{
    struct httpi_bytes *b = which == 0 ? &m->norm : which == 1 ? &m->names : &m->start;
    if (m->built & (1u << which))
        return b;
    m->built |= (uint8_t)(1u << which);
    int fail = 0;
    if (which == 1 && m->nhdrs > 0)
        fail |= httpi_bytes_append(b, "\r\n", 2);
    if (which == 2) {
        fail |= httpi_bytes_append(b, m->line, m->line_len);
        fail |= httpi_bytes_append(b, "\r\n", 2);
    }
    for (unsigned i = 0; i < m->nhdrs; i++) {
        const struct httpi_hdr *h = &m->hdrs[i];
        if (which == 1) {
            fail |= httpi_bytes_append(b, h->name, h->name_len);
            fail |= httpi_bytes_append(b, "\r\n", 2);
            continue;
        }
        /* http.header leaves the cookies to http.cookie, as Suricata does */
        if (which == 0 && httpi_casecmp(h->name, h->name_len, dir ? "set-cookie" : "cookie") == 0)
            continue;
        fail |= httpi_bytes_append(b, h->name, h->name_len);
        fail |= httpi_bytes_append(b, ": ", 2);
        fail |= httpi_bytes_append(b, h->value, h->value_len);
        fail |= httpi_bytes_append(b, "\r\n", 2);
    }
    if ((which == 1 && m->nhdrs > 0) || which == 2)
        fail |= httpi_bytes_append(b, "\r\n", 2);
    if (fail)
        b->len = 0;
    return b;
}

static const uint8_t *span(struct httpi_span sp, uint32_t *len)
{
    *len = sp.len;
    return sp.p;
}

static const uint8_t *hval(const struct httpi_msg *m, const char *name, uint32_t *len)
{
    const struct httpi_hdr *h = httpi_find(m, name);
    if (h == NULL)
        return NULL;
    *len = h->value_len;
    return h->value;
}

const uint8_t *http_tx_buffer(struct http_tx *ptx, unsigned buf, int dir, uint32_t *len)
{
    struct httpi_tx *tx = (struct httpi_tx *)ptx;
    dir &= 1;
    struct httpi_msg *m = &tx->m[dir];
    const uint8_t *r = NULL;
    uint32_t l = 0;
    int line = ptx->progress[dir] >= HTTP_PROG_LINE && m->line != NULL;
    int hdrs = m->hdr_complete && m->line != NULL;
    switch (buf) {
    case DB_HTTP_URI:
        if (dir == 0 && line)
            r = tx->uri_norm, l = tx->uri_norm_len;
        break;
    case DB_HTTP_URI_RAW:
        if (dir == 0 && line)
            r = span(tx->uri_raw, &l);
        break;
    case DB_HTTP_METHOD:
        if (dir == 0 && line)
            r = span(tx->method, &l);
        break;
    case DB_HTTP_PROTOCOL:
        if (line)
            r = span(m->proto, &l);
        break;
    case DB_HTTP_REQUEST_LINE:
    case DB_HTTP_RESPONSE_LINE:
        if (line && dir == (buf == DB_HTTP_RESPONSE_LINE))
            r = m->line, l = m->line_len;
        break;
    case DB_HTTP_STAT_CODE:
        if (dir == 1 && line)
            r = span(tx->stat_code, &l);
        break;
    case DB_HTTP_STAT_MSG:
        if (dir == 1 && line)
            r = span(tx->stat_msg, &l);
        break;
    case DB_HTTP_HOST:
        if (dir == 0 && hdrs)
            r = tx->host, l = tx->host_len;
        break;
    case DB_HTTP_HOST_RAW:
        if (dir == 0 && hdrs)
            r = span(tx->host_raw, &l);
        break;
    case DB_HTTP_USER_AGENT:
    case DB_HTTP_REFERER:
    case DB_HTTP_ACCEPT:
    case DB_HTTP_ACCEPT_ENC:
    case DB_HTTP_ACCEPT_LANG:
        if (dir == 0 && hdrs)
            r = hval(m,
                     buf == DB_HTTP_USER_AGENT   ? "user-agent"
                     : buf == DB_HTTP_REFERER    ? "referer"
                     : buf == DB_HTTP_ACCEPT     ? "accept"
                     : buf == DB_HTTP_ACCEPT_ENC ? "accept-encoding"
                                                 : "accept-language",
                     &l);
        break;
    case DB_HTTP_SERVER:
    case DB_HTTP_LOCATION:
        if (dir == 1 && hdrs)
            r = hval(m, buf == DB_HTTP_SERVER ? "server" : "location", &l);
        break;
    case DB_HTTP_COOKIE:
        if (hdrs)
            r = hval(m, dir ? "set-cookie" : "cookie", &l);
        break;
    case DB_HTTP_CONTENT_TYPE:
    case DB_HTTP_CONTENT_LEN:
    case DB_HTTP_CONNECTION:
        if (hdrs)
            r = hval(m,
                     buf == DB_HTTP_CONTENT_TYPE  ? "content-type"
                     : buf == DB_HTTP_CONTENT_LEN ? "content-length"
                                                  : "connection",
                     &l);
        break;
    case DB_HTTP_HEADER:
    case DB_HTTP_HEADER_NAMES:
    case DB_HTTP_START:
        if (hdrs) {
            struct httpi_bytes *b = built(m, dir,
                                          buf == DB_HTTP_HEADER         ? 0
                                          : buf == DB_HTTP_HEADER_NAMES ? 1
                                                                        : 2);
            r = b->p, l = b->len;
        }
        break;
    case DB_HTTP_HEADER_RAW:
        if (hdrs && m->head.len > m->hdr_off)
            r = m->head.p + m->hdr_off, l = m->head.len - m->hdr_off;
        break;
    case DB_HTTP_REQUEST_BODY:
        if (dir == 0)
            r = m->body.p, l = m->body.len;
        break;
    case DB_FILE_DATA:
        r = m->body.p, l = m->body.len;
        break;
    default:
        break;
    }
    if (r == NULL || l == 0) {
        *len = 0;
        return NULL;
    }
    *len = l;
    return r;
}

const uint8_t *http_tx_header(const struct http_tx *ptx, int dir, const char *name, uint32_t *len)
{
    const struct httpi_tx *tx = (const struct httpi_tx *)ptx;
    const uint8_t *r = hval(&tx->m[dir & 1], name, len);
    if (r == NULL)
        *len = 0;
    return r;
}

unsigned http_tx_header_count(const struct http_tx *ptx, int dir)
{
    return ((const struct httpi_tx *)ptx)->m[dir & 1].nhdrs;
}

int http_tx_header_at(const struct http_tx *ptx, int dir, unsigned i, const uint8_t **name,
                      uint32_t *name_len, const uint8_t **value, uint32_t *value_len)
{
    const struct httpi_msg *m = &((const struct httpi_tx *)ptx)->m[dir & 1];
    if (i >= m->nhdrs)
        return -1;
    *name = m->hdrs[i].name;
    *name_len = m->hdrs[i].name_len;
    *value = m->hdrs[i].value;
    *value_len = m->hdrs[i].value_len;
    return 0;
}

const uint8_t *http_tx_filename(const struct http_tx *ptx, int dir, uint32_t *len)
{
    const struct httpi_msg *m = &((const struct httpi_tx *)ptx)->m[dir & 1];
    *len = m->filename.len;
    return m->filename.len ? m->filename.p : NULL;
}

int http_tx_port(const struct http_tx *ptx)
{
    return ((const struct httpi_tx *)ptx)->port;
}

/* Reads decimal digits at p[*i..n) into *v (at most 18). Returns 0, or -1 without digits. */
static int range_num(const uint8_t *p, uint32_t n, uint32_t *i, uint64_t *v)
{
    uint32_t st = *i;
    *v = 0;
    while (*i < n && p[*i] >= '0' && p[*i] <= '9') {
        if (*i - st >= 18)
            return -1;
        *v = *v * 10 + (uint64_t)(p[*i] - '0');
        (*i)++;
    }
    return *i > st ? 0 : -1;
}

int http_tx_content_range(const struct http_tx *ptx, int dir, struct http_range *r)
{
    uint32_t n;
    const uint8_t *p = http_tx_header(ptx, dir, "content-range", &n);
    if (p == NULL)
        return -1;
    uint32_t i = 0;
    memset(r, 0, sizeof(*r));
    while (i < n && is_ws(p[i]))
        i++;
    if (i < n && !(p[i] >= '0' && p[i] <= '9') && p[i] != '*') {
        /* the unit ("bytes"), as Suricata any token, then whitespace */
        while (i < n && !is_ws(p[i]))
            i++;
        while (i < n && is_ws(p[i]))
            i++;
    }
    if (i < n && p[i] == '*') {
        i++; /* an unsatisfied range: "*" then "/SIZE" */
    } else {
        if (range_num(p, n, &i, &r->start) < 0 || i >= n || p[i] != '-')
            return -1;
        i++;
        if (range_num(p, n, &i, &r->end) < 0 || r->end < r->start)
            return -1;
        r->has_range = 1;
    }
    if (i >= n || p[i] != '/')
        return -1;
    i++;
    if (i < n && p[i] == '*') {
        r->size = -1;
        i++;
    } else {
        uint64_t size;
        if (range_num(p, n, &i, &size) < 0 || (r->has_range && r->end >= size))
            return -1;
        r->size = (int64_t)size;
    }
    while (i < n && is_ws(p[i]))
        i++;
    return i == n ? 0 : -1;
}
