/* detect-engine.c: loads a ruleset and inspects packets, stream data and transactions with it. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "detect-internal.h"
#include "vigil/enrich.h"

#define MAX_RULE_LEN (256 * 1024)

/* ---- Loading ---- */

/* Finds "sid:N" in a rule's text for messages about rules that did not parse. */
static uint32_t rule_sid(const char *text)
{
    int inq = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p == '"')
            inq = !inq;
        if (!inq && (p == text || p[-1] == ';' || p[-1] == ' ' || p[-1] == '(') &&
            strncmp(p, "sid", 3) == 0) {
            const char *q = p + 3;
            while (*q == ' ')
                q++;
            if (*q == ':')
                return (uint32_t)strtoul(q + 1, NULL, 10);
        }
    }
    return 0;
}

static void count_unsupported(struct detect_load_report *rep, const char *kw)
{
    for (unsigned i = 0; i < rep->n_unsupported_kw; i++) {
        if (strcmp(rep->unsupported_by_kw[i].keyword, kw) == 0) {
            rep->unsupported_by_kw[i].rules++;
            return;
        }
    }
    if (rep->n_unsupported_kw < VG_ARRAY_LEN(rep->unsupported_by_kw)) {
        snprintf(rep->unsupported_by_kw[rep->n_unsupported_kw].keyword,
                 sizeof(rep->unsupported_by_kw[0].keyword), "%.47s", kw);
        rep->unsupported_by_kw[rep->n_unsupported_kw++].rules = 1;
    }
}

static int add_sig(struct detect_engine *e, struct sig *s)
{
    if ((e->nsigs & (e->nsigs - 1)) == 0) {
        unsigned cap = e->nsigs ? e->nsigs * 2 : 64;
        struct sig **v = realloc(e->sigs, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        e->sigs = v;
    }
    e->sigs[e->nsigs++] = s;
    return 0;
}

/* Reads one rule file; rules spanning lines end in a backslash. */
static int load_file(struct detect_engine *e, const char *path, struct detect_load_report *rep,
                     FILE *errors, char *errbuf)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        vg_errbuf_set(errbuf, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL, *rule = NULL;
    size_t cap = 0, rlen = 0, rcap = 0;
    ssize_t n;
    int lineno = 0, start_line = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        int cont = n > 0 && line[n - 1] == '\\';
        if (cont)
            line[--n] = '\0';
        if (rlen == 0) {
            char *t = line;
            while (isspace((unsigned char)*t))
                t++;
            if (*t == '\0' || *t == '#') {
                continue;
            }
            start_line = lineno;
        }
        if (rlen + (size_t)n + 2 > MAX_RULE_LEN) {
            fprintf(errors, "%s:%d: rule longer than %d bytes, skipped\n", path, start_line,
                    MAX_RULE_LEN);
            rep->failed++;
            rlen = 0;
            continue;
        }
        if (rlen + (size_t)n + 2 > rcap) {
            rcap = (rlen + (size_t)n + 2) * 2;
            char *r = realloc(rule, rcap);
            if (r == NULL)
                break;
            rule = r;
        }
        memcpy(rule + rlen, line, (size_t)n);
        rlen += (size_t)n;
        rule[rlen] = '\0';
        if (cont)
            continue;
        char err[VG_ERRBUF_SIZE], unsup[64];
        struct sig *s = detect_parse_rule(e, rule, path, start_line, err, unsup, sizeof(unsup));
        if (s == NULL) {
            uint32_t sid = rule_sid(rule);
            if (sid)
                fprintf(errors, "%s:%d: sid %u: %s\n", path, start_line, sid, err);
            else
                fprintf(errors, "%s:%d: %s\n", path, start_line, err);
            if (unsup[0]) {
                rep->unsupported++;
                count_unsupported(rep, unsup);
            } else {
                rep->failed++;
            }
        } else if (add_sig(e, s) < 0) {
            detect_sig_free(s);
            break;
        }
        rlen = 0;
    }
    if (rlen > 0) {
        fprintf(errors, "%s:%d: rule ends with a continuation line\n", path, start_line);
        rep->failed++;
    }
    free(line);
    free(rule);
    fclose(f);
    return 0;
}

/* Evaluation order: pass rules first, flowbit setters before readers, then priority, sid. */
static int sig_rank(const struct sig *s)
{
    int sets = 0;
    for (unsigned i = 0; i < s->nfb; i++)
        if (s->fb[i].cmd == BIT_SET || s->fb[i].cmd == BIT_UNSET || s->fb[i].cmd == BIT_TOGGLE)
            sets = 1;
    if (sets && !s->uses_flowbits)
        return 0;
    if (sets)
        return 1;
    if (s->uses_flowbits)
        return 3;
    return 2;
}

static int cmp_sig(const void *a, const void *b)
{
    const struct sig *x = *(const struct sig *const *)a, *y = *(const struct sig *const *)b;
    int px = x->action == ACT_PASS, py = y->action == ACT_PASS;
    if (px != py)
        return py - px;
    int rx = sig_rank(x), ry = sig_rank(y);
    if (rx != ry)
        return rx - ry;
    if (x->info.priority != y->info.priority)
        return x->info.priority - y->info.priority;
    if (x->info.gid != y->info.gid)
        return x->info.gid < y->info.gid ? -1 : 1;
    return x->info.sid < y->info.sid ? -1 : x->info.sid > y->info.sid;
}

