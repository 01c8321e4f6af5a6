/* detect-kw-file.c: file keywords: filename, fileext, filemagic, filesize, filemd5/sha1/sha256,
 * filestore. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect-parse.h"

/* The file part of the rule being parsed, created on first use; the rule becomes a file rule. */
static struct sig_file *file_part(struct parse_ctx *pc)
{
    struct sig *s = pc->s;
    if (s->fl == NULL && (s->fl = calloc(1, sizeof(*s->fl))) == NULL) {
        vg_errbuf_set(pc->errbuf, "out of memory");
        return NULL;
    }
    s->is_file = 1;
    return s->fl;
}

void detect_sig_file_free(struct sig_file *fl)
{
    if (fl == NULL)
        return;
    free(fl->size);
    free(fl->hash);
    free(fl);
}

/* ---- filename, fileext, filemagic: a content on file.name / file.magic ---- */

/*
 * Suricata 7 turns the legacy keyword into a content on the buffer with nocase (and, for
 * fileext, a leading "." and endswith): filename:"x" is file.name; content:"x"; nocase;.
 * Later modifiers (startswith, offset...) apply to that content, and a later content goes to
 * the packet payload again, as after any legacy keyword.
 */
static int legacy_content(struct parse_ctx *pc, const char *value, unsigned id, int quotes_needed,
                          const char *prefix, int endswith, const char *kw)
{
    if (value == NULL || *value == '\0') {
        vg_errbuf_set(pc->errbuf, "%s needs a value", kw);
        return -1;
    }
    if (file_part(pc) == NULL)
        return -1;
    const char *v = value;
    int neg = *v == '!';
    if (neg)
        while (isspace((unsigned char)*++v))
            ;
    size_t n = strlen(v);
    int quoted = n >= 2 && v[0] == '"' && v[n - 1] == '"';
    if (!quoted && quotes_needed) {
        vg_errbuf_set(pc->errbuf, "%s must be in double quotes", kw);
        return -1;
    }
    const char *inner = quoted ? v + 1 : v;
    size_t ilen = quoted ? n - 2 : n;
    if (ilen == 0) {
        vg_errbuf_set(pc->errbuf, "%s: empty value", kw);
        return -1;
    }
    size_t cap = ilen + strlen(prefix) + 4;
    char *text = malloc(cap);
    if (text == NULL) {
        vg_errbuf_set(pc->errbuf, "out of memory");
        return -1;
    }
    snprintf(text, cap, "%s\"%s%.*s\"", neg ? "!" : "", prefix, (int)ilen, inner);
    kw_fn content = NULL;
    for (const struct kw_def *k = detect_payload_keywords; k->name; k++)
        if (strcmp(k->name, "content") == 0)
            content = k->fn;
    uint16_t xf = pc->transforms;
    pc->transforms = 0;
    struct sig_buf *b = parse_buf(pc, id);
    pc->transforms = xf;
    if (b == NULL || content == NULL) {
        free(text);
        vg_errbuf_set(pc->errbuf, "out of memory");
        return -1;
    }
    pc->cur_buf = (int)(b - pc->s->bufs);
    int rc = content(pc, text);
    free(text);
    pc->cur_buf = -1;
    pc->transforms = 0;
    if (rc < 0)
        return -1;
    struct sm *m = &pc->s->bufs[pc->last_buf].items[pc->last_item];
    m->flags |= SM_F_NOCASE;
    if (endswith)
        m->flags |= SM_F_ENDSWITH;
    return 0;
}

static int kw_filename(struct parse_ctx *pc, const char *value)
{
    return legacy_content(pc, value, DB_FILE_NAME, 0, "", 0, "filename");
}

static int kw_fileext(struct parse_ctx *pc, const char *value)
{
    return legacy_content(pc, value, DB_FILE_NAME, 0, ".", 1, "fileext");
}

static int kw_filemagic(struct parse_ctx *pc, const char *value)
{
    return legacy_content(pc, value, DB_FILE_MAGIC, 1, "", 0, "filemagic");
}

/* ---- filesize ---- */

/*
 * filesize:[op]N[unit] or N[unit]<>M[unit], units KB, MB, GB (case-insensitive, 1024-based)
 * as Suricata's integer keywords take them. The units are multiplied out, then the text goes
 * to the shared range parser.
 */
