/* app-smtp.c: SMTP session parser: lines, commands, replies, transactions, DATA/BDAT, STARTTLS. */
#include "vigil/app-smtp.h"

#include <stdlib.h>
#include <string.h>

#include "app-smtp-internal.h"

static const char *const smtp_event_names[] = {
#define SMTP_X_NAME(e, s) s,
    SMTP_EVENTS(SMTP_X_NAME)
#undef SMTP_X_NAME
};

const char *smtp_event_name(int ev)
{
    if (ev < 0 || ev >= SMTP_EV__COUNT)
        return "unknown";
    return smtp_event_names[ev];
}

void smtp_config_defaults(struct smtp_config *c)
{
    c->max_line = 4096;
    c->max_rcpt = 64;
    c->max_headers = 256;
    c->max_header_len = 4096;
    c->max_attachments = 32;
    c->body_limit = 64 * 1024;
    c->max_txs = 32;
}

/* ---- transactions ---- */

static void tx_free(struct smtp_tx *tx)
{
    if (tx == NULL)
        return;
    free(tx->helo);
    free(tx->mail_from);
    for (uint32_t i = 0; i < tx->nrcpt; i++)
        free(tx->rcpt_to[i]);
    free(tx->rcpt_to);
    for (int i = 0; i < SMTP_HDR__COUNT; i++)
        free(tx->hdr[i]);
    for (uint32_t i = 0; i < tx->nattach; i++)
        free(tx->attachments[i]);
    free(tx->attachments);
    free(tx->body);
    free(tx);
}
static struct smtp_tx *tx_new(struct smtp_state *s)
{
    if (s->ntx == s->cfg.max_txs) { /* nobody released them: drop the oldest */
        if (s->txs[0] == s->cur)
            s->cur = NULL;
        tx_free(s->txs[0]);
        memmove(s->txs, s->txs + 1, (s->ntx - 1) * sizeof(*s->txs));
        s->ntx--;
        smtp_ev(s, SMTP_EV_TX_DROPPED);
    }
    struct smtp_tx *tx = calloc(1, sizeof(*tx));
    if (tx == NULL) {
        smtp_ev(s, SMTP_EV_OUT_OF_MEMORY);
        return NULL;
    }
    tx->id = s->next_id++;
    if (s->helo)
        tx->helo = dupn(s->helo, strlen(s->helo));
    s->txs[s->ntx++] = tx;
    s->cur = tx;
    smtp_mime_reset(s);
    s->stats.txs++;
    return tx;
}

/* Ends the open transaction; an unfinished message becomes SMTP_MAIL_ERROR. */
static void tx_close(struct smtp_state *s)
{
    struct smtp_tx *tx = s->cur;
    if (tx == NULL)
        return;
    if (tx->status == SMTP_MAIL_HEADERS || tx->status == SMTP_MAIL_BODY) {
        tx->status = SMTP_MAIL_ERROR;
        if (s->body_cb)
            s->body_cb(s->body_ctx, tx, NULL, 0, 1);
    }
    tx->complete = 1;
    s->cur = NULL;
    smtp_mime_reset(s);
    if (s->mode != MODE_CMD)
        s->mode = MODE_CMD;
}

static struct smtp_tx *tx_open(struct smtp_state *s)
{
    return s->cur ? s->cur : tx_new(s);
}

static void pending_push(struct smtp_state *s, enum smtp_cmd c);

static void msg_end(struct smtp_state *s)
{
    struct smtp_tx *tx = s->cur;
    if (s->mode == MODE_DATA)
        pending_push(s, CMD_DATA_END);
    s->mode = MODE_CMD;
    if (tx == NULL)
        return;
    struct smtp_mime *m = &s->mime;
    if (m->line_len > 0) {
        smtp_mime_line(s, m->line, m->line_len);
        m->line_len = 0;
    }
    if (m->phase != MIME_BODY)
        smtp_mime_block_done(s);
    tx->status = (tx->events & (1u << SMTP_EV_GAP)) ? SMTP_MAIL_ERROR : SMTP_MAIL_DONE;
    if (s->body_cb)
        s->body_cb(s->body_ctx, tx, NULL, 0, 1);
    tx_close(s);
}