static int cmp_gid_sid_rev(const void *a, const void *b)
{
    const struct sig *x = *(const struct sig *const *)a, *y = *(const struct sig *const *)b;
    if (x->info.gid != y->info.gid)
        return x->info.gid < y->info.gid ? -1 : 1;
    if (x->info.sid != y->info.sid)
        return x->info.sid < y->info.sid ? -1 : 1;
    return x->info.rev > y->info.rev ? -1 : x->info.rev < y->info.rev; /* highest rev first */
}

/* Keeps one rule per gid:sid, the highest rev, as Suricata does. */
static void drop_duplicates(struct detect_engine *e, struct detect_load_report *rep,
                            FILE *errors)
{
    if (e->nsigs < 2)
        return;
    if (e->nsigs > 1)
        qsort(e->sigs, e->nsigs, sizeof(*e->sigs), cmp_gid_sid_rev);
    unsigned o = 1;
    for (unsigned i = 1; i < e->nsigs; i++) {
        struct sig *s = e->sigs[i], *kept = e->sigs[o - 1];
        if (s->info.gid == kept->info.gid && s->info.sid == kept->info.sid) {
            fprintf(errors, "%s:%d: sid %u: duplicate of %s:%d (rev %u kept)\n", s->file, s->line,
                    s->info.sid, kept->file, kept->line, kept->info.rev);
            rep->duplicates++;
            detect_sig_free(s);
            continue;
        }
        e->sigs[o++] = s;
    }
    e->nsigs = o;
}

static double now_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int alloc_scratch(struct detect_engine *e, char *errbuf)
{
    for (unsigned b = 0; b < DB__COUNT; b++) {
        hs_database_t *dbs[3] = {e->pf[b].lit, e->pf[b].re, e->pf[b].pcre};
        for (int k = 0; k < 3; k++) {
            if (dbs[k] && hs_alloc_scratch(dbs[k], &e->scratch) != HS_SUCCESS) {
                vg_errbuf_set(errbuf, "Hyperscan: cannot allocate scratch space");
                return -1;
            }
        }
    }
    return 0;
}

static uint64_t cfg_uint(const struct config *c, const char *key, uint64_t def, uint64_t max)
{
    uint64_t v;
    if (c == NULL || config_get_uint(c, key, def, max, &v, NULL) < 0)
        return def;
    return v;
}

struct detect_engine *detect_engine_load(const struct detect_config *c,
                                         struct detect_load_report *rep, FILE *errors,
                                         char *errbuf)
{
    memset(rep, 0, sizeof(*rep));
    if (hs_valid_platform() != HS_SUCCESS) {
        vg_errbuf_set(errbuf, "Hyperscan does not support this CPU (it needs SSSE3)");
        return NULL;
    }
    struct detect_engine *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        vg_errbuf_set(errbuf, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&e->xbits_lock, NULL);
    e->vars.cfg = c->cfg;
    e->enrich = c->enrich;
    e->load_errors = errors;
    e->profiling = c->profiling;
    e->stream_lookback = (uint32_t)cfg_uint(c->cfg, "detect.stream-lookback", 4096, 65536);
    e->pcre_match_limit = (uint32_t)cfg_uint(c->cfg, "detect.pcre.match-limit", 3500, 1u << 30);
    e->pcre_depth_limit =
        (uint32_t)cfg_uint(c->cfg, "detect.pcre.match-limit-recursion", 1500, 1u << 30);
    e->inspection_budget =
        (uint32_t)cfg_uint(c->cfg, "detect.inspection-recursion-limit", 3000, 1u << 30);
    if (c->cfg != NULL &&
        config_get_bool(c->cfg, "detect.pcre-hyperscan", 0, &e->pcre_hyperscan, errbuf) < 0)
        goto fail;
    if ((e->thr = detect_thr_new()) == NULL) {
        vg_errbuf_set(errbuf, "out of memory");
        goto fail;
    }
    double t0 = now_secs();
    if (c->classification_file != NULL &&
        detect_load_classification(e, c->classification_file, errbuf) < 0)
        goto fail;
    for (unsigned i = 0; i < c->nrule_files; i++)
        if (load_file(e, c->rule_files[i], rep, errors, errbuf) < 0)
            goto fail;
    drop_duplicates(e, rep, errors);
    if (e->nsigs > 1)
        qsort(e->sigs, e->nsigs, sizeof(*e->sigs), cmp_sig);
    for (unsigned i = 0; i < e->nsigs; i++) {
        e->sigs[i]->idx = i;
        e->ngeo_rules += e->sigs[i]->ngeo > 0;
        if (e->sigs[i]->is_file) {
            /* Inspected by detect_file on each file, never per packet. */
            uint32_t *v = realloc(e->file_rules, (e->nfile_rules + 1) * sizeof(*v));
            if (v == NULL)
                goto fail;
            e->file_rules = v;
            e->file_rules[e->nfile_rules++] = i;
            continue;
        }
        if (e->sigs[i]->nbufs == 0 || (e->sigs[i]->fp_buf < 0 && !e->sigs[i]->has_payload &&
                                        !e->sigs[i]->is_tx)) {
            uint32_t *v = realloc(e->pkt_rules, (e->npkt_rules + 1) * sizeof(*v));
            if (v == NULL)
                goto fail;
            e->pkt_rules = v;
            e->pkt_rules[e->npkt_rules++] = i;
        }
    }
    rep->loaded = e->nsigs;
    rep->failed += e->load_bad_lines; /* bad hash-list lines, as bad threshold-file lines */
    e->load_errors = NULL;
    const char *tf = c->cfg ? config_get(c->cfg, "threshold-file") : NULL;
    if (tf != NULL && tf[0] != '\0') {
        int bad = detect_threshold_file_apply(e, tf, errors, errbuf);
        if (bad < 0)
            goto fail;
        rep->failed += (unsigned)bad;
    }
    if (detect_index_build(e) < 0) {
        vg_errbuf_set(errbuf, "out of memory indexing rules");
        goto fail;
    }
    double t1 = now_secs();
    rep->parse_secs = t1 - t0;
    if (detect_prefilter_build(e, c->cache_dir, rep, errbuf) < 0 || alloc_scratch(e, errbuf) < 0)
        goto fail;
    rep->compile_secs = now_secs() - t1;
    return e;
fail:
    detect_engine_free(e);
    return NULL;
}

