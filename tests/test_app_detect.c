/* test_app_detect.c: protocol detection by content on generated captures: DNS off port 53. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pcaps/pktgen.h"
#include "testutil.h"

#define T0 1714521600000000ull

/* A DNS message: id, flags, one question for name (type A, class IN) and, for a response, one A
 * answer pointing at the question. Returns its length. */
static size_t dns_msg(uint8_t *b, uint16_t id, int response, const char *name)
{
    size_t n = 0;
    uint16_t flags = response ? 0x8180 : 0x0100;
    uint8_t h[12] = {(uint8_t)(id >> 8),
                     (uint8_t)id,
                     (uint8_t)(flags >> 8),
                     (uint8_t)flags,
                     0,
                     1,
                     0,
                     (uint8_t)(response ? 1 : 0),
                     0,
                     0,
                     0,
                     0};
    memcpy(b, h, 12);
    n = 12;
    for (const char *p = name; *p;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        b[n++] = (uint8_t)l;
        memcpy(b + n, p, l);
        n += l;
        p += l + (dot ? 1 : 0);
    }
    b[n++] = 0;
    static const uint8_t q[] = {0, 1, 0, 1};
    memcpy(b + n, q, 4);
    n += 4;
    if (response) {
        static const uint8_t a[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7};
        memcpy(b + n, a, sizeof(a));
        n += sizeof(a);
    }
    return n;
}

/* The TCP form of a message: its length, then the message. */
static size_t framed(uint8_t *out, const uint8_t *m, size_t n)
{
    out[0] = (uint8_t)(n >> 8);
    out[1] = (uint8_t)n;
    memcpy(out + 2, m, n);
    return n + 2;
}

/* Runs the sensor on pcap and reads its events. */
static void sense(const char *dir, const char *pcap, struct tu_events *e)
{
    char *out = NULL;
    int rc = tu_sensor(dir, e, &out, "-r", pcap, NULL);
    cr_assert_eq(rc, 0, "%s", out ? out : "");
    free(out);
}

static const char *flow_proto(const struct tu_events *e, const char *src, long long sport)
{
    json_t *f = tu_flow(e, src, sport, NULL);
    cr_assert_not_null(f, "no flow record from %s:%lld", src, sport);
    const char *ap = tu_str(f, "app_proto");
    return ap != NULL ? ap : "none";
}

