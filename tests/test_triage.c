/* test_triage.c: vigil-triage: ingest, crash safety, correlation rules, scoring, workflow, exports.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vigil/enrich.h"
#include "vigil/triage.h"

static char dir[256];
static char err[TRIAGE_ERRBUF];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/vigil-triage-test-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", dir);
}

static const char *path(const char *name)
{
    static char p[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
    return p[k];
}

/* One EVE alert line. extra is appended inside the alert object (e.g. ",\"metadata\":{...}"). */
static void alert(FILE *f, const char *ts, const char *src, const char *dst, int sid,
                  const char *sig, const char *cat, int sev, const char *extra, long flow)
{
    fprintf(f,
            "{\"timestamp\":\"%s\",\"flow_id\":%ld,\"event_type\":\"alert\",\"src_ip\":\"%s\","
            "\"src_port\":4444,\"dest_ip\":\"%s\",\"dest_port\":80,\"proto\":\"TCP\","
            "\"alert\":{\"action\":\"allowed\",\"gid\":1,\"signature_id\":%d,\"rev\":1,"
            "\"signature\":\"%s\",\"category\":\"%s\",\"severity\":%d%s}}\n",
            ts, flow, src, dst, sid, sig, cat, sev, extra ? extra : "");
}

static const char *yaml = "grouping:\n  window: 1h\n  keys: [asset]\n"
                          "campaign:\n  min_hosts: 3\n  window: 1h\n"
                          "assets: assets.yaml\n"
                          "suppress:\n  - sid: 9999\n    reason: noise\n    expires: 2099-01-01\n"
                          "  - sid: 9998\n    reason: expired\n    expires: 2001-01-01\n";

/* The inventory of the tests, in the sensor's format (docs/enrich.md). */
static const char *inventory =
    "version: 1\nassets:\n"
    "  - network: 10.10.0.0/16\n    unit: Trung tâm Dữ liệu Thành phố\n"
    "    hosts: [portal.tphcm.example]\n"
    "    system: Trung tâm Dữ liệu Thành phố\n    criticality: critical\n"
    "  - network: 10.20.0.0/16\n    unit: Sở Thông tin và Truyền thông\n"
    "    system: Sở Thông tin và Truyền thông\n    criticality: normal\n";

struct env {
    struct tcfg cfg;
    struct tdb *t;
};

static void env_open(struct env *e, const char *extra_yaml)
{
    FILE *f = fopen(path("assets.yaml"), "w");
    cr_assert_not_null(f);
    fputs(inventory, f);
    fclose(f);
    f = fopen(path("triage.yaml"), "w");
    cr_assert_not_null(f);
    fputs(extra_yaml ? extra_yaml : yaml, f);
    fclose(f);
    cr_assert_eq(tcfg_defaults(&e->cfg), 0);
    cr_assert_eq(tcfg_load(&e->cfg, path("triage.yaml"), err), 0, "%s", err);
    e->t = tdb_open(path("t.db"), err);
    cr_assert_not_null(e->t, "%s", err);
}

static void env_close(struct env *e)
{
    tdb_close(e->t);
    tcfg_free(&e->cfg);
}

static int ingest(struct env *e, const char *file, struct ting_stats *st)
{
    struct ting_opts o = {0};
    memset(st, 0, sizeof(*st));
    int rc = ting_ingest(e->t, &e->cfg, file, &o, st, err);
    cr_assert_eq(rc, 0, "%s", err);
    return rc;
}

static long long q(struct env *e, const char *sql)
{
    return tdb_scalar(e->t, sql, NULL);
}

static json_t *incident_of(struct env *e, const char *where)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT id FROM incidents WHERE %s ORDER BY id LIMIT 1", where);
    long long id = q(e, sql);
    cr_assert_gt(id, 0, "no incident where %s", where);
    return tkt_json(e->t, id, 1);
}

TestSuite(triage, .init = setup, .fini = teardown, .timeout = 60);

Test(triage, schema_and_wal)
{
    struct env e;
    env_open(&e, NULL);
    cr_assert_eq(tdb_schema_version(e.t), 4);
    env_close(&e);
    /* reopening migrates nothing and keeps the version */
    env_open(&e, NULL);
    cr_assert_eq(tdb_schema_version(e.t), 4);
    sqlite3_stmt *s = tdb_prepare(e.t, "PRAGMA journal_mode", err);
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    env_close(&e);
}

Test(triage, ingest_idempotent_and_bad_lines)
{
    struct env e;
    env_open(&e, NULL);
    FILE *f = fopen(path("eve.json"), "w");
    for (int i = 0; i < 50; i++) {
        char ts[64];
        snprintf(ts, sizeof(ts), "2026-03-01T10:%02d:00.000000+0700", i);
        alert(f, ts, "198.51.100.7", "10.10.1.5", 2000000 + i % 3, "ET SCAN test",
              "Attempted Information Leak", 2, NULL, 1000 + i);
        if (i == 2)
            fputs("{\"timestamp\": broken\n", f);
        if (i == 3)
            fputs("[1,2]\n", f);
    }
    fputs("{\"timestamp\":\"2026-03-01T10:00:00Z\",\"event_type\":\"stats\",\"stats\":{}}\n", f);
    fclose(f);
    struct ting_stats st;
    ingest(&e, path("eve.json"), &st);
    cr_assert_eq(st.alerts, 50);
    cr_assert_eq(st.bad, 2);
    cr_assert_eq(st.skipped, 1);
    cr_assert_eq(st.nexamples, 2);
    char want[600];
    snprintf(want, sizeof(want), "%s:4: invalid JSON", path("eve.json"));
    cr_assert(strncmp(st.examples[0], want, strlen(want)) == 0, "%s", st.examples[0]);
    snprintf(want, sizeof(want), "%s:6: not a JSON object", path("eve.json"));
    cr_assert_str_eq(st.examples[1], want);
    long long inc = q(&e, "SELECT COUNT(*) FROM incidents");
    ting_stats_free(&st);
    /* the same file again: nothing new */
    ingest(&e, path("eve.json"), &st);
    cr_assert_eq(st.events, 0);
    ting_stats_free(&st);
    /* a copy under another name is read in full and every event is a duplicate */
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", path("eve.json"), path("copy.json"));
    cr_assert_eq(system(cmd), 0);
    ingest(&e, path("copy.json"), &st);
    cr_assert_eq(st.events, 0);
    cr_assert_eq(st.dups, 50);
    ting_stats_free(&st);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM events WHERE event_type='alert'"), 50);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM incidents"), inc);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM events WHERE pending=1"), 0);
    env_close(&e);
}

Test(triage, directory_and_context)
{
    struct env e;
    env_open(&e, NULL);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/a/b'", dir);
    cr_assert_eq(system(cmd), 0);
    FILE *f = fopen(path("a/b/one.json"), "w");
    alert(f, "2026-03-01T10:00:00Z", "198.51.100.7", "10.10.1.5", 1, "x", "y", 2, NULL, 77);
    fputs("{\"timestamp\":\"2026-03-01T10:00:01Z\",\"flow_id\":77,\"event_type\":\"http\","
          "\"src_ip\":\"10.10.1.5\",\"dest_ip\":\"198.51.100.7\",\"http\":{\"hostname\":"
          "\"evil.example\",\"url\":\"/x.exe\"}}\n",
          f);
    fputs("{\"timestamp\":\"2026-03-01T10:00:02Z\",\"flow_id\":77,\"event_type\":\"fileinfo\","
          "\"src_ip\":\"198.51.100.7\",\"dest_ip\":\"10.10.1.5\",\"fileinfo\":{\"filename\":"
          "\"/x.exe\",\"sha256\":\"aaaa\"}}\n",
          f);
    fclose(f);
    f = fopen(path("a/two.json"), "w");
    alert(f, "2026-03-01T10:05:00Z", "198.51.100.7", "10.10.1.5", 2, "x2", "y", 2, NULL, 78);
    fclose(f);
    f = fopen(path("a/ignored.txt"), "w");
    fputs("not eve\n", f);
    fclose(f);
    struct ting_stats st;
    snprintf(cmd, sizeof(cmd), "%s/a", dir);
    ingest(&e, cmd, &st);
    cr_assert_eq(st.alerts, 2);
    cr_assert_eq(st.events, 4);
    cr_assert_eq(st.bad, 0);
    ting_stats_free(&st);
    json_t *inc = incident_of(&e, "1");
    cr_assert_eq(json_integer_value(json_object_get(inc, "count")), 2);
    json_t *obs = json_object_get(inc, "observables");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(obs, "url"), 0)),
                     "http://evil.example/x.exe");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(obs, "sha256"), 0)), "aaaa");
    /* the file on the incident's flow is a scoring reason */
    char *r = json_dumps(json_object_get(inc, "reasons"), 0);
    cr_assert(strstr(r, "file/YARA") != NULL, "%s", r);
    free(r);
    json_decref(inc);
    env_close(&e);
}

