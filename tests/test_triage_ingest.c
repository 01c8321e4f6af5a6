/* test_triage_ingest.c: vigil-triage at volume: the store (schema 3, grouped inserts, duplicates)
 * and correlation past its cache bound (eviction). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/triage.h"

static char dir[256];
static char err[TRIAGE_ERRBUF];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/vigil-triage-ingest-XXXXXX");
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
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
    return p[k];
}

/* Alert line i: its own timestamp, flow and source (every i a distinct event). */
static void line(FILE *f, int i)
{
    fprintf(f,
            "{\"timestamp\":\"2026-03-01T%02d:%02d:%02d.000000+0700\",\"flow_id\":%d,"
            "\"event_type\":\"alert\",\"src_ip\":\"198.51.100.%d\",\"src_port\":4444,"
            "\"dest_ip\":\"10.20.0.9\",\"dest_port\":80,\"proto\":\"TCP\",\"alert\":{"
            "\"signature_id\":%d,\"signature\":\"ET SCAN x\",\"category\":\"c\",\"severity\":2}}\n",
            i / 3600, i / 60 % 60, i % 60, 5000 + i, i % 250, 2001000 + i % 7);
}

struct env {
    struct tcfg cfg;
    struct tdb *t;
};

static void env_open(struct env *e)
{
    cr_assert_eq(tcfg_defaults(&e->cfg), 0);
    e->t = tdb_open(path("t.db"), err);
    cr_assert_not_null(e->t, "%s", err);
}

static void env_close(struct env *e)
{
    tdb_close(e->t);
    tcfg_free(&e->cfg);
}

static void ingest(struct env *e, const char *file, struct ting_stats *st)
{
    struct ting_opts o = {.no_correlate = 1};
    memset(st, 0, sizeof(*st));
    cr_assert_eq(ting_ingest(e->t, &e->cfg, file, &o, st, err), 0, "%s", err);
}

static long long q(struct env *e, const char *sql)
{
    return tdb_scalar(e->t, sql, NULL);
}

/* Every stored event has exactly its own line as raw text (the grouped insert gives each row
 * the right text), checked through the flow id that only that line carries. */
static void assert_raw_matches(struct env *e, long long n)
{
    cr_assert_eq(q(e, "SELECT COUNT(*) FROM event_raw"), n);
    cr_assert_eq(q(e, "SELECT COUNT(*) FROM events JOIN event_raw USING(id) WHERE"
                      " instr(raw, '\"flow_id\":' || flow_id || ',') > 0"),
                 n);
}

Test(triage_ingest, schema_4_page_size_identity_and_flow_indexes, .init = setup, .fini = teardown)
{
    struct env e;
    env_open(&e);
    cr_assert_eq(tdb_schema_version(e.t), 4);
    cr_assert_eq(q(&e, "PRAGMA page_size"), 16384);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM pragma_index_info('events_identity')"), 3);
    cr_assert_eq(q(&e, "SELECT seqno FROM pragma_index_info('events_identity') WHERE name='ts'"),
                 1);
    /* a store of schema 2 (identity on sensor, hash; every event in the flow index) gets the
     * new indexes on opening */
    cr_assert_eq(tdb_exec(e.t,
                          "DROP INDEX events_identity; CREATE UNIQUE INDEX events_identity ON"
                          " events(sensor, hash); DROP INDEX events_alertflow; DROP INDEX"
                          " events_flow; CREATE INDEX events_flow ON events(flow_id) WHERE"
                          " flow_id IS NOT NULL; UPDATE schema_version SET version=2",
                          err),
                 0, "%s", err);
    FILE *f = fopen(path("eve.json"), "w");
    for (int i = 0; i < 40; i++)
        line(f, i);
    fclose(f);
    struct ting_stats st;
    ingest(&e, path("eve.json"), &st);
    cr_assert_eq(st.events, 40);
    ting_stats_free(&st);
    env_close(&e);
    env_open(&e);
    cr_assert_eq(tdb_schema_version(e.t), 4);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM pragma_index_info('events_identity')"), 3);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM sqlite_master WHERE name='events_alertflow'"), 1);
    cr_assert_gt(q(&e, "SELECT instr(sql, 'alert') FROM sqlite_master WHERE name='events_flow'"),
                 0, "schema 4's flow index leaves alerts out");
    /* what schema 2 stored is still recognised */
    ingest(&e, path("eve.json"), &st); /* the same path: resumes at its end */
    cr_assert_eq(st.events, 0);
    ting_stats_free(&st);
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", path("eve.json"), path("copy.json"));
    cr_assert_eq(system(cmd), 0);
    ingest(&e, path("copy.json"), &st);
    cr_assert_eq(st.events, 0);
    cr_assert_eq(st.dups, 40);
    ting_stats_free(&st);
    env_close(&e);
}

