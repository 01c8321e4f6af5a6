/* fuzz_triage.c: libFuzzer harness for vigil-triage: EVE ingest + correlation, and triage.yaml. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/triage.h"

static struct tdb *db;
static char eve_path[64], yaml_path[64], db_path[64];

static int write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t n = fwrite(data, 1, size, f);
    return fclose(f) == 0 && n == size ? 0 : -1;
}

/* The first byte picks the target: 'Y' the rules loader, anything else EVE lines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[TRIAGE_ERRBUF];
    struct tcfg cfg;
    if (db == NULL) {
        snprintf(eve_path, sizeof(eve_path), "/tmp/fuzz-triage-%d.json", (int)getpid());
        snprintf(yaml_path, sizeof(yaml_path), "/tmp/fuzz-triage-%d.yaml", (int)getpid());
        snprintf(db_path, sizeof(db_path), "/tmp/fuzz-triage-%d.db", (int)getpid());
        if ((db = tdb_open(db_path, err)) == NULL)
            abort();
    }
    if (tcfg_defaults(&cfg) != 0)
        return 0;
    if (size > 0 && data[0] == 'Y') {
        if (write_file(yaml_path, data + 1, size - 1) == 0)
            tcfg_load(&cfg, yaml_path, err);
    } else if (write_file(eve_path, data, size) == 0) {
        struct ting_opts o = {.batch = 64};
        struct ting_stats st = {0};
        /* a new name each time: the per-file offset must not skip the input */
        tdb_exec(db, "DELETE FROM files", NULL);
        ting_ingest(db, &cfg, eve_path, &o, &st, err);
        ting_stats_free(&st);
        long long id = tdb_scalar(db, "SELECT MAX(id) FROM incidents", NULL);
        json_t *inc = id > 0 ? tkt_json(db, id, 1) : NULL;
        if (inc != NULL) {
            FILE *null = fopen("/dev/null", "w");
            if (null != NULL) {
                texp_md(null, inc, 1, err);
                texp_stix(null, inc, err);
                texp_misp(null, inc, err);
                fclose(null);
            }
            json_decref(inc);
        }
    }
    tcfg_free(&cfg);
    return 0;
}
