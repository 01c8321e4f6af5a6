/* consume-redis.c: vigil-triage ingest --redis: a Redis Streams consumer group into the store. */
#define _GNU_SOURCE
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "vigil/common.h"
#include "vigil/eve-redis.h"
#include "vigil/triage-redis.h"

/*
 * Delivery. Each batch of entries is stored in one SQLite transaction, committed with
 * synchronous=FULL (on disk, not only in the WAL's page cache) and only then XACKed. A crash
 * between the two leaves the entries pending in the group: this consumer reads them again at its
 * next start (its own history, XREADGROUP ... 0), or another one takes them over with XAUTOCLAIM
 * once they have been idle for claim_idle_ms. Storing them again adds nothing, since an event's
 * identity is (sensor, hash of its text): effectively once. Nothing is ever acknowledged before
 * it is committed, so a lost connection or a kill -9 can cost time, never records.
 */

_Static_assert(TRIAGE_ERRBUF == VG_ERRBUF_SIZE, "the sensor's URL parser writes errbuf");

#define CONNECT_TIMEOUT_MS 2000
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000
#define ONCE_GIVE_UP_MS 10000 /* with once, a Redis unreachable this long ends the run */
#define CORR_EVERY_MS 2000    /* while busy, correlate at least this often */
#define DB_BUSY_TRIES 6       /* BEGIN retries beyond SQLite's own 10 s busy timeout */
#define META_KEY "redis.source"

enum { K_OK = 0, K_FATAL = -1, K_CONN = -2, K_NOGROUP = -3 };
enum { TAKE_NEW, TAKE_OWN, TAKE_CLAIMED };

void tredis_conf_init(struct tredis_conf *c)
{
    char host[64] = "";
    memset(c, 0, sizeof(*c));
    snprintf(c->host, sizeof(c->host), "127.0.0.1");
    c->port = 6379;
    snprintf(c->stream, sizeof(c->stream), "vigil:eve");
    snprintf(c->group, sizeof(c->group), "triage");
    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "triage");
    snprintf(c->consumer, sizeof(c->consumer), "%s-%ld", host, (long)getpid());
    c->count = 5000;
    c->block_ms = 1000;
    c->claim_idle_ms = 60000;
}

