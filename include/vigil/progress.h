/* progress.h: the replay progress line on a terminal: bytes, packets/s, Mbit/s and an ETA. */
#ifndef VIGIL_PROGRESS_H
#define VIGIL_PROGRESS_H

#include <stdint.h>

#include "vigil/common.h"

struct progress {
    int enabled;
    int shown; /* a line is on the terminal */
    vg_time_t start, last;
    uint64_t last_pkts, last_bytes;
};

/* mode -1 shows progress when stderr is a terminal, 0 never, 1 always. */
void progress_init(struct progress *pr, int mode);

/*
 * Redraws the line at most four times a second: done/total bytes of input (total 0 if
 * unknown), packets and bytes decoded so far, now a monotonic time.
 */
void progress_update(struct progress *pr, uint64_t done, uint64_t total, uint64_t pkts,
                     uint64_t bytes, vg_time_t now);

/* Erases the line, so other messages start on a clean line. */
void progress_clear(struct progress *pr);

#endif
