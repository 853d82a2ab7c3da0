// SPDX-License-Identifier: Apache-2.0
#include "agent/image/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/lib/util.h"
#include "agent/spec/image_ref.h"
#include "agent/spec/json.h"
#include "agent/spec/parse.h"
#include "agent/trust/trust.h"

#define RECORD_MAX (16 * 1024 * 1024)

static int store_path(const char *base, char *out, size_t len, struct lp_err *err,
		      const char *leaf)
{
	return lp_path(out, len, err, "%s/%s", base, leaf);
}

static int fsync_dir(const char *dir, struct lp_err *err)
{
	cleanup_fd int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return lp_fail_errno(err, "fsync %s", dir);
	return 0;
}

static int clean_staging(const char *dir, struct lp_err *err)
{
	char staging[PATH_MAX];

	if (store_path(dir, staging, sizeof(staging), err, "staging") < 0)
		return -1;
	/* We hold the lock: anything in staging belongs to an import that died. */
	if (lp_remove_tree(staging, err) < 0)
		return -1;
	return lp_mkdir_p(staging, 0700, err);
}

int lp_store_open(const struct lp_host *host, struct lp_store *st, struct lp_err *err)
{
	static const char *const subdirs[] = { "layers", "images" };
	char path[PATH_MAX];
	size_t i;

	st->lock_fd = -1;
	if (lp_path(st->dir, sizeof(st->dir), err, "%s/store", host->root) < 0 ||
	    lp_mkdir_p(st->dir, 0711, err) < 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(subdirs); i++)
		if (store_path(st->dir, path, sizeof(path), err, subdirs[i]) < 0 ||
		    lp_mkdir_p(path, 0711, err) < 0)
			return -1;
	if (store_path(st->dir, path, sizeof(path), err, "lock") < 0)
		return -1;
	st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lock_fd < 0)
		return lp_fail_errno(err, "open %s", path);
	/* Imports, rm and gc take turns; readers (ls, run) need no lock. */
	if (lp_lock_whole(st->lock_fd, true) < 0) {
		lp_fail_errno(err, "lock %s", path);
		close(st->lock_fd);
		st->lock_fd = -1;
		return -1;
	}
	if (clean_staging(st->dir, err) < 0) {
		lp_store_close(st);
		return -1;
	}
	return 0;
}

void lp_store_close(struct lp_store *st)
{
	struct lp_err ignored;

	if (st->lock_fd < 0)
		return;
	clean_staging(st->dir, &ignored);
	close(st->lock_fd);
	st->lock_fd = -1;
}

int lp_store_staging(struct lp_store *st, char *out, size_t len, struct lp_err *err)
{
	unsigned char r[8];
	char hex[17];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return lp_fail_errno(err, "getrandom");
	lp_hex(r, sizeof(r), hex);
	if (lp_path(out, len, err, "%s/staging/%s", st->dir, hex) < 0)
		return -1;
	if (mkdir(out, 0755) < 0)
		return lp_fail_errno(err, "mkdir %s", out);
	return 0;
}

int lp_store_layer_dir(const struct lp_store *st, const char *diff_hex, char *out, size_t len,
		       struct lp_err *err)
{
	return lp_path(out, len, err, "%s/layers/%s", st->dir, diff_hex);
}

int lp_store_commit_layer(struct lp_store *st, const char *staged, const char *diff_hex,
			  struct lp_err *err)
{
	char final[PATH_MAX], layers[PATH_MAX];

	if (lp_store_layer_dir(st, diff_hex, final, sizeof(final), err) < 0 ||
	    store_path(st->dir, layers, sizeof(layers), err, "layers") < 0)
		return -1;
	if (access(final, F_OK) == 0)
		return lp_remove_tree(staged, err); /* shared with an image we have */
	/* syncfs: the layer's files must be on disk before its name is. */
	{
		cleanup_fd int fd = open(staged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0 || syncfs(fd) < 0)
			return lp_fail_errno(err, "sync %s", staged);
	}
	if (rename(staged, final) < 0)
		return lp_fail_errno(err, "rename %s to %s", staged, final);
	return fsync_dir(layers, err);
}

static int record_path(const char *store_dir, const char *name, char *out, size_t len,
		       struct lp_err *err)
{
	struct lp_sha256 h;
	unsigned char d[32];
	char hex[65];

