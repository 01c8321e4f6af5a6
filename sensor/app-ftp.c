/* app-ftp.c: FTP control-channel parser: lines, commands and replies, data ports, transfers. */
#include <stdlib.h>
#include <string.h>

#include "vigil/app-ftp.h"

static const char *const event_names[FTP_EV__COUNT] = {
#define FTP_X_NAME(e, s) [e] = s,
    FTP_EVENTS(FTP_X_NAME)
#undef FTP_X_NAME
};

const char *ftp_event_name(int ev)
{
    return ev >= 0 && ev < FTP_EV__COUNT ? event_names[ev] : "unknown";
}

void ftp_config_defaults(struct ftp_config *c)
{
    c->max_line = 4096;
    c->max_replies = 16;
    c->max_txs = 64;
}

/* A direction's line being assembled. */
struct line {
    uint8_t *buf;
    uint32_t len;
    int cut;  /* longer than max_line: the rest up to LF is skipped */
    int skip; /* after a gap: drop everything up to the next LF */
    int ended;
};

struct ftp_state {
    struct ftp_config cfg;
    struct line ln[2];
    struct ftp_tx **tx; /* held, oldest first */
    unsigned ntx, ctx;
    uint64_t next_id;
    char multi[4]; /* code of the multi-line reply in progress ("" if none) */
    /* The data channel as last announced. */
    enum ftp_mode mode;
    int port;      /* -1 if none */
    int pasv_wait; /* PASV/EPSV sent, its reply not yet seen */
    ftp_transfer_fn cb;
    void *cb_ctx;
    struct ftp_stats st;
    uint64_t mem;
};

struct ftp_state *ftp_state_new(const struct ftp_config *cfg)
{
    struct ftp_state *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    if (cfg != NULL)
        s->cfg = *cfg;
    else
        ftp_config_defaults(&s->cfg);
    if (s->cfg.max_line < 16)
        s->cfg.max_line = 16;
    if (s->cfg.max_txs < 1)
        s->cfg.max_txs = 1;
    s->port = -1;
    for (int d = 0; d < 2; d++) {
        s->ln[d].buf = malloc(s->cfg.max_line);
        if (s->ln[d].buf == NULL) {
            ftp_state_free(s);
            return NULL;
        }
    }
    s->mem = sizeof(*s) + 2ull * s->cfg.max_line;
    return s;
}

static void tx_free(struct ftp_tx *t)
{
    if (t == NULL)
        return;
    free(t->data.s);
    for (uint32_t i = 0; i < t->nreply; i++)
        free(t->reply[i].s);
    free(t->reply);
    free(t->code);
    free(t);
}

static uint64_t tx_mem(const struct ftp_tx *t)
{
    uint64_t m = sizeof(*t) + t->data.len + (uint64_t)t->nreply * (sizeof(*t->reply) + 4);
    for (uint32_t i = 0; i < t->nreply; i++)
        m += t->reply[i].len;
    return m;
}

void ftp_state_free(struct ftp_state *s)
{
    if (s == NULL)
        return;
    for (unsigned i = 0; i < s->ntx; i++)
        tx_free(s->tx[i]);
    free(s->tx);
    free(s->ln[0].buf);
    free(s->ln[1].buf);
    free(s);
}

void ftp_state_set_transfer_cb(struct ftp_state *s, ftp_transfer_fn fn, void *ctx)
{
    s->cb = fn;
    s->cb_ctx = ctx;
}

static void event(struct ftp_state *s, struct ftp_tx *t, enum ftp_event ev)
{
    s->st.events[ev]++;
    if (t != NULL)
        t->events |= 1u << ev;
}

