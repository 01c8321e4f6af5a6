/* ticket.c: incident tickets: workflow, TLP/PAP, notes, audit history, merge, the JSON view. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "vigil/triage.h"

#define TKT_MAX_ALERTS 1000
#define TKT_MAX_CONTEXT 500

static const char *const chain[] = {"new", "acknowledged", "investigating", "contained",
                                    "resolved"};

static int chain_pos(const char *s)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(s, chain[i]) == 0)
            return i;
    return -1;
}

static int is_closed(const char *s)
{
    return strcmp(s, "false-positive") == 0 || strcmp(s, "duplicate") == 0;
}

int tkt_transition_ok(const char *from, const char *to)
{
    int f = chain_pos(from), t = chain_pos(to);
    if (from == NULL || to == NULL)
        return 0;
    if (f < 0 || f == 4) /* resolved or closed: only reopen */
        return 0;
    if (is_closed(to))
        return 1;
    return t > f;
}

long long tkt_resolve(struct tdb *t, const char *ref)
{
    char *end;
    long long n = strtoll(ref, &end, 10);
    if (*ref != '\0' && *end == '\0' && n > 0)
        return tdb_scalar(t, "SELECT id FROM incidents WHERE id=CAST(? AS INTEGER)", ref);
    return tdb_scalar(t, "SELECT id FROM incidents WHERE ref=upper(?)", ref);
}

static int audit(struct tdb *t, long long id, const char *user, const char *field, const char *old,
                 const char *nw, char *errbuf)
{
    sqlite3_stmt *s = tdb_prepare(t,
                                  "INSERT INTO history(incident_id, user, ts, field, old, new)"
                                  " VALUES(?,?,?,?,?,?)",
                                  errbuf);
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 3, (double)time(NULL));
    sqlite3_bind_text(s, 4, field, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, old, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 6, nw, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
    if (rc != 0)
        snprintf(errbuf, TRIAGE_ERRBUF, "history: %s", sqlite3_errmsg(t->db));
    sqlite3_finalize(s);
    return rc;
}

/* Sets column field (a fixed identifier) to val with a history entry. */
static int set_field(struct tdb *t, long long id, const char *user, const char *field,
                     const char *val, char *errbuf)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT %s FROM incidents WHERE id=?", field);
    sqlite3_stmt *s = tdb_prepare(t, sql, errbuf);
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    char *old = NULL;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        old = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    if (old != NULL && val != NULL && strcmp(old, val) == 0) {
        free(old);
        return 0;
    }
    snprintf(sql, sizeof(sql), "UPDATE incidents SET %s=?, updated_at=? WHERE id=?", field);
    s = tdb_prepare(t, sql, errbuf);
    int rc = -1;
    if (s != NULL) {
        sqlite3_bind_text(s, 1, val, -1, SQLITE_STATIC);
        sqlite3_bind_double(s, 2, (double)time(NULL));
        sqlite3_bind_int64(s, 3, id);
        rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
        sqlite3_finalize(s);
    }
    if (rc == 0)
        rc = audit(t, id, user, field, old, val, errbuf);
    free(old);
    return rc;
}

static int valid_tlp(const char *s)
{
    static const char *const v[] = {"clear", "white", "green", "amber", "amber+strict", "red"};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        if (strcasecmp(s, v[i]) == 0)
            return 1;
    return 0;
}

static char *status_of(struct tdb *t, long long id)
{
    sqlite3_stmt *s = tdb_prepare(t, "SELECT status FROM incidents WHERE id=?", NULL);
    char *r = NULL;
    if (s == NULL)
        return NULL;
    sqlite3_bind_int64(s, 1, id);
    if (sqlite3_step(s) == SQLITE_ROW)
        r = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return r;
}

