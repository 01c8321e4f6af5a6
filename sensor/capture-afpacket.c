/* capture-afpacket.c: live capture through AF_PACKET TPACKET_V3 rings, one socket per worker. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vigil/capture.h"
#include "vigil/config.h"
#include "vigil/decode.h"

#define AFP_MAX_SOCKETS 256
#define AFP_MAX_RING_BYTES (1ULL << 32) /* per socket: a sanity bound on ring-size x frame */

struct afp_socket {
    struct afp_group *group;
    int fd;
    uint8_t *map; /* the ring: nblocks blocks of block_size bytes */
    size_t map_len;
    uint32_t nblocks, block_size;
    uint32_t cur;                    /* the block read next */
    struct tpacket_block_desc *held; /* the block being read, handed back when done */
    const uint8_t *next_pkt;         /* the next packet header in it */
    uint32_t left;                   /* packets of it not read yet */
    int stopping;                    /* blocks still drained after afp_break, plus one */
    struct capture_stats st;         /* kernel totals (VG_CNT: read by the stats thread) */
};

struct afp_group {
    char iface[IF_NAMESIZE + 1];
    int dlt;
    unsigned n;
    struct afp_socket *socks;
    volatile sig_atomic_t stop;
};

void afp_config_defaults(struct afp_config *c)
{
    memset(c, 0, sizeof(*c));
    c->ring_size = 2048;
    c->block_size = 32768;
    c->block_timeout_ms = 10;
    c->cluster_id = 99;
    c->cluster_type = AFP_CLUSTER_FLOW;
    c->defrag = 1;
    c->promisc = 1;
}

int afp_config_load(struct afp_config *c, const struct config *cfg, char *errbuf)
{
    afp_config_defaults(c);
    uint64_t v, bs;
    int b;
    if (config_get_uint(cfg, "af-packet.ring-size", c->ring_size, 1u << 24, &v, errbuf) < 0)
        return -1;
    if (v == 0) {
        vg_errbuf_set(errbuf, "af-packet.ring-size: must be at least 1");
        return -1;
    }
    c->ring_size = (uint32_t)v;
    if (config_get_size(cfg, "af-packet.block-size", c->block_size, &bs, errbuf) < 0)
        return -1;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        page = 4096;
    if (bs < (uint64_t)page || bs > (1u << 30) || (bs & (bs - 1)) != 0) {
        vg_errbuf_set(errbuf,
                      "af-packet.block-size: %llu must be a power of two from the page size "
                      "(%ld) to 1 GiB",
                      (unsigned long long)bs, page);
        return -1;
    }
    c->block_size = (uint32_t)bs;
    if (config_get_uint(cfg, "af-packet.block-timeout", c->block_timeout_ms, 60000, &v, errbuf) < 0)
        return -1;
    c->block_timeout_ms = (uint32_t)v;
    if (config_get_uint(cfg, "af-packet.cluster-id", c->cluster_id, 65535, &v, errbuf) < 0)
        return -1;
    c->cluster_id = (uint16_t)v;
    const char *type = config_get(cfg, "af-packet.cluster-type");
    if (type != NULL) {
        if (strcmp(type, "cluster_flow") == 0)
            c->cluster_type = AFP_CLUSTER_FLOW;
        else if (strcmp(type, "cluster_cpu") == 0)
            c->cluster_type = AFP_CLUSTER_CPU;
        else if (strcmp(type, "cluster_qm") == 0)
            c->cluster_type = AFP_CLUSTER_QM;
        else {
            vg_errbuf_set(errbuf,
                          "af-packet.cluster-type: '%s' (use cluster_flow, cluster_cpu or "
                          "cluster_qm)",
                          type);
            return -1;
        }
    }
    if (config_get_bool(cfg, "af-packet.defrag", 1, &c->defrag, errbuf) < 0 ||
        config_get_bool(cfg, "af-packet.disable-promisc", 0, &b, errbuf) < 0)
        return -1;
    c->promisc = !b;
    if (config_get_uint(cfg, "af-packet.snaplen", 0, 262144, &v, errbuf) < 0)
        return -1;
    c->snaplen = (uint32_t)v;
    return 0;
}

