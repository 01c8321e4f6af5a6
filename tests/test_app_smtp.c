/* test_app_smtp.c: SMTP parser: sessions, pipelining, DATA/BDAT, STARTTLS, MIME, limits, EVE. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/app-smtp.h"
#include "vigil/eve-smtp.h"

/* One step of a session: who speaks and what. */
struct step {
    int dir;
    const char *text;
};

static const struct step session[] = {
    {1, "220 mx.example.org ESMTP Postfix\r\n"},
    {0, "EHLO client.example.com\r\n"},
    {1, "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n"},
    {0, "MAIL FROM:<alice@example.com> SIZE=512\r\n"},
    {1, "250 2.1.0 Ok\r\n"},
    {0, "RCPT TO:<bob@example.org>\r\n"},
    {1, "250 2.1.5 Ok\r\n"},
    {0, "rcpt to: <carol@example.org>\r\n"},
    {1, "250 2.1.5 Ok\r\n"},
    {0, "DATA\r\n"},
    {1, "354 End data with <CR><LF>.<CR><LF>\r\n"},
    {0, "From: \"Alice A.\" <alice@example.com>\r\n"
        "To: <bob@example.org>, \"Carol, C.\" <carol@example.org>\r\n"
        "Subject: quarterly\r\n"
        " report\r\n"
        "Date: Mon, 1 Apr 2024 10:00:00 +0700\r\n"
        "Message-Id: <123@example.com>\r\n"
        "X-Mailer: TestMailer 1.0\r\n"
        "\r\n"
        "Hello Bob,\r\n"
        "..leading dot\r\n"
        ". not the end\r\n"
        "bye\r\n"
        ".\r\n"},
    {1, "250 2.0.0 Ok: queued as 12345\r\n"},
    {0, "QUIT\r\n"},
    {1, "221 2.0.0 Bye\r\n"},
};
#define NSTEPS (sizeof(session) / sizeof(session[0]))

static const char expected_body[] = "From: \"Alice A.\" <alice@example.com>\r\n"
                                    "To: <bob@example.org>, \"Carol, C.\" <carol@example.org>\r\n"
                                    "Subject: quarterly\r\n"
                                    " report\r\n"
                                    "Date: Mon, 1 Apr 2024 10:00:00 +0700\r\n"
                                    "Message-Id: <123@example.com>\r\n"
                                    "X-Mailer: TestMailer 1.0\r\n"
                                    "\r\n"
                                    "Hello Bob,\r\n"
                                    ".leading dot\r\n"
                                    " not the end\r\n"
                                    "bye\r\n";

/* Body callback collector. */
struct body {
    char buf[200000];
    size_t len;
    int lasts;
    uint64_t last_id;
};

static void on_body(void *ctx, const struct smtp_tx *tx, const uint8_t *d, uint32_t n, int last)
{
    struct body *b = ctx;
    if (n > 0) {
        cr_assert_leq(b->len + n, sizeof(b->buf));
        memcpy(b->buf + b->len, d, n);
        b->len += n;
    }
    if (last) {
        b->lasts++;
        b->last_id = tx->id;
    }
}

static void feed_str(struct smtp_state *s, int dir, const char *t)
{
    smtp_feed(s, dir, (const uint8_t *)t, (uint32_t)strlen(t));
}

static void run_steps(struct smtp_state *s, const struct step *st, size_t n)
{
    for (size_t i = 0; i < n; i++)
        feed_str(s, st[i].dir, st[i].text);
}

static char *dump(json_t *j)
{
    cr_assert_not_null(j);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return s;
}

static unsigned nevents(const struct smtp_state *s)
{
    unsigned n = 0;
    for (int i = 0; i < SMTP_EV__COUNT; i++)
        n += (unsigned)smtp_state_stats(s)->events[i];
    return n;
}