static int set_status(struct tdb *t, long long id, const char *user, const char *to,
                      const char *reason, char *errbuf)
{
    char *from = status_of(t, id);
    int rc = -1;
    if (from == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "no such incident");
        return -1;
    }
    if (chain_pos(to) < 0 && !is_closed(to)) {
        snprintf(errbuf, TRIAGE_ERRBUF,
                 "unknown status '%s' (new, acknowledged, investigating,"
                 " contained, resolved, false-positive, duplicate)",
                 to);
    } else if (!tkt_transition_ok(from, to)) {
        snprintf(errbuf, TRIAGE_ERRBUF, "invalid transition %s -> %s%s", from, to,
                 chain_pos(from) == 4 || is_closed(from) ? " (use reopen)" : "");
    } else if (is_closed(to) && (reason == NULL || *reason == '\0')) {
        snprintf(errbuf, TRIAGE_ERRBUF, "closing as %s needs --reason", to);
    } else {
        rc = set_field(t, id, user, "status", to, errbuf);
        if (rc == 0 && reason != NULL)
            rc = set_field(t, id, user, "close_reason", reason, errbuf);
        int p = chain_pos(to);
        const char *ts_sql[] = {
            "UPDATE incidents SET ack_at=?1 WHERE id=?2 AND ack_at IS NULL",
            "UPDATE incidents SET contained_at=?1 WHERE id=?2 AND contained_at IS NULL",
            "UPDATE incidents SET resolved_at=?1 WHERE id=?2 AND resolved_at IS NULL"};
        int want[3] = {p >= 1 || is_closed(to), p >= 3, p == 4 || is_closed(to)};
        for (int k = 0; k < 3 && rc == 0; k++) {
            if (!want[k])
                continue;
            sqlite3_stmt *s = tdb_prepare(t, ts_sql[k], errbuf);
            if (s == NULL) {
                rc = -1;
                break;
            }
            sqlite3_bind_double(s, 1, (double)time(NULL));
            sqlite3_bind_int64(s, 2, id);
            rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
            sqlite3_finalize(s);
        }
    }
    free(from);
    return rc;
}

int tkt_update(struct tdb *t, long long id, const struct tkt_change *c, char *errbuf)
{
    const char *user = c->user ? c->user : "analyst";
    if (c->tlp && !valid_tlp(c->tlp)) {
        snprintf(errbuf, TRIAGE_ERRBUF,
                 "TLP must be clear, white, green, amber, amber+strict "
                 "or red");
        return -1;
    }
    if (c->pap && !valid_tlp(c->pap)) {
        snprintf(errbuf, TRIAGE_ERRBUF, "PAP must be clear, white, green, amber or red");
        return -1;
    }
    if (c->reason && !c->status) {
        snprintf(errbuf, TRIAGE_ERRBUF, "--reason goes with --status");
        return -1;
    }
    if (tdb_begin(t, errbuf) != 0)
        return -1;
    int rc = 0;
    if (c->status)
        rc = set_status(t, id, user, c->status, c->reason, errbuf);
    if (rc == 0 && c->assignee)
        rc = set_field(t, id, user, "assignee", c->assignee, errbuf);
    if (rc == 0 && c->unit) {
        rc = set_field(t, id, user, "unit", c->unit, errbuf);
        sqlite3_stmt *s = rc ? NULL
                             : tdb_prepare(t,
                                           "UPDATE incidents SET unit_override=1"
                                           " WHERE id=?",
                                           errbuf);
        if (s != NULL) {
            sqlite3_bind_int64(s, 1, id);
            rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
            sqlite3_finalize(s);
        }
    }
    if (rc == 0 && c->tlp)
        rc = set_field(t, id, user, "tlp", c->tlp, errbuf);
    if (rc == 0 && c->pap)
        rc = set_field(t, id, user, "pap", c->pap, errbuf);
    if (rc == 0 && c->note) {
        sqlite3_stmt *s = tdb_prepare(t,
                                      "INSERT INTO notes(incident_id, user, ts, text)"
                                      " VALUES(?,?,?,?)",
                                      errbuf);
        rc = s ? 0 : -1;
        if (s) {
            sqlite3_bind_int64(s, 1, id);
            sqlite3_bind_text(s, 2, user, -1, SQLITE_STATIC);
            sqlite3_bind_double(s, 3, (double)time(NULL));
            sqlite3_bind_text(s, 4, c->note, -1, SQLITE_STATIC);
            rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
            sqlite3_finalize(s);
        }
        if (rc == 0)
            rc = audit(t, id, user, "note", NULL, c->note, errbuf);
    }
    if (rc != 0) {
        tdb_rollback(t);
        return -1;
    }
    return tdb_commit(t, errbuf);
}

