/* app-dns.h: DNS message parser (UDP, and TCP with its length prefix), probe and stats. */
#ifndef VIGIL_APP_DNS_H
#define VIGIL_APP_DNS_H

#include <stdint.h>

/* Entries kept per message; more are parsed (to stay in step) but only counted in *_dropped. */
#define DNS_MAX_QUESTIONS 32
#define DNS_MAX_ANSWERS 32
#define DNS_MAX_AUTHORITIES 16
#define DNS_MAX_ADDITIONALS 16
/* Bytes for names and TXT text of one message; a record that does not fit is dropped. */
#define DNS_ARENA_SIZE 24576
/* TXT text kept per record (all its character-strings, concatenated). */
#define DNS_TXT_MAX 1024
/* Longest name on the wire (RFC 1035) and most compression pointers followed per name. */
#define DNS_NAME_MAX 255
#define DNS_MAX_JUMPS 64
/* Largest message over TCP (the 2-byte length prefix). */
#define DNS_TCP_MAX 65535

/* Record types the parser decodes (others are kept as type and rdata length). */
enum {
    DNS_TYPE_A = 1,
    DNS_TYPE_NS = 2,
    DNS_TYPE_CNAME = 5,
    DNS_TYPE_SOA = 6,
    DNS_TYPE_PTR = 12,
    DNS_TYPE_MX = 15,
    DNS_TYPE_TXT = 16,
    DNS_TYPE_AAAA = 28,
    DNS_TYPE_SRV = 33,
    DNS_TYPE_OPT = 41,
};

/* Why dns_parse_message failed (struct dns_message.error). */
#define DNS_ERRORS(X)                                                                              \
    X(DNS_OK, "ok")                                                                                \
    X(DNS_ERR_SHORT_HEADER, "short_header")                                                        \
    X(DNS_ERR_TRUNCATED_QUESTION, "truncated_question")                                            \
    X(DNS_ERR_TRUNCATED_RR, "truncated_rr")                                                        \
    X(DNS_ERR_TRUNCATED_NAME, "truncated_name")                                                    \
    X(DNS_ERR_BAD_LABEL, "bad_label_type")                                                         \
    X(DNS_ERR_NAME_TOO_LONG, "name_too_long")                                                      \
    X(DNS_ERR_POINTER_FORWARD, "pointer_forward")                                                  \
    X(DNS_ERR_TOO_MANY_JUMPS, "too_many_jumps")

enum dns_error {
#define DNS_X_ENUM(e, s) e,
    DNS_ERRORS(DNS_X_ENUM)
#undef DNS_X_ENUM
        DNS_ERR__COUNT
};

/* A name or text in struct dns_message.arena: labels joined by '.', raw bytes, no NUL. */
struct dns_str {
    uint16_t off;
    uint16_t len;
};

struct dns_question {
    struct dns_str name;
    uint16_t type;
    uint16_t klass;
};

enum dns_section { DNS_SEC_ANSWER = 0, DNS_SEC_AUTHORITY, DNS_SEC_ADDITIONAL };

/* One resource record. rd is valid for the decoded types when bad_rdata is 0. */
struct dns_rr {
    struct dns_str name;
    uint16_t type;
    uint16_t klass;
    uint32_t ttl;
    uint16_t rdlength;
    uint8_t bad_rdata; /* rdata did not match its type (length, name beyond rdata) */
    uint8_t txt_trunc; /* TXT longer than DNS_TXT_MAX */
    union {
        uint8_t a[4];
        uint8_t aaaa[16];
        struct dns_str target; /* CNAME, NS, PTR */
        struct {
            uint16_t pref;
            struct dns_str exchange;
        } mx;
        struct {
            struct dns_str text; /* every character-string, concatenated */
            uint16_t first_len;  /* length of the first one (what Suricata 7 logs) */
            uint16_t nstrings;
        } txt;
        struct {
            struct dns_str mname, rname;
            uint32_t serial, refresh, retry, expire, minimum;
        } soa;
        struct {
            uint16_t priority, weight, port;
            struct dns_str target;
        } srv;
    } rd;
};

/*
 * A parsed message. Allocate it once per worker (it is about 40 KiB) and reuse it:
 * dns_parse_message overwrites what it needs, nothing points outside it.
 */
struct dns_message {
    uint16_t id;
    uint16_t flags; /* the header's second 16 bits, as on the wire */
    uint8_t qr, opcode, aa, tc, rd, ra, z, rcode;
    uint16_t qdcount, ancount, nscount, arcount; /* as the header claims */
    uint16_t nq, nan, nns, nar;                  /* entries kept below */
    uint32_t dropped;     /* entries parsed but not kept (limits above, arena full) */
    uint32_t bad_rdata;   /* records whose rdata did not match their type */
    uint32_t trailing;    /* bytes after the last record */
    enum dns_error error; /* why parsing stopped (DNS_OK on success) */
    struct dns_question q[DNS_MAX_QUESTIONS];
    struct dns_rr an[DNS_MAX_ANSWERS];
    struct dns_rr ns[DNS_MAX_AUTHORITIES];
    struct dns_rr ar[DNS_MAX_ADDITIONALS];
    uint32_t arena_used;
    char arena[DNS_ARENA_SIZE];
};

