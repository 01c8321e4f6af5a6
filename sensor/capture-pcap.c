/* capture-pcap.c: packet sources through libpcap: files, directories of files, live interfaces. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/capture.h"
#include "vigil/decode.h"

#define PCAPNG_MAGIC 0x0a0d0d0au
#define PCAP_FILE_HDR 24
#define PCAP_REC_HDR 16

struct capture {
    int live;
    char **names; /* one per source */
    unsigned nsrc;
    unsigned cur; /* source being read */
    pcap_t *pcap;
    FILE *fp;            /* the current file, for offsets and progress */
    int is_pcapng;
    uint64_t rec_offset; /* pcap: where the next record starts */
    /* What the start-up check read from the first source when it cannot be reopened (stdin):
     * CAPTURE_PACKET (pending_pkt), CAPTURE_SOURCE_ERROR (pending_err), or 0 for nothing. */
    int pending;
    struct vg_packet pending_pkt;
    char pending_err[VG_ERRBUF_SIZE];
    char *bpf;
    uint64_t bytes_total;
    uint64_t bytes_done; /* in files already finished */
    struct capture_stats st;
    volatile sig_atomic_t stop;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_name(struct capture *c, const char *name)
{
    char **v = realloc(c->names, (c->nsrc + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    c->names = v;
    if ((c->names[c->nsrc] = strdup(name)) == NULL)
        return -1;
    c->nsrc++;
    return 0;
}

/* Adds the regular files of directory dir, in name order. */
static int add_dir(struct capture *c, const char *dir, char *errbuf)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        vg_errbuf_set(errbuf, "%s: %s", dir, strerror(errno));
        return -1;
    }
    char **files = NULL;
    size_t n = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *path;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0) {
            rc = -1;
            break;
        }
        struct stat sb;
        if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
            free(path);
            continue;
        }
        char **v = realloc(files, (n + 1) * sizeof(*v));
        if (v == NULL) {
            free(path);
            rc = -1;
            break;
        }
        files = v;
        files[n++] = path;
        c->bytes_total += (uint64_t)sb.st_size;
    }
    closedir(d);
    if (n > 1)
        qsort(files, n, sizeof(*files), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && add_name(c, files[i]) < 0)
            rc = -1;
        free(files[i]);
    }
    free(files);
    if (rc < 0)
        vg_errbuf_set(errbuf, "%s: out of memory", dir);
    else if (n == 0)
        fprintf(stderr, "vigil-sensor: %s: warning: directory holds no files\n", dir);
    return rc;
}

/* Checks that expr compiles for an Ethernet capture, so a typo fails at start-up. */
static int bpf_check(const char *expr, char *errbuf)
{
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
    if (dead == NULL) {
        vg_errbuf_set(errbuf, "out of memory");
        return -1;
    }
    struct bpf_program prog;
    int rc = 0;
    if (pcap_compile(dead, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        vg_errbuf_set(errbuf, "invalid BPF filter '%s': %s", expr, pcap_geterr(dead));
        rc = -1;
    } else {
        pcap_freecode(&prog);
    }
    pcap_close(dead);
    return rc;
}

static int check_source(struct capture *c, unsigned i, char *errbuf);

struct capture *capture_open_offline(char *const *paths, unsigned npaths, const char *bpf,
                                     char *errbuf)
{
    struct capture *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        vg_errbuf_set(errbuf, "out of memory");
        return NULL;
    }
    if (bpf != NULL && (bpf_check(bpf, errbuf) < 0 || (c->bpf = strdup(bpf)) == NULL))
        goto fail;
    for (unsigned i = 0; i < npaths; i++) {
        struct stat sb;
        if (strcmp(paths[i], "-") == 0) {
            if (add_name(c, "-") < 0)
                goto oom;
            continue;
        }
        if (stat(paths[i], &sb) < 0) {
            vg_errbuf_set(errbuf, "%s: %s", paths[i], strerror(errno));
            goto fail;
        }
        if (S_ISDIR(sb.st_mode)) {
            if (add_dir(c, paths[i], errbuf) < 0)
                goto fail;
        } else {
            if (add_name(c, paths[i]) < 0)
                goto oom;
            c->bytes_total += (uint64_t)sb.st_size;
        }
    }
    if (c->nsrc > UINT16_MAX) {
        vg_errbuf_set(errbuf, "too many capture files (%u, at most %u)", c->nsrc, UINT16_MAX);
        goto fail;
    }
    /* Every source is looked at before the run: if none can be read, that is the one error. */
    unsigned bad = 0;
    char first[VG_ERRBUF_SIZE] = "", why[VG_ERRBUF_SIZE];
    for (unsigned i = 0; i < c->nsrc; i++) {
        why[0] = '\0';
        if (check_source(c, i, why) < 0 && bad++ == 0)
            snprintf(first, sizeof(first), "%s", why);
    }
    if (c->nsrc > 0 && bad == c->nsrc) {
        if (c->nsrc == 1)
            vg_errbuf_set(errbuf, "%s", first);
        else
            vg_errbuf_set(errbuf, "none of the %u capture files can be read; the first: %s",
                          c->nsrc, first);
        goto fail;
    }
    c->cur = 0;
    if (c->pcap != NULL)
        c->st.files++; /* standard input, opened by its check */
    return c;
oom:
    vg_errbuf_set(errbuf, "out of memory");
fail:
    capture_close(c);
    return NULL;
}

