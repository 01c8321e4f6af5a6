/* app-http.c: the HTTP/1.x parser's state machine: messages, framing, transactions, gaps. */
#include <stdlib.h>
#include <string.h>

#include "app-http-internal.h"
#include "vigil/common.h"

static void set_ev(struct httpi_tx *tx, enum http_event e)
{
    tx->pub.events |= HTTPI_EV(e);
}

/* Ends the current message of direction dir. */
static void msg_done(struct http_state *s, int dir)
{
    struct httpi_dir *d = &s->d[dir];
    struct httpi_tx *tx = d->cur;
    if (tx != NULL) {
        struct httpi_msg *m = &tx->m[dir];
        if (!m->hdr_complete && m->head.len > 0) {
            /* a limit, gap or end of stream cut the head: keep the complete lines */
            m->head.len = d->line_start;
            if (m->line == NULL && tx->pub.progress[dir] < HTTP_PROG_LINE)
                m->head.len = 0;
            m->hdr_complete = 1;
            (void)httpi_build_headers(tx, dir);
            if (m->line != NULL) {
                if (dir == 0)
                    httpi_request_headers_done(tx);
                httpi_set_filename(tx, dir);
            }
        }
        httpi_body_end(s, tx, dir);
        tx->pub.progress[dir] = HTTP_PROG_COMPLETE;
        if (dir == 1) {
            d->next_resp = tx->pub.id + 1;
            d->resp_done = 1;
        }
    }
    d->ws_pending = 0;
    d->cur = NULL;
    d->ps = PS_IDLE;
    d->nlines = 0;
    d->line_start = 0;
    d->remain = 0;
    d->lbuf.len = 0;
}

/* Stops parsing direction dir; the message in progress ends with what it has. */
static void die(struct http_state *s, int dir, int parse_error)
{
    msg_done(s, dir);
    s->d[dir].dead = 1;
    if (parse_error)
        s->stats.parse_errors++;
}

/* Bytes after CONNECT/101 are not HTTP: both directions stop being parsed, without error. */
static void tunnel(struct http_state *s)
{
    for (int dir = 0; dir < 2; dir++) {
        if (s->d[dir].cur != NULL)
            msg_done(s, dir);
        s->d[dir].tunnel = 1;
    }
}

/*
 * Reads a line into lbuf from data. Returns the bytes consumed and sets *done when lbuf holds
 * a whole line (terminator included); -1 if the line outgrew max_line.
 */
static int64_t read_line(struct http_state *s, struct httpi_dir *d, const uint8_t *data,
                         uint32_t len, int *done)
{
    const uint8_t *nl = memchr(data, '\n', len);
    uint32_t n = nl ? (uint32_t)(nl - data) + 1 : len;
    *done = nl != NULL;
    if ((uint64_t)d->lbuf.len + n > s->cfg.max_line)
        return -1;
    if (httpi_bytes_append(&d->lbuf, data, n) < 0)
        return -1;
    return n;
}

/* Length of line p[0..n) without its LF or CRLF terminator. */
static uint32_t line_content(const uint8_t *p, uint32_t n)
{
    if (n > 0 && p[n - 1] == '\n')
        n--;
    if (n > 0 && p[n - 1] == '\r')
        n--;
    return n;
}

/* Methods a resynchronisation accepts: the tail of a cut line must not pass for a request. */
static const char *const resync_methods[] = {
    "GET",  "POST", "HEAD",     "PUT",       "DELETE", "OPTIONS", "CONNECT", "TRACE",  "PATCH",
    "COPY", "MOVE", "PROPFIND", "PROPPATCH", "MKCOL",  "LOCK",    "UNLOCK",  "SEARCH", "REPORT",
};

/*
 * 1 if line looks like the start of a message of direction dir (resynchronisation): a status
 * line "HTTP/1.x NNN", or a request line "METHOD SP ... SP HTTP/1.x" with a known method.
 */
