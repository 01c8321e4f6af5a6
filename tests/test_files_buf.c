/* test_files_buf.c: a file's content buffer: sized from the announced length, the memcap charged
 * by kept bytes, depth and memcap limits, the reserve of pre-faulted buffers (white-box: reads
 * the vfile and engine fields). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../sensor/file-internal.h"
#include "testutil.h"
#include "vigil/files.h"

static void no_emit(void *ctx, json_t *rec)
{
    (void)ctx;
    (void)rec;
}

static char *store_dir;

/* An engine keeping content (filestore into a fresh directory when store) with a buffer reserve
 * of reserve bytes (0: none, buffers sized exactly), and its thread. */
static struct file_engine *engine_r(uint64_t depth, uint64_t memcap, int store, uint64_t reserve,
                                    struct file_thread **t)
{
    struct file_config c;
    file_config_init(&c);
    c.emit = no_emit;
    c.depth = depth;
    c.memcap = memcap;
    c.reserve = reserve;
    if (store) {
        store_dir = tu_tmpdir();
        c.filestore = 1;
        c.filestore_dir = store_dir;
    }
    char err[VG_ERRBUF_SIZE];
    struct file_engine *e = file_engine_new(&c, err);
    cr_assert_not_null(e, "%s", err);
    *t = file_thread_new(e, err);
    cr_assert_not_null(*t, "%s", err);
    return e;
}

static struct file_engine *engine(uint64_t depth, uint64_t memcap, int store,
                                  struct file_thread **t)
{
    return engine_r(depth, memcap, store, 0, t);
}

static struct vfile *open_hinted(struct file_thread *t, uint64_t hint)
{
    struct file_meta m = {.app_proto = "http",
                          .direction = FILE_TOCLIENT,
                          .record = json_object(),
                          .size_hint = hint};
    struct vfile *f = file_open(t, &m);
    cr_assert_not_null(f);
    return f;
}

static uint8_t *pattern(size_t n)
{
    uint8_t *d = malloc(n);
    cr_assert_not_null(d);
    for (size_t i = 0; i < n; i++)
        d[i] = (uint8_t)(i * 7 ^ (i >> 9));
    return d;
}

static void append_all(struct vfile *f, const uint8_t *d, size_t n, size_t chunk)
{
    for (size_t off = 0; off < n; off += chunk)
        file_append(f, d + off, VG_MIN(chunk, n - off));
}

/* Asserts the filestore holds exactly d[0..n). */
static void stored_is(const uint8_t *d, size_t n)
{
    unsigned char md[32];
    unsigned len = 0;
    EVP_Digest(d, n, md, &len, EVP_sha256(), NULL);
    char hex[65];
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    char p[4200];
    snprintf(p, sizeof(p), "%s/%.2s/%s", store_dir, hex, hex);
    FILE *fp = fopen(p, "rb");
    cr_assert_not_null(fp, "%s not stored", p);
    uint8_t *got = malloc(n + 1);
    size_t r = fread(got, 1, n + 1, fp);
    fclose(fp);
    cr_assert_eq(r, n);
    cr_assert(memcmp(got, d, n) == 0);
    free(got);
}

static uint64_t buffered(struct file_engine *e)
{
    return __atomic_load_n(&e->buffered, __ATOMIC_RELAXED);
}

Test(files_buf, hint_sizes_the_buffer_once)
{
    struct file_thread *t;
    struct file_engine *e = engine(FILE_DEPTH_DEFAULT, FILE_MEMCAP_DEFAULT, 1, &t);
    size_t n = 100000;
    uint8_t *d = pattern(n);
    struct vfile *f = open_hinted(t, n);
    cr_assert_null(f->buf, "nothing is allocated before the first byte");
    file_append(f, d, 1448);
    uint8_t *first = f->buf;
    cr_assert_eq(f->buf_cap, n);
    cr_assert_eq(f->charged, 16384, "the memcap is charged by kept bytes, a step at a time");
    cr_assert_eq(buffered(e), 16384);
    append_all(f, d + 1448, n - 1448, 1448);
    cr_assert_eq(f->buf, first, "never regrown");
    cr_assert_eq(f->buf_cap, n);
    cr_assert_eq(f->buf_len, n);
    cr_assert_eq(f->charged, n, "the last step is cut at the capacity");
    cr_assert_eq(buffered(e), n);
    file_close(f, 0);
    file_engine_drain(e);
    cr_assert_eq(buffered(e), 0, "given back when the file is freed");
    struct file_stats st;
    file_engine_get_stats(e, &st);
    cr_assert_eq(st.stored, 1);
    cr_assert_eq(st.memcap, 0);
    stored_is(d, n);
    file_thread_free(t);
    file_engine_free(e);
    free(d);
    free(store_dir);
}

