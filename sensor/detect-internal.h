/* detect-internal.h: the signature engine's structures, shared by the detect-*.c files only. */
#ifndef VIGIL_DETECT_INTERNAL_H
#define VIGIL_DETECT_INTERNAL_H

#include <hs/hs.h>
#include <pthread.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "vigil/app-proto.h"
#include "vigil/detect.h"

/* ---- Buffers (detect-buffers.c) ---- */

struct detect_buffer_info {
    const char *name;     /* sticky buffer keyword ("http.uri") */
    const char *alias;    /* another sticky name ("http_uri" style), or NULL */
    const char *modifier; /* legacy content modifier ("http_uri"), or NULL */
    uint16_t app_proto;   /* protocol it belongs to; APP_UNKNOWN for the payload */
    uint8_t dirs;         /* bit 0: to server, bit 1: to client */
    uint8_t progress[2];  /* progress needed in each direction (enum detect_progress) */
    uint8_t multi;        /* several instances per transaction (tls.certs) */
};

const struct detect_buffer_info *detect_buffer_info(unsigned id);
/* Finds a sticky buffer (or legacy modifier, *is_modifier = 1) by keyword; -1 if none. */
int detect_buffer_lookup(const char *keyword, int *is_modifier);

/* ---- Numbers, sets and groups (detect-addr.c) ---- */

typedef unsigned __int128 u128;

/* Sorted, disjoint, inclusive address ranges of one family. */
struct range4 {
    uint32_t lo, hi;
};
struct range6 {
    u128 lo, hi;
};

struct addr_group {
    char *spec; /* as written, for interning */
    struct range4 *v4;
    unsigned n4;
    struct range6 *v6;
    unsigned n6;
    int any; /* every address of both families */
};

struct port_group {
    char *spec;
    uint8_t bits[65536 / 8];
    int any;
};

/* A string-keyed table of interned groups (open addressing on XXH3 of the spec). */
struct intern_map {
    uint64_t *hash;
    void **val;
    unsigned cap, n;
};

/* Variables and interned groups of one engine. */
struct detect_vars {
    const struct config *cfg;
    struct addr_group **addrs;
    unsigned naddrs;
    struct port_group **ports;
    unsigned nports;
    struct intern_map addr_map, port_map;
};

/* Parses an address spec ("any", "[10.0.0.0/8,!10.1.0.0/16]", "$HOME_NET"), interned. */
struct addr_group *detect_addr_parse(struct detect_vars *v, const char *spec, char *errbuf);
struct port_group *detect_port_parse(struct detect_vars *v, const char *spec, char *errbuf);
int detect_addr_match(const struct addr_group *g, int ip_ver, const struct vg_addr *a);
static inline int detect_port_match(const struct port_group *g, uint16_t port)
{
    return g->any || (g->bits[port >> 3] >> (port & 7)) & 1;
}
void detect_vars_free(struct detect_vars *v);

/* ---- Match items (detect-parse.c builds them, detect-match.c runs them) ---- */

enum sm_type {
    SM_CONTENT,
    SM_PCRE,
    SM_BYTE_TEST,
    SM_BYTE_JUMP,
    SM_BYTE_EXTRACT,
    SM_ISDATAAT,
    SM_BSIZE,
    SM_BASE64_DECODE,
};

enum sm_flags {
    SM_F_NEGATED = 1u << 0,
    SM_F_RELATIVE = 1u << 1,
    SM_F_NOCASE = 1u << 2,
    SM_F_STARTSWITH = 1u << 3,
    SM_F_ENDSWITH = 1u << 4,
    SM_F_FAST_PATTERN = 1u << 5,
    SM_F_FP_ONLY = 1u << 6,
    SM_F_HAS_OFFSET = 1u << 7,
    SM_F_HAS_DEPTH = 1u << 8,
    SM_F_HAS_DISTANCE = 1u << 9,
    SM_F_HAS_WITHIN = 1u << 10,
    SM_F_FP_CHOP = 1u << 11,
};

#define DETECT_MAX_VARS 16

/* A number in a rule: a literal, or a byte_extract variable. */
struct sm_num {
    int64_t value;
    int8_t var; /* -1 for a literal */
};

struct sm_content {
    uint8_t *pat;
    uint32_t len;
    struct sm_num offset, depth, distance, within;
    uint16_t fp_off, fp_len; /* fast_pattern:offset,length */
};

