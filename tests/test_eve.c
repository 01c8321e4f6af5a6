/* test_eve.c: EVE output: escaping of traffic bytes, whole-line writes, disk full, record fields.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "vigil/app-proto.h"
#include "vigil/eve-types.h"
#include "vigil/eve.h"
#include "vigil/stats.h"

/* Serialises {key: bytes} and parses it back; returns the decoded string (static). */
static const char *round_trip(const void *bytes, size_t len)
{
    static char out[4096];
    json_t *o = json_object();
    eve_set_bytes(o, "v", bytes, len);
    char *text = json_dumps(o, JSON_COMPACT);
    cr_assert_not_null(text, "the object must serialise");
    json_error_t err;
    json_t *back = json_loads(text, 0, &err);
    cr_assert_not_null(back, "not valid JSON: %s (%s)", text, err.text);
    snprintf(out, sizeof(out), "%s", json_string_value(json_object_get(back, "v")));
    json_decref(back);
    json_decref(o);
    free(text);
    return out;
}

Test(eve, traffic_bytes_always_make_valid_json)
{
    cr_assert_str_eq(round_trip("GET /", 5), "GET /");
    cr_assert_str_eq(round_trip("a\"b\\c", 5), "a\"b\\c");
    cr_assert_str_eq(round_trip("\x00\x01\n\x7f", 4), "\\x00\\x01\\x0a\\x7f");
    /* Vietnamese stays intact; broken UTF-8 is escaped byte by byte. */
    static const char vi[] = "S\xe1\xbb\x9f T\xc6\xb0 ph\xc3\xa1p";
    cr_assert_str_eq(round_trip(vi, sizeof(vi) - 1), "Sở Tư pháp");
    cr_assert_str_eq(round_trip("\xc3\x28", 2), "\\xc3(");
    cr_assert_str_eq(round_trip("\xc0\xaf", 2), "\\xc0\\xaf", "overlong encodings are escaped");
    cr_assert_str_eq(round_trip("\xed\xa0\x80", 3), "\\xed\\xa0\\x80", "surrogates are escaped");
    cr_assert_str_eq(round_trip("\xf4\x90\x80\x80", 4), "\\xf4\\x90\\x80\\x80");
    cr_assert_str_eq(round_trip("\xe2\x82", 2), "\\xe2\\x82", "a sequence cut short");
    cr_assert_str_eq(round_trip("", 0), "");

    /* Every byte value, and a long string past the stack buffer. */
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    round_trip(all, sizeof(all));
    char *big = malloc(5000);
    memset(big, 0xff, 5000);
    json_t *o = json_object();
    eve_set_bytes(o, "v", (uint8_t *)big, 5000);
    cr_assert_eq(strlen(json_string_value(json_object_get(o, "v"))), 20000);
    json_decref(o);
    free(big);
}

Test(eve, addresses_protocols_and_time)
{
    struct vg_addr a;
    memset(&a, 0, sizeof(a));
    char out[64];
    inet_pton(AF_INET, "192.0.2.1", a.u8);
    eve_format_addr(4, &a, out, sizeof(out));
    cr_assert_str_eq(out, "192.0.2.1");
    inet_pton(AF_INET6, "2001:db8::1", a.u8);
    eve_format_addr(6, &a, out, sizeof(out));
    cr_assert_str_eq(out, "2001:0db8:0000:0000:0000:0000:0000:0001");

    char pb[8];
    cr_assert_str_eq(eve_proto_name(6, pb, sizeof(pb)), "TCP");
    cr_assert_str_eq(eve_proto_name(58, pb, sizeof(pb)), "IPv6-ICMP");
    cr_assert_str_eq(eve_proto_name(253, pb, sizeof(pb)), "253");
    cr_assert_str_eq(eve_proto_name(7, pb, sizeof(pb)), "007");

    setenv("TZ", "UTC", 1);
    tzset();
    char ts[48];
    vg_format_time(1714521600000123ULL, ts, sizeof(ts));
    cr_assert_str_eq(ts, "2024-05-01T00:00:00.000123+0000");
    setenv("TZ", "Asia/Ho_Chi_Minh", 1);
    tzset();
    vg_format_time(1714521600000123ULL, ts, sizeof(ts));
    cr_assert_str_eq(ts, "2024-05-01T07:00:00.000123+0700");
}