/* A new transaction at the end of the list; the oldest goes when max_txs are held. */
static struct ftp_tx *tx_new(struct ftp_state *s)
{
    if (s->ntx >= s->cfg.max_txs) {
        struct ftp_tx *old = s->tx[0];
        s->mem -= tx_mem(old);
        tx_free(old);
        memmove(s->tx, s->tx + 1, (s->ntx - 1) * sizeof(*s->tx));
        s->ntx--;
        event(s, NULL, FTP_EV_TX_DROPPED);
    }
    if (s->ntx == s->ctx) {
        unsigned c = s->ctx ? s->ctx * 2 : 4;
        struct ftp_tx **n = realloc(s->tx, c * sizeof(*n));
        if (n == NULL)
            return NULL;
        s->mem += (uint64_t)(c - s->ctx) * sizeof(*n);
        s->tx = n;
        s->ctx = c;
    }
    struct ftp_tx *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->id = s->next_id++;
    t->dyn_port = -1;
    s->tx[s->ntx++] = t;
    s->st.txs++;
    s->mem += sizeof(*t);
    return t;
}

static int dup_str(struct ftp_str *out, const uint8_t *p, uint32_t n)
{
    out->s = malloc(n ? n : 1);
    if (out->s == NULL)
        return -1;
    memcpy(out->s, p, n);
    out->len = n;
    return 0;
}

/* ---- Ports ---- */

/* Parses up to max decimal digits at p[*i] into *v (at most limit). 0, or -1. */
static int num(const uint8_t *p, uint32_t n, uint32_t *i, unsigned limit, unsigned *v)
{
    unsigned x = 0, k = 0;
    while (*i < n && p[*i] >= '0' && p[*i] <= '9' && k < 6) {
        x = x * 10 + (unsigned)(p[*i] - '0');
        (*i)++;
        k++;
    }
    if (k == 0 || k == 6 || x > limit)
        return -1;
    *v = x;
    return 0;
}

/* "h1,h2,h3,h4,p1,p2" starting at p[i]: the port, or -1. */
static int six_numbers(const uint8_t *p, uint32_t n, uint32_t i)
{
    unsigned v[6];
    for (int k = 0; k < 6; k++) {
        while (k > 0 && i < n && p[i] == ' ')
            i++;
        if (num(p, n, &i, 255, &v[k]) < 0)
            return -1;
        if (k < 5) {
            while (i < n && p[i] == ' ')
                i++;
            if (i >= n || p[i] != ',')
                return -1;
            i++;
        }
    }
    int port = (int)(v[4] * 256 + v[5]);
    return port > 0 ? port : -1;
}

int ftp_parse_port(const uint8_t *s, uint32_t len)
{
    uint32_t i = 0;
    while (i < len && s[i] == ' ')
        i++;
    return six_numbers(s, len, i);
}

int ftp_parse_pasv(const uint8_t *s, uint32_t len)
{
    /* The numbers follow '(' if there is one, else they are the first digits of the text. */
    const uint8_t *o = memchr(s, '(', len);
    uint32_t i = o != NULL ? (uint32_t)(o - s) + 1 : 0;
    if (o == NULL) {
        while (i < len && (s[i] < '0' || s[i] > '9'))
            i++;
    }
    return six_numbers(s, len, i);
}

/* "<d><d><d>port<d>" with delimiter d at s[i]: the port, or -1. */
static int delimited_port(const uint8_t *s, uint32_t len, uint32_t i, int fields)
{
    if (i >= len)
        return -1;
    uint8_t d = s[i];
    if (d < 33 || d > 126 || (d >= '0' && d <= '9'))
        return -1;
    /* Skip the fields before the port. */
    for (int f = 0; f < fields; f++) {
        i++;
        while (i < len && s[i] != d)
            i++;
        if (i >= len)
            return -1;
    }
    i++;
    unsigned v;
    if (num(s, len, &i, 65535, &v) < 0 || i >= len || s[i] != d || v == 0)
        return -1;
    return (int)v;
}

int ftp_parse_epsv(const uint8_t *s, uint32_t len)
{
    const uint8_t *o = memchr(s, '(', len);
    if (o == NULL)
        return -1;
    return delimited_port(s, len, (uint32_t)(o - s) + 1, 2);
}

int ftp_parse_eprt(const uint8_t *s, uint32_t len)
{
    uint32_t i = 0;
    while (i < len && s[i] == ' ')
        i++;
    return delimited_port(s, len, i, 2);
}

