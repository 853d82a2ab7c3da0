// SPDX-License-Identifier: Apache-2.0
/*
 * A container's terminal comes from the container's own devpts instance
 * (mounted newinstance in its /dev/pts), never from the host's: its
 * processes then see only their own ptys, and nothing of the host's
 * terminals crosses in.  The pty is opened by limpet code after the root
 * is the container's and before the exec, so a path the image planted
 * (a /dev/ptmx symlink, a FIFO, a pts/N link) is never followed: ptmx is
 * opened without symlinks and checked to be devpts' own, and the other
 * end comes from the master itself (TIOCGPTPEER), with no pts/N lookup.
 */
#include "platform/linux/linux.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* devpts gives its ptmx inode 2 (1 is its root), as 5:2. */
#define PTMX_INO 2

static int check_ptmx(int fd, struct lp_err *err)
{
	struct statfs fs;
	struct stat st;

	if (fstatfs(fd, &fs) < 0 || fstat(fd, &st) < 0)
		return lp_fail_errno(err, "terminal: check /dev/pts/ptmx");
	if (fs.f_type != DEVPTS_SUPER_MAGIC || !S_ISCHR(st.st_mode) || st.st_ino != PTMX_INO ||
	    major(st.st_rdev) != 5 || minor(st.st_rdev) != 2)
		return lp_fail(err, EPERM, "terminal: /dev/pts/ptmx is not devpts' ptmx");
	return 0;
}

int lp_pty_open(unsigned short rows, unsigned short cols, int *slave, struct lp_err *err)
{
	struct open_how how = {
		/* O_NONBLOCK: should it not be a tty after all, open must not hang. */
		.flags = O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	struct winsize ws = { .ws_row = rows, .ws_col = cols };
	int unlock = 0, master;

	*slave = -1;
	master = (int)syscall(SYS_openat2, AT_FDCWD, "/dev/pts/ptmx", &how, sizeof(how));
	if (master < 0)
		return lp_fail_errno(err, "terminal: open /dev/pts/ptmx");
	if (check_ptmx(master, err) < 0)
		goto fail;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0) {
		lp_fail_errno(err, "terminal: unlock the pty");
		goto fail;
	}
	/* Sized before the program starts: it never sees a 0x0 terminal. */
	if (rows && cols && ioctl(master, TIOCSWINSZ, &ws) < 0) {
		lp_fail_errno(err, "terminal: set its size");
		goto fail;
	}
	*slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0) {
		lp_fail_errno(err, "terminal: open the pty's other end");
		goto fail;
	}
	return master;
fail:
	close(master);
	return -1;
}

int lp_pty_open_host(unsigned short rows, unsigned short cols, int *slave, struct lp_err *err)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };
	struct termios t;
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	*slave = -1;
	if (master < 0)
		return lp_fail_errno(err, "terminal: a pty of the host");
	if (unlockpt(master) < 0 || (rows && cols && ioctl(master, TIOCSWINSZ, &ws) < 0)) {
		lp_fail_errno(err, "terminal: set up the pty");
		goto fail;
	}
	*slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0) {
		lp_fail_errno(err, "terminal: open the pty's other end");
		goto fail;
	}
	/* The guest's own terminal echoes and edits: here bytes pass unchanged. */
	if (tcgetattr(*slave, &t) < 0 || (cfmakeraw(&t), tcsetattr(*slave, TCSANOW, &t)) < 0) {
		lp_fail_errno(err, "terminal: raw mode");
		close(*slave);
		*slave = -1;
		goto fail;
	}
	return master;
fail:
	close(master);
	return -1;
}

int lp_pty_take(int slave, uid_t uid, struct lp_err *err)
{
	int i;

	/* A session of its own first: the entrypoint under --init is PID 1's child. */
	if (setsid() < 0 && errno != EPERM)
		return lp_fail_errno(err, "terminal: setsid");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return lp_fail_errno(err, "terminal: make it the controlling terminal");
	/* Its user may reopen it (tty, /dev/stdout, sudo), as on a login. */
	if (fchown(slave, uid, (gid_t)-1) < 0)
		return lp_fail_errno(err, "terminal: give it to uid %u", (unsigned int)uid);
	for (i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			return lp_fail_errno(err, "terminal: attach stdio %d", i);
	if (slave > 2)
		close(slave);
	return 0;
}
