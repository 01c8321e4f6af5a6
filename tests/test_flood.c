/* test_flood.c: 1M SYNs from random sources, a fragment flood and HTTP state hogs under small
 * memcaps. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pktgen.h"
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

/* ---- app-layer.memcap ---- */

#define HOG_SESSIONS 1000 /* HTTP requests whose headers never end */
#define HOG_ROUNDS 8      /* header chunks each sends, one round across all at a time */
#define HOG_CHUNK 4096
#define OK_SESSIONS 40 /* ordinary requests and responses among them */
#define APP_MEMCAP 4   /* MiB */

/* Writes the capture: HOG_SESSIONS open requests growing HOG_CHUNK bytes of header lines a
 * round, and OK_SESSIONS complete exchanges (GET /ok-N, 200) spread over the rounds. */
static void write_hog_pcap(const char *path)
{
    struct pg_writer *w = pg_open(path, 1, 0);
    cr_assert_not_null(w);
    static char cli[HOG_SESSIONS][20];
    static struct pg_tcp_session s[HOG_SESSIONS];
    uint64_t ts = 1700000000ULL * 1000000;
    for (int i = 0; i < HOG_SESSIONS; i++) {
        snprintf(cli[i], sizeof(cli[i]), "10.7.%d.%d", i / 250, i % 250 + 1);
        s[i] =
            (struct pg_tcp_session){cli[i], "10.0.0.80", (uint16_t)(20000 + i), 80, 1000, 5000, 0};
        pg_session_open(w, &s[i], &ts);
        static const char req[] = "GET /hog HTTP/1.1\r\nHost: portal.example\r\n";
        pg_session_data(w, &s[i], 1, req, sizeof(req) - 1, &ts);
    }
    char chunk[HOG_CHUNK + 1];              /* + the last line's NUL */
    for (int k = 0; k < HOG_CHUNK; k += 64) /* 64-byte header lines */
        snprintf(chunk + k, 65, "X-Pad-%04d: %-50.50s\r\n", k / 64, "aaaaaaaaaaaaaaaaaaaaaaaaaa");
    int ok = 0;
    for (int r = 0; r < HOG_ROUNDS; r++) {
        for (int i = 0; i < HOG_SESSIONS; i++) {
            pg_session_data(w, &s[i], 1, chunk, HOG_CHUNK, &ts);
            if (i % (HOG_SESSIONS / (OK_SESSIONS / HOG_ROUNDS)) != 0)
                continue;
            /* an ordinary exchange while the hogs hold their state */
            char ip[20], rq[128];
            snprintf(ip, sizeof(ip), "10.8.0.%d", ok + 1);
            struct pg_tcp_session o = {ip, "10.0.0.80", (uint16_t)(30000 + ok), 80, 1000, 5000, 0};
            int n =
                snprintf(rq, sizeof(rq), "GET /ok-%d HTTP/1.1\r\nHost: portal.example\r\n\r\n", ok);
            static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
            pg_session_open(w, &o, &ts);
            pg_session_data(w, &o, 1, rq, (size_t)n, &ts);
            pg_session_data(w, &o, 0, resp, sizeof(resp) - 1, &ts);
            pg_session_close(w, &o, &ts);
            ok++;
        }
    }
    cr_assert_eq(ok, OK_SESSIONS);
    pg_close(w);
}

/* Runs the sensor (one worker) on pcap into dir with app-layer.memcap=memcap; peak RSS. */
static long long run_app(const char *dir, const char *pcap, const char *memcap)
{
    char errpath[4200], set[64];
    snprintf(errpath, sizeof(errpath), "%s/stderr.txt", dir);
    snprintf(set, sizeof(set), "app-layer.memcap=%s", memcap);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (freopen(errpath, "w", stderr) == NULL)
            _exit(126);
        execl(tu_env("VIGIL_SENSOR"), "vigil-sensor", "-r", pcap, "-l", dir, "--threads", "1",
              "--no-progress", "--set", set, "--set", "outputs.eve.types.flow=no", (char *)NULL);
        _exit(127);
    }
    int st;
    struct rusage ru;
    cr_assert_eq(wait4(pid, &st, 0, &ru), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the sensor failed on %s", pcap);
    return (long long)ru.ru_maxrss * 1024;
}