/* ---- Commands ---- */

static enum ftp_xfer xfer_of(const char *verb)
{
    if (strcmp(verb, "RETR") == 0)
        return FTP_XFER_RETR;
    if (strcmp(verb, "STOR") == 0 || strcmp(verb, "APPE") == 0 || strcmp(verb, "STOU") == 0)
        return FTP_XFER_STOR;
    return FTP_XFER_NONE;
}

static void announce(struct ftp_state *s, struct ftp_tx *t)
{
    if (s->port <= 0 || s->mode == FTP_MODE_NONE)
        return;
    t->xfer_wait = 0;
    t->dyn_port = s->port;
    t->mode = s->mode;
    s->st.transfers++;
    if (s->cb != NULL) {
        struct ftp_transfer x = {s->mode, (uint16_t)s->port, t->xfer, t};
        s->cb(s->cb_ctx, &x);
    }
}

static void command(struct ftp_state *s, const uint8_t *p, uint32_t n, int cut)
{
    s->st.commands++;
    struct ftp_tx *t = tx_new(s);
    if (t == NULL) {
        event(s, NULL, FTP_EV_OUT_OF_MEMORY);
        return;
    }
    t->command_truncated = cut;
    if (cut)
        event(s, t, FTP_EV_REQUEST_TOO_LONG);
    uint32_t i = 0;
    while (i < n && p[i] == ' ')
        i++;
    uint32_t v = 0;
    while (i < n && p[i] != ' ') {
        if (v + 1 < sizeof(t->command)) {
            uint8_t c = p[i];
            t->command[v++] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
        }
        i++;
    }
    t->command[v] = '\0';
    t->command_len = v;
    t->is_command = 1;
    if (i < n)
        i++; /* the one space after the verb */
    if (dup_str(&t->data, p + i, n - i) < 0) {
        event(s, t, FTP_EV_OUT_OF_MEMORY);
        t->data.len = 0;
    }
    s->mem += t->data.len;
    const char *c = t->command;
    if (strcmp(c, "PASV") == 0 || strcmp(c, "EPSV") == 0) {
        s->pasv_wait = 1;
        s->port = -1;
        s->mode = FTP_MODE_PASSIVE;
    } else if (strcmp(c, "PORT") == 0 || strcmp(c, "EPRT") == 0) {
        int port = c[0] == 'P' ? ftp_parse_port(t->data.s, t->data.len)
                               : ftp_parse_eprt(t->data.s, t->data.len);
        s->pasv_wait = 0;
        if (port < 0) {
            event(s, t, FTP_EV_BAD_PORT);
            s->port = -1;
            s->mode = FTP_MODE_NONE;
        } else {
            s->port = port;
            s->mode = FTP_MODE_ACTIVE;
            t->dyn_port = port;
            t->mode = FTP_MODE_ACTIVE;
        }
    } else if ((t->xfer = xfer_of(c)) != FTP_XFER_NONE) {
        if (s->pasv_wait)
            t->xfer_wait = 1; /* pipelined before the PASV reply: announced when it comes */
        else
            announce(s, t);
    }
}

/* ---- Replies ---- */

/* The oldest transaction still waiting for its final reply, or NULL. */
static struct ftp_tx *waiting_tx(struct ftp_state *s)
{
    for (unsigned i = 0; i < s->ntx; i++)
        if (!s->tx[i]->complete && s->tx[i]->is_command)
            return s->tx[i];
    return NULL;
}

static void add_reply_line(struct ftp_state *s, struct ftp_tx *t, const char *code,
                           const uint8_t *p, uint32_t n)
{
    if (t->nreply >= s->cfg.max_replies) {
        t->reply_dropped++;
        return;
    }
    struct ftp_str *r = realloc(t->reply, (t->nreply + 1) * sizeof(*r));
    if (r == NULL) {
        event(s, t, FTP_EV_OUT_OF_MEMORY);
        return;
    }
    t->reply = r;
    char(*c)[4] = realloc(t->code, (t->nreply + 1) * sizeof(*c));
    if (c == NULL) {
        event(s, t, FTP_EV_OUT_OF_MEMORY);
        return;
    }
    t->code = c;
    if (dup_str(&t->reply[t->nreply], p, n) < 0) {
        event(s, t, FTP_EV_OUT_OF_MEMORY);
        return;
    }
    memset(t->code[t->nreply], 0, 4);
    memcpy(t->code[t->nreply], code, strnlen(code, 3)); /* "" for a line without a code */
    t->nreply++;
    s->mem += n + sizeof(*r) + sizeof(*c);
}

