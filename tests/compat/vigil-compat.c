/* vigil-compat.c: plays suricata-verify tests through vigil-sensor and evaluates their filter
 * checks. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml.h>

#include "vigil/common.h"
#include "vigil/config.h"

enum result { R_PASS, R_FAIL, R_SKIP };

struct options {
    const char *sensor;
    const char *suite;
    const char *only;
    const char *report;
    const char *tmp;
    int verbose;
};

/* Keywords of the signature-engine issue: tests whose rules stay within them are "in scope". */
static const char *const scope_keywords[] = {"msg",
                                             "sid",
                                             "rev",
                                             "gid",
                                             "classtype",
                                             "priority",
                                             "reference",
                                             "metadata",
                                             "content",
                                             "nocase",
                                             "depth",
                                             "offset",
                                             "distance",
                                             "within",
                                             "fast_pattern",
                                             "startswith",
                                             "endswith",
                                             "bsize",
                                             "dsize",
                                             "isdataat",
                                             "dotprefix",
                                             "pcre",
                                             "byte_test",
                                             "byte_jump",
                                             "byte_extract",
                                             "flow",
                                             "flowbits",
                                             "threshold",
                                             "detection_filter",
                                             "ip_proto",
                                             "ttl",
                                             "flags",
                                             "itype",
                                             "icode",
                                             "app-layer-protocol",
                                             "http.uri",
                                             "http.uri.raw",
                                             "http.method",
                                             "http.host",
                                             "http.user_agent",
                                             "http.header",
                                             "http.cookie",
                                             "http.request_body",
                                             "http.stat_code",
                                             "http.response_body",
                                             "file.data",
                                             "file_data",
                                             "dns.query",
                                             "dns_query",
                                             "tls.sni",
                                             "tls_sni",
                                             "tls.cert_subject",
                                             "ja3.hash",
                                             "ja3_hash",
                                             "pkt_data",
                                             "http_uri",
                                             "http_raw_uri",
                                             "http_method",
                                             "http_header",
                                             "http_cookie",
                                             "http_client_body",
                                             "http_stat_code",
                                             "http_server_body",
                                             "http_user_agent",
                                             "http_host",
                                             "http_raw_host",
                                             "rawbytes",
                                             "noalert",
                                             "target",
                                             NULL};
static const char *const scope_protos[] = {"ip",  "tcp",  "udp", "icmp", "http",   "dns",
                                           "tls", "smtp", "ftp", "ssh",  "pkthdr", NULL};

static int in_list(const char *const *l, const char *s)
{
    for (; *l; l++)
        if (strcmp(*l, s) == 0)
            return 1;
    return 0;
}

/* Checks that every rule in path uses only in-scope protocols and keywords. */
static int rules_in_scope(const char *path, char *why, size_t whylen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 1;
    char *line = NULL, *rule = NULL;
    size_t cap = 0, rlen = 0;
    int ok = 1;
    ssize_t got;
    while (ok && (got = getline(&line, &cap, f)) > 0) {
        /* A rule continues on the next line after a trailing backslash. */
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        char *nr = realloc(rule, rlen + (size_t)got + 2);
        if (nr == NULL)
            break;
        rule = nr;
        memcpy(rule + rlen, line, (size_t)got + 1);
        rlen += (size_t)got;
        if (got > 0 && line[got - 1] == '\\') {
            rule[--rlen] = ' ';
            rlen++;
            continue;
        }
        rlen = 0;
        char *p = rule;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\0')
            continue;
        char action[32], proto[32];
        if (sscanf(p, "%31s %31s", action, proto) != 2)
            continue;
        if (!in_list(scope_protos, proto)) {
            snprintf(why, whylen, "protocol %s", proto);
            ok = 0;
            break;
        }
        char *opts = strchr(p, '(');
        if (opts == NULL)
            continue;
        opts++;
        /* Option names: after '(' or an unescaped ';', up to ':' or ';'. */
        for (char *q = opts; *q;) {
            while (*q == ' ')
                q++;
            char name[64];
            size_t n = 0;
            while (*q && *q != ':' && *q != ';' && *q != ')' && n + 1 < sizeof(name))
                name[n++] = *q++;
            while (n > 0 && name[n - 1] == ' ')
                n--;
            name[n] = '\0';
            if (n > 0 && !in_list(scope_keywords, name)) {
                snprintf(why, whylen, "keyword %s", name);
                ok = 0;
                break;
            }
            while (*q && !(*q == ';' && q[-1] != '\\'))
                q++;
            if (*q == ';')
                q++;
        }
    }
    free(line);
    free(rule);
    fclose(f);
    return ok;
}

