/* test_app_corpus.c: extended: HTTP, DNS and TLS records on shared protocol captures agree with
 * tshark's dissection. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "vigil/app-dns.h"

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

/* ---- Record by record against tshark on the zeek-style protocol captures ---- */

/* One record reduced to the fields both sides have, as "type|field|field...". */
struct keys {
    char **k;
    size_t n, cap;
};

static void keys_add(struct keys *ks, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (ks->n == ks->cap) {
        ks->cap = ks->cap ? ks->cap * 2 : 256;
        ks->k = realloc(ks->k, ks->cap * sizeof(*ks->k));
        cr_assert_not_null(ks->k);
    }
    ks->k[ks->n++] = strdup(buf);
}

static void keys_free(struct keys *ks)
{
    for (size_t i = 0; i < ks->n; i++)
        free(ks->k[i]);
    free(ks->k);
    memset(ks, 0, sizeof(*ks));
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names with bytes outside printable ASCII are printed differently by each side (tshark puts
 * U+FFFD, Vigil and Suricata \xNN): they compare as one placeholder. The root is "". */
static const char *dns_name(const char *s)
{
    if (strcmp(s, "<Root>") == 0)
        return "";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p >= 0x7f || (p[0] == '\\' && p[1] == 'x'))
            return "<binary>";
    return s;
}

/* Suricata's name of a record type or rcode given as tshark prints it (decimal). */
static const char *type_name(const char *num, int rcode, char *buf, size_t len)
{
    unsigned long v = strtoul(num, NULL, 10);
    const char *n = rcode ? dns_rcode_name((uint8_t)v) : dns_rrtype_name((uint16_t)v);
    if (n == NULL) {
        snprintf(buf, len, "%lu", v);
        n = buf;
    }
    return n;
}

enum { K_DNS_QUERY, K_DNS_ANSWER, K_HTTP, K_TLS, K__COUNT };
static const char *const k_names[K__COUNT] = {"dns query", "dns answer", "http", "tls"};

/* The kind of key k (its prefix). */
static int key_kind(const char *k)
{
    return k[0] == 'q' ? K_DNS_QUERY : k[0] == 'a' ? K_DNS_ANSWER : k[0] == 'h' ? K_HTTP : K_TLS;
}

/* tshark's records of pcap: DNS (also LLMNR and mDNS, as Vigil finds them by content) messages
 * it decodes without error outside ICMP errors, HTTP requests over TCP, and ClientHellos. */
static void tshark_keys(const char *pcap, struct keys *ks)
{
    char cmd[8800];
    snprintf(cmd, sizeof(cmd),
             "tshark -r '%s' -d tcp.port==8053,dns -Y '((dns || llmnr || mdns) && !icmp && "
             "!icmpv6 && !(_ws.expert.severity == error)) || (http.request && tcp) || "
             "tls.handshake.type == 1' -T fields -E separator=/t -E occurrence=f "
             "-e dns.flags.response -e dns.id -e dns.qry.name -e dns.qry.type -e dns.flags.rcode "
             "-e http.request.method -e http.request.uri -e http.host -e http.user_agent "
             "-e tls.handshake.type -e tls.handshake.extensions_server_name "
             "-e tls.handshake.ja3 2>/dev/null",
             pcap);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, p)) > 0) {
        line[strcspn(line, "\n")] = '\0';
        char *c[12] = {0};
        char *cur = line;
        for (int i = 0; i < 12; i++) {
            c[i] = cur;
            char *tab = cur ? strchr(cur, '\t') : NULL;
            if (tab != NULL)
                *tab = '\0';
            cur = tab ? tab + 1 : NULL;
            if (c[i] == NULL)
                c[i] = "";
        }
        char b1[16], b2[16];
        if (c[5][0] != '\0') {
            /* the Host header as Suricata's hostname: lower case, without the port */
            char host[1024];
            snprintf(host, sizeof(host), "%s", c[7]);
            for (char *h = host; *h; h++)
                *h = (char)tolower((unsigned char)*h);
            char *colon = strrchr(host, ':');
            if (host[0] != '[' && colon != NULL && strchr(host, ':') == colon)
                *colon = '\0';
            keys_add(ks, "h|%s|%s|%s|%s", c[5], c[6], host, c[8]);
        } else if (strcmp(c[9], "1") == 0) {
            keys_add(ks, "t|%s|%s", c[10], c[11]);
        } else if (c[1][0] != '\0') {
            long id = strtol(c[1], NULL, 16);
            int resp = strcmp(c[0], "1") == 0 || strcmp(c[0], "True") == 0;
            if (resp)
                keys_add(ks, "a|%ld|%s|%s", id, dns_name(c[2]), type_name(c[4], 1, b1, sizeof(b1)));
            else
                keys_add(ks, "q|%ld|%s|%s", id, dns_name(c[2]), type_name(c[3], 0, b2, sizeof(b2)));
        }
    }
    free(line);
    pclose(p);
}

