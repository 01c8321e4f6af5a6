/* eve-smtp.c: the "smtp" and "email" objects of EVE smtp records, with Suricata's field names. */
#include <string.h>

#include "vigil/app-smtp.h"
#include "vigil/eve-smtp.h"

/* As Suricata's set_string_from_bytes: valid UTF-8 as is, otherwise non-printables as \xNN. */
static json_t *smtp_json_bytes(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    if (j != NULL)
        return j;
    char buf[4096];
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

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v != NULL)
        json_object_set_new(o, key, smtp_json_bytes(v, strlen(v)));
}

json_t *eve_smtp_object(const struct smtp_tx *tx)
{
    if (tx == NULL)
        return NULL;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    set_str(o, "helo", tx->helo);
    set_str(o, "mail_from", tx->mail_from);
    if (tx->nrcpt > 0) {
        json_t *a = json_array();
        for (uint32_t i = 0; i < tx->nrcpt; i++)
            json_array_append_new(a, smtp_json_bytes(tx->rcpt_to[i], strlen(tx->rcpt_to[i])));
        json_object_set_new(o, "rcpt_to", a);
    }
    return o;
}

const char *eve_email_status_name(enum smtp_mail_status st)
{
    switch (st) {
    case SMTP_MAIL_HEADERS:
        return "HEADER_STARTED";
    case SMTP_MAIL_BODY:
        return "BODY_STARTED";
    case SMTP_MAIL_DONE:
        return "PARSE_DONE";
    case SMTP_MAIL_ERROR:
        return "PARSE_ERROR";
    default:
        return NULL;
    }
}

static int is_ws(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* An address list split at commas outside double quotes and angle brackets, each trimmed. */
static json_t *addr_list(const char *v)
{
    json_t *a = json_array();
    const char *start = v;
    int quote = 0, angle = 0;
    for (const char *p = v;; p++) {
        if (*p == '"' && (p == v || p[-1] != '\\'))
            quote = !quote;
        else if (!quote && *p == '<')
            angle = 1;
        else if (!quote && *p == '>')
            angle = 0;
        if (*p == 0 || (*p == ',' && !quote && !angle)) {
            const char *b = start, *e = p;
            while (b < e && is_ws(*b))
                b++;
            while (e > b && is_ws(e[-1]))
                e--;
            if (e > b)
                json_array_append_new(a, smtp_json_bytes(b, (size_t)(e - b)));
            if (*p == 0)
                break;
            start = p + 1;
        }
    }
    return a;
}

json_t *eve_email_object(const struct smtp_tx *tx, int extended)
{
    if (tx == NULL || tx->status == SMTP_MAIL_NONE)
        return NULL;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "status", json_string(eve_email_status_name(tx->status)));
    set_str(o, "from", tx->hdr[SMTP_HDR_FROM]);
    if (tx->hdr[SMTP_HDR_TO])
        json_object_set_new(o, "to", addr_list(tx->hdr[SMTP_HDR_TO]));
    if (tx->hdr[SMTP_HDR_CC])
        json_object_set_new(o, "cc", addr_list(tx->hdr[SMTP_HDR_CC]));
    set_str(o, "subject", tx->hdr[SMTP_HDR_SUBJECT]);
    if (extended) {
        set_str(o, "date", tx->hdr[SMTP_HDR_DATE]);
        set_str(o, "message_id", tx->hdr[SMTP_HDR_MESSAGE_ID]);
        set_str(o, "x_mailer", tx->hdr[SMTP_HDR_X_MAILER]);
    }
    if (tx->nattach > 0) {
        json_t *a = json_array();
        for (uint32_t i = 0; i < tx->nattach; i++)
            json_array_append_new(a,
                                  smtp_json_bytes(tx->attachments[i], strlen(tx->attachments[i])));
        json_object_set_new(o, "attachment", a);
    }
    return o;
}
