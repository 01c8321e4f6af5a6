/* enrich-assets.c: the city's asset inventory (YAML) and its longest-prefix look-up by address. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "enrich-internal.h"
#include "vigil/enrich.h"

#define ASSETS_MAX_ERRORS 1000 /* messages kept; more are only counted */
#define ASSETS_MAX_HOST 255

/* A bump allocator: every string and array of an inventory lives here and goes in one free. */
struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

struct host_ref {
    const char *host;
    uint32_t idx;
};

struct enrich_assets {
    struct arena_chunk *arena;
    struct enrich_asset *v; /* entries, file order */
    size_t n, cap;
    struct lpm_table t; /* values are indexes into v */
    struct host_ref *hosts;
    size_t nhosts;
    char **errors; /* partial load: what was skipped */
    size_t nerrors;
    size_t nerrors_total;
};

static void *arena_alloc(struct enrich_assets *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size == 0)
        size = 16;
    struct arena_chunk *c = a->arena;
    if (c == NULL || c->cap - c->used < size) {
        size_t cap = size > 16384 ? size : 16384;
        c = malloc(sizeof(*c) + cap);
        if (c == NULL)
            return NULL;
        c->next = a->arena;
        c->used = 0;
        c->cap = cap;
        a->arena = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    return p;
}

static char *arena_strdup(struct enrich_assets *a, const char *s)
{
    size_t len = strlen(s);
    char *d = arena_alloc(a, len + 1);
    if (d != NULL)
        memcpy(d, s, len + 1);
    return d;
}

/* The state of one load: where messages go and whether an entry is being rejected. */
struct loader {
    struct enrich_assets *a;
    const char *name;
    unsigned flags;
    char first[VG_ERRBUF_SIZE + 64]; /* the first error, for errbuf */
    size_t nerr;
    int oom;
};

