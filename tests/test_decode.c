/* test_decode.c: the packet decoders: layers, link types, every decoder event, robustness. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktgen.h"
#include "vigil/decode.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

/* State every test shares; Criterion runs each test in its own process. */
static struct pg g;
static struct vg_decode_stats st;
static struct vg_packet pk;
static uint8_t *pkbuf; /* the bytes pk.data points at, allocated to their exact size for ASan */

static void reset(void)
{
    memset(&st, 0, sizeof(st));
    memset(&pk, 0, sizeof(pk));
    pg_init(&g);
}

static void cleanup(void)
{
    free(pkbuf);
    pkbuf = NULL;
}

TestSuite(decode, .init = reset, .fini = cleanup);
TestSuite(decode_events, .init = reset, .fini = cleanup);
TestSuite(decode_robust, .init = reset, .fini = cleanup);

/* Decodes len bytes of data (caplen bytes of them captured) as link type dlt into pk. */
static int decode_bytes(const uint8_t *data, size_t len, size_t caplen, uint32_t dlt)
{
    free(pkbuf);
    pkbuf = malloc(caplen ? caplen : 1);
    cr_assert_not_null(pkbuf);
    memcpy(pkbuf, data, caplen);
    memset(&pk, 0x5a, sizeof(pk)); /* decode_packet must reset every decoded field */
    pk.data = pkbuf;
    pk.caplen = (uint32_t)caplen;
    pk.wirelen = (uint32_t)len;
    pk.datalink = dlt;
    pk.flags = 0;
    pk.ts = 0;
    return decode_packet(&st, &pk);
}

/* Decodes the packet under construction in g, whole. */
static int decode_g(uint32_t dlt)
{
    return decode_bytes(g.b, g.len, g.len, dlt);
}

static void expect_addr(const struct vg_addr *a, const char *text)
{
    struct vg_addr want;
    memset(&want, 0, sizeof(want));
    int af = strchr(text, ':') ? AF_INET6 : AF_INET;
    cr_assert_eq(inet_pton(af, text, want.u8), 1, "bad address %s", text);
    char got[INET6_ADDRSTRLEN];
    inet_ntop(af, a->u8, got, sizeof(got));
    cr_expect_eq(memcmp(a, &want, sizeof(want)), 0, "address %s, want %s", got, text);
}

/* Compares every decoder counter and event counter with want. */
static void expect_stats(const struct vg_decode_stats *want)
{
#define VG_T_CHK(name)                                                                             \
    cr_expect_eq(st.name, want->name, "counter " #name ": got %llu, want %llu",                    \
                 (unsigned long long)st.name, (unsigned long long)want->name);
    VG_DECODE_COUNTERS(VG_T_CHK)
#undef VG_T_CHK
    cr_expect_eq(st.max_pkt_size, want->max_pkt_size, "max_pkt_size: got %llu, want %llu",
                 (unsigned long long)st.max_pkt_size, (unsigned long long)want->max_pkt_size);
    for (unsigned i = 0; i < VG_EV__COUNT; i++)
        cr_expect_eq(st.events[i], want->events[i], "event %s: got %llu, want %llu",
                     decode_event_name(i), (unsigned long long)st.events[i],
                     (unsigned long long)want->events[i]);
}

/* The counters every one-packet test starts from. */
#define ONE_PKT .pkts = 1, .bytes = g.len, .max_pkt_size = g.len
#define STATS(...) (&(struct vg_decode_stats){ONE_PKT, __VA_ARGS__})

/* Common building blocks. */
static void ip4_tcp(const char *src, const char *dst)
{
    pg_ipv4(&g, src, dst, 6, 0x1111, 0x4000);
    pg_tcp(&g, 40000, 80, 1000, 0, VG_TH_SYN, 1024);
}

static void sll_hdr(uint16_t proto)
{
    static const uint8_t addr[8] = {0x00, 0x1b, 0x21, 0x01, 0x02, 0x03, 0, 0};
    pg_u16(&g, 0); /* to us */
    pg_u16(&g, 1); /* ARPHRD_ETHER */
    pg_u16(&g, 6);
    pg_bytes(&g, addr, 8);
    pg_u16(&g, proto);
}

static void sll2_hdr(uint16_t proto)
{
    static const uint8_t addr[8] = {0x00, 0x1b, 0x21, 0x01, 0x02, 0x03, 0, 0};
    pg_u16(&g, proto);
    pg_u16(&g, 0); /* reserved */
    pg_u32(&g, 3); /* interface index */
    pg_u16(&g, 1); /* ARPHRD_ETHER */
    pg_u8(&g, 0);  /* to us */
    pg_u8(&g, 6);
    pg_bytes(&g, addr, 8);
}

static void null_hdr(uint32_t family, int big_endian)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(family >> (big_endian ? 24 - 8 * i : 8 * i));
    pg_bytes(&g, b, 4);
}

/* Set by builders that finish the packet themselves to patch it afterwards. */
static int self_finished;

static void finish_now(void)
{
    pg_finish(&g);
    self_finished = 1;
}

static void fill(size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        pg_u8(&g, v);
}

static void put16(size_t off, uint16_t v)
{
    g.b[off] = (uint8_t)(v >> 8);
    g.b[off + 1] = (uint8_t)v;
}

/* ---------------------------------------------------------------------------------------------
 * Layers
 */

Test(decode, ethernet_ipv4_tcp)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "192.168.1.10", "10.0.0.1", 6, 0x1234, 0x4000);
    pg_tcp(&g, 40000, 80, 0x01020304, 0x0a0b0c0d, VG_TH_PUSH | VG_TH_ACK, 512);
    pg_bytes(&g, "hello", 5);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_HAS_PORTS);
    cr_expect_eq(pk.ip_ver, 4);
    cr_expect_eq(pk.ttl, 64);
    cr_expect_eq(pk.proto, 6);
    cr_expect_eq(pk.ip_tos, 0);
    expect_addr(&pk.src, "192.168.1.10");
    expect_addr(&pk.dst, "10.0.0.1");
    cr_expect_eq(pk.l3_off, 14);
    cr_expect_eq(pk.l3_len, 45);
    cr_expect_eq(pk.l4_off, 34);
    cr_expect_eq(pk.payload_off, 54);
    cr_expect_eq(pk.payload_len, 5);
    cr_expect_eq(memcmp(vg_pkt_payload(&pk), "hello", 5), 0);
    cr_expect_eq(pk.sp, 40000);
    cr_expect_eq(pk.dp, 80);
    cr_expect_eq(pk.tcp_flags, VG_TH_PUSH | VG_TH_ACK);
    cr_expect_eq(pk.tcp_seq, 0x01020304);
    cr_expect_eq(pk.tcp_ack, 0x0a0b0c0d);
    cr_expect_eq(pk.tcp_win, 512);
    cr_expect_eq(pk.vlan_cnt, 0);
    cr_expect_eq(pk.tunnel_depth, 0);
    cr_expect_eq(pk.nevents, 0);
    cr_expect_eq(pk.frag_id, 0);
    cr_expect_eq(pk.flow_hash, 0);
    expect_stats(STATS(.ethernet = 1, .ipv4 = 1, .tcp = 1));
}

Test(decode, link_padding_is_not_payload)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 6, 1, 0);
    pg_tcp(&g, 1, 2, 3, 4, VG_TH_ACK, 5);
    pg_finish(&g);
    fill(6, 0); /* Ethernet pads short frames to 60 bytes */
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.l3_len, 40);
    cr_expect_eq(pk.payload_off, 54);
    cr_expect_eq(pk.payload_len, 0);
    cr_expect_null(vg_pkt_payload(&pk));
}

Test(decode, ipv4_valid_options)
{
    static const uint8_t opts[12] = {
        7,   7, 4, 0, 0, 0, 0, /* record route, one empty slot */
        1,                     /* NOP */
        148, 4, 0, 0,          /* router alert */
    };
    pg_eth(&g, 0x0800);
    pg_ipv4_opts(&g, "10.1.1.1", "10.2.2.2", 17, 7, opts, sizeof(opts));
    pg_udp(&g, 5000, 53);
    pg_bytes(&g, "abcd", 4);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_HAS_PORTS | VG_PKT_IPV4_OPTS);
    cr_expect_eq(pk.nevents, 0);
    cr_expect_eq(pk.l3_off, 14);
    cr_expect_eq(pk.l4_off, 14 + 32);
    cr_expect_eq(pk.payload_off, 14 + 32 + 8);
    cr_expect_eq(pk.payload_len, 4);
    cr_expect_eq(pk.sp, 5000);
    cr_expect_eq(pk.dp, 53);
    expect_addr(&pk.src, "10.1.1.1");
    expect_stats(STATS(.ethernet = 1, .ipv4 = 1, .udp = 1));
}

Test(decode, ipv6_extension_headers)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 0);
    pg_ipv6_ext(&g, 0, 43);  /* hop-by-hop */
    pg_ipv6_ext(&g, 43, 60); /* routing type 2 */
    pg_ipv6_ext(&g, 60, 6);  /* destination options */
    pg_tcp(&g, 1234, 443, 77, 0, VG_TH_SYN, 1000);
    pg_bytes(&g, "xyz", 3);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_HAS_PORTS);
    cr_expect_eq(pk.nevents, 0);
    cr_expect_eq(pk.ip_ver, 6);
    cr_expect_eq(pk.ttl, 64);
    cr_expect_eq(pk.proto, 6);
    expect_addr(&pk.src, "2001:db8::1");
    expect_addr(&pk.dst, "2001:db8::2");
    cr_expect_eq(pk.l3_off, 14);
    cr_expect_eq(pk.l3_len, 40 + 24 + 20 + 3);
    cr_expect_eq(pk.l4_off, 14 + 40 + 24);
    cr_expect_eq(pk.payload_off, 14 + 40 + 24 + 20);
    cr_expect_eq(pk.payload_len, 3);
    cr_expect_eq(pk.sp, 1234);
    cr_expect_eq(pk.dp, 443);
    cr_expect_eq(pk.tcp_seq, 77);
    cr_expect_eq(pk.tcp_flags, VG_TH_SYN);
    expect_stats(STATS(.ethernet = 1, .ipv6 = 1, .tcp = 1));
}

Test(decode, tcp_valid_options)
{
    static const uint8_t opts[20] = {
        2, 4,  0x05, 0xb4,                   /* MSS 1460 */
        4, 2,                                /* SACK permitted */
        8, 10, 0,    0,    0, 1, 0, 0, 0, 0, /* timestamps */
        1,                                   /* NOP */
        3, 3,  7,                            /* window scale */
    };
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 6, 1, 0x4000);
    pg_tcp_opts(&g, 50000, 22, 0xfffffff0, 0, VG_TH_SYN, opts, sizeof(opts));
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.nevents, 0);
    cr_expect_eq(pk.l4_off, 34);
    cr_expect_eq(pk.payload_off, 34 + 40);
    cr_expect_eq(pk.payload_len, 0);
    cr_expect_eq(pk.tcp_seq, 0xfffffff0);
    cr_expect_eq(pk.tcp_win, 65535);
    cr_expect_eq(pk.sp, 50000);
    cr_expect_eq(pk.dp, 22);
    expect_stats(STATS(.ethernet = 1, .ipv4 = 1, .tcp = 1));
}

