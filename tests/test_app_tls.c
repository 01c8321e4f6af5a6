/* test_app_tls.c: the TLS parser: hellos, JA3/JA4, reassembly, certificates, hostile input, EVE. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../sensor/app-tls-internal.h" /* tls_cert_info_parse */
#include "vigil/app-tls.h"
#include "vigil/decode.h"
#include "vigil/detect.h"

/* A growing byte buffer to build messages in. */
struct bb {
    uint8_t *p;
    size_t n, cap;
};

static void put(struct bb *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put8(struct bb *b, unsigned v)
{
    uint8_t x = (uint8_t)v;
    put(b, &x, 1);
}
static void put16(struct bb *b, unsigned v)
{
    put8(b, v >> 8);
    put8(b, v);
}
static void put24(struct bb *b, unsigned v)
{
    put8(b, v >> 16);
    put16(b, v & 0xffff);
}
static void bb_free(struct bb *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* Extensions. */
static void ext_raw(struct bb *e, unsigned type, const void *d, size_t n)
{
    put16(e, type);
    put16(e, (unsigned)n);
    put(e, d, n);
}
static void ext_sni(struct bb *e, const char *host)
{
    size_t n = strlen(host);
    put16(e, 0);
    put16(e, (unsigned)n + 5);
    put16(e, (unsigned)n + 3);
    put8(e, 0);
    put16(e, (unsigned)n);
    put(e, host, n);
}
static void ext_list16(struct bb *e, unsigned type, const uint16_t *v, unsigned n)
{
    put16(e, type);
    put16(e, n * 2 + 2);
    put16(e, n * 2);
    for (unsigned i = 0; i < n; i++)
        put16(e, v[i]);
}
static void ext_pf(struct bb *e, const uint8_t *v, unsigned n)
{
    put16(e, 11);
    put16(e, n + 1);
    put8(e, n);
    put(e, v, n);
}
static void ext_alpn(struct bb *e, const char *proto)
{
    size_t n = strlen(proto);
    put16(e, 16);
    put16(e, (unsigned)n + 3);
    put16(e, (unsigned)n + 1);
    put8(e, (unsigned)n);
    put(e, proto, n);
}
static void ext_versions(struct bb *e, const uint16_t *v, unsigned n)
{
    put16(e, 43);
    put16(e, n * 2 + 1);
    put8(e, n * 2);
    for (unsigned i = 0; i < n; i++)
        put16(e, v[i]);
}

/* A handshake message: type, 24-bit length, body. */
static void hs_msg(struct bb *out, unsigned type, const struct bb *body)
{
    put8(out, type);
    put24(out, (unsigned)body->n);
    put(out, body->p, body->n);
}

static void client_hello(struct bb *out, unsigned ver, const uint16_t *c, unsigned nc,
                         const struct bb *exts)
{
    struct bb b = {0};
    uint8_t random[32];
    memset(random, 0x11, sizeof(random));
    put16(&b, ver);
    put(&b, random, 32);
    put8(&b, 4);
    put(&b, "\x01\x02\x03\x04", 4);
    put16(&b, nc * 2);
    for (unsigned i = 0; i < nc; i++)
        put16(&b, c[i]);
    put8(&b, 1);
    put8(&b, 0);
    if (exts) {
        put16(&b, (unsigned)exts->n);
        put(&b, exts->p, exts->n);
    }
    hs_msg(out, 1, &b);
    bb_free(&b);
}

static void server_hello(struct bb *out, unsigned ver, unsigned cipher, const struct bb *exts,
                         int sid_len)
{
    struct bb b = {0};
    uint8_t random[32];
    memset(random, 0x22, sizeof(random));
    put16(&b, ver);
    put(&b, random, 32);
    put8(&b, (unsigned)sid_len);
    for (int i = 0; i < sid_len; i++)
        put8(&b, (unsigned)i + 1);
    put16(&b, cipher);
    put8(&b, 0);
    if (exts) {
        put16(&b, (unsigned)exts->n);
        put(&b, exts->p, exts->n);
    }
    hs_msg(out, 2, &b);
    bb_free(&b);
}

/* Wraps payload in records of type, at most frag bytes each. */
static void records(struct bb *out, unsigned type, const struct bb *payload, size_t frag)
{
    size_t off = 0;
    do {
        size_t n = payload->n - off < frag ? payload->n - off : frag;
        put8(out, type);
        put16(out, 0x0303);
        put16(out, (unsigned)n);
        put(out, payload->p + off, n);
        off += n;
    } while (off < payload->n);
}

static const char *buf_str(struct tls_state *s, unsigned id, int dir, char *tmp, size_t tmplen)
{
    uint32_t len = 0;
    const uint8_t *p = tls_buffer(s, id, dir, 0, &len);
    if (p == NULL)
        return NULL;
    snprintf(tmp, tmplen, "%.*s", (int)len, (const char *)p);
    return tmp;
}

/* The JA3 README's example hello: 769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,... */
static const uint16_t spec_ciphers[] = {47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4};
static void spec_hello_records(struct bb *out, size_t frag)
{
    struct bb e = {0}, m = {0};
    static const uint16_t groups[] = {23, 24, 25};
    static const uint8_t pf[] = {0};
    ext_sni(&e, "www.example.com");
    ext_list16(&e, 10, groups, 3);
    ext_pf(&e, pf, 1);
    client_hello(&m, 0x0301, spec_ciphers, 12, &e);
    records(out, 22, &m, frag);
    bb_free(&e);
    bb_free(&m);
}

Test(app_tls, ja3_spec_example)
{
    struct bb r = {0};
    spec_hello_records(&r, 16384);
    struct tls_state *s = tls_state_new();
    cr_assert_eq(tls_feed(s, 0, r.p, (uint32_t)r.n), 0);
    cr_assert(tls_client_hello_done(s));
    cr_assert_str_eq(tls_ja3_string(s),
                     "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0");
    cr_assert_str_eq(tls_ja3_hash(s), "ada70206e40642a3e4461f35503241d5");
    char tmp[256];
    cr_assert_str_eq(buf_str(s, DB_JA3_HASH, 0, tmp, sizeof(tmp)),
                     "ada70206e40642a3e4461f35503241d5");
    cr_assert_str_eq(buf_str(s, DB_TLS_SNI, 0, tmp, sizeof(tmp)), "www.example.com");
    cr_assert_null(tls_ja3s_hash(s));
    cr_assert_null(buf_str(s, DB_JA3S_HASH, 1, tmp, sizeof(tmp)));
    cr_assert_null(buf_str(s, DB_TLS_VERSION, 1, tmp, sizeof(tmp)));
    cr_assert_eq(tls_server_hello_done(s), 0);
    cr_assert_eq(tls_handshake_done(s), 0);
    cr_assert_eq(tls_events(s), 0);
    tls_state_free(s);
    bb_free(&r);
}

/* A modern ClientHello with GREASE, ALPN, signature algorithms and supported_versions. */
static void modern_hello(struct bb *msg)
{
    static const uint16_t ciphers[] = {0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f};
    static const uint16_t groups[] = {0x2a2a, 29, 23, 24};
    static const uint16_t sigalgs[] = {0x0403, 0x0804, 0x0401};
    static const uint16_t versions[] = {0x3a3a, 0x0304, 0x0303};
    static const uint8_t pf[] = {0};
    struct bb e = {0};
    ext_raw(&e, 0x1a1a, NULL, 0);
    ext_sni(&e, "grease.example");
    ext_list16(&e, 10, groups, 4);
    ext_pf(&e, pf, 1);
    ext_list16(&e, 13, sigalgs, 3);
    ext_alpn(&e, "h2");
    ext_versions(&e, versions, 3);
    ext_raw(&e, 0xfafa, "\x00", 1);
    client_hello(msg, 0x0303, ciphers, 6, &e);
    bb_free(&e);
}

/* First 12 hex digits of SHA-256 of text. */
static void sha256_12(const char *text, char out[13])
{
    unsigned char d[32];
    unsigned dl;
    EVP_Digest(text, strlen(text), d, &dl, EVP_sha256(), NULL);
    for (int i = 0; i < 6; i++)
        snprintf(out + i * 2, 3, "%02x", d[i]);
}

Test(app_tls, grease_removed_and_fields)
{
    struct bb m = {0}, r = {0};
    modern_hello(&m);
    records(&r, 22, &m, 16384);
    struct tls_state *s = tls_state_new();
    cr_assert_eq(tls_feed(s, 0, r.p, (uint32_t)r.n), 0);
    cr_assert_str_eq(tls_ja3_string(s),
                     "771,4865-4866-4867-49195-49199,0-10-11-13-16-43,29-23-24,0");
    const struct tls_hello *h = tls_client_hello(s);
    cr_assert_not_null(h);
    cr_assert_eq(h->version, 0x0303);
    cr_assert_eq(h->n_ciphers, 6); /* GREASE kept in the parsed list */
    cr_assert_eq(h->ciphers[0], 0x0a0a);
    cr_assert_eq(h->n_exts, 8);
    cr_assert_eq(h->exts[0], 0x1a1a);
    cr_assert_eq(h->n_groups, 4);
    cr_assert_eq(h->n_point_formats, 1);
    cr_assert_eq(h->n_sigalgs, 3);
    cr_assert_eq(h->n_versions, 3);
    cr_assert_eq(h->versions[1], 0x0304);
    cr_assert_eq(h->n_alpn, 1);
    cr_assert_str_eq(h->alpn[0], "h2");
    cr_assert_str_eq(h->sni, "grease.example");
    cr_assert_eq(h->session_id_len, 4);
    cr_assert_eq(h->session_id[3], 4);
    /* JA4: TCP, TLS 1.3, SNI, 5 ciphers, 6 extensions (no GREASE), ALPN h2. */
    char b[13], c[13], want[64];
    sha256_12("1301,1302,1303,c02b,c02f", b);
    sha256_12("000a,000b,000d,002b_0403,0804,0401", c);
    snprintf(want, sizeof(want), "t13d0506h2_%s_%s", b, c);
    cr_assert_str_eq(tls_ja4(s), want);
    tls_state_free(s);
    bb_free(&m);
    bb_free(&r);
}

/* Test certificates: one EC P-256 key for all. */
static EVP_PKEY *test_key(void)
{
    static EVP_PKEY *key;
    if (key == NULL)
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    cr_assert_not_null(key);
    return key;
}

static void name_add(X509_NAME *n, const char *f, const char *v)
{
    cr_assert(X509_NAME_add_entry_by_txt(n, f, MBSTRING_UTF8, (const unsigned char *)v, -1, -1, 0));
}

/* A certificate's DER: subject CN=cn (with C, ST, O before it), serial, SANs. */
static void make_cert(struct bb *out, const char *cn, const uint8_t *serial, int serial_len,
                      const char *san)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    BIGNUM *bn = BN_bin2bn(serial, serial_len, NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_NAME *sub = X509_NAME_new(), *iss = X509_NAME_new();
    name_add(sub, "C", "US");
    name_add(sub, "ST", "California");
    name_add(sub, "O", "Example, Inc.");
    name_add(sub, "CN", cn);
    name_add(iss, "C", "US");
    name_add(iss, "O", "Test CA");
    name_add(iss, "CN", "Test CA Root");
    X509_set_subject_name(x, sub);
    X509_set_issuer_name(x, iss);
    X509_NAME_free(sub);
    X509_NAME_free(iss);
    ASN1_TIME_set_string(X509_getm_notBefore(x), "190101000000Z");
    ASN1_TIME_set_string(X509_getm_notAfter(x), "20300615123456Z");
    X509_set_pubkey(x, test_key());
    if (san) {
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
        cr_assert_not_null(ext);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    cr_assert(X509_sign(x, test_key(), EVP_sha256()) > 0);
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    cr_assert_gt(len, 0);
    put(out, der, (size_t)len);
    OPENSSL_free(der);
    X509_free(x);
}

static void cert_msg(struct bb *out, struct bb *certs, int n)
{
    struct bb body = {0};
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += 3 + certs[i].n;
    put24(&body, (unsigned)total);
    for (int i = 0; i < n; i++) {
        put24(&body, (unsigned)certs[i].n);
        put(&body, certs[i].p, certs[i].n);
    }
    hs_msg(out, 11, &body);
    bb_free(&body);
}

static const uint8_t serial1[] = {0x8a, 0xbc, 0x01, 0x02};

/* The server's flight: ServerHello (TLS 1.2), Certificate (n certs), ServerHelloDone. */
static void server_flight(struct bb *r, struct bb *certs, int n, size_t frag)
{
    struct bb m = {0}, e = {0}, empty = {0};
    put(&e, "\xff\x01\x00\x01\x00", 5); /* renegotiation_info */
    ext_raw(&e, 0, NULL, 0);            /* SNI acknowledged */
    server_hello(&m, 0x0303, 0xc02f, &e, 0);
    cert_msg(&m, certs, n);
    hs_msg(&m, 14, &empty);
    records(r, 22, &m, frag);
    bb_free(&m);
    bb_free(&e);
}

static void check_cert_fields(struct tls_state *s, const struct bb *der)
{
    char tmp[512];
    cr_assert_str_eq(buf_str(s, DB_TLS_CERT_SUBJECT, 1, tmp, sizeof(tmp)),
                     "C=US, ST=California, O=Example, Inc., CN=www.example.com");
    cr_assert_str_eq(buf_str(s, DB_TLS_CERT_ISSUER, 1, tmp, sizeof(tmp)),
                     "C=US, O=Test CA, CN=Test CA Root");
    cr_assert_str_eq(buf_str(s, DB_TLS_CERT_SERIAL, 1, tmp, sizeof(tmp)), "00:8A:BC:01:02");
    unsigned char sha1[20];
    unsigned dl;
    EVP_Digest(der->p, der->n, sha1, &dl, EVP_sha1(), NULL);
    char fp[64] = "";
    for (int i = 0; i < 20; i++)
        snprintf(fp + i * 3, 4, i < 19 ? "%02x:" : "%02x", sha1[i]);
    cr_assert_str_eq(buf_str(s, DB_TLS_CERT_FINGERPRINT, 1, tmp, sizeof(tmp)), fp);
    const struct tls_cert_info *ci = tls_cert_info(s, 1);
    cr_assert_not_null(ci);
    cr_assert_str_eq(ci->notbefore, "2019-01-01T00:00:00");
    cr_assert_str_eq(ci->notafter, "2030-06-15T12:34:56");
    cr_assert_eq(ci->notbefore_ts, 1546300800);
    cr_assert_eq(ci->n_sans, 3);
    cr_assert_str_eq(ci->sans[0], "www.example.com");
    cr_assert_str_eq(ci->sans[1], "example.com");
    cr_assert_str_eq(ci->sans[2], "192.0.2.1");
}

#define SAN "DNS:www.example.com,DNS:example.com,IP:192.0.2.1"

Test(app_tls, certificate_fields_and_eve)
{
    struct bb certs[2] = {{0}}, ch = {0}, sf = {0};
    make_cert(&certs[0], "www.example.com", serial1, 4, SAN);
    make_cert(&certs[1], "Intermediate", (const uint8_t *)"\x01", 1, NULL);
    spec_hello_records(&ch, 16384);
    server_flight(&sf, certs, 2, 16384);
    struct tls_state *s = tls_state_new();
    cr_assert_eq(tls_feed(s, 0, ch.p, (uint32_t)ch.n), 0);
    cr_assert_eq(tls_feed(s, 1, sf.p, (uint32_t)sf.n), 0);
    cr_assert(tls_server_hello_done(s));
    cr_assert(tls_handshake_done(s));
    cr_assert_eq(tls_events(s), 0, "events %x", tls_events(s));
    check_cert_fields(s, &certs[0]);
    cr_assert_str_eq(tls_ja3s_string(s), "771,49199,65281-0");
    char tmp[64];
    uint32_t vlen;
    const uint8_t *v = tls_buffer(s, DB_TLS_VERSION, 1, 0, &vlen);
    cr_assert(v != NULL && vlen == 2 && v[0] == 3 && v[1] == 3);
    cr_assert_str_eq(buf_str(s, DB_JA3S_STRING, 1, tmp, sizeof(tmp)), "771,49199,65281-0");
    cr_assert_eq(strlen(buf_str(s, DB_JA3S_HASH, 1, tmp, sizeof(tmp))), 32);

    json_t *o = eve_tls_object(s, TLS_EVE_EXTENDED);
    cr_assert_str_eq(json_string_value(json_object_get(o, "subject")),
                     "C=US, ST=California, O=Example, Inc., CN=www.example.com");
    cr_assert_str_eq(json_string_value(json_object_get(o, "issuerdn")),
                     "C=US, O=Test CA, CN=Test CA Root");
    cr_assert_str_eq(json_string_value(json_object_get(o, "serial")), "00:8A:BC:01:02");
    cr_assert_str_eq(json_string_value(json_object_get(o, "sni")), "www.example.com");
    cr_assert_str_eq(json_string_value(json_object_get(o, "version")), "TLS 1.2");
    cr_assert_str_eq(json_string_value(json_object_get(o, "notbefore")), "2019-01-01T00:00:00");
    cr_assert_str_eq(json_string_value(json_object_get(o, "notafter")), "2030-06-15T12:34:56");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "ja3"), "hash")),
                     "ada70206e40642a3e4461f35503241d5");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "ja3s"), "string")),
                     "771,49199,65281-0");
    cr_assert_eq(json_string_length(json_object_get(o, "fingerprint")), 59);
    cr_assert_null(json_object_get(o, "session_resumed"));
    cr_assert_null(json_object_get(o, "chain"));
    json_decref(o);
    o = eve_tls_object(s, 0); /* basic: subject and issuer only */
    cr_assert_eq(json_object_size(o), 2);
    json_decref(o);
    o = eve_tls_object(s, TLS_EVE_EXTENDED | TLS_EVE_CERTS);
    cr_assert_eq(json_array_size(json_object_get(o, "chain")), 2);
    cr_assert_eq(json_array_size(json_object_get(o, "subjectaltname")), 3);
    cr_assert_not_null(json_string_value(json_object_get(o, "certificate")));
    json_decref(o);
    tls_state_free(s);
    for (int i = 0; i < 2; i++)
        bb_free(&certs[i]);
    bb_free(&ch);
    bb_free(&sf);
}

