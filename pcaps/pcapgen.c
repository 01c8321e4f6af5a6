/* pcapgen.c: writes the project's deterministic test captures (see pcaps/README.md) into a directory. */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pktgen.h"
#include "scenario.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

/* 2024-05-01T00:00:00Z, in microseconds. */
#define T0 1714521600000000ULL
#define SEC 1000000ULL

static const char *outdir;

static struct pg_writer *out(const char *name, int dlt, int ng)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", outdir, name);
    struct pg_writer *w = pg_open(path, dlt, ng);
    if (w == NULL) {
        fprintf(stderr, "vigil-pcapgen: cannot write %s\n", path);
        exit(1);
    }
    return w;
}

static const char http_req[] = "GET /index.html HTTP/1.1\r\nHost: portal.example\r\n"
                               "User-Agent: vigil-test\r\n\r\n";
static const char http_resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

/*
 * tcp-sessions: five TCP flows.
 *  A 10.1.1.10:40000 -> 203.0.113.5:80   handshake, request, response, FIN close: 6/5 packets
 *  B [2001:db8::10]:40001 -> [2001:db8::80]:443  same shape over IPv6: 6/5 packets
 *  C 10.1.1.11:40002 -> 203.0.113.6:22   handshake, data, then RST from the server: 3/2
 *  D 10.1.1.12:40003 -> 203.0.113.7:8080 a lone SYN: 1/0, state new
 *  E 10.1.1.13:40004 -> 198.51.100.9:25  midstream: data both ways, no handshake: 2/2
 */
static void write_tcp_sessions(struct pg_writer *w)
{
    uint64_t ts = T0;
    struct pg_tcp_session a = {"10.1.1.10", "203.0.113.5", 40000, 80, 1000, 5000, 0};
    pg_session_open(w, &a, &ts);
    pg_session_data(w, &a, 1, http_req, sizeof(http_req) - 1, &ts);
    pg_session_data(w, &a, 0, http_resp, sizeof(http_resp) - 1, &ts);
    pg_session_close(w, &a, &ts);

    struct pg_tcp_session b = {"2001:db8::10", "2001:db8::80", 40001, 443, 7000, 9000, 0};
    pg_session_open(w, &b, &ts);
    pg_session_data(w, &b, 1, "hello", 5, &ts);
    pg_session_data(w, &b, 0, "world!", 6, &ts);
    pg_session_close(w, &b, &ts);

    struct pg_tcp_session c = {"10.1.1.11", "203.0.113.6", 40002, 22, 100, 200, 0};
    pg_session_open(w, &c, &ts);
    struct pg g;
    pg_session_segment(&g, &c, 1, 0x18, "SSH-2.0-x\r\n", 11);
    pg_write(w, ts, &g);
    ts += 1000;
    c.cseq += 11;
    pg_session_segment(&g, &c, 0, 0x14, NULL, 0); /* RST/ACK */
    pg_write(w, ts, &g);
    ts += 1000;

    struct pg_tcp_session d = {"10.1.1.12", "203.0.113.7", 40003, 8080, 300, 400, 0};
    pg_session_segment(&g, &d, 1, 0x02, NULL, 0);
    pg_write(w, ts, &g);
    ts += 1000;

    struct pg_tcp_session e = {"10.1.1.13", "198.51.100.9", 40004, 25, 500, 600, 0};
    pg_session_data(w, &e, 1, "EHLO x\r\n", 8, &ts);
    pg_session_data(w, &e, 0, "250 ok\r\n", 8, &ts);
}

/* One UDP datagram as an Ethernet frame. */
static void udp_frame(struct pg *g, const char *src, const char *dst, uint16_t sp, uint16_t dp,
                      const void *data, size_t len)
{
    int v6 = strchr(src, ':') != NULL;
    pg_init(g);
    pg_eth(g, v6 ? 0x86dd : 0x0800);
    if (v6)
        pg_ipv6(g, src, dst, 17);
    else
        pg_ipv4(g, src, dst, 17, 1, 0);
    pg_udp(g, sp, dp);
    pg_bytes(g, data, len);
    pg_finish(g);
}

/*
 * udp-icmp: six flows.
 *  10.1.1.20:53000 -> 10.1.1.53:53  query and answer: 1/1
 *  10.1.1.21:53001 -> 10.1.1.53:53  unanswered query: 1/0
 *  10.1.1.22 -> 8.8.8.8 ICMP echo, two requests and two replies: 2/2
 *  2001:db8::22 -> 2001:db8::1 ICMPv6 echo and reply: 1/1
 *  10.1.1.23:5000 -> 10.1.1.24:5001 twice, 100 s apart: two flows (UDP times out after 30 s)
 */
