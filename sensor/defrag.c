/* defrag.c: IPv4/IPv6 fragment reassembly with target-based overlap policies and a memcap. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "vigil/defrag.h"

#define DEFRAG_BUCKETS 4096

struct frag {
    struct frag *next; /* sorted by offset */
    uint32_t offset, len;
    uint32_t seq; /* arrival order within the datagram */
    uint8_t more;
    uint8_t data[];
};

struct tracker {
    struct tracker *hnext;
    struct tracker *lprev, *lnext; /* least recently used first */
    uint64_t hash;
    /* key */
    struct vg_addr src, dst;
    uint32_t id;
    uint8_t ip_ver, proto, vlan_cnt;
    uint16_t vlan_id[VG_PKT_MAX_VLAN];

    vg_time_t last;
    struct frag *frags;
    uint32_t nfrags, next_seq;
    uint32_t total_len; /* payload length, known once the last fragment came */
    uint8_t have_last;
    uint8_t hdr[DEFRAG_MAX_HDR]; /* unfragmentable part from the offset-0 fragment */
    uint32_t hdr_len;
    uint32_t nh_pos; /* IPv6: where in hdr the next-header byte to rewrite is */
    uint64_t mem;
};

struct defrag {
    struct defrag_config cfg;
    struct tracker *buckets[DEFRAG_BUCKETS];
    struct tracker *lru_head, *lru_tail;
    struct defrag_stats st;
};

void defrag_config_defaults(struct defrag_config *c)
{
    c->memcap = 32ULL * 1024 * 1024;
    c->timeout_sec = 60;
    c->max_frags = 1000;
    c->policy = DEFRAG_POLICY_BSD;
}

int defrag_policy_parse(const char *name)
{
    static const struct {
        const char *name;
        int policy;
    } map[] = {{"first", DEFRAG_POLICY_FIRST},     {"last", DEFRAG_POLICY_LAST},
               {"bsd", DEFRAG_POLICY_BSD},         {"bsd-right", DEFRAG_POLICY_LINUX},
               {"linux", DEFRAG_POLICY_LINUX},     {"windows", DEFRAG_POLICY_WINDOWS},
               {"solaris", DEFRAG_POLICY_FIRST}};
    for (size_t i = 0; i < VG_ARRAY_LEN(map); i++)
        if (strcmp(map[i].name, name) == 0)
            return map[i].policy;
    return -1;
}

struct defrag *defrag_new(const struct defrag_config *cfg, char *errbuf)
{
    struct defrag *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        vg_errbuf_set(errbuf, "defrag: out of memory");
        return NULL;
    }
    d->cfg = *cfg;
    if (d->cfg.max_frags == 0)
        d->cfg.max_frags = 1;
    return d;
}

static void lru_unlink(struct defrag *d, struct tracker *t)
{
    if (t->lprev)
        t->lprev->lnext = t->lnext;
    else
        d->lru_head = t->lnext;
    if (t->lnext)
        t->lnext->lprev = t->lprev;
    else
        d->lru_tail = t->lprev;
    t->lprev = t->lnext = NULL;
}

static void lru_append(struct defrag *d, struct tracker *t)
{
    t->lprev = d->lru_tail;
    t->lnext = NULL;
    if (d->lru_tail)
        d->lru_tail->lnext = t;
    else
        d->lru_head = t;
    d->lru_tail = t;
}

static void tracker_free(struct defrag *d, struct tracker *t)
{
    struct tracker **pp = &d->buckets[t->hash % DEFRAG_BUCKETS];
    while (*pp != NULL && *pp != t)
        pp = &(*pp)->hnext;
    if (*pp == t)
        *pp = t->hnext;
    lru_unlink(d, t);
    struct frag *f = t->frags;
    while (f != NULL) {
        struct frag *next = f->next;
        free(f);
        f = next;
    }
    d->st.memuse -= t->mem;
    d->st.trackers--;
    free(t);
}

void defrag_free(struct defrag *d)
{
    if (d == NULL)
        return;
    while (d->lru_head != NULL)
        tracker_free(d, d->lru_head);
    free(d);
}

