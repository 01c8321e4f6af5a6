/* test_app_dns.c: DNS parser: compression and its attacks, record types, limits, TCP, EVE. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/app-dns.h"
#include "vigil/eve-dns.h"

/* ---- a message builder ---- */

struct mb {
    uint8_t b[70000];
    uint32_t n;
};

static void u8(struct mb *m, unsigned v)
{
    m->b[m->n++] = (uint8_t)v;
}
static void u16(struct mb *m, unsigned v)
{
    u8(m, v >> 8);
    u8(m, v & 0xff);
}
static void u32(struct mb *m, uint32_t v)
{
    u16(m, v >> 16);
    u16(m, v & 0xffff);
}
static void bytes(struct mb *m, const void *p, size_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += (uint32_t)n;
}
/* Writes a dotted name's labels; terminates it with a root label if term. */
static void labels(struct mb *m, const char *name, int term)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        u8(m, (unsigned)l);
        bytes(m, name, l);
        name += l;
        if (*name == '.')
            name++;
    }
    if (term)
        u8(m, 0);
}
static void name(struct mb *m, const char *n)
{
    labels(m, n, 1);
}
static void ptr(struct mb *m, unsigned off)
{
    u16(m, 0xc000 | off);
}
static void header(struct mb *m, unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns,
                   unsigned ar)
{
    m->n = 0;
    u16(m, id);
    u16(m, flags);
    u16(m, qd);
    u16(m, an);
    u16(m, ns);
    u16(m, ar);
}
/* Record header after its owner name; returns the offset of rdlength to patch. */
static uint32_t rrhead(struct mb *m, unsigned type, uint32_t ttl)
{
    u16(m, type);
    u16(m, 1);
    u32(m, ttl);
    uint32_t at = m->n;
    u16(m, 0);
    return at;
}
static void rdend(struct mb *m, uint32_t at)
{
    unsigned len = m->n - at - 2;
    m->b[at] = (uint8_t)(len >> 8);
    m->b[at + 1] = (uint8_t)len;
}

static struct dns_message *msg;
static struct mb mb;

static void setup(void)
{
    msg = calloc(1, sizeof(*msg));
    cr_assert_not_null(msg);
}
static void teardown(void)
{
    free(msg);
}

TestSuite(dns, .init = setup, .fini = teardown);

static int parse(void)
{
    return dns_parse_message(mb.b, mb.n, msg);
}

static void assert_str(struct dns_str s, const char *want)
{
    cr_assert_eq(s.len, strlen(want), "length %u, want %zu (%s)", s.len, strlen(want), want);
    cr_assert(memcmp(dns_str_ptr(msg, s), want, s.len) == 0, "got %.*s want %s", s.len,
              dns_str_ptr(msg, s), want);
}

Test(dns, query_header_and_name)
{
    header(&mb, 0x2163, 0x0100, 1, 0, 0, 0);
    name(&mb, "vgiragdoffy.com");
    u16(&mb, 1);
    u16(&mb, 1);
    cr_assert_eq(parse(), 0);
    cr_assert_eq(msg->id, 0x2163);
    cr_assert_eq(msg->qr, 0);
    cr_assert_eq(msg->rd, 1);
    cr_assert_eq(msg->nq, 1);
    cr_assert_eq(msg->q[0].type, DNS_TYPE_A);
    uint32_t l;
    const char *q = dns_query_name(msg, 0, &l);
    cr_assert_eq(l, 15);
    cr_assert(memcmp(q, "vgiragdoffy.com", 15) == 0);
    cr_assert_null(dns_query_name(msg, 1, &l));
    cr_assert_eq(dns_probe_udp(mb.b, mb.n), 1);
}

Test(dns, flags_and_rcode)
{
    header(&mb, 1, 0x8583 | 0x0200 | 0x0040, 1, 0, 0, 0); /* qr aa rd ra, tc, z, NXDOMAIN */
    name(&mb, "x.example");
    u16(&mb, 28);
    u16(&mb, 1);
    cr_assert_eq(parse(), 0);
    cr_assert(msg->qr && msg->aa && msg->tc && msg->rd && msg->ra && msg->z);
    cr_assert_eq(msg->rcode, 3);
    cr_assert_str_eq(dns_rcode_name(msg->rcode), "NXDOMAIN");
    cr_assert_null(dns_rcode_name(12));
}