static int looks_like_start(int dir, const uint8_t *p, uint32_t n)
{
    n = line_content(p, n);
    if (dir == 1)
        return n >= 12 && memcmp(p, "HTTP/1.", 7) == 0 && p[8] == ' ' && p[9] >= '0' &&
               p[9] <= '9' && p[10] >= '0' && p[10] <= '9' && p[11] >= '0' && p[11] <= '9';
    const uint8_t *sp = memchr(p, ' ', n);
    if (sp == NULL)
        return 0;
    uint32_t ml = (uint32_t)(sp - p);
    int known = 0;
    for (unsigned i = 0; i < sizeof(resync_methods) / sizeof(resync_methods[0]); i++)
        if (strlen(resync_methods[i]) == ml && memcmp(p, resync_methods[i], ml) == 0)
            known = 1;
    return known && n >= ml + 11 && memcmp(p + n - 8, "HTTP/1.", 7) == 0 && p[n - 9] == ' ';
}

static void body_bytes(struct http_state *s, int dir, const uint8_t *p, uint32_t n);

/* Starts a message of direction dir: a new request tx, or the tx the response belongs to. */
static int msg_start(struct http_state *s, int dir)
{
    struct httpi_dir *d = &s->d[dir];
    struct httpi_tx *tx = d->cur;
    if (dir == 0) {
        tx = httpi_tx_new(s);
        if (tx == NULL)
            return -1;
        s->stats.requests++;
    } else if (tx == NULL) {
        tx = httpi_tx_by_id(s, d->next_resp);
        d->unmatched = tx == NULL;
        if (tx == NULL) {
            tx = httpi_tx_new(s);
            if (tx == NULL)
                return -1;
            tx->pub.progress[0] = HTTP_PROG_COMPLETE;
            set_ev(tx, HTTP_EV_UNABLE_TO_MATCH_RESPONSE_TO_REQUEST);
        }
        s->stats.responses++;
    }
    d->cur = tx;
    d->ps = PS_HEAD;
    d->line_start = 0;
    d->nlines = 0;
    d->ws_pending = 0;
    if (dir == 1 && tx->v09) {
        /* an HTTP/0.9 response is a bare body up to the close */
        tx->m[1].hdr_complete = 1;
        tx->pub.progress[1] = HTTP_PROG_BODY;
        httpi_body_begin(s, tx, 1);
        d->ps = PS_BODY_CLOSE;
    }
    return 0;
}

/*
 * Parses a Content-Length as libhtp does: whitespace around it is skipped, and so is junk before
 * the first digit (*lead set) and after the last (*trail set). -1 without digits or past 18.
 */
static int64_t parse_cl(const uint8_t *p, uint32_t n, int *lead, int *trail)
{
    uint32_t i = 0;
    *lead = *trail = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    while (i < n && !(p[i] >= '0' && p[i] <= '9')) {
        *lead = 1;
        i++;
    }
    int64_t v = 0;
    uint32_t digits = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        if (++digits > 18)
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (digits == 0)
        return -1;
    *trail = i != n;
    return v;
}

/* 1 if the value holds "chunked" anywhere (case-insensitive), as libhtp tests it. */
static int has_chunked(const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i + 7 <= n; i++)
        if (httpi_casecmp(p + i, 7, "chunked") == 0)
            return 1;
    return 0;
}