static const char *str_or_empty(const json_t *o, const char *path)
{
    const char *s = tu_str(o, path);
    return s != NULL ? s : "";
}

/* Vigil's records of pcap (midstream pickup on, as tshark needs no handshake). */
static void vigil_keys(const char *pcap, struct keys *ks)
{
    struct tu_events e;
    sense(pcap, "stream.midstream=true", &e);
    for (size_t i = 0; i < e.n; i++) {
        const json_t *r = e.ev[i];
        const char *et = str_or_empty(r, "event_type");
        if (strcmp(et, "http") == 0) {
            keys_add(ks, "h|%s|%s|%s|%s", str_or_empty(r, "http.http_method"),
                     str_or_empty(r, "http.url"), str_or_empty(r, "http.hostname"),
                     str_or_empty(r, "http.http_user_agent"));
        } else if (strcmp(et, "tls") == 0) {
            keys_add(ks, "t|%s|%s", str_or_empty(r, "tls.sni"), str_or_empty(r, "tls.ja3.hash"));
        } else if (strcmp(et, "dns") == 0) {
            int q = strcmp(str_or_empty(r, "dns.type"), "query") == 0;
            keys_add(ks, "%c|%lld|%s|%s", q ? 'q' : 'a', tu_int(r, "dns.id"),
                     dns_name(str_or_empty(r, "dns.rrname")),
                     str_or_empty(r, q ? "dns.rrtype" : "dns.rcode"));
        }
    }
    tu_events_free(&e);
}

/* Adds to want/got/agree per kind: the records of each side, and those both have (as
 * multisets). VIGIL_CORPUS_DIFF set in the environment prints the others. */
static void agree(struct keys *w, struct keys *g, long want[], long got[], long both[])
{
    if (w->n > 0) /* an empty list has no array to sort */
        qsort(w->k, w->n, sizeof(*w->k), cmp_key);
    if (g->n > 0)
        qsort(g->k, g->n, sizeof(*g->k), cmp_key);
    for (size_t i = 0; i < w->n; i++)
        want[key_kind(w->k[i])]++;
    for (size_t i = 0; i < g->n; i++)
        got[key_kind(g->k[i])]++;
    for (size_t i = 0, j = 0; i < w->n && j < g->n;) {
        int c = strcmp(w->k[i], g->k[j]);
        if (c == 0) {
            both[key_kind(w->k[i])]++;
            i++;
            j++;
        } else if (c < 0) {
            if (getenv("VIGIL_CORPUS_DIFF") != NULL)
                fprintf(stderr, "tshark only: %s\n", w->k[i]);
            i++;
        } else {
            if (getenv("VIGIL_CORPUS_DIFF") != NULL)
                fprintf(stderr, "Vigil only: %s\n", g->k[j]);
            j++;
        }
    }
}

Test(app_corpus, zeek_protocol_captures_agree_with_tshark, .timeout = 300)
{
    char dir[4300], pcap[4600];
    corpus("mmguero-dev_Malcolm-PCAP/pcaps/protocols", dir, sizeof(dir));
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    long want[K__COUNT] = {0}, got[K__COUNT] = {0}, both[K__COUNT] = {0};
    unsigned files = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".pcap") != 0)
            continue;
        snprintf(pcap, sizeof(pcap), "%s/%s", dir, de->d_name);
        struct keys w = {0}, g = {0};
        tshark_keys(pcap, &w);
        vigil_keys(pcap, &g);
        agree(&w, &g, want, got, both);
        keys_free(&w);
        keys_free(&g);
        files++;
    }
    closedir(d);
    cr_assert_gt(files, 20);
    /* The agreement floors: the figures of docs/app-layer.md, rounded down. */
    static const double floor_rate[K__COUNT] = {0.95, 0.95, 0.95, 0.90};
    for (int k = 0; k < K__COUNT; k++) {
        cr_log_info("%u protocol captures, %s: tshark %ld, Vigil %ld, agree %ld (%.1f%%)", files,
                    k_names[k], want[k], got[k], both[k],
                    want[k] ? 100.0 * (double)both[k] / (double)want[k] : 0.0);
        cr_assert_gt(want[k], 100, "%s: only %ld tshark records", k_names[k], want[k]);
        cr_assert_geq((double)both[k], floor_rate[k] * (double)want[k], "%s: %ld of %ld agree",
                      k_names[k], both[k], want[k]);
    }
}
