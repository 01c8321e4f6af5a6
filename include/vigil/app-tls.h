/* app-tls.h: the TLS/SSL application-layer parser: handshake fields, JA3/JA4, certificates. */
#ifndef VIGIL_APP_TLS_H
#define VIGIL_APP_TLS_H

#include <jansson.h>
#include <stdint.h>

/*
 * One parser state per TCP connection. The integrator feeds each direction's reassembled
 * stream data in order (dir 0: client to server, dir 1: server to client), reports holes with
 * tls_gap, and reads what the handshake carried. Parsing stops at ChangeCipherSpec or the first
 * encrypted record of a direction; after that records and bytes are only counted.
 */
struct tls_state;

/* Limits: a handshake message is kept up to these sizes. */
#define TLS_MAX_HANDSHAKE_MSG (64u * 1024)  /* ClientHello, ServerHello and the rest */
#define TLS_MAX_CERT_MSG (256u * 1024)      /* a Certificate message; longer ones are truncated */
#define TLS_MAX_RECORD_LEN (16384u + 2048u) /* the largest TLSCiphertext */
#define TLS_MAX_RECORDS_PER_FEED 255u       /* more in one tls_feed: TOO_MANY_RECORDS_IN_PACKET */

/* Hello fields kept up to these counts (more are counted in *_truncated, not stored). */
#define TLS_MAX_CIPHERS 512
#define TLS_MAX_EXTS 96
#define TLS_MAX_GROUPS 96
#define TLS_MAX_POINT_FORMATS 16
#define TLS_MAX_SIGALGS 96
#define TLS_MAX_VERSIONS 32
#define TLS_MAX_ALPN 16
#define TLS_MAX_CHAIN 32 /* certificates kept per direction */

/* Anomalies, as Suricata names them (tls_event_name). tls_events returns 1u << each seen. */
enum tls_event {
    TLS_EV_INVALID_SSLV2_HEADER = 0,
    TLS_EV_INVALID_TLS_HEADER,
    TLS_EV_INVALID_RECORD_VERSION,
    TLS_EV_INVALID_RECORD_TYPE,
    TLS_EV_INVALID_RECORD_LENGTH,
    TLS_EV_INVALID_HANDSHAKE_MESSAGE,
    TLS_EV_HANDSHAKE_INVALID_LENGTH,
    TLS_EV_HEARTBEAT_MESSAGE,
    TLS_EV_MULTIPLE_SNI_EXTENSIONS,
    TLS_EV_INVALID_SNI_TYPE,
    TLS_EV_INVALID_SNI_LENGTH,
    TLS_EV_TOO_MANY_RECORDS_IN_PACKET,
    TLS_EV_INVALID_CERTIFICATE,
    TLS_EV_CERTIFICATE_INVALID_LENGTH,
    TLS_EV_CERTIFICATE_INVALID_DER,
    TLS_EV_CERTIFICATE_TRUNCATED, /* Vigil: chain longer than TLS_MAX_CERT_MSG / TLS_MAX_CHAIN */
    TLS_EV_STREAM_GAP,            /* Vigil: tls_gap lost data of a direction */
    TLS_EV__COUNT
};

/* One hello message as parsed. Lists keep wire order, GREASE values included. */
struct tls_hello {
    uint16_t version;          /* legacy_version of the hello */
    uint16_t selected_version; /* ServerHello supported_versions; 0 if absent */
    uint8_t sslv2;             /* an SSLv2-format ClientHello (ciphers: 2-byte-compatible ones) */
    uint8_t session_id_len;
    uint8_t session_id[32];
    uint16_t cipher; /* ServerHello: the chosen suite */
    uint16_t n_ciphers, n_exts, n_groups, n_point_formats, n_sigalgs, n_versions, n_alpn;
    uint8_t truncated; /* some list had more entries than stored */
    uint16_t ciphers[TLS_MAX_CIPHERS];
    uint16_t exts[TLS_MAX_EXTS];
    uint16_t groups[TLS_MAX_GROUPS];
    uint8_t point_formats[TLS_MAX_POINT_FORMATS];
    uint16_t sigalgs[TLS_MAX_SIGALGS];
    uint16_t versions[TLS_MAX_VERSIONS]; /* ClientHello supported_versions */
    char *alpn[TLS_MAX_ALPN];            /* NUL-terminated protocol names (may hold NULs) */
    uint8_t alpn_len[TLS_MAX_ALPN];
    char *sni; /* server_name host_name, NUL-terminated; NULL if absent */
    uint32_t sni_len;
};

/* The fields of a certificate as Suricata prints them. Strings are NUL-terminated, never NULL. */
struct tls_cert_info {
    char *subject;     /* "C=US, O=Example, CN=www.example.com" in certificate order */
    char *issuer;      /* same format */
    char *serial;      /* "00:AB:CD", uppercase, the DER INTEGER's content bytes */
    char *fingerprint; /* SHA-1 of the DER, "ab:cd:...", lowercase */
    char notbefore[24], notafter[24];  /* "2019-01-01T00:00:00" (UTC), "" if unreadable */
    int64_t notbefore_ts, notafter_ts; /* seconds since the epoch */
    char **sans;                       /* subjectAltName DNS names and IP addresses as text */
    unsigned n_sans;
};

/* Counters of one state (an integrator sums them into its own stats). */
struct tls_stats {
    uint64_t records[2], bytes[2]; /* per direction, all record types */
    uint64_t encrypted_records[2]; /* application data and post-ChangeCipherSpec records */
    uint64_t handshake_msgs[2];
    uint64_t certs; /* certificates kept, both directions */
    uint64_t gaps, gap_bytes;
    uint64_t truncated; /* messages or lists cut at a limit */
};

