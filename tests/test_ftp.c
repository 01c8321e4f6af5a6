/* test_ftp.c: FTP control parser (commands, replies, ports, hostile lines), EVE objects and the
 * expectation table. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/app-ftp.h"
#include "vigil/eve-ftp.h"

struct seen {
    int n;
    struct ftp_transfer last;
    char cmd[16];
    char name[256];
};

static void on_xfer(void *ctx, const struct ftp_transfer *t)
{
    struct seen *s = ctx;
    s->n++;
    s->last = *t;
    snprintf(s->cmd, sizeof(s->cmd), "%s", t->tx->command);
    snprintf(s->name, sizeof(s->name), "%.*s", (int)t->tx->data.len, (const char *)t->tx->data.s);
}

static void feed(struct ftp_state *s, int dir, const char *text)
{
    cr_assert_eq(ftp_feed(s, dir, (const uint8_t *)text, (uint32_t)strlen(text)), 0);
}

static char *object_text(const struct ftp_tx *tx)
{
    json_t *o = eve_ftp_object(tx);
    cr_assert_not_null(o);
    char *t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return t;
}

static const struct ftp_tx *tx_by_command(struct ftp_state *s, const char *cmd)
{
    for (unsigned i = 0; i < ftp_tx_count(s); i++)
        if (strcmp(ftp_tx_get(s, i)->command, cmd) == 0)
            return ftp_tx_get(s, i);
    return NULL;
}

Test(ftp, passive_retr_session)
{
    struct ftp_state *s = ftp_state_new(NULL);
    struct seen x = {0};
    ftp_state_set_transfer_cb(s, on_xfer, &x);
    feed(s, 1, "220 ProFTPD ready\r\n");
    feed(s, 0, "USER anonymous\r\n");
    feed(s, 1, "331 Password please\r\n");
    feed(s, 0, "pass secret\r\n");
    feed(s, 1, "230-Welcome\r\n to the server\r\n230 Logged in\r\n");
    feed(s, 0, "PASV\r\n");
    feed(s, 1, "227 Entering Passive Mode (192,0,2,21,195,80).\r\n");
    cr_assert_eq(x.n, 0);
    feed(s, 0, "RETR /pub/report.pdf\r\n");
    cr_assert_eq(x.n, 1);
    cr_assert_eq(x.last.port, 195 * 256 + 80);
    cr_assert_eq(x.last.mode, FTP_MODE_PASSIVE);
    cr_assert_eq(x.last.xfer, FTP_XFER_RETR);
    cr_assert_str_eq(x.cmd, "RETR");
    cr_assert_str_eq(x.name, "/pub/report.pdf");
    feed(s, 1, "150 Opening BINARY mode data connection\r\n");
    const struct ftp_tx *r = tx_by_command(s, "RETR");
    cr_assert_eq(r->xstatus, FTP_XS_ACCEPTED);
    cr_assert_eq(r->complete, 0);
    feed(s, 1, "226 Transfer complete\r\n");
    cr_assert_eq(r->xstatus, FTP_XS_DONE);
    cr_assert_eq(r->complete, 1);

    cr_assert_eq(ftp_tx_count(s), 5);
    const struct ftp_tx *g = ftp_tx_get(s, 0);
    cr_assert_str_eq(g->command, "");
    char *t = object_text(g);
    cr_assert_str_eq(t, "{\"completion_code\":[\"220\"],\"reply\":[\"ProFTPD ready\"],"
                        "\"reply_received\":\"yes\"}");
    free(t);
    t = object_text(tx_by_command(s, "PASS")); /* lower-case verb, upper-cased */
    cr_assert_str_eq(t, "{\"command\":\"PASS\",\"command_data\":\"secret\",\"completion_code\":["
                        "\"230\",\"230\"],\"reply\":[\"Welcome\",\" to the server\",\"Logged "
                        "in\"],\"reply_received\":\"yes\"}");
    free(t);
    t = object_text(tx_by_command(s, "PASV"));
    cr_assert_str_eq(t, "{\"command\":\"PASV\",\"completion_code\":[\"227\"],\"dynamic_port\":"
                        "50000,\"mode\":\"passive\",\"reply\":[\"Entering Passive Mode "
                        "(192,0,2,21,195,80).\"],\"reply_received\":\"yes\"}");
    free(t);
    t = object_text(r);
    cr_assert_str_eq(t, "{\"command\":\"RETR\",\"command_data\":\"/pub/report.pdf\","
                        "\"completion_code\":[\"150\",\"226\"],\"dynamic_port\":50000,\"mode\":"
                        "\"passive\",\"reply\":[\"Opening BINARY mode data connection\","
                        "\"Transfer complete\"],\"reply_received\":\"yes\"}");
    free(t);
    ftp_tx_release(s, UINT64_MAX);
    cr_assert_eq(ftp_tx_count(s), 0);
    cr_assert_eq(ftp_state_memuse(s), ftp_state_memuse(s)); /* defined after release */
    ftp_state_free(s);
}

