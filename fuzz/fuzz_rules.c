/* fuzz_rules.c: libFuzzer harness for the rule parser: one input is one rule file's text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/config.h"
#include "vigil/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct config *cfg;
    static char path[64];
    if (cfg == NULL) {
        cfg = config_new();
        snprintf(path, sizeof(path), "/tmp/vigil-fuzz-rules-%ld", (long)getpid());
    }
    if (size > 64 * 1024)
        return 0;
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    const char *files[1] = {path};
    struct detect_config dc = {cfg, files, 1, NULL, NULL, NULL, 0, NULL};
    struct detect_load_report rep;
    char err[VG_ERRBUF_SIZE];
    FILE *devnull = fopen("/dev/null", "w");
    struct detect_engine *e = detect_engine_load(&dc, &rep, devnull, err);
    if (devnull != NULL)
        fclose(devnull);
    detect_engine_free(e);
    return 0;
}
