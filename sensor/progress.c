/* progress.c: draws the replay progress line on stderr when it is a terminal. */
#include <stdio.h>
#include <unistd.h>

#include "vigil/progress.h"

void progress_init(struct progress *pr, int mode)
{
    pr->enabled = mode < 0 ? isatty(STDERR_FILENO) : mode;
    pr->shown = 0;
    pr->start = pr->last = vg_monotonic();
    pr->last_pkts = pr->last_bytes = 0;
}

void progress_update(struct progress *pr, uint64_t done, uint64_t total, uint64_t pkts,
                     uint64_t bytes, vg_time_t now)
{
    if (!pr->enabled || now - pr->last < 250000)
        return;
    double dt = (double)(now - pr->last) / 1e6;
    double pps = (double)(pkts - pr->last_pkts) / dt;
    double mbps = (double)(bytes - pr->last_bytes) * 8 / dt / 1e6;
    char eta[32] = "";
    double elapsed = (double)(now - pr->start) / 1e6;
    if (total > 0 && done > 0 && done <= total) {
        double left = elapsed * (double)(total - done) / (double)done;
        unsigned s = (unsigned)left;
        snprintf(eta, sizeof(eta), "  ETA %u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
        fprintf(stderr, "\r\033[Kvigil: %.1f/%.1f MB (%.0f%%)  %.0f pkt/s  %.1f Mbit/s%s",
                (double)done / 1e6, (double)total / 1e6, 100.0 * (double)done / (double)total,
                pps, mbps, eta);
    } else {
        fprintf(stderr, "\r\033[Kvigil: %.1f MB  %llu pkts  %.0f pkt/s  %.1f Mbit/s",
                (double)bytes / 1e6, (unsigned long long)pkts, pps, mbps);
    }
    fflush(stderr);
    pr->shown = 1;
    pr->last = now;
    pr->last_pkts = pkts;
    pr->last_bytes = bytes;
}

void progress_clear(struct progress *pr)
{
    if (pr->shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        pr->shown = 0;
    }
}
