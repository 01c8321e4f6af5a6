/* app-tls-cert.c: Certificate messages: the DER chain, and the first certificate's fields. */
#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app-tls-internal.h"

#define MAX_SANS 256

/* A growing string (NUL-terminated, never NULL once finished). */
struct str {
    char *s;
    size_t len, cap;
};

static void str_add(struct str *b, const char *t, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (s == NULL)
            return;
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, t, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static char *str_finish(struct str *b)
{
    if (b->s == NULL)
        return calloc(1, 1);
    return b->s;
}

/* The attribute name as Suricata (x509-parser) prints it. */
static void attr_name(const ASN1_OBJECT *obj, char *out, size_t outlen)
{
    static const struct {
        int nid;
        const char *name;
    } names[] = {
        {NID_commonName, "CN"},
        {NID_countryName, "C"},
        {NID_localityName, "L"},
        {NID_stateOrProvinceName, "ST"},
        {NID_organizationName, "O"},
        {NID_organizationalUnitName, "OU"},
        {NID_jurisdictionCountryName, "msJurisdictionCountry"},
        {NID_jurisdictionStateOrProvinceName, "msJurisdictionStateOrProvince"},
        {NID_jurisdictionLocalityName, "msJurisdictionLocality"},
    };
    int nid = OBJ_obj2nid(obj);
    for (size_t i = 0; i < VG_ARRAY_LEN(names); i++) {
        if (names[i].nid == nid) {
            snprintf(out, outlen, "%s", names[i].name);
            return;
        }
    }
    const char *sn = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
    if (sn != NULL)
        snprintf(out, outlen, "%s", sn);
    else if (OBJ_obj2txt(out, (int)outlen, obj, 1) <= 0)
        snprintf(out, outlen, "?");
}

/* "C=US, O=Example, CN=host": RDNs in certificate order, multi-valued ones joined by " + ". */
static char *format_name(const X509_NAME *name)
{
    struct str b = {0};
    int n = X509_NAME_entry_count(name);
    int prev_set = -1;
    for (int i = 0; i < n; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        int set = X509_NAME_ENTRY_set(e);
        if (i > 0)
            str_add(&b, set == prev_set ? " + " : ", ", set == prev_set ? 3 : 2);
        prev_set = set;
        char key[80];
        attr_name(X509_NAME_ENTRY_get_object(e), key, sizeof(key));
        str_add(&b, key, strlen(key));
        str_add(&b, "=", 1);
        unsigned char *utf8 = NULL;
        int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
        if (len > 0)
            str_add(&b, (const char *)utf8, (size_t)len);
        OPENSSL_free(utf8);
    }
    return str_finish(&b);
}

/* Colon-separated hex of p ("AB:CD" or "ab:cd"). */
static char *colon_hex(const uint8_t *p, size_t n, int upper)
{
    const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char *out = malloc(n ? n * 3 : 1);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        out[i * 3] = hex[p[i] >> 4];
        out[i * 3 + 1] = hex[p[i] & 0xf];
        out[i * 3 + 2] = i + 1 < n ? ':' : '\0';
    }
    if (n == 0)
        out[0] = '\0';
    return out;
}

/* The serial's DER content bytes (a leading 00 kept), as Suricata prints them. */
static char *format_serial(const ASN1_INTEGER *serial)
{
    unsigned char *der = NULL;
    int len = i2d_ASN1_INTEGER(serial, &der);
    char *out = NULL;
    if (len >= 2) {
        size_t off = 2;
        if (der[1] & 0x80)
            off += der[1] & 0x7f;
        if (off <= (size_t)len)
            out = colon_hex(der + off, (size_t)len - off, 1);
    }
    OPENSSL_free(der);
    return out ? out : calloc(1, 1);
}

static void format_time(const ASN1_TIME *t, char out[24], int64_t *ts)
{
    struct tm tm;
    out[0] = '\0';
    *ts = 0;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return;
    strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm);
    *ts = (int64_t)timegm(&tm);
}

