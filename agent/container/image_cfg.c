// SPDX-License-Identifier: Apache-2.0
/*
 * What running an image means: its layers become the overlay's lower dirs
 * and its config (Entrypoint, Cmd, Env, WorkingDir, User) fills in what the
 * container did not say, the way Docker does.  Resolved at every start, so
 * a container's stored config stays exactly what was asked.
 */
#include "agent/container/image_cfg.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "platform/lib/util.h"
#include "agent/image/store.h"

void lp_image_run_free(struct lp_image_run *r)
{
	free(r->lowerdir);
	lp_strv_free(r->argv);
	lp_strv_free(r->env);
	free(r->cwd);
	memset(r, 0, sizeof(*r));
}

static size_t strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static int strv_push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(*nv));

	if (!nv)
		return -1;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -1;
	nv[++*n] = NULL;
	return 0;
}

static int push_json_strings(char ***v, size_t *n, json_t *arr)
{
	json_t *s;
	size_t i;

	json_array_foreach(arr, i, s)
		if (json_is_string(s) && strv_push(v, n, json_string_value(s)) < 0)
			return -1;
	return 0;
}

/* Docker's rule: Entrypoint stays, the container's command replaces Cmd. */
static int build_argv(const struct lp_container_cfg *c, json_t *conf, struct lp_image_run *r,
		      struct lp_err *err)
{
	size_t n = 0, i;

	if (push_json_strings(&r->argv, &n, json_object_get(conf, "Entrypoint")) < 0)
		return lp_fail(err, ENOMEM, "out of memory");
	if (c->argv && c->argv[0]) {
		for (i = 0; c->argv[i]; i++)
			if (strv_push(&r->argv, &n, c->argv[i]) < 0)
				return lp_fail(err, ENOMEM, "out of memory");
	} else if (push_json_strings(&r->argv, &n, json_object_get(conf, "Cmd")) < 0) {
		return lp_fail(err, ENOMEM, "out of memory");
	}
	if (!n)
		return lp_fail(err, EINVAL, "the image has no Entrypoint or Cmd: give a command");
	return 0;
}

static bool overridden(char *const *env, const char *kv)
{
	size_t klen = strcspn(kv, "=");

	for (; env && *env; env++)
		if (!strncmp(*env, kv, klen) && (*env)[klen] == '=')
			return true;
	return false;
}

/* The image's Env, then the container's (which wins for the same key). */
static int build_env(const struct lp_container_cfg *c, json_t *conf, struct lp_image_run *r,
		     struct lp_err *err)
{
	json_t *s;
	size_t n = 0, i;

	json_array_foreach(json_object_get(conf, "Env"), i, s) {
		if (!json_is_string(s) || overridden(c->env, json_string_value(s)))
			continue;
		if (strv_push(&r->env, &n, json_string_value(s)) < 0)
			return lp_fail(err, ENOMEM, "out of memory");
	}
	for (i = 0; i < strv_len(c->env); i++)
		if (strv_push(&r->env, &n, c->env[i]) < 0)
			return lp_fail(err, ENOMEM, "out of memory");
	if (!r->env && strv_push(&r->env, &n, "TERM=xterm") < 0)
		return lp_fail(err, ENOMEM, "out of memory");
	return 0;
}

/* The size of /etc/passwd or /etc/group that is certainly not a real one. */
#define ACCOUNTS_MAX (4 * 1024 * 1024)

/*
 * rel (a path without ".." or symlinks) in one layer, which is the cwd-free
 * directory dirfd: resolved beneath it, following no symlink, so an image
 * cannot point limpet at a host file.
 */
static int open_beneath(int dirfd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};

	return (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
}

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/*
 * Does this layer end the search for rel: a whiteout of rel or of a directory
 * above it, or an opaque directory above it, hides every layer below.
 */