/*
 * Pipes, FIFOs and standard input cannot tell their position (ftello fails) nor be rewound to
 * peek at the magic. They are read through a stdio cookie that counts the bytes read and
 * hands back the first four it peeked at, so that damage is still reported at its offset.
 */
struct counted {
    int fd;
    int close_fd; /* 0 for standard input, which is not ours to close */
    uint8_t peek[4];
    unsigned npeek, peek_pos;
    uint64_t pos; /* bytes handed to stdio */
    const volatile sig_atomic_t *stop; /* the capture's stop flag (set by a stop signal) */
};

static ssize_t counted_read(void *cookie, char *buf, size_t n)
{
    struct counted *k = cookie;
    if (k->peek_pos < k->npeek) {
        size_t m = VG_MIN(n, (size_t)(k->npeek - k->peek_pos));
        memcpy(buf, k->peek + k->peek_pos, m);
        k->peek_pos += (unsigned)m;
        k->pos += m;
        return (ssize_t)m;
    }
    ssize_t r;
    do /* a signal interrupts a read of a pipe; a stop signal ends it there */
        r = read(k->fd, buf, n);
    while (r < 0 && errno == EINTR && !*k->stop);
    if (r > 0)
        k->pos += (uint64_t)r;
    return r;
}

/* Only "where am I" is answered; stdio subtracts what it holds buffered. */
static int counted_seek(void *cookie, off64_t *off, int whence)
{
    struct counted *k = cookie;
    if (whence == SEEK_CUR && *off == 0) {
        *off = (off64_t)k->pos;
        return 0;
    }
    errno = ESPIPE;
    return -1;
}

static int counted_close(void *cookie)
{
    struct counted *k = cookie;
    int rc = k->close_fd ? close(k->fd) : 0;
    free(k);
    return rc;
}

/* Reads up to 4 bytes (fewer only at the end). Returns how many, or -1 with errno. */
static int read_magic(int fd, uint8_t *m)
{
    unsigned got = 0;
    while (got < 4) {
        ssize_t r = read(fd, m + got, 4 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (unsigned)r;
    }
    return (int)got;
}

/*
 * Opens source name for reading: a stdio stream positioned at its start, *pcapng set from its
 * magic; a read interrupted once *stop is set fails (a stop signal ends a blocked read of a pipe).
 * Returns NULL with errbuf set if it cannot be opened or is empty.
 */
static FILE *open_stream(const char *name, int *pcapng, const volatile sig_atomic_t *stop,
                         char *errbuf)
{
    int is_stdin = strcmp(name, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        vg_errbuf_set(errbuf, "%s: %s", name, strerror(errno));
        return NULL;
    }
    struct stat sb;
    uint8_t magic[4] = {0};
    int got;
    if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        vg_errbuf_set(errbuf, "%s: is a directory", name);
        goto fail;
    }
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && !is_stdin) {
        got = (int)pread(fd, magic, sizeof(magic), 0);
        if (got < 0) {
            vg_errbuf_set(errbuf, "%s: %s", name, strerror(errno));
            goto fail;
        }
        if (got == 0) {
            vg_errbuf_set(errbuf, "%s: empty file, not a pcap or pcapng capture", name);
            goto fail;
        }
        *pcapng = got == 4 && vg_le32(magic) == PCAPNG_MAGIC;
        FILE *fp = fdopen(fd, "rb");
        if (fp == NULL) {
            vg_errbuf_set(errbuf, "%s: %s", name, strerror(errno));
            goto fail;
        }
        return fp;
    }
    if ((got = read_magic(fd, magic)) < 0) {
        vg_errbuf_set(errbuf, "%s: %s", name, strerror(errno));
        goto fail;
    }
    if (got == 0) {
        vg_errbuf_set(errbuf, "%s: empty input, not a pcap or pcapng capture", name);
        goto fail;
    }
    struct counted *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        vg_errbuf_set(errbuf, "%s: out of memory", name);
        goto fail;
    }
    k->fd = fd;
    k->stop = stop;
    k->close_fd = !is_stdin;
    memcpy(k->peek, magic, (size_t)got);
    k->npeek = (unsigned)got;
    *pcapng = got == 4 && vg_le32(magic) == PCAPNG_MAGIC;
    cookie_io_functions_t io = {counted_read, NULL, counted_seek, counted_close};
    FILE *fp = fopencookie(k, "rb", io);
    if (fp == NULL) {
        free(k);
        vg_errbuf_set(errbuf, "%s: out of memory", name);
        goto fail;
    }
    return fp;
