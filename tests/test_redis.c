/* test_redis.c: EVE to a Redis stream against a private redis-server: order, outage spool,
 * overflow. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pktgen.h"
#include "testutil.h"
#include "vigil/common.h"
#include "vigil/eve-redis.h"

#define T0 1714521600000000ULL

/* The private redis-server and temporary directory of the running test, for the teardown. */
static pid_t g_redis = -1;
static char *g_dir;

static void teardown(void)
{
    if (g_redis > 0) {
        kill(g_redis, SIGKILL);
        waitpid(g_redis, NULL, 0);
        g_redis = -1;
    }
    if (g_dir != NULL) {
        char cmd[4200];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "test_redis: could not remove %s\n", g_dir);
        free(g_dir);
        g_dir = NULL;
    }
}

/* No .timeout: Criterion 2.4's timeout leaks under ASan; every wait here is bounded instead
 * (redis start 5 s, FIFO open and WAIT_FOR 15 s, the sensor's drain-timeout 5 s). */
TestSuite(redis, .fini = teardown);

/* Starts redis-server on port with its files in g_dir/redis; waits until it answers. */
static void redis_start(int port)
{
    g_redis = tu_redis_start(g_dir, port, 0);
}

static void redis_kill(void)
{
    tu_redis_kill(g_redis);
    g_redis = -1;
}

/* The "eve" values of stream key in db, oldest first. */
struct entries {
    char **v;
    size_t n;
};

static struct entries stream_read(int port, unsigned db, const char *key)
{
    struct entries e = {NULL, 0};
    redisContext *c = tu_redis_connect(port);
    cr_assert_not_null(c);
    redisReply *r = redisCommand(c, "SELECT %u", db);
    freeReplyObject(r);
    r = redisCommand(c, "XRANGE %s - +", key);
    cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY);
    e.v = calloc(r->elements + 1, sizeof(*e.v));
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *fields = r->element[i]->element[1];
        cr_assert_eq(fields->elements, 2, "one field per entry");
        cr_assert_str_eq(fields->element[0]->str, "eve");
        e.v[e.n++] = strdup(fields->element[1]->str);
    }
    freeReplyObject(r);
    redisFree(c);
    return e;
}

static long long stream_len(int port, const char *key)
{
    redisContext *c = tu_redis_connect(port);
    if (c == NULL)
        return -1;
    redisReply *r = redisCommand(c, "XLEN %s", key);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    redisFree(c);
    return n;
}

static void entries_free(struct entries *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
}

/* The lines of a file, newlines removed. */
static struct entries file_lines(const char *path)
{
    struct entries e = {NULL, 0};
    size_t cap = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return e;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    while ((n = getline(&line, &lcap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        if (e.n == cap)
            e.v = realloc(e.v, (cap = cap ? cap * 2 : 64) * sizeof(*e.v));
        e.v[e.n++] = strdup(line);
    }
    free(line);
    fclose(f);
    return e;
}

/* The shipper's summary line on the sensor's stderr. */
struct summary {
    unsigned long long sent, replayed, spooled, dropped, errors, left;
};

static struct summary parse_summary(const char *out)
{
    struct summary s;
    const char *p = strstr(out, " records sent to ");
    cr_assert_not_null(p, "no eve-redis summary in:\n%s", out);
    while (p > out && p[-1] != ' ')
        p--;
    char stream[256], host[256];
    int n = sscanf(p,
                   "%llu records sent to %255s at %255s (%llu replayed from the spool), %llu "
                   "spooled, %llu dropped, %llu errors; %llu bytes left",
                   &s.sent, stream, host, &s.replayed, &s.spooled, &s.dropped, &s.errors, &s.left);
    cr_assert_eq(n, 8, "unparsable summary: %.200s", p);
    return s;
}

/* Bytes in the spool segments of dir. */
static long long spool_size(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    long long total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".spool") == NULL)
            continue;
        char path[4400];
        struct stat sb;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &sb) == 0)
            total += sb.st_size;
    }
    closedir(d);
    return total;
}

static void assert_same(const struct entries *got, size_t from, const struct entries *want,
                        size_t wfrom, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(got->v[from + i], want->v[wfrom + i], "%s: record %zu differs", what, i);
}

