/* app-layer.c: the application layer core: reassembled data to protocol detection, parsers and stream inspection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app-layer-internal.h"
#include "vigil/app-dns.h"
#include "vigil/app-ftp.h"
#include "vigil/app-smtp.h"
#include "vigil/app-tls.h"

struct app_layer {
    struct app_config cfg;
    struct stream_engine *stream;
    struct dns_message *dns; /* scratch for one DNS message */
    uint8_t *scratch;        /* stream window plus new data, for stream inspection */
    uint32_t scratch_cap;
    struct app_layer_stats st;
    struct app_files *files; /* tracked files to detection and the filestore */
    uint64_t memuse;         /* bytes of all flows' state (app_flow.charged), this worker */
    uint64_t ncharged;       /* flows with state in that account */
};

/* ---- Configuration ---- */

int app_config_load(struct app_config *c, const struct config *cfg, char *errbuf)
{
    memset(c, 0, sizeof(*c));
    c->enabled = 1;
    stream_config_defaults(&c->stream);
    c->http_request_body_limit = 100 * 1024;
    c->http_response_body_limit = 100 * 1024;
    c->smtp_body_limit = 64 * 1024;
    c->log_http = c->log_dns = c->log_tls = c->log_smtp = c->log_ftp = c->log_anomaly = 1;
    c->memcap = APP_MEMCAP_DEFAULT;
    c->ftp_data_body_limit = 100 * 1024;
    c->ftp_expect_max = FTP_EXPECT_MAX_DEFAULT;
    c->ftp_expect_timeout = FTP_EXPECT_TIMEOUT_DEFAULT;
    if (cfg == NULL)
        return 0;
    uint64_t v;
    if (config_get_uint(cfg, "app-layer.protocols.ftp.expectations.max", c->ftp_expect_max,
                        1u << 20, &v, errbuf) < 0)
        return -1;
    c->ftp_expect_max = (unsigned)v;
    if (config_get_uint(cfg, "app-layer.protocols.ftp.expectations.timeout", c->ftp_expect_timeout,
                        86400, &v, errbuf) < 0)
        return -1;
    c->ftp_expect_timeout = (unsigned)v;
    if (config_get_size(cfg, "app-layer.protocols.ftp-data.body-limit", c->ftp_data_body_limit, &v,
                        errbuf) < 0)
        return -1;
    c->ftp_data_body_limit = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    if (config_get_bool(cfg, "app-layer.enabled", 1, &c->enabled, errbuf) < 0 ||
        config_get_size(cfg, "app-layer.memcap", c->memcap, &c->memcap, errbuf) < 0 ||
        config_get_size(cfg, "stream.memcap", c->stream.memcap, &c->stream.memcap, errbuf) < 0 ||
        config_get_bool(cfg, "stream.midstream", c->stream.midstream, &c->stream.midstream,
                        errbuf) < 0 ||
        config_get_size(cfg, "stream.reassembly.depth", c->stream.depth, &v, errbuf) < 0)
        return -1;
    if (v > UINT32_MAX) {
        vg_errbuf_set(errbuf, "stream.reassembly.depth: at most 4gb");
        return -1;
    }
    c->stream.depth = (uint32_t)v;
    const char *pol = config_get(cfg, "stream.reassembly.policy");
    if (pol != NULL) {
        int p = stream_policy_parse(pol);
        if (p < 0) {
            vg_errbuf_set(errbuf, "stream.reassembly.policy: unknown policy '%s'", pol);
            return -1;
        }
        c->stream.policy = p;
    }
    /* Suricata's libhtp keys, or the shorter ones. */
    static const char *const req_keys[] = {
        "app-layer.protocols.http.libhtp.default-config.request-body-limit",
        "app-layer.protocols.http.request-body-limit"};
    static const char *const resp_keys[] = {
        "app-layer.protocols.http.libhtp.default-config.response-body-limit",
        "app-layer.protocols.http.response-body-limit"};
    for (int i = 0; i < 2; i++) {
        if (config_get_size(cfg, req_keys[i], c->http_request_body_limit, &v, errbuf) < 0)
            return -1;
        c->http_request_body_limit = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
        if (config_get_size(cfg, resp_keys[i], c->http_response_body_limit, &v, errbuf) < 0)
            return -1;
        c->http_response_body_limit = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    }
    if (config_get_bool(cfg, "outputs.eve.types.http", 1, &c->log_http, errbuf) < 0 ||
        config_get_bool(cfg, "outputs.eve.types.dns", 1, &c->log_dns, errbuf) < 0 ||
        config_get_bool(cfg, "outputs.eve.types.tls", 1, &c->log_tls, errbuf) < 0 ||
        config_get_bool(cfg, "outputs.eve.types.smtp", 1, &c->log_smtp, errbuf) < 0 ||
        config_get_bool(cfg, "outputs.eve.types.ftp", 1, &c->log_ftp, errbuf) < 0 ||
        config_get_bool(cfg, "outputs.eve.types.anomaly", 1, &c->log_anomaly, errbuf) < 0 ||
        config_get_bool(cfg, "outputs.eve.http-extended", 0, &c->http_extended, errbuf) < 0)
        return -1;
    /* As Suricata: "default" stops content inspection of a TLS flow once both sides are
     * encrypted (tls.* keywords and header rules still apply); "full" inspects it all. */
    const char *eh = config_get(cfg, "app-layer.protocols.tls.encryption-handling");
    if (eh == NULL || strcmp(eh, "default") == 0 || strcmp(eh, "bypass") == 0) {
        c->tls_inspect_encrypted = 0;
    } else if (strcmp(eh, "full") == 0) {
        c->tls_inspect_encrypted = 1;
    } else {
        vg_errbuf_set(errbuf,
                      "app-layer.protocols.tls.encryption-handling: \"%.64s\" is not default, "
                      "bypass or full",
                      eh);
        return -1;
    }
    int eve = 1;
    if (config_get_bool(cfg, "outputs.eve.enabled", 1, &eve, errbuf) < 0)
        return -1;
    if (!eve) /* no log to write: the parsers build no records */
        c->log_http = c->log_dns = c->log_tls = c->log_smtp = c->log_ftp = c->log_anomaly = 0;
    return 0;
}

