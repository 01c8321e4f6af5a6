/* test_detect_geoip.c: the geoip keyword with MaxMind's test databases, in the engine and the
 * sensor. */
#include <criterion/criterion.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pktgen.h"
#include "testutil.h"
#include "vigil/config.h"
#include "vigil/decode.h"
#include "vigil/detect.h"
#include "vigil/enrich.h"

#define T0 1714521600000000ULL

/* Returns a database of $VIGIL_SHARED/corpus/maxmind/MaxMind-DB/test-data, or skips. */
static const char *testdb(const char *name)
{
    static __thread char path[4096];
    const char *shared = getenv("VIGIL_SHARED");
    snprintf(path, sizeof(path), "%s/corpus/maxmind/MaxMind-DB/test-data/%s",
             shared ? shared : "../shared", name);
    struct stat sb;
    if (stat(path, &sb) != 0)
        cr_skip_test("%s is absent: GeoIP test skipped", path);
    return path;
}

struct harness {
    struct enrich *enrich;
    struct detect_engine *e;
    struct detect_thread *t;
    struct detect_load_report rep;
    char errors[8192];
    uint32_t alerts[64];
    unsigned nalerts;
};

static void on_alert(void *ctx, const struct vg_packet *p, struct flow *f, int dir,
                     const struct detect_alert *a)
{
    (void)p;
    (void)f;
    (void)dir;
    struct harness *h = ctx;
    if (h->nalerts < 64)
        h->alerts[h->nalerts++] = a->sig->sid;
}

/* Loads rules with the database db (NULL: none). */
static void h_init(struct harness *h, const char *rules, const char *db)
{
    memset(h, 0, sizeof(*h));
    char err[VG_ERRBUF_SIZE];
    h->enrich = enrich_new(NULL, err);
    cr_assert_not_null(h->enrich, "%s", err);
    if (db != NULL)
        cr_assert_eq(enrich_add_database(h->enrich, db, err), 0, "%s", err);
    char path[] = "/tmp/vigil-geo-rules-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, rules, strlen(rules)), (ssize_t)strlen(rules));
    close(fd);
    const char *files[1] = {path};
    struct detect_config dc = {NULL, files, 1, NULL, NULL, NULL, 0, h->enrich};
    FILE *errs = fmemopen(h->errors, sizeof(h->errors) - 1, "w");
    h->e = detect_engine_load(&dc, &h->rep, errs, err);
    fclose(errs);
    unlink(path);
    cr_assert_not_null(h->e, "%s", err);
    h->t = detect_thread_new(h->e, err);
    cr_assert_not_null(h->t, "%s", err);
}

static void h_free(struct harness *h)
{
    detect_thread_free(h->t);
    detect_engine_free(h->e);
    enrich_free(h->enrich);
}

/* One UDP packet src -> dst through detect_packet (pcap_cnt 0: a pseudo packet). */
static void h_udp(struct harness *h, const char *src, const char *dst, uint64_t pcap_cnt)
{
    struct pg g;
    pg_init(&g);
    int v6 = strchr(src, ':') != NULL;
    pg_eth(&g, v6 ? 0x86dd : 0x0800);
    if (v6)
        pg_ipv6(&g, src, dst, 17);
    else
        pg_ipv4(&g, src, dst, 17, 1, 0);
    pg_udp(&g, 5000, 6000);
    pg_bytes(&g, "geo", 3);
    pg_finish(&g);
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.data = g.b;
    p.caplen = p.wirelen = (uint32_t)g.len;
    p.datalink = DLT_EN10MB;
    p.ts = T0;
    p.pcap_cnt = pcap_cnt;
    struct vg_decode_stats st;
    memset(&st, 0, sizeof(st));
    decode_packet(&st, &p);
    h->nalerts = 0;
    detect_packet(h->t, &p, NULL, 0, on_alert, h);
}

static int alerted(const struct harness *h, uint32_t sid)
{
    for (unsigned i = 0; i < h->nalerts; i++)
        if (h->alerts[i] == sid)
            return 1;
    return 0;
}

