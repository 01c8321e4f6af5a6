/* files.h: files carried by application protocols: hashing, magic, YARA, filestore, EVE fileinfo.
 */
#ifndef VIGIL_FILES_H
#define VIGIL_FILES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/config.h"
#include "vigil/eve.h"

/*
 * Threading (docs/files.md): one file_engine per run, shared; one file_thread per packet worker,
 * used only by that worker; a vfile belongs to the file_thread it was opened on. Closed files go
 * to the engine's YARA/filestore thread pool through a bounded queue; workers never wait on it.
 */

#define FILE_DEPTH_DEFAULT (10ULL << 20)    /* files.depth: 10 MiB per file */
#define FILE_MEMCAP_DEFAULT (256ULL << 20)  /* files.memcap: 256 MiB of buffered content */
#define FILE_QUEUE_DEFAULT 256              /* yara.queue: files waiting for a scanner */
#define FILE_TIMEOUT_DEFAULT 10             /* yara.timeout: seconds per scan */
#define FILE_MIME_MAX_DEFAULT (20ULL << 20) /* files.mime-max: bytes of one message parsed */
#define FILE_RESERVE_DEFAULT (32ULL << 20)  /* files.reserve: pre-faulted content buffers */

enum file_store_policy {
    FILE_STORE_ALL,   /* every file */
    FILE_STORE_YARA,  /* files a YARA rule matched */
    FILE_STORE_ALERT, /* files a YARA rule matched or the caller marked (file_set_alerted) */
};

/* Receives each finished EVE record (fileinfo, alert). Must be thread-safe; borrows rec. */
typedef void (*file_emit_fn)(void *ctx, json_t *rec);

/* Receives each load message ("rules/x.yar:12: syntax error ..."). Must be thread-safe. */
typedef void (*file_log_fn)(void *ctx, const char *msg);

struct file_config {
    uint64_t depth;    /* files.depth: bytes of a file hashed and kept; 0 = unlimited */
    uint64_t memcap;   /* files.memcap: content buffered across all open/queued files */
    uint64_t mime_max; /* files.mime-max: bytes of one SMTP message given to the parser */
    uint64_t reserve;  /* files.reserve: recycled, pre-faulted content buffers held; 0 = none */
    int magic;         /* files.magic: libmagic type guess (default on) */
    char **yara_rules; /* yara-rules: .yar files or directories (recursive) */
    size_t n_yara_rules;
    char *yara_cache_dir;  /* yara.cache-dir: compiled-rules cache, or NULL for none */
    unsigned yara_threads; /* yara.threads: scanner/filestore threads (default 1) */
    unsigned yara_queue;   /* yara.queue: bounded queue length (default 256) */
    unsigned yara_timeout; /* yara.timeout: seconds per scan (default 10) */
    int filestore;         /* filestore.enabled */
    char *filestore_dir;   /* filestore.dir */
    enum file_store_policy filestore_policy; /* filestore.policy: all | yara | alert */
    /* Output: emit if set, else per-thread eve_writers on sink (flushed after each file). */
    file_emit_fn emit;
    void *emit_ctx;
    struct eve_sink *sink;
    file_log_fn log; /* rule load messages; NULL: stderr */
    void *log_ctx;
};

/* Counters of the whole engine (file_engine_get_stats). */
struct file_stats {
    uint64_t opened;        /* files opened */
    uint64_t closed;        /* files closed (fileinfo emitted or about to be) */
    uint64_t truncated;     /* closed as TRUNCATED (depth, caller, or message cut) */
    uint64_t bytes;         /* bytes hashed */
    uint64_t memcap;        /* files whose content no longer fit the memcap: not stored */
    uint64_t skipped_scan;  /* files_skipped_scan: queue full, emitted without YARA or store */
    uint64_t scanned;       /* YARA scans run */
    uint64_t scanned_bytes; /* bytes those scans covered */
    uint64_t scan_usec;     /* wall time inside the scans, summed over scanner threads */
    uint64_t scan_cpu_usec; /* CPU time of the scanner threads inside the scans */
    uint64_t yara_matched;  /* files with at least one match */
    uint64_t yara_alerts;   /* alert records (one per matching rule) */
    uint64_t yara_timeouts;
    uint64_t yara_errors;
    uint64_t stored;     /* files written to the filestore */
    uint64_t store_dups; /* files already in the filestore */
    uint64_t store_errors;
    uint64_t records; /* records emitted */
    uint64_t mime_messages;
    uint64_t mime_parts;   /* parts extracted as files */
    uint64_t mime_errors;  /* messages GMime could not parse */
    uint64_t magic_cached; /* magic taken from the per-thread cache (same first bytes seen) */
    uint64_t buf_warm;     /* content buffers taken from the reserve (files.reserve) */
    uint64_t buf_cold;     /* content buffers a worker had to malloc (and fault in) itself */
};

