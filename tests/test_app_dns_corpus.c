/* test_app_dns_corpus.c: DNS and SMTP parsers on the real captures of ../shared (skips if absent).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vigil/app-dns.h"
#include "vigil/app-smtp.h"
#include "vigil/decode.h"
#include "vigil/eve-dns.h"
#include "vigil/eve-smtp.h"

/* Returns $VIGIL_SHARED/corpus/sub, or skips the test if it is absent. */
static const char *corpus(const char *sub)
{
    static __thread char path[4096];
    const char *shared = getenv("VIGIL_SHARED");
    snprintf(path, sizeof(path), "%s/corpus/%s", shared ? shared : "../shared", sub);
    struct stat sb;
    if (stat(path, &sb) != 0)
        cr_skip_test("%s is absent: extended test skipped", path);
    return path;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* ---- a minimal in-order TCP follower: enough for clean captures ---- */

#define MAX_FLOWS 4096

struct tflow {
    int used;
    uint8_t ip_ver;
    struct vg_addr cli, srv;
    uint16_t cp, sp;
    uint32_t next[2];
    int have[2];
    struct dns_tcp_state dns;
    struct smtp_state *smtp;
};

struct follower {
    struct tflow *f;
    unsigned nf;
    uint16_t port; /* server port */
    /* called with in-order bytes (data NULL: a gap of len) */
    void (*on_data)(struct follower *fl, struct tflow *f, int dir, const uint8_t *d, uint32_t len);
    void *ctx;
};

static struct tflow *flow_get(struct follower *fl, const struct vg_packet *p, int *dir)
{
    int to_srv = p->dp == fl->port;
    const struct vg_addr *cli = to_srv ? &p->src : &p->dst, *srv = to_srv ? &p->dst : &p->src;
    uint16_t cp = to_srv ? p->sp : p->dp;
    *dir = to_srv ? 0 : 1;
    for (unsigned i = 0; i < fl->nf; i++) {
        struct tflow *f = &fl->f[i];
        if (f->ip_ver == p->ip_ver && f->cp == cp && memcmp(&f->cli, cli, sizeof(*cli)) == 0 &&
            memcmp(&f->srv, srv, sizeof(*srv)) == 0)
            return f;
    }
    if (fl->nf == MAX_FLOWS)
        return NULL;
    struct tflow *f = &fl->f[fl->nf++];
    memset(f, 0, sizeof(*f));
    f->used = 1;
    f->ip_ver = p->ip_ver;
    f->cli = *cli;
    f->srv = *srv;
    f->cp = cp;
    f->sp = fl->port;
    return f;
}

static void follow(struct follower *fl, const struct vg_packet *p)
{
    int dir;
    struct tflow *f = flow_get(fl, p, &dir);
    if (f == NULL)
        return;
    if (p->tcp_flags & VG_TH_SYN) {
        f->next[dir] = p->tcp_seq + 1;
        f->have[dir] = 1;
        return;
    }
    uint32_t len = p->payload_len, seq = p->tcp_seq;
    const uint8_t *d = vg_pkt_payload(p);
    if (len == 0)
        return;
    if (!f->have[dir]) {
        f->next[dir] = seq;
        f->have[dir] = 1;
    }
    int32_t diff = (int32_t)(seq - f->next[dir]);
    if (diff > 0) { /* a hole: report it as a gap */
        fl->on_data(fl, f, dir, NULL, (uint32_t)diff);
    } else if (diff < 0) { /* retransmission, maybe with new bytes at its end */
        if ((uint32_t)-diff >= len)
            return;
        d += -diff;
        len -= (uint32_t)-diff;
    }
    fl->on_data(fl, f, dir, d, len);
    f->next[dir] = seq + p->payload_len;
}

/* Calls fn for every decoded packet of the capture at path. Returns packets, or -1. */
static long each_packet(const char *path, void (*fn)(void *, const struct vg_packet *), void *ctx)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(path, err);
    if (pc == NULL)
        return -1;
    int dlt = pcap_datalink(pc);
    if (!decode_datalink_supported(dlt)) {
        pcap_close(pc);
        return 0;
    }
    struct vg_decode_stats st;
    memset(&st, 0, sizeof(st));
    struct pcap_pkthdr *h;
    const u_char *data;
    long n = 0;
    while (pcap_next_ex(pc, &h, &data) == 1) {
        struct vg_packet p;
        memset(&p, 0, sizeof(p));
        p.data = data;
        p.caplen = h->caplen;
        p.wirelen = h->len;
        p.datalink = (uint32_t)dlt;
        n++;
        if (decode_packet(&st, &p) == 0 && !(p.flags & VG_PKT_FRAGMENT) &&
            (p.flags & VG_PKT_HAS_PORTS))
            fn(ctx, &p);
    }
    pcap_close(pc);
    return n;
}

