/* fuzz_hashlist.c: libFuzzer harness for the filemd5/filesha1/filesha256 hash-list reader. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/config.h"
#include "vigil/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input is one hash-list file, read by a rule of each kind. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct config *cfg;
    static char list[64], rules[64];
    if (cfg == NULL) {
        cfg = config_new();
        snprintf(list, sizeof(list), "/tmp/vigil-fuzz-hashes-%ld", (long)getpid());
        snprintf(rules, sizeof(rules), "/tmp/vigil-fuzz-hashrules-%ld", (long)getpid());
        FILE *r = fopen(rules, "w");
        if (r == NULL)
            return 0;
        fprintf(r,
                "alert http any any -> any any (filemd5:%s; sid:1;)\n"
                "alert http any any -> any any (filesha1:!%s; sid:2;)\n"
                "alert http any any -> any any (filesha256:%s; filesize:>1; sid:3;)\n",
                list, list, list);
        fclose(r);
    }
    if (size > 256 * 1024)
        return 0;
    FILE *f = fopen(list, "wb");
    if (f == NULL)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    const char *files[1] = {rules};
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