/* The reference: localtime_r and strftime, as the record times read. */
static void ref_time(time_t secs, unsigned usec, char *out, size_t len)
{
    struct tm tm;
    localtime_r(&secs, &tm);
    char date[32], zone[8];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(zone, sizeof(zone), "%z", &tm);
    snprintf(out, len, "%s.%06u%s", date, usec, zone);
}

/* The per-hour shortcut agrees with localtime_r second by second across DST changes (Berlin,
 * New York), a half-hour zone (Kolkata), a half-hour DST step (Lord Howe) and a whole-hour one,
 * in any order of calls. */
Test(eve, record_times_match_localtime_across_zone_changes)
{
    static const char *const zones[] = {"Europe/Berlin",       "America/New_York", "Asia/Kolkata",
                                        "Australia/Lord_Howe", "Asia/Ho_Chi_Minh", "UTC"};
    /* 2024-03-31 01:00 UTC (Berlin's spring change), 2024-11-03 06:00 UTC (New York's fall
     * change), 2024-04-06 15:00 UTC (Lord Howe's half-hour step). */
    static const time_t around[] = {1711846800, 1730613600, 1712415600};
    char got[48], want[48];
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        setenv("TZ", zones[z], 1);
        tzset();
        for (size_t a = 0; a < sizeof(around) / sizeof(around[0]); a++) {
            for (time_t s = around[a] - 5400; s < around[a] + 5400; s += 7) {
                unsigned usec = (unsigned)(s % 1000000);
                vg_format_time((vg_time_t)s * 1000000 + usec, got, sizeof(got));
                ref_time(s, usec, want, sizeof(want));
                cr_assert_str_eq(got, want, "%s at %lld", zones[z], (long long)s);
            }
            /* Back and forth between hours. */
            for (int i = 0; i < 200; i++) {
                time_t s = around[a] + (i % 2 ? 1 : -1) * (time_t)(i * 997 % 7200);
                vg_format_time((vg_time_t)s * 1000000, got, sizeof(got));
                ref_time(s, 0, want, sizeof(want));
                cr_assert_str_eq(got, want, "%s at %lld", zones[z], (long long)s);
            }
        }
    }
    setenv("TZ", "UTC", 1);
    tzset();
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Every line of path must be a JSON object; returns how many there are. */
static size_t count_whole_lines(const char *path)
{
    size_t len;
    char *buf = read_all(path, &len);
    size_t lines = 0;
    char *p = buf;
    while (*p) {
        char *nl = strchr(p, '\n');
        cr_assert_not_null(nl, "a record without its newline: the file was cut mid-record");
        json_error_t err;
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, &err);
        cr_assert_not_null(j, "line %zu is not JSON: %s", lines + 1, err.text);
        json_decref(j);
        lines++;
        p = nl + 1;
    }
    free(buf);
    return lines;
}

Test(eve, writer_buffers_and_big_records)
{
    char *dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof(path), "%s/eve.json", dir);
    char err[VG_ERRBUF_SIZE];
    struct eve_sink *s = eve_sink_open(path, err);
    cr_assert_not_null(s, "%s", err);
    struct eve_writer *w = eve_writer_new(s);
    for (int i = 0; i < 5000; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "i", json_integer(i));
        json_object_set_new(o, "pad",
                            json_string("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
        cr_assert_eq(eve_writer_write(w, o), 0);
        json_decref(o);
    }
    /* One record larger than the whole buffer. */
    char *big = malloc(400000);
    memset(big, 'b', 399999);
    big[399999] = '\0';
    json_t *o = json_object();
    json_object_set_new(o, "big", json_string(big));
    cr_assert_eq(eve_writer_write(w, o), 0);
    json_decref(o);
    free(big);
    eve_writer_free(w);
    struct eve_sink_stats st;
    eve_sink_get_stats(s, &st);
    cr_assert_eq(st.records, 5001);
    cr_assert_eq(st.dropped, 0);
    eve_sink_close(s);
    cr_assert_eq(count_whole_lines(path), 5001);
    tu_rmdir(dir);
    free(dir);
}

