/* app-layer.h: the application layer: stream reassembly, protocol detection, parsers, tx inspection and logs. */
#ifndef VIGIL_APP_LAYER_H
#define VIGIL_APP_LAYER_H

#include <jansson.h>
#include <stdint.h>

#include "vigil/app-proto.h"
#include "vigil/config.h"
#include "vigil/detect.h"
#include "vigil/files.h"
#include "vigil/flow.h"
#include "vigil/packet.h"
#include "vigil/stream.h"

struct ftp_expect;

/* What the application layer does, from the configuration (Suricata's keys where they exist). */
struct app_config {
    int enabled;                   /* app-layer.enabled (default yes) */
    struct stream_config stream;   /* stream.memcap, stream.midstream, stream.reassembly.* */
    uint32_t http_request_body_limit, http_response_body_limit; /* app-layer.protocols.http.* */
    uint32_t smtp_body_limit;      /* bytes of a mail body kept for file.data */
    int log_http, log_dns, log_tls, log_smtp; /* outputs.eve.types.<proto> (default yes) */
    int log_ftp;                   /* outputs.eve.types.ftp: ftp and ftp_data records */
    uint32_t ftp_data_body_limit;  /* bytes of an ftp-data file kept for file.data (100 KiB) */
    unsigned ftp_expect_max;       /* app-layer.protocols.ftp.expectations.max */
    unsigned ftp_expect_timeout;   /* app-layer.protocols.ftp.expectations.timeout (s) */
    struct ftp_expect *ftp_expect; /* the run's expectation table, shared by the workers
                                      (app_config_start); NULL: no ftp-data */
    int log_anomaly;               /* stream and app-layer anomalies (outputs.eve.types.anomaly) */
    int http_extended;             /* outputs.eve.http-extended: every header in http records */
    int tls_inspect_encrypted;     /* app-layer.protocols.tls.encryption-handling: full (1) or
                                      default (0: no content inspection once encrypted) */
    uint64_t memcap;               /* app-layer.memcap: bytes of parser state (APP_MEMCAP_DEFAULT
                                      over all workers, each worker's layer gets its share);
                                      0 = no cap */
};

#define APP_MEMCAP_DEFAULT (64ULL << 20) /* app-layer.memcap: 64 MiB over all workers */

/* Fills c with the defaults, then applies cfg (may be NULL). Returns 0, or -1 with errbuf set. */
int app_config_load(struct app_config *c, const struct config *cfg, char *errbuf);

/* Creates what the workers of a run share (the FTP expectation table). Returns 0, or -1 with
 * errbuf set when out of memory. */
int app_config_start(struct app_config *c, char *errbuf);

/* Frees what app_config_start created (c may be partly set up). */
void app_config_free(struct app_config *c);

/*
 * Where the application layer sends its results: alerts of stream and transaction inspection,
 * and records (http, dns, tls, smtp, anomaly). log takes ownership of obj, to be set under key
 * (key NULL: obj's members go to the record's top level);
 * p is the packet for packet-oriented records (anomaly), else NULL and the record follows the
 * flow's orientation at time ts; tx_id < 0 means none.
 */
struct app_io {
    struct detect_thread *dt; /* NULL: no rules */
    detect_alert_fn alert;
    void *alert_ctx;
    void (*log)(void *ctx, const struct vg_packet *p, struct flow *f, vg_time_t ts,
                const char *event_type, const char *key, json_t *obj, int64_t tx_id);
    void *log_ctx;
    /* Files: where bodies and attachments go (NULL: not extracted), and how the EVE header of
     * a fileinfo record about packet p of flow f is made (log_ctx is its context). */
    struct file_thread *files;
    json_t *(*record)(void *ctx, const struct vg_packet *p, struct flow *f,
                      const char *event_type);
};

struct app_layer;

/* Creates one worker's application layer. NULL with errbuf set on failure. */
struct app_layer *app_layer_new(const struct app_config *c, char *errbuf);
/* Frees a; it hands on the files it holds and unhooks itself from io->files, so free the
 * file_thread afterwards. */
void app_layer_free(struct app_layer *a);

/*
 * Runs packet p of flow f (direction dir) through reassembly, protocol detection and the
 * parsers, inspecting stream data and transactions with io->dt. Call it before detect_packet.
 */
void app_layer_packet(struct app_layer *a, const struct app_io *io, const struct vg_packet *p,
                      struct flow *f, int dir);

/*
 * Flushes what flow f still holds (remaining stream data, unfinished transactions, which are
 * inspected and logged) and frees its state. Call it before the flow record is written.
 */
void app_layer_flow_end(struct app_layer *a, const struct app_io *io, struct flow *f,
                        vg_time_t when);

/*
 * The application record an alert on transaction tx_id of f carries ("http", "dns", "tls" or
 * "smtp" in *key). Returns a new object, or NULL when there is none.
 */
json_t *app_layer_alert_object(struct app_layer *a, struct flow *f, uint64_t tx_id,
                               const char **key);

/* Counters of one worker's application layer, summed by the caller. */
struct app_layer_stats {
    uint64_t flows[APP__COUNT]; /* flows by detected protocol */
    uint64_t txs[APP__COUNT];   /* transactions logged */
    uint64_t parse_errors[APP__COUNT];
    uint64_t gaps;
    uint64_t memcap_drops; /* flows whose parser state was dropped at app-layer.memcap */
    uint64_t memuse;       /* bytes of parser state held now (the memcap's account) */
    struct stream_stats stream;
    /* The run's FTP expectation table (shared: set, not summed). */
    uint64_t expect_added, expect_matched, expect_expired, expect_dropped, expect_active;
};
void app_layer_stats_add(const struct app_layer *a, struct app_layer_stats *out);

#endif
