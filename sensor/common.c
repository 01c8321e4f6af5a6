/* common.c: helpers every module uses: error buffers, clocks, EVE time format, size parsing. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
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

void vg_thread_name(pthread_t t, const char *prefix, unsigned n)
{
    char name[16];
    snprintf(name, sizeof(name), "%s%u", prefix, n);
    (void)pthread_setname_np(t, name);
}

/* Writes v as exactly n decimal digits at p. */
static void put_digits(char *p, unsigned v, int n)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* "2026-12-07T09:11:26.000000+0700" for tm, with a NUL. Returns 1, or 0 with the epoch's text
 * when ok is 0 or the year is past 9999 (or before 0). */
static int time_text(const struct tm *tm, int ok, char text[32])
{
    if (!ok || tm->tm_year + 1900 < 0 || tm->tm_year + 1900 > 9999) {
        memcpy(text, "1970-01-01T00:00:00.000000+0000", 32);
        return 0;
    }
    long off = tm->tm_gmtoff / 60;
    text[26] = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    put_digits(text, (unsigned)(tm->tm_year + 1900), 4);
    text[4] = '-';
    put_digits(text + 5, (unsigned)tm->tm_mon + 1, 2);
    text[7] = '-';
    put_digits(text + 8, (unsigned)tm->tm_mday, 2);
    text[10] = 'T';
    put_digits(text + 11, (unsigned)tm->tm_hour, 2);
    text[13] = ':';
    put_digits(text + 14, (unsigned)tm->tm_min, 2);
    text[16] = ':';
    put_digits(text + 17, (unsigned)tm->tm_sec, 2);
    text[19] = '.';
    put_digits(text + 20, 0, 6);
    put_digits(text + 27, (unsigned)(off / 60 % 100), 2);
    put_digits(text + 29, (unsigned)(off % 60), 2);
    text[31] = '\0';
    return 1;
}

char *vg_format_time(vg_time_t t, char *out, size_t outlen)
{
    /* Digits by hand: snprintf cost ~4,500 instructions a call, and every record has a time. */
    time_t secs = (time_t)(t / VG_USEC_PER_SEC);
    unsigned usec = (unsigned)(t % VG_USEC_PER_SEC);
    /*
     * Per thread, the text of the last hour asked for: within an hour whose local time runs
     * from mm:ss 00:00 to 59:59 with one UTC offset (every whole-hour zone, outside a leap
     * second), only the minutes, seconds and microseconds change. Otherwise localtime_r each
     * second, also kept. tzset() changes timezone and tzname, which are part of both keys.
     */
    static _Thread_local struct {
        time_t secs; /* the hour's first second, or the second */
        long zone;
        const char *name;
        int known; /* the key is set */
        int ok;    /* hour: the shortcut holds for this hour; last: text is the second's */
        char text[32];
    } hour, last;
    char text[32]; /* "2026-12-07T09:11:26.000123+0700" and a NUL */
    time_t h = secs - (secs % 3600 + 3600) % 3600;
    if (!hour.known || hour.secs != h || hour.zone != timezone || hour.name != tzname[0]) {
        struct tm start, end;
        time_t e = h + 3599;
        hour.ok = localtime_r(&h, &start) != NULL && localtime_r(&e, &end) != NULL &&
                  start.tm_min == 0 && start.tm_sec == 0 && end.tm_min == 59 && end.tm_sec == 59 &&
                  end.tm_hour == start.tm_hour && end.tm_mday == start.tm_mday &&
                  end.tm_gmtoff == start.tm_gmtoff && time_text(&start, 1, hour.text);
        hour.known = 1;
        hour.secs = h;
        hour.zone = timezone;
        hour.name = tzname[0];
    }
    if (hour.ok) {
        memcpy(text, hour.text, sizeof(text));
        put_digits(text + 14, (unsigned)((secs - h) / 60), 2);
        put_digits(text + 17, (unsigned)((secs - h) % 60), 2);
    } else {
        if (!last.known || last.secs != secs || last.zone != timezone || last.name != tzname[0]) {
            struct tm tm;
            last.ok = time_text(&tm, localtime_r(&secs, &tm) != NULL, last.text);
            last.known = 1;
            last.secs = secs;
            last.zone = timezone;
            last.name = tzname[0];
        }
        memcpy(text, last.text, sizeof(text));
    }
    if (hour.ok || last.ok)
        put_digits(text + 20, usec, 6);
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
