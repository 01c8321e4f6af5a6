/* pipeline-workers.c: workers mode: each worker reads its own AF_PACKET socket to the log. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline-internal.h"
#include "vigil/decode.h"
#include "vigil/defrag.h"
#include "vigil/files.h"
#include "vigil/flow.h"

#define WM_POLL_MS 100        /* longest wait for packets, so stop and chores are prompt */
#define WM_CHORES_USEC 100000 /* wall-clock chores (clock, timeouts, EVE flush) this often */

/* Puts the VLAN id the kernel took off the frame in front of those decoded from it. */
static void add_stripped_vlan(struct vg_packet *p, int vlan)
{
    unsigned n = p->vlan_cnt < VG_PKT_MAX_VLAN ? p->vlan_cnt : VG_PKT_MAX_VLAN - 1;
    memmove(&p->vlan_id[1], &p->vlan_id[0], n * sizeof(p->vlan_id[0]));
    p->vlan_id[0] = (uint16_t)vlan;
    p->vlan_cnt = (uint8_t)(n + 1);
}

/* Decodes, defragments and processes one captured packet on the worker's own thread. */
static void wm_packet(struct worker *w, struct vg_packet *p, int vlan)
{
    p->pcap_cnt = ++w->pcap_cnt;
    decode_packet(&w->dstats, p);
    if (vlan >= 0)
        add_stripped_vlan(p, vlan);
    p->flow_hash = flow_hash_packet(p);
    if (p->ts > w->clock)
        w->clock = p->ts;
    worker_packet(w, p);
    if (!(p->flags & VG_PKT_FRAGMENT))
        return;
    /* The kernel reassembles IPv4 before fanout (af-packet.defrag); the rest is done here. */
    uint32_t n = defrag_insert(w->defrag, &w->dstats, p, w->reasm);
    if (n == 0)
        return;
    struct vg_packet rp;
    memset(&rp, 0, sizeof(rp));
    rp.data = w->reasm;
    rp.caplen = rp.wirelen = n;
    rp.ts = p->ts;
    rp.datalink = VG_DLT_REASSEMBLED;
    rp.flags = VG_PKT_REASSEMBLED;
    decode_packet(&w->dstats, &rp);
    rp.pcap_cnt = p->pcap_cnt;
    rp.vlan_cnt = p->vlan_cnt;
    memcpy(rp.vlan_id, p->vlan_id, sizeof(rp.vlan_id));
    rp.flow_hash = flow_hash_packet(&rp);
    worker_packet(w, &rp);
}

/* The wall-clock chores: time moves on while the link is idle, flows time out, logs go out. */
static void wm_chores(struct worker *w)
{
    vg_time_t wall = vg_wallclock();
    vg_time_t clock = wall > w->clock ? wall : w->clock;
    defrag_timeout(w->defrag, clock);
    worker_tick(w, clock);
    afp_update_stats(w->sock);
    VG_CNT_SET(w->st.cpu_usec, vg_thread_cpu());
}

/* A worker thread in workers mode: capture to log on one socket until stopped. */
static void *wm_main(void *arg)
{
    struct worker *w = arg;
    char err[VG_ERRBUF_SIZE];
    vg_time_t last = vg_monotonic();
    for (unsigned n = 0;; n++) {
        struct vg_packet p;
        int vlan = -1;
        int rc = afp_next(w->sock, &p, &vlan, WM_POLL_MS, err);
        if (rc == CAPTURE_PACKET) {
            wm_packet(w, &p, vlan);
            if ((n & 63) != 0)
                continue;
        } else if (rc == CAPTURE_END) {
            break;
        } else if (rc == CAPTURE_FATAL) {
            fprintf(stderr, "vigil-sensor: worker %u: %s\n", w->id, err);
            __atomic_store_n(&w->started, 2, __ATOMIC_RELEASE); /* 2: failed */
            break;
        }
        vg_time_t now = vg_monotonic();
        if (rc == CAPTURE_TIMEOUT || now - last >= WM_CHORES_USEC) {
            wm_chores(w);
            last = now;
        }
    }
    /* Graceful end: every flow is logged at the current clock, the kernel counters read last. */
    vg_time_t wall = vg_wallclock();
    if (wall > w->clock)
        w->clock = wall;
    defrag_timeout(w->defrag, w->clock);
    worker_finish(w);
    afp_update_stats(w->sock);
    VG_CNT_SET(w->st.cpu_usec, vg_thread_cpu());
    return NULL;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        if (pipeline_stop_requested())
            break;
}