/* Collects capture files under dir, recursively. */
static void collect(const char *dir, char ***v, size_t *n)
{
    DIR *dp = opendir(dir);
    if (dp == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            collect(path, v, n);
        } else if (has_suffix(path, ".pcap") || has_suffix(path, ".pcapng") ||
                   has_suffix(path, ".cap")) {
            *v = realloc(*v, (*n + 1) * sizeof(**v));
            (*v)[(*n)++] = strdup(path);
        }
    }
    closedir(dp);
}

/* ---- DNS ---- */

static const char *cur_file; /* for VIGIL_CORPUS_VERBOSE reports */

struct dns_run {
    struct dns_message *m;
    struct dns_stats udp, tcp;
    struct dns_stats hostile; /* exploit captures (Malcolm's plugins/: ripple20, SIGred) */
    int in_hostile;
    uint64_t eve_objects, opcode_notify, rrtypes[5];
    struct follower fl;
};

static void dns_check(struct dns_run *r, const uint8_t *d, uint32_t len, struct dns_stats *st)
{
    int rc = dns_parse_message(d, len, r->m);
    dns_stats_update(st, r->m, rc);
    if (rc != 0) {
        if (getenv("VIGIL_CORPUS_VERBOSE"))
            fprintf(stderr, "%s: %s message of %u bytes: %s\n", cur_file,
                    st == &r->tcp ? "tcp" : "udp", len, dns_error_name(r->m->error));
        return;
    }
    if (r->m->opcode == 4)
        r->opcode_notify++;
    json_t *o = r->m->qr ? eve_dns_answer_object(r->m, 2) : eve_dns_query_object(r->m, 0, 0);
    if (o != NULL) {
        char *s = json_dumps(o, JSON_COMPACT);
        cr_assert_not_null(s, "EVE object does not serialise");
        free(s);
        r->eve_objects++;
        json_decref(o);
    }
    for (unsigned i = 0; i < r->m->nan; i++) {
        uint16_t t = r->m->an[i].type;
        r->rrtypes[t == DNS_TYPE_A       ? 0
                   : t == DNS_TYPE_AAAA  ? 1
                   : t == DNS_TYPE_CNAME ? 2
                   : t == DNS_TYPE_PTR   ? 3
                                         : 4]++;
    }
}

static void dns_tcp_msg(void *ctx, int dir, const uint8_t *msg, uint32_t len)
{
    struct dns_run *r = ctx;
    dns_check(r, msg, len, r->in_hostile ? &r->hostile : &r->tcp);
}

static void dns_tcp_data(struct follower *fl, struct tflow *f, int dir, const uint8_t *d,
                         uint32_t len)
{
    struct dns_run *r = fl->ctx;
    if (f->dns.stats == NULL)
        dns_tcp_init(&f->dns, &r->tcp);
    if (d == NULL)
        dns_tcp_gap(&f->dns, dir, len);
    else
        dns_tcp_feed(&f->dns, dir, d, len, dns_tcp_msg, r);
}

static void dns_packet(void *ctx, const struct vg_packet *p)
{
    struct dns_run *r = ctx;
    if (p->proto == 17 && (p->sp == 53 || p->dp == 53 || p->sp == 5353 || p->dp == 5353)) {
        dns_check(r, vg_pkt_payload(p), p->payload_len, r->in_hostile ? &r->hostile : &r->udp);
    } else if (p->proto == 6 && (p->sp == 53 || p->dp == 53)) {
        follow(&r->fl, p);
    }
}

static void dns_run_free(struct dns_run *r)
{
    for (unsigned i = 0; i < r->fl.nf; i++)
        dns_tcp_free(&r->fl.f[i].dns);
    r->fl.nf = 0;
}

static void report(const char *what, const struct dns_stats *st)
{
    fprintf(stderr, "%s: %llu messages (%llu queries, %llu responses), %llu parse errors", what,
            (unsigned long long)st->messages, (unsigned long long)st->queries,
            (unsigned long long)st->responses, (unsigned long long)st->parse_errors);
    for (int e = 1; e < DNS_ERR__COUNT; e++)
        if (st->errors[e])
            fprintf(stderr, " %s=%llu", dns_error_name(e), (unsigned long long)st->errors[e]);
    fprintf(stderr, ", %llu truncated, %llu bad rdata\n", (unsigned long long)st->truncated,
            (unsigned long long)st->bad_rdata);
}