static int kw_filesize(struct parse_ctx *pc, const char *value)
{
    if (value == NULL || *value == '\0') {
        vg_errbuf_set(pc->errbuf, "filesize needs a value");
        return -1;
    }
    char out[128];
    size_t o = 0;
    for (const char *p = value; *p;) {
        if (!isdigit((unsigned char)*p)) {
            if (!isspace((unsigned char)*p)) {
                if (o + 2 >= sizeof(out))
                    goto bad;
                out[o++] = *p;
            }
            p++;
            continue;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno)
            goto bad;
        unsigned long long mul = 1;
        if (strncasecmp(end, "kb", 2) == 0)
            mul = 1ULL << 10;
        else if (strncasecmp(end, "mb", 2) == 0)
            mul = 1ULL << 20;
        else if (strncasecmp(end, "gb", 2) == 0)
            mul = 1ULL << 30;
        if (mul > 1) {
            if (v > UINT64_MAX / mul)
                goto bad;
            v *= mul;
            end += 2;
        }
        int w = snprintf(out + o, sizeof(out) - o, "%llu", v);
        if (w < 0 || (size_t)w >= sizeof(out) - o)
            goto bad;
        o += (size_t)w;
        p = end;
    }
    out[o] = '\0';
    struct sig_file *fl = file_part(pc);
    if (fl == NULL)
        return -1;
    if (fl->nsize == UINT8_MAX) {
        vg_errbuf_set(pc->errbuf, "filesize: too many");
        return -1;
    }
    struct sm_range r;
    if (parse_range(pc, out, UINT64_MAX - 1, &r, "filesize") < 0)
        return -1;
    struct sm_range *v = realloc(fl->size, (fl->nsize + 1u) * sizeof(*v));
    if (v == NULL) {
        vg_errbuf_set(pc->errbuf, "out of memory");
        return -1;
    }
    fl->size = v;
    fl->size[fl->nsize++] = r;
    return 0;
bad:
    vg_errbuf_set(pc->errbuf, "filesize: invalid value '%.60s'", value);
    return -1;
}

/* ---- filemd5, filesha1, filesha256: hash-list files ---- */

static int cmp_hash(const void *a, const void *b, void *hlen)
{
    return memcmp(a, b, *(const uint8_t *)hlen);
}

/*
 * Reads a hash list as Suricata does: each line's leading run of hex digits is a hash (md5sum
 * output works); lines that do not start with one are ignored; a run of the wrong length is
 * reported as "path:line: ..." and skipped. Returns the list, or NULL with errbuf set if the
 * file cannot be read.
 */
static struct hash_list *hashlist_read(struct detect_engine *e, FILE *fp, const char *path,
                                       uint8_t hlen, const char *kw, char *errbuf)
{
    struct hash_list *h = calloc(1, sizeof(*h));
    if (h == NULL || (h->path = strdup(path)) == NULL) {
        free(h);
        vg_errbuf_set(errbuf, "out of memory");
        return NULL;
    }
    h->hlen = hlen;
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    unsigned lineno = 0;
    while ((n = getline(&line, &lcap, fp)) >= 0) {
        lineno++;
        size_t run = 0;
        while (run < (size_t)n && vg_hexval((unsigned char)line[run]) >= 0)
            run++;
        if (run == 0)
            continue;
        if (run != 2u * hlen) {
            if (e->load_errors != NULL)
                fprintf(e->load_errors,
                        "%s:%u: %s: a hash of %zu hex digits, not %u; line skipped\n", path, lineno,
                        kw, run, 2u * hlen);
            e->load_bad_lines++;
            continue;
        }
        if (h->n == cap) {
            size_t nc = cap ? cap * 2 : 256;
            uint8_t *v = realloc(h->v, nc * hlen);
            if (v == NULL)
                goto oom;
            h->v = v;
            cap = nc;
        }
        uint8_t *dst = h->v + h->n * hlen;
        for (unsigned i = 0; i < hlen; i++)
            dst[i] = (uint8_t)(vg_hexval((unsigned char)line[2 * i]) << 4 |
                               vg_hexval((unsigned char)line[2 * i + 1]));
        h->n++;
    }
    free(line);
    line = NULL;
    if (ferror(fp)) {
        vg_errbuf_set(errbuf, "%s: cannot read hash list %s: %s", kw, path, strerror(errno));
        goto fail;
    }
    if (h->n > 1) {
        qsort_r(h->v, h->n, hlen, cmp_hash, &hlen);
        size_t o = 1;
        for (size_t i = 1; i < h->n; i++)
            if (memcmp(h->v + i * hlen, h->v + (o - 1) * hlen, hlen) != 0)
                memmove(h->v + o++ * hlen, h->v + i * hlen, hlen);
        h->n = o;
    }
    return h;
oom:
    vg_errbuf_set(errbuf, "out of memory");
fail:
    free(line);
    free(h->v);
    free(h->path);
    free(h);
    return NULL;
}

void detect_hashlists_free(struct detect_engine *e)
{
    for (unsigned i = 0; i < e->nhashlists; i++) {
        free(e->hashlists[i]->v);
        free(e->hashlists[i]->path);
        free(e->hashlists[i]);
    }
    free(e->hashlists);
    e->hashlists = NULL;
    e->nhashlists = 0;
}

