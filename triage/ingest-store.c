/* ingest-store.c: parsed events into SQLite: prepared inserts, batches, file offsets, bad lines. */
#include <stdlib.h>
#include <string.h>

#include "ingest-internal.h"

/* the columns an event is inserted with, in bind_pev's order */
#define EV_COLS                                                                                    \
    "sensor, hash, ts, event_type, flow_id, src_ip, src_port, dest_ip, dest_port, proto, sid,"     \
    " signature, category, severity, sigsev, stage, geo, filehit, pending, asset"

void ing_add_example(struct ingest *in, const char *file, long long line, const char *why)
{
    struct ting_stats *st = in->st;
    st->bad++;
    if ((int)st->nexamples >= in->cfg->max_examples)
        return;
    char **a = realloc(st->examples, (st->nexamples + 1) * sizeof(*a));
    if (a == NULL)
        return;
    st->examples = a;
    size_t n = strlen(file) + strlen(why) + 32;
    if ((a[st->nexamples] = malloc(n)) == NULL)
        return;
    if (line > 0)
        snprintf(a[st->nexamples++], n, "%s:%lld: %s", file, line, why);
    else /* a record with no line number: a stream entry, whose id is in file */
        snprintf(a[st->nexamples++], n, "%s: %s", file, why);
}

static int save_file(struct ingest *in, const char *path, const struct stat *sb, long long off,
                     long long lineno, long long bad)
{
    sqlite3_stmt *s = in->file_put;
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)sb->st_dev);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)sb->st_ino);
    sqlite3_bind_int64(s, 4, off);
    sqlite3_bind_int64(s, 5, lineno);
    sqlite3_bind_int64(s, 6, bad);
    if (sqlite3_step(s) != SQLITE_DONE) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "files: %s", sqlite3_errmsg(in->t->db));
        return -1;
    }
    return 0;
}

int ing_flush_batch(struct ingest *in, const char *path, const struct stat *sb, long long off,
                    long long lineno, long long bad)
{
    if (ing_store_flush(in) != 0)
        return -1;
    if (path != NULL && save_file(in, path, sb, off, lineno, bad) != 0)
        return -1;
    in->max_known = 0; /* the next transaction asks again */
    if (tdb_commit(in->t, in->errbuf) != 0 || tdb_begin(in->t, in->errbuf) != 0)
        return -1;
    in->in_batch = 0;
    return 0;
}

static void bind_off(sqlite3_stmt *s, int i, const struct pbuf *b, uint32_t off)
{
    if (off == NONE)
        sqlite3_bind_null(s, i);
    else /* with its length: no strlen in SQLite */
        sqlite3_bind_text(s, i, b->p + off, ing_pbuf_len(b, off), SQLITE_STATIC);
}

