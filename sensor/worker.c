/* worker.c: a worker thread: owns its flows, processes each packet, writes its events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline-internal.h"
#include "vigil/defrag.h"
#include "vigil/enrich.h"
#include "vigil/eve-types.h"

/* Adds GeoIP, ASN and asset fields to rec: alerts always, other records if configured so. */
static void worker_enrich(struct worker *w, json_t *rec, int is_alert)
{
    const struct enrich *e = w->ectx->enrich;
    if (e != NULL && (is_alert || enrich_all_events(e)))
        enrich_eve_record_cached(e, w->ecache, rec);
}

/* Logs a flow record as the flow table ends a flow, and frees what later stages kept. */
static void worker_flow_end(void *ctx, struct flow *f, enum flow_end_reason reason, vg_time_t when)
{
    struct worker *w = ctx;
    if (w->app != NULL) {
        w->io.dt = w->dt;
        app_layer_flow_end(w->app, &w->io, f, when);
    }
    if (w->eve != NULL && w->set->eve_flow) {
        /* Written as text; enrichment of every event adds the cached objects as text too. */
        const struct enrich *e = w->ectx->enrich;
        char text[8192];
        struct eve_text t;
        eve_text_begin(&t, text, sizeof(text));
        eve_flow_members(w->ectx, f, reason, when, &t);
        if (e != NULL && enrich_all_events(e)) {
            if (w->ecache == NULL)
                t.bad = 1; /* the object path enriches without a cache */
            const struct vg_addr *addr[2] = {&f->src, &f->dst};
            static const char *const keys[2][2] = {{"src_geo", "src_asset"},
                                                   {"dest_geo", "dest_asset"}};
            for (int i = 0; i < 2 && f->ip_ver != 0 && !t.bad; i++) {
                struct enrich_text et;
                if (enrich_cached_text(e, w->ecache, f->ip_ver, addr[i], &et) < 0)
                    t.bad = 1;
                if (et.geo != NULL)
                    eve_text_raw(&t, keys[i][0], et.geo, et.geo_len);
                if (et.asset != NULL)
                    eve_text_raw(&t, keys[i][1], et.asset, et.asset_len);
            }
        }
        size_t n = eve_text_finish(&t);
        if (n == 0 || n > sizeof(text) || eve_writer_write_text(w->eve, text, n) < 0) {
            json_t *rec = eve_flow_record(w->ectx, f, reason, when);
            if (rec != NULL) {
                worker_enrich(w, rec, 0);
                eve_writer_write(w->eve, rec);
                json_decref(rec);
            }
        }
    }
    detect_flow_free(f);
}

/* Writes an alert record. */
static void worker_alert(void *ctx, const struct vg_packet *p, struct flow *f, int dir,
                         const struct detect_alert *a)
{
    (void)dir;
    struct worker *w = ctx;
    if (w->eve == NULL)
        return;
    json_t *rec = eve_alert_record(w->ectx, p, f, a);
    if (rec != NULL && a->has_tx && w->app != NULL) {
        const char *key = NULL;
        json_t *obj = app_layer_alert_object(w->app, f, a->tx_id, &key);
        if (obj != NULL)
            json_object_set_new(rec, key, obj);
    }
    if (rec != NULL && a->file != NULL) {
        /* A file rule's alert carries the file, as Suricata's "files" list. */
        json_t *files = json_array();
        file_need_magic(a->file);
        json_array_append_new(files, file_alert_info(a->file)); /* takes it, even on failure */
        json_object_set_new(rec, "files", files);
    }
    if (rec != NULL) {
        worker_enrich(w, rec, 1);
        eve_writer_write(w->eve, rec);
        json_decref(rec);
    }
}