Test(eve, full_disk_never_leaves_half_a_record)
{
    /* A file size limit stands in for a full disk: writes past it fail with EFBIG. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {10000, 10000};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    char *dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof(path), "%s/eve.json", dir);
    char err[VG_ERRBUF_SIZE];
    struct eve_sink *s = eve_sink_open(path, err);
    cr_assert_not_null(s, "%s", err);
    char batch[1500];
    size_t n = 0;
    for (int i = 0; i < 15; i++)
        n +=
            (size_t)snprintf(batch + n, sizeof(batch) - n, "{\"record\":\"%04d\",\"pad\":\"%s\"}\n",
                             i, "0123456789012345678901234567890123456789012345678901234567890123");
    int failures = 0;
    for (int i = 0; i < 20; i++)
        if (eve_sink_write(s, batch, n, 15) < 0)
            failures++;
    struct eve_sink_stats st;
    eve_sink_get_stats(s, &st);
    eve_sink_close(s);
    cr_assert_gt(failures, 0);
    cr_assert_eq(st.write_errors, (uint64_t)failures);
    cr_assert_eq(st.dropped, (uint64_t)failures * 15);
    size_t lines = count_whole_lines(path);
    cr_assert_eq(lines, st.records, "the file holds exactly the records counted as written");
    cr_assert_gt(lines, 0);

    /* /dev/full: every write fails, nothing crashes. */
    s = eve_sink_open("/dev/full", err);
    cr_assert_not_null(s, "%s", err);
    cr_assert_eq(eve_sink_write(s, batch, n, 15), -1);
    eve_sink_close(s);
    tu_rmdir(dir);
    free(dir);
}

Test(eve, reopen_after_rotation)
{
    char *dir = tu_tmpdir();
    char path[4096], rotated[4200];
    snprintf(path, sizeof(path), "%s/eve.json", dir);
    snprintf(rotated, sizeof(rotated), "%s/eve.json.1", dir);
    char err[VG_ERRBUF_SIZE];
    struct eve_sink *s = eve_sink_open(path, err);
    cr_assert_eq(eve_sink_write(s, "{\"a\":1}\n", 8, 1), 0);
    cr_assert_eq(rename(path, rotated), 0);
    cr_assert_eq(eve_sink_write(s, "{\"a\":2}\n", 8, 1), 0);
    cr_assert_eq(eve_sink_reopen(s, err), 0, "%s", err);
    cr_assert_eq(eve_sink_write(s, "{\"a\":3}\n", 8, 1), 0);
    eve_sink_close(s);
    cr_assert_eq(count_whole_lines(rotated), 2);
    cr_assert_eq(count_whole_lines(path), 1);
    tu_rmdir(dir);
    free(dir);
}

