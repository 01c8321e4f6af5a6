/* test_files_evader.c: EICAR carved from the shared corpus's HTTP-evader captures (extended). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

/* Returns $VIGIL_SHARED/corpus/sub, or skips the test if it is absent. */
static const char *corpus(const char *sub)
{
    static char path[4096];
    const char *shared = getenv("VIGIL_SHARED");
    snprintf(path, sizeof(path), "%s/corpus/%s", shared ? shared : "../shared", sub);
    struct stat sb;
    if (stat(path, &sb) != 0)
        cr_skip_test("%s is absent: extended test skipped", path);
    return path;
}

/*
 * The HTTP-evader captures of file-samples/EICAR_PCAPS.tsv: each carries EICAR over one evasion
 * (suricata-verify expects one fileinfo with it for each). Counts the captures whose fileinfo
 * has EICAR's sha256 (docs/files.md gives the figure).
 */
Test(files_evader, http_evader_eicar, .timeout = 600)
{
    static const char eicar_sha256[] =
        "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
    const char *tsv = corpus("file-samples/EICAR_PCAPS.tsv");
    FILE *fp = fopen(tsv, "r");
    cr_assert_not_null(fp);
    char base[4096];
    snprintf(base, sizeof(base), "%s", tsv);
    *strrchr(base, '/') = '\0';
    *strrchr(base, '/') = '\0'; /* paths in the list are relative to the corpus */
    char line[4096];
    unsigned total = 0, right = 0, wrong = 0, none = 0;
    while (fgets(line, sizeof(line), fp) != NULL) {
        line[strcspn(line, "\r\n\t")] = '\0';
        if (line[0] == '#' || strstr(line, "/http-evader/") == NULL)
            continue;
        char pcap[8300];
        snprintf(pcap, sizeof(pcap), "%s/%s", base, line);
        char *out = tu_tmpdir();
        struct tu_events ev = {0};
        int rc = tu_sensor(out, &ev, NULL, "-r", pcap, NULL);
        cr_assert_eq(rc, 0, "%s", line);
        size_t files = tu_count(&ev, "fileinfo", NULL, NULL);
        size_t ok = tu_count(&ev, "fileinfo", "fileinfo.sha256", eicar_sha256);
        total++;
        if (ok > 0)
            right++;
        else if (files > 0)
            wrong++;
        else
            none++;
        if (ok == 0)
            fprintf(stderr, "  evader: %s: %zu fileinfo, none with EICAR\n", line, files);
        tu_events_free(&ev);
        tu_rmdir(out);
        free(out);
    }
    fclose(fp);
    fprintf(stderr, "http-evader EICAR: %u/%u right sha256, %u wrong, %u without fileinfo\n", right,
            total, wrong, none);
    cr_assert_eq(total, 87);
    cr_assert_eq(right, 87);
    cr_assert_eq(wrong, 0);
    cr_assert_eq(none, 0);
}
