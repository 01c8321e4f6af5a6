/* test_files_ext.c: YARA on the shared corpus (signature-base, Yara-Rules): compile counts, load
 * times, EICAR. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "vigil/common.h"
#include "vigil/files.h"

/* Returns $VIGIL_SHARED/corpus/sub, or skips the test if it is absent. */
static const char *corpus(const char *sub)
{
    static __thread char path[4096];
    const char *shared = getenv("VIGIL_SHARED");
    snprintf(path, sizeof(path), "%s/corpus/%s", shared ? shared : "../shared", sub);
    struct stat sb;
    if (stat(path, &sb) != 0)
        cr_skip_test("%s is absent: extended test skipped", path);
    return path;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *recs;
static unsigned nlogs;

static void emit_cb(void *ctx, json_t *rec)
{
    pthread_mutex_lock(&lock);
    json_array_append(recs, rec);
    pthread_mutex_unlock(&lock);
}

static void log_cb(void *ctx, const char *msg)
{
    pthread_mutex_lock(&lock);
    if (nlogs++ < 5)
        fprintf(stderr, "  yara: %s\n", msg);
    pthread_mutex_unlock(&lock);
}

/* Loads dir cold then from the cache; prints the figures; scans eicar.com for rule. */
static void load_corpus(const char *name, const char *dir, const char *eicar_rule)
{
    recs = json_array();
    char *tmp = tu_tmpdir();
    char cache[4096];
    snprintf(cache, sizeof(cache), "%s/cache", tmp);
    struct file_config c;
    file_config_init(&c);
    c.emit = emit_cb;
    c.log = log_cb;
    char *rules = (char *)dir;
    c.yara_rules = &rules;
    c.n_yara_rules = 1;
    c.yara_cache_dir = cache;
    char err[VG_ERRBUF_SIZE];
    struct file_rules_info info[2];
    for (int round = 0; round < 2; round++) {
        nlogs = 0;
        struct file_engine *e = file_engine_new(&c, err);
        cr_assert_not_null(e, "%s", err);
        file_engine_rules_info(e, &info[round]);
        if (round == 1) {
            char p[4096];
            snprintf(p, sizeof(p), "%s", corpus("file-samples/eicar.com"));
            FILE *fp = fopen(p, "rb");
            cr_assert_not_null(fp);
            uint8_t buf[256];
            size_t n = fread(buf, 1, sizeof(buf), fp);
            fclose(fp);
            struct file_thread *t = file_thread_new(e, err);
            struct file_meta m = {.app_proto = "http",
                                  .name = (const uint8_t *)"eicar.com",
                                  .name_len = 9,
                                  .record = json_object()};
            struct vfile *f = file_open(t, &m);
            file_append(f, buf, n);
            file_close(f, 0);
            file_thread_free(t);
        }
        file_engine_free(e);
    }
    printf("%s: %u rule files, %u did not compile, %u rules; load cold %.2f s, cached %.2f s\n",
           name, info[0].files, info[0].files_bad, info[0].rules, info[0].load_usec / 1e6,
           info[1].load_usec / 1e6);
    cr_assert_eq(info[1].from_cache, 1);
    cr_assert_eq(info[1].rules, info[0].rules);
    cr_assert_gt(info[0].rules, 1000);
    size_t i;
    json_t *r;
    int hit = 0;
    json_array_foreach(recs, i, r)
    {
        const char *sig =
            json_string_value(json_object_get(json_object_get(r, "alert"), "signature"));
        if (sig != NULL && strcmp(sig + 5, eicar_rule) == 0)
            hit = 1;
    }
    cr_assert(hit, "eicar.com should match %s", eicar_rule);
    json_decref(recs);
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    cr_assert_eq(system(cmd), 0);
    free(tmp);
}

Test(files_ext, signature_base, .timeout = 300)
{
    load_corpus("signature-base", corpus("yara/Neo23x0_signature-base/yara"), "SUSP_Just_EICAR");
}

Test(files_ext, yara_rules, .timeout = 300)
{
    load_corpus("Yara-Rules", corpus("yara/Yara-Rules_rules"), "eicar");
}
