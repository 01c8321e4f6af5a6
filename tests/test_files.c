/* test_files.c: the files layer: hashes, depth and memcap, YARA (load, cache, alerts), queue,
 * filestore, MIME. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "vigil/common.h"
#include "vigil/files.h"

#define EICAR_SHA256 "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
#define EICAR_MD5 "44d88612fea8a8f36de82e1278abb02f"
#define EICAR_SHA1 "3395856ce81f2b7382dee72602f798b642f14140"

/* The EICAR string, stored XOR 0x5a so this file does not carry it. */
static const uint8_t eicar_enc[68] = {
    0x02, 0x6f, 0x15, 0x7b, 0x0a, 0x7f, 0x1a, 0x1b, 0x0a, 0x01, 0x6e, 0x06, 0x0a, 0x00,
    0x02, 0x6f, 0x6e, 0x72, 0x0a, 0x04, 0x73, 0x6d, 0x19, 0x19, 0x73, 0x6d, 0x27, 0x7e,
    0x1f, 0x13, 0x19, 0x1b, 0x08, 0x77, 0x09, 0x0e, 0x1b, 0x14, 0x1e, 0x1b, 0x08, 0x1e,
    0x77, 0x1b, 0x14, 0x0e, 0x13, 0x0c, 0x13, 0x08, 0x0f, 0x09, 0x77, 0x0e, 0x1f, 0x09,
    0x0e, 0x77, 0x1c, 0x13, 0x16, 0x1f, 0x7b, 0x7e, 0x12, 0x71, 0x12, 0x70};

static void eicar(uint8_t out[68])
{
    for (int i = 0; i < 68; i++)
        out[i] = eicar_enc[i] ^ 0x5a;
}

static void digest_hex(const char *alg, const uint8_t *d, size_t n, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_Digest(d, n, md, &len, EVP_get_digestbyname(alg), NULL);
    for (unsigned i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Records and log lines the engine hands back, from any thread. */
struct sink {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    json_t *recs;
    json_t *logs;
    /* Gate: the first record from a thread other than main blocks until released. */
    int gate, gate_waiting, gate_open;
    pthread_t main;
};

static struct sink S;

static void sink_init(void)
{
    pthread_mutex_init(&S.lock, NULL);
    pthread_cond_init(&S.cond, NULL);
    S.recs = json_array();
    S.logs = json_array();
    S.gate = S.gate_waiting = S.gate_open = 0;
    S.main = pthread_self();
}

static void sink_fini(void)
{
    json_decref(S.recs);
    json_decref(S.logs);
}

static void emit_cb(void *ctx, json_t *rec)
{
    pthread_mutex_lock(&S.lock);
    if (S.gate && !pthread_equal(pthread_self(), S.main)) {
        S.gate_waiting = 1;
        pthread_cond_broadcast(&S.cond);
        while (!S.gate_open)
            pthread_cond_wait(&S.cond, &S.lock);
    }
    json_array_append(S.recs, rec);
    pthread_mutex_unlock(&S.lock);
}

static void log_cb(void *ctx, const char *msg)
{
    pthread_mutex_lock(&S.lock);
    json_array_append_new(S.logs, json_string(msg));
    pthread_mutex_unlock(&S.lock);
}

static void base_config(struct file_config *c)
{
    file_config_init(c);
    c->emit = emit_cb;
    c->log = log_cb;
}

static const char *bundled_rules(void)
{
    static char p[4096];
    snprintf(p, sizeof(p), "%s/rules/yara/vigil.yar", tu_env("VIGIL_SOURCE_DIR"));
    return p;
}

static json_t *header(void)
{
    return json_pack("{s:s, s:I, s:s, s:s, s:i, s:s, s:i, s:s}", "timestamp",
                     "2024-05-01T10:00:00.000000+0000", "flow_id", (json_int_t)1234567890123,
                     "event_type", "fileinfo", "src_ip", "10.1.1.1", "src_port", 80, "dest_ip",
                     "10.2.2.2", "dest_port", 50000, "proto", "TCP");
}

/* Runs one file through t: content in chunks of chunk bytes. */
static void feed(struct file_thread *t, const char *name, const uint8_t *d, size_t n, size_t chunk,
                 int truncated)
{
    struct file_meta m = {.app_proto = "http",
                          .tx_id = 3,
                          .direction = FILE_TOCLIENT,
                          .name = (const uint8_t *)name,
                          .name_len = strlen(name),
                          .record = header()};
    struct vfile *f = file_open(t, &m);
    cr_assert_not_null(f);
    for (size_t off = 0; off < n; off += chunk)
        file_append(f, d + off, VG_MIN(chunk, n - off));
    file_close(f, truncated);
}

/* The n-th record of event_type, or NULL. */
static json_t *rec_nth(const char *type, size_t nth)
{
    size_t i;
    json_t *r;
    json_array_foreach(S.recs, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "event_type")), type) == 0 && nth-- == 0)
            return r;
    }
    return NULL;
}

static size_t rec_count(const char *type)
{
    size_t n = 0;
    while (rec_nth(type, n) != NULL)
        n++;
    return n;
}

static const char *fi_str(json_t *r, const char *key)
{
    return json_string_value(json_object_get(json_object_get(r, "fileinfo"), key));
}

static long long fi_int(json_t *r, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(r, "fileinfo"), key));
}

static int logs_contain(const char *needle)
{
    size_t i;
    json_t *l;
    json_array_foreach(S.logs, i, l) if (strstr(json_string_value(l), needle)) return 1;
    return 0;
}

TestSuite(files, .init = sink_init, .fini = sink_fini, .timeout = 30);

