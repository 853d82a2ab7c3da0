// SPDX-License-Identifier: Apache-2.0
/*
 * Layers flattened into a microVM's initramfs show what overlayfs would:
 * whiteouts, opaque directories, files and directories replacing each
 * other; limpet's init and spec are added, the image's own /.limpet is not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "agent/container/initramfs.h"
#include "platform/lib/util.h"

#define SPEC "{\"argv\":[\"/bin/sh\"]}"

static char dir[64];

static void path_in(char *buf, size_t size, const char *rel)
{
	int n = snprintf(buf, size, "%s/%s", dir, rel);

	assert_true(n > 0 && (size_t)n < size);
}

static void mkdirs(const char *rel)
{
	char p[512];
	struct lp_err err;

	path_in(p, sizeof(p), rel);
	assert_int_equal(lp_mkdir_p(p, 0755, &err), 0);
}

static void put(const char *rel, const char *text, mode_t mode)
{
	char p[512];
	struct lp_err err;

	path_in(p, sizeof(p), rel);
	assert_int_equal(lp_write_file(p, text, strlen(text), &err), 0);
	assert_int_equal(chmod(p, mode), 0);
}

static void node(const char *rel, mode_t mode, dev_t dev)
{
	char p[512];

	path_in(p, sizeof(p), rel);
	assert_int_equal(mknod(p, mode, dev), 0);
	assert_int_equal(chmod(p, mode & 07777), 0);	/* past the umask */
}

static void whiteout(const char *rel)
{
	node(rel, S_IFCHR, makedev(0, 0));
}

static void opaque(const char *rel)
{
	char p[512];

	path_in(p, sizeof(p), rel);
	assert_int_equal(lsetxattr(p, "trusted.overlay.opaque", "y", 1, 0), 0);
}

static void make_link(const char *target, const char *rel)
{
	char p[512];

	path_in(p, sizeof(p), rel);
	assert_int_equal(symlink(target, p), 0);
}

static void hard_link(const char *from, const char *to)
{
	char a[512], b[512];

	path_in(a, sizeof(a), from);
	path_in(b, sizeof(b), to);
	assert_int_equal(link(a, b), 0);
}

/* l2 is the bottom layer, l0 the top. */
static void make_layers(void)
{
	char p[512];

	mkdirs("l2/bin");
	put("l2/bin/sh", "shell", 0755);
	hard_link("l2/bin/sh", "l2/bin/sh2");
	make_link("sh", "l2/bin/link");
	mkdirs("l2/etc");
	put("l2/etc/passwd", "root:x:0:0\n", 0644);
	put("l2/etc/hosts", "hosts-old", 0644);
	put("l2/gone", "x", 0644);
	mkdirs("l2/opq/sub");
	put("l2/opq/old", "old", 0644);
	put("l2/opq/sub/deep", "deep", 0644);
	put("l2/f2d", "was a file", 0644);
	mkdirs("l2/d2f");
	put("l2/d2f/inner", "inner", 0644);
	mkdirs("l2/dev");
	node("l2/dev/tty5", S_IFCHR | 0620, makedev(4, 5));
	mkdirs("l2/run");
	node("l2/run/fifo", S_IFIFO | 0600, 0);
	mkdirs("l2/bin2/dir");
	put("l2/bin2/dir/x", "x", 0644);
	mkdirs("l2/.limpet");
	put("l2/.limpet/init", "the image's own", 0755);
	put("l2/.limpet/other", "x", 0644);

	mkdirs("l1/opq");
	opaque("l1/opq");
	put("l1/opq/new", "new", 0644);
	whiteout("l1/gone");
	mkdirs("l1/f2d");
	put("l1/f2d/child", "c", 0644);
	put("l1/d2f", "now a file", 0644);
	mkdirs("l1/etc");
	put("l1/etc/hosts", "hosts-new", 0644);
	whiteout("l1/etc/nothing-below");

	mkdirs("l0/etc");
	put("l0/etc/passwd", "root:x:0:0:top\n", 0600);
	path_in(p, sizeof(p), "l0/etc/passwd");
	assert_int_equal(chown(p, 1000, 1000), 0);
	mkdirs("l0/bin");
	put("l0/bin/extra", "extra", 0700);
	whiteout("l0/bin2");
	path_in(p, sizeof(p), "l0");
	assert_int_equal(chmod(p, 0755), 0);

	put("init", "#!init", 0644);
}