void detect_engine_free(struct detect_engine *e)
{
    if (e == NULL)
        return;
    for (unsigned i = 0; i < e->nsigs; i++)
        detect_sig_free(e->sigs[i]);
    free(e->sigs);
    free(e->pkt_rules);
    free(e->file_rules);
    detect_hashlists_free(e);
    detect_index_free(e);
    detect_prefilter_free(e);
    detect_vars_free(&e->vars);
    for (unsigned i = 0; i < e->nclasses; i++) {
        free(e->classes[i].name);
        free(e->classes[i].desc);
    }
    free(e->classes);
    detect_registry_free(&e->flowbits);
    detect_registry_free(&e->xbits);
    detect_registry_free(&e->flowints);
    detect_thr_free(e->thr);
    detect_xbits_free(e);
    pthread_mutex_destroy(&e->xbits_lock);
    if (e->scratch)
        hs_free_scratch(e->scratch);
    free(e);
}

unsigned detect_engine_rule_count(const struct detect_engine *e) { return e->nsigs; }

const struct detect_sig_info *detect_engine_sig(const struct detect_engine *e, unsigned i)
{
    return i < e->nsigs ? &e->sigs[i]->info : NULL;
}

void detect_report_print(const struct detect_load_report *r, FILE *out)
{
    fprintf(out,
            "vigil-sensor: rules: %u loaded, %u failed, %u unsupported, %u duplicates; "
            "parsed in %.2f s, databases %s in %.2f s\n",
            r->loaded, r->failed, r->unsupported, r->duplicates, r->parse_secs,
            r->cache_hit ? "loaded from the cache" : "compiled", r->compile_secs);
    if (r->n_unsupported_kw > 0) {
        fputs("vigil-sensor: unsupported by keyword:", out);
        for (unsigned i = 0; i < r->n_unsupported_kw; i++)
            fprintf(out, " %s (%u)", r->unsupported_by_kw[i].keyword,
                    r->unsupported_by_kw[i].rules);
        fputc('\n', out);
    }
}

uint16_t detect_app_proto_id(const char *name) { return (uint16_t)app_proto_lookup(name); }
const char *detect_app_proto_name(uint16_t id) { return app_proto_name(id); }

/* ---- Threads ---- */

struct detect_thread *detect_thread_new(struct detect_engine *e, char *errbuf)
{
    struct detect_thread *t = calloc(1, sizeof(*t));
    if (t == NULL)
        goto oom;
    t->e = e;
    unsigned n = e->nsigs ? e->nsigs : 1;
    t->mark = calloc(n, sizeof(*t->mark));
    t->alerted = calloc(n, sizeof(*t->alerted));
    t->cand = malloc(n * sizeof(*t->cand));
    t->rs = calloc(n, sizeof(*t->rs));
    unsigned maxpcre = 1;
    for (unsigned b = 0; b < DB__COUNT; b++)
        maxpcre = VG_MAX(maxpcre, e->pf[b].npcre);
    t->pcre_hit = calloc(maxpcre, 1);
    t->pcre_cap = maxpcre;
    t->md = pcre2_match_data_create(32, NULL);
    t->mctx = pcre2_match_context_create(NULL);
    t->jit = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
    if (!t->mark || !t->alerted || !t->cand || !t->rs || !t->pcre_hit || !t->md || !t->mctx ||
        !t->jit)
        goto oom;
    pcre2_set_match_limit(t->mctx, e->pcre_match_limit);
    pcre2_set_depth_limit(t->mctx, e->pcre_depth_limit);
    pcre2_jit_stack_assign(t->mctx, NULL, t->jit);
    if (e->scratch && hs_clone_scratch(e->scratch, &t->scratch) != HS_SUCCESS)
        goto oom;
    if (e->ngeo_rules > 0 && e->enrich != NULL &&
        (t->geo_cache = enrich_cache_new(e->enrich, 0)) == NULL)
        goto oom;
    return t;
oom:
    vg_errbuf_set(errbuf, "detect: out of memory for a thread context");
    detect_thread_free(t);
    return NULL;
}

