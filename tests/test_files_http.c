/* test_files_http.c: HTTP files through the sensor: Range responses and holes in the stream. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktgen.h"
#include "testutil.h"

/* Writes one HTTP exchange to path; the server skips `lost` bytes after its first `first`. */
static void write_exchange(const char *path, const char *req, const char *resp_head,
                           const uint8_t *body, size_t body_len, size_t first, size_t lost)
{
    struct pg_writer *w = pg_open(path, 1, 0);
    cr_assert_not_null(w);
    struct pg_tcp_session s = {"192.0.2.10", "198.51.100.80", 40000, 80, 1000, 5000, 0};
    uint64_t ts = 1700000000000000ull;
    pg_session_open(w, &s, &ts);
    pg_session_data(w, &s, 1, req, strlen(req), &ts);
    pg_session_data(w, &s, 0, resp_head, strlen(resp_head), &ts);
    if (lost == 0) {
        pg_session_data(w, &s, 0, body, body_len, &ts);
    } else {
        pg_session_data(w, &s, 0, body, first, &ts);
        s.sseq += (uint32_t)lost; /* these bytes never reach the capture */
        pg_session_data(w, &s, 0, body + first + lost, body_len - first - lost, &ts);
    }
    pg_session_close(w, &s, &ts);
    pg_close(w);
}

/* Runs the sensor on pcap and returns the single fileinfo record's events (one expected). */
static json_t *one_file(const char *dir, const char *pcap, struct tu_events *e)
{
    char *out = NULL;
    cr_assert_eq(tu_sensor(dir, e, &out, "-r", pcap, NULL), 0, "%s", out);
    free(out);
    cr_assert_eq(tu_count(e, "fileinfo", NULL, NULL), 1);
    return tu_find(e, "fileinfo", NULL, NULL);
}

/* A 206 with Content-Range: the file is the part, marked partial with its start and end. */
Test(files_http, range_response_is_partial)
{
    char *dir = tu_tmpdir();
    char pcap[4200];
    snprintf(pcap, sizeof(pcap), "%s/range.pcap", dir);
    static uint8_t body[100];
    memset(body, 'R', sizeof(body));
    write_exchange(pcap, "GET /big.iso HTTP/1.1\r\nHost: h\r\nRange: bytes=1000-1099\r\n\r\n",
                   "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 1000-1099/5000\r\n"
                   "Content-Length: 100\r\n\r\n",
                   body, sizeof(body), 0, 0);
    struct tu_events e;
    json_t *fi = one_file(dir, pcap, &e);
    cr_assert_str_eq(tu_str(fi, "fileinfo.filename"), "/big.iso");
    cr_assert_eq(tu_int(fi, "fileinfo.start"), 1000);
    cr_assert_eq(tu_int(fi, "fileinfo.end"), 1099);
    cr_assert(json_is_true(json_object_get(json_object_get(fi, "fileinfo"), "partial")));
    cr_assert_eq(tu_int(fi, "fileinfo.size"), 100);
    cr_assert_str_eq(tu_str(fi, "fileinfo.state"), "CLOSED");
    tu_events_free(&e);
    tu_rmdir(dir);
    free(dir);
}

/* A 206 whose Content-Range is invalid: still partial, without start/end. */
Test(files_http, range_response_bad_content_range)
{
    char *dir = tu_tmpdir();
    char pcap[4200];
    snprintf(pcap, sizeof(pcap), "%s/range.pcap", dir);
    static const uint8_t body[] = "0123456789";
    write_exchange(pcap, "GET /f HTTP/1.1\r\nHost: h\r\n\r\n",
                   "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 9-2/5000\r\n"
                   "Content-Length: 10\r\n\r\n",
                   body, 10, 0, 0);
    struct tu_events e;
    json_t *fi = one_file(dir, pcap, &e);
    json_t *o = json_object_get(fi, "fileinfo");
    cr_assert(json_is_true(json_object_get(o, "partial")));
    cr_assert_null(json_object_get(o, "start"));
    cr_assert_null(json_object_get(o, "end"));
    cr_assert_eq(tu_int(fi, "fileinfo.size"), 10);
    tu_events_free(&e);
    tu_rmdir(dir);
    free(dir);
}

/* 1000 bytes of a 3000-byte body are lost: the file has a gap and is TRUNCATED. */
Test(files_http, gap_in_body_truncates)
{
    char *dir = tu_tmpdir();
    char pcap[4200];
    snprintf(pcap, sizeof(pcap), "%s/gap.pcap", dir);
    static uint8_t body[3000];
    memset(body, 'G', sizeof(body));
    write_exchange(pcap, "GET /doc.bin HTTP/1.1\r\nHost: h\r\n\r\n",
                   "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n", body, sizeof(body), 1000,
                   1000);
    struct tu_events e;
    json_t *fi = one_file(dir, pcap, &e);
    json_t *o = json_object_get(fi, "fileinfo");
    cr_assert(json_is_true(json_object_get(o, "gaps")));
    cr_assert_str_eq(tu_str(fi, "fileinfo.state"), "TRUNCATED");
    cr_assert_eq(tu_int(fi, "fileinfo.size"), 2000, "the bytes seen, both sides of the hole");
    tu_events_free(&e);
    tu_rmdir(dir);
    free(dir);
}

/* The same exchange without the hole: no gap, CLOSED, the whole body. */
Test(files_http, no_gap_closed)
{
    char *dir = tu_tmpdir();
    char pcap[4200];
    snprintf(pcap, sizeof(pcap), "%s/nogap.pcap", dir);
    static uint8_t body[3000];
    memset(body, 'G', sizeof(body));
    write_exchange(pcap, "GET /doc.bin HTTP/1.1\r\nHost: h\r\n\r\n",
                   "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n", body, sizeof(body), 0, 0);
    struct tu_events e;
    json_t *fi = one_file(dir, pcap, &e);
    json_t *o = json_object_get(fi, "fileinfo");
    cr_assert(json_is_false(json_object_get(o, "gaps")));
    cr_assert_str_eq(tu_str(fi, "fileinfo.state"), "CLOSED");
    cr_assert_eq(tu_int(fi, "fileinfo.size"), 3000);
    tu_events_free(&e);
    tu_rmdir(dir);
    free(dir);
}
