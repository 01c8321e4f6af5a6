/* detect-parse.c: parses one Suricata/Snort rule: header, options, then fast-pattern choice. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect-parse.h"

#define MAX_OPTS 512

char *parse_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int parse_unquote(const char *in, char *out, size_t outlen)
{
    size_t n = strlen(in);
    if (n >= 2 && in[0] == '"' && in[n - 1] == '"') {
        in++;
        n -= 2;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '\\' && i + 1 < n && strchr("\"\\;:", in[i + 1]) != NULL)
            c = in[++i];
        if (o + 1 >= outlen)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

struct sig_buf *parse_buf(struct parse_ctx *pc, unsigned id)
{
    struct sig *s = pc->s;
    for (unsigned i = 0; i < s->nbufs; i++)
        if (s->bufs[i].id == id && s->bufs[i].transforms == (id == DB_PAYLOAD ? 0 : pc->transforms))
            return &s->bufs[i];
    if (s->nbufs == UINT8_MAX)
        return NULL;
    struct sig_buf *v = realloc(s->bufs, (s->nbufs + 1) * sizeof(*v));
    if (v == NULL)
        return NULL;
    s->bufs = v;
    struct sig_buf *b = &s->bufs[s->nbufs++];
    memset(b, 0, sizeof(*b));
    b->id = (uint16_t)id;
    b->transforms = id == DB_PAYLOAD ? 0 : pc->transforms;
    return b;
}

struct sm *parse_new_item(struct parse_ctx *pc, uint8_t type, int *buf_index)
{
    struct sig_buf *b;
    if (pc->cur_buf >= 0)
        b = &pc->s->bufs[pc->cur_buf];
    else
        b = parse_buf(pc, DB_PAYLOAD);
    if (b == NULL || b->n >= PARSE_MAX_ITEMS) {
        vg_errbuf_set(pc->errbuf, b ? "too many match keywords" : "out of memory");
        return NULL;
    }
    struct sm *v = realloc(b->items, (b->n + 1) * sizeof(*v));
    if (v == NULL) {
        vg_errbuf_set(pc->errbuf, "out of memory");
        return NULL;
    }
    b->items = v;
    struct sm *m = &b->items[b->n];
    memset(m, 0, sizeof(*m));
    m->type = type;
    if (type == SM_CONTENT) {
        m->c.offset.var = m->c.depth.var = m->c.distance.var = m->c.within.var = -1;
    } else if (type == SM_BYTE_TEST || type == SM_BYTE_JUMP || type == SM_BYTE_EXTRACT) {
        m->b.value.var = m->b.offset.var = -1;
        m->b.var_out = -1;
        m->b.multiplier = 1;
    } else if (type == SM_ISDATAAT) {
        m->at.var = -1;
    }
    int idx = (int)(b - pc->s->bufs);
    if (buf_index)
        *buf_index = idx;
    if (type == SM_CONTENT || type == SM_PCRE) {
        pc->last_buf = idx;
        pc->last_item = b->n;
    }
    b->n++;
    return m;
}

struct sm *parse_last_content(struct parse_ctx *pc, const char *kw)
{
    if (pc->last_buf < 0) {
        vg_errbuf_set(pc->errbuf, "%s without a preceding content", kw);
        return NULL;
    }
    struct sm *m = &pc->s->bufs[pc->last_buf].items[pc->last_item];
    if (m->type != SM_CONTENT) {
        vg_errbuf_set(pc->errbuf, "%s must follow a content", kw);
        return NULL;
    }
    return m;
}

int parse_num(struct parse_ctx *pc, const char *text, struct sm_num *n, const char *kw)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", text);
    char *t = parse_trim(buf);
    if (isalpha((unsigned char)*t) || *t == '_') {
        for (unsigned i = 0; i < pc->nvars; i++) {
            if (strcmp(pc->varnames[i], t) == 0) {
                n->var = (int8_t)i;
                n->value = 0;
                return 0;
            }
        }
        vg_errbuf_set(pc->errbuf, "%s: unknown variable '%s'", kw, t);
        return -1;
    }
    char *end;
    errno = 0;
    long long v = strtoll(t, &end, 0);
    if (errno || end == t || *parse_trim(end) != '\0') {
        vg_errbuf_set(pc->errbuf, "%s: invalid number '%s'", kw, t);
        return -1;
    }
    n->value = v;
    n->var = -1;
    return 0;
}

static int parse_u64(const char *t, uint64_t *out)
{
    char *end;
    errno = 0;
    while (isspace((unsigned char)*t))
        t++;
    if (*t == '-' || *t == '\0')
        return -1;
    unsigned long long v = strtoull(t, &end, 0);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int parse_range(struct parse_ctx *pc, const char *text, uint64_t max, struct sm_range *r,
                const char *kw)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", text);
    char *t = parse_trim(buf);
    memset(r, 0, sizeof(*r));
    char *sep;
    int ok;
    if ((sep = strstr(t, "<>")) != NULL) {
        *sep = '\0';
        r->op = RANGE_BETWEEN;
        ok = parse_u64(t, &r->a) == 0 && parse_u64(sep + 2, &r->b) == 0 && r->a < r->b;
    } else if (t[0] == '<' && t[1] == '=') {
        r->op = RANGE_LE;
        ok = parse_u64(t + 2, &r->a) == 0;
    } else if (t[0] == '>' && t[1] == '=') {
        r->op = RANGE_GE;
        ok = parse_u64(t + 2, &r->a) == 0;
    } else if (t[0] == '<') {
        r->op = RANGE_LT;
        ok = parse_u64(t + 1, &r->a) == 0;
    } else if (t[0] == '>') {
        r->op = RANGE_GT;
        ok = parse_u64(t + 1, &r->a) == 0;
    } else if (t[0] == '!') {
        r->op = RANGE_NE;
        ok = parse_u64(t + 1, &r->a) == 0;
    } else if (t[0] == '=') {
        r->op = RANGE_EQ;
        ok = parse_u64(t + 1, &r->a) == 0;
    } else if ((sep = strchr(t + 1, '-')) != NULL) {
        /* "N-M" is inclusive (Suricata's ttl:1-3). */
        *sep = '\0';
        r->op = RANGE_BETWEEN;
        ok = parse_u64(t, &r->a) == 0 && parse_u64(sep + 1, &r->b) == 0 && r->a <= r->b;
        if (ok) {
            r->a = r->a > 0 ? r->a - 1 : 0;
            r->b++;
        }
    } else {
        r->op = RANGE_EQ;
        ok = parse_u64(t, &r->a) == 0;
    }
    if (!ok || r->a > max || (r->op == RANGE_BETWEEN && r->b > max + 1)) {
        vg_errbuf_set(pc->errbuf, "%s: invalid value '%s'", kw, text);
        return -1;
    }
    return 0;
}