Test(redis, url_and_config_keys)
{
    char err[VG_ERRBUF_SIZE];
    struct eve_redis_config c;
    eve_redis_config_init(&c);
    cr_assert_eq(
        eve_redis_parse_url(&c, "redis://10.1.2.3:6380/4?stream=city:eve&maxlen=5000", err), 0,
        "%s", err);
    cr_assert_str_eq(c.host, "10.1.2.3");
    cr_assert_eq(c.port, 6380);
    cr_assert_eq(c.db, 4);
    cr_assert_str_eq(c.stream, "city:eve");
    cr_assert_eq(c.maxlen, 5000);
    eve_redis_config_init(&c);
    cr_assert_eq(eve_redis_parse_url(&c, "redis://:s3cret@[::1]", err), 0, "%s", err);
    cr_assert_str_eq(c.host, "::1");
    cr_assert_str_eq(c.password, "s3cret");
    cr_assert_eq(c.port, 6379);
    cr_assert_str_eq(c.stream, "vigil:eve");
    static const char *const bad[] = {
        "http://x",          "redis://h:0",         "redis://h:99999",
        "redis://h/x",       "redis://h?color=red", "redis://h?stream=",
        "redis://h?batch=0", "redis://[::1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        eve_redis_config_init(&c);
        err[0] = '\0';
        cr_assert_eq(eve_redis_parse_url(&c, bad[i], err), -1, "%s accepted", bad[i]);
        cr_assert_neq(err[0], '\0');
    }

    struct config *cfg = config_new();
    cr_assert_eq(config_load_string(cfg,
                                    "outputs:\n  eve:\n    redis:\n      enabled: yes\n"
                                    "      server: redis://h:7000/1?stream=s2\n"
                                    "      stream: s1\n      maxlen: 77\n      batch: 9\n"
                                    "      spool-max: 1mb\n",
                                    "t", err),
                 0, "%s", err);
    int on = 0;
    cr_assert_eq(eve_redis_config_load(&c, &on, cfg, "/var/log/vigil", err), 0, "%s", err);
    cr_assert_eq(on, 1);
    cr_assert_str_eq(c.stream, "s2", "the URL's query wins");
    cr_assert_eq(c.port, 7000);
    cr_assert_eq(c.maxlen, 77);
    cr_assert_eq(c.batch, 9);
    cr_assert_eq(c.spool_max, 1 << 20);
    cr_assert_str_eq(c.spool_dir, "/var/log/vigil/eve-redis-spool");
    cr_assert_eq(config_set(cfg, "outputs.eve.redis.batch", "0", err), 0);
    cr_assert_eq(eve_redis_config_load(&c, &on, cfg, ".", err), -1);
    config_free(cfg);
}

/* Every record of a run reaches the stream, in the file's order, with the sensor's name. */
Test(redis, stream_equals_eve_file)
{
    tu_need_redis();
    g_dir = tu_tmpdir();
    int port = tu_free_port();
    redis_start(port);
    char url[256], rules[4200], out1[4200], eve[4300];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/2?stream=vigil:eve&batch=7", port);
    snprintf(rules, sizeof(rules), "%s/rules/vigil.rules", tu_env("VIGIL_SOURCE_DIR"));
    snprintf(out1, sizeof(out1), "%s/one", g_dir);
    char *output;
    int rc = tu_sensor(out1, NULL, &output, "-r", tu_pcap("attack-chain.pcap"), "-S", rules,
                       "--set", "detect.cache-dir=none", "--set", "sensor-name=dc-tap-1",
                       "--eve-redis", url, (char *)NULL);
    cr_assert_eq(rc, 0, "%s", output);
    snprintf(eve, sizeof(eve), "%s/eve.json", out1);
    struct entries want = file_lines(eve);
    struct entries got = stream_read(port, 2, "vigil:eve");
    cr_assert_gt(want.n, 50);
    cr_assert_eq(got.n, want.n, "stream has %zu records, eve.json %zu", got.n, want.n);
    assert_same(&got, 0, &want, 0, want.n, "stream vs eve.json");
    size_t alerts = 0;
    for (size_t i = 0; i < got.n; i++) {
        json_t *o = json_loads(got.v[i], 0, NULL);
        cr_assert_not_null(o);
        cr_assert_str_eq(tu_str(o, "sensor"), "dc-tap-1");
        alerts += strcmp(tu_str(o, "event_type"), "alert") == 0;
        json_decref(o);
    }
    cr_assert_gt(alerts, 0);
    struct summary s = parse_summary(output);
    cr_assert_eq(s.sent, want.n);
    cr_assert_eq(s.dropped + s.spooled + s.left, 0);
    struct tu_events ev = tu_read_eve(eve);
    json_t *st = tu_stats(&ev);
    cr_assert_not_null(st);
    cr_assert_eq(tu_int(st, "stats.eve.redis.connected"), 1);
    cr_assert_eq(tu_int(st, "stats.eve.redis.dropped"), 0);
    cr_assert_geq(tu_int(st, "stats.eve.redis.sent"), 1);
    tu_events_free(&ev);
    entries_free(&want);
    entries_free(&got);
    free(output);

    /* Without sensor-name the hostname is used; MAXLEN ~ caps the stream. */
    char out2[4200], host[256] = "";
    snprintf(out2, sizeof(out2), "%s/two", g_dir);
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d?stream=capped&maxlen=100", port);
    rc = tu_sensor(out2, &ev, &output, "-r", tu_pcap("many-flows.pcap"), "--eve-redis", url,
                   (char *)NULL);
    cr_assert_eq(rc, 0, "%s", output);
    gethostname(host, sizeof(host) - 1);
    cr_assert_str_eq(tu_str(ev.ev[0], "sensor"), host);
    long long xlen = stream_len(port, "capped");
    cr_assert_gt(ev.n, 1000);
    cr_assert(xlen >= 100 && xlen <= 300, "MAXLEN ~ 100 left %lld of %zu entries", xlen, ev.n);
    cr_assert_eq(parse_summary(output).sent, ev.n);
    tu_events_free(&ev);
    free(output);
}