static void VG_PRINTF(3, 4) load_error(struct loader *l, int line, const char *fmt, ...)
{
    char msg[VG_ERRBUF_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char full[VG_ERRBUF_SIZE + 64];
    snprintf(full, sizeof(full), "%s:%d: %s", l->name, line, msg);
    if (l->nerr++ == 0)
        snprintf(l->first, sizeof(l->first), "%s", full);
    struct enrich_assets *a = l->a;
    a->nerrors_total++;
    if ((l->flags & ENRICH_ASSETS_PARTIAL) && a->nerrors < ASSETS_MAX_ERRORS) {
        if (a->errors == NULL)
            a->errors = calloc(ASSETS_MAX_ERRORS, sizeof(*a->errors));
        char *m = a->errors ? strdup(full) : NULL;
        if (m == NULL)
            l->oom = 1;
        else
            a->errors[a->nerrors++] = m;
    }
}

const char *enrich_criticality_name(enum enrich_criticality c)
{
    switch (c) {
    case ENRICH_CRIT_LOW:
        return "low";
    case ENRICH_CRIT_NORMAL:
        return "normal";
    case ENRICH_CRIT_HIGH:
        return "high";
    case ENRICH_CRIT_CRITICAL:
        return "critical";
    default:
        return NULL;
    }
}

const char *enrich_unit_type_name(enum enrich_unit_type t)
{
    switch (t) {
    case ENRICH_UNIT_DEPARTMENT:
        return "department";
    case ENRICH_UNIT_DISTRICT:
        return "district";
    case ENRICH_UNIT_WARD:
        return "ward";
    case ENRICH_UNIT_CITY_SHARED:
        return "city-shared";
    default:
        return NULL;
    }
}

/* Returns the scalar text of n, or NULL after reporting that field key needs one. */
static const char *scalar(struct loader *l, const struct config_node *n, const char *key)
{
    if (n->type != CONFIG_SCALAR) {
        load_error(l, n->line, "%s must be a single value", key);
        return NULL;
    }
    return n->value;
}

/* A string field: non-empty, stored in the arena. */
static int get_string(struct loader *l, const struct config_node *n, const char *key,
                      const char **out)
{
    const char *v = scalar(l, n, key);
    if (v == NULL)
        return -1;
    if (v[0] == '\0') {
        load_error(l, n->line, "%s is empty", key);
        return -1;
    }
    if ((*out = arena_strdup(l->a, v)) == NULL) {
        l->oom = 1;
        return -1;
    }
    return 0;
}

/* A field that is one value or a list of values: returns the count and the nodes. *np is the
 * caller's pointer to the field, which stands for the list of one when the field is a value. */
static int get_list(struct loader *l, const struct config_node *const *np, const char *key,
                    const struct config_node *const **items, size_t *nitems)
{
    const struct config_node *n = *np;
    if (n->type == CONFIG_SCALAR) {
        *items = np;
        *nitems = n->value[0] != '\0'; /* "key:" with nothing after it is an empty list */
        return 0;
    }
    if (n->type != CONFIG_SEQ) {
        load_error(l, n->line, "%s must be a value or a list", key);
        return -1;
    }
    *items = (const struct config_node *const *)n->child;
    *nitems = n->nchild;
    return 0;
}

/* A list of strings (tags, host names). lower folds ASCII case. */
static int get_strings(struct loader *l, const struct config_node *n, const char *key, int lower,
                       const char *const **out, size_t *nout)
{
    const struct config_node *const *items;
    size_t ni;
    if (get_list(l, &n, key, &items, &ni) < 0)
        return -1;
    const char **v = arena_alloc(l->a, (ni ? ni : 1) * sizeof(*v));
    if (v == NULL) {
        l->oom = 1;
        return -1;
    }
    for (size_t i = 0; i < ni; i++) {
        const char *s;
        if (get_string(l, items[i], key, &s) < 0)
            return -1;
        if (lower)
            for (char *p = (char *)s; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        v[i] = s;
    }
    *out = v;
    *nout = ni;
    return 0;
}

static int get_contacts(struct loader *l, const struct config_node *n, struct enrich_asset *as)
{
    const struct config_node *const *items;
    size_t ni;
    const struct config_node *self = n;
    if (n->type == CONFIG_MAP) { /* a single contact without the list */
        items = &self;
        ni = 1;
    } else if (n->type == CONFIG_SEQ) {
        items = (const struct config_node *const *)n->child;
        ni = n->nchild;
    } else {
        load_error(l, n->line, "contacts must be a list of {name, email, phone}");
        return -1;
    }
    struct enrich_contact *c = arena_alloc(l->a, (ni ? ni : 1) * sizeof(*c));
    if (c == NULL) {
        l->oom = 1;
        return -1;
    }
    for (size_t i = 0; i < ni; i++) {
        const struct config_node *m = items[i];
        c[i] = (struct enrich_contact){0};
        if (m->type != CONFIG_MAP) {
            load_error(l, m->line, "a contact must be a map of name, email, phone");
            return -1;
        }
        for (size_t k = 0; k < m->nchild; k++) {
            const struct config_node *f = m->child[k];
            const char **dst = strcmp(f->key, "name") == 0    ? &c[i].name
                               : strcmp(f->key, "email") == 0 ? &c[i].email
                               : strcmp(f->key, "phone") == 0 ? &c[i].phone
                                                              : NULL;
            if (dst == NULL) {
                load_error(l, f->line, "unknown contact field \"%s\" (name, email, phone)", f->key);
                return -1;
            }
            if (get_string(l, f, f->key, dst) < 0)
                return -1;
        }
        if (c[i].email != NULL && strchr(c[i].email, '@') == NULL) {
            load_error(l, m->line, "contact email \"%s\" has no @", c[i].email);
            return -1;
        }
    }
    as->contacts = c;
    as->ncontacts = ni;
    return 0;
}

/* The networks of an entry, parsed (strict CIDRs) and kept normalised. */
struct net {
    int ver;
    uint8_t addr[16];
    unsigned plen;
};

static int get_networks(struct loader *l, const struct config_node *n, struct enrich_asset *as,
                        struct net **nets)
{
    const struct config_node *const *items;
    size_t ni;
    if (get_list(l, &n, n->key, &items, &ni) < 0)
        return -1;
    const char **txt = arena_alloc(l->a, (ni ? ni : 1) * sizeof(*txt));
    struct net *nv = calloc(ni ? ni : 1, sizeof(*nv));
    if (txt == NULL || nv == NULL) {
        free(nv);
        l->oom = 1;
        return -1;
    }
    for (size_t i = 0; i < ni; i++) {
        const char *s = scalar(l, items[i], "a network");
        char why[200], norm[64];
        if (s == NULL)
            goto fail;
        if (lpm_parse_cidr(s, 1, &nv[i].ver, nv[i].addr, &nv[i].plen, why, sizeof(why)) < 0) {
            load_error(l, items[i]->line, "%s", why);
            goto fail;
        }
        lpm_format_cidr(nv[i].ver, nv[i].addr, nv[i].plen, norm, sizeof(norm));
        if ((txt[i] = arena_strdup(l->a, norm)) == NULL) {
            l->oom = 1;
            goto fail;
        }
    }
    as->networks = txt;
    as->nnetworks = ni;
    *nets = nv;
    return 0;
fail:
    free(nv);
    return -1;
}

static int parse_criticality(const char *s, enum enrich_criticality *out)
{
    static const struct {
        const char *name;
        enum enrich_criticality c;
    } t[] = {{"low", ENRICH_CRIT_LOW},
             {"normal", ENRICH_CRIT_NORMAL},
             {"medium", ENRICH_CRIT_NORMAL},
             {"high", ENRICH_CRIT_HIGH},
             {"critical", ENRICH_CRIT_CRITICAL}};
    for (size_t i = 0; i < VG_ARRAY_LEN(t); i++)
        if (strcasecmp(s, t[i].name) == 0) {
            *out = t[i].c;
            return 0;
        }
    return -1;
}

static int parse_unit_type(const char *s, enum enrich_unit_type *out)
{
    for (int t = ENRICH_UNIT_DEPARTMENT; t <= ENRICH_UNIT_CITY_SHARED; t++)
        if (strcasecmp(s, enrich_unit_type_name((enum enrich_unit_type)t)) == 0) {
            *out = (enum enrich_unit_type)t;
            return 0;
        }
    return -1;
}

/* Parses one entry of the assets list into *as; its networks into *nets (malloc'd). */
static int parse_entry(struct loader *l, const struct config_node *m, struct enrich_asset *as,
                       struct net **nets)
{
    *as = (struct enrich_asset){.line = m->line};
    *nets = NULL;
    if (m->type != CONFIG_MAP) {
        load_error(l, m->line, "an asset must be a map (network, unit, system, ...)");
        return -1;
    }
    const struct config_node *netnode = NULL;
    for (size_t k = 0; k < m->nchild; k++) {
        const struct config_node *f = m->child[k];
        const char *key = f->key;
        const char *s;
        int rc = 0;
        if (strcmp(key, "network") == 0 || strcmp(key, "networks") == 0 ||
            strcmp(key, "cidr") == 0) {
            if (netnode != NULL) {
                load_error(l, f->line, "networks given twice (network, networks, cidr)");
                rc = -1;
            }
            netnode = f;
        } else if (strcmp(key, "id") == 0) {
            rc = get_string(l, f, key, &as->id);
        } else if (strcmp(key, "unit") == 0) {
            rc = get_string(l, f, key, &as->unit);
        } else if (strcmp(key, "system") == 0) {
            rc = get_string(l, f, key, &as->system);
        } else if (strcmp(key, "description") == 0) {
            rc = get_string(l, f, key, &as->description);
        } else if (strcmp(key, "unit-type") == 0) {
            rc = (s = scalar(l, f, key)) == NULL ? -1 : parse_unit_type(s, &as->unit_type);
            if (s != NULL && rc < 0)
                load_error(l, f->line,
                           "unit-type \"%s\" is not department, district, ward or city-shared", s);
        } else if (strcmp(key, "criticality") == 0) {
            rc = (s = scalar(l, f, key)) == NULL ? -1 : parse_criticality(s, &as->criticality);
            if (s != NULL && rc < 0)
                load_error(l, f->line, "criticality \"%s\" is not low, normal, high or critical",
                           s);
        } else if (strcmp(key, "tags") == 0) {
            rc = get_strings(l, f, key, 0, &as->tags, &as->ntags);
        } else if (strcmp(key, "hosts") == 0) {
            rc = get_strings(l, f, key, 1, &as->hosts, &as->nhosts);
            for (size_t i = 0; rc == 0 && i < as->nhosts; i++) {
                size_t hl = strlen(as->hosts[i]);
                if (hl > 0 && as->hosts[i][hl - 1] == '.')
                    ((char *)as->hosts[i])[hl - 1] = '\0';
                /* One trailing dot is the DNS root; a second one ("a..") would never match a
                 * look-up. */
                if (hl > ASSETS_MAX_HOST || as->hosts[i][0] == '\0' ||
                    as->hosts[i][strlen(as->hosts[i]) - 1] == '.' ||
                    strchr(as->hosts[i], ' ') != NULL) {
                    load_error(l, f->line, "bad host name \"%.64s\"", as->hosts[i]);
                    rc = -1;
                }
            }
        } else if (strcmp(key, "contacts") == 0) {
            rc = get_contacts(l, f, as);
        } else {
            load_error(l, f->line,
                       "unknown field \"%.64s\" (network, unit, unit-type, system, description, "
                       "criticality, contacts, tags, hosts, id)",
                       key);
            rc = -1;
        }
        if (rc < 0)
            return -1;
    }
    if (netnode == NULL) {
        load_error(l, m->line, "asset has no network");
        return -1;
    }
    if (as->unit == NULL) {
        load_error(l, m->line, "asset has no unit");
        return -1;
    }
    if (as->system == NULL) {
        load_error(l, m->line, "asset has no system");
        return -1;
    }
    if (get_networks(l, netnode, as, nets) < 0)
        return -1;
    if (as->nnetworks == 0) {
        free(*nets);
        *nets = NULL;
        load_error(l, netnode->line, "asset has no network");
        return -1;
    }
    return 0;
}

/* Called by lpm_build for a network listed by two entries: the later one loses it. */
struct dup_ctx {
    struct loader *l;
};

static void on_dup(void *ctx, uint32_t kept, uint32_t dropped)
{
    struct loader *l = ((struct dup_ctx *)ctx)->l;
    const struct enrich_asset *k = &l->a->v[kept], *d = &l->a->v[dropped];
    const char *net = "a network";
    for (size_t i = 0; i < d->nnetworks; i++)
        for (size_t j = 0; j < k->nnetworks; j++)
            if (strcmp(d->networks[i], k->networks[j]) == 0)
                net = d->networks[i];
    if (kept == dropped)
        load_error(l, d->line, "%s is listed twice in this entry", net);
    else
        load_error(l, d->line, "%s is already in the entry at line %d", net, k->line);
}

static int host_cmp(const void *x, const void *y)
{
    const struct host_ref *a = x, *b = y;
    int c = strcmp(a->host, b->host);
    return c ? c : (a->idx > b->idx) - (a->idx < b->idx);
}

void enrich_assets_free(struct enrich_assets *a)
{
    if (a == NULL)
        return;
    while (a->arena != NULL) {
        struct arena_chunk *next = a->arena->next;
        free(a->arena);
        a->arena = next;
    }
    free(a->v);
    lpm_table_free(&a->t);
    free(a->hosts);
    for (size_t i = 0; i < a->nerrors; i++)
        free(a->errors[i]);
    free(a->errors);
    free(a);
}

/* Builds the inventory from a loaded YAML tree. */
static struct enrich_assets *build(struct config *cfg, const char *name, unsigned flags,
                                   char *errbuf)
{
    struct enrich_assets *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        vg_errbuf_set(errbuf, "%s: out of memory", name);
        return NULL;
    }
    struct loader l = {.a = a, .name = name, .flags = flags};
    struct lpm_builder b = {0};
    const struct config_node *root = cfg->root, *list = NULL;
    for (size_t i = 0; root != NULL && i < root->nchild; i++) {
        const struct config_node *c = root->child[i];
        if (strcmp(c->key, "assets") == 0)
            list = c;
        else if (strcmp(c->key, "version") != 0)
            load_error(&l, c->line, "unknown top-level key \"%.64s\" (assets, version)", c->key);
    }
    if (list == NULL) {
        vg_errbuf_set(errbuf, "%s: no \"assets:\" list", name);
        goto fail;
    }
    if (list->type == CONFIG_MAP || (list->type == CONFIG_SCALAR && list->value[0] != '\0')) {
        vg_errbuf_set(errbuf, "%s:%d: \"assets\" must be a list of entries", name, list->line);
        goto fail;
    }
    size_t n = list->type == CONFIG_SEQ ? list->nchild : 0;
    a->v = calloc(n ? n : 1, sizeof(*a->v));
    if (a->v == NULL)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        struct enrich_asset as;
        struct net *nets = NULL;
        if (parse_entry(&l, list->child[i], &as, &nets) < 0) {
            free(nets);
            if (l.oom)
                goto oom;
            continue;
        }
        uint32_t idx = (uint32_t)a->n;
        a->v[a->n++] = as;
        for (size_t k = 0; k < as.nnetworks; k++)
            if (lpm_add(&b, nets[k].ver, nets[k].addr, nets[k].plen, idx) < 0) {
                free(nets);
                goto oom;
            }
        free(nets);
        a->nhosts += as.nhosts;
    }
    struct dup_ctx dc = {&l};
    if (lpm_build(&b, &a->t, on_dup, &dc) < 0)
        goto oom;
    /* Host names, sorted for binary search; a name in two entries is an error too. */
    if (a->nhosts > 0) {
        a->hosts = malloc(a->nhosts * sizeof(*a->hosts));
        if (a->hosts == NULL)
            goto oom;
        size_t k = 0;
        for (size_t i = 0; i < a->n; i++)
            for (size_t j = 0; j < a->v[i].nhosts; j++)
                a->hosts[k++] = (struct host_ref){a->v[i].hosts[j], (uint32_t)i};
        qsort(a->hosts, k, sizeof(*a->hosts), host_cmp);
        size_t out = 0;
        for (size_t i = 0; i < k; i++) {
            if (out > 0 && strcmp(a->hosts[out - 1].host, a->hosts[i].host) == 0) {
                load_error(&l, a->v[a->hosts[i].idx].line,
                           "host %.64s is already in the entry at line %d", a->hosts[i].host,
                           a->v[a->hosts[out - 1].idx].line);
                continue;
            }
            a->hosts[out++] = a->hosts[i];
        }
        a->nhosts = out;
    }
    if (l.oom)
        goto oom;
    if (l.nerr > 0 && !(flags & ENRICH_ASSETS_PARTIAL)) {
        if (l.nerr > 1)
            vg_errbuf_set(errbuf, "%s (and %zu more error%s)", l.first, l.nerr - 1,
                          l.nerr > 2 ? "s" : "");
        else
            vg_errbuf_set(errbuf, "%s", l.first);
        goto fail;
    }
    return a;
oom:
    vg_errbuf_set(errbuf, "%s: out of memory", name);
fail:
    lpm_builder_free(&b);
    enrich_assets_free(a);
    return NULL;
}