/* SQLite's plan for sql uses index name (EXPLAIN QUERY PLAN mentions it). */
static int plan_uses(struct env *e, const char *sql, const char *name)
{
    char eqp[1024];
    snprintf(eqp, sizeof(eqp), "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *s = tdb_prepare(e->t, eqp, err);
    cr_assert_not_null(s, "%s", err);
    int found = 0;
    while (sqlite3_step(s) == SQLITE_ROW)
        found |= strstr((const char *)sqlite3_column_text(s, 3), name) != NULL;
    sqlite3_finalize(s);
    return found;
}

/* Schema 4: alerts enter the flow index only once correlated; a file ingested later still joins
 * the incident of the alert on its flow, and the context of a ticket is still found by flow. */
Test(triage, later_file_joins_the_incident_of_its_flow)
{
    struct env e;
    env_open(&e, NULL);
    FILE *f = fopen(path("one.json"), "w");
    alert(f, "2026-03-01T10:00:00Z", "198.51.100.7", "10.10.1.5", 1, "x", "y", 2, NULL, 4242);
    alert(f, "2026-03-01T10:00:01Z", "198.51.100.8", "10.10.1.6", 2, "z", "y", 2, NULL, 4343);
    fclose(f);
    struct ting_stats st;
    ingest(&e, path("one.json"), &st);
    ting_stats_free(&st);
    long long iid = q(&e, "SELECT incident_id FROM events WHERE flow_id=4242");
    cr_assert_gt(iid, 0);
    cr_assert_eq(q(&e, "SELECT p_file FROM incidents WHERE id=(SELECT incident_id FROM events"
                       " WHERE flow_id=4242)"),
                 0);
    f = fopen(path("two.json"), "w");
    fputs("{\"timestamp\":\"2026-03-01T10:00:05Z\",\"flow_id\":4242,\"event_type\":\"http\","
          "\"src_ip\":\"10.10.1.5\",\"dest_ip\":\"198.51.100.7\",\"http\":{\"hostname\":"
          "\"late.example\",\"url\":\"/y.exe\"}}\n",
          f);
    fputs("{\"timestamp\":\"2026-03-01T10:00:06Z\",\"flow_id\":4242,\"event_type\":\"fileinfo\","
          "\"src_ip\":\"198.51.100.7\",\"dest_ip\":\"10.10.1.5\",\"fileinfo\":{\"filename\":"
          "\"/y.exe\",\"sha256\":\"bbbb\",\"yara\":[{\"rule\":\"R\"}]}}\n",
          f);
    fclose(f);
    ingest(&e, path("two.json"), &st);
    ting_stats_free(&st);
    cr_assert_eq(q(&e, "SELECT incident_id FROM events WHERE event_type='fileinfo'"), iid,
                 "the file joined the incident of the alert on its flow");
    cr_assert_gt(q(&e, "SELECT p_file FROM incidents WHERE id=(SELECT incident_id FROM events"
                       " WHERE flow_id=4242 AND event_type='alert')"),
                 0);
    cr_assert_eq(q(&e, "SELECT p_file FROM incidents WHERE id=(SELECT incident_id FROM events"
                       " WHERE flow_id=4343)"),
                 0, "the other flow's incident is untouched");
    json_t *inc = tkt_json(e.t, iid, 1);
    json_t *obs = json_object_get(inc, "observables");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(obs, "url"), 0)),
                     "http://late.example/y.exe", "context found by flow");
    json_decref(inc);
    /* both flow look-ups use an index, not a scan of every event */
    cr_assert(plan_uses(&e,
                        "SELECT e.incident_id FROM events f JOIN events e ON e.flow_id=f.flow_id"
                        " WHERE f.id=1 AND e.incident_id IS NOT NULL AND e.event_type='alert'",
                        "events_alertflow"));
    cr_assert(plan_uses(&e,
                        "SELECT id FROM events WHERE flow_id IN (SELECT flow_id FROM events"
                        " WHERE incident_id=1 AND flow_id IS NOT NULL) AND event_type<>'alert'",
                        "events_flow"));
    env_close(&e);
}

Test(triage, crash_safety_kill9)
{
    const int n = 60000;
    FILE *f = fopen(path("big.json"), "w");
    for (int i = 0; i < n; i++) {
        char ts[64], src[32];
        snprintf(ts, sizeof(ts), "2026-03-01T%02d:%02d:%02dZ", (i / 3600) % 24, (i / 60) % 60,
                 i % 60);
        snprintf(src, sizeof(src), "198.51.%d.%d", (i / 250) % 250, i % 250);
        alert(f, ts, src, "10.20.0.9", 2001000 + i % 50, "ET SCAN x", "Attempted Information Leak",
              3, NULL, i);
    }
    fclose(f);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        struct env e;
        env_open(&e, NULL);
        struct ting_opts o = {.batch = 500};
        struct ting_stats st = {0};
        ting_ingest(e.t, &e.cfg, path("big.json"), &o, &st, err);
        _exit(0);
    }
    /* wait for some committed batches, then kill it mid-way */
    sqlite3 *db = NULL;
    long long seen = 0;
    for (int k = 0; k < 4000 && seen < 5000; k++) {
        usleep(2000);
        if (db == NULL && access(path("t.db"), F_OK) == 0 &&
            sqlite3_open_v2(path("t.db"), &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
            sqlite3_close(db);
            db = NULL;
        }
        sqlite3_stmt *s = NULL;
        if (db &&
            sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM events", -1, &s, NULL) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW)
            seen = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    sqlite3_close(db);
    cr_assert(WIFSIGNALED(status), "the child finished before it could be killed");
    cr_log_info("killed after %lld events", seen);
    struct env e;
    env_open(&e, NULL);
    long long before = q(&e, "SELECT COUNT(*) FROM events");
    cr_assert_lt(before, n, "the kill came too late");
    struct ting_stats st;
    ingest(&e, path("big.json"), &st);
    ting_stats_free(&st);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM events WHERE event_type='alert'"), n);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM events WHERE pending=1"), 0);
    cr_assert_eq(q(&e, "SELECT SUM(count) FROM incidents WHERE kind='group'"), n);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM events WHERE incident_id IS NULL AND"
                       " event_type='alert' AND suppressed=0"),
                 0);
    /* and once more: idempotent */
    ingest(&e, path("big.json"), &st);
    cr_assert_eq(st.events, 0);
    ting_stats_free(&st);
    env_close(&e);
}

Test(triage, grouping_window)
{
    struct env e;
    env_open(&e, NULL);
    FILE *f = fopen(path("w.json"), "w");
    alert(f, "2026-03-01T10:00:00Z", "198.51.100.7", "10.10.1.5", 1, "a", "c", 3, NULL, 1);
    alert(f, "2026-03-01T10:50:00Z", "198.51.100.8", "10.10.1.5", 2, "b", "c", 3, NULL, 2);
    alert(f, "2026-03-01T11:40:00Z", "198.51.100.9", "10.10.1.5", 3, "c", "c", 3, NULL, 3);
    alert(f, "2026-03-01T14:00:00Z", "198.51.100.7", "10.10.1.5", 1, "a", "c", 3, NULL, 4);
    alert(f, "2026-03-01T10:10:00Z", "198.51.100.7", "10.10.1.6", 1, "a", "c", 3, NULL, 5);
    fclose(f);
    struct ting_stats st;
    ingest(&e, path("w.json"), &st);
    ting_stats_free(&st);
    /* sliding: 10:00, 10:50, 11:40 chain into one; 14:00 starts a new one; other host apart */
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM incidents WHERE asset_ip='10.10.1.5'"), 2);
    cr_assert_eq(q(&e, "SELECT count FROM incidents WHERE asset_ip='10.10.1.5' ORDER BY id"), 3);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM incidents WHERE asset_ip='10.10.1.6'"), 1);
    /* routed to the unit owning the asset */
    json_t *inc = incident_of(&e, "asset_ip='10.10.1.5'");
    cr_assert_str_eq(json_string_value(json_object_get(inc, "unit")),
                     "Trung tâm Dữ liệu Thành phố");
    cr_assert(strncmp(json_string_value(json_object_get(inc, "ref")), "INC-2026-", 9) == 0);
    cr_assert_eq(json_array_size(json_object_get(inc, "alerts")), 3);
    json_decref(inc);
    /* a late alert inside the first window joins it on a later ingest (incremental) */
    f = fopen(path("w2.json"), "w");
    alert(f, "2026-03-01T10:20:00Z", "198.51.100.1", "10.10.1.5", 5, "e", "c", 3, NULL, 9);
    fclose(f);
    ingest(&e, path("w2.json"), &st);
    ting_stats_free(&st);
    cr_assert_eq(q(&e, "SELECT count FROM incidents WHERE asset_ip='10.10.1.5' ORDER BY id"), 4);
    env_close(&e);
}

