/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fake cgroupfs for the cgroup unit tests: a temporary directory of plain
 * files standing in for it (LIMPET_CGROUP_ROOT + LIMPET_CGROUP_MODE), and
 * helpers to fill and read it.  Included after cmocka.h.
 */
#ifndef LIMPET_TEST_CGROUP_FIXTURES_H
#define LIMPET_TEST_CGROUP_FIXTURES_H

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform/lib/util.h"

struct fake_root {
	char dir[64];	/* mkdtemp name under /tmp */
};

static inline void put(const struct fake_root *r, const char *rel, const char *content)
{
	char path[PATH_MAX], *slash;
	struct lp_err err = { 0 };

	assert_int_equal(lp_path(path, sizeof(path), &err, "%s/%s", r->dir, rel), 0);
	slash = strrchr(path, '/');
	*slash = '\0';
	assert_int_equal(lp_mkdir_p(path, 0755, &err), 0);
	*slash = '/';
	assert_int_equal(lp_write_file(path, content, strlen(content), &err), 0);
}

static inline void put_dir(const struct fake_root *r, const char *rel)
{
	char path[PATH_MAX];
	struct lp_err err = { 0 };

	assert_int_equal(lp_path(path, sizeof(path), &err, "%s/%s", r->dir, rel), 0);
	assert_int_equal(lp_mkdir_p(path, 0755, &err), 0);
}

static inline bool exists(const struct fake_root *r, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", r->dir, rel);
	return access(path, F_OK) == 0;
}

static inline void assert_file(const struct fake_root *r, const char *rel, const char *expected)
{
	char path[PATH_MAX];
	struct lp_err err = { 0 };
	char *text = NULL;

	snprintf(path, sizeof(path), "%s/%s", r->dir, rel);
	if (lp_read_file(path, 65536, &text, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(text, expected);
	free(text);
}

static inline void put_all(const struct fake_root *r, const char *const *files, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		put(r, files[i], "");
}

static inline void assert_msg_has(const struct lp_err *err, const char *needle)
{
	if (!strstr(err->msg, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err->msg, needle);
}

static inline int fake_root_setup(void **state, const char *mode)
{
	struct fake_root *r = calloc(1, sizeof(*r));

	if (!r)
		return -1;
	snprintf(r->dir, sizeof(r->dir), "/tmp/limpet-test-cgroup-XXXXXX");
	if (!mkdtemp(r->dir)) {
		free(r);
		return -1;
	}
	setenv("LIMPET_CGROUP_ROOT", r->dir, 1);
	setenv("LIMPET_CGROUP_MODE", mode, 1);
	*state = r;
	return 0;
}

static inline int setup_v1(void **state)
{
	return fake_root_setup(state, "v1");
}

static inline int setup_v2(void **state)
{
	return fake_root_setup(state, "v2");
}

static inline int teardown(void **state)
{
	struct fake_root *r = *state;
	struct lp_err err = { 0 };
	int ret = lp_remove_tree(r->dir, &err);

	unsetenv("LIMPET_CGROUP_ROOT");
	unsetenv("LIMPET_CGROUP_MODE");
	free(r);
	return ret;
}

static inline void expect_ok(int ret, const struct lp_err *err)
{
	if (ret != 0)
		fail_msg("unexpected error: %s", err->msg);
}

#endif
