/* flow.c: the per-worker flow table: lookup by symmetric key, TCP state, timeouts and eviction. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "vigil/flow.h"

#define FLOW_NCLASS (FLOW_PROTO__COUNT * FLOW_STATE__COUNT)
/* flow_id is kept below 2^51 so that JSON consumers reading doubles keep it exact. */
#define FLOW_ID_MASK ((1ULL << 51) - 1)

struct flow_table {
    struct flow_config cfg;
    struct flow **buckets;
    uint64_t mask;
    struct flow *head[FLOW_NCLASS]; /* per timeout class, least recently seen first */
    struct flow *tail[FLOW_NCLASS];
    struct flow *free_list;
    uint64_t nalloc;    /* flows allocated, in use or free */
    uint64_t max_flows; /* what the memcap allows */
    flow_end_fn on_end;
    void *ctx;
    struct flow_stats st;
};

/* The canonical key: lower endpoint first, so both directions hash and compare alike. */
struct flow_key {
    uint8_t a[16], b[16];
    uint16_t pa, pb;
    uint8_t proto, ip_ver, vlan_cnt, pad;
    uint16_t vlan[VG_PKT_MAX_VLAN];
};

static const char *const state_names[] = {"new", "established", "closed"};
static const char *const reason_names[] = {"timeout", "forced", "shutdown"};
static const char *const tcp_state_names[] = {
    "none",     "syn_sent",  "syn_recv",   "established", "fin_wait1", "fin_wait2",
    "time_wait", "last_ack", "close_wait", "closing",     "closed"};

const char *flow_state_name(unsigned s) { return s < 3 ? state_names[s] : "unknown"; }
const char *flow_end_reason_name(unsigned r) { return r < 3 ? reason_names[r] : "unknown"; }
const char *flow_tcp_state_name(unsigned s)
{
    return s < VG_ARRAY_LEN(tcp_state_names) ? tcp_state_names[s] : "unknown";
}

enum flow_proto_class flow_proto_class(uint8_t proto)
{
    switch (proto) {
    case 6:
        return FLOW_PROTO_TCP;
    case 17:
        return FLOW_PROTO_UDP;
    case 1:
    case 58:
        return FLOW_PROTO_ICMP;
    default:
        return FLOW_PROTO_OTHER;
    }
}

void flow_config_defaults(struct flow_config *c)
{
    memset(c, 0, sizeof(*c));
    c->memcap = 128ULL * 1024 * 1024;
    c->hash_size = 65536;
    /* Suricata's flow-timeouts defaults, in seconds. */
    static const uint32_t def[FLOW_PROTO__COUNT][FLOW_STATE__COUNT] = {
        [FLOW_PROTO_TCP] = {60, 600, 60},
        [FLOW_PROTO_UDP] = {30, 300, 30},
        [FLOW_PROTO_ICMP] = {30, 300, 30},
        [FLOW_PROTO_OTHER] = {30, 300, 30},
    };
    memcpy(c->timeout, def, sizeof(def));
}

int flow_packet_has_key(const struct vg_packet *p)
{
    return p->ip_ver != 0 && !(p->flags & (VG_PKT_INVALID | VG_PKT_FRAGMENT));
}

/* Ports as the flow key sees them: ICMP and port-less protocols key on addresses only. */
static inline void key_ports(const struct vg_packet *p, uint16_t *sp, uint16_t *dp)
{
    if (p->flags & VG_PKT_HAS_PORTS) {
        *sp = p->sp;
        *dp = p->dp;
    } else {
        *sp = *dp = 0;
    }
}