/* What the engine's YARA rules are, after loading. */
struct file_rules_info {
    unsigned rules;     /* rules compiled */
    unsigned files;     /* rule files found */
    unsigned files_bad; /* rule files that did not compile (each reported) */
    unsigned warnings;  /* compiler warnings (not reported one by one) */
    int from_cache;     /* loaded from yara.cache-dir */
    uint64_t load_usec; /* wall time to compile or load */
};

struct file_engine;
struct file_thread;
struct vfile;

/* Sets c to the defaults above (no rules, no filestore, output unset). */
void file_config_init(struct file_config *c);

/*
 * Reads the keys of docs/files.md from cfg into c (file_config_init first). Returns 0, or -1
 * with "key: reason" in errbuf.
 */
int file_config_load(struct file_config *c, const struct config *cfg, char *errbuf);

/* Appends a rule path (--yara-rules). Returns 0, or -1 when out of memory. */
int file_config_add_rules(struct file_config *c, const char *path);

/* Frees the strings file_config_load and file_config_add_rules allocated. */
void file_config_free(struct file_config *c);

/*
 * Creates the engine: compiles (or loads from the cache) the YARA rules, creates the filestore
 * directories and starts the scanner threads. A rule file that does not compile is reported
 * through c->log as "file:line: message" and the others load. The config is copied. Returns
 * NULL with errbuf set if a rule path is missing, the filestore cannot be created, or no output
 * is given.
 */
struct file_engine *file_engine_new(const struct file_config *c, char *errbuf);

/* Finishes the queued files (scans, stores, emits), stops the threads and frees e. Every
 * file_thread must have been freed. */
void file_engine_free(struct file_engine *e);

/*
 * Waits until the scanner pool has finished every queued file (their records emitted), e.g.
 * at the end of a capture before the last stats record. Workers keep running meanwhile.
 */
void file_engine_drain(struct file_engine *e);

/* Sums the counters. Safe from any thread. */
void file_engine_get_stats(struct file_engine *e, struct file_stats *out);

/* Describes the loaded rules. */
void file_engine_rules_info(const struct file_engine *e, struct file_rules_info *out);

/*
 * Creates a packet worker's file context (its libmagic handle, its EVE writer). Returns NULL
 * with errbuf set on failure. Use it from one thread only.
 */
struct file_thread *file_thread_new(struct file_engine *e, char *errbuf);

/* Flushes and frees t. Every vfile opened on it must have been closed. */
void file_thread_free(struct file_thread *t);

#define FILE_TOSERVER 0
#define FILE_TOCLIENT 1

#define FILE_F_PARTIAL 0x1 /* a part of a resource (HTTP 206 / Content-Range) */
#define FILE_F_RANGE 0x2   /* range_start/range_end are set */

/* What the protocol parser knows when a file starts. */
struct file_meta {
    const char *app_proto; /* "http", "smtp" (copied) */
    uint64_t tx_id;
    int direction;       /* FILE_TOSERVER or FILE_TOCLIENT */
    const uint8_t *name; /* name from traffic (URI path, MIME filename): data, never a path */
    size_t name_len;
    unsigned flags;       /* FILE_F_* */
    uint64_t range_start; /* Content-Range, with FILE_F_RANGE */
    uint64_t range_end;
    /*
     * The EVE header built by the caller (eve_record_flow(ctx, "fileinfo", ts, flow), plus e.g.
     * an "http" object). The file layer takes this reference, adds "app_proto" and "fileinfo",
     * and clones it for the YARA alerts, which so carry the flow's 5-tuple and flow_id.
     */
    json_t *record;
    /*
     * The file's expected length (HTTP: the Content-Length of an unencoded body; SMTP: the
     * decoded attachment), or 0. Only a hint: the buffer is sized from it once instead of
     * grown; a wrong value costs address space or a regrowth, never content or memcap.
     */
    uint64_t size_hint;
};

/*
 * Starts a file. Takes m->record in every case. Returns NULL when out of memory (the file is
 * then lost and m->record freed).
 */
struct vfile *file_open(struct file_thread *t, const struct file_meta *m);

/* The record the file was opened with, to add fields before file_close. Borrowed. */
json_t *file_record(struct vfile *f);

/*
 * Feeds the next len bytes: hashed, and kept for YARA/filestore within the memcap. Returns 0, or
 * 1 once the file passed files.depth (later bytes are ignored: the caller may stop feeding).
 */
int file_append(struct vfile *f, const uint8_t *data, size_t len);

/* Marks a gap in the content (lost segment): fileinfo "gaps": true. */
void file_note_gap(struct vfile *f);

