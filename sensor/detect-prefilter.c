/* detect-prefilter.c: per-buffer Hyperscan databases of fast patterns, the scan, and the on-disk cache. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "detect-internal.h"

#define CACHE_MAGIC "VIGILHS1"

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
        if (e) l->expr = e;
        if (f) l->flags = f;
        if (i) l->ids = i;
        if (ln) l->lens = ln;
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
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned outl = 0;
    uint8_t nc = (uint8_t)nocase;
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, &nc, 1);
    EVP_DigestUpdate(md, p, len);
    EVP_DigestFinal_ex(md, out, &outl);
    EVP_MD_CTX_free(md);
    uint64_t k;
    memcpy(&k, out, sizeof(k));
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

struct build {
    struct pat_list lit, re, pcre;
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

/* The buffer through which a rule without a fast pattern is selected. */
static int primary_buffer(const struct sig *s)
{
    for (unsigned i = 0; i < s->nbufs; i++)
        if (s->bufs[i].n > 0 && s->bufs[i].id != DB_BASE64_DATA &&
            (!s->is_tx || s->bufs[i].id != DB_PAYLOAD))
            return s->bufs[i].id;
    return -1;
}

/* The first positive pcre of buffer id that Hyperscan supports, for a regex prefilter. */
static const struct sm_pcre *prefilter_regex(struct sig *s, unsigned id)
{
    for (unsigned b = 0; b < s->nbufs; b++) {
        if (s->bufs[b].id != id || s->bufs[b].transforms)
            continue;
        for (unsigned i = 0; i < s->bufs[b].n; i++) {
            struct sm *m = &s->bufs[b].items[i];
            if (m->type == SM_PCRE && !(m->flags & SM_F_NEGATED) &&
                detect_pcre_hs_supported(&m->p))
                return &m->p;
        }
    }
    return NULL;
}

/* Collects the compile inputs of every buffer. */
static int collect(struct detect_engine *e, struct build *bl, struct detect_load_report *rep)
{
    struct lit_index li[DB__COUNT];
    memset(li, 0, sizeof(li));
    int rc = -1;
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
                    struct pat_list *pl = &bl[s->bufs[b].id].pcre;
                    m->p.hs_id = (int32_t)pl->n;
                    if (pl_add(pl, m->p.hs_expr, strlen(m->p.hs_expr), m->p.hs_flags,
                               pl->n) < 0)
                        goto out;
                    rep->pcre_hyperscan++;
                } else {
                    rep->pcre_pcre2++;
                }
            }
        }
        if (s->fp_buf >= 0) {
            const struct sig_buf *sb = &s->bufs[s->fp_buf];
            const struct sm *m = &sb->items[s->fp_item];
            const uint8_t *p = m->c.pat;
            size_t len = m->c.len;
            if (m->flags & SM_F_FP_CHOP) {
                p += m->c.fp_off;
                len = m->c.fp_len;
            }
            int nocase = (m->flags & SM_F_NOCASE) != 0;
            struct build *b = &bl[sb->id];
            uint32_t id;
            int seen = li_get(&li[sb->id], lit_key(p, len, nocase), &id, b->lit.n);
            if (seen < 0)
                goto out;
            if (!seen && pl_add(&b->lit, p, len, HS_FLAG_SINGLEMATCH | (nocase ? HS_FLAG_CASELESS : 0),
                                b->lit.n) < 0)
                goto out;
            if (add_pair(b, id, si) < 0)
                goto out;
            continue;
        }
        int pb = primary_buffer(s);
        if (pb < 0)
            continue; /* header and packet keywords only: checked on every packet */
        const struct sm_pcre *re = prefilter_regex(s, (unsigned)pb);
        if (re != NULL) {
            /* Regex ids follow the literal ids; fixed up once all literals are known. */
            struct build *b = &bl[pb];
            if (pl_add(&b->re, re->hs_expr, strlen(re->hs_expr),
                       re->hs_flags | HS_FLAG_PREFILTER, b->re.n) < 0 ||
                add_pair(b, 0x80000000u | (b->re.n - 1), si) < 0)
                goto out;
            continue;
        }
        if (add_always(&bl[pb], si) < 0)
            goto out;
    }
    rc = 0;