fail:
    if (!is_stdin)
        close(fd);
    return NULL;
}

/* Opens source c->cur. Returns 0, or -1 with errbuf set (the source is skipped). */
static int open_current(struct capture *c, int filter, char *errbuf)
{
    const char *name = c->names[c->cur];
    char perr[PCAP_ERRBUF_SIZE] = "";
    int pcapng = 0;
    FILE *fp = open_stream(name, &pcapng, &c->stop, errbuf);
    if (fp == NULL)
        return -1;
    c->is_pcapng = pcapng;
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, perr);
    if (p == NULL) {
        if (strstr(perr, "unknown file format") != NULL)
            vg_errbuf_set(errbuf, "%s: not a pcap or pcapng capture (unknown file format)", name);
        else if (strstr(perr, "truncated dump file") != NULL)
            vg_errbuf_set(errbuf, "%s: truncated file header, not a complete capture", name);
        else
            vg_errbuf_set(errbuf, "%s: %s", name, perr);
        fclose(fp);
        return -1;
    }
    int dlt = pcap_datalink(p);
    if (!decode_datalink_supported(dlt)) {
        const char *dn = pcap_datalink_val_to_name(dlt);
        vg_errbuf_set(errbuf, "%s: unsupported link type %s (%d)", name, dn ? dn : "?", dlt);
        pcap_close(p);
        return -1;
    }
    if (c->bpf != NULL && filter) {
        struct bpf_program prog;
        if (pcap_compile(p, &prog, c->bpf, 1, PCAP_NETMASK_UNKNOWN) < 0 ||
            pcap_setfilter(p, &prog) < 0) {
            vg_errbuf_set(errbuf, "%s: BPF filter: %s", name, pcap_geterr(p));
            pcap_close(p);
            return -1;
        }
        pcap_freecode(&prog);
    }
    c->pcap = p;
    c->fp = fp;
    c->rec_offset = PCAP_FILE_HDR;
    return 0;
}

/*
 * Reads the next record of the open source into p. Returns CAPTURE_PACKET, CAPTURE_TIMEOUT
 * (live), CAPTURE_END (this source is done, or a stop), or CAPTURE_SOURCE_ERROR /
 * CAPTURE_FATAL with errbuf naming the file and the offset of the damage.
 */