static void bind_opt_int(sqlite3_stmt *s, int i, int has, long long v)
{
    if (has)
        sqlite3_bind_int64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

/* Binds the 20 columns of e at parameters base+1 .. base+20 (every one: no clear_bindings). */
static void bind_pev(sqlite3_stmt *s, int base, const struct pev *e, const struct pbuf *b)
{
    bind_off(s, base + 1, b, e->sensor);
    sqlite3_bind_blob(s, base + 2, e->hash, 16, SQLITE_STATIC);
    sqlite3_bind_double(s, base + 3, e->ts);
    bind_off(s, base + 4, b, e->type);
    bind_opt_int(s, base + 5, e->has_flow, e->flow_id);
    bind_off(s, base + 6, b, e->src);
    bind_opt_int(s, base + 7, e->has_sport, e->sport);
    bind_off(s, base + 8, b, e->dest);
    bind_opt_int(s, base + 9, e->has_dport, e->dport);
    bind_off(s, base + 10, b, e->proto);
    bind_opt_int(s, base + 11, e->is_alert, e->sid);
    bind_off(s, base + 12, b, e->is_alert ? e->sig : NONE);
    bind_off(s, base + 13, b, e->is_alert ? e->cat : NONE);
    bind_opt_int(s, base + 14, e->is_alert, e->sev);
    bind_opt_int(s, base + 15, e->is_alert, e->sigsev);
    bind_opt_int(s, base + 16, e->is_alert, e->stage);
    bind_off(s, base + 17, b, e->geo);
    sqlite3_bind_int(s, base + 18, e->filehit);
    sqlite3_bind_int(s, base + 19, e->pending);
    bind_off(s, base + 20, b, e->asset);
}

static int store_fail(struct ingest *in)
{
    snprintf(in->errbuf, TRIAGE_ERRBUF, "insert: %s", sqlite3_errmsg(in->t->db));
    return -1;
}

static int store_raw(struct ingest *in, long long id, const struct pev *e, const struct pbuf *b)
{
    sqlite3_stmt *r = in->ins_raw;
    sqlite3_reset(r);
    sqlite3_bind_int64(r, 1, id);
    sqlite3_bind_text(r, 2, b->p + e->raw, (int)e->raw_len, SQLITE_STATIC);
    if (sqlite3_step(r) != SQLITE_DONE)
        return store_fail(in);
    in->st->events++;
    in->st->alerts += e->is_alert;
    if (id > in->max_id)
        in->max_id = id;
    return 0;
}

/* Stores an extracted event on its own. Returns 0 or -1 with errbuf set. */
static int store_pev(struct ingest *in, const struct pev *e, const struct pbuf *b)
{
    sqlite3_stmt *s = in->ins;
    sqlite3_reset(s);
    bind_pev(s, 0, e, b);
    if (sqlite3_step(s) != SQLITE_DONE)
        return store_fail(in);
    if (sqlite3_changes(in->t->db) == 0) {
        in->st->dups++;
        return 0;
    }
    return store_raw(in, sqlite3_last_insert_rowid(in->t->db), e, b);
}

/*
 * A group of ING_GROUP events was inserted with one statement, but not all of them (duplicates)
 * or not under consecutive ids: which ones are new is asked of the identity index. A new row
 * has an id above the largest before the group; an event whose row an earlier member of the
 * group inserted (the same line twice) is a duplicate too.
 */
static int group_resolve(struct ingest *in, long long max_before)
{
    long long ids[ING_GROUP];
    sqlite3_stmt *q = in->ident;
    for (int k = 0; k < in->ngroup; k++) {
        const struct pev *e = in->group[k];
        const struct pbuf *b = in->group_buf[k];
        sqlite3_reset(q);
        bind_off(q, 1, b, e->sensor);
        sqlite3_bind_double(q, 2, e->ts);
        sqlite3_bind_blob(q, 3, e->hash, 16, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        ids[k] = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
        sqlite3_reset(q);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return store_fail(in);
        int dup = ids[k] <= max_before;
        for (int j = 0; j < k && !dup; j++)
            dup = ids[j] == ids[k];
        if (dup)
            in->st->dups++;
        else if (store_raw(in, ids[k], e, b) != 0)
            return -1;
    }
    return 0;
}

/* Stores the grouped events: ING_GROUP rows in one INSERT each for the events and their text
 * (per-statement work was half of the store's), fewer one by one. Returns 0 or -1. */
int ing_store_flush(struct ingest *in)
{
    int n = in->ngroup, rc = 0;
    if (n == 0)
        return 0;
    if (n < ING_GROUP) {
        for (int k = 0; k < n && rc == 0; k++)
            rc = store_pev(in, in->group[k], in->group_buf[k]);
        in->ngroup = 0;
        return rc;
    }
    sqlite3 *db = in->t->db;
    if (!in->max_known) { /* once a transaction: another process may have inserted between */
        sqlite3_stmt *m = in->max_get;
        sqlite3_reset(m);
        if (sqlite3_step(m) != SQLITE_ROW)
            return store_fail(in);
        in->max_id = sqlite3_column_int64(m, 0);
        sqlite3_reset(m);
        in->max_known = 1;
    }
    long long max_before = in->max_id;
    sqlite3_stmt *s = in->ins_group;
    sqlite3_reset(s);
    for (int k = 0; k < n; k++)
        bind_pev(s, 20 * k, in->group[k], in->group_buf[k]);
    if (sqlite3_step(s) != SQLITE_DONE)
        return store_fail(in);
    long long last = sqlite3_last_insert_rowid(db);
    if (sqlite3_changes(db) != n || last != max_before + n) {
        rc = group_resolve(in, max_before);
        in->ngroup = 0;
        return rc;
    }
    /* all new, under max_before + 1 .. max_before + n in VALUES order */
    sqlite3_stmt *r = in->raw_group;
    sqlite3_reset(r);
    for (int k = 0; k < n; k++) {
        const struct pev *e = in->group[k];
        sqlite3_bind_int64(r, 2 * k + 1, max_before + 1 + k);
        sqlite3_bind_text(r, 2 * k + 2, in->group_buf[k]->p + e->raw, (int)e->raw_len,
                          SQLITE_STATIC);
        in->st->events++;
        in->st->alerts += e->is_alert;
    }
    in->ngroup = 0;
    in->max_id = last;
    if (sqlite3_step(r) != SQLITE_DONE)
        return store_fail(in);
    return 0;
}

/* Stores e now, or (in->grouping) adds it to the group, flushed when full. */
static int store_event(struct ingest *in, const struct pev *e, const struct pbuf *b)
{
    if (!in->grouping)
        return store_pev(in, e, b);
    in->group[in->ngroup] = e;
    in->group_buf[in->ngroup++] = b;
    return in->ngroup == ING_GROUP ? ing_store_flush(in) : 0;
}

/* Accounts for one parsed event: counts, examples, the store. Returns 0 or -1. */
int ing_consume(struct ingest *in, const char *name, const struct pev *e, const struct pbuf *b)
{
    if (e->status == PEV_EMPTY)
        return 0;
    in->st->lines++;
    if (e->status == PEV_SKIP)
        in->st->skipped++;
    else if (e->status == PEV_BAD)
        ing_add_example(in, name, e->lineno, e->why == NONE ? "bad event" : b->p + e->why);
    else
        return store_event(in, e, b);
    return 0;
}

/* Parses and stores one line (the sequential path). Returns 0 or -1. */
int ing_line(struct ingest *in, const char *name, long long lineno, char *line, size_t len)
{
    struct pev e = {.lineno = lineno};
    in->pb.used = 0;
    if (ing_parse_line(in->cfg, in->o, in->md, line, len, &e, &in->pb) != 0) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "out of memory or SHA-256 failure");
        return -1;
    }
    return ing_consume(in, name, &e, &in->pb);
}

