/* detect-kw-geoip.c: the geoip keyword: country of the source/destination address (MaxMind). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect-parse.h"
#include "vigil/enrich.h"

#define GEO_MAX_CODES 64 /* Suricata's GEOOPTION_MAXLOCATIONS */

/* 1 if the engine has a database that knows countries (City, Country, Enterprise). */
static int have_country_db(const struct detect_engine *e)
{
    if (e->enrich == NULL)
        return 0;
    const struct enrich_geoip *g = enrich_get_geoip(e->enrich);
    for (size_t i = 0; i < enrich_geoip_count(g); i++)
        if (enrich_geoip_kind(g, i) != ENRICH_DB_ASN)
            return 1;
    return 0;
}

/*
 * geoip:[src|dst|both|any,]CC[,CC...] as Suricata parses it: the first field names the
 * addresses unless it is a country (then "any"); a '!' before any country negates the list.
 */
static int kw_geoip(struct parse_ctx *pc, const char *value)
{
    if (value == NULL || *value == '\0') {
        vg_errbuf_set(pc->errbuf, "geoip needs a value: [src|dst|both|any,]CC[,CC...]");
        return -1;
    }
    if (!have_country_db(pc->e)) {
        snprintf(pc->unsupported, pc->unsupported_len, "geoip (no database)");
        vg_errbuf_set(pc->errbuf, "geoip: no GeoIP country database (set geoip-database or "
                                  "give --geoip-db)");
        return -1;
    }
    struct geo_check g = {GEO_ANY, 0, 0, NULL};
    size_t len = strlen(value);
    char *buf = malloc(len + 1);
    if (buf == NULL || (g.codes = calloc(GEO_MAX_CODES, sizeof(*g.codes))) == NULL) {
        free(buf);
        vg_errbuf_set(pc->errbuf, "out of memory");
        return -1;
    }
    memcpy(buf, value, len + 1);
    int first = 1;
    char *save = buf;
    for (char *p = buf;; p++) {
        if (*p != ',' && *p != '\0')
            continue;
        int end = *p == '\0';
        *p = '\0';
        char *t = parse_trim(save);
        save = p + 1;
        if (first) {
            first = 0;
            static const struct {
                const char *name;
                uint8_t which;
            } sides[] = {{"src", GEO_SRC},
                         {"dst", GEO_DST},
                         {"dest", GEO_DST},
                         {"both", GEO_BOTH},
                         {"any", GEO_ANY}};
            int side = 0;
            for (size_t i = 0; i < VG_ARRAY_LEN(sides); i++) {
                if (strcmp(t, sides[i].name) == 0) {
                    g.which = sides[i].which;
                    side = 1;
                }
            }
            if (side) {
                if (end)
                    break;
                continue;
            }
        }
        if (*t == '!') {
            g.negated = 1;
            t = parse_trim(t + 1);
        }
        if (strlen(t) != 2 || !isupper((unsigned char)t[0]) || !isupper((unsigned char)t[1])) {
            vg_errbuf_set(pc->errbuf,
                          "geoip: '%.40s' is not a two-letter country code in capitals "
                          "(ISO 3166, as MaxMind writes them)",
                          t);
            goto fail;
        }
        if (g.n == GEO_MAX_CODES) {
            vg_errbuf_set(pc->errbuf, "geoip: more than %d countries", GEO_MAX_CODES);
            goto fail;
        }
        g.codes[g.n++] = (uint16_t)((uint8_t)t[0] << 8 | (uint8_t)t[1]);
        if (end)
            break;
    }
    if (g.n == 0) {
        vg_errbuf_set(pc->errbuf, "geoip: no country given");
        goto fail;
    }
    struct sig *s = pc->s;
    if (s->ngeo == UINT8_MAX) {
        vg_errbuf_set(pc->errbuf, "geoip: too many geoip keywords");
        goto fail;
    }
    struct geo_check *v = realloc(s->geo, (s->ngeo + 1u) * sizeof(*v));
    if (v == NULL) {
        vg_errbuf_set(pc->errbuf, "out of memory");
        goto fail;
    }
    s->geo = v;
    s->geo[s->ngeo++] = g;
    free(buf);
    return 0;
fail:
    free(buf);
    free(g.codes);
    return -1;
}

void detect_geo_free(struct sig *s)
{
    for (unsigned i = 0; i < s->ngeo; i++)
        free(s->geo[i].codes);
    free(s->geo);
    s->geo = NULL;
    s->ngeo = 0;
}

/* Suricata's CheckGeoMatchIPv4: an address without a known country never matches, negated or
 * not; otherwise it matches when its country is in the list (not in it, negated). */
static int addr_ok(struct detect_thread *t, const struct geo_check *g, const struct vg_addr *a)
{
    const struct enrich_ip_info *info = enrich_lookup_cached(t->e->enrich, t->geo_cache, 4, a);
    if (info == NULL || !info->have_geo || !(info->geo.have & ENRICH_GEO_COUNTRY) ||
        info->geo.country_iso[0] == '\0' || info->geo.country_iso[2] != '\0')
        return 0;
    uint16_t cc =
        (uint16_t)((uint8_t)info->geo.country_iso[0] << 8 | (uint8_t)info->geo.country_iso[1]);
    int in = 0;
    for (unsigned i = 0; i < g->n && !in; i++)
        in = g->codes[i] == cc;
    return in != g->negated;
}

int detect_geoip_ok(struct detect_thread *t, const struct sig *s, const struct vg_packet *p)
{
    /* As Suricata: IPv4 only, never on a pseudo packet (a flow's end). */
    if (p->ip_ver != 4 || p->pcap_cnt == 0 || t->e->enrich == NULL)
        return 0;
    for (unsigned i = 0; i < s->ngeo; i++) {
        const struct geo_check *g = &s->geo[i];
        int ok;
        switch (g->which) {
        case GEO_SRC:
            ok = addr_ok(t, g, &p->src);
            break;
        case GEO_DST:
            ok = addr_ok(t, g, &p->dst);
            break;
        case GEO_BOTH:
            ok = addr_ok(t, g, &p->src) && addr_ok(t, g, &p->dst);
            break;
        default:
            ok = addr_ok(t, g, &p->src) || addr_ok(t, g, &p->dst);
            break;
        }
        if (!ok)
            return 0;
    }
    return 1;
}

const struct kw_def detect_geoip_keywords[] = {
    {"geoip", kw_geoip},
    {NULL, NULL},
};
