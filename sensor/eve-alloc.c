/* eve-alloc.c: a per-thread cache of the small blocks jansson allocates, so that building and freeing
 * an EVE record does not take a hundred trips through malloc. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "vigil/eve.h"

/*
 * Why: a record is a tree of ~100 small jansson allocations (each key, string and number), all
 * freed together once it is written. glibc's per-thread cache keeps only seven blocks of a size,
 * so most of those went through its slower bins: malloc and free were an eighth of the sensor's
 * CPU with EVE on. Here each thread keeps up to CACHE_MAX free blocks per size class.
 *
 * Each block carries a 16-byte header (its class), which keeps the pointer 16-byte aligned as
 * malloc's is. A block freed on another thread goes to that thread's cache. Blocks over the
 * largest class go straight to malloc (class BIG).
 */

#define NCLASS 8
#define CACHE_MAX 2048 /* blocks per class and thread: at most ~4 MiB a thread */
#define BIG 0xff
#define HDR 16

static const size_t class_size[NCLASS] = {16, 32, 48, 64, 96, 128, 192, 256};

struct block {
    struct block *next;
};

struct cache {
    struct block *head[NCLASS];
    unsigned n[NCLASS];
    int registered;
};

static _Thread_local struct cache tcache;
static pthread_key_t exit_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

/* At thread exit, the thread's cached blocks go back to malloc. */
static void cache_release(void *arg)
{
    struct cache *c = arg;
    for (unsigned k = 0; k < NCLASS; k++) {
        while (c->head[k] != NULL) {
            struct block *b = c->head[k];
            c->head[k] = b->next;
            free((char *)b - HDR);
        }
        c->n[k] = 0;
    }
    c->registered = 0; /* a block freed by a later destructor registers the cache again */
}

static void make_key(void)
{
    if (pthread_key_create(&exit_key, cache_release) != 0)
        exit_key = (pthread_key_t)-1;
}

static unsigned class_of(size_t size)
{
    for (unsigned k = 0; k < NCLASS; k++)
        if (size <= class_size[k])
            return k;
    return BIG;
}

static void *cache_malloc(size_t size)
{
    unsigned k = class_of(size);
    struct cache *c = &tcache;
    uint8_t *p;
    if (k != BIG && c->head[k] != NULL) {
        struct block *b = c->head[k];
        c->head[k] = b->next;
        c->n[k]--;
        return b;
    }
    if (k == BIG && size > SIZE_MAX - HDR)
        return NULL;
    p = malloc((k == BIG ? size : class_size[k]) + HDR);
    if (p == NULL)
        return NULL;
    p[0] = (uint8_t)k;
    return p + HDR;
}

static void cache_free(void *ptr)
{
    if (ptr == NULL)
        return;
    uint8_t *p = (uint8_t *)ptr - HDR;
    unsigned k = p[0];
    struct cache *c = &tcache;
    if (k == BIG || c->n[k] >= CACHE_MAX) {
        free(p);
        return;
    }
    if (!c->registered) {
        pthread_once(&key_once, make_key);
        if (exit_key != (pthread_key_t)-1)
            pthread_setspecific(exit_key, c);
        c->registered = 1;
    }
    struct block *b = ptr;
    b->next = c->head[k];
    c->head[k] = b;
    c->n[k]++;
}

void eve_alloc_install(void)
{
    json_set_alloc_funcs(cache_malloc, cache_free);
}

void eve_json_free(void *p)
{
    json_free_t f = NULL;
    json_get_alloc_funcs(NULL, &f);
    (f != NULL ? f : free)(p);
}
