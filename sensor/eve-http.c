/* eve-http.c: the EVE "http" object of an HTTP transaction, with Suricata's field names. */
#include <string.h>

#include "vigil/app-http.h"
#include "vigil/detect.h"
#include "vigil/eve-http.h"
#include "vigil/eve.h"

static void set_header(json_t *o, const char *key, const struct http_tx *tx, int dir,
                       const char *name, int cut_params)
{
    uint32_t len;
    const uint8_t *v = http_tx_header(tx, dir, name, &len);
    if (v == NULL)
        return;
    if (cut_params) {
        const uint8_t *semi = memchr(v, ';', len);
        if (semi != NULL)
            len = (uint32_t)(semi - v);
    }
    eve_set_bytes(o, key, v, len);
}

static json_t *headers_array(const struct http_tx *tx, int dir)
{
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    unsigned n = http_tx_header_count(tx, dir);
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *name, *value;
        uint32_t nl, vl;
        if (http_tx_header_at(tx, dir, i, &name, &nl, &value, &vl) < 0)
            break;
        json_t *h = json_object();
        if (h == NULL)
            break;
        eve_set_bytes(h, "name", name, nl);
        eve_set_bytes(h, "value", value, vl);
        json_array_append_new(a, h);
    }
    return a;
}

json_t *eve_http_object(const struct http_tx *tx, int extended)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    /* the getters take a non-const tx only to build buffers lazily; these never are */
    struct http_tx *t = (struct http_tx *)(uintptr_t)tx;
    uint32_t len;
    const uint8_t *p = http_tx_buffer(t, DB_HTTP_HOST, 0, &len);
    if (p != NULL)
        eve_set_bytes(o, "hostname", p, len);
    if (http_tx_port(tx) >= 0)
        json_object_set_new(o, "http_port", json_integer(http_tx_port(tx)));
    p = http_tx_buffer(t, DB_HTTP_URI_RAW, 0, &len);
    if (p != NULL)
        eve_set_bytes(o, "url", p, len);
    set_header(o, "http_user_agent", tx, 0, "user-agent", 0);
    set_header(o, "http_content_type", tx, 1, "content-type", 1);
    set_header(o, "http_refer", tx, 0, "referer", 0);
    p = http_tx_buffer(t, DB_HTTP_METHOD, 0, &len);
    if (p != NULL)
        eve_set_bytes(o, "http_method", p, len);
    p = http_tx_buffer(t, DB_HTTP_PROTOCOL, 0, &len);
    if (p != NULL)
        eve_set_bytes(o, "protocol", p, len);
    if (tx->status > 0)
        json_object_set_new(o, "status", json_integer(tx->status));
    set_header(o, "redirect", tx, 1, "location", 0);
    json_object_set_new(o, "length", json_integer((json_int_t)tx->msg_len[1]));
    if (extended) {
        json_t *a = headers_array(tx, 0);
        if (a != NULL)
            json_object_set_new(o, "request_headers", a);
        a = headers_array(tx, 1);
        if (a != NULL)
            json_object_set_new(o, "response_headers", a);
    }
    return o;
}