static void msg_start(struct smtp_state *s)
{
    struct smtp_tx *tx = tx_open(s);
    if (tx != NULL && tx->status == SMTP_MAIL_NONE) {
        tx->status = SMTP_MAIL_HEADERS;
        s->mime.phase = MIME_HDR;
    }
}

/* A DATA line (or a piece of one, if !complete) as sent, line end included. */
static void data_line(struct smtp_state *s, const uint8_t *p, uint32_t n, int complete)
{
    struct smtp_dir *d = &s->d[0];
    if (!d->midline) {
        if ((n == 3 && p[0] == '.' && p[1] == '\r' && p[2] == '\n') ||
            (n == 2 && p[0] == '.' && p[1] == '\n') || (n == 1 && p[0] == '.' && complete)) {
            d->midline = 0;
            msg_end(s);
            return;
        }
        if (n > 0 && p[0] == '.') { /* dot-stuffing */
            p++;
            n--;
        }
    }
    d->midline = !complete;
    smtp_msg_bytes(s, p, n);
}

/* ---- commands and replies ---- */

static void pending_push(struct smtp_state *s, enum smtp_cmd c)
{
    if (s->pcount == SMTP_MAX_PENDING) {
        smtp_ev(s, SMTP_EV_TOO_MANY_PENDING);
        s->phead = (s->phead + 1) % SMTP_MAX_PENDING;
        s->pcount--;
    }
    s->pending[(s->phead + s->pcount) % SMTP_MAX_PENDING] = (uint8_t)c;
    s->pcount++;
}

/* The first argument token at p (after skipping blanks), bounded; malloc'd. */
static char *arg_token(const uint8_t *p, uint32_t n)
{
    uint32_t i = 0;
    while (i < n && is_ws(p[i]))
        i++;
    uint32_t e = i;
    while (e < n && !is_ws(p[e]))
        e++;
    if (e - i > SMTP_MAX_ARG)
        e = i + SMTP_MAX_ARG;
    return dupn(p + i, e - i);
}

/* Parses "BDAT <size> [LAST]". Returns 0, or -1 if malformed. */
static int bdat_args(const uint8_t *p, uint32_t n, uint64_t *size, int *last)
{
    uint32_t i = 0;
    while (i < n && is_ws(p[i]))
        i++;
    if (i == n || p[i] < '0' || p[i] > '9')
        return -1;
    uint64_t v = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        v = v * 10 + (uint64_t)(p[i] - '0');
        if (v > 0xffffffffULL)
            return -1;
        i++;
    }
    while (i < n && is_ws(p[i]))
        i++;
    *last = (n - i >= 4 && ci_prefix(p + i, n - i, "LAST"));
    *size = v;
    return 0;
}