struct sm_pcre {
    char *text;     /* the pattern as written, for messages */
    pcre2_code *re; /* PCRE2 (JIT) always works */
    uint32_t opts;  /* PCRE2 compile options, for deciding whether Hyperscan can run it */
    int8_t hs_ok;   /* -1 not checked yet, 0 Hyperscan cannot run it exactly, 1 it can */
    char *hs_expr;  /* set when hs_ok is 1 */
    uint32_t hs_flags;
    int32_t hs_id; /* its id in the buffer's Hyperscan pcre database, -1 if not there */
};

enum byte_flags {
    BF_LITTLE = 1u << 0,
    BF_STRING = 1u << 1,
    BF_HEX = 1u << 2,
    BF_OCT = 1u << 3,
    BF_DEC = 1u << 4,
    BF_ALIGN = 1u << 5,
    BF_FROM_BEGINNING = 1u << 6,
    BF_FROM_END = 1u << 7,
    BF_NEGATE_OP = 1u << 8,
    BF_DCE = 1u << 9,
};

enum byte_op { BOP_LT, BOP_GT, BOP_EQ, BOP_LE, BOP_GE, BOP_AND, BOP_XOR };

struct sm_byte {
    uint8_t nbytes;
    uint8_t op;
    uint32_t flags;
    struct sm_num value, offset;
    int64_t multiplier;
    int64_t post_offset;
    uint64_t bitmask;
    int8_t var_out; /* byte_extract: the variable it sets */
};

enum range_op { RANGE_EQ, RANGE_LT, RANGE_GT, RANGE_LE, RANGE_GE, RANGE_BETWEEN, RANGE_NE };

struct sm_range {
    uint8_t op;
    uint64_t a, b;
};

struct sm {
    uint8_t type;
    uint16_t flags;
    union {
        struct sm_content c;
        struct sm_pcre p;
        struct sm_byte b;
        struct sm_num at;  /* isdataat */
        struct sm_range r; /* bsize */
    };
};

enum buf_transform {
    XF_DOTPREFIX = 1u << 0,
    XF_TOLOWER = 1u << 1,
    XF_STRIP_WS = 1u << 2,
    XF_COMPRESS_WS = 1u << 3,
    XF_URL_DECODE = 1u << 4,
};

/* The items of one rule that inspect one buffer, in rule order. */
struct sig_buf {
    uint16_t id;
    uint16_t transforms;
    uint16_t n;
    struct sm *items;
};

/* ---- Packet and flow keywords (detect-kw-packet.c, detect-kw-flow.c) ---- */

enum pkt_check_type {
    PC_IP_PROTO,
    PC_TTL,
    PC_FLAGS,
    PC_ITYPE,
    PC_ICODE,
    PC_DSIZE,
    PC_ICMP_ID,
    PC_ICMP_SEQ,
    PC_SEQ,
    PC_ACK,
    PC_WINDOW,
    PC_IPID,
    PC_SAMEIP,
    PC_TOS,
    PC_FRAGBITS,
    PC_IPOPTS,
    PC_APP_PROTO,
    PC_STREAM_SIZE,
    PC_URILEN, /* checked with the transaction, but parsed here */
};

struct pkt_check {
    uint8_t type;
    uint8_t negate;
    struct sm_range r;
    uint8_t mask, match, mode; /* flags/fragbits: bits required, mask, mode (+ * !) */
    uint8_t which;             /* stream_size: server/client/both/either; urilen: raw */
};

enum flow_kw {
    FK_ESTABLISHED = 1u << 0,
    FK_NOT_ESTABLISHED = 1u << 1,
    FK_TOSERVER = 1u << 2,
    FK_TOCLIENT = 1u << 3,
    FK_STATELESS = 1u << 4,
    FK_ONLY_STREAM = 1u << 5,
    FK_NO_STREAM = 1u << 6,
    FK_ONLY_FRAG = 1u << 7,
    FK_NO_FRAG = 1u << 8,
};

enum bit_cmd { BIT_SET, BIT_UNSET, BIT_TOGGLE, BIT_ISSET, BIT_ISNOTSET };
enum bit_track { TRACK_FLOW, TRACK_IP_SRC, TRACK_IP_DST, TRACK_IP_PAIR };

#define BIT_GROUP_MAX 8

