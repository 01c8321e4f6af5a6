/* correlate-cache.c: a correlation run's incidents and campaign hits by key, in memory, bounded. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "correlate-internal.h"

void corr_member_unlink(struct hit *h)
{
    if (h->prev_member != NULL)
        h->prev_member->next_member = h->next_member;
    else
        h->group->members = h->next_member;
    if (h->next_member != NULL)
        h->next_member->prev_member = h->prev_member;
    h->next_member = h->prev_member = NULL;
}

/* Puts h first in its group: with alerts in time order the list stays in last-touched order, so
 * a count of the hosts in the window stops at the first one outside it. */
void corr_member_front(struct hit *h)
{
    if (h->group->members == h)
        return;
    if (h->prev_member != NULL || h->next_member != NULL)
        corr_member_unlink(h);
    h->next_member = h->group->members;
    if (h->next_member != NULL)
        h->next_member->prev_member = h;
    h->group->members = h;
}

/* buf = a SEP b SEP c (c may be NULL: a SEP b), truncated to len - 1 like snprintf; the hit
 * keys are built for every alert, and snprintf was 11 % of correlation. */
void corr_key_join(char *buf, size_t len, const char *a, const char *b, const char *c)
{
    const char *parts[3] = {a, b, c};
    size_t o = 0;
    for (size_t k = 0; k < 3 && parts[k] != NULL; k++) {
        if (k > 0 && o + 1 < len)
            buf[o++] = '\x1f';
        size_t n = strlen(parts[k]);
        if (n > len - 1 - o)
            n = len - 1 - o;
        memcpy(buf + o, parts[k], n);
        o += n;
    }
    buf[o] = '\0';
}

/* buf = the n strings of parts one after another, truncated to len - 1 like snprintf (the keys
 * of every alert: snprintf was 3 % of correlation). Returns the length written. */
size_t corr_str_cat(char *buf, size_t len, const char *const *parts, size_t n)
{
    size_t o = 0;
    for (size_t k = 0; k < n; k++) {
        size_t l = strlen(parts[k]);
        if (l > len - 1 - o)
            l = len - 1 - o;
        memcpy(buf + o, parts[k], l);
        o += l;
    }
    buf[o] = '\0';
    return o;
}

struct hit *corr_hit_new(const char *kind, const char *value, const char *asset)
{
    size_t lk = strlen(kind) + 1, lv = strlen(value) + 1, la = strlen(asset) + 1;
    struct hit *h = calloc(1, sizeof(*h) + lk + lv + la);
    if (h == NULL)
        return NULL;
    h->kind = (char *)(h + 1);
    h->value = h->kind + lk;
    h->asset = h->value + lv;
    memcpy(h->kind, kind, lk);
    memcpy(h->value, value, lv);
    memcpy(h->asset, asset, la);
    return h;
}

unsigned corr_hash(const char *k)
{
    unsigned h = 2166136261u;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 16777619u;
    return h;
}

void *corr_tab_get(struct entry **tab, const char *k)
{
    unsigned h = corr_hash(k);
    for (struct entry *e = tab[h % CORR_BUCKETS]; e; e = e->next)
        if (e->hash == h && strcmp(e->key, k) == 0)
            return e->val;
    return NULL;
}

size_t *corr_tab_count;

int corr_tab_put(struct entry **tab, const char *k, void *v)
{
    if (corr_tab_count != NULL)
        (*corr_tab_count)++;
    size_t n = strlen(k) + 1;
    struct entry *e = malloc(sizeof(*e) + n);
    if (e == NULL)
        return -1;
    memcpy(e->key, k, n);
    e->hash = corr_hash(k);
    unsigned b = e->hash % CORR_BUCKETS;
    e->val = v;
    e->next = tab[b];
    tab[b] = e;
    return 0;
}

void corr_inc_free(struct inc *i)
{
    free(i->ref);
    free(i->gkey);
    free(i->title);
    free(i->unit);
    free(i->asset_ip);
    json_decref(i->esc);
    free(i->asset);
    free(i->actor);
    free(i->kind);
    free(i);
}