int app_config_start(struct app_config *c, char *errbuf)
{
    if (!c->enabled || c->ftp_expect_max == 0 || c->ftp_expect != NULL)
        return 0;
    c->ftp_expect = ftp_expect_new(c->ftp_expect_max, c->ftp_expect_timeout);
    if (c->ftp_expect == NULL) {
        vg_errbuf_set(errbuf, "out of memory for the FTP expectation table");
        return -1;
    }
    return 0;
}

void app_config_free(struct app_config *c)
{
    ftp_expect_free(c->ftp_expect);
    c->ftp_expect = NULL;
}

/* ---- Life cycle ---- */

struct app_layer *app_layer_new(const struct app_config *c, char *errbuf)
{
    struct app_layer *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        vg_errbuf_set(errbuf, "out of memory for the application layer");
        return NULL;
    }
    a->cfg = *c;
    a->stream = stream_engine_new(&c->stream, errbuf);
    a->dns = malloc(sizeof(*a->dns));
    a->files = app_files_new();
    if (a->stream == NULL || a->dns == NULL || a->files == NULL) {
        if (a->dns == NULL || a->files == NULL)
            vg_errbuf_set(errbuf, "out of memory for the application layer");
        app_layer_free(a);
        return NULL;
    }
    return a;
}

void app_layer_free(struct app_layer *a)
{
    if (a == NULL)
        return;
    app_files_free(a->files);
    free(a->scratch);
    free(a->dns);
    stream_engine_free(a->stream);
    free(a);
}

const struct app_config *app_layer_config(const struct app_layer *a) { return &a->cfg; }

struct dns_message *app_layer_dns_scratch(struct app_layer *a) { return a->dns; }

