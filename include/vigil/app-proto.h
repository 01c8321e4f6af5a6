/* app-proto.h: application protocol identifiers shared by the app layer, detection and output. */
#ifndef VIGIL_APP_PROTO_H
#define VIGIL_APP_PROTO_H

enum app_proto {
    APP_UNKNOWN = 0, /* not (yet) detected */
    APP_HTTP,
    APP_DNS,
    APP_TLS,
    APP_SMTP,
    APP_FTP,
    APP_SSH,
    APP_SMB,
    APP_DCERPC,
    APP_FTP_DATA, /* a data connection an FTP control channel announced */
    APP_FAILED, /* detection gave up */
    APP__COUNT
};

/* EVE name of an app protocol ("http"...), NULL for APP_UNKNOWN. */
const char *app_proto_name(unsigned p);

/* The protocol named name, accepting Suricata's aliases ("http1", "ssl"); APP_UNKNOWN if none. */
unsigned app_proto_lookup(const char *name);

#endif