/* A flowbits or xbits operation; ISSET over a group means any of them (a|b) or all (a&b). */
struct bit_op {
    uint8_t cmd;
    uint8_t track;
    uint8_t any; /* '|' group */
    uint8_t n;
    uint32_t bits[BIT_GROUP_MAX];
    uint32_t expire; /* xbits, seconds */
};

enum int_cmd { INT_SET, INT_ADD, INT_SUB, INT_ISSET, INT_NOTSET, INT_CMP };

struct int_op {
    uint8_t cmd;
    uint8_t op; /* enum range_op for INT_CMP */
    uint32_t var;
    int64_t value;
    int32_t value_var; /* compare with another flowint, or -1 */
};

enum thr_type { THR_LIMIT, THR_THRESHOLD, THR_BOTH, THR_DETECTION_FILTER };
enum thr_track { THR_BY_SRC, THR_BY_DST, THR_BY_RULE, THR_BY_BOTH };

struct thr_spec {
    uint8_t type, track;
    uint32_t count, seconds;
};

/* A suppress entry of threshold.config: no alert at all (addrs NULL), or not for these addresses.
 */
enum sup_track { SUP_BY_SRC, SUP_BY_DST, SUP_BY_EITHER };
struct sig_suppress {
    uint8_t track;
    struct addr_group *addrs; /* interned by the engine's variables; not freed here */
    struct sig_suppress *next;
};

/* ---- geoip (detect-kw-geoip.c) ---- */

enum geo_which { GEO_SRC = 1, GEO_DST = 2, GEO_ANY = 3, GEO_BOTH = 4 };

/* geoip:[src|dst|both|any,]CC[,CC...]; one '!' negates the whole list, as in Suricata. */
struct geo_check {
    uint8_t which; /* enum geo_which */
    uint8_t negated;
    uint16_t n;
    uint16_t *codes; /* two-letter country codes, packed as (c0 << 8) | c1 */
};

struct sig;
/* 1 if every geoip check of s holds for packet p (IPv4 only, as in Suricata). */
int detect_geoip_ok(struct detect_thread *t, const struct sig *s, const struct vg_packet *p);

/* ---- File rules (detect-kw-file.c parses, detect-file.c evaluates) ---- */

/* 1 if file rule s reads file.magic (filemagic), else 0. */
int detect_sig_uses_magic(const struct sig *s);

/* A hash-list file of filemd5/filesha1/filesha256, loaded once per engine and shared. */
struct hash_list {
    char *path;   /* as opened */
    uint8_t hlen; /* 16, 20 or 32 bytes */
    uint8_t *v;   /* n sorted, distinct hashes of hlen bytes */
    size_t n;
};

enum file_store_scope { FSCOPE_FILE, FSCOPE_TX, FSCOPE_FLOW };

/* What a file rule checks beyond its file.name/file.magic buffers. */
struct sig_file {
    struct sm_range *size; /* filesize checks, all must hold */
    uint8_t nsize;
    struct {
        const struct hash_list *list;
        uint8_t negated;
    } * hash;
    uint8_t nhash;
    uint8_t store;       /* the rule has filestore */
    uint8_t store_dirs;  /* filestore direction: bit 0 to server, bit 1 to client; 0 the rule's */
    uint8_t store_scope; /* enum file_store_scope */
    uint8_t at_close;    /* derived: needs the closed file (magic, size, hashes, file.data) */
};

/* ---- Signatures ---- */

enum sig_action { ACT_ALERT, ACT_DROP, ACT_REJECT, ACT_PASS };
enum sig_proto { SP_IP, SP_TCP, SP_UDP, SP_ICMP, SP_ICMPV4, SP_ICMPV6, SP_SCTP };

struct sig {
    struct detect_sig_info info;
    uint8_t action;
    uint8_t proto;
    uint16_t app_proto;
    uint8_t pkt_only, stream_only; /* tcp-pkt, tcp-stream */
    uint8_t bidir;
    struct addr_group *src, *dst;
    struct port_group *sp, *dp;
    uint16_t flow;
    struct pkt_check *pc;
    uint8_t npc;
    struct sig_buf *bufs;
    uint8_t nbufs;
    struct bit_op *fb;
    uint8_t nfb;
    struct bit_op *xb;
    uint8_t nxb;
    struct int_op *fi;
    uint8_t nfi;
    uint8_t noalert;
    uint8_t nvars; /* byte_extract variables */
    struct thr_spec *thr;
    struct thr_spec *dfilter;
    struct sig_suppress *suppress; /* from threshold.config */
    struct geo_check *geo;         /* geoip keywords, all must hold */
    uint8_t ngeo;
    struct sig_file *fl; /* file keywords; set for file rules only */

