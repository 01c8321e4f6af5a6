/* enrich-geoip.c: country, city and ASN of an address from MaxMind databases (libmaxminddb). */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vigil/enrich.h"

#define GEOIP_MAX_DBS 16

struct geoip_db {
    MMDB_s *mmdb; /* heap-allocated: libmaxminddb keeps pointers into it */
    enum enrich_db_kind kind;
    char *path;
};

struct enrich_geoip {
    struct geoip_db db[GEOIP_MAX_DBS];
    size_t n;
};

struct enrich_geoip *enrich_geoip_new(void)
{
    return calloc(1, sizeof(struct enrich_geoip));
}

void enrich_geoip_free(struct enrich_geoip *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n; i++) {
        MMDB_close(g->db[i].mmdb);
        free(g->db[i].mmdb);
        free(g->db[i].path);
    }
    free(g);
}

size_t enrich_geoip_count(const struct enrich_geoip *g)
{
    return g ? g->n : 0;
}

enum enrich_db_kind enrich_geoip_kind(const struct enrich_geoip *g, size_t i)
{
    return g->db[i].kind;
}

const char *enrich_geoip_type(const struct enrich_geoip *g, size_t i)
{
    const char *t = g->db[i].mmdb->metadata.database_type;
    return t ? t : "";
}

/* The kind of database from its metadata type, or -1 if it has nothing we use. */
static int kind_of(const char *type)
{
    if (type == NULL)
        return -1;
    if (strstr(type, "ASN") != NULL || strstr(type, "ISP") != NULL)
        return ENRICH_DB_ASN;
    if (strstr(type, "City") != NULL || strstr(type, "Enterprise") != NULL)
        return ENRICH_DB_CITY;
    if (strstr(type, "Country") != NULL)
        return ENRICH_DB_COUNTRY;
    return -1;
}

/* Fills a sockaddr for the address. Returns its family, or -1. */
static int to_sockaddr(int ip_ver, const struct vg_addr *a, struct sockaddr_storage *ss)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(ss, 0, sizeof(*ss));
    const uint8_t *b = a->u8;
    if (ip_ver == 6 && memcmp(b, mapped, 12) == 0) {
        b += 12;
        ip_ver = 4;
    }
    if (ip_ver == 4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, b, 4);
        return AF_INET;
    }
    if (ip_ver == 6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, b, 16);
        return AF_INET6;
    }
    return -1;
}

/* Copies a database string into out, cut at a UTF-8 character boundary if too long. */
static void copy_str(char *out, size_t cap, const char *s, uint32_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    if (n < len)
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    memcpy(out, s, n);
    out[n] = '\0';
}

/*
 * Reads the value at path (NULL-terminated) of an entry. Returns 1 if present with the expected
 * type, 0 if absent or of another type, -1 if the database data is corrupt.
 */
static int get_value(MMDB_entry_s *e, MMDB_entry_data_s *d, uint32_t type, const char *const *path)
{
    int st = MMDB_aget_value(e, d, path);
    if (st == MMDB_SUCCESS)
        return d->has_data && d->type == type;
    if (st == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR || st == MMDB_INVALID_LOOKUP_PATH_ERROR)
        return 0;
    return -1;
}

/* Reads a string field into out when out is still empty. Returns as get_value. */
static int get_str(MMDB_entry_s *e, const char *const *path, char *out, size_t cap)
{
    MMDB_entry_data_s d;
    int rc = get_value(e, &d, MMDB_DATA_TYPE_UTF8_STRING, path);
    if (rc == 1) {
        copy_str(out, cap, d.utf8_string, d.data_size);
        rc = out[0] != '\0';
    }
    return rc;
}

