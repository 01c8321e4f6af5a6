/* correlate-campaign.c: campaigns: one signature or actor against N internal hosts in a window. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "correlate-internal.h"

/* Returns the active campaign of gkey at ts (cache, then store), or NULL. */
static struct inc *active_campaign(struct corr *c, const char *gkey, double ts, double w)
{
    struct inc *camp = corr_tab_get(c->inc_tab, gkey);
    if (camp != NULL && ts <= camp->last + w && ts >= camp->first - w)
        return camp;
    char neg[600];
    corr_str_cat(neg, sizeof(neg), (const char *const[]){"none\x1f", gkey}, 2);
    if (corr_tab_get(c->hit_tab, neg) != NULL) /* none this chunk: alerts come in time order */
        return NULL;
    if (ts - w > c->horizon) /* none in the store can be active at ts */
        return NULL;
    sqlite3_bind_text(c->find, 1, gkey, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(c->find, 2, ts - w);
    sqlite3_bind_double(c->find, 3, ts + w);
    int found = sqlite3_step(c->find) == SQLITE_ROW;
    sqlite3_reset(c->find);
    if (found) /* load it through the usual path */
        return corr_get_incident(c, gkey, ts, w, "campaign", "", NULL, NULL, NULL, NULL);
    struct hit *mark = calloc(1, sizeof(*mark));
    if (mark != NULL && corr_tab_put(c->hit_tab, neg, mark) != 0)
        free(mark);
    return NULL;
}

static int hit_write(struct corr *c, struct hit *h)
{
    h->dirty = 0;
    if (h->stored) { /* one look-up instead of the upsert's two (hit writes were 18 %) */
        sqlite3_stmt *u = c->hit_upd;
        sqlite3_bind_double(u, 1, h->last);
        sqlite3_bind_int64(u, 2, h->incident_id);
        sqlite3_bind_text(u, 3, h->kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 4, h->value, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 5, h->asset, -1, SQLITE_STATIC);
        if (corr_step_done(c, u, "campaign hits") != 0)
            return -1;
        if (sqlite3_changes(c->t->db) == 1)
            return 0;
    }
    h->stored = 1;
    sqlite3_bind_text(c->hit_put, 1, h->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(c->hit_put, 2, h->value, -1, SQLITE_STATIC);
    sqlite3_bind_text(c->hit_put, 3, h->asset, -1, SQLITE_STATIC);
    sqlite3_bind_double(c->hit_put, 4, h->last);
    sqlite3_bind_int64(c->hit_put, 5, h->incident_id);
    return corr_step_done(c, c->hit_put, "campaign hits");
}

/* campaign_hits' key order (kind, value, asset; BINARY collation). */
static int hit_key_cmp(const void *a, const void *b)
{
    const struct hit *x = *(struct hit *const *)a, *y = *(struct hit *const *)b;
    int r = strcmp(x->kind, y->kind);
    if (r == 0)
        r = strcmp(x->value, y->value);
    return r != 0 ? r : strcmp(x->asset, y->asset);
}

/* Writes the dirty hits of one group (g) or of all groups (g NULL). */
int corr_hits_flush(struct corr *c, struct hit_group *g)
{
    if (g != NULL) {
        for (struct hit *h = g->dirty; h != NULL; h = h->next_dirty)
            if (h->dirty && hit_write(c, h) != 0)
                return -1;
        g->dirty = NULL;
        return 0;
    }
    /* in key order: the seeks walk the table's pages forwards instead of at random */
    if (c->ndirty > 1)
        qsort(c->dirty_hits, c->ndirty, sizeof(*c->dirty_hits), hit_key_cmp);
    for (size_t k = 0; k < c->ndirty; k++) {
        struct hit *h = c->dirty_hits[k];
        if (h->dirty && hit_write(c, h) != 0)
            return -1;
        h->group->dirty = NULL;
    }
    c->ndirty = 0;
    return 0;
}

/* Records that (kind, value) touched host; forms or grows the campaign. */
int corr_campaign(struct corr *c, const char *kind, const char *value, const char *host,
                  struct inc *hinc, const struct alert *a)
{
    char key[512];
    double w = c->cfg->campaign_window;
    corr_key_join(key, sizeof(key), kind, value, host);
    struct hit *h = corr_tab_get(c->hit_tab, key);
    if (h == NULL) {
        /* the first touch of a (kind, value) group loads its rows in the window: later misses
         * are hosts new to the window */
        char gk[512];
        corr_key_join(gk, sizeof(gk), "G", kind, value);
        struct hit_group *g = corr_tab_get(c->hit_tab, gk);
        if (g == NULL) {
            g = calloc(1, sizeof(struct hit)); /* freed by hit_free like a hit */
            if (g == NULL || corr_tab_put(c->hit_tab, gk, g) != 0) {
                free(g);
                return -1;
            }
            sqlite3_bind_text(c->hit_get, 1, kind, -1, SQLITE_STATIC);
            sqlite3_bind_text(c->hit_get, 2, value, -1, SQLITE_TRANSIENT);
            /* rows older than the window count as absent (a new host either way) */
            sqlite3_bind_double(c->hit_get, 3, a->ts - w);
            while (sqlite3_step(c->hit_get) == SQLITE_ROW) {
                const char *asset = (const char *)sqlite3_column_text(c->hit_get, 0);
                struct hit *x = asset ? corr_hit_new(kind, value, asset) : NULL;
                if (x == NULL)
                    break;
                x->group = g;
                corr_member_front(x); /* oldest first in the query: the latest ends first */
                x->last = sqlite3_column_double(c->hit_get, 1);
                x->incident_id = sqlite3_column_int64(c->hit_get, 2);
                x->stored = 1;
                corr_key_join(key, sizeof(key), kind, value, asset);
                if (corr_tab_put(c->hit_tab, key, x) != 0) {
                    corr_hit_free(x);
                    break;
                }
            }
            sqlite3_reset(c->hit_get);
            sqlite3_bind_text(c->hit_old, 1, kind, -1, SQLITE_STATIC);
            sqlite3_bind_text(c->hit_old, 2, value, -1, SQLITE_TRANSIENT);
            sqlite3_bind_double(c->hit_old, 3, a->ts - w);
            g->has_old = sqlite3_step(c->hit_old) == SQLITE_ROW;
            sqlite3_reset(c->hit_old);
            corr_key_join(key, sizeof(key), kind, value, host);
            h = corr_tab_get(c->hit_tab, key);
        }
    }
    if (h == NULL) {
        char gk[512];
        corr_key_join(gk, sizeof(gk), "G", kind, value);
        if ((h = corr_hit_new(kind, value, host)) == NULL ||
            corr_tab_put(c->hit_tab, key, h) != 0) {
            free(h);
            return -1;
        }
        h->group = corr_tab_get(c->hit_tab, gk);
        if (h->group != NULL)
            corr_member_front(h);
        h->last = -1;
        if (h->group == NULL)
            return -1;
        /* its row, as if it had never left the cache (if the store can have one) */
        if (h->group->evicted && (h->group->has_old || corr_evset_has(c, corr_hash(key)))) {
            sqlite3_bind_text(c->hit_one, 1, kind, -1, SQLITE_STATIC);
            sqlite3_bind_text(c->hit_one, 2, value, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(c->hit_one, 3, host, -1, SQLITE_TRANSIENT);
            if (sqlite3_step(c->hit_one) == SQLITE_ROW) {
                h->last = sqlite3_column_double(c->hit_one, 0);
                h->incident_id = sqlite3_column_int64(c->hit_one, 1);
                h->stored = 1;
            }
            sqlite3_reset(c->hit_one);
        }
    }
    int fresh = h->last < 0 || a->ts - h->last > w; /* a host new to this window */
    double prev = h->last;
    if (a->ts > h->last || h->incident_id != hinc->id) {
        if (a->ts > h->last) {
            h->last = a->ts;
            corr_member_front(h);
        }
        h->incident_id = hinc->id;
        if (!h->dirty) {
            if (c->ndirty == c->capdirty) {
                size_t nc = c->capdirty ? c->capdirty * 2 : 1024;
                struct hit **d = realloc(c->dirty_hits, nc * sizeof(*d));
                if (d == NULL)
                    return -1;
                c->dirty_hits = d;
                c->capdirty = nc;
            }
            c->dirty_hits[c->ndirty++] = h;
            h->dirty = 1;
            h->next_dirty = h->group->dirty;
            h->group->dirty = h;
        }
    }
    char gkey[512];
    corr_str_cat(gkey, sizeof(gkey), (const char *const[]){"campaign:", kind, "=", value}, 4);
    struct inc *camp = active_campaign(c, gkey, a->ts, w);
    if (camp != NULL) {
        if (hinc->campaign_id == 0) {
            hinc->campaign_id = camp->id;
            hinc->dirty = 1;
        }
        if (prev < camp->first - w) /* a host this campaign has not counted yet */
            camp->hosts++;
        if (hinc->campaign_id == camp->id)
            corr_apply(c, camp, a, host);
        return 0;
    }
    /* an incident belongs to one campaign: the first (actor before signature) */
    if (!fresh || hinc->campaign_id != 0)
        return 0;
    int n = 0; /* hosts of the group in the window, from memory: the group is loaded whole */
    for (struct hit *m = h->group->members; m != NULL && m->last >= a->ts - w; m = m->next_member)
        n++;
    if (n < c->cfg->campaign_hosts)
        return 0;
    if (corr_hits_flush(c, h->group) != 0) /* the link below reads the group's rows */
        return -1;
    char title[512];
    if (strcmp(kind, "sig") == 0)
        snprintf(title, sizeof(title), "Campaign: \"%s\" against %d internal hosts",
                 a->sig ? a->sig : value, n);
    else
        snprintf(title, sizeof(title), "Campaign: actor %s against %d internal hosts", value, n);
    camp = corr_get_incident(c, gkey, a->ts, w, "campaign", title, NULL, NULL,
                             strcmp(kind, "actor") == 0 ? value : NULL, NULL);
    if (camp == NULL)
        return -1;
    camp->hosts = n;
    camp->p[P_CAMPAIGN] = c->cfg->campaign_points;
    hinc->campaign_id = camp->id;
    hinc->dirty = 1;
    corr_apply(c, camp, a, host);
    /* the member incidents that formed it: those in memory (maybe not stored yet) here, the
     * others in the store */
    for (struct hit *m = h->group->members; m != NULL && m->last >= a->ts - w; m = m->next_member) {
        char ik[32];
        snprintf(ik, sizeof(ik), "#%lld", m->incident_id);
        struct inc *mi = m->last >= a->ts - w ? corr_tab_get(c->id_tab, ik) : NULL;
        if (mi != NULL && mi != camp && mi->campaign_id == 0) {
            mi->campaign_id = camp->id;
            mi->dirty = 1;
        }
    }
    sqlite3_bind_int64(c->link, 1, camp->id);
    sqlite3_bind_text(c->link, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(c->link, 3, value, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(c->link, 4, a->ts - w);
    return corr_step_done(c, c->link, "campaign link");
}
