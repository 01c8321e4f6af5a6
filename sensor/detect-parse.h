/* detect-parse.h: the rule parser's state, shared by detect-parse.c and the detect-kw-*.c files. */
#ifndef VIGIL_DETECT_PARSE_H
#define VIGIL_DETECT_PARSE_H

#include "detect-internal.h"

#define PARSE_MAX_ITEMS 256

struct parse_ctx {
    struct detect_engine *e;
    struct sig *s;
    int cur_buf;          /* index into s->bufs of the sticky buffer in force, -1: payload */
    int last_buf;         /* index into s->bufs holding the last content-like item, -1 none */
    int last_item;        /* its index there */
    uint16_t transforms;  /* transforms after the last sticky buffer keyword */
    char varnames[DETECT_MAX_VARS][32];
    unsigned nvars;
    char *errbuf;
    char *unsupported; /* set to the keyword when it is not supported */
    size_t unsupported_len;
};

/* A keyword handler: parses value (NULL if the option had none). 0, or -1 with errbuf set. */
typedef int (*kw_fn)(struct parse_ctx *pc, const char *value);

struct kw_def {
    const char *name;
    kw_fn fn;
};

/* detect-kw-payload.c and detect-kw-other.c register their keywords here. */
extern const struct kw_def detect_payload_keywords[];
extern const struct kw_def detect_other_keywords[];
extern const struct kw_def detect_geoip_keywords[]; /* detect-kw-geoip.c */
extern const struct kw_def detect_file_keywords[];  /* detect-kw-file.c */

/* Returns the sig_buf for buffer id (creating it at the end), or NULL when out of memory. */
struct sig_buf *parse_buf(struct parse_ctx *pc, unsigned id);
/* Appends an item to the buffer the next payload keyword goes to (sticky, or payload). */
struct sm *parse_new_item(struct parse_ctx *pc, uint8_t type, int *buf_index);
/* The last content/pcre item, or NULL with errbuf set naming kw. */
struct sm *parse_last_content(struct parse_ctx *pc, const char *kw);
/* Parses a number, or a byte_extract variable name, into n. 0, or -1 with errbuf set. */
int parse_num(struct parse_ctx *pc, const char *text, struct sm_num *n, const char *kw);
/* Parses "N", "<N", ">N", "<=N", ">=N", "!N", "N<>M", "N-M" into r (max: the largest value). */
int parse_range(struct parse_ctx *pc, const char *text, uint64_t max, struct sm_range *r,
                const char *kw);
/* Trims spaces in place; returns s. */
char *parse_trim(char *s);
/* Copies a value without its surrounding quotes and with \" \\ \; \: unescaped. */
int parse_unquote(const char *in, char *out, size_t outlen);

#endif
