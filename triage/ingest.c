/* ingest.c: EVE files, directories or stdin into the store, idempotent and resumable. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/triage.h"

#define INGEST_MAX_DEPTH 32
#define ARENA_SIZE (512 * 1024)

/*
 * A bump allocator for the one event being parsed: jansson allocates per value, and malloc/free
 * were a quarter of ingest time. Installed only around json_loadb .. json_decref of one line;
 * whatever does not fit falls back to malloc.
 */
static _Alignas(16) char arena_buf[ARENA_SIZE];
static size_t arena_used;

static void *arena_malloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n <= ARENA_SIZE - arena_used) {
        void *p = arena_buf + arena_used;
        arena_used += n;
        return p;
    }
    return malloc(n);
}

static void arena_free(void *p)
{
    if ((char *)p >= arena_buf && (char *)p < arena_buf + ARENA_SIZE)
        return;
    free(p);
}

struct ingest {
    struct tdb *t;
    const struct tcfg *cfg;
    const struct ting_opts *o;
    struct ting_stats *st;
    sqlite3_stmt *ins, *ins_raw, *file_get, *file_put;
    EVP_MD_CTX *md;
    long in_batch;
    char *errbuf;
};

static int ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return 1;
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

static int tactic_stage(const struct tcfg *cfg, const json_t *list)
{
    size_t i;
    json_t *v;
    int best = 0;
    if (json_is_string(list)) {
        for (size_t k = 0; k < cfg->nstage_tactic; k++)
            if (strcasecmp(json_string_value(list), cfg->stage_tactic[k].match) == 0)
                return cfg->stage_tactic[k].stage;
        return 0;
    }
    json_array_foreach(list, i, v)
    {
        int s = tactic_stage(cfg, v);
        if (s > best)
            best = s;
    }
    return best;
}

int ting_stage(const struct tcfg *cfg, const json_t *alert)
{
    const json_t *md = json_object_get(alert, "metadata");
    int s = tactic_stage(cfg, json_object_get(md, "mitre_tactic_name"));
    if (s == 0)
        s = tactic_stage(cfg, json_object_get(md, "mitre_tactic_id"));
    if (s == 0)
        s = tactic_stage(cfg, json_object_get(alert, "mitre_tactic"));
    if (s != 0)
        return s;
    const char *fields[] = {"classtype", "category"};
    for (size_t f = 0; f < 2; f++) {
        const char *c = json_string_value(json_object_get(alert, fields[f]));
        for (size_t k = 0; c != NULL && k < cfg->nstage_class; k++)
            if (strcasecmp(c, cfg->stage_class[k].match) == 0)
                return cfg->stage_class[k].stage;
    }
    const char *sig = json_string_value(json_object_get(alert, "signature"));
    for (size_t k = 0; sig != NULL && k < cfg->nstage_sig; k++)
        if (ci_contains(sig, cfg->stage_sig[k].match))
            return cfg->stage_sig[k].stage;
    return 0;
}

static int sigsev_level(const json_t *alert)
{
    const json_t *v = json_object_get(json_object_get(alert, "metadata"), "signature_severity");
    const char *s =
        json_is_array(v) ? json_string_value(json_array_get(v, 0)) : json_string_value(v);
    if (s == NULL)
        return 0;
    if (strcasecmp(s, "critical") == 0)
        return 3;
    if (strcasecmp(s, "major") == 0)
        return 2;
    return strcasecmp(s, "minor") == 0 || strcasecmp(s, "informational") == 0 ? 1 : 0;
}

/* "CC|ASN" from the first geoip-looking object of the event, or NULL. */
static void geo_of(const json_t *ev, char *buf, size_t len)
{
    static const char *const objs[] = {"geoip", "src_geoip", "dest_geoip", "actor"};
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
        const json_t *g = json_object_get(ev, objs[i]);
        if (!json_is_object(g))
            continue;
        const char *cc = json_string_value(json_object_get(g, "country_iso_code"));
        if (cc == NULL)
            cc = json_string_value(json_object_get(json_object_get(g, "country"), "iso_code"));
        json_int_t asn = json_integer_value(json_object_get(g, "asn"));
        if (asn == 0)
            asn = json_integer_value(json_object_get(g, "autonomous_system_number"));
        snprintf(buf, len, "%s|%lld", cc ? cc : "", (long long)asn);
        return;
    }
}

