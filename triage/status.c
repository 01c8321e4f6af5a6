/* status.c: vigil-triage status: the Redis streams' lag and pending entries, and the store's
 * counts. */
#include <stdlib.h>
#include <string.h>

#include "vigil/triage-redis.h"

/* The store's counts: events, alerts, correlation backlog, incidents, and per sensor. */
static json_t *db_status(struct tdb *t, const char *dbpath, char *errbuf)
{
    json_t *o = json_pack(
        "{s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "path", dbpath, "events",
        (json_int_t)tdb_scalar(t, "SELECT COUNT(*) FROM events", NULL), "alerts",
        (json_int_t)tdb_scalar(t, "SELECT COUNT(*) FROM events WHERE event_type='alert'", NULL),
        "pending_correlation",
        (json_int_t)tdb_scalar(t, "SELECT COUNT(*) FROM events WHERE pending=1", NULL),
        "suppressed",
        (json_int_t)tdb_scalar(t, "SELECT COUNT(*) FROM events WHERE suppressed=1", NULL),
        "incidents",
        (json_int_t)tdb_scalar(t, "SELECT COUNT(*) FROM incidents WHERE merged_into IS NULL", NULL),
        "incidents_open",
        (json_int_t)tdb_scalar(t,
                               "SELECT COUNT(*) FROM incidents WHERE merged_into IS NULL AND status"
                               " IN ('new','acknowledged','investigating','contained')",
                               NULL));
    sqlite3_stmt *s = tdb_prepare(t,
                                  "SELECT sensor, COUNT(*), SUM(event_type='alert'), MAX(ts)"
                                  " FROM events GROUP BY sensor ORDER BY sensor",
                                  errbuf);
    if (o == NULL || s == NULL) {
        json_decref(o);
        sqlite3_finalize(s);
        return NULL;
    }
    json_t *sensors = json_array();
    while (sqlite3_step(s) == SQLITE_ROW) {
        char last[32];
        tcfg_fmt_time(sqlite3_column_double(s, 3), last, sizeof(last));
        json_array_append_new(sensors, json_pack("{s:s,s:I,s:I,s:s}", "sensor",
                                                 (const char *)sqlite3_column_text(s, 0), "events",
                                                 (json_int_t)sqlite3_column_int64(s, 1), "alerts",
                                                 (json_int_t)sqlite3_column_int64(s, 2),
                                                 "last_event", last));
    }
    sqlite3_finalize(s);
    json_object_set_new(o, "sensors", sensors);
    return o;
}

/* A JSON integer (or null) as table text. */
static const char *num(const json_t *v, char *buf, size_t len)
{
    if (!json_is_integer(v))
        return "-";
    snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    return buf;
}

/* Milliseconds as "850 ms", "12.3 s", "4.0 min", "2.5 h". */
static const char *dur(const json_t *v, char *buf, size_t len)
{
    if (!json_is_integer(v))
        return "-";
    double ms = (double)json_integer_value(v);
    if (ms < 1000)
        snprintf(buf, len, "%.0f ms", ms);
    else if (ms < 120000)
        snprintf(buf, len, "%.1f s", ms / 1000);
    else if (ms < 7200000)
        snprintf(buf, len, "%.1f min", ms / 60000);
    else
        snprintf(buf, len, "%.1f h", ms / 3600000);
    return buf;
}

static const char *str(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "-";
}

