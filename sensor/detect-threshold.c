/* detect-threshold.c: threshold and detection_filter state (limit/threshold/both, by src/dst/rule/both). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "detect-internal.h"

#define THR_MAX_ENTRIES 65536

/* One tracked (rule, address) pair. */
struct thr_entry {
    struct thr_entry *next;
    uint32_t sid, gid;
    uint8_t ver;
    struct vg_addr a, b;
    vg_time_t window_start;
    uint32_t count;
    uint32_t alerted; /* alerts given in this window (limit, both) */
};

/*
 * Shared by every worker: taken only when a rule carrying a threshold has matched, never per
 * packet. Entries whose window has long passed are recycled when the table is full.
 */
struct thr_table {
    pthread_mutex_t lock;
    struct thr_entry *buckets[4096];
    unsigned n;
};

struct thr_table *detect_thr_new(void)
{
    struct thr_table *t = calloc(1, sizeof(*t));
    if (t != NULL)
        pthread_mutex_init(&t->lock, NULL);
    return t;
}

void detect_thr_free(struct thr_table *t)
{
    if (t == NULL)
        return;
    for (unsigned i = 0; i < 4096; i++) {
        struct thr_entry *e = t->buckets[i];
        while (e) {
            struct thr_entry *n = e->next;
            free(e);
            e = n;
        }
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* Evicts entries older than an hour, when the table is full. */
static void thr_prune(struct thr_table *t, vg_time_t now)
{
    for (unsigned i = 0; i < 4096; i++) {
        struct thr_entry **pp = &t->buckets[i];
        while (*pp) {
            if ((*pp)->window_start + 3600 * VG_USEC_PER_SEC < now) {
                struct thr_entry *d = *pp;
                *pp = d->next;
                free(d);
                t->n--;
            } else {
                pp = &(*pp)->next;
            }
        }
    }
}

int detect_thr_check(struct thr_table *tt, const struct sig *s, const struct vg_packet *p)
{
    const struct thr_spec *spec = s->thr ? s->thr : s->dfilter;
    if (spec == NULL)
        return 1;
    struct vg_addr a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    switch (spec->track) {
    case THR_BY_SRC:
        a = p->src;
        break;
    case THR_BY_DST:
        a = p->dst;
        break;
    case THR_BY_BOTH:
        a = p->src;
        b = p->dst;
        break;
    default:
        break;
    }
    struct {
        uint32_t sid, gid;
        struct vg_addr a, b;
    } key = {s->info.sid, s->info.gid, a, b};
    unsigned h = (unsigned)(XXH3_64bits(&key, sizeof(key)) % 4096);
    vg_time_t window = (vg_time_t)spec->seconds * VG_USEC_PER_SEC;

    pthread_mutex_lock(&tt->lock);
    struct thr_entry *e = tt->buckets[h];
    while (e && !(e->sid == s->info.sid && e->gid == s->info.gid &&
                  memcmp(&e->a, &a, sizeof(a)) == 0 && memcmp(&e->b, &b, sizeof(b)) == 0))
        e = e->next;
    if (e == NULL) {
        if (tt->n >= THR_MAX_ENTRIES)
            thr_prune(tt, p->ts);
        e = calloc(1, sizeof(*e));
        if (e == NULL) {
            pthread_mutex_unlock(&tt->lock);
            return 1; /* no memory: alert rather than lose it */
        }
        e->sid = s->info.sid;
        e->gid = s->info.gid;
        e->a = a;
        e->b = b;
        e->window_start = p->ts;
        e->next = tt->buckets[h];
        tt->buckets[h] = e;
        tt->n++;
    }
    if (p->ts >= e->window_start + window) {
        e->window_start = p->ts;
        e->count = 0;
        e->alerted = 0;
    }
    e->count++;
    int alert = 0;
    switch (spec->type) {
    case THR_LIMIT: /* at most count alerts per window */
        alert = e->count <= spec->count;
        break;
    case THR_THRESHOLD: /* an alert every count-th match in a window */
        if (e->count >= spec->count) {
            alert = 1;
            e->count = 0;
        }
        break;
    case THR_BOTH: /* once per window, after count matches */
        if (e->count >= spec->count && !e->alerted) {
            alert = 1;
            e->alerted = 1;
        }
        break;
    case THR_DETECTION_FILTER: /* every match after the first count in a window */
        alert = e->count > spec->count;
        break;
    }
    pthread_mutex_unlock(&tt->lock);
    return alert;
}
