/* test_app_http.c: the HTTP/1.x parser: framing, pipelining, splits, codings, limits, buffers, EVE.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "vigil/app-http.h"
#include "vigil/detect.h"
#include "vigil/eve-http.h"

#define S(x) (const uint8_t *)(x), (uint32_t)(sizeof(x) - 1)

static struct http_state *st;

static void teardown(void)
{
    http_state_free(st);
    st = NULL;
}

TestSuite(app_http, .fini = teardown);

static struct http_state *new_state(const struct http_config *c)
{
    http_state_free(st);
    st = http_state_new(c);
    cr_assert_not_null(st);
    return st;
}

/* Asserts buffer b of direction dir equals the C string want (NULL: absent). */
static void buf_is(struct http_tx *tx, unsigned b, int dir, const char *want)
{
    uint32_t len = 12345;
    const uint8_t *p = http_tx_buffer(tx, b, dir, &len);
    if (want == NULL) {
        cr_assert_null(p, "buffer %u dir %d should be absent, got %.*s", b, dir, (int)len, p);
        return;
    }
    cr_assert_not_null(p, "buffer %u dir %d absent, want \"%s\"", b, dir, want);
    cr_assert_eq(len, strlen(want), "buffer %u dir %d: len %u want %zu (%.*s)", b, dir, len,
                 strlen(want), (int)len, p);
    cr_assert(memcmp(p, want, len) == 0, "buffer %u dir %d: \"%.*s\" want \"%s\"", b, dir, (int)len,
              p, want);
}

static int has_ev(const struct http_tx *tx, enum http_event e)
{
    return (tx->events >> e) & 1;
}

Test(app_http, simple_request_response)
{
    new_state(NULL);
    static const char req[] = "GET /a/b.php?x=1 HTTP/1.1\r\n"
                              "Host: WWW.Example.COM:8080\r\n"
                              "User-Agent: Mozilla/5.0 test\r\n"
                              "Accept: */*\r\n"
                              "Accept-Encoding: gzip\r\n"
                              "Accept-Language: vi-VN\r\n"
                              "Referer: http://ref.example/\r\n"
                              "Connection: keep-alive\r\n"
                              "\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\n"
                               "Server: nginx/1.2\r\n"
                               "Content-Type: text/html; charset=utf-8\r\n"
                               "Content-Length: 5\r\n"
                               "\r\n"
                               "hello";
    cr_assert_eq(http_parse(st, 0, S(req)), 0);
    cr_assert_eq(http_tx_count(st), 1);
    struct http_tx *tx = http_tx_get(st, 0);
    cr_assert_eq(tx->id, 0);
    cr_assert_eq(tx->progress[0], HTTP_PROG_COMPLETE);
    cr_assert_eq(tx->progress[1], HTTP_PROG_NONE);
    cr_assert_not(http_tx_complete(tx));
    cr_assert_eq(http_parse(st, 1, S(resp)), 0);
    cr_assert_eq(tx->progress[1], HTTP_PROG_COMPLETE);
    cr_assert(http_tx_complete(tx));
    buf_is(tx, DB_HTTP_METHOD, 0, "GET");
    buf_is(tx, DB_HTTP_URI, 0, "/a/b.php?x=1");
    buf_is(tx, DB_HTTP_URI_RAW, 0, "/a/b.php?x=1");
    buf_is(tx, DB_HTTP_PROTOCOL, 0, "HTTP/1.1");
    buf_is(tx, DB_HTTP_REQUEST_LINE, 0, "GET /a/b.php?x=1 HTTP/1.1");
    buf_is(tx, DB_HTTP_HOST, 0, "www.example.com");
    buf_is(tx, DB_HTTP_HOST_RAW, 0, "WWW.Example.COM:8080");
    cr_assert_eq(http_tx_port(tx), 8080);
    buf_is(tx, DB_HTTP_USER_AGENT, 0, "Mozilla/5.0 test");
    buf_is(tx, DB_HTTP_ACCEPT, 0, "*/*");
    buf_is(tx, DB_HTTP_ACCEPT_ENC, 0, "gzip");
    buf_is(tx, DB_HTTP_ACCEPT_LANG, 0, "vi-VN");
    buf_is(tx, DB_HTTP_REFERER, 0, "http://ref.example/");
    buf_is(tx, DB_HTTP_CONNECTION, 0, "keep-alive");
    buf_is(tx, DB_HTTP_COOKIE, 0, NULL);
    buf_is(tx, DB_HTTP_REQUEST_BODY, 0, NULL);
    buf_is(tx, DB_HTTP_STAT_CODE, 1, "200");
    buf_is(tx, DB_HTTP_STAT_MSG, 1, "OK");
    buf_is(tx, DB_HTTP_RESPONSE_LINE, 1, "HTTP/1.1 200 OK");
    buf_is(tx, DB_HTTP_PROTOCOL, 1, "HTTP/1.1");
    buf_is(tx, DB_HTTP_SERVER, 1, "nginx/1.2");
    buf_is(tx, DB_HTTP_CONTENT_TYPE, 1, "text/html; charset=utf-8");
    buf_is(tx, DB_HTTP_CONTENT_LEN, 1, "5");
    buf_is(tx, DB_FILE_DATA, 1, "hello");
    buf_is(tx, DB_HTTP_USER_AGENT, 1, NULL); /* request-only buffers have no response side */
    buf_is(tx, DB_HTTP_STAT_CODE, 0, NULL);
    cr_assert_eq(tx->status, 200);
    cr_assert_eq(tx->msg_len[1], 5);
    cr_assert_eq(tx->events, 0, "events %llx", (unsigned long long)tx->events);
    const struct http_stats *ss = http_state_stats(st);
    cr_assert_eq(ss->requests, 1);
    cr_assert_eq(ss->responses, 1);
    http_tx_release(st, 0);
    cr_assert_eq(http_tx_count(st), 0);
}

