/* test_e2e_files.c: file rules and filestore.policy alert through vigil-sensor, HTTP and SMTP. */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <ftw.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pktgen.h"
#include "testutil.h"

#define EICAR_MD5 "44d88612fea8a8f36de82e1278abb02f"
#define EICAR_SHA256 "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp, "%s", path);
    fputs(text, fp);
    fclose(fp);
}

/* Runs the sensor on capture with rules (text) from dir; extra arguments after. */
static void run(const char *dir, const char *capture, const char *rules, struct tu_events *e,
                const char *a1, const char *a2, const char *a3, const char *a4)
{
    char rf[4200], out[4200];
    write_text(dir, "test.rules", rules);
    snprintf(rf, sizeof(rf), "%s/test.rules", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    char *log = NULL;
    int rc = tu_sensor(out, e, &log, "-r", capture, "-S", rf, a1, a2, a3, a4, NULL);
    cr_assert_eq(rc, 0, "%s", log);
    cr_assert(strstr(log, "0 failed, 0 unsupported") != NULL, "%s", log);
    free(log);
}

Test(e2e_files, file_rules_alert_with_the_flow_and_the_file)
{
    char *dir = tu_tmpdir();
    write_text(dir, "bad.md5", "# IOC feed\n" EICAR_MD5 "  eicar.com\n");
    struct tu_events e;
    run(dir, tu_pcap("attack-chain.pcap"),
        "alert http any any -> any any (msg:\"exe download\"; flow:to_client; fileext:\"exe\"; "
        "sid:1;)\n"
        "alert http any any -> any any (msg:\"known bad\"; filemd5:bad.md5; sid:2;)\n"
        "alert http any any -> any any (msg:\"eicar magic\"; filemagic:\"eicar\"; sid:3;)\n"
        "alert http any any -> any any (msg:\"beacon\"; filename:\"gate.php\"; sid:4;)\n"
        "alert http any any -> any any (msg:\"small\"; filesize:<5; flow:to_client; sid:5;)\n",
        &e, NULL, NULL, NULL, NULL);
    cr_assert_eq(tu_count(&e, "alert", "alert.signature_id", "1"), 1);
    cr_assert_eq(tu_count(&e, "alert", "alert.signature_id", "2"), 1);
    cr_assert_eq(tu_count(&e, "alert", "alert.signature_id", "3"), 1);
    /* Five beacons, each with a request body and a response body named /gate.php. */
    cr_assert_eq(tu_count(&e, "alert", "alert.signature_id", "4"), 10);
    cr_assert_eq(tu_count(&e, "alert", "alert.signature_id", "5"), 5);
    cr_assert_eq(tu_count(&e, "alert", NULL, NULL), 18);

    json_t *fi = tu_find(&e, "fileinfo", "fileinfo.sha256", EICAR_SHA256);
    cr_assert_not_null(fi);
    json_t *a = tu_find(&e, "alert", "alert.signature_id", "1");
    cr_assert_str_eq(tu_str(a, "src_ip"), "203.0.113.66", "oriented as the file travelled");
    cr_assert_eq(tu_int(a, "src_port"), 8080);
    cr_assert_str_eq(tu_str(a, "dest_ip"), "10.10.1.5");
    cr_assert_eq(tu_int(a, "dest_port"), 49300);
    cr_assert_str_eq(tu_str(a, "proto"), "TCP");
    cr_assert_eq(tu_int(a, "flow_id"), tu_int(fi, "flow_id"));
    cr_assert_str_eq(tu_str(a, "app_proto"), "http");
    cr_assert_eq(tu_int(a, "tx_id"), 0);
    cr_assert_str_eq(tu_str(a, "http.url"), "/update.exe");
    json_t *files = json_object_get(a, "files");
    cr_assert_eq(json_array_size(files), 1);
    json_t *f0 = json_array_get(files, 0);
    cr_assert_str_eq(tu_str(f0, "filename"), "update.exe");
    cr_assert_str_eq(tu_str(f0, "state"), "OPEN", "fileext alerts when the file opens");
    cr_assert_null(json_object_get(f0, "md5"));

    a = tu_find(&e, "alert", "alert.signature_id", "2");
    f0 = json_array_get(json_object_get(a, "files"), 0);
    cr_assert_str_eq(tu_str(f0, "state"), "CLOSED");
    cr_assert_str_eq(tu_str(f0, "md5"), EICAR_MD5);
    cr_assert_str_eq(tu_str(f0, "sha256"), EICAR_SHA256);
    cr_assert_eq(tu_int(f0, "size"), 68);
    /* The pool guesses types, but an alert showing a closed file has its type from the worker. */
    cr_assert_str_eq(tu_str(f0, "magic"), "EICAR virus test files");
    cr_assert_str_eq(tu_str(fi, "fileinfo.magic"), "EICAR virus test files");
    cr_assert_eq(tu_int(a, "flow_id"), tu_int(fi, "flow_id"));
    tu_events_free(&e);
    rm_tree(dir);
}

/* Files stored by a run with filestore.policy alert (the fileinfo records saying so). */
static size_t stored(const struct tu_events *e)
{
    return tu_count(e, "fileinfo", "fileinfo.stored", "true");
}

static void run_store(const char *dir, const char *capture, const char *rules, struct tu_events *e)
{
    char fs[4200];
    snprintf(fs, sizeof(fs), "%s/out/filestore", dir);
    run(dir, capture, rules, e, "--filestore", fs, "--set", "filestore.policy=alert");
}

static int in_store(const char *dir, const char *sha256)
{
    char path[4400];
    snprintf(path, sizeof(path), "%s/out/filestore/%.2s/%s", dir, sha256, sha256);
    return access(path, R_OK) == 0;
}

Test(e2e_files, filestore_alert_policy_keeps_the_files_of_alerts)
{
    struct tu_events e;
    /* No alert on a file's transaction: nothing stored (the packet rule's alert is not on a
     * transaction). */
    char *dir = tu_tmpdir();
    run_store(dir, tu_pcap("attack-chain.pcap"),
              "alert tcp any any -> any any (msg:\"pkt\"; content:\"EICAR\"; sid:9;)\n", &e);
    cr_assert_eq(tu_count(&e, "alert", "alert.signature_id", "9"), 1);
    cr_assert_eq(tu_count(&e, "fileinfo", NULL, NULL), 13);
    cr_assert_eq(stored(&e), 0);
    tu_events_free(&e);
    rm_tree(dir);

    /* A file rule: that file. */
    dir = tu_tmpdir();
    run_store(dir, tu_pcap("attack-chain.pcap"),
              "alert http any any -> any any (fileext:\"exe\"; sid:1;)\n", &e);
    cr_assert_eq(stored(&e), 1);
    cr_assert_not_null(tu_find(&e, "fileinfo", "fileinfo.sha256", EICAR_SHA256));
    cr_assert(json_is_true(json_object_get(
        json_object_get(tu_find(&e, "fileinfo", "fileinfo.sha256", EICAR_SHA256), "fileinfo"),
        "stored")));
    cr_assert(in_store(dir, EICAR_SHA256));
    tu_events_free(&e);
    rm_tree(dir);

    /* A transaction rule on file.data: it alerts after the body (the file) closed. */
    dir = tu_tmpdir();
    run_store(dir, tu_pcap("attack-chain.pcap"),
              "alert http any any -> any any (flow:to_client; file.data; "
              "content:\"EICAR-STANDARD\"; sid:2;)\n",
              &e);
    cr_assert_eq(tu_count(&e, "alert", "alert.signature_id", "2"), 1);
    cr_assert_eq(stored(&e), 1);
    cr_assert(in_store(dir, EICAR_SHA256));
    tu_events_free(&e);
    rm_tree(dir);

    /* An alert on the request: the files of that transaction, both ways (5 beacons). */
    dir = tu_tmpdir();
    run_store(dir, tu_pcap("attack-chain.pcap"),
              "alert http any any -> any any (http.uri; content:\"/gate.php\"; sid:3;)\n", &e);
    cr_assert_eq(tu_count(&e, "alert", "alert.signature_id", "3"), 5);
    cr_assert_eq(stored(&e), 10);
    tu_events_free(&e);
    rm_tree(dir);

    /* filestore with noalert: no alert, the response of the matching request stored. */
    dir = tu_tmpdir();
    run_store(dir, tu_pcap("attack-chain.pcap"),
              "alert http any any -> any any (http.uri; content:\"/etc/passwd\"; "
              "filestore:response,tx; noalert; sid:4;)\n",
              &e);
    cr_assert_eq(tu_count(&e, "alert", NULL, NULL), 0);
    cr_assert_eq(stored(&e), 1);
    json_t *fi = tu_find(&e, "fileinfo", "fileinfo.stored", "true");
    cr_assert_str_eq(tu_str(fi, "fileinfo.filename"), "/etc/passwd");
    cr_assert_str_eq(tu_str(fi, "src_ip"), "10.10.1.5", "the response, from the server");
    tu_events_free(&e);
    rm_tree(dir);
}

/* Writes an SMTP session carrying one mail with two base64 attachments, a.txt and b.txt. */
static void write_smtp(const char *path)
{
    struct pg_writer *w = pg_open(path, DLT_EN10MB, 0);
    cr_assert_not_null(w);
    struct pg_tcp_session s = {"10.10.5.20", "198.51.100.25", 45000, 25, 7000, 9000, 0};
    uint64_t ts = 1714521600000000ULL;
    static const char mail[] =
        "From: <a@example.org>\r\nTo: <b@example.net>\r\nSubject: two\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
        "--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        "--XX\r\nContent-Type: application/octet-stream\r\n"
        "Content-Disposition: attachment; filename=\"a.txt\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nZmlyc3QgZmlsZQo=\r\n"
        "--XX\r\nContent-Type: application/octet-stream\r\n"
        "Content-Disposition: attachment; filename=\"b.txt\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nc2Vjb25kIGZpbGUK\r\n"
        "--XX--\r\n.\r\n";
    static const struct {
        int to_server;
        const char *text;
    } steps[] = {
        {0, "220 mx.example.net ESMTP\r\n"},
        {1, "EHLO client.example.org\r\n"},
        {0, "250 mx.example.net\r\n"},
        {1, "MAIL FROM:<a@example.org>\r\n"},
        {0, "250 2.1.0 Ok\r\n"},
        {1, "RCPT TO:<b@example.net>\r\n"},
        {0, "250 2.1.5 Ok\r\n"},
        {1, "DATA\r\n"},
        {0, "354 End data with .\r\n"},
        {1, mail},
        {0, "250 2.0.0 Ok: queued\r\n"},
        {1, "QUIT\r\n"},
        {0, "221 2.0.0 Bye\r\n"},
    };
    pg_session_open(w, &s, &ts);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        pg_session_data(w, &s, steps[i].to_server, steps[i].text, strlen(steps[i].text), &ts);
    pg_session_close(w, &s, &ts);
    pg_close(w);
}

Test(e2e_files, smtp_attachments_once_per_mail_and_stored)
{
    char *dir = tu_tmpdir();
    char pcap[4200];
    snprintf(pcap, sizeof(pcap), "%s/mail.pcap", dir);
    write_smtp(pcap);
    struct tu_events e;
    run_store(dir, pcap,
              "alert smtp any any -> any any (msg:\"txt attachment\"; fileext:\"txt\"; sid:1;)\n"
              "alert smtp any any -> any any (msg:\"b\"; filename:\"b.txt\"; sid:2;)\n",
              &e);
    cr_assert_eq(tu_count(&e, "fileinfo", NULL, NULL), 2);
    /* Both attachments match sid 1, in one transaction: one alert, as in Suricata. */
    cr_assert_eq(tu_count(&e, "alert", "alert.signature_id", "1"), 1);
    cr_assert_eq(tu_count(&e, "alert", "alert.signature_id", "2"), 1);
    json_t *a = tu_find(&e, "alert", "alert.signature_id", "2");
    cr_assert_str_eq(tu_str(a, "app_proto"), "smtp");
    cr_assert_str_eq(tu_str(a, "src_ip"), "10.10.5.20");
    cr_assert_str_eq(tu_str(json_array_get(json_object_get(a, "files"), 0), "filename"), "b.txt");
    cr_assert_not_null(json_object_get(a, "smtp"));
    /* The mail alerted: both its files are stored. */
    cr_assert_eq(stored(&e), 2);
    tu_events_free(&e);
    rm_tree(dir);
}