Test(triage, grouping_by_signature_key)
{
    struct env e;
    env_open(&e, "grouping:\n  window: 30m\n  keys: [signature, actor]\n");
    FILE *f = fopen(path("w.json"), "w");
    for (int i = 0; i < 6; i++) {
        char dst[32];
        snprintf(dst, sizeof(dst), "10.1.0.%d", i);
        alert(f, "2026-03-01T10:00:00Z", "198.51.100.7", dst, 7, "a", "c", 3, NULL, i);
        alert(f, "2026-03-01T10:00:00Z", "198.51.100.7", dst, 8, "b", "c", 3, NULL, i);
    }
    fclose(f);
    struct ting_stats st;
    ingest(&e, path("w.json"), &st);
    ting_stats_free(&st);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM incidents WHERE kind='group'"), 2);
    env_close(&e);
}

Test(triage, campaign)
{
    struct env e;
    env_open(&e, NULL);
    FILE *f = fopen(path("c.json"), "w");
    for (int i = 0; i < 4; i++) {
        char dst[32], ts[32];
        snprintf(dst, sizeof(dst), "10.20.0.%d", 10 + i);
        snprintf(ts, sizeof(ts), "2026-03-01T10:%02d:00Z", i * 5);
        alert(f, ts, "203.0.113.66", dst, 2010935, "ET SCAN MS Terminal Server", "c", 2, NULL, i);
    }
    /* the same signature from three different actors against three hosts */
    for (int i = 0; i < 3; i++) {
        char dst[32], src[32];
        snprintf(dst, sizeof(dst), "10.20.5.%d", 1 + i);
        snprintf(src, sizeof(src), "192.0.2.%d", 100 + i);
        alert(f, "2026-03-01T11:00:00Z", src, dst, 77, "ET EXPLOIT Log4j", "c", 1, NULL, 90 + i);
    }
    /* a signature seen on only two hosts is no campaign */
    alert(f, "2026-03-01T10:00:00Z", "192.0.2.1", "10.20.1.1", 42, "other", "c", 3, NULL, 50);
    alert(f, "2026-03-01T10:00:00Z", "192.0.2.2", "10.20.1.2", 42, "other", "c", 3, NULL, 51);
    fclose(f);
    struct ting_stats st;
    ingest(&e, path("c.json"), &st);
    ting_stats_free(&st);
    /* actor 203.0.113.66 reaches 4 hosts; sid 77 reaches 3 from 3 actors */
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM incidents WHERE kind='campaign'"), 2);
    json_t *c = incident_of(&e, "kind='campaign' AND gkey='campaign:actor=203.0.113.66'");
    cr_assert_eq(json_integer_value(json_object_get(c, "hosts")), 4);
    cr_assert_eq(json_array_size(json_object_get(c, "members")), 4);
    cr_assert_eq(json_array_size(json_object_get(c, "alerts")), 4);
    char *r = json_dumps(json_object_get(c, "reasons"), 0);
    cr_assert(strstr(r, "campaign breadth: 4 hosts") != NULL, "%s", r);
    free(r);
    char *md = NULL;
    size_t mdlen = 0;
    FILE *m = open_memstream(&md, &mdlen);
    cr_assert_eq(texp_md(m, c, 0, err), 0);
    fclose(m);
    cr_assert(strstr(md, "## Member incidents") && strstr(md, "10.20.0.13"), "%s", md);
    free(md);
    json_decref(c);
    c = incident_of(&e, "kind='campaign' AND gkey='campaign:sig=77'");
    cr_assert_eq(json_integer_value(json_object_get(c, "hosts")), 3);
    cr_assert_eq(json_array_size(json_object_get(c, "members")), 3);
    json_decref(c);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM incidents WHERE kind='group' AND campaign_id IS"
                       " NOT NULL"),
                 7);
    env_close(&e);
}

static void killchain_file(const char *name, int c2)
{
    FILE *f = fopen(path(name), "w");
    alert(f, "2026-03-01T10:00:00Z", "198.51.100.7", "10.20.0.5", 1, "ET SCAN Nmap",
          "Attempted Information Leak", 3, NULL, 1);
    alert(f, "2026-03-01T10:10:00Z", "198.51.100.7", "10.20.0.5", 2, "ET EXPLOIT Struts",
          "Attempted Administrator Privilege Gain", 3, NULL, 2);
    if (c2)
        alert(f, "2026-03-01T10:20:00Z", "10.20.0.5", "192.0.2.99", 3, "ET MALWARE beacon", "z", 3,
              ",\"metadata\":{\"mitre_tactic_name\":[\"Command_And_Control\"]}", 3);
    fclose(f);
}

Test(triage, kill_chain_escalation)
{
    struct env e;
    env_open(&e, NULL);
    killchain_file("k.json", 1);
    struct ting_stats st;
    ingest(&e, path("k.json"), &st);
    ting_stats_free(&st);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM incidents"), 1);
    json_t *inc = incident_of(&e, "1");
    json_t *esc = json_object_get(inc, "escalations");
    cr_assert_eq(json_array_size(esc), 2);
    cr_assert(strstr(json_string_value(json_array_get(esc, 0)), "recon -> exploit on 10.20.0.5"));
    cr_assert(strstr(json_string_value(json_array_get(esc, 1)), "exploit -> c2"));
    json_t *stages = json_object_get(inc, "stages");
    cr_assert_eq(json_array_size(stages), 3);
    /* 10 (sev 3) + 10 (criticality normal) + 2 (volume) + 2 x 15 (kill chain) */
    cr_assert_eq(json_integer_value(json_object_get(inc, "score")), 52);
    cr_assert_eq(json_integer_value(json_object_get(inc, "severity")), 3);
    json_decref(inc);
    env_close(&e);
    /* the same without the C2 step scores lower */
    struct env e2;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -f %s/t.db*", dir);
    cr_assert_eq(system(cmd), 0);
    env_open(&e2, NULL);
    killchain_file("k2.json", 0);
    ingest(&e2, path("k2.json"), &st);
    ting_stats_free(&st);
    cr_assert_eq(q(&e2, "SELECT score FROM incidents"), 10 + 10 + 2 + 15);
    /* an exploit before a scan is not an escalation */
    env_close(&e2);
}

Test(triage, higher_severity_raises_and_scoring_reasons)
{
    struct env e;
    env_open(&e, NULL);
    FILE *f = fopen(path("s.json"), "w");
    alert(f, "2026-03-01T10:00:00Z", "198.51.100.7", "10.10.2.2", 1, "low", "c", 3, NULL, 1);
    fclose(f);
    struct ting_stats st;
    ingest(&e, path("s.json"), &st);
    ting_stats_free(&st);
    json_t *inc = incident_of(&e, "1");
    /* 10 (severity 3) + 20 (criticality 5 x 4) */
    cr_assert_eq(json_integer_value(json_object_get(inc, "score")), 30);
    cr_assert_eq(json_integer_value(json_object_get(inc, "severity")), 4);
    json_decref(inc);
    f = fopen(path("s2.json"), "w");
    alert(f, "2026-03-01T10:30:00Z", "198.51.100.7", "10.10.2.2", 1, "low", "c", 3, NULL, 1);
    alert(f, "2026-03-01T10:31:00Z", "198.51.100.7", "10.10.2.2", 2, "high", "c", 1,
          ",\"metadata\":{\"signature_severity\":[\"Critical\"]}", 2);
    fclose(f);
    ingest(&e, path("s2.json"), &st);
    ting_stats_free(&st);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM incidents"), 1, "deduplication swallowed it");
    inc = incident_of(&e, "1");
    /* 40 + 20 (signature_severity) + 20 (asset) + 2 (3 alerts) = 82 */
    cr_assert_eq(json_integer_value(json_object_get(inc, "score")), 82);
    cr_assert_eq(json_integer_value(json_object_get(inc, "severity")), 1);
    json_t *reasons = json_object_get(inc, "reasons");
    char *r = json_dumps(reasons, JSON_COMPACT);
    cr_assert(strstr(r, "{\"points\":40,\"reason\":\"alert severity\"}"), "%s", r);
    cr_assert(strstr(r, "{\"points\":20,\"reason\":\"signature_severity metadata\"}"), "%s", r);
    cr_assert(strstr(r, "{\"points\":20,\"reason\":\"asset criticality\"}"), "%s", r);
    cr_assert(strstr(r, "volume: 3 alerts"), "%s", r);
    free(r);
    /* the raise is in the audit history */
    char *h = json_dumps(json_object_get(inc, "history"), JSON_COMPACT);
    cr_assert(strstr(h, "\"field\":\"severity\",\"old\":\"low (32)\",\"new\":\"critical (82)\""),
              "%s", h);
    free(h);
    json_decref(inc);
    env_close(&e);
}

