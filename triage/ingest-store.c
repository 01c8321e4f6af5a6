/* ingest-store.c: parsed events into SQLite: prepared inserts, batches, file offsets, bad lines. */
#include <stdlib.h>
#include <string.h>

#include "ingest-internal.h"

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
    if (path != NULL && save_file(in, path, sb, off, lineno, bad) != 0)
        return -1;
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

/* Stores an extracted event. Returns 0 or -1 with errbuf set. */
static int store_pev(struct ingest *in, const struct pev *e, const struct pbuf *b)
{
    sqlite3_stmt *s = in->ins;
    sqlite3_reset(s); /* every parameter is bound below (no clear_bindings) */
    bind_off(s, 1, b, e->sensor);
    sqlite3_bind_blob(s, 2, e->hash, 16, SQLITE_STATIC);
    sqlite3_bind_double(s, 3, e->ts);
    bind_off(s, 4, b, e->type);
    bind_opt_int(s, 5, e->has_flow, e->flow_id);
    bind_off(s, 6, b, e->src);
    bind_opt_int(s, 7, e->has_sport, e->sport);
    bind_off(s, 8, b, e->dest);
    bind_opt_int(s, 9, e->has_dport, e->dport);
    bind_off(s, 10, b, e->proto);
    bind_opt_int(s, 11, e->is_alert, e->sid);
    bind_off(s, 12, b, e->is_alert ? e->sig : NONE);
    bind_off(s, 13, b, e->is_alert ? e->cat : NONE);
    bind_opt_int(s, 14, e->is_alert, e->sev);
    bind_opt_int(s, 15, e->is_alert, e->sigsev);
    bind_opt_int(s, 16, e->is_alert, e->stage);
    bind_off(s, 17, b, e->geo);
    sqlite3_bind_int(s, 18, e->filehit);
    sqlite3_bind_int(s, 19, e->pending);
    bind_off(s, 20, b, e->asset);
    if (sqlite3_step(s) != SQLITE_DONE) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "insert: %s", sqlite3_errmsg(in->t->db));
        return -1;
    }
    if (sqlite3_changes(in->t->db) == 0) {
        in->st->dups++;
        return 0;
    }
    sqlite3_stmt *r = in->ins_raw;
    sqlite3_reset(r);
    sqlite3_bind_int64(r, 1, sqlite3_last_insert_rowid(in->t->db));
    sqlite3_bind_text(r, 2, b->p + e->raw, (int)e->raw_len, SQLITE_STATIC);
    if (sqlite3_step(r) != SQLITE_DONE) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "insert: %s", sqlite3_errmsg(in->t->db));
        return -1;
    }
    in->st->events++;
    in->st->alerts += e->is_alert;
    return 0;
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
        return store_pev(in, e, b);
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
                          "INSERT OR IGNORE INTO events(sensor, hash, ts, event_type, flow_id,"
                          " src_ip, src_port, dest_ip, dest_port, proto, sid, signature, category,"
                          " severity, sigsev, stage, geo, filehit, pending, asset)"
                          " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                          errbuf);
    in->ins_raw = tdb_prepare(t, "INSERT INTO event_raw(id, raw) VALUES(?,?)", errbuf);
    in->file_get =
        tdb_prepare(t, "SELECT dev, ino, offset, lineno, bad FROM files WHERE path=?", errbuf);
    in->file_put = tdb_prepare(t, "INSERT OR REPLACE INTO files VALUES(?,?,?,?,?,?)", errbuf);
    if (in->md == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "out of memory");
        return -1;
    }
    return in->ins == NULL || in->ins_raw == NULL || in->file_get == NULL || in->file_put == NULL
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
