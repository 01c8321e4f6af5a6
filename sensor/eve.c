/* eve.c: the EVE JSON sink (whole-line writes), per-thread buffers, and the common record fields. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/community_id.h"
#include "vigil/app-proto.h"
#include "vigil/eve.h"

#define EVE_WRITER_BUF (256 * 1024)

struct eve_sink {
    pthread_mutex_t lock;
    int fd;
    char *path;
    off_t offset; /* where the next write lands */
    int partial;  /* a cut-off record could not be removed: start the next write on a new line */
    struct eve_sink_stats st;
    vg_time_t last_error_report;
    struct eve_redis *redis; /* second destination, or NULL */
    char *sensor_name;       /* the "sensor" field of every record, or NULL */
    char *tail;              /* what ends a text record: "}", or ,"sensor":"NAME"} */
    size_t tail_len;         /* 0: the name cannot be written as text (not UTF-8) */
};

struct eve_writer {
    struct eve_sink *sink;
    char *buf;
    size_t len;
    uint64_t nrec; /* records in buf */
};

static int sink_open_fd(struct eve_sink *s, char *errbuf)
{
    int fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        vg_errbuf_set(errbuf, "%s: %s", s->path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        vg_errbuf_set(errbuf, "%s: %s", s->path, strerror(errno));
        close(fd);
        return -1;
    }
    s->fd = fd;
    s->offset = sb.st_size;
    return 0;
}