/* Vigil's EVE carries src_geo/dest_geo and src_asset/dest_asset: they win over triage's look-up. */
Test(triage, sensor_enrichment_fields)
{
    struct env e;
    env_open(&e, "assets: assets.yaml\nscoring:\n  countries: {XX: 15}\n");
    FILE *f = fopen(path("v.json"), "w");
    /* 10.10.1.5 is the data centre (critical) for triage, the sensor says Sở Y tế (low) */
    fputs("{\"timestamp\":\"2026-03-01T10:00:00Z\",\"event_type\":\"alert\",\"src_ip\":"
          "\"203.0.113.9\",\"dest_ip\":\"10.10.1.5\","
          "\"src_geo\":{\"country_iso\":\"XX\",\"asn\":64496,\"as_org\":\"Ex\"},"
          "\"dest_geo\":{\"internal\":true,\"range\":\"private\"},"
          "\"src_asset\":{\"status\":\"external\"},\"dest_asset\":{\"status\":\"known\","
          "\"id\":\"his\",\"unit\":\"Sở Y tế\",\"system\":\"HIS\",\"criticality\":\"low\"},"
          "\"alert\":{\"signature_id\":1,\"signature\":\"a\",\"severity\":3}}\n",
          f);
    /* a C2 call out: the sensor knows the source, triage's inventory does not (10.99/16) */
    fputs("{\"timestamp\":\"2026-03-01T10:00:00Z\",\"event_type\":\"alert\",\"src_ip\":"
          "\"10.99.0.7\",\"dest_ip\":\"192.0.2.50\","
          "\"src_geo\":{\"internal\":true,\"range\":\"private\"},"
          "\"dest_geo\":{\"country_iso\":\"YY\"},"
          "\"src_asset\":{\"status\":\"known\",\"unit\":\"UBND Quận 3\",\"system\":\"Q3\","
          "\"criticality\":\"high\"},\"dest_asset\":{\"status\":\"external\"},"
          "\"alert\":{\"signature_id\":2,\"signature\":\"b\",\"severity\":3}}\n",
          f);
    /* Suricata's EVE without them: triage's own inventory */
    alert(f, "2026-03-01T10:00:00Z", "198.51.100.7", "10.10.2.2", 3, "c", "c", 3, NULL, 3);
    fclose(f);
    struct ting_stats st;
    ingest(&e, path("v.json"), &st);
    ting_stats_free(&st);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM incidents"), 3);
    json_t *inc = incident_of(&e, "asset_ip='10.10.1.5'");
    cr_assert_str_eq(json_string_value(json_object_get(inc, "unit")), "Sở Y tế");
    cr_assert_str_eq(json_string_value(json_object_get(inc, "asset")), "HIS");
    cr_assert_str_eq(json_string_value(json_object_get(inc, "actor")), "203.0.113.9");
    json_t *g = json_object_get(inc, "actor_geo");
    cr_assert_str_eq(json_string_value(json_object_get(g, "country_iso")), "XX");
    cr_assert_eq(json_integer_value(json_object_get(g, "asn")), 64496);
    json_decref(inc);
    /* 10 (sev 3) + 5 (low) + 15 (XX) */
    cr_assert_eq(q(&e, "SELECT score FROM incidents WHERE asset_ip='10.10.1.5'"), 30);
    cr_assert_eq(q(&e, "SELECT p_geo FROM incidents WHERE asset_ip='10.10.1.5'"), 15);
    inc = incident_of(&e, "asset_ip='10.99.0.7'");
    cr_assert_str_eq(json_string_value(json_object_get(inc, "unit")), "UBND Quận 3");
    cr_assert_str_eq(json_string_value(json_object_get(inc, "actor")), "192.0.2.50");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(inc, "actor_geo"), "country_iso")), "YY");
    json_decref(inc);
    cr_assert_eq(q(&e, "SELECT p_asset FROM incidents WHERE asset_ip='10.99.0.7'"), 15);
    inc = incident_of(&e, "asset_ip='10.10.2.2'");
    cr_assert_str_eq(json_string_value(json_object_get(inc, "unit")),
                     "Trung tâm Dữ liệu Thành phố");
    cr_assert(json_is_null(json_object_get(inc, "actor_geo")));
    json_decref(inc);
    cr_assert_eq(q(&e, "SELECT p_asset FROM incidents WHERE asset_ip='10.10.2.2'"), 20);
    env_close(&e);
}

Test(triage, geo_scoring)
{
    struct env e;
    env_open(&e, "scoring:\n  countries: {XX: 15}\n  asns: {\"64496\": 25}\n");
    FILE *f = fopen(path("g.json"), "w");
    fputs("{\"timestamp\":\"2026-03-01T10:00:00Z\",\"event_type\":\"alert\",\"src_ip\":"
          "\"198.51.100.7\",\"dest_ip\":\"10.1.1.1\",\"geoip\":{\"country_iso_code\":\"XX\"},"
          "\"alert\":{\"signature_id\":1,\"signature\":\"a\",\"severity\":3}}\n",
          f);
    fputs("{\"timestamp\":\"2026-03-01T10:00:00Z\",\"event_type\":\"alert\",\"src_ip\":"
          "\"198.51.100.8\",\"dest_ip\":\"10.1.1.2\",\"geoip\":{\"country\":{\"iso_code\":"
          "\"YY\"},\"asn\":64496},\"alert\":{\"signature_id\":1,\"signature\":\"a\","
          "\"severity\":3}}\n",
          f);
    fclose(f);
    struct ting_stats st;
    ingest(&e, path("g.json"), &st);
    ting_stats_free(&st);
    cr_assert_eq(q(&e, "SELECT p_geo FROM incidents WHERE asset_ip='10.1.1.1'"), 15);
    cr_assert_eq(q(&e, "SELECT p_geo FROM incidents WHERE asset_ip='10.1.1.2'"), 25);
    json_t *inc = incident_of(&e, "asset_ip='10.1.1.1'");
    char *r = json_dumps(json_object_get(inc, "reasons"), JSON_COMPACT);
    cr_assert(strstr(r, "{\"points\":15,\"reason\":\"actor GeoIP/ASN\"}"), "%s", r);
    free(r);
    json_decref(inc);
    env_close(&e);
}

Test(triage, suppression)
{
    struct env e;
    env_open(&e, NULL);
    struct tcfg_supp s = {.addr = "192.0.2.50", .reason = "scanner we run"};
    cr_assert_eq(tkt_suppress_add(e.t, &s, err), 0, "%s", err);
    struct tcfg_supp none = {0};
    cr_assert_neq(tkt_suppress_add(e.t, &none, err), 0);
    FILE *f = fopen(path("p.json"), "w");
    alert(f, "2026-03-01T10:00:00Z", "198.51.100.7", "10.10.2.2", 9999, "noise", "c", 3, NULL, 1);
    alert(f, "2026-03-01T10:00:00Z", "198.51.100.7", "10.10.2.3", 9998, "expired", "c", 3, NULL, 2);
    alert(f, "2026-03-01T10:00:00Z", "192.0.2.50", "10.10.2.4", 5, "ours", "c", 3, NULL, 3);
    fclose(f);
    struct ting_stats st;
    ingest(&e, path("p.json"), &st);
    cr_assert_eq(st.suppressed, 2);
    ting_stats_free(&st);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM incidents"), 1);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM events WHERE suppressed=1"), 2);
    json_t *l = tkt_suppress_list(e.t);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(l, 0), "hits")), 1);
    json_decref(l);
    cr_assert_eq(tkt_suppress_remove(e.t, 1, err), 0);
    cr_assert_neq(tkt_suppress_remove(e.t, 1, err), 0);
    env_close(&e);
}

static long long one_incident(struct env *e)
{
    killchain_file("k.json", 1);
    struct ting_stats st;
    ingest(e, path("k.json"), &st);
    ting_stats_free(&st);
    return q(e, "SELECT id FROM incidents LIMIT 1");
}

