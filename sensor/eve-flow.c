/* eve-flow.c: the EVE "flow" record written when a flow ends, written straight as text. */
#include <stdlib.h>
#include <string.h>

#include "vigil/eve-types.h"

/* A counter as eve_set_uint writes it. */
static json_int_t u64(uint64_t v)
{
    return (json_int_t)(v > INT64_MAX ? INT64_MAX : v);
}

static void text_time(struct eve_text *t, const char *key, vg_time_t when)
{
    char ts[48];
    vg_format_time(when, ts, sizeof(ts));
    eve_text_plain(t, key, ts, strlen(ts));
}

/* Two lowercase hex digits of a flags byte, as Suricata writes them. */
static void text_hex(struct eve_text *t, const char *key, uint8_t v)
{
    static const char hex[] = "0123456789abcdef";
    char s[2] = {hex[v >> 4], hex[v & 15]};
    eve_text_plain(t, key, s, 2);
}

static void add_tcp(struct eve_text *t, const struct flow *f)
{
    uint8_t all = f->tcp_flags[0] | f->tcp_flags[1];
    eve_text_object(t, "tcp");
    text_hex(t, "tcp_flags", all);
    text_hex(t, "tcp_flags_ts", f->tcp_flags[FLOW_DIR_TOSERVER]);
    text_hex(t, "tcp_flags_tc", f->tcp_flags[FLOW_DIR_TOCLIENT]);
    static const struct {
        uint8_t bit;
        const char *name;
    } names[] = {{VG_TH_SYN, "syn"}, {VG_TH_FIN, "fin"}, {VG_TH_RST, "rst"}, {VG_TH_PUSH, "psh"},
                 {VG_TH_ACK, "ack"}, {VG_TH_URG, "urg"}, {VG_TH_ECE, "ecn"}, {VG_TH_CWR, "cwr"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (all & names[i].bit)
            eve_text_bool(t, names[i].name, 1);
    const char *st = flow_tcp_state_name(f->tcp_state);
    eve_text_plain(t, "state", st, strlen(st));
    eve_text_end(t);
}

void eve_flow_members(const struct eve_ctx *ctx, const struct flow *f, enum flow_end_reason reason,
                      vg_time_t when, struct eve_text *t)
{
    eve_text_flow_common(ctx, t, "flow", when, f);
    if ((f->proto == 1 || f->proto == 58) && (f->pkts[0] || f->pkts[1])) {
        int d = f->pkts[FLOW_DIR_TOSERVER] ? FLOW_DIR_TOSERVER : FLOW_DIR_TOCLIENT;
        eve_text_int(t, "icmp_type", f->icmp_type[d]);
        eve_text_int(t, "icmp_code", f->icmp_code[d]);
        if (f->pkts[FLOW_DIR_TOSERVER] && f->pkts[FLOW_DIR_TOCLIENT]) {
            eve_text_int(t, "response_icmp_type", f->icmp_type[FLOW_DIR_TOCLIENT]);
            eve_text_int(t, "response_icmp_code", f->icmp_code[FLOW_DIR_TOCLIENT]);
        }
    }
    eve_text_object(t, "flow");
    eve_text_int(t, "pkts_toserver", u64(f->pkts[FLOW_DIR_TOSERVER]));
    eve_text_int(t, "pkts_toclient", u64(f->pkts[FLOW_DIR_TOCLIENT]));
    eve_text_int(t, "bytes_toserver", u64(f->bytes[FLOW_DIR_TOSERVER]));
    eve_text_int(t, "bytes_toclient", u64(f->bytes[FLOW_DIR_TOCLIENT]));
    text_time(t, "start", f->start);
    text_time(t, "end", f->last);
    eve_text_int(t, "age", u64((f->last - f->start) / VG_USEC_PER_SEC));
    const char *state = flow_state_name(f->state), *why = flow_end_reason_name(reason);
    eve_text_plain(t, "state", state, strlen(state));
    eve_text_plain(t, "reason", why, strlen(why));
    eve_text_bool(t, "alerted", (f->flags & FLOW_F_ALERTED) != 0);
    eve_text_end(t);
    if (f->proto == 6)
        add_tcp(t, f);
}

size_t eve_flow_text(const struct eve_ctx *ctx, const struct flow *f, enum flow_end_reason reason,
                     vg_time_t when, char *buf, size_t cap)
{
    struct eve_text t;
    eve_text_begin(&t, buf, cap);
    eve_flow_members(ctx, f, reason, when, &t);
    return eve_text_finish(&t);
}

json_t *eve_flow_record(const struct eve_ctx *ctx, const struct flow *f,
                        enum flow_end_reason reason, vg_time_t when)
{
    char stackbuf[4096];
    size_t n = eve_flow_text(ctx, f, reason, when, stackbuf, sizeof(stackbuf));
    if (n == 0)
        return NULL;
    char *text = stackbuf;
    if (n > sizeof(stackbuf)) {
        if ((text = malloc(n)) == NULL)
            return NULL;
        eve_flow_text(ctx, f, reason, when, text, n);
    }
    json_t *rec = json_loadb(text, n, 0, NULL);
    if (text != stackbuf)
        free(text);
    return rec;
}
