/* testutil.h: helpers the Criterion tests share: running the sensor, reading its EVE output. */
#ifndef VIGIL_TESTUTIL_H
#define VIGIL_TESTUTIL_H

#include <jansson.h>
#include <stddef.h>

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

#endif
