/* detect.h: the signature engine: Suricata/Snort rules compiled to Hyperscan, matched per packet/stream/tx. */
#ifndef VIGIL_DETECT_H
#define VIGIL_DETECT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil/config.h"
#include "vigil/flow.h"
#include "vigil/packet.h"

/*
 * The buffers rules inspect: the packet (or stream) payload, and what application parsers fill.
 * The application layer hands them to detect_tx through struct detect_tx's get().
 */
enum detect_buffer_id {
    DB_PAYLOAD = 0, /* the packet payload, or reassembled stream data */
    DB_HTTP_URI,
    DB_HTTP_URI_RAW,
    DB_HTTP_METHOD,
    DB_HTTP_PROTOCOL,
    DB_HTTP_REQUEST_LINE,
    DB_HTTP_HOST,
    DB_HTTP_HOST_RAW,
    DB_HTTP_USER_AGENT,
    DB_HTTP_COOKIE,
    DB_HTTP_REFERER,
    DB_HTTP_HEADER,
    DB_HTTP_HEADER_RAW,
    DB_HTTP_HEADER_NAMES,
    DB_HTTP_CONTENT_TYPE,
    DB_HTTP_CONTENT_LEN,
    DB_HTTP_START,
    DB_HTTP_ACCEPT,
    DB_HTTP_ACCEPT_ENC,
    DB_HTTP_ACCEPT_LANG,
    DB_HTTP_CONNECTION,
    DB_HTTP_REQUEST_BODY,
    DB_HTTP_STAT_CODE,
    DB_HTTP_STAT_MSG,
    DB_HTTP_RESPONSE_LINE,
    DB_HTTP_SERVER,
    DB_HTTP_LOCATION,
    DB_FILE_DATA, /* HTTP bodies (response to client, request to server), mail bodies */
    DB_DNS_QUERY,
    DB_TLS_SNI,
    DB_TLS_CERT_SUBJECT,
    DB_TLS_CERT_ISSUER,
    DB_TLS_CERT_SERIAL,
    DB_TLS_CERT_FINGERPRINT,
    DB_TLS_CERTS,
    DB_TLS_VERSION,
    DB_JA3_HASH,
    DB_JA3_STRING,
    DB_JA3S_HASH,
    DB_JA3S_STRING,
    DB_BASE64_DATA, /* what base64_decode decoded, within the rule */
    DB_FILE_NAME,   /* a file's name (file.name, filename, fileext): file rules only */
    DB_FILE_MAGIC,  /* a file's libmagic type (file.magic, filemagic): file rules only */
    DB__COUNT
};

struct enrich; /* vigil/enrich.h */

/* What loading a ruleset needs. */
struct detect_config {
    const struct config *cfg;     /* vars.address-groups, vars.port-groups, detect.* keys */
    const char *const *rule_files;
    unsigned nrule_files;
    const char *classification_file; /* NULL: none (classtypes then print as their name) */
    const char *reference_file;
    const char *cache_dir; /* where compiled Hyperscan databases are cached; NULL: no cache */
    int profiling;         /* count time per rule */
    /* GeoIP for the geoip keyword (its City or Country databases); it must outlive the engine.
     * NULL, or no such database: rules using geoip are reported unsupported, as
     * "geoip (no database)". */
    const struct enrich *enrich;
};

/* The outcome of a load, for the start-up report and --test-rules. */
struct detect_load_report {
    unsigned loaded, failed, unsupported, duplicates;
    struct {
        char keyword[48];
        unsigned rules;
    } unsupported_by_kw[64]; /* the most frequent unsupported keywords */
    unsigned n_unsupported_kw;
    unsigned prefilter_patterns, prefilter_dbs, always_checked;
    unsigned pcre_hyperscan, pcre_pcre2; /* pcre keywords run by Hyperscan / by PCRE2 */
    double parse_secs, compile_secs;
    int cache_hit; /* the compiled databases came from the cache */
};

struct detect_engine;
struct detect_thread;

/* A rule as the alert output shows it. */
struct detect_sig_info {
    uint32_t sid, gid, rev;
    int priority;
    const char *msg;
    const char *classtype;    /* the classtype's name ("trojan-activity"), or NULL */
    const char *category;     /* its description ("A Network Trojan was detected"), or NULL */
    const char *action;       /* "alert", "drop", "reject" or "pass" as written */
    const char *metadata;     /* the rule's metadata text ("key value, key value"), or NULL */
};

/*
 * Builds the rule's metadata as Suricata's alert shows it: {"key": ["value", ...]}. Returns a
 * new object, or NULL if the rule has none. Built on demand, so rules keep only their text.
 */
