/* capture.h: packet sources: pcap/pcapng files and directories, or a live interface (libpcap). */
#ifndef VIGIL_CAPTURE_H
#define VIGIL_CAPTURE_H

#include <stdint.h>

#include "vigil/packet.h"
#include "vigil/stats.h"

/* What capture_next returns. */
enum capture_rc {
    CAPTURE_PACKET = 1,        /* *p holds a packet */
    CAPTURE_TIMEOUT = 0,       /* live: nothing arrived within the read timeout */
    CAPTURE_END = -1,          /* no more packets (every file read, or stopped) */
    CAPTURE_SOURCE_ERROR = -2, /* one file failed (errbuf says why); call again for the next */
    CAPTURE_FATAL = -3,        /* the source failed for good (errbuf says why) */
};

struct capture_live_opts {
    int snaplen;          /* bytes kept per packet */
    int promisc;          /* promiscuous mode */
    int timeout_ms;       /* read timeout, so the pipeline can flush while idle */
    uint64_t buffer_size; /* kernel buffer in bytes, 0 for libpcap's default */
};

struct capture;

/*
 * Prepares to read the files and directories in paths (a directory contributes its regular
 * files in name order; "-" is standard input), in order, as one stream, applying the BPF
 * filter bpf (or none if NULL). Every path must exist. Files are opened as they are reached.
 * Returns NULL with errbuf set if a path is missing or unreadable or bpf does not compile.
 */
struct capture *capture_open_offline(char *const *paths, unsigned npaths, const char *bpf,
                                     char *errbuf);

/*
 * Opens interface iface for live capture with opts and the BPF filter bpf. Returns NULL with
 * a one-line reason in errbuf (no such interface, permission denied, bad filter...).
 */
struct capture *capture_open_live(const char *iface, const struct capture_live_opts *opts,
                                  const char *bpf, char *errbuf);

/*
 * Reads the next packet into p (data, caplen, wirelen, ts, datalink, src_idx; p->data stays
 * valid until the next call). Returns an enum capture_rc; on errors, errbuf says which file,
 * at which offset, and why.
 */
int capture_next(struct capture *c, struct vg_packet *p, char *errbuf);

/* The name of each source (file path or interface), indexed by vg_packet.src_idx. */
const char *const *capture_source_names(const struct capture *c, unsigned *n);

/* Bytes read so far and in all (offline); total is 0 when unknown (stdin, live). */
void capture_progress(const struct capture *c, uint64_t *done, uint64_t *total);

/* Adds the kernel's packet and drop counters (live) and the file counters into st. */
void capture_get_stats(struct capture *c, struct capture_stats *st);

/* Returns 1 for a live interface. */
int capture_is_live(const struct capture *c);

/* Makes a blocked capture_next return CAPTURE_END soon. Safe in a signal handler. */
void capture_break(struct capture *c);

/* Closes every source. */
void capture_close(struct capture *c);

/*
 * AF_PACKET capture (capture-afpacket.c): TPACKET_V3 rings, one socket per worker thread, the
 * sockets of an interface joined in one PACKET_FANOUT group so that each flow (both directions)
 * reaches one socket. Each socket is read by one thread only.
 */
enum afp_cluster {
    AFP_CLUSTER_FLOW, /* PACKET_FANOUT_HASH: symmetric flow hash (Suricata's cluster_flow) */
    AFP_CLUSTER_CPU,  /* PACKET_FANOUT_CPU (cluster_cpu) */
    AFP_CLUSTER_QM,   /* PACKET_FANOUT_QM: the NIC's RSS queue (cluster_qm) */
};

/* The af-packet.* keys of the configuration. */
struct afp_config {
    uint32_t ring_size;        /* af-packet.ring-size: frames (packets) per socket ring */
    uint32_t block_size;       /* af-packet.block-size: bytes per block, power of 2 >= page */
    uint32_t block_timeout_ms; /* af-packet.block-timeout: a partly filled block is handed over */
    uint16_t cluster_id;       /* af-packet.cluster-id: the fanout group id (99) */
    enum afp_cluster cluster_type; /* af-packet.cluster-type */
    int defrag;                /* af-packet.defrag: PACKET_FANOUT_FLAG_DEFRAG (yes) */
    int promisc;               /* not af-packet.disable-promisc */
    uint32_t snaplen;          /* af-packet.snaplen: 0 = the interface MTU plus link headers */
};

struct config;
struct afp_group;
struct afp_socket;

/* Fills c with the defaults: 2048 frames, 32 KiB blocks, 10 ms, cluster 99, flow, defrag. */
void afp_config_defaults(struct afp_config *c);

/* Fills c from the af-packet.* keys of cfg (defaults first). Returns 0, or -1 with errbuf set. */
int afp_config_load(struct afp_config *c, const struct config *cfg, char *errbuf);

/*
 * Opens nsockets AF_PACKET sockets on iface, each with its own TPACKET_V3 ring, joined in the
 * fanout group cfg->cluster_id when nsockets > 1, each filtered by bpf (NULL for none). Needs
 * CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode); nothing else does once it returns.
 * Returns NULL with a one-line reason in errbuf.
 */
struct afp_group *afp_open(const char *iface, unsigned nsockets, const struct afp_config *cfg,
                           const char *bpf, char *errbuf);

/* The number of sockets, socket i (i < afp_count), and the interface name. */
unsigned afp_count(const struct afp_group *g);
struct afp_socket *afp_socket_at(struct afp_group *g, unsigned i);
const char *afp_iface(const struct afp_group *g);

/*
 * Reads the next packet of s into p (data, caplen, wirelen, ts, datalink; p->data stays valid
 * until the next call on s), waiting up to timeout_ms. *vlan gets the VLAN id the kernel took
 * off the frame, or -1. Returns CAPTURE_PACKET, CAPTURE_TIMEOUT, CAPTURE_END (afp_break was
 * called) or CAPTURE_FATAL with errbuf set (the interface went away). One thread per socket.
 */
int afp_next(struct afp_socket *s, struct vg_packet *p, int *vlan, int timeout_ms, char *errbuf);

/* Reads the kernel's counters of s (PACKET_STATISTICS) into its totals; the reading thread only. */
void afp_update_stats(struct afp_socket *s);

/* Adds the totals of s (kernel_packets, kernel_drops) into st. Safe from any thread. */
void afp_get_stats(const struct afp_socket *s, struct capture_stats *st);

/* Makes every afp_next of g return CAPTURE_END soon. Safe in a signal handler. */
void afp_break(struct afp_group *g);

/* Unmaps the rings and closes the sockets. No thread may be reading them. */
void afp_close(struct afp_group *g);

#endif