/* The headers of direction dir are complete: decide how the body is framed. */
static void headers_done(struct http_state *s, int dir)
{
    struct httpi_dir *d = &s->d[dir];
    struct httpi_tx *tx = d->cur;
    struct httpi_msg *m = &tx->m[dir];
    m->hdr_complete = 1;
    if (httpi_build_headers(tx, dir) < 0) {
        die(s, dir, 0);
        return;
    }
    const struct httpi_hdr *te = httpi_find(m, "transfer-encoding");
    const struct httpi_hdr *cl = httpi_find(m, "content-length");
    int status = tx->pub.status;
    /* as libhtp: a 1xx, 204 or 304 that announces a body has one (browsers read it) */
    int framed = te != NULL || cl != NULL;
    if (dir == 1 && status >= 100 && status < 200 && status != 101 && !framed) {
        /* interim response: the real one follows for the same tx */
        if (tx->seen_100)
            set_ev(tx, HTTP_EV_100_CONTINUE_ALREADY_SEEN);
        tx->seen_100 = 1;
        httpi_msg_free(m);
        m->body_limit = s->cfg.response_body_limit;
        tx->pub.status = -1;
        tx->stat_code.p = tx->stat_msg.p = NULL;
        tx->stat_code.len = tx->stat_msg.len = 0;
        tx->pub.progress[1] = HTTP_PROG_NONE;
        d->ps = PS_IDLE;
        d->line_start = 0;
        d->nlines = 0;
        return;
    }
    tx->pub.progress[dir] = HTTP_PROG_HEADERS;
    if (dir == 0)
        httpi_request_headers_done(tx);
    httpi_set_filename(tx, dir);

    if (dir == 1 && status == 101 && framed)
        set_ev(tx, HTTP_EV_SWITCHING_PROTO_WITH_CONTENT_LENGTH); /* not a tunnel (libhtp) */
    else if (dir == 1 && (status == 101 || (tx->is_connect && status >= 200 && status < 300))) {
        msg_done(s, 1);
        tunnel(s);
        return;
    }
    int nobody = dir == 1 &&
                 (tx->is_head ||
                  ((status == 204 || status == 304 || (status >= 100 && status < 200)) && !framed));
    if (dir == 1 && !tx->is_head && framed &&
        (status == 204 || status == 304 || (status >= 100 && status < 200)))
        set_ev(tx, HTTP_EV_RESPONSE_BODY_UNEXPECTED);
    int64_t clen = -1;
    if (cl != NULL) {
        int lead, trail;
        clen = parse_cl(cl->value, cl->value_len, &lead, &trail);
        if (dir == 0 && (lead || trail))
            clen = -1; /* requests stay strict: a smuggling vector, and no evader needs it */
        if (clen < 0)
            set_ev(tx, dir ? HTTP_EV_INVALID_CONTENT_LENGTH_FIELD_IN_RESPONSE
                           : HTTP_EV_INVALID_CONTENT_LENGTH_FIELD_IN_REQUEST);
        if (clen >= 0 && lead)
            set_ev(tx, HTTP_EV_CONTENT_LENGTH_EXTRA_DATA_START);
        if (clen >= 0 && trail)
            set_ev(tx, HTTP_EV_CONTENT_LENGTH_EXTRA_DATA_END);
    }
    if (nobody) {
        msg_done(s, dir);
        return;
    }
    if (te != NULL) {
        if (has_chunked(te->value, te->value_len)) {
            if (httpi_casecmp(te->value, te->value_len, "chunked") != 0)
                set_ev(tx, dir ? HTTP_EV_RESPONSE_ABNORMAL_TRANSFER_ENCODING
                               : HTTP_EV_INVALID_TRANSFER_ENCODING_VALUE_IN_REQUEST);
            if (dir == 1 && !(m->proto.len == 8 && memcmp(m->proto.p, "HTTP/1.1", 8) == 0))
                set_ev(tx, HTTP_EV_RESPONSE_CHUNKED_OLD_PROTO);
            m->chunked = 1;
            tx->pub.progress[dir] = HTTP_PROG_BODY;
            httpi_body_begin(s, tx, dir);
            d->ps = PS_CHUNK_SIZE;
            d->lbuf.len = 0;
            return;
        }
        set_ev(tx, dir ? HTTP_EV_INVALID_TRANSFER_ENCODING_VALUE_IN_RESPONSE
                       : HTTP_EV_INVALID_TRANSFER_ENCODING_VALUE_IN_REQUEST);
    }
    if (clen > 0) {
        tx->pub.progress[dir] = HTTP_PROG_BODY;
        tx->pub.body_announced[dir] = (uint64_t)clen;
        httpi_body_begin(s, tx, dir);
        d->remain = (uint64_t)clen;
        d->ps = PS_BODY_CL;
        return;
    }
    if (dir == 1 && clen < 0) {
        tx->pub.progress[dir] = HTTP_PROG_BODY;
        httpi_body_begin(s, tx, dir);
        d->ps = PS_BODY_CLOSE;
        return;
    }
    msg_done(s, dir);
}

/*
 * Forgets the request being read before its line was parsed (not a request, or cut by a gap
 * or the end of the stream), so that no empty transaction is left. Returns 1 if it did.
 */
static int drop_request(struct http_state *s)
{
    struct httpi_tx *tx = s->d[0].cur;
    if (tx == NULL || s->d[1].cur == tx || s->ntxs == 0 || s->txs[s->ntxs - 1] != tx ||
        tx->pub.progress[1] != HTTP_PROG_NONE)
        return 0;
    s->d[0].cur = NULL;
    s->ntxs--;
    s->next_id--;
    s->stats.requests--;
    httpi_tx_free(tx);
    s->d[0].ps = PS_IDLE;
    return 1;
}