/* Checks the transaction of the session above. */
static void check_session_tx(const struct smtp_tx *tx)
{
    cr_assert_not_null(tx);
    cr_assert(tx->complete);
    cr_assert_str_eq(tx->helo, "client.example.com");
    cr_assert_str_eq(tx->mail_from, "<alice@example.com>");
    cr_assert_eq(tx->nrcpt, 2);
    cr_assert_str_eq(tx->rcpt_to[0], "<bob@example.org>");
    cr_assert_str_eq(tx->rcpt_to[1], "<carol@example.org>");
    cr_assert_eq(tx->status, SMTP_MAIL_DONE);
    cr_assert_str_eq(tx->hdr[SMTP_HDR_SUBJECT], "quarterly report");
    cr_assert_str_eq(tx->hdr[SMTP_HDR_MESSAGE_ID], "<123@example.com>");
    cr_assert_str_eq(tx->hdr[SMTP_HDR_X_MAILER], "TestMailer 1.0");
    uint32_t bl;
    const uint8_t *b = smtp_tx_body(tx, &bl);
    cr_assert_eq(bl, strlen(expected_body), "body of %u bytes", bl);
    cr_assert(memcmp(b, expected_body, bl) == 0, "body: %.*s", (int)bl, b);
    cr_assert_eq(tx->body_total, bl);
}

Test(smtp, full_session)
{
    struct smtp_state *s = smtp_state_new(NULL);
    struct body *b = calloc(1, sizeof(*b));
    smtp_state_set_body_cb(s, on_body, b);
    run_steps(s, session, NSTEPS);
    cr_assert_eq(smtp_tx_count(s), 1);
    check_session_tx(smtp_tx_get(s, 0));
    cr_assert_eq(b->len, strlen(expected_body));
    cr_assert(memcmp(b->buf, expected_body, b->len) == 0);
    cr_assert_eq(b->lasts, 1);
    cr_assert_eq(nevents(s), 0, "unexpected events");
    cr_assert_eq(smtp_last_reply(s), 221);
    cr_assert_eq(smtp_state_stats(s)->commands, 6);
    cr_assert_eq(smtp_state_stats(s)->replies, 8);
    cr_assert_eq(smtp_tls_offset(s, 0), -1);
    smtp_tx_release(s, 0);
    cr_assert_eq(smtp_tx_count(s), 0);
    smtp_state_free(s);
    free(b);
}

Test(smtp, eve_objects)
{
    struct smtp_state *s = smtp_state_new(NULL);
    run_steps(s, session, NSTEPS);
    const struct smtp_tx *tx = smtp_tx_get(s, 0);
    char *j = dump(eve_smtp_object(tx));
    cr_assert_str_eq(j, "{\"helo\":\"client.example.com\",\"mail_from\":\"<alice@example.com>\","
                        "\"rcpt_to\":[\"<bob@example.org>\",\"<carol@example.org>\"]}");
    free(j);
    j = dump(eve_email_object(tx, 0));
    cr_assert_str_eq(j, "{\"status\":\"PARSE_DONE\",\"from\":\"\\\"Alice A.\\\" "
                        "<alice@example.com>\",\"to\":[\"<bob@example.org>\",\"\\\"Carol, C.\\\" "
                        "<carol@example.org>\"],\"subject\":\"quarterly report\"}");
    free(j);
    json_t *e = eve_email_object(tx, 1);
    cr_assert_str_eq(json_string_value(json_object_get(e, "x_mailer")), "TestMailer 1.0");
    cr_assert_str_eq(json_string_value(json_object_get(e, "date")),
                     "Mon, 1 Apr 2024 10:00:00 +0700");
    json_decref(e);
    smtp_state_free(s);
}

/* All client bytes of the session, and all server bytes. */
static size_t side(int dir, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < NSTEPS; i++) {
        if (session[i].dir != dir)
            continue;
        size_t l = strlen(session[i].text);
        cr_assert_lt(n + l, cap);
        memcpy(out + n, session[i].text, l);
        n += l;
    }
    return n;
}