Test(app_http, header_buffers_exact)
{
    new_state(NULL);
    static const char req[] = "POST /up HTTP/1.1\r\n"
                              "Host: a.example\r\n"
                              "Cookie: sid=1\r\n"
                              "X-Dup: one\r\n"
                              "X-Trail:  spaced \t\r\n"
                              "x-dup: two\r\n"
                              "X-Fold: first\r\n"
                              "   second\r\n"
                              "Content-Length: 3\r\n"
                              "\r\n"
                              "abc";
    cr_assert_eq(http_parse(st, 0, S(req)), 0);
    struct http_tx *tx = http_tx_get(st, 0);
    buf_is(tx, DB_HTTP_HEADER, 0,
           "Host: a.example\r\nX-Dup: one, two\r\nX-Trail: spaced\r\n"
           "X-Fold: first second\r\nContent-Length: 3\r\n");
    buf_is(tx, DB_HTTP_HEADER_NAMES, 0,
           "\r\nHost\r\nCookie\r\nX-Dup\r\nX-Trail\r\nX-Fold\r\nContent-Length\r\n\r\n");
    buf_is(tx, DB_HTTP_START, 0,
           "POST /up HTTP/1.1\r\nHost: a.example\r\nCookie: sid=1\r\nX-Dup: one, two\r\n"
           "X-Trail: spaced\r\nX-Fold: first second\r\nContent-Length: 3\r\n\r\n");
    buf_is(tx, DB_HTTP_HEADER_RAW, 0,
           "Host: a.example\r\nCookie: sid=1\r\nX-Dup: one\r\nX-Trail:  spaced \t\r\n"
           "x-dup: two\r\nX-Fold: first\r\n   second\r\nContent-Length: 3\r\n\r\n");
    buf_is(tx, DB_HTTP_COOKIE, 0, "sid=1");
    buf_is(tx, DB_HTTP_REQUEST_BODY, 0, "abc");
    buf_is(tx, DB_FILE_DATA, 0, "abc");

    static const char resp[] = "HTTP/1.0 302 Found\r\nSet-Cookie: a=b\r\nLocation: /x\r\n"
                               "Content-Length: 0\r\n\r\n";
    cr_assert_eq(http_parse(st, 1, S(resp)), 0);
    buf_is(tx, DB_HTTP_HEADER, 1, "Location: /x\r\nContent-Length: 0\r\n");
    buf_is(tx, DB_HTTP_COOKIE, 1, "a=b");
    buf_is(tx, DB_HTTP_LOCATION, 1, "/x");
    buf_is(tx, DB_HTTP_START, 1,
           "HTTP/1.0 302 Found\r\nSet-Cookie: a=b\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n");
    buf_is(tx, DB_FILE_DATA, 1, NULL);
    cr_assert(http_tx_complete(tx));
}

