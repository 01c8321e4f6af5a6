/* test_dist.c: the shipped sample configuration loads and runs; the systemd unit is hardened. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static const char *dist(const char *name)
{
    static char path[4200];
    snprintf(path, sizeof(path), "%s/dist/%s", tu_env("VIGIL_SOURCE_DIR"), name);
    return path;
}

Test(dist, sample_config_dumps)
{
    char cfg[4200];
    snprintf(cfg, sizeof(cfg), "%s", dist("vigil.yaml"));
    char *argv[] = {(char *)tu_env("VIGIL_SENSOR"), "-c", cfg, "--dump-config", NULL};
    char *out = NULL;
    int rc = tu_run(argv, &out);
    cr_assert_eq(rc, 0, "--dump-config failed: %s", out);
    /* The keys of issue 8 are there with their documented values. */
    cr_expect_not_null(strstr(out, "cluster-id: 99"), "%s", out);
    cr_expect_not_null(strstr(out, "block-size: 32768"));
    cr_expect_not_null(strstr(out, "ring-size: 2048"));
    cr_expect_not_null(strstr(out, "memcap: 128mb"));
    free(out);
}

/* Runs vigil-sensor ARGS... --dump-config and returns its output (exit 0 asserted). */
static char *dump(char **args)
{
    char *argv[16];
    unsigned n = 0;
    argv[n++] = (char *)tu_env("VIGIL_SENSOR");
    for (; *args != NULL && n < 14; args++)
        argv[n++] = *args;
    argv[n++] = "--dump-config";
    argv[n] = NULL;
    char *out = NULL;
    int rc = tu_run(argv, &out);
    cr_assert_eq(rc, 0, "--dump-config failed: %s", out);
    return out;
}

/* --dump-config is the effective configuration: the defaults with the file and --set on top. */
Test(dist, dump_config_is_effective)
{
    char *none[] = {NULL};
    char *out = dump(none);
    static const char *const defaults[] = {
        "\nthreads: 1\n",
        "\nflow:\n  memcap: 128mb\n  hash-size: 65536\n",
        "\ndefrag:\n  memcap: 32mb\n",
        "\nstream:\n  memcap: 64mb\n  midstream: no\n  reassembly:\n    depth: 1mb\n"
        "    policy: bsd\n",
        "\nflow-timeouts:\n  tcp:\n    new: 60\n    established: 600\n",
        "\nfiles:\n  depth: 10mb\n  memcap: 256mb\n",
        "\n  pcre:\n    match-limit: 3500\n",
        "\naf-packet:\n  ring-size: 2048\n  block-size: 32kb\n",
        "\n    filename: eve.json\n",
    };
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        cr_expect_not_null(strstr(out, defaults[i]), "no '%s' in:\n%s", defaults[i], out);

    /* The dump reads back as the same configuration. */
    char *dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof(path), "%s/dump.yaml", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(out, f);
    fclose(f);
    char *again[] = {"-c", path, NULL};
    char *out2 = dump(again);
    cr_expect_str_eq(out2, out, "the dump does not read back the same");
    free(out2);
    free(out);

    /* The file and --set override; the rest stays default. */
    char cfg[4200];
    snprintf(cfg, sizeof(cfg), "%s", dist("vigil.yaml"));
    char *over[] = {
        "-c",        cfg, "--set", "stream.reassembly.depth=2mb", "--set", "flow.memcap=1gb",
        "--threads", "3", NULL};
    out = dump(over);
    cr_expect_not_null(strstr(out, "\n    depth: 2mb"), "%s", out);
    cr_expect_null(strstr(out, "\n    depth: 1mb"), "%s", out);
    cr_expect_not_null(strstr(out, "\nflow:\n  memcap: 1gb\n"), "%s", out);
    cr_expect_not_null(strstr(out, "\nthreads: 3\n"), "%s", out);
    cr_expect_not_null(strstr(out, "cluster-id: 99"), "%s", out);       /* from the file */
    cr_expect_not_null(strstr(out, "  hash-size: 65536\n"), "%s", out); /* a default */
    free(out);
    unlink(path);
    tu_rmdir(dir);
    free(dir);
}

/* The sample works as it is: the quick start capture through it gives every rule's alert. */
Test(dist, sample_config_runs)
{
    char *dir = tu_tmpdir();
    char cfg[4200], rules[4200];
    snprintf(cfg, sizeof(cfg), "%s", dist("vigil.yaml"));
    snprintf(rules, sizeof(rules), "%s/rules/vigil.rules", tu_env("VIGIL_SOURCE_DIR"));
    struct tu_events ev;
    char *out = NULL;
    int rc = tu_sensor(dir, &ev, &out, "-c", cfg, "-S", rules, "--set", "detect.cache-dir=none",
                       "-r", tu_pcap("attack-chain.pcap"), NULL);
    cr_assert_eq(rc, 0, "%s", out);
    static const char *const sids[] = {"9000001", "9000010", "9000011",
                                       "9000020", "9000021", "9000030"};
    for (unsigned i = 0; i < 6; i++)
        cr_expect_not_null(tu_find(&ev, "alert", "alert.signature_id", sids[i]), "sid %s", sids[i]);
    tu_events_free(&ev);
    free(out);
    tu_rmdir(dir);
    free(dir);
}

Test(dist, unit_is_hardened)
{
    FILE *f = fopen(dist("vigil-sensor.service"), "r");
    cr_assert_not_null(f);
    char *text = calloc(1, 65536);
    size_t n = fread(text, 1, 65535, f);
    text[n] = '\0';
    fclose(f);
    static const char *const need[] = {
        "\nProtectSystem=strict",
        "\nProtectHome=yes",
        "\nNoNewPrivileges=yes",
        "\nPrivateTmp=yes",
        "\nSystemCallArchitectures=native",
        "\nCapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN CAP_SETUID CAP_SETGID\n",
        "\nRestrictAddressFamilies=AF_PACKET AF_UNIX AF_INET AF_INET6\n",
        "\nReadWritePaths=/var/log/vigil",
        "\nExecReload=/bin/kill -USR2 $MAINPID",
        "--user vigil",
        "--af-packet"};
    for (unsigned i = 0; i < sizeof(need) / sizeof(need[0]); i++)
        cr_expect_not_null(strstr(text, need[i]), "the unit lacks %s", need[i]);
    free(text);
}
