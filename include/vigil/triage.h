/* triage.h: vigil-triage modules: tdb_ store, tcfg_ config, ting_ ingest, corr_, tkt_, texp_. */
#ifndef VIGIL_TRIAGE_H
#define VIGIL_TRIAGE_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TRIAGE_ERRBUF 512
#define TRIAGE_VERSION "0.1.0"

/* Kill-chain stages, in order. */
enum corr_stage { STAGE_NONE = 0, STAGE_RECON, STAGE_EXPLOIT, STAGE_C2, STAGE_EXFIL, STAGE_COUNT };

/* ---- config.c: rules/triage.yaml ---- */

struct enrich;
struct enrich_asset;
struct enrich_cache;

struct tcfg_map {
    char *match; /* case-insensitive substring (signature) or exact (classtype, tactic) */
    int stage;
};

struct tcfg_points {
    char *match;
    int points;
};

struct tcfg_supp {
    long long sid; /* 0: any */
    char *addr;    /* NULL: any */
    char *asset;   /* NULL: any */
    double expires;
    char *reason;
};

enum tcfg_key { KEY_SIGNATURE = 1, KEY_SRC = 2, KEY_DEST = 4, KEY_ASSET = 8, KEY_ACTOR = 16 };

struct tcfg {
    double window;      /* grouping window, seconds */
    int keys;           /* enum tcfg_key bits */
    int campaign_hosts; /* N distinct internal hosts */
    double campaign_window;
    struct tcfg_map *stage_class, *stage_sig, *stage_tactic;
    size_t nstage_class, nstage_sig, nstage_tactic;
    int sev_points[4];    /* by alert severity 1..3 (index 0 unused) */
    int sigsev_points[4]; /* signature_severity: 0 none, 1 minor, 2 major, 3 critical */
    int crit_points[5];   /* by inventory criticality (enum enrich_criticality: 1 low .. 4) */
    int file_points, yara_points;
    int volume_max;   /* points for volume, log2-scaled */
    int stage_points; /* per kill-chain step beyond the first */
    int campaign_points;
    struct tcfg_points *countries, *asns;
    size_t ncountries, nasns;
    int thresholds[3]; /* score at or above: critical, high, medium */
    /* The asset inventory and GeoIP through the shared enrichment library (enrich.h). */
    char *assets_path; /* inventory file (rules/assets.sample.yaml format), or NULL */
    char *home_net;    /* our networks outside the inventory (a Suricata address spec) */
    char **geoip;      /* MaxMind databases for events without src_geo/dest_geo */
    size_t ngeoip;
    struct enrich *enrich;      /* built by tcfg_finish() */
    struct enrich_cache *cache; /* look-ups of the one thread correlating or exporting */
    struct tcfg_supp *supp;
    size_t nsupp;
    char *default_unit, *default_tlp, *default_pap;
    int max_examples; /* bad-line examples reported */
};

/* Fills cfg with built-in defaults (no inventory, HOME_NET RFC 1918 + fc00::/7), ready for use.
 * Returns 0, or -1 on allocation failure. */
int tcfg_defaults(struct tcfg *cfg);
/* Loads path over the defaults and opens its inventory and databases (tcfg_finish); relative
 * inventory/GeoIP paths are resolved against path's directory. Returns 0, or -1 with errbuf. */
int tcfg_load(struct tcfg *cfg, const char *path, char *errbuf);
/* Replaces the inventory file (the --assets option). Returns 0 or -1 (out of memory). */
int tcfg_set_assets(struct tcfg *cfg, const char *path);
/* Adds a MaxMind database (the --geoip-db option). Returns 0 or -1 (out of memory). */
int tcfg_add_geoip(struct tcfg *cfg, const char *path);
/* Opens the inventory and databases and builds the address sets again (after tcfg_set_assets
 * or tcfg_add_geoip). Returns 0, or -1 with the file:line reason in errbuf. */
int tcfg_finish(struct tcfg *cfg, char *errbuf);
void tcfg_free(struct tcfg *cfg);

/* What the triage knows about one address. */
struct tcfg_addr {
    int internal;                     /* in the inventory or in home_net */
    const struct enrich_asset *asset; /* the inventory entry (longest prefix), or NULL */
};
/* Classifies ip (a textual IPv4/IPv6 address) through cfg's look-up cache: one thread only (the
 * one correlating or exporting). Returns 0, or -1 (and an external, asset-less result) if ip
 * does not parse. */