Test(app_detect, dns_over_tcp_off_port_53)
{
    char *dir = tu_tmpdir();
    char pcap[4200];
    snprintf(pcap, sizeof(pcap), "%s/dns-tcp.pcap", dir);
    struct pg_writer *w = pg_open(pcap, 1, 0);
    cr_assert_not_null(w);
    uint64_t ts = T0;
    uint8_t m[512], f[1100];
    /* flow 1, port 5300: a query in one segment, the answer split after its length prefix */
    struct pg_tcp_session s = {"10.20.0.5", "10.20.0.53", 41000, 5300, 1000, 9000, 0};
    pg_session_open(w, &s, &ts);
    size_t n = framed(f, m, dns_msg(m, 0x1111, 0, "intranet.hcmc.example"));
    pg_session_data(w, &s, 1, f, n, &ts);
    n = framed(f, m, dns_msg(m, 0x1111, 1, "intranet.hcmc.example"));
    pg_session_data(w, &s, 0, f, 2, &ts);
    pg_session_data(w, &s, 0, f + 2, n - 2, &ts);
    pg_session_close(w, &s, &ts);
    /* flow 2, port 8053: two pipelined queries in one segment, the first cut across two */
    struct pg_tcp_session s2 = {"10.20.0.6", "10.20.0.53", 41001, 8053, 2000, 7000, 0};
    pg_session_open(w, &s2, &ts);
    n = framed(f, m, dns_msg(m, 0x2222, 0, "a.example"));
    n += framed(f + n, m, dns_msg(m, 0x3333, 0, "b.example"));
    pg_session_data(w, &s2, 1, f, 9, &ts);
    pg_session_data(w, &s2, 1, f + 9, n - 9, &ts);
    pg_session_close(w, &s2, &ts);
    pg_close(w);

    struct tu_events e;
    sense(dir, pcap, &e);
    cr_assert_str_eq(flow_proto(&e, "10.20.0.5", 41000), "dns");
    cr_assert_str_eq(flow_proto(&e, "10.20.0.6", 41001), "dns");
    cr_assert_eq(tu_count(&e, "dns", NULL, NULL), 4);
    json_t *q = tu_find(&e, "dns", "dns.rrname", "intranet.hcmc.example");
    cr_assert_not_null(q);
    cr_assert_str_eq(tu_str(q, "dns.type"), "query");
    cr_assert_eq(tu_int(q, "dns.id"), 0x1111);
    cr_assert_eq(tu_int(q, "dest_port"), 5300);
    cr_assert_str_eq(tu_str(q, "proto"), "TCP");
    json_t *a = tu_find(&e, "dns", "dns.type", "answer");
    cr_assert_not_null(a);
    json_t *an = json_array_get(tu_get(a, "dns.answers"), 0);
    cr_assert_not_null(an);
    cr_assert_str_eq(tu_str(an, "rdata"), "192.0.2.7");
    cr_assert_eq(tu_int(a, "dns.id"), 0x1111);
    cr_assert_eq(tu_int(a, "src_port"), 41000, "records follow the flow's orientation");
    cr_assert_eq(tu_count(&e, "dns", "dns.rrname", "a.example"), 1);
    cr_assert_eq(tu_count(&e, "dns", "dns.rrname", "b.example"), 1);
    /* each message is a transaction of its own, as in Suricata 7 */
    cr_assert_eq(tu_int(tu_find(&e, "dns", "dns.rrname", "b.example"), "dns.tx_id"), 1);
    tu_events_free(&e);
    tu_rmdir(dir);
    free(dir);
}

Test(app_detect, dns_over_udp_off_port_53)
{
    char *dir = tu_tmpdir();
    char pcap[4200];
    snprintf(pcap, sizeof(pcap), "%s/dns-udp.pcap", dir);
    struct pg_writer *w = pg_open(pcap, 1, 0);
    cr_assert_not_null(w);
    uint8_t m[512];
    struct pg g;
    for (int resp = 0; resp < 2; resp++) {
        size_t n = dns_msg(m, 0x4444, resp, "portal.hcmc.example");
        pg_init(&g);
        pg_eth(&g, 0x0800);
        pg_ipv4(&g, resp ? "10.30.0.53" : "10.30.0.5", resp ? "10.30.0.5" : "10.30.0.53", 17, 1, 0);
        pg_udp(&g, resp ? 10053 : 40000, resp ? 40000 : 10053);
        pg_bytes(&g, m, n);
        pg_finish(&g);
        pg_write(w, T0 + (uint64_t)resp * 1000, &g);
    }
    pg_close(w);
    struct tu_events e;
    sense(dir, pcap, &e);
    cr_assert_str_eq(flow_proto(&e, "10.30.0.5", 40000), "dns");
    cr_assert_eq(tu_count(&e, "dns", "dns.type", "query"), 1);
    cr_assert_eq(tu_count(&e, "dns", "dns.type", "answer"), 1);
    json_t *q = tu_find(&e, "dns", "dns.type", "query");
    cr_assert_eq(tu_int(q, "pcap_cnt"), 1);
    cr_assert_eq(tu_int(q, "dns.tx_id"), 0);
    cr_assert_eq(tu_int(tu_find(&e, "dns", "dns.type", "answer"), "pcap_cnt"), 2);
    tu_events_free(&e);
    tu_rmdir(dir);
    free(dir);
}

/* Binary protocols that start like DNS over TCP, and other protocols on DNS's ports, keep
 * their own app_proto. */
