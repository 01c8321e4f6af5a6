/* eve-dns.h: builders of the "dns" object of EVE dns records (sensor/eve-dns.c). */
#ifndef VIGIL_EVE_DNS_H
#define VIGIL_EVE_DNS_H

#include <jansson.h>
#include <stdint.h>

#include "vigil/app-dns.h"

/*
 * Suricata's query object for question qi of m: {"type":"query","id","rrname","rrtype","tx_id",
 * "opcode"} ("z":true when the Z bit is set). tx_id is the caller's transaction number in the
 * flow. Returns a new object, or NULL if qi is out of range or memory ran out.
 */
json_t *eve_dns_query_object(const struct dns_message *m, unsigned qi, uint64_t tx_id);

/*
 * Suricata's answer for response m. version 2: one object {"version":2,"type":"answer","id",
 * "flags","qr","aa","tc","rd","ra","z","opcode","rrname","rrtype","rcode","answers":[...],
 * "grouped":{...},"authorities":[...]} (false flags and empty lists left out; SOA and SRV as
 * "soa"/"srv" objects, MX as the exchange, TXT as its first string, AAAA with full groups).
 * version 1: an array of objects, one per answer/authority record (or one with the rcode when
 * there is none). Returns NULL for another version or when memory ran out.
 */
json_t *eve_dns_answer_object(const struct dns_message *m, int version);

#endif