/* sid 1..10: the forms of the keyword; GB is 81.2.69.142, CN 175.16.199.1. */
static const char rules[] =
    "alert ip any any -> any any (geoip:src,GB; sid:1;)\n"
    "alert ip any any -> any any (geoip:dst,GB; sid:2;)\n"
    "alert ip any any -> any any (geoip:any,GB; sid:3;)\n"
    "alert ip any any -> any any (geoip:both,GB,CN; sid:4;)\n"
    "alert ip any any -> any any (geoip:GB; sid:5;)\n"
    "alert ip any any -> any any (geoip:src,!GB; sid:6;)\n"
    "alert ip any any -> any any (geoip:both,!GB,US; sid:7;)\n"
    "alert ip any any -> any any (geoip:dst,RU,CN,IR; sid:8;)\n"
    "alert ip any any -> any any (geoip:!CN; sid:9;)\n"
    "alert udp any any -> any any (geoip:src,GB; content:\"geo\"; sid:10;)\n";

static void expect_alerts(const struct harness *h, const char *what, const int want[10])
{
    for (uint32_t sid = 1; sid <= 10; sid++)
        cr_expect_eq(alerted(h, sid), want[sid - 1], "%s: sid %u %s", what, sid,
                     want[sid - 1] ? "did not alert" : "alerted");
}

Test(geoip, parse_errors)
{
    struct harness h;
    h_init(&h,
           "alert ip any any -> any any (geoip:src; sid:1;)\n"
           "alert ip any any -> any any (geoip:src,usa; sid:2;)\n"
           "alert ip any any -> any any (geoip:src,gb; sid:3;)\n"
           "alert ip any any -> any any (geoip:; sid:4;)\n"
           "alert ip any any -> any any (geoip:sideways,GB; sid:5;)\n"
           "alert ip any any -> any any (geoip:src,GB; sid:6;)\n",
           testdb("GeoIP2-Country-Test.mmdb"));
    cr_assert_eq(h.rep.loaded, 1);
    cr_assert_eq(h.rep.failed, 5, "%s", h.errors);
    cr_assert(strstr(h.errors, ":1: sid 1: geoip: no country given") != NULL, "%s", h.errors);
    cr_assert(strstr(h.errors, ":2: sid 2: geoip: 'usa' is not a two-letter country code") != NULL,
              "%s", h.errors);
    cr_assert(strstr(h.errors, ":3: sid 3: geoip: 'gb' is not") != NULL, "%s", h.errors);
    cr_assert(strstr(h.errors, ":4: sid 4: geoip needs a value") != NULL, "%s", h.errors);
    cr_assert(strstr(h.errors, ":5: sid 5: geoip: 'sideways' is not") != NULL, "%s", h.errors);
    h_free(&h);
}

Test(geoip, an_asn_database_has_no_countries)
{
    struct harness h;
    h_init(&h, "alert ip any any -> any any (geoip:src,GB; sid:1;)\n",
           testdb("GeoLite2-ASN-Test.mmdb"));
    cr_assert_eq(h.rep.loaded, 0);
    cr_assert_eq(h.rep.unsupported, 1);
    cr_assert_str_eq(h.rep.unsupported_by_kw[0].keyword, "geoip (no database)");
    h_free(&h);
}

Test(geoip, sides_and_negation_as_suricata)
{
    struct harness h;
    h_init(&h, rules, testdb("GeoIP2-Country-Test.mmdb"));
    cr_assert_eq(h.rep.loaded, 10, "%s", h.errors);
    /* GB to a private address (no country: matches neither way). */
    h_udp(&h, "81.2.69.142", "10.0.0.5", 1);
    expect_alerts(&h, "GB->private", (const int[10]){1, 0, 1, 0, 1, 0, 0, 0, 1, 1});
    /* GB to CN. */
    h_udp(&h, "81.2.69.142", "175.16.199.1", 2);
    expect_alerts(&h, "GB->CN", (const int[10]){1, 0, 1, 1, 1, 0, 0, 1, 1, 1});
    /* CN to GB. */
    h_udp(&h, "175.16.199.1", "81.2.69.142", 3);
    expect_alerts(&h, "CN->GB", (const int[10]){0, 1, 1, 1, 1, 1, 0, 0, 1, 0});
    /* SE to BT: no listed country; the negations match. */
    h_udp(&h, "89.160.20.112", "67.43.156.1", 4);
    expect_alerts(&h, "SE->BT", (const int[10]){0, 0, 0, 0, 0, 1, 1, 0, 1, 0});
    /* As Suricata: IPv4 only (2001:218:: is JP), and never on a pseudo packet. */
    h_udp(&h, "2001:218::1", "2001:220::1", 5);
    cr_expect_eq(h.nalerts, 0);
    h_udp(&h, "81.2.69.142", "175.16.199.1", 0);
    cr_expect_eq(h.nalerts, 0);
    h_free(&h);
}