/* Writes an application-layer record (http, dns, tls, smtp, anomaly) of flow f. */
static void worker_app_log(void *ctx, const struct vg_packet *p, struct flow *f, vg_time_t ts,
                           const char *event_type, const char *key, json_t *obj, int64_t tx_id)
{
    struct worker *w = ctx;
    json_t *rec = NULL;
    if (w->eve != NULL)
        rec = p != NULL ? eve_record_packet(w->ectx, event_type, p, f)
                        : eve_record_flow(w->ectx, event_type, ts, f);
    if (rec == NULL) {
        json_decref(obj);
        return;
    }
    if (tx_id >= 0)
        eve_set_uint(rec, "tx_id", (uint64_t)tx_id);
    if (key != NULL) {
        json_object_set_new(rec, key, obj);
    } else {
        json_object_update(rec, obj);
        json_decref(obj);
    }
    worker_enrich(w, rec, 0);
    eve_writer_write(w->eve, rec);
    json_decref(rec);
}

/* Starts a record of packet p (the EVE header of a fileinfo record), enriched like the others. */
static json_t *worker_record(void *ctx, const struct vg_packet *p, struct flow *f,
                             const char *event_type)
{
    struct worker *w = ctx;
    json_t *rec = eve_record_packet(w->ectx, event_type, p, f);
    if (rec != NULL)
        worker_enrich(w, rec, 0);
    return rec;
}

/* Moves to the ruleset in the slot if a reload replaced it. */
static void worker_follow_engine(struct worker *w)
{
    struct detect_engine *cur = __atomic_load_n(w->engine_slot, __ATOMIC_ACQUIRE);
    if (cur == w->engine)
        return;
    char err[VG_ERRBUF_SIZE];
    struct detect_thread *dt = cur ? detect_thread_new(cur, err) : NULL;
    if (cur != NULL && dt == NULL) {
        fprintf(stderr, "vigil-sensor: worker %u: keeping the previous rules: %s\n", w->id, err);
        return;
    }
    pthread_mutex_lock(&w->dt_lock); /* the capture thread may be reading w->dt's counters */
    if (w->dt != NULL) {
        detect_thread_stats(w->dt, &w->dstats_old);
        detect_thread_free(w->dt);
    }
    w->dt = dt;
    w->engine = cur;
    pthread_mutex_unlock(&w->dt_lock);
    __atomic_add_fetch(w->switched, 1, __ATOMIC_RELEASE);
}

void worker_detect_stats(struct worker *w, struct detect_stats *out)
{
    pthread_mutex_lock(&w->dt_lock);
    out->alerts += w->dstats_old.alerts;
    out->packets_inspected += w->dstats_old.packets_inspected;
    out->streams_inspected += w->dstats_old.streams_inspected;
    out->txs_inspected += w->dstats_old.txs_inspected;
    out->prefilter_hits += w->dstats_old.prefilter_hits;
    out->rules_checked += w->dstats_old.rules_checked;
    out->pcre_limit_hits += w->dstats_old.pcre_limit_hits;
    out->suppressed += w->dstats_old.suppressed;
    if (w->dt != NULL)
        detect_thread_stats(w->dt, out);
    pthread_mutex_unlock(&w->dt_lock);
}

void worker_rule_stats_add(struct worker *w, const struct detect_engine *e,
                           struct detect_rule_stats *out)
{
    pthread_mutex_lock(&w->dt_lock);
    if (w->dt != NULL && w->engine == e)
        detect_thread_rule_stats_add(w->dt, out);
    pthread_mutex_unlock(&w->dt_lock);
}

/* What both modes set up: detection, flows, enrichment cache, app layer, files, EVE writer. */
static int worker_init_common(struct worker *w, unsigned id, const struct sensor_settings *set,
                              const struct eve_ctx *ectx, struct eve_sink *sink,
                              struct file_engine *files, struct detect_engine **engine_slot,
                              unsigned *switched, char *errbuf);