void defrag_timeout(struct defrag *d, vg_time_t now)
{
    vg_time_t to = (vg_time_t)d->cfg.timeout_sec * VG_USEC_PER_SEC;
    struct tracker *t;
    while ((t = d->lru_head) != NULL && t->last + to <= now) {
        if (t->ip_ver == 4)
            d->st.ipv4_timeouts++;
        else
            d->st.ipv6_timeouts++;
        tracker_free(d, t);
    }
}

const struct defrag_stats *defrag_stats(const struct defrag *d) { return &d->st; }

static int tracker_match(const struct tracker *t, const struct vg_packet *p)
{
    if (t->ip_ver != p->ip_ver || t->id != p->frag_id || t->vlan_cnt != p->vlan_cnt)
        return 0;
    if (p->ip_ver == 4 && t->proto != p->proto)
        return 0;
    if (memcmp(t->vlan_id, p->vlan_id, sizeof(t->vlan_id)) != 0)
        return 0;
    return memcmp(&t->src, &p->src, sizeof(t->src)) == 0 &&
           memcmp(&t->dst, &p->dst, sizeof(t->dst)) == 0;
}

static uint64_t tracker_hash(const struct vg_packet *p)
{
    struct {
        struct vg_addr src, dst;
        uint32_t id;
        uint8_t ip_ver, proto, vlan_cnt, pad;
        uint16_t vlan[VG_PKT_MAX_VLAN];
    } k;
    memset(&k, 0, sizeof(k));
    k.src = p->src;
    k.dst = p->dst;
    k.id = p->frag_id;
    k.ip_ver = p->ip_ver;
    k.proto = p->ip_ver == 4 ? p->proto : 0; /* IPv6 fragments of one datagram share an id */
    k.vlan_cnt = p->vlan_cnt;
    memcpy(k.vlan, p->vlan_id, sizeof(k.vlan));
    return XXH3_64bits(&k, sizeof(k));
}

/* Makes room for need bytes by dropping the least recently used datagrams. 0 on success. */
static int defrag_reserve(struct defrag *d, uint64_t need, const struct tracker *keep)
{
    /*
     * Fix: a fragment that cannot fit even once every other datagram is gone used to evict
     * them all and then be dropped anyway. Drop it first and leave the others alone.
     */
    if (need + (keep != NULL ? keep->mem : 0) > d->cfg.memcap)
        return -1;
    while (d->st.memuse + need > d->cfg.memcap) {
        struct tracker *victim = d->lru_head;
        if (victim == keep)
            victim = victim ? victim->lnext : NULL;
        if (victim == NULL)
            return -1;
        d->st.evictions++;
        tracker_free(d, victim);
    }
    return 0;
}

/* Winner order: returns > 0 if a beats b where both cover a byte, under the policy. */
static int frag_beats(enum defrag_policy pol, const struct frag *a, const struct frag *b)
{
    switch (pol) {
    case DEFRAG_POLICY_LAST:
        return a->seq > b->seq;
    case DEFRAG_POLICY_BSD:
        if (a->offset != b->offset)
            return a->offset < b->offset;
        return a->seq < b->seq;
    case DEFRAG_POLICY_LINUX:
        if (a->offset != b->offset)
            return a->offset < b->offset;
        return a->seq > b->seq;
    case DEFRAG_POLICY_FIRST:
    case DEFRAG_POLICY_WINDOWS:
    default:
        return a->seq < b->seq;
    }
}

static int frag_cmp_loser_first(const void *x, const void *y, void *policy)
{
    const struct frag *a = *(const struct frag *const *)x;
    const struct frag *b = *(const struct frag *const *)y;
    enum defrag_policy pol = *(const enum defrag_policy *)policy;
    if (frag_beats(pol, a, b))
        return 1;
    if (frag_beats(pol, b, a))
        return -1;
    return 0;
}

static uint16_t ipv4_checksum(const uint8_t *h, uint32_t len)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i + 1 < len; i += 2)
        sum += vg_be16(h + i);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Builds the whole datagram into out; returns its length. */
