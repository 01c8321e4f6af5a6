/* app-tls.c: the TLS parser's record layer, handshake reassembly, progress and buffers. */
#include <stdlib.h>
#include <string.h>

#include "app-tls-internal.h"
#include "vigil/detect.h"

/* TLS content types. */
#define CT_CCS 20
#define CT_ALERT 21
#define CT_HANDSHAKE 22
#define CT_APPDATA 23
#define CT_HEARTBEAT 24
#define CT_SSLV2 0x80 /* pseudo type: an SSLv2-format record */

/* Handshake message types. */
#define HS_CLIENT_HELLO 1
#define HS_SERVER_HELLO 2
#define HS_CERTIFICATE 11
#define HS_SERVER_HELLO_DONE 14

static const char *const event_names[TLS_EV__COUNT] = {
    [TLS_EV_INVALID_SSLV2_HEADER] = "INVALID_SSLV2_HEADER",
    [TLS_EV_INVALID_TLS_HEADER] = "INVALID_TLS_HEADER",
    [TLS_EV_INVALID_RECORD_VERSION] = "INVALID_RECORD_VERSION",
    [TLS_EV_INVALID_RECORD_TYPE] = "INVALID_RECORD_TYPE",
    [TLS_EV_INVALID_RECORD_LENGTH] = "INVALID_RECORD_LENGTH",
    [TLS_EV_INVALID_HANDSHAKE_MESSAGE] = "INVALID_HANDSHAKE_MESSAGE",
    [TLS_EV_HANDSHAKE_INVALID_LENGTH] = "HANDSHAKE_INVALID_LENGTH",
    [TLS_EV_HEARTBEAT_MESSAGE] = "HEARTBEAT_MESSAGE",
    [TLS_EV_MULTIPLE_SNI_EXTENSIONS] = "MULTIPLE_SNI_EXTENSIONS",
    [TLS_EV_INVALID_SNI_TYPE] = "INVALID_SNI_TYPE",
    [TLS_EV_INVALID_SNI_LENGTH] = "INVALID_SNI_LENGTH",
    [TLS_EV_TOO_MANY_RECORDS_IN_PACKET] = "TOO_MANY_RECORDS_IN_PACKET",
    [TLS_EV_INVALID_CERTIFICATE] = "INVALID_CERTIFICATE",
    [TLS_EV_CERTIFICATE_INVALID_LENGTH] = "CERTIFICATE_INVALID_LENGTH",
    [TLS_EV_CERTIFICATE_INVALID_DER] = "CERTIFICATE_INVALID_DER",
    [TLS_EV_CERTIFICATE_TRUNCATED] = "CERTIFICATE_TRUNCATED",
    [TLS_EV_STREAM_GAP] = "STREAM_GAP",
};

const char *tls_event_name(unsigned ev)
{
    return ev < TLS_EV__COUNT ? event_names[ev] : NULL;
}

uint32_t tls_events(const struct tls_state *s)
{
    return s->events;
}

void tls_stats_get(const struct tls_state *s, struct tls_stats *out)
{
    *out = s->st;
}

struct tls_state *tls_state_new(void)
{
    return calloc(1, sizeof(struct tls_state));
}

void tls_state_free(struct tls_state *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < 2; i++) {
        free(s->d[i].hs_buf);
        tls_chain_free(&s->d[i].chain);
    }
    tls_hello_free(s->ch);
    tls_hello_free(s->sh);
    free(s->ja3_str);
    free(s->ja3s_str);
    free(s);
}

/* Drops the handshake message in progress and, if large, its buffer. */
static void hs_reset(struct tls_dir *d, int release)
{
    d->hs_hdr_len = 0;
    d->hs_skip = 0;
    d->hs_len = d->hs_got = d->hs_keep = 0;
    if (release || d->hs_cap > 16384) {
        free(d->hs_buf);
        d->hs_buf = NULL;
        d->hs_cap = 0;
    }
}

/* The server's first flight of handshake data is over: stop deep parsing of direction dir. */
static void set_encrypted(struct tls_state *s, int dir)
{
    struct tls_dir *d = &s->d[dir];
    d->encrypted = 1;
    hs_reset(d, 1);
}

static const uint8_t hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