/* A response with every decoded type, compressed against the question. */
static void build_all_types(void)
{
    header(&mb, 7, 0x8180, 1, 10, 1, 0);
    name(&mb, "www.example.com"); /* at 12 */
    u16(&mb, 255);
    u16(&mb, 1);
    uint32_t at;
    ptr(&mb, 12);
    at = rrhead(&mb, DNS_TYPE_A, 300);
    bytes(&mb, "\xc0\x00\x02\x01", 4);
    rdend(&mb, at);
    ptr(&mb, 12);
    at = rrhead(&mb, DNS_TYPE_AAAA, 301);
    bytes(&mb, "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01", 16);
    rdend(&mb, at);
    ptr(&mb, 12);
    at = rrhead(&mb, DNS_TYPE_CNAME, 302);
    labels(&mb, "alias", 0);
    ptr(&mb, 16); /* "example.com" */
    rdend(&mb, at);
    ptr(&mb, 16);
    at = rrhead(&mb, DNS_TYPE_MX, 303);
    u16(&mb, 10);
    labels(&mb, "mail", 0);
    ptr(&mb, 16);
    rdend(&mb, at);
    ptr(&mb, 16);
    at = rrhead(&mb, DNS_TYPE_TXT, 304);
    u8(&mb, 5);
    bytes(&mb, "v=spf", 5);
    u8(&mb, 4);
    bytes(&mb, "1 -a", 4);
    rdend(&mb, at);
    ptr(&mb, 16);
    at = rrhead(&mb, DNS_TYPE_NS, 305);
    labels(&mb, "ns1", 0);
    ptr(&mb, 16);
    rdend(&mb, at);
    name(&mb, "1.2.0.192.in-addr.arpa");
    at = rrhead(&mb, DNS_TYPE_PTR, 306);
    ptr(&mb, 12);
    rdend(&mb, at);
    name(&mb, "_ldap._tcp.example.com");
    at = rrhead(&mb, DNS_TYPE_SRV, 307);
    u16(&mb, 0);
    u16(&mb, 100);
    u16(&mb, 389);
    labels(&mb, "dc", 0);
    ptr(&mb, 16);
    rdend(&mb, at);
    ptr(&mb, 16);
    at = rrhead(&mb, 13 /* HINFO, kept raw */, 308);
    bytes(&mb,
          "\x03"
          "CPU"
          "\x02"
          "OS",
          7);
    rdend(&mb, at);
    ptr(&mb, 16);
    at = rrhead(&mb, 4321 /* no name */, 309);
    rdend(&mb, at);
    /* authority: SOA */
    ptr(&mb, 16);
    at = rrhead(&mb, DNS_TYPE_SOA, 3600);
    labels(&mb, "ns1", 0);
    ptr(&mb, 16);
    labels(&mb, "hostmaster", 0);
    ptr(&mb, 16);
    u32(&mb, 26);
    u32(&mb, 900);
    u32(&mb, 600);
    u32(&mb, 86400);
    u32(&mb, 3600);
    rdend(&mb, at);
}

Test(dns, every_record_type)
{
    build_all_types();
    cr_assert_eq(parse(), 0, "%s", dns_error_name(msg->error));
    cr_assert_eq(msg->nan, 10);
    cr_assert_eq(msg->nns, 1);
    cr_assert_eq(msg->bad_rdata, 0);
    cr_assert_eq(msg->trailing, 0);
    cr_assert(memcmp(msg->an[0].rd.a, "\xc0\x00\x02\x01", 4) == 0);
    cr_assert_eq(msg->an[0].ttl, 300);
    assert_str(msg->an[0].name, "www.example.com");
    cr_assert_eq(msg->an[1].rd.aaaa[15], 1);
    assert_str(msg->an[2].rd.target, "alias.example.com");
    cr_assert_eq(msg->an[3].rd.mx.pref, 10);
    assert_str(msg->an[3].rd.mx.exchange, "mail.example.com");
    assert_str(msg->an[3].name, "example.com");
    assert_str(msg->an[4].rd.txt.text, "v=spf1 -a");
    cr_assert_eq(msg->an[4].rd.txt.nstrings, 2);
    cr_assert_eq(msg->an[4].rd.txt.first_len, 5);
    assert_str(msg->an[5].rd.target, "ns1.example.com");
    assert_str(msg->an[6].name, "1.2.0.192.in-addr.arpa");
    assert_str(msg->an[6].rd.target, "www.example.com");
    cr_assert_eq(msg->an[7].rd.srv.port, 389);
    cr_assert_eq(msg->an[7].rd.srv.weight, 100);
    assert_str(msg->an[7].rd.srv.target, "dc.example.com");
    cr_assert_eq(msg->an[8].type, 13);
    cr_assert_eq(msg->an[8].rdlength, 7);
    cr_assert_eq(msg->an[9].type, 4321);
    cr_assert_eq(msg->an[9].rdlength, 0);
    assert_str(msg->ns[0].rd.soa.mname, "ns1.example.com");
    assert_str(msg->ns[0].rd.soa.rname, "hostmaster.example.com");
    cr_assert_eq(msg->ns[0].rd.soa.serial, 26);
    cr_assert_eq(msg->ns[0].rd.soa.expire, 86400);
    cr_assert_eq(msg->ns[0].rd.soa.minimum, 3600);
}

Test(dns, bad_rdata_is_counted_not_fatal)
{
    header(&mb, 7, 0x8180, 1, 3, 0, 0);
    name(&mb, "a.b");
    u16(&mb, 1);
    u16(&mb, 1);
    ptr(&mb, 12);
    uint32_t at = rrhead(&mb, DNS_TYPE_A, 1);
    bytes(&mb, "\x01\x02\x03", 3); /* A of 3 bytes */
    rdend(&mb, at);
    ptr(&mb, 12);
    at = rrhead(&mb, DNS_TYPE_CNAME, 1);
    labels(&mb, "x", 1);
    u8(&mb, 0); /* a byte after the name inside rdata */
    rdend(&mb, at);
    ptr(&mb, 12);
    at = rrhead(&mb, DNS_TYPE_TXT, 1);
    u8(&mb, 9); /* string longer than rdata */
    bytes(&mb, "abc", 3);
    rdend(&mb, at);
    cr_assert_eq(parse(), 0);
    cr_assert_eq(msg->nan, 3);
    cr_assert_eq(msg->bad_rdata, 3);
    cr_assert(msg->an[0].bad_rdata && msg->an[1].bad_rdata && msg->an[2].bad_rdata);
}

