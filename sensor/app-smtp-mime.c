/* app-smtp-mime.c: the message of an SMTP transaction: body kept and passed on, MIME headers. */
#include "app-smtp-internal.h"

void smtp_mime_reset(struct smtp_state *s)
{
    struct smtp_mime *m = &s->mime;
    free(m->cur);
    free(m->fname);
    free(m->name);
    for (uint32_t i = 0; i < m->nbound; i++)
        free(m->bound[i]);
    uint8_t *line = m->line;
    memset(m, 0, sizeof(*m));
    m->line = line;
}

/* Value of parameter name (filename, boundary) in a header value, malloc'd, or NULL. */
static char *mime_param(const char *v, const char *name)
{
    size_t nl = strlen(name);
    const char *p = strchr(v, ';');
    while (p != NULL) {
        p++;
        while (is_ws(*p))
            p++;
        int ext = 0;
        if (ci_prefix((const uint8_t *)p, (uint32_t)strlen(p), name)) {
            const char *q = p + nl;
            if (*q == '*') { /* RFC 2231: filename*=charset''value */
                ext = 1;
                q++;
            }
            while (is_ws(*q))
                q++;
            if (*q == '=') {
                q++;
                while (is_ws(*q))
                    q++;
                const char *e;
                if (*q == '"') {
                    q++;
                    e = strchr(q, '"');
                    if (e == NULL)
                        e = q + strlen(q);
                } else {
                    e = q;
                    while (*e && *e != ';' && !is_ws(*e))
                        e++;
                }
                if (ext) {
                    for (const char *t = q; t + 1 < e; t++)
                        if (t[0] == '\'' && t[1] == '\'') {
                            q = t + 2;
                            break;
                        }
                }
                return dupn(q, (size_t)(e - q));
            }
        }
        p = strchr(p, ';');
    }
    return NULL;
}

static void mime_push_boundary(struct smtp_state *s, const char *ct)
{
    struct smtp_mime *m = &s->mime;
    char *b = mime_param(ct, "boundary");
    if (b == NULL || *b == 0) {
        free(b);
        return;
    }
    if (strlen(b) > SMTP_BOUNDARY_MAX) {
        smtp_ev(s, SMTP_EV_MIME_BOUNDARY_TOO_LONG);
        free(b);
        return;
    }
    if (m->nbound == SMTP_MAX_BOUNDARIES) {
        smtp_ev(s, SMTP_EV_MIME_TOO_MANY_BOUNDARIES);
        free(b);
        return;
    }
    m->bound[m->nbound++] = b;
}

static const char *const smtp_hdr_names[SMTP_HDR__COUNT] = {
    "from", "to", "cc", "subject", "date", "message-id", "x-mailer", "content-type",
};

/* Takes the header unfolded in m->cur. */
static void mime_header_done(struct smtp_state *s)
{
    struct smtp_mime *m = &s->mime;
    struct smtp_tx *tx = s->cur;
    if (m->cur == NULL)
        return;
    char *h = m->cur;
    m->cur = NULL;
    m->cur_len = 0;
    m->cur_over = 0;
    if (tx == NULL || ++m->nheaders > s->cfg.max_headers) {
        if (tx && m->nheaders == s->cfg.max_headers + 1)
            smtp_ev(s, SMTP_EV_MIME_TOO_MANY_HEADERS);
        free(h);
        return;
    }
    char *colon = strchr(h, ':');
    if (colon == NULL) {
        free(h);
        return;
    }
    size_t nlen = (size_t)(colon - h);
    while (nlen > 0 && is_ws(h[nlen - 1]))
        nlen--;
    char *v = colon + 1;
    while (is_ws(*v))
        v++;
    size_t vlen = strlen(v);
    while (vlen > 0 && (is_ws(v[vlen - 1]) || v[vlen - 1] == '\r'))
        v[--vlen] = 0;
    const uint8_t *hn = (const uint8_t *)h;
    if (nlen == 12 && ci_prefix(hn, (uint32_t)nlen, "content-type")) {
        if (ci_prefix((const uint8_t *)v, (uint32_t)vlen, "multipart/")) {
            m->block_multipart = 1;
            if (m->phase == MIME_HDR)
                tx->multipart = 1;
            mime_push_boundary(s, v);
        } else if (m->name == NULL) {
            m->name = mime_param(v, "name");
        }
    } else if (nlen == 19 && ci_prefix(hn, (uint32_t)nlen, "content-disposition")) {
        if (m->fname == NULL)
            m->fname = mime_param(v, "filename");
    }
    if (m->phase == MIME_HDR) {
        for (int i = 0; i < SMTP_HDR__COUNT; i++) {
            if (strlen(smtp_hdr_names[i]) == nlen &&
                ci_prefix(hn, (uint32_t)nlen, smtp_hdr_names[i])) {
                if (tx->hdr[i] == NULL)
                    tx->hdr[i] = dupn(v, vlen);
                break;
            }
        }
    }
    free(h);
}

/* The end of a header block (message or part): note its attachment name. */
void smtp_mime_block_done(struct smtp_state *s)
{
    struct smtp_mime *m = &s->mime;
    struct smtp_tx *tx = s->cur;
    mime_header_done(s);
    char *f = m->fname ? m->fname : m->name;
    if (tx != NULL && f != NULL && *f && !m->block_multipart) {
        if (tx->nattach >= s->cfg.max_attachments) {
            smtp_ev(s, SMTP_EV_TOO_MANY_ATTACHMENTS);
        } else {
            char **na = realloc(tx->attachments, (tx->nattach + 1) * sizeof(*na));
            if (na != NULL) {
                tx->attachments = na;
                na[tx->nattach++] = f;
                if (f == m->fname)
                    m->fname = NULL;
                else
                    m->name = NULL;
            }
        }
    }
    free(m->fname);
    free(m->name);
    m->fname = m->name = NULL;
    m->block_multipart = 0;
    m->phase = MIME_BODY;
    if (tx != NULL && tx->status == SMTP_MAIL_HEADERS)
        tx->status = SMTP_MAIL_BODY;
}