    /* Derived at load. */
    uint32_t idx;          /* evaluation order */
    int16_t fp_buf;        /* buffer holding the fast pattern, -1: none */
    int16_t fp_item;       /* its item index, or -1 for a regex prefilter */
    uint8_t is_tx;         /* inspects application buffers: evaluated per transaction */
    uint8_t has_payload;   /* inspects DB_PAYLOAD */
    uint8_t has_dsize;     /* has dsize: looks at packets, never at stream data */
    uint8_t dirs;          /* packet directions it can match: bit 0 to server, 1 to client */
    uint8_t uses_flowbits; /* reads flowbits: ordered after the rules that set them */
    uint8_t is_file;       /* a file rule: evaluated by detect_file on each file, never per
                            * packet or transaction (file keywords or filestore) */
    char *file;
    int line;
};

/* ---- Prefilter (detect-prefilter.c) ---- */

/* The protocol classes packets and rules are grouped by (PCLASS__COUNT: any). */
enum proto_class { PCLASS_TCP, PCLASS_UDP, PCLASS_ICMP, PCLASS_OTHER, PCLASS__COUNT };

/* What selects rules for one buffer in one direction. */
struct prefilter_dir {
    hs_database_t *lit; /* fast-pattern literals */
    hs_database_t *re;  /* regexes of rules without a literal (HS_FLAG_PREFILTER) */
    uint32_t *start;    /* pattern id -> sigs[start[id] .. start[id+1]) */
    uint32_t *sigs;
    unsigned npat; /* literal ids first, then regex ids */
    unsigned nlit;
    uint32_t max_lit; /* the longest literal, in bytes */
    /* Rules on this buffer that no pattern selects, grouped by the protocol class they can
     * match: class c is always[astart[c] .. astart[c + 1]); class PCLASS__COUNT is all of them. */
    uint32_t *always;
    unsigned nalways; /* distinct rules */
    unsigned astart[PCLASS__COUNT + 2];
};

/* A buffer's prefilters by direction, to server (d[0]) and to client (d[1]), and by group: a rule
 * is in the ones of the directions it reads the buffer in. The payload has a group per protocol
 * class, so that a UDP packet does not scan the patterns of TCP rules (a rule of several classes
 * is in each); every other buffer has one group, d[dir][0]. */
#define PF_GROUPS PCLASS__COUNT
struct prefilter {
    struct prefilter_dir d[2][PF_GROUPS];
    hs_database_t *pcre; /* pcre items that only need to know whether they match */
    unsigned npcre;
};

/* ---- Header-only rules by protocol and address (detect-index.c) ---- */

/* Sorted disjoint segments [starts[i], starts[i+1]) and the rules of each (CSR arrays). */
struct seg_index4 {
    uint32_t *starts;
    uint32_t *off;
    uint32_t *rules;
    unsigned nseg;
};
struct seg_index6 {
    u128 *starts;
    uint32_t *off;
    uint32_t *rules;
    unsigned nseg;
};

/* Rules by port: port p holds rules[off[p] .. off[p + 1]); off is NULL when there are none. */
struct port_index {
    uint32_t *off;
    uint32_t *rules;
};

struct rule_index {
    uint32_t *broad; /* rules checked on every packet of the class */
    unsigned nbroad;
    struct port_index sp, dp;     /* rules indexed by a narrow source or destination port set */
    struct seg_index4 src4, dst4; /* rules indexed by a narrow source or destination set */
    struct seg_index6 src6, dst6;
};

/* ---- The engine ---- */

struct detect_class {
    char *name, *desc;
    int priority;
};

struct bit_registry { /* flowbit/xbit/flowint names -> indices */
    char **names;
    unsigned n;
};

struct thr_table; /* detect-threshold.c */

