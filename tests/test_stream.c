/* test_stream.c: TCP reassembly: order, overlaps per policy, wrap-around, SYNs, gaps, limits. */
#include <criterion/criterion.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktgen.h"
#include "vigil/decode.h"
#include "vigil/stream.h"

/* What the callback received, per direction: data, gaps as "<gapN>", notices as text. */
struct rx {
    char out[2][8192];
    size_t len[2];
    uint64_t next[2]; /* offset the next call must start at */
    unsigned eof[2], depth[2], gaps[2], calls[2];
    uint64_t gap_bytes[2];
    int count_only; /* check offsets but keep no data */
};
static struct rx rx;

static void put(int dir, const void *p, size_t n)
{
    cr_assert_lt(rx.len[dir] + n, sizeof(rx.out[dir]), "output overflow");
    memcpy(rx.out[dir] + rx.len[dir], p, n);
    rx.len[dir] += n;
    rx.out[dir][rx.len[dir]] = '\0';
}

static void on_data(void *ctx, struct flow *f, int dir, const uint8_t *data, uint32_t len,
                    uint64_t offset, unsigned flags)
{
    (void)ctx;
    (void)f;
    cr_assert(dir == 0 || dir == 1);
    cr_assert_eq(rx.eof[dir], 0, "call after EOF in direction %d", dir);
    cr_assert_eq(offset, rx.next[dir], "direction %d: offset %llu, expected %llu", dir,
                 (unsigned long long)offset, (unsigned long long)rx.next[dir]);
    rx.calls[dir]++;
    char tag[64];
    switch (flags) {
    case 0:
        cr_assert_not_null(data);
        cr_assert_gt(len, 0);
        cr_assert_eq(rx.depth[dir], 0, "data after the depth notice");
        if (!rx.count_only)
            put(dir, data, len);
        rx.next[dir] += len;
        break;
    case STREAM_DATA_GAP:
        cr_assert_null(data);
        cr_assert_gt(len, 0);
        snprintf(tag, sizeof(tag), "<gap%u>", len);
        put(dir, tag, strlen(tag));
        rx.gaps[dir]++;
        rx.gap_bytes[dir] += len;
        rx.next[dir] += len;
        break;
    case STREAM_DATA_EOF:
        cr_assert_null(data);
        cr_assert_eq(len, 0);
        rx.eof[dir]++;
        break;
    case STREAM_DATA_DEPTH:
        cr_assert_null(data);
        cr_assert_eq(rx.depth[dir], 0, "two depth notices");
        rx.depth[dir]++;
        break;
    default:
        cr_assert_fail("unexpected flags %u", flags);
    }
}

static struct stream_engine *eng;
static struct flow flw;

static struct stream_engine *engine_with(const struct stream_config *c)
{
    char err[VG_ERRBUF_SIZE];
    struct stream_engine *e = stream_engine_new(c, err);
    cr_assert_not_null(e, "%s", err);
    return e;
}

/* A fresh engine with the defaults changed by the arguments (0 keeps a default). */
static void setup_with(const char *policy, uint32_t depth, uint64_t memcap, uint32_t maxsegs,
                       int midstream)
{
    struct stream_config c;
    stream_config_defaults(&c);
    if (policy != NULL) {
        int pol = stream_policy_parse(policy);
        cr_assert_geq(pol, 0, "policy %s", policy);
        c.policy = (enum stream_policy)pol;
    }
    if (depth)
        c.depth = depth;
    if (memcap)
        c.memcap = memcap;
    if (maxsegs)
        c.max_segments = maxsegs;
    c.midstream = midstream;
    if (eng != NULL) {
        if (flw.stream != NULL)
            stream_flow_end(eng, &flw, NULL, NULL);
        stream_engine_free(eng);
    }
    eng = engine_with(&c);
    memset(&flw, 0, sizeof(flw));
    memset(&rx, 0, sizeof(rx));
}

static void teardown(void)
{
    if (eng != NULL) {
        if (flw.stream != NULL)
            stream_flow_end(eng, &flw, on_data, NULL);
        struct stream_stats st;
        stream_engine_stats(eng, &st);
        cr_expect_eq(st.memuse, 0, "memuse %llu after every flow ended",
                     (unsigned long long)st.memuse);
        stream_engine_free(eng);
        eng = NULL;
    }
}

static void fresh_flow(void)
{
    if (flw.stream != NULL)
        stream_flow_end(eng, &flw, NULL, NULL);
    memset(&flw, 0, sizeof(flw));
    memset(&rx, 0, sizeof(rx));
}

/* Feeds one TCP segment to the current flow; returns the events. */
static unsigned feedn(int dir, uint8_t flags, uint32_t seq, uint32_t ack, const void *data,
                      size_t len)
{
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.proto = 6;
    p.ip_ver = 4;
    p.flags = VG_PKT_HAS_PORTS;
    p.tcp_flags = flags;
    p.tcp_seq = seq;
    p.tcp_ack = ack;
    p.data = data;
    p.payload_off = 0;
    p.payload_len = (uint32_t)len;
    p.caplen = (uint32_t)len;
    return stream_handle_packet(eng, &flw, &p, dir, on_data, NULL);
}

static unsigned feed(int dir, uint8_t flags, uint32_t seq, const char *s)
{
    return feedn(dir, flags, seq, 0, s, s ? strlen(s) : 0);
}

#define SYN VG_TH_SYN
#define ACK VG_TH_ACK
#define FIN VG_TH_FIN
#define RST VG_TH_RST
#define PA (VG_TH_PUSH | VG_TH_ACK)

enum { CISN = 1000, SISN = 50000 };

/* Client SYN at CISN, server SYN/ACK at SISN, client ACK. */
static void handshake(void)
{
    cr_assert_eq(feedn(0, SYN, CISN, 0, NULL, 0), 0);
    cr_assert_eq(feedn(1, SYN | ACK, SISN, CISN + 1, NULL, 0), 0);
    cr_assert_eq(feedn(0, ACK, CISN + 1, SISN + 1, NULL, 0), 0);
}