/*
 * Opens the list name as Suricata does: an absolute path as it is; else under
 * default-rule-path (or the working directory without it); failing that, beside the rule
 * file. Returns the open file with its path in path, or NULL with errbuf set.
 */
static FILE *hashlist_open(struct parse_ctx *pc, const char *name, char *path, size_t plen,
                           const char *kw)
{
    const struct config *cfg = pc->e->vars.cfg;
    const char *dir = cfg ? config_get(cfg, "default-rule-path") : NULL;
    if (name[0] == '/' || dir == NULL || dir[0] == '\0')
        snprintf(path, plen, "%s", name);
    else
        snprintf(path, plen, "%s/%s", dir, name);
    FILE *fp = fopen(path, "r");
    if (fp != NULL || name[0] == '/')
        goto done;
    char first[8192];
    snprintf(first, sizeof(first), "%s", path);
    const char *rf = pc->s->file;
    const char *slash = rf ? strrchr(rf, '/') : NULL;
    if (slash != NULL)
        snprintf(path, plen, "%.*s/%s", (int)(slash - rf), rf, name);
    else
        snprintf(path, plen, "%s", name);
    fp = fopen(path, "r");
    if (fp == NULL && strcmp(first, path) != 0) {
        vg_errbuf_set(pc->errbuf, "%s: cannot open hash list %s (nor %s): %s", kw, first, path,
                      strerror(errno));
        return NULL;
    }
done:
    if (fp == NULL)
        vg_errbuf_set(pc->errbuf, "%s: cannot open hash list %s: %s", kw, path, strerror(errno));
    return fp;
}

static int file_hash(struct parse_ctx *pc, const char *value, uint8_t hlen, const char *kw)
{
    if (value == NULL || *value == '\0') {
        vg_errbuf_set(pc->errbuf, "%s needs a hash-list file name", kw);
        return -1;
    }
    char name[4096];
    if (parse_unquote(value, name, sizeof(name)) < 0) {
        vg_errbuf_set(pc->errbuf, "%s: file name too long", kw);
        return -1;
    }
    char *t = parse_trim(name);
    int neg = *t == '!';
    if (neg)
        t = parse_trim(t + 1);
    if (*t == '\0') {
        vg_errbuf_set(pc->errbuf, "%s needs a hash-list file name", kw);
        return -1;
    }
    struct sig_file *fl = file_part(pc);
    if (fl == NULL)
        return -1;
    if (fl->nhash == UINT8_MAX) {
        vg_errbuf_set(pc->errbuf, "%s: too many hash lists", kw);
        return -1;
    }
    char path[8192];
    FILE *fp = hashlist_open(pc, t, path, sizeof(path), kw);
    if (fp == NULL)
        return -1;
    struct detect_engine *e = pc->e;
    const struct hash_list *list = NULL;
    for (unsigned i = 0; i < e->nhashlists && list == NULL; i++)
        if (e->hashlists[i]->hlen == hlen && strcmp(e->hashlists[i]->path, path) == 0)
            list = e->hashlists[i];
    if (list == NULL) {
        struct hash_list **v = realloc(e->hashlists, (e->nhashlists + 1u) * sizeof(*v));
        struct hash_list *h = v ? hashlist_read(e, fp, path, hlen, kw, pc->errbuf) : NULL;
        if (v != NULL)
            e->hashlists = v;
        if (h == NULL) {
            fclose(fp);
            if (v == NULL)
                vg_errbuf_set(pc->errbuf, "out of memory");
            return -1;
        }
        e->hashlists[e->nhashlists++] = h;
        list = h;
    }
    fclose(fp);
    void *v = realloc(fl->hash, (fl->nhash + 1u) * sizeof(*fl->hash));
    if (v == NULL) {
        vg_errbuf_set(pc->errbuf, "out of memory");
        return -1;
    }
    fl->hash = v;
    fl->hash[fl->nhash].list = list;
    fl->hash[fl->nhash].negated = (uint8_t)neg;
    fl->nhash++;
    return 0;
}

static int kw_filemd5(struct parse_ctx *pc, const char *v)
{
    return file_hash(pc, v, 16, "filemd5");
}
static int kw_filesha1(struct parse_ctx *pc, const char *v)
{
    return file_hash(pc, v, 20, "filesha1");
}
static int kw_filesha256(struct parse_ctx *pc, const char *v)
{
    return file_hash(pc, v, 32, "filesha256");
}

/* ---- filestore ---- */

/*
 * filestore[:direction[,scope]]: direction request/to_server, response/to_client or both
 * (default: the rule's); scope file (default), tx, or ssn/flow. A direction alone means scope
 * tx, as in Suricata.
 */