static int read_record(struct capture *c, struct vg_packet *p, char *errbuf)
{
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc = pcap_next_ex(c->pcap, &h, &data);
    if (rc == 1) {
        p->data = data;
        p->caplen = h->caplen;
        p->wirelen = h->len;
        p->ts = (vg_time_t)h->ts.tv_sec * VG_USEC_PER_SEC + (vg_time_t)h->ts.tv_usec;
        p->datalink = (uint32_t)pcap_datalink(c->pcap);
        p->src_idx = (uint16_t)c->cur;
        p->flags = 0;
        c->rec_offset += PCAP_REC_HDR + h->caplen;
        return CAPTURE_PACKET;
    }
    if (rc == 0)
        return CAPTURE_TIMEOUT;
    /* PCAP_ERROR_BREAK means a breakloop on a live handle, but the end of a savefile. */
    if (rc == PCAP_ERROR_BREAK || (rc == PCAP_ERROR && c->stop))
        return CAPTURE_END; /* the end of the file, or a stop signal interrupted the read */
    if (c->live) {
        vg_errbuf_set(errbuf, "%s: %s", c->names[0], pcap_geterr(c->pcap));
        return CAPTURE_FATAL;
    }
    /* A damaged file: what came before it stands; name the place. pcapng blocks vary in size
     * and filtered records are unseen: there the stream position is the best we know. */
    const char *name = c->names[c->cur];
    if (c->is_pcapng || c->bpf != NULL) {
        off_t pos = ftello(c->fp);
        vg_errbuf_set(errbuf, "%s: corrupt or truncated near offset %lld: %s", name, (long long)pos,
                      pcap_geterr(c->pcap));
    } else {
        vg_errbuf_set(errbuf, "%s: corrupt or truncated at offset %llu: %s", name,
                      (unsigned long long)c->rec_offset, pcap_geterr(c->pcap));
    }
    return CAPTURE_SOURCE_ERROR;
}

/*
 * The start-up check of source i: opened, and its first record read (unfiltered, so a filter
 * matching little does not read the file twice). A regular file is closed again; standard
 * input or a FIFO as the first source stays open, what was read kept for capture_next.
 * Returns 0 if the source is readable, or -1 with errbuf set.
 */
static int check_source(struct capture *c, unsigned i, char *errbuf)
{
    struct stat sb;
    int keep =
        strcmp(c->names[i], "-") == 0 || (stat(c->names[i], &sb) == 0 && !S_ISREG(sb.st_mode));
    if (keep && i != 0)
        return 0; /* cannot be looked at without being consumed; reported when reached */
    c->cur = i;
    if (open_current(c, keep, errbuf) < 0) {
        if (keep) {
            c->pending = CAPTURE_SOURCE_ERROR;
            snprintf(c->pending_err, sizeof(c->pending_err), "%s", errbuf ? errbuf : "");
        }
        return -1;
    }
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    int rc = read_record(c, &p, errbuf);
    if (keep) {
        c->pending = rc == CAPTURE_END ? 0 : rc;
        if (rc == CAPTURE_PACKET)
            c->pending_pkt = p;
        else if (rc == CAPTURE_SOURCE_ERROR)
            snprintf(c->pending_err, sizeof(c->pending_err), "%s", errbuf ? errbuf : "");
        return rc == CAPTURE_SOURCE_ERROR ? -1 : 0;
    }
    pcap_close(c->pcap); /* closes fp too */
    c->pcap = NULL;
    c->fp = NULL;
    return rc == CAPTURE_SOURCE_ERROR ? -1 : 0;
}

static void close_current(struct capture *c)
{
    if (c->pcap == NULL)
        return;
    if (c->fp != NULL) {
        struct stat sb;
        if (fstat(fileno(c->fp), &sb) == 0)
            c->bytes_done += (uint64_t)sb.st_size;
    }
    pcap_close(c->pcap); /* closes fp too */
    c->pcap = NULL;
    c->fp = NULL;
}

