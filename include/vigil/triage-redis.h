/* triage-redis.h: vigil-triage and Redis Streams: the consumer-group ingest (tredis_) and status.
 */
#ifndef VIGIL_TRIAGE_REDIS_H
#define VIGIL_TRIAGE_REDIS_H

#include "vigil/triage.h"

#define TREDIS_MAX_STREAMS 16

/* Where to read and how (vigil-triage ingest --redis; docs/scaling.md). */
struct tredis_conf {
    char host[256];
    int port;
    unsigned db;
    char password[256]; /* empty: no AUTH */
    char stream[256];   /* the stream key; default vigil:eve */
    char group[128];    /* the consumer group; default triage */
    char consumer[128]; /* this consumer's name in the group; default hostname-pid */
    unsigned count;     /* entries per XREADGROUP / XAUTOCLAIM round; default 5000 */
    unsigned block_ms;  /* XREADGROUP BLOCK while waiting; default 1000 (also the stop latency) */
    unsigned long long claim_idle_ms; /* XAUTOCLAIM entries pending this long elsewhere; 60000 */
    int once;                         /* stop when nothing new is left instead of waiting */
    int no_correlate;                 /* leave new alerts pending for a later correlate */
    const char *sensor;               /* sensor name for records naming none */
    volatile int *stop;               /* set non-zero (SIGTERM) to stop after the current batch */
};

/* What one run did. */
struct tredis_stats {
    long long entries;     /* stream entries taken: read, claimed and read again */
    long long claimed;     /* of which taken over from other consumers with XAUTOCLAIM */
    long long redelivered; /* of which this consumer's own, delivered before and not acknowledged */
    long long acked;       /* entries XACKed after their transaction was committed */
    long long batches;     /* transactions committed */
    long long malformed;   /* entries without an "eve" field (acknowledged, not stored) */
    long long trimmed;     /* pending entries the stream had already trimmed (MAXLEN) */
    long long reconnects;  /* connections to Redis re-established */
};

/* Fills c with the defaults: 127.0.0.1:6379 db 0, vigil:eve, group triage, hostname-pid. */
void tredis_conf_init(struct tredis_conf *c);

/*
 * Applies "redis://[:password@]host[:port][/db][?stream=KEY]" to c, with the sensor's parser
 * (eve_redis_parse_url), so the sensor's URL works here as it is; its maxlen and batch parameters
 * concern XADD and are ignored. Returns 0, or -1 with errbuf (TRIAGE_ERRBUF bytes) set.
 */
int tredis_parse_url(struct tredis_conf *c, const char *url, char *errbuf);

/*
 * Consumes c->stream as c->consumer of c->group into t: creates the group (from the stream's
 * first entry, MKSTREAM) if missing, reads this consumer's own unacknowledged entries first, then
 * new ones with XREADGROUP, and takes over entries idle on other consumers for claim_idle_ms with
 * XAUTOCLAIM. Each batch is stored in one transaction, committed (synchronous=FULL) and only then
 * XACKed. A lost connection is retried with backoff (for 10 s with once, else until *stop).
 * Counts into st and rs. Returns 0 when drained (once) or stopped, or -1 with errbuf set (a
 * database error, Redis refusing the stream, or Redis unreachable with once); entries not yet
 * committed then stay pending in the group, nothing acknowledged is lost.
 */
int tredis_ingest(struct tdb *t, const struct tcfg *cfg, const struct tredis_conf *c,
                  struct ting_stats *st, struct tredis_stats *rs, char *errbuf);

/*
 * The state of streams[0..n) (c->stream if n is 0) on c's server: length, first and last id,
 * and per group the last delivered id, lag, pending entries (XPENDING) and consumers with their
 * pending counts and idle times. Returns a new JSON object, or NULL with errbuf set.
 */
json_t *tredis_status(const struct tredis_conf *c, const char *const *streams, size_t n,
                      char *errbuf);

/* Records in t's meta table where c reads from, so that status finds the stream by itself.
 * Returns 0 or -1 with errbuf set. */
int tredis_remember(struct tdb *t, const struct tredis_conf *c, char *errbuf);

/* Fills c from what tredis_remember stored in t. Returns 1 if there was something, else 0. */
int tredis_recall(struct tdb *t, struct tredis_conf *c);

/* ---- status.c ---- */

/*
 * Prints the state of the Redis streams (redis: tredis_status's object, or NULL) and of the
 * store t at dbpath, as aligned tables or (json) one JSON object. Returns 0 or -1 with errbuf set.
 */
int tstat_print(FILE *out, struct tdb *t, const char *dbpath, const json_t *redis, int json,
                char *errbuf);

#endif