Test(decode, udp)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 17, 1, 0);
    pg_udp(&g, 53, 33333);
    fill(100, 0xab);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_HAS_PORTS);
    cr_expect_eq(pk.proto, 17);
    cr_expect_eq(pk.sp, 53);
    cr_expect_eq(pk.dp, 33333);
    cr_expect_eq(pk.l4_off, 34);
    cr_expect_eq(pk.payload_off, 42);
    cr_expect_eq(pk.payload_len, 100);
    cr_expect_eq(pk.tcp_flags, 0);
    expect_stats(STATS(.ethernet = 1, .ipv4 = 1, .udp = 1));
}

Test(decode, icmpv4_echo)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 1, 1, 0);
    pg_icmp4(&g, 8, 0, 0x99, 1);
    fill(56, 0x11);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, 0);
    cr_expect_eq(pk.proto, 1);
    cr_expect_eq(pk.icmp_type, 8);
    cr_expect_eq(pk.icmp_code, 0);
    cr_expect_eq(pk.sp, 0);
    cr_expect_eq(pk.dp, 0);
    cr_expect_eq(pk.l4_off, 34);
    cr_expect_eq(pk.payload_off, 42);
    cr_expect_eq(pk.payload_len, 56);
    cr_expect_eq(pk.nevents, 0);
    expect_stats(STATS(.ethernet = 1, .ipv4 = 1, .icmpv4 = 1));
}

Test(decode, icmpv6_echo)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "fe80::1", "ff02::1", 58);
    pg_icmp6(&g, 128, 0, 7, 1);
    fill(8, 0x22);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, 0);
    cr_expect_eq(pk.ip_ver, 6);
    cr_expect_eq(pk.proto, 58);
    cr_expect_eq(pk.icmp_type, 128);
    cr_expect_eq(pk.icmp_code, 0);
    cr_expect_eq(pk.l4_off, 54);
    cr_expect_eq(pk.payload_off, 62);
    cr_expect_eq(pk.payload_len, 8);
    cr_expect_eq(pk.nevents, 0);
    expect_addr(&pk.dst, "ff02::1");
    expect_stats(STATS(.ethernet = 1, .ipv6 = 1, .icmpv6 = 1));
}

Test(decode, sctp_ports)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 132, 1, 0);
    pg_u16(&g, 2905);
    pg_u16(&g, 3868);
    pg_u32(&g, 0);
    pg_u32(&g, 0);
    fill(4, 0);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_HAS_PORTS);
    cr_expect_eq(pk.sp, 2905);
    cr_expect_eq(pk.dp, 3868);
    cr_expect_eq(pk.payload_off, 34 + 12);
    cr_expect_eq(pk.payload_len, 4);
    expect_stats(STATS(.ethernet = 1, .ipv4 = 1, .sctp = 1));
}

Test(decode, vlan_8021q)
{
    pg_eth(&g, 0x8100);
    pg_vlan(&g, 100, 0x0800);
    ip4_tcp("10.0.0.1", "10.0.0.2");
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.vlan_cnt, 1);
    cr_expect_eq(pk.vlan_id[0], 100);
    cr_expect_eq(pk.vlan_id[1], 0);
    cr_expect_eq(pk.l3_off, 18);
    cr_expect_eq(pk.l4_off, 38);
    cr_expect_eq(pk.dp, 80);
    expect_stats(STATS(.ethernet = 1, .vlan = 1, .ipv4 = 1, .tcp = 1));
}

static void case_vlan_qinq(void)
{
    pg_eth(&g, 0x88a8);
    pg_vlan(&g, 10, 0x8100);
    pg_vlan(&g, 4000, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 17);
    pg_udp(&g, 1, 2);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.vlan_cnt, 2);
    cr_expect_eq(pk.vlan_id[0], 10);
    cr_expect_eq(pk.vlan_id[1], 4000);
    cr_expect_eq(pk.l3_off, 22);
    cr_expect_eq(pk.l4_off, 62);
    cr_expect_eq(pk.ip_ver, 6);
    cr_expect_eq(pk.flags, VG_PKT_HAS_PORTS);
    expect_stats(STATS(.ethernet = 1, .vlan = 1, .vlan_qinq = 1, .ipv6 = 1, .udp = 1));
}

static void case_vlan_three_tags(void)
{
    pg_eth(&g, 0x9100);
    pg_vlan(&g, 1, 0x88a8);
    pg_vlan(&g, 2, 0x8100);
    pg_vlan(&g, 3, 0x0800);
    ip4_tcp("10.0.0.1", "10.0.0.2");
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.vlan_cnt, 3);
    cr_expect_eq(pk.vlan_id[0], 1);
    cr_expect_eq(pk.vlan_id[1], 2);
    cr_expect_eq(pk.vlan_id[2], 3);
    expect_stats(STATS(.ethernet = 1, .vlan = 1, .vlan_qinq = 2, .ipv4 = 1, .tcp = 1));
}

Test(decode, vlan_qinq_and_three_tags)
{
    case_vlan_qinq();
    reset();
    case_vlan_three_tags();
}

static void case_mpls_label_stack(void)
{
    pg_eth(&g, 0x8847);
    pg_mpls(&g, 100, 0);
    pg_mpls(&g, 200, 0);
    pg_mpls(&g, 300, 1);
    ip4_tcp("10.9.9.1", "10.9.9.2");
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.ip_ver, 4);
    cr_expect_eq(pk.l3_off, 14 + 12);
    cr_expect_eq(pk.l4_off, 14 + 12 + 20);
    expect_addr(&pk.src, "10.9.9.1");
    cr_expect_eq(pk.flags, VG_PKT_HAS_PORTS);
    expect_stats(STATS(.ethernet = 1, .mpls = 1, .ipv4 = 1, .tcp = 1));
}

static void case_mpls_explicit_null_ipv4(void)
{
    pg_eth(&g, 0x8847);
    pg_mpls(&g, 0, 1);
    ip4_tcp("10.9.9.1", "10.9.9.2");
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.ip_ver, 4);
    cr_expect_eq(pk.l3_off, 18);
    expect_stats(STATS(.ethernet = 1, .mpls = 1, .ipv4 = 1, .tcp = 1));
}

static void case_mpls_explicit_null_ipv6(void)
{
    pg_eth(&g, 0x8847);
    pg_mpls(&g, 55, 0);
    pg_mpls(&g, 2, 1);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 17);
    pg_udp(&g, 1, 2);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.ip_ver, 6);
    cr_expect_eq(pk.l3_off, 22);
    cr_expect_eq(pk.l4_off, 62);
    expect_stats(STATS(.ethernet = 1, .mpls = 1, .ipv6 = 1, .udp = 1));
}

static void case_mpls_pseudowire_ethernet(void)
{
    pg_eth(&g, 0x8847);
    pg_mpls(&g, 1000, 1);
    pg_u32(&g, 0); /* control word */
    pg_eth(&g, 0x0800);
    ip4_tcp("10.9.9.1", "10.9.9.2");
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.l3_off, 14 + 4 + 4 + 14);
    cr_expect_eq(pk.ip_ver, 4);
    expect_stats(STATS(.ethernet = 2, .mpls = 1, .ipv4 = 1, .tcp = 1));
}

Test(decode, mpls)
{
    case_mpls_label_stack();
    reset();
    case_mpls_explicit_null_ipv4();
    reset();
    case_mpls_explicit_null_ipv6();
    reset();
    case_mpls_pseudowire_ethernet();
}

static void case_gre_ipv4(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "192.0.2.1", "192.0.2.2", 47, 1, 0);
    pg_gre(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 6, 2, 0);
    pg_tcp(&g, 1111, 2222, 5, 6, VG_TH_RST, 0);
    pg_bytes(&g, "in", 2);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_TUNNEL | VG_PKT_HAS_PORTS);
    cr_expect_eq(pk.tunnel_depth, 1);
    cr_expect_eq(pk.ip_ver, 4);
    cr_expect_eq(pk.proto, 6);
    expect_addr(&pk.src, "10.0.0.1");
    expect_addr(&pk.dst, "10.0.0.2");
    cr_expect_eq(pk.l3_off, 14 + 20 + 4);
    cr_expect_eq(pk.l3_len, 42);
    cr_expect_eq(pk.l4_off, 14 + 20 + 4 + 20);
    cr_expect_eq(pk.payload_off, 14 + 20 + 4 + 40);
    cr_expect_eq(pk.payload_len, 2);
    cr_expect_eq(pk.sp, 1111);
    cr_expect_eq(pk.dp, 2222);
    cr_expect_eq(pk.tcp_flags, VG_TH_RST);
    cr_expect_eq(pk.nevents, 0);
    expect_stats(STATS(.ethernet = 1, .ipv4 = 2, .gre = 1, .tcp = 1));
}

static void case_gre_key_and_sequence(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "192.0.2.1", "192.0.2.2", 47, 1, 0);
    pg_u16(&g, 0x3000); /* key and sequence present */
    pg_u16(&g, 0x86dd);
    pg_u32(&g, 42);
    pg_u32(&g, 7);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 17);
    pg_udp(&g, 9, 10);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_TUNNEL | VG_PKT_HAS_PORTS);
    cr_expect_eq(pk.ip_ver, 6);
    cr_expect_eq(pk.l3_off, 14 + 20 + 12);
    cr_expect_eq(pk.dp, 10);
    expect_stats(STATS(.ethernet = 1, .ipv4 = 1, .ipv6 = 1, .gre = 1, .udp = 1));
}

Test(decode, gre)
{
    case_gre_ipv4();
    reset();
    case_gre_key_and_sequence();
}

static void case_gre_transparent_ethernet(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "192.0.2.1", "192.0.2.2", 47, 1, 0);
    pg_gre(&g, 0x6558);
    pg_eth(&g, 0x8100);
    pg_vlan(&g, 33, 0x0800);
    pg_ipv4(&g, "10.0.0.5", "10.0.0.6", 17, 2, 0);
    pg_udp(&g, 68, 67);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_TUNNEL | VG_PKT_HAS_PORTS);
    cr_expect_eq(pk.tunnel_depth, 1);
    expect_addr(&pk.src, "10.0.0.5");
    cr_expect_eq(pk.vlan_cnt, 1);
    cr_expect_eq(pk.vlan_id[0], 33);
    cr_expect_eq(pk.l3_off, 14 + 20 + 4 + 14 + 4);
    cr_expect_eq(pk.sp, 68);
    cr_expect_eq(pk.dp, 67);
    expect_stats(STATS(.ethernet = 2, .vlan = 1, .ipv4 = 2, .gre = 1, .udp = 1));
}