Test(dns, nested_compression)
{
    /* name 2 = "mail" + ptr to name 1 = "x" + ptr to question */
    header(&mb, 7, 0x8180, 1, 2, 0, 0);
    name(&mb, "example.org"); /* 12 */
    u16(&mb, 1);
    u16(&mb, 1);
    uint32_t n1 = mb.n;
    labels(&mb, "x", 0);
    ptr(&mb, 12);
    uint32_t at = rrhead(&mb, DNS_TYPE_A, 1);
    bytes(&mb, "\x01\x02\x03\x04", 4);
    rdend(&mb, at);
    labels(&mb, "mail", 0);
    ptr(&mb, n1);
    at = rrhead(&mb, DNS_TYPE_CNAME, 1);
    ptr(&mb, n1);
    rdend(&mb, at);
    cr_assert_eq(parse(), 0);
    assert_str(msg->an[0].name, "x.example.org");
    assert_str(msg->an[1].name, "mail.x.example.org");
    assert_str(msg->an[1].rd.target, "x.example.org");
}

Test(dns, pointer_to_itself)
{
    header(&mb, 7, 0x8180, 1, 0, 0, 0);
    ptr(&mb, 12);
    u16(&mb, 1);
    u16(&mb, 1);
    cr_assert_eq(parse(), -1);
    cr_assert_eq(msg->error, DNS_ERR_POINTER_FORWARD);
}

Test(dns, pointer_ping_pong)
{
    /* label, then a pointer back to the label: a loop through an earlier offset */
    header(&mb, 7, 0x8180, 1, 0, 0, 0);
    labels(&mb, "ab", 0);
    ptr(&mb, 12);
    u16(&mb, 1);
    u16(&mb, 1);
    cr_assert_eq(parse(), -1);
    cr_assert_eq(msg->error, DNS_ERR_POINTER_FORWARD);
    /* two names pointing at each other */
    header(&mb, 7, 0x8180, 2, 0, 0, 0);
    labels(&mb, "a", 0);
    ptr(&mb, 20); /* forward to the second question's name */
    u16(&mb, 1);
    u16(&mb, 1);
    labels(&mb, "b", 0); /* at 20 */
    ptr(&mb, 12);
    u16(&mb, 1);
    u16(&mb, 1);
    cr_assert_eq(mb.b[20], 1);
    cr_assert_eq(parse(), -1);
    cr_assert_eq(msg->error, DNS_ERR_POINTER_FORWARD);
}

Test(dns, forward_pointer)
{
    header(&mb, 7, 0x8180, 1, 0, 0, 0);
    ptr(&mb, 18);
    u16(&mb, 1);
    u16(&mb, 1);
    name(&mb, "later");
    cr_assert_eq(parse(), -1);
    cr_assert_eq(msg->error, DNS_ERR_POINTER_FORWARD);
}

Test(dns, pointer_outside_message)
{
    header(&mb, 7, 0x8180, 1, 0, 0, 0);
    labels(&mb, "a", 0);
    ptr(&mb, 0x3fff);
    u16(&mb, 1);
    u16(&mb, 1);
    cr_assert_eq(parse(), -1);
    cr_assert_eq(msg->error, DNS_ERR_POINTER_FORWARD);
}

Test(dns, too_many_jumps)
{
    /* A chain of 80 backward pointers inside an unknown record's rdata, then a name using it. */
    header(&mb, 7, 0x8180, 1, 2, 0, 0);
    name(&mb, "a"); /* 12 */
    u16(&mb, 1);
    u16(&mb, 1);
    ptr(&mb, 12);
    uint32_t at = rrhead(&mb, 99, 1);
    uint32_t prev = 12;
    for (int i = 0; i < 80; i++) {
        uint32_t here = mb.n;
        ptr(&mb, prev);
        prev = here;
    }
    rdend(&mb, at);
    ptr(&mb, prev);
    at = rrhead(&mb, DNS_TYPE_A, 1);
    bytes(&mb, "\x01\x02\x03\x04", 4);
    rdend(&mb, at);
    cr_assert_eq(parse(), -1);
    cr_assert_eq(msg->error, DNS_ERR_TOO_MANY_JUMPS, "%s", dns_error_name(msg->error));
    cr_assert_eq(msg->nan, 1); /* the first record was kept */
}

Test(dns, name_too_long)
{
    char label[64];
    memset(label, 'x', 63);
    label[63] = 0;
    header(&mb, 7, 0x8180, 1, 0, 0, 0);
    for (int i = 0; i < 4; i++) { /* 4 * 64 + 1 = 257 > 255 */
        u8(&mb, 63);
        bytes(&mb, label, 63);
    }
    u8(&mb, 0);
    u16(&mb, 1);
    u16(&mb, 1);
    cr_assert_eq(parse(), -1);
    cr_assert_eq(msg->error, DNS_ERR_NAME_TOO_LONG);
    /* 3 * 64 + 62 + 1 = 255: fits */
    header(&mb, 7, 0x8180, 1, 0, 0, 0);
    for (int i = 0; i < 3; i++) {
        u8(&mb, 63);
        bytes(&mb, label, 63);
    }
    u8(&mb, 61);
    bytes(&mb, label, 61);
    u8(&mb, 0);
    u16(&mb, 1);
    u16(&mb, 1);
    cr_assert_eq(parse(), 0, "%s", dns_error_name(msg->error));
    cr_assert_eq(msg->q[0].name.len, 253);
}