int tredis_parse_url(struct tredis_conf *c, const char *url, char *errbuf)
{
    struct eve_redis_config e;
    eve_redis_config_init(&e);
    snprintf(e.stream, sizeof(e.stream), "%s", c->stream);
    if (eve_redis_parse_url(&e, url, errbuf) != 0)
        return -1;
    snprintf(c->host, sizeof(c->host), "%s", e.host);
    c->port = e.port;
    c->db = e.db;
    snprintf(c->password, sizeof(c->password), "%s", e.password);
    snprintf(c->stream, sizeof(c->stream), "%s", e.stream);
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int stopped(const struct tredis_conf *c)
{
    return c->stop != NULL && *c->stop;
}

/* Sleeps ms milliseconds, waking early when asked to stop. */
static void nap(const struct tredis_conf *c, long ms)
{
    while (ms > 0 && !stopped(c)) {
        long step = ms < 50 ? ms : 50;
        struct timespec ts = {0, step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static int setup_cmd(redisContext *x, const char *cmd, const char *arg, char *why, size_t len)
{
    redisReply *r = redisCommand(x, "%s %s", cmd, arg);
    int ok = r != NULL && r->type != REDIS_REPLY_ERROR;
    if (!ok)
        snprintf(why, len, "%s: %s", cmd, r ? r->str : x->errstr);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* Connects to c's server (AUTH, SELECT). Returns the context, or NULL with why set. */
static redisContext *connect_to(const struct tredis_conf *c, char *why, size_t len)
{
    struct timeval ct = {CONNECT_TIMEOUT_MS / 1000, (CONNECT_TIMEOUT_MS % 1000) * 1000};
    redisContext *x = redisConnectWithTimeout(c->host, c->port, ct);
    if (x == NULL || x->err) {
        snprintf(why, len, "%s", x ? x->errstr : "out of memory");
        redisFree(x);
        return NULL;
    }
    /* A reply may take block_ms by design; beyond that plus a margin the server is gone. */
    long long rt = (long long)c->block_ms + 10000;
    struct timeval tv = {(time_t)(rt / 1000), (suseconds_t)(rt % 1000) * 1000};
    redisSetTimeout(x, tv);
    redisEnableKeepAlive(x);
    char db[16];
    snprintf(db, sizeof(db), "%u", c->db);
    if ((c->password[0] && setup_cmd(x, "AUTH", c->password, why, len) != 0) ||
        (c->db && setup_cmd(x, "SELECT", db, why, len) != 0)) {
        redisFree(x);
        return NULL;
    }
    return x;
}

/* ---- the consumer ---- */

struct consumer {
    struct tdb *t;
    const struct tcfg *cfg;
    const struct tredis_conf *c;
    struct ting_stats *st;
    struct tredis_stats *rs;
    char *errbuf;
    struct ting_opts o;
    struct ting_rec *rec;
    redisContext *x;
    char why[512];        /* the last connection problem */
    size_t shown;         /* bad-record examples already printed */
    long long nbatch;     /* batches taken, for the test hooks */
    long long stall_read; /* test hooks: stall at that batch (0: never) */
    long long stall_commit;
    FILE *lat;             /* bench hook: "ID COMMIT_US" per committed entry, or NULL */
    long long corr_events; /* st->events at the last correlation */
    long long last_corr_ms;
};

/* Classifies a reply: K_OK, K_CONN (connection lost or a transient refusal: reconnect and
 * retry), K_NOGROUP, or K_FATAL with errbuf set. */
static int check(struct consumer *k, const redisReply *r, const char *what)
{
    static const char *const transient[] = {"LOADING",  "BUSY",        "MASTERDOWN", "TRYAGAIN",
                                            "READONLY", "CLUSTERDOWN", "NOAUTH"};
    if (r == NULL) {
        snprintf(k->why, sizeof(k->why), "%s", k->x->err ? k->x->errstr : "no reply");
        return K_CONN;
    }
    if (r->type != REDIS_REPLY_ERROR)
        return K_OK;
    if (strncmp(r->str, "NOGROUP", 7) == 0)
        return K_NOGROUP;
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
        if (strncmp(r->str, transient[i], strlen(transient[i])) == 0) {
            snprintf(k->why, sizeof(k->why), "%s: %s", what, r->str);
            return K_CONN;
        }
    snprintf(k->errbuf, TRIAGE_ERRBUF, "redis %.64s:%d: %s on stream %.128s: %.200s", k->c->host,
             k->c->port, what, k->c->stream, r->str);
    return K_FATAL;
}

/* Creates the group if it does not exist. Returns K_OK, K_CONN or K_FATAL. */
static int ensure_group(struct consumer *k)
{
    /*
     * From id 0, not $: a new group starts with the stream's first entry, so records the sensors
     * sent before any triage consumer existed (up to their MAXLEN) are ingested, not skipped.
     * Re-creating a group after it was lost re-reads the stream, which adds nothing to the store.
     */
    redisReply *r = redisCommand(k->x, "XGROUP CREATE %s %s 0 MKSTREAM", k->c->stream, k->c->group);
    int rc = K_OK;
    if (r == NULL || r->type != REDIS_REPLY_ERROR || strncmp(r->str, "BUSYGROUP", 9) != 0)
        rc = check(k, r, "XGROUP CREATE");
    if (rc == K_NOGROUP)
        rc = K_FATAL;
    freeReplyObject(r);
    return rc;
}

/*
 * (Re)connects with backoff until connected and the group exists. Returns K_OK, 1 if asked to
 * stop first, or K_FATAL (Redis refused the stream, or gave up with once).
 */
static int connect_loop(struct consumer *k, int again)
{
    const struct tredis_conf *c = k->c;
    long long start = now_ms();
    long delay = RETRY_MIN_MS;
    int reported = 0;
    if (k->x != NULL) {
        redisFree(k->x);
        k->x = NULL;
    }
    for (;;) {
        if (stopped(c))
            return 1;
        k->x = connect_to(c, k->why, sizeof(k->why));
        int rc = k->x ? ensure_group(k) : K_CONN;
        if (rc == K_OK) {
            if (again) {
                k->rs->reconnects++;
                fprintf(stderr, "vigil-triage: redis %s:%d: connected again\n", c->host, c->port);
            }
            return K_OK;
        }
        if (k->x != NULL) {
            redisFree(k->x);
            k->x = NULL;
        }
        if (rc == K_FATAL)
            return K_FATAL;
        if (c->once && now_ms() - start >= ONCE_GIVE_UP_MS) {
            snprintf(k->errbuf, TRIAGE_ERRBUF,
                     "redis %.64s:%d: %.200s (gave up after %d s; entries not yet acknowledged "
                     "stay pending in group %.64s)",
                     c->host, c->port, k->why, ONCE_GIVE_UP_MS / 1000, c->group);
            return K_FATAL;
        }
        if (!reported) {
            fprintf(stderr,
                    "vigil-triage: redis %s:%d: %s; retrying (entries not yet acknowledged stay "
                    "pending in group %s)\n",
                    c->host, c->port, k->why, c->group);
            reported = 1;
        }
        again = 1;
        nap(c, delay);
        delay = delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : delay * 2;
    }
}

static void test_stall(struct consumer *k, const char *when, size_t n)
{
    fprintf(stderr, "vigil-triage: test hook: stalled %s batch %lld (%zu entries)\n", when,
            k->nbatch, n);
    while (!stopped(k->c))
        nap(k->c, 50);
}

/* BEGIN IMMEDIATE, retried while another consumer holds the write lock. Returns 0 or -1. */
static int db_begin(struct consumer *k)
{
    for (int i = 0;; i++) {
        if (tdb_begin(k->t, k->errbuf) == 0)
            return 0;
        if (sqlite3_errcode(k->t->db) != SQLITE_BUSY || i + 1 >= DB_BUSY_TRIES)
            return -1;
        fprintf(stderr, "vigil-triage: %s; retrying\n", k->errbuf);
    }
}

/* The "eve" value among an entry's field/value pairs, or NULL. */
static const redisReply *eve_field(const redisReply *fields)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *f = fields->element[i], *v = fields->element[i + 1];
        if (f->type == REDIS_REPLY_STRING && f->len == 3 && memcmp(f->str, "eve", 3) == 0)
            return v->type == REDIS_REPLY_STRING ? v : NULL;
    }
    return NULL;
}

static void show_examples(struct consumer *k)
{
    for (; k->shown < k->st->nexamples; k->shown++)
        fprintf(stderr, "%s\n", k->st->examples[k->shown]);
}

/*
 * Stores entries (an array of [id, fields]) in one transaction, commits it, then XACKs them.
 * Returns K_OK, K_CONN (committed, not acknowledged: they will be read again) or K_FATAL.
 */
static int take(struct consumer *k, const redisReply *entries, int kind)
{
    const struct tredis_conf *c = k->c;
    size_t n = entries->elements;
    if (n == 0)
        return K_OK;
    k->nbatch++;
    if (k->nbatch == k->stall_read)
        test_stall(k, "after reading", n);
    const char **argv = malloc((n + 3) * sizeof(*argv));
    size_t *argl = malloc((n + 3) * sizeof(*argl));
    if (argv == NULL || argl == NULL) {
        free(argv);
        free(argl);
        snprintf(k->errbuf, TRIAGE_ERRBUF, "out of memory");
        return K_FATAL;
    }
    size_t na = 0;
    argv[na] = "XACK", argl[na++] = 4;
    argv[na] = c->stream, argl[na++] = strlen(c->stream);
    argv[na] = c->group, argl[na++] = strlen(c->group);
    int rc = K_OK;
    if (db_begin(k) != 0) {
        rc = K_FATAL;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING) {
            k->rs->malformed++; /* not an entry at all: nothing to acknowledge */
            continue;
        }
        const char *id = e->element[0]->str;
        const redisReply *fields = e->element[1];
        argv[na] = id, argl[na++] = e->element[0]->len;
        if (fields->type != REDIS_REPLY_ARRAY) { /* trimmed by MAXLEN while pending */
            k->rs->trimmed++;
            continue;
        }
        const redisReply *v = eve_field(fields);
        if (v == NULL || v->len == 0) {
            k->rs->malformed++;
            fprintf(stderr, "vigil-triage: stream %s entry %s: no \"eve\" field; acknowledged\n",
                    c->stream, id);
            continue;
        }
        char origin[400];
        snprintf(origin, sizeof(origin), "stream %s entry %s", c->stream, id);
        if (ting_rec_add(k->rec, origin, v->str, v->len) != 0) {
            tdb_rollback(k->t);
            rc = K_FATAL;
            goto out;
        }
    }
    if (tdb_commit(k->t, k->errbuf) != 0) {
        tdb_rollback(k->t);
        rc = K_FATAL;
        goto out;
    }
    k->rs->batches++;
    k->rs->entries += (long long)n;
    if (kind == TAKE_CLAIMED)
        k->rs->claimed += (long long)n;
    else if (kind == TAKE_OWN)
        k->rs->redelivered += (long long)n;
    show_examples(k);
    if (k->lat != NULL) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long us = (unsigned long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        for (size_t i = 3; i < na; i++)
            fprintf(k->lat, "%.*s %llu\n", (int)argl[i], argv[i], us);
    }
    if (k->nbatch == k->stall_commit)
        test_stall(k, "after committing", n);
    if (na > 3) {
        redisReply *r = redisCommandArgv(k->x, (int)na, argv, argl);
        rc = check(k, r, "XACK");
        if (rc == K_OK && r->type == REDIS_REPLY_INTEGER)
            k->rs->acked += r->integer;
        freeReplyObject(r);
    }
out:
    free(argv);
    free(argl);
    return rc;
}

/* The entries of an XREADGROUP reply for our one stream (NULL when there are none). */
static const redisReply *read_entries(const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        return NULL;
    const redisReply *s = r->element[0];
    if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
        s->element[1]->type != REDIS_REPLY_ARRAY)
        return NULL;
    return s->element[1];
}

/*
 * One XREADGROUP: new entries (from ">"), or with own set this consumer's history after
 * *from (delivered before, never acknowledged). Stores what came; *got is how many.
 */
static int read_round(struct consumer *k, int own, char *from, size_t fromlen, size_t *got)
{
    const struct tredis_conf *c = k->c;
    char count[16], block[16];
    snprintf(count, sizeof(count), "%u", c->count);
    snprintf(block, sizeof(block), "%u", c->block_ms);
    const char *argv[12] = {"XREADGROUP", "GROUP", c->group, c->consumer, "COUNT", count};
    int argc = 6;
    if (!own && !c->once) {
        argv[argc++] = "BLOCK";
        argv[argc++] = block;
    }
    argv[argc++] = "STREAMS";
    argv[argc++] = c->stream;
    argv[argc++] = own ? from : ">";
    *got = 0;
    redisReply *r = redisCommandArgv(k->x, argc, argv, NULL);
    int rc = check(k, r, "XREADGROUP");
    if (rc == K_OK) {
        const redisReply *e = read_entries(r);
        if (e != NULL && e->elements > 0) {
            const redisReply *last = e->element[e->elements - 1];
            if (own && last->type == REDIS_REPLY_ARRAY && last->elements == 2 &&
                last->element[0]->type == REDIS_REPLY_STRING)
                snprintf(from, fromlen, "%s", last->element[0]->str);
            *got = e->elements;
            rc = take(k, e, own ? TAKE_OWN : TAKE_NEW);
        }
    }
    freeReplyObject(r);
    return rc;
}

/*
 * One pass of XAUTOCLAIM over the group's pending entries: takes over those idle for
 * claim_idle_ms on any consumer and stores them. *got is how many were claimed.
 */
static int claim_pass(struct consumer *k, size_t *got)
{
    const struct tredis_conf *c = k->c;
    char cursor[64] = "0-0", idle[24], count[16];
    snprintf(idle, sizeof(idle), "%llu", c->claim_idle_ms);
    snprintf(count, sizeof(count), "%u", c->count);
    *got = 0;
    do {
        const char *argv[] = {"XAUTOCLAIM", c->stream, c->group, c->consumer,
                              idle,         cursor,    "COUNT",  count};
        redisReply *r = redisCommandArgv(k->x, 8, argv, NULL);
        int rc = check(k, r, "XAUTOCLAIM");
        if (rc == K_OK && (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
                           r->element[0]->type != REDIS_REPLY_STRING ||
                           r->element[1]->type != REDIS_REPLY_ARRAY)) {
            snprintf(k->errbuf, TRIAGE_ERRBUF, "redis %s:%d: unexpected XAUTOCLAIM reply", c->host,
                     c->port);
            rc = K_FATAL;
        }
        if (rc != K_OK) {
            freeReplyObject(r);
            return rc;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        /* Redis 7: entries pending but already trimmed are dropped from the PEL and listed */
        if (r->elements >= 3 && r->element[2]->type == REDIS_REPLY_ARRAY)
            k->rs->trimmed += (long long)r->element[2]->elements;
        *got += r->element[1]->elements;
        rc = take(k, r->element[1], TAKE_CLAIMED);
        freeReplyObject(r);
        if (rc != K_OK)
            return rc;
    } while (strcmp(cursor, "0-0") != 0 && !stopped(c));
    return K_OK;
}

static int correlate(struct consumer *k)
{
    struct corr_stats cs = {0};
    k->last_corr_ms = now_ms();
    k->corr_events = k->st->events;
    if (k->c->no_correlate)
        return 0;
    if (corr_run(k->t, k->cfg, &cs, k->errbuf) != 0)
        return -1;
    k->st->suppressed += cs.suppressed;
    return 0;
}

int tredis_ingest(struct tdb *t, const struct tcfg *cfg, const struct tredis_conf *c,
                  struct ting_stats *st, struct tredis_stats *rs, char *errbuf)
{
    struct consumer k = {.t = t, .cfg = cfg, .c = c, .st = st, .rs = rs, .errbuf = errbuf};
    if (c->count == 0 || c->stream[0] == '\0' || c->group[0] == '\0' || c->consumer[0] == '\0') {
        snprintf(errbuf, TRIAGE_ERRBUF, "redis: stream, group, consumer and count must be set");
        return -1;
    }
    const char *hook = getenv("VIGIL_TRIAGE_TEST_STALL_AFTER_READ");
    k.stall_read = hook ? atoll(hook) : 0;
    hook = getenv("VIGIL_TRIAGE_TEST_STALL_AFTER_COMMIT");
    k.stall_commit = hook ? atoll(hook) : 0;
    /* bench/bench-redis.sh: XADD-to-commit latency from the entry ids and the commit times */
    if ((hook = getenv("VIGIL_TRIAGE_BENCH_LATENCY")) != NULL &&
        (k.lat = fopen(hook, "w")) == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "VIGIL_TRIAGE_BENCH_LATENCY: %.200s: %s", hook,
                 strerror(errno));
        return -1;
    }
    k.o = (struct ting_opts){.sensor = c->sensor, .no_correlate = c->no_correlate};
    k.corr_events = st->events;
    k.last_corr_ms = now_ms();
    /* An XACK must follow a commit that survives a power cut, not only a crash. */
    if (tdb_exec(t, "PRAGMA synchronous=FULL", errbuf) != 0 ||
        (k.rec = ting_rec_open(t, cfg, &k.o, st, errbuf)) == NULL) {
        if (k.lat != NULL)
            fclose(k.lat);
        return -1;
    }
    int rc = connect_loop(&k, 0);
    if (rc == 1)
        rc = K_OK; /* stopped before connecting: the loop below ends at once */
    else if (rc == K_OK)
        rc = tredis_remember(t, c, errbuf) == 0 ? K_OK : K_FATAL;
    long long claim_every = (long long)(c->claim_idle_ms / 2);
    claim_every = claim_every < 100 ? 100 : claim_every > 5000 ? 5000 : claim_every;
    long long last_claim = -claim_every; /* a first pass straight away */
    int own = 1;                         /* this consumer's history first */
    char from[64] = "0-0";
    while (rc == K_OK && !stopped(c)) {
        size_t got = 0;
        int caught_up = 0;
        if (own) {
            rc = read_round(&k, 1, from, sizeof(from), &got);
            if (rc == K_OK && got == 0)
                own = 0;
        } else if (now_ms() - last_claim >= claim_every) {
            rc = claim_pass(&k, &got);
            if (rc == K_OK)
                last_claim = now_ms();
        } else {
            rc = read_round(&k, 0, NULL, 0, &got);
            caught_up = got < c->count;
            if (rc == K_OK && got == 0 && c->once) {
                rc = claim_pass(&k, &got); /* drained: whatever a dead consumer left, then stop */
                if (rc == K_OK && got == 0)
                    break;
            }
        }
        if (rc == K_NOGROUP) {
            fprintf(stderr,
                    "vigil-triage: redis %s:%d: group %s of %s is gone (Redis restarted without "
                    "persistence?); creating it again from the stream's first entry\n",
                    c->host, c->port, c->group, c->stream);
            rc = ensure_group(&k);
            own = 1;
            snprintf(from, sizeof(from), "0-0");
        }
        if (rc == K_CONN) {
            fprintf(stderr, "vigil-triage: redis %s:%d: %s; reconnecting\n", c->host, c->port,
                    k.why);
            rc = connect_loop(&k, 1);
            if (rc == 1)
                rc = K_OK; /* asked to stop while away: nothing is half done */
            own = 1;
            snprintf(from, sizeof(from), "0-0");
        }
        if (rc == K_OK && st->events > k.corr_events &&
            (caught_up || now_ms() - k.last_corr_ms >= CORR_EVERY_MS) && correlate(&k) != 0)
            rc = K_FATAL;
    }
    if (rc == K_OK && st->events > k.corr_events && correlate(&k) != 0)
        rc = K_FATAL;
    show_examples(&k);
    if (k.lat != NULL)
        fclose(k.lat);
    ting_rec_close(k.rec);
    redisFree(k.x);
    tdb_exec(t, "PRAGMA synchronous=NORMAL", NULL);
    return rc == K_OK ? 0 : -1;
}

/* ---- where the store reads from (the meta table) ---- */

int tredis_remember(struct tdb *t, const struct tredis_conf *c, char *errbuf)
{
    json_t *o = json_pack("{s:s,s:i,s:i,s:s,s:s}", "host", c->host, "port", c->port, "db",
                          (int)c->db, "stream", c->stream, "group", c->group);
    char *txt = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    sqlite3_stmt *s =
        txt ? tdb_prepare(t, "INSERT OR REPLACE INTO meta VALUES(?,?)", errbuf) : NULL;
    int rc = -1;
    if (s != NULL) {
        sqlite3_bind_text(s, 1, META_KEY, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, txt, -1, SQLITE_STATIC);
        rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
        if (rc != 0)
            snprintf(errbuf, TRIAGE_ERRBUF, "meta: %s", sqlite3_errmsg(t->db));
    } else if (txt == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "out of memory");
    }
    sqlite3_finalize(s);
    free(txt);
    return rc;
}

