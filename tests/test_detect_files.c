/* test_detect_files.c: the file keywords: parsing, hash lists, detect_file's matching and filestore
 * bits. */
#include <criterion/criterion.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pktgen.h"
#include "testutil.h"
#include "vigil/config.h"
#include "vigil/decode.h"
#include "vigil/detect.h"
#include "vigil/flow.h"

#define T0 1714521600000000ULL

/* EICAR's hashes; the file content itself is never needed here. */
#define EICAR_MD5 "44d88612fea8a8f36de82e1278abb02f"
#define EICAR_SHA1 "3395856ce81f2b7382dee72602f798b642f14140"
#define EICAR_SHA256 "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"

struct harness {
    char *dir; /* the rule file's directory */
    struct detect_engine *e;
    struct detect_thread *t;
    struct flow_table *flows;
    struct detect_load_report rep;
    char errors[8192];
    uint32_t alerts[64];
    struct vfile *files[64];
    int has_tx[64];
    unsigned nalerts;
    struct vg_packet p; /* the last packet, for detect_file */
    struct flow *f;
    uint8_t frame[2048];
};

static void on_alert(void *ctx, const struct vg_packet *p, struct flow *f, int dir,
                     const struct detect_alert *a)
{
    (void)p;
    (void)f;
    (void)dir;
    struct harness *h = ctx;
    if (h->nalerts < 64) {
        h->files[h->nalerts] = a->file;
        h->has_tx[h->nalerts] = a->has_tx;
        h->alerts[h->nalerts++] = a->sig->sid;
    }
}

static void on_flow_end(void *ctx, struct flow *f, enum flow_end_reason r, vg_time_t when)
{
    (void)ctx;
    (void)r;
    (void)when;
    detect_flow_free(f);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp, "%s", path);
    fputs(text, fp);
    fclose(fp);
}

/* Writes rules to DIR/test.rules and loads them (yaml: optional configuration). */
static void h_load(struct harness *h, const char *rules, const char *yaml)
{
    if (h->dir == NULL)
        h->dir = tu_tmpdir();
    write_file(h->dir, "test.rules", rules);
    char path[4200];
    snprintf(path, sizeof(path), "%s/test.rules", h->dir);
    struct config *cfg = config_new();
    char err[VG_ERRBUF_SIZE];
    if (yaml != NULL)
        cr_assert_eq(config_load_string(cfg, yaml, "test.yaml", err), 0, "%s", err);
    const char *files[1] = {path};
    struct detect_config dc = {cfg, files, 1, NULL, NULL, NULL, 0, NULL};
    FILE *errs = fmemopen(h->errors, sizeof(h->errors) - 1, "w");
    h->e = detect_engine_load(&dc, &h->rep, errs, err);
    fclose(errs);
    config_free(cfg);
    cr_assert_not_null(h->e, "%s", err);
    h->t = detect_thread_new(h->e, err);
    cr_assert_not_null(h->t, "%s", err);
    struct flow_config fc;
    flow_config_defaults(&fc);
    fc.hash_size = 1024;
    h->flows = flow_table_new(&fc, on_flow_end, NULL, err);
    cr_assert_not_null(h->flows, "%s", err);
}

static void h_free(struct harness *h)
{
    flow_table_flush(h->flows, T0 + 1000000);
    flow_table_free(h->flows);
    detect_thread_free(h->t);
    detect_engine_free(h->e);
    if (h->dir != NULL) {
        tu_rmdir(h->dir);
        free(h->dir);
    }
}

/*
 * Makes h->p a packet of an established HTTP-port flow, travelling to the client (dir 1,
 * server 203.0.113.66:80 to client 10.10.1.5:40000) or to the server (dir 0).
 */
