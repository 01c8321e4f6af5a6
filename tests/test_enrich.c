/* test_enrich.c: asset inventory (longest prefix, IPv6, errors by line, reload), GeoIP/ASN, EVE. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "vigil/config.h"
#include "vigil/enrich.h"

/* ---- helpers ---- */

static int addr_of(const char *s, struct vg_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, s, a->u8) == 1)
        return 4;
    cr_assert_eq(inet_pton(AF_INET6, s, a->u8), 1, "bad test address %s", s);
    return 6;
}

static const struct enrich_asset *lookup(const struct enrich_assets *as, const char *ip,
                                         unsigned *plen)
{
    struct vg_addr a;
    int ver = addr_of(ip, &a);
    return enrich_assets_lookup(as, ver, &a, plen);
}

static struct enrich_assets *load_str(const char *yaml, unsigned flags)
{
    char err[VG_ERRBUF_SIZE] = "";
    struct enrich_assets *as = enrich_assets_load_mem(yaml, strlen(yaml), "t.yaml", flags, err);
    cr_assert_not_null(as, "load failed: %s", err);
    return as;
}

/* Asserts that ip matches the entry with this id and prefix length (id NULL: no match). */
static void expect(const struct enrich_assets *as, const char *ip, const char *id, unsigned plen)
{
    unsigned got = 999;
    const struct enrich_asset *e = lookup(as, ip, &got);
    if (id == NULL) {
        cr_assert_null(e, "%s matched %s", ip, e ? e->id : "");
        return;
    }
    cr_assert_not_null(e, "%s: no match, expected %s", ip, id);
    cr_assert_str_eq(e->id, id, "%s: matched %s, expected %s", ip, e->id, id);
    cr_assert_eq(got, plen, "%s: prefix /%u, expected /%u", ip, got, plen);
}

