/* eve-flow.c: the EVE "flow" record written when a flow ends. */

#include "vigil/eve-types.h"

/* Two lowercase hex digits of a flags byte, as Suricata writes them. */
static json_t *hex_byte(uint8_t v)
{
    static const char hex[] = "0123456789abcdef";
    char t[2] = {hex[v >> 4], hex[v & 15]};
    return json_stringn_nocheck(t, 2);
}

static void add_tcp(json_t *o, const struct flow *f)
{
    uint8_t all = f->tcp_flags[0] | f->tcp_flags[1];
    json_t *t = json_object();
    json_object_set_new_nocheck(t, "tcp_flags", hex_byte(all));
    json_object_set_new_nocheck(t, "tcp_flags_ts", hex_byte(f->tcp_flags[FLOW_DIR_TOSERVER]));
    json_object_set_new_nocheck(t, "tcp_flags_tc", hex_byte(f->tcp_flags[FLOW_DIR_TOCLIENT]));
    static const struct {
        uint8_t bit;
        const char *name;
    } names[] = {{VG_TH_SYN, "syn"}, {VG_TH_FIN, "fin"}, {VG_TH_RST, "rst"}, {VG_TH_PUSH, "psh"},
                 {VG_TH_ACK, "ack"}, {VG_TH_URG, "urg"}, {VG_TH_ECE, "ecn"}, {VG_TH_CWR, "cwr"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (all & names[i].bit)
            json_object_set_new_nocheck(t, names[i].name, json_true());
    json_object_set_new_nocheck(t, "state", json_string(flow_tcp_state_name(f->tcp_state)));
    json_object_set_new_nocheck(o, "tcp", t);
}

json_t *eve_flow_record(const struct eve_ctx *ctx, const struct flow *f,
                        enum flow_end_reason reason, vg_time_t when)
{
    json_t *o = eve_record_flow(ctx, "flow", when, f);
    if (o == NULL)
        return NULL;
    if ((f->proto == 1 || f->proto == 58) && (f->pkts[0] || f->pkts[1])) {
        int d = f->pkts[FLOW_DIR_TOSERVER] ? FLOW_DIR_TOSERVER : FLOW_DIR_TOCLIENT;
        json_object_set_new_nocheck(o, "icmp_type", json_integer(f->icmp_type[d]));
        json_object_set_new_nocheck(o, "icmp_code", json_integer(f->icmp_code[d]));
        if (f->pkts[FLOW_DIR_TOSERVER] && f->pkts[FLOW_DIR_TOCLIENT]) {
            json_object_set_new_nocheck(o, "response_icmp_type",
                                        json_integer(f->icmp_type[FLOW_DIR_TOCLIENT]));
            json_object_set_new_nocheck(o, "response_icmp_code",
                                        json_integer(f->icmp_code[FLOW_DIR_TOCLIENT]));
        }
    }
    json_t *fl = json_object();
    eve_set_uint(fl, "pkts_toserver", f->pkts[FLOW_DIR_TOSERVER]);
    eve_set_uint(fl, "pkts_toclient", f->pkts[FLOW_DIR_TOCLIENT]);
    eve_set_uint(fl, "bytes_toserver", f->bytes[FLOW_DIR_TOSERVER]);
    eve_set_uint(fl, "bytes_toclient", f->bytes[FLOW_DIR_TOCLIENT]);
    eve_set_time(fl, "start", f->start);
    eve_set_time(fl, "end", f->last);
    eve_set_uint(fl, "age", (f->last - f->start) / VG_USEC_PER_SEC);
    json_object_set_new_nocheck(fl, "state", json_string(flow_state_name(f->state)));
    json_object_set_new_nocheck(fl, "reason", json_string(flow_end_reason_name(reason)));
    json_object_set_new_nocheck(fl, "alerted", json_boolean(f->flags & FLOW_F_ALERTED));
    json_object_set_new_nocheck(o, "flow", fl);
    if (f->proto == 6)
        add_tcp(o, f);
    return o;
}
