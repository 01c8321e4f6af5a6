/* config.h: the YAML configuration as a tree, read by dotted keys ("flow.memcap"). */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stdint.h>
#include <stdio.h>

enum config_type { CONFIG_SCALAR, CONFIG_MAP, CONFIG_SEQ };

struct config_node {
    enum config_type type;
    char *key;   /* the key within its parent map; NULL in a sequence or at the root */
    char *value; /* scalars only */
    int line;    /* 1-based line in the file it came from, 0 if set on the command line */
    struct config_node **child;
    size_t nchild;
};

struct config {
    struct config_node *root; /* always a map */
    char *path;               /* the file loaded last, for messages */
    /* The defaults the sensor used for keys root lacks, noted as they are read (a map): with
     * root, the effective configuration that config_dump prints. */
    struct config_node *defaults;
};

/* Creates an empty configuration. Returns NULL when out of memory. */
struct config *config_new(void);

/* Frees c and every node. */
void config_free(struct config *c);

/*
 * Loads the YAML file path into c; its keys replace or extend what c holds. Returns 0, or -1
 * with "path:line: reason" in errbuf.
 */
int config_load_file(struct config *c, const char *path, char *errbuf);

/* Loads YAML text (for tests), as config_load_file. name is used in messages. */
int config_load_string(struct config *c, const char *yaml, const char *name, char *errbuf);

/*
 * Sets the scalar at dotted key to value, creating maps on the way ("--set flow.memcap=64mb").
 * Returns 0, or -1 with errbuf set if the key is malformed or crosses a scalar.
 */
int config_set(struct config *c, const char *key, const char *value, char *errbuf);

/* Returns the node at dotted key, or NULL. A sequence element is addressed by its index. */
const struct config_node *config_lookup(const struct config *c, const char *key);

/* Returns the scalar at key, or NULL if absent or not a scalar. */
const char *config_get(const struct config *c, const char *key);

/*
 * Typed getters: store the value at key, or def if the key is absent (and note def as the
 * key's default, for config_dump). Return 0, or -1 with "key: reason" in errbuf if the value
 * is present but invalid. Safe to call from several threads.
 */
int config_get_bool(const struct config *c, const char *key, int def, int *out, char *errbuf);
int config_get_uint(const struct config *c, const char *key, uint64_t def, uint64_t max,
                    uint64_t *out, char *errbuf);
int config_get_size(const struct config *c, const char *key, uint64_t def, uint64_t *out,
                    char *errbuf);

/*
 * Notes value as the default used for key when c does not set it (for keys read with
 * config_get, whose callers apply their own default). Does nothing if c sets key.
 */
void config_note_default(const struct config *c, const char *key, const char *value);

/*
 * Writes the effective configuration to out as YAML: every key c sets, and for the keys it
 * does not set, the defaults noted so far (read a module's keys first to see its defaults).
 */
void config_dump(const struct config *c, FILE *out);

#endif