static void print_redis(FILE *out, const json_t *redis)
{
    json_t *streams = json_array(), *groups = json_array(), *consumers = json_array();
    size_t i, j, k;
    json_t *s, *g, *c;
    json_array_foreach(json_object_get(redis, "streams"), i, s)
    {
        char a[24], b[24];
        const char *name = str(json_object_get(s, "stream"));
        json_array_append_new(
            streams,
            json_is_true(json_object_get(s, "exists"))
                ? json_pack("[s,s,s,s,s]", name, num(json_object_get(s, "length"), a, sizeof(a)),
                            str(json_object_get(s, "first_id")), str(json_object_get(s, "last_id")),
                            num(json_object_get(s, "entries_added"), b, sizeof(b)))
                : json_pack("[s,s,s,s,s]", name, "-", "-", "-", "(no such stream)"));
        json_array_foreach(json_object_get(s, "groups"), j, g)
        {
            char lag[24], pend[24], idle[24], nc[24];
            const char *gname = str(json_object_get(g, "group"));
            snprintf(nc, sizeof(nc), "%zu", json_array_size(json_object_get(g, "consumers")));
            json_array_append_new(
                groups,
                json_pack(
                    "[s,s,s,s,s,s,s]", name, gname, str(json_object_get(g, "last_delivered_id")),
                    num(json_object_get(g, "lag"), lag, sizeof(lag)),
                    num(json_object_get(g, "pending"), pend, sizeof(pend)),
                    dur(json_object_get(g, "oldest_pending_idle_ms"), idle, sizeof(idle)), nc));
            json_array_foreach(json_object_get(g, "consumers"), k, c)
            {
                char p[24], id[24];
                json_array_append_new(
                    consumers,
                    json_pack("[s,s,s,s,s]", name, gname, str(json_object_get(c, "name")),
                              num(json_object_get(c, "pending"), p, sizeof(p)),
                              dur(json_object_get(c, "idle_ms"), id, sizeof(id))));
            }
        }
    }
    fprintf(out, "redis %s\n\n", str(json_object_get(redis, "server")));
    const char *sh[] = {"STREAM", "LENGTH", "FIRST ID", "LAST ID", "ADDED"};
    tout_table(out, sh, 5, streams, -1);
    if (json_array_size(groups) > 0) {
        const char *gh[] = {"STREAM",   "GROUP",   "LAST DELIVERED",
                            "LAG",      "PENDING", "OLDEST PENDING IDLE",
                            "CONSUMERS"};
        fputc('\n', out);
        tout_table(out, gh, 7, groups, -1);
    }
    if (json_array_size(consumers) > 0) {
        const char *ch[] = {"STREAM", "GROUP", "CONSUMER", "PENDING", "IDLE"};
        fputc('\n', out);
        tout_table(out, ch, 5, consumers, -1);
    }
    fputc('\n', out);
    json_decref(streams);
    json_decref(groups);
    json_decref(consumers);
}

static void print_db(FILE *out, const json_t *db)
{
    json_t *rows = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(db, "sensors"), i, s)
    {
        char e[24], a[24];
        json_array_append_new(rows, json_pack("[s,s,s,s]", str(json_object_get(s, "sensor")),
                                              num(json_object_get(s, "events"), e, sizeof(e)),
                                              num(json_object_get(s, "alerts"), a, sizeof(a)),
                                              str(json_object_get(s, "last_event"))));
    }
    fprintf(out, "database %s\n\n", str(json_object_get(db, "path")));
    const char *h[] = {"SENSOR", "EVENTS", "ALERTS", "LAST EVENT"};
    tout_table(out, h, 4, rows, -1);
    json_decref(rows);
    fprintf(out,
            "\n%lld events, %lld alerts (%lld awaiting correlation, %lld suppressed); "
            "%lld incidents, %lld open\n",
            (long long)json_integer_value(json_object_get(db, "events")),
            (long long)json_integer_value(json_object_get(db, "alerts")),
            (long long)json_integer_value(json_object_get(db, "pending_correlation")),
            (long long)json_integer_value(json_object_get(db, "suppressed")),
            (long long)json_integer_value(json_object_get(db, "incidents")),
            (long long)json_integer_value(json_object_get(db, "incidents_open")));
}

int tstat_print(FILE *out, struct tdb *t, const char *dbpath, const json_t *redis, int json,
                char *errbuf)
{
    json_t *db = db_status(t, dbpath, errbuf);
    if (db == NULL)
        return -1;
    if (json) {
        json_t *o =
            json_pack("{s:O,s:O}", "redis", redis ? (json_t *)redis : json_null(), "db", db);
        json_dumpf(o, out, JSON_INDENT(2));
        fputc('\n', out);
        json_decref(o);
    } else {
        if (redis != NULL)
            print_redis(out, redis);
        print_db(out, db);
    }
    json_decref(db);
    return 0;
}