int sensor_run_workers(const struct sensor_settings *set, struct afp_group *g,
                       struct detect_engine *engine, struct sensor_result *res, char *errbuf)
{
    struct pipeline pl;
    memset(&pl, 0, sizeof(pl));
    memset(res, 0, sizeof(*res));
    pl.set = set;
    pl.engine = engine;
    pl.afp = g;
    pl.nworkers = afp_count(g);
    pl.started = vg_monotonic();
    pipeline_reset_requests();

    static const char *names[1];
    names[0] = afp_iface(g);
    struct eve_ctx ectx;
    memset(&ectx, 0, sizeof(ectx));
    ectx.src_names = names;
    ectx.nsrc = 1;
    ectx.in_iface = names[0];
    if (pipeline_start_outputs(&pl, &ectx, errbuf) < 0) {
        pipeline_free(&pl);
        return -1;
    }
    if ((pl.workers = calloc(pl.nworkers, sizeof(*pl.workers))) == NULL) {
        vg_errbuf_set(errbuf, "out of memory");
        pipeline_free(&pl);
        return -1;
    }
    if (pl.nworkers != (set->nworkers ? set->nworkers : 1)) {
        vg_errbuf_set(errbuf, "af-packet: %u sockets for %u workers", pl.nworkers, set->nworkers);
        pipeline_free(&pl);
        return -1;
    }
    for (unsigned i = 0; i < pl.nworkers; i++) {
        if (worker_init_direct(&pl.workers[i], i, set, &ectx, pl.sink, pl.files, &pl.engine,
                               &pl.switched, errbuf) < 0) {
            pipeline_free(&pl);
            return -1;
        }
        pl.workers[i].sock = afp_socket_at(g, i);
    }
    /* Signals go to this thread, which turns them into requests; workers only poll. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    unsigned running = 0;
    for (; running < pl.nworkers; running++) {
        if (pthread_create(&pl.workers[running].thread, NULL, wm_main, &pl.workers[running]) != 0)
            break;
        pl.workers[running].started = 1;
        vg_thread_name(pl.workers[running].thread, "vigil-worker", running);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (running < pl.nworkers) {
        vg_errbuf_set(errbuf, "cannot start worker thread %u", running);
        afp_break(g);
        for (unsigned j = 0; j < running; j++)
            pthread_join(pl.workers[j].thread, NULL);
        pipeline_free(&pl);
        return -1;
    }

    /* The main thread: stats, reloads, reopens, and watching for the stop request. */
    vg_time_t next_stats = pl.started + (vg_time_t)set->stats_interval * VG_USEC_PER_SEC;
    while (!pipeline_stop_requested()) {
        sleep_ms(50);
        unsigned failed = 0;
        for (unsigned i = 0; i < pl.nworkers; i++)
            failed += __atomic_load_n(&pl.workers[i].started, __ATOMIC_ACQUIRE) == 2;
        if (failed > 0) {
            res->fatal = 1;
            break;
        }
        vg_time_t now = vg_monotonic();
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
    }

    afp_break(g);
    for (unsigned i = 0; i < pl.nworkers; i++)
        pthread_join(pl.workers[i].thread, NULL);
    if (pl.files != NULL)
        file_engine_drain(pl.files);
    pipeline_write_stats(&pl);

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
