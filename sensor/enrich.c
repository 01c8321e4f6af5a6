/* enrich.c: the enrichment facade: settings, per-address look-up, per-thread cache, EVE fields. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "enrich-internal.h"
#include "vigil/enrich.h"
#include "vigil/eve.h"

#define ENRICH_DEFAULT_HOME_NET "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"
#define ENRICH_DEFAULT_CACHE 4096
#define ENRICH_MAX_CACHE (1u << 22)

struct enrich {
    int enabled;
    int all_events;
    struct enrich_geoip *geo;
    struct enrich_assets *assets; /* NULL if no inventory */
    struct enrich_netset *home;
    size_t cache_size;
    uint64_t gen; /* distinguishes contexts, so a cache notices it is used with a new one */
};

static uint64_t next_gen = 1;

/* Opens each path of key (a scalar or a list of scalars). Returns 0, or -1 with errbuf. */
static int open_databases(struct enrich *e, const struct config *cfg, const char *key, char *errbuf)
{
    const struct config_node *n = config_lookup(cfg, key);
    if (n == NULL)
        return 0;
    if (n->type == CONFIG_SCALAR)
        return n->value[0] == '\0' ? 0 : enrich_add_database(e, n->value, errbuf);
    if (n->type != CONFIG_SEQ) {
        vg_errbuf_set(errbuf, "%s: must be a path or a list of paths", key);
        return -1;
    }
    for (size_t i = 0; i < n->nchild; i++) {
        if (n->child[i]->type != CONFIG_SCALAR) {
            vg_errbuf_set(errbuf, "%s: must be a path or a list of paths", key);
            return -1;
        }
        if (enrich_add_database(e, n->child[i]->value, errbuf) < 0)
            return -1;
    }
    return 0;
}

struct enrich *enrich_new(const struct config *cfg, char *errbuf)
{
    struct enrich *e = calloc(1, sizeof(*e));
    if (e == NULL || (e->geo = enrich_geoip_new()) == NULL) {
        free(e);
        vg_errbuf_set(errbuf, "enrich: out of memory");
        return NULL;
    }
    e->gen = __atomic_fetch_add(&next_gen, 1, __ATOMIC_RELAXED);
    e->cache_size = ENRICH_DEFAULT_CACHE;
    e->enabled = 1;
    if (cfg == NULL)
        return e;
    int partial = 0;
    uint64_t cache = ENRICH_DEFAULT_CACHE;
    if (config_get_bool(cfg, "enrich.enabled", 1, &e->enabled, errbuf) < 0 ||
        config_get_bool(cfg, "enrich.all-events", 0, &e->all_events, errbuf) < 0 ||
        config_get_bool(cfg, "enrich.assets-partial", 0, &partial, errbuf) < 0 ||
        config_get_uint(cfg, "enrich.cache-size", ENRICH_DEFAULT_CACHE, ENRICH_MAX_CACHE, &cache,
                        errbuf) < 0)
        goto fail;
    e->cache_size = (size_t)cache;
    if (!e->enabled)
        return e;
    if (open_databases(e, cfg, "geoip-database", errbuf) < 0 ||
        open_databases(e, cfg, "enrich.asn-database", errbuf) < 0)
        goto fail;
    const char *path = config_get(cfg, "enrich.assets");
    if (path == NULL && config_lookup(cfg, "enrich.assets") != NULL) {
        vg_errbuf_set(errbuf, "enrich.assets: must be the path of the inventory file");
        goto fail;
    }
    if (path != NULL && path[0] != '\0') {
        e->assets = enrich_assets_load_file(path, partial ? ENRICH_ASSETS_PARTIAL : 0, errbuf);
        if (e->assets == NULL)
            goto fail;
    }
    const char *home = config_get(cfg, "enrich.home-net");
    if (home == NULL)
        home = config_get(cfg, "vars.address-groups.HOME_NET");
    if (home == NULL)
        home = ENRICH_DEFAULT_HOME_NET;
    char why[VG_ERRBUF_SIZE];
    if ((e->home = enrich_netset_parse(cfg, home, why)) == NULL) {
        vg_errbuf_set(errbuf, "enrich: HOME_NET \"%.100s\": %.300s", home, why);
        goto fail;
    }
    return e;
fail:
    enrich_free(e);
    return NULL;
}

int enrich_add_database(struct enrich *e, const char *path, char *errbuf)
{
    return enrich_geoip_open(e->geo, path, errbuf);
}