Test(app_tls, certs_multi_buffer)
{
    struct bb certs[3] = {{0}}, sf = {0};
    make_cert(&certs[0], "www.example.com", serial1, 4, SAN);
    make_cert(&certs[1], "Intermediate 1", (const uint8_t *)"\x02", 1, NULL);
    make_cert(&certs[2], "Intermediate 2", (const uint8_t *)"\x03", 1, NULL);
    server_flight(&sf, certs, 3, 16384);
    struct tls_state *s = tls_state_new();
    cr_assert_eq(tls_feed(s, 1, sf.p, (uint32_t)sf.n), 0);
    for (unsigned i = 0; i < 3; i++) {
        uint32_t len = 0;
        const uint8_t *p = tls_buffer(s, DB_TLS_CERTS, 1, i, &len);
        cr_assert_not_null(p, "cert %u", i);
        cr_assert_eq(len, certs[i].n);
        cr_assert_eq(memcmp(p, certs[i].p, len), 0);
    }
    uint32_t len;
    cr_assert_null(tls_buffer(s, DB_TLS_CERTS, 1, 3, &len));
    cr_assert_null(tls_buffer(s, DB_TLS_CERTS, 0, 0, &len));
    cr_assert_null(tls_buffer(s, DB_TLS_CERT_SUBJECT, 0, 0, &len));
    cr_assert_null(tls_buffer(s, DB_HTTP_URI, 1, 0, &len));
    cr_assert_eq(tls_cert_count(s, 1), 3);
    tls_state_free(s);
    for (int i = 0; i < 3; i++)
        bb_free(&certs[i]);
    bb_free(&sf);
}

