/* detect-prefilter.c: Hyperscan databases of fast patterns per buffer and direction, the scan, and
 * the on-disk cache. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "detect-internal.h"

#define CACHE_MAGIC "VIGILHS3"

/* The inputs of one database, collected before compiling. */
struct pat_list {
    char **expr;
    unsigned *flags, *ids;
    size_t *lens;
    unsigned n, cap;
};

static int pl_add(struct pat_list *l, const void *expr, size_t len, unsigned flags, unsigned id)
{
    if (l->n == l->cap) {
        unsigned cap = l->cap ? l->cap * 2 : 64;
        char **e = realloc(l->expr, cap * sizeof(*e));
        unsigned *f = realloc(l->flags, cap * sizeof(*f));
        unsigned *i = realloc(l->ids, cap * sizeof(*i));
        size_t *ln = realloc(l->lens, cap * sizeof(*ln));
        if (e)
            l->expr = e;
        if (f)
            l->flags = f;
        if (i)
            l->ids = i;
        if (ln)
            l->lens = ln;
        if (!e || !f || !i || !ln)
            return -1;
        l->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, expr, len);
    copy[len] = '\0';
    l->expr[l->n] = copy;
    l->lens[l->n] = len;
    l->flags[l->n] = flags;
    l->ids[l->n] = id;
    l->n++;
    return 0;
}

static void pl_free(struct pat_list *l)
{
    for (unsigned i = 0; i < l->n; i++)
        free(l->expr[i]);
    free(l->expr);
    free(l->flags);
    free(l->ids);
    free(l->lens);
    memset(l, 0, sizeof(*l));
}

/* pattern id -> sig lists, built as (pattern, sig) pairs then grouped. */
struct pair {
    uint32_t pat, sig;
};

static int cmp_pair(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    if (x->pat != y->pat)
        return x->pat < y->pat ? -1 : 1;
    return x->sig < y->sig ? -1 : x->sig > y->sig;
}

/* A literal seen before gets its old id, so sigs sharing a fast pattern share one entry. */
struct lit_index {
    uint64_t *keys;
    uint32_t *vals;
    unsigned cap, n;
};

static uint64_t lit_key(const uint8_t *p, size_t len, int nocase)
{
    uint64_t k = XXH3_64bits_withSeed(p, len, (uint64_t)nocase);
    return k ? k : 1;
}

static int li_get(struct lit_index *li, uint64_t key, uint32_t *val, uint32_t newval)
{
    if ((li->n + 1) * 2 > li->cap) {
        unsigned cap = li->cap ? li->cap * 2 : 1024;
        uint64_t *k = calloc(cap, sizeof(*k));
        uint32_t *v = calloc(cap, sizeof(*v));
        if (k == NULL || v == NULL) {
            free(k);
            free(v);
            return -1;
        }
        for (unsigned i = 0; i < li->cap; i++) {
            if (li->keys[i] == 0)
                continue;
            unsigned j = (unsigned)(li->keys[i] % cap);
            while (k[j])
                j = (j + 1) % cap;
            k[j] = li->keys[i];
            v[j] = li->vals[i];
        }
        free(li->keys);
        free(li->vals);
        li->keys = k;
        li->vals = v;
        li->cap = cap;
    }
    unsigned j = (unsigned)(key % li->cap);
    while (li->keys[j] && li->keys[j] != key)
        j = (j + 1) % li->cap;
    if (li->keys[j] == key) {
        *val = li->vals[j];
        return 1;
    }
    li->keys[j] = key;
    li->vals[j] = newval;
    li->n++;
    *val = newval;
    return 0;
}

/* The inputs of one (buffer, direction) prefilter. */
struct build {
    struct pat_list lit, re;
    struct lit_index li; /* literal -> its id in lit */
    uint32_t max_lit;    /* the longest literal */
    struct pair *pairs;
    unsigned npairs, cap;
    uint32_t *always;
    unsigned nalways, acap;
};