void enrich_free(struct enrich *e)
{
    if (e == NULL)
        return;
    enrich_geoip_free(e->geo);
    enrich_assets_free(e->assets);
    enrich_netset_free(e->home);
    free(e);
}

int enrich_active(const struct enrich *e)
{
    return e != NULL && e->enabled && (enrich_geoip_count(e->geo) > 0 || e->assets != NULL);
}

int enrich_all_events(const struct enrich *e)
{
    return e != NULL && e->all_events;
}

const struct enrich_assets *enrich_get_assets(const struct enrich *e)
{
    return e->assets;
}

const struct enrich_geoip *enrich_get_geoip(const struct enrich *e)
{
    return e->geo;
}

int enrich_lookup_ip(const struct enrich *e, int ip_ver, const struct vg_addr *a,
                     struct enrich_ip_info *out)
{
    memset(out, 0, sizeof(*out));
    if (ip_ver != 4 && ip_ver != 6)
        return -1;
    int rc = 0;
    out->reserved = enrich_addr_reserved(ip_ver, a);
    if (out->reserved == NULL && enrich_geoip_count(e->geo) > 0) {
        int g = enrich_geoip_lookup(e->geo, ip_ver, a, &out->geo);
        out->have_geo = out->geo.have != 0;
        if (g < 0)
            rc = -1;
    }
    out->asset = enrich_assets_lookup(e->assets, ip_ver, a, &out->asset_plen);
    if (out->asset != NULL)
        out->zone = ENRICH_ZONE_ASSET;
    else if (enrich_netset_contains(e->home, ip_ver, a))
        out->zone = ENRICH_ZONE_UNKNOWN_INTERNAL;
    else
        out->zone = ENRICH_ZONE_EXTERNAL;
    return rc;
}

/* ---- The per-thread cache: direct-mapped on a hash of the address ---- */

/*
 * A slot also keeps the EVE objects built from its answer (built on the first record that needs
 * them, then shared by reference): building them costs more than the look-up itself.
 */
struct cache_slot {
    uint8_t used;
    uint8_t ip_ver;
    uint8_t built; /* geo and asset are set (either may be NULL: nothing to add) */
    struct vg_addr addr;
    struct enrich_ip_info info;
    json_t *geo, *asset;
    char *geo_text, *asset_text; /* their compact JSON, made on first use (enrich_cached_text) */
};

/* Drops the slot's EVE objects. */
static void slot_clear(struct cache_slot *s)
{
    json_decref(s->geo);
    json_decref(s->asset);
    free(s->geo_text);
    free(s->asset_text);
    s->geo = s->asset = NULL;
    s->geo_text = s->asset_text = NULL;
    s->built = 0;
}

struct enrich_cache {
    uint64_t gen; /* the context the slots belong to */
    size_t mask;
    uint64_t hits, misses;
    struct cache_slot *slot;
};

struct enrich_cache *enrich_cache_new(const struct enrich *e, size_t entries)
{
    if (entries == 0)
        entries = e != NULL ? e->cache_size : ENRICH_DEFAULT_CACHE;
    if (entries > ENRICH_MAX_CACHE)
        entries = ENRICH_MAX_CACHE;
    size_t n = 1;
    while (n < entries)
        n <<= 1;
    struct enrich_cache *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->slot = calloc(n, sizeof(*c->slot));
    if (c->slot == NULL) {
        free(c);
        return NULL;
    }
    c->mask = n - 1;
    c->gen = e != NULL ? e->gen : 0;
    return c;
}

void enrich_cache_free(struct enrich_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i <= c->mask; i++)
        slot_clear(&c->slot[i]);
    free(c->slot);
    free(c);
}

void enrich_cache_stats(const struct enrich_cache *c, uint64_t *hits, uint64_t *misses)
{
    *hits = c ? VG_CNT_GET(c->hits) : 0;
    *misses = c ? VG_CNT_GET(c->misses) : 0;
}

/* The slot of c answering for a (looked up on a miss). c must not be NULL. */
static struct cache_slot *cache_get(const struct enrich *e, struct enrich_cache *c, int ip_ver,
                                    const struct vg_addr *a)
{
    if (VG_UNLIKELY(c->gen != e->gen)) { /* used with a new (reloaded) context: start over */
        for (size_t i = 0; i <= c->mask; i++) {
            c->slot[i].used = 0;
            slot_clear(&c->slot[i]);
        }
        c->gen = e->gen;
    }
    struct cache_slot *s = &c->slot[(XXH3_64bits(a->u8, 16) ^ (uint64_t)ip_ver) & c->mask];
    if (s->used && s->ip_ver == ip_ver && s->addr.u64[0] == a->u64[0] &&
        s->addr.u64[1] == a->u64[1]) {
        VG_CNT_INC(c->hits);
        return s;
    }
    VG_CNT_INC(c->misses);
    slot_clear(s);
    enrich_lookup_ip(e, ip_ver, a, &s->info);
    s->used = 1;
    s->ip_ver = (uint8_t)ip_ver;
    s->addr = *a;
    return s;
}

