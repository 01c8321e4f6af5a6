/* export-json.c: an incident as one JSON document (the `show --json` view), and which observables
 * are ours (shared by the exports). */
#include <string.h>

#include "vigil/triage.h"

int texp_ours(const json_t *inc, const char *val)
{
    const char *a = json_string_value(json_object_get(inc, "asset_ip"));
    size_t i;
    json_t *m;
    if (val == NULL)
        return 0;
    if (a && strcmp(a, val) == 0)
        return 1;
    json_array_foreach(json_object_get(inc, "members"), i, m)
    {
        const char *x = json_string_value(json_object_get(m, "asset_ip"));
        if (x && strcmp(x, val) == 0)
            return 1;
    }
    json_array_foreach(json_object_get(inc, "internal_observables"), i, m)
    {
        const char *x = json_string_value(m);
        if (x && strcmp(x, val) == 0)
            return 1;
    }
    return 0;
}

int texp_json(FILE *out, const json_t *inc, char *errbuf)
{
    if (json_dumpf(inc, out, JSON_INDENT(2)) != 0 || fputc('\n', out) < 0) {
        snprintf(errbuf, TRIAGE_ERRBUF, "write failed");
        return -1;
    }
    return 0;
}
