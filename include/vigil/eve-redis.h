/* eve-redis.h: EVE records shipped to a Redis stream (pipelined XADD), spooled on disk while Redis
 * is away. */
#ifndef VIGIL_EVE_REDIS_H
#define VIGIL_EVE_REDIS_H

#include <stdint.h>

#include "vigil/config.h"

/* Where and how records go: outputs.eve.redis.* in the configuration (docs/scaling.md). */
struct eve_redis_config {
    char host[256];
    int port;
    unsigned db;
    char password[256]; /* empty: no AUTH */
    char stream[256];   /* the stream key */
    uint64_t maxlen;    /* XADD MAXLEN ~ maxlen; 0: no cap */
    unsigned batch;     /* XADDs per pipelined round trip */
    char spool_dir[4096];
    uint64_t spool_max; /* bytes the spool may hold on disk; 0: no spool, overflow is dropped */
    uint64_t queue_max; /* bytes waiting in memory for the shipper thread */
    unsigned drain_ms;  /* at shutdown, how long to keep sending before spooling the rest */
};

/* Counters of the Redis output (eve.redis.* in the stats record). */
struct eve_redis_stats {
    uint64_t sent;        /* records Redis acknowledged (replayed ones included) */
    uint64_t spooled;     /* records written to the spool */
    uint64_t replayed;    /* records sent from the spool */
    uint64_t dropped;     /* records lost: spool full or failing, or refused by Redis */
    uint64_t errors;      /* connection failures, error replies and spool I/O errors */
    uint64_t connected;   /* 1 while connected */
    uint64_t spool_bytes; /* bytes now in the spool */
};

struct eve_redis;

/* Fills c with the defaults: 127.0.0.1:6379 db 0, stream vigil:eve, no spool directory. */
void eve_redis_config_init(struct eve_redis_config *c);

/*
 * Applies a URL "redis://[:password@]host[:port][/db][?stream=S&maxlen=N&batch=N]" to c.
 * Returns 0, or -1 with errbuf set if the URL is malformed.
 */
int eve_redis_parse_url(struct eve_redis_config *c, const char *url, char *errbuf);

/*
 * Reads outputs.eve.redis.* from cfg into c (enabled, server, stream, maxlen, batch, spool-dir,
 * spool-max, queue-max, drain-timeout); the query of the server URL overrides the other keys.
 * spool-dir defaults to outdir/eve-redis-spool. Stores whether the output is on in *enabled.
 * Returns 0, or -1 with errbuf set on an invalid value.
 */
int eve_redis_config_load(struct eve_redis_config *c, int *enabled, const struct config *cfg,
                          const char *outdir, char *errbuf);

/*
 * Opens the spool directory (creating it, locking it against a second sensor, and finding
 * what an earlier run left there) and starts the shipper thread. Redis need not be up: records
 * are spooled until it is. Returns NULL with errbuf set on failure.
 */
struct eve_redis *eve_redis_start(const struct eve_redis_config *c, char *errbuf);

/*
 * Hands len bytes holding nrec whole newline-terminated records to the shipper. Never waits
 * for Redis: when the queue is full or Redis is away the records go to the spool, and what
 * the spool cannot take is counted as dropped. Callers serialise their calls (the EVE sink's
 * lock), which fixes the order records reach the stream in.
 */
void eve_redis_push(struct eve_redis *r, const char *buf, size_t len, uint64_t nrec);

/* Copies the counters into out. Safe from any thread. */
void eve_redis_get_stats(struct eve_redis *r, struct eve_redis_stats *out);

/*
 * Sends what is queued and spooled for up to drain_ms, spools the rest for the next run,
 * stops the shipper, prints a summary line on stderr and frees r. r may be NULL.
 */
void eve_redis_stop(struct eve_redis *r);

#endif
