/* pktgen.c: the packet builder and pcap/pcapng writers behind the project's test captures. */
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktgen.h"

struct pg_writer {
    int ng;
    FILE *fp;           /* pcapng */
    pcap_t *dead;       /* pcap */
    pcap_dumper_t *dump;
};

void pg_init(struct pg *g)
{
    g->len = 0;
    g->nlayers = 0;
}

void pg_bytes(struct pg *g, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (g->len + n > PG_MAX) {
        fprintf(stderr, "pktgen: packet too large\n");
        abort();
    }
    memcpy(g->b + g->len, p, n);
    g->len += n;
}

void pg_u8(struct pg *g, uint8_t v) { pg_bytes(g, &v, 1); }
void pg_u16(struct pg *g, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    pg_bytes(g, b, 2);
}
void pg_u32(struct pg *g, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    pg_bytes(g, b, 4);
}

static void push_layer(struct pg *g, enum pg_layer_type t)
{
    if (g->nlayers < PG_MAX_LAYERS) {
        g->layer[g->nlayers].type = t;
        g->layer[g->nlayers].off = g->len;
        g->nlayers++;
    }
}

void pg_eth(struct pg *g, uint16_t ethertype)
{
    static const uint8_t dst[6] = {0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c};
    static const uint8_t src[6] = {0x00, 0x1b, 0x21, 0x01, 0x02, 0x03};
    pg_bytes(g, dst, 6);
    pg_bytes(g, src, 6);
    pg_u16(g, ethertype);
}

void pg_vlan(struct pg *g, uint16_t vid, uint16_t ethertype)
{
    pg_u16(g, vid & 0x0fff);
    pg_u16(g, ethertype);
}

void pg_mpls(struct pg *g, uint32_t label, int bottom)
{
    pg_u32(g, (label << 12) | ((bottom ? 1u : 0u) << 8) | 64u);
}

static void addr4(const char *s, uint8_t out[4])
{
    if (inet_pton(AF_INET, s, out) != 1) {
        fprintf(stderr, "pktgen: bad IPv4 address %s\n", s);
        abort();
    }
}

static void addr6(const char *s, uint8_t out[16])
{
    if (inet_pton(AF_INET6, s, out) != 1) {
        fprintf(stderr, "pktgen: bad IPv6 address %s\n", s);
        abort();
    }
}

void pg_ipv4_opts(struct pg *g, const char *src, const char *dst, uint8_t proto, uint16_t id,
                  const uint8_t *opts, size_t len)
{
    uint8_t a[4];
    push_layer(g, PG_L_IPV4);
    pg_u8(g, (uint8_t)(0x40 | ((20 + len) / 4)));
    pg_u8(g, 0);
    pg_u16(g, 0); /* total length: pg_finish */
    pg_u16(g, id);
    pg_u16(g, 0);
    pg_u8(g, 64);
    pg_u8(g, proto);
    pg_u16(g, 0); /* checksum: pg_finish */
    addr4(src, a);
    pg_bytes(g, a, 4);
    addr4(dst, a);
    pg_bytes(g, a, 4);
    if (len)
        pg_bytes(g, opts, len);
}

void pg_ipv4(struct pg *g, const char *src, const char *dst, uint8_t proto, uint16_t id,
             uint16_t frag)
{
    pg_ipv4_opts(g, src, dst, proto, id, NULL, 0);
    size_t off = g->layer[g->nlayers - 1].off;
    g->b[off + 6] = (uint8_t)(frag >> 8);
    g->b[off + 7] = (uint8_t)frag;
}

void pg_ipv6(struct pg *g, const char *src, const char *dst, uint8_t next_header)
{
    uint8_t a[16];
    push_layer(g, PG_L_IPV6);
    pg_u32(g, 0x60000000u);
    pg_u16(g, 0); /* payload length: pg_finish */
    pg_u8(g, next_header);
    pg_u8(g, 64);
    addr6(src, a);
    pg_bytes(g, a, 16);
    addr6(dst, a);
    pg_bytes(g, a, 16);
}

void pg_ipv6_ext(struct pg *g, uint8_t type, uint8_t next_header)
{
    pg_u8(g, next_header);
    pg_u8(g, 0); /* 8 bytes */
    if (type == 43) {
        pg_u8(g, 2); /* routing type 2 (not the deprecated type 0) */
        pg_u8(g, 0);
        pg_u32(g, 0);
    } else {
        static const uint8_t padn[6] = {1, 4, 0, 0, 0, 0};
        pg_bytes(g, padn, 6);
    }
}

