/* test_ftp_files.c: FTP sessions through the sensor: ftp-data files (passive and active, RETR
 * and STOR) with exact hashes, truncation, rules on ftp-data, and the shared captures. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pktgen.h"
#include "testutil.h"

/* The test files: a linear congruential sequence, so their hashes are fixed below. */
static uint8_t *content(size_t n, uint32_t seed)
{
    uint8_t *b = malloc(n);
    cr_assert_not_null(b);
    uint32_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x = (x * 1103515245u + 12345u) & 0x7fffffffu;
        b[i] = (uint8_t)(x >> 16);
    }
    return b;
}

static void write_session(const char *path, const struct pg_ftp *f, int ipv6)
{
    struct pg_writer *w = pg_open(path, 1, 0);
    cr_assert_not_null(w);
    uint64_t ts = 1700000000000000ull;
    struct pg_ftp g = *f;
    if (g.cli == NULL) {
        g.cli = ipv6 ? "2001:db8::10" : "192.0.2.10";
        g.srv = ipv6 ? "2001:db8::21" : "198.51.100.21";
    }
    if (g.cport == 0)
        g.cport = 40000;
    pg_ftp_session(w, &g, &ts);
    pg_close(w);
}

static void run(const char *dir, const char *pcap, struct tu_events *e, const char *rules)
{
    char *out = NULL;
    int rc = rules != NULL ? tu_sensor(dir, e, &out, "-r", pcap, "-S", rules, NULL)
                           : tu_sensor(dir, e, &out, "-r", pcap, NULL);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
}

static json_t *one_file(const char *name, const struct pg_ftp *f, int ipv6, struct tu_events *e)
{
    char *dir = tu_tmpdir();
    char pcap[4200];
    snprintf(pcap, sizeof(pcap), "%s/%s.pcap", dir, name);
    write_session(pcap, f, ipv6);
    run(dir, pcap, e, NULL);
    cr_assert_eq(tu_count(e, "fileinfo", NULL, NULL), 1);
    free(dir);
    return tu_find(e, "fileinfo", NULL, NULL);
}

static const char *SHA_5000 = "7594b687d7316e4140c522b6e230cf453e0e2ebc045548cd2ea2153ef11abc09";
static const char *MD5_5000 = "2aa0f14af5c705b7ba302974b168f625";
static const char *SHA_20000 = "59f812265b11a3b1ed11f08d7823f4344e951fcbf3a1a526865fdf9c11590eb4";
static const char *MD5_20000 = "5de20aa949ba8835d75cbefad07213c9";

Test(ftp_files, passive_retr)
{
    uint8_t *b = content(5000, 1);
    struct pg_ftp f = {
        .data_port = 50000, .command = "RETR", .name = "/pub/report.pdf", .data = b, .len = 5000};
    struct tu_events e;
    json_t *fi = one_file("retr", &f, 0, &e);
    cr_assert_str_eq(tu_str(fi, "app_proto"), "ftp-data");
    cr_assert_str_eq(tu_str(fi, "fileinfo.filename"), "/pub/report.pdf");
    cr_assert_str_eq(tu_str(fi, "fileinfo.state"), "CLOSED");
    cr_assert_eq(tu_int(fi, "fileinfo.size"), 5000);
    cr_assert_str_eq(tu_str(fi, "fileinfo.md5"), MD5_5000);
    cr_assert_str_eq(tu_str(fi, "fileinfo.sha256"), SHA_5000);
    cr_assert_eq(tu_int(fi, "fileinfo.tx_id"), 0);
    cr_assert_str_eq(tu_str(fi, "ftp_data.filename"), "/pub/report.pdf");
    cr_assert_str_eq(tu_str(fi, "ftp_data.command"), "RETR");
    /* The record follows the data connection: client to the announced port. */
    cr_assert_str_eq(tu_str(fi, "src_ip"), "198.51.100.21");
    cr_assert_eq(tu_int(fi, "dest_port"), 40001);
    cr_assert_eq(tu_count(&e, "ftp_data", "ftp_data.command", "RETR"), 1);
    cr_assert_eq(tu_count(&e, "flow", "app_proto", "ftp-data"), 1);
    cr_assert_eq(tu_count(&e, "flow", "app_proto", "ftp"), 1);
    json_t *retr = tu_find(&e, "ftp", "ftp.command", "RETR");
    cr_assert_not_null(retr);
    cr_assert_eq(tu_int(retr, "ftp.dynamic_port"), 50000);
    cr_assert_str_eq(tu_str(retr, "ftp.mode"), "passive");
    cr_assert_eq(json_array_size(tu_get(retr, "ftp.completion_code")), 2);
    cr_assert_eq(tu_count(&e, "ftp", NULL, NULL),
                 7); /* greeting, USER, PASS, TYPE, PASV, RETR, QUIT */
    json_t *st = tu_stats(&e);
    cr_assert_eq(tu_int(st, "stats.app_layer.expectations.added"), 1);
    cr_assert_eq(tu_int(st, "stats.app_layer.expectations.matched"), 1);
    cr_assert_eq(tu_int(st, "stats.app_layer.flow.ftp-data"), 1);
    tu_events_free(&e);
    free(b);
}

