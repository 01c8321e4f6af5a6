/* test_detect.c: the signature engine: rule parsing, content semantics, byte_*, flowbits,
 * thresholds. */
#include <criterion/criterion.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pktgen.h"
#include "testutil.h"
#include "vigil/config.h"
#include "vigil/decode.h"
#include "vigil/detect.h"
#include "vigil/flow.h"

#define T0 1714521600000000ULL

/* A small harness: an engine, a thread context, a flow table, and the alerts seen. */
struct harness {
    struct detect_engine *e;
    struct detect_thread *t;
    struct flow_table *flows;
    struct detect_load_report rep;
    char errors[8192];
    uint32_t alerts[256];
    unsigned nalerts;
    uint64_t now;
};

static void on_alert(void *ctx, const struct vg_packet *p, struct flow *f, int dir,
                     const struct detect_alert *a)
{
    (void)p;
    (void)f;
    (void)dir;
    struct harness *h = ctx;
    if (h->nalerts < 256)
        h->alerts[h->nalerts++] = a->sig->sid;
}

static void on_flow_end(void *ctx, struct flow *f, enum flow_end_reason r, vg_time_t when)
{
    (void)ctx;
    (void)r;
    (void)when;
    detect_flow_free(f);
}

/* Loads rules (text) with an optional config (YAML text). Fails the test if nothing loads. */
static void h_init(struct harness *h, const char *rules, const char *yaml)
{
    memset(h, 0, sizeof(*h));
    char path[] = "/tmp/vigil-rules-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, rules, strlen(rules)), (ssize_t)strlen(rules));
    close(fd);
    static struct config *cfg;
    cfg = config_new();
    char err[VG_ERRBUF_SIZE];
    if (yaml)
        cr_assert_eq(config_load_string(cfg, yaml, "test.yaml", err), 0, "%s", err);
    char cls[4096];
    snprintf(cls, sizeof(cls), "%s/rules/classification.config", tu_env("VIGIL_SOURCE_DIR"));
    const char *files[1] = {path};
    struct detect_config dc = {cfg, files, 1, cls, NULL, NULL, 0, NULL};
    FILE *errs = fmemopen(h->errors, sizeof(h->errors) - 1, "w");
    h->e = detect_engine_load(&dc, &h->rep, errs, err);
    fclose(errs);
    unlink(path);
    cr_assert_not_null(h->e, "%s", err);
    h->t = detect_thread_new(h->e, err);
    cr_assert_not_null(h->t, "%s", err);
    struct flow_config fc;
    flow_config_defaults(&fc);
    fc.hash_size = 1024;
    h->flows = flow_table_new(&fc, on_flow_end, NULL, err);
    cr_assert_not_null(h->flows, "%s", err);
    h->now = T0;
}

static void h_free(struct harness *h)
{
    flow_table_flush(h->flows, h->now);
    flow_table_free(h->flows);
    detect_thread_free(h->t);
    detect_engine_free(h->e);
}

/* Decodes g and runs it through the flow table and detect_packet. */
static void h_packet(struct harness *h, struct pg *g)
{
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.data = g->b;
    p.caplen = p.wirelen = (uint32_t)g->len;
    p.datalink = DLT_EN10MB;
    p.ts = h->now;
    h->now += 1000;
    struct vg_decode_stats st;
    memset(&st, 0, sizeof(st));
    decode_packet(&st, &p);
    p.flow_hash = flow_hash_packet(&p);
    struct flow *f = NULL;
    int dir = 0;
    if (p.flow_hash)
        f = flow_handle_packet(h->flows, &p, &dir);
    detect_packet(h->t, &p, f, dir, on_alert, h);
}

/* A TCP segment of session s with payload. */
static void h_tcp(struct harness *h, struct pg_tcp_session *s, int to_server, uint8_t flags,
                  const char *data, size_t len)
{
    struct pg g;
    pg_session_segment(&g, s, to_server, flags, data, len);
    h_packet(h, &g);
    uint32_t adv = (uint32_t)len + ((flags & 0x03) ? 1u : 0u);
    if (to_server)
        s->cseq += adv;
    else
        s->sseq += adv;
}

static void h_handshake(struct harness *h, struct pg_tcp_session *s)
{
    h_tcp(h, s, 1, 0x02, NULL, 0);
    h_tcp(h, s, 0, 0x12, NULL, 0);
    h_tcp(h, s, 1, 0x10, NULL, 0);
}