/* 1 if p[0..n) holds nothing but whitespace (libhtp's ignorable line). */
static int blank_line(const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (!(p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n' || p[i] == 0x0b ||
              p[i] == 0x0c))
            return 0;
    return 1;
}

/*
 * Direction 1 before its status line: 1 if the first n bytes cannot start one (libhtp's
 * treat_response_line_as_body: after whitespace and NULs, "http" in any case), 0 if they can or
 * it is too early to tell (complete: the line is whole).
 */
static int not_status_line(const uint8_t *p, uint32_t n, int complete)
{
    uint32_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n' || p[i] == 0 ||
                     p[i] == 0x0b || p[i] == 0x0c))
        i++;
    static const char http[] = "http";
    uint32_t k = 0;
    for (; k < 4 && i + k < n; k++) {
        uint8_t c = p[i + k];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c + 32);
        if (c != (uint8_t)http[k])
            return 1;
    }
    return k < 4 && complete;
}

/*
 * The response being read has no status line. Right after another response, as libhtp these
 * bytes would extend that body, but its file is closed: they are dropped up to the next line
 * that can start a response. Otherwise the response is a bare body up to the close (libhtp,
 * browsers): an HTTP/0.9-style answer.
 */
static void response_without_line(struct http_state *s, int line_complete)
{
    struct httpi_dir *d = &s->d[1];
    struct httpi_tx *tx = d->cur;
    struct httpi_msg *m = &tx->m[1];
    if (tx->pub.id == 0 || s->stats.responses == 1)
        s->events |= HTTPI_EV(HTTP_EV_NOT_HTTP);
    if (d->resp_done) {
        s->events |= HTTPI_EV(HTTP_EV_RESPONSE_BODY_UNEXPECTED);
        s->stats.responses--;
        if (d->unmatched && s->ntxs > 0 && s->txs[s->ntxs - 1] == tx) {
            s->ntxs--;
            s->next_id--;
            httpi_tx_free(tx);
        } else {
            httpi_msg_free(m);
            m->body_limit = s->cfg.response_body_limit;
        }
        d->cur = NULL;
        d->ps = PS_EXTRA;
        d->lbuf.len = 0;
        d->discard_line = !line_complete;
        return;
    }
    set_ev(tx, HTTP_EV_RESPONSE_LINE_INVALID);
    struct httpi_bytes raw = m->head;
    memset(&m->head, 0, sizeof(m->head));
    m->hdr_complete = 1;
    httpi_set_filename(tx, 1);
    tx->pub.progress[1] = HTTP_PROG_BODY;
    httpi_body_begin(s, tx, 1);
    d->ps = PS_BODY_CLOSE;
    d->line_start = 0;
    if (raw.len > 0)
        body_bytes(s, 1, raw.p, raw.len);
    httpi_bytes_free(&raw);
}

/*
 * After a whitespace-only line in response headers, line p[0..n) (maybe incomplete) decides
 * what it was, as libhtp's terminator special case: -1 too early to tell, 0 folding (the next
 * line is a field "name:" or the empty line), 1 the end of the headers (the line is body).
 */
static int ws_line_verdict(const uint8_t *p, uint32_t n, int complete)
{
    if (n == 0)
        return -1;
    if (p[0] == '\r' || p[0] == '\n')
        return 0;
    uint32_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    while (i < n && p[i] > 32 && p[i] < 127 && strchr("()<>@,;:\\\"/[]?={}", p[i]) == NULL)
        i++;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i == n)
        return complete ? 1 : -1;
    return p[i] == ':' ? 0 : 1;
}