Test(geoip, city_database_through_the_cache)
{
    struct harness h;
    h_init(&h, rules, testdb("GeoIP2-City-Test.mmdb"));
    cr_assert_eq(h.rep.loaded, 10, "%s", h.errors);
    for (int i = 0; i < 3; i++) { /* the second and third look-ups come from the cache */
        h_udp(&h, "81.2.69.142", "175.16.199.1", 10 + (uint64_t)i);
        expect_alerts(&h, "GB->CN (City)", (const int[10]){1, 0, 1, 1, 1, 0, 0, 1, 1, 1});
    }
    h_free(&h);
}

/* Writes a capture: one UDP packet GB -> CN, one CN -> private, one private -> GB. */
static void write_pcap(const char *path)
{
    struct pg_writer *w = pg_open(path, DLT_EN10MB, 0);
    cr_assert_not_null(w);
    const char *pairs[3][2] = {
        {"81.2.69.142", "175.16.199.1"}, {"175.16.199.1", "10.0.0.5"}, {"10.0.0.5", "81.2.69.142"}};
    for (int i = 0; i < 3; i++) {
        struct pg g;
        pg_init(&g);
        pg_eth(&g, 0x0800);
        pg_ipv4(&g, pairs[i][0], pairs[i][1], 17, (uint16_t)(i + 1), 0);
        pg_udp(&g, (uint16_t)(5000 + i), 53);
        pg_bytes(&g, "geo", 3);
        pg_finish(&g);
        pg_write(w, T0 + (uint64_t)i * 1000, &g);
    }
    pg_close(w);
}

