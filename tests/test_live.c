/* test_live.c: --af-packet on a veth pair between two network namespaces, fed by tcpreplay. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* The namespaces of this process: vigil-t-PID-N-a holds the sensor's end, -b tcpreplay's. */
static char ns_a[64], ns_b[64];
static unsigned ns_seq;

/* Runs a shell command line; returns its exit status (-1 if it did not exit). */
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Removes namespaces an earlier run of this test left behind (its process is gone). */
static void remove_stale(void)
{
    FILE *f = popen("ip netns list 2>/dev/null", "r");
    if (f == NULL)
        return;
    char line[256];
    while (fgets(line, sizeof(line), f) != NULL) {
        long pid;
        char name[128];
        if (sscanf(line, "%127s", name) != 1 || strncmp(name, "vigil-t-", 8) != 0)
            continue;
        pid = strtol(name + 8, NULL, 10);
        if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue; /* its test is still running */
        sh("ip netns del %s 2>/dev/null", name);
    }
    pclose(f);
}

static void skip_unless_possible(void)
{
    if (geteuid() != 0)
        cr_skip_test("needs root (network namespaces and AF_PACKET)");
    if (sh("ip netns list >/dev/null 2>&1") != 0)
        cr_skip_test("ip netns is not available");
    if (sh("command -v tcpreplay >/dev/null 2>&1") != 0)
        cr_skip_test("tcpreplay is not installed");
}

static void netns_teardown(void);

/* Creates the namespace pair joined by veth: vg0 in ns_a, vg1 in ns_b, both up, no IPv6 chatter. */
static void netns_setup(void)
{
    skip_unless_possible();
    remove_stale();
    snprintf(ns_a, sizeof(ns_a), "vigil-t-%ld-%u-a", (long)getpid(), ns_seq);
    snprintf(ns_b, sizeof(ns_b), "vigil-t-%ld-%u-b", (long)getpid(), ns_seq);
    ns_seq++;
    /* A container may allow root but not namespaces or veth: that is a skip, not a failure. */
    if (sh("ip netns add %s 2>/dev/null", ns_a) != 0) {
        ns_a[0] = ns_b[0] = '\0';
        cr_skip_test("cannot create network namespaces here");
    }
    if (sh("ip netns add %s 2>/dev/null", ns_b) != 0 ||
        sh("ip link add vg0 netns %s type veth peer name vg1 netns %s 2>/dev/null", ns_a, ns_b) !=
            0) {
        netns_teardown();
        cr_skip_test("cannot create a veth pair between namespaces here");
    }
    const char *ns[2] = {ns_a, ns_b};
    for (int i = 0; i < 2; i++) {
        sh("ip netns exec %s sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
           "net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1",
           ns[i]);
        cr_assert_eq(sh("ip -n %s link set vg%d up", ns[i], i), 0);
    }
}

static void netns_teardown(void)
{
    if (ns_a[0])
        sh("ip netns del %s 2>/dev/null", ns_a);
    if (ns_b[0])
        sh("ip netns del %s 2>/dev/null", ns_b);
    ns_a[0] = ns_b[0] = '\0';
}

/* Starts the sensor in ns_a with extra arguments (NULL-terminated); stderr to dir/stderr.txt. */
static pid_t start_sensor(const char *dir, const char *const *extra)
{
    const char *argv[40];
    unsigned n = 0;
    argv[n++] = "ip";
    argv[n++] = "netns";
    argv[n++] = "exec";
    argv[n++] = ns_a;
    argv[n++] = tu_env("VIGIL_SENSOR");
    argv[n++] = "--af-packet";
    argv[n++] = "vg0";
    argv[n++] = "-l";
    argv[n++] = dir;
    for (unsigned i = 0; extra[i] != NULL && n < 39; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    char err[4200];
    snprintf(err, sizeof(err), "%s/stderr.txt", dir);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        execvp("ip", (char *const *)argv);
        _exit(127);
    }
    /* Ready once the EVE file exists: the sockets are open by then. */
    char eve[4200];
    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    for (int i = 0; i < 200 && access(eve, F_OK) != 0; i++) {
        cr_assert_eq(waitpid(pid, NULL, WNOHANG), 0, "the sensor exited early");
        usleep(50000);
    }
    cr_assert_eq(access(eve, F_OK), 0, "the sensor did not start");
    usleep(200000);
    return pid;
}

