/* test_triage_redis.c: vigil-triage ingest --redis and status against a private redis-server:
 * two sensors and two consumers, kill -9 and XAUTOCLAIM, lag and pending, reconnection. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* The running test's redis-server, consumer in the background and directory, for the teardown. */
static pid_t g_redis = -1, g_bg = -1;
static char *g_dir;
static int g_port;
static char g_url[128], g_db[4200];

static void teardown(void)
{
    if (g_bg > 0) {
        kill(g_bg, SIGKILL);
        waitpid(g_bg, NULL, 0);
        g_bg = -1;
    }
    tu_redis_kill(g_redis);
    g_redis = -1;
    if (g_dir != NULL) {
        char cmd[4200];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "test_triage_redis: could not remove %s\n", g_dir);
        free(g_dir);
        g_dir = NULL;
    }
}

/* No .timeout (Criterion 2.4's leaks under ASan): every wait here is bounded instead. */
TestSuite(triage_redis, .fini = teardown);

/* A private redis-server (aof: survives a restart), a database path and the stream's URL. */
static void setup_env(int aof)
{
    tu_need_redis();
    signal(SIGPIPE, SIG_IGN);
    g_dir = tu_tmpdir();
    g_port = tu_free_port();
    g_redis = tu_redis_start(g_dir, g_port, aof);
    snprintf(g_url, sizeof(g_url), "redis://127.0.0.1:%d/0?stream=vigil:eve", g_port);
    snprintf(g_db, sizeof(g_db), "%s/soc.db", g_dir);
}

static const char *triage_bin(void)
{
    static char bin[4200];
    snprintf(bin, sizeof(bin), "%s/vigil-triage", tu_env("VIGIL_BUILD_DIR"));
    return bin;
}

/* Runs vigil-triage --db g_db with the arguments (NULL-terminated); *out gets its output. */
static int triage(char **out, ...)
{
    char *argv[40];
    int n = 0;
    argv[n++] = (char *)triage_bin();
    argv[n++] = "--db";
    argv[n++] = g_db;
    va_list ap;
    va_start(ap, out);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && n < 39)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return tu_run(argv, out);
}

/*
 * Starts "vigil-triage --db g_db ingest --redis g_url --consumer name --count count" in the
 * background with the test hook hook=1 (NULL: none), its stdout and stderr in g_dir/name.out
 * and g_dir/name.err. Returns its pid (also in g_bg).
 */
static pid_t start_consumer(const char *name, const char *count, const char *hook)
{
    char out[4300], err[4300];
    snprintf(out, sizeof(out), "%s/%s.out", g_dir, name);
    snprintf(err, sizeof(err), "%s/%s.err", g_dir, name);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        tu_close_inherited();
        if (hook != NULL)
            setenv(hook, "1", 1);
        execl(triage_bin(), "vigil-triage", "--db", g_db, "ingest", "--redis", g_url, "--consumer",
              name, "--count", count, "--block", "100", (char *)NULL);
        _exit(127);
    }
    g_bg = pid;
    return pid;
}