Test(app_http, pipelining)
{
    new_state(NULL);
    static const char reqs[] = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
                               "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"
                               "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n";
    static const char resps[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nr1"
                                "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nr2"
                                "HTTP/1.1 500 Error\r\nContent-Length: 2\r\n\r\nr3";
    cr_assert_eq(http_parse(st, 0, S(reqs)), 0);
    cr_assert_eq(http_tx_count(st), 3);
    cr_assert_eq(http_parse(st, 1, S(resps)), 0);
    const char *uris[] = {"/1", "/2", "/3"};
    const char *bodies[] = {"r1", "r2", "r3"};
    int codes[] = {200, 404, 500};
    for (unsigned i = 0; i < 3; i++) {
        struct http_tx *tx = http_tx_get(st, i);
        cr_assert_eq(tx->id, i);
        buf_is(tx, DB_HTTP_URI, 0, uris[i]);
        buf_is(tx, DB_FILE_DATA, 1, bodies[i]);
        cr_assert_eq(tx->status, codes[i]);
        cr_assert(http_tx_complete(tx));
    }
    buf_is(http_tx_get(st, 1), DB_HTTP_REQUEST_BODY, 0, "body");
    http_tx_release(st, 1);
    cr_assert_eq(http_tx_count(st), 1);
    cr_assert_eq(http_tx_get(st, 0)->id, 2);
}

Test(app_http, release_stops_at_incomplete)
{
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n")), 0);
    cr_assert_eq(http_parse(st, 1, S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")), 0);
    http_tx_release(st, 5);
    cr_assert_eq(http_tx_count(st), 1, "only the answered tx goes");
    cr_assert_eq(http_tx_get(st, 0)->id, 1);
    http_eof(st, 1);
    cr_assert(http_tx_complete(http_tx_get(st, 0)), "no response can come any more");
    http_tx_release(st, 5);
    cr_assert_eq(http_tx_count(st), 0);
}

/* Describes every tx: ids, progress, events and all buffers, for comparing parses. */
static char *describe(struct http_state *s)
{
    char *out = NULL;
    size_t olen = 0;
    FILE *f = open_memstream(&out, &olen);
    cr_assert_not_null(f);
    for (unsigned i = 0; i < http_tx_count(s); i++) {
        struct http_tx *tx = http_tx_get(s, i);
        fprintf(f, "tx %llu p%d/%d ev %llx st %d len %llu/%llu body %llu/%llu\n",
                (unsigned long long)tx->id, tx->progress[0], tx->progress[1],
                (unsigned long long)tx->events, tx->status, (unsigned long long)tx->msg_len[0],
                (unsigned long long)tx->msg_len[1], (unsigned long long)tx->body_len[0],
                (unsigned long long)tx->body_len[1]);
        for (unsigned b = DB_HTTP_URI; b <= DB_FILE_DATA; b++)
            for (int d = 0; d < 2; d++) {
                uint32_t len;
                const uint8_t *p = http_tx_buffer(tx, b, d, &len);
                if (p != NULL) {
                    fprintf(f, " b%u/%d:", b, d);
                    fwrite(p, 1, len, f);
                    fputc('\n', f);
                }
            }
    }
    fclose(f);
    return out;
}

static uint8_t *gzip_data(const uint8_t *in, uint32_t n, int window_bits, uint32_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    uLong cap = deflateBound(&z, n);
    uint8_t *out = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = (uint32_t)z.total_out;
    deflateEnd(&z);
    return out;
}

/* A conversation with most framings: pipelined, chunked with extensions/trailers, gzip, 100. */
static void conversation(uint8_t **req, uint32_t *rlen, uint8_t **resp, uint32_t *plen)
{
    static const char text[] = "<html>The quick brown fox jumps over the lazy dog</html>";
    uint32_t gzl;
    uint8_t *gz = gzip_data((const uint8_t *)text, sizeof(text) - 1, 31, &gzl);
    char *r = NULL, *p = NULL;
    size_t rl = 0, pl = 0;
    FILE *f = open_memstream(&r, &rl);
    fprintf(f, "GET /one/../two/./three//x%%41 HTTP/1.1\r\nHost: x.test\r\nCookie: c=1\r\n\r\n"
               "\r\nPOST /upload HTTP/1.1\r\nHost: x.test\r\nExpect: 100-continue\r\n"
               "Transfer-Encoding: chunked\r\n\r\n"
               "5;ext=1\r\nhello\r\n0006\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
               "HEAD /h HTTP/1.1\r\nHost: x.test\r\n\r\n"
               "GET /gz HTTP/1.1\r\nHost: x.test\r\n\r\n");
    fclose(f);
    f = open_memstream(&p, &pl);
    fprintf(f,
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
            "HTTP/1.1 100 Continue\r\n\r\n"
            "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
            "a\r\n0123456789\r\n0\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %u\r\n\r\n",
            gzl);
    fwrite(gz, 1, gzl, f);
    fclose(f);
    free(gz);
    *req = (uint8_t *)r;
    *rlen = (uint32_t)rl;
    *resp = (uint8_t *)p;
    *plen = (uint32_t)pl;
}

Test(app_http, conversation_contents)
{
    uint8_t *rq, *rs;
    uint32_t rql, rsl;
    conversation(&rq, &rql, &rs, &rsl);
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, rq, rql), 0);
    cr_assert_eq(http_parse(st, 1, rs, rsl), 0);
    cr_assert_eq(http_tx_count(st), 4);
    struct http_tx *t0 = http_tx_get(st, 0), *t1 = http_tx_get(st, 1), *t2 = http_tx_get(st, 2),
                   *t3 = http_tx_get(st, 3);
    buf_is(t0, DB_HTTP_URI, 0, "/two/three/xA");
    buf_is(t1, DB_HTTP_REQUEST_BODY, 0, "hello world");
    cr_assert_eq(t1->status, 201);
    buf_is(t1, DB_FILE_DATA, 1, "0123456789");
    cr_assert_eq(t1->msg_len[1], strlen("a\r\n0123456789\r\n0\r\n\r\n"));
    cr_assert_eq(t1->body_len[1], 10);
    cr_assert(has_ev(t1, HTTP_EV_REQUEST_CHUNK_EXTENSION));
    cr_assert_eq(t2->status, 200);
    buf_is(t2, DB_FILE_DATA, 1, NULL); /* HEAD: no body despite Content-Length */
    cr_assert_eq(t3->status, 200, "the response after HEAD's is parsed as a response");
    buf_is(t3, DB_FILE_DATA, 1, "<html>The quick brown fox jumps over the lazy dog</html>");
    for (unsigned i = 0; i < 4; i++)
        cr_assert(http_tx_complete(http_tx_get(st, i)), "tx %u", i);
    free(rq);
    free(rs);
}

Test(app_http, split_at_every_byte_gives_same_txs)
{
    uint8_t *rq, *rs;
    uint32_t rql, rsl;
    conversation(&rq, &rql, &rs, &rsl);
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, rq, rql), 0);
    cr_assert_eq(http_parse(st, 1, rs, rsl), 0);
    char *want = describe(st);
    for (int dir = 0; dir < 2; dir++) {
        const uint8_t *d = dir ? rs : rq;
        uint32_t n = dir ? rsl : rql;
        for (uint32_t cut = 1; cut < n; cut++) {
            new_state(NULL);
            if (dir == 0) {
                cr_assert_eq(http_parse(st, 0, d, cut), 0);
                cr_assert_eq(http_parse(st, 0, d + cut, n - cut), 0);
                cr_assert_eq(http_parse(st, 1, rs, rsl), 0);
            } else {
                cr_assert_eq(http_parse(st, 0, rq, rql), 0);
                cr_assert_eq(http_parse(st, 1, d, cut), 0);
                cr_assert_eq(http_parse(st, 1, d + cut, n - cut), 0);
            }
            char *got = describe(st);
            if (strcmp(got, want) != 0)
                fprintf(stderr, "split: dir %d cut at %u differs\n", dir, cut);
            cr_assert_str_eq(got, want, "dir %d cut at %u", dir, cut);
            free(got);
        }
    }
    /* and byte by byte */
    new_state(NULL);
    for (uint32_t i = 0; i < rql; i++)
        cr_assert_eq(http_parse(st, 0, rq + i, 1), 0);
    for (uint32_t i = 0; i < rsl; i++)
        cr_assert_eq(http_parse(st, 1, rs + i, 1), 0);
    char *got = describe(st);
    cr_assert_str_eq(got, want);
    free(got);
    free(want);
    free(rq);
    free(rs);
}

