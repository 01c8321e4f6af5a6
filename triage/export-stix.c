/* export-stix.c: an incident as a STIX 2.1 bundle: identity, indicator, observed-data, sighting. */
#include <openssl/evp.h>
#include <string.h>

#include "vigil/triage.h"

void texp_uuid(const char *name, char *buf)
{
    /* UUIDv5 (SHA-1, RFC 4122) in a fixed Vigil namespace, so re-exports keep their ids. */
    static const unsigned char ns[16] = {0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                         0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc9};
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    memset(h, 0, sizeof(h));
    if (c != NULL) {
        EVP_DigestInit_ex(c, EVP_sha1(), NULL);
        EVP_DigestUpdate(c, ns, sizeof(ns));
        EVP_DigestUpdate(c, name, strlen(name));
        EVP_DigestFinal_ex(c, h, &hl);
        EVP_MD_CTX_free(c);
    }
    h[6] = (unsigned char)((h[6] & 0x0f) | 0x50);
    h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
    snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0],
             h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13],
             h[14], h[15]);
}

static json_t *sdo(const char *type, const char *name, const char *ts)
{
    char u[37], id[128];
    texp_uuid(name, u);
    snprintf(id, sizeof(id), "%s--%s", type, u);
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", type, "spec_version", "2.1", "id", id,
                     "created", ts, "modified", ts);
}

/* Escapes ' and \ for a STIX pattern string literal. */
static void pattern_str(char *out, size_t len, const char *v)
{
    size_t o = 0;
    for (; *v && o + 2 < len; v++) {
        if (*v == '\'' || *v == '\\')
            out[o++] = '\\';
        out[o++] = *v;
    }
    out[o] = '\0';
}