Test(files, eicar_hashes_in_chunks)
{
    struct file_config c;
    base_config(&c);
    char err[VG_ERRBUF_SIZE];
    struct file_engine *e = file_engine_new(&c, err);
    cr_assert_not_null(e, "%s", err);
    struct file_thread *t = file_thread_new(e, err);
    cr_assert_not_null(t, "%s", err);
    uint8_t d[68];
    eicar(d);
    feed(t, "/download/eicar.com", d, sizeof(d), 7, 0);
    file_thread_free(t);
    file_engine_free(e);

    cr_assert_eq(json_array_size(S.recs), 1);
    json_t *r = rec_nth("fileinfo", 0);
    cr_assert_not_null(r);
    cr_assert_str_eq(fi_str(r, "sha256"), EICAR_SHA256);
    cr_assert_str_eq(fi_str(r, "md5"), EICAR_MD5);
    cr_assert_str_eq(fi_str(r, "sha1"), EICAR_SHA1);
    cr_assert_str_eq(fi_str(r, "state"), "CLOSED");
    cr_assert_str_eq(fi_str(r, "filename"), "/download/eicar.com");
    cr_assert_eq(fi_int(r, "size"), 68);
    cr_assert_eq(fi_int(r, "tx_id"), 3);
    cr_assert_not_null(fi_str(r, "magic"));
    cr_assert(json_is_false(json_object_get(json_object_get(r, "fileinfo"), "stored")));
    cr_assert(json_is_false(json_object_get(json_object_get(r, "fileinfo"), "gaps")));
    cr_assert_str_eq(tu_str(r, "app_proto"), "http");
    cr_assert_eq(tu_int(r, "flow_id"), 1234567890123LL);
    cr_assert_null(json_object_get(json_object_get(r, "fileinfo"), "yara"));
}

Test(files, multi_chunk_file_and_magic)
{
    struct file_config c;
    base_config(&c);
    char err[VG_ERRBUF_SIZE];
    struct file_engine *e = file_engine_new(&c, err);
    struct file_thread *t = file_thread_new(e, err);
    size_t n = 1 << 20;
    uint8_t *d = malloc(n);
    memcpy(d, "%PDF-1.4\n", 9);
    uint32_t x = 12345;
    for (size_t i = 9; i < n; i++) {
        x = x * 1103515245 + 12345;
        d[i] = (uint8_t)(x >> 16);
    }
    char md5[33], sha1[41], sha256[65];
    digest_hex("MD5", d, n, md5);
    digest_hex("SHA1", d, n, sha1);
    digest_hex("SHA256", d, n, sha256);
    feed(t, "doc.pdf", d, n, 1460, 0);
    free(d);
    file_thread_free(t);
    file_engine_free(e);
    json_t *r = rec_nth("fileinfo", 0);
    cr_assert_str_eq(fi_str(r, "md5"), md5);
    cr_assert_str_eq(fi_str(r, "sha1"), sha1);
    cr_assert_str_eq(fi_str(r, "sha256"), sha256);
    cr_assert_eq(fi_int(r, "size"), (long long)n);
    cr_assert(strstr(fi_str(r, "magic"), "PDF") != NULL, "magic: %s", fi_str(r, "magic"));
}

/* libmagic's answer is remembered by the first bytes: the same start is not asked twice, a
 * different start (even one byte, even at the same length) is, and the answers stay right. */
Test(files, magic_memo_by_first_bytes)
{
    struct file_config c;
    base_config(&c);
    char err[VG_ERRBUF_SIZE];
    struct file_engine *e = file_engine_new(&c, err);
    cr_assert_not_null(e, "%s", err);
    struct file_thread *t = file_thread_new(e, err);
    cr_assert_not_null(t, "%s", err);
    uint8_t pdf[600], png[600];
    memset(pdf, 'A', sizeof(pdf));
    memcpy(pdf, "%PDF-1.4\n", 9);
    memset(png, 0, sizeof(png));
    memcpy(png, "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0", 29);
    feed(t, "a.pdf", pdf, sizeof(pdf), 100, 0);
    feed(t, "b.pdf", pdf, sizeof(pdf), 250, 0); /* same bytes: from the memo */
    feed(t, "c.png", png, sizeof(png), 600, 0);
    pdf[0] = 'x';                              /* same length, one byte differs: asked again */
    feed(t, "d.txt", pdf, sizeof(pdf), 600, 0);
    struct file_stats st;
    file_thread_free(t);
    file_engine_drain(e); /* the pool's thread guesses the types */
    file_engine_get_stats(e, &st);
    file_engine_free(e);
    cr_assert_eq(st.closed, 4);
    cr_assert_eq(st.magic_cached, 1);
    cr_assert_str_eq(fi_str(rec_nth("fileinfo", 0), "magic"), fi_str(rec_nth("fileinfo", 1), "magic"));
    cr_assert(strstr(fi_str(rec_nth("fileinfo", 0), "magic"), "PDF") != NULL);
    cr_assert(strstr(fi_str(rec_nth("fileinfo", 2), "magic"), "PNG") != NULL);
    cr_assert(strstr(fi_str(rec_nth("fileinfo", 3), "magic"), "PDF") == NULL, "%s",
              fi_str(rec_nth("fileinfo", 3), "magic"));
}

Test(files, depth_truncates_and_hashes_the_prefix)
{
    struct file_config c;
    base_config(&c);
    c.depth = 1000;
    char err[VG_ERRBUF_SIZE];
    struct file_engine *e = file_engine_new(&c, err);
    struct file_thread *t = file_thread_new(e, err);
    uint8_t d[5000];
    for (size_t i = 0; i < sizeof(d); i++)
        d[i] = (uint8_t)(i * 7);
    struct file_meta m = {.app_proto = "http", .record = header()};
    struct vfile *f = file_open(t, &m);
    cr_assert_eq(file_append(f, d, 600), 0);
    cr_assert_eq(file_append(f, d + 600, 600), 1, "past the depth");
    cr_assert_eq(file_append(f, d + 1200, 3800), 1);
    file_close(f, 0);
    /* A transfer cut short by the caller is TRUNCATED too. */
    feed(t, "x", d, 10, 10, 1);
    file_thread_free(t);
    file_engine_free(e);
    char sha256[65];
    digest_hex("SHA256", d, 1000, sha256);
    json_t *r = rec_nth("fileinfo", 0);
    cr_assert_str_eq(fi_str(r, "state"), "TRUNCATED");
    cr_assert_eq(fi_int(r, "size"), 1000);
    cr_assert_str_eq(fi_str(r, "sha256"), sha256);
    cr_assert_str_eq(fi_str(rec_nth("fileinfo", 1), "state"), "TRUNCATED");
}

