/* pipeline-internal.h: batches and workers, shared by pipeline.c (producer) and worker.c only. */
#ifndef VIGIL_PIPELINE_INTERNAL_H
#define VIGIL_PIPELINE_INTERNAL_H

#include <pthread.h>

#include "vigil/capture.h"
#include "vigil/defrag.h"
#include "vigil/detect.h"
#include "vigil/eve.h"
#include "vigil/flow.h"
#include "vigil/queue.h"
#include "vigil/sensor.h"
#include "vigil/stats.h"

#define BATCH_MAX_PKTS 256
#define BATCH_ARENA (512 * 1024)
#define BATCHES_PER_WORKER 8

enum batch_flags { BATCH_EOF = 1 };

/*
 * Packets travel from the capture thread to a worker in batches: the packet structs plus a
 * copy of their bytes in the arena. A batch goes back to the capture thread empty.
 */
struct batch {
    uint32_t npkts;
    uint32_t used; /* arena bytes used */
    uint32_t flags;
    vg_time_t clock; /* the capture clock (latest packet time) when the batch was sent */
    struct vg_packet pkts[BATCH_MAX_PKTS];
    uint8_t arena[BATCH_ARENA];
};

struct worker {
    unsigned id;
    pthread_t thread;
    int started;
    const struct sensor_settings *set;
    const struct eve_ctx *ectx;
    struct spsc_queue in;   /* full batches, capture -> worker */
    struct spsc_queue back; /* empty batches, worker -> capture */
    struct batch *storage[BATCHES_PER_WORKER];
    struct batch *cur; /* the batch the capture thread is filling */

    /* The ruleset in force, published by the capture thread (a reload swaps it). */
    struct detect_engine **engine_slot;
    unsigned *switched; /* workers that moved to the engine in the slot */

    /* Owned by the worker thread once started. */
    struct detect_engine *engine;
    struct detect_thread *dt;
    struct detect_stats dstats_old; /* counters of thread contexts replaced by reloads */
    pthread_mutex_t dt_lock;        /* held to swap dt on a reload and to read its counters */
    struct flow_table *flows;
    struct app_layer *app; /* NULL when app-layer.enabled is no */
    struct app_io io;      /* how the app layer reaches detection and the log */
    struct enrich_cache *ecache; /* this thread's enrichment lookups (NULL: none) */
    struct file_thread *files;   /* this thread's file extraction (NULL: none) */
    struct eve_writer *eve;
    vg_time_t clock;
    vg_time_t last_sweep;
    struct worker_stats st;

    /* Workers mode only (NULL/0 otherwise): the worker's own capture, decoder and defrag. */
    struct afp_socket *sock;
    struct defrag *defrag;
    uint8_t *reasm; /* rebuilt datagram, DEFRAG_MAX_PACKET bytes */
    struct vg_decode_stats dstats;
    uint64_t pcap_cnt;
    vg_time_t last_tick; /* wall clock of the last chores */
};

/* Sets w up: queues, batches (all on the back queue), flow table, EVE writer. 0, or -1 + errbuf. */
int worker_init(struct worker *w, unsigned id, const struct sensor_settings *set,
                const struct eve_ctx *ectx, struct eve_sink *sink, struct file_engine *files,
                struct detect_engine **engine_slot, unsigned *switched, char *errbuf);

/* Adds the worker's detection counters (all rulesets it used) into out. */
void worker_detect_stats(struct worker *w, struct detect_stats *out);

/* Adds the worker's per-rule counters into out (one per rule of e) if it runs e; else nothing. */
void worker_rule_stats_add(struct worker *w, const struct detect_engine *e,
                           struct detect_rule_stats *out);

/* The worker thread: processes batches until one carries BATCH_EOF, then flushes its flows. */
void *worker_main(void *arg);

/*
 * Sets w up for workers mode: as worker_init but without queues and batches, with its own
 * defragmenter; the caller sets w->sock. 0, or -1 + errbuf.
 */
int worker_init_direct(struct worker *w, unsigned id, const struct sensor_settings *set,
                       const struct eve_ctx *ectx, struct eve_sink *sink, struct file_engine *files,
                       struct detect_engine **engine_slot, unsigned *switched, char *errbuf);

/* Runs one decoded packet (flow_hash set) through flows, app layer and detection. */
void worker_packet(struct worker *w, const struct vg_packet *p);

/*
 * Brings w to clock: follows a rules reload, times flows out (once a second of clock) and
 * writes out the EVE buffer.
 */
void worker_tick(struct worker *w, vg_time_t clock);

/* Ends every flow at w's clock (flow records) and writes out the EVE buffer. */
void worker_finish(struct worker *w);

/* Frees what worker_init allocated. The thread must have been joined. */
void worker_destroy(struct worker *w);

/* The state of one run: the capture thread's (pipeline.c) or the main thread's (workers mode). */
struct pipeline {
    const struct sensor_settings *set;
    struct enrich *enrich; /* GeoIP, ASN and asset inventory; NULL when not configured */
    struct file_engine *files; /* hashing, YARA and the filestore; NULL when off */
    struct capture *cap;   /* pipeline mode */
    struct afp_group *afp; /* workers mode */
    struct worker *workers;
    unsigned nworkers;
    struct defrag *defrag; /* pipeline mode; in workers mode each worker has its own */
    uint8_t *reasm; /* rebuilt datagram, DEFRAG_MAX_PACKET bytes */
    struct vg_decode_stats dstats;
    struct eve_sink *sink;
    struct eve_writer *eve; /* for stats records */
    vg_time_t clock;        /* latest packet time seen */
    vg_time_t last_tick;    /* clock when workers were last brought up to date */
    uint64_t pcap_cnt;
    uint64_t oversize;      /* packets too large for a batch (never with libpcap's limits) */
    vg_time_t started;

    /* Rules: the engine in force, and a reload under way beside it. */
    struct detect_engine *engine; /* read by workers with an acquire load */
    struct detect_engine *retired; /* replaced, freed once every worker moved on */
    unsigned switched;
    pthread_t loader;
    int loading;                  /* a loader thread runs (capture thread only) */
    struct detect_engine *loaded; /* set by the loader: the new engine, or NULL */
    int load_done;                /* set by the loader when it finished (atomic) */
    unsigned reloads, reload_failures;
};


/* The run's requests from signal handlers: stop, reopen (taken once), and a clean slate. */
int pipeline_stop_requested(void);
int pipeline_take_reopen(void);
void pipeline_reset_requests(void);

/* Opens what records need: enrichment, the EVE sink and stats writer, the file engine. Fills
 * ectx's community-id and enrichment fields. 0, or -1 + errbuf (then call pipeline_free). */
int pipeline_start_outputs(struct pipeline *pl, struct eve_ctx *ectx, char *errbuf);

/* Starts, finishes and retires rule reloads (SIGUSR2); the run's main thread calls it often. */
void pipeline_reload_step(struct pipeline *pl);

/* Sums every counter of the run into s. */
void pipeline_collect_stats(struct pipeline *pl, struct sensor_stats *s);

/* Writes a stats record (if stats records are on). */
void pipeline_write_stats(struct pipeline *pl);

/* Frees the run's workers, outputs, engines. Worker threads must have been joined. */
void pipeline_free(struct pipeline *pl);

#endif