static void h_flow_packet(struct harness *h, int dir)
{
    struct pg_tcp_session s = {"10.10.1.5", "203.0.113.66", 40000, 80, 1000, 5000, 0};
    struct pg g;
    uint64_t ts = T0;
    const uint8_t fl[3] = {0x02, 0x12, 0x10};
    const int to_srv[3] = {1, 0, 1};
    for (int i = 0; i < 4; i++) {
        int ts_dir = i < 3 ? to_srv[i] : dir == 0;
        pg_session_segment(&g, &s, ts_dir, i < 3 ? fl[i] : 0x18, i < 3 ? NULL : "x", i < 3 ? 0 : 1);
        if (i == 0)
            s.cseq++;
        if (i == 1)
            s.sseq++;
        memcpy(h->frame, g.b, g.len);
        memset(&h->p, 0, sizeof(h->p));
        h->p.data = h->frame;
        h->p.caplen = h->p.wirelen = (uint32_t)g.len;
        h->p.datalink = DLT_EN10MB;
        h->p.ts = ts;
        h->p.pcap_cnt = (uint64_t)i + 1;
        ts += 1000;
        struct vg_decode_stats st;
        memset(&st, 0, sizeof(st));
        decode_packet(&st, &h->p);
        h->p.flow_hash = flow_hash_packet(&h->p);
        int d = 0;
        h->f = flow_handle_packet(h->flows, &h->p, &d);
        cr_assert_not_null(h->f);
    }
    h->f->app_proto = detect_app_proto_id("http");
}

static unsigned count(const struct harness *h, uint32_t sid)
{
    unsigned n = 0;
    for (unsigned i = 0; i < h->nalerts; i++)
        n += h->alerts[i] == sid;
    return n;
}

/* A file view: name, to the client, open (closed = 0) or closed with EICAR's hashes. */
static struct detect_file file_of(const char *name, int closed, uint64_t size, const char *magic)
{
    struct detect_file df;
    memset(&df, 0, sizeof(df));
    df.handle = (struct vfile *)(uintptr_t)0x1234;
    df.dir = FLOW_DIR_TOCLIENT;
    df.name = (const uint8_t *)name;
    df.name_len = (uint32_t)strlen(name);
    df.closed = closed;
    df.size = size;
    if (closed) {
        df.magic = magic;
        df.md5 = EICAR_MD5;
        df.sha1 = EICAR_SHA1;
        df.sha256 = EICAR_SHA256;
    }
    return df;
}

/* Runs file df (opened, then closed) through the rules; returns the bits of both calls. */
static unsigned run_file(struct harness *h, const char *name, uint64_t size, const char *magic,
                         int truncated)
{
    struct detect_file open = file_of(name, 0, 0, NULL);
    unsigned r = detect_file(h->t, &h->p, h->f, &open, NULL, on_alert, h);
    struct detect_file done = file_of(name, 1, size, magic);
    done.truncated = truncated;
    return r | detect_file(h->t, &h->p, h->f, &done, NULL, on_alert, h);
}

