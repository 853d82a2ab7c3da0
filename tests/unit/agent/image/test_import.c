// SPDX-License-Identifier: Apache-2.0
/*
 * lp_image_import (agent/image/import.c) and the digest of the whole
 * archive: a file the import opens itself is hashed again as it is read, so
 * one that changed since its digest was checked is refused; a file the
 * caller downloaded and hands over open (own_fd) is read through that fd
 * and not hashed again, whatever its path holds meanwhile.  The archives are
 * the smallest `docker save` ones: one layer of one file.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/config/config.h"
#include "agent/config/host.h"
#include "agent/image/import.h"
#include "agent/image/store.h"
#include "agent/trust/trust.h"
#include "platform/lib/util.h"

static char dir[32];
static char path[PATH_MAX];
static struct lp_host host;

static int setup(void **state)
{
	struct lp_err err = { 0 };

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/limpet-import-XXXXXX");
	if (!mkdtemp(dir) || lp_config_defaults(&host.cfg, &err) < 0)
		return -1;
	snprintf(host.root, sizeof(host.root), "%s/root", dir);
	snprintf(host.run_dir, sizeof(host.run_dir), "%s/run", dir);
	snprintf(path, sizeof(path), "%s/image.tar", dir);
	return 0;
}

static int teardown(void **state)
{
	struct lp_err err;

	(void)state;
	lp_remove_tree(dir, &err);
	lp_config_free(&host.cfg);
	return 0;
}

static void sha256(const void *data, size_t len, unsigned char out[LP_SHA256_LEN])
{
	struct lp_err err = { 0 };

	assert_int_equal(lp_sha256_buf(data, len, out, &err), 0);
}

static void put(struct archive *w, const char *name, const void *data, size_t len)
{
	struct archive_entry *e = archive_entry_new();

	assert_non_null(e);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	assert_int_equal(archive_write_header(w, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(w, data, len), (la_ssize_t)len);
	archive_entry_free(e);
}

/*
 * A docker save archive at file whose one layer holds "hello" with text in
 * it; *diff_id (the layer's hex) and *digest (the archive's) for the checks.
 */
static void make_archive(const char *file, const char *text, char diff_id[LP_SHA256_HEX_LEN + 1],
			 unsigned char digest[LP_SHA256_LEN])
{
	static char layer[8192];
	struct archive *w = archive_write_new();
	unsigned char d[LP_SHA256_LEN];
	char cfg[512], *buf;
	size_t used = 0, len;
	struct lp_err err = { 0 };

	assert_non_null(w);
	assert_int_equal(archive_write_set_format_ustar(w), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_per_block(w, 0), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(w, layer, sizeof(layer), &used), ARCHIVE_OK);
	put(w, "hello", text, strlen(text));
	assert_int_equal(archive_write_close(w), ARCHIVE_OK);
	archive_write_free(w);
	sha256(layer, used, d);
	lp_hex(d, sizeof(d), diff_id);
	snprintf(cfg, sizeof(cfg),
		 "{\"architecture\":\"amd64\",\"os\":\"linux\","
		 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%s\"]}}",
		 diff_id);

	w = archive_write_new();
	assert_non_null(w);
	assert_int_equal(archive_write_set_format_ustar(w), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(w, file), ARCHIVE_OK);
	put(w, "layer.tar", layer, used);
	put(w, "cfg.json", cfg, strlen(cfg));
	put(w, "manifest.json",
	    "[{\"Config\":\"cfg.json\",\"RepoTags\":[\"t:1\"],\"Layers\":[\"layer.tar\"]}]",
	    strlen("[{\"Config\":\"cfg.json\",\"RepoTags\":[\"t:1\"],\"Layers\":[\"layer.tar\"]}]"));
	assert_int_equal(archive_write_close(w), ARCHIVE_OK);
	archive_write_free(w);

	assert_int_equal(lp_read_file(file, 1 << 20, &buf, &len, &err), 0);
	sha256(buf, len, digest);
	free(buf);
}