Test(triage_ingest, duplicates_inside_and_across_groups, .init = setup, .fini = teardown)
{
    struct env e;
    env_open(&e);
    /* 0..39 twice (repeats in other groups of 16), 5 twice in a row (a repeat inside one group),
     * then 70..99: 70 distinct events, 42 duplicates */
    FILE *f = fopen(path("a.json"), "w");
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 40; i++)
            line(f, i);
    line(f, 5);
    line(f, 5);
    for (int i = 70; i < 100; i++)
        line(f, i);
    fclose(f);
    struct ting_stats st;
    ingest(&e, path("a.json"), &st);
    cr_assert_eq(st.lines, 112);
    cr_assert_eq(st.events, 70);
    cr_assert_eq(st.alerts, 70);
    cr_assert_eq(st.dups, 42);
    ting_stats_free(&st);
    assert_raw_matches(&e, 70);
    /* all 100 in another file: only 40..69 are new, in groups that mix new and stored */
    f = fopen(path("b.json"), "w");
    for (int i = 0; i < 100; i++)
        line(f, i);
    fclose(f);
    ingest(&e, path("b.json"), &st);
    cr_assert_eq(st.events, 30);
    cr_assert_eq(st.dups, 70);
    ting_stats_free(&st);
    assert_raw_matches(&e, 100);
    cr_assert_eq(q(&e, "SELECT COUNT(DISTINCT flow_id) FROM events"), 100);
    /* ids stay dense and in file order for what one group inserted */
    cr_assert_eq(q(&e, "SELECT MAX(id) - MIN(id) + 1 FROM events"), 100);
    env_close(&e);
}

Test(triage_ingest, many_lines_in_groups_and_a_tail, .init = setup, .fini = teardown)
{
    struct env e;
    env_open(&e);
    /* 10,007 lines: several parser batches, full groups and a partial one at the end, plus a
     * line with text after its JSON value (bad, with its line number) */
    FILE *f = fopen(path("big.json"), "w");
    for (int i = 0; i < 10007; i++) {
        line(f, i);
        if (i == 4100)
            fputs("{\"event_type\":\"alert\"} trailing\n", f);
    }
    fclose(f);
    struct ting_stats st;
    ingest(&e, path("big.json"), &st);
    cr_assert_eq(st.events, 10007);
    cr_assert_eq(st.bad, 1);
    cr_assert_eq(st.nexamples, 1);
    char want[600];
    snprintf(want, sizeof(want), "%s:4102: invalid JSON: end of file expected", path("big.json"));
    cr_assert_str_eq(st.examples[0], want);
    ting_stats_free(&st);
    assert_raw_matches(&e, 10007);
    cr_assert_eq(q(&e, "SELECT lineno FROM files"), 10008);
    env_close(&e);
}

/* One alert at second t of 2026-03-01 from src to dst. */
static void alert_at(FILE *f, double t, const char *src, const char *dst, int sid)
{
    int s = (int)t;
    fprintf(f,
            "{\"timestamp\":\"2026-03-01T%02d:%02d:%02d.%06dZ\",\"event_type\":\"alert\","
            "\"src_ip\":\"%s\",\"src_port\":4444,\"dest_ip\":\"%s\",\"dest_port\":80,"
            "\"proto\":\"TCP\",\"alert\":{\"signature_id\":%d,\"signature\":\"ET x\","
            "\"category\":\"c\",\"severity\":2}}\n",
            s / 3600, s / 60 % 60, s % 60, (int)((t - s) * 1e6), src, dst, sid);
}

/*
 * A host whose campaign hit left the cache comes back: it is read from the store, not counted
 * as a new host. Actor X forms a campaign against H1..H3 at 00:00 and keeps H2 busy; 24,000
 * alerts of others at 00:01-00:05 and 36,000 at 01:05-01:10 fill the cache past its bound, so
 * the third chunk's end evicts what is older than 00:10 (H1's hit among it) without clearing
 * the rest; X hits H1 again at 01:20. (Without the read-back the campaign counts 4 hosts.)
 */