/* Follows a path as suricata-verify writes it ("alert.signature_id", "vlan[0]",
 * "dns.answers[1].rrname", "answers.0.rrname", "dns.answers.__len") in a JSON value. */
static json_t *json_path(json_t *v, const char *path, long *len_out)
{
    const char *p = path;
    *len_out = -1;
    while (v != NULL && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 5 && memcmp(p, "__len", 5) == 0) {
            *len_out = json_is_array(v)    ? (long)json_array_size(v)
                       : json_is_object(v) ? (long)json_object_size(v)
                       : json_is_string(v) ? (long)json_string_length(v)
                                           : -1;
            return v;
        }
        /* "name[N]": the member, then its N-th element */
        size_t nn = n;
        long idx = -1;
        if (n > 2 && p[n - 1] == ']') {
            size_t b = n - 1;
            while (b > 0 && p[b - 1] >= '0' && p[b - 1] <= '9')
                b--;
            if (b > 0 && b < n - 1 && p[b - 1] == '[') {
                idx = strtol(p + b, NULL, 10);
                nn = b - 1;
            }
        }
        if (json_is_array(v)) {
            char num[16];
            snprintf(num, sizeof(num), "%.*s", (int)(nn < 15 ? nn : 15), p);
            char *end;
            long i = strtol(num, &end, 10);
            v = *end == '\0' && nn > 0 ? json_array_get(v, (size_t)i) : NULL;
        } else {
            v = json_object_getn(v, p, nn);
        }
        if (v != NULL && idx >= 0)
            v = json_is_array(v) ? json_array_get(v, (size_t)idx) : NULL;
        p += n + (dot ? 1 : 0);
    }
    return v;
}

/* Compares an EVE value (or, len >= 0, its __len) with a YAML scalar. */
static int value_equals(json_t *v, long len, const char *text)
{
    if (v == NULL)
        return 0;
    char buf[64];
    if (len >= 0) {
        snprintf(buf, sizeof(buf), "%ld", len);
        return strcmp(buf, text) == 0;
    }
    switch (json_typeof(v)) {
    case JSON_STRING:
        return strcmp(json_string_value(v), text) == 0;
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        return strcmp(buf, text) == 0;
    case JSON_REAL:
        return json_real_value(v) == strtod(text, NULL);
    case JSON_TRUE:
        return strcmp(text, "true") == 0 || strcmp(text, "yes") == 0;
    case JSON_FALSE:
        return strcmp(text, "false") == 0 || strcmp(text, "no") == 0;
    case JSON_NULL:
        return strcmp(text, "null") == 0 || strcmp(text, "~") == 0;
    default:
        return 0;
    }
}

/* Does match key kv hold for event e? */
static int key_matches(json_t *e, const struct config_node *kv)
{
    long len;
    if (kv->type != CONFIG_SCALAR)
        return 0;
    if (strcmp(kv->key, "has-key") == 0)
        return json_path(e, kv->value, &len) != NULL;
    if (strcmp(kv->key, "not-has-key") == 0)
        return json_path(e, kv->value, &len) == NULL;
    json_t *v = json_path(e, kv->key, &len);
    return value_equals(v, len, kv->value);
}

/* Does event e satisfy every key of a filter's match map? */
static int event_matches(json_t *e, const struct config_node *match)
{
    for (size_t i = 0; i < match->nchild; i++)
        if (!key_matches(e, match->child[i]))
            return 0;
    return 1;
}

struct events {
    json_t **v;
    size_t n;
};

static struct events read_events(const char *path)
{
    struct events ev = {NULL, 0};
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return ev;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        json_t *j = json_loadb(line, (size_t)len, 0, NULL);
        if (j == NULL)
            continue;
        ev.v = realloc(ev.v, (ev.n + 1) * sizeof(*ev.v));
        ev.v[ev.n++] = j;
    }
    free(line);
    fclose(f);
    return ev;
}

static void free_events(struct events *ev)
{
    for (size_t i = 0; i < ev->n; i++)
        json_decref(ev->v[i]);
    free(ev->v);
}