static void add_sans(struct tls_cert_info *info, const STACK_OF(X509_EXTENSION) * exts)
{
    GENERAL_NAMES *g = exts ? X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL) : NULL;
    if (g == NULL)
        return;
    int n = sk_GENERAL_NAME_num(g);
    if (n > MAX_SANS)
        n = MAX_SANS;
    info->sans = calloc((size_t)(n > 0 ? n : 1), sizeof(char *));
    for (int i = 0; info->sans != NULL && i < n; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(g, i);
        char ip[INET6_ADDRSTRLEN];
        const char *text = NULL;
        size_t len = 0;
        if (gn->type == GEN_DNS) {
            text = (const char *)ASN1_STRING_get0_data(gn->d.dNSName);
            len = (size_t)ASN1_STRING_length(gn->d.dNSName);
        } else if (gn->type == GEN_IPADD) {
            int alen = ASN1_STRING_length(gn->d.iPAddress);
            const unsigned char *a = ASN1_STRING_get0_data(gn->d.iPAddress);
            if ((alen == 4 && inet_ntop(AF_INET, a, ip, sizeof(ip))) ||
                (alen == 16 && inet_ntop(AF_INET6, a, ip, sizeof(ip)))) {
                text = ip;
                len = strlen(ip);
            }
        }
        if (text == NULL)
            continue;
        char *c = malloc(len + 1);
        if (c == NULL)
            break;
        memcpy(c, text, len);
        c[len] = '\0';
        info->sans[info->n_sans++] = c;
    }
    GENERAL_NAMES_free(g);
}

void tls_cert_info_free(struct tls_cert_info *info)
{
    free(info->subject);
    free(info->issuer);
    free(info->serial);
    free(info->fingerprint);
    for (unsigned i = 0; i < info->n_sans; i++)
        free(info->sans[i]);
    free(info->sans);
    memset(info, 0, sizeof(*info));
}

/* Parses der into info with d2i_X509; fingerprint is the SHA-1 of der. */
/* One DER element at *p (before end): its start, its content [*c, *c + *clen), its tag and
 * class; *p moves past it. 0, or -1 if it is malformed. OpenSSL's ASN1_get_object reads the TLV. */
struct der_el {
    const unsigned char *start, *c;
    long clen, len; /* content length; whole element length */
    int tag, cls;
};

static int der_next(const unsigned char **p, const unsigned char *end, struct der_el *el)
{
    if (*p >= end)
        return -1;
    el->start = *p;
    const unsigned char *q = *p;
    int rc = ASN1_get_object(&q, &el->clen, &el->tag, &el->cls, end - *p);
    if (rc & 0x80 || rc == 0x21 /* indefinite length: not DER */)
        return -1;
    el->c = q;
    el->len = (q - *p) + el->clen;
    *p = q + el->clen;
    return 0;
}

/*
 * Reads the fields Vigil logs from a certificate's DER. It walks the TBSCertificate's elements and
 * decodes only the ones it needs (serial, names, validity, extensions) with OpenSSL's d2i
 * functions: d2i_X509 would also decode the public key, which through OpenSSL 3's provider
 * machinery costs more than everything else here. 0, or -1 if malformed.
 */