Test(app_http, chunked_hostile_sizes)
{
    /*
     * As libhtp: a response chunk-size line without a size means the body is not chunked after
     * all; the line and what follows are the body, read up to the close.
     */
    static const char *bad[] = {
        "FFFFFFFFFFFFFFFFFF\r\n", /* more than 16 digits */
        "-1\r\n",                 /* negative */
        "zz\r\n",                 /* not hex */
        "\r\n\r\n;ext\r\n",       /* no digits after the empty lines */
    };
    static const uint32_t body_len[] = {20, 4, 4, 6};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        new_state(NULL);
        cr_assert_eq(http_parse(st, 0, S("GET / HTTP/1.1\r\nHost: h\r\n\r\n")), 0);
        static const char hdr[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        cr_assert_eq(http_parse(st, 1, S(hdr)), 0);
        cr_assert_eq(http_parse(st, 1, (const uint8_t *)bad[i], (uint32_t)strlen(bad[i])), 0,
                     "case %u", i);
        struct http_tx *tx = http_tx_get(st, 0);
        cr_assert(has_ev(tx, HTTP_EV_INVALID_RESPONSE_CHUNK_LEN), "case %u", i);
        cr_assert_eq(tx->progress[1], HTTP_PROG_BODY, "case %u", i);
        cr_assert_eq(http_parse(st, 1, S("more")), 0, "case %u", i);
        cr_assert_eq(tx->body_len[1], body_len[i] + 4, "case %u", i);
    }
    /* a size followed by junk: libhtp reads the digits and ignores the rest */
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET / HTTP/1.1\r\n\r\n")), 0);
    cr_assert_eq(http_parse(st, 1,
                            S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "5 junk\r\nabcde\r\n0\r\n\r\n")),
                 0);
    cr_assert_eq(http_tx_get(st, 0)->progress[1], HTTP_PROG_COMPLETE);
    buf_is(http_tx_get(st, 0), DB_FILE_DATA, 1, "abcde");
    /* a request chunk-size without a size still stops the request direction */
    new_state(NULL);
    cr_assert_eq(
        http_parse(st, 0, S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")), -1);
    cr_assert(has_ev(http_tx_get(st, 0), HTTP_EV_INVALID_REQUEST_CHUNK_LEN));
    /* a huge but valid size, then the stream ends */
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET / HTTP/1.1\r\n\r\n")), 0);
    cr_assert_eq(
        http_parse(st, 1,
                   S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7ffffff0\r\nabc")),
        0);
    struct http_tx *tx = http_tx_get(st, 0);
    cr_assert(!has_ev(tx, HTTP_EV_INVALID_RESPONSE_CHUNK_LEN));
    cr_assert_eq(tx->progress[1], HTTP_PROG_BODY);
    http_eof(st, 1);
    cr_assert_eq(tx->progress[1], HTTP_PROG_COMPLETE);
    cr_assert(has_ev(tx, HTTP_EV_BODY_TRUNCATED));
    buf_is(tx, DB_FILE_DATA, 1, "abc");
    /* a size past INT32_MAX (libhtp's limit): an event, and the line is skipped */
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET / HTTP/1.1\r\n\r\n")), 0);
    cr_assert_eq(http_parse(st, 1,
                            S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "7fffffffffff\r\n3\r\nxyz\r\n0\r\n\r\n")),
                 0);
    tx = http_tx_get(st, 0);
    cr_assert(has_ev(tx, HTTP_EV_INVALID_RESPONSE_CHUNK_LEN));
    cr_assert_eq(tx->progress[1], HTTP_PROG_COMPLETE);
    buf_is(tx, DB_FILE_DATA, 1, "xyz");
    /* an endless chunk-size line is cut at max_line */
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET / HTTP/1.1\r\n\r\n")), 0);
    cr_assert_eq(http_parse(st, 1, S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")), 0);
    static uint8_t zeros[20000];
    memset(zeros, '0', sizeof(zeros));
    cr_assert_eq(http_parse(st, 1, zeros, sizeof(zeros)), -1);
    cr_assert_eq(http_state_stats(st)->limit_hits, 1);
}

Test(app_http, chunked_many_small_chunks_and_trailer_flood)
{
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")), 0);
    for (int i = 0; i < 5000; i++)
        cr_assert_eq(http_parse(st, 0, S("1\r\nx\r\n")), 0);
    cr_assert_eq(http_parse(st, 0, S("0\r\n")), 0);
    for (int i = 0; i < 2000 && http_parse(st, 0, S("T: v\r\n")) == 0; i++)
        ;
    struct http_tx *tx = http_tx_get(st, 0);
    cr_assert_eq(tx->body_len[0], 5000);
    cr_assert(has_ev(tx, HTTP_EV_REQUEST_TOO_MANY_HEADERS));
    cr_assert_eq(tx->progress[0], HTTP_PROG_COMPLETE);
    cr_assert_not(http_state_active(st, 0));
}

static void gz_response(int window_bits, const char *coding)
{
    static uint8_t text[50000];
    for (unsigned i = 0; i < sizeof(text); i++)
        text[i] = (uint8_t)("abcdefghij"[i % 10] + (i / 1000) % 7);
    uint32_t zl;
    uint8_t *z = gzip_data(text, sizeof(text), window_bits, &zl);
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET /f HTTP/1.1\r\nHost: h\r\n\r\n")), 0);
    char hdr[200];
    int hl = snprintf(hdr, sizeof(hdr),
                      "HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %u\r\n\r\n",
                      coding, zl);
    cr_assert_eq(http_parse(st, 1, (const uint8_t *)hdr, (uint32_t)hl), 0);
    /* in odd pieces, so the decoder sees every kind of boundary */
    for (uint32_t off = 0, step = 1; off < zl; off += step, step = step * 3 % 1013 + 1)
        cr_assert_eq(http_parse(st, 1, z + off, off + step > zl ? zl - off : step), 0);
    struct http_tx *tx = http_tx_get(st, 0);
    cr_assert_eq(tx->progress[1], HTTP_PROG_COMPLETE);
    uint32_t len;
    const uint8_t *p = http_tx_buffer(tx, DB_FILE_DATA, 1, &len);
    cr_assert_eq(len, sizeof(text), "%s: %u bytes", coding, len);
    cr_assert(memcmp(p, text, len) == 0);
    cr_assert_eq(tx->body_len[1], sizeof(text));
    cr_assert_eq(tx->msg_len[1], zl);
    cr_assert_eq(tx->events, 0, "%s: events %llx", coding, (unsigned long long)tx->events);
    free(z);
}

Test(app_http, gzip_body)
{
    gz_response(31, "gzip");
}

Test(app_http, zlib_deflate_body)
{
    gz_response(15, "deflate");
}

Test(app_http, raw_deflate_body)
{
    gz_response(-15, "deflate");
}

Test(app_http, two_gzip_layers)
{
    static const char text[] = "layered content, decoded twice";
    uint32_t l1, l2;
    uint8_t *z1 = gzip_data((const uint8_t *)text, sizeof(text) - 1, 31, &l1);
    uint8_t *z2 = gzip_data(z1, l1, 31, &l2);
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET / HTTP/1.1\r\n\r\n")), 0);
    char hdr[200];
    int hl = snprintf(hdr, sizeof(hdr),
                      "HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip\r\n"
                      "Content-Length: %u\r\n\r\n",
                      l2);
    cr_assert_eq(http_parse(st, 1, (const uint8_t *)hdr, (uint32_t)hl), 0);
    cr_assert_eq(http_parse(st, 1, z2, l2), 0);
    buf_is(http_tx_get(st, 0), DB_FILE_DATA, 1, text);
    free(z1);
    free(z2);
}

Test(app_http, corrupt_gzip_counted)
{
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET / HTTP/1.1\r\n\r\n")), 0);
    cr_assert_eq(http_parse(st, 1,
                            S("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 12\r\n"
                              "\r\n\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x07\x00")),
                 0);
    struct http_tx *tx = http_tx_get(st, 0);
    cr_assert(has_ev(tx, HTTP_EV_GZIP_DECOMPRESSION_FAILED));
    cr_assert_eq(http_state_stats(st)->decompress_errors, 1);
    cr_assert_eq(tx->progress[1], HTTP_PROG_COMPLETE, "framing is unaffected");
}

struct filecap {
    uint64_t bytes;
    int lasts, begins, gaps;
};

static void file_cb(void *ctx, struct http_tx *tx, int dir, const uint8_t *data, uint32_t len,
                    int ev)
{
    (void)tx;
    (void)data;
    struct filecap *c = ctx;
    if (dir == 1) {
        c->bytes += len;
        c->lasts += ev == HTTP_FILE_END;
        c->begins += ev == HTTP_FILE_BEGIN;
        c->gaps += ev == HTTP_FILE_GAP;
    }
}

Test(app_http, bomb_limit)
{
    uint32_t n = 4 * 1024 * 1024, zl;
    uint8_t *zeros = calloc(1, n);
    uint8_t *z = gzip_data(zeros, n, 31, &zl);
    struct http_config c;
    http_config_defaults(&c);
    c.decompress_limit = 1024 * 1024;
    c.response_body_limit = 4096;
    new_state(&c);
    struct filecap fc = {0, 0, 0, 0};
    http_state_set_file_cb(st, file_cb, &fc);
    cr_assert_eq(http_parse(st, 0, S("GET / HTTP/1.1\r\n\r\n")), 0);
    char hdr[200];
    int hl =
        snprintf(hdr, sizeof(hdr),
                 "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %u\r\n\r\n", zl);
    cr_assert_eq(http_parse(st, 1, (const uint8_t *)hdr, (uint32_t)hl), 0);
    cr_assert_eq(http_parse(st, 1, z, zl), 0);
    struct http_tx *tx = http_tx_get(st, 0);
    cr_assert(has_ev(tx, HTTP_EV_COMPRESSION_BOMB));
    cr_assert_eq(http_state_stats(st)->bombs, 1);
    cr_assert_leq(fc.bytes, c.decompress_limit);
    cr_assert_eq(fc.lasts, 1);
    uint32_t len;
    http_tx_buffer(tx, DB_FILE_DATA, 1, &len);
    cr_assert_eq(len, 4096);
    cr_assert_eq(http_state_stats(st)->body_truncated, 1);
    cr_assert_eq(tx->progress[1], HTTP_PROG_COMPLETE);
    /* the ratio test also catches it under the absolute limit (deflate alone stays under
     * 1032:1, so it takes two layers) */
    uint32_t z2l;
    uint8_t *z2 = gzip_data(z, zl, 31, &z2l);
    hl = snprintf(hdr, sizeof(hdr),
                  "HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip\r\nContent-Length: %u\r\n\r\n",
                  z2l);
    c.decompress_limit = 64 * 1024 * 1024;
    new_state(&c);
    http_state_set_file_cb(st, file_cb, &fc);
    cr_assert_eq(http_parse(st, 0, S("GET / HTTP/1.1\r\n\r\n")), 0);
    cr_assert_eq(http_parse(st, 1, (const uint8_t *)hdr, (uint32_t)hl), 0);
    cr_assert_eq(http_parse(st, 1, z2, z2l), 0);
    cr_assert(has_ev(http_tx_get(st, 0), HTTP_EV_COMPRESSION_BOMB), "ratio %u:%u", n, z2l);
    free(z2);
    free(zeros);
    free(z);
}

Test(app_http, body_limit_and_file_hook)
{
    struct http_config c;
    http_config_defaults(&c);
    c.response_body_limit = 1000;
    new_state(&c);
    struct filecap fc = {0, 0, 0, 0};
    http_state_set_file_cb(st, file_cb, &fc);
    cr_assert_eq(http_parse(st, 0, S("GET /dir/report.pdf?x=1 HTTP/1.1\r\n\r\n")), 0);
    cr_assert_eq(http_parse(st, 1, S("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")), 0);
    static uint8_t body[5000];
    memset(body, 'B', sizeof(body));
    struct http_tx *tx = http_tx_get(st, 0);
    cr_assert_eq(http_parse(st, 1, body, 10), 0);
    uint32_t l0;
    const uint8_t *early = http_tx_buffer(tx, DB_FILE_DATA, 1, &l0);
    cr_assert_eq(l0, 10);
    cr_assert_eq(http_parse(st, 1, body + 10, 4990), 0);
    cr_assert_eq(early[9], 'B', "an earlier pointer stays readable");
    uint32_t len;
    http_tx_buffer(tx, DB_FILE_DATA, 1, &len);
    cr_assert_eq(len, 1000);
    cr_assert_eq(fc.bytes, 5000);
    cr_assert_eq(fc.lasts, 1);
    cr_assert_eq(fc.begins, 1);
    cr_assert_eq(fc.gaps, 0);
    cr_assert_eq(tx->msg_len[1], 5000);
    uint32_t fl;
    const uint8_t *fn = http_tx_filename(tx, 1, &fl);
    cr_assert_not_null(fn);
    cr_assert_eq(fl, 10);
    cr_assert(memcmp(fn, "report.pdf", 10) == 0);
}

Test(app_http, filename_from_content_disposition)
{
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET /dl HTTP/1.1\r\n\r\n")), 0);
    cr_assert_eq(http_parse(st, 1,
                            S("HTTP/1.1 200 OK\r\nContent-Disposition: attachment; "
                              "filename=\"evil file.exe\"\r\nContent-Length: 1\r\n\r\nx")),
                 0);
    uint32_t fl;
    const uint8_t *fn = http_tx_filename(http_tx_get(st, 0), 1, &fl);
    cr_assert_not_null(fn);
    cr_assert_eq(fl, 13);
    cr_assert(memcmp(fn, "evil file.exe", 13) == 0);
}

Test(app_http, header_flood_and_long_lines)
{
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET / HTTP/1.1\r\n")), 0);
    int rc = 0;
    for (int i = 0; i < 5000 && rc == 0; i++)
        rc = http_parse(st, 0, S("X-A: b\r\n"));
    cr_assert_eq(rc, -1);
    struct http_tx *tx = http_tx_get(st, 0);
    cr_assert(has_ev(tx, HTTP_EV_REQUEST_TOO_MANY_HEADERS));
    cr_assert_eq(tx->progress[0], HTTP_PROG_COMPLETE);
    cr_assert_leq(http_tx_header_count(tx, 0), 1, "repeats merge into one field");
    cr_assert_eq(http_state_stats(st)->limit_hits, 1);

    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET / HTTP/1.1\r\nX-Long: ")), 0);
    static uint8_t a[30000];
    memset(a, 'a', sizeof(a));
    cr_assert_eq(http_parse(st, 0, a, sizeof(a)), -1);
    cr_assert(has_ev(http_tx_get(st, 0), HTTP_EV_REQUEST_FIELD_TOO_LONG));

    /* a total header size limit */
    struct http_config c;
    http_config_defaults(&c);
    c.max_header_bytes = 1000;
    new_state(&c);
    rc = http_parse(st, 0, S("GET / HTTP/1.1\r\n"));
    for (int i = 0; i < 200 && rc == 0; i++)
        rc = http_parse(st, 0, S("X-Some-Header: some value\r\n"));
    cr_assert_eq(rc, -1);
    cr_assert(has_ev(http_tx_get(st, 0), HTTP_EV_REQUEST_TOO_MANY_HEADERS));
}

Test(app_http, uri_normalisation_table)
{
    static const struct {
        const char *in, *out;
    } t[] = {
        {"/", "/"},
        {"/a/./b", "/a/b"},
        {"/a/../b", "/b"},
        {"/a/b/..", "/a/"},
        {"/a/b/.", "/a/b/"},
        {"/../../etc/passwd", "/etc/passwd"},
        {"//a///b", "/a/b"},
        {"/a\\b\\..\\c", "/a/c"},
        {"/%41%42%43", "/ABC"},
        {"/%2e%2e/%2E%2e/x", "/x"},
        {"/a%2fb", "/a/b"},
        {"/a%5c..%5cb", "/b"},
        {"/bad%zz%4", "/bad%zz%4"},
        {"/nul%00x", "/nul\0x"},
        {"/p?q=%41+b&r=/../", "/p?q=A+b&r=/../"},
        {"/a/b/../../../c/", "/c/"},
        {"/.hidden/..x", "/.hidden/..x"},
    };
    for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        uint8_t out[64];
        size_t want_len = strlen(t[i].out);
        if (strcmp(t[i].in, "/nul%00x") == 0)
            want_len = 6;
        uint64_t ev = 0;
        uint32_t n = http_uri_normalize((const uint8_t *)t[i].in, (uint32_t)strlen(t[i].in), out,
                                        sizeof(out), &ev);
        cr_assert_eq(n, want_len, "%s: got %.*s", t[i].in, (int)n, out);
        cr_assert(memcmp(out, t[i].out, n) == 0, "%s: got %.*s want %s", t[i].in, (int)n, out,
                  t[i].out);
    }
}

Test(app_http, absolute_uri_and_host)
{
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0,
                            S("GET http://user@Proxy.Example.:3128/p/../q?x HTTP/1.1\r\n"
                              "Host: other.example\r\n\r\n")),
                 0);
    struct http_tx *tx = http_tx_get(st, 0);
    buf_is(tx, DB_HTTP_URI, 0, "/q?x");
    buf_is(tx, DB_HTTP_URI_RAW, 0, "http://user@Proxy.Example.:3128/p/../q?x");
    buf_is(tx, DB_HTTP_HOST, 0, "proxy.example");
    buf_is(tx, DB_HTTP_HOST_RAW, 0, "Proxy.Example.");
    cr_assert_eq(http_tx_port(tx), 3128);
    cr_assert(has_ev(tx, HTTP_EV_HOST_HEADER_AMBIGUOUS));

    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET / HTTP/1.1\r\nHost: [2001:DB8::1]:8443\r\n\r\n")), 0);
    tx = http_tx_get(st, 0);
    buf_is(tx, DB_HTTP_HOST, 0, "[2001:db8::1]");
    cr_assert_eq(http_tx_port(tx), 8443);

    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET / HTTP/1.1\r\nHost: h:99999\r\n\r\n")), 0);
    cr_assert(has_ev(http_tx_get(st, 0), HTTP_EV_INVALID_AUTHORITY_PORT));
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET / HTTP/1.1\r\n\r\n")), 0);
    cr_assert(has_ev(http_tx_get(st, 0), HTTP_EV_MISSING_HOST_HEADER));
}