/* Adds hash h to the evicted-hit set; a set that cannot grow turns itself off. */
static void evset_add(struct corr *c, unsigned h)
{
    if (c->evset_off)
        return;
    h = h ? h : 1; /* 0 marks a free slot */
    if (2 * (c->evset_n + 1) > c->evset_cap) {
        size_t nc = c->evset_cap ? 2 * c->evset_cap : 65536;
        unsigned *ns = nc <= CORR_EVSET_MAX ? calloc(nc, sizeof(*ns)) : NULL;
        if (ns == NULL) {
            c->evset_off = 1;
            return;
        }
        for (size_t k = 0; k < c->evset_cap; k++)
            if (c->evset[k] != 0) {
                size_t j = c->evset[k] & (nc - 1);
                while (ns[j] != 0)
                    j = (j + 1) & (nc - 1);
                ns[j] = c->evset[k];
            }
        free(c->evset);
        c->evset = ns;
        c->evset_cap = nc;
    }
    size_t j = h & (c->evset_cap - 1);
    while (c->evset[j] != 0 && c->evset[j] != h)
        j = (j + 1) & (c->evset_cap - 1);
    if (c->evset[j] == 0) {
        c->evset[j] = h;
        c->evset_n++;
    }
}

int corr_evset_has(const struct corr *c, unsigned h)
{
    if (c->evset_off)
        return 1;
    if (c->evset_cap == 0)
        return 0;
    h = h ? h : 1;
    for (size_t j = h & (c->evset_cap - 1); c->evset[j] != 0; j = (j + 1) & (c->evset_cap - 1))
        if (c->evset[j] == h)
            return 1;
    return 0;
}

void corr_raise_horizon(struct corr *c, double last)
{
    if (last > c->horizon)
        c->horizon = last;
}

void corr_clear_tabs(struct corr *c)
{
    for (int b = 0; b < CORR_BUCKETS; b++) {
        for (struct entry *e = c->inc_tab[b], *n; e; e = n) {
            n = e->next;
            corr_raise_horizon(c, ((struct inc *)e->val)->last);
            corr_inc_free(e->val);
            free(e);
        }
        for (struct entry *e = c->hit_tab[b], *n; e; e = n) {
            n = e->next;
            corr_hit_free(e->val);
            free(e);
        }
        for (struct entry *e = c->id_tab[b], *n; e; e = n) {
            n = e->next;
            free(e);
        }
        c->inc_tab[b] = c->hit_tab[b] = c->id_tab[b] = NULL;
    }
    c->cached = 0;
}

/*
 * Drops the cached incidents and hits whose window has passed (all are written back by now),
 * keeping the hit groups; clears everything if that is not enough. Alerts come in time order,
 * so what is dropped is what a later alert would look up in the store anyway.
 */
void corr_evict(struct corr *c, double ts)
{
    double wi = c->cfg->window, wh = c->cfg->campaign_window;
    size_t kept = 0;
    struct entry *doomed = NULL;
    for (int b = 0; b < CORR_BUCKETS; b++)
        for (struct entry **pp = &c->inc_tab[b]; *pp != NULL;) {
            struct entry *e = *pp;
            struct inc *i = e->val;
            double w = strcmp(i->kind, "campaign") == 0 ? wh : wi;
            if (i->dirty == 0 && i->last < ts - w) {
                i->dirty = -1; /* doomed: its id_tab entry goes too */
                corr_raise_horizon(c, i->last);
                *pp = e->next;
                e->next = doomed;
                doomed = e;
            } else {
                pp = &e->next;
                kept++;
            }
        }
    for (int b = 0; b < CORR_BUCKETS; b++)
        for (struct entry **pp = &c->id_tab[b]; *pp != NULL;) {
            struct entry *e = *pp;
            if (((struct inc *)e->val)->dirty == -1) {
                *pp = e->next;
                free(e);
            } else {
                pp = &e->next;
                kept++;
            }
        }
    for (struct entry *e = doomed, *n; e != NULL; e = n) {
        n = e->next;
        corr_inc_free(e->val);
        free(e);
    }
    for (int b = 0; b < CORR_BUCKETS; b++)
        for (struct entry **pp = &c->hit_tab[b]; *pp != NULL;) {
            struct entry *e = *pp;
            int group = strncmp(e->key, "G\x1f", 2) == 0;
            int marker = strncmp(e->key, "none\x1f", 5) == 0;
            struct hit *h = e->val;
            if (marker || (!group && h->last < ts - wh)) {
                *pp = e->next;
                if (!marker) {
                    h->group->evicted = 1;
                    evset_add(c, e->hash);
                    corr_member_unlink(h);
                }
                corr_hit_free(e->val);
                free(e);
                continue;
            }
            pp = &e->next;
            kept++;
        }
    c->cached = kept;
    if (kept > CORR_CACHE_MAX * 3 / 4)
        corr_clear_tabs(c);
}

void corr_hit_free(void *p)
{
    free(p); /* a hit's strings share its allocation (corr_hit_new); groups and markers have none */
}