/* A complete line at head[line_start..head.len) of the current message. */
static void head_line(struct http_state *s, int dir)
{
    struct httpi_dir *d = &s->d[dir];
    struct httpi_tx *tx = d->cur;
    struct httpi_msg *m = &tx->m[dir];
    const uint8_t *p = m->head.p + d->line_start;
    uint32_t n = m->head.len - d->line_start;
    uint32_t c = line_content(p, n);
    if (tx->pub.progress[dir] < HTTP_PROG_LINE) {
        int rc = dir ? httpi_parse_response_line(s, tx) : httpi_parse_request_line(s, tx);
        if (rc < 0) {
            if (tx->pub.id == 0 || (dir == 1 && s->stats.responses == 1))
                s->events |= HTTPI_EV(HTTP_EV_NOT_HTTP);
            if (dir == 0 && drop_request(s)) {
                s->events |= HTTPI_EV(HTTP_EV_REQUEST_LINE_INVALID);
            } else {
                set_ev(tx, dir ? HTTP_EV_RESPONSE_LINE_INVALID : HTTP_EV_REQUEST_LINE_INVALID);
            }
            die(s, dir, 1);
            return;
        }
        tx->pub.progress[dir] = HTTP_PROG_LINE;
        if (dir == 1)
            d->resp_done = 0;
        m->hdr_off = m->head.len;
        d->line_start = m->head.len;
        if (dir == 0 && tx->v09) {
            m->hdr_complete = 1;
            tx->pub.progress[0] = HTTP_PROG_HEADERS;
            httpi_request_headers_done(tx);
            httpi_set_filename(tx, 0);
            msg_done(s, 0);
        }
        return;
    }
    if (c == 0) {
        headers_done(s, dir);
        return;
    }
    if (++d->nlines > s->cfg.max_headers) {
        set_ev(tx, dir ? HTTP_EV_RESPONSE_TOO_MANY_HEADERS : HTTP_EV_REQUEST_TOO_MANY_HEADERS);
        s->stats.limit_hits++;
        die(s, dir, 0);
        return;
    }
    if (dir == 1 && d->nlines > 1) {
        uint32_t k = 0;
        while (k < c && (p[k] == ' ' || p[k] == '\t'))
            k++;
        d->ws_pending = k == c;
    }
    d->line_start = m->head.len;
}

/* PS_HEAD: collects the start line and the header lines into the message's head. */
static uint32_t p_head(struct http_state *s, int dir, const uint8_t *data, uint32_t len)
{
    struct httpi_dir *d = &s->d[dir];
    struct httpi_msg *m = &d->cur->m[dir];
    const uint8_t *nl = memchr(data, '\n', len);
    uint32_t n = nl ? (uint32_t)(nl - data) + 1 : len;
    uint64_t line_len = (uint64_t)m->head.len - d->line_start + n;
    if (line_len > s->cfg.max_line || (uint64_t)m->head.len + n > s->cfg.max_header_bytes) {
        struct httpi_tx *tx = d->cur;
        if (line_len > s->cfg.max_line)
            set_ev(tx, dir ? HTTP_EV_RESPONSE_FIELD_TOO_LONG : HTTP_EV_REQUEST_FIELD_TOO_LONG);
        else
            set_ev(tx, dir ? HTTP_EV_RESPONSE_TOO_MANY_HEADERS : HTTP_EV_REQUEST_TOO_MANY_HEADERS);
        s->stats.limit_hits++;
        die(s, dir, 0);
        return n;
    }
    if (httpi_bytes_append(&m->head, data, n) < 0) {
        die(s, dir, 0);
        return n;
    }
    struct httpi_tx *tx = d->cur;
    if (dir == 1 && tx->pub.progress[1] < HTTP_PROG_LINE && nl != NULL &&
        blank_line(m->head.p, m->head.len)) {
        m->head.len = 0; /* whitespace before a status line is ignored, as libhtp does */
        return n;
    }
    if (dir == 1 && tx->pub.progress[1] < HTTP_PROG_LINE &&
        not_status_line(m->head.p, m->head.len, nl != NULL)) {
        response_without_line(s, nl != NULL);
        return n;
    }
    if (dir == 1 && d->ws_pending) {
        int v = ws_line_verdict(m->head.p + d->line_start, m->head.len - d->line_start, nl != NULL);
        if (v < 0)
            return n;
        d->ws_pending = 0;
        if (v == 1) {
            /* the whitespace line ended the headers: this line is the body's start */
            uint32_t bl = m->head.len - d->line_start;
            uint8_t *b = malloc(bl);
            if (b == NULL) {
                die(s, dir, 0);
                return n;
            }
            memcpy(b, m->head.p + d->line_start, bl);
            m->head.len = d->line_start;
            headers_done(s, dir);
            (void)http_parse(s, dir, b, bl); /* one line: it cannot end another head */
            free(b);
            return n;
        }
    }
    if (nl != NULL)
        head_line(s, dir);
    return n;
}