static int stop_sensor(pid_t pid)
{
    kill(pid, SIGTERM);
    int st;
    for (int i = 0; i < 300; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    cr_assert_fail("the sensor did not stop within 15 s of SIGTERM");
    return -1;
}

/* Replays pcap into vg1 from ns_b; returns the packets tcpreplay sent. */
static long replay(const char *pcap, const char *opts)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "ip netns exec %s tcpreplay -i vg1 %s %s 2>&1", ns_b, opts, pcap);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    char line[512];
    long sent = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        const char *s = strstr(line, "Successful packets:");
        if (s != NULL)
            sent = strtol(s + strlen("Successful packets:"), NULL, 10);
    }
    cr_assert_eq(pclose(f), 0, "tcpreplay failed");
    cr_assert_gt(sent, 0);
    return sent;
}

/* Packets veth dropped on the way from vg1 to vg0 (the receiving backlog was full). */
static long long veth_drops(void)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "ip netns exec %s cat /sys/class/net/vg1/statistics/tx_dropped",
             ns_b);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    long long n = -1;
    if (fscanf(f, "%lld", &n) != 1)
        n = -1;
    pclose(f);
    cr_assert_geq(n, 0, "cannot read vg1's tx_dropped");
    return n;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return strdup("");
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Reads a "Key:\tHEX" line of /proc/PID/status. */
static unsigned long long proc_status_hex(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    unsigned long long v = ~0ULL;
    size_t kl = strlen(key);
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, key, kl) == 0 && line[kl] == ':')
            v = strtoull(line + kl + 1, NULL, 16);
    fclose(f);
    return v;
}

static long proc_status_uid(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    long uid = -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "Uid:", 4) == 0)
            uid = strtol(line + 4, NULL, 10);
    fclose(f);
    return uid;
}

static const char *const expected_sids[] = {"9000001", "9000010", "9000011",
                                            "9000020", "9000021", "9000030"};

static void check_alerts(const struct tu_events *ev, const char *what)
{
    for (unsigned i = 0; i < sizeof(expected_sids) / sizeof(expected_sids[0]); i++) {
        json_t *a = tu_find(ev, "alert", "alert.signature_id", expected_sids[i]);
        cr_expect_not_null(a, "%s: no alert for sid %s", what, expected_sids[i]);
        if (a != NULL)
            cr_expect_str_eq(tu_str(a, "in_iface"), "vg0");
    }
}

TestSuite(live, .init = netns_setup, .fini = netns_teardown, .timeout = 60);

/*
 * The quick start capture replayed over veth: every rule alerts, as in the file replay; the
 * sensor runs as nobody with no capability; SIGHUP reopens the log after a rotation; SIGTERM
 * flushes flows and writes the final stats with the kernel's counters.
 */
