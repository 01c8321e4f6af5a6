/* eve-stats.c: the EVE "stats" record: counters named as in Suricata's stats event. */
#include <stdio.h>
#include <string.h>

#include "vigil/app-proto.h"
#include "vigil/stats.h"

void stats_flow_add(struct flow_stats *a, const struct flow_stats *b)
{
    a->total += VG_CNT_GET(b->total);
    a->active += VG_CNT_GET(b->active);
    a->tcp += VG_CNT_GET(b->tcp);
    a->udp += VG_CNT_GET(b->udp);
    a->icmpv4 += VG_CNT_GET(b->icmpv4);
    a->icmpv6 += VG_CNT_GET(b->icmpv6);
    a->other += VG_CNT_GET(b->other);
    a->timeouts += VG_CNT_GET(b->timeouts);
    a->forced += VG_CNT_GET(b->forced);
    a->shutdown += VG_CNT_GET(b->shutdown);
    a->memcap_evictions += VG_CNT_GET(b->memcap_evictions);
    a->memcap_drops += VG_CNT_GET(b->memcap_drops);
    a->tcp_reuse += VG_CNT_GET(b->tcp_reuse);
    a->memuse += VG_CNT_GET(b->memuse);
}

void stats_worker_add(struct worker_stats *a, const struct worker_stats *b)
{
    a->pkts += VG_CNT_GET(b->pkts);
    a->bytes += VG_CNT_GET(b->bytes);
    a->batches += VG_CNT_GET(b->batches);
    a->cpu_usec += VG_CNT_GET(b->cpu_usec);
}

void stats_defrag_add(struct defrag_stats *a, const struct defrag_stats *b)
{
    a->ipv4_fragments += VG_CNT_GET(b->ipv4_fragments);
    a->ipv4_reassembled += VG_CNT_GET(b->ipv4_reassembled);
    a->ipv4_timeouts += VG_CNT_GET(b->ipv4_timeouts);
    a->ipv6_fragments += VG_CNT_GET(b->ipv6_fragments);
    a->ipv6_reassembled += VG_CNT_GET(b->ipv6_reassembled);
    a->ipv6_timeouts += VG_CNT_GET(b->ipv6_timeouts);
    a->max_frag_hits += VG_CNT_GET(b->max_frag_hits);
    a->evictions += VG_CNT_GET(b->evictions);
    a->overlaps += VG_CNT_GET(b->overlaps);
    a->trackers += VG_CNT_GET(b->trackers);
    a->memuse += VG_CNT_GET(b->memuse);
}

/* Returns obj[name], creating an empty object there if needed. */
static json_t *sub(json_t *obj, const char *name)
{
    json_t *o = json_object_get(obj, name);
    if (o == NULL) {
        o = json_object();
        json_object_set_new(obj, name, o);
    }
    return o;
}

static json_t *decoder_object(const struct vg_decode_stats *d)
{
    json_t *o = json_object();
#define VG_DC_JSON(name) eve_set_uint(o, #name, d->name);
    VG_DECODE_COUNTERS(VG_DC_JSON)
#undef VG_DC_JSON
    eve_set_uint(o, "max_pkt_size", d->max_pkt_size);
    eve_set_uint(o, "avg_pkt_size", d->pkts ? d->bytes / d->pkts : 0);
    /* decoder.event.ipv4.trunc_pkt and so on, every event listed even when zero. */
    json_t *ev = json_object();
    for (unsigned i = 1; i < VG_EV__COUNT; i++) {
        const char *name = decode_event_name(i);
        const char *dot = strchr(name, '.');
        if (dot == NULL) {
            eve_set_uint(ev, name, d->events[i]);
            continue;
        }
        char layer[32];
        snprintf(layer, sizeof(layer), "%.*s", (int)(dot - name), name);
        eve_set_uint(sub(ev, layer), dot + 1, d->events[i]);
    }
    json_object_set_new(o, "event", ev);
    return o;
}

