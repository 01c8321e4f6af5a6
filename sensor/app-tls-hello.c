/* app-tls-hello.c: ClientHello and ServerHello bodies and their extensions (SNI, ALPN...). */
#include <stdlib.h>
#include <string.h>

#include "app-tls-internal.h"

/* Extension types. */
#define EXT_SNI 0
#define EXT_GROUPS 10
#define EXT_POINT_FORMATS 11
#define EXT_SIGALGS 13
#define EXT_ALPN 16
#define EXT_SUPPORTED_VERSIONS 43

/* A bounds-checked reader: every get fails (and sets err) past the end. */
struct rd {
    const uint8_t *p;
    uint32_t n;
    int err;
};

static uint32_t get_u8(struct rd *r)
{
    if (r->n < 1) {
        r->err = 1;
        return 0;
    }
    uint32_t v = r->p[0];
    r->p++;
    r->n--;
    return v;
}

static uint32_t get_u16(struct rd *r)
{
    if (r->n < 2) {
        r->err = 1;
        r->n = 0;
        return 0;
    }
    uint32_t v = (uint32_t)r->p[0] << 8 | r->p[1];
    r->p += 2;
    r->n -= 2;
    return v;
}

/* Takes len bytes as a sub-reader. */
static struct rd get_sub(struct rd *r, uint32_t len)
{
    struct rd sub = {r->p, 0, 0};
    if (len > r->n) {
        r->err = 1;
        sub.n = r->n; /* what there is, flagged */
        sub.err = 0;
        r->p += r->n;
        r->n = 0;
        return sub;
    }
    sub.n = len;
    r->p += len;
    r->n -= len;
    return sub;
}

void tls_hello_free(struct tls_hello *h)
{
    if (h == NULL)
        return;
    for (unsigned i = 0; i < h->n_alpn; i++)
        free(h->alpn[i]);
    free(h->sni);
    free(h);
}

/* Reads a list of 16-bit values into arr (at most max kept). */
static void read_u16_list(struct tls_hello *h, struct rd *r, uint16_t *arr, uint16_t *n,
                          unsigned max)
{
    while (r->n >= 2) {
        uint16_t v = (uint16_t)get_u16(r);
        if (*n < max)
            arr[(*n)++] = v;
        else
            h->truncated = 1;
    }
    if (r->n != 0)
        r->err = 1;
}

static void ext_sni(struct tls_state *s, struct tls_hello *h, struct rd *r)
{
    if (h->sni != NULL) {
        tls_set_event(s, TLS_EV_MULTIPLE_SNI_EXTENSIONS);
        return;
    }
    if (r->n == 0) /* a ServerHello's empty acknowledgement */
        return;
    uint32_t list_len = get_u16(r);
    struct rd l = get_sub(r, list_len);
    if (r->err) {
        tls_set_event(s, TLS_EV_INVALID_SNI_LENGTH);
        return;
    }
    while (l.n > 0 && h->sni == NULL) {
        uint32_t type = get_u8(&l);
        uint32_t nlen = get_u16(&l);
        if (l.err || nlen > l.n) {
            tls_set_event(s, TLS_EV_INVALID_SNI_LENGTH);
            return;
        }
        if (type != 0) { /* only host_name is defined */
            tls_set_event(s, TLS_EV_INVALID_SNI_TYPE);
            return;
        }
        h->sni = malloc(nlen + 1);
        if (h->sni == NULL)
            return;
        memcpy(h->sni, l.p, nlen);
        h->sni[nlen] = '\0';
        h->sni_len = nlen;
        l.p += nlen;
        l.n -= nlen;
    }
}

static void ext_alpn(struct tls_hello *h, struct rd *r)
{
    uint32_t list_len = get_u16(r);
    struct rd l = get_sub(r, list_len);
    while (l.n > 0) {
        uint32_t plen = get_u8(&l);
        if (l.err || plen > l.n) {
            r->err = 1;
            return;
        }
        if (h->n_alpn < TLS_MAX_ALPN) {
            char *a = malloc(plen + 1);
            if (a == NULL)
                return;
            memcpy(a, l.p, plen);
            a[plen] = '\0';
            h->alpn[h->n_alpn] = a;
            h->alpn_len[h->n_alpn] = (uint8_t)plen;
            h->n_alpn++;
        } else {
            h->truncated = 1;
        }
        l.p += plen;
        l.n -= plen;
    }
}

