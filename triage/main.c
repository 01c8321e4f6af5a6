/* main.c: the vigil-triage command line: option parsing and dispatch to the triage modules. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vigil/triage-redis.h"

static const char *or_(const char *a, const char *b)
{
    return a ? a : b;
}

#ifndef VIGIL_TRIAGE_RULES
#define VIGIL_TRIAGE_RULES "rules/triage.yaml"
#endif

static const char usage[] =
    "usage: vigil-triage [--db FILE] [--config FILE] [--assets FILE] [--geoip-db FILE]...\n"
    "                    COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  ingest FILE|DIR|- [--follow] [--sensor NAME] [--batch N] [--no-correlate]\n"
    "  ingest --redis URL [--stream KEY] [--group G] [--consumer NAME] [--count N]\n"
    "         [--block MS] [--claim-idle MS] [--once] [--sensor NAME] [--no-correlate]\n"
    "  status [--redis URL] [--stream KEY]... [--json]\n"
    "  correlate                         (correlate alerts left pending)\n"
    "  list [--status S|open] [--severity N] [--unit U] [--since DATE] [--text T]\n"
    "       [--sort severity|score|first|last|count|id|status|unit] [--limit N] [--json]\n"
    "  show ID [--json] [--lang vi|en]\n"
    "  update ID [--status S] [--reason R] [--assign USER] [--unit U] [--tlp X] [--pap X]\n"
    "            [--note TEXT] [--user NAME]\n"
    "  merge ID ID... [--user NAME]      (the first ID absorbs the others)\n"
    "  split ID --event EVENT_ID... | --sid SID [--user NAME]  (alerts into a new incident)\n"
    "  reopen ID [--user NAME]\n"
    "  export ID --format json|md|stix|misp [--lang vi|en] [-o FILE]\n"
    "  report --since DATE [--lang vi|en] [-o FILE]\n"
    "  suppress add [--sid N] [--addr IP] [--asset NAME] [--expires DATE] [--reason R]\n"
    "  suppress list [--json] | suppress remove ID | suppress alerts [--json]\n"
    "\n"
    "The database is --db, else $VIGIL_TRIAGE_DB, else ./vigil-triage.db. The rules are\n"
    "--config, else $VIGIL_TRIAGE_CONFIG, else the bundled rules/triage.yaml.\n"
    "Statuses: new, acknowledged, investigating, contained, resolved, false-positive, duplicate.\n"
    "Severity: 1 critical, 2 high, 3 medium, 4 low; --severity N lists N and above.\n";

static volatile int stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int die(const char *msg)
{
    fprintf(stderr, "vigil-triage: %s\n", msg);
    return 1;
}

/* Takes the value of option name at argv[*i]; returns it or NULL (reporting a missing value). */
static const char *val(int argc, char **argv, int *i, const char *name, int *bad)
{
    if (strcmp(argv[*i], name) != 0)
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "vigil-triage: %s needs a value\n", name);
        *bad = 1;
        return NULL;
    }
    return argv[++*i];
}

static int lang_vi(const char *l, int def)
{
    if (l == NULL)
        return def;
    return strcmp(l, "en") != 0;
}

/* Parses a non-negative integer up to max into *out; returns 0, or -1 with a message. */
static int num_arg(const char *name, const char *v, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || n > max) {
        fprintf(stderr, "vigil-triage: %s: '%s' is not a number from 0 to %llu\n", name, v, max);
        return -1;
    }
    *out = n;
    return 0;
}