/* The link type of iface as a DLT, and its MTU. -1 with errbuf set if it is unsupported. */
static int iface_info(int fd, const char *iface, int *dlt, uint32_t *mtu, char *errbuf)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
        vg_errbuf_set(errbuf, "%s: %s", iface, strerror(errno));
        return -1;
    }
    switch (ifr.ifr_hwaddr.sa_family) {
    case ARPHRD_ETHER:
    case ARPHRD_LOOPBACK:
        *dlt = DLT_EN10MB;
        break;
    case ARPHRD_NONE:
    case ARPHRD_IPGRE:
    case ARPHRD_TUNNEL:
    case ARPHRD_TUNNEL6:
        *dlt = DLT_RAW;
        break;
    default:
        vg_errbuf_set(errbuf, "%s: unsupported link type (ARPHRD %u)", iface,
                      (unsigned)ifr.ifr_hwaddr.sa_family);
        return -1;
    }
    *mtu = 1500;
    if (ioctl(fd, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0)
        *mtu = (uint32_t)ifr.ifr_mtu;
    return 0;
}

/* Compiles bpf for dlt with libpcap, without a live handle. -1 with errbuf set. */
static int compile_bpf(int dlt, const char *bpf, struct bpf_program *prog, char *errbuf)
{
    pcap_t *dead = pcap_open_dead(dlt, 65535);
    if (dead == NULL) {
        vg_errbuf_set(errbuf, "out of memory");
        return -1;
    }
    int rc = pcap_compile(dead, prog, bpf, 1, PCAP_NETMASK_UNKNOWN);
    if (rc < 0)
        vg_errbuf_set(errbuf, "invalid BPF filter '%s': %s", bpf, pcap_geterr(dead));
    pcap_close(dead);
    return rc < 0 ? -1 : 0;
}

static int fail(char *errbuf, const char *iface, const char *what)
{
    int e = errno;
    if (e == EPERM || e == EACCES)
        vg_errbuf_set(errbuf,
                      "%s: %s: permission denied (run as root, or grant CAP_NET_RAW and "
                      "CAP_NET_ADMIN)",
                      iface, what);
    else
        vg_errbuf_set(errbuf, "%s: %s: %s", iface, what, strerror(e));
    return -1;
}

