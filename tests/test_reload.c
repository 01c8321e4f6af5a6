/* test_reload.c: SIGUSR2 swaps in a new ruleset while packets flow; a broken one is refused. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pktgen.h"
#include "testutil.h"

#define T0 1714521600000000ULL

static void write_rules(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void send_udp(struct pg_writer *w, uint64_t ts, unsigned i)
{
    struct pg g;
    char src[32];
    snprintf(src, sizeof(src), "10.0.%u.%u", i / 250, 1 + i % 250);
    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, src, "10.9.9.9", 17, 1, 0);
    pg_udp(&g, 1234, 5678);
    pg_bytes(&g, "AAAA BBBB", 9);
    pg_finish(&g);
    pg_write(w, ts, &g);
    pg_flush(w);
}

/* Counts lines of path containing needle, stats records (which list rules) aside. */
static unsigned count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    unsigned n = 0;
    while (getline(&line, &cap, f) > 0)
        n += strstr(line, needle) != NULL && strstr(line, "\"event_type\":\"stats\"") == NULL;
    free(line);
    fclose(f);
    return n;
}

/* Waits up to 20 s for cond to hold, feeding a packet every 20 ms so the sensor polls. */
#define WAIT_FOR(cond, w, ts, i)                                                                   \
    do {                                                                                           \
        for (int tries_ = 0; !(cond) && tries_ < 1000; tries_++) {                                 \
            send_udp(w, ts += 2000000, i++);                                                       \
            usleep(20000);                                                                         \
        }                                                                                          \
        cr_assert(cond, "timed out waiting for " #cond);                                           \
    } while (0)

Test(reload, sigusr2_swaps_rules_without_stopping, .timeout = 120)
{
    signal(SIGPIPE, SIG_IGN);
    char *dir = tu_tmpdir();
    char rules[4200], fifo[4200], eve[4200], err[4200];
    snprintf(rules, sizeof(rules), "%s/r.rules", dir);
    snprintf(fifo, sizeof(fifo), "%s/in.pcap", dir);
    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    snprintf(err, sizeof(err), "%s/stderr.txt", dir);
    write_rules(rules, "alert udp any any -> any any (msg:\"A\"; content:\"AAAA\"; sid:1;)\n");
    cr_assert_eq(mkfifo(fifo, 0600), 0);

    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        execl(tu_env("VIGIL_SENSOR"), "vigil-sensor", "-r", fifo, "-S", rules, "-l", dir, "--set",
              "detect.cache-dir=none", "--threads", "2", (char *)NULL);
        _exit(127);
    }
    struct pg_writer *w = pg_open(fifo, 1 /* DLT_EN10MB */, 0);
    cr_assert_not_null(w);
    uint64_t ts = T0;
    unsigned i = 0;
    /* Phase one: 20 packets, 2 s apart so each reaches its worker at once. */
    for (; i < 20; i++)
        send_udp(w, ts += 2000000, i);
    WAIT_FOR(count_lines(eve, "\"signature_id\":1,") >= 20, w, ts, i);
    unsigned before = i;

    /* Phase two: a new rule, then SIGUSR2. */
    write_rules(rules, "alert udp any any -> any any (msg:\"A\"; content:\"AAAA\"; sid:1;)\n"
                       "alert udp any any -> any any (msg:\"B\"; content:\"BBBB\"; sid:2;)\n");
    cr_assert_eq(kill(pid, SIGUSR2), 0);
    WAIT_FOR(count_lines(err, "rules reloaded") >= 1, w, ts, i);
    unsigned swapped = i;
    for (unsigned k = 0; k < 20; k++, i++)
        send_udp(w, ts += 2000000, i);
    WAIT_FOR(count_lines(eve, "\"signature_id\":2,") >= 20, w, ts, i);

    /* Phase three: the rule file disappears; the reload fails and the old rules stay. */
    cr_assert_eq(unlink(rules), 0);
    cr_assert_eq(kill(pid, SIGUSR2), 0);
    WAIT_FOR(count_lines(err, "rule reload failed") >= 1, w, ts, i);
    unsigned b_before = count_lines(eve, "\"signature_id\":2,");
    for (unsigned k = 0; k < 10; k++, i++)
        send_udp(w, ts += 2000000, i);
    pg_close(w);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the sensor exited badly");

    unsigned a = count_lines(eve, "\"signature_id\":1,");
    unsigned b = count_lines(eve, "\"signature_id\":2,");
    cr_assert_eq(a, i, "every packet alerted on sid 1, before, during and after the reloads");
    cr_assert_geq(b, b_before + 10, "the rules in force survived the failed reload");
    cr_assert_leq(b, i - before, "no sid 2 alert before the reload");
    cr_assert_geq(b, i - swapped, "sid 2 alerts for every packet after the swap");
    cr_assert_eq(count_lines(err, "rules reloaded"), 1);
    char cmd[8500];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    free(dir);
}