Test(detect_files, parse_errors_are_reported_by_line)
{
    struct harness h = {0};
    h_load(&h,
           "alert http any any -> any any (filemagic:PE32; sid:1;)\n"
           "alert http any any -> any any (filesize:abc; sid:2;)\n"
           "alert http any any -> any any (filemd5:no-such.md5; sid:3;)\n"
           "alert http any any -> any any (filestore:sideways; sid:4;)\n"
           "alert dns any any -> any any (fileext:\"exe\"; sid:5;)\n"
           "alert http any any -> any any (content:\"MZ\"; fileext:\"exe\"; sid:6;)\n"
           "alert http any any -> any any (file.name; sid:7;)\n"
           "alert http any any -> any any (filestore; filestore; sid:8;)\n"
           "alert http any any -> any any (filename:\"\"; sid:9;)\n"
           "alert http any any -> any any (filestore:both,forever; sid:10;)\n"
           "alert tls any any -> any any (file.magic; content:\"PE\"; sid:11;)\n"
           "alert http any any -> any any (fileext:\"exe\"; sid:12;)\n",
           NULL);
    cr_assert_eq(h.rep.loaded, 1);
    cr_assert_eq(h.rep.failed, 11, "%s", h.errors);
    cr_assert_eq(h.rep.unsupported, 0);
    static const char *const want[] = {
        "test.rules:1: sid 1: filemagic must be in double quotes",
        "test.rules:2: sid 2: filesize: invalid value 'abc'",
        "test.rules:3: sid 3: filemd5: cannot open hash list",
        "test.rules:4: sid 4: filestore: expected",
        "test.rules:5: sid 5: file keywords in a dns rule: only HTTP, SMTP and ftp-data carry files",
        "test.rules:6: sid 6: file keywords cannot be combined with packet payload matches",
        "test.rules:7: sid 7: buffer file.name has no content to match",
        "test.rules:8: sid 8: filestore given twice",
        "test.rules:9: sid 9: filename: empty value",
        "test.rules:10: sid 10: filestore: expected",
        "test.rules:11: sid 11: file keywords in a tls rule",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_expect(strstr(h.errors, want[i]) != NULL, "missing \"%s\" in:\n%s", want[i], h.errors);
    h_free(&h);
}

Test(detect_files, geoip_without_database_is_unsupported)
{
    struct harness h = {0};
    h_load(&h,
           "alert ip any any -> any any (geoip:src,RU,CN; sid:1;)\n"
           "alert ip any any -> any any (geoip:!US; sid:2;)\n"
           "alert ip any any -> any any (ttl:3; sid:3;)\n",
           NULL);
    cr_assert_eq(h.rep.loaded, 1);
    cr_assert_eq(h.rep.unsupported, 2);
    cr_assert_eq(h.rep.n_unsupported_kw, 1);
    cr_assert_str_eq(h.rep.unsupported_by_kw[0].keyword, "geoip (no database)");
    cr_assert_eq(h.rep.unsupported_by_kw[0].rules, 2);
    cr_assert(strstr(h.errors, "test.rules:1: sid 1: geoip: no GeoIP country database") != NULL,
              "%s", h.errors);
    h_free(&h);
}

Test(detect_files, names_extensions_and_modifiers)
{
    struct harness h = {0};
    h_load(&h,
           "alert http any any -> any any (filename:\"update.exe\"; sid:1;)\n"
           "alert http any any -> any any (file.name; content:\"update.exe\"; sid:2;)\n"
           "alert http any any -> any any (file.name; content:\"update.exe\"; nocase; sid:3;)\n"
           "alert http any any -> any any (fileext:\"exe\"; sid:4;)\n"
           "alert http any any -> any any (fileext:ex; sid:5;)\n"
           "alert http any any -> any any (fileext:!\"exe\"; sid:6;)\n"
           "alert http any any -> any any (filename:\"/dl/\"; startswith; sid:7;)\n"
           "alert http any any -> any any (file.name; content:\"dl\"; offset:2; sid:8;)\n"
           "alert http any any -> any any (file.name; bsize:14; sid:9;)\n"
           "alert http any any -> any any (file.name; pcre:\"/\\.exe$/i\"; sid:10;)\n"
           "alert http any any -> any any (flow:to_server; fileext:\"exe\"; sid:11;)\n"
           "alert http any any -> any any (filename:\"UPDATE\"; fileext:\"EXE\"; sid:12;)\n"
           "alert smtp any any -> any any (fileext:\"exe\"; sid:13;)\n",
           NULL);
    cr_assert_eq(h.rep.loaded, 13, "%s", h.errors);
    h_flow_packet(&h, FLOW_DIR_TOCLIENT);
    unsigned r = run_file(&h, "/dl/Update.EXE", 68, "data", 0);
    cr_assert_eq(r & DETECT_FILE_ALERTED, DETECT_FILE_ALERTED);
    static const struct {
        uint32_t sid;
        unsigned n;
    } want[] = {{1, 1}, {2, 0}, {3, 1},  {4, 1},  {5, 0},  {6, 0}, {7, 1},
                {8, 0}, {9, 1}, {10, 1}, {11, 0}, {12, 1}, {13, 0}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_expect_eq(count(&h, want[i].sid), want[i].n, "sid %u: %u alerts, want %u", want[i].sid,
                     count(&h, want[i].sid), want[i].n);
    /* Every alert names the file and its transaction. */
    for (unsigned i = 0; i < h.nalerts; i++) {
        cr_expect_eq(h.files[i], (struct vfile *)(uintptr_t)0x1234);
        cr_expect_eq(h.has_tx[i], 1);
    }
    /* Another name: only the negated extension matches. */
    h.nalerts = 0;
    run_file(&h, "report.pdf", 10, "PDF document", 0);
    cr_assert_eq(h.nalerts, 1);
    cr_assert_eq(h.alerts[0], 6);
    h_free(&h);
}

Test(detect_files, name_rules_at_open_the_rest_at_close)
{
    struct harness h = {0};
    h_load(&h,
           "alert http any any -> any any (fileext:\"exe\"; sid:1;)\n"
           "alert http any any -> any any (filemagic:\"executable\"; sid:2;)\n"
           "alert http any any -> any any (filesize:68; sid:3;)\n"
           "alert http any any -> any any (fileext:\"exe\"; filesize:>10; sid:4;)\n"
           "alert http any any -> any any (file.magic; content:\"PE32\"; sid:5;)\n"
           "alert http any any -> any any (filemagic:!\"text\"; sid:6;)\n",
           NULL);
    cr_assert_eq(h.rep.loaded, 6, "%s", h.errors);
    h_flow_packet(&h, FLOW_DIR_TOCLIENT);
    struct detect_file open = file_of("a.exe", 0, 0, NULL);
    detect_file(h.t, &h.p, h.f, &open, NULL, on_alert, &h);
    cr_assert_eq(h.nalerts, 1);
    cr_assert_eq(h.alerts[0], 1);
    struct detect_file done = file_of("a.exe", 1, 68, "PE32 executable (GUI) Intel 80386");
    detect_file(h.t, &h.p, h.f, &done, NULL, on_alert, &h);
    cr_assert_eq(count(&h, 1), 1, "fileext is not evaluated again at the close");
    cr_assert_eq(count(&h, 2), 1, "filemagic is case-insensitive");
    cr_assert_eq(count(&h, 3), 1);
    cr_assert_eq(count(&h, 4), 1);
    cr_assert_eq(count(&h, 5), 1);
    cr_assert_eq(count(&h, 6), 1);
    /* Without a magic (libmagic off) the magic rules match neither way, as in Suricata. */
    h.nalerts = 0;
    struct detect_file nomagic = file_of("b.bin", 1, 68, NULL);
    detect_file(h.t, &h.p, h.f, &nomagic, NULL, on_alert, &h);
    cr_assert_eq(h.nalerts, 1);
    cr_assert_eq(h.alerts[0], 3);
    h_free(&h);
}

Test(detect_files, filesize_units_and_truncated_files)
{
    struct harness h = {0};
    h_load(&h,
           "alert http any any -> any any (filesize:1MB; sid:1;)\n"
           "alert http any any -> any any (filesize:>1mb; sid:2;)\n"
           "alert http any any -> any any (filesize:<2KB; sid:3;)\n"
           "alert http any any -> any any (filesize:1KB<>2KB; sid:4;)\n"
           "alert http any any -> any any (filesize:>=1048576; sid:5;)\n"
           "alert http any any -> any any (filesize:!1048576; sid:6;)\n",
           NULL);
    cr_assert_eq(h.rep.loaded, 6, "%s", h.errors);
    h_flow_packet(&h, FLOW_DIR_TOCLIENT);
    run_file(&h, "x", 1048576, "data", 0);
    cr_expect_eq(count(&h, 1), 1);
    cr_expect_eq(count(&h, 2), 0);
    cr_expect_eq(count(&h, 3), 0);
    cr_expect_eq(count(&h, 4), 0);
    cr_expect_eq(count(&h, 5), 1);
    cr_expect_eq(count(&h, 6), 0);
    h.nalerts = 0;
    run_file(&h, "y", 1500, "data", 0);
    cr_expect_eq(count(&h, 3), 1);
    cr_expect_eq(count(&h, 4), 1);
    cr_expect_eq(count(&h, 6), 1);
    cr_expect_eq(h.nalerts, 3);
    /* A truncated file of 2 MB seen: only "greater than" can be known. */
    h.nalerts = 0;
    run_file(&h, "z", 2 << 20, "data", 1);
    cr_expect_eq(count(&h, 2), 1);
    cr_expect_eq(count(&h, 5), 1);
    cr_expect_eq(h.nalerts, 2, "equality, less-than, ranges and != are not checked");
    h_free(&h);
}

Test(detect_files, hash_lists_bad_lines_and_paths)
{
    struct harness h = {0};
    h.dir = tu_tmpdir();
    write_file(h.dir, "bad.md5",
               "# known bad\n" EICAR_MD5 "  eicar.com\n"
               "\n"
               "abc123 too short\n" EICAR_MD5 "00 too long\n"
               "D41D8CD98F00B204E9800998ECF8427E\n");
    write_file(h.dir, "bad.sha1", EICAR_SHA1 "\n");
    write_file(h.dir, "other.sha256",
               "0000000000000000000000000000000000000000000000000000000000000000\n");
    char cfgdir[4300];
    snprintf(cfgdir, sizeof(cfgdir), "%s/lists", h.dir);
    cr_assert_eq(mkdir(cfgdir, 0700), 0);
    write_file(cfgdir, "eicar.sha256", EICAR_SHA256 "\n");
    char yaml[4400];
    snprintf(yaml, sizeof(yaml), "default-rule-path: %s\n", cfgdir);
    /* bad.md5 and bad.sha1 are found beside the rule file, eicar.sha256 under
     * default-rule-path, an absolute path as it is. */
    char rules[9000];
    snprintf(rules, sizeof(rules),
             "alert http any any -> any any (filemd5:bad.md5; sid:1;)\n"
             "alert http any any -> any any (filemd5:!bad.md5; sid:2;)\n"
             "alert http any any -> any any (filesha1:bad.sha1; sid:3;)\n"
             "alert http any any -> any any (filesha256:eicar.sha256; sid:4;)\n"
             "alert http any any -> any any (filesha256:!%s/other.sha256; sid:5;)\n"
             "alert http any any -> any any (filesha256:%s/other.sha256; sid:6;)\n"
             "alert http any any -> any any (filesha1:bad.md5; sid:7;)\n",
             h.dir, h.dir);
    h_load(&h, rules, yaml);
    cr_assert_eq(h.rep.loaded, 7, "%s", h.errors);
    /* Two bad lines of bad.md5 read as md5 (line 4 and 5); as sha1 every hash is bad. */
    cr_assert(strstr(h.errors, "bad.md5:4: filemd5: a hash of 6 hex digits, not 32") != NULL, "%s",
              h.errors);
    cr_assert(strstr(h.errors, "bad.md5:5: filemd5: a hash of 34 hex digits, not 32") != NULL, "%s",
              h.errors);
    cr_assert(strstr(h.errors, "bad.md5:2: filesha1: a hash of 32 hex digits, not 40") != NULL,
              "%s", h.errors);
    cr_assert_eq(h.rep.failed, 2 + 4, "bad list lines count as failed: %s", h.errors);
    h_flow_packet(&h, FLOW_DIR_TOCLIENT);
    /* Open: no hashes yet, so nothing matches, not even the negated lists. */
    struct detect_file open = file_of("eicar.com", 0, 0, NULL);
    detect_file(h.t, &h.p, h.f, &open, NULL, on_alert, &h);
    cr_assert_eq(h.nalerts, 0);
    struct detect_file done = file_of("eicar.com", 1, 68, "EICAR virus test files");
    detect_file(h.t, &h.p, h.f, &done, NULL, on_alert, &h);
    static const struct {
        uint32_t sid;
        unsigned n;
    } want[] = {{1, 1}, {2, 0}, {3, 1}, {4, 1}, {5, 1}, {6, 0}, {7, 0}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_expect_eq(count(&h, want[i].sid), want[i].n, "sid %u: %u alerts, want %u", want[i].sid,
                     count(&h, want[i].sid), want[i].n);
    /* The upper-case line of bad.md5 is the empty file's md5. */
    h.nalerts = 0;
    struct detect_file empty = file_of("empty", 1, 0, "empty");
    empty.md5 = "d41d8cd98f00b204e9800998ecf8427e";
    detect_file(h.t, &h.p, h.f, &empty, NULL, on_alert, &h);
    cr_assert_eq(count(&h, 1), 1);
    char sub[4400];
    snprintf(sub, sizeof(sub), "%s/eicar.sha256", cfgdir);
    unlink(sub);
    rmdir(cfgdir);
    h_free(&h);
}

Test(detect_files, filestore_bits_noalert_and_once_per_transaction)
{
    struct harness h = {0};
    h_load(&h,
           "alert http any any -> any any (fileext:\"exe\"; filestore; sid:1;)\n"
           "alert http any any -> any any (fileext:\"dll\"; filestore:response,tx; sid:2;)\n"
           "alert http any any -> any any (fileext:\"zip\"; filestore:both,ssn; noalert; "
           "sid:3;)\n"
           "alert http any any -> any any (fileext:\"doc\"; filestore:request,file; sid:4;)\n"
           "alert http any any -> any any (fileext:\"txt\"; sid:5;)\n",
           NULL);
    cr_assert_eq(h.rep.loaded, 5, "%s", h.errors);
    h_flow_packet(&h, FLOW_DIR_TOCLIENT);
    cr_assert_eq(run_file(&h, "a.exe", 1, "data", 0), DETECT_FILE_ALERTED | DETECT_FILE_STORE);
    cr_assert_eq(run_file(&h, "a.dll", 1, "data", 0),
                 DETECT_FILE_ALERTED | DETECT_FILE_STORE_TX_TC);
    cr_assert_eq(run_file(&h, "a.zip", 1, "data", 0),
                 DETECT_FILE_STORE_FLOW_TS | DETECT_FILE_STORE_FLOW_TC);
    cr_assert_eq(count(&h, 3), 0, "noalert: stored, not alerted");
    /* filestore:request,file on a file to the client: nothing to store. */
    cr_assert_eq(run_file(&h, "a.doc", 1, "data", 0), DETECT_FILE_ALERTED);
    cr_assert_eq(run_file(&h, "a.txt", 1, "data", 0), DETECT_FILE_ALERTED);

    /* Two files of one transaction and direction: one alert; each file stored. */
    h.nalerts = 0;
    void *state = NULL;
    struct detect_tx tx = {7, 0, {0, 0}, NULL, NULL, &state};
    struct detect_file f1 = file_of("one.exe", 0, 0, NULL), f2 = file_of("two.exe", 0, 0, NULL);
    f1.tx_id = f2.tx_id = 7;
    cr_assert_eq(detect_file(h.t, &h.p, h.f, &f1, &tx, on_alert, &h),
                 DETECT_FILE_ALERTED | DETECT_FILE_STORE);
    cr_assert_eq(detect_file(h.t, &h.p, h.f, &f2, &tx, on_alert, &h), DETECT_FILE_STORE);
    cr_assert_eq(h.nalerts, 1);
    /* The other direction of the same transaction alerts on its own. */
    f2.dir = FLOW_DIR_TOSERVER;
    cr_assert_eq(detect_file(h.t, &h.p, h.f, &f2, &tx, on_alert, &h),
                 DETECT_FILE_ALERTED | DETECT_FILE_STORE);
    cr_assert_eq(h.nalerts, 2);
    detect_file_state_free(&state);
    cr_assert_null(state);
    h_free(&h);
}

/* A transaction for the rules that combine its buffers with file keywords: a URI to the
 * server, a body to the client. */
static const uint8_t *test_tx_get(void *txp, unsigned b, int dir, unsigned idx, uint32_t *len)
{
    (void)txp;
    if (idx != 0)
        return NULL;
    if (b == DB_HTTP_URI && dir == 0) {
        *len = 9;
        return (const uint8_t *)"/dl/a.exe";
    }
    if (b == DB_FILE_DATA && dir == 1) {
        *len = 4;
        return (const uint8_t *)"MZ\x90\x00";
    }
    return NULL;
}

Test(detect_files, transaction_buffers_with_file_keywords)
{
    struct harness h = {0};
    h_load(&h,
           "alert http any any -> any any (http.uri; content:\"/dl/\"; fileext:\"exe\"; sid:1;)\n"
           "alert http any any -> any any (http.uri; content:\"/other/\"; fileext:\"exe\"; "
           "sid:2;)\n"
           "alert http any any -> any any (flow:to_client; http.uri; content:\"/dl/\"; "
           "fileext:\"exe\"; file.data; content:\"MZ\"; startswith; sid:3;)\n"
           "alert http any any -> any any (http.uri; content:!\"/dl/\"; filestore; sid:4;)\n",
           NULL);
    cr_assert_eq(h.rep.loaded, 4, "%s", h.errors);
    h_flow_packet(&h, FLOW_DIR_TOCLIENT);
    /* Without the transaction's buffers the http.uri and file.data items cannot match; the
     * negated one does (an absent buffer is empty, as for transaction rules). */
    run_file(&h, "a.exe", 4, "data", 0);
    cr_assert_eq(h.nalerts, 1);
    cr_assert_eq(h.alerts[0], 4);
    h.nalerts = 0;
    void *state = NULL;
    struct detect_tx tx = {0, 0, {0, 0}, test_tx_get, NULL, &state};
    struct detect_file open = file_of("a.exe", 0, 0, NULL), done = file_of("a.exe", 1, 4, "data");
    detect_file(h.t, &h.p, h.f, &open, &tx, on_alert, &h);
    cr_assert_eq(h.nalerts, 1, "the name rules at the open");
    cr_assert_eq(h.alerts[0], 1);
    detect_file(h.t, &h.p, h.f, &done, &tx, on_alert, &h);
    cr_assert_eq(count(&h, 1), 1);
    cr_assert_eq(count(&h, 2), 0);
    cr_assert_eq(count(&h, 3), 1, "file.data makes it a close-time rule");
    cr_assert_eq(count(&h, 4), 0);
    cr_assert_eq(h.nalerts, 2);
    detect_file_state_free(&state);
    h_free(&h);
}

Test(detect_files, hostile_hash_lists)
{
    struct harness h = {0};
    h.dir = tu_tmpdir();
    /* Binary bytes, NULs, CR LF endings, a very long run of hex, no final newline. */
    char path[4200];
    snprintf(path, sizeof(path), "%s/hostile.md5", h.dir);
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp);
    static const unsigned char junk[] = {0x00, 0xff, 0xfe, '\n', 'a', 'b', '\n', '\r', '\n'};
    fwrite(junk, 1, sizeof(junk), fp);
    fputs(EICAR_MD5 "\r\n", fp);
    for (int i = 0; i < 100000; i++)
        fputc('a', fp);
    static const char nul_tail[] = "\n" EICAR_MD5 "\0tail\n";
    fwrite(nul_tail, 1, sizeof(nul_tail) - 1, fp);
    fputs("d41d8cd98f00b204e9800998ecf8427e", fp);
    fclose(fp);
    char sub[4200];
    snprintf(sub, sizeof(sub), "%s/adir", h.dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    h_load(&h,
           "alert http any any -> any any (filemd5:hostile.md5; sid:1;)\n"
           "alert http any any -> any any (filemd5:adir; sid:2;)\n"
           "alert http any any -> any any (filemd5:; sid:3;)\n"
           "alert http any any -> any any (filemd5:!; sid:4;)\n",
           NULL);
    rmdir(sub);
    cr_assert_eq(h.rep.loaded, 1, "%s", h.errors);
    /* "ab" and the 100000-digit run are bad lines; the others load. */
    cr_assert(strstr(h.errors, "hostile.md5:2: filemd5: a hash of 2 hex digits, not 32") != NULL,
              "%s", h.errors);
    cr_assert(strstr(h.errors, "hostile.md5:5: filemd5: a hash of 100000 hex digits, not 32") !=
                  NULL,
              "%s", h.errors);
    cr_assert(strstr(h.errors, "test.rules:2: sid 2: filemd5: cannot read hash list") != NULL, "%s",
              h.errors);
    cr_assert(strstr(h.errors, "test.rules:3: sid 3: filemd5 needs a hash-list file name") != NULL,
              "%s", h.errors);
    cr_assert(strstr(h.errors, "test.rules:4: sid 4: filemd5 needs a hash-list file name") != NULL,
              "%s", h.errors);
    cr_assert_eq(h.rep.failed, 3 + 2);
    h_flow_packet(&h, FLOW_DIR_TOCLIENT);
    run_file(&h, "eicar", 68, "data", 0);
    cr_assert_eq(count(&h, 1), 1);
    h.nalerts = 0;
    struct detect_file empty = file_of("empty", 1, 0, "empty");
    empty.md5 = "d41d8cd98f00b204e9800998ecf8427e";
    detect_file(h.t, &h.p, h.f, &empty, NULL, on_alert, &h);
    cr_assert_eq(count(&h, 1), 1, "the last line, without a newline, loads");
    h_free(&h);
}
