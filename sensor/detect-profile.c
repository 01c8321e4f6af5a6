/* detect-profile.c: per-rule counters summed over workers: the stats top list and rule_perf.json.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/detect.h"
#include "vigil/eve.h"

struct ranked {
    uint64_t key;
    unsigned idx;
};

/* Largest key first; equal keys by rule order, so the output is stable. */
static int ranked_cmp(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? 1 : -1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The checked rules of rs ranked by ticks or checks into a new array; *n is its length. */
static struct ranked *rank(const struct detect_engine *e, const struct detect_rule_stats *rs,
                           int by_ticks, size_t *n)
{
    unsigned nsigs = detect_engine_rule_count(e);
    struct ranked *v = malloc((nsigs ? nsigs : 1) * sizeof(*v));
    *n = 0;
    if (v == NULL)
        return NULL;
    for (unsigned i = 0; i < nsigs; i++)
        if (rs[i].checks > 0)
            v[(*n)++] = (struct ranked){by_ticks ? rs[i].ticks : rs[i].checks, i};
    qsort(v, *n, sizeof(*v), ranked_cmp);
    return v;
}

/* One rule's entry: ids, checks, matches, and with ticks their total, mean and share. */
static json_t *rule_entry(const struct detect_engine *e, const struct detect_rule_stats *r,
                          unsigned idx, int ticks, uint64_t all_ticks)
{
    const struct detect_sig_info *si = detect_engine_sig(e, idx);
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "signature_id", json_integer(si->sid));
    json_object_set_new(o, "gid", json_integer(si->gid));
    json_object_set_new(o, "rev", json_integer(si->rev));
    json_object_set_new(o, "checks", json_integer((json_int_t)r->checks));
    json_object_set_new(o, "matches", json_integer((json_int_t)r->matches));
    if (ticks) {
        json_object_set_new(o, "ticks_total", json_integer((json_int_t)r->ticks));
        json_object_set_new(o, "ticks_avg", json_integer((json_int_t)(r->ticks / r->checks)));
        json_object_set_new(
            o, "percent",
            json_real(all_ticks ? 100.0 * (double)r->ticks / (double)all_ticks : 0.0));
    }
    return o;
}

/* Sum of the ticks of every rule. */
static uint64_t total_ticks(const struct detect_engine *e, const struct detect_rule_stats *rs)
{
    uint64_t t = 0;
    for (unsigned i = 0; i < detect_engine_rule_count(e); i++)
        t += rs[i].ticks;
    return t;
}

json_t *detect_profile_top(const struct detect_engine *e, const struct detect_rule_stats *rs,
                           unsigned top, int by_ticks)
{
    size_t n;
    struct ranked *v = rank(e, rs, by_ticks, &n);
    json_t *arr = json_array();
    if (v == NULL || arr == NULL) {
        free(v);
        json_decref(arr);
        return NULL;
    }
    uint64_t all = by_ticks ? total_ticks(e, rs) : 0;
    for (size_t i = 0; i < n && i < top; i++) {
        json_t *o = rule_entry(e, &rs[v[i].idx], v[i].idx, by_ticks, all);
        if (o == NULL || json_array_append_new(arr, o) < 0) {
            free(v);
            json_decref(arr);
            return NULL;
        }
    }
    free(v);
    return arr;
}

int detect_profile_write(const char *path, const struct detect_engine *e,
                         const struct detect_rule_stats *rs, vg_time_t now, char *errbuf)
{
    unsigned nsigs = detect_engine_rule_count(e);
    json_t *rules = detect_profile_top(e, rs, nsigs, 1);
    json_t *doc = json_object();
    if (rules == NULL || doc == NULL) {
        json_decref(rules);
        json_decref(doc);
        vg_errbuf_set(errbuf, "%s: out of memory", path);
        return -1;
    }
    eve_set_time(doc, "timestamp", now);
    json_object_set_new(doc, "sort", json_string("ticks"));
    json_object_set_new(doc, "rules_loaded", json_integer(nsigs));
    json_object_set_new(doc, "rules_checked", json_integer((json_int_t)json_array_size(rules)));
    json_object_set_new(doc, "rules", rules);
    int rc = json_dump_file(doc, path, JSON_INDENT(1) | JSON_REAL_PRECISION(4));
    json_decref(doc);
    if (rc < 0) {
        vg_errbuf_set(errbuf, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
