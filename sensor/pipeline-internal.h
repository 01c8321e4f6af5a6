/* pipeline-internal.h: batches and workers, shared by pipeline.c (producer) and worker.c only. */
#ifndef VIGIL_PIPELINE_INTERNAL_H
#define VIGIL_PIPELINE_INTERNAL_H

#include <pthread.h>

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
    struct flow_table *flows;
    struct app_layer *app; /* NULL when app-layer.enabled is no */
    struct app_io io;      /* how the app layer reaches detection and the log */
    struct enrich_cache *ecache; /* this thread's enrichment lookups (NULL: none) */
    struct file_thread *files;   /* this thread's file extraction (NULL: none) */
    struct eve_writer *eve;
    vg_time_t clock;
    vg_time_t last_sweep;
    struct worker_stats st;
};

/* Sets w up: queues, batches (all on the back queue), flow table, EVE writer. 0, or -1 + errbuf. */
int worker_init(struct worker *w, unsigned id, const struct sensor_settings *set,
                const struct eve_ctx *ectx, struct eve_sink *sink, struct file_engine *files,
                struct detect_engine **engine_slot, unsigned *switched, char *errbuf);

/* Adds the worker's detection counters (all rulesets it used) into out. */
void worker_detect_stats(const struct worker *w, struct detect_stats *out);

/* The worker thread: processes batches until one carries BATCH_EOF, then flushes its flows. */
void *worker_main(void *arg);

/* Frees what worker_init allocated. The thread must have been joined. */
void worker_destroy(struct worker *w);

#endif