static char *write_file(const char *dir, const char *name, const char *text)
{
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static const char *sample_path(void)
{
    static char path[4096];
    const char *src = getenv("VIGIL_SOURCE_DIR");
    if (src == NULL)
        cr_skip_test("VIGIL_SOURCE_DIR is not set (run through ctest)");
    snprintf(path, sizeof(path), "%s/rules/assets.sample.yaml", src);
    return path;
}

/* Returns $VIGIL_SHARED/corpus/maxmind/sub, or skips the test if it is absent. */
static const char *maxmind(const char *sub)
{
    static __thread char path[4096];
    const char *shared = getenv("VIGIL_SHARED");
    snprintf(path, sizeof(path), "%s/corpus/maxmind/%s", shared ? shared : "../shared", sub);
    struct stat sb;
    if (stat(path, &sb) != 0)
        cr_skip_test("%s is absent: GeoIP test skipped", path);
    return path;
}

static const char *testdb(const char *name)
{
    static __thread char path[4096];
    snprintf(path, sizeof(path), "%s/%s", maxmind("MaxMind-DB/test-data"), name);
    return path;
}

/* ---- the asset inventory ---- */

static const char *nested_yaml = "assets:\n"
                                 "  - {id: all, network: 0.0.0.0/0, unit: U, system: S}\n"
                                 "  - {id: ten, network: 10.0.0.0/8, unit: U, system: S}\n"
                                 "  - {id: t1, network: 10.1.0.0/16, unit: U, system: S}\n"
                                 "  - {id: t12, network: 10.1.2.0/24, unit: U, system: S}\n"
                                 "  - {id: host, network: 10.1.2.3, unit: U, system: S}\n"
                                 "  - {id: t13, network: 10.1.3.0/24, unit: U, system: S}\n"
                                 "  - {id: top, network: 255.255.255.255/32, unit: U, system: S}\n"
                                 "  - {id: low, network: 0.0.0.0/32, unit: U, system: S}\n"
                                 "  - {id: other, network: 192.0.2.0/25, unit: U, system: S}\n";

Test(assets, longest_prefix_overlapping)
{
    struct enrich_assets *as = load_str(nested_yaml, 0);
    cr_assert_eq(enrich_assets_count(as), 9);
    expect(as, "10.1.2.3", "host", 32);
    expect(as, "10.1.2.2", "t12", 24);
    expect(as, "10.1.2.4", "t12", 24);
    expect(as, "10.1.2.0", "t12", 24);
    expect(as, "10.1.2.255", "t12", 24);
    expect(as, "10.1.3.0", "t13", 24);
    expect(as, "10.1.3.255", "t13", 24);
    expect(as, "10.1.4.0", "t1", 16);
    expect(as, "10.1.1.255", "t1", 16);
    expect(as, "10.1.255.255", "t1", 16);
    expect(as, "10.2.0.0", "ten", 8);
    expect(as, "10.0.0.0", "ten", 8);
    expect(as, "10.255.255.255", "ten", 8);
    expect(as, "11.0.0.0", "all", 0);
    expect(as, "9.255.255.255", "all", 0);
    expect(as, "255.255.255.255", "top", 32);
    expect(as, "255.255.255.254", "all", 0);
    expect(as, "0.0.0.0", "low", 32);
    expect(as, "0.0.0.1", "all", 0);
    expect(as, "192.0.2.127", "other", 25);
    expect(as, "192.0.2.128", "all", 0);
    /* No IPv6 entry: an IPv6 address matches nothing, an IPv4-mapped one matches IPv4. */
    expect(as, "2001:db8::1", NULL, 0);
    expect(as, "::ffff:10.1.2.3", "host", 32);
    enrich_assets_free(as);
}

/* A random inventory of nested prefixes, checked against a linear scan of every prefix. */
Test(assets, longest_prefix_random_vs_linear)
{
    enum { N = 400, Q = 20000 };
    static uint32_t net[N];
    static unsigned len[N];
    srand(12345);
    size_t cap = N * 80 + 16, off = 0;
    char *yaml = malloc(cap);
    off += (size_t)snprintf(yaml, cap, "assets:\n");
    int n = 0;
    while (n < N) {
        /* Cluster the prefixes under 10.0.0.0/8 and 172.16.0.0/12 so that they nest deeply. */
        uint32_t base = (rand() & 1) ? 0x0a000000u : 0xac100000u;
        uint32_t x = base | ((uint32_t)rand() & 0x000fffffu & ((uint32_t)rand() | 0x0000ff00u));
        unsigned l = 8 + (unsigned)rand() % 25;
        uint32_t mask = l == 0 ? 0 : ~0u << (32 - l);
        x &= mask;
        int dup = 0;
        for (int i = 0; i < n; i++)
            if (net[i] == x && len[i] == l)
                dup = 1;
        if (dup)
            continue;
        net[n] = x;
        len[n] = l;
        off += (size_t)snprintf(yaml + off, cap - off,
                                "  - {id: e%d, network: %u.%u.%u.%u/%u, unit: U, system: S}\n", n,
                                x >> 24, (x >> 16) & 255, (x >> 8) & 255, x & 255, l);
        n++;
    }
    struct enrich_assets *as = load_str(yaml, 0);
    cr_assert_eq(enrich_assets_count(as), N);
    for (int q = 0; q < Q; q++) {
        uint32_t x = (q & 1 ? 0x0a000000u : 0xac100000u) | ((uint32_t)rand() & 0x00ffffffu);
        if (q % 3 == 0) /* often right at a prefix's edge */
            x = net[q % N] + (q % 2 ? 0 : (uint32_t)((1ull << (32 - len[q % N])) - 1)) +
                (uint32_t)(q % 5 == 0);
        int best = -1;
        for (int i = 0; i < N; i++) {
            uint32_t mask = ~0u << (32 - len[i]);
            if ((x & mask) == net[i] && (best < 0 || len[i] > len[best]))
                best = i;
        }
        struct vg_addr a = {0};
        a.u8[0] = (uint8_t)(x >> 24), a.u8[1] = (uint8_t)(x >> 16);
        a.u8[2] = (uint8_t)(x >> 8), a.u8[3] = (uint8_t)x;
        unsigned plen = 0;
        const struct enrich_asset *e = enrich_assets_lookup(as, 4, &a, &plen);
        if (best < 0) {
            cr_assert_null(e, "%08x matched %s, expected nothing", x, e->id);
        } else {
            char id[16];
            snprintf(id, sizeof(id), "e%d", best);
            cr_assert_not_null(e, "%08x: no match, expected %s", x, id);
            cr_assert_str_eq(e->id, id, "%08x", x);
            cr_assert_eq(plen, len[best]);
        }
    }
    enrich_assets_free(as);
    free(yaml);
}

Test(assets, ipv6)
{
    static const char *yaml = "assets:\n"
                              "  - {id: all6, network: '::/0', unit: U, system: S}\n"
                              "  - {id: doc, network: '2001:db8::/32', unit: U, system: S}\n"
                              "  - {id: doc1, network: '2001:db8:1::/48', unit: U, system: S}\n"
                              "  - {id: h, network: '2001:db8:1::1', unit: U, system: S}\n"
                              "  - {id: top, network: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',"
                              " unit: U, system: S}\n"
                              "  - {id: m, network: '::ffff:10.9.0.0/112', unit: U, system: S}\n"
                              "  - {id: v4, network: [10.1.0.0/16, 'fd00::/8'], unit: U, system: "
                              "S}\n";
    struct enrich_assets *as = load_str(yaml, 0);
    expect(as, "2001:db8:1::1", "h", 128);
    expect(as, "2001:db8:1::2", "doc1", 48);
    expect(as, "2001:db8:1:ffff:ffff:ffff:ffff:ffff", "doc1", 48);
    expect(as, "2001:db8:2::", "doc", 32);
    expect(as, "2001:db9::", "all6", 0);
    expect(as, "::", "all6", 0);
    expect(as, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "top", 128);
    expect(as, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "all6", 0);
    expect(as, "fd12::1", "v4", 8);
    /* ::ffff:10.9.0.0/112 is the IPv4 network 10.9.0.0/16. */
    expect(as, "10.9.200.1", "m", 16);
    expect(as, "::ffff:10.9.0.1", "m", 16);
    expect(as, "10.1.2.3", "v4", 16);
    expect(as, "10.2.0.0", NULL, 0);
    const struct enrich_asset *e = lookup(as, "10.9.0.1", NULL);
    cr_assert_eq(e->nnetworks, 1);
    cr_assert_str_eq(e->networks[0], "10.9.0.0/16");
    enrich_assets_free(as);
}

Test(assets, sample_file)
{
    char err[VG_ERRBUF_SIZE] = "";
    struct enrich_assets *as = enrich_assets_load_file(sample_path(), 0, err);
    cr_assert_not_null(as, "%s", err);
    cr_assert_geq(enrich_assets_count(as), 8);
    const struct enrich_asset *e = lookup(as, "10.10.1.5", NULL);
    cr_assert_str_eq(e->id, "portal");
    cr_assert_str_eq(e->unit, "Sở Thông tin và Truyền thông");
    cr_assert_str_eq(e->system, "Cổng thông tin điện tử Thành phố");
    cr_assert_eq(e->criticality, ENRICH_CRIT_HIGH);
    cr_assert_eq(e->unit_type, ENRICH_UNIT_DEPARTMENT);
    cr_assert_geq(e->ncontacts, 1);
    cr_assert_str_eq(e->contacts[0].email, "cntt@stttt.tphcm.example");
    cr_assert_str_eq(lookup(as, "10.10.1.6", NULL)->unit, "Trung tâm Dữ liệu Thành phố");
    cr_assert_eq(lookup(as, "10.10.2.7", NULL)->criticality, ENRICH_CRIT_CRITICAL);
    cr_assert_str_eq(lookup(as, "10.10.4.9", NULL)->system, "Cổng dịch vụ công Thành phố");
    cr_assert_str_eq(lookup(as, "10.20.11.8", NULL)->unit, "Sở Kế hoạch và Đầu tư");
    cr_assert_str_eq(lookup(as, "10.20.12.8", NULL)->unit, "Sở Tư pháp");
    cr_assert_eq(lookup(as, "10.20.101.70", NULL)->unit_type, ENRICH_UNIT_WARD);
    cr_assert_eq(lookup(as, "10.20.101.5", NULL)->unit_type, ENRICH_UNIT_DISTRICT);
    cr_assert_str_eq(lookup(as, "10.20.77.1", NULL)->id, "metronet");
    cr_assert_str_eq(lookup(as, "2001:db8:10:1::5", NULL)->id, "portal");
    cr_assert_str_eq(lookup(as, "2001:db8:10:1::6", NULL)->id, "dc");
    cr_assert_null(lookup(as, "8.8.8.8", NULL));
    e = enrich_assets_lookup_host(as, "WWW.tphcm.example.");
    cr_assert_not_null(e);
    cr_assert_str_eq(e->id, "portal");
    cr_assert_null(enrich_assets_lookup_host(as, "tphcm.example"));
    enrich_assets_free(as);
}

/* Every kind of bad entry, each on a known line. */
static const char *bad_yaml = "assets:\n"                                                /* 1 */
                              "  - {id: ok1, network: 10.0.0.0/8, unit: U, system: S}\n" /* 2 */
                              "  - {id: b1, network: 10.0.0.300, unit: U, system: S}\n"  /* 3 */
                              "  - {id: b2, network: 10.1.1.1/16, unit: U, system: S}\n" /* 4 */
                              "  - id: b3\n"                                             /* 5 */
                              "    network: 10.2.0.0/16\n"                               /* 6 */
                              "    unit: U\n"                                            /* 7 */
                              "    system: S\n"                                          /* 8 */
                              "    criticality: extreme\n"                               /* 9 */
                              "  - {id: b4, network: 10.3.0.0/16, system: S}\n"          /* 10 */
                              "  - {id: b5, network: 10.4.0.0/16, unit: U, system: S,"   /* 11 */
                              " colour: red}\n"
                              "  - {id: b6, network: 10.0.0.0/8, unit: U, system: S}\n"     /* 12 */
                              "  - {id: b7, network: 10.5.0.0/33, unit: U, system: S}\n"    /* 13 */
                              "  - {id: ok2, network: '2001:db8::/32', unit: U, system: S," /* 14 */
                              " unit-type: ward, tags: [a, b]}\n"
                              "  - just a string\n"                                    /* 15 */
                              "  - {id: b8, network: 10.6.0.0/16, unit: U, system: S," /* 16 */
                              " contacts: [{name: A, email: nobody}]}\n";

Test(assets, bad_entries_strict)
{
    char err[VG_ERRBUF_SIZE] = "";
    struct enrich_assets *as =
        enrich_assets_load_mem(bad_yaml, strlen(bad_yaml), "inv.yaml", 0, err);
    cr_assert_null(as);
    cr_assert(strstr(err, "inv.yaml:3:") == err, "%s", err);
    cr_assert(strstr(err, "10.0.0.300") != NULL, "%s", err);
    cr_assert(strstr(err, "(and 8 more errors)") != NULL, "%s", err);
}

Test(assets, bad_entries_partial)
{
    char err[VG_ERRBUF_SIZE] = "";
    struct enrich_assets *as =
        enrich_assets_load_mem(bad_yaml, strlen(bad_yaml), "inv.yaml", ENRICH_ASSETS_PARTIAL, err);
    cr_assert_not_null(as, "%s", err);
    /* ok1, ok2 and b6 (whose only network duplicates ok1's and is dropped) are kept. */
    cr_assert_eq(enrich_assets_count(as), 3);
    size_t n;
    const char *const *msgs = enrich_assets_errors(as, &n);
    static const struct {
        const char *prefix, *word;
    } want[] = {
        {"inv.yaml:3:", "10.0.0.300"},
        {"inv.yaml:4:", "did you mean 10.1.0.0/16"},
        {"inv.yaml:9:", "extreme"},
        {"inv.yaml:10:", "no unit"},
        {"inv.yaml:11:", "colour"},
        {"inv.yaml:13:", "too long"},
        {"inv.yaml:15:", "map"},
        {"inv.yaml:16:", "@"},
        {"inv.yaml:12:", "10.0.0.0/8 is already in the entry at line 2"},
    };
    cr_assert_eq(n, VG_ARRAY_LEN(want), "%zu errors", n);
    for (size_t i = 0; i < VG_ARRAY_LEN(want); i++) {
        int found = 0;
        for (size_t j = 0; j < n; j++)
            if (strncmp(msgs[j], want[i].prefix, strlen(want[i].prefix)) == 0 &&
                strstr(msgs[j], want[i].word) != NULL)
                found = 1;
        cr_assert(found, "no error \"%s ... %s\"", want[i].prefix, want[i].word);
    }
    expect(as, "10.9.9.9", "ok1", 8);
    expect(as, "10.3.0.1", "ok1", 8); /* b4 was skipped */
    const struct enrich_asset *e = lookup(as, "2001:db8::1", NULL);
    cr_assert_eq(e->unit_type, ENRICH_UNIT_WARD);
    cr_assert_eq(e->ntags, 2);
    cr_assert_str_eq(e->tags[1], "b");
    enrich_assets_free(as);
}

Test(assets, syntax_and_shape_errors)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"assets:\n  - {id: a, network: 10.0.0.0/8\n", "t.yaml:"},
        {"other: 1\n", "no \"assets:\" list"},
        {"assets:\n  a: b\n", "t.yaml:2: \"assets\" must be a list"},
        {"assets: [{id: a, unit: U, system: S}]\n", "t.yaml:1: asset has no network"},
        {"assets: [{network: [], unit: U, system: S}]\n", "no network"},
        {"assets: [{network: {a: b}, unit: U, system: S}]\n", "must be a value or a list"},
        {"assets: [{network: 10.0.0.0/8, unit: '', system: S}]\n", "unit is empty"},
        {"assets: [{network: 10.0.0.0/8, unit: U, system: S}]\nbogus: 1\n", "t.yaml:2: unknown"},
        {"assets: [{network: [10.0.0.0/8, 10.0.0.0/8], unit: U, system: S}]\n", "listed twice"},
        {"assets: [{network: 'fe80::1/129', unit: U, system: S}]\n", "too long"},
    };
    for (size_t i = 0; i < VG_ARRAY_LEN(cases); i++) {
        char err[VG_ERRBUF_SIZE] = "";
        struct enrich_assets *as =
            enrich_assets_load_mem(cases[i].yaml, strlen(cases[i].yaml), "t.yaml", 0, err);
        cr_assert_null(as, "case %zu loaded", i);
        cr_assert(strstr(err, cases[i].want) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err,
                  cases[i].want);
    }
    /* A YAML syntax error fails a partial load too. */
    char err[VG_ERRBUF_SIZE];
    cr_assert_null(enrich_assets_load_mem(cases[0].yaml, strlen(cases[0].yaml), "t.yaml",
                                          ENRICH_ASSETS_PARTIAL, err));
    cr_assert_null(enrich_assets_load_file("/nonexistent/assets.yaml", 0, err));
    cr_assert(strstr(err, "/nonexistent/assets.yaml") != NULL, "%s", err);
    /* An empty list is a valid, empty inventory. */
    struct enrich_assets *as = load_str("assets: []\n", 0);
    cr_assert_eq(enrich_assets_count(as), 0);
    expect(as, "10.0.0.1", NULL, 0);
    enrich_assets_free(as);
}