static int is_tls13(uint16_t v)
{
    return v == 0x0304 || (v >> 8) == 0x7f || (v >> 8) == 0xfb;
}

static void on_client_hello(struct tls_state *s, const uint8_t *p, uint32_t n)
{
    struct tls_hello *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return;
    if (tls_hello_parse_client(s, h, p, n) < 0) {
        tls_set_event(s, TLS_EV_INVALID_HANDSHAKE_MESSAGE);
        tls_hello_free(h);
        return;
    }
    if (s->ch != NULL) { /* a second ClientHello (after a HelloRetryRequest): keep the first */
        tls_hello_free(h);
        return;
    }
    s->ch = h;
    s->hello_done_flags |= 1;
    tls_fp_client(s);
}

static void on_server_hello(struct tls_state *s, const uint8_t *p, uint32_t n)
{
    struct tls_hello *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return;
    if (tls_hello_parse_server(s, h, p, n) < 0) {
        tls_set_event(s, TLS_EV_INVALID_HANDSHAKE_MESSAGE);
        tls_hello_free(h);
        return;
    }
    int hrr = n >= 34 && memcmp(p + 2, hrr_random, 32) == 0;
    tls_hello_free(s->sh); /* a ServerHello after a HelloRetryRequest replaces it */
    s->sh = h;
    s->hello_done_flags |= 2;
    s->hrr |= (uint8_t)hrr;
    uint16_t v = h->selected_version ? h->selected_version : h->version;
    s->ver_raw[0] = (uint8_t)(v >> 8);
    s->ver_raw[1] = (uint8_t)v;
    tls_fp_server(s);
    if (!hrr && is_tls13(v))
        set_encrypted(s, 1); /* everything after the ServerHello is encrypted */
}

/* A complete (or truncated) handshake message of direction dir. */
static void on_message(struct tls_state *s, int dir, uint8_t type, const uint8_t *p, uint32_t n,
                       int truncated)
{
    s->st.handshake_msgs[dir]++;
    switch (type) {
    case HS_CLIENT_HELLO:
        if (dir != 0)
            tls_set_event(s, TLS_EV_INVALID_HANDSHAKE_MESSAGE);
        else
            on_client_hello(s, p, n);
        break;
    case HS_SERVER_HELLO:
        if (dir != 1)
            tls_set_event(s, TLS_EV_INVALID_HANDSHAKE_MESSAGE);
        else
            on_server_hello(s, p, n);
        break;
    case HS_CERTIFICATE:
        tls_cert_parse_msg(s, dir, p, n, truncated);
        break;
    case HS_SERVER_HELLO_DONE:
        if (dir == 1)
            s->server_hello_done = 1;
        break;
    case 0:   /* hello_request */
    case 4:   /* new_session_ticket */
    case 5:   /* end_of_early_data */
    case 8:   /* encrypted_extensions */
    case 12:  /* server_key_exchange */
    case 13:  /* certificate_request */
    case 15:  /* certificate_verify */
    case 16:  /* client_key_exchange */
    case 20:  /* finished */
    case 21:  /* certificate_url */
    case 22:  /* certificate_status */
    case 23:  /* supplemental_data */
    case 24:  /* key_update */
    case 25:  /* compressed_certificate */
    case 67:  /* next_protocol */
    case 254: /* message_hash */
        break;
    default:
        tls_set_event(s, TLS_EV_INVALID_HANDSHAKE_MESSAGE);
        break;
    }
}

/* Grows the handshake buffer of d to hold at least need bytes (need <= hs_limit). */
static int hs_grow(struct tls_dir *d, uint32_t need)
{
    if (need <= d->hs_cap)
        return 0;
    uint32_t cap = d->hs_cap ? d->hs_cap : 4096;
    while (cap < need)
        cap *= 2;
    if (cap > d->hs_limit)
        cap = d->hs_limit;
    if (cap > d->hs_len && d->hs_len >= need)
        cap = d->hs_len;
    uint8_t *b = realloc(d->hs_buf, cap);
    if (b == NULL)
        return -1;
    d->hs_buf = b;
    d->hs_cap = cap;
    return 0;
}