static void case_gre_transparent_ethernet_not_ip_keeps_outer(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "192.0.2.1", "192.0.2.2", 47, 1, 0);
    pg_gre(&g, 0x6558);
    pg_eth(&g, 0x0806); /* ARP */
    fill(28, 0);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, 0);
    cr_expect_eq(pk.tunnel_depth, 0);
    expect_addr(&pk.src, "192.0.2.1");
    cr_expect_eq(pk.proto, 47);
    cr_expect_eq(pk.payload_off, 14 + 20 + 4);
    cr_expect_eq(pk.payload_len, 14 + 28);
    expect_stats(STATS(.ethernet = 2, .ipv4 = 1, .gre = 1));
}

Test(decode, gre_transparent_ethernet_bridging)
{
    case_gre_transparent_ethernet();
    reset();
    case_gre_transparent_ethernet_not_ip_keeps_outer();
}

static void case_vxlan(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "192.0.2.1", "192.0.2.2", 17, 1, 0);
    pg_udp(&g, 54321, 4789);
    pg_vxlan(&g, 4242);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.1.0.1", "10.1.0.2", 6, 2, 0x4000);
    pg_tcp(&g, 3333, 8080, 9, 0, VG_TH_SYN, 100);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_TUNNEL | VG_PKT_HAS_PORTS);
    cr_expect_eq(pk.tunnel_depth, 1);
    expect_addr(&pk.src, "10.1.0.1");
    expect_addr(&pk.dst, "10.1.0.2");
    cr_expect_eq(pk.proto, 6);
    cr_expect_eq(pk.sp, 3333);
    cr_expect_eq(pk.dp, 8080);
    cr_expect_eq(pk.tcp_flags, VG_TH_SYN);
    cr_expect_eq(pk.l3_off, 14 + 20 + 8 + 8 + 14);
    cr_expect_eq(pk.l4_off, 14 + 20 + 8 + 8 + 14 + 20);
    cr_expect_eq(pk.payload_len, 0);
    expect_stats(STATS(.ethernet = 2, .ipv4 = 2, .udp = 1, .vxlan = 1, .tcp = 1));
}

static void case_vxlan_port_without_vxlan_header_is_udp(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "192.0.2.1", "192.0.2.2", 17, 1, 0);
    pg_udp(&g, 54321, 4789);
    fill(30, 0x01); /* the I flag is not set */
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_HAS_PORTS);
    cr_expect_eq(pk.payload_len, 30);
    expect_stats(STATS(.ethernet = 1, .ipv4 = 1, .udp = 1));
}

Test(decode, vxlan_and_plain_udp_4789)
{
    case_vxlan();
    reset();
    case_vxlan_port_without_vxlan_header_is_udp();
}

static void case_ipv4_in_ipv4(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "192.0.2.1", "192.0.2.2", 4, 1, 0);
    ip4_tcp("10.0.0.1", "10.0.0.2");
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_TUNNEL | VG_PKT_HAS_PORTS);
    cr_expect_eq(pk.tunnel_depth, 1);
    expect_addr(&pk.src, "10.0.0.1");
    cr_expect_eq(pk.l3_off, 34);
    cr_expect_eq(pk.l4_off, 54);
    expect_stats(STATS(.ethernet = 1, .ipv4 = 2, .ipv4_in_ipv4 = 1, .tcp = 1));
}

static void case_ipv6_in_ipv4(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "192.0.2.1", "192.0.2.2", 41, 1, 0);
    pg_ipv6(&g, "2001:db8::10", "2001:db8::20", 6);
    pg_tcp(&g, 5, 6, 7, 8, VG_TH_FIN | VG_TH_ACK, 9);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_TUNNEL | VG_PKT_HAS_PORTS);
    cr_expect_eq(pk.tunnel_depth, 1);
    cr_expect_eq(pk.ip_ver, 6);
    expect_addr(&pk.src, "2001:db8::10");
    expect_addr(&pk.dst, "2001:db8::20");
    cr_expect_eq(pk.tcp_flags, VG_TH_FIN | VG_TH_ACK);
    cr_expect_eq(pk.l3_off, 34);
    cr_expect_eq(pk.l4_off, 74);
    expect_stats(STATS(.ethernet = 1, .ipv4 = 1, .ipv6 = 1, .ipv6_in_ipv4 = 1, .tcp = 1));
}

static void case_ipv4_and_ipv6_in_ipv6(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 41);
    pg_ipv6(&g, "2001:db8::3", "2001:db8::4", 4);
    ip4_tcp("10.0.0.1", "10.0.0.2");
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_TUNNEL | VG_PKT_HAS_PORTS);
    cr_expect_eq(pk.tunnel_depth, 2);
    cr_expect_eq(pk.ip_ver, 4);
    expect_addr(&pk.src, "10.0.0.1");
    cr_expect_eq(pk.l3_off, 14 + 80);
    expect_stats(
        STATS(.ethernet = 1, .ipv6 = 2, .ipv4 = 1, .ipv6_in_ipv6 = 1, .ipv4_in_ipv6 = 1, .tcp = 1));
}

Test(decode, ip_in_ip)
{
    case_ipv4_in_ipv4();
    reset();
    case_ipv6_in_ipv4();
    reset();
    case_ipv4_and_ipv6_in_ipv6();
}

static void case_gre_malformed_inner_keeps_outer(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "192.0.2.1", "192.0.2.2", 47, 1, 0);
    pg_gre(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 6, 2, 0);
    pg_tcp(&g, 1, 2, 3, 4, VG_TH_SYN, 5);
    pg_finish(&g);
    g.b[14 + 20 + 4 + 20 + 12] = 0x30; /* inner TCP data offset 12 bytes: too small */
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, 0);
    cr_expect_eq(pk.tunnel_depth, 0);
    cr_expect_eq(pk.ip_ver, 4);
    cr_expect_eq(pk.proto, 47);
    expect_addr(&pk.src, "192.0.2.1");
    expect_addr(&pk.dst, "192.0.2.2");
    cr_expect_eq(pk.sp, 0);
    cr_expect_eq(pk.tcp_flags, 0);
    cr_expect_eq(pk.l3_off, 14);
    cr_expect_eq(pk.l4_off, 34);
    cr_expect_eq(pk.payload_off, 38);
    cr_expect_eq(pk.payload_len, 40);
    cr_expect(decode_has_event(&pk, VG_EV_TCP_HLEN_TOO_SMALL));
    cr_expect_eq(pk.nevents, 1);
    expect_stats(STATS(.ethernet = 1, .ipv4 = 2, .gre = 1, .events[VG_EV_TCP_HLEN_TOO_SMALL] = 1));
}

static void case_gre_truncated_inner_ip_keeps_outer(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "192.0.2.1", "192.0.2.2", 47, 1, 0);
    pg_gre(&g, 0x0800);
    fill(10, 0x45);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, 0);
    expect_addr(&pk.src, "192.0.2.1");
    cr_expect(decode_has_event(&pk, VG_EV_IPV4_PKT_TOO_SMALL));
    expect_stats(STATS(.ethernet = 1, .ipv4 = 1, .gre = 1, .events[VG_EV_IPV4_PKT_TOO_SMALL] = 1));
}

Test(decode, gre_malformed_inner_keeps_outer_packet)
{
    case_gre_malformed_inner_keeps_outer();
    reset();
    case_gre_truncated_inner_ip_keeps_outer();
}

/* Builds Ethernet and n nested IPv4-in-IPv4 tunnels around TCP: n + 1 IPv4 headers. */
static void nested_ipip(int n)
{
    char src[32], dst[32];
    pg_eth(&g, 0x0800);
    for (int i = 0; i <= n; i++) {
        snprintf(src, sizeof(src), "10.0.%d.1", i);
        snprintf(dst, sizeof(dst), "10.0.%d.2", i);
        pg_ipv4(&g, src, dst, i < n ? 4 : 6, (uint16_t)i, 0);
    }
    pg_tcp(&g, 1, 2, 3, 4, VG_TH_SYN, 5);
    pg_finish(&g);
}

static void case_tunnel_nesting_at_limit(void)
{
    nested_ipip(4);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_TUNNEL | VG_PKT_HAS_PORTS);
    cr_expect_eq(pk.tunnel_depth, 4);
    expect_addr(&pk.src, "10.0.4.1");
    cr_expect_eq(pk.nevents, 0);
    expect_stats(STATS(.ethernet = 1, .ipv4 = 5, .ipv4_in_ipv4 = 4, .tcp = 1));
}

static void case_tunnel_nesting_too_deep(void)
{
    nested_ipip(5);
    /*
     * The fifth tunnel is refused. The IPv4 header that carries it is treated as a malformed
     * inner packet, so the packet keeps the layers of the third tunnel and stays valid.
     */
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect(decode_has_event(&pk, VG_EV_TOO_MANY_LAYERS));
    cr_expect_eq(pk.flags, VG_PKT_TUNNEL);
    cr_expect_eq(pk.tunnel_depth, 3);
    expect_addr(&pk.src, "10.0.3.1");
    cr_expect_eq(pk.proto, 4);
    expect_stats(
        STATS(.ethernet = 1, .ipv4 = 5, .ipv4_in_ipv4 = 5, .events[VG_EV_TOO_MANY_LAYERS] = 1));
}

static void case_gre_nesting_too_deep(void)
{
    pg_eth(&g, 0x0800);
    for (int i = 0; i < 6; i++) {
        pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 47, (uint16_t)i, 0);
        pg_gre(&g, 0x0800);
    }
    ip4_tcp("10.0.0.1", "10.0.0.2");
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect(decode_has_event(&pk, VG_EV_TOO_MANY_LAYERS));
    cr_expect_leq(pk.tunnel_depth, 4);
    cr_expect_eq(st.events[VG_EV_TOO_MANY_LAYERS], 1);
}

Test(decode, tunnel_nesting_limit)
{
    case_tunnel_nesting_at_limit();
    reset();
    case_tunnel_nesting_too_deep();
    reset();
    case_gre_nesting_too_deep();
}

/* ---------------------------------------------------------------------------------------------
 * Link types
 */

static void case_linux_sll(void)
{
    sll_hdr(0x0800);
    ip4_tcp("10.0.0.1", "10.0.0.2");
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_LINUX_SLL), 0);
    cr_expect_eq(pk.l3_off, 16);
    cr_expect_eq(pk.l4_off, 36);
    cr_expect_eq(pk.dp, 80);
    expect_stats(STATS(.sll = 1, .ipv4 = 1, .tcp = 1));
}

