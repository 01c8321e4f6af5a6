/* eve-redis.c: EVE to a Redis stream: a shipper thread doing pipelined XADDs, and a disk spool. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vigil/common.h"
#include "vigil/eve-redis.h"

/*
 * How records flow. The EVE sink calls eve_redis_push() under its lock with whole lines.
 * While Redis is reachable and the spool is empty, the lines are copied into an in-memory
 * queue (bounded by queue_max bytes) that the shipper thread sends with pipelined XADDs.
 * Otherwise they are appended to the spool: numbered segment files in spool_dir, read in
 * ascending order. Order is kept by two rules: while the spool holds anything, new records go
 * to its tail (so the queue is empty whenever the spool is not); and what the shipper held
 * when Redis failed goes back to the head, either by not advancing the read offset (it came
 * from the spool) or as a new segment numbered below the first (it came from the queue).
 */

#define SPOOL_SEQ_BASE (1ULL << 40) /* first segment number; leaves room to prepend */
#define SPOOL_READ_BLOCK (1u << 20)
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 1000

struct chunk {
    struct chunk *next;
    size_t len;
    uint64_t nrec;
    char data[];
};

struct segment {
    uint64_t seq;
    uint64_t size;
};

struct eve_redis {
    struct eve_redis_config cfg;
    char maxlen_arg[24];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;

    /* Under lock: the queue, the spool's shape, the counters and the flags. */
    struct chunk *qhead, *qtail;
    uint64_t queue_bytes;
    struct segment *segs; /* segs[0] is read, segs[nsegs - 1] written */
    size_t nsegs, segcap;
    uint64_t rd_off;  /* bytes of segs[0] sent */
    int wr_fd;        /* the last segment, open for appending; -1 */
    uint64_t seg_max; /* a segment is closed past this size */
    int spool_full;   /* dropping until the spool is empty again */
    int down;         /* Redis unreachable: producers spool directly */
    int stop;
    struct eve_redis_stats st;
    vg_time_t last_drop_report;

    /* The shipper's own. */
    redisContext *ctx;
    int lock_fd;
    int rd_fd;
    uint64_t rd_seq;
    char *rbuf;
    size_t rbuf_cap;
    int outage_reported;
};

void eve_redis_config_init(struct eve_redis_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->host, sizeof(c->host), "127.0.0.1");
    c->port = 6379;
    snprintf(c->stream, sizeof(c->stream), "vigil:eve");
    c->maxlen = 1000000;
    c->batch = 256;
    c->spool_max = 128ULL << 20;
    c->queue_max = 16ULL << 20;
    c->drain_ms = 5000;
}