static int setup(void **state)
{
	(void)state;
	umask(022);
	/* Not /tmp: the trusted.* xattr needs a file system that keeps it (tmpfs may not). */
	snprintf(dir, sizeof(dir), "%s", "/var/tmp/limpet-initramfs-XXXXXX");
	assert_non_null(mkdtemp(dir));
	make_layers();
	return 0;
}

static int teardown(void **state)
{
	struct lp_err err;

	(void)state;
	assert_int_equal(lp_remove_tree(dir, &err), 0);
	return 0;
}

struct entry {
	const char *path;
	mode_t mode;
	const char *data;	/* file contents or symlink target; NULL: none */
	unsigned int uid, gid;
	unsigned int major, minor;
};

#define D(p, m) { .path = (p), .mode = S_IFDIR | (m) }
#define F(p, m, d) { .path = (p), .mode = S_IFREG | (m), .data = (d) }

static const struct entry expected[] = {
	D(".", 0755),
	D(".limpet", 0700),
	F(".limpet/init", 0755, "#!init"),
	F(".limpet/spec.json", 0600, SPEC),
	D("bin", 0755),
	F("bin/extra", 0700, "extra"),
	{ .path = "bin/link", .mode = S_IFLNK | 0777, .data = "sh" },
	F("bin/sh", 0755, "shell"),
	F("bin/sh2", 0755, "shell"),	/* a hard link, now a copy */
	F("d2f", 0644, "now a file"),
	D("dev", 0755),
	{ .path = "dev/tty5", .mode = S_IFCHR | 0620, .major = 4, .minor = 5 },
	D("etc", 0755),
	F("etc/hosts", 0644, "hosts-new"),
	{ .path = "etc/passwd", .mode = S_IFREG | 0600, .data = "root:x:0:0:top\n",
	  .uid = 1000, .gid = 1000 },
	D("f2d", 0755),
	F("f2d/child", 0644, "c"),
	D("opq", 0755),
	F("opq/new", 0644, "new"),
	D("run", 0755),
	{ .path = "run/fifo", .mode = S_IFIFO | 0600 },
};

static void check_entry(struct archive *a, struct archive_entry *e, const struct entry *want)
{
	char data[256];
	la_ssize_t n;

	assert_string_equal(archive_entry_pathname(e), want->path);
	assert_int_equal(archive_entry_mode(e), want->mode);
	assert_int_equal(archive_entry_uid(e), want->uid);
	assert_int_equal(archive_entry_gid(e), want->gid);
	assert_int_equal(archive_entry_nlink(e), S_ISDIR(want->mode) ? 2 : 1);
	if (S_ISCHR(want->mode)) {
		assert_int_equal(archive_entry_rdevmajor(e), want->major);
		assert_int_equal(archive_entry_rdevminor(e), want->minor);
	}
	if (S_ISLNK(want->mode)) {
		assert_string_equal(archive_entry_symlink(e), want->data);
		return;
	}
	n = archive_read_data(a, data, sizeof(data) - 1);
	assert_true(n >= 0);
	data[n] = '\0';
	assert_int_equal(archive_entry_size(e), n);
	assert_string_equal(data, want->data ? want->data : "");
}

