/* test_flow.c: the flow table: symmetric keys, TCP state, timeouts, reuse, memcap eviction. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "vigil/flow.h"

#define T0 (1714521600ULL * VG_USEC_PER_SEC)
#define SEC VG_USEC_PER_SEC

/* Flows reported by the table, in order. */
struct ended {
    uint64_t flow_id;
    enum flow_end_reason reason;
    vg_time_t when;
    uint64_t pkts[2];
    uint8_t state, tcp_state;
};
static struct ended ends[4096];
static unsigned nends;

static void on_end(void *ctx, struct flow *f, enum flow_end_reason reason, vg_time_t when)
{
    (void)ctx;
    if (nends < sizeof(ends) / sizeof(ends[0])) {
        ends[nends].flow_id = f->flow_id;
        ends[nends].reason = reason;
        ends[nends].when = when;
        ends[nends].pkts[0] = f->pkts[0];
        ends[nends].pkts[1] = f->pkts[1];
        ends[nends].state = f->state;
        ends[nends].tcp_state = f->tcp_state;
    }
    nends++;
}

static struct flow_table *table(uint64_t memcap)
{
    struct flow_config c;
    flow_config_defaults(&c);
    if (memcap)
        c.memcap = memcap;
    c.hash_size = 1024;
    char err[VG_ERRBUF_SIZE];
    nends = 0;
    struct flow_table *t = flow_table_new(&c, on_end, NULL, err);
    cr_assert_not_null(t, "%s", err);
    return t;
}

static struct vg_packet pkt(const char *src, uint16_t sp, const char *dst, uint16_t dp,
                            uint8_t proto, uint8_t flags, vg_time_t ts)
{
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.ip_ver = strchr(src, ':') ? 6 : 4;
    inet_pton(p.ip_ver == 6 ? AF_INET6 : AF_INET, src, p.src.u8);
    inet_pton(p.ip_ver == 6 ? AF_INET6 : AF_INET, dst, p.dst.u8);
    p.proto = proto;
    p.sp = sp;
    p.dp = dp;
    if (proto == 6 || proto == 17)
        p.flags |= VG_PKT_HAS_PORTS;
    p.tcp_flags = flags;
    p.caplen = p.wirelen = 60;
    p.ts = ts;
    p.flow_hash = flow_hash_packet(&p);
    return p;
}

/* Feeds one packet; returns the flow and stores the direction. */
static struct flow *feed(struct flow_table *t, struct vg_packet *p, int *dir)
{
    int d = -1;
    struct flow *f = flow_handle_packet(t, p, &d);
    if (dir)
        *dir = d;
    return f;
}

Test(flow, hash_is_symmetric_and_separates_tuples)
{
    struct vg_packet a = pkt("10.0.0.1", 1000, "10.0.0.2", 80, 6, 0, T0);
    struct vg_packet b = pkt("10.0.0.2", 80, "10.0.0.1", 1000, 6, 0, T0);
    struct vg_packet c = pkt("10.0.0.1", 1001, "10.0.0.2", 80, 6, 0, T0);
    struct vg_packet u = pkt("10.0.0.1", 1000, "10.0.0.2", 80, 17, 0, T0);
    cr_assert_neq(a.flow_hash, 0);
    cr_assert_eq(a.flow_hash, b.flow_hash);
    cr_assert_neq(a.flow_hash, c.flow_hash);
    cr_assert_neq(a.flow_hash, u.flow_hash);

    struct vg_packet v1 = a, v2 = a;
    v1.vlan_cnt = v2.vlan_cnt = 1;
    v1.vlan_id[0] = 10;
    v2.vlan_id[0] = 20;
    cr_assert_neq(flow_hash_packet(&v1), flow_hash_packet(&v2));

    struct vg_packet frag = a;
    frag.flags |= VG_PKT_FRAGMENT;
    cr_assert_eq(flow_hash_packet(&frag), 0);
    struct vg_packet bad = a;
    bad.flags |= VG_PKT_INVALID;
    cr_assert_eq(flow_hash_packet(&bad), 0);
}