void app_layer_stats_add(const struct app_layer *a, struct app_layer_stats *out)
{
    for (unsigned i = 0; i < APP__COUNT; i++) {
        out->flows[i] += a->st.flows[i];
        out->txs[i] += a->st.txs[i];
        out->parse_errors[i] += a->st.parse_errors[i];
    }
    out->gaps += a->st.gaps;
    out->memcap_drops += a->st.memcap_drops;
    out->memuse += a->memuse;
    struct stream_stats s;
    memset(&s, 0, sizeof(s));
    stream_engine_stats(a->stream, &s);
    out->stream.segments += s.segments;
    out->stream.bytes_reassembled += s.bytes_reassembled;
    out->stream.retransmissions += s.retransmissions;
    out->stream.overlaps += s.overlaps;
    out->stream.overlap_diff += s.overlap_diff;
    out->stream.gaps += s.gaps;
    out->stream.out_of_order += s.out_of_order;
    out->stream.memcap_drops += s.memcap_drops;
    out->stream.depth_reached += s.depth_reached;
    out->stream.midstream_pickups += s.midstream_pickups;
    out->stream.memuse += s.memuse;
    struct ftp_expect_stats es;
    ftp_expect_get_stats(a->cfg.ftp_expect, &es);
    out->expect_added = es.added;
    out->expect_matched = es.matched;
    out->expect_expired = es.expired;
    out->expect_dropped = es.dropped;
    out->expect_active = es.active;
}

/* ---- Transactions ---- */

struct app_txrec *app_txrec_get(struct app_flow *af, uint64_t id)
{
    for (unsigned i = 0; i < af->ntx; i++)
        if (af->tx[i].id == id)
            return &af->tx[i];
    if (af->ntx == af->ctx) {
        unsigned c = af->ctx ? af->ctx * 2 : 4;
        struct app_txrec *n = realloc(af->tx, c * sizeof(*n));
        if (n == NULL)
            return NULL;
        af->tx = n;
        af->ctx = c;
    }
    struct app_txrec *r = &af->tx[af->ntx++];
    memset(r, 0, sizeof(*r));
    r->id = id;
    return r;
}

void app_txrec_release(struct app_flow *af, uint64_t upto)
{
    unsigned k = 0;
    for (unsigned i = 0; i < af->ntx; i++) {
        if (af->tx[i].id <= upto) {
            detect_tx_state_free(&af->tx[i].dstate);
            detect_file_state_free(&af->tx[i].fstate);
        } else
            af->tx[k++] = af->tx[i];
    }
    af->ntx = k;
}

/* A transaction alert goes to the output; its files are then kept (filestore.policy alert). */
static void tx_alert(void *ctx, const struct vg_packet *p, struct flow *f, int dir,
                     const struct detect_alert *a)
{
    struct app_pass *x = ctx;
    if (x->io->alert != NULL)
        x->io->alert(x->io->alert_ctx, p, f, dir, a);
    if (a->has_tx)
        app_files_tx_alert(x->a->files, x, a->tx_id);
}

void app_inspect_tx(struct app_pass *x, struct app_txrec *rec, unsigned proto, const uint8_t prog[2],
                    int dir, const uint8_t *(*get)(void *, unsigned, int, unsigned, uint32_t *),
                    void *txp)
{
    if (x->io->dt == NULL || rec == NULL)
        return;
    if (!x->final && prog[0] == rec->prog[0] && prog[1] == rec->prog[1])
        return;
    rec->prog[0] = prog[0];
    rec->prog[1] = prog[1];
    struct detect_tx t = {rec->id, (uint16_t)proto, {prog[0], prog[1]}, get, txp, &rec->dstate};
    detect_tx(x->io->dt, x->p, x->f, dir, &t, x->final, tx_alert, x);
}