Test(eve, record_builders)
{
    setenv("TZ", "UTC", 1);
    tzset();
    static const char *names[] = {"capture.pcap"};
    struct eve_ctx ctx = {.src_names = names, .nsrc = 1, .community_id = 1};
    struct flow f;
    memset(&f, 0, sizeof(f));
    inet_pton(AF_INET, "1.2.3.4", f.src.u8);
    inet_pton(AF_INET, "5.6.7.8", f.dst.u8);
    f.sp = 1122;
    f.dp = 3344;
    f.proto = 6;
    f.ip_ver = 4;
    f.flow_id = 42;
    f.vlan_cnt = 1;
    f.vlan_id[0] = 10;
    f.start = 1714521600000000ULL;
    f.last = f.start + 2500000;
    f.pkts[0] = 3;
    f.pkts[1] = 2;
    f.bytes[0] = 300;
    f.bytes[1] = 200;
    f.state = FLOW_STATE_CLOSED;
    f.tcp_state = FLOW_TCP_CLOSED;
    f.tcp_flags[0] = VG_TH_SYN | VG_TH_ACK | VG_TH_FIN;
    f.tcp_flags[1] = VG_TH_SYN | VG_TH_ACK | VG_TH_RST;
    json_t *r = eve_flow_record(&ctx, &f, FLOW_END_TIMEOUT, f.last + 600 * VG_USEC_PER_SEC);
    cr_assert_str_eq(tu_str(r, "event_type"), "flow");
    cr_assert_eq(tu_int(r, "flow_id"), 42);
    cr_assert_str_eq(tu_str(r, "src_ip"), "1.2.3.4");
    cr_assert_eq(tu_int(r, "dest_port"), 3344);
    cr_assert_str_eq(tu_str(r, "proto"), "TCP");
    cr_assert_str_eq(tu_str(r, "community_id"), "1:wCb3OG7yAFWelaUydu0D+125CLM=");
    cr_assert_str_eq(tu_str(r, "pcap_filename"), "capture.pcap");
    cr_assert_eq(json_integer_value(json_array_get(json_object_get(r, "vlan"), 0)), 10);
    cr_assert_eq(tu_int(r, "flow.pkts_toserver"), 3);
    cr_assert_eq(tu_int(r, "flow.bytes_toclient"), 200);
    cr_assert_eq(tu_int(r, "flow.age"), 2);
    cr_assert_str_eq(tu_str(r, "flow.start"), "2024-05-01T00:00:00.000000+0000");
    cr_assert_str_eq(tu_str(r, "flow.end"), "2024-05-01T00:00:02.500000+0000");
    cr_assert_str_eq(tu_str(r, "timestamp"), "2024-05-01T00:10:02.500000+0000");
    cr_assert_str_eq(tu_str(r, "flow.state"), "closed");
    cr_assert_str_eq(tu_str(r, "flow.reason"), "timeout");
    cr_assert_str_eq(tu_str(r, "tcp.tcp_flags"), "17");
    cr_assert_str_eq(tu_str(r, "tcp.tcp_flags_ts"), "13");
    cr_assert_str_eq(tu_str(r, "tcp.tcp_flags_tc"), "16");
    cr_assert(json_is_true(json_object_get(json_object_get(r, "tcp"), "rst")));
    cr_assert_null(json_object_get(json_object_get(r, "tcp"), "psh"));
    cr_assert_str_eq(tu_str(r, "tcp.state"), "closed");
    json_decref(r);

    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.ip_ver = 4;
    p.src = f.dst;
    p.dst = f.src;
    p.sp = 3344;
    p.dp = 1122;
    p.proto = 6;
    p.flags = VG_PKT_HAS_PORTS;
    p.pcap_cnt = 17;
    p.ts = f.start;
    json_t *a = eve_anomaly_record(&ctx, &p, &f, VG_EV_TCP_OPT_INVALID_LEN);
    cr_assert_str_eq(tu_str(a, "event_type"), "anomaly");
    cr_assert_eq(tu_int(a, "flow_id"), 42);
    cr_assert_eq(tu_int(a, "pcap_cnt"), 17);
    cr_assert_str_eq(tu_str(a, "src_ip"), "5.6.7.8", "packet records keep the packet's direction");
    cr_assert_str_eq(tu_str(a, "anomaly.type"), "decode");
    cr_assert_str_eq(tu_str(a, "anomaly.event"), "decoder.tcp.opt_invalid_len");
    cr_assert_str_eq(tu_str(a, "pkt_src"), "wire/pcap");
    json_decref(a);

    struct sensor_stats ss;
    memset(&ss, 0, sizeof(ss));
    ss.decoder.pkts = 10;
    ss.decoder.bytes = 1000;
    ss.decoder.events[VG_EV_IPV4_TRUNC_PKT] = 3;
    ss.capture.kernel_drops = 5;
    ss.flow.total = 4;
    ss.worker.cpu_usec = 1500000;
    ss.files.scanned_bytes = 12345;
    ss.files.scan_cpu_usec = 250000;
    json_t *so = eve_stats_object(&ss);
    cr_assert_float_eq(json_real_value(tu_get(so, "worker.cpu_seconds")), 1.5, 1e-9);
    cr_assert_eq(tu_int(so, "files.yara_scanned_bytes"), 12345);
    cr_assert_float_eq(json_real_value(tu_get(so, "files.yara_scan_cpu_seconds")), 0.25, 1e-9);
    cr_assert_null(tu_get(so, "enrich"), "no enrich object without enrichment");
    json_decref(so);
    ss.enrich_enabled = 1;
    ss.enrich = (struct enrich_stats){.lookups = 7, .cache_hits = 5, .cache_misses = 2};
    so = eve_stats_object(&ss);
    cr_assert_eq(tu_int(so, "enrich.lookups"), 7);
    cr_assert_eq(tu_int(so, "enrich.cache_hits"), 5);
    cr_assert_eq(tu_int(so, "enrich.cache_misses"), 2);
    cr_assert_eq(tu_int(so, "decoder.pkts"), 10);
    cr_assert_eq(tu_int(so, "decoder.avg_pkt_size"), 100);
    cr_assert_eq(tu_int(so, "decoder.event.ipv4.trunc_pkt"), 3);
    cr_assert_eq(tu_int(so, "decoder.event.too_many_layers"), 0);
    cr_assert_eq(tu_int(so, "capture.kernel_drops"), 5);
    cr_assert_eq(tu_int(so, "flow.total"), 4);
    json_decref(so);
}

