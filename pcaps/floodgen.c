/* floodgen.c: vigil-floodgen: a SYN flood from random sources plus a fragment flood, as a pcap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktgen.h"

#define T0 1714521600000000ULL

/* xorshift64*: a fixed seed, so every run writes the same capture. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static void rand_addr(char *buf, size_t len)
{
    uint64_t r = rnd();
    snprintf(buf, len, "%u.%u.%u.%u", 1 + (unsigned)(r % 223), (unsigned)(r >> 8) & 255,
             (unsigned)(r >> 16) & 255, 1 + (unsigned)((r >> 24) % 254));
}

static long arg_count(const char *s, const char *what)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || v > 100000000) {
        fprintf(stderr, "vigil-floodgen: %s: '%s' is not a count\n", what, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    int help = argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    if (help || argc < 2 || argc > 4 || argv[1][0] == '-') {
        fputs("Usage: vigil-floodgen OUT.pcap [SYNS (1000000) [FRAGMENTS (200000)]]\n"
              "Writes SYNS TCP SYNs from random sources to 10.1.0.0/16 port 80, interleaved with\n"
              "FRAGMENTS first fragments (1 KiB each) of IPv4 datagrams that never complete,\n"
              "10 us apart: a load for the flow and defrag memcaps.\n",
              help ? stdout : stderr);
        return help ? 0 : 2;
    }
    long syns = argc > 2 ? arg_count(argv[2], "SYNS") : 1000000;
    long frags = argc > 3 ? arg_count(argv[3], "FRAGMENTS") : 200000;
    struct pg_writer *w = pg_open(argv[1], 1, 0);
    if (w == NULL) {
        fprintf(stderr, "vigil-floodgen: cannot write %s\n", argv[1]);
        return 1;
    }
    static uint8_t payload[1024];
    memset(payload, 'F', sizeof(payload));
    uint64_t ts = T0;
    long total = syns + frags, s = 0, f = 0;
    for (long i = 0; i < total; i++) {
        struct pg g;
        char src[32], dst[32];
        rand_addr(src, sizeof(src));
        uint64_t r = rnd();
        pg_init(&g);
        pg_eth(&g, 0x0800);
        /* Spread the fragments evenly among the SYNs. */
        int frag =
            f < frags && (s >= syns || (double)f / (double)frags <= (double)s / (double)syns);
        if (frag) {
            snprintf(dst, sizeof(dst), "10.2.%u.%u", (unsigned)(r >> 8) & 255,
                     1 + (unsigned)(r % 254));
            pg_ipv4(&g, src, dst, 17, (uint16_t)(r >> 32), 0x2000); /* MF, offset 0 */
            pg_udp(&g, (uint16_t)(1024 + (r >> 16) % 60000), 53);
            pg_bytes(&g, payload, sizeof(payload));
            f++;
        } else {
            snprintf(dst, sizeof(dst), "10.1.%u.%u", (unsigned)(r >> 8) & 255,
                     1 + (unsigned)(r % 254));
            pg_ipv4(&g, src, dst, 6, (uint16_t)(r >> 32), 0x4000); /* DF */
            pg_tcp(&g, (uint16_t)(1024 + (r >> 16) % 60000), 80, (uint32_t)(r >> 20), 0, 0x02,
                   64240);
            s++;
        }
        pg_finish(&g);
        pg_write(w, ts, &g);
        ts += 10;
    }
    pg_close(w);
    fprintf(stderr, "vigil-floodgen: %ld SYNs and %ld fragments written to %s\n", s, f, argv[1]);
    return 0;
}