/*
 * Splits the option text (between the parentheses) on unescaped semicolons. Like Suricata, it
 * does not track quotes: a ';' inside a value must be written "\;".
 */
static int split_options(char *body, char **opts, unsigned max, unsigned *n)
{
    *n = 0;
    char *start = body;
    for (char *p = body;; p++) {
        if (*p == '\\' && p[1] != '\0') {
            p++;
            continue;
        }
        if (*p == ';' || *p == '\0') {
            int end = *p == '\0';
            *p = '\0';
            char *o = parse_trim(start);
            if (*o != '\0') {
                if (*n == max)
                    return -1;
                opts[(*n)++] = o;
            }
            if (end)
                break;
            start = p + 1;
        }
    }
    return 0;
}

/* Reads the next header token; brackets may hold spaces. Returns NULL at the end. */
static char *next_token(char **pp)
{
    char *p = *pp;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '\0')
        return NULL;
    char *start = p;
    int depth = 0;
    while (*p && (depth > 0 || !isspace((unsigned char)*p))) {
        if (*p == '[')
            depth++;
        else if (*p == ']')
            depth--;
        p++;
    }
    if (*p)
        *p++ = '\0';
    *pp = p;
    return start;
}

static int parse_action(struct sig *s, const char *a)
{
    static const struct {
        const char *name;
        uint8_t act;
    } acts[] = {{"alert", ACT_ALERT},      {"drop", ACT_DROP},        {"reject", ACT_REJECT},
                {"rejectsrc", ACT_REJECT}, {"rejectdst", ACT_REJECT}, {"rejectboth", ACT_REJECT},
                {"pass", ACT_PASS},        {"sdrop", ACT_DROP}};
    for (size_t i = 0; i < VG_ARRAY_LEN(acts); i++) {
        if (strcmp(acts[i].name, a) == 0) {
            s->action = acts[i].act;
            s->info.action = acts[i].name;
            return 0;
        }
    }
    return -1;
}