/* Every split of the stream into two segments, and tiny records, give the same result. */
Test(app_tls, split_at_every_byte)
{
    struct bb certs[1] = {{0}}, ch = {0}, sf = {0};
    make_cert(&certs[0], "www.example.com", serial1, 4, SAN);
    spec_hello_records(&ch, 7); /* the hello over many 7-byte records */
    server_flight(&sf, certs, 1, 100);
    for (size_t k = 0; k <= ch.n; k++) {
        struct tls_state *s = tls_state_new();
        cr_assert_eq(tls_feed(s, 0, ch.p, (uint32_t)k), 0);
        cr_assert_eq(tls_feed(s, 0, ch.p + k, (uint32_t)(ch.n - k)), 0);
        cr_assert_str_eq(tls_ja3_hash(s), "ada70206e40642a3e4461f35503241d5", "split %zu", k);
        cr_assert_str_eq(tls_client_hello(s)->sni, "www.example.com");
        tls_state_free(s);
    }
    for (size_t k = 0; k <= sf.n; k++) {
        struct tls_state *s = tls_state_new();
        cr_assert_eq(tls_feed(s, 1, sf.p, (uint32_t)k), 0);
        cr_assert_eq(tls_feed(s, 1, sf.p + k, (uint32_t)(sf.n - k)), 0);
        cr_assert(tls_handshake_done(s), "split %zu", k);
        cr_assert_eq(tls_events(s), 0, "split %zu: events %x", k, tls_events(s));
        if (k == 0 || k == sf.n / 2)
            check_cert_fields(s, &certs[0]);
        else
            cr_assert_eq(tls_cert_count(s, 1), 1);
        tls_state_free(s);
    }
    /* One byte at a time. */
    struct tls_state *s = tls_state_new();
    for (size_t i = 0; i < sf.n; i++)
        cr_assert_eq(tls_feed(s, 1, sf.p + i, 1), 0);
    check_cert_fields(s, &certs[0]);
    tls_state_free(s);
    bb_free(&certs[0]);
    bb_free(&ch);
    bb_free(&sf);
}

