/* file-magic.c: libmagic's type guess for a file's first bytes, with a memo (one per thread). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "file-internal.h"

int file_magic_open(struct file_magic *m, char *errbuf)
{
    memset(m, 0, sizeof(*m));
    /* Compressed contents and text encodings cost the most and tell the least here. */
    m->cookie = magic_open(MAGIC_ERROR | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_ENCODING);
    if (m->cookie == NULL || magic_load(m->cookie, NULL) != 0) {
        vg_errbuf_set(errbuf, "libmagic: %s", m->cookie ? magic_error(m->cookie) : strerror(errno));
        if (m->cookie != NULL)
            magic_close(m->cookie);
        m->cookie = NULL;
        return -1;
    }
    return 0;
}

void file_magic_close(struct file_magic *m)
{
    if (m->cookie != NULL)
        magic_close(m->cookie);
    m->cookie = NULL;
    for (unsigned i = 0; i < FILE_MAGIC_CACHE; i++) {
        free(m->memo[i].bytes);
        free(m->memo[i].magic);
        m->memo[i] = (struct magic_memo){0};
    }
}

char *file_magic_of(struct file_magic *m, const uint8_t *bytes, size_t len, int *cached)
{
    *cached = 0;
    uint64_t h = XXH3_64bits(bytes, len);
    struct magic_memo *e = &m->memo[h % FILE_MAGIC_CACHE];
    if (e->magic != NULL && e->hash == h && e->len == len && memcmp(e->bytes, bytes, len) == 0) {
        *cached = 1;
        return strdup(e->magic);
    }
    const char *r = magic_buffer(m->cookie, bytes, len);
    if (r == NULL)
        return NULL;
    char *out = strdup(r);
    uint8_t *copy = malloc(len);
    char *keep = strdup(r);
    if (copy != NULL && keep != NULL) {
        free(e->bytes);
        free(e->magic);
        memcpy(copy, bytes, len);
        *e = (struct magic_memo){h, (uint32_t)len, copy, keep};
    } else {
        free(copy);
        free(keep);
    }
    return out;
}

void file_set_magic(struct vfile *f, struct file_magic *m, struct file_stats *st, int atomic)
{
    if (f->magic != NULL || m->cookie == NULL || f->buf_len == 0)
        return;
    int cached;
    f->magic = file_magic_of(m, f->buf, VG_MIN(f->buf_len, FILE_MAGIC_BYTES), &cached);
    FILE_STAT_ADD(st, atomic, magic_cached, cached);
}