Test(triage, workflow_and_history)
{
    struct env e;
    env_open(&e, NULL);
    long long id = one_incident(&e);
    struct tkt_change c = {.user = "lan"};
    c.status = "acknowledged";
    c.assignee = "minh";
    cr_assert_eq(tkt_update(e.t, id, &c, err), 0, "%s", err);
    cr_assert_gt(q(&e, "SELECT ack_at FROM incidents"), 0);
    c = (struct tkt_change){.user = "lan", .status = "new"};
    cr_assert_neq(tkt_update(e.t, id, &c, err), 0);
    cr_assert(strstr(err, "invalid transition acknowledged -> new"), "%s", err);
    c = (struct tkt_change){.user = "lan", .status = "bogus"};
    cr_assert_neq(tkt_update(e.t, id, &c, err), 0);
    c = (struct tkt_change){.user = "lan", .tlp = "purple"};
    cr_assert_neq(tkt_update(e.t, id, &c, err), 0);
    c = (struct tkt_change){.user = "lan", .status = "false-positive"};
    cr_assert_neq(tkt_update(e.t, id, &c, err), 0, "closing needs a reason");
    c = (struct tkt_change){.user = "lan",
                            .status = "investigating",
                            .tlp = "red",
                            .pap = "green",
                            .unit = "Sở Y tế",
                            .note = "đang xác minh"};
    cr_assert_eq(tkt_update(e.t, id, &c, err), 0, "%s", err);
    c = (struct tkt_change){.user = "lan", .status = "contained"};
    cr_assert_eq(tkt_update(e.t, id, &c, err), 0, "%s", err);
    c = (struct tkt_change){.user = "lan", .status = "resolved"};
    cr_assert_eq(tkt_update(e.t, id, &c, err), 0, "%s", err);
    c = (struct tkt_change){.user = "lan", .status = "contained"};
    cr_assert_neq(tkt_update(e.t, id, &c, err), 0, "resolved only reopens");
    cr_assert_eq(tkt_reopen(e.t, id, "lan", err), 0, "%s", err);
    cr_assert_neq(tkt_reopen(e.t, id, "lan", err), 0, "already open");
    c = (struct tkt_change){.user = "lan", .status = "false-positive", .reason = "lab test"};
    cr_assert_eq(tkt_update(e.t, id, &c, err), 0, "%s", err);
    json_t *inc = tkt_json(e.t, id, 0);
    cr_assert_str_eq(json_string_value(json_object_get(inc, "status")), "false-positive");
    cr_assert_str_eq(json_string_value(json_object_get(inc, "close_reason")), "lab test");
    cr_assert_str_eq(json_string_value(json_object_get(inc, "unit")), "Sở Y tế");
    cr_assert_str_eq(json_string_value(json_object_get(inc, "tlp")), "red");
    cr_assert_eq(json_integer_value(json_object_get(inc, "unit_override")), 1);
    cr_assert_gt(json_number_value(json_object_get(inc, "contained_at")), 0);
    cr_assert_gt(json_number_value(json_object_get(inc, "resolved_at")), 0);
    cr_assert_eq(json_array_size(json_object_get(inc, "notes")), 1);
    /* status: new, ack, investigating, contained, resolved, investigating, false-positive */
    long long n = q(&e, "SELECT COUNT(*) FROM history WHERE field='status'");
    cr_assert_eq(n, 7);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM history WHERE user='lan' AND field='assignee'"
                       " AND new='minh'"),
                 1);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM history WHERE field='unit'"), 1);
    json_decref(inc);
    cr_assert_eq(tkt_resolve(e.t, "inc-2026-000001"), id);
    cr_assert_eq(tkt_resolve(e.t, "INC-2026-999999"), -1);
    env_close(&e);
}

Test(triage, merge)
{
    struct env e;
    env_open(&e, NULL);
    FILE *f = fopen(path("m.json"), "w");
    alert(f, "2026-03-01T10:00:00Z", "198.51.100.7", "10.10.2.2", 1, "a", "c", 3, NULL, 1);
    alert(f, "2026-03-01T10:01:00Z", "198.51.100.7", "10.10.2.3", 1, "a", "c", 2, NULL, 2);
    alert(f, "2026-03-01T10:02:00Z", "198.51.100.7", "10.10.2.3", 1, "a", "c", 2, NULL, 3);
    fclose(f);
    struct ting_stats st;
    ingest(&e, path("m.json"), &st);
    ting_stats_free(&st);
    long long a = q(&e, "SELECT id FROM incidents WHERE asset_ip='10.10.2.2'");
    long long b = q(&e, "SELECT id FROM incidents WHERE asset_ip='10.10.2.3'");
    cr_assert_neq(tkt_merge(e.t, a, &a, 1, "lan", err), 0);
    cr_assert_eq(tkt_merge(e.t, a, &b, 1, "lan", err), 0, "%s", err);
    json_t *inc = tkt_json(e.t, a, 1);
    cr_assert_eq(json_integer_value(json_object_get(inc, "count")), 3);
    cr_assert_eq(json_array_size(json_object_get(inc, "alerts")), 3);
    json_decref(inc);
    inc = tkt_json(e.t, b, 0);
    cr_assert_str_eq(json_string_value(json_object_get(inc, "status")), "duplicate");
    cr_assert(strstr(json_string_value(json_object_get(inc, "close_reason")), "merged into INC-"));
    json_decref(inc);
    env_close(&e);
}

Test(triage, split)
{
    struct env e;
    env_open(&e, NULL);
    long long id = one_incident(&e), nid = 0;
    cr_assert_neq(tkt_split(e.t, id, 12345, NULL, 0, "lan", &nid, err), 0, "no such alerts");
    cr_assert_eq(tkt_split(e.t, id, 3, NULL, 0, "lan", &nid, err), 0, "%s", err);
    cr_assert_gt(nid, id);
    json_t *a = tkt_json(e.t, id, 1), *b = tkt_json(e.t, nid, 1);
    cr_assert_eq(json_integer_value(json_object_get(a, "count")), 2);
    cr_assert_eq(json_integer_value(json_object_get(b, "count")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(b, "ref")), "INC-2026-000002");
    /* its own title, from what it holds; the parent keeps its own */
    cr_assert_str_eq(json_string_value(json_object_get(b, "title")),
                     "Sở Thông tin và Truyền thông: ET MALWARE beacon");
    cr_assert_str_eq(json_string_value(json_object_get(a, "title")),
                     "Sở Thông tin và Truyền thông: ET SCAN Nmap");
    cr_assert_eq(
        json_integer_value(json_object_get(json_array_get(json_object_get(b, "alerts"), 0), "sid")),
        3);
    long long ev =
        json_integer_value(json_object_get(json_array_get(json_object_get(a, "alerts"), 0), "id"));
    long long other =
        json_integer_value(json_object_get(json_array_get(json_object_get(a, "alerts"), 1), "id"));
    json_decref(a);
    json_decref(b);
    long long both[2] = {ev, other};
    cr_assert_neq(tkt_split(e.t, id, 0, both, 2, "lan", &nid, err), 0, "every alert");
    cr_assert_eq(tkt_split(e.t, id, 0, both, 1, "lan", &nid, err), 0, "%s", err);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM incidents"), 3);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM history WHERE field='split'"), 4);
    env_close(&e);
}

static char *export_to_string(int (*fn)(FILE *, const json_t *, char *), const json_t *inc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    cr_assert_eq(fn(m, inc, err), 0, "%s", err);
    fclose(m);
    return buf;
}

static int md_vi(FILE *o, const json_t *inc, char *e)
{
    return texp_md(o, inc, 1, e);
}

static int is_stix_id(const char *id, const char *type)
{
    size_t l = strlen(type);
    if (id == NULL || strncmp(id, type, l) != 0 || strncmp(id + l, "--", 2) != 0)
        return 0;
    const char *u = id + l + 2;
    if (strlen(u) != 36)
        return 0;
    for (int i = 0; i < 36; i++)
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? u[i] != '-'
                                                      : !strchr("0123456789abcdef", u[i]))
            return 0;
    return 1;
}

static int is_ts(const char *s)
{
    return s && strlen(s) >= 20 && s[4] == '-' && s[10] == 'T' && s[strlen(s) - 1] == 'Z';
}