/* Copies the n bytes at s into out (size cap); -1 if they do not fit or are empty and must not. */
static int copy_part(char *out, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

static int url_param(struct eve_redis_config *c, const char *k, size_t klen, const char *v,
                     size_t vlen, char *errbuf)
{
    char val[256];
    uint64_t n;
    if (copy_part(val, sizeof(val), v, vlen) < 0) {
        vg_errbuf_set(errbuf, "redis URL: value of %.*s too long", (int)klen, k);
        return -1;
    }
    if (klen == 6 && memcmp(k, "stream", 6) == 0) {
        if (vlen == 0 || copy_part(c->stream, sizeof(c->stream), v, vlen) < 0) {
            vg_errbuf_set(errbuf, "redis URL: stream must be a key name");
            return -1;
        }
    } else if (klen == 6 && memcmp(k, "maxlen", 6) == 0) {
        if (vg_parse_uint(val, UINT64_MAX / 2, &n) < 0) {
            vg_errbuf_set(errbuf, "redis URL: maxlen '%s' is not a number", val);
            return -1;
        }
        c->maxlen = n;
    } else if (klen == 5 && memcmp(k, "batch", 5) == 0) {
        if (vg_parse_uint(val, 100000, &n) < 0 || n == 0) {
            vg_errbuf_set(errbuf, "redis URL: batch '%s' must be 1 to 100000", val);
            return -1;
        }
        c->batch = (unsigned)n;
    } else {
        vg_errbuf_set(errbuf, "redis URL: unknown parameter '%.*s' (use stream, maxlen, batch)",
                      (int)klen, k);
        return -1;
    }
    return 0;
}

int eve_redis_parse_url(struct eve_redis_config *c, const char *url, char *errbuf)
{
    static const char scheme[] = "redis://";
    if (strncasecmp(url, scheme, sizeof(scheme) - 1) != 0) {
        vg_errbuf_set(errbuf, "redis URL '%s' must start with redis://", url);
        return -1;
    }
    const char *p = url + sizeof(scheme) - 1;
    const char *end = p + strcspn(p, "/?");
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p; /* redis://:pw@ or redis://pw@ */
        if (copy_part(c->password, sizeof(c->password), pw, (size_t)(at - pw)) < 0) {
            vg_errbuf_set(errbuf, "redis URL: password too long");
            return -1;
        }
        p = at + 1;
    }
    const char *hend, *port = NULL;
    if (*p == '[') { /* [IPv6]:port */
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (rb == NULL) {
            vg_errbuf_set(errbuf, "redis URL '%s': unclosed [", url);
            return -1;
        }
        if (copy_part(c->host, sizeof(c->host), p + 1, (size_t)(rb - p - 1)) < 0)
            goto bad_host;
        hend = rb + 1;
        if (hend < end && *hend == ':')
            port = hend + 1;
        else if (hend != end)
            goto bad_host;
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        hend = colon ? colon : end;
        if (hend > p && copy_part(c->host, sizeof(c->host), p, (size_t)(hend - p)) < 0)
            goto bad_host;
        if (colon)
            port = colon + 1;
    }
    if (port != NULL) {
        char pb[8];
        uint64_t n;
        if (copy_part(pb, sizeof(pb), port, (size_t)(end - port)) < 0 ||
            vg_parse_uint(pb, 65535, &n) < 0 || n == 0) {
            vg_errbuf_set(errbuf, "redis URL '%s': bad port", url);
            return -1;
        }
        c->port = (int)n;
    }
    p = end;
    if (*p == '/') {
        p++;
        size_t n = strcspn(p, "?");
        if (n > 0) {
            char db[12];
            uint64_t v;
            if (copy_part(db, sizeof(db), p, n) < 0 || vg_parse_uint(db, 1u << 20, &v) < 0) {
                vg_errbuf_set(errbuf, "redis URL '%s': the path must be a database number", url);
                return -1;
            }
            c->db = (unsigned)v;
        }
        p += n;
    }
    if (*p == '?') {
        p++;
        while (*p) {
            size_t n = strcspn(p, "&");
            const char *eq = memchr(p, '=', n);
            if (eq == NULL) {
                vg_errbuf_set(errbuf, "redis URL: parameter '%.*s' needs a value", (int)n, p);
                return -1;
            }
            if (url_param(c, p, (size_t)(eq - p), eq + 1, n - (size_t)(eq - p) - 1, errbuf) < 0)
                return -1;
            p += n;
            if (*p == '&')
                p++;
        }
    }
    return 0;
bad_host:
    vg_errbuf_set(errbuf, "redis URL '%s': bad host", url);
    return -1;
}