/* Body bytes of the current message: counted, decoded, kept. */
static void body_bytes(struct http_state *s, int dir, const uint8_t *p, uint32_t n)
{
    struct httpi_tx *tx = s->d[dir].cur;
    tx->pub.msg_len[dir] += n;
    httpi_body_data(s, tx, dir, p, n);
}

#define CHUNK_BAD (-1)  /* no size: the body is not chunked after all */
#define CHUNK_SKIP (-2) /* nothing usable on the line: read the next one */

/* The control characters libhtp skips before a chunk size. */
static int chunk_ctl(uint8_t c)
{
    return c == '\r' || c == '\n' || c == ' ' || c == '\t' || c == 0x0b || c == 0x0c;
}

/*
 * Parses a chunk-size line as libhtp does: control characters before the digits are skipped,
 * the hex digits are the size, and whatever follows them is ignored (an extension, or junk such
 * as "fx" or "f,"). Returns the size, CHUNK_SKIP for a line of control characters only or a
 * size past INT32_MAX, or CHUNK_BAD for a line without digits or with more than 16.
 */
static int64_t parse_chunk_size(struct httpi_tx *tx, int dir, const uint8_t *p, uint32_t n)
{
    uint32_t i = 0, digits = 0;
    while (i < n && chunk_ctl(p[i]))
        i++;
    if (i == n)
        return CHUNK_SKIP;
    uint64_t v = 0;
    uint32_t st = i;
    for (; i < n && vg_hexval(p[i]) >= 0; i++) {
        if (v == 0 && vg_hexval(p[i]) == 0)
            continue; /* leading zeros do not count towards the size limit */
        if (++digits > 16)
            return CHUNK_BAD;
        v = v * 16 + (uint64_t)vg_hexval(p[i]);
    }
    if (i == st)
        return CHUNK_BAD;
    uint32_t e = line_content(p, n);
    while (i < e && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i < e && dir == 0)
        tx->pub.events |= HTTPI_EV(HTTP_EV_REQUEST_CHUNK_EXTENSION);
    if (v > INT32_MAX) {
        tx->pub.events |=
            HTTPI_EV(dir ? HTTP_EV_INVALID_RESPONSE_CHUNK_LEN : HTTP_EV_INVALID_REQUEST_CHUNK_LEN);
        return CHUNK_SKIP;
    }
    return (int64_t)v;
}

/*
 * 1 if the start of a chunk-size line, p[0..n) without its end yet, already shows it holds no
 * size (libhtp's is_valid_chunked_length_data): the first byte after the control characters
 * is not a hex digit.
 */
static int chunk_start_bad(const uint8_t *p, uint32_t n)
{
    uint32_t i = 0;
    while (i < n && chunk_ctl(p[i]))
        i++;
    return i < n && vg_hexval(p[i]) < 0;
}

/*
 * The response announced chunking but its body is not chunked: as libhtp, the rest of the
 * body (the bytes in lbuf first) is read as sent, up to the end of the connection.
 */
static void chunk_fallback(struct http_state *s, int dir)
{
    struct httpi_dir *d = &s->d[dir];
    struct httpi_tx *tx = d->cur;
    set_ev(tx, HTTP_EV_INVALID_RESPONSE_CHUNK_LEN);
    tx->m[dir].chunked = 0;
    d->ps = PS_BODY_CLOSE;
    uint32_t n = d->lbuf.len;
    d->lbuf.len = 0;
    if (n > 0)
        body_bytes(s, dir, d->lbuf.p, n);
}