int tkt_reopen(struct tdb *t, long long id, const char *user, char *errbuf)
{
    char *st = status_of(t, id);
    int rc = -1;
    if (st == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "no such incident");
        return -1;
    }
    if (chain_pos(st) != 4 && !is_closed(st)) {
        snprintf(errbuf, TRIAGE_ERRBUF, "incident is %s, not resolved or closed", st);
    } else if (tdb_begin(t, errbuf) == 0) {
        rc = set_field(t, id, user ? user : "analyst", "status", "investigating", errbuf);
        sqlite3_stmt *s = rc ? NULL
                             : tdb_prepare(t,
                                           "UPDATE incidents SET resolved_at=NULL,"
                                           " close_reason=NULL, merged_into=NULL"
                                           " WHERE id=?",
                                           errbuf);
        if (s != NULL) {
            sqlite3_bind_int64(s, 1, id);
            rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
            sqlite3_finalize(s);
        }
        if (rc == 0)
            rc = tdb_commit(t, errbuf);
        else
            tdb_rollback(t);
    }
    free(st);
    return rc;
}

int tkt_merge(struct tdb *t, long long dst, const long long *srcs, size_t n, const char *user,
              char *errbuf)
{
    char ref[64];
    sqlite3_stmt *s;
    char *dst_status = status_of(t, dst);
    if (dst_status == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "no such incident");
        return -1;
    }
    free(dst_status);
    if ((s = tdb_prepare(t, "SELECT ref FROM incidents WHERE id=?", errbuf)) == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, dst);
    sqlite3_step(s);
    snprintf(ref, sizeof(ref), "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    if (tdb_begin(t, errbuf) != 0)
        return -1;
    user = user ? user : "analyst";
    for (size_t i = 0; i < n; i++) {
        if (srcs[i] == dst) {
            snprintf(errbuf, TRIAGE_ERRBUF, "cannot merge an incident into itself");
            goto fail;
        }
        char *st = status_of(t, srcs[i]);
        int closed = st && (is_closed(st) || strcmp(st, "resolved") == 0);
        free(st);
        if (closed) {
            snprintf(errbuf, TRIAGE_ERRBUF, "incident %lld is already closed", srcs[i]);
            goto fail;
        }
        s = tdb_prepare(t, "UPDATE events SET incident_id=?1 WHERE incident_id=?2", errbuf);
        if (s == NULL)
            goto fail;
        sqlite3_bind_int64(s, 1, dst);
        sqlite3_bind_int64(s, 2, srcs[i]);
        sqlite3_step(s);
        sqlite3_finalize(s);
        s = tdb_prepare(t,
                        "UPDATE incidents SET merged_into=?1, first_seen=min(first_seen,"
                        " (SELECT first_seen FROM incidents WHERE id=?2)) WHERE id=?2;",
                        errbuf);
        if (s == NULL)
            goto fail;
        sqlite3_bind_int64(s, 1, dst);
        sqlite3_bind_int64(s, 2, srcs[i]);
        sqlite3_step(s);
        sqlite3_finalize(s);
        s = tdb_prepare(t,
                        "UPDATE incidents SET score=max(score,(SELECT score FROM incidents WHERE"
                        " id=?2)), severity=min(severity,(SELECT severity FROM incidents WHERE"
                        " id=?2)), first_seen=min(first_seen,(SELECT first_seen FROM incidents"
                        " WHERE id=?2)), last_seen=max(last_seen,(SELECT last_seen FROM incidents"
                        " WHERE id=?2)), count=(SELECT COUNT(*) FROM events WHERE incident_id=?1"
                        " AND event_type='alert') WHERE id=?1",
                        errbuf);
        if (s == NULL)
            goto fail;
        sqlite3_bind_int64(s, 1, dst);
        sqlite3_bind_int64(s, 2, srcs[i]);
        sqlite3_step(s);
        sqlite3_finalize(s);
        char why[96];
        snprintf(why, sizeof(why), "merged into %s", ref);
        if (set_status(t, srcs[i], user, "duplicate", why, errbuf) != 0)
            goto fail;
        char nm[32];
        snprintf(nm, sizeof(nm), "%lld", srcs[i]);
        if (audit(t, dst, user, "merged", NULL, nm, errbuf) != 0)
            goto fail;
    }
    return tdb_commit(t, errbuf);
fail:
    tdb_rollback(t);
    return -1;
}