Test(app_tls, tls13_server_hello)
{
    struct bb m = {0}, e = {0}, r = {0};
    put(&e, "\x00\x2b\x00\x02\x03\x04", 6); /* supported_versions: TLS 1.3 */
    put(&e, "\x00\x33\x00\x04\x00\x1d\x00\x00", 8);
    server_hello(&m, 0x0303, 0x1301, &e, 32);
    records(&r, 22, &m, 16384);
    put(&r, "\x14\x03\x03\x00\x01\x01", 6); /* middlebox-compatibility CCS */
    struct bb app = {0};
    put(&app, "encrypted extensions and certificate", 36);
    records(&r, 23, &app, 16384);
    records(&r, 23, &app, 16384);
    struct tls_state *s = tls_state_new();
    cr_assert_eq(tls_feed(s, 1, r.p, (uint32_t)r.n), 0);
    cr_assert(tls_server_hello_done(s));
    cr_assert(tls_handshake_done(s));
    cr_assert_eq(tls_version(s), 0x0304);
    cr_assert_str_eq(tls_version_name(tls_version(s)), "TLS 1.3");
    cr_assert_str_eq(tls_ja3s_string(s), "771,4865,43-51");
    cr_assert_eq(tls_server_hello(s)->session_id_len, 32);
    cr_assert_eq(tls_session_resumed(s), 0);
    struct tls_stats st;
    tls_stats_get(s, &st);
    cr_assert_eq(st.records[1], 4);
    cr_assert_eq(st.encrypted_records[1], 3);
    cr_assert_eq(st.bytes[1], r.n);
    json_t *o = eve_tls_object(s, TLS_EVE_EXTENDED);
    cr_assert_str_eq(json_string_value(json_object_get(o, "version")), "TLS 1.3");
    cr_assert_null(json_object_get(o, "subject"));
    json_decref(o);
    tls_state_free(s);
    bb_free(&m);
    bb_free(&e);
    bb_free(&r);
    bb_free(&app);
}