Test(ftp_files, active_stor)
{
    uint8_t *b = content(20000, 2);
    struct pg_ftp f = {.active = 1,
                       .data_port = 1025,
                       .command = "STOR",
                       .name = "up/a b.bin",
                       .data = b,
                       .len = 20000};
    struct tu_events e;
    json_t *fi = one_file("stor", &f, 0, &e);
    cr_assert_str_eq(tu_str(fi, "fileinfo.filename"), "up/a b.bin");
    cr_assert_str_eq(tu_str(fi, "fileinfo.state"), "CLOSED");
    cr_assert_eq(tu_int(fi, "fileinfo.size"), 20000);
    cr_assert_str_eq(tu_str(fi, "fileinfo.md5"), MD5_20000);
    cr_assert_str_eq(tu_str(fi, "fileinfo.sha256"), SHA_20000);
    cr_assert_str_eq(tu_str(fi, "ftp_data.command"), "STOR");
    /* Active: the server connected from port 20; the upload travels to it. */
    cr_assert_str_eq(tu_str(fi, "src_ip"), "192.0.2.10");
    cr_assert_eq(tu_int(fi, "dest_port"), 20);
    json_t *port = tu_find(&e, "ftp", "ftp.command", "PORT");
    cr_assert_str_eq(tu_str(port, "ftp.mode"), "active");
    cr_assert_eq(tu_int(port, "ftp.dynamic_port"), 1025);
    tu_events_free(&e);
    free(b);
}

Test(ftp_files, epsv_eprt_ipv6_and_pipelined)
{
    uint8_t *b = content(5000, 1);
    struct pg_ftp f = {.extended = 1,
                       .data_port = 6446,
                       .command = "RETR",
                       .name = "v6.bin",
                       .data = b,
                       .len = 5000,
                       .pipelined = 1};
    struct tu_events e;
    json_t *fi = one_file("epsv", &f, 1, &e);
    cr_assert_str_eq(tu_str(fi, "fileinfo.sha256"), SHA_5000);
    cr_assert_str_eq(tu_str(fi, "fileinfo.state"), "CLOSED");
    tu_events_free(&e);
    struct pg_ftp g = {.active = 1,
                       .extended = 1,
                       .data_port = 7000,
                       .command = "APPE",
                       .name = "log.txt",
                       .data = b,
                       .len = 5000};
    fi = one_file("eprt", &g, 1, &e);
    cr_assert_str_eq(tu_str(fi, "fileinfo.sha256"), SHA_5000);
    cr_assert_str_eq(tu_str(fi, "ftp_data.command"), "APPE");
    tu_events_free(&e);
    free(b);
}

Test(ftp_files, lost_bytes_and_reset_truncate)
{
    uint8_t *b = content(3000, 3);
    struct pg_ftp f = {.data_port = 50001,
                       .command = "RETR",
                       .name = "cut.bin",
                       .data = b,
                       .len = 3000,
                       .lost_at = 1000,
                       .lost = 1000};
    struct tu_events e;
    json_t *fi = one_file("gap", &f, 0, &e);
    cr_assert_str_eq(tu_str(fi, "fileinfo.state"), "TRUNCATED");
    cr_assert(json_is_true(tu_get(fi, "fileinfo.gaps")));
    cr_assert_eq(tu_int(fi, "fileinfo.size"), 2000);
    cr_assert_str_eq(tu_str(fi, "fileinfo.sha256"),
                     "fe688b61a3a6f0500f8f1b36bcb27c78098ab3aa01dc1b75a3687fd249e54162");
    tu_events_free(&e);
    struct pg_ftp g = {.data_port = 50002,
                       .command = "STOR",
                       .name = "rst.bin",
                       .data = b,
                       .len = 3000,
                       .reset = 1};
    fi = one_file("rst", &g, 0, &e);
    cr_assert_str_eq(tu_str(fi, "fileinfo.state"), "TRUNCATED");
    cr_assert_eq(tu_int(fi, "fileinfo.size"), 3000);
    cr_assert_str_eq(tu_str(fi, "fileinfo.sha256"),
                     "709865e7c3523ec6d73201567e25f1c6f878acc964d7b876e180217f105d6949");
    json_t *stor = tu_find(&e, "ftp", "ftp.command", "STOR");
    cr_assert_str_eq(json_string_value(json_array_get(tu_get(stor, "ftp.completion_code"), 1)),
                     "426");
    tu_events_free(&e);
    free(b);
}