Test(ftp, active_port_and_eprt)
{
    struct ftp_state *s = ftp_state_new(NULL);
    struct seen x = {0};
    ftp_state_set_transfer_cb(s, on_xfer, &x);
    feed(s, 0, "PORT 10,0,0,5,4,1\r\n");
    feed(s, 1, "200 PORT ok\r\n");
    feed(s, 0, "STOR upload.bin\r\n");
    cr_assert_eq(x.n, 1);
    cr_assert_eq(x.last.mode, FTP_MODE_ACTIVE);
    cr_assert_eq(x.last.port, 1025);
    cr_assert_eq(x.last.xfer, FTP_XFER_STOR);
    feed(s, 1, "150 ok\r\n553 Could not create file.\r\n");
    cr_assert_eq(tx_by_command(s, "STOR")->xstatus, FTP_XS_FAILED);
    feed(s, 0, "EPRT |2|2001:db8::5|40000|\r\nAPPE log.txt\r\n");
    cr_assert_eq(x.n, 2);
    cr_assert_eq(x.last.port, 40000);
    cr_assert_str_eq(x.cmd, "APPE");
    cr_assert_eq(x.last.xfer, FTP_XFER_STOR);
    /* A bad PORT forgets the port: the next transfer announces nothing. */
    feed(s, 0, "PORT 10,0,0,5,999,1\r\nRETR x\r\n");
    cr_assert_eq(x.n, 2);
    cr_assert_eq(ftp_state_stats(s)->events[FTP_EV_BAD_PORT], 1);
    ftp_state_free(s);
}

Test(ftp, pipelined_pasv_and_retr_wait_for_the_reply)
{
    struct ftp_state *s = ftp_state_new(NULL);
    struct seen x = {0};
    ftp_state_set_transfer_cb(s, on_xfer, &x);
    feed(s, 0, "EPSV\r\nRETR a.txt\r\nSYST\r\n");
    cr_assert_eq(x.n, 0);
    feed(s, 1, "229 Entering Extended Passive Mode (|||6446|)\r\n");
    cr_assert_eq(x.n, 1);
    cr_assert_eq(x.last.port, 6446);
    cr_assert_str_eq(x.name, "a.txt");
    feed(s, 1, "150 go\r\n226 done\r\n215 UNIX Type: L8\r\n");
    cr_assert_eq(ftp_tx_count(s), 3);
    for (unsigned i = 0; i < 3; i++)
        cr_assert(ftp_tx_get(s, i)->complete);
    cr_assert_eq(tx_by_command(s, "SYST")->last_code, 215);
    cr_assert_eq(tx_by_command(s, "RETR")->last_code, 226);
    ftp_state_free(s);
}

