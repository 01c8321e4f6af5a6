/* suppress.c: the suppression list at correlation time: config and store entries, match, hits. */
#include <stdlib.h>
#include <string.h>

#include "vigil/triage.h"

static void tsup_clear_owned(struct tsup_list *l)
{
    for (size_t k = l->nconfig; k < l->n; k++) {
        free(l->s[k].addr);
        free(l->s[k].asset);
    }
}

int tsup_load(struct tsup_list *l, struct tdb *t, const struct tcfg *cfg, char *errbuf)
{
    memset(l, 0, sizeof(*l));
    sqlite3_stmt *s =
        tdb_prepare(t, "SELECT id, sid, addr, asset, expires FROM suppressions", errbuf);
    if (s == NULL)
        return -1;
    size_t cap = cfg->nsupp + 16;
    l->s = calloc(cap, sizeof(*l->s));
    l->ids = calloc(cap, sizeof(long long));
    l->hits = calloc(cap, sizeof(long long));
    if (l->s == NULL || l->ids == NULL || l->hits == NULL)
        goto oom;
    for (size_t k = 0; k < cfg->nsupp; k++) /* borrowed from the config */
        l->s[l->n++] = cfg->supp[k];
    l->nconfig = l->n;
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (l->n == cap) {
            cap *= 2;
            struct tcfg_supp *ns = realloc(l->s, cap * sizeof(*l->s));
            if (ns == NULL)
                goto oom;
            l->s = ns;
            long long *ni = realloc(l->ids, cap * sizeof(long long));
            if (ni == NULL)
                goto oom;
            l->ids = ni;
            long long *nh = realloc(l->hits, cap * sizeof(long long));
            if (nh == NULL)
                goto oom;
            l->hits = nh;
        }
        struct tcfg_supp *x = &l->s[l->n];
        const char *addr = (const char *)sqlite3_column_text(s, 2);
        const char *asset = (const char *)sqlite3_column_text(s, 3);
        memset(x, 0, sizeof(*x));
        x->sid = sqlite3_column_int64(s, 1);
        x->addr = addr ? strdup(addr) : NULL;
        x->asset = asset ? strdup(asset) : NULL;
        x->expires = sqlite3_column_double(s, 4);
        l->ids[l->n] = sqlite3_column_int64(s, 0);
        l->hits[l->n++] = 0;
    }
    sqlite3_finalize(s);
    return 0;
oom:
    sqlite3_finalize(s);
    snprintf(errbuf, TRIAGE_ERRBUF, "out of memory");
    tsup_free(l);
    return -1;
}

int tsup_match(struct tsup_list *l, long long sid, const char *src, const char *dest,
               const char *asset, double now)
{
    for (size_t k = 0; k < l->n; k++) {
        const struct tcfg_supp *s = &l->s[k];
        if (s->expires > 0 && s->expires < now)
            continue;
        if (s->sid != 0 && s->sid != sid)
            continue;
        if (s->addr != NULL &&
            !((src && strcmp(src, s->addr) == 0) || (dest && strcmp(dest, s->addr) == 0)))
            continue;
        if (s->asset != NULL && !(asset && strcmp(asset, s->asset) == 0))
            continue;
        l->hits[k]++;
        return 1;
    }
    return 0;
}

int tsup_save_hits(struct tsup_list *l, struct tdb *t, char *errbuf)
{
    sqlite3_stmt *s = NULL;
    int rc = 0;
    for (size_t k = 0; k < l->n && rc == 0; k++) {
        if (l->ids[k] != 0 && l->hits[k] != 0) {
            if (s == NULL && (s = tdb_prepare(t, "UPDATE suppressions SET hits=hits+? WHERE id=?",
                                              errbuf)) == NULL)
                return -1;
            sqlite3_bind_int64(s, 1, l->hits[k]);
            sqlite3_bind_int64(s, 2, l->ids[k]);
            rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
            sqlite3_reset(s);
        }
        l->hits[k] = 0;
    }
    sqlite3_finalize(s);
    if (rc != 0)
        snprintf(errbuf, TRIAGE_ERRBUF, "suppression hits: %s", sqlite3_errmsg(t->db));
    return rc;
}

void tsup_free(struct tsup_list *l)
{
    if (l->s != NULL)
        tsup_clear_owned(l);
    free(l->s);
    free(l->ids);
    free(l->hits);
    memset(l, 0, sizeof(*l));
}
