/* file-mime.c: SMTP message attachments (MIME: multipart, base64, quoted-printable) extracted with
 * GMime. */
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "file-internal.h"

/* GMime's parser stops at 1024 levels; our walk follows it no deeper than this. */
#define MIME_MAX_DEPTH 1100

static pthread_once_t mime_once = PTHREAD_ONCE_INIT;

static void mime_init(void)
{
    g_mime_init();
}

struct mime_walk {
    file_mime_part_fn fn; /* NULL: only count */
    void *ctx;
    int n;
};

/* Whether a leaf part is a file: it has a filename, or it is not text. */
static int is_file(GMimePart *part, const char **name)
{
    *name = g_mime_part_get_filename(part);
    if (*name != NULL && (*name)[0] != '\0')
        return 1;
    GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
    return ct != NULL && !g_mime_content_type_is_type(ct, "text", "*");
}

static void walk_part(GMimePart *part, struct mime_walk *w)
{
    const char *name;
    if (!is_file(part, &name))
        return;
    w->n++;
    if (w->fn == NULL)
        return;
    GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
    char *type = ct != NULL ? g_mime_content_type_get_mime_type(ct) : NULL;
    GMimeDataWrapper *dw = g_mime_part_get_content(part);
    GMimeStream *out = g_mime_stream_mem_new();
    if (dw != NULL)
        g_mime_data_wrapper_write_to_stream(dw, out); /* decodes base64, QP, uuencode */
    GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
    w->fn(w->ctx, name, type, ba != NULL ? ba->data : (const uint8_t *)"",
          ba != NULL ? ba->len : 0);
    g_object_unref(out);
    g_free(type);
}

static void walk(GMimeObject *o, struct mime_walk *w, int depth)
{
    if (o == NULL || depth > MIME_MAX_DEPTH)
        return;
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n; i++)
            walk(g_mime_multipart_get_part(mp, i), w, depth + 1);
    } else if (GMIME_IS_MESSAGE_PART(o)) {
        GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
        if (m != NULL)
            walk(g_mime_message_get_mime_part(m), w, depth + 1);
    } else if (GMIME_IS_PART(o)) {
        walk_part(GMIME_PART(o), w);
    }
}

static GMimeMessage *parse(const uint8_t *msg, size_t len)
{
    pthread_once(&mime_once, mime_init);
    GMimeStream *st = g_mime_stream_mem_new_with_buffer((const char *)msg, len);
    if (st == NULL)
        return NULL;
    GMimeParser *p = g_mime_parser_new_with_stream(st);
    g_object_unref(st);
    g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
    GMimeMessage *m = g_mime_parser_construct_message(p, NULL);
    g_object_unref(p);
    return m;
}

int file_mime_parse(const uint8_t *msg, size_t len, file_mime_part_fn fn, void *ctx)
{
    if (len == 0)
        return 0;
    GMimeMessage *m = parse(msg, len);
    if (m == NULL)
        return -1;
    struct mime_walk w = {.fn = fn, .ctx = ctx};
    walk(g_mime_message_get_mime_part(m), &w, 0);
    g_object_unref(m);
    return w.n;
}

struct file_mime {
    struct file_thread *t;
    struct file_meta tmpl; /* app_proto copied, record owned */
    char *app_proto;
    uint8_t *buf;
    size_t len, cap;
    int over; /* passed mime_max or the memcap */
};

struct file_mime *file_mime_new(struct file_thread *t, const struct file_meta *m)
{
    struct file_mime *mm = calloc(1, sizeof(*mm));
    if (mm == NULL) {
        json_decref(m->record);
        return NULL;
    }
    mm->t = t;
    mm->tmpl = *m;
    mm->tmpl.name = NULL;
    mm->tmpl.name_len = 0;
    mm->app_proto = strdup(m->app_proto != NULL ? m->app_proto : "smtp");
    mm->tmpl.app_proto = mm->app_proto;
    if (mm->tmpl.record == NULL)
        mm->tmpl.record = json_object();
    if (mm->app_proto == NULL || mm->tmpl.record == NULL) {
        json_decref(mm->tmpl.record);
        free(mm->app_proto);
        free(mm);
        return NULL;
    }
    return mm;
}