Test(dns, name_too_long_through_pointers)
{
    char label[64];
    memset(label, 'y', 63);
    header(&mb, 7, 0x8180, 2, 0, 0, 0);
    for (int i = 0; i < 3; i++) {
        u8(&mb, 63);
        bytes(&mb, label, 63);
    }
    u8(&mb, 0);
    u16(&mb, 1);
    u16(&mb, 1);
    u8(&mb, 63);
    bytes(&mb, label, 63);
    ptr(&mb, 12);
    u16(&mb, 1);
    u16(&mb, 1);
    cr_assert_eq(parse(), -1);
    cr_assert_eq(msg->error, DNS_ERR_NAME_TOO_LONG);
    cr_assert_eq(msg->nq, 1);
}

Test(dns, bad_label_types)
{
    for (unsigned t = 0x40; t <= 0x80; t += 0x40) {
        header(&mb, 7, 0x8180, 1, 0, 0, 0);
        u8(&mb, t | 1);
        u8(&mb, 'a');
        u8(&mb, 0);
        u16(&mb, 1);
        u16(&mb, 1);
        cr_assert_eq(parse(), -1);
        cr_assert_eq(msg->error, DNS_ERR_BAD_LABEL);
    }
}

Test(dns, every_truncation_fails_cleanly)
{
    build_all_types();
    uint32_t full = mb.n;
    for (uint32_t n = 0; n < full; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size, for ASan */
        memcpy(copy, mb.b, n);
        int rc = dns_parse_message(copy, n, msg);
        free(copy);
        cr_assert_eq(rc, -1, "prefix of %u bytes parsed", n);
        if (n < 12)
            cr_assert_eq(msg->error, DNS_ERR_SHORT_HEADER);
        else
            cr_assert(msg->error == DNS_ERR_TRUNCATED_QUESTION ||
                          msg->error == DNS_ERR_TRUNCATED_RR,
                      "prefix %u: %s", n, dns_error_name(msg->error));
    }
}

Test(dns, absurd_counts)
{
    header(&mb, 7, 0x8180, 0xffff, 0xffff, 0xffff, 0xffff);
    name(&mb, "a");
    u16(&mb, 1);
    u16(&mb, 1);
    cr_assert_eq(parse(), -1);
    cr_assert_eq(msg->error, DNS_ERR_TRUNCATED_QUESTION);
    cr_assert_eq(msg->nq, 1);
    cr_assert_eq(dns_probe_udp(mb.b, mb.n), 0);
    header(&mb, 7, 0x8180, 1, 0xffff, 0, 0);
    name(&mb, "a");
    u16(&mb, 1);
    u16(&mb, 1);
    cr_assert_eq(parse(), -1);
    cr_assert_eq(msg->error, DNS_ERR_TRUNCATED_RR);
}

Test(dns, more_entries_than_kept)
{
    header(&mb, 7, 0x8180, 40, 50, 0, 0);
    for (int i = 0; i < 40; i++) {
        name(&mb, "q.example");
        u16(&mb, 1);
        u16(&mb, 1);
    }
    for (int i = 0; i < 50; i++) {
        ptr(&mb, 12);
        uint32_t at = rrhead(&mb, DNS_TYPE_A, (uint32_t)i);
        u32(&mb, (uint32_t)i);
        rdend(&mb, at);
    }
    cr_assert_eq(parse(), 0);
    cr_assert_eq(msg->nq, DNS_MAX_QUESTIONS);
    cr_assert_eq(msg->nan, DNS_MAX_ANSWERS);
    cr_assert_eq(msg->dropped, 8 + 18);
    cr_assert_eq(msg->an[31].ttl, 31);
    struct dns_stats st;
    memset(&st, 0, sizeof(st));
    dns_stats_update(&st, msg, 0);
    cr_assert_eq(st.truncated, 1);
    cr_assert_eq(st.responses, 1);
}

Test(dns, arena_full_drops_records)
{
    header(&mb, 7, 0x8180, 1, 30, 0, 0);
    name(&mb, "t.example");
    u16(&mb, 16);
    u16(&mb, 1);
    char s[255];
    memset(s, 'z', sizeof(s));
    for (int i = 0; i < 30; i++) {
        ptr(&mb, 12);
        uint32_t at = rrhead(&mb, DNS_TYPE_TXT, 1);
        for (int k = 0; k < 5; k++) {
            u8(&mb, 255);
            bytes(&mb, s, 255);
        }
        rdend(&mb, at);
    }
    cr_assert_eq(parse(), 0);
    cr_assert_gt(msg->dropped, 0);
    cr_assert_eq(msg->nan + msg->dropped, 30);
    cr_assert(msg->an[0].txt_trunc);
    cr_assert_eq(msg->an[0].rd.txt.text.len, DNS_TXT_MAX);
    cr_assert_leq(msg->arena_used, DNS_ARENA_SIZE);
}