static int kw_filestore(struct parse_ctx *pc, const char *value)
{
    struct sig_file *fl = file_part(pc);
    if (fl == NULL)
        return -1;
    if (fl->store) {
        vg_errbuf_set(pc->errbuf, "filestore given twice");
        return -1;
    }
    fl->store = 1;
    fl->store_scope = FSCOPE_FILE;
    if (value == NULL || *value == '\0')
        return 0;
    char buf[96];
    snprintf(buf, sizeof(buf), "%s", value);
    char *comma = strchr(buf, ',');
    char *scope = NULL;
    if (comma != NULL) {
        *comma = '\0';
        scope = parse_trim(comma + 1);
        if (strchr(scope, ',') != NULL)
            goto bad;
    }
    char *dir = parse_trim(buf);
    if (strcasecmp(dir, "request") == 0 || strcasecmp(dir, "to_server") == 0)
        fl->store_dirs = 1;
    else if (strcasecmp(dir, "response") == 0 || strcasecmp(dir, "to_client") == 0)
        fl->store_dirs = 2;
    else if (strcasecmp(dir, "both") == 0)
        fl->store_dirs = 3;
    else
        goto bad;
    fl->store_scope = FSCOPE_TX;
    if (scope == NULL)
        return 0;
    if (strcasecmp(scope, "file") == 0)
        fl->store_scope = FSCOPE_FILE;
    else if (strcasecmp(scope, "tx") == 0)
        fl->store_scope = FSCOPE_TX;
    else if (strcasecmp(scope, "ssn") == 0 || strcasecmp(scope, "flow") == 0)
        fl->store_scope = FSCOPE_FLOW;
    else
        goto bad;
    return 0;
bad:
    vg_errbuf_set(pc->errbuf,
                  "filestore: expected [request|response|to_server|to_client|both"
                  "[,file|tx|ssn|flow]], got '%.60s'",
                  value);
    return -1;
}

/* ---- Classification at the end of the rule ---- */

int detect_sig_is_file(const struct sig *s)
{
    if (s->fl != NULL)
        return 1;
    for (unsigned b = 0; b < s->nbufs; b++)
        if ((s->bufs[b].id == DB_FILE_NAME || s->bufs[b].id == DB_FILE_MAGIC) && s->bufs[b].n > 0)
            return 1;
    return 0;
}

int detect_file_finish_sig(struct sig *s, char *errbuf)
{
    if (!detect_sig_is_file(s))
        return 0;
    s->is_file = 1;
    s->is_tx = 0;
    s->has_payload = 0;
    if (s->fl == NULL && (s->fl = calloc(1, sizeof(*s->fl))) == NULL) {
        vg_errbuf_set(errbuf, "out of memory");
        return -1;
    }
    if (s->app_proto != APP_UNKNOWN && s->app_proto != APP_HTTP && s->app_proto != APP_SMTP &&
        s->app_proto != APP_FTP_DATA) {
        vg_errbuf_set(errbuf,
                      "file keywords in a %s rule: only HTTP, SMTP and ftp-data carry files",
                      app_proto_name(s->app_proto));
        return -1;
    }
    if (s->proto != SP_IP && s->proto != SP_TCP) {
        vg_errbuf_set(errbuf, "file keywords need a TCP (HTTP or SMTP) rule");
        return -1;
    }
    if (s->stream_only || s->pkt_only) {
        vg_errbuf_set(errbuf, "file keywords cannot be used in tcp-pkt or tcp-stream rules");
        return -1;
    }
    /* The file's directions: the flow keyword's, else both (transaction buffers are read in
     * their own direction whatever the file's). */
    s->dirs = (s->flow & FK_TOSERVER) ? 1 : (s->flow & FK_TOCLIENT) ? 2 : 3;
    int at_close = s->fl->nsize > 0 || s->fl->nhash > 0;
    for (unsigned b = 0; b < s->nbufs; b++) {
        const struct sig_buf *sb = &s->bufs[b];
        if (sb->n == 0)
            continue;
        if (sb->id == DB_PAYLOAD) {
            vg_errbuf_set(errbuf, "file keywords cannot be combined with packet payload "
                                  "matches (use file.data for the file's content)");
            return -1;
        }
        if (sb->id == DB_FILE_MAGIC || sb->id == DB_FILE_DATA)
            at_close = 1;
    }
    s->fl->at_close = (uint8_t)at_close;
    if (s->fl->store_dirs == 0)
        s->fl->store_dirs = s->dirs;
    return 0;
}

const struct kw_def detect_file_keywords[] = {
    {"filename", kw_filename},     {"fileext", kw_fileext},     {"filemagic", kw_filemagic},
    {"filesize", kw_filesize},     {"filemd5", kw_filemd5},     {"filesha1", kw_filesha1},
    {"filesha256", kw_filesha256}, {"filestore", kw_filestore}, {NULL, NULL},
};