Test(smtp, split_at_every_byte)
{
    /* every step split in three at every pair of places (second cut every 5 bytes) */
    for (size_t k = 0; k < NSTEPS; k++) {
        size_t kl = strlen(session[k].text);
        for (size_t a = 0; a <= kl; a++) {
            for (size_t c = a; c <= kl; c += 5) {
                struct smtp_state *s = smtp_state_new(NULL);
                struct body *b = calloc(1, sizeof(*b));
                smtp_state_set_body_cb(s, on_body, b);
                for (size_t i = 0; i < NSTEPS; i++) {
                    const uint8_t *t = (const uint8_t *)session[i].text;
                    if (i != k) {
                        smtp_feed(s, session[i].dir, t, (uint32_t)strlen(session[i].text));
                        continue;
                    }
                    smtp_feed(s, session[i].dir, t, (uint32_t)a);
                    smtp_feed(s, session[i].dir, t + a, (uint32_t)(c - a));
                    smtp_feed(s, session[i].dir, t + c, (uint32_t)(kl - c));
                }
                cr_assert_eq(smtp_tx_count(s), 1, "step %zu split %zu/%zu", k, a, c);
                check_session_tx(smtp_tx_get(s, 0));
                cr_assert_eq(b->len, strlen(expected_body), "step %zu split %zu/%zu", k, a, c);
                cr_assert_eq(b->lasts, 1);
                cr_assert_eq(nevents(s), 0);
                smtp_state_free(s);
                free(b);
            }
        }
    }
    /* the client's whole side split at every byte, the server's replies after it all */
    static char cb[4096], sv[4096];
    size_t cl = side(0, cb, sizeof(cb)), sl = side(1, sv, sizeof(sv));
    const uint8_t *cu = (const uint8_t *)cb, *su = (const uint8_t *)sv;
    for (size_t a = 0; a <= cl; a++) {
        struct smtp_state *s = smtp_state_new(NULL);
        smtp_feed(s, 0, cu, (uint32_t)a);
        smtp_feed(s, 0, cu + a, (uint32_t)(cl - a));
        smtp_feed(s, 1, su, (uint32_t)sl);
        check_session_tx(smtp_tx_get(s, 0));
        cr_assert_eq(nevents(s), 0);
        smtp_state_free(s);
    }
    /* one byte at a time, in the session's order */
    struct smtp_state *s = smtp_state_new(NULL);
    for (size_t i = 0; i < NSTEPS; i++)
        for (const char *p = session[i].text; *p; p++)
            smtp_feed(s, session[i].dir, (const uint8_t *)p, 1);
    check_session_tx(smtp_tx_get(s, 0));
    cr_assert_eq(nevents(s), 0);
    smtp_state_free(s);
}

