/* app-http.h: HTTP/1.x parser for the application layer: transactions, sticky buffers, bodies. */
#ifndef VIGIL_APP_HTTP_H
#define VIGIL_APP_HTTP_H

#include <stdint.h>

/*
 * The parser is fed reassembled TCP stream data per direction (0: to server, requests; 1: to
 * client, responses) and knows nothing of flows or streams. Each request/response pair is a
 * transaction (tx), numbered 0, 1, 2... per flow; responses are matched to requests in order.
 * docs/app-http.md describes the normalisations and how they compare with Suricata's.
 */

/* Limits of one parser state. http_config_defaults gives Suricata's/libhtp's defaults. */
struct http_config {
    uint32_t request_body_limit;  /* request body bytes kept for inspection (100 KiB) */
    uint32_t response_body_limit; /* response body bytes kept for inspection (100 KiB) */
    uint32_t decompress_limit;    /* decoded bytes per body before it counts as a bomb (10 MiB) */
    uint32_t decompress_ratio;    /* decoded/encoded ratio that is a bomb once past 1 MiB (2048) */
    uint32_t max_header_bytes;    /* bytes of a message's line plus headers (64 KiB) */
    uint32_t max_line;            /* bytes of one line: request line, header, chunk size (18000) */
    uint32_t max_headers;         /* header fields per message (1024) */
    uint32_t max_txs;             /* live (unreleased) transactions per flow (512) */
    int decompress_requests;      /* also decode gzip/deflate request bodies (0: as libhtp) */
};

/* Fills c with the defaults above. */
void http_config_defaults(struct http_config *c);

/* How far one direction of a transaction got. */
enum http_progress {
    HTTP_PROG_NONE = 0, /* nothing yet */
    HTTP_PROG_LINE,     /* request or status line parsed */
    HTTP_PROG_HEADERS,  /* headers complete */
    HTTP_PROG_BODY,     /* body in progress */
    HTTP_PROG_COMPLETE  /* message complete (or ended by a gap, limit or end of stream) */
};

/* Anomalies, as bits of http_tx.events and http_state_events(); names as Suricata's. */
enum http_event {
    HTTP_EV_REQUEST_LINE_INVALID = 0,
    HTTP_EV_REQUEST_LINE_MISSING_PROTOCOL,
    HTTP_EV_REQUEST_LINE_LEADING_WHITESPACE,
    HTTP_EV_METHOD_DELIM_NON_COMPLIANT,
    HTTP_EV_URI_DELIM_NON_COMPLIANT,
    HTTP_EV_REQUEST_HEADER_INVALID,
    HTTP_EV_RESPONSE_HEADER_INVALID,
    HTTP_EV_REQUEST_FIELD_MISSING_COLON,
    HTTP_EV_RESPONSE_FIELD_MISSING_COLON,
    HTTP_EV_INVALID_REQUEST_FIELD_FOLDING,
    HTTP_EV_INVALID_RESPONSE_FIELD_FOLDING,
    HTTP_EV_REQUEST_FIELD_TOO_LONG,
    HTTP_EV_RESPONSE_FIELD_TOO_LONG,
    HTTP_EV_REQUEST_TOO_MANY_HEADERS,
    HTTP_EV_RESPONSE_TOO_MANY_HEADERS,
    HTTP_EV_REQUEST_HEADER_REPETITION,
    HTTP_EV_RESPONSE_HEADER_REPETITION,
    HTTP_EV_MISSING_HOST_HEADER,
    HTTP_EV_HOST_HEADER_AMBIGUOUS,
    HTTP_EV_INVALID_AUTHORITY_PORT,
    HTTP_EV_REQUEST_HEADER_HOST_INVALID,
    HTTP_EV_INVALID_CONTENT_LENGTH_FIELD_IN_REQUEST,
    HTTP_EV_INVALID_CONTENT_LENGTH_FIELD_IN_RESPONSE,
    HTTP_EV_DUPLICATE_CONTENT_LENGTH_FIELD_IN_REQUEST,
    HTTP_EV_DUPLICATE_CONTENT_LENGTH_FIELD_IN_RESPONSE,
    HTTP_EV_INVALID_TRANSFER_ENCODING_VALUE_IN_REQUEST,
    HTTP_EV_INVALID_TRANSFER_ENCODING_VALUE_IN_RESPONSE,
    HTTP_EV_INVALID_REQUEST_CHUNK_LEN,
    HTTP_EV_INVALID_RESPONSE_CHUNK_LEN,
    HTTP_EV_REQUEST_CHUNK_EXTENSION,
    HTTP_EV_RESPONSE_CHUNKED_OLD_PROTO,
    HTTP_EV_RESPONSE_INVALID_PROTOCOL,
    HTTP_EV_RESPONSE_INVALID_STATUS,
    HTTP_EV_RESPONSE_LINE_INVALID,
    HTTP_EV_100_CONTINUE_ALREADY_SEEN,
    HTTP_EV_UNABLE_TO_MATCH_RESPONSE_TO_REQUEST,
    HTTP_EV_REQUEST_BODY_UNEXPECTED,
    HTTP_EV_GZIP_DECOMPRESSION_FAILED,
    HTTP_EV_TOO_MANY_ENCODING_LAYERS,
    HTTP_EV_ABNORMAL_CE_HEADER,
    HTTP_EV_COMPRESSION_BOMB,
    HTTP_EV_BODY_TRUNCATED,        /* body ended by end of stream before its declared length */
    HTTP_EV_STREAM_GAP,            /* a hole in the stream hit this message (Vigil's own) */
    HTTP_EV_TOO_MANY_TRANSACTIONS, /* max_txs live transactions: parsing stopped */
    HTTP_EV_NOT_HTTP,              /* the direction does not carry HTTP (Vigil's own) */
    HTTP_EV_CONTENT_LENGTH_EXTRA_DATA_START,     /* junk before the Content-Length digits */
    HTTP_EV_CONTENT_LENGTH_EXTRA_DATA_END,       /* junk after them */
    HTTP_EV_RESPONSE_BODY_UNEXPECTED,            /* a 1xx/204/304 with a body, or bytes after one */
    HTTP_EV_SWITCHING_PROTO_WITH_CONTENT_LENGTH, /* 101 with a body: parsed as HTTP, no tunnel */
    HTTP_EV_RESPONSE_ABNORMAL_TRANSFER_ENCODING, /* "chunked" among other text */
    HTTP_EV__COUNT
};

