/* detect-buffers.c: the buffers rules inspect (sticky buffers, legacy modifiers) and their
 * transforms. */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "detect-internal.h"

#define TS 1 /* to server */
#define TC 2 /* to client */
#define L DETECT_PROG_LINE
#define H DETECT_PROG_HEADERS
#define C DETECT_PROG_COMPLETE

/*
 * Each buffer with its sticky keyword, an alias, the legacy content modifier, its protocol, the
 * directions it exists in, and the transaction progress (per direction) it is complete at.
 */
static const struct detect_buffer_info buffers[DB__COUNT] = {
    [DB_PAYLOAD] = {"pkt_data", NULL, NULL, APP_UNKNOWN, TS | TC, {0, 0}, 0},
    [DB_HTTP_URI] = {"http.uri", "http_uri", "http_uri", APP_HTTP, TS, {L, 0}, 0},
    [DB_HTTP_URI_RAW] = {"http.uri.raw", "http_raw_uri", "http_raw_uri", APP_HTTP, TS, {L, 0}, 0},
    [DB_HTTP_METHOD] = {"http.method", "http_method", "http_method", APP_HTTP, TS, {L, 0}, 0},
    [DB_HTTP_PROTOCOL] = {"http.protocol", "http_protocol", NULL, APP_HTTP, TS | TC, {L, L}, 0},
    [DB_HTTP_REQUEST_LINE] =
        {"http.request_line", "http_request_line", NULL, APP_HTTP, TS, {L, 0}, 0},
    [DB_HTTP_HOST] = {"http.host", "http_host", "http_host", APP_HTTP, TS, {H, 0}, 0},
    [DB_HTTP_HOST_RAW] =
        {"http.host.raw", "http_raw_host", "http_raw_host", APP_HTTP, TS, {H, 0}, 0},
    [DB_HTTP_USER_AGENT] =
        {"http.user_agent", "http_user_agent", "http_user_agent", APP_HTTP, TS, {H, 0}, 0},
    [DB_HTTP_COOKIE] = {"http.cookie", "http_cookie", "http_cookie", APP_HTTP, TS | TC, {H, H}, 0},
    [DB_HTTP_REFERER] = {"http.referer", "http_referer", NULL, APP_HTTP, TS, {H, 0}, 0},
    [DB_HTTP_HEADER] = {"http.header", "http_header", "http_header", APP_HTTP, TS | TC, {H, H}, 0},
    [DB_HTTP_HEADER_RAW] =
        {"http.header.raw", "http_raw_header", "http_raw_header", APP_HTTP, TS | TC, {H, H}, 0},
    [DB_HTTP_HEADER_NAMES] =
        {"http.header_names", "http_header_names", NULL, APP_HTTP, TS | TC, {H, H}, 0},
    [DB_HTTP_CONTENT_TYPE] =
        {"http.content_type", "http_content_type", NULL, APP_HTTP, TS | TC, {H, H}, 0},
    [DB_HTTP_CONTENT_LEN] =
        {"http.content_len", "http_content_len", NULL, APP_HTTP, TS | TC, {H, H}, 0},
    [DB_HTTP_START] = {"http.start", "http_start", NULL, APP_HTTP, TS | TC, {H, H}, 0},
    [DB_HTTP_ACCEPT] = {"http.accept", "http_accept", NULL, APP_HTTP, TS, {H, 0}, 0},
    [DB_HTTP_ACCEPT_ENC] = {"http.accept_enc", "http_accept_enc", NULL, APP_HTTP, TS, {H, 0}, 0},
    [DB_HTTP_ACCEPT_LANG] = {"http.accept_lang", "http_accept_lang", NULL, APP_HTTP, TS, {H, 0}, 0},
    [DB_HTTP_CONNECTION] =
        {"http.connection", "http_connection", NULL, APP_HTTP, TS | TC, {H, H}, 0},
    [DB_HTTP_REQUEST_BODY] =
        {"http.request_body", "http_client_body", "http_client_body", APP_HTTP, TS, {C, 0}, 0},
    [DB_HTTP_STAT_CODE] =
        {"http.stat_code", "http_stat_code", "http_stat_code", APP_HTTP, TC, {0, L}, 0},
    [DB_HTTP_STAT_MSG] =
        {"http.stat_msg", "http_stat_msg", "http_stat_msg", APP_HTTP, TC, {0, L}, 0},
    [DB_HTTP_RESPONSE_LINE] =
        {"http.response_line", "http_response_line", NULL, APP_HTTP, TC, {0, L}, 0},
    [DB_HTTP_SERVER] = {"http.server", "http_server", NULL, APP_HTTP, TC, {0, H}, 0},
    [DB_HTTP_LOCATION] = {"http.location", "http_location", NULL, APP_HTTP, TC, {0, H}, 0},
    [DB_FILE_DATA] = {"file.data", "file_data", NULL, APP_UNKNOWN, TS | TC, {C, C}, 0},
    [DB_DNS_QUERY] = {"dns.query", "dns_query", NULL, APP_DNS, TS, {L, 0}, 1},
    [DB_TLS_SNI] = {"tls.sni", "tls_sni", NULL, APP_TLS, TS, {L, 0}, 0},
    [DB_TLS_CERT_SUBJECT] = {"tls.cert_subject", "tls_cert_subject", NULL, APP_TLS, TC, {0, H}, 0},
    [DB_TLS_CERT_ISSUER] = {"tls.cert_issuer", "tls_cert_issuer", NULL, APP_TLS, TC, {0, H}, 0},
    [DB_TLS_CERT_SERIAL] = {"tls.cert_serial", "tls_cert_serial", NULL, APP_TLS, TC, {0, H}, 0},
    [DB_TLS_CERT_FINGERPRINT] =
        {"tls.cert_fingerprint", "tls_cert_fingerprint", NULL, APP_TLS, TC, {0, H}, 0},
    [DB_TLS_CERTS] = {"tls.certs", NULL, NULL, APP_TLS, TC, {0, H}, 1},
    [DB_TLS_VERSION] = {"tls.version.raw", NULL, NULL, APP_TLS, TC, {0, L}, 0},
    [DB_JA3_HASH] = {"ja3.hash", "ja3_hash", NULL, APP_TLS, TS, {L, 0}, 0},
    [DB_JA3_STRING] = {"ja3.string", "ja3_string", NULL, APP_TLS, TS, {L, 0}, 0},
    [DB_JA3S_HASH] = {"ja3s.hash", "ja3s_hash", NULL, APP_TLS, TC, {0, L}, 0},
    [DB_JA3S_STRING] = {"ja3s.string", "ja3s_string", NULL, APP_TLS, TC, {0, L}, 0},
    [DB_BASE64_DATA] = {"base64_data", NULL, NULL, APP_UNKNOWN, TS | TC, {0, 0}, 0},
    /* A tracked file's name and type: inspected by detect_file, not with transactions. */
    [DB_FILE_NAME] = {"file.name", NULL, NULL, APP_UNKNOWN, TS | TC, {0, 0}, 0},
    [DB_FILE_MAGIC] = {"file.magic", NULL, NULL, APP_UNKNOWN, TS | TC, {0, 0}, 0},
};

