/* eve-ftp.h: builders of the "ftp" and "ftp_data" objects of EVE records (sensor/eve-ftp.c). */
#ifndef VIGIL_EVE_FTP_H
#define VIGIL_EVE_FTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/app-ftp.h"

/*
 * Suricata's "ftp" object of a command: {"command","command_data","reply":[...],
 * "completion_code":[...],"dynamic_port","mode","reply_received","reply_truncated"}; absent
 * fields left out. Returns a new object, or NULL when out of memory.
 */
json_t *eve_ftp_object(const struct ftp_tx *tx);

/* Suricata's "ftp_data" object: {"filename","command"}. NULL when out of memory. */
json_t *eve_ftp_data_object(const char *command, const uint8_t *name, size_t name_len);

#endif