Test(dns, probes)
{
    header(&mb, 7, 0x0100, 1, 0, 0, 0);
    name(&mb, "example.com");
    u16(&mb, 1);
    u16(&mb, 1);
    cr_assert_eq(dns_probe_udp(mb.b, mb.n), 1);
    const char *http = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    cr_assert_eq(dns_probe_udp((const uint8_t *)http, (uint32_t)strlen(http)), 0);
    cr_assert_eq(dns_probe_udp(mb.b, 10), 0);
    /* TCP: prefix + message, whole and partial */
    uint8_t t[600];
    t[0] = 0;
    t[1] = (uint8_t)mb.n;
    memcpy(t + 2, mb.b, mb.n);
    cr_assert_eq(dns_probe_tcp(t, mb.n + 2), 1);
    cr_assert_eq(dns_probe_tcp(t, 1), -1);
    cr_assert_eq(dns_probe_tcp(t, 20), -1); /* the question is not there yet */
    cr_assert_eq(dns_probe_tcp((const uint8_t *)http, (uint32_t)strlen(http)), 0);
    /* a query with an answer count is not a plain query */
    mb.b[7] = 1;
    cr_assert_eq(dns_probe_udp(mb.b, mb.n), 0);
}

/* ---- TCP framing ---- */

struct got {
    int n;
    uint32_t lens[16];
    uint8_t first[16];
    int dirs[16];
};

static void on_msg(void *ctx, int dir, const uint8_t *m, uint32_t len)
{
    struct got *g = ctx;
    if (g->n < 16) {
        g->lens[g->n] = len;
        g->first[g->n] = len > 1 ? m[1] : 0;
        g->dirs[g->n] = dir;
    }
    g->n++;
}

/* Builds a stream of n messages of different sizes with their prefixes; id low byte = index. */
static uint32_t tcp_stream(uint8_t *s, int n)
{
    uint32_t o = 0;
    for (int i = 0; i < n; i++) {
        header(&mb, (unsigned)i, 0x0100, 1, 0, 0, 0);
        char nm[64];
        snprintf(nm, sizeof(nm), "host%d.%.*s", i, i * 7, "abcdefghijklmnopqrstuvwxyzabcdefghij");
        name(&mb, nm);
        u16(&mb, 1);
        u16(&mb, 1);
        s[o++] = (uint8_t)(mb.n >> 8);
        s[o++] = (uint8_t)mb.n;
        memcpy(s + o, mb.b, mb.n);
        o += mb.n;
    }
    return o;
}

Test(dns, tcp_split_at_every_byte)
{
    uint8_t s[2048];
    uint32_t len = tcp_stream(s, 4);
    for (uint32_t a = 0; a <= len; a++) {
        for (uint32_t b = a; b <= len; b += 3) {
            struct dns_tcp_state st;
            struct dns_stats stats;
            memset(&stats, 0, sizeof(stats));
            dns_tcp_init(&st, &stats);
            struct got g = {0};
            int c = dns_tcp_feed(&st, 1, s, a, on_msg, &g);
            c += dns_tcp_feed(&st, 1, s + a, b - a, on_msg, &g);
            c += dns_tcp_feed(&st, 1, s + b, len - b, on_msg, &g);
            cr_assert_eq(g.n, 4, "split %u/%u: %d messages", a, b, g.n);
            cr_assert_eq(c, 4);
            for (int i = 0; i < 4; i++) {
                cr_assert_eq(g.first[i], i, "split %u/%u: message %d out of order", a, b, i);
                cr_assert_eq(g.dirs[i], 1);
            }
            cr_assert_eq(stats.tcp_messages, 4);
            dns_tcp_free(&st);
        }
    }
    /* and one byte at a time, parsing what comes out */
    struct dns_tcp_state st;
    dns_tcp_init(&st, NULL);
    struct got g = {0};
    for (uint32_t i = 0; i < len; i++)
        dns_tcp_feed(&st, 0, s + i, 1, on_msg, &g);
    cr_assert_eq(g.n, 4);
    cr_assert_eq(dns_tcp_feed(&st, 2, s, 1, on_msg, &g), -1);
    dns_tcp_free(&st);
}

Test(dns, tcp_gap_inside_message_keeps_framing)
{
    uint8_t s[2048];
    uint32_t len = tcp_stream(s, 3);
    uint32_t m0 = 2 + (uint32_t)((s[0] << 8) | s[1]);
    struct dns_tcp_state st;
    struct dns_stats stats;
    memset(&stats, 0, sizeof(stats));
    dns_tcp_init(&st, &stats);
    struct got g = {0};
    dns_tcp_feed(&st, 0, s, 5, on_msg, &g);
    dns_tcp_gap(&st, 0, 4); /* inside message 0 */
    dns_tcp_feed(&st, 0, s + 9, len - 9, on_msg, &g);
    cr_assert_eq(g.n, 2);
    cr_assert_eq(g.first[0], 1);
    cr_assert_eq(g.first[1], 2);
    cr_assert_eq(stats.tcp_gaps, 1);
    dns_tcp_free(&st);

    /* a gap across the boundary: lost until a segment starts with a message */
    dns_tcp_init(&st, &stats);
    memset(&g, 0, sizeof(g));
    dns_tcp_feed(&st, 0, s, 5, on_msg, &g);
    dns_tcp_gap(&st, 0, m0);                         /* to 5 bytes into message 1 */
    dns_tcp_feed(&st, 0, s + m0 + 5, 7, on_msg, &g); /* middle of message 1: skipped */
    uint32_t m1 = m0 + 2 + (uint32_t)((s[m0] << 8) | s[m0 + 1]);
    dns_tcp_feed(&st, 0, s + m0 + 12, m1 - m0 - 12, on_msg, &g);
    cr_assert_eq(g.n, 0);
    dns_tcp_feed(&st, 0, s + m1, len - m1, on_msg, &g);
    cr_assert_eq(g.n, 1);
    cr_assert_eq(g.first[0], 2);
    cr_assert_gt(stats.tcp_resync_skipped, 0);
    dns_tcp_free(&st);
}