int tredis_recall(struct tdb *t, struct tredis_conf *c)
{
    sqlite3_stmt *s = tdb_prepare(t, "SELECT value FROM meta WHERE key='" META_KEY "'", NULL);
    json_t *o = NULL;
    if (s != NULL && sqlite3_step(s) == SQLITE_ROW)
        o = json_loads((const char *)sqlite3_column_text(s, 0), 0, NULL);
    sqlite3_finalize(s);
    const char *host = json_string_value(json_object_get(o, "host"));
    const char *stream = json_string_value(json_object_get(o, "stream"));
    const char *group = json_string_value(json_object_get(o, "group"));
    json_int_t port = json_integer_value(json_object_get(o, "port"));
    int ok = host && stream && port > 0 && port < 65536;
    if (ok) {
        snprintf(c->host, sizeof(c->host), "%s", host);
        snprintf(c->stream, sizeof(c->stream), "%s", stream);
        if (group)
            snprintf(c->group, sizeof(c->group), "%s", group);
        c->port = (int)port;
        c->db = (unsigned)json_integer_value(json_object_get(o, "db"));
    }
    json_decref(o);
    return ok;
}

/* ---- status: XINFO and XPENDING ---- */

/* The value of key in a RESP2 map (a flat key, value, ... array), or NULL. */
static const redisReply *map_get(const redisReply *m, const char *key)
{
    if (m == NULL || m->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < m->elements; i += 2)
        if (m->element[i]->type == REDIS_REPLY_STRING && strcmp(m->element[i]->str, key) == 0)
            return m->element[i + 1];
    return NULL;
}