static int file_hit(const char *type, const json_t *ev)
{
    const json_t *fi = json_object_get(ev, "fileinfo");
    if (json_object_get(ev, "yara") || json_object_get(fi, "yara"))
        return 2;
    if (strcmp(type, "alert") == 0) {
        const char *sig =
            json_string_value(json_object_get(json_object_get(ev, "alert"), "signature"));
        if (sig != NULL && (ci_contains(sig, "YARA") || ci_contains(sig, "EICAR")))
            return 2;
        return fi != NULL ? 1 : 0;
    }
    return strcmp(type, "fileinfo") == 0 ? 1 : 0;
}

static void add_example(struct ingest *in, const char *file, long long line, const char *why)
{
    struct ting_stats *st = in->st;
    st->bad++;
    if ((int)st->nexamples >= in->cfg->max_examples)
        return;
    char **a = realloc(st->examples, (st->nexamples + 1) * sizeof(*a));
    if (a == NULL)
        return;
    st->examples = a;
    size_t n = strlen(file) + strlen(why) + 32;
    if ((a[st->nexamples] = malloc(n)) != NULL)
        snprintf(a[st->nexamples++], n, "%s:%lld: %s", file, line, why);
}

static void bind_str(sqlite3_stmt *s, int i, const json_t *v)
{
    if (json_is_string(v))
        sqlite3_bind_text(s, i, json_string_value(v), (int)json_string_length(v), SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static void bind_int(sqlite3_stmt *s, int i, const json_t *v)
{
    if (json_is_integer(v))
        sqlite3_bind_int64(s, i, json_integer_value(v));
    else
        sqlite3_bind_null(s, i);
}

/* Stores one parsed event; raw/len is its canonical text. Returns 0, 1 (bad, why set) or -1. */
static int store(struct ingest *in, json_t *ev, const char *raw, size_t len, const char **why)
{
    if (!json_is_object(ev)) {
        *why = "not a JSON object";
        return 1;
    }
    const char *type = json_string_value(json_object_get(ev, "event_type"));
    if (type == NULL) {
        *why = "no event_type";
        return 1;
    }
    const json_t *flow_id = json_object_get(ev, "flow_id");
    int is_alert = strcmp(type, "alert") == 0;
    int keep = is_alert || strcmp(type, "fileinfo") == 0 || strcmp(type, "anomaly") == 0;
    if (!keep && json_is_integer(flow_id) &&
        (strcmp(type, "http") == 0 || strcmp(type, "dns") == 0 || strcmp(type, "tls") == 0 ||
         strcmp(type, "flow") == 0))
        keep = 1;
    if (!keep) {
        in->st->skipped++;
        return 0;
    }
    double ts = tcfg_parse_time(json_string_value(json_object_get(ev, "timestamp")));
    if (ts < 0) {
        *why = "missing or invalid timestamp";
        return 1;
    }
    const json_t *al = json_object_get(ev, "alert");
    if (is_alert && !json_is_integer(json_object_get(al, "signature_id"))) {
        *why = "alert without alert.signature_id";
        return 1;
    }
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    if (EVP_DigestInit_ex(in->md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(in->md, raw, len) != 1 || EVP_DigestFinal_ex(in->md, h, &hl) != 1) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "SHA-256 failed");
        return -1;
    }
    const char *sensor = json_string_value(json_object_get(ev, "host"));
    if (sensor == NULL)
        sensor = json_string_value(json_object_get(ev, "sensor_name"));
    if (sensor == NULL)
        sensor = in->o && in->o->sensor ? in->o->sensor : "-";
    sqlite3_stmt *s = in->ins;
    char geo[64];
    geo_of(ev, geo, sizeof(geo));
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    sqlite3_bind_text(s, 1, sensor, -1, SQLITE_STATIC);
    /* 128 bits of SHA-256 are identity enough and keep the unique index small */
    sqlite3_bind_blob(s, 2, h, hl < 16 ? (int)hl : 16, SQLITE_STATIC);
    sqlite3_bind_double(s, 3, ts);
    sqlite3_bind_text(s, 4, type, -1, SQLITE_STATIC);
    bind_int(s, 5, flow_id);
    bind_str(s, 6, json_object_get(ev, "src_ip"));
    bind_int(s, 7, json_object_get(ev, "src_port"));
    bind_str(s, 8, json_object_get(ev, "dest_ip"));
    bind_int(s, 9, json_object_get(ev, "dest_port"));
    bind_str(s, 10, json_object_get(ev, "proto"));
    if (is_alert) {
        json_int_t sev = json_integer_value(json_object_get(al, "severity"));
        bind_int(s, 11, json_object_get(al, "signature_id"));
        bind_str(s, 12, json_object_get(al, "signature"));
        bind_str(s, 13, json_object_get(al, "category"));
        sqlite3_bind_int(s, 14, sev >= 1 && sev <= 3 ? (int)sev : 3);
        sqlite3_bind_int(s, 15, sigsev_level(al));
        sqlite3_bind_int(s, 16, ting_stage(in->cfg, al));
    }
    if (geo[0])
        sqlite3_bind_text(s, 17, geo, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 18, file_hit(type, ev));
    sqlite3_bind_int(s, 19, is_alert || strcmp(type, "fileinfo") == 0);
    if (sqlite3_step(s) != SQLITE_DONE) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "insert: %s", sqlite3_errmsg(in->t->db));
        return -1;
    }
    if (sqlite3_changes(in->t->db) == 0) {
        in->st->dups++;
    } else {
        sqlite3_stmt *r = in->ins_raw;
        sqlite3_reset(r);
        sqlite3_bind_int64(r, 1, sqlite3_last_insert_rowid(in->t->db));
        sqlite3_bind_text(r, 2, raw, (int)len, SQLITE_STATIC);
        if (sqlite3_step(r) != SQLITE_DONE) {
            snprintf(in->errbuf, TRIAGE_ERRBUF, "insert: %s", sqlite3_errmsg(in->t->db));
            return -1;
        }
        in->st->events++;
        in->st->alerts += is_alert;
    }
    return 0;
}

