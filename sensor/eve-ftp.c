/* eve-ftp.c: the "ftp" and "ftp_data" objects of EVE records, with Suricata's field names. */
#include "vigil/eve-ftp.h"
#include <string.h>

#include "vigil/eve.h"

/* A JSON string of bytes from traffic (escaped as eve_set_bytes does). */
static json_t *bytes_string(const uint8_t *s, size_t n)
{
    json_t *tmp = json_object();
    if (tmp == NULL)
        return NULL;
    eve_set_bytes(tmp, "v", s, n);
    json_t *v = json_incref(json_object_get(tmp, "v"));
    json_decref(tmp);
    return v;
}

json_t *eve_ftp_object(const struct ftp_tx *tx)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    if (tx->is_command) {
        eve_set_bytes(o, "command", (const uint8_t *)tx->command, tx->command_len);
        if (tx->data.len > 0)
            eve_set_bytes(o, "command_data", tx->data.s, tx->data.len);
        if (tx->command_truncated)
            json_object_set_new(o, "command_truncated", json_true());
    }
    if (tx->nreply > 0) {
        json_t *r = json_array(), *c = json_array();
        for (uint32_t i = 0; i < tx->nreply; i++) {
            json_array_append_new(r, bytes_string(tx->reply[i].s, tx->reply[i].len));
            if (tx->code[i][0] != '\0')
                json_array_append_new(c, json_string(tx->code[i]));
        }
        json_object_set_new(o, "reply", r);
        json_object_set_new(o, "completion_code", c);
    }
    if (tx->dyn_port > 0)
        json_object_set_new(o, "dynamic_port", json_integer(tx->dyn_port));
    if (tx->mode != FTP_MODE_NONE)
        json_object_set_new(o, "mode",
                            json_string(tx->mode == FTP_MODE_PASSIVE ? "passive" : "active"));
    json_object_set_new(o, "reply_received", json_string(tx->reply_received ? "yes" : "no"));
    if (tx->reply_dropped > 0)
        json_object_set_new(o, "reply_truncated", json_true());
    return o;
}

json_t *eve_ftp_data_object(const char *command, const uint8_t *name, size_t name_len)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    eve_set_bytes(o, "filename", name, name_len);
    if (command != NULL && command[0] != '\0')
        eve_set_bytes(o, "command", (const uint8_t *)command, strlen(command));
    return o;
}
