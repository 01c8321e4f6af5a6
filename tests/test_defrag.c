/* test_defrag.c: IPv4/IPv6 fragment reassembly: ordering, overlaps per policy, memcap, limits. */
#include <criterion/criterion.h>
#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>

#include "pktgen.h"
#include "vigil/decode.h"
#include "vigil/defrag.h"

#define SRC4 "192.0.2.10"
#define DST4 "198.51.100.20"
#define SRC6 "2001:db8::10"
#define DST6 "2001:db8::20"
#define T0 (1714521600ULL * VG_USEC_PER_SEC)
#define SEC VG_USEC_PER_SEC

static struct pg g;
static struct vg_decode_stats st;
static uint8_t out[DEFRAG_MAX_PACKET];
static struct vg_packet fp; /* the fragment inserted last, as decoded */
static uint8_t *fpbuf;      /* its bytes, allocated to their exact size for ASan */
static uint8_t orig[70000]; /* the datagram before fragmentation */
static size_t orig_len;
static struct defrag *d;

static void reset(void)
{
    memset(&st, 0, sizeof(st));
    memset(&fp, 0, sizeof(fp));
    d = NULL;
}

static void cleanup(void)
{
    defrag_free(d);
    d = NULL;
    free(fpbuf);
    fpbuf = NULL;
}

TestSuite(defrag, .init = reset, .fini = cleanup);

static struct defrag *mk(enum defrag_policy policy, uint64_t memcap, uint32_t max_frags)
{
    struct defrag_config c;
    defrag_config_defaults(&c);
    c.policy = policy;
    if (memcap)
        c.memcap = memcap;
    if (max_frags)
        c.max_frags = max_frags;
    char err[VG_ERRBUF_SIZE];
    struct defrag *nd = defrag_new(&c, err);
    cr_assert_not_null(nd, "%s", err);
    return nd;
}

/* Decodes the Ethernet frame in g as the pipeline does and inserts it into dd. */
static uint32_t feed_to(struct defrag *dd, vg_time_t ts)
{
    free(fpbuf);
    fpbuf = malloc(g.len);
    cr_assert_not_null(fpbuf);
    memcpy(fpbuf, g.b, g.len);
    memset(&fp, 0, sizeof(fp));
    fp.data = fpbuf;
    fp.caplen = fp.wirelen = (uint32_t)g.len;
    fp.datalink = DLT_EN10MB;
    fp.ts = ts;
    cr_assert_eq(decode_packet(&st, &fp), 0, "fragment did not decode");
    cr_assert(fp.flags & VG_PKT_FRAGMENT, "not a fragment");
    return defrag_insert(dd, &st, &fp, out);
}

static uint32_t feed(vg_time_t ts)
{
    return feed_to(d, ts);
}

/* An IPv4 fragment: Ethernet, IPv4 (offset in bytes), then len bytes of data. */
static void frag4(uint16_t id, uint8_t proto, uint32_t off, int more, const uint8_t *data,
                  size_t len)
{
    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, SRC4, DST4, proto, id, (uint16_t)((more ? 0x2000 : 0) | (off / 8)));
    pg_bytes(&g, data, len);
    pg_finish(&g);
}

/* As frag4, with IPv4 options. */
static void frag4_opts(uint16_t id, uint8_t proto, uint32_t off, int more, const uint8_t *opts,
                       size_t optlen, const uint8_t *data, size_t len)
{
    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4_opts(&g, SRC4, DST4, proto, id, opts, optlen);
    uint16_t frag = (uint16_t)((more ? 0x2000 : 0) | (off / 8));
    g.b[14 + 6] = (uint8_t)(frag >> 8);
    g.b[14 + 7] = (uint8_t)frag;
    pg_bytes(&g, data, len);
    pg_finish(&g);
}

/* An IPv6 fragment; with_ext puts a destination options header before the fragment header. */
static void frag6(uint32_t id, uint32_t off, int more, const uint8_t *data, size_t len,
                  int with_ext)
{
    pg_init(&g);
    pg_eth(&g, 0x86dd);
    if (with_ext) {
        pg_ipv6(&g, SRC6, DST6, 60);
        pg_ipv6_ext(&g, 60, 44);
    } else {
        pg_ipv6(&g, SRC6, DST6, 44);
    }
    pg_ipv6_frag(&g, 17, (uint16_t)off, more, id);
    pg_bytes(&g, data, len);
    pg_finish(&g);
}

/* The IPv4/UDP datagram fragmented in the tests: paylen bytes of a known pattern. */
static void make_udp4(uint16_t id, size_t paylen)
{
    pg_init(&g);
    pg_ipv4(&g, SRC4, DST4, 17, id, 0);
    pg_udp(&g, 1111, 2222);
    for (size_t i = 0; i < paylen; i++)
        pg_u8(&g, (uint8_t)(i * 7 + 3));
    pg_finish(&g);
    memcpy(orig, g.b, g.len);
    orig_len = g.len;
}

