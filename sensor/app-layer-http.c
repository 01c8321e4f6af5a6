/* app-layer-http.c: the HTTP adapter: feeds the HTTP parser, inspects and logs its transactions. */
#include <stdlib.h>
#include <string.h>

#include "app-layer-internal.h"
#include "vigil/app-http.h"
#include "vigil/eve-http.h"

/* The length the body of direction dir of tx will have as a file when its Content-Length
 * frames it and no Content-Encoding changes it, else 0: the file layer's size hint. */
static uint64_t http_size_hint(struct http_tx *tx, int dir)
{
    uint32_t n = 0;
    if (http_tx_header(tx, dir, "Content-Encoding", &n) != NULL)
        return 0;
    return tx->body_announced[dir];
}

/* Opens the file of the body of tx (direction dir) when that body starts. */
static struct vfile *http_file_open(struct app_pass *x, struct http_tx *tx, int dir)
{
    json_t *hdr = x->io->record(x->io->log_ctx, x->p, x->f, "fileinfo");
    if (hdr == NULL)
        return NULL;
    json_object_set_new(hdr, "http", eve_http_object(tx, 0));
    /* As Suricata: Content-Disposition's name, else the request's path without query. */
    uint32_t nl = 0;
    const uint8_t *name = NULL;
    if (http_tx_header(tx, dir, "Content-Disposition", &nl) != NULL) {
        name = http_tx_filename(tx, dir, &nl);
    } else if ((name = http_tx_buffer(tx, DB_HTTP_URI, 0, &nl)) != NULL) {
        const uint8_t *q = memchr(name, '?', nl);
        if (q != NULL)
            nl = (uint32_t)(q - name);
    }
    struct file_meta m = {"http",
                          tx->id,
                          dir == 0 ? FILE_TOSERVER : FILE_TOCLIENT,
                          name,
                          name ? nl : 0,
                          0,
                          0,
                          0,
                          hdr,
                          http_size_hint(tx, dir)};
    /* a part of a resource: 206 with the Content-Range of the part (Suricata's start/end) */
    struct http_range r;
    if (dir == 1 && tx->status == 206) {
        m.flags |= FILE_F_PARTIAL;
        if (http_tx_content_range(tx, 1, &r) == 0 && r.has_range) {
            m.flags |= FILE_F_RANGE;
            m.range_start = r.start;
            m.range_end = r.end;
        }
    }
    return file_open(x->io->files, &m);
}

/*
 * The parser's file hook: a body's start opens its file (so a body that cannot be decoded or
 * is cut early still yields a fileinfo), decoded bytes are appended, a lost segment marks it
 * (fileinfo.gaps), and the body's end closes it, TRUNCATED when the body did not end as
 * announced (connection lost, hole in the stream, decoding stopped part way).
 */
static void http_file_data(void *ctx, struct http_tx *tx, int dir, const uint8_t *data,
                           uint32_t len, int ev)
{
    struct app_flow *af = ctx;
    struct app_pass *x = af->x;
    if (x == NULL || x->io->files == NULL || dir < 0 || dir > 1)
        return;
    struct app_txrec *rec = app_txrec_get(af, tx->id);
    if (rec == NULL)
        return;
    if (ev == HTTP_FILE_BEGIN) {
        if (rec->file[dir] != NULL)
            file_close(rec->file[dir], 1); /* cannot happen: one body per direction */
        rec->file[dir] = http_file_open(x, tx, dir);
        return;
    }
    struct vfile *vf = rec->file[dir];
    if (vf == NULL)
        return;
    switch (ev) {
    case HTTP_FILE_DATA:
        if (len > 0)
            file_append(vf, data, len);
        break;
    case HTTP_FILE_GAP:
        file_note_gap(vf);
        break;
    case HTTP_FILE_END: {
        const uint64_t cut = (1ull << HTTP_EV_BODY_TRUNCATED) | (1ull << HTTP_EV_STREAM_GAP) |
                             (1ull << HTTP_EV_COMPRESSION_BOMB);
        int truncated = (tx->events & cut) != 0 || http_tx_body_stopped(tx, dir);
        if (tx->body_len[dir] == 0 && !truncated)
            file_discard(vf); /* an empty body is no file (Suricata logs none) */
        else
            file_close(vf, truncated);
        rec->file[dir] = NULL;
        break;
    }
    default:
        break;
    }
}