int eve_redis_config_load(struct eve_redis_config *c, int *enabled, const struct config *cfg,
                          const char *outdir, char *errbuf)
{
    eve_redis_config_init(c);
    snprintf(c->spool_dir, sizeof(c->spool_dir), "%s/eve-redis-spool", outdir);
    uint64_t v;
    if (config_get_bool(cfg, "outputs.eve.redis.enabled", 0, enabled, errbuf) < 0)
        return -1;
    const char *s = config_get(cfg, "outputs.eve.redis.stream");
    if (s != NULL && (s[0] == '\0' || strlen(s) >= sizeof(c->stream))) {
        vg_errbuf_set(errbuf, "outputs.eve.redis.stream: '%s' is not a usable key", s);
        return -1;
    }
    if (s != NULL)
        snprintf(c->stream, sizeof(c->stream), "%s", s);
    if (config_get_uint(cfg, "outputs.eve.redis.maxlen", c->maxlen, UINT64_MAX / 2, &c->maxlen,
                        errbuf) < 0 ||
        config_get_uint(cfg, "outputs.eve.redis.batch", c->batch, 100000, &v, errbuf) < 0)
        return -1;
    if (v == 0) {
        vg_errbuf_set(errbuf, "outputs.eve.redis.batch: must be at least 1");
        return -1;
    }
    c->batch = (unsigned)v;
    if (config_get_size(cfg, "outputs.eve.redis.spool-max", c->spool_max, &c->spool_max, errbuf) <
            0 ||
        config_get_size(cfg, "outputs.eve.redis.queue-max", c->queue_max, &c->queue_max, errbuf) <
            0 ||
        config_get_uint(cfg, "outputs.eve.redis.drain-timeout", c->drain_ms, 3600000, &v, errbuf) <
            0)
        return -1;
    c->drain_ms = (unsigned)v;
    s = config_get(cfg, "outputs.eve.redis.spool-dir");
    if (s != NULL) {
        if (s[0] == '\0' || strlen(s) >= sizeof(c->spool_dir)) {
            vg_errbuf_set(errbuf, "outputs.eve.redis.spool-dir: '%s' is not a usable path", s);
            return -1;
        }
        snprintf(c->spool_dir, sizeof(c->spool_dir), "%s", s);
    }
    s = config_get(cfg, "outputs.eve.redis.server");
    if (s != NULL) {
        char err[VG_ERRBUF_SIZE];
        if (eve_redis_parse_url(c, s, err) < 0) {
            vg_errbuf_set(errbuf, "outputs.eve.redis.server: %s", err);
            return -1;
        }
    }
    return 0;
}

/* ---- The spool ---- */

static void seg_path(const struct eve_redis *r, uint64_t seq, char *out, size_t len)
{
    snprintf(out, len, "%s/eve-%020" PRIu64 ".spool", r->cfg.spool_dir, seq);
}

static void report_drop_locked(struct eve_redis *r, const char *why)
{
    vg_time_t now = vg_monotonic();
    if (r->last_drop_report != 0 && now - r->last_drop_report < 10 * VG_USEC_PER_SEC)
        return;
    r->last_drop_report = now;
    fprintf(stderr, "vigil-sensor: eve-redis: %s: records dropped (%" PRIu64 " so far)\n", why,
            r->st.dropped);
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int segs_reserve(struct eve_redis *r)
{
    if (r->nsegs < r->segcap)
        return 0;
    size_t cap = r->segcap ? r->segcap * 2 : 16;
    struct segment *s = realloc(r->segs, cap * sizeof(*s));
    if (s == NULL)
        return -1;
    r->segs = s;
    r->segcap = cap;
    return 0;
}

/* Counts the records (non-empty lines) of buf. */
static uint64_t count_lines(const char *buf, size_t len)
{
    uint64_t n = 0;
    for (const char *p = buf, *end = buf + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        n += e > p;
        p = nl ? nl + 1 : end;
    }
    return n;
}

/* Appends whole lines to the spool's tail; force ignores spool_max. 0, or -1 (counted). */
static int spool_append_locked(struct eve_redis *r, const char *buf, size_t len, uint64_t nrec,
                               int force)
{
    if (!force &&
        (r->cfg.spool_max == 0 || r->spool_full || r->st.spool_bytes + len > r->cfg.spool_max)) {
        /* Keep the whole lines that fit; then drop until the spool drains, so what reaches
         * Redis has one gap, not holes. */
        size_t fit = 0;
        if (!r->spool_full && r->cfg.spool_max > r->st.spool_bytes) {
            size_t room = (size_t)(r->cfg.spool_max - r->st.spool_bytes);
            fit = room;
            while (fit > 0 && buf[fit - 1] != '\n')
                fit--;
        }
        uint64_t kept = fit > 0 ? count_lines(buf, fit) : 0;
        if (fit > 0 && spool_append_locked(r, buf, fit, kept, 1) < 0)
            return -1; /* counted there; the rest below */
        r->spool_full = r->cfg.spool_max > 0;
        r->st.dropped += nrec - kept;
        report_drop_locked(r, r->cfg.spool_max ? "the spool is full" : "no spool configured");
        return -1;
    }
    if (r->nsegs == 0 || r->wr_fd < 0 || r->segs[r->nsegs - 1].size >= r->seg_max) {
        char path[4200];
        uint64_t seq = r->nsegs ? r->segs[r->nsegs - 1].seq + 1 : SPOOL_SEQ_BASE;
        seg_path(r, seq, path, sizeof(path));
        int fd = segs_reserve(r) < 0
                     ? -1
                     : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
        if (fd < 0)
            goto fail;
        if (r->wr_fd >= 0)
            close(r->wr_fd);
        r->wr_fd = fd;
        r->segs[r->nsegs++] = (struct segment){seq, 0};
    }
    struct segment *t = &r->segs[r->nsegs - 1];
    if (write_all(r->wr_fd, buf, len) < 0) {
        /* Never leave part of a record: cut back to the last whole line. */
        if (ftruncate(r->wr_fd, (off_t)t->size) < 0)
            r->st.errors++;
        goto fail;
    }
    t->size += len;
    r->st.spool_bytes += len;
    r->st.spooled += nrec;
    return 0;
fail:
    r->st.errors++;
    r->st.dropped += nrec;
    report_drop_locked(r, "cannot write the spool");
    return -1;
}

/* Puts lines the shipper took from the queue back in front of everything spooled. */
static void spool_prepend_locked(struct eve_redis *r, const char *buf, size_t len, uint64_t nrec)
{
    if (r->nsegs == 0) {
        spool_append_locked(r, buf, len, nrec, 1);
        return;
    }
    char path[4200];
    uint64_t seq = r->segs[0].seq - 1;
    seg_path(r, seq, path, sizeof(path));
    int fd = segs_reserve(r) < 0 ? -1 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0 || write_all(fd, buf, len) < 0) {
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        r->st.errors++;
        r->st.dropped += nrec;
        report_drop_locked(r, "cannot write the spool");
        return;
    }
    close(fd);
    memmove(r->segs + 1, r->segs, r->nsegs * sizeof(*r->segs));
    r->segs[0] = (struct segment){seq, len};
    r->nsegs++;
    r->rd_off = 0;
    r->st.spool_bytes += len;
    r->st.spooled += nrec;
}