struct capture *capture_open_live(const char *iface, const struct capture_live_opts *opts,
                                  const char *bpf, char *errbuf)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    struct capture *c = calloc(1, sizeof(*c));
    if (c == NULL || add_name(c, iface) < 0) {
        vg_errbuf_set(errbuf, "out of memory");
        capture_close(c);
        return NULL;
    }
    c->live = 1;
    pcap_t *p = pcap_create(iface, perr);
    if (p == NULL) {
        vg_errbuf_set(errbuf, "%s: %s", iface, perr);
        capture_close(c);
        return NULL;
    }
    pcap_set_snaplen(p, opts->snaplen > 0 ? opts->snaplen : 65535);
    pcap_set_promisc(p, opts->promisc);
    pcap_set_timeout(p, opts->timeout_ms > 0 ? opts->timeout_ms : 100);
    if (opts->buffer_size > 0)
        pcap_set_buffer_size(p, (int)VG_MIN(opts->buffer_size, (uint64_t)INT32_MAX));
    int rc = pcap_activate(p);
    if (rc < 0) {
        switch (rc) {
        case PCAP_ERROR_NO_SUCH_DEVICE:
            vg_errbuf_set(errbuf, "%s: no such interface", iface);
            break;
        case PCAP_ERROR_PERM_DENIED:
        case PCAP_ERROR_PROMISC_PERM_DENIED:
            vg_errbuf_set(errbuf,
                          "%s: permission denied (run as root, or grant CAP_NET_RAW and "
                          "CAP_NET_ADMIN)",
                          iface);
            break;
        case PCAP_ERROR_IFACE_NOT_UP:
            vg_errbuf_set(errbuf, "%s: interface is down", iface);
            break;
        default:
            vg_errbuf_set(errbuf, "%s: %s", iface, pcap_geterr(p));
            break;
        }
        pcap_close(p);
        capture_close(c);
        return NULL;
    }
    int dlt = pcap_datalink(p);
    if (!decode_datalink_supported(dlt)) {
        vg_errbuf_set(errbuf, "%s: unsupported link type %d", iface, dlt);
        pcap_close(p);
        capture_close(c);
        return NULL;
    }
    if (bpf != NULL) {
        struct bpf_program prog;
        if (pcap_compile(p, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) < 0 ||
            pcap_setfilter(p, &prog) < 0) {
            vg_errbuf_set(errbuf, "invalid BPF filter '%s': %s", bpf, pcap_geterr(p));
            pcap_close(p);
            capture_close(c);
            return NULL;
        }
        pcap_freecode(&prog);
    }
    c->pcap = p;
    c->st.files = 0;
    return c;
}

int capture_next(struct capture *c, struct vg_packet *p, char *errbuf)
{
    if (c->pending != 0) {
        int rc = c->pending;
        c->pending = 0;
        if (rc == CAPTURE_PACKET) {
            *p = c->pending_pkt;
            return CAPTURE_PACKET;
        }
        vg_errbuf_set(errbuf, "%s", c->pending_err);
        c->st.file_errors++;
        close_current(c);
        c->cur++;
        return CAPTURE_SOURCE_ERROR;
    }
    for (;;) {
        if (c->stop)
            return CAPTURE_END;
        if (c->pcap == NULL) {
            if (c->live || c->cur >= c->nsrc)
                return CAPTURE_END;
            if (open_current(c, 1, errbuf) < 0) {
                c->st.file_errors++;
                c->cur++;
                return CAPTURE_SOURCE_ERROR;
            }
            c->st.files++;
        }
        int rc = read_record(c, p, errbuf);
        if (rc == CAPTURE_PACKET || rc == CAPTURE_TIMEOUT || rc == CAPTURE_FATAL)
            return rc;
        if (rc == CAPTURE_END && (c->live || c->stop))
            return CAPTURE_END;
        if (rc == CAPTURE_SOURCE_ERROR)
            c->st.file_errors++;
        /* The end of this file, or its damage: on to the next. */
        close_current(c);
        c->cur++;
        if (rc == CAPTURE_SOURCE_ERROR)
            return rc;
    }
}

const char *const *capture_source_names(const struct capture *c, unsigned *n)
{
    *n = c->nsrc;
    return (const char *const *)c->names;
}

void capture_progress(const struct capture *c, uint64_t *done, uint64_t *total)
{
    uint64_t cur = 0;
    if (c->fp != NULL) {
        off_t o = ftello(c->fp);
        if (o > 0)
            cur = (uint64_t)o;
    }
    *done = c->bytes_done + cur;
    *total = c->bytes_total;
}

void capture_get_stats(struct capture *c, struct capture_stats *st)
{
    st->files += c->st.files;
    st->file_errors += c->st.file_errors;
    if (c->live && c->pcap != NULL) {
        struct pcap_stat ps;
        if (pcap_stats(c->pcap, &ps) == 0) {
            st->kernel_packets += ps.ps_recv;
            st->kernel_drops += ps.ps_drop;
            st->kernel_ifdrops += ps.ps_ifdrop;
        }
    }
}

int capture_is_live(const struct capture *c) { return c->live; }

void capture_break(struct capture *c)
{
    c->stop = 1;
    if (c->pcap != NULL)
        pcap_breakloop(c->pcap);
}

void capture_close(struct capture *c)
{
    if (c == NULL)
        return;
    close_current(c);
    for (unsigned i = 0; i < c->nsrc; i++)
        free(c->names[i]);
    free(c->names);
    free(c->bpf);
    free(c);
}
