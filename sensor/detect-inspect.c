/* detect-inspect.c: a rule's header, flow and packet keywords, alerting, and packet inspection. */
#define _GNU_SOURCE
#include <string.h>
#include <x86intrin.h>

#include "detect-internal.h"

int detect_range_match(const struct sm_range *r, uint64_t v)
{
    switch (r->op) {
    case RANGE_EQ:
        return v == r->a;
    case RANGE_NE:
        return v != r->a;
    case RANGE_LT:
        return v < r->a;
    case RANGE_GT:
        return v > r->a;
    case RANGE_LE:
        return v <= r->a;
    case RANGE_GE:
        return v >= r->a;
    case RANGE_BETWEEN:
        return v > r->a && v < r->b;
    default:
        return 0;
    }
}

/* The IPv4 header of p (for id, fragment bits and options), or NULL. */
static const uint8_t *ipv4_hdr(const struct vg_packet *p)
{
    return p->ip_ver == 4 && p->l3_off + 20 <= p->caplen ? p->data + p->l3_off : NULL;
}

static int ipopt_present(const struct vg_packet *p, uint8_t type)
{
    const uint8_t *h = ipv4_hdr(p);
    if (h == NULL)
        return 0;
    uint32_t hlen = (uint32_t)(h[0] & 15) * 4;
    if (hlen <= 20 || p->l3_off + hlen > p->caplen)
        return 0;
    if (type == 255)
        return 1;
    for (uint32_t i = 20; i < hlen;) {
        uint8_t t = h[i];
        if (t == type)
            return 1;
        if (t == 0)
            return 0;
        if (t == 1) {
            i++;
            continue;
        }
        if (i + 1 >= hlen || h[i + 1] < 2)
            return 0;
        i += h[i + 1];
    }
    return 0;
}

static int flags_ok(const struct pkt_check *c, uint8_t flags)
{
    uint8_t f = flags & c->mask;
    switch (c->mode) {
    case '+':
        return (f & c->match) == c->match;
    case '*':
        return (f & c->match) != 0;
    case '!':
        return (f & c->match) == 0;
    default:
        return c->match == 0 ? f == 0 : f == c->match;
    }
}

static int pkt_checks(const struct sig *s, const struct vg_packet *p, struct flow *f, int stream)
{
    for (unsigned i = 0; i < s->npc; i++) {
        const struct pkt_check *c = &s->pc[i];
        int ok = 1;
        switch (c->type) {
        case PC_IP_PROTO:
            ok = detect_range_match(&c->r, p->proto);
            break;
        case PC_TTL:
            ok = detect_range_match(&c->r, p->ttl);
            break;
        case PC_FLAGS:
            ok = p->proto == 6 && flags_ok(c, p->tcp_flags);
            break;
        case PC_ITYPE:
            ok = (p->proto == 1 || p->proto == 58) && detect_range_match(&c->r, p->icmp_type);
            break;
        case PC_ICODE:
            ok = (p->proto == 1 || p->proto == 58) && detect_range_match(&c->r, p->icmp_code);
            break;
        case PC_DSIZE:
            ok = !stream && detect_range_match(&c->r, p->payload_len);
            break;
        case PC_ICMP_ID:
        case PC_ICMP_SEQ: {
            ok = (p->proto == 1 || p->proto == 58) && p->l4_off + 8 <= p->caplen &&
                 (p->icmp_type == 0 || p->icmp_type == 8 || p->icmp_type == 128 ||
                  p->icmp_type == 129);
            if (ok)
                ok = detect_range_match(
                    &c->r, vg_be16(p->data + p->l4_off + (c->type == PC_ICMP_ID ? 4 : 6)));
            break;
        }
        case PC_SEQ:
            ok = p->proto == 6 && detect_range_match(&c->r, p->tcp_seq);
            break;
        case PC_ACK:
            ok = p->proto == 6 && detect_range_match(&c->r, p->tcp_ack);
            break;
        case PC_WINDOW:
            ok = p->proto == 6 && detect_range_match(&c->r, p->tcp_win);
            break;
        case PC_IPID: {
            const uint8_t *h = ipv4_hdr(p);
            ok = h && detect_range_match(&c->r, vg_be16(h + 4));
            break;
        }
        case PC_TOS:
            ok = detect_range_match(&c->r, p->ip_tos);
            break;
        case PC_SAMEIP:
            ok = memcmp(&p->src, &p->dst, sizeof(p->src)) == 0;
            break;
        case PC_FRAGBITS: {
            const uint8_t *h = ipv4_hdr(p);
            struct pkt_check fc = *c;
            fc.mask = 0xff;
            ok = h && flags_ok(&fc, h[6] & 0xe0);
            break;
        }
        case PC_IPOPTS:
            ok = ipopt_present(p, c->match);
            break;
        case PC_APP_PROTO:
            /* As Suricata, a negation only matches once detection decided the protocol. */
            ok = f != NULL && (f->app_proto == c->r.a) != c->negate &&
                 !(c->negate && c->r.a != APP_UNKNOWN && f->app_proto == APP_UNKNOWN);
            break;
        case PC_STREAM_SIZE: {
            /* Bytes seen per side (approximated by the flow's byte counters). */
            if (f == NULL || p->proto != 6) {
                ok = 0;
                break;
            }
            uint64_t srv = f->bytes[FLOW_DIR_TOCLIENT], cli = f->bytes[FLOW_DIR_TOSERVER];
            switch (c->which) {
            case 0:
                ok = detect_range_match(&c->r, srv);
                break;
            case 1:
                ok = detect_range_match(&c->r, cli);
                break;
            case 2:
                ok = detect_range_match(&c->r, srv) && detect_range_match(&c->r, cli);
                break;
            default:
                ok = detect_range_match(&c->r, srv) || detect_range_match(&c->r, cli);
                break;
            }
            break;
        }
        default:
            break;
        }
        if (!ok)
            return 0;
    }
    return 1;
}

