/* ingest.c: EVE files, directories or stdin into the store: the reader pipeline, --follow. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest-internal.h"

#define INGEST_MAX_DEPTH 32

/*
 * ---- the pipeline: parser threads parse batches while this thread stores them in order ----
 *
 * Each parser thread takes the next free slot, reads the next PIPE_LINES lines into it while it
 * holds the lock (so lines, numbers and offsets stay in file order), then parses them without
 * the lock. This thread stores the slots in the order they were read: it is the only SQLite
 * writer. Two parsers and four slots: the parse is most of the work and the machine has 2 cores.
 */

#define PIPE_LINES 4096
#define PIPE_PARSERS 2
#define PIPE_SLOTS 4

struct pipe_batch {
    struct pev ev[PIPE_LINES];
    size_t n;
    struct pbuf buf;
    char *text; /* the batch's lines as read, each at ev[k].end_off - its length */
    size_t text_cap;
    size_t line_off[PIPE_LINES], line_len[PIPE_LINES];
    int last;              /* end of input (or a read error) */
    long long off, lineno; /* after the batch */
    long long seq;
    int state; /* SLOT_FREE, SLOT_PARSING, SLOT_READY */
};
enum { SLOT_FREE, SLOT_PARSING, SLOT_READY };

struct pipe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pipe_batch *b[PIPE_SLOTS];
    long long next_seq; /* the sequence number of the next batch read */
    int stop, fail, eof;
    FILE *f;
    long long off, lineno;
    const struct tcfg *cfg;
    const struct ting_opts *o;
};

/* Reads up to PIPE_LINES lines of p->f into b (the lock held). Returns 0, or -1 (memory). */
static int pipe_read(struct pipe *p, struct pipe_batch *b, char **line, size_t *cap)
{
    size_t used = 0;
    b->n = 0;
    b->last = 0;
    while (b->n < PIPE_LINES) {
        ssize_t n = getline(line, cap, p->f);
        if (n < 0) {
            b->last = 1;
            break;
        }
        if (used + (size_t)n + 1 > b->text_cap) {
            size_t nc = b->text_cap ? b->text_cap : 1 << 20;
            while (nc < used + (size_t)n + 1)
                nc *= 2;
            char *t = realloc(b->text, nc);
            if (t == NULL)
                return -1;
            b->text = t;
            b->text_cap = nc;
        }
        memcpy(b->text + used, *line, (size_t)n + 1);
        b->line_off[b->n] = used;
        b->line_len[b->n] = (size_t)n;
        used += (size_t)n + 1;
        struct pev *e = &b->ev[b->n];
        memset(e, 0, sizeof(*e));
        e->lineno = ++p->lineno;
        p->off += n;
        e->end_off = p->off;
        b->n++;
    }
    b->off = p->off;
    b->lineno = p->lineno;
    return 0;
}

static void *pipe_parser(void *arg)
{
    struct pipe *p = arg;
    char *line = NULL;
    size_t cap = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    pthread_mutex_lock(&p->mu);
    if (md == NULL)
        p->fail = 1;
    for (;;) {
        struct pipe_batch *b = NULL;
        while (!p->stop && !p->eof && !p->fail &&
               (b = p->b[p->next_seq % PIPE_SLOTS])->state != SLOT_FREE)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop || p->eof || p->fail)
            break;
        b->seq = p->next_seq++;
        b->state = SLOT_PARSING;
        int rc = pipe_read(p, b, &line, &cap);
        if (b->last || rc != 0)
            p->eof = 1;
        pthread_mutex_unlock(&p->mu);
        b->buf.used = 0;
        for (size_t k = 0; k < b->n && rc == 0; k++)
            rc = ing_parse_line(p->cfg, p->o, md, b->text + b->line_off[k], b->line_len[k],
                                &b->ev[k], &b->buf);
        pthread_mutex_lock(&p->mu);
        if (rc != 0) {
            b->last = 1;
            p->fail = 1;
        }
        b->state = SLOT_READY;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    free(line);
    EVP_MD_CTX_free(md);
    ing_parse_thread_done();
    return NULL;
}

/*
 * Reads f from its current position (offset off, line lineno) to the end with the pipeline,
 * committing every batch with the offset reached. Returns 0 or -1.
 */