static int parse_proto(struct parse_ctx *pc, const char *p)
{
    struct sig *s = pc->s;
    static const struct {
        const char *name;
        uint8_t proto;
    } l4[] = {{"ip", SP_IP},         {"tcp", SP_TCP},       {"udp", SP_UDP},   {"icmp", SP_ICMP},
              {"icmpv4", SP_ICMPV4}, {"icmpv6", SP_ICMPV6}, {"sctp", SP_SCTP}, {"pkthdr", SP_IP},
              {"ipv4", SP_IP},       {"ipv6", SP_IP}};
    for (size_t i = 0; i < VG_ARRAY_LEN(l4); i++) {
        if (strcmp(l4[i].name, p) == 0) {
            s->proto = l4[i].proto;
            return 0;
        }
    }
    if (strcmp(p, "tcp-pkt") == 0 || strcmp(p, "tcp-stream") == 0) {
        s->proto = SP_TCP;
        s->pkt_only = p[4] == 'p';
        s->stream_only = p[4] == 's';
        return 0;
    }
    if (strcmp(p, "udp-pkt") == 0) {
        s->proto = SP_UDP;
        return 0;
    }
    unsigned app = app_proto_lookup(p);
    if (app == APP_UNKNOWN || app == APP_FAILED) {
        snprintf(pc->unsupported, pc->unsupported_len, "protocol %s", p);
        vg_errbuf_set(pc->errbuf, "unsupported protocol '%s'", p);
        return -1;
    }
    s->app_proto = (uint16_t)app;
    s->proto = app == APP_DNS ? SP_IP : SP_TCP;
    return 0;
}

/* Every option name (keywords and buffer names) in one table, built once. */
#define NAME_SLOTS 1024
struct name_entry {
    const char *name;
    kw_fn fn;     /* a keyword, or */
    int buf;      /* a buffer (>= 0) */
    int modifier; /* ... named as a legacy content modifier */
};
static struct name_entry names[NAME_SLOTS];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static unsigned name_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h & (NAME_SLOTS - 1);
}

static struct name_entry *name_slot(const char *name)
{
    unsigned i = name_hash(name);
    while (names[i].name != NULL && strcmp(names[i].name, name) != 0)
        i = (i + 1) & (NAME_SLOTS - 1);
    return &names[i];
}

static void names_init(void)
{
    const struct kw_def *tables[] = {detect_payload_keywords, detect_other_keywords,
                                     detect_geoip_keywords, detect_file_keywords};
    for (size_t t = 0; t < VG_ARRAY_LEN(tables); t++) {
        for (const struct kw_def *k = tables[t]; k->name; k++) {
            struct name_entry *e = name_slot(k->name);
            e->name = k->name;
            e->fn = k->fn;
            e->buf = -1;
        }
    }
}

/* Finds what an option name is: a keyword, or a buffer (through detect_buffer_lookup). */
static kw_fn find_keyword(const char *name)
{
    pthread_once(&names_once, names_init);
    const struct name_entry *e = name_slot(name);
    return e->name ? e->fn : NULL;
}