/* The IPv6/UDP datagram; with_ext adds a destination options header. */
static void make_udp6(size_t paylen, int with_ext)
{
    pg_init(&g);
    if (with_ext) {
        pg_ipv6(&g, SRC6, DST6, 60);
        pg_ipv6_ext(&g, 60, 17);
    } else {
        pg_ipv6(&g, SRC6, DST6, 17);
    }
    pg_udp(&g, 3333, 4444);
    for (size_t i = 0; i < paylen; i++)
        pg_u8(&g, (uint8_t)(i * 13 + 1));
    pg_finish(&g);
    memcpy(orig, g.b, g.len);
    orig_len = g.len;
}

/* Fragment i of orig (IPv4, 20-byte header): pieces [0,400), [400,800) and [800,end). */
static const uint32_t piece4[4] = {0, 400, 800, 0};
static void piece_of_udp4(uint16_t id, int i)
{
    uint32_t flen = (uint32_t)orig_len - 20;
    uint32_t off = piece4[i];
    uint32_t end = i == 2 ? flen : piece4[i + 1];
    frag4(id, 17, off, i != 2, orig + 20 + off, end - off);
}

/* Checks that out holds orig, rebuilt, and decodes to the UDP datagram. */
static void expect_rebuilt_udp4(uint32_t n, size_t paylen)
{
    cr_assert_eq(n, orig_len, "rebuilt %u bytes, want %zu", n, orig_len);
    cr_expect_eq(memcmp(out, orig, orig_len), 0, "rebuilt bytes differ");
    cr_expect_eq((size_t)((out[2] << 8) | out[3]), orig_len, "total length");
    cr_expect_eq(out[6], 0);
    cr_expect_eq(out[7], 0);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (uint32_t)(out[i] << 8 | out[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    cr_expect_eq(sum, 0xffff, "header checksum");

    struct vg_packet r;
    memset(&r, 0, sizeof(r));
    uint8_t *copy = malloc(n);
    memcpy(copy, out, n);
    r.data = copy;
    r.caplen = r.wirelen = n;
    r.datalink = VG_DLT_REASSEMBLED;
    r.flags = VG_PKT_REASSEMBLED;
    uint64_t pkts = st.pkts;
    cr_assert_eq(decode_packet(&st, &r), 0);
    cr_expect_eq(st.pkts, pkts, "a reassembled datagram is not counted as a packet again");
    cr_expect_eq(r.flags, VG_PKT_REASSEMBLED | VG_PKT_HAS_PORTS);
    cr_expect_eq(r.proto, 17);
    cr_expect_eq(r.sp, 1111);
    cr_expect_eq(r.dp, 2222);
    cr_expect_eq(r.payload_off, 28);
    cr_expect_eq(r.payload_len, paylen);
    cr_expect_eq(memcmp(copy + 28, orig + 28, paylen), 0);
    free(copy);
}

static void expect_empty(void)
{
    const struct defrag_stats *s = defrag_stats(d);
    cr_expect_eq(s->trackers, 0, "trackers %llu", (unsigned long long)s->trackers);
    cr_expect_eq(s->memuse, 0, "memuse %llu", (unsigned long long)s->memuse);
}

/* Feeds the three pieces of a 1000-byte UDP datagram in the given order. */
static void three_pieces(const int order[3])
{
    d = mk(DEFRAG_POLICY_BSD, 0, 0);
    make_udp4(0x5151, 1000);
    for (int k = 0; k < 3; k++) {
        piece_of_udp4(0x5151, order[k]);
        uint32_t n = feed(T0 + (vg_time_t)k * 1000);
        if (k < 2) {
            cr_assert_eq(n, 0, "completed early at piece %d", order[k]);
            cr_expect_eq(defrag_stats(d)->trackers, 1);
        } else {
            expect_rebuilt_udp4(n, 1000);
        }
        cr_expect_eq(fp.nevents, 0);
    }
    const struct defrag_stats *s = defrag_stats(d);
    cr_expect_eq(s->ipv4_fragments, 3);
    cr_expect_eq(s->ipv4_reassembled, 1);
    cr_expect_eq(s->ipv6_fragments, 0);
    cr_expect_eq(s->overlaps, 0);
    cr_expect_eq(s->evictions, 0);
    cr_expect_eq(s->max_frag_hits, 0);
    expect_empty();
    cr_expect_eq(st.fragments, 3);
    cr_expect_eq(st.ipv4, 4);
    cr_expect_eq(st.udp, 1);
}

Test(defrag, ipv4_in_order)
{
    static const int order[3] = {0, 1, 2};
    three_pieces(order);
}

Test(defrag, ipv4_out_of_order)
{
    static const int order[3] = {1, 2, 0};
    three_pieces(order);
}

Test(defrag, ipv4_reverse_order)
{
    static const int order[3] = {2, 1, 0};
    three_pieces(order);
}

Test(defrag, ipv4_duplicates)
{
    d = mk(DEFRAG_POLICY_BSD, 0, 0);
    make_udp4(7, 1000);
    piece_of_udp4(7, 0);
    cr_assert_eq(feed(T0), 0);
    piece_of_udp4(7, 1);
    cr_assert_eq(feed(T0), 0);
    piece_of_udp4(7, 0);
    cr_assert_eq(feed(T0), 0);
    cr_expect(decode_has_event(&fp, VG_EV_IPV4_FRAG_OVERLAP));
    piece_of_udp4(7, 1);
    cr_assert_eq(feed(T0), 0);
    piece_of_udp4(7, 2);
    expect_rebuilt_udp4(feed(T0), 1000);
    const struct defrag_stats *s = defrag_stats(d);
    cr_expect_eq(s->ipv4_fragments, 5);
    cr_expect_eq(s->ipv4_reassembled, 1);
    cr_expect_eq(s->overlaps, 2);
    cr_expect_eq(st.events[VG_EV_IPV4_FRAG_OVERLAP], 2);
    expect_empty();
}

Test(defrag, ipv4_hole_never_completes)
{
    d = mk(DEFRAG_POLICY_BSD, 0, 0);
    make_udp4(9, 1000);
    piece_of_udp4(9, 0);
    cr_assert_eq(feed(T0), 0);
    piece_of_udp4(9, 2);
    cr_assert_eq(feed(T0), 0);
    piece_of_udp4(9, 2);
    cr_assert_eq(feed(T0), 0);
    const struct defrag_stats *s = defrag_stats(d);
    cr_expect_eq(s->trackers, 1);
    cr_expect_eq(s->ipv4_reassembled, 0);
    cr_expect_gt(s->memuse, 1008 - 400);
    /* defrag_free (in the fixture) releases the pending fragments: ASan checks for leaks. */
}

Test(defrag, ipv4_timeout)
{
    d = mk(DEFRAG_POLICY_BSD, 0, 0);
    make_udp4(11, 1000);
    piece_of_udp4(11, 0);
    cr_assert_eq(feed(T0), 0);
    piece_of_udp4(11, 1);
    cr_assert_eq(feed(T0 + 5 * SEC), 0);
    defrag_timeout(d, T0 + 64 * SEC); /* the timeout counts from the last fragment */
    cr_expect_eq(defrag_stats(d)->trackers, 1);
    cr_expect_eq(defrag_stats(d)->ipv4_timeouts, 0);
    defrag_timeout(d, T0 + 65 * SEC);
    cr_expect_eq(defrag_stats(d)->ipv4_timeouts, 1);
    cr_expect_eq(defrag_stats(d)->ipv6_timeouts, 0);
    expect_empty();
    /* The last piece alone starts over and cannot complete. */
    piece_of_udp4(11, 2);
    cr_expect_eq(feed(T0 + 66 * SEC), 0);
    cr_expect_eq(defrag_stats(d)->trackers, 1);
    cr_expect_eq(defrag_stats(d)->ipv4_reassembled, 0);
}

Test(defrag, timeout_keeps_recent_trackers)
{
    d = mk(DEFRAG_POLICY_BSD, 0, 0);
    static const uint8_t data[8] = {0};
    frag4(1, 17, 0, 1, data, 8);
    feed(T0);
    frag6(2, 0, 1, data, 8, 0);
    feed(T0 + 30 * SEC);
    defrag_timeout(d, T0 + 60 * SEC);
    cr_expect_eq(defrag_stats(d)->ipv4_timeouts, 1);
    cr_expect_eq(defrag_stats(d)->ipv6_timeouts, 0);
    cr_expect_eq(defrag_stats(d)->trackers, 1);
    defrag_timeout(d, T0 + 90 * SEC);
    cr_expect_eq(defrag_stats(d)->ipv6_timeouts, 1);
    expect_empty();
}

static void ipv6_reassembly(int with_ext, const int *order)
{
    d = mk(DEFRAG_POLICY_BSD, 0, 0);
    make_udp6(600, with_ext);
    size_t hdr = with_ext ? 48 : 40;
    uint32_t flen = (uint32_t)(orig_len - hdr); /* 608: UDP header and payload */
    static const uint32_t cuts[4] = {0, 296, 592, 608};
    cr_assert_eq(flen, 608);
    for (int k = 0; k < 3; k++) {
        int i = order[k];
        frag6(0xabcdef01, cuts[i], i != 2, orig + hdr + cuts[i], cuts[i + 1] - cuts[i], with_ext);
        uint32_t n = feed(T0);
        cr_expect_eq(fp.frag_hdr_off, 14 + hdr);
        if (k < 2) {
            cr_assert_eq(n, 0);
            continue;
        }
        cr_assert_eq(n, orig_len, "rebuilt %u bytes, want %zu", n, orig_len);
        cr_expect_eq(memcmp(out, orig, orig_len), 0, "rebuilt bytes differ");
        cr_expect_eq((size_t)((out[4] << 8) | out[5]), orig_len - 40, "payload length");
        if (with_ext) {
            cr_expect_eq(out[6], 60);
            cr_expect_eq(out[40], 17, "the options header must point past the fragment header");
        } else {
            cr_expect_eq(out[6], 17);
        }
        struct vg_packet r;
        memset(&r, 0, sizeof(r));
        uint8_t *copy = malloc(n);
        memcpy(copy, out, n);
        r.data = copy;
        r.caplen = r.wirelen = n;
        r.datalink = VG_DLT_REASSEMBLED;
        r.flags = VG_PKT_REASSEMBLED;
        cr_assert_eq(decode_packet(&st, &r), 0);
        cr_expect_eq(r.flags, VG_PKT_REASSEMBLED | VG_PKT_HAS_PORTS);
        cr_expect_eq(r.ip_ver, 6);
        cr_expect_eq(r.proto, 17);
        cr_expect_eq(r.dp, 4444);
        cr_expect_eq(r.l4_off, hdr);
        cr_expect_eq(r.payload_len, 600);
        cr_expect_eq(r.nevents, 0);
        free(copy);
    }
    const struct defrag_stats *s = defrag_stats(d);
    cr_expect_eq(s->ipv6_fragments, 3);
    cr_expect_eq(s->ipv6_reassembled, 1);
    cr_expect_eq(s->ipv4_fragments, 0);
    expect_empty();
}

Test(defrag, ipv6_with_extension_header)
{
    static const int order[3] = {0, 1, 2};
    ipv6_reassembly(1, order);
}

Test(defrag, ipv6_with_extension_header_first_fragment_last)
{
    static const int order[3] = {2, 1, 0};
    ipv6_reassembly(1, order);
}

Test(defrag, ipv6_without_extension_header)
{
    static const int order[3] = {1, 0, 2};
    ipv6_reassembly(0, order);
}

/*
 * Overlapping fragments of a 40-byte payload, arriving in this order:
 *   P [8,24)  Q [0,16)  S [24,32)  T [24,32)  V [16,24)  W [32,40) last
 * [8,16)  P vs Q: a later fragment at a lower offset;
 * [16,24) P vs V: a later fragment at a higher offset;
 * [24,32) S vs T: the same offset.
 */
struct ov_frag {
    uint32_t off, len;
    char fill;
    int more, overlaps;
};
static const struct ov_frag ov[] = {
    {8, 16, 'P', 1, 0}, {0, 16, 'Q', 1, 1}, {24, 8, 'S', 1, 0},
    {24, 8, 'T', 1, 1}, {16, 8, 'V', 1, 1}, {32, 8, 'W', 0, 0},
};

static void overlap_policy(enum defrag_policy pol, const char *want)
{
    d = mk(pol, 0, 0);
    uint32_t n = 0;
    for (size_t i = 0; i < VG_ARRAY_LEN(ov); i++) {
        uint8_t data[16];
        memset(data, ov[i].fill, sizeof(data));
        frag4(0x0bad, 253, ov[i].off, ov[i].more, data, ov[i].len);
        n = feed(T0);
        cr_expect_eq(decode_has_event(&fp, VG_EV_IPV4_FRAG_OVERLAP), ov[i].overlaps,
                     "fragment %c overlap event", ov[i].fill);
        if (i + 1 < VG_ARRAY_LEN(ov))
            cr_assert_eq(n, 0, "completed early at %c", ov[i].fill);
    }
    cr_assert_eq(n, 60);
    char got[41];
    memcpy(got, out + 20, 40);
    got[40] = '\0';
    cr_expect_str_eq(got, want, "policy %d", pol);
    cr_expect_eq(out[9], 253);
    cr_expect_eq((out[2] << 8) | out[3], 60);
    const struct defrag_stats *s = defrag_stats(d);
    cr_expect_eq(s->overlaps, 3);
    cr_expect_eq(st.events[VG_EV_IPV4_FRAG_OVERLAP], 3);
    cr_expect_eq(s->ipv4_reassembled, 1);
    expect_empty();
}

#define SEG(c) c c c c c c c c
Test(defrag, overlap_policy_first)
{
    overlap_policy(DEFRAG_POLICY_FIRST, SEG("Q") SEG("P") SEG("P") SEG("S") SEG("W"));
}
Test(defrag, overlap_policy_windows)
{
    overlap_policy(DEFRAG_POLICY_WINDOWS, SEG("Q") SEG("P") SEG("P") SEG("S") SEG("W"));
}
Test(defrag, overlap_policy_last)
{
    overlap_policy(DEFRAG_POLICY_LAST, SEG("Q") SEG("Q") SEG("V") SEG("T") SEG("W"));
}
Test(defrag, overlap_policy_bsd)
{
    overlap_policy(DEFRAG_POLICY_BSD, SEG("Q") SEG("Q") SEG("P") SEG("S") SEG("W"));
}
Test(defrag, overlap_policy_linux)
{
    overlap_policy(DEFRAG_POLICY_LINUX, SEG("Q") SEG("Q") SEG("P") SEG("T") SEG("W"));
}

Test(defrag, ipv6_overlap_event)
{
    d = mk(DEFRAG_POLICY_LAST, 0, 0);
    uint8_t a[16], b[16];
    memset(a, 'a', sizeof(a));
    memset(b, 'b', sizeof(b));
    frag6(5, 0, 1, a, 16, 1);
    cr_assert_eq(feed(T0), 0);
    frag6(5, 8, 0, b, 16, 1);
    uint32_t n = feed(T0);
    cr_expect(decode_has_event(&fp, VG_EV_IPV6_FRAG_OVERLAP));
    cr_assert_eq(n, 48 + 24);
    cr_expect_eq(memcmp(out + 48, "aaaaaaaabbbbbbbbbbbbbbbb", 24), 0);
    cr_expect_eq(defrag_stats(d)->overlaps, 1);
    cr_expect_eq(st.events[VG_EV_IPV6_FRAG_OVERLAP], 1);
}

Test(defrag, policy_names)
{
    cr_expect_eq(defrag_policy_parse("first"), DEFRAG_POLICY_FIRST);
    cr_expect_eq(defrag_policy_parse("last"), DEFRAG_POLICY_LAST);
    cr_expect_eq(defrag_policy_parse("bsd"), DEFRAG_POLICY_BSD);
    cr_expect_eq(defrag_policy_parse("bsd-right"), DEFRAG_POLICY_LINUX);
    cr_expect_eq(defrag_policy_parse("linux"), DEFRAG_POLICY_LINUX);
    cr_expect_eq(defrag_policy_parse("windows"), DEFRAG_POLICY_WINDOWS);
    cr_expect_eq(defrag_policy_parse("solaris"), DEFRAG_POLICY_FIRST);
    cr_expect_eq(defrag_policy_parse(""), -1);
    cr_expect_eq(defrag_policy_parse("macos"), -1);
    cr_expect_eq(defrag_policy_parse("bsd "), -1);

    struct defrag_config c;
    defrag_config_defaults(&c);
    cr_expect_eq(c.memcap, 32ULL * 1024 * 1024);
    cr_expect_eq(c.timeout_sec, 60);
    cr_expect_eq(c.max_frags, 1000);
    cr_expect_eq(c.policy, DEFRAG_POLICY_BSD);
}

/* Inserts the first 64 bytes (offset 0, more to come) of datagram id. */
static uint32_t first64(struct defrag *dd, uint16_t id)
{
    uint8_t data[64];
    memset(data, (int)id, sizeof(data));
    frag4(id, 17, 0, 1, data, sizeof(data));
    return feed_to(dd, T0 + id);
}

Test(defrag, memcap_evicts_least_recently_used)
{
    /* Measure what one datagram and one more fragment cost. */
    struct defrag *cal = mk(DEFRAG_POLICY_BSD, 0, 0);
    first64(cal, 1);
    uint64_t m = defrag_stats(cal)->memuse;
    uint8_t data[64];
    memset(data, 1, sizeof(data));
    frag4(1, 17, 64, 1, data, 64);
    feed_to(cal, T0);
    uint64_t fsz = defrag_stats(cal)->memuse - m;
    defrag_free(cal);
    cr_assert_gt(m, fsz);
    cr_assert_gt(fsz, 64);

    uint64_t memcap = 3 * m + 2 * fsz;
    d = mk(DEFRAG_POLICY_BSD, memcap, 0);
    const struct defrag_stats *s = defrag_stats(d);
    for (uint16_t id = 0; id < 10; id++) {
        cr_assert_eq(first64(d, id), 0);
        cr_assert_leq(s->memuse, memcap);
    }
    cr_expect_eq(s->trackers, 3);
    cr_expect_eq(s->evictions, 7);
    cr_expect_eq(s->memuse, 3 * m);
    cr_expect_eq(s->max_frag_hits, 0);

    /* Datagrams 7, 8, 9 remain. Touch 7, so 8 is the least recently used. */
    memset(data, 7, sizeof(data));
    frag4(7, 17, 64, 1, data, 64);
    cr_assert_eq(feed(T0 + 100), 0);
    cr_expect_eq(s->evictions, 7);
    cr_assert_eq(first64(d, 10), 0);
    cr_expect_eq(s->evictions, 8);
    cr_assert_leq(s->memuse, memcap);

    /* 7 completes; 8 was evicted and cannot; 9 completes. */
    frag4(7, 17, 128, 0, data, 8);
    cr_expect_eq(feed(T0 + 101), 20 + 136);
    memset(data, 8, sizeof(data));
    frag4(8, 17, 64, 0, data, 8);
    cr_expect_eq(feed(T0 + 102), 0);
    memset(data, 9, sizeof(data));
    frag4(9, 17, 64, 0, data, 8);
    cr_expect_eq(feed(T0 + 103), 20 + 72);
    for (int i = 0; i < 72; i++)
        cr_expect_eq(out[20 + i], 9);
    cr_expect_eq(s->evictions, 8);
    cr_expect_eq(s->ipv4_reassembled, 2);
    cr_expect_eq(s->trackers, 2); /* 10 and the new 8 */
    cr_assert_leq(s->memuse, memcap);
}

Test(defrag, memcap_never_exceeded_under_load)
{
    uint64_t memcap = 16 * 1024;
    d = mk(DEFRAG_POLICY_BSD, memcap, 0);
    const struct defrag_stats *s = defrag_stats(d);
    uint8_t data[1024];
    memset(data, 0x77, sizeof(data));
    uint64_t peak = 0;
    for (uint32_t i = 0; i < 2000; i++) {
        size_t len = 8 * (1 + (i * 37) % 100); /* 8..800 bytes */
        frag4((uint16_t)(i % 700), 17, (uint32_t)(8 * (i % 3)), 1, data, len);
        feed(T0 + i);
        if (s->memuse > memcap)
            cr_assert_fail("memuse %llu over the memcap at %u", (unsigned long long)s->memuse, i);
        if (s->memuse > peak)
            peak = s->memuse;
    }
    cr_expect_gt(s->evictions, 100);
    cr_expect_gt(peak, memcap / 2);
    cr_expect_eq(s->max_frag_hits, 0);
    defrag_free(d);
    d = NULL;
}

Test(defrag, fragment_larger_than_memcap_is_dropped_without_evicting)
{
    uint8_t data[2048];
    memset(data, 1, sizeof(data));
    struct defrag *cal = mk(DEFRAG_POLICY_BSD, 0, 0);
    first64(cal, 1);
    uint64_t m = defrag_stats(cal)->memuse;
    defrag_free(cal);

    d = mk(DEFRAG_POLICY_BSD, 3 * m, 0);
    const struct defrag_stats *s = defrag_stats(d);
    first64(d, 1);
    first64(d, 2);
    /* This one can never fit: the datagrams already waiting must stay. */
    frag4(3, 17, 0, 1, data, 2048);
    cr_assert_eq(feed(T0), 0);
    cr_expect(decode_has_event(&fp, VG_EV_IPV4_FRAG_IGNORED));
    cr_expect_eq(s->max_frag_hits, 1);
    cr_expect_eq(s->evictions, 0);
    cr_expect_eq(s->trackers, 2);
    cr_expect_eq(s->memuse, 2 * m);
}

Test(defrag, max_frags_per_datagram)
{
    d = mk(DEFRAG_POLICY_BSD, 0, 3);
    uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (uint32_t i = 0; i < 5; i++) {
        frag4(77, 17, 8 * i, 1, data, 8);
        cr_assert_eq(feed(T0), 0);
        cr_expect_eq(decode_has_event(&fp, VG_EV_IPV4_FRAG_IGNORED), i >= 3, "fragment %u", i);
    }
    frag4(77, 17, 40, 0, data, 8);
    cr_expect_eq(feed(T0), 0);
    const struct defrag_stats *s = defrag_stats(d);
    cr_expect_eq(s->max_frag_hits, 3);
    cr_expect_eq(s->ipv4_fragments, 6);
    cr_expect_eq(s->trackers, 1);
    cr_expect_eq(s->ipv4_reassembled, 0);
    cr_expect_eq(st.events[VG_EV_IPV4_FRAG_IGNORED], 3);
}

Test(defrag, ipv4_datagram_too_large)
{
    d = mk(DEFRAG_POLICY_BSD, 0, 0);
    uint8_t data[16] = {0};
    frag4(5, 17, 8191 * 8, 0, data, 16); /* ends at 65544 */
    cr_assert_eq(feed(T0), 0);
    cr_expect(decode_has_event(&fp, VG_EV_IPV4_FRAG_PKT_TOO_LARGE));
    cr_expect_eq(st.events[VG_EV_IPV4_FRAG_PKT_TOO_LARGE], 1);
    expect_empty();
    /* 65535 - 20 bytes of payload is the most an IPv4 datagram holds. */
    frag4(5, 17, 8188 * 8, 0, data, 11);
    cr_assert_eq(feed(T0), 0);
    cr_expect_not(decode_has_event(&fp, VG_EV_IPV4_FRAG_PKT_TOO_LARGE));
    cr_expect_eq(defrag_stats(d)->trackers, 1);
    frag4(5, 17, 8188 * 8, 0, data, 12);
    cr_assert_eq(feed(T0), 0);
    cr_expect(decode_has_event(&fp, VG_EV_IPV4_FRAG_PKT_TOO_LARGE));
}

/*
 * Regression: the size limit must hold for the datagram as rebuilt, whose header comes from the
 * first fragment. Here the first fragment has 40 bytes of options and the others none, so each
 * fragment fits alone but the datagram would be 65575 bytes, beyond the 16-bit total length.
 */
Test(defrag, ipv4_datagram_too_large_with_first_fragment_options)
{
    d = mk(DEFRAG_POLICY_BSD, 0, 0);
    static uint8_t big[65496];
    memset(big, 0x42, sizeof(big));
    static const uint8_t opts[40] = {1, 1, 1, 1};
    frag4_opts(6, 17, 0, 1, opts, sizeof(opts), big, 8);
    cr_assert_eq(feed(T0), 0);
    frag4(6, 17, 8, 1, big, 65496);
    cr_assert_eq(feed(T0), 0);
    cr_expect_not(decode_has_event(&fp, VG_EV_IPV4_FRAG_PKT_TOO_LARGE));
    frag4(6, 17, 65504, 0, big, 11);
    uint32_t n = feed(T0);
    cr_expect_eq(n, 0, "rebuilt a %u-byte datagram with total length %u", n,
                 (unsigned)((out[2] << 8) | out[3]));
    cr_expect(decode_has_event(&fp, VG_EV_IPV4_FRAG_PKT_TOO_LARGE));
    cr_expect_eq(defrag_stats(d)->ipv4_reassembled, 0);
    expect_empty();

    /* The same datagram with a 20-byte first header is the largest there is: it is rebuilt. */
    frag4(7, 17, 0, 1, big, 8);
    cr_assert_eq(feed(T0), 0);
    frag4(7, 17, 8, 1, big, 65496);
    cr_assert_eq(feed(T0), 0);
    frag4(7, 17, 65504, 0, big, 11);
    n = feed(T0);
    cr_expect_eq(n, 65535);
    cr_expect_eq((out[2] << 8) | out[3], 65535);
}

/* As above for IPv6: 328 bytes of options before the first fragment header only. */
Test(defrag, ipv6_datagram_too_large_with_first_fragment_headers)
{
    d = mk(DEFRAG_POLICY_BSD, 0, 0);
    static uint8_t big[65528];
    memset(big, 0x43, sizeof(big));
    pg_init(&g);
    pg_eth(&g, 0x86dd);
    pg_ipv6(&g, SRC6, DST6, 60);
    pg_u8(&g, 44);
    pg_u8(&g, 40); /* (40 + 1) * 8 = 328 bytes */
    pg_u8(&g, 1);  /* PadN of 324 bytes cannot be: use PadN options of 255 and 67 */
    pg_u8(&g, 255);
    for (int i = 0; i < 255; i++)
        pg_u8(&g, 0);
    pg_u8(&g, 1);
    pg_u8(&g, 67);
    for (int i = 0; i < 67; i++)
        pg_u8(&g, 0);
    pg_ipv6_frag(&g, 17, 0, 1, 99);
    pg_bytes(&g, big, 8);
    pg_finish(&g);
    cr_assert_eq(feed(T0), 0);
    cr_expect_eq(fp.nevents, 0);
    cr_expect_eq(fp.frag_hdr_off, 14 + 40 + 328);
    frag6(99, 8, 1, big, 65488, 0);
    cr_assert_eq(feed(T0), 0);
    frag6(99, 65496, 0, big, 39, 0); /* payload 65535: with 328 bytes of options, too large */
    uint32_t n = feed(T0);
    cr_expect_eq(n, 0, "rebuilt a %u-byte datagram with payload length %u", n,
                 (unsigned)((out[4] << 8) | out[5]));
    cr_expect(decode_has_event(&fp, VG_EV_IPV6_FRAG_PKT_TOO_LARGE));
    cr_expect_eq(defrag_stats(d)->ipv6_reassembled, 0);
    expect_empty();
}

Test(defrag, ipv6_datagram_too_large)
{
    d = mk(DEFRAG_POLICY_BSD, 0, 0);
    uint8_t data[16] = {0};
    frag6(1, 65528, 0, data, 16, 1);
    cr_assert_eq(feed(T0), 0);
    cr_expect(decode_has_event(&fp, VG_EV_IPV6_FRAG_PKT_TOO_LARGE));
    expect_empty();
}

Test(defrag, ipv6_non_last_fragment_not_multiple_of_8)
{
    d = mk(DEFRAG_POLICY_BSD, 0, 0);
    uint8_t data[12] = {0};
    frag6(3, 0, 1, data, 12, 1);
    cr_assert_eq(feed(T0), 0);
    cr_expect(decode_has_event(&fp, VG_EV_IPV6_FRAG_INVALID_LENGTH));
    cr_expect_eq(st.events[VG_EV_IPV6_FRAG_INVALID_LENGTH], 1, "one packet, one event");
    cr_expect_eq(defrag_stats(d)->ipv6_fragments, 1);
    expect_empty();
}

Test(defrag, zero_length_fragments)
{
    d = mk(DEFRAG_POLICY_BSD, 0, 0);
    uint8_t data[8] = {0};
    frag4(4, 17, 0, 1, data, 0);
    cr_assert_eq(feed(T0), 0);
    cr_expect(decode_has_event(&fp, VG_EV_IPV4_FRAG_IGNORED));
    frag4(4, 17, 8, 0, data, 0);
    cr_assert_eq(feed(T0), 0);
    cr_expect(decode_has_event(&fp, VG_EV_IPV4_FRAG_IGNORED));
    frag4(4, 17, 0, 1, data, 5); /* IPv4 too: a non-last fragment is a multiple of 8 */
    cr_assert_eq(feed(T0), 0);
    cr_expect(decode_has_event(&fp, VG_EV_IPV4_FRAG_IGNORED));
    frag6(4, 8, 0, data, 0, 0);
    cr_assert_eq(feed(T0), 0);
    cr_expect(decode_has_event(&fp, VG_EV_IPV6_FRAG_INVALID_LENGTH));
    frag6(4, 0, 1, data, 0, 0);
    cr_assert_eq(feed(T0), 0);
    cr_expect(decode_has_event(&fp, VG_EV_IPV6_FRAG_INVALID_LENGTH));
    cr_expect_eq(st.events[VG_EV_IPV4_FRAG_IGNORED], 3);
    cr_expect_eq(st.events[VG_EV_IPV6_FRAG_INVALID_LENGTH], 2);
    const struct defrag_stats *s = defrag_stats(d);
    cr_expect_eq(s->ipv4_fragments, 3);
    cr_expect_eq(s->ipv6_fragments, 2);
    expect_empty();
}

Test(defrag, fragments_of_different_datagrams_do_not_mix)
{
    d = mk(DEFRAG_POLICY_BSD, 0, 0);
    uint8_t a[8], b[8];
    memset(a, 'a', 8);
    memset(b, 'b', 8);
    frag4(1, 17, 0, 1, a, 8);
    cr_assert_eq(feed(T0), 0);
    frag4(2, 17, 8, 0, b, 8); /* another id */
    cr_assert_eq(feed(T0), 0);
    frag4(1, 6, 8, 0, b, 8); /* another protocol */
    cr_assert_eq(feed(T0), 0);
    pg_init(&g); /* another VLAN */
    pg_eth(&g, 0x8100);
    pg_vlan(&g, 5, 0x0800);
    pg_ipv4(&g, SRC4, DST4, 17, 1, 1);
    pg_bytes(&g, b, 8);
    pg_finish(&g);
    cr_assert_eq(feed(T0), 0);
    cr_expect_eq(defrag_stats(d)->trackers, 4);
    frag4(1, 17, 8, 0, b, 8);
    cr_assert_eq(feed(T0), 36);
    cr_expect_eq(memcmp(out + 20, "aaaaaaaabbbbbbbb", 16), 0);
    cr_expect_eq(defrag_stats(d)->trackers, 3);
}

Test(defrag, many_fragments_in_random_order)
{
    d = mk(DEFRAG_POLICY_LINUX, 0, 0);
    make_udp4(0x7777, 3000 - 8);
    uint32_t flen = (uint32_t)orig_len - 20; /* 3000: 375 fragments of 8 bytes */
    uint32_t nfr = flen / 8;
    uint32_t perm[375];
    for (uint32_t i = 0; i < nfr; i++)
        perm[i] = i;
    uint64_t x = 88172645463325252ULL;
    for (uint32_t i = nfr - 1; i > 0; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t j = (uint32_t)(x % (i + 1));
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    uint32_t n = 0;
    for (uint32_t k = 0; k < nfr; k++) {
        uint32_t i = perm[k];
        frag4(0x7777, 17, 8 * i, i != nfr - 1, orig + 20 + 8 * i, 8);
        n = feed(T0);
        if (k + 1 < nfr)
            cr_assert_eq(n, 0);
    }
    expect_rebuilt_udp4(n, 3000 - 8);
    expect_empty();
}
