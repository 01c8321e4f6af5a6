/* enrich-internal.h: the longest-prefix-match table that enrich-assets.c and enrich-lpm.c share. */
#ifndef VIGIL_ENRICH_INTERNAL_H
#define VIGIL_ENRICH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/packet.h"

typedef unsigned __int128 lpm_u128;

#define LPM_NONE UINT32_MAX

/* A prefix being collected: [lo, hi] in its family's address space, and its value. */
struct lpm_prefix {
    lpm_u128 lo, hi;
    uint32_t val;
    uint8_t plen;
};

/* A range of the flattened table: addresses lo..hi map to val (the longest prefix there). */
struct lpm_seg4 {
    uint32_t lo, hi;
    uint32_t val;
    uint8_t plen;
};
struct lpm_seg6 {
    lpm_u128 lo, hi;
    uint32_t val;
    uint8_t plen;
};

/* Prefixes are added to a builder, then flattened once into sorted disjoint ranges. */
struct lpm_builder {
    struct lpm_prefix *p[2]; /* [0] IPv4, [1] IPv6 */
    size_t n[2], cap[2];
};

struct lpm_table {
    struct lpm_seg4 *v4;
    size_t n4;
    struct lpm_seg6 *v6;
    size_t n6;
};

/*
 * Parses "a.b.c.d[/n]" or "x:y::z[/n]" (no prefix: a host). An IPv4-mapped IPv6 prefix becomes
 * IPv4. With strict, bits set below the prefix are an error; else they are cleared. Returns 0,
 * or -1 with a reason in why.
 */
int lpm_parse_cidr(const char *text, int strict, int *ver, uint8_t addr[16], unsigned *plen,
                   char *why, size_t whylen);

/* Formats a prefix as "10.10.1.5/32" or "2001:db8::/32". */
void lpm_format_cidr(int ver, const uint8_t addr[16], unsigned plen, char *out, size_t len);

/* Adds a prefix with value val. Returns 0, or -1 when out of memory. */
int lpm_add(struct lpm_builder *b, int ver, const uint8_t addr[16], unsigned plen, uint32_t val);

/*
 * Flattens the builder into t and frees the builder. When the same prefix was added twice the
 * first value is kept and dup(ctx, kept, dropped) is called for each later one (dup may be NULL).
 * Returns 0, or -1 when out of memory (t is then empty).
 */
int lpm_build(struct lpm_builder *b, struct lpm_table *t,
              void (*dup)(void *ctx, uint32_t kept, uint32_t dropped), void *ctx);

void lpm_builder_free(struct lpm_builder *b);
void lpm_table_free(struct lpm_table *t);

/* Returns the value of the longest prefix holding the address, or LPM_NONE; *plen its length. */
uint32_t lpm_find(const struct lpm_table *t, int ip_ver, const struct vg_addr *a, unsigned *plen);

#endif
