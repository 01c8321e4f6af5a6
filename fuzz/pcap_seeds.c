/* pcap_seeds.c: cuts fuzz_decode seeds (a link-type byte, then one packet) out of captures. */
#define _GNU_SOURCE
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

/* The first byte fuzz_decode reads: the index of the link type in its table, or -1. */
static int link_byte(int dlt)
{
    static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2,
                               DLT_RAW,    DLT_NULL,      DLT_LOOP};
    for (int i = 0; i < (int)(sizeof(dlts) / sizeof(dlts[0])); i++)
        if (dlts[i] == dlt)
            return i;
    return -1;
}

/*
 * Usage: vigil-fuzz-seeds OUTDIR MAX < LIST: writes at most MAX seeds, OUTDIR/pcap-N, from the
 * first packets of each capture LIST names, one path a line (at most 8 packets per capture, so
 * many captures are sampled).
 * Captures that libpcap cannot open, or of other link types, are skipped. Exits 0, or 2 on
 * bad arguments.
 */
int main(int argc, char **argv)
{
    if (argc != 3) {
        fputs("Usage: vigil-fuzz-seeds OUTDIR MAX < LIST-OF-CAPTURES\n", stderr);
        return 2;
    }
    char *end;
    long max = strtol(argv[2], &end, 10);
    if (*end != '\0' || max < 0) {
        fputs("vigil-fuzz-seeds: MAX must be a number\n", stderr);
        return 2;
    }
    long n = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (n < max && (len = getline(&line, &cap, stdin)) > 0) {
        if (line[len - 1] == '\n')
            line[len - 1] = '\0';
        char err[PCAP_ERRBUF_SIZE];
        pcap_t *p = pcap_open_offline(line, err);
        if (p == NULL)
            continue;
        int lb = link_byte(pcap_datalink(p));
        struct pcap_pkthdr *h;
        const u_char *data;
        for (int k = 0; lb >= 0 && k < 8 && n < max && pcap_next_ex(p, &h, &data) == 1; k++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/pcap-%ld", argv[1], n);
            FILE *f = fopen(path, "wb");
            if (f == NULL)
                break;
            fputc(lb, f);
            fwrite(data, 1, h->caplen, f);
            fclose(f);
            n++;
        }
        pcap_close(p);
    }
    free(line);
    return 0;
}