json_t *eve_stats_object(const struct sensor_stats *s)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    eve_set_uint(o, "uptime", s->uptime / VG_USEC_PER_SEC);

    json_t *cap = sub(o, "capture");
    eve_set_uint(cap, "kernel_packets", s->capture.kernel_packets);
    eve_set_uint(cap, "kernel_drops", s->capture.kernel_drops);
    eve_set_uint(cap, "kernel_ifdrops", s->capture.kernel_ifdrops);
    eve_set_uint(cap, "kernel_freeze_q", s->capture.kernel_freezes);
    eve_set_uint(cap, "files", s->capture.files);
    eve_set_uint(cap, "file_errors", s->capture.file_errors);

    json_object_set_new(o, "decoder", decoder_object(&s->decoder));

    const struct flow_stats *f = &s->flow;
    json_t *fl = sub(o, "flow");
    eve_set_uint(fl, "total", f->total);
    eve_set_uint(fl, "active", f->active);
    eve_set_uint(fl, "tcp", f->tcp);
    eve_set_uint(fl, "udp", f->udp);
    eve_set_uint(fl, "icmpv4", f->icmpv4);
    eve_set_uint(fl, "icmpv6", f->icmpv6);
    eve_set_uint(fl, "other", f->other);
    eve_set_uint(fl, "memcap", f->memcap_drops);
    eve_set_uint(fl, "memcap_evictions", f->memcap_evictions);
    eve_set_uint(fl, "tcp_reuse", f->tcp_reuse);
    eve_set_uint(fl, "memuse", f->memuse);
    json_t *end = sub(fl, "end");
    eve_set_uint(end, "timeout", f->timeouts);
    eve_set_uint(end, "forced", f->forced);
    eve_set_uint(end, "shutdown", f->shutdown);

    const struct defrag_stats *d = &s->defrag;
    json_t *df = sub(o, "defrag");
    json_t *v4 = sub(df, "ipv4");
    eve_set_uint(v4, "fragments", d->ipv4_fragments);
    eve_set_uint(v4, "reassembled", d->ipv4_reassembled);
    eve_set_uint(v4, "timeouts", d->ipv4_timeouts);
    json_t *v6 = sub(df, "ipv6");
    eve_set_uint(v6, "fragments", d->ipv6_fragments);
    eve_set_uint(v6, "reassembled", d->ipv6_reassembled);
    eve_set_uint(v6, "timeouts", d->ipv6_timeouts);
    eve_set_uint(df, "max_frag_hits", d->max_frag_hits);
    eve_set_uint(df, "evictions", d->evictions);
    eve_set_uint(df, "overlaps", d->overlaps);
    eve_set_uint(df, "trackers", d->trackers);
    eve_set_uint(df, "memuse", d->memuse);

    json_t *w = sub(o, "worker");
    eve_set_uint(w, "pkts", s->worker.pkts);
    eve_set_uint(w, "bytes", s->worker.bytes);
    eve_set_uint(w, "batches", s->worker.batches);
    json_object_set_new(w, "cpu_seconds", json_real((double)s->worker.cpu_usec / 1e6));

    const struct detect_stats *ds = &s->detect;
    json_t *det = sub(o, "detect");
    eve_set_uint(det, "alert", ds->alerts);
    eve_set_uint(det, "rules_loaded", s->rules_loaded);
    eve_set_uint(det, "rule_reloads", s->rule_reloads);
    eve_set_uint(det, "rule_reload_failures", s->rule_reload_failures);
    eve_set_uint(det, "packets_inspected", ds->packets_inspected);
    eve_set_uint(det, "streams_inspected", ds->streams_inspected);
    eve_set_uint(det, "txs_inspected", ds->txs_inspected);
    eve_set_uint(det, "prefilter_hits", ds->prefilter_hits);
    eve_set_uint(det, "rules_checked", ds->rules_checked);
    eve_set_uint(det, "pcre_limit_hits", ds->pcre_limit_hits);
    eve_set_uint(det, "suppressed", ds->suppressed);

    /* Suricata's names: tcp.* for reassembly, app_layer.flow/tx/error per protocol. */
    const struct stream_stats *ss = &s->app.stream;
    json_t *tcp = sub(o, "tcp");
    eve_set_uint(tcp, "segments", ss->segments);
    eve_set_uint(tcp, "reassembled_bytes", ss->bytes_reassembled);
    eve_set_uint(tcp, "retransmissions", ss->retransmissions);
    eve_set_uint(tcp, "overlap", ss->overlaps);
    eve_set_uint(tcp, "overlap_diff_data", ss->overlap_diff);
    eve_set_uint(tcp, "reassembly_gap", ss->gaps);
    eve_set_uint(tcp, "out_of_order", ss->out_of_order);
    eve_set_uint(tcp, "segment_memcap_drop", ss->memcap_drops);
    eve_set_uint(tcp, "stream_depth_reached", ss->depth_reached);
    eve_set_uint(tcp, "midstream_pickups", ss->midstream_pickups);
    eve_set_uint(tcp, "reassembly_memuse", ss->memuse);
    json_t *al = sub(o, "app_layer");
    json_t *alf = sub(al, "flow"), *alt = sub(al, "tx"), *ale = sub(al, "error");
    for (unsigned i = 1; i < APP__COUNT; i++) {
        const char *name = app_proto_name(i);
        if (name == NULL)
            continue;
        eve_set_uint(alf, name, s->app.flows[i]);
        if (i == APP_FAILED)
            continue;
        eve_set_uint(alt, name, s->app.txs[i]);
        eve_set_uint(ale, name, s->app.parse_errors[i]);
    }
    eve_set_uint(al, "memcap_drops", s->app.memcap_drops);
    eve_set_uint(al, "memuse", s->app.memuse);
    json_t *ex = sub(al, "expectations"); /* FTP data connections announced */
    eve_set_uint(ex, "added", s->app.expect_added);
    eve_set_uint(ex, "matched", s->app.expect_matched);
    eve_set_uint(ex, "expired", s->app.expect_expired);
    eve_set_uint(ex, "dropped", s->app.expect_dropped);
    eve_set_uint(ex, "active", s->app.expect_active);

    const struct file_stats *fs = &s->files;
    json_t *fo = sub(o, "files");
    eve_set_uint(fo, "opened", fs->opened);
    eve_set_uint(fo, "closed", fs->closed);
    eve_set_uint(fo, "truncated", fs->truncated);
    eve_set_uint(fo, "magic_cached", fs->magic_cached);
    eve_set_uint(fo, "bytes", fs->bytes);
    eve_set_uint(fo, "memcap", fs->memcap);
    eve_set_uint(fo, "buffers_warm", fs->buf_warm);
    eve_set_uint(fo, "buffers_cold", fs->buf_cold);
    eve_set_uint(fo, "skipped_scan", fs->skipped_scan);
    eve_set_uint(fo, "yara_scanned", fs->scanned);
    eve_set_uint(fo, "yara_scanned_bytes", fs->scanned_bytes);
    json_object_set_new(fo, "yara_scan_seconds", json_real((double)fs->scan_usec / 1e6));
    json_object_set_new(fo, "yara_scan_cpu_seconds", json_real((double)fs->scan_cpu_usec / 1e6));
    eve_set_uint(fo, "yara_matched", fs->yara_matched);
    eve_set_uint(fo, "yara_alerts", fs->yara_alerts);
    eve_set_uint(fo, "yara_timeouts", fs->yara_timeouts);
    eve_set_uint(fo, "yara_errors", fs->yara_errors);
    eve_set_uint(fo, "stored", fs->stored);
    eve_set_uint(fo, "store_errors", fs->store_errors);
    eve_set_uint(fo, "mime_parts", fs->mime_parts);
    eve_set_uint(fo, "mime_errors", fs->mime_errors);

    if (s->enrich_enabled) {
        json_t *en = sub(o, "enrich");
        eve_set_uint(en, "lookups", s->enrich.lookups);
        eve_set_uint(en, "cache_hits", s->enrich.cache_hits);
        eve_set_uint(en, "cache_misses", s->enrich.cache_misses);
    }

    json_t *eve = sub(o, "eve");
    eve_set_uint(eve, "records", s->eve.records);
    eve_set_uint(eve, "bytes", s->eve.bytes);
    eve_set_uint(eve, "write_errors", s->eve.write_errors);
    eve_set_uint(eve, "dropped", s->eve.dropped);
    if (s->eve.redis_enabled) {
        const struct eve_redis_stats *r = &s->eve.redis;
        json_t *ro = sub(eve, "redis");
        eve_set_uint(ro, "sent", r->sent);
        eve_set_uint(ro, "spooled", r->spooled);
        eve_set_uint(ro, "replayed", r->replayed);
        eve_set_uint(ro, "dropped", r->dropped);
        eve_set_uint(ro, "errors", r->errors);
        eve_set_uint(ro, "connected", r->connected);
        eve_set_uint(ro, "spool_bytes", r->spool_bytes);
    }
    return o;
}
