// SPDX-License-Identifier: Apache-2.0
/*
 * The image store (agent/image/store.c) on a temporary ROOT: staging and
 * what a crashed import leaves there, layers committed once and shared,
 * records found by name (NAME meaning NAME:latest), listed in order,
 * removed, the overlay lowerdir, and gc keeping what is used.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/config/host.h"
#include "agent/image/store.h"
#include "platform/lib/util.h"

#define L1 "1111111111111111111111111111111111111111111111111111111111111111"
#define L2 "2222222222222222222222222222222222222222222222222222222222222222"
#define L3 "3333333333333333333333333333333333333333333333333333333333333333"

static char dir[32];
static struct lp_host host;

/* Each test gets an empty ROOT. */
static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/limpet-store-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(host.root, sizeof(host.root), "%s", dir);
	return 0;
}

static int teardown(void **state)
{
	struct lp_err err;

	(void)state;
	lp_remove_tree(dir, &err);
	return 0;
}

static bool exists(const char *fmt, const char *arg)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), fmt, dir, arg);
	return access(path, F_OK) == 0;
}

/* A layer with one file, staged and committed as hex. */
static void commit_layer(struct lp_store *st, const char *hex, const char *file)
{
	char staged[PATH_MAX], path[PATH_MAX + 64];
	struct lp_err err = { 0 };

	assert_int_equal(lp_store_staging(st, staged, sizeof(staged), &err), 0);
	snprintf(path, sizeof(path), "%s/%s", staged, file);
	assert_int_equal(lp_write_file(path, "x", 1, &err), 0);
	if (lp_store_commit_layer(st, staged, hex, &err) < 0)
		fail_msg("commit %s: %s", hex, err.msg);
	assert_false(access(staged, F_OK) == 0);
}

static void save(struct lp_store *st, const char *name, const char *bottom, const char *top)
{
	struct lp_err err = { 0 };
	json_t *rec = json_pack("{s:s, s:[s, s]}", "name", name, "layers", bottom, top);

	assert_non_null(rec);
	if (lp_store_save_image(st, rec, &err) < 0)
		fail_msg("save %s: %s", name, err.msg);
	json_decref(rec);
}

static void test_staging_is_cleared(void **state)
{
	struct lp_store st;
	struct lp_err err = { 0 };
	char staged[PATH_MAX];

	(void)state;
	assert_int_equal(lp_store_open(&host, &st, &err), 0);
	assert_int_equal(lp_store_staging(&st, staged, sizeof(staged), &err), 0);
	assert_int_equal(access(staged, F_OK), 0);
	lp_store_close(&st);
	assert_int_equal(access(staged, F_OK), -1);
	/* an import that died (no close) leaves staging to the next opener */
	assert_int_equal(lp_store_open(&host, &st, &err), 0);
	assert_int_equal(lp_store_staging(&st, staged, sizeof(staged), &err), 0);
	close(st.lock_fd);
	assert_int_equal(access(staged, F_OK), 0);
	assert_int_equal(lp_store_open(&host, &st, &err), 0);
	assert_int_equal(access(staged, F_OK), -1);
	lp_store_close(&st);
}

static void test_layers_shared(void **state)
{
	struct lp_store st;
	struct lp_err err = { 0 };

	(void)state;
	assert_int_equal(lp_store_open(&host, &st, &err), 0);
	commit_layer(&st, L1, "first");
	/* the same layer again (another image has it): the store keeps the first */
	commit_layer(&st, L1, "second");
	assert_true(exists("%s/store/layers/%s/first", L1));
	assert_false(exists("%s/store/layers/%s/second", L1));
	lp_store_close(&st);
}