Test(files_buf, short_hint_regrows_by_doubling)
{
    struct file_thread *t;
    struct file_engine *e = engine(FILE_DEPTH_DEFAULT, FILE_MEMCAP_DEFAULT, 1, &t);
    size_t n = 50000;
    uint8_t *d = pattern(n);
    struct vfile *f = open_hinted(t, 3000);
    file_append(f, d, 1000);
    cr_assert_eq(f->buf_cap, 3000);
    append_all(f, d + 1000, n - 1000, 1000);
    cr_assert_eq(f->buf_cap, 96000, "3000 doubled until it holds 50000");
    cr_assert_eq(f->buf_len, n);
    cr_assert_eq(f->charged, 65536);
    file_close(f, 0);
    /* a first chunk longer than the hint: the hint is not believed */
    f = open_hinted(t, 10);
    file_append(f, d, 100);
    cr_assert_eq(f->buf_cap, 16384);
    file_close(f, 0);
    file_engine_drain(e);
    struct file_stats st;
    file_engine_get_stats(e, &st);
    cr_assert_eq(st.stored, 2);
    stored_is(d, n);
    stored_is(d, 100);
    file_thread_free(t);
    file_engine_free(e);
    free(d);
    free(store_dir);
}

Test(files_buf, hint_past_the_memcap_is_not_believed)
{
    struct file_thread *t;
    struct file_engine *e = engine(FILE_DEPTH_DEFAULT, 40000, 1, &t);
    size_t n = 100000;
    uint8_t *d = pattern(n);
    struct vfile *f = open_hinted(t, n);
    file_append(f, d, 1000);
    cr_assert_eq(f->buf_cap, 16384, "the doubling path, from 16 KiB");
    append_all(f, d + 1000, n - 1000, 1000);
    cr_assert(f->content_short);
    cr_assert_eq(f->buf_len, 32768, "kept up to the last step the memcap allowed");
    cr_assert_eq(f->charged, 32768);
    cr_assert_eq(f->size, n, "hashed in full");
    file_close(f, 0);
    file_engine_drain(e);
    struct file_stats st;
    file_engine_get_stats(e, &st);
    cr_assert_eq(st.memcap, 1, "counted once per file");
    cr_assert_eq(st.stored, 0, "a prefix is never stored");
    cr_assert_eq(buffered(e), 0);
    file_thread_free(t);
    file_engine_free(e);
    free(d);
    free(store_dir);
}

Test(files_buf, hint_past_the_depth_is_cut_to_it)
{
    struct file_thread *t;
    struct file_engine *e = engine(1000, FILE_MEMCAP_DEFAULT, 1, &t);
    uint8_t *d = pattern(5000);
    struct vfile *f = open_hinted(t, 5000);
    file_append(f, d, 600);
    cr_assert_eq(f->buf_cap, 1000);
    cr_assert_eq(file_append(f, d + 600, 600), 1, "past the depth");
    cr_assert_eq(f->buf_len, 1000);
    cr_assert_eq(f->charged, 1000);
    cr_assert_eq(f->size, 1000);
    cr_assert(!f->content_short);
    file_close(f, 0);
    file_engine_drain(e);
    struct file_stats st;
    file_engine_get_stats(e, &st);
    cr_assert_eq(st.truncated, 1);
    cr_assert_eq(st.memcap, 0);
    file_thread_free(t);
    file_engine_free(e);
    free(d);
    free(store_dir);
}

/* A claimed length costs address space, not memcap: only the bytes that came are charged. */
Test(files_buf, a_false_large_hint_charges_only_kept_bytes)
{
    struct file_thread *t;
    struct file_engine *e = engine(FILE_DEPTH_DEFAULT, FILE_MEMCAP_DEFAULT, 1, &t);
    struct vfile *f = open_hinted(t, 8u << 20);
    file_append(f, (const uint8_t *)"0123456789", 10);
    cr_assert_eq(f->buf_cap, 8u << 20);
    cr_assert_eq(f->charged, 16384);
    cr_assert_eq(buffered(e), 16384);
    struct vfile *g = open_hinted(t, 8u << 20);
    file_close(g, 1); /* no byte: nothing allocated or charged */
    cr_assert_eq(buffered(e), 16384);
    file_close(f, 1);
    file_engine_drain(e);
    cr_assert_eq(buffered(e), 0);
    file_thread_free(t);
    file_engine_free(e);
    free(store_dir);
}