Test(triage_ingest, evicted_campaign_host_is_not_counted_twice, .init = setup, .fini = teardown,
     .timeout = 120)
{
    FILE *f = fopen(path("assets.yaml"), "w");
    fputs("version: 1\nassets:\n  - network: 10.20.0.0/16\n    unit: U\n    system: S\n", f);
    fclose(f);
    f = fopen(path("triage.yaml"), "w");
    fprintf(f, "grouping:\n  window: 1h\n  keys: [asset]\ncampaign:\n  min_hosts: 3\n"
               "  window: 1h\nassets: assets.yaml\n");
    fclose(f);
    struct env e;
    cr_assert_eq(tcfg_defaults(&e.cfg), 0);
    cr_assert_eq(tcfg_load(&e.cfg, path("triage.yaml"), err), 0, "%s", err);
    e.t = tdb_open(path("t.db"), err);
    cr_assert_not_null(e.t, "%s", err);
    const char *x = "203.0.113.9";
    f = fopen(path("eve.json"), "w");
    alert_at(f, 0, x, "10.20.0.1", 2100001);
    alert_at(f, 1, x, "10.20.0.2", 2100001);
    alert_at(f, 2, x, "10.20.0.3", 2100001);
    int next_x = 600; /* X against H2 every 10 minutes until 02:00 */
    for (int part = 0; part < 2; part++)
        for (int i = 0; i < (part == 0 ? 24000 : 36000); i++) {
            double t = (part == 0 ? 60 : 3900) + i * (part == 0 ? 0.01 : 0.008);
            for (; next_x <= t; next_x += 600)
                alert_at(f, next_x, x, "10.20.0.2", 2100001);
            int n = part * 24000 + i;
            char src[32], dst[32]; /* 50 actors, every alert its own host */
            snprintf(src, sizeof(src), "45.1.1.%d", n % 50 + 1);
            snprintf(dst, sizeof(dst), "10.20.%d.%d", 1 + n / 250, n % 250 + 1);
            alert_at(f, t, src, dst, 3000000);
        }
    for (; next_x <= 7200; next_x += 600) {
        if (next_x == 4800)
            alert_at(f, 4800, x, "10.20.0.1", 2100001); /* H1 again, at 01:20 */
        alert_at(f, next_x, x, "10.20.0.2", 2100001);
    }
    fclose(f);
    struct ting_opts o = {0};
    struct ting_stats st = {0};
    cr_assert_eq(ting_ingest(e.t, &e.cfg, path("eve.json"), &o, &st, err), 0, "%s", err);
    cr_assert_eq(st.alerts, 60016);
    ting_stats_free(&st);
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM incidents WHERE kind='campaign' AND"
                       " actor='203.0.113.9'"),
                 1);
    cr_assert_eq(q(&e, "SELECT hosts FROM incidents WHERE kind='campaign' AND"
                       " actor='203.0.113.9'"),
                 3);
    /* both alerts against H1 are in the campaign's member incidents */
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM events WHERE dest_ip='10.20.0.1' AND incident_id IN"
                       " (SELECT id FROM incidents WHERE campaign_id=(SELECT id FROM incidents"
                       " WHERE kind='campaign' AND actor='203.0.113.9'))"),
                 2);
    env_close(&e);
}

Test(triage_ingest, checkpointer_nests_and_stops, .init = setup, .fini = teardown)
{
    struct env e;
    env_open(&e);
    cr_assert_eq(tdb_ckpt_start(e.t), 0);
    cr_assert_eq(tdb_ckpt_start(e.t), 0); /* nested: the same thread */
    cr_assert_not_null(e.t->ckpt);
    FILE *f = fopen(path("eve.json"), "w");
    for (int i = 0; i < 3000; i++)
        line(f, i);
    fclose(f);
    struct ting_stats st;
    ingest(&e, path("eve.json"), &st); /* a third user inside */
    cr_assert_eq(st.events, 3000);
    ting_stats_free(&st);
    tdb_ckpt_stop(e.t);
    cr_assert_not_null(e.t->ckpt);
    tdb_ckpt_stop(e.t);
    cr_assert_null(e.t->ckpt);
    tdb_ckpt_stop(e.t); /* once too often: nothing */
    cr_assert_eq(q(&e, "SELECT COUNT(*) FROM events"), 3000);
    env_close(&e);
}

/* The background checkpointer copies WAL frames back into the database file: SQLite 3.40 makes a
 * checkpoint on a connection that has not read yet a silent no-op, and the writer then did every
 * checkpoint itself (at 256 MiB of WAL). 80 MiB in one commit wakes the thread (64 MiB); the
 * database file grows only if it checkpoints. */
Test(triage_ingest, background_checkpointer_copies_frames, .init = setup, .fini = teardown)
{
    struct env e;
    env_open(&e);
    cr_assert_eq(tdb_exec(e.t, "CREATE TABLE scratch(b BLOB)", err), 0, "%s", err);
    struct stat sb;
    cr_assert_eq(stat(path("t.db"), &sb), 0);
    off_t before = sb.st_size;
    cr_assert_eq(tdb_ckpt_start(e.t), 0);
    cr_assert_eq(tdb_begin(e.t, err), 0, "%s", err);
    cr_assert_eq(tdb_exec(e.t,
                          "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c"
                          " WHERE x < 5000) INSERT INTO scratch SELECT randomblob(16000) FROM c",
                          err),
                 0, "%s", err);
    cr_assert_eq(tdb_commit(e.t, err), 0, "%s", err);
    for (int i = 0; i < 200 && stat(path("t.db"), &sb) == 0 && sb.st_size < before + (64 << 20);
         i++)
        usleep(50000); /* up to 10 s */
    cr_assert_geq(sb.st_size, before + (64 << 20), "database file %lld bytes: not checkpointed",
                  (long long)sb.st_size);
    tdb_ckpt_stop(e.t);
    env_close(&e);
}