Test(dns, tcp_max_message)
{
    /* a 65535-byte message (one question, then padding counted as trailing) */
    static uint8_t s[65537 + 100];
    header(&mb, 9, 0x0100, 1, 0, 0, 0);
    name(&mb, "big");
    u16(&mb, 1);
    u16(&mb, 1);
    memset(mb.b + mb.n, 0, 65535 - mb.n);
    mb.n = 65535;
    s[0] = s[1] = 0xff;
    memcpy(s + 2, mb.b, mb.n);
    struct dns_tcp_state st;
    dns_tcp_init(&st, NULL);
    struct got g = {0};
    dns_tcp_feed(&st, 0, s, 1000, on_msg, &g);
    dns_tcp_feed(&st, 0, s + 1000, 65537 - 1000, on_msg, &g);
    cr_assert_eq(g.n, 1);
    cr_assert_eq(g.lens[0], 65535);
    cr_assert_leq(st.d[0].cap, DNS_TCP_MAX);
    dns_tcp_free(&st);
    cr_assert_eq(dns_parse_message(mb.b, mb.n, msg), 0);
    cr_assert_eq(msg->trailing, 65535 - 21);
}

/* ---- EVE ---- */

static char *dump(json_t *j)
{
    cr_assert_not_null(j);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return s;
}

Test(dns, eve_query)
{
    header(&mb, 8547, 0x0100, 1, 0, 0, 0);
    name(&mb, "vgiragdoffy.com");
    u16(&mb, 1);
    u16(&mb, 1);
    cr_assert_eq(parse(), 0);
    char *s = dump(eve_dns_query_object(msg, 0, 0));
    cr_assert_str_eq(
        s, "{\"type\":\"query\",\"id\":8547,\"rrname\":\"vgiragdoffy.com\",\"rrtype\":\"A\","
           "\"tx_id\":0,\"opcode\":0}");
    free(s);
    cr_assert_null(eve_dns_query_object(msg, 1, 0));
}

/* Records taken from real Suricata 6 output (../shared/corpus/eve), rebuilt on the wire. */
Test(dns, eve_answer_v2_matches_suricata)
{
    header(&mb, 8547, 0x8180, 1, 1, 0, 0);
    name(&mb, "vgiragdoffy.com");
    u16(&mb, 1);
    u16(&mb, 1);
    ptr(&mb, 12);
    uint32_t at = rrhead(&mb, DNS_TYPE_A, 899);
    bytes(&mb, "\x43\xcd\xb8\xed", 4);
    rdend(&mb, at);
    cr_assert_eq(parse(), 0);
    char *s = dump(eve_dns_answer_object(msg, 2));
    cr_assert_str_eq(s, "{\"version\":2,\"type\":\"answer\",\"id\":8547,\"flags\":\"8180\",\"qr\":"
                        "true,\"rd\":true,\"ra\":true,\"opcode\":0,\"rrname\":\"vgiragdoffy.com\","
                        "\"rrtype\":\"A\",\"rcode\":\"NOERROR\",\"answers\":[{\"rrname\":"
                        "\"vgiragdoffy.com\",\"rrtype\":\"A\",\"ttl\":899,\"rdata\":\"67.205.184."
                        "237\"}],\"grouped\":{\"A\":[\"67.205.184.237\"]}}");
    free(s);

    header(&mb, 41284, 0x8583, 1, 0, 1, 0);
    name(&mb, "wpad.fashionkings.com");
    u16(&mb, 1);
    u16(&mb, 1);
    ptr(&mb, 17);
    at = rrhead(&mb, DNS_TYPE_SOA, 3600);
    labels(&mb, "fashionkings-dc", 0);
    ptr(&mb, 17);
    labels(&mb, "hostmaster", 0);
    ptr(&mb, 17);
    u32(&mb, 26);
    u32(&mb, 900);
    u32(&mb, 600);
    u32(&mb, 86400);
    u32(&mb, 3600);
    rdend(&mb, at);
    cr_assert_eq(parse(), 0);
    s = dump(eve_dns_answer_object(msg, 2));
    cr_assert_str_eq(
        s, "{\"version\":2,\"type\":\"answer\",\"id\":41284,\"flags\":\"8583\",\"qr\":true,\"aa\":"
           "true,\"rd\":true,\"ra\":true,\"opcode\":0,\"rrname\":\"wpad.fashionkings.com\","
           "\"rrtype\":\"A\",\"rcode\":\"NXDOMAIN\",\"authorities\":[{\"rrname\":\"fashionkings."
           "com\",\"rrtype\":\"SOA\",\"ttl\":3600,\"soa\":{\"mname\":\"fashionkings-dc."
           "fashionkings.com\",\"rname\":\"hostmaster.fashionkings.com\",\"serial\":26,"
           "\"refresh\":900,\"retry\":600,\"expire\":86400,\"minimum\":3600}}]}");
    free(s);

    header(&mb, 22956, 0x8580, 1, 1, 0, 0);
    name(&mb, "_ldap._tcp.pdc._msdcs.fashionkings.com");
    u16(&mb, 33);
    u16(&mb, 1);
    ptr(&mb, 12);
    at = rrhead(&mb, DNS_TYPE_SRV, 600);
    u16(&mb, 0);
    u16(&mb, 100);
    u16(&mb, 389);
    labels(&mb, "fashionkings-dc", 0);
    ptr(&mb, 34); /* "fashionkings.com" */
    rdend(&mb, at);
    cr_assert_eq(parse(), 0, "%s", dns_error_name(msg->error));
    s = dump(eve_dns_answer_object(msg, 2));
    cr_assert_str_eq(
        s, "{\"version\":2,\"type\":\"answer\",\"id\":22956,\"flags\":\"8580\",\"qr\":true,\"aa\":"
           "true,\"rd\":true,\"ra\":true,\"opcode\":0,\"rrname\":\"_ldap._tcp.pdc._msdcs."
           "fashionkings.com\",\"rrtype\":\"SRV\",\"rcode\":\"NOERROR\",\"answers\":[{\"rrname\":"
           "\"_ldap._tcp.pdc._msdcs.fashionkings.com\",\"rrtype\":\"SRV\",\"ttl\":600,\"srv\":{"
           "\"priority\":0,\"weight\":100,\"port\":389,\"name\":\"fashionkings-dc.fashionkings."
           "com\"}}],\"grouped\":{\"SRV\":[{\"priority\":0,\"weight\":100,\"port\":389,\"name\":"
           "\"fashionkings-dc.fashionkings.com\"}]}}");
    free(s);
}