void detect_thread_free(struct detect_thread *t)
{
    if (t == NULL)
        return;
    free(t->mark);
    free(t->alerted);
    free(t->cand);
    free(t->rs);
    free(t->pcre_hit);
    free(t->xfbuf);
    free(t->b64buf);
    pcre2_match_data_free(t->md);
    pcre2_match_context_free(t->mctx);
    pcre2_jit_stack_free(t->jit);
    if (t->scratch)
        hs_free_scratch(t->scratch);
    enrich_cache_free(t->geo_cache);
    free(t);
}

struct detect_engine *detect_thread_engine(struct detect_thread *t) { return t->e; }

int detect_wants_stream(const struct detect_thread *t)
{
    return t->e->pf[DB_PAYLOAD].npat > 0 || t->e->pf[DB_PAYLOAD].nalways > 0;
}

uint32_t detect_stream_lookback(const struct detect_thread *t) { return t->e->stream_lookback; }

void detect_thread_stats(const struct detect_thread *t, struct detect_stats *out)
{
    const struct detect_stats *s = &t->st;
    out->alerts += VG_CNT_GET(s->alerts);
    out->packets_inspected += VG_CNT_GET(s->packets_inspected);
    out->streams_inspected += VG_CNT_GET(s->streams_inspected);
    out->txs_inspected += VG_CNT_GET(s->txs_inspected);
    out->prefilter_hits += VG_CNT_GET(s->prefilter_hits);
    out->rules_checked += VG_CNT_GET(s->rules_checked);
    out->pcre_limit_hits += VG_CNT_GET(s->pcre_limit_hits);
    out->suppressed += VG_CNT_GET(s->suppressed);
}

void detect_thread_rule_stats_add(const struct detect_thread *t, struct detect_rule_stats *out)
{
    for (unsigned i = 0; i < t->e->nsigs; i++) {
        out[i].checks += VG_CNT_GET(t->rs[i].checks);
        out[i].matches += VG_CNT_GET(t->rs[i].matches);
        out[i].ticks += VG_CNT_GET(t->rs[i].ticks);
    }
}

/* ---- Matching ---- */

static int range_ok(const struct sm_range *r, uint64_t v)
{
    switch (r->op) {
    case RANGE_EQ: return v == r->a;
    case RANGE_NE: return v != r->a;
    case RANGE_LT: return v < r->a;
    case RANGE_GT: return v > r->a;
    case RANGE_LE: return v <= r->a;
    case RANGE_GE: return v >= r->a;
    case RANGE_BETWEEN: return v > r->a && v < r->b;
    default: return 0;
    }
}

/* The IPv4 header of p (for id, fragment bits and options), or NULL. */
static const uint8_t *ipv4_hdr(const struct vg_packet *p)
{
    return p->ip_ver == 4 && p->l3_off + 20 <= p->caplen ? p->data + p->l3_off : NULL;
}

static int ipopt_present(const struct vg_packet *p, uint8_t type)
{
    const uint8_t *h = ipv4_hdr(p);
    if (h == NULL)
        return 0;
    uint32_t hlen = (uint32_t)(h[0] & 15) * 4;
    if (hlen <= 20 || p->l3_off + hlen > p->caplen)
        return 0;
    if (type == 255)
        return 1;
    for (uint32_t i = 20; i < hlen;) {
        uint8_t t = h[i];
        if (t == type)
            return 1;
        if (t == 0)
            return 0;
        if (t == 1) {
            i++;
            continue;
        }
        if (i + 1 >= hlen || h[i + 1] < 2)
            return 0;
        i += h[i + 1];
    }
    return 0;
}

static int flags_ok(const struct pkt_check *c, uint8_t flags)
{
    uint8_t f = flags & c->mask;
    switch (c->mode) {
    case '+': return (f & c->match) == c->match;
    case '*': return (f & c->match) != 0;
    case '!': return (f & c->match) == 0;
    default: return c->match == 0 ? f == 0 : f == c->match;
    }
}

