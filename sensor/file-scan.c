/* file-scan.c: the scanner pool: a bounded queue of closed files, scanned with YARA and stored. */
#include <stdlib.h>
#include <string.h>

#include "file-internal.h"

struct scanner {
    struct file_pool *p;
    pthread_t tid;
    YR_SCANNER *yr;            /* NULL without rules */
    struct file_magic magic;   /* cookie NULL without files.magic */
    struct eve_writer *writer; /* when output goes to a sink */
    int started;
};

struct file_pool {
    struct file_engine *e;
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    pthread_cond_t idle; /* queue empty and no file in hand */
    unsigned busy;       /* files being scanned */
    struct vfile **ring;
    size_t cap, head, len;
    int stop;
    unsigned nscanners;
    struct scanner *sc;
};

static void scan_one(struct scanner *s, struct vfile *f)
{
    struct file_engine *e = s->p->e;
    file_set_magic(f, &s->magic, &e->shared, 1);
    if (s->yr != NULL) {
        f->yara = json_array();
        vg_time_t t0 = vg_monotonic(), c0 = vg_thread_cpu();
        int rc = file_yara_scan(s->yr, f, f->yara);
        FILE_STAT_ADD(&e->shared, 1, scan_cpu_usec, vg_thread_cpu() - c0);
        FILE_STAT_ADD(&e->shared, 1, scan_usec, vg_monotonic() - t0);
        FILE_STAT_ADD(&e->shared, 1, scanned, 1);
        FILE_STAT_ADD(&e->shared, 1, scanned_bytes, f->buf_len);
        if (rc == ERROR_SCAN_TIMEOUT)
            FILE_STAT_ADD(&e->shared, 1, yara_timeouts, 1);
        else if (rc != ERROR_SUCCESS)
            FILE_STAT_ADD(&e->shared, 1, yara_errors, 1);
        if (json_array_size(f->yara) > 0)
            FILE_STAT_ADD(&e->shared, 1, yara_matched, 1);
    }
    file_finish(e, f, s->writer, &e->shared, 1);
}

static void *scanner_main(void *arg)
{
    struct scanner *s = arg;
    struct file_pool *p = s->p;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->len == 0 && !p->stop)
            pthread_cond_wait(&p->nonempty, &p->lock);
        if (p->len == 0)
            break; /* stopping, and drained */
        struct vfile *f = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->len--;
        p->busy++;
        pthread_mutex_unlock(&p->lock);
        scan_one(s, f);
        pthread_mutex_lock(&p->lock);
        if (--p->busy == 0 && p->len == 0)
            pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct file_pool *file_pool_new(struct file_engine *e, char *errbuf)
{
    struct file_pool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        goto oom;
    p->e = e;
    p->cap = e->cfg.yara_queue;
    p->nscanners = e->cfg.yara_threads;
    p->ring = calloc(p->cap, sizeof(*p->ring));
    p->sc = calloc(p->nscanners, sizeof(*p->sc));
    if (p->ring == NULL || p->sc == NULL)
        goto oom_free;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->nonempty, NULL);
    pthread_cond_init(&p->idle, NULL);
    for (unsigned i = 0; i < p->nscanners; i++) {
        struct scanner *s = &p->sc[i];
        s->p = p;
        if (e->yara.rules != NULL) {
            if (yr_scanner_create(e->yara.rules, &s->yr) != ERROR_SUCCESS) {
                vg_errbuf_set(errbuf, "libyara: cannot create a scanner");
                goto fail;
            }
            yr_scanner_set_timeout(s->yr, (int)e->cfg.yara_timeout);
            yr_scanner_set_flags(s->yr, SCAN_FLAGS_FAST_MODE | SCAN_FLAGS_REPORT_RULES_MATCHING);
        }
        if (e->cfg.magic && file_magic_open(&s->magic, errbuf) < 0)
            goto fail;
        if (e->cfg.emit == NULL && (s->writer = eve_writer_new(e->cfg.sink)) == NULL) {
            vg_errbuf_set(errbuf, "out of memory");
            goto fail;
        }
        if (pthread_create(&s->tid, NULL, scanner_main, s) != 0) {
            vg_errbuf_set(errbuf, "cannot start a scanner thread");
            goto fail;
        }
        s->started = 1;
        vg_thread_name(s->tid, "vigil-files", i);
    }
    return p;
fail:
    file_pool_free(p);
    return NULL;
oom_free:
    free(p->ring);
    free(p->sc);
    free(p);
oom:
    vg_errbuf_set(errbuf, "out of memory");
    return NULL;
}

int file_pool_push(struct file_pool *p, struct vfile *f)
{
    pthread_mutex_lock(&p->lock);
    if (p->len == p->cap) {
        pthread_mutex_unlock(&p->lock);
        return -1;
    }
    p->ring[(p->head + p->len) % p->cap] = f;
    p->len++;
    pthread_cond_signal(&p->nonempty);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

void file_pool_drain(struct file_pool *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->len > 0 || p->busy > 0)
        pthread_cond_wait(&p->idle, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

void file_pool_free(struct file_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->nonempty);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nscanners; i++) {
        struct scanner *s = &p->sc[i];
        if (s->started)
            pthread_join(s->tid, NULL);
        if (s->writer != NULL)
            eve_writer_free(s->writer);
        if (s->yr != NULL)
            yr_scanner_destroy(s->yr);
        file_magic_close(&s->magic);
    }
    /* Only when no scanner could start: finish what is left here. */
    while (p->len > 0) {
        struct vfile *f = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->len--;
        file_free(f);
    }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->nonempty);
    pthread_cond_destroy(&p->idle);
    free(p->ring);
    free(p->sc);
    free(p);
}