Test(smtp, pipelining_and_two_mails)
{
    struct smtp_state *s = smtp_state_new(NULL);
    struct step st[] = {
        {1, "220 mx ESMTP\r\n"},
        {0, "EHLO a\r\n"},
        {1, "250-mx\r\n250 PIPELINING\r\n"},
        {0, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@y>\r\nDATA\r\n"},
        {1, "250 ok\r\n250 ok\r\n550 no such user\r\n354 go\r\n"},
        {0, "Subject: one\r\n\r\nbody one\r\n.\r\nMAIL FROM:<d@x>\r\nRCPT TO:<e@y>\r\nDATA\r\n"},
        {1, "250 queued\r\n250 ok\r\n250 ok\r\n354 go\r\n"},
        {0, "Subject: two\r\n\r\nbody two\r\n.\r\nQUIT\r\n"},
        {1, "250 queued\r\n221 bye\r\n"},
    };
    run_steps(s, st, sizeof(st) / sizeof(st[0]));
    cr_assert_eq(smtp_tx_count(s), 2);
    const struct smtp_tx *t0 = smtp_tx_get(s, 0), *t1 = smtp_tx_get(s, 1);
    cr_assert_eq(t0->id, 0);
    cr_assert_eq(t1->id, 1);
    cr_assert_eq(t0->nrcpt, 2);
    cr_assert_str_eq(t0->hdr[SMTP_HDR_SUBJECT], "one");
    cr_assert_str_eq(t1->hdr[SMTP_HDR_SUBJECT], "two");
    cr_assert_str_eq(t1->mail_from, "<d@x>");
    cr_assert_str_eq(t1->helo, "a");
    cr_assert_eq(t1->status, SMTP_MAIL_DONE);
    uint32_t bl;
    const uint8_t *b = smtp_tx_body(t1, &bl);
    cr_assert_eq(bl, strlen("Subject: two\r\n\r\nbody two\r\n"));
    cr_assert(memcmp(b, "Subject: two\r\n\r\nbody two\r\n", bl) == 0);
    cr_assert_eq(nevents(s), 0, "every reply matched its command");
    cr_assert_eq(smtp_last_reply(s), 221);
    smtp_tx_release(s, 0);
    cr_assert_eq(smtp_tx_count(s), 1);
    cr_assert_eq(smtp_tx_get(s, 0)->id, 1);
    smtp_state_free(s);
}

Test(smtp, dot_unstuffing)
{
    struct smtp_state *s = smtp_state_new(NULL);
    feed_str(s, 0, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n");
    feed_str(s, 0, "\r\n..\r\n...x\r\n.y\r\n. \r\nlast\n.\n");
    const struct smtp_tx *tx = smtp_tx_get(s, 0);
    cr_assert_eq(tx->status, SMTP_MAIL_DONE);
    uint32_t bl;
    const uint8_t *b = smtp_tx_body(tx, &bl);
    const char *want = "\r\n.\r\n..x\r\ny\r\n \r\nlast\n";
    cr_assert_eq(bl, strlen(want));
    cr_assert(memcmp(b, want, bl) == 0, "%.*s", (int)bl, b);
    /* a "." line inside a long line is not the end */
    feed_str(s, 0, "MAIL FROM:<a@x>\r\nDATA\r\nabc.\r\n.\r\n");
    cr_assert_eq(smtp_tx_count(s), 2);
    cr_assert_eq(smtp_tx_get(s, 1)->body_total, 6);
    smtp_state_free(s);
}

Test(smtp, starttls_offsets)
{
    struct smtp_state *s = smtp_state_new(NULL);
    const char *g = "220 mx ESMTP\r\n", *e = "EHLO a\r\n", *r = "250-mx\r\n250 STARTTLS\r\n";
    const char *st = "STARTTLS\r\n", *ok = "220 2.0.0 Ready to start TLS\r\n";
    feed_str(s, 1, g);
    feed_str(s, 0, e);
    feed_str(s, 1, r);
    cr_assert_eq(smtp_feed(s, 0, (const uint8_t *)st, (uint32_t)strlen(st)), SMTP_FEED_OK);
    cr_assert_eq(smtp_tls_offset(s, 0), -1);
    /* the 220 and the start of the server's TLS in one segment */
    char seg[128];
    size_t okl = strlen(ok);
    memcpy(seg, ok, okl);
    memcpy(seg + okl, "\x16\x03\x03\x00\x10", 5);
    int n = (int)okl + 5;
    cr_assert_eq(smtp_feed(s, 1, (const uint8_t *)seg, (uint32_t)n), SMTP_FEED_TLS);
    cr_assert_eq(smtp_tls_offset(s, 0), (int64_t)(strlen(e) + strlen(st)));
    cr_assert_eq(smtp_tls_offset(s, 1), (int64_t)(strlen(g) + strlen(r) + strlen(ok)));
    /* TLS bytes are not parsed as commands */
    cr_assert_eq(smtp_feed(s, 0, (const uint8_t *)"\x16\x03\x01MAIL FROM:<x@y>\r\n", 21),
                 SMTP_FEED_TLS);
    cr_assert_eq(smtp_tx_count(s), 0);
    cr_assert_eq(nevents(s), 0);
    smtp_state_free(s);

    /* refused: the session goes on in clear */
    s = smtp_state_new(NULL);
    feed_str(s, 1, g);
    feed_str(s, 0, "EHLO a\r\nSTARTTLS\r\n");
    feed_str(s, 1, "250 mx\r\n454 TLS not available\r\n");
    cr_assert_eq(smtp_tls_offset(s, 1), -1);
    cr_assert_eq(smtp_state_stats(s)->events[SMTP_EV_TLS_REJECTED], 1);
    feed_str(s, 0, "MAIL FROM:<a@b>\r\n");
    cr_assert_eq(smtp_tx_count(s), 1);
    smtp_state_free(s);
}

Test(smtp, mime_multipart_attachments)
{
    struct smtp_state *s = smtp_state_new(NULL);
    feed_str(s, 0, "HELO GP\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n");
    feed_str(s, 0,
             "From: a@x\r\n"
             "Content-Type: multipart/mixed;\r\n"
             "\tboundary=\"outer-b\"\r\n"
             "\r\n"
             "preamble\r\n"
             "--outer-b\r\n"
             "Content-Type: multipart/alternative; boundary=inner\r\n"
             "\r\n"
             "--inner\r\n"
             "Content-Type: text/plain\r\n"
             "\r\n"
             "text\r\n"
             "--inner\r\n"
             "Content-Type: text/html\r\n"
             "\r\n"
             "<p>text</p>\r\n"
             "--inner--\r\n"
             "--outer-b\r\n"
             "Content-Type: text/plain; name=\"ignored.txt\"\r\n"
             "Content-Disposition: attachment;\r\n"
             " filename=\"NEWS.txt\"\r\n"
             "\r\n"
             "news\r\n"
             "--outer-b\r\n"
             "Content-Type: application/pdf; name=report.pdf\r\n"
             "\r\n"
             "JVBERi0=\r\n"
             "--outer-b\r\n"
             "Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.doc\r\n"
             "\r\n"
             "x\r\n"
             "--outer-b--\r\n"
             "epilogue\r\n"
             ".\r\n");
    const struct smtp_tx *tx = smtp_tx_get(s, 0);
    cr_assert(tx->multipart);
    cr_assert_eq(tx->status, SMTP_MAIL_DONE);
    cr_assert_eq(tx->nattach, 3);
    cr_assert_str_eq(tx->attachments[0], "NEWS.txt");
    cr_assert_str_eq(tx->attachments[1], "report.pdf");
    cr_assert_str_eq(tx->attachments[2], "r%C3%A9sum%C3%A9.doc");
    json_t *e = eve_email_object(tx, 0);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(e, "attachment"), 0)),
                     "NEWS.txt");
    cr_assert_str_eq(json_string_value(json_object_get(e, "from")), "a@x");
    json_decref(e);
    cr_assert_eq(nevents(s), 0);
    smtp_state_free(s);
}

