/* app-smtp.h: SMTP session parser: commands, replies, transactions, DATA/BDAT with MIME headers. */
#ifndef VIGIL_APP_SMTP_H
#define VIGIL_APP_SMTP_H

#include <stdint.h>

/* Limits; smtp_config_defaults fills the defaults given here. */
struct smtp_config {
    uint32_t max_line;        /* bytes of a command/reply/message line kept (4096) */
    uint32_t max_rcpt;        /* RCPT TO kept per transaction (64) */
    uint32_t max_headers;     /* message headers looked at per transaction (256) */
    uint32_t max_header_len;  /* bytes of one (unfolded) header kept (4096) */
    uint32_t max_attachments; /* attachment names kept per transaction (32) */
    uint32_t body_limit;      /* raw message bytes kept per transaction (64 KiB) */
    uint32_t max_txs;         /* transactions held until released (32); the oldest is dropped */
};

/* Fills c with the defaults. */
void smtp_config_defaults(struct smtp_config *c);

/* Anomalies, named as Suricata's smtp events where one exists (app-layer-event:smtp.NAME). */
#define SMTP_EVENTS(X)                                                                             \
    X(SMTP_EV_INVALID_REPLY, "invalid_reply")                                                      \
    X(SMTP_EV_UNMATCHED_REPLY, "unable_to_match_reply_with_request")                               \
    X(SMTP_EV_COMMAND_LINE_TOO_LONG, "max_command_line_len_exceeded")                              \
    X(SMTP_EV_REPLY_LINE_TOO_LONG, "max_reply_line_len_exceeded")                                  \
    X(SMTP_EV_BDAT_CHUNK_INVALID, "bdat_chunk_len_exceeded")                                       \
    X(SMTP_EV_NO_WELCOME, "no_server_welcome_message")                                             \
    X(SMTP_EV_TLS_REJECTED, "tls_rejected")                                                        \
    X(SMTP_EV_DATA_REJECTED, "data_command_rejected")                                              \
    X(SMTP_EV_MIME_LONG_LINE, "mime_long_line")                                                    \
    X(SMTP_EV_MIME_LONG_HEADER, "mime_long_header_value")                                          \
    X(SMTP_EV_MIME_TOO_MANY_HEADERS, "mime_too_many_headers")                                      \
    X(SMTP_EV_MIME_TOO_MANY_BOUNDARIES, "mime_too_many_boundaries")                                \
    X(SMTP_EV_MIME_BOUNDARY_TOO_LONG, "mime_boundary_too_long")                                    \
    X(SMTP_EV_TOO_MANY_RCPT, "too_many_recipients")                                                \
    X(SMTP_EV_TOO_MANY_ATTACHMENTS, "too_many_attachments")                                        \
    X(SMTP_EV_TOO_MANY_PENDING, "invalid_pipelined_sequence")                                      \
    X(SMTP_EV_TX_DROPPED, "too_many_transactions")                                                 \
    X(SMTP_EV_GAP, "gap")                                                                          \
    X(SMTP_EV_OUT_OF_MEMORY, "out_of_memory")

enum smtp_event {
#define SMTP_X_ENUM(e, s) e,
    SMTP_EVENTS(SMTP_X_ENUM)
#undef SMTP_X_ENUM
        SMTP_EV__COUNT
};

/* Name of an smtp_event ("invalid_reply"), "unknown" if out of range. */
const char *smtp_event_name(int ev);

/* Message headers kept per transaction (index into smtp_tx.hdr). */
enum smtp_hdr {
    SMTP_HDR_FROM,
    SMTP_HDR_TO,
    SMTP_HDR_CC,
    SMTP_HDR_SUBJECT,
    SMTP_HDR_DATE,
    SMTP_HDR_MESSAGE_ID,
    SMTP_HDR_X_MAILER,
    SMTP_HDR_CONTENT_TYPE,
    SMTP_HDR__COUNT
};

/* Where the message of a transaction got to (Suricata's email.status). */
enum smtp_mail_status {
    SMTP_MAIL_NONE = 0, /* no DATA/BDAT yet */
    SMTP_MAIL_HEADERS,  /* HEADER_STARTED */
    SMTP_MAIL_BODY,     /* BODY_STARTED */
    SMTP_MAIL_DONE,     /* PARSE_DONE */
    SMTP_MAIL_ERROR,    /* PARSE_ERROR: a gap, or the stream ended inside the message */
};