Test(flow, tcp_handshake_data_and_close)
{
    struct flow_table *t = table(0);
    int dir;
    struct vg_packet p = pkt("10.0.0.1", 1000, "10.0.0.2", 80, 6, VG_TH_SYN, T0);
    p.tcp_seq = 100;
    struct flow *f = feed(t, &p, &dir);
    cr_assert_not_null(f);
    cr_assert_eq(dir, FLOW_DIR_TOSERVER);
    cr_assert_eq(f->tcp_state, FLOW_TCP_SYN_SENT);
    cr_assert_eq(f->state, FLOW_STATE_NEW);

    p = pkt("10.0.0.2", 80, "10.0.0.1", 1000, 6, VG_TH_SYN | VG_TH_ACK, T0 + 1);
    p.tcp_seq = 500;
    p.tcp_ack = 101;
    cr_assert_eq(feed(t, &p, &dir), f);
    cr_assert_eq(dir, FLOW_DIR_TOCLIENT);
    cr_assert_eq(f->tcp_state, FLOW_TCP_SYN_RECV);

    p = pkt("10.0.0.1", 1000, "10.0.0.2", 80, 6, VG_TH_ACK, T0 + 2);
    p.tcp_seq = 101;
    p.tcp_ack = 501;
    feed(t, &p, NULL);
    cr_assert_eq(f->tcp_state, FLOW_TCP_ESTABLISHED);
    cr_assert_eq(f->state, FLOW_STATE_ESTABLISHED);

    /* Client FIN, server ACK: fin_wait2; server FIN: time_wait; last ACK: closed. */
    p = pkt("10.0.0.1", 1000, "10.0.0.2", 80, 6, VG_TH_FIN | VG_TH_ACK, T0 + 3);
    p.tcp_seq = 101;
    p.tcp_ack = 501;
    feed(t, &p, NULL);
    cr_assert_eq(f->tcp_state, FLOW_TCP_FIN_WAIT1);
    p = pkt("10.0.0.2", 80, "10.0.0.1", 1000, 6, VG_TH_ACK, T0 + 4);
    p.tcp_seq = 501;
    p.tcp_ack = 102;
    feed(t, &p, NULL);
    cr_assert_eq(f->tcp_state, FLOW_TCP_FIN_WAIT2);
    p = pkt("10.0.0.2", 80, "10.0.0.1", 1000, 6, VG_TH_FIN | VG_TH_ACK, T0 + 5);
    p.tcp_seq = 501;
    p.tcp_ack = 102;
    feed(t, &p, NULL);
    cr_assert_eq(f->tcp_state, FLOW_TCP_TIME_WAIT);
    cr_assert_eq(f->state, FLOW_STATE_CLOSED);
    p = pkt("10.0.0.1", 1000, "10.0.0.2", 80, 6, VG_TH_ACK, T0 + 6);
    p.tcp_seq = 102;
    p.tcp_ack = 502;
    feed(t, &p, NULL);
    cr_assert_eq(f->tcp_state, FLOW_TCP_CLOSED);
    cr_assert_eq(f->pkts[0], 4);
    cr_assert_eq(f->pkts[1], 3);
    cr_assert_eq(f->bytes[0], 240);
    cr_assert_eq(f->tcp_flags[0], VG_TH_SYN | VG_TH_ACK | VG_TH_FIN);

    flow_table_flush(t, T0 + 7);
    cr_assert_eq(nends, 1);
    cr_assert_eq(ends[0].reason, FLOW_END_SHUTDOWN);
    cr_assert_eq(ends[0].when, T0 + 7);
    cr_assert_eq(flow_table_stats(t)->active, 0);
    cr_assert_eq(flow_table_stats(t)->shutdown, 1);
    flow_table_free(t);
}

Test(flow, rst_closes_and_syn_ack_first_reverses)
{
    struct flow_table *t = table(0);
    int dir;
    /* The first packet seen is the server's SYN/ACK: the flow is oriented client -> server. */
    struct vg_packet p = pkt("10.0.0.2", 80, "10.0.0.1", 1000, 6, VG_TH_SYN | VG_TH_ACK, T0);
    struct flow *f = feed(t, &p, &dir);
    cr_assert_eq(dir, FLOW_DIR_TOCLIENT);
    char a[16];
    inet_ntop(AF_INET, f->src.u8, a, sizeof(a));
    cr_assert_str_eq(a, "10.0.0.1");
    cr_assert_eq(f->sp, 1000);
    cr_assert(f->flags & FLOW_F_REVERSED);

    p = pkt("10.0.0.1", 1000, "10.0.0.2", 80, 6, VG_TH_RST, T0 + 1);
    feed(t, &p, &dir);
    cr_assert_eq(dir, FLOW_DIR_TOSERVER);
    cr_assert_eq(f->tcp_state, FLOW_TCP_CLOSED);
    cr_assert_eq(f->state, FLOW_STATE_CLOSED);
    flow_table_free(t);
}