Test(assets, reload_builds_a_new_inventory)
{
    char *dir = tu_tmpdir();
    char *path = write_file(dir, "assets.yaml",
                            "assets:\n  - {id: old, network: 10.0.0.0/8, unit: A, system: S}\n");
    char err[VG_ERRBUF_SIZE];
    struct enrich_assets *a1 = enrich_assets_load_file(path, 0, err);
    cr_assert_not_null(a1, "%s", err);
    free(write_file(dir, "assets.yaml",
                    "assets:\n  - {id: new, network: 10.1.0.0/16, unit: B, system: S}\n"));
    struct enrich_assets *a2 = enrich_assets_load_file(path, 0, err);
    cr_assert_not_null(a2, "%s", err);
    expect(a1, "10.1.0.1", "old", 8); /* the old one is untouched until freed */
    expect(a2, "10.1.0.1", "new", 16);
    expect(a2, "10.2.0.1", NULL, 0);
    enrich_assets_free(a1);
    expect(a2, "10.1.0.1", "new", 16);
    /* A broken new file leaves the running inventory in place. */
    free(write_file(dir, "assets.yaml", "assets:\n  - {network: nope, unit: B, system: S}\n"));
    cr_assert_null(enrich_assets_load_file(path, 0, err));
    cr_assert(strstr(err, "assets.yaml:2:") != NULL, "%s", err);
    expect(a2, "10.1.0.1", "new", 16);
    enrich_assets_free(a2);
    free(path);
    tu_rmdir(dir);
    free(dir);
}