int tcfg_addr(const struct tcfg *cfg, const char *ip, struct tcfg_addr *out);
/* As tcfg_addr without the cache: safe from any thread (ingest's reader). */
int tcfg_addr_nocache(const struct tcfg *cfg, const char *ip, struct tcfg_addr *out);
/* Returns 1 if ip is ours (tcfg_addr's internal), else 0. */
int tcfg_internal(const struct tcfg *cfg, const char *ip);
/* Returns the inventory entry listing host name (case-insensitive), or NULL. */
const struct enrich_asset *tcfg_asset_host(const struct tcfg *cfg, const char *host);
/* Parses an inventory criticality name ("high"); returns 1..4, or 0 if unknown. */
int tcfg_crit_level(const char *name);
/* Writes "CC|ASN" of ip from the configured GeoIP databases into buf ("" if unknown, reserved,
 * or no database). Thread-safe (no cache). Returns 1 if something was found, else 0. */
int tcfg_geo_lookup(const struct tcfg *cfg, const char *ip, char *buf, size_t len);
/* Parses "2026-01-31", "2026-01-31T10:00:00Z", EVE timestamps, or "7d"/"12h" ago. Returns -1 on
 * error. */
double tcfg_parse_time(const char *s);
/* Formats epoch t as ISO 8601 UTC ("2026-01-31T10:00:00Z") into buf. */
const char *tcfg_fmt_time(double t, char *buf, size_t len);
/* Returns the points of an actor's "CC|ASN" (scoring.countries / scoring.asns), 0 if none. */
int tcfg_geo_points(const struct tcfg *cfg, const char *geo);
/* Returns the stage name ("recon", ...) or "-". */
const char *tcfg_stage_name(int stage);

/* ---- db.c: SQLite store ---- */

struct tdb_ckpt;
struct tdb {
    sqlite3 *db;
    int in_tx;
    struct tdb_ckpt *ckpt; /* the background checkpointer while one runs */
    int ckpt_users;
};

/* Opens (creating/migrating) path in WAL mode. Returns NULL with errbuf set. */
struct tdb *tdb_open(const char *path, char *errbuf);
void tdb_close(struct tdb *t);
/*
 * Moves WAL checkpoints to a thread with its own connection for a bulk run (ingest, correlate):
 * the writer stops checkpointing itself, and the copy back into the database and its fsync no
 * longer stall it. Nested calls share one thread. Returns 0, or -1 (no thread: the writer keeps
 * checkpointing itself, which is only slower). tdb_ckpt_stop ends it with the last user.
 */
int tdb_ckpt_start(struct tdb *t);
void tdb_ckpt_stop(struct tdb *t);
/* Transactions; return 0 or -1 with errbuf set. */
int tdb_begin(struct tdb *t, char *errbuf);
int tdb_commit(struct tdb *t, char *errbuf);
void tdb_rollback(struct tdb *t);
/* Runs sql (no results). Returns 0 or -1 with errbuf set. */
int tdb_exec(struct tdb *t, const char *sql, char *errbuf);
/* Prepares sql; returns NULL with errbuf set. */
sqlite3_stmt *tdb_prepare(struct tdb *t, const char *sql, char *errbuf);
/* Returns the single integer result of sql with optional one text parameter, or -1. */
long long tdb_scalar(struct tdb *t, const char *sql, const char *param);
/* Returns the current schema version. */
int tdb_schema_version(struct tdb *t);

/* ---- ingest.c ---- */

struct ting_stats {
    long long lines, events, alerts, dups, skipped, bad, suppressed;
    char **examples; /* "file:line: reason", at most cfg->max_examples */
    size_t nexamples;
};

#define TING_BATCH 50000 /* larger batches rewrite fewer pages of the identity index */

struct ting_opts {
    int follow;         /* keep tailing a file */
    volatile int *stop; /* set non-zero to end --follow */
    long batch;         /* lines per transaction (default 10000) */
    const char *sensor; /* sensor name when events carry no "sensor" or "host" */
    int no_correlate;   /* leave new alerts pending (correlated by a later run) */
};

/* Ingests path (file, directory of *.json recursively, or "-"), then correlates. Returns 0 or -1.
 */
int ting_ingest(struct tdb *t, const struct tcfg *cfg, const char *path, const struct ting_opts *o,
                struct ting_stats *st, char *errbuf);
void ting_stats_free(struct ting_stats *st);

/*
 * Single records stored in the caller's transaction (the Redis consumer, consume-redis.c): open
 * prepares the statements (NULL with errbuf set on failure; errbuf must outlive the handle and
 * receives later errors too); add parses and stores one EVE record text[0..len) (not modified),
 * counting it in st like a line of a file and naming it origin in bad-record examples, and
 * returns 0 or -1 (errbuf set) on a store failure; close frees the handle (NULL is fine).
 */
struct ting_rec;
struct ting_rec *ting_rec_open(struct tdb *t, const struct tcfg *cfg, const struct ting_opts *o,
                               struct ting_stats *st, char *errbuf);
int ting_rec_add(struct ting_rec *r, const char *origin, char *text, size_t len);
void ting_rec_close(struct ting_rec *r);
/* Classifies an alert's kill-chain stage from its alert object. */
int ting_stage(const struct tcfg *cfg, const json_t *alert);