Test(corpus, dns_real_traffic)
{
    const char *dirs[] = {"pcaps/chrissanders_packets", "pcaps/mmguero-dev_Malcolm-PCAP",
                          "pcaps/StopDDoS_packet-captures", "pcaps/sbousseaden_PCAP-ATTACK",
                          "suricata-verify/tests"};
    corpus("pcaps");
    struct dns_run *r = calloc(1, sizeof(*r));
    r->m = malloc(sizeof(*r->m));
    r->fl.f = calloc(MAX_FLOWS, sizeof(*r->fl.f));
    r->fl.port = 53;
    r->fl.on_data = dns_tcp_data;
    r->fl.ctx = r;
    size_t files = 0;
    for (size_t k = 0; k < sizeof(dirs) / sizeof(dirs[0]); k++) {
        char **v = NULL;
        size_t n = 0;
        collect(corpus(dirs[k]), &v, &n);
        for (size_t i = 0; i < n; i++) {
            cur_file = v[i];
            r->in_hostile = strstr(v[i], "/plugins/") != NULL;
            if (each_packet(v[i], dns_packet, r) >= 0)
                files++;
            dns_run_free(r);
            free(v[i]);
        }
        free(v);
    }
    fprintf(stderr,
            "dns corpus: %zu captures; answers A=%llu AAAA=%llu CNAME=%llu PTR=%llu "
            "other=%llu; %llu EVE objects\n",
            files, (unsigned long long)r->rrtypes[0], (unsigned long long)r->rrtypes[1],
            (unsigned long long)r->rrtypes[2], (unsigned long long)r->rrtypes[3],
            (unsigned long long)r->rrtypes[4], (unsigned long long)r->eve_objects);
    report("dns corpus udp", &r->udp);
    report("dns corpus tcp", &r->tcp);
    report("dns corpus exploit captures", &r->hostile);
    cr_assert_gt(r->udp.messages, 1000);
    cr_assert_gt(r->tcp.messages, 0);
    /* Real traffic parses: the few errors are empty UDP payloads on port 53 and malformed
     * messages in Malcolm's DNS.pcap (which collects oddities on purpose). */
    cr_assert_lt(r->udp.parse_errors * 100, r->udp.messages,
                 "more than 1%% of DNS messages failed");
    cr_assert_eq(r->tcp.parse_errors, 0);
    /* suricata-verify dns-opcode: one NOTIFY (opcode 4) query, which its rules alert on */
    cr_assert_geq(r->opcode_notify, 1);
    free(r->fl.f);
    free(r->m);
    free(r);
}

Test(corpus, dns_malformed_captures)
{
    const char *dir = corpus("pcaps/malformed");
    struct dns_run *r = calloc(1, sizeof(*r));
    r->m = malloc(sizeof(*r->m));
    r->fl.f = calloc(MAX_FLOWS, sizeof(*r->fl.f));
    r->fl.port = 53;
    r->fl.on_data = dns_tcp_data;
    r->fl.ctx = r;
    char **v = NULL;
    size_t n = 0;
    collect(dir, &v, &n);
    for (size_t i = 0; i < n; i++) {
        cur_file = v[i];
        each_packet(v[i], dns_packet, r);
        dns_run_free(r);
        free(v[i]);
    }
    free(v);
    report("dns malformed udp", &r->udp);
    report("dns malformed tcp", &r->tcp);
    cr_assert_gt(r->udp.messages, 0);
    free(r->fl.f);
    free(r->m);
    free(r);
}

/* ---- SMTP ---- */

struct smtp_run {
    struct follower fl;
    uint64_t sessions, txs, done, attachments, tls, events;
    json_t *first_smtp, *first_email;
};

static void smtp_data(struct follower *fl, struct tflow *f, int dir, const uint8_t *d, uint32_t len)
{
    struct smtp_run *r = fl->ctx;
    if (f->smtp == NULL) {
        f->smtp = smtp_state_new(NULL);
        r->sessions++;
    }
    if (d == NULL)
        smtp_gap(f->smtp, dir, len);
    else if (smtp_feed(f->smtp, dir, d, len) == SMTP_FEED_TLS)
        f->used = 2;
}