Test(ftp, port_parsers)
{
#define P(fn, str) fn((const uint8_t *)(str), (uint32_t)strlen(str))
    cr_assert_eq(P(ftp_parse_port, "192,168,1,2,7,138"), 7 * 256 + 138);
    cr_assert_eq(P(ftp_parse_port, " 1, 2, 3, 4, 0, 21"), 21);
    cr_assert_eq(P(ftp_parse_port, "1,2,3,4,0,0"), -1);   /* port 0 */
    cr_assert_eq(P(ftp_parse_port, "1,2,3,4,256,1"), -1); /* byte > 255 */
    cr_assert_eq(P(ftp_parse_port, "1,2,3,4,5"), -1);     /* five numbers */
    cr_assert_eq(P(ftp_parse_port, "1,2,3,4,5,"), -1);
    cr_assert_eq(P(ftp_parse_port, "0000001,2,3,4,5,6"), -1); /* too many digits */
    cr_assert_eq(P(ftp_parse_pasv, "Entering Passive Mode (10,1,2,3,200,10)"), 200 * 256 + 10);
    cr_assert_eq(P(ftp_parse_pasv, "=10,1,2,3,0,99"), 99); /* no parenthesis */
    cr_assert_eq(P(ftp_parse_pasv, "Entering Passive Mode ("), -1);
    cr_assert_eq(P(ftp_parse_epsv, "Extended (|||65535|)"), 65535);
    cr_assert_eq(P(ftp_parse_epsv, "Extended (!!!1234!)"), 1234);
    cr_assert_eq(P(ftp_parse_epsv, "Extended (|||65536|)"), -1);
    cr_assert_eq(P(ftp_parse_epsv, "Extended (|||12"), -1);
    cr_assert_eq(P(ftp_parse_epsv, "Extended |||12|"), -1);
    cr_assert_eq(P(ftp_parse_eprt, "|1|132.235.1.2|6275|"), 6275);
    cr_assert_eq(P(ftp_parse_eprt, "|2|1080::8:800:200C:417A|5282|"), 5282);
    cr_assert_eq(P(ftp_parse_eprt, "|2|::1|0|"), -1);
    cr_assert_eq(P(ftp_parse_eprt, "|2|::1"), -1);
    cr_assert_eq(P(ftp_parse_eprt, "5|2|::1|5|"), -1); /* a digit is no delimiter */
    cr_assert_eq(ftp_parse_eprt((const uint8_t *)"", 0), -1);
#undef P
}

Test(ftp, long_lines_are_cut_and_the_next_command_parses)
{
    struct ftp_config c;
    ftp_config_defaults(&c);
    c.max_line = 64;
    struct ftp_state *s = ftp_state_new(&c);
    char big[10000];
    memset(big, 'A', sizeof(big));
    memcpy(big, "RETR ", 5);
    for (int i = 0; i < 5; i++) /* no LF yet, in pieces */
        cr_assert_eq(ftp_feed(s, 0, (const uint8_t *)big + i * 2000, 2000), 0);
    cr_assert_eq(ftp_tx_count(s), 0);
    feed(s, 0, "\r\nNOOP\r\n");
    cr_assert_eq(ftp_tx_count(s), 2);
    const struct ftp_tx *t = ftp_tx_get(s, 0);
    cr_assert_str_eq(t->command, "RETR");
    cr_assert_eq(t->command_truncated, 1);
    cr_assert_eq(t->data.len, 64 - 5);
    cr_assert(t->events & (1u << FTP_EV_REQUEST_TOO_LONG));
    cr_assert_str_eq(ftp_tx_get(s, 1)->command, "NOOP");
    cr_assert_eq(ftp_tx_get(s, 1)->command_truncated, 0);
    /* A long reply line too, then a normal one. */
    char rep[300];
    memset(rep, 'z', sizeof(rep));
    memcpy(rep, "500 ", 4);
    cr_assert_eq(ftp_feed(s, 1, (const uint8_t *)rep, sizeof(rep)), 0);
    feed(s, 1, "\r\n200 NOOP ok\r\n");
    cr_assert_eq(ftp_tx_get(s, 0)->last_code, 500);
    cr_assert_eq(ftp_tx_get(s, 0)->reply[0].len, 60);
    cr_assert_eq(ftp_tx_get(s, 1)->last_code, 200);
    cr_assert_eq(ftp_state_stats(s)->events[FTP_EV_REPLY_TOO_LONG], 1);
    ftp_state_free(s);
}

