/* test_dist.c: the shipped sample configuration loads and runs; the systemd unit is hardened. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Reads the unit file into a string (free it). */
static char *unit_text(void)
{
    FILE *f = fopen(dist("vigil-sensor.service"), "r");
    cr_assert_not_null(f);
    char *text = calloc(1, 65536);
    size_t n = fread(text, 1, 65535, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* Splits the value of the first "\nKEY" line of text (continuations joined) into words. */
static unsigned unit_words(const char *text, const char *key, char words[][256], unsigned max)
{
    const char *p = strstr(text, key);
    cr_assert_not_null(p, "the unit has no %s", key + 1);
    p += strlen(key);
    unsigned n = 0;
    while (*p != '\0' && *p != '\n' && n < max) {
        if (*p == ' ' || (p[0] == '\\' && p[1] == '\n')) {
            p += *p == ' ' ? 1 : 2;
            continue;
        }
        size_t len = strcspn(p, " \n");
        cr_assert_lt(len, 256);
        memcpy(words[n], p, len);
        words[n++][len] = '\0';
        p += len;
    }
    return n;
}

/* Returns the word after flag in words, or NULL. */
static const char *word_after(char words[][256], unsigned n, const char *flag)
{
    for (unsigned i = 0; i + 1 < n; i++)
        if (strcmp(words[i], flag) == 0)
            return words[i + 1];
    return NULL;
}

/*
 * The sensor opens its outputs after dropping to --user, so the directories it writes belong to
 * that user: the unit makes them so before it starts, and has no LogsDirectory= (which, without
 * User=, makes the directory root's and eve.json unopenable).
 */
Test(dist, unit_dirs_belong_to_run_user)
{
    char *text = unit_text();
    cr_expect_null(strstr(text, "\nUser="), "the unit starts as root and drops with --user");
    cr_expect_null(strstr(text, "\nLogsDirectory="), "LogsDirectory= would be root's");
    cr_expect_null(strstr(text, "\nStateDirectory="), "StateDirectory= would be root's");
    cr_expect_null(strstr(text, "\nCacheDirectory="), "CacheDirectory= would be root's");

    static char start[32][256], pre[32][256], rw[32][256];
    unsigned ns = unit_words(text, "\nExecStart=", start, 32);
    unsigned np = unit_words(text, "\nExecStartPre=", pre, 32);
    unsigned nrw = unit_words(text, "\nReadWritePaths=", rw, 32);
    const char *user = word_after(start, ns, "--user"), *group = word_after(start, ns, "--group");
    const char *logdir = word_after(start, ns, "-l");
    cr_assert_not_null(user);
    cr_assert_not_null(group);
    cr_assert_not_null(logdir);
    cr_assert_geq(np, 9);
    cr_expect_str_eq(pre[0], "+/usr/bin/install", "runs as full root, outside the sandbox");
    cr_expect_str_eq(pre[1], "-d");
    cr_expect_str_eq(word_after(pre, np, "-o"), user);
    cr_expect_str_eq(word_after(pre, np, "-g"), group);
    cr_expect_str_eq(word_after(pre, np, "-m"), "0750");
    /* Every writable path, the log directory among them, is made the run user's. */
    cr_expect_eq(np - 8, nrw, "ExecStartPre makes %u directories, ReadWritePaths has %u", np - 8,
                 nrw);
    for (unsigned i = 0; i < nrw; i++) {
        int found = 0;
        for (unsigned j = 8; j < np; j++)
            found |= strcmp(rw[i], pre[j]) == 0;
        cr_expect(found, "%s is writable but not made %s's", rw[i], user);
    }
    int logged = 0;
    for (unsigned j = 8; j < np; j++)
        logged |= strcmp(logdir, pre[j]) == 0;
    cr_expect(logged, "the log directory %s is not made %s's", logdir, user);
    free(text);
}

/*
 * As root: a root-owned log directory makes the dropped sensor fail on eve.json; the same
 * directory after the unit's ExecStartPre command (paths under a temporary directory, user
 * nobody) takes the run.
 */
Test(dist, unit_log_dir_writable_after_drop)
{
    if (geteuid() != 0)
        cr_skip_test("needs root (to drop to nobody)");
    struct passwd *pw = getpwnam("nobody");
    if (pw == NULL)
        cr_skip_test("no user nobody");
    struct group *gr = getgrgid(pw->pw_gid);
    cr_assert_not_null(gr);
    char gname[64];
    snprintf(gname, sizeof(gname), "%s", gr->gr_name);

    char *dir = tu_tmpdir();
    cr_assert_eq(chmod(dir, 0755), 0);
    char log[4200];
    snprintf(log, sizeof(log), "%s/log", dir);
    cr_assert_eq(mkdir(log, 0750), 0); /* as LogsDirectory= leaves it: root's, 0750 */
    char *out = NULL;
    char *run[] = {(char *)tu_env("VIGIL_SENSOR"),
                   "-r",
                   (char *)tu_pcap("attack-chain.pcap"),
                   "-l",
                   log,
                   "--user",
                   "nobody",
                   "--no-progress",
                   "--set",
                   "detect.cache-dir=none",
                   NULL};
    cr_expect_eq(tu_run(run, &out), 1);
    cr_expect_not_null(strstr(out, "eve.json: Permission denied"), "%s", out);
    free(out);

    char *text = unit_text();
    static char pre[32][256];
    unsigned np = unit_words(text, "\nExecStartPre=", pre, 32);
    free(text);
    cr_assert_geq(np, 9);
    char *inst[10];
    for (unsigned i = 0; i < 8; i++)
        inst[i] = pre[i];
    inst[0]++; /* the "+" */
    inst[3] = "nobody";
    inst[5] = gname;
    inst[8] = log;
    inst[9] = NULL;
    cr_assert_eq(tu_run(inst, &out), 0, "%s", out);
    free(out);
    struct stat st;
    cr_assert_eq(stat(log, &st), 0);
    cr_expect_eq(st.st_uid, pw->pw_uid);
    cr_expect_eq(st.st_mode & 07777, 0750);
    cr_expect_eq(tu_run(run, &out), 0, "%s", out);
    free(out);
    char eve[4300];
    snprintf(eve, sizeof(eve), "%s/eve.json", log);
    struct tu_events ev = tu_read_eve(eve);
    cr_expect_gt(ev.n, 0);
    tu_events_free(&ev);
    tu_rmdir(log);
    tu_rmdir(dir);
    free(dir);
}
