/* queue.h: a single-producer single-consumer pointer queue (ck_ring) with blocking waits. */
#ifndef VIGIL_QUEUE_H
#define VIGIL_QUEUE_H

#include <ck_ring.h>
#include <pthread.h>

/*
 * The ring itself is lock-free. The mutex and condition variable are touched only when the
 * consumer found the ring empty and went to sleep, i.e. per batch at most, never per packet.
 */
struct spsc_queue {
    ck_ring_t ring;
    ck_ring_buffer_t *buf;
    unsigned size;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int sleeping; /* the consumer waits on cond (atomic) */
};

/* Initialises q to hold size - 1 items; size must be a power of two >= 4. 0, or -1 (no memory). */
int spsc_init(struct spsc_queue *q, unsigned size);

/* Frees q's memory. */
void spsc_destroy(struct spsc_queue *q);

/* Producer: adds item and wakes the consumer if it sleeps. Returns 0, or -1 if q is full. */
int spsc_push(struct spsc_queue *q, void *item);

/* Consumer: takes an item, or returns NULL at once if q is empty. */
void *spsc_pop(struct spsc_queue *q);

/* Consumer: takes an item, waiting up to timeout_ms for one; NULL on timeout. */
void *spsc_pop_wait(struct spsc_queue *q, int timeout_ms);

#endif