Test(geoip, through_the_sensor)
{
    const char *db = testdb("GeoIP2-Country-Test.mmdb");
    char *dir = tu_tmpdir();
    char pcap[4200], rf[4200], out[4200];
    snprintf(pcap, sizeof(pcap), "%s/geo.pcap", dir);
    snprintf(rf, sizeof(rf), "%s/geo.rules", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    write_pcap(pcap);
    FILE *fp = fopen(rf, "w");
    cr_assert_not_null(fp);
    fputs("alert udp any any -> any any (msg:\"from CN\"; geoip:src,CN; sid:1;)\n"
          "alert udp any any -> any any (msg:\"GB either side\"; geoip:any,GB; sid:2;)\n"
          "alert udp any any -> any any (msg:\"GB and CN\"; geoip:both,GB,CN; sid:3;)\n",
          fp);
    fclose(fp);
    struct tu_events e;
    char *log = NULL;
    cr_assert_eq(tu_sensor(out, &e, &log, "-r", pcap, "-S", rf, "--geoip-db", db, NULL), 0, "%s",
                 log);
    cr_assert_eq(tu_count(&e, "alert", "alert.signature_id", "1"), 1);
    cr_assert_eq(tu_count(&e, "alert", "alert.signature_id", "2"), 2);
    cr_assert_eq(tu_count(&e, "alert", "alert.signature_id", "3"), 1);
    json_t *a = tu_find(&e, "alert", "alert.signature_id", "1");
    cr_assert_str_eq(tu_str(a, "src_ip"), "175.16.199.1");
    cr_assert_str_eq(tu_str(a, "src_geo.country_iso"), "CN", "the same database enriches");
    tu_events_free(&e);
    free(log);
    /* Without a database the rules are reported unsupported, file:line, and the run goes on. */
    log = NULL;
    tu_rmdir(out);
    cr_assert_eq(tu_sensor(out, &e, &log, "-r", pcap, "-S", rf, NULL), 0, "%s", log);
    cr_assert(strstr(log, "geo.rules:1: sid 1: geoip: no GeoIP country database") != NULL, "%s",
              log);
    cr_assert(strstr(log, "3 unsupported") != NULL, "%s", log);
    cr_assert_eq(tu_count(&e, "alert", NULL, NULL), 0);
    tu_events_free(&e);
    free(log);
    tu_rmdir(out);
    tu_rmdir(dir);
    free(dir);
}

/*
 * The stats record counts the workers' enrichment look-ups exactly: five alerts between three
 * addresses (10.10.1.5 the portal in the sample inventory, 81.2.69.142, 175.16.199.1) enrich
 * ten addresses, three of them the first time (misses) and seven from the cache (hits). No
 * GeoIP database is needed: the inventory alone turns enrichment on.
 */
Test(enrich_stats, worker_cache_counters_in_stats)
{
    char *dir = tu_tmpdir();
    char pcap[4200], rf[4200], out[4200], assets[4300];
    snprintf(pcap, sizeof(pcap), "%s/enr.pcap", dir);
    snprintf(rf, sizeof(rf), "%s/enr.rules", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(assets, sizeof(assets), "enrich.assets=%s/rules/assets.sample.yaml",
             tu_env("VIGIL_SOURCE_DIR"));
    struct pg_writer *w = pg_open(pcap, DLT_EN10MB, 0);
    cr_assert_not_null(w);
    const char *pairs[5][2] = {{"81.2.69.142", "10.10.1.5"},
                               {"10.10.1.5", "81.2.69.142"},
                               {"175.16.199.1", "10.10.1.5"},
                               {"81.2.69.142", "10.10.1.5"},
                               {"175.16.199.1", "81.2.69.142"}};
    for (int i = 0; i < 5; i++) {
        struct pg g;
        pg_init(&g);
        pg_eth(&g, 0x0800);
        pg_ipv4(&g, pairs[i][0], pairs[i][1], 17, (uint16_t)(i + 1), 0);
        pg_udp(&g, (uint16_t)(6000 + i), 53);
        pg_bytes(&g, "enr", 3);
        pg_finish(&g);
        pg_write(w, T0 + (uint64_t)i * 1000, &g);
    }
    pg_close(w);
    FILE *fp = fopen(rf, "w");
    cr_assert_not_null(fp);
    fputs("alert udp any any -> any any (msg:\"every packet\"; sid:1;)\n", fp);
    fclose(fp);
    struct tu_events e;
    char *log = NULL;
    cr_assert_eq(tu_sensor(out, &e, &log, "-r", pcap, "-S", rf, "--set", assets, NULL), 0, "%s",
                 log);
    cr_assert_eq(tu_count(&e, "alert", NULL, NULL), 5);
    json_t *a = tu_find(&e, "alert", "src_ip", "10.10.1.5");
    cr_assert_not_null(a);
    cr_assert_str_eq(tu_str(a, "src_asset.id"), "portal");
    json_t *st = tu_stats(&e);
    cr_assert_not_null(st);
    cr_assert_eq(tu_int(st, "stats.enrich.lookups"), 10);
    cr_assert_eq(tu_int(st, "stats.enrich.cache_misses"), 3);
    cr_assert_eq(tu_int(st, "stats.enrich.cache_hits"), 7);
    json_t *cpu = tu_get(st, "stats.worker.cpu_seconds");
    cr_assert(json_is_real(cpu) && json_real_value(cpu) > 0 && json_real_value(cpu) < 60,
              "worker.cpu_seconds: the worker's CPU time of this short run");
    tu_events_free(&e);
    free(log);
    /* Without enrichment there is no enrich object. */
    log = NULL;
    tu_rmdir(out);
    cr_assert_eq(tu_sensor(out, &e, &log, "-r", pcap, "-S", rf, NULL), 0, "%s", log);
    cr_assert_null(tu_get(tu_stats(&e), "stats.enrich"));
    tu_events_free(&e);
    free(log);
    tu_rmdir(out);
    tu_rmdir(dir);
    free(dir);
}