void app_log(struct app_pass *x, const char *event_type, const char *key, json_t *obj,
             int64_t tx_id)
{
    if (obj == NULL)
        return;
    if (x->f->app_proto < APP__COUNT)
        x->a->st.txs[x->f->app_proto]++;
    if (x->io->log == NULL) {
        json_decref(obj);
        return;
    }
    /* As Suricata's, a transaction record names the packet that completed it (none at the
     * flow's end); it follows the flow's orientation all the same. */
    if (key != NULL && x->p != NULL && x->p->pcap_cnt != 0) {
        json_t *top = json_object();
        json_object_set_new(top, "pcap_cnt", json_integer((json_int_t)x->p->pcap_cnt));
        json_object_set_new(top, key, obj);
        obj = top;
        key = NULL;
    }
    x->io->log(x->io->log_ctx, NULL, x->f, x->ts, event_type, key, obj, tx_id);
}

void app_count_error(struct app_pass *x, unsigned proto)
{
    if (proto < APP__COUNT)
        x->a->st.parse_errors[proto]++;
}

/* ---- Memcap ---- */

/*
 * Parser state over app-layer.memcap: a flow whose pass finds the account over the cap loses
 * its parser state if it holds at least the mean per flow, or whatever it holds once the
 * account is an eighth past the cap. So the account never passes 9/8 of the cap, and flows
 * that hold little (ordinary ones, next to a few that grow) keep theirs while the big ones
 * go. What the flow had is flushed first (unfinished transactions are inspected and
 * logged as at flow end, their files closed), then the state is freed and the flow's later
 * data is no longer parsed (it is still reassembled and inspected as stream). Other flows are
 * untouched. Counted in app_layer.memcap_drops, and logged as an applayer anomaly.
 */
static void memcap_drop(struct app_pass *x, struct app_flow *af, int dir)
{
    struct app_layer *a = x->a;
    a->st.memcap_drops++;
    if (a->cfg.log_anomaly && x->io->log != NULL) {
        json_t *o = json_object();
        const char *name = app_proto_name(af->proto);
        json_object_set_new(o, "type", json_string("applayer"));
        json_object_set_new(o, "event", json_string("app_layer.memcap"));
        json_object_set_new(o, "layer", json_string(name != NULL ? name : "unknown"));
        x->io->log(x->io->log_ctx, x->p, x->f, x->ts, "anomaly", "anomaly", o, -1);
    }
    int final = x->final;
    x->final = 1;
    af->ops->update(x, af, dir);
    x->final = final;
    af->ops->state_free(af->st);
    af->st = NULL;
    af->ops = NULL;
    af->stop[0] = af->stop[1] = 1;
    app_txrec_release(af, UINT64_MAX);
    free(af->tx);
    af->tx = NULL;
    af->ntx = af->ctx = 0;
}

/* Counts what flow state af holds now in the layer's account; drops it past the memcap. */
static void memcap_account(struct app_pass *x, struct app_flow *af, int dir)
{
    struct app_layer *a = x->a;
    if (af->charged == 0)
        a->ncharged++;
    for (int again = 0; again < 2; again++) {
        uint64_t use = sizeof(*af) + (uint64_t)af->ctx * sizeof(*af->tx);
        for (int i = 0; i < 2; i++)
            use += (af->probe[i] != NULL ? APP_PROBE_MAX : 0) + (af->win[i] ? af->wlen[i] : 0);
        if (af->ops != NULL && af->st != NULL)
            use += af->ops->memuse != NULL ? af->ops->memuse(af->st) : 0;
        a->memuse = a->memuse - af->charged + use;
        af->charged = use;
        if (again || a->cfg.memcap == 0 || a->memuse <= a->cfg.memcap || af->ops == NULL)
            return;
        if (a->memuse <= a->cfg.memcap + a->cfg.memcap / 8 && use < a->memuse / a->ncharged)
            return; /* below the mean: a bigger flow goes when it next grows */
        memcap_drop(x, af, dir);
    }
}

/* ---- Protocol detection ---- */

static int has_prefix(const uint8_t *d, uint32_t n, const char *s, int *more)
{
    size_t l = strlen(s);
    size_t m = n < l ? n : l;
    if (memcmp(d, s, m) != 0)
        return 0;
    if (n < l)
        *more = 1;
    return n >= l;
}