/* Moves the whole in-memory queue to the spool's tail, in order. */
static void queue_to_spool_locked(struct eve_redis *r)
{
    while (r->qhead != NULL) {
        struct chunk *c = r->qhead;
        r->qhead = c->next;
        spool_append_locked(r, c->data, c->len, c->nrec, 0);
        free(c);
    }
    r->qtail = NULL;
    r->queue_bytes = 0;
}

/* Removes the segments read to the end. The shipper's thread only. */
static void spool_cleanup_locked(struct eve_redis *r)
{
    while (r->nsegs > 0 && r->rd_off >= r->segs[0].size) {
        char path[4200];
        seg_path(r, r->segs[0].seq, path, sizeof(path));
        if (r->rd_fd >= 0 && r->rd_seq == r->segs[0].seq) {
            close(r->rd_fd);
            r->rd_fd = -1;
        }
        if (r->nsegs == 1 && r->wr_fd >= 0) {
            close(r->wr_fd);
            r->wr_fd = -1;
        }
        unlink(path);
        r->st.spool_bytes -= r->segs[0].size;
        r->nsegs--;
        memmove(r->segs, r->segs + 1, r->nsegs * sizeof(*r->segs));
        r->rd_off = 0;
    }
    if (r->nsegs == 0)
        r->spool_full = 0;
}

static int seg_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct segment *)a)->seq, y = ((const struct segment *)b)->seq;
    return x < y ? -1 : x > y;
}

/* Cuts a segment back to its last whole line (a crash may have torn the last one). */
static void seg_fix_tail(const char *path, struct segment *s)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[4096];
    uint64_t end = s->size;
    while (end > 0) {
        size_t n = end < sizeof(buf) ? (size_t)end : sizeof(buf);
        if (pread(fd, buf, n, (off_t)(end - n)) != (ssize_t)n)
            break;
        size_t i = n;
        while (i > 0 && buf[i - 1] != '\n')
            i--;
        if (i > 0) {
            end = end - n + i;
            break;
        }
        end -= n;
    }
    if (end != s->size && ftruncate(fd, (off_t)end) == 0) {
        fprintf(stderr, "vigil-sensor: eve-redis: %s: cut a torn last record (%" PRIu64 " bytes)\n",
                path, s->size - end);
        s->size = end;
    }
    close(fd);
}

