/* eve-dns.c: the "dns" object of EVE dns records (query, and answer in versions 1 and 2). */
#include <stdio.h>
#include <string.h>

#include "vigil/app-dns.h"
#include "vigil/eve-dns.h"

/* As Suricata's set_string_from_bytes: valid UTF-8 as is, otherwise non-printables as \xNN. */
static json_t *dns_json_bytes(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    if (j != NULL)
        return j;
    char buf[4 * DNS_TXT_MAX + 1];
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < sizeof(buf); i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f) {
            buf[o++] = (char)c;
        } else {
            static const char hx[] = "0123456789ABCDEF";
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hx[c >> 4];
            buf[o++] = hx[c & 15];
        }
    }
    return json_stringn(buf, o);
}

static json_t *dns_json_str(const struct dns_message *m, struct dns_str s)
{
    return dns_json_bytes(dns_str_ptr(m, s), s.len);
}

static void dns_set_rrtype(json_t *o, uint16_t type)
{
    const char *n = dns_rrtype_name(type);
    char num[8];
    if (n == NULL) {
        snprintf(num, sizeof(num), "%u", type);
        n = num;
    }
    json_object_set_new(o, "rrtype", json_string(n));
}

static void dns_set_rcode(json_t *o, uint8_t rcode)
{
    const char *n = dns_rcode_name(rcode);
    char num[8];
    if (n == NULL) {
        snprintf(num, sizeof(num), "%u", rcode);
        n = num;
    }
    json_object_set_new(o, "rcode", json_string(n));
}

/* The rdata of rr as one string (A, AAAA, CNAME, NS, PTR, MX, TXT), or NULL for other types. */
static json_t *dns_rdata_string(const struct dns_message *m, const struct dns_rr *rr)
{
    char buf[64];
    if (rr->bad_rdata)
        return NULL;
    switch (rr->type) {
    case DNS_TYPE_A:
        snprintf(buf, sizeof(buf), "%u.%u.%u.%u", rr->rd.a[0], rr->rd.a[1], rr->rd.a[2],
                 rr->rd.a[3]);
        return json_string(buf);
    case DNS_TYPE_AAAA: {
        /* Suricata writes every group in full: 2001:0db8:0000:... */
        size_t o = 0;
        for (int i = 0; i < 16; i += 2)
            o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%02x%02x", i ? ":" : "",
                                  rr->rd.aaaa[i], rr->rd.aaaa[i + 1]);
        return json_string(buf);
    }
    case DNS_TYPE_CNAME:
    case DNS_TYPE_NS:
    case DNS_TYPE_PTR:
        return dns_json_str(m, rr->rd.target);
    case DNS_TYPE_MX:
        return dns_json_str(m, rr->rd.mx.exchange); /* Suricata logs the exchange only */
    case DNS_TYPE_TXT:
        return dns_json_bytes(dns_str_ptr(m, rr->rd.txt.text), rr->rd.txt.first_len);
    default:
        return NULL;
    }
}

static json_t *dns_soa_object(const struct dns_message *m, const struct dns_rr *rr)
{
    json_t *o = json_object();
    json_object_set_new(o, "mname", dns_json_str(m, rr->rd.soa.mname));
    json_object_set_new(o, "rname", dns_json_str(m, rr->rd.soa.rname));
    json_object_set_new(o, "serial", json_integer(rr->rd.soa.serial));
    json_object_set_new(o, "refresh", json_integer(rr->rd.soa.refresh));
    json_object_set_new(o, "retry", json_integer(rr->rd.soa.retry));
    json_object_set_new(o, "expire", json_integer(rr->rd.soa.expire));
    json_object_set_new(o, "minimum", json_integer(rr->rd.soa.minimum));
    return o;
}

static json_t *dns_srv_object(const struct dns_message *m, const struct dns_rr *rr)
{
    json_t *o = json_object();
    json_object_set_new(o, "priority", json_integer(rr->rd.srv.priority));
    json_object_set_new(o, "weight", json_integer(rr->rd.srv.weight));
    json_object_set_new(o, "port", json_integer(rr->rd.srv.port));
    json_object_set_new(o, "name", dns_json_str(m, rr->rd.srv.target));
    return o;
}

/* The structured rdata of SOA/SRV records, NULL for the others. */
static json_t *dns_rdata_object(const struct dns_message *m, const struct dns_rr *rr,
                                const char **key)
{
    if (rr->bad_rdata)
        return NULL;
    if (rr->type == DNS_TYPE_SOA) {
        *key = "soa";
        return dns_soa_object(m, rr);
    }
    if (rr->type == DNS_TYPE_SRV) {
        *key = "srv";
        return dns_srv_object(m, rr);
    }
    return NULL;
}

