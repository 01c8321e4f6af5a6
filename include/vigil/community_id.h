/* community_id.h: Community ID v1 flow hashes (github.com/corelight/community-id-spec). */
#ifndef VIGIL_COMMUNITY_ID_H
#define VIGIL_COMMUNITY_ID_H

#include <stddef.h>
#include <stdint.h>

/* Room for "1:" + 28 base64 characters + NUL. */
#define COMMUNITY_ID_LEN 32

/*
 * Computes the Community ID v1 of a flow. saddr/daddr are 4 (ip_ver 4) or 16 bytes. For TCP,
 * UDP and SCTP, sp/dp are the ports; for ICMP and ICMPv6 they are the type and code, mapped as
 * the spec says; for other protocols, has_ports is 0 and they are ignored. Writes the ID
 * ("1:...") into out. Returns 0, or -1 if outlen is too small, ip_ver is not 4 or 6, or OpenSSL
 * has no SHA-1.
 */
int community_id_v1(uint16_t seed, int ip_ver, const uint8_t *saddr, const uint8_t *daddr,
                    uint8_t proto, uint16_t sp, uint16_t dp, int has_ports, char *out,
                    size_t outlen);

#endif