Test(triage, exports)
{
    struct env e;
    env_open(&e, NULL);
    long long id = one_incident(&e);
    json_t *inc = tkt_json(e.t, id, 1);
    /* json */
    char *s = export_to_string(texp_json, inc);
    json_t *j = json_loads(s, 0, NULL);
    cr_assert_not_null(j);
    cr_assert_str_eq(json_string_value(json_object_get(j, "ref")), "INC-2026-000001");
    json_decref(j);
    free(s);
    /* markdown */
    s = export_to_string(md_vi, inc);
    cr_assert(strstr(s, "# INC-2026-000001"));
    cr_assert(strstr(s, "Lý do chấm điểm"));
    cr_assert(strstr(s, "ET EXPLOIT Struts"));
    free(s);
    /* STIX 2.1 */
    s = export_to_string(texp_stix, inc);
    json_t *b = json_loads(s, 0, NULL);
    free(s);
    cr_assert_not_null(b);
    cr_assert_str_eq(json_string_value(json_object_get(b, "type")), "bundle");
    cr_assert(is_stix_id(json_string_value(json_object_get(b, "id")), "bundle"));
    json_t *objs = json_object_get(b, "objects");
    size_t i;
    json_t *o;
    int n_ident = 0, n_ind = 0, n_od = 0, n_sight = 0;
    json_t *ids = json_object();
    json_array_foreach(objs, i, o)
        json_object_set_new(ids, json_string_value(json_object_get(o, "id")), json_true());
    json_array_foreach(objs, i, o)
    {
        const char *type = json_string_value(json_object_get(o, "type"));
        cr_assert_not_null(type);
        cr_assert_str_eq(json_string_value(json_object_get(o, "spec_version")), "2.1");
        cr_assert(is_stix_id(json_string_value(json_object_get(o, "id")), type), "%s",
                  json_string_value(json_object_get(o, "id")));
        int sdo = strcmp(type, "identity") == 0 || strcmp(type, "indicator") == 0 ||
                  strcmp(type, "observed-data") == 0 || strcmp(type, "sighting") == 0;
        if (sdo) {
            cr_assert(is_ts(json_string_value(json_object_get(o, "created"))));
            cr_assert(is_ts(json_string_value(json_object_get(o, "modified"))));
        }
        if (strcmp(type, "identity") == 0) {
            n_ident++;
            cr_assert_not_null(json_string_value(json_object_get(o, "name")));
        } else if (strcmp(type, "indicator") == 0) {
            n_ind++;
            const char *p = json_string_value(json_object_get(o, "pattern"));
            cr_assert(p && p[0] == '[' && p[strlen(p) - 1] == ']', "%s", p);
            cr_assert_str_eq(json_string_value(json_object_get(o, "pattern_type")), "stix");
            cr_assert(is_ts(json_string_value(json_object_get(o, "valid_from"))));
        } else if (strcmp(type, "observed-data") == 0) {
            n_od++;
            cr_assert(is_ts(json_string_value(json_object_get(o, "first_observed"))));
            cr_assert(is_ts(json_string_value(json_object_get(o, "last_observed"))));
            cr_assert_geq(json_integer_value(json_object_get(o, "number_observed")), 1);
            json_t *refs = json_object_get(o, "object_refs");
            cr_assert_gt(json_array_size(refs), 0);
            size_t k;
            json_t *r;
            json_array_foreach(refs, k, r) cr_assert_not_null(
                json_object_get(ids, json_string_value(r)), "dangling %s", json_string_value(r));
        } else if (strcmp(type, "sighting") == 0) {
            n_sight++;
            const char *ref = json_string_value(json_object_get(o, "sighting_of_ref"));
            cr_assert(is_stix_id(ref, "indicator"));
            cr_assert_not_null(json_object_get(ids, ref));
        } else if (strcmp(type, "ipv4-addr") == 0) {
            cr_assert_not_null(json_string_value(json_object_get(o, "value")));
        }
    }
    cr_assert_eq(n_ident, 1);
    cr_assert_eq(n_od, 1);
    /* two external actors are indicators; the internal asset is not */
    cr_assert_eq(n_ind, 2);
    cr_assert_eq(n_sight, 2);
    json_decref(ids);
    json_decref(b);
    /* MISP */
    s = export_to_string(texp_misp, inc);
    json_t *m = json_loads(s, 0, NULL);
    free(s);
    json_t *ev = json_object_get(m, "Event");
    cr_assert_not_null(json_string_value(json_object_get(ev, "info")));
    json_t *attrs = json_object_get(ev, "Attribute");
    cr_assert_eq(json_array_size(attrs), 3);
    json_array_foreach(attrs, i, o)
    {
        const char *v = json_string_value(json_object_get(o, "value"));
        int ids_flag = json_is_true(json_object_get(o, "to_ids"));
        if (strcmp(v, "10.20.0.5") == 0)
            cr_assert(!ids_flag &&
                      strcmp(json_string_value(json_object_get(o, "type")), "ip-dst") == 0);
        else
            cr_assert(ids_flag, "%s", v);
    }
    json_decref(m);
    json_decref(inc);
    env_close(&e);
}

/* Our own hosts (HOME_NET, the inventory's addresses and names) are context, never IoCs. */
Test(triage, exports_keep_internal_hosts_out_of_indicators)
{
    struct env e;
    env_open(&e, NULL);
    FILE *f = fopen(path("i.json"), "w");
    fputs("{\"timestamp\":\"2026-03-01T10:00:00Z\",\"flow_id\":1,\"event_type\":\"alert\","
          "\"src_ip\":\"198.51.100.7\",\"dest_ip\":\"10.10.1.5\",\"http\":{\"hostname\":"
          "\"portal.tphcm.example\",\"url\":\"/cgi-bin/x\"},\"alert\":{\"signature_id\":1,"
          "\"signature\":\"ET EXPLOIT x\",\"severity\":1}}\n",
          f);
    /* the hacked host asks the city resolver (internal, not in the inventory) for a C2 name */
    fputs("{\"timestamp\":\"2026-03-01T10:05:00Z\",\"flow_id\":2,\"event_type\":\"alert\","
          "\"src_ip\":\"10.10.1.5\",\"dest_ip\":\"192.168.0.53\",\"dns\":{\"query\":[{"
          "\"rrname\":\"c2.example\"}]},\"http\":{\"hostname\":\"evil.example\","
          "\"url\":\"/gate\"},\"alert\":{\"signature_id\":2,\"signature\":\"ET MALWARE CnC\","
          "\"severity\":1}}\n",
          f);
    fclose(f);
    struct ting_stats st;
    ingest(&e, path("i.json"), &st);
    ting_stats_free(&st);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM incidents"), 1);
    json_t *inc = tkt_json(e.t, 1, 1);
    tkt_mark_internal(inc, &e.cfg);
    char *s = export_to_string(texp_misp, inc);
    json_t *m = json_loads(s, 0, NULL);
    free(s);
    json_t *attrs = json_object_get(json_object_get(m, "Event"), "Attribute");
    const char *want_ids[] = {"198.51.100.7", "evil.example", "http://evil.example/gate"};
    const char *want_ours[] = {"10.10.1.5", "192.168.0.53", "portal.tphcm.example",
                               "http://portal.tphcm.example/cgi-bin/x"};
    size_t nids = 0, nours = 0, i;
    json_t *o;
    json_array_foreach(attrs, i, o)
    {
        const char *v = json_string_value(json_object_get(o, "value"));
        int ids = json_is_true(json_object_get(o, "to_ids"));
        for (size_t k = 0; k < 3; k++)
            if (strcmp(v, want_ids[k]) == 0) {
                cr_assert(ids, "%s must be an indicator", v);
                nids++;
            }
        for (size_t k = 0; k < 4; k++)
            if (strcmp(v, want_ours[k]) == 0) {
                cr_assert(!ids, "%s is ours, not an indicator", v);
                nours++;
            }
    }
    cr_assert_eq(nids, 3);
    cr_assert_eq(nours, 4);
    cr_assert_eq(json_array_size(attrs), 7);
    json_decref(m);
    s = export_to_string(texp_stix, inc);
    json_t *b = json_loads(s, 0, NULL);
    free(s);
    size_t nind = 0;
    json_array_foreach(json_object_get(b, "objects"), i, o)
    {
        if (strcmp(json_string_value(json_object_get(o, "type")), "indicator") != 0)
            continue;
        const char *name = json_string_value(json_object_get(o, "name"));
        for (size_t k = 0; k < 4; k++)
            cr_assert_str_neq(name, want_ours[k]);
        nind++;
    }
    cr_assert_eq(nind, 3);
    json_decref(b);
    json_decref(inc);
    env_close(&e);
}

/* Traffic-derived strings (msg, User-Agent, URL, the EVE's asset names) reach the report only
 * escaped; the report forbids scripts (docs/security.md). */
