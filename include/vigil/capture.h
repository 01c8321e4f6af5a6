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

#endif
