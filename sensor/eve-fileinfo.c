/* eve-fileinfo.c: the EVE "fileinfo" record of a file, and an "alert" record per YARA match. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "file-internal.h"

json_t *eve_fileinfo_object(const struct vfile *f)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    eve_set_bytes(o, "filename", f->name != NULL ? f->name : (const uint8_t *)"", f->name_len);
    if (f->magic != NULL)
        json_object_set_new(o, "magic", json_string(f->magic));
    json_object_set_new(o, "gaps", json_boolean(f->gaps));
    json_object_set_new(o, "state", json_string(f->truncated ? "TRUNCATED" : "CLOSED"));
    json_object_set_new(o, "md5", json_string(f->md5));
    json_object_set_new(o, "sha1", json_string(f->sha1));
    json_object_set_new(o, "sha256", json_string(f->sha256));
    json_object_set_new(o, "stored", json_boolean(f->stored));
    eve_set_uint(o, "size", f->size);
    if (f->flags & FILE_F_RANGE) {
        eve_set_uint(o, "start", f->range_start);
        eve_set_uint(o, "end", f->range_end);
    }
    if (f->flags & FILE_F_PARTIAL)
        json_object_set_new(o, "partial", json_true());
    eve_set_uint(o, "tx_id", f->tx_id);
    if (f->yara != NULL && json_array_size(f->yara) > 0)
        json_object_set(o, "yara", f->yara);
    return o;
}

/* Rule meta as Suricata's alert metadata: every value a list of strings. */
static json_t *alert_metadata(const json_t *m)
{
    json_t *md = json_object();
    json_t *v = json_array();
    json_array_append_new(v, json_string(json_string_value(json_object_get(m, "namespace"))));
    json_object_set_new(md, "yara_namespace", v);
    json_t *tags = json_object_get(m, "tags");
    if (json_array_size(tags) > 0)
        json_object_set(md, "yara_tags", tags);
    const char *k;
    json_t *mv;
    json_object_foreach(json_object_get(m, "meta"), k, mv)
    {
        json_t *arr = json_array();
        if (json_is_string(mv))
            json_array_append(arr, mv);
        else {
            char *txt = json_dumps(mv, JSON_ENCODE_ANY);
            json_array_append_new(arr, json_string(txt ? txt : ""));
            eve_json_free(txt);
        }
        json_object_set_new(md, k, arr);
    }
    return md;
}

static int alert_severity(const json_t *meta)
{
    const json_t *s = json_object_get(meta, "severity");
    if (json_is_integer(s) && json_integer_value(s) >= 1 && json_integer_value(s) <= 255)
        return (int)json_integer_value(s);
    if (json_is_string(s)) {
        const char *v = json_string_value(s);
        char *end;
        long n = strtol(v, &end, 10);
        if (end != v && *end == '\0' && n >= 1 && n <= 255)
            return (int)n;
        if (strcasecmp(v, "critical") == 0 || strcasecmp(v, "high") == 0)
            return 1;
        if (strcasecmp(v, "medium") == 0)
            return 2;
        if (strcasecmp(v, "low") == 0 || strcasecmp(v, "info") == 0)
            return 3;
    }
    return 2;
}

static json_t *alert_record(const json_t *fileinfo_rec, const struct vfile *f, const json_t *m)
{
    json_t *a = json_deep_copy(fileinfo_rec);
    if (a == NULL)
        return NULL;
    json_object_set_new(a, "event_type", json_string("alert"));
    eve_set_uint(a, "tx_id", f->tx_id);
    const char *rule = json_string_value(json_object_get(m, "rule"));
    const json_t *meta = json_object_get(m, "meta");
    const char *cat = json_string_value(json_object_get(meta, "category"));
    if (cat == NULL)
        cat = json_string_value(json_object_get(meta, "description"));
    json_t *al = json_object();
    json_object_set_new(al, "action", json_string("allowed"));
    eve_set_uint(al, "gid", 1);
    eve_set_uint(al, "signature_id", file_yara_sid(rule ? rule : ""));
    eve_set_uint(al, "rev", 1);
    char sig[512];
    snprintf(sig, sizeof(sig), "YARA %s", rule ? rule : "");
    json_object_set_new(al, "signature", json_string(sig));
    json_object_set_new(al, "category", json_string(cat ? cat : "YARA match"));
    json_object_set_new(al, "severity", json_integer(alert_severity(meta)));
    json_object_set_new(al, "metadata", alert_metadata(m));
    /* "alert" right after the header, as in Suricata's records. */
    json_object_set_new(a, "alert", al);
    return a;
}

json_t *eve_fileinfo_records(struct vfile *f, json_t **alerts)
{
    *alerts = json_array();
    json_t *rec = f->record;
    json_t *fi = eve_fileinfo_object(f);
    if (rec == NULL || fi == NULL || *alerts == NULL) {
        json_decref(fi);
        return NULL;
    }
    json_object_set_new(rec, "event_type", json_string("fileinfo"));
    if (f->app_proto[0] != '\0')
        json_object_set_new(rec, "app_proto", json_string(f->app_proto));
    json_object_set_new(rec, "fileinfo", fi);
    size_t i;
    json_t *m;
    json_array_foreach(f->yara, i, m)
    {
        json_t *a = alert_record(rec, f, m);
        if (a != NULL)
            json_array_append_new(*alerts, a);
    }
    return rec;
}