static void make_key(const struct vg_packet *p, struct flow_key *k)
{
    uint16_t sp, dp;
    key_ports(p, &sp, &dp);
    memset(k, 0, sizeof(*k));
    int c = memcmp(p->src.u8, p->dst.u8, 16);
    if (c < 0 || (c == 0 && sp <= dp)) {
        memcpy(k->a, p->src.u8, 16);
        memcpy(k->b, p->dst.u8, 16);
        k->pa = sp;
        k->pb = dp;
    } else {
        memcpy(k->a, p->dst.u8, 16);
        memcpy(k->b, p->src.u8, 16);
        k->pa = dp;
        k->pb = sp;
    }
    k->proto = p->proto;
    k->ip_ver = p->ip_ver;
    k->vlan_cnt = p->vlan_cnt;
    for (unsigned i = 0; i < p->vlan_cnt && i < VG_PKT_MAX_VLAN; i++)
        k->vlan[i] = p->vlan_id[i];
}

uint64_t flow_hash_packet(const struct vg_packet *p)
{
    if (!flow_packet_has_key(p))
        return 0;
    struct flow_key k;
    make_key(p, &k);
    uint64_t h = XXH3_64bits(&k, sizeof(k));
    return h ? h : 1;
}

/* Returns FLOW_DIR_TOSERVER or FLOW_DIR_TOCLIENT if p belongs to f, else -1. */
static int flow_match(const struct flow *f, const struct vg_packet *p)
{
    if (f->proto != p->proto || f->ip_ver != p->ip_ver || f->vlan_cnt != p->vlan_cnt)
        return -1;
    for (unsigned i = 0; i < f->vlan_cnt; i++)
        if (f->vlan_id[i] != p->vlan_id[i])
            return -1;
    uint16_t sp, dp;
    key_ports(p, &sp, &dp);
    if (f->sp == sp && f->dp == dp && memcmp(f->src.u8, p->src.u8, 16) == 0 &&
        memcmp(f->dst.u8, p->dst.u8, 16) == 0)
        return FLOW_DIR_TOSERVER;
    if (f->sp == dp && f->dp == sp && memcmp(f->src.u8, p->dst.u8, 16) == 0 &&
        memcmp(f->dst.u8, p->src.u8, 16) == 0)
        return FLOW_DIR_TOCLIENT;
    return -1;
}

struct flow_table *flow_table_new(const struct flow_config *cfg, flow_end_fn on_end, void *ctx,
                                  char *errbuf)
{
    struct flow_table *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        vg_errbuf_set(errbuf, "flow table: out of memory");
        return NULL;
    }
    t->cfg = *cfg;
    uint64_t size = 1024;
    while (size < cfg->hash_size && size < (1ULL << 26))
        size <<= 1;
    uint64_t bucket_bytes = size * sizeof(struct flow *);
    if (cfg->memcap < bucket_bytes + 64 * sizeof(struct flow)) {
        vg_errbuf_set(errbuf, "flow memcap %llu is too small for %llu hash buckets",
                      (unsigned long long)cfg->memcap, (unsigned long long)size);
        free(t);
        return NULL;
    }
    t->buckets = calloc(size, sizeof(struct flow *));
    if (t->buckets == NULL) {
        vg_errbuf_set(errbuf, "flow table: out of memory for %llu buckets",
                      (unsigned long long)size);
        free(t);
        return NULL;
    }
    t->mask = size - 1;
    t->max_flows = (cfg->memcap - bucket_bytes) / sizeof(struct flow);
    t->on_end = on_end;
    t->ctx = ctx;
    t->st.memuse = bucket_bytes;
    return t;
}

void flow_table_free(struct flow_table *t)
{
    if (t == NULL)
        return;
    for (unsigned c = 0; c < FLOW_NCLASS; c++) {
        struct flow *f = t->head[c];
        while (f != NULL) {
            struct flow *next = f->tnext;
            free(f);
            f = next;
        }
    }
    struct flow *f = t->free_list;
    while (f != NULL) {
        struct flow *next = f->hnext;
        free(f);
        f = next;
    }
    free(t->buckets);
    free(t);
}

static inline unsigned flow_class(const struct flow *f)
{
    return (unsigned)flow_proto_class(f->proto) * FLOW_STATE__COUNT + f->state;
}

static inline vg_time_t flow_timeout_usec(const struct flow_table *t, const struct flow *f)
{
    return (vg_time_t)t->cfg.timeout[flow_proto_class(f->proto)][f->state] * VG_USEC_PER_SEC;
}