static int looks_http_request(const uint8_t *d, uint32_t n, int *more)
{
    static const char *const methods[] = {"GET ",     "POST ",    "HEAD ",      "PUT ",
                                          "DELETE ",  "OPTIONS ", "CONNECT ",   "TRACE ",
                                          "PATCH ",   "PROPFIND ", "PROPPATCH ", "MKCOL ",
                                          "COPY ",    "MOVE ",    "LOCK ",      "UNLOCK ",
                                          "SEARCH ",  "REPORT ",  "SUBSCRIBE ", "NOTIFY "};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (has_prefix(d, n, methods[i], more))
            return 1;
    return 0;
}

static int contains(const uint8_t *d, uint32_t n, const char *s)
{
    size_t l = strlen(s);
    for (uint32_t i = 0; i + l <= n; i++)
        if (memcmp(d + i, s, l) == 0)
            return 1;
    return 0;
}

/* The protocol data d (direction dir) starts, APP_UNKNOWN if none; *more if it may need more. */
static unsigned probe_tcp(const struct flow *f, const uint8_t *d, uint32_t n, int dir, int *more)
{
    *more = 0;
    if (n == 0)
        return APP_UNKNOWN;
    if (dir == 0 ? looks_http_request(d, n, more) : has_prefix(d, n, "HTTP/1.", more))
        return APP_HTTP;
    if (tls_probe(d, n))
        return APP_TLS;
    if (has_prefix(d, n, "SSH-", more))
        return APP_SSH;
    int sm = smtp_probe(d, n, dir);
    if (sm == 1)
        return APP_SMTP;
    if (sm < 0)
        *more = 1;
    uint32_t line = 0;
    while (line < n && d[line] != '\n')
        line++;
    /* An FTP greeting: "220" naming FTP, or any "220 "/"220-" greeting on port 21. */
    if (dir == 1 && n >= 4 && memcmp(d, "220", 3) == 0 &&
        (contains(d, line, "FTP") ||
         ((d[3] == ' ' || d[3] == '-') && (f->sp == 21 || f->dp == 21))))
        return APP_FTP;
    if (dir == 0 && (has_prefix(d, n, "USER ", more) || has_prefix(d, n, "AUTH TLS", more)) &&
        (f->dp == 21 || f->sp == 21))
        return APP_FTP;
    if (n >= 8 && (d[4] == 0xff || d[4] == 0xfe) && memcmp(d + 5, "SMB", 3) == 0)
        return APP_SMB;
    if (n >= 16 && d[0] == 5 && d[1] <= 1 && (d[2] == 11 || d[2] == 0) && d[3] <= 0x03)
        return APP_DCERPC;
    /* DNS has no signature of its own: off port 53 the probe walks the whole message. */
    int dn = f->dp == 53 || f->sp == 53 ? dns_probe_tcp(d, n)
                                        : dns_probe_tcp_strict(d, n, APP_PROBE_MAX);
    if (dn == 1)
        return APP_DNS;
    if (dn < 0)
        *more = 1;
    if (n < 8 && !*more)
        *more = 1; /* too little to tell */
    return APP_UNKNOWN;
}

static const struct app_proto_ops *ops_for(unsigned proto)
{
    switch (proto) {
    case APP_HTTP:
        return &app_http_ops;
    case APP_TLS:
        return &app_tls_ops;
    case APP_SMTP:
        return &app_smtp_ops;
    case APP_DNS:
        return &app_dns_ops;
    case APP_FTP:
        return &app_ftp_ops;
    case APP_FTP_DATA:
        return &app_ftp_data_ops;
    default:
        return NULL; /* recognised, no parser (ssh, smb, dcerpc) */
    }
}

static struct app_flow *flow_state(struct flow *f)
{
    if (f->app == NULL)
        f->app = calloc(1, sizeof(struct app_flow));
    return f->app;
}

/* Sets the flow's protocol and its parser state: st if given, else a new one. */
static void set_proto_state(struct app_pass *x, struct app_flow *af, unsigned proto, void *st)
{
    af->proto = (uint16_t)proto;
    x->f->app_proto = (uint16_t)proto;
    x->a->st.flows[proto]++;
    af->ops = ops_for(proto);
    if (af->ops != NULL && (af->st = st != NULL ? st : af->ops->state_new(x->a, af)) == NULL)
        af->ops = NULL;
}

