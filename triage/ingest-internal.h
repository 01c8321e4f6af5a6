/* ingest-internal.h: what ingest.c, ingest-parse.c and ingest-store.c share: one parsed event
 * (struct pev), its string buffer, and an ingest run's state (docs/triage.md, "Ingest modules"). */
#ifndef VIGIL_TRIAGE_INGEST_INTERNAL_H
#define VIGIL_TRIAGE_INGEST_INTERNAL_H

#include <openssl/evp.h>
#include <sys/stat.h>

#include "vigil/triage.h"

/* The strings of a batch of events: [u32 length][bytes][NUL] each, addressed by offset. */
struct pbuf {
    char *p;
    size_t used, cap;
};

#define ING_GROUP 64 /* events per multi-row INSERT (64: 9 % fewer store instructions than 16) */

struct pev;
struct ingest {
    struct tdb *t;
    const struct tcfg *cfg;
    const struct ting_opts *o;
    struct ting_stats *st;
    sqlite3_stmt *ins, *ins_raw, *file_get, *file_put;
    sqlite3_stmt *ins_group, *raw_group, *ident, *max_get;
    /* grouping (the pipeline only): events waiting for ing_store_flush, which must run before
     * their batch is reused; ing_flush_batch runs it before it commits */
    int grouping, ngroup;
    const struct pev *group[ING_GROUP];
    const struct pbuf *group_buf[ING_GROUP];
    long long max_id; /* the largest event id, known (max_known) in this transaction */
    int max_known;
    struct pbuf pb; /* the sequential path's event strings */
    EVP_MD_CTX *md;
    long in_batch;
    char *errbuf;
};

/* ---- one event, parsed and extracted (by the reader thread in pipeline mode) ---- */

#define NONE ((uint32_t)-1) /* no string: an absent field */
enum { PEV_STORE, PEV_BAD, PEV_SKIP, PEV_EMPTY };

struct pev {
    int status, is_alert, sev, sigsev, stage, filehit, pending;
    int has_flow, has_sport, has_dport;
    long long lineno, end_off, flow_id, sport, dport, sid;
    double ts;
    unsigned char hash[16];
    uint32_t raw, raw_len, type, sensor, src, dest, proto, sig, cat, geo, asset, why;
};

/* ---- ingest-parse.c ---- */

/* jansson's allocator functions, as they were before ing_alloc_install. */
struct ing_alloc {
    json_malloc_t m;
    json_free_t f;
};
/* Installs the per-thread arena allocator for jansson (saving the old functions), so that several
 * threads can call ing_parse_line at once; ing_alloc_restore puts the saved ones back. Neither
 * may run while another thread uses jansson. */
void ing_alloc_install(struct ing_alloc *saved);
void ing_alloc_restore(const struct ing_alloc *saved);
/* Frees the calling thread's parse arena (at the end of a thread that called ing_parse_line). */
void ing_parse_thread_done(void);

/* The length of the string pbuf_add stored at off. */
int ing_pbuf_len(const struct pbuf *b, uint32_t off);
/* Extracts what the store keeps from event ev (raw/len its text) into e, its strings into b.
 * Returns 0 (e->status says stored, bad or skipped), or -1 (memory or SHA-256 failure). */
int ing_extract(const struct tcfg *cfg, const struct ting_opts *o, EVP_MD_CTX *md, json_t *ev,
                const char *raw, size_t len, struct pev *e, struct pbuf *b);
/* Trims line and parses it into e (status PEV_EMPTY for a blank line). Returns 0 or -1. Several
 * threads may call it at once only between ing_alloc_install and ing_alloc_restore. */
int ing_parse_line(const struct tcfg *cfg, const struct ting_opts *o, EVP_MD_CTX *md, char *line,
                   size_t len, struct pev *e, struct pbuf *b);

/* ---- ingest-store.c ---- */

/* Counts a bad line and keeps "file:line: why" among the first max_examples. */
void ing_add_example(struct ingest *in, const char *file, long long line, const char *why);
/* Saves path's offset (if path), commits and begins the next batch. Returns 0 or -1. */
int ing_flush_batch(struct ingest *in, const char *path, const struct stat *sb, long long off,
                    long long lineno, long long bad);
/* Stores the grouped events (see struct ingest). Returns 0 or -1 with in->errbuf set. */
int ing_store_flush(struct ingest *in);
/* Accounts for one parsed event: counts, examples, the store. Returns 0 or -1. */
int ing_consume(struct ingest *in, const char *name, const struct pev *e, const struct pbuf *b);
/* Parses and stores one line (the sequential path). Returns 0 or -1 with in->errbuf set. */
int ing_line(struct ingest *in, const char *name, long long lineno, char *line, size_t len);
/* Prepares in's statements and digest context. Returns 0 or -1 with in->errbuf set. */
int ing_prepare(struct ingest *in);
void ing_release(struct ingest *in);

#endif