Test(ftp, binary_junk_and_bytewise_feeding_agree)
{
    static const uint8_t junk[] = "\x00\xff\xfeUSER \x00bin\x01\r\n\x80\x81\x82\n220\r\n"
                                  "999 no\r\n2\r\n\r\n\r\nQUIT\r\n";
    struct ftp_state *a = ftp_state_new(NULL), *b = ftp_state_new(NULL);
    cr_assert_eq(ftp_feed(a, 0, junk, sizeof(junk) - 1), 0);
    for (size_t i = 0; i < sizeof(junk) - 1; i++)
        cr_assert_eq(ftp_feed(b, 0, junk + i, 1), 0);
    cr_assert_eq(ftp_feed(a, 1, junk, sizeof(junk) - 1), 0);
    for (size_t i = 0; i < sizeof(junk) - 1; i++)
        cr_assert_eq(ftp_feed(b, 1, junk + i, 1), 0);
    ftp_eof(a, 0);
    ftp_eof(a, 1);
    ftp_eof(b, 0);
    ftp_eof(b, 1);
    cr_assert_eq(ftp_tx_count(a), ftp_tx_count(b));
    for (unsigned i = 0; i < ftp_tx_count(a); i++) {
        char *ta = object_text(ftp_tx_get(a, i)), *tb = object_text(ftp_tx_get(b, i));
        cr_assert_str_eq(ta, tb);
        free(ta);
        free(tb);
        cr_assert(ftp_tx_get(a, i)->complete);
    }
    /* Commands: the junk line, "\x80\x81\x82", "220", "999 no", "2", "QUIT" (empty lines
     * skipped); replies that are not codes are counted. */
    cr_assert_eq(ftp_state_stats(a)->commands, 6);
    cr_assert_gt(ftp_state_stats(a)->events[FTP_EV_INVALID_REPLY], 0);
    char *t = object_text(ftp_tx_get(a, 0));
    /* Bytes that are not UTF-8 are escaped (valid JSON); lines without a code join the
     * waiting command's reply until "220" ends it. */
    cr_assert_str_eq(
        t, "{\"command\":\"\\\\x00\\\\xff\\\\xfeUSER\",\"command_data\":\"\\\\x0bin\\\\x01\","
           "\"completion_code\":[\"220\"],\"reply\":[\"\\\\x00\\\\xff\\\\xfeUSER "
           "\\\\x0bin\\\\x01\",\"\\\\x80\\\\x81\\\\x82\",\"\"],\"reply_received\":\"yes\"}");
    free(t);
    ftp_state_free(a);
    ftp_state_free(b);
}

Test(ftp, no_crlf_then_eof_takes_the_last_line)
{
    struct ftp_state *s = ftp_state_new(NULL);
    feed(s, 0, "RETR tail");
    cr_assert_eq(ftp_tx_count(s), 0);
    ftp_eof(s, 0);
    cr_assert_eq(ftp_tx_count(s), 1);
    cr_assert_str_eq(ftp_tx_get(s, 0)->command, "RETR");
    cr_assert_eq(ftp_tx_get(s, 0)->complete, 0);
    ftp_eof(s, 1);
    cr_assert_eq(ftp_tx_get(s, 0)->complete, 1);
    cr_assert_eq(ftp_tx_get(s, 0)->reply_received, 0);
    char *t = object_text(ftp_tx_get(s, 0));
    cr_assert_str_eq(t,
                     "{\"command\":\"RETR\",\"command_data\":\"tail\",\"reply_received\":\"no\"}");
    free(t);
    ftp_state_free(s);
}

Test(ftp, gap_drops_the_partial_line)
{
    struct ftp_state *s = ftp_state_new(NULL);
    feed(s, 0, "STOR half");
    ftp_gap(s, 0, 100);
    feed(s, 0, "-of-a-line\r\nNOOP\r\n");
    cr_assert_eq(ftp_tx_count(s), 1);
    cr_assert_str_eq(ftp_tx_get(s, 0)->command, "NOOP");
    cr_assert_eq(ftp_state_stats(s)->events[FTP_EV_GAP], 1);
    ftp_state_free(s);
}

Test(ftp, too_many_commands_drop_the_oldest_counted)
{
    struct ftp_config c;
    ftp_config_defaults(&c);
    c.max_txs = 4;
    c.max_replies = 2;
    struct ftp_state *s = ftp_state_new(&c);
    for (int i = 0; i < 10; i++)
        feed(s, 0, "NOOP\r\n");
    cr_assert_eq(ftp_tx_count(s), 4);
    cr_assert_eq(ftp_tx_get(s, 0)->id, 6);
    cr_assert_eq(ftp_state_stats(s)->events[FTP_EV_TX_DROPPED], 6);
    feed(s, 1, "211-a\r\nb\r\nc\r\nd\r\n211 end\r\n");
    const struct ftp_tx *t = ftp_tx_get(s, 0);
    cr_assert_eq(t->nreply, 2);
    cr_assert_eq(t->reply_dropped, 3);
    cr_assert(t->complete);
    char *j = object_text(t);
    cr_assert_not_null(strstr(j, "\"reply_truncated\":true"));
    free(j);
    ftp_state_free(s);
}

/* ---- The expectation table ---- */