/* eve_json_dumpb must write what json_dumpb writes, byte for byte, or refuse what it refuses. */
static void same_as_jansson(json_t *rec)
{
    char a[4096], b[4096];
    size_t na = json_dumpb(rec, a, sizeof(a), JSON_COMPACT | JSON_REAL_PRECISION(10));
    size_t nb = eve_json_dumpb(rec, b, sizeof(b), 10);
    cr_assert_eq(nb, na, "length %zu, jansson %zu", nb, na);
    cr_assert(na < sizeof(a));
    cr_assert(memcmp(a, b, na) == 0, "%.*s\nvs jansson\n%.*s", (int)nb, b, (int)na, a);
    /* Too small a buffer: the length it needs, and only the start written. */
    char small[8];
    memset(small, 'x', sizeof(small));
    cr_assert_eq(eve_json_dumpb(rec, small, 5, 10), na);
    cr_assert_eq(small[5], 'x');
    cr_assert(memcmp(small, a, na < 5 ? na : 5) == 0);
    json_decref(rec);
}

Test(eve, json_text_is_jansson_s)
{
    same_as_jansson(json_object());
    same_as_jansson(json_array());
    same_as_jansson(json_pack("{s:i,s:i,s:I,s:I}", "zero", 0, "neg", -42, "max",
                              (json_int_t)INT64_MAX, "min", (json_int_t)INT64_MIN));
    same_as_jansson(json_pack("{s:b,s:b,s:n,s:s}", "t", 1, "f", 0, "nothing", "empty", ""));
    same_as_jansson(
        json_pack("[f,f,f,f,f,f,f]", 0.5, 1.0, -3.0, 1e-7, 1e300, 10.762622, 106.660172));
    /* Every control byte, the two escapes, DEL, '/', and UTF-8 of two, three and four bytes,
     * long enough that the sixteen-byte path meets each of them. */
    char s[256];
    size_t n = 0;
    for (int c = 1; c < 0x20; c++)
        s[n++] = (char)c;
    const char *rest = "\"\\\x7f/ Sở Tư pháp 山 \xf0\x9f\x98\x80 0123456789abcdef0123456789\"";
    memcpy(s + n, rest, strlen(rest));
    n += strlen(rest);
    same_as_jansson(json_pack("{s:s%,s:[s%]}", "bytes", s, n, "k\"ey\n", s + 20, n - 20));
    json_t *nested = json_pack("{s:{s:{s:[i,{s:s}]}}}", "a", "b", "c", 1, "d", "e");
    json_object_set_new(nested, "z", json_string("last"));
    json_object_set_new(nested, "m", json_string("insertion order, not sorted"));
    same_as_jansson(nested);
    /* A string that is not UTF-8 (made without the check): both refuse the record. */
    json_t *bad = json_object();
    json_object_set_new(bad, "s", json_stringn_nocheck("a\xc3(b", 4));
    char buf[64];
    cr_assert_eq(json_dumpb(bad, buf, sizeof(buf), JSON_COMPACT), 0);
    cr_assert_eq(eve_json_dumpb(bad, buf, sizeof(buf), 10), 0);
    json_decref(bad);
    cr_assert_eq(eve_json_dumpb(NULL, buf, sizeof(buf), 10), 0);
    /* A key that is not UTF-8: json_dumpb writes broken JSON ({"a":1,":2}), eve refuses. */
    json_t *badkey = json_pack("{s:i}", "a", 1);
    json_object_setn_new_nocheck(badkey, "\xff", 1, json_integer(2));
    cr_assert_eq(json_dumpb(badkey, buf, sizeof(buf), JSON_COMPACT), 11);
    cr_assert_eq(memcmp(buf, "{\"a\":1,\":2}", 11), 0);
    cr_assert_eq(eve_json_dumpb(badkey, buf, sizeof(buf), 10), 0);
    json_decref(badkey);
}