/* The name of event e ("REQUEST_HEADER_INVALID"...), or NULL if out of range. */
const char *http_event_name(unsigned e);

/* Counters of one state; sum them per thread. */
struct http_stats {
    uint64_t requests, responses;  /* request / response messages started */
    uint64_t parse_errors;         /* directions that stopped being HTTP */
    uint64_t body_truncated;       /* bodies cut at the inspection limit */
    uint64_t bombs;                /* decompression bombs stopped */
    uint64_t decompress_errors;    /* bodies whose decoding failed */
    uint64_t gaps, gaps_recovered; /* stream holes seen / after which parsing resumed */
    uint64_t limit_hits;           /* header flood, line or transaction limits reached */
    uint64_t tunnel_bytes;         /* bytes ignored after CONNECT or 101 Switching Protocols */
};

/*
 * One transaction. The fields are read-only for the integrator except user, which the parser
 * never touches. Everything the getters return stays valid until the tx is released.
 */
struct http_tx {
    uint64_t id;                /* 0, 1, 2... within the flow */
    uint8_t progress[2];        /* enum http_progress of the request (0) and response (1) */
    int status;                 /* response status code, or -1 when absent or invalid */
    uint64_t events;            /* bit (1 << enum http_event) per anomaly */
    uint64_t msg_len[2];        /* body bytes as sent, chunk framing included (EVE "length") */
    uint64_t body_len[2];       /* body bytes after de-chunking and decoding */
    uint64_t body_announced[2]; /* the Content-Length framing the body (as sent), else 0 */
    void *user;                 /* the integrator's (detection state...) */
};

struct http_state;

/* What a call of the file hook reports (its ev argument). */
enum http_file_ev {
    HTTP_FILE_DATA = 0,  /* data[0..len): decoded body bytes */
    HTTP_FILE_END = 1,   /* the body ended (once); data NULL, len 0 */
    HTTP_FILE_BEGIN = 2, /* a body starts (once, before any data); data NULL, len 0 */
    HTTP_FILE_GAP = 3,   /* bytes of the body were lost in the stream; data NULL, len 0 */
};

/*
 * The file hook: for each message with a body, HTTP_FILE_BEGIN, then HTTP_FILE_DATA and
 * HTTP_FILE_GAP calls as the body arrives, then HTTP_FILE_END. ev is an enum http_file_ev.
 */
typedef void (*http_file_fn)(void *ctx, struct http_tx *tx, int dir, const uint8_t *data,
                             uint32_t len, int ev);

/* Creates a flow's parser state (c NULL: defaults). NULL when out of memory. */
struct http_state *http_state_new(const struct http_config *c);

/* Frees the state and every transaction still held. NULL is ignored. */
void http_state_free(struct http_state *s);

/* Sets the callback receiving decoded bodies (not bounded by the inspection limits). */
void http_state_set_file_cb(struct http_state *s, http_file_fn fn, void *ctx);

/*
 * Parses len bytes of direction dir (0 to server, 1 to client). Any split of the stream into
 * calls gives the same transactions. Returns 0, or -1 once the direction has stopped being
 * parsed as HTTP (garbage, a limit reached, too many transactions); the cause is counted and
 * later calls return -1 at once. Never fails on memory silently: an allocation failure also
 * stops the direction.
 */