static void case_linux_sll2(void)
{
    sll2_hdr(0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 17);
    pg_udp(&g, 1, 2);
    pg_finish(&g);
    cr_assert_eq(DLT_LINUX_SLL2, 276);
    cr_assert_eq(decode_g(DLT_LINUX_SLL2), 0);
    cr_expect_eq(pk.ip_ver, 6);
    cr_expect_eq(pk.l3_off, 20);
    cr_expect_eq(pk.l4_off, 60);
    expect_stats(STATS(.sll2 = 1, .ipv6 = 1, .udp = 1));
}

Test(decode, linux_sll_and_sll2)
{
    case_linux_sll();
    reset();
    case_linux_sll2();
}

static void case_raw_ipv4(void)
{
    ip4_tcp("10.0.0.1", "10.0.0.2");
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_RAW), 0);
    cr_expect_eq(pk.l3_off, 0);
    cr_expect_eq(pk.l4_off, 20);
    cr_expect_eq(pk.ip_ver, 4);
    expect_stats(STATS(.raw = 1, .ipv4 = 1, .tcp = 1));
}

static void case_raw_ipv6(void)
{
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 6);
    pg_tcp(&g, 1, 2, 3, 4, VG_TH_SYN, 5);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_RAW), 0);
    cr_expect_eq(pk.l3_off, 0);
    cr_expect_eq(pk.l4_off, 40);
    cr_expect_eq(pk.ip_ver, 6);
    expect_stats(STATS(.raw = 1, .ipv6 = 1, .tcp = 1));
}

static void case_raw_ipv4_ipv6_link_types(void)
{
    ip4_tcp("10.0.0.1", "10.0.0.2");
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_IPV4), 0);
    cr_expect_eq(pk.ip_ver, 4);
    cr_assert_eq(decode_g(DLT_IPV6), 0); /* the version nibble decides */
    cr_expect_eq(pk.ip_ver, 4);
    cr_expect_eq(st.raw, 2);
}

Test(decode, raw_ip)
{
    case_raw_ipv4();
    reset();
    case_raw_ipv6();
    reset();
    case_raw_ipv4_ipv6_link_types();
}

static void case_null_af_inet_both_byte_orders(void)
{
    null_hdr(2, 0);
    ip4_tcp("10.0.0.1", "10.0.0.2");
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_NULL), 0);
    cr_expect_eq(pk.l3_off, 4);
    cr_expect_eq(pk.ip_ver, 4);
    g.b[0] = 0;
    g.b[3] = 2; /* captured on a big-endian machine */
    cr_assert_eq(decode_g(DLT_NULL), 0);
    cr_expect_eq(pk.l3_off, 4);
    cr_expect_eq(pk.ip_ver, 4);
    cr_expect_eq(pk.dp, 80);
    cr_expect_eq(st.null, 2);
    cr_expect_eq(st.ipv4, 2);
    cr_expect_eq(st.tcp, 2);
    cr_expect_eq(st.invalid, 0);
}

static void case_null_af_inet6_values(void)
{
    static const uint32_t fams[] = {10, 24, 28, 30};
    for (size_t i = 0; i < VG_ARRAY_LEN(fams); i++) {
        for (int be = 0; be < 2; be++) {
            pg_init(&g);
            null_hdr(fams[i], be);
            pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 17);
            pg_udp(&g, 1, 2);
            pg_finish(&g);
            cr_assert_eq(decode_g(DLT_NULL), 0, "family %u be %d", fams[i], be);
            cr_expect_eq(pk.ip_ver, 6);
            cr_expect_eq(pk.l3_off, 4);
            cr_expect_eq(pk.dp, 2);
        }
    }
    cr_expect_eq(st.null, 8);
    cr_expect_eq(st.ipv6, 8);
    cr_expect_eq(st.udp, 8);
    cr_expect_eq(st.pkts, 8);
}

static void case_loop_network_order(void)
{
    null_hdr(2, 1);
    ip4_tcp("10.0.0.1", "10.0.0.2");
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_LOOP), 0);
    cr_expect_eq(pk.ip_ver, 4);
    cr_expect_eq(pk.l3_off, 4);
    pg_init(&g);
    null_hdr(24, 1);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 59);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_LOOP), 0);
    cr_expect_eq(pk.ip_ver, 6);
    cr_expect_eq(pk.proto, 59);
    g.b[0] = 24; /* little-endian is not DLT_LOOP */
    g.b[3] = 0;
    cr_assert_eq(decode_g(DLT_LOOP), -1);
    cr_expect(decode_has_event(&pk, VG_EV_LTNULL_UNSUPPORTED_TYPE));
    cr_expect_eq(st.null, 3);
    cr_expect_eq(st.invalid, 1);
}

Test(decode, null_and_loop)
{
    case_null_af_inet_both_byte_orders();
    reset();
    case_null_af_inet6_values();
    reset();
    case_loop_network_order();
}

static void case_unsupported_link_type(void)
{
    ip4_tcp("10.0.0.1", "10.0.0.2");
    pg_finish(&g);
    cr_assert_eq(decode_g(9 /* DLT_PPP */), -1);
    cr_expect_eq(pk.flags, VG_PKT_INVALID);
    cr_expect_eq(pk.ip_ver, 0);
    cr_expect(decode_has_event(&pk, VG_EV_UNSUPPORTED_LINKTYPE));
    expect_stats(STATS(.invalid = 1, .events[VG_EV_UNSUPPORTED_LINKTYPE] = 1));
}

static void case_datalink_supported(void)
{
    static const int yes[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2,
                              DLT_RAW,    DLT_IPV4,      DLT_IPV6,
                              DLT_NULL,   DLT_LOOP,      VG_DLT_REASSEMBLED};
    for (size_t i = 0; i < VG_ARRAY_LEN(yes); i++)
        cr_expect_eq(decode_datalink_supported(yes[i]), 1, "dlt %d", yes[i]);
    cr_expect_eq(decode_datalink_supported(9), 0);
    cr_expect_eq(decode_datalink_supported(127), 0);
    cr_expect_eq(decode_datalink_supported(-1), 0);
}

Test(decode, link_types_supported_or_not)
{
    case_unsupported_link_type();
    reset();
    case_datalink_supported();
}

Test(decode, reassembled_not_counted_again)
{
    ip4_tcp("10.0.0.1", "10.0.0.2");
    pg_finish(&g);
    pk.flags = VG_PKT_REASSEMBLED;
    free(pkbuf);
    pkbuf = malloc(g.len);
    memcpy(pkbuf, g.b, g.len);
    pk.data = pkbuf;
    pk.caplen = pk.wirelen = (uint32_t)g.len;
    pk.datalink = VG_DLT_REASSEMBLED;
    cr_assert_eq(decode_packet(&st, &pk), 0);
    cr_expect_eq(pk.flags, VG_PKT_REASSEMBLED | VG_PKT_HAS_PORTS);
    struct vg_decode_stats want = {.ipv4 = 1, .tcp = 1};
    expect_stats(&want);
}

Test(decode, fields_reset_between_packets)
{
    pg_eth(&g, 0x8100);
    pg_vlan(&g, 7, 0x0800);
    pg_ipv4(&g, "192.0.2.1", "192.0.2.2", 47, 1, 0);
    pg_gre(&g, 0x0800);
    ip4_tcp("10.0.0.1", "10.0.0.2");
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_assert_eq(pk.tunnel_depth, 1);
    /* Decode an ARP frame into the same packet without going through decode_bytes' poison. */
    static const uint8_t arp[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0,
                                    1,    2,    3,    4,    5,    0x08, 0x06};
    pk.data = arp;
    pk.caplen = pk.wirelen = sizeof(arp);
    cr_assert_eq(decode_packet(&st, &pk), 0);
    struct vg_packet zero;
    memset(&zero, 0, sizeof(zero));
    cr_expect_eq(
        memcmp(&pk.vlan_id, &zero.vlan_id, sizeof(pk) - offsetof(struct vg_packet, vlan_id)), 0,
        "decoded fields not reset");
    cr_expect_eq(pk.flags, 0);
}

/* ---------------------------------------------------------------------------------------------
 * Fragments
 */

static void case_ipv4_fragment_more_fragments(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 17, 0x4242, 0x2000);
    pg_udp(&g, 1, 2); /* looks like UDP, but must not be decoded */
    fill(16, 0x33);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_FRAGMENT);
    cr_expect_eq(pk.frag_id, 0x4242);
    cr_expect_eq(pk.frag_offset, 0);
    cr_expect_eq(pk.frag_more, 1);
    cr_expect_eq(pk.frag_hdr_off, 14);
    cr_expect_eq(pk.frag_nh_off, 14 + 9);
    cr_expect_eq(pk.proto, 17);
    cr_expect_eq(pk.sp, 0);
    cr_expect_eq(pk.dp, 0);
    cr_expect_eq(pk.l4_off, 34);
    cr_expect_eq(pk.payload_off, 34);
    cr_expect_eq(pk.payload_len, 24);
    expect_stats(STATS(.ethernet = 1, .ipv4 = 1, .fragments = 1));
}

static void case_ipv4_fragment_with_offset(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 6, 0x0101, 0x0003); /* offset 24, last */
    fill(12, 0x44);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_FRAGMENT);
    cr_expect_eq(pk.frag_id, 0x0101);
    cr_expect_eq(pk.frag_offset, 24);
    cr_expect_eq(pk.frag_more, 0);
    cr_expect_eq(pk.proto, 6);
    cr_expect_eq(pk.tcp_flags, 0);
    cr_expect_eq(pk.payload_len, 12);
    expect_stats(STATS(.ethernet = 1, .ipv4 = 1, .fragments = 1));
}

Test(decode, ipv4_fragments)
{
    case_ipv4_fragment_more_fragments();
    reset();
    case_ipv4_fragment_with_offset();
}

static void case_ipv6_fragment_header(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 60);
    pg_ipv6_ext(&g, 60, 44);
    pg_ipv6_frag(&g, 17, 16, 1, 0xdeadbeef);
    fill(24, 0x55);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_FRAGMENT);
    cr_expect_eq(pk.ip_ver, 6);
    cr_expect_eq(pk.frag_id, 0xdeadbeef);
    cr_expect_eq(pk.frag_offset, 16);
    cr_expect_eq(pk.frag_more, 1);
    cr_expect_eq(pk.frag_hdr_off, 14 + 48);
    cr_expect_eq(pk.frag_nh_off, 14 + 40);
    cr_expect_eq(pk.proto, 17);
    cr_expect_eq(pk.l4_off, 14 + 56);
    cr_expect_eq(pk.payload_off, 14 + 56);
    cr_expect_eq(pk.payload_len, 24);
    cr_expect_eq(pk.nevents, 0);
    expect_stats(STATS(.ethernet = 1, .ipv6 = 1, .fragments = 1));
}