static void test_names_and_records(void **state)
{
	struct lp_store st;
	struct lp_err err = { 0 };
	char ref[LP_IMAGE_REF_MAX], *lower = NULL, want[3 * PATH_MAX];
	json_t *all = NULL, *rec = NULL;

	(void)state;
	assert_int_equal(lp_store_open(&host, &st, &err), 0);
	commit_layer(&st, L1, "a");
	commit_layer(&st, L2, "b");
	save(&st, "web:latest", L1, L2);
	save(&st, "registry.local:5000/app:1.0", L1, L2);
	save(&st, "api@sha256:" L3, L1, L2);

	assert_int_equal(lp_store_resolve(&host, "web", ref, sizeof(ref), &err), 0);
	assert_string_equal(ref, "web:latest");
	/* a port is not a tag: this name has none, and no :latest either */
	assert_int_equal(lp_store_resolve(&host, "registry.local:5000/app", ref, sizeof(ref), &err),
			 -1);
	assert_int_equal(err.code, ENOENT);
	assert_string_equal(err.msg, "no such image: registry.local:5000/app");
	assert_int_equal(lp_store_resolve(&host, "api@sha256:" L3, ref, sizeof(ref), &err), 0);
	/* a pulled image is named by its normalised reference; the short one finds it */
	save(&st, "docker.io/library/alpine:latest", L1, L2);
	assert_int_equal(lp_store_resolve(&host, "alpine", ref, sizeof(ref), &err), 0);
	assert_string_equal(ref, "docker.io/library/alpine:latest");
	assert_int_equal(lp_store_resolve(&host, "library/alpine:latest", ref, sizeof(ref), &err),
			 0);
	assert_string_equal(ref, "docker.io/library/alpine:latest");
	assert_int_equal(lp_store_resolve(&host, "alpine:3", ref, sizeof(ref), &err), -1);
	assert_string_equal(err.msg, "no such image: alpine:3");
	assert_int_equal(lp_store_remove_image(&st, "alpine", &err), 0);
	/* not a path: a name is only hashed into a file name */
	assert_int_equal(lp_store_resolve(&host, "../images/web", ref, sizeof(ref), &err), -1);
	assert_string_equal(err.msg, "no such image: ../images/web");

	assert_int_equal(lp_store_list_images(&host, &all, &err), 0);
	assert_int_equal(json_array_size(all), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(all, 0), "name")),
			    "api@sha256:" L3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(all, 2), "name")),
			    "web:latest");
	json_decref(all);

	assert_int_equal(lp_store_load_image(&host, "web", &rec, &err), 0);
	assert_int_equal(lp_store_lowerdir(&host, rec, &lower, &err), 0);
	snprintf(want, sizeof(want), "%s/store/layers/" L2 ":%s/store/layers/" L1, dir, dir);
	assert_string_equal(lower, want); /* the top layer first, as overlayfs takes them */
	free(lower);
	json_decref(rec);

	assert_int_equal(lp_store_remove_image(&st, "web", &err), 0);
	assert_int_equal(lp_store_load_image(&host, "web", &rec, &err), -1);
	assert_int_equal(err.code, ENOENT);
	assert_int_equal(lp_store_remove_image(&st, "web", &err), -1);
	assert_int_equal(err.code, ENOENT);
	lp_store_close(&st);
}

static void test_lowerdir_refuses(void **state)
{
	struct lp_err err = { 0 };
	char *lower = NULL;
	json_t *rec = json_pack("{s:s, s:[s]}", "name", "gone", "layers", L3);

	(void)state;
	assert_int_equal(lp_store_lowerdir(&host, rec, &lower, &err), -1);
	assert_string_equal(err.msg, "layer 333333333333 is missing from the store");
	json_decref(rec);
	rec = json_pack("{s:s, s:[]}", "name", "empty", "layers");
	assert_int_equal(lp_store_lowerdir(&host, rec, &lower, &err), -1);
	assert_string_equal(err.msg, "image has no layers");
	json_decref(rec);
}

static void test_gc_keeps_what_is_used(void **state)
{
	char *keep[] = { L3, NULL };
	struct lp_store st;
	struct lp_err err = { 0 };
	unsigned int freed = 0;

	(void)state;
	assert_int_equal(lp_store_open(&host, &st, &err), 0);
	commit_layer(&st, L1, "a");
	commit_layer(&st, L2, "b");
	commit_layer(&st, L3, "c");
	save(&st, "only:1", L1, L1);
	/* L2 no image uses; L3 neither, but the caller keeps it (a deployment's) */
	assert_int_equal(lp_store_gc(&st, keep, &freed, &err), 0);
	assert_int_equal(freed, 1);
	assert_true(exists("%s/store/layers/%s", L1));
	assert_false(exists("%s/store/layers/%s", L2));
	assert_true(exists("%s/store/layers/%s", L3));
	assert_int_equal(lp_store_remove_image(&st, "only:1", &err), 0);
	assert_int_equal(lp_store_gc(&st, NULL, &freed, &err), 0);
	assert_int_equal(freed, 2);
	lp_store_close(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_staging_is_cleared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_layers_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_and_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lowerdir_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_keeps_what_is_used, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