Test(dns, eve_answer_all_types)
{
    build_all_types();
    cr_assert_eq(parse(), 0);
    json_t *o = eve_dns_answer_object(msg, 2);
    cr_assert_not_null(o);
    json_t *ans = json_object_get(o, "answers");
    cr_assert_eq(json_array_size(ans), 10);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ans, 1), "rdata")),
                     "2001:0db8:0000:0000:0000:0000:0000:0001");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ans, 3), "rdata")),
                     "mail.example.com");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ans, 4), "rdata")), "v=spf");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ans, 8), "rrtype")), "HINFO");
    cr_assert_null(json_object_get(json_array_get(ans, 8), "rdata"));
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ans, 9), "rrtype")), "4321");
    json_t *grouped = json_object_get(o, "grouped");
    cr_assert_eq(json_array_size(json_object_get(grouped, "A")), 1);
    cr_assert_eq(json_array_size(json_object_get(grouped, "SRV")), 1);
    cr_assert_null(json_object_get(grouped, "HINFO"));
    cr_assert_str_eq(json_string_value(json_object_get(o, "rrtype")), "ANY");
    json_decref(o);

    json_t *v1 = eve_dns_answer_object(msg, 1);
    cr_assert_eq(json_array_size(v1), 11);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(v1, 10), "type")),
                     "authority");
    json_decref(v1);
    cr_assert_null(eve_dns_answer_object(msg, 7));
}

Test(dns, eve_escapes_binary_names)
{
    header(&mb, 1, 0x0100, 1, 0, 0, 0);
    u8(&mb, 3);
    bytes(&mb, "a\xff\x01", 3);
    u8(&mb, 0);
    u16(&mb, 1);
    u16(&mb, 1);
    cr_assert_eq(parse(), 0);
    json_t *o = eve_dns_query_object(msg, 0, 3);
    cr_assert_str_eq(json_string_value(json_object_get(o, "rrname")), "a\\xFF\\x01");
    cr_assert_eq(json_integer_value(json_object_get(o, "tx_id")), 3);
    json_decref(o);
}

/* ---- the strict probes (off port 53) ---- */

/* A query for example.com A with an EDNS OPT record, as resolvers send it. */
static void edns_query(unsigned flags, unsigned qd, unsigned an, unsigned ar)
{
    header(&mb, 0x1234, flags, qd, an, 0, ar);
    for (unsigned i = 0; i < qd; i++) {
        name(&mb, "example.com");
        u16(&mb, 1);
        u16(&mb, 1);
    }
    for (unsigned i = 0; i < an; i++) { /* an A record pointing at the question */
        ptr(&mb, 12);
        uint32_t at = rrhead(&mb, 1, 60);
        u32(&mb, 0x5db8d822);
        rdend(&mb, at);
    }
    for (unsigned i = 0; i < ar; i++) { /* OPT: root name, type 41, payload size 1232 */
        u8(&mb, 0);
        u16(&mb, 41);
        u16(&mb, 1232);
        u32(&mb, 0);
        u16(&mb, 0);
    }
}

/* The TCP form of mb (length prefix, then the message) in t; returns its length. */
static uint32_t tcp_form(uint8_t *t, uint32_t prefix)
{
    t[0] = (uint8_t)(prefix >> 8);
    t[1] = (uint8_t)prefix;
    memcpy(t + 2, mb.b, mb.n);
    return mb.n + 2;
}

