/* bench-enrich.c: enrichment look-ups per second, with and without the per-thread cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/common.h"
#include "vigil/config.h"
#include "vigil/enrich.h"

/*
 * Usage: bench-enrich [SENSOR.YAML]   (default: the sample inventory and, if present, MaxMind's
 * test databases in ../shared/corpus). Looks up a mix of inside and outside addresses where
 * 90% of look-ups hit a working set of 2,000 addresses, as traffic does.
 */

static uint64_t rng = 88172645463325252ull;
static uint32_t next(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)rng;
}

static double run(struct enrich *e, struct enrich_cache *c, const struct vg_addr *v, size_t nv,
                  size_t n)
{
    vg_time_t t0 = vg_monotonic();
    uint64_t sink = 0;
    for (size_t i = 0; i < n; i++) {
        const struct enrich_ip_info *info = enrich_lookup_cached(e, c, 4, &v[i % nv]);
        sink += info->zone + info->geo.asn;
    }
    double s = (double)(vg_monotonic() - t0) / 1e6;
    if (sink == 42)
        puts("");
    return (double)n / s;
}

int main(int argc, char **argv)
{
    char err[VG_ERRBUF_SIZE];
    struct config *cfg = config_new();
    if (argc > 1) {
        if (config_load_file(cfg, argv[1], err) < 0) {
            fprintf(stderr, "bench-enrich: %s\n", err);
            return 1;
        }
    } else {
        const char *td = "../shared/corpus/maxmind/MaxMind-DB/test-data";
        char yaml[2048];
        snprintf(yaml, sizeof(yaml),
                 "geoip-database: %s/GeoIP2-City-Test.mmdb\n"
                 "enrich:\n  asn-database: %s/GeoLite2-ASN-Test.mmdb\n"
                 "  assets: rules/assets.sample.yaml\n",
                 td, td);
        config_load_string(cfg, yaml, "bench", err);
    }
    struct enrich *e = enrich_new(cfg, err);
    if (e == NULL) {
        fprintf(stderr, "bench-enrich: %s (run from the source tree)\n", err);
        return 1;
    }
    enum { NV = 1 << 16, HOT = 2000, N = 4000000 };
    struct vg_addr *v = calloc(NV, sizeof(*v));
    for (size_t i = 0; i < NV; i++) {
        uint32_t x = next();
        if (i % 10 != 0) /* 90% from the hot set */
            x = (uint32_t)(i % HOT) * 2654435761u;
        if (i % 4 == 0) /* a quarter inside the city's networks */
            x = 0x0a000000u | (x & 0x00ffffffu);
        v[i].u8[0] = (uint8_t)(x >> 24), v[i].u8[1] = (uint8_t)(x >> 16);
        v[i].u8[2] = (uint8_t)(x >> 8), v[i].u8[3] = (uint8_t)x;
    }
    struct enrich_cache *c = enrich_cache_new(e, 0);
    double plain = run(e, NULL, v, NV, N);
    double cached = run(e, c, v, NV, N);
    uint64_t hits, misses;
    enrich_cache_stats(c, &hits, &misses);
    printf("databases: %zu, inventory entries: %zu\n", enrich_geoip_count(enrich_get_geoip(e)),
           enrich_assets_count(enrich_get_assets(e)));
    printf("uncached: %.2f M look-ups/s\n", plain / 1e6);
    printf("cached:   %.2f M look-ups/s (hit rate %.1f%%)\n", cached / 1e6,
           100.0 * (double)hits / (double)(hits + misses));
    enrich_cache_free(c);
    enrich_free(e);
    config_free(cfg);
    free(v);
    return 0;
}
