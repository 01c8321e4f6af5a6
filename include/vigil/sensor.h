/* sensor.h: the sensor's settings and one run: capture, decode, workers and outputs together. */
#ifndef VIGIL_SENSOR_H
#define VIGIL_SENSOR_H

#include <stdint.h>

#include "vigil/capture.h"
#include "vigil/config.h"
#include "vigil/defrag.h"
#include "vigil/detect.h"
#include "vigil/eve-redis.h"
#include "vigil/app-layer.h"
#include "vigil/flow.h"

#define SENSOR_MAX_WORKERS 64

/* Everything a run needs to know, taken from the configuration and the command line. */
struct sensor_settings {
    unsigned nworkers;
    /* autofp-scheduler (Suricata's name): 1 "ftp-hash" (default): TCP between ports 20/21 or
     * two ports >= 1024 goes to a worker by address pair, so an FTP data connection reaches
     * the worker that saw its control channel; 0 "hash": every flow by its own tuple. */
    int ftp_hash;
    char outdir[4096];
    char eve_filename[256];
    struct flow_config flow;
    struct defrag_config defrag;
    struct capture_live_opts live;
    struct afp_config afp; /* af-packet.*: rings and fanout of --af-packet */
    uint32_t stats_interval; /* seconds between periodic stats records; 0 for the final only */
    int eve_enabled;
    int eve_flow, eve_anomaly, eve_stats; /* record types written */
    char sensor_name[256];                /* every record's "sensor" (sensor-name, or hostname) */
    int eve_redis_enabled;                /* outputs.eve.redis.enabled, or --eve-redis */
    struct eve_redis_config redis;
    int community_id;
    uint16_t community_id_seed;
    int progress; /* -1: when stderr is a terminal, 0: never, 1: always */

    /* Detection: rule files (from -S, else rule-files in the configuration). */
    const char **rule_files;
    unsigned nrule_files;
    char classification_file[4096]; /* empty: none */
    char cache_dir[4096];           /* empty: no compiled-database cache */
    int rule_profiling;
    const struct config *cfg; /* for the engine's variables when it is (re)loaded */

    struct app_config app; /* reassembly, protocol parsers and their records */

    /* Files: fileinfo records, YARA and the filestore (the keys of docs/files.md). */
    int files_enabled;              /* outputs.eve.types.files (default yes; needs the app layer) */
    const char *const *yara_rules;  /* --yara-rules paths, added to the configuration's */
    unsigned nyara_rules;
    const char *const *geoip_dbs; /* --geoip-db files, added to geoip-database */
    unsigned ngeoip_dbs;
    /* GeoIP, ASN and assets (sensor_enrich_new), shared by the geoip keyword and the EVE
     * fields; owned by the caller. NULL: the run builds its own for EVE, geoip is unsupported. */
    const struct enrich *enrich;
};

/* What a run did, for the summary line and the exit status. */
struct sensor_result {
    uint64_t packets;
    uint64_t bytes;
    uint64_t flows;
    uint64_t events;
    uint64_t events_lost;   /* records lost to failed writes (disk full): stats eve.dropped */
    uint64_t alerts;
    unsigned source_errors; /* capture files that failed */
    vg_time_t elapsed;      /* wall-clock microseconds */
    vg_time_t worker_cpu;   /* CPU microseconds of the packet workers (worker.cpu_seconds) */
    int fatal;              /* the run stopped on an error */
};

/*
 * Fills s with the defaults, then applies what c sets (c must outlive s). Rule files named on
 * the command line (rule_files, may be NULL) replace the configuration's rule-files. Returns 0,
 * or -1 with errbuf set.
 */
int sensor_settings_load(struct sensor_settings *s, const struct config *c,
                         const char **rule_files, unsigned nrule_files, char *errbuf);

/* Frees what sensor_settings_load allocated. */
void sensor_settings_free(struct sensor_settings *s);

/*
 * Builds the enrichment context of s: the configuration's geoip-database, enrich.* keys and
 * the --geoip-db files. Returns it (inactive if nothing is configured), or NULL with errbuf
 * set when a database or the inventory cannot be loaded. Free it with enrich_free.
 */
struct enrich *sensor_enrich_new(const struct sensor_settings *s, char *errbuf);

/*
 * Prints the effective configuration of s to out (--dump-config): every key of the file and
 * --set, and the default of every key the sensor reads that they do not set. Returns 0, or
 * -1 with errbuf set if a key's value is invalid.
 */
int sensor_config_dump(const struct sensor_settings *s, FILE *out, char *errbuf);

/*
 * Loads the ruleset s names (none: returns an engine with no rules). Prints each rule that
 * fails as "file:line: sid N: reason" and the load report on errors. NULL with errbuf set if
 * the ruleset cannot be built.
 */
struct detect_engine *sensor_load_rules(const struct sensor_settings *s, FILE *errors,
                                        struct detect_load_report *rep, char *errbuf);

/*
 * Runs the sensor over cap until it ends or sensor_request_stop() is called: decodes and
 * defragments on the calling thread, hands packets to s->nworkers worker threads that match
 * them against engine (which the run owns and frees, NULL for none), and writes EVE to
 * s->outdir. Errors of single capture files are reported on stderr and the run goes on.
 * Returns 0, or -1 with errbuf set if the run could not start or failed for good.
 */
int sensor_run(const struct sensor_settings *s, struct capture *cap, struct detect_engine *engine,
               struct sensor_result *res, char *errbuf);

/*
 * Runs the sensor in workers mode on the AF_PACKET sockets of g: each of afp_count(g) worker
 * threads reads its own socket and decodes, defragments, tracks flows, detects and logs on its
 * own; nothing passes packets between threads. The calling thread writes stats and handles
 * reload, reopen and stop requests. Runs until sensor_request_stop(), then flushes every flow
 * and writes the final stats. Returns 0, or -1 with errbuf set if the run could not start.
 */
int sensor_run_workers(const struct sensor_settings *s, struct afp_group *g,
                       struct detect_engine *engine, struct sensor_result *res, char *errbuf);

/* Asks a running sensor_run to reload its rules beside the running ones. Signal safe. */
void sensor_request_reload(void);

/* Asks a running sensor_run to stop soon and flush. Safe in a signal handler. */
void sensor_request_stop(void);

/* Asks a running sensor_run to reopen its log files. Safe in a signal handler. */
void sensor_request_reopen(void);

#endif
