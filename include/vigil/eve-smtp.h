/* eve-smtp.h: builders of the "smtp" and "email" objects of EVE smtp records (sensor/eve-smtp.c).
 */
#ifndef VIGIL_EVE_SMTP_H
#define VIGIL_EVE_SMTP_H

#include <jansson.h>

#include "vigil/app-smtp.h"

/* Suricata's "smtp" object of tx: {"helo","mail_from","rcpt_to":[...]}, absent fields left
 * out. Returns a new object, or NULL when out of memory. */
json_t *eve_smtp_object(const struct smtp_tx *tx);

/*
 * Suricata's "email" object of tx: {"status","from","to":[...],"cc":[...],"subject",
 * "attachment":[...]}; with extended also "date","message_id","x_mailer". To and Cc are split at
 * commas outside quotes. Returns NULL if the transaction carried no message (no DATA/BDAT).
 */
json_t *eve_email_object(const struct smtp_tx *tx, int extended);

/* Suricata's email.status string of a status ("PARSE_DONE"), NULL for SMTP_MAIL_NONE. */
const char *eve_email_status_name(enum smtp_mail_status st);

#endif