int worker_init(struct worker *w, unsigned id, const struct sensor_settings *set,
                const struct eve_ctx *ectx, struct eve_sink *sink, struct file_engine *files,
                struct detect_engine **engine_slot, unsigned *switched, char *errbuf)
{
    if (worker_init_common(w, id, set, ectx, sink, files, engine_slot, switched, errbuf) < 0)
        return -1;
    if (spsc_init(&w->in, BATCHES_PER_WORKER * 2) < 0 ||
        spsc_init(&w->back, BATCHES_PER_WORKER * 2) < 0) {
        vg_errbuf_set(errbuf, "worker %u: out of memory for queues", id);
        return -1;
    }
    for (unsigned i = 0; i < BATCHES_PER_WORKER; i++) {
        w->storage[i] = malloc(sizeof(struct batch));
        if (w->storage[i] == NULL) {
            vg_errbuf_set(errbuf, "worker %u: out of memory for batches", id);
            return -1;
        }
        w->storage[i]->npkts = w->storage[i]->used = w->storage[i]->flags = 0;
        spsc_push(&w->back, w->storage[i]);
    }
    return 0;
}

int worker_init_direct(struct worker *w, unsigned id, const struct sensor_settings *set,
                       const struct eve_ctx *ectx, struct eve_sink *sink, struct file_engine *files,
                       struct detect_engine **engine_slot, unsigned *switched, char *errbuf)
{
    if (worker_init_common(w, id, set, ectx, sink, files, engine_slot, switched, errbuf) < 0)
        return -1;
    /* Each worker owns an equal share of the defrag memcap. */
    struct defrag_config dc = set->defrag;
    dc.memcap = set->defrag.memcap / (set->nworkers ? set->nworkers : 1);
    char derr[VG_ERRBUF_SIZE];
    if ((w->defrag = defrag_new(&dc, derr)) == NULL) {
        vg_errbuf_set(errbuf, "worker %u: %s", id, derr);
        return -1;
    }
    if ((w->reasm = malloc(DEFRAG_MAX_PACKET)) == NULL) {
        vg_errbuf_set(errbuf, "worker %u: out of memory", id);
        return -1;
    }
    return 0;
}

static int worker_init_common(struct worker *w, unsigned id, const struct sensor_settings *set,
                              const struct eve_ctx *ectx, struct eve_sink *sink,
                              struct file_engine *files, struct detect_engine **engine_slot,
                              unsigned *switched, char *errbuf)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->dt_lock, NULL);
    w->id = id;
    w->set = set;
    w->ectx = ectx;
    w->engine_slot = engine_slot;
    w->switched = switched;
    w->engine = *engine_slot;
    if (w->engine != NULL && (w->dt = detect_thread_new(w->engine, errbuf)) == NULL)
        return -1;
    /* Each worker owns an equal share of the flow memcap. */
    struct flow_config fc = set->flow;
    fc.memcap = set->flow.memcap / set->nworkers;
    char ferr[VG_ERRBUF_SIZE];
    w->flows = flow_table_new(&fc, worker_flow_end, w, ferr);
    if (w->flows == NULL) {
        vg_errbuf_set(errbuf, "worker %u: %s", id, ferr);
        return -1;
    }
    if (ectx->enrich != NULL && (w->ecache = enrich_cache_new(ectx->enrich, 0)) == NULL) {
        vg_errbuf_set(errbuf, "worker %u: out of memory for the enrichment cache", id);
        return -1;
    }
    if (set->app.enabled) {
        char aerr[VG_ERRBUF_SIZE];
        struct app_config ac = set->app; /* each worker owns an equal share of the memcap */
        ac.memcap = set->app.memcap / set->nworkers;
        if (ac.memcap == 0 && set->app.memcap != 0)
            ac.memcap = 1;
        if ((w->app = app_layer_new(&ac, aerr)) == NULL) {
            vg_errbuf_set(errbuf, "worker %u: %s", id, aerr);
            return -1;
        }
        w->io.alert = worker_alert;
        w->io.alert_ctx = w;
        w->io.log = worker_app_log;
        w->io.log_ctx = w;
        w->io.record = worker_record;
        if (files != NULL) {
            char ferr2[VG_ERRBUF_SIZE];
            if ((w->files = file_thread_new(files, ferr2)) == NULL) {
                vg_errbuf_set(errbuf, "worker %u: %s", id, ferr2);
                return -1;
            }
            w->io.files = w->files;
        }
    }
    if (sink != NULL && (w->eve = eve_writer_new(sink)) == NULL) {
        vg_errbuf_set(errbuf, "worker %u: out of memory for the EVE buffer", id);
        return -1;
    }
    return 0;
}