/* Creates and locks the spool directory and takes over the segments an earlier run left. */
static int spool_open(struct eve_redis *r, char *errbuf)
{
    const char *dir = r->cfg.spool_dir;
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
        vg_errbuf_set(errbuf, "eve-redis: spool directory %s: %s", dir, strerror(errno));
        return -1;
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/lock", dir);
    r->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (r->lock_fd < 0) {
        vg_errbuf_set(errbuf, "eve-redis: %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(r->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        vg_errbuf_set(errbuf, "eve-redis: spool directory %s is in use by another sensor", dir);
        return -1;
    }
    DIR *d = opendir(dir);
    if (d == NULL) {
        vg_errbuf_set(errbuf, "eve-redis: spool directory %s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t seq;
        char tail[8];
        if (strlen(e->d_name) != 30 ||
            sscanf(e->d_name, "eve-%20" SCNu64 ".spoo%1s", &seq, tail) != 2)
            continue;
        struct stat sb;
        seg_path(r, seq, path, sizeof(path));
        if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode) || segs_reserve(r) < 0)
            continue;
        r->segs[r->nsegs++] = (struct segment){seq, (uint64_t)sb.st_size};
    }
    closedir(d);
    if (r->nsegs > 1)
        qsort(r->segs, r->nsegs, sizeof(*r->segs), seg_cmp);
    size_t k = 0;
    for (size_t i = 0; i < r->nsegs; i++) {
        seg_path(r, r->segs[i].seq, path, sizeof(path));
        seg_fix_tail(path, &r->segs[i]);
        if (r->segs[i].size == 0) {
            unlink(path);
            continue;
        }
        r->st.spool_bytes += r->segs[i].size;
        r->segs[k++] = r->segs[i];
    }
    r->nsegs = k;
    if (k > 0) {
        seg_path(r, r->segs[k - 1].seq, path, sizeof(path));
        r->wr_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        fprintf(stderr,
                "vigil-sensor: eve-redis: %" PRIu64 " bytes spooled by an earlier run in %s are "
                "sent first\n",
                r->st.spool_bytes, dir);
    }
    return 0;
}

/* ---- The shipper ---- */

static void ship_outage(struct eve_redis *r, const char *why)
{
    pthread_mutex_lock(&r->lock);
    r->st.connected = 0;
    r->st.errors++;
    r->down = 1;
    queue_to_spool_locked(r);
    pthread_mutex_unlock(&r->lock);
    if (!r->outage_reported)
        fprintf(stderr, "vigil-sensor: eve-redis: %s:%d: %s; spooling records in %s\n", r->cfg.host,
                r->cfg.port, why, r->cfg.spool_dir);
    r->outage_reported = 1;
}

/* Runs one command on the fresh connection; 0 if it did not fail. */
static int ship_setup_cmd(redisContext *c, const char *fmt, const char *arg, char *why, size_t len)
{
    redisReply *rep = redisCommand(c, fmt, arg);
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        snprintf(why, len, "%s", rep ? rep->str : c->errstr);
        freeReplyObject(rep);
        return -1;
    }
    freeReplyObject(rep);
    return 0;
}

static int ship_connect(struct eve_redis *r)
{
    struct timeval ct = {1, 0}, rt = {5, 0};
    char why[256];
    redisContext *c = redisConnectWithTimeout(r->cfg.host, r->cfg.port, ct);
    if (c == NULL || c->err) {
        snprintf(why, sizeof(why), "%s", c ? c->errstr : "out of memory");
        redisFree(c);
        ship_outage(r, why);
        return -1;
    }
    redisSetTimeout(c, rt);
    char db[16];
    snprintf(db, sizeof(db), "%u", r->cfg.db);
    if ((r->cfg.password[0] &&
         ship_setup_cmd(c, "AUTH %s", r->cfg.password, why, sizeof(why)) < 0) ||
        (r->cfg.db && ship_setup_cmd(c, "SELECT %s", db, why, sizeof(why)) < 0)) {
        redisFree(c);
        ship_outage(r, why);
        return -1;
    }
    r->ctx = c;
    pthread_mutex_lock(&r->lock);
    r->st.connected = 1;
    r->down = 0;
    uint64_t spooled = r->st.spool_bytes;
    pthread_mutex_unlock(&r->lock);
    if (r->outage_reported)
        fprintf(stderr,
                "vigil-sensor: eve-redis: %s:%d is back; %" PRIu64 " spooled bytes to send\n",
                r->cfg.host, r->cfg.port, spooled);
    r->outage_reported = 0;
    return 0;
}

