/* app-layer-files.c: the application layer's bridge from tracked files to detection and the
 * filestore. */
#include <stdlib.h>
#include <string.h>

#include "app-layer-internal.h"

/*
 * The file layer tells this bridge (its file_thread observer) when a file opens and closes;
 * the bridge runs the file rules (detect_file) with the packet and flow of the pass in
 * progress, and decides which files filestore.policy "alert" keeps: files a file rule
 * alerted on, files the filestore keyword names, and every file of a transaction some rule
 * alerted on. As a transaction's rules (file.data...) often alert after its file closed, a
 * file closed during a pass is held (FILE_HOLD) and handed on when the pass ends.
 */
struct app_files {
    struct app_pass *cur;         /* the pass in progress, or NULL */
    struct file_thread *observed; /* the file_thread the observer is set on */
    struct vfile **held;
    unsigned nheld, cheld;
};

struct app_files *app_files_new(void)
{
    return calloc(1, sizeof(struct app_files));
}

static void release_held(struct app_files *fs)
{
    for (unsigned i = 0; i < fs->nheld; i++)
        file_release(fs->held[i]);
    fs->nheld = 0;
}

void app_files_free(struct app_files *fs)
{
    if (fs == NULL)
        return;
    release_held(fs);
    if (fs->observed != NULL)
        file_thread_set_observer(fs->observed, NULL, NULL);
    free(fs->held);
    free(fs);
}

static struct app_txrec *find_rec(struct app_flow *af, uint64_t id)
{
    for (unsigned i = 0; af != NULL && i < af->ntx; i++)
        if (af->tx[i].id == id)
            return &af->tx[i];
    return NULL;
}

/* The direction packet p travels in flow f. */
static int pkt_dir(const struct vg_packet *p, const struct flow *f)
{
    return p->sp == f->sp && p->dp == f->dp && memcmp(&p->src, &f->src, sizeof(p->src)) == 0 &&
                   memcmp(&p->dst, &f->dst, sizeof(p->dst)) == 0
               ? 0
               : 1;
}

/* Marks the held files that the flow's or their transaction's store bits name. */
static void mark_held(struct app_files *fs, struct app_flow *af)
{
    for (unsigned i = 0; i < fs->nheld; i++) {
        struct file_view v;
        file_get_view(fs->held[i], &v);
        int d = v.direction == FILE_TOSERVER ? 0 : 1;
        const struct app_txrec *rec = find_rec(af, v.tx_id);
        if (((af->fstore >> d) & 1) || (rec != NULL && ((rec->fstore >> d) & 1)))
            file_set_alerted(fs->held[i]);
    }
}

static void on_file_alert(void *ctx, const struct vg_packet *p, struct flow *f, int dir,
                          const struct detect_alert *a)
{
    struct app_pass *x = ctx;
    if (x->io->alert != NULL)
        x->io->alert(x->io->alert_ctx, p, f, dir, a);
}

static int on_file(void *ctx, struct vfile *vf, enum file_event ev)
{
    struct app_files *fs = ctx;
    struct app_pass *x = fs->cur;
    if (x == NULL || x->f == NULL)
        return 0;
    struct app_flow *af = x->f->app;
    if (ev == FILE_EV_CLOSE && x->io->dt != NULL && detect_wants_file_magic(x->io->dt))
        file_need_magic(vf);
    struct file_view v;
    file_get_view(vf, &v);
    int dir = v.direction == FILE_TOSERVER ? 0 : 1;
    struct app_txrec *rec = find_rec(af, v.tx_id);
    unsigned res = 0;
    if (x->io->dt != NULL && detect_wants_files(x->io->dt)) {
        /* The rules see the file's packet oriented as the file travels. */
        const struct vg_packet *p = x->p;
        struct vg_packet turned;
        if (pkt_dir(p, x->f) != dir) {
            app_pseudo_packet(&turned, x->f, dir, x->ts);
            turned.pcap_cnt = p->pcap_cnt;
            p = &turned;
        }
        struct detect_file df = {
            vf,     v.tx_id, dir,   v.closed, v.truncated, v.name, (uint32_t)v.name_len,
            v.size, v.magic, v.md5, v.sha1,   v.sha256};
        app_buf_fn get = NULL;
        void *txp = NULL;
        if (af != NULL && af->ops != NULL && af->ops->tx_find != NULL)
            txp = af->ops->tx_find(af, v.tx_id, &get);
        struct detect_tx tx = {v.tx_id, af ? af->proto : 0,       {0, 0}, txp ? get : NULL,
                               txp,     rec ? &rec->fstate : NULL};
        res = detect_file(x->io->dt, p, x->f, &df, &tx, on_file_alert, x);
    }
    if (af == NULL || !file_thread_store_on_alert(x->io->files))
        return 0; /* what is stored does not depend on alerts */
    if (rec != NULL) {
        if (res & DETECT_FILE_ALERTED)
            rec->fstore |= 3; /* an alert on the transaction keeps all its files */
        rec->fstore |= (res & DETECT_FILE_STORE_TX_TS) ? 1 : 0;
        rec->fstore |= (res & DETECT_FILE_STORE_TX_TC) ? 2 : 0;
    }
    af->fstore |= (res & DETECT_FILE_STORE_FLOW_TS) ? 1 : 0;
    af->fstore |= (res & DETECT_FILE_STORE_FLOW_TC) ? 2 : 0;
    if ((res & (DETECT_FILE_ALERTED | DETECT_FILE_STORE)) || ((af->fstore >> dir) & 1) ||
        (rec != NULL && ((rec->fstore >> dir) & 1)))
        file_set_alerted(vf);
    mark_held(fs, af);
    if (ev != FILE_EV_CLOSE)
        return 0;
    if (fs->nheld == fs->cheld) {
        unsigned c = fs->cheld ? fs->cheld * 2 : 8;
        struct vfile **nv = realloc(fs->held, c * sizeof(*nv));
        if (nv == NULL)
            return 0; /* handed on now: a later alert cannot mark it */
        fs->held = nv;
        fs->cheld = c;
    }
    fs->held[fs->nheld++] = vf;
    return FILE_HOLD;
}

struct app_pass *app_files_begin(struct app_files *fs, struct app_pass *x)
{
    if (fs == NULL)
        return NULL;
    if (x->io->files != NULL && x->io->files != fs->observed) {
        if (fs->observed != NULL)
            file_thread_set_observer(fs->observed, NULL, NULL);
        file_thread_set_observer(x->io->files, on_file, fs);
        fs->observed = x->io->files;
    }
    struct app_pass *prev = fs->cur;
    fs->cur = x;
    return prev;
}

void app_files_end(struct app_files *fs, struct app_pass *prev)
{
    if (fs == NULL)
        return;
    fs->cur = prev;
    if (prev == NULL)
        release_held(fs);
}

void app_files_tx_alert(struct app_files *fs, struct app_pass *x, uint64_t tx_id)
{
    if (fs == NULL || x->io->files == NULL || !file_thread_store_on_alert(x->io->files))
        return;
    struct app_flow *af = x->f ? x->f->app : NULL;
    struct app_txrec *rec = find_rec(af, tx_id);
    if (af == NULL || rec == NULL)
        return;
    rec->fstore |= 3;
    mark_held(fs, af);
}
