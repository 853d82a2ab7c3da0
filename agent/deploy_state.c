// SPDX-License-Identifier: Apache-2.0
#include "deploy_state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/lib/util.h"
#include "trust.h"

static const char *const slots[] = { "current", "previous", "staging" };

int lp_dstate_open(struct lp_globals *g, struct lp_dstate *ds, bool wait, struct lp_err *err)
{
	struct flock whole = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char lock[PATH_MAX];

	ds->dir_fd = -1;
	ds->lock_fd = -1;
	if (lp_path(ds->dir, sizeof(ds->dir), err, "%s/deployments", g->root) < 0 ||
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
	 * A POSIX record lock, not flock(): it belongs to this process alone.
	 * A flock() is shared with every child forked while it is held, so a
	 * health probe caught between fork and exec kept it after `limpet
	 * deploy` was killed, and the next apply was told to try later.
	 * Such a lock also ends when this process closes any descriptor of
	 * the file: nothing but this function opens it.
	 */
	while (fcntl(ds->lock_fd, wait ? F_SETLKW : F_SETLK, &whole) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EACCES)
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

int lp_dstate_peek(struct lp_globals *g, struct lp_dstate *ds, struct lp_err *err)
{
	ds->lock_fd = -1;
	if (lp_path(ds->dir, sizeof(ds->dir), err, "%s/deployments", g->root) < 0)
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

/* Where slot points ("v3-0123456789ab"); ENOENT when it is empty. */
static int slot_target(const struct lp_dstate *ds, const char *slot, char *out, size_t len,
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
	char target[NAME_MAX + 1], path[PATH_MAX];
	unsigned char digest[LP_SHA256_LEN];
	struct lp_sha256 h;
	size_t len;
	char *doc;
	int rc;

	memset(out, 0, sizeof(*out));
	if (slot_target(ds, slot, target, sizeof(target), err) < 0)
		return -1;
	if (lp_path(out->dir, sizeof(out->dir), err, "%s/%s", ds->dir, target) < 0 ||
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

/* Copy src into dir/name and fsync it; the bytes are returned for checking. */
static int copy_in(const char *src, const char *dir, const char *name, size_t max, char **bytes,
		   size_t *len, struct lp_err *err)
{
	char dst[PATH_MAX];
	int fd;

	if (lp_read_file_nofollow(src, max, bytes, len, err) < 0 ||
	    lp_path(dst, sizeof(dst), err, "%s/%s", dir, name) < 0)
		return -1;
	if (lp_write_file(dst, *bytes, *len, err) < 0)
		return -1;
	fd = open(dst, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		if (fd >= 0)
			close(fd);
		return lp_fail_errno(err, "fsync %s", dst);
	}
	close(fd);
	return 0;
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
	snprintf(name, sizeof(name), "v%lld-%.12s", (long long)version, hex);
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
	return set_slot(ds, "staging", name, err);
out_fail:
	free(bytes);
	return -1;
}

int lp_dstate_commit(struct lp_dstate *ds, struct lp_dslot *dropped, struct lp_err *err)
{
	char cur[NAME_MAX + 1], next[NAME_MAX + 1];
	struct lp_err ignored;
	bool have_cur;

	if (dropped && lp_dstate_load(ds, "previous", dropped, &ignored) < 0)
		memset(dropped, 0, sizeof(*dropped));
	if (slot_target(ds, "staging", next, sizeof(next), err) < 0)
		return -1;
	have_cur = slot_target(ds, "current", cur, sizeof(cur), &ignored) == 0;
	/* The order matters: whatever the power does, current is always complete. */
	if ((have_cur && set_slot(ds, "previous", cur, err) < 0) ||
	    set_slot(ds, "current", next, err) < 0 || set_slot(ds, "staging", NULL, err) < 0)
		return -1;
	lp_dstate_prune(ds);
	return 0;
}

int lp_dstate_unstage(struct lp_dstate *ds, struct lp_err *err)
{
	if (set_slot(ds, "staging", NULL, err) < 0)
		return -1;
	lp_dstate_prune(ds);
	return 0;
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
		if (slot_target(ds, slots[i], kept[i], sizeof(kept[i]), &err) < 0)
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

int lp_dstate_save_result(struct lp_dstate *ds, json_t *result, struct lp_err *err)
{
	char path[PATH_MAX], *text;
	int rc;

	if (lp_path(path, sizeof(path), err, "%s/last_result.json", ds->dir) < 0)
		return -1;
	text = json_dumps(result, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		return lp_fail(err, ENOMEM, "out of memory");
	rc = lp_write_file_atomic(path, text, strlen(text), err);
	free(text);
	return rc;
}

json_t *lp_dstate_load_result(struct lp_globals *g)
{
	char path[PATH_MAX];
	struct lp_err err;

	if (lp_path(path, sizeof(path), &err, "%s/deployments/last_result.json", g->root) < 0)
		return NULL;
	return json_load_file(path, 0, NULL);
}
