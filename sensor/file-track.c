/* file-track.c: the file engine, per-worker file contexts and the life of one file (hash, keep,
 * close). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "file-internal.h"

void file_config_init(struct file_config *c)
{
    memset(c, 0, sizeof(*c));
    c->depth = FILE_DEPTH_DEFAULT;
    c->memcap = FILE_MEMCAP_DEFAULT;
    c->mime_max = FILE_MIME_MAX_DEFAULT;
    c->reserve = FILE_RESERVE_DEFAULT;
    c->magic = 1;
    c->yara_threads = 1;
    c->yara_queue = FILE_QUEUE_DEFAULT;
    c->yara_timeout = FILE_TIMEOUT_DEFAULT;
    c->filestore_policy = FILE_STORE_ALL;
}

int file_config_add_rules(struct file_config *c, const char *path)
{
    char **v = realloc(c->yara_rules, (c->n_yara_rules + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    c->yara_rules = v;
    if ((v[c->n_yara_rules] = strdup(path)) == NULL)
        return -1;
    c->n_yara_rules++;
    return 0;
}

static int set_str(char **dst, const char *s)
{
    free(*dst);
    *dst = NULL;
    if (s != NULL && (*dst = strdup(s)) == NULL)
        return -1;
    return 0;
}

int file_config_load(struct file_config *c, const struct config *cfg, char *errbuf)
{
    uint64_t v;
    if (config_get_size(cfg, "files.depth", c->depth, &c->depth, errbuf) < 0 ||
        config_get_size(cfg, "files.memcap", c->memcap, &c->memcap, errbuf) < 0 ||
        config_get_size(cfg, "files.mime-max", c->mime_max, &c->mime_max, errbuf) < 0 ||
        config_get_size(cfg, "files.reserve", c->reserve, &c->reserve, errbuf) < 0 ||
        config_get_bool(cfg, "files.magic", c->magic, &c->magic, errbuf) < 0)
        return -1;
    if (config_get_uint(cfg, "yara.threads", c->yara_threads, 16, &v, errbuf) < 0)
        return -1;
    if (v == 0) {
        vg_errbuf_set(errbuf, "yara.threads: must be at least 1");
        return -1;
    }
    c->yara_threads = (unsigned)v;
    if (config_get_uint(cfg, "yara.queue", c->yara_queue, 1u << 20, &v, errbuf) < 0)
        return -1;
    if (v == 0) {
        vg_errbuf_set(errbuf, "yara.queue: must be at least 1");
        return -1;
    }
    c->yara_queue = (unsigned)v;
    if (config_get_uint(cfg, "yara.timeout", c->yara_timeout, 3600, &v, errbuf) < 0)
        return -1;
    c->yara_timeout = (unsigned)v;
    const char *s = config_get(cfg, "yara.cache-dir");
    if (s != NULL && set_str(&c->yara_cache_dir, s) < 0)
        goto oom;

    const struct config_node *n = config_lookup(cfg, "yara-rules");
    if (n != NULL && n->type == CONFIG_SCALAR) {
        if (file_config_add_rules(c, n->value) < 0)
            goto oom;
    } else if (n != NULL && n->type == CONFIG_SEQ) {
        for (size_t i = 0; i < n->nchild; i++) {
            if (n->child[i]->type != CONFIG_SCALAR) {
                vg_errbuf_set(errbuf, "yara-rules: item %zu is not a path", i);
                return -1;
            }
            if (file_config_add_rules(c, n->child[i]->value) < 0)
                goto oom;
        }
    } else if (n != NULL) {
        vg_errbuf_set(errbuf, "yara-rules: expected a path or a list of paths");
        return -1;
    }

    s = config_get(cfg, "filestore.dir");
    if (s != NULL && set_str(&c->filestore_dir, s) < 0)
        goto oom;
    if (config_get_bool(cfg, "filestore.enabled", c->filestore || c->filestore_dir != NULL,
                        &c->filestore, errbuf) < 0)
        return -1;
    if (c->filestore && c->filestore_dir == NULL) {
        vg_errbuf_set(errbuf, "filestore.enabled: filestore.dir is not set");
        return -1;
    }
    s = config_get(cfg, "filestore.policy");
    if (s != NULL) {
        if (strcmp(s, "all") == 0)
            c->filestore_policy = FILE_STORE_ALL;
        else if (strcmp(s, "yara") == 0)
            c->filestore_policy = FILE_STORE_YARA;
        else if (strcmp(s, "alert") == 0)
            c->filestore_policy = FILE_STORE_ALERT;
        else {
            vg_errbuf_set(errbuf, "filestore.policy: '%s' is not all, yara or alert", s);
            return -1;
        }
    }
    return 0;
oom:
    vg_errbuf_set(errbuf, "out of memory");
    return -1;
}

void file_config_free(struct file_config *c)
{
    for (size_t i = 0; i < c->n_yara_rules; i++)
        free(c->yara_rules[i]);
    free(c->yara_rules);
    free(c->yara_cache_dir);
    free(c->filestore_dir);
    c->yara_rules = NULL;
    c->n_yara_rules = 0;
    c->yara_cache_dir = NULL;
    c->filestore_dir = NULL;
}

static int config_copy(struct file_config *dst, const struct file_config *src)
{
    *dst = *src;
    dst->yara_rules = NULL;
    dst->n_yara_rules = 0;
    dst->yara_cache_dir = NULL;
    dst->filestore_dir = NULL;
    for (size_t i = 0; i < src->n_yara_rules; i++)
        if (file_config_add_rules(dst, src->yara_rules[i]) < 0)
            return -1;
    if (set_str(&dst->yara_cache_dir, src->yara_cache_dir) < 0 ||
        set_str(&dst->filestore_dir, src->filestore_dir) < 0)
        return -1;
    return 0;
}

struct file_engine *file_engine_new(const struct file_config *c, char *errbuf)
{
    if (c->emit == NULL && c->sink == NULL) {
        vg_errbuf_set(errbuf, "files: no output (emit callback or EVE sink)");
        return NULL;
    }
    if (c->filestore && c->filestore_dir == NULL) {
        vg_errbuf_set(errbuf, "filestore: no directory");
        return NULL;
    }
    struct file_engine *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        vg_errbuf_set(errbuf, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&e->lock, NULL);
    if (config_copy(&e->cfg, c) < 0) {
        vg_errbuf_set(errbuf, "out of memory");
        goto fail_cfg;
    }
    if (e->cfg.yara_threads == 0)
        e->cfg.yara_threads = 1;
    if (e->cfg.yara_queue == 0)
        e->cfg.yara_queue = 1;
    static const char *const names[3] = {"MD5", "SHA1", "SHA256"};
    for (int i = 0; i < 3; i++) {
        e->md[i] = EVP_MD_fetch(NULL, names[i], NULL);
        if (e->md[i] == NULL) {
            vg_errbuf_set(errbuf, "OpenSSL: no %s digest", names[i]);
            goto fail;
        }
    }
    if (yr_initialize() != ERROR_SUCCESS) {
        vg_errbuf_set(errbuf, "libyara: initialisation failed");
        goto fail;
    }
    if (e->cfg.n_yara_rules > 0 &&
        file_yara_load(&e->yara, e->cfg.yara_rules, e->cfg.n_yara_rules, e->cfg.yara_cache_dir,
                       e->cfg.log, e->cfg.log_ctx, errbuf) < 0)
        goto fail_yara;
    if (e->cfg.filestore && file_store_init(e->cfg.filestore_dir, errbuf) < 0)
        goto fail_yara;
    e->need_content = e->yara.rules != NULL || e->cfg.filestore;
    if (e->need_content && e->cfg.reserve > 0 &&
        (e->bufs = file_bufs_new(e->cfg.reserve > SIZE_MAX ? SIZE_MAX : (size_t)e->cfg.reserve,
                                 errbuf)) == NULL)
        goto fail_yara;
    /* The pool also runs libmagic (~20% of a worker's time on web traffic), so a worker only
     * hashes; without YARA or a filestore it keeps just the first FILE_MAGIC_BYTES. */
    if ((e->need_content || e->cfg.magic) && (e->pool = file_pool_new(e, errbuf)) == NULL)
        goto fail_bufs;
    return e;