/* ---- HOME_NET ---- */

Test(netset, home_net_spec)
{
    struct config *c = config_new();
    char err[VG_ERRBUF_SIZE];
    cr_assert_eq(config_load_string(c,
                                    "vars:\n  address-groups:\n    DMZ: '[198.51.100.0/24]'\n"
                                    "    LOOP: '$LOOP'\n",
                                    "c.yaml", err),
                 0, "%s", err);
    struct enrich_netset *s =
        enrich_netset_parse(c, "[10.0.0.0/8, !10.9.0.0/16, $DMZ, 2001:db8::/32]", err);
    cr_assert_not_null(s, "%s", err);
    struct vg_addr a;
    int v;
    v = addr_of("10.1.1.1", &a);
    cr_assert(enrich_netset_contains(s, v, &a));
    v = addr_of("10.9.1.1", &a);
    cr_assert_not(enrich_netset_contains(s, v, &a));
    v = addr_of("198.51.100.7", &a);
    cr_assert(enrich_netset_contains(s, v, &a));
    v = addr_of("2001:db8::7", &a);
    cr_assert(enrich_netset_contains(s, v, &a));
    v = addr_of("8.8.8.8", &a);
    cr_assert_not(enrich_netset_contains(s, v, &a));
    enrich_netset_free(s);
    s = enrich_netset_parse(c, "!192.168.0.0/16", err);
    cr_assert_not_null(s, "%s", err);
    v = addr_of("8.8.8.8", &a);
    cr_assert(enrich_netset_contains(s, v, &a));
    v = addr_of("192.168.1.1", &a);
    cr_assert_not(enrich_netset_contains(s, v, &a));
    enrich_netset_free(s);
    cr_assert_null(enrich_netset_parse(c, "$LOOP", err));
    cr_assert(strstr(err, "too deep") != NULL, "%s", err);
    cr_assert_null(enrich_netset_parse(c, "[10.0.0.0/8", err));
    cr_assert_null(enrich_netset_parse(c, "$NOPE", err));
    cr_assert_null(enrich_netset_parse(c, "[10.0.0.0/8,,]", err));
    config_free(c);
}

/* ---- the facade and the EVE fields, inventory only ---- */

static struct enrich *facade(const char *yaml_fmt, const char *arg)
{
    char text[4096], err[VG_ERRBUF_SIZE] = "";
    snprintf(text, sizeof(text), yaml_fmt, arg);
    struct config *c = config_new();
    cr_assert_eq(config_load_string(c, text, "sensor.yaml", err), 0, "%s", err);
    struct enrich *e = enrich_new(c, err);
    config_free(c);
    cr_assert_not_null(e, "%s", err);
    return e;
}

static json_t *record(const char *src, const char *dest)
{
    return json_pack("{s:s, s:s, s:s}", "event_type", "alert", "src_ip", src, "dest_ip", dest);
}

Test(enrich, eve_assets)
{
    struct enrich *e = facade("vars:\n  address-groups:\n    HOME_NET: '[10.0.0.0/8]'\n"
                              "enrich:\n  assets: %s\n",
                              sample_path());
    cr_assert(enrich_active(e));
    json_t *rec = record("10.10.1.5", "10.99.0.1");
    enrich_eve_record(e, rec);
    cr_assert_str_eq(tu_str(rec, "src_asset.status"), "known");
    cr_assert_str_eq(tu_str(rec, "src_asset.unit"), "Sở Thông tin và Truyền thông");
    cr_assert_str_eq(tu_str(rec, "src_asset.unit_type"), "department");
    cr_assert_str_eq(tu_str(rec, "src_asset.system"), "Cổng thông tin điện tử Thành phố");
    cr_assert_str_eq(tu_str(rec, "src_asset.criticality"), "high");
    cr_assert_str_eq(tu_str(rec, "src_asset.network"), "10.10.1.5/32");
    cr_assert_str_eq(tu_str(rec, "dest_asset.status"), "unknown-internal");
    cr_assert_null(json_object_get(rec, "src_geo"), "no GeoIP database, no src_geo");
    /* Vietnamese stays intact through serialisation. */
    char *s = json_dumps(rec, JSON_COMPACT);
    cr_assert(strstr(s, "\"unit\":\"Sở Thông tin và Truyền thông\"") != NULL, "%s", s);
    free(s);
    json_decref(rec);

    rec = record("8.8.8.8", "0000:0000:0000:0000:0000:0000:0000:0001");
    enrich_eve_record(e, rec);
    cr_assert_str_eq(tu_str(rec, "src_asset.status"), "external");
    cr_assert_str_eq(tu_str(rec, "dest_asset.status"), "external");
    json_decref(rec);

    rec = record("2001:0db8:0010:0001:0000:0000:0000:0006", "10.20.101.70");
    enrich_eve_record(e, rec);
    cr_assert_str_eq(tu_str(rec, "src_asset.network"), "2001:db8:10::/48");
    cr_assert_str_eq(tu_str(rec, "dest_asset.unit"), "Ủy ban nhân dân Phường Bến Nghé");
    cr_assert_str_eq(tu_str(rec, "dest_asset.unit_type"), "ward");
    json_t *tags = json_object_get(json_object_get(rec, "dest_asset"), "tags");
    cr_assert(json_is_array(tags) && json_array_size(tags) == 1);
    json_decref(rec);

    /* Records without addresses, or with garbage, are left alone. */
    rec = json_pack("{s:s, s:i}", "event_type", "stats", "src_ip", 5);
    enrich_eve_record(e, rec);
    cr_assert_eq(json_object_size(rec), 2);
    json_decref(rec);
    rec = record("not-an-ip", "10.10.1.5");
    enrich_eve_record(e, rec);
    cr_assert_null(json_object_get(rec, "src_asset"));
    cr_assert_not_null(json_object_get(rec, "dest_asset"));
    json_decref(rec);
    enrich_free(e);
}

