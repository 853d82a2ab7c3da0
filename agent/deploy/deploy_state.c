// SPDX-License-Identifier: Apache-2.0
#include "agent/deploy/deploy_state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/lib/util.h"
#include "agent/trust/trust.h"

static const char *const slots[] = { "current", "previous", "staging" };

int lp_dstate_open(const struct lp_host *host, struct lp_dstate *ds, bool wait, struct lp_err *err)
{
	char lock[PATH_MAX];

	ds->dir_fd = -1;
	ds->lock_fd = -1;
	if (lp_path(ds->dir, sizeof(ds->dir), err, "%s/deployments", host->root) < 0 ||
	    lp_path(lock, sizeof(lock), err, "%s/lock", ds->dir) < 0 ||
	    lp_mkdir_p(ds->dir, 0700, err) < 0)
		return -1;
	ds->dir_fd = open(ds->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ds->dir_fd < 0)
		return lp_fail_errno(err, "open %s", ds->dir);
	ds->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (ds->lock_fd < 0) {
		lp_fail_errno(err, "open %s", lock);
		goto fail;
	}
	/*
	 * Held by this process alone: a health probe caught between fork and
	 * exec must not keep it after `limpet deploy` was killed.
	 */
	if (lp_lock_whole(ds->lock_fd, wait) < 0) {
		if (errno == EAGAIN)
			lp_fail(err, EBUSY, "another deployment is being applied (%s is locked)", lock);
		else
			lp_fail_errno(err, "lock %s", lock);
		goto fail;
	}
	return 0;
fail:
	lp_dstate_close(ds);
	return -1;
}

int lp_dstate_peek(const struct lp_host *host, struct lp_dstate *ds, struct lp_err *err)
{
	ds->lock_fd = -1;
	if (lp_path(ds->dir, sizeof(ds->dir), err, "%s/deployments", host->root) < 0)
		return -1;
	ds->dir_fd = open(ds->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ds->dir_fd < 0)
		return lp_fail_errno(err, "open %s", ds->dir);
	return 0;
}

void lp_dstate_close(struct lp_dstate *ds)
{
	if (ds->lock_fd >= 0)
		close(ds->lock_fd);
	if (ds->dir_fd >= 0)
		close(ds->dir_fd);
	ds->lock_fd = ds->dir_fd = -1;
}

void lp_dslot_free(struct lp_dslot *s)
{
	lp_deploy_free(&s->d);
	memset(s, 0, sizeof(*s));
}

int lp_dstate_slot_target(const struct lp_dstate *ds, const char *slot, char *out, size_t len,
			  struct lp_err *err)
{
	ssize_t n = readlinkat(ds->dir_fd, slot, out, len - 1);

	if (n < 0 && errno == ENOENT)
		return lp_fail(err, ENOENT, "no %s deployment", slot);
	if (n < 0)
		return lp_fail_errno(err, "%s/%s", ds->dir, slot);
	out[n] = '\0';
	if (strchr(out, '/') || out[0] == '.')
		return lp_fail(err, EINVAL, "%s/%s points outside the directory", ds->dir, slot);
	return 0;
}

int lp_dstate_load(const struct lp_dstate *ds, const char *slot, struct lp_dslot *out,
		   struct lp_err *err)
{
	char target[NAME_MAX + 1];

	memset(out, 0, sizeof(*out));
	if (lp_dstate_slot_target(ds, slot, target, sizeof(target), err) < 0)
		return -1;
	return lp_dstate_load_dir(ds, target, out, err);
}

int lp_dstate_load_dir(const struct lp_dstate *ds, const char *name, struct lp_dslot *out,
		       struct lp_err *err)
{
	char path[PATH_MAX];
	unsigned char digest[LP_SHA256_LEN];
	struct lp_sha256 h;
	size_t len;
	char *doc;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!name[0] || strchr(name, '/') || name[0] == '.')
		return lp_fail(err, EINVAL, "'%s' is not a deployment directory", name);
	if (lp_path(out->dir, sizeof(out->dir), err, "%s/%s", ds->dir, name) < 0 ||
	    lp_path(path, sizeof(path), err, "%s/deployment.json", out->dir) < 0 ||
	    lp_read_file(path, LP_DEPLOY_MAX, &doc, &len, err) < 0)
		return -1;
	/* It was verified before it was kept here, in a directory only root can write. */
	rc = lp_deploy_parse(doc, len, &out->d, err);
	lp_sha256_init(&h);
	lp_sha256_update(&h, doc, len);
	free(doc);
	if (lp_sha256_final(&h, digest, err) < 0)
		rc = -1;
	lp_sha256_free(&h);
	if (rc < 0)
		return lp_prefix(err, "%s", path);
	lp_hex(digest, LP_SHA256_LEN, out->sha256);
	return 0;
}