fail_bufs:
    file_bufs_free(e->bufs);
fail_yara:
    file_yara_free(&e->yara);
    yr_finalize();
fail:
    for (int i = 0; i < 3; i++)
        EVP_MD_free((EVP_MD *)e->md[i]);
fail_cfg:
    file_config_free(&e->cfg);
    pthread_mutex_destroy(&e->lock);
    free(e);
    return NULL;
}

void file_engine_free(struct file_engine *e)
{
    if (e == NULL)
        return;
    if (e->pool != NULL)
        file_pool_free(e->pool);
    file_bufs_free(e->bufs); /* after the pool: its files give their buffers back */
    file_yara_free(&e->yara);
    yr_finalize();
    for (int i = 0; i < 3; i++)
        EVP_MD_free((EVP_MD *)e->md[i]);
    file_config_free(&e->cfg);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

static void stats_add(struct file_stats *dst, const struct file_stats *src)
{
    const uint64_t *s = (const uint64_t *)src;
    uint64_t *d = (uint64_t *)dst;
    for (size_t i = 0; i < sizeof(*src) / sizeof(uint64_t); i++)
        d[i] += __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

void file_engine_drain(struct file_engine *e)
{
    if (e->pool != NULL)
        file_pool_drain(e->pool);
}

void file_engine_get_stats(struct file_engine *e, struct file_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&e->lock);
    stats_add(out, &e->retired);
    stats_add(out, &e->shared);
    for (struct file_thread *t = e->threads; t != NULL; t = t->next)
        stats_add(out, &t->st);
    pthread_mutex_unlock(&e->lock);
}

void file_engine_rules_info(const struct file_engine *e, struct file_rules_info *out)
{
    *out = e->yara.info;
}

struct file_thread *file_thread_new(struct file_engine *e, char *errbuf)
{
    struct file_thread *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        vg_errbuf_set(errbuf, "out of memory");
        return NULL;
    }
    t->e = e;
    if (e->cfg.magic && file_magic_open(&t->magic, errbuf) < 0) {
        free(t);
        return NULL;
    }
    if (e->cfg.emit == NULL && (t->writer = eve_writer_new(e->cfg.sink)) == NULL) {
        vg_errbuf_set(errbuf, "out of memory");
        file_magic_close(&t->magic);
        free(t);
        return NULL;
    }
    pthread_mutex_lock(&e->lock);
    t->next = e->threads;
    e->threads = t;
    pthread_mutex_unlock(&e->lock);
    return t;
}

