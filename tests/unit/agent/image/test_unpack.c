// SPDX-License-Identifier: Apache-2.0
/*
 * One image layer through limpet's extraction rules (agent/image/unpack.c),
 * handed over as an import does (the current member of an outer tar) and
 * as a registry pull does (a verified blob file).  The layers are written
 * here entry by entry with libarchive, the way GNU tar, umoci or a hostile
 * packer would, so each rule is met on purpose; tests/lib/hostile.py's
 * corpus goes through the file path too.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

/* The layer's bytes, stored with filter (ARCHIVE_FILTER_NONE, _GZIP, _ZSTD). */
static size_t write_layer(const struct entry *v, size_t n, int filter, unsigned char *buf,
			  size_t cap)
{
	struct archive *w = archive_write_new();
	size_t used = 0, i;

	assert_int_equal(archive_write_set_format_pax_restricted(w), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter(w, filter), ARCHIVE_OK);
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

static void sha256_of(const void *data, size_t len, unsigned char out[LP_SHA256_LEN])
{
	struct lp_err err = { 0 };
	struct lp_sha256 h;

	lp_sha256_init(&h);
	lp_sha256_update(&h, data, len);
	assert_int_equal(lp_sha256_final(&h, out, &err), 0);
	lp_sha256_free(&h);
}

static void fresh_layer(void)
{
	struct lp_err ignored;

	lp_remove_tree(layer, &ignored);
	assert_int_equal(mkdir(layer, 0755), 0);
}

/* Unpack the n entries into a fresh layer directory; the result of lp_unpack_layer. */
static int unpack(const struct entry *v, size_t n, int64_t max_file, struct lp_layer_result *res,
		  struct lp_err *err)
{
	static unsigned char tar[LAYER_MAX], outer_buf[LAYER_MAX + 8192];
	size_t len = write_layer(v, n, ARCHIVE_FILTER_NONE, tar, sizeof(tar)), used = 0;
	struct archive *w = archive_write_new(), *r = archive_read_new();
	struct archive_entry *e = archive_entry_new();
	int64_t budget = 4 << 20;
	struct lp_unpack_limits lim = { max_file, &budget };
	char peek[512];
	size_t got = 0;
	la_ssize_t k;
	int rc;

	fresh_layer();
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

		sha256_of(tar, len, want);
		assert_memory_equal(res->diff_id, want, LP_SHA256_LEN);
	}
	return rc;
}

/* Unpack the blob file path (size: what the caller says it holds) into a fresh layer dir. */
static int unpack_fd(const char *path, uint64_t size, bool hash_blob,
		     struct lp_layer_result *res, struct lp_err *err)
{
	int64_t budget = 4 << 20;
	struct lp_unpack_limits lim = { LAYER_MAX, &budget };
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	assert_true(fd >= 0);
	fresh_layer();
	rc = lp_unpack_layer_fd(fd, size, layer, &lim, hasher, hash_blob, res, err);
	close(fd);
	return rc;
}

/*
 * The n entries stored with filter in a file, unpacked from it as a pull
 * does (extra: bytes the caller claims beyond the file's end).
 */