static void case_ipv6_fragment_header_directly_after_ipv6(void)
{
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 44);
    pg_ipv6_frag(&g, 6, 0, 1, 9);
    fill(8, 0x55);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_RAW), 0);
    cr_expect_eq(pk.flags, VG_PKT_FRAGMENT);
    cr_expect_eq(pk.frag_hdr_off, 40);
    cr_expect_eq(pk.frag_nh_off, 6);
    cr_expect_eq(pk.proto, 6);
    cr_expect_eq(pk.payload_len, 8);
}

Test(decode, ipv6_fragments)
{
    case_ipv6_fragment_header();
    reset();
    case_ipv6_fragment_header_directly_after_ipv6();
}

Test(decode, ipv6_atomic_fragment)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 44);
    pg_ipv6_frag(&g, 17, 0, 0, 77);
    pg_udp(&g, 1000, 2000);
    fill(4, 1);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.flags, VG_PKT_HAS_PORTS);
    cr_expect_eq(pk.frag_id, 0);
    cr_expect_eq(pk.proto, 17);
    cr_expect_eq(pk.l4_off, 14 + 48);
    cr_expect_eq(pk.payload_len, 4);
    cr_expect_eq(pk.dp, 2000);
    expect_stats(STATS(.ethernet = 1, .ipv6 = 1, .udp = 1));
}

/* ---------------------------------------------------------------------------------------------
 * Events and counters
 */

Test(decode, set_event_dedups_and_caps)
{
    for (unsigned ev = 1; ev <= VG_PKT_MAX_EVENTS + 3; ev++) {
        decode_set_event(&st, &pk, ev);
        decode_set_event(&st, &pk, ev);
    }
    decode_set_event(&st, &pk, VG_EV_NONE);
    decode_set_event(&st, &pk, VG_EV__COUNT);
    cr_expect_eq(pk.nevents, VG_PKT_MAX_EVENTS);
    for (unsigned ev = 1; ev <= VG_PKT_MAX_EVENTS + 3; ev++) {
        cr_expect_eq(st.events[ev], 2);
        cr_expect_eq(decode_has_event(&pk, ev), ev <= VG_PKT_MAX_EVENTS);
    }
    cr_expect_eq(st.events[VG_EV_NONE], 0);
}

Test(decode, event_names_round_trip)
{
    for (unsigned ev = 1; ev < VG_EV__COUNT; ev++) {
        const char *name = decode_event_name(ev);
        cr_assert_not_null(name);
        cr_expect_neq(strcmp(name, "unknown"), 0);
        cr_expect_eq(decode_event_lookup(name), ev, "%s", name);
        for (unsigned other = 1; other < ev; other++)
            cr_expect_neq(strcmp(name, decode_event_name(other)), 0, "duplicate %s", name);
    }
    cr_expect_str_eq(decode_event_name(VG_EV_IPV4_TRUNC_PKT), "ipv4.trunc_pkt");
    cr_expect_str_eq(decode_event_name(VG_EV_TOO_MANY_LAYERS), "too_many_layers");
    cr_expect_str_eq(decode_event_name(VG_EV_NONE), "none");
    cr_expect_str_eq(decode_event_name(VG_EV__COUNT), "unknown");
    cr_expect_str_eq(decode_event_name(100000), "unknown");
    cr_expect_eq(decode_event_lookup("ipv4.no_such_event"), VG_EV_NONE);
    cr_expect_eq(decode_event_lookup(""), VG_EV_NONE);
    cr_expect_eq(decode_event_lookup("none"), VG_EV_NONE);
    cr_expect_eq(decode_event_lookup("decoder.ipv4.trunc_pkt"), VG_EV_NONE);
}

Test(decode, stats_merge)
{
    struct vg_decode_stats a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    uint64_t v = 1;
#define VG_T_SET(name)                                                                             \
    a.name = v;                                                                                    \
    b.name = v * 1000;                                                                             \
    v++;
    VG_DECODE_COUNTERS(VG_T_SET)
#undef VG_T_SET
    for (unsigned i = 0; i < VG_EV__COUNT; i++) {
        a.events[i] = i;
        b.events[i] = 7 * i + 1;
    }
    a.max_pkt_size = 1500;
    b.max_pkt_size = 9000;
    struct vg_decode_stats sum = a;
    decode_stats_merge(&sum, &b);
    v = 1;
#define VG_T_CHK(name)                                                                             \
    cr_expect_eq(sum.name, v * 1001, #name);                                                       \
    v++;
    VG_DECODE_COUNTERS(VG_T_CHK)
#undef VG_T_CHK
    for (unsigned i = 0; i < VG_EV__COUNT; i++)
        cr_expect_eq(sum.events[i], 8 * i + 1, "%s", decode_event_name(i));
    cr_expect_eq(sum.max_pkt_size, 9000);
    /* The maximum is kept whichever side holds it. */
    struct vg_decode_stats sum2 = b;
    decode_stats_merge(&sum2, &a);
    cr_expect_eq(sum2.max_pkt_size, 9000);
    cr_expect_eq(sum2.pkts, 1001);
    /* Merging into empty stats copies. */
    struct vg_decode_stats empty;
    memset(&empty, 0, sizeof(empty));
    decode_stats_merge(&empty, &a);
    cr_expect_eq(memcmp(&empty, &a, sizeof(a)), 0);
}

/*
 * One case per decoder event the decoders raise: a builder that writes the packet into g, the
 * link type, how many bytes of the end are left uncaptured, and whether the packet is invalid.
 */
struct ev_case {
    unsigned ev;
    const char *sym;
    void (*build)(void);
    uint32_t dlt;
    uint32_t cut;
    int invalid;
};

static void b_eth_too_small(void)
{
    fill(13, 0);
}
static void b_eth_unknown_type(void)
{
    pg_eth(&g, 0x1234);
    fill(20, 0);
}
static void b_sll_too_small(void)
{
    fill(15, 0);
}
static void b_sll2_too_small(void)
{
    fill(19, 0);
}
static void b_null_too_small(void)
{
    fill(3, 2);
}
static void b_null_unsupported(void)
{
    null_hdr(7, 0);
    ip4_tcp("10.0.0.1", "10.0.0.2");
}
static void b_raw_bad_version(void)
{
    ip4_tcp("10.0.0.1", "10.0.0.2");
    finish_now();
    g.b[0] = 0x55;
}
static void b_vlan_too_small(void)
{
    pg_eth(&g, 0x8100);
    fill(3, 0);
}
static void b_vlan_unknown_type(void)
{
    pg_eth(&g, 0x8100);
    pg_vlan(&g, 5, 0x1234);
    fill(20, 0);
}
static void b_vlan_too_many(void)
{
    pg_eth(&g, 0x8100);
    pg_vlan(&g, 1, 0x8100);
    pg_vlan(&g, 2, 0x8100);
    pg_vlan(&g, 3, 0x8100);
    pg_vlan(&g, 4, 0x0800);
    ip4_tcp("10.0.0.1", "10.0.0.2");
}
static void b_mpls_hdr_too_small(void)
{
    pg_eth(&g, 0x8847);
    fill(3, 0);
}
static void b_mpls_pkt_too_small(void)
{
    pg_eth(&g, 0x8847);
    pg_mpls(&g, 100, 1);
}
static void b_mpls_reserved(void)
{
    pg_eth(&g, 0x8847);
    pg_mpls(&g, 3, 1); /* implicit null never appears on the wire */
    ip4_tcp("10.0.0.1", "10.0.0.2");
}
static void b_mpls_unknown_payload(void)
{
    pg_eth(&g, 0x8847);
    pg_mpls(&g, 100, 1);
    fill(30, 0x50);
}
static void b_ipv4_too_small(void)
{
    pg_eth(&g, 0x0800);
    fill(19, 0x45);
}
static void b_ipv4_hlen_too_small(void)
{
    pg_eth(&g, 0x0800);
    ip4_tcp("10.0.0.1", "10.0.0.2");
    finish_now();
    g.b[14] = 0x44;
}
static void b_ipv4_iplen_lt_hlen(void)
{
    pg_eth(&g, 0x0800);
    ip4_tcp("10.0.0.1", "10.0.0.2");
    finish_now();
    put16(14 + 2, 19);
}
static void b_ipv4_trunc(void)
{
    pg_eth(&g, 0x0800);
    ip4_tcp("10.0.0.1", "10.0.0.2");
}
static void ip4_with_opts(const uint8_t *o, size_t n)
{
    pg_eth(&g, 0x0800);
    pg_ipv4_opts(&g, "10.0.0.1", "10.0.0.2", 17, 1, o, n);
    pg_udp(&g, 1, 2);
}
static void b_ipv4_opt_invalid_len(void)
{
    static const uint8_t o[4] = {148, 3, 0, 0}; /* router alert must be 4 bytes */
    ip4_with_opts(o, sizeof(o));
}
static void b_ipv4_opt_malformed(void)
{
    static const uint8_t o[4] = {7, 12, 4, 0}; /* runs past the header */
    ip4_with_opts(o, sizeof(o));
}
static void b_ipv4_opt_duplicate(void)
{
    static const uint8_t o[8] = {148, 4, 0, 0, 148, 4, 0, 0};
    ip4_with_opts(o, sizeof(o));
}
static void b_ipv4_opt_unknown(void)
{
    static const uint8_t o[4] = {0x99, 4, 0, 0};
    ip4_with_opts(o, sizeof(o));
}
static void b_ipv4_wrong_version(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 59);
}
static void b_ipv4_icmpv6(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 58, 1, 0);
    pg_icmp6(&g, 128, 0, 1, 1);
}
static void b_ipv6_too_small(void)
{
    pg_eth(&g, 0x86dd);
    fill(39, 0x60);
}
static void b_ipv6_trunc(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 17);
    pg_udp(&g, 1, 2);
}
static void b_ipv6_trunc_exthdr(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 0);
    pg_u8(&g, 17);
    pg_u8(&g, 5); /* 48 bytes claimed, 8 present */
    fill(6, 0);
}
static void b_ipv6_dupl_fh(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 44);
    pg_ipv6_frag(&g, 44, 0, 0, 1);
    pg_ipv6_frag(&g, 17, 0, 0, 1);
    pg_udp(&g, 1, 2);
}
static void b_ipv6_dupl_rh(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 43);
    pg_ipv6_ext(&g, 43, 43);
    pg_ipv6_ext(&g, 43, 17);
    pg_udp(&g, 1, 2);
}
static void b_ipv6_dupl_hh(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 0);
    pg_ipv6_ext(&g, 0, 0);
    pg_ipv6_ext(&g, 0, 17);
    pg_udp(&g, 1, 2);
}
static void b_ipv6_dupl_dh(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 60);
    pg_ipv6_ext(&g, 60, 60);
    pg_ipv6_ext(&g, 60, 60);
    pg_ipv6_ext(&g, 60, 17);
    pg_udp(&g, 1, 2);
}
static void b_ipv6_invalid_optlen(void)
{
    static const uint8_t hh[8] = {17, 0, 1, 10, 0, 0, 0, 0}; /* PadN longer than the header */
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 0);
    pg_bytes(&g, hh, sizeof(hh));
    pg_udp(&g, 1, 2);
}
static void b_ipv6_wrong_version(void)
{
    pg_eth(&g, 0x86dd);
    ip4_tcp("10.0.0.1", "10.0.0.2");
    fill(20, 0);
}
static void b_ipv6_rh0(void)
{
    static const uint8_t rh[8] = {17, 0, 0, 0, 0, 0, 0, 0};
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 43);
    pg_bytes(&g, rh, sizeof(rh));
    pg_udp(&g, 1, 2);
}
static void b_ipv6_fh_reserved(void)
{
    static const uint8_t fh[8] = {17, 1, 0, 0, 0, 0, 0, 9};
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 44);
    pg_bytes(&g, fh, sizeof(fh));
    pg_udp(&g, 1, 2);
}
static void b_ipv6_data_after_none(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 59);
    fill(4, 0);
}
static void b_ipv6_unknown_nh(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 51);
    for (int i = 0; i < 17; i++) { /* AH headers, one more than the decoder follows */
        pg_u8(&g, i < 16 ? 51 : 17);
        pg_u8(&g, 0);
        pg_u16(&g, 0);
        pg_u32(&g, (uint32_t)i);
    }
    pg_udp(&g, 1, 2);
}
static void b_ipv6_icmpv4(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 1);
    pg_icmp4(&g, 8, 0, 1, 1);
}
static void b_ipv6_frag_invalid_length(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 44);
    pg_ipv6_frag(&g, 17, 0, 1, 5);
    fill(5, 0);
}
static void b_4in6_too_small(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 4);
    fill(12, 0x45);
}
static void b_4in6_wrong_version(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 4);
    fill(20, 0x65);
}
static void b_6in6_too_small(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 41);
    fill(30, 0x60);
}
static void b_6in6_wrong_version(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 41);
    fill(40, 0x45);
}
static void b_icmpv4_too_small(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 1, 1, 0);
    fill(7, 8);
}
static void b_icmpv4_unknown_type(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 1, 1, 0);
    pg_icmp4(&g, 99, 0, 1, 1);
}
static void b_icmpv4_unknown_code(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 1, 1, 0);
    pg_icmp4(&g, 3, 16, 0, 0);
}
static void b_icmpv6_too_small(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 58);
    fill(4, 128);
}
static void b_icmpv6_unknown_type(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 58);
    pg_icmp6(&g, 5, 0, 0, 0);
}
static void b_icmpv6_unknown_code(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 58);
    pg_icmp6(&g, 1, 8, 0, 0);
}
static void b_tcp_too_small(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 6, 1, 0);
    fill(19, 0x50);
}
static void b_tcp_hlen_too_small(void)
{
    pg_eth(&g, 0x0800);
    ip4_tcp("10.0.0.1", "10.0.0.2");
    finish_now();
    g.b[14 + 20 + 12] = 0x40;
}
static void tcp_with_opts(const uint8_t *o, size_t n)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 6, 1, 0);
    pg_tcp_opts(&g, 1, 2, 3, 0, VG_TH_SYN, o, n);
}
static void b_tcp_opt_invalid_len(void)
{
    static const uint8_t o[4] = {2, 3, 5, 0}; /* MSS must be 4 bytes */
    tcp_with_opts(o, sizeof(o));
}
static void b_tcp_opt_duplicate(void)
{
    static const uint8_t o[8] = {2, 4, 5, 0xb4, 2, 4, 5, 0xb4};
    tcp_with_opts(o, sizeof(o));
}
static void b_udp_hlen_too_small(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 17, 1, 0);
    fill(7, 0);
}
static void b_udp_len_invalid(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 17, 1, 0);
    pg_udp(&g, 1, 2);
    fill(10, 0);
    finish_now();
    put16(14 + 20 + 4, 12); /* shorter than the IP payload */
}
static void b_udp_pkt_too_small(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 17, 1, 0);
    pg_udp(&g, 1, 2);
    fill(10, 0);
    finish_now();
    put16(14 + 20 + 4, 100);
}
static void gre_outer(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "192.0.2.1", "192.0.2.2", 47, 1, 0);
}
static void gre_hdr(uint16_t flags, uint16_t proto)
{
    gre_outer();
    pg_u16(&g, flags);
    pg_u16(&g, proto);
}
static void b_gre_too_small(void)
{
    gre_outer();
    fill(3, 0);
}
static void b_gre_wrong_version(void)
{
    gre_hdr(0x0002, 0x0800);
    ip4_tcp("10.0.0.1", "10.0.0.2");
}
static void b_gre_recur(void)
{
    gre_hdr(0x0100, 0x0800);
    ip4_tcp("10.0.0.1", "10.0.0.2");
}
static void b_gre_flags(void)
{
    gre_hdr(0x0008, 0x0800);
    ip4_tcp("10.0.0.1", "10.0.0.2");
}
static void b_gre_v0_too_big(void)
{
    gre_hdr(0x3000, 0x0800); /* key and sequence, 4 bytes present */
    fill(4, 0);
}
static void b_gre_v1_chksum(void)
{
    gre_hdr(0xa001, 0x880b), fill(8, 0);
}
static void b_gre_v1_route(void)
{
    gre_hdr(0x6001, 0x880b), fill(8, 0);
}
static void b_gre_v1_no_key(void)
{
    gre_hdr(0x0001, 0x880b), fill(8, 0);
}
static void b_gre_v1_wrong_proto(void)
{
    gre_hdr(0x2001, 0x0800), fill(8, 0);
}
static void b_gre_v1_too_big(void)
{
    gre_hdr(0x3081, 0x880b), fill(8, 0);
}
static void b_vxlan_too_small(void)
{
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "192.0.2.1", "192.0.2.2", 17, 1, 0);
    pg_udp(&g, 54321, 4789);
    pg_vxlan(&g, 1);
    fill(13, 0);
}
static void b_too_many_layers(void)
{
    nested_ipip(5);
}
static void b_unsupported_linktype(void)
{
    ip4_tcp("10.0.0.1", "10.0.0.2");
}