struct detect_engine {
    struct sig **sigs;
    unsigned nsigs;
    struct prefilter pf[DB__COUNT];
    uint32_t *pkt_rules; /* rules with no payload or buffer items (header and packet keywords) */
    unsigned npkt_rules;
    struct rule_index hdr_index[PCLASS__COUNT]; /* pkt_rules by protocol class and address */
    struct detect_vars vars;
    struct detect_class *classes;
    unsigned nclasses;
    struct bit_registry flowbits, xbits, flowints;
    struct thr_table *thr;
    pthread_mutex_t xbits_lock;
    void *xbits_table;
    hs_scratch_t *scratch; /* prototype for threads */
    uint32_t max_pattern_len;
    uint32_t stream_lookback;
    uint32_t pcre_match_limit, pcre_depth_limit;
    uint32_t inspection_budget;
    int profiling;
    int pcre_hyperscan; /* run exact pcre matches through per-buffer Hyperscan databases */
    /* geoip and file rules (detect-kw-geoip.c, detect-kw-file.c, detect-file.c). */
    const struct enrich *enrich; /* NULL, or without a country database: geoip unsupported */
    unsigned ngeo_rules;
    uint32_t *file_rules; /* file rules, in evaluation order */
    unsigned nfile_rules;
    int file_magic; /* some file rule reads file.magic (filemagic) */
    struct hash_list **hashlists;
    unsigned nhashlists;
    FILE *load_errors;       /* where loading reports bad hash-list lines (file:line) */
    unsigned load_bad_lines; /* bad hash-list lines, counted as failed in the report */
};

/* Per-thread state (detect-engine.c). */
struct detect_thread {
    struct detect_engine *e;
    hs_scratch_t *scratch;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
    uint32_t *mark; /* per-sig stamp: candidate already collected in this inspection */
    uint32_t stamp;
    uint32_t *cand;
    unsigned ncand;
    uint32_t *cand_tmp; /* room for sorting cand */
    /* The prefilter candidates of the stream data that was exactly packet pkt's payload
     * (detect-stream.c), so detect_packet need not scan the same bytes again. */
    const struct vg_packet *pkt;
    uint64_t pkt_cnt;
    uint32_t *pkt_cand;
    unsigned npkt_cand;
    uint32_t *txmark; /* per-sig stamp: done or pending on the transaction inspected */
    uint32_t txstamp;
    uint32_t *alerted; /* per-sig stamp: alerted on the current packet */
    uint32_t pkt_stamp;
    uint64_t stamp_cnt; /* pcap_cnt of the packet pkt_stamp belongs to */
    uint8_t *xfbuf;     /* transformed buffer */
    size_t xfcap;
    uint8_t *b64buf;
    /* Which Hyperscan pcre ids matched the buffer inspected last (scanned on first need). */
    uint32_t gen;
    uint32_t pcre_gen;
    const uint8_t *pcre_data;
    uint32_t pcre_len;
    int pcre_buf;
    uint8_t *pcre_hit;
    unsigned pcre_cap;
    struct detect_stats st;
    struct detect_rule_stats *rs;
    struct enrich_cache *geo_cache; /* this thread's GeoIP look-ups (geoip rules only) */
    struct vfile *cur_file;         /* the file detect_file is inspecting, for its alerts */
};

/* ---- Functions shared between the files ---- */

/* detect-parse.c: parses one rule. Returns the sig, or NULL with a reason in errbuf; *unsupported
 * gets the keyword when the failure is an unsupported keyword. */
struct sig *detect_parse_rule(struct detect_engine *e, const char *text, const char *file, int line,
                              char *errbuf, char *unsupported, size_t unsupported_len);
void detect_sig_free(struct sig *s);

/* detect-config.c: classification.config; variables' defaults. */
int detect_load_classification(struct detect_engine *e, const char *path, char *errbuf);
const struct detect_class *detect_class_lookup(const struct detect_engine *e, const char *name);
unsigned detect_bit_intern(struct bit_registry *r, const char *name);
void detect_registry_free(struct bit_registry *r);

/* detect-match.c: runs the items of b over buf. min_end > 0 requires some positive match to end
 * beyond it (stream inspection). Returns 1 on a match. */
struct inspect_ctx {
    struct detect_thread *t;
    const struct sig *sig;
    int buf_id; /* the buffer inspected (for the Hyperscan pcre database) */
    const uint8_t *buf;
    uint32_t len;
    uint64_t base;    /* absolute offset of buf[0] (stream inspection), else 0 */
    uint32_t min_end; /* 0, or the match must reach past this index */
    int64_t vars[DETECT_MAX_VARS];
    uint32_t budget;
    int limit_hit;
};
int detect_inspect_buffer(struct inspect_ctx *c, const struct sig_buf *b);