static uint32_t tracker_build(struct defrag *d, struct tracker *t, uint8_t *out)
{
    memcpy(out, t->hdr, t->hdr_len);
    uint8_t *payload = out + t->hdr_len;
    if (t->ip_ver == 4) {
        uint32_t total = t->hdr_len + t->total_len;
        out[2] = (uint8_t)(total >> 8);
        out[3] = (uint8_t)total;
        out[6] = out[7] = 0; /* no more fragments, offset 0 */
        out[10] = out[11] = 0;
        uint16_t ck = ipv4_checksum(out, t->hdr_len);
        out[10] = (uint8_t)(ck >> 8);
        out[11] = (uint8_t)ck;
    } else {
        uint32_t plen = t->hdr_len - 40 + t->total_len;
        out[4] = (uint8_t)(plen >> 8);
        out[5] = (uint8_t)plen;
        out[t->nh_pos] = t->proto;
    }

    /* Copy the losers first so that the winner of each byte is written last. */
    struct frag *stackv[64];
    struct frag **v = t->nfrags <= 64 ? stackv : malloc(t->nfrags * sizeof(*v));
    if (v == NULL)
        return 0;
    uint32_t n = 0;
    for (struct frag *f = t->frags; f != NULL; f = f->next)
        v[n++] = f;
    qsort_r(v, n, sizeof(*v), frag_cmp_loser_first, &d->cfg.policy);
    for (uint32_t i = 0; i < n; i++) {
        if (v[i]->offset >= t->total_len)
            continue;
        uint32_t len = VG_MIN(v[i]->len, t->total_len - v[i]->offset);
        memcpy(payload + v[i]->offset, v[i]->data, len);
    }
    if (v != stackv)
        free(v);
    return t->hdr_len + t->total_len;
}

/* Returns 1 if the fragments cover [0, total_len) without a hole. */
static int tracker_complete(const struct tracker *t)
{
    if (!t->have_last)
        return 0;
    uint32_t covered = 0;
    for (const struct frag *f = t->frags; f != NULL; f = f->next) {
        if (f->offset > covered)
            return 0;
        if (f->offset + f->len > covered)
            covered = f->offset + f->len;
        if (covered >= t->total_len)
            return 1;
    }
    return covered >= t->total_len;
}

