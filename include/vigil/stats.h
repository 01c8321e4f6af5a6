/* stats.h: the sensor's counters, summed over its threads for the EVE stats record. */
#ifndef VIGIL_STATS_H
#define VIGIL_STATS_H

#include <stdint.h>

#include "vigil/decode.h"
#include "vigil/defrag.h"
#include "vigil/app-layer.h"
#include "vigil/detect.h"
#include "vigil/eve.h"
#include "vigil/files.h"
#include "vigil/flow.h"

/* Counters of the capture stage. */
struct capture_stats {
    uint64_t kernel_packets; /* from pcap_stats (live) */
    uint64_t kernel_drops;
    uint64_t kernel_ifdrops;
    uint64_t kernel_freezes; /* AF_PACKET: times every ring block was full (tp_freeze_q_cnt) */
    uint64_t files;          /* capture files opened */
    uint64_t file_errors;    /* files that could not be read to the end */
};

/* Counters of the worker stage. */
struct worker_stats {
    uint64_t pkts;
    uint64_t bytes;
    uint64_t batches;
    uint64_t cpu_usec; /* CPU time of the worker threads (CLOCK_THREAD_CPUTIME_ID) */
};

/* The packet workers' enrichment caches (enrich_cache_stats), for EVE records. */
struct enrich_stats {
    uint64_t lookups; /* addresses looked up through a worker's cache: hits + misses */
    uint64_t cache_hits;
    uint64_t cache_misses; /* each one a GeoIP/ASN/inventory look-up */
};

/* A snapshot of every counter, summed over threads. */
struct sensor_stats {
    vg_time_t uptime;
    struct capture_stats capture;
    struct vg_decode_stats decoder;
    struct defrag_stats defrag;
    struct flow_stats flow;
    struct worker_stats worker;
    struct eve_sink_stats eve;
    struct detect_stats detect;
    struct app_layer_stats app;
    struct file_stats files;
    struct enrich_stats enrich; /* with enrich_enabled */
    int enrich_enabled;
    uint64_t rules_loaded, rule_reloads, rule_reload_failures;
};

/* Adds b into a, counter by counter (memuse and active included). */
void stats_flow_add(struct flow_stats *a, const struct flow_stats *b);
void stats_worker_add(struct worker_stats *a, const struct worker_stats *b);
void stats_defrag_add(struct defrag_stats *a, const struct defrag_stats *b);

/* Builds the "stats" object of an EVE stats record from s. Returns a new object, or NULL. */
json_t *eve_stats_object(const struct sensor_stats *s);

#endif
