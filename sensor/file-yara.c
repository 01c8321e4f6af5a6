/* file-yara.c: YARA rules: finding, compiling (bad files reported, the rest kept), caching,
 * scanning. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file-internal.h"

#define YARA_MAX_DEPTH 32
#define YARA_CACHE_FORMAT "vigil-yara-cache 1"

/* The externals signature-base (and LOKI/THOR rules) expect; set per file when scanning. */
static const char *const yara_externals[] = {"filename", "filepath", "extension", "filetype",
                                             "owner"};

struct rule_file {
    char *path; /* as found */
    char *ns;   /* namespace: path relative to the given directory, or the file's name */
    int bad;
};

struct rule_list {
    struct rule_file *v;
    size_t n, cap;
};

uint32_t file_yara_sid(const char *rule)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)rule, strlen(rule), d);
    uint32_t x = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
    return 3000000000u + x % 1000000000u;
}

static void say(file_log_fn log, void *ctx, const char *fmt, ...) VG_PRINTF(3, 4);
static void say(file_log_fn log, void *ctx, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (log != NULL)
        log(ctx, msg);
    else
        fprintf(stderr, "vigil: yara: %s\n", msg);
}

static int list_add(struct rule_list *l, const char *path, const char *ns)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct rule_file *v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    struct rule_file *r = &l->v[l->n];
    r->path = strdup(path);
    r->ns = strdup(ns);
    r->bad = 0;
    if (r->path == NULL || r->ns == NULL) {
        free(r->path);
        free(r->ns);
        return -1;
    }
    l->n++;
    return 0;
}

static void list_free(struct rule_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].ns);
    }
    free(l->v);
}

static int is_rule_name(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && strcasecmp(name + n - 4, ".yar") == 0) ||
           (n > 5 && strcasecmp(name + n - 5, ".yara") == 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the rule files under dir (sorted, recursive, symlinked directories not followed). */
static int walk(struct rule_list *l, const char *dir, size_t root_len, int depth, char *errbuf)
{
    if (depth > YARA_MAX_DEPTH)
        return 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        vg_errbuf_set(errbuf, "yara-rules: %s: %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nv = realloc(names, cap * sizeof(*nv));
            if (nv == NULL) {
                rc = -1;
                break;
            }
            names = nv;
        }
        if ((names[n] = strdup(de->d_name)) == NULL) {
            rc = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == 0 && n > 1)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char path[4096];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path))
            continue;
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISLNK(st.st_mode) && (stat(path, &st) != 0 || S_ISDIR(st.st_mode)))
            continue;
        if (S_ISDIR(st.st_mode))
            rc = walk(l, path, root_len, depth + 1, errbuf);
        else if (S_ISREG(st.st_mode) && is_rule_name(names[i]) &&
                 list_add(l, path, path + root_len) < 0)
            rc = -1;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc < 0 && errbuf[0] == '\0')
        vg_errbuf_set(errbuf, "out of memory");
    return rc;
}

static int collect(struct rule_list *l, char *const *paths, size_t npaths, char *errbuf)
{
    for (size_t i = 0; i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            vg_errbuf_set(errbuf, "yara-rules: %s: %s", paths[i], strerror(errno));
            return -1;
        }
        if (S_ISDIR(st.st_mode)) {
            size_t len = strlen(paths[i]);
            while (len > 1 && paths[i][len - 1] == '/')
                len--;
            errbuf[0] = '\0';
            if (walk(l, paths[i], len + 1, 0, errbuf) < 0)
                return -1;
        } else {
            const char *base = strrchr(paths[i], '/');
            if (list_add(l, paths[i], base ? base + 1 : paths[i]) < 0) {
                vg_errbuf_set(errbuf, "out of memory");
                return -1;
            }
        }
    }
    return 0;
}