static struct ftp_expectation expectation(uint8_t a, uint8_t b, uint16_t port)
{
    struct ftp_expectation e;
    memset(&e, 0, sizeof(e));
    e.ip_ver = 4;
    e.orig.u8[0] = a;
    e.resp.u8[0] = b;
    e.port = port;
    snprintf(e.command, sizeof(e.command), "RETR");
    return e;
}

Test(ftp_expect, match_once_by_addresses_and_port)
{
    struct ftp_expect *t = ftp_expect_new(8, 60);
    struct ftp_expectation e = expectation(1, 2, 5000), out;
    e.control_flow_id = 77;
    struct vg_addr a = e.orig, b = e.resp;
    cr_assert_eq(ftp_expect_take(t, 4, &a, &b, 5000, 1, &out), 0); /* empty */
    cr_assert_eq(ftp_expect_add(t, &e, 1000), 0);
    cr_assert_eq(ftp_expect_take(t, 4, &b, &a, 5000, 2000, &out), 0); /* reversed */
    cr_assert_eq(ftp_expect_take(t, 4, &a, &b, 5001, 2000, &out), 0); /* port */
    cr_assert_eq(ftp_expect_take(t, 6, &a, &b, 5000, 2000, &out), 0); /* family */
    cr_assert_eq(ftp_expect_take(t, 4, &a, &b, 5000, 2000, &out), 1);
    cr_assert_eq(out.control_flow_id, 77);
    cr_assert_eq(out.expires, 1000 + 60 * VG_USEC_PER_SEC);
    cr_assert_eq(ftp_expect_take(t, 4, &a, &b, 5000, 3000, &out), 0); /* taken */
    struct ftp_expect_stats st;
    ftp_expect_get_stats(t, &st);
    cr_assert_eq(st.added, 1);
    cr_assert_eq(st.matched, 1);
    cr_assert_eq(st.active, 0);
    ftp_expect_free(t);
}

Test(ftp_expect, timeout_and_bound)
{
    struct ftp_expect *t = ftp_expect_new(3, 10);
    for (int i = 0; i < 5; i++) {
        struct ftp_expectation e = expectation(1, 2, (uint16_t)(100 + i));
        cr_assert_eq(ftp_expect_add(t, &e, 1000), i >= 3);
    }
    struct ftp_expect_stats st;
    ftp_expect_get_stats(t, &st);
    cr_assert_eq(st.dropped, 2);
    cr_assert_eq(st.active, 3);
    struct ftp_expectation e = expectation(1, 2, 0), out;
    cr_assert_eq(ftp_expect_take(t, 4, &e.orig, &e.resp, 100, 2000, &out), 0); /* dropped */
    cr_assert_eq(ftp_expect_take(t, 4, &e.orig, &e.resp, 102, 2000, &out), 1);
    /* 10 s later the rest have expired. */
    cr_assert_eq(ftp_expect_take(t, 4, &e.orig, &e.resp, 103, 1000 + 11 * VG_USEC_PER_SEC, &out),
                 0);
    ftp_expect_get_stats(t, &st);
    cr_assert_eq(st.expired, 2);
    cr_assert_eq(st.active, 0);
    ftp_expect_free(t);
    cr_assert_null(ftp_expect_new(0, 10));
}

struct worker_arg {
    struct ftp_expect *t;
    int adder;
    int taken;
};

static void *expect_worker(void *p)
{
    struct worker_arg *w = p;
    for (int i = 0; i < 2000; i++) {
        struct ftp_expectation e = expectation(9, 8, (uint16_t)(1 + i % 500)), out;
        if (w->adder)
            ftp_expect_add(w->t, &e, 1);
        else
            w->taken += ftp_expect_take(w->t, 4, &e.orig, &e.resp, e.port, 1, &out);
    }
    return NULL;
}

/* Workers adding and taking at once: every expectation is taken at most once. */
Test(ftp_expect, threads)
{
    struct ftp_expect *t = ftp_expect_new(4096, 60);
    struct worker_arg w[4] = {{t, 1, 0}, {t, 1, 0}, {t, 0, 0}, {t, 0, 0}};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, expect_worker, &w[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    struct ftp_expect_stats st;
    ftp_expect_get_stats(t, &st);
    cr_assert_eq(st.added, 4000);
    cr_assert_eq(st.matched, (uint64_t)(w[2].taken + w[3].taken));
    cr_assert_eq(st.active, 4000 - st.matched);
    cr_assert_eq(st.dropped, 0);
    ftp_expect_free(t);
}