static int pkt_checks(const struct sig *s, const struct vg_packet *p, struct flow *f, int stream)
{
    for (unsigned i = 0; i < s->npc; i++) {
        const struct pkt_check *c = &s->pc[i];
        int ok = 1;
        switch (c->type) {
        case PC_IP_PROTO:
            ok = range_ok(&c->r, p->proto);
            break;
        case PC_TTL:
            ok = range_ok(&c->r, p->ttl);
            break;
        case PC_FLAGS:
            ok = p->proto == 6 && flags_ok(c, p->tcp_flags);
            break;
        case PC_ITYPE:
            ok = (p->proto == 1 || p->proto == 58) && range_ok(&c->r, p->icmp_type);
            break;
        case PC_ICODE:
            ok = (p->proto == 1 || p->proto == 58) && range_ok(&c->r, p->icmp_code);
            break;
        case PC_DSIZE:
            ok = !stream && range_ok(&c->r, p->payload_len);
            break;
        case PC_ICMP_ID:
        case PC_ICMP_SEQ: {
            ok = (p->proto == 1 || p->proto == 58) && p->l4_off + 8 <= p->caplen &&
                 (p->icmp_type == 0 || p->icmp_type == 8 || p->icmp_type == 128 ||
                  p->icmp_type == 129);
            if (ok)
                ok = range_ok(&c->r, vg_be16(p->data + p->l4_off + (c->type == PC_ICMP_ID ? 4 : 6)));
            break;
        }
        case PC_SEQ:
            ok = p->proto == 6 && range_ok(&c->r, p->tcp_seq);
            break;
        case PC_ACK:
            ok = p->proto == 6 && range_ok(&c->r, p->tcp_ack);
            break;
        case PC_WINDOW:
            ok = p->proto == 6 && range_ok(&c->r, p->tcp_win);
            break;
        case PC_IPID: {
            const uint8_t *h = ipv4_hdr(p);
            ok = h && range_ok(&c->r, vg_be16(h + 4));
            break;
        }
        case PC_TOS:
            ok = range_ok(&c->r, p->ip_tos);
            break;
        case PC_SAMEIP:
            ok = memcmp(&p->src, &p->dst, sizeof(p->src)) == 0;
            break;
        case PC_FRAGBITS: {
            const uint8_t *h = ipv4_hdr(p);
            struct pkt_check fc = *c;
            fc.mask = 0xff;
            ok = h && flags_ok(&fc, h[6] & 0xe0);
            break;
        }
        case PC_IPOPTS:
            ok = ipopt_present(p, c->match);
            break;
        case PC_APP_PROTO:
            /* As Suricata, a negation only matches once detection decided the protocol. */
            ok = f != NULL && (f->app_proto == c->r.a) != c->negate &&
                 !(c->negate && c->r.a != APP_UNKNOWN && f->app_proto == APP_UNKNOWN);
            break;
        case PC_STREAM_SIZE: {
            /* Bytes seen per side (approximated by the flow's byte counters). */
            if (f == NULL || p->proto != 6) {
                ok = 0;
                break;
            }
            uint64_t srv = f->bytes[FLOW_DIR_TOCLIENT], cli = f->bytes[FLOW_DIR_TOSERVER];
            switch (c->which) {
            case 0: ok = range_ok(&c->r, srv); break;
            case 1: ok = range_ok(&c->r, cli); break;
            case 2: ok = range_ok(&c->r, srv) && range_ok(&c->r, cli); break;
            default: ok = range_ok(&c->r, srv) || range_ok(&c->r, cli); break;
            }
            break;
        }
        default:
            break;
        }
        if (!ok)
            return 0;
    }
    return 1;
}

static int proto_ok(const struct sig *s, const struct vg_packet *p)
{
    switch (s->proto) {
    case SP_TCP: return p->proto == 6;
    case SP_UDP: return p->proto == 17;
    case SP_ICMP: return p->proto == 1 || p->proto == 58;
    case SP_ICMPV4: return p->proto == 1;
    case SP_ICMPV6: return p->proto == 58;
    case SP_SCTP: return p->proto == 132;
    default: return p->ip_ver != 0;
    }
}

static int addrs_ok(const struct sig *s, const struct vg_packet *p)
{
    int ports = (p->flags & VG_PKT_HAS_PORTS) != 0;
    if (!ports && (!s->sp->any || !s->dp->any))
        return 0;
    if (detect_addr_match(s->src, p->ip_ver, &p->src) && detect_addr_match(s->dst, p->ip_ver, &p->dst) &&
        (!ports || (detect_port_match(s->sp, p->sp) && detect_port_match(s->dp, p->dp))))
        return 1;
    return s->bidir && detect_addr_match(s->src, p->ip_ver, &p->dst) &&
           detect_addr_match(s->dst, p->ip_ver, &p->src) &&
           (!ports || (detect_port_match(s->sp, p->dp) && detect_port_match(s->dp, p->sp)));
}

/* Header, flow and packet keywords of s against packet p. */
static int header_ok(const struct sig *s, const struct vg_packet *p, struct flow *f, int dir,
                     int stream)
{
    if (!proto_ok(s, p))
        return 0;
    if (s->app_proto != APP_UNKNOWN && (f == NULL || f->app_proto != s->app_proto))
        return 0;
    uint16_t fl = s->flow;
    if (fl) {
        if (fl & (FK_TOSERVER | FK_TOCLIENT | FK_ESTABLISHED)) {
            if (f == NULL)
                return 0;
        }
        if ((fl & FK_TOSERVER) && dir != FLOW_DIR_TOSERVER)
            return 0;
        if ((fl & FK_TOCLIENT) && dir != FLOW_DIR_TOCLIENT)
            return 0;
        /* As Suricata: a TCP session stays established for rules while it closes. */
        int est = f != NULL && (f->state == FLOW_STATE_ESTABLISHED ||
                                (f->state == FLOW_STATE_CLOSED && (f->flags & FLOW_F_ESTABLISHED)));
        if ((fl & FK_ESTABLISHED) && !est)
            return 0;
        if ((fl & FK_NOT_ESTABLISHED) && est)
            return 0;
        if ((fl & FK_ONLY_STREAM) && !stream)
            return 0;
        if ((fl & FK_NO_STREAM) && stream)
            return 0;
        int frag = (p->flags & VG_PKT_REASSEMBLED) != 0;
        if ((fl & FK_ONLY_FRAG) && !frag)
            return 0;
        if ((fl & FK_NO_FRAG) && frag)
            return 0;
    }
    return addrs_ok(s, p) && pkt_checks(s, p, f, stream);
}