static int add_pair(struct build *b, uint32_t pat, uint32_t sig)
{
    if (b->npairs == b->cap) {
        unsigned cap = b->cap ? b->cap * 2 : 256;
        struct pair *v = realloc(b->pairs, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        b->pairs = v;
        b->cap = cap;
    }
    b->pairs[b->npairs].pat = pat;
    b->pairs[b->npairs].sig = sig;
    b->npairs++;
    return 0;
}

static int add_always(struct build *b, uint32_t sig)
{
    if (b->nalways == b->acap) {
        unsigned cap = b->acap ? b->acap * 2 : 64;
        uint32_t *v = realloc(b->always, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        b->always = v;
        b->acap = cap;
    }
    b->always[b->nalways++] = sig;
    return 0;
}

static void build_free(struct build *b)
{
    pl_free(&b->lit);
    pl_free(&b->re);
    free(b->li.keys);
    free(b->li.vals);
    free(b->pairs);
    free(b->always);
}

/* The buffer through which a rule without a fast pattern is selected. */
static int primary_buffer(const struct sig *s)
{
    for (unsigned i = 0; i < s->nbufs; i++)
        if (s->bufs[i].n > 0 && s->bufs[i].id != DB_BASE64_DATA &&
            (!s->is_tx || s->bufs[i].id != DB_PAYLOAD))
            return s->bufs[i].id;
    return -1;
}

/* The directions (bit 0 to server, bit 1 to client) in which rule s reads buffer id, as
 * detect_tx and the packet inspection see them: a buffer that exists one way only is read
 * that way; another follows the rule's own directions. */
static unsigned read_dirs(const struct sig *s, unsigned id)
{
    unsigned bd = detect_buffer_info(id)->dirs;
    if (bd != 3)
        return bd;
    return s->dirs ? s->dirs : 3;
}

/* The first positive pcre of buffer id that Hyperscan supports, for a regex prefilter. */
static const struct sm_pcre *prefilter_regex(struct sig *s, unsigned id)
{
    for (unsigned b = 0; b < s->nbufs; b++) {
        if (s->bufs[b].id != id || s->bufs[b].transforms)
            continue;
        for (unsigned i = 0; i < s->bufs[b].n; i++) {
            struct sm *m = &s->bufs[b].items[i];
            if (m->type == SM_PCRE && !(m->flags & SM_F_NEGATED) && detect_pcre_hs_supported(&m->p))
                return &m->p;
        }
    }
    return NULL;
}

/* Puts rule si's selection into b: its literal, its regex, or the always-checked list. */
static int collect_one(struct build *b, struct sig *s, uint32_t si, const struct sig_buf *sb,
                       const struct sm *m, const struct sm_pcre *re)
{
    if (m != NULL) {
        const uint8_t *p = NULL;
        uint32_t len = 0;
        int nocase = detect_fp_literal(sb, m, &p, &len);
        uint32_t id;
        int seen = li_get(&b->li, lit_key(p, len, nocase), &id, b->lit.n);
        if (seen < 0)
            return -1;
        if (len > b->max_lit)
            b->max_lit = len;
        unsigned flags = HS_FLAG_SINGLEMATCH | (nocase ? HS_FLAG_CASELESS : 0);
        if (!seen && pl_add(&b->lit, p, len, flags, b->lit.n) < 0)
            return -1;
        return add_pair(b, id, si);
    }
    (void)s;
    if (re != NULL) {
        /* Regex ids follow the literal ids; fixed up once all literals are known. */
        if (pl_add(&b->re, re->hs_expr, strlen(re->hs_expr), re->hs_flags | HS_FLAG_PREFILTER,
                   b->re.n) < 0)
            return -1;
        return add_pair(b, 0x80000000u | (b->re.n - 1), si);
    }
    return add_always(b, si);
}

/* The group of buffer id that a packet of class pclass scans (struct prefilter). */
static unsigned pf_group(unsigned id, unsigned pclass)
{
    return id == DB_PAYLOAD && pclass < PCLASS__COUNT ? pclass : 0;
}

/* Where the inputs of buffer id, direction d, group g are collected. */
#define BL(id, d, g) (((id)*2 + (d)) * PF_GROUPS + (g))

/* Collects the compile inputs: bl[BL(buffer, direction, group)], and each buffer's exact pcre
 * list. */
static int collect(struct detect_engine *e, struct build *bl, struct pat_list *pcre,
                   struct detect_load_report *rep)
{
    for (unsigned si = 0; si < e->nsigs; si++) {
        struct sig *s = e->sigs[si];
        if (s->is_file)
            continue; /* detect_file checks file rules on each file, without a prefilter */
        /* Exact Hyperscan ids for pcre items on untransformed buffers. */
        for (unsigned b = 0; b < s->nbufs; b++) {
            for (unsigned i = 0; i < s->bufs[b].n; i++) {
                struct sm *m = &s->bufs[b].items[i];
                if (m->type != SM_PCRE)
                    continue;
                if (e->pcre_hyperscan && s->bufs[b].transforms == 0 &&
                    detect_pcre_hs_supported(&m->p)) {
                    struct pat_list *pl = &pcre[s->bufs[b].id];
                    m->p.hs_id = (int32_t)pl->n;
                    if (pl_add(pl, m->p.hs_expr, strlen(m->p.hs_expr), m->p.hs_flags, pl->n) < 0)
                        return -1;
                    rep->pcre_hyperscan++;
                } else {
                    rep->pcre_pcre2++;
                }
            }
        }
        const struct sig_buf *sb = NULL;
        const struct sm *m = NULL;
        const struct sm_pcre *re = NULL;
        int id;
        if (s->fp_buf >= 0) {
            sb = &s->bufs[s->fp_buf];
            m = &sb->items[s->fp_item];
            id = sb->id;
        } else {
            if ((id = primary_buffer(s)) < 0)
                continue; /* header and packet keywords only: detect-index.c */
            re = prefilter_regex(s, (unsigned)id);
        }
        unsigned dirs = read_dirs(s, (unsigned)id);
        unsigned groups = id == DB_PAYLOAD ? detect_sig_pclasses(s) : 1u;
        for (unsigned d = 0; d < 2; d++)
            for (unsigned g = 0; g < PF_GROUPS; g++)
                if (((dirs >> d) & 1) && ((groups >> g) & 1) &&
                    collect_one(&bl[BL(id, d, g)], s, si, sb, m, re) < 0)
                    return -1;
    }
    return 0;
}

/* The databases of one buffer in a fixed order, for the cache and for freeing. */
#define PF_NDB (2 * 2 * PF_GROUPS + 1)
static void pf_dbs(struct prefilter *pf, hs_database_t **dbs[PF_NDB])
{
    unsigned k = 0;
    for (unsigned d = 0; d < 2; d++) {
        for (unsigned g = 0; g < PF_GROUPS; g++) {
            dbs[k++] = &pf->d[d][g].lit;
            dbs[k++] = &pf->d[d][g].re;
        }
    }
    dbs[k] = &pf->pcre;
}

/* The cache key: everything that goes into the databases, Hyperscan's version and the CPU
 * features it compiles for. */
static void cache_key(struct build *bl, struct pat_list *pcre, char out[65])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    const char *ver = hs_version();
    EVP_DigestUpdate(md, ver, strlen(ver));
    EVP_DigestUpdate(md, CACHE_MAGIC, strlen(CACHE_MAGIC));
    hs_platform_info_t plat;
    memset(&plat, 0, sizeof(plat));
    if (hs_populate_platform(&plat) == HS_SUCCESS)
        EVP_DigestUpdate(md, &plat, sizeof(plat));
    for (unsigned b = 0; b < DB__COUNT; b++) {
        struct pat_list *lists[PF_NDB];
        unsigned nl = 0;
        for (unsigned d = 0; d < 2; d++) {
            for (unsigned g = 0; g < PF_GROUPS; g++) {
                lists[nl++] = &bl[BL(b, d, g)].lit;
                lists[nl++] = &bl[BL(b, d, g)].re;
            }
        }
        lists[nl] = &pcre[b];
        for (int k = 0; k < PF_NDB; k++) {
            uint32_t n = lists[k]->n;
            EVP_DigestUpdate(md, &b, sizeof(b));
            EVP_DigestUpdate(md, &n, sizeof(n));
            for (unsigned i = 0; i < n; i++) {
                uint64_t len = lists[k]->lens[i];
                EVP_DigestUpdate(md, &len, sizeof(len));
                EVP_DigestUpdate(md, lists[k]->expr[i], len);
                EVP_DigestUpdate(md, &lists[k]->flags[i], sizeof(unsigned));
            }
        }
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    EVP_DigestFinal_ex(md, d, &dl);
    EVP_MD_CTX_free(md);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static hs_database_t *compile_list(struct pat_list *l, int literal, char *errbuf, const char *what,
                                   unsigned buf)
{
    if (l->n == 0)
        return NULL;
    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    hs_error_t rc;
    if (literal)
        rc = hs_compile_lit_multi((const char *const *)l->expr, l->flags, l->ids, l->lens, l->n,
                                  HS_MODE_BLOCK, NULL, &db, &err);
    else
        rc = hs_compile_multi((const char *const *)l->expr, l->flags, l->ids, l->n, HS_MODE_BLOCK,
                              NULL, &db, &err);
    if (rc != HS_SUCCESS) {
        vg_errbuf_set(errbuf, "Hyperscan: %s database of buffer %s: %s (pattern %d)", what,
                      detect_buffer_info(buf)->name, err ? err->message : "compile failed",
                      err ? err->expression : -1);
        hs_free_compile_error(err);
        return NULL;
    }
    malloc_trim(0); /* give the compiler's scratch back before the next database: peak RSS */
    return db;
}

static void free_dbs(struct detect_engine *e)
{
    for (unsigned b = 0; b < DB__COUNT; b++) {
        hs_database_t **dbs[PF_NDB];
        pf_dbs(&e->pf[b], dbs);
        for (int k = 0; k < PF_NDB; k++) {
            if (*dbs[k])
                hs_free_database(*dbs[k]);
            *dbs[k] = NULL;
        }
    }
}

/* Reads the cached databases into e, if the file exists and is whole. 1 loaded, 0 not. */
static int cache_read(struct detect_engine *e, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 0;
    char magic[8];
    int ok = fread(magic, 1, 8, f) == 8 && memcmp(magic, CACHE_MAGIC, 8) == 0;
    for (unsigned b = 0; ok && b < DB__COUNT; b++) {
        hs_database_t **dbs[PF_NDB];
        pf_dbs(&e->pf[b], dbs);
        for (int k = 0; ok && k < PF_NDB; k++) {
            uint64_t len;
            if (fread(&len, sizeof(len), 1, f) != 1 || len > (1ULL << 32)) {
                ok = 0;
                break;
            }
            if (len == 0)
                continue;
            char *bytes = malloc(len);
            if (bytes == NULL || fread(bytes, 1, len, f) != len ||
                hs_deserialize_database(bytes, len, dbs[k]) != HS_SUCCESS)
                ok = 0;
            free(bytes);
        }
    }
    fclose(f);
    if (!ok)
        free_dbs(e);
    return ok;
}

/* Makes directory dir and its missing parents (mode 0750). 0, or -1. */
static int mkdir_parents(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return -1;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0750) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(path, 0750) < 0 && errno != EEXIST ? -1 : 0;
}

/* Writes the databases to path atomically (a temporary file, then rename). */
static void cache_write(struct detect_engine *e, const char *dir, const char *path)
{
    if (mkdir_parents(dir) < 0)
        return;
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (f == NULL)
        return;
    int ok = fwrite(CACHE_MAGIC, 1, 8, f) == 8;
    for (unsigned b = 0; ok && b < DB__COUNT; b++) {
        hs_database_t **dbs[PF_NDB];
        pf_dbs(&e->pf[b], dbs);
        for (int k = 0; ok && k < PF_NDB; k++) {
            uint64_t len = 0;
            char *bytes = NULL;
            size_t slen = 0;
            if (*dbs[k] && hs_serialize_database(*dbs[k], &bytes, &slen) == HS_SUCCESS)
                len = slen;
            ok = fwrite(&len, sizeof(len), 1, f) == 1 &&
                 (len == 0 || fwrite(bytes, 1, len, f) == len);
            free(bytes);
        }
    }
    if (fclose(f) != 0)
        ok = 0;
    if (ok)
        ok = rename(tmp, path) == 0;
    if (!ok)
        unlink(tmp);
}

/* Fills the pattern -> rules arrays of pf from b. 0, or -1 out of memory. */
static int finish_dir(const struct detect_engine *e, struct prefilter_dir *pf, struct build *x,
                      struct detect_load_report *rep)
{
    pf->nlit = x->lit.n;
    pf->max_lit = x->max_lit;
    pf->npat = x->lit.n + x->re.n;
    /* Regex pair ids come after the literals. */
    for (unsigned i = 0; i < x->npairs; i++)
        if (x->pairs[i].pat & 0x80000000u)
            x->pairs[i].pat = pf->nlit + (x->pairs[i].pat & 0x7fffffffu);
    if (x->npairs > 1)
        qsort(x->pairs, x->npairs, sizeof(*x->pairs), cmp_pair);
    pf->start = calloc(pf->npat + 1, sizeof(uint32_t));
    pf->sigs = malloc((x->npairs ? x->npairs : 1) * sizeof(uint32_t));
    if (pf->start == NULL || pf->sigs == NULL)
        return -1;
    for (unsigned i = 0; i < x->npairs; i++) {
        pf->sigs[i] = x->pairs[i].sig;
        pf->start[x->pairs[i].pat + 1]++;
    }
    for (unsigned i = 0; i < pf->npat; i++)
        pf->start[i + 1] += pf->start[i];
    /* The always list grouped by protocol class (a rule of several classes in each), then all. */
    pf->nalways = x->nalways;
    pf->always = malloc(((size_t)x->nalways * (PCLASS__COUNT + 1) + 1) * sizeof(uint32_t));
    if (pf->always == NULL)
        return -1;
    unsigned k = 0;
    for (unsigned c = 0; c <= PCLASS__COUNT; c++) {
        pf->astart[c] = k;
        for (unsigned i = 0; i < x->nalways; i++)
            if (c == PCLASS__COUNT || ((detect_sig_pclasses(e->sigs[x->always[i]]) >> c) & 1))
                pf->always[k++] = x->always[i];
    }
    pf->astart[PCLASS__COUNT + 1] = k;
    rep->prefilter_patterns += pf->npat;
    rep->prefilter_dbs += (pf->lit != NULL) + (pf->re != NULL);
    rep->always_checked += pf->nalways;
    return 0;
}

int detect_prefilter_build(struct detect_engine *e, const char *cache_dir,
                           struct detect_load_report *rep, char *errbuf)
{
    struct build *bl = calloc(DB__COUNT * 2 * PF_GROUPS, sizeof(*bl));
    struct pat_list *pcre = calloc(DB__COUNT, sizeof(*pcre));
    int rc = -1;
    if (bl == NULL || pcre == NULL) {
        vg_errbuf_set(errbuf, "out of memory");
        goto out;
    }
    if (collect(e, bl, pcre, rep) < 0) {
        vg_errbuf_set(errbuf, "out of memory building the prefilter");
        goto out;
    }

    char key[65], path[4200] = "";
    cache_key(bl, pcre, key);
    if (cache_dir != NULL) {
        snprintf(path, sizeof(path), "%s/vigil-%s.hsdb", cache_dir, key);
        rep->cache_hit = cache_read(e, path);
    }
    for (unsigned b = 0; b < DB__COUNT && !rep->cache_hit; b++) {
        struct prefilter *pf = &e->pf[b];
        for (unsigned k = 0; k < 2 * PF_GROUPS; k++) {
            struct build *x = &bl[b * 2 * PF_GROUPS + k];
            struct prefilter_dir *pd = &pf->d[k / PF_GROUPS][k % PF_GROUPS];
            if ((x->lit.n && !(pd->lit = compile_list(&x->lit, 1, errbuf, "literal", b))) ||
                (x->re.n && !(pd->re = compile_list(&x->re, 0, errbuf, "regex", b))))
                goto out;
        }
        if (pcre[b].n && !(pf->pcre = compile_list(&pcre[b], 0, errbuf, "pcre", b)))
            goto out;
    }
    if (!rep->cache_hit && cache_dir != NULL)
        cache_write(e, cache_dir, path);

    for (unsigned b = 0; b < DB__COUNT; b++) {
        struct prefilter *pf = &e->pf[b];
        pf->npcre = pcre[b].n;
        rep->prefilter_dbs += pf->pcre != NULL;
        for (unsigned k = 0; k < 2 * PF_GROUPS; k++) {
            if (finish_dir(e, &pf->d[k / PF_GROUPS][k % PF_GROUPS], &bl[b * 2 * PF_GROUPS + k],
                           rep) < 0) {
                vg_errbuf_set(errbuf, "out of memory");
                goto out;
            }
        }
    }
    rc = 0;
out:
    for (unsigned i = 0; bl != NULL && i < DB__COUNT * 2 * PF_GROUPS; i++)
        build_free(&bl[i]);
    for (unsigned b = 0; pcre != NULL && b < DB__COUNT; b++)
        pl_free(&pcre[b]);
    free(bl);
    free(pcre);
    return rc;
}

void detect_prefilter_free(struct detect_engine *e)
{
    free_dbs(e);
    for (unsigned b = 0; b < DB__COUNT; b++) {
        struct prefilter *pf = &e->pf[b];
        for (unsigned d = 0; d < 2; d++) {
            for (unsigned g = 0; g < PF_GROUPS; g++) {
                free(pf->d[d][g].start);
                free(pf->d[d][g].sigs);
                free(pf->d[d][g].always);
            }
        }
        memset(pf, 0, sizeof(*pf));
    }
}

struct scan_ctx {
    struct detect_thread *t;
    const struct prefilter_dir *pf;
    unsigned offset; /* added to the ids of the database scanned */
};

static inline void add_cand(struct detect_thread *t, uint32_t sig)
{
    if (t->mark[sig] != t->stamp) {
        t->mark[sig] = t->stamp;
        t->cand[t->ncand++] = sig;
    }
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx)
{
    (void)from;
    (void)to;
    (void)flags;
    struct scan_ctx *sc = ctx;
    unsigned pat = id + sc->offset;
    if (pat >= sc->pf->npat)
        return 0;
    for (uint32_t k = sc->pf->start[pat]; k < sc->pf->start[pat + 1]; k++)
        add_cand(sc->t, sc->pf->sigs[k]);
    VG_CNT_INC(sc->t->st.prefilter_hits);
    return 0;
}

/* Candidate lists are sorted on every scan, and qsort's calls through a comparator cost: short
 * lists take an insertion sort, longer ones an 8-bit radix sort, one pass per byte of limit. */
void detect_sort_u32(uint32_t *v, unsigned n, uint32_t *tmp, uint32_t limit)
{
    if (n <= 32) {
        for (unsigned i = 1; i < n; i++) {
            uint32_t x = v[i];
            unsigned j = i;
            while (j > 0 && v[j - 1] > x) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
        return;
    }
    uint32_t *src = v, *dst = tmp;
    for (unsigned shift = 0; shift < 32 && (limit >> shift) != 0; shift += 8) {
        unsigned cnt[257] = {0};
        for (unsigned i = 0; i < n; i++)
            cnt[((src[i] >> shift) & 0xff) + 1]++;
        for (unsigned k = 0; k < 256; k++)
            cnt[k + 1] += cnt[k];
        for (unsigned i = 0; i < n; i++)
            dst[cnt[(src[i] >> shift) & 0xff]++] = src[i];
        uint32_t *x = src;
        src = dst;
        dst = x;
    }
    if (src != v)
        memcpy(v, src, n * sizeof(*v));
}

uint32_t detect_txmark_begin(struct detect_thread *t)
{
    if (++t->txstamp == 0) {
        memset(t->txmark, 0, t->e->nsigs * sizeof(*t->txmark));
        t->txstamp = 1;
    }
    return t->txstamp;
}

void detect_prefilter_begin(struct detect_thread *t)
{
    if (++t->stamp == 0) {
        memset(t->mark, 0, t->e->nsigs * sizeof(*t->mark));
        t->stamp = 1;
    }
    t->ncand = 0;
}

void detect_prefilter_add(struct detect_thread *t, uint32_t sig)
{
    add_cand(t, sig);
}

const struct prefilter_dir *detect_prefilter_dir(const struct detect_engine *e, unsigned id,
                                                 int dir, unsigned pclass)
{
    return &e->pf[id].d[dir == 1][pf_group(id, pclass)]; /* anything but 1 counts as to server */
}

void detect_prefilter_always(struct detect_thread *t, unsigned id, int dir, unsigned pclass)
{
    const struct prefilter_dir *pf = detect_prefilter_dir(t->e, id, dir, pclass);
    if (pf->nalways == 0)
        return;
    if (pclass > PCLASS__COUNT)
        pclass = PCLASS__COUNT;
    for (unsigned i = pf->astart[pclass]; i < pf->astart[pclass + 1]; i++)
        add_cand(t, pf->always[i]);
}

void detect_prefilter_literals(struct detect_thread *t, unsigned id, int dir, unsigned pclass,
                               const uint8_t *buf, uint32_t len)
{
    const struct prefilter_dir *pf = detect_prefilter_dir(t->e, id, dir, pclass);
    struct scan_ctx sc = {t, pf, 0};
    if (pf->lit && len > 0)
        hs_scan(pf->lit, (const char *)buf, len, 0, t->scratch, on_match, &sc);
}

void detect_prefilter_regexes(struct detect_thread *t, unsigned id, int dir, unsigned pclass,
                              const uint8_t *buf, uint32_t len)
{
    const struct prefilter_dir *pf = detect_prefilter_dir(t->e, id, dir, pclass);
    struct scan_ctx sc = {t, pf, pf->nlit};
    if (pf->re && len > 0)
        hs_scan(pf->re, (const char *)buf, len, 0, t->scratch, on_match, &sc);
}

void detect_prefilter_end(struct detect_thread *t)
{
    if (t->ncand > 1)
        detect_sort_u32(t->cand, t->ncand, t->cand_tmp, t->e->nsigs);
}

void detect_prefilter_scan(struct detect_thread *t, unsigned id, int dir, unsigned pclass,
                           const uint8_t *buf, uint32_t len)
{
    detect_prefilter_begin(t);
    detect_prefilter_always(t, id, dir, pclass);
    detect_prefilter_literals(t, id, dir, pclass, buf, len);
    detect_prefilter_regexes(t, id, dir, pclass, buf, len);
    detect_prefilter_end(t);
}

int detect_prefilter_empty(const struct detect_engine *e, unsigned id)
{
    const struct prefilter *pf = &e->pf[id];
    for (unsigned d = 0; d < 2; d++)
        for (unsigned g = 0; g < PF_GROUPS; g++)
            if (pf->d[d][g].npat != 0 || pf->d[d][g].nalways != 0)
                return 0;
    return 1;
}