/* Marks the file as part of an alerted transaction (filestore.policy: alert). */
void file_set_alerted(struct vfile *f);

/*
 * Ends the file: truncated is non-zero when the transfer did not complete. Finishes the hashes
 * and queues the file for the pool (libmagic's type guess, YARA, the filestore, the fileinfo
 * record); with the queue full (or files.magic off and no rules and no filestore) all that is
 * done here at once. Never blocks. f is freed (or owned by the pool) afterwards.
 */
void file_close(struct vfile *f, int truncated);

/*
 * Guesses a closed file's type now, on the calling (worker) thread, for what needs it before
 * the pool: rules that read the magic, alerts that show the file. Does nothing when the type is
 * known, files.magic is off, or f is not closed.
 */
void file_need_magic(struct vfile *f);

/*
 * The hook detection uses (docs/files.md, "Rule keywords"): an observer told on the worker
 * thread about each file of a file_thread as it opens and as it closes.
 */
enum file_event {
    FILE_EV_OPEN,  /* opened: the name is known */
    FILE_EV_CLOSE, /* closed: size, hashes and the truncated state are final (magic: see
                      file_need_magic) */
};

/* An observer's answer to FILE_EV_CLOSE: keep the file until file_release(). */
#define FILE_HOLD 1

/*
 * At FILE_EV_CLOSE the observer may mark the file (file_set_alerted) before it is scanned and
 * stored, or return FILE_HOLD to keep it (nothing scanned, stored or written yet) until it
 * calls file_release(f) on the same thread. Otherwise it returns 0.
 */
typedef int (*file_observe_fn)(void *ctx, struct vfile *f, enum file_event ev);

/* Sets t's observer (fn NULL: none). */
void file_thread_set_observer(struct file_thread *t, file_observe_fn fn, void *ctx);

/* Hands on a file its observer held: scanned, stored and written as file_close does. f is
 * freed or owned by the scanner pool afterwards. */
void file_release(struct vfile *f);

/* 1 if file_set_alerted decides whether t's files are stored (filestore on, policy alert). */
int file_thread_store_on_alert(const struct file_thread *t);

/* What a file is, for detection. Borrowed from the file: valid until it is released. */
struct file_view {
    const char *app_proto;
    uint64_t tx_id;
    int direction; /* FILE_TOSERVER or FILE_TOCLIENT */
    const uint8_t *name;
    size_t name_len;
    uint64_t size; /* bytes hashed so far */
    int closed, truncated;
    const char *magic;               /* NULL until file_need_magic, or without files.magic */
    const char *md5, *sha1, *sha256; /* lower-case hex; NULL until closed */
};

/* Fills out for f. */
void file_get_view(const struct vfile *f, struct file_view *out);

/*
 * The fileinfo object of f as an alert's "files" list carries it (Suricata's): filename,
 * state OPEN/CLOSED/TRUNCATED, size, tx_id, and magic and hashes once closed. Returns a new
 * object, or NULL when out of memory.
 */
json_t *file_alert_info(const struct vfile *f);

/*
 * Forgets a file without a record: for a body that turned out empty (Suricata logs no file for
 * it). Undoes the "opened" count. f is freed.
 */
void file_discard(struct vfile *f);

/* The stable signature_id of YARA rule name (docs/files.md). */
uint32_t file_yara_sid(const char *rule);

/*
 * MIME: extracts the attachments of one RFC 5322 message (SMTP DATA, dot-unstuffed) with GMime.
 * m is the template of every part's file (app_proto, tx_id, direction; record is cloned per part
 * and taken; name is ignored: each part has its MIME filename).
 */
struct file_mime;

/* Starts a message of at most files.mime-max bytes. Takes m->record. NULL when out of memory. */
struct file_mime *file_mime_new(struct file_thread *t, const struct file_meta *m);

/* Feeds message bytes. Returns 0, or 1 once the message passed files.mime-max (rest ignored). */
int file_mime_append(struct file_mime *mm, const uint8_t *data, size_t len);

/*
 * Parses the message and feeds each attachment to file_open/file_append/file_close. truncated:
 * the message did not end (connection lost); the last part is then TRUNCATED. Frees mm. Returns
 * the number of files, or -1 if the message could not be parsed (counted as mime_errors).
 */
int file_mime_close(struct file_mime *mm, int truncated);

/* One decoded MIME part: name (may be NULL) and content. */
typedef void (*file_mime_part_fn)(void *ctx, const char *name, const char *content_type,
                                  const uint8_t *data, size_t len);

/*
 * Walks the message msg[0..len) and calls fn for each part file_mime_close would extract, in
 * order. Returns the number of parts, or -1 if the message could not be parsed.
 */
int file_mime_parse(const uint8_t *msg, size_t len, file_mime_part_fn fn, void *ctx);

#endif