/* Deeper than the walk's 2048 levels the text is json_dumpb's, not a refusal (fuzz_eve_json). */
Test(eve, json_text_of_a_very_deep_tree)
{
    json_t *v = json_integer(7);
    for (int i = 0; i < 3000; i++) {
        json_t *a = json_array();
        json_array_append_new(a, v);
        v = a;
    }
    static char a[8192], b[8192];
    size_t na = json_dumpb(v, a, sizeof(a), JSON_COMPACT | JSON_REAL_PRECISION(10));
    cr_assert_eq(na, 6001);
    cr_assert_eq(eve_json_dumpb(v, b, sizeof(b), 10), na);
    cr_assert(memcmp(a, b, na) == 0);
    cr_assert_eq(eve_json_dumpb(v, b, 10, 10), na);
    json_decref(v);
}

/* The members eve_text_flow_common writes are eve_record_flow's, in its order, for flows of
 * every shape: v4 and v6, VLANs, ICMP, no IP, an app protocol, a live interface, and a capture
 * path that is not UTF-8. */
Test(eve, flow_text_is_the_flow_object)
{
    static const char *names[] = {"plain.pcap", "bad-\xff\xfe-name.pcap"};
    struct eve_ctx ctxs[3] = {{.src_names = names, .nsrc = 2, .community_id = 1},
                              {.src_names = names, .nsrc = 2, .community_id = 0},
                              {.in_iface = "eth1", .community_id = 1, .community_id_seed = 7}};
    for (int shape = 0; shape < 6; shape++) {
        for (int c = 0; c < 3; c++) {
            struct flow f;
            memset(&f, 0, sizeof(f));
            f.ip_ver = shape == 1 ? 6 : shape == 5 ? 0 : 4;
            inet_pton(f.ip_ver == 6 ? AF_INET6 : AF_INET, f.ip_ver == 6 ? "2001:db8::1" : "10.0.0.1",
                      f.src.u8);
            inet_pton(f.ip_ver == 6 ? AF_INET6 : AF_INET, f.ip_ver == 6 ? "2001:db8::2" : "10.0.0.2",
                      f.dst.u8);
            f.proto = shape == 2 ? 1 : shape == 3 ? 17 : shape == 4 ? 47 : 6;
            f.sp = 40000;
            f.dp = 443;
            f.flow_id = shape == 0 ? UINT64_MAX : 77 + (uint64_t)shape;
            f.vlan_cnt = (unsigned)(shape % 3);
            f.vlan_id[0] = 100;
            f.vlan_id[1] = 200;
            f.src_idx = (uint16_t)(shape & 1);
            f.app_proto = shape == 0 ? APP_TLS : APP_UNKNOWN;
            f.icmp_type[0] = 8;
            f.pkts[0] = 1;
            json_t *want = eve_record_flow(&ctxs[c], "flow", 1714521600123456ULL, &f);
            cr_assert_not_null(want);
            char a[2048], b[2048];
            size_t na = eve_json_dumpb(want, a, sizeof(a), 10);
            json_decref(want);
            struct eve_text t;
            eve_text_begin(&t, b, sizeof(b));
            eve_text_flow_common(&ctxs[c], &t, "flow", 1714521600123456ULL, &f);
            size_t nb = eve_text_finish(&t);
            cr_assert(na > 0 && na < sizeof(a));
            cr_assert_eq(nb, na, "shape %d ctx %d:\n%.*s\nvs\n%.*s", shape, c, (int)nb, b, (int)na, a);
            cr_assert(memcmp(a, b, na) == 0, "shape %d ctx %d:\n%.*s\nvs\n%.*s", shape, c, (int)nb, b,
                      (int)na, a);
        }
    }
    /* The whole flow record: the object is the text, parsed. */
    struct flow f;
    memset(&f, 0, sizeof(f));
    f.ip_ver = 4;
    f.proto = 1;
    f.pkts[0] = f.pkts[1] = 2;
    f.icmp_type[0] = 8;
    f.icmp_type[1] = 0;
    char text[2048], again[2048];
    size_t n = eve_flow_text(&ctxs[0], &f, FLOW_END_SHUTDOWN, 1714521600000000ULL, text, sizeof(text));
    cr_assert(n > 0 && n < sizeof(text));
    json_t *r = eve_flow_record(&ctxs[0], &f, FLOW_END_SHUTDOWN, 1714521600000000ULL);
    cr_assert_eq(tu_int(r, "response_icmp_type"), 0);
    cr_assert_eq(eve_json_dumpb(r, again, sizeof(again), 10), n);
    cr_assert(memcmp(text, again, n) == 0);
    json_decref(r);
    /* Too small a buffer: the size it needs. */
    cr_assert_eq(eve_flow_text(&ctxs[0], &f, FLOW_END_SHUTDOWN, 1714521600000000ULL, text, 10), n);
    /* Nesting mistakes are refused, not written. */
    struct eve_text t;
    eve_text_begin(&t, text, sizeof(text));
    eve_text_object(&t, "open");
    cr_assert_eq(eve_text_finish(&t), 0);
    eve_text_begin(&t, text, sizeof(text));
    eve_text_end(&t);
    cr_assert_eq(eve_text_finish(&t), 0);
    eve_text_begin(&t, text, sizeof(text));
    eve_text_string(&t, "s", "\xc3(", 2);
    cr_assert_eq(eve_text_finish(&t), 0, "not UTF-8");
}

