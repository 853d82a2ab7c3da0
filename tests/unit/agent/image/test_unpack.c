// SPDX-License-Identifier: Apache-2.0
/*
 * One image layer through limpet's extraction rules (agent/image/unpack.c),
 * handed over as an import does: the current member of an outer tar.  The
 * layers are written here entry by entry with libarchive, the way GNU tar,
 * umoci or a hostile packer would, so each rule is met on purpose.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/image/unpack.h"
#include "agent/trust/trust.h"
#include "platform/lib/util.h"

#define LAYER_MAX (1 << 20)

static char dir[32], layer[64];
static struct lp_hasher *hasher;

/* One entry of a layer: type 0 is a hard link to target, as GNU tar writes one. */
struct entry {
	const char *path;
	mode_t type;
	const char *data;	/* file content, or the link target */
};

static size_t write_layer(const struct entry *v, size_t n, unsigned char *buf, size_t cap)
{
	struct archive *w = archive_write_new();
	size_t used = 0, i;

	assert_int_equal(archive_write_set_format_pax_restricted(w), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_per_block(w, 0), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(w, buf, cap, &used), ARCHIVE_OK);
	for (i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();

		archive_entry_set_pathname(e, v[i].path);
		if (v[i].type == 0) {
			archive_entry_set_hardlink(e, v[i].data);
			archive_entry_set_mode(e, 0755); /* permission bits only: no type */
		} else {
			archive_entry_set_filetype(e, v[i].type);
			archive_entry_set_perm(e, v[i].type == AE_IFDIR ? 0755 : 0644);
		}
		if (v[i].type == AE_IFLNK)
			archive_entry_set_symlink(e, v[i].data);
		if (v[i].type == AE_IFCHR)
			archive_entry_set_rdev(e, makedev(1, 3));
		if (v[i].type == AE_IFREG)
			archive_entry_set_size(e, (la_int64_t)strlen(v[i].data));
		assert_int_equal(archive_write_header(w, e), ARCHIVE_OK);
		if (v[i].type == AE_IFREG)
			assert_int_equal(archive_write_data(w, v[i].data, strlen(v[i].data)),
					 (la_ssize_t)strlen(v[i].data));
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(w), ARCHIVE_OK);
	archive_write_free(w);
	return used;
}

/* Unpack the n entries into a fresh layer directory; the result of lp_unpack_layer. */
static int unpack(const struct entry *v, size_t n, int64_t max_file, struct lp_layer_result *res,
		  struct lp_err *err)
{
	static unsigned char tar[LAYER_MAX], outer_buf[LAYER_MAX + 8192];
	size_t len = write_layer(v, n, tar, sizeof(tar)), used = 0;
	struct archive *w = archive_write_new(), *r = archive_read_new();
	struct archive_entry *e = archive_entry_new();
	int64_t budget = 4 << 20;
	struct lp_unpack_limits lim = { max_file, &budget };
	struct lp_err ignored;
	char peek[512];
	size_t got = 0;
	la_ssize_t k;
	int rc;

	lp_remove_tree(layer, &ignored);
	assert_int_equal(mkdir(layer, 0755), 0);
	archive_entry_set_pathname(e, "blobs/sha256/layer");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	assert_int_equal(archive_write_set_format_ustar(w), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_per_block(w, 0), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(w, outer_buf, sizeof(outer_buf), &used),
			 ARCHIVE_OK);
	assert_int_equal(archive_write_header(w, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(w, tar, len), (la_ssize_t)len);
	assert_int_equal(archive_write_close(w), ARCHIVE_OK);
	archive_write_free(w);
	archive_entry_free(e);
	archive_read_support_format_tar(r);
	assert_int_equal(archive_read_open_memory(r, outer_buf, used), ARCHIVE_OK);
	assert_int_equal(archive_read_next_header(r, &e), ARCHIVE_OK);
	while (got < sizeof(peek) && (k = archive_read_data(r, peek + got, sizeof(peek) - got)) > 0)
		got += (size_t)k;
	rc = lp_unpack_layer(r, peek, got, layer, &lim, hasher, res, err);
	archive_read_free(r);
	if (rc == 0) {
		/* the diff_id is the sha256 of the tar as written */
		unsigned char want[LP_SHA256_LEN];
		struct lp_sha256 h;

		lp_sha256_init(&h);
		lp_sha256_update(&h, tar, len);
		assert_int_equal(lp_sha256_final(&h, want, err), 0);
		lp_sha256_free(&h);
		assert_memory_equal(res->diff_id, want, LP_SHA256_LEN);
	}
	return rc;
}

static void refused(const struct entry *v, size_t n, const char *msg)
{
	struct lp_layer_result res;
	struct lp_err err = { 0 };
	char outside[64];

	assert_int_equal(unpack(v, n, LAYER_MAX, &res, &err), -1);
	if (!strstr(err.msg, msg))
		fail_msg("\"%s\" does not say \"%s\"", err.msg, msg);
	/* nothing beside the layer directory */
	snprintf(outside, sizeof(outside), "%s/escaped", dir);
	assert_int_equal(access(outside, F_OK), -1);
}

static char *layer_path(const char *rel)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/%s", layer, rel);
	return path;
}

