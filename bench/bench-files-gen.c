/* bench-files-gen.c: writes a capture of HTTP downloads for bench/bench-files.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktgen.h"

/*
 * Usage: bench-files-gen OUT.pcap NFILES SIZE. Each download is its own TCP session (one file
 * of SIZE bytes, Content-Length framed, sent in 1448-byte segments) with xorshift content so
 * that hashes and YARA see varied bytes.
 */
int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench-files-gen OUT.pcap NFILES SIZE\n");
        return 2;
    }
    long nfiles = strtol(argv[2], NULL, 10), size = strtol(argv[3], NULL, 10);
    if (nfiles <= 0 || size <= 0 || size > 64L * 1024 * 1024) {
        fprintf(stderr, "bench-files-gen: NFILES and SIZE (up to 64 MiB) must be positive\n");
        return 2;
    }
    uint8_t *body = malloc((size_t)size);
    if (body == NULL) {
        fprintf(stderr, "bench-files-gen: out of memory\n");
        return 1;
    }
    struct pg_writer *w = pg_open(argv[1], 1, 0);
    if (w == NULL) {
        fprintf(stderr, "bench-files-gen: cannot write %s\n", argv[1]);
        free(body);
        return 1;
    }
    uint64_t x = 88172645463325252ull, ts = 1700000000000000ull;
    for (long f = 0; f < nfiles; f++) {
        for (long i = 0; i < size; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            body[i] = (uint8_t)(' ' + x % 95); /* printable: text-like content */
        }
        struct pg_tcp_session s = {
            "192.0.2.10", "198.51.100.80", (uint16_t)(20000 + f % 40000), 80, 1000, 5000, 0};
        pg_session_open(w, &s, &ts);
        char req[128], head[128];
        int rl = snprintf(req, sizeof(req), "GET /file%ld.bin HTTP/1.1\r\nHost: h\r\n\r\n", f);
        int hl =
            snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n\r\n", size);
        pg_session_data(w, &s, 1, req, (size_t)rl, &ts);
        pg_session_data(w, &s, 0, head, (size_t)hl, &ts);
        for (long off = 0; off < size; off += 1448)
            pg_session_data(w, &s, 0, body + off, (size_t)(size - off < 1448 ? size - off : 1448),
                            &ts);
        pg_session_close(w, &s, &ts);
    }
    pg_close(w);
    free(body);
    return 0;
}
