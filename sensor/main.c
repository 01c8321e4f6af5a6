/* main.c: the vigil-sensor command line: options as Suricata's, then one sensor run. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "vigil/capture.h"
#include "vigil/config.h"
#include "vigil/enrich.h"
#include "vigil/eve.h"
#include "vigil/privs.h"
#include "vigil/sensor.h"


static struct capture *g_capture;
static struct afp_group *g_afp;
/* Option lists, freed at exit whichever way main ends. */
static char **g_inputs;
static const char **g_rule_files, **g_sets, **g_yara, **g_geoip;
static struct enrich *g_enrich;

static void free_options(void)
{
    enrich_free(g_enrich);
    free(g_inputs);
    free(g_rule_files);
    free(g_yara);
    free(g_geoip);
    free(g_sets);
}

static void usage(FILE *out)
{
    fputs("Usage: vigil-sensor [OPTIONS] [BPF EXPRESSION]\n"
          "Network security sensor: reads pcap files or a live interface and writes EVE JSON.\n"
          "\n"
          "Input:\n"
          "  -r FILE|DIR         read a pcap or pcapng file, or every file of a directory in name\n"
          "                      order; repeat for several (\"-\" reads standard input)\n"
          "  -i IFACE            capture live from IFACE (libpcap)\n"
          "      --af-packet IFACE  capture live from IFACE with AF_PACKET TPACKET_V3 rings in\n"
          "                      workers mode: one socket per worker thread (--threads), joined\n"
          "                      in a fanout group (af-packet.* keys of the configuration)\n"
          "  -F FILE             read the BPF filter from FILE (or give it after the options)\n"
          "Output:\n"
          "  -l DIR              write eve.json into DIR (default: default-log-dir, or .)\n"
          "      --filestore DIR store each extracted file once, as DIR/xx/SHA256 (+ .json)\n"
          "      --eve-redis URL also XADD every EVE record to a Redis stream, spooling on disk\n"
          "                      while Redis is away: redis://host:port/db?stream=vigil:eve\n"
          "Rules and configuration:\n"
          "  -S FILE             load signatures from FILE; repeat for several\n"
          "  -c FILE             read the YAML configuration FILE\n"
          "      --geoip-db FILE  a MaxMind City, Country or ASN database for src_geo/dest_geo;\n"
          "                      repeat for several\n"
          "      --yara-rules PATH  scan extracted files with the YARA rules in PATH (a .yar file\n"
          "                      or a directory); repeat for several\n"
          "      --set KEY=VALUE override a configuration key (e.g. flow.memcap=64mb)\n"
          "      --dump-config   print the effective configuration and exit\n"
          "      --test-rules    load the rules, report what failed and why, and exit (1 if any\n"
          "                      rule failed)\n"
          "Running:\n"
          "      --threads N     worker threads (default: threads in the configuration, or 1)\n"
          "      --user USER     after opening the capture, run as USER with no capabilities\n"
          "      --group GROUP   ... and GROUP (default: USER's group)\n"
          "  -k none|all|auto    checksum checks, accepted for Suricata compatibility: Vigil never\n"
          "                      invalidates packets on checksums (Suricata's -k none)\n"
          "      --progress      show the replay progress line even when stderr is not a terminal\n"
          "      --no-progress   never show it\n"
          "  -h, --help          show this help\n"
          "  -V, --version       show the version\n"
          "\n"
          "Exit status: 0 on success (damaged capture files are reported and skipped), 1 when\n"
          "nothing could be read or the run failed.\n",
          out);
}

static void on_stop(int sig)
{
    (void)sig;
    sensor_request_stop();
    if (g_capture != NULL)
        capture_break(g_capture);
    if (g_afp != NULL)
        afp_break(g_afp);
}

static void on_hup(int sig)
{
    (void)sig;
    sensor_request_reopen();
}

