/* export-misp.c: an incident as a MISP event (JSON) with typed attributes, to_ids on indicators. */
#include <string.h>
#include <strings.h>

#include "vigil/triage.h"

static const char *or_(const char *a, const char *b)
{
    return a ? a : b;
}

int texp_misp(FILE *out, const json_t *inc, char *errbuf)
{
    char date[32], key[1024], u[37];
    const char *ref = json_string_value(json_object_get(inc, "ref"));
    if (ref == NULL) {
        snprintf(errbuf, TRIAGE_ERRBUF, "no incident");
        return -1;
    }
    tcfg_fmt_time(json_number_value(json_object_get(inc, "first_seen")), date, sizeof(date));
    date[10] = '\0';
    int lvl = (int)json_integer_value(json_object_get(inc, "severity"));
    /* MISP threat levels: 1 high, 2 medium, 3 low, 4 undefined */
    int threat = lvl <= 2 ? 1 : lvl == 3 ? 2 : 3;
    const char *status = json_string_value(json_object_get(inc, "status"));
    int analysis = strcmp(status, "new") == 0 ? 0 : strcmp(status, "resolved") == 0 ? 2 : 1;
    json_t *attrs = json_array();
    static const struct {
        const char *obs, *type, *cat;
    } kinds[] = {{"ip", "ip-src", "Network activity"},
                 {"domain", "domain", "Network activity"},
                 {"url", "url", "Network activity"},
                 {"sha256", "sha256", "Payload delivery"},
                 {"md5", "md5", "Payload delivery"},
                 {"sha1", "sha1", "Payload delivery"},
                 {"filename", "filename", "Payload delivery"},
                 {"ja3", "ja3-fingerprint-md5", "Network activity"}};
    const json_t *obs = json_object_get(inc, "observables");
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(obs, kinds[k].obs), i, v)
        {
            const char *val = json_string_value(v);
            const char *type = kinds[k].type;
            int ids = strcmp(kinds[k].obs, "filename") != 0;
            const char *comment = "";
            if (texp_ours(inc, val)) { /* our own host, name or URL: context, never an IoC */
                if (strcmp(kinds[k].obs, "ip") == 0)
                    type = "ip-dst";
                ids = 0;
                comment = "internal (ours)";
            }
            snprintf(key, sizeof(key), "misp|%s|%s|%s", ref, type, val);
            texp_uuid(key, u);
            json_array_append_new(attrs,
                                  json_pack("{s:s,s:s,s:s,s:b,s:s,s:s,s:s}", "uuid", u, "type",
                                            type, "category", kinds[k].cat, "to_ids", ids, "value",
                                            val, "comment", comment, "distribution", "5"));
        }
    }
    char tlp[64], pap[64];
    snprintf(tlp, sizeof(tlp), "tlp:%s",
             or_(json_string_value(json_object_get(inc, "tlp")), "amber"));
    snprintf(pap, sizeof(pap), "PAP:%s",
             or_(json_string_value(json_object_get(inc, "pap")), "amber"));
    for (char *p = pap + 4; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    snprintf(key, sizeof(key), "misp-event|%s", ref);
    texp_uuid(key, u);
    char info[1024];
    snprintf(info, sizeof(info), "%s: %s", ref,
             or_(json_string_value(json_object_get(inc, "title")), ""));
    json_t *ev = json_pack("{s:{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:[{s:s},{s:s}],s:o}}", "Event", "uuid",
                           u, "info", info, "date", date, "threat_level_id",
                           threat == 1   ? "1"
                           : threat == 2 ? "2"
                                         : "3",
                           "analysis",
                           analysis == 0   ? "0"
                           : analysis == 1 ? "1"
                                           : "2",
                           "distribution", "0", "published", 0, "Tag", "name", tlp, "name", pap,
                           "Attribute", attrs);
    int rc = ev && json_dumpf(ev, out, JSON_INDENT(2)) == 0 && fputc('\n', out) >= 0 ? 0 : -1;
    json_decref(ev);
    if (rc != 0)
        snprintf(errbuf, TRIAGE_ERRBUF, "write failed");
    return rc;
}
