/* test_tls_encrypted.c: tls encryption-handling: content rules stop at encrypted TLS data by
 * default. */
#include <criterion/criterion.h>
#include <string.h>

#include "../pcaps/pktgen.h"
#include "testutil.h"

/* One TLS record of type t around body. */
static size_t record(uint8_t *out, uint8_t t, const uint8_t *body, size_t n)
{
    out[0] = t;
    out[1] = 3;
    out[2] = 3;
    out[3] = (uint8_t)(n >> 8);
    out[4] = (uint8_t)n;
    memcpy(out + 5, body, n);
    return n + 5;
}

/* A ClientHello (type 1) or ServerHello (type 2) handshake with one cipher, no extensions. */
static size_t hello(uint8_t *out, uint8_t type)
{
    uint8_t hs[128];
    size_t n = 4;
    hs[n++] = 3, hs[n++] = 3;
    memset(hs + n, 0x42, 32), n += 32; /* random */
    hs[n++] = 0;                       /* session id */
    if (type == 1)
        hs[n++] = 0, hs[n++] = 2; /* cipher suites length */
    hs[n++] = 0, hs[n++] = 0x2f;  /* TLS_RSA_WITH_AES_128_CBC_SHA */
    if (type == 1)
        hs[n++] = 1;          /* compression methods length */
    hs[n++] = 0;              /* null compression */
    hs[n++] = 0, hs[n++] = 0; /* extensions length */
    hs[0] = type;
    hs[1] = 0, hs[2] = (uint8_t)((n - 4) >> 8), hs[3] = (uint8_t)(n - 4);
    return record(out, 22, hs, n);
}

/* Writes a TLS 1.2 session: hellos, ChangeCipherSpec both ways, then application data holding
 * the marker XYZZY each way. */
static void write_capture(const char *path)
{
    struct pg_writer *w = pg_open(path, 1, 0);
    cr_assert_not_null(w);
    struct pg_tcp_session s = {"10.10.1.20", "203.0.113.9", 40000, 443, 1000, 5000, 0};
    uint64_t ts = 1714521600000000ull;
    uint8_t buf[256];
    static const uint8_t ccs[] = {1};
    static const uint8_t data[] = "....encrypted....XYZZY....bytes....";
    pg_session_open(w, &s, &ts);
    pg_session_data(w, &s, 1, buf, hello(buf, 1), &ts);
    pg_session_data(w, &s, 0, buf, hello(buf, 2), &ts);
    pg_session_data(w, &s, 1, buf, record(buf, 20, ccs, 1), &ts);
    pg_session_data(w, &s, 0, buf, record(buf, 20, ccs, 1), &ts);
    pg_session_data(w, &s, 1, buf, record(buf, 23, data, sizeof(data) - 1), &ts);
    pg_session_data(w, &s, 0, buf, record(buf, 23, data, sizeof(data) - 1), &ts);
    pg_session_close(w, &s, &ts);
    pg_close(w);
}

/* Runs the sensor on the capture with the marker rule and setting (NULL: the default). */
static size_t alerts(const char *setting, int *rc, char **out)
{
    char *dir = tu_tmpdir();
    char pcap[4200], rules[4200];
    snprintf(pcap, sizeof(pcap), "%s/tls.pcap", dir);
    snprintf(rules, sizeof(rules), "%s/r.rules", dir);
    write_capture(pcap);
    FILE *f = fopen(rules, "w");
    cr_assert_not_null(f);
    fputs("alert tcp any any -> any any (msg:\"marker\"; content:\"XYZZY\"; sid:1;)\n"
          "alert tcp any any -> any 443 (msg:\"syn\"; flags:S; sid:2;)\n",
          f);
    fclose(f);
    struct tu_events e;
    *rc = setting ? tu_sensor(dir, &e, out, "-r", pcap, "-S", rules, "--set", setting, NULL)
                  : tu_sensor(dir, &e, out, "-r", pcap, "-S", rules, NULL);
    size_t n = *rc == 0 ? tu_count(&e, "alert", "alert.signature_id", "1") : 0;
    if (*rc == 0) {
        cr_assert_eq(tu_count(&e, "alert", "alert.signature_id", "2"), 1, "header rules still run");
        cr_assert_eq(tu_count(&e, "tls", NULL, NULL), 1, "the session is TLS");
        tu_events_free(&e);
    }
    tu_rmdir(dir);
    free(dir);
    return n;
}

Test(tls_encrypted, default_stops_content_inspection)
{
    int rc;
    char *out = NULL;
    cr_assert_eq(alerts(NULL, &rc, &out), 0, "%s", out);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    out = NULL;
    cr_assert_eq(alerts("app-layer.protocols.tls.encryption-handling=default", &rc, &out), 0);
    free(out);
}

Test(tls_encrypted, full_inspects_encrypted_data)
{
    int rc;
    char *out = NULL;
    size_t n = alerts("app-layer.protocols.tls.encryption-handling=full", &rc, &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert_eq(n, 2, "one alert each way, got %zu: %s", n, out);
    free(out);
}

Test(tls_encrypted, bad_value_is_refused)
{
    int rc;
    char *out = NULL;
    alerts("app-layer.protocols.tls.encryption-handling=sometimes", &rc, &out);
    cr_assert_neq(rc, 0);
    cr_assert(strstr(out, "encryption-handling") != NULL, "%s", out);
    free(out);
}