/* A final reply code of transaction t: what it means for its data channel. */
static void reply_code(struct ftp_state *s, struct ftp_tx *t, unsigned code, const uint8_t *text,
                       uint32_t n)
{
    t->last_code = code;
    t->reply_received = 1;
    if (strcmp(t->command, "PASV") == 0 || strcmp(t->command, "EPSV") == 0) {
        if (code == 227 || code == 229) {
            int port = code == 227 ? ftp_parse_pasv(text, n) : ftp_parse_epsv(text, n);
            if (port < 0) {
                event(s, t, FTP_EV_BAD_PORT);
            } else {
                s->port = port;
                s->mode = FTP_MODE_PASSIVE;
                t->dyn_port = port;
                t->mode = FTP_MODE_PASSIVE;
            }
        }
        if (code >= 200) {
            s->pasv_wait = 0;
            for (unsigned i = 0; i < s->ntx; i++)
                if (s->tx[i]->xfer_wait)
                    announce(s, s->tx[i]);
        }
    }
    if (t->xfer != FTP_XFER_NONE) {
        if (code == 125 || code == 150)
            t->xstatus = FTP_XS_ACCEPTED;
        else if (code == 226 || code == 250)
            t->xstatus = FTP_XS_DONE;
        else if (code >= 400)
            t->xstatus = FTP_XS_FAILED;
    }
    if (code >= 200)
        t->complete = 1;
}

static int is_code(const uint8_t *p, uint32_t n)
{
    return n >= 3 && p[0] >= '1' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
           p[2] <= '9' && (n == 3 || p[3] == ' ' || p[3] == '-');
}

static struct ftp_tx *reply_tx(struct ftp_state *s)
{
    struct ftp_tx *t = waiting_tx(s);
    if (t != NULL)
        return t;
    /* No command waits (the greeting, or a reply too many): a transaction of its own. */
    if (s->ntx > 0) {
        struct ftp_tx *last = s->tx[s->ntx - 1];
        if (!last->is_command && !last->complete)
            return last;
    }
    t = tx_new(s);
    if (t != NULL && s->next_id > 1 && s->st.commands > 0)
        event(s, t, FTP_EV_UNMATCHED_REPLY);
    return t;
}

static void reply(struct ftp_state *s, const uint8_t *p, uint32_t n, int cut)
{
    s->st.replies++;
    struct ftp_tx *t = reply_tx(s);
    if (t == NULL) {
        event(s, NULL, FTP_EV_OUT_OF_MEMORY);
        return;
    }
    if (cut)
        event(s, t, FTP_EV_REPLY_TOO_LONG);
    if (s->multi[0] != '\0') {
        /* Inside a multi-line reply: it ends at "NNN " with the same code. */
        if (n >= 4 && memcmp(p, s->multi, 3) == 0 && p[3] == ' ') {
            add_reply_line(s, t, s->multi, p + 4, n - 4);
            unsigned code = (unsigned)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
            s->multi[0] = '\0';
            reply_code(s, t, code, p + 4, n - 4);
        } else if (is_code(p, n)) {
            char c[4] = {(char)p[0], (char)p[1], (char)p[2], '\0'};
            add_reply_line(s, t, c, p + (n > 3 ? 4 : 3), n > 3 ? n - 4 : 0);
        } else {
            add_reply_line(s, t, "", p, n);
        }
        return;
    }
    if (!is_code(p, n)) {
        event(s, t, FTP_EV_INVALID_REPLY);
        add_reply_line(s, t, "", p, n);
        return;
    }
    char c[4] = {(char)p[0], (char)p[1], (char)p[2], '\0'};
    const uint8_t *text = p + (n > 3 ? 4 : 3);
    uint32_t tn = n > 3 ? n - 4 : 0;
    add_reply_line(s, t, c, text, tn);
    if (n > 3 && p[3] == '-') {
        memcpy(s->multi, c, 4);
        return;
    }
    unsigned code = (unsigned)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
    if (code < 200) {
        t->last_code = code;
        t->reply_received = 1;
        if (t->xfer != FTP_XFER_NONE && (code == 125 || code == 150))
            t->xstatus = FTP_XS_ACCEPTED;
        return; /* preliminary: the final reply follows */
    }
    reply_code(s, t, code, text, tn);
}

