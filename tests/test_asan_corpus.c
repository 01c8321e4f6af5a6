/* test_asan_corpus.c: scripts/asan-corpus tells crashes, leaks, hangs and clean errors apart. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* A stand-in for the sanitizer build: what it does depends on the capture's name. */
static const char fake_sensor[] =
    "#!/bin/sh\n"
    "while [ $# -gt 0 ]; do [ \"$1\" = -r ] && cap=$2; shift; done\n"
    "case $(basename \"$cap\") in\n"
    "  ok*) echo 'vigil-sensor: 3 packets'; exit 0 ;;\n"
    "  bad*) echo \"vigil-sensor: $cap: unknown file format\" >&2; exit 1 ;;\n"
    "  asan*) echo '==1==ERROR: AddressSanitizer: heap-buffer-overflow' >&2; exit 86 ;;\n"
    "  ubsan*) echo 'decode.c:10:5: runtime error: shift exponent 40' >&2; exit 87 ;;\n"
    "  leak*) echo '==1==ERROR: LeakSanitizer: detected memory leaks' >&2; exit 88 ;;\n"
    "  signal*) kill -SEGV $$ ;;\n"
    "  hang*) exec sleep 60 ;;\n"
    "esac\n"
    "exit 3\n";

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    cr_assert(in != NULL && out != NULL, "copy %s to %s", from, to);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        cr_assert_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

/* Counts the files in dir whose name starts with prefix. */
static int count_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

Test(asan_corpus, classifies_every_outcome, .timeout = 120)
{
    char *dir = tu_tmpdir();
    char caps[4200], keep[4200], fake[4200], path[4400];
    snprintf(caps, sizeof(caps), "%s/caps", dir);
    snprintf(keep, sizeof(keep), "%s/keep", dir);
    snprintf(fake, sizeof(fake), "%s/fake-sensor", dir);
    cr_assert_eq(mkdir(caps, 0755), 0);
    cr_assert_eq(mkdir(keep, 0755), 0);
    FILE *f = fopen(fake, "w");
    cr_assert_not_null(f);
    fputs(fake_sensor, f);
    fclose(f);
    cr_assert_eq(chmod(fake, 0755), 0);
    /* Captures by their magic number, whatever the name: a pcap, a pcapng, one without a
     * suffix; a text file is no capture and is not run. */
    static const char *const names[] = {"ok-1.pcap",  "ok-2",      "bad.pcap",    "asan.pcap",
                                        "ubsan.pcap", "leak.pcap", "signal.pcap", "hang.pcap"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", caps, names[i]);
        copy_file(tu_pcap(i == 1 ? "tcp-sessions.pcapng" : "many-flows.pcap"), path);
    }
    snprintf(path, sizeof(path), "%s/notes.txt", caps);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("not a capture\n", f);
    fclose(f);

    char script[4200], rules[4200];
    snprintf(script, sizeof(script), "%s/scripts/asan-corpus", tu_env("VIGIL_SOURCE_DIR"));
    snprintf(rules, sizeof(rules), "%s/rules/vigil.rules", tu_env("VIGIL_SOURCE_DIR"));
    char *argv[] = {script,    "--sensor", fake,     "--timeout", "2",  "--jobs", "2",
                    "--rules", rules,      "--keep", keep,        caps, NULL};
    char *out = NULL;
    int rc = tu_run(argv, &out);
    cr_expect_eq(rc, 1, "exit %d: %s", rc, out);
    cr_expect_not_null(strstr(out, "asan-corpus: 8 captures in "), "%s", out);
    cr_expect_not_null(strstr(out, ": 2 clean, 1 rejected with a clean error, 3 crashes, 1 leaks, "
                                   "1 hangs"),
                       "%s", out);
    cr_expect_not_null(strstr(out, "  hang: "), "%s", out);
    cr_expect_eq(count_prefix(keep, "crash-"), 3);
    cr_expect_eq(count_prefix(keep, "leak-"), 1);
    cr_expect_eq(count_prefix(keep, "hang-"), 1);
    free(out);

    /* Clean captures only: exit 0. */
    char ok[4400];
    snprintf(ok, sizeof(ok), "%s/ok-1.pcap", caps);
    char *argv2[] = {script, "--sensor", fake, "--rules", rules, ok, NULL};
    rc = tu_run(argv2, &out);
    cr_expect_eq(rc, 0, "exit %d: %s", rc, out);
    cr_expect_not_null(strstr(out, ": 1 clean, 0 rejected with a clean error, 0 crashes, 0 leaks, "
                                   "0 hangs"),
                       "%s", out);
    free(out);
    tu_rmdir(dir);
    free(dir);
}
