/* app-ftp.h: FTP control-channel parser (commands, replies, PASV/EPSV/PORT/EPRT) and the
 * expectation table that turns announced data connections into ftp-data flows. */
#ifndef VIGIL_APP_FTP_H
#define VIGIL_APP_FTP_H

#include <stdint.h>

#include "vigil/common.h"
#include "vigil/packet.h"

/* Limits; ftp_config_defaults fills the defaults given here. */
struct ftp_config {
    uint32_t max_line;    /* bytes of a command or reply line kept (4096); the rest is cut */
    uint32_t max_replies; /* reply lines kept per command (16) */
    uint32_t max_txs;     /* commands held until released (64); the oldest is dropped */
};

/* Fills c with the defaults. */
void ftp_config_defaults(struct ftp_config *c);

/* Anomalies, named as Suricata's ftp events where one exists. */
#define FTP_EVENTS(X)                                                                              \
    X(FTP_EV_REQUEST_TOO_LONG, "request_command_too_long")                                         \
    X(FTP_EV_REPLY_TOO_LONG, "response_command_too_long")                                          \
    X(FTP_EV_INVALID_REPLY, "invalid_reply")                                                       \
    X(FTP_EV_UNMATCHED_REPLY, "unmatched_reply")                                                   \
    X(FTP_EV_BAD_PORT, "invalid_port")                                                             \
    X(FTP_EV_TX_DROPPED, "too_many_transactions")                                                  \
    X(FTP_EV_GAP, "gap")                                                                           \
    X(FTP_EV_OUT_OF_MEMORY, "out_of_memory")

enum ftp_event {
#define FTP_X_ENUM(e, s) e,
    FTP_EVENTS(FTP_X_ENUM)
#undef FTP_X_ENUM
        FTP_EV__COUNT
};

/* Name of an ftp_event, "unknown" if out of range. */
const char *ftp_event_name(int ev);

enum ftp_mode { FTP_MODE_NONE = 0, FTP_MODE_PASSIVE, FTP_MODE_ACTIVE };

/* A transfer command's kind: which way its file travels on the control channel's terms. */
enum ftp_xfer {
    FTP_XFER_NONE = 0,
    FTP_XFER_RETR /* server to client */,
    FTP_XFER_STOR /* client
                     to server */
};

/* How a transfer command went, from its replies. */
enum ftp_xfer_status {
    FTP_XS_NONE = 0, /* no reply yet */
    FTP_XS_ACCEPTED, /* 125/150: the server is transferring */
    FTP_XS_DONE,     /* 226/250: the server says the transfer completed */
    FTP_XS_FAILED,   /* 4xx/5xx */
};

/* A byte string from traffic (not NUL-terminated; may hold any byte). */
struct ftp_str {
    uint8_t *s;
    uint32_t len;
};

/*
 * One command and its replies (Suricata's ftp transaction). A reply that comes with no
 * command waiting (the 220 greeting) makes a transaction without a command. Read-only.
 */
struct ftp_tx {
    uint64_t id;           /* 0, 1, ... within the session */
    char command[16];      /* the verb, upper-cased, NUL-terminated ("" for none) */
    uint32_t command_len;  /* its bytes (it may hold a NUL from traffic) */
    int is_command;        /* 0: replies that came with no command (the greeting) */
    struct ftp_str data;   /* what follows the verb (command_data) */
    int command_truncated; /* the line was longer than max_line */
    struct ftp_str *reply; /* reply lines without their code */
    char (*code)[4];       /* each line's 3-digit code ("" for a continuation line) */
    uint32_t nreply;
    uint32_t reply_dropped; /* lines past max_replies */
    int reply_received;     /* a final (non-1xx) reply, or any reply, arrived */
    unsigned last_code;     /* the last reply code (0 before any) */
    int complete;           /* a final reply arrived (or the session ended) */
    int dyn_port;           /* port announced by PORT/EPRT/227/229 replies, -1 if none */
    enum ftp_mode mode;
    enum ftp_xfer xfer; /* RETR, STOR, APPE, STOU */
    enum ftp_xfer_status xstatus;
    int xfer_wait;   /* a transfer command sent before its PASV/EPSV reply */
    uint32_t events; /* bit (1u << ftp_event) per anomaly in this transaction */
};

/* What a transfer command announces: the next data connection and its file. */
struct ftp_transfer {
    enum ftp_mode mode; /* passive: the client connects to the server's port; active: the server
                           connects to the client's */
    uint16_t port;      /* the listening side's port */
    enum ftp_xfer xfer;
    const struct ftp_tx *tx; /* command (RETR...) and data (the file name) */
};

/* Counters of a session. */
struct ftp_stats {
    uint64_t commands, replies, txs, transfers;
    uint64_t events[FTP_EV__COUNT];
};

struct ftp_state;

/* Called once per transfer command whose data port is known. */
typedef void (*ftp_transfer_fn)(void *ctx, const struct ftp_transfer *t);