static void check_archive(const char *path)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	size_t i = 0;
	int rc;

	assert_non_null(a);
	assert_int_equal(archive_read_support_format_cpio(a), ARCHIVE_OK);
	assert_int_equal(archive_read_open_filename(a, path, 16384), ARCHIVE_OK);
	while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		if (i == ARRAY_SIZE(expected))
			fail_msg("unexpected entry %s", archive_entry_pathname(e));
		check_entry(a, e, &expected[i++]);
	}
	assert_int_equal(rc, ARCHIVE_EOF);
	assert_int_equal(i, ARRAY_SIZE(expected));
	assert_int_equal(archive_format(a), ARCHIVE_FORMAT_CPIO_SVR4_NOCRC);
	archive_read_free(a);
}

static void test_layers_flattened(void **state)
{
	char lower[512], init[256], out[256], tmp[256], *first = NULL, *second = NULL;
	struct lp_err err = { 0 };
	size_t len1, len2;
	int n;

	(void)state;
	n = snprintf(lower, sizeof(lower), "%s/l0:%s/l1:%s/l2", dir, dir, dir);
	assert_true(n > 0 && (size_t)n < sizeof(lower));
	path_in(init, sizeof(init), "init");
	path_in(out, sizeof(out), "initrd");
	path_in(tmp, sizeof(tmp), "initrd.tmp");
	if (lp_initramfs_write(lower, init, SPEC, out, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(access(tmp, F_OK), -1);
	check_archive(out);

	/* The same layers give the same bytes. */
	assert_int_equal(lp_read_file(out, 1 << 20, &first, &len1, &err), 0);
	assert_int_equal(lp_initramfs_write(lower, init, SPEC, out, &err), 0);
	assert_int_equal(lp_read_file(out, 1 << 20, &second, &len2, &err), 0);
	assert_int_equal(len1, len2);
	assert_memory_equal(first, second, len1);
	free(first);
	free(second);
}

static void test_missing_layer(void **state)
{
	char lower[512], missing[256], init[256], out[256], tmp[256];
	struct lp_err err = { 0 };

	(void)state;
	path_in(missing, sizeof(missing), "no-such-layer");
	snprintf(lower, sizeof(lower), "%s/l0:%s", dir, missing);
	path_in(init, sizeof(init), "init");
	path_in(out, sizeof(out), "bad-initrd");
	path_in(tmp, sizeof(tmp), "bad-initrd.tmp");
	assert_int_equal(lp_initramfs_write(lower, init, SPEC, out, &err), -1);
	assert_int_equal(err.code, ENOENT);
	assert_non_null(strstr(err.msg, "initramfs: open layer "));
	assert_non_null(strstr(err.msg, missing));
	assert_int_equal(access(out, F_OK), -1);
	assert_int_equal(access(tmp, F_OK), -1);
}

static void test_missing_init(void **state)
{
	char lower[512], init[256], out[256], tmp[256];
	struct lp_err err = { 0 };

	(void)state;
	path_in(lower, sizeof(lower), "l0");
	path_in(init, sizeof(init), "no-such-init");
	path_in(out, sizeof(out), "bad-initrd");
	path_in(tmp, sizeof(tmp), "bad-initrd.tmp");
	assert_int_equal(lp_initramfs_write(lower, init, SPEC, out, &err), -1);
	assert_int_equal(err.code, ENOENT);
	assert_non_null(strstr(err.msg, init));
	assert_int_equal(access(out, F_OK), -1);
	assert_int_equal(access(tmp, F_OK), -1);
}

static void test_empty_layer_name(void **state)
{
	char lower[512], init[256], out[256];
	struct lp_err err = { 0 };

	(void)state;
	snprintf(lower, sizeof(lower), "%s/l0::%s/l1", dir, dir);
	path_in(init, sizeof(init), "init");
	path_in(out, sizeof(out), "bad-initrd");
	assert_int_equal(lp_initramfs_write(lower, init, SPEC, out, &err), -1);
	assert_non_null(strstr(err.msg, "an empty layer"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layers_flattened),
		cmocka_unit_test(test_missing_layer),
		cmocka_unit_test(test_missing_init),
		cmocka_unit_test(test_empty_layer_name),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