/* A data connection after the expectation timed out (60 s) is not ftp-data. */
Test(ftp_files, late_connection_is_not_matched)
{
    char *dir = tu_tmpdir();
    char pcap[4200];
    snprintf(pcap, sizeof(pcap), "%s/late.pcap", dir);
    struct pg_writer *w = pg_open(pcap, 1, 0);
    uint64_t ts = 1700000000000000ull;
    struct pg_tcp_session c = {"192.0.2.10", "198.51.100.21", 40000, 21, 1, 1000, 0};
    pg_session_open(w, &c, &ts);
    const char *steps[][2] = {{"0", "220 ready\r\n"},
                              {"1", "PASV\r\n"},
                              {"0", "227 Entering Passive Mode (198,51,100,21,195,80)\r\n"},
                              {"1", "RETR late.bin\r\n"}};
    for (size_t i = 0; i < 4; i++)
        pg_session_data(w, &c, steps[i][0][0] == '1', steps[i][1], strlen(steps[i][1]), &ts);
    ts += 61 * 1000000ull;
    struct pg_tcp_session d = {"192.0.2.10", "198.51.100.21", 40001, 50000, 5, 9000, 0};
    pg_session_open(w, &d, &ts);
    pg_session_data(w, &d, 0, "data", 4, &ts);
    pg_session_close(w, &d, &ts);
    pg_session_close(w, &c, &ts);
    pg_close(w);
    struct tu_events e;
    run(dir, pcap, &e, NULL);
    cr_assert_eq(tu_count(&e, "fileinfo", NULL, NULL), 0);
    json_t *st = tu_stats(&e);
    cr_assert_eq(tu_int(st, "stats.app_layer.expectations.added"), 1);
    cr_assert_eq(tu_int(st, "stats.app_layer.expectations.matched"), 0);
    cr_assert_eq(tu_int(st, "stats.app_layer.expectations.expired"), 1);
    tu_events_free(&e);
    free(dir);
}

/* File keywords and file.data on ftp-data flows. */
Test(ftp_files, rules_match_ftp_data_files)
{
    char *dir = tu_tmpdir();
    char pcap[4200], rules[4200];
    snprintf(pcap, sizeof(pcap), "%s/rules.pcap", dir);
    snprintf(rules, sizeof(rules), "%s/ftp.rules", dir);
    static const char text[] = "quarterly figures: CONFIDENTIAL payroll\n";
    struct pg_ftp f = {.data_port = 50010,
                       .command = "STOR",
                       .name = "payroll.xlsx",
                       .data = text,
                       .len = sizeof(text) - 1};
    write_session(pcap, &f, 0);
    FILE *fp = fopen(rules, "w");
    fputs("alert ftp-data any any -> any any (msg:\"ftp xlsx\"; fileext:\"xlsx\"; sid:1;)\n"
          "alert ftp-data any any -> any any (msg:\"ftp name\"; filename:\"payroll\"; sid:2;)\n"
          "alert ftp-data any any -> any any (msg:\"ftp data\"; file.data; "
          "content:\"CONFIDENTIAL\"; sid:3;)\n"
          "alert ftp-data any any -> any any (msg:\"no\"; fileext:\"pdf\"; sid:4;)\n"
          "alert http any any -> any any (msg:\"not http\"; fileext:\"xlsx\"; sid:5;)\n",
          fp);
    fclose(fp);
    struct tu_events e;
    run(dir, pcap, &e, rules);
    cr_assert_eq(tu_count(&e, "alert", "alert.signature_id", NULL), 3);
    for (int sid = 1; sid <= 3; sid++) {
        json_t *a = NULL;
        for (size_t i = 0; i < e.n; i++)
            if (strcmp(tu_str(e.ev[i], "event_type"), "alert") == 0 &&
                tu_int(e.ev[i], "alert.signature_id") == sid)
                a = e.ev[i];
        cr_assert_not_null(a, "sid %d", sid);
        cr_assert_str_eq(tu_str(a, "app_proto"), "ftp-data");
    }
    tu_events_free(&e);
    free(dir);
}

