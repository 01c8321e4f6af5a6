/* test_compat.c: extended: replays the shared suricata-verify tests and reports how many Vigil passes. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "testutil.h"

/* The in-scope pass rate must not fall below this (the figure in README, rounded down). */
#define MIN_SCOPE_RATE 0.80

Test(compat, suricata_verify, .timeout = 600)
{
    char suite[4200], report[4300];
    snprintf(suite, sizeof(suite), "%s/corpus/suricata-verify/tests", tu_env("VIGIL_SHARED"));
    struct stat st;
    if (stat(suite, &st) != 0)
        cr_skip_test("no shared corpus at %s", suite);
    char *dir = tu_tmpdir();
    snprintf(report, sizeof(report), "%s/compat.json", dir);
    char *const argv[] = {(char *)tu_env("VIGIL_COMPAT"), "--sensor", (char *)tu_env("VIGIL_SENSOR"),
                          "--suite", suite, "--report", report, "--tmp", dir, NULL};
    char *out = NULL;
    int rc = tu_run(argv, &out);
    json_error_t err;
    json_t *r = json_load_file(report, 0, &err);
    cr_assert_not_null(r, "no report (exit %d): %s", rc, out ? out : "");
    long long passed = json_integer_value(json_object_get(r, "passed"));
    long long failed = json_integer_value(json_object_get(r, "failed"));
    long long at = json_integer_value(json_object_get(r, "alert_total"));
    long long ap = json_integer_value(json_object_get(r, "alert_passed"));
    long long stot = json_integer_value(json_object_get(r, "scope_total"));
    long long sp = json_integer_value(json_object_get(r, "scope_passed"));
    /* A sensor that crashed (killed by a signal) is a defect whatever the test. */
    size_t i;
    json_t *t;
    unsigned crashed = 0;
    json_array_foreach(json_object_get(r, "tests"), i, t)
    {
        const char *why = json_string_value(json_object_get(t, "why"));
        if (why != NULL && strstr(why, "crashed") != NULL) {
            crashed++;
            cr_log_error("%s: %s", json_string_value(json_object_get(t, "test")), why);
        }
    }
    cr_log_info("suricata-verify: %lld passed, %lld failed; alert tests %lld/%lld; in scope %lld/%lld",
                passed, failed, ap, at, sp, stot);
    cr_assert_eq(crashed, 0, "the sensor crashed on %u tests", crashed);
    /* The http and dns record checks, field by field (docs/app-layer.md): not below today's. */
    static const struct {
        const char *type;
        long long passed, fields_agree;
    } rec_min[] = {{"http", 16, 89}, {"dns", 12, 195}};
    for (size_t k = 0; k < sizeof(rec_min) / sizeof(rec_min[0]); k++) {
        json_t *rc_t = json_object_get(json_object_get(r, "record_checks"), rec_min[k].type);
        long long c = json_integer_value(json_object_get(rc_t, "checks"));
        long long p = json_integer_value(json_object_get(rc_t, "passed"));
        long long fl = json_integer_value(json_object_get(rc_t, "fields"));
        long long fa = json_integer_value(json_object_get(rc_t, "fields_agree"));
        cr_log_info("%s record checks: %lld/%lld passed, fields %lld/%lld agree", rec_min[k].type,
                    p, c, fa, fl);
        cr_assert_geq(p, rec_min[k].passed, "%s record checks: %lld/%lld", rec_min[k].type, p, c);
        cr_assert_geq(fa, rec_min[k].fields_agree, "%s fields: %lld/%lld", rec_min[k].type, fa, fl);
    }
    cr_assert_gt(stot, 0);
    cr_assert_geq((double)sp / (double)stot, MIN_SCOPE_RATE, "in-scope pass rate %lld/%lld", sp,
                  stot);
    json_decref(r);
    free(out);
    tu_rmdir(dir);
    free(dir);
}