Test(app_http, eve_object_fields)
{
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0,
                            S("GET /phppgadmin HTTP/1.1\r\nHost: 192.168.24.201:8081\r\n"
                              "User-Agent: Mozilla/5.0 \xff\r\nReferer: http://r/\r\n\r\n")),
                 0);
    cr_assert_eq(http_parse(st, 1,
                            S("HTTP/1.1 301 Moved Permanently\r\n"
                              "Location: http://192.168.24.201/phppgadmin/\r\n"
                              "Content-Type: text/html; charset=iso-8859-1\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n")),
                 0);
    json_t *o = eve_http_object(http_tx_get(st, 0), 0);
    cr_assert_not_null(o);
    char *s = json_dumps(o, JSON_COMPACT);
    cr_assert_str_eq(s, "{\"hostname\":\"192.168.24.201\",\"http_port\":8081,"
                        "\"url\":\"/phppgadmin\",\"http_user_agent\":\"Mozilla/5.0 \\\\xff\","
                        "\"http_content_type\":\"text/html\",\"http_refer\":\"http://r/\","
                        "\"http_method\":\"GET\",\"protocol\":\"HTTP/1.1\",\"status\":301,"
                        "\"redirect\":\"http://192.168.24.201/phppgadmin/\",\"length\":14}");
    free(s);
    json_decref(o);
    o = eve_http_object(http_tx_get(st, 0), 1);
    json_t *rh = json_object_get(o, "request_headers");
    cr_assert(json_is_array(rh));
    cr_assert_eq(json_array_size(rh), 3);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(rh, 0), "name")), "Host");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(rh, 0), "value")),
                     "192.168.24.201:8081");
    cr_assert_eq(json_array_size(json_object_get(o, "response_headers")), 3);
    json_decref(o);
    /* a request without response: no status, length 0 */
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("POST /uuid HTTP/1.0\r\n\r\n")), 0);
    o = eve_http_object(http_tx_get(st, 0), 0);
    s = json_dumps(o, JSON_COMPACT);
    cr_assert_str_eq(s, "{\"url\":\"/uuid\",\"http_method\":\"POST\",\"protocol\":\"HTTP/1.0\","
                        "\"length\":0}");
    free(s);
    json_decref(o);
}