Test(app_detect, dns_probe_takes_no_other_flow)
{
    char *dir = tu_tmpdir();
    char pcap[4200];
    snprintf(pcap, sizeof(pcap), "%s/not-dns.pcap", dir);
    struct pg_writer *w = pg_open(pcap, 1, 0);
    cr_assert_not_null(w);
    uint64_t ts = T0;
    uint8_t m[512], f[1100];
    /* 1: a length-prefixed DNS-looking message with 6 bytes the prefix counts but DNS does not */
    struct pg_tcp_session s1 = {"10.40.0.1", "10.40.0.9", 42001, 7000, 1, 1, 0};
    pg_session_open(w, &s1, &ts);
    size_t n = dns_msg(m, 0x5555, 0, "x.example");
    memcpy(m + n, "\x01\x02\x03\x04\x05\x06", 6);
    n = framed(f, m, n + 6);
    pg_session_data(w, &s1, 1, f, n, &ts);
    pg_session_data(w, &s1, 0, "\x00\x08OKAYOKAY", 10, &ts);
    pg_session_close(w, &s1, &ts);
    /* 2: HTTP to port 53 */
    struct pg_tcp_session s2 = {"10.40.0.2", "10.40.0.9", 42002, 53, 1, 1, 0};
    static const char req[] = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    pg_session_open(w, &s2, &ts);
    pg_session_data(w, &s2, 1, req, sizeof(req) - 1, &ts);
    pg_session_data(w, &s2, 0, resp, sizeof(resp) - 1, &ts);
    pg_session_close(w, &s2, &ts);
    /* 3: a text protocol whose first bytes make a large length prefix */
    struct pg_tcp_session s3 = {"10.40.0.3", "10.40.0.9", 42003, 6379, 1, 1, 0};
    pg_session_open(w, &s3, &ts);
    pg_session_data(w, &s3, 1, "*1\r\n$4\r\nPING\r\n", 14, &ts);
    pg_session_data(w, &s3, 0, "+PONG\r\n+PONG\r\n", 14, &ts);
    pg_session_close(w, &s3, &ts);
    pg_close(w);
    struct tu_events e;
    sense(dir, pcap, &e);
    cr_assert_str_eq(flow_proto(&e, "10.40.0.1", 42001), "failed");
    cr_assert_str_eq(flow_proto(&e, "10.40.0.2", 42002), "http");
    cr_assert_str_eq(flow_proto(&e, "10.40.0.3", 42003), "failed");
    cr_assert_eq(tu_count(&e, "dns", NULL, NULL), 0);
    cr_assert_eq(tu_count(&e, "http", "http.url", "/x"), 1);
    tu_events_free(&e);
    tu_rmdir(dir);
    free(dir);
}

/* NetBIOS name service on UDP 137 shares DNS's layout. */
Test(app_detect, netbios_name_service_is_not_dns)
{
    char *dir = tu_tmpdir();
    char pcap[4200];
    snprintf(pcap, sizeof(pcap), "%s/nbns.pcap", dir);
    struct pg_writer *w = pg_open(pcap, 1, 0);
    cr_assert_not_null(w);
    static const uint8_t nbns[] = {
        0x80, 0x01, 0x00, 0x10, 0,   1,   0,   0,   0,   0,   0,   0,   32,  'C', 'K', 'A', 'A',
        'A',  'A',  'A',  'A',  'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A',
        'A',  'A',  'A',  'A',  'A', 'A', 'A', 'A', 'A', 'A', 'A', 0,   0,   33,  0,   1};
    struct pg g;
    for (int i = 0; i < 2; i++) {
        pg_init(&g);
        pg_eth(&g, 0x0800);
        pg_ipv4(&g, i ? "10.50.0.9" : "10.50.0.5", i ? "10.50.0.5" : "10.50.0.9", 17, 1, 0);
        pg_udp(&g, 137, 137);
        pg_bytes(&g, nbns, sizeof(nbns));
        pg_finish(&g);
        pg_write(w, T0 + (uint64_t)i * 1000, &g);
    }
    pg_close(w);
    struct tu_events e;
    sense(dir, pcap, &e);
    cr_assert_str_eq(flow_proto(&e, "10.50.0.5", 137), "failed");
    cr_assert_eq(tu_count(&e, "dns", NULL, NULL), 0);
    tu_events_free(&e);
    tu_rmdir(dir);
    free(dir);
}