/* The cache key: SHA-256 of the format, libyara's version, the externals and every source. */
static int cache_key(const struct rule_list *l, char hexkey[65], char *errbuf)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        vg_errbuf_set(errbuf, "out of memory");
        return -1;
    }
    const char *hdr = YARA_CACHE_FORMAT "\n" YR_VERSION "\n";
    EVP_DigestUpdate(c, hdr, strlen(hdr));
    for (size_t i = 0; i < VG_ARRAY_LEN(yara_externals); i++)
        EVP_DigestUpdate(c, yara_externals[i], strlen(yara_externals[i]) + 1);
    for (size_t i = 0; i < l->n; i++) {
        EVP_DigestUpdate(c, l->v[i].path, strlen(l->v[i].path) + 1);
        EVP_DigestUpdate(c, l->v[i].ns, strlen(l->v[i].ns) + 1);
        FILE *fp = fopen(l->v[i].path, "rb");
        if (fp == NULL) {
            vg_errbuf_set(errbuf, "yara-rules: %s: %s", l->v[i].path, strerror(errno));
            EVP_MD_CTX_free(c);
            return -1;
        }
        char buf[65536];
        size_t n;
        uint64_t total = 0;
        while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
            EVP_DigestUpdate(c, buf, n);
            total += n;
        }
        fclose(fp);
        EVP_DigestUpdate(c, &total, sizeof(total));
    }
    unsigned char d[32];
    unsigned dn = 0;
    EVP_DigestFinal_ex(c, d, &dn);
    EVP_MD_CTX_free(c);
    for (int i = 0; i < 32; i++)
        snprintf(hexkey + 2 * i, 3, "%02x", d[i]);
    return 0;
}

/* What a compile run reports. */
struct compile_ctx {
    const char *path; /* file being added */
    int report;       /* pass errors to log */
    int errors, warnings;
    file_log_fn log;
    void *log_ctx;
    FILE *transcript; /* errors also kept for the cache, or NULL */
};

static void compile_cb(int level, const char *file, int line, const YR_RULE *rule,
                       const char *message, void *user)
{
    struct compile_ctx *cc = user;
    if (level == YARA_ERROR_LEVEL_WARNING) {
        cc->warnings++;
        return;
    }
    cc->errors++;
    if (!cc->report)
        return;
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s:%d: %s", file ? file : cc->path, line, message);
    say(cc->log, cc->log_ctx, "%s", msg);
    if (cc->transcript != NULL)
        fprintf(cc->transcript, "%s\n", msg);
}

static int new_compiler(YR_COMPILER **c, struct compile_ctx *cc)
{
    if (yr_compiler_create(c) != ERROR_SUCCESS)
        return -1;
    yr_compiler_set_callback(*c, compile_cb, cc);
    for (size_t i = 0; i < VG_ARRAY_LEN(yara_externals); i++)
        if (yr_compiler_define_string_variable(*c, yara_externals[i], "") != ERROR_SUCCESS) {
            yr_compiler_destroy(*c);
            return -1;
        }
    return 0;
}

/* Adds one file to c. Returns the number of errors (a missing file counts as one). */
static int add_file(YR_COMPILER *c, struct compile_ctx *cc, const struct rule_file *r)
{
    FILE *fp = fopen(r->path, "r");
    cc->path = r->path;
    if (fp == NULL) {
        cc->errors++;
        if (cc->report)
            say(cc->log, cc->log_ctx, "%s:0: %s", r->path, strerror(errno));
        return 1;
    }
    int n = yr_compiler_add_file(c, fp, r->ns, r->path);
    fclose(fp);
    return n;
}

/*
 * Compiles every good file of l into one set of rules. Returns 0 with *out set; 1 when file
 * *failed did not compile (it is not marked; compiler discarded); -1 on libyara failure.
 */
static int compile_all(struct rule_list *l, struct compile_ctx *cc, YR_RULES **out, size_t *failed)
{
    YR_COMPILER *c;
    if (new_compiler(&c, cc) < 0)
        return -1;
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].bad)
            continue;
        if (add_file(c, cc, &l->v[i]) > 0) {
            yr_compiler_destroy(c);
            *failed = i;
            return 1;
        }
    }
    int rc = yr_compiler_get_rules(c, out) == ERROR_SUCCESS ? 0 : -1;
    yr_compiler_destroy(c);
    return rc;
}

static int compile_rules(struct file_yara *y, struct rule_list *l, FILE *transcript,
                         file_log_fn log, void *log_ctx, char *errbuf)
{
    struct compile_ctx cc = {.log = log, .log_ctx = log_ctx, .transcript = transcript};
    size_t failed;
    /* Most sets compile as a whole: try that first, reporting nothing. */
    int rc = compile_all(l, &cc, &y->rules, &failed);
    if (rc == 1) {
        /* A compiler cannot be reused after an error: probe each file alone, report the bad
         * ones, then compile the good ones together. */
        for (size_t i = 0; i < l->n; i++) {
            YR_COMPILER *p;
            struct compile_ctx pc = {
                .report = 1, .log = log, .log_ctx = log_ctx, .transcript = transcript};
            if (new_compiler(&p, &pc) < 0) {
                rc = -1;
                break;
            }
            if (add_file(p, &pc, &l->v[i]) > 0)
                l->v[i].bad = 1;
            yr_compiler_destroy(p);
        }
        /* A file good alone may still clash with the others (same namespace, includes). */
        while (rc != -1) {
            cc.errors = cc.warnings = 0;
            rc = compile_all(l, &cc, &y->rules, &failed);
            if (rc != 1)
                break;
            l->v[failed].bad = 1;
            say(log, log_ctx, "%s:0: does not compile together with the other rule files",
                l->v[failed].path);
            if (transcript != NULL)
                fprintf(transcript, "%s:0: does not compile together with the other rule files\n",
                        l->v[failed].path);
        }
    }
    if (rc < 0) {
        vg_errbuf_set(errbuf, "libyara: cannot compile rules (out of memory?)");
        return -1;
    }
    y->info.warnings = (unsigned)cc.warnings;
    for (size_t i = 0; i < l->n; i++)
        y->info.files_bad += l->v[i].bad;
    return 0;
}