Test(app_http, gap_in_body_keeps_framing)
{
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nab")), 0);
    http_gap(st, 0, 5);
    cr_assert_eq(http_parse(st, 0, S("xyzGET /b HTTP/1.1\r\n\r\n")), 0);
    cr_assert_eq(http_tx_count(st), 2);
    struct http_tx *t0 = http_tx_get(st, 0);
    cr_assert(has_ev(t0, HTTP_EV_STREAM_GAP));
    cr_assert_eq(t0->progress[0], HTTP_PROG_COMPLETE);
    buf_is(t0, DB_HTTP_REQUEST_BODY, 0, "ab");
    buf_is(http_tx_get(st, 1), DB_HTTP_URI, 0, "/b");
    cr_assert_eq(http_state_stats(st)->gaps_recovered, 1);
    /* a whole request lost between messages: the next one is found at once */
    http_gap(st, 0, 30);
    cr_assert_eq(http_parse(st, 0, S("GET /c HTTP/1.1\r\n\r\n")), 0);
    cr_assert_eq(http_tx_count(st), 3);
    buf_is(http_tx_get(st, 2), DB_HTTP_URI, 0, "/c");
    /* the tail of a cut line does not pass for a request */
    http_gap(st, 0, 10);
    cr_assert_eq(http_parse(st, 0, S("T /x HTTP/1.1\r\n\r\nPOST /d HTTP/1.1\r\n\r\n")), 0);
    cr_assert_eq(http_tx_count(st), 4);
    buf_is(http_tx_get(st, 3), DB_HTTP_URI, 0, "/d");
}