static void h_udp(struct harness *h, const char *src, uint16_t sp, const char *dst, uint16_t dp,
                  const void *data, size_t len)
{
    struct pg g;
    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, src, dst, 17, 1, 0);
    pg_udp(&g, sp, dp);
    pg_bytes(&g, data, len);
    pg_finish(&g);
    h_packet(h, &g);
}

static unsigned count(const struct harness *h, uint32_t sid)
{
    unsigned n = 0;
    for (unsigned i = 0; i < h->nalerts; i++)
        n += h->alerts[i] == sid;
    return n;
}

/* Runs one UDP payload against rules; returns the harness for inspection. */
static void one_udp(struct harness *h, const char *rules, const void *payload, size_t len)
{
    h_init(h, rules, NULL);
    h_udp(h, "10.0.0.1", 1000, "10.0.0.2", 2000, payload, len);
}

Test(detect, content_positions)
{
    struct harness h;
    one_udp(
        &h,
        "alert udp any any -> any any (content:\"abc\"; sid:1;)\n"
        "alert udp any any -> any any (content:\"abc\"; depth:3; sid:2;)\n"
        "alert udp any any -> any any (content:\"abc\"; offset:1; sid:3;)\n"
        "alert udp any any -> any any (content:\"abc\"; offset:4; depth:5; sid:4;)\n"
        "alert udp any any -> any any (content:\"ABC\"; nocase; sid:5;)\n"
        "alert udp any any -> any any (content:\"ABC\"; sid:6;)\n"
        "alert udp any any -> any any (content:\"xyz\"; endswith; sid:7;)\n"
        "alert udp any any -> any any (content:\"abc\"; startswith; sid:8;)\n"
        "alert udp any any -> any any (content:\"abc\"; content:\"xyz\"; distance:0; sid:9;)\n"
        "alert udp any any -> any any (content:\"abc\"; content:\"xyz\"; within:3; sid:10;)\n"
        "alert udp any any -> any any (content:\"abc\"; content:\"123\"; distance:0; "
        "within:3; sid:11;)\n"
        "alert udp any any -> any any (content:\"xyz\"; content:\"abc\"; distance:-11; "
        "within:3; sid:12;)\n"
        "alert udp any any -> any any (content:\"|61 62|c\"; sid:13;)\n"
        "alert udp any any -> any any (content:!\"zzz\"; sid:14;)\n"
        "alert udp any any -> any any (content:\"abc\"; content:!\"123\"; distance:0; sid:15;)\n"
        "alert udp any any -> any any (content:\"abc\"; fast_pattern:only; sid:16;)\n",
        "abc123abcxyz", 12);
    /* payload "abc123abcxyz": abc at 0 and 6, 123 at 3, xyz at 9 (end) */
    static const struct {
        uint32_t sid;
        unsigned n;
    } want[] = {{1, 1}, {2, 1},  {3, 1},  {4, 1},  {5, 1},  {6, 0},  {7, 1},  {8, 1},
                {9, 1}, {10, 1}, {11, 1}, {12, 0}, {13, 1}, {14, 1}, {15, 0}, {16, 1}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_expect_eq(count(&h, want[i].sid), want[i].n, "sid %u: %u alerts, want %u", want[i].sid,
                     count(&h, want[i].sid), want[i].n);
    h_free(&h);
}

/* Content found at every position and block edge of the SIMD search, with and without case; a
 * non-letter never matches its case-bit twin ('@' 0x40 is not '`' 0x60). */
Test(detect, content_search_every_position, .timeout = 120)
{
    static const char *pats[] = {"q", "Qz", "@Kq", "zYxWvUtSrQpOnMlKj",
                                 "|40|abcdefghijklmnopqrstuvwxyz0123|40|"};
    static const char *texts[] = {"Q", "qZ", "@kQ", "ZyXwVuTsRqPoNmLkJ",
                                  "@ABCDEFGHIJKLMNOPQRSTUVWXYZ0123@"};
    for (size_t k = 0; k < sizeof(pats) / sizeof(pats[0]); k++) {
        char rules[512];
        snprintf(rules, sizeof(rules),
                 "alert udp any any -> any any (content:\"%s\"; nocase; sid:1;)\n"
                 "alert udp any any -> any any (content:\"%s\"; sid:2;)\n"
                 "alert udp any any -> any any (content:\"%s\"; sid:3;)\n",
                 pats[k], pats[k], texts[k]);
        size_t tl = strlen(texts[k]);
        for (size_t pos = 0; pos + tl <= 64; pos += (pos < 20 ? 1 : 7)) {
            uint8_t pl[64];
            memset(pl, '`', sizeof(pl)); /* '`' is '@' with the case bit: never a match */
            memcpy(pl + pos, texts[k], tl);
            struct harness h;
            one_udp(&h, rules, pl, sizeof(pl));
            cr_assert_eq(count(&h, 1), 1, "pattern %zu at %zu: nocase", k, pos);
            cr_assert_eq(count(&h, 2), 0, "pattern %zu at %zu: other case", k, pos);
            cr_assert_eq(count(&h, 3), 1, "pattern %zu at %zu: same case", k, pos);
            h_free(&h);
            pl[pos] = '`'; /* the first byte broken: no match either way */
            if (k >= 2) {
                one_udp(&h, rules, pl, sizeof(pl));
                cr_assert_eq(count(&h, 1), 0, "pattern %zu at %zu: broken", k, pos);
                h_free(&h);
            }
        }
    }
}

Test(detect, relative_backtracking)
{
    /* "ab" twice: the second content must follow the *second* "ab" within 2 bytes. */
    struct harness h;
    one_udp(&h,
            "alert udp any any -> any any (content:\"ab\"; content:\"cd\"; distance:0; within:2; "
            "sid:1;)\n"
            "alert udp any any -> any any (content:\"ab\"; content:\"ef\"; distance:0; within:2; "
            "sid:2;)\n",
            "abXXabcd", 8);
    cr_assert_eq(count(&h, 1), 1);
    cr_assert_eq(count(&h, 2), 0);
    h_free(&h);
}

Test(detect, pcre_and_isdataat)
{
    struct harness h;
    one_udp(&h,
            "alert udp any any -> any any (pcre:\"/us(er|ers)=\\d+/\"; sid:1;)\n"
            "alert udp any any -> any any (pcre:\"/USER/i\"; sid:2;)\n"
            "alert udp any any -> any any (content:\"user\"; pcre:\"/^=\\d/R\"; sid:3;)\n"
            "alert udp any any -> any any (content:\"user\"; pcre:\"/^x/R\"; sid:4;)\n"
            "alert udp any any -> any any (pcre:!\"/admin/\"; sid:5;)\n"
            "alert udp any any -> any any (content:\"user\"; isdataat:3,relative; sid:6;)\n"
            "alert udp any any -> any any (content:\"user\"; isdataat:!10,relative; sid:7;)\n"
            "alert udp any any -> any any (content:\"user\"; isdataat:50; sid:8;)\n"
            "alert udp any any -> any any (content:\"user\"; dsize:10; sid:9;)\n"
            "alert udp any any -> any any (content:\"user\"; dsize:>20; sid:10;)\n",
            "user=12345", 10);
    cr_assert_eq(count(&h, 1), 1);
    cr_assert_eq(count(&h, 2), 1);
    cr_assert_eq(count(&h, 3), 1);
    cr_assert_eq(count(&h, 4), 0);
    cr_assert_eq(count(&h, 5), 1);
    cr_assert_eq(count(&h, 6), 1);
    cr_assert_eq(count(&h, 7), 1);
    cr_assert_eq(count(&h, 8), 0);
    cr_assert_eq(count(&h, 9), 1);
    cr_assert_eq(count(&h, 10), 0);
    h_free(&h);
}

Test(detect, byte_keywords)
{
    /* 00 10 | "AB" | 00 03 'x' 'y' 'z' | "1234" */
    static const uint8_t pl[] = {0x00, 0x10, 'A', 'B', 0x00, 0x03, 'x',
                                 'y',  'z',  '1', '2', '3',  '4'};
    struct harness h;
    one_udp(&h,
            "alert udp any any -> any any (byte_test:2,=,16,0; sid:1;)\n"
            "alert udp any any -> any any (byte_test:2,>,16,0; sid:2;)\n"
            "alert udp any any -> any any (byte_test:2,!=,16,0; sid:3;)\n"
            "alert udp any any -> any any (byte_test:2,=,4096,0,little; sid:4;)\n"
            "alert udp any any -> any any (content:\"AB\"; byte_jump:2,0,relative; "
            "content:\"1234\"; within:4; sid:5;)\n"
            "alert udp any any -> any any (content:\"AB\"; byte_extract:2,0,len,relative; "
            "byte_test:1,=,120,0,relative; content:\"1234\"; distance:len; within:4; sid:6;)\n"
            "alert udp any any -> any any (content:\"xyz\"; byte_test:4,=,1234,0,relative,string,"
            "dec; sid:7;)\n"
            "alert udp any any -> any any (content:\"xyz\"; byte_test:2,=,0x12,0,relative,string,"
            "hex; sid:8;)\n"
            "alert udp any any -> any any (byte_test:2,&,0x10,0; sid:9;)\n"
            "alert udp any any -> any any (byte_test:2,=,1,0,bitmask 0x00f0; sid:10;)\n"
            "alert udp any any -> any any (byte_test:4,=,0,100; sid:11;)\n"
            "alert udp any any -> any any (byte_test:0,=,0,0,string,dec; sid:12;)\n",
            pl, sizeof(pl));
    cr_expect_eq(count(&h, 1), 1);
    cr_expect_eq(count(&h, 2), 0);
    cr_expect_eq(count(&h, 3), 0);
    cr_expect_eq(count(&h, 4), 1);
    cr_expect_eq(count(&h, 5), 1, "byte_jump over 3 bytes lands on 1234");
    cr_expect_eq(count(&h, 6), 1);
    cr_expect_eq(count(&h, 7), 1);
    cr_expect_eq(count(&h, 8), 1);
    cr_expect_eq(count(&h, 9), 1);
    cr_expect_eq(count(&h, 10), 1);
    cr_expect_eq(count(&h, 11), 0, "past the end never matches");
    cr_expect_eq(count(&h, 12), 0, "zero bytes load but never match");
    h_free(&h);
}

Test(detect, addresses_ports_and_variables)
{
    struct harness h;
    h_init(&h,
           "alert udp $HOME_NET any -> $EXTERNAL_NET 53 (msg:\"out\"; content:\"q\"; sid:1;)\n"
           "alert udp $EXTERNAL_NET any -> $HOME_NET any (content:\"q\"; sid:2;)\n"
           "alert udp [10.0.0.0/8,!10.9.0.0/16] any -> any [53,5353] (content:\"q\"; sid:3;)\n"
           "alert udp 10.9.0.0/16 any -> any any (content:\"q\"; sid:4;)\n"
           "alert udp any 1000:2000 -> any !53 (content:\"q\"; sid:5;)\n"
           "alert udp any any <> 10.0.0.1 any (content:\"q\"; sid:6;)\n"
           "alert udp any any -> any $DNS_PORTS (content:\"q\"; sid:7;)\n"
           "alert udp 10.0.0.1-10.0.0.5 any -> 198.51.100.0/255.255.255.0 any (content:\"q\"; "
           "sid:8;)\n",
           "vars:\n  address-groups:\n    HOME_NET: \"[10.0.0.0/8]\"\n"
           "  port-groups:\n    DNS_PORTS: \"[53,5353]\"\n");
    cr_assert_eq(h.rep.loaded, 8, "%s", h.errors);
    h_udp(&h, "10.0.0.1", 1500, "198.51.100.7", 53, "q", 1);
    cr_expect_eq(count(&h, 1), 1);
    cr_expect_eq(count(&h, 2), 0);
    cr_expect_eq(count(&h, 3), 1);
    cr_expect_eq(count(&h, 4), 0);
    cr_expect_eq(count(&h, 5), 0);
    cr_expect_eq(count(&h, 6), 1);
    cr_expect_eq(count(&h, 7), 1);
    cr_expect_eq(count(&h, 8), 1);
    h.nalerts = 0;
    /* The reply: from outside in, and "<>" matches it too. */
    h_udp(&h, "198.51.100.7", 53, "10.0.0.1", 1500, "q", 1);
    cr_expect_eq(count(&h, 1), 0);
    cr_expect_eq(count(&h, 2), 1);
    cr_expect_eq(count(&h, 5), 0);
    cr_expect_eq(count(&h, 6), 1);
    h.nalerts = 0;
    h_udp(&h, "10.9.1.1", 1500, "198.51.100.7", 53, "q", 1);
    cr_expect_eq(count(&h, 3), 0, "10.9.0.0/16 is excluded");
    cr_expect_eq(count(&h, 4), 1);
    h_free(&h);
}

Test(detect, flow_keywords_and_flowbits)
{
    struct harness h;
    h_init(
        &h,
        "alert tcp any any -> any 80 (flow:established,to_server; content:\"GET\"; "
        "flowbits:set,saw.get; flowbits:noalert; sid:1;)\n"
        "alert tcp any 80 -> any any (flow:established,to_client; content:\"200\"; "
        "flowbits:isset,saw.get; sid:2;)\n"
        "alert tcp any 80 -> any any (flow:to_client; content:\"200\"; flowbits:isnotset,saw.get; "
        "sid:3;)\n"
        "alert tcp any any -> any 80 (flow:not_established; flags:S; sid:4;)\n"
        "alert tcp any any -> any 80 (flow:established; flags:S; sid:5;)\n"
        "alert tcp any any -> any 80 (flags:S+; sid:6;)\n"
        "alert tcp any any -> any 80 (flags:SA; sid:7;)\n"
        "alert tcp any 80 -> any any (flags:SA; sid:8;)\n"
        "alert tcp any any -> any any (flowbits:isset,never.set; content:\"GET\"; sid:9;)\n",
        NULL);
    struct pg_tcp_session s = {"10.0.0.1", "10.0.0.2", 40000, 80, 1000, 5000, 0};
    h_handshake(&h, &s);
    h_tcp(&h, &s, 1, 0x18, "GET / HTTP/1.0\r\n\r\n", 18);
    h_tcp(&h, &s, 0, 0x18, "HTTP/1.0 200 OK\r\n\r\n", 19);
    cr_expect_eq(count(&h, 1), 0, "noalert");
    cr_expect_eq(count(&h, 2), 1, "flowbit set by sid 1 on the request");
    cr_expect_eq(count(&h, 3), 0);
    cr_expect_eq(count(&h, 4), 1);
    cr_expect_eq(count(&h, 5), 0);
    cr_expect_eq(count(&h, 6), 1);
    cr_expect_eq(count(&h, 7), 0, "SYN/ACK goes to the client");
    cr_expect_eq(count(&h, 8), 1);
    cr_expect_eq(count(&h, 9), 0);
    h_free(&h);
}

Test(detect, thresholds)
{
    struct harness h;
    h_init(&h,
           "alert udp any any -> any any (content:\"x\"; threshold:type limit,track by_src,count 2,"
           "seconds 60; sid:1;)\n"
           "alert udp any any -> any any (content:\"x\"; threshold:type threshold,track by_src,"
           "count 3,seconds 60; sid:2;)\n"
           "alert udp any any -> any any (content:\"x\"; threshold:type both,track by_dst,count 3,"
           "seconds 60; sid:3;)\n"
           "alert udp any any -> any any (content:\"x\"; detection_filter:track by_rule,count 4,"
           "seconds 60; sid:4;)\n",
           NULL);
    for (int i = 0; i < 7; i++)
        h_udp(&h, "10.0.0.1", 1000, "10.0.0.2", (uint16_t)(2000 + i), "x", 1);
    cr_expect_eq(count(&h, 1), 2, "limit: the first 2");
    cr_expect_eq(count(&h, 2), 2, "threshold: the 3rd and 6th");
    cr_expect_eq(count(&h, 3), 1, "both: once, at the 3rd");
    cr_expect_eq(count(&h, 4), 3, "detection_filter: the 5th, 6th and 7th");
    /* Another source has its own limit. */
    h_udp(&h, "10.0.0.9", 1000, "10.0.0.2", 3000, "x", 1);
    cr_expect_eq(count(&h, 1), 3);
    /* A minute later the window starts again. */
    h.now += 61 * 1000000ULL;
    h_udp(&h, "10.0.0.1", 1000, "10.0.0.2", 4000, "x", 1);
    cr_expect_eq(count(&h, 1), 4);
    h_free(&h);
}

Test(detect, threshold_file_overrides_and_suppresses)
{
    char tf[] = "/tmp/vigil-threshold-XXXXXX";
    int fd = mkstemp(tf);
    cr_assert_geq(fd, 0);
    static const char text[] = "# Suricata's threshold.config\n"
                               "threshold gen_id 1, sig_id 1, type limit, track by_rule, count 2, "
                               "seconds 60\n"
                               "suppress gen_id 1, sig_id 2\n"
                               "suppress gen_id 1, sig_id 3, track by_src, ip [10.0.0.0/24]\n"
                               "bogus gen_id 1, sig_id 4\n"
                               "threshold gen_id 1, sig_id 4, type sometimes, track by_src\n";
    cr_assert_eq(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    char yaml[256];
    snprintf(yaml, sizeof(yaml), "threshold-file: %s\n", tf);
    struct harness h;
    h_init(&h,
           "alert udp any any -> any any (content:\"x\"; sid:1;)\n"
           "alert udp any any -> any any (content:\"x\"; sid:2;)\n"
           "alert udp any any -> any any (content:\"x\"; sid:3;)\n"
           "alert udp any any -> any any (content:\"x\"; sid:4;)\n",
           yaml);
    unlink(tf);
    cr_assert(strstr(h.errors, ":5: unknown entry") != NULL, "%s", h.errors);
    cr_assert(strstr(h.errors, ":6: ") != NULL, "%s", h.errors);
    for (int i = 0; i < 5; i++)
        h_udp(&h, "10.0.0.1", 1000, "10.0.1.2", (uint16_t)(2000 + i), "x", 1);
    h_udp(&h, "10.0.5.1", 1000, "10.0.1.2", 3000, "x", 1);
    cr_expect_eq(count(&h, 1), 2, "the file's limit replaced no limit");
    cr_expect_eq(count(&h, 2), 0, "suppressed everywhere");
    cr_expect_eq(count(&h, 3), 1, "suppressed for 10.0.0.0/24 sources only");
    cr_expect_eq(count(&h, 4), 6, "bad lines change nothing");
    h_free(&h);
}

Test(detect, icmp_ttl_ip_proto)
{
    struct harness h;
    h_init(&h,
           "alert icmp any any -> any any (itype:8; icode:0; sid:1;)\n"
           "alert icmp any any -> any any (itype:>10; sid:2;)\n"
           "alert ip any any -> any any (ip_proto:1; ttl:64; sid:3;)\n"
           "alert ip any any -> any any (ip_proto:!1; sid:4;)\n"
           "alert ip any any -> any any (ttl:<10; sid:5;)\n"
           "alert icmp any any -> any any (icmp_id:77; icmp_seq:1; sid:6;)\n",
           NULL);
    struct pg g;
    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, "10.0.0.1", "10.0.0.2", 1, 1, 0);
    pg_icmp4(&g, 8, 0, 77, 1);
    pg_finish(&g);
    h_packet(&h, &g);
    cr_expect_eq(count(&h, 1), 1);
    cr_expect_eq(count(&h, 2), 0);
    cr_expect_eq(count(&h, 3), 1);
    cr_expect_eq(count(&h, 4), 0);
    cr_expect_eq(count(&h, 5), 0);
    cr_expect_eq(count(&h, 6), 1);
    h_free(&h);
}

Test(detect, bad_rules_are_reported_and_the_rest_load)
{
    struct harness h;
    h_init(&h,
           "alert udp any any -> any any (content:\"ok\"; sid:1;)\n"
           "# a comment\n"
           "alert udp any any -> any any (content:\"ok\" sid:2;)\n"
           "alert udp any any -> any any (content:\"|4\"; sid:3;)\n"
           "alert udp any any -> any any (nosuchkeyword; sid:4;)\n"
           "alert udp any any -> any any (content:\"xy\"; depth:1; sid:5;)\n"
           "alert udp any any -> any any (pcre:\"/(unclosed/\"; sid:6;)\n"
           "alert udp 999.0.0.1 any -> any any (content:\"x\"; sid:7;)\n"
           "alert udp any any -> any any (content:\"x\"; classtype:no-such-class; sid:8;)\n"
           "alert udp any any -> any any (content:\"x\"; msg:\"no sid\";)\n"
           "alert udp any any -> any any (content:\"x\"; \\\n  sid:9;)\n"
           "alert udp any any -> any any (content:\"dup\"; sid:1; rev:5;)\n"
           "bogus udp any any -> any any (sid:10;)\n"
           "alert udp any any -> any any (flow:to_server,to_client; sid:11;)\n"
           "alert udp any any -> any any (content:\"a\"; distance:1; depth:3; sid:12;)\n",
           NULL);
    cr_assert_eq(h.rep.loaded, 2, "%s", h.errors); /* sid 9, and sid 1 (rev 5 kept) */
    cr_assert_eq(h.rep.duplicates, 1, "%s", h.errors);
    cr_assert_eq(h.rep.unsupported, 1);
    cr_assert_eq(h.rep.failed, 10, "%s", h.errors);
    cr_assert(strstr(h.errors, ":3: sid 2:") != NULL, "%s", h.errors);
    cr_assert(strstr(h.errors, ":5: sid 4: unsupported keyword 'nosuchkeyword'") != NULL, "%s",
              h.errors);
    cr_assert(strstr(h.errors, ":6: sid 5: depth 1 is smaller than the content") != NULL, "%s",
              h.errors);
    cr_assert(strstr(h.errors, ":7: sid 6: pcre:") != NULL, "%s", h.errors);
    cr_assert(strstr(h.errors, "invalid address '999.0.0.1'") != NULL, "%s", h.errors);
    cr_assert(strstr(h.errors, "unknown classtype 'no-such-class'") != NULL, "%s", h.errors);
    cr_assert(strstr(h.errors, ":10: no sid") != NULL, "%s", h.errors);
    cr_assert(strstr(h.errors, "duplicate") != NULL, "%s", h.errors);
    h_udp(&h, "10.0.0.1", 1, "10.0.0.2", 2, "ok dup x", 8);
    cr_assert_eq(count(&h, 1), 1);
    cr_assert_eq(count(&h, 9), 1);
    h_free(&h);
}

Test(detect, metadata_classtype_priority)
{
    struct harness h;
    h_init(&h,
           "alert udp any any -> any any (msg:\"m\\; with \\\"quotes\\\"\"; content:\"x\"; "
           "classtype:trojan-activity; metadata:signature_severity Major, mitre_tactic_id "
           "TA0011, mitre_tactic_id TA0010; sid:1; rev:3;)\n"
           "alert udp any any -> any any (content:\"x\"; classtype:trojan-activity; priority:3; "
           "sid:2;)\n",
           NULL);
    cr_assert_eq(h.rep.loaded, 2, "%s", h.errors);
    const struct detect_sig_info *a = NULL, *b = NULL;
    for (unsigned i = 0; i < detect_engine_rule_count(h.e); i++) {
        const struct detect_sig_info *s = detect_engine_sig(h.e, i);
        if (s->sid == 1)
            a = s;
        if (s->sid == 2)
            b = s;
    }
    cr_assert_str_eq(a->msg, "m; with \"quotes\"");
    cr_assert_str_eq(a->category, "A Network Trojan was detected");
    cr_assert_eq(a->priority, 1);
    cr_assert_eq(a->rev, 3);
    json_t *meta = detect_sig_metadata_json(a);
    json_t *tac = json_object_get(meta, "mitre_tactic_id");
    cr_assert_eq(json_array_size(tac), 2);
    cr_assert_str_eq(json_string_value(json_array_get(tac, 1)), "TA0010");
    cr_assert_str_eq(
        json_string_value(json_array_get(json_object_get(meta, "signature_severity"), 0)), "Major");
    json_decref(meta);
    cr_assert_null(detect_sig_metadata_json(b));
    cr_assert_eq(b->priority, 3, "priority overrides the classtype's");
    h_free(&h);
}

Test(detect, many_rules_share_the_prefilter)
{
    /* 2000 rules with distinct literals and one with none: only the right ones fire. */
    size_t cap = 2000 * 96;
    char *rules = malloc(cap), *p = rules;
    for (int i = 0; i < 2000; i++)
        p += snprintf(p, cap - (size_t)(p - rules),
                      "alert udp any any -> any any (content:\"token%05d!\"; sid:%d;)\n", i, i + 1);
    snprintf(p, cap - (size_t)(p - rules),
             "alert udp any any -> any any (pcre:\"/k[0-9]{3}z/\"; sid:5000;)\n");
    struct harness h;
    h_init(&h, rules, NULL);
    free(rules);
    cr_assert_eq(h.rep.loaded, 2001, "%s", h.errors);
    h_udp(&h, "10.0.0.1", 1, "10.0.0.2", 2, "xx token01234! yy token00007! k123z", 35);
    cr_assert_eq(h.nalerts, 3);
    cr_assert_eq(count(&h, 1235), 1);
    cr_assert_eq(count(&h, 8), 1);
    cr_assert_eq(count(&h, 5000), 1, "a pcre-only rule is prefiltered by its regex");
    h_free(&h);
}

Test(detect, compiled_databases_are_cached)
{
    char *dir = tu_tmpdir();
    char rules[4200], cache[4200];
    snprintf(rules, sizeof(rules), "%s/r.rules", dir);
    snprintf(cache, sizeof(cache), "%s/cache", dir);
    FILE *f = fopen(rules, "w");
    for (int i = 0; i < 500; i++)
        fprintf(f, "alert tcp any any -> any any (content:\"cached-%d\"; sid:%d;)\n", i, i + 1);
    fclose(f);
    const char *files[1] = {rules};
    struct detect_config dc = {NULL, files, 1, NULL, NULL, cache, 0, NULL};
    struct detect_load_report rep;
    char err[VG_ERRBUF_SIZE];
    FILE *errs = fopen("/dev/null", "w");
    struct detect_engine *e = detect_engine_load(&dc, &rep, errs, err);
    cr_assert_not_null(e, "%s", err);
    cr_assert_eq(rep.cache_hit, 0);
    detect_engine_free(e);
    e = detect_engine_load(&dc, &rep, errs, err);
    cr_assert_not_null(e, "%s", err);
    cr_assert_eq(rep.cache_hit, 1, "the second load comes from the cache");
    detect_engine_free(e);
    /* A changed ruleset misses the cache. */
    f = fopen(rules, "a");
    fprintf(f, "alert tcp any any -> any any (content:\"new\"; sid:9999;)\n");
    fclose(f);
    e = detect_engine_load(&dc, &rep, errs, err);
    cr_assert_eq(rep.cache_hit, 0);
    detect_engine_free(e);
    /* A corrupt cache file is recompiled, not trusted. */
    char cmd[8500];
    snprintf(cmd, sizeof(cmd),
             "for f in %s/*.hsdb; do head -c 100 \"$f\" > \"$f.x\" && mv \"$f.x\" \"$f\"; done",
             cache);
    cr_assert_eq(system(cmd), 0);
    e = detect_engine_load(&dc, &rep, errs, err);
    cr_assert_not_null(e, "%s", err);
    cr_assert_eq(rep.cache_hit, 0);
    detect_engine_free(e);
    fclose(errs);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    free(dir);
}

Test(detect, legacy_modifiers_and_sticky_buffers_parse_alike)
{
    struct harness h;
    h_init(&h,
           "alert http any any -> any any (content:\"/a\"; http_uri; content:\"b\"; http_uri; "
           "distance:0; content:\"GET\"; http_method; sid:1;)\n"
           "alert http any any -> any any (http.uri; content:\"/a\"; content:\"b\"; distance:0; "
           "http.method; content:\"GET\"; sid:2;)\n"
           "alert http any any -> any any (pcre:\"/\\/a/U\"; sid:3;)\n"
           "alert dns any any -> any any (dns.query; dotprefix; content:\".example.com\"; "
           "endswith; sid:4;)\n"
           "alert tls any any -> any any (tls.sni; content:\"x\"; tls.version:1.2; sid:5;)\n"
           "alert http any any -> any any (urilen:>10; sid:6;)\n"
           "alert http any any -> any any (http.uri; bsize:<=10; sid:7;)\n",
           NULL);
    cr_assert_eq(h.rep.loaded, 7, "%s", h.errors);
    h_free(&h);
}

Test(detect, hostile_rules_do_not_crash)
{
    /* Deep variables, huge lists, odd bytes: errors or loads, never a crash. */
    char big[70000];
    size_t n = (size_t)snprintf(big, sizeof(big), "alert udp [");
    for (int i = 0; i < 3000 && n < sizeof(big) - 100; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "10.%d.%d.0/24,", i / 250, i % 250);
    snprintf(big + n - 1, sizeof(big) - n, "] any -> any any (content:\"x\"; sid:1;)\n");
    struct harness h;
    h_init(&h, big, "vars:\n  address-groups:\n    A: \"$B\"\n    B: \"$A\"\n");
    cr_assert_eq(h.rep.loaded, 1, "%s", h.errors);
    h_free(&h);
    h_init(&h,
           "alert udp $A any -> any any (content:\"x\"; sid:1;)\n"
           "alert udp any any -> any any (content:\"\x01\xff\"; sid:2;)\n"
           "alert udp any any -> any any (pcre:\"/(a+)+$/\"; sid:3;)\n"
           "alert udp any any -> any any (((((; sid:4;)\n"
           "alert udp any any -> any any (content:\"x\"; byte_extract:4,0,v; byte_jump:4,v; "
           "byte_test:4,>,v,v; isdataat:v; content:\"y\"; distance:v; within:v; sid:5;)\n",
           "vars:\n  address-groups:\n    A: \"$B\"\n    B: \"$A\"\n");
    cr_assert(strstr(h.errors, "nested too deep") != NULL, "%s", h.errors);
    /* A catastrophic regex on hostile data ends at the match limit. */
    char data[4000];
    memset(data, 'a', sizeof(data) - 1);
    data[sizeof(data) - 1] = 'b';
    h_udp(&h, "10.0.0.1", 1, "10.0.0.2", 2, data, sizeof(data));
    static const uint8_t big_values[] = {'x', 0x7f, 0xff, 0xff, 0xff, 'y'};
    h_udp(&h, "10.0.0.1", 1, "10.0.0.2", 2, big_values, sizeof(big_values));
    h_free(&h);
}
