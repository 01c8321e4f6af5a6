/* app-tls-internal.h: the TLS parser's state, shared by app-tls*.c and eve-tls.c only. */
#ifndef VIGIL_APP_TLS_INTERNAL_H
#define VIGIL_APP_TLS_INTERNAL_H

#include <stdint.h>

#include "vigil/app-tls.h"
#include "vigil/common.h"

/* One direction's certificate chain. */
struct tls_chain {
    uint8_t *der[TLS_MAX_CHAIN];
    uint32_t len[TLS_MAX_CHAIN];
    unsigned n;
    int parsed; /* info is valid */
    struct tls_cert_info info;
};

/* One direction's record and handshake reassembly. */
struct tls_dir {
    uint8_t hdr[5];
    uint8_t hdr_len;
    uint8_t in_body;  /* inside a record's body */
    uint8_t rec_type; /* content type of the current record (SSLv2: 0x80) */
    uint8_t v2_ok;    /* SSLv2-format records are accepted in this direction */
    uint8_t hdr_need; /* header length: 5, or 2 for SSLv2 */
    uint8_t hs_dead;  /* handshake parsing of this direction gave up (a gap inside it) */
    uint32_t rec_left, rec_len;
    uint32_t rec_count; /* records started in this direction */

    /* Handshake message reassembly. */
    uint8_t hs_hdr[4];
    uint8_t hs_hdr_len;
    uint8_t hs_skip; /* the current message is not kept (too long for its type, or lost) */
    uint32_t hs_len, hs_got, hs_keep, hs_limit, hs_cap;
    uint8_t *hs_buf;

    uint8_t encrypted; /* past ChangeCipherSpec, or the TLS 1.3 server flight */
    uint8_t failed;    /* not TLS */
    uint8_t desync;    /* a gap lost the record boundaries */
    uint8_t ccs;       /* ChangeCipherSpec seen */
    uint8_t app_data;  /* an application data record seen */

    struct tls_chain chain;
};

struct tls_state {
    struct tls_dir d[2];
    struct tls_hello *ch, *sh;
    char *ja3_str, *ja3s_str;
    char ja3_hash[33], ja3s_hash[33];
    char ja4[40];
    uint8_t ver_raw[2];
    uint8_t hello_done_flags; /* 1: client, 2: server */
    uint8_t hrr;              /* a HelloRetryRequest was seen */
    uint8_t server_hello_done;
    uint32_t events;
    struct tls_stats st;
};

static inline void tls_set_event(struct tls_state *s, enum tls_event ev)
{
    s->events |= 1u << ev;
}

/* app-tls-hello.c: parses a ClientHello / ServerHello body into h. 0, or -1 if malformed. */
int tls_hello_parse_client(struct tls_state *s, struct tls_hello *h, const uint8_t *p, uint32_t n);
int tls_hello_parse_server(struct tls_state *s, struct tls_hello *h, const uint8_t *p, uint32_t n);
/* Parses an SSLv2 CLIENT-HELLO body (after the msg type byte). 0, or -1 if malformed. */
int tls_hello_parse_v2(struct tls_hello *h, const uint8_t *p, uint32_t n);
/* Frees what h holds, and h. */
void tls_hello_free(struct tls_hello *h);

/* 1 if v is a GREASE value (RFC 8701). */
static inline int tls_is_grease(uint16_t v)
{
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* app-tls-fp.c: fills s->ja3_str/ja3_hash and s->ja4 from s->ch. 0, or -1 if out of memory. */
int tls_fp_client(struct tls_state *s);
/* Fills s->ja3s_str/ja3s_hash from s->sh. 0, or -1 if out of memory. */
int tls_fp_server(struct tls_state *s);
/* MD5 of p as 32 lowercase hex digits into out[33]. 0, or -1. */
int tls_fp_md5_hex(const void *p, size_t n, char out[33]);

/* app-tls-cert.c: parses a Certificate message body of direction dir. */
void tls_cert_parse_msg(struct tls_state *s, int dir, const uint8_t *p, uint32_t n, int truncated);
/* Frees a chain's certificates and info. */
void tls_chain_free(struct tls_chain *c);
/* Fills info from one DER certificate. 0, or -1 if it is not a valid certificate. */
int tls_cert_info_parse(struct tls_cert_info *info, const uint8_t *der, uint32_t len);
void tls_cert_info_free(struct tls_cert_info *info);

#endif