/* Sticky names Suricata also accepts for a buffer. */
static const struct {
    const char *name;
    unsigned id;
} extra_names[] = {
    {"http.response_body", DB_FILE_DATA},
    {"http_server_body", DB_FILE_DATA},
    {"http.server_body", DB_FILE_DATA},
    {"http.request_header", DB_HTTP_HEADER},
    {"http.response_header", DB_HTTP_HEADER},
    {"http.client_body", DB_HTTP_REQUEST_BODY},
    {"tls.subject", DB_TLS_CERT_SUBJECT},
    {"tls.issuerdn", DB_TLS_CERT_ISSUER},
    {"pkt_data", DB_PAYLOAD},
};

const struct detect_buffer_info *detect_buffer_info(unsigned id)
{
    return id < DB__COUNT ? &buffers[id] : NULL;
}

/* Buffer names (sticky names, aliases, modifiers) hashed once; modifiers win over aliases. */
#define BUF_SLOTS 512
static struct {
    const char *name;
    int id, modifier;
} bufnames[BUF_SLOTS];
static pthread_once_t bufnames_once = PTHREAD_ONCE_INIT;

static unsigned buf_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h & (BUF_SLOTS - 1);
}

static void buf_add(const char *name, unsigned id, int modifier)
{
    unsigned i = buf_hash(name);
    while (bufnames[i].name != NULL && strcmp(bufnames[i].name, name) != 0)
        i = (i + 1) & (BUF_SLOTS - 1);
    if (bufnames[i].name != NULL && bufnames[i].modifier)
        return; /* a modifier keeps its meaning */
    bufnames[i].name = name;
    bufnames[i].id = (int)id;
    bufnames[i].modifier = modifier;
}