/* detect-pcre.c */
int detect_pcre_compile(struct sm_pcre *p, const char *body, uint32_t pcre_opts, char *errbuf);
/* Checks (once, with hs_expression_info) whether Hyperscan can run p exactly. 1 yes, 0 no. */
int detect_pcre_hs_supported(struct sm_pcre *p);
/* Matches at or after start; stores the match span. 1 match, 0 none, -1 limit hit. */
int detect_pcre_exec(struct detect_thread *t, const struct sm_pcre *p, const uint8_t *buf,
                     uint32_t len, uint32_t start, uint32_t *mstart, uint32_t *mend);
void detect_pcre_free(struct sm_pcre *p);

/* detect-prefilter.c */
int detect_prefilter_build(struct detect_engine *e, const char *cache_dir,
                           struct detect_load_report *rep, char *errbuf);
void detect_prefilter_free(struct detect_engine *e);
/* Collects the candidate rules for buffer id in direction dir (FLOW_DIR_*; a packet without a
 * flow counts as to server) over buf into t->cand (deduplicated, sorted); of the always-checked
 * rules only those of protocol class pclass (PCLASS__COUNT: all). */
void detect_prefilter_scan(struct detect_thread *t, unsigned id, int dir, unsigned pclass,
                           const uint8_t *buf, uint32_t len);
/* 1 if no rule is selected through buffer id in either direction. */
int detect_prefilter_empty(const struct detect_engine *e, unsigned id);
/* The steps of detect_prefilter_scan, for callers that collect from several sources: begin
 * empties t->cand; the others add (deduplicated) the rules always checked on buffer id, those
 * whose literal or regex prefilter occurs in buf, or one rule; end sorts t->cand. */
void detect_prefilter_begin(struct detect_thread *t);
void detect_prefilter_always(struct detect_thread *t, unsigned id, int dir, unsigned pclass);
/* The protocol classes (bit per enum proto_class) rule s can match; a packet's class. */
unsigned detect_sig_pclasses(const struct sig *s);
unsigned detect_packet_pclass(const struct vg_packet *p);
void detect_prefilter_literals(struct detect_thread *t, unsigned id, int dir, unsigned pclass,
                               const uint8_t *buf, uint32_t len);
void detect_prefilter_regexes(struct detect_thread *t, unsigned id, int dir, unsigned pclass,
                              const uint8_t *buf, uint32_t len);
/* The prefilter of buffer id for direction dir (FLOW_DIR_*) and a packet of class pclass. */
const struct prefilter_dir *detect_prefilter_dir(const struct detect_engine *e, unsigned id,
                                                 int dir, unsigned pclass);
void detect_prefilter_add(struct detect_thread *t, uint32_t sig);
void detect_prefilter_end(struct detect_thread *t);
/* Sorts v[0..n), values below limit, ascending; tmp has room for n. */
void detect_sort_u32(uint32_t *v, unsigned n, uint32_t *tmp, uint32_t limit);
/* A fresh stamp for t->txmark (cleared when the stamps wrap). */
uint32_t detect_txmark_begin(struct detect_thread *t);

/* detect-threshold.c */
struct thr_table *detect_thr_new(void);
void detect_thr_free(struct thr_table *t);
/* Returns 1 if the match of s on p should alert under its threshold / detection_filter. */
int detect_thr_check(struct thr_table *tt, const struct sig *s, const struct vg_packet *p);

/* detect-index.c: builds the header index of e->pkt_rules; collects the ones packet p can match
 * into t->cand, in rule order. */
int detect_index_build(struct detect_engine *e);
void detect_index_free(struct detect_engine *e);
void detect_index_collect(struct detect_thread *t, const struct vg_packet *p);

/* Stream candidates carried between the inspections of one flow direction (detect-stream.c):
 * rules whose literal occurred in stream bytes ending at most at stream offset until. */
struct stream_carry {
    const struct detect_engine *e; /* the engine whose rule indices these are */
    struct carry_ent {
        uint32_t sig;
        uint64_t until;
    } * v;
    unsigned n, cap;
    uint8_t full; /* the list is incomplete: scan the whole window next time */
};