/* One message line without its line end. */
void smtp_mime_line(struct smtp_state *s, const uint8_t *l, uint32_t n)
{
    struct smtp_mime *m = &s->mime;
    if (m->phase == MIME_BODY) {
        if (m->nbound == 0 || n < 2 || l[0] != '-' || l[1] != '-')
            return;
        for (uint32_t i = m->nbound; i-- > 0;) {
            size_t bl = strlen(m->bound[i]);
            if (n < 2 + bl || memcmp(l + 2, m->bound[i], bl) != 0)
                continue;
            const uint8_t *rest = l + 2 + bl;
            uint32_t rn = n - 2 - (uint32_t)bl;
            int close = rn >= 2 && rest[0] == '-' && rest[1] == '-';
            if (!close) {
                for (uint32_t k = 0; k < rn; k++)
                    if (!is_ws(rest[k]))
                        return; /* a longer boundary, not this one */
            }
            for (uint32_t k = m->nbound; k-- > i + (close ? 0u : 1u);)
                free(m->bound[k]);
            m->nbound = close ? i : i + 1;
            if (!close)
                m->phase = MIME_PART_HDR;
            return;
        }
        return;
    }
    /* headers */
    if (n == 0) {
        smtp_mime_block_done(s);
        return;
    }
    uint32_t cap = s->cfg.max_header_len;
    if (is_ws(l[0])) {
        if (m->cur == NULL)
            return;
        uint32_t take = n;
        if (m->cur_len + take > cap) {
            take = cap > m->cur_len ? cap - m->cur_len : 0;
            if (!m->cur_over)
                smtp_ev(s, SMTP_EV_MIME_LONG_HEADER);
            m->cur_over = 1;
        }
        if (take == 0)
            return;
        char *nc = realloc(m->cur, m->cur_len + take + 1);
        if (nc == NULL)
            return;
        memcpy(nc + m->cur_len, l, take);
        m->cur_len += take;
        nc[m->cur_len] = 0;
        m->cur = nc;
        return;
    }
    mime_header_done(s);
    uint32_t take = n;
    if (take > cap) {
        take = cap;
        smtp_ev(s, SMTP_EV_MIME_LONG_HEADER);
        m->cur_over = 1;
    }
    m->cur = dupn(l, take);
    m->cur_len = m->cur ? take : 0;
}

/* Bytes allocated for a kept body of len bytes: doubling from 4 KiB, at most lim. */
static uint32_t body_cap(uint32_t len, uint32_t lim)
{
    uint32_t c = 4096;
    while (c < len && c < lim)
        c *= 2;
    return c < lim ? c : lim;
}

/* Raw message bytes (dot-unstuffed) of the open transaction. */
void smtp_msg_bytes(struct smtp_state *s, const uint8_t *p, uint32_t n)
{
    struct smtp_tx *tx = s->cur;
    if (tx == NULL || n == 0)
        return;
    tx->body_total += n;
    if (!tx->body_truncated) {
        uint32_t lim = s->cfg.body_limit, take = n;
        if ((uint64_t)tx->body_len + take > lim) {
            take = lim - tx->body_len;
            tx->body_truncated = 1;
        }
        uint32_t need = tx->body_len + take;
        if (take > 0 && (tx->body == NULL || body_cap(need, lim) > body_cap(tx->body_len, lim))) {
            uint8_t *nb = realloc(tx->body, body_cap(need, lim));
            if (nb == NULL) {
                tx->body_truncated = 1;
                take = 0;
                smtp_ev(s, SMTP_EV_OUT_OF_MEMORY);
            } else {
                tx->body = nb;
            }
        }
        if (take > 0) {
            memcpy(tx->body + tx->body_len, p, take);
            tx->body_len += take;
        }
    }
    if (s->body_cb)
        s->body_cb(s->body_ctx, tx, p, n, 0);
    /* MIME line assembly */
    struct smtp_mime *m = &s->mime;
    if (m->phase == MIME_BODY && m->nbound == 0) {
        m->line_len = 0; /* nothing left to look for in this message */
        return;
    }
    while (n > 0) {
        const uint8_t *lf = memchr(p, '\n', n);
        uint32_t take = lf ? (uint32_t)(lf - p) + 1 : n;
        uint32_t room = s->cfg.max_line - m->line_len;
        uint32_t copy = take < room ? take : room;
        memcpy(m->line + m->line_len, p, copy);
        m->line_len += copy;
        if (copy < take && !m->line_over) {
            m->line_over = 1;
            smtp_ev(s, SMTP_EV_MIME_LONG_LINE);
        }
        p += take;
        n -= take;
        if (lf) {
            uint32_t ll = m->line_len;
            if (ll > 0 && m->line[ll - 1] == '\n')
                ll--;
            if (ll > 0 && m->line[ll - 1] == '\r')
                ll--;
            smtp_mime_line(s, m->line, ll);
            m->line_len = 0;
            m->line_over = 0;
        }
    }
}

/* The message of the open transaction ended normally. */