Test(triage, html_report_escapes_hostile_strings)
{
    static const char hostile[] = "<script>alert(1)</script>\"'><img src=x onerror=alert(1)>";
    static const char escaped[] = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img "
                                  "src=x onerror=alert(1)&gt;";
    struct env e;
    env_open(&e, NULL);
    json_t *ev =
        json_pack("{s:s,s:i,s:s,s:s,s:s,s:{s:s,s:s,s:s},s:{s:s,s:s,s:s,s:s},s:{s:i,s:s,s:s,s:i}}",
                  "timestamp", "2026-03-01T10:00:00Z", "flow_id", 1, "event_type", "alert",
                  "src_ip", "198.51.100.7", "dest_ip", "10.10.1.5", "http", "hostname", hostile,
                  "url", hostile, "http_user_agent", hostile, "dest_asset", "status", "known",
                  "unit", hostile, "system", hostile, "criticality", "high", "alert",
                  "signature_id", 1, "signature", hostile, "category", hostile, "severity", 1);
    cr_assert_not_null(ev);
    FILE *f = fopen(path("h.json"), "w");
    cr_assert_eq(json_dumpf(ev, f, JSON_COMPACT), 0);
    fputc('\n', f);
    fclose(f);
    json_decref(ev);
    struct ting_stats st;
    ingest(&e, path("h.json"), &st);
    ting_stats_free(&st);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM incidents"), 1);
    for (int vi = 0; vi < 2; vi++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        cr_assert_eq(trep_html(m, e.t, tcfg_parse_time("2026-01-01"), vi, err), 0, "%s", err);
        fclose(m);
        cr_assert_null(strstr(buf, hostile), "a raw traffic string in the report");
        cr_assert_null(strstr(buf, "<script"), "a script element in the report");
        cr_assert_null(strstr(buf, "<img"));
        cr_assert_null(strstr(buf, "alert(1)\""));
        /* the unit, the signature and the title (asset: msg) are all there, escaped */
        size_t n = 0;
        for (const char *p = buf; (p = strstr(p, escaped)) != NULL; p++)
            n++;
        cr_assert_geq(n, 3, "escaped %zu times:\n%s", n, buf);
        cr_assert(strstr(buf, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
                              "'none'; style-src 'unsafe-inline'; img-src data:; script-src "
                              "'none';"),
                  "no CSP");
        free(buf);
    }
    env_close(&e);
}

Test(triage, html_report)
{
    struct env e;
    env_open(&e, NULL);
    long long id = one_incident(&e);
    struct tkt_change c = {.user = "lan", .status = "acknowledged"};
    cr_assert_eq(tkt_update(e.t, id, &c, err), 0);
    for (int vi = 0; vi < 2; vi++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        cr_assert_eq(trep_html(m, e.t, tcfg_parse_time("2026-01-01"), vi, err), 0, "%s", err);
        fclose(m);
        const char *sections[] = {"id=\"summary\"",
                                  "id=\"by-unit\"",
                                  "id=\"timeline\"",
                                  "<svg",
                                  "<rect",
                                  "id=\"top-signatures\"",
                                  "id=\"top-actors\"",
                                  "id=\"time-to-respond\"",
                                  "INC-2026-000001",
                                  "ET EXPLOIT Struts",
                                  "Sở Thông tin và Truyền thông",
                                  "198.51.100.7",
                                  "<style>"};
        for (size_t k = 0; k < sizeof(sections) / sizeof(sections[0]); k++)
            cr_assert(strstr(buf, sections[k]), "missing %s", sections[k]);
        cr_assert(strstr(buf, vi ? "Báo cáo sự cố" : "Security incident report"));
        cr_assert_null(strstr(buf, "http://"));
        cr_assert_null(strstr(buf, "https://"));
        cr_assert_null(strstr(buf, "<script src"));
        cr_assert_null(strstr(buf, "<link"));
        free(buf);
    }
    env_close(&e);
}

/* A config naming /dev/zero or a FIFO as its inventory or GeoIP database (or being one) is refused
 * at once with the path and "not a regular file": no read that never ends or never starts. */
Test(triage, config_refuses_files_that_are_not_regular, .timeout = 20)
{
    struct tcfg cfg;
    char want[600], fifo[512];
    snprintf(fifo, sizeof(fifo), "%s", path("fifo")); /* path() reuses its buffers */
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    static const char *const names[] = {"assets", "geoip"};
    static const char *const what[] = {"inventory", "GeoIP database"};
    const char *targets[] = {"/dev/zero", fifo};
    for (int n = 0; n < 2; n++)
        for (int k = 0; k < 2; k++) {
            FILE *f = fopen(path("nr.yaml"), "w");
            cr_assert_not_null(f);
            fprintf(f, "%s: %s\n", names[n], targets[k]);
            fclose(f);
            cr_assert_eq(tcfg_defaults(&cfg), 0);
            cr_assert_eq(tcfg_load(&cfg, path("nr.yaml"), err), -1);
            snprintf(want, sizeof(want), "%s: %s %s: not a regular file", path("nr.yaml"), what[n],
                     targets[k]);
            cr_assert_str_eq(err, want);
            tcfg_free(&cfg);
        }
    /* the same through the command-line setters (tcfg_set_assets / tcfg_add_geoip) */
    cr_assert_eq(tcfg_defaults(&cfg), 0);
    cr_assert_eq(tcfg_set_assets(&cfg, "/dev/zero"), 0);
    cr_assert_eq(tcfg_finish(&cfg, err), -1);
    cr_assert_str_eq(err, "inventory /dev/zero: not a regular file");
    tcfg_free(&cfg);
    cr_assert_eq(tcfg_defaults(&cfg), 0);
    cr_assert_eq(tcfg_add_geoip(&cfg, fifo), 0);
    cr_assert_eq(tcfg_finish(&cfg, err), -1);
    snprintf(want, sizeof(want), "GeoIP database %s: not a regular file", fifo);
    cr_assert_str_eq(err, want);
    tcfg_free(&cfg);
    /* and the config itself */
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(tcfg_defaults(&cfg), 0);
        cr_assert_eq(tcfg_load(&cfg, targets[k], err), -1);
        snprintf(want, sizeof(want), "%s: not a regular file", targets[k]);
        cr_assert_str_eq(err, want);
        tcfg_free(&cfg);
    }
    /* ingest of a device: refused, nothing read */
    struct env e;
    env_open(&e, NULL);
    struct ting_opts o = {0};
    struct ting_stats st = {0};
    cr_assert_eq(ting_ingest(e.t, &e.cfg, "/dev/zero", &o, &st, err), -1);
    cr_assert_str_eq(err, "/dev/zero: not a regular file, directory or FIFO");
    cr_assert_eq(st.lines, 0);
    env_close(&e);
    /* a missing inventory: the path and errno's reason */
    cr_assert_eq(tcfg_defaults(&cfg), 0);
    cr_assert_eq(tcfg_set_assets(&cfg, path("absent.yaml")), 0);
    cr_assert_eq(tcfg_finish(&cfg, err), -1);
    snprintf(want, sizeof(want), "inventory %s: No such file or directory", path("absent.yaml"));
    cr_assert_str_eq(err, want);
    tcfg_free(&cfg);
}