/* The test's capture: yaml "pcap:" (relative), else the one .pcap or .pcapng in the directory. */
static int find_pcap(const char *dir, const struct config *y, char *out, size_t outlen)
{
    const char *p = config_get(y, "pcap");
    if (p != NULL) {
        if (strcmp(p, "false") == 0 || strcmp(p, "no") == 0)
            return -1;
        snprintf(out, outlen, "%s/%s", dir, p);
        return access(out, R_OK) == 0 ? 0 : -1;
    }
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    struct dirent *e;
    int found = -1;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if ((n > 5 && strcmp(e->d_name + n - 5, ".pcap") == 0) ||
            (n > 7 && strcmp(e->d_name + n - 7, ".pcapng") == 0)) {
            snprintf(out, outlen, "%s/%s", dir, e->d_name);
            found = 0;
            break;
        }
    }
    closedir(d);
    return found;
}

/* The rules: test.rules, else the one *.rules file. */
static int find_rules(const char *dir, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/test.rules", dir);
    if (access(out, R_OK) == 0)
        return 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    struct dirent *e;
    int found = -1;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 6 && strcmp(e->d_name + n - 6, ".rules") == 0) {
            snprintf(out, outlen, "%s/%s", dir, e->d_name);
            found = 0;
            break;
        }
    }
    closedir(d);
    return found;
}

/* Returns the next space-separated word of *cur (NUL-terminating it), or NULL at the end. */
static char *next_word(char **cur)
{
    char *p = *cur;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0')
        return NULL;
    char *w = p;
    while (*p && *p != ' ' && *p != '\t')
        p++;
    if (*p)
        *p++ = '\0';
    *cur = p;
    return w;
}

/* Runs argv with a time limit; stderr goes to errpath. Returns the exit status, -2 if it timed
 * out, -1 if another signal killed it. */
static int run(char **argv, const char *errpath, unsigned timeout)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        alarm(timeout);
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? -2 : -1;
}

/* The Suricata release whose output Vigil follows: checks and tests that require another
 * (requires: min-version / lt-version) are left out. */
#define COMPAT_VERSION "7.0.17"

/* Compares dotted versions ("7", "7.0.15", 8.0): <0, 0, >0; missing parts count as 0. */
static int version_cmp(const char *a, const char *b)
{
    for (int i = 0; i < 3; i++) {
        long x = strtol(a, (char **)&a, 10), y = strtol(b, (char **)&b, 10);
        if (x != y)
            return x < y ? -1 : 1;
        a += *a == '.';
        b += *b == '.';
    }
    return 0;
}

/* Does the "requires" map among node's children (if any) admit COMPAT_VERSION? Requirements
 * other than versions (features, files, ...) are not judged. */
static int version_ok(const struct config_node *node)
{
    for (size_t i = 0; node != NULL && i < node->nchild; i++) {
        const struct config_node *r = node->child[i];
        if (r->key == NULL || strcmp(r->key, "requires") != 0)
            continue;
        for (size_t k = 0; k < r->nchild; k++) {
            const struct config_node *c = r->child[k];
            if (c->key == NULL || c->value == NULL)
                continue;
            if (strcmp(c->key, "min-version") == 0 && version_cmp(COMPAT_VERSION, c->value) < 0)
                return 0;
            if (strcmp(c->key, "lt-version") == 0 && version_cmp(COMPAT_VERSION, c->value) >= 0)
                return 0;
        }
    }
    return 1;
}

/* The record types whose checks are compared field by field. */
enum { ET_HTTP, ET_DNS, ET_TLS, ET__COUNT };
static const char *const et_names[ET__COUNT] = {"http", "dns", "tls"};

struct et_tally {
    unsigned checks, pass;  /* checks in scope, and passed (the count agrees) */
    unsigned fields, agree; /* their match keys, and those the closest record has */
    unsigned out_of_scope;  /* checks of another Suricata version, or of tests not run */
};

struct tally {
    unsigned total, pass, fail, skip;
    unsigned alert_total, alert_pass; /* tests whose checks are all alert filters */
    unsigned scope_total, scope_pass; /* ... whose rules are in scope and load */
    struct et_tally et[ET__COUNT];
};