Test(flow, midstream_pickup)
{
    struct flow_table *t = table(0);
    struct vg_packet p = pkt("10.0.0.1", 1000, "10.0.0.2", 25, 6, VG_TH_ACK | VG_TH_PUSH, T0);
    struct flow *f = feed(t, &p, NULL);
    cr_assert_eq(f->tcp_state, FLOW_TCP_ESTABLISHED);
    cr_assert(f->flags & FLOW_F_MIDSTREAM);
    cr_assert_eq(f->state, FLOW_STATE_NEW, "one direction only: still new");
    p = pkt("10.0.0.2", 25, "10.0.0.1", 1000, 6, VG_TH_ACK, T0 + 1);
    feed(t, &p, NULL);
    cr_assert_eq(f->state, FLOW_STATE_ESTABLISHED);
    flow_table_free(t);
}

Test(flow, udp_established_and_timeouts)
{
    struct flow_table *t = table(0);
    struct vg_packet q = pkt("10.0.0.1", 5353, "10.0.0.53", 53, 17, 0, T0);
    struct flow *f = feed(t, &q, NULL);
    uint64_t first_id = f->flow_id;
    cr_assert_eq(f->state, FLOW_STATE_NEW);
    struct vg_packet r = pkt("10.0.0.53", 53, "10.0.0.1", 5353, 17, 0, T0 + SEC);
    feed(t, &r, NULL);
    cr_assert_eq(f->state, FLOW_STATE_ESTABLISHED);

    /* Established UDP times out after 300 s of silence, reported at last + 300 s. */
    flow_table_timeout(t, T0 + 300 * SEC);
    cr_assert_eq(nends, 0);
    flow_table_timeout(t, T0 + 301 * SEC);
    cr_assert_eq(nends, 1);
    cr_assert_eq(ends[0].reason, FLOW_END_TIMEOUT);
    cr_assert_eq(ends[0].when, T0 + 301 * SEC);
    cr_assert_eq(ends[0].flow_id, first_id);

    /* The same tuple later is a new flow with a new id. */
    q.ts = T0 + 400 * SEC;
    f = feed(t, &q, NULL);
    cr_assert_neq(f->flow_id, first_id);
    cr_assert_eq(f->pkts[0], 1);
    flow_table_free(t);
}

Test(flow, expired_flow_ends_on_lookup)
{
    struct flow_table *t = table(0);
    struct vg_packet q = pkt("10.0.0.1", 5000, "10.0.0.2", 5001, 17, 0, T0);
    feed(t, &q, NULL);
    /* New UDP flows time out after 30 s; no sweep ran, the next packet finds it expired. */
    q.ts = T0 + 45 * SEC;
    struct flow *f = feed(t, &q, NULL);
    cr_assert_eq(nends, 1);
    cr_assert_eq(ends[0].reason, FLOW_END_TIMEOUT);
    cr_assert_eq(ends[0].when, T0 + 30 * SEC);
    cr_assert_eq(f->start, T0 + 45 * SEC);
    flow_table_free(t);
}

Test(flow, tcp_port_reuse_after_close)
{
    struct flow_table *t = table(0);
    struct vg_packet p = pkt("10.0.0.1", 1000, "10.0.0.2", 80, 6, VG_TH_SYN, T0);
    struct flow *f = feed(t, &p, NULL);
    p = pkt("10.0.0.2", 80, "10.0.0.1", 1000, 6, VG_TH_RST | VG_TH_ACK, T0 + 1);
    feed(t, &p, NULL);
    cr_assert_eq(f->state, FLOW_STATE_CLOSED);
    uint64_t old = f->flow_id;
    p = pkt("10.0.0.1", 1000, "10.0.0.2", 80, 6, VG_TH_SYN, T0 + SEC);
    f = feed(t, &p, NULL);
    cr_assert_neq(f->flow_id, old);
    cr_assert_eq(nends, 1);
    cr_assert_eq(ends[0].reason, FLOW_END_FORCED);
    cr_assert_eq(flow_table_stats(t)->tcp_reuse, 1);
    flow_table_free(t);
}