void pg_ipv6_frag(struct pg *g, uint8_t next_header, uint16_t offset, int more, uint32_t id)
{
    pg_u8(g, next_header);
    pg_u8(g, 0);
    pg_u16(g, (uint16_t)((offset & 0xfff8) | (more ? 1 : 0)));
    pg_u32(g, id);
}

void pg_tcp_opts(struct pg *g, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack,
                 uint8_t flags, const uint8_t *opts, size_t len)
{
    push_layer(g, PG_L_TCP);
    pg_u16(g, sp);
    pg_u16(g, dp);
    pg_u32(g, seq);
    pg_u32(g, ack);
    pg_u8(g, (uint8_t)(((20 + len) / 4) << 4));
    pg_u8(g, flags);
    pg_u16(g, 65535);
    pg_u16(g, 0); /* checksum: pg_finish */
    pg_u16(g, 0);
    if (len)
        pg_bytes(g, opts, len);
}

void pg_tcp(struct pg *g, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack, uint8_t flags,
            uint16_t win)
{
    pg_tcp_opts(g, sp, dp, seq, ack, flags, NULL, 0);
    size_t off = g->layer[g->nlayers - 1].off;
    g->b[off + 14] = (uint8_t)(win >> 8);
    g->b[off + 15] = (uint8_t)win;
}

void pg_udp(struct pg *g, uint16_t sp, uint16_t dp)
{
    push_layer(g, PG_L_UDP);
    pg_u16(g, sp);
    pg_u16(g, dp);
    pg_u16(g, 0); /* length: pg_finish */
    pg_u16(g, 0); /* checksum: pg_finish */
}

void pg_icmp4(struct pg *g, uint8_t type, uint8_t code, uint16_t id, uint16_t seq)
{
    push_layer(g, PG_L_ICMP4);
    pg_u8(g, type);
    pg_u8(g, code);
    pg_u16(g, 0);
    pg_u16(g, id);
    pg_u16(g, seq);
}

void pg_icmp6(struct pg *g, uint8_t type, uint8_t code, uint16_t id, uint16_t seq)
{
    push_layer(g, PG_L_ICMP6);
    pg_u8(g, type);
    pg_u8(g, code);
    pg_u16(g, 0);
    pg_u16(g, id);
    pg_u16(g, seq);
}

void pg_gre(struct pg *g, uint16_t proto)
{
    push_layer(g, PG_L_OTHER);
    pg_u16(g, 0);
    pg_u16(g, proto);
}

