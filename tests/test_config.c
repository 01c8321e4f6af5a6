/* test_config.c: the YAML configuration: dotted lookup, --set, typed getters, errors by line. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vigil/config.h"
#include "vigil/sensor.h"

static const char *yaml = "%YAML 1.1\n"
                          "---\n"
                          "vars:\n"
                          "  address-groups:\n"
                          "    HOME_NET: \"[10.0.0.0/8,192.168.0.0/16]\"\n"
                          "flow:\n"
                          "  memcap: 64mb\n"
                          "  hash-size: 4096\n"
                          "rule-files:\n"
                          "  - a.rules\n"
                          "  - b.rules\n"
                          "outputs:\n"
                          "  eve:\n"
                          "    enabled: yes\n"
                          "    types:\n"
                          "      flow: no\n";

static struct config *load(const char *text)
{
    struct config *c = config_new();
    char err[VG_ERRBUF_SIZE];
    cr_assert_eq(config_load_string(c, text, "test.yaml", err), 0, "%s", err);
    return c;
}

Test(config, dotted_lookup)
{
    struct config *c = load(yaml);
    cr_assert_str_eq(config_get(c, "vars.address-groups.HOME_NET"), "[10.0.0.0/8,192.168.0.0/16]");
    cr_assert_str_eq(config_get(c, "rule-files.1"), "b.rules");
    cr_assert_null(config_get(c, "rule-files.2"));
    cr_assert_null(config_get(c, "flow"), "a section is not a scalar");
    cr_assert_null(config_get(c, "nope.nothing"));
    const struct config_node *n = config_lookup(c, "rule-files");
    cr_assert_eq(n->type, CONFIG_SEQ);
    cr_assert_eq(n->nchild, 2);
    cr_assert_eq(config_lookup(c, "flow.memcap")->line, 7);
    config_free(c);
}

Test(config, typed_getters)
{
    struct config *c = load(yaml);
    char err[VG_ERRBUF_SIZE];
    uint64_t v;
    int b;
    cr_assert_eq(config_get_size(c, "flow.memcap", 0, &v, err), 0);
    cr_assert_eq(v, 64ULL * 1024 * 1024);
    cr_assert_eq(config_get_uint(c, "flow.hash-size", 0, 1 << 20, &v, err), 0);
    cr_assert_eq(v, 4096);
    cr_assert_eq(config_get_uint(c, "missing", 7, 10, &v, err), 0);
    cr_assert_eq(v, 7);
    cr_assert_eq(config_get_bool(c, "outputs.eve.enabled", 0, &b, err), 0);
    cr_assert_eq(b, 1);
    cr_assert_eq(config_get_bool(c, "outputs.eve.types.flow", 1, &b, err), 0);
    cr_assert_eq(b, 0);
    /* Out of range and wrong types fail with the key in the message. */
    cr_assert_eq(config_get_uint(c, "flow.hash-size", 0, 100, &v, err), -1);
    cr_assert(strstr(err, "flow.hash-size") != NULL, "%s", err);
    cr_assert_eq(config_get_bool(c, "flow.memcap", 0, &b, err), -1);
    cr_assert_eq(config_get_size(c, "vars", 0, &v, err), -1);
    config_free(c);
}

Test(config, sizes)
{
    uint64_t v;
    cr_assert_eq(vg_parse_size("512", &v), 0);
    cr_assert_eq(v, 512);
    cr_assert_eq(vg_parse_size("4kb", &v), 0);
    cr_assert_eq(v, 4096);
    cr_assert_eq(vg_parse_size("2 GB", &v), 0);
    cr_assert_eq(v, 2ULL << 30);
    cr_assert_eq(vg_parse_size("1mib", &v), 0);
    cr_assert_eq(v, 1 << 20);
    cr_assert_eq(vg_parse_size("12qb", &v), -1);
    cr_assert_eq(vg_parse_size("-1", &v), -1);
    cr_assert_eq(vg_parse_size("", &v), -1);
    cr_assert_eq(vg_parse_size("99999999999999999999gb", &v), -1);
}

