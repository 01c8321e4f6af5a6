/* app-layer-smtp.c: the SMTP adapter: feeds the SMTP parser, inspects mail bodies, logs each mail. */
#include "app-layer-internal.h"
#include "vigil/app-smtp.h"
#include "vigil/eve-smtp.h"

/* A mail's raw message goes to the MIME extractor, which makes a file of each attachment. */
static void smtp_body(void *ctx, const struct smtp_tx *tx, const uint8_t *data, uint32_t len,
                      int last)
{
    struct app_flow *af = ctx;
    struct app_pass *x = af->x;
    if (x == NULL || x->io->files == NULL)
        return;
    struct app_txrec *rec = app_txrec_get(af, tx->id);
    if (rec == NULL)
        return;
    if (rec->file[0] == NULL && len > 0) {
        json_t *hdr = x->io->record(x->io->log_ctx, x->p, x->f, "fileinfo");
        if (hdr == NULL)
            return;
        json_t *sm = eve_smtp_object(tx);
        if (sm != NULL)
            json_object_set_new(hdr, "smtp", sm);
        struct file_meta m = {"smtp", tx->id, FILE_TOSERVER, NULL, 0, 0, 0, 0, hdr, 0};
        rec->file[0] = file_mime_new(x->io->files, &m);
    }
    if (rec->file[0] == NULL)
        return;
    if (len > 0)
        file_mime_append(rec->file[0], data, len);
    if (last) {
        file_mime_close(rec->file[0], tx->status == SMTP_MAIL_ERROR);
        rec->file[0] = NULL;
    }
}

static void *smtp_new(const struct app_layer *a, struct app_flow *af)
{
    struct smtp_config c;
    smtp_config_defaults(&c);
    c.body_limit = app_layer_config(a)->smtp_body_limit;
    struct smtp_state *s = smtp_state_new(&c);
    if (s != NULL)
        smtp_state_set_body_cb(s, smtp_body, af);
    return s;
}

static void smtp_free(void *st) { smtp_state_free(st); }

static int smtp_feed_cb(struct app_pass *x, struct app_flow *af, int dir, const uint8_t *d,
                        uint32_t len)
{
    (void)x;
    int rc = smtp_feed(af->st, dir, d, len);
    if (rc == SMTP_FEED_TLS) {
        /* STARTTLS accepted: what follows is encrypted; the session's mails are logged. */
        af->stop[0] = af->stop[1] = 1;
        return 0;
    }
    return rc < 0 ? -1 : 0;
}

static void smtp_gap_cb(struct app_flow *af, int dir, uint32_t len) { smtp_gap(af->st, dir, len); }

static void smtp_eof_cb(struct app_flow *af, int dir) { smtp_eof(af->st, dir); }

static const uint8_t *smtp_get(void *txp, unsigned b, int dir, unsigned idx, uint32_t *len)
{
    if (b != DB_FILE_DATA || dir != 0 || idx != 0)
        return NULL;
    return smtp_tx_body(txp, len);
}

static void smtp_update(struct app_pass *x, struct app_flow *af, int dir)
{
    struct smtp_state *s = af->st;
    unsigned n = smtp_tx_count(s);
    int releasable = 1;
    int64_t upto = -1;
    for (unsigned i = 0; i < n; i++) {
        const struct smtp_tx *tx = smtp_tx_get(s, i);
        if (tx == NULL)
            break;
        int done = tx->complete || x->final;
        struct app_txrec *rec = app_txrec_get(af, tx->id);
        uint8_t prog[2] = {done                              ? DETECT_PROG_COMPLETE
                           : tx->status >= SMTP_MAIL_HEADERS ? DETECT_PROG_HEADERS
                                                             : DETECT_PROG_LINE,
                           done ? DETECT_PROG_COMPLETE : DETECT_PROG_NONE};
        app_inspect_tx(x, rec, APP_SMTP, prog, dir, smtp_get, (void *)tx);
        if (done && rec != NULL && !rec->logged) {
            rec->logged = 1;
            if (app_layer_config(x->a)->log_smtp) {
                /* One record carries both objects, as Suricata's smtp events do. */
                json_t *o = json_object();
                json_t *sm = eve_smtp_object(tx), *em = eve_email_object(tx, 0);
                if (sm != NULL)
                    json_object_set_new(o, "smtp", sm);
                if (em != NULL)
                    json_object_set_new(o, "email", em);
                app_log(x, "smtp", NULL, o, (int64_t)tx->id);
            }
        }
        if (done && releasable)
            upto = (int64_t)tx->id;
        else
            releasable = 0;
    }
    if (upto >= 0) {
        for (unsigned i = 0; i < af->ntx; i++)
            if (af->tx[i].id <= (uint64_t)upto && af->tx[i].file[0] != NULL) {
                file_mime_close(af->tx[i].file[0], 1); /* the message was cut */
                af->tx[i].file[0] = NULL;
            }
        smtp_tx_release(s, (uint64_t)upto);
        app_txrec_release(af, (uint64_t)upto);
    }
}

static json_t *smtp_alert_object(const struct app_layer *a, struct app_flow *af, uint64_t tx_id,
                                 const char **key)
{
    (void)a;
    unsigned n = smtp_tx_count(af->st);
    for (unsigned i = 0; i < n; i++) {
        const struct smtp_tx *tx = smtp_tx_get(af->st, i);
        if (tx != NULL && tx->id == tx_id) {
            *key = "smtp";
            return eve_smtp_object(tx);
        }
    }
    return NULL;
}

/* Transaction tx_id and its buffers, for the file rules. */
static void *smtp_tx_find(struct app_flow *af, uint64_t tx_id, app_buf_fn *get)
{
    unsigned n = smtp_tx_count(af->st);
    for (unsigned i = 0; i < n; i++) {
        const struct smtp_tx *tx = smtp_tx_get(af->st, i);
        if (tx != NULL && tx->id == tx_id) {
            *get = smtp_get;
            return (void *)tx;
        }
    }
    return NULL;
}

const struct app_proto_ops app_smtp_ops = {
    APP_SMTP,    smtp_new, smtp_free, smtp_feed_cb, smtp_gap_cb, smtp_eof_cb,
    smtp_update, smtp_alert_object, smtp_tx_find, app_mem_smtp,
};