static void set_proto(struct app_pass *x, struct app_flow *af, unsigned proto)
{
    set_proto_state(x, af, proto, NULL);
}

/* Hands data of direction dir to the parser. */
static void parse(struct app_pass *x, struct app_flow *af, int dir, const uint8_t *d, uint32_t n)
{
    if (af->ops == NULL || af->stop[dir] || n == 0)
        return;
    if (af->ops->feed(x, af, dir, d, n) < 0) {
        af->stop[dir] = 1;
        app_count_error(x, af->proto);
    }
}

/* Detects the protocol of a TCP flow from its first bytes; feeds the parser once known. */
static void detect_and_parse(struct app_pass *x, struct app_flow *af, int dir, const uint8_t *d,
                             uint32_t n)
{
    if (af->proto != APP_UNKNOWN) {
        parse(x, af, dir, d, n);
        return;
    }
    const uint8_t *pd = d;
    uint32_t pn = n;
    if (af->nprobe[dir] > 0) {
        uint32_t room = APP_PROBE_MAX - af->nprobe[dir];
        uint32_t k = n < room ? n : room;
        memcpy(af->probe[dir] + af->nprobe[dir], d, k);
        pd = af->probe[dir];
        pn = af->nprobe[dir] + k;
    }
    int more = 0;
    unsigned proto = probe_tcp(x->f, pd, pn, dir, &more);
    af->probe_total[dir] += n;
    if (proto != APP_UNKNOWN) {
        set_proto(x, af, proto);
        /* The other direction's held bytes first: they came earlier. */
        if (af->nprobe[!dir] > 0)
            parse(x, af, !dir, af->probe[!dir], af->nprobe[!dir]);
        if (af->nprobe[dir] > 0)
            parse(x, af, dir, af->probe[dir], af->nprobe[dir]);
        parse(x, af, dir, d, n);
        for (int i = 0; i < 2; i++) {
            free(af->probe[i]);
            af->probe[i] = NULL;
            af->nprobe[i] = 0;
        }
        return;
    }
    if (more && af->probe_total[dir] < APP_PROBE_MAX) {
        if (af->probe[dir] == NULL && (af->probe[dir] = malloc(APP_PROBE_MAX)) == NULL)
            return;
        if (af->nprobe[dir] == 0) {
            memcpy(af->probe[dir], d, n);
            af->nprobe[dir] = n;
        } else {
            af->nprobe[dir] = pn;
        }
        return;
    }
    af->probed[dir] = 1;
    if (af->probed[0] && af->probed[1]) {
        af->proto = APP_FAILED;
        x->f->app_proto = APP_FAILED;
        x->a->st.flows[APP_FAILED]++;
        for (int i = 0; i < 2; i++) {
            free(af->probe[i]);
            af->probe[i] = NULL;
            af->nprobe[i] = 0;
        }
    }
}

/* ---- Stream data ---- */

/* Inspects new stream bytes together with the window of earlier ones, then slides the window. */
static void inspect_stream(struct app_pass *x, struct app_flow *af, int dir, const uint8_t *d,
                           uint32_t n, uint64_t offset)
{
    struct detect_thread *dt = x->io->dt;
    if (x->f->flags & FLOW_F_NO_PAYLOAD)
        return; /* encrypted: nothing for content rules (tls.encryption-handling) */
    uint32_t look = detect_stream_lookback(dt);
    uint32_t w = af->wlen[dir];
    if (w == 0) {
        detect_stream(dt, x->p, x->f, dir, d, n, offset, 0, x->io->alert, x->io->alert_ctx);
    } else {
        uint64_t need = (uint64_t)w + n;
        if (need > x->a->scratch_cap) {
            uint8_t *s = realloc(x->a->scratch, need);
            if (s == NULL)
                return;
            x->a->scratch = s;
            x->a->scratch_cap = (uint32_t)need;
        }
        memcpy(x->a->scratch, af->win[dir], w);
        memcpy(x->a->scratch + w, d, n);
        detect_stream(dt, x->p, x->f, dir, x->a->scratch, w + n, offset - w, w, x->io->alert,
                      x->io->alert_ctx);
    }
    if (look == 0)
        return;
    if (af->win[dir] == NULL && (af->win[dir] = malloc(look)) == NULL)
        return;
    if (n >= look) {
        memcpy(af->win[dir], d + n - look, look);
        af->wlen[dir] = look;
    } else {
        uint32_t keep = w + n > look ? look - n : w;
        memmove(af->win[dir], af->win[dir] + w - keep, keep);
        memcpy(af->win[dir] + keep, d, n);
        af->wlen[dir] = keep + n;
    }
}