/* One line of a chunked body (size, data end, trailer) is in lbuf. */
static void chunk_line(struct http_state *s, int dir)
{
    struct httpi_dir *d = &s->d[dir];
    struct httpi_tx *tx = d->cur;
    const uint8_t *p = d->lbuf.p;
    uint32_t n = d->lbuf.len;
    if (d->ps == PS_CHUNK_END) {
        tx->pub.msg_len[dir] += n;
        d->lbuf.len = 0;
        d->ps = PS_CHUNK_SIZE;
        return;
    }
    if (d->ps == PS_TRAILER) {
        tx->pub.msg_len[dir] += n;
        d->lbuf.len = 0;
        d->trailer_bytes += n;
        if (line_content(p, n) == 0) {
            msg_done(s, dir);
            return;
        }
        if (++d->nlines > s->cfg.max_headers || d->trailer_bytes > s->cfg.max_header_bytes) {
            set_ev(tx, dir ? HTTP_EV_RESPONSE_TOO_MANY_HEADERS : HTTP_EV_REQUEST_TOO_MANY_HEADERS);
            s->stats.limit_hits++;
            die(s, dir, 0);
        }
        return;
    }
    int64_t sz = parse_chunk_size(tx, dir, p, n);
    if (sz == CHUNK_BAD) {
        if (dir == 1) {
            chunk_fallback(s, dir); /* the line is body data */
            return;
        }
        tx->pub.msg_len[dir] += n;
        d->lbuf.len = 0;
        set_ev(tx, HTTP_EV_INVALID_REQUEST_CHUNK_LEN);
        die(s, dir, 1);
        return;
    }
    tx->pub.msg_len[dir] += n;
    d->lbuf.len = 0;
    if (sz == CHUNK_SKIP)
        return; /* as libhtp: empty lines before a size are tolerated */
    if (sz == 0) {
        d->ps = PS_TRAILER;
        d->nlines = 0;
        d->trailer_bytes = 0;
        return;
    }
    d->remain = (uint64_t)sz;
    d->ps = PS_CHUNK_DATA;
}

/* PS_RESYNC: a whole line is in lbuf; start a message with it if it looks like one. */
static void resync_line(struct http_state *s, int dir)
{
    struct httpi_dir *d = &s->d[dir];
    if (!looks_like_start(dir, d->lbuf.p, d->lbuf.len)) {
        d->lbuf.len = 0;
        return;
    }
    s->stats.gaps_recovered++;
    if (msg_start(s, dir) < 0) {
        die(s, dir, 0);
        return;
    }
    struct httpi_msg *m = &d->cur->m[dir];
    if (d->ps != PS_HEAD || httpi_bytes_append(&m->head, d->lbuf.p, d->lbuf.len) < 0) {
        d->lbuf.len = 0;
        return;
    }
    d->lbuf.len = 0;
    head_line(s, dir);
}

