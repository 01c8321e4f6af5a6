/* correlate.c: pending alerts into incidents: window, campaigns, kill chain, explained score. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/enrich.h"
#include "vigil/triage.h"

/* alerts per transaction (campaign host counts depend on where chunks end: changing this
 * changes results; 50000 was 3 % faster, not worth it) */
#define CORR_CHUNK 20000
#define STR_(x) #x
#define STR(x) STR_(x)
#define CORR_BUCKETS 262144
#define CORR_CACHE_MAX 200000 /* cached incidents + hits kept across chunks (bounded memory) */

/* An incident being updated; written back at the end of each chunk. */
struct inc {
    long long id, count, campaign_id;
    double first, last;
    int p[8]; /* sev, sigsev, asset, geo, file, volume, stage, campaign */
    int stage_mask, max_stage, score, severity, hosts, dirty;
    json_t *esc; /* escalation reasons */
    char *asset, *actor, *kind;
    int is_new; /* not in the store yet: inserted whole at the end of the chunk */
    char *ref, *gkey, *title, *unit, *asset_ip;
};
enum { P_SEV, P_SIGSEV, P_ASSET, P_GEO, P_FILE, P_VOLUME, P_STAGE, P_CAMPAIGN };

/*
 * A campaign_hits row. Refreshes are written back at the end of the chunk; before a campaign
 * count, the dirty rows of that (kind, value) group are written so the count is exact.
 */
struct hit_group;
struct hit {
    double last;
    long long incident_id;
    int dirty;
    struct hit *next_dirty; /* in its group */
    /* every hit of its group (the group is loaded whole), the latest touched first */
    struct hit *next_member, *prev_member;
    struct hit_group *group;
    char *kind, *value, *asset;
};
struct hit_group {
    struct hit *dirty;
    struct hit *members;
    int evicted; /* evict() dropped members: a miss may be a host the store knows */
};

static void member_unlink(struct hit *h)
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
static void member_front(struct hit *h)
{
    if (h->group->members == h)
        return;
    if (h->prev_member != NULL || h->next_member != NULL)
        member_unlink(h);
    h->next_member = h->group->members;
    if (h->next_member != NULL)
        h->next_member->prev_member = h;
    h->group->members = h;
}

struct entry {
    char *key;
    void *val;
    struct entry *next;
};

struct corr {
    struct tdb *t;
    const struct tcfg *cfg;
    struct corr_stats *st;
    char *errbuf;
    struct entry *inc_tab[CORR_BUCKETS], *hit_tab[CORR_BUCKETS];
    struct entry *id_tab[CORR_BUCKETS]; /* "#id" -> cached incident (not owned) */
    size_t cached;
    struct hit **dirty_hits; /* every dirty hit, for the end of the chunk */
    size_t ndirty, capdirty;
    sqlite3_stmt *find, *by_id, *insert, *update, *ev_upd, *hit_get, *hit_put, *link, *flow_inc,
        *hist, *seq_get, *seq_put, *hit_one;
    struct tsup_list supp;
    double now;
    long long next_id; /* the last incident id given out */
    int seq_year;      /* the last INC year used and its counter (written at the chunk's end) */
    long long seq;
    int seq_dirty;
    /*
     * No incident outside the cache can have last_seen above horizon: the store's newest at the
     * start, raised by every incident that leaves the cache or its gkey slot. An alert at ts
     * with ts - window > horizon needs no look-up in the store (a new key in a bulk run).
     */
    double horizon;
    long long data_version; /* PRAGMA data_version: another writer sets horizon to infinity */
};

static int hits_flush(struct corr *c, struct hit_group *g);

/* buf = a SEP b SEP c (c may be NULL: a SEP b), truncated to len - 1 like snprintf; the hit
 * keys are built for every alert, and snprintf was 11 % of correlation. */
static void key_join(char *buf, size_t len, const char *a, const char *b, const char *c)
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
static void hit_free(void *p);

static unsigned bucket(const char *k)
{
    unsigned h = 2166136261u;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 16777619u;
    return h % CORR_BUCKETS;
}

static void *tab_get(struct entry **tab, const char *k)
{
    for (struct entry *e = tab[bucket(k)]; e; e = e->next)
        if (strcmp(e->key, k) == 0)
            return e->val;
    return NULL;
}

static size_t *tab_count;

static int tab_put(struct entry **tab, const char *k, void *v)
{
    if (tab_count != NULL)
        (*tab_count)++;
    struct entry *e = malloc(sizeof(*e));
    if (e == NULL || (e->key = strdup(k)) == NULL) {
        free(e);
        return -1;
    }
    unsigned b = bucket(k);
    e->val = v;
    e->next = tab[b];
    tab[b] = e;
    return 0;
}

static void inc_free(struct inc *i)
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

int corr_level(const struct tcfg *cfg, int score)
{
    for (int i = 0; i < 3; i++)
        if (score >= cfg->thresholds[i])
            return i + 1;
    return 4;
}

const char *corr_level_name(int level, int vi)
{
    static const char *const en[] = {"?", "critical", "high", "medium", "low"};
    static const char *const v[] = {"?", "nghiêm trọng", "cao", "trung bình", "thấp"};
    if (level < 1 || level > 4)
        level = 0;
    return vi ? v[level] : en[level];
}

static int fail(struct corr *c, const char *what)
{
    snprintf(c->errbuf, TRIAGE_ERRBUF, "%s: %s", what, sqlite3_errmsg(c->t->db));
    return -1;
}

static int step_done(struct corr *c, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(c, what);
}

