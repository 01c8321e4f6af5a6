/* pipeline.c: the capture stage: read, decode, defragment, hand packets to workers by flow hash. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "pipeline-internal.h"
#include "vigil/defrag.h"
#include "vigil/enrich.h"
#include "vigil/files.h"
#include "vigil/progress.h"
#include "vigil/stats.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reopen_requested;
static volatile sig_atomic_t reload_requested;

void sensor_request_stop(void)
{
    stop_requested = 1;
}
void sensor_request_reopen(void)
{
    reopen_requested = 1;
}
void sensor_request_reload(void)
{
    reload_requested = 1;
}

int pipeline_stop_requested(void)
{
    return stop_requested;
}

int pipeline_take_reopen(void)
{
    if (!reopen_requested)
        return 0;
    reopen_requested = 0;
    return 1;
}

void pipeline_reset_requests(void)
{
    stop_requested = 0;
    reopen_requested = 0;
    reload_requested = 0;
}

/* The loader thread: compiles the new ruleset while packets keep flowing. */
static void *reload_main(void *arg)
{
    struct pipeline *pl = arg;
    char err[VG_ERRBUF_SIZE];
    struct detect_load_report rep;
    struct detect_engine *e = sensor_load_rules(pl->set, stderr, &rep, err);
    if (e == NULL)
        fprintf(stderr, "vigil-sensor: rule reload failed, the previous rules stay: %s\n", err);
    pl->loaded = e;
    __atomic_store_n(&pl->load_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Starts, finishes and retires reloads; called from the capture loop. */
void pipeline_reload_step(struct pipeline *pl)
{
    if (reload_requested && !pl->loading && pl->retired == NULL) {
        reload_requested = 0;
        pl->load_done = 0;
        pl->loaded = NULL;
        sigset_t all, old; /* signals stay with the capture thread (sensor_run) */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        int started = pthread_create(&pl->loader, NULL, reload_main, pl) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (started) {
            pl->loading = 1;
            fputs("vigil-sensor: reloading rules\n", stderr);
        }
    }
    if (pl->loading && __atomic_load_n(&pl->load_done, __ATOMIC_ACQUIRE)) {
        pthread_join(pl->loader, NULL);
        pl->loading = 0;
        if (pl->loaded != NULL) {
            pl->retired = pl->engine;
            __atomic_store_n(&pl->switched, 0, __ATOMIC_RELEASE);
            __atomic_store_n(&pl->engine, pl->loaded, __ATOMIC_RELEASE);
            pl->loaded = NULL;
            pl->reloads++;
            fprintf(stderr, "vigil-sensor: rules reloaded: %u rules in force\n",
                    detect_engine_rule_count(pl->engine));
        } else {
            pl->reload_failures++;
        }
    }
    if (pl->retired != NULL && __atomic_load_n(&pl->switched, __ATOMIC_ACQUIRE) >= pl->nworkers) {
        detect_engine_free(pl->retired);
        pl->retired = NULL;
    }
}

/* Takes an empty batch from w, waiting for the worker to hand one back if needed. */
static struct batch *batch_get(struct worker *w)
{
    struct batch *b = spsc_pop(&w->back);
    while (b == NULL)
        b = spsc_pop_wait(&w->back, 100);
    return b;
}

static void batch_send(struct pipeline *pl, struct worker *w, uint32_t flags)
{
    struct batch *b = w->cur ? w->cur : batch_get(w);
    w->cur = NULL;
    b->clock = pl->clock;
    b->flags |= flags;
    spsc_push(&w->in, b); /* never full: it holds every batch the worker has */
}

/* Sends every worker its partial batch, or an empty one, so all share the current clock. */
static void tick_workers(struct pipeline *pl)
{
    for (unsigned i = 0; i < pl->nworkers; i++)
        batch_send(pl, &pl->workers[i], 0);
    pl->last_tick = pl->clock;
}

/* The worker of p. Both directions of a flow hash alike, so they reach the same worker. Packets
 * without a flow (fragments, invalid ones) only need a worker that is the same on every run.
 * With ftp-hash, TCP that may be FTP (control on 21, active data from 20, passive data between
 * two high ports) goes by its address pair, as Suricata's ftp-hash scheduler does: the data
 * connection is then handled after the control channel that announced it. */
static unsigned worker_of(const struct pipeline *pl, const struct vg_packet *p)
{
    if (pl->nworkers == 1)
        return 0;
    if (p->flow_hash == 0)
        return (unsigned)(p->pcap_cnt % pl->nworkers);
    uint64_t h = p->flow_hash;
    if (pl->set->ftp_hash && p->proto == 6 && (p->flags & VG_PKT_HAS_PORTS) &&
        (p->sp == 21 || p->dp == 21 || p->sp == 20 || p->dp == 20 ||
         (p->sp >= 1024 && p->dp >= 1024))) {
        /* The two addresses in a fixed order, so both directions agree. */
        uint8_t k[33];
        int lo = memcmp(p->src.u8, p->dst.u8, 16) <= 0;
        memcpy(k, lo ? p->src.u8 : p->dst.u8, 16);
        memcpy(k + 16, lo ? p->dst.u8 : p->src.u8, 16);
        k[32] = (uint8_t)p->ip_ver;
        h = XXH3_64bits(k, sizeof(k));
    }
    return (unsigned)((h >> 32) % pl->nworkers);
}

/* Copies p into the batch of the worker that owns its flow. */
static void dispatch(struct pipeline *pl, struct vg_packet *p)
{
    p->flow_hash = flow_hash_packet(p);
    unsigned wi = worker_of(pl, p);
    struct worker *w = &pl->workers[wi];
    uint32_t need = (p->caplen + 7u) & ~7u;
    if (need > BATCH_ARENA) {
        pl->oversize++;
        return;
    }
    if (w->cur != NULL && (w->cur->npkts == BATCH_MAX_PKTS || w->cur->used + need > BATCH_ARENA))
        batch_send(pl, w, 0);
    if (w->cur == NULL)
        w->cur = batch_get(w);
    struct batch *b = w->cur;
    struct vg_packet *q = &b->pkts[b->npkts++];
    *q = *p;
    memcpy(b->arena + b->used, p->data, p->caplen);
    q->data = b->arena + b->used;
    b->used += need;
}

static void handle_packet(struct pipeline *pl, struct vg_packet *p)
{
    p->pcap_cnt = ++pl->pcap_cnt;
    decode_packet(&pl->dstats, p);
    if (p->ts > pl->clock)
        pl->clock = p->ts;
    if (pl->last_tick == 0)
        pl->last_tick = pl->clock;

    if (p->flags & VG_PKT_FRAGMENT) {
        uint32_t n = defrag_insert(pl->defrag, &pl->dstats, p, pl->reasm);
        dispatch(pl, p);
        if (n > 0) {
            struct vg_packet rp;
            memset(&rp, 0, sizeof(rp));
            rp.data = pl->reasm;
            rp.caplen = rp.wirelen = n;
            rp.ts = p->ts;
            rp.datalink = VG_DLT_REASSEMBLED;
            rp.src_idx = p->src_idx;
            rp.flags = VG_PKT_REASSEMBLED;
            decode_packet(&pl->dstats, &rp);
            rp.pcap_cnt = p->pcap_cnt;
            /* The rebuilt datagram travelled in the fragments' VLANs. */
            rp.vlan_cnt = p->vlan_cnt;
            memcpy(rp.vlan_id, p->vlan_id, sizeof(rp.vlan_id));
            dispatch(pl, &rp);
        }
    } else {
        dispatch(pl, p);
    }

    if (pl->clock >= pl->last_tick + VG_USEC_PER_SEC) {
        defrag_timeout(pl->defrag, pl->clock);
        tick_workers(pl);
    }
}

void pipeline_collect_stats(struct pipeline *pl, struct sensor_stats *s)
{
    memset(s, 0, sizeof(*s));
    s->uptime = vg_monotonic() - pl->started;
    if (pl->cap != NULL)
        capture_get_stats(pl->cap, &s->capture);
    decode_stats_merge(&s->decoder, &pl->dstats);
    if (pl->defrag != NULL)
        s->defrag = *defrag_stats(pl->defrag);
    for (unsigned i = 0; i < pl->nworkers; i++) {
        /* Workers mode: each worker captures, decodes and defragments on its own. */
        if (pl->workers[i].sock != NULL)
            afp_get_stats(pl->workers[i].sock, &s->capture);
        decode_stats_merge(&s->decoder, &pl->workers[i].dstats);
        if (pl->workers[i].defrag != NULL)
            stats_defrag_add(&s->defrag, defrag_stats(pl->workers[i].defrag));
        stats_flow_add(&s->flow, flow_table_stats(pl->workers[i].flows));
        stats_worker_add(&s->worker, &pl->workers[i].st);
        worker_detect_stats(&pl->workers[i], &s->detect);
        if (pl->workers[i].app != NULL)
            app_layer_stats_add(pl->workers[i].app, &s->app);
        if (pl->workers[i].ecache != NULL) {
            uint64_t hits, misses;
            enrich_cache_stats(pl->workers[i].ecache, &hits, &misses);
            s->enrich_enabled = 1;
            s->enrich.cache_hits += hits;
            s->enrich.cache_misses += misses;
            s->enrich.lookups += hits + misses;
        }
    }
    s->rules_loaded = pl->engine ? detect_engine_rule_count(pl->engine) : 0;
    s->rule_reloads = pl->reloads;
    s->rule_reload_failures = pl->reload_failures;
    if (pl->files != NULL)
        file_engine_get_stats(pl->files, &s->files);
    if (pl->sink != NULL)
        eve_sink_get_stats(pl->sink, &s->eve);
}

/* Creates the file engine when files are logged: YARA rules compiled, scanner threads started. */
static int files_start(struct pipeline *pl, char *errbuf)
{
    const struct sensor_settings *set = pl->set;
    if (pl->sink == NULL || !set->files_enabled || !set->app.enabled)
        return 0;
    struct file_config fc;
    file_config_init(&fc);
    int rc = file_config_load(&fc, set->cfg, errbuf);
    for (unsigned i = 0; rc == 0 && i < set->nyara_rules; i++)
        if (file_config_add_rules(&fc, set->yara_rules[i]) < 0) {
            vg_errbuf_set(errbuf, "out of memory");
            rc = -1;
        }
    fc.sink = pl->sink;
    if (rc == 0 && (pl->files = file_engine_new(&fc, errbuf)) == NULL)
        rc = -1;
    file_config_free(&fc);
    if (pl->files != NULL) {
        struct file_rules_info ri;
        file_engine_rules_info(pl->files, &ri);
        if (ri.files > 0)
            fprintf(stderr, "vigil-sensor: yara: %u rules from %u files (%u failed)%s in %.2f s\n",
                    ri.rules, ri.files, ri.files_bad, ri.from_cache ? " from the cache" : "",
                    (double)ri.load_usec / 1e6);
    }
    return rc;
}

/* The per-rule counters of the ruleset in force, summed over the workers that run it (counters
 * of rulesets replaced by a reload are not carried over). A new array, or NULL. */
static struct detect_rule_stats *pipeline_rule_stats(struct pipeline *pl)
{
    if (pl->engine == NULL)
        return NULL;
    unsigned n = detect_engine_rule_count(pl->engine);
    struct detect_rule_stats *rs = calloc(n ? n : 1, sizeof(*rs));
    if (rs == NULL)
        return NULL;
    for (unsigned i = 0; i < pl->nworkers; i++)
        worker_rule_stats_add(&pl->workers[i], pl->engine, rs);
    return rs;
}

#define STATS_TOP_RULES 10

void pipeline_write_stats(struct pipeline *pl)
{
    if (pl->eve == NULL || !pl->set->eve_stats)
        return;
    struct sensor_stats s;
    pipeline_collect_stats(pl, &s);
    json_t *rec = json_object();
    eve_set_time(rec, "timestamp", vg_wallclock());
    json_object_set_new(rec, "event_type", json_string("stats"));
    json_t *so = eve_stats_object(&s);
    struct detect_rule_stats *rs = pipeline_rule_stats(pl);
    json_t *det = so ? json_object_get(so, "detect") : NULL;
    if (rs != NULL && det != NULL) /* the rules checked most: where detection spends its time */
        json_object_set_new(
            det, "rules",
            detect_profile_top(pl->engine, rs, STATS_TOP_RULES, pl->set->rule_profiling));
    free(rs);
    json_object_set_new(rec, "stats", so);
    eve_writer_write(pl->eve, rec);
    eve_writer_flush(pl->eve);
    json_decref(rec);
}

/* Writes OUTDIR/rule_perf.json (detect.profiling: yes); a failure is reported, not fatal. */
static void pipeline_write_rule_profile(struct pipeline *pl)
{
    char path[sizeof(pl->set->outdir) + 32], err[VG_ERRBUF_SIZE];
    snprintf(path, sizeof(path), "%s/rule_perf.json", pl->set->outdir);
    struct detect_rule_stats *rs = pipeline_rule_stats(pl);
    if (rs == NULL || detect_profile_write(path, pl->engine, rs, vg_wallclock(), err) < 0)
        fprintf(stderr, "vigil-sensor: rule profile not written: %s\n",
                rs == NULL ? "out of memory" : err);
    else
        fprintf(stderr, "vigil-sensor: rule profile written to %s\n", path);
    free(rs);
}

/* Creates outdir if it does not exist. */
static int ensure_dir(const char *dir, char *errbuf)
{
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode)) {
            vg_errbuf_set(errbuf, "%s: not a directory", dir);
            return -1;
        }
        return 0;
    }
    /* Like mkdir -p: the parents first. */
    char path[4096];
    snprintf(path, sizeof(path), "%s", dir);
    for (char *q = path + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = '\0';
        if (mkdir(path, 0750) < 0 && errno != EEXIST) {
            vg_errbuf_set(errbuf, "%s: cannot create log directory: %s", path, strerror(errno));
            return -1;
        }
        *q = '/';
    }
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
        vg_errbuf_set(errbuf, "%s: cannot create log directory: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

int pipeline_start_outputs(struct pipeline *pl, struct eve_ctx *ectx, char *errbuf)
{
    const struct sensor_settings *set = pl->set;
    ectx->community_id = set->community_id;
    ectx->community_id_seed = set->community_id_seed;
    if (set->enrich != NULL) {
        ectx->enrich = enrich_active(set->enrich) ? set->enrich : NULL; /* the caller's */
    } else if (set->cfg != NULL) {
        if ((pl->enrich = enrich_new(set->cfg, errbuf)) == NULL)
            return -1;
        for (unsigned i = 0; i < set->ngeoip_dbs; i++)
            if (enrich_add_database(pl->enrich, set->geoip_dbs[i], errbuf) < 0)
                return -1; /* pipeline_free frees pl->enrich */
        if (!enrich_active(pl->enrich)) {
            enrich_free(pl->enrich);
            pl->enrich = NULL;
        }
        ectx->enrich = pl->enrich;
    }

    if (set->eve_enabled) {
        char path[sizeof(set->outdir) + sizeof(set->eve_filename) + 2];
        if (ensure_dir(set->outdir, errbuf) < 0)
            return -1;
        snprintf(path, sizeof(path), "%s/%s", set->outdir, set->eve_filename);
        if ((pl->sink = eve_sink_open(path, errbuf)) == NULL ||
            (pl->eve = eve_writer_new(pl->sink)) == NULL) {
            if (pl->sink != NULL)
                vg_errbuf_set(errbuf, "out of memory");
            return -1;
        }
    }
    if (pl->sink != NULL &&
        eve_sink_set_sensor_name(pl->sink, set->sensor_name[0] ? set->sensor_name : NULL) < 0) {
        vg_errbuf_set(errbuf, "out of memory");
        return -1;
    }
    if (pl->sink != NULL && set->eve_redis_enabled) {
        struct eve_redis *r = eve_redis_start(&set->redis, errbuf);
        if (r == NULL)
            return -1;
        eve_sink_attach_redis(pl->sink, r);
    }
    return files_start(pl, errbuf);
}

void pipeline_free(struct pipeline *pl)
{
    if (pl->workers != NULL) {
        for (unsigned i = 0; i < pl->nworkers; i++)
            worker_destroy(&pl->workers[i]);
        free(pl->workers);
    }
    file_engine_free(pl->files); /* finishes queued scans, which write to the sink */
    eve_writer_free(pl->eve);
    eve_sink_close(pl->sink);
    defrag_free(pl->defrag);
    free(pl->reasm);
    enrich_free(pl->enrich);
    if (pl->loading) {
        pthread_join(pl->loader, NULL);
        detect_engine_free(pl->loaded);
    }
    detect_engine_free(pl->retired);
    detect_engine_free(pl->engine);
}

int sensor_run(const struct sensor_settings *set, struct capture *cap, struct detect_engine *engine,
               struct sensor_result *res, char *errbuf)
{
    struct pipeline pl;
    memset(&pl, 0, sizeof(pl));
    memset(res, 0, sizeof(*res));
    pl.set = set;
    pl.engine = engine;
    pl.cap = cap;
    pl.nworkers = set->nworkers ? set->nworkers : 1;
    pl.started = vg_monotonic();
    pipeline_reset_requests();

    struct eve_ctx ectx;
    memset(&ectx, 0, sizeof(ectx));
    ectx.src_names = capture_source_names(cap, &ectx.nsrc);
    if (capture_is_live(cap))
        ectx.in_iface = ectx.src_names[0];
    /* Signals go to this thread, never to the output, scanner or worker threads started
     * here: a stop must interrupt this thread's blocking read of a pipe or FIFO. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (pipeline_start_outputs(&pl, &ectx, errbuf) < 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pipeline_free(&pl);
        return -1;
    }
    pl.defrag = defrag_new(&set->defrag, errbuf);
    pl.reasm = malloc(DEFRAG_MAX_PACKET);
    pl.workers = calloc(pl.nworkers, sizeof(*pl.workers));
    if (pl.defrag == NULL || pl.reasm == NULL || pl.workers == NULL) {
        if (pl.defrag != NULL)
            vg_errbuf_set(errbuf, "out of memory");
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pipeline_free(&pl);
        return -1;
    }
    for (unsigned i = 0; i < pl.nworkers; i++) {
        if (worker_init(&pl.workers[i], i, set, &ectx, pl.sink, pl.files, &pl.engine, &pl.switched,
                        errbuf) < 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            pipeline_free(&pl);
            return -1;
        }
    }
    for (unsigned i = 0; i < pl.nworkers; i++) {
        if (pthread_create(&pl.workers[i].thread, NULL, worker_main, &pl.workers[i]) != 0) {
            vg_errbuf_set(errbuf, "cannot start worker thread %u", i);
            /* Stop the workers already running, then clean up. */
            for (unsigned j = 0; j < i; j++) {
                batch_send(&pl, &pl.workers[j], BATCH_EOF);
                pthread_join(pl.workers[j].thread, NULL);
            }
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            pipeline_free(&pl);
            return -1;
        }
        pl.workers[i].started = 1;
        vg_thread_name(pl.workers[i].thread, "vigil-worker", i);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    struct progress prog;
    progress_init(&prog, set->progress);
    vg_time_t next_stats = pl.started + (vg_time_t)set->stats_interval * VG_USEC_PER_SEC;
    vg_time_t last_flush = pl.started;
    int live = capture_is_live(cap);
    char cerr[VG_ERRBUF_SIZE];

    for (unsigned n = 0;; n++) {
        if (stop_requested)
            capture_break(cap);
        struct vg_packet p;
        int rc = capture_next(cap, &p, cerr);
        if (rc == CAPTURE_PACKET) {
            handle_packet(&pl, &p);
            pipeline_reload_step(&pl); /* a flag test unless a reload is under way */
            if ((n & 255) != 0)
                continue;
        } else if (rc == CAPTURE_SOURCE_ERROR) {
            progress_clear(&prog);
            fprintf(stderr, "vigil-sensor: %s\n", cerr);
            res->source_errors++;
            continue;
        } else if (rc == CAPTURE_FATAL) {
            progress_clear(&prog);
            fprintf(stderr, "vigil-sensor: %s\n", cerr);
            res->fatal = 1;
            break;
        } else if (rc == CAPTURE_END) {
            break;
        }
        /* Every 256 packets, or when a live read timed out: the wall-clock chores. */
        vg_time_t now = vg_monotonic();
        if (live && (rc == CAPTURE_TIMEOUT || now - last_flush >= 100000)) {
            /* Idle links still move time on, so flows time out; batches go out promptly. */
            vg_time_t wall = vg_wallclock();
            if (wall > pl.clock)
                pl.clock = wall;
            defrag_timeout(pl.defrag, pl.clock);
            tick_workers(&pl);
            last_flush = now;
        }
        if (set->stats_interval > 0 && now >= next_stats) {
            pipeline_write_stats(&pl);
            next_stats = now + (vg_time_t)set->stats_interval * VG_USEC_PER_SEC;
        }
        pipeline_reload_step(&pl);
        if (pipeline_take_reopen()) {
            char rerr[VG_ERRBUF_SIZE];
            if (pl.sink != NULL && eve_sink_reopen(pl.sink, rerr) < 0)
                fprintf(stderr, "vigil-sensor: reopening the EVE log: %s\n", rerr);
        }
        uint64_t done, total;
        capture_progress(cap, &done, &total);
        progress_update(&prog, done, total, pl.dstats.pkts, pl.dstats.bytes, now);
    }
    progress_clear(&prog);

    /* End of input: every worker gets the final clock and flushes its flows. */
    defrag_timeout(pl.defrag, pl.clock);
    for (unsigned i = 0; i < pl.nworkers; i++)
        batch_send(&pl, &pl.workers[i], BATCH_EOF);
    for (unsigned i = 0; i < pl.nworkers; i++)
        pthread_join(pl.workers[i].thread, NULL);
    if (pl.files != NULL)
        file_engine_drain(pl.files);
    pipeline_write_stats(&pl);
    if (set->rule_profiling && pl.engine != NULL)
        pipeline_write_rule_profile(&pl);

    struct sensor_stats s;
    pipeline_collect_stats(&pl, &s);
    res->packets = s.decoder.pkts;
    res->bytes = s.decoder.bytes;
    res->flows = s.flow.total;
    res->events = s.eve.records;
    res->events_lost = s.eve.dropped;
    res->alerts = s.detect.alerts + s.files.yara_alerts;
    res->elapsed = vg_monotonic() - pl.started;
    res->worker_cpu = s.worker.cpu_usec;
    pipeline_free(&pl);
    return 0;
}