Test(app_http, gap_in_headers_resyncs)
{
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET /a HTTP/1.1\r\nHost: h\r\nX-Y: ")), 0);
    http_gap(st, 0, 100);
    cr_assert_eq(http_parse(st, 0,
                            S("lost tail\r\nmore: junk\r\n\r\nbody?\r\n"
                              "GET /after HTTP/1.1\r\nHost: h2\r\n\r\n")),
                 0);
    cr_assert_eq(http_tx_count(st), 2);
    struct http_tx *t0 = http_tx_get(st, 0), *t1 = http_tx_get(st, 1);
    cr_assert(has_ev(t0, HTTP_EV_STREAM_GAP));
    buf_is(t0, DB_HTTP_HOST, 0, "h");
    buf_is(t1, DB_HTTP_URI, 0, "/after");
    buf_is(t1, DB_HTTP_HOST, 0, "h2");
    /* responses: a gap inside one, the next is found and matched to the next request */
    cr_assert_eq(http_parse(st, 1, S("HTTP/1.1 200 OK\r\nContent-Le")), 0);
    http_gap(st, 1, 40);
    cr_assert_eq(http_parse(st, 1, S("zzz\r\nHTTP/1.1 404 Nope\r\nContent-Length: 0\r\n\r\n")), 0);
    cr_assert_eq(t0->status, 200);
    cr_assert_eq(t1->status, 404);
    cr_assert(http_tx_complete(t0) && http_tx_complete(t1));
}

Test(app_http, head_and_304_have_no_body)
{
    new_state(NULL);
    cr_assert_eq(
        http_parse(st, 0,
                   S("HEAD /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"
                     "GET /c HTTP/1.1\r\nHost: h\r\n\r\n")),
        0);
    cr_assert_eq(http_parse(st, 1,
                            S("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
                              "HTTP/1.1 304 Not Modified\r\n\r\n"
                              "HTTP/1.1 204 No Content\r\n\r\n")),
                 0);
    for (unsigned i = 0; i < 3; i++) {
        struct http_tx *tx = http_tx_get(st, i);
        cr_assert_eq(tx->progress[1], HTTP_PROG_COMPLETE, "tx %u", i);
        cr_assert_eq(tx->msg_len[1], 0);
    }
    cr_assert_eq(http_tx_get(st, 1)->status, 304);
    cr_assert_eq(http_tx_get(st, 2)->status, 204);
    /* as libhtp (http-evader-453): a 304 that announces a body has one, with an event */
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET /a HTTP/1.1\r\n\r\n")), 0);
    cr_assert_eq(http_parse(st, 1, S("HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\nabc")),
                 0);
    struct http_tx *t304 = http_tx_get(st, 0);
    cr_assert_eq(t304->progress[1], HTTP_PROG_COMPLETE);
    cr_assert(has_ev(t304, HTTP_EV_RESPONSE_BODY_UNEXPECTED));
    buf_is(t304, DB_FILE_DATA, 1, "abc");
}

Test(app_http, continue_100)
{
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0,
                            S("PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n"
                              "\r\n")),
                 0);
    cr_assert_eq(http_parse(st, 1, S("HTTP/1.1 100 Continue\r\n\r\n")), 0);
    struct http_tx *tx = http_tx_get(st, 0);
    cr_assert_eq(tx->progress[1], HTTP_PROG_NONE);
    cr_assert_eq(http_parse(st, 0, S("data")), 0);
    cr_assert_eq(http_parse(st, 1, S("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")), 0);
    cr_assert_eq(tx->status, 201);
    cr_assert_eq(http_tx_count(st), 1);
    buf_is(tx, DB_HTTP_REQUEST_BODY, 0, "data");
    buf_is(tx, DB_HTTP_STAT_CODE, 1, "201");
    cr_assert(http_tx_complete(tx));
}

Test(app_http, body_until_close)
{
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET / HTTP/1.0\r\n\r\n")), 0);
    cr_assert_eq(http_parse(st, 1, S("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npart1")),
                 0);
    cr_assert_eq(http_parse(st, 1, S("part2")), 0);
    struct http_tx *tx = http_tx_get(st, 0);
    cr_assert_eq(tx->progress[1], HTTP_PROG_BODY);
    http_eof(st, 1);
    cr_assert_eq(tx->progress[1], HTTP_PROG_COMPLETE);
    buf_is(tx, DB_FILE_DATA, 1, "part1part2");
    cr_assert_not(has_ev(tx, HTTP_EV_BODY_TRUNCATED));
}

Test(app_http, http09)
{
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET /old\r\n")), 0);
    struct http_tx *tx = http_tx_get(st, 0);
    cr_assert_eq(tx->progress[0], HTTP_PROG_COMPLETE);
    cr_assert(has_ev(tx, HTTP_EV_REQUEST_LINE_MISSING_PROTOCOL));
    cr_assert_eq(http_parse(st, 1, S("<html>raw</html>")), 0);
    http_eof(st, 1);
    buf_is(tx, DB_FILE_DATA, 1, "<html>raw</html>");
}