Test(flood, app_layer_memcap_drops_the_hogs_and_keeps_the_rest, .timeout = 300)
{
    char *dir = tu_tmpdir();
    char pcap[4200], eve[4200];
    snprintf(pcap, sizeof(pcap), "%s/hogs.pcap", dir);
    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    write_hog_pcap(pcap);

    long long small = run_app(dir, pcap, "1mb");
    unlink(eve);
    long long open = run_app(dir, pcap, "0");
    struct tu_events ev0 = tu_read_eve(eve);
    unlink(eve);
    long long capped = run_app(dir, pcap, "4mb");
    struct tu_events ev = tu_read_eve(eve);

    /* Without a cap every hog keeps its headers: nothing dropped. */
    cr_expect_eq(tu_int(tu_stats(&ev0), "stats.app_layer.memcap_drops"), 0);
    cr_expect_eq(tu_count(&ev0, "anomaly", "anomaly.event", "app_layer.memcap"), 0);

    json_t *st = tu_stats(&ev);
    cr_assert_not_null(st);
    long long drops = tu_int(st, "stats.app_layer.memcap_drops");
    cr_log_info("app-layer memcap: %lld drops; peak RSS %.1f MB capped at %d MiB, %.1f MB at "
                "1 MiB, %.1f MB without a cap",
                drops, (double)capped / MB, APP_MEMCAP, (double)small / MB, (double)open / MB);
    /* 1000 hogs of 36 KiB and more against 4 MiB: most of them lose their state, each once,
     * each with its anomaly record. */
    cr_expect_gt(drops, HOG_SESSIONS / 2, "app_layer.memcap_drops %lld", drops);
    cr_expect_leq(drops, HOG_SESSIONS);
    cr_expect_eq((long long)tu_count(&ev, "anomaly", "anomaly.event", "app_layer.memcap"), drops);
    json_t *an = tu_find(&ev, "anomaly", "anomaly.event", "app_layer.memcap");
    cr_assert_not_null(an);
    cr_expect_str_eq(tu_str(an, "anomaly.type"), "applayer");
    cr_expect_str_eq(tu_str(an, "anomaly.layer"), "http");
    cr_expect_str_eq(tu_str(an, "dest_ip"), "10.0.0.80");
    /* A dropped hog's request is still logged once (flushed when its state went). */
    cr_expect_eq(tu_count(&ev, "http", "http.url", "/hog"), HOG_SESSIONS);
    cr_expect_eq(tu_count(&ev0, "http", "http.url", "/hog"), HOG_SESSIONS);
    /* Every ordinary exchange among them is logged whole, response included. */
    for (int i = 0; i < OK_SESSIONS; i++) {
        char url[32];
        snprintf(url, sizeof(url), "/ok-%d", i);
        json_t *h = tu_find(&ev, "http", "http.url", url);
        cr_expect_not_null(h, "no http record for %s", url);
        if (h != NULL)
            cr_expect_eq(tu_int(h, "http.status"), 200, "%s", url);
    }
    cr_expect_eq(tu_int(st, "stats.app_layer.memuse"), 0); /* all given back at the end */
#if !defined(__SANITIZE_ADDRESS__)
    /* Peak RSS follows the cap: 3 MiB more cap costs at most twice that (the cap's 1/8
     * margin and allocator slack), while without a cap the hogs' 64 KiB headers take 30 MiB
     * and more. (Compared between caps on the same capture, so that the flows, streams and
     * the batches a busy worker has queued cancel out.) */
    cr_expect_leq(capped - small, 2 * (APP_MEMCAP - 1) * MB,
                  "peak RSS %lld at 4 MiB, %lld at 1 MiB", capped, small);
    cr_expect_geq(open - capped, 30 * MB, "peak RSS %lld uncapped, %lld at 4 MiB", open, capped);
#endif
    tu_events_free(&ev0);
    tu_events_free(&ev);
    tu_rmdir(dir);
    free(dir);
}

/* One flow of each parsed protocol, whose state each loses at its first pass (a 1-byte cap). */
static void write_each_proto_pcap(const char *path)
{
    struct pg_writer *w = pg_open(path, 1, 0);
    cr_assert_not_null(w);
    uint64_t ts = 1700000000ULL * 1000000;
    struct pg_tcp_session h = {"10.9.0.1", "10.0.0.80", 40001, 80, 1000, 5000, 0};
    static const char req[] = "GET /one HTTP/1.1\r\nHost: portal.example\r\n\r\n";
    pg_session_open(w, &h, &ts);
    pg_session_data(w, &h, 1, req, sizeof(req) - 1, &ts);
    pg_session_close(w, &h, &ts);

    /* a TLS 1.2 ClientHello with server_name portal.example */
    static const uint8_t hello[] = {
        0x16, 0x03, 0x01, 0x00, 0x48, 0x01, 0x00, 0x00, 0x44, 0x03, 0x03, 1,    2,
        3,    4,    5,    6,    7,    8,    9,    10,   11,   12,   13,   14,   15,
        16,   17,   18,   19,   20,   21,   22,   23,   24,   25,   26,   27,   28,
        29,   30,   31,   32,   0x00, 0x00, 0x02, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x19,
        0x00, 0x00, 0x00, 0x15, 0x00, 0x13, 0x00, 0x00, 0x10, 'p',  'o',  'r',  't',
        'a',  'l',  '.',  'e',  'x',  'a',  'm',  'p',  'l',  'e',  '.',  'x'};
    struct pg_tcp_session t = {"10.9.0.2", "10.0.0.80", 40002, 443, 1000, 5000, 0};
    pg_session_open(w, &t, &ts);
    pg_session_data(w, &t, 1, hello, sizeof(hello), &ts);
    pg_session_close(w, &t, &ts);

    struct pg_tcp_session m = {"10.9.0.3", "10.0.0.25", 40003, 25, 1000, 5000, 0};
    static const char banner[] = "220 mail.example ESMTP\r\n";
    static const char ehlo[] = "EHLO client.example\r\n";
    static const char from[] = "MAIL FROM:<a@example.org>\r\n";
    pg_session_open(w, &m, &ts);
    pg_session_data(w, &m, 0, banner, sizeof(banner) - 1, &ts);
    pg_session_data(w, &m, 1, ehlo, sizeof(ehlo) - 1, &ts);
    pg_session_data(w, &m, 1, from, sizeof(from) - 1, &ts);
    pg_session_close(w, &m, &ts);

    /* a DNS query for portal.example A over UDP */
    static const uint8_t q[] = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
                                0x00, 6,    'p',  'o',  'r',  't',  'a',  'l',  7,    'e',  'x',
                                'a',  'm',  'p',  'l',  'e',  0,    0x00, 0x01, 0x00, 0x01};
    struct pg g;
    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.9.0.4", "10.0.0.53", 17, 1, 0);
    pg_udp(&g, 40004, 53);
    pg_bytes(&g, q, sizeof(q));
    pg_finish(&g);
    pg_write(w, ts, &g);
    pg_close(w);
}