/* Extended: the shared captures with FTP transfers, against tshark's ftp-data export. */
Test(ftp_files, shared_captures)
{
    const char *shared = getenv("VIGIL_SHARED");
    char p1[4096], p2[4096];
    snprintf(p1, sizeof(p1), "%s/corpus/pcaps/chrissanders_packets/tickedoffdeveloper.pcapng",
             shared ? shared : "");
    snprintf(p2, sizeof(p2),
             "%s/corpus/pcaps/mmguero-dev_Malcolm-PCAP/pcaps/plugins/zeek-agenttesla-detector/"
             "f9421792-7d2c-47d3-90e0-07eb54ae12fa.pcap",
             shared ? shared : "");
    if (shared == NULL || access(p1, R_OK) != 0 || access(p2, R_OK) != 0)
        cr_skip_test("the shared corpus is not there");
    const struct {
        const char *pcap, *name, *sha256;
        long long size;
    } want[] = {
        {p1, "store4829-03222010.csv",
         "5d94445256d990ce014aaa07c4d6ab9943b6a920ecc54cdfbd2d2f4ad5144364", 19832},
        {p2, "PW_admin-USER-PC_2024_03_07_19_00_36.html",
         "e6f46358f84b25977be426bf489fcc933495bb46f24b70c32320ce87a7607089", 533},
    };
    int agree = 0;
    for (size_t i = 0; i < 2; i++) {
        char *dir = tu_tmpdir();
        struct tu_events e;
        run(dir, want[i].pcap, &e, NULL);
        json_t *fi = tu_find(&e, "fileinfo", "app_proto", "ftp-data");
        if (fi != NULL && strcmp(tu_str(fi, "fileinfo.filename"), want[i].name) == 0 &&
            strcmp(tu_str(fi, "fileinfo.sha256"), want[i].sha256) == 0 &&
            tu_int(fi, "fileinfo.size") == want[i].size &&
            strcmp(tu_str(fi, "fileinfo.state"), "CLOSED") == 0)
            agree++;
        cr_assert_eq(tu_count(&e, "fileinfo", "app_proto", "ftp-data"), 1);
        tu_events_free(&e);
        free(dir);
    }
    fprintf(stderr, "ftp_files: shared captures agreeing with tshark: %d / 2\n", agree);
    cr_assert_eq(agree, 2);
}

/* Several workers: autofp-scheduler ftp-hash (the default) hands a data connection to the
 * worker of its control channel, so every file is found whatever the thread count; both modes
 * and every session, passive and active, are checked. */
Test(ftp_files, data_connections_with_several_workers)
{
    char *dir = tu_tmpdir();
    char pcap[4200];
    snprintf(pcap, sizeof(pcap), "%s/many.pcap", dir);
    struct pg_writer *w = pg_open(pcap, 1, 0);
    cr_assert_not_null(w);
    uint64_t ts = 1700000000000000ull;
    uint8_t *b = content(5000, 1);
    char cli[32];
    const unsigned n = 12;
    for (unsigned i = 0; i < n; i++) {
        snprintf(cli, sizeof(cli), "192.0.2.%u", 10 + i);
        struct pg_ftp f = {.cli = cli,
                           .srv = "198.51.100.21",
                           .cport = (uint16_t)(40000 + 7 * i),
                           .active = (int)(i % 2),
                           .data_port = (uint16_t)(50000 + 13 * i),
                           .command = "RETR",
                           .name = "/pub/report.pdf",
                           .data = b,
                           .len = 5000};
        pg_ftp_session(w, &f, &ts);
    }
    pg_close(w);
    static const char *const threads[] = {"2", "3", "4"};
    for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
        struct tu_events e;
        char *out = NULL, *logs = tu_tmpdir();
        cr_assert_eq(tu_sensor(logs, &e, &out, "-r", pcap, "--threads", threads[t], NULL), 0, "%s",
                     out);
        free(out);
        tu_rmdir(logs);
        free(logs);
        cr_assert_eq(tu_count(&e, "fileinfo", "fileinfo.sha256", SHA_5000), n,
                     "--threads %s: %zu of %u files", threads[t],
                     tu_count(&e, "fileinfo", "fileinfo.sha256", SHA_5000), n);
        tu_events_free(&e);
    }
    free(b);
    tu_rmdir(dir);
    free(dir);
}
