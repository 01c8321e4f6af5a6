/* pktgen.h: builds test packets layer by layer and writes them to pcap/pcapng files. */
#ifndef VIGIL_PKTGEN_H
#define VIGIL_PKTGEN_H

#include <stddef.h>
#include <stdint.h>

#define PG_MAX 70000
#define PG_MAX_LAYERS 16

enum pg_layer_type { PG_L_IPV4, PG_L_IPV6, PG_L_TCP, PG_L_UDP, PG_L_ICMP4, PG_L_ICMP6, PG_L_OTHER };

/* A packet under construction. Layers are appended in order; pg_finish fixes lengths/sums. */
struct pg {
    uint8_t b[PG_MAX];
    size_t len;
    struct {
        enum pg_layer_type type;
        size_t off;
    } layer[PG_MAX_LAYERS];
    unsigned nlayers;
};

/* Starts an empty packet. */
void pg_init(struct pg *g);
/* Appends raw bytes. */
void pg_bytes(struct pg *g, const void *p, size_t n);
void pg_u8(struct pg *g, uint8_t v);
void pg_u16(struct pg *g, uint16_t v);
void pg_u32(struct pg *g, uint32_t v);

/* Link layers. */
void pg_eth(struct pg *g, uint16_t ethertype);
void pg_vlan(struct pg *g, uint16_t vid, uint16_t ethertype);
void pg_mpls(struct pg *g, uint32_t label, int bottom);

/* Network layers; addresses as text. frag is the IPv4 flags+offset field (offset in bytes/8). */
void pg_ipv4(struct pg *g, const char *src, const char *dst, uint8_t proto, uint16_t id,
             uint16_t frag);
/* As pg_ipv4 with options (len a multiple of 4, at most 40). */
void pg_ipv4_opts(struct pg *g, const char *src, const char *dst, uint8_t proto, uint16_t id,
                  const uint8_t *opts, size_t len);
void pg_ipv6(struct pg *g, const char *src, const char *dst, uint8_t next_header);
/* An IPv6 extension header: hop-by-hop (0), routing (43), dest opts (60), 8 bytes. */
void pg_ipv6_ext(struct pg *g, uint8_t type, uint8_t next_header);
/* An IPv6 fragment header; offset in bytes (a multiple of 8). */
void pg_ipv6_frag(struct pg *g, uint8_t next_header, uint16_t offset, int more, uint32_t id);

/* Transport layers. */
void pg_tcp(struct pg *g, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack, uint8_t flags,
            uint16_t win);
/* As pg_tcp with options (len a multiple of 4, at most 40). */
void pg_tcp_opts(struct pg *g, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack,
                 uint8_t flags, const uint8_t *opts, size_t len);
void pg_udp(struct pg *g, uint16_t sp, uint16_t dp);
void pg_icmp4(struct pg *g, uint8_t type, uint8_t code, uint16_t id, uint16_t seq);
void pg_icmp6(struct pg *g, uint8_t type, uint8_t code, uint16_t id, uint16_t seq);

/* Tunnels. */
void pg_gre(struct pg *g, uint16_t proto);
void pg_vxlan(struct pg *g, uint32_t vni);

/* Fixes every length field and checksum, innermost layer first. */
void pg_finish(struct pg *g);

/* Pcap writers. */
struct pg_writer;
/* Opens path as a classic pcap (ng = 0) or pcapng (ng = 1) file of link type dlt. NULL on error. */
struct pg_writer *pg_open(const char *path, int dlt, int ng);
/* Writes one packet captured at ts_usec; caplen < len writes a truncated capture. */
void pg_write_cap(struct pg_writer *w, uint64_t ts_usec, const uint8_t *data, size_t caplen,
                  size_t len);
void pg_write(struct pg_writer *w, uint64_t ts_usec, const struct pg *g);
/* Pushes what was written to the file (for readers on a pipe). */
void pg_flush(struct pg_writer *w);
void pg_close(struct pg_writer *w);

/* A TCP session between two hosts, written as Ethernet (optionally VLAN-tagged) frames. */
struct pg_tcp_session {
    const char *cli, *srv; /* addresses; IPv6 if they contain ':' */
    uint16_t cport, sport;
    uint32_t cseq, sseq; /* next sequence numbers */
    uint16_t vlan;       /* 0 for none */
};

/* Three-way handshake: SYN, SYN/ACK, ACK (3 packets). */
void pg_session_open(struct pg_writer *w, struct pg_tcp_session *s, uint64_t *ts);
/* Data from the client (to_server) or server, acknowledged by the peer (2 packets). */
void pg_session_data(struct pg_writer *w, struct pg_tcp_session *s, int to_server,
                     const void *data, size_t len, uint64_t *ts);
/* Client FIN, server ACK, server FIN, client ACK (4 packets). */
void pg_session_close(struct pg_writer *w, struct pg_tcp_session *s, uint64_t *ts);

/* Builds one TCP segment of session s into g (to_server picks the direction). */
void pg_session_segment(struct pg *g, const struct pg_tcp_session *s, int to_server,
                        uint8_t flags, const void *data, size_t len);

/* An FTP session with one transfer, for pg_ftp_session. */
struct pg_ftp {
    const char *cli, *srv; /* addresses; IPv6 if they contain ':' */
    uint16_t cport;        /* the client's control port (the server's is 21) */
    int active;            /* PORT/EPRT: the server connects to the client */
    int extended;          /* EPSV/EPRT instead of PASV/PORT */
    uint16_t data_port;    /* the port announced for the data connection */
    const char *command;   /* "RETR", "STOR", "APPE"... */
    const char *name;      /* its argument */
    const void *data;      /* the file */
    size_t len;
    size_t lost_at, lost;  /* lost > 0: bytes [lost_at, lost_at + lost) are not captured */
    int reset;             /* the sender resets the data connection after the data (426) */
    int pipelined;         /* the client sends PASV and the command in one segment */
};

/*
 * Writes a whole FTP session: greeting, USER/PASS, TYPE I, PASV/EPSV or PORT/EPRT, the
 * command, 150, the data connection (1448-byte segments; FIN, or RST with f->reset), 226 (or
 * 426), QUIT. Control and data packets are interleaved as a real client and server do.
 */
void pg_ftp_session(struct pg_writer *w, const struct pg_ftp *f, uint64_t *ts);

#endif
