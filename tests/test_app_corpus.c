/* test_app_corpus.c: extended: HTTP, DNS and TLS records on shared protocol captures agree with
 * tshark's dissection. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

/* Runs a shell command and returns the number of lines it printed (-1 if it failed). */
static long count_lines(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    long n = 0;
    int c;
    while ((c = fgetc(p)) != EOF)
        n += c == '\n';
    return pclose(p) == 0 ? n : -1;
}

static const char *corpus(const char *rel, char *buf, size_t len)
{
    snprintf(buf, len, "%s/corpus/pcaps/%s", tu_env("VIGIL_SHARED"), rel);
    struct stat st;
    if (stat(buf, &st) != 0)
        cr_skip_test("no shared capture %s", buf);
    if (count_lines("command -v tshark") != 1)
        cr_skip_test("tshark is not installed");
    return buf;
}

/* Runs the sensor on pcap (extra: one more argument pair or NULL) and reads its events. */
static void sense(const char *pcap, const char *set, struct tu_events *e)
{
    char *dir = tu_tmpdir();
    char *out = NULL;
    int rc = set ? tu_sensor(dir, e, &out, "-r", pcap, "--set", set, NULL)
                 : tu_sensor(dir, e, &out, "-r", pcap, NULL);
    cr_assert_eq(rc, 0, "%s", out ? out : "");
    free(out);
    tu_rmdir(dir);
    free(dir);
}

Test(app_corpus, dns_queries_match_tshark, .timeout = 120)
{
    char pcap[4300], cmd[8800];
    corpus("mmguero-dev_Malcolm-PCAP/pcaps/protocols/DNS.pcap", pcap, sizeof(pcap));
    /* Queries tshark decodes without error: like Suricata, Vigil drops UDP whose length field
     * is larger than the datagram (decoder.udp.pkt_too_small). Vigil finds DNS by content, so
     * tshark is told that the capture's DNS over TCP on port 8053 is DNS. */
    snprintf(cmd, sizeof(cmd),
             "tshark -r '%s' -d tcp.port==8053,dns "
             "-Y 'dns.flags.response==0 && !(_ws.expert.severity == error)' 2>/dev/null",
             pcap);
    long want = count_lines(cmd);
    struct tu_events e;
    sense(pcap, NULL, &e);
    long got = (long)tu_count(&e, "dns", "dns.type", "query");
    cr_log_info("DNS.pcap: %ld query records, tshark %ld queries", got, want);
    cr_assert_gt(want, 500);
    cr_assert_eq(got, want, "query records %ld, tshark %ld", got, want);
    tu_events_free(&e);
}

Test(app_corpus, http_requests_match_tshark, .timeout = 120)
{
    char dir[4300], pcap[4600], cmd[9300];
    corpus("chrissanders_packets", dir, sizeof(dir));
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    long want = 0, got = 0;
    unsigned files = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "http", 4) != 0 || strstr(de->d_name, ".pcap") == NULL)
            continue;
        snprintf(pcap, sizeof(pcap), "%s/%s", dir, de->d_name);
        snprintf(cmd, sizeof(cmd), "tshark -r '%s' -Y 'http.request' 2>/dev/null", pcap);
        long w = count_lines(cmd);
        struct tu_events e;
        sense(pcap, NULL, &e);
        long g = (long)tu_count(&e, "http", NULL, NULL);
        if (g != w)
            cr_log_warn("%s: %ld http records, tshark %ld requests", de->d_name, g, w);
        want += w;
        got += g;
        files++;
        tu_events_free(&e);
    }
    closedir(d);
    cr_log_info("%u HTTP captures: %ld http records, tshark %ld requests", files, got, want);
    cr_assert_gt(files, 0);
    cr_assert_eq(got, want);
}

Test(app_corpus, ja3_hashes_match_tshark, .timeout = 120)
{
    char pcap[4300], cmd[8800];
    corpus("mmguero-dev_Malcolm-PCAP/pcaps/protocols/SSL.pcap", pcap, sizeof(pcap));
    /* Most sessions of this capture start without their handshake: pick them up midstream. */
    struct tu_events e;
    sense(pcap, "stream.midstream=true", &e);
    snprintf(cmd, sizeof(cmd),
             "tshark -r '%s' -Y 'tls.handshake.type==1' -T fields -e tls.handshake.ja3 "
             "2>/dev/null | grep -v '^$' | sort",
             pcap);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char line[128];
    long want = 0, found = 0;
    /* Every tshark JA3 that one of Vigil's tls records carries counts once. */
    char *used = calloc(e.n, 1);
    while (fgets(line, sizeof(line), p) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        want++;
        for (size_t i = 0; i < e.n; i++) {
            const char *h = tu_str(e.ev[i], "tls.ja3.hash");
            if (!used[i] && h != NULL && strcmp(h, line) == 0) {
                used[i] = 1;
                found++;
                break;
            }
        }
    }
    pclose(p);
    free(used);
    cr_log_info("SSL.pcap: %ld of %ld tshark JA3 hashes found in tls records", found, want);
    cr_assert_gt(want, 100);
    cr_assert_geq(found * 100, want * 90, "only %ld of %ld", found, want);
    tu_events_free(&e);
}