/* Starts a new alert stamp unless p is the packet the current one belongs to (the stream and
 * the packet inspection of one packet share it). Pseudo packets (pcap_cnt 0) always get one. */
static void stamp_packet(struct detect_thread *t, const struct vg_packet *p)
{
    if (p->pcap_cnt != 0 && p->pcap_cnt == t->stamp_cnt)
        return;
    t->stamp_cnt = p->pcap_cnt;
    if (++t->pkt_stamp == 0) {
        memset(t->alerted, 0, t->e->nsigs * sizeof(*t->alerted));
        t->pkt_stamp = 1;
    }
}

static void raise_alert(struct detect_thread *t, const struct sig *s, const struct vg_packet *p,
                        struct flow *f, int dir, int has_tx, uint64_t tx_id, int stream,
                        detect_alert_fn cb, void *ctx)
{
    /* A rule alerts once per packet (stream or packet match), once per transaction. */
    if (!has_tx) {
        if (t->alerted[s->idx] == t->pkt_stamp)
            return;
        t->alerted[s->idx] = t->pkt_stamp;
    }
    detect_bits_apply(t->e, s, f, p);
    VG_CNT_INC(t->rs[s->idx].matches);
    if (s->noalert || s->action == ACT_PASS)
        return;
    if (s->suppress != NULL && detect_suppressed(s, p)) {
        VG_CNT_INC(t->st.suppressed);
        return;
    }
    if ((s->thr || s->dfilter) && !detect_thr_check(t->e->thr, s, p)) {
        VG_CNT_INC(t->st.suppressed);
        return;
    }
    VG_CNT_INC(t->st.alerts);
    if (f != NULL)
        f->flags |= FLOW_F_ALERTED;
    struct detect_alert a = {&s->info, has_tx, tx_id, stream, t->cur_file};
    if (cb)
        cb(ctx, p, f, dir, &a);
}

/* Runs s's payload items over buf; the packet inspection and the stream share it. */
static int payload_ok(struct detect_thread *t, const struct sig *s, const uint8_t *buf,
                      uint32_t len, uint64_t base, uint32_t min_end)
{
    for (unsigned b = 0; b < s->nbufs; b++) {
        if (s->bufs[b].id != DB_PAYLOAD || s->bufs[b].n == 0)
            continue;
        struct inspect_ctx c;
        memset(&c, 0, sizeof(c));
        c.t = t;
        c.sig = s;
        c.buf_id = DB_PAYLOAD;
        c.buf = buf;
        c.len = len;
        c.base = base;
        c.min_end = min_end;
        c.budget = t->e->inspection_budget;
        if (!detect_inspect_buffer(&c, &s->bufs[b]))
            return 0;
    }
    return 1;
}

static void check_sig(struct detect_thread *t, const struct sig *s, const struct vg_packet *p,
                      struct flow *f, int dir, const uint8_t *buf, uint32_t len, uint64_t base,
                      uint32_t min_end, int stream, detect_alert_fn cb, void *ctx)
{
    VG_CNT_INC(t->rs[s->idx].checks);
    VG_CNT_INC(t->st.rules_checked);
    uint64_t t0 = t->e->profiling ? __rdtsc() : 0;
    if (header_ok(s, p, f, dir, stream) && (s->ngeo == 0 || detect_geoip_ok(t, s, p)) &&
        payload_ok(t, s, buf, len, base, min_end) && detect_bits_check(t->e, s, f, p))
        raise_alert(t, s, p, f, dir, 0, 0, stream, cb, ctx);
    if (t->e->profiling)
        VG_CNT_ADD(t->rs[s->idx].ticks, __rdtsc() - t0);
}

void detect_packet(struct detect_thread *t, const struct vg_packet *p, struct flow *f, int dir,
                   detect_alert_fn cb, void *ctx)
{
    struct detect_engine *e = t->e;
    t->gen++;
    stamp_packet(t, p);
    VG_CNT_INC(t->st.packets_inspected);
    if (p->ip_ver == 0)
        return;
    detect_index_collect(t, p);
    for (unsigned i = 0; i < t->ncand; i++) {
        const struct sig *s = e->sigs[t->cand[i]];
        if (s->is_tx || s->stream_only)
            continue;
        check_sig(t, s, p, f, dir, NULL, 0, 0, 0, 0, cb, ctx);
    }
    const uint8_t *pl = p->data + p->payload_off;
    uint32_t plen = p->payload_len;
    detect_prefilter_scan(t, DB_PAYLOAD, pl, plen);
    for (unsigned i = 0; i < t->ncand; i++) {
        const struct sig *s = e->sigs[t->cand[i]];
        if (s->is_tx || s->stream_only || (s->flow & FK_ONLY_STREAM))
            continue;
        check_sig(t, s, p, f, dir, pl, plen, 0, 0, 0, cb, ctx);
    }
}

