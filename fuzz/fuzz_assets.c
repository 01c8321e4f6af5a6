/* fuzz_assets.c: libFuzzer harness for the asset inventory loader and its look-ups. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/common.h"
#include "vigil/enrich.h"

/* Checks that a look-up returns a well-formed entry. */
static void check(const struct enrich_assets *a, int ver, const struct vg_addr *addr)
{
    unsigned plen = 0;
    const struct enrich_asset *e = enrich_assets_lookup(a, ver, addr, &plen);
    if (e == NULL)
        return;
    if (plen > (ver == 4 ? 32u : 128u) || e->nnetworks == 0 || e->unit == NULL ||
        e->system == NULL) {
        fprintf(stderr, "fuzz_assets: bad match /%u\n", plen);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[VG_ERRBUF_SIZE];
    for (unsigned flags = 0; flags <= ENRICH_ASSETS_PARTIAL; flags++) {
        struct enrich_assets *a =
            enrich_assets_load_mem((const char *)data, size, "fuzz", flags, err);
        if (a == NULL)
            continue;
        size_t n;
        const char *const *msgs = enrich_assets_errors(a, &n);
        for (size_t i = 0; i < n; i++)
            if (strncmp(msgs[i], "fuzz:", 5) != 0)
                abort();
        /* Look up the first and last address of every network, and the bytes of the input. */
        for (size_t i = 0; i < enrich_assets_count(a); i++) {
            const struct enrich_asset *e = enrich_assets_get(a, i);
            for (size_t h = 0; h < e->nhosts; h++)
                if (enrich_assets_lookup_host(a, e->hosts[h]) == NULL)
                    abort(); /* a host name of a loaded entry is always found */
            for (size_t k = 0; k < e->nnetworks; k++) {
                struct enrich_netset *s = enrich_netset_parse(NULL, e->networks[k], err);
                if (s == NULL)
                    abort(); /* a normalised network always parses again */
                enrich_netset_free(s);
            }
        }
        for (size_t off = 0; off + 16 <= size && off < 4096; off += 16) {
            struct vg_addr addr;
            memcpy(addr.u8, data + off, 16);
            check(a, 6, &addr);
            memset(addr.u8 + 4, 0, 12);
            check(a, 4, &addr);
        }
        enrich_assets_free(a);
    }
    /* The same bytes as a HOME_NET spec. */
    char *spec = malloc(size + 1);
    if (spec != NULL) {
        memcpy(spec, data, size);
        spec[size] = '\0';
        enrich_netset_free(enrich_netset_parse(NULL, spec, err));
        free(spec);
    }
    return 0;
}