/* Parses and stores one line. Returns 0 or -1 (store failure). */
static int ingest_line(struct ingest *in, const char *name, long long lineno, char *line,
                       size_t len)
{
    while (len > 0 && isspace((unsigned char)line[len - 1]))
        len--;
    size_t start = 0;
    while (start < len && isspace((unsigned char)line[start]))
        start++;
    if (start == len)
        return 0;
    in->st->lines++;
    json_error_t jerr;
    arena_used = 0;
    json_set_alloc_funcs(arena_malloc, arena_free);
    json_t *ev = json_loadb(line + start, len - start, 0, &jerr);
    const char *why = NULL;
    int rc;
    if (ev == NULL) {
        json_set_alloc_funcs(malloc, free);
        char msg[200];
        snprintf(msg, sizeof(msg), "invalid JSON: %s", jerr.text);
        add_example(in, name, lineno, msg);
        return 0;
    }
    rc = store(in, ev, line + start, len - start, &why);
    json_decref(ev);
    json_set_alloc_funcs(malloc, free);
    if (rc == 1)
        add_example(in, name, lineno, why);
    return rc < 0 ? -1 : 0;
}

static int save_file(struct ingest *in, const char *path, const struct stat *sb, long long off,
                     long long lineno, long long bad)
{
    sqlite3_stmt *s = in->file_put;
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)sb->st_dev);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)sb->st_ino);
    sqlite3_bind_int64(s, 4, off);
    sqlite3_bind_int64(s, 5, lineno);
    sqlite3_bind_int64(s, 6, bad);
    if (sqlite3_step(s) != SQLITE_DONE) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "files: %s", sqlite3_errmsg(in->t->db));
        return -1;
    }
    return 0;
}

/* A file holding one JSON array of events (some tools export EVE that way). */
static int ingest_array(struct ingest *in, const char *name, FILE *f)
{
    json_error_t jerr;
    json_t *arr = json_loadf(f, 0, &jerr);
    if (!json_is_array(arr)) {
        char msg[200];
        snprintf(msg, sizeof(msg), "invalid JSON array: %s", jerr.text);
        add_example(in, name, jerr.line, msg);
        json_decref(arr);
        return 0;
    }
    size_t i;
    json_t *ev;
    json_array_foreach(arr, i, ev)
    {
        char *txt = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
        if (txt == NULL)
            continue;
        in->st->lines++;
        const char *why = NULL;
        int rc = store(in, ev, txt, strlen(txt), &why);
        free(txt);
        if (rc == 1)
            add_example(in, name, (long long)i + 1, why);
        if (rc < 0) {
            json_decref(arr);
            return -1;
        }
    }
    json_decref(arr);
    return 0;
}

