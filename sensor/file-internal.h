/* file-internal.h: the structures the file-*.c modules share (not part of the public API). */
#ifndef VIGIL_FILE_INTERNAL_H
#define VIGIL_FILE_INTERNAL_H

#include <magic.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <yara.h>

#include "vigil/common.h"
#include "vigil/files.h"

/* Bytes at the start of a file given to libmagic. */
#define FILE_MAGIC_BYTES 4096

/* The YARA side: the compiled rules and what loading found (file-yara.c). */
struct file_yara {
    YR_RULES *rules; /* NULL when no rules were given */
    struct file_rules_info info;
};

/*
 * Loads the rules of paths (files or directories, recursive) into y, from cache_dir when it
 * holds them. Each bad file is reported through log. Returns 0, or -1 with errbuf set when a
 * path cannot be read or libyara fails as a whole.
 */
int file_yara_load(struct file_yara *y, char *const *paths, size_t npaths, const char *cache_dir,
                   file_log_fn log, void *log_ctx, char *errbuf);

/* Frees the rules. */
void file_yara_free(struct file_yara *y);

/* Defines the externals signature-base expects on a scanner, for file f. */
struct vfile;
void file_yara_set_externals(YR_SCANNER *s, const struct vfile *f);

/*
 * Scans f's content with scanner s; appends {"rule","namespace","tags","meta"} objects to
 * matches. Returns 0, or the libyara error (ERROR_SCAN_TIMEOUT...).
 */
int file_yara_scan(YR_SCANNER *s, const struct vfile *f, json_t *matches);

struct file_pool; /* file-scan.c */

/* file-buf.c: the reserve of content buffers (power-of-two classes from 16 KiB, recycled and
 * pre-faulted by a thread "vigil-fbuf"), at most reserve bytes held. Returns NULL with errbuf
 * set when the thread cannot start. */
struct file_bufs;
struct file_bufs *file_bufs_new(size_t reserve, char *errbuf);

/* Stops the thread and frees the reserve (every buffer must have been given back or freed). */
void file_bufs_free(struct file_bufs *b);

/*
 * A buffer of at least want bytes; *cap is its size and *warm says whether it came from the
 * reserve (else it was malloc'd now, and the reserve will hold one more of its class). Any
 * thread. Returns NULL when out of memory.
 */
uint8_t *file_bufs_get(struct file_bufs *b, size_t want, size_t *cap, int *warm);

/* Bytes of the buffers the reserve holds ready now. */
size_t file_bufs_ready(struct file_bufs *b);

/* Gives back buf of cap bytes (from file_bufs_get, or NULL): kept for reuse or freed. */
void file_bufs_put(struct file_bufs *b, uint8_t *buf, size_t cap);

struct file_engine {
    struct file_config cfg; /* copied, strings owned */
    struct file_yara yara;
    const EVP_MD *md[3]; /* md5, sha1, sha256 fetched once */
    int need_content;    /* keep content: rules or filestore */
    uint64_t buffered;   /* content bytes held (atomic), against cfg.memcap */
    struct file_pool *pool;
    struct file_bufs *bufs; /* content buffers, when need_content and files.reserve > 0 */
    pthread_mutex_t lock; /* threads list and retired counters */
    struct file_thread *threads;
    struct file_stats retired; /* counters of freed file_threads */
    struct file_stats shared;  /* counters of the pool threads (atomic adds) */
};

/* libmagic's answer for recently seen first bytes: the same bytes give the same answer, and a
 * text file costs libmagic ~3 ms (it compiles its regexes on every call). Direct-mapped. */
#define FILE_MAGIC_CACHE 64
struct magic_memo {
    uint64_t hash; /* XXH3 of bytes */
    uint32_t len;
    uint8_t *bytes; /* a copy: a hit compares them all, so no hash collision can spoof it */
    char *magic;
};

/* A libmagic cookie and its memo: one per thread (libmagic's cookies are not thread-safe). */
struct file_magic {
    magic_t cookie;
    struct magic_memo memo[FILE_MAGIC_CACHE];
};

