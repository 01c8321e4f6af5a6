/* testutil.c: helpers the Criterion tests share: running the sensor, reading its EVE output,
 * a private redis-server. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

const char *tu_env(const char *name)
{
    const char *v = getenv(name);
    cr_assert_not_null(v, "environment variable %s is not set (run the tests through ctest)",
                       name);
    return v;
}

const char *tu_pcap(const char *name)
{
    static __thread char path[4096];
    snprintf(path, sizeof(path), "%s/%s", tu_env("VIGIL_PCAPS"), name);
    return path;
}

char *tu_tmpdir(void)
{
    char *tmpl = strdup("/tmp/vigil-test-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpl), "mkdtemp failed");
    return tmpl;
}

void tu_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

int tu_run(char *const argv[], char **output)
{
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1, "fork failed");
    if (pid == 0) {
        close(pipefd[0]);
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pipefd[1]);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    while ((n = read(pipefd[0], buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 1024)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    close(pipefd[0]);
    int status;
    waitpid(pid, &status, 0);
    if (output)
        *output = buf;
    else
        free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct tu_events tu_read_eve(const char *path)
{
    struct tu_events e = {NULL, 0};
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return e;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    size_t lineno = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        json_error_t err;
        json_t *j = json_loadb(line, (size_t)len, 0, &err);
        cr_assert_not_null(j, "%s:%zu: invalid JSON: %s", path, lineno, err.text);
        e.ev = realloc(e.ev, (e.n + 1) * sizeof(*e.ev));
        e.ev[e.n++] = j;
    }
    free(line);
    fclose(f);
    return e;
}

void tu_events_free(struct tu_events *e)
{
    for (size_t i = 0; i < e->n; i++)
        json_decref(e->ev[i]);
    free(e->ev);
    e->ev = NULL;
    e->n = 0;
}

static const json_t *get_path(const json_t *obj, const char *path)
{
    const json_t *cur = obj;
    const char *p = path;
    while (cur != NULL && *p != '\0') {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        cur = json_object_getn(cur, p, len);
        p += len + (dot ? 1 : 0);
    }
    return cur;
}

json_t *tu_get(const json_t *obj, const char *path)
{
    return (json_t *)get_path(obj, path);
}

const char *tu_str(const json_t *obj, const char *path)
{
    const json_t *v = get_path(obj, path);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

long long tu_int(const json_t *obj, const char *path)
{
    const json_t *v = get_path(obj, path);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* Compares a field with a value given as text (strings, integers, booleans). */
static int field_is(const json_t *obj, const char *path, const char *value)
{
    const json_t *v = get_path(obj, path);
    if (v == NULL)
        return 0;
    if (value == NULL)
        return 1;
    char num[32];
    switch (json_typeof(v)) {
    case JSON_STRING:
        return strcmp(json_string_value(v), value) == 0;
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        return strcmp(num, value) == 0;
    case JSON_TRUE:
        return strcmp(value, "true") == 0;
    case JSON_FALSE:
        return strcmp(value, "false") == 0;
    default:
        return 0;
    }
}

size_t tu_count(const struct tu_events *e, const char *event_type, const char *path,
                const char *value)
{
    size_t n = 0;
    for (size_t i = 0; i < e->n; i++) {
        if (event_type && !field_is(e->ev[i], "event_type", event_type))
            continue;
        if (path && !field_is(e->ev[i], path, value))
            continue;
        n++;
    }
    return n;
}

json_t *tu_find(const struct tu_events *e, const char *event_type, const char *path,
                const char *value)
{
    for (size_t i = 0; i < e->n; i++) {
        if (event_type && !field_is(e->ev[i], "event_type", event_type))
            continue;
        if (path && !field_is(e->ev[i], path, value))
            continue;
        return e->ev[i];
    }
    return NULL;
}

json_t *tu_flow(const struct tu_events *e, const char *src_ip, long long src_port,
                const char *dest_ip)
{
    for (size_t i = 0; i < e->n; i++) {
        json_t *ev = e->ev[i];
        if (!field_is(ev, "event_type", "flow") || !field_is(ev, "src_ip", src_ip))
            continue;
        if (src_port >= 0 && tu_int(ev, "src_port") != src_port)
            continue;
        if (dest_ip && !field_is(ev, "dest_ip", dest_ip))
            continue;
        return ev;
    }
    return NULL;
}

json_t *tu_stats(const struct tu_events *e)
{
    json_t *last = NULL;
    for (size_t i = 0; i < e->n; i++)
        if (field_is(e->ev[i], "event_type", "stats"))
            last = e->ev[i];
    return last;
}

int tu_sensor(const char *outdir, struct tu_events *events, char **output, ...)
{
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)tu_env("VIGIL_SENSOR");
    argv[n++] = "-l";
    argv[n++] = (char *)outdir;
    va_list ap;
    va_start(ap, output);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && n < 63)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    int rc = tu_run(argv, output);
    if (events) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/eve.json", outdir);
        *events = tu_read_eve(path);
    }
    return rc;
}

void tu_need_redis(void)
{
    if (system("command -v redis-server >/dev/null 2>&1") != 0)
        cr_skip_test("redis-server is not installed (scripts/deps installs it)");
}

int tu_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

redisContext *tu_redis_connect(int port)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c != NULL && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

void tu_close_inherited(void)
{
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
}

pid_t tu_redis_start(const char *dir, int port, int aof)
{
    char rdir[4200], log[4300], portarg[16];
    snprintf(rdir, sizeof(rdir), "%s/redis", dir);
    mkdir(rdir, 0700);
    snprintf(log, sizeof(log), "%s/redis.log", rdir);
    snprintf(portarg, sizeof(portarg), "%d", port);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a crashed test */
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        tu_close_inherited();
        execlp("redis-server", "redis-server", "--port", portarg, "--bind", "127.0.0.1", "--dir",
               rdir, "--save", "", "--appendonly", aof ? "yes" : "no", "--appendfsync", "always",
               "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 250; i++) {
        redisContext *c = tu_redis_connect(port);
        if (c != NULL) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r != NULL && r->type == REDIS_REPLY_STATUS;
            freeReplyObject(r);
            redisFree(c);
            if (ok)
                return pid;
        }
        usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_fail("redis-server did not come up on port %d (see %s)", port, log);
    return -1;
}

void tu_redis_kill(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}