static void write_udp_icmp(struct pg_writer *w)
{
    struct pg g;
    uint64_t ts = T0;
    static const uint8_t q[28] = {0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4, 't', 'e', 's',
                                  't', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1};
    udp_frame(&g, "10.1.1.20", "10.1.1.53", 53000, 53, q, sizeof(q));
    pg_write(w, ts += 1000, &g);
    udp_frame(&g, "10.1.1.53", "10.1.1.20", 53, 53000, q, sizeof(q));
    pg_write(w, ts += 1000, &g);
    udp_frame(&g, "10.1.1.21", "10.1.1.53", 53001, 53, q, sizeof(q));
    pg_write(w, ts += 1000, &g);

    for (uint16_t seq = 1; seq <= 2; seq++) {
        pg_init(&g);
        pg_eth(&g, 0x0800);
        pg_ipv4(&g, "10.1.1.22", "8.8.8.8", 1, seq, 0);
        pg_icmp4(&g, 8, 0, 77, seq);
        pg_bytes(&g, "pingpingpingping", 16);
        pg_finish(&g);
        pg_write(w, ts += 1000, &g);
        pg_init(&g);
        pg_eth(&g, 0x0800);
        pg_ipv4(&g, "8.8.8.8", "10.1.1.22", 1, seq, 0);
        pg_icmp4(&g, 0, 0, 77, seq);
        pg_bytes(&g, "pingpingpingping", 16);
        pg_finish(&g);
        pg_write(w, ts += 1000, &g);
    }
    pg_init(&g);
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::22", "2001:db8::1", 58);
    pg_icmp6(&g, 128, 0, 5, 1);
    pg_finish(&g);
    pg_write(w, ts += 1000, &g);
    pg_init(&g);
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::22", 58);
    pg_icmp6(&g, 129, 0, 5, 1);
    pg_finish(&g);
    pg_write(w, ts += 1000, &g);

    udp_frame(&g, "10.1.1.23", "10.1.1.24", 5000, 5001, "one", 3);
    pg_write(w, ts += 1000, &g);
    udp_frame(&g, "10.1.1.23", "10.1.1.24", 5000, 5001, "two", 3);
    pg_write(w, ts + 100 * SEC, &g);
}

/*
 * vlan-mpls: four flows.
 *  the same TCP tuple 10.4.0.1:1234 -> 10.4.0.2:80 in VLAN 10 and in VLAN 20 (7 packets each)
 *  UDP 10.4.0.3:53 <-> 10.4.0.4:53 in QinQ 100/200, one packet each way
 *  UDP 10.4.0.5:1000 -> 10.4.0.6:2000 under MPLS label 1000
 */
static void write_vlan_mpls(struct pg_writer *w)
{
    uint64_t ts = T0;
    for (uint16_t vlan = 10; vlan <= 20; vlan += 10) {
        struct pg_tcp_session s = {"10.4.0.1", "10.4.0.2", 1234, 80, 10, 20, vlan};
        pg_session_open(w, &s, &ts);
        pg_session_close(w, &s, &ts);
    }
    struct pg g;
    for (int dir = 0; dir < 2; dir++) {
        pg_init(&g);
        pg_eth(&g, 0x88a8);
        pg_vlan(&g, 100, 0x8100);
        pg_vlan(&g, 200, 0x0800);
        pg_ipv4(&g, dir ? "10.4.0.4" : "10.4.0.3", dir ? "10.4.0.3" : "10.4.0.4", 17, 1, 0);
        pg_udp(&g, 53, 53);
        pg_bytes(&g, "qinq", 4);
        pg_finish(&g);
        pg_write(w, ts += 1000, &g);
    }
    pg_init(&g);
    pg_eth(&g, 0x8847);
    pg_mpls(&g, 1000, 1);
    pg_ipv4(&g, "10.4.0.5", "10.4.0.6", 17, 1, 0);
    pg_udp(&g, 1000, 2000);
    pg_bytes(&g, "mpls", 4);
    pg_finish(&g);
    pg_write(w, ts += 1000, &g);
}

