/* common.c: helpers every module uses: error buffers, clocks, EVE time format, size parsing. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "vigil/common.h"

void vg_errbuf_set(char *errbuf, const char *fmt, ...)
{
    if (errbuf == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, VG_ERRBUF_SIZE, fmt, ap);
    va_end(ap);
}

vg_time_t vg_wallclock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (vg_time_t)ts.tv_sec * VG_USEC_PER_SEC + (vg_time_t)ts.tv_nsec / 1000;
}

vg_time_t vg_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (vg_time_t)ts.tv_sec * VG_USEC_PER_SEC + (vg_time_t)ts.tv_nsec / 1000;
}

vg_time_t vg_thread_cpu(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
        return 0;
    return (vg_time_t)ts.tv_sec * VG_USEC_PER_SEC + (vg_time_t)ts.tv_nsec / 1000;
}

/* Writes v as exactly n decimal digits at p. */
static void put_digits(char *p, unsigned v, int n)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

char *vg_format_time(vg_time_t t, char *out, size_t outlen)
{
    /* Digits by hand: snprintf cost ~4,500 instructions a call, and every record has a time. */
    time_t secs = (time_t)(t / VG_USEC_PER_SEC);
    unsigned usec = (unsigned)(t % VG_USEC_PER_SEC);
    /* The last second's broken-down time, per thread (records come in bursts within a second);
     * tzset() changes timezone and tzname, which are part of the key. */
    static _Thread_local struct {
        time_t secs;
        long zone;
        const char *name;
        int ok;
        struct tm tm;
    } last;
    char text[32]; /* "2026-12-07T09:11:26.000123+0700" and a NUL */
    if (!last.ok || last.secs != secs || last.zone != timezone || last.name != tzname[0]) {
        last.ok = localtime_r(&secs, &last.tm) != NULL;
        last.secs = secs;
        last.zone = timezone;
        last.name = tzname[0];
    }
    const struct tm tm = last.tm;
    if (!last.ok || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
        memcpy(text, "1970-01-01T00:00:00.000000+0000", sizeof(text));
    } else {
        long off = tm.tm_gmtoff / 60;
        text[26] = off < 0 ? '-' : '+';
        if (off < 0)
            off = -off;
        put_digits(text, (unsigned)(tm.tm_year + 1900), 4);
        text[4] = '-';
        put_digits(text + 5, (unsigned)tm.tm_mon + 1, 2);
        text[7] = '-';
        put_digits(text + 8, (unsigned)tm.tm_mday, 2);
        text[10] = 'T';
        put_digits(text + 11, (unsigned)tm.tm_hour, 2);
        text[13] = ':';
        put_digits(text + 14, (unsigned)tm.tm_min, 2);
        text[16] = ':';
        put_digits(text + 17, (unsigned)tm.tm_sec, 2);
        text[19] = '.';
        put_digits(text + 20, usec, 6);
        put_digits(text + 27, (unsigned)(off / 60 % 100), 2);
        put_digits(text + 29, (unsigned)(off % 60), 2);
        text[31] = '\0';
    }
    if (outlen > 0) {
        size_t n = outlen < sizeof(text) ? outlen - 1 : sizeof(text) - 1;
        memcpy(out, text, n);
        out[n] = '\0';
    }
    return out;
}

int vg_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int vg_parse_uint(const char *text, uint64_t max, uint64_t *out)
{
    if (text == NULL || !isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

int vg_parse_size(const char *text, uint64_t *out)
{
    if (text == NULL || !isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0)
        return -1;
    while (*end == ' ')
        end++;
    uint64_t mult = 1;
    if (*end == '\0' || strcasecmp(end, "b") == 0)
        mult = 1;
    else if (strcasecmp(end, "kb") == 0 || strcasecmp(end, "k") == 0 || strcasecmp(end, "kib") == 0)
        mult = 1024ULL;
    else if (strcasecmp(end, "mb") == 0 || strcasecmp(end, "m") == 0 || strcasecmp(end, "mib") == 0)
        mult = 1024ULL * 1024;
    else if (strcasecmp(end, "gb") == 0 || strcasecmp(end, "g") == 0 || strcasecmp(end, "gib") == 0)
        mult = 1024ULL * 1024 * 1024;
    else
        return -1;
    if (v > UINT64_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}
