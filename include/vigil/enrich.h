/* enrich.h: context for an address (GeoIP/ASN from MaxMind databases, the city's asset inventory).
 */
#ifndef VIGIL_ENRICH_H
#define VIGIL_ENRICH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/common.h"
#include "vigil/config.h"
#include "vigil/packet.h"

/*
 * Everything here is built once and read-only afterwards: any number of threads may look up in
 * the same struct enrich, enrich_geoip or enrich_assets without a lock. A reload builds a new
 * object; the caller swaps the pointer and frees the old one once no thread uses it. Only
 * struct enrich_cache is per thread. docs/enrich.md describes the formats and the EVE fields.
 */

/* ---- The asset inventory (sensor/enrich-assets.c) ---- */

enum enrich_criticality {
    ENRICH_CRIT_NONE = 0, /* not given */
    ENRICH_CRIT_LOW,
    ENRICH_CRIT_NORMAL, /* "normal" or "medium" */
    ENRICH_CRIT_HIGH,
    ENRICH_CRIT_CRITICAL,
};

enum enrich_unit_type {
    ENRICH_UNIT_NONE = 0,    /* not given */
    ENRICH_UNIT_DEPARTMENT,  /* sở - ban - ngành */
    ENRICH_UNIT_DISTRICT,    /* quận - huyện */
    ENRICH_UNIT_WARD,        /* phường - xã */
    ENRICH_UNIT_CITY_SHARED, /* Metronet, the data centre, the portal, the one-stop shop, mail */
};

struct enrich_contact {
    const char *name, *email, *phone; /* each may be NULL */
};

/* One inventory entry. Strings are UTF-8 and NUL-terminated; optional ones may be NULL. */
struct enrich_asset {
    const char *id;   /* "id", or NULL */
    const char *unit; /* responsible agency; always set */
    enum enrich_unit_type unit_type;
    const char *system;      /* system name; always set */
    const char *description; /* may be NULL */
    enum enrich_criticality criticality;
    const struct enrich_contact *contacts;
    size_t ncontacts;
    const char *const *tags;
    size_t ntags;
    const char *const *networks; /* the CIDRs as written, normalised ("10.10.1.5/32") */
    size_t nnetworks;
    const char *const *hosts; /* host names (lower case), may be empty */
    size_t nhosts;
    int line; /* line of the entry in its file */
};

/* Flags for enrich_assets_load_*. */
enum {
    /* Keep the valid entries and report the bad ones (enrich_assets_errors) instead of failing. */
    ENRICH_ASSETS_PARTIAL = 1u << 0,
};

struct enrich_assets;

/*
 * Loads an inventory (YAML, docs/enrich.md) from path. Returns the inventory, or NULL with
 * "path:line: reason" in errbuf (the first error, and how many more there were). With
 * ENRICH_ASSETS_PARTIAL a bad entry is skipped and recorded instead; a YAML syntax error or an
 * unreadable file still fails.
 */
struct enrich_assets *enrich_assets_load_file(const char *path, unsigned flags, char *errbuf);

/* As enrich_assets_load_file, from len bytes of YAML at data (no NUL needed). name is for
 * messages. */
struct enrich_assets *enrich_assets_load_mem(const char *data, size_t len, const char *name,
                                             unsigned flags, char *errbuf);

/* Frees a (NULL is fine). Every enrich_asset pointer taken from it becomes invalid. */
void enrich_assets_free(struct enrich_assets *a);

/* Number of entries loaded. */
size_t enrich_assets_count(const struct enrich_assets *a);

/* Entry i (< enrich_assets_count), in file order. */
const struct enrich_asset *enrich_assets_get(const struct enrich_assets *a, size_t i);

/* The "file:line: reason" messages of entries skipped by a partial load; *n gets their count. */
const char *const *enrich_assets_errors(const struct enrich_assets *a, size_t *n);

/*
 * Returns the entry with the longest prefix containing the address (ip_ver 4 or 6, as in
 * struct vg_packet; an IPv4-mapped IPv6 address matches IPv4 entries), or NULL. Stores the
 * prefix length in *plen if plen is not NULL. O(log n), no allocation.
 */
const struct enrich_asset *enrich_assets_lookup(const struct enrich_assets *a, int ip_ver,
                                                const struct vg_addr *addr, unsigned *plen);

/* Returns the entry listing host name (case-insensitive, trailing dot ignored), or NULL. */
const struct enrich_asset *enrich_assets_lookup_host(const struct enrich_assets *a,
                                                     const char *host);

/* "low", "normal", "high", "critical" or NULL; "department", "district", "ward", "city-shared"
 * or NULL. */