Test(files, memcap_stops_keeping_content_not_hashing)
{
    char *dir = tu_tmpdir();
    struct file_config c;
    base_config(&c);
    c.memcap = 40000;
    c.filestore = 1;
    c.filestore_dir = dir;
    char err[VG_ERRBUF_SIZE];
    struct file_engine *e = file_engine_new(&c, err);
    cr_assert_not_null(e, "%s", err);
    struct file_thread *t = file_thread_new(e, err);
    size_t n = 100000;
    uint8_t *d = malloc(n);
    for (size_t i = 0; i < n; i++)
        d[i] = (uint8_t)(i ^ (i >> 8));
    feed(t, "big.bin", d, n, 1000, 0);
    char sha256[65];
    digest_hex("SHA256", d, n, sha256);
    free(d);
    file_thread_free(t);
    struct file_stats st;
    file_engine_drain(e);
    file_engine_get_stats(e, &st);
    file_engine_free(e);
    cr_assert_eq(st.memcap, 1);
    cr_assert_eq(st.stored, 0);
    json_t *r = rec_nth("fileinfo", 0);
    cr_assert_str_eq(fi_str(r, "sha256"), sha256);
    cr_assert_eq(fi_int(r, "size"), (long long)n);
    cr_assert(json_is_false(json_object_get(json_object_get(r, "fileinfo"), "stored")));
    char p[4096];
    snprintf(p, sizeof(p), "%s/%.2s/%s", dir, sha256, sha256);
    cr_assert_neq(access(p, F_OK), 0, "a partial file must not be stored");
    free(dir);
}

static uint32_t expected_sid(const char *rule)
{
    unsigned char d[32];
    unsigned n;
    EVP_Digest(rule, strlen(rule), d, &n, EVP_sha256(), NULL);
    uint32_t x = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
    return 3000000000u + x % 1000000000u;
}

Test(files, yara_eicar_fileinfo_and_alert)
{
    struct file_config c;
    base_config(&c);
    const char *rules = bundled_rules();
    c.yara_rules = (char **)&rules;
    c.n_yara_rules = 1;
    char err[VG_ERRBUF_SIZE];
    struct file_engine *e = file_engine_new(&c, err);
    cr_assert_not_null(e, "%s", err);
    struct file_rules_info info;
    file_engine_rules_info(e, &info);
    cr_assert_eq(info.files, 1);
    cr_assert_eq(info.files_bad, 0);
    cr_assert_geq(info.rules, 4);
    struct file_thread *t = file_thread_new(e, err);
    uint8_t d[68];
    eicar(d);
    feed(t, "eicar.com", d, sizeof(d), 68, 0);
    feed(t, "clean.txt", (const uint8_t *)"hello world\n", 12, 12, 0);
    file_thread_free(t);
    struct file_stats st;
    file_engine_free(e);

    cr_assert_eq(rec_count("fileinfo"), 2);
    cr_assert_eq(rec_count("alert"), 1);
    json_t *fi = NULL;
    for (size_t i = 0; i < 2; i++)
        if (strcmp(fi_str(rec_nth("fileinfo", i), "filename"), "eicar.com") == 0)
            fi = rec_nth("fileinfo", i);
    cr_assert_not_null(fi);
    json_t *y = json_object_get(json_object_get(fi, "fileinfo"), "yara");
    cr_assert_eq(json_array_size(y), 1);
    json_t *m = json_array_get(y, 0);
    cr_assert_str_eq(json_string_value(json_object_get(m, "rule")), "Vigil_EICAR_Test_File");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "tags"), 0)), "test");
    cr_assert_str_eq(tu_str(m, "meta.category"), "Test file");
    cr_assert_eq(tu_int(m, "meta.severity"), 3);

    json_t *a = rec_nth("alert", 0);
    cr_assert_str_eq(tu_str(a, "alert.signature"), "YARA Vigil_EICAR_Test_File");
    cr_assert_eq(tu_int(a, "alert.signature_id"), (long long)expected_sid("Vigil_EICAR_Test_File"));
    cr_assert_eq(tu_int(a, "alert.signature_id"),
                 (long long)file_yara_sid("Vigil_EICAR_Test_File"));
    cr_assert_eq(tu_int(a, "alert.gid"), 1);
    cr_assert_str_eq(tu_str(a, "alert.category"), "Test file");
    cr_assert_eq(tu_int(a, "alert.severity"), 3);
    cr_assert_eq(tu_int(a, "flow_id"), 1234567890123LL);
    cr_assert_str_eq(tu_str(a, "src_ip"), "10.1.1.1");
    cr_assert_eq(tu_int(a, "dest_port"), 50000);
    cr_assert_eq(tu_int(a, "tx_id"), 3);
    cr_assert_str_eq(tu_str(a, "app_proto"), "http");
    cr_assert_str_eq(tu_str(a, "fileinfo.sha256"), EICAR_SHA256);
    (void)st;
}