int texp_stix(FILE *out, const json_t *inc, char *errbuf)
{
    char now[32], first[32], last[32], key[2048];
    const char *ref = json_string_value(json_object_get(inc, "ref"));
    tcfg_fmt_time(json_number_value(json_object_get(inc, "created_at")), now, sizeof(now));
    tcfg_fmt_time(json_number_value(json_object_get(inc, "first_seen")), first, sizeof(first));
    tcfg_fmt_time(json_number_value(json_object_get(inc, "last_seen")), last, sizeof(last));
    if (ref == NULL || strcmp(first, "-") == 0) {
        snprintf(errbuf, TRIAGE_ERRBUF, "incident has no alerts to export");
        return -1;
    }
    json_t *objs = json_array();
    json_t *ident = sdo("identity", "Vigil HCMC CSIRT", now);
    json_object_set_new(ident, "name",
                        json_string("Trung tâm kỹ thuật và ứng cứu an toàn mạng (Vigil)"));
    json_object_set_new(ident, "identity_class", json_string("organization"));
    const char *ident_id = json_string_value(json_object_get(ident, "id"));
    json_array_append(objs, ident);
    json_t *refs = json_array(), *inds = json_array();
    static const struct {
        const char *obs, *sco, *prop;
    } kinds[] = {{"ip", "ipv4-addr", "value"},  {"domain", "domain-name", "value"},
                 {"url", "url", "value"},       {"sha256", "file", "hashes.'SHA-256'"},
                 {"md5", "file", "hashes.MD5"}, {"sha1", "file", "hashes.'SHA-1'"}};
    const json_t *obs = json_object_get(inc, "observables");
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(obs, kinds[k].obs), i, v)
        {
            const char *val = json_string_value(v);
            const char *sco = kinds[k].sco;
            if (strcmp(sco, "ipv4-addr") == 0 && strchr(val, ':'))
                sco = "ipv6-addr";
            snprintf(key, sizeof(key), "%s|%s", sco, val);
            char u[37], id[128];
            texp_uuid(key, u);
            snprintf(id, sizeof(id), "%s--%s", sco, u);
            json_t *o = json_pack("{s:s,s:s,s:s}", "type", sco, "spec_version", "2.1", "id", id);
            if (strcmp(sco, "file") == 0)
                json_object_set_new(o, "hashes",
                                    json_pack("{s:s}",
                                              strcmp(kinds[k].obs, "sha256") == 0 ? "SHA-256"
                                              : strcmp(kinds[k].obs, "md5") == 0  ? "MD5"
                                                                                  : "SHA-1",
                                              val));
            else
                json_object_set_new(o, "value", json_string(val));
            json_array_append_new(objs, o);
            json_array_append_new(refs, json_string(id));
            if (texp_ours(inc, val))
                continue; /* our own host, name or URL: observed, not an indicator */
            char pv[900], pat[1024];
            pattern_str(pv, sizeof(pv), val);
            snprintf(pat, sizeof(pat), "[%s:%s = '%s']", sco, kinds[k].prop, pv);
            snprintf(key, sizeof(key), "indicator|%s|%s", ref, pat);
            json_t *ind = sdo("indicator", key, now);
            json_object_set_new(ind, "name", json_string(val));
            json_object_set_new(ind, "indicator_types", json_pack("[s]", "malicious-activity"));
            json_object_set_new(ind, "pattern", json_string(pat));
            json_object_set_new(ind, "pattern_type", json_string("stix"));
            json_object_set_new(ind, "valid_from", json_string(first));
            json_object_set_new(ind, "created_by_ref", json_string(ident_id));
            json_array_append_new(objs, ind);
            json_array_append(inds, json_object_get(ind, "id"));
        }
    }
    snprintf(key, sizeof(key), "observed-data|%s", ref);
    json_t *od = sdo("observed-data", key, now);
    long long count = json_integer_value(json_object_get(inc, "count"));
    json_object_set_new(od, "first_observed", json_string(first));
    json_object_set_new(od, "last_observed", json_string(last));
    json_object_set_new(od, "number_observed", json_integer(count > 0 ? count : 1));
    if (json_array_size(refs) == 0) { /* object_refs must not be empty */
        json_decref(od);
        json_decref(refs);
        json_decref(inds);
        json_decref(objs);
        json_decref(ident);
        snprintf(errbuf, TRIAGE_ERRBUF, "incident has no observables to export");
        return -1;
    }
    json_object_set_new(od, "object_refs", refs);
    json_object_set_new(od, "created_by_ref", json_string(ident_id));
    json_array_append(objs, od);
    size_t i;
    json_t *ind;
    json_array_foreach(inds, i, ind)
    {
        snprintf(key, sizeof(key), "sighting|%s|%s", ref, json_string_value(ind));
        json_t *s = sdo("sighting", key, now);
        json_object_set(s, "sighting_of_ref", ind);
        json_object_set_new(s, "observed_data_refs", json_pack("[O]", json_object_get(od, "id")));
        json_object_set_new(s, "where_sighted_refs", json_pack("[s]", ident_id));
        json_object_set_new(s, "first_seen", json_string(first));
        json_object_set_new(s, "last_seen", json_string(last));
        json_object_set_new(s, "count", json_integer(count > 0 ? count : 1));
        json_object_set_new(s, "description",
                            json_object_get(inc, "title") ? json_copy(json_object_get(inc, "title"))
                                                          : json_string(ref));
        json_array_append_new(objs, s);
    }
    json_decref(od);
    json_decref(inds);
    json_decref(ident);
    char u[37], id[64];
    snprintf(key, sizeof(key), "bundle|%s|%s", ref, last);
    texp_uuid(key, u);
    snprintf(id, sizeof(id), "bundle--%s", u);
    json_t *b = json_pack("{s:s,s:s,s:o}", "type", "bundle", "id", id, "objects", objs);
    int rc = json_dumpf(b, out, JSON_INDENT(2)) == 0 && fputc('\n', out) >= 0 ? 0 : -1;
    json_decref(b);
    if (rc != 0)
        snprintf(errbuf, TRIAGE_ERRBUF, "write failed");
    return rc;
}
