// SPDX-License-Identifier: Apache-2.0
/*
 * The time index beside a log: what the agent records, how rotation moves
 * it with the bytes, and what logs -t / --since make of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/container/logs_index.h"
#include "logs_fixtures.h"

#define SEC 1000000000LL

static void load(const char *path, struct lp_log_index *idx)
{
	struct lp_err err;

	assert_int_equal(lp_log_index_load(path, idx, &err), 0);
}

static void note(off_t size, int64_t mtime)
{
	struct lp_err err;

	assert_int_equal(lp_log_index_note(logpath, size, mtime, NULL, &err), 0);
}

/* An empty log gets an empty index; growth gets one record, dated by the mtime given. */
static void test_note_records_growth(void **state)
{
	struct lp_log_index idx = { 0 };
	int64_t now = lp_wall_ns(), ns;
	char name[PATH_MAX];

	(void)state;
	snprintf(name, sizeof(name), "%s.idx", logpath);
	note(0, now);
	assert_int_equal(size_of(name), 0);
	note(100, now - 5 * SEC);
	note(100, now - 4 * SEC); /* not grown: nothing */
	note(250, now - 3 * SEC);
	load(logpath, &idx);
	assert_true(idx.present);
	assert_int_equal(idx.n, 2);
	assert_true(lp_log_index_time(&idx, 1, &ns));
	assert_int_equal(ns, now - 5 * SEC);
	assert_true(lp_log_index_time(&idx, 100, &ns));
	assert_int_equal(ns, now - 5 * SEC);
	assert_true(lp_log_index_time(&idx, 101, &ns));
	assert_int_equal(ns, now - 3 * SEC);
	assert_false(lp_log_index_time(&idx, 251, &ns));
	lp_log_index_free(&idx);
}

/* An mtime in the future, or before the last record, is not believed: now is used. */
static void test_note_distrusts_odd_mtimes(void **state)
{
	struct lp_log_index idx = { 0 };
	int64_t before = lp_wall_ns(), ns;

	(void)state;
	note(10, before - 2 * SEC);
	note(20, before + 3600 * SEC);
	note(30, before - 10 * SEC);
	load(logpath, &idx);
	assert_true(lp_log_index_time(&idx, 20, &ns));
	assert_true(ns >= before && ns <= lp_wall_ns());
	assert_true(lp_log_index_time(&idx, 30, &ns));
	assert_true(ns >= before && ns <= lp_wall_ns());
	lp_log_index_free(&idx);
}

/* A chatty log costs one record per grain; a reader that read it before sees the change. */
static void test_note_merges_within_a_grain(void **state)
{
	struct lp_log_index idx = { 0 };
	int64_t base = (lp_wall_ns() - 10 * SEC) / LP_LOG_INDEX_GRAIN_NS * LP_LOG_INDEX_GRAIN_NS;
	int64_t ns;

	(void)state;
	note(10, base);
	note(20, base + LP_LOG_INDEX_GRAIN_NS);
	load(logpath, &idx);
	assert_int_equal(idx.n, 2);
	note(30, base + LP_LOG_INDEX_GRAIN_NS + 1000);
	note(40, base + LP_LOG_INDEX_GRAIN_NS + 2000);
	load(logpath, &idx); /* brought up to date in place */
	assert_int_equal(idx.n, 2);
	assert_true(lp_log_index_time(&idx, 11, &ns));
	assert_int_equal(ns, base + LP_LOG_INDEX_GRAIN_NS + 2000);
	assert_true(lp_log_index_time(&idx, 40, &ns));
	note(50, base + 2 * LP_LOG_INDEX_GRAIN_NS);
	load(logpath, &idx);
	assert_int_equal(idx.n, 3);
	lp_log_index_free(&idx);
}

/* Records past the log's end (a rotation cut short) and a torn record go. */
static void test_note_drops_stale_records(void **state)
{
	struct lp_log_index idx = { 0 };
	char name[PATH_MAX];
	int64_t now = lp_wall_ns(), ns;
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "%s.idx", logpath);
	note(5000, now - 9 * SEC);
	fd = open(name, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "torn", 4), 4);
	close(fd);
	note(100, now - 2 * SEC);
	assert_int_equal(size_of(name), sizeof(struct lp_log_rec));
	load(logpath, &idx);
	assert_true(lp_log_index_time(&idx, 100, &ns));
	assert_int_equal(ns, now - 2 * SEC);
	lp_log_index_free(&idx);
}

/*
 * Two batches, noted at two times, then a rotation that cuts inside the
 * second: each file's lines keep their batch's time, and --since picks
 * the second batch whole, across the files.
 */
