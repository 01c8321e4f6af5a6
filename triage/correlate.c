/* correlate.c: pending alerts into incidents: the run, grouping keys, the window, asset ends. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "correlate-internal.h"
#include "vigil/enrich.h"

/* alerts per transaction (campaign host counts depend on where chunks end: changing this
 * changes results; 50000 was 3 % faster, not worth it) */
#define CORR_CHUNK 20000
#define CORR_TX_CHUNKS 5 /* chunks per transaction (the unit a crash rolls back) */
#define STR_(x) #x
#define STR(x) STR_(x)

int corr_fail(struct corr *c, const char *what)
{
    snprintf(c->errbuf, TRIAGE_ERRBUF, "%s: %s", what, sqlite3_errmsg(c->t->db));
    return -1;
}

int corr_step_done(struct corr *c, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : corr_fail(c, what);
}

void corr_history(struct corr *c, long long id, const char *field, const char *old, const char *nw)
{
    sqlite3_stmt *h = c->hist;
    sqlite3_bind_int64(h, 1, id);
    sqlite3_bind_double(h, 2, c->now);
    /* stepped and reset at once: the strings need no copy */
    sqlite3_bind_text(h, 3, field, -1, SQLITE_STATIC);
    sqlite3_bind_text(h, 4, old, -1, SQLITE_STATIC);
    sqlite3_bind_text(h, 5, nw, -1, SQLITE_STATIC);
    corr_step_done(c, h, "history");
    sqlite3_clear_bindings(h); /* no pointer to the caller's strings is kept */
}

static struct inc *inc_from_row(sqlite3_stmt *s)
{
    struct inc *i = calloc(1, sizeof(*i));
    if (i == NULL)
        return NULL;
    i->id = sqlite3_column_int64(s, 0);
    i->first = sqlite3_column_double(s, 1);
    i->last = sqlite3_column_double(s, 2);
    i->count = sqlite3_column_int64(s, 3);
    for (int k = 0; k < 8; k++)
        i->p[k] = sqlite3_column_int(s, 4 + k);
    i->stage_mask = sqlite3_column_int(s, 12);
    i->max_stage = sqlite3_column_int(s, 13);
    i->score = sqlite3_column_int(s, 14);
    i->severity = sqlite3_column_int(s, 15);
    const char *esc = (const char *)sqlite3_column_text(s, 16);
    i->esc = esc ? json_loads(esc, 0, NULL) : NULL;
    if (i->esc == NULL)
        i->esc = json_array();
    i->campaign_id = sqlite3_column_int64(s, 17);
    i->hosts = sqlite3_column_int(s, 18);
    const char *kind = (const char *)sqlite3_column_text(s, 19);
    i->kind = strdup(kind ? kind : "group");
    return i;
}

