/* fuzz_config.c: libFuzzer harness for the YAML configuration loader, lookups and dump. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/common.h"
#include "vigil/config.h"

static const char *const keys[] = {
    "flow.memcap",
    "flow.hash-size",
    "defrag.policy",
    "vars.address-groups.HOME_NET",
    "outputs.0.eve-log.enabled",
    "rule-files.1",
    "a",
    "a.b.c",
    "0",
    "",
    ".",
    "a..b",
    "a.",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* the loader reads up to the first NUL */

    struct config *c = config_new();
    if (c == NULL) {
        free(text);
        return 0;
    }
    char err[VG_ERRBUF_SIZE];
    config_load_string(c, text, "fuzz", err);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const struct config_node *n = config_lookup(c, keys[i]);
        const char *v = config_get(c, keys[i]);
        if (v != NULL && (n == NULL || n->type != CONFIG_SCALAR)) {
            fprintf(stderr, "fuzz_config: config_get and config_lookup disagree on %s\n", keys[i]);
            abort();
        }
        int b;
        uint64_t u;
        config_get_bool(c, keys[i], 0, &b, err);
        config_get_uint(c, keys[i], 0, UINT64_MAX, &u, err);
        config_get_size(c, keys[i], 0, &u, err);
    }
    static FILE *devnull;
    if (devnull == NULL)
        devnull = fopen("/dev/null", "w");
    if (devnull != NULL)
        config_dump(c, devnull);
    config_free(c);
    free(text);
    return 0;
}
