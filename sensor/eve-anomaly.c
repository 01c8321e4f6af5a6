/* eve-anomaly.c: the EVE "anomaly" record for decoder events on a packet. */
#include <stdio.h>

#include "vigil/eve-types.h"

json_t *eve_anomaly_record(const struct eve_ctx *ctx, const struct vg_packet *p,
                           const struct flow *f, unsigned ev)
{
    json_t *o = eve_record_packet(ctx, "anomaly", p, f);
    if (o == NULL)
        return NULL;
    json_t *a = json_object();
    json_object_set_new_nocheck(a, "type", json_string("decode"));
    char name[96];
    snprintf(name, sizeof(name), "decoder.%s", decode_event_name(ev));
    json_object_set_new_nocheck(a, "event", json_string(name));
    json_object_set_new_nocheck(o, "anomaly", a);
    return o;
}