static bool hides_below(int layer, const char *rel)
{
	char part[PATH_MAX], value[2];
	char *slash = part;
	struct stat st;

	snprintf(part, sizeof(part), "%s", rel);
	for (;;) {
		cleanup_fd int fd = -1;
		char proc[64];

		slash = strchr(slash, '/');
		if (slash)
			*slash = '\0';
		fd = open_beneath(layer, part, O_PATH);
		if (fd < 0 || fstat(fd, &st) < 0)
			return false;
		if (is_whiteout(&st))
			return true;
		if (!slash || !S_ISDIR(st.st_mode))
			return false;
		/* An O_PATH fd reads its xattrs through /proc/self/fd. */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (getxattr(proc, "trusted.overlay.opaque", value, sizeof(value)) == 1 &&
		    value[0] == 'y')
			return true;
		*slash++ = '/';
	}
}

/*
 * The image's own copy of rel (etc/passwd): the topmost layer of lowerdir
 * ("DIR:DIR...", top first) that has it, as overlayfs would show it.  NULL
 * with errno ENOENT when the image has none, ELOOP when its path goes
 * through a symlink (not followed, so limpet never reads a host file).
 */
static FILE *open_in_layers(const char *lowerdir, const char *rel)
{
	char path[PATH_MAX];
	const char *p = lowerdir;
	struct stat st;

	while (*p) {
		size_t len = strcspn(p, ":");
		cleanup_fd int layer = -1, fd = -1;

		snprintf(path, sizeof(path), "%.*s", (int)len, p);
		p += len + (p[len] == ':');
		layer = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (layer < 0)
			continue;
		fd = open_beneath(layer, rel, O_PATH);
		if (fd < 0 && errno == ELOOP)
			return NULL;
		if (fd < 0 && hides_below(layer, rel))
			break;
		if (fd < 0 || fstat(fd, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			errno = ELOOP;
			return NULL;
		}
		if (is_whiteout(&st) || !S_ISREG(st.st_mode) || st.st_size > ACCOUNTS_MAX)
			break;
		close(fd);
		fd = open_beneath(layer, rel, O_RDONLY | O_NONBLOCK);
		if (fd >= 0) {
			FILE *f = fdopen(fd, "re");

			if (f)
				steal_fd(&fd);
			return f;
		}
		return NULL;
	}
	errno = ENOENT;
	return NULL;
}

static bool numeric(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!*s)
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX - 1)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* kind ("user") name is not in the container's /FILE, or why it could not be read. */
static int accounts_fail(struct lp_err *err, int why, const char *file, const char *kind,
			 const char *name)
{
	if (why == ELOOP)
		return lp_fail(err, ELOOP,
			       "%s '%s': the container's /%s goes through a symlink (not followed)",
			       kind, name, file);
	return lp_fail(err, ENOENT, "%s '%s' is not in the container's /%s", kind, name, file);
}