/* The event_type a filter matches on, or NULL; *m gets its match map. */
static const char *filter_event_type(const struct config_node *f, const struct config_node **m)
{
    *m = NULL;
    for (size_t k = 0; f != NULL && k < f->nchild; k++)
        if (f->child[k]->key && strcmp(f->child[k]->key, "match") == 0)
            *m = f->child[k];
    for (size_t k = 0; *m && k < (*m)->nchild; k++)
        if ((*m)->child[k]->key && strcmp((*m)->child[k]->key, "event_type") == 0)
            return (*m)->child[k]->value;
    return NULL;
}

static int event_type_index(const char *et)
{
    for (int i = 0; et != NULL && i < ET__COUNT; i++)
        if (strcmp(et, et_names[i]) == 0)
            return i;
    return -1;
}

/* The filter of check c, or NULL if it is another kind of check. */
static const struct config_node *check_filter(const struct config_node *c)
{
    const struct config_node *f = c->nchild ? c->child[0] : NULL;
    return f != NULL && f->key != NULL && strcmp(f->key, "filter") == 0 ? f : NULL;
}

/* Compares an http, dns or tls check key by key with the record of its type that agrees on
 * the most keys; adds to *et and returns the keys that differ (with both values). */
static json_t *compare_fields(json_t **ev, size_t nev, const char *et, const struct config_node *m,
                              struct et_tally *t)
{
    json_t *best = NULL;
    unsigned best_ok = 0, nkeys = 0;
    for (size_t k = 0; k < m->nchild; k++)
        nkeys += m->child[k]->key && strcmp(m->child[k]->key, "event_type") != 0;
    for (size_t e = 0; e < nev; e++) {
        const char *t2 = json_string_value(json_object_get(ev[e], "event_type"));
        if (t2 == NULL || strcmp(t2, et) != 0)
            continue;
        unsigned ok = 0;
        for (size_t k = 0; k < m->nchild; k++)
            ok += m->child[k]->key && strcmp(m->child[k]->key, "event_type") != 0 &&
                  key_matches(ev[e], m->child[k]);
        if (best == NULL || ok > best_ok) {
            best = ev[e];
            best_ok = ok;
        }
    }
    t->fields += nkeys;
    t->agree += best_ok;
    json_t *diff = json_array();
    for (size_t k = 0; k < m->nchild; k++) {
        const struct config_node *kv = m->child[k];
        if (kv->key == NULL || strcmp(kv->key, "event_type") == 0)
            continue;
        if (best != NULL && key_matches(best, kv))
            continue;
        long len;
        json_t *got = best != NULL && kv->type == CONFIG_SCALAR &&
                              strcmp(kv->key, "has-key") != 0 && strcmp(kv->key, "not-has-key") != 0
                          ? json_path(best, kv->key, &len)
                          : NULL;
        char *gs = got != NULL ? json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        char msg[512];
        snprintf(msg, sizeof(msg), "%s: want %s, got %s", kv->key, kv->value ? kv->value : "?",
                 best == NULL ? "no record"
                 : gs != NULL ? gs
                              : "none");
        free(gs);
        json_array_append_new(diff, json_string(msg));
    }
    return diff;
}

