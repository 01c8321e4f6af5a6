/* eve-alert.c: the EVE "alert" record of a rule match, with Suricata's field names. */
#include "vigil/eve-types.h"

json_t *eve_alert_record(const struct eve_ctx *ctx, const struct vg_packet *p,
                         const struct flow *f, const struct detect_alert *a)
{
    json_t *o = eve_record_packet(ctx, "alert", p, f);
    if (o == NULL)
        return NULL;
    if (a->has_tx)
        eve_set_uint(o, "tx_id", a->tx_id);
    const struct detect_sig_info *s = a->sig;
    json_t *al = json_object();
    /* In IDS mode drop and reject rules alert; the traffic was allowed through. */
    json_object_set_new_nocheck(al, "action", json_string("allowed"));
    eve_set_uint(al, "gid", s->gid);
    eve_set_uint(al, "signature_id", s->sid);
    eve_set_uint(al, "rev", s->rev);
    json_object_set_new_nocheck(al, "signature", json_string(s->msg ? s->msg : ""));
    json_object_set_new_nocheck(al, "category", json_string(s->category ? s->category : ""));
    json_object_set_new_nocheck(al, "severity", json_integer(s->priority));
    json_t *meta = detect_sig_metadata_json(s);
    if (meta != NULL)
        json_object_set_new_nocheck(al, "metadata", meta);
    json_object_set_new_nocheck(o, "alert", al);
    if (f != NULL) {
        json_t *fl = json_object();
        eve_set_uint(fl, "pkts_toserver", f->pkts[FLOW_DIR_TOSERVER]);
        eve_set_uint(fl, "pkts_toclient", f->pkts[FLOW_DIR_TOCLIENT]);
        eve_set_uint(fl, "bytes_toserver", f->bytes[FLOW_DIR_TOSERVER]);
        eve_set_uint(fl, "bytes_toclient", f->bytes[FLOW_DIR_TOCLIENT]);
        eve_set_time(fl, "start", f->start);
        json_object_set_new_nocheck(o, "flow", fl);
    }
    return o;
}