void pg_vxlan(struct pg *g, uint32_t vni)
{
    push_layer(g, PG_L_OTHER);
    pg_u32(g, 0x08000000u);
    pg_u32(g, vni << 8);
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)(p[n - 1] << 8);
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* The pseudo-header sum of the IP layer enclosing layer i, for L4 payload length len. */
static uint32_t pseudo_sum(const struct pg *g, unsigned i, uint8_t proto, size_t len)
{
    for (int j = (int)i - 1; j >= 0; j--) {
        size_t o = g->layer[j].off;
        if (g->layer[j].type == PG_L_IPV4) {
            uint32_t s = sum16(g->b + o + 12, 8, 0);
            return s + proto + (uint32_t)len;
        }
        if (g->layer[j].type == PG_L_IPV6) {
            uint32_t s = sum16(g->b + o + 8, 32, 0);
            return s + proto + (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff);
        }
    }
    return 0;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void pg_finish(struct pg *g)
{
    for (int i = (int)g->nlayers - 1; i >= 0; i--) {
        size_t o = g->layer[i].off;
        size_t len = g->len - o;
        uint8_t *h = g->b + o;
        switch (g->layer[i].type) {
        case PG_L_IPV4:
            put16(h + 2, (uint16_t)len);
            put16(h + 10, 0);
            put16(h + 10, fold(sum16(h, (size_t)(h[0] & 15) * 4, 0)));
            break;
        case PG_L_IPV6:
            put16(h + 4, (uint16_t)(len - 40));
            break;
        case PG_L_UDP:
            put16(h + 4, (uint16_t)len);
            put16(h + 6, 0);
            put16(h + 6, fold(sum16(h, len, pseudo_sum(g, (unsigned)i, 17, len))));
            break;
        case PG_L_TCP:
            put16(h + 16, 0);
            put16(h + 16, fold(sum16(h, len, pseudo_sum(g, (unsigned)i, 6, len))));
            break;
        case PG_L_ICMP4:
            put16(h + 2, 0);
            put16(h + 2, fold(sum16(h, len, 0)));
            break;
        case PG_L_ICMP6:
            put16(h + 2, 0);
            put16(h + 2, fold(sum16(h, len, pseudo_sum(g, (unsigned)i, 58, len))));
            break;
        case PG_L_OTHER:
            break;
        }
    }
}

static void ng_block(FILE *fp, uint32_t type, const void *body, uint32_t len)
{
    uint32_t pad = (4 - (len & 3)) & 3;
    uint32_t total = 12 + len + pad;
    static const uint8_t zeros[4] = {0};
    fwrite(&type, 4, 1, fp);
    fwrite(&total, 4, 1, fp);
    fwrite(body, 1, len, fp);
    fwrite(zeros, 1, pad, fp);
    fwrite(&total, 4, 1, fp);
}

struct pg_writer *pg_open(const char *path, int dlt, int ng)
{
    struct pg_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->ng = ng;
    if (ng) {
        w->fp = fopen(path, "wb");
        if (w->fp == NULL) {
            free(w);
            return NULL;
        }
        /* Section header (little-endian), then one interface of link type dlt. */
        uint8_t shb[16];
        uint32_t magic = 0x1a2b3c4d;
        uint16_t major = 1, minor = 0;
        int64_t seclen = -1;
        memcpy(shb, &magic, 4);
        memcpy(shb + 4, &major, 2);
        memcpy(shb + 6, &minor, 2);
        memcpy(shb + 8, &seclen, 8);
        ng_block(w->fp, 0x0a0d0d0a, shb, sizeof(shb));
        uint8_t idb[8];
        /* Files carry LINKTYPE_* values; they equal the DLT_* ones except raw IP. */
        uint16_t lt = dlt == DLT_RAW ? 101 : (uint16_t)dlt;
        uint16_t reserved = 0;
        uint32_t snap = 262144;
        memcpy(idb, &lt, 2);
        memcpy(idb + 2, &reserved, 2);
        memcpy(idb + 4, &snap, 4);
        ng_block(w->fp, 0x00000001, idb, sizeof(idb));
        return w;
    }
    w->dead = pcap_open_dead(dlt, 262144);
    if (w->dead == NULL || (w->dump = pcap_dump_open(w->dead, path)) == NULL) {
        if (w->dead)
            pcap_close(w->dead);
        free(w);
        return NULL;
    }
    return w;
}

void pg_write_cap(struct pg_writer *w, uint64_t ts_usec, const uint8_t *data, size_t caplen,
                  size_t len)
{
    if (w->ng) {
        /* Enhanced packet block: interface 0, microsecond timestamps (the default). */
        uint8_t hdr[20];
        uint32_t iface = 0, hi = (uint32_t)(ts_usec >> 32), lo = (uint32_t)ts_usec;
        uint32_t cl = (uint32_t)caplen, ol = (uint32_t)len;
        memcpy(hdr, &iface, 4);
        memcpy(hdr + 4, &hi, 4);
        memcpy(hdr + 8, &lo, 4);
        memcpy(hdr + 12, &cl, 4);
        memcpy(hdr + 16, &ol, 4);
        uint8_t *body = malloc(20 + caplen);
        if (body == NULL)
            abort();
        memcpy(body, hdr, 20);
        memcpy(body + 20, data, caplen);
        ng_block(w->fp, 0x00000006, body, (uint32_t)(20 + caplen));
        free(body);
        return;
    }
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)(ts_usec / 1000000);
    h.ts.tv_usec = (suseconds_t)(ts_usec % 1000000);
    h.caplen = (uint32_t)caplen;
    h.len = (uint32_t)len;
    pcap_dump((u_char *)w->dump, &h, data);
}

void pg_write(struct pg_writer *w, uint64_t ts_usec, const struct pg *g)
{
    pg_write_cap(w, ts_usec, g->b, g->len, g->len);
}