Test(app_tls, session_resumed)
{
    struct bb m = {0}, r = {0};
    server_hello(&m, 0x0303, 0xc02f, NULL, 32);
    records(&r, 22, &m, 16384);
    put(&r, "\x14\x03\x03\x00\x01\x01", 6);
    put(&r, "\x16\x03\x03\x00\x28", 5); /* encrypted Finished */
    for (int i = 0; i < 40; i++)
        put8(&r, 0xee);
    struct tls_state *s = tls_state_new();
    cr_assert_eq(tls_feed(s, 1, r.p, (uint32_t)r.n), 0);
    cr_assert(tls_handshake_done(s));
    cr_assert(tls_session_resumed(s));
    cr_assert_str_eq(tls_ja3s_string(s), "771,49199,");
    cr_assert_eq(tls_events(s), 0);
    json_t *o = eve_tls_object(s, TLS_EVE_EXTENDED);
    cr_assert(json_is_true(json_object_get(o, "session_resumed")));
    cr_assert_null(json_object_get(o, "sni"));
    cr_assert_null(json_object_get(o, "ja3"));
    json_decref(o);
    tls_state_free(s);
    bb_free(&m);
    bb_free(&r);
}

Test(app_tls, hostile_record_headers)
{
    struct tls_state *s = tls_state_new();
    /* 2^14 + 2048 + 1 bytes: too long for any TLS record. */
    const uint8_t too_long[] = {0x16, 0x03, 0x01, 0x48, 0x01, 0x01};
    cr_assert_eq(tls_feed(s, 0, too_long, sizeof(too_long)), -1);
    cr_assert(tls_events(s) & (1u << TLS_EV_INVALID_RECORD_LENGTH));
    cr_assert_eq(tls_feed(s, 0, too_long, sizeof(too_long)), -1); /* stays failed */
    /* The other direction is independent. */
    const uint8_t bad_type[] = {0x42, 0x03, 0x03, 0x00, 0x01, 0x00};
    cr_assert_eq(tls_feed(s, 1, bad_type, sizeof(bad_type)), -1);
    cr_assert(tls_events(s) & (1u << TLS_EV_INVALID_RECORD_TYPE));
    tls_state_free(s);

    s = tls_state_new();
    const uint8_t bad_ver[] = {0x16, 0x05, 0x01, 0x00, 0x10};
    cr_assert_eq(tls_feed(s, 0, bad_ver, sizeof(bad_ver)), -1);
    cr_assert(tls_events(s) & (1u << TLS_EV_INVALID_RECORD_VERSION));
    /* The maximum length is fine. */
    uint8_t ok[5 + TLS_MAX_RECORD_LEN] = {0x17, 0x03, 0x03, 0x48, 0x00};
    cr_assert_eq(tls_feed(s, 1, ok, sizeof(ok)), 0);
    tls_state_free(s);
}