Test(enrich, disabled_and_errors)
{
    struct enrich *e = facade("enrich:\n  enabled: no\n  assets: %s\n", "/nonexistent.yaml");
    cr_assert_not(enrich_active(e));
    json_t *rec = record("10.10.1.5", "8.8.8.8");
    enrich_eve_record(e, rec);
    cr_assert_eq(json_object_size(rec), 3);
    json_decref(rec);
    enrich_free(e);

    e = enrich_new(NULL, NULL); /* nothing configured */
    cr_assert_not_null(e);
    cr_assert_not(enrich_active(e));
    enrich_free(e);

    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"enrich:\n  assets: /nonexistent/a.yaml\n", "/nonexistent/a.yaml"},
        {"geoip-database: /nonexistent/City.mmdb\n", "/nonexistent/City.mmdb"},
        {"enrich:\n  asn-database: [/nonexistent/ASN.mmdb]\n", "/nonexistent/ASN.mmdb"},
        {"enrich:\n  asn-database: {a: b}\n", "enrich.asn-database"},
        {"enrich:\n  enabled: perhaps\n", "enrich.enabled"},
        {"enrich:\n  home-net: '[10.0.0.0/8'\n", "HOME_NET"},
        {"geoip-database: /\n", "not a regular file"},
    };
    for (size_t i = 0; i < VG_ARRAY_LEN(cases); i++) {
        char err[VG_ERRBUF_SIZE] = "";
        struct config *c = config_new();
        cr_assert_eq(config_load_string(c, cases[i].yaml, "s.yaml", err), 0, "%s", err);
        cr_assert_null(enrich_new(c, err), "case %zu", i);
        cr_assert(strstr(err, cases[i].want) != NULL, "case %zu: %s", i, err);
        config_free(c);
    }
}

Test(enrich, cache_follows_reload)
{
    char *dir = tu_tmpdir();
    char *path = write_file(dir, "a.yaml",
                            "assets:\n  - {id: one, network: 10.0.0.0/8, unit: A, system: S}\n");
    struct enrich *e1 = facade("enrich:\n  assets: %s\n  cache-size: 16\n", path);
    struct enrich_cache *c = enrich_cache_new(e1, 0);
    cr_assert_not_null(c);
    struct vg_addr a;
    int v = addr_of("10.1.2.3", &a);
    for (int i = 0; i < 3; i++) {
        const struct enrich_ip_info *info = enrich_lookup_cached(e1, c, v, &a);
        cr_assert_str_eq(info->asset->unit, "A");
        cr_assert_eq(info->zone, ENRICH_ZONE_ASSET);
        cr_assert_str_eq(info->reserved, "private");
    }
    uint64_t hits, misses;
    enrich_cache_stats(c, &hits, &misses);
    cr_assert_eq(hits, 2);
    cr_assert_eq(misses, 1);
    /* Many addresses through a 16-entry cache agree with uncached look-ups. */
    for (int i = 0; i < 1000; i++) {
        struct vg_addr b = {0};
        b.u8[0] = 10, b.u8[1] = (uint8_t)(i % 7), b.u8[3] = (uint8_t)i;
        struct enrich_ip_info direct;
        cr_assert_eq(enrich_lookup_ip(e1, 4, &b, &direct), 0);
        const struct enrich_ip_info *cached = enrich_lookup_cached(e1, c, 4, &b);
        cr_assert_eq(cached->asset, direct.asset);
        cr_assert_eq(cached->zone, direct.zone);
    }
    free(write_file(dir, "a.yaml",
                    "assets:\n  - {id: two, network: 10.1.0.0/16, unit: B, system: S}\n"));
    struct enrich *e2 = facade("enrich:\n  assets: %s\n", path);
    enrich_free(e1); /* the cache still holds e1's answers: it must notice */
    const struct enrich_ip_info *info = enrich_lookup_cached(e2, c, v, &a);
    cr_assert_str_eq(info->asset->unit, "B");
    cr_assert_null(enrich_lookup_cached(e2, c, 5, &a));
    enrich_cache_free(c);
    enrich_free(e2);
    free(path);
    tu_rmdir(dir);
    free(dir);
}

Test(enrich, reserved_ranges)
{
    static const struct {
        const char *ip, *what;
    } cases[] = {
        {"10.1.2.3", "private"},
        {"172.31.255.255", "private"},
        {"172.32.0.0", NULL},
        {"192.168.1.1", "private"},
        {"127.0.0.1", "loopback"},
        {"169.254.1.1", "link-local"},
        {"100.64.0.1", "shared"},
        {"192.0.2.1", "documentation"},
        {"198.51.100.1", "documentation"},
        {"203.0.113.1", "documentation"},
        {"224.0.0.251", "multicast"},
        {"255.255.255.255", "reserved"},
        {"0.1.2.3", "this-network"},
        {"8.8.8.8", NULL},
        {"81.2.69.142", NULL},
        {"::1", "loopback"},
        {"::", "unspecified"},
        {"fe80::1", "link-local"},
        {"fd00::1", "private"},
        {"ff02::1", "multicast"},
        {"2001:db8::1", "documentation"},
        {"::ffff:192.168.0.1", "private"},
        {"2001:218::1", NULL},
        {"2a00:1450::1", NULL},
    };
    for (size_t i = 0; i < VG_ARRAY_LEN(cases); i++) {
        struct vg_addr a;
        int v = addr_of(cases[i].ip, &a);
        const char *got = enrich_addr_reserved(v, &a);
        if (cases[i].what == NULL)
            cr_assert_null(got, "%s: %s", cases[i].ip, got);
        else
            cr_assert(got != NULL && strcmp(got, cases[i].what) == 0, "%s: %s", cases[i].ip,
                      got ? got : "(null)");
    }
}

/* ---- GeoIP and ASN with MaxMind's test databases ---- */

static void geo_of(const struct enrich_geoip *g, const char *ip, struct enrich_geo *out)
{
    struct vg_addr a;
    int v = addr_of(ip, &a);
    cr_assert_geq(enrich_geoip_lookup(g, v, &a, out), 0, "%s: lookup error", ip);
}