const struct enrich_ip_info *enrich_lookup_cached(const struct enrich *e, struct enrich_cache *c,
                                                  int ip_ver, const struct vg_addr *a)
{
    static _Thread_local struct enrich_ip_info scratch;
    if (ip_ver != 4 && ip_ver != 6)
        return NULL;
    if (c == NULL) {
        enrich_lookup_ip(e, ip_ver, a, &scratch);
        return &scratch;
    }
    return &cache_get(e, c, ip_ver, a)->info;
}

/* ---- EVE fields ---- */

/* Sets key to the UTF-8 string s unless s is NULL or empty (or not valid UTF-8). */
static void set_str(json_t *obj, const char *key, const char *s)
{
    if (s != NULL && s[0] != '\0')
        json_object_set_new(obj, key, json_string(s));
}

static json_t *geo_object(const struct enrich_ip_info *info)
{
    if (info->reserved != NULL) {
        json_t *o = json_object();
        json_object_set_new(o, "internal", json_true());
        json_object_set_new(o, "range", json_string(info->reserved));
        return o;
    }
    if (!info->have_geo)
        return NULL;
    const struct enrich_geo *g = &info->geo;
    json_t *o = json_object();
    if (g->have & ENRICH_GEO_COUNTRY) {
        set_str(o, "country_iso", g->country_iso);
        set_str(o, "country", g->country);
        set_str(o, "continent", g->continent);
    }
    if (g->have & ENRICH_GEO_CITY)
        set_str(o, "city", g->city);
    if (g->have & ENRICH_GEO_LOCATION) {
        json_object_set_new(o, "latitude", json_real(g->latitude));
        json_object_set_new(o, "longitude", json_real(g->longitude));
    }
    if (g->have & ENRICH_GEO_ASN) {
        json_object_set_new(o, "asn", json_integer(g->asn));
        set_str(o, "as_org", g->as_org);
    }
    return o;
}

static json_t *asset_object(int ip_ver, const struct vg_addr *a, const struct enrich_ip_info *info)
{
    json_t *o = json_object();
    if (info->asset == NULL) {
        json_object_set_new(o, "status",
                            json_string(info->zone == ENRICH_ZONE_UNKNOWN_INTERNAL
                                            ? "unknown-internal"
                                            : "external"));
        return o;
    }
    const struct enrich_asset *as = info->asset;
    json_object_set_new(o, "status", json_string("known"));
    set_str(o, "id", as->id);
    set_str(o, "unit", as->unit);
    set_str(o, "unit_type", enrich_unit_type_name(as->unit_type));
    set_str(o, "system", as->system);
    set_str(o, "criticality", enrich_criticality_name(as->criticality));
    if (a != NULL) {
        /* The network that matched: the address cut to the prefix length. */
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        uint8_t net[16] = {0};
        int ver = ip_ver;
        if (ver == 6 && memcmp(a->u8, mapped, 12) == 0) {
            memcpy(net, a->u8 + 12, 4);
            ver = 4;
        } else {
            memcpy(net, a->u8, ver == 4 ? 4 : 16);
        }
        unsigned bits = ver == 4 ? 32 : 128;
        for (unsigned b = info->asset_plen; b < bits; b++)
            net[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
        char cidr[64];
        lpm_format_cidr(ver, net, info->asset_plen, cidr, sizeof(cidr));
        set_str(o, "network", cidr);
    }
    if (as->ntags > 0) {
        json_t *t = json_array();
        for (size_t i = 0; i < as->ntags; i++)
            json_array_append_new(t, json_string(as->tags[i]));
        json_object_set_new(o, "tags", t);
    }
    return o;
}

/* The objects info gives: *geo (NULL without GeoIP data) and *asset (NULL without inventory). */
static void eve_objects(const struct enrich *e, int ip_ver, const struct vg_addr *a,
                        const struct enrich_ip_info *info, json_t **geo, json_t **asset)
{
    *geo = enrich_geoip_count(e->geo) > 0 ? geo_object(info) : NULL;
    *asset = e->assets != NULL ? asset_object(ip_ver, a, info) : NULL;
}

/* Sets PREFIX_geo and PREFIX_asset of rec to geo and asset (when not NULL), taking no reference. */
static void eve_set(json_t *rec, const char *prefix, json_t *geo, json_t *asset)
{
    char key[64];
    if (geo != NULL) {
        snprintf(key, sizeof(key), "%s_geo", prefix);
        json_object_set(rec, key, geo);
    }
    if (asset != NULL) {
        snprintf(key, sizeof(key), "%s_asset", prefix);
        json_object_set(rec, key, asset);
    }
}

/* As enrich_eve_add, knowing the address (for the matched network). */
static void eve_add(const struct enrich *e, json_t *rec, const char *prefix, int ip_ver,
                    const struct vg_addr *a, const struct enrich_ip_info *info)
{
    json_t *geo, *asset;
    eve_objects(e, ip_ver, a, info, &geo, &asset);
    eve_set(rec, prefix, geo, asset);
    json_decref(geo);
    json_decref(asset);
}

void enrich_eve_add(const struct enrich *e, json_t *rec, const char *prefix,
                    const struct enrich_ip_info *info)
{
    if (!enrich_active(e) || rec == NULL || prefix == NULL || info == NULL)
        return;
    eve_add(e, rec, prefix, 0, NULL, info);
}

/* Parses an EVE address (IPv6 may be written in full). Returns 4, 6 or -1. */
static int parse_ip(const char *s, struct vg_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, s, a->u8) == 1)
        return 4;
    if (inet_pton(AF_INET6, s, a->u8) == 1)
        return 6;
    return -1;
}