static int ingest_pipelined(struct ingest *in, const char *name, const char *rp,
                            const struct stat *sb, FILE *f, long long *off, long long *lineno,
                            long long bad0, long long bad_start)
{
    struct pipe p = {.f = f, .off = *off, .lineno = *lineno, .cfg = in->cfg, .o = in->o};
    pthread_t th[PIPE_PARSERS];
    int nth = 0, rc = 0;
    struct ing_alloc saved;
    for (int k = 0; k < PIPE_SLOTS; k++)
        if ((p.b[k] = calloc(1, sizeof(struct pipe_batch))) == NULL) {
            snprintf(in->errbuf, TRIAGE_ERRBUF, "out of memory");
            rc = -1;
            goto out;
        }
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    ing_alloc_install(&saved); /* before any parser starts: they share jansson's allocator */
    for (; nth < PIPE_PARSERS; nth++)
        if (pthread_create(&th[nth], NULL, pipe_parser, &p) != 0)
            break;
    if (nth == 0) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "cannot start the parser threads");
        rc = -1;
        goto out_sync;
    }
    long batch = in->o && in->o->batch > 0 ? in->o->batch : TING_BATCH;
    in->grouping = 1;
    for (long long seq = 0;; seq++) {
        struct pipe_batch *b = p.b[seq % PIPE_SLOTS];
        pthread_mutex_lock(&p.mu);
        /* the slot holds batch seq once it is ready; if it is free and the input has ended,
         * there is no batch seq */
        while (!(b->state == SLOT_READY && b->seq == seq) &&
               !(b->state == SLOT_FREE && (p.eof || p.fail) && p.next_seq <= seq))
            pthread_cond_wait(&p.cv, &p.mu);
        int have = b->state == SLOT_READY;
        pthread_mutex_unlock(&p.mu);
        if (!have)
            break;
        for (size_t k = 0; k < b->n && rc == 0; k++) {
            const struct pev *e = &b->ev[k];
            rc = ing_consume(in, name, e, &b->buf);
            if (rc == 0 && e->status != PEV_EMPTY && ++in->in_batch >= batch)
                rc = ing_flush_batch(in, rp, sb, e->end_off, e->lineno,
                                     bad0 + in->st->bad - bad_start);
        }
        if (rc == 0) /* the group points into b */
            rc = ing_store_flush(in);
        int last = b->last;
        if (rc == 0) {
            *off = b->off;
            *lineno = b->lineno;
        }
        pthread_mutex_lock(&p.mu);
        b->state = SLOT_FREE;
        if (rc != 0)
            p.stop = 1;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
        if (last || rc != 0)
            break;
    }
    in->grouping = 0;
    in->ngroup = 0; /* flushed, or dropped with the failed transaction */
    pthread_mutex_lock(&p.mu);
    p.stop = 1;
    pthread_cond_broadcast(&p.cv);
    pthread_mutex_unlock(&p.mu);
out_sync:
    for (int k = 0; k < nth; k++)
        pthread_join(th[k], NULL);
    ing_alloc_restore(&saved);
    if (rc == 0 && p.fail) {
        snprintf(in->errbuf, TRIAGE_ERRBUF, "%s: out of memory or SHA-256 failure", name);
        rc = -1;
    }
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
out:
    for (int k = 0; k < PIPE_SLOTS; k++)
        if (p.b[k] != NULL) {
            free(p.b[k]->buf.p);
            free(p.b[k]->text);
            free(p.b[k]);
        }
    return rc;
}

/* A file holding one JSON array of events (some tools export EVE that way). */
static int ingest_array(struct ingest *in, const char *name, FILE *f)
{
    json_error_t jerr;
    json_t *arr = json_loadf(f, 0, &jerr);
    if (!json_is_array(arr)) {
        char msg[200];
        snprintf(msg, sizeof(msg), "invalid JSON array: %s", jerr.text);
        ing_add_example(in, name, jerr.line, msg);
        json_decref(arr);
        return 0;
    }
    size_t i;
    json_t *ev;
    int rc = 0;
    json_array_foreach(arr, i, ev)
    {
        /* the canonical text of an element: compact, keys sorted */
        char *txt = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
        struct pev e = {.lineno = (long long)i + 1};
        in->pb.used = 0;
        rc = txt ? ing_extract(in->cfg, in->o, in->md, ev, txt, strlen(txt), &e, &in->pb) : -1;
        free(txt);
        if (rc != 0) {
            snprintf(in->errbuf, TRIAGE_ERRBUF, "%s: out of memory or SHA-256 failure", name);
            break;
        }
        if ((rc = ing_consume(in, name, &e, &in->pb)) != 0)
            break;
    }
    json_decref(arr);
    return rc;
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
            return rc != 0 ? -1 : ing_flush_batch(in, rp, &sb, end, 1, in->st->bad - bad_start);
        }
        if (c != EOF)
            ungetc(c, f);
    }
    if (in->o == NULL || !in->o->follow) { /* to the end, parsing in a second thread */
        int rc = ingest_pipelined(in, name, rp, &sb, f, &off, &lineno, bad0, bad_start);
        if (rc == 0)
            rc = ing_flush_batch(in, rp, &sb, off, lineno, bad0 + in->st->bad - bad_start);
        if (!is_stdin)
            fclose(f);
        return rc;
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
            if (ing_flush_batch(in, rp, &sb, off, lineno, bad0 + in->st->bad - bad_start) != 0 ||
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
            if (ing_flush_batch(in, rp, &sb, off, lineno, bad0 + in->st->bad - bad_start) != 0) {
                rc = -1;
                break;
            }
            sleep(1);
            continue;
        }
        lineno++;
        off += n;
        if (ing_line(in, name, lineno, line, (size_t)n) != 0) {
            rc = -1;
            break;
        }
        if (++in->in_batch >= (in->o && in->o->batch > 0 ? in->o->batch : TING_BATCH) &&
            ing_flush_batch(in, rp, &sb, off, lineno, bad0 + in->st->bad - bad_start) != 0) {
            rc = -1;
            break;
        }
    }
    free(line);
    if (rc == 0)
        rc = ing_flush_batch(in, rp, &sb, off, lineno, bad0 + in->st->bad - bad_start);
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
    int rc = -1, ck = 0;
    if (strcmp(path, "-") != 0 && stat(path, &sb) != 0) {
        snprintf(errbuf, TRIAGE_ERRBUF, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (strcmp(path, "-") != 0 && !S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode) &&
        !S_ISFIFO(sb.st_mode)) { /* /dev/zero would be one endless line */
        snprintf(errbuf, TRIAGE_ERRBUF, "%s: not a regular file, directory or FIFO", path);
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
    if (ing_prepare(&in) != 0)
        goto out;
    ck = tdb_ckpt_start(t) == 0;
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
    if (ck)
        tdb_ckpt_stop(t);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    ing_release(&in);
    return rc;
}
