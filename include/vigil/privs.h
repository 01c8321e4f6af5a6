/* privs.h: dropping root privileges once the capture is open. */
#ifndef VIGIL_PRIVS_H
#define VIGIL_PRIVS_H

/*
 * Switches to user (and group, or the user's primary group if group is NULL), dropping
 * supplementary groups; root cannot be regained afterwards, and no capability is kept.
 * Returns 0, or -1 with errbuf set (unknown user or group, or the switch failed).
 */
int privs_drop(const char *user, const char *group, char *errbuf);

#endif
