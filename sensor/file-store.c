/* file-store.c: the filestore: each file once at DIR/xx/SHA256 with its fileinfo beside it, written
 * atomically. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file-internal.h"

int file_store_init(const char *dir, char *errbuf)
{
    char p[4096];
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        vg_errbuf_set(errbuf, "filestore: %s: %s", dir, strerror(errno));
        return -1;
    }
    for (int i = -1; i < 256; i++) {
        if (i < 0)
            snprintf(p, sizeof(p), "%s/tmp", dir);
        else
            snprintf(p, sizeof(p), "%s/%02x", dir, i);
        if (mkdir(p, 0750) != 0 && errno != EEXIST) {
            vg_errbuf_set(errbuf, "filestore: %s: %s", p, strerror(errno));
            return -1;
        }
    }
    return 0;
}

int file_store_wanted(enum file_store_policy policy, const struct vfile *f)
{
    int matched = json_array_size(f->yara) > 0;
    switch (policy) {
    case FILE_STORE_ALL:
        return 1;
    case FILE_STORE_YARA:
        return matched;
    case FILE_STORE_ALERT:
        return matched || f->alerted;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes len bytes to final through a temporary file in dir/tmp and a rename. */
static int write_atomic(const char *dir, const char *final, const void *data, size_t len,
                        char *errbuf)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s/tmp/file.XXXXXX", dir);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        vg_errbuf_set(errbuf, "filestore: %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (write_all(fd, data, len) < 0 || fchmod(fd, 0640) < 0) {
        vg_errbuf_set(errbuf, "filestore: %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) != 0 || rename(tmp, final) != 0) {
        vg_errbuf_set(errbuf, "filestore: %s: %s", final, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int file_store_write(const char *dir, struct vfile *f, char *errbuf)
{
    char path[4096], jpath[4096 + 8];
    /* Only the hash names the file: names from traffic never reach the filesystem. */
    snprintf(path, sizeof(path), "%s/%.2s/%s", dir, f->sha256, f->sha256);
    snprintf(jpath, sizeof(jpath), "%s.json", path);
    struct stat st;
    if (stat(path, &st) == 0) {
        f->stored = 1;
        return 0;
    }
    if (f->buf_len != f->size) {
        vg_errbuf_set(errbuf, "filestore: %s: content not kept", f->sha256);
        return -1;
    }
    if (write_atomic(dir, path, f->buf, f->buf_len, errbuf) < 0)
        return -1;
    f->stored = 1;
    /* The record as it will be emitted: header plus fileinfo (with stored: true). */
    json_t *rec = json_deep_copy(f->record);
    json_t *fi = eve_fileinfo_object(f);
    if (rec != NULL && fi != NULL) {
        json_object_set_new(rec, "event_type", json_string("fileinfo"));
        if (f->app_proto[0] != '\0')
            json_object_set_new(rec, "app_proto", json_string(f->app_proto));
        json_object_set(rec, "fileinfo", fi);
    }
    char *txt = rec != NULL ? json_dumps(rec, JSON_COMPACT) : NULL;
    int rc = 1;
    if (txt == NULL) {
        vg_errbuf_set(errbuf, "filestore: %s: out of memory", jpath);
        rc = -1;
    } else {
        size_t n = strlen(txt);
        txt[n] = '\n';
        if (write_atomic(dir, jpath, txt, n + 1, errbuf) < 0)
            rc = -1;
        txt[n] = '\0';
    }
    eve_json_free(txt);
    json_decref(fi);
    json_decref(rec);
    return rc;
}