void detect_stream(struct detect_thread *t, const struct vg_packet *p, struct flow *f, int dir,
                   const uint8_t *win, uint32_t len, uint64_t base, uint32_t new_from,
                   detect_alert_fn cb, void *ctx)
{
    struct detect_engine *e = t->e;
    t->gen++;
    stamp_packet(t, p);
    VG_CNT_INC(t->st.streams_inspected);
    detect_prefilter_scan(t, DB_PAYLOAD, win, len);
    for (unsigned i = 0; i < t->ncand; i++) {
        const struct sig *s = e->sigs[t->cand[i]];
        if (s->is_tx || s->pkt_only || (s->flow & FK_NO_STREAM))
            continue;
        /* A rule with dsize looks at packets only. */
        int packet_only = 0;
        for (unsigned k = 0; k < s->npc; k++)
            packet_only |= s->pc[k].type == PC_DSIZE;
        if (packet_only)
            continue;
        check_sig(t, s, p, f, dir, win, len, base, new_from, 1, cb, ctx);
    }
}

/* ---- Transactions ---- */

/* What the engine remembers of a transaction. */
struct tx_state {
    uint8_t scanned[DB__COUNT]; /* bit per direction: the buffer was prefiltered */
    uint32_t *done;             /* rules evaluated on this transaction */
    unsigned ndone, cdone;
    uint32_t *pending; /* candidates waiting for buffers */
    unsigned npending, cpending;
};

static int u32_has(const uint32_t *v, unsigned n, uint32_t x)
{
    for (unsigned i = 0; i < n; i++)
        if (v[i] == x)
            return 1;
    return 0;
}