/* ---- JSON view ---- */

static json_t *col_json(sqlite3_stmt *s, int i)
{
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(s, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(s, i));
    case SQLITE_TEXT:
        return json_string((const char *)sqlite3_column_text(s, i));
    default:
        return json_null();
    }
}

/* Runs sql with integer parameter id; returns an array of row objects. */
static json_t *rows(struct tdb *t, const char *sql, long long id)
{
    json_t *a = json_array();
    sqlite3_stmt *s = tdb_prepare(t, sql, NULL);
    if (s == NULL)
        return a;
    sqlite3_bind_int64(s, 1, id);
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_t *o = json_object();
        for (int i = 0; i < sqlite3_column_count(s); i++)
            json_object_set_new(o, sqlite3_column_name(s, i), col_json(s, i));
        json_array_append_new(a, o);
    }
    sqlite3_finalize(s);
    return a;
}

static void obs_add(json_t *obs, const char *type, const char *v)
{
    if (v == NULL || *v == '\0' || strcmp(v, "-") == 0)
        return;
    json_t *set = json_object_get(obs, type);
    if (set == NULL)
        json_object_set_new(obs, type, set = json_object());
    if (json_object_size(set) < 1000)
        json_object_set_new(set, v, json_true());
}

static const char *jstr(const json_t *o, const char *a, const char *b)
{
    const json_t *x = json_object_get(o, a);
    return json_string_value(b ? json_object_get(x, b) : x);
}

static void observe(json_t *obs, const char *raw)
{
    json_t *ev = raw ? json_loads(raw, 0, NULL) : NULL;
    if (ev == NULL)
        return;
    obs_add(obs, "ip", jstr(ev, "src_ip", NULL));
    obs_add(obs, "ip", jstr(ev, "dest_ip", NULL));
    const char *host = jstr(ev, "http", "hostname"), *url = jstr(ev, "http", "url");
    obs_add(obs, "domain", host);
    if (host && url) {
        char buf[2048];
        snprintf(buf, sizeof(buf), "http://%s%s", host, url);
        obs_add(obs, "url", buf);
    }
    obs_add(obs, "domain", jstr(ev, "tls", "sni"));
    obs_add(obs, "domain", jstr(ev, "dns", "rrname"));
    const json_t *q = json_object_get(json_object_get(ev, "dns"), "queries");
    size_t i;
    json_t *it;
    json_array_foreach(q, i, it) obs_add(obs, "domain", jstr(it, "rrname", NULL));
    const json_t *ja3 = json_object_get(json_object_get(ev, "tls"), "ja3");
    obs_add(obs, "ja3", jstr(ja3, "hash", NULL));
    const json_t *fi = json_object_get(ev, "fileinfo");
    obs_add(obs, "sha256", jstr(fi, "sha256", NULL));
    obs_add(obs, "md5", jstr(fi, "md5", NULL));
    obs_add(obs, "sha1", jstr(fi, "sha1", NULL));
    obs_add(obs, "filename", jstr(fi, "filename", NULL));
    json_decref(ev);
}