Test(files, yara_externals_and_pe_rule)
{
    struct file_config c;
    base_config(&c);
    const char *rules = bundled_rules();
    c.yara_rules = (char **)&rules;
    c.n_yara_rules = 1;
    char err[VG_ERRBUF_SIZE];
    struct file_engine *e = file_engine_new(&c, err);
    struct file_thread *t = file_thread_new(e, err);
    uint8_t pe[512] = {'M', 'Z'};
    pe[0x3c] = 0x80;
    memcpy(pe + 0x80, "PE\0\0", 4);
    feed(t, "/files/invoice.pdf.exe", pe, sizeof(pe), 100, 0);
    file_thread_free(t);
    file_engine_free(e);
    cr_assert_eq(rec_count("alert"), 2);
    int pe_hit = 0, name_hit = 0;
    for (size_t i = 0; i < 2; i++) {
        const char *sig = tu_str(rec_nth("alert", i), "alert.signature");
        pe_hit |= strcmp(sig, "YARA Vigil_PE_Executable") == 0;
        name_hit |= strcmp(sig, "YARA Vigil_Double_Extension") == 0;
    }
    cr_assert(pe_hit && name_hit);
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
}

Test(files, broken_rule_file_reported_rest_load_and_cache)
{
    char *dir = tu_tmpdir();
    char sub[2048], p[4096], cache[4096];
    snprintf(sub, sizeof(sub), "%s/rules", dir);
    mkdir(sub, 0700);
    snprintf(p, sizeof(p), "%s/a_good.yar", sub);
    write_text(p, "rule Good_One { strings: $a = \"hello world\" condition: $a }\n");
    snprintf(p, sizeof(p), "%s/b_bad.yar", sub);
    write_text(p, "rule Bad_One {\n  strings: $a = \"x\"\n  condition: $a and nosuchthing\n}\n");
    snprintf(p, sizeof(p), "%s/c_good.yara", sub);
    write_text(p, "rule Good_Two : t { meta: severity = 1 condition: filename == \"n.txt\" }\n");
    snprintf(p, sizeof(p), "%s/ignored.txt", sub);
    write_text(p, "not a rule");
    snprintf(cache, sizeof(cache), "%s/cache", dir);

    struct file_config c;
    base_config(&c);
    char *rules = sub;
    c.yara_rules = &rules;
    c.n_yara_rules = 1;
    c.yara_cache_dir = cache;
    char err[VG_ERRBUF_SIZE];
    struct file_rules_info info[2];
    for (int round = 0; round < 2; round++) {
        json_array_clear(S.logs);
        struct file_engine *e = file_engine_new(&c, err);
        cr_assert_not_null(e, "%s", err);
        file_engine_rules_info(e, &info[round]);
        char want[4200];
        snprintf(want, sizeof(want), "%s/b_bad.yar:3: ", sub);
        cr_assert(logs_contain(want), "round %d: no '%s' in %s", round, want,
                  json_dumps(S.logs, 0));
        struct file_thread *t = file_thread_new(e, err);
        feed(t, "n.txt", (const uint8_t *)"say hello world", 15, 15, 0);
        file_thread_free(t);
        file_engine_free(e);
    }
    cr_assert_eq(info[0].from_cache, 0);
    cr_assert_eq(info[1].from_cache, 1);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(info[i].files, 3);
        cr_assert_eq(info[i].files_bad, 1);
        cr_assert_eq(info[i].rules, 2);
    }
    /* Both rounds: both good rules matched the file. */
    cr_assert_eq(rec_count("alert"), 4);
    cr_assert_eq(tu_int(rec_nth("alert", 0), "alert.severity") +
                     tu_int(rec_nth("alert", 1), "alert.severity"),
                 3);
    /* A changed source misses the cache. */
    snprintf(p, sizeof(p), "%s/b_bad.yar", sub);
    write_text(p, "rule Bad_Fixed { condition: true }\n");
    struct file_engine *e = file_engine_new(&c, err);
    file_engine_rules_info(e, &info[0]);
    file_engine_free(e);
    cr_assert_eq(info[0].from_cache, 0);
    cr_assert_eq(info[0].files_bad, 0);
    cr_assert_eq(info[0].rules, 3);
    free(dir);
}

Test(files, missing_rule_path_is_an_error)
{
    struct file_config c;
    base_config(&c);
    char *rules = "/nonexistent/rules.yar";
    c.yara_rules = &rules;
    c.n_yara_rules = 1;
    char err[VG_ERRBUF_SIZE] = "";
    cr_assert_null(file_engine_new(&c, err));
    cr_assert(strstr(err, "/nonexistent/rules.yar") != NULL, "%s", err);
    c.n_yara_rules = 0;
    c.emit = NULL;
    cr_assert_null(file_engine_new(&c, err));
}

Test(files, queue_full_counts_and_never_blocks)
{
    struct file_config c;
    base_config(&c);
    const char *rules = bundled_rules();
    c.yara_rules = (char **)&rules;
    c.n_yara_rules = 1;
    c.yara_queue = 1;
    char err[VG_ERRBUF_SIZE];
    struct file_engine *e = file_engine_new(&c, err);
    struct file_thread *t = file_thread_new(e, err);
    uint8_t d[68];
    eicar(d);
    S.gate = 1;
    feed(t, "first", d, sizeof(d), 68, 0);
    /* Wait until the scanner holds the first file (blocked in emit). */
    pthread_mutex_lock(&S.lock);
    while (!S.gate_waiting)
        pthread_cond_wait(&S.cond, &S.lock);
    pthread_mutex_unlock(&S.lock);
    vg_time_t t0 = vg_monotonic();
    for (int i = 0; i < 50; i++)
        feed(t, "more", d, sizeof(d), 68, 0);
    vg_time_t took = vg_monotonic() - t0;
    struct file_stats st;
    file_engine_get_stats(e, &st);
    cr_assert_eq(st.skipped_scan, 49, "one queued, 49 skipped: %llu",
                 (unsigned long long)st.skipped_scan);
    /* The skipped ones were emitted at once, without YARA. */
    pthread_mutex_lock(&S.lock);
    cr_assert_eq(json_array_size(S.recs), 49);
    cr_assert_null(json_object_get(json_object_get(json_array_get(S.recs, 0), "fileinfo"), "yara"));
    S.gate_open = 1;
    pthread_cond_broadcast(&S.cond);
    pthread_mutex_unlock(&S.lock);
    file_thread_free(t);
    file_engine_free(e);
    cr_assert_lt(took, 2 * VG_USEC_PER_SEC);
    cr_assert_eq(rec_count("fileinfo"), 51);
    cr_assert_eq(rec_count("alert"), 2, "the two scanned files alert");
}