void file_thread_free(struct file_thread *t)
{
    if (t == NULL)
        return;
    struct file_engine *e = t->e;
    pthread_mutex_lock(&e->lock);
    for (struct file_thread **pp = &e->threads; *pp != NULL; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    stats_add(&e->retired, &t->st);
    pthread_mutex_unlock(&e->lock);
    if (t->writer != NULL)
        eve_writer_free(t->writer);
    file_magic_close(&t->magic);
    free(t);
}

void file_free(struct vfile *f)
{
    if (f == NULL)
        return;
    if (f->charged > 0)
        __atomic_fetch_sub(&f->e->buffered, (uint64_t)f->charged, __ATOMIC_RELAXED);
    if (f->e->bufs != NULL)
        file_bufs_put(f->e->bufs, f->buf, f->buf_cap);
    else
        free(f->buf);
    for (int i = 0; i < 3; i++)
        EVP_MD_CTX_free(f->md[i]);
    json_decref(f->record);
    json_decref(f->yara);
    free(f->app_proto);
    free(f->name);
    free(f->magic);
    free(f);
}

struct vfile *file_open(struct file_thread *t, const struct file_meta *m)
{
    struct vfile *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        json_decref(m->record);
        return NULL;
    }
    f->t = t;
    f->e = t->e;
    f->record = m->record != NULL ? m->record : json_object();
    f->tx_id = m->tx_id;
    f->direction = m->direction;
    f->flags = m->flags;
    f->range_start = m->range_start;
    f->range_end = m->range_end;
    f->size_hint = m->size_hint;
    f->app_proto = strdup(m->app_proto != NULL ? m->app_proto : "");
    if (m->name_len > 0) {
        f->name = malloc(m->name_len);
        if (f->name != NULL) {
            memcpy(f->name, m->name, m->name_len);
            f->name_len = m->name_len;
        }
    }
    int ok = f->record != NULL && f->app_proto != NULL && (m->name_len == 0 || f->name != NULL);
    for (int i = 0; ok && i < 3; i++) {
        f->md[i] = EVP_MD_CTX_new();
        ok = f->md[i] != NULL && EVP_DigestInit_ex(f->md[i], t->e->md[i], NULL) == 1;
    }
    if (!ok) {
        file_free(f);
        return NULL;
    }
    VG_CNT_INC(t->st.opened);
    if (t->observe != NULL)
        t->observe(t->observe_ctx, f, FILE_EV_OPEN);
    return f;
}