/* Handshake-record payload of direction dir: splits it into messages, reassembling them. */
static void hs_bytes(struct tls_state *s, int dir, const uint8_t *p, uint32_t n)
{
    struct tls_dir *d = &s->d[dir];
    while (n > 0 && !d->encrypted) {
        if (d->hs_hdr_len < 4) {
            uint32_t take = VG_MIN(4u - d->hs_hdr_len, n);
            memcpy(d->hs_hdr + d->hs_hdr_len, p, take);
            d->hs_hdr_len = (uint8_t)(d->hs_hdr_len + take);
            p += take;
            n -= take;
            if (d->hs_hdr_len < 4)
                return;
            d->hs_len = (uint32_t)d->hs_hdr[1] << 16 | (uint32_t)d->hs_hdr[2] << 8 | d->hs_hdr[3];
            d->hs_got = d->hs_keep = 0;
            d->hs_skip = 0;
            d->hs_limit = d->hs_hdr[0] == HS_CERTIFICATE ? TLS_MAX_CERT_MSG : TLS_MAX_HANDSHAKE_MSG;
            if (d->hs_len > d->hs_limit) {
                if (d->hs_hdr[0] == HS_CERTIFICATE) {
                    tls_set_event(s, TLS_EV_CERTIFICATE_TRUNCATED);
                    s->st.truncated++;
                } else {
                    tls_set_event(s, TLS_EV_HANDSHAKE_INVALID_LENGTH);
                    d->hs_skip = 1;
                }
            }
            if (d->hs_len == 0) {
                on_message(s, dir, d->hs_hdr[0], NULL, 0, 0);
                hs_reset(d, 0);
            }
            continue;
        }
        uint32_t take = VG_MIN(d->hs_len - d->hs_got, n);
        int done = d->hs_got + take == d->hs_len;
        if (!d->hs_skip) {
            if (d->hs_got == 0 && done && d->hs_len <= d->hs_limit) {
                /* The whole message is here: parse it in place. */
                d->hs_got = d->hs_len;
                on_message(s, dir, d->hs_hdr[0], p, take, 0);
                if (!d->encrypted)
                    hs_reset(d, 0);
                p += take;
                n -= take;
                continue;
            }
            uint32_t keep = VG_MIN(take, d->hs_limit - d->hs_keep);
            if (keep > 0) {
                if (hs_grow(d, d->hs_keep + keep) < 0) {
                    d->hs_skip = 1;
                } else {
                    memcpy(d->hs_buf + d->hs_keep, p, keep);
                    d->hs_keep += keep;
                }
            }
        }
        d->hs_got += take;
        p += take;
        n -= take;
        if (done) {
            if (!d->hs_skip)
                on_message(s, dir, d->hs_hdr[0], d->hs_buf, d->hs_keep, d->hs_keep < d->hs_len);
            if (!d->encrypted)
                hs_reset(d, 0);
        }
    }
}

/* The body bytes of the current record. */
static void record_body(struct tls_state *s, int dir, const uint8_t *p, uint32_t n)
{
    struct tls_dir *d = &s->d[dir];
    if (d->rec_type == CT_HANDSHAKE && !d->encrypted && !d->hs_dead)
        hs_bytes(s, dir, p, n);
}

/* The start of a record: its header is complete. Returns 0, or -1 if it is not TLS. */
static int record_start(struct tls_state *s, int dir)
{
    struct tls_dir *d = &s->d[dir];
    const uint8_t *h = d->hdr;
    uint32_t len;
    if (d->hdr_len == 2) { /* SSLv2 two-byte header */
        len = ((uint32_t)(h[0] & 0x7f) << 8) | h[1];
        if (len < 1) {
            tls_set_event(s, TLS_EV_INVALID_SSLV2_HEADER);
            return -1;
        }
        d->rec_type = CT_SSLV2;
    } else {
        uint8_t type = h[0];
        uint16_t ver = (uint16_t)(h[1] << 8 | h[2]);
        len = (uint32_t)h[3] << 8 | h[4];
        if (type < CT_CCS || type > CT_HEARTBEAT) {
            tls_set_event(s, TLS_EV_INVALID_RECORD_TYPE);
            return -1;
        }
        if (ver < 0x0300 || ver > 0x0304) {
            tls_set_event(s, TLS_EV_INVALID_RECORD_VERSION);
            return -1;
        }
        if (len > TLS_MAX_RECORD_LEN) {
            tls_set_event(s, TLS_EV_INVALID_RECORD_LENGTH);
            return -1;
        }
        d->rec_type = type;
    }
    d->rec_left = d->rec_len = len;
    d->in_body = 1;
    d->rec_count++;
    s->st.records[dir]++;
    if (d->encrypted || d->rec_type == CT_APPDATA)
        s->st.encrypted_records[dir]++;
    /* A partial handshake message must continue in the next handshake record. */
    if (d->rec_type != CT_HANDSHAKE && d->hs_hdr_len > 0 && !d->encrypted) {
        tls_set_event(s, TLS_EV_INVALID_HANDSHAKE_MESSAGE);
        hs_reset(d, 0);
    }
    switch (d->rec_type) {
    case CT_HANDSHAKE:
        if (len == 0 && !d->encrypted)
            tls_set_event(s, TLS_EV_HANDSHAKE_INVALID_LENGTH);
        break;
    case CT_HEARTBEAT:
        tls_set_event(s, TLS_EV_HEARTBEAT_MESSAGE);
        break;
    case CT_APPDATA:
        d->app_data = 1;
        if (!d->encrypted)
            set_encrypted(s, dir);
        break;
    default:
        break;
    }
    return 0;
}