static void client_command(struct smtp_state *s, const uint8_t *p, uint32_t n)
{
    s->stats.commands++;
    uint32_t vl = 0;
    while (vl < n && !is_ws(p[vl]))
        vl++;
    const uint8_t *arg = p + vl;
    uint32_t an = n - vl;
    enum smtp_cmd c = CMD_OTHER;
    if (vl == 4 && (ci_prefix(p, n, "HELO") || ci_prefix(p, n, "EHLO"))) {
        c = CMD_HELO;
        char *h = arg_token(arg, an);
        if (h != NULL) {
            free(s->helo);
            s->helo = h;
            if (s->cur && s->cur->helo == NULL)
                s->cur->helo = dupn(h, strlen(h));
        }
    } else if (vl == 4 && ci_prefix(p, n, "MAIL")) {
        c = CMD_MAIL;
        uint32_t i = 0;
        while (i < an && is_ws(arg[i]))
            i++;
        if (ci_prefix(arg + i, an - i, "FROM:")) {
            if (s->cur)
                tx_close(s);
            struct smtp_tx *tx = tx_new(s);
            if (tx)
                tx->mail_from = arg_token(arg + i + 5, an - i - 5);
        }
    } else if (vl == 4 && ci_prefix(p, n, "RCPT")) {
        c = CMD_RCPT;
        uint32_t i = 0;
        while (i < an && is_ws(arg[i]))
            i++;
        struct smtp_tx *tx;
        if (ci_prefix(arg + i, an - i, "TO:") && (tx = tx_open(s)) != NULL) {
            if (tx->nrcpt >= s->cfg.max_rcpt) {
                tx->rcpt_dropped++;
                if (tx->rcpt_dropped == 1)
                    smtp_ev(s, SMTP_EV_TOO_MANY_RCPT);
            } else {
                char **nr = realloc(tx->rcpt_to, (tx->nrcpt + 1) * sizeof(*nr));
                char *r = arg_token(arg + i + 3, an - i - 3);
                if (nr == NULL || r == NULL) {
                    free(r);
                    if (nr)
                        tx->rcpt_to = nr;
                    smtp_ev(s, SMTP_EV_OUT_OF_MEMORY);
                } else {
                    tx->rcpt_to = nr;
                    nr[tx->nrcpt++] = r;
                }
            }
        }
    } else if (vl == 4 && ci_prefix(p, n, "DATA")) {
        c = CMD_DATA;
        msg_start(s);
        s->mode = MODE_DATA;
        s->d[0].midline = 0;
    } else if (vl == 4 && ci_prefix(p, n, "BDAT")) {
        uint64_t size;
        int last;
        if (bdat_args(arg, an, &size, &last) < 0) {
            smtp_ev(s, SMTP_EV_BDAT_CHUNK_INVALID);
        } else {
            c = CMD_BDAT;
            msg_start(s);
            s->bdat_rem = size;
            s->bdat_last = last;
            s->mode = MODE_BDAT;
            if (size == 0) {
                s->mode = MODE_CMD;
                if (last)
                    msg_end(s);
            }
        }
    } else if (vl == 4 && ci_prefix(p, n, "RSET")) {
        c = CMD_RSET;
        tx_close(s);
    } else if (vl == 4 && ci_prefix(p, n, "QUIT")) {
        c = CMD_QUIT;
        tx_close(s);
    } else if (vl == 8 && ci_prefix(p, n, "STARTTLS")) {
        c = CMD_STARTTLS;
        s->starttls_off = s->d[0].off;
    }
    pending_push(s, c);
}

static void server_reply(struct smtp_state *s, const uint8_t *p, uint32_t n)
{
    if (n < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9' ||
        (n > 3 && p[3] != ' ' && p[3] != '-')) {
        smtp_ev(s, SMTP_EV_INVALID_REPLY);
        return;
    }
    if (n > 3 && p[3] == '-')
        return; /* more lines follow */
    unsigned code = (unsigned)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
    s->stats.replies++;
    s->last_reply = code;
    if (!s->greeted) {
        s->greeted = 1;
        if (code == 220 || code == 421 || code == 554)
            return;
        smtp_ev(s, SMTP_EV_NO_WELCOME);
    }
    if (s->pcount == 0) {
        smtp_ev(s, SMTP_EV_UNMATCHED_REPLY);
        return;
    }
    enum smtp_cmd c = (enum smtp_cmd)s->pending[s->phead];
    s->phead = (s->phead + 1) % SMTP_MAX_PENDING;
    s->pcount--;
    if (c == CMD_STARTTLS) {
        if (code == 220) {
            s->tls = 1;
            s->tls_off[0] = (int64_t)s->starttls_off;
            s->tls_off[1] = (int64_t)s->d[1].off;
        } else {
            smtp_ev(s, SMTP_EV_TLS_REJECTED);
        }
    } else if (c == CMD_DATA && code != 354) {
        smtp_ev(s, SMTP_EV_DATA_REJECTED);
        if (s->mode == MODE_DATA && s->cur && s->cur->body_total == 0) {
            s->cur->status = SMTP_MAIL_NONE;
            tx_close(s);
        }
    }
}

