/* eve-types.h: builders of each EVE record type; one eve-<type>.c file implements each. */
#ifndef VIGIL_EVE_TYPES_H
#define VIGIL_EVE_TYPES_H

#include "vigil/decode.h"
#include "vigil/detect.h"
#include "vigil/eve.h"
#include "vigil/flow.h"

/*
 * The "flow" record of flow f, ended for reason at time when, written as text into buf (cap
 * bytes). Returns its length, which may be more than cap (then call again with that much room),
 * or 0 if it cannot be written. The record is written as text, not built: flows are most of the
 * records, and a jansson tree cost ~20,000 instructions a flow (docs/architecture.md).
 */
size_t eve_flow_text(const struct eve_ctx *ctx, const struct flow *f, enum flow_end_reason reason,
                     vg_time_t when, char *buf, size_t cap);

/* The members of that record, into t (eve_flow_text is begin, these, finish). */
void eve_flow_members(const struct eve_ctx *ctx, const struct flow *f, enum flow_end_reason reason,
                      vg_time_t when, struct eve_text *t);

/* The same record as a jansson object (parsed from eve_flow_text). A new object or NULL. */
json_t *eve_flow_record(const struct eve_ctx *ctx, const struct flow *f,
                        enum flow_end_reason reason, vg_time_t when);

/* The "anomaly" record of decoder event ev on packet p (f may be NULL). New object or NULL. */
json_t *eve_anomaly_record(const struct eve_ctx *ctx, const struct vg_packet *p,
                           const struct flow *f, unsigned ev);

/* The "alert" record of alert a on packet p of flow f (or NULL). New object or NULL. */
json_t *eve_alert_record(const struct eve_ctx *ctx, const struct vg_packet *p,
                         const struct flow *f, const struct detect_alert *a);

#endif
