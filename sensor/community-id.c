/* community-id.c: Community ID v1: SHA-1 over the ordered flow tuple, base64, "1:" prefix. */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <string.h>

#include "vigil/community_id.h"

/* ICMP types with a counterpart are two-way: the counterpart stands in for the port. */
static int icmp4_counterpart(uint8_t type)
{
    switch (type) {
    case 8: return 0;   /* echo -> reply */
    case 0: return 8;
    case 13: return 14; /* timestamp */
    case 14: return 13;
    case 15: return 16; /* information */
    case 16: return 15;
    case 10: return 9;  /* router solicitation/advertisement */
    case 9: return 10;
    case 17: return 18; /* address mask */
    case 18: return 17;
    default: return -1;
    }
}

static int icmp6_counterpart(uint8_t type)
{
    switch (type) {
    case 128: return 129; /* echo */
    case 129: return 128;
    case 133: return 134; /* router solicitation/advertisement */
    case 134: return 133;
    case 135: return 136; /* neighbour solicitation/advertisement */
    case 136: return 135;
    case 130: return 131; /* multicast listener query/report */
    case 131: return 130;
    case 144: return 145; /* home agent address discovery */
    case 145: return 144;
    case 139: return 140; /* who-are-you */
    case 140: return 139;
    default: return -1;
    }
}

/* SHA-1, fetched once: SHA1() looks the algorithm up again on every call (~5,000 instructions).
 * Each thread keeps one digest context (EVP_Digest makes and frees one per call), freed when
 * the thread ends. */
static EVP_MD *sha1_md;
static pthread_key_t ctx_key;
static int key_ok;
static pthread_once_t sha1_once = PTHREAD_ONCE_INIT;
static void free_ctx(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}
static void sha1_fetch(void)
{
    sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL);
    key_ok = pthread_key_create(&ctx_key, free_ctx) == 0;
}

/* SHA-1 of n bytes at buf into digest. 1, or 0 on failure. */
static int sha1(const uint8_t *buf, size_t n, unsigned char *digest)
{
    pthread_once(&sha1_once, sha1_fetch);
    if (sha1_md == NULL)
        return 0;
    EVP_MD_CTX *ctx = key_ok ? pthread_getspecific(ctx_key) : NULL;
    if (ctx == NULL) {
        if (!key_ok || (ctx = EVP_MD_CTX_new()) == NULL || pthread_setspecific(ctx_key, ctx) != 0) {
            EVP_MD_CTX_free(ctx);
            return EVP_Digest(buf, n, digest, NULL, sha1_md, NULL);
        }
    }
    unsigned len = 0;
    return EVP_DigestInit_ex2(ctx, sha1_md, NULL) && EVP_DigestUpdate(ctx, buf, n) &&
           EVP_DigestFinal_ex(ctx, digest, &len);
}

int community_id_v1(uint16_t seed, int ip_ver, const uint8_t *saddr, const uint8_t *daddr,
                    uint8_t proto, uint16_t sp, uint16_t dp, int has_ports, char *out,
                    size_t outlen)
{
    if (outlen < COMMUNITY_ID_LEN || (ip_ver != 4 && ip_ver != 6))
        return -1;
    size_t alen = ip_ver == 4 ? 4 : 16;
    int one_way = 0;

    if (proto == 1 || proto == 58) {
        int peer = proto == 1 ? icmp4_counterpart((uint8_t)sp) : icmp6_counterpart((uint8_t)sp);
        if (peer >= 0)
            dp = (uint16_t)peer; /* sp stays the type */
        else
            one_way = 1;         /* sp = type, dp = code */
        has_ports = 1;
    }

    /* Order the endpoints: the lower address (then port) goes first, unless one-way. */
    int c = memcmp(saddr, daddr, alen);
    if (!one_way && (c > 0 || (c == 0 && has_ports && sp > dp))) {
        const uint8_t *ta = saddr;
        saddr = daddr;
        daddr = ta;
        uint16_t tp = sp;
        sp = dp;
        dp = tp;
    }

    uint8_t buf[2 + 16 + 16 + 2 + 4];
    size_t n = 0;
    buf[n++] = (uint8_t)(seed >> 8);
    buf[n++] = (uint8_t)seed;
    memcpy(buf + n, saddr, alen);
    n += alen;
    memcpy(buf + n, daddr, alen);
    n += alen;
    buf[n++] = proto;
    buf[n++] = 0; /* padding */
    if (has_ports) {
        buf[n++] = (uint8_t)(sp >> 8);
        buf[n++] = (uint8_t)sp;
        buf[n++] = (uint8_t)(dp >> 8);
        buf[n++] = (uint8_t)dp;
    }

    unsigned char digest[SHA_DIGEST_LENGTH];
    if (!sha1(buf, n, digest))
        return -1;
    out[0] = '1';
    out[1] = ':';
    /* 20 bytes encode to 28 characters plus NUL. */
    EVP_EncodeBlock((unsigned char *)out + 2, digest, SHA_DIGEST_LENGTH);
    return 0;
}