/* A packet standing for the flow at its end, for inspection that needs one. */
static void pseudo_packet(struct vg_packet *p, const struct flow *f, int dir, vg_time_t when)
{
    memset(p, 0, sizeof(*p));
    p->ts = when;
    p->ip_ver = f->ip_ver;
    p->proto = f->proto;
    p->src = dir == 0 ? f->src : f->dst;
    p->dst = dir == 0 ? f->dst : f->src;
    p->sp = dir == 0 ? f->sp : f->dp;
    p->dp = dir == 0 ? f->dp : f->sp;
    p->flags = VG_PKT_HAS_PORTS;
    p->src_idx = f->src_idx;
    p->vlan_cnt = f->vlan_cnt;
    memcpy(p->vlan_id, f->vlan_id, sizeof(p->vlan_id));
}

void app_pseudo_packet(struct vg_packet *p, const struct flow *f, int dir, vg_time_t when)
{
    pseudo_packet(p, f, dir, when);
}

static void on_stream(void *ctx, struct flow *f, int dir, const uint8_t *data, uint32_t len,
                      uint64_t offset, unsigned flags)
{
    struct app_pass *x = ctx;
    struct app_flow *af = flow_state(f);
    if (af == NULL)
        return;
    /* Data of the other direction (released by this packet's ACK or FIN) is inspected as if
     * it travelled its own way, so rule addresses and flow direction agree. */
    af->x = x;
    if (af->proto == APP_UNKNOWN && !af->expect_checked) {
        /* A new TCP flow's first data (or end): an announced FTP data connection? Looked up
         * once per flow, an atomic load while no transfer is expected. */
        af->expect_checked = 1;
        void *st = app_ftp_data_match(x);
        if (st != NULL)
            set_proto_state(x, af, APP_FTP_DATA, st);
    }
    const struct vg_packet *saved = x->p;
    struct vg_packet turned;
    if (x->pseudo != NULL) {
        pseudo_packet(x->pseudo, f, dir, x->ts);
    } else if (dir != x->pdir) {
        pseudo_packet(&turned, f, dir, x->ts);
        turned.pcap_cnt = saved->pcap_cnt;
        x->p = &turned;
    }
    if (flags & STREAM_DATA_GAP) {
        x->a->st.gaps++;
        af->wlen[dir] = 0;
        if (af->proto == APP_UNKNOWN) {
            af->probed[dir] = 1;
        } else if (af->ops != NULL && !af->stop[dir] && af->ops->gap != NULL) {
            af->ops->gap(af, dir, len);
        }
    } else if (data != NULL && len > 0) {
        /* Parse first, so alerts on this data already know the protocol. */
        detect_and_parse(x, af, dir, data, len);
        if (x->io->dt != NULL && detect_wants_stream(x->io->dt))
            inspect_stream(x, af, dir, data, len, offset);
    }
    if ((flags & (STREAM_DATA_EOF | STREAM_DATA_DEPTH)) && af->ops != NULL && !af->stop[dir] &&
        af->ops->eof != NULL)
        af->ops->eof(af, dir);
    if (af->ops != NULL)
        af->ops->update(x, af, dir);
    memcap_account(x, af, dir);
    x->p = saved;
}

/* ---- Packets ---- */