/* The end of the current record's body. */
static void record_end(struct tls_state *s, int dir)
{
    struct tls_dir *d = &s->d[dir];
    d->in_body = 0;
    d->hdr_len = 0;
    if (d->rec_type == CT_CCS) {
        d->ccs = 1;
        if (!d->encrypted)
            set_encrypted(s, dir);
    }
}

/* SSLv2 records: only a direction's first record may be one, and then every later one too. */
static int sslv2_record_body(struct tls_state *s, int dir, const uint8_t *p, uint32_t n)
{
    if (n < 1)
        return 0;
    if (dir == 0 && p[0] == 1 && s->ch == NULL) { /* CLIENT-HELLO */
        struct tls_hello *h = calloc(1, sizeof(*h));
        if (h == NULL)
            return 0;
        if (tls_hello_parse_v2(h, p + 1, n - 1) < 0) {
            tls_set_event(s, TLS_EV_INVALID_SSLV2_HEADER);
            tls_hello_free(h);
            return 0;
        }
        s->ch = h;
        s->hello_done_flags |= 1;
    } else if (dir == 1 && p[0] == 4 && n >= 5 && s->sh == NULL) { /* SERVER-HELLO */
        struct tls_hello *h = calloc(1, sizeof(*h));
        if (h == NULL)
            return 0;
        h->sslv2 = 1;
        h->version = (uint16_t)(p[3] << 8 | p[4]);
        s->sh = h;
        s->hello_done_flags |= 2;
        s->ver_raw[0] = p[3];
        s->ver_raw[1] = p[4];
        s->server_hello_done = 1;
    }
    return 0;
}

int tls_feed(struct tls_state *s, int dir, const uint8_t *data, uint32_t len)
{
    if (dir != 0 && dir != 1)
        return -1;
    struct tls_dir *d = &s->d[dir];
    if (d->failed)
        return -1;
    s->st.bytes[dir] += len;
    if (d->desync)
        return 0;
    unsigned started = 0;
    while (len > 0) {
        if (!d->in_body) {
            if (d->hdr_len == 0) {
                /* An SSLv2 header has the high bit set: only as the first record or after one. */
                d->v2_ok |= (uint8_t)(d->rec_count == 0 && (data[0] & 0x80));
                d->hdr_need = (d->v2_ok && (data[0] & 0x80)) ? 2 : 5;
            }
            uint32_t need = d->hdr_need;
            uint32_t take = VG_MIN(need - d->hdr_len, len);
            memcpy(d->hdr + d->hdr_len, data, take);
            d->hdr_len = (uint8_t)(d->hdr_len + take);
            data += take;
            len -= take;
            if (d->hdr_len < need)
                return 0;
            if (record_start(s, dir) < 0) {
                d->failed = 1;
                hs_reset(d, 1);
                return -1;
            }
            if (++started == TLS_MAX_RECORDS_PER_FEED + 1)
                tls_set_event(s, TLS_EV_TOO_MANY_RECORDS_IN_PACKET);
            if (d->rec_left == 0)
                record_end(s, dir);
            continue;
        }
        uint32_t n = VG_MIN(len, d->rec_left);
        if (d->rec_type == CT_SSLV2) {
            /* The SSLv2 messages worth reading fit in one segment in practice. */
            if (d->rec_count == 1 && n == d->rec_left && d->rec_left == d->rec_len)
                sslv2_record_body(s, dir, data, n);
        } else {
            record_body(s, dir, data, n);
        }
        d->rec_left -= n;
        data += n;
        len -= n;
        if (d->rec_left == 0)
            record_end(s, dir);
    }
    return 0;
}

