// SPDX-License-Identifier: Apache-2.0
/*
 * runas UID GID CMD [ARG...]: CMD as UID:GID with no supplementary groups,
 * what util-linux's `setpriv --reuid --regid --clear-groups` does; busybox's
 * setpriv cannot change ids, and the boards have only busybox.  Built static
 * (tests/lib/tap.sh, test_tool).
 */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char *end1, *end2;
	unsigned long uid, gid;

	if (argc < 4) {
		fprintf(stderr, "usage: runas UID GID CMD [ARG...]\n");
		return 2;
	}
	uid = strtoul(argv[1], &end1, 10);
	gid = strtoul(argv[2], &end2, 10);
	if (*end1 || *end2 || end1 == argv[1] || end2 == argv[2]) {
		fprintf(stderr, "runas: %s %s: not numeric ids\n", argv[1], argv[2]);
		return 2;
	}
	/* Groups and gid first: after setuid there is no right left to drop them. */
	if (setgroups(0, NULL) < 0 || setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0 ||
	    setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0) {
		perror("runas");
		return 125;
	}
	execvp(argv[3], argv + 3);
	perror(argv[3]);
	return 127;
}