/* Another archive where file was: a new inode, as a download renamed into place. */
static void replace(const char *file, const char *text)
{
	char other[PATH_MAX + 8], hex[LP_SHA256_HEX_LEN + 1];
	unsigned char digest[LP_SHA256_LEN];

	snprintf(other, sizeof(other), "%s.new", file);
	make_archive(other, text, hex, digest);
	assert_int_equal(rename(other, file), 0);
}

/* The store's record of name: its one layer's diff_id and its archive_sha256. */
static void check_record(const char *name, const char *diff_id, const unsigned char archive[32])
{
	char hex[LP_SHA256_HEX_LEN + 1];
	struct lp_err err = { 0 };
	json_t *rec;

	if (lp_store_load_image(&host, name, &rec, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(json_string_value(json_array_get(json_object_get(rec, "layers"), 0)),
			    diff_id);
	lp_hex(archive, 32, hex);
	assert_string_equal(json_string_value(json_object_get(rec, "archive_sha256")), hex);
	json_decref(rec);
}

/* Checked against a pin, then swapped for another archive: the import notices. */
static void test_changed_file_refused(void **state)
{
	struct lp_import_opts o = { .file = path, .platform = "linux/amd64" };
	char hex[LP_SHA256_HEX_LEN + 1];
	unsigned char digest[LP_SHA256_LEN];
	struct lp_err err = { 0 };
	char *name = NULL;

	(void)state;
	make_archive(path, "one\n", hex, digest);
	o.pinned_sha256 = digest;
	o.pinned_checked = true;
	replace(path, "two\n");
	assert_int_equal(lp_image_import(&host, &o, &name, &err), -1);
	assert_int_equal(err.code, EAGAIN);
	assert_non_null(strstr(err.msg, "changed while it was imported"));
	assert_null(name);
}

/*
 * The caller's own fd is what is imported, by the digest the caller took as
 * it wrote the file, whatever the path names by then.
 */
static void test_own_fd_pinned(void **state)
{
	struct lp_import_opts o = { .file = path, .platform = "linux/amd64", .name = "pinned" };
	char hex[LP_SHA256_HEX_LEN + 1];
	unsigned char digest[LP_SHA256_LEN];
	struct lp_err err = { 0 };
	char *name = NULL;
	int fd;

	(void)state;
	make_archive(path, "one\n", hex, digest);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	/* the import reads from the start, wherever the caller left the offset */
	assert_int_equal(lseek(fd, 100, SEEK_SET), 100);
	replace(path, "two\n");
	o.own_fd = true;
	o.fd = fd;
	o.pinned_sha256 = digest;
	o.pinned_checked = true;
	if (lp_image_import(&host, &o, &name, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(name, "pinned");
	check_record(name, hex, digest);
	free(name);
	/* still the caller's to close */
	assert_int_equal(close(fd), 0);
}

static void test_own_fd_signed(void **state)
{
	struct lp_import_opts o = { .file = path, .platform = "linux/amd64", .name = "signed" };
	char hex[LP_SHA256_HEX_LEN + 1], key[PATH_MAX], pub[PATH_MAX], sig[PATH_MAX + 8];
	unsigned char digest[LP_SHA256_LEN];
	cleanup_trust struct lp_trust trust = { 0 };
	struct lp_err err = { 0 };
	char *name = NULL;
	int fd;

	(void)state;
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(pub, sizeof(pub), "%s/key.pub", dir);
	snprintf(sig, sizeof(sig), "%s.sig", path);
	lp_trust_init(&trust);
	if (lp_keygen(key, pub, &err) < 0 || lp_trust_add_key(&trust, pub, &err) < 0)
		fail_msg("%s", err.msg);
	make_archive(path, "one\n", hex, digest);
	if (lp_sign_digest_to_file(key, digest, sig, &err) < 0)
		fail_msg("%s", err.msg);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	replace(path, "two\n");
	o.own_fd = true;
	o.fd = fd;
	o.file_sha256 = digest;
	o.trust = &trust;
	if (lp_image_import(&host, &o, &name, &err) < 0)
		fail_msg("%s", err.msg);
	check_record(name, hex, digest);
	free(name);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_changed_file_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_fd_pinned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_fd_signed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