static int mkdir_p(const char *dir)
{
    char p[4096];
    if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
        return -1;
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0750) != 0 && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir(p, 0750) != 0 && errno != EEXIST ? -1 : 0;
}

/* Loads key from the cache: the rules, and the messages of the compile that made them. */
static int cache_load(struct file_yara *y, const char *dir, const char *key, file_log_fn log,
                      void *log_ctx)
{
    char path[4096], txt[4096];
    snprintf(path, sizeof(path), "%s/%s.yarc", dir, key);
    snprintf(txt, sizeof(txt), "%s/%s.txt", dir, key);
    FILE *fp = fopen(txt, "r");
    if (fp == NULL)
        return -1;
    unsigned files, bad, warnings;
    if (fscanf(fp, "files %u bad %u warnings %u\n", &files, &bad, &warnings) != 3 ||
        yr_rules_load(path, &y->rules) != ERROR_SUCCESS) {
        fclose(fp);
        y->rules = NULL;
        return -1;
    }
    y->info.files = files;
    y->info.files_bad = bad;
    y->info.warnings = warnings;
    char line[1024];
    while (fgets(line, sizeof(line), fp) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        say(log, log_ctx, "%s", line);
    }
    fclose(fp);
    return 0;
}

/* Writes name atomically in dir from the temporary file tmp. */
static void cache_store(struct file_yara *y, const char *dir, const char *key, FILE *transcript)
{
    if (mkdir_p(dir) < 0)
        return;
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, key);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return;
    close(fd);
    snprintf(path, sizeof(path), "%s/%s.yarc", dir, key);
    if (yr_rules_save(y->rules, tmp) != ERROR_SUCCESS || rename(tmp, path) != 0) {
        unlink(tmp);
        return;
    }
    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, key);
    fd = mkstemp(tmp);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (fp == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    fprintf(fp, "files %u bad %u warnings %u\n", y->info.files, y->info.files_bad,
            y->info.warnings);
    if (transcript != NULL) {
        rewind(transcript);
        char buf[8192];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), transcript)) > 0)
            fwrite(buf, 1, n, fp);
    }
    snprintf(path, sizeof(path), "%s/%s.txt", dir, key);
    if (fclose(fp) != 0 || rename(tmp, path) != 0)
        unlink(tmp);
}

int file_yara_load(struct file_yara *y, char *const *paths, size_t npaths, const char *cache_dir,
                   file_log_fn log, void *log_ctx, char *errbuf)
{
    memset(y, 0, sizeof(*y));
    vg_time_t t0 = vg_monotonic();
    struct rule_list l = {0};
    char key[65];
    int rc = -1;
    if (collect(&l, paths, npaths, errbuf) < 0)
        goto out;
    y->info.files = (unsigned)l.n;
    if (l.n == 0) {
        say(log, log_ctx, "no .yar/.yara files found");
        rc = 0;
        goto out;
    }
    if (cache_dir != NULL) {
        if (cache_key(&l, key, errbuf) < 0)
            goto out;
        if (cache_load(y, cache_dir, key, log, log_ctx) == 0) {
            y->info.from_cache = 1;
            rc = 0;
            goto out;
        }
    }
    FILE *transcript = cache_dir != NULL ? tmpfile() : NULL;
    rc = compile_rules(y, &l, transcript, log, log_ctx, errbuf);
    if (rc == 0 && cache_dir != NULL)
        cache_store(y, cache_dir, key, transcript);
    if (transcript != NULL)
        fclose(transcript);
out:
    if (y->rules != NULL)
        y->info.rules = y->rules->num_rules;
    y->info.load_usec = vg_monotonic() - t0;
    list_free(&l);
    return rc;
}