Test(app_tls, hostile_handshake_lengths)
{
    /* A ClientHello claiming 16 MiB: skipped and reported. */
    struct bb r = {0}, body = {0};
    for (int i = 0; i < 1000; i++)
        put8(&body, 0x41);
    struct bb msg = {0};
    put8(&msg, 1);
    put24(&msg, 0xffffff);
    put(&msg, body.p, body.n);
    records(&r, 22, &msg, 16384);
    struct tls_state *s = tls_state_new();
    cr_assert_eq(tls_feed(s, 0, r.p, (uint32_t)r.n), 0);
    cr_assert(tls_events(s) & (1u << TLS_EV_HANDSHAKE_INVALID_LENGTH));
    cr_assert_eq(tls_client_hello_done(s), 0);
    tls_state_free(s);
    bb_free(&r);
    bb_free(&msg);
    bb_free(&body);

    /* An extension whose length runs past the extensions block. */
    struct bb e = {0};
    ext_sni(&e, "x.example");
    put(&e, "\x00\x0a\xff\xf0\x00\x02", 6);
    client_hello(&msg, 0x0303, spec_ciphers, 2, &e);
    records(&r, 22, &msg, 16384);
    s = tls_state_new();
    cr_assert_eq(tls_feed(s, 0, r.p, (uint32_t)r.n), 0);
    cr_assert(tls_events(s) & (1u << TLS_EV_INVALID_HANDSHAKE_MESSAGE));
    cr_assert_null(tls_ja3_hash(s));
    tls_state_free(s);
    bb_free(&r);
    bb_free(&msg);
    bb_free(&e);

    /* An SNI name longer than its extension. */
    put(&e, "\x00\x00\x00\x09\x00\x07\x00\x00\x50xxxx", 13);
    client_hello(&msg, 0x0303, spec_ciphers, 2, &e);
    records(&r, 22, &msg, 16384);
    s = tls_state_new();
    cr_assert_eq(tls_feed(s, 0, r.p, (uint32_t)r.n), 0);
    cr_assert(tls_events(s) & (1u << TLS_EV_INVALID_SNI_LENGTH));
    cr_assert_null(tls_client_hello(s)->sni);
    tls_state_free(s);
    bb_free(&r);
    bb_free(&msg);
    bb_free(&e);

    /* Two SNI extensions, the second of an unknown name type. */
    ext_sni(&e, "first.example");
    put(&e, "\x00\x00\x00\x06\x00\x04\x05\x00\x01x", 10);
    client_hello(&msg, 0x0303, spec_ciphers, 2, &e);
    records(&r, 22, &msg, 16384);
    s = tls_state_new();
    cr_assert_eq(tls_feed(s, 0, r.p, (uint32_t)r.n), 0);
    cr_assert(tls_events(s) & (1u << TLS_EV_MULTIPLE_SNI_EXTENSIONS));
    cr_assert_str_eq(tls_client_hello(s)->sni, "first.example");
    tls_state_free(s);
    bb_free(&r);
    bb_free(&msg);
    bb_free(&e);
}

Test(app_tls, oversized_certificate_truncated)
{
    /* A chain of 300 KiB: the first certificate is kept, the rest cut at 256 KiB. */
    struct bb certs[2] = {{0}}, sf = {0};
    make_cert(&certs[0], "www.example.com", serial1, 4, SAN);
    for (int i = 0; i < 300 * 1024; i++)
        put8(&certs[1], 0x30);
    server_flight(&sf, certs, 2, 16384);
    struct tls_state *s = tls_state_new();
    cr_assert_eq(tls_feed(s, 1, sf.p, (uint32_t)sf.n), 0);
    cr_assert(tls_events(s) & (1u << TLS_EV_CERTIFICATE_TRUNCATED));
    cr_assert_eq(tls_cert_count(s, 1), 1);
    check_cert_fields(s, &certs[0]);
    cr_assert(tls_server_hello_done(s));
    cr_assert(tls_handshake_done(s));
    tls_state_free(s);
    bb_free(&certs[0]);
    bb_free(&certs[1]);
    bb_free(&sf);
}

Test(app_tls, invalid_certificate_der)
{
    struct bb certs[1] = {{0}}, sf = {0};
    put(&certs[0], "\x30\x03\x02\x01\x01", 5);
    server_flight(&sf, certs, 1, 16384);
    struct tls_state *s = tls_state_new();
    cr_assert_eq(tls_feed(s, 1, sf.p, (uint32_t)sf.n), 0);
    cr_assert(tls_events(s) & (1u << TLS_EV_INVALID_CERTIFICATE));
    cr_assert_eq(tls_cert_count(s, 1), 1); /* tls.certs still sees the bytes */
    uint32_t len;
    cr_assert_null(tls_buffer(s, DB_TLS_CERT_SUBJECT, 1, 0, &len));
    json_t *o = eve_tls_object(s, TLS_EVE_EXTENDED);
    cr_assert_null(json_object_get(o, "subject"));
    json_decref(o);
    tls_state_free(s);
    bb_free(&certs[0]);
    bb_free(&sf);
}

Test(app_tls, probe_and_sslv2)
{
    struct bb r = {0};
    spec_hello_records(&r, 16384);
    cr_assert_eq(tls_probe(r.p, (uint32_t)r.n), 1);
    cr_assert_eq(tls_probe(r.p, 4), 0);
    bb_free(&r);
    cr_assert_eq(tls_probe((const uint8_t *)"GET / HTTP/1.1\r\n", 16), 0);
    cr_assert_eq(tls_probe((const uint8_t *)"\x17\x03\x03\x00\x10", 5), 0);
    cr_assert_eq(tls_probe((const uint8_t *)"\x16\x03\x05\x00\x10", 5), 0);
    cr_assert_eq(tls_probe((const uint8_t *)"\x16\x03\x01\x50\x00", 5), 0);
    /* SSLv2-format ClientHello offering TLS 1.0 (as old clients sent). */
    const uint8_t v2[] = {0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10, 0x00,
                          0x00, 0x2f, 0x00, 0x00, 0x35, 0x01, 0x00, 0x80, 0x00, 0x00, 0x0a, 0x07,
                          0x00, 0xc0, 0x00, 0x00, 0x05, 0x1,  0x2,  0x3,  0x4,  0x5,  0x6,  0x7,
                          0x8,  0x9,  0xa,  0xb,  0xc,  0xd,  0xe,  0xf,  0x10, 0x11, 0x12, 0x13};
    cr_assert_eq(tls_probe(v2, sizeof(v2)), 1);
    struct tls_state *s = tls_state_new();
    cr_assert_eq(tls_feed(s, 0, v2, sizeof(v2)), 0);
    cr_assert(tls_client_hello_done(s));
    const struct tls_hello *h = tls_client_hello(s);
    cr_assert(h->sslv2);
    cr_assert_eq(h->version, 0x0301);
    cr_assert_eq(h->n_ciphers, 4);
    cr_assert_eq(h->ciphers[0], 0x002f);
    cr_assert_null(tls_ja3_hash(s)); /* no JA3 for SSLv2 hellos, as Suricata */
    /* The server answers in TLS. */
    struct bb m = {0};
    server_hello(&m, 0x0301, 0x002f, NULL, 0);
    records(&r, 22, &m, 16384);
    cr_assert_eq(tls_feed(s, 1, r.p, (uint32_t)r.n), 0);
    cr_assert_str_eq(tls_version_name(tls_version(s)), "TLSv1");
    tls_state_free(s);
    bb_free(&m);
    bb_free(&r);
}