const char *enrich_criticality_name(enum enrich_criticality c);
const char *enrich_unit_type_name(enum enrich_unit_type t);

/* ---- Address sets such as HOME_NET (sensor/enrich-lpm.c) ---- */

struct enrich_netset;

/*
 * Parses a Suricata address spec ("[10.0.0.0/8,!10.9.0.0/16,$DMZ]"): addresses, CIDRs, lists,
 * "!" negation of single elements, "any", and $VARS from cfg's vars.address-groups (cfg may be
 * NULL). The longest matching prefix decides membership. Returns the set, or NULL with errbuf.
 */
struct enrich_netset *enrich_netset_parse(const struct config *cfg, const char *spec, char *errbuf);
void enrich_netset_free(struct enrich_netset *s);

/* Returns 1 if the address is in s, 0 if not. */
int enrich_netset_contains(const struct enrich_netset *s, int ip_ver, const struct vg_addr *a);

/* ---- GeoIP and ASN (sensor/enrich-geoip.c) ---- */

enum enrich_db_kind {
    ENRICH_DB_CITY,    /* GeoIP2/GeoLite2 City (and Enterprise) */
    ENRICH_DB_COUNTRY, /* GeoIP2/GeoLite2 Country */
    ENRICH_DB_ASN,     /* GeoLite2 ASN, GeoIP2 ISP */
};

/* What the databases know about an address. Strings are NUL-terminated, "" when unknown. */
struct enrich_geo {
    unsigned have; /* ENRICH_GEO_* bits */
    char country_iso[4];
    char continent[4];
    char country[80];
    char city[96];
    double latitude, longitude;
    uint32_t asn;
    char as_org[128];
};

enum {
    ENRICH_GEO_COUNTRY = 1u << 0,  /* country_iso, country (and continent if known) */
    ENRICH_GEO_CITY = 1u << 1,     /* city */
    ENRICH_GEO_LOCATION = 1u << 2, /* latitude, longitude */
    ENRICH_GEO_ASN = 1u << 3,      /* asn, as_org (as_org may be "") */
};

struct enrich_geoip;

/* Creates an empty set of databases. Returns NULL when out of memory. */
struct enrich_geoip *enrich_geoip_new(void);

/*
 * Opens the MaxMind database at path and adds it; its kind comes from the metadata's
 * database_type. Returns 0, or -1 with a message naming path if the file is missing, corrupt
 * (checked by probe look-ups) or of a type that has no country, city or ASN data.
 */
int enrich_geoip_open(struct enrich_geoip *g, const char *path, char *errbuf);

/* Number of databases, and the kind and metadata type ("GeoLite2-ASN") of database i. */
size_t enrich_geoip_count(const struct enrich_geoip *g);
enum enrich_db_kind enrich_geoip_kind(const struct enrich_geoip *g, size_t i);
const char *enrich_geoip_type(const struct enrich_geoip *g, size_t i);

/*
 * Looks the address up in every database (City/Country first, then ASN; the first to answer a
 * field wins). Does not skip private addresses: see enrich_addr_reserved. Returns 1 if anything
 * was found, 0 if nothing, -1 if a database reported corrupt data (out keeps what was found).
 */
int enrich_geoip_lookup(const struct enrich_geoip *g, int ip_ver, const struct vg_addr *a,
                        struct enrich_geo *out);

void enrich_geoip_free(struct enrich_geoip *g);

/*
 * Returns a short name ("private", "loopback", "documentation", ...) if the address is in a
 * private or reserved range (RFC 6890 and friends) that GeoIP does not describe, else NULL.
 */
const char *enrich_addr_reserved(int ip_ver, const struct vg_addr *a);

/* ---- The facade (sensor/enrich.c) ---- */

/* Where an address is, for the analyst. */
enum enrich_zone {
    ENRICH_ZONE_EXTERNAL = 0,     /* outside HOME_NET and not in the inventory */
    ENRICH_ZONE_ASSET,            /* in the inventory (asset is set) */
    ENRICH_ZONE_UNKNOWN_INTERNAL, /* in HOME_NET but in no inventory entry */
};

struct enrich_ip_info {
    enum enrich_zone zone;
    const char *reserved;  /* enrich_addr_reserved(): not looked up in GeoIP; else NULL */
    int have_geo;          /* geo holds a GeoIP answer */
    struct enrich_geo geo; /* valid if have_geo */
    const struct enrich_asset *asset; /* inventory entry, or NULL */
    unsigned asset_plen;              /* its prefix length */
};

struct enrich;