/* Reads the fields a database of kind k has. Returns 1 if it gave anything, 0, or -1. */
static int read_entry(MMDB_entry_s *e, enum enrich_db_kind k, struct enrich_geo *out)
{
    static const char *const p_iso[] = {"country", "iso_code", NULL};
    static const char *const p_country[] = {"country", "names", "en", NULL};
    static const char *const p_cont[] = {"continent", "code", NULL};
    static const char *const p_city[] = {"city", "names", "en", NULL};
    static const char *const p_lat[] = {"location", "latitude", NULL};
    static const char *const p_lon[] = {"location", "longitude", NULL};
    static const char *const p_asn[] = {"autonomous_system_number", NULL};
    static const char *const p_asorg[] = {"autonomous_system_organization", NULL};
    static const char *const p_org[] = {"organization", NULL};
    int bad = 0, got = 0, rc;
    MMDB_entry_data_s d;
    if (k == ENRICH_DB_ASN) {
        if (out->have & ENRICH_GEO_ASN)
            return 0;
        rc = get_value(e, &d, MMDB_DATA_TYPE_UINT32, p_asn);
        bad |= rc < 0;
        if (rc == 1) {
            out->asn = d.uint32;
            out->have |= ENRICH_GEO_ASN;
            got = 1;
            rc = get_str(e, p_asorg, out->as_org, sizeof(out->as_org));
            if (rc == 0)
                rc = get_str(e, p_org, out->as_org, sizeof(out->as_org));
            bad |= rc < 0;
        }
        return bad ? -1 : got;
    }
    if (!(out->have & ENRICH_GEO_COUNTRY)) {
        rc = get_str(e, p_iso, out->country_iso, sizeof(out->country_iso));
        bad |= rc < 0;
        if (rc == 1) {
            out->have |= ENRICH_GEO_COUNTRY;
            got = 1;
            bad |= get_str(e, p_country, out->country, sizeof(out->country)) < 0;
            bad |= get_str(e, p_cont, out->continent, sizeof(out->continent)) < 0;
        }
    }
    if (k == ENRICH_DB_CITY && !(out->have & ENRICH_GEO_CITY)) {
        rc = get_str(e, p_city, out->city, sizeof(out->city));
        bad |= rc < 0;
        if (rc == 1) {
            out->have |= ENRICH_GEO_CITY;
            got = 1;
        }
    }
    if (k == ENRICH_DB_CITY && !(out->have & ENRICH_GEO_LOCATION)) {
        MMDB_entry_data_s lon;
        int r1 = get_value(e, &d, MMDB_DATA_TYPE_DOUBLE, p_lat);
        int r2 = get_value(e, &lon, MMDB_DATA_TYPE_DOUBLE, p_lon);
        bad |= r1 < 0 || r2 < 0;
        if (r1 == 1 && r2 == 1 && isfinite(d.double_value) && isfinite(lon.double_value) &&
            fabs(d.double_value) <= 90 && fabs(lon.double_value) <= 180) {
            out->latitude = d.double_value;
            out->longitude = lon.double_value;
            out->have |= ENRICH_GEO_LOCATION;
            got = 1;
        }
    }
    return bad ? -1 : got;
}

