/* test_triage_corpus.c: extended: every EVE file of the shared corpus through vigil-triage ingest.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/triage.h"

/* Alert lines of the input, decided by jansson: distinct (by text) valid alert objects. */
struct census {
    char **lines;
    size_t n, cap;
    long long bad, alert_lines, rejected; /* rejected: valid JSON alerts ingest must refuse */
};

static void scan_file(const char *p, struct census *c)
{
    FILE *f = fopen(p, "rb");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    if (f == NULL)
        return;
    int first = 1;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
            line[--n] = '\0';
        size_t s = 0;
        while (line[s] == ' ' || line[s] == '\t')
            s++;
        if (line[s] == '\0')
            continue;
        if (first && line[s] == '[') { /* a JSON array export: counted as a whole */
            fclose(f);
            json_t *arr = json_load_file(p, 0, NULL);
            size_t i;
            json_t *ev;
            if (arr == NULL)
                c->bad++;
            json_array_foreach(arr, i, ev)
            {
                const char *t = json_string_value(json_object_get(ev, "event_type"));
                if (t && strcmp(t, "alert") == 0) {
                    c->alert_lines++;
                    if (c->n == c->cap)
                        c->lines = realloc(c->lines, (c->cap = c->cap * 2 + 64) * sizeof(char *));
                    c->lines[c->n++] = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
                }
            }
            json_decref(arr);
            free(line);
            return;
        }
        first = 0;
        json_t *ev = json_loads(line + s, 0, NULL);
        if (ev == NULL) {
            c->bad++;
            continue;
        }
        const char *t = json_string_value(json_object_get(ev, "event_type"));
        if (t && strcmp(t, "alert") == 0 &&
            (tcfg_parse_time(json_string_value(json_object_get(ev, "timestamp"))) < 0 ||
             !json_is_integer(json_object_get(json_object_get(ev, "alert"), "signature_id")))) {
            c->alert_lines++;
            c->rejected++;
        } else if (t && strcmp(t, "alert") == 0) {
            c->alert_lines++;
            if (c->n == c->cap)
                c->lines = realloc(c->lines, (c->cap = c->cap * 2 + 64) * sizeof(char *));
            c->lines[c->n++] = strdup(line + s);
        }
        json_decref(ev);
    }
    free(line);
    fclose(f);
}

static void walk(const char *dir, struct census *c)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        char p[4096];
        struct stat sb;
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && stat(p, &sb) == 0) {
            size_t l = strlen(p);
            if (S_ISDIR(sb.st_mode))
                walk(p, c);
            else if (l > 5 && strcmp(p + l - 5, ".json") == 0)
                scan_file(p, c);
        }
        free(names[i]);
    }
    free(names);
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(triage_corpus, every_eve_file, .timeout = 240)
{
    const char *shared = getenv("VIGIL_SHARED");
    char corpus[1024], db[1100], err[TRIAGE_ERRBUF];
    struct stat sb;
    snprintf(corpus, sizeof(corpus), "%s/corpus/eve", shared ? shared : "../shared");
    if (stat(corpus, &sb) != 0)
        cr_skip_test("%s absent", corpus);
    snprintf(db, sizeof(db), "/tmp/vigil-triage-corpus-%d.db", (int)getpid());
    struct tcfg cfg;
    cr_assert_eq(tcfg_defaults(&cfg), 0);
    cfg.nsupp = 0;
    struct tdb *t = tdb_open(db, err);
    cr_assert_not_null(t, "%s", err);
    struct ting_opts o = {0};
    struct ting_stats st = {0};
    cr_assert_eq(ting_ingest(t, &cfg, corpus, &o, &st, err), 0, "%s", err);
    struct census c = {0};
    walk(corpus, &c);
    qsort(c.lines, c.n, sizeof(char *), cmp);
    size_t distinct = 0;
    for (size_t i = 0; i < c.n; i++)
        if (i == 0 || strcmp(c.lines[i], c.lines[i - 1]) != 0)
            distinct++;
    long long alerts = tdb_scalar(t, "SELECT COUNT(*) FROM events WHERE event_type='alert'", NULL);
    long long events = tdb_scalar(t, "SELECT COUNT(*) FROM events", NULL);
    long long incidents = tdb_scalar(t, "SELECT COUNT(*) FROM incidents", NULL);
    long long in_inc = tdb_scalar(t,
                                  "SELECT COUNT(*) FROM events WHERE event_type='alert' AND"
                                  " incident_id IS NOT NULL",
                                  NULL);
    cr_log_info("corpus: %lld lines, %lld events stored, %lld alerts (%lld alert lines, %zu "
                "distinct), %lld incidents, %lld bad lines",
                st.lines, events, alerts, c.alert_lines, distinct, incidents, st.bad);
    fprintf(stderr,
            "corpus: events %lld, alerts %lld, incidents %lld, bad lines %lld "
            "(alert lines in input %lld, distinct %zu, rejected %lld)\n",
            events, alerts, incidents, st.bad, c.alert_lines, distinct, c.rejected);
    for (size_t i = 0; i < st.nexamples; i++)
        fprintf(stderr, "  %s\n", st.examples[i]);
    /* no lost alert: every distinct valid alert line is in the store, and every alert made it
     * into an incident; the bad lines are exactly those jansson rejects */
    cr_assert_eq(alerts, (long long)distinct);
    cr_assert_geq(st.bad, c.bad + c.rejected);
    cr_assert_eq(in_inc, alerts);
    cr_assert_gt(incidents, 0);
    for (size_t i = 0; i < c.n; i++)
        free(c.lines[i]);
    free(c.lines);
    ting_stats_free(&st);
    tdb_close(t);
    tcfg_free(&cfg);
    char rm[4000];
    snprintf(rm, sizeof(rm), "rm -f %s %s-wal %s-shm", db, db, db);
    if (system(rm) != 0)
        cr_log_warn("cannot remove %s", db);
}
