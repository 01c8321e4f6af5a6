/* app-layer-tls.c: the TLS adapter: feeds the TLS parser, inspects and logs the handshake once. */
#include "app-layer-internal.h"
#include "vigil/app-tls.h"

/* The handshake is the flow's one transaction. */
#define TLS_TX_ID 0

static void *tls_new(const struct app_layer *a, struct app_flow *af)
{
    (void)a;
    return tls_state_new();
}

static void tls_free(void *st) { tls_state_free(st); }

static int tls_feed_cb(struct app_pass *x, struct app_flow *af, int dir, const uint8_t *d,
                       uint32_t len)
{
    (void)x;
    return tls_feed(af->st, dir, d, len);
}

static void tls_gap_cb(struct app_flow *af, int dir, uint32_t len) { tls_gap(af->st, dir, len); }

static const uint8_t *tls_get(void *txp, unsigned b, int dir, unsigned idx, uint32_t *len)
{
    return tls_buffer(txp, b, dir, idx, len);
}

static void tls_update(struct app_pass *x, struct app_flow *af, int dir)
{
    struct tls_state *s = af->st;
    if (!app_layer_config(x->a)->tls_inspect_encrypted && tls_encrypted(s, 0) &&
        tls_encrypted(s, 1))
        x->f->flags |= FLOW_F_NO_PAYLOAD;
    struct app_txrec *rec = app_txrec_get(af, TLS_TX_ID);
    if (rec == NULL)
        return;
    int done = tls_handshake_done(s);
    uint8_t prog[2];
    prog[0] = done ? DETECT_PROG_COMPLETE
                   : tls_client_hello_done(s) ? DETECT_PROG_LINE : DETECT_PROG_NONE;
    prog[1] = done ? DETECT_PROG_COMPLETE
                   : tls_server_hello_done(s) ? DETECT_PROG_LINE : DETECT_PROG_NONE;
    if (prog[0] == DETECT_PROG_NONE && prog[1] == DETECT_PROG_NONE && !x->final)
        return;
    app_inspect_tx(x, rec, APP_TLS, prog, dir, tls_get, s);
    /* Logged once the handshake is done, or at the flow's end if a hello was seen. */
    if (!rec->logged && (done || (x->final && tls_client_hello_done(s)))) {
        rec->logged = 1;
        if (app_layer_config(x->a)->log_tls)
            app_log(x, "tls", "tls", eve_tls_object(s, TLS_EVE_EXTENDED), -1);
    }
}

static json_t *tls_alert_object(const struct app_layer *a, struct app_flow *af, uint64_t tx_id,
                                const char **key)
{
    (void)a;
    (void)tx_id;
    *key = "tls";
    return eve_tls_object(af->st, TLS_EVE_EXTENDED);
}

const struct app_proto_ops app_tls_ops = {
    APP_TLS,    tls_new, tls_free, tls_feed_cb, tls_gap_cb, NULL,
    tls_update, tls_alert_object, NULL, /* no files */
    app_mem_tls,
};