static json_t *parse_text(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    json_t *v = s ? json_loads(s, 0, NULL) : NULL;
    return v ? v : json_array();
}

json_t *tkt_json(struct tdb *t, long long id, int with_events)
{
    json_t *r = rows(t,
                     "SELECT id, ref, kind, title, status, close_reason, assignee, unit,"
                     " unit_override, asset, asset_ip, actor, tlp, pap, first_seen, last_seen,"
                     " count, hosts, score, severity, stage_mask, max_stage, reasons, escalations,"
                     " (SELECT ref FROM incidents c WHERE c.id=i.campaign_id) AS campaign,"
                     " (SELECT ref FROM incidents m WHERE m.id=i.merged_into) AS merged_into,"
                     " detected_at, ack_at, contained_at, resolved_at, created_at, updated_at"
                     " FROM incidents i WHERE id=?",
                     id);
    json_t *inc = json_incref(json_array_get(r, 0));
    json_decref(r);
    if (inc == NULL)
        return NULL;
    json_object_set_new(inc, "reasons", parse_text(inc, "reasons"));
    json_object_set_new(inc, "escalations", parse_text(inc, "escalations"));
    json_t *stages = json_array();
    int mask = (int)json_integer_value(json_object_get(inc, "stage_mask"));
    for (int s = 1; s < STAGE_COUNT; s++)
        if (mask & (1 << s))
            json_array_append_new(stages, json_string(tcfg_stage_name(s)));
    json_object_set_new(inc, "stages", stages);
    json_object_del(inc, "stage_mask");
    json_object_set_new(inc, "notes",
                        rows(t,
                             "SELECT user, ts, text FROM notes WHERE"
                             " incident_id=? ORDER BY id",
                             id));
    json_object_set_new(inc, "history",
                        rows(t,
                             "SELECT user, ts, field, old, new FROM history"
                             " WHERE incident_id=? ORDER BY id",
                             id));
    int campaign = strcmp(json_string_value(json_object_get(inc, "kind")), "campaign") == 0;
    if (campaign)
        json_object_set_new(inc, "members",
                            rows(t,
                                 "SELECT ref, asset, asset_ip, unit, count, score, severity,"
                                 " status FROM incidents WHERE campaign_id=? ORDER BY"
                                 " first_seen",
                                 id));
    if (!with_events)
        return inc;
    const char *where = campaign ? "incident_id IN (SELECT id FROM incidents WHERE campaign_id=?1)"
                                 : "incident_id=?1";
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "SELECT id, ts, sensor, src_ip, src_port, dest_ip, dest_port, proto, sid, signature,"
             " category, severity, stage, geo, (SELECT raw FROM event_raw r WHERE r.id=events.id)"
             " AS raw FROM events WHERE %s AND event_type='alert'"
             " ORDER BY ts, id LIMIT %d",
             where, TKT_MAX_ALERTS);
    json_t *alerts = rows(t, sql, id);
    json_t *obs = json_object();
    size_t i;
    json_t *a;
    json_t *ageo = NULL; /* the actor's GeoIP: the first alert that has one */
    json_array_foreach(alerts, i, a)
    {
        const char *g = json_string_value(json_object_get(a, "geo"));
        const char *bar = g ? strchr(g, '|') : NULL;
        if (ageo == NULL && bar != NULL) {
            long long asn = strtoll(bar + 1, NULL, 10);
            ageo = json_object();
            if (bar > g)
                json_object_set_new(ageo, "country_iso", json_stringn(g, (size_t)(bar - g)));
            if (asn > 0)
                json_object_set_new(ageo, "asn", json_integer(asn));
        }
        observe(obs, json_string_value(json_object_get(a, "raw")));
        int st = (int)json_integer_value(json_object_get(a, "stage"));
        json_object_set_new(a, "stage", json_string(tcfg_stage_name(st)));
        json_object_del(a, "raw");
    }
    snprintf(
        sql, sizeof(sql),
        "SELECT id, ts, event_type, flow_id, (SELECT raw FROM event_raw r WHERE r.id=events.id)"
        " AS raw FROM events WHERE flow_id IN (SELECT flow_id"
        " FROM events WHERE %s AND flow_id IS NOT NULL) AND event_type<>'alert'"
        " ORDER BY ts LIMIT %d",
        where, TKT_MAX_CONTEXT);
    json_t *ctx = rows(t, sql, id);
    json_array_foreach(ctx, i, a)
    {
        const char *raw = json_string_value(json_object_get(a, "raw"));
        observe(obs, raw);
        json_t *ev = raw ? json_loads(raw, 0, NULL) : NULL;
        json_object_set_new(a, "event", ev ? ev : json_null());
        json_object_del(a, "raw");
    }
    json_t *o2 = json_object();
    const char *k;
    json_t *set;
    json_object_foreach(obs, k, set)
    {
        json_t *arr = json_array();
        const char *v;
        json_t *dummy;
        json_object_foreach(set, v, dummy) json_array_append_new(arr, json_string(v));
        json_object_set_new(o2, k, arr);
    }
    json_decref(obs);
    json_object_set_new(inc, "actor_geo", ageo ? ageo : json_null());
    json_object_set_new(inc, "alerts", alerts);
    json_object_set_new(inc, "context", ctx);
    json_object_set_new(inc, "observables", o2);
    return inc;
}