json_t *file_record(struct vfile *f)
{
    return f->record;
}

void file_note_gap(struct vfile *f)
{
    f->gaps = 1;
}

void file_set_alerted(struct vfile *f)
{
    f->alerted = 1;
}

/* The memcap is charged in steps of this many kept bytes (one atomic add per step). */
#define FILE_CHARGE_STEP 16384

/* Charges f's kept bytes up to want (rounded up to a step, at most cap) against the memcap.
 * Returns 0, or -1 when the memcap refuses (nothing charged then). */
static int charge(struct vfile *f, struct file_engine *e, size_t want, size_t cap)
{
    size_t c = want > SIZE_MAX - FILE_CHARGE_STEP
                   ? SIZE_MAX
                   : (want + FILE_CHARGE_STEP - 1) / FILE_CHARGE_STEP * FILE_CHARGE_STEP;
    if (c > cap)
        c = cap;
    uint64_t delta = c - f->charged;
    uint64_t now = __atomic_add_fetch(&e->buffered, delta, __ATOMIC_RELAXED);
    if (e->cfg.memcap != 0 && now > e->cfg.memcap) {
        __atomic_fetch_sub(&e->buffered, delta, __ATOMIC_RELAXED);
        return -1;
    }
    f->charged = c;
    return 0;
}

/* f's buffer moved to one of at least cap bytes (f->buf_cap set), content kept: from the
 * reserve when there is one. A pre-faulted buffer is resident in full, so it is charged to the
 * memcap in full; when the memcap cannot take that, a fresh one (pages untouched) is used
 * instead. Returns the buffer, or NULL (f unchanged) when out of memory. */
static uint8_t *grow(struct vfile *f, struct file_engine *e, size_t cap)
{
    if (e->bufs == NULL) {
        uint8_t *nb = realloc(f->buf, cap);
        if (nb != NULL)
            f->buf_cap = cap;
        return nb;
    }
    int warm;
    size_t got;
    uint8_t *nb = file_bufs_get(e->bufs, cap, &got, &warm);
    if (nb == NULL)
        return NULL;
    if (warm && charge(f, e, got, got) < 0) {
        file_bufs_put(e->bufs, nb, got);
        if ((nb = malloc(got)) == NULL)
            return NULL;
        warm = 0;
    }
    if (warm)
        VG_CNT_INC(f->t->st.buf_warm);
    else
        VG_CNT_INC(f->t->st.buf_cold);
    if (f->buf_len > 0)
        memcpy(nb, f->buf, f->buf_len);
    file_bufs_put(e->bufs, f->buf, f->buf_cap);
    f->buf_cap = got;
    return nb;
}

/* Keeps len more bytes of content within the depth and the memcap. The buffer is sized once
 * from f->size_hint when the protocol announced the length, else grown by doubling from
 * 16 KiB; the memcap is charged for the bytes kept, a step at a time (or for the whole buffer
 * when it came pre-faulted from the reserve). */
static void keep(struct vfile *f, const uint8_t *data, size_t len)
{
    struct file_engine *e = f->t->e;
    size_t limit = e->need_content ? SIZE_MAX : FILE_MAGIC_BYTES;
    if (e->need_content && e->cfg.depth > 0 && e->cfg.depth < SIZE_MAX)
        limit = (size_t)e->cfg.depth;
    if (f->content_short || f->buf_len >= limit)
        return;
    if (len > limit - f->buf_len)
        len = limit - f->buf_len;
    size_t end = f->buf_len + len;
    if (end > f->buf_cap) {
        size_t cap = f->buf_cap;
        /* the announced length, unless it is too short (then it is not believed) or past
         * the memcap (a claimed length costs address space, never more than the memcap) */
        if (cap == 0 && f->size_hint >= end && f->size_hint <= SIZE_MAX &&
            (e->cfg.memcap == 0 || f->size_hint <= e->cfg.memcap))
            cap = (size_t)f->size_hint;
        if (cap < end) {
            cap = cap ? cap : 16384;
            while (cap < end && cap < limit)
                cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        }
        if (cap > limit)
            cap = limit;
        uint8_t *nb = grow(f, e, cap);
        if (nb == NULL) {
            f->content_short = 1;
            VG_CNT_INC(f->t->st.memcap);
            return;
        }
        f->buf = nb;
    }
    if (end > f->charged && charge(f, e, end, f->buf_cap) < 0) {
        /* keep what the charge already covers, then stop */
        len = f->charged - f->buf_len;
        f->content_short = 1;
        VG_CNT_INC(f->t->st.memcap);
    }
    if (len > 0) {
        memcpy(f->buf + f->buf_len, data, len);
        f->buf_len += len;
    }
}

