/* app-http-internal.h: what the HTTP parser's files (app-http*.c) share; not for other modules. */
#ifndef VIGIL_APP_HTTP_INTERNAL_H
#define VIGIL_APP_HTTP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "vigil/app-http.h"

/* A growable byte string. */
struct httpi_bytes {
    uint8_t *p;
    uint32_t len, cap;
};

/* A header field after merging repeats: points into its message's store. */
struct httpi_hdr {
    const uint8_t *name, *value;
    uint32_t name_len, value_len;
};

/* A stretch of bytes within a stable allocation (a message's line or store). */
struct httpi_span {
    const uint8_t *p;
    uint32_t len;
};

/* gzip/deflate decoding of one body: up to two layers, innermost last. */
#define HTTPI_MAX_LAYERS 2
#define HTTPI_PREFIX 64
struct httpi_decoder {
    z_stream zs[HTTPI_MAX_LAYERS];
    uint8_t inited[HTTPI_MAX_LAYERS], raw[HTTPI_MAX_LAYERS], done[HTTPI_MAX_LAYERS];
    uint8_t passthrough[HTTPI_MAX_LAYERS]; /* the layer could not decode: bytes pass as sent */
    uint8_t prefix[HTTPI_MAX_LAYERS][HTTPI_PREFIX]; /* first bytes fed, for the raw fallback */
    uint32_t prefix_len[HTTPI_MAX_LAYERS];
    uint64_t fed[HTTPI_MAX_LAYERS];
    unsigned nlayers;
    uint64_t in_total, out_total;
    int stopped; /* failed after some output, bomb or gap: no more output */
};

/* One message (request or response) of a transaction. */
struct httpi_msg {
    struct httpi_bytes head; /* start line and header lines as received, terminators kept */
    uint8_t *line;           /* copy of the start line without terminator (stable) */
    uint32_t line_len;
    uint32_t hdr_off;       /* where the header lines start in head */
    uint32_t hdr_complete;  /* head holds complete headers (or what a limit/gap left) */
    struct httpi_hdr *hdrs; /* merged fields, first occurrence order */
    unsigned nhdrs;
    uint8_t *store;                        /* names and values of hdrs */
    struct httpi_bytes norm, names, start; /* http.header, http.header_names, http.start */
    uint8_t built;                         /* which of norm/names/start were built (bits 0..2) */
    struct httpi_span proto;               /* protocol token of the start line */
    struct httpi_span filename;
    /* body */
    struct httpi_bytes body; /* decoded bytes kept for inspection, up to the limit */
    void **retired;          /* earlier body allocations, kept valid until release */
    unsigned nretired;
    uint32_t body_limit;
    uint8_t body_truncated, body_gap, body_ended, chunked;
    struct httpi_decoder *dec;
};

/* A transaction: the public part first. */
struct httpi_tx {
    struct http_tx pub;
    struct http_state *st;
    struct httpi_msg m[2];
    struct httpi_span method, uri_raw, stat_code, stat_msg;
    uint8_t *uri_norm; /* normalised path?query */
    uint32_t uri_norm_len;
    uint8_t *host; /* normalised host (lowercase, no port) */
    uint32_t host_len;
    struct httpi_span host_raw;
    int port;
    const uint8_t *uri_host; /* host from an absolute URI (into line), raw */
    uint32_t uri_host_len;
    int uri_port;
    uint8_t v09; /* HTTP/0.9 request: no headers, response body until close */
    uint8_t is_head, is_connect, seen_100;
};

/* Parser state of one direction. */
enum httpi_ps {
    PS_IDLE = 0,   /* between messages */
    PS_HEAD,       /* reading the start line and headers */
    PS_BODY_CL,    /* Content-Length body */
    PS_CHUNK_SIZE, /* chunk-size line */
    PS_CHUNK_DATA,
    PS_CHUNK_END, /* CRLF after chunk data */
    PS_TRAILER,
    PS_BODY_CLOSE, /* body until the connection closes */
    PS_RESYNC,     /* after a gap: looking for a start line */
    PS_EXTRA       /* after a response: bytes that start no status line, dropped */
};

struct httpi_dir {
    enum httpi_ps ps;
    struct httpi_tx *cur; /* transaction whose message is being parsed */
    uint64_t next_resp;   /* dir 1: id of the next transaction awaiting its response */
    uint32_t line_start;  /* in cur's head: start of the line being read */
    uint32_t nlines;      /* header lines of the current message / trailer */
    uint32_t trailer_bytes;
    uint64_t remain;         /* body or chunk bytes left */
    struct httpi_bytes lbuf; /* chunk-size, trailer and resync lines */
    uint8_t discard_line;    /* resync, extra: skipping the rest of a line */
    uint8_t dead, tunnel, ended;
    uint8_t resp_done;  /* dir 1: a response ended and no status line followed yet */
    uint8_t unmatched;  /* dir 1: cur was created for a response no request waited for */
    uint8_t ws_pending; /* dir 1: a whitespace-only header line: end of headers or folding? */
};

struct http_state {
    struct http_config cfg;
    struct httpi_dir d[2];
    struct httpi_tx **txs; /* live transactions, oldest first; ids are consecutive */
    unsigned ntxs, captxs;
    uint64_t next_id;
    uint64_t events;
    struct http_stats stats;
    http_file_fn file_cb;
    void *file_ctx;
};

#define HTTPI_EV(e) ((uint64_t)1 << (e))

/* app-http.c */
int httpi_bytes_append(struct httpi_bytes *b, const void *p, uint32_t n);
void httpi_bytes_free(struct httpi_bytes *b);
int httpi_casecmp(const uint8_t *a, uint32_t alen, const char *b);

/* app-http-hdr.c */
int httpi_parse_request_line(struct http_state *s, struct httpi_tx *tx);
int httpi_parse_response_line(struct http_state *s, struct httpi_tx *tx);
int httpi_build_headers(struct httpi_tx *tx, int dir);
const struct httpi_hdr *httpi_find(const struct httpi_msg *m, const char *name);
void httpi_request_headers_done(struct httpi_tx *tx);
void httpi_set_filename(struct httpi_tx *tx, int dir);
void httpi_msg_free(struct httpi_msg *m);

/* app-http-uri.c */
int httpi_parse_authority(const uint8_t *a, uint32_t len, struct httpi_span *host, int *port);
int httpi_set_uri(struct httpi_tx *tx);
uint8_t *httpi_host_norm(const uint8_t *h, uint32_t len, uint32_t *out_len);

/* app-http-body.c */
void httpi_body_begin(struct http_state *s, struct httpi_tx *tx, int dir);
void httpi_body_data(struct http_state *s, struct httpi_tx *tx, int dir, const uint8_t *p,
                     uint32_t n);
void httpi_body_gap(struct http_state *s, struct httpi_tx *tx, int dir);
void httpi_body_end(struct http_state *s, struct httpi_tx *tx, int dir);
void httpi_body_free(struct httpi_msg *m);

/* The transaction list (app-http-state.c). httpi_tx_new appends a transaction, or returns NULL
 * (counted) past max_txs or out of memory; httpi_tx_by_id finds a live one or NULL;
 * httpi_tx_free frees one that is no longer in the list. */
struct httpi_tx *httpi_tx_new(struct http_state *s);
struct httpi_tx *httpi_tx_by_id(struct http_state *s, uint64_t id);
void httpi_tx_free(struct httpi_tx *tx);

#endif