/* ---- Lines ---- */

static void line_done(struct ftp_state *s, int dir)
{
    struct line *l = &s->ln[dir];
    uint32_t n = l->len;
    if (n > 0 && l->buf[n - 1] == '\r')
        n--;
    if (dir == 0) {
        if (n > 0 || l->cut)
            command(s, l->buf, n, l->cut);
    } else {
        reply(s, l->buf, n, l->cut);
    }
    l->len = 0;
    l->cut = 0;
}

int ftp_feed(struct ftp_state *s, int dir, const uint8_t *data, uint32_t len)
{
    if (dir < 0 || dir > 1)
        return -1;
    struct line *l = &s->ln[dir];
    if (l->ended)
        return 0;
    uint32_t i = 0;
    while (i < len) {
        const uint8_t *lf = memchr(data + i, '\n', len - i);
        uint32_t end = lf != NULL ? (uint32_t)(lf - data) : len;
        uint32_t k = end - i;
        if (l->skip) {
            if (lf != NULL)
                l->skip = 0;
        } else if (!l->cut) {
            uint32_t room = s->cfg.max_line - l->len;
            if (k > room) {
                k = room;
                l->cut = 1;
            }
            memcpy(l->buf + l->len, data + i, k);
            l->len += k;
        }
        if (lf == NULL)
            break;
        if (!l->skip)
            line_done(s, dir);
        i = end + 1;
    }
    return 0;
}

void ftp_gap(struct ftp_state *s, int dir, uint32_t len)
{
    (void)len;
    if (dir < 0 || dir > 1)
        return;
    s->ln[dir].len = 0;
    s->ln[dir].cut = 0;
    s->ln[dir].skip = 1;
    if (dir == 1)
        s->multi[0] = '\0';
    event(s, s->ntx ? s->tx[s->ntx - 1] : NULL, FTP_EV_GAP);
}

void ftp_eof(struct ftp_state *s, int dir)
{
    if (dir < 0 || dir > 1)
        return;
    struct line *l = &s->ln[dir];
    if (l->ended)
        return;
    if (!l->skip && (l->len > 0 || l->cut))
        line_done(s, dir);
    l->ended = 1;
    if (s->ln[0].ended && s->ln[1].ended)
        ftp_finish(s);
}

void ftp_finish(struct ftp_state *s)
{
    for (unsigned i = 0; i < s->ntx; i++)
        s->tx[i]->complete = 1;
}

unsigned ftp_tx_count(const struct ftp_state *s)
{
    return s->ntx;
}

const struct ftp_tx *ftp_tx_get(const struct ftp_state *s, unsigned i)
{
    return i < s->ntx ? s->tx[i] : NULL;
}

void ftp_tx_release(struct ftp_state *s, uint64_t upto_id)
{
    unsigned k = 0;
    for (unsigned i = 0; i < s->ntx; i++) {
        struct ftp_tx *t = s->tx[i];
        if (t->id <= upto_id && t->complete) {
            s->mem -= tx_mem(t);
            tx_free(t);
        } else {
            s->tx[k++] = t;
        }
    }
    s->ntx = k;
}

const struct ftp_stats *ftp_state_stats(const struct ftp_state *s)
{
    return &s->st;
}

uint64_t ftp_state_memuse(const struct ftp_state *s)
{
    return s->mem;
}