/* Without YARA or a filestore only libmagic's first bytes are kept, whatever the hint. */
Test(files_buf, magic_only_keeps_the_first_bytes)
{
    struct file_thread *t;
    struct file_engine *e = engine(FILE_DEPTH_DEFAULT, FILE_MEMCAP_DEFAULT, 0, &t);
    size_t n = 100000;
    uint8_t *d = pattern(n);
    struct vfile *f = open_hinted(t, n);
    append_all(f, d, n, 1448);
    cr_assert_eq(f->buf_cap, FILE_MAGIC_BYTES);
    cr_assert_eq(f->buf_len, FILE_MAGIC_BYTES);
    cr_assert_eq(f->charged, FILE_MAGIC_BYTES);
    cr_assert_eq(f->size, n);
    file_close(f, 0);
    file_engine_drain(e);
    cr_assert_eq(buffered(e), 0);
    file_thread_free(t);
    file_engine_free(e);
    free(d);
}

/* Waits up to 5 s for the reserve to hold want bytes ready (the warmer thread works apart). */
static int ready_reaches(struct file_engine *e, size_t want)
{
    for (int i = 0; i < 500; i++) {
        if (file_bufs_ready(e->bufs) == want)
            return 1;
        usleep(10000);
    }
    return 0;
}

static struct file_stats stats_of(struct file_engine *e)
{
    struct file_stats st;
    file_engine_get_stats(e, &st);
    return st;
}

/* With a reserve, buffers come in power-of-two classes; the first of a class is the worker's
 * own (cold), then the warmer keeps one ready and a freed buffer is reused. */
Test(files_buf, reserve_prefaults_and_recycles)
{
    struct file_thread *t;
    struct file_engine *e = engine_r(FILE_DEPTH_DEFAULT, FILE_MEMCAP_DEFAULT, 1, 1u << 20, &t);
    cr_assert_not_null(e->bufs);
    size_t n = 100000;
    uint8_t *d = pattern(n);
    struct vfile *f = open_hinted(t, n);
    file_append(f, d, 1448);
    cr_assert_eq(f->buf_cap, 131072, "the class holding 100000 bytes");
    cr_assert_eq(stats_of(e).buf_cold, 1);
    cr_assert_eq(stats_of(e).buf_warm, 0);
    cr_assert(ready_reaches(e, 131072), "the warmer made one ready: %zu", file_bufs_ready(e->bufs));
    struct vfile *g = open_hinted(t, 70000);
    file_append(g, d, 1448);
    cr_assert_eq(g->buf_cap, 131072);
    cr_assert_eq(stats_of(e).buf_warm, 1, "the second came from the reserve");
    append_all(f, d + 1448, n - 1448, 1448);
    append_all(g, d + 1448, 70000 - 1448, 1448);
    cr_assert_eq(f->charged, 114688, "a fresh buffer: kept bytes in 16 KiB steps");
    cr_assert_eq(g->charged, 131072, "a pre-faulted buffer is resident: charged in full");
    file_close(f, 0);
    file_close(g, 0);
    file_engine_drain(e);
    cr_assert_eq(buffered(e), 0);
    /* the reserve plans for one buffer of the class (one miss) and frees what it does not
     * need; one more may have been in the warmer's hands when a file gave its buffer back */
    cr_assert_leq(file_bufs_ready(e->bufs), 2 * 131072);
    f = open_hinted(t, n);
    file_append(f, d, 1448);
    cr_assert_eq(stats_of(e).buf_warm, 2, "a freed buffer is reused");
    append_all(f, d + 1448, n - 1448, 1448);
    file_close(f, 0);
    file_engine_drain(e);
    cr_assert_eq(stats_of(e).stored, 2, "two distinct contents: d[0..100000) and d[0..70000)");
    stored_is(d, n);
    stored_is(d, 70000);
    file_thread_free(t);
    file_engine_free(e);
    free(d);
    free(store_dir);
}

