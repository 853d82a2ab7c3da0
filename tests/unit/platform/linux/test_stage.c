// SPDX-License-Identifier: Apache-2.0
/*
 * The pieces every process limpet puts into a container is built from: the
 * sealed copy of the binary, the fd layout handed to a stage, and the PATH
 * search with the container's environment.  What would disturb this process
 * (closing fds, exec) runs in a child that reports through its exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "platform/lib/util.h"
#include "platform/linux/linux.h"

/* Run fn in a child; its exit status. */
static int in_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(arg));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_self_sealed(void **state)
{
	struct lp_err err = { 0 };
	char a[4096], b[4096];
	int fd = lp_self_sealed(&err), exe;
	struct stat st_fd, st_exe;
	off_t off = 0;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(lp_self_sealed(&err), fd); /* made once */
	assert_int_equal(fcntl(fd, F_GET_SEALS),
			 F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(pwrite(fd, "x", 1, 0), -1);
	assert_int_equal(errno, EPERM);
	exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	assert_true(exe >= 0);
	assert_int_equal(fstat(fd, &st_fd), 0);
	assert_int_equal(fstat(exe, &st_exe), 0);
	assert_int_equal(st_fd.st_size, st_exe.st_size);
	for (off = 0; off < st_exe.st_size; off += (off_t)sizeof(a)) {
		ssize_t n = lp_pread_all(exe, a, sizeof(a), off);

		assert_true(n > 0);
		assert_int_equal(lp_pread_all(fd, b, sizeof(b), off), n);
		assert_memory_equal(a, b, (size_t)n);
	}
	close(exe);
	/* Closed behind its back, it is made again rather than trusted. */
	close(fd);
	fd = lp_self_sealed(&err);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GET_SEALS),
			 F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
}

static bool same_file(int fd, const struct stat *want)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_dev == want->st_dev && st.st_ino == want->st_ino;
}

/* Sources that sit where other sources go, and one missing: 1 on any mismatch. */
static int arrange_child(void *arg)
{
	int p[2], null_fd, tmp_fd, src[5], fd;
	struct stat want[5];
	char path[32];

	(void)arg;
	/* Sources at 3..6 while the targets are 0..4: every move crosses another. */
	for (fd = 3; fd < 40; fd++)
		close(fd);
	if (pipe(p) < 0 || p[0] != 3 || p[1] != 4)
		return 2;
	null_fd = open("/dev/null", O_RDONLY);
	tmp_fd = open("/", O_RDONLY | O_DIRECTORY);
	src[0] = tmp_fd;	/* 6 -> 0 */
	src[1] = p[1];		/* 4 -> 1 */
	src[2] = p[0];		/* 3 -> 2 */
	src[3] = -1;		/* 3 stays closed */
	src[4] = null_fd;	/* 5 -> 4 */
	for (fd = 0; fd < 5; fd++)
		if (src[fd] >= 0 && fstat(src[fd], &want[fd]) < 0)
			return 2;
	open("/dev/zero", O_RDONLY); /* 7: must be closed */
	if (lp_fds_arrange(src, 5) < 0)
		return 3;
	for (fd = 0; fd < 5; fd++) {
		if (src[fd] < 0 ? fcntl(fd, F_GETFD) >= 0 : !same_file(fd, &want[fd]))
			return 1;
		if (src[fd] >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC))
			return 1;
	}
	for (fd = 5; fd < 64; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (access(path, F_OK) == 0)
			return 1;
	}
	return 0;
}

static void test_fds_arrange(void **state)
{
	(void)state;
	assert_int_equal(in_child(arrange_child, NULL), 0);
}

struct search {
	char *const *argv;
	char *const *envp;
};

static int search_child(void *arg)
{
	const struct search *s = arg;

	lp_exec_search(s->argv, s->envp);
	return 100 + errno;
}

static int search(char *const *argv, char *const *envp)
{
	struct search s = { argv, envp };

	return in_child(search_child, &s);
}

static void test_exec_search(void **state)
{
	char *sh7[] = { "sh", "-c", "exit 7", NULL }, *abs7[] = { "/bin/sh", "-c", "exit 7", NULL };
	char *prog[] = { "prog", NULL }, *missing[] = { "no-such-prog-here", NULL };
	char *empty[] = { "", NULL };
	char *no_path[] = { "HOME=/", NULL };
	char *with_path[] = { "X=1", "PATH=/no/such::/bin", NULL };
	char dir[] = "/tmp/limpet-stage.XXXXXX", file[64], dir_path[80];
	char *env_dir[] = { dir_path, NULL };
	int fd;

	(void)state;
	/* The environment's PATH, not ours; empty and missing entries are skipped over. */
	assert_int_equal(search(sh7, with_path), 7);
	/* Without PATH, the usual container default. */
	assert_int_equal(search(sh7, no_path), 7);
	assert_int_equal(search(abs7, no_path), 7);
	assert_int_equal(search(missing, with_path), 100 + ENOENT);
	assert_int_equal(search(empty, with_path), 100 + ENOENT);
	/* Found but not executable, and nothing else: EACCES, not ENOENT. */
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/prog", dir);
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	snprintf(dir_path, sizeof(dir_path), "PATH=/no/such:%s", dir);
	assert_int_equal(search(prog, env_dir), 100 + EACCES);
	unlink(file);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_sealed),
		cmocka_unit_test(test_fds_arrange),
		cmocka_unit_test(test_exec_search),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