struct eve_sink *eve_sink_open(const char *path, char *errbuf)
{
    struct eve_sink *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->path = strdup(path)) == NULL) {
        free(s);
        vg_errbuf_set(errbuf, "out of memory");
        return NULL;
    }
    if (sink_open_fd(s, errbuf) < 0) {
        free(s->path);
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

int eve_sink_reopen(struct eve_sink *s, char *errbuf)
{
    pthread_mutex_lock(&s->lock);
    int old = s->fd;
    int rc = sink_open_fd(s, errbuf);
    if (rc == 0)
        close(old);
    else
        s->fd = old; /* keep writing to the old file rather than nowhere */
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void eve_sink_attach_redis(struct eve_sink *s, struct eve_redis *r)
{
    pthread_mutex_lock(&s->lock);
    s->redis = r;
    pthread_mutex_unlock(&s->lock);
}

int eve_sink_set_sensor_name(struct eve_sink *s, const char *name)
{
    free(s->sensor_name);
    free(s->tail);
    s->sensor_name = name ? strdup(name) : NULL;
    s->tail = NULL;
    s->tail_len = 0;
    if (name != NULL && s->sensor_name == NULL)
        return -1;
    /* The end of every record written as text (eve_writer_write_text), made once. */
    size_t cap = name != NULL ? strlen(name) * 6 + 16 : 2; /* "\u00XX" is the longest escape */
    if ((s->tail = malloc(cap)) == NULL)
        return -1;
    if (name == NULL) {
        s->tail[0] = '}';
        s->tail_len = 1;
        return 0;
    }
    struct eve_text t;
    eve_text_begin(&t, s->tail, cap);
    eve_text_string(&t, "sensor", name, strlen(name));
    size_t n = eve_text_finish(&t);
    if (n > 0 && n <= cap) {
        s->tail[0] = ','; /* its '{' becomes the separator after the record's last member */
        s->tail_len = n;
    }
    return 0;
}

void eve_sink_close(struct eve_sink *s)
{
    if (s == NULL)
        return;
    eve_redis_stop(s->redis);
    free(s->sensor_name);
    free(s->tail);
    close(s->fd);
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

void eve_sink_get_stats(struct eve_sink *s, struct eve_sink_stats *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->st;
    if (s->redis != NULL) {
        out->redis_enabled = 1;
        eve_redis_get_stats(s->redis, &out->redis);
    }
    pthread_mutex_unlock(&s->lock);
}

/* Writes all of buf, retrying interrupted and short writes. Returns bytes written; sets *err. */
static size_t write_all(int fd, const char *buf, size_t len, int *err)
{
    size_t done = 0;
    *err = 0;
    while (done < len) {
        ssize_t n = write(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *err = n < 0 ? errno : ENOSPC;
            break;
        }
        done += (size_t)n;
    }
    return done;
}

int eve_sink_write(struct eve_sink *s, const char *buf, size_t len, uint64_t nrec)
{
    int err = 0;
    pthread_mutex_lock(&s->lock);
    if (s->partial) {
        /* An earlier record was cut off and could not be removed: end its line first. */
        if (write_all(s->fd, "\n", 1, &err) == 1)
            s->partial = 0;
    }
    size_t done = err == 0 ? write_all(s->fd, buf, len, &err) : 0;
    if (err != 0) {
        /* Never leave part of a record behind: cut the file back to where this write began
         * (the end of the file less what this write added, in case it was rotated or cut). */
        if (done > 0) {
            struct stat sb;
            if (fstat(s->fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
                ftruncate(s->fd, sb.st_size - (off_t)done) < 0)
                s->partial = 1;
        }
        s->st.write_errors++;
        s->st.dropped += nrec;
        vg_time_t now = vg_monotonic();
        if (now - s->last_error_report > 10 * VG_USEC_PER_SEC || s->last_error_report == 0) {
            fprintf(stderr, "vigil-sensor: %s: write failed: %s (%llu records dropped so far)\n",
                    s->path, strerror(err), (unsigned long long)s->st.dropped);
            s->last_error_report = now;
        }
    } else {
        s->offset += (off_t)len;
        s->st.records += nrec;
        s->st.bytes += len;
    }
    /* Redis gets the records whatever became of the file write, in the file's order. */
    if (s->redis != NULL)
        eve_redis_push(s->redis, buf, len, nrec);
    pthread_mutex_unlock(&s->lock);
    return err != 0 ? -1 : 0;
}

struct eve_writer *eve_writer_new(struct eve_sink *s)
{
    struct eve_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->buf = malloc(EVE_WRITER_BUF);
    if (w->buf == NULL) {
        free(w);
        return NULL;
    }
    w->sink = s;
    return w;
}

int eve_writer_flush(struct eve_writer *w)
{
    if (w->len == 0)
        return 0;
    int rc = eve_sink_write(w->sink, w->buf, w->len, w->nrec);
    w->len = 0;
    w->nrec = 0;
    return rc;
}

int eve_writer_write(struct eve_writer *w, json_t *rec)
{
    if (w->sink->sensor_name != NULL)
        json_object_set_new_nocheck(rec, "sensor", json_string(w->sink->sensor_name));
    size_t room = EVE_WRITER_BUF - w->len;
    size_t n = eve_json_dumpb(rec, w->buf + w->len, room > 0 ? room - 1 : 0, 10);
    if (n == 0) {
        pthread_mutex_lock(&w->sink->lock);
        w->sink->st.dropped++;
        pthread_mutex_unlock(&w->sink->lock);
        return -1;
    }
    if (n + 1 <= room) {
        w->len += n;
        w->buf[w->len++] = '\n';
        w->nrec++;
        return 0;
    }
    /* It did not fit: flush, then retry, or write a record larger than the buffer alone. */
    eve_writer_flush(w);
    if (n + 1 <= EVE_WRITER_BUF) {
        eve_json_dumpb(rec, w->buf, EVE_WRITER_BUF - 1, 10);
        w->len = n;
        w->buf[w->len++] = '\n';
        w->nrec = 1;
        return 0;
    }
    char *big = malloc(n + 1);
    if (big == NULL) {
        pthread_mutex_lock(&w->sink->lock);
        w->sink->st.dropped++;
        pthread_mutex_unlock(&w->sink->lock);
        return -1;
    }
    eve_json_dumpb(rec, big, n, 10);
    big[n] = '\n';
    int rc = eve_sink_write(w->sink, big, n + 1, 1);
    free(big);
    return rc;
}

int eve_writer_write_text(struct eve_writer *w, const char *text, size_t len)
{
    const struct eve_sink *s = w->sink;
    const char *tail = s->tail != NULL ? s->tail : "}";
    size_t tl = s->tail != NULL ? s->tail_len : 1;
    /* Not a record, a name that is not UTF-8, or "{}" with a name: eve_writer_write takes those. */
    if (len < 2 || text[len - 1] != '}' || tl == 0 || (len == 2 && tl > 1))
        return -1;
    size_t total = len - 1 + tl + 1; /* text less '}', the tail, '\n' */
    if (total > EVE_WRITER_BUF - w->len)
        eve_writer_flush(w);
    if (total > EVE_WRITER_BUF - w->len)
        return -1; /* larger than the buffer: eve_writer_write takes those */
    memcpy(w->buf + w->len, text, len - 1);
    memcpy(w->buf + w->len + len - 1, tail, tl);
    w->len += total;
    w->buf[w->len - 1] = '\n';
    w->nrec++;
    return 0;
}

void eve_writer_free(struct eve_writer *w)
{
    if (w == NULL)
        return;
    eve_writer_flush(w);
    free(w->buf);
    free(w);
}

void eve_format_addr(int ip_ver, const struct vg_addr *a, char *out, size_t len)
{
    /* By hand: snprintf took ~1,500 instructions an address, and every record has two. */
    static const char hex[] = "0123456789abcdef";
    const uint8_t *b = a->u8;
    char t[40];
    size_t n = 0;
    if (ip_ver == 4) {
        for (int i = 0; i < 4; i++) {
            unsigned v = b[i];
            if (v >= 100)
                t[n++] = (char)('0' + v / 100);
            if (v >= 10)
                t[n++] = (char)('0' + v / 10 % 10);
            t[n++] = (char)('0' + v % 10);
            t[n++] = '.';
        }
    } else {
        for (int i = 0; i < 16; i++) {
            t[n++] = hex[b[i] >> 4];
            t[n++] = hex[b[i] & 15];
            if (i % 2 == 1)
                t[n++] = ':';
        }
    }
    n--; /* the last separator */
    if (len == 0)
        return;
    if (n >= len)
        n = len - 1;
    memcpy(out, t, n);
    out[n] = '\0';
}

const char *eve_proto_name(uint8_t proto, char *buf, size_t len)
{
    switch (proto) {
    case 1:
        return "ICMP";
    case 2:
        return "IGMP";
    case 6:
        return "TCP";
    case 17:
        return "UDP";
    case 41:
        return "IPv6";
    case 47:
        return "GRE";
    case 50:
        return "ESP";
    case 51:
        return "AH";
    case 58:
        return "IPv6-ICMP";
    case 89:
        return "OSPF";
    case 103:
        return "PIM";
    case 112:
        return "VRRP";
    case 132:
        return "SCTP";
    default:
        snprintf(buf, len, "%03u", proto);
        return buf;
    }
}

void eve_set_time(json_t *obj, const char *key, vg_time_t t)
{
    char ts[48];
    vg_format_time(t, ts, sizeof(ts));
    json_object_set_new_nocheck(obj, key, json_stringn_nocheck(ts, strlen(ts))); /* ASCII */
}

void eve_set_uint(json_t *obj, const char *key, uint64_t v)
{
    json_object_set_new_nocheck(obj, key,
                                json_integer((json_int_t)(v > INT64_MAX ? INT64_MAX : v)));
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is not valid. */
static size_t utf8_seq_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t len;
    uint32_t min;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    uint32_t cp = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Writes s as printable ASCII and valid UTF-8, other bytes as "\xNN", into out (room for 4 * len
 * bytes). Returns the length written. */
static size_t bytes_utf8(const uint8_t *s, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        uint8_t c = s[i];
        if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
            i++;
            continue;
        }
        size_t n = c >= 0x80 ? utf8_seq_len(s + i, len - i) : 0;
        if (n > 0) {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
            continue;
        }
        out[o++] = '\\';
        out[o++] = 'x';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 15];
        i++;
    }
    return o;
}

void eve_set_bytes(json_t *obj, const char *key, const uint8_t *s, size_t len)
{
    if (len == 0) {
        json_object_set_new_nocheck(obj, key, json_string(""));
        return;
    }
    /* Worst case: every byte becomes "\xNN". */
    char stackbuf[1024];
    size_t cap = len * 4 + 1;
    char *out = cap <= sizeof(stackbuf) ? stackbuf : malloc(cap);
    if (out == NULL)
        return;
    size_t o = bytes_utf8(s, len, out);
    json_object_set_new_nocheck(obj, key, json_stringn(out, o));
    if (out != stackbuf)
        free(out);
}

/* Adds the tuple and the fields every record shares, in Suricata's order. */
static void add_common(const struct eve_ctx *ctx, json_t *o, const char *event_type, int ip_ver,
                       const struct vg_addr *src, const struct vg_addr *dst, uint8_t proto,
                       int has_ports, uint16_t sp, uint16_t dp, const uint16_t *vlan,
                       unsigned vlan_cnt)
{
    char a[64], pb[8];
    if (ctx->in_iface)
        json_object_set_new_nocheck(o, "in_iface", json_string(ctx->in_iface));
    json_object_set_new_nocheck(o, "event_type", json_string(event_type));
    if (vlan_cnt > 0) {
        json_t *v = json_array();
        for (unsigned i = 0; i < vlan_cnt; i++)
            json_array_append_new(v, json_integer(vlan[i]));
        json_object_set_new_nocheck(o, "vlan", v);
    }
    if (ip_ver == 0)
        return;
    eve_format_addr(ip_ver, src, a, sizeof(a));
    json_object_set_new_nocheck(o, "src_ip", json_stringn_nocheck(a, strlen(a)));
    if (has_ports)
        json_object_set_new_nocheck(o, "src_port", json_integer(sp));
    eve_format_addr(ip_ver, dst, a, sizeof(a));
    json_object_set_new_nocheck(o, "dest_ip", json_stringn_nocheck(a, strlen(a)));
    if (has_ports)
        json_object_set_new_nocheck(o, "dest_port", json_integer(dp));
    json_object_set_new_nocheck(o, "proto", json_string(eve_proto_name(proto, pb, sizeof(pb))));
}

/* Writes flow f's Community ID into cid. 1, or 0 if there is none (off, or no flow). */
static int flow_community_id(const struct eve_ctx *ctx, const struct flow *f,
                             char cid[COMMUNITY_ID_LEN])
{
    if (!ctx->community_id || f == NULL)
        return 0;
    int has_ports = f->proto == 6 || f->proto == 17 || f->proto == 132;
    uint16_t sp = f->sp, dp = f->dp;
    if (f->proto == 1 || f->proto == 58) {
        /* The flow's first packet gives the type and code. */
        sp = f->icmp_type[FLOW_DIR_TOSERVER];
        dp = f->icmp_code[FLOW_DIR_TOSERVER];
        if (f->pkts[FLOW_DIR_TOSERVER] == 0) {
            sp = f->icmp_type[FLOW_DIR_TOCLIENT];
            dp = f->icmp_code[FLOW_DIR_TOCLIENT];
        }
    }
    return community_id_v1(ctx->community_id_seed, f->ip_ver, f->src.u8, f->dst.u8, f->proto, sp,
                           dp, has_ports, cid, COMMUNITY_ID_LEN) == 0;
}

static void add_community_id(const struct eve_ctx *ctx, json_t *o, const struct flow *f)
{
    char cid[COMMUNITY_ID_LEN];
    if (flow_community_id(ctx, f, cid))
        json_object_set_new_nocheck(o, "community_id", json_stringn_nocheck(cid, strlen(cid)));
}

/* The capture file a record names (pcap_filename), or NULL (live, or unknown). */
static const char *pcap_name(const struct eve_ctx *ctx, unsigned src_idx)
{
    return ctx->src_names != NULL && src_idx < ctx->nsrc && ctx->in_iface == NULL
               ? ctx->src_names[src_idx]
               : NULL;
}

static void add_pcap_filename(const struct eve_ctx *ctx, json_t *o, unsigned src_idx)
{
    const char *name = pcap_name(ctx, src_idx);
    if (name != NULL) /* a path need not be UTF-8 */
        eve_set_bytes(o, "pcap_filename", (const uint8_t *)name, strlen(name));
}

/* Every event of a flow whose application protocol is known carries it. */
static void add_app_proto(json_t *o, const struct flow *f)
{
    const char *ap = f != NULL ? app_proto_name(f->app_proto) : NULL;
    if (ap != NULL)
        json_object_set_new_nocheck(o, "app_proto", json_string(ap));
}

json_t *eve_record_packet(const struct eve_ctx *ctx, const char *event_type,
                          const struct vg_packet *p, const struct flow *f)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    eve_set_time(o, "timestamp", p->ts);
    if (f != NULL)
        eve_set_uint(o, "flow_id", f->flow_id);
    if (p->pcap_cnt)
        eve_set_uint(o, "pcap_cnt", p->pcap_cnt);
    add_common(ctx, o, event_type, p->ip_ver, &p->src, &p->dst, p->proto,
               (p->flags & VG_PKT_HAS_PORTS) != 0, p->sp, p->dp, p->vlan_id, p->vlan_cnt);
    if (p->ip_ver != 0 && (p->proto == 1 || p->proto == 58) && !(p->flags & VG_PKT_FRAGMENT)) {
        json_object_set_new_nocheck(o, "icmp_type", json_integer(p->icmp_type));
        json_object_set_new_nocheck(o, "icmp_code", json_integer(p->icmp_code));
    }
    const char *src = p->flags & VG_PKT_REASSEMBLED ? "defrag"
                      : p->flags & VG_PKT_TUNNEL    ? "tunnel"
                                                    : "wire/pcap";
    json_object_set_new_nocheck(o, "pkt_src", json_string(src));
    add_community_id(ctx, o, f);
    add_app_proto(o, f);
    add_pcap_filename(ctx, o, p->src_idx);
    return o;
}

json_t *eve_record_flow(const struct eve_ctx *ctx, const char *event_type, vg_time_t ts,
                        const struct flow *f)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    eve_set_time(o, "timestamp", ts);
    eve_set_uint(o, "flow_id", f->flow_id);
    int has_ports = f->proto == 6 || f->proto == 17 || f->proto == 132;
    add_common(ctx, o, event_type, f->ip_ver, &f->src, &f->dst, f->proto, has_ports, f->sp, f->dp,
               f->vlan_id, f->vlan_cnt);
    add_community_id(ctx, o, f);
    add_app_proto(o, f);
    add_pcap_filename(ctx, o, f->src_idx);
    return o;
}