Test(dns, strict_probes_accept_real_messages)
{
    uint8_t t[600];
    edns_query(0x0100, 1, 0, 1); /* RD, one question, OPT */
    cr_assert_eq(dns_probe_udp_strict(mb.b, mb.n), 1);
    uint32_t n = tcp_form(t, mb.n);
    cr_assert_eq(dns_probe_tcp_strict(t, n, 512), 1);
    /* every cut before the end wants more: the whole message fits in what is held */
    for (uint32_t k = 0; k < n; k++)
        cr_assert_eq(dns_probe_tcp_strict(t, k, 512), -1, "cut at %u", k);
    /* a message longer than the caller holds is judged on its header and first question */
    uint32_t first_q = 2 + 12 + 13 + 4;
    for (uint32_t k = 0; k < first_q; k++)
        cr_assert_eq(dns_probe_tcp_strict(t, k, 20), -1, "cut at %u", k);
    cr_assert_eq(dns_probe_tcp_strict(t, first_q, 20), 1);
    /* a response with an answer whose name points back at the question */
    edns_query(0x8180, 1, 1, 1);
    cr_assert_eq(dns_probe_udp_strict(mb.b, mb.n), 1);
    cr_assert_eq(dns_probe_tcp_strict(t, tcp_form(t, mb.n), 512), 1);
    /* two messages in one segment: the first is judged */
    uint32_t a = tcp_form(t, mb.n);
    memcpy(t + a, t, a);
    cr_assert_eq(dns_probe_tcp_strict(t, 2 * a, 512), 1);
    /* an mDNS query: nine questions and a known answer, which the plain probe refuses */
    edns_query(0x0000, 9, 1, 0);
    cr_assert_eq(dns_probe_udp(mb.b, mb.n), 0);
    cr_assert_eq(dns_probe_udp_strict(mb.b, mb.n), 1);
}

Test(dns, strict_probes_refuse_near_misses)
{
    uint8_t t[600];
    /* one trailing byte: over UDP after the last record, over TCP inside the prefix's length */
    edns_query(0x0100, 1, 0, 1);
    mb.b[mb.n++] = 0;
    cr_assert_eq(dns_probe_udp(mb.b, mb.n), 1, "the plain probe takes it");
    cr_assert_eq(dns_probe_udp_strict(mb.b, mb.n), 0);
    cr_assert_eq(dns_probe_tcp_strict(t, tcp_form(t, mb.n), 512), 0);
    /* a prefix one byte short of the message */
    edns_query(0x0100, 1, 0, 1);
    cr_assert_eq(dns_probe_tcp_strict(t, tcp_form(t, mb.n - 1), 512), 0);
    /* header fields a query off port 53 must not have */
    static const struct {
        unsigned flags, qd, an, ar;
        const char *what;
    } bad[] = {
        {0x0140, 1, 0, 1, "Z bit"},
        {0x0900, 1, 0, 1, "opcode IQUERY"},
        {0x1100, 1, 0, 1, "opcode STATUS"},
        {0x0103, 1, 0, 1, "rcode in a query"},
        {0x0100, 2, 0, 1, "two questions"},
        {0x0100, 1, 1, 1, "a query with an answer"},
        {0x0100, 1, 0, 3, "three additional records"},
        {0x818b, 1, 1, 1, "unassigned rcode 11"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        edns_query(bad[i].flags, bad[i].qd, bad[i].an, bad[i].ar);
        uint32_t n = tcp_form(t, mb.n);
        cr_assert_eq(dns_probe_tcp_strict(t, n, 512), 0, "%s", bad[i].what);
        /* refused from the first bytes that show it */
        cr_assert_eq(dns_probe_tcp_strict(t, 14, 512), 0, "%s (header only)", bad[i].what);
    }
    /* the Z bit over UDP */
    edns_query(0x0140, 1, 0, 1);
    cr_assert_eq(dns_probe_udp_strict(mb.b, mb.n), 0);
    /* an answer name pointing forward, or into the header */
    edns_query(0x8180, 1, 1, 0);
    mb.b[12 + 13 + 4 + 1] = (uint8_t)(mb.n - 2);
    cr_assert_eq(dns_probe_udp_strict(mb.b, mb.n), 0);
    mb.b[12 + 13 + 4 + 1] = 4;
    cr_assert_eq(dns_probe_udp_strict(mb.b, mb.n), 0);
    /* a record length running past the message */
    edns_query(0x8180, 1, 1, 0);
    mb.b[mb.n - 5] = 9;
    cr_assert_eq(dns_probe_udp_strict(mb.b, mb.n), 0);
    cr_assert_eq(dns_probe_tcp_strict(t, tcp_form(t, mb.n), 512), 0);
    /* other protocols' first bytes */
    static const char *const others[] = {"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                                         "*1\r\n$4\r\nPING\r\n", "example.com\r\n",
                                         "SSH-2.0-OpenSSH_9.2\r\n"};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        const uint8_t *o = (const uint8_t *)others[i];
        uint32_t l = (uint32_t)strlen(others[i]);
        cr_assert_eq(dns_probe_tcp_strict(o, l, 512), 0, "%s", others[i]);
        cr_assert_eq(dns_probe_udp_strict(o, l), 0, "%s", others[i]);
    }
    static const uint8_t short_prefix[] = {0, 5, 'h', 'e', 'l', 'l', 'o'};
    cr_assert_eq(dns_probe_tcp_strict(short_prefix, sizeof(short_prefix), 512), 0);
}

Test(dns, strict_udp_probe_refuses_netbios_name_service)
{
    /* an NBNS name query: "*" encoded as 32 letters, type NBSTAT (33), class IN */
    header(&mb, 0x8001, 0x0010, 1, 0, 0, 0);
    u8(&mb, 32);
    bytes(&mb, "CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 32);
    u8(&mb, 0);
    u16(&mb, 33);
    u16(&mb, 1);
    cr_assert_eq(dns_probe_udp(mb.b, mb.n), 1, "the plain probe takes it");
    cr_assert_eq(dns_probe_udp_strict(mb.b, mb.n), 0);
    /* the same shape asking for SRV of a name that is not NetBIOS-encoded is DNS */
    mb.b[13] = 'z';
    cr_assert_eq(dns_probe_udp_strict(mb.b, mb.n), 1);
}