Test(smtp, long_lines)
{
    struct smtp_config cfg;
    smtp_config_defaults(&cfg);
    struct smtp_state *s = smtp_state_new(&cfg);
    struct body *b = calloc(1, sizeof(*b));
    smtp_state_set_body_cb(s, on_body, b);
    size_t big = 3 * cfg.max_line + 17;
    char *line = malloc(big + 3);
    memset(line, 'A', big);
    memcpy(line, "NOOP ", 5);
    memcpy(line + big, "\r\n", 3);
    feed_str(s, 0, line);
    cr_assert_eq(smtp_state_stats(s)->events[SMTP_EV_COMMAND_LINE_TOO_LONG], 1);
    feed_str(s, 0, "MAIL FROM:<a@x>\r\nDATA\r\n");
    cr_assert_eq(smtp_tx_count(s), 1);
    /* a long body line is kept whole, and a dot after it is not unstuffed */
    line[0] = 'B';
    feed_str(s, 0, "Subject: s\r\n\r\n");
    feed_str(s, 0, line);
    feed_str(s, 0, ".\r\n");
    const struct smtp_tx *tx = smtp_tx_get(s, 0);
    cr_assert_eq(tx->status, SMTP_MAIL_DONE);
    cr_assert_eq(tx->body_total, 14 + big + 2);
    cr_assert_eq(b->len, 14 + big + 2);
    cr_assert(memcmp(b->buf + 14, line, big + 2) == 0);
    /* long header value: truncated, event */
    char *hdr = malloc(20000);
    memset(hdr, 'x', 20000);
    memcpy(hdr, "Subject: ", 9);
    memcpy(hdr + 19997, "\r\n", 3);
    feed_str(s, 0, "MAIL FROM:<a@x>\r\nDATA\r\n");
    feed_str(s, 0, hdr);
    feed_str(s, 0, "\r\nbody\r\n.\r\n");
    tx = smtp_tx_get(s, 1);
    cr_assert_eq(tx->status, SMTP_MAIL_DONE);
    cr_assert(tx->events & (1u << SMTP_EV_MIME_LONG_LINE));
    cr_assert_leq(strlen(tx->hdr[SMTP_HDR_SUBJECT]), cfg.max_line);
    /* a long reply */
    feed_str(s, 1, line);
    cr_assert_eq(smtp_state_stats(s)->events[SMTP_EV_REPLY_LINE_TOO_LONG], 1);
    free(hdr);
    free(line);
    free(b);
    smtp_state_free(s);
}

