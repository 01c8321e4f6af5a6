/* app-dns.c: DNS message parser with bounded name decompression, TCP framing, probes, stats. */
#include "vigil/app-dns.h"

#include <stdlib.h>
#include <string.h>

static const char *const dns_error_names[] = {
#define DNS_X_NAME(e, s) s,
    DNS_ERRORS(DNS_X_NAME)
#undef DNS_X_NAME
};

const char *dns_error_name(int err)
{
    if (err < 0 || err >= DNS_ERR__COUNT)
        return "unknown";
    return dns_error_names[err];
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Parser cursor over one message. */
struct dns_cur {
    const uint8_t *buf;
    uint32_t len;
    struct dns_message *m;
};

/*
 * Reads the name at *pos (advancing *pos past it in the message, not following pointers) and, if
 * out is not NULL, stores it in the arena (out->len = 0xffff if the arena is full). Pointers must
 * point strictly before the lowest offset visited so far, so decompression always ends; at most
 * DNS_MAX_JUMPS of them. Returns DNS_OK or an error. end bounds the name's uncompressed part.
 */
static enum dns_error dns_read_name(struct dns_cur *c, uint32_t *pos, uint32_t end,
                                    struct dns_str *out)
{
    uint8_t name[DNS_NAME_MAX + 1];
    uint32_t nlen = 0; /* text bytes in name */
    uint32_t wire = 0; /* wire length: labels + length bytes */
    uint32_t p = *pos;
    uint32_t low = p;  /* lowest offset visited: pointers must go below it */
    uint32_t next = 0; /* where the name ends in the message, once the first pointer is seen */
    int jumped = 0;
    unsigned jumps = 0;

    for (;;) {
        if (p >= end)
            return DNS_ERR_TRUNCATED_NAME;
        uint8_t l = c->buf[p];
        if ((l & 0xc0) == 0xc0) {
            if (p + 1 >= end)
                return DNS_ERR_TRUNCATED_NAME;
            uint32_t target = ((uint32_t)(l & 0x3f) << 8) | c->buf[p + 1];
            if (!jumped)
                next = p + 2;
            if (target >= low)
                return DNS_ERR_POINTER_FORWARD;
            if (++jumps > DNS_MAX_JUMPS)
                return DNS_ERR_TOO_MANY_JUMPS;
            jumped = 1;
            p = low = target;
            end = c->len; /* a pointer may reach anywhere before, even outside the rdata */
            continue;
        }
        if (l & 0xc0)
            return DNS_ERR_BAD_LABEL;
        if (l == 0) {
            if (!jumped)
                next = p + 1;
            break;
        }
        if (p + 1 + l > end)
            return DNS_ERR_TRUNCATED_NAME;
        wire += 1u + l;
        if (wire + 1 > DNS_NAME_MAX)
            return DNS_ERR_NAME_TOO_LONG;
        if (nlen)
            name[nlen++] = '.';
        memcpy(name + nlen, c->buf + p + 1, l);
        nlen += l;
        p += 1u + l;
    }
    *pos = next;
    if (out != NULL) {
        struct dns_message *m = c->m;
        if (m->arena_used + nlen > DNS_ARENA_SIZE) {
            out->off = 0;
            out->len = 0xffff;
        } else {
            memcpy(m->arena + m->arena_used, name, nlen);
            out->off = (uint16_t)m->arena_used;
            out->len = (uint16_t)nlen;
            m->arena_used += nlen;
        }
    }
    return DNS_OK;
}

static int arena_full(struct dns_str s)
{
    return s.len == 0xffff;
}

/* Decodes the rdata of rr at [p, p + rr->rdlength). Returns 0, or -1 if the arena is full. */
static int dns_read_rdata(struct dns_cur *c, uint32_t p, struct dns_rr *rr)
{
    uint32_t n = rr->rdlength, end = p + n;
    const uint8_t *d = c->buf + p;
    uint32_t q;
    switch (rr->type) {
    case DNS_TYPE_A:
        if (n != 4)
            goto bad;
        memcpy(rr->rd.a, d, 4);
        return 0;
    case DNS_TYPE_AAAA:
        if (n != 16)
            goto bad;
        memcpy(rr->rd.aaaa, d, 16);
        return 0;
    case DNS_TYPE_CNAME:
    case DNS_TYPE_NS:
    case DNS_TYPE_PTR:
        q = p;
        if (dns_read_name(c, &q, end, &rr->rd.target) != DNS_OK || q != end)
            goto bad;
        return arena_full(rr->rd.target) ? -1 : 0;
    case DNS_TYPE_MX:
        if (n < 3)
            goto bad;
        rr->rd.mx.pref = rd16(d);
        q = p + 2;
        if (dns_read_name(c, &q, end, &rr->rd.mx.exchange) != DNS_OK || q != end)
            goto bad;
        return arena_full(rr->rd.mx.exchange) ? -1 : 0;
    case DNS_TYPE_SRV:
        if (n < 7)
            goto bad;
        rr->rd.srv.priority = rd16(d);
        rr->rd.srv.weight = rd16(d + 2);
        rr->rd.srv.port = rd16(d + 4);
        q = p + 6;
        if (dns_read_name(c, &q, end, &rr->rd.srv.target) != DNS_OK || q != end)
            goto bad;
        return arena_full(rr->rd.srv.target) ? -1 : 0;
    case DNS_TYPE_SOA:
        q = p;
        if (dns_read_name(c, &q, end, &rr->rd.soa.mname) != DNS_OK ||
            dns_read_name(c, &q, end, &rr->rd.soa.rname) != DNS_OK || end - q != 20)
            goto bad;
        if (arena_full(rr->rd.soa.mname) || arena_full(rr->rd.soa.rname))
            return -1;
        rr->rd.soa.serial = rd32(c->buf + q);
        rr->rd.soa.refresh = rd32(c->buf + q + 4);
        rr->rd.soa.retry = rd32(c->buf + q + 8);
        rr->rd.soa.expire = rd32(c->buf + q + 12);
        rr->rd.soa.minimum = rd32(c->buf + q + 16);
        return 0;
    case DNS_TYPE_TXT: {
        struct dns_message *m = c->m;
        uint32_t start = m->arena_used, tl = 0, i = 0;
        rr->rd.txt.nstrings = 0;
        rr->rd.txt.first_len = 0;
        if (n == 0)
            goto bad;
        while (i < n) {
            uint32_t sl = d[i];
            if (i + 1 + sl > n) {
                m->arena_used = start;
                goto bad;
            }
            uint32_t take = sl;
            if (tl + take > DNS_TXT_MAX) {
                take = DNS_TXT_MAX - tl;
                rr->txt_trunc = 1;
            }
            if (m->arena_used + take > DNS_ARENA_SIZE) {
                m->arena_used = start;
                return -1;
            }
            memcpy(m->arena + m->arena_used, d + i + 1, take);
            m->arena_used += take;
            tl += take;
            if (rr->rd.txt.nstrings == 0)
                rr->rd.txt.first_len = (uint16_t)take;
            rr->rd.txt.nstrings++;
            i += 1 + sl;
        }
        rr->rd.txt.text.off = (uint16_t)start;
        rr->rd.txt.text.len = (uint16_t)tl;
        return 0;
    }
    default:
        return 0;
    }
bad:
    rr->bad_rdata = 1;
    c->m->bad_rdata++;
    return 0;
}

/* Parses count records at *pos into arr (keeping at most max; *kept counts them). */
static enum dns_error dns_read_section(struct dns_cur *c, uint32_t *pos, unsigned count,
                                       struct dns_rr *arr, unsigned max, uint16_t *kept)
{
    struct dns_message *m = c->m;
    for (unsigned i = 0; i < count; i++) {
        uint32_t mark = m->arena_used;
        int keep = *kept < max;
        struct dns_rr scratch;
        struct dns_rr *rr = keep ? &arr[*kept] : &scratch;
        memset(rr, 0, sizeof(*rr));
        enum dns_error e = dns_read_name(c, pos, c->len, keep ? &rr->name : NULL);
        if (e != DNS_OK)
            return e == DNS_ERR_TRUNCATED_NAME ? DNS_ERR_TRUNCATED_RR : e;
        if (c->len - *pos < 10)
            return DNS_ERR_TRUNCATED_RR;
        const uint8_t *h = c->buf + *pos;
        rr->type = rd16(h);
        rr->klass = rd16(h + 2);
        rr->ttl = rd32(h + 4);
        rr->rdlength = rd16(h + 8);
        *pos += 10;
        if (c->len - *pos < rr->rdlength)
            return DNS_ERR_TRUNCATED_RR;
        if (keep && (arena_full(rr->name) || dns_read_rdata(c, *pos, rr) < 0)) {
            m->arena_used = mark;
            keep = 0;
        }
        *pos += rr->rdlength;
        if (keep)
            (*kept)++;
        else
            m->dropped++;
    }
    return DNS_OK;
}

static int dns_fail(struct dns_message *m, enum dns_error e)
{
    m->error = e;
    return -1;
}

int dns_parse_message(const uint8_t *buf, uint32_t len, struct dns_message *out)
{
    struct dns_message *m = out;
    m->nq = m->nan = m->nns = m->nar = 0;
    m->dropped = m->bad_rdata = m->trailing = 0;
    m->arena_used = 0;
    m->error = DNS_OK;
    if (len < 12) {
        m->id = m->flags = 0;
        m->qr = m->opcode = m->aa = m->tc = m->rd = m->ra = m->z = m->rcode = 0;
        m->qdcount = m->ancount = m->nscount = m->arcount = 0;
        return dns_fail(m, DNS_ERR_SHORT_HEADER);
    }
    if (len > DNS_TCP_MAX)
        len = DNS_TCP_MAX; /* 16-bit offsets: nothing valid lies beyond */
    m->id = rd16(buf);
    m->flags = rd16(buf + 2);
    m->qr = (uint8_t)(m->flags >> 15);
    m->opcode = (uint8_t)((m->flags >> 11) & 0xf);
    m->aa = (uint8_t)((m->flags >> 10) & 1);
    m->tc = (uint8_t)((m->flags >> 9) & 1);
    m->rd = (uint8_t)((m->flags >> 8) & 1);
    m->ra = (uint8_t)((m->flags >> 7) & 1);
    m->z = (uint8_t)((m->flags >> 6) & 1);
    m->rcode = (uint8_t)(m->flags & 0xf);
    m->qdcount = rd16(buf + 4);
    m->ancount = rd16(buf + 6);
    m->nscount = rd16(buf + 8);
    m->arcount = rd16(buf + 10);

    struct dns_cur c = {buf, len, m};
    uint32_t pos = 12;
    for (unsigned i = 0; i < m->qdcount; i++) {
        int keep = m->nq < DNS_MAX_QUESTIONS;
        struct dns_question *q = keep ? &m->q[m->nq] : NULL;
        uint32_t mark = m->arena_used;
        enum dns_error e = dns_read_name(&c, &pos, len, keep ? &q->name : NULL);
        if (e != DNS_OK)
            return dns_fail(m, e == DNS_ERR_TRUNCATED_NAME ? DNS_ERR_TRUNCATED_QUESTION : e);
        if (len - pos < 4)
            return dns_fail(m, DNS_ERR_TRUNCATED_QUESTION);
        if (keep && arena_full(q->name)) {
            m->arena_used = mark;
            keep = 0;
        }
        if (keep) {
            q->type = rd16(buf + pos);
            q->klass = rd16(buf + pos + 2);
            m->nq++;
        } else {
            m->dropped++;
        }
        pos += 4;
    }
    enum dns_error e;
    if ((e = dns_read_section(&c, &pos, m->ancount, m->an, DNS_MAX_ANSWERS, &m->nan)) != DNS_OK ||
        (e = dns_read_section(&c, &pos, m->nscount, m->ns, DNS_MAX_AUTHORITIES, &m->nns)) !=
            DNS_OK ||
        (e = dns_read_section(&c, &pos, m->arcount, m->ar, DNS_MAX_ADDITIONALS, &m->nar)) != DNS_OK)
        return dns_fail(m, e);
    m->trailing = len - pos;
    return 0;
}

const char *dns_query_name(const struct dns_message *m, unsigned qi, uint32_t *len)
{
    if (m == NULL || qi >= m->nq) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = m->q[qi].name.len;
    return m->arena + m->q[qi].name.off;
}

/* Suricata's names (rust/src/dns/log.rs dns_rrtype_string). */
static const struct {
    uint16_t type;
    const char *name;
} dns_types[] = {
    {1, "A"},      {2, "NS"},        {3, "MD"},          {4, "MF"},     {5, "CNAME"},
    {6, "SOA"},    {7, "MB"},        {8, "MG"},          {9, "MR"},     {10, "NULL"},
    {11, "WKS"},   {12, "PTR"},      {13, "HINFO"},      {14, "MINFO"}, {15, "MX"},
    {16, "TXT"},   {17, "RP"},       {18, "AFSDB"},      {19, "X25"},   {20, "ISDN"},
    {21, "RT"},    {22, "NSAP"},     {23, "NSAPPTR"},    {24, "SIG"},   {25, "KEY"},
    {26, "PX"},    {27, "GPOS"},     {28, "AAAA"},       {29, "LOC"},   {30, "NXT"},
    {33, "SRV"},   {34, "ATMA"},     {35, "NAPTR"},      {36, "KX"},    {37, "CERT"},
    {38, "A6"},    {39, "DNAME"},    {41, "OPT"},        {42, "APL"},   {43, "DS"},
    {44, "SSHFP"}, {45, "IPSECKEY"}, {46, "RRSIG"},      {47, "NSEC"},  {48, "DNSKEY"},
    {49, "DHCID"}, {50, "NSEC3"},    {51, "NSEC3PARAM"}, {52, "TLSA"},  {55, "HIP"},
    {59, "CDS"},   {60, "CDNSKEY"},  {65, "HTTPS"},      {99, "SPF"},   {249, "TKEY"},
    {250, "TSIG"}, {253, "MAILA"},   {255, "ANY"},       {256, "URI"},
};

const char *dns_rrtype_name(uint16_t type)
{
    for (size_t i = 0; i < sizeof(dns_types) / sizeof(dns_types[0]); i++)
        if (dns_types[i].type == type)
            return dns_types[i].name;
    return NULL;
}

const char *dns_rcode_name(uint8_t rcode)
{
    static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                        "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                        "NXRRSET", "NOTAUTH", "NOTZONE"};
    return rcode < sizeof(names) / sizeof(names[0]) ? names[rcode] : NULL;
}

/* Skips an uncompressed name at *pos (the probe's first question). Returns 0, -1 if it is not a
 * name, or -2 if buf ends first. */
static int dns_probe_name(const uint8_t *buf, uint32_t len, uint32_t *pos)
{
    uint32_t p = *pos, wire = 0;
    for (;;) {
        if (p >= len)
            return -2;
        uint8_t l = buf[p];
        if (l == 0) {
            *pos = p + 1;
            return 0;
        }
        if (l & 0xc0)
            return -1;
        wire += 1u + l;
        if (wire + 1 > DNS_NAME_MAX)
            return -1;
        if (p + 1 + l > len)
            return -2;
        p += 1u + l;
    }
}

/* Header checks of the probes: opcode, question count. */
static int dns_probe_header(const uint8_t *buf)
{
    uint16_t flags = rd16(buf + 2);
    unsigned opcode = (flags >> 11) & 0xf, qd = rd16(buf + 4);
    return opcode != 3 && opcode <= 6 && qd >= 1 && qd <= 8;
}

int dns_probe_udp(const uint8_t *buf, uint32_t len)
{
    if (buf == NULL || len < 12 + 5 || !dns_probe_header(buf))
        return 0;
    uint16_t flags = rd16(buf + 2);
    uint32_t qd = rd16(buf + 4), an = rd16(buf + 6), ns = rd16(buf + 8), ar = rd16(buf + 10);
    if (!(flags & 0x8000) && ((flags >> 11) & 0xf) == 0 && an > 0)
        return 0; /* a standard query carries no answers */
    /* each question takes at least 5 bytes, each record at least 11 */
    if ((uint64_t)qd * 5 + ((uint64_t)an + ns + ar) * 11 > len - 12)
        return 0;
    uint32_t pos = 12;
    if (dns_probe_name(buf, len, &pos) < 0 || len - pos < 4)
        return 0;
    uint16_t klass = rd16(buf + pos + 2);
    if (klass == 0 || (klass > 4 && klass != 254 && klass != 255 && !(klass & 0x8000)))
        return 0; /* IN, CH, HS, NONE, ANY; the top bit is mDNS's unicast-response flag */
    return 1;
}

int dns_probe_tcp(const uint8_t *buf, uint32_t len)
{
    if (buf == NULL || len < 2)
        return -1;
    uint32_t ml = rd16(buf);
    if (ml < 12 + 5)
        return 0;
    if (len - 2 >= ml)
        return dns_probe_udp(buf + 2, ml);
    /* judge the header and the first question on what is there */
    uint32_t have = len - 2;
    if (have < 12)
        return -1;
    if (!dns_probe_header(buf + 2))
        return 0;
    uint32_t pos = 12;
    int r = dns_probe_name(buf + 2, have, &pos);
    if (r == -1)
        return 0;
    if (r == -2 || have - pos < 4)
        return -1;
    return 1;
}

/* ---- Strict probes, for ports other than 53 ---- */

/* Skips the name at *pos, which may end in a pointer to an earlier offset (not followed).
 * Returns 0, -1 if it is malformed, -2 if it runs past len. */
static int dns_walk_name(const uint8_t *buf, uint32_t len, uint32_t *pos)
{
    uint32_t start = *pos, p = start, wire = 0;
    for (;;) {
        if (p >= len)
            return -2;
        uint8_t l = buf[p];
        if (l == 0) {
            *pos = p + 1;
            return 0;
        }
        if ((l & 0xc0) == 0xc0) {
            if (len - p < 2)
                return -2;
            uint32_t to = ((uint32_t)(l & 0x3f) << 8) | buf[p + 1];
            if (to < 12 || to >= start)
                return -1;
            *pos = p + 2;
            return 0;
        }
        if (l & 0xc0)
            return -1; /* the obsolete 0x40 and 0x80 label types */
        wire += 1u + l;
        if (wire + 1 > DNS_NAME_MAX)
            return -1;
        p += 1u + l;
    }
}

/* Walks every question and record of the message: each must fit, and the last must end
 * exactly at len. Returns 0, -1 if malformed or followed by other bytes, -2 if too short. */
static int dns_walk(const uint8_t *buf, uint32_t len)
{
    if (len < 12)
        return -2;
    uint32_t pos = 12, qd = rd16(buf + 4);
    uint32_t rr = (uint32_t)rd16(buf + 6) + rd16(buf + 8) + rd16(buf + 10);
    for (uint32_t i = 0; i < qd + rr; i++) {
        int r = dns_walk_name(buf, len, &pos);
        if (r < 0)
            return r;
        uint32_t fixed = i < qd ? 4 : 10;
        if (len - pos < fixed)
            return -2;
        uint32_t rdl = i < qd ? 0 : rd16(buf + pos + 8);
        pos += fixed;
        if (len - pos < rdl)
            return -2;
        pos += rdl;
    }
    return pos == len ? 0 : -1;
}

/* NetBIOS name service (RFC 1002) shares DNS's layout: its first question is a 32-letter
 * label of 'A'..'P' (the first-level encoding) asking for NB (32) or NBSTAT (33). */
static int dns_is_nbns(const uint8_t *buf, uint32_t len)
{
    if (len < 12 + 34 + 4 || buf[12] != 32 || buf[12 + 33] != 0)
        return 0;
    for (uint32_t i = 0; i < 32; i++)
        if (buf[13 + i] < 'A' || buf[13 + i] > 'P')
            return 0;
    uint16_t type = rd16(buf + 12 + 34);
    return type == 32 || type == 33;
}

/* The header off port 53 over TCP: opcode QUERY, NOTIFY or UPDATE, one question, Z clear, an
 * assigned rcode, none in a request, and a standard query carries no answers, no authority
 * records and at most two additional records (OPT, TSIG). Judges the first have bytes (the
 * rest as a plain query would be). */
static int dns_strict_header(const uint8_t *buf, uint32_t have)
{
    uint8_t h[12] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    memcpy(h, buf, have < 12 ? have : 12);
    uint16_t flags = rd16(h + 2);
    unsigned opcode = (flags >> 11) & 0xf, rcode = flags & 0xf;
    if ((opcode != 0 && opcode != 4 && opcode != 5) || rd16(h + 4) != 1 || (flags & 0x0040) ||
        rcode > 10)
        return 0;
    if (!(flags & 0x8000) &&
        (rcode != 0 || (opcode == 0 && (rd16(h + 6) != 0 || rd16(h + 8) != 0 || rd16(h + 10) > 2))))
        return 0;
    return 1;
}

int dns_probe_udp_strict(const uint8_t *buf, uint32_t len)
{
    if (buf == NULL || len < 12 + 5)
        return 0;
    /* mDNS asks many questions at once and lists the answers it knows (RFC 6762 7.1), so a
     * query may carry answers: the walk to the datagram's end is the test instead. */
    uint16_t flags = rd16(buf + 2);
    unsigned opcode = (flags >> 11) & 0xf, qd = rd16(buf + 4);
    if (opcode == 3 || opcode > 6 || qd == 0 || qd > DNS_MAX_QUESTIONS || (flags & 0x0040))
        return 0;
    if (dns_walk(buf, len) != 0 || dns_is_nbns(buf, len))
        return 0;
    uint32_t pos = 12;
    if (dns_walk_name(buf, len, &pos) < 0)
        return 0;
    uint16_t klass = rd16(buf + pos + 2); /* the walk saw its type and class */
    return !(klass == 0 || (klass > 4 && klass != 254 && klass != 255 && !(klass & 0x8000)));
}

int dns_probe_tcp_strict(const uint8_t *buf, uint32_t len, uint32_t hold)
{
    if (buf == NULL || len < 2)
        return -1;
    uint32_t ml = rd16(buf);
    const uint8_t *m = buf + 2;
    if (ml < 12 + 5 || !dns_strict_header(m, len - 2))
        return 0;
    if (len < 2 + 12)
        return -1;
    if (len - 2 >= ml)
        return dns_walk(m, ml) == 0 && !dns_is_nbns(m, ml);
    if ((uint64_t)ml + 2 <= hold)
        return -1; /* the whole message will be there to walk */
    /* longer than the caller can hold: the first question must parse and ask for IN or ANY */
    uint32_t have = len - 2, pos = 12;
    int r = dns_walk_name(m, have, &pos);
    if (r == -1)
        return 0;
    if (r == -2 || have - pos < 4)
        return -1;
    uint16_t klass = rd16(m + pos + 2);
    return klass == 1 || klass == 255;
}

void dns_stats_update(struct dns_stats *st, const struct dns_message *m, int rc)
{
    if (st == NULL || m == NULL)
        return;
    st->messages++;
    if (m->error == DNS_ERR_SHORT_HEADER) {
        /* no header to classify */
    } else if (m->qr) {
        st->responses++;
    } else {
        st->queries++;
    }
    if (rc != 0) {
        st->parse_errors++;
        if ((unsigned)m->error < DNS_ERR__COUNT)
            st->errors[m->error]++;
    }
    if (m->dropped)
        st->truncated++;
    st->bad_rdata += m->bad_rdata;
}

/* ---- TCP framing ---- */

void dns_tcp_init(struct dns_tcp_state *s, struct dns_stats *st)
{
    memset(s, 0, sizeof(*s));
    s->stats = st;
}

void dns_tcp_free(struct dns_tcp_state *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < 2; i++) {
        free(s->d[i].buf);
        s->d[i].buf = NULL;
        s->d[i].cap = 0;
    }
}

