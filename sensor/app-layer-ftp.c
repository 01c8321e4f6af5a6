/* app-layer-ftp.c: the FTP adapters: the control channel (ftp records, expectations) and the
 * data connections it announced (ftp-data: one file per connection). */
#include <stdlib.h>
#include <string.h>

#include "app-layer-internal.h"
#include "vigil/app-ftp.h"
#include "vigil/eve-ftp.h"

/* ---- Control channel ---- */

/*
 * A transfer command with its data port known: the data connection is expected. Passive: the
 * client connects to the server's port; active: the server connects to the client's. The file
 * travels from server to client for RETR, the other way for STOR/APPE/STOU; dir is that way in
 * the data connection's terms (0: from the side that connects).
 */
static void ftp_transfer(void *ctx, const struct ftp_transfer *t)
{
    struct app_flow *af = ctx;
    struct app_pass *x = af->x;
    struct ftp_expect *tab = x != NULL ? app_layer_config(x->a)->ftp_expect : NULL;
    if (tab == NULL)
        return;
    const struct flow *f = x->f;
    struct ftp_expectation e;
    memset(&e, 0, sizeof(e));
    e.ip_ver = f->ip_ver;
    int passive = t->mode == FTP_MODE_PASSIVE;
    e.orig = passive ? f->src : f->dst;
    e.resp = passive ? f->dst : f->src;
    e.port = t->port;
    int from_server = t->xfer == FTP_XFER_RETR;
    e.dir = passive ? from_server : !from_server;
    e.xfer = t->xfer;
    memcpy(e.command, t->tx->command, sizeof(e.command));
    uint32_t n = t->tx->data.len;
    if (n > sizeof(e.name)) {
        n = sizeof(e.name);
        e.name_cut = 1;
    }
    if (n > 0)
        memcpy(e.name, t->tx->data.s, n);
    e.name_len = n;
    e.control_flow_id = f->flow_id;
    e.control_tx_id = t->tx->id;
    ftp_expect_add(tab, &e, x->ts);
}

static void *ftp_new(const struct app_layer *a, struct app_flow *af)
{
    (void)a;
    struct ftp_state *s = ftp_state_new(NULL);
    if (s != NULL)
        ftp_state_set_transfer_cb(s, ftp_transfer, af);
    return s;
}

static void ftp_free(void *st)
{
    ftp_state_free(st);
}

static int ftp_feed_cb(struct app_pass *x, struct app_flow *af, int dir, const uint8_t *d,
                       uint32_t len)
{
    (void)x;
    return ftp_feed(af->st, dir, d, len);
}

static void ftp_gap_cb(struct app_flow *af, int dir, uint32_t len)
{
    ftp_gap(af->st, dir, len);
}

static void ftp_eof_cb(struct app_flow *af, int dir)
{
    ftp_eof(af->st, dir);
}

/* Logs each finished command (an ftp record, as Suricata's) and releases it. */
static void ftp_update(struct app_pass *x, struct app_flow *af, int dir)
{
    (void)dir;
    struct ftp_state *s = af->st;
    if (x->final)
        ftp_finish(s);
    int log = app_layer_config(x->a)->log_ftp;
    int64_t upto = -1;
    unsigned n = ftp_tx_count(s);
    for (unsigned i = 0; i < n; i++) {
        const struct ftp_tx *tx = ftp_tx_get(s, i);
        if (tx == NULL || !tx->complete)
            break;
        if (log)
            app_log(x, "ftp", "ftp", eve_ftp_object(tx), (int64_t)tx->id);
        upto = (int64_t)tx->id;
    }
    if (upto >= 0)
        ftp_tx_release(s, (uint64_t)upto);
}

static json_t *ftp_alert_object(const struct app_layer *a, struct app_flow *af, uint64_t tx_id,
                                const char **key)
{
    (void)a;
    unsigned n = ftp_tx_count(af->st);
    for (unsigned i = 0; i < n; i++) {
        const struct ftp_tx *tx = ftp_tx_get(af->st, i);
        if (tx != NULL && tx->id == tx_id) {
            *key = "ftp";
            return eve_ftp_object(tx);
        }
    }
    return NULL;
}

static uint64_t ftp_memuse(const void *st)
{
    return ftp_state_memuse(st);
}

const struct app_proto_ops app_ftp_ops = {
    APP_FTP,    ftp_new,    ftp_free,         ftp_feed_cb, ftp_gap_cb,
    ftp_eof_cb, ftp_update, ftp_alert_object, NULL,        ftp_memuse,
};

/* ---- Data connections ---- */

/* One data connection: the expectation it matched and its file (transaction 0). */
struct ftp_data {
    struct ftp_expectation e;
    struct vfile *vf;
    int gap;  /* a hole in the file's direction */
    int done; /* the file's direction ended (or the flow did) */
    int logged;
    uint64_t size;
    uint8_t *body; /* the first body_limit bytes, for file.data */
    uint32_t body_len, body_cap, body_limit;
};

void *app_ftp_data_match(struct app_pass *x)
{
    const struct app_config *c = app_layer_config(x->a);
    const struct flow *f = x->f;
    struct ftp_expectation e;
    if (c->ftp_expect == NULL || f->proto != 6 ||
        !ftp_expect_take(c->ftp_expect, f->ip_ver, &f->src, &f->dst, f->dp, x->ts, &e))
        return NULL;
    struct ftp_data *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    d->e = e;
    d->body_limit = c->ftp_data_body_limit;
    return d;
}