Test(flood, app_layer_memcap_drops_each_protocol_cleanly, .timeout = 60)
{
    char *dir = tu_tmpdir();
    char pcap[4200];
    snprintf(pcap, sizeof(pcap), "%s/each.pcap", dir);
    write_each_proto_pcap(pcap);
    struct tu_events ev;
    char *out = NULL;
    int rc = tu_sensor(dir, &ev, &out, "-r", pcap, "--set", "app-layer.memcap=1", NULL);
    cr_assert_eq(rc, 0, "%s", out);
    json_t *st = tu_stats(&ev);
    cr_assert_not_null(st);
    cr_expect_eq(tu_int(st, "stats.app_layer.memcap_drops"), 4);
    cr_expect_eq(tu_int(st, "stats.app_layer.memuse"), 0);
    static const char *const protos[] = {"http", "tls", "smtp", "dns"};
    /* What a flow had when its state went is still logged, once; the SMTP flow lost its state
     * at the server's banner, before any mail, so it has none. */
    static const size_t records[] = {1, 1, 0, 1};
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(tu_count(&ev, "anomaly", "anomaly.layer", protos[i]), 1, "%s", protos[i]);
        cr_expect_eq(tu_count(&ev, protos[i], NULL, NULL), records[i], "%s records", protos[i]);
        cr_expect_eq(tu_count(&ev, "flow", "app_proto", protos[i]), 1, "%s flow", protos[i]);
    }
    cr_expect_str_eq(tu_str(tu_find(&ev, "http", NULL, NULL), "http.url"), "/one");
    cr_expect_str_eq(tu_str(tu_find(&ev, "tls", NULL, NULL), "tls.sni"), "portal.example.x");
    cr_expect_str_eq(tu_str(tu_find(&ev, "dns", NULL, NULL), "dns.rrname"), "portal.example");
    free(out);
    tu_events_free(&ev);
    tu_rmdir(dir);
    free(dir);
}

/*
 * SIGTERM while the sensor waits on a capture read from a pipe (`tcpdump -w - | vigil-sensor
 * -r -`): it stops at once, ends its flows as shutdown and writes the final stats last.
 */
Test(flood, sigterm_stops_a_blocked_pipe_read, .timeout = 60)
{
    char *dir = tu_tmpdir();
    char fifo[4200], eve[4200];
    snprintf(fifo, sizeof(fifo), "%s/capture.fifo", dir);
    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    pid_t writer = fork();
    cr_assert_neq(writer, -1);
    if (writer == 0) { /* the whole capture, then the pipe stays open */
        FILE *in = fopen(tu_pcap("tcp-sessions.pcap"), "rb");
        FILE *out = fopen(fifo, "wb");
        if (in == NULL || out == NULL)
            _exit(1);
        char buf[8192];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
            fwrite(buf, 1, n, out);
        fflush(out);
        sleep(30);
        _exit(0);
    }
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(126);
        execl(tu_env("VIGIL_SENSOR"), "vigil-sensor", "-r", fifo, "-l", dir, "--no-progress",
              (char *)NULL);
        _exit(127);
    }
    /* wait until the capture has been read: its five flows are in the table */
    usleep(1500 * 1000);
    cr_assert_eq(kill(pid, SIGTERM), 0);
    int st = 0, waited = 0;
    pid_t r;
    while ((r = waitpid(pid, &st, WNOHANG)) == 0 && waited < 100) {
        usleep(50 * 1000);
        waited++;
    }
    kill(writer, SIGKILL);
    waitpid(writer, NULL, 0);
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    cr_assert_eq(r, pid, "the sensor did not stop within 5 s of SIGTERM");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    struct tu_events ev = tu_read_eve(eve);
    cr_assert_gt(ev.n, 0);
    cr_expect_str_eq(tu_str(ev.ev[ev.n - 1], "event_type"), "stats");
    cr_expect_eq(tu_count(&ev, "flow", "flow.reason", "shutdown"), 5);
    cr_expect_eq(tu_count(&ev, "flow", NULL, NULL), 5);
    tu_events_free(&ev);
    tu_rmdir(dir);
    free(dir);
}
