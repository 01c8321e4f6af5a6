/* app-smtp-internal.h: what app-smtp.c (session) and app-smtp-mime.c (message) share. */
#ifndef VIGIL_APP_SMTP_INTERNAL_H
#define VIGIL_APP_SMTP_INTERNAL_H

#include <stdlib.h>
#include <string.h>

#include "vigil/app-smtp.h"

#define SMTP_MAX_PENDING 64   /* commands awaiting a reply (pipelining) */
#define SMTP_MAX_BOUNDARIES 8 /* nested multipart levels followed */
#define SMTP_BOUNDARY_MAX 200 /* RFC 2046 allows 70 */
#define SMTP_MAX_ARG 1024     /* bytes of a command argument kept (HELO, MAIL FROM, RCPT TO) */

enum smtp_cmd {
    CMD_OTHER,
    CMD_HELO,
    CMD_MAIL,
    CMD_RCPT,
    CMD_DATA,
    CMD_DATA_END, /* the "." that ends DATA, which gets its own reply */
    CMD_BDAT,
    CMD_RSET,
    CMD_QUIT,
    CMD_STARTTLS,
};

enum smtp_mode { MODE_CMD, MODE_DATA, MODE_BDAT };

enum mime_phase { MIME_HDR, MIME_BODY, MIME_PART_HDR };

/* Line assembly of one direction. */
struct smtp_dir {
    uint8_t *line;
    uint32_t len;
    int overflow; /* the line outgrew max_line: the rest up to LF is dropped */
    int midline;  /* DATA: part of the current line was already passed on */
    uint64_t off; /* stream bytes fed, gaps included */
};

/* MIME header parse of the current transaction's message. */
struct smtp_mime {
    enum mime_phase phase;
    char *cur; /* header being unfolded */
    uint32_t cur_len;
    int cur_over;
    uint32_t nheaders;
    char *bound[SMTP_MAX_BOUNDARIES];
    uint32_t nbound;
    int block_multipart; /* this header block's Content-Type is multipart */
    char *fname;         /* Content-Disposition filename of this header block */
    char *name;          /* Content-Type name of this header block */
    uint8_t *line;       /* message line assembly */
    uint32_t line_len;
    int line_over;
};

struct smtp_state {
    struct smtp_config cfg;
    struct smtp_dir d[2];
    enum smtp_mode mode;
    uint64_t bdat_rem;
    int bdat_last;
    uint8_t pending[SMTP_MAX_PENDING];
    unsigned phead, pcount;
    uint64_t starttls_off; /* client offset after the last STARTTLS line */
    int tls;
    int64_t tls_off[2];
    int greeted;
    unsigned last_reply;
    char *helo;
    struct smtp_tx **txs;
    unsigned ntx;
    uint64_t next_id;
    struct smtp_tx *cur; /* the open transaction (also in txs), or NULL */
    struct smtp_mime mime;
    smtp_body_fn body_cb;
    void *body_ctx;
    struct smtp_stats stats;
};

static inline void smtp_ev(struct smtp_state *s, enum smtp_event e)
{
    s->stats.events[e]++;
    if (s->cur)
        s->cur->events |= 1u << e;
}

static inline char *dupn(const void *p, size_t n)
{
    char *r = malloc(n + 1);
    if (r == NULL)
        return NULL;
    memcpy(r, p, n);
    r[n] = 0;
    return r;
}

static inline int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* Whether p[0..n) starts with lit, ignoring ASCII case. */
static inline int ci_prefix(const uint8_t *p, uint32_t n, const char *lit)
{
    size_t l = strlen(lit);
    if (n < l)
        return 0;
    for (size_t i = 0; i < l; i++)
        if (lower(p[i]) != lower((unsigned char)lit[i]))
            return 0;
    return 1;
}

/* Whether the first k bytes of p equal those of lit, ignoring ASCII case. */
static inline int ci_equal(const uint8_t *p, const char *lit, uint32_t k)
{
    for (uint32_t i = 0; i < k; i++)
        if (lower(p[i]) != lower((unsigned char)lit[i]))
            return 0;
    return 1;
}

static inline int is_ws(int c)
{
    return c == ' ' || c == '\t';
}

/* app-smtp-mime.c: clears the MIME state of the open transaction (keeps its line buffer). */
void smtp_mime_reset(struct smtp_state *s);

/* app-smtp-mime.c: one message line without its line end. */
void smtp_mime_line(struct smtp_state *s, const uint8_t *l, uint32_t n);

/* app-smtp-mime.c: the end of a header block (message or part). */
void smtp_mime_block_done(struct smtp_state *s);

/* app-smtp-mime.c: raw (dot-unstuffed) message bytes of the open transaction: kept up to the
 * body limit, passed to the body callback, and split into lines for the MIME pass. */
void smtp_msg_bytes(struct smtp_state *s, const uint8_t *p, uint32_t n);

#endif