Test(geoip, city_country_asn)
{
    struct enrich_geoip *g = enrich_geoip_new();
    char err[VG_ERRBUF_SIZE] = "";
    cr_assert_eq(enrich_geoip_open(g, testdb("GeoIP2-City-Test.mmdb"), err), 0, "%s", err);
    cr_assert_eq(enrich_geoip_open(g, testdb("GeoLite2-ASN-Test.mmdb"), err), 0, "%s", err);
    cr_assert_eq(enrich_geoip_count(g), 2);
    cr_assert_eq(enrich_geoip_kind(g, 0), ENRICH_DB_CITY);
    cr_assert_str_eq(enrich_geoip_type(g, 0), "GeoIP2-City");
    cr_assert_eq(enrich_geoip_kind(g, 1), ENRICH_DB_ASN);

    struct enrich_geo r;
    geo_of(g, "81.2.69.142", &r);
    cr_assert_str_eq(r.country_iso, "GB");
    cr_assert_str_eq(r.country, "United Kingdom");
    cr_assert_str_eq(r.continent, "EU");
    cr_assert_str_eq(r.city, "London");
    cr_assert(r.have & ENRICH_GEO_LOCATION);
    cr_assert_float_eq(r.latitude, 51.5142, 1e-6);
    cr_assert_float_eq(r.longitude, -0.0931, 1e-6);
    geo_of(g, "175.16.199.1", &r);
    cr_assert_str_eq(r.country_iso, "CN");
    cr_assert_str_eq(r.city, "Changchun");
    geo_of(g, "2.125.160.216", &r);
    cr_assert_str_eq(r.country_iso, "GB");
    cr_assert_str_eq(r.city, "Boxford");
    geo_of(g, "89.160.20.129", &r);
    cr_assert_str_eq(r.city, "Linköping");
    geo_of(g, "::ffff:81.2.69.142", &r);
    cr_assert_str_eq(r.city, "London");
    geo_of(g, "2001:218::1", &r);
    cr_assert_str_eq(r.country_iso, "JP");
    cr_assert_not(r.have & ENRICH_GEO_CITY);

    geo_of(g, "1.128.0.1", &r);
    cr_assert(r.have & ENRICH_GEO_ASN);
    cr_assert_eq(r.asn, 1221);
    cr_assert_str_eq(r.as_org, "Telstra Pty Ltd");
    geo_of(g, "12.81.96.1", &r); /* an ASN without organisation */
    cr_assert_eq(r.asn, 7018);
    cr_assert_str_eq(r.as_org, "");
    struct vg_addr a;
    int v = addr_of("203.0.114.1", &a); /* in no test database */
    cr_assert_eq(enrich_geoip_lookup(g, v, &a, &r), 0);
    cr_assert_eq(r.have, 0);
    enrich_geoip_free(g);

    g = enrich_geoip_new();
    cr_assert_eq(enrich_geoip_open(g, testdb("GeoLite2-Country-Test.mmdb"), err), 0, "%s", err);
    cr_assert_eq(enrich_geoip_kind(g, 0), ENRICH_DB_COUNTRY);
    geo_of(g, "81.2.69.142", &r);
    cr_assert_str_eq(r.country_iso, "GB");
    cr_assert_not(r.have & (ENRICH_GEO_CITY | ENRICH_GEO_LOCATION));
    enrich_geoip_free(g);
}

/* The first address and prefix length of a network of MaxMind's source JSON, as IPv6. */
static int first_addr(const char *key, struct vg_addr *a, unsigned *plen)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", key);
    char *slash = strchr(buf, '/');
    cr_assert_not_null(slash);
    *slash = '\0';
    *plen = (unsigned)atoi(slash + 1);
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, buf, a->u8 + 12) == 1) { /* IPv4 lives at ::a.b.c.d/96+n */
        *plen += 96;
        return 6;
    }
    cr_assert_eq(inet_pton(AF_INET6, buf, a->u8), 1, "%s", key);
    return 6;
}

static int contains(const struct vg_addr *net, unsigned plen, const struct vg_addr *a)
{
    for (unsigned b = 0; b < plen; b++) {
        uint8_t m = (uint8_t)(0x80u >> (b % 8));
        if ((net->u8[b / 8] & m) != (a->u8[b / 8] & m))
            return 0;
    }
    return 1;
}

/*
 * Every network of a source JSON, looked up at its first and last address and compared with
 * the most specific network of the JSON that holds it.
 */
static void check_source(const char *json_name, const char *db_name, int asn)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", maxmind("MaxMind-DB/source-data"), json_name);
    json_error_t jerr;
    json_t *src = json_load_file(path, 0, &jerr);
    cr_assert_not_null(src, "%s: %s", path, jerr.text);
    size_t n = json_array_size(src);
    struct vg_addr *net = calloc(n, sizeof(*net));
    unsigned *plen = calloc(n, sizeof(*plen));
    json_t **val = calloc(n, sizeof(*val));
    for (size_t i = 0; i < n; i++) {
        const char *k;
        json_t *v;
        json_object_foreach(json_array_get(src, i), k, v)
        {
            first_addr(k, &net[i], &plen[i]);
            val[i] = v;
        }
    }
    struct enrich_geoip *g = enrich_geoip_new();
    char err[VG_ERRBUF_SIZE];
    cr_assert_eq(enrich_geoip_open(g, testdb(db_name), err), 0, "%s", err);
    size_t checked = 0;
    for (size_t i = 0; i < n; i++) {
        for (int end = 0; end < 2; end++) {
            struct vg_addr a = net[i];
            if (end) /* the last address of the network */
                for (unsigned b = plen[i]; b < 128; b++)
                    a.u8[b / 8] |= (uint8_t)(0x80u >> (b % 8));
            size_t best = i;
            for (size_t j = 0; j < n; j++)
                if (plen[j] > plen[best] && contains(&net[j], plen[j], &a))
                    best = j;
            struct enrich_geo r;
            cr_assert_geq(enrich_geoip_lookup(g, 6, &a, &r), 0);
            char txt[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET6, a.u8, txt, sizeof(txt));
            if (asn) {
                json_t *num = json_object_get(val[best], "autonomous_system_number");
                const char *org =
                    json_string_value(json_object_get(val[best], "autonomous_system_organization"));
                cr_assert_eq(r.asn, (uint32_t)json_integer_value(num), "%s", txt);
                cr_assert_str_eq(r.as_org, org ? org : "", "%s", txt);
            } else {
                const char *iso = tu_str(val[best], "country.iso_code");
                const char *city = tu_str(val[best], "city.names.en");
                cr_assert_str_eq(r.country_iso, iso ? iso : "", "%s", txt);
                cr_assert_str_eq(r.city, city ? city : "", "%s", txt);
            }
            checked++;
        }
    }
    cr_assert_geq(checked, 400);
    enrich_geoip_free(g);
    free(net);
    free(plen);
    free(val);
    json_decref(src);
}

Test(geoip, agrees_with_source_data_city)
{
    check_source("GeoIP2-City-Test.json", "GeoIP2-City-Test.mmdb", 0);
}

Test(geoip, agrees_with_source_data_asn)
{
    check_source("GeoLite2-ASN-Test.json", "GeoLite2-ASN-Test.mmdb", 1);
}