/* Counts the regular files under dir, recursively; stores a path to one named name. */
static int count_files(const char *dir, const char *name, int *found)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) != 0)
            continue;
        if (name != NULL && strstr(de->d_name, name) != NULL)
            *found = 1;
        if (S_ISDIR(st.st_mode))
            n += count_files(p, name, found);
        else
            n++;
    }
    closedir(d);
    return n;
}

static void rm_rf(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(files, filestore_layout_atomic_and_names_never_paths)
{
    char *dir = tu_tmpdir();
    char store[4096];
    snprintf(store, sizeof(store), "%s/store", dir);
    struct file_config c;
    base_config(&c);
    c.filestore = 1;
    c.filestore_dir = store;
    char err[VG_ERRBUF_SIZE];
    struct file_engine *e = file_engine_new(&c, err);
    cr_assert_not_null(e, "%s", err);
    struct file_thread *t = file_thread_new(e, err);
    uint8_t d[68];
    eicar(d);
    feed(t, "../../etc/passwd", d, sizeof(d), 10, 0);
    feed(t, "/tmp/again", d, sizeof(d), 68, 0); /* same content: stored once */
    feed(t, "other", (const uint8_t *)"other content", 13, 13, 0);
    file_thread_free(t);
    struct file_stats st;
    file_engine_drain(e);
    file_engine_get_stats(e, &st);
    file_engine_free(e);
    cr_assert_eq(st.stored, 2);
    cr_assert_eq(st.store_dups, 1);

    char p[4200];
    snprintf(p, sizeof(p), "%s/27/%s", store, EICAR_SHA256);
    FILE *fp = fopen(p, "rb");
    cr_assert_not_null(fp, "%s missing", p);
    uint8_t back[100];
    size_t n = fread(back, 1, sizeof(back), fp);
    fclose(fp);
    cr_assert_eq(n, 68);
    cr_assert_eq(memcmp(back, d, 68), 0);
    strcat(p, ".json");
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    cr_assert_not_null(j, "%s: %s", p, je.text);
    cr_assert_str_eq(tu_str(j, "fileinfo.sha256"), EICAR_SHA256);
    cr_assert_str_eq(tu_str(j, "fileinfo.filename"), "../../etc/passwd");
    cr_assert(json_is_true(json_object_get(json_object_get(j, "fileinfo"), "stored")));
    cr_assert_eq(tu_int(j, "flow_id"), 1234567890123LL);
    json_decref(j);

    /* Only the two stored files and their .json: nothing in tmp, no name from traffic. */
    int found = 0;
    cr_assert_eq(count_files(store, "passwd", &found), 4);
    cr_assert_eq(found, 0);
    snprintf(p, sizeof(p), "%s/tmp", store);
    cr_assert_eq(count_files(p, NULL, &found), 0);
    snprintf(p, sizeof(p), "%s/etc/passwd", dir);
    cr_assert_neq(access(p, F_OK), 0);
    for (size_t i = 0; i < 3; i++)
        cr_assert(json_is_true(
            json_object_get(json_object_get(rec_nth("fileinfo", i), "fileinfo"), "stored")));
    rm_rf(dir);
    free(dir);
}

Test(files, filestore_policy_yara_and_alert)
{
    char *dir = tu_tmpdir();
    struct file_config c;
    base_config(&c);
    const char *rules = bundled_rules();
    c.yara_rules = (char **)&rules;
    c.n_yara_rules = 1;
    c.filestore = 1;
    c.filestore_dir = dir;
    c.filestore_policy = FILE_STORE_YARA;
    char err[VG_ERRBUF_SIZE];
    struct file_engine *e = file_engine_new(&c, err);
    struct file_thread *t = file_thread_new(e, err);
    uint8_t d[68];
    eicar(d);
    feed(t, "e", d, sizeof(d), 68, 0);
    feed(t, "c", (const uint8_t *)"clean", 5, 5, 0);
    file_thread_free(t);
    struct file_stats st;
    file_engine_drain(e);
    file_engine_get_stats(e, &st);
    file_engine_free(e);
    cr_assert_eq(st.stored, 1);

    /* alert: a file the caller marked is stored though YARA is silent. */
    c.filestore_policy = FILE_STORE_ALERT;
    e = file_engine_new(&c, err);
    t = file_thread_new(e, err);
    struct file_meta m = {.app_proto = "http", .record = header()};
    struct vfile *f = file_open(t, &m);
    file_append(f, (const uint8_t *)"marked", 6);
    file_set_alerted(f);
    file_close(f, 0);
    feed(t, "c2", (const uint8_t *)"unmarked", 8, 8, 0);
    file_thread_free(t);
    file_engine_drain(e);
    file_engine_get_stats(e, &st);
    file_engine_free(e);
    cr_assert_eq(st.stored, 1);
    rm_rf(dir);
    free(dir);
}

Test(files, filename_bytes_escaped_range_and_gaps)
{
    struct file_config c;
    base_config(&c);
    char err[VG_ERRBUF_SIZE];
    struct file_engine *e = file_engine_new(&c, err);
    struct file_thread *t = file_thread_new(e, err);
    static const uint8_t name[] = {'a', 0xff, '"', '\n', 'b'};
    struct file_meta m = {.app_proto = "http",
                          .name = name,
                          .name_len = sizeof(name),
                          .flags = FILE_F_PARTIAL | FILE_F_RANGE,
                          .range_start = 100,
                          .range_end = 104,
                          .record = header()};
    struct vfile *f = file_open(t, &m);
    json_object_set_new(file_record(f), "http", json_pack("{s:i}", "status", 206));
    file_append(f, (const uint8_t *)"12345", 5);
    file_note_gap(f);
    file_close(f, 0);
    file_thread_free(t);
    file_engine_free(e);
    json_t *r = rec_nth("fileinfo", 0);
    char *line = json_dumps(r, JSON_COMPACT);
    cr_assert(strstr(line, "\"filename\":\"a\\\\xff\\\"\\\\x0ab\"") != NULL ||
                  strstr(line, "\"filename\":\"a\\\\xff\\\"\\nb\"") != NULL,
              "%s", line);
    free(line);
    cr_assert_eq(fi_int(r, "start"), 100);
    cr_assert_eq(fi_int(r, "end"), 104);
    cr_assert(json_is_true(json_object_get(json_object_get(r, "fileinfo"), "gaps")));
    cr_assert_eq(tu_int(r, "http.status"), 206);
}

Test(files, config_keys)
{
    struct config *cfg = config_new();
    char err[VG_ERRBUF_SIZE];
    cr_assert_eq(config_load_string(cfg,
                                    "files:\n  depth: 1mb\n  memcap: 64mb\n  magic: no\n"
                                    "yara-rules:\n  - a.yar\n  - dir/\n"
                                    "yara:\n  cache-dir: /var/cache/x\n  threads: 3\n"
                                    "  queue: 10\n  timeout: 5\n"
                                    "filestore:\n  dir: /srv/files\n  policy: yara\n",
                                    "test", err),
                 0, "%s", err);
    struct file_config c;
    file_config_init(&c);
    cr_assert_eq(file_config_load(&c, cfg, err), 0, "%s", err);
    cr_assert_eq(c.depth, 1 << 20);
    cr_assert_eq(c.memcap, 64 << 20);
    cr_assert_eq(c.magic, 0);
    cr_assert_eq(c.n_yara_rules, 2);
    cr_assert_str_eq(c.yara_rules[1], "dir/");
    cr_assert_str_eq(c.yara_cache_dir, "/var/cache/x");
    cr_assert_eq(c.yara_threads, 3);
    cr_assert_eq(c.yara_queue, 10);
    cr_assert_eq(c.yara_timeout, 5);
    cr_assert_eq(c.filestore, 1);
    cr_assert_str_eq(c.filestore_dir, "/srv/files");
    cr_assert_eq(c.filestore_policy, FILE_STORE_YARA);
    file_config_free(&c);
    config_free(cfg);

    cfg = config_new();
    config_load_string(cfg, "filestore:\n  dir: /x\n  policy: some\n", "test", err);
    file_config_init(&c);
    cr_assert_eq(file_config_load(&c, cfg, err), -1);
    cr_assert(strstr(err, "filestore.policy") != NULL, "%s", err);
    file_config_free(&c);
    config_free(cfg);
}

/* A message with a text body, a base64 EICAR attachment, a quoted-printable text attachment,
 * an inline image without a name inside multipart/alternative, and a forwarded message/rfc822
 * carrying one more attachment. */
static const char *mime_message(void)
{
    return "From: a@example.org\r\n"
           "To: b@example.org\r\n"
           "Subject: files\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=\"OUTER\"\r\n"
           "\r\n"
           "preamble\r\n"
           "--OUTER\r\n"
           "Content-Type: multipart/alternative; boundary=\"INNER\"\r\n"
           "\r\n"
           "--INNER\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n"
           "\r\n"
           "Hello, see attached.\r\n"
           "--INNER\r\n"
           "Content-Type: image/png\r\n"
           "Content-Transfer-Encoding: base64\r\n"
           "\r\n"
           "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJ"
           "RU5ErkJggg==\r\n"
           "--INNER--\r\n"
           "--OUTER\r\n"
           "Content-Type: application/octet-stream; name=\"eicar.com\"\r\n"
           "Content-Disposition: attachment; filename=\"eicar.com\"\r\n"
           "Content-Transfer-Encoding: base64\r\n"
           "\r\n"
           "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJV\r\n"
           "Uy1URVNULUZJTEUhJEgrSCo=\r\n"
           "--OUTER\r\n"
           "Content-Type: text/plain; charset=iso-8859-1\r\n"
           "Content-Disposition: attachment; filename*=UTF-8''notes%20%C3%A9.txt\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n"
           "\r\n"
           "a=3Db caf=E9 and a very long line that is wrapped with a soft line br=\r\n"
           "eak here.\r\n"
           "--OUTER\r\n"
           "Content-Type: message/rfc822\r\n"
           "\r\n"
           "Subject: inner\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=\"FWD\"\r\n"
           "\r\n"
           "--FWD\r\n"
           "Content-Type: application/pdf\r\n"
           "Content-Disposition: attachment; filename=\"../../x.pdf\"\r\n"
           "Content-Transfer-Encoding: base64\r\n"
           "\r\n"
           "JVBERi0xLjQKJSVFT0YK\r\n"
           "--FWD--\r\n"
           "--OUTER--\r\n";
}

struct parts {
    int n;
    char name[8][128];
    char sha256[8][65];
    size_t len[8];
};

static void collect_part(void *ctx, const char *name, const char *type, const uint8_t *data,
                         size_t len)
{
    struct parts *p = ctx;
    if (p->n >= 8)
        return;
    snprintf(p->name[p->n], sizeof(p->name[0]), "%s", name ? name : "");
    digest_hex("SHA256", data, len, p->sha256[p->n]);
    p->len[p->n] = len;
    p->n++;
}

Test(files, mime_parts_decoded_exactly)
{
    const char *msg = mime_message();
    struct parts p = {0};
    cr_assert_eq(file_mime_parse((const uint8_t *)msg, strlen(msg), collect_part, &p), 4);
    cr_assert_str_eq(p.name[0], "");
    cr_assert_eq(p.len[0], 70, "the 1x1 PNG");
    cr_assert_str_eq(p.name[1], "eicar.com");
    cr_assert_str_eq(p.sha256[1], EICAR_SHA256);
    cr_assert_str_eq(p.name[2], "notes \xc3\xa9.txt");
    /* The CRLF before a boundary belongs to the boundary (RFC 2046). */
    const char qp[] =
        "a=b caf\xe9 and a very long line that is wrapped with a soft line break here.";
    char want[65];
    digest_hex("SHA256", (const uint8_t *)qp, strlen(qp), want);
    cr_assert_str_eq(p.sha256[2], want, "QP decoded to %zu bytes", p.len[2]);
    cr_assert_str_eq(p.name[3], "../../x.pdf");
    digest_hex("SHA256", (const uint8_t *)"%PDF-1.4\n%%EOF\n", 15, want);
    cr_assert_str_eq(p.sha256[3], want);
}

Test(files, mime_through_engine_with_yara_and_truncation)
{
    struct file_config c;
    base_config(&c);
    const char *rules = bundled_rules();
    c.yara_rules = (char **)&rules;
    c.n_yara_rules = 1;
    char err[VG_ERRBUF_SIZE];
    struct file_engine *e = file_engine_new(&c, err);
    struct file_thread *t = file_thread_new(e, err);
    const char *msg = mime_message();
    struct file_meta m = {
        .app_proto = "smtp", .tx_id = 0, .direction = FILE_TOSERVER, .record = header()};
    struct file_mime *mm = file_mime_new(t, &m);
    size_t n = strlen(msg);
    for (size_t off = 0; off < n; off += 100)
        cr_assert_eq(file_mime_append(mm, (const uint8_t *)msg + off, VG_MIN(100, n - off)), 0);
    cr_assert_eq(file_mime_close(mm, 0), 4);

    /* Cut inside the EICAR attachment: its part is the last, and TRUNCATED. */
    const char *cut = strstr(msg, "Uy1URVNU");
    m.record = header();
    mm = file_mime_new(t, &m);
    file_mime_append(mm, (const uint8_t *)msg, (size_t)(cut - msg));
    cr_assert_eq(file_mime_close(mm, 1), 2);
    file_thread_free(t);
    struct file_stats st;
    file_engine_drain(e);
    file_engine_get_stats(e, &st);
    file_engine_free(e);
    cr_assert_eq(st.mime_messages, 2);
    cr_assert_eq(st.mime_parts, 6);
    cr_assert_eq(rec_count("fileinfo"), 6);
    json_t *eicar_rec = NULL, *cut_rec = NULL;
    for (size_t i = 0; i < 6; i++) {
        json_t *r = rec_nth("fileinfo", i);
        if (strcmp(fi_str(r, "filename"), "eicar.com") == 0) {
            if (strcmp(fi_str(r, "state"), "CLOSED") == 0)
                eicar_rec = r;
            else
                cut_rec = r;
        }
        cr_assert_str_eq(tu_str(r, "app_proto"), "smtp");
    }
    cr_assert_not_null(eicar_rec);
    cr_assert_not_null(cut_rec);
    cr_assert_str_eq(fi_str(eicar_rec, "sha256"), EICAR_SHA256);
    cr_assert_str_eq(fi_str(cut_rec, "state"), "TRUNCATED");
    cr_assert_eq(rec_count("alert"), 1, "the complete EICAR alerts");
    cr_assert_str_eq(tu_str(rec_nth("alert", 0), "alert.signature"), "YARA Vigil_EICAR_Test_File");
}

Test(files, mime_garbage_and_limits)
{
    struct parts p = {0};
    cr_assert_eq(file_mime_parse((const uint8_t *)"", 0, collect_part, &p), 0);
    const char *junk = "\x00\x01garbage\r\n\r\n--x--\r\n";
    cr_assert_geq(file_mime_parse((const uint8_t *)junk, 20, collect_part, &p), -1);
    /* A message over files.mime-max is cut there. */
    struct file_config c;
    base_config(&c);
    c.mime_max = 300;
    char err[VG_ERRBUF_SIZE];
    struct file_engine *e = file_engine_new(&c, err);
    struct file_thread *t = file_thread_new(e, err);
    struct file_meta m = {.app_proto = "smtp", .record = header()};
    struct file_mime *mm = file_mime_new(t, &m);
    const char *msg = mime_message();
    cr_assert_eq(file_mime_append(mm, (const uint8_t *)msg, strlen(msg)), 1);
    cr_assert_geq(file_mime_close(mm, 0), 0);
    file_thread_free(t);
    file_engine_free(e);
}

Test(files, eve_sink_output_from_workers_and_scanners)
{
    char *dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof(path), "%s/eve.json", dir);
    char err[VG_ERRBUF_SIZE];
    struct eve_sink *sink = eve_sink_open(path, err);
    cr_assert_not_null(sink, "%s", err);
    struct file_config c;
    file_config_init(&c);
    c.sink = sink;
    c.log = log_cb;
    const char *rules = bundled_rules();
    c.yara_rules = (char **)&rules;
    c.n_yara_rules = 1;
    c.yara_threads = 2;
    struct file_engine *e = file_engine_new(&c, err);
    cr_assert_not_null(e, "%s", err);
    struct file_thread *t = file_thread_new(e, err);
    uint8_t d[68];
    eicar(d);
    for (int i = 0; i < 20; i++)
        feed(t, "e", d, sizeof(d), 68, 0);
    file_thread_free(t);
    file_engine_free(e);
    eve_sink_close(sink);
    struct tu_events ev = tu_read_eve(path);
    cr_assert_eq(tu_count(&ev, "fileinfo", NULL, NULL), 20);
    cr_assert_eq(tu_count(&ev, "alert", "alert.signature", "YARA Vigil_EICAR_Test_File"), 20);
    tu_events_free(&ev);
    rm_rf(dir);
    free(dir);
}

