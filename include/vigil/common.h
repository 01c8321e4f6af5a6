/* common.h: basics every Vigil module shares: error buffers, time, counters, byte order. */
#ifndef VIGIL_COMMON_H
#define VIGIL_COMMON_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_VERSION "0.1.0"

/* Size of every error buffer passed to a Vigil function (the libpcap convention). */
#define VG_ERRBUF_SIZE 512

#define VG_LIKELY(x) __builtin_expect(!!(x), 1)
#define VG_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define VG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define VG_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VG_MAX(a, b) ((a) > (b) ? (a) : (b))

#if defined(__GNUC__)
#define VG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define VG_PRINTF(f, a)
#endif

/* Time in microseconds since the Unix epoch: packet time, flow times and clocks. */
typedef uint64_t vg_time_t;
#define VG_USEC_PER_SEC 1000000ULL

/*
 * Counters are written by one owner thread and read by the stats thread. Relaxed atomics make
 * that well defined and cost a plain load/store on x86.
 */
#define VG_CNT_ADD(c, n) __atomic_store_n(&(c), (c) + (uint64_t)(n), __ATOMIC_RELAXED)
#define VG_CNT_INC(c) VG_CNT_ADD(c, 1)
#define VG_CNT_SET(c, v) __atomic_store_n(&(c), (uint64_t)(v), __ATOMIC_RELAXED)
#define VG_CNT_GET(c) __atomic_load_n(&(c), __ATOMIC_RELAXED)

/* Writes a formatted message into errbuf (VG_ERRBUF_SIZE bytes), if errbuf is not NULL. */
void vg_errbuf_set(char *errbuf, const char *fmt, ...) VG_PRINTF(2, 3);

/* Returns the current wall-clock time (CLOCK_REALTIME) in microseconds. */
vg_time_t vg_wallclock(void);

/* Returns a monotonic time in microseconds, for measuring durations. */
vg_time_t vg_monotonic(void);

/* Returns the CPU time the calling thread has used (CLOCK_THREAD_CPUTIME_ID), in microseconds. */
vg_time_t vg_thread_cpu(void);

/* Names thread t "<prefix><n>" (at most 15 bytes), as top -H, ps -L and perf show it. Best
 * effort: a name that cannot be set is left as it was. */
void vg_thread_name(pthread_t t, const char *prefix, unsigned n);

/*
 * Formats t as Suricata's EVE timestamp ("2024-01-02T03:04:05.123456+0000"), in local time with
 * its UTC offset. out must hold at least 32 bytes. Returns out.
 */
char *vg_format_time(vg_time_t t, char *out, size_t outlen);

/*
 * Parses a size with an optional unit (b, kb, mb, gb; case-insensitive; 1kb = 1024 bytes).
 * Returns 0 and stores the value in *out, or -1 if the text is not a valid size.
 */
int vg_parse_size(const char *text, uint64_t *out);

/* The value of hex digit c ('0'-'9', 'a'-'f', 'A'-'F'), or -1 for any other value of c. */
int vg_hexval(int c);

/* Parses a non-negative decimal integer up to max. Returns 0, or -1 if invalid or too large. */
int vg_parse_uint(const char *text, uint64_t max, uint64_t *out);

/* Big-endian loads from possibly unaligned memory. */
static inline uint16_t vg_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t vg_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint16_t vg_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t vg_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

#endif