static void on_usr2(int sig)
{
    (void)sig;
    sensor_request_reload();
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* Reopen and reload must not break a blocking read: restart it. Stop may interrupt. */
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* Reads a BPF filter file into a malloc'd string, '#' comments removed. NULL + errbuf on error. */
static char *read_bpf_file(const char *path, char *errbuf)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        vg_errbuf_set(errbuf, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1024, len = 0;
    char *out = malloc(cap);
    char line[4096];
    while (out != NULL && fgets(line, sizeof(line), f) != NULL) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        size_t n = strlen(line);
        if (len + n + 2 > cap) {
            cap = (len + n + 2) * 2;
            char *tmp = realloc(out, cap);
            if (tmp == NULL) {
                free(out);
                out = NULL;
                break;
            }
            out = tmp;
        }
        memcpy(out + len, line, n);
        len += n;
        out[len++] = ' ';
    }
    fclose(f);
    if (out == NULL) {
        vg_errbuf_set(errbuf, "%s: out of memory", path);
        return NULL;
    }
    out[len] = '\0';
    return out;
}

/* Joins argv[from..argc) with spaces into a malloc'd BPF expression. */
static char *join_args(int argc, char **argv, int from)
{
    size_t len = 1;
    for (int i = from; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len);
    if (s == NULL)
        return NULL;
    size_t o = 0;
    for (int i = from; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (i > from)
            s[o++] = ' ';
        memcpy(s + o, argv[i], n);
        o += n;
    }
    s[o] = '\0';
    return s;
}

static void die(const char *msg)
{
    fprintf(stderr, "vigil-sensor: %s\n", msg);
    exit(1);
}