json_t *detect_sig_metadata_json(const struct detect_sig_info *s);

struct vfile; /* the file layer's (vigil/files.h); detection only passes it through */

/* One alert raised on a packet. */
struct detect_alert {
    const struct detect_sig_info *sig;
    int has_tx;
    uint64_t tx_id;
    int stream; /* matched on reassembled stream data rather than the packet alone */
    struct vfile *file; /* the file a file rule matched (detect_file), else NULL */
};

typedef void (*detect_alert_fn)(void *ctx, const struct vg_packet *p, struct flow *f, int dir,
                                const struct detect_alert *a);

/*
 * Loads and compiles every rule file. A rule that cannot be parsed, or uses an unsupported
 * keyword, is reported on errors as "file:line: sid N: reason" and the rest load. Returns the
 * engine (rep filled), or NULL with errbuf set if no ruleset could be built at all (a rule file
 * missing, a database failing to compile).
 */
struct detect_engine *detect_engine_load(const struct detect_config *c,
                                         struct detect_load_report *rep, FILE *errors,
                                         char *errbuf);

/* Frees the engine. No thread may still use it. */
void detect_engine_free(struct detect_engine *e);

/* Number of rules loaded. */
unsigned detect_engine_rule_count(const struct detect_engine *e);

/* Writes the load report as the sensor prints it at start-up. */
void detect_report_print(const struct detect_load_report *rep, FILE *out);

/* Creates a thread's matching context (scratch space, counters). NULL with errbuf on failure. */
struct detect_thread *detect_thread_new(struct detect_engine *e, char *errbuf);
void detect_thread_free(struct detect_thread *t);

/* The engine a thread context works with. */
struct detect_engine *detect_thread_engine(struct detect_thread *t);

/* 1 if some rule inspects TCP stream data (so keeping a stream window is worth it), else 0. */
int detect_wants_stream(const struct detect_thread *t);

/* The number of bytes of earlier stream data a stream inspection should include. */
uint32_t detect_stream_lookback(const struct detect_thread *t);

/*
 * Inspects packet p (of flow f in direction dir, or f NULL) with the rules that look at
 * packets: header, flow and packet keywords, and content on the packet payload. Calls cb for
 * each alert.
 */
void detect_packet(struct detect_thread *t, const struct vg_packet *p, struct flow *f, int dir,
                   detect_alert_fn cb, void *ctx);

/*
 * Inspects reassembled TCP data of flow f, direction dir: win[0..len) holds the latest stream
 * bytes, starting at stream offset base; bytes from new_from on are new since the last call.
 * Only matches that end in the new bytes count, so a pattern split across segments alerts once.
 */
void detect_stream(struct detect_thread *t, const struct vg_packet *p, struct flow *f, int dir,
                   const uint8_t *win, uint32_t len, uint64_t base, uint32_t new_from,
                   detect_alert_fn cb, void *ctx);

/* Buffers an application-layer transaction offers to the rules. */
enum detect_progress { DETECT_PROG_NONE, DETECT_PROG_LINE, DETECT_PROG_HEADERS,
                       DETECT_PROG_COMPLETE };

struct detect_tx {
    uint64_t id;
    uint16_t app_proto;
    uint8_t progress[2]; /* enum detect_progress, per direction */
    /* Returns buffer b (enum detect_buffer_id in detect-buffers.h) of direction dir, element
     * idx of a multi-buffer (0 otherwise); NULL when absent. */
    const uint8_t *(*get)(void *txp, unsigned b, int dir, unsigned idx, uint32_t *len);
    void *txp;
    void **state; /* where the engine keeps what it evaluated on this tx */
};

/*
 * Inspects transaction tx of flow f after its progress advanced in direction dir (the packet p
 * that made it advance gets the alerts). Each rule is evaluated once per transaction, when every
 * buffer it needs is ready (or final is set: the flow is ending).
 */
void detect_tx(struct detect_thread *t, const struct vg_packet *p, struct flow *f, int dir,
               struct detect_tx *tx, int final, detect_alert_fn cb, void *ctx);

/*
 * A file as the file keywords see it (filled by the caller from the file layer). name, magic
 * and the hashes are borrowed for the call; magic and the hashes (lower-case hex) are NULL
 * until the file is closed.
 */
