/* test_extended.c: runs on the third-party corpus in ../shared when it is there, else skips. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

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

struct list {
    char **v;
    size_t n;
};

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Collects capture files under dir, recursively, in name order. */
static void collect(const char *dir, struct list *l)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        struct stat sb;
        if (name[0] != '.' && stat(path, &sb) == 0) {
            if (S_ISDIR(sb.st_mode))
                collect(path, l);
            else if (has_suffix(name, ".pcap") || has_suffix(name, ".pcapng") ||
                     has_suffix(name, ".cap")) {
                l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
                l->v[l->n++] = strdup(path);
            }
        }
        free(ents[i]);
    }
    if (n >= 0)
        free(ents);
}

static void list_free(struct list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* A run failed if it died, hung, or a sanitizer spoke. */
static int run_failed(int rc, const char *out)
{
    return rc < 0 || rc == 124 || rc > 1 || strstr(out, "AddressSanitizer") != NULL ||
           strstr(out, "runtime error:") != NULL || strstr(out, "LeakSanitizer") != NULL;
}

/* Runs the sensor over files[from..to) in one process, under a time limit. */
static int run_batch(struct list *l, size_t from, size_t to, char **out)
{
    char *dir = tu_tmpdir();
    size_t max = 8 + 2 * (to - from);
    char **argv = calloc(max, sizeof(*argv));
    size_t n = 0;
    argv[n++] = "/usr/bin/timeout";
    argv[n++] = "300";
    argv[n++] = (char *)tu_env("VIGIL_SENSOR");
    argv[n++] = "-l";
    argv[n++] = dir;
    for (size_t i = from; i < to; i++) {
        argv[n++] = "-r";
        argv[n++] = l->v[i];
    }
    argv[n] = NULL;
    int rc = tu_run(argv, out);
    free(argv);
    tu_rmdir(dir);
    free(dir);
    return rc;
}

/* Runs every capture of l; on a failing batch, runs its files one by one to name the culprit. */
static void run_all(struct list *l, const char *what)
{
    size_t failures = 0;
    const size_t batch = 100;
    for (size_t from = 0; from < l->n; from += batch) {
        size_t to = from + batch < l->n ? from + batch : l->n;
        char *out = NULL;
        int rc = run_batch(l, from, to, &out);
        int bad = run_failed(rc, out);
        free(out);
        if (!bad)
            continue;
        for (size_t i = from; i < to; i++) {
            rc = run_batch(l, i, i + 1, &out);
            if (run_failed(rc, out)) {
                failures++;
                cr_log_error("%s: exit %d\n%.2000s", l->v[i], rc, out);
            }
            free(out);
        }
    }
    cr_log_info("%s: %zu captures, %zu failures", what, l->n, failures);
    cr_assert_eq(failures, 0, "%zu of %zu %s captures crashed, hung or tripped a sanitizer",
                 failures, l->n, what);
}

Test(extended, malformed_corpus_never_crashes, .timeout = 1800)
{
    struct list l = {NULL, 0};
    collect(corpus("pcaps/malformed"), &l);
    cr_assert_gt(l.n, 100);
    run_all(&l, "malformed");
    list_free(&l);
}

Test(extended, real_captures_never_crash, .timeout = 1800)
{
    static const char *const dirs[] = {"pcaps/chrissanders_packets", "pcaps/mmguero-dev_Malcolm-PCAP",
                                       "pcaps/StopDDoS_packet-captures", "pcaps/sbousseaden_PCAP-ATTACK"};
    struct list l = {NULL, 0};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        collect(corpus(dirs[i]), &l);
    cr_assert_gt(l.n, 10);
    run_all(&l, "real");
    list_free(&l);
}

/* Reads the community IDs tshark computes for pcap's TCP/UDP/ICMP packets into a sorted list. */
static struct list tshark_ids(const char *pcap)
{
    struct list l = {NULL, 0};
    char cmd[8192];
    snprintf(cmd, sizeof(cmd),
             "tshark -r '%s' --enable-protocol communityid -Y '(tcp or udp or icmp or icmpv6) "
             "and not ip.flags.mf == 1 and not (ip.frag_offset > 0)' -T fields -e communityid "
             "2>/dev/null | sort -u",
             pcap);
    FILE *p = popen(cmd, "r");
    char line[256];
    while (p && fgets(line, sizeof(line), p) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0')
            continue;
        l.v = realloc(l.v, (l.n + 1) * sizeof(*l.v));
        l.v[l.n++] = strdup(line);
    }
    if (p)
        pclose(p);
    return l;
}

static int in_list(const struct list *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return 1;
    return 0;
}

Test(extended, community_id_agrees_with_tshark, .timeout = 600)
{
    if (system("command -v tshark >/dev/null 2>&1") != 0)
        cr_skip_test("tshark is not installed");
    static const char *const files[] = {"http_google.pcapng", "dns.pcap", "tcp_handshake.pcapng",
                                        "icmp_echo.pcapng",   "http_ip4and6.pcapng",
                                        "synscan.pcapng",     "udp_dnsrequest.pcapng"};
    const char *dir = corpus("pcaps/chrissanders_packets");
    size_t checked = 0;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char pcap[4096];
        snprintf(pcap, sizeof(pcap), "%s/%s", dir, files[i]);
        struct list ids = tshark_ids(pcap);
        char *out = tu_tmpdir();
        struct tu_events e;
        cr_assert_eq(tu_sensor(out, &e, NULL, "-r", pcap, NULL), 0);
        size_t flows = 0;
        for (size_t j = 0; j < e.n; j++) {
            const char *cid = tu_str(e.ev[j], "community_id");
            const char *proto = tu_str(e.ev[j], "proto");
            if (cid == NULL || strcmp(tu_str(e.ev[j], "event_type"), "flow") != 0 || proto == NULL)
                continue;
            if (strcmp(proto, "TCP") && strcmp(proto, "UDP") && strcmp(proto, "ICMP") &&
                strcmp(proto, "IPv6-ICMP"))
                continue;
            cr_assert(in_list(&ids, cid), "%s: flow %s:%lld -> %s:%lld has Community ID %s, "
                                          "which tshark never computed",
                      files[i], tu_str(e.ev[j], "src_ip"), tu_int(e.ev[j], "src_port"),
                      tu_str(e.ev[j], "dest_ip"), tu_int(e.ev[j], "dest_port"), cid);
            flows++;
        }
        checked += flows;
        tu_events_free(&e);
        tu_rmdir(out);
        free(out);
        list_free(&ids);
    }
    cr_log_info("community_id: %zu flows agree with tshark", checked);
    cr_assert_gt(checked, 10);
}