static int proto_ok(const struct sig *s, const struct vg_packet *p)
{
    switch (s->proto) {
    case SP_TCP:
        return p->proto == 6;
    case SP_UDP:
        return p->proto == 17;
    case SP_ICMP:
        return p->proto == 1 || p->proto == 58;
    case SP_ICMPV4:
        return p->proto == 1;
    case SP_ICMPV6:
        return p->proto == 58;
    case SP_SCTP:
        return p->proto == 132;
    default:
        return p->ip_ver != 0;
    }
}

static int addrs_ok(const struct sig *s, const struct vg_packet *p)
{
    int ports = (p->flags & VG_PKT_HAS_PORTS) != 0;
    if (!ports && (!s->sp->any || !s->dp->any))
        return 0;
    if (detect_addr_match(s->src, p->ip_ver, &p->src) &&
        detect_addr_match(s->dst, p->ip_ver, &p->dst) &&
        (!ports || (detect_port_match(s->sp, p->sp) && detect_port_match(s->dp, p->dp))))
        return 1;
    return s->bidir && detect_addr_match(s->src, p->ip_ver, &p->dst) &&
           detect_addr_match(s->dst, p->ip_ver, &p->src) &&
           (!ports || (detect_port_match(s->sp, p->dp) && detect_port_match(s->dp, p->sp)));
}

/* Header, flow and packet keywords of s against packet p. */
int detect_header_ok(const struct sig *s, const struct vg_packet *p, struct flow *f, int dir,
                     int stream)
{
    if (!proto_ok(s, p))
        return 0;
    if (s->app_proto != APP_UNKNOWN && (f == NULL || f->app_proto != s->app_proto))
        return 0;
    uint16_t fl = s->flow;
    if (fl) {
        if (fl & (FK_TOSERVER | FK_TOCLIENT | FK_ESTABLISHED)) {
            if (f == NULL)
                return 0;
        }
        if ((fl & FK_TOSERVER) && dir != FLOW_DIR_TOSERVER)
            return 0;
        if ((fl & FK_TOCLIENT) && dir != FLOW_DIR_TOCLIENT)
            return 0;
        /* As Suricata: a TCP session stays established for rules while it closes. */
        int est = f != NULL && (f->state == FLOW_STATE_ESTABLISHED ||
                                (f->state == FLOW_STATE_CLOSED && (f->flags & FLOW_F_ESTABLISHED)));
        if ((fl & FK_ESTABLISHED) && !est)
            return 0;
        if ((fl & FK_NOT_ESTABLISHED) && est)
            return 0;
        if ((fl & FK_ONLY_STREAM) && !stream)
            return 0;
        if ((fl & FK_NO_STREAM) && stream)
            return 0;
        int frag = (p->flags & VG_PKT_REASSEMBLED) != 0;
        if ((fl & FK_ONLY_FRAG) && !frag)
            return 0;
        if ((fl & FK_NO_FRAG) && frag)
            return 0;
    }
    return addrs_ok(s, p) && pkt_checks(s, p, f, stream);
}

/* Starts a new alert stamp unless p is the packet the current one belongs to (the stream and
 * the packet inspection of one packet share it). Pseudo packets (pcap_cnt 0) always get one. */
void detect_stamp_packet(struct detect_thread *t, const struct vg_packet *p)
{
    if (p->pcap_cnt != 0 && p->pcap_cnt == t->stamp_cnt)
        return;
    t->stamp_cnt = p->pcap_cnt;
    if (++t->pkt_stamp == 0) {
        memset(t->alerted, 0, t->e->nsigs * sizeof(*t->alerted));
        t->pkt_stamp = 1;
    }
}