int tls_gap(struct tls_state *s, int dir, uint32_t len)
{
    if (dir != 0 && dir != 1)
        return -1;
    struct tls_dir *d = &s->d[dir];
    if (d->failed)
        return -1;
    s->st.gaps++;
    s->st.gap_bytes += len;
    s->st.bytes[dir] += len;
    if (d->desync || len == 0)
        return 0;
    if (d->in_body && len <= d->rec_left) {
        /* Still in step: only this record loses bytes. */
        if (d->rec_type == CT_HANDSHAKE && !d->encrypted && !d->hs_dead) {
            /* Message boundaries are lost: stop reading this direction's handshake. */
            tls_set_event(s, TLS_EV_STREAM_GAP);
            d->hs_dead = 1;
            hs_reset(d, 1);
        }
        d->rec_left -= len;
        if (d->rec_left == 0)
            record_end(s, dir);
        return 0;
    }
    tls_set_event(s, TLS_EV_STREAM_GAP);
    d->desync = 1;
    hs_reset(d, 1);
    return 0;
}

int tls_probe(const uint8_t *buf, uint32_t len)
{
    if (buf == NULL || len < 5)
        return 0;
    if (buf[0] == CT_HANDSHAKE && buf[1] == 3 && buf[2] <= 4) {
        uint32_t rlen = (uint32_t)buf[3] << 8 | buf[4];
        return rlen >= 4 && rlen <= TLS_MAX_RECORD_LEN;
    }
    if ((buf[0] & 0x80) && buf[2] == 1) { /* SSLv2 CLIENT-HELLO */
        uint32_t rlen = ((uint32_t)(buf[0] & 0x7f) << 8) | buf[1];
        uint16_t ver = (uint16_t)(buf[3] << 8 | buf[4]);
        return rlen >= 9 && (ver == 0x0002 || (ver >= 0x0300 && ver <= 0x0304));
    }
    return 0;
}

int tls_encrypted(const struct tls_state *s, int dir)
{
    return s->d[dir & 1].encrypted != 0;
}

int tls_client_hello_done(const struct tls_state *s)
{
    return (s->hello_done_flags & 1) != 0;
}

int tls_server_hello_done(const struct tls_state *s)
{
    return (s->hello_done_flags & 2) != 0;
}

int tls_handshake_done(const struct tls_state *s)
{
    const struct tls_dir *d = &s->d[1];
    return s->server_hello_done || d->chain.n > 0 || d->ccs || d->app_data ||
           (d->encrypted && s->sh != NULL) || d->failed || d->desync;
}

const struct tls_hello *tls_client_hello(const struct tls_state *s)
{
    return s->ch;
}

const struct tls_hello *tls_server_hello(const struct tls_state *s)
{
    return s->sh;
}

uint16_t tls_version(const struct tls_state *s)
{
    return (uint16_t)(s->ver_raw[0] << 8 | s->ver_raw[1]);
}

