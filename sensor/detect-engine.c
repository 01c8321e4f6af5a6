/* detect-engine.c: loads a ruleset into an engine, and the per-thread contexts that inspect with
 * it. */
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
static void drop_duplicates(struct detect_engine *e, struct detect_load_report *rep, FILE *errors)
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
        const struct prefilter *pf = &e->pf[b];
        hs_database_t *dbs[2 * 2 * PF_GROUPS + 1];
        unsigned n = 0;
        for (unsigned d = 0; d < 2; d++) {
            for (unsigned g = 0; g < PF_GROUPS; g++) {
                dbs[n++] = pf->d[d][g].lit;
                dbs[n++] = pf->d[d][g].re;
            }
        }
        dbs[n++] = pf->pcre;
        for (unsigned k = 0; k < n; k++) {
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
                                         struct detect_load_report *rep, FILE *errors, char *errbuf)
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
            e->file_magic |= detect_sig_uses_magic(e->sigs[i]);
            continue;
        }
        if (e->sigs[i]->nbufs == 0 ||
            (e->sigs[i]->fp_buf < 0 && !e->sigs[i]->has_payload && !e->sigs[i]->is_tx)) {
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

unsigned detect_engine_rule_count(const struct detect_engine *e)
{
    return e->nsigs;
}

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

uint16_t detect_app_proto_id(const char *name)
{
    return (uint16_t)app_proto_lookup(name);
}
const char *detect_app_proto_name(uint16_t id)
{
    return app_proto_name(id);
}

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
    t->cand_tmp = malloc(n * sizeof(*t->cand_tmp));
    t->txmark = calloc(n, sizeof(*t->txmark));
    t->pkt_cand = malloc(n * sizeof(*t->pkt_cand));
    t->rs = calloc(n, sizeof(*t->rs));
    unsigned maxpcre = 1;
    for (unsigned b = 0; b < DB__COUNT; b++)
        maxpcre = VG_MAX(maxpcre, e->pf[b].npcre);
    t->pcre_hit = calloc(maxpcre, 1);
    t->pcre_cap = maxpcre;
    t->md = pcre2_match_data_create(32, NULL);
    t->mctx = pcre2_match_context_create(NULL);
    t->jit = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
    if (!t->mark || !t->alerted || !t->cand || !t->cand_tmp || !t->txmark || !t->pkt_cand ||
        !t->rs || !t->pcre_hit || !t->md || !t->mctx || !t->jit)
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
    free(t->cand_tmp);
    free(t->txmark);
    free(t->pkt_cand);
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

struct detect_engine *detect_thread_engine(struct detect_thread *t)
{
    return t->e;
}

int detect_wants_stream(const struct detect_thread *t)
{
    return !detect_prefilter_empty(t->e, DB_PAYLOAD);
}

uint32_t detect_stream_lookback(const struct detect_thread *t)
{
    return t->e->stream_lookback;
}

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