/* Writes the INC counter of the current year (in the chunk's transaction). Returns 0 or -1. */
int corr_seq_write(struct corr *c)
{
    char key[32];
    if (!c->seq_dirty)
        return 0;
    snprintf(key, sizeof(key), "seq-%d", c->seq_year);
    sqlite3_bind_text(c->seq_put, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(c->seq_put, 2, c->seq);
    c->seq_dirty = 0;
    return corr_step_done(c, c->seq_put, "sequence");
}

/* Returns the next INC-YYYY-NNNNNN of year, in ref (>= 20 bytes). */
static int next_ref(struct corr *c, int year, char *ref, size_t len)
{
    char key[32];
    long long n = 0;
    if (year == c->seq_year) {
        n = c->seq;
    } else {
        if (corr_seq_write(c) != 0) /* the other year's counter first */
            return -1;
        snprintf(key, sizeof(key), "seq-%d", year);
        sqlite3_bind_text(c->seq_get, 1, key, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(c->seq_get) == SQLITE_ROW)
            n = sqlite3_column_int64(c->seq_get, 0);
        sqlite3_reset(c->seq_get);
    }
    n++;
    c->seq_year = year;
    c->seq = n;
    c->seq_dirty = 1;
    snprintf(ref, len, "INC-%04d-%06lld", year, n);
    return 0;
}

struct inc *corr_get_incident(struct corr *c, const char *gkey, double ts, double window,
                              const char *kind, const char *title, const char *asset,
                              const char *asset_ip, const char *actor, const struct side *sd)
{
    struct inc *i = corr_tab_get(c->inc_tab, gkey);
    if (i != NULL && ts <= i->last + window && ts >= i->first - window)
        return i;
    sqlite3_stmt *f = c->find;
    sqlite3_bind_text(f, 1, gkey, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(f, 2, ts - window);
    sqlite3_bind_double(f, 3, ts + window);
    struct inc *ni = NULL;
    if (ts - window <= c->horizon && sqlite3_step(f) == SQLITE_ROW) {
        char ik[32];
        snprintf(ik, sizeof(ik), "#%lld", (long long)sqlite3_column_int64(f, 0));
        struct inc *cached = corr_tab_get(c->id_tab, ik);
        if (cached != NULL) { /* already in memory under another key */
            sqlite3_reset(f);
            return cached;
        }
        ni = inc_from_row(f);
    }
    sqlite3_reset(f);
    if (ni == NULL) {
        char ref[48];
        time_t tt = (time_t)ts;
        struct tm tm;
        gmtime_r(&tt, &tm);
        if (next_ref(c, tm.tm_year + 1900, ref, sizeof(ref)) != 0)
            return NULL;
        ni = calloc(1, sizeof(*ni));
        if (ni == NULL)
            return NULL;
        ni->id = ++c->next_id; /* inserted by flush_inc; we hold the write lock */
        ni->is_new = 1;
        ni->dirty = 1;
        ni->ref = strdup(ref);
        ni->gkey = strdup(gkey);
        ni->title = strdup(title);
        ni->unit = strdup(sd && sd->unit ? sd->unit : c->cfg->default_unit);
        ni->asset_ip = asset_ip ? strdup(asset_ip) : NULL;
        if (!ni->ref || !ni->gkey || !ni->title || !ni->unit) {
            corr_inc_free(ni);
            return NULL;
        }
        ni->first = ni->last = ts;
        ni->esc = json_array();
        ni->kind = strdup(kind);
        ni->hosts = 1;
        ni->severity = 4;
        ni->p[P_ASSET] = sd && sd->crit >= 1 && sd->crit <= 4 ? c->cfg->crit_points[sd->crit] : 0;
        corr_history(c, ni->id, "status", NULL, "new");
        c->st->incidents_new++;
        if (strcmp(kind, "campaign") == 0)
            c->st->campaigns++;
    }
    char ik[32];
    snprintf(ik, sizeof(ik), "#%lld", ni->id);
    if (corr_tab_put(c->id_tab, ik, ni) != 0) {
        corr_inc_free(ni);
        return NULL;
    }
    ni->asset = asset ? strdup(asset) : NULL;
    ni->actor = actor ? strdup(actor) : NULL;
    if (i != NULL) { /* the cached one left the window: replace it (it is written back first) */
        corr_raise_horizon(c, i->last);
        unsigned h = corr_hash(gkey);
        struct entry *e;
        for (e = c->inc_tab[h % CORR_BUCKETS]; e && (e->hash != h || strcmp(e->key, gkey) != 0);
             e = e->next)
            ;
        /* the slot takes the new one; the old one stays reachable under a unique key so that it
         * is still written back and freed */
        char old[64];
        snprintf(old, sizeof(old), "#%lld", i->id);
        if (corr_tab_put(c->inc_tab, old, i) != 0) {
            corr_inc_free(ni);
            return NULL;
        }
        e->val = ni;
        return ni;
    }
    if (corr_tab_put(c->inc_tab, gkey, ni) != 0) {
        corr_inc_free(ni);
        return NULL;
    }
    return ni;
}

/*
 * The asset facts of one end (ip) of an alert: the sensor's answer eve ({status, unit, system,
 * criticality}) when the event carries one, else triage's own inventory look-up. Strings point
 * into eve or the inventory.
 */
static void side_of(const struct tcfg *cfg, const json_t *eve, const char *ip, struct side *out)
{
    memset(out, 0, sizeof(*out));
    const char *status = json_string_value(json_object_get(eve, "status"));
    if (status != NULL && strcmp(status, "external") == 0)
        return;
    if (status != NULL && strcmp(status, "unknown-internal") == 0) {
        out->internal = 1;
        return;
    }
    if (status != NULL && strcmp(status, "known") == 0 &&
        json_is_string(json_object_get(eve, "unit"))) {
        out->internal = 1;
        out->unit = json_string_value(json_object_get(eve, "unit"));
        out->system = json_string_value(json_object_get(eve, "system"));
        out->crit = tcfg_crit_level(json_string_value(json_object_get(eve, "criticality")));
        return;
    }
    struct tcfg_addr ta;
    tcfg_addr(cfg, ip, &ta);
    out->internal = ta.internal;
    if (ta.asset != NULL) {
        out->unit = ta.asset->unit;
        out->system = ta.asset->system;
        out->crit = (int)ta.asset->criticality;
    }
}

static int group(struct corr *c, const struct alert *a, long long *inc_id, int *supp,
                 const char *host, const char *actor, const char *asset, const struct side *sd,
                 int actor_internal);

static int process(struct corr *c, const struct alert *a, long long *inc_id, int *supp)
{
    const struct tcfg *cfg = c->cfg;
    *inc_id = 0;
    *supp = 0;
    if (strcmp(a->type, "fileinfo") == 0) { /* joins the incident of its flow */
        if (a->filehit == 0)
            return 0;
        sqlite3_bind_int64(c->flow_inc, 1, a->id);
        long long iid = 0;
        if (sqlite3_step(c->flow_inc) == SQLITE_ROW)
            iid = sqlite3_column_int64(c->flow_inc, 0);
        sqlite3_reset(c->flow_inc);
        if (iid == 0)
            return 0;
        char k[64];
        snprintf(k, sizeof(k), "#%lld", iid);
        struct inc *i = corr_tab_get(c->id_tab, k);
        if (i == NULL) {
            sqlite3_bind_int64(c->by_id, 1, iid);
            if (sqlite3_step(c->by_id) == SQLITE_ROW)
                i = inc_from_row(c->by_id);
            sqlite3_reset(c->by_id);
            if (i == NULL)
                return 0;
            if (corr_tab_put(c->inc_tab, k, i) != 0 || corr_tab_put(c->id_tab, k, i) != 0)
                return -1;
        }
        int fp = a->filehit == 2 ? cfg->yara_points : cfg->file_points;
        if (fp > i->p[P_FILE]) {
            i->p[P_FILE] = fp;
            i->count--; /* apply() counts; a file is evidence, not an alert */
            struct alert none = *a;
            none.sev = none.sigsev = none.stage = 0;
            corr_apply(c, i, &none, "");
        }
        c->st->files++;
        *inc_id = iid;
        return 0;
    }
    json_t *eve = a->asset ? json_loads(a->asset, 0, NULL) : NULL;
    struct side ss, ds;
    side_of(cfg, json_object_get(eve, "src"), a->src, &ss);
    side_of(cfg, json_object_get(eve, "dest"), a->dest, &ds);
    int si = ss.internal, di = ds.internal;
    /* C2 and exfiltration are about the internal host calling out, even to an internal server
     * (a C2 domain asked of the city's resolver); recon and exploit about the target */
    int out = si && (!di || a->stage >= STAGE_C2);
    const char *host = out ? a->src : a->dest;
    const struct side *sd = host == a->dest ? &ds : &ss;
    const char *actor = host == a->dest ? a->src : a->dest;
    if (host == NULL)
        host = "-";
    if (actor == NULL)
        actor = "-";
    const char *asset = sd->system ? sd->system : host;
    int rc = group(c, a, inc_id, supp, host, actor, asset, sd, host == a->dest ? si : di);
    json_decref(eve);
    return rc;
}

/* Groups alert a (asset end host, other end actor) into its incident and campaigns. */
static int group(struct corr *c, const struct alert *a, long long *inc_id, int *supp,
                 const char *host, const char *actor, const char *asset, const struct side *sd,
                 int actor_internal)
{
    const struct tcfg *cfg = c->cfg;
    if (tsup_match(&c->supp, a->sid, a->src, a->dest, asset, c->now)) {
        *supp = 1;
        c->st->suppressed++;
        return 0;
    }
    c->st->alerts++;
    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", a->sid);
    const char *parts[15]; /* the key's fields, joined without snprintf */
    size_t np = 0;
    if (cfg->keys & KEY_SIGNATURE) {
        parts[np++] = "sig=";
        parts[np++] = sid;
        parts[np++] = "|";
    }
    if (cfg->keys & KEY_SRC) {
        parts[np++] = "src=";
        parts[np++] = a->src ? a->src : "-";
        parts[np++] = "|";
    }
    if (cfg->keys & KEY_DEST) {
        parts[np++] = "dest=";
        parts[np++] = a->dest ? a->dest : "-";
        parts[np++] = "|";
    }
    if (cfg->keys & KEY_ASSET) {
        parts[np++] = "asset=";
        parts[np++] = host;
        parts[np++] = "|";
    }
    if (cfg->keys & KEY_ACTOR) {
        parts[np++] = "actor=";
        parts[np++] = actor;
        parts[np++] = "|";
    }
    char gkey[512];
    corr_str_cat(gkey, sizeof(gkey), parts, np);
    struct inc *i = corr_tab_get(c->inc_tab, gkey); /* the common case: cached and in the window */
    if (i == NULL || a->ts > i->last + cfg->window || a->ts < i->first - cfg->window) {
        char title[512]; /* only a new incident needs it */
        snprintf(title, sizeof(title), "%s: %s", asset, a->sig ? a->sig : "alert");
        i = corr_get_incident(c, gkey, a->ts, cfg->window, "group", title, asset, host, actor, sd);
    }
    if (i == NULL)
        return -1;
    corr_apply(c, i, a, host);
    *inc_id = i->id;
    if (strcmp(actor, "-") != 0 && !actor_internal &&
        corr_campaign(c, "actor", actor, host, i, a) != 0)
        return -1;
    if (corr_campaign(c, "sig", sid, host, i, a) != 0)
        return -1;
    return 0;
}

/* An alert's outcome, written back at the end of its chunk. */
struct done {
    long long id, inc;
    int supp;
};

static int done_id_cmp(const void *a, const void *b)
{
    const struct done *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

int corr_run(struct tdb *t, const struct tcfg *cfg, struct corr_stats *st, char *errbuf)
{
    struct corr *c = calloc(1, sizeof(*c));
    sqlite3_stmt *sel = NULL;
    struct done *done = NULL;
    int rc = -1, ck = 0;
    if (c == NULL)
        return -1;
    c->t = t;
    c->cfg = cfg;
    c->st = st;
    c->errbuf = errbuf;
    c->now = (double)time(NULL);
    corr_tab_count = &c->cached;
    struct {
        sqlite3_stmt **s;
        const char *sql;
    } stmts[] = {
        {&c->find, "SELECT " INC_COLS " FROM incidents WHERE gkey=? AND last_seen>=? AND"
                   " first_seen<=? AND merged_into IS NULL AND status IN ('new','acknowledged',"
                   "'investigating','contained') ORDER BY last_seen DESC LIMIT 1"},
        {&c->by_id, "SELECT " INC_COLS " FROM incidents WHERE id=?"},
        {&c->insert,
         "INSERT INTO incidents(id, ref, gkey, kind, title, unit, asset, asset_ip, actor, tlp, pap,"
         " detected_at, created_at, status, first_seen, last_seen, count, p_sev, p_sigsev,"
         " p_asset, p_geo, p_file, p_volume, p_stage, p_campaign, stage_mask, max_stage, score,"
         " severity, reasons, escalations, campaign_id, hosts, updated_at) VALUES(?1, ?2, ?3,"
         " ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'new', ?14, ?15, ?16, ?17, ?18, ?19, ?20,"
         " ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33)"},
        {&c->update, "UPDATE incidents SET first_seen=?, last_seen=?, count=?, p_sev=?,"
                     " p_sigsev=?, p_asset=?, p_geo=?, p_file=?, p_volume=?, p_stage=?,"
                     " p_campaign=?, stage_mask=?, max_stage=?, score=?, severity=?, reasons=?,"
                     " escalations=?, campaign_id=COALESCE(?, campaign_id), hosts=?, updated_at=?"
                     " WHERE id=?"},
        {&c->ev_upd, "UPDATE events SET pending=0, incident_id=?, suppressed=? WHERE id=?"},
        {&c->hit_get, "SELECT asset, last_ts, incident_id FROM campaign_hits WHERE kind=? AND"
                      " value=? AND last_ts>=? ORDER BY last_ts"},
        {&c->hit_put, "INSERT INTO campaign_hits VALUES(?,?,?,?,?) ON CONFLICT(kind, value, asset)"
                      " DO UPDATE SET last_ts=excluded.last_ts, incident_id=excluded.incident_id"},
        {&c->link, "UPDATE incidents SET campaign_id=?1 WHERE id IN (SELECT incident_id FROM"
                   " campaign_hits WHERE kind=?2 AND value=?3 AND last_ts>=?4) AND id<>?1"
                   " AND campaign_id IS NULL"},
        {&c->flow_inc, "SELECT e.incident_id FROM events f JOIN events e ON e.flow_id=f.flow_id"
                       " WHERE f.id=? AND e.incident_id IS NOT NULL AND e.event_type='alert'"
                       " LIMIT 1"},
        {&c->hist, "INSERT INTO history(incident_id, user, ts, field, old, new)"
                   " VALUES(?,'vigil-triage',?,?,?,?)"},
        {&c->seq_get, "SELECT value FROM meta WHERE key=?"},
        {&c->seq_put, "INSERT OR REPLACE INTO meta VALUES(?,?)"},
        {&c->hit_upd, "UPDATE campaign_hits SET last_ts=?, incident_id=? WHERE kind=? AND value=?"
                      " AND asset=?"},
        {&c->hit_old, "SELECT 1 FROM campaign_hits WHERE kind=? AND value=? AND last_ts<? LIMIT 1"},
        {&c->hit_one, "SELECT last_ts, incident_id FROM campaign_hits WHERE kind=? AND value=? AND"
                      " asset=?"},
    };
    for (size_t k = 0; k < sizeof(stmts) / sizeof(stmts[0]); k++)
        if ((*stmts[k].s = tdb_prepare(t, stmts[k].sql, errbuf)) == NULL)
            goto out;
    if (tsup_load(&c->supp, t, cfg, errbuf) != 0)
        goto out;
    done = malloc(CORR_CHUNK * sizeof(*done));
    if (done == NULL)
        goto out;
    sel = tdb_prepare(t,
                      "SELECT id, ts, event_type, src_ip, dest_ip, sid, signature, severity,"
                      " sigsev, stage, geo, max(filehit, coalesce((SELECT max(f.filehit) FROM"
                      " events f WHERE f.flow_id=e.flow_id AND f.event_type='fileinfo'), 0)),"
                      " asset FROM events e WHERE pending=1"
                      " ORDER BY ts, id LIMIT " STR(CORR_CHUNK),
                      errbuf);
    if (sel == NULL)
        goto out;
    double last_ts = 0;
    ck = tdb_ckpt_start(t) == 0;
    c->horizon = HUGE_VAL; /* until known: every new key is looked up */
    for (long long chunk = 1;; chunk++) {
        size_t nd = 0;
        if (!t->in_tx && tdb_begin(t, errbuf) != 0)
            goto out;
        long long dv = tdb_scalar(t, "PRAGMA data_version", NULL);
        if (c->data_version == 0 &&
            tdb_scalar(t,
                       "SELECT COUNT(*) FROM (SELECT 1 FROM events"
                       " WHERE pending=1 LIMIT 1 OFFSET " STR(CORR_CHUNK) ")",
                       NULL) > 0) {
            /* a bulk run: what the store holds, once (a scan of the incidents) */
            sqlite3_stmt *h =
                tdb_prepare(t, "SELECT COALESCE(MAX(last_seen), -1) FROM incidents", errbuf);
            if (h == NULL) {
                tdb_rollback(t);
                goto out;
            }
            if (sqlite3_step(h) == SQLITE_ROW)
                c->horizon = sqlite3_column_double(h, 0);
            sqlite3_finalize(h);
        } else if (c->data_version != 0 && dv != c->data_version) {
            c->horizon = HUGE_VAL; /* another process wrote between our chunks */
            c->evset_off = 1;
        }
        c->data_version = dv;
        long long max_id = tdb_scalar(t, "SELECT COALESCE(MAX(id), 0) FROM incidents", NULL);
        if (max_id > c->next_id)
            c->next_id = max_id;
        while (sqlite3_step(sel) == SQLITE_ROW) {
            struct alert a = {
                .id = sqlite3_column_int64(sel, 0),
                .ts = sqlite3_column_double(sel, 1),
                .type = (const char *)sqlite3_column_text(sel, 2),
                .src = (const char *)sqlite3_column_text(sel, 3),
                .dest = (const char *)sqlite3_column_text(sel, 4),
                .sid = sqlite3_column_int64(sel, 5),
                .sig = (const char *)sqlite3_column_text(sel, 6),
                .sev = sqlite3_column_int(sel, 7),
                .sigsev = sqlite3_column_int(sel, 8),
                .stage = sqlite3_column_int(sel, 9),
                .geo = (const char *)sqlite3_column_text(sel, 10),
                .filehit = sqlite3_column_int(sel, 11),
                .asset = (const char *)sqlite3_column_text(sel, 12),
            };
            if (a.type == NULL)
                a.type = "";
            if (a.sigsev < 0 || a.sigsev > 3)
                a.sigsev = 0;
            done[nd].id = a.id;
            if (a.ts > last_ts)
                last_ts = a.ts;
            if (process(c, &a, &done[nd].inc, &done[nd].supp) != 0) {
                sqlite3_reset(sel);
                tdb_rollback(t);
                goto out;
            }
            nd++;
        }
        sqlite3_reset(sel);
        if (corr_flush_all(c) != 0) {
            tdb_rollback(t);
            goto out;
        }
        /* in id order: the updates walk the table forwards (files from several sensors
         * interleave ids with time) */
        if (nd > 1)
            qsort(done, nd, sizeof(*done), done_id_cmp);
        for (size_t k = 0; k < nd; k++) {
            if (done[k].inc)
                sqlite3_bind_int64(c->ev_upd, 1, done[k].inc);
            else
                sqlite3_bind_null(c->ev_upd, 1);
            sqlite3_bind_int(c->ev_upd, 2, done[k].supp);
            sqlite3_bind_int64(c->ev_upd, 3, done[k].id);
            if (corr_step_done(c, c->ev_upd, "event update") != 0) {
                tdb_rollback(t);
                goto out;
            }
        }
        if (tsup_save_hits(&c->supp, t, errbuf) != 0) {
            tdb_rollback(t);
            goto out;
        }
        if (c->cached > CORR_CACHE_MAX)
            corr_evict(c, last_ts);
        /* a transaction holds CORR_TX_CHUNKS chunks: the pages every chunk touches (the
         * campaign hits, the indexes' right edges) go to the WAL once for all of them */
        if ((chunk % CORR_TX_CHUNKS == 0 || nd < CORR_CHUNK) && tdb_commit(t, errbuf) != 0)
            goto out;
        if (nd < CORR_CHUNK)
            break;
    }
    rc = 0;
out:
    if (ck)
        tdb_ckpt_stop(t);
    corr_clear_tabs(c);
    free(c->dirty_hits);
    free(c->flushing);
    free(c->evset);
    free(done);
    corr_tab_count = NULL;
    sqlite3_finalize(sel);
    for (size_t k = 0; k < sizeof(stmts) / sizeof(stmts[0]); k++)
        sqlite3_finalize(*stmts[k].s);
    tsup_free(&c->supp);
    free(c);
    return rc;
}