/* Point slot at target (NULL: empty it), atomically and durably. */
static int set_slot(struct lp_dstate *ds, const char *slot, const char *target,
		    struct lp_err *err)
{
	char tmp[NAME_MAX + 1];

	snprintf(tmp, sizeof(tmp), ".%s.new", slot);
	if (!target) {
		if (unlinkat(ds->dir_fd, slot, 0) < 0 && errno != ENOENT)
			return lp_fail_errno(err, "remove %s/%s", ds->dir, slot);
	} else {
		unlinkat(ds->dir_fd, tmp, 0);
		if (symlinkat(target, ds->dir_fd, tmp) < 0 ||
		    renameat(ds->dir_fd, tmp, ds->dir_fd, slot) < 0)
			return lp_fail_errno(err, "switch %s/%s to %s", ds->dir, slot, target);
	}
	if (fsync(ds->dir_fd) < 0)
		return lp_fail_errno(err, "fsync %s", ds->dir);
	return 0;
}

/* fsync a file or a directory by name. */
static int fsync_path(const char *path, struct lp_err *err)
{
	cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return lp_fail_errno(err, "fsync %s", path);
	return 0;
}

/* Copy src into dir/name and fsync it; the bytes are returned for checking. */
static int copy_in(const char *src, const char *dir, const char *name, size_t max, char **bytes,
		   size_t *len, struct lp_err *err)
{
	char dst[PATH_MAX];

	if (lp_read_file_nofollow(src, max, bytes, len, err) < 0 ||
	    lp_path(dst, sizeof(dst), err, "%s/%s", dir, name) < 0)
		return -1;
	if (lp_write_file(dst, *bytes, *len, err) < 0)
		return -1;
	return fsync_path(dst, err);
}

void lp_dstate_dir_name(int64_t version, const char *sha256_hex, char out[NAME_MAX + 1])
{
	snprintf(out, NAME_MAX + 1, "v%lld-%.12s", (long long)version, sha256_hex);
}

int lp_dstate_stage(struct lp_dstate *ds, const char *doc, const char *sig, int64_t version,
		    const unsigned char digest[LP_SHA256_LEN], struct lp_err *err)
{
	char hex[LP_SHA256_HEX_LEN + 1], name[NAME_MAX + 1], dir[PATH_MAX], sig_path[PATH_MAX];
	unsigned char got[LP_SHA256_LEN];
	struct lp_sha256 h;
	char *bytes = NULL;
	size_t len;
	int rc;

	lp_hex(digest, LP_SHA256_LEN, hex);
	lp_dstate_dir_name(version, hex, name);
	if (lp_path(dir, sizeof(dir), err, "%s/%s", ds->dir, name) < 0 ||
	    lp_path(sig_path, sizeof(sig_path), err, "%s%s", sig ? sig : doc, sig ? "" : ".sig") < 0)
		return -1;
	/* A leftover from an attempt that was cut short is replaced. */
	if (lp_remove_tree(dir, err) < 0 || lp_mkdir_p(dir, 0700, err) < 0)
		return -1;
	if (copy_in(doc, dir, "deployment.json", LP_DEPLOY_MAX, &bytes, &len, err) < 0)
		goto out_fail;
	lp_sha256_init(&h);
	lp_sha256_update(&h, bytes, len);
	rc = lp_sha256_final(&h, got, err);
	lp_sha256_free(&h);
	free(bytes);
	bytes = NULL;
	if (rc < 0)
		goto out_fail;
	if (memcmp(got, digest, sizeof(got))) {
		lp_fail(err, EAGAIN, "%s changed while it was applied", doc);
		goto out_fail;
	}
	if (copy_in(sig_path, dir, "deployment.json.sig", LP_SIG_FILE_MAX, &bytes, &len, err) < 0)
		goto out_fail;
	free(bytes);
	/* The copies' names must be on disk before staging points at them. */
	if (fsync_path(dir, err) < 0)
		return -1;
	return set_slot(ds, "staging", name, err);
out_fail:
	free(bytes);
	return -1;
}

