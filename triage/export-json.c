/* export-json.c: an incident as one JSON document (the `show --json` view, for scripts). */
#include "vigil/triage.h"

int texp_json(FILE *out, const json_t *inc, char *errbuf)
{
    if (json_dumpf(inc, out, JSON_INDENT(2)) != 0 || fputc('\n', out) < 0) {
        snprintf(errbuf, TRIAGE_ERRBUF, "write failed");
        return -1;
    }
    return 0;
}
