/* test_eve_full.c: a full disk loses whole records, counted, and never leaves half a line. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "vigil/eve.h"

/* /dev/full takes nothing: every flush fails, every record is counted as dropped. */
Test(eve_full, dev_full_counts_every_record)
{
    char err[VG_ERRBUF_SIZE];
    struct eve_sink *s = eve_sink_open("/dev/full", err);
    cr_assert_not_null(s, "%s", err);
    struct eve_writer *w = eve_writer_new(s);
    cr_assert_not_null(w);
    for (int i = 0; i < 10; i++) {
        json_t *rec = json_pack("{s:s, s:i}", "event_type", "test", "n", i);
        cr_assert_eq(eve_writer_write(w, rec), 0); /* buffered */
        json_decref(rec);
    }
    cr_expect_eq(eve_writer_flush(w), -1);
    json_t *rec = json_pack("{s:s}", "event_type", "more");
    eve_writer_write(w, rec);
    json_decref(rec);
    cr_expect_eq(eve_writer_flush(w), -1);
    struct eve_sink_stats st;
    eve_sink_get_stats(s, &st);
    cr_expect_eq(st.write_errors, 2);
    cr_expect_eq(st.dropped, 11);
    cr_expect_eq(st.records, 0);
    eve_writer_free(w);
    eve_sink_close(s);
}

static char *mnt;

static void unmount_dir(void)
{
    if (mnt != NULL) {
        umount2(mnt, MNT_DETACH);
        rmdir(mnt);
        free(mnt);
        mnt = NULL;
    }
}

/*
 * The sensor logs into a 64 KiB tmpfs: it fills up mid-run. The run goes on to the end (exit
 * 0), says why on stderr, and the file holds only whole records.
 */
Test(eve_full, sensor_on_full_tmpfs_keeps_whole_records, .fini = unmount_dir, .timeout = 120)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to mount a tmpfs");
    mnt = tu_tmpdir();
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0)
        cr_skip_test("cannot mount a tmpfs here");
    char *out = NULL;
    struct tu_events ev;
    int rc = tu_sensor(mnt, &ev, &out, "-r", tu_pcap("many-flows.pcap"), NULL);
    cr_expect_eq(rc, 0, "exit %d: %s", rc, out);
    cr_expect_not_null(strstr(out, "No space left on device"), "no clear error: %s", out);
    /* and the end of the run says how many records were lost, as the stats would */
    cr_expect_not_null(strstr(out, " records could not be written (eve.dropped)"), "%s", out);
    cr_expect_gt(ev.n, 0, "nothing was written before the disk filled up");
    /* tu_read_eve failed the test on any line that is not whole JSON; check the last byte. */
    char path[4200];
    snprintf(path, sizeof(path), "%s/eve.json", mnt);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    fseek(f, -1, SEEK_END);
    cr_expect_eq(fgetc(f), '\n', "the file ends in the middle of a record");
    fclose(f);
    cr_log_info("full tmpfs: %zu whole records kept", ev.n);
    tu_events_free(&ev);
    free(out);
}