/*
 * A rule that would run for hours (a nested loop over every byte pair) hits yara.timeout: the
 * scan gives up after about a second, the timeout is counted, and the file's record is still
 * emitted, without a match, with the next file scanned normally.
 */
Test(files, yara_timeout_counted_not_hung, .timeout = 20)
{
    char *dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof(path), "%s/slow.yar", dir);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs("rule Slow_Pairs {\n  condition:\n    filesize > 1000 and\n"
          "    for all i in (0..filesize - 1) : (for all j in (0..filesize - 1) :\n"
          "      (uint8(i) + uint8(j) < 600))\n}\n"
          "rule Small_Hello {\n  strings: $a = \"hello\"\n  condition: $a and filesize < 100\n}\n",
          fp);
    cr_assert_eq(fclose(fp), 0);
    struct file_config c;
    base_config(&c);
    const char *rules = path;
    c.yara_rules = (char **)&rules;
    c.n_yara_rules = 1;
    c.yara_timeout = 1;
    char err[VG_ERRBUF_SIZE];
    struct file_engine *e = file_engine_new(&c, err);
    cr_assert_not_null(e, "%s", err);
    struct file_thread *t = file_thread_new(e, err);
    cr_assert_not_null(t, "%s", err);
    static uint8_t big[200000];
    memset(big, 'x', sizeof(big));
    vg_time_t t0 = vg_monotonic();
    feed(t, "big.bin", big, sizeof(big), 1460, 0);
    feed(t, "hello.txt", (const uint8_t *)"hello world\n", 12, 12, 0);
    file_thread_free(t);
    file_engine_drain(e);
    struct file_stats st;
    file_engine_get_stats(e, &st);
    file_engine_free(e);
    uint64_t took = (uint64_t)(vg_monotonic() - t0);
    cr_assert_eq(st.scanned, 2);
    cr_assert_eq(st.yara_timeouts, 1);
    cr_assert_eq(st.yara_errors, 0);
    cr_assert_eq(st.yara_matched, 1);
    cr_assert_lt(took, 8000000, "the timeout (1 s) bounds the scan: took %llu us",
                 (unsigned long long)took);
    cr_assert_eq(rec_count("fileinfo"), 2);
    cr_assert_eq(rec_count("alert"), 1);
    cr_assert_str_eq(tu_str(rec_nth("alert", 0), "alert.signature"), "YARA Small_Hello");
    tu_rmdir(dir);
    free(dir);
}