out:
    for (unsigned i = 0; i < DB__COUNT; i++) {
        free(li[i].keys);
        free(li[i].vals);
    }
    return rc;
}

/* The cache key: everything that goes into the databases, plus Hyperscan's version. */
static void cache_key(struct build *bl, char out[65])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    const char *ver = hs_version();
    EVP_DigestUpdate(md, ver, strlen(ver));
    EVP_DigestUpdate(md, CACHE_MAGIC, strlen(CACHE_MAGIC));
    for (unsigned b = 0; b < DB__COUNT; b++) {
        struct pat_list *lists[3] = {&bl[b].lit, &bl[b].re, &bl[b].pcre};
        for (int k = 0; k < 3; k++) {
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

static hs_database_t *compile_list(struct pat_list *l, int literal, char *errbuf,
                                   const char *what, unsigned buf)
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
        rc = hs_compile_multi((const char *const *)l->expr, l->flags, l->ids, l->n,
                              HS_MODE_BLOCK, NULL, &db, &err);
    if (rc != HS_SUCCESS) {
        vg_errbuf_set(errbuf, "Hyperscan: %s database of buffer %s: %s (pattern %d)", what,
                      detect_buffer_info(buf)->name, err ? err->message : "compile failed",
                      err ? err->expression : -1);
        hs_free_compile_error(err);
        return NULL;
    }
    return db;
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
        hs_database_t **dbs[3] = {&e->pf[b].lit, &e->pf[b].re, &e->pf[b].pcre};
        for (int k = 0; ok && k < 3; k++) {
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
    if (!ok) {
        for (unsigned b = 0; b < DB__COUNT; b++) {
            hs_database_t **dbs[3] = {&e->pf[b].lit, &e->pf[b].re, &e->pf[b].pcre};
            for (int k = 0; k < 3; k++) {
                if (*dbs[k])
                    hs_free_database(*dbs[k]);
                *dbs[k] = NULL;
            }
        }
    }
    return ok;
}

/* Writes the databases to path atomically (a temporary file, then rename). */
static void cache_write(struct detect_engine *e, const char *dir, const char *path)
{
    mkdir(dir, 0750);
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (f == NULL)
        return;
    int ok = fwrite(CACHE_MAGIC, 1, 8, f) == 8;
    for (unsigned b = 0; ok && b < DB__COUNT; b++) {
        hs_database_t *dbs[3] = {e->pf[b].lit, e->pf[b].re, e->pf[b].pcre};
        for (int k = 0; ok && k < 3; k++) {
            uint64_t len = 0;
            char *bytes = NULL;
            size_t slen = 0;
            if (dbs[k] && hs_serialize_database(dbs[k], &bytes, &slen) == HS_SUCCESS)
                len = slen;
            ok = fwrite(&len, sizeof(len), 1, f) == 1 && (len == 0 || fwrite(bytes, 1, len, f) == len);
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

int detect_prefilter_build(struct detect_engine *e, const char *cache_dir,
                           struct detect_load_report *rep, char *errbuf)
{
    struct build *bl = calloc(DB__COUNT, sizeof(*bl));
    if (bl == NULL) {
        vg_errbuf_set(errbuf, "out of memory");
        return -1;
    }
    int rc = -1;
    if (collect(e, bl, rep) < 0) {
        vg_errbuf_set(errbuf, "out of memory building the prefilter");
        goto out;
    }

    char key[65], path[4200] = "";
    cache_key(bl, key);
    if (cache_dir != NULL) {
        snprintf(path, sizeof(path), "%s/vigil-%s.hsdb", cache_dir, key);
        rep->cache_hit = cache_read(e, path);
    }
    for (unsigned b = 0; b < DB__COUNT && !rep->cache_hit; b++) {
        if ((bl[b].lit.n && !(e->pf[b].lit = compile_list(&bl[b].lit, 1, errbuf, "literal", b))) ||
            (bl[b].re.n && !(e->pf[b].re = compile_list(&bl[b].re, 0, errbuf, "regex", b))) ||
            (bl[b].pcre.n && !(e->pf[b].pcre = compile_list(&bl[b].pcre, 0, errbuf, "pcre", b))))
            goto out;
    }
    if (!rep->cache_hit && cache_dir != NULL)
        cache_write(e, cache_dir, path);

    for (unsigned b = 0; b < DB__COUNT; b++) {
        struct prefilter *pf = &e->pf[b];
        struct build *x = &bl[b];
        pf->nlit = x->lit.n;
        pf->npat = x->lit.n + x->re.n;
        pf->npcre = x->pcre.n;
        /* Regex pair ids come after the literals. */
        for (unsigned i = 0; i < x->npairs; i++)
            if (x->pairs[i].pat & 0x80000000u)
                x->pairs[i].pat = pf->nlit + (x->pairs[i].pat & 0x7fffffffu);
        if (x->npairs > 1)
            qsort(x->pairs, x->npairs, sizeof(*x->pairs), cmp_pair);
        pf->start = calloc(pf->npat + 1, sizeof(uint32_t));
        pf->sigs = malloc((x->npairs ? x->npairs : 1) * sizeof(uint32_t));
        if (pf->start == NULL || pf->sigs == NULL) {
            vg_errbuf_set(errbuf, "out of memory");
            goto out;
        }
        for (unsigned i = 0; i < x->npairs; i++) {
            pf->sigs[i] = x->pairs[i].sig;
            pf->start[x->pairs[i].pat + 1]++;
        }
        for (unsigned i = 0; i < pf->npat; i++)
            pf->start[i + 1] += pf->start[i];
        pf->always = x->always;
        pf->nalways = x->nalways;
        x->always = NULL;
        rep->prefilter_patterns += pf->npat;
        rep->prefilter_dbs += (pf->lit != NULL) + (pf->re != NULL) + (pf->pcre != NULL);
        rep->always_checked += pf->nalways;
    }
    rc = 0;
out:
    for (unsigned b = 0; b < DB__COUNT; b++) {
        pl_free(&bl[b].lit);
        pl_free(&bl[b].re);
        pl_free(&bl[b].pcre);
        free(bl[b].pairs);
        free(bl[b].always);
    }
    free(bl);
    return rc;
}

void detect_prefilter_free(struct detect_engine *e)
{
    for (unsigned b = 0; b < DB__COUNT; b++) {
        struct prefilter *pf = &e->pf[b];
        if (pf->lit)
            hs_free_database(pf->lit);
        if (pf->re)
            hs_free_database(pf->re);
        if (pf->pcre)
            hs_free_database(pf->pcre);
        free(pf->start);
        free(pf->sigs);
        free(pf->always);
        memset(pf, 0, sizeof(*pf));
    }
}

struct scan_ctx {
    struct detect_thread *t;
    const struct prefilter *pf;
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

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void detect_prefilter_scan(struct detect_thread *t, unsigned id, const uint8_t *buf, uint32_t len)
{
    const struct prefilter *pf = &t->e->pf[id];
    if (++t->stamp == 0) {
        memset(t->mark, 0, t->e->nsigs * sizeof(*t->mark));
        t->stamp = 1;
    }
    t->ncand = 0;
    for (unsigned i = 0; i < pf->nalways; i++)
        add_cand(t, pf->always[i]);
    if (len > 0) {
        struct scan_ctx sc = {t, pf, 0};
        if (pf->lit)
            hs_scan(pf->lit, (const char *)buf, len, 0, t->scratch, on_match, &sc);
        sc.offset = pf->nlit;
        if (pf->re)
            hs_scan(pf->re, (const char *)buf, len, 0, t->scratch, on_match, &sc);
    }
    if (t->ncand > 1)
        qsort(t->cand, t->ncand, sizeof(*t->cand), cmp_u32);
}
