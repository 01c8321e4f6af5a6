/* eve-http.h: the EVE "http" object of an HTTP transaction (Suricata's field names). */
#ifndef VIGIL_EVE_HTTP_H
#define VIGIL_EVE_HTTP_H

#include <jansson.h>

#include "vigil/app-http.h"

/*
 * Builds the "http" object of tx: hostname, http_port, url, http_user_agent,
 * http_content_type, http_refer, http_method, protocol, status, redirect and length, each
 * when known; with extended, request_headers and response_headers as [{name, value}] (as
 * Suricata's dump-all-headers). Returns a new object, or NULL when out of memory.
 */
json_t *eve_http_object(const struct http_tx *tx, int extended);

#endif