static int flush_batch(struct ingest *in, const char *path, const struct stat *sb, long long off,
                       long long lineno, long long bad)
{
    if (path != NULL && save_file(in, path, sb, off, lineno, bad) != 0)
        return -1;
    if (tdb_commit(in->t, in->errbuf) != 0 || tdb_begin(in->t, in->errbuf) != 0)
        return -1;
    in->in_batch = 0;
    return 0;
}

static int ingest_stream(struct ingest *in, const char *path)
{
    int is_stdin = strcmp(path, "-") == 0;
    char real[PATH_MAX];
    const char *name = is_stdin ? "<stdin>" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    struct stat sb = {0};
    long long off = 0, lineno = 0, bad0 = 0;
    long long bad_start = in->st->bad;
    if (f == NULL) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!is_stdin) {
        if (realpath(path, real) == NULL || fstat(fileno(f), &sb) != 0) {
            snprintf(in->errbuf, TRIAGE_ERRBUF, "%s: %s", path, strerror(errno));
            fclose(f);
            return -1;
        }
        sqlite3_stmt *g = in->file_get;
        sqlite3_reset(g);
        sqlite3_bind_text(g, 1, real, -1, SQLITE_STATIC);
        if (sqlite3_step(g) == SQLITE_ROW && (dev_t)sqlite3_column_int64(g, 0) == sb.st_dev &&
            (ino_t)sqlite3_column_int64(g, 1) == sb.st_ino &&
            sqlite3_column_int64(g, 2) <= (long long)sb.st_size) {
            off = sqlite3_column_int64(g, 2);
            lineno = sqlite3_column_int64(g, 3);
            bad0 = sqlite3_column_int64(g, 4);
        }
        sqlite3_reset(g);
        if (off > 0 && fseeko(f, off, SEEK_SET) != 0)
            off = lineno = 0;
    }
    const char *rp = is_stdin ? NULL : real;
    int c = 0;
    if (off == 0) { /* a JSON array export rather than EVE lines? */
        while ((c = fgetc(f)) != EOF && isspace(c))
            ;
        if (c == '[' && !is_stdin) {
            rewind(f);
            int rc = ingest_array(in, name, f);
            long long end = (long long)sb.st_size;
            fclose(f);
            return rc != 0 ? -1 : flush_batch(in, rp, &sb, end, 1, in->st->bad - bad_start);
        }
        if (c != EOF)
            ungetc(c, f);
    }
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        ssize_t n = getline(&line, &cap, f);
        if (n < 0) {
            if (!in->o || !in->o->follow || is_stdin || (in->o->stop && *in->o->stop))
                break;
            /* --follow: commit, correlate, wait for growth or rotation */
            struct corr_stats cs = {0};
            if (flush_batch(in, rp, &sb, off, lineno, bad0 + in->st->bad - bad_start) != 0 ||
                tdb_commit(in->t, in->errbuf) != 0 || corr_run(in->t, in->cfg, &cs, in->errbuf) ||
                tdb_begin(in->t, in->errbuf) != 0) {
                rc = -1;
                break;
            }
            sleep(1);
            struct stat now;
            clearerr(f);
            if (stat(path, &now) == 0 && (now.st_ino != sb.st_ino || now.st_dev != sb.st_dev)) {
                n = getline(&line, &cap, f); /* drain what the old file still held */
                if (n > 0)
                    goto have_line;
                FILE *nf = fopen(path, "rb");
                if (nf == NULL)
                    continue;
                fclose(f);
                f = nf;
                fstat(fileno(f), &sb);
                off = lineno = bad0 = 0;
                bad_start = in->st->bad;
            } else if (stat(path, &now) == 0 && now.st_size < off) {
                rewind(f);
                off = lineno = 0;
            }
            continue;
        }
    have_line:
        if (in->o && in->o->follow && !is_stdin && line[n - 1] != '\n') {
            fseeko(f, off, SEEK_SET); /* a line still being written */
            clearerr(f);
            if (in->o->stop && *in->o->stop)
                break;
            if (flush_batch(in, rp, &sb, off, lineno, bad0 + in->st->bad - bad_start) != 0) {
                rc = -1;
                break;
            }
            sleep(1);
            continue;
        }
        lineno++;
        off += n;
        if (ingest_line(in, name, lineno, line, (size_t)n) != 0) {
            rc = -1;
            break;
        }
        if (++in->in_batch >= (in->o && in->o->batch > 0 ? in->o->batch : TING_BATCH) &&
            flush_batch(in, rp, &sb, off, lineno, bad0 + in->st->bad - bad_start) != 0) {
            rc = -1;
            break;
        }
    }
    free(line);
    if (rc == 0)
        rc = flush_batch(in, rp, &sb, off, lineno, bad0 + in->st->bad - bad_start);
    if (!is_stdin)
        fclose(f);
    return rc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects *.json under dir recursively, in name order. */