/* Copies v into a conf field of size cap; returns 0, or -1 with a message if empty or too long. */
static int str_arg(const char *name, const char *v, char *dst, size_t cap)
{
    if (v[0] == '\0' || strlen(v) >= cap) {
        fprintf(stderr, "vigil-triage: %s must be 1 to %zu characters\n", name, cap - 1);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static void on_stop_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: sleeps end early */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ingest --redis: a consumer of a Redis stream's consumer group (consume-redis.c). */
static int cmd_ingest_redis(struct tdb *t, struct tcfg *cfg, int argc, char **argv)
{
    struct tredis_conf c;
    const char *url = NULL, *stream = NULL, *v;
    unsigned long long n;
    int bad = 0;
    char err[TRIAGE_ERRBUF];
    tredis_conf_init(&c);
    c.stop = &stop_flag;
    for (int i = 1; i < argc; i++) {
        if ((v = val(argc, argv, &i, "--redis", &bad)))
            url = v;
        else if ((v = val(argc, argv, &i, "--stream", &bad)))
            stream = v;
        else if ((v = val(argc, argv, &i, "--group", &bad))) {
            if (str_arg("--group", v, c.group, sizeof(c.group)) != 0)
                return 2;
        } else if ((v = val(argc, argv, &i, "--consumer", &bad))) {
            if (str_arg("--consumer", v, c.consumer, sizeof(c.consumer)) != 0)
                return 2;
        } else if ((v = val(argc, argv, &i, "--count", &bad))) {
            if (num_arg("--count", v, 100000, &n) != 0)
                return 2;
            if (n == 0)
                return die("--count must be at least 1") + 1;
            c.count = (unsigned)n;
        } else if ((v = val(argc, argv, &i, "--block", &bad))) {
            if (num_arg("--block", v, 60000, &n) != 0)
                return 2;
            if (n == 0)
                return die("--block must be at least 1 ms") + 1;
            c.block_ms = (unsigned)n;
        } else if ((v = val(argc, argv, &i, "--claim-idle", &bad))) {
            if (num_arg("--claim-idle", v, 1ULL << 40, &n) != 0)
                return 2;
            c.claim_idle_ms = n;
        } else if ((v = val(argc, argv, &i, "--sensor", &bad)))
            c.sensor = v;
        else if (strcmp(argv[i], "--once") == 0)
            c.once = 1;
        else if (strcmp(argv[i], "--no-correlate") == 0)
            c.no_correlate = 1;
        else if (bad)
            return 2;
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return die("ingest --redis: unknown option (--follow and --batch are for files)") + 1;
        else
            return die("ingest --redis reads the stream, not FILE|DIR|-") + 1;
    }
    if (tredis_parse_url(&c, url, err) != 0)
        return die(err) + 1;
    if (stream && str_arg("--stream", stream, c.stream, sizeof(c.stream)) != 0)
        return 2;
    on_stop_signals();
    struct ting_stats st = {0};
    struct tredis_stats rs = {0};
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = tredis_ingest(t, cfg, &c, &st, &rs, err);
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (st.bad > (long long)st.nexamples)
        fprintf(stderr, "... and %lld more bad records\n", st.bad - (long long)st.nexamples);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("stream %s group %s consumer %s: entries %lld (claimed %lld, redelivered %lld), "
           "acked %lld, batches %lld, malformed %lld, trimmed %lld, reconnects %lld\n",
           c.stream, c.group, c.consumer, rs.entries, rs.claimed, rs.redelivered, rs.acked,
           rs.batches, rs.malformed, rs.trimmed, rs.reconnects);
    printf("records %lld, new events %lld (alerts %lld), duplicates %lld, skipped %lld, "
           "bad %lld, suppressed %lld; incidents %lld open; %.2f s\n",
           st.lines, st.events, st.alerts, st.dups, st.skipped, st.bad, st.suppressed,
           tdb_scalar(t,
                      "SELECT COUNT(*) FROM incidents WHERE status IN ('new','acknowledged',"
                      "'investigating','contained') AND merged_into IS NULL",
                      NULL),
           secs);
    ting_stats_free(&st);
    return rc == 0 ? 0 : die(err);
}

static int cmd_status(struct tdb *t, const char *dbpath, int argc, char **argv)
{
    struct tredis_conf c;
    const char *url = NULL, *streams[TREDIS_MAX_STREAMS], *v;
    size_t ns = 0;
    int bad = 0, json = 0;
    char err[TRIAGE_ERRBUF];
    tredis_conf_init(&c);
    for (int i = 1; i < argc; i++) {
        if ((v = val(argc, argv, &i, "--redis", &bad)))
            url = v;
        else if ((v = val(argc, argv, &i, "--stream", &bad))) {
            if (ns == TREDIS_MAX_STREAMS)
                return die("status: at most 16 --stream") + 1;
            streams[ns++] = v;
        } else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else
            return bad ? 2 : die("status: unexpected argument") + 1;
    }
    int have = 0;
    if (url != NULL) {
        if (tredis_parse_url(&c, url, err) != 0)
            return die(err) + 1;
        have = 1;
    } else {
        have = tredis_recall(t, &c); /* where the last ingest --redis read from */
    }
    json_t *redis = NULL;
    int rc = 0;
    if (have && (redis = tredis_status(&c, streams, ns, err)) == NULL) {
        fprintf(stderr, "vigil-triage: status: %s\n", err);
        rc = 1;
    }
    if (tstat_print(stdout, t, dbpath, redis, json, err) != 0)
        rc = die(err);
    json_decref(redis);
    return rc;
}

static int cmd_ingest(struct tdb *t, struct tcfg *cfg, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--redis") == 0)
            return cmd_ingest_redis(t, cfg, argc, argv);
    struct ting_opts o = {.stop = &stop_flag};
    const char *path = NULL, *v;
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--follow") == 0)
            o.follow = 1;
        else if (strcmp(argv[i], "--no-correlate") == 0)
            o.no_correlate = 1;
        else if ((v = val(argc, argv, &i, "--sensor", &bad)))
            o.sensor = v;
        else if ((v = val(argc, argv, &i, "--batch", &bad)))
            o.batch = atol(v);
        else if (bad)
            return 2;
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return die("ingest: unknown option") + 1;
        else if (path == NULL)
            path = argv[i];
        else
            return die("ingest: one FILE, DIR or - at a time") + 1;
    }
    if (path == NULL)
        return die("ingest: FILE, DIR or - expected") + 1;
    struct ting_stats st = {0};
    char err[TRIAGE_ERRBUF];
    on_stop_signals();
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = ting_ingest(t, cfg, path, &o, &st, err);
    clock_gettime(CLOCK_MONOTONIC, &b);
    for (size_t k = 0; k < st.nexamples; k++)
        fprintf(stderr, "%s\n", st.examples[k]);
    if (st.bad > (long long)st.nexamples)
        fprintf(stderr, "... and %lld more bad lines\n", st.bad - (long long)st.nexamples);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("lines %lld, new events %lld (alerts %lld), duplicates %lld, skipped %lld, "
           "bad %lld, suppressed %lld; incidents %lld open; %.2f s\n",
           st.lines, st.events, st.alerts, st.dups, st.skipped, st.bad, st.suppressed,
           tdb_scalar(t,
                      "SELECT COUNT(*) FROM incidents WHERE status IN ('new','acknowledged',"
                      "'investigating','contained') AND merged_into IS NULL",
                      NULL),
           secs);
    ting_stats_free(&st);
    return rc == 0 ? 0 : die(err);
}

static int cmd_correlate(struct tdb *t, struct tcfg *cfg)
{
    struct corr_stats cs = {0};
    char err[TRIAGE_ERRBUF];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    if (corr_run(t, cfg, &cs, err) != 0)
        return die(err);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("correlated %lld alerts (%lld suppressed, %lld files): %lld new incidents, %lld "
           "campaigns, %lld raised; %.2f s\n",
           cs.alerts, cs.suppressed, cs.files, cs.incidents_new, cs.campaigns, cs.incidents_raised,
           (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
    return 0;
}

static int cmd_list(struct tdb *t, int argc, char **argv)
{
    const char *status = NULL, *unit = NULL, *since = NULL, *text = NULL, *sort = "severity", *v;
    int sev = 0, json = 0, bad = 0;
    long limit = 200;
    for (int i = 1; i < argc; i++) {
        if ((v = val(argc, argv, &i, "--status", &bad)))
            status = v;
        else if ((v = val(argc, argv, &i, "--severity", &bad)))
            sev = atoi(v);
        else if ((v = val(argc, argv, &i, "--unit", &bad)))
            unit = v;
        else if ((v = val(argc, argv, &i, "--since", &bad)))
            since = v;
        else if ((v = val(argc, argv, &i, "--text", &bad)))
            text = v;
        else if ((v = val(argc, argv, &i, "--sort", &bad)))
            sort = v;
        else if ((v = val(argc, argv, &i, "--limit", &bad)))
            limit = atol(v);
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else
            return bad ? 2 : die("list: unknown argument") + 1;
    }
    static const struct {
        const char *name, *order;
    } sorts[] = {{"severity", "severity, score DESC, last_seen DESC"},
                 {"score", "score DESC, last_seen DESC"},
                 {"first", "first_seen"},
                 {"first_seen", "first_seen"},
                 {"last", "last_seen DESC"},
                 {"last_seen", "last_seen DESC"},
                 {"count", "count DESC"},
                 {"id", "id"},
                 {"status", "status, severity"},
                 {"unit", "unit, severity"}};
    const char *order = NULL;
    for (size_t k = 0; k < sizeof(sorts) / sizeof(sorts[0]); k++)
        if (strcmp(sort, sorts[k].name) == 0)
            order = sorts[k].order;
    if (order == NULL)
        return die("list: unknown --sort field") + 1;
    double since_t = 0;
    if (since && (since_t = tcfg_parse_time(since)) < 0)
        return die("list: bad --since date (YYYY-MM-DD, ISO 8601, or 7d/12h)") + 1;
    if (sev < 0 || sev > 4)
        return die("list: --severity is 1 (critical) to 4 (low)") + 1;
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "SELECT ref, severity, score, status, unit, count, first_seen, last_seen, title,"
             " assignee, kind FROM incidents WHERE merged_into IS NULL"
             " AND (?1 IS NULL OR status=?1 OR (?1='open' AND status IN ('new','acknowledged',"
             "'investigating','contained')))"
             " AND (?2=0 OR severity<=?2) AND (?3 IS NULL OR unit LIKE '%%'||?3||'%%')"
             " AND last_seen>=?4 AND (?5 IS NULL OR title LIKE '%%'||?5||'%%' OR ref LIKE ?5"
             " OR asset_ip=?5 OR actor=?5 OR assignee=?5) ORDER BY %s LIMIT ?6",
             order);
    char err[TRIAGE_ERRBUF];
    sqlite3_stmt *s = tdb_prepare(t, sql, err);
    if (s == NULL)
        return die(err);
    if (status)
        sqlite3_bind_text(s, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, sev);
    if (unit)
        sqlite3_bind_text(s, 3, unit, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 4, since_t);
    if (text)
        sqlite3_bind_text(s, 5, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, limit > 0 ? limit : 200);
    json_t *rows = json_array();
    json_t *objs = json_array();
    while (sqlite3_step(s) == SQLITE_ROW) {
        char f[32], l[32], cnt[24], score[8];
        int lv = sqlite3_column_int(s, 1);
        const char *ref = (const char *)sqlite3_column_text(s, 0);
        const char *st = (const char *)sqlite3_column_text(s, 3);
        const char *un = (const char *)sqlite3_column_text(s, 4);
        const char *title = (const char *)sqlite3_column_text(s, 8);
        const char *as = (const char *)sqlite3_column_text(s, 9);
        snprintf(cnt, sizeof(cnt), "%lld", (long long)sqlite3_column_int64(s, 5));
        snprintf(score, sizeof(score), "%d", sqlite3_column_int(s, 2));
        tcfg_fmt_time(sqlite3_column_double(s, 6), f, sizeof(f));
        tcfg_fmt_time(sqlite3_column_double(s, 7), l, sizeof(l));
        json_array_append_new(rows,
                              json_pack("[s,s,s,s,s,s,s,s]", ref, corr_level_name(lv, 0), score, st,
                                        un ? un : "-", cnt, l, title ? title : ""));
        json_array_append_new(
            objs, json_pack("{s:s,s:i,s:s,s:i,s:s,s:s?,s:I,s:s,s:s,s:s?,s:s?,s:s}", "ref", ref,
                            "severity", lv, "severity_name", corr_level_name(lv, 0), "score",
                            sqlite3_column_int(s, 2), "status", st, "unit", un, "count",
                            (json_int_t)sqlite3_column_int64(s, 5), "first_seen", f, "last_seen", l,
                            "title", title, "assignee", as, "kind",
                            (const char *)sqlite3_column_text(s, 10)));
    }
    sqlite3_finalize(s);
    if (json) {
        json_dumpf(objs, stdout, JSON_INDENT(2));
        putchar('\n');
    } else {
        const char *head[] = {"ID",   "SEVERITY", "SCORE",     "STATUS",
                              "UNIT", "ALERTS",   "LAST SEEN", "TITLE"};
        tout_table(stdout, head, 8, rows, 1);
    }
    json_decref(rows);
    json_decref(objs);
    return 0;
}

static long long need_id(struct tdb *t, const char *ref)
{
    long long id = ref ? tkt_resolve(t, ref) : -1;
    if (id <= 0)
        fprintf(stderr, "vigil-triage: no incident '%s'\n", ref ? ref : "");
    return id;
}

static int cmd_show_export(struct tdb *t, const struct tcfg *cfg, int argc, char **argv, int export)
{
    const char *ref = NULL, *fmt = export ? NULL : "md", *lang = NULL, *outp = NULL, *v;
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        if ((v = val(argc, argv, &i, "--format", &bad)))
            fmt = v;
        else if ((v = val(argc, argv, &i, "--lang", &bad)))
            lang = v;
        else if ((v = val(argc, argv, &i, "-o", &bad)))
            outp = v;
        else if (strcmp(argv[i], "--json") == 0)
            fmt = "json";
        else if (bad || argv[i][0] == '-' || ref)
            return bad ? 2 : die("unexpected argument") + 1;
        else
            ref = argv[i];
    }
    if (fmt == NULL)
        return die("export: --format json|md|stix|misp") + 1;
    long long id = need_id(t, ref);
    if (id <= 0)
        return 1;
    json_t *inc = tkt_json(t, id, 1);
    if (inc == NULL)
        return die("cannot read incident");
    tkt_mark_internal(inc, cfg);
    FILE *out = outp ? fopen(outp, "w") : stdout;
    if (out == NULL) {
        json_decref(inc);
        return die("cannot open output file");
    }
    char err[TRIAGE_ERRBUF] = "";
    int rc;
    if (strcmp(fmt, "json") == 0)
        rc = texp_json(out, inc, err);
    else if (strcmp(fmt, "md") == 0)
        rc = texp_md(out, inc, lang_vi(lang, 0), err);
    else if (strcmp(fmt, "stix") == 0)
        rc = texp_stix(out, inc, err);
    else if (strcmp(fmt, "misp") == 0)
        rc = texp_misp(out, inc, err);
    else {
        snprintf(err, sizeof(err), "unknown format '%s' (json, md, stix, misp)", fmt);
        rc = -1;
    }
    json_decref(inc);
    if (outp && fclose(out) != 0 && rc == 0)
        return die("write failed");
    return rc == 0 ? 0 : die(err);
}

static int cmd_update(struct tdb *t, int argc, char **argv)
{
    struct tkt_change c = {0};
    const char *ref = NULL, *v;
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        if ((v = val(argc, argv, &i, "--status", &bad)))
            c.status = v;
        else if ((v = val(argc, argv, &i, "--reason", &bad)))
            c.reason = v;
        else if ((v = val(argc, argv, &i, "--assign", &bad)))
            c.assignee = v;
        else if ((v = val(argc, argv, &i, "--unit", &bad)))
            c.unit = v;
        else if ((v = val(argc, argv, &i, "--tlp", &bad)))
            c.tlp = v;
        else if ((v = val(argc, argv, &i, "--pap", &bad)))
            c.pap = v;
        else if ((v = val(argc, argv, &i, "--note", &bad)))
            c.note = v;
        else if ((v = val(argc, argv, &i, "--user", &bad)))
            c.user = v;
        else if (bad || argv[i][0] == '-' || ref)
            return bad ? 2 : die("update: unexpected argument") + 1;
        else
            ref = argv[i];
    }
    if (!c.user)
        c.user = getenv("USER");
    long long id = need_id(t, ref);
    if (id <= 0)
        return 1;
    if (!c.status && !c.assignee && !c.unit && !c.tlp && !c.pap && !c.note)
        return die("update: nothing to change") + 1;
    char err[TRIAGE_ERRBUF];
    return tkt_update(t, id, &c, err) == 0 ? 0 : die(err);
}

