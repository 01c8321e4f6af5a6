/* app-tls-fp.c: TLS client/server fingerprints: JA3, JA3S (MD5 via OpenSSL) and JA4. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app-tls-internal.h"

/* A growing string. */
struct sb {
    char *s;
    size_t len, cap;
    int err;
};

static void sb_add(struct sb *b, const char *text, size_t n)
{
    if (b->err)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (s == NULL) {
            b->err = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, text, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_num(struct sb *b, unsigned v)
{
    char num[12];
    int n = snprintf(num, sizeof(num), "%u", v);
    sb_add(b, num, (size_t)n);
}

/* Appends the non-GREASE values of a list, dash-separated. */
static void sb_list16(struct sb *b, const uint16_t *v, unsigned n)
{
    int first = 1;
    for (unsigned i = 0; i < n; i++) {
        if (tls_is_grease(v[i]))
            continue;
        if (!first)
            sb_add(b, "-", 1);
        sb_num(b, v[i]);
        first = 0;
    }
}

static int digest_hex(const EVP_MD *md, const void *p, size_t n, char *out, size_t hexlen)
{
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    static const char hex[] = "0123456789abcdef";
    if (EVP_Digest(p, n, dig, &dlen, md, NULL) != 1 || dlen * 2 < hexlen)
        return -1;
    for (size_t i = 0; i < hexlen; i++)
        out[i] = hex[(dig[i / 2] >> ((i & 1) ? 0 : 4)) & 0xf];
    out[hexlen] = '\0';
    return 0;
}

int tls_fp_md5_hex(const void *p, size_t n, char out[33])
{
    return digest_hex(EVP_md5(), p, n, out, 32);
}

/* JA4's version field: the highest non-GREASE supported_versions entry, else the hello's. */
static const char *ja4_version(const struct tls_hello *h)
{
    uint16_t v = 0;
    for (unsigned i = 0; i < h->n_versions; i++)
        if (!tls_is_grease(h->versions[i]) && h->versions[i] > v)
            v = h->versions[i];
    if (v == 0)
        v = h->version;
    switch (v) {
    case 0x0304:
        return "13";
    case 0x0303:
        return "12";
    case 0x0302:
        return "11";
    case 0x0301:
        return "10";
    case 0x0300:
        return "s3";
    case 0x0002:
        return "s2";
    default:
        return "00";
    }
}

/* ASCII letters and digits only (JA4 does not depend on the locale). */
static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int cmp_u16(const void *a, const void *b)
{
    uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
    return (x > y) - (x < y);
}

/* Appends 4-digit hex values, comma-separated. */
static void sb_hex16(struct sb *b, const uint16_t *v, unsigned n)
{
    char item[8];
    for (unsigned i = 0; i < n; i++) {
        int len = snprintf(item, sizeof(item), "%s%04x", i ? "," : "", v[i]);
        sb_add(b, item, (size_t)len);
    }
}

/* The first 12 hex digits of SHA-256 of text, or "000000000000" for an empty list. */
static void ja4_hash12(const char *text, size_t n, int empty, char out[13])
{
    if (empty || digest_hex(EVP_sha256(), text, n, out, 12) < 0)
        memcpy(out, "000000000000", 13);
}

static void ja4_compute(struct tls_state *s)
{
    const struct tls_hello *h = s->ch;
    uint16_t ciphers[TLS_MAX_CIPHERS], exts[TLS_MAX_EXTS];
    unsigned nc = 0, ne = 0, ne_all = 0;
    for (unsigned i = 0; i < h->n_ciphers; i++)
        if (!tls_is_grease(h->ciphers[i]))
            ciphers[nc++] = h->ciphers[i];
    for (unsigned i = 0; i < h->n_exts; i++) {
        uint16_t e = h->exts[i];
        if (tls_is_grease(e))
            continue;
        ne_all++;
        if (e != 0 && e != 16) /* SNI and ALPN are left out of the hash */
            exts[ne++] = e;
    }
    char alpn[3] = "00";
    if (h->n_alpn > 0 && h->alpn_len[0] > 0) {
        unsigned char f = (unsigned char)h->alpn[0][0];
        unsigned char l = (unsigned char)h->alpn[0][h->alpn_len[0] - 1];
        if (is_alnum(f) && is_alnum(l)) {
            alpn[0] = (char)f;
            alpn[1] = (char)l;
        } else {
            static const char hex[] = "0123456789abcdef";
            alpn[0] = hex[f >> 4];
            alpn[1] = hex[l & 0xf];
        }
    }
    qsort(ciphers, nc, sizeof(ciphers[0]), cmp_u16);
    qsort(exts, ne, sizeof(exts[0]), cmp_u16);

    struct sb b = {0};
    char hb[13], hc[13];
    sb_hex16(&b, ciphers, nc);
    ja4_hash12(b.s ? b.s : "", b.len, nc == 0, hb);
    b.len = 0;
    if (b.s)
        b.s[0] = '\0';
    sb_hex16(&b, exts, ne);
    unsigned nsig = 0;
    uint16_t sig[TLS_MAX_SIGALGS];
    for (unsigned i = 0; i < h->n_sigalgs; i++)
        if (!tls_is_grease(h->sigalgs[i]))
            sig[nsig++] = h->sigalgs[i];
    if (nsig > 0) {
        sb_add(&b, "_", 1);
        sb_hex16(&b, sig, nsig);
    }
    ja4_hash12(b.s ? b.s : "", b.len, ne == 0, hc);
    free(b.s);
    int sni = h->sni != NULL;
    snprintf(s->ja4, sizeof(s->ja4), "t%s%c%02u%02u%c%c_%s_%s", ja4_version(h), sni ? 'd' : 'i',
             VG_MIN(nc, 99u), VG_MIN(ne_all, 99u), alpn[0], alpn[1], hb, hc);
}

int tls_fp_client(struct tls_state *s)
{
    const struct tls_hello *h = s->ch;
    if (h == NULL || h->sslv2)
        return 0;
    struct sb b = {0};
    sb_num(&b, h->version);
    sb_add(&b, ",", 1);
    sb_list16(&b, h->ciphers, h->n_ciphers);
    sb_add(&b, ",", 1);
    sb_list16(&b, h->exts, h->n_exts);
    sb_add(&b, ",", 1);
    sb_list16(&b, h->groups, h->n_groups);
    sb_add(&b, ",", 1);
    for (unsigned i = 0; i < h->n_point_formats; i++) {
        if (i)
            sb_add(&b, "-", 1);
        sb_num(&b, h->point_formats[i]);
    }
    if (b.err || tls_fp_md5_hex(b.s, b.len, s->ja3_hash) < 0) {
        free(b.s);
        return -1;
    }
    free(s->ja3_str);
    s->ja3_str = b.s;
    ja4_compute(s);
    return 0;
}

int tls_fp_server(struct tls_state *s)
{
    const struct tls_hello *h = s->sh;
    if (h == NULL || h->sslv2)
        return 0;
    struct sb b = {0};
    sb_num(&b, h->version);
    sb_add(&b, ",", 1);
    sb_num(&b, h->cipher);
    sb_add(&b, ",", 1);
    sb_list16(&b, h->exts, h->n_exts);
    if (b.err || tls_fp_md5_hex(b.s, b.len, s->ja3s_hash) < 0) {
        free(b.s);
        return -1;
    }
    free(s->ja3s_str);
    s->ja3s_str = b.s;
    return 0;
}