static json_t *jint(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_INTEGER ? json_integer(r->integer) : json_null();
}

static json_t *jstr(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
               ? json_stringn(r->str, r->len)
               : json_null();
}

/* The id of an entry reply ([id, fields]) or null. */
static json_t *jentry_id(const redisReply *e)
{
    return e && e->type == REDIS_REPLY_ARRAY && e->elements == 2 ? jstr(e->element[0])
                                                                 : json_null();
}

/* Fills g (one group's object) with XPENDING's summary and the oldest entry's idle time. */
static int group_pending(redisContext *x, const char *stream, const char *group, json_t *g)
{
    redisReply *r = redisCommand(x, "XPENDING %s %s", stream, group);
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 4) {
        json_object_set_new(g, "pending", jint(r->element[0]));
        json_object_set_new(g, "pending_first_id", jstr(r->element[1]));
        json_object_set_new(g, "pending_last_id", jstr(r->element[2]));
        json_t *per = json_object();
        const redisReply *l = r->element[3];
        for (size_t i = 0; l->type == REDIS_REPLY_ARRAY && i < l->elements; i++) {
            const redisReply *p = l->element[i];
            if (p->type == REDIS_REPLY_ARRAY && p->elements == 2 &&
                p->element[0]->type == REDIS_REPLY_STRING)
                json_object_set_new(per, p->element[0]->str,
                                    json_integer(p->element[1]->type == REDIS_REPLY_STRING
                                                     ? atoll(p->element[1]->str)
                                                     : p->element[1]->integer));
        }
        json_object_set_new(g, "pending_by_consumer", per);
    }
    freeReplyObject(r);
    r = redisCommand(x, "XPENDING %s %s - + 1", stream, group);
    if (r == NULL)
        return -1;
    json_t *idle = json_null();
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 4) {
        json_decref(idle);
        idle = jint(r->element[0]->element[2]);
    }
    json_object_set_new(g, "oldest_pending_idle_ms", idle);
    freeReplyObject(r);
    return 0;
}

