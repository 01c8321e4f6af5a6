/* testutil.h: helpers the Criterion tests share: running the sensor, reading its EVE output. */
#ifndef VIGIL_TESTUTIL_H
#define VIGIL_TESTUTIL_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

/* Returns the environment variable name, failing the test if it is unset. */
const char *tu_env(const char *name);

/* Returns $VIGIL_PCAPS/name in a static buffer. */
const char *tu_pcap(const char *name);

/* Creates a fresh temporary directory; returns its malloc'd path. */
char *tu_tmpdir(void);

/* Removes dir and its files (one level). */
void tu_rmdir(const char *dir);

/*
 * Runs argv (NULL-terminated) and waits. Stores its stderr (and stdout) in *output if it is not
 * NULL (malloc'd, NUL-terminated). Returns its exit status, or -1 if it died by a signal.
 */
int tu_run(char *const argv[], char **output);

/* The events of an eve.json file. */
struct tu_events {
    json_t **ev;
    size_t n;
};

/* Reads every line of path as JSON; fails the test on a line that is not valid JSON. */
struct tu_events tu_read_eve(const char *path);
void tu_events_free(struct tu_events *e);

/* Returns the value at a dotted path ("flow.pkts_toserver") of obj, or NULL. */
json_t *tu_get(const json_t *obj, const char *path);

/* Returns the string/integer at a dotted path ("flow.pkts_toserver") of obj, or NULL/-1. */
const char *tu_str(const json_t *obj, const char *path);
long long tu_int(const json_t *obj, const char *path);

/* Counts events of event_type (NULL for any) whose field path equals value (NULL for any). */
size_t tu_count(const struct tu_events *e, const char *event_type, const char *path,
                const char *value);

/* Returns the first event of event_type whose field path equals value, or NULL. */
json_t *tu_find(const struct tu_events *e, const char *event_type, const char *path,
                const char *value);

/* Returns the flow record whose src_ip/src_port (and dest_ip if not NULL) match, or NULL. */
json_t *tu_flow(const struct tu_events *e, const char *src_ip, long long src_port,
                const char *dest_ip);

/* Returns the last stats record, or NULL. */
json_t *tu_stats(const struct tu_events *e);

/*
 * Runs vigil-sensor with -l outdir and the extra arguments (NULL-terminated), then reads
 * outdir/eve.json into *events. Returns the exit status; *output gets stderr if not NULL.
 */
int tu_sensor(const char *outdir, struct tu_events *events, char **output, ...);

/* ---- a private redis-server for the Redis tests ---- */

/* Skips the test if redis-server is not installed. */
void tu_need_redis(void);

/* Returns a loopback TCP port nobody listens on right now. */
int tu_free_port(void);

/* Connects to 127.0.0.1:port (1 s timeout). Returns NULL if nothing answers. */
redisContext *tu_redis_connect(int port);

/* In a child about to exec: closes every descriptor above stderr (FIFO ends, test pipes). */
void tu_close_inherited(void);

/*
 * Starts redis-server on 127.0.0.1:port with its files and log in dir/redis, without persistence
 * or (aof) with an append-only file synced on every write, so that a restart keeps every
 * acknowledged write. It dies with the test. Waits until it answers PING (5 s, then the test
 * fails). Returns its pid.
 */
pid_t tu_redis_start(const char *dir, int port, int aof);

/* Kills a redis-server from tu_redis_start with SIGKILL and reaps it. */
void tu_redis_kill(pid_t pid);

#endif