static int parse_x509(struct tls_cert_info *info, const uint8_t *der, uint32_t len,
                      const uint8_t sha1[SHA_DIGEST_LENGTH])
{
    memset(info, 0, sizeof(*info));
    const unsigned char *p = der, *end = der + len;
    struct der_el cert, tbs, el;
    if (der_next(&p, end, &cert) < 0 || cert.tag != V_ASN1_SEQUENCE)
        return -1;
    p = cert.c;
    if (der_next(&p, cert.c + cert.clen, &tbs) < 0 || tbs.tag != V_ASN1_SEQUENCE)
        return -1;
    p = tbs.c;
    const unsigned char *tend = tbs.c + tbs.clen;
    if (der_next(&p, tend, &el) < 0)
        return -1;
    if (el.cls == V_ASN1_CONTEXT_SPECIFIC && el.tag == 0 && der_next(&p, tend, &el) < 0)
        return -1; /* [0] version, then the serial */
    struct der_el serial = el, alg, issuer, validity, subject, spki;
    if (serial.tag != V_ASN1_INTEGER || der_next(&p, tend, &alg) < 0 ||
        der_next(&p, tend, &issuer) < 0 || der_next(&p, tend, &validity) < 0 ||
        der_next(&p, tend, &subject) < 0 || der_next(&p, tend, &spki) < 0 ||
        issuer.tag != V_ASN1_SEQUENCE || validity.tag != V_ASN1_SEQUENCE ||
        subject.tag != V_ASN1_SEQUENCE || spki.tag != V_ASN1_SEQUENCE)
        return -1;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    while (p < tend && der_next(&p, tend, &el) == 0) /* [1], [2] unique ids, [3] extensions */
        if (el.cls == V_ASN1_CONTEXT_SPECIFIC && el.tag == 3 && exts == NULL) {
            const unsigned char *q = el.c;
            exts = d2i_X509_EXTENSIONS(NULL, &q, el.clen);
        }
    const unsigned char *q = serial.start;
    ASN1_INTEGER *sn = d2i_ASN1_INTEGER(NULL, &q, serial.len);
    q = issuer.start;
    X509_NAME *in = d2i_X509_NAME(NULL, &q, issuer.len);
    q = subject.start;
    X509_NAME *sub = d2i_X509_NAME(NULL, &q, subject.len);
    const unsigned char *vp = validity.c, *vend = validity.c + validity.clen;
    struct der_el nb, na;
    ASN1_TIME *tb = NULL, *ta = NULL;
    if (der_next(&vp, vend, &nb) == 0 && der_next(&vp, vend, &na) == 0) {
        q = nb.start;
        tb = d2i_ASN1_TIME(NULL, &q, nb.len);
        q = na.start;
        ta = d2i_ASN1_TIME(NULL, &q, na.len);
    }
    int rc = -1;
    if (sn != NULL && in != NULL && sub != NULL && tb != NULL && ta != NULL) {
        info->subject = format_name(sub);
        info->issuer = format_name(in);
        info->serial = format_serial(sn);
        info->fingerprint = colon_hex(sha1, SHA_DIGEST_LENGTH, 0);
        format_time(tb, info->notbefore, &info->notbefore_ts);
        format_time(ta, info->notafter, &info->notafter_ts);
        add_sans(info, exts);
        rc = info->subject && info->issuer && info->serial && info->fingerprint ? 0 : -1;
        if (rc < 0)
            tls_cert_info_free(info);
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ASN1_TIME_free(ta);
    ASN1_TIME_free(tb);
    X509_NAME_free(sub);
    X509_NAME_free(in);
    ASN1_INTEGER_free(sn);
    return rc;
}

/* Deep copy of a parsed certificate's fields. */
static int info_copy(struct tls_cert_info *dst, const struct tls_cert_info *src)
{
    *dst = *src;
    dst->subject = strdup(src->subject);
    dst->issuer = strdup(src->issuer);
    dst->serial = strdup(src->serial);
    dst->fingerprint = strdup(src->fingerprint);
    dst->sans = src->n_sans ? calloc(src->n_sans, sizeof(*dst->sans)) : NULL;
    int ok = dst->subject && dst->issuer && dst->serial && dst->fingerprint &&
             (src->n_sans == 0 || dst->sans != NULL);
    for (unsigned i = 0; ok && i < src->n_sans; i++)
        ok = (dst->sans[i] = strdup(src->sans[i])) != NULL;
    if (!ok) {
        if (dst->sans == NULL)
            dst->n_sans = 0;
        tls_cert_info_free(dst);
        return -1;
    }
    return 0;
}

/*
 * Servers send the same chains over and over, and OpenSSL 3's d2i_X509 decodes each public key
 * through its provider machinery (locks and lookups), so each thread keeps its last certificates
 * by SHA-1, direct-mapped. The cache lives until the thread ends.
 */
#define CERT_CACHE 64
struct cert_cache {
    struct {
        uint8_t sha1[SHA_DIGEST_LENGTH];
        int valid;
        struct tls_cert_info info;
    } e[CERT_CACHE];
};
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_free(void *v)
{
    struct cert_cache *c = v;
    for (unsigned i = 0; i < CERT_CACHE; i++)
        if (c->e[i].valid)
            tls_cert_info_free(&c->e[i].info);
    free(c);
}

static void cache_init(void)
{
    pthread_key_create(&cache_key, cache_free);
}

static struct cert_cache *thread_cache(void)
{
    pthread_once(&cache_once, cache_init);
    struct cert_cache *c = pthread_getspecific(cache_key);
    if (c == NULL && (c = calloc(1, sizeof(*c))) != NULL && pthread_setspecific(cache_key, c)) {
        free(c);
        c = NULL;
    }
    return c;
}

int tls_cert_info_parse(struct tls_cert_info *info, const uint8_t *der, uint32_t len)
{
    memset(info, 0, sizeof(*info));
    uint8_t sha1[SHA_DIGEST_LENGTH];
    if (SHA1(der, len, sha1) == NULL)
        return -1;
    struct cert_cache *c = thread_cache();
    if (c == NULL)
        return parse_x509(info, der, len, sha1);
    unsigned slot = (unsigned)(sha1[0] | sha1[1] << 8) % CERT_CACHE;
    if (c->e[slot].valid && memcmp(c->e[slot].sha1, sha1, sizeof(sha1)) == 0)
        return info_copy(info, &c->e[slot].info);
    if (parse_x509(info, der, len, sha1) < 0)
        return -1;
    if (c->e[slot].valid)
        tls_cert_info_free(&c->e[slot].info);
    c->e[slot].valid = info_copy(&c->e[slot].info, info) == 0;
    memcpy(c->e[slot].sha1, sha1, sizeof(sha1));
    return 0;
}

void tls_chain_free(struct tls_chain *c)
{
    for (unsigned i = 0; i < c->n; i++)
        free(c->der[i]);
    if (c->parsed)
        tls_cert_info_free(&c->info);
    memset(c, 0, sizeof(*c));
}

void tls_cert_parse_msg(struct tls_state *s, int dir, const uint8_t *p, uint32_t n, int truncated)
{
    struct tls_chain *c = &s->d[dir].chain;
    if (c->n > 0)
        return; /* the first chain of a direction is the one inspected */
    if (n < 3) {
        tls_set_event(s, TLS_EV_CERTIFICATE_INVALID_LENGTH);
        return;
    }
    uint32_t total = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    p += 3;
    n -= 3;
    if (total > n && !truncated) {
        tls_set_event(s, TLS_EV_CERTIFICATE_INVALID_LENGTH);
    } else if (total < n) {
        tls_set_event(s, TLS_EV_CERTIFICATE_INVALID_LENGTH);
        n = total;
    }
    while (n >= 3) {
        uint32_t len = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
        p += 3;
        n -= 3;
        if (len > n) {
            if (!truncated)
                tls_set_event(s, TLS_EV_CERTIFICATE_INVALID_LENGTH);
            break;
        }
        if (len == 0) {
            tls_set_event(s, TLS_EV_INVALID_CERTIFICATE);
        } else if (c->n == TLS_MAX_CHAIN) {
            tls_set_event(s, TLS_EV_CERTIFICATE_TRUNCATED);
            s->st.truncated++;
            break;
        } else {
            uint8_t *der = malloc(len);
            if (der == NULL)
                break;
            memcpy(der, p, len);
            c->der[c->n] = der;
            c->len[c->n] = len;
            c->n++;
            s->st.certs++;
        }
        p += len;
        n -= len;
    }
    if (c->n > 0) {
        if (tls_cert_info_parse(&c->info, c->der[0], c->len[0]) == 0) {
            c->parsed = 1;
        } else {
            tls_set_event(s, TLS_EV_INVALID_CERTIFICATE);
            tls_set_event(s, TLS_EV_CERTIFICATE_INVALID_DER);
        }
    }
}