#define EVC(sym, fn, dlt, cut, inv)                                                                \
    {                                                                                              \
        VG_EV_##sym, #sym, fn, dlt, cut, inv                                                       \
    }
static const struct ev_case ev_cases[] = {
    EVC(ETHERNET_PKT_TOO_SMALL, b_eth_too_small, DLT_EN10MB, 0, 1),
    EVC(ETHERNET_UNKNOWN_ETHERTYPE, b_eth_unknown_type, DLT_EN10MB, 0, 0),
    EVC(SLL_PKT_TOO_SMALL, b_sll_too_small, DLT_LINUX_SLL, 0, 1),
    EVC(SLL2_PKT_TOO_SMALL, b_sll2_too_small, DLT_LINUX_SLL2, 0, 1),
    EVC(LTNULL_PKT_TOO_SMALL, b_null_too_small, DLT_NULL, 0, 1),
    EVC(LTNULL_UNSUPPORTED_TYPE, b_null_unsupported, DLT_NULL, 0, 1),
    EVC(IPRAW_INVALID_IP_VERSION, b_raw_bad_version, DLT_RAW, 0, 1),
    EVC(VLAN_HEADER_TOO_SMALL, b_vlan_too_small, DLT_EN10MB, 0, 1),
    EVC(VLAN_UNKNOWN_TYPE, b_vlan_unknown_type, DLT_EN10MB, 0, 0),
    EVC(VLAN_TOO_MANY_LAYERS, b_vlan_too_many, DLT_EN10MB, 0, 1),
    EVC(MPLS_HEADER_TOO_SMALL, b_mpls_hdr_too_small, DLT_EN10MB, 0, 1),
    EVC(MPLS_PKT_TOO_SMALL, b_mpls_pkt_too_small, DLT_EN10MB, 0, 1),
    EVC(MPLS_BAD_LABEL_RESERVED, b_mpls_reserved, DLT_EN10MB, 0, 1),
    EVC(MPLS_UNKNOWN_PAYLOAD_TYPE, b_mpls_unknown_payload, DLT_EN10MB, 0, 1),
    EVC(IPV4_PKT_TOO_SMALL, b_ipv4_too_small, DLT_EN10MB, 0, 1),
    EVC(IPV4_HLEN_TOO_SMALL, b_ipv4_hlen_too_small, DLT_EN10MB, 0, 1),
    EVC(IPV4_IPLEN_SMALLER_THAN_HLEN, b_ipv4_iplen_lt_hlen, DLT_EN10MB, 0, 1),
    EVC(IPV4_TRUNC_PKT, b_ipv4_trunc, DLT_EN10MB, 1, 1),
    EVC(IPV4_OPT_INVALID_LEN, b_ipv4_opt_invalid_len, DLT_EN10MB, 0, 0),
    EVC(IPV4_OPT_MALFORMED, b_ipv4_opt_malformed, DLT_EN10MB, 0, 0),
    EVC(IPV4_OPT_DUPLICATE, b_ipv4_opt_duplicate, DLT_EN10MB, 0, 0),
    EVC(IPV4_OPT_UNKNOWN, b_ipv4_opt_unknown, DLT_EN10MB, 0, 0),
    EVC(IPV4_WRONG_IP_VERSION, b_ipv4_wrong_version, DLT_EN10MB, 0, 1),
    EVC(IPV4_ICMPV6, b_ipv4_icmpv6, DLT_EN10MB, 0, 0),
    EVC(IPV6_PKT_TOO_SMALL, b_ipv6_too_small, DLT_EN10MB, 0, 1),
    EVC(IPV6_TRUNC_PKT, b_ipv6_trunc, DLT_EN10MB, 1, 1),
    EVC(IPV6_TRUNC_EXTHDR, b_ipv6_trunc_exthdr, DLT_EN10MB, 0, 1),
    EVC(IPV6_EXTHDR_DUPL_FH, b_ipv6_dupl_fh, DLT_EN10MB, 0, 0),
    EVC(IPV6_EXTHDR_DUPL_RH, b_ipv6_dupl_rh, DLT_EN10MB, 0, 0),
    EVC(IPV6_EXTHDR_DUPL_HH, b_ipv6_dupl_hh, DLT_EN10MB, 0, 0),
    EVC(IPV6_EXTHDR_DUPL_DH, b_ipv6_dupl_dh, DLT_EN10MB, 0, 0),
    EVC(IPV6_EXTHDR_INVALID_OPTLEN, b_ipv6_invalid_optlen, DLT_EN10MB, 0, 0),
    EVC(IPV6_WRONG_IP_VERSION, b_ipv6_wrong_version, DLT_EN10MB, 0, 1),
    EVC(IPV6_RH_TYPE_0, b_ipv6_rh0, DLT_EN10MB, 0, 0),
    EVC(IPV6_FH_NON_ZERO_RESERVED_FIELD, b_ipv6_fh_reserved, DLT_EN10MB, 0, 0),
    EVC(IPV6_DATA_AFTER_NONE_HEADER, b_ipv6_data_after_none, DLT_EN10MB, 0, 0),
    EVC(IPV6_UNKNOWN_NEXT_HEADER, b_ipv6_unknown_nh, DLT_EN10MB, 0, 1),
    EVC(IPV6_ICMPV4, b_ipv6_icmpv4, DLT_EN10MB, 0, 0),
    EVC(IPV6_FRAG_INVALID_LENGTH, b_ipv6_frag_invalid_length, DLT_EN10MB, 0, 0),
    EVC(IPV6_IPV4_IN_IPV6_TOO_SMALL, b_4in6_too_small, DLT_EN10MB, 0, 0),
    EVC(IPV6_IPV4_IN_IPV6_WRONG_VERSION, b_4in6_wrong_version, DLT_EN10MB, 0, 0),
    EVC(IPV6_IPV6_IN_IPV6_TOO_SMALL, b_6in6_too_small, DLT_EN10MB, 0, 0),
    EVC(IPV6_IPV6_IN_IPV6_WRONG_VERSION, b_6in6_wrong_version, DLT_EN10MB, 0, 0),
    EVC(ICMPV4_PKT_TOO_SMALL, b_icmpv4_too_small, DLT_EN10MB, 0, 1),
    EVC(ICMPV4_UNKNOWN_TYPE, b_icmpv4_unknown_type, DLT_EN10MB, 0, 0),
    EVC(ICMPV4_UNKNOWN_CODE, b_icmpv4_unknown_code, DLT_EN10MB, 0, 0),
    EVC(ICMPV6_PKT_TOO_SMALL, b_icmpv6_too_small, DLT_EN10MB, 0, 1),
    EVC(ICMPV6_UNKNOWN_TYPE, b_icmpv6_unknown_type, DLT_EN10MB, 0, 0),
    EVC(ICMPV6_UNKNOWN_CODE, b_icmpv6_unknown_code, DLT_EN10MB, 0, 0),
    EVC(TCP_PKT_TOO_SMALL, b_tcp_too_small, DLT_EN10MB, 0, 1),
    EVC(TCP_HLEN_TOO_SMALL, b_tcp_hlen_too_small, DLT_EN10MB, 0, 1),
    EVC(TCP_OPT_INVALID_LEN, b_tcp_opt_invalid_len, DLT_EN10MB, 0, 0),
    EVC(TCP_OPT_DUPLICATE, b_tcp_opt_duplicate, DLT_EN10MB, 0, 0),
    EVC(UDP_PKT_TOO_SMALL, b_udp_pkt_too_small, DLT_EN10MB, 0, 1),
    EVC(UDP_HLEN_TOO_SMALL, b_udp_hlen_too_small, DLT_EN10MB, 0, 1),
    EVC(UDP_LEN_INVALID, b_udp_len_invalid, DLT_EN10MB, 0, 1),
    EVC(GRE_PKT_TOO_SMALL, b_gre_too_small, DLT_EN10MB, 0, 1),
    EVC(GRE_WRONG_VERSION, b_gre_wrong_version, DLT_EN10MB, 0, 1),
    EVC(GRE_VERSION0_RECUR, b_gre_recur, DLT_EN10MB, 0, 1),
    EVC(GRE_VERSION0_FLAGS, b_gre_flags, DLT_EN10MB, 0, 1),
    EVC(GRE_VERSION0_HDR_TOO_BIG, b_gre_v0_too_big, DLT_EN10MB, 0, 1),
    EVC(GRE_VERSION1_CHKSUM, b_gre_v1_chksum, DLT_EN10MB, 0, 1),
    EVC(GRE_VERSION1_ROUTE, b_gre_v1_route, DLT_EN10MB, 0, 1),
    EVC(GRE_VERSION1_NO_KEY, b_gre_v1_no_key, DLT_EN10MB, 0, 1),
    EVC(GRE_VERSION1_WRONG_PROTOCOL, b_gre_v1_wrong_proto, DLT_EN10MB, 0, 1),
    EVC(GRE_VERSION1_HDR_TOO_BIG, b_gre_v1_too_big, DLT_EN10MB, 0, 1),
    EVC(VXLAN_PKT_TOO_SMALL, b_vxlan_too_small, DLT_EN10MB, 0, 0),
    EVC(TOO_MANY_LAYERS, b_too_many_layers, DLT_EN10MB, 0, 0),
    EVC(UNSUPPORTED_LINKTYPE, b_unsupported_linktype, 12345, 0, 1),
};

