/* bench-redis-reader.c: reads a Redis stream as it fills; reports records/s and XADD-to-reader
 * latency. */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * Usage: bench-redis-reader HOST PORT STREAM IDLE_MS
 * Reads with XREAD BLOCK from the start of STREAM until nothing new came for IDLE_MS after the
 * first entry, then prints "records first_ms last_ms records_per_s p50_ms p99_ms max_ms", where
 * latency is the reader's clock at arrival minus the millisecond part of the entry's id (the
 * time Redis took the XADD).
 */
int main(int argc, char **argv)
{
    if (argc != 5) {
        fputs("usage: bench-redis-reader HOST PORT STREAM IDLE_MS\n", stderr);
        return 2;
    }
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout(argv[1], atoi(argv[2]), tv);
    if (c == NULL || c->err) {
        fprintf(stderr, "bench-redis-reader: %s\n", c ? c->errstr : "out of memory");
        return 1;
    }
    struct timeval rt = {60, 0};
    redisSetTimeout(c, rt);
    long idle_ms = atol(argv[4]);
    char last[64] = "0-0";
    size_t n = 0, cap = 1 << 16;
    uint64_t *lat = malloc(cap * sizeof(*lat));
    uint64_t first_ms = 0, last_ms = 0, last_arrival = 0;
    for (;;) {
        redisReply *r = redisCommand(c, "XREAD COUNT 2000 BLOCK 200 STREAMS %s %s", argv[3], last);
        if (r == NULL) {
            fprintf(stderr, "bench-redis-reader: %s\n", c->errstr);
            return 1;
        }
        uint64_t t = now_us();
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
            redisReply *entries = r->element[0]->element[1];
            for (size_t i = 0; i < entries->elements; i++) {
                const char *id = entries->element[i]->element[0]->str;
                uint64_t ms = strtoull(id, NULL, 10);
                if (n == cap)
                    lat = realloc(lat, (cap *= 2) * sizeof(*lat));
                lat[n++] = t > ms * 1000 ? t - ms * 1000 : 0;
                if (first_ms == 0)
                    first_ms = ms;
                last_ms = ms;
                snprintf(last, sizeof(last), "%s", id);
            }
            last_arrival = t;
        }
        freeReplyObject(r);
        if (n > 0 && (t - last_arrival) / 1000 >= (uint64_t)idle_ms)
            break;
    }
    qsort(lat, n, sizeof(*lat), cmp_u64);
    double span = last_ms > first_ms ? (double)(last_ms - first_ms) / 1000.0 : 0.001;
    printf("%zu %llu %llu %.0f %.1f %.1f %.1f\n", n, (unsigned long long)first_ms,
           (unsigned long long)last_ms, (double)n / span, (double)lat[n / 2] / 1000.0,
           (double)lat[(size_t)((double)n * 0.99)] / 1000.0, (double)lat[n - 1] / 1000.0);
    free(lat);
    redisFree(c);
    return 0;
}