void enrich_eve_record_cached(const struct enrich *e, struct enrich_cache *c, json_t *rec)
{
    static const char *const fields[2][2] = {{"src_ip", "src"}, {"dest_ip", "dest"}};
    if (!enrich_active(e) || !json_is_object(rec))
        return;
    for (int i = 0; i < 2; i++) {
        const char *s = json_string_value(json_object_get(rec, fields[i][0]));
        struct vg_addr a;
        int ver;
        if (s == NULL || (ver = parse_ip(s, &a)) < 0)
            continue;
        if (c == NULL) {
            struct enrich_ip_info info;
            enrich_lookup_ip(e, ver, &a, &info);
            eve_add(e, rec, fields[i][1], ver, &a, &info);
            continue;
        }
        /* Through the cache: the slot's objects, built once, are shared by every record. */
        struct cache_slot *sl = cache_get(e, c, ver, &a);
        if (!sl->built) {
            eve_objects(e, ver, &a, &sl->info, &sl->geo, &sl->asset);
            sl->built = 1;
        }
        eve_set(rec, fields[i][1], sl->geo, sl->asset);
    }
}

/* v as the EVE writer prints it, in a new NUL-terminated string, or NULL. */
static char *compact(const json_t *v)
{
    char small[512];
    size_t n = eve_json_dumpb(v, small, sizeof(small), 10);
    char *out = n > 0 ? malloc(n + 1) : NULL;
    if (out == NULL)
        return NULL;
    if (n <= sizeof(small))
        memcpy(out, small, n);
    else
        eve_json_dumpb(v, out, n, 10);
    out[n] = '\0';
    return out;
}

int enrich_cached_text(const struct enrich *e, struct enrich_cache *c, int ip_ver,
                       const struct vg_addr *a, struct enrich_text *out)
{
    memset(out, 0, sizeof(*out));
    if (!enrich_active(e) || c == NULL || (ip_ver != 4 && ip_ver != 6))
        return 0;
    struct cache_slot *sl = cache_get(e, c, ip_ver, a);
    if (!sl->built) {
        eve_objects(e, ip_ver, a, &sl->info, &sl->geo, &sl->asset);
        sl->built = 1;
    }
    /* As the EVE writer prints them. */
    if ((sl->geo != NULL && sl->geo_text == NULL && !(sl->geo_text = compact(sl->geo))) ||
        (sl->asset != NULL && sl->asset_text == NULL && !(sl->asset_text = compact(sl->asset))))
        return -1;
    out->geo = sl->geo_text;
    out->asset = sl->asset_text;
    out->geo_len = out->geo != NULL ? strlen(out->geo) : 0;
    out->asset_len = out->asset != NULL ? strlen(out->asset) : 0;
    return 0;
}

void enrich_eve_record(const struct enrich *e, json_t *rec)
{
    enrich_eve_record_cached(e, NULL, rec);
}