Test(smtp, bounded_recipients_headers_txs)
{
    struct smtp_state *s = smtp_state_new(NULL);
    feed_str(s, 0, "MAIL FROM:<a@x>\r\n");
    for (int i = 0; i < 100; i++) {
        char l[64];
        snprintf(l, sizeof(l), "RCPT TO:<u%d@y>\r\n", i);
        feed_str(s, 0, l);
    }
    const struct smtp_tx *tx = smtp_tx_get(s, 0);
    cr_assert_eq(tx->nrcpt, 64);
    cr_assert_eq(tx->rcpt_dropped, 36);
    cr_assert_str_eq(tx->rcpt_to[63], "<u63@y>");
    cr_assert_eq(smtp_state_stats(s)->events[SMTP_EV_TOO_MANY_RCPT], 1);
    feed_str(s, 0, "DATA\r\n");
    for (int i = 0; i < 300; i++)
        feed_str(s, 0, "X-Flood: 1\r\n");
    feed_str(s, 0, "Subject: late\r\n\r\n.\r\n");
    cr_assert_eq(smtp_state_stats(s)->events[SMTP_EV_MIME_TOO_MANY_HEADERS], 1);
    cr_assert_null(tx->hdr[SMTP_HDR_SUBJECT]);
    cr_assert_eq(tx->status, SMTP_MAIL_DONE);
    for (int i = 0; i < 40; i++)
        feed_str(s, 0, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRSET\r\n");
    cr_assert_eq(smtp_tx_count(s), 32);
    cr_assert_eq(smtp_tx_get(s, 31)->id, 40);
    cr_assert_eq(smtp_state_stats(s)->events[SMTP_EV_TX_DROPPED], 9);
    smtp_state_free(s);
}

Test(smtp, bdat_chunks)
{
    struct smtp_state *s = smtp_state_new(NULL);
    struct body *b = calloc(1, sizeof(*b));
    smtp_state_set_body_cb(s, on_body, b);
    feed_str(s, 0, "EHLO a\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n");
    feed_str(s, 0, "BDAT 20\r\nSubject: bd\r\n\r\n.\r\nab"); /* 20 bytes, dots not special */
    feed_str(s, 0, "BDAT 6 LAST\r\ncdef\r\nQUIT\r\n");
    const struct smtp_tx *tx = smtp_tx_get(s, 0);
    cr_assert_eq(tx->status, SMTP_MAIL_DONE);
    cr_assert_str_eq(tx->hdr[SMTP_HDR_SUBJECT], "bd");
    cr_assert_eq(b->len, 26);
    cr_assert(memcmp(b->buf, "Subject: bd\r\n\r\n.\r\nabcdef\r\n", 26) == 0);
    cr_assert_eq(b->lasts, 1);
    cr_assert_eq(smtp_state_stats(s)->commands, 6);
    feed_str(s, 0, "BDAT x\r\n");
    cr_assert_eq(smtp_state_stats(s)->events[SMTP_EV_BDAT_CHUNK_INVALID], 1);
    free(b);
    smtp_state_free(s);
}

Test(smtp, body_limit_and_callback)
{
    struct smtp_config cfg;
    smtp_config_defaults(&cfg);
    cfg.body_limit = 100;
    struct smtp_state *s = smtp_state_new(&cfg);
    struct body *b = calloc(1, sizeof(*b));
    smtp_state_set_body_cb(s, on_body, b);
    feed_str(s, 0, "MAIL FROM:<a@x>\r\nDATA\r\n\r\n");
    for (int i = 0; i < 100; i++)
        feed_str(s, 0, "0123456789\r\n");
    feed_str(s, 0, ".\r\n");
    const struct smtp_tx *tx = smtp_tx_get(s, 0);
    cr_assert_eq(tx->body_len, 100);
    cr_assert(tx->body_truncated);
    cr_assert_eq(tx->body_total, 2 + 1200);
    cr_assert_eq(b->len, 2 + 1200);
    cr_assert_eq(b->lasts, 1);
    free(b);
    smtp_state_free(s);
}

Test(smtp, gap_and_eof)
{
    struct smtp_state *s = smtp_state_new(NULL);
    struct body *b = calloc(1, sizeof(*b));
    smtp_state_set_body_cb(s, on_body, b);
    feed_str(s, 0, "MAIL FROM:<a@x>\r\nDATA\r\nSubject: g\r\n\r\nsome");
    smtp_gap(s, 0, 1000);
    feed_str(s, 0, "tail\r\n.\r\nMAIL FROM:<b@x>\r\nDATA\r\nSubject: h\r\n\r\nunfinished");
    cr_assert_eq(smtp_tx_get(s, 0)->status, SMTP_MAIL_ERROR);
    json_t *e = eve_email_object(smtp_tx_get(s, 0), 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "status")), "PARSE_ERROR");
    json_decref(e);
    uint32_t bl;
    const uint8_t *body = smtp_tx_body(smtp_tx_get(s, 0), &bl);
    cr_assert_eq(bl, 14 + 10);
    cr_assert(memcmp(body + 14, "sometail\r\n", 10) == 0, "%.*s", (int)bl, body);
    smtp_eof(s, 0);
    const struct smtp_tx *t1 = smtp_tx_get(s, 1);
    cr_assert(t1->complete);
    cr_assert_eq(t1->status, SMTP_MAIL_ERROR);
    cr_assert_eq(b->lasts, 2);
    cr_assert_eq(smtp_state_stats(s)->events[SMTP_EV_GAP], 1);
    free(b);
    smtp_state_free(s);
}