static void tlist_unlink(struct flow_table *t, struct flow *f)
{
    if (f->tprev)
        f->tprev->tnext = f->tnext;
    else
        t->head[f->tclass] = f->tnext;
    if (f->tnext)
        f->tnext->tprev = f->tprev;
    else
        t->tail[f->tclass] = f->tprev;
    f->tprev = f->tnext = NULL;
}

static void tlist_append(struct flow_table *t, struct flow *f)
{
    f->tclass = (uint8_t)flow_class(f);
    f->tnext = NULL;
    f->tprev = t->tail[f->tclass];
    if (f->tprev)
        f->tprev->tnext = f;
    else
        t->head[f->tclass] = f;
    t->tail[f->tclass] = f;
}

/* Removes f from the table, reports it, and puts it on the free list. */
static void flow_end(struct flow_table *t, struct flow *f, enum flow_end_reason reason,
                     vg_time_t when)
{
    struct flow **pp = &t->buckets[f->hash & t->mask];
    while (*pp != NULL && *pp != f)
        pp = &(*pp)->hnext;
    if (*pp == f)
        *pp = f->hnext;
    tlist_unlink(t, f);

    if (t->on_end)
        t->on_end(t->ctx, f, reason, when);
    switch (reason) {
    case FLOW_END_TIMEOUT:
        VG_CNT_INC(t->st.timeouts);
        break;
    case FLOW_END_FORCED:
        VG_CNT_INC(t->st.forced);
        break;
    case FLOW_END_SHUTDOWN:
        VG_CNT_INC(t->st.shutdown);
        break;
    }
    VG_CNT_SET(t->st.active, t->st.active - 1);
    f->hnext = t->free_list;
    t->free_list = f;
}

/* Returns the least recently seen flow of the whole table, or NULL if it is empty. */
static struct flow *flow_oldest(struct flow_table *t)
{
    struct flow *oldest = NULL;
    for (unsigned c = 0; c < FLOW_NCLASS; c++)
        if (t->head[c] && (oldest == NULL || t->head[c]->last < oldest->last))
            oldest = t->head[c];
    return oldest;
}

static struct flow *flow_alloc(struct flow_table *t, vg_time_t now)
{
    struct flow *f = t->free_list;
    if (f != NULL) {
        t->free_list = f->hnext;
    } else if (t->nalloc < t->max_flows && (f = malloc(sizeof(*f))) != NULL) {
        t->nalloc++;
        VG_CNT_ADD(t->st.memuse, sizeof(*f));
    } else {
        /* At the memcap: the least recently seen flow makes room. */
        struct flow *victim = flow_oldest(t);
        if (victim == NULL)
            return NULL;
        VG_CNT_INC(t->st.memcap_evictions);
        flow_end(t, victim, FLOW_END_FORCED, now);
        f = t->free_list;
        t->free_list = f->hnext;
    }
    memset(f, 0, sizeof(*f));
    return f;
}

static struct flow *flow_create(struct flow_table *t, const struct vg_packet *p)
{
    struct flow *f = flow_alloc(t, p->ts);
    if (f == NULL)
        return NULL;
    uint16_t sp, dp;
    key_ports(p, &sp, &dp);
    /* A SYN/ACK seen first came from the server: orient the flow the other way. */
    int reversed = p->proto == 6 && (p->tcp_flags & (VG_TH_SYN | VG_TH_ACK)) ==
                                        (VG_TH_SYN | VG_TH_ACK);
    if (reversed) {
        f->src = p->dst;
        f->dst = p->src;
        f->sp = dp;
        f->dp = sp;
        f->flags |= FLOW_F_REVERSED;
    } else {
        f->src = p->src;
        f->dst = p->dst;
        f->sp = sp;
        f->dp = dp;
    }
    f->proto = p->proto;
    f->ip_ver = p->ip_ver;
    f->vlan_cnt = p->vlan_cnt;
    memcpy(f->vlan_id, p->vlan_id, sizeof(f->vlan_id));
    f->hash = p->flow_hash;
    f->src_idx = p->src_idx;
    f->start = f->last = p->ts;