void pg_flush(struct pg_writer *w)
{
    if (w->ng)
        fflush(w->fp);
    else
        pcap_dump_flush(w->dump);
}

void pg_close(struct pg_writer *w)
{
    if (w == NULL)
        return;
    if (w->ng)
        fclose(w->fp);
    else {
        pcap_dump_close(w->dump);
        pcap_close(w->dead);
    }
    free(w);
}

void pg_session_segment(struct pg *g, const struct pg_tcp_session *s, int to_server,
                        uint8_t flags, const void *data, size_t len)
{
    int v6 = strchr(s->cli, ':') != NULL;
    const char *src = to_server ? s->cli : s->srv;
    const char *dst = to_server ? s->srv : s->cli;
    pg_init(g);
    if (s->vlan) {
        pg_eth(g, 0x8100);
        pg_vlan(g, s->vlan, v6 ? 0x86dd : 0x0800);
    } else {
        pg_eth(g, v6 ? 0x86dd : 0x0800);
    }
    if (v6)
        pg_ipv6(g, src, dst, 6);
    else
        pg_ipv4(g, src, dst, 6, (uint16_t)(s->cseq ^ s->sseq), 0x4000);
    uint32_t seq = to_server ? s->cseq : s->sseq;
    uint32_t ack = to_server ? s->sseq : s->cseq;
    if ((flags & 0x02) && !(flags & 0x10))
        ack = 0;
    pg_tcp(g, to_server ? s->cport : s->sport, to_server ? s->sport : s->cport, seq, ack, flags,
           64240);
    if (len)
        pg_bytes(g, data, len);
    pg_finish(g);
}

static void emit(struct pg_writer *w, struct pg_tcp_session *s, int to_server, uint8_t flags,
                 const void *data, size_t len, uint64_t *ts)
{
    struct pg g;
    pg_session_segment(&g, s, to_server, flags, data, len);
    pg_write(w, *ts, &g);
    *ts += 1000;
    uint32_t adv = (uint32_t)len + ((flags & 0x03) ? 1u : 0u); /* SYN and FIN take a number */
    if (to_server)
        s->cseq += adv;
    else
        s->sseq += adv;
}

void pg_session_open(struct pg_writer *w, struct pg_tcp_session *s, uint64_t *ts)
{
    emit(w, s, 1, 0x02, NULL, 0, ts);        /* SYN */
    emit(w, s, 0, 0x12, NULL, 0, ts);        /* SYN/ACK */
    emit(w, s, 1, 0x10, NULL, 0, ts);        /* ACK */
}

void pg_session_data(struct pg_writer *w, struct pg_tcp_session *s, int to_server,
                     const void *data, size_t len, uint64_t *ts)
{
    emit(w, s, to_server, 0x18, data, len, ts); /* PSH/ACK with data */
    emit(w, s, !to_server, 0x10, NULL, 0, ts);  /* the peer's ACK */
}

void pg_session_close(struct pg_writer *w, struct pg_tcp_session *s, uint64_t *ts)
{
    emit(w, s, 1, 0x11, NULL, 0, ts); /* FIN/ACK */
    emit(w, s, 0, 0x10, NULL, 0, ts); /* ACK */
    emit(w, s, 0, 0x11, NULL, 0, ts); /* FIN/ACK */
    emit(w, s, 1, 0x10, NULL, 0, ts); /* ACK */
}

/* ---- FTP ---- */

static void ctl(struct pg_writer *w, struct pg_tcp_session *s, int to_server, const char *text,
                uint64_t *ts)
{
    pg_session_data(w, s, to_server, text, strlen(text), ts);
}