static enum result run_test(const struct options *o, const char *name, struct tally *t,
                            json_t *report)
{
    char dir[4096], path[4200], pcap[4200], rules[4200], out[4200], errp[4300];
    snprintf(dir, sizeof(dir), "%s/%s", o->suite, name);
    snprintf(path, sizeof(path), "%s/test.yaml", dir);
    json_t *rec = json_object();
    json_object_set_new(rec, "test", json_string(name));
    json_array_append_new(report, rec);

    struct config *y = config_new();
    char err[VG_ERRBUF_SIZE];
    enum result r = R_SKIP;
    const char *why = NULL;
    size_t et_checks[ET__COUNT] = {0}; /* this test's http/dns/tls checks, until judged */
    if (config_load_file(y, path, err) < 0) {
        why = "no readable test.yaml";
        goto done;
    }
    const struct config_node *checks = config_lookup(y, "checks");
    if (checks == NULL || checks->type != CONFIG_SEQ || checks->nchild == 0) {
        why = "no checks";
        goto done;
    }
    /* Suricata 7 would not run a test that requires a later release: its record checks are
     * left out of the per-type figures (its alert checks are still played, as before). */
    int test_version_ok = version_ok(y->root);
    int only_filters = 1, only_alerts = 1, nfilters = 0, et_any = 0;
    for (size_t i = 0; i < checks->nchild; i++) {
        const struct config_node *f = check_filter(checks->child[i]);
        if (f == NULL) {
            only_filters = 0;
            continue;
        }
        nfilters++;
        const struct config_node *m;
        const char *et = filter_event_type(f, &m);
        int ei = event_type_index(et), vok = version_ok(f);
        if (ei >= 0) {
            et_any = 1;
            if (vok && test_version_ok)
                et_checks[ei]++;
            else
                t->et[ei].out_of_scope++;
        }
        if (!vok)
            continue; /* a check for another release */
        if (et == NULL || strcmp(et, "alert") != 0)
            only_alerts = 0;
    }
    only_alerts &= only_filters;
    /* A test with other checks is still played for its http, dns and tls filters. */
    if (nfilters == 0 || (!only_filters && !et_any)) {
        why = "checks other than filter (shell, file-compare, stats)";
        goto done;
    }
    if (find_pcap(dir, y, pcap, sizeof(pcap)) < 0) {
        why = "no capture";
        goto done;
    }
    int have_rules = find_rules(dir, rules, sizeof(rules)) == 0;
    char scope_why[128] = "";
    int rules_short = 0; /* a rule did not load */
    int in_scope = only_alerts && have_rules && rules_in_scope(rules, scope_why, sizeof(scope_why));

    snprintf(out, sizeof(out), "%s/%s", o->tmp, name);
    mkdir(out, 0755);
    char eve[4400];
    snprintf(eve, sizeof(eve), "%s/eve.json", out);
    unlink(eve);
    snprintf(errp, sizeof(errp), "%s/stderr.txt", out);
    char *argv[128];
    int n = 0;
    argv[n++] = (char *)o->sensor;
    argv[n++] = "-r";
    argv[n++] = pcap;
    argv[n++] = "-l";
    argv[n++] = out;
    argv[n++] = "--no-progress";
    argv[n++] = "--set";
    argv[n++] = "detect.cache-dir=none";
    if (have_rules) {
        argv[n++] = "-S";
        argv[n++] = rules;
    }
    /* Arguments the test passes to Suricata, split into words: --set pairs are passed on, -k and
     * other options are dropped, and the remaining words form a BPF filter. */
    const struct config_node *args = config_lookup(y, "args");
    static char argbuf[64][4608];
    int nargbuf = 0;
    char bpf[512] = "";
    size_t bpflen = 0;
    for (size_t i = 0; args && args->type == CONFIG_SEQ && i < args->nchild && n < 120; i++) {
        const char *a = args->child[i]->value;
        char words[1024];
        if (a == NULL)
            continue;
        snprintf(words, sizeof(words), "%s", a);
        char *cur = words;
        for (char *w = next_word(&cur); w && nargbuf < 64 && n < 120; w = next_word(&cur)) {
            if (strcmp(w, "--set") == 0 || strcmp(w, "-k") == 0) {
                char *v = next_word(&cur);
                if (v != NULL && w[1] == '-') {
                    /* ${TEST_DIR} is the test's own directory. */
                    const char *td = strstr(v, "${TEST_DIR}");
                    if (td != NULL) {
                        int k = snprintf(argbuf[nargbuf], sizeof(argbuf[0]), "%.*s%s%s",
                                         (int)(td - v), v, dir, td + 11);
                        if (k < 0 || (size_t)k >= sizeof(argbuf[0]))
                            continue; /* too long to pass on */
                    } else
                        snprintf(argbuf[nargbuf], sizeof(argbuf[0]), "%s", v);
                    argv[n++] = "--set";
                    argv[n++] = argbuf[nargbuf++];
                }
            } else if (w[0] != '-' && bpflen + strlen(w) + 2 < sizeof(bpf)) {
                bpflen += (size_t)snprintf(bpf + bpflen, sizeof(bpf) - bpflen, "%s%s",
                                           bpflen ? " " : "", w);
            }
        }
    }
    if (bpflen > 0 && n < 120)
        argv[n++] = bpf;
    argv[n] = NULL;
    int rc = run(argv, errp, 120);
    struct events ev = read_events(eve);
    if (rc == -1 || (rc != 0 && ev.n == 0)) {
        why = rc == -1   ? "sensor crashed (killed by a signal)"
              : rc == -2 ? "sensor timed out"
                         : "sensor failed";
        r = only_filters ? R_FAIL : R_SKIP;
        free_events(&ev);
        for (int i = 0; i < ET__COUNT; i++) { /* its record checks failed */
            t->et[i].checks += (unsigned)et_checks[i];
            et_checks[i] = 0;
        }
        goto done;
    }
    /* Did every rule load? A test stays in scope either way (a rule of in-scope keywords that
     * does not load is Vigil's failure); the note says why its checks may fail. */
    {
        FILE *ef = fopen(errp, "r");
        char line[1024];
        while (ef && fgets(line, sizeof(line), ef))
            if (strstr(line, "rules:") && !strstr(line, " 0 failed, 0 unsupported"))
                rules_short = 1;
        if (ef)
            fclose(ef);
    }
    r = R_PASS;
    json_t *fails = json_array(), *etj = json_array();
    for (size_t i = 0; i < checks->nchild; i++) {
        const struct config_node *f = check_filter(checks->child[i]);
        if (f == NULL)
            continue;
        const struct config_node *m;
        const char *et = filter_event_type(f, &m);
        int ei = event_type_index(et);
        if (!version_ok(f))
            continue; /* counted out of scope at done: */
        long want = -1;
        for (size_t k = 0; k < f->nchild; k++) {
            const struct config_node *c = f->child[k];
            if (c->key && strcmp(c->key, "count") == 0 && c->value)
                want = strtol(c->value, NULL, 10);
        }
        long got = 0;
        for (size_t e = 0; m && e < ev.n; e++)
            got += event_matches(ev.v[e], m);
        int ok = want >= 0 ? got == want : got > 0;
        if (!ok) {
            r = R_FAIL;
            char msg[256];
            snprintf(msg, sizeof(msg), "check %zu: want %ld, got %ld", i + 1, want, got);
            json_array_append_new(fails, json_string(msg));
        }
        if (ei >= 0 && test_version_ok) {
            struct et_tally *et_t = &t->et[ei];
            et_checks[ei]--;
            et_t->checks++;
            et_t->pass += ok;
            json_t *c = json_object();
            json_object_set_new(c, "check", json_integer((json_int_t)i + 1));
            json_object_set_new(c, "event_type", json_string(et));
            json_object_set_new(c, "result", json_string(ok ? "pass" : "fail"));
            json_object_set_new(c, "want", json_integer(want));
            json_object_set_new(c, "got", json_integer(got));
            /* a check that wants no such record has no fields to compare */
            if (want != 0)
                json_object_set_new(c, "differ", compare_fields(ev.v, ev.n, et, m, et_t));
            json_array_append_new(etj, c);
        }
    }
    json_object_set_new(rec, "record_checks", etj);
    if (!only_filters) {
        r = R_SKIP; /* judged on its filters only for the per-type figures */
        why = "checks other than filter (shell, file-compare, stats)";
    }
    json_object_set_new(rec, "failures", fails);
    free_events(&ev);
    if (only_alerts) {
        t->alert_total++;
        t->alert_pass += r == R_PASS;
        if (in_scope) {
            t->scope_total++;
            t->scope_pass += r == R_PASS;
        }
    }
    json_object_set_new(rec, "alert_only", json_boolean(only_alerts));
    json_object_set_new(rec, "in_scope", json_boolean(in_scope));
    if (!in_scope && scope_why[0])
        json_object_set_new(rec, "out_of_scope", json_string(scope_why));
    if (rules_short)
        json_object_set_new(rec, "note", json_string("rules did not all load"));
done:
    for (int i = 0; i < ET__COUNT; i++)
        t->et[i].out_of_scope += (unsigned)et_checks[i];
    config_free(y);
    json_object_set_new(rec, "result",
                        json_string(r == R_PASS   ? "pass"
                                    : r == R_FAIL ? "fail"
                                                  : "skip"));
    if (why)
        json_object_set_new(rec, "why", json_string(why));
    t->total++;
    if (r == R_PASS)
        t->pass++;
    else if (r == R_FAIL)
        t->fail++;
    else
        t->skip++;
    if (o->verbose || r == R_FAIL) {
        char *s = json_dumps(rec, JSON_COMPACT);
        fprintf(stderr, "%s\n", s);
        free(s);
    }
    return r;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    struct options o = {NULL, NULL, NULL, NULL, "/tmp/vigil-compat", 0};
    static const struct option longopts[] = {{"sensor", required_argument, NULL, 's'},
                                             {"suite", required_argument, NULL, 'd'},
                                             {"only", required_argument, NULL, 'o'},
                                             {"report", required_argument, NULL, 'j'},
                                             {"tmp", required_argument, NULL, 't'},
                                             {"verbose", no_argument, NULL, 'v'},
                                             {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "s:d:o:j:t:v", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            o.sensor = optarg;
            break;
        case 'd':
            o.suite = optarg;
            break;
        case 'o':
            o.only = optarg;
            break;
        case 'j':
            o.report = optarg;
            break;
        case 't':
            o.tmp = optarg;
            break;
        case 'v':
            o.verbose = 1;
            break;
        default:
            fprintf(stderr, "usage: vigil-compat --sensor PATH --suite DIR [--only NAME] "
                            "[--report FILE] [--tmp DIR] [-v]\n");
            return 2;
        }
    }
    if (o.sensor == NULL || o.suite == NULL) {
        fprintf(stderr, "vigil-compat: --sensor and --suite are required\n");
        return 2;
    }
    mkdir(o.tmp, 0755);
    DIR *d = opendir(o.suite);
    if (d == NULL) {
        fprintf(stderr, "vigil-compat: %s: %s\n", o.suite, strerror(errno));
        return 2;
    }
    char **names = NULL;
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (o.only && strcmp(o.only, e->d_name) != 0)
            continue;
        names = realloc(names, (nn + 1) * sizeof(*names));
        names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof(*names), cmpstr);
    struct tally t;
    memset(&t, 0, sizeof(t));
    json_t *report = json_array();
    for (size_t i = 0; i < nn; i++) {
        run_test(&o, names[i], &t, report);
        free(names[i]);
    }
    free(names);
    printf("vigil-compat: %u tests: %u passed, %u failed, %u skipped\n", t.total, t.pass, t.fail,
           t.skip);
    printf("vigil-compat: alert-count tests: %u/%u passed (%.1f%%)\n", t.alert_pass, t.alert_total,
           t.alert_total ? 100.0 * t.alert_pass / t.alert_total : 0.0);
    printf("vigil-compat: ... with rules in scope: %u/%u passed (%.1f%%)\n", t.scope_pass,
           t.scope_total, t.scope_total ? 100.0 * t.scope_pass / t.scope_total : 0.0);
    for (int i = 0; i < ET__COUNT; i++) {
        const struct et_tally *te = &t.et[i];
        printf("vigil-compat: %s record checks: %u/%u passed, fields %u/%u agree (%u checks for "
               "another Suricata version or not run)\n",
               et_names[i], te->pass, te->checks, te->agree, te->fields, te->out_of_scope);
    }
    if (o.report) {
        json_t *root = json_object();
        json_t *ets = json_object();
        for (int i = 0; i < ET__COUNT; i++) {
            const struct et_tally *te = &t.et[i];
            json_t *x = json_object();
            json_object_set_new(x, "checks", json_integer(te->checks));
            json_object_set_new(x, "passed", json_integer(te->pass));
            json_object_set_new(x, "fields", json_integer(te->fields));
            json_object_set_new(x, "fields_agree", json_integer(te->agree));
            json_object_set_new(x, "out_of_scope", json_integer(te->out_of_scope));
            json_object_set_new(ets, et_names[i], x);
        }
        json_object_set_new(root, "record_checks", ets);
        json_object_set_new(root, "suricata_version", json_string(COMPAT_VERSION));
        json_object_set_new(root, "tests", report);
        json_object_set_new(root, "passed", json_integer(t.pass));
        json_object_set_new(root, "failed", json_integer(t.fail));
        json_object_set_new(root, "skipped", json_integer(t.skip));
        json_object_set_new(root, "alert_passed", json_integer(t.alert_pass));
        json_object_set_new(root, "alert_total", json_integer(t.alert_total));
        json_object_set_new(root, "scope_passed", json_integer(t.scope_pass));
        json_object_set_new(root, "scope_total", json_integer(t.scope_total));
        json_dump_file(root, o.report, JSON_INDENT(1));
        json_decref(root);
    } else {
        json_decref(report);
    }
    return 0;
}