int http_parse(struct http_state *s, int dir, const uint8_t *data, uint32_t len);

/*
 * Tells the parser len bytes of direction dir were lost. Inside a body of known length the
 * parser skips them; otherwise it ends the current message and looks for the next request or
 * status line. The message hit gets HTTP_EV_STREAM_GAP.
 */
void http_gap(struct http_state *s, int dir, uint32_t len);

/* The end of direction dir: completes a body delimited by the close and any open message. */
void http_eof(struct http_state *s, int dir);

/* Counters of this state. */
const struct http_stats *http_state_stats(const struct http_state *s);

/* Anomalies not tied to a transaction (bits of enum http_event). */
uint64_t http_state_events(const struct http_state *s);

/* 1 while direction dir is still being parsed, 0 after it stopped or was tunnelled. */
int http_state_active(const struct http_state *s, int dir);

/*
 * Number of live transactions; they are numbered 0..count-1 for http_tx_get, oldest first. A
 * request whose first line is still incomplete is not counted until that line is parsed.
 */
unsigned http_tx_count(const struct http_state *s);

/* The i-th live transaction, or NULL if i >= http_tx_count. */
struct http_tx *http_tx_get(struct http_state *s, unsigned i);

/* 1 if both directions of tx are complete (or will never progress any further). */
int http_tx_complete(const struct http_tx *tx);

/*
 * Frees the oldest transactions with id <= upto_id, stopping at the first that is not yet
 * complete. Their buffers become invalid.
 */
void http_tx_release(struct http_state *s, uint64_t upto_id);

/*
 * Returns buffer buf (enum detect_buffer_id: DB_HTTP_URI...DB_FILE_DATA) of direction dir of
 * tx and its length in *len; NULL when absent, not yet parsed, or not a buffer of that
 * direction. Header buffers come from the request headers for dir 0 and the response headers
 * for dir 1. DB_FILE_DATA and DB_HTTP_REQUEST_BODY grow while the body arrives: a pointer
 * returned earlier stays valid (holding the earlier prefix) until the tx is released.
 */
const uint8_t *http_tx_buffer(struct http_tx *tx, unsigned buf, int dir, uint32_t *len);

/*
 * The value of header name (case-insensitive) in direction dir, repeated fields joined by
 * ", " as libhtp does; NULL if absent.
 */
const uint8_t *http_tx_header(const struct http_tx *tx, int dir, const char *name, uint32_t *len);

/* Number of header fields (repeats merged) of direction dir. */
unsigned http_tx_header_count(const struct http_tx *tx, int dir);

/* Header i of direction dir: name and value. Returns 0, or -1 if i is out of range. */
int http_tx_header_at(const struct http_tx *tx, int dir, unsigned i, const uint8_t **name,
                      uint32_t *name_len, const uint8_t **value, uint32_t *value_len);

/*
 * The file name of the body of direction dir: Content-Disposition's filename, else the last
 * component of the normalised URI's path. NULL if there is none.
 */
const uint8_t *http_tx_filename(const struct http_tx *tx, int dir, uint32_t *len);

/*
 * 1 while the decoding of the body of direction dir has stopped before the body's end (corrupt
 * data after some output, a decompression bomb, a hole in the stream): what was decoded is a
 * prefix. Meaningful until the body ends (in the file hook's HTTP_FILE_END call).
 */
int http_tx_body_stopped(const struct http_tx *tx, int dir);

/* A Content-Range field ("bytes START-END/SIZE"). */
struct http_range {
    uint64_t start, end; /* first and last byte of the part; 0 for an unsatisfied range */
    int64_t size;        /* the whole resource, or -1 for "*" */
    int has_range;       /* 0 for an unsatisfied range (a "*" in place of START-END) */
};

/*
 * Parses the Content-Range field of direction dir of tx (libhtp's grammar: optional "bytes",
 * START-END or "*", "/", SIZE or "*"). Returns 0 and fills r, or -1 when the field is absent or
 * invalid (END before START, END not below SIZE, numbers past 2^62).
 */
int http_tx_content_range(const struct http_tx *tx, int dir, struct http_range *r);

/* The port given with the host (URI authority or Host header), or -1 if none. */
int http_tx_port(const struct http_tx *tx);

/*
 * Normalises a request URI path and query as libhtp's defaults do: %XX decoding (invalid
 * escapes kept), '\' to '/', "//" folded, "/./" and "/../" resolved. Writes at most cap bytes
 * to out and returns the normalised length (which is never longer than len).
 */
uint32_t http_uri_normalize(const uint8_t *uri, uint32_t len, uint8_t *out, uint32_t cap,
                            uint64_t *events);

#endif