int http_parse(struct http_state *s, int dir, const uint8_t *data, uint32_t len)
{
    dir &= 1;
    struct httpi_dir *d = &s->d[dir];
    if (d->dead)
        return -1;
    uint32_t off = 0;
    while (off < len && !d->dead) {
        if (d->tunnel || d->ended) {
            s->stats.tunnel_bytes += len - off;
            break;
        }
        const uint8_t *p = data + off;
        uint32_t avail = len - off;
        uint32_t n = 0;
        int done = 0;
        int64_t r;
        switch (d->ps) {
        case PS_IDLE:
            if (*p == '\r' || *p == '\n') {
                n = 1; /* empty lines between messages are ignored, as libhtp does */
                break;
            }
            if (msg_start(s, dir) < 0)
                die(s, dir, 0);
            break;
        case PS_HEAD:
            n = p_head(s, dir, p, avail);
            break;
        case PS_BODY_CL:
        case PS_CHUNK_DATA:
            n = avail < d->remain ? avail : (uint32_t)d->remain;
            body_bytes(s, dir, p, n);
            d->remain -= n;
            if (d->remain == 0) {
                if (d->ps == PS_BODY_CL)
                    msg_done(s, dir);
                else
                    d->ps = PS_CHUNK_END;
            }
            break;
        case PS_BODY_CLOSE:
            n = avail;
            body_bytes(s, dir, p, n);
            break;
        case PS_CHUNK_SIZE:
        case PS_CHUNK_END:
        case PS_TRAILER:
            r = read_line(s, d, p, avail, &done);
            if (r < 0) {
                struct httpi_tx *tx = d->cur;
                if (d->ps == PS_TRAILER)
                    set_ev(tx,
                           dir ? HTTP_EV_RESPONSE_FIELD_TOO_LONG : HTTP_EV_REQUEST_FIELD_TOO_LONG);
                else
                    set_ev(tx, dir ? HTTP_EV_INVALID_RESPONSE_CHUNK_LEN
                                   : HTTP_EV_INVALID_REQUEST_CHUNK_LEN);
                s->stats.limit_hits++;
                die(s, dir, 0);
                n = avail;
                break;
            }
            n = (uint32_t)r;
            if (done)
                chunk_line(s, dir);
            else if (d->ps == PS_CHUNK_SIZE && dir == 1 && chunk_start_bad(d->lbuf.p, d->lbuf.len))
                chunk_fallback(s, dir); /* no need to wait for the end of a line that is no size */
            break;
        case PS_EXTRA:
            if (d->discard_line) {
                const uint8_t *nl = memchr(p, '\n', avail);
                n = nl ? (uint32_t)(nl - p) + 1 : avail;
                if (nl)
                    d->discard_line = 0;
                break;
            }
            r = read_line(s, d, p, avail, &done);
            if (r < 0 || not_status_line(d->lbuf.p, r < 0 ? 0 : d->lbuf.len, done)) {
                n = r < 0 ? 0 : (uint32_t)r;
                d->discard_line = r < 0 || !done;
                d->lbuf.len = 0;
                break;
            }
            n = (uint32_t)r;
            if (d->lbuf.len >= 4 || done) {
                /* it can start a response: parse it from its first byte */
                struct httpi_bytes line = d->lbuf;
                memset(&d->lbuf, 0, sizeof(d->lbuf));
                d->ps = PS_IDLE;
                (void)http_parse(s, dir, line.p, line.len);
                httpi_bytes_free(&line);
            }
            break;
        case PS_RESYNC:
            if (d->discard_line) {
                const uint8_t *nl = memchr(p, '\n', avail);
                n = nl ? (uint32_t)(nl - p) + 1 : avail;
                if (nl)
                    d->discard_line = 0;
                break;
            }
            r = read_line(s, d, p, avail, &done);
            if (r < 0) {
                d->lbuf.len = 0;
                d->discard_line = 1;
                break;
            }
            n = (uint32_t)r;
            if (done)
                resync_line(s, dir);
            break;
        }
        off += n;
    }
    return d->dead ? -1 : 0;
}

void http_gap(struct http_state *s, int dir, uint32_t len)
{
    dir &= 1;
    struct httpi_dir *d = &s->d[dir];
    if (d->dead || d->tunnel || d->ended || len == 0)
        return;
    s->stats.gaps++;
    struct httpi_tx *tx = d->cur;
    if (tx != NULL)
        set_ev(tx, HTTP_EV_STREAM_GAP);
    switch (d->ps) {
    case PS_BODY_CL:
    case PS_CHUNK_DATA:
        if (len <= d->remain) {
            tx->pub.msg_len[dir] += len;
            httpi_body_gap(s, tx, dir);
            d->remain -= len;
            if (d->remain == 0) {
                if (d->ps == PS_BODY_CL)
                    msg_done(s, dir);
                else
                    d->ps = PS_CHUNK_END;
            }
            s->stats.gaps_recovered++;
            return;
        }
        break;
    case PS_BODY_CLOSE:
        tx->pub.msg_len[dir] += len;
        httpi_body_gap(s, tx, dir);
        s->stats.gaps_recovered++;
        return;
    default:
        break;
    }
    if (dir == 0 && tx != NULL && tx->pub.progress[0] < HTTP_PROG_LINE && drop_request(s))
        tx = NULL;
    if (tx != NULL)
        httpi_body_gap(s, tx, dir);
    msg_done(s, dir);
    d->ps = PS_RESYNC;
    d->discard_line = 0;
}

void http_eof(struct http_state *s, int dir)
{
    dir &= 1;
    struct httpi_dir *d = &s->d[dir];
    if (dir == 0 && d->cur != NULL && d->cur->pub.progress[0] < HTTP_PROG_LINE)
        (void)drop_request(s);
    if (d->cur != NULL) {
        if (d->ps == PS_BODY_CL || d->ps == PS_CHUNK_DATA || d->ps == PS_CHUNK_SIZE ||
            d->ps == PS_CHUNK_END)
            set_ev(d->cur, HTTP_EV_BODY_TRUNCATED);
        msg_done(s, dir);
    }
    d->ended = 1;
}