int file_append(struct vfile *f, const uint8_t *data, size_t len)
{
    if (f->over_depth)
        return 1;
    uint64_t depth = f->t->e->cfg.depth;
    if (depth > 0 && f->size + len > depth) {
        len = (size_t)(depth - f->size);
        f->over_depth = 1;
    }
    if (len > 0) {
        for (int i = 0; i < 3; i++)
            EVP_DigestUpdate(f->md[i], data, len);
        f->size += len;
        VG_CNT_ADD(f->t->st.bytes, len);
        if (f->t->e->need_content || f->t->magic.cookie != NULL)
            keep(f, data, len);
    }
    return f->over_depth;
}

static void hex(char *out, const unsigned char *d, unsigned n)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static void emit(struct file_engine *e, struct eve_writer *w, struct file_stats *st, int atomic,
                 json_t *rec)
{
    if (e->cfg.emit != NULL)
        e->cfg.emit(e->cfg.emit_ctx, rec);
    else if (w != NULL)
        eve_writer_write(w, rec);
    FILE_STAT_ADD(st, atomic, records, 1);
}

void file_finish(struct file_engine *e, struct vfile *f, struct eve_writer *w,
                 struct file_stats *st, int atomic)
{
    if (e->cfg.filestore && !f->content_short && !f->skipped &&
        file_store_wanted(e->cfg.filestore_policy, f)) {
        char err[VG_ERRBUF_SIZE];
        int r = file_store_write(e->cfg.filestore_dir, f, err);
        if (r < 0) {
            FILE_STAT_ADD(st, atomic, store_errors, 1);
            if (e->cfg.log != NULL)
                e->cfg.log(e->cfg.log_ctx, err);
        } else {
            FILE_STAT_ADD(st, atomic, stored, r);
            FILE_STAT_ADD(st, atomic, store_dups, !r);
        }
    }
    json_t *alerts = NULL;
    json_t *rec = eve_fileinfo_records(f, &alerts);
    if (rec != NULL) {
        emit(e, w, st, atomic, rec);
        size_t i;
        json_t *a;
        json_array_foreach(alerts, i, a) emit(e, w, st, atomic, a);
        FILE_STAT_ADD(st, atomic, yara_alerts, json_array_size(alerts));
    }
    json_decref(alerts);
    if (w != NULL)
        eve_writer_flush(w);
    file_free(f);
}

void file_need_magic(struct vfile *f)
{
    if (f->t != NULL && f->closed)
        file_set_magic(f, &f->t->magic, &f->t->st, 0);
}

void file_close(struct vfile *f, int truncated)
{
    if (f == NULL)
        return;
    struct file_thread *t = f->t;
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n;
    char *outs[3] = {f->md5, f->sha1, f->sha256};
    for (int i = 0; i < 3; i++) {
        n = 0;
        if (EVP_DigestFinal_ex(f->md[i], d, &n) != 1)
            n = 0;
        hex(outs[i], d, n);
    }
    f->truncated = truncated || f->over_depth;
    /* The type is guessed by the pool's thread (there is a pool whenever files.magic is on),
     * or here by file_need_magic / a full queue (file_release). */
    VG_CNT_INC(t->st.closed);
    if (f->truncated)
        VG_CNT_INC(t->st.truncated);
    f->closed = 1;
    if (t->observe != NULL && t->observe(t->observe_ctx, f, FILE_EV_CLOSE) == FILE_HOLD)
        return;
    file_release(f);
}

void file_release(struct vfile *f)
{
    struct file_thread *t = f->t;
    struct file_engine *e = t->e;
    if (e->pool != NULL) {
        f->t = NULL;
        if (file_pool_push(e->pool, f) == 0)
            return;
        f->t = t;
        if (e->need_content) {
            VG_CNT_INC(t->st.skipped_scan);
            f->skipped = 1;
        }
        file_set_magic(f, &t->magic, &t->st, 0); /* the queue is full: the type is guessed here */
    }
    file_finish(e, f, t->writer, &t->st, 0);
}

void file_discard(struct vfile *f)
{
    if (f == NULL)
        return;
    VG_CNT_ADD(f->t->st.opened, -1);
    file_free(f);
}