int lp_dstate_commit(struct lp_dstate *ds, const char *was_current, const char *next,
		     struct lp_err *err)
{
	/* The order matters: whatever the power does, current is always complete. */
	if ((was_current && was_current[0] && set_slot(ds, "previous", was_current, err) < 0) ||
	    set_slot(ds, "current", next, err) < 0 || set_slot(ds, "staging", NULL, err) < 0)
		return -1;
	return 0;
}

int lp_dstate_unstage(struct lp_dstate *ds, struct lp_err *err)
{
	return set_slot(ds, "staging", NULL, err);
}

void lp_dstate_prune(struct lp_dstate *ds)
{
	char kept[ARRAY_SIZE(slots)][NAME_MAX + 1];
	struct lp_err err;
	struct dirent *de;
	size_t i;
	DIR *d;
	int fd = openat(ds->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	for (i = 0; i < ARRAY_SIZE(slots); i++)
		if (lp_dstate_slot_target(ds, slots[i], kept[i], sizeof(kept[i]), &err) < 0)
			kept[i][0] = '\0';
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		bool keep = false;

		if (de->d_name[0] != 'v' || de->d_type != DT_DIR)
			continue;
		for (i = 0; i < ARRAY_SIZE(slots); i++)
			keep = keep || !strcmp(kept[i], de->d_name);
		if (!keep && lp_path(path, sizeof(path), &err, "%s/%s", ds->dir, de->d_name) == 0)
			lp_remove_tree(path, &err);
	}
	closedir(d);
}

int lp_dstate_write_json(struct lp_dstate *ds, const char *name, json_t *j,
			 struct lp_err *err)
{
	cleanup_free char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	char tmp[NAME_MAX + 1];
	int fd;

	if (!text)
		return lp_fail(err, ENOMEM, "out of memory");
	snprintf(tmp, sizeof(tmp), ".%s.new", name);
	fd = openat(ds->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return lp_fail_errno(err, "open %s/%s", ds->dir, tmp);
	if (lp_write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		lp_fail_errno(err, "write %s/%s", ds->dir, tmp);
		close(fd);
		unlinkat(ds->dir_fd, tmp, 0);
		return -1;
	}
	close(fd);
	if (renameat(ds->dir_fd, tmp, ds->dir_fd, name) < 0) {
		lp_fail_errno(err, "rename %s/%s", ds->dir, name);
		unlinkat(ds->dir_fd, tmp, 0);
		return -1;
	}
	/* Only a synced directory keeps the rename over a power cut. */
	if (fsync(ds->dir_fd) < 0)
		return lp_fail_errno(err, "fsync %s", ds->dir);
	return 0;
}

int lp_dstate_read_json(const struct lp_dstate *ds, const char *name, json_t **out,
			struct lp_err *err)
{
	cleanup_fd int fd = openat(ds->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	json_error_t jerr;

	*out = NULL;
	if (fd < 0 && errno == ENOENT)
		return lp_fail(err, ENOENT, "no %s/%s", ds->dir, name);
	if (fd < 0)
		return lp_fail_errno(err, "open %s/%s", ds->dir, name);
	*out = json_loadfd(fd, 0, &jerr);
	if (!*out)
		return lp_fail(err, EINVAL, "%s/%s: %s", ds->dir, name, jerr.text);
	return 0;
}

int lp_dstate_remove_file(struct lp_dstate *ds, const char *name, struct lp_err *err)
{
	if (unlinkat(ds->dir_fd, name, 0) < 0 && errno != ENOENT)
		return lp_fail_errno(err, "remove %s/%s", ds->dir, name);
	if (fsync(ds->dir_fd) < 0)
		return lp_fail_errno(err, "fsync %s", ds->dir);
	return 0;
}

int lp_dstate_save_result(struct lp_dstate *ds, json_t *result, struct lp_err *err)
{
	return lp_dstate_write_json(ds, "last_result.json", result, err);
}

json_t *lp_dstate_load_result(const struct lp_host *host)
{
	char path[PATH_MAX];
	struct lp_err err;

	if (lp_path(path, sizeof(path), &err, "%s/deployments/last_result.json", host->root) < 0)
		return NULL;
	return json_load_file(path, 0, NULL);
}