static int cmd_merge_reopen(struct tdb *t, int argc, char **argv, int merge)
{
    const char *user = getenv("USER"), *v;
    long long ids[256];
    size_t n = 0;
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        if ((v = val(argc, argv, &i, "--user", &bad)))
            user = v;
        else if (bad || argv[i][0] == '-' || n == 256)
            return bad ? 2 : die("unexpected argument") + 1;
        else if ((ids[n++] = need_id(t, argv[i])) <= 0)
            return 1;
    }
    char err[TRIAGE_ERRBUF];
    if (merge) {
        if (n < 2)
            return die("merge: ID ID... (the first absorbs the others)") + 1;
        return tkt_merge(t, ids[0], ids + 1, n - 1, user, err) == 0 ? 0 : die(err);
    }
    if (n != 1)
        return die("reopen: one ID") + 1;
    return tkt_reopen(t, ids[0], user, err) == 0 ? 0 : die(err);
}

static int cmd_split(struct tdb *t, int argc, char **argv)
{
    const char *user = getenv("USER"), *ref = NULL, *v;
    long long events[1024], sid = 0, new_id = 0;
    size_t n = 0;
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        if ((v = val(argc, argv, &i, "--user", &bad)))
            user = v;
        else if ((v = val(argc, argv, &i, "--event", &bad))) {
            if (n == 1024)
                return die("split: at most 1024 --event") + 1;
            events[n++] = atoll(v);
        } else if ((v = val(argc, argv, &i, "--sid", &bad)))
            sid = atoll(v);
        else if (bad || argv[i][0] == '-' || ref)
            return bad ? 2 : die("split: unexpected argument") + 1;
        else
            ref = argv[i];
    }
    if ((n == 0) == (sid == 0))
        return die("split: ID --event EVENT_ID... or ID --sid SID") + 1;
    long long id = need_id(t, ref);
    if (id <= 0)
        return 1;
    char err[TRIAGE_ERRBUF];
    if (tkt_split(t, id, sid, events, n, user, &new_id, err) != 0)
        return die(err);
    json_t *inc = tkt_json(t, new_id, 0);
    printf("%s\n", json_string_value(json_object_get(inc, "ref")));
    json_decref(inc);
    return 0;
}