void detect_raise_alert(struct detect_thread *t, const struct sig *s, const struct vg_packet *p,
                        struct flow *f, int dir, int has_tx, uint64_t tx_id, int stream,
                        detect_alert_fn cb, void *ctx)
{
    /* A rule alerts once per packet (stream or packet match), once per transaction. */
    if (!has_tx) {
        if (t->alerted[s->idx] == t->pkt_stamp)
            return;
        t->alerted[s->idx] = t->pkt_stamp;
    }
    detect_bits_apply(t->e, s, f, p);
    VG_CNT_INC(t->rs[s->idx].matches);
    if (s->noalert || s->action == ACT_PASS)
        return;
    if (s->suppress != NULL && detect_suppressed(s, p)) {
        VG_CNT_INC(t->st.suppressed);
        return;
    }
    if ((s->thr || s->dfilter) && !detect_thr_check(t->e->thr, s, p)) {
        VG_CNT_INC(t->st.suppressed);
        return;
    }
    VG_CNT_INC(t->st.alerts);
    if (f != NULL)
        f->flags |= FLOW_F_ALERTED;
    struct detect_alert a = {&s->info, has_tx, tx_id, stream, t->cur_file};
    if (cb)
        cb(ctx, p, f, dir, &a);
}

/* Runs s's payload items over buf; the packet inspection and the stream share it. */
static int payload_ok(struct detect_thread *t, const struct sig *s, const uint8_t *buf,
                      uint32_t len, uint64_t base, uint32_t min_end)
{
    for (unsigned b = 0; b < s->nbufs; b++) {
        if (s->bufs[b].id != DB_PAYLOAD || s->bufs[b].n == 0)
            continue;
        struct inspect_ctx c;
        memset(&c, 0, sizeof(c));
        c.t = t;
        c.sig = s;
        c.buf_id = DB_PAYLOAD;
        c.buf = buf;
        c.len = len;
        c.base = base;
        c.min_end = min_end;
        c.budget = t->e->inspection_budget;
        if (!detect_inspect_buffer(&c, &s->bufs[b]))
            return 0;
    }
    return 1;
}

void detect_check_sig(struct detect_thread *t, const struct sig *s, const struct vg_packet *p,
                      struct flow *f, int dir, const uint8_t *buf, uint32_t len, uint64_t base,
                      uint32_t min_end, int stream, detect_alert_fn cb, void *ctx)
{
    VG_CNT_INC(t->rs[s->idx].checks);
    VG_CNT_INC(t->st.rules_checked);
    uint64_t t0 = t->e->profiling ? __rdtsc() : 0;
    if (detect_header_ok(s, p, f, dir, stream) && (s->ngeo == 0 || detect_geoip_ok(t, s, p)) &&
        payload_ok(t, s, buf, len, base, min_end) && detect_bits_check(t->e, s, f, p))
        detect_raise_alert(t, s, p, f, dir, 0, 0, stream, cb, ctx);
    if (t->e->profiling)
        VG_CNT_ADD(t->rs[s->idx].ticks, __rdtsc() - t0);
}

void detect_packet(struct detect_thread *t, const struct vg_packet *p, struct flow *f, int dir,
                   detect_alert_fn cb, void *ctx)
{
    struct detect_engine *e = t->e;
    t->gen++;
    detect_stamp_packet(t, p);
    VG_CNT_INC(t->st.packets_inspected);
    if (p->ip_ver == 0)
        return;
    detect_index_collect(t, p);
    for (unsigned i = 0; i < t->ncand; i++) {
        const struct sig *s = e->sigs[t->cand[i]];
        if (s->is_tx || s->stream_only)
            continue;
        detect_check_sig(t, s, p, f, dir, NULL, 0, 0, 0, 0, cb, ctx);
    }
    const uint8_t *pl = p->data + p->payload_off;
    uint32_t plen = p->payload_len;
    if (f != NULL && (f->flags & FLOW_F_NO_PAYLOAD)) {
        /* Encrypted TLS (app-layer.protocols.tls.encryption-handling: default): header-only
         * rules above still run, content rules do not look at the payload. */
        t->pkt = NULL;
        return;
    }
    if (t->pkt == p && t->pkt_cnt == p->pcap_cnt) {
        /* Its payload was scanned as stream data a moment ago (detect-stream.c). */
        detect_prefilter_begin(t);
        for (unsigned i = 0; i < t->npkt_cand; i++)
            detect_prefilter_add(t, t->pkt_cand[i]);
        detect_prefilter_always(t, DB_PAYLOAD, dir, detect_packet_pclass(p));
        detect_prefilter_end(t);
    } else {
        detect_prefilter_scan(t, DB_PAYLOAD, dir, detect_packet_pclass(p), pl, plen);
    }
    t->pkt = NULL;
    for (unsigned i = 0; i < t->ncand; i++) {
        const struct sig *s = e->sigs[t->cand[i]];
        if (s->is_tx || s->stream_only || (s->flow & FK_ONLY_STREAM))
            continue;
        detect_check_sig(t, s, p, f, dir, pl, plen, 0, 0, 0, cb, ctx);
    }
}
