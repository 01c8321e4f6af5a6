/* scenario.h: the bundled sample capture of a multi-stage attack (see pcaps/README.md). */
#ifndef VIGIL_SCENARIO_H
#define VIGIL_SCENARIO_H
#include <stdint.h>

#include "pktgen.h"

/*
 * Writes the attack chain to w, starting at t0 (microseconds): benign traffic, a SYN scan of
 * the web portal 10.10.1.5 by 198.51.100.23, an Apache path traversal (CVE-2021-41773), HTTP C2
 * beacons to 203.0.113.66:8080, and an EICAR download. About 1,300 s of traffic, 250 packets.
 */
void scenario_attack_chain(struct pg_writer *w, uint64_t t0);

#endif