/* The contents of g_dir/name ("" if missing), malloc'd. */
static char *slurp(const char *name)
{
    char path[4300];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 1 << 16);
    if (f != NULL) {
        size_t n = fread(buf, 1, (1 << 16) - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

static int file_has(const char *name, const char *text)
{
    char *s = slurp(name);
    int yes = strstr(s, text) != NULL;
    free(s);
    return yes;
}

/* Waits up to 15 s for cond. */
#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        for (int tries_ = 0; !(cond) && tries_ < 750; tries_++)                                    \
            usleep(20000);                                                                         \
        cr_assert(cond, "timed out waiting for " #cond);                                           \
    } while (0)

/* Stops the background consumer with SIGTERM; returns its exit status. */
static int stop_consumer(pid_t pid)
{
    int status;
    kill(pid, SIGTERM);
    for (int i = 0; i < 750 && waitpid(pid, &status, WNOHANG) == 0; i++)
        usleep(20000);
    if (waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        cr_assert_fail("the consumer did not stop on SIGTERM");
    }
    g_bg = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void kill9(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    g_bg = -1;
}

/* A consumer's summary lines. */
struct run {
    long long entries, claimed, redelivered, acked, batches, malformed, trimmed, reconnects;
    long long records, events, alerts, dups, skipped, bad;
};

static struct run parse_run(const char *out)
{
    struct run r;
    const char *p = strstr(out, ": entries ");
    cr_assert_not_null(p, "no consumer summary in:\n%s", out);
    cr_assert_eq(sscanf(p,
                        ": entries %lld (claimed %lld, redelivered %lld), acked %lld, batches "
                        "%lld, malformed %lld, trimmed %lld, reconnects %lld",
                        &r.entries, &r.claimed, &r.redelivered, &r.acked, &r.batches, &r.malformed,
                        &r.trimmed, &r.reconnects),
                 8, "unparsable: %s", p);
    p = strstr(out, "records ");
    cr_assert_not_null(p, "%s", out);
    cr_assert_eq(sscanf(p,
                        "records %lld, new events %lld (alerts %lld), duplicates %lld, skipped "
                        "%lld, bad %lld",
                        &r.records, &r.events, &r.alerts, &r.dups, &r.skipped, &r.bad),
                 6, "unparsable: %s", p);
    return r;
}

static long long q(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    long long v = -1;
    cr_assert_eq(sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* 0 until the database exists with its schema, then the number of events. */
static long long db_events(void)
{
    struct stat sb;
    if (stat(g_db, &sb) != 0)
        return 0;
    sqlite3 *db;
    sqlite3_stmt *s;
    long long v = 0;
    if (sqlite3_open_v2(g_db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return 0;
    }
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM events", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static long long redis_int(const char *cmd)
{
    redisContext *c = tu_redis_connect(g_port);
    cr_assert_not_null(c);
    redisReply *r = redisCommand(c, cmd);
    cr_assert(r != NULL && r->type == REDIS_REPLY_INTEGER, "%s", cmd);
    long long v = r->integer;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

/* The group's pending count (XPENDING summary). */
static long long pending(void)
{
    redisContext *c = tu_redis_connect(g_port);
    cr_assert_not_null(c);
    redisReply *r = redisCommand(c, "XPENDING vigil:eve triage");
    cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 4);
    long long v = r->element[0]->integer;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

/* Runs a sensor on attack-chain.pcap as name, feeding g_url; returns its eve.json's events. */
static struct tu_events run_sensor(const char *name)
{
    char out[4300], sset[300], rules[4200];
    snprintf(out, sizeof(out), "%s/%s", g_dir, name);
    snprintf(sset, sizeof(sset), "sensor-name=%s", name);
    snprintf(rules, sizeof(rules), "%s/rules/vigil.rules", tu_env("VIGIL_SOURCE_DIR"));
    struct tu_events ev;
    char *output;
    int rc = tu_sensor(out, &ev, &output, "-r", tu_pcap("attack-chain.pcap"), "-S", rules, "--set",
                       "detect.cache-dir=none", "--set", sset, "--eve-redis", g_url, (char *)NULL);
    cr_assert_eq(rc, 0, "%s", output);
    cr_assert_not_null(strstr(output, " 0 dropped"), "%s", output);
    free(output);
    return ev;
}

/* Events of ev the store keeps (everything but stats records, for this capture). */
static long long kept(const struct tu_events *ev)
{
    return (long long)(ev->n - tu_count(ev, "stats", NULL, NULL));
}

/* Ingesting the sensors' eve.json files again adds nothing: every record is already stored. */
static void assert_files_already_in(const char *const *names, size_t n, long long want_dups)
{
    long long dups = 0;
    for (size_t i = 0; i < n; i++) {
        char eve[4300], *out;
        snprintf(eve, sizeof(eve), "%s/%s/eve.json", g_dir, names[i]);
        cr_assert_eq(triage(&out, "ingest", eve, (char *)NULL), 0, "%s", out);
        long long lines, events;
        const char *p = strstr(out, "lines ");
        cr_assert_not_null(p, "%s", out);
        long long d;
        cr_assert_eq(sscanf(p, "lines %lld, new events %lld (alerts %*d), duplicates %lld", &lines,
                            &events, &d),
                     3, "%s", p);
        cr_assert_eq(events, 0, "%s/eve.json has %lld records the stream did not deliver", names[i],
                     events);
        dups += d;
        free(out);
    }
    cr_assert_eq(dups, want_dups);
}

/* Two sensors feed one stream; two consumers of one group share it; every alert is stored once
 * and attributed, and incidents join alerts of both sensors. */
Test(triage_redis, two_sensors_two_consumers_exactly_once)
{
    setup_env(0);
    struct tu_events e1 = run_sensor("dc-tap-1"), e2 = run_sensor("metronet");
    long long alerts1 = (long long)tu_count(&e1, "alert", NULL, NULL);
    long long alerts2 = (long long)tu_count(&e2, "alert", NULL, NULL);
    long long total = (long long)(e1.n + e2.n);
    cr_assert_gt(alerts1, 5);
    cr_assert_eq(alerts1, alerts2);
    cr_assert_eq(redis_int("XLEN vigil:eve"), total);

    /* Consumer a takes one batch of 40 and holds it; b, started meanwhile, drains the rest. */
    pid_t a = start_consumer("a", "40", "VIGIL_TRIAGE_TEST_STALL_AFTER_READ");
    WAIT_FOR(file_has("a.err", "stalled after reading batch 1 (40 entries)"));
    char *out;
    cr_assert_eq(triage(&out, "ingest", "--redis", g_url, "--consumer", "b", "--count", "25",
                        "--once", (char *)NULL),
                 0, "%s", out);
    struct run b = parse_run(out);
    free(out);
    cr_assert_eq(b.entries, total - 40, "b took %lld of %lld", b.entries, total);
    cr_assert_eq(b.acked, b.entries);
    cr_assert_eq(b.claimed, 0, "a's entries are not idle long enough to be claimed");
    cr_assert_eq(pending(), 40);

    /* SIGTERM: a finishes its batch, commits, acknowledges, and stops. */
    cr_assert_eq(stop_consumer(a), 0);
    char *aout = slurp("a.out");
    struct run ra = parse_run(aout);
    free(aout);
    cr_assert_eq(ra.entries, 40);
    cr_assert_eq(ra.acked, 40);
    cr_assert_eq(ra.records + b.records, total);
    cr_assert_eq(ra.dups + b.dups, 0);
    cr_assert_eq(pending(), 0);

    cr_assert_eq(q("SELECT COUNT(*) FROM events WHERE event_type='alert'"), alerts1 + alerts2);
    cr_assert_eq(q("SELECT COUNT(*) FROM events WHERE event_type='alert' AND sensor='dc-tap-1'"),
                 alerts1);
    cr_assert_eq(q("SELECT COUNT(*) FROM events WHERE event_type='alert' AND sensor='metronet'"),
                 alerts2);
    cr_assert_eq(q("SELECT COUNT(*) FROM events"), kept(&e1) + kept(&e2));
    cr_assert_eq(q("SELECT COUNT(*) FROM events WHERE sensor NOT IN ('dc-tap-1','metronet')"), 0);
    cr_assert_eq(q("SELECT COUNT(*) FROM events WHERE event_type='alert' AND pending=1"), 0);
    cr_assert_eq(q("SELECT COUNT(*) FROM events WHERE event_type='alert' AND incident_id IS NULL"
                   " AND suppressed=0"),
                 0);
    /* every incident holds the same alerts from both sensors: they saw the same traffic */
    long long incidents = q("SELECT COUNT(*) FROM incidents WHERE merged_into IS NULL");
    cr_assert_gt(incidents, 0);
    cr_assert_eq(q("SELECT COUNT(*) FROM incidents i WHERE merged_into IS NULL AND"
                   " (SELECT COUNT(DISTINCT sensor) FROM events e WHERE e.incident_id=i.id)=2"),
                 incidents);
    const char *names[] = {"dc-tap-1", "metronet"};
    assert_files_already_in(names, 2, kept(&e1) + kept(&e2));
    tu_events_free(&e1);
    tu_events_free(&e2);
}

/* A consumer killed with kill -9 at a point of its batch; another claims and finishes it. */
static void kill_and_claim(const char *hook, int committed)
{
    setup_env(0);
    struct tu_events ev = run_sensor("mail-gw");
    long long total = (long long)ev.n, alerts = (long long)tu_count(&ev, "alert", NULL, NULL);
    pid_t a = start_consumer("a", "30", hook);
    WAIT_FOR(file_has("a.err", "stalled"));
    long long stored = db_events();
    if (committed)
        cr_assert_gt(stored, 0, "a committed its batch before the stall");
    else
        cr_assert_eq(stored, 0, "a stalled before storing anything");
    kill9(a);
    cr_assert_eq(pending(), 30, "a's batch stays pending after kill -9");

    /* b claims what a held once it has been idle for --claim-idle, and drains the rest. */
    usleep(400000);
    char *out;
    cr_assert_eq(triage(&out, "ingest", "--redis", g_url, "--consumer", "b", "--claim-idle", "300",
                        "--once", (char *)NULL),
                 0, "%s", out);
    struct run b = parse_run(out);
    free(out);
    cr_assert_eq(b.claimed, 30);
    cr_assert_eq(b.entries, total, "b took a's 30 and the %lld others", total - 30);
    cr_assert_eq(b.acked, total);
    cr_assert_eq(b.dups, stored, "what a had committed is recognised, not stored twice");
    cr_assert_eq(b.events + stored, kept(&ev));
    cr_assert_eq(pending(), 0);
    cr_assert_eq(q("SELECT COUNT(*) FROM events"), kept(&ev));
    cr_assert_eq(q("SELECT COUNT(*) FROM events WHERE event_type='alert' AND sensor='mail-gw'"),
                 alerts);
    const char *names[] = {"mail-gw"};
    assert_files_already_in(names, 1, kept(&ev));
    tu_events_free(&ev);
}

Test(triage_redis, kill9_after_read_claimed_nothing_lost)
{
    kill_and_claim("VIGIL_TRIAGE_TEST_STALL_AFTER_READ", 0);
}

Test(triage_redis, kill9_after_commit_before_ack_no_duplicates)
{
    kill_and_claim("VIGIL_TRIAGE_TEST_STALL_AFTER_COMMIT", 1);
}

/* An EVE line for the tests that XADD themselves. */
static void xadd_alert(redisContext *c, const char *sensor, int i)
{
    char eve[512];
    snprintf(eve, sizeof(eve),
             "{\"timestamp\":\"2024-05-01T00:%02d:%02d.000000+0000\",\"event_type\":\"alert\","
             "\"src_ip\":\"203.0.113.7\",\"src_port\":%d,\"dest_ip\":\"10.10.0.80\","
             "\"dest_port\":80,\"proto\":\"TCP\",\"alert\":{\"signature_id\":9000%d,"
             "\"signature\":\"TEST %d\",\"severity\":2},\"sensor\":\"%s\"}",
             i / 60, i % 60, 40000 + i, i % 3, i % 3, sensor);
    redisReply *r = redisCommand(c, "XADD vigil:eve * eve %s", eve);
    cr_assert(r != NULL && r->type == REDIS_REPLY_STRING);
    freeReplyObject(r);
}

static json_t *status_json(void)
{
    char *out;
    cr_assert_eq(triage(&out, "status", "--json", (char *)NULL), 0, "%s", out);
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    cr_assert_not_null(j, "status --json is not JSON (%s): %s", e.text, out);
    free(out);
    return j;
}

static json_t *group0(json_t *st)
{
    json_t *s = json_array_get(tu_get(st, "redis.streams"), 0);
    cr_assert_not_null(s);
    return json_array_get(json_object_get(s, "groups"), 0);
}

/* status: length, lag, pending per consumer, the store's counts; as JSON and as a table. */
Test(triage_redis, status_shows_lag_and_pending)
{
    setup_env(0);
    redisContext *c = tu_redis_connect(g_port);
    for (int i = 0; i < 10; i++)
        xadd_alert(c, "s1", i);
    redisFree(c);

    /* Before any consumer: the stream, no groups (status finds the stream through --redis). */
    char *out;
    cr_assert_eq(triage(&out, "status", "--redis", g_url, "--json", (char *)NULL), 0, "%s", out);
    json_t *st = json_loads(out, 0, NULL);
    free(out);
    json_t *s = json_array_get(tu_get(st, "redis.streams"), 0);
    cr_assert_eq(tu_int(s, "length"), 10);
    cr_assert_eq(json_array_size(json_object_get(s, "groups")), 0);
    cr_assert_eq(tu_int(st, "db.events"), 0);
    json_decref(st);

    /* a holds 4 entries: lag 6, pending 4 on a. */
    pid_t a = start_consumer("a", "4", "VIGIL_TRIAGE_TEST_STALL_AFTER_READ");
    WAIT_FOR(file_has("a.err", "stalled after reading batch 1 (4 entries)"));
    st = status_json(); /* no --redis: the store remembers where a reads from */
    json_t *g = group0(st);
    cr_assert_str_eq(tu_str(g, "group"), "triage");
    cr_assert_eq(tu_int(g, "lag"), 6);
    cr_assert_eq(tu_int(g, "pending"), 4);
    cr_assert_eq(tu_int(g, "pending_by_consumer.a"), 4);
    json_t *cons = json_array_get(json_object_get(g, "consumers"), 0);
    cr_assert_str_eq(tu_str(cons, "name"), "a");
    cr_assert_eq(tu_int(cons, "pending"), 4);
    cr_assert_geq(tu_int(cons, "idle_ms"), 0);
    cr_assert_geq(tu_int(g, "oldest_pending_idle_ms"), 0);
    json_decref(st);

    /* The table form: aligned columns under their headings. */
    cr_assert_eq(triage(&out, "status", (char *)NULL), 0, "%s", out);
    const char *h = strstr(out, "STREAM     GROUP   LAST DELIVERED");
    cr_assert_not_null(h, "%s", out);
    const char *row = strchr(h, '\n') + 1;
    cr_assert_eq(strncmp(row, "vigil:eve  triage  ", 19), 0, "%s", out);
    const char *lag = strstr(h, "LAG"), *pend = strstr(h, "PENDING");
    cr_assert_eq(strncmp(row + (lag - h), "6 ", 2), 0, "lag column: %s", out);
    cr_assert_eq(strncmp(row + (pend - h), "4 ", 2), 0, "pending column: %s", out);
    cr_assert_not_null(strstr(out, "0 events, 0 alerts"), "%s", out);
    free(out);

    /* SIGTERM ends a after its batch: pending 0, lag still 6. */
    cr_assert_eq(stop_consumer(a), 0);
    st = status_json();
    g = group0(st);
    cr_assert_eq(tu_int(g, "lag"), 6);
    cr_assert_eq(tu_int(g, "pending"), 0);
    cr_assert_eq(tu_int(st, "db.events"), 4);
    json_decref(st);

    cr_assert_eq(
        triage(&out, "ingest", "--redis", g_url, "--consumer", "b", "--once", (char *)NULL), 0,
        "%s", out);
    free(out);
    st = status_json();
    g = group0(st);
    cr_assert_eq(tu_int(g, "lag"), 0);
    cr_assert_eq(tu_int(g, "pending"), 0);
    cr_assert_eq(json_array_size(json_object_get(g, "consumers")), 2);
    cr_assert_eq(tu_int(st, "db.events"), 10);
    cr_assert_eq(tu_int(st, "db.alerts"), 10);
    json_t *sensor = json_array_get(tu_get(st, "db.sensors"), 0);
    cr_assert_str_eq(tu_str(sensor, "sensor"), "s1");
    cr_assert_eq(tu_int(sensor, "alerts"), 10);
    cr_assert_eq(tu_int(st, "db.pending_correlation"), 0);
    json_decref(st);
}

/* Redis dies under a waiting consumer and comes back (AOF): it reconnects, loses nothing. */
Test(triage_redis, reconnects_after_redis_restart)
{
    setup_env(1);
    redisContext *c = tu_redis_connect(g_port);
    for (int i = 0; i < 10; i++)
        xadd_alert(c, "s1", i);
    redisFree(c);
    pid_t a = start_consumer("a", "100", NULL);
    WAIT_FOR(db_events() == 10);
    WAIT_FOR(pending() == 0); /* acknowledged too: the consumer is waiting in XREADGROUP */
    tu_redis_kill(g_redis);
    g_redis = -1;
    WAIT_FOR(file_has("a.err", "reconnecting"));
    usleep(300000); /* a few failed attempts */
    g_redis = tu_redis_start(g_dir, g_port, 1);
    c = tu_redis_connect(g_port);
    for (int i = 10; i < 25; i++)
        xadd_alert(c, "s1", i);
    redisFree(c);
    WAIT_FOR(db_events() == 25);
    WAIT_FOR(pending() == 0);
    cr_assert_eq(stop_consumer(a), 0);
    char *out = slurp("a.out"), *err = slurp("a.err");
    struct run r = parse_run(out);
    int again = strstr(err, "connected again") != NULL;
    free(out);
    free(err);
    cr_assert_eq(r.reconnects, 1);
    cr_assert_eq(r.events, 25);
    cr_assert_eq(r.acked, 25, "acked %lld, redelivered %lld", r.acked, r.redelivered);
    cr_assert(again, "no \"connected again\" in a.err");
    cr_assert_eq(q("SELECT COUNT(*) FROM events"), 25);
}

/* Two consumers of one group started at once on a database that does not exist yet: both set
 * it up (WAL mode, schema) without "database is locked", and each entry is stored once. */
Test(triage_redis, two_consumers_create_one_database)
{
    setup_env(0);
    redisContext *c = tu_redis_connect(g_port);
    for (int i = 0; i < 20; i++)
        xadd_alert(c, "s1", i);
    redisFree(c);
    for (int round = 0; round < 40; round++) {
        char group[32], out[2][4300];
        snprintf(g_db, sizeof(g_db), "%s/new%d.db", g_dir, round);
        snprintf(group, sizeof(group), "g%d", round);
        pid_t p[2];
        for (int j = 0; j < 2; j++) {
            char name[8];
            snprintf(name, sizeof(name), "c%d", j);
            snprintf(out[j], sizeof(out[j]), "%s/new%d-%d.out", g_dir, round, j);
            p[j] = fork();
            cr_assert_neq(p[j], -1);
            if (p[j] == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                int o = open(out[j], O_WRONLY | O_CREAT | O_TRUNC, 0644);
                dup2(o, 1);
                dup2(o, 2);
                tu_close_inherited();
                execl(triage_bin(), "vigil-triage", "--db", g_db, "ingest", "--redis", g_url,
                      "--group", group, "--consumer", name, "--once", (char *)NULL);
                _exit(127);
            }
        }
        for (int j = 0; j < 2; j++) {
            int status;
            cr_assert_eq(waitpid(p[j], &status, 0), p[j]);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                static char text[2000];
                FILE *f = fopen(out[j], "r");
                size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
                text[n] = '\0';
                if (f != NULL)
                    fclose(f);
                cr_assert_fail("round %d, consumer %d failed: %s", round, j, text);
            }
        }
        cr_assert_eq(q("SELECT COUNT(*) FROM events"), 20, "round %d", round);
    }
}

/* Entries that are not Vigil records are counted and acknowledged; entries trimmed away while
 * pending are counted; bad options get a clear error. */
Test(triage_redis, bad_entries_and_options)
{
    setup_env(0);
    redisContext *c = tu_redis_connect(g_port);
    redisReply *r;
    r = redisCommand(c, "XADD vigil:eve * other x");
    freeReplyObject(r);
    r = redisCommand(c, "XADD vigil:eve * eve %s", "not json");
    freeReplyObject(r);
    r = redisCommand(c, "XADD vigil:eve * eve %s",
                     "{\"event_type\":\"alert\",\"timestamp\":\"2024-05-01T00:00:00Z\"}");
    freeReplyObject(r);
    xadd_alert(c, "s1", 1);
    char *out;
    cr_assert_eq(
        triage(&out, "ingest", "--redis", g_url, "--consumer", "a", "--once", (char *)NULL), 0,
        "%s", out);
    struct run ra = parse_run(out);
    cr_assert_eq(ra.entries, 4);
    cr_assert_eq(ra.acked, 4);
    cr_assert_eq(ra.malformed, 1);
    cr_assert_eq(ra.bad, 2);
    cr_assert_eq(ra.events, 1);
    cr_assert_not_null(strstr(out, "no \"eve\" field"), "%s", out);
    cr_assert(strstr(out, "stream vigil:eve entry ") && strstr(out, ": invalid JSON"), "%s", out);
    cr_assert_not_null(strstr(out, "alert without alert.signature_id"), "%s", out);
    free(out);
    cr_assert_eq(pending(), 0);

    /* b reads 3 entries and dies; the stream is trimmed under them; c finds them gone. */
    for (int i = 2; i < 5; i++)
        xadd_alert(c, "s1", i);
    pid_t b = start_consumer("b", "10", "VIGIL_TRIAGE_TEST_STALL_AFTER_READ");
    WAIT_FOR(file_has("b.err", "stalled after reading batch 1 (3 entries)"));
    kill9(b);
    r = redisCommand(c, "XTRIM vigil:eve MAXLEN 0");
    freeReplyObject(r);
    redisFree(c);
    usleep(250000);
    cr_assert_eq(triage(&out, "ingest", "--redis", g_url, "--consumer", "c", "--claim-idle", "200",
                        "--once", (char *)NULL),
                 0, "%s", out);
    struct run rc = parse_run(out);
    free(out);
    cr_assert_eq(rc.trimmed, 3);
    cr_assert_eq(rc.events, 0);
    cr_assert_eq(pending(), 0);

    static const char *const bad[][3] = {
        {"--redis", "http://127.0.0.1", "must start with redis://"},
        {"--count", "0", "--count must be at least 1"},
        {"--count", "x", "is not a number"},
        {"--claim-idle", "-5", "is not a number"},
        {"--follow", NULL, "--follow and --batch are for files"},
        {"eve.json", NULL, "reads the stream, not FILE"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rcode;
        if (strcmp(bad[i][0], "--redis") == 0)
            rcode = triage(&out, "ingest", "--redis", bad[i][1], (char *)NULL);
        else if (bad[i][1] != NULL)
            rcode = triage(&out, "ingest", "--redis", g_url, bad[i][0], bad[i][1], (char *)NULL);
        else
            rcode = triage(&out, "ingest", "--redis", g_url, bad[i][0], (char *)NULL);
        cr_assert_eq(rcode, 2, "%s %s: exit %d: %s", bad[i][0], bad[i][1], rcode, out);
        cr_assert_not_null(strstr(out, bad[i][2]), "%s: %s", bad[i][0], out);
        free(out);
    }
    /* a key that is not a stream is refused, not retried */
    c = tu_redis_connect(g_port);
    r = redisCommand(c, "SET notastream x");
    freeReplyObject(r);
    redisFree(c);
    cr_assert_eq(
        triage(&out, "ingest", "--redis", g_url, "--stream", "notastream", "--once", (char *)NULL),
        1, "%s", out);
    cr_assert_not_null(strstr(out, "WRONGTYPE"), "%s", out);
    free(out);
}