Test(decode_events, every_raisable_event)
{
    for (size_t i = 0; i < VG_ARRAY_LEN(ev_cases); i++) {
        const struct ev_case *c = &ev_cases[i];
        memset(&st, 0, sizeof(st));
        pg_init(&g);
        self_finished = 0;
        c->build();
        if (!self_finished)
            pg_finish(&g);
        size_t caplen = g.len - c->cut;
        int rc = decode_bytes(g.b, g.len, caplen, c->dlt);
        cr_expect(decode_has_event(&pk, c->ev), "%s: event not raised", c->sym);
        cr_expect_eq(st.events[c->ev] >= 1, 1, "%s: event not counted", c->sym);
        cr_expect_eq(!!(pk.flags & VG_PKT_INVALID), c->invalid, "%s: invalid flag %d, want %d",
                     c->sym, !!(pk.flags & VG_PKT_INVALID), c->invalid);
        cr_expect_eq(rc, c->invalid ? -1 : 0, "%s: rc %d", c->sym, rc);
        cr_expect_eq(st.invalid, (uint64_t)c->invalid, "%s: invalid counter", c->sym);
    }
}

/* Symbols of every event, for matching the sources. */
static const struct {
    const char *sym;
    unsigned ev;
} ev_syms[] = {
#define VG_T_SYM(sym, name) {"VG_EV_" #sym, VG_EV_##sym},
    VG_DECODE_EVENTS(VG_T_SYM)
#undef VG_T_SYM
};

Test(decode_events, table_covers_every_event_the_decoders_raise)
{
    const char *srcdir = getenv("VIGIL_SOURCE_DIR");
    if (srcdir == NULL)
        cr_skip_test("VIGIL_SOURCE_DIR is not set (run through ctest)");
    static const char *const files[] = {"decode.c", "decode-link.c", "decode-ip.c", "decode-l4.c",
                                        "decode-tunnel.c"};
    unsigned found = 0;
    for (size_t f = 0; f < VG_ARRAY_LEN(files); f++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/sensor/%s", srcdir, files[f]);
        FILE *fp = fopen(path, "r");
        cr_assert_not_null(fp, "cannot open %s", path);
        char line[1024];
        while (fgets(line, sizeof(line), fp) != NULL) {
            for (const char *s = strstr(line, "VG_EV_"); s != NULL; s = strstr(s + 1, "VG_EV_")) {
                size_t n = 0;
                while (s[n] == '_' || (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9'))
                    n++;
                for (size_t k = 0; k < VG_ARRAY_LEN(ev_syms); k++) {
                    if (strlen(ev_syms[k].sym) != n || strncmp(ev_syms[k].sym, s, n) != 0)
                        continue;
                    int covered = 0;
                    for (size_t c = 0; c < VG_ARRAY_LEN(ev_cases); c++)
                        covered |= ev_cases[c].ev == ev_syms[k].ev;
                    cr_expect(covered, "%s raised in %s has no test case", ev_syms[k].sym,
                              files[f]);
                    found++;
                }
            }
        }
        fclose(fp);
    }
    cr_expect_gt(found, 60);
}

Test(decode_events, variants)
{
    /* A capture ending inside a valid 60-byte IPv4 header is truncated, as in Suricata. */
    pg_eth(&g, 0x0800);
    static const uint8_t o[40] = {1};
    pg_ipv4_opts(&g, "10.0.0.1", "10.0.0.2", 59, 1, o, sizeof(o));
    pg_finish(&g);
    cr_assert_eq(decode_bytes(g.b, g.len, 14 + 40, DLT_EN10MB), -1);
    cr_expect(decode_has_event(&pk, VG_EV_IPV4_TRUNC_PKT));
    cr_expect_not(decode_has_event(&pk, VG_EV_IPV4_HLEN_TOO_SMALL));
    cr_expect_eq(pk.nevents, 1);

    /* An option kind as the last byte of the options. */
    reset();
    static const uint8_t o2[4] = {1, 1, 1, 68};
    ip4_with_opts(o2, sizeof(o2));
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect(decode_has_event(&pk, VG_EV_IPV4_OPT_MALFORMED));
    cr_expect_eq(pk.dp, 2);

    /* An option length below 2. */
    reset();
    static const uint8_t o3[4] = {7, 1, 0, 0};
    ip4_with_opts(o3, sizeof(o3));
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect(decode_has_event(&pk, VG_EV_IPV4_OPT_INVALID_LEN));

    /* Sixteen MPLS labels without the bottom-of-stack bit. */
    reset();
    pg_eth(&g, 0x8847);
    for (int i = 0; i < 17; i++)
        pg_mpls(&g, 100, 0);
    ip4_tcp("10.0.0.1", "10.0.0.2");
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), -1);
    cr_expect(decode_has_event(&pk, VG_EV_MPLS_UNKNOWN_PAYLOAD_TYPE));

    /* A pseudowire control word without room for an Ethernet header. */
    reset();
    pg_eth(&g, 0x8847);
    pg_mpls(&g, 100, 1);
    pg_u32(&g, 0);
    fill(10, 0);
    cr_assert_eq(decode_g(DLT_EN10MB), -1);
    cr_expect(decode_has_event(&pk, VG_EV_MPLS_PKT_TOO_SMALL));

    /* A TCP data offset beyond the segment. */
    reset();
    pg_eth(&g, 0x0800);
    ip4_tcp("10.0.0.1", "10.0.0.2");
    pg_finish(&g);
    g.b[14 + 20 + 12] = 0xf0;
    cr_assert_eq(decode_g(DLT_EN10MB), -1);
    cr_expect(decode_has_event(&pk, VG_EV_TCP_PKT_TOO_SMALL));

    /* A UDP length below the header. */
    reset();
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 17, 1, 0);
    pg_udp(&g, 1, 2);
    pg_finish(&g);
    put16(14 + 20 + 4, 4);
    cr_assert_eq(decode_g(DLT_EN10MB), -1);
    cr_expect(decode_has_event(&pk, VG_EV_UDP_LEN_INVALID));

    /* A GRE source route running past the packet. */
    reset();
    gre_hdr(0x4000, 0x0800);
    pg_u32(&g, 0);      /* checksum and offset */
    pg_u16(&g, 0x0800); /* SRE address family */
    pg_u8(&g, 0);
    pg_u8(&g, 40); /* SRE length */
    fill(8, 0);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), -1);
    cr_expect(decode_has_event(&pk, VG_EV_GRE_VERSION0_HDR_TOO_BIG));

    /* A raw packet of no bytes. */
    reset();
    cr_assert_eq(decode_bytes(g.b, 0, 0, DLT_RAW), -1);
    cr_expect(decode_has_event(&pk, VG_EV_IPRAW_INVALID_IP_VERSION));

    /* An IPv4-in-IPv4 packet too small or of the wrong version keeps the outer packet. */
    reset();
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 4, 1, 0);
    fill(10, 0x45);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect(decode_has_event(&pk, VG_EV_IPV4_PKT_TOO_SMALL));
    cr_expect_eq(pk.tunnel_depth, 0);
    reset();
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 41, 1, 0);
    fill(40, 0x45);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect(decode_has_event(&pk, VG_EV_IPV6_WRONG_IP_VERSION));
    expect_addr(&pk.src, "10.0.0.1");
}