void pg_ftp_session(struct pg_writer *w, const struct pg_ftp *f, uint64_t *ts)
{
    int v6 = strchr(f->cli, ':') != NULL;
    struct pg_tcp_session c = {f->cli, f->srv, f->cport, 21, 0x10000, 0x20000, 0};
    pg_session_open(w, &c, ts);
    ctl(w, &c, 0, "220 Vigil test FTP server ready\r\n", ts);
    ctl(w, &c, 1, "USER anonymous\r\n", ts);
    ctl(w, &c, 0, "331 Please specify the password.\r\n", ts);
    ctl(w, &c, 1, "PASS guest@\r\n", ts);
    ctl(w, &c, 0, "230-Welcome.\r\n230 Login successful.\r\n", ts);
    ctl(w, &c, 1, "TYPE I\r\n", ts);
    ctl(w, &c, 0, "200 Switching to Binary mode.\r\n", ts);
    char line[512], cmd[512];
    snprintf(cmd, sizeof(cmd), "%s %s\r\n", f->command, f->name);
    unsigned p = f->data_port;
    if (!f->active) {
        const char *ask = f->extended ? "EPSV\r\n" : "PASV\r\n";
        if (f->extended) {
            snprintf(line, sizeof(line), "229 Entering Extended Passive Mode (|||%u|)\r\n", p);
        } else {
            char a[64];
            snprintf(a, sizeof(a), "%s", f->srv);
            for (char *q = a; *q; q++)
                if (*q == '.')
                    *q = ',';
            snprintf(line, sizeof(line), "227 Entering Passive Mode (%s,%u,%u).\r\n", a, p >> 8,
                     p & 255);
        }
        if (f->pipelined) {
            char both[1024];
            snprintf(both, sizeof(both), "%s%s", ask, cmd);
            ctl(w, &c, 1, both, ts);
            ctl(w, &c, 0, line, ts);
        } else {
            ctl(w, &c, 1, ask, ts);
            ctl(w, &c, 0, line, ts);
        }
    } else {
        if (f->extended || v6) {
            snprintf(line, sizeof(line), "EPRT |%d|%s|%u|\r\n", v6 ? 2 : 1, f->cli, p);
        } else {
            char a[64];
            snprintf(a, sizeof(a), "%s", f->cli);
            for (char *q = a; *q; q++)
                if (*q == '.')
                    *q = ',';
            snprintf(line, sizeof(line), "PORT %s,%u,%u\r\n", a, p >> 8, p & 255);
        }
        ctl(w, &c, 1, line, ts);
        ctl(w, &c, 0, "200 PORT command successful.\r\n", ts);
    }
    /* The data connection: the client connects in passive mode, the server in active mode. */
    struct pg_tcp_session d = f->active
                                  ? (struct pg_tcp_session){f->srv, f->cli, 20, (uint16_t)p,
                                                            0x30000, 0x40000, 0}
                                  : (struct pg_tcp_session){f->cli, f->srv, (uint16_t)(f->cport + 1),
                                                            (uint16_t)p, 0x30000, 0x40000, 0};
    if (!f->active)
        pg_session_open(w, &d, ts);
    if (!f->pipelined || f->active)
        ctl(w, &c, 1, cmd, ts);
    if (f->active)
        pg_session_open(w, &d, ts);
    snprintf(line, sizeof(line), "150 Opening BINARY mode data connection for %s.\r\n", f->name);
    ctl(w, &c, 0, line, ts);
    /* Who sends the file, in the data session's terms (to_server: from the connecting side). */
    int upload = strcmp(f->command, "RETR") != 0;
    int from_initiator = f->active ? !upload : upload;
    const uint8_t *b = f->data;
    size_t off = 0;
    while (off < f->len) {
        size_t k = f->len - off < 1448 ? f->len - off : 1448;
        if (f->lost > 0 && off < f->lost_at && off + k > f->lost_at)
            k = f->lost_at - off;
        if (f->lost > 0 && off == f->lost_at) {
            size_t skip = f->lost < f->len - off ? f->lost : f->len - off;
            if (from_initiator)
                d.cseq += (uint32_t)skip;
            else
                d.sseq += (uint32_t)skip;
            off += skip;
            continue;
        }
        pg_session_data(w, &d, from_initiator, b + off, k, ts);
        off += k;
    }
    if (f->reset) {
        struct pg g;
        pg_session_segment(&g, &d, from_initiator, 0x14, NULL, 0); /* RST/ACK */
        pg_write(w, *ts, &g);
        *ts += 1000;
        ctl(w, &c, 0, "426 Failure writing network stream.\r\n", ts);
    } else {
        pg_session_close(w, &d, ts);
        ctl(w, &c, 0, "226 Transfer complete.\r\n", ts);
    }
    ctl(w, &c, 1, "QUIT\r\n", ts);
    ctl(w, &c, 0, "221 Goodbye.\r\n", ts);
    pg_session_close(w, &c, ts);
}