uint32_t defrag_insert(struct defrag *d, struct vg_decode_stats *st, struct vg_packet *p,
                       uint8_t *out)
{
    int v4 = p->ip_ver == 4;
    if (v4)
        d->st.ipv4_fragments++;
    else
        d->st.ipv6_fragments++;

    uint32_t off = p->frag_offset;
    uint32_t len = p->payload_len;
    /* The unfragmentable part: IPv4 header, or IPv6 header and headers before the FH. */
    uint32_t hdr_len = v4 ? p->l4_off - p->l3_off : p->frag_hdr_off - p->l3_off;
    /* The rebuilt datagram must fit its 16-bit length field (IPv6: with the headers before FH). */
    uint32_t room = v4 ? 65535 - VG_MIN(hdr_len, 65535) : 65535 + 40 - VG_MIN(hdr_len, 65535 + 40);
    if (hdr_len > DEFRAG_MAX_HDR || off + len > room) {
        decode_set_event(st, p, v4 ? VG_EV_IPV4_FRAG_PKT_TOO_LARGE : VG_EV_IPV6_FRAG_PKT_TOO_LARGE);
        return 0;
    }
    if (len == 0 || (p->frag_more && len % 8 != 0)) {
        unsigned ev = v4 ? VG_EV_IPV4_FRAG_IGNORED : VG_EV_IPV6_FRAG_INVALID_LENGTH;
        /* Fix: the IPv6 decoder raises frag_invalid_length already; count the packet once. */
        if (!decode_has_event(p, ev))
            decode_set_event(st, p, ev);
        return 0;
    }

    uint64_t h = tracker_hash(p);
    struct tracker *t = d->buckets[h % DEFRAG_BUCKETS];
    while (t != NULL && !(t->hash == h && tracker_match(t, p)))
        t = t->hnext;

    if (t != NULL && t->nfrags >= d->cfg.max_frags) {
        d->st.max_frag_hits++;
        decode_set_event(st, p, v4 ? VG_EV_IPV4_FRAG_IGNORED : VG_EV_IPV6_FRAG_IGNORED);
        return 0;
    }
    uint64_t need = sizeof(struct frag) + len + (t == NULL ? sizeof(struct tracker) : 0);
    if (defrag_reserve(d, need, t) < 0) {
        d->st.max_frag_hits++;
        decode_set_event(st, p, v4 ? VG_EV_IPV4_FRAG_IGNORED : VG_EV_IPV6_FRAG_IGNORED);
        return 0;
    }

    if (t == NULL) {
        t = calloc(1, sizeof(*t));
        if (t == NULL)
            return 0;
        t->hash = h;
        t->src = p->src;
        t->dst = p->dst;
        t->id = p->frag_id;
        t->ip_ver = p->ip_ver;
        t->proto = p->proto;
        t->vlan_cnt = p->vlan_cnt;
        memcpy(t->vlan_id, p->vlan_id, sizeof(t->vlan_id));
        t->mem = sizeof(*t);
        d->st.memuse += t->mem;
        d->st.trackers++;
        t->hnext = d->buckets[h % DEFRAG_BUCKETS];
        d->buckets[h % DEFRAG_BUCKETS] = t;
        lru_append(d, t);
    }

    struct frag *f = malloc(sizeof(*f) + len);
    if (f == NULL)
        return 0;
    f->offset = off;
    f->len = len;
    f->more = p->frag_more;
    f->seq = t->next_seq++;
    memcpy(f->data, p->data + p->payload_off, len);
    t->mem += sizeof(*f) + len;
    d->st.memuse += sizeof(*f) + len;

    /* Insert sorted by offset, noting overlaps with the neighbours. */
    struct frag **pp = &t->frags;
    int overlap = 0;
    while (*pp != NULL && (*pp)->offset <= off) {
        if ((*pp)->offset + (*pp)->len > off)
            overlap = 1;
        pp = &(*pp)->next;
    }
    if (*pp != NULL && off + len > (*pp)->offset)
        overlap = 1;
    f->next = *pp;
    *pp = f;
    t->nfrags++;
    if (overlap) {
        d->st.overlaps++;
        decode_set_event(st, p, v4 ? VG_EV_IPV4_FRAG_OVERLAP : VG_EV_IPV6_FRAG_OVERLAP);
    }

    if (off == 0 && t->hdr_len == 0) {
        memcpy(t->hdr, p->data + p->l3_off, hdr_len);
        t->hdr_len = hdr_len;
        t->nh_pos = v4 ? 9 : p->frag_nh_off - p->l3_off;
        t->proto = p->proto;
    }
    if (!p->frag_more && !t->have_last) {
        t->have_last = 1;
        t->total_len = off + len;
    }
    if (p->ts > t->last)
        t->last = p->ts;
    lru_unlink(d, t);
    lru_append(d, t);

    if (t->hdr_len == 0 || !tracker_complete(t))
        return 0;
    /*
     * Fix: the size check above uses each fragment's own header length, but the datagram is
     * rebuilt with the first fragment's header, which may be longer (IPv4 options, IPv6
     * extension headers). Without this check the rebuilt length field wrapped around 65535.
     */
    if ((v4 ? t->hdr_len : t->hdr_len - 40) + t->total_len > 65535) {
        decode_set_event(st, p, v4 ? VG_EV_IPV4_FRAG_PKT_TOO_LARGE : VG_EV_IPV6_FRAG_PKT_TOO_LARGE);
        tracker_free(d, t);
        return 0;
    }
    uint32_t n = tracker_build(d, t, out);
    if (v4)
        d->st.ipv4_reassembled++;
    else
        d->st.ipv6_reassembled++;
    tracker_free(d, t);
    return n;
}