/* One entry of "answers"/"authorities": rrname, rrtype, ttl and the rdata. */
static json_t *dns_rr_detail(const struct dns_message *m, const struct dns_rr *rr)
{
    json_t *o = json_object();
    json_object_set_new(o, "rrname", dns_json_str(m, rr->name));
    dns_set_rrtype(o, rr->type);
    json_object_set_new(o, "ttl", json_integer(rr->ttl));
    json_t *rd = dns_rdata_string(m, rr);
    if (rd != NULL) {
        json_object_set_new(o, "rdata", rd);
    } else {
        const char *key = NULL;
        json_t *ob = dns_rdata_object(m, rr, &key);
        if (ob != NULL)
            json_object_set_new(o, key, ob);
    }
    return o;
}

json_t *eve_dns_query_object(const struct dns_message *m, unsigned qi, uint64_t tx_id)
{
    if (m == NULL || qi >= m->nq)
        return NULL;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "type", json_string("query"));
    json_object_set_new(o, "id", json_integer(m->id));
    json_object_set_new(o, "rrname", dns_json_str(m, m->q[qi].name));
    dns_set_rrtype(o, m->q[qi].type);
    json_object_set_new(o, "tx_id", json_integer((json_int_t)tx_id));
    if (m->z)
        json_object_set_new(o, "z", json_true());
    json_object_set_new(o, "opcode", json_integer(m->opcode));
    return o;
}

/* Version 1: one object per answer (or one for the rcode when there is none). */
static json_t *dns_answer_v1(const struct dns_message *m)
{
    json_t *arr = json_array();
    for (unsigned i = 0; i < m->nan + m->nns; i++) {
        const struct dns_rr *rr = i < m->nan ? &m->an[i] : &m->ns[i - m->nan];
        json_t *o = json_object();
        json_object_set_new(o, "type", json_string(i < m->nan ? "answer" : "authority"));
        json_object_set_new(o, "id", json_integer(m->id));
        json_object_set_new(o, "flags", json_sprintf("%x", m->flags));
        dns_set_rcode(o, m->rcode);
        json_t *d = dns_rr_detail(m, rr);
        json_object_update(o, d);
        json_decref(d);
        json_array_append_new(arr, o);
    }
    if (json_array_size(arr) == 0) {
        json_t *o = json_object();
        json_object_set_new(o, "type", json_string("answer"));
        json_object_set_new(o, "id", json_integer(m->id));
        json_object_set_new(o, "flags", json_sprintf("%x", m->flags));
        dns_set_rcode(o, m->rcode);
        if (m->nq > 0) {
            json_object_set_new(o, "rrname", dns_json_str(m, m->q[0].name));
            dns_set_rrtype(o, m->q[0].type);
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *eve_dns_answer_object(const struct dns_message *m, int version)
{
    if (m == NULL)
        return NULL;
    if (version == 1)
        return dns_answer_v1(m);
    if (version != 2)
        return NULL;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "version", json_integer(2));
    json_object_set_new(o, "type", json_string("answer"));
    json_object_set_new(o, "id", json_integer(m->id));
    json_object_set_new(o, "flags", json_sprintf("%x", m->flags));
    if (m->qr)
        json_object_set_new(o, "qr", json_true());
    if (m->aa)
        json_object_set_new(o, "aa", json_true());
    if (m->tc)
        json_object_set_new(o, "tc", json_true());
    if (m->rd)
        json_object_set_new(o, "rd", json_true());
    if (m->ra)
        json_object_set_new(o, "ra", json_true());
    if (m->z)
        json_object_set_new(o, "z", json_true());
    json_object_set_new(o, "opcode", json_integer(m->opcode));
    if (m->nq > 0) {
        json_object_set_new(o, "rrname", dns_json_str(m, m->q[0].name));
        dns_set_rrtype(o, m->q[0].type);
    }
    dns_set_rcode(o, m->rcode);
    if (m->nan > 0) {
        json_t *answers = json_array();
        json_t *grouped = json_object();
        for (unsigned i = 0; i < m->nan; i++) {
            const struct dns_rr *rr = &m->an[i];
            json_array_append_new(answers, dns_rr_detail(m, rr));
            const char *key = NULL;
            json_t *val = dns_rdata_string(m, rr);
            if (val == NULL)
                val = dns_rdata_object(m, rr, &key);
            if (val == NULL)
                continue;
            char num[8];
            const char *tn = dns_rrtype_name(rr->type);
            if (tn == NULL) {
                snprintf(num, sizeof(num), "%u", rr->type);
                tn = num;
            }
            json_t *list = json_object_get(grouped, tn);
            if (list == NULL) {
                list = json_array();
                json_object_set_new(grouped, tn, list);
            }
            json_array_append_new(list, val);
        }
        json_object_set_new(o, "answers", answers);
        if (json_object_size(grouped) > 0)
            json_object_set_new(o, "grouped", grouped);
        else
            json_decref(grouped);
    }
    if (m->nns > 0) {
        json_t *auth = json_array();
        for (unsigned i = 0; i < m->nns; i++)
            json_array_append_new(auth, dns_rr_detail(m, &m->ns[i]));
        json_object_set_new(o, "authorities", auth);
    }
    return o;
}
