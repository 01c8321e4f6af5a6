/* file-view.c: what the file layer shows detection: the observer hook, a file's view, its alert
 * info. */
#include <string.h>

#include "file-internal.h"

void file_thread_set_observer(struct file_thread *t, file_observe_fn fn, void *ctx)
{
    t->observe = fn;
    t->observe_ctx = ctx;
}

int file_thread_store_on_alert(const struct file_thread *t)
{
    return t->e->cfg.filestore && t->e->cfg.filestore_policy == FILE_STORE_ALERT;
}

void file_get_view(const struct vfile *f, struct file_view *out)
{
    memset(out, 0, sizeof(*out));
    out->app_proto = f->app_proto;
    out->tx_id = f->tx_id;
    out->direction = f->direction;
    out->name = f->name;
    out->name_len = f->name_len;
    out->size = f->size;
    out->closed = f->closed;
    out->truncated = f->closed && f->truncated;
    if (f->closed) {
        out->magic = f->magic;
        out->md5 = f->md5;
        out->sha1 = f->sha1;
        out->sha256 = f->sha256;
    }
}

json_t *file_alert_info(const struct vfile *f)
{
    json_t *o = eve_fileinfo_object(f);
    if (o == NULL || f->closed)
        return o;
    /* Still open: no final hashes yet, as Suricata's alerts show an open file. */
    json_object_set_new(o, "state", json_string("OPEN"));
    json_object_del(o, "md5");
    json_object_del(o, "sha1");
    json_object_del(o, "sha256");
    return o;
}