/* file-magic.c. Opens m. Returns 0, or -1 with errbuf set (m is then closed). */
int file_magic_open(struct file_magic *m, char *errbuf);
/* Closes m (an m that failed to open, or a zeroed one, too). */
void file_magic_close(struct file_magic *m);
/* libmagic's description of bytes through m's memo: a new string, or NULL. *cached is 1 when
 * the memo answered. */
char *file_magic_of(struct file_magic *m, const uint8_t *bytes, size_t len, int *cached);
struct vfile;
/* Sets f->magic from f's first bytes with m unless it is set already (or m is not open, or f
 * has no bytes). Counts memo answers in st. */
void file_set_magic(struct vfile *f, struct file_magic *m, struct file_stats *st, int atomic);

struct file_thread {
    struct file_engine *e;
    struct file_magic magic;   /* cookie NULL without files.magic */
    struct eve_writer *writer; /* when output goes to a sink */
    struct file_stats st;      /* written by this thread only (VG_CNT) */
    struct file_thread *next;
    file_observe_fn observe; /* detection's hook (file_thread_set_observer), or NULL */
    void *observe_ctx;
};

struct vfile {
    struct file_engine *e;
    struct file_thread *t; /* the opener's; NULL once queued (it may be freed before the scan) */
    json_t *record;
    char *app_proto;
    uint8_t *name;
    size_t name_len;
    uint64_t tx_id;
    int direction;
    unsigned flags;
    uint64_t range_start, range_end;
    EVP_MD_CTX *md[3];
    uint64_t size; /* bytes hashed */
    int truncated, gaps, alerted, over_depth;
    int closed;        /* file_close ran (hashes and magic are final) */
    int content_short; /* the memcap stopped buffering: content is a prefix */
    int skipped;       /* the queue was full: no scan, no store */
    uint8_t *buf;      /* content kept (prefix when content_short) */
    size_t buf_len, buf_cap;
    size_t charged;     /* bytes charged to the memcap (e->buffered): buf_len rounded up */
    uint64_t size_hint; /* the length the protocol announced (file_meta), or 0 */
    char *magic; /* set at the close for file rules, else by the thread that writes the record */
    char md5[33], sha1[41], sha256[65];
    json_t *yara; /* matches, after the scan */
    int stored;
};

/* Builds the fileinfo object of f (eve-fileinfo.c). Returns a new object. */
json_t *eve_fileinfo_object(const struct vfile *f);

/*
 * Turns f's record into the fileinfo record and builds one alert per YARA match in *alerts (a
 * new array). Returns the fileinfo record (borrowed from f), or NULL when out of memory.
 */
json_t *eve_fileinfo_records(struct vfile *f, json_t **alerts);

/* Stores f in the filestore directory if f has complete content. 1 stored, 0 already there,
 * -1 error (errbuf set). */
int file_store_write(const char *dir, struct vfile *f, char *errbuf);

/* Creates dir, dir/tmp and dir/00..ff. Returns 0, or -1 with errbuf set. */
int file_store_init(const char *dir, char *errbuf);

/* Whether policy asks f to be stored (after the scan). */
int file_store_wanted(enum file_store_policy policy, const struct vfile *f);

/* Pool (file-scan.c). */
struct file_pool *file_pool_new(struct file_engine *e, char *errbuf);
/* Queues f. Returns 0, or -1 when the queue is full (f untouched). */
int file_pool_push(struct file_pool *p, struct vfile *f);
/* Waits until every queued file is finished. */
void file_pool_drain(struct file_pool *p);
/* Drains the queue, joins and frees. */
void file_pool_free(struct file_pool *p);

/* file-track.c: finishes f on the calling thread: store (if asked), records, emit, free.
 * writer is the calling thread's writer (or NULL with cfg.emit). */
void file_finish(struct file_engine *e, struct vfile *f, struct eve_writer *w,
                 struct file_stats *st, int atomic);

/* Frees f and gives its buffer back to the memcap. */
void file_free(struct vfile *f);

#define FILE_STAT_ADD(st, atomic, field, n)                                                        \
    do {                                                                                           \
        if (atomic)                                                                                \
            __atomic_fetch_add(&(st)->field, (uint64_t)(n), __ATOMIC_RELAXED);                     \
        else                                                                                       \
            VG_CNT_ADD((st)->field, (n));                                                          \
    } while (0)

#endif