Test(flow, icmp_echo_is_one_flow)
{
    struct flow_table *t = table(0);
    struct vg_packet req = pkt("10.0.0.1", 0, "8.8.8.8", 0, 1, 0, T0);
    req.icmp_type = 8;
    struct vg_packet rep = pkt("8.8.8.8", 0, "10.0.0.1", 0, 1, 0, T0 + 1);
    rep.icmp_type = 0;
    struct flow *f = feed(t, &req, NULL);
    cr_assert_eq(feed(t, &rep, NULL), f);
    cr_assert_eq(f->icmp_type[FLOW_DIR_TOSERVER], 8);
    cr_assert_eq(f->icmp_type[FLOW_DIR_TOCLIENT], 0);
    cr_assert_eq(f->state, FLOW_STATE_ESTABLISHED);
    cr_assert_eq(flow_table_stats(t)->icmpv4, 1);
    flow_table_free(t);
}

Test(flow, flow_id_is_deterministic)
{
    struct flow_table *a = table(0), *b = table(0);
    struct vg_packet p = pkt("2001:db8::1", 1, "2001:db8::2", 2, 17, 0, T0);
    uint64_t ida = feed(a, &p, NULL)->flow_id;
    uint64_t idb = feed(b, &p, NULL)->flow_id;
    cr_assert_eq(ida, idb);
    cr_assert_lt(ida, 1ULL << 51);
    cr_assert_gt(ida, 0);
    flow_table_free(a);
    flow_table_free(b);
}

Test(flow, memcap_evicts_the_oldest)
{
    /* Room for the buckets plus about 100 flows. */
    uint64_t cap = 1024 * sizeof(void *) + 100 * sizeof(struct flow);
    struct flow_table *t = table(cap);
    char src[32];
    for (unsigned i = 0; i < 1000; i++) {
        snprintf(src, sizeof(src), "10.1.%u.%u", i / 250, 1 + i % 250);
        struct vg_packet p = pkt(src, 1000, "10.0.0.2", 53, 17, 0, T0 + i * 1000);
        cr_assert_not_null(feed(t, &p, NULL));
    }
    const struct flow_stats *st = flow_table_stats(t);
    cr_assert_eq(st->total, 1000);
    cr_assert_eq(st->memcap_evictions, 1000 - st->active);
    cr_assert_leq(st->active, 100);
    cr_assert_leq(st->memuse, cap);
    /* The evicted flows are the first ones, in order, ended as forced. */
    for (unsigned i = 0; i < 10; i++) {
        cr_assert_eq(ends[i].reason, FLOW_END_FORCED);
        cr_assert_eq(ends[i].pkts[0], 1);
    }
    flow_table_flush(t, T0 + 2 * SEC);
    cr_assert_eq(nends, 1000);
    flow_table_free(t);
}

Test(flow, memcap_too_small_is_an_error)
{
    struct flow_config c;
    flow_config_defaults(&c);
    c.memcap = 1000;
    char err[VG_ERRBUF_SIZE] = "";
    cr_assert_null(flow_table_new(&c, NULL, NULL, err));
    cr_assert(strstr(err, "memcap") != NULL, "%s", err);
}

Test(flow, names)
{
    cr_assert_str_eq(flow_state_name(FLOW_STATE_ESTABLISHED), "established");
    cr_assert_str_eq(flow_end_reason_name(FLOW_END_SHUTDOWN), "shutdown");
    cr_assert_str_eq(flow_tcp_state_name(FLOW_TCP_FIN_WAIT2), "fin_wait2");
    cr_assert_str_eq(flow_tcp_state_name(99), "unknown");
    cr_assert_eq(flow_proto_class(58), FLOW_PROTO_ICMP);
    cr_assert_eq(flow_proto_class(47), FLOW_PROTO_OTHER);
}