/*
 * tunnels: four flows, keyed on the inner packets.
 *  GRE 192.0.2.1 <-> 192.0.2.2 carrying UDP 10.9.0.1:1000 <-> 10.9.0.2:2000, one each way
 *  VXLAN (UDP 4789, VNI 42) carrying a TCP SYN 10.8.0.1:3333 -> 10.8.0.2:80
 *  IPv6-in-IPv4 carrying UDP [2001:db8::a:7]:1 -> [2001:db8::b:9]:2
 *  GRE 192.0.2.7 -> 192.0.2.8 whose inner IPv4 header is broken: the outer GRE flow stays,
 *  with a decoder.ipv4.hlen_too_small anomaly
 */
static void write_tunnels(struct pg_writer *w)
{
    uint64_t ts = T0;
    struct pg g;
    for (int dir = 0; dir < 2; dir++) {
        pg_init(&g);
        pg_eth(&g, 0x0800);
        pg_ipv4(&g, dir ? "192.0.2.2" : "192.0.2.1", dir ? "192.0.2.1" : "192.0.2.2", 47, 1, 0);
        pg_gre(&g, 0x0800);
        pg_ipv4(&g, dir ? "10.9.0.2" : "10.9.0.1", dir ? "10.9.0.1" : "10.9.0.2", 17, 2, 0);
        pg_udp(&g, dir ? 2000 : 1000, dir ? 1000 : 2000);
        pg_bytes(&g, "gre!", 4);
        pg_finish(&g);
        pg_write(w, ts += 1000, &g);
    }
    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "192.0.2.3", "192.0.2.4", 17, 1, 0);
    pg_udp(&g, 5555, 4789);
    pg_vxlan(&g, 42);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.8.0.1", "10.8.0.2", 6, 1, 0);
    pg_tcp(&g, 3333, 80, 1, 0, 0x02, 1024);
    pg_finish(&g);
    pg_write(w, ts += 1000, &g);

    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "192.0.2.5", "192.0.2.6", 41, 1, 0);
    pg_ipv6(&g, "2001:db8::a:7", "2001:db8::b:9", 17);
    pg_udp(&g, 1, 2);
    pg_bytes(&g, "6in4", 4);
    pg_finish(&g);
    pg_write(w, ts += 1000, &g);

    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "192.0.2.7", "192.0.2.8", 47, 1, 0);
    pg_gre(&g, 0x0800);
    pg_ipv4(&g, "10.7.0.1", "10.7.0.2", 17, 3, 0);
    pg_udp(&g, 9, 9);
    pg_finish(&g);
    size_t inner = g.layer[2].off;
    g.b[inner] = 0x44; /* IHL 4: 16 bytes, below the minimum */
    pg_write(w, ts += 1000, &g);
}

/* Writes fragments of the IPv4 packet in g (built with pg_finish) as fragments of size step. */
static void ipv4_fragments(struct pg_writer *w, const struct pg *g, size_t ip_off, size_t step,
                           const int *order, int n, uint64_t *ts)
{
    size_t hlen = (size_t)(g->b[ip_off] & 15) * 4;
    size_t payload = g->len - ip_off - hlen;
    for (int k = 0; k < n; k++) {
        size_t i = (size_t)order[k];
        size_t off = i * step;
        if (off >= payload)
            continue;
        size_t len = payload - off < step ? payload - off : step;
        int more = off + len < payload;
        struct pg f;
        pg_init(&f);
        pg_bytes(&f, g->b, ip_off + hlen); /* link layer and IP header */
        pg_bytes(&f, g->b + ip_off + hlen + off, len);
        uint16_t total = (uint16_t)(hlen + len);
        f.b[ip_off + 2] = (uint8_t)(total >> 8);
        f.b[ip_off + 3] = (uint8_t)total;
        uint16_t fr = (uint16_t)((more ? 0x2000 : 0) | (off / 8));
        f.b[ip_off + 6] = (uint8_t)(fr >> 8);
        f.b[ip_off + 7] = (uint8_t)fr;
        f.nlayers = 1;
        f.layer[0].type = PG_L_IPV4;
        f.layer[0].off = ip_off;
        pg_finish(&f);
        pg_write(w, *ts, &f);
        *ts += 1000;
    }
}

/*
 * fragments: five flows.
 *  UDP 10.2.0.1:7000 -> 10.2.0.2:7001, 3000 bytes in three in-order fragments
 *  UDP 10.2.0.1:7002 -> 10.2.0.2:7003, 2000 bytes in two fragments, last one first
 *  UDP 10.2.0.1:7004 -> 10.2.0.2:7005, two overlapping fragments (decoder.ipv4.frag_overlap)
 *  UDP [2001:db8::f1]:8000 -> [2001:db8::f2]:8001, 2000 bytes in two IPv6 fragments
 *  an incomplete datagram 10.2.0.3 -> 10.2.0.4 (first fragment only), dropped 60 s later
 *  UDP 10.2.0.9:1 -> 10.2.0.10:2, 70 s on, so that the incomplete datagram times out
 */