static int cmd_report(struct tdb *t, int argc, char **argv)
{
    const char *since = NULL, *lang = NULL, *outp = NULL, *v;
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        if ((v = val(argc, argv, &i, "--since", &bad)))
            since = v;
        else if ((v = val(argc, argv, &i, "--lang", &bad)))
            lang = v;
        else if ((v = val(argc, argv, &i, "-o", &bad)))
            outp = v;
        else
            return bad ? 2 : die("report: unexpected argument") + 1;
    }
    double s = since ? tcfg_parse_time(since) : -1;
    if (s < 0)
        return die("report: --since DATE (YYYY-MM-DD, ISO 8601, or 7d/12h)") + 1;
    if (lang && strcmp(lang, "vi") != 0 && strcmp(lang, "en") != 0)
        return die("report: --lang vi|en") + 1;
    FILE *out = outp ? fopen(outp, "w") : stdout;
    if (out == NULL)
        return die("report: cannot open output file");
    char err[TRIAGE_ERRBUF];
    int rc = trep_html(out, t, s, lang_vi(lang, 1), err);
    if (outp && fclose(out) != 0 && rc == 0)
        return die("report: write failed");
    return rc == 0 ? 0 : die(err);
}

static int cmd_suppress(struct tdb *t, int argc, char **argv)
{
    char err[TRIAGE_ERRBUF];
    const char *v;
    int bad = 0;
    if (argc < 2)
        return die("suppress add|list|remove|alerts") + 1;
    if (strcmp(argv[1], "add") == 0) {
        struct tcfg_supp s = {0};
        for (int i = 2; i < argc; i++) {
            if ((v = val(argc, argv, &i, "--sid", &bad)))
                s.sid = atoll(v);
            else if ((v = val(argc, argv, &i, "--addr", &bad)))
                s.addr = (char *)v;
            else if ((v = val(argc, argv, &i, "--asset", &bad)))
                s.asset = (char *)v;
            else if ((v = val(argc, argv, &i, "--reason", &bad)))
                s.reason = (char *)v;
            else if ((v = val(argc, argv, &i, "--expires", &bad))) {
                if ((s.expires = tcfg_parse_time(v)) < 0)
                    return die("suppress: bad --expires date") + 1;
            } else
                return bad ? 2 : die("suppress add: unexpected argument") + 1;
        }
        if (tkt_suppress_add(t, &s, err) != 0)
            return die(err);
        printf("suppression %lld added\n", (long long)sqlite3_last_insert_rowid(t->db));
        return 0;
    }
    if (strcmp(argv[1], "remove") == 0) {
        if (argc != 3)
            return die("suppress remove ID") + 1;
        return tkt_suppress_remove(t, atoll(argv[2]), err) == 0 ? 0 : die(err);
    }
    if (strcmp(argv[1], "alerts") == 0) { /* the suppressed alerts themselves */
        int json = argc > 2 && strcmp(argv[2], "--json") == 0;
        sqlite3_stmt *s = tdb_prepare(t,
                                      "SELECT ts, sid, signature, src_ip, dest_ip FROM events"
                                      " WHERE suppressed=1 ORDER BY ts DESC LIMIT 1000",
                                      err);
        if (s == NULL)
            return die(err);
        json_t *rows = json_array();
        while (sqlite3_step(s) == SQLITE_ROW) {
            char ts[32], sid[24];
            tcfg_fmt_time(sqlite3_column_double(s, 0), ts, sizeof(ts));
            snprintf(sid, sizeof(sid), "%lld", (long long)sqlite3_column_int64(s, 1));
            const char *sig = (const char *)sqlite3_column_text(s, 2);
            const char *src = (const char *)sqlite3_column_text(s, 3);
            const char *dst = (const char *)sqlite3_column_text(s, 4);
            json_array_append_new(rows, json_pack("[s,s,s,s,s]", ts, sid, or_(src, "-"),
                                                  or_(dst, "-"), or_(sig, "")));
        }
        sqlite3_finalize(s);
        if (json) {
            json_dumpf(rows, stdout, JSON_INDENT(2));
            putchar('\n');
        } else {
            const char *head[] = {"TIME", "SID", "SOURCE", "DESTINATION", "SIGNATURE"};
            tout_table(stdout, head, 5, rows, -1);
        }
        json_decref(rows);
        return 0;
    }
    if (strcmp(argv[1], "list") == 0) {
        json_t *l = tkt_suppress_list(t);
        if (argc > 2 && strcmp(argv[2], "--json") == 0) {
            json_dumpf(l, stdout, JSON_INDENT(2));
            putchar('\n');
        } else {
            json_t *rows = json_array();
            size_t i;
            json_t *r;
            json_array_foreach(l, i, r)
            {
                char id[24], sid[24], exp[32], hits[24];
                snprintf(id, sizeof(id), "%lld", json_integer_value(json_object_get(r, "id")));
                snprintf(sid, sizeof(sid), "%lld", json_integer_value(json_object_get(r, "sid")));
                snprintf(hits, sizeof(hits), "%lld",
                         json_integer_value(json_object_get(r, "hits")));
                tcfg_fmt_time(json_number_value(json_object_get(r, "expires")), exp, sizeof(exp));
                const double e = json_number_value(json_object_get(r, "expires"));
                json_array_append_new(
                    rows, json_pack("[s,s,s,s,s,s,s]", id, strcmp(sid, "0") ? sid : "*",
                                    or_(json_string_value(json_object_get(r, "addr")), "*"),
                                    or_(json_string_value(json_object_get(r, "asset")), "*"), exp,
                                    e > 0 && e < (double)time(NULL) ? "expired" : hits,
                                    or_(json_string_value(json_object_get(r, "reason")), "")));
            }
            const char *head[] = {"ID", "SID", "ADDRESS", "ASSET", "EXPIRES", "HITS", "REASON"};
            tout_table(stdout, head, 7, rows, -1);
            json_decref(rows);
        }
        json_decref(l);
        return 0;
    }
    return die("suppress add|list|remove|alerts") + 1;
}