Test(smtp, data_rejected)
{
    struct smtp_state *s = smtp_state_new(NULL);
    feed_str(s, 1, "220 mx ESMTP\r\n");
    feed_str(s, 0, "HELO a\r\nMAIL FROM:<a@x>\r\nDATA\r\n");
    feed_str(s, 1, "250 hi\r\n250 ok\r\n554 no valid recipients\r\n");
    feed_str(s, 0, "MAIL FROM:<c@x>\r\n");
    cr_assert_eq(smtp_tx_count(s), 2);
    cr_assert(smtp_tx_get(s, 0)->complete);
    cr_assert_null(eve_email_object(smtp_tx_get(s, 0), 0));
    cr_assert_str_eq(smtp_tx_get(s, 1)->mail_from, "<c@x>");
    cr_assert_eq(smtp_state_stats(s)->events[SMTP_EV_DATA_REJECTED], 1);
    feed_str(s, 1, "garbage\r\n");
    cr_assert_eq(smtp_state_stats(s)->events[SMTP_EV_INVALID_REPLY], 1);
    feed_str(s, 1, "250 unasked\r\n250 unasked\r\n");
    cr_assert_eq(smtp_state_stats(s)->events[SMTP_EV_UNMATCHED_REPLY], 1);
    smtp_state_free(s);
}

Test(smtp, probe)
{
    const char *g = "220 mx.example.org ESMTP Postfix\r\n";
    cr_assert_eq(smtp_probe((const uint8_t *)g, (uint32_t)strlen(g), 1), 1);
    cr_assert_eq(smtp_probe((const uint8_t *)g, 10, 1), -1);
    const char *ftp = "220 ProFTPD Server ready\r\n";
    cr_assert_eq(smtp_probe((const uint8_t *)ftp, (uint32_t)strlen(ftp), 1), 0);
    cr_assert_eq(smtp_probe((const uint8_t *)"EHLO x\r\n", 8, 0), 1);
    cr_assert_eq(smtp_probe((const uint8_t *)"helo x\r\n", 8, 0), 1);
    cr_assert_eq(smtp_probe((const uint8_t *)"EH", 2, 0), -1);
    cr_assert_eq(smtp_probe((const uint8_t *)"GET / HTTP/1.1\r\n", 16, 0), 0);
    cr_assert_eq(smtp_probe((const uint8_t *)"EHLOx\r\n", 7, 0), 0);
}