/* The pcap_filename member. A capture's records all carry the same name, so its JSON text is
 * kept per thread (names up to 256 bytes) instead of converted and escaped for every record. */
static void text_pcap_filename(struct eve_text *t, const char *name)
{
    static _Thread_local struct {
        char src[256];
        size_t len;
        char text[1024];
        size_t tlen; /* 0: nothing kept */
    } last;
    size_t len = strlen(name);
    if (last.tlen > 0 && last.len == len && memcmp(last.src, name, len) == 0) {
        eve_text_raw(t, "pcap_filename", last.text, last.tlen);
        return;
    }
    char stackbuf[1024];
    char *out = len * 4 <= sizeof(stackbuf) ? stackbuf : malloc(len * 4 + 1);
    if (out == NULL) {
        t->bad = 1;
        return;
    }
    size_t n = bytes_utf8((const uint8_t *)name, len, out); /* a path need not be UTF-8 */
    last.tlen = 0;
    if (len <= sizeof(last.src)) {
        size_t tl = eve_json_string(out, n, last.text, sizeof(last.text));
        if (tl > 0 && tl <= sizeof(last.text)) {
            memcpy(last.src, name, len);
            last.len = len;
            last.tlen = tl;
        }
    }
    if (last.tlen > 0)
        eve_text_raw(t, "pcap_filename", last.text, last.tlen);
    else
        eve_text_string(t, "pcap_filename", out, n);
    if (out != stackbuf)
        free(out);
}