    struct flow_key k;
    make_key(p, &k);
    uint64_t id = XXH3_64bits_withSeed(&k, sizeof(k), p->ts) & FLOW_ID_MASK;
    f->flow_id = id ? id : 1;

    struct flow **b = &t->buckets[f->hash & t->mask];
    f->hnext = *b;
    *b = f;
    tlist_append(t, f);

    VG_CNT_INC(t->st.total);
    VG_CNT_INC(t->st.active);
    switch (p->proto) {
    case 6:
        VG_CNT_INC(t->st.tcp);
        break;
    case 17:
        VG_CNT_INC(t->st.udp);
        break;
    case 1:
        VG_CNT_INC(t->st.icmpv4);
        break;
    case 58:
        VG_CNT_INC(t->st.icmpv6);
        break;
    default:
        VG_CNT_INC(t->st.other);
        break;
    }
    return f;
}

static inline int seq_geq(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

/* Follows the TCP handshake and teardown closely enough to name the session's state. */
static void flow_tcp_update(struct flow *f, const struct vg_packet *p, int dir)
{
    uint8_t fl = p->tcp_flags;
    uint8_t me = (uint8_t)(1u << dir), peer = (uint8_t)(1u << (dir ^ 1));
    if (fl & VG_TH_RST) {
        f->tcp_state = FLOW_TCP_CLOSED;
        return;
    }
    switch (f->tcp_state) {
    case FLOW_TCP_NONE:
        if ((fl & (VG_TH_SYN | VG_TH_ACK)) == VG_TH_SYN)
            f->tcp_state = FLOW_TCP_SYN_SENT;
        else if ((fl & (VG_TH_SYN | VG_TH_ACK)) == (VG_TH_SYN | VG_TH_ACK))
            f->tcp_state = FLOW_TCP_SYN_RECV;
        else {
            f->tcp_state = FLOW_TCP_ESTABLISHED; /* midstream pickup */
            f->flags |= FLOW_F_MIDSTREAM;
        }
        break;
    case FLOW_TCP_SYN_SENT:
        if (dir == FLOW_DIR_TOCLIENT && (fl & (VG_TH_SYN | VG_TH_ACK)) == (VG_TH_SYN | VG_TH_ACK))
            f->tcp_state = FLOW_TCP_SYN_RECV;
        return;
    case FLOW_TCP_SYN_RECV:
        if (dir == FLOW_DIR_TOSERVER && (fl & (VG_TH_SYN | VG_TH_ACK)) == VG_TH_ACK)
            f->tcp_state = FLOW_TCP_ESTABLISHED;
        else
            return;
        break;
    case FLOW_TCP_CLOSED:
        return;
    default:
        break;
    }
    if (f->tcp_state < FLOW_TCP_ESTABLISHED)
        return;

    if ((fl & VG_TH_FIN) && !(f->fin_seen & me)) {
        f->fin_seen |= me;
        f->fin_seq[dir] = p->tcp_seq + p->payload_len + 1;
    }
    if ((fl & VG_TH_ACK) && (f->fin_seen & peer) && seq_geq(p->tcp_ack, f->fin_seq[dir ^ 1]))
        f->fin_acked |= peer;
    if (f->fin_seen == 0)
        return;

    /* Name the teardown from the side of whoever closed first. */
    uint8_t both = 3;
    if (f->fin_seen != both) {
        f->tcp_state = (f->fin_acked & f->fin_seen) ? FLOW_TCP_FIN_WAIT2 : FLOW_TCP_FIN_WAIT1;
    } else if (f->fin_acked == both) {
        f->tcp_state = FLOW_TCP_CLOSED;
    } else if (f->tcp_state == FLOW_TCP_FIN_WAIT2 || f->tcp_state == FLOW_TCP_TIME_WAIT) {
        f->tcp_state = FLOW_TCP_TIME_WAIT;
    } else if (f->fin_acked) {
        f->tcp_state = FLOW_TCP_LAST_ACK;
    } else {
        f->tcp_state = FLOW_TCP_CLOSING;
    }
}

static void flow_update(struct flow_table *t, struct flow *f, const struct vg_packet *p, int dir)
{
    f->pkts[dir]++;
    f->bytes[dir] += p->caplen;
    if (p->ts > f->last)
        f->last = p->ts;
    if (p->proto == 6) {
        f->tcp_flags[dir] |= p->tcp_flags;
        flow_tcp_update(f, p, dir);
        if (f->tcp_state == FLOW_TCP_CLOSED || f->tcp_state == FLOW_TCP_TIME_WAIT)
            f->state = FLOW_STATE_CLOSED;
        else if (f->tcp_state >= FLOW_TCP_ESTABLISHED &&
                 (!(f->flags & FLOW_F_MIDSTREAM) || (f->pkts[0] && f->pkts[1])))
            f->state = FLOW_STATE_ESTABLISHED;
    } else {
        if (p->proto == 1 || p->proto == 58) {
            f->icmp_type[dir] = p->icmp_type;
            f->icmp_code[dir] = p->icmp_code;
        }
        if (f->pkts[0] && f->pkts[1])
            f->state = FLOW_STATE_ESTABLISHED;
    }
    if (f->state == FLOW_STATE_ESTABLISHED)
        f->flags |= FLOW_F_ESTABLISHED;
    /* Seen now: to the back of its (possibly new) timeout list. */
    tlist_unlink(t, f);
    tlist_append(t, f);
}

struct flow *flow_handle_packet(struct flow_table *t, const struct vg_packet *p, int *dir)
{
    struct flow *f = t->buckets[p->flow_hash & t->mask];
    int d = -1;
    for (; f != NULL; f = f->hnext) {
        if (f->hash == p->flow_hash && (d = flow_match(f, p)) >= 0)
            break;
    }
    if (f != NULL) {
        vg_time_t expiry = f->last + flow_timeout_usec(t, f);
        if (p->ts >= expiry && p->ts > f->last) {
            flow_end(t, f, FLOW_END_TIMEOUT, expiry);
            f = NULL;
        } else if (f->state == FLOW_STATE_CLOSED && p->proto == 6 &&
                   (p->tcp_flags & (VG_TH_SYN | VG_TH_ACK)) == VG_TH_SYN) {
            /* A new SYN on a closed session starts a new flow (port reuse). */
            VG_CNT_INC(t->st.tcp_reuse);
            flow_end(t, f, FLOW_END_FORCED, p->ts);
            f = NULL;
        }
    }
    if (f == NULL) {
        f = flow_create(t, p);
        if (f == NULL) {
            VG_CNT_INC(t->st.memcap_drops);
            return NULL;
        }
        d = flow_match(f, p);
    }
    flow_update(t, f, p, d);
    *dir = d;
    return f;
}

void flow_table_timeout(struct flow_table *t, vg_time_t now)
{
    for (unsigned c = 0; c < FLOW_NCLASS; c++) {
        vg_time_t to = (vg_time_t)t->cfg.timeout[c / FLOW_STATE__COUNT][c % FLOW_STATE__COUNT] *
                       VG_USEC_PER_SEC;
        struct flow *f;
        while ((f = t->head[c]) != NULL && f->last + to <= now)
            flow_end(t, f, FLOW_END_TIMEOUT, f->last + to);
    }
}

void flow_table_flush(struct flow_table *t, vg_time_t now)
{
    flow_table_timeout(t, now);
    for (unsigned c = 0; c < FLOW_NCLASS; c++) {
        struct flow *f;
        while ((f = t->head[c]) != NULL)
            flow_end(t, f, FLOW_END_SHUTDOWN, now);
    }
}

const struct flow_stats *flow_table_stats(const struct flow_table *t) { return &t->st; }
