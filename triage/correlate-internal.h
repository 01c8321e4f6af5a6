/* correlate-internal.h: what the correlate-*.c modules share: a run's state, its cached incidents
 * and campaign hits, and the functions between them (docs/triage.md, "Correlation modules"). */
#ifndef VIGIL_TRIAGE_CORRELATE_INTERNAL_H
#define VIGIL_TRIAGE_CORRELATE_INTERNAL_H

#include "vigil/triage.h"

#define CORR_BUCKETS 262144
#define CORR_CACHE_MAX 200000     /* cached incidents + hits kept across chunks (bounded memory) */
#define CORR_EVSET_MAX (1u << 22) /* slots of the evicted-hit set (16 MiB) */

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
    int stored;             /* its row exists: written back with a plain UPDATE */
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
    int has_old; /* the store held rows of the group older than the window when it was loaded */
};

/* A table entry: one allocation with its key inline, and the key's full hash compared before the
 * key (a look-up was 6 % of correlation, mostly cache misses on the separate key). */
struct entry {
    struct entry *next;
    void *val;
    unsigned hash;
    char key[];
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
    struct inc **flushing;   /* the dirty incidents at the end of a chunk, in id order */
    size_t capflush;
    size_t ndirty, capdirty;
    /*
     * The hashes of the hit keys evict() dropped (an open-addressing set, bounded: past
     * CORR_EVSET_MAX it is full and stops answering). A miss in an evicted group whose key is
     * not in it, in a group with no rows older than the window, cannot be in the store: no
     * look-up (one per new host of an evicted group was a tenth of correlation).
     */
    unsigned *evset;
    size_t evset_cap, evset_n;
    int evset_off; /* full, or another writer: every miss of an evicted group asks the store */
    sqlite3_stmt *find, *by_id, *insert, *update, *ev_upd, *hit_get, *hit_put, *link, *flow_inc,
        *hist, *seq_get, *seq_put, *hit_one, *hit_upd, *hit_old;
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

#define INC_COLS                                                                                   \
    "id, first_seen, last_seen, count, p_sev, p_sigsev, p_asset, p_geo, p_file, p_volume,"         \
    " p_stage, p_campaign, stage_mask, max_stage, score, severity, escalations, campaign_id,"      \
    " hosts, kind"

/* Finds the open incident of gkey around ts (cache, then store) or creates one. */
/* What is known of the asset end of an alert: from the sensor's EVE, else the inventory. */
struct side {
    int internal;       /* ours: in the inventory or HOME_NET */
    const char *unit;   /* the owning unit, or NULL (the default unit) */
    const char *system; /* the asset's name, or NULL */
    int crit;           /* enum enrich_criticality */
};

struct alert {
    long long id, sid;
    double ts;
    const char *type, *src, *dest, *sig, *geo;
    const char *asset; /* the sensor's src_asset/dest_asset (ingest's compact JSON), or NULL */
    int sev, sigsev, stage, filehit;
};

/* ---- correlate-cache.c: the run's tables (bounded) ---- */

/* buf = a SEP b SEP c (c may be NULL), truncated to len - 1 like snprintf. */
void corr_key_join(char *buf, size_t len, const char *a, const char *b, const char *c);
unsigned corr_hash(const char *k);
/* buf = parts[0] .. parts[n - 1] joined, truncated to len - 1 like snprintf; returns its length. */
size_t corr_str_cat(char *buf, size_t len, const char *const *parts, size_t n);
/* A hit of (kind, value, asset), its strings in the same allocation; NULL if out of memory. */
struct hit *corr_hit_new(const char *kind, const char *value, const char *asset);
/* The value of key k in tab, or NULL. */
void *corr_tab_get(struct entry **tab, const char *k);
/* Adds k (copied) -> v to tab and counts it in *corr_tab_count. Returns 0 or -1 (memory). */
int corr_tab_put(struct entry **tab, const char *k, void *v);
extern size_t *corr_tab_count;
void corr_inc_free(struct inc *i);
void corr_hit_free(void *p);
/* Unlinks h from its group's member list / puts it first there. */
void corr_member_unlink(struct hit *h);
void corr_member_front(struct hit *h);
/* Records that an incident with this last_seen may be in the store and not in the cache. */
void corr_raise_horizon(struct corr *c, double last);
/* Whether hash h may be a hit key evict() dropped (1 also when the set cannot tell). */
int corr_evset_has(const struct corr *c, unsigned h);
/* Frees every cached incident and hit (all written back). */
void corr_clear_tabs(struct corr *c);
/* Drops what the window at ts has passed; clears everything if that is not enough. */
void corr_evict(struct corr *c, double ts);

/* ---- correlate-score.c: evidence, score, write-back ---- */

/* Adds one alert's evidence to incident i (host: the asset end, for the reasons). */
void corr_apply(struct corr *c, struct inc *i, const struct alert *a, const char *host);
/* Writes every dirty incident, the INC counter and the dirty hits. Returns 0 or -1. */
int corr_flush_all(struct corr *c);

/* ---- correlate-campaign.c ---- */

/* Records that (kind, value) touched host with incident hinc; forms or grows the campaign.
 * Returns 0 or -1 with c->errbuf set. */
int corr_campaign(struct corr *c, const char *kind, const char *value, const char *host,
                  struct inc *hinc, const struct alert *a);
/* Writes the dirty hits of group g, or of all groups (g NULL). Returns 0 or -1. */
int corr_hits_flush(struct corr *c, struct hit_group *g);

/* ---- correlate.c ---- */

/* Sets c->errbuf to what plus SQLite's message; returns -1. */
int corr_fail(struct corr *c, const char *what);
/* Steps and resets s; returns 0, or -1 via corr_fail. */
int corr_step_done(struct corr *c, sqlite3_stmt *s, const char *what);
/* Writes the INC counter of the current year if it moved. Returns 0 or -1. */
int corr_seq_write(struct corr *c);
/* Appends an audit row (user vigil-triage) for incident id. */
void corr_history(struct corr *c, long long id, const char *field, const char *old, const char *nw);
/* The open incident of gkey around ts (cache, then store), or a new one; NULL on error. */
struct inc *corr_get_incident(struct corr *c, const char *gkey, double ts, double window,
                              const char *kind, const char *title, const char *asset,
                              const char *asset_ip, const char *actor, const struct side *sd);

#endif