static void send_udp(struct pg_writer *w, uint64_t ts, unsigned i)
{
    struct pg g;
    char src[32];
    snprintf(src, sizeof(src), "10.0.%u.%u", i / 250, 1 + i % 250);
    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, src, "10.9.9.9", 17, 1, 0);
    pg_udp(&g, 1234, 5678);
    pg_bytes(&g, "AAAA BBBB", 9);
    pg_finish(&g);
    pg_write(w, ts, &g);
    pg_flush(w);
}

/* Waits up to 15 s for cond. */
#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        for (int tries_ = 0; !(cond) && tries_ < 750; tries_++)                                    \
            usleep(20000);                                                                         \
        cr_assert(cond, "timed out waiting for " #cond);                                           \
    } while (0)

static size_t nlines(const char *path)
{
    struct entries e = file_lines(path);
    size_t n = e.n;
    entries_free(&e);
    return n;
}

/* Redis dies under a running sensor and comes back: the spooled records follow, in order. */
Test(redis, outage_spools_then_replays_in_order)
{
    tu_need_redis();
    signal(SIGPIPE, SIG_IGN);
    g_dir = tu_tmpdir();
    int port = tu_free_port();
    redis_start(port);
    char rules[4200], fifo[4200], eve[4200], err[4200], spool[4200], url[128], sset[4300];
    snprintf(rules, sizeof(rules), "%s/r.rules", g_dir);
    snprintf(fifo, sizeof(fifo), "%s/in.pcap", g_dir);
    snprintf(eve, sizeof(eve), "%s/eve.json", g_dir);
    snprintf(err, sizeof(err), "%s/stderr.txt", g_dir);
    snprintf(spool, sizeof(spool), "%s/spool", g_dir);
    snprintf(sset, sizeof(sset), "outputs.eve.redis.spool-dir=%s", spool);
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d?stream=s", port);
    FILE *rf = fopen(rules, "w");
    fputs("alert udp any any -> any any (msg:\"A\"; content:\"AAAA\"; sid:1;)\n", rf);
    fclose(rf);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        tu_close_inherited();
        execl(tu_env("VIGIL_SENSOR"), "vigil-sensor", "-r", fifo, "-S", rules, "-l", g_dir, "--set",
              "detect.cache-dir=none", "--set", sset, "--set", "sensor-name=mail-gw", "--threads",
              "2", "--eve-redis", url, (char *)NULL);
        _exit(127);
    }
    /* Wait for the sensor to open the FIFO (a blocking open would hang if it died first). */
    int probe = -1;
    for (int tries = 0; probe < 0 && tries < 1500; tries++) {
        probe = open(fifo, O_WRONLY | O_NONBLOCK);
        if (probe < 0 && waitpid(pid, NULL, WNOHANG) == pid)
            cr_assert_fail("the sensor died at start (see %s)", err);
        if (probe < 0)
            usleep(10000);
    }
    cr_assert_geq(probe, 0, "the sensor never opened its input");
    struct pg_writer *w = pg_open(fifo, 1 /* DLT_EN10MB */, 0);
    close(probe);
    cr_assert_not_null(w);
    uint64_t ts = T0;
    unsigned i = 0;
    /* Phase one: Redis up; wait until the stream has everything written so far. */
    for (; i < 20; i++)
        send_udp(w, ts += 2000000, i);
    WAIT_FOR(nlines(eve) >= 20 && stream_len(port, "s") == (long long)nlines(eve));
    struct entries before = stream_read(port, 0, "s");

    /* Phase two: Redis is killed; records pile up in the spool. */
    redis_kill();
    for (; i < 40; i++)
        send_udp(w, ts += 2000000, i);
    WAIT_FOR(nlines(eve) >= 40 && spool_size(spool) > 0);

    /* Phase three: a fresh Redis on the same port; more traffic while the spool drains. */
    redis_start(port);
    for (; i < 60; i++)
        send_udp(w, ts += 2000000, i);
    pg_close(w);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the sensor exited badly");

    struct entries want = file_lines(eve);
    struct entries after = stream_read(port, 0, "s");
    cr_assert_eq(before.n + after.n, want.n, "%zu + %zu records in the streams, %zu in eve.json",
                 before.n, after.n, want.n);
    assert_same(&before, 0, &want, 0, before.n, "before the outage");
    assert_same(&after, 0, &want, before.n, after.n, "after the outage");
    char *out = NULL;
    char *argv[] = {"/bin/cat", err, NULL};
    tu_run(argv, &out);
    struct summary s = parse_summary(out);
    cr_assert_eq(s.sent + s.dropped, want.n, "sent %llu + dropped %llu != %zu produced", s.sent,
                 s.dropped, want.n);
    cr_assert_eq(s.dropped, 0);
    cr_assert_gt(s.spooled, 0);
    cr_assert_eq(s.replayed, s.spooled, "everything spooled was replayed");
    cr_assert_eq(s.left, 0);
    cr_assert_eq(spool_size(spool), 0, "spool segments are deleted once sent");
    cr_assert_not_null(strstr(out, "spooling records in"), "%s", out);
    free(out);
    entries_free(&before);
    entries_free(&after);
    entries_free(&want);
}