struct detect_file {
    struct vfile *handle; /* passed back in each alert (detect_alert.file) */
    uint64_t tx_id;
    int dir;       /* FLOW_DIR_TOSERVER or FLOW_DIR_TOCLIENT: the way the file travels */
    int closed;    /* 0: just opened (only the name is known), 1: closed */
    int truncated; /* closed before its end (the transfer was cut or passed a limit) */
    const uint8_t *name;
    uint32_t name_len;
    uint64_t size;
    const char *magic;
    const char *md5, *sha1, *sha256;
};

/* What detect_file found beyond its alerts: which files the filestore keyword asks to keep. */
enum {
    DETECT_FILE_ALERTED = 1u << 0,       /* a rule alerted on this file */
    DETECT_FILE_STORE = 1u << 1,         /* filestore (scope file): keep this file */
    DETECT_FILE_STORE_TX_TS = 1u << 2,   /* filestore scope tx: keep the tx's files to server */
    DETECT_FILE_STORE_TX_TC = 1u << 3,   /* ... and to client */
    DETECT_FILE_STORE_FLOW_TS = 1u << 4, /* filestore scope ssn/flow: every file of the flow */
    DETECT_FILE_STORE_FLOW_TC = 1u << 5,
};

/* 1 if some loaded rule inspects files (file keywords or filestore), else 0. */
int detect_wants_files(const struct detect_thread *t);

/* 1 if some loaded file rule reads the file's magic (filemagic, file.magic), else 0: the
 * caller then has file_need_magic() run before detect_file at the close. */
int detect_wants_file_magic(const struct detect_thread *t);

/*
 * Inspects file df of flow f with the file rules (rules with file.name, file.magic, filename,
 * fileext, filemagic, filesize, filemd5/sha1/sha256 or filestore). Call it when the file
 * opens and again when it closes: rules that need only the name are evaluated at the open,
 * the others at the close, so each rule sees a file once. p is the packet the file event came
 * with (its addresses are oriented as the file travels); tx gives the buffers of the file's
 * transaction (http.*, file.data) for rules that combine them with file keywords, or is NULL.
 * tx->state keeps which rules alerted on the transaction, so a rule alerts once per
 * transaction as in Suricata (tx->get may be NULL if only the state is given). Alerts go to
 * cb with has_tx set and file = df->handle. Returns DETECT_FILE_* bits.
 */
unsigned detect_file(struct detect_thread *t, const struct vg_packet *p, struct flow *f,
                     const struct detect_file *df, struct detect_tx *tx, detect_alert_fn cb,
                     void *ctx);

/* Frees what detect_file kept for a transaction (tx->state of detect_file). */
void detect_file_state_free(void **state);

/* Frees what detection kept for a transaction (*state) and for a flow (f->detect). */
void detect_tx_state_free(void **state);
void detect_flow_free(struct flow *f);

/* Counters of the engine and one thread; summed by the caller. */
struct detect_stats {
    uint64_t alerts;
    uint64_t packets_inspected, streams_inspected, txs_inspected;
    uint64_t prefilter_hits;  /* candidate rules from the prefilter */
    uint64_t rules_checked;   /* full verifications */
    uint64_t pcre_limit_hits; /* PCRE2 match or depth limit reached */
    uint64_t suppressed;      /* matches not alerted by threshold/detection_filter */
};
void detect_thread_stats(const struct detect_thread *t, struct detect_stats *out);

/* Per-rule counters, summed over threads into out (n = rule count): checks, matches, ticks. */
struct detect_rule_stats {
    uint64_t checks, matches, ticks;
};
void detect_thread_rule_stats_add(const struct detect_thread *t, struct detect_rule_stats *out);

/*
 * The at most top rules of e with the most checks (the most ticks when by_ticks) as a JSON array
 * of {"signature_id", "gid", "rev", "checks", "matches"}, plus "ticks_total", "ticks_avg" and
 * "percent" when by_ticks. rs has one entry per rule of e; rules never checked are left out.
 * Returns a new array, or NULL when out of memory.
 */
json_t *detect_profile_top(const struct detect_engine *e, const struct detect_rule_stats *rs,
                           unsigned top, int by_ticks);

/*
 * Writes rule profiling as Suricata's rule_perf JSON to path: every checked rule, the most ticks
 * first. 0, or -1 + errbuf when the file cannot be written.
 */
int detect_profile_write(const char *path, const struct detect_engine *e,
                         const struct detect_rule_stats *rs, vg_time_t now, char *errbuf);

/* The info of rule i (0 <= i < rule count). */
const struct detect_sig_info *detect_engine_sig(const struct detect_engine *e, unsigned i);

/* Looks up an application protocol by name ("http", "tls"...); 0 if unknown. */
uint16_t detect_app_proto_id(const char *name);
const char *detect_app_proto_name(uint16_t id);

#endif