void eve_text_flow_common(const struct eve_ctx *ctx, struct eve_text *t, const char *event_type,
                          vg_time_t ts, const struct flow *f)
{
    /* Member for member what eve_record_flow adds (tests/test_eve.c compares the two). */
    char a[64], pb[8];
    vg_format_time(ts, a, sizeof(a));
    eve_text_plain(t, "timestamp", a, strlen(a));
    eve_text_int(t, "flow_id", (json_int_t)(f->flow_id > INT64_MAX ? INT64_MAX : f->flow_id));
    if (ctx->in_iface)
        eve_text_string(t, "in_iface", ctx->in_iface, strlen(ctx->in_iface));
    eve_text_plain(t, "event_type", event_type, strlen(event_type));
    if (f->vlan_cnt > 0) {
        eve_text_array(t, "vlan");
        for (unsigned i = 0; i < f->vlan_cnt; i++)
            eve_text_int(t, NULL, f->vlan_id[i]);
        eve_text_end(t);
    }
    if (f->ip_ver != 0) {
        int has_ports = f->proto == 6 || f->proto == 17 || f->proto == 132;
        eve_format_addr(f->ip_ver, &f->src, a, sizeof(a));
        eve_text_plain(t, "src_ip", a, strlen(a));
        if (has_ports)
            eve_text_int(t, "src_port", f->sp);
        eve_format_addr(f->ip_ver, &f->dst, a, sizeof(a));
        eve_text_plain(t, "dest_ip", a, strlen(a));
        if (has_ports)
            eve_text_int(t, "dest_port", f->dp);
        const char *pn = eve_proto_name(f->proto, pb, sizeof(pb));
        eve_text_plain(t, "proto", pn, strlen(pn));
    }
    char cid[COMMUNITY_ID_LEN];
    if (flow_community_id(ctx, f, cid))
        eve_text_plain(t, "community_id", cid, strlen(cid));
    const char *ap = app_proto_name(f->app_proto);
    if (ap != NULL)
        eve_text_plain(t, "app_proto", ap, strlen(ap));
    const char *name = pcap_name(ctx, f->src_idx);
    if (name != NULL)
        text_pcap_filename(t, name);
}