static void *ftpd_new(const struct app_layer *a, struct app_flow *af)
{
    (void)a;
    (void)af;
    return NULL; /* made by app_ftp_data_match only */
}

static void ftpd_free(void *st)
{
    struct ftp_data *d = st;
    if (d == NULL)
        return;
    if (d->vf != NULL)
        file_close(d->vf, 1);
    free(d->body);
    free(d);
}

static json_t *ftpd_object(const struct ftp_data *d)
{
    return eve_ftp_data_object(d->e.command, d->e.name, d->e.name_len);
}

static int ftpd_feed(struct app_pass *x, struct app_flow *af, int dir, const uint8_t *data,
                     uint32_t len)
{
    struct ftp_data *d = af->st;
    if (dir != d->e.dir || d->done)
        return 0; /* the other way carries nothing of the file */
    if (d->vf == NULL && d->size == 0 && x->io->files != NULL) {
        json_t *hdr = x->io->record(x->io->log_ctx, x->p, x->f, "fileinfo");
        if (hdr != NULL) {
            json_object_set_new(hdr, "ftp_data", ftpd_object(d));
            struct file_meta m = {"ftp-data",
                                  0,
                                  dir == 0 ? FILE_TOSERVER : FILE_TOCLIENT,
                                  d->e.name,
                                  d->e.name_len,
                                  0,
                                  0,
                                  0,
                                  hdr,
                                  0};
            d->vf = file_open(x->io->files, &m);
            if (d->vf != NULL && d->gap)
                file_note_gap(d->vf);
        }
    }
    if (d->vf != NULL)
        file_append(d->vf, data, len);
    d->size += len;
    if (d->body_len < d->body_limit) {
        uint32_t k = VG_MIN(len, d->body_limit - d->body_len);
        if (d->body_len + k > d->body_cap) {
            uint32_t cap = d->body_cap ? d->body_cap : 4096;
            while (cap < d->body_len + k)
                cap *= 2;
            cap = VG_MIN(cap, d->body_limit);
            uint8_t *b = realloc(d->body, cap);
            if (b == NULL)
                return 0;
            d->body = b;
            d->body_cap = cap;
        }
        memcpy(d->body + d->body_len, data, k);
        d->body_len += k;
    }
    return 0;
}

static void ftpd_gap(struct app_flow *af, int dir, uint32_t len)
{
    (void)len;
    struct ftp_data *d = af->st;
    if (dir != d->e.dir || d->done)
        return;
    d->gap = 1;
    if (d->vf != NULL)
        file_note_gap(d->vf);
}

/* The file's direction ended: CLOSED after a FIN with nothing lost, else TRUNCATED (a hole,
 * a reset, the reassembly depth, or the flow timed out). */
static void ftpd_finish(struct ftp_data *d, const struct flow *f, int clean)
{
    if (d->done)
        return;
    d->done = 1;
    int fin = (f->fin_seen >> d->e.dir) & 1;
    if (d->vf != NULL) {
        file_close(d->vf, d->gap || !fin || !clean);
        d->vf = NULL;
    }
}

static void ftpd_eof(struct app_flow *af, int dir)
{
    struct ftp_data *d = af->st;
    if (dir != d->e.dir || af->x == NULL)
        return;
    /* At the flow's end (a pseudo packet) the direction was cut, unless it sent its FIN. */
    ftpd_finish(d, af->x->f, 1);
}

static const uint8_t *ftpd_get(void *txp, unsigned b, int dir, unsigned idx, uint32_t *len)
{
    struct ftp_data *d = txp;
    if (b != DB_FILE_DATA || dir != d->e.dir || idx != 0 || d->body_len == 0)
        return NULL;
    *len = d->body_len;
    return d->body;
}

static void ftpd_update(struct app_pass *x, struct app_flow *af, int dir)
{
    struct ftp_data *d = af->st;
    if (x->final)
        ftpd_finish(d, x->f, 0);
    struct app_txrec *rec = app_txrec_get(af, 0);
    uint8_t prog[2] = {DETECT_PROG_NONE, DETECT_PROG_NONE};
    prog[d->e.dir] = d->done ? DETECT_PROG_COMPLETE : DETECT_PROG_HEADERS;
    prog[!d->e.dir] = d->done ? DETECT_PROG_COMPLETE : DETECT_PROG_NONE;
    app_inspect_tx(x, rec, APP_FTP_DATA, prog, dir, ftpd_get, d);
    if (d->done && !d->logged) {
        d->logged = 1;
        if (app_layer_config(x->a)->log_ftp)
            app_log(x, "ftp_data", "ftp_data", ftpd_object(d), -1);
    }
}

static json_t *ftpd_alert_object(const struct app_layer *a, struct app_flow *af, uint64_t tx_id,
                                 const char **key)
{
    (void)a;
    if (tx_id != 0 || af->st == NULL)
        return NULL;
    *key = "ftp_data";
    return ftpd_object(af->st);
}

static void *ftpd_tx_find(struct app_flow *af, uint64_t tx_id, app_buf_fn *get)
{
    if (tx_id != 0 || af->st == NULL)
        return NULL;
    *get = ftpd_get;
    return af->st;
}

static uint64_t ftpd_memuse(const void *st)
{
    const struct ftp_data *d = st;
    return sizeof(*d) + d->body_cap;
}

const struct app_proto_ops app_ftp_data_ops = {
    APP_FTP_DATA, ftpd_new,    ftpd_free,         ftpd_feed,    ftpd_gap,
    ftpd_eof,     ftpd_update, ftpd_alert_object, ftpd_tx_find, ftpd_memuse,
};