static void log_stream_events(struct app_pass *x, unsigned events)
{
    if (!x->a->cfg.log_anomaly || x->io->log == NULL)
        return;
    /* Retransmissions and midstream pickups are routine: counted, not logged. */
    events &= ~(unsigned)(STREAM_EV_RETRANSMISSION | STREAM_EV_MIDSTREAM);
    for (unsigned bit = 1; bit != 0 && bit <= events; bit <<= 1) {
        if (!(events & bit))
            continue;
        const char *name = stream_event_name(bit);
        if (name == NULL)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "type", json_string("stream"));
        json_object_set_new(o, "event", json_string(name));
        x->io->log(x->io->log_ctx, x->p, x->f, x->ts, "anomaly", "anomaly", o, -1);
    }
}

/* A UDP datagram: DNS is the one UDP protocol parsed, on any port (off port 53 with the
 * stricter probe). */
static void udp_packet(struct app_pass *x, const struct vg_packet *p, int dir)
{
    struct flow *f = x->f;
    const uint8_t *d = vg_pkt_payload(p);
    uint32_t n = p->payload_len;
    if (f->app_proto == APP_FAILED || n == 0)
        return;
    struct app_flow *af = flow_state(f);
    if (af == NULL)
        return;
    if (af->proto == APP_UNKNOWN) {
        int dns = f->dp == 53 || f->sp == 53 ? dns_probe_udp(d, n) : dns_probe_udp_strict(d, n);
        if (!dns) {
            af->probed[dir] = 1;
            if (af->probed[0] && af->probed[1]) {
                af->proto = f->app_proto = APP_FAILED;
                x->a->st.flows[APP_FAILED]++;
            }
            return;
        }
        set_proto(x, af, APP_DNS);
    }
    af->x = x;
    parse(x, af, dir, d, n);
    if (af->ops != NULL)
        af->ops->update(x, af, dir);
    memcap_account(x, af, dir);
}

void app_layer_packet(struct app_layer *a, const struct app_io *io, const struct vg_packet *p,
                      struct flow *f, int dir)
{
    if (f == NULL || p->ip_ver == 0 || (p->flags & VG_PKT_FRAGMENT))
        return;
    struct app_pass x = {a, io, p, f, p->ts, dir, 0, NULL};
    struct app_pass *prev = app_files_begin(a->files, &x);
    if (p->proto == 6) {
        unsigned ev = stream_handle_packet(a->stream, f, p, dir, on_stream, &x);
        if (ev != 0)
            log_stream_events(&x, ev);
    } else if (p->proto == 17) {
        udp_packet(&x, p, dir);
    }
    app_files_end(a->files, prev);
}

void app_layer_flow_end(struct app_layer *a, const struct app_io *io, struct flow *f,
                        vg_time_t when)
{
    struct vg_packet pp;
    pseudo_packet(&pp, f, 0, when);
    struct app_pass x = {a, io, &pp, f, when, 0, 0, &pp};
    struct app_pass *prev = app_files_begin(a->files, &x);
    if (f->stream != NULL)
        stream_flow_end(a->stream, f, on_stream, &x);
    struct app_flow *af = f->app;
    if (af == NULL) {
        app_files_end(a->files, prev);
        return;
    }
    x.final = 1;
    af->x = &x;
    if (af->ops != NULL) {
        af->ops->update(&x, af, 0);
        af->ops->state_free(af->st);
    }
    app_txrec_release(af, UINT64_MAX);
    free(af->tx);
    for (int i = 0; i < 2; i++) {
        free(af->win[i]);
        free(af->probe[i]);
    }
    if (af->charged != 0) {
        a->memuse -= af->charged;
        a->ncharged--;
    }
    free(af);
    f->app = NULL;
    app_files_end(a->files, prev);
}

json_t *app_layer_alert_object(struct app_layer *a, struct flow *f, uint64_t tx_id,
                               const char **key)
{
    struct app_flow *af = f != NULL ? f->app : NULL;
    if (af == NULL || af->ops == NULL || af->ops->alert_object == NULL)
        return NULL;
    return af->ops->alert_object(a, af, tx_id, key);
}