static void test_rotation_keeps_times(void **state)
{
	struct lp_log_view v = LP_LOG_VIEW_ALL;
	int64_t t1 = lp_wall_ns() - 20 * SEC, t2 = t1 + 10 * SEC;
	cleanup_free char *since = NULL, *stamped = NULL;
	char rotated[PATH_MAX], want[64];
	struct lp_err err;
	int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
	const char *p;

	(void)state;
	snprintf(rotated, sizeof(rotated), "%s.1.idx", logpath);
	append_lines(fd, 0, 200);
	note(size_of(logpath), t1);
	append_lines(fd, 200, 400);
	note(size_of(logpath), t2);
	/* Its own note finds nothing new: the times stay those given above. */
	assert_int_equal(lp_log_rotate(logpath, 8192, 2, &err), 0);
	close(fd);
	assert_true(size_of(logpath) < 8192);
	assert_true(size_of(rotated) > 0);
	v.since_ns = t2;
	since = capture(2, &v);
	assert_int_equal(count_lines(since), 200);
	assert_true(!strncmp(since, "line 000200 of the log\n", LINE_LEN));
	assert_non_null(strstr(since, "line 000399 of the log\n"));
	v.since_ns = INT64_MIN;
	v.timestamps = true;
	stamped = capture(2, &v);
	assert_int_equal(count_lines(stamped), 400);
	/* every line has one time, also the one rotation split in two */
	for (p = stamped; *p; p = strchr(p, '\n') + 1)
		assert_true(strlen(p) > 31 && p[4] == '-' && p[10] == 'T' && p[29] == 'Z' &&
			    p[30] == ' ' && !strncmp(p + 31, "line ", 5));
	snprintf(want, sizeof(want), "line %06d of the log\n", 399);
	assert_non_null(strstr(stamped, want));
}

/* With one file kept, the index is cut as the log is. */
static void test_single_file_cuts_the_index(void **state)
{
	struct lp_log_view v = LP_LOG_VIEW_ALL;
	struct lp_log_index idx = { 0 };
	int64_t t1 = lp_wall_ns() - 20 * SEC;
	cleanup_free char *all = NULL, *since = NULL;
	struct lp_err err;
	int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);

	(void)state;
	append_lines(fd, 0, 400);
	note(size_of(logpath), t1);
	assert_int_equal(lp_log_rotate(logpath, 4096, 1, &err), 0);
	close(fd);
	load(logpath, &idx);
	assert_int_equal(idx.n, 1);
	assert_int_equal(idx.v[0].off, size_of(logpath));
	lp_log_index_free(&idx);
	all = capture(1, &v);
	v.since_ns = t1;
	since = capture(1, &v);
	assert_true(count_lines(all) > 40);
	assert_string_equal(since, all);
}

/* Older files shift with their indexes; a file with none leaves none of another's. */
static void test_shift_moves_indexes(void **state)
{
	char one[PATH_MAX], two[PATH_MAX];
	struct lp_err err;
	int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);

	(void)state;
	snprintf(one, sizeof(one), "%s.1.idx", logpath);
	snprintf(two, sizeof(two), "%s.2.idx", logpath);
	append_lines(fd, 0, 400);
	assert_int_equal(lp_log_rotate(logpath, 4096, 3, &err), 0);
	assert_true(size_of(one) > 0);
	assert_int_equal(size_of(two), -1);
	append_lines(fd, 400, 800);
	assert_int_equal(lp_log_rotate(logpath, 4096, 3, &err), 0);
	assert_true(size_of(one) > 0);
	assert_true(size_of(two) > 0);
	assert_true(lp_log_index_complete(logpath, 3));
	/* An older limpet's PATH.1 had no index: it moves up without one. */
	assert_int_equal(unlink(one), 0);
	assert_false(lp_log_index_complete(logpath, 3));
	append_lines(fd, 800, 1200);
	assert_int_equal(lp_log_rotate(logpath, 4096, 3, &err), 0);
	assert_int_equal(size_of(two), -1);
	assert_true(size_of(one) > 0);
	close(fd);
}

/* A log kept before times were: every line gets the file's mtime, Docker's format. */
static void test_untimed_log_uses_its_mtime(void **state)
{
	struct lp_log_view v = LP_LOG_VIEW_ALL;
	struct timespec ts[2] = { { 1700000000, 123456789 }, { 1700000000, 123456789 } };
	cleanup_free char *text = NULL;
	struct lp_err err;

	(void)state;
	assert_int_equal(lp_write_file(logpath, "a\nb\n", 4, &err), 0);
	assert_int_equal(utimensat(AT_FDCWD, logpath, ts, 0), 0);
	assert_false(lp_log_index_complete(logpath, 2));
	v.timestamps = true;
	text = capture(2, &v);
	assert_string_equal(text, "2023-11-14T22:13:20.123456789Z a\n"
				  "2023-11-14T22:13:20.123456789Z b\n");
}

/* --tail counts lines first, then --since/--until choose among them; a partial line too. */
static void test_tail_then_window(void **state)
{
	struct lp_log_view v = LP_LOG_VIEW_ALL;
	int64_t t1 = lp_wall_ns() - 30 * SEC, t2 = t1 + 10 * SEC, t3 = t2 + 10 * SEC;
	cleanup_free char *a = NULL, *b = NULL;
	struct lp_err err;

	(void)state;
	assert_int_equal(lp_write_file(logpath, "one\ntwo\nthree\nfour", 18, &err), 0);
	note(4, t1);
	note(14, t2);
	note(18, t3);
	v.tail = 3;
	v.until_ns = t2;
	a = capture(2, &v);
	assert_string_equal(a, "two\nthree\n");
	v.tail = -1;
	v.until_ns = INT64_MAX;
	v.since_ns = t3;
	b = capture(2, &v);
	assert_string_equal(b, "four");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_note_records_growth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_note_distrusts_odd_mtimes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_note_merges_within_a_grain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_note_drops_stale_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_keeps_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_file_cuts_the_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shift_moves_indexes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untimed_log_uses_its_mtime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail_then_window, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