/* Handles a sticky buffer keyword, or a legacy modifier that moves the last content. */
static int buffer_keyword(struct parse_ctx *pc, int id, int is_modifier, const char *name)
{
    if (!is_modifier) {
        pc->transforms = 0;
        if (id == DB_PAYLOAD) {
            pc->cur_buf = -1;
            return 0;
        }
        struct sig_buf *b = parse_buf(pc, (unsigned)id);
        if (b == NULL) {
            vg_errbuf_set(pc->errbuf, "out of memory");
            return -1;
        }
        pc->cur_buf = (int)(b - pc->s->bufs);
        return 0;
    }
    /* Legacy modifier: the preceding content (or pcre) moves to this buffer. */
    if (pc->last_buf < 0) {
        vg_errbuf_set(pc->errbuf, "%s without a preceding content", name);
        return -1;
    }
    struct sig_buf *from = &pc->s->bufs[pc->last_buf];
    if (from->id == (unsigned)id)
        return 0;
    if (from->id != DB_PAYLOAD) {
        vg_errbuf_set(pc->errbuf, "%s: the content already has a buffer", name);
        return -1;
    }
    struct sm moved = from->items[pc->last_item];
    memmove(&from->items[pc->last_item], &from->items[pc->last_item + 1],
            (from->n - pc->last_item - 1) * sizeof(struct sm));
    from->n--;
    uint16_t saved = pc->transforms;
    pc->transforms = 0;
    struct sig_buf *to = parse_buf(pc, (unsigned)id);
    pc->transforms = saved;
    if (to == NULL)
        goto oom;
    struct sm *v = realloc(to->items, (to->n + 1) * sizeof(*v));
    if (v == NULL)
        goto oom;
    to->items = v;
    to->items[to->n] = moved;
    pc->last_buf = (int)(to - pc->s->bufs);
    pc->last_item = to->n;
    to->n++;
    return 0;
oom:
    vg_errbuf_set(pc->errbuf, "out of memory");
    return -1;
}

/* The length of the literal the prefilter looks for to select content m of sb. */
static uint32_t fp_len(const struct sig_buf *sb, const struct sm *m)
{
    uint32_t len = 0;
    detect_fp_literal(sb, m, NULL, &len);
    return len;
}

/* Picks the fast pattern as Suricata does: the marked one, else the longest in the most
 * specific buffer. Rules without a positive literal keep fp_buf -1. */
static void choose_fast_pattern(struct sig *s)
{
    s->fp_buf = -1;
    s->fp_item = -1;
    int best_b = -1, best_i = -1;
    uint32_t best_len = 0;
    int best_app = 0;
    for (unsigned b = 0; b < s->nbufs; b++) {
        const struct sig_buf *sb = &s->bufs[b];
        if (sb->id == DB_BASE64_DATA)
            continue;
        /* A transaction rule is selected through its application buffers. */
        if (s->is_tx && sb->id == DB_PAYLOAD)
            continue;
        for (unsigned i = 0; i < sb->n; i++) {
            const struct sm *m = &sb->items[i];
            /* The prefilter scans the raw buffer: detect_fp_literal() says what it can find. */
            if (m->type != SM_CONTENT || (m->flags & SM_F_NEGATED) ||
                detect_fp_literal(sb, m, NULL, NULL) < 0)
                continue;
            if (m->flags & SM_F_FAST_PATTERN) {
                s->fp_buf = (int16_t)b;
                s->fp_item = (int16_t)i;
                return;
            }
            int app = sb->id != DB_PAYLOAD;
            if (best_b < 0 || app > best_app || (app == best_app && fp_len(sb, m) > best_len)) {
                best_b = (int)b;
                best_i = (int)i;
                best_len = fp_len(sb, m);
                best_app = app;
            }
        }
    }
    s->fp_buf = (int16_t)best_b;
    s->fp_item = (int16_t)best_i;
}