static json_t *group_consumers(redisContext *x, const char *stream, const char *group, int *err)
{
    redisReply *r = redisCommand(x, "XINFO CONSUMERS %s %s", stream, group);
    json_t *a = json_array();
    if (r == NULL) {
        *err = 1;
        return a;
    }
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *m = r->element[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", jstr(map_get(m, "name")));
        json_object_set_new(o, "pending", jint(map_get(m, "pending")));
        json_object_set_new(o, "idle_ms", jint(map_get(m, "idle")));
        json_array_append_new(a, o);
    }
    freeReplyObject(r);
    return a;
}

/* One stream's object; NULL with errbuf set if the connection failed. */
static json_t *stream_status(redisContext *x, const char *key, char *errbuf)
{
    json_t *s = json_pack("{s:s}", "stream", key);
    redisReply *r = redisCommand(x, "XINFO STREAM %s", key);
    if (r == NULL)
        goto conn;
    if (r->type == REDIS_REPLY_ERROR) { /* no such key, or not a stream */
        json_object_set_new(s, "exists", json_false());
        json_object_set_new(s, "error", json_string(r->str));
        json_object_set_new(s, "groups", json_array());
        freeReplyObject(r);
        return s;
    }
    json_object_set_new(s, "exists", json_true());
    json_object_set_new(s, "length", jint(map_get(r, "length")));
    json_object_set_new(s, "first_id", jentry_id(map_get(r, "first-entry")));
    json_object_set_new(s, "last_id", jstr(map_get(r, "last-generated-id")));
    json_object_set_new(s, "entries_added", jint(map_get(r, "entries-added")));
    const redisReply *lg = map_get(r, "last-generated-id");
    char last[64] = "";
    if (lg && lg->type == REDIS_REPLY_STRING)
        snprintf(last, sizeof(last), "%s", lg->str);
    freeReplyObject(r);

    r = redisCommand(x, "XINFO GROUPS %s", key);
    if (r == NULL)
        goto conn;
    json_t *groups = json_array();
    json_object_set_new(s, "groups", groups);
    int err = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && !err; i++) {
        const redisReply *m = r->element[i];
        const redisReply *name = map_get(m, "name"), *ld = map_get(m, "last-delivered-id");
        if (name == NULL || name->type != REDIS_REPLY_STRING)
            continue;
        json_t *g = json_pack("{s:s}", "group", name->str);
        json_object_set_new(g, "last_delivered_id", jstr(ld));
        json_object_set_new(g, "entries_read", jint(map_get(m, "entries-read")));
        /*
         * Redis 7 counts the entries not yet delivered to the group ("lag"); it is nil when it
         * cannot tell (entries deleted in between). A group that has delivered the last id
         * has none left either way.
         */
        json_t *lag = jint(map_get(m, "lag"));
        if (json_is_null(lag) && ld && ld->type == REDIS_REPLY_STRING && last[0] &&
            strcmp(ld->str, last) == 0) {
            json_decref(lag);
            lag = json_integer(0);
        }
        json_object_set_new(g, "lag", lag);
        if (group_pending(x, key, name->str, g) != 0)
            err = 1;
        json_object_set_new(g, "consumers", group_consumers(x, key, name->str, &err));
        json_array_append_new(groups, g);
    }
    freeReplyObject(r);
    if (!err)
        return s;
conn:
    snprintf(errbuf, TRIAGE_ERRBUF, "redis: %s: %s", key, x->errstr[0] ? x->errstr : "no reply");
    json_decref(s);
    return NULL;
}

json_t *tredis_status(const struct tredis_conf *c, const char *const *streams, size_t n,
                      char *errbuf)
{
    char why[512];
    redisContext *x = connect_to(c, why, sizeof(why));
    if (x == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "redis %.64s:%d: %.300s", c->host, c->port, why);
        return NULL;
    }
    char server[300];
    snprintf(server, sizeof(server), "%s:%d/%u", c->host, c->port, c->db);
    json_t *o = json_pack("{s:s,s:[]}", "server", server, "streams");
    json_t *arr = json_object_get(o, "streams");
    const char *one[1] = {c->stream};
    if (n == 0) {
        streams = one;
        n = 1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *s = stream_status(x, streams[i], errbuf);
        if (s == NULL) {
            json_decref(o);
            o = NULL;
            break;
        }
        json_array_append_new(arr, s);
    }
    redisFree(x);
    return o;
}
