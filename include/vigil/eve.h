/* eve.h: EVE JSON output: a shared sink, per-thread line buffers, and the common record fields. */
#ifndef VIGIL_EVE_H
#define VIGIL_EVE_H

#include <jansson.h>
#include <stdint.h>

#include "vigil/eve-redis.h"
#include "vigil/flow.h"
#include "vigil/packet.h"

/* Counters of one sink. */
struct eve_sink_stats {
    uint64_t records;      /* records written */
    uint64_t bytes;        /* bytes written */
    uint64_t write_errors; /* failed writes (disk full, I/O error) */
    uint64_t dropped;      /* records lost to failed writes or serialisation errors */
    int redis_enabled;     /* a Redis stream gets the records too (redis below is valid) */
    struct eve_redis_stats redis;
};

struct eve_sink;
struct eve_writer;

/* Opens (appending, creating it 0640) the EVE file path. NULL with errbuf set on failure. */
struct eve_sink *eve_sink_open(const char *path, char *errbuf);

/* Reopens the file by its path (after logrotate moved it). Returns 0, or -1 with errbuf set. */
int eve_sink_reopen(struct eve_sink *s, char *errbuf);

/* Closes the sink. Every writer on it must have been freed. */
void eve_sink_close(struct eve_sink *s);

/*
 * Makes r a second destination of s: every whole-line write also goes to r, in the order of
 * the file. s takes r over and stops it (draining to Redis or the spool) in eve_sink_close.
 */
void eve_sink_attach_redis(struct eve_sink *s, struct eve_redis *r);

/* Sets the "sensor" field every record written through s carries (NULL: none). 0, or -1 (OOM). */
int eve_sink_set_sensor_name(struct eve_sink *s, const char *name);

/* Copies the sink's counters into out. Safe from any thread. */
void eve_sink_get_stats(struct eve_sink *s, struct eve_sink_stats *out);

/*
 * Writes whole lines (len bytes holding nrec records) in one piece. On a failed or short write
 * the file is cut back to where it was, so it never holds half a record, and the records are
 * counted as dropped. Returns 0, or -1 on failure.
 */
int eve_sink_write(struct eve_sink *s, const char *buf, size_t len, uint64_t nrec);

/* Creates a thread's buffer into s. Returns NULL when out of memory. */
struct eve_writer *eve_writer_new(struct eve_sink *s);

/*
 * Serialises rec as one line into the buffer, flushing first if it is full; adds the sink's
 * "sensor" field to rec first. 0, or -1 dropped.
 */
int eve_writer_write(struct eve_writer *w, json_t *rec);

/* Writes out what the buffer holds. Returns 0, or -1 if the sink failed. */
int eve_writer_flush(struct eve_writer *w);

/* Flushes and frees w. */
void eve_writer_free(struct eve_writer *w);

/*
 * Writes rec (an object or array) as compact JSON into buf, exactly as json_dumpb(rec, buf, size,
 * JSON_COMPACT | JSON_REAL_PRECISION(precision)) would, and returns the length the text needs:
 * if that is more than size, buf holds only a start of it. 0 if rec cannot be written (a string
 * or object key that is not UTF-8, a cycle, or not an object or array). One difference: for a key
 * that is not UTF-8 json_dumpb writes broken JSON; this returns 0. Trees nested deeper than 2048
 * are handed to json_dumpb itself (keys and all). fuzz/fuzz_eve_json.c checks all of it. Never
 * writes a NUL.
 */
size_t eve_json_dumpb(const json_t *rec, char *buf, size_t size, int precision);

/*
 * A record written straight as compact JSON text into buf, for the records too frequent to build
 * as jansson trees (the flow record): the text is what eve_json_dumpb would print for the same
 * members in the same order. Members are added with a key (NULL inside an array), an ASCII
 * constant written as it is; strings must be UTF-8. len may pass cap: then only the start is written and eve_text_finish reports the size.
 */
