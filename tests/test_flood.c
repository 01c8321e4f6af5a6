/* test_flood.c: 1M SYNs from random sources and a fragment flood under small memcaps. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define MB (1024LL * 1024)
/* The memcaps of the run, and what they add up to. */
#define FLOW_MEMCAP 16
#define DEFRAG_MEMCAP 4
#define STREAM_MEMCAP 8 /* per worker */
#define FILES_MEMCAP 4
#define THREADS 2

/* Runs the sensor on pcap into dir; returns its peak RSS in bytes. */
static long long run_sensor(const char *dir, const char *pcap)
{
    char errpath[4200];
    snprintf(errpath, sizeof(errpath), "%s/stderr.txt", dir);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (freopen(errpath, "w", stderr) == NULL)
            _exit(126);
        execl(tu_env("VIGIL_SENSOR"), "vigil-sensor", "-r", pcap, "-l", dir, "--threads", "2",
              "--no-progress", "--set", "flow.memcap=16mb", "--set", "defrag.memcap=4mb", "--set",
              "stream.memcap=8mb", "--set", "files.memcap=4mb", "--set",
              "outputs.eve.types.flow=no", (char *)NULL);
        _exit(127);
    }
    int st;
    struct rusage ru;
    cr_assert_eq(wait4(pid, &st, 0, &ru), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the sensor failed on %s", pcap);
    return (long long)ru.ru_maxrss * 1024;
}

Test(flood, memcaps_hold_and_evictions_are_counted, .timeout = 300)
{
    char *dir = tu_tmpdir();
    char pcap[4200];
    snprintf(pcap, sizeof(pcap), "%s/flood.pcap", dir);
    char *gen[] = {(char *)tu_env("VIGIL_FLOODGEN"), pcap, "1000000", "200000", NULL};
    cr_assert_eq(tu_run(gen, NULL), 0);

    /* The baseline: the same settings on a small capture (rules, buffers, libraries). */
    char eve[4200];
    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    long long base = run_sensor(dir, tu_pcap("many-flows.pcap"));
    unlink(eve);
    long long peak = run_sensor(dir, pcap);
    unlink(pcap);

    struct tu_events ev = tu_read_eve(eve);
    json_t *st = tu_stats(&ev);
    cr_assert_not_null(st);
    long long pkts = tu_int(st, "stats.decoder.pkts");
    long long fev = tu_int(st, "stats.flow.memcap_evictions");
    long long fmem = tu_int(st, "stats.flow.memuse");
    long long dev = tu_int(st, "stats.defrag.evictions");
    long long dmem = tu_int(st, "stats.defrag.memuse");
    long long caps = (FLOW_MEMCAP + DEFRAG_MEMCAP + STREAM_MEMCAP * THREADS + FILES_MEMCAP) * MB;
    cr_log_info("flood: %lld packets, peak RSS %.1f MB (baseline %.1f MB, memcaps %.0f MB), flow "
                "evictions %lld, defrag evictions %lld",
                pkts, (double)peak / MB, (double)base / MB, (double)caps / MB, fev, dev);
    /* Packets kept flowing: every one was decoded; the caps were reached and held. */
    cr_expect_eq(pkts, 1200000);
    cr_expect_gt(fev, 500000, "flow.memcap_evictions %lld", fev);
    cr_expect_gt(dev, 100000, "defrag.evictions %lld", dev);
    cr_expect_leq(fmem, FLOW_MEMCAP * MB);
    cr_expect_leq(dmem, DEFRAG_MEMCAP * MB);
#if !defined(__SANITIZE_ADDRESS__)
    /* ASan's shadow memory and quarantine make RSS meaningless there. */
    cr_expect_leq(peak, base + caps, "peak RSS %lld > baseline %lld + memcaps %lld", peak, base,
                  caps);
#endif
    tu_events_free(&ev);
    tu_rmdir(dir);
    free(dir);
}