/* Error replies that mean "not now" rather than "never this record". */
static int reply_is_transient(const char *msg)
{
    static const char *const codes[] = {"LOADING",  "BUSY",      "OOM",         "MASTERDOWN",
                                        "READONLY", "TRYAGAIN",  "CLUSTERDOWN", "NOREPLICAS",
                                        "NOAUTH",   "WRONGPASS", "NOPERM"};
    for (size_t i = 0; i < VG_ARRAY_LEN(codes); i++)
        if (strncmp(msg, codes[i], strlen(codes[i])) == 0)
            return 1;
    return 0;
}

/*
 * XADDs the lines of buf[0..len) in pipelined batches. Returns how many bytes of leading lines
 * are done with (acknowledged, or refused for good and counted); sets *failed when the
 * connection failed or Redis asked to retry, and the rest must be sent again later.
 */
static size_t ship_lines(struct eve_redis *r, const char *buf, size_t len, int from_spool,
                         int *failed)
{
    const char *argv[8] = {"XADD", r->cfg.stream};
    size_t argvlen[8] = {4, strlen(r->cfg.stream)};
    int argc = 2;
    if (r->cfg.maxlen > 0) {
        argv[argc] = "MAXLEN", argvlen[argc++] = 6;
        argv[argc] = "~", argvlen[argc++] = 1;
        argv[argc] = r->maxlen_arg, argvlen[argc++] = strlen(r->maxlen_arg);
    }
    argv[argc] = "*", argvlen[argc++] = 1;
    argv[argc] = "eve", argvlen[argc++] = 3;
    int last = argc++;
    size_t done = 0;
    *failed = 0;
    while (done < len) {
        uint64_t bad = 0;
        size_t off = done;
        unsigned n = 0;
        int append_err = 0;
        while (n < r->cfg.batch && off < len) {
            const char *nl = memchr(buf + off, '\n', len - off);
            size_t l = nl ? (size_t)(nl - (buf + off)) : len - off;
            if (l > 0) {
                argv[last] = buf + off;
                argvlen[last] = l;
                if (redisAppendCommandArgv(r->ctx, argc, argv, argvlen) != REDIS_OK) {
                    append_err = 1; /* out of memory in hiredis: retry later */
                    break;
                }
                n++;
            }
            off += l + (nl != NULL);
        }
        /* Replies come back in order; pos moves past each record's line as its reply arrives. */
        size_t pos = done;
        for (unsigned i = 0; i < n; i++) {
            redisReply *rep;
            if (redisGetReply(r->ctx, (void **)&rep) != REDIS_OK || rep == NULL) {
                *failed = 1;
                break;
            }
            int transient = rep->type == REDIS_REPLY_ERROR && reply_is_transient(rep->str);
            if (rep->type == REDIS_REPLY_ERROR && !transient) {
                bad++;
                pthread_mutex_lock(&r->lock);
                r->st.dropped++;
                r->st.errors++;
                report_drop_locked(r, rep->str);
                pthread_mutex_unlock(&r->lock);
            }
            freeReplyObject(rep);
            if (transient) {
                *failed = 1;
                break;
            }
            while (pos < len && buf[pos] == '\n')
                pos++;
            const char *nl = memchr(buf + pos, '\n', len - pos);
            pos = nl ? (size_t)(nl - buf) + 1 : len;
        }
        uint64_t nlines = count_lines(buf + done, pos - done);
        pthread_mutex_lock(&r->lock);
        r->st.sent += nlines - bad;
        if (from_spool)
            r->st.replayed += nlines - bad;
        pthread_mutex_unlock(&r->lock);
        done = n == 0 && !append_err ? off : pos;
        if (*failed || append_err) {
            *failed = 1;
            break;
        }
    }
    return done;
}