const char *tls_version_name(uint16_t v)
{
    static const struct {
        uint16_t v;
        const char *name;
    } names[] = {
        {0x0002, "SSLv2"},
        {0x0300, "SSLv3"},
        {0x0301, "TLSv1"},
        {0x0302, "TLS 1.1"},
        {0x0303, "TLS 1.2"},
        {0x0304, "TLS 1.3"},
        {0x7f1c, "TLS 1.3 draft-28"},
        {0x7f1b, "TLS 1.3 draft-27"},
        {0x7f1a, "TLS 1.3 draft-26"},
        {0x7f19, "TLS 1.3 draft-25"},
        {0x7f18, "TLS 1.3 draft-24"},
        {0x7f17, "TLS 1.3 draft-23"},
        {0x7f16, "TLS 1.3 draft-22"},
        {0x7f15, "TLS 1.3 draft-21"},
        {0x7f14, "TLS 1.3 draft-20"},
        {0x7f13, "TLS 1.3 draft-19"},
        {0x7f12, "TLS 1.3 draft-18"},
        {0x7f11, "TLS 1.3 draft-17"},
        {0x7f10, "TLS 1.3 draft-16"},
        {0x7f01, "TLS 1.3 draft-<16"},
        {0xfb14, "TLS 1.3 draft-20-fb"},
        {0xfb15, "TLS 1.3 draft-21-fb"},
        {0xfb16, "TLS 1.3 draft-22-fb"},
        {0xfb17, "TLS 1.3 draft-23-fb"},
        {0xfb1a, "TLS 1.3 draft-26-fb"},
    };
    for (size_t i = 0; i < VG_ARRAY_LEN(names); i++)
        if (names[i].v == v)
            return names[i].name;
    return "UNDETERMINED";
}

int tls_session_resumed(const struct tls_state *s)
{
    uint16_t v = tls_version(s);
    return s->sh != NULL && !is_tls13(v) && s->d[1].ccs && s->d[1].chain.n == 0;
}

const char *tls_ja3_string(const struct tls_state *s)
{
    return s->ja3_str;
}

const char *tls_ja3_hash(const struct tls_state *s)
{
    return s->ja3_str ? s->ja3_hash : NULL;
}

const char *tls_ja3s_string(const struct tls_state *s)
{
    return s->ja3s_str;
}

const char *tls_ja3s_hash(const struct tls_state *s)
{
    return s->ja3s_str ? s->ja3s_hash : NULL;
}

const char *tls_ja4(const struct tls_state *s)
{
    return s->ja4[0] ? s->ja4 : NULL;
}

unsigned tls_cert_count(const struct tls_state *s, int dir)
{
    return (dir == 0 || dir == 1) ? s->d[dir].chain.n : 0;
}

const uint8_t *tls_cert_der(const struct tls_state *s, int dir, unsigned idx, uint32_t *len)
{
    if ((dir != 0 && dir != 1) || idx >= s->d[dir].chain.n)
        return NULL;
    *len = s->d[dir].chain.len[idx];
    return s->d[dir].chain.der[idx];
}

const struct tls_cert_info *tls_cert_info(const struct tls_state *s, int dir)
{
    if ((dir != 0 && dir != 1) || !s->d[dir].chain.parsed)
        return NULL;
    return &s->d[dir].chain.info;
}

static const uint8_t *str_buf(const char *str, uint32_t *len)
{
    if (str == NULL)
        return NULL;
    *len = (uint32_t)strlen(str);
    return (const uint8_t *)str;
}

const uint8_t *tls_buffer(struct tls_state *s, unsigned buf, int dir, unsigned idx, uint32_t *len)
{
    if (s == NULL || len == NULL)
        return NULL;
    const struct tls_cert_info *ci = tls_cert_info(s, dir);
    switch (buf) {
    case DB_TLS_SNI:
        if (s->ch == NULL || s->ch->sni == NULL)
            return NULL;
        *len = s->ch->sni_len;
        return (const uint8_t *)s->ch->sni;
    case DB_TLS_CERT_SUBJECT:
        return ci ? str_buf(ci->subject, len) : NULL;
    case DB_TLS_CERT_ISSUER:
        return ci ? str_buf(ci->issuer, len) : NULL;
    case DB_TLS_CERT_SERIAL:
        return ci ? str_buf(ci->serial, len) : NULL;
    case DB_TLS_CERT_FINGERPRINT:
        return ci ? str_buf(ci->fingerprint, len) : NULL;
    case DB_TLS_CERTS:
        return tls_cert_der(s, dir, idx, len);
    case DB_TLS_VERSION:
        if (s->sh == NULL)
            return NULL;
        *len = 2;
        return s->ver_raw;
    case DB_JA3_HASH:
        return str_buf(tls_ja3_hash(s), len);
    case DB_JA3_STRING:
        return str_buf(s->ja3_str, len);
    case DB_JA3S_HASH:
        return str_buf(tls_ja3s_hash(s), len);
    case DB_JA3S_STRING:
        return str_buf(s->ja3s_str, len);
    default:
        return NULL;
    }
}