/*
 * Parses one DNS message of len bytes (a UDP payload, or a TCP message without its length prefix)
 * into *out. Returns 0, or -1 with out->error saying why; on -1, out still holds the header (if
 * len >= 12) and the entries parsed before the error. Never reads outside buf.
 */
int dns_parse_message(const uint8_t *buf, uint32_t len, struct dns_message *out);

/* Short name of a dns_error ("truncated_rr"), "unknown" for an out-of-range value. */
const char *dns_error_name(int err);

/* The query name of question qi (the dns.query buffer): not NUL-terminated, *len bytes; NULL if
 * qi is out of range. */
const char *dns_query_name(const struct dns_message *m, unsigned qi, uint32_t *len);

/* Pointer to the bytes of s inside m's arena (not NUL-terminated). */
static inline const char *dns_str_ptr(const struct dns_message *m, struct dns_str s)
{
    return m->arena + s.off;
}

/* Suricata's name for a record type ("A", "SRV"), or NULL if it has none. */
const char *dns_rrtype_name(uint16_t type);

/* Suricata's name for an rcode ("NOERROR", "NXDOMAIN"), or NULL if it has none. */
const char *dns_rcode_name(uint8_t rcode);

/*
 * Returns 1 if buf plausibly holds a DNS message over UDP (sane header, 1..8 questions, counts
 * that fit, a parseable first question), else 0.
 */
int dns_probe_udp(const uint8_t *buf, uint32_t len);

/* As dns_probe_udp for the start of a TCP stream (length prefix first). Returns 1, 0, or -1 if
 * len is too short to tell. */
int dns_probe_tcp(const uint8_t *buf, uint32_t len);

/*
 * The probe for UDP off port 53 (mDNS, LLMNR, resolvers on other ports): a header of a known
 * opcode, Z clear, 1..DNS_MAX_QUESTIONS questions (answers allowed in a query, as mDNS lists
 * those it knows), every question and record fitting with the last ending at the end of the
 * datagram, a first question of a known class, and not NetBIOS name service (which shares
 * DNS's layout). Returns 1 or 0.
 */
int dns_probe_udp_strict(const uint8_t *buf, uint32_t len);

/*
 * The probe for TCP off port 53, where DNS must not take other protocols' flows: the length
 * prefix, then a header of opcode QUERY, NOTIFY or UPDATE with one question, Z clear and sane
 * counts (a standard query has no answers), and a message that walks record by record to
 * exactly the prefix's length. A message longer than hold (the bytes the caller can gather) is
 * judged on its header and first question. Returns 1, 0, or -1 if more bytes are needed.
 */
int dns_probe_tcp_strict(const uint8_t *buf, uint32_t len, uint32_t hold);

/* Counters for a worker; dns_stats_update adds one parse result. */
struct dns_stats {
    uint64_t messages;  /* parsed or attempted */
    uint64_t queries;   /* qr = 0 */
    uint64_t responses; /* qr = 1 */
    uint64_t parse_errors;
    uint64_t errors[DNS_ERR__COUNT]; /* by dns_error */
    uint64_t truncated;              /* messages with dropped entries */
    uint64_t bad_rdata;              /* records */
    uint64_t tcp_messages;
    uint64_t tcp_gaps;
    uint64_t tcp_resync_skipped; /* bytes dropped while out of sync after a gap */
};

/* Adds the result rc of dns_parse_message(.., m) to st. */
void dns_stats_update(struct dns_stats *st, const struct dns_message *m, int rc);

/* Called with each whole DNS message found in a TCP stream (no length prefix). */
typedef void (*dns_msg_fn)(void *ctx, int dir, const uint8_t *msg, uint32_t len);

/* One direction of a TCP DNS stream. */
struct dns_tcp_dir {
    uint8_t *buf;      /* a message split across segments, malloc'd on demand */
    uint32_t cap;      /* allocated bytes of buf */
    uint32_t have;     /* bytes of the current message held */
    uint32_t need;     /* its length (from the prefix); 0 while reading the prefix */
    uint32_t skip;     /* bytes of a damaged message still to discard */
    uint8_t lenbuf[2]; /* a prefix split across segments */
    uint8_t lenhave;
    uint8_t lost; /* a gap broke framing: wait for a segment that starts a message */
};

/* A TCP DNS flow: direction 0 is client to server, 1 server to client. */
struct dns_tcp_state {
    struct dns_tcp_dir d[2];
    struct dns_stats *stats; /* optional: tcp_* counters */
};

/* Initialises s; st may be NULL. */
void dns_tcp_init(struct dns_tcp_state *s, struct dns_stats *st);

/* Frees what s holds (s itself is the caller's). */
void dns_tcp_free(struct dns_tcp_state *s);

/*
 * Feeds len in-order stream bytes of direction dir (0 or 1); calls cb for every message completed,
 * which may be zero-copy from data. A message is never larger than DNS_TCP_MAX, so the held
 * buffer is bounded. Returns the number of messages delivered, or -1 if dir is invalid.
 */
int dns_tcp_feed(struct dns_tcp_state *s, int dir, const uint8_t *data, uint32_t len, dns_msg_fn cb,
                 void *ctx);

/*
 * Tells s that len bytes of direction dir were lost. A gap inside a message drops that message;
 * a gap that crosses message boundaries loses framing until a segment starts with a plausible
 * message (dns_probe_tcp).
 */
void dns_tcp_gap(struct dns_tcp_state *s, int dir, uint32_t len);

#endif