Test(config, set_creates_and_replaces)
{
    struct config *c = load(yaml);
    char err[VG_ERRBUF_SIZE];
    cr_assert_eq(config_set(c, "flow.memcap", "32mb", err), 0);
    cr_assert_str_eq(config_get(c, "flow.memcap"), "32mb");
    cr_assert_eq(config_set(c, "defrag.policy", "linux", err), 0);
    cr_assert_str_eq(config_get(c, "defrag.policy"), "linux");
    cr_assert_eq(config_set(c, "rule-files.0", "c.rules", err), 0);
    cr_assert_str_eq(config_get(c, "rule-files.0"), "c.rules");
    /* A section replaced by a scalar, and paths through scalars refused. */
    cr_assert_eq(config_set(c, "vars", "none", err), 0);
    cr_assert_str_eq(config_get(c, "vars"), "none");
    cr_assert_eq(config_set(c, "flow.memcap.x", "1", err), -1);
    cr_assert_eq(config_set(c, "a..b", "1", err), -1);
    cr_assert_eq(config_set(c, "rule-files.9.x", "1", err), -1);
    config_free(c);
}

Test(config, later_files_merge)
{
    struct config *c = load(yaml);
    char err[VG_ERRBUF_SIZE];
    cr_assert_eq(config_load_string(c, "flow:\n  memcap: 1gb\nthreads: 2\n", "b.yaml", err), 0);
    cr_assert_str_eq(config_get(c, "flow.memcap"), "1gb");
    cr_assert_str_eq(config_get(c, "flow.hash-size"), "4096", "sibling keys stay");
    cr_assert_str_eq(config_get(c, "threads"), "2");
    config_free(c);
}

Test(config, errors_name_file_and_line)
{
    struct config *c = config_new();
    char err[VG_ERRBUF_SIZE] = "";
    cr_assert_eq(config_load_string(c, "a: 1\nb: [1, 2\nc: 3\n", "bad.yaml", err), -1);
    cr_assert(strncmp(err, "bad.yaml:", 9) == 0, "%s", err);
    cr_assert_eq(config_load_string(c, "- just\n- a list\n", "list.yaml", err), -1);
    cr_assert(strstr(err, "mapping") != NULL, "%s", err);
    cr_assert_eq(config_load_file(c, "/nonexistent/vigil.yaml", err), -1);
    cr_assert(strstr(err, "No such file") != NULL, "%s", err);
    /* Empty text is an empty configuration. */
    cr_assert_eq(config_load_string(c, "", "empty.yaml", err), 0);
    config_free(c);
}

Test(config, dump_round_trips)
{
    struct config *c = load(yaml);
    char err[VG_ERRBUF_SIZE];
    config_set(c, "odd.value", "a: b # c", err);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    config_dump(c, f);
    fclose(f);
    struct config *d = load(buf);
    cr_assert_str_eq(config_get(d, "odd.value"), "a: b # c");
    cr_assert_str_eq(config_get(d, "rule-files.1"), "b.rules");
    cr_assert_str_eq(config_get(d, "vars.address-groups.HOME_NET"), "[10.0.0.0/8,192.168.0.0/16]");
    free(buf);
    config_free(c);
    config_free(d);
}

/* Defaults noted as keys are read come out in the dump beneath what the file sets. */
Test(config, dump_shows_noted_defaults)
{
    struct config *c = load("flow:\n  memcap: 1mb\nstream: 5\n");
    uint64_t v;
    int b;
    char err[VG_ERRBUF_SIZE];
    cr_assert_eq(config_get_size(c, "flow.memcap", 7, &v, err), 0);
    cr_assert_eq(v, 1024 * 1024);
    cr_assert_eq(config_get_size(c, "flow.extra", 3 * 1024 * 1024, &v, err), 0);
    cr_assert_eq(config_get_uint(c, "a.b.count", 42, 100, &v, err), 0);
    cr_assert_eq(config_get_bool(c, "a.on", 1, &b, err), 0);
    cr_assert_eq(config_get_size(c, "stream.memcap", 1000, &v, err), 0); /* crosses a scalar */
    config_note_default(c, "flow.memcap", "9mb");                        /* set: not a default */
    config_note_default(c, "name", "x y");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    config_dump(c, f);
    fclose(f);
    cr_assert_str_eq(buf, "%YAML 1.1\n---\nflow:\n  memcap: 1mb\n  extra: 3mb\nstream: 5\n"
                          "a:\n  b:\n    count: 42\n  on: yes\nname: x y\n");
    free(buf);
    config_free(c);
}

