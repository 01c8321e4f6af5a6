/* settings.c: turns the YAML configuration into the sensor's settings, checking every value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/enrich.h"
#include "vigil/files.h"
#include "vigil/sensor.h"

static int get_timeouts(struct flow_config *f, const struct config *c, char *errbuf)
{
    static const char *const protos[FLOW_PROTO__COUNT] = {"tcp", "udp", "icmp", "default"};
    static const char *const states[FLOW_STATE__COUNT] = {"new", "established", "closed"};
    char key[96];
    for (unsigned p = 0; p < FLOW_PROTO__COUNT; p++) {
        for (unsigned s = 0; s < FLOW_STATE__COUNT; s++) {
            uint64_t v;
            snprintf(key, sizeof(key), "flow-timeouts.%s.%s", protos[p], states[s]);
            if (config_get_uint(c, key, f->timeout[p][s], 7 * 86400, &v, errbuf) < 0)
                return -1;
            f->timeout[p][s] = (uint32_t)v;
        }
    }
    return 0;
}

/* Joins dir and name unless name is absolute; returns a malloc'd path. */
static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p == NULL)
        return NULL;
    if (name[0] == '/' || dir[0] == '\0')
        snprintf(p, n, "%s", name);
    else
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Rule files: from the command line, else rule-files (relative to default-rule-path). */
static int rule_settings(struct sensor_settings *s, const struct config *c, const char **files,
                         unsigned nfiles, char *errbuf)
{
    const char *dir = config_get(c, "default-rule-path");
    const struct config_node *list = config_lookup(c, "rule-files");
    unsigned n = nfiles;
    if (n == 0 && list != NULL) {
        if (list->type != CONFIG_SEQ) {
            vg_errbuf_set(errbuf, "rule-files: expected a list of files");
            return -1;
        }
        n = (unsigned)list->nchild;
    }
    s->rule_files = calloc(n ? n : 1, sizeof(*s->rule_files));
    if (s->rule_files == NULL)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        const char *name = nfiles ? files[i] : list->child[i]->value;
        if (name == NULL) {
            vg_errbuf_set(errbuf, "rule-files: entry %u is not a file name", i + 1);
            return -1;
        }
        s->rule_files[i] = nfiles ? strdup(name) : join_path(dir ? dir : "", name);
        if (s->rule_files[i] == NULL)
            return -1;
        s->nrule_files++;
    }

    /* classification.config: configured, else beside the first rule file, else the bundled one. */
    const char *cls = config_get(c, "classification-file");
    if (cls != NULL) {
        snprintf(s->classification_file, sizeof(s->classification_file), "%s", cls);
    } else if (s->nrule_files > 0) {
        char cand[4096];
        const char *slash = strrchr(s->rule_files[0], '/');
        snprintf(cand, sizeof(cand), "%.*sclassification.config",
                 slash ? (int)(slash - s->rule_files[0] + 1) : 0, s->rule_files[0]);
        if (access(cand, R_OK) != 0)
            snprintf(cand, sizeof(cand), "%s/classification.config", VIGIL_RULES_DIR);
        if (access(cand, R_OK) == 0)
            snprintf(s->classification_file, sizeof(s->classification_file), "%s", cand);
    }
    if (s->classification_file[0] != '\0')
        config_note_default(c, "classification-file", s->classification_file);

    const char *cache = config_get(c, "detect.cache-dir");
    if (cache != NULL && strcmp(cache, "none") != 0) {
        snprintf(s->cache_dir, sizeof(s->cache_dir), "%s", cache);
    } else if (cache == NULL) {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        if (xdg && *xdg)
            snprintf(s->cache_dir, sizeof(s->cache_dir), "%s/vigil", xdg);
        else if (home && *home)
            snprintf(s->cache_dir, sizeof(s->cache_dir), "%s/.cache/vigil", home);
        else
            snprintf(s->cache_dir, sizeof(s->cache_dir), "/tmp/vigil-cache-%ld", (long)getuid());
        config_note_default(c, "detect.cache-dir", s->cache_dir);
    }
    return config_get_bool(c, "detect.profiling", 0, &s->rule_profiling, errbuf);
}

