/* config.c: YAML configuration (libyaml) kept as a tree and read by dotted keys. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "vigil/common.h"
#include "vigil/config.h"

#define CONFIG_MAX_DEPTH 64
#define CONFIG_MAX_NODES 200000 /* a whole suricata.yaml is ~3,000 */
#define CONFIG_MAX_KEY 512

static struct config_node *node_new(enum config_type type, const char *key, int line)
{
    struct config_node *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->type = type;
    n->line = line;
    if (key != NULL && (n->key = strdup(key)) == NULL) {
        free(n);
        return NULL;
    }
    return n;
}

static void node_free(struct config_node *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->nchild; i++)
        node_free(n->child[i]);
    free(n->child);
    free(n->key);
    free(n->value);
    free(n);
}

static int node_add(struct config_node *parent, struct config_node *child)
{
    struct config_node **v = realloc(parent->child, (parent->nchild + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    parent->child = v;
    parent->child[parent->nchild++] = child;
    return 0;
}

static struct config_node *map_find(const struct config_node *map, const char *key, size_t klen)
{
    if (map->type != CONFIG_MAP)
        return NULL;
    for (size_t i = 0; i < map->nchild; i++) {
        const char *k = map->child[i]->key;
        if (k != NULL && strlen(k) == klen && strncmp(k, key, klen) == 0)
            return map->child[i];
    }
    return NULL;
}

struct config *config_new(void)
{
    struct config *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->root = node_new(CONFIG_MAP, NULL, 0);
    c->defaults = node_new(CONFIG_MAP, NULL, 0);
    if (c->root == NULL || c->defaults == NULL) {
        node_free(c->root);
        node_free(c->defaults);
        free(c);
        return NULL;
    }
    return c;
}

void config_free(struct config *c)
{
    if (c == NULL)
        return;
    node_free(c->root);
    node_free(c->defaults);
    free(c->path);
    free(c);
}

/* Converts a libyaml document node into a config node, recursively. */
static struct config_node *from_yaml(yaml_document_t *doc, yaml_node_t *y, const char *key,
                                     int depth, long *budget, const char *name, char *errbuf)
{
    int line = (int)y->start_mark.line + 1;
    if (depth > CONFIG_MAX_DEPTH) {
        vg_errbuf_set(errbuf, "%s:%d: nesting too deep", name, line);
        return NULL;
    }
    /* Aliases are expanded on each use, so nested ones could grow exponentially. */
    if (--*budget < 0) {
        vg_errbuf_set(errbuf, "%s:%d: more than %d nodes (alias expansion?)", name, line,
                      CONFIG_MAX_NODES);
        return NULL;
    }
    struct config_node *n;
    switch (y->type) {
    case YAML_SCALAR_NODE:
        n = node_new(CONFIG_SCALAR, key, line);
        if (n == NULL ||
            (n->value = strndup((const char *)y->data.scalar.value, y->data.scalar.length)) == NULL)
            goto oom;
        return n;
    case YAML_SEQUENCE_NODE:
        n = node_new(CONFIG_SEQ, key, line);
        if (n == NULL)
            goto oom;
        for (yaml_node_item_t *it = y->data.sequence.items.start; it < y->data.sequence.items.top;
             it++) {
            yaml_node_t *cy = yaml_document_get_node(doc, *it);
            struct config_node *cn =
                cy ? from_yaml(doc, cy, NULL, depth + 1, budget, name, errbuf) : NULL;
            if (cn == NULL || node_add(n, cn) < 0) {
                node_free(cn);
                node_free(n);
                return NULL;
            }
        }
        return n;
    case YAML_MAPPING_NODE:
        n = node_new(CONFIG_MAP, key, line);
        if (n == NULL)
            goto oom;
        for (yaml_node_pair_t *pr = y->data.mapping.pairs.start; pr < y->data.mapping.pairs.top;
             pr++) {
            yaml_node_t *ky = yaml_document_get_node(doc, pr->key);
            yaml_node_t *vy = yaml_document_get_node(doc, pr->value);
            if (ky == NULL || vy == NULL || ky->type != YAML_SCALAR_NODE) {
                vg_errbuf_set(errbuf, "%s:%d: mapping keys must be plain scalars", name, line);
                node_free(n);
                return NULL;
            }
            char *k = strndup((const char *)ky->data.scalar.value, ky->data.scalar.length);
            if (k == NULL) {
                node_free(n);
                goto oom;
            }
            struct config_node *cn = from_yaml(doc, vy, k, depth + 1, budget, name, errbuf);
            free(k);
            if (cn == NULL) {
                node_free(n);
                return NULL;
            }
            /* A repeated key replaces the earlier value. */
            struct config_node *old = map_find(n, cn->key, strlen(cn->key));
            if (old != NULL) {
                for (size_t i = 0; i < n->nchild; i++)
                    if (n->child[i] == old)
                        n->child[i] = cn;
                node_free(old);
            } else if (node_add(n, cn) < 0) {
                node_free(cn);
                node_free(n);
                goto oom;
            }
        }
        return n;
    default:
        vg_errbuf_set(errbuf, "%s:%d: empty node", name, line);
        return NULL;
    }
oom:
    vg_errbuf_set(errbuf, "%s: out of memory", name);
    return NULL;
}

/* Merges src (a map) into dst (a map): maps merge key by key, anything else replaces. */
static int merge_into(struct config_node *dst, struct config_node *src)
{
    for (size_t i = 0; i < src->nchild; i++) {
        struct config_node *s = src->child[i];
        struct config_node *d = map_find(dst, s->key, strlen(s->key));
        if (d != NULL && d->type == CONFIG_MAP && s->type == CONFIG_MAP) {
            if (merge_into(d, s) < 0)
                return -1;
            continue;
        }
        src->child[i] = NULL;
        if (d != NULL) {
            for (size_t j = 0; j < dst->nchild; j++)
                if (dst->child[j] == d)
                    dst->child[j] = s;
            node_free(d);
        } else if (node_add(dst, s) < 0) {
            node_free(s);
            return -1;
        }
    }
    return 0;
}

static int load_parser(struct config *c, yaml_parser_t *parser, const char *name, char *errbuf)
{
    yaml_document_t doc;
    if (!yaml_parser_load(parser, &doc)) {
        vg_errbuf_set(errbuf, "%s:%zu: %s", name, parser->problem_mark.line + 1,
                      parser->problem ? parser->problem : "YAML syntax error");
        return -1;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = 0;
    if (root == NULL) { /* an empty file is an empty configuration */
        yaml_document_delete(&doc);
        return 0;
    }
    if (root->type != YAML_MAPPING_NODE) {
        vg_errbuf_set(errbuf, "%s:%zu: the top level must be a mapping", name,
                      root->start_mark.line + 1);
        yaml_document_delete(&doc);
        return -1;
    }
    long budget = CONFIG_MAX_NODES;
    struct config_node *tree = from_yaml(&doc, root, NULL, 0, &budget, name, errbuf);
    yaml_document_delete(&doc);
    if (tree == NULL)
        return -1;
    if (merge_into(c->root, tree) < 0) {
        vg_errbuf_set(errbuf, "%s: out of memory", name);
        rc = -1;
    }
    node_free(tree);
    return rc;
}

int config_load_file(struct config *c, const char *path, char *errbuf)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        vg_errbuf_set(errbuf, "%s: %s", path, strerror(errno));
        return -1;
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    int rc = load_parser(c, &parser, path, errbuf);
    yaml_parser_delete(&parser);
    fclose(f);
    if (rc == 0) {
        free(c->path);
        c->path = strdup(path);
    }
    return rc;
}

int config_load_string(struct config *c, const char *text, const char *name, char *errbuf)
{
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    int rc = load_parser(c, &parser, name, errbuf);
    yaml_parser_delete(&parser);
    return rc;
}

/* Finds the child named by key[0..klen) in n: a map key, or a sequence index. */
static struct config_node *child_of(const struct config_node *n, const char *key, size_t klen)
{
    if (n->type == CONFIG_MAP)
        return map_find(n, key, klen);
    if (n->type == CONFIG_SEQ && klen > 0 && klen < 10) {
        size_t idx = 0;
        for (size_t i = 0; i < klen; i++) {
            if (key[i] < '0' || key[i] > '9')
                return NULL;
            idx = idx * 10 + (size_t)(key[i] - '0');
        }
        return idx < n->nchild ? n->child[idx] : NULL;
    }
    return NULL;
}

static const struct config_node *lookup_at(const struct config_node *n, const char *key);

const struct config_node *config_lookup(const struct config *c, const char *key)
{
    return lookup_at(c->root, key);
}

const char *config_get(const struct config *c, const char *key)
{
    const struct config_node *n = config_lookup(c, key);
    return n != NULL && n->type == CONFIG_SCALAR ? n->value : NULL;
}

/* Sets the scalar at dotted key under root, as config_set. */
static int set_at(struct config_node *root, const char *key, const char *value, char *errbuf)
{
    if (key[0] == '\0' || strlen(key) >= CONFIG_MAX_KEY) {
        vg_errbuf_set(errbuf, "invalid configuration key '%s'", key);
        return -1;
    }
    struct config_node *n = root;
    const char *p = key;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t klen = dot ? (size_t)(dot - p) : strlen(p);
        if (klen == 0) {
            vg_errbuf_set(errbuf, "invalid configuration key '%s'", key);
            return -1;
        }
        struct config_node *next = child_of(n, p, klen);
        if (dot == NULL) {
            char *v = strdup(value);
            if (v == NULL)
                goto oom;
            if (next != NULL && next->type == CONFIG_SCALAR) {
                free(next->value);
                next->value = v;
                next->line = 0;
                return 0;
            }
            if (n->type != CONFIG_MAP) {
                free(v);
                vg_errbuf_set(errbuf, "%s: cannot add a key to a sequence", key);
                return -1;
            }
            char k[CONFIG_MAX_KEY];
            snprintf(k, sizeof(k), "%.*s", (int)klen, p);
            struct config_node *s = node_new(CONFIG_SCALAR, k, 0);
            if (s == NULL) {
                free(v);
                goto oom;
            }
            s->value = v;
            if (next != NULL) { /* a map or sequence replaced by a scalar */
                for (size_t i = 0; i < n->nchild; i++)
                    if (n->child[i] == next)
                        n->child[i] = s;
                node_free(next);
                return 0;
            }
            if (node_add(n, s) < 0) {
                node_free(s);
                goto oom;
            }
            return 0;
        }
        if (next == NULL) {
            if (n->type != CONFIG_MAP) {
                vg_errbuf_set(errbuf, "%s: no such sequence element", key);
                return -1;
            }
            char k[CONFIG_MAX_KEY];
            snprintf(k, sizeof(k), "%.*s", (int)klen, p);
            next = node_new(CONFIG_MAP, k, 0);
            if (next == NULL || node_add(n, next) < 0) {
                node_free(next);
                goto oom;
            }
        } else if (next->type == CONFIG_SCALAR) {
            vg_errbuf_set(errbuf, "%s: '%.*s' is a value, not a section", key, (int)klen, p);
            return -1;
        }
        n = next;
        p = dot + 1;
    }
oom:
    vg_errbuf_set(errbuf, "out of memory");
    return -1;
}

int config_set(struct config *c, const char *key, const char *value, char *errbuf)
{
    return set_at(c->root, key, value, errbuf);
}

/* Finds the node at dotted key under root, or NULL. */
static const struct config_node *lookup_at(const struct config_node *n, const char *key)
{
    const char *p = key;
    while (n != NULL && *p != '\0') {
        const char *dot = strchr(p, '.');
        size_t klen = dot ? (size_t)(dot - p) : strlen(p);
        n = child_of(n, p, klen);
        p += klen;
        if (*p == '.')
            p++;
    }
    return n;
}

/* Defaults are noted from whichever thread reads a key (rules reload on the capture thread). */
static pthread_mutex_t defaults_lock = PTHREAD_MUTEX_INITIALIZER;

void config_note_default(const struct config *c, const char *key, const char *value)
{
    if (c == NULL || c->defaults == NULL || key == NULL || value == NULL)
        return;
    pthread_mutex_lock(&defaults_lock);
    /* A key set in the file, or a section that holds it, is not a default. */
    if (config_lookup(c, key) == NULL && lookup_at(c->defaults, key) == NULL)
        (void)set_at(c->defaults, key, value, NULL); /* a key crossing a scalar is not kept */
    pthread_mutex_unlock(&defaults_lock);
}

/* Formats a size as config_get_size reads it back: "64mb", "32kb", or plain bytes. */
static void format_size(uint64_t v, char *out, size_t len)
{
    static const struct {
        uint64_t mult;
        const char *unit;
    } units[] = {{1ULL << 30, "gb"}, {1ULL << 20, "mb"}, {1ULL << 10, "kb"}};
    for (size_t i = 0; i < VG_ARRAY_LEN(units); i++)
        if (v >= units[i].mult && v % units[i].mult == 0) {
            snprintf(out, len, "%" PRIu64 "%s", v / units[i].mult, units[i].unit);
            return;
        }
    snprintf(out, len, "%" PRIu64, v);
}

/* Formats the source of key's value for messages: "file:line" or "--set". */
static void where(const struct config *c, const struct config_node *n, char *out, size_t len)
{
    if (n->line > 0 && c->path != NULL)
        snprintf(out, len, "%s:%d: ", c->path, n->line);
    else
        out[0] = '\0';
}

int config_get_bool(const struct config *c, const char *key, int def, int *out, char *errbuf)
{
    const struct config_node *n = config_lookup(c, key);
    if (n == NULL) {
        *out = def;
        config_note_default(c, key, def ? "yes" : "no");
        return 0;
    }
    static const char *const yes[] = {"yes", "true", "on", "1", "enabled"};
    static const char *const no[] = {"no", "false", "off", "0", "disabled"};
    if (n->type == CONFIG_SCALAR) {
        for (size_t i = 0; i < VG_ARRAY_LEN(yes); i++) {
            if (strcasecmp(n->value, yes[i]) == 0) {
                *out = 1;
                return 0;
            }
            if (strcasecmp(n->value, no[i]) == 0) {
                *out = 0;
                return 0;
            }
        }
    }
    char w[300];
    where(c, n, w, sizeof(w));
    vg_errbuf_set(errbuf, "%s%s: expected yes or no, got '%s'", w, key,
                  n->type == CONFIG_SCALAR ? n->value : "a section");
    return -1;
}

int config_get_uint(const struct config *c, const char *key, uint64_t def, uint64_t max,
                    uint64_t *out, char *errbuf)
{
    const struct config_node *n = config_lookup(c, key);
    if (n == NULL) {
        char v[32];
        snprintf(v, sizeof(v), "%" PRIu64, def);
        *out = def;
        config_note_default(c, key, v);
        return 0;
    }
    if (n->type == CONFIG_SCALAR && vg_parse_uint(n->value, max, out) == 0)
        return 0;
    char w[300];
    where(c, n, w, sizeof(w));
    vg_errbuf_set(errbuf, "%s%s: expected a number from 0 to %llu, got '%s'", w, key,
                  (unsigned long long)max, n->type == CONFIG_SCALAR ? n->value : "a section");
    return -1;
}

int config_get_size(const struct config *c, const char *key, uint64_t def, uint64_t *out,
                    char *errbuf)
{
    const struct config_node *n = config_lookup(c, key);
    if (n == NULL) {
        char v[32];
        format_size(def, v, sizeof(v));
        *out = def;
        config_note_default(c, key, v);
        return 0;
    }
    if (n->type == CONFIG_SCALAR && vg_parse_size(n->value, out) == 0)
        return 0;
    char w[300];
    where(c, n, w, sizeof(w));
    vg_errbuf_set(errbuf, "%s%s: expected a size such as 64mb, got '%s'", w, key,
                  n->type == CONFIG_SCALAR ? n->value : "a section");
    return -1;
}

/* Writes a scalar, quoted when YAML would read it differently. */
static void dump_scalar(const char *v, FILE *out)
{
    int plain = v[0] != '\0' && strpbrk(v, ":#{}[],&*!|>'\"%@`\n") == NULL && v[0] != ' ' &&
                v[0] != '-' && v[strlen(v) - 1] != ' ';
    if (plain) {
        fputs(v, out);
        return;
    }
    fputc('"', out);
    for (const char *s = v; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
    fputc('"', out);
}

/* Writes n's children, and then those of extra (a map of defaults, may be NULL) that n lacks,
 * merging sections present in both. */
static void dump_merged(const struct config_node *n, const struct config_node *extra, int indent,
                        FILE *out)
{
    for (size_t i = 0; i < n->nchild; i++) {
        const struct config_node *ch = n->child[i];
        const struct config_node *ex = extra != NULL && n->type == CONFIG_MAP && ch->key != NULL
                                           ? map_find(extra, ch->key, strlen(ch->key))
                                           : NULL;
        if (ex != NULL && (ch->type != CONFIG_MAP || ex->type != CONFIG_MAP))
            ex = NULL; /* the file's value stands */
        fprintf(out, "%*s", indent, "");
        if (n->type == CONFIG_SEQ)
            fputs("- ", out);
        else {
            dump_scalar(ch->key, out);
            fputs(":", out);
        }
        if (ch->type == CONFIG_SCALAR) {
            if (n->type != CONFIG_SEQ)
                fputc(' ', out);
            dump_scalar(ch->value, out);
            fputc('\n', out);
        } else if (ch->nchild == 0 && (ex == NULL || ex->nchild == 0)) {
            fputs(ch->type == CONFIG_MAP ? " {}\n" : " []\n", out);
        } else {
            fputc('\n', out);
            dump_merged(ch, ex, indent + 2, out);
        }
    }
    if (extra == NULL || n->type != CONFIG_MAP)
        return;
    for (size_t i = 0; i < extra->nchild; i++) {
        const struct config_node *ex = extra->child[i];
        if (map_find(n, ex->key, strlen(ex->key)) != NULL)
            continue;
        fprintf(out, "%*s", indent, "");
        dump_scalar(ex->key, out);
        fputs(":", out);
        if (ex->type == CONFIG_SCALAR) {
            fputc(' ', out);
            dump_scalar(ex->value, out);
            fputc('\n', out);
        } else {
            fputc('\n', out);
            dump_merged(ex, NULL, indent + 2, out);
        }
    }
}

void config_dump(const struct config *c, FILE *out)
{
    fputs("%YAML 1.1\n---\n", out);
    pthread_mutex_lock(&defaults_lock);
    dump_merged(c->root, c->defaults, 0, out);
    pthread_mutex_unlock(&defaults_lock);
}