static void dns_tcp_deliver(struct dns_tcp_state *s, int dir, const uint8_t *msg, uint32_t len,
                            dns_msg_fn cb, void *ctx, int *count)
{
    if (s->stats)
        s->stats->tcp_messages++;
    (*count)++;
    if (cb)
        cb(ctx, dir, msg, len);
}

int dns_tcp_feed(struct dns_tcp_state *s, int dir, const uint8_t *data, uint32_t len, dns_msg_fn cb,
                 void *ctx)
{
    if (s == NULL || dir < 0 || dir > 1)
        return -1;
    struct dns_tcp_dir *d = &s->d[dir];
    int count = 0;
    if (data == NULL)
        return 0;
    if (d->lost) {
        if (dns_probe_tcp(data, len) == 0) {
            if (s->stats)
                s->stats->tcp_resync_skipped += len;
            return 0;
        }
        d->lost = 0;
        d->skip = d->need = d->have = d->lenhave = 0;
    }
    while (len > 0) {
        if (d->skip) {
            uint32_t n = len < d->skip ? len : d->skip;
            d->skip -= n;
            data += n;
            len -= n;
            continue;
        }
        if (d->need == 0) {
            /* reading the prefix */
            if (d->lenhave == 0 && len >= 2) {
                uint32_t ml = rd16(data);
                data += 2;
                len -= 2;
                if (ml == 0)
                    continue;
                if (len >= ml) { /* whole message in this segment: no copy */
                    dns_tcp_deliver(s, dir, data, ml, cb, ctx, &count);
                    data += ml;
                    len -= ml;
                    continue;
                }
                d->need = ml;
                d->have = 0;
            } else {
                d->lenbuf[d->lenhave++] = *data++;
                len--;
                if (d->lenhave < 2)
                    continue;
                d->lenhave = 0;
                d->need = rd16(d->lenbuf);
                d->have = 0;
                if (d->need == 0)
                    continue;
            }
            if (d->cap < d->need) {
                uint8_t *nb = realloc(d->buf, d->need);
                if (nb == NULL) { /* drop this message, keep framing */
                    d->skip = d->need;
                    d->need = 0;
                    continue;
                }
                d->buf = nb;
                d->cap = d->need;
            }
            continue;
        }
        uint32_t n = d->need - d->have;
        if (n > len)
            n = len;
        memcpy(d->buf + d->have, data, n);
        d->have += n;
        data += n;
        len -= n;
        if (d->have == d->need) {
            uint32_t ml = d->need;
            d->need = d->have = 0;
            dns_tcp_deliver(s, dir, d->buf, ml, cb, ctx, &count);
        }
    }
    return count;
}

void dns_tcp_gap(struct dns_tcp_state *s, int dir, uint32_t len)
{
    if (s == NULL || dir < 0 || dir > 1 || len == 0)
        return;
    struct dns_tcp_dir *d = &s->d[dir];
    if (s->stats)
        s->stats->tcp_gaps++;
    if (d->lost)
        return;
    if (d->skip) {
        if (len < d->skip) {
            d->skip -= len;
            return;
        }
    } else if (d->need && d->lenhave == 0 && len < d->need - d->have) {
        /* the gap lies inside the message: drop it, keep framing */
        d->skip = d->need - d->have - len;
        d->need = d->have = 0;
        return;
    }
    d->lost = 1;
    d->need = d->have = d->skip = d->lenhave = 0;
}
