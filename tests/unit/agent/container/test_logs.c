// SPDX-License-Identifier: Apache-2.0
/* Log rotation keeps the cap and loses no line; --tail reads across files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "logs_fixtures.h"

/* All of it, or its last `tail` lines. */
static char *capture_print(int files, long tail)
{
	struct lp_log_view v = LP_LOG_VIEW_ALL;

	v.tail = tail;
	return capture(files, &v);
}

static void test_under_cap_untouched(void **state)
{
	struct lp_err err;
	int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);

	(void)state;
	append_lines(fd, 0, 10);
	assert_int_equal(lp_log_rotate(logpath, 4096, 2, &err), 0);
	assert_int_equal(size_of(logpath), 10 * LINE_LEN);
	close(fd);
}

static void test_rotation_caps_and_keeps_order(void **state)
{
	char rotated[PATH_MAX + 4];
	struct lp_err err;
	int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
	cleanup_free char *all = NULL, *tail = NULL;

	(void)state;
	snprintf(rotated, sizeof(rotated), "%s.1", logpath);
	/* Write through the same descriptor a container would keep. */
	for (int round = 0; round < 20; round++) {
		append_lines(fd, round * 500, round * 500 + 500);
		assert_int_equal(lp_log_rotate(logpath, 8192, 2, &err), 0);
		assert_true(size_of(logpath) <= 8192);
		assert_true(size_of(rotated) <= 8192);
	}
	close(fd);
	all = capture_print(2, -1);
	/* The newest line is last and whole; lines come out in order. */
	assert_non_null(strstr(all, "line 009999 of the log\n"));
	assert_true(strstr(all, "line 009990") < strstr(all, "line 009999"));
	tail = capture_print(2, 3);
	assert_int_equal(count_lines(tail), 3);
	assert_string_equal(tail, "line 009997 of the log\nline 009998 of the log\n"
				  "line 009999 of the log\n");
}

static void test_tail_across_files(void **state)
{
	struct lp_err err;
	int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
	cleanup_free char *tail = NULL;
	long want;

	(void)state;
	append_lines(fd, 0, 1000);
	assert_int_equal(lp_log_rotate(logpath, 8192, 2, &err), 0);
	append_lines(fd, 1000, 1002);
	close(fd);
	/* More lines than the newest file holds: the rest come from .1. */
	want = (long)(size_of(logpath) / LINE_LEN) + 5;
	tail = capture_print(2, want);
	assert_int_equal(count_lines(tail), want);
	assert_non_null(strstr(tail, "line 001001 of the log\n"));
}

static void test_single_file_just_truncates(void **state)
{
	char rotated[PATH_MAX + 4];
	struct lp_err err;
	int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);

	(void)state;
	snprintf(rotated, sizeof(rotated), "%s.1", logpath);
	append_lines(fd, 0, 1000);
	assert_int_equal(lp_log_rotate(logpath, 4096, 1, &err), 0);
	assert_true(size_of(logpath) <= 4096);
	assert_int_equal(access(rotated, F_OK), -1);
	close(fd);
}

/* Whatever sits where the rotation writes its copy, the copy is made afresh. */
static void test_rotation_writes_through_no_link(void **state)
{
	char tmp[PATH_MAX + 8], rotated[PATH_MAX + 4], outside[PATH_MAX];
	cleanup_free char *text = NULL;
	struct lp_err err;
	struct stat st;
	int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);

	(void)state;
	snprintf(tmp, sizeof(tmp), "%s.1.tmp", logpath);
	snprintf(rotated, sizeof(rotated), "%s.1", logpath);
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	assert_int_equal(lp_write_file(outside, "untouched", 9, &err), 0);
	assert_int_equal(symlink(outside, tmp), 0);
	append_lines(fd, 0, 1000);
	close(fd);
	assert_int_equal(lp_log_rotate(logpath, 4096, 2, &err), 0);
	assert_int_equal(lp_read_file(outside, 64, &text, NULL, &err), 0);
	assert_string_equal(text, "untouched");
	assert_int_equal(lstat(rotated, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

/* A link or a FIFO as the log is refused with its name, never followed or waited on. */
static void test_log_must_be_a_file(void **state)
{
	char outside[PATH_MAX], rotated[PATH_MAX + 4];
	struct lp_err err;

	(void)state;
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	snprintf(rotated, sizeof(rotated), "%s.1", logpath);
	assert_int_equal(lp_write_file(outside, "untouched", 9, &err), 0);
	assert_int_equal(symlink(outside, logpath), 0);
	assert_int_equal(lp_log_rotate(logpath, 4, 2, &err), -1);
	assert_non_null(strstr(err.msg, "container.log: a symbolic link"));
	assert_int_equal(mkfifo(rotated, 0600), 0);
	assert_int_equal(unlink(logpath), 0);
	assert_int_equal(lp_log_print(logpath, 2, &LP_LOG_VIEW_ALL, &err), -1);
	assert_non_null(strstr(err.msg, "container.log.1: not a regular file (a FIFO)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_under_cap_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_caps_and_keeps_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tail_across_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_file_just_truncates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_writes_through_no_link, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_log_must_be_a_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
