/* db.c: the triage store: SQLite in WAL mode, schema migrations and transactions. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/triage.h"

/* Each migration moves the schema from version i to i + 1; never edit one that has shipped. */
static const char *const migrations[] = {
    /* 1: events, incidents, tickets, suppression */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE files(path TEXT PRIMARY KEY, dev INTEGER, ino INTEGER, offset INTEGER,"
    " lineno INTEGER, bad INTEGER);"
    "CREATE TABLE events(id INTEGER PRIMARY KEY, sensor TEXT NOT NULL, hash BLOB NOT NULL,"
    " ts REAL, event_type TEXT, flow_id INTEGER, src_ip TEXT, src_port INTEGER, dest_ip TEXT,"
    " dest_port INTEGER, proto TEXT, sid INTEGER, signature TEXT, category TEXT,"
    " severity INTEGER, sigsev INTEGER, stage INTEGER, geo TEXT, filehit INTEGER,"
    " pending INTEGER NOT NULL DEFAULT 0, suppressed INTEGER NOT NULL DEFAULT 0,"
    " incident_id INTEGER);"
    /* the original text lives apart so that correlation's row updates stay small */
    "CREATE TABLE event_raw(id INTEGER PRIMARY KEY, raw TEXT NOT NULL);"
    "CREATE UNIQUE INDEX events_identity ON events(sensor, hash);"
    "CREATE INDEX events_flow ON events(flow_id) WHERE flow_id IS NOT NULL;"
    /* small: correlation asks it for every alert (a file on the alert's flow) */
    "CREATE INDEX events_fileflow ON events(flow_id) WHERE event_type = 'fileinfo';"
    "CREATE INDEX events_pending ON events(ts, id) WHERE pending = 1;"
    "CREATE INDEX events_incident ON events(incident_id) WHERE incident_id IS NOT NULL;"
    "CREATE TABLE incidents(id INTEGER PRIMARY KEY, ref TEXT UNIQUE, gkey TEXT, kind TEXT,"
    " title TEXT, status TEXT NOT NULL DEFAULT 'new', close_reason TEXT, assignee TEXT,"
    " unit TEXT, unit_override INTEGER DEFAULT 0, asset TEXT, asset_ip TEXT, actor TEXT,"
    " tlp TEXT, pap TEXT, first_seen REAL, last_seen REAL, count INTEGER DEFAULT 0,"
    " hosts INTEGER DEFAULT 1, score INTEGER DEFAULT 0, severity INTEGER DEFAULT 4,"
    " p_sev INTEGER DEFAULT 0, p_sigsev INTEGER DEFAULT 0, p_asset INTEGER DEFAULT 0,"
    " p_geo INTEGER DEFAULT 0, p_file INTEGER DEFAULT 0, p_volume INTEGER DEFAULT 0,"
    " p_stage INTEGER DEFAULT 0, p_campaign INTEGER DEFAULT 0, stage_mask INTEGER DEFAULT 0,"
    " max_stage INTEGER DEFAULT 0, reasons TEXT, escalations TEXT, campaign_id INTEGER,"
    " merged_into INTEGER, detected_at REAL, ack_at REAL, contained_at REAL,"
    " resolved_at REAL, created_at REAL, updated_at REAL);"
    "CREATE INDEX incidents_key ON incidents(gkey, last_seen);"
    "CREATE TABLE notes(id INTEGER PRIMARY KEY, incident_id INTEGER, user TEXT, ts REAL,"
    " text TEXT);"
    "CREATE TABLE history(id INTEGER PRIMARY KEY, incident_id INTEGER, user TEXT, ts REAL,"
    " field TEXT, old TEXT, new TEXT);"
    "CREATE INDEX history_incident ON history(incident_id);"
    "CREATE TABLE suppressions(id INTEGER PRIMARY KEY, sid INTEGER, addr TEXT, asset TEXT,"
    " expires REAL, reason TEXT, created REAL, hits INTEGER DEFAULT 0);"
    "CREATE TABLE campaign_hits(kind TEXT, value TEXT, asset TEXT, last_ts REAL,"
    " incident_id INTEGER, PRIMARY KEY(kind, value, asset)) WITHOUT ROWID;",
    /* 2: the sensor's inventory answer for both ends (src_asset/dest_asset), compact JSON */
    "ALTER TABLE events ADD COLUMN asset TEXT;",
    /* 3: the identity index leads with the time (events arrive in time order, so inserts append
     * instead of landing on random pages); identical lines have identical timestamps, so
     * (sensor, ts, hash) is unique exactly when (sensor, hash) is */
    "DROP INDEX events_identity;"
    "CREATE UNIQUE INDEX events_identity ON events(sensor, ts, hash);",
    /* 4: flow ids are random, so an index on them takes a random page per row. Context events
     * (http, dns, tls, flow, fileinfo) are found by flow at once; alerts only once they belong
     * to an incident (a later file on their flow joins it), so their entries are made by
     * correlation's update, not by ingest */
    "DROP INDEX events_flow;"
    "CREATE INDEX events_flow ON events(flow_id) WHERE flow_id IS NOT NULL"
    " AND event_type <> 'alert';"
    "CREATE INDEX events_alertflow ON events(flow_id) WHERE event_type = 'alert'"
    " AND incident_id IS NOT NULL;",
};
#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

/* checkpoint when the WAL holds this many frames (256 MiB of 16 KiB pages) */
#define WAL_CKPT_FRAMES 16384
#define WAL_CKPT_FRAMES_S "16384"

struct tdb_ckpt {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sqlite3 *db; /* the thread's own connection */
    int stop, due;
};

/* The writer's commit hook: wakes the checkpointer past a quarter of the limit. */
static int ckpt_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct tdb_ckpt *k = arg;
    if (frames >= WAL_CKPT_FRAMES) {
        /* the WAL restarts only once everything is copied back, which a thread running beside
         * a busy writer never sees: at the old limit the writer copies the rest itself, between
         * its transactions (little is left), so the WAL stays as bounded as before */
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    } else if (frames >= WAL_CKPT_FRAMES / 4) {
        pthread_mutex_lock(&k->mu);
        k->due = 1;
        pthread_cond_signal(&k->cv);
        pthread_mutex_unlock(&k->mu);
    }
    return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
    struct tdb_ckpt *k = arg;
    pthread_mutex_lock(&k->mu);
    for (;;) {
        while (!k->due && !k->stop)
            pthread_cond_wait(&k->cv, &k->mu);
        if (k->stop)
            break;
        k->due = 0;
        pthread_mutex_unlock(&k->mu);
        /* PASSIVE: copies what readers and the writer allow, never waits for them; a later
         * commit wakes it again for the rest */
        sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&k->mu);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

int tdb_ckpt_start(struct tdb *t)
{
    if (t->ckpt != NULL) {
        t->ckpt_users++;
        return 0;
    }
    const char *path = sqlite3_db_filename(t->db, "main");
    struct tdb_ckpt *k = path && *path ? calloc(1, sizeof(*k)) : NULL;
    if (k == NULL)
        return -1;
    if (sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        sqlite3_close(k->db);
        free(k);
        return -1;
    }
    /* a connection opens the WAL only when it first reads: until then (SQLite 3.40) a checkpoint
     * on it is a silent no-op (log and checkpointed frames -1), and the writer did them all */
    if (sqlite3_exec(k->db, "SELECT 1 FROM sqlite_master LIMIT 1", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(k->db);
        free(k);
        return -1;
    }
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    if (pthread_create(&k->th, NULL, ckpt_main, k) != 0) {
        pthread_cond_destroy(&k->cv);
        pthread_mutex_destroy(&k->mu);
        sqlite3_close(k->db);
        free(k);
        return -1;
    }
    sqlite3_wal_hook(t->db, ckpt_hook, k); /* replaces the writer's own autocheckpoint */
    t->ckpt = k;
    t->ckpt_users = 1;
    return 0;
}

void tdb_ckpt_stop(struct tdb *t)
{
    struct tdb_ckpt *k = t->ckpt;
    if (k == NULL || --t->ckpt_users > 0)
        return;
    sqlite3_wal_autocheckpoint(t->db, WAL_CKPT_FRAMES); /* the writer's own hook again */
    pthread_mutex_lock(&k->mu);
    k->stop = 1;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->th, NULL);
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    sqlite3_close(k->db);
    free(k);
    t->ckpt = NULL;
}

static void set_err(char *errbuf, const char *what, sqlite3 *db)
{
    if (errbuf != NULL)
        snprintf(errbuf, TRIAGE_ERRBUF, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

int tdb_exec(struct tdb *t, const char *sql, char *errbuf)
{
    char *msg = NULL;
    if (sqlite3_exec(t->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        if (errbuf != NULL)
            snprintf(errbuf, TRIAGE_ERRBUF, "sqlite: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

sqlite3_stmt *tdb_prepare(struct tdb *t, const char *sql, char *errbuf)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) != SQLITE_OK) {
        set_err(errbuf, "prepare", t->db);
        return NULL;
    }
    return st;
}

long long tdb_scalar(struct tdb *t, const char *sql, const char *param)
{
    sqlite3_stmt *st = tdb_prepare(t, sql, NULL);
    long long v = -1;
    if (st == NULL)
        return -1;
    if (param != NULL)
        sqlite3_bind_text(st, 1, param, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

int tdb_schema_version(struct tdb *t)
{
    return (int)tdb_scalar(t, "SELECT version FROM schema_version", NULL);
}

int tdb_begin(struct tdb *t, char *errbuf)
{
    if (tdb_exec(t, "BEGIN IMMEDIATE", errbuf) != 0)
        return -1;
    t->in_tx = 1;
    return 0;
}

int tdb_commit(struct tdb *t, char *errbuf)
{
    if (tdb_exec(t, "COMMIT", errbuf) != 0)
        return -1;
    t->in_tx = 0;
    return 0;
}

void tdb_rollback(struct tdb *t)
{
    if (t->in_tx)
        tdb_exec(t, "ROLLBACK", NULL);
    t->in_tx = 0;
}

static int migrate(struct tdb *t, char *errbuf)
{
    if (tdb_exec(t, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)",
                 errbuf) != 0)
        return -1;
    if (tdb_begin(t, errbuf) != 0)
        return -1;
    long long v = tdb_scalar(t, "SELECT version FROM schema_version", NULL);
    if (v < 0) {
        if (tdb_exec(t, "INSERT INTO schema_version VALUES(0)", errbuf) != 0)
            goto fail;
        v = 0;
    }
    if (v > (long long)NMIGRATIONS) {
        snprintf(errbuf, TRIAGE_ERRBUF, "database schema %lld is newer than this program (%zu)", v,
                 NMIGRATIONS);
        goto fail;
    }
    for (; v < (long long)NMIGRATIONS; v++) {
        char sql[96];
        if (tdb_exec(t, migrations[v], errbuf) != 0)
            goto fail;
        snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %lld", v + 1);
        if (tdb_exec(t, sql, errbuf) != 0)
            goto fail;
    }
    return tdb_commit(t, errbuf);
fail:
    tdb_rollback(t);
    return -1;
}

/* Before SQLite initialises: no memory statistics, so no global mutex on every allocation
 * (the library's own malloc counters, which nothing here reads). Too late when the process has
 * already used SQLite (sqlite3_config then refuses, harmlessly). */
static void sqlite_global_init(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct tdb *tdb_open(const char *path, char *errbuf)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_global_init);
    struct tdb *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "out of memory");
        return NULL;
    }
    /* NOMUTEX: a connection is used by one thread (ingest's reader thread never touches it), so
     * SQLite's per-call mutexes were pure cost (2 % of ingest) */
    if (sqlite3_open_v2(path, &t->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s: %s", path,
                 t->db ? sqlite3_errmsg(t->db) : "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(t->db, 10000);
    char jm[32] = "";
    /* 16 KiB pages for a new database (an existing one keeps its own): a quarter of the page
     * splits and WAL frames of 4 KiB pages; ingest's store thread took 25 % less CPU */
    if (tdb_exec(t, "PRAGMA page_size=16384", errbuf) != 0)
        goto fail;
    sqlite3_stmt *st = tdb_prepare(t, "PRAGMA journal_mode=WAL", errbuf);
    if (st == NULL)
        goto fail;
    /* Two processes opening a new database at once (consumers of one group): the switch to WAL
     * returns SQLITE_BUSY at once instead of waiting in the busy handler; wait up to 10 s. */
    int src;
    for (int tries = 0; (src = sqlite3_step(st)) == SQLITE_BUSY && tries < 200; tries++) {
        sqlite3_reset(st);
        sqlite3_sleep(50);
    }
    if (src == SQLITE_ROW)
        snprintf(jm, sizeof(jm), "%s", (const char *)sqlite3_column_text(st, 0));
    else
        snprintf(jm, sizeof(jm), "%s", sqlite3_errmsg(t->db));
    sqlite3_finalize(st);
    if (strcmp(jm, "wal") != 0) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s: cannot enable WAL mode (%s)", path, jm);
        goto fail;
    }
    if (tdb_exec(t,
                 "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-131072;"
                 "PRAGMA temp_store=MEMORY;"
                 /* checkpoint every 64 MiB, not 4: hot pages are copied back far less often */
                 "PRAGMA wal_autocheckpoint=" WAL_CKPT_FRAMES_S,
                 errbuf) != 0)
        goto fail;
    if (migrate(t, errbuf) != 0)
        goto fail;
    return t;
fail:
    if (t->db != NULL)
        sqlite3_close(t->db);
    free(t);
    return NULL;
}

void tdb_close(struct tdb *t)
{
    if (t == NULL)
        return;
    t->ckpt_users = 1;
    tdb_ckpt_stop(t);
    tdb_rollback(t);
    sqlite3_close_v2(t->db);
    free(t);
}