/* Without an announced length the buffer doubles through the classes, content kept. */
Test(files_buf, reserve_growth_keeps_content)
{
    struct file_thread *t;
    struct file_engine *e = engine_r(FILE_DEPTH_DEFAULT, FILE_MEMCAP_DEFAULT, 1, 1u << 20, &t);
    size_t n = 200000;
    uint8_t *d = pattern(n);
    struct vfile *f = open_hinted(t, 0);
    append_all(f, d, n, 1000);
    cr_assert_eq(f->buf_cap, 262144);
    cr_assert_eq(f->buf_len, n);
    struct file_stats st = stats_of(e);
    cr_assert_eq(st.buf_cold + st.buf_warm, 5, "16, 32, 64, 128, 256 KiB");
    file_close(f, 0);
    file_engine_drain(e);
    stored_is(d, n);
    cr_assert_leq(file_bufs_ready(e->bufs), 1u << 20);
    file_thread_free(t);
    file_engine_free(e);
    free(d);
    free(store_dir);
}

/* The reserve never holds more than files.reserve, whatever the mix of sizes; a class past a
 * quarter of it is never reserved. Many files open at once, closed in a shuffled order. */
Test(files_buf, reserve_stays_within_its_bytes)
{
    struct file_thread *t;
    size_t reserve = 512 * 1024;
    struct file_engine *e = engine_r(FILE_DEPTH_DEFAULT, FILE_MEMCAP_DEFAULT, 0, reserve, &t);
    cr_assert_null(e->bufs, "no YARA and no filestore: no content kept, no reserve");
    file_thread_free(t);
    file_engine_free(e);

    e = engine_r(FILE_DEPTH_DEFAULT, FILE_MEMCAP_DEFAULT, 1, reserve, &t);
    uint8_t *d = pattern(300000);
    uint32_t x = 12345;
    enum { N = 24 };
    struct vfile *open[N];
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < N; i++) {
            x = x * 1103515245u + 12345u;
            size_t len = 1 + (x >> 8) % 300000;
            open[i] = open_hinted(t, (x & 1) ? len : 0);
            append_all(open[i], d, len, 1448);
            cr_assert_eq(open[i]->buf_len, len);
            cr_assert_leq(file_bufs_ready(e->bufs), reserve);
        }
        for (int i = 0; i < N; i++) {
            x = x * 1103515245u + 12345u;
            int j = (int)((x >> 8) % N);
            struct vfile *tmp = open[i];
            open[i] = open[j];
            open[j] = tmp;
        }
        for (int i = 0; i < N; i++) {
            file_close(open[i], 0);
            cr_assert_leq(file_bufs_ready(e->bufs), reserve);
        }
        file_engine_drain(e);
        cr_assert_leq(file_bufs_ready(e->bufs), reserve);
    }
    cr_assert_eq(buffered(e), 0);
    struct file_stats st = stats_of(e);
    cr_assert_gt(st.buf_warm, 0);
    cr_assert_gt(st.buf_cold, 0);
    file_thread_free(t);
    file_engine_free(e);
    free(d);
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", store_dir);
    cr_assert_eq(system(cmd), 0);
    free(store_dir);
}

/* False large hints on many open files: a pre-faulted buffer is resident, so it takes the
 * memcap in full and, once the memcap is short, files get fresh (untouched) buffers charged by
 * kept bytes. Memory stays within files.memcap plus files.reserve. */
Test(files_buf, reserve_false_hints_stay_within_the_memcap)
{
    struct file_thread *t;
    uint64_t memcap = 1u << 20;
    struct file_engine *e = engine_r(FILE_DEPTH_DEFAULT, memcap, 1, 1u << 20, &t);
    enum { N = 24 };
    struct vfile *fs[N];
    for (int i = 0; i < N; i++) {
        fs[i] = open_hinted(t, 200000); /* class 256 KiB */
        file_append(fs[i], (const uint8_t *)"0123456789", 10);
        cr_assert_leq(buffered(e), memcap);
        cr_assert_leq(file_bufs_ready(e->bufs), 1u << 20);
        if (i == 0)
            cr_assert(ready_reaches(e, 262144), "the warmer follows the demand");
    }
    struct file_stats st = stats_of(e);
    cr_assert_geq(st.buf_warm, 1);
    cr_assert_leq(st.buf_warm, 4, "at most memcap / 256 KiB of them resident in full");
    int kept = 0;
    for (int i = 0; i < N; i++)
        kept += fs[i]->buf_len == 10;
    cr_assert_geq(kept, 4);
    for (int i = 0; i < N; i++)
        file_close(fs[i], 1);
    file_engine_drain(e);
    cr_assert_eq(buffered(e), 0);
    file_thread_free(t);
    file_engine_free(e);
    free(store_dir);
}