struct eve_text {
    char *buf;
    size_t cap, len;
    unsigned depth;      /* open objects and arrays inside the record */
    uint32_t first, arr; /* bit d: nothing written yet at depth d; depth d is an array */
    int bad;             /* a string was not UTF-8, or the nesting went wrong */
};
/* Starts the record ('{'). */
void eve_text_begin(struct eve_text *t, char *buf, size_t cap);
/* Opens an object or array member; eve_text_end closes the innermost. */
void eve_text_object(struct eve_text *t, const char *key);
void eve_text_array(struct eve_text *t, const char *key);
void eve_text_end(struct eve_text *t);
void eve_text_string(struct eve_text *t, const char *key, const char *s, size_t n);
/* A string Vigil formatted itself (times, addresses, names from its own tables): printable
 * ASCII without '"' or '\\', copied without the escape scan (checked by assert in debug
 * builds). Never for bytes from traffic or the filesystem: those go to eve_text_string. */
void eve_text_plain(struct eve_text *t, const char *key, const char *s, size_t n);
void eve_text_int(struct eve_text *t, const char *key, json_int_t v);
void eve_text_bool(struct eve_text *t, const char *key, int v);
/* Writes s (n bytes of UTF-8) as a JSON string value, quoted and escaped, into buf. Returns the
 * length it needs (only cap bytes are written), or 0 when s is not UTF-8. */
size_t eve_json_string(const char *s, size_t n, char *buf, size_t cap);
/* A member whose value is already compact JSON text (n bytes), copied as it is. */
void eve_text_raw(struct eve_text *t, const char *key, const char *json, size_t n);
/* Closes the record. Returns its length (which may be more than cap), or 0 if it is bad. */
size_t eve_text_finish(struct eve_text *t);

/*
 * Appends a record written as text (eve_text_finish's len bytes of buf) as one line, with the
 * sink's "sensor" field added as eve_writer_write adds it. 0, or -1 dropped.
 */
int eve_writer_write_text(struct eve_writer *w, const char *text, size_t len);

/*
 * Makes jansson allocate its small blocks from a per-thread cache (eve-alloc.c). Call it first
 * in main, before any JSON value exists: a value allocated before cannot be freed after.
 */
void eve_alloc_install(void);

/* Frees what jansson returned to be freed (json_dumps): with eve_alloc_install, plain free()
 * must not be used on it. */
void eve_json_free(void *p);

/* What the records of a run share. */
struct enrich;

struct eve_ctx {
    const char *const *src_names; /* capture source of each vg_packet.src_idx */
    unsigned nsrc;
    const char *in_iface;        /* live interface, or NULL */
    const struct enrich *enrich; /* GeoIP/asset enrichment, or NULL */
    int community_id;            /* add community_id */
    uint16_t community_id_seed;
};

/* Formats an address as Suricata does (IPv6 in full, zero-padded groups). */
void eve_format_addr(int ip_ver, const struct vg_addr *a, char *out, size_t len);

/* Writes the protocol name Suricata uses ("TCP", "UDP", "ICMP", "IPv6-ICMP", or "047"). */
const char *eve_proto_name(uint8_t proto, char *buf, size_t len);

/*
 * Starts a record about packet p: timestamp, flow_id (if f), pcap_cnt, event_type, the
 * packet's tuple as it travelled, vlan, pkt_src, community_id and pcap_filename. Returns a new
 * object, or NULL when out of memory.
 */
json_t *eve_record_packet(const struct eve_ctx *ctx, const char *event_type,
                          const struct vg_packet *p, const struct flow *f);

/*
 * Starts a record about flow f at time ts: the flow's tuple oriented client to server, and
 * the same common fields as eve_record_packet. Returns a new object, or NULL.
 */
json_t *eve_record_flow(const struct eve_ctx *ctx, const char *event_type, vg_time_t ts,
                        const struct flow *f);

/* Writes into t the members eve_record_flow adds to its object, in the same order. */
void eve_text_flow_common(const struct eve_ctx *ctx, struct eve_text *t, const char *event_type,
                          vg_time_t ts, const struct flow *f);

/* Sets key to the EVE timestamp of t. For every eve_set_*, key is an ASCII constant: it is not
 * checked for UTF-8. */
void eve_set_time(json_t *obj, const char *key, vg_time_t t);

/*
 * Sets key to a string made from bytes taken from traffic. Printable ASCII and valid UTF-8
 * stay as they are; other bytes become \xNN, so the record is always valid JSON.
 */
void eve_set_bytes(json_t *obj, const char *key, const uint8_t *s, size_t len);

/* Sets key to an unsigned counter (JSON integer). */
void eve_set_uint(json_t *obj, const char *key, uint64_t v);

#endif