/*
 * Builds the enrichment context from cfg (cfg may be NULL: nothing configured). Keys:
 *   geoip-database          path or list of paths (Suricata's key); any supported type
 *   enrich.enabled          bool, default yes; "no" makes every call here a no-op
 *   enrich.asn-database     path or list of paths
 *   enrich.assets           inventory file
 *   enrich.assets-partial   bool, default no: load the valid entries of a bad inventory
 *   enrich.home-net         address spec, default vars.address-groups.HOME_NET, else Suricata's
 *   enrich.all-events       bool, default no: enrich every EVE record, not only alerts
 *   enrich.cache-size       entries per thread cache (enrich_cache_new), default 4096
 * Returns the context, or NULL with errbuf naming the bad key or file.
 */
struct enrich *enrich_new(const struct config *cfg, char *errbuf);

/* Adds a MaxMind database (the --geoip-db option). Only before the context is shared with other
 * threads. Returns 0, or -1 with errbuf as enrich_geoip_open. */
int enrich_add_database(struct enrich *e, const char *path, char *errbuf);

/* Frees e (NULL is fine). Caches made for it must not be used afterwards. */
void enrich_free(struct enrich *e);

/* 1 if enrichment is enabled and has a database or an inventory, else 0. */
int enrich_active(const struct enrich *e);

/* 1 if enrich.all-events is set: the integrator enriches every record, not only alerts. */
int enrich_all_events(const struct enrich *e);

/* The inventory (NULL if none) and the databases (never NULL for a non-NULL e). */
const struct enrich_assets *enrich_get_assets(const struct enrich *e);
const struct enrich_geoip *enrich_get_geoip(const struct enrich *e);

/*
 * Fills out for the address (ip_ver 4 or 6). Reserved and private addresses are not looked up
 * in GeoIP (out->reserved says why). Returns 0, or -1 if ip_ver is neither 4 nor 6 or a database
 * reported corrupt data (out still holds what is known). Thread-safe, no allocation.
 */
int enrich_lookup_ip(const struct enrich *e, int ip_ver, const struct vg_addr *a,
                     struct enrich_ip_info *out);

/*
 * A per-thread cache of recent look-ups (direct-mapped). Never share one between threads.
 * entries is rounded up to a power of two; 0 takes enrich.cache-size. Returns NULL when out of
 * memory.
 */
struct enrich_cache;
struct enrich_cache *enrich_cache_new(const struct enrich *e, size_t entries);
void enrich_cache_free(struct enrich_cache *c);

/* Hits and misses so far, for the stats record. */
void enrich_cache_stats(const struct enrich_cache *c, uint64_t *hits, uint64_t *misses);

/*
 * As enrich_lookup_ip through cache c (c may be NULL: no cache). Returns a pointer valid until
 * the next call with c, or NULL if ip_ver is neither 4 nor 6.
 */
const struct enrich_ip_info *enrich_lookup_cached(const struct enrich *e, struct enrich_cache *c,
                                                  int ip_ver, const struct vg_addr *a);

/*
 * Adds "src_geo"/"dest_geo" and, with an inventory, "src_asset"/"dest_asset" to an EVE record
 * that has "src_ip"/"dest_ip" (docs/enrich.md lists the fields). A record without them, or with
 * an unparsable address, is left as it is. Does nothing if e is NULL or not active.
 */
void enrich_eve_record(const struct enrich *e, json_t *rec);

/*
 * As enrich_eve_record, through the calling thread's cache c (NULL for none). The objects it adds
 * are built once per cached address and shared by reference between the records (jansson's
 * reference counts are atomic): deep-copy a record before changing them in place.
 */
void enrich_eve_record_cached(const struct enrich *e, struct enrich_cache *c, json_t *rec);

/* The "*_geo" and "*_asset" members of one address as compact JSON text (NULL: none). */
struct enrich_text {
    const char *geo, *asset;
    size_t geo_len, asset_len;
};

/*
 * What enrich_eve_record_cached adds for address a, as text, through cache c (made once per
 * cached address): borrowed, valid until the next look-up through c. Nothing when enrichment is
 * off or c is NULL. 0, or -1 out of memory (then add nothing).
 */
int enrich_cached_text(const struct enrich *e, struct enrich_cache *c, int ip_ver,
                       const struct vg_addr *a, struct enrich_text *out);

/* Adds the "<prefix>_geo" and "<prefix>_asset" objects for one address to rec, as above. */
void enrich_eve_add(const struct enrich *e, json_t *rec, const char *prefix,
                    const struct enrich_ip_info *info);

#endif