void worker_destroy(struct worker *w)
{
    detect_thread_free(w->dt);
    w->dt = NULL;
    pthread_mutex_destroy(&w->dt_lock);
    eve_writer_free(w->eve);
    w->eve = NULL;
    flow_table_free(w->flows);
    w->flows = NULL;
    app_layer_free(w->app);
    w->app = NULL;
    file_thread_free(w->files); /* after the app layer closed its files */
    w->files = NULL;
    enrich_cache_free(w->ecache);
    w->ecache = NULL;
    defrag_free(w->defrag);
    w->defrag = NULL;
    free(w->reasm);
    w->reasm = NULL;
    for (unsigned i = 0; i < BATCHES_PER_WORKER; i++)
        free(w->storage[i]);
    if (w->in.buf)
        spsc_destroy(&w->in);
    if (w->back.buf)
        spsc_destroy(&w->back);
}

static void emit_anomalies(struct worker *w, const struct vg_packet *p, const struct flow *f)
{
    if (w->eve == NULL || !w->set->eve_anomaly)
        return;
    for (unsigned i = 0; i < p->nevents; i++) {
        json_t *rec = eve_anomaly_record(w->ectx, p, f, p->events[i]);
        if (rec != NULL) {
            eve_writer_write(w->eve, rec);
            json_decref(rec);
        }
    }
}

void worker_packet(struct worker *w, const struct vg_packet *p)
{
    VG_CNT_INC(w->st.pkts);
    VG_CNT_ADD(w->st.bytes, p->caplen);
    struct flow *f = NULL;
    int dir = 0;
    if (p->flow_hash != 0)
        f = flow_handle_packet(w->flows, p, &dir);
    if (p->nevents > 0)
        emit_anomalies(w, p, f);
    if (w->app != NULL && f != NULL) {
        w->io.dt = w->dt;
        app_layer_packet(w->app, &w->io, p, f, dir);
    }
    if (w->dt != NULL)
        detect_packet(w->dt, p, f, dir, worker_alert, w);
}

void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        struct batch *b = spsc_pop_wait(&w->in, 200);
        if (b == NULL)
            continue;
        VG_CNT_INC(w->st.batches);
        worker_follow_engine(w);
        for (uint32_t i = 0; i < b->npkts; i++)
            worker_packet(w, &b->pkts[i]);
        if (b->clock > w->clock)
            w->clock = b->clock;
        if (w->clock >= w->last_sweep + VG_USEC_PER_SEC) {
            flow_table_timeout(w->flows, w->clock);
            w->last_sweep = w->clock;
        }
        int eof = b->flags & BATCH_EOF;
        b->npkts = b->used = b->flags = 0;
        if (eof) {
            flow_table_flush(w->flows, w->clock);
            if (w->eve)
                eve_writer_flush(w->eve);
            VG_CNT_SET(w->st.cpu_usec, vg_thread_cpu());
            spsc_push(&w->back, b);
            return NULL;
        }
        if (w->eve)
            eve_writer_flush(w->eve);
        VG_CNT_SET(w->st.cpu_usec, vg_thread_cpu()); /* one clock read a batch */
        spsc_push(&w->back, b);
    }
}

void worker_tick(struct worker *w, vg_time_t clock)
{
    worker_follow_engine(w);
    if (clock > w->clock)
        w->clock = clock;
    if (w->clock >= w->last_sweep + VG_USEC_PER_SEC) {
        flow_table_timeout(w->flows, w->clock);
        w->last_sweep = w->clock;
    }
    if (w->eve)
        eve_writer_flush(w->eve);
}

void worker_finish(struct worker *w)
{
    flow_table_flush(w->flows, w->clock);
    if (w->eve)
        eve_writer_flush(w->eve);
}