Test(geoip, bad_databases)
{
    char err[VG_ERRBUF_SIZE];
    struct enrich_geoip *g = enrich_geoip_new();
    cr_assert_eq(enrich_geoip_open(g, "/nonexistent/GeoLite2-City.mmdb", err), -1);
    cr_assert(strstr(err, "/nonexistent/GeoLite2-City.mmdb") != NULL, "%s", err);
    cr_assert(strstr(err, "No such file") != NULL, "%s", err);
    /* Wrong type: valid databases without country, city or ASN data. */
    const char *wrong[] = {"GeoIP2-Connection-Type-Test.mmdb", "GeoIP2-Anonymous-IP-Test.mmdb",
                           "MaxMind-DB-test-decoder.mmdb"};
    for (size_t i = 0; i < VG_ARRAY_LEN(wrong); i++) {
        cr_assert_eq(enrich_geoip_open(g, testdb(wrong[i]), err), -1, "%s opened", wrong[i]);
        cr_assert(strstr(err, "has no country, city or ASN data") != NULL, "%s", err);
    }
    cr_assert_eq(enrich_geoip_count(g), 0);

    /* A truncated copy of a good database. */
    char *dir = tu_tmpdir();
    char src[4096], dst[4096];
    snprintf(src, sizeof(src), "%s", testdb("GeoIP2-City-Test.mmdb"));
    FILE *in = fopen(src, "rb");
    cr_assert_not_null(in);
    static char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof(buf), in);
    fclose(in);
    size_t cuts[] = {0, 10, len / 3, len / 2, len - 100};
    for (size_t i = 0; i < VG_ARRAY_LEN(cuts); i++) {
        snprintf(dst, sizeof(dst), "%s/cut%zu.mmdb", dir, i);
        FILE *out = fopen(dst, "wb");
        fwrite(buf, 1, cuts[i], out);
        fclose(out);
        cr_assert_eq(enrich_geoip_open(g, dst, err), -1, "truncated at %zu opened", cuts[i]);
        cr_assert(strstr(err, dst) != NULL, "%s", err);
    }
    tu_rmdir(dir);
    free(dir);

    /* MaxMind's broken databases: an error or a working database, never a crash. */
    static const char *const bad_dirs[] = {"libmaxminddb", "maxminddb-golang", "maxminddb-python"};
    static const char *const bad[] = {
        "libmaxminddb-corrupt-search-tree.mmdb",
        "libmaxminddb-deep-array-nesting.mmdb",
        "libmaxminddb-deep-nesting.mmdb",
        "libmaxminddb-empty-array-last-in-metadata.mmdb",
        "libmaxminddb-empty-map-last-in-metadata.mmdb",
        "libmaxminddb-metadata-marker-only.mmdb",
        "libmaxminddb-offset-integer-overflow.mmdb",
        "libmaxminddb-oversized-array.mmdb",
        "libmaxminddb-oversized-map.mmdb",
        "libmaxminddb-separator-record-max-left.mmdb",
        "libmaxminddb-separator-record-min-left.mmdb",
        "libmaxminddb-separator-record-min-right.mmdb",
        "libmaxminddb-uint64-max-epoch.mmdb",
        "cyclic-data-structure.mmdb",
        "invalid-bytes-length.mmdb",
        "invalid-data-record-offset.mmdb",
        "invalid-map-key-length.mmdb",
        "invalid-string-length.mmdb",
        "metadata-is-an-uint128.mmdb",
        "unexpected-bytes.mmdb",
        "bad-unicode-in-map-key.mmdb",
    };
    size_t refused = 0, tried = 0;
    for (size_t d = 0; d < VG_ARRAY_LEN(bad_dirs); d++)
        for (size_t i = 0; i < VG_ARRAY_LEN(bad); i++) {
            char p[4096];
            snprintf(p, sizeof(p), "%s/%s/%s", maxmind("MaxMind-DB/bad-data"), bad_dirs[d], bad[i]);
            struct stat sb;
            if (stat(p, &sb) != 0)
                continue;
            tried++;
            struct enrich_geoip *b = enrich_geoip_new();
            if (enrich_geoip_open(b, p, err) < 0) {
                cr_assert(strstr(err, p) != NULL, "%s", err);
                refused++;
            } else {
                struct enrich_geo r;
                struct vg_addr a;
                for (int k = 0; k < 256; k++) {
                    int v = addr_of(k & 1 ? "1.2.3.4" : "2001:218::1", &a);
                    a.u8[0] = (uint8_t)k;
                    enrich_geoip_lookup(b, v, &a, &r);
                }
            }
            enrich_geoip_free(b);
        }
    cr_assert_eq(tried, 21);
    cr_assert_eq(refused, 21, "only %zu of the broken databases were refused", refused);
    for (size_t i = 0; i < 2; i++) {
        const char *name = i ? "GeoIP2-City-Test-Invalid-Node-Count.mmdb"
                             : "GeoIP2-City-Test-Broken-Double-Format.mmdb";
        int rc = enrich_geoip_open(g, testdb(name), err);
        cr_assert(rc == -1 || rc == 0);
    }
    enrich_geoip_free(g);
}