/* Opens socket s of g: version, promiscuous mode, filter, ring, bind, fanout. */
static int open_socket(struct afp_group *g, struct afp_socket *s, unsigned ifindex,
                       const struct afp_config *cfg, uint32_t frame_size,
                       const struct bpf_program *prog, char *errbuf)
{
    s->group = g;
    s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (s->fd < 0)
        return fail(errbuf, g->iface, "AF_PACKET socket");
    int ver = TPACKET_V3;
    if (setsockopt(s->fd, SOL_PACKET, PACKET_VERSION, &ver, sizeof(ver)) < 0)
        return fail(errbuf, g->iface, "TPACKET_V3");
    if (cfg->promisc) {
        struct packet_mreq mr;
        memset(&mr, 0, sizeof(mr));
        mr.mr_ifindex = (int)ifindex;
        mr.mr_type = PACKET_MR_PROMISC;
        if (setsockopt(s->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
            return fail(errbuf, g->iface, "promiscuous mode");
    }
    if (prog != NULL) {
        struct sock_fprog fp;
        fp.len = (unsigned short)prog->bf_len;
        fp.filter = (struct sock_filter *)prog->bf_insns;
        if (setsockopt(s->fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) < 0)
            return fail(errbuf, g->iface, "attaching the BPF filter");
    }

    uint64_t bytes = (uint64_t)cfg->ring_size * frame_size;
    if (bytes > AFP_MAX_RING_BYTES) {
        vg_errbuf_set(errbuf, "%s: af-packet.ring-size %u makes a ring over 4 GiB", g->iface,
                      cfg->ring_size);
        return -1;
    }
    s->block_size = cfg->block_size;
    while (s->block_size < frame_size + 64)
        s->block_size <<= 1; /* a block must hold at least one whole frame */
    s->nblocks = (uint32_t)((bytes + s->block_size - 1) / s->block_size);
    if (s->nblocks < 2)
        s->nblocks = 2;
    struct tpacket_req3 req;
    memset(&req, 0, sizeof(req));
    req.tp_block_size = s->block_size;
    req.tp_block_nr = s->nblocks;
    req.tp_frame_size = frame_size;
    req.tp_frame_nr = (s->block_size / frame_size) * s->nblocks;
    req.tp_retire_blk_tov = cfg->block_timeout_ms;
    if (setsockopt(s->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
        return fail(errbuf, g->iface, "PACKET_RX_RING (ring-size or block-size too large?)");
    s->map_len = (size_t)s->block_size * s->nblocks;
    s->map = mmap(NULL, s->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, s->fd, 0);
    if (s->map == MAP_FAILED) {
        s->map = NULL;
        return fail(errbuf, g->iface, "mapping the ring");
    }

    struct sockaddr_ll ll;
    memset(&ll, 0, sizeof(ll));
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = htons(ETH_P_ALL);
    ll.sll_ifindex = (int)ifindex;
    if (bind(s->fd, (struct sockaddr *)&ll, sizeof(ll)) < 0)
        return fail(errbuf, g->iface, "bind");

    if (g->n > 1) {
        int type = cfg->cluster_type == AFP_CLUSTER_CPU  ? PACKET_FANOUT_CPU
                   : cfg->cluster_type == AFP_CLUSTER_QM ? PACKET_FANOUT_QM
                                                         : PACKET_FANOUT_HASH;
        if (cfg->defrag)
            type |= PACKET_FANOUT_FLAG_DEFRAG;
        uint32_t arg = cfg->cluster_id | ((uint32_t)type << 16);
        if (setsockopt(s->fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) < 0) {
            if (errno == EINVAL || errno == EALREADY)
                vg_errbuf_set(errbuf,
                              "%s: fanout group %u is in use with other settings (another "
                              "sensor? set af-packet.cluster-id)",
                              g->iface, cfg->cluster_id);
            else
                fail(errbuf, g->iface, "PACKET_FANOUT");
            return -1;
        }
    }
    return 0;
}

struct afp_group *afp_open(const char *iface, unsigned nsockets, const struct afp_config *cfg,
                           const char *bpf, char *errbuf)
{
    if (nsockets == 0 || nsockets > AFP_MAX_SOCKETS) {
        vg_errbuf_set(errbuf, "af-packet: %u sockets (1 to %d)", nsockets, AFP_MAX_SOCKETS);
        return NULL;
    }
    if (strlen(iface) >= IF_NAMESIZE) {
        vg_errbuf_set(errbuf, "%s: interface name too long", iface);
        return NULL;
    }
    unsigned ifindex = if_nametoindex(iface);
    if (ifindex == 0) {
        vg_errbuf_set(errbuf, "%s: no such interface", iface);
        return NULL;
    }
    struct afp_group *g = calloc(1, sizeof(*g));
    if (g == NULL || (g->socks = calloc(nsockets, sizeof(*g->socks))) == NULL) {
        free(g);
        vg_errbuf_set(errbuf, "out of memory");
        return NULL;
    }
    snprintf(g->iface, sizeof(g->iface), "%s", iface);
    g->n = nsockets;
    for (unsigned i = 0; i < nsockets; i++)
        g->socks[i].fd = -1;

    int probe = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (probe < 0) {
        fail(errbuf, iface, "AF_PACKET socket");
        afp_close(g);
        return NULL;
    }
    uint32_t mtu;
    int rc = iface_info(probe, iface, &g->dlt, &mtu, errbuf);
    close(probe);
    if (rc < 0) {
        afp_close(g);
        return NULL;
    }
    uint32_t snap = cfg->snaplen ? cfg->snaplen : mtu + 14 + 2 * 4; /* Ethernet + 2 VLAN tags */
    uint32_t frame_size = TPACKET_ALIGN(TPACKET_ALIGN(sizeof(struct tpacket3_hdr)) +
                                        sizeof(struct sockaddr_ll) + snap);

    struct bpf_program prog;
    int have_prog = 0;
    if (bpf != NULL) {
        if (compile_bpf(g->dlt, bpf, &prog, errbuf) < 0) {
            afp_close(g);
            return NULL;
        }
        have_prog = 1;
    }
    for (unsigned i = 0; i < nsockets; i++) {
        if (open_socket(g, &g->socks[i], ifindex, cfg, frame_size, have_prog ? &prog : NULL,
                        errbuf) < 0) {
            if (have_prog)
                pcap_freecode(&prog);
            afp_close(g);
            return NULL;
        }
    }
    if (have_prog)
        pcap_freecode(&prog);
    return g;
}

unsigned afp_count(const struct afp_group *g)
{
    return g->n;
}

struct afp_socket *afp_socket_at(struct afp_group *g, unsigned i)
{
    return i < g->n ? &g->socks[i] : NULL;
}

const char *afp_iface(const struct afp_group *g)
{
    return g->iface;
}

/* Hands the block being read back to the kernel and moves on to the next one. */
static void release_block(struct afp_socket *s)
{
    __atomic_store_n(&s->held->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    s->held = NULL;
    s->left = 0;
    s->cur = (s->cur + 1) % s->nblocks;
}

int afp_next(struct afp_socket *s, struct vg_packet *p, int *vlan, int timeout_ms, char *errbuf)
{
    for (int polled = 0;;) {
        if (s->left > 0) {
            const struct tpacket3_hdr *h = (const struct tpacket3_hdr *)s->next_pkt;
            p->data = s->next_pkt + h->tp_mac;
            p->caplen = h->tp_snaplen;
            p->wirelen = h->tp_len;
            p->ts = (vg_time_t)h->tp_sec * VG_USEC_PER_SEC + h->tp_nsec / 1000;
            p->datalink = (uint32_t)s->group->dlt;
            p->src_idx = 0;
            p->flags = 0;
            *vlan = (h->tp_status & TP_STATUS_VLAN_VALID) ? (int)(h->hv1.tp_vlan_tci & 0x0fff) : -1;
            s->left--;
            s->next_pkt = h->tp_next_offset ? s->next_pkt + h->tp_next_offset : NULL;
            if (s->next_pkt == NULL)
                s->left = 0;
            return CAPTURE_PACKET;
        }
        if (s->held != NULL)
            release_block(s);
        /* Stopping: what the kernel already handed over is read (at most one ring's worth),
         * so that every packet it counted is either processed or counted as dropped. */
        if (s->group->stop && s->stopping == 0)
            s->stopping = (int)s->nblocks + 1;
        if (s->stopping == 1)
            return CAPTURE_END;
        struct tpacket_block_desc *b =
            (struct tpacket_block_desc *)(s->map + (size_t)s->cur * s->block_size);
        if (__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) {
            if (s->stopping > 1)
                s->stopping--;
            s->held = b;
            s->left = b->hdr.bh1.num_pkts;
            s->next_pkt = (const uint8_t *)b + b->hdr.bh1.offset_to_first_pkt;
            if (s->left == 0)
                release_block(s);
            continue;
        }
        if (s->stopping)
            return CAPTURE_END;
        if (polled)
            return CAPTURE_TIMEOUT;
        struct pollfd pfd = {.fd = s->fd, .events = POLLIN | POLLERR};
        int rc = poll(&pfd, 1, timeout_ms);
        if (rc < 0 && errno != EINTR) {
            vg_errbuf_set(errbuf, "%s: poll: %s", s->group->iface, strerror(errno));
            return CAPTURE_FATAL;
        }
        if (rc > 0 && (pfd.revents & (POLLERR | POLLNVAL))) {
            int err = 0;
            socklen_t len = sizeof(err);
            getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err == ENETDOWN || err == ENODEV || (pfd.revents & POLLNVAL)) {
                vg_errbuf_set(errbuf, "%s: %s", s->group->iface,
                              err ? strerror(err) : "socket closed");
                return CAPTURE_FATAL;
            }
        }
        polled = 1;
    }
}

void afp_update_stats(struct afp_socket *s)
{
    struct tpacket_stats_v3 ks;
    socklen_t len = sizeof(ks);
    memset(&ks, 0, sizeof(ks));
    /* Reading resets the kernel's counters; tp_packets already includes tp_drops. */
    if (getsockopt(s->fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len) < 0)
        return;
    VG_CNT_ADD(s->st.kernel_packets, ks.tp_packets);
    VG_CNT_ADD(s->st.kernel_drops, ks.tp_drops);
    VG_CNT_ADD(s->st.kernel_freezes, ks.tp_freeze_q_cnt);
}

void afp_get_stats(const struct afp_socket *s, struct capture_stats *st)
{
    st->kernel_packets += VG_CNT_GET(s->st.kernel_packets);
    st->kernel_drops += VG_CNT_GET(s->st.kernel_drops);
    st->kernel_freezes += VG_CNT_GET(s->st.kernel_freezes);
}

void afp_break(struct afp_group *g)
{
    if (g != NULL)
        g->stop = 1;
}

void afp_close(struct afp_group *g)
{
    if (g == NULL)
        return;
    for (unsigned i = 0; g->socks != NULL && i < g->n; i++) {
        struct afp_socket *s = &g->socks[i];
        if (s->map != NULL)
            munmap(s->map, s->map_len);
        if (s->fd >= 0)
            close(s->fd);
    }
    free(g->socks);
    free(g);
}
