/* pace-pcap.c: replays a capture into a file or FIFO at a fixed packet rate, looping, with
 * rewritten timestamps (bench/bench-redis.sh feeds a sensor at a steady rate with it). */
#define _GNU_SOURCE
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Usage: pace-pcap IN OUT PPS SECONDS
 * Writes the packets of IN to OUT (a pcap file, or a FIFO a sensor reads) at PPS packets per
 * second of wall time, starting over at the end of IN, for SECONDS. Packet n gets the time of
 * IN's first packet plus n/PPS, so time always moves forward, at the rate it is replayed.
 * Prints the number of packets written.
 */
int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    if (argc != 5) {
        fputs("usage: pace-pcap IN OUT PPS SECONDS\n", stderr);
        return 2;
    }
    double pps = atof(argv[3]), secs = atof(argv[4]);
    if (pps <= 0 || secs <= 0) {
        fputs("pace-pcap: PPS and SECONDS must be positive\n", stderr);
        return 2;
    }
    pcap_t *in = pcap_open_offline(argv[1], err);
    if (in == NULL) {
        fprintf(stderr, "pace-pcap: %s\n", err);
        return 1;
    }
    pcap_dumper_t *out = pcap_dump_open(in, argv[2]);
    if (out == NULL) {
        fprintf(stderr, "pace-pcap: %s: %s\n", argv[2], pcap_geterr(in));
        return 1;
    }
    uint64_t n = 0;
    double t0 = now_s(), base = -1;
    for (;;) {
        struct pcap_pkthdr *h;
        const u_char *data;
        int rc = pcap_next_ex(in, &h, &data);
        if (rc == PCAP_ERROR_BREAK) { /* the end: start over */
            pcap_close(in);
            if ((in = pcap_open_offline(argv[1], err)) == NULL) {
                fprintf(stderr, "pace-pcap: %s\n", err);
                return 1;
            }
            continue;
        }
        if (rc != 1) {
            fprintf(stderr, "pace-pcap: %s\n", pcap_geterr(in));
            return 1;
        }
        if (base < 0)
            base = (double)h->ts.tv_sec + (double)h->ts.tv_usec / 1e6;
        double t = base + (double)n / pps;
        struct pcap_pkthdr hdr = *h;
        hdr.ts.tv_sec = (time_t)t;
        hdr.ts.tv_usec = (suseconds_t)((t - (double)(time_t)t) * 1e6);
        pcap_dump((u_char *)out, &hdr, data);
        n++;
        if (n % 32 == 0) {
            pcap_dump_flush(out);
            double due = t0 + (double)n / pps, now = now_s();
            if (due > now) {
                struct timespec ts = {(time_t)(due - now),
                                      (long)((due - now - (double)(time_t)(due - now)) * 1e9)};
                nanosleep(&ts, NULL);
            }
            if (now - t0 >= secs)
                break;
        }
    }
    pcap_dump_close(out);
    pcap_close(in);
    printf("%llu\n", (unsigned long long)n);
    return 0;
}