/* Looks the address up in one database. Returns 1 if it gave anything, 0, or -1 if corrupt. */
static int lookup_one(const struct geoip_db *db, const struct sockaddr_storage *ss,
                      struct enrich_geo *out)
{
    int err = MMDB_SUCCESS;
    MMDB_lookup_result_s r = MMDB_lookup_sockaddr(db->mmdb, (const struct sockaddr *)ss, &err);
    if (err == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
        return 0;
    if (err != MMDB_SUCCESS)
        return -1;
    if (!r.found_entry)
        return 0;
    return read_entry(&r.entry, db->kind, out);
}

int enrich_geoip_lookup(const struct enrich_geoip *g, int ip_ver, const struct vg_addr *a,
                        struct enrich_geo *out)
{
    memset(out, 0, sizeof(*out));
    struct sockaddr_storage ss;
    if (g == NULL || to_sockaddr(ip_ver, a, &ss) < 0)
        return 0;
    int bad = 0;
    /* Geography first (City before Country, in the order given), then ASN. */
    static const enum enrich_db_kind order[] = {ENRICH_DB_CITY, ENRICH_DB_COUNTRY, ENRICH_DB_ASN};
    for (size_t o = 0; o < VG_ARRAY_LEN(order); o++)
        for (size_t i = 0; i < g->n; i++)
            if (g->db[i].kind == order[o] && lookup_one(&g->db[i], &ss, out) < 0)
                bad = 1;
    if (bad)
        return -1;
    return out->have != 0;
}

/* Look-ups made at open time, so that a corrupt search tree or data section fails then. */
static int probe(const struct geoip_db *db, char *errbuf)
{
    static const char *const probes[] = {"1.1.1.1",
                                         "8.8.8.8",
                                         "81.2.69.142",
                                         "175.16.199.1",
                                         "1.128.0.1",
                                         "89.160.20.128",
                                         "216.160.83.56",
                                         "2.125.160.216",
                                         "2001:218::1",
                                         "2001:480::1",
                                         "::",
                                         "255.255.255.255"};
    for (size_t i = 0; i < VG_ARRAY_LEN(probes); i++) {
        struct vg_addr a = {0};
        int ver = strchr(probes[i], ':') ? 6 : 4;
        inet_pton(ver == 4 ? AF_INET : AF_INET6, probes[i], a.u8);
        struct sockaddr_storage ss;
        to_sockaddr(ver, &a, &ss);
        struct enrich_geo g = {0};
        int err = MMDB_SUCCESS;
        MMDB_lookup_result_s r = MMDB_lookup_sockaddr(db->mmdb, (const struct sockaddr *)&ss, &err);
        if (err == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
            continue;
        if (err != MMDB_SUCCESS) {
            vg_errbuf_set(errbuf, "%s: corrupt database: %s (looking up %s)", db->path,
                          MMDB_strerror(err), probes[i]);
            return -1;
        }
        if (r.found_entry && read_entry(&r.entry, db->kind, &g) < 0) {
            vg_errbuf_set(errbuf, "%s: corrupt database: bad data for %s", db->path, probes[i]);
            return -1;
        }
    }
    return 0;
}

int enrich_geoip_open(struct enrich_geoip *g, const char *path, char *errbuf)
{
    if (g->n == GEOIP_MAX_DBS) {
        vg_errbuf_set(errbuf, "%s: more than %d GeoIP databases", path, GEOIP_MAX_DBS);
        return -1;
    }
    struct stat st;
    if (stat(path, &st) < 0) {
        vg_errbuf_set(errbuf, "GeoIP database %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        vg_errbuf_set(errbuf, "GeoIP database %s: not a regular file", path);
        return -1;
    }
    struct geoip_db db = {.mmdb = calloc(1, sizeof(MMDB_s)), .path = strdup(path)};
    if (db.mmdb == NULL || db.path == NULL) {
        free(db.mmdb);
        free(db.path);
        vg_errbuf_set(errbuf, "%s: out of memory", path);
        return -1;
    }
    int rc = MMDB_open(path, MMDB_MODE_MMAP, db.mmdb);
    if (rc != MMDB_SUCCESS) {
        if (rc == MMDB_IO_ERROR || rc == MMDB_FILE_OPEN_ERROR)
            vg_errbuf_set(errbuf, "GeoIP database %s: %s (%s)", path, MMDB_strerror(rc),
                          strerror(errno));
        else
            vg_errbuf_set(errbuf, "GeoIP database %s: %s", path, MMDB_strerror(rc));
        free(db.mmdb);
        free(db.path);
        return -1;
    }
    const char *type = db.mmdb->metadata.database_type;
    int kind = kind_of(type);
    if (kind < 0) {
        vg_errbuf_set(errbuf,
                      "GeoIP database %s: type \"%.80s\" has no country, city or ASN data (want a "
                      "GeoIP2/GeoLite2 City, Country or ASN database)",
                      path, type ? type : "");
        goto fail;
    }
    db.kind = (enum enrich_db_kind)kind;
    if (probe(&db, errbuf) < 0)
        goto fail;
    g->db[g->n++] = db;
    return 0;
fail:
    MMDB_close(db.mmdb);
    free(db.mmdb);
    free(db.path);
    return -1;
}

/* ---- Reserved ranges, not looked up ---- */

struct reserved4 {
    uint32_t net;
    uint8_t plen;
    const char *what;
};

static const struct reserved4 reserved4[] = {
    {0x00000000, 8, "this-network"},   {0x0a000000, 8, "private"},
    {0x64400000, 10, "shared"},        {0x7f000000, 8, "loopback"},
    {0xa9fe0000, 16, "link-local"},    {0xac100000, 12, "private"},
    {0xc0000000, 24, "ietf"},          {0xc0000200, 24, "documentation"},
    {0xc0a80000, 16, "private"},       {0xc6120000, 15, "benchmarking"},
    {0xc6336400, 24, "documentation"}, {0xcb007100, 24, "documentation"},
    {0xe0000000, 4, "multicast"},      {0xf0000000, 4, "reserved"},
};

const char *enrich_addr_reserved(int ip_ver, const struct vg_addr *a)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const uint8_t *b = a->u8;
    if (ip_ver == 6 && memcmp(b, mapped, 12) == 0) {
        b += 12;
        ip_ver = 4;
    }
    if (ip_ver == 4) {
        uint32_t x = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
        for (size_t i = 0; i < VG_ARRAY_LEN(reserved4); i++)
            if ((x & (~0u << (32 - reserved4[i].plen))) == reserved4[i].net)
                return reserved4[i].what;
        return NULL;
    }
    if (ip_ver != 6)
        return "reserved";
    static const uint8_t zero[16] = {0};
    if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
        return b[15] ? "loopback" : "unspecified";
    if ((b[0] & 0xfe) == 0xfc)
        return "private"; /* fc00::/7 unique local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return "link-local"; /* fe80::/10 */
    if (b[0] == 0xff)
        return "multicast";
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
        return "documentation"; /* 2001:db8::/32 */
    if (b[0] == 0x3f && b[1] == 0xff && (b[2] & 0xf0) == 0)
        return "documentation"; /* 3fff::/20 */
    if (b[0] == 0x01 && memcmp(b + 1, zero, 7) == 0)
        return "discard"; /* 100::/64 */
    return NULL;
}