/* Drops the connection after a failed exchange; what was not sent gets spooled. */
static void ship_disconnect(struct eve_redis *r)
{
    char why[256];
    snprintf(why, sizeof(why), "%s", r->ctx->err ? r->ctx->errstr : "Redis asked to retry later");
    redisFree(r->ctx);
    r->ctx = NULL;
    ship_outage(r, why);
}

/* Reads whole lines from the head segment into rbuf; returns their length, 0 on error. */
static size_t spool_read(struct eve_redis *r, uint64_t seq, uint64_t off, uint64_t avail)
{
    if (r->rd_fd < 0 || r->rd_seq != seq) {
        char path[4200];
        if (r->rd_fd >= 0)
            close(r->rd_fd);
        seg_path(r, seq, path, sizeof(path));
        r->rd_fd = open(path, O_RDONLY | O_CLOEXEC);
        r->rd_seq = seq;
        if (r->rd_fd < 0)
            return 0;
    }
    size_t want = avail < SPOOL_READ_BLOCK ? (size_t)avail : SPOOL_READ_BLOCK;
    for (;;) {
        if (want > r->rbuf_cap) {
            char *nb = realloc(r->rbuf, want);
            if (nb == NULL)
                return 0;
            r->rbuf = nb;
            r->rbuf_cap = want;
        }
        ssize_t n = pread(r->rd_fd, r->rbuf, want, (off_t)off);
        if (n != (ssize_t)want)
            return 0;
        size_t i = want;
        while (i > 0 && r->rbuf[i - 1] != '\n')
            i--;
        if (i > 0)
            return i;
        if (want == avail)
            return want; /* no newline at all: one unterminated record */
        want = avail - want < want ? (size_t)avail : want * 2; /* a record longer than a block */
    }
}

/* Sends one spool block or one queued chunk. */
static void ship_one(struct eve_redis *r)
{
    int failed = 0;
    pthread_mutex_lock(&r->lock);
    spool_cleanup_locked(r);
    if (r->nsegs > 0) {
        struct segment sg = r->segs[0];
        uint64_t off = r->rd_off;
        pthread_mutex_unlock(&r->lock);
        size_t n = spool_read(r, sg.seq, off, sg.size - off);
        size_t done = 0;
        if (n > 0)
            done = ship_lines(r, r->rbuf, n, 1, &failed);
        pthread_mutex_lock(&r->lock);
        if (n == 0) {
            /* The segment cannot be read: skip it, and say so. */
            fprintf(stderr,
                    "vigil-sensor: eve-redis: spool segment %" PRIu64 " unreadable (%s); "
                    "%" PRIu64 " bytes skipped\n",
                    sg.seq, strerror(errno), sg.size - off);
            r->st.errors++;
            done = (size_t)(sg.size - off);
        }
        r->rd_off += done;
        spool_cleanup_locked(r);
        pthread_mutex_unlock(&r->lock);
        if (failed)
            ship_disconnect(r);
        return;
    }
    struct chunk *c = r->qhead;
    if (c == NULL) {
        pthread_mutex_unlock(&r->lock);
        return;
    }
    r->qhead = c->next;
    if (r->qhead == NULL)
        r->qtail = NULL;
    r->queue_bytes -= c->len;
    pthread_mutex_unlock(&r->lock);
    size_t done = ship_lines(r, c->data, c->len, 0, &failed);
    if (failed) {
        ship_disconnect(r);
        pthread_mutex_lock(&r->lock);
        if (done < c->len)
            spool_prepend_locked(r, c->data + done, c->len - done,
                                 count_lines(c->data + done, c->len - done));
        queue_to_spool_locked(r);
        pthread_mutex_unlock(&r->lock);
    }
    free(c);
}

/* Waits on the condition for up to ms, unless stop was asked. Called with the lock held. */
static void wait_locked(struct eve_redis *r, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&r->cond, &r->lock, &ts);
}