Test(config, sensor_settings_defaults_and_errors)
{
    struct config *c = config_new();
    struct sensor_settings s;
    char err[VG_ERRBUF_SIZE];
    cr_assert_eq(sensor_settings_load(&s, c, NULL, 0, err), 0, "%s", err);
    cr_assert_eq(s.flow.memcap, 128ULL << 20);
    cr_assert_eq(s.flow.timeout[FLOW_PROTO_TCP][FLOW_STATE_ESTABLISHED], 600);
    cr_assert_eq(s.flow.timeout[FLOW_PROTO_UDP][FLOW_STATE_NEW], 30);
    cr_assert_eq(s.defrag.policy, DEFRAG_POLICY_BSD);
    cr_assert_eq(s.nworkers, 1);
    sensor_settings_free(&s);

    config_set(c, "flow-timeouts.tcp.established", "120", err);
    config_set(c, "defrag.policy", "windows", err);
    cr_assert_eq(sensor_settings_load(&s, c, NULL, 0, err), 0, "%s", err);
    cr_assert_eq(s.flow.timeout[FLOW_PROTO_TCP][FLOW_STATE_ESTABLISHED], 120);
    cr_assert_eq(s.defrag.policy, DEFRAG_POLICY_WINDOWS);
    sensor_settings_free(&s);

    config_set(c, "defrag.policy", "sideways", err);
    cr_assert_eq(sensor_settings_load(&s, c, NULL, 0, err), -1);
    cr_assert(strstr(err, "defrag.policy") != NULL, "%s", err);
    config_set(c, "defrag.policy", "bsd", err);
    config_set(c, "outputs.eve.filename", "../escape.json", err);
    cr_assert_eq(sensor_settings_load(&s, c, NULL, 0, err), -1);
    cr_assert(strstr(err, "plain file name") != NULL, "%s", err);
    sensor_settings_free(&s);
    config_free(c);
}

Test(config, hostile_yaml_does_not_crash)
{
    /* Deep nesting, aliases, and binary noise: errors, never crashes. */
    char deep[8192];
    size_t n = 0;
    for (int i = 0; i < 1000 && n + 4 < sizeof(deep); i++)
        deep[n++] = '[';
    deep[n] = '\0';
    struct config *c = config_new();
    char err[VG_ERRBUF_SIZE];
    config_load_string(c, deep, "deep.yaml", err);
    config_load_string(c, "a: &x [1, 2]\nb: *x\nc: *x\n", "alias.yaml", err);
    config_load_string(c, "\x01\x02\xff\xfe: \x80", "noise.yaml", err);
    config_free(c);
}

Test(config, alias_bomb_is_refused, .timeout = 10)
{
    /* Seven levels of ten aliases each would expand to 10^7 nodes. */
    char text[2048];
    size_t n = (size_t)snprintf(text, sizeof(text), "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 7; i++) {
        n += (size_t)snprintf(text + n, sizeof(text) - n, "l%d: &l%d [", i, i);
        for (int j = 0; j < 10; j++)
            n += (size_t)snprintf(text + n, sizeof(text) - n, "%s*l%d", j ? ", " : "", i - 1);
        n += (size_t)snprintf(text + n, sizeof(text) - n, "]\n");
    }
    struct config *c = config_new();
    char err[VG_ERRBUF_SIZE];
    cr_assert_eq(config_load_string(c, text, "bomb.yaml", err), -1);
    cr_assert(strstr(err, "bomb.yaml:") != NULL && strstr(err, "alias") != NULL, "%s", err);
    /* A modest alias still works. */
    cr_assert_eq(config_load_string(c, "a: &x [1, 2]\nb: *x\n", "ok.yaml", err), 0, "%s", err);
    config_free(c);
}
