/* detect-thresh-file.c: Suricata's threshold.config: threshold, event_filter and suppress entries applied to rules. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect-internal.h"

/* One "key value" pair of an entry ("gen_id 1", "track by_src"). */
struct kv {
    char key[32];
    char val[512];
};

/* Splits "k v, k v, ..." into pairs; returns how many, or -1 if malformed. */
static int split_pairs(char *s, struct kv *out, int max)
{
    int n = 0;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        if (*s == '\0')
            break;
        if (n == max)
            return -1;
        size_t k = 0;
        while (*s && !isspace((unsigned char)*s) && *s != ',' && k + 1 < sizeof(out[n].key))
            out[n].key[k++] = *s++;
        out[n].key[k] = '\0';
        while (*s == ' ' || *s == '\t')
            s++;
        size_t v = 0;
        if (*s == '[') { /* an address list keeps its commas */
            while (*s && *s != ']' && v + 2 < sizeof(out[n].val))
                out[n].val[v++] = *s++;
            if (*s == ']')
                out[n].val[v++] = *s++;
        } else {
            while (*s && *s != ',' && v + 1 < sizeof(out[n].val))
                out[n].val[v++] = *s++;
        }
        while (v > 0 && isspace((unsigned char)out[n].val[v - 1]))
            v--;
        out[n].val[v] = '\0';
        if (k == 0 || v == 0)
            return -1;
        n++;
    }
    return n;
}

static const char *get(const struct kv *kv, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].val;
    return NULL;
}

static int parse_u32(const char *s, uint32_t *out)
{
    uint64_t v;
    if (s == NULL || vg_parse_uint(s, UINT32_MAX, &v) < 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* The rate part of a threshold/event_filter entry. */
static int parse_spec(const struct kv *kv, int n, struct thr_spec *t, const char **why)
{
    const char *type = get(kv, n, "type"), *track = get(kv, n, "track");
    *why = "needs type, track, count and seconds";
    if (type == NULL || track == NULL || parse_u32(get(kv, n, "count"), &t->count) < 0 ||
        parse_u32(get(kv, n, "seconds"), &t->seconds) < 0 || t->count == 0)
        return -1;
    *why = "unknown type (limit, threshold or both)";
    if (strcmp(type, "limit") == 0)
        t->type = THR_LIMIT;
    else if (strcmp(type, "threshold") == 0)
        t->type = THR_THRESHOLD;
    else if (strcmp(type, "both") == 0)
        t->type = THR_BOTH;
    else
        return -1;
    *why = "unknown track (by_src, by_dst, by_rule or by_both)";
    if (strcmp(track, "by_src") == 0)
        t->track = THR_BY_SRC;
    else if (strcmp(track, "by_dst") == 0)
        t->track = THR_BY_DST;
    else if (strcmp(track, "by_rule") == 0)
        t->track = THR_BY_RULE;
    else if (strcmp(track, "by_both") == 0)
        t->track = THR_BY_BOTH;
    else
        return -1;
    return 0;
}

/* Applies one entry to every rule it names (sig_id 0: all rules of gen_id, or of all gids). */
static unsigned apply(struct detect_engine *e, uint32_t gid, uint32_t sid, const struct thr_spec *t,
                      const struct sig_suppress *sup)
{
    unsigned hits = 0;
    for (unsigned i = 0; i < e->nsigs; i++) {
        struct sig *s = e->sigs[i];
        if ((sid != 0 && s->info.sid != sid) || (gid != 0 && s->info.gid != gid))
            continue;
        if (t != NULL) {
            struct thr_spec *c = malloc(sizeof(*c));
            if (c == NULL)
                continue;
            *c = *t;
            free(s->thr);
            free(s->dfilter);
            s->dfilter = NULL;
            s->thr = c;
        } else {
            struct sig_suppress *c = malloc(sizeof(*c));
            if (c == NULL)
                continue;
            *c = *sup;
            c->next = s->suppress;
            s->suppress = c;
        }
        hits++;
    }
    return hits;
}

/* Handles one line; returns 0, or -1 with *why set. */
static int entry(struct detect_engine *e, char *line, const char **why, char *errbuf)
{
    char *rest = line;
    while (*rest && !isspace((unsigned char)*rest))
        rest++;
    if (*rest)
        *rest++ = '\0';
    struct kv kv[12];
    int n = split_pairs(rest, kv, 12);
    *why = "malformed entry";
    if (n < 0)
        return -1;
    uint32_t gid, sid;
    *why = "needs gen_id and sig_id";
    if (parse_u32(get(kv, n, "gen_id"), &gid) < 0 || parse_u32(get(kv, n, "sig_id"), &sid) < 0)
        return -1;
    if (strcmp(line, "threshold") == 0 || strcmp(line, "event_filter") == 0) {
        struct thr_spec t;
        memset(&t, 0, sizeof(t));
        if (parse_spec(kv, n, &t, why) < 0)
            return -1;
        apply(e, gid, sid, &t, NULL);
        return 0;
    }
    if (strcmp(line, "suppress") == 0) {
        struct sig_suppress sup;
        memset(&sup, 0, sizeof(sup));
        const char *track = get(kv, n, "track"), *ip = get(kv, n, "ip");
        if ((track == NULL) != (ip == NULL)) {
            *why = "suppress takes both track and ip, or neither";
            return -1;
        }
        if (track != NULL) {
            if (strcmp(track, "by_src") == 0)
                sup.track = SUP_BY_SRC;
            else if (strcmp(track, "by_dst") == 0)
                sup.track = SUP_BY_DST;
            else if (strcmp(track, "by_either") == 0)
                sup.track = SUP_BY_EITHER;
            else {
                *why = "unknown track (by_src, by_dst or by_either)";
                return -1;
            }
            if ((sup.addrs = detect_addr_parse(&e->vars, ip, errbuf)) == NULL) {
                *why = errbuf;
                return -1;
            }
        }
        apply(e, gid, sid, NULL, &sup);
        return 0;
    }
    if (strcmp(line, "rate_filter") == 0) {
        *why = "rate_filter is not supported (it changes actions, for IPS)";
        return -1;
    }
    *why = "unknown entry (threshold, event_filter or suppress)";
    return -1;
}

int detect_threshold_file_apply(struct detect_engine *e, const char *path, FILE *errors,
                                char *errbuf)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        vg_errbuf_set(errbuf, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    unsigned lineno = 0, bad = 0;
    while ((got = getline(&line, &cap, f)) > 0) {
        lineno++;
        while (got > 0 && isspace((unsigned char)line[got - 1]))
            line[--got] = '\0';
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        const char *why = NULL;
        char aerr[VG_ERRBUF_SIZE] = "";
        if (entry(e, p, &why, aerr) < 0) {
            bad++;
            if (errors != NULL)
                fprintf(errors, "%s:%u: %s\n", path, lineno, why);
        }
    }
    free(line);
    fclose(f);
    return (int)bad;
}

int detect_suppressed(const struct sig *s, const struct vg_packet *p)
{
    for (const struct sig_suppress *x = s->suppress; x != NULL; x = x->next) {
        if (x->addrs == NULL)
            return 1;
        int src = detect_addr_match(x->addrs, p->ip_ver, &p->src);
        int dst = detect_addr_match(x->addrs, p->ip_ver, &p->dst);
        if ((x->track == SUP_BY_SRC && src) || (x->track == SUP_BY_DST && dst) ||
            (x->track == SUP_BY_EITHER && (src || dst)))
            return 1;
    }
    return 0;
}