Test(enrich, eve_geoip)
{
    char city[4096], asn[4096];
    snprintf(city, sizeof(city), "%s", testdb("GeoIP2-City-Test.mmdb"));
    snprintf(asn, sizeof(asn), "%s", testdb("GeoLite2-ASN-Test.mmdb"));
    char yaml[9000];
    snprintf(yaml, sizeof(yaml), "geoip-database: %s\nenrich:\n  asn-database: [%s]\n", city, asn);
    struct enrich *e = facade("%s", yaml);
    cr_assert(enrich_active(e));
    cr_assert_eq(enrich_geoip_count(enrich_get_geoip(e)), 2);
    cr_assert_null(enrich_get_assets(e));
    struct enrich_cache *c = enrich_cache_new(e, 64);
    for (int round = 0; round < 2; round++) {
        json_t *rec = record("81.2.69.142", "1.128.0.1");
        enrich_eve_record_cached(e, round ? c : NULL, rec);
        cr_assert_str_eq(tu_str(rec, "src_geo.country_iso"), "GB");
        cr_assert_str_eq(tu_str(rec, "src_geo.country"), "United Kingdom");
        cr_assert_str_eq(tu_str(rec, "src_geo.city"), "London");
        cr_assert_float_eq(
            json_real_value(json_object_get(json_object_get(rec, "src_geo"), "latitude")), 51.5142,
            1e-6);
        cr_assert_eq(tu_int(rec, "dest_geo.asn"), 1221);
        cr_assert_str_eq(tu_str(rec, "dest_geo.as_org"), "Telstra Pty Ltd");
        cr_assert_null(json_object_get(rec, "src_asset"), "no inventory, no src_asset");
        json_decref(rec);

        rec = record("192.168.1.10", "175.16.199.1");
        enrich_eve_record_cached(e, round ? c : NULL, rec);
        cr_assert(json_is_true(json_object_get(json_object_get(rec, "src_geo"), "internal")));
        cr_assert_str_eq(tu_str(rec, "src_geo.range"), "private");
        cr_assert_null(tu_str(rec, "src_geo.country_iso"));
        cr_assert_str_eq(tu_str(rec, "dest_geo.city"), "Changchun");
        json_decref(rec);

        rec = record("203.0.114.9", "2001:0218:0000:0000:0000:0000:0000:0001");
        enrich_eve_record_cached(e, round ? c : NULL, rec);
        cr_assert_null(json_object_get(rec, "src_geo"), "unknown address, no src_geo");
        cr_assert_str_eq(tu_str(rec, "dest_geo.country_iso"), "JP");
        json_decref(rec);
    }
    /* The text of an address's members is its objects printed compactly, for every kind. */
    static const char *const ips[] = {"81.2.69.142", "1.128.0.1", "192.168.1.10", "203.0.114.9",
                                      "2001:0218:0000:0000:0000:0000:0000:0001"};
    for (size_t k = 0; k < sizeof(ips) / sizeof(ips[0]); k++) {
        json_t *rec = record(ips[k], "192.0.2.1");
        enrich_eve_record_cached(e, c, rec);
        struct vg_addr x;
        int xv = addr_of(ips[k], &x);
        struct enrich_text et;
        cr_assert_eq(enrich_cached_text(e, c, xv, &x, &et), 0);
        json_t *g = json_object_get(rec, "src_geo");
        char *want = g != NULL ? json_dumps(g, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
        cr_assert_eq(et.geo != NULL, want != NULL, "%s", ips[k]);
        if (want != NULL) {
            cr_assert_eq(et.geo_len, strlen(want));
            cr_assert_str_eq(et.geo, want);
        }
        cr_assert_null(et.asset, "no inventory");
        free(want);
        json_decref(rec);
    }
    struct enrich_text none;
    struct vg_addr a;
    int v = addr_of("10.10.1.5", &a);
    cr_assert_eq(enrich_cached_text(e, NULL, v, &a, &none), 0);
    cr_assert_null(none.geo, "no cache, no text");
    struct enrich_ip_info info;
    cr_assert_eq(enrich_lookup_ip(e, v, &a, &info), 0);
    cr_assert_eq(info.zone, ENRICH_ZONE_UNKNOWN_INTERNAL); /* default HOME_NET has 10/8 */
    cr_assert_eq(info.have_geo, 0);
    cr_assert_eq(enrich_lookup_ip(e, 5, &a, &info), -1);
    enrich_cache_free(c);
    enrich_free(e);
}

/* A host name with two trailing dots is refused: look-ups strip one dot, so it could never match
 * (a fuzz_assets finding). One trailing dot is the DNS root and is accepted. */
Test(assets, host_trailing_dots)
{
    static const char y[] =
        "assets:\n"
        "  - {id: a, network: 10.1.0.0/16, hosts: [a.example..], unit: U, system: S}\n"
        "  - {id: b, network: 10.2.0.0/16, hosts: [B.example.], unit: U, system: S}\n";
    char err[VG_ERRBUF_SIZE] = "";
    cr_assert_null(enrich_assets_load_mem(y, strlen(y), "inv.yaml", 0, err));
    cr_assert(strstr(err, "inv.yaml:2: bad host name \"a.example.\"") == err, "%s", err);
    struct enrich_assets *as =
        enrich_assets_load_mem(y, strlen(y), "inv.yaml", ENRICH_ASSETS_PARTIAL, err);
    cr_assert_not_null(as, "%s", err);
    cr_assert_eq(enrich_assets_count(as), 1);
    cr_assert_null(enrich_assets_lookup_host(as, "a.example."));
    cr_assert_str_eq(enrich_assets_lookup_host(as, "b.example")->id, "b");
    enrich_assets_free(as);
}

/*
 * Records enriched through a cache share the objects built for each address: they must equal
 * records enriched without one, across evictions of a 4-entry cache, the same address on both
 * sides, and a new context (reload), and stay intact when the cache goes first.
 */
Test(enrich, cached_records_equal_uncached)
{
    struct enrich *e = facade("vars:\n  address-groups:\n    HOME_NET: '[10.0.0.0/8]'\n"
                              "enrich:\n  assets: %s\n  cache-size: 4\n",
                              sample_path());
    struct enrich_cache *c = enrich_cache_new(e, 0);
    cr_assert_not_null(c);
    static const char *const ips[] = {"10.10.1.5", "198.51.100.10", "10.20.101.70",
                                      "8.8.8.8",   "10.99.0.1",     "2001:db8:10:1::5",
                                      "192.0.2.1", "10.10.2.7",     "10.10.1.5"};
    json_t *kept[64];
    size_t nkept = 0;
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < VG_ARRAY_LEN(ips); i++) {
            const char *dst = ips[(i * 5 + (size_t)round) % VG_ARRAY_LEN(ips)];
            json_t *a = record(ips[i], dst), *b = record(ips[i], dst);
            enrich_eve_record_cached(e, c, a);
            enrich_eve_record(e, b);
            cr_assert(json_equal(a, b), "%s -> %s differs through the cache", ips[i], dst);
            cr_assert_not_null(json_object_get(a, "src_asset"));
            kept[nkept++] = a;
            json_decref(b);
        }
    json_t *same = record("10.10.1.5", "10.10.1.5");
    enrich_eve_record_cached(e, c, same);
    cr_assert_str_eq(tu_str(same, "src_asset.id"), "portal");
    cr_assert_str_eq(tu_str(same, "dest_asset.id"), "portal");
    uint64_t hits, misses;
    enrich_cache_stats(c, &hits, &misses);
    cr_assert_eq(hits + misses, 2 * nkept + 2);
    /* A new context empties the cache (its objects too) before answering. */
    struct enrich *e2 = facade("enrich:\n  assets: %s\n", sample_path());
    json_t *r2 = record("10.99.0.1", "8.8.8.8"), *r2d = record("10.99.0.1", "8.8.8.8");
    enrich_eve_record_cached(e2, c, r2);
    enrich_eve_record(e2, r2d);
    cr_assert(json_equal(r2, r2d));
    enrich_cache_free(c);
    /* Records outlive the cache that built their objects. */
    char *s = json_dumps(kept[0], JSON_COMPACT);
    cr_assert(strstr(s, "\"unit\":\"Sở Thông tin và Truyền thông\"") != NULL, "%s", s);
    free(s);
    for (size_t i = 0; i < nkept; i++)
        json_decref(kept[i]);
    json_decref(same);
    json_decref(r2);
    json_decref(r2d);
    enrich_free(e);
    enrich_free(e2);
}
