/* queue.c: SPSC pointer queue on ck_ring; the consumer sleeps on a condition variable when idle. */
#include <ck_pr.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "vigil/queue.h"

int spsc_init(struct spsc_queue *q, unsigned size)
{
    if (size < 4 || (size & (size - 1)) != 0)
        return -1;
    q->buf = calloc(size, sizeof(*q->buf));
    if (q->buf == NULL)
        return -1;
    q->size = size;
    ck_ring_init(&q->ring, size);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    q->sleeping = 0;
    return 0;
}

void spsc_destroy(struct spsc_queue *q)
{
    free(q->buf);
    q->buf = NULL;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
}

int spsc_push(struct spsc_queue *q, void *item)
{
    if (!ck_ring_enqueue_spsc(&q->ring, q->buf, item))
        return -1;
    /* Sequentially consistent: pairs with the consumer's store of sleeping before it re-checks. */
    if (__atomic_load_n(&q->sleeping, __ATOMIC_SEQ_CST)) {
        pthread_mutex_lock(&q->lock);
        pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
    }
    return 0;
}

void *spsc_pop(struct spsc_queue *q)
{
    void *item;
    return ck_ring_dequeue_spsc(&q->ring, q->buf, &item) ? item : NULL;
}

void *spsc_pop_wait(struct spsc_queue *q, int timeout_ms)
{
    void *item;
    /* A short spin catches the next batch without a system call when traffic is steady. */
    for (int i = 0; i < 200; i++) {
        if (ck_ring_dequeue_spsc(&q->ring, q->buf, &item))
            return item;
        ck_pr_stall();
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    deadline.tv_sec += timeout_ms / 1000 + deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;

    pthread_mutex_lock(&q->lock);
    __atomic_store_n(&q->sleeping, 1, __ATOMIC_SEQ_CST);
    int rc = 0;
    /* Re-check after announcing the sleep: a push in between either shows here or signals. */
    while (!ck_ring_dequeue_spsc(&q->ring, q->buf, &item)) {
        if (rc == ETIMEDOUT) {
            item = NULL;
            break;
        }
        rc = pthread_cond_timedwait(&q->cond, &q->lock, &deadline);
    }
    __atomic_store_n(&q->sleeping, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&q->lock);
    return item;
}
