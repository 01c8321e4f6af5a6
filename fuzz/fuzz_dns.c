/* fuzz_dns.c: libFuzzer harness for DNS: one UDP message, the probes, the TCP framer, EVE. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/app-dns.h"
#include "vigil/eve-dns.h"

/*
 * Input: one configuration byte (TCP chunk size, gap position), then the bytes: parsed as one UDP
 * message, and fed as a TCP stream (length-prefixed messages) in chunks of that size.
 */

static struct dns_message *msg;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_dns: %s\n", what);
    abort();
}

/* Checks the bounds dns_parse_message promises and builds every EVE object. */
static void check(const uint8_t *buf, uint32_t len)
{
    uint8_t *copy = malloc(len ? len : 1); /* exact size, for ASan */
    if (copy == NULL)
        return;
    memcpy(copy, buf, len);
    int rc = dns_parse_message(copy, len, msg);
    free(copy);
    if ((rc == 0) != (msg->error == DNS_OK))
        fail("return code and error disagree");
    if (msg->arena_used > DNS_ARENA_SIZE || msg->nq > DNS_MAX_QUESTIONS ||
        msg->nan > DNS_MAX_ANSWERS || msg->nns > DNS_MAX_AUTHORITIES ||
        msg->nar > DNS_MAX_ADDITIONALS)
        fail("limits exceeded");
    for (unsigned i = 0; i < msg->nq; i++) {
        uint32_t l;
        const char *n = dns_query_name(msg, i, &l);
        if (n == NULL || l > DNS_NAME_MAX || msg->q[i].name.off + l > msg->arena_used)
            fail("query name outside the arena");
        json_t *q = eve_dns_query_object(msg, i, i);
        if (q == NULL)
            fail("no query object");
        char *s = json_dumps(q, JSON_COMPACT);
        free(s);
        json_decref(q);
    }
    for (int v = 1; v <= 2; v++) {
        json_t *a = eve_dns_answer_object(msg, v);
        if (a == NULL)
            fail("no answer object");
        char *s = json_dumps(a, JSON_COMPACT);
        if (s == NULL)
            fail("answer object does not serialise");
        free(s);
        json_decref(a);
    }
    struct dns_stats st;
    memset(&st, 0, sizeof(st));
    dns_stats_update(&st, msg, rc);
}

static void on_msg(void *ctx, int dir, const uint8_t *m, uint32_t len)
{
    (void)ctx;
    (void)dir;
    if (len > DNS_TCP_MAX)
        fail("TCP message larger than 65535");
    check(m, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (msg == NULL && (msg = malloc(sizeof(*msg))) == NULL)
        return 0;
    uint8_t cfg = data[0];
    data++;
    size--;
    if (size > 200000)
        return 0;
    uint32_t len = (uint32_t)size;
    check(data, len);
    int u = dns_probe_udp_strict(data, len);
    if (u != 0 && u != 1)
        fail("strict UDP probe out of range");
    dns_probe_udp(data, len);
    dns_probe_tcp(data, len);
    int strict = dns_probe_tcp_strict(data, len, 512);
    if (strict < -1 || strict > 1 || (strict == -1 && len >= 2 + 65535))
        fail("strict TCP probe out of range or wanting more than a message");

    struct dns_tcp_state st;
    struct dns_stats stats;
    memset(&stats, 0, sizeof(stats));
    dns_tcp_init(&st, &stats);
    uint32_t chunk = 1u + (cfg & 0x3f) * 7u;
    uint32_t gap_at = (cfg & 0x40) ? len / 2 : UINT32_MAX;
    int dir = cfg >> 7;
    for (uint32_t off = 0; off < len;) {
        uint32_t n = len - off < chunk ? len - off : chunk;
        if (off <= gap_at && gap_at < off + n) {
            dns_tcp_gap(&st, dir, n);
        } else {
            uint8_t *c = malloc(n);
            if (c == NULL)
                break;
            memcpy(c, data + off, n);
            if (dns_tcp_feed(&st, dir, c, n, on_msg, NULL) < 0)
                fail("feed failed");
            free(c);
        }
        if (st.d[dir].cap > DNS_TCP_MAX || st.d[dir].have > st.d[dir].cap)
            fail("TCP buffer beyond its bound");
        off += n;
    }
    dns_tcp_free(&st);
    return 0;
}
