// SPDX-License-Identifier: Apache-2.0
/*
 * What running an image means: its layers become the overlay's lower dirs
 * and its config (Entrypoint, Cmd, Env, WorkingDir, User) fills in what the
 * container did not say, the way Docker does.  Resolved at every start, so
 * a container's stored config stays exactly what was asked.
 */
#include "image_cfg.h"

#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "platform/lib/util.h"
#include "store.h"

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

/*
 * The image's own copy of `rel` (etc/passwd): the topmost layer that has it.
 * A whiteout above it means the image deleted it.
 */
static FILE *open_in_layers(const char *lowerdir, const char *rel)
{
	char path[PATH_MAX];
	const char *p = lowerdir;
	struct stat st;

	while (*p) {
		size_t len = strcspn(p, ":");

		snprintf(path, sizeof(path), "%.*s/%s", (int)len, p, rel);
		if (lstat(path, &st) == 0) {
			if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
				return NULL;
			return S_ISREG(st.st_mode) ? fopen(path, "re") : NULL;
		}
		p += len;
		if (*p == ':')
			p++;
	}
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

static int lookup_user(const char *lowerdir, const char *name, uint32_t *uid, uint32_t *gid,
		       bool *found_gid)
{
	FILE *f = open_in_layers(lowerdir, "etc/passwd");
	struct passwd *pw;
	int rc = -1;

	if (!f)
		return -1;
	while ((pw = fgetpwent(f)) != NULL) {
		if (!strcmp(pw->pw_name, name) || (numeric(name, uid) && pw->pw_uid == *uid)) {
			*uid = pw->pw_uid;
			*gid = pw->pw_gid;
			*found_gid = true;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

static int lookup_group(const char *lowerdir, const char *name, uint32_t *gid)
{
	FILE *f = open_in_layers(lowerdir, "etc/group");
	struct group *gr;
	int rc = -1;

	if (!f)
		return -1;
	while ((gr = fgetgrent(f)) != NULL) {
		if (!strcmp(gr->gr_name, name)) {
			*gid = gr->gr_gid;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

int lp_resolve_user(const char *spec, const char *lowerdir, uint32_t *uid, uint32_t *gid,
		    struct lp_err *err)
{
	char user[256], group[256] = "";
	bool have_gid = false;

	if (sscanf(spec, "%255[^:]:%255s", user, group) < 1)
		return lp_fail(err, EINVAL, "user '%s' is empty", spec);
	if (lookup_user(lowerdir, user, uid, gid, &have_gid) < 0) {
		if (!numeric(user, uid))
			return lp_fail(err, ENOENT, "user '%s' is not in the container's /etc/passwd",
				       user);
		*gid = *uid ? *gid : 0;
	}
	if (!group[0])
		return 0;
	if (!numeric(group, gid) && lookup_group(lowerdir, group, gid) < 0)
		return lp_fail(err, ENOENT, "group '%s' is not in the container's /etc/group",
			       group);
	return 0;
}

int lp_image_resolve(struct lp_globals *g, const struct lp_container_cfg *c,
		     struct lp_image_run *r, struct lp_err *err)
{
	json_t *rec = NULL, *conf;
	const char *wd, *user;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (lp_store_load_image(g, c->image, &rec, err) < 0)
		return -1;
	conf = json_object_get(json_object_get(rec, "config"), "config");
	if (lp_store_lowerdir(g, rec, &r->lowerdir, err) < 0 || build_argv(c, conf, r, err) < 0 ||
	    build_env(c, conf, r, err) < 0)
		goto out;
	wd = json_string_value(json_object_get(conf, "WorkingDir"));
	if (!c->cwd && wd && *wd && !(r->cwd = strdup(wd))) {
		lp_fail(err, ENOMEM, "out of memory");
		goto out;
	}
	r->uid = c->uid;
	r->gid = c->gid;
	user = c->user ? c->user : json_string_value(json_object_get(conf, "User"));
	if (user && *user && lp_resolve_user(user, r->lowerdir, &r->uid, &r->gid, err) < 0)
		goto out;
	if (json_object_get(conf, "ExposedPorts"))
		fprintf(stderr, "limpet: image %s exposes ports; limpet does not publish ports "
				"(use --net host)\n",
			c->image);
	rc = 0;
out:
	json_decref(rec);
	if (rc < 0) {
		lp_image_run_free(r);
		lp_prefix(err, "image %s", c->image);
	}
	return rc;
}