static void history(struct corr *c, long long id, const char *field, const char *old,
                    const char *nw)
{
    sqlite3_stmt *h = c->hist;
    sqlite3_bind_int64(h, 1, id);
    sqlite3_bind_double(h, 2, c->now);
    sqlite3_bind_text(h, 3, field, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(h, 4, old, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(h, 5, nw, -1, SQLITE_TRANSIENT);
    step_done(c, h, "history");
}

static struct inc *inc_from_row(sqlite3_stmt *s)
{
    struct inc *i = calloc(1, sizeof(*i));
    if (i == NULL)
        return NULL;
    i->id = sqlite3_column_int64(s, 0);
    i->first = sqlite3_column_double(s, 1);
    i->last = sqlite3_column_double(s, 2);
    i->count = sqlite3_column_int64(s, 3);
    for (int k = 0; k < 8; k++)
        i->p[k] = sqlite3_column_int(s, 4 + k);
    i->stage_mask = sqlite3_column_int(s, 12);
    i->max_stage = sqlite3_column_int(s, 13);
    i->score = sqlite3_column_int(s, 14);
    i->severity = sqlite3_column_int(s, 15);
    const char *esc = (const char *)sqlite3_column_text(s, 16);
    i->esc = esc ? json_loads(esc, 0, NULL) : NULL;
    if (i->esc == NULL)
        i->esc = json_array();
    i->campaign_id = sqlite3_column_int64(s, 17);
    i->hosts = sqlite3_column_int(s, 18);
    const char *kind = (const char *)sqlite3_column_text(s, 19);
    i->kind = strdup(kind ? kind : "group");
    return i;
}

#define INC_COLS                                                                                   \
    "id, first_seen, last_seen, count, p_sev, p_sigsev, p_asset, p_geo, p_file, p_volume,"         \
    " p_stage, p_campaign, stage_mask, max_stage, score, severity, escalations, campaign_id,"      \
    " hosts, kind"

/* Writes the INC counter of the current year (in the chunk's transaction). Returns 0 or -1. */
static int seq_write(struct corr *c)
{
    char key[32];
    if (!c->seq_dirty)
        return 0;
    snprintf(key, sizeof(key), "seq-%d", c->seq_year);
    sqlite3_bind_text(c->seq_put, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(c->seq_put, 2, c->seq);
    c->seq_dirty = 0;
    return step_done(c, c->seq_put, "sequence");
}

/* Returns the next INC-YYYY-NNNNNN of year, in ref (>= 20 bytes). */
static int next_ref(struct corr *c, int year, char *ref, size_t len)
{
    char key[32];
    long long n = 0;
    if (year == c->seq_year) {
        n = c->seq;
    } else {
        if (seq_write(c) != 0) /* the other year's counter first */
            return -1;
        snprintf(key, sizeof(key), "seq-%d", year);
        sqlite3_bind_text(c->seq_get, 1, key, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(c->seq_get) == SQLITE_ROW)
            n = sqlite3_column_int64(c->seq_get, 0);
        sqlite3_reset(c->seq_get);
    }
    n++;
    c->seq_year = year;
    c->seq = n;
    c->seq_dirty = 1;
    snprintf(ref, len, "INC-%04d-%06lld", year, n);
    return 0;
}

static void raise_horizon(struct corr *c, double last)
{
    if (last > c->horizon)
        c->horizon = last;
}

/* Finds the open incident of gkey around ts (cache, then store) or creates one. */
/* What is known of the asset end of an alert: from the sensor's EVE, else the inventory. */
struct side {
    int internal;       /* ours: in the inventory or HOME_NET */
    const char *unit;   /* the owning unit, or NULL (the default unit) */
    const char *system; /* the asset's name, or NULL */
    int crit;           /* enum enrich_criticality */
};

static struct inc *get_incident(struct corr *c, const char *gkey, double ts, double window,
                                const char *kind, const char *title, const char *asset,
                                const char *asset_ip, const char *actor, const struct side *sd)
{
    struct inc *i = tab_get(c->inc_tab, gkey);
    if (i != NULL && ts <= i->last + window && ts >= i->first - window)
        return i;
    sqlite3_stmt *f = c->find;
    sqlite3_bind_text(f, 1, gkey, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(f, 2, ts - window);
    sqlite3_bind_double(f, 3, ts + window);
    struct inc *ni = NULL;
    if (ts - window <= c->horizon && sqlite3_step(f) == SQLITE_ROW) {
        char ik[32];
        snprintf(ik, sizeof(ik), "#%lld", (long long)sqlite3_column_int64(f, 0));
        struct inc *cached = tab_get(c->id_tab, ik);
        if (cached != NULL) { /* already in memory under another key */
            sqlite3_reset(f);
            return cached;
        }
        ni = inc_from_row(f);
    }
    sqlite3_reset(f);
    if (ni == NULL) {
        char ref[48];
        time_t tt = (time_t)ts;
        struct tm tm;
        gmtime_r(&tt, &tm);
        if (next_ref(c, tm.tm_year + 1900, ref, sizeof(ref)) != 0)
            return NULL;
        ni = calloc(1, sizeof(*ni));
        if (ni == NULL)
            return NULL;
        ni->id = ++c->next_id; /* inserted by flush_inc; we hold the write lock */
        ni->is_new = 1;
        ni->dirty = 1;
        ni->ref = strdup(ref);
        ni->gkey = strdup(gkey);
        ni->title = strdup(title);
        ni->unit = strdup(sd && sd->unit ? sd->unit : c->cfg->default_unit);
        ni->asset_ip = asset_ip ? strdup(asset_ip) : NULL;
        if (!ni->ref || !ni->gkey || !ni->title || !ni->unit) {
            inc_free(ni);
            return NULL;
        }
        ni->first = ni->last = ts;
        ni->esc = json_array();
        ni->kind = strdup(kind);
        ni->hosts = 1;
        ni->severity = 4;
        ni->p[P_ASSET] = sd && sd->crit >= 1 && sd->crit <= 4 ? c->cfg->crit_points[sd->crit] : 0;
        history(c, ni->id, "status", NULL, "new");
        c->st->incidents_new++;
        if (strcmp(kind, "campaign") == 0)
            c->st->campaigns++;
    }
    char ik[32];
    snprintf(ik, sizeof(ik), "#%lld", ni->id);
    if (tab_put(c->id_tab, ik, ni) != 0) {
        inc_free(ni);
        return NULL;
    }
    ni->asset = asset ? strdup(asset) : NULL;
    ni->actor = actor ? strdup(actor) : NULL;
    if (i != NULL) { /* the cached one left the window: replace it (it is written back first) */
        raise_horizon(c, i->last);
        struct entry *e;
        for (e = c->inc_tab[bucket(gkey)]; e && strcmp(e->key, gkey) != 0; e = e->next)
            ;
        char *k = strdup(gkey);
        if (k != NULL && tab_put(c->inc_tab, k, ni) == 0) {
            free(k);
            /* keep the old one reachable under a unique key so it is still flushed */
            char old[64];
            snprintf(old, sizeof(old), "#%lld", i->id);
            free(e->key);
            e->key = strdup(old);
            return ni;
        }
        free(k);
        inc_free(ni);
        return NULL;
    }
    if (tab_put(c->inc_tab, gkey, ni) != 0) {
        inc_free(ni);
        return NULL;
    }
    return ni;
}

struct alert {
    long long id, sid;
    double ts;
    const char *type, *src, *dest, *sig, *geo;
    const char *asset; /* the sensor's src_asset/dest_asset (ingest's compact JSON), or NULL */
    int sev, sigsev, stage, filehit;
};

/* Adds one alert's evidence to incident i. */
static void apply(struct corr *c, struct inc *i, const struct alert *a, const char *host)
{
    const struct tcfg *cfg = c->cfg;
    int old_score = i->score, old_level = i->severity;
    i->count++;
    if (a->ts < i->first)
        i->first = a->ts;
    if (a->ts > i->last)
        i->last = a->ts;
    if (a->sev >= 1 && a->sev <= 3 && cfg->sev_points[a->sev] > i->p[P_SEV])
        i->p[P_SEV] = cfg->sev_points[a->sev];
    if (cfg->sigsev_points[a->sigsev] > i->p[P_SIGSEV])
        i->p[P_SIGSEV] = cfg->sigsev_points[a->sigsev];
    int g = tcfg_geo_points(cfg, a->geo);
    if (g > i->p[P_GEO])
        i->p[P_GEO] = g;
    int fp = a->filehit == 2 ? cfg->yara_points : a->filehit == 1 ? cfg->file_points : 0;
    if (fp > i->p[P_FILE])
        i->p[P_FILE] = fp;
    int vol = (int)(2 * floor(log2((double)i->count)));
    i->p[P_VOLUME] = vol > cfg->volume_max ? cfg->volume_max : vol;
    if (a->stage > 0) {
        int bit = 1 << a->stage;
        if (a->stage > i->max_stage && i->max_stage > 0) {
            char why[512], t[32];
            snprintf(why, sizeof(why), "kill-chain: %s -> %s on %s (sid %lld \"%s\" at %s)",
                     tcfg_stage_name(i->max_stage), tcfg_stage_name(a->stage), host, a->sid,
                     a->sig ? a->sig : "", tcfg_fmt_time(a->ts, t, sizeof(t)));
            json_array_append_new(i->esc, json_string(why));
            i->p[P_STAGE] = cfg->stage_points * (int)json_array_size(i->esc);
        }
        i->stage_mask |= bit;
        if (a->stage > i->max_stage)
            i->max_stage = a->stage;
    }
    int score = 0;
    for (int k = 0; k < 8; k++)
        score += i->p[k];
    i->score = score > 100 ? 100 : score;
    i->severity = corr_level(cfg, i->score);
    if (i->count > 1 && i->score > old_score)
        c->st->incidents_raised++;
    if (i->count > 1 && i->severity < old_level) {
        char o[32], n[32];
        snprintf(o, sizeof(o), "%s (%d)", corr_level_name(old_level, 0), old_score);
        snprintf(n, sizeof(n), "%s (%d)", corr_level_name(i->severity, 0), i->score);
        history(c, i->id, "severity", o, n);
    }
    i->dirty = 1;
}

static json_t *reasons(const struct tcfg *cfg, const struct inc *i)
{
    static const char *const what[] = {"alert severity",        "signature_severity metadata",
                                       "asset criticality",     "actor GeoIP/ASN",
                                       "file/YARA evidence",    "volume",
                                       "kill-chain escalation", "campaign breadth"};
    json_t *r = json_array();
    for (int k = 0; k < 8; k++) {
        if (i->p[k] == 0)
            continue;
        char buf[256];
        if (k == P_VOLUME)
            snprintf(buf, sizeof(buf), "volume: %lld alerts", i->count);
        else if (k == P_CAMPAIGN)
            snprintf(buf, sizeof(buf), "campaign breadth: %d hosts", i->hosts);
        else if (k == P_STAGE)
            snprintf(buf, sizeof(buf), "kill-chain escalation: %zu step(s)",
                     json_array_size(i->esc));
        else
            snprintf(buf, sizeof(buf), "%s", what[k]);
        json_array_append_new(r, json_pack("{s:i,s:s}", "points", i->p[k], "reason", buf));
    }
    (void)cfg;
    return r;
}

/* Binds the correlation fields of i at parameters base+1 .. base+20 (the UPDATE's order). */
static void bind_score(struct corr *c, sqlite3_stmt *u, int base, const struct inc *i,
                       const char *rs, const char *es)
{
    sqlite3_bind_double(u, base + 1, i->first);
    sqlite3_bind_double(u, base + 2, i->last);
    sqlite3_bind_int64(u, base + 3, i->count);
    for (int k = 0; k < 8; k++)
        sqlite3_bind_int(u, base + 4 + k, i->p[k]);
    sqlite3_bind_int(u, base + 12, i->stage_mask);
    sqlite3_bind_int(u, base + 13, i->max_stage);
    sqlite3_bind_int(u, base + 14, i->score);
    sqlite3_bind_int(u, base + 15, i->severity);
    sqlite3_bind_text(u, base + 16, rs, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(u, base + 17, es, -1, SQLITE_TRANSIENT);
    if (i->campaign_id)
        sqlite3_bind_int64(u, base + 18, i->campaign_id);
    else
        sqlite3_bind_null(u, base + 18);
    sqlite3_bind_int(u, base + 19, i->hosts);
    sqlite3_bind_double(u, base + 20, c->now);
}

/* Writes a dirty incident: one INSERT for a new one (with its routing), else one UPDATE. */
static int flush_inc(struct corr *c, struct inc *i)
{
    if (!i->dirty)
        return 0;
    json_t *r = reasons(c->cfg, i);
    char *rs = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    char *es = json_dumps(i->esc, JSON_COMPACT);
    sqlite3_stmt *u;
    if (i->is_new) {
        u = c->insert;
        sqlite3_bind_int64(u, 1, i->id);
        sqlite3_bind_text(u, 2, i->ref, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 3, i->gkey, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 4, i->kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 5, i->title, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 6, i->unit, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 7, i->asset, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 8, i->asset_ip, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 9, i->actor, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 10, c->cfg->default_tlp, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 11, c->cfg->default_pap, -1, SQLITE_STATIC);
        sqlite3_bind_double(u, 12, i->first);
        sqlite3_bind_double(u, 13, c->now);
        bind_score(c, u, 13, i, rs, es);
        i->is_new = 0;
    } else {
        u = c->update;
        bind_score(c, u, 0, i, rs, es);
        sqlite3_bind_int64(u, 21, i->id);
    }
    free(rs);
    free(es);
    i->dirty = 0;
    return step_done(c, u, "write incident");
}

static void clear_tabs(struct corr *c)
{
    for (int b = 0; b < CORR_BUCKETS; b++) {
        for (struct entry *e = c->inc_tab[b], *n; e; e = n) {
            n = e->next;
            raise_horizon(c, ((struct inc *)e->val)->last);
            inc_free(e->val);
            free(e->key);
            free(e);
        }
        for (struct entry *e = c->hit_tab[b], *n; e; e = n) {
            n = e->next;
            hit_free(e->val);
            free(e->key);
            free(e);
        }
        for (struct entry *e = c->id_tab[b], *n; e; e = n) {
            n = e->next;
            free(e->key);
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
static void evict(struct corr *c, double ts)
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
                raise_horizon(c, i->last);
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
                free(e->key);
                free(e);
            } else {
                pp = &e->next;
                kept++;
            }
        }
    for (struct entry *e = doomed, *n; e != NULL; e = n) {
        n = e->next;
        inc_free(e->val);
        free(e->key);
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
                    member_unlink(h);
                }
                hit_free(e->val);
                free(e->key);
                free(e);
                continue;
            }
            pp = &e->next;
            kept++;
        }
    c->cached = kept;
    if (kept > CORR_CACHE_MAX * 3 / 4)
        clear_tabs(c);
}

static int flush_all(struct corr *c)
{
    if (seq_write(c) != 0)
        return -1;
    for (int b = 0; b < CORR_BUCKETS; b++)
        for (struct entry *e = c->inc_tab[b]; e; e = e->next)
            if (flush_inc(c, e->val) != 0)
                return -1;
    return hits_flush(c, NULL);
}

/* Returns the active campaign of gkey at ts (cache, then store), or NULL. */
static struct inc *active_campaign(struct corr *c, const char *gkey, double ts, double w)
{
    struct inc *camp = tab_get(c->inc_tab, gkey);
    if (camp != NULL && ts <= camp->last + w && ts >= camp->first - w)
        return camp;
    char neg[600];
    snprintf(neg, sizeof(neg), "none\x1f%s", gkey);
    if (tab_get(c->hit_tab, neg) != NULL) /* none this chunk: alerts come in time order */
        return NULL;
    if (ts - w > c->horizon) /* none in the store can be active at ts */
        return NULL;
    sqlite3_bind_text(c->find, 1, gkey, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(c->find, 2, ts - w);
    sqlite3_bind_double(c->find, 3, ts + w);
    int found = sqlite3_step(c->find) == SQLITE_ROW;
    sqlite3_reset(c->find);
    if (found) /* load it through the usual path */
        return get_incident(c, gkey, ts, w, "campaign", "", NULL, NULL, NULL, NULL);
    struct hit *mark = calloc(1, sizeof(*mark));
    if (mark != NULL && tab_put(c->hit_tab, neg, mark) != 0)
        free(mark);
    return NULL;
}

static int hit_write(struct corr *c, struct hit *h)
{
    sqlite3_bind_text(c->hit_put, 1, h->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(c->hit_put, 2, h->value, -1, SQLITE_STATIC);
    sqlite3_bind_text(c->hit_put, 3, h->asset, -1, SQLITE_STATIC);
    sqlite3_bind_double(c->hit_put, 4, h->last);
    sqlite3_bind_int64(c->hit_put, 5, h->incident_id);
    h->dirty = 0;
    return step_done(c, c->hit_put, "campaign hits");
}

/* Writes the dirty hits of one group (g) or of all groups (g NULL). */
static int hits_flush(struct corr *c, struct hit_group *g)
{
    if (g != NULL) {
        for (struct hit *h = g->dirty; h != NULL; h = h->next_dirty)
            if (h->dirty && hit_write(c, h) != 0)
                return -1;
        g->dirty = NULL;
        return 0;
    }
    for (size_t k = 0; k < c->ndirty; k++) {
        struct hit *h = c->dirty_hits[k];
        if (h->dirty && hit_write(c, h) != 0)
            return -1;
        h->group->dirty = NULL;
    }
    c->ndirty = 0;
    return 0;
}

static void hit_free(void *p)
{
    struct hit *h = p;
    if (h != NULL && h->kind != NULL) { /* groups and markers have no strings */
        free(h->kind);
        free(h->value);
        free(h->asset);
    }
    free(p);
}

/* Records that (kind, value) touched host; forms or grows the campaign. */
static int campaign(struct corr *c, const char *kind, const char *value, const char *host,
                    struct inc *hinc, const struct alert *a)
{
    char key[512];
    double w = c->cfg->campaign_window;
    key_join(key, sizeof(key), kind, value, host);
    struct hit *h = tab_get(c->hit_tab, key);
    if (h == NULL) {
        /* the first touch of a (kind, value) group loads its rows in the window: later misses
         * are hosts new to the window */
        char gk[512];
        key_join(gk, sizeof(gk), "G", kind, value);
        struct hit_group *g = tab_get(c->hit_tab, gk);
        if (g == NULL) {
            g = calloc(1, sizeof(struct hit)); /* freed by hit_free like a hit */
            if (g == NULL || tab_put(c->hit_tab, gk, g) != 0) {
                free(g);
                return -1;
            }
            sqlite3_bind_text(c->hit_get, 1, kind, -1, SQLITE_STATIC);
            sqlite3_bind_text(c->hit_get, 2, value, -1, SQLITE_TRANSIENT);
            /* rows older than the window count as absent (a new host either way) */
            sqlite3_bind_double(c->hit_get, 3, a->ts - w);
            while (sqlite3_step(c->hit_get) == SQLITE_ROW) {
                const char *asset = (const char *)sqlite3_column_text(c->hit_get, 0);
                struct hit *x = calloc(1, sizeof(*x));
                if (x == NULL || asset == NULL)
                    break;
                x->group = g;
                member_front(x); /* oldest first in the query: the latest ends first */
                x->kind = strdup(kind);
                x->value = strdup(value);
                x->asset = strdup(asset);
                x->last = sqlite3_column_double(c->hit_get, 1);
                x->incident_id = sqlite3_column_int64(c->hit_get, 2);
                key_join(key, sizeof(key), kind, value, asset);
                if (!x->kind || !x->value || !x->asset || tab_put(c->hit_tab, key, x) != 0) {
                    hit_free(x);
                    break;
                }
            }
            sqlite3_reset(c->hit_get);
            key_join(key, sizeof(key), kind, value, host);
            h = tab_get(c->hit_tab, key);
        }
    }
    if (h == NULL) {
        char gk[512];
        key_join(gk, sizeof(gk), "G", kind, value);
        if ((h = calloc(1, sizeof(*h))) == NULL || tab_put(c->hit_tab, key, h) != 0) {
            free(h);
            return -1;
        }
        h->group = tab_get(c->hit_tab, gk);
        if (h->group != NULL)
            member_front(h);
        h->kind = strdup(kind);
        h->value = strdup(value);
        h->asset = strdup(host);
        h->last = -1;
        if (!h->kind || !h->value || !h->asset || h->group == NULL)
            return -1;
        if (h->group->evicted) { /* its row, as if it had never left the cache */
            sqlite3_bind_text(c->hit_one, 1, kind, -1, SQLITE_STATIC);
            sqlite3_bind_text(c->hit_one, 2, value, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(c->hit_one, 3, host, -1, SQLITE_TRANSIENT);
            if (sqlite3_step(c->hit_one) == SQLITE_ROW) {
                h->last = sqlite3_column_double(c->hit_one, 0);
                h->incident_id = sqlite3_column_int64(c->hit_one, 1);
            }
            sqlite3_reset(c->hit_one);
        }
    }
    int fresh = h->last < 0 || a->ts - h->last > w; /* a host new to this window */
    double prev = h->last;
    if (a->ts > h->last || h->incident_id != hinc->id) {
        if (a->ts > h->last) {
            h->last = a->ts;
            member_front(h);
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
    snprintf(gkey, sizeof(gkey), "campaign:%s=%s", kind, value);
    struct inc *camp = active_campaign(c, gkey, a->ts, w);
    if (camp != NULL) {
        if (hinc->campaign_id == 0) {
            hinc->campaign_id = camp->id;
            hinc->dirty = 1;
        }
        if (prev < camp->first - w) /* a host this campaign has not counted yet */
            camp->hosts++;
        if (hinc->campaign_id == camp->id)
            apply(c, camp, a, host);
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
    if (hits_flush(c, h->group) != 0) /* the link below reads the group's rows */
        return -1;
    char title[512];
    if (strcmp(kind, "sig") == 0)
        snprintf(title, sizeof(title), "Campaign: \"%s\" against %d internal hosts",
                 a->sig ? a->sig : value, n);
    else
        snprintf(title, sizeof(title), "Campaign: actor %s against %d internal hosts", value, n);
    camp = get_incident(c, gkey, a->ts, w, "campaign", title, NULL, NULL,
                        strcmp(kind, "actor") == 0 ? value : NULL, NULL);
    if (camp == NULL)
        return -1;
    camp->hosts = n;
    camp->p[P_CAMPAIGN] = c->cfg->campaign_points;
    hinc->campaign_id = camp->id;
    hinc->dirty = 1;
    apply(c, camp, a, host);
    /* the member incidents that formed it: those in memory (maybe not stored yet) here, the
     * others in the store */
    for (struct hit *m = h->group->members; m != NULL && m->last >= a->ts - w; m = m->next_member) {
        char ik[32];
        snprintf(ik, sizeof(ik), "#%lld", m->incident_id);
        struct inc *mi = m->last >= a->ts - w ? tab_get(c->id_tab, ik) : NULL;
        if (mi != NULL && mi != camp && mi->campaign_id == 0) {
            mi->campaign_id = camp->id;
            mi->dirty = 1;
        }
    }
    sqlite3_bind_int64(c->link, 1, camp->id);
    sqlite3_bind_text(c->link, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(c->link, 3, value, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(c->link, 4, a->ts - w);
    return step_done(c, c->link, "campaign link");
}

/*
 * The asset facts of one end (ip) of an alert: the sensor's answer eve ({status, unit, system,
 * criticality}) when the event carries one, else triage's own inventory look-up. Strings point
 * into eve or the inventory.
 */
static void side_of(const struct tcfg *cfg, const json_t *eve, const char *ip, struct side *out)
{
    memset(out, 0, sizeof(*out));
    const char *status = json_string_value(json_object_get(eve, "status"));
    if (status != NULL && strcmp(status, "external") == 0)
        return;
    if (status != NULL && strcmp(status, "unknown-internal") == 0) {
        out->internal = 1;
        return;
    }
    if (status != NULL && strcmp(status, "known") == 0 &&
        json_is_string(json_object_get(eve, "unit"))) {
        out->internal = 1;
        out->unit = json_string_value(json_object_get(eve, "unit"));
        out->system = json_string_value(json_object_get(eve, "system"));
        out->crit = tcfg_crit_level(json_string_value(json_object_get(eve, "criticality")));
        return;
    }
    struct tcfg_addr ta;
    tcfg_addr(cfg, ip, &ta);
    out->internal = ta.internal;
    if (ta.asset != NULL) {
        out->unit = ta.asset->unit;
        out->system = ta.asset->system;
        out->crit = (int)ta.asset->criticality;
    }
}

static int group(struct corr *c, const struct alert *a, long long *inc_id, int *supp,
                 const char *host, const char *actor, const char *asset, const struct side *sd,
                 int actor_internal);

static int process(struct corr *c, const struct alert *a, long long *inc_id, int *supp)
{
    const struct tcfg *cfg = c->cfg;
    *inc_id = 0;
    *supp = 0;
    if (strcmp(a->type, "fileinfo") == 0) { /* joins the incident of its flow */
        if (a->filehit == 0)
            return 0;
        sqlite3_bind_int64(c->flow_inc, 1, a->id);
        long long iid = 0;
        if (sqlite3_step(c->flow_inc) == SQLITE_ROW)
            iid = sqlite3_column_int64(c->flow_inc, 0);
        sqlite3_reset(c->flow_inc);
        if (iid == 0)
            return 0;
        char k[64];
        snprintf(k, sizeof(k), "#%lld", iid);
        struct inc *i = tab_get(c->id_tab, k);
        if (i == NULL) {
            sqlite3_bind_int64(c->by_id, 1, iid);
            if (sqlite3_step(c->by_id) == SQLITE_ROW)
                i = inc_from_row(c->by_id);
            sqlite3_reset(c->by_id);
            if (i == NULL)
                return 0;
            if (tab_put(c->inc_tab, k, i) != 0 || tab_put(c->id_tab, k, i) != 0)
                return -1;
        }
        int fp = a->filehit == 2 ? cfg->yara_points : cfg->file_points;
        if (fp > i->p[P_FILE]) {
            i->p[P_FILE] = fp;
            i->count--; /* apply() counts; a file is evidence, not an alert */
            struct alert none = *a;
            none.sev = none.sigsev = none.stage = 0;
            apply(c, i, &none, "");
        }
        c->st->files++;
        *inc_id = iid;
        return 0;
    }
    json_t *eve = a->asset ? json_loads(a->asset, 0, NULL) : NULL;
    struct side ss, ds;
    side_of(cfg, json_object_get(eve, "src"), a->src, &ss);
    side_of(cfg, json_object_get(eve, "dest"), a->dest, &ds);
    int si = ss.internal, di = ds.internal;
    /* C2 and exfiltration are about the internal host calling out, even to an internal server
     * (a C2 domain asked of the city's resolver); recon and exploit about the target */
    int out = si && (!di || a->stage >= STAGE_C2);
    const char *host = out ? a->src : a->dest;
    const struct side *sd = host == a->dest ? &ds : &ss;
    const char *actor = host == a->dest ? a->src : a->dest;
    if (host == NULL)
        host = "-";
    if (actor == NULL)
        actor = "-";
    const char *asset = sd->system ? sd->system : host;
    int rc = group(c, a, inc_id, supp, host, actor, asset, sd, host == a->dest ? si : di);
    json_decref(eve);
    return rc;
}

/* Groups alert a (asset end host, other end actor) into its incident and campaigns. */
static int group(struct corr *c, const struct alert *a, long long *inc_id, int *supp,
                 const char *host, const char *actor, const char *asset, const struct side *sd,
                 int actor_internal)
{
    const struct tcfg *cfg = c->cfg;
    if (tsup_match(&c->supp, a->sid, a->src, a->dest, asset, c->now)) {
        *supp = 1;
        c->st->suppressed++;
        return 0;
    }
    c->st->alerts++;
    char gkey[512];
    size_t o = 0;
    gkey[0] = '\0';
    if (cfg->keys & KEY_SIGNATURE)
        o += snprintf(gkey + o, sizeof(gkey) - o, "sig=%lld|", a->sid);
    if ((cfg->keys & KEY_SRC) && o < sizeof(gkey))
        o += snprintf(gkey + o, sizeof(gkey) - o, "src=%s|", a->src ? a->src : "-");
    if ((cfg->keys & KEY_DEST) && o < sizeof(gkey))
        o += snprintf(gkey + o, sizeof(gkey) - o, "dest=%s|", a->dest ? a->dest : "-");
    if ((cfg->keys & KEY_ASSET) && o < sizeof(gkey))
        o += snprintf(gkey + o, sizeof(gkey) - o, "asset=%s|", host);
    if ((cfg->keys & KEY_ACTOR) && o < sizeof(gkey))
        snprintf(gkey + o, sizeof(gkey) - o, "actor=%s|", actor);
    struct inc *i = tab_get(c->inc_tab, gkey); /* the common case: cached and in the window */
    if (i == NULL || a->ts > i->last + cfg->window || a->ts < i->first - cfg->window) {
        char title[512]; /* only a new incident needs it */
        snprintf(title, sizeof(title), "%s: %s", asset, a->sig ? a->sig : "alert");
        i = get_incident(c, gkey, a->ts, cfg->window, "group", title, asset, host, actor, sd);
    }
    if (i == NULL)
        return -1;
    apply(c, i, a, host);
    *inc_id = i->id;
    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", a->sid);
    if (strcmp(actor, "-") != 0 && !actor_internal && campaign(c, "actor", actor, host, i, a) != 0)
        return -1;
    if (campaign(c, "sig", sid, host, i, a) != 0)
        return -1;
    return 0;
}

int corr_run(struct tdb *t, const struct tcfg *cfg, struct corr_stats *st, char *errbuf)
{
    struct corr *c = calloc(1, sizeof(*c));
    sqlite3_stmt *sel = NULL;
    struct done {
        long long id, inc;
        int supp;
    } *done = NULL;
    int rc = -1;
    if (c == NULL)
        return -1;
    c->t = t;
    c->cfg = cfg;
    c->st = st;
    c->errbuf = errbuf;
    c->now = (double)time(NULL);
    tab_count = &c->cached;
    struct {
        sqlite3_stmt **s;
        const char *sql;
    } stmts[] = {
        {&c->find, "SELECT " INC_COLS " FROM incidents WHERE gkey=? AND last_seen>=? AND"
                   " first_seen<=? AND merged_into IS NULL AND status IN ('new','acknowledged',"
                   "'investigating','contained') ORDER BY last_seen DESC LIMIT 1"},
        {&c->by_id, "SELECT " INC_COLS " FROM incidents WHERE id=?"},
        {&c->insert,
         "INSERT INTO incidents(id, ref, gkey, kind, title, unit, asset, asset_ip, actor, tlp, pap,"
         " detected_at, created_at, status, first_seen, last_seen, count, p_sev, p_sigsev,"
         " p_asset, p_geo, p_file, p_volume, p_stage, p_campaign, stage_mask, max_stage, score,"
         " severity, reasons, escalations, campaign_id, hosts, updated_at) VALUES(?1, ?2, ?3,"
         " ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'new', ?14, ?15, ?16, ?17, ?18, ?19, ?20,"
         " ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33)"},
        {&c->update, "UPDATE incidents SET first_seen=?, last_seen=?, count=?, p_sev=?,"
                     " p_sigsev=?, p_asset=?, p_geo=?, p_file=?, p_volume=?, p_stage=?,"
                     " p_campaign=?, stage_mask=?, max_stage=?, score=?, severity=?, reasons=?,"
                     " escalations=?, campaign_id=COALESCE(?, campaign_id), hosts=?, updated_at=?"
                     " WHERE id=?"},
        {&c->ev_upd, "UPDATE events SET pending=0, incident_id=?, suppressed=? WHERE id=?"},
        {&c->hit_get, "SELECT asset, last_ts, incident_id FROM campaign_hits WHERE kind=? AND"
                      " value=? AND last_ts>=? ORDER BY last_ts"},
        {&c->hit_put, "INSERT INTO campaign_hits VALUES(?,?,?,?,?) ON CONFLICT(kind, value, asset)"
                      " DO UPDATE SET last_ts=excluded.last_ts, incident_id=excluded.incident_id"},
        {&c->link, "UPDATE incidents SET campaign_id=?1 WHERE id IN (SELECT incident_id FROM"
                   " campaign_hits WHERE kind=?2 AND value=?3 AND last_ts>=?4) AND id<>?1"
                   " AND campaign_id IS NULL"},
        {&c->flow_inc, "SELECT e.incident_id FROM events f JOIN events e ON e.flow_id=f.flow_id"
                       " WHERE f.id=? AND e.incident_id IS NOT NULL AND e.event_type='alert'"
                       " LIMIT 1"},
        {&c->hist, "INSERT INTO history(incident_id, user, ts, field, old, new)"
                   " VALUES(?,'vigil-triage',?,?,?,?)"},
        {&c->seq_get, "SELECT value FROM meta WHERE key=?"},
        {&c->seq_put, "INSERT OR REPLACE INTO meta VALUES(?,?)"},
        {&c->hit_one, "SELECT last_ts, incident_id FROM campaign_hits WHERE kind=? AND value=? AND"
                      " asset=?"},
    };
    for (size_t k = 0; k < sizeof(stmts) / sizeof(stmts[0]); k++)
        if ((*stmts[k].s = tdb_prepare(t, stmts[k].sql, errbuf)) == NULL)
            goto out;
    if (tsup_load(&c->supp, t, cfg, errbuf) != 0)
        goto out;
    done = malloc(CORR_CHUNK * sizeof(*done));
    if (done == NULL)
        goto out;
    sel = tdb_prepare(t,
                      "SELECT id, ts, event_type, src_ip, dest_ip, sid, signature, severity,"
                      " sigsev, stage, geo, max(filehit, coalesce((SELECT max(f.filehit) FROM"
                      " events f WHERE f.flow_id=e.flow_id AND f.event_type='fileinfo'), 0)),"
                      " asset FROM events e WHERE pending=1"
                      " ORDER BY ts, id LIMIT " STR(CORR_CHUNK),
                      errbuf);
    if (sel == NULL)
        goto out;
    double last_ts = 0;
    c->horizon = HUGE_VAL; /* until known: every new key is looked up */
    for (;;) {
        size_t nd = 0;
        if (tdb_begin(t, errbuf) != 0)
            goto out;
        long long dv = tdb_scalar(t, "PRAGMA data_version", NULL);
        if (c->data_version == 0 &&
            tdb_scalar(t,
                       "SELECT COUNT(*) FROM (SELECT 1 FROM events"
                       " WHERE pending=1 LIMIT 1 OFFSET " STR(CORR_CHUNK) ")",
                       NULL) > 0) {
            /* a bulk run: what the store holds, once (a scan of the incidents) */
            sqlite3_stmt *h =
                tdb_prepare(t, "SELECT COALESCE(MAX(last_seen), -1) FROM incidents", errbuf);
            if (h == NULL) {
                tdb_rollback(t);
                goto out;
            }
            if (sqlite3_step(h) == SQLITE_ROW)
                c->horizon = sqlite3_column_double(h, 0);
            sqlite3_finalize(h);
        } else if (c->data_version != 0 && dv != c->data_version) {
            c->horizon = HUGE_VAL; /* another process wrote between our chunks */
        }
        c->data_version = dv;
        long long max_id = tdb_scalar(t, "SELECT COALESCE(MAX(id), 0) FROM incidents", NULL);
        if (max_id > c->next_id)
            c->next_id = max_id;
        while (sqlite3_step(sel) == SQLITE_ROW) {
            struct alert a = {
                .id = sqlite3_column_int64(sel, 0),
                .ts = sqlite3_column_double(sel, 1),
                .type = (const char *)sqlite3_column_text(sel, 2),
                .src = (const char *)sqlite3_column_text(sel, 3),
                .dest = (const char *)sqlite3_column_text(sel, 4),
                .sid = sqlite3_column_int64(sel, 5),
                .sig = (const char *)sqlite3_column_text(sel, 6),
                .sev = sqlite3_column_int(sel, 7),
                .sigsev = sqlite3_column_int(sel, 8),
                .stage = sqlite3_column_int(sel, 9),
                .geo = (const char *)sqlite3_column_text(sel, 10),
                .filehit = sqlite3_column_int(sel, 11),
                .asset = (const char *)sqlite3_column_text(sel, 12),
            };
            if (a.type == NULL)
                a.type = "";
            if (a.sigsev < 0 || a.sigsev > 3)
                a.sigsev = 0;
            done[nd].id = a.id;
            if (a.ts > last_ts)
                last_ts = a.ts;
            if (process(c, &a, &done[nd].inc, &done[nd].supp) != 0) {
                sqlite3_reset(sel);
                tdb_rollback(t);
                goto out;
            }
            nd++;
        }
        sqlite3_reset(sel);
        if (flush_all(c) != 0) {
            tdb_rollback(t);
            goto out;
        }
        for (size_t k = 0; k < nd; k++) {
            if (done[k].inc)
                sqlite3_bind_int64(c->ev_upd, 1, done[k].inc);
            else
                sqlite3_bind_null(c->ev_upd, 1);
            sqlite3_bind_int(c->ev_upd, 2, done[k].supp);
            sqlite3_bind_int64(c->ev_upd, 3, done[k].id);
            if (step_done(c, c->ev_upd, "event update") != 0) {
                tdb_rollback(t);
                goto out;
            }
        }
        if (tsup_save_hits(&c->supp, t, errbuf) != 0) {
            tdb_rollback(t);
            goto out;
        }
        if (c->cached > CORR_CACHE_MAX)
            evict(c, last_ts);
        if (tdb_commit(t, errbuf) != 0)
            goto out;
        if (nd < CORR_CHUNK)
            break;
    }
    rc = 0;
out:
    clear_tabs(c);
    free(c->dirty_hits);
    free(done);
    tab_count = NULL;
    sqlite3_finalize(sel);
    for (size_t k = 0; k < sizeof(stmts) / sizeof(stmts[0]); k++)
        sqlite3_finalize(*stmts[k].s);
    tsup_free(&c->supp);
    free(c);
    return rc;
}