/* What detection keeps on a flow (f->detect). */
struct detect_flow {
    uint64_t *bits;
    unsigned nbits; /* capacity in bits */
    int64_t *ints;
    uint8_t *int_set;
    unsigned nints;
    struct stream_carry carry[2]; /* per direction */
};

/* detect-bits.c: f's detection state, made or grown to hold nbits flowbits and nints
 * flowints; NULL when out of memory. */
struct detect_flow *detect_flow_get(struct flow *f, unsigned nbits, unsigned nints);

/* detect-bits.c: flowbits, xbits and flowints of a flow. */
int detect_bits_check(struct detect_engine *e, const struct sig *s, struct flow *f,
                      const struct vg_packet *p);
void detect_bits_apply(struct detect_engine *e, const struct sig *s, struct flow *f,
                       const struct vg_packet *p);
void detect_xbits_free(struct detect_engine *e);

/* detect-buffers.c: the literal the prefilter looks for in the raw (untransformed) buffer so
 * that content m of sb is selected: its fast_pattern part, less a leading '.' that dotprefix
 * may have added. Sets *pat and *len (either may be NULL); returns 1 if the literal is
 * caseless, 0 if not, -1 if sb's transforms leave no literal that must occur in the raw
 * buffer (strip_whitespace, url_decode...). */
int detect_fp_literal(const struct sig_buf *sb, const struct sm *m, const uint8_t **pat,
                      uint32_t *len);

/* detect-buffers.c: transforms a buffer into t->xfbuf; returns the new length. */
uint32_t detect_transform(struct detect_thread *t, uint16_t xf, const uint8_t *in, uint32_t len,
                          const uint8_t **out);

/*
 * Applies Suricata's threshold.config at path to the loaded rules: threshold and event_filter
 * entries replace a rule's own threshold, suppress entries silence it (for some addresses).
 * Bad lines are reported on errors as "file:line: reason". Returns the number of bad lines, or
 * -1 with errbuf set if the file cannot be read.
 */
int detect_threshold_file_apply(struct detect_engine *e, const char *path, FILE *errors,
                                char *errbuf);

/* detect-kw-geoip.c, detect-kw-file.c: what their keywords own. */
void detect_geo_free(struct sig *s);
void detect_sig_file_free(struct sig_file *fl);
void detect_hashlists_free(struct detect_engine *e);
/* 1 if s is a file rule (file keywords, or items on file.name/file.magic). */
int detect_sig_is_file(const struct sig *s);
/* Checks and classifies file rule s (open or close time, its file directions); nothing for
 * other rules. 0, or -1 with errbuf set (an unusable combination). */
int detect_file_finish_sig(struct sig *s, char *errbuf);

/* detect-inspect.c: the checks and alerting every inspection shares. */
/* 1 if v satisfies r. */
int detect_range_match(const struct sm_range *r, uint64_t v);
/* 1 if the header, flow and packet keywords of s accept packet p (stream: stream data). */
int detect_header_ok(const struct sig *s, const struct vg_packet *p, struct flow *f, int dir,
                     int stream);
/* Starts the once-per-packet alert stamp for p (kept when p is the packet stamped last). */
void detect_stamp_packet(struct detect_thread *t, const struct vg_packet *p);
/* s matched: applies its flowbits, then alerts through cb unless noalert, pass, suppression or
 * a threshold stops it. Without has_tx a rule alerts at most once per packet stamp. */
void detect_raise_alert(struct detect_thread *t, const struct sig *s, const struct vg_packet *p,
                        struct flow *f, int dir, int has_tx, uint64_t tx_id, int stream,
                        detect_alert_fn cb, void *ctx);
/* Verifies packet or stream rule s over buf (payload items; base and min_end as in struct
 * inspect_ctx) and alerts on a match. */
void detect_check_sig(struct detect_thread *t, const struct sig *s, const struct vg_packet *p,
                      struct flow *f, int dir, const uint8_t *buf, uint32_t len, uint64_t base,
                      uint32_t min_end, int stream, detect_alert_fn cb, void *ctx);

/* detect-tx.c: 1 if every application buffer item of s matches transaction tx. */
int detect_tx_buffers_ok(struct detect_thread *t, const struct sig *s, struct detect_tx *tx,
                         const struct vg_packet *p, int dir);

/* 1 if a suppress entry silences rule s on packet p. */
int detect_suppressed(const struct sig *s, const struct vg_packet *p);

#endif
