/* app-layer-dns.c: the DNS adapter: messages over UDP and TCP become inspected, logged
 * transactions. */
#include <stdlib.h>
#include <string.h>

#include "app-layer-internal.h"
#include "vigil/app-dns.h"
#include "vigil/eve-dns.h"

/* A flow's DNS state: TCP framing and the next transaction's id. */
struct dns_flow {
    struct dns_tcp_state tcp;
    struct dns_stats stats;
    uint64_t next_tx;
    /* During a message's inspection: the pass, the flow and the message alerts describe. */
    struct app_pass *x;
    struct app_flow *af;
    const struct dns_message *cur;
    uint64_t cur_tx;
};

static void *dns_new(const struct app_layer *a, struct app_flow *af)
{
    (void)a;
    struct dns_flow *d = calloc(1, sizeof(*d));
    if (d != NULL)
        dns_tcp_init(&d->tcp, &d->stats);
    return d;
}

static void dns_free(void *st)
{
    struct dns_flow *d = st;
    if (d == NULL)
        return;
    dns_tcp_free(&d->tcp);
    free(d);
}

/* Bytes the flow's DNS state holds (app-layer.memcap). */
static uint64_t dns_memuse(const void *st)
{
    const struct dns_flow *d = st;
    return sizeof(*d) + app_mem_dns_tcp(&d->tcp);
}

static const uint8_t *dns_get(void *txp, unsigned b, int dir, unsigned idx, uint32_t *len)
{
    const struct dns_message *m = txp;
    if (b != DB_DNS_QUERY || dir != 0 || m->qr || idx >= m->nq)
        return NULL;
    return (const uint8_t *)dns_query_name(m, idx, len);
}

/* Inspects and logs one message of direction dir. */
static void dns_message_done(struct dns_flow *d, int dir, const struct dns_message *m)
{
    struct app_pass *x = d->x;
    /* As Suricata 7: every message, query or response, is a transaction of its own. */
    uint64_t tx = d->next_tx++;
    d->cur = m;
    d->cur_tx = tx;
    struct app_txrec *rec = app_txrec_get(d->af, tx);
    uint8_t prog[2] = {DETECT_PROG_COMPLETE, m->qr ? DETECT_PROG_COMPLETE : DETECT_PROG_NONE};
    if (!m->qr)
        app_inspect_tx(x, rec, APP_DNS, prog, dir, dns_get, (void *)m);
    if (app_layer_config(x->a)->log_dns) {
        if (!m->qr) {
            for (unsigned i = 0; i < m->nq; i++)
                app_log(x, "dns", "dns", eve_dns_query_object(m, i, tx), -1);
        } else {
            app_log(x, "dns", "dns", eve_dns_answer_object(m, 2), -1);
        }
    }
    app_txrec_release(d->af, tx);
    d->cur = NULL;
}

static void dns_on_tcp_message(void *ctx, int dir, const uint8_t *msg, uint32_t len)
{
    struct dns_flow *d = ctx;
    struct dns_message *m = app_layer_dns_scratch(d->x->a);
    int rc = dns_parse_message(msg, len, m);
    dns_stats_update(&d->stats, m, rc);
    if (rc < 0) {
        app_count_error(d->x, APP_DNS);
        return;
    }
    dns_message_done(d, dir, m);
}

static int dns_feed(struct app_pass *x, struct app_flow *af, int dir, const uint8_t *data,
                    uint32_t len)
{
    struct dns_flow *d = af->st;
    d->x = x;
    d->af = af;
    if (x->f->proto == 6)
        return dns_tcp_feed(&d->tcp, dir, data, len, dns_on_tcp_message, d) < 0 ? -1 : 0;
    struct dns_message *m = app_layer_dns_scratch(x->a);
    int rc = dns_parse_message(data, len, m);
    dns_stats_update(&d->stats, m, rc);
    if (rc < 0) {
        app_count_error(x, APP_DNS);
        return 0; /* one bad datagram does not end DNS on the flow */
    }
    dns_message_done(d, dir, m);
    return 0;
}

static void dns_gap_cb(struct app_flow *af, int dir, uint32_t len)
{
    struct dns_flow *d = af->st;
    dns_tcp_gap(&d->tcp, dir, len);
}

/* Messages are inspected and logged as they are parsed: nothing waits for an update. */
static void dns_update(struct app_pass *x, struct app_flow *af, int dir)
{
    (void)x;
    (void)af;
    (void)dir;
}

static json_t *dns_alert_object(const struct app_layer *a, struct app_flow *af, uint64_t tx_id,
                                const char **key)
{
    (void)a;
    struct dns_flow *d = af->st;
    if (d->cur == NULL || d->cur_tx != tx_id || d->cur->qr)
        return NULL;
    json_t *o = json_object();
    json_t *q = json_array();
    for (unsigned i = 0; i < d->cur->nq; i++)
        json_array_append_new(q, eve_dns_query_object(d->cur, i, tx_id));
    json_object_set_new(o, "query", q);
    *key = "dns";
    return o;
}

const struct app_proto_ops app_dns_ops = {
    APP_DNS,    dns_new, dns_free, dns_feed, dns_gap_cb, NULL,
    dns_update, dns_alert_object, NULL, /* no files */
    dns_memuse,
};