/* A new session (cfg NULL for the defaults; copied). NULL when out of memory. */
struct ftp_state *ftp_state_new(const struct ftp_config *cfg);

/* Frees s and every transaction it holds. */
void ftp_state_free(struct ftp_state *s);

/* Sets the transfer callback (fn NULL to remove it). */
void ftp_state_set_transfer_cb(struct ftp_state *s, ftp_transfer_fn fn, void *ctx);

/*
 * Feeds len in-order stream bytes of direction dir (0 client to server, 1 server to client).
 * Lines end at LF (a CR before it is dropped); a line longer than max_line is cut there and
 * the rest of it skipped. Returns 0, or -1 if dir is invalid.
 */
int ftp_feed(struct ftp_state *s, int dir, const uint8_t *data, uint32_t len);

/* len bytes of direction dir were lost: the partial line is dropped. */
void ftp_gap(struct ftp_state *s, int dir, uint32_t len);

/* The direction ended: a last line without LF is taken; after both ended, every transaction
 * is complete. */
void ftp_eof(struct ftp_state *s, int dir);

/* Transactions held, oldest first; the i-th (NULL if out of range); release of every complete
 * one whose id <= upto_id (incomplete ones stay). */
unsigned ftp_tx_count(const struct ftp_state *s);
const struct ftp_tx *ftp_tx_get(const struct ftp_state *s, unsigned i);
void ftp_tx_release(struct ftp_state *s, uint64_t upto_id);

/* Marks every transaction complete (the flow is ending). */
void ftp_finish(struct ftp_state *s);

/* The session's counters, and the bytes its state holds (app-layer.memcap). */
const struct ftp_stats *ftp_state_stats(const struct ftp_state *s);
uint64_t ftp_state_memuse(const struct ftp_state *s);

/*
 * Parses the port of a 227 reply text ("Entering Passive Mode (h1,h2,h3,h4,p1,p2)"), a PORT
 * argument ("h1,h2,h3,h4,p1,p2"), a 229 reply text ("... (|||port|)") or an EPRT argument
 * ("|2|::1|port|"). Returns the port (1-65535), or -1 if the text does not hold one.
 */
int ftp_parse_pasv(const uint8_t *s, uint32_t len);
int ftp_parse_port(const uint8_t *s, uint32_t len);
int ftp_parse_epsv(const uint8_t *s, uint32_t len);
int ftp_parse_eprt(const uint8_t *s, uint32_t len);

/* ---- The expectation table (app-ftp-expect.c) ---- */

/*
 * A data connection a control channel announced: a TCP flow from orig to resp:port (any
 * source port) is expected, carrying the file of command xfer in direction dir of that flow
 * (0: from orig). Shared by every worker: flows are hashed to workers, so the control channel
 * and its data connection are usually on different threads.
 */
struct ftp_expectation {
    uint8_t ip_ver;
    struct vg_addr orig, resp;
    uint16_t port;
    int dir;
    enum ftp_xfer xfer;
    char command[16];
    uint8_t name[512]; /* the file name from the command (data: never a path) */
    uint32_t name_len;
    int name_cut; /* the name was longer than the buffer */
    uint64_t control_flow_id;
    uint64_t control_tx_id;
    vg_time_t expires;
};

#define FTP_EXPECT_MAX_DEFAULT 1024
#define FTP_EXPECT_TIMEOUT_DEFAULT 60 /* seconds of packet time */

struct ftp_expect_stats {
    uint64_t added;   /* expectations recorded */
    uint64_t matched; /* data connections that matched one */
    uint64_t expired; /* removed unmatched after the timeout */
    uint64_t dropped; /* removed unmatched to make room (the table was full) */
    uint64_t active;  /* held now */
};

struct ftp_expect;

/* A table of at most max entries, each living timeout_sec of packet time. NULL if out of
 * memory or max is 0. */
struct ftp_expect *ftp_expect_new(unsigned max, unsigned timeout_sec);

/* Frees t (NULL is fine). */
void ftp_expect_free(struct ftp_expect *t);

/*
 * Records e (its expires is set from now). Expired entries are removed first; if the table is
 * still full the oldest entry is dropped (counted). Thread-safe. Returns 0, or 1 if an entry
 * was dropped to make room.
 */
int ftp_expect_add(struct ftp_expect *t, const struct ftp_expectation *e, vg_time_t now);

/*
 * Takes the oldest live expectation for a TCP flow of ip_ver from orig to resp:port into *out
 * (removing it). A cheap atomic test when the table is empty. Thread-safe. Returns 1 if one
 * matched, else 0.
 */
int ftp_expect_take(struct ftp_expect *t, uint8_t ip_ver, const struct vg_addr *orig,
                    const struct vg_addr *resp, uint16_t port, vg_time_t now,
                    struct ftp_expectation *out);

/* The table's counters. Thread-safe. */
void ftp_expect_get_stats(struct ftp_expect *t, struct ftp_expect_stats *out);

#endif