static void bufnames_init(void)
{
    for (unsigned i = 0; i < DB__COUNT; i++)
        if (buffers[i].modifier)
            buf_add(buffers[i].modifier, i, 1);
    for (unsigned i = 0; i < DB__COUNT; i++) {
        buf_add(buffers[i].name, i, 0);
        if (buffers[i].alias)
            buf_add(buffers[i].alias, i, 0);
    }
    for (size_t i = 0; i < sizeof(extra_names) / sizeof(extra_names[0]); i++)
        buf_add(extra_names[i].name, extra_names[i].id, 0);
}

int detect_buffer_lookup(const char *kw, int *is_modifier)
{
    pthread_once(&bufnames_once, bufnames_init);
    unsigned i = buf_hash(kw);
    while (bufnames[i].name != NULL) {
        if (strcmp(bufnames[i].name, kw) == 0) {
            *is_modifier = bufnames[i].modifier;
            return bufnames[i].id;
        }
        i = (i + 1) & (BUF_SLOTS - 1);
    }
    *is_modifier = 0;
    return -1;
}

static int grow(struct detect_thread *t, size_t need)
{
    if (t->xfcap >= need)
        return 0;
    size_t cap = t->xfcap ? t->xfcap : 4096;
    while (cap < need)
        cap *= 2;
    uint8_t *nb = realloc(t->xfbuf, cap);
    if (nb == NULL)
        return -1;
    t->xfbuf = nb;
    t->xfcap = cap;
    return 0;
}

uint32_t detect_transform(struct detect_thread *t, uint16_t xf, const uint8_t *in, uint32_t len,
                          const uint8_t **out)
{
    /* Transforms apply in Suricata's fixed order for the ones ET uses. */
    if (grow(t, (size_t)len + 2) < 0) {
        *out = in;
        return len;
    }
    uint8_t *b = t->xfbuf;
    uint32_t n = 0;
    if (xf & XF_DOTPREFIX)
        b[n++] = '.';
    for (uint32_t i = 0; i < len; i++) {
        uint8_t c = in[i];
        if ((xf & XF_URL_DECODE) && c == '%' && i + 2 < len && vg_hexval(in[i + 1]) >= 0 &&
            vg_hexval(in[i + 2]) >= 0) {
            c = (uint8_t)(vg_hexval(in[i + 1]) * 16 + vg_hexval(in[i + 2]));
            i += 2;
        } else if ((xf & XF_URL_DECODE) && c == '+') {
            c = ' ';
        }
        if ((xf & XF_STRIP_WS) && isspace(c))
            continue;
        if ((xf & XF_COMPRESS_WS) && isspace(c)) {
            if (n > 0 && b[n - 1] == ' ')
                continue;
            c = ' ';
        }
        if (xf & XF_TOLOWER)
            c = (uint8_t)tolower(c);
        b[n++] = c;
    }
    *out = b;
    return n;
}

int detect_fp_literal(const struct sig_buf *sb, const struct sm *m, const uint8_t **pat,
                      uint32_t *len)
{
    const uint8_t *p = m->c.pat;
    uint32_t n = m->c.len;
    if (m->flags & SM_F_FP_CHOP) {
        p += m->c.fp_off;
        n = m->c.fp_len;
    }
    if (sb->transforms & ~(XF_DOTPREFIX | XF_TOLOWER))
        return -1;
    /* dotprefix puts a '.' before the raw bytes: a literal that starts with '.' may have
     * matched that one, so the raw buffer holds the rest; any other literal is in it whole. */
    if ((sb->transforms & XF_DOTPREFIX) && n > 0 && p[0] == '.') {
        p++;
        n--;
    }
    if (n == 0)
        return -1;
    if (pat != NULL)
        *pat = p;
    if (len != NULL)
        *len = n;
    /* to_lowercase: the raw buffer holds the literal in some case. */
    return (m->flags & SM_F_NOCASE) || (sb->transforms & XF_TOLOWER) ? 1 : 0;
}
