/* eve-tls.c: the "tls" object of EVE tls records, with Suricata's field names and formats. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "app-tls-internal.h"

/* The DER as base64 (Suricata's "certificate" and "chain" fields). */
static json_t *b64(const uint8_t *der, uint32_t len)
{
    size_t outlen = 4 * (((size_t)len + 2) / 3) + 1;
    unsigned char *out = malloc(outlen);
    if (out == NULL)
        return NULL;
    EVP_EncodeBlock(out, der, (int)len);
    json_t *j = json_string((const char *)out);
    free(out);
    return j;
}

/* A JSON string of n bytes; bytes that are not valid UTF-8 are taken as Latin-1. */
static json_t *safe_string(const char *v, size_t n)
{
    json_t *j = json_stringn(v, n);
    if (j != NULL)
        return j;
    char *u = malloc(n * 2 + 1);
    if (u == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x80) {
            u[k++] = (char)c;
        } else {
            u[k++] = (char)(0xc0 | (c >> 6));
            u[k++] = (char)(0x80 | (c & 0x3f));
        }
    }
    j = json_stringn(u, k);
    free(u);
    return j;
}

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v != NULL)
        json_object_set_new(o, key, safe_string(v, strlen(v)));
}

static void add_fp(json_t *o, const char *key, const char *hash, const char *str)
{
    if (hash == NULL || str == NULL)
        return;
    json_t *f = json_object();
    json_object_set_new(f, "hash", json_string(hash));
    json_object_set_new(f, "string", json_string(str));
    json_object_set_new(o, key, f);
}

/* subject, issuerdn, serial, fingerprint, notbefore, notafter of ci (the parts asked for). */
static void add_cert_fields(json_t *o, const struct tls_cert_info *ci, int ext)
{
    set_str(o, "subject", ci->subject);
    set_str(o, "issuerdn", ci->issuer);
    if (!ext)
        return;
    set_str(o, "serial", ci->serial);
    set_str(o, "fingerprint", ci->fingerprint);
    if (ci->notbefore[0])
        set_str(o, "notbefore", ci->notbefore);
    if (ci->notafter[0])
        set_str(o, "notafter", ci->notafter);
}

static void add_certs(json_t *o, const struct tls_state *s, int dir, const char *cert_key,
                      const char *chain_key)
{
    unsigned n = tls_cert_count(s, dir);
    if (n == 0)
        return;
    uint32_t len;
    const uint8_t *der = tls_cert_der(s, dir, 0, &len);
    json_object_set_new(o, cert_key, b64(der, len));
    json_t *chain = json_array();
    for (unsigned i = 0; i < n; i++) {
        der = tls_cert_der(s, dir, i, &len);
        json_array_append_new(chain, b64(der, len));
    }
    json_object_set_new(o, chain_key, chain);
}

json_t *eve_tls_object(const struct tls_state *s, int extended)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    const struct tls_cert_info *ci = tls_cert_info(s, 1);
    int ext = (extended & TLS_EVE_EXTENDED) != 0;
    if (ci != NULL) {
        set_str(o, "subject", ci->subject);
        set_str(o, "issuerdn", ci->issuer);
    }
    if (tls_session_resumed(s))
        json_object_set_new(o, "session_resumed", json_true());
    if (ext) {
        if (ci != NULL) {
            set_str(o, "serial", ci->serial);
            set_str(o, "fingerprint", ci->fingerprint);
        }
        const struct tls_hello *ch = tls_client_hello(s);
        if (ch != NULL && ch->sni != NULL)
            json_object_set_new(o, "sni", safe_string(ch->sni, ch->sni_len));
        set_str(o, "version", tls_version_name(tls_version(s)));
        if (ci != NULL) {
            if (ci->notbefore[0])
                set_str(o, "notbefore", ci->notbefore);
            if (ci->notafter[0])
                set_str(o, "notafter", ci->notafter);
        }
        add_fp(o, "ja3", tls_ja3_hash(s), tls_ja3_string(s));
        add_fp(o, "ja3s", tls_ja3s_hash(s), tls_ja3s_string(s));
        set_str(o, "ja4", tls_ja4(s));
        const struct tls_cert_info *cc = tls_cert_info(s, 0);
        if (cc != NULL) {
            json_t *client = json_object();
            add_cert_fields(client, cc, 1);
            json_object_set_new(o, "client", client);
        }
    }
    if (extended & TLS_EVE_CERTS) {
        add_certs(o, s, 1, "certificate", "chain");
        if (ci != NULL && ci->n_sans > 0) {
            json_t *sans = json_array();
            for (unsigned i = 0; i < ci->n_sans; i++)
                json_array_append_new(sans, safe_string(ci->sans[i], strlen(ci->sans[i])));
            json_object_set_new(o, "subjectaltname", sans);
        }
    }
    return o;
}