static void write_fragments(struct pg_writer *w)
{
    uint64_t ts = T0;
    static uint8_t data[3000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)('a' + i % 26);
    struct pg g;

    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.2.0.1", "10.2.0.2", 17, 101, 0);
    pg_udp(&g, 7000, 7001);
    pg_bytes(&g, data, 3000);
    pg_finish(&g);
    static const int in_order[] = {0, 1, 2};
    ipv4_fragments(w, &g, 14, 1480, in_order, 3, &ts);

    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.2.0.1", "10.2.0.2", 17, 102, 0);
    pg_udp(&g, 7002, 7003);
    pg_bytes(&g, data, 2000);
    pg_finish(&g);
    static const int reversed[] = {1, 0};
    ipv4_fragments(w, &g, 14, 1480, reversed, 2, &ts);

    /* Overlap: fragment 1 covers bytes 0-23, fragment 2 covers 16-39. */
    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.2.0.1", "10.2.0.2", 17, 103, 0);
    pg_udp(&g, 7004, 7005);
    pg_bytes(&g, data, 32);
    pg_finish(&g);
    for (int k = 0; k < 2; k++) {
        struct pg f;
        size_t off = k ? 16 : 0, len = 24;
        pg_init(&f);
        pg_bytes(&f, g.b, 34);
        pg_bytes(&f, g.b + 34 + off, len);
        f.b[16] = 0;
        f.b[17] = (uint8_t)(20 + len);
        uint16_t fr = (uint16_t)((k ? 0 : 0x2000) | (off / 8));
        f.b[20] = (uint8_t)(fr >> 8);
        f.b[21] = (uint8_t)fr;
        f.nlayers = 1;
        f.layer[0].type = PG_L_IPV4;
        f.layer[0].off = 14;
        pg_finish(&f);
        pg_write(w, ts += 1000, &f);
    }

    /* IPv6: a 2008-byte UDP datagram as 1448 + 560 bytes of fragmentable part. */
    pg_init(&g); /* built whole once for the UDP checksum, then cut after the IPv6 header */
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::f1", "2001:db8::f2", 17);
    pg_udp(&g, 8000, 8001);
    pg_bytes(&g, data, 2000);
    pg_finish(&g);
    const uint8_t *l4 = g.b + 54;
    size_t l4len = g.len - 54;
    for (int k = 0; k < 2; k++) {
        size_t off = k ? 1448 : 0;
        size_t len = k ? l4len - 1448 : 1448;
        struct pg f;
        pg_init(&f);
        pg_eth(&f, 0x86dd);
        pg_ipv6(&f, "2001:db8::f1", "2001:db8::f2", 44);
        pg_ipv6_frag(&f, 17, (uint16_t)off, !k, 0xabcd);
        pg_bytes(&f, l4 + off, len);
        pg_finish(&f);
        pg_write(w, ts += 1000, &f);
    }

    /* The incomplete datagram. */
    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.2.0.3", "10.2.0.4", 17, 99, 0);
    pg_udp(&g, 1, 2);
    pg_bytes(&g, data, 2000);
    pg_finish(&g);
    static const int first_only[] = {0};
    ipv4_fragments(w, &g, 14, 1480, first_only, 1, &ts);

    udp_frame(&g, "10.2.0.9", "10.2.0.10", 1, 2, "late", 4);
    pg_write(w, ts + 70 * SEC, &g);
}

/* An IPv4/TCP frame to break on purpose. */
static void tcp_frame(struct pg *g, uint8_t flags)
{
    pg_init(g);
    pg_eth(g, 0x0800);
    pg_ipv4(g, "10.6.0.1", "10.6.0.2", 6, 1, 0);
    pg_tcp(g, 1000, 80, 1, 0, flags, 1024);
    pg_finish(g);
}

/*
 * malformed: one packet per decoder event (pcaps/README.md lists them). Packets marked
 * "valid" still decode and make flows; the others are invalid.
 */