Test(live, alerts_privileges_rotation_and_stop)
{
    char *dir = tu_tmpdir();
    struct passwd *pw = getpwnam("nobody");
    cr_assert_not_null(pw);
    cr_assert_eq(chown(dir, pw->pw_uid, pw->pw_gid), 0);
    char rules[4200];
    snprintf(rules, sizeof(rules), "%s/rules/vigil.rules", tu_env("VIGIL_SOURCE_DIR"));
    const char *extra[] = {"--threads", "2",       "-S",      rules,   "--user",
                           "nobody",    "--group", "nogroup", "--set", "stats.interval=1",
                           NULL};
    pid_t pid = start_sensor(dir, extra);

    /* Only the capture sockets were opened as root; now nothing privileged is left. */
    cr_expect_eq(proc_status_uid(pid), (long)pw->pw_uid);
    cr_expect_eq(proc_status_hex(pid, "CapEff"), 0ULL, "CapEff is not 0");
    cr_expect_eq(proc_status_hex(pid, "CapPrm"), 0ULL, "CapPrm is not 0");

    long sent = replay(tu_pcap("attack-chain.pcap"), "--topspeed");
    usleep(1500000);

    /* logrotate: move the file, SIGHUP, and the sensor writes a new one. */
    char eve[4200], rotated[4200];
    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    snprintf(rotated, sizeof(rotated), "%s/eve.json.1", dir);
    cr_assert_eq(rename(eve, rotated), 0);
    kill(pid, SIGHUP);
    for (int i = 0; i < 100 && access(eve, F_OK) != 0; i++)
        usleep(50000);
    cr_assert_eq(access(eve, F_OK), 0, "SIGHUP did not reopen eve.json");
    long sent2 = replay(tu_pcap("attack-chain.pcap"), "--topspeed");
    usleep(1500000);

    int rc = stop_sensor(pid);
    char errpath[4200];
    snprintf(errpath, sizeof(errpath), "%s/stderr.txt", dir);
    char *err = slurp(errpath);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
    cr_expect_null(strstr(err, "warning: running as root"), "warned although --user was given");

    struct tu_events before = tu_read_eve(rotated);
    struct tu_events after = tu_read_eve(eve);
    check_alerts(&before, "before rotation");
    check_alerts(&after, "after rotation");
    /* Flows still open at SIGTERM end as shutdown flow records; the stats record comes last. */
    cr_expect_gt(tu_count(&after, "flow", NULL, NULL), 0);
    cr_assert_gt(after.n, 0);
    json_t *last = after.ev[after.n - 1];
    cr_assert_str_eq(tu_str(last, "event_type"), "stats", "the last record is not the final stats");
    long long kp = tu_int(last, "stats.capture.kernel_packets");
    long long kd = tu_int(last, "stats.capture.kernel_drops");
    long long dec = tu_int(last, "stats.decoder.pkts");
    cr_expect_eq(kp, sent + sent2, "kernel_packets %lld, sent %ld", kp, sent + sent2);
    cr_expect_eq(kd, 0);
    cr_expect_eq(dec, kp - kd);
    cr_log_info("live: %ld packets sent, %lld kernel packets, %lld drops, %zu alerts", sent + sent2,
                kp, kd,
                tu_count(&before, "alert", NULL, NULL) + tu_count(&after, "alert", NULL, NULL));
    tu_events_free(&before);
    tu_events_free(&after);
    free(err);
    tu_rmdir(dir);
    free(dir);
}

/*
 * A ring far too small for a flood at full speed: whatever the kernel drops is reported, and
 * kernel_packets = packets sent = packets decoded + kernel_drops. Run as root without --user,
 * the sensor warns.
 */
Test(live, drops_are_accounted)
{
    char *dir = tu_tmpdir();
    const char *extra[] = {"--threads", "2", "--set", "af-packet.ring-size=4", "--set",
                           "af-packet.block-size=4096", "--set", "outputs.eve.types.flow=no",
                           /* The capture holds IPv4 fragments, which the kernel would join
                            * before fanout and then count once per datagram. */
                           "--set", "af-packet.defrag=no", NULL};
    pid_t pid = start_sensor(dir, extra);
    long sent = replay(tu_pcap("many-flows.pcap"), "--topspeed --loop=20");
    usleep(1500000);
    int rc = stop_sensor(pid);
    char errpath[4200], eve[4200];
    snprintf(errpath, sizeof(errpath), "%s/stderr.txt", dir);
    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    char *err = slurp(errpath);
    cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
    cr_expect_not_null(strstr(err, "warning: running as root"), "no warning: %s", err);
    struct tu_events ev = tu_read_eve(eve);
    json_t *st = tu_stats(&ev);
    cr_assert_not_null(st);
    long long kp = tu_int(st, "stats.capture.kernel_packets");
    long long kd = tu_int(st, "stats.capture.kernel_drops");
    long long dec = tu_int(st, "stats.decoder.pkts");
    /* Before the socket: veth drops what the receiving side's backlog cannot take. */
    long long vd = veth_drops();
    cr_log_info("live flood: %ld sent, %lld lost in veth, %lld kernel packets, %lld drops, %lld "
                "decoded",
                sent, vd, kp, kd, dec);
    cr_expect_eq(kp + vd, sent, "kernel_packets %lld + veth drops %lld, sent %ld", kp, vd, sent);
    cr_expect_gt(kd, 0, "the tiny ring dropped nothing");
    cr_expect_eq(dec + kd, kp, "decoded %lld + dropped %lld != kernel_packets %lld", dec, kd, kp);
    tu_events_free(&ev);
    free(err);
    tu_rmdir(dir);
    free(dir);
}
