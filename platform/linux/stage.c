// SPDX-License-Identifier: Apache-2.0
/*
 * What every process limpet puts into a running container shares.
 *
 * Such a process can be seen from inside: a process of the container may
 * open its /proc/PID/exe and /proc/PID/fd/N.  If that exe were limpet's own
 * file, a container could keep it open and write it once it stops running
 * (runc's CVE-2019-5736); so limpet re-executes itself from a sealed memfd
 * copy first (a "stage": argv[0] names which), with nothing but the fds the
 * stage needs (runc's CVE-2024-21626 was a host directory fd left open), and
 * the stage makes itself non-dumpable before it enters anything.
 *
 * The copy is made before the process is in the container, so its pages are
 * charged to limpet's cgroup, never to the container's memory limit; and
 * once per process, so that the probes an agent runs and the --init PID 1s
 * of the containers it starts all share one.  A copy rather than an
 * execveat of the file itself: the file is what must be out of reach, and
 * any fd of it leads back to it.
 */
#include "platform/linux/linux.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "platform/lib/util.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
/* What a container without PATH gets, as under Docker. */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int copy_all(int to, int from, off_t size)
{
	char buf[65536];
	off_t done = 0;

	while (done < size) {
		ssize_t n = sendfile(to, from, NULL, (size_t)(size - done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EINVAL || errno == ENOSYS))
			break;
		if (n <= 0)
			return -1;
		done += n;
	}
	while (done < size) {
		ssize_t n = read(from, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO; /* shorter than fstat said */
		if (n <= 0 || lp_write_all(to, buf, (size_t)n) < 0)
			return -1;
		done += n;
	}
	return 0;
}

int lp_self_sealed(struct lp_err *err)
{
	static int cached = -1;
	static struct stat cached_st;
	cleanup_fd int src = -1, fd = -1;
	struct stat st;

	/* The cached fd is ours unless someone closed it and reused the number. */
	if (cached >= 0 && fstat(cached, &st) == 0 && st.st_ino == cached_st.st_ino &&
	    st.st_dev == cached_st.st_dev && fcntl(cached, F_GET_SEALS) == SEALS)
		return cached;
	src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0 || fstat(src, &st) < 0)
		return lp_fail_errno(err, "open /proc/self/exe");
	fd = memfd_create("limpet", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (fd < 0 && errno == EINVAL) /* before Linux 6.3 */
		fd = memfd_create("limpet", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return lp_fail_errno(err, "a memfd for a sealed copy of limpet (vm.memfd_noexec?)");
	if (copy_all(fd, src, st.st_size) < 0)
		return lp_fail_errno(err, "copy limpet into a memfd");
	if (fcntl(fd, F_ADD_SEALS, SEALS) < 0)
		return lp_fail_errno(err, "seal the copy of limpet");
	if (fstat(fd, &cached_st) < 0)
		return lp_fail_errno(err, "stat the copy of limpet");
	cached = steal_fd(&fd);
	return cached;
}

int lp_fds_arrange(const int *src, int n)
{
	int tmp[LP_STAGE_FDS_MAX], i;

	if (n > LP_STAGE_FDS_MAX) {
		errno = EMFILE;
		return -1;
	}
	/* Above the final range first, so no move overwrites a source. */
	for (i = 0; i < n; i++) {
		tmp[i] = src[i] < 0 ? -1 : fcntl(src[i], F_DUPFD_CLOEXEC, n);
		if (tmp[i] < 0 && src[i] >= 0 && errno != EBADF) {
			while (i--)
				if (tmp[i] >= 0)
					close(tmp[i]);
			return -1;
		}
	}
	for (i = 0; i < n; i++) {
		if (tmp[i] < 0)
			close(i);
		else if (dup2(tmp[i], i) < 0)
			_exit(125); /* cannot fail with a valid fd below the limit */
	}
	syscall(SYS_close_range, n, ~0U, 0);
	return 0;
}

int lp_exec_search(char *const argv[], char *const envp[])
{
	const char *path = DEFAULT_PATH, *p, *end;
	char buf[PATH_MAX];
	bool eacces = false;
	size_t i, dlen, nlen;

	if (!argv[0] || !argv[0][0]) {
		errno = ENOENT;
		return -1;
	}
	if (strchr(argv[0], '/'))
		return execve(argv[0], argv, envp);
	for (i = 0; envp[i]; i++) {
		if (!strncmp(envp[i], "PATH=", 5)) {
			path = envp[i] + 5;
			break;
		}
	}
	nlen = strlen(argv[0]);
	for (p = path;; p = end + 1) {
		end = strchrnul(p, ':');
		dlen = (size_t)(end - p);
		/* An empty entry is the working directory, as POSIX has it. */
		if (dlen + 1 + nlen < sizeof(buf)) {
			memcpy(buf, p, dlen);
			buf[dlen] = '/';
			memcpy(buf + dlen + 1, argv[0], nlen + 1);
			execve(dlen ? buf : buf + 1, argv, envp);
			if (errno == EACCES)
				eacces = true;
			else if (errno != ENOENT && errno != ENOTDIR)
				return -1;
		}
		if (!*end)
			break;
	}
	errno = eacces ? EACCES : ENOENT;
	return -1;
}

bool lp_runtime_is_stage(const char *argv0)
{
	return argv0 && (!strcmp(argv0, LP_STAGE_EXEC) || !strcmp(argv0, LP_STAGE_INIT));
}

void lp_runtime_stage(int argc, char **argv)
{
	/* Not the fd number an exec through a memfd leaves as our name. */
	prctl(PR_SET_NAME, argv[0], 0, 0, 0);
	if (!strcmp(argv[0], LP_STAGE_EXEC))
		lp_exec_stage();
	lp_init_stage(argc, argv);
}
