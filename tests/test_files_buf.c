/* test_files_buf.c: a file's content buffer: sized from the announced length, the memcap charged
 * by kept bytes, depth and memcap limits (white-box: reads the vfile and engine fields). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sensor/file-internal.h"
#include "testutil.h"
#include "vigil/files.h"

static void no_emit(void *ctx, json_t *rec)
{
    (void)ctx;
    (void)rec;
}

static char *store_dir;

/* An engine keeping content (filestore into a fresh directory when store), and its thread. */
static struct file_engine *engine(uint64_t depth, uint64_t memcap, int store,
                                  struct file_thread **t)
{
    struct file_config c;
    file_config_init(&c);
    c.emit = no_emit;
    c.depth = depth;
    c.memcap = memcap;
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
