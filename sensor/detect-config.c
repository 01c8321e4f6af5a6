/* detect-config.c: classification.config, and the registries of flowbit/xbit/flowint names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect-internal.h"

/* Trims leading and trailing spaces in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

int detect_load_classification(struct detect_engine *e, const char *path, char *errbuf)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        vg_errbuf_set(errbuf, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    int lineno = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char *s = trim(line);
        if (*s == '#' || *s == '\0')
            continue;
        /* config classification: shortname,description,priority */
        const char *prefix = "config classification:";
        if (strncmp(s, prefix, strlen(prefix)) != 0) {
            fprintf(stderr, "vigil-sensor: %s:%d: not a classification line, ignored\n", path,
                    lineno);
            continue;
        }
        char *body = s + strlen(prefix);
        char *c1 = strchr(body, ','), *c2 = c1 ? strrchr(c1 + 1, ',') : NULL;
        if (c1 == NULL || c2 == NULL) {
            fprintf(stderr, "vigil-sensor: %s:%d: expected name,description,priority\n", path,
                    lineno);
            continue;
        }
        *c1 = *c2 = '\0';
        char *end;
        long prio = strtol(trim(c2 + 1), &end, 10);
        if (*end != '\0' || prio < 1 || prio > 255) {
            fprintf(stderr, "vigil-sensor: %s:%d: invalid priority\n", path, lineno);
            continue;
        }
        struct detect_class *v = realloc(e->classes, (e->nclasses + 1) * sizeof(*v));
        if (v == NULL) {
            fclose(f);
            vg_errbuf_set(errbuf, "out of memory");
            return -1;
        }
        e->classes = v;
        struct detect_class *c = &e->classes[e->nclasses];
        c->name = strdup(trim(body));
        c->desc = strdup(trim(c1 + 1));
        c->priority = (int)prio;
        if (c->name == NULL || c->desc == NULL) {
            free(c->name);
            free(c->desc);
            fclose(f);
            vg_errbuf_set(errbuf, "out of memory");
            return -1;
        }
        e->nclasses++;
    }
    fclose(f);
    return 0;
}

const struct detect_class *detect_class_lookup(const struct detect_engine *e, const char *name)
{
    for (unsigned i = 0; i < e->nclasses; i++)
        if (strcmp(e->classes[i].name, name) == 0)
            return &e->classes[i];
    return NULL;
}

unsigned detect_bit_intern(struct bit_registry *r, const char *name)
{
    for (unsigned i = 0; i < r->n; i++)
        if (strcmp(r->names[i], name) == 0)
            return i;
    char **v = realloc(r->names, (r->n + 1) * sizeof(*v));
    if (v == NULL)
        return UINT32_MAX;
    r->names = v;
    if ((r->names[r->n] = strdup(name)) == NULL)
        return UINT32_MAX;
    return r->n++;
}

void detect_registry_free(struct bit_registry *r)
{
    for (unsigned i = 0; i < r->n; i++)
        free(r->names[i]);
    free(r->names);
    r->names = NULL;
    r->n = 0;
}