/* Closes what is still open of a transaction about to be released (its body was cut). */
static void http_files_close(struct app_flow *af, uint64_t upto)
{
    for (unsigned i = 0; i < af->ntx; i++)
        for (int d = 0; d < 2; d++)
            if (af->tx[i].id <= upto && af->tx[i].file[d] != NULL) {
                file_close(af->tx[i].file[d], 1);
                af->tx[i].file[d] = NULL;
            }
}

static void *http_new(const struct app_layer *a, struct app_flow *af)
{
    const struct app_config *ac = app_layer_config(a);
    struct http_config c;
    http_config_defaults(&c);
    c.request_body_limit = ac->http_request_body_limit;
    c.response_body_limit = ac->http_response_body_limit;
    struct http_state *s = http_state_new(&c);
    if (s != NULL)
        http_state_set_file_cb(s, http_file_data, af);
    return s;
}

static void http_free(void *st)
{
    http_state_free(st);
}

static int http_feed(struct app_pass *x, struct app_flow *af, int dir, const uint8_t *d,
                     uint32_t len)
{
    (void)x;
    return http_parse(af->st, dir, d, len);
}

static void http_gap_cb(struct app_flow *af, int dir, uint32_t len)
{
    http_gap(af->st, dir, len);
}

static void http_eof_cb(struct app_flow *af, int dir)
{
    http_eof(af->st, dir);
}

static const uint8_t *http_get(void *txp, unsigned b, int dir, unsigned idx, uint32_t *len)
{
    if (idx != 0)
        return NULL;
    return http_tx_buffer(txp, b, dir, len);
}

/* Detection's view of a direction's progress: a body in progress has its headers done. */
static uint8_t http_prog(uint8_t p)
{
    switch (p) {
    case HTTP_PROG_LINE:
        return DETECT_PROG_LINE;
    case HTTP_PROG_HEADERS:
    case HTTP_PROG_BODY:
        return DETECT_PROG_HEADERS;
    case HTTP_PROG_COMPLETE:
        return DETECT_PROG_COMPLETE;
    default:
        return DETECT_PROG_NONE;
    }
}

static void http_update(struct app_pass *x, struct app_flow *af, int dir)
{
    struct http_state *s = af->st;
    const struct app_config *ac = app_layer_config(x->a);
    unsigned n = http_tx_count(s);
    int releasable = 1;
    int64_t upto = -1;
    for (unsigned i = 0; i < n; i++) {
        struct http_tx *tx = http_tx_get(s, i);
        if (tx == NULL)
            break;
        struct app_txrec *rec = app_txrec_get(af, tx->id);
        uint8_t prog[2] = {http_prog(tx->progress[0]), http_prog(tx->progress[1])};
        app_inspect_tx(x, rec, APP_HTTP, prog, dir, http_get, tx);
        int done = http_tx_complete(tx) || x->final;
        if (done && rec != NULL && !rec->logged) {
            rec->logged = 1;
            if (ac->log_http)
                app_log(x, "http", "http", eve_http_object(tx, ac->http_extended), (int64_t)tx->id);
        }
        if (done && releasable)
            upto = (int64_t)tx->id;
        else
            releasable = 0;
    }
    if (upto >= 0) {
        http_files_close(af, (uint64_t)upto);
        http_tx_release(s, (uint64_t)upto);
        app_txrec_release(af, (uint64_t)upto);
    }
}

static json_t *http_alert_object(const struct app_layer *a, struct app_flow *af, uint64_t tx_id,
                                 const char **key)
{
    struct http_state *s = af->st;
    unsigned n = http_tx_count(s);
    for (unsigned i = 0; i < n; i++) {
        struct http_tx *tx = http_tx_get(s, i);
        if (tx != NULL && tx->id == tx_id) {
            *key = "http";
            return eve_http_object(tx, app_layer_config(a)->http_extended);
        }
    }
    return NULL;
}

/* Transaction tx_id and its buffers, for the file rules. */
static void *http_tx_find(struct app_flow *af, uint64_t tx_id, app_buf_fn *get)
{
    unsigned n = http_tx_count(af->st);
    for (unsigned i = 0; i < n; i++) {
        struct http_tx *tx = http_tx_get(af->st, i);
        if (tx != NULL && tx->id == tx_id) {
            *get = http_get;
            return tx;
        }
    }
    return NULL;
}

const struct app_proto_ops app_http_ops = {
    APP_HTTP,    http_new,    http_free,         http_feed,    http_gap_cb,
    http_eof_cb, http_update, http_alert_object, http_tx_find, app_mem_http,
};