/* With Redis away the spool fills up to spool-max, the rest is counted, and the next run
 * sends the spooled records first. */
Test(redis, spool_overflow_counted_and_replayed_next_run)
{
    tu_need_redis();
    g_dir = tu_tmpdir();
    int port = tu_free_port(); /* nothing listens there yet */
    char url[128], out1[4200], out2[4200], spool[4200], sset[4300], eve[4300];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d?stream=s", port);
    snprintf(out1, sizeof(out1), "%s/one", g_dir);
    snprintf(out2, sizeof(out2), "%s/two", g_dir);
    snprintf(spool, sizeof(spool), "%s/spool", g_dir);
    snprintf(sset, sizeof(sset), "outputs.eve.redis.spool-dir=%s", spool);
    char *output;
    int rc = tu_sensor(out1, NULL, &output, "-r", tu_pcap("attack-chain.pcap"), "--eve-redis", url,
                       "--set", sset, "--set", "outputs.eve.redis.spool-max=16kb", "--set",
                       "outputs.eve.redis.drain-timeout=500", (char *)NULL);
    cr_assert_eq(rc, 0, "%s", output);
    snprintf(eve, sizeof(eve), "%s/eve.json", out1);
    struct entries first = file_lines(eve);
    struct summary s = parse_summary(output);
    cr_assert_eq(s.sent, 0);
    cr_assert_gt(s.spooled, 0);
    cr_assert_gt(s.dropped, 0, "16 KiB cannot hold the run");
    cr_assert_eq(s.spooled + s.dropped, first.n, "spooled %llu + dropped %llu != %zu produced",
                 s.spooled, s.dropped, first.n);
    cr_assert_leq(spool_size(spool), 16 * 1024);
    cr_assert_eq((unsigned long long)spool_size(spool), s.left);
    cr_assert_not_null(strstr(output, "the spool is full"), "%s", output);
    free(output);

    /* Redis is up for the next run: the spooled prefix arrives first, then the new records. */
    redis_start(port);
    rc = tu_sensor(out2, NULL, &output, "-r", tu_pcap("udp-icmp.pcap"), "--eve-redis", url, "--set",
                   sset, (char *)NULL);
    cr_assert_eq(rc, 0, "%s", output);
    snprintf(eve, sizeof(eve), "%s/eve.json", out2);
    struct entries second = file_lines(eve);
    struct entries got = stream_read(port, 0, "s");
    cr_assert_eq(got.n, s.spooled + second.n);
    assert_same(&got, 0, &first, 0, s.spooled, "the spooled prefix");
    assert_same(&got, s.spooled, &second, 0, second.n, "the second run");
    cr_assert_eq(parse_summary(output).left, 0);
    cr_assert_eq(spool_size(spool), 0);
    free(output);
    entries_free(&first);
    entries_free(&second);
    entries_free(&got);
}