void sensor_settings_free(struct sensor_settings *s)
{
    app_config_free(&s->app);
    for (unsigned i = 0; i < s->nrule_files; i++)
        free((char *)s->rule_files[i]);
    free(s->rule_files);
    s->rule_files = NULL;
    s->nrule_files = 0;
}

int sensor_settings_load(struct sensor_settings *s, const struct config *c,
                         const char **rule_files, unsigned nrule_files, char *errbuf)
{
    memset(s, 0, sizeof(*s));
    s->cfg = c;
    flow_config_defaults(&s->flow);
    defrag_config_defaults(&s->defrag);
    s->nworkers = 1;
    snprintf(s->outdir, sizeof(s->outdir), ".");
    snprintf(s->eve_filename, sizeof(s->eve_filename), "eve.json");
    s->stats_interval = 8;
    s->live.snaplen = 65535;
    s->live.promisc = 1;
    s->live.timeout_ms = 100;
    s->progress = -1;

    uint64_t v;
    int b;
    if (config_get_uint(c, "threads", 1, SENSOR_MAX_WORKERS, &v, errbuf) < 0)
        return -1;
    s->nworkers = v ? (unsigned)v : 1;
    const char *sched = config_get(c, "autofp-scheduler");
    s->ftp_hash = 1;
    if (sched != NULL && strcmp(sched, "hash") == 0)
        s->ftp_hash = 1;
    else if (sched != NULL && strcmp(sched, "ftp-hash") != 0) {
        vg_errbuf_set(errbuf, "autofp-scheduler: \"%s\" is not hash or ftp-hash", sched);
        return -1;
    }
    config_note_default(c, "autofp-scheduler", s->ftp_hash ? "ftp-hash" : "hash");
    const char *dir = config_get(c, "default-log-dir");
    if (dir != NULL)
        snprintf(s->outdir, sizeof(s->outdir), "%s", dir);
    config_note_default(c, "default-log-dir", s->outdir);

    if (config_get_size(c, "flow.memcap", s->flow.memcap, &s->flow.memcap, errbuf) < 0 ||
        config_get_uint(c, "flow.hash-size", s->flow.hash_size, 1u << 26, &v, errbuf) < 0)
        return -1;
    s->flow.hash_size = (uint32_t)v;
    if (get_timeouts(&s->flow, c, errbuf) < 0)
        return -1;

    if (config_get_size(c, "defrag.memcap", s->defrag.memcap, &s->defrag.memcap, errbuf) < 0 ||
        config_get_uint(c, "defrag.timeout", s->defrag.timeout_sec, 3600, &v, errbuf) < 0)
        return -1;
    s->defrag.timeout_sec = (uint32_t)v;
    if (config_get_uint(c, "defrag.max-frags", s->defrag.max_frags, 65535, &v, errbuf) < 0)
        return -1;
    s->defrag.max_frags = (uint32_t)v;
    const char *pol = config_get(c, "defrag.policy");
    if (pol != NULL) {
        int p = defrag_policy_parse(pol);
        if (p < 0) {
            vg_errbuf_set(errbuf, "defrag.policy: unknown policy '%s' (use bsd, linux, first, "
                                  "last, windows or solaris)", pol);
            return -1;
        }
        s->defrag.policy = (enum defrag_policy)p;
    }
    config_note_default(c, "defrag.policy", "bsd");

    if (config_get_uint(c, "pcap.snaplen", 65535, 262144, &v, errbuf) < 0)
        return -1;
    s->live.snaplen = (int)v;
    if (config_get_bool(c, "pcap.promisc", 1, &s->live.promisc, errbuf) < 0 ||
        config_get_size(c, "pcap.buffer-size", 0, &s->live.buffer_size, errbuf) < 0)
        return -1;

    if (afp_config_load(&s->afp, c, errbuf) < 0)
        return -1;

    if (config_get_uint(c, "stats.interval", s->stats_interval, 86400, &v, errbuf) < 0)
        return -1;
    s->stats_interval = (uint32_t)v;

    if (config_get_bool(c, "outputs.eve.enabled", 1, &s->eve_enabled, errbuf) < 0 ||
        config_get_bool(c, "outputs.eve.types.flow", 1, &s->eve_flow, errbuf) < 0 ||
        config_get_bool(c, "outputs.eve.types.anomaly", 1, &s->eve_anomaly, errbuf) < 0 ||
        config_get_bool(c, "outputs.eve.types.stats", 1, &s->eve_stats, errbuf) < 0)
        return -1;
    const char *sn = config_get(c, "sensor-name");
    if (sn != NULL && (sn[0] == '\0' || strlen(sn) >= sizeof(s->sensor_name))) {
        vg_errbuf_set(errbuf, "sensor-name: must be 1 to %zu characters",
                      sizeof(s->sensor_name) - 1);
        return -1;
    }
    if (sn != NULL)
        snprintf(s->sensor_name, sizeof(s->sensor_name), "%s", sn);
    else if (gethostname(s->sensor_name, sizeof(s->sensor_name) - 1) < 0)
        s->sensor_name[0] = '\0';
    config_note_default(c, "sensor-name", s->sensor_name);
    if (eve_redis_config_load(&s->redis, &s->eve_redis_enabled, c, s->outdir, errbuf) < 0)
        return -1;
    if (s->eve_redis_enabled && !s->eve_enabled) {
        vg_errbuf_set(errbuf, "outputs.eve.redis needs outputs.eve.enabled: yes");
        return -1;
    }
    const char *fn = config_get(c, "outputs.eve.filename");
    if (fn != NULL) {
        if (fn[0] == '\0' || strchr(fn, '/') != NULL || strlen(fn) >= sizeof(s->eve_filename)) {
            vg_errbuf_set(errbuf, "outputs.eve.filename: '%s' must be a plain file name", fn);
            return -1;
        }
        snprintf(s->eve_filename, sizeof(s->eve_filename), "%s", fn);
    }
    config_note_default(c, "outputs.eve.filename", s->eve_filename);

    if (config_get_bool(c, "community-id", 1, &s->community_id, errbuf) < 0 ||
        config_get_uint(c, "community-id-seed", 0, 65535, &v, errbuf) < 0)
        return -1;
    s->community_id_seed = (uint16_t)v;

    const char *prog = config_get(c, "progress");
    if (prog != NULL && strcmp(prog, "auto") != 0) {
        if (config_get_bool(c, "progress", 0, &b, errbuf) < 0)
            return -1;
        s->progress = b;
    }
    config_note_default(c, "progress", "auto");
    if (app_config_load(&s->app, c, errbuf) < 0 ||
        config_get_bool(c, "outputs.eve.types.files", 1, &s->files_enabled, errbuf) < 0 ||
        app_config_start(&s->app, errbuf) < 0)
        return -1;
    config_note_default(c, "stream.reassembly.policy", stream_policy_name(s->app.stream.policy));
    config_note_default(c, "app-layer.protocols.tls.encryption-handling",
                        s->app.tls_inspect_encrypted ? "full" : "default");
    static const char *const cluster[] = {"cluster_flow", "cluster_cpu", "cluster_qm"};
    if ((unsigned)s->afp.cluster_type < VG_ARRAY_LEN(cluster))
        config_note_default(c, "af-packet.cluster-type", cluster[s->afp.cluster_type]);
    if (rule_settings(s, c, rule_files, nrule_files, errbuf) < 0) {
        if (errbuf && errbuf[0] == '\0')
            vg_errbuf_set(errbuf, "out of memory");
        sensor_settings_free(s);
        return -1;
    }
    return 0;
}

int sensor_config_dump(const struct sensor_settings *s, FILE *out, char *errbuf)
{
    /* The modules read their keys when they start; read them now, so their defaults show. */
    struct file_config fc;
    file_config_init(&fc);
    int rc = file_config_load(&fc, s->cfg, errbuf);
    file_config_free(&fc);
    if (rc < 0)
        return -1;
    /* Databases and inventories named there need not exist where the dump is made. */
    char why[VG_ERRBUF_SIZE];
    enrich_free(enrich_new(s->cfg, why));
    struct sensor_settings none = *s;
    none.nrule_files = 0; /* the detect.* keys, not the rules */
    none.classification_file[0] = '\0';
    struct detect_load_report rep;
    FILE *devnull = fopen("/dev/null", "w");
    struct detect_engine *e = sensor_load_rules(&none, devnull ? devnull : stderr, &rep, why);
    if (devnull != NULL)
        fclose(devnull);
    detect_engine_free(e);
    config_dump(s->cfg, out);
    return 0;
}