static int collect(const char *dir, int depth, char ***list, size_t *n, char *errbuf)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t nn = 0;
    if (d == NULL || depth > INGEST_MAX_DEPTH) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s: %s", dir, d ? "too deep" : strerror(errno));
        if (d)
            closedir(d);
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char **a = realloc(names, (nn + 1) * sizeof(*a));
        if (a == NULL)
            break;
        names = a;
        names[nn++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof(*names), name_cmp);
    int rc = 0;
    for (size_t i = 0; i < nn; i++) {
        size_t pl = strlen(dir) + strlen(names[i]) + 2;
        char *p = malloc(pl);
        struct stat sb;
        snprintf(p, pl, "%s/%s", dir, names[i]);
        free(names[i]);
        if (rc != 0 || stat(p, &sb) != 0) {
            free(p);
            continue;
        }
        size_t l = strlen(p);
        if (S_ISDIR(sb.st_mode)) {
            rc = collect(p, depth + 1, list, n, errbuf);
            free(p);
        } else if (S_ISREG(sb.st_mode) && l > 5 && strcmp(p + l - 5, ".json") == 0) {
            char **a = realloc(*list, (*n + 1) * sizeof(*a));
            if (a == NULL) {
                free(p);
                rc = -1;
                continue;
            }
            *list = a;
            a[(*n)++] = p;
        } else {
            free(p);
        }
    }
    free(names);
    return rc;
}

int ting_ingest(struct tdb *t, const struct tcfg *cfg, const char *path, const struct ting_opts *o,
                struct ting_stats *st, char *errbuf)
{
    struct ingest in = {.t = t, .cfg = cfg, .o = o, .st = st, .errbuf = errbuf};
    char **files = NULL;
    size_t nfiles = 0;
    struct stat sb;
    int rc = -1;
    if (strcmp(path, "-") != 0 && stat(path, &sb) != 0) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (strcmp(path, "-") != 0 && S_ISDIR(sb.st_mode)) {
        if (collect(path, 0, &files, &nfiles, errbuf) != 0)
            goto out;
    } else {
        files = malloc(sizeof(*files));
        if (files == NULL || (files[0] = strdup(path)) == NULL)
            goto out;
        nfiles = 1;
    }
    in.md = EVP_MD_CTX_new();
    in.ins = tdb_prepare(t,
                         "INSERT OR IGNORE INTO events(sensor, hash, ts, event_type, flow_id,"
                         " src_ip, src_port, dest_ip, dest_port, proto, sid, signature, category,"
                         " severity, sigsev, stage, geo, filehit, pending)"
                         " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         errbuf);
    in.ins_raw = tdb_prepare(t, "INSERT INTO event_raw(id, raw) VALUES(?,?)", errbuf);
    in.file_get =
        tdb_prepare(t, "SELECT dev, ino, offset, lineno, bad FROM files WHERE path=?", errbuf);
    in.file_put = tdb_prepare(t, "INSERT OR REPLACE INTO files VALUES(?,?,?,?,?,?)", errbuf);
    if (in.md == NULL || in.ins == NULL || in.ins_raw == NULL || in.file_get == NULL ||
        in.file_put == NULL)
        goto out;
    if (tdb_begin(t, errbuf) != 0)
        goto out;
    rc = 0;
    for (size_t i = 0; i < nfiles && rc == 0; i++)
        rc = ingest_stream(&in, files[i]);
    if (rc == 0)
        rc = tdb_commit(t, errbuf);
    else
        tdb_rollback(t);
    if (rc == 0 && !(o && o->no_correlate)) {
        struct corr_stats cs = {0};
        rc = corr_run(t, cfg, &cs, errbuf);
        st->suppressed += cs.suppressed;
    }
out:
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    sqlite3_finalize(in.ins);
    sqlite3_finalize(in.ins_raw);
    sqlite3_finalize(in.file_get);
    sqlite3_finalize(in.file_put);
    EVP_MD_CTX_free(in.md);
    return rc;
}

void ting_stats_free(struct ting_stats *st)
{
    for (size_t i = 0; i < st->nexamples; i++)
        free(st->examples[i]);
    free(st->examples);
    st->examples = NULL;
    st->nexamples = 0;
}