Test(app_tls, gaps)
{
    struct tls_state *s = tls_state_new();
    uint8_t rec[5 + 100] = {0x17, 0x03, 0x03, 0x00, 100};
    cr_assert_eq(tls_feed(s, 1, rec, 20), 0);
    cr_assert_eq(tls_gap(s, 1, 50), 0); /* inside the encrypted record: still in step */
    cr_assert_eq(tls_feed(s, 1, rec + 70, 35), 0);
    cr_assert_eq(tls_feed(s, 1, rec, sizeof(rec)), 0);
    struct tls_stats st;
    tls_stats_get(s, &st);
    cr_assert_eq(st.records[1], 2);
    cr_assert_eq(tls_events(s), 0);
    /* A gap past the record: the direction is out of step, counted, nothing parsed after. */
    cr_assert_eq(tls_gap(s, 1, 1000), 0);
    cr_assert(tls_events(s) & (1u << TLS_EV_STREAM_GAP));
    cr_assert_eq(tls_feed(s, 1, (const uint8_t *)"garbage!", 8), 0);
    tls_stats_get(s, &st);
    cr_assert_eq(st.records[1], 2);
    cr_assert_eq(st.gaps, 2);
    tls_state_free(s);

    /* A gap inside a handshake record: the hello is lost, not misparsed. */
    struct bb r = {0};
    spec_hello_records(&r, 16384);
    s = tls_state_new();
    cr_assert_eq(tls_feed(s, 0, r.p, 20), 0);
    cr_assert_eq(tls_gap(s, 0, 10), 0);
    cr_assert_eq(tls_feed(s, 0, r.p + 30, (uint32_t)r.n - 30), 0);
    cr_assert_eq(tls_client_hello_done(s), 0);
    cr_assert(tls_events(s) & (1u << TLS_EV_STREAM_GAP));
    tls_state_free(s);
    bb_free(&r);
}

Test(app_tls, too_many_records_and_names)
{
    struct bb r = {0};
    for (int i = 0; i < 300; i++)
        put(&r, "\x15\x03\x03\x00\x02\x01\x00", 7);
    struct tls_state *s = tls_state_new();
    cr_assert_eq(tls_feed(s, 0, r.p, (uint32_t)r.n), 0);
    cr_assert(tls_events(s) & (1u << TLS_EV_TOO_MANY_RECORDS_IN_PACKET));
    tls_state_free(s);
    bb_free(&r);
    cr_assert_str_eq(tls_event_name(TLS_EV_INVALID_RECORD_LENGTH), "INVALID_RECORD_LENGTH");
    cr_assert_str_eq(tls_event_name(TLS_EV_TOO_MANY_RECORDS_IN_PACKET),
                     "TOO_MANY_RECORDS_IN_PACKET");
    for (unsigned i = 0; i < TLS_EV__COUNT; i++)
        cr_assert_not_null(tls_event_name(i));
    cr_assert_null(tls_event_name(TLS_EV__COUNT));
    cr_assert_str_eq(tls_version_name(0x0300), "SSLv3");
    cr_assert_str_eq(tls_version_name(0x0302), "TLS 1.1");
    cr_assert_str_eq(tls_version_name(0x7f1c), "TLS 1.3 draft-28");
    cr_assert_str_eq(tls_version_name(0), "UNDETERMINED");
}

/*
 * Extended: the suricata-verify TLS captures, reassembled naively (one TCP connection each),
 * against tshark's and suricata-verify's expected values.
 */
struct conn {
    struct tls_state *s;
    uint32_t next[2];
    int have[2];
    uint16_t client_port;
};

static void pcap_feed(struct conn *c, const char *path)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(path, err);
    cr_assert_not_null(pc, "%s", err);
    struct pcap_pkthdr *h;
    const u_char *data;
    struct vg_decode_stats st;
    memset(&st, 0, sizeof(st));
    while (pcap_next_ex(pc, &h, &data) == 1) {
        struct vg_packet p;
        memset(&p, 0, sizeof(p));
        p.data = data;
        p.caplen = h->caplen;
        p.wirelen = h->len;
        p.datalink = (uint32_t)pcap_datalink(pc);
        if (decode_packet(&st, &p) < 0 || p.proto != 6)
            continue;
        if (c->client_port == 0)
            c->client_port = (p.tcp_flags & 0x12) == 0x12 ? p.dp : p.sp;
        int dir = p.sp == c->client_port ? 0 : 1;
        uint32_t seq = p.tcp_seq + ((p.tcp_flags & 0x02) ? 1 : 0);
        if (!c->have[dir]) {
            c->have[dir] = 1;
            c->next[dir] = seq;
        }
        const uint8_t *pl = vg_pkt_payload(&p);
        uint32_t n = p.payload_len;
        if (pl == NULL || (int32_t)(seq + n - c->next[dir]) <= 0)
            continue; /* nothing new */
        if ((int32_t)(seq - c->next[dir]) > 0) {
            tls_gap(c->s, dir, seq - c->next[dir]);
        } else {
            uint32_t skip = c->next[dir] - seq;
            pl += skip;
            n -= skip;
        }
        tls_feed(c->s, dir, pl, n);
        c->next[dir] = seq + p.payload_len;
    }
    pcap_close(pc);
}

