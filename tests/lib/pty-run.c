// SPDX-License-Identifier: Apache-2.0
/*
 * pty-run CMD [ARG...]: run CMD in a new session whose controlling terminal
 * is a new pty (its stdin, stdout and stderr), print what it wrote there
 * without carriage returns, and exit with its status.  The escape tests run
 * `limpet exec` this way, as an operator's shell would, to see whether the
 * container can type into that terminal (TIOCSTI).  The boards have no
 * python3 and busybox has no `script`: built static (tests/lib/tap.sh,
 * test_tool).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *what)
{
	perror(what);
	return 125;
}

int main(int argc, char **argv)
{
	char buf[4096], out[4096];
	const char *slave;
	int master, fd, status;
	ssize_t n, i, j;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: pty-run CMD [ARG...]\n");
		return 2;
	}
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
		return fail("pty-run: a new pty");
	slave = ptsname(master);
	if (!slave)
		return fail("pty-run: ptsname");
	pid = fork();
	if (pid < 0)
		return fail("pty-run: fork");
	if (pid == 0) {
		if (setsid() < 0)
			_exit(fail("pty-run: setsid"));
		fd = open(slave, O_RDWR);
		if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0)
			_exit(fail(slave));
		if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(fail("pty-run: dup2"));
		if (fd > 2)
			close(fd);
		execvp(argv[1], argv + 1);
		_exit(fail(argv[1]));
	}
	/* Until every holder of the pty's other end is gone (EIO). */
	for (;;) {
		n = read(master, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = j = 0; i < n; i++)
			if (buf[i] != '\r')
				out[j++] = buf[i];
		if (fwrite(out, 1, (size_t)j, stdout) != (size_t)j)
			return fail("pty-run: stdout");
	}
	if (fflush(stdout) != 0)
		return fail("pty-run: stdout");
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return fail("pty-run: waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