static void write_malformed(struct pg_writer *w)
{
    uint64_t ts = T0;
    struct pg g;

    /* 1 ethernet.pkt_too_small */
    pg_init(&g);
    pg_bytes(&g, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09", 10);
    pg_write(w, ts += 1000, &g);

    /* 2 ipv4.hlen_too_small: IHL 4 */
    tcp_frame(&g, 0x02);
    g.b[14] = 0x44;
    pg_write(w, ts += 1000, &g);

    /* 3 ipv4.trunc_pkt: total length 1000 in a 54-byte frame */
    tcp_frame(&g, 0x02);
    g.b[16] = 0x03;
    g.b[17] = 0xe8;
    pg_write(w, ts += 1000, &g);

    /* 4 ipv4.wrong_ip_version */
    tcp_frame(&g, 0x02);
    g.b[14] = 0x55;
    pg_write(w, ts += 1000, &g);

    /* 5 tcp.hlen_too_small: data offset 4 */
    tcp_frame(&g, 0x02);
    g.b[34 + 12] = 0x40;
    pg_write(w, ts += 1000, &g);

    /* 6 tcp.pkt_too_small: 10 bytes of TCP header */
    tcp_frame(&g, 0x02);
    g.len = 44;
    g.b[16] = 0;
    g.b[17] = 30;
    pg_write(w, ts += 1000, &g);

    /* 7 udp.len_invalid: UDP length 4 */
    udp_frame(&g, "10.6.0.3", "10.6.0.4", 1, 2, "x", 1);
    g.b[34 + 4] = 0;
    g.b[34 + 5] = 4;
    pg_write(w, ts += 1000, &g);

    /* 8 ipv6.trunc_pkt: payload length 500 with 8 bytes */
    udp_frame(&g, "2001:db8::61", "2001:db8::62", 1, 2, NULL, 0);
    g.b[18] = 0x01;
    g.b[19] = 0xf4;
    pg_write(w, ts += 1000, &g);

    /* 9 ipv6.trunc_exthdr: a hop-by-hop header claiming 16 bytes, 8 present */
    pg_init(&g);
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::63", "2001:db8::64", 0);
    pg_ipv6_ext(&g, 0, 59);
    pg_finish(&g);
    g.b[54 + 1] = 1;
    pg_write(w, ts += 1000, &g);

    /* 10 icmpv4.unknown_type (valid) */
    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.6.0.5", "10.6.0.6", 1, 1, 0);
    pg_icmp4(&g, 99, 0, 1, 1);
    pg_finish(&g);
    pg_write(w, ts += 1000, &g);

    /* 11 tcp.opt_invalid_len: an MSS option of length 3 (valid) */
    static const uint8_t bad_mss[4] = {2, 3, 0x05, 0x01};
    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.6.0.7", "10.6.0.8", 6, 1, 0);
    pg_tcp_opts(&g, 1001, 80, 1, 0, 0x02, bad_mss, sizeof(bad_mss));
    pg_finish(&g);
    pg_write(w, ts += 1000, &g);

    /* 12 gre.wrong_version */
    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.6.0.9", "10.6.0.10", 47, 1, 0);
    pg_gre(&g, 0x0800);
    pg_finish(&g);
    g.b[35] = 0x03;
    pg_write(w, ts += 1000, &g);

    /* 13 vlan.header_too_small */
    pg_init(&g);
    pg_eth(&g, 0x8100);
    pg_u16(&g, 5);
    pg_write(w, ts += 1000, &g);

    /* 14 ipv4.opt_invalid_len: an option with length 1 (valid) */
    static const uint8_t bad_opt[4] = {7, 1, 0, 0};
    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4_opts(&g, "10.6.0.11", "10.6.0.12", 17, 1, bad_opt, sizeof(bad_opt));
    pg_udp(&g, 3, 4);
    pg_finish(&g);
    pg_write(w, ts += 1000, &g);

    /* 15 ipv6.rh_type_0 (valid) */
    pg_init(&g);
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::65", "2001:db8::66", 43);
    pg_ipv6_ext(&g, 43, 17);
    pg_udp(&g, 5, 6);
    pg_finish(&g);
    g.b[54 + 2] = 0;
    pg_write(w, ts += 1000, &g);

    /* 16 vlan.too_many_layers: four tags */
    pg_init(&g);
    pg_eth(&g, 0x8100);
    pg_vlan(&g, 1, 0x8100);
    pg_vlan(&g, 2, 0x8100);
    pg_vlan(&g, 3, 0x8100);
    pg_vlan(&g, 4, 0x0800);
    pg_ipv4(&g, "10.6.0.13", "10.6.0.14", 17, 1, 0);
    pg_udp(&g, 7, 8);
    pg_finish(&g);
    pg_write(w, ts += 1000, &g);

    /* 17 icmpv6.pkt_too_small: 4 bytes of ICMPv6 */
    pg_init(&g);
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::67", "2001:db8::68", 58);
    pg_u32(&g, 0x80000000u);
    pg_finish(&g);
    pg_write(w, ts += 1000, &g);

    /* 18 udp.hlen_too_small: 4 bytes of UDP */
    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.6.0.15", "10.6.0.16", 17, 1, 0);
    pg_u32(&g, 0x00010002u);
    pg_finish(&g);
    pg_write(w, ts += 1000, &g);
}

/* One UDP exchange over link type dlt: client then server. */
static void write_linktype(const char *name, int dlt)
{
    struct pg_writer *w = out(name, dlt, 0);
    uint64_t ts = T0;
    for (int dir = 0; dir < 2; dir++) {
        int v6 = dlt == DLT_LOOP;
        const char *a = v6 ? "2001:db8::3:1" : "10.3.0.1", *b = v6 ? "2001:db8::3:2" : "10.3.0.2";
        struct pg g;
        pg_init(&g);
        switch (dlt) {
        case DLT_LINUX_SLL:
            pg_u16(&g, dir ? 4 : 0); /* packet type */
            pg_u16(&g, 1);           /* ARPHRD_ETHER */
            pg_u16(&g, 6);
            pg_bytes(&g, "\x00\x1b\x21\x01\x02\x03\x00\x00", 8);
            pg_u16(&g, 0x0800);
            break;
        case DLT_LINUX_SLL2:
            pg_u16(&g, 0x0800);
            pg_u16(&g, 0);
            pg_u32(&g, 2); /* interface index */
            pg_u16(&g, 1);
            pg_u8(&g, dir ? 4 : 0);
            pg_u8(&g, 6);
            pg_bytes(&g, "\x00\x1b\x21\x01\x02\x03\x00\x00", 8);
            break;
        case DLT_NULL: {
            uint32_t fam = 2; /* AF_INET in the writer's (little-endian) byte order */
            pg_bytes(&g, &fam, 4);
            break;
        }
        case DLT_LOOP:
            pg_u32(&g, 24); /* AF_INET6 as OpenBSD numbers it, network order */
            break;
        default:
            break;
        }
        if (v6)
            pg_ipv6(&g, dir ? b : a, dir ? a : b, 17);
        else
            pg_ipv4(&g, dir ? b : a, dir ? a : b, 17, 1, 0);
        pg_udp(&g, dir ? 2222 : 1111, dir ? 1111 : 2222);
        pg_bytes(&g, "link", 4);
        pg_finish(&g);
        pg_write(w, ts += 1000, &g);
    }
    if (dlt == DLT_RAW) { /* raw IP also carries IPv6 */
        struct pg g;
        pg_init(&g);
        pg_ipv6(&g, "2001:db8::3:1", "2001:db8::3:2", 17);
        pg_udp(&g, 3333, 4444);
        pg_finish(&g);
        pg_write(w, ts += 1000, &g);
    }
    pg_close(w);
}

/* A small pseudo-random generator, so many-flows is the same on every machine. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

struct timed {
    uint64_t ts;
    uint32_t seq;
    struct pg g;
};

static int cmp_timed(const void *a, const void *b)
{
    const struct timed *x = *(const struct timed *const *)a, *y = *(const struct timed *const *)b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * many-flows: 2000 interleaved flows over 20 minutes (TCP sessions, UDP exchanges, ICMP, some
 * in VLANs, some fragmented), so that flows time out midway. Used to show that events are the
 * same for any number of worker threads.
 */
static void write_many_flows(void)
{
    enum { NFLOWS = 2000, MAXPKTS = 16 };
    struct timed **pk = malloc(sizeof(*pk) * NFLOWS * MAXPKTS);
    size_t n = 0;
    uint32_t seq = 0;
    for (uint32_t f = 0; f < NFLOWS; f++) {
        char cli[32], srv[32];
        snprintf(cli, sizeof(cli), "10.%u.%u.%u", 20 + rnd(4), rnd(256), 1 + rnd(250));
        snprintf(srv, sizeof(srv), "172.16.%u.%u", rnd(16), 1 + rnd(250));
        uint64_t ts = T0 + (uint64_t)rnd(1200) * SEC + rnd(1000000);
        uint16_t cport = (uint16_t)(1024 + rnd(60000));
        uint32_t kind = rnd(10);
        uint16_t vlan = rnd(5) == 0 ? (uint16_t)(1 + rnd(3)) : 0;
        if (kind < 5) { /* a TCP session with a request and an answer */
            struct pg_tcp_session s = {cli, srv, cport, (uint16_t)(kind < 3 ? 80 : 443),
                                       rnd(1u << 30), rnd(1u << 30), vlan};
            static const struct {
                int to_server;
                uint8_t flags;
                int data;
            } script[] = {{1, 0x02, 0}, {0, 0x12, 0}, {1, 0x10, 0}, {1, 0x18, 1}, {0, 0x10, 0},
                          {0, 0x18, 1}, {1, 0x10, 0}, {1, 0x11, 0}, {0, 0x11, 0}, {1, 0x10, 0}};
            size_t steps = rnd(4) == 0 ? 6 : sizeof(script) / sizeof(script[0]);
            for (size_t i = 0; i < steps; i++) {
                struct timed *t = malloc(sizeof(*t));
                size_t len = script[i].data ? 20 + rnd(400) : 0;
                uint8_t buf[512];
                memset(buf, 'v', len);
                pg_session_segment(&t->g, &s, script[i].to_server, script[i].flags, buf, len);
                uint32_t adv = (uint32_t)len + ((script[i].flags & 0x03) ? 1u : 0u);
                if (script[i].to_server)
                    s.cseq += adv;
                else
                    s.sseq += adv;
                t->ts = ts;
                t->seq = seq++;
                ts += 1000 + rnd(2 * SEC);
                pk[n++] = t;
            }
        } else if (kind < 8) { /* UDP: a query, maybe an answer, maybe a second round later */
            int rounds = 1 + (int)rnd(2);
            for (int r = 0; r < rounds; r++) {
                for (int dir = 0; dir < 2; dir++) {
                    if (dir && rnd(3) == 0)
                        continue;
                    struct timed *t = malloc(sizeof(*t));
                    udp_frame(&t->g, dir ? srv : cli, dir ? cli : srv, dir ? 53 : cport,
                              dir ? cport : 53, "dnsdnsdnsdns", 12);
                    t->ts = ts;
                    t->seq = seq++;
                    ts += 1000 + rnd(SEC);
                    pk[n++] = t;
                }
                ts += rnd(90) * SEC; /* sometimes past the UDP timeout: a new flow */
            }
        } else if (kind < 9) { /* ICMP echo */
            for (int dir = 0; dir < 2; dir++) {
                struct timed *t = malloc(sizeof(*t));
                pg_init(&t->g);
                pg_eth(&t->g, 0x0800);
                pg_ipv4(&t->g, dir ? srv : cli, dir ? cli : srv, 1, (uint16_t)f, 0);
                pg_icmp4(&t->g, dir ? 0 : 8, 0, (uint16_t)f, 1);
                pg_finish(&t->g);
                t->ts = ts;
                t->seq = seq++;
                ts += 1000;
                pk[n++] = t;
            }
        } else { /* a fragmented UDP datagram */
            struct pg g;
            static uint8_t big[2400];
            pg_init(&g);
            pg_eth(&g, 0x0800);
            pg_ipv4(&g, cli, srv, 17, (uint16_t)f, 0);
            pg_udp(&g, cport, 9999);
            pg_bytes(&g, big, sizeof(big));
            pg_finish(&g);
            size_t payload = g.len - 34;
            for (size_t off = 0; off < payload; off += 1480) {
                struct timed *t = malloc(sizeof(*t));
                size_t len = payload - off < 1480 ? payload - off : 1480;
                pg_init(&t->g);
                pg_bytes(&t->g, g.b, 34);
                pg_bytes(&t->g, g.b + 34 + off, len);
                t->g.b[16] = (uint8_t)((20 + len) >> 8);
                t->g.b[17] = (uint8_t)(20 + len);
                uint16_t fr = (uint16_t)((off + len < payload ? 0x2000 : 0) | (off / 8));
                t->g.b[20] = (uint8_t)(fr >> 8);
                t->g.b[21] = (uint8_t)fr;
                t->g.nlayers = 1;
                t->g.layer[0].type = PG_L_IPV4;
                t->g.layer[0].off = 14;
                pg_finish(&t->g);
                t->ts = ts;
                t->seq = seq++;
                ts += 100;
                pk[n++] = t;
            }
        }
    }
    qsort(pk, n, sizeof(*pk), cmp_timed);
    struct pg_writer *w = out("many-flows.pcap", DLT_EN10MB, 0);
    for (size_t i = 0; i < n; i++) {
        pg_write(w, pk[i]->ts, &pk[i]->g);
        free(pk[i]);
    }
    pg_close(w);
    free(pk);
}

/* Copies the first size bytes of file src to dst. */
static void truncate_copy(const char *src, const char *dst, long cut)
{
    char a[4096], b[4096];
    snprintf(a, sizeof(a), "%s/%s", outdir, src);
    snprintf(b, sizeof(b), "%s/%s", outdir, dst);
    FILE *in = fopen(a, "rb"), *o = fopen(b, "wb");
    if (in == NULL || o == NULL) {
        fprintf(stderr, "vigil-pcapgen: cannot copy %s\n", a);
        exit(1);
    }
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    rewind(in);
    long keep = size - cut;
    char buf[4096];
    while (keep > 0) {
        size_t want = keep < (long)sizeof(buf) ? (size_t)keep : sizeof(buf);
        size_t got = fread(buf, 1, want, in);
        if (got == 0)
            break;
        fwrite(buf, 1, got, o);
        keep -= (long)got;
    }
    fclose(in);
    fclose(o);
}

static void write_text(const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", outdir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "vigil-pcapgen: cannot write %s\n", path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static void usage(FILE *out)
{
    fputs("Usage: vigil-pcapgen OUTDIR\n"
          "Writes the project's deterministic test captures into OUTDIR (created if needed):\n"
          "TCP sessions (pcap and pcapng), UDP/ICMP, VLAN/MPLS, tunnels, fragments, malformed and\n"
          "truncated packets, every supported link type, many flows, the attack-chain scenario,\n"
          "and a few files that are not captures, for the error paths.\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-' || argv[1][0] == '\0') {
        usage(stderr);
        return 2;
    }
    outdir = argv[1];
    if (mkdir(outdir, 0755) < 0 && errno != EEXIST) {
        perror(outdir);
        return 1;
    }

    struct pg_writer *w = out("tcp-sessions.pcap", DLT_EN10MB, 0);
    write_tcp_sessions(w);
    pg_close(w);
    w = out("tcp-sessions.pcapng", DLT_EN10MB, 1);
    write_tcp_sessions(w);
    pg_close(w);
    w = out("udp-icmp.pcap", DLT_EN10MB, 0);
    write_udp_icmp(w);
    pg_close(w);
    w = out("vlan-mpls.pcap", DLT_EN10MB, 0);
    write_vlan_mpls(w);
    pg_close(w);
    w = out("tunnels.pcap", DLT_EN10MB, 0);
    write_tunnels(w);
    pg_close(w);
    w = out("fragments.pcap", DLT_EN10MB, 0);
    write_fragments(w);
    pg_close(w);
    w = out("malformed.pcap", DLT_EN10MB, 0);
    write_malformed(w);
    pg_close(w);

    write_linktype("linktype-sll.pcap", DLT_LINUX_SLL);
    write_linktype("linktype-sll2.pcap", DLT_LINUX_SLL2);
    write_linktype("linktype-raw.pcap", DLT_RAW);
    write_linktype("linktype-null.pcap", DLT_NULL);
    write_linktype("linktype-loop.pcap", DLT_LOOP);

    write_many_flows();

    /* The bundled sample (README quick start, end-to-end tests). */
    w = out("attack-chain.pcap", DLT_EN10MB, 0);
    scenario_attack_chain(w, T0);
    pg_close(w);

    /* Damaged inputs: cut mid-record, a record claiming 4 GB, not a capture, empty. */
    truncate_copy("tcp-sessions.pcap", "truncated.pcap", 30);
    truncate_copy("tcp-sessions.pcapng", "truncated.pcapng", 30);
    {
        char path[4096];
        snprintf(path, sizeof(path), "%s/tcp-sessions.pcap", outdir);
        FILE *in = fopen(path, "rb");
        uint8_t buf[24 + 16 + 54 + 16];
        size_t got = in ? fread(buf, 1, sizeof(buf), in) : 0;
        if (in)
            fclose(in);
        if (got == sizeof(buf)) {
            /* The second record's captured length becomes 0xffffffff. */
            memset(buf + 24 + 16 + 54 + 8, 0xff, 4);
            snprintf(path, sizeof(path), "%s/bad-record.pcap", outdir);
            FILE *o = fopen(path, "wb");
            if (o) {
                fwrite(buf, 1, sizeof(buf), o);
                fclose(o);
            }
        }
    }
    write_text("not-a-pcap.txt", "This is a text file, not a packet capture.\n");
    write_text("empty.pcap", "");
    return 0;
}
