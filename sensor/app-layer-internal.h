/* app-layer-internal.h: what the application layer core shares with its per-protocol adapters. */
#ifndef VIGIL_APP_LAYER_INTERNAL_H
#define VIGIL_APP_LAYER_INTERNAL_H

#include "vigil/app-layer.h"

#define APP_PROBE_MAX 512 /* bytes of a direction held while the protocol is unknown */

/* What the layer remembers of one transaction: how far detection saw it, and its state. */
struct app_txrec {
    uint64_t id;
    uint8_t prog[2]; /* enum detect_progress last inspected, per direction */
    uint8_t logged;
    void *dstate;  /* detect_tx's state */
    void *file[2]; /* the adapter's open file per direction (struct vfile, struct file_mime) */
    void *fstate;  /* detect_file's state (file rules that matched this transaction) */
    uint8_t fstore; /* keep its files, bit per direction (an alert on it, filestore tx) */
};

/* A flow's application state (flow->app). */
struct app_flow {
    uint16_t proto;
    uint8_t stop[2];    /* the parser gave up on the direction */
    uint8_t probed[2];  /* the direction's data matched no protocol */
    uint8_t expect_checked; /* looked up in the FTP expectation table (first data) */
    uint8_t *probe[2];  /* data held while the protocol is unknown */
    uint32_t nprobe[2], probe_total[2];
    void *st; /* the parser's state */
    struct app_pass *x; /* the pass in progress, for parser callbacks */
    const struct app_proto_ops *ops;
    struct app_txrec *tx; /* live transactions, oldest first */
    unsigned ntx, ctx;
    uint8_t *win[2]; /* the latest stream bytes, for stream inspection */
    uint32_t wlen[2];
    uint8_t fstore; /* keep every file of the flow, bit per direction (filestore ssn) */
    uint64_t charged; /* bytes of this flow in the layer's app-layer.memcap account */
};

/* One pass of the layer: what the stream callback and the adapters need. */
struct app_pass {
    struct app_layer *a;
    const struct app_io *io;
    const struct vg_packet *p; /* the packet, or a pseudo packet at flow end */
    struct flow *f;
    vg_time_t ts;
    int pdir;  /* the packet's direction */
    int final; /* the flow is ending */
    struct vg_packet *pseudo; /* at flow end: the packet p points to, turned to each direction */
};

/* Returns buffer b of a transaction (struct detect_tx's get). */
typedef const uint8_t *(*app_buf_fn)(void *txp, unsigned b, int dir, unsigned idx, uint32_t *len);

/* A protocol parser behind the layer. The adapters hold the parser's state in af->st. */
struct app_proto_ops {
    unsigned proto;
    void *(*state_new)(const struct app_layer *a, struct app_flow *af);
    void (*state_free)(void *st);
    /* Parses data of direction dir; -1 once the direction is not this protocol any more. */
    int (*feed)(struct app_pass *x, struct app_flow *af, int dir, const uint8_t *d, uint32_t len);
    void (*gap)(struct app_flow *af, int dir, uint32_t len);
    void (*eof)(struct app_flow *af, int dir);
    /* Inspects what advanced, logs what finished and releases it (all of it when x->final). */
    void (*update)(struct app_pass *x, struct app_flow *af, int dir);
    /* The record of transaction tx_id for an alert, with its key. */
    json_t *(*alert_object)(const struct app_layer *a, struct app_flow *af, uint64_t tx_id,
                            const char **key);
    /* Transaction tx_id (its buffers through *get) for the file rules; NULL if not there. */
    void *(*tx_find)(struct app_flow *af, uint64_t tx_id, app_buf_fn *get);
    /* Bytes the state holds, for app-layer.memcap (app-mem.c); NULL: not counted. */
    uint64_t (*memuse)(const void *st);
};

extern const struct app_proto_ops app_http_ops, app_tls_ops, app_smtp_ops, app_dns_ops,
    app_ftp_ops, app_ftp_data_ops;

/* app-layer-ftp.c: if the pass's new TCP flow is a data connection an FTP control channel
 * announced, takes its expectation and returns the ftp-data state; else NULL. */
void *app_ftp_data_match(struct app_pass *x);

/* The layer's configuration. */
const struct app_config *app_layer_config(const struct app_layer *a);

/* The record of transaction id (created if absent). NULL when out of memory. */
struct app_txrec *app_txrec_get(struct app_flow *af, uint64_t id);

/* Forgets transactions with id <= upto, freeing their detection state. */
void app_txrec_release(struct app_flow *af, uint64_t upto);

/*
 * Inspects transaction rec (parser object txp, buffers through get) when its progress moved
 * past what detection saw; final when nothing more will come.
 */
void app_inspect_tx(struct app_pass *x, struct app_txrec *rec, unsigned proto, const uint8_t prog[2],
                    int dir, const uint8_t *(*get)(void *, unsigned, int, unsigned, uint32_t *),
                    void *txp);

/* Sends a record to the log (takes obj); tx_id < 0 for none. Counts a logged transaction. */
void app_log(struct app_pass *x, const char *event_type, const char *key, json_t *obj,
             int64_t tx_id);

/* Counts a parse error of the flow's protocol. */
void app_count_error(struct app_pass *x, unsigned proto);

/* A packet standing for flow f in direction dir at time when (pcap_cnt 0). */
void app_pseudo_packet(struct vg_packet *p, const struct flow *f, int dir, vg_time_t when);

/* app-layer-files.c: files to detection and the filestore, one per worker's layer. */
struct app_files;
struct app_files *app_files_new(void); /* NULL when out of memory */
void app_files_free(struct app_files *fs);
/* Starts pass x (observing x->io->files); returns the pass it interrupts (normally NULL). */
struct app_pass *app_files_begin(struct app_files *fs, struct app_pass *x);
/* Ends the pass begun last; at the outermost, hands on the files held during it. */
void app_files_end(struct app_files *fs, struct app_pass *prev);
/* Some rule alerted on transaction tx_id of the pass's flow: keep its files (policy alert). */
void app_files_tx_alert(struct app_files *fs, struct app_pass *x, uint64_t tx_id);

/* app-mem.c: the bytes a parser's state holds (HTTP, TLS, SMTP states; DNS TCP framing). */
struct dns_tcp_state;
uint64_t app_mem_http(const void *st);
uint64_t app_mem_tls(const void *st);
uint64_t app_mem_smtp(const void *st);
uint64_t app_mem_dns_tcp(const struct dns_tcp_state *s);

/* The worker's DNS message scratch. */
struct dns_message *app_layer_dns_scratch(struct app_layer *a);

#endif