static void end_flow(void)
{
    stream_flow_end(eng, &flw, on_data, NULL);
}

static struct stream_stats stats(void)
{
    struct stream_stats st;
    stream_engine_stats(eng, &st);
    return st;
}

/* Ends the current flow and checks that the engine holds no memory and no flow any more. */
static void finish(void)
{
    if (flw.stream != NULL)
        stream_flow_end(eng, &flw, rx.calls[0] + rx.calls[1] ? on_data : NULL, NULL);
    struct stream_stats st = stats();
    cr_assert_eq(st.memuse, 0, "memuse %llu after the flow ended", (unsigned long long)st.memuse);
    cr_assert_eq(st.flows, 0);
}

TestSuite(stream, .fini = teardown);

Test(stream, config_and_names)
{
    struct stream_config c;
    stream_config_defaults(&c);
    cr_assert_eq(c.memcap, 64ULL << 20);
    cr_assert_eq(c.depth, 1u << 20);
    cr_assert_eq(c.policy, STREAM_POLICY_BSD);
    cr_assert_eq(c.midstream, 0);
    cr_assert_gt(c.max_segments, 0);

    const char *names[] = {"first", "last",    "linux",      "old-linux", "windows",
                           "bsd",   "solaris", "macos",      "hpux10",    "hpux11",
                           "irix",  "vista",   "windows2k3", "bsd-right", "old-solaris"};
    for (size_t i = 0; i < VG_ARRAY_LEN(names); i++) {
        int p = stream_policy_parse(names[i]);
        cr_assert_geq(p, 0, "%s", names[i]);
        cr_assert_str_eq(stream_policy_name(p), names[i]);
    }
    cr_assert_eq(stream_policy_parse("beos"), -1);
    cr_assert_eq(stream_policy_parse(""), -1);
    cr_assert_eq(stream_policy_parse(NULL), -1);
    cr_assert_str_eq(stream_policy_name(999), "unknown");

    cr_assert_str_eq(stream_event_name(STREAM_EV_GAP), "stream.reassembly_seq_gap");
    cr_assert_str_eq(stream_event_name(STREAM_EV_OVERLAP_DIFF),
                     "stream.reassembly_overlap_different_data");
    cr_assert_str_eq(stream_event_name(STREAM_EV_MEMCAP), "stream.reassembly_memcap");
    cr_assert_str_eq(stream_event_name(STREAM_EV_BAD_TS), "stream.pkt_invalid_timestamp");
    cr_assert_str_eq(stream_event_name(STREAM_EV_RST_INJECT), "stream.suspected_rst_inject");
    for (unsigned b = 1; b <= STREAM_EV__LAST; b <<= 1) {
        const char *n = stream_event_name(b);
        cr_assert_not_null(n, "bit %u has no name", b);
        cr_assert_eq(strncmp(n, "stream.", 7), 0);
    }
    cr_assert_null(stream_event_name(STREAM_EV__LAST << 1));
    cr_assert_null(stream_event_name(0));

    char err[VG_ERRBUF_SIZE] = "";
    c.policy = (enum stream_policy)77;
    cr_assert_null(stream_engine_new(&c, err));
    cr_assert(strstr(err, "policy") != NULL, "%s", err);
    stream_config_defaults(&c);
    c.memcap = 1;
    cr_assert_null(stream_engine_new(&c, err));
    cr_assert(strstr(err, "memcap") != NULL, "%s", err);
}