/* One whole line of dir, line end included (n may exceed what was kept if it overflowed). */
static void smtp_line(struct smtp_state *s, int dir, const uint8_t *p, uint32_t n)
{
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
        n--;
    if (dir == 0)
        client_command(s, p, n);
    else
        server_reply(s, p, n);
}

/* ---- the public API ---- */

struct smtp_state *smtp_state_new(const struct smtp_config *cfg)
{
    struct smtp_state *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    if (cfg)
        s->cfg = *cfg;
    else
        smtp_config_defaults(&s->cfg);
    if (s->cfg.max_line < 64)
        s->cfg.max_line = 64;
    if (s->cfg.max_txs < 2)
        s->cfg.max_txs = 2;
    if (s->cfg.max_header_len < 64)
        s->cfg.max_header_len = 64;
    s->tls_off[0] = s->tls_off[1] = -1;
    s->d[0].line = malloc(s->cfg.max_line);
    s->d[1].line = malloc(s->cfg.max_line);
    s->mime.line = malloc(s->cfg.max_line);
    s->txs = calloc(s->cfg.max_txs, sizeof(*s->txs));
    if (!s->d[0].line || !s->d[1].line || !s->mime.line || !s->txs) {
        smtp_state_free(s);
        return NULL;
    }
    return s;
}

void smtp_state_free(struct smtp_state *s)
{
    if (s == NULL)
        return;
    for (unsigned i = 0; i < s->ntx; i++)
        tx_free(s->txs[i]);
    free(s->txs);
    smtp_mime_reset(s);
    free(s->mime.line);
    free(s->d[0].line);
    free(s->d[1].line);
    free(s->helo);
    free(s);
}

void smtp_state_set_body_cb(struct smtp_state *s, smtp_body_fn fn, void *ctx)
{
    s->body_cb = fn;
    s->body_ctx = ctx;
}

int smtp_feed(struct smtp_state *s, int dir, const uint8_t *data, uint32_t len)
{
    if (s == NULL || dir < 0 || dir > 1)
        return -1;
    struct smtp_dir *d = &s->d[dir];
    uint32_t max = s->cfg.max_line;
    while (len > 0 && !s->tls) {
        if (dir == 0 && s->mode == MODE_BDAT) {
            uint32_t n = len < s->bdat_rem ? len : (uint32_t)s->bdat_rem;
            d->off += n;
            s->bdat_rem -= n;
            smtp_msg_bytes(s, data, n);
            data += n;
            len -= n;
            if (s->bdat_rem == 0) {
                s->mode = MODE_CMD;
                if (s->bdat_last)
                    msg_end(s);
            }
            continue;
        }
        const uint8_t *lf = memchr(data, '\n', len);
        uint32_t take = lf ? (uint32_t)(lf - data) + 1 : len;
        if (dir == 0 && s->mode == MODE_DATA) {
            if (d->len == 0 && lf && take <= max) { /* a whole line: no copy */
                d->off += take;
                data_line(s, data, take, 1);
                data += take;
                len -= take;
                continue;
            }
            uint32_t n = take < max - d->len ? take : max - d->len;
            memcpy(d->line + d->len, data, n);
            d->len += n;
            d->off += n;
            data += n;
            len -= n;
            if (n == take && lf) {
                uint32_t l = d->len;
                d->len = 0;
                data_line(s, d->line, l, 1);
            } else if (d->len == max) {
                d->len = 0;
                data_line(s, d->line, max, 0);
            }
            continue;
        }
        uint32_t n = take < max - d->len ? take : max - d->len;
        memcpy(d->line + d->len, data, n);
        d->len += n;
        d->off += take;
        data += take;
        len -= take;
        if (n < take && !d->overflow) {
            d->overflow = 1;
            smtp_ev(s, dir == 0 ? SMTP_EV_COMMAND_LINE_TOO_LONG : SMTP_EV_REPLY_LINE_TOO_LONG);
        }
        if (lf) {
            uint32_t l = d->len;
            d->len = 0;
            d->overflow = 0;
            smtp_line(s, dir, d->line, l);
        }
    }
    return s->tls ? SMTP_FEED_TLS : SMTP_FEED_OK;
}