struct enrich_assets *enrich_assets_load_file(const char *path, unsigned flags, char *errbuf)
{
    struct config *cfg = config_new();
    if (cfg == NULL) {
        vg_errbuf_set(errbuf, "%s: out of memory", path);
        return NULL;
    }
    struct enrich_assets *a = NULL;
    if (config_load_file(cfg, path, errbuf) == 0)
        a = build(cfg, path, flags, errbuf);
    config_free(cfg);
    return a;
}

struct enrich_assets *enrich_assets_load_mem(const char *data, size_t len, const char *name,
                                             unsigned flags, char *errbuf)
{
    if (memchr(data, '\0', len) != NULL) {
        vg_errbuf_set(errbuf, "%s: NUL byte in the inventory", name);
        return NULL;
    }
    char *text = malloc(len + 1);
    struct config *cfg = config_new();
    if (text == NULL || cfg == NULL) {
        free(text);
        config_free(cfg);
        vg_errbuf_set(errbuf, "%s: out of memory", name);
        return NULL;
    }
    memcpy(text, data, len);
    text[len] = '\0';
    struct enrich_assets *a = NULL;
    if (config_load_string(cfg, text, name, errbuf) == 0)
        a = build(cfg, name, flags, errbuf);
    config_free(cfg);
    free(text);
    return a;
}