Test(decode_events, gre_version1_pptp_is_valid)
{
    gre_hdr(0x3081, 0x880b); /* key, sequence and ack: 16 bytes */
    pg_u32(&g, 1);
    pg_u32(&g, 2);
    pg_u32(&g, 3);
    fill(4, 0xff);
    pg_finish(&g);
    cr_assert_eq(decode_g(DLT_EN10MB), 0);
    cr_expect_eq(pk.nevents, 0);
    cr_expect_eq(pk.proto, 47);
    cr_expect_eq(pk.flags, 0);
    expect_stats(STATS(.ethernet = 1, .ipv4 = 1, .gre = 1));
}

/* ---------------------------------------------------------------------------------------------
 * Robustness: truncations, corruptions and random bytes never read out of bounds.
 */

static unsigned check_failures;

/* Checks what must hold for any decoded packet; counts failures instead of asserting per call. */
static void check_bounds(int rc, const char *what, size_t arg)
{
    const struct vg_packet *p = &pk;
    const char *bad = NULL;
    if ((rc < 0) != !!(p->flags & VG_PKT_INVALID))
        bad = "return code and VG_PKT_INVALID disagree";
    else if (p->nevents > VG_PKT_MAX_EVENTS)
        bad = "nevents";
    else if (p->vlan_cnt > VG_PKT_MAX_VLAN)
        bad = "vlan_cnt";
    else if (p->tunnel_depth > 4)
        bad = "tunnel_depth";
    else if (!(p->flags & VG_PKT_INVALID)) {
        if (p->l4_off > p->caplen)
            bad = "l4_off beyond caplen";
        else if ((uint64_t)p->payload_off + p->payload_len > p->caplen)
            bad = "payload beyond caplen";
        else if (p->ip_ver != 0 && (uint64_t)p->l3_off + p->l3_len > p->caplen)
            bad = "l3 beyond caplen";
        else if (p->ip_ver != 0 && p->ip_ver != 4 && p->ip_ver != 6)
            bad = "ip_ver";
        else if ((p->flags & VG_PKT_FRAGMENT) && p->ip_ver == 0)
            bad = "fragment without IP";
        else if ((p->flags & VG_PKT_FRAGMENT) &&
                 (p->frag_hdr_off > p->caplen || p->frag_nh_off >= p->caplen))
            bad = "fragment offsets beyond caplen";
    }
    if (bad != NULL && check_failures++ < 10)
        cr_expect_fail("%s (%s %zu, dlt %u, caplen %u)", bad, what, arg, p->datalink, p->caplen);
}

typedef uint32_t (*tmpl_fn)(void);

static uint32_t t_tcp4(void)
{
    pg_eth(&g, 0x0800);
    static const uint8_t o[8] = {148, 4, 0, 0, 7, 3, 4, 0};
    pg_ipv4_opts(&g, "10.0.0.1", "10.0.0.2", 6, 1, o, sizeof(o));
    static const uint8_t to[12] = {2, 4, 5, 0xb4, 4, 2, 3, 3, 7, 1, 1, 0};
    pg_tcp_opts(&g, 1234, 80, 1, 2, VG_TH_SYN, to, sizeof(to));
    pg_bytes(&g, "GET / HTTP/1.0\r\n", 16);
    return DLT_EN10MB;
}
static uint32_t t_ipv6_ext(void)
{
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 0);
    pg_ipv6_ext(&g, 0, 43);
    pg_ipv6_ext(&g, 43, 60);
    pg_ipv6_ext(&g, 60, 44);
    pg_ipv6_frag(&g, 58, 0, 0, 3);
    pg_icmp6(&g, 128, 0, 1, 2);
    fill(8, 0x61);
    return DLT_EN10MB;
}
static uint32_t t_ipv6_frag(void)
{
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 60);
    pg_ipv6_ext(&g, 60, 44);
    pg_ipv6_frag(&g, 17, 8, 1, 3);
    fill(16, 0x62);
    return DLT_RAW;
}
static uint32_t t_gre(void)
{
    pg_eth(&g, 0x8100);
    pg_vlan(&g, 9, 0x0800);
    pg_ipv4(&g, "192.0.2.1", "192.0.2.2", 47, 1, 0);
    pg_u16(&g, 0xb000); /* checksum, key, sequence */
    pg_u16(&g, 0x6558);
    pg_u32(&g, 0);
    pg_u32(&g, 1);
    pg_u32(&g, 2);
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 17);
    pg_udp(&g, 53, 53);
    fill(6, 0x63);
    return DLT_EN10MB;
}
static uint32_t t_vxlan(void)
{
    sll2_hdr(0x0800);
    pg_ipv4(&g, "192.0.2.1", "192.0.2.2", 17, 1, 0);
    pg_udp(&g, 1, 4789);
    pg_vxlan(&g, 7);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 4, 2, 0);
    ip4_tcp("10.0.1.1", "10.0.1.2");
    fill(4, 0x64);
    return DLT_LINUX_SLL2;
}
static uint32_t t_mpls(void)
{
    sll_hdr(0x8847);
    pg_mpls(&g, 100, 0);
    pg_mpls(&g, 0, 1);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 1, 1, 0);
    pg_icmp4(&g, 3, 3, 0, 0);
    pg_ipv4(&g, "10.0.0.2", "10.0.0.1", 17, 1, 0);
    pg_udp(&g, 1, 2);
    return DLT_LINUX_SLL;
}
static uint32_t t_qinq(void)
{
    pg_eth(&g, 0x88a8);
    pg_vlan(&g, 10, 0x8100);
    pg_vlan(&g, 20, 0x8847);
    pg_mpls(&g, 77, 1);
    pg_u32(&g, 0);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 17, 1, 0);
    pg_udp(&g, 5, 6);
    fill(3, 0x65);
    return DLT_EN10MB;
}
static uint32_t t_null6(void)
{
    null_hdr(30, 0);
    pg_ipv6(&g, "2001:db8::1", "2001:db8::2", 41);
    pg_ipv6(&g, "2001:db8::3", "2001:db8::4", 6);
    pg_tcp(&g, 1, 2, 3, 4, VG_TH_ACK, 5);
    return DLT_NULL;
}
static uint32_t t_ipfrag4(void)
{
    null_hdr(2, 1);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 17, 99, 0x2001);
    fill(16, 0x66);
    return DLT_LOOP;
}

static const tmpl_fn templates[] = {t_tcp4, t_ipv6_ext, t_ipv6_frag, t_gre,    t_vxlan,
                                    t_mpls, t_qinq,     t_null6,     t_ipfrag4};

/* Builds template i into g; returns its link type. */
static uint32_t build_template(size_t i)
{
    pg_init(&g);
    uint32_t dlt = templates[i]();
    pg_finish(&g);
    return dlt;
}

Test(decode_robust, templates_decode_cleanly)
{
    for (size_t i = 0; i < VG_ARRAY_LEN(templates); i++) {
        memset(&st, 0, sizeof(st));
        uint32_t dlt = build_template(i);
        cr_expect_eq(decode_g(dlt), 0, "template %zu", i);
        cr_expect_eq(pk.nevents, 0, "template %zu: event %s", i,
                     pk.nevents ? decode_event_name(pk.events[0]) : "");
        cr_expect_neq(pk.ip_ver, 0, "template %zu", i);
    }
}

Test(decode_robust, every_truncation)
{
    for (size_t i = 0; i < VG_ARRAY_LEN(templates); i++) {
        uint32_t dlt = build_template(i);
        for (size_t n = 0; n <= g.len; n++) {
            int rc = decode_bytes(g.b, g.len, n, dlt);
            check_bounds(rc, "prefix", n);
        }
    }
    cr_expect_eq(check_failures, 0);
}

Test(decode_robust, every_single_byte_corruption)
{
    static uint8_t copy[PG_MAX];
    for (size_t i = 0; i < VG_ARRAY_LEN(templates); i++) {
        uint32_t dlt = build_template(i);
        memcpy(copy, g.b, g.len);
        for (size_t off = 0; off < g.len; off++) {
            uint8_t orig = copy[off];
            uint8_t vals[10] = {0x00, 0xff};
            for (int b = 0; b < 8; b++)
                vals[2 + b] = (uint8_t)(orig ^ (1u << b));
            for (size_t v = 0; v < VG_ARRAY_LEN(vals); v++) {
                copy[off] = vals[v];
                int rc = decode_bytes(copy, g.len, g.len, dlt);
                check_bounds(rc, "offset", off);
            }
            copy[off] = orig;
        }
    }
    cr_expect_eq(check_failures, 0);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

Test(decode_robust, random_bytes)
{
    static const uint32_t dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2,     DLT_RAW,
                                    DLT_NULL,   DLT_LOOP,      VG_DLT_REASSEMBLED, DLT_IPV4};
    static uint8_t buf[512];
    for (int iter = 0; iter < 20000; iter++) {
        uint32_t dlt;
        size_t len;
        if (iter % 2 == 0) {
            /* Random bytes; the first bytes often look like a header, to get past the link. */
            dlt = dlts[rng() % VG_ARRAY_LEN(dlts)];
            len = rng() % 256;
            for (size_t k = 0; k < len; k++)
                buf[k] = (uint8_t)rng();
            if (len > 20 && (rng() & 1))
                buf[rng() % 21] = (rng() & 1) ? 0x45 : 0x60;
        } else {
            /* A template with a few random bytes changed and a random truncation. */
            dlt = build_template(rng() % VG_ARRAY_LEN(templates));
            len = VG_MIN(g.len, sizeof(buf));
            memcpy(buf, g.b, len);
            int nmut = 1 + (int)(rng() % 4);
            for (int m = 0; m < nmut && len > 0; m++)
                buf[rng() % len] = (uint8_t)rng();
            if (rng() % 3 == 0 && len > 0)
                len = rng() % (len + 1);
        }
        int rc = decode_bytes(buf, len, len, dlt);
        check_bounds(rc, "iteration", (size_t)iter);
    }
    cr_expect_eq(check_failures, 0);
}