Test(triage, config_errors)
{
    struct tcfg cfg;
    cr_assert_eq(tcfg_defaults(&cfg), 0);
    FILE *f = fopen(path("bad.yaml"), "w");
    fputs("grouping:\n  window: soon\n", f);
    fclose(f);
    cr_assert_neq(tcfg_load(&cfg, path("bad.yaml"), err), 0);
    cr_assert(strstr(err, "window"), "%s", err);
    f = fopen(path("bad2.yaml"), "w");
    fputs("assets:\n  - cidr: 10.0.0.0/8\n", f); /* the inline list of older versions */
    fclose(f);
    cr_assert_neq(tcfg_load(&cfg, path("bad2.yaml"), err), 0);
    cr_assert(strstr(err, "inventory file"), "%s", err);
    f = fopen(path("inv.yaml"), "w");
    fputs("version: 1\nassets:\n  - network: 10.0.0.0/99\n    unit: u\n    system: s\n", f);
    fclose(f);
    f = fopen(path("bad4.yaml"), "w");
    fputs("assets: inv.yaml\n", f);
    fclose(f);
    cr_assert_neq(tcfg_load(&cfg, path("bad4.yaml"), err), 0);
    cr_assert(strstr(err, "inv.yaml:3: prefix length 99"), "%s", err); /* the shared loader */
    f = fopen(path("bad3.yaml"), "w");
    fputs("a: [\n", f);
    fclose(f);
    cr_assert_neq(tcfg_load(&cfg, path("bad3.yaml"), err), 0);
    tcfg_free(&cfg);
    /* the shipped rules load */
    const char *src = getenv("VIGIL_SOURCE_DIR");
    if (src != NULL) {
        char p[512];
        snprintf(p, sizeof(p), "%s/rules/triage.yaml", src);
        cr_assert_eq(tcfg_defaults(&cfg), 0);
        cr_assert_eq(tcfg_load(&cfg, p, err), 0, "%s", err);
        /* the sensor's inventory (rules/assets.sample.yaml), through the shared loader */
        struct tcfg_addr ta;
        cr_assert_eq(tcfg_addr(&cfg, "10.20.11.7", &ta), 0);
        cr_assert(ta.internal);
        cr_assert_not_null(ta.asset);
        cr_assert_str_eq(ta.asset->unit, "Sở Kế hoạch và Đầu tư");
        cr_assert_str_eq(ta.asset->system, "Hệ thống đăng ký kinh doanh");
        cr_assert_eq(tcfg_addr(&cfg, "10.10.1.5", &ta), 0);
        cr_assert_str_eq(ta.asset->id, "portal");
        cr_assert_eq(ta.asset->criticality, ENRICH_CRIT_HIGH);
        cr_assert_eq(tcfg_addr(&cfg, "198.51.100.20", &ta), 0); /* an asset outside HOME_NET */
        cr_assert(ta.internal);
        cr_assert_str_eq(ta.asset->id, "dvc");
        cr_assert_eq(tcfg_addr(&cfg, "192.168.7.7", &ta), 0); /* HOME_NET, no entry */
        cr_assert(ta.internal);
        cr_assert_null(ta.asset);
        cr_assert(!tcfg_internal(&cfg, "8.8.8.8"));
        cr_assert_eq(tcfg_addr(&cfg, "not-an-ip", &ta), -1);
        tcfg_free(&cfg);
    }
    cr_assert_eq((long long)tcfg_parse_time("2026-01-31T10:00:00.5+0700"),
                 (long long)tcfg_parse_time("2026-01-31T03:00:00Z"));
    cr_assert_lt(tcfg_parse_time("2026-13-01"), 0);
    /* exact values (the parser does its own calendar arithmetic) */
    cr_assert_float_eq(tcfg_parse_time("2024-05-01T00:21:00.005000+0000"), 1714522860.005, 1e-6);
    cr_assert_float_eq(tcfg_parse_time("2026-03-01"), 1772323200.0, 1e-9);
    cr_assert_float_eq(tcfg_parse_time("2000-02-29T12:00:00Z"), 951825600.0, 1e-9);
    cr_assert_float_eq(tcfg_parse_time("2100-03-01 00:00"), 4107542400.0, 1e-9);
    cr_assert_float_eq(tcfg_parse_time("2026-03-01T07:00:00+07:00"), 1772323200.0, 1e-9);
    cr_assert_float_eq(tcfg_parse_time("2026-03-01T00:00:00-0130"), 1772323200.0 + 5400, 1e-9);
    const char *bad[] = {"2026-1-31", "2026-01-31T1:00:00Z", "2026-01-31T10:00:00+7",
                         "20260131",  "2026-01-31T10:00:xx", "2026-01-31T10:00:00Q",
                         "2026-01-3"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
        cr_assert_lt(tcfg_parse_time(bad[k]), 0, "%s", bad[k]);
}

static long long count_alerts(const char *db)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    long long n = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, "SELECT COUNT(*) FROM events WHERE event_type='alert'", -1, &s,
                           NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(h);
    return n;
}

static int wait_alerts(const char *db, long long want)
{
    for (int k = 0; k < 100; k++) {
        if (count_alerts(db) == want)
            return 1;
        usleep(100000);
    }
    return 0;
}

static void append_alerts(const char *file, int from, int n, const char *tail)
{
    FILE *f = fopen(file, "a");
    for (int i = from; i < from + n; i++) {
        char ts[64];
        snprintf(ts, sizeof(ts), "2026-03-01T10:%02d:%02dZ", i / 60, i % 60);
        alert(f, ts, "198.51.100.7", "10.10.1.5", 100 + i, "follow", "c", 3, NULL, i);
    }
    if (tail)
        fputs(tail, f);
    fclose(f);
}

/* --follow: growth, a partial last line, rotation, and a clean stop on SIGTERM. */
Test(triage, follow)
{
    const char *bd = getenv("VIGIL_BUILD_DIR");
    if (bd == NULL)
        cr_skip_test("VIGIL_BUILD_DIR unset");
    char bin[512], db[600], eve[600], rot[600];
    snprintf(bin, sizeof(bin), "%s/vigil-triage", bd);
    snprintf(db, sizeof(db), "%s", path("f.db"));
    snprintf(eve, sizeof(eve), "%s", path("eve.json"));
    snprintf(rot, sizeof(rot), "%s", path("eve.json.1"));
    append_alerts(eve, 0, 10, NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        execl(bin, bin, "--db", db, "ingest", eve, "--follow", (char *)NULL);
        _exit(127);
    }
    cr_assert(wait_alerts(db, 10), "first 10: %lld", count_alerts(db));
    append_alerts(eve, 10, 5, "{\"timestamp\":\"2026-03-01T11:00:00Z\",\"event_type\":\"al");
    cr_assert(wait_alerts(db, 15), "growth: %lld", count_alerts(db));
    usleep(300000);
    cr_assert_eq(count_alerts(db), 15, "a partial line was taken");
    FILE *f = fopen(eve, "a");
    fputs("ert\",\"src_ip\":\"198.51.100.7\",\"dest_ip\":\"10.10.1.5\",\"alert\":"
          "{\"signature_id\":7,\"signature\":\"joined\",\"severity\":2}}\n",
          f);
    fclose(f);
    cr_assert(wait_alerts(db, 16), "completed line: %lld", count_alerts(db));
    cr_assert_eq(rename(eve, rot), 0);
    append_alerts(rot, 20, 2, NULL); /* written to the old file after rotation */
    append_alerts(eve, 30, 3, NULL);
    cr_assert(wait_alerts(db, 21), "rotation: %lld", count_alerts(db));
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
}

/* The command line: exit codes and one-line reasons. */
Test(triage, cli)
{
    const char *bd = getenv("VIGIL_BUILD_DIR");
    if (bd == NULL)
        cr_skip_test("VIGIL_BUILD_DIR unset");
    char bin[512], cmd[4096];
    snprintf(bin, sizeof(bin), "%s/vigil-triage", bd);
    killchain_file("k.json", 1);
    snprintf(cmd, sizeof(cmd), "%s --version >/dev/null", bin);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s frobnicate 2>/dev/null", bin);
    cr_assert_neq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "cd %s && %s ingest k.json >/dev/null && %s list --json > l.json",
             dir, bin, bin);
    cr_assert_eq(system(cmd), 0);
    json_t *l = json_load_file(path("l.json"), 0, NULL);
    cr_assert_eq(json_array_size(l), 1);
    json_decref(l);
    snprintf(cmd, sizeof(cmd),
             "VIGIL_TRIAGE_DB=%s/vigil-triage.db %s update INC-2026-000001 "
             "--status resolved --user x && VIGIL_TRIAGE_DB=%s/vigil-triage.db %s update "
             "INC-2026-000001 --status new 2>%s/err.txt",
             dir, bin, dir, bin, dir);
    cr_assert_neq(system(cmd), 0);
    FILE *f = fopen(path("err.txt"), "r");
    char line[256] = "";
    cr_assert_not_null(fgets(line, sizeof(line), f));
    fclose(f);
    cr_assert(strstr(line, "invalid transition resolved -> new"), "%s", line);
    snprintf(cmd, sizeof(cmd),
             "cd %s && %s export INC-2026-000001 --format stix -o s.json && "
             "%s report --since 2026-01-01 --lang en -o r.html && %s show 999 2>/dev/null",
             dir, bin, bin, bin);
    cr_assert_neq(system(cmd), 0);
    cr_assert_eq(access(path("r.html"), F_OK), 0);
    /* suppressed alerts stay visible on request */
    snprintf(cmd, sizeof(cmd),
             "cd %s && %s suppress add --sid 2 --reason lab >/dev/null && "
             "%s ingest k.json >/dev/null && cp k.json k2.json && sed -i 's/10:10:00/10:11:00/' "
             "k2.json && %s ingest k2.json >/dev/null && %s suppress alerts --json > sa.json",
             dir, bin, bin, bin, bin);
    cr_assert_eq(system(cmd), 0);
    json_t *sa = json_load_file(path("sa.json"), 0, NULL);
    cr_assert_eq(json_array_size(sa), 1);
    cr_assert_str_eq(json_string_value(json_array_get(json_array_get(sa, 0), 1)), "2");
    json_decref(sa);
    cr_assert_eq(access(path("s.json"), F_OK), 0);
}
