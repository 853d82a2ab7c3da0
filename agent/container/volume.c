// SPDX-License-Identifier: Apache-2.0
/* Volume directories under ROOT/volumes (see volume.h). */
#include "agent/container/volume.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/lib/util.h"

int lp_volume_dir(const struct lp_host *host, const char *name, char *buf, size_t len,
		  struct lp_err *err)
{
	if (lp_volume_name_valid(name, err) < 0)
		return -1;
	return lp_path(buf, len, err, "%s/volumes/%s", host->root, name);
}

/*
 * ROOT/volumes/NAME, made if missing (*made); a new one belongs to uid:gid
 * (host ids).
 */
static int prepare(const struct lp_host *host, const char *name, uid_t uid, gid_t gid,
		   char *path, size_t len, bool *made, struct lp_err *err)
{
	char parent[PATH_MAX];
	struct stat st;

	if (lp_path(parent, sizeof(parent), err, "%s/volumes", host->root) < 0 ||
	    lp_volume_dir(host, name, path, len, err) < 0)
		return -1;
	/*
	 * Root's alone, whatever ROOT's mode: a volume's own mode is for the
	 * container's users, who reach it through its bind mount (made from a
	 * descriptor, platform/linux/runtime.c), never through this path.  An
	 * older limpet made it 0711.
	 */
	if (lp_mkdir_p(parent, 0700, err) < 0)
		return -1;
	if (lstat(parent, &st) < 0)
		return lp_fail_errno(err, "%s", parent);
	if ((st.st_mode & 07777) != 0700 && chmod(parent, 0700) < 0)
		return lp_fail_errno(err, "chmod %s", parent);
	*made = mkdir(path, 0755) == 0;
	if (*made) {
		/* whatever the umask: the container's other users may need to read it */
		if (chmod(path, 0755) < 0)
			return lp_fail_errno(err, "chmod %s", path);
		if ((uid || gid) && chown(path, uid, gid) < 0)
			return lp_fail_errno(err, "chown %s", path);
		return 0;
	}
	if (errno != EEXIST)
		return lp_fail_errno(err, "mkdir %s", path);
	if (lstat(path, &st) < 0)
		return lp_fail_errno(err, "%s", path);
	if (!S_ISDIR(st.st_mode))
		return lp_fail(err, ENOTDIR, "%s is not a directory", path);
	return 0;
}

int lp_volume_create(const struct lp_host *host, const char *name, uid_t uid, gid_t gid,
		     bool same_owner, struct lp_err *err)
{
	char path[PATH_MAX];
	struct stat st;
	bool made;

	if (prepare(host, name, uid, gid, path, sizeof(path), &made, err) < 0)
		return lp_prefix(err, "volume %s", name);
	if (made || !same_owner)
		return 0;
	if (lstat(path, &st) < 0)
		return lp_fail_errno(err, "%s", path);
	if (st.st_uid != uid || st.st_gid != gid)
		return lp_fail(err, EEXIST, "volume %s exists, owned by %u:%u, not %u:%u", name,
			       (unsigned)st.st_uid, (unsigned)st.st_gid, (unsigned)uid,
			       (unsigned)gid);
	return 0;
}

/* An id inside cfg's user namespace as the host sees it; out of its range: its root. */
static uint32_t host_id(const struct lp_container_cfg *cfg, uint32_t id)
{
	if (!cfg->userns_count)
		return id;
	return cfg->userns_uid + (id < cfg->userns_count ? id : 0);
}

int lp_volume_binds(const struct lp_host *host, const struct lp_container_cfg *cfg, uid_t uid,
		    gid_t gid, struct lp_bind **binds, struct lp_err *err)
{
	char path[PATH_MAX];
	struct lp_bind *b;
	size_t i;

	*binds = NULL;
	if (!cfg->n_volumes)
		return 0;
	b = calloc(cfg->n_volumes, sizeof(*b));
	if (!b)
		return lp_fail(err, ENOMEM, "out of memory");
	for (i = 0; i < cfg->n_volumes; i++) {
		const struct lp_volume *v = &cfg->volumes[i];

		bool made;

		if (prepare(host, v->name, host_id(cfg, uid), host_id(cfg, gid), path, sizeof(path),
			    &made, err) < 0) {
			lp_volume_binds_free(b, i);
			return lp_prefix(err, "volume %s", v->name);
		}
		b[i].source = strdup(path);
		b[i].target = v->path;
		if (!b[i].source) {
			lp_volume_binds_free(b, i);
			return lp_fail(err, ENOMEM, "out of memory");
		}
	}
	*binds = b;
	return 0;
}

void lp_volume_binds_free(struct lp_bind *binds, size_t n)
{
	size_t i;

	for (i = 0; binds && i < n; i++)
		free((char *)binds[i].source);
	free(binds);
}
