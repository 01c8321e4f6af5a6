/* privs.c: drops to an unprivileged user and group after the capture sockets are open. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vigil/common.h"
#include "vigil/privs.h"

/* Returns 1 if the process still holds any effective or permitted capability. */
static int has_capabilities(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) < 0)
        return 1; /* cannot tell: assume the worst */
    return (data[0].effective | data[1].effective | data[0].permitted | data[1].permitted) != 0;
}

int privs_drop(const char *user, const char *group, char *errbuf)
{
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        vg_errbuf_set(errbuf, "--user: no such user '%s'", user);
        return -1;
    }
    gid_t gid = pw->pw_gid;
    if (group != NULL) {
        struct group *gr = getgrnam(group);
        if (gr == NULL) {
            vg_errbuf_set(errbuf, "--group: no such group '%s'", group);
            return -1;
        }
        gid = gr->gr_gid;
    }
    if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0) {
        vg_errbuf_set(errbuf, "cannot switch to group %u: %s", (unsigned)gid, strerror(errno));
        return -1;
    }
    if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
        vg_errbuf_set(errbuf, "cannot switch to user %s: %s", user, strerror(errno));
        return -1;
    }
    /* Changing every uid away from 0 clears the capability sets; make sure of it. */
    if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        vg_errbuf_set(errbuf, "dropping privileges failed: root could be regained");
        return -1;
    }
    if (pw->pw_uid != 0 && has_capabilities()) {
        vg_errbuf_set(errbuf, "dropping privileges failed: capabilities are still held");
        return -1;
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    return 0;
}
