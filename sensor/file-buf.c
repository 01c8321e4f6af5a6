/* file-buf.c: file content buffers, recycled and pre-faulted by a thread of their own. */
#include <stdlib.h>
#include <unistd.h>

#include "file-internal.h"

/*
 * Why: a worker copying a file into fresh memory takes a page fault for every 4 KiB, and on a
 * virtual machine a first touch of guest memory costs more than the copy (docs/files.md,
 * "Bench"). Buffers come in power-of-two classes from 16 KiB. A buffer given back is kept for
 * the next file of its class; when the reserve has none, the worker mallocs one itself (cold)
 * and the reserve's target for that class grows by one, within files.reserve bytes in all.
 * The warmer thread mallocs and touches buffers until every class holds its target, so the
 * faults are taken off the packet path. Lock per buffer, never per packet.
 */

#define BUF_MIN ((size_t)16384)
#define BUF_CLASSES 16 /* 16 KiB .. 512 MiB */

struct buf_node {
    struct buf_node *next; /* kept in the first bytes of a free buffer */
};

struct file_bufs {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the warmer: a class is below its target, or stop */
    struct buf_node *head[BUF_CLASSES];
    unsigned count[BUF_CLASSES];  /* buffers in head[k] */
    unsigned target[BUF_CLASSES]; /* buffers of class k the reserve tries to hold */
    size_t held;                  /* bytes in the lists, plus the one being warmed */
    size_t warming;               /* bytes of the one being warmed */
    size_t planned;               /* bytes of all targets */
    size_t cap;                   /* files.reserve */
    size_t page;
    int stop;
    pthread_t tid;
};

static size_t class_size(unsigned k)
{
    return BUF_MIN << k;
}

/* The smallest class holding want bytes, or BUF_CLASSES when none does. */
static unsigned class_of(size_t want)
{
    unsigned k = 0;
    while (k < BUF_CLASSES && class_size(k) < want)
        k++;
    return k;
}

/* The class whose size is exactly n, or BUF_CLASSES. */
static unsigned class_exact(size_t n)
{
    unsigned k = class_of(n);
    return k < BUF_CLASSES && class_size(k) == n ? k : BUF_CLASSES;
}

/* A class below its target that fits in the reserve, or BUF_CLASSES. Called locked. */
static unsigned short_class(const struct file_bufs *b)
{
    for (unsigned k = 0; k < BUF_CLASSES; k++)
        if (b->count[k] < b->target[k] && b->held + class_size(k) <= b->cap)
            return k;
    return BUF_CLASSES;
}

static void push(struct file_bufs *b, unsigned k, void *p)
{
    struct buf_node *n = p;
    n->next = b->head[k];
    b->head[k] = n;
    b->count[k]++;
}

/* Lowers by one the target of the class other than k planned for the most bytes; returns a
 * buffer of that class the reserve no longer needs (the caller frees it), or NULL. Called
 * locked, with b->planned > 0. */
static struct buf_node *steal(struct file_bufs *b, unsigned k)
{
    unsigned big = BUF_CLASSES;
    for (unsigned j = 0; j < BUF_CLASSES; j++)
        if (j != k && b->target[j] > 0 &&
            (big == BUF_CLASSES || b->target[j] * class_size(j) > b->target[big] * class_size(big)))
            big = j;
    if (big == BUF_CLASSES)
        big = k; /* only k itself is planned: make room in it */
    b->target[big]--;
    b->planned -= class_size(big);
    if (b->count[big] <= b->target[big] || b->head[big] == NULL)
        return NULL;
    struct buf_node *n = b->head[big];
    b->head[big] = n->next;
    b->count[big]--;
    b->held -= class_size(big);
    return n;
}

