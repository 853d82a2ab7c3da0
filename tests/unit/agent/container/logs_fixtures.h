/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the log tests share: a directory of their own with container.log in
 * it, lines of a known length, and lp_log_print with its output captured.
 * Include after cmocka.h.
 */
#ifndef LIMPET_TEST_LOGS_FIXTURES_H
#define LIMPET_TEST_LOGS_FIXTURES_H

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/container/logs.h"
#include "platform/lib/util.h"

#define LINE_LEN 23	/* "line NNNNNN of the log\n" */

static char dir[64];
static char logpath[128];

static int setup(void **state)
{
	(void)state;
	/* Under /var/tmp, not /tmp: tmpfs cannot collapse ranges. */
	snprintf(dir, sizeof(dir), "%s", "/var/tmp/limpet-logs-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(logpath, sizeof(logpath), "%s/container.log", dir);
	return 0;
}

static int teardown(void **state)
{
	struct lp_err err;

	(void)state;
	assert_int_equal(lp_remove_tree(dir, &err), 0);
	return 0;
}

static void append_lines(int fd, int from, int to)
{
	char line[64];

	for (int i = from; i < to; i++) {
		int n = snprintf(line, sizeof(line), "line %06d of the log\n", i);

		assert_int_equal(write(fd, line, (size_t)n), n);
	}
}

/* -1 when it is not there. */
static off_t size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* lp_log_print with stdout captured; returns the malloc'd text. */
static char *capture(int files, const struct lp_log_view *v)
{
	char out[128], *text = NULL;
	struct lp_err err;
	int saved, fd;

	snprintf(out, sizeof(out), "%s/captured", dir);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	assert_int_equal(lp_log_print(logpath, files, v, &err), 0);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fd);
	assert_int_equal(lp_read_file(out, 1 << 24, &text, NULL, &err), 0);
	return text;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

#endif