int main(int argc, char **argv)
{
    const char *db = getenv("VIGIL_TRIAGE_DB"), *cfgpath = getenv("VIGIL_TRIAGE_CONFIG");
    int i = 1, bad = 0;
    const char *v, *assets = NULL, *geodb[8];
    size_t ngeodb = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((v = val(argc, argv, &i, "--db", &bad)))
            db = v;
        else if ((v = val(argc, argv, &i, "--assets", &bad)))
            assets = v;
        else if ((v = val(argc, argv, &i, "--geoip-db", &bad))) {
            if (ngeodb == sizeof(geodb) / sizeof(geodb[0])) {
                fputs("vigil-triage: at most 8 --geoip-db\n", stderr);
                return 2;
            }
            geodb[ngeodb++] = v;
        } else if ((v = val(argc, argv, &i, "--config", &bad)))
            cfgpath = v;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("vigil-triage %s\n", TRIAGE_VERSION);
            return 0;
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (bad)
        return 2;
    if (i >= argc) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[i];
    int cargc = argc - i;
    char **cargv = argv + i;
    static const char *const cmds[] = {"ingest",   "list",      "show",   "update",
                                       "merge",    "reopen",    "export", "report",
                                       "suppress", "correlate", "split",  "status"};
    size_t k;
    for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
        if (strcmp(cmd, cmds[k]) == 0)
            break;
    if (k == sizeof(cmds) / sizeof(cmds[0])) {
        fprintf(stderr, "vigil-triage: unknown command '%s' (see --help)\n", cmd);
        return 2;
    }
    for (int j = 1; j < cargc; j++)
        if (strcmp(cargv[j], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
    struct tcfg cfg;
    char err[TRIAGE_ERRBUF];
    if (tcfg_defaults(&cfg) != 0)
        return die("out of memory");
    struct stat sb;
    if (cfgpath == NULL && stat(VIGIL_TRIAGE_RULES, &sb) == 0)
        cfgpath = VIGIL_TRIAGE_RULES;
    if (cfgpath != NULL && tcfg_load(&cfg, cfgpath, err) != 0) {
        tcfg_free(&cfg);
        return die(err);
    }
    if (assets != NULL || ngeodb > 0) { /* the options over the rules' inventory and GeoIP */
        int oom = assets != NULL && tcfg_set_assets(&cfg, assets) != 0;
        for (size_t g = 0; g < ngeodb && !oom; g++)
            oom = tcfg_add_geoip(&cfg, geodb[g]) != 0;
        if (oom || tcfg_finish(&cfg, err) != 0) {
            tcfg_free(&cfg);
            return die(oom ? "out of memory" : err);
        }
    }
    struct tdb *t = tdb_open(db ? db : "vigil-triage.db", err);
    if (t == NULL) {
        tcfg_free(&cfg);
        return die(err);
    }
    int rc;
    switch (k) {
    case 0:
        rc = cmd_ingest(t, &cfg, cargc, cargv);
        break;
    case 1:
        rc = cmd_list(t, cargc, cargv);
        break;
    case 2:
        rc = cmd_show_export(t, &cfg, cargc, cargv, 0);
        break;
    case 3:
        rc = cmd_update(t, cargc, cargv);
        break;
    case 4:
        rc = cmd_merge_reopen(t, cargc, cargv, 1);
        break;
    case 5:
        rc = cmd_merge_reopen(t, cargc, cargv, 0);
        break;
    case 6:
        rc = cmd_show_export(t, &cfg, cargc, cargv, 1);
        break;
    case 7:
        rc = cmd_report(t, cargc, cargv);
        break;
    case 8:
        rc = cmd_suppress(t, cargc, cargv);
        break;
    case 9:
        rc = cmd_correlate(t, &cfg);
        break;
    case 10:
        rc = cmd_split(t, cargc, cargv);
        break;
    default:
        rc = cmd_status(t, db ? db : "vigil-triage.db", cargc, cargv);
    }
    tdb_close(t);
    tcfg_free(&cfg);
    return rc;
}