static void smtp_packet(void *ctx, const struct vg_packet *p)
{
    struct smtp_run *r = ctx;
    if (p->proto == 6 && (p->sp == 25 || p->dp == 25 || p->sp == 587 || p->dp == 587)) {
        r->fl.port = (p->sp == 587 || p->dp == 587) ? 587 : 25;
        follow(&r->fl, p);
    }
}

static void smtp_finish(struct smtp_run *r)
{
    for (unsigned i = 0; i < r->fl.nf; i++) {
        struct tflow *f = &r->fl.f[i];
        if (f->smtp == NULL)
            continue;
        smtp_eof(f->smtp, 0);
        smtp_eof(f->smtp, 1);
        if (f->used == 2)
            r->tls++;
        for (unsigned k = 0; k < smtp_tx_count(f->smtp); k++) {
            const struct smtp_tx *tx = smtp_tx_get(f->smtp, k);
            r->txs++;
            r->done += tx->status == SMTP_MAIL_DONE;
            r->attachments += tx->nattach;
            if (r->first_smtp == NULL && tx->status != SMTP_MAIL_NONE) {
                r->first_smtp = eve_smtp_object(tx);
                r->first_email = eve_email_object(tx, 0);
            }
        }
        for (int e = 0; e < SMTP_EV__COUNT; e++)
            r->events += smtp_state_stats(f->smtp)->events[e];
        smtp_state_free(f->smtp);
        f->smtp = NULL;
    }
    r->fl.nf = 0;
}

/* suricata-verify smtp-eve: the expected smtp/email fields of bug-3616-smtp/input.pcap. */
Test(corpus, smtp_matches_suricata_verify)
{
    const char *pcap = corpus("suricata-verify/tests/bug-3616-smtp/input.pcap");
    struct smtp_run *r = calloc(1, sizeof(*r));
    r->fl.f = calloc(MAX_FLOWS, sizeof(*r->fl.f));
    r->fl.on_data = smtp_data;
    r->fl.ctx = r;
    cr_assert_gt(each_packet(pcap, smtp_packet, r), 0);
    smtp_finish(r);
    cr_assert_eq(r->txs, 1);
    cr_assert_not_null(r->first_smtp);
    cr_assert_not_null(r->first_email);
    json_t *s = r->first_smtp, *e = r->first_email;
    cr_assert_str_eq(json_string_value(json_object_get(s, "helo")), "GP");
    cr_assert_str_eq(json_string_value(json_object_get(s, "mail_from")), "<gurpartap@patriots.in>");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(s, "rcpt_to"), 0)),
                     "<raj_deol2002in@yahoo.co.in>");
    cr_assert_str_eq(json_string_value(json_object_get(e, "status")), "PARSE_DONE");
    cr_assert_str_eq(json_string_value(json_object_get(e, "from")),
                     "\"Gurpartap Singh\" <gurpartap@patriots.in>");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(e, "to"), 0)),
                     "<raj_deol2002in@yahoo.co.in>");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(e, "attachment"), 0)),
                     "NEWS.txt");
    json_decref(s);
    json_decref(e);
    free(r->fl.f);
    free(r);
}

Test(corpus, smtp_real_traffic)
{
    const char *dirs[] = {"pcaps/chrissanders_packets", "pcaps/mmguero-dev_Malcolm-PCAP",
                          "suricata-verify/tests"};
    corpus("pcaps");
    struct smtp_run *r = calloc(1, sizeof(*r));
    r->fl.f = calloc(MAX_FLOWS, sizeof(*r->fl.f));
    r->fl.on_data = smtp_data;
    r->fl.ctx = r;
    for (size_t k = 0; k < sizeof(dirs) / sizeof(dirs[0]); k++) {
        char **v = NULL;
        size_t n = 0;
        collect(corpus(dirs[k]), &v, &n);
        for (size_t i = 0; i < n; i++) {
            each_packet(v[i], smtp_packet, r);
            smtp_finish(r);
            free(v[i]);
        }
        free(v);
    }
    fprintf(stderr,
            "smtp corpus: %llu sessions, %llu transactions (%llu PARSE_DONE), %llu attachments, "
            "%llu STARTTLS, %llu events\n",
            (unsigned long long)r->sessions, (unsigned long long)r->txs,
            (unsigned long long)r->done, (unsigned long long)r->attachments,
            (unsigned long long)r->tls, (unsigned long long)r->events);
    cr_assert_gt(r->sessions, 0);
    cr_assert_gt(r->done, 0);
    json_decref(r->first_smtp);
    json_decref(r->first_email);
    free(r->fl.f);
    free(r);
}