/* A record written as text gets the sink's sensor name as a tree record does. */
Test(eve, text_records_get_the_sensor_name)
{
    char *dir = tu_tmpdir();
    char path[4200], err[VG_ERRBUF_SIZE];
    snprintf(path, sizeof(path), "%s/eve.json", dir);
    struct eve_sink *s = eve_sink_open(path, err);
    cr_assert_not_null(s, "%s", err);
    cr_assert_eq(eve_sink_set_sensor_name(s, "dc-tap-1 \"Sở\""), 0);
    struct eve_writer *w = eve_writer_new(s);
    json_t *rec = json_pack("{s:s,s:i}", "event_type", "flow", "n", 1);
    cr_assert_eq(eve_writer_write(w, rec), 0);
    json_decref(rec);
    const char text[] = "{\"event_type\":\"flow\",\"n\":1}";
    cr_assert_eq(eve_writer_write_text(w, text, strlen(text)), 0);
    cr_assert_eq(eve_writer_write_text(w, "{\"x\":1", 6), -1, "not a record");
    eve_writer_free(w);
    eve_sink_close(s);
    size_t len;
    char *all = read_all(path, &len);
    const char *line = "{\"event_type\":\"flow\",\"n\":1,\"sensor\":\"dc-tap-1 \\\"Sở\\\"\"}\n";
    cr_assert_eq(len, 2 * strlen(line), "%s", all);
    cr_assert(strncmp(all, line, strlen(line)) == 0, "%s", all);
    cr_assert(strncmp(all + strlen(line), line, strlen(line)) == 0, "%s", all);
    free(all);
    tu_rmdir(dir);
    free(dir);
}