void smtp_gap(struct smtp_state *s, int dir, uint32_t len)
{
    if (s == NULL || dir < 0 || dir > 1 || len == 0)
        return;
    struct smtp_dir *d = &s->d[dir];
    d->off += len;
    d->overflow = 0;
    smtp_ev(s, SMTP_EV_GAP);
    if (dir != 0 || s->tls || s->mode == MODE_CMD) {
        d->len = 0;
        return;
    }
    if (s->mode == MODE_DATA) {
        if (d->len > 0) { /* what came before the gap is still the message */
            uint32_t l = d->len;
            d->len = 0;
            data_line(s, d->line, l, 0);
        }
        d->midline = 1; /* the next bytes are likely mid-line */
        s->mime.line_len = 0;
    } else if (s->mode == MODE_BDAT) {
        if (len >= s->bdat_rem) {
            s->bdat_rem = 0;
            s->mode = MODE_CMD;
            if (s->bdat_last)
                msg_end(s);
        } else {
            s->bdat_rem -= len;
        }
        s->mime.line_len = 0;
    }
}

void smtp_eof(struct smtp_state *s, int dir)
{
    if (s == NULL || dir < 0 || dir > 1 || s->tls)
        return;
    struct smtp_dir *d = &s->d[dir];
    if (d->len > 0) {
        uint32_t l = d->len;
        d->len = 0;
        if (dir == 0 && s->mode == MODE_DATA)
            data_line(s, d->line, l, 1);
        else
            smtp_line(s, dir, d->line, l);
    }
    if (dir == 0)
        tx_close(s);
}

int64_t smtp_tls_offset(const struct smtp_state *s, int dir)
{
    if (s == NULL || dir < 0 || dir > 1 || !s->tls)
        return -1;
    return s->tls_off[dir];
}

unsigned smtp_last_reply(const struct smtp_state *s)
{
    return s->last_reply;
}

unsigned smtp_tx_count(const struct smtp_state *s)
{
    return s->ntx;
}

const struct smtp_tx *smtp_tx_get(const struct smtp_state *s, unsigned i)
{
    return i < s->ntx ? s->txs[i] : NULL;
}

void smtp_tx_release(struct smtp_state *s, uint64_t upto_id)
{
    unsigned w = 0;
    for (unsigned i = 0; i < s->ntx; i++) {
        struct smtp_tx *tx = s->txs[i];
        if (tx->complete && tx->id <= upto_id)
            tx_free(tx);
        else
            s->txs[w++] = tx;
    }
    s->ntx = w;
}

const uint8_t *smtp_tx_body(const struct smtp_tx *tx, uint32_t *len)
{
    if (len)
        *len = tx ? tx->body_len : 0;
    return tx ? tx->body : NULL;
}

const struct smtp_stats *smtp_state_stats(const struct smtp_state *s)
{
    return &s->stats;
}

int smtp_probe(const uint8_t *buf, uint32_t len, int dir)
{
    if (buf == NULL || len == 0)
        return -1;
    uint32_t n = len < 512 ? len : 512;
    const uint8_t *lf = memchr(buf, '\n', n);
    if (dir == 0) {
        uint32_t k = n < 4 ? n : 4;
        if (!ci_equal(buf, "EHLO", k) && !ci_equal(buf, "HELO", k))
            return 0;
        if (n < 5 || lf == NULL)
            return len >= 512 ? 0 : -1;
        return (buf[4] == ' ' || buf[4] == '\r' || buf[4] == '\n') ? 1 : 0;
    }
    static const char g[] = "220";
    for (uint32_t i = 0; i < 3 && i < n; i++)
        if (buf[i] != (uint8_t)g[i])
            return 0;
    if (n < 4)
        return -1;
    if (buf[3] != ' ' && buf[3] != '-')
        return 0;
    if (lf == NULL)
        return len >= 512 ? 0 : -1;
    uint32_t ll = (uint32_t)(lf - buf);
    for (uint32_t i = 4; i + 4 <= ll; i++)
        if (ci_prefix(buf + i, ll - i, "SMTP"))
            return 1;
    return 0;
}