/* Returns 1 if host (an address or a name, without port) is ours. */
static int host_ours(const struct tcfg *cfg, const char *host)
{
    struct tcfg_addr a;
    if (tcfg_addr(cfg, host, &a) == 0)
        return a.internal;
    return tcfg_asset_host(cfg, host) != NULL;
}

void tkt_mark_internal(json_t *inc, const struct tcfg *cfg)
{
    static const char *const kinds[] = {"ip", "domain", "url"};
    json_t *ours = json_array();
    const json_t *obs = json_object_get(inc, "observables");
    if (ours == NULL)
        return;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(obs, kinds[k]), i, v)
        {
            const char *val = json_string_value(v);
            char host[256];
            if (val == NULL)
                continue;
            const char *h = val;
            if (k == 2) { /* a URL: its host, without user info, port or brackets */
                const char *p = strstr(val, "://");
                h = p ? p + 3 : val;
                size_t n = strcspn(h, "/?#");
                const char *at = memchr(h, '@', n);
                if (at != NULL) {
                    n -= (size_t)(at + 1 - h);
                    h = at + 1;
                }
                if (h[0] == '[') {
                    const char *rb = memchr(h, ']', n);
                    n = rb ? (size_t)(rb - h - 1) : 0;
                    h++;
                } else {
                    const char *colon = memchr(h, ':', n);
                    if (colon != NULL)
                        n = (size_t)(colon - h);
                }
                if (n == 0 || n >= sizeof(host))
                    continue;
                memcpy(host, h, n);
                host[n] = '\0';
                h = host;
            }
            if (host_ours(cfg, h))
                json_array_append_new(ours, json_string(val));
        }
    }
    json_object_set_new(inc, "internal_observables", ours);
}

/* ---- suppression list ---- */

int tkt_suppress_add(struct tdb *t, const struct tcfg_supp *x, char *errbuf)
{
    if (x->sid == 0 && x->addr == NULL && x->asset == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "a suppression needs --sid, --addr or --asset");
        return -1;
    }
    sqlite3_stmt *s = tdb_prepare(t,
                                  "INSERT INTO suppressions(sid, addr, asset, expires, reason,"
                                  " created) VALUES(?,?,?,?,?,?)",
                                  errbuf);
    if (s == NULL)
        return -1;
    if (x->sid)
        sqlite3_bind_int64(s, 1, x->sid);
    sqlite3_bind_text(s, 2, x->addr, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, x->asset, -1, SQLITE_STATIC);
    if (x->expires > 0)
        sqlite3_bind_double(s, 4, x->expires);
    sqlite3_bind_text(s, 5, x->reason, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 6, (double)time(NULL));
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
    if (rc != 0)
        snprintf(errbuf, TRIAGE_ERRBUF, "suppress: %s", sqlite3_errmsg(t->db));
    sqlite3_finalize(s);
    return rc;
}

