/* app-proto.c: names of the application protocols, as EVE and rules spell them. */
#include <string.h>
#include <strings.h>

#include "vigil/app-proto.h"

static const char *const names[APP__COUNT] = {
    [APP_UNKNOWN] = NULL, [APP_HTTP] = "http", [APP_DNS] = "dns",     [APP_TLS] = "tls",
    [APP_SMTP] = "smtp",  [APP_FTP] = "ftp",   [APP_SSH] = "ssh",     [APP_SMB] = "smb",
    [APP_DCERPC] = "dcerpc", [APP_FTP_DATA] = "ftp-data", [APP_FAILED] = "failed",
};

const char *app_proto_name(unsigned p) { return p < APP__COUNT ? names[p] : NULL; }

unsigned app_proto_lookup(const char *name)
{
    static const struct {
        const char *alias;
        unsigned proto;
    } aliases[] = {{"http1", APP_HTTP}, {"ssl", APP_TLS}, {"ftpdata", APP_FTP_DATA}};
    for (unsigned i = 1; i < APP__COUNT; i++)
        if (names[i] && strcasecmp(names[i], name) == 0)
            return i;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (strcasecmp(aliases[i].alias, name) == 0)
            return aliases[i].proto;
    return APP_UNKNOWN;
}