/* Returns a new state, or NULL if out of memory. */
struct tls_state *tls_state_new(void);

/* Frees s and everything it holds. NULL is ignored. */
void tls_state_free(struct tls_state *s);

/*
 * Feeds len bytes of direction dir (0 to server, 1 to client), in stream order. Returns 0, or
 * -1 once that direction is not TLS (a record header that cannot be TLS or SSL; an event says
 * why). After -1, later calls for that direction do nothing and return -1.
 */
int tls_feed(struct tls_state *s, int dir, const uint8_t *data, uint32_t len);

/*
 * Reports len missing bytes in direction dir. Inside an encrypted record the parser stays in
 * step; elsewhere it drops the message in progress, and a gap past the current record ends
 * parsing of that direction (counted, TLS_EV_STREAM_GAP). Returns 0, or -1 as tls_feed.
 */
int tls_gap(struct tls_state *s, int dir, uint32_t len);

/*
 * Returns 1 if buf starts like a TLS/SSLv3 handshake record (content type 22, version 0x0300 to
 * 0x0304, length 1 to TLS_MAX_RECORD_LEN) or an SSLv2 ClientHello; 0 otherwise, including when
 * fewer than 5 bytes are given.
 */
int tls_probe(const uint8_t *buf, uint32_t len);

/* Progress: 1 once the ClientHello / ServerHello was parsed, else 0. */
int tls_client_hello_done(const struct tls_state *s);
int tls_server_hello_done(const struct tls_state *s);

/*
 * 1 once the server's side of the handshake worth inspecting is over: its certificates were
 * parsed, or ServerHelloDone, ChangeCipherSpec or encrypted data was seen, or a TLS 1.3
 * ServerHello (the rest is encrypted). Then the integrator can inspect and log.
 */
int tls_handshake_done(const struct tls_state *s);

/* 1 once direction dir is past ChangeCipherSpec or in the TLS 1.3 encrypted flight, else 0. */
int tls_encrypted(const struct tls_state *s, int dir);

/* The hellos, or NULL before they were parsed. */
const struct tls_hello *tls_client_hello(const struct tls_state *s);
const struct tls_hello *tls_server_hello(const struct tls_state *s);

/*
 * The negotiated version: ServerHello supported_versions, else its version, else 0 (no
 * ServerHello yet). SSLv2 is 0x0002.
 */
uint16_t tls_version(const struct tls_state *s);

/* Suricata's name of a version: "TLS 1.2", "TLSv1", "SSLv3", "TLS 1.3 draft-28", "UNDETERMINED". */
const char *tls_version_name(uint16_t version);

/* 1 if the server resumed a session (ChangeCipherSpec without a Certificate, TLS <= 1.2). */
int tls_session_resumed(const struct tls_state *s);

/* JA3/JA3S strings and MD5 hashes (32 lowercase hex digits); NULL until the hello was parsed. */
const char *tls_ja3_string(const struct tls_state *s);
const char *tls_ja3_hash(const struct tls_state *s);
const char *tls_ja3s_string(const struct tls_state *s);
const char *tls_ja3s_hash(const struct tls_state *s);

/* JA4 of the ClientHello ("t13d1516h2_8daaf6152771_e5627efa2ab1"), or NULL. */
const char *tls_ja4(const struct tls_state *s);

/* Number of certificates kept from direction dir (1: the server's chain, 0: a client's). */
unsigned tls_cert_count(const struct tls_state *s, int dir);

/* The DER of certificate idx of direction dir, its length in *len; NULL past the end. */
const uint8_t *tls_cert_der(const struct tls_state *s, int dir, unsigned idx, uint32_t *len);

/* The parsed first certificate of direction dir, or NULL (none, or not valid DER). */
const struct tls_cert_info *tls_cert_info(const struct tls_state *s, int dir);

/*
 * A detection buffer (enum detect_buffer_id): DB_TLS_SNI, DB_JA3_HASH, DB_JA3_STRING (the
 * client's), DB_JA3S_HASH, DB_JA3S_STRING, DB_TLS_VERSION (the negotiated version, 2 bytes big
 * endian), and the certificate buffers DB_TLS_CERT_SUBJECT, _ISSUER, _SERIAL, _FINGERPRINT and
 * DB_TLS_CERTS (the idx-th DER of the chain), taken from direction dir's certificates (1: the
 * server's). idx matters only for DB_TLS_CERTS. Returns the bytes and their length in *len, or
 * NULL if absent, past the end, or not a TLS buffer.
 */
const uint8_t *tls_buffer(struct tls_state *s, unsigned buf, int dir, unsigned idx, uint32_t *len);

/* The anomalies seen so far: a bitmask of 1u << enum tls_event. */
uint32_t tls_events(const struct tls_state *s);

/* Suricata's name of an event ("INVALID_RECORD_LENGTH"), or NULL if out of range. */
const char *tls_event_name(unsigned ev);

/* Copies the state's counters into *out. */
void tls_stats_get(const struct tls_state *s, struct tls_stats *out);

/* eve_tls_object flags. */
#define TLS_EVE_EXTENDED 1 /* Suricata's "extended: yes": serial, fingerprint, sni, version... */
#define TLS_EVE_CERTS 2    /* the custom fields "certificate", "chain" and "subjectaltname" */

/*
 * Builds the "tls" object of an EVE tls record as Suricata writes it: subject, issuerdn,
 * session_resumed; with TLS_EVE_EXTENDED also serial, fingerprint, sni, version, notbefore,
 * notafter, ja3 {hash, string}, ja3s {hash, string}, ja4 and client (a client certificate).
 * Absent fields are left out. Returns a new object, or NULL if out of memory.
 */
json_t *eve_tls_object(const struct tls_state *s, int extended);

#endif