	/* Names hold '/' and ':'; a hash makes a safe file name of any of them. */
	lp_sha256_init(&h);
	lp_sha256_update(&h, name, strlen(name));
	if (lp_sha256_final(&h, d, err) < 0) {
		lp_sha256_free(&h);
		return -1;
	}
	lp_sha256_free(&h);
	lp_hex(d, sizeof(d), hex);
	return lp_path(out, len, err, "%s/images/%s.json", store_dir, hex);
}

int lp_store_save_image(struct lp_store *st, json_t *record, struct lp_err *err)
{
	const char *name = json_string_value(json_object_get(record, "name"));
	char path[PATH_MAX], images[PATH_MAX];
	char *text;
	int rc;

	if (!name || record_path(st->dir, name, path, sizeof(path), err) < 0 ||
	    store_path(st->dir, images, sizeof(images), err, "images") < 0)
		return name ? -1 : lp_fail(err, EINVAL, "image record without a name");
	text = json_dumps(record, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		return lp_fail(err, ENOMEM, "image %s: cannot encode its record", name);
	rc = lp_write_file_atomic(path, text, strlen(text), err);
	free(text);
	return rc < 0 ? -1 : fsync_dir(images, err);
}

static int load_record_file(const char *path, json_t **record, struct lp_err *err)
{
	cleanup_free char *text = NULL;
	json_error_t jerr;

	if (lp_read_file(path, RECORD_MAX, &text, NULL, err) < 0)
		return -1;
	*record = json_loads(text, 0, &jerr);
	if (!*record)
		return lp_fail(err, EINVAL, "%s: %s", path, jerr.text);
	return 0;
}

/* name as a registry reference, normalised, when that is another name. */
static bool normalised(const char *name, char *out, size_t len)
{
	struct lp_image_ref ref;
	struct lp_err ignored;

	return lp_image_ref_parse(name, &ref, &ignored) == 0 &&
	       lp_image_ref_format(&ref, out, len) == 0 && strcmp(out, name) &&
	       strlen(out) <= LP_IMAGE_NAME_MAX;
}

/* The stored name `name` means in the store at store_dir (see lp_store_resolve). */
static int resolve_in(const char *store_dir, const char *name, char *out, size_t len,
		      struct lp_err *err)
{
	char path[PATH_MAX];
	const char *last = strrchr(name, '/') ? strrchr(name, '/') : name;

	if (lp_image_name_valid(name, err) < 0 ||
	    record_path(store_dir, name, path, sizeof(path), err) < 0)
		return -1;
	if (access(path, F_OK) == 0)
		return lp_path(out, len, err, "%s", name);
	/* As with docker: a name without a tag means its :latest. */
	if (!strchr(last, ':') && !strchr(name, '@')) {
		if (lp_path(out, len, err, "%s:latest", name) < 0 ||
		    record_path(store_dir, out, path, sizeof(path), err) < 0)
			return -1;
		if (access(path, F_OK) == 0)
			return 0;
	}
	/* A pulled image is stored under its normalised reference: alpine is docker.io/library/alpine:latest. */
	if (normalised(name, out, len) && record_path(store_dir, out, path, sizeof(path), err) == 0 &&
	    access(path, F_OK) == 0)
		return 0;
	return lp_fail(err, ENOENT, "no such image: %s", name);
}

int lp_store_resolve(const struct lp_host *host, const char *name, char *out, size_t len,
		     struct lp_err *err)
{
	char dir[PATH_MAX];

	if (lp_path(dir, sizeof(dir), err, "%s/store", host->root) < 0)
		return -1;
	return resolve_in(dir, name, out, len, err);
}

int lp_store_load_image(const struct lp_host *host, const char *name, json_t **record,
			struct lp_err *err)
{
	char dir[PATH_MAX], path[PATH_MAX], stored[LP_IMAGE_REF_MAX];

	if (lp_store_resolve(host, name, stored, sizeof(stored), err) < 0 ||
	    lp_path(dir, sizeof(dir), err, "%s/store", host->root) < 0 ||
	    record_path(dir, stored, path, sizeof(path), err) < 0)
		return -1;
	return load_record_file(path, record, err);
}

static int by_name(const void *a, const void *b)
{
	const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
	const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));

	return strcmp(x ? x : "", y ? y : "");
}