/* Derives what the loader needs: transaction or packet rule, directions, fast pattern. */
static int finish_sig(struct parse_ctx *pc)
{
    struct sig *s = pc->s;
    if (s->info.sid == 0) {
        vg_errbuf_set(pc->errbuf, "no sid");
        return -1;
    }
    if (s->info.msg == NULL && (s->info.msg = strdup("")) == NULL)
        return -1;
    uint8_t buf_dirs = 3;
    int file_rule = detect_sig_is_file(s); /* files have their own directions */
    for (unsigned k = 0; k < s->npc; k++)
        s->has_dsize |= s->pc[k].type == PC_DSIZE;
    for (unsigned b = 0; b < s->nbufs; b++) {
        const struct detect_buffer_info *bi = detect_buffer_info(s->bufs[b].id);
        if (s->bufs[b].n == 0) {
            if (s->bufs[b].id != DB_PAYLOAD) {
                vg_errbuf_set(pc->errbuf, "buffer %s has no content to match", bi->name);
                return -1;
            }
            continue;
        }
        if (s->bufs[b].id == DB_PAYLOAD || s->bufs[b].id == DB_BASE64_DATA ||
            s->bufs[b].id == DB_FILE_NAME || s->bufs[b].id == DB_FILE_MAGIC) {
            s->has_payload |= s->bufs[b].id == DB_PAYLOAD;
            continue;
        }
        s->is_tx = 1;
        if (!file_rule)
            buf_dirs &= bi->dirs;
        if (bi->app_proto != APP_UNKNOWN) {
            if (s->app_proto != APP_UNKNOWN && s->app_proto != bi->app_proto) {
                vg_errbuf_set(pc->errbuf, "%s cannot be used in a %s rule", bi->name,
                              app_proto_name(s->app_proto));
                return -1;
            }
            s->app_proto = bi->app_proto;
            if (s->proto == SP_IP && bi->app_proto != APP_DNS)
                s->proto = SP_TCP;
        }
    }
    if (buf_dirs == 0) {
        /* Buffers of both sides (a request and a response buffer) in one rule. */
        buf_dirs = 3;
    }
    s->dirs = buf_dirs;
    if (s->flow & FK_TOSERVER)
        s->dirs &= 1;
    if (s->flow & FK_TOCLIENT)
        s->dirs &= 2;
    if (s->dirs == 0) {
        vg_errbuf_set(pc->errbuf, "flow direction contradicts the buffers used");
        return -1;
    }
    for (unsigned i = 0; i < s->nfb; i++)
        if (s->fb[i].cmd == BIT_ISSET || s->fb[i].cmd == BIT_ISNOTSET)
            s->uses_flowbits = 1;
    if ((s->flow & FK_ONLY_STREAM) && s->proto != SP_TCP && s->proto != SP_IP) {
        vg_errbuf_set(pc->errbuf, "only_stream on a non-TCP rule");
        return -1;
    }
    /* Classification: priority from the classtype unless the rule sets one. */
    if (s->info.classtype != NULL) {
        const struct detect_class *c = detect_class_lookup(pc->e, s->info.classtype);
        if (c == NULL && pc->e->nclasses > 0) {
            vg_errbuf_set(pc->errbuf, "unknown classtype '%s'", s->info.classtype);
            return -1;
        }
        if (c != NULL) {
            s->info.category = c->desc;
            if (s->info.priority == 0)
                s->info.priority = c->priority;
        }
    }
    if (s->info.priority == 0)
        s->info.priority = 3;
    if (detect_file_finish_sig(s, pc->errbuf) < 0)
        return -1;
    choose_fast_pattern(s);
    return 0;
}