static const char *shared_pcap(const char *name)
{
    static char path[1024];
    const char *shared = getenv("VIGIL_SHARED");
    struct stat sb;
    if (shared == NULL)
        return NULL;
    snprintf(path, sizeof(path), "%s/corpus/suricata-verify/tests/tls/%s/input.pcap", shared, name);
    return stat(path, &sb) == 0 ? path : NULL;
}

Test(app_tls_extended, suricata_verify_captures)
{
    static const struct {
        const char *name, *sni, *ja3, *ja3_string, *ja3s, *ja3s_string, *version;
    } cases[] = {
        {"tls-certs-alert", "example.com", "1fe4c7a3544eb27afec2adfb3a3dbf60",
         "771,49196-49200-159-52393-52392-52394-49195-49199-158-49188-49192-107-49187-49191-103-"
         "49162-49172-57-49161-49171-51-157-156-61-60-53-47-255,0-11-10-13172-16-22-23-13,29-23-"
         "25-24,0-1-2",
         "5d79edf64e03689ff559a54e9d9487bc", "771,49199,65281-0-11-16-23", "TLS 1.2"},
        {"tls-random-6989", "www.apple.com", "9a35e493f961ac377f948690b5334a9c",
         "769,47-53-5-10-49171-49172-49161-49162-50-56-19-4,0-10-11,23-24,0",
         "6aa98948bfa9626adc8d77e0f16d39c6", "769,49172,11", "TLSv1"},
        {"tls-random", NULL, "308b0bd904abbef5e0034a1ff7a78920",
         "771,49195-49199-158-49162-49161-49171-49172-49159-49169-51-50-57-156-47-53-10-5-4,65281-"
         "10-11-35-13172-16-30032-5-18-13,23-24-25,0",
         "ccc514751b175866924439bdbb5bba34", "771,49199,65281-11-35", "TLS 1.2"},
    };
    int ran = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *path = shared_pcap(cases[i].name);
        if (path == NULL)
            continue;
        ran++;
        struct conn c = {0};
        c.s = tls_state_new();
        pcap_feed(&c, path);
        struct tls_state *s = c.s;
        cr_assert(tls_handshake_done(s), "%s", cases[i].name);
        if (cases[i].sni)
            cr_assert_str_eq(tls_client_hello(s)->sni, cases[i].sni);
        cr_assert_str_eq(tls_ja3_string(s), cases[i].ja3_string, "%s", cases[i].name);
        cr_assert_str_eq(tls_ja3_hash(s), cases[i].ja3, "%s", cases[i].name);
        cr_assert_str_eq(tls_ja3s_string(s), cases[i].ja3s_string, "%s", cases[i].name);
        cr_assert_str_eq(tls_ja3s_hash(s), cases[i].ja3s, "%s", cases[i].name);
        cr_assert_str_eq(tls_version_name(tls_version(s)), cases[i].version);
        cr_assert_gt(tls_cert_count(s, 1), 0, "%s", cases[i].name);
        if (i == 0) {
            const struct tls_cert_info *ci = tls_cert_info(s, 1);
            cr_assert_not_null(ci);
            cr_assert_str_eq(ci->subject,
                             "C=US, ST=California, L=Los Angeles, O=Internet Corporation for "
                             "Assigned Names and Numbers, OU=Technology, CN=www.example.org");
            cr_assert_str_eq(ci->issuer, "C=US, O=DigiCert Inc, CN=DigiCert SHA2 Secure Server CA");
            cr_assert_str_eq(ci->serial, "0F:D0:78:DD:48:F1:A2:BD:4D:0F:2B:A9:6B:60:38:FE");
        }
        tls_state_free(s);
    }
    if (ran == 0)
        cr_skip_test("no shared corpus (VIGIL_SHARED)");
}

/* The certificate reader walks the DER itself: every truncation and every changed byte of a good
 * certificate gives a clean result (parsed or refused, never a crash or a leak). */
Test(app_tls, certificate_reader_hostile_der)
{
    struct bb der = {0};
    make_cert(&der, "www.example.com", serial1, 4, SAN);
    struct tls_cert_info info;
    cr_assert_eq(tls_cert_info_parse(&info, der.p, (uint32_t)der.n), 0);
    cr_assert_str_eq(info.serial, "00:8A:BC:01:02");
    cr_assert_eq(info.n_sans, 3);
    tls_cert_info_free(&info);
    for (size_t cut = 0; cut < der.n; cut++) /* a cut certificate never parses */
        cr_assert_eq(tls_cert_info_parse(&info, der.p, (uint32_t)cut), -1, "cut at %zu", cut);
    unsigned parsed = 0;
    for (size_t i = 0; i < der.n; i++) {
        uint8_t keep = der.p[i];
        der.p[i] ^= 0xa5;
        if (tls_cert_info_parse(&info, der.p, (uint32_t)der.n) == 0) {
            parsed++;
            cr_assert_not_null(info.subject);
            tls_cert_info_free(&info);
        }
        der.p[i] = keep;
    }
    cr_assert_lt(parsed, der.n, "damaged tags and lengths are refused");
    bb_free(&der);
}