Test(app_http, not_http_and_garbage)
{
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n")), -1);
    cr_assert_eq(http_tx_count(st), 0);
    cr_assert(http_state_events(st) & (1ull << HTTP_EV_NOT_HTTP));
    cr_assert_eq(http_state_stats(st)->parse_errors, 1);
    cr_assert_eq(http_parse(st, 0, S("GET / HTTP/1.1\r\n\r\n")), -1);

    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("GET / HTTP/1.1\r\n\r\n")), 0);
    /* as libhtp: a response without a status line is a bare body up to the close */
    cr_assert_eq(http_parse(st, 1, S("SSH-2.0-OpenSSH_9.0\r\n")), 0);
    cr_assert(has_ev(http_tx_get(st, 0), HTTP_EV_RESPONSE_LINE_INVALID));
    cr_assert(http_state_events(st) & (1ull << HTTP_EV_NOT_HTTP));
    cr_assert_eq(http_tx_get(st, 0)->progress[1], HTTP_PROG_BODY);
    buf_is(http_tx_get(st, 0), DB_FILE_DATA, 1, "SSH-2.0-OpenSSH_9.0\r\n");
}

Test(app_http, unmatched_response)
{
    new_state(NULL);
    cr_assert_eq(http_parse(st, 1, S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")), 0);
    cr_assert_eq(http_tx_count(st), 1);
    struct http_tx *tx = http_tx_get(st, 0);
    cr_assert(has_ev(tx, HTTP_EV_UNABLE_TO_MATCH_RESPONSE_TO_REQUEST));
    cr_assert(http_tx_complete(tx));
    cr_assert_eq(http_parse(st, 0, S("GET /late HTTP/1.1\r\n\r\n")), 0);
    cr_assert_eq(http_tx_get(st, 1)->id, 1);
}

Test(app_http, max_transactions)
{
    struct http_config c;
    http_config_defaults(&c);
    c.max_txs = 10;
    new_state(&c);
    int rc = 0;
    unsigned i;
    for (i = 0; i < 20 && rc == 0; i++)
        rc = http_parse(st, 0, S("GET / HTTP/1.1\r\n\r\n"));
    cr_assert_eq(rc, -1);
    cr_assert_eq(i, 11);
    cr_assert_eq(http_tx_count(st), 10);
    cr_assert(http_state_events(st) & (1ull << HTTP_EV_TOO_MANY_TRANSACTIONS));
}

Test(app_http, content_length_anomalies)
{
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0,
                            S("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\n"
                              "abc")),
                 0);
    struct http_tx *tx = http_tx_get(st, 0);
    cr_assert(has_ev(tx, HTTP_EV_DUPLICATE_CONTENT_LENGTH_FIELD_IN_REQUEST));
    buf_is(tx, DB_HTTP_CONTENT_LEN, 0, "3");
    buf_is(tx, DB_HTTP_REQUEST_BODY, 0, "abc");
    cr_assert_eq(http_parse(st, 0, S("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n")), 0);
    cr_assert(has_ev(http_tx_get(st, 1), HTTP_EV_INVALID_CONTENT_LENGTH_FIELD_IN_REQUEST));
    cr_assert_eq(http_tx_get(st, 1)->progress[0], HTTP_PROG_COMPLETE);
}

Test(app_http, connect_tunnel)
{
    new_state(NULL);
    cr_assert_eq(http_parse(st, 0, S("CONNECT mail.example:443 HTTP/1.1\r\n\r\n")), 0);
    cr_assert_eq(http_parse(st, 1, S("HTTP/1.1 200 Connection established\r\n\r\n")), 0);
    struct http_tx *tx = http_tx_get(st, 0);
    buf_is(tx, DB_HTTP_HOST, 0, "mail.example");
    cr_assert_eq(http_tx_port(tx), 443);
    cr_assert(http_tx_complete(tx));
    cr_assert_eq(http_parse(st, 0, S("\x16\x03\x01 tls")), 0);
    cr_assert_eq(http_tx_count(st), 1);
    cr_assert_not(http_state_active(st, 0));
    cr_assert_eq(http_state_stats(st)->tunnel_bytes, 7);
}

Test(app_http, event_names)
{
    cr_assert_str_eq(http_event_name(HTTP_EV_REQUEST_HEADER_INVALID), "REQUEST_HEADER_INVALID");
    cr_assert_str_eq(http_event_name(HTTP_EV_COMPRESSION_BOMB), "COMPRESSION_BOMB");
    cr_assert_null(http_event_name(HTTP_EV__COUNT));
    for (unsigned e = 0; e < HTTP_EV__COUNT; e++)
        cr_assert_not_null(http_event_name(e));
    cr_assert_leq(HTTP_EV__COUNT, 64);
}

/* body_announced: the Content-Length that frames a body (the files' size hint), else 0. */
Test(app_http, body_announced_only_for_content_length_framing)
{
    new_state(NULL);
    static const char req[] = "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
                              "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                              "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
                              "GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
                               "HTTP/1.1 200 OK\r\nContent-Length:  1234 \r\n\r\n";
    static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                  "Content-Length: 99\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                                  "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end";
    cr_assert_eq(http_parse(st, 0, (const uint8_t *)req, sizeof(req) - 1), 0);
    cr_assert_eq(http_parse(st, 1, (const uint8_t *)resp, sizeof(resp) - 1), 0);
    static uint8_t body[1234];
    memset(body, 'x', sizeof(body));
    cr_assert_eq(http_parse(st, 1, body, sizeof(body)), 0);
    cr_assert_eq(http_parse(st, 1, (const uint8_t *)chunked, sizeof(chunked) - 1), 0);
    http_eof(st, 1);
    cr_assert_eq(http_tx_count(st), 4);
    cr_assert_eq(http_tx_get(st, 0)->body_announced[0], 5);
    cr_assert_eq(http_tx_get(st, 0)->body_announced[1], 0, "Content-Length: 0 has no body");
    cr_assert_eq(http_tx_get(st, 1)->body_announced[0], 0);
    cr_assert_eq(http_tx_get(st, 1)->body_announced[1], 1234);
    cr_assert_eq(http_tx_get(st, 1)->body_len[1], 1234);
    cr_assert_eq(http_tx_get(st, 2)->body_announced[1], 0, "chunked framing wins over CL");
    cr_assert_eq(http_tx_get(st, 2)->body_len[1], 3);
    cr_assert_eq(http_tx_get(st, 3)->body_announced[1], 0, "delimited by the close");
    cr_assert_eq(http_tx_get(st, 3)->body_len[1], 13);
}
