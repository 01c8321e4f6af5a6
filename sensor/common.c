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

char *vg_format_time(vg_time_t t, char *out, size_t outlen)
{
    time_t secs = (time_t)(t / VG_USEC_PER_SEC);
    unsigned usec = (unsigned)(t % VG_USEC_PER_SEC);
    struct tm tm;
    if (localtime_r(&secs, &tm) == NULL) {
        snprintf(out, outlen, "1970-01-01T00:00:00.000000+0000");
        return out;
    }
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%06u%c%02ld%02ld", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec, sign, off / 60,
             off % 60);
    return out;
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