/*
 * Files scanned one after another, where the allocator may hand a file the memory of the one
 * before: each scan sees only its file's bytes. A (100000 bytes, "hello" at 60000) matches;
 * D (50000 bytes) must not; E (120000 bytes, "hello" at 110000) matches. The scan counters
 * (files.yara_scanned_bytes) cover exactly the bytes of the four files.
 */
Test(files, sequential_files_scan_only_their_bytes)
{
    char *dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof(path), "%s/hello.yar", dir);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs("rule Has_Hello {\n  strings: $a = \"hello\"\n  condition: $a\n}\n", fp);
    cr_assert_eq(fclose(fp), 0);
    struct file_config c;
    base_config(&c);
    const char *rules = path;
    c.yara_rules = (char **)&rules;
    c.n_yara_rules = 1;
    char err[VG_ERRBUF_SIZE];
    struct file_engine *e = file_engine_new(&c, err);
    cr_assert_not_null(e, "%s", err);
    struct file_thread *t = file_thread_new(e, err);
    cr_assert_not_null(t, "%s", err);
    static uint8_t a[100000], d[50000], big[120000];
    memset(a, 'x', sizeof(a));
    memcpy(a + 60000, "hello", 5);
    memset(d, 'x', sizeof(d));
    memset(big, 'y', sizeof(big));
    memcpy(big + 110000, "hello", 5);
    feed(t, "a.bin", a, sizeof(a), 1460, 0);
    file_engine_drain(e);
    feed(t, "c.txt", (const uint8_t *)"nothing to see here.", 20, 20, 0);
    file_engine_drain(e);
    feed(t, "d.bin", d, sizeof(d), 1460, 0);
    file_engine_drain(e);
    feed(t, "e.bin", big, sizeof(big), 1460, 0);
    file_thread_free(t);
    file_engine_drain(e);
    struct file_stats st;
    file_engine_get_stats(e, &st);
    file_engine_free(e);
    cr_assert_eq(st.scanned, 4);
    cr_assert_eq(st.scanned_bytes, 100000 + 20 + 50000 + 120000);
    cr_assert_eq(st.yara_matched, 2);
    cr_assert_eq(st.memcap, 0);
    cr_assert_eq(rec_count("fileinfo"), 4);
    const char *names[4] = {"a.bin", "c.txt", "d.bin", "e.bin"};
    const int match[4] = {1, 0, 0, 1};
    const long long sizes[4] = {100000, 20, 50000, 120000};
    for (int i = 0; i < 4; i++) {
        json_t *r = rec_nth("fileinfo", (size_t)i);
        cr_assert_str_eq(fi_str(r, "filename"), names[i]);
        cr_assert_eq(fi_int(r, "size"), sizes[i]);
        json_t *y = json_object_get(json_object_get(r, "fileinfo"), "yara");
        cr_assert_eq(y != NULL, match[i], "%s: yara %s", names[i],
                     match[i] ? "expected" : "not expected");
    }
    tu_rmdir(dir);
    free(dir);
}