static void *ship_main(void *arg)
{
    struct eve_redis *r = arg;
    unsigned retry_ms = RETRY_MIN_MS;
    vg_time_t deadline = 0;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        if (r->stop && deadline == 0)
            deadline = vg_monotonic() + (vg_time_t)r->cfg.drain_ms * 1000;
        int work = r->qhead != NULL || r->st.spool_bytes > r->rd_off;
        if (r->stop && (!work || vg_monotonic() >= deadline)) {
            pthread_mutex_unlock(&r->lock);
            break;
        }
        if (r->ctx != NULL && !work) {
            wait_locked(r, 500);
            pthread_mutex_unlock(&r->lock);
            continue;
        }
        pthread_mutex_unlock(&r->lock);
        if (r->ctx == NULL) {
            if (ship_connect(r) == 0) {
                retry_ms = RETRY_MIN_MS;
                continue;
            }
            pthread_mutex_lock(&r->lock);
            int stopping = r->stop;
            if (!stopping)
                wait_locked(r, retry_ms);
            pthread_mutex_unlock(&r->lock);
            if (stopping)
                break;
            retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
            continue;
        }
        ship_one(r);
    }
    /* What could not be sent waits in the spool for the next run. */
    pthread_mutex_lock(&r->lock);
    queue_to_spool_locked(r);
    pthread_mutex_unlock(&r->lock);
    redisFree(r->ctx);
    r->ctx = NULL;
    return NULL;
}

static void redis_free(struct eve_redis *r)
{
    while (r->qhead != NULL) {
        struct chunk *c = r->qhead;
        r->qhead = c->next;
        free(c);
    }
    if (r->wr_fd >= 0)
        close(r->wr_fd);
    if (r->rd_fd >= 0)
        close(r->rd_fd);
    if (r->lock_fd >= 0)
        close(r->lock_fd);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r->segs);
    free(r->rbuf);
    free(r);
}

struct eve_redis *eve_redis_start(const struct eve_redis_config *c, char *errbuf)
{
    struct eve_redis *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        vg_errbuf_set(errbuf, "out of memory");
        return NULL;
    }
    r->cfg = *c;
    if (r->cfg.batch == 0)
        r->cfg.batch = 1;
    snprintf(r->maxlen_arg, sizeof(r->maxlen_arg), "%" PRIu64, c->maxlen);
    r->wr_fd = r->rd_fd = r->lock_fd = -1;
    uint64_t seg = c->spool_max / 8;
    r->seg_max = seg < (64u << 10) ? (64u << 10) : seg > (16u << 20) ? (16u << 20) : seg;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (spool_open(r, errbuf) < 0) {
        redis_free(r);
        return NULL;
    }
    if (pthread_create(&r->thread, NULL, ship_main, r) != 0) {
        vg_errbuf_set(errbuf, "eve-redis: cannot start the shipper thread");
        redis_free(r);
        return NULL;
    }
    return r;
}

void eve_redis_push(struct eve_redis *r, const char *buf, size_t len, uint64_t nrec)
{
    pthread_mutex_lock(&r->lock);
    if (!r->down && r->nsegs == 0 && r->queue_bytes + len <= r->cfg.queue_max) {
        struct chunk *c = malloc(sizeof(*c) + len);
        if (c != NULL) {
            memcpy(c->data, buf, len);
            c->len = len;
            c->nrec = nrec;
            c->next = NULL;
            if (r->qtail)
                r->qtail->next = c;
            else
                r->qhead = c;
            r->qtail = c;
            r->queue_bytes += len;
            pthread_cond_signal(&r->cond);
            pthread_mutex_unlock(&r->lock);
            return;
        }
    }
    /* Keep the order: whatever is queued goes to the spool before these records. */
    queue_to_spool_locked(r);
    spool_append_locked(r, buf, len, nrec, 0);
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

void eve_redis_get_stats(struct eve_redis *r, struct eve_redis_stats *out)
{
    pthread_mutex_lock(&r->lock);
    *out = r->st;
    pthread_mutex_unlock(&r->lock);
}

void eve_redis_stop(struct eve_redis *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    const struct eve_redis_stats *s = &r->st;
    fprintf(stderr,
            "vigil-sensor: eve-redis: %" PRIu64 " records sent to %s at %s:%d (%" PRIu64
            " replayed from the spool), %" PRIu64 " spooled, %" PRIu64 " dropped, %" PRIu64
            " errors; %" PRIu64 " bytes left in the spool\n",
            s->sent, r->cfg.stream, r->cfg.host, r->cfg.port, s->replayed, s->spooled, s->dropped,
            s->errors, s->spool_bytes);
    redis_free(r);
}
