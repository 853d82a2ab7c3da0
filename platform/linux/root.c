// SPDX-License-Identifier: Apache-2.0
/*
 * Reaching into a container's root from the host's side: paths resolved as
 * openat2 confines them, the working directory of what runs inside, and for
 * limpet cp the root itself: a running container's through its process, a
 * stopped one's mounted for a moment where nobody else sees it.
 */
#include "platform/linux/linux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform/lib/util.h"

int lp_openat2(int dir, const char *path, uint64_t flags, uint64_t resolve)
{
	struct open_how how = { .flags = flags | O_CLOEXEC, .resolve = resolve };

	return (int)syscall(SYS_openat2, dir, path, &how, sizeof(how));
}

int lp_chdir_workdir(const char *path)
{
	int fd = lp_openat2(AT_FDCWD, path, O_PATH | O_DIRECTORY, RESOLVE_NO_MAGICLINKS);
	int rc, e;

	if (fd < 0)
		return -1;
	rc = fchdir(fd);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

int lp_proc_root(pid_t pid, unsigned long long starttime, struct lp_err *err)
{
	char path[32];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return lp_fail_errno(err, "open %s", path);
	/* Checked once it is open: a pid reused meanwhile would lend another's root. */
	if (!lp_proc_running(pid, starttime)) {
		close(fd);
		return lp_fail(err, ESRCH, "it stopped");
	}
	return fd;
}

int lp_runtime_with_root(const struct lp_spec *spec, lp_root_fn *fn, void *arg,
			 struct lp_err *err)
{
	struct lp_err child = { 0 };
	int report[2], status = 0, rootfd;
	ssize_t n;
	pid_t pid;

	if (pipe2(report, O_CLOEXEC) < 0)
		return lp_fail_errno(err, "pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(report[0]);
		close(report[1]);
		return lp_fail_errno(err, "fork");
	}
	if (pid == 0) {
		close(report[0]);
		/* The mounts die with this process's namespace: nothing is left to unmount. */
		if (unshare(CLONE_NEWNS) < 0)
			lp_fail_errno(&child, "container %s: unshare the mount namespace", spec->name);
		else if ((rootfd = lp_mount_root(spec, &child)) < 0)
			lp_prefix(&child, "container %s", spec->name);
		else if (fn(rootfd, arg, &child) == 0)
			_exit(0);
		n = write(report[1], &child, sizeof(child));
		_exit(n == (ssize_t)sizeof(child) ? 1 : 2);
	}
	close(report[1]);
	do {
		n = read(report[0], &child, sizeof(child));
	} while (n < 0 && errno == EINTR);
	close(report[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (n == (ssize_t)sizeof(child)) {
		child.msg[sizeof(child.msg) - 1] = '\0';
		*err = child;
		return -1;
	}
	if (WIFSIGNALED(status))
		return lp_fail(err, EINTR, "container %s: the process holding its root was killed "
					   "by signal %d",
			       spec->name, WTERMSIG(status));
	return lp_fail(err, EIO, "container %s: the process holding its root failed", spec->name);
}