struct sig *detect_parse_rule(struct detect_engine *e, const char *text, const char *file, int line,
                              char *errbuf, char *unsupported, size_t unsupported_len)
{
    unsupported[0] = '\0';
    char *copy = strdup(text);
    struct sig *s = calloc(1, sizeof(*s));
    if (copy == NULL || s == NULL) {
        free(copy);
        free(s);
        vg_errbuf_set(errbuf, "out of memory");
        return NULL;
    }
    s->info.gid = 1;
    s->line = line;
    s->file = strdup(file ? file : "");
    struct parse_ctx pc = {e, s, -1, -1, -1, 0, {{0}}, 0, errbuf, unsupported, unsupported_len};

    char *open = strchr(copy, '(');
    char *close = strrchr(copy, ')');
    if (open == NULL || close == NULL || close < open) {
        vg_errbuf_set(errbuf, "no option list in parentheses");
        goto fail;
    }
    *open = '\0';
    *close = '\0';
    if (*parse_trim(close + 1) != '\0') {
        vg_errbuf_set(errbuf, "text after the option list");
        goto fail;
    }

    /* Options first: the sid is needed in every later message. */
    char *opts[MAX_OPTS];
    unsigned nopts;
    int rc = split_options(open + 1, opts, MAX_OPTS, &nopts);
    if (rc == -1) {
        vg_errbuf_set(errbuf, "too many options");
        goto fail;
    }
    for (unsigned i = 0; i < nopts; i++) {
        if (strncmp(opts[i], "sid", 3) == 0) {
            char *colon = strchr(opts[i], ':');
            if (colon && parse_trim(opts[i])[3] == ':') {
                char *end;
                long v = strtol(parse_trim(colon + 1), &end, 10);
                if (*end == '\0' && v > 0 && v <= UINT32_MAX)
                    s->info.sid = (uint32_t)v;
            }
        }
    }

    char *hp = copy;
    char *tok[8];
    unsigned ntok = 0;
    char *t;
    while (ntok < 8 && (t = next_token(&hp)) != NULL)
        tok[ntok++] = t;
    if (ntok != 7) {
        vg_errbuf_set(errbuf,
                      "header needs 7 fields (action proto src sport dir dst dport), "
                      "got %u",
                      ntok);
        goto fail;
    }
    if (parse_action(s, tok[0]) < 0) {
        vg_errbuf_set(errbuf, "unknown action '%s'", tok[0]);
        goto fail;
    }
    if (parse_proto(&pc, tok[1]) < 0)
        goto fail;
    if (strcmp(tok[4], "<>") == 0)
        s->bidir = 1;
    else if (strcmp(tok[4], "->") != 0) {
        vg_errbuf_set(errbuf, "direction must be -> or <>, got '%s'", tok[4]);
        goto fail;
    }
    char aerr[VG_ERRBUF_SIZE];
    if ((s->src = detect_addr_parse(&e->vars, tok[2], aerr)) == NULL ||
        (s->dst = detect_addr_parse(&e->vars, tok[5], aerr)) == NULL ||
        (s->sp = detect_port_parse(&e->vars, tok[3], aerr)) == NULL ||
        (s->dp = detect_port_parse(&e->vars, tok[6], aerr)) == NULL) {
        vg_errbuf_set(errbuf, "%s", aerr);
        goto fail;
    }

    for (unsigned i = 0; i < nopts; i++) {
        char *name = opts[i], *value = NULL;
        char *colon = strchr(name, ':');
        if (colon != NULL) {
            *colon = '\0';
            value = parse_trim(colon + 1);
        }
        name = parse_trim(name);
        int is_mod;
        int buf = detect_buffer_lookup(name, &is_mod);
        if (buf >= 0 && value == NULL) {
            if (buffer_keyword(&pc, buf, is_mod, name) < 0)
                goto fail;
            continue;
        }
        kw_fn fn = find_keyword(name);
        if (fn == NULL) {
            snprintf(unsupported, unsupported_len, "%s", name);
            vg_errbuf_set(errbuf, "unsupported keyword '%s'", name);
            goto fail;
        }
        if (fn(&pc, value) < 0)
            goto fail;
    }
    if (finish_sig(&pc) < 0)
        goto fail;
    free(copy);
    return s;
fail:
    free(copy);
    detect_sig_free(s);
    return NULL;
}

void detect_sig_free(struct sig *s)
{
    if (s == NULL)
        return;
    for (unsigned b = 0; b < s->nbufs; b++) {
        for (unsigned i = 0; i < s->bufs[b].n; i++) {
            struct sm *m = &s->bufs[b].items[i];
            if (m->type == SM_CONTENT)
                free(m->c.pat);
            else if (m->type == SM_PCRE)
                detect_pcre_free(&m->p);
        }
        free(s->bufs[b].items);
    }
    free(s->bufs);
    free(s->pc);
    free(s->fb);
    free(s->xb);
    free(s->fi);
    free(s->thr);
    free(s->dfilter);
    detect_geo_free(s);
    detect_sig_file_free(s->fl);
    for (struct sig_suppress *x = s->suppress, *nx; x != NULL; x = nx) {
        nx = x->next;
        free(x);
    }
    free((char *)s->info.msg);
    free((char *)s->info.classtype);
    free((char *)s->info.metadata);
    free(s->file);
    free(s);
}