Test(stream, in_order_both_directions)
{
    setup_with(NULL, 0, 0, 0, 0);
    handshake();
    cr_assert_eq(feed(0, PA, CISN + 1, "GET / HTTP/1.1\r\n"), 0);
    cr_assert_eq(feed(0, PA, CISN + 17, "Host: x\r\n\r\n"), 0);
    cr_assert_eq(feed(1, PA, SISN + 1, "HTTP/1.1 200 OK\r\n"), 0);
    cr_assert_str_eq(rx.out[0], "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_str_eq(rx.out[1], "HTTP/1.1 200 OK\r\n");
    /* Client FIN: EOF for the client direction only. */
    feed(0, FIN | ACK, CISN + 28, NULL);
    cr_assert_eq(rx.eof[0], 1);
    cr_assert_eq(rx.eof[1], 0);
    feed(1, FIN | PA, SISN + 18, "bye");
    cr_assert_str_eq(rx.out[1], "HTTP/1.1 200 OK\r\nbye");
    cr_assert_eq(rx.eof[1], 1);
    /* Data after the end is ignored; the end is not repeated. */
    feed(0, PA, CISN + 29, "late");
    end_flow();
    cr_assert_null(flw.stream);
    cr_assert_eq(rx.eof[0], 1);
    cr_assert_eq(rx.eof[1], 1);
    cr_assert_str_eq(rx.out[0], "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    struct stream_stats st = stats();
    cr_assert_eq(st.bytes_reassembled, 27 + 17 + 3);
    cr_assert_eq(st.gaps, 0);
    cr_assert_eq(st.out_of_order, 0);
    cr_assert_eq(st.flows, 0);
    finish();
}

Test(stream, decoded_packets)
{
    /* The same path with packets built on the wire and decoded. */
    setup_with(NULL, 0, 0, 0, 0);
    struct pg_tcp_session s = {"10.0.0.1", "10.0.0.2", 40000, 80, 7000, 90000, 0};
    struct vg_decode_stats ds;
    memset(&ds, 0, sizeof(ds));
    static struct pg g;
    struct {
        int ts;
        uint8_t fl;
        const char *d;
    } seq[] = {{1, SYN, NULL}, {0, SYN | ACK, NULL}, {1, ACK, NULL},
               {1, PA, "abc"}, {0, PA, "xyz"},       {1, PA, "def"}};
    for (size_t i = 0; i < VG_ARRAY_LEN(seq); i++) {
        size_t n = seq[i].d ? strlen(seq[i].d) : 0;
        pg_session_segment(&g, &s, seq[i].ts, seq[i].fl, seq[i].d, n);
        uint32_t adv = (uint32_t)n + ((seq[i].fl & SYN) ? 1u : 0u);
        if (seq[i].ts)
            s.cseq += adv;
        else
            s.sseq += adv;
        struct vg_packet p;
        memset(&p, 0, sizeof(p));
        p.data = g.b;
        p.caplen = p.wirelen = (uint32_t)g.len;
        p.datalink = DLT_EN10MB;
        cr_assert_eq(decode_packet(&ds, &p), 0);
        stream_handle_packet(eng, &flw, &p, seq[i].ts ? 0 : 1, on_data, NULL);
    }
    cr_assert_str_eq(rx.out[0], "abcdef");
    cr_assert_str_eq(rx.out[1], "xyz");
    finish();
}

/* Runs the segments in the order given by perm and returns 1 if the client got want. */
struct piece {
    uint32_t off, len;
};

static void run_order(const char *src, const struct piece *pc, const int *perm, int n,
                      const char *want)
{
    fresh_flow();
    handshake();
    for (int i = 0; i < n; i++) {
        const struct piece *q = &pc[perm[i]];
        feedn(0, PA, CISN + 1 + q->off, 0, src + q->off, q->len);
    }
    cr_assert_str_eq(rx.out[0], want);
    cr_assert_eq(rx.gaps[0], 0);
    end_flow();
    cr_assert_eq(rx.eof[0], 1);
    cr_assert_str_eq(rx.out[0], want);
}

/* Calls run_order for every permutation of 0..n-1 (Heap's algorithm). Returns the count. */
static int permute(const char *src, const struct piece *pc, int n, const char *want)
{
    int a[8], cnt[8] = {0}, runs = 1;
    for (int i = 0; i < n; i++)
        a[i] = i;
    run_order(src, pc, a, n, want);
    int i = 1;
    while (i < n) {
        if (cnt[i] < i) {
            int j = (i % 2) ? cnt[i] : 0, t = a[j];
            a[j] = a[i];
            a[i] = t;
            run_order(src, pc, a, n, want);
            runs++;
            cnt[i]++;
            i = 1;
        } else {
            cnt[i] = 0;
            i++;
        }
    }
    return runs;
}

Test(stream, permutations_of_five_segments)
{
    setup_with(NULL, 0, 0, 0, 0);
    const char *src = "abcdefghijklmnopqrstuvwxy";
    struct piece pc[] = {{0, 5}, {5, 5}, {10, 5}, {15, 5}, {20, 5}};
    cr_assert_eq(permute(src, pc, 5, src), 120);
    struct stream_stats st = stats();
    cr_assert_eq(st.bytes_reassembled, 120 * 25);
    cr_assert_gt(st.out_of_order, 0);
    cr_assert_eq(st.gaps, 0);
    finish();
}

Test(stream, permutations_with_identical_overlaps)
{
    setup_with("last", 0, 0, 0, 0);
    const char *src = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
    /* Overlapping and nested segments carrying the same bytes. */
    struct piece pc[] = {{0, 8}, {5, 9}, {10, 12}, {12, 4}, {20, 12}};
    cr_assert_eq(permute(src, pc, 5, src), 120);
    struct stream_stats st = stats();
    cr_assert_eq(st.overlap_diff, 0);
    cr_assert_gt(st.overlaps, 0);
    finish();
}

/*
 * Overlap policies. The client fills the hole before the two conflicting segments last (up to
 * the new segment's start), so that both wait in the queue: first old = 'A' x 10 at [10,20),
 * then new 'B's at [ns, ne).
 */
struct geo {
    const char *what;
    uint32_t ns, ne;
};
static const struct geo geos[] = {
    {"starts before, ends after", 5, 25},  {"same start and end", 10, 20},
    {"same start, ends after", 10, 25},    {"starts after, ends after", 15, 25},
    {"starts before, ends inside", 5, 15}, {"inside", 12, 18},
    {"starts before, same end", 5, 20},
};

/* Whether new data wins, per policy, for each geometry above (Suricata's rules). */
static const struct {
    const char *policy;
    int newwins[VG_ARRAY_LEN(geos)];
} expect[] = {
    {"first", {0, 0, 0, 0, 0, 0, 0}},       {"vista", {0, 0, 0, 0, 0, 0, 0}},
    {"last", {1, 1, 1, 1, 1, 1, 1}},        {"bsd", {1, 0, 0, 0, 1, 0, 1}},
    {"windows", {1, 0, 0, 0, 1, 0, 1}},     {"macos", {1, 0, 0, 0, 1, 0, 1}},
    {"hpux10", {1, 0, 0, 0, 1, 0, 1}},      {"irix", {1, 0, 0, 0, 1, 0, 1}},
    {"windows2k3", {1, 0, 0, 0, 1, 0, 1}},  {"bsd-right", {1, 0, 0, 0, 1, 0, 1}},
    {"linux", {1, 0, 1, 0, 1, 0, 1}},       {"old-linux", {1, 1, 1, 0, 1, 0, 1}},
    {"solaris", {1, 1, 1, 1, 0, 0, 1}},     {"hpux11", {1, 1, 1, 1, 0, 0, 1}},
    {"old-solaris", {1, 1, 1, 1, 0, 0, 1}},
};

/* The client stream expected: digits, then per byte A or B by who wins, up to 25 bytes. */
static void expected(const struct geo *g, int newwins, char *out)
{
    memcpy(out, "0123456789", 10);
    for (uint32_t i = g->ns; i < 10; i++)
        out[i] = 'B'; /* the new segment alone covers these */
    uint32_t end = g->ne > 20 ? g->ne : 20;
    for (uint32_t i = 10; i < end; i++) {
        int in_old = i < 20, in_new = i >= g->ns && i < g->ne;
        out[i] = (in_new && (!in_old || newwins)) ? 'B' : 'A';
    }
    out[end] = '\0';
}

Test(stream, overlap_policies_in_queue)
{
    char as[32], bs[32], want[32];
    memset(as, 'A', sizeof(as));
    memset(bs, 'B', sizeof(bs));
    for (size_t pi = 0; pi < VG_ARRAY_LEN(expect); pi++) {
        setup_with(expect[pi].policy, 0, 0, 0, 0);
        for (size_t gi = 0; gi < VG_ARRAY_LEN(geos); gi++) {
            const struct geo *g = &geos[gi];
            fresh_flow();
            handshake();
            cr_assert_eq(feedn(0, PA, CISN + 11, 0, as, 10), 0);
            unsigned ev = feedn(0, PA, CISN + 1 + g->ns, 0, bs, g->ne - g->ns);
            cr_assert(ev & STREAM_EV_OVERLAP_DIFF, "%s: no overlap event", g->what);
            feedn(0, PA, CISN + 1, 0, "0123456789", g->ns < 10 ? g->ns : 10);
            expected(g, expect[pi].newwins[gi], want);
            cr_assert_str_eq(rx.out[0], want, "policy %s, %s: got %s, want %s", expect[pi].policy,
                             g->what, rx.out[0], want);
        }
        fresh_flow();
        struct stream_stats st = stats();
        cr_assert_eq(st.overlap_diff, VG_ARRAY_LEN(geos));
    }
    finish();
}

Test(stream, overlap_policy_with_in_order_segment)
{
    /* The queued old data [10,20) meets a new segment [0,25) that is in order at once. */
    const struct {
        const char *policy;
        const char *want;
    } cases[] = {
        {"bsd", "BBBBBBBBBBBBBBBBBBBBBBBBB"},
        {"first", "BBBBBBBBBBAAAAAAAAAABBBBB"},
        {"solaris", "BBBBBBBBBBBBBBBBBBBBBBBBB"},
        {"last", "BBBBBBBBBBBBBBBBBBBBBBBBB"},
    };
    for (size_t i = 0; i < VG_ARRAY_LEN(cases); i++) {
        setup_with(cases[i].policy, 0, 0, 0, 0);
        handshake();
        feed(0, PA, CISN + 11, "AAAAAAAAAA");
        unsigned ev = feed(0, PA, CISN + 1, "BBBBBBBBBBBBBBBBBBBBBBBBB");
        cr_assert(ev & STREAM_EV_OVERLAP_DIFF);
        cr_assert_str_eq(rx.out[0], cases[i].want, "%s", cases[i].policy);
    }
    /* A short in-order segment ending inside the queued one: the old tail stays (bsd). */
    setup_with("bsd", 0, 0, 0, 0);
    handshake();
    feed(0, PA, CISN + 6, "AAAAAAAAAA");
    feed(0, PA, CISN + 1, "BBBBBBBB");
    cr_assert_str_eq(rx.out[0], "BBBBBBBBAAAAAAA");
    finish();
}

Test(stream, sequence_wraparound)
{
    setup_with(NULL, 0, 0, 0, 0);
    const uint32_t isn = 0xFFFFFFF0u;
    feedn(0, SYN, isn, 0, NULL, 0);
    feedn(1, SYN | ACK, 7, isn + 1, NULL, 0);
    /* 30 bytes from isn+1 cross 2^32 after 15; sent out of order. */
    const char *src = "abcdefghijklmnopqrstuvwxyz0123";
    feedn(0, PA, isn + 1 + 20, 0, src + 20, 10); /* seq 5: past the wrap */
    feedn(0, PA, isn + 1 + 10, 0, src + 10, 10); /* straddles the wrap */
    cr_assert_eq(rx.len[0], 0);
    feedn(0, PA, isn + 1, 0, src, 10);
    cr_assert_str_eq(rx.out[0], src);
    feedn(0, FIN | ACK, isn + 31, 0, NULL, 0);
    cr_assert_eq(rx.eof[0], 1);
    cr_assert_eq(rx.next[0], 30);

    /* Server side: the ISN just below 2^31 and data far past it. */
    fresh_flow();
    feedn(0, SYN, 1, 0, NULL, 0);
    feedn(1, SYN | ACK, 0x7FFFFFFFu, 2, NULL, 0);
    char big[1000];
    memset(big, 'z', sizeof(big));
    for (uint32_t off = 0; off < 5000; off += 1000)
        feedn(1, PA, 0x80000000u + off, 0, big, 1000);
    cr_assert_eq(rx.next[1], 5000);
    cr_assert_eq(rx.gaps[1], 0);
    finish();
}

Test(stream, duplicate_syns)
{
    setup_with(NULL, 0, 0, 0, 0);
    /* A second SYN with a new ISN before any answer replaces the first. */
    feedn(0, SYN, 100, 0, NULL, 0);
    unsigned ev = feedn(0, SYN, 5000, 0, NULL, 0);
    cr_assert_eq(ev, 0);
    feedn(1, SYN | ACK, 9000, 5001, NULL, 0);
    feed(0, PA, 5001, "new");
    ev = feed(0, PA, 101, "old");
    cr_assert_str_eq(rx.out[0], "new");
    cr_assert_eq(stats().dup_syn, 1);

    /* Once the SYN/ACK answered it, a SYN with another ISN is ignored, with its data. */
    fresh_flow();
    handshake();
    ev = feedn(0, SYN, 777777, 0, "evil", 4);
    cr_assert_eq(ev, STREAM_EV_DUP_SYN);
    feed(0, PA, CISN + 1, "good");
    cr_assert_str_eq(rx.out[0], "good");

    /* The same SYN again is harmless; a new ISN once data flowed raises its event. */
    ev = feedn(0, SYN, CISN, 0, NULL, 0);
    cr_assert_eq(ev, 0);
    ev = feedn(0, SYN, 123, 0, NULL, 0);
    cr_assert_eq(ev, STREAM_EV_EST_SYN_DIFF);
    feed(0, PA, CISN + 5, "more");
    cr_assert_str_eq(rx.out[0], "goodmore");

    /* A SYN/ACK resent with another ISN: the first stands. */
    ev = feedn(1, SYN | ACK, 4242, CISN + 1, NULL, 0);
    cr_assert_eq(ev, STREAM_EV_SYNACK_DIFF);
    feed(1, PA, SISN + 1, "srv");
    feed(1, PA, 4243, "bad");
    cr_assert_str_eq(rx.out[1], "srv");
    cr_assert_eq(stats().dup_syn, 4);

    /* Data on a SYN follows the ISN. */
    fresh_flow();
    feedn(0, SYN, 10, 0, "tfo", 3);
    feed(0, PA, 14, "!");
    cr_assert_str_eq(rx.out[0], "tfo!");
    finish();
}

Test(stream, retransmissions)
{
    setup_with(NULL, 0, 0, 0, 0);
    handshake();
    feed(0, PA, CISN + 1, "hello");
    unsigned ev = feed(0, PA, CISN + 1, "hello");
    cr_assert_eq(ev, STREAM_EV_RETRANSMISSION);
    feed(0, PA, CISN + 3, "llo wor"); /* partly old, partly new */
    cr_assert_str_eq(rx.out[0], "hello wor");
    /* A queued segment sent twice identically. */
    feed(0, PA, CISN + 19, "XYZ");
    ev = feed(0, PA, CISN + 19, "XYZ");
    cr_assert_eq(ev, STREAM_EV_RETRANSMISSION);
    feed(0, PA, CISN + 10, "ld, 0123 ");
    cr_assert_str_eq(rx.out[0], "hello world, 0123 XYZ");
    struct stream_stats st = stats();
    cr_assert_eq(st.retransmissions, 2);
    cr_assert_eq(st.overlap_diff, 0);
    cr_assert_eq(st.out_of_order, 1);
    finish();
}

Test(stream, gaps_reported_at_flow_end)
{
    setup_with(NULL, 0, 0, 0, 0);
    handshake();
    feed(0, PA, CISN + 1, "abcde");
    feed(0, PA, CISN + 11, "klmno");
    feed(0, PA, CISN + 21, "uvw");
    feed(0, FIN | ACK, CISN + 30, NULL); /* FIN with more missing before it */
    cr_assert_str_eq(rx.out[0], "abcde");
    cr_assert_eq(rx.eof[0], 0, "EOF must wait for the data before the FIN");
    end_flow();
    cr_assert_str_eq(rx.out[0], "abcde<gap5>klmno<gap5>uvw<gap6>");
    cr_assert_eq(rx.eof[0], 1);
    cr_assert_eq(rx.eof[1], 1);
    struct stream_stats st = stats();
    cr_assert_eq(st.gaps, 3);
    cr_assert_eq(st.gap_bytes, 16);
    finish();
}

Test(stream, fin_waits_for_missing_data)
{
    setup_with(NULL, 0, 0, 0, 0);
    handshake();
    feed(0, PA, CISN + 4, "def");
    feed(0, FIN | PA, CISN + 7, "gh");
    cr_assert_eq(rx.eof[0], 0);
    feed(0, PA, CISN + 20, "after the FIN");
    feed(0, PA, CISN + 1, "abc");
    cr_assert_str_eq(rx.out[0], "abcdefgh");
    cr_assert_eq(rx.eof[0], 1);
    finish();
}

Test(stream, queue_limit_forces_gaps)
{
    setup_with(NULL, 0, 0, 3, 0);
    handshake();
    unsigned ev = 0;
    /* A hole at [0,2), then segments two apart: the fourth finds the queue full. */
    for (uint32_t off = 2; off < 20; off += 4)
        ev |= feedn(0, PA, CISN + 1 + off, 0, "xx", 2);
    cr_assert(ev & STREAM_EV_GAP);
    cr_assert(rx.gaps[0] >= 1);
    cr_assert(strncmp(rx.out[0], "<gap2>xx<gap2>xx", 16) == 0, "%s", rx.out[0]);
    end_flow();
    cr_assert_str_eq(rx.out[0], "<gap2>xx<gap2>xx<gap2>xx<gap2>xx<gap2>xx");
    finish();
}

Test(stream, depth)
{
    setup_with(NULL, 10, 0, 0, 0);
    handshake();
    feed(0, PA, CISN + 1, "0123");
    feed(0, PA, CISN + 13, "CDEF"); /* queued past the depth: cut */
    unsigned ev = feed(0, PA, CISN + 5, "456789AB");
    cr_assert(ev & STREAM_EV_DEPTH);
    cr_assert_str_eq(rx.out[0], "0123456789");
    cr_assert_eq(rx.depth[0], 1);
    ev = feed(0, PA, CISN + 17, "more");
    cr_assert_eq(ev & STREAM_EV_DEPTH, 0);
    cr_assert_eq(rx.depth[0], 1);
    feed(1, PA, SISN + 1, "server side is separate");
    cr_assert_str_eq(rx.out[1], "server sid");
    end_flow();
    cr_assert_eq(rx.eof[0], 1);
    cr_assert_eq(rx.eof[1], 1);
    struct stream_stats st = stats();
    cr_assert_eq(st.depth_reached, 2);
    cr_assert_eq(st.bytes_reassembled, 20);

    /* Depth 0 is unlimited. */
    struct stream_config c;
    stream_config_defaults(&c);
    c.depth = 0;
    fresh_flow();
    stream_engine_free(eng);
    eng = engine_with(&c);
    handshake();
    rx.count_only = 1;
    static char big[4000];
    memset(big, 'q', sizeof(big));
    for (uint32_t i = 0; i < 400; i++)
        feedn(0, PA, CISN + 1 + i * 4000, 0, big, 4000);
    cr_assert_eq(rx.next[0], 1600000);
    cr_assert_eq(rx.depth[0], 0);
    finish();
}

Test(stream, memcap)
{
    /* Room for the flow states and a little queued data. */
    setup_with(NULL, 0, 4096, 0, 0);
    handshake();
    char blk[600];
    memset(blk, 'm', sizeof(blk));
    unsigned ev = 0;
    for (uint32_t i = 1; i < 12; i++)
        ev |= feedn(0, PA, CISN + 1 + i * 600, 0, blk, 600);
    cr_assert(ev & STREAM_EV_MEMCAP);
    cr_assert(ev & STREAM_EV_GAP);
    struct stream_stats st = stats();
    cr_assert_leq(st.memuse, 4096);
    cr_assert_geq(st.memcap_drops, 1);
    /* Nothing was lost but the hole at the front. */
    end_flow();
    cr_assert_eq(rx.gaps[0], 1);
    cr_assert_eq(rx.gap_bytes[0], 600);
    cr_assert_eq(rx.next[0], 12 * 600);
    cr_assert_eq(stats().memuse, 0);
    finish();
}

Test(stream, memcap_refuses_flow_state)
{
    /* Room for one flow's state only (about 120 bytes) and no queued segment. */
    setup_with(NULL, 0, 160, 0, 0);
    handshake();
    struct flow other;
    memset(&other, 0, sizeof(other));
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.proto = 6;
    p.tcp_flags = SYN;
    p.tcp_seq = 1;
    cr_assert_eq(stream_handle_packet(eng, &other, &p, 0, on_data, NULL), STREAM_EV_MEMCAP);
    cr_assert_null(other.stream);
    /* The first flow goes on, out-of-order data forcing a gap rather than being queued. */
    unsigned ev = feed(0, PA, CISN + 4, "def");
    cr_assert(ev & STREAM_EV_MEMCAP);
    cr_assert(ev & STREAM_EV_GAP);
    cr_assert_str_eq(rx.out[0], "<gap3>def");
    feed(0, PA, CISN + 7, "ghi");
    cr_assert_str_eq(rx.out[0], "<gap3>defghi");
    struct stream_stats st = stats();
    cr_assert_eq(st.memcap_drops, 2);
    cr_assert_leq(st.memuse, 160);
    cr_assert_eq(st.flows, 1);
    finish();
}

Test(stream, memcap_shared_between_flows)
{
    /* Two flows of one engine: one cannot queue past the cap, the other is untouched. */
    setup_with(NULL, 0, 3000, 0, 0);
    struct flow a = flw, b;
    memset(&b, 0, sizeof(b));
    handshake();
    a = flw;
    flw = b;
    handshake();
    b = flw;
    char blk[500];
    memset(blk, 'a', sizeof(blk));
    flw = a;
    feedn(0, PA, CISN + 1001, 0, blk, 500); /* queued in a */
    feedn(0, PA, CISN + 2001, 0, blk, 500);
    a = flw;
    flw = b;
    unsigned ev = 0;
    memset(blk, 'b', sizeof(blk));
    for (uint32_t i = 1; i < 8; i++)
        ev |= feedn(0, PA, CISN + 1 + i * 1000, 0, blk, 500);
    b = flw;
    cr_assert(ev & STREAM_EV_MEMCAP);
    cr_assert_leq(stats().memuse, 3000);
    /* a still has its queue intact. */
    memset(&rx, 0, sizeof(rx));
    flw = a;
    memset(blk, 'a', sizeof(blk));
    feedn(0, PA, CISN + 1, 0, blk, 500);
    cr_assert_eq(rx.next[0], 500);
    stream_flow_end(eng, &flw, NULL, NULL);
    flw = b;
    stream_flow_end(eng, &flw, NULL, NULL);
    cr_assert_eq(stats().memuse, 0);
}

Test(stream, rst_ends_both_directions)
{
    setup_with(NULL, 0, 0, 0, 0);
    handshake();
    feed(0, PA, CISN + 1, "abc");
    feed(0, PA, CISN + 10, "jkl"); /* queued behind a hole */
    feed(1, PA, SISN + 1, "resp");
    /* An RST far outside the window is ignored. */
    unsigned ev = feedn(1, RST, SISN + 0x70000000u, 0, NULL, 0);
    cr_assert_eq(ev, STREAM_EV_OUT_OF_WINDOW);
    cr_assert_eq(rx.eof[0] + rx.eof[1], 0);
    feedn(1, RST | ACK, SISN + 5, CISN + 4, "ignored payload", 15);
    cr_assert_eq(rx.eof[0], 1);
    cr_assert_eq(rx.eof[1], 1);
    cr_assert_str_eq(rx.out[0], "abc<gap6>jkl");
    cr_assert_str_eq(rx.out[1], "resp");
    feed(0, PA, CISN + 13, "after");
    end_flow();
    cr_assert_eq(rx.eof[0], 1);
    cr_assert_str_eq(rx.out[0], "abc<gap6>jkl");
    finish();
}

/* Feeds a segment whose TCP header carries the options opts (hlen 20 + olen) before data. */
static unsigned feed_opts(int dir, uint8_t flags, uint32_t seq, uint32_t ack, const uint8_t *opts,
                          size_t olen, const char *data)
{
    static uint8_t buf[256];
    size_t dlen = data ? strlen(data) : 0;
    cr_assert_leq(20 + olen + dlen, sizeof(buf));
    memset(buf, 0, 20);
    if (olen)
        memcpy(buf + 20, opts, olen);
    if (dlen)
        memcpy(buf + 20 + olen, data, dlen);
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.proto = 6;
    p.ip_ver = 4;
    p.flags = VG_PKT_HAS_PORTS;
    p.tcp_flags = flags;
    p.tcp_seq = seq;
    p.tcp_ack = ack;
    p.data = buf;
    p.l4_off = 0;
    p.payload_off = (uint32_t)(20 + olen);
    p.payload_len = (uint32_t)dlen;
    p.caplen = (uint32_t)(20 + olen + dlen);
    return stream_handle_packet(eng, &flw, &p, dir, on_data, NULL);
}

/* Options NOP NOP TS(tsval, tsecr). */
static const uint8_t *ts_opt(uint32_t tsval, uint32_t tsecr)
{
    static uint8_t o[12];
    o[0] = 1;
    o[1] = 1;
    o[2] = 8;
    o[3] = 10;
    for (int i = 0; i < 4; i++) {
        o[4 + i] = (uint8_t)(tsval >> (24 - 8 * i));
        o[8 + i] = (uint8_t)(tsecr >> (24 - 8 * i));
    }
    return o;
}

Test(stream, rst_from_sender_that_goes_on_is_undone)
{
    /* security-4710-02: the client's RST before any data, then its request: Suricata takes
     * the RST as injected (stream.suspected_rst_inject) and parses the request and answer. */
    setup_with(NULL, 0, 0, 0, 0);
    handshake();
    cr_assert_eq(feedn(0, RST | ACK, CISN + 1, SISN + 1, NULL, 0), 0);
    cr_assert_eq(rx.eof[0] + rx.eof[1], 0, "directions without data stay open");
    cr_assert_eq(feedn(0, RST | ACK, CISN + 1, SISN + 1, NULL, 0), 0, "a second RST is ignored");
    cr_assert_eq(feed(0, PA, CISN + 1, "GET / HTTP/1.0\r\n\r\n"), STREAM_EV_RST_INJECT);
    cr_assert_eq(feed(1, PA, SISN + 1, "HTTP/1.0 200 OK\r\n\r\n"), 0);
    cr_assert_str_eq(rx.out[0], "GET / HTTP/1.0\r\n\r\n");
    cr_assert_str_eq(rx.out[1], "HTTP/1.0 200 OK\r\n\r\n");
    end_flow();
    cr_assert_eq(rx.eof[0], 1);
    cr_assert_eq(rx.eof[1], 1);
    finish();
}

Test(stream, rst_receiver_is_ignored_and_data_directions_end)
{
    setup_with(NULL, 0, 0, 0, 0);
    handshake();
    feed(0, PA, CISN + 1, "abc");
    feed(0, PA, CISN + 6, "fg"); /* queued behind a hole */
    /* The server RSTs: the client's data is delivered across the hole and ends; the server,
     * which sent nothing, stays open. */
    cr_assert_eq(feedn(1, RST | ACK, SISN + 1, CISN + 4, NULL, 0), STREAM_EV_GAP);
    cr_assert_str_eq(rx.out[0], "abc<gap2>fg");
    cr_assert_eq(rx.eof[0], 1);
    cr_assert_eq(rx.eof[1], 0);
    /* The receiver's later packets are ignored, the session is closed. */
    cr_assert_eq(feed(0, PA, CISN + 8, "late"), 0);
    cr_assert_str_eq(rx.out[0], "abc<gap2>fg");
    /* The server going on means the RST was injected: its own data is taken again. */
    cr_assert_eq(feed(1, PA, SISN + 1, "resp"), STREAM_EV_RST_INJECT);
    cr_assert_str_eq(rx.out[1], "resp");
    cr_assert_eq(feed(0, PA, CISN + 8, "more"), 0, "the ended direction stays ended");
    cr_assert_str_eq(rx.out[0], "abc<gap2>fg");
    end_flow();
    cr_assert_eq(rx.eof[0], 1);
    cr_assert_eq(rx.eof[1], 1);
    finish();
}

Test(stream, answers_to_syn_with_a_foreign_timestamp_are_ignored)
{
    /* bug-3286 (Linux): RST and FIN "from the server" echo TSecr 100, not the SYN's TSval. */
    setup_with(NULL, 0, 0, 0, 0);
    cr_assert_eq(feed_opts(0, SYN, CISN, 0, ts_opt(777, 0), 12, NULL), 0);
    cr_assert_eq(feed_opts(1, RST | ACK, 0, CISN + 1, ts_opt(100, 100), 12, NULL),
                 STREAM_EV_BAD_TS);
    cr_assert_eq(feed_opts(1, FIN | ACK, 0, CISN + 1, ts_opt(100, 100), 12, NULL),
                 STREAM_EV_BAD_TS);
    cr_assert_eq(rx.eof[0] + rx.eof[1], 0);
    /* The real SYN/ACK echoes the SYN's TSval and the session goes on. */
    cr_assert_eq(feed_opts(1, SYN | ACK, SISN, CISN + 1, ts_opt(5, 777), 12, NULL), 0);
    cr_assert_eq(feed_opts(0, PA, CISN + 1, SISN + 1, ts_opt(778, 5), 12, "GET /"), 0);
    /* Once the SYN/ACK is in, the check is over (later echoes move on). */
    cr_assert_eq(feed_opts(1, PA, SISN + 1, CISN + 6, ts_opt(6, 778), 12, "200"), 0);
    cr_assert_str_eq(rx.out[0], "GET /");
    cr_assert_str_eq(rx.out[1], "200");
    cr_assert_eq(rx.eof[0] + rx.eof[1], 0);
    finish();

    /* bug-3286 (Windows): a SYN without timestamps answered by an RST echoing one. */
    fresh_flow();
    cr_assert_eq(feed_opts(0, SYN, CISN, 0, NULL, 0, NULL), 0);
    cr_assert_eq(feed_opts(1, RST | ACK, 0, CISN + 1, ts_opt(100, 100), 12, NULL),
                 STREAM_EV_BAD_TS);
    /* An echo of 0 and an answer without the option are fine. */
    cr_assert_eq(feed_opts(1, SYN | ACK, SISN, CISN + 1, ts_opt(5, 0), 12, NULL), 0);
    cr_assert_eq(feed(1, PA, SISN + 1, "x"), 0);
    cr_assert_str_eq(rx.out[1], "x");
    finish();

    /* bug-4376: a SYN resent with a new TSval; the SYN/ACK echoes the second. */
    fresh_flow();
    cr_assert_eq(feed_opts(0, SYN, CISN, 0, ts_opt(330, 0), 12, NULL), 0);
    cr_assert_eq(feed_opts(0, SYN, CISN, 0, ts_opt(580, 0), 12, NULL), 0);
    cr_assert_eq(feed_opts(1, SYN | ACK, SISN, CISN + 1, ts_opt(9, 330), 12, NULL),
                 STREAM_EV_BAD_TS);
    cr_assert_eq(feed_opts(1, SYN | ACK, SISN, CISN + 1, ts_opt(9, 580), 12, NULL), 0);
    finish();
}

Test(stream, malformed_tcp_options_carry_no_timestamp)
{
    static const uint8_t bad[][12] = {
        {8, 10, 0, 0, 0, 100, 0, 0},             /* TS cut short by the header end */
        {2, 0, 8, 10, 0, 0, 0, 1, 0, 0, 0, 100}, /* length 0 before the TS */
        {2, 200, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* length past the header */
        {0, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 100}, /* end of options before the TS */
        {8, 9, 0, 0, 0, 1, 0, 0, 0, 100, 1, 1},  /* TS with a wrong length */
        {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 8},    /* kind byte alone at the end */
    };
    static const size_t lens[] = {8, 12, 12, 12, 12, 12};
    setup_with(NULL, 0, 0, 0, 0);
    for (size_t i = 0; i < VG_ARRAY_LEN(bad); i++) {
        fresh_flow();
        cr_assert_eq(feed_opts(0, SYN, CISN, 0, NULL, 0, NULL), 0);
        /* Had a TS with TSecr 100 been read, the answer would be refused. */
        cr_assert_eq(feed_opts(1, SYN | ACK, SISN, CISN + 1, bad[i], lens[i], NULL), 0,
                     "options %zu", i);
        cr_assert_eq(feed(1, PA, SISN + 1, "ok"), 0);
        cr_assert_str_eq(rx.out[1], "ok", "options %zu", i);
    }
    finish();
}

Test(stream, midstream_off_and_on)
{
    setup_with(NULL, 0, 0, 0, 0);
    unsigned ev = feed(0, PA, 5555, "no handshake");
    cr_assert_eq(ev, 0);
    cr_assert_null(flw.stream);
    cr_assert_eq(rx.calls[0], 0);
    cr_assert_eq(stats().nosyn_ignored, 1);
    end_flow(); /* no state: nothing to do */
    cr_assert_eq(rx.eof[0], 0);

    setup_with(NULL, 0, 0, 0, 1);
    ev = feedn(0, PA, 5555, 9999, "picked ", 7);
    cr_assert_eq(ev, STREAM_EV_MIDSTREAM);
    feed(0, PA, 5562, "up");
    /* The server's data starts where the client's ACK said; its first segment is missing. */
    feed(1, PA, 10001, "rver");
    cr_assert_str_eq(rx.out[0], "picked up");
    cr_assert_str_eq(rx.out[1], "");
    feed(1, PA, 9999, "se");
    cr_assert_str_eq(rx.out[1], "server");
    struct stream_stats st = stats();
    cr_assert_eq(st.midstream_pickups, 1);
    end_flow();
    cr_assert_eq(rx.eof[0], 1);
    cr_assert_eq(rx.eof[1], 1);
    finish();
}

Test(stream, synack_missed_server_picked_up_from_ack)
{
    setup_with(NULL, 0, 0, 0, 0);
    feedn(0, SYN, CISN, 0, NULL, 0);
    feedn(0, ACK, CISN + 1, SISN + 1, NULL, 0); /* SYN/ACK not captured */
    feed(1, PA, SISN + 4, "lo");                /* its first segment arrives late */
    feed(1, PA, SISN + 1, "hel");
    cr_assert_str_eq(rx.out[1], "hello");
    cr_assert_eq(stats().midstream_pickups, 0);
    finish();
}

Test(stream, ignores_what_is_not_tcp)
{
    setup_with(NULL, 0, 0, 0, 1);
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.proto = 17;
    p.data = (const uint8_t *)"udp";
    p.payload_len = 3;
    cr_assert_eq(stream_handle_packet(eng, &flw, &p, 0, on_data, NULL), 0);
    p.proto = 6;
    p.flags = VG_PKT_INVALID;
    cr_assert_eq(stream_handle_packet(eng, &flw, &p, 0, on_data, NULL), 0);
    p.flags = 0;
    cr_assert_eq(stream_handle_packet(eng, &flw, &p, 2, on_data, NULL), 0);
    cr_assert_null(flw.stream);
    /* A NULL callback only counts. */
    p.tcp_flags = SYN;
    stream_handle_packet(eng, &flw, &p, 0, NULL, NULL);
    p.tcp_flags = PA;
    p.tcp_seq = 1;
    stream_handle_packet(eng, &flw, &p, 0, NULL, NULL);
    cr_assert_eq(stats().bytes_reassembled, 3);
    stream_flow_end(eng, &flw, NULL, NULL);
    finish();
}

/* xorshift: a fixed-seed generator for the randomised cases. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

Test(stream, random_segmentation_reorder_and_resend)
{
    /* Random cuts, overlapping resends and shuffles of one consistent stream. */
    setup_with(NULL, 0, 0, 0, 0);
    static char src[4000];
    for (size_t i = 0; i < sizeof(src) - 1; i++)
        src[i] = (char)('a' + rnd(26));
    const uint32_t total = sizeof(src) - 1;
    for (int round = 0; round < 200; round++) {
        fresh_flow();
        uint32_t isn = (uint32_t)rnd(0xFFFFFFFFu) | (round & 1 ? 0xFFFFF000u : 0);
        feedn(0, SYN, isn, 0, NULL, 0);
        struct piece pc[64];
        int n = 0;
        for (uint32_t off = 0; off < total;) {
            uint32_t len = 1 + rnd(200);
            if (off + len > total || n >= 57)
                len = total - off;
            pc[n].off = off;
            pc[n].len = len;
            n++;
            /* Sometimes a resend overlapping both neighbours. */
            if (n < 58 && rnd(4) == 0) {
                uint32_t s = off > 50 ? off - rnd(50) : 0;
                uint32_t l = len + rnd(100);
                if (s + l > total)
                    l = total - s;
                pc[n].off = s;
                pc[n].len = l;
                n++;
            }
            off += len;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = (int)rnd((uint32_t)i + 1);
            struct piece t = pc[i];
            pc[i] = pc[j];
            pc[j] = t;
        }
        for (int i = 0; i < n; i++)
            feedn(0, PA, isn + 1 + pc[i].off, 0, src + pc[i].off, pc[i].len);
        cr_assert_eq(rx.len[0], total, "round %d: %zu of %u bytes", round, rx.len[0], total);
        cr_assert_eq(memcmp(rx.out[0], src, total), 0, "round %d", round);
    }
    struct stream_stats st = stats();
    cr_assert_eq(st.gaps, 0);
    cr_assert_eq(st.overlap_diff, 0);
    finish();
}