/* Prepares in's statements and digest context. Returns 0 or -1 with in->errbuf set. */
int ing_prepare(struct ingest *in)
{
    struct tdb *t = in->t;
    char *errbuf = in->errbuf;
    in->md = EVP_MD_CTX_new();
    in->ins = tdb_prepare(t,
                          "INSERT OR IGNORE INTO events(" EV_COLS ")"
                          " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                          errbuf);
    in->ins_raw = tdb_prepare(t, "INSERT INTO event_raw(id, raw) VALUES(?,?)", errbuf);
    char sql[ING_GROUP * 48 + 512];
    size_t o =
        (size_t)snprintf(sql, sizeof(sql), "INSERT OR IGNORE INTO events(" EV_COLS ") VALUES");
    for (int k = 0; k < ING_GROUP; k++)
        o += (size_t)snprintf(sql + o, sizeof(sql) - o,
                              "%s(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", k ? "," : "");
    in->ins_group = o < sizeof(sql) ? tdb_prepare(t, sql, errbuf) : NULL;
    o = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO event_raw(id, raw) VALUES");
    for (int k = 0; k < ING_GROUP; k++)
        o += (size_t)snprintf(sql + o, sizeof(sql) - o, "%s(?,?)", k ? "," : "");
    in->raw_group = o < sizeof(sql) ? tdb_prepare(t, sql, errbuf) : NULL;
    in->ident = tdb_prepare(t, "SELECT id FROM events WHERE sensor=? AND ts=? AND hash=?", errbuf);
    in->max_get = tdb_prepare(t, "SELECT COALESCE(MAX(id), 0) FROM events", errbuf);
    in->file_get =
        tdb_prepare(t, "SELECT dev, ino, offset, lineno, bad FROM files WHERE path=?", errbuf);
    in->file_put = tdb_prepare(t, "INSERT OR REPLACE INTO files VALUES(?,?,?,?,?,?)", errbuf);
    if (in->md == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "out of memory");
        return -1;
    }
    return in->ins == NULL || in->ins_raw == NULL || in->file_get == NULL || in->file_put == NULL ||
                   in->ins_group == NULL || in->raw_group == NULL || in->ident == NULL ||
                   in->max_get == NULL
               ? -1
               : 0;
}

void ing_release(struct ingest *in)
{
    sqlite3_finalize(in->ins);
    sqlite3_finalize(in->ins_raw);
    free(in->pb.p);
    sqlite3_finalize(in->file_get);
    sqlite3_finalize(in->file_put);
    sqlite3_finalize(in->ins_group);
    sqlite3_finalize(in->raw_group);
    sqlite3_finalize(in->ident);
    sqlite3_finalize(in->max_get);
    EVP_MD_CTX_free(in->md);
}

/* ---- single records in the caller's transaction (consume-redis.c) ---- */

struct ting_rec {
    struct ingest in;
};

struct ting_rec *ting_rec_open(struct tdb *t, const struct tcfg *cfg, const struct ting_opts *o,
                               struct ting_stats *st, char *errbuf)
{
    struct ting_rec *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "out of memory");
        return NULL;
    }
    r->in = (struct ingest){.t = t, .cfg = cfg, .o = o, .st = st, .errbuf = errbuf};
    if (ing_prepare(&r->in) != 0) {
        ting_rec_close(r);
        return NULL;
    }
    return r;
}

int ting_rec_add(struct ting_rec *r, const char *origin, char *text, size_t len)
{
    return ing_line(&r->in, origin, 0, text, len);
}

void ting_rec_close(struct ting_rec *r)
{
    if (r == NULL)
        return;
    ing_release(&r->in);
    free(r);
}

void ting_stats_free(struct ting_stats *st)
{
    for (size_t i = 0; i < st->nexamples; i++)
        free(st->examples[i]);
    free(st->examples);
    st->examples = NULL;
    st->nexamples = 0;
}