json_t *tkt_suppress_list(struct tdb *t)
{
    return rows(t,
                "SELECT id, sid, addr, asset, expires, reason, created, hits FROM"
                " suppressions WHERE ?1=?1 ORDER BY id",
                0);
}

int tkt_suppress_remove(struct tdb *t, long long id, char *errbuf)
{
    sqlite3_stmt *s = tdb_prepare(t, "DELETE FROM suppressions WHERE id=?", errbuf);
    if (s == NULL)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_step(s);
    sqlite3_finalize(s);
    if (sqlite3_changes(t->db) == 0) {
        snprintf(errbuf, TRIAGE_ERRBUF, "no suppression %lld", id);
        return -1;
    }
    return 0;
}

int tkt_split(struct tdb *t, long long id, long long sid, const long long *events, size_t n,
              const char *user, long long *new_id, char *errbuf)
{
    char *st = status_of(t, id);
    int closed = st && (is_closed(st) || strcmp(st, "resolved") == 0);
    if (st == NULL || closed) {
        snprintf(errbuf, TRIAGE_ERRBUF, st ? "incident is closed" : "no such incident");
        free(st);
        return -1;
    }
    free(st);
    if (tdb_begin(t, errbuf) != 0)
        return -1;
    user = user ? user : "analyst";
    /* the alerts to move, in a temporary table */
    if (tdb_exec(t,
                 "CREATE TEMP TABLE IF NOT EXISTS split_ev(id INTEGER PRIMARY KEY);"
                 "DELETE FROM split_ev",
                 errbuf) != 0)
        goto fail;
    sqlite3_stmt *s = tdb_prepare(t,
                                  "INSERT OR IGNORE INTO split_ev SELECT id FROM events WHERE"
                                  " incident_id=?1 AND event_type='alert' AND (id=?2 OR sid=?3)",
                                  errbuf);
    if (s == NULL)
        goto fail;
    for (size_t i = 0; i < (n ? n : 1); i++) {
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, n ? events[i] : -1);
        sqlite3_bind_int64(s, 3, n ? -1 : sid);
        sqlite3_step(s);
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    long long moving = tdb_scalar(t, "SELECT COUNT(*) FROM split_ev", NULL);
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", id);
    long long have = tdb_scalar(t,
                                "SELECT COUNT(*) FROM events WHERE event_type='alert' AND"
                                " incident_id=CAST(? AS INTEGER)",
                                ids);
    if (moving == 0 || moving == have) {
        snprintf(errbuf, TRIAGE_ERRBUF,
                 moving ? "that would move every alert"
                        : "no such alerts "
                          "in the incident");
        goto fail;
    }
    /* the new ticket copies the routing and the scoring of the old one */
    char year[8] = "";
    s = tdb_prepare(t, "SELECT strftime('%Y', first_seen, 'unixepoch') FROM incidents WHERE id=?",
                    errbuf);
    if (s == NULL)
        goto fail;
    sqlite3_bind_int64(s, 1, id);
    if (sqlite3_step(s) == SQLITE_ROW)
        snprintf(year, sizeof(year), "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    char key[32], ref[48];
    snprintf(key, sizeof(key), "seq-%s", year);
    long long seq = tdb_scalar(t, "SELECT value FROM meta WHERE key=?", key);
    seq = seq < 0 ? 1 : seq + 1;
    snprintf(ref, sizeof(ref), "INC-%s-%06lld", year, seq);
    s = tdb_prepare(t, "INSERT OR REPLACE INTO meta VALUES(?,?)", errbuf);
    if (s == NULL)
        goto fail;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, seq);
    sqlite3_step(s);
    sqlite3_finalize(s);
    s = tdb_prepare(
        t,
        "INSERT INTO incidents(ref, gkey, kind, title, status, assignee, unit, unit_override,"
        " asset, asset_ip, actor, tlp, pap, hosts, score, severity, p_sev, p_sigsev, p_asset,"
        " p_geo, p_file, p_volume, p_stage, p_campaign, stage_mask, max_stage, reasons,"
        " escalations, detected_at, created_at, updated_at) SELECT ?2, 'split:'||?2, kind,"
        " title, 'new', assignee, unit, unit_override, asset, asset_ip, actor, tlp, pap, hosts,"
        " score, severity, p_sev, p_sigsev, p_asset, p_geo, p_file, p_volume, p_stage,"
        " p_campaign, stage_mask, max_stage, reasons, escalations, detected_at, ?3, ?3 FROM"
        " incidents WHERE id=?1",
        errbuf);
    if (s == NULL)
        goto fail;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, ref, -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 3, (double)time(NULL));
    int ok = sqlite3_step(s) == SQLITE_DONE;
    sqlite3_finalize(s);
    if (!ok) {
        snprintf(errbuf, TRIAGE_ERRBUF, "split: %s", sqlite3_errmsg(t->db));
        goto fail;
    }
    *new_id = sqlite3_last_insert_rowid(t->db);
    const char *recount = "UPDATE incidents SET count=(SELECT COUNT(*) FROM events WHERE"
                          " incident_id=?1 AND event_type='alert'), first_seen=(SELECT MIN(ts)"
                          " FROM events WHERE incident_id=?1 AND event_type='alert'),"
                          " last_seen=(SELECT MAX(ts) FROM events WHERE incident_id=?1 AND"
                          " event_type='alert') WHERE id=?1";
    s = tdb_prepare(t, "UPDATE events SET incident_id=? WHERE id IN (SELECT id FROM split_ev)",
                    errbuf);
    if (s == NULL)
        goto fail;
    sqlite3_bind_int64(s, 1, *new_id);
    sqlite3_step(s);
    sqlite3_finalize(s);
    /* the new ticket is named after what it holds, as correlation names one: "asset: first
     * signature", not the parent's title */
    s = tdb_prepare(t,
                    "UPDATE incidents SET title=COALESCE(asset, asset_ip, '-')||': '||"
                    "COALESCE((SELECT signature FROM events WHERE incident_id=?1 AND"
                    " event_type='alert' ORDER BY ts, id LIMIT 1), 'alert') WHERE id=?1",
                    errbuf);
    if (s == NULL)
        goto fail;
    sqlite3_bind_int64(s, 1, *new_id);
    ok = sqlite3_step(s) == SQLITE_DONE;
    sqlite3_finalize(s);
    if (!ok) {
        snprintf(errbuf, TRIAGE_ERRBUF, "split: %s", sqlite3_errmsg(t->db));
        goto fail;
    }
    for (int k = 0; k < 2; k++) {
        s = tdb_prepare(t, recount, errbuf);
        if (s == NULL)
            goto fail;
        sqlite3_bind_int64(s, 1, k ? *new_id : id);
        sqlite3_step(s);
        sqlite3_finalize(s);
    }
    char moved[64];
    snprintf(moved, sizeof(moved), "%lld alerts", moving);
    if (audit(t, id, user, "split", moved, ref, errbuf) != 0 ||
        audit(t, *new_id, user, "status", NULL, "new", errbuf) != 0)
        goto fail;
    s = tdb_prepare(t, "SELECT ref FROM incidents WHERE id=?", errbuf);
    if (s == NULL)
        goto fail;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_step(s);
    char from[64];
    snprintf(from, sizeof(from), "split from %s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    if (audit(t, *new_id, user, "split", NULL, from, errbuf) != 0)
        goto fail;
    return tdb_commit(t, errbuf);
fail:
    tdb_rollback(t);
    return -1;
}