int lp_store_list_images(const struct lp_host *host, json_t **records, struct lp_err *err)
{
	char dir[PATH_MAX], path[PATH_MAX];
	json_t *all = json_array(), *rec, **v;
	struct dirent *de;
	size_t i, n;
	DIR *d;

	if (!all || lp_path(dir, sizeof(dir), err, "%s/store/images", host->root) < 0) {
		json_decref(all);
		return all ? -1 : lp_fail(err, ENOMEM, "out of memory");
	}
	*records = all;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : lp_fail_errno(err, "open %s", dir);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		if (lp_path(path, sizeof(path), err, "%s/%s", dir, de->d_name) < 0 ||
		    load_record_file(path, &rec, err) < 0) {
			closedir(d);
			return -1;
		}
		json_array_append_new(all, rec);
	}
	closedir(d);
	/* Sort through a plain array: jansson has no sort of its own. */
	n = json_array_size(all);
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return lp_fail(err, ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(all, i));
	qsort(v, n, sizeof(*v), by_name);
	json_array_clear(all);
	for (i = 0; i < n; i++)
		json_array_append_new(all, v[i]);
	free(v);
	return 0;
}

int lp_store_remove_image(struct lp_store *st, const char *name, struct lp_err *err)
{
	char path[PATH_MAX], stored[LP_IMAGE_REF_MAX];

	if (resolve_in(st->dir, name, stored, sizeof(stored), err) < 0 ||
	    record_path(st->dir, stored, path, sizeof(path), err) < 0)
		return -1;
	if (unlink(path) < 0)
		return errno == ENOENT ? lp_fail(err, ENOENT, "no such image: %s", name)
				       : lp_fail_errno(err, "remove %s", path);
	return 0;
}

static bool listed(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (!strcmp(*v, s))
			return true;
	return false;
}

static bool referenced(json_t *records, const char *hex)
{
	json_t *rec, *layer;
	size_t i, j;

	json_array_foreach(records, i, rec)
		json_array_foreach(json_object_get(rec, "layers"), j, layer)
			if (!strcmp(json_string_value(layer) ? json_string_value(layer) : "", hex))
				return true;
	return false;
}

int lp_store_gc(struct lp_store *st, char *const *keep, unsigned int *freed, struct lp_err *err)
{
	struct lp_host host = { 0 };
	char layers[PATH_MAX], path[PATH_MAX];
	cleanup_json json_t *records = NULL;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	*freed = 0;
	/* The store lives at ROOT/store: list the records through the same code as ls. */
	snprintf(host.root, sizeof(host.root), "%.*s", (int)(strlen(st->dir) - strlen("/store")),
		 st->dir);
	if (lp_store_list_images(&host, &records, err) < 0 ||
	    store_path(st->dir, layers, sizeof(layers), err, "layers") < 0)
		return -1;
	d = opendir(layers);
	if (!d)
		return lp_fail_errno(err, "open %s", layers);
	while ((de = readdir(d)) != NULL && rc == 0) {
		if (de->d_name[0] == '.' || referenced(records, de->d_name) ||
		    listed(keep, de->d_name))
			continue;
		rc = lp_path(path, sizeof(path), err, "%s/%s", layers, de->d_name);
		if (rc == 0)
			rc = lp_remove_tree(path, err);
		if (rc == 0)
			(*freed)++;
	}
	closedir(d);
	return rc;
}

int lp_store_lowerdir(const struct lp_host *host, json_t *record, char **lowerdir,
		      struct lp_err *err)
{
	json_t *layers = json_object_get(record, "layers");
	size_t n = json_array_size(layers), i, len = 0;
	char path[PATH_MAX];
	char *out;

	if (!n)
		return lp_fail(err, EINVAL, "image has no layers");
	out = calloc(n, PATH_MAX + 1);
	if (!out)
		return lp_fail(err, ENOMEM, "out of memory");
	/* overlayfs lists the top layer first; records go bottom first. */
	for (i = n; i-- > 0;) {
		const char *hex = json_string_value(json_array_get(layers, i));

		if (!hex ||
		    lp_path(path, sizeof(path), err, "%s/store/layers/%s", host->root, hex) < 0) {
			free(out);
			return hex ? -1 : lp_fail(err, EINVAL, "bad layer in image record");
		}
		if (access(path, F_OK) < 0) {
			free(out);
			return lp_fail(err, ENOENT, "layer %.12s is missing from the store", hex);
		}
		len += (size_t)sprintf(out + len, "%s%s", len ? ":" : "", path);
	}
	*lowerdir = out;
	return 0;
}