/*
 * One mail transaction: MAIL FROM to the end of its DATA (or RSET, QUIT, a DATA refusal, EOF).
 * Strings are NUL-terminated and bounded by max_line; NULL when absent. Read-only for callers.
 */
struct smtp_tx {
    uint64_t id; /* 0, 1, ... within the session */
    int complete;
    char *helo;
    char *mail_from; /* "<a@b>" as sent, parameters (SIZE=) cut off */
    char **rcpt_to;
    uint32_t nrcpt;
    uint32_t rcpt_dropped;
    char *hdr[SMTP_HDR__COUNT]; /* unfolded, trimmed values */
    char **attachments;         /* file names from Content-Disposition/Content-Type */
    uint32_t nattach;
    int multipart;
    enum smtp_mail_status status;
    uint8_t *body; /* the raw message (dot-unstuffed), at most body_limit bytes */
    uint32_t body_len;
    uint64_t body_total; /* bytes of the whole message */
    int body_truncated;
    uint32_t events; /* bit (1u << smtp_event) for every anomaly raised in this transaction */
};

/* Counters of a session. */
struct smtp_stats {
    uint64_t commands;
    uint64_t replies;
    uint64_t txs;
    uint64_t events[SMTP_EV__COUNT];
};

struct smtp_state;

/* Called with the raw message bytes of a transaction as they arrive; last = 1 once at its end
 * (len may be 0 then). */
typedef void (*smtp_body_fn)(void *ctx, const struct smtp_tx *tx, const uint8_t *data, uint32_t len,
                             int last);

/* A new session (cfg NULL for the defaults; it is copied). NULL when out of memory. */
struct smtp_state *smtp_state_new(const struct smtp_config *cfg);

/* Frees s and every transaction it still holds. */
void smtp_state_free(struct smtp_state *s);

/* Sets the body callback (fn NULL to remove it). */
void smtp_state_set_body_cb(struct smtp_state *s, smtp_body_fn fn, void *ctx);

/* Values of smtp_feed. */
enum { SMTP_FEED_OK = 0, SMTP_FEED_TLS = 1 };

/*
 * Feeds len in-order stream bytes of direction dir (0 client to server, 1 server to client).
 * Returns SMTP_FEED_OK; SMTP_FEED_TLS once a 220 answered STARTTLS: from then on bytes are
 * ignored and smtp_tls_offset tells where TLS begins in each direction; -1 if dir is invalid.
 */
int smtp_feed(struct smtp_state *s, int dir, const uint8_t *data, uint32_t len);

/* Tells s that len bytes of direction dir were lost: a partial line is dropped; a message being
 * transferred is marked SMTP_MAIL_ERROR but followed to its end. */
void smtp_gap(struct smtp_state *s, int dir, uint32_t len);

/* The direction ended: a final line without CRLF is taken; after the client's end, an unfinished
 * transaction is completed (SMTP_MAIL_ERROR if its message was cut). */
void smtp_eof(struct smtp_state *s, int dir);

/* Stream offset (bytes fed plus gaps) of dir where TLS begins, or -1 if STARTTLS did not
 * succeed. */
int64_t smtp_tls_offset(const struct smtp_state *s, int dir);

/* The last complete reply code from the server (0 before any). */
unsigned smtp_last_reply(const struct smtp_state *s);

/* Transactions held, oldest first: count, the i-th (NULL if out of range), and release of every
 * complete one whose id <= upto_id (incomplete ones stay). */
unsigned smtp_tx_count(const struct smtp_state *s);
const struct smtp_tx *smtp_tx_get(const struct smtp_state *s, unsigned i);
void smtp_tx_release(struct smtp_state *s, uint64_t upto_id);

/* The raw message kept for detection (at most body_limit bytes); *len gets its length. */
const uint8_t *smtp_tx_body(const struct smtp_tx *tx, uint32_t *len);

/* The session's counters. */
const struct smtp_stats *smtp_state_stats(const struct smtp_state *s);

/*
 * Returns 1 if buf plausibly starts an SMTP session: for dir 1 a "220" greeting whose first line
 * names SMTP/ESMTP, for dir 0 an EHLO/HELO command; 0 if not; -1 if no complete line yet.
 */
int smtp_probe(const uint8_t *buf, uint32_t len, int dir);

#endif