/* The extensions block; server is 1 for a ServerHello. Returns 0, or -1 if malformed. */
static int parse_extensions(struct tls_state *s, struct tls_hello *h, struct rd *r, int server)
{
    if (r->n == 0)
        return 0; /* no extensions at all */
    uint32_t total = get_u16(r);
    struct rd all = get_sub(r, total);
    if (r->err)
        return -1;
    while (all.n > 0) {
        uint16_t type = (uint16_t)get_u16(&all);
        uint32_t elen = get_u16(&all);
        if (all.err || elen > all.n)
            return -1;
        struct rd e = {all.p, elen, 0};
        all.p += elen;
        all.n -= elen;
        if (h->n_exts < TLS_MAX_EXTS)
            h->exts[h->n_exts++] = type;
        else
            h->truncated = 1;
        switch (type) {
        case EXT_SNI:
            ext_sni(s, h, &e);
            break;
        case EXT_GROUPS: {
            if (server)
                break;
            struct rd l = get_sub(&e, get_u16(&e));
            read_u16_list(h, &l, h->groups, &h->n_groups, TLS_MAX_GROUPS);
            break;
        }
        case EXT_POINT_FORMATS: {
            struct rd l = get_sub(&e, get_u8(&e));
            while (l.n > 0) {
                uint8_t v = (uint8_t)get_u8(&l);
                if (h->n_point_formats < TLS_MAX_POINT_FORMATS)
                    h->point_formats[h->n_point_formats++] = v;
                else
                    h->truncated = 1;
            }
            break;
        }
        case EXT_SIGALGS: {
            struct rd l = get_sub(&e, get_u16(&e));
            read_u16_list(h, &l, h->sigalgs, &h->n_sigalgs, TLS_MAX_SIGALGS);
            break;
        }
        case EXT_ALPN:
            ext_alpn(h, &e);
            break;
        case EXT_SUPPORTED_VERSIONS:
            if (server) {
                h->selected_version = (uint16_t)get_u16(&e);
            } else {
                struct rd l = get_sub(&e, get_u8(&e));
                read_u16_list(h, &l, h->versions, &h->n_versions, TLS_MAX_VERSIONS);
            }
            break;
        default:
            break;
        }
    }
    return 0;
}

/* The version, random and session id both hellos start with. */
static int parse_common(struct tls_hello *h, struct rd *r)
{
    h->version = (uint16_t)get_u16(r);
    struct rd random = get_sub(r, 32);
    (void)random;
    uint32_t sid_len = get_u8(r);
    if (r->err || sid_len > 32 || sid_len > r->n)
        return -1;
    memcpy(h->session_id, r->p, sid_len);
    h->session_id_len = (uint8_t)sid_len;
    r->p += sid_len;
    r->n -= sid_len;
    return 0;
}

int tls_hello_parse_client(struct tls_state *s, struct tls_hello *h, const uint8_t *p, uint32_t n)
{
    struct rd r = {p, n, 0};
    if (parse_common(h, &r) < 0)
        return -1;
    uint32_t clen = get_u16(&r);
    if (r.err || (clen & 1) || clen > r.n)
        return -1;
    struct rd c = get_sub(&r, clen);
    read_u16_list(h, &c, h->ciphers, &h->n_ciphers, TLS_MAX_CIPHERS);
    uint32_t comp_len = get_u8(&r);
    if (r.err || comp_len > r.n)
        return -1;
    r.p += comp_len;
    r.n -= comp_len;
    return parse_extensions(s, h, &r, 0);
}

int tls_hello_parse_server(struct tls_state *s, struct tls_hello *h, const uint8_t *p, uint32_t n)
{
    struct rd r = {p, n, 0};
    if (parse_common(h, &r) < 0)
        return -1;
    h->cipher = (uint16_t)get_u16(&r);
    get_u8(&r); /* compression method */
    if (r.err)
        return -1;
    return parse_extensions(s, h, &r, 1);
}

int tls_hello_parse_v2(struct tls_hello *h, const uint8_t *p, uint32_t n)
{
    struct rd r = {p, n, 0};
    h->sslv2 = 1;
    h->version = (uint16_t)get_u16(&r);
    uint32_t cs_len = get_u16(&r);
    uint32_t sid_len = get_u16(&r);
    uint32_t ch_len = get_u16(&r);
    if (r.err || cs_len % 3 != 0 || cs_len > r.n)
        return -1;
    (void)ch_len;
    struct rd c = get_sub(&r, cs_len);
    while (c.n >= 3) {
        uint32_t hi = get_u8(&c);
        uint16_t v = (uint16_t)get_u16(&c);
        if (hi != 0)
            continue; /* an SSLv2-only cipher kind */
        if (h->n_ciphers < TLS_MAX_CIPHERS)
            h->ciphers[h->n_ciphers++] = v;
        else
            h->truncated = 1;
    }
    if (sid_len <= 32 && sid_len <= r.n) {
        memcpy(h->session_id, r.p, sid_len);
        h->session_id_len = (uint8_t)sid_len;
    }
    return 0;
}