int main(int argc, char **argv)
{
    enum { OPT_THREADS = 256, OPT_SET, OPT_USER, OPT_GROUP, OPT_DUMP, OPT_PROGRESS, OPT_NOPROG,
           OPT_TEST_RULES, OPT_YARA, OPT_FILESTORE, OPT_GEOIP, OPT_AFP, OPT_EVE_REDIS };
    static const struct option longopts[] = {
        {"threads", required_argument, NULL, OPT_THREADS},
        {"af-packet", required_argument, NULL, OPT_AFP},
        {"yara-rules", required_argument, NULL, OPT_YARA},
        {"geoip-db", required_argument, NULL, OPT_GEOIP},
        {"filestore", required_argument, NULL, OPT_FILESTORE},
        {"eve-redis", required_argument, NULL, OPT_EVE_REDIS},
        {"set", required_argument, NULL, OPT_SET},
        {"user", required_argument, NULL, OPT_USER},
        {"group", required_argument, NULL, OPT_GROUP},
        {"dump-config", no_argument, NULL, OPT_DUMP},
        {"test-rules", no_argument, NULL, OPT_TEST_RULES},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"no-progress", no_argument, NULL, OPT_NOPROG},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    eve_alloc_install(); /* before any JSON value exists */
    /* No option list can be longer than the arguments. */
    char **inputs = g_inputs = calloc((size_t)argc, sizeof(*inputs));
    const char **rule_files = g_rule_files = calloc((size_t)argc, sizeof(*rule_files));
    const char **sets = g_sets = calloc((size_t)argc, sizeof(*sets));
    const char **yara = g_yara = calloc((size_t)argc, sizeof(*yara));
    const char **geoip = g_geoip = calloc((size_t)argc, sizeof(*geoip));
    unsigned ninputs = 0, nrules = 0, nsets = 0, nyara = 0, ngeoip = 0;
    const char *filestore = NULL, *eve_redis = NULL;
    atexit(free_options);
    if (inputs == NULL || rule_files == NULL || sets == NULL || yara == NULL || geoip == NULL)
        die("out of memory");
    const char *iface = NULL, *afp_if = NULL, *outdir = NULL, *config_path = NULL, *bpf_file = NULL;
    const char *user = NULL, *group = NULL;
    long threads = -1;
    int dump = 0, progress = -2, test_rules = 0;
    char errbuf[VG_ERRBUF_SIZE];

    int opt;
    while ((opt = getopt_long(argc, argv, "+r:i:l:S:c:F:k:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'r':
            inputs[ninputs++] = optarg;
            break;
        case 'i':
            if (iface != NULL)
                die("only one -i interface is supported");
            iface = optarg;
            break;
        case 'l':
            outdir = optarg;
            break;
        case 'S':
            rule_files[nrules++] = optarg;
            break;
        case 'c':
            config_path = optarg;
            break;
        case 'F':
            bpf_file = optarg;
            break;
        case 'k':
            if (strcmp(optarg, "none") != 0 && strcmp(optarg, "all") != 0 &&
                strcmp(optarg, "auto") != 0)
                die("-k takes none, all or auto");
            break;
        case OPT_THREADS: {
            char *end;
            errno = 0;
            threads = strtol(optarg, &end, 10);
            if (errno || *end || threads < 1 || threads > SENSOR_MAX_WORKERS) {
                snprintf(errbuf, sizeof(errbuf), "--threads takes a number from 1 to %d",
                         SENSOR_MAX_WORKERS);
                die(errbuf);
            }
            break;
        }
        case OPT_SET:
            if (strchr(optarg, '=') == NULL)
                die("--set takes KEY=VALUE");
            sets[nsets++] = optarg;
            break;
        case OPT_AFP:
            if (afp_if != NULL)
                die("only one --af-packet interface is supported");
            afp_if = optarg;
            break;
        case OPT_YARA:
            yara[nyara++] = optarg;
            break;
        case OPT_GEOIP:
            geoip[ngeoip++] = optarg;
            break;
        case OPT_FILESTORE:
            filestore = optarg;
            break;
        case OPT_EVE_REDIS:
            eve_redis = optarg;
            break;
        case OPT_USER:
            user = optarg;
            break;
        case OPT_GROUP:
            group = optarg;
            break;
        case OPT_DUMP:
            dump = 1;
            break;
        case OPT_PROGRESS:
            progress = 1;
            break;
        case OPT_TEST_RULES:
            test_rules = 1;
            break;
        case OPT_NOPROG:
            progress = 0;
            break;
        case 'h':
        case 'V':
            if (opt == 'h')
                usage(stdout);
            else
                printf("vigil-sensor %s\n", VIGIL_VERSION);
            return 0;
        default:
            fputs("Try 'vigil-sensor --help'.\n", stderr);
            return 1;
        }
    }

    struct config *cfg = config_new();
    if (cfg == NULL)
        die("out of memory");
    if (config_path != NULL && config_load_file(cfg, config_path, errbuf) < 0)
        die(errbuf);
    for (unsigned i = 0; i < nsets; i++) {
        char key[512];
        const char *eq = strchr(sets[i], '=');
        snprintf(key, sizeof(key), "%.*s", (int)(eq - sets[i]), sets[i]);
        if (config_set(cfg, key, eq + 1, errbuf) < 0)
            die(errbuf);
    }
    if (threads > 0) {
        snprintf(errbuf, sizeof(errbuf), "%ld", threads);
        config_set(cfg, "threads", errbuf, NULL);
    }
    if (outdir != NULL)
        config_set(cfg, "default-log-dir", outdir, NULL);
    if (eve_redis != NULL) {
        config_set(cfg, "outputs.eve.redis.enabled", "yes", NULL);
        config_set(cfg, "outputs.eve.redis.server", eve_redis, NULL);
    }
    if (progress != -2)
        config_set(cfg, "progress", progress ? "yes" : "no", NULL);
    if (filestore != NULL) {
        config_set(cfg, "filestore.enabled", "yes", NULL);
        config_set(cfg, "filestore.dir", filestore, NULL);
    }

    struct sensor_settings set;
    if (sensor_settings_load(&set, cfg, rule_files, nrules, errbuf) < 0)
        die(errbuf);
    set.yara_rules = yara;
    set.nyara_rules = nyara;
    set.geoip_dbs = geoip;
    set.ngeoip_dbs = ngeoip;
    if (!dump && (g_enrich = sensor_enrich_new(&set, errbuf)) == NULL)
        die(errbuf);
    set.enrich = g_enrich;
    if (dump) {
        int drc = sensor_config_dump(&set, stdout, errbuf);
        sensor_settings_free(&set);
        config_free(cfg);
        if (drc < 0)
            die(errbuf);
        return 0;
    }

    /* The inputs are checked before the rules are loaded, which may take a while. */
    char *bpf = NULL;
    if (!test_rules) {
        if (bpf_file != NULL && optind < argc)
            die("give the BPF filter either with -F or after the options, not both");
        if (bpf_file != NULL && (bpf = read_bpf_file(bpf_file, errbuf)) == NULL)
            die(errbuf);
        if (optind < argc && (bpf = join_args(argc, argv, optind)) == NULL)
            die("out of memory");
        if ((ninputs > 0) + (iface != NULL) + (afp_if != NULL) > 1)
            die("use either -r or -i or --af-packet, not several");
        if (ninputs == 0 && iface == NULL && afp_if == NULL)
            die("nothing to read: give -r FILE|DIR, -i IFACE or --af-packet IFACE (see --help)");
    }
    struct capture *cap = NULL;
    if (ninputs > 0 && !test_rules) {
        cap = capture_open_offline(inputs, ninputs, bpf, errbuf);
        if (cap == NULL)
            die(errbuf);
        g_capture = cap;
    }
    /* Live interfaces are opened after the rules (their rings would fill while rules compile),
     * but a name that does not exist fails now. */
    const char *live_if = iface != NULL ? iface : afp_if;
    if (live_if != NULL && if_nametoindex(live_if) == 0) {
        snprintf(errbuf, sizeof(errbuf), "%s: no such interface", live_if);
        die(errbuf);
    }

    struct detect_load_report rep;
    struct detect_engine *engine = NULL;
    if (set.nrule_files > 0 || test_rules) {
        if (set.nrule_files == 0)
            die("--test-rules: no rule files (give -S FILE or rule-files in the configuration)");
        engine = sensor_load_rules(&set, stderr, &rep, errbuf);
        if (engine == NULL)
            die(errbuf);
    }
    if (test_rules) {
        int bad = rep.failed + rep.unsupported > 0;
        detect_engine_free(engine);
        sensor_settings_free(&set);
        config_free(cfg);
        return bad ? 1 : 0;
    }

    struct afp_group *afp = NULL;
    if (afp_if != NULL) {
        afp = afp_open(afp_if, set.nworkers, &set.afp, bpf, errbuf);
        g_afp = afp;
    } else if (iface != NULL) {
        cap = capture_open_live(iface, &set.live, bpf, errbuf);
        g_capture = cap;
    }
    free(bpf);
    if (cap == NULL && afp == NULL) {
        detect_engine_free(engine);
        die(errbuf);
    }

    if (user != NULL) {
        if (privs_drop(user, group, errbuf) < 0)
            die(errbuf);
    } else if (group != NULL) {
        die("--group needs --user");
    } else if ((iface != NULL || afp_if != NULL) && geteuid() == 0) {
        fputs("vigil-sensor: warning: running as root; use --user to drop privileges after "
              "opening the interface\n",
              stderr);
    }

    install_signals();
    struct sensor_result res;
    int rc;
    if (afp != NULL) {
        rc = sensor_run_workers(&set, afp, engine, &res, errbuf);
        g_afp = NULL;
        afp_close(afp);
    } else {
        rc = sensor_run(&set, cap, engine, &res, errbuf);
        g_capture = NULL;
        capture_close(cap);
    }
    if (rc < 0)
        die(errbuf);

    /* Nothing read and files failed: their error lines said why; the run failed. */
    if (!res.fatal && res.packets == 0 && res.source_errors > 0) {
        if (res.source_errors > 1)
            fprintf(stderr, "vigil-sensor: no packets could be read from %u capture files\n",
                    res.source_errors);
        sensor_settings_free(&set);
        config_free(cfg);
        return 1;
    }
    double secs = (double)res.elapsed / 1e6;
    if (secs <= 0)
        secs = 1e-6;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr,
            "vigil-sensor: %llu packets (%.1f MB) in %.2f s: %.0f pkt/s, %.1f Mbit/s, peak RSS "
            "%.1f MB, worker CPU %.3f s; %llu flows; %llu events written to %s/%s\n",
            (unsigned long long)res.packets, (double)res.bytes / 1e6, secs,
            (double)res.packets / secs, (double)res.bytes * 8 / secs / 1e6,
            (double)ru.ru_maxrss / 1024.0, (double)res.worker_cpu / 1e6,
            (unsigned long long)res.flows, (unsigned long long)res.events, set.outdir,
            set.eve_filename);
    if (set.nrule_files > 0)
        fprintf(stderr, "vigil-sensor: %llu alerts written to %s/%s\n",
                (unsigned long long)res.alerts, set.outdir, set.eve_filename);
    if (res.events_lost > 0) /* the stats saying so may have been lost with them */
        fprintf(stderr, "vigil-sensor: %llu records could not be written (eve.dropped)\n",
                (unsigned long long)res.events_lost);
    sensor_settings_free(&set);
    config_free(cfg);
    return res.fatal ? 1 : 0;
}