static void *warmer_main(void *arg)
{
    struct file_bufs *b = arg;
    pthread_mutex_lock(&b->lock);
    while (!b->stop) {
        unsigned k = short_class(b);
        if (k == BUF_CLASSES) {
            pthread_cond_wait(&b->wake, &b->lock);
            continue;
        }
        size_t n = class_size(k);
        b->held += n;
        b->warming = n;
        pthread_mutex_unlock(&b->lock);
        volatile unsigned char *p = malloc(n);
        for (size_t i = 0; p != NULL && i < n; i += b->page)
            p[i] = 0; /* the page fault, here rather than in a worker */
        if (p != NULL)
            p[n - 1] = 0; /* the last page, when p is not page-aligned */
        pthread_mutex_lock(&b->lock);
        b->warming = 0;
        if (p == NULL) {
            b->held -= n;
            break; /* out of memory: workers malloc for themselves */
        }
        push(b, k, (void *)p);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

struct file_bufs *file_bufs_new(size_t reserve, char *errbuf)
{
    struct file_bufs *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        vg_errbuf_set(errbuf, "out of memory");
        return NULL;
    }
    long pg = sysconf(_SC_PAGESIZE);
    b->page = pg > 0 ? (size_t)pg : 4096;
    b->cap = reserve;
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->wake, NULL);
    if (pthread_create(&b->tid, NULL, warmer_main, b) != 0) {
        vg_errbuf_set(errbuf, "cannot start the file buffer thread");
        pthread_cond_destroy(&b->wake);
        pthread_mutex_destroy(&b->lock);
        free(b);
        return NULL;
    }
    vg_thread_name(b->tid, "vigil-fbuf", 0);
    return b;
}

void file_bufs_free(struct file_bufs *b)
{
    if (b == NULL)
        return;
    pthread_mutex_lock(&b->lock);
    b->stop = 1;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->tid, NULL);
    for (unsigned k = 0; k < BUF_CLASSES; k++)
        while (b->head[k] != NULL) {
            struct buf_node *n = b->head[k];
            b->head[k] = n->next;
            free(n);
        }
    pthread_cond_destroy(&b->wake);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

uint8_t *file_bufs_get(struct file_bufs *b, size_t want, size_t *cap, int *warm)
{
    unsigned k = class_of(want);
    *warm = 0;
    if (k == BUF_CLASSES) { /* past the largest class: not recycled */
        *cap = want;
        return malloc(want);
    }
    size_t n = class_size(k);
    void *p = NULL;
    struct buf_node *surplus = NULL; /* freed after the lock */
    pthread_mutex_lock(&b->lock);
    if (b->head[k] != NULL) {
        struct buf_node *node = b->head[k];
        b->head[k] = node->next;
        b->count[k]--;
        b->held -= n;
        p = node;
    } else if (n <= b->cap / 4) {
        /* a miss: hold one more of these from now on, taking the budget from the class that
         * has the most when the reserve is planned in full (traffic changes) */
        while (b->planned + n > b->cap) {
            struct buf_node *x = steal(b, k);
            if (x != NULL) {
                x->next = surplus;
                surplus = x;
            }
        }
        b->target[k]++;
        b->planned += n;
    }
    if (b->count[k] < b->target[k])
        pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->lock);
    while (surplus != NULL) {
        struct buf_node *x = surplus;
        surplus = x->next;
        free(x);
    }
    if (p != NULL)
        *warm = 1;
    else
        p = malloc(n);
    *cap = n;
    return p;
}

size_t file_bufs_ready(struct file_bufs *b)
{
    pthread_mutex_lock(&b->lock);
    size_t n = b->held - b->warming;
    pthread_mutex_unlock(&b->lock);
    return n;
}

void file_bufs_put(struct file_bufs *b, uint8_t *buf, size_t cap)
{
    if (buf == NULL)
        return;
    unsigned k = class_exact(cap);
    if (k < BUF_CLASSES) {
        pthread_mutex_lock(&b->lock);
        if (b->count[k] < b->target[k] && b->held + cap <= b->cap) {
            push(b, k, buf);
            b->held += cap;
            buf = NULL;
        }
        pthread_mutex_unlock(&b->lock);
    }
    free(buf);
}