static int u32_push(uint32_t **v, unsigned *n, unsigned *cap, uint32_t x)
{
    if (*n == *cap) {
        unsigned c = *cap ? *cap * 2 : 16;
        uint32_t *nv = realloc(*v, c * sizeof(*nv));
        if (nv == NULL)
            return -1;
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = x;
    return 0;
}

void detect_tx_state_free(void **state)
{
    struct tx_state *ts = *state;
    if (ts == NULL)
        return;
    free(ts->done);
    free(ts->pending);
    free(ts);
    *state = NULL;
}

/* Is buffer id of the transaction complete in direction d? */
static int buf_ready(const struct detect_tx *tx, unsigned id, int d)
{
    const struct detect_buffer_info *bi = detect_buffer_info(id);
    if (!(bi->dirs & (1u << d)))
        return 0;
    uint8_t need = bi->progress[d] ? bi->progress[d] : DETECT_PROG_COMPLETE;
    return tx->progress[d] >= need;
}

/* The direction a rule reads buffer id in. */
static int buf_dir(const struct sig *s, unsigned id, int pkt_dir)
{
    const struct detect_buffer_info *bi = detect_buffer_info(id);
    if (bi->dirs == 1)
        return FLOW_DIR_TOSERVER;
    if (bi->dirs == 2)
        return FLOW_DIR_TOCLIENT;
    if (s->dirs == 1)
        return FLOW_DIR_TOSERVER;
    if (s->dirs == 2)
        return FLOW_DIR_TOCLIENT;
    return pkt_dir;
}

/* Every buffer s reads is complete (or the transaction is final). */
static int sig_ready(const struct sig *s, const struct detect_tx *tx, int pkt_dir, int final)
{
    if (final)
        return 1;
    for (unsigned b = 0; b < s->nbufs; b++) {
        unsigned id = s->bufs[b].id;
        if (id == DB_PAYLOAD || id == DB_BASE64_DATA)
            continue;
        if (!buf_ready(tx, id, buf_dir(s, id, pkt_dir)))
            return 0;
    }
    return 1;
}

static int tx_buffers_ok(struct detect_thread *t, const struct sig *s, struct detect_tx *tx,
                         const struct vg_packet *p, int dir)
{
    for (unsigned b = 0; b < s->nbufs; b++) {
        const struct sig_buf *sb = &s->bufs[b];
        if (sb->n == 0 || sb->id == DB_BASE64_DATA)
            continue;
        struct inspect_ctx c;
        memset(&c, 0, sizeof(c));
        c.t = t;
        c.sig = s;
        c.buf_id = sb->id;
        c.budget = t->e->inspection_budget;
        if (sb->id == DB_PAYLOAD) {
            c.buf = p->data + p->payload_off;
            c.len = p->payload_len;
            if (!detect_inspect_buffer(&c, sb))
                return 0;
            continue;
        }
        int d = buf_dir(s, sb->id, dir);
        int multi = detect_buffer_info(sb->id)->multi;
        int matched = 0;
        for (unsigned idx = 0; idx < (multi ? 256u : 1u) && !matched; idx++) {
            uint32_t len = 0;
            const uint8_t *data = tx->get(tx->txp, sb->id, d, idx, &len);
            if (data == NULL) {
                if (idx > 0)
                    break;
                data = (const uint8_t *)"";
                len = 0;
            }
            /* Transformed data never takes the Hyperscan pcre shortcut (no hs_id there). */
            if (sb->transforms)
                len = detect_transform(t, sb->transforms, data, len, &data);
            c.buf = data;
            c.len = len;
            c.budget = t->e->inspection_budget;
            matched = detect_inspect_buffer(&c, sb);
        }
        if (!matched)
            return 0;
    }
    return 1;
}

void detect_tx(struct detect_thread *t, const struct vg_packet *p, struct flow *f, int dir,
               struct detect_tx *tx, int final, detect_alert_fn cb, void *ctx)
{
    struct detect_engine *e = t->e;
    struct tx_state *ts = *tx->state;
    if (ts == NULL) {
        if ((ts = calloc(1, sizeof(*ts))) == NULL)
            return;
        *tx->state = ts;
    }
    t->gen++;
    VG_CNT_INC(t->st.txs_inspected);

    /* Prefilter every buffer of this protocol that became complete, once per direction. */
    for (unsigned id = 1; id < DB__COUNT; id++) {
        const struct detect_buffer_info *bi = detect_buffer_info(id);
        if (id == DB_BASE64_DATA || (bi->app_proto != tx->app_proto && id != DB_FILE_DATA))
            continue;
        for (int d = 0; d < 2; d++) {
            if ((ts->scanned[id] >> d) & 1)
                continue;
            if (!buf_ready(tx, id, d) && !(final && (bi->dirs & (1u << d))))
                continue;
            ts->scanned[id] |= (uint8_t)(1u << d);
            const struct prefilter *pf = &e->pf[id];
            if (pf->npat == 0 && pf->nalways == 0)
                continue;
            for (unsigned idx = 0; idx < (bi->multi ? 256u : 1u); idx++) {
                uint32_t len = 0;
                const uint8_t *data = tx->get(tx->txp, id, d, idx, &len);
                if (data == NULL && idx > 0)
                    break;
                detect_prefilter_scan(t, id, data ? data : (const uint8_t *)"", data ? len : 0);
                for (unsigned i = 0; i < t->ncand; i++) {
                    uint32_t si = t->cand[i];
                    const struct sig *s = e->sigs[si];
                    if (!s->is_tx || (s->app_proto != APP_UNKNOWN && s->app_proto != tx->app_proto))
                        continue;
                    if (!u32_has(ts->done, ts->ndone, si) &&
                        !u32_has(ts->pending, ts->npending, si))
                        u32_push(&ts->pending, &ts->npending, &ts->cpending, si);
                }
            }
        }
    }

    /* Evaluate the candidates whose buffers are all there, in rule order. */
    if (ts->npending > 1) {
        for (unsigned i = 1; i < ts->npending; i++) {
            uint32_t x = ts->pending[i];
            unsigned j = i;
            while (j > 0 && ts->pending[j - 1] > x) {
                ts->pending[j] = ts->pending[j - 1];
                j--;
            }
            ts->pending[j] = x;
        }
    }
    unsigned keep = 0;
    for (unsigned i = 0; i < ts->npending; i++) {
        uint32_t si = ts->pending[i];
        const struct sig *s = e->sigs[si];
        if (!((s->dirs >> dir) & 1) || !sig_ready(s, tx, dir, final)) {
            if (!final)
                ts->pending[keep++] = si;
            continue;
        }
        u32_push(&ts->done, &ts->ndone, &ts->cdone, si);
        VG_CNT_INC(t->rs[si].checks);
        VG_CNT_INC(t->st.rules_checked);
        uint64_t t0 = e->profiling ? __rdtsc() : 0;
        if (header_ok(s, p, f, dir, 0) && (s->ngeo == 0 || detect_geoip_ok(t, s, p)) &&
            tx_buffers_ok(t, s, tx, p, dir) && detect_bits_check(e, s, f, p))
            raise_alert(t, s, p, f, dir, 1, tx->id, 0, cb, ctx);
        if (e->profiling)
            VG_CNT_ADD(t->rs[si].ticks, __rdtsc() - t0);
    }
    ts->npending = keep;
}

/* ---- For detect-file.c: the same checks and alerting as the inspections above ---- */

int detect_range_match(const struct sm_range *r, uint64_t v)
{
    return range_ok(r, v);
}

int detect_sig_header_ok(const struct sig *s, const struct vg_packet *p, struct flow *f, int dir)
{
    return header_ok(s, p, f, dir, 0);
}

int detect_sig_tx_buffers_ok(struct detect_thread *t, const struct sig *s, struct detect_tx *tx,
                             const struct vg_packet *p, int dir)
{
    return tx_buffers_ok(t, s, tx, p, dir);
}

void detect_sig_alert(struct detect_thread *t, const struct sig *s, const struct vg_packet *p,
                      struct flow *f, int dir, uint64_t tx_id, detect_alert_fn cb, void *ctx)
{
    raise_alert(t, s, p, f, dir, 1, tx_id, 0, cb, ctx);
}
