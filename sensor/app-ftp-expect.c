/* app-ftp-expect.c: the table of announced FTP data connections, shared by the workers. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/app-ftp.h"

/*
 * A small array under one mutex: it is touched when a control channel announces a transfer
 * and when a new TCP flow delivers its first data while the table is not empty (an atomic
 * count, read without the lock, makes the usual case, an empty table, one load). Entries are
 * kept oldest first, so the oldest live match is taken and the oldest is dropped when full.
 */
struct ftp_expect {
    pthread_mutex_t lock;
    struct ftp_expectation *e;
    unsigned n, max;
    vg_time_t timeout;
    unsigned count; /* n, readable without the lock */
    struct ftp_expect_stats st;
};

struct ftp_expect *ftp_expect_new(unsigned max, unsigned timeout_sec)
{
    if (max == 0)
        return NULL;
    struct ftp_expect *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->e = calloc(max, sizeof(*t->e));
    if (t->e == NULL) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    t->max = max;
    t->timeout = (vg_time_t)timeout_sec * VG_USEC_PER_SEC;
    return t;
}

void ftp_expect_free(struct ftp_expect *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->lock);
    free(t->e);
    free(t);
}

static void remove_at(struct ftp_expect *t, unsigned i)
{
    memmove(&t->e[i], &t->e[i + 1], (t->n - i - 1) * sizeof(*t->e));
    t->n--;
}

/* Removes the entries expired at now. Lock held. */
static void expire(struct ftp_expect *t, vg_time_t now)
{
    unsigned k = 0;
    for (unsigned i = 0; i < t->n; i++) {
        if (t->e[i].expires < now) {
            t->st.expired++;
            continue;
        }
        if (k != i)
            t->e[k] = t->e[i];
        k++;
    }
    t->n = k;
}

static void publish(struct ftp_expect *t)
{
    t->st.active = t->n;
    __atomic_store_n(&t->count, t->n, __ATOMIC_RELEASE);
}

int ftp_expect_add(struct ftp_expect *t, const struct ftp_expectation *e, vg_time_t now)
{
    int dropped = 0;
    pthread_mutex_lock(&t->lock);
    expire(t, now);
    if (t->n == t->max) {
        remove_at(t, 0);
        t->st.dropped++;
        dropped = 1;
    }
    t->e[t->n] = *e;
    t->e[t->n].expires = now + t->timeout;
    t->n++;
    t->st.added++;
    publish(t);
    pthread_mutex_unlock(&t->lock);
    return dropped;
}

int ftp_expect_take(struct ftp_expect *t, uint8_t ip_ver, const struct vg_addr *orig,
                    const struct vg_addr *resp, uint16_t port, vg_time_t now,
                    struct ftp_expectation *out)
{
    if (t == NULL || __atomic_load_n(&t->count, __ATOMIC_ACQUIRE) == 0)
        return 0;
    int found = 0;
    pthread_mutex_lock(&t->lock);
    expire(t, now);
    for (unsigned i = 0; i < t->n; i++) {
        const struct ftp_expectation *x = &t->e[i];
        if (x->port == port && x->ip_ver == ip_ver && memcmp(&x->orig, orig, sizeof(*orig)) == 0 &&
            memcmp(&x->resp, resp, sizeof(*resp)) == 0) {
            *out = *x;
            remove_at(t, i);
            t->st.matched++;
            found = 1;
            break;
        }
    }
    publish(t);
    pthread_mutex_unlock(&t->lock);
    return found;
}

void ftp_expect_get_stats(struct ftp_expect *t, struct ftp_expect_stats *out)
{
    if (t == NULL) {
        memset(out, 0, sizeof(*out));
        return;
    }
    pthread_mutex_lock(&t->lock);
    *out = t->st;
    pthread_mutex_unlock(&t->lock);
}
