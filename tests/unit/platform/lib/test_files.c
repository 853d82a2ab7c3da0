// SPDX-License-Identifier: Apache-2.0
/*
 * platform/lib's file helpers against what a container, a stick or a
 * server may leave: trees deeper than the descriptor limit, links out of a
 * tree, FIFOs and devices where a file is expected; a lock that a child
 * caught between fork and exec must not keep.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform/lib/util.h"

#define DEEP 3000

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s", "/var/tmp/limpet-files-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	struct lp_err err;

	(void)state;
	assert_int_equal(lp_remove_tree(dir, &err), 0);
	return 0;
}

/* dir/tree, DEEP levels of d/ with a file and a link out at every level. */
static void make_deep(const char *top, const char *outside)
{
	int fd = open(top, O_RDONLY | O_DIRECTORY), next;

	assert_true(fd >= 0);
	for (int i = 0; i < DEEP; i++) {
		int f = openat(fd, "f", O_WRONLY | O_CREAT, 0600);

		assert_true(f >= 0);
		close(f);
		assert_int_equal(symlinkat(outside, fd, "out"), 0);
		assert_int_equal(mkdirat(fd, "d", 0700), 0);
		/* a sibling: the walk must come back up to it */
		if (i % 100 == 0)
			assert_int_equal(mkdirat(fd, "e", 0700), 0);
		next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
		assert_true(next >= 0);
		close(fd);
		fd = next;
	}
	close(fd);
}

static void test_remove_deep_tree_few_fds(void **state)
{
	char tree[PATH_MAX], outside[PATH_MAX], keep[PATH_MAX + 8];
	struct rlimit old, low = { 32, 32 };
	struct lp_err err = { 0 };
	int rc;

	(void)state;
	snprintf(tree, sizeof(tree), "%s/tree", dir);
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	snprintf(keep, sizeof(keep), "%s/keep", outside);
	assert_int_equal(mkdir(tree, 0700), 0);
	assert_int_equal(mkdir(outside, 0700), 0);
	assert_int_equal(lp_write_file(keep, "x", 1, &err), 0);
	make_deep(tree, outside);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	rc = lp_remove_tree(tree, &err);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	if (rc < 0)
		fail_msg("lp_remove_tree: %s", err.msg);
	assert_int_equal(access(tree, F_OK), -1);
	assert_int_equal(access(keep, F_OK), 0);
}

static void test_remove_stops_at_mount_point(void **state)
{
	char tree[PATH_MAX], mnt[PATH_MAX + 8], inside[PATH_MAX + 16];
	struct lp_err err = { 0 };

	(void)state;
	snprintf(tree, sizeof(tree), "%s/tree", dir);
	snprintf(mnt, sizeof(mnt), "%s/a/mnt", tree);
	snprintf(inside, sizeof(inside), "%s/file", mnt);
	assert_int_equal(lp_mkdir_p(mnt, 0700, &err), 0);
	if (mount("limpet-test", mnt, "tmpfs", 0, "size=64k") < 0)
		skip();
	assert_int_equal(lp_write_file(inside, "x", 1, &err), 0);
	assert_int_equal(lp_remove_tree(tree, &err), -1);
	assert_int_equal(err.code, EXDEV);
	assert_non_null(strstr(err.msg, "mount point"));
	assert_int_equal(access(inside, F_OK), 0);
	assert_int_equal(umount(mnt), 0);
	assert_int_equal(lp_remove_tree(tree, &err), 0);
}

static void test_remove_a_file_or_nothing(void **state)
{
	char path[PATH_MAX];
	struct lp_err err = { 0 };

	(void)state;
	snprintf(path, sizeof(path), "%s/plain", dir);
	assert_int_equal(lp_remove_tree(path, &err), 0);
	assert_int_equal(lp_write_file(path, "x", 1, &err), 0);
	assert_int_equal(lp_remove_tree(path, &err), 0);
	assert_int_equal(access(path, F_OK), -1);
}

/* A FIFO or a device where a file is expected is refused at once, named. */
static void test_read_refuses_what_is_not_a_file(void **state)
{
	char fifo[PATH_MAX], link[PATH_MAX], file[PATH_MAX];
	struct lp_err err = { 0 };
	char *text = NULL;

	(void)state;
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(file, sizeof(file), "%s/file", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(lp_read_file(fifo, 64, &text, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "fifo: not a regular file (a FIFO)"));
	assert_int_equal(lp_read_file("/dev/zero", 64, &text, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "/dev/zero: not a regular file (a character device)"));
	/* written without a reader: refused, not waited on */
	assert_int_equal(lp_open_regular(AT_FDCWD, fifo, O_WRONLY, 0, &err), -1);
	assert_non_null(strstr(err.msg, "not a regular file"));
	assert_int_equal(lp_write_file(file, "data", 4, &err), 0);
	assert_int_equal(symlink(file, link), 0);
	assert_int_equal(lp_read_file(link, 64, &text, NULL, &err), 0);
	assert_string_equal(text, "data");
	free(text);
	assert_int_equal(lp_read_file_nofollow(link, 64, &text, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "link: a symbolic link, refused"));
}

/* Neither kind of write goes through a link left where it writes. */
static void test_writes_go_through_no_link(void **state)
{
	char target[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 32];
	struct lp_err err = { 0 };
	char *text = NULL;

	(void)state;
	snprintf(target, sizeof(target), "%s/target", dir);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	assert_int_equal(lp_write_file(target, "untouched", 9, &err), 0);
	assert_int_equal(symlink(target, tmp), 0);
	assert_int_equal(lp_write_file_atomic(path, "new", 3, &err), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(lp_write_file(path, "over", 4, &err), -1);
	assert_int_equal(lp_read_file(target, 64, &text, NULL, &err), 0);
	assert_string_equal(text, "untouched");
	free(text);
}

/*
 * The holder is killed while a child it forked still runs (as an agent is,
 * in the middle of a container's start): the lock must be free at once.
 */
static void test_lock_ends_with_its_holder(void **state)
{
	char path[PATH_MAX];
	int report[2], status, fd, locked;
	pid_t holder;
	char pid[16];

	(void)state;
	snprintf(path, sizeof(path), "%s/lock", dir);
	assert_int_equal(pipe(report), 0);
	holder = fork();
	assert_true(holder >= 0);
	if (holder == 0) {
		pid_t child;

		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 || lp_lock_whole(fd, false) < 0)
			_exit(1);
		child = fork();
		if (child == 0) {
			alarm(60); /* whatever becomes of the test */
			pause();
			_exit(0);
		}
		snprintf(pid, sizeof(pid), "%d", (int)child);
		if (write(report[1], pid, sizeof(pid)) != (ssize_t)sizeof(pid))
			_exit(1);
		pause();
		_exit(0);
	}
	close(report[1]);
	assert_int_equal(read(report[0], pid, sizeof(pid)), (ssize_t)sizeof(pid));
	close(report[0]);

	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(lp_lock_whole(fd, false), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(kill(holder, SIGKILL), 0);
	assert_int_equal(waitpid(holder, &status, 0), holder);
	/* the holder's child lives on, with the descriptor */
	assert_int_equal(kill(atoi(pid), 0), 0);
	locked = lp_lock_whole(fd, false);
	close(fd);
	kill(atoi(pid), SIGKILL);
	assert_int_equal(locked, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_remove_deep_tree_few_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_stops_at_mount_point, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_a_file_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_refuses_what_is_not_a_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_writes_go_through_no_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_ends_with_its_holder, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