static int unpack_file(const struct entry *v, size_t n, int filter, uint64_t extra,
		       bool hash_blob, struct lp_layer_result *res, struct lp_err *err)
{
	static unsigned char tar[LAYER_MAX], blob[LAYER_MAX];
	size_t tar_len = write_layer(v, n, ARCHIVE_FILTER_NONE, tar, sizeof(tar));
	size_t len = write_layer(v, n, filter, blob, sizeof(blob));
	unsigned char want[LP_SHA256_LEN], zero[LP_SHA256_LEN] = { 0 };
	char path[64];
	int rc;

	snprintf(path, sizeof(path), "%s/blob", dir);
	if (lp_write_file(path, (const char *)blob, len, err) < 0)
		fail_msg("%s", err->msg);
	rc = unpack_fd(path, len + extra, hash_blob, res, err);
	if (rc == 0) {
		sha256_of(tar, tar_len, want);
		assert_memory_equal(res->diff_id, want, LP_SHA256_LEN);
		sha256_of(blob, len, want);
		assert_memory_equal(res->blob_digest, hash_blob ? want : zero, LP_SHA256_LEN);
		assert_int_equal(res->blob_size, len);
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

static const struct entry plain_layer[] = {
	{ "etc", AE_IFDIR, NULL },
	{ "etc/motd", AE_IFREG, "hello\n" },
	{ "etc/link", AE_IFLNK, "motd" },
};

/* A registry pull's layers: a verified blob file, stored as tar, tar+gzip or tar+zstd. */
static void test_layer_from_file(void **state)
{
	static const int filters[] = { ARCHIVE_FILTER_NONE, ARCHIVE_FILTER_GZIP,
				       ARCHIVE_FILTER_ZSTD };
	struct lp_layer_result res;
	struct lp_err err = { 0 };
	char motd[16] = "", target[16] = "";
	size_t i;
	FILE *f;

	(void)state;
	for (i = 0; i < 2 * sizeof(filters) / sizeof(filters[0]); i++) {
		/* each stored form hashed, and not (the download hashed it) */
		if (unpack_file(plain_layer, 3, filters[i / 2], 0, i % 2, &res, &err) < 0)
			fail_msg("filter %d: %s", filters[i / 2], err.msg);
		assert_int_equal(res.files, 3);
		assert_int_equal(res.unpacked, 6);
		f = fopen(layer_path("etc/motd"), "r");
		assert_non_null(f);
		assert_non_null(fgets(motd, sizeof(motd), f));
		fclose(f);
		assert_string_equal(motd, "hello\n");
		assert_int_equal(readlink(layer_path("etc/link"), target, sizeof(target) - 1), 4);
		assert_string_equal(target, "motd");
	}
}

/* A blob file that ends before the size the caller verified. */
static void test_short_file(void **state)
{
	struct lp_layer_result res;
	struct lp_err err = { 0 };

	(void)state;
	assert_int_equal(unpack_file(plain_layer, 3, ARCHIVE_FILTER_NONE, 100, true, &res, &err), -1);
	assert_non_null(strstr(err.msg, "the file ends 100 bytes short of its size"));
	assert_int_equal(err.code, EBADMSG);
	/* the gzip stream is whole, its trailer too: only the blob's digest would miss them */
	assert_int_equal(unpack_file(plain_layer, 3, ARCHIVE_FILTER_GZIP, 7, false, &res, &err), -1);
	assert_non_null(strstr(err.msg, "the file ends 7 bytes short of its size"));
	/* nothing at all */
	assert_int_equal(unpack_fd("/dev/null", 512, true, &res, &err), -1);
	assert_non_null(strstr(err.msg, "the file ends 512 bytes short of its size"));
}

static int device_found(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)type;
	(void)ftw;
	/* whiteouts are 0:0 character devices; anything else would reach hardware */
	return (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) && st->st_rdev != makedev(0, 0);
}

/*
 * tests/lib/hostile.py's layers through the file path: each refused, or
 * neutralised, or accepted as 07-images.t expects of an archive import,
 * and none reaching outside the layer directory.
 */
static void test_hostile_from_file(void **state)
{
	static const char *const targets[] = { "/etc/evil", "/evil", "/tmp/evil", "/tmp/etc/evil" };
	char cmd[256], line[512], path[128], name[64], expect[16];
	struct lp_layer_result res;
	struct stat passwd, after;
	struct lp_err err;
	size_t i, cases = 0;
	FILE *list;
	int rc;

	(void)state;
	if (access("tests/lib/hostile.py", R_OK) < 0)
		skip(); /* not run from the source tree */
	snprintf(cmd, sizeof(cmd), "python3 tests/lib/hostile.py %s/hostile --layers >/dev/null",
		 dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(stat("/etc/passwd", &passwd), 0);
	snprintf(path, sizeof(path), "%s/hostile/cases.txt", dir);
	list = fopen(path, "r");
	assert_non_null(list);
	while (fgets(line, sizeof(line), list)) {
		if (line[0] == '#' || sscanf(line, "%63s %15s", name, expect) != 2)
			continue;
		snprintf(path, sizeof(path), "%s/hostile/layer-%s", dir, name);
		assert_int_equal(stat(path, &after), 0);
		err = (struct lp_err){ 0 };
		rc = unpack_fd(path, (uint64_t)after.st_size, true, &res, &err);
		if (!strcmp(expect, "refuse") && rc == 0)
			fail_msg("%s: taken, should be refused", name);
		if (!strcmp(expect, "accept") && rc < 0)
			fail_msg("%s: refused (%s), should be taken", name, err.msg);
		for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
			if (access(targets[i], F_OK) == 0)
				fail_msg("%s: made %s", name, targets[i]);
		snprintf(path, sizeof(path), "%s/evil", dir);
		if (access(path, F_OK) == 0)
			fail_msg("%s: made %s", name, path);
		assert_int_equal(stat("/etc/passwd", &after), 0);
		if (after.st_nlink != passwd.st_nlink)
			fail_msg("%s: a hard link to /etc/passwd", name);
		if (nftw(layer, device_found, 16, FTW_PHYS) != 0)
			fail_msg("%s: a device node in the layer", name);
		cases++;
	}
	fclose(list);
	assert_true(cases >= 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hardlink_without_type),
		cmocka_unit_test(test_escapes_refused),
		cmocka_unit_test(test_what_a_layer_may_not_hold),
		cmocka_unit_test(test_whiteouts),
		cmocka_unit_test(test_layer_from_file),
		cmocka_unit_test(test_short_file),
		cmocka_unit_test(test_hostile_from_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