/* ---- suppress.c: the suppression list during correlation ---- */

struct tsup_list {
    struct tcfg_supp *s; /* the config's entries (borrowed), then the store's (owned) */
    long long *ids;      /* store id of each entry, 0 for the config's */
    long long *hits;     /* hits not yet written back */
    size_t n, nconfig;
};

/* Loads the config's and the store's suppressions. Returns 0 or -1 with errbuf set. */
int tsup_load(struct tsup_list *l, struct tdb *t, const struct tcfg *cfg, char *errbuf);
/* Returns 1 (and counts a hit) if an unexpired entry matches the alert at time now, else 0. */
int tsup_match(struct tsup_list *l, long long sid, const char *src, const char *dest,
               const char *asset, double now);
/* Adds the counted hits to the store's entries and resets them. Returns 0 or -1. */
int tsup_save_hits(struct tsup_list *l, struct tdb *t, char *errbuf);
void tsup_free(struct tsup_list *l);

/* ---- correlate.c ---- */

struct corr_stats {
    long long alerts, incidents_new, incidents_raised, campaigns, suppressed, files;
};

/* Correlates every pending event in timestamp order. Returns 0 or -1 with errbuf set. */
int corr_run(struct tdb *t, const struct tcfg *cfg, struct corr_stats *st, char *errbuf);
/* Returns the severity level (1 critical .. 4 low) of a score. */
int corr_level(const struct tcfg *cfg, int score);
const char *corr_level_name(int level, int vi);

/* ---- ticket.c ---- */

struct tkt_change {
    const char *status, *reason, *assignee, *unit, *tlp, *pap, *note, *user;
};

/* Resolves "INC-2026-000001" or a bare number to the incident rowid, or -1. */
long long tkt_resolve(struct tdb *t, const char *ref);
/* Applies a change with audit history. Returns 0 or -1 with errbuf set (invalid transition...). */
int tkt_update(struct tdb *t, long long id, const struct tkt_change *c, char *errbuf);
/* Merges srcs into dst (closed as duplicate, alerts moved). Returns 0 or -1. */
int tkt_merge(struct tdb *t, long long dst, const long long *srcs, size_t n, const char *user,
              char *errbuf);
/*
 * Moves alerts of incident id (the event ids in events[n], or all of signature sid when n is 0)
 * into a new incident (routing and scoring copied), stored in *new_id. Returns 0 or -1.
 */
int tkt_split(struct tdb *t, long long id, long long sid, const long long *events, size_t n,
              const char *user, long long *new_id, char *errbuf);
/* Reopens a resolved or closed incident. Returns 0 or -1. */
int tkt_reopen(struct tdb *t, long long id, const char *user, char *errbuf);
/* Returns 1 if the workflow allows from -> to. */
int tkt_transition_ok(const char *from, const char *to);
/* Builds the incident (with alerts, context, observables, notes, history) as JSON, or NULL. */
json_t *tkt_json(struct tdb *t, long long id, int with_events);
/* Adds "internal_observables" to inc (from tkt_json with events): the observed addresses, domains
 * and URLs that are ours (HOME_NET or the inventory: addresses, host names), which the exports
 * keep as context but never list as indicators. */
void tkt_mark_internal(json_t *inc, const struct tcfg *cfg);
/* Adds/lists/removes suppressions. Return 0 or -1. */
int tkt_suppress_add(struct tdb *t, const struct tcfg_supp *s, char *errbuf);
json_t *tkt_suppress_list(struct tdb *t);
int tkt_suppress_remove(struct tdb *t, long long id, char *errbuf);

/* ---- exports (export-*.c, report-html.c) ---- */

/* Returns 1 if the observable val of inc is ours (an incident's or member's asset address, or
 * listed by tkt_mark_internal), else 0. */
int texp_ours(const json_t *inc, const char *val);
/* Each writes incident JSON inc (from tkt_json) to out. Return 0 or -1 with errbuf set. */
int texp_json(FILE *out, const json_t *inc, char *errbuf);
int texp_md(FILE *out, const json_t *inc, int vi, char *errbuf);
int texp_stix(FILE *out, const json_t *inc, char *errbuf);
int texp_misp(FILE *out, const json_t *inc, char *errbuf);
/* Writes a self-contained HTML report of incidents detected since `since`. Returns 0 or -1. */
int trep_html(FILE *out, struct tdb *t, double since, int vi, char *errbuf);
/* Writes a deterministic UUID (v5-style, SHA-256 based) of name into buf[37]. */
void texp_uuid(const char *name, char *buf);

/* ---- output.c ---- */

/* Prints rows (arrays of strings) as an aligned table; colour column col by severity on a TTY. */
void tout_table(FILE *out, const char *const *head, size_t ncol, json_t *rows, int sevcol);

#endif
