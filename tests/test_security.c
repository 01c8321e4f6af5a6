/* test_security.c: a hostile file name over HTTP never steers the filestore outside its root. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pktgen.h"
#include "testutil.h"

#define T0 1714521600000000ULL

/* Checks every entry under root/rel: tmp/, xx/ directories and xx/SHA256[.json] files only. */
static unsigned walk(const char *root, const char *rel, int depth)
{
    char path[20000];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s", path);
    unsigned files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[9000];
        snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        struct stat sb;
        snprintf(path, sizeof(path), "%s/%s", root, sub);
        cr_assert_eq(lstat(path, &sb), 0);
        cr_expect(!S_ISLNK(sb.st_mode), "a symlink in the filestore: %s", sub);
        if (S_ISDIR(sb.st_mode)) {
            cr_expect_eq(depth, 0, "a directory below the first level: %s", sub);
            cr_expect(strcmp(e->d_name, "tmp") == 0 ||
                          (strlen(e->d_name) == 2 && strspn(e->d_name, "0123456789abcdef") == 2),
                      "unexpected directory %s", sub);
            files += walk(root, sub, depth + 1);
            continue;
        }
        size_t hex = strspn(e->d_name, "0123456789abcdef");
        cr_expect(hex == 64 && (e->d_name[64] == '\0' || strcmp(e->d_name + 64, ".json") == 0),
                  "a stored file not named by its SHA-256: %s", sub);
        cr_expect_eq(strncmp(e->d_name, rel + (depth ? strlen(rel) - 2 : 0), 2), 0,
                     "%s is not in the directory of its hash prefix", sub);
        files++;
    }
    closedir(d);
    return files;
}

Test(security, filestore_ignores_hostile_file_names)
{
    char *dir = tu_tmpdir();
    /* The store sits two levels down in a sandbox, so "../../x" would land in the sandbox. */
    char sandbox[4200], store[4200], pcap[4200], out_dir[4200];
    snprintf(sandbox, sizeof(sandbox), "%s/sandbox", dir);
    snprintf(store, sizeof(store), "%s/sandbox/a/store", dir);
    snprintf(pcap, sizeof(pcap), "%s/traversal.pcap", dir);
    snprintf(out_dir, sizeof(out_dir), "%s/log", dir);
    cr_assert_eq(mkdir(sandbox, 0755), 0);
    snprintf(store, sizeof(store), "%s/sandbox/a", dir);
    cr_assert_eq(mkdir(store, 0755), 0);
    snprintf(store, sizeof(store), "%s/sandbox/a/store", dir);

    struct pg_writer *w = pg_open(pcap, 1, 0);
    cr_assert_not_null(w);
    uint64_t ts = T0;
    struct pg_tcp_session s = {"10.0.0.5", "192.0.2.80", 40000, 80, 1000, 5000, 0};
    pg_session_open(w, &s, &ts);
    const char *req = "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n";
    pg_session_data(w, &s, 1, req, strlen(req), &ts);
    const char *resp = "HTTP/1.1 200 OK\r\n"
                       "Content-Disposition: attachment; filename=\"../../etc/passwd\"\r\n"
                       "Content-Length: 32\r\n\r\n"
                       "root:x:0:0:root:/root:/bin/bash\n";
    pg_session_data(w, &s, 0, resp, strlen(resp), &ts);
    pg_session_close(w, &s, &ts);
    pg_close(w);

    struct tu_events ev;
    char *out = NULL;
    int rc = tu_sensor(out_dir, &ev, &out, "-r", pcap, "--filestore", store, NULL);
    cr_assert_eq(rc, 0, "%s", out);
    json_t *fi = tu_find(&ev, "fileinfo", NULL, NULL);
    cr_assert_not_null(fi, "no fileinfo record: %s", out);
    const char *name = tu_str(fi, "fileinfo.filename");
    cr_assert_not_null(name);
    cr_expect_not_null(strstr(name, "../"), "the hostile name did not reach the engine: %s", name);

    /* Exactly the file and its metadata, named by hash, and nothing else in the sandbox. */
    cr_expect_eq(walk(store, "", 0), 2);
    char stray[4300];
    snprintf(stray, sizeof(stray), "%s/etc/passwd", sandbox);
    struct stat sb;
    cr_expect_neq(stat(stray, &sb), 0, "%s was written", stray);
    DIR *d = opendir(sandbox);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        cr_expect(e->d_name[0] == '.' || strcmp(e->d_name, "a") == 0, "sandbox/%s", e->d_name);
    closedir(d);
    tu_events_free(&ev);
    free(out);
    free(dir);
}