void file_yara_free(struct file_yara *y)
{
    if (y->rules != NULL)
        yr_rules_destroy(y->rules);
    y->rules = NULL;
}

/* A C string of at most cap-1 bytes from traffic bytes (cut at a NUL). */
static void cstr(char *out, size_t cap, const uint8_t *s, size_t len)
{
    size_t n = 0;
    while (n < len && n + 1 < cap && s[n] != 0) {
        out[n] = (char)s[n];
        n++;
    }
    out[n] = '\0';
}

/* LOKI's file type names, from the first bytes. */
static const char *filetype(const struct vfile *f)
{
    const uint8_t *b = f->buf;
    size_t n = f->buf_len;
    if (n >= 2 && b[0] == 'M' && b[1] == 'Z')
        return "EXE";
    if (n >= 4 && memcmp(b,
                         "\x7f"
                         "ELF",
                         4) == 0)
        return "ELF";
    if (n >= 4 && memcmp(b, "%PDF", 4) == 0)
        return "PDF";
    if (n >= 4 && memcmp(b, "PK\x03\x04", 4) == 0)
        return "ZIP";
    if (n >= 4 && memcmp(b, "Rar!", 4) == 0)
        return "RAR";
    if (n >= 4 && memcmp(b, "\xd0\xcf\x11\xe0", 4) == 0)
        return "MS Office";
    if (n >= 3 && memcmp(b, "\xff\xd8\xff", 3) == 0)
        return "JPEG";
    if (n >= 4 && memcmp(b, "\x89PNG", 4) == 0)
        return "PNG";
    if (n >= 3 && memcmp(b, "GIF", 3) == 0)
        return "GIF";
    return "";
}

void file_yara_set_externals(YR_SCANNER *s, const struct vfile *f)
{
    char path[4096], ext[64];
    cstr(path, sizeof(path), f->name, f->name_len);
    const char *base = path;
    for (const char *p = path; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    const char *dot = strrchr(base, '.');
    size_t i = 0;
    if (dot != NULL)
        for (; dot[i] != '\0' && i + 1 < sizeof(ext); i++)
            ext[i] = (char)((dot[i] >= 'A' && dot[i] <= 'Z') ? dot[i] + 32 : dot[i]);
    ext[i] = '\0';
    yr_scanner_define_string_variable(s, "filename", base);
    yr_scanner_define_string_variable(s, "filepath", path);
    yr_scanner_define_string_variable(s, "extension", ext);
    yr_scanner_define_string_variable(s, "filetype", filetype(f));
    yr_scanner_define_string_variable(s, "owner", "");
}

static int scan_cb(YR_SCAN_CONTEXT *ctx, int message, void *data, void *user)
{
    if (message != CALLBACK_MSG_RULE_MATCHING)
        return CALLBACK_CONTINUE;
    const YR_RULE *rule = data;
    json_t *m = json_object();
    json_object_set_new(m, "rule", json_string(rule->identifier));
    json_object_set_new(m, "namespace", json_string(rule->ns->name));
    json_t *tags = json_array();
    const char *tag;
    yr_rule_tags_foreach(rule, tag) json_array_append_new(tags, json_string(tag));
    json_object_set_new(m, "tags", tags);
    json_t *meta = json_object();
    const YR_META *mt;
    yr_rule_metas_foreach(rule, mt)
    {
        json_t *v;
        if (mt->type == META_TYPE_INTEGER)
            v = json_integer(mt->integer);
        else if (mt->type == META_TYPE_BOOLEAN)
            v = json_boolean(mt->integer);
        else if ((v = json_string(mt->string)) == NULL)
            v = json_string(""); /* a meta that is not UTF-8 */
        json_t *old = json_object_get(meta, mt->identifier);
        if (old == NULL)
            json_object_set_new(meta, mt->identifier, v);
        else if (json_is_array(old))
            json_array_append_new(old, v);
        else {
            json_t *arr = json_array();
            json_array_append(arr, old);
            json_array_append_new(arr, v);
            json_object_set_new(meta, mt->identifier, arr);
        }
    }
    json_object_set_new(m, "meta", meta);
    json_array_append_new(user, m);
    return CALLBACK_CONTINUE;
}

int file_yara_scan(YR_SCANNER *s, const struct vfile *f, json_t *matches)
{
    file_yara_set_externals(s, f);
    yr_scanner_set_callback(s, scan_cb, matches);
    return yr_scanner_scan_mem(s, f->buf_len ? f->buf : (const uint8_t *)"", f->buf_len);
}