/* The passwd entry of `name` (a name or a uid), else of uid when name is empty. */
static int find_user(const char *lowerdir, const char *name, uint32_t uid, struct lp_user *u,
		     char *pw_name, size_t pw_name_len, int *why)
{
	FILE *f = open_in_layers(lowerdir, "etc/passwd");
	struct passwd *pw;
	uint32_t want = uid;
	bool by_uid;
	int rc = -1;

	*why = f ? ENOENT : errno;
	if (!f)
		return -1;
	by_uid = !*name || numeric(name, &want);
	while ((pw = fgetpwent(f)) != NULL) {
		if (by_uid ? pw->pw_uid == want : !strcmp(pw->pw_name, name)) {
			u->uid = pw->pw_uid;
			u->gid = pw->pw_gid;
			snprintf(u->home, sizeof(u->home), "%s", *pw->pw_dir ? pw->pw_dir : "/");
			snprintf(pw_name, pw_name_len, "%s", pw->pw_name);
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

static int add_group(struct lp_user *u, uint32_t gid, struct lp_err *err)
{
	size_t i;

	for (i = 0; i < u->n_groups; i++)
		if (u->groups[i] == gid)
			return 0;
	if (u->n_groups == LP_GROUPS_MAX)
		return lp_fail(err, E2BIG, "in more than %d groups (limpet's limit)",
			       LP_GROUPS_MAX);
	u->groups[u->n_groups++] = gid;
	return 0;
}

/* The gid of the group named `group` (the explicit "user:group" form). */
static int find_group(const char *lowerdir, const char *group, uint32_t *gid, struct lp_err *err)
{
	FILE *f = open_in_layers(lowerdir, "etc/group");
	struct group *gr;
	int why = f ? ENOENT : errno;

	while (f && (gr = fgetgrent(f)) != NULL) {
		if (!strcmp(gr->gr_name, group)) {
			*gid = gr->gr_gid;
			fclose(f);
			return 0;
		}
	}
	if (f)
		fclose(f);
	return accounts_fail(err, why, "etc/group", "group", group);
}

/* Every group that lists member (a user name) joins u's supplementary groups. */
static int add_member_groups(const char *lowerdir, const char *member, struct lp_user *u,
			     struct lp_err *err)
{
	FILE *f = *member ? open_in_layers(lowerdir, "etc/group") : NULL;
	struct group *gr;
	char **m;
	int rc = 0;

	while (f && rc == 0 && (gr = fgetgrent(f)) != NULL)
		for (m = gr->gr_mem; m && *m && rc == 0; m++)
			if (!strcmp(*m, member))
				rc = add_group(u, gr->gr_gid, err);
	if (f)
		fclose(f);
	return rc;
}

int lp_resolve_user(const char *spec, const char *lowerdir, struct lp_user *u,
		    struct lp_err *err)
{
	char user[256] = "", group[256] = "", pw_name[256] = "";
	uint32_t id;
	int why;

	if (spec && *spec && sscanf(spec, "%255[^:]:%255s", user, group) < 1)
		return lp_fail(err, EINVAL, "user '%s' is empty", spec);
	snprintf(u->home, sizeof(u->home), "/");
	u->n_groups = 0;
	if (find_user(lowerdir, user, u->uid, u, pw_name, sizeof(pw_name), &why) < 0) {
		if (*user && !numeric(user, &id))
			return accounts_fail(err, why, "etc/passwd", "user", user);
		if (*user) {
			/* As Docker: a uid the image does not know is in the root group. */
			u->uid = id;
			u->gid = 0;
		}
	}
	if (*group && !numeric(group, &u->gid) && find_group(lowerdir, group, &u->gid, err) < 0)
		return -1;
	/* As Docker: the primary group, then (user in passwd, no group given) its others. */
	if (add_group(u, u->gid, err) < 0 ||
	    (!*group && add_member_groups(lowerdir, pw_name, u, err) < 0))
		return lp_prefix(err, "user '%s'", *user ? user : pw_name);
	return 0;
}

int lp_image_resolve(const struct lp_host *host, const struct lp_container_cfg *c,
		     struct lp_image_run *r, struct lp_err *err)
{
	json_t *rec = NULL, *conf;
	const char *wd, *user;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (lp_store_load_image(host, c->image, &rec, err) < 0)
		return -1;
	conf = json_object_get(json_object_get(rec, "config"), "config");
	if (lp_store_lowerdir(host, rec, &r->lowerdir, err) < 0 ||
	    build_argv(c, conf, r, err) < 0 || build_env(c, conf, r, err) < 0)
		goto out;
	wd = json_string_value(json_object_get(conf, "WorkingDir"));
	if (!c->cwd && wd && *wd && !(r->cwd = strdup(wd))) {
		lp_fail(err, ENOMEM, "out of memory");
		goto out;
	}
	r->user.uid = c->uid;
	r->user.gid = c->gid;
	user = c->user ? c->user : json_string_value(json_object_get(conf, "User"));
	if (lp_resolve_user(user, r->lowerdir, &r->user, err) < 0)
		goto out;
	r->exposes_ports = json_object_get(conf, "ExposedPorts") != NULL;
	rc = 0;
out:
	json_decref(rec);
	if (rc < 0) {
		lp_image_run_free(r);
		lp_prefix(err, "image %s", c->image);
	}
	return rc;
}
