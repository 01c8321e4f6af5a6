/* correlate-score.c: an alert's evidence into its incident's explained score, and the write-back.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "correlate-internal.h"

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

/* Adds one alert's evidence to incident i. */
void corr_apply(struct corr *c, struct inc *i, const struct alert *a, const char *host)
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
        corr_history(c, i->id, "severity", o, n);
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
        const char *why = buf;
        if (k == P_VOLUME)
            snprintf(buf, sizeof(buf), "volume: %lld alerts", i->count);
        else if (k == P_CAMPAIGN)
            snprintf(buf, sizeof(buf), "campaign breadth: %d hosts", i->hosts);
        else if (k == P_STAGE)
            snprintf(buf, sizeof(buf), "kill-chain escalation: %zu step(s)",
                     json_array_size(i->esc));
        else
            why = what[k];
        /* {"points": N, "reason": why}, built directly (json_pack parses its format each time) */
        json_t *o = json_object();
        json_object_set_new(o, "points", json_integer(i->p[k]));
        json_object_set_new(o, "reason", json_string(why));
        json_array_append_new(r, o);
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
    /* most incidents never escalate: their empty list needs no encoder */
    char *es = json_array_size(i->esc) == 0 ? NULL : json_dumps(i->esc, JSON_COMPACT);
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
        bind_score(c, u, 13, i, rs, es ? es : "[]");
        i->is_new = 0;
    } else {
        u = c->update;
        bind_score(c, u, 0, i, rs, es ? es : "[]");
        sqlite3_bind_int64(u, 21, i->id);
    }
    free(rs);
    free(es);
    i->dirty = 0;
    return corr_step_done(c, u, "write incident");
}

static int inc_id_cmp(const void *a, const void *b)
{
    const struct inc *x = *(struct inc *const *)a, *y = *(struct inc *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

int corr_flush_all(struct corr *c)
{
    if (corr_seq_write(c) != 0)
        return -1;
    /* in id order: new incidents append to the table and its ref index instead of landing
     * between each other (hash-bucket order), updates walk the table forwards */
    size_t n = 0;
    for (int b = 0; b < CORR_BUCKETS; b++)
        for (struct entry *e = c->inc_tab[b]; e; e = e->next) {
            struct inc *i = e->val;
            if (!i->dirty)
                continue;
            if (n == c->capflush) {
                size_t nc = c->capflush ? 2 * c->capflush : 4096;
                struct inc **f = realloc(c->flushing, nc * sizeof(*f));
                if (f == NULL)
                    return -1;
                c->flushing = f;
                c->capflush = nc;
            }
            c->flushing[n++] = i;
        }
    if (n > 1)
        qsort(c->flushing, n, sizeof(*c->flushing), inc_id_cmp);
    for (size_t k = 0; k < n; k++)
        if (flush_inc(c, c->flushing[k]) != 0)
            return -1;
    return corr_hits_flush(c, NULL);
}