size_t enrich_assets_count(const struct enrich_assets *a)
{
    return a ? a->n : 0;
}

const struct enrich_asset *enrich_assets_get(const struct enrich_assets *a, size_t i)
{
    return a != NULL && i < a->n ? &a->v[i] : NULL;
}

const char *const *enrich_assets_errors(const struct enrich_assets *a, size_t *n)
{
    *n = a ? a->nerrors : 0;
    return a ? (const char *const *)a->errors : NULL;
}

const struct enrich_asset *enrich_assets_lookup(const struct enrich_assets *a, int ip_ver,
                                                const struct vg_addr *addr, unsigned *plen)
{
    if (a == NULL)
        return NULL;
    uint32_t i = lpm_find(&a->t, ip_ver, addr, plen);
    return i == LPM_NONE ? NULL : &a->v[i];
}

const struct enrich_asset *enrich_assets_lookup_host(const struct enrich_assets *a,
                                                     const char *host)
{
    if (a == NULL || host == NULL || a->nhosts == 0)
        return NULL;
    char key[ASSETS_MAX_HOST + 2];
    size_t len = strlen(host);
    if (len > ASSETS_MAX_HOST + 1)
        return NULL;
    for (size_t i = 0; i < len; i++)
        key[i] = (char)tolower((unsigned char)host[i]);
    if (len > 0 && key[len - 1] == '.')
        len--;
    key[len] = '\0';
    size_t lo = 0, hi = a->nhosts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(a->hosts[mid].host, key);
        if (c == 0)
            return &a->v[a->hosts[mid].idx];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