static int setup(void **state)
{
	struct lp_err err = { 0 };

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/limpet-unpack-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(layer, sizeof(layer), "%s/layer", dir);
	return lp_hasher_start(&hasher, &err);
}

static int teardown(void **state)
{
	struct lp_err err;

	(void)state;
	lp_hasher_stop(hasher);
	lp_remove_tree(dir, &err);
	return 0;
}

/* As in Debian's perl-base: a hard link whose mode carries no type (GNU tar, umoci). */
static void test_hardlink_without_type(void **state)
{
	static const struct entry v[] = {
		{ "usr", AE_IFDIR, NULL },
		{ "usr/bin", AE_IFDIR, NULL },
		{ "usr/bin/perl", AE_IFREG, "#!perl\n" },
		{ "usr/bin/perl5.36.0", 0, "usr/bin/perl" },
	};
	struct lp_layer_result res;
	struct lp_err err = { 0 };
	struct stat a, b;

	(void)state;
	if (unpack(v, 4, LAYER_MAX, &res, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(stat(layer_path("usr/bin/perl"), &a), 0);
	assert_int_equal(stat(layer_path("usr/bin/perl5.36.0"), &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(res.files, 4);
}

static void test_escapes_refused(void **state)
{
	static const struct entry dotdot[] = { { "../escaped", AE_IFREG, "x" } };
	static const struct entry absolute[] = { { "/tmp/escaped", AE_IFREG, "x" } };
	static const struct entry link_out[] = { { "x", 0, "../escaped" } };
	static const struct entry through_symlink[] = {
		{ "d", AE_IFLNK, "/tmp" },
		{ "d/escaped", AE_IFREG, "x" },
	};

	(void)state;
	refused(dotdot, 1, "entry ../escaped: '..' escapes the layer");
	refused(absolute, 1, "entry /tmp/escaped: absolute path");
	refused(link_out, 1, "hardlink target ../escaped: '..' escapes the layer");
	refused(through_symlink, 2, "through a symlink in the layer");
}

static void test_what_a_layer_may_not_hold(void **state)
{
	static const struct entry device[] = { { "dev/null", AE_IFCHR, NULL } };
	static const struct entry big[] = { { "big", AE_IFREG, "0123456789" } };
	struct lp_layer_result res;
	struct lp_err err = { 0 };

	(void)state;
	refused(device, 1, "dev/null: device nodes are not allowed in layers");
	assert_int_equal(unpack(big, 1, 9, &res, &err), -1);
	assert_int_equal(err.code, EFBIG);
	assert_non_null(strstr(err.msg, "big: 10 bytes is over the 9-byte file limit"));
}

/* OCI whiteouts become what overlayfs reads: a 0/0 device, an opaque directory. */
static void test_whiteouts(void **state)
{
	static const struct entry v[] = {
		{ "etc", AE_IFDIR, NULL },
		{ "etc/.wh.motd", AE_IFREG, "" },
		{ "var", AE_IFDIR, NULL },
		{ "var/.wh..wh..opq", AE_IFREG, "" },
	};
	struct lp_layer_result res;
	struct lp_err err = { 0 };
	char value[8] = "";
	struct stat st;

	(void)state;
	if (unpack(v, 4, LAYER_MAX, &res, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(lstat(layer_path("etc/motd"), &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(0, 0));
	assert_int_equal(access(layer_path("etc/.wh.motd"), F_OK), -1);
	assert_int_equal(getxattr(layer_path("var"), "trusted.overlay.opaque", value,
				  sizeof(value) - 1),
			 1);
	assert_string_equal(value, "y");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hardlink_without_type),
		cmocka_unit_test(test_escapes_refused),
		cmocka_unit_test(test_what_a_layer_may_not_hold),
		cmocka_unit_test(test_whiteouts),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