int file_mime_append(struct file_mime *mm, const uint8_t *data, size_t len)
{
    struct file_engine *e = mm->t->e;
    if (mm->over)
        return 1;
    uint64_t max = e->cfg.mime_max;
    if (max > 0 && mm->len + len > max) {
        len = (size_t)(max - mm->len);
        mm->over = 1;
    }
    if (mm->len + len > mm->cap) {
        size_t cap = mm->cap ? mm->cap : 16384;
        while (cap < mm->len + len)
            cap *= 2;
        if (max > 0 && cap > max)
            cap = (size_t)max;
        uint64_t delta = cap - mm->cap;
        uint64_t now = __atomic_add_fetch(&e->buffered, delta, __ATOMIC_RELAXED);
        uint8_t *nb = NULL;
        if (now <= e->cfg.memcap || e->cfg.memcap == 0)
            nb = realloc(mm->buf, cap);
        if (nb == NULL) {
            __atomic_fetch_sub(&e->buffered, delta, __ATOMIC_RELAXED);
            VG_CNT_INC(mm->t->st.memcap);
            mm->over = 1;
            return 1;
        }
        mm->buf = nb;
        mm->cap = cap;
    }
    if (len > 0)
        memcpy(mm->buf + mm->len, data, len);
    mm->len += len;
    return mm->over;
}

struct emit_ctx {
    struct file_mime *mm;
    int idx, n, truncated;
};

static void emit_part(void *arg, const char *name, const char *type, const uint8_t *data,
                      size_t len)
{
    struct emit_ctx *c = arg;
    struct file_mime *mm = c->mm;
    struct file_meta m = mm->tmpl;
    m.name = (const uint8_t *)name;
    m.name_len = name != NULL ? strlen(name) : 0;
    m.record = json_deep_copy(mm->tmpl.record);
    m.size_hint = len; /* decoded whole: the buffer is sized once */
    struct vfile *f = file_open(mm->t, &m);
    int last = ++c->idx == c->n;
    if (f == NULL)
        return;
    /* Feed in slices, as the protocol parser would. */
    for (size_t off = 0; off < len;) {
        size_t n = VG_MIN(len - off, (size_t)65536);
        if (file_append(f, data + off, n) != 0)
            break;
        off += n;
    }
    file_close(f, last && c->truncated);
    VG_CNT_INC(mm->t->st.mime_parts);
}

int file_mime_close(struct file_mime *mm, int truncated)
{
    if (mm == NULL)
        return -1;
    struct file_thread *t = mm->t;
    VG_CNT_INC(t->st.mime_messages);
    int rc = -1;
    GMimeMessage *m = mm->len > 0 ? parse(mm->buf, mm->len) : NULL;
    if (m != NULL) {
        GMimeObject *top = g_mime_message_get_mime_part(m);
        struct mime_walk w = {0};
        walk(top, &w, 0);
        struct emit_ctx c = {.mm = mm, .n = w.n, .truncated = truncated || mm->over};
        w = (struct mime_walk){.fn = emit_part, .ctx = &c};
        walk(top, &w, 0);
        rc = w.n;
        g_object_unref(m);
    } else if (mm->len == 0) {
        rc = 0; /* an empty DATA */
    } else {
        VG_CNT_INC(t->st.mime_errors);
    }
    if (mm->cap > 0)
        __atomic_fetch_sub(&t->e->buffered, (uint64_t)mm->cap, __ATOMIC_RELAXED);
    free(mm->buf);
    json_decref(mm->tmpl.record);
    free(mm->app_proto);
    free(mm);
    return rc;
}
