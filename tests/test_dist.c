/* test_dist.c: the shipped sample configuration loads and runs; the systemd unit is hardened. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
