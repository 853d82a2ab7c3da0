// SPDX-License-Identifier: Apache-2.0
/* struct lp_container_cfg: checking and freeing (its JSON form: spec_json.c). */
#include "agent/spec/spec.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/lib/util.h"

#define LP_HOSTNAME_MAX 64	/* HOST_NAME_MAX on Linux */
#define LP_ID_INVALID UINT32_MAX

/* ---------------------------------------------------------------- freeing */

void lp_volumes_free(struct lp_volume *vols, size_t n)
{
	size_t i;

	for (i = 0; vols && i < n; i++) {
		free(vols[i].name);
		free(vols[i].path);
	}
	free(vols);
}

void lp_container_cfg_free(struct lp_container_cfg *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->rootfs);
	free(c->image);
	free(c->user);
	lp_strv_free(c->argv);
	lp_strv_free(c->env);
	free(c->hostname);
	free(c->cwd);
	free(c->devices);
	lp_volumes_free(c->volumes, c->n_volumes);
	memset(c, 0, sizeof(*c));
}

/* ---------------------------------------------------------------- checks */

int lp_name_valid(const char *name, struct lp_err *err)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0)
		return lp_fail(err, EINVAL, "a name cannot be empty");
	if (len > LP_NAME_MAX)
		return lp_fail(err, EINVAL, "'%s' is longer than %d characters", name, LP_NAME_MAX);
	if (!lp_ascii_alnum(name[0]) || !lp_chars_in(name, "_.-"))
		return lp_fail(err, EINVAL,
			       "'%s' is not a valid name (letters, digits, '_', '.' and '-', "
			       "starting with a letter or digit)",
			       name);
	return 0;
}

int lp_image_name_valid(const char *name, struct lp_err *err)
{
	const char *p;

	if (!name || !*name || strlen(name) > LP_IMAGE_NAME_MAX)
		return lp_fail(err, EINVAL, "image name must be 1 to %d characters",
			       LP_IMAGE_NAME_MAX);
	for (p = name; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/:@-",
			    *p))
			return lp_fail(err, EINVAL, "image name '%s': '%c' is not allowed", name, *p);
	return 0;
}

bool lp_path_confined(const char *path)
{
	const char *p = path;
	size_t len;

	if (!path || path[0] != '/')
		return false;
	while (*p) {
		while (*p == '/')
			p++;
		len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += len;
	}
	return true;
}

/* "4M", "1G", or plain bytes: the way a user would have typed it. */
static const char *format_size(int64_t bytes, char *buf, size_t len)
{
	static const struct {
		char suffix;
		int shift;
	} units[] = { { 'G', 30 }, { 'M', 20 }, { 'K', 10 } };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(units); i++) {
		int64_t unit = (int64_t)1 << units[i].shift;

		if (bytes != 0 && bytes % unit == 0) {
			snprintf(buf, len, "%lld%c", (long long)(bytes / unit), units[i].suffix);
			return buf;
		}
	}
	snprintf(buf, len, "%lld", (long long)bytes);
	return buf;
}

/*
 * Every string here is saved as JSON (state, deployments, the control
 * socket), which carries only UTF-8: refuse the rest where it comes in,
 * rather than accept a container that cannot then be saved.
 */
static int text_valid(const char *s, const char *what, struct lp_err *err)
{
	if (s && !lp_utf8_valid(s))
		return lp_fail(err, EILSEQ, "%s is not valid UTF-8 text", what);
	return 0;
}

static int strv_valid(char *const *v, const char *what, struct lp_err *err)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		if (!lp_utf8_valid(v[i]))
			return lp_fail(err, EILSEQ, "%s %zu is not valid UTF-8 text", what, i + 1);
	return 0;
}

static int check_name(const struct lp_container_cfg *c, struct lp_err *err)
{
	if (!c->name)
		return lp_fail(err, EINVAL, "missing (every container needs a name)");
	return lp_name_valid(c->name, err);
}

static int check_rootfs(const struct lp_container_cfg *c, struct lp_err *err)
{
	if (c->rootfs && c->image)
		return lp_fail(err, EINVAL, "give either a root directory or an image, not both");
	if (c->image)
		return lp_image_name_valid(c->image, err);
	if (!c->rootfs)
		return lp_fail(err, EINVAL, "missing (the container's root directory, or an image)");
	if (text_valid(c->rootfs, "the path", err) < 0)
		return -1;
	if (c->rootfs[0] != '/')
		return lp_fail(err, EINVAL, "'%s' is not an absolute path", c->rootfs);
	return 0;
}

static int check_command(const struct lp_container_cfg *c, struct lp_err *err)
{
	if (c->image && (!c->argv || !c->argv[0]))
		return 0; /* the image's Entrypoint/Cmd */
	if (!c->argv || !c->argv[0])
		return lp_fail(err, EINVAL, "empty (it needs at least the program to run)");
	if (!c->argv[0][0])
		return lp_fail(err, EINVAL, "the program name is empty");
	return strv_valid(c->argv, "argument", err);
}

static int check_env(const struct lp_container_cfg *c, struct lp_err *err)
{
	char **p;

	for (p = c->env; p && *p; p++) {
		const char *eq = strchr(*p, '=');

		if (!eq || eq == *p)
			return lp_fail(err, EINVAL, "'%s' is not NAME=VALUE", *p);
	}
	return strv_valid(c->env, "variable", err);
}

static int check_hostname(const struct lp_container_cfg *c, struct lp_err *err)
{
	const char *h = c->hostname;

	if (!h)
		return 0;
	if (strlen(h) > LP_HOSTNAME_MAX)
		return lp_fail(err, EINVAL, "'%s' is longer than %d characters", h,
			       LP_HOSTNAME_MAX);
	if (!lp_ascii_alnum(h[0]) || !lp_chars_in(h, ".-"))
		return lp_fail(err, EINVAL,
			       "'%s' is not a valid hostname (letters, digits, '-' and '.', "
			       "starting with a letter or digit)",
			       h);
	return 0;
}

static int check_workdir(const struct lp_container_cfg *c, struct lp_err *err)
{
	if (c->cwd && c->cwd[0] != '/')
		return lp_fail(err, EINVAL, "'%s' is not an absolute path", c->cwd);
	return text_valid(c->cwd, "the path", err);
}

static int check_user(const struct lp_container_cfg *c, struct lp_err *err)
{
	if (c->uid == LP_ID_INVALID || c->gid == LP_ID_INVALID)
		return lp_fail(err, EINVAL, "%u is not a valid id", LP_ID_INVALID);
	return text_valid(c->user, "the user", err);
}

static int check_memory(const struct lp_container_cfg *c, struct lp_err *err)
{
	char have[32], min[32];
	int64_t memory = c->limits.memory;

	if (memory < 0)
		return lp_fail(err, EINVAL, "%lld is negative", (long long)memory);
	if (memory > 0 && memory < LP_MEMORY_MIN)
		return lp_fail(err, EINVAL, "%s is below the %s minimum a container needs",
			       format_size(memory, have, sizeof(have)),
			       format_size(LP_MEMORY_MIN, min, sizeof(min)));
	return 0;
}

static int check_cpus(const struct lp_container_cfg *c, struct lp_err *err)
{
	const struct lp_limits *l = &c->limits;

	if (l->cpu_quota == 0)
		return 0;
	/* the kernel's own limits for cpu.max / cfs_period_us */
	if (l->cpu_period < 1000 || l->cpu_period > 1000000)
		return lp_fail(err, EINVAL, "a period of %lld us is out of range (1000 to 1000000)",
			       (long long)l->cpu_period);
	if (l->cpu_quota < LP_CPU_QUOTA_MIN_US || l->cpu_quota > LP_CPUS_MAX * l->cpu_period)
		return lp_fail(err, EINVAL, "a quota of %lld us per %lld us is out of range",
			       (long long)l->cpu_quota, (long long)l->cpu_period);
	return 0;
}

static int check_cpu_weight(const struct lp_container_cfg *c, struct lp_err *err)
{
	int w = c->limits.cpu_weight;

	if (w < 0 || w > LP_CPU_WEIGHT_MAX)
		return lp_fail(err, ERANGE, "%d is out of range (1 to %d)", w, LP_CPU_WEIGHT_MAX);
	return 0;
}

static int check_pids(const struct lp_container_cfg *c, struct lp_err *err)
{
	if (c->limits.pids < 0)
		return lp_fail(err, ERANGE, "%lld is negative", (long long)c->limits.pids);
	return 0;
}

static int check_net(const struct lp_container_cfg *c, struct lp_err *err)
{
	if (c->net != LP_NET_NONE && c->net != LP_NET_HOST)
		return lp_fail(err, EINVAL, "unknown mode %d", (int)c->net);
	return 0;
}

static int check_restart(const struct lp_container_cfg *c, struct lp_err *err)
{
	const struct lp_restart *r = &c->restart;

	if (r->policy != LP_RESTART_NO && r->policy != LP_RESTART_ON_FAILURE &&
	    r->policy != LP_RESTART_ALWAYS)
		return lp_fail(err, EINVAL, "unknown policy %d", (int)r->policy);
	if (r->max_retries < 0)
		return lp_fail(err, ERANGE, "a retry count of %d is negative", r->max_retries);
	if (r->max_retries > 0 && r->policy != LP_RESTART_ON_FAILURE)
		return lp_fail(err, EINVAL, "a retry count only goes with on-failure");
	return 0;
}

static bool terminated(const char *buf, size_t size)
{
	return memchr(buf, '\0', size) != NULL;
}

static bool perms_valid(const char *perms)
{
	const char *p;

	if (!perms[0])
		return false;
	for (p = perms; *p; p++)
		if (!strchr("rwm", *p) || strchr(p + 1, *p))
			return false;
	return true;
}

int lp_device_check(const struct lp_device *dev, struct lp_err *err)
{
	if (!terminated(dev->host, sizeof(dev->host)) ||
	    !terminated(dev->inner, sizeof(dev->inner)) ||
	    !terminated(dev->perms, sizeof(dev->perms)))
		return lp_fail(err, EINVAL, "a device entry has an unterminated string");
	if (dev->host[0] != '/')
		return lp_fail(err, EINVAL, "'%s' is not an absolute path", dev->host);
	if (!lp_utf8_valid(dev->host) || !lp_utf8_valid(dev->inner))
		return lp_fail(err, EILSEQ, "a device path is not valid UTF-8 text");
	if (!lp_path_confined(dev->inner))
		return lp_fail(err, EINVAL,
			       "%s: the path inside, '%s', must be absolute without '..'",
			       dev->host, dev->inner);
	if (!perms_valid(dev->perms))
		return lp_fail(err, EINVAL, "%s: '%s' is not a set of permissions from rwm",
			       dev->host, dev->perms);
	if (dev->type != 'c' && dev->type != 'b')
		return lp_fail(err, EINVAL, "%s: the type must be c or b", dev->host);
	return 0;
}

static int check_devices(const struct lp_container_cfg *c, struct lp_err *err)
{
	size_t i;

	if (c->n_devices && !c->devices)
		return lp_fail(err, EINVAL, "%zu devices but no list", c->n_devices);
	for (i = 0; i < c->n_devices; i++)
		if (lp_device_check(&c->devices[i], err) < 0)
			return -1;
	return 0;
}

int lp_volume_name_valid(const char *name, struct lp_err *err)
{
	/* it becomes a directory name on the host: "." and ".." would escape */
	if (!name || !*name || strlen(name) > LP_VOLUME_NAME_MAX || !lp_chars_in(name, "_.-") ||
	    !strcmp(name, ".") || !strcmp(name, ".."))
		return lp_fail(err, EINVAL,
			       "'%s' is not a volume name (1 to %d letters, digits, '_', '.' and "
			       "'-'; not . or ..)",
			       name ? name : "", LP_VOLUME_NAME_MAX);
	return 0;
}

/* "/" (or "/.") would hide the whole root; ".." could climb out of it. */
static bool volume_path_valid(const char *path)
{
	const char *p = path;
	size_t len;

	if (!path || path[0] != '/' || !path[strspn(path, "/")])
		return false;
	while (*p) {
		p += strspn(p, "/");
		len = strcspn(p, "/");
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += len;
	}
	return true;
}

/* /proc, /sys and /dev are mounted over volumes: what went there would be lost. */
static const char *volume_path_hidden(const char *path)
{
	static const char *const fresh[] = { "proc", "sys", "dev" };
	const char *p = path + strspn(path, "/");
	size_t i, len = strcspn(p, "/");

	for (i = 0; i < ARRAY_SIZE(fresh); i++)
		if (len == strlen(fresh[i]) && !strncmp(p, fresh[i], len))
			return fresh[i];
	return NULL;
}

static int volume_fails(const char **field, const char *which)
{
	if (field)
		*field = which;
	return -1;
}

int lp_volume_check(const struct lp_volume *vols, size_t i, const char **field,
		    struct lp_err *err)
{
	const struct lp_volume *v = &vols[i];
	size_t j;

	if (lp_volume_name_valid(v->name, err) < 0)
		return volume_fails(field, "name");
	if (!volume_path_valid(v->path)) {
		lp_fail(err, EINVAL,
			"'%s' is not an absolute path without '.' or '..' components (and not /)",
			v->path ? v->path : "");
		return volume_fails(field, "path");
	}
	if (!lp_utf8_valid(v->path)) {
		lp_fail(err, EILSEQ, "the path is not valid UTF-8 text");
		return volume_fails(field, "path");
	}
	if (volume_path_hidden(v->path)) {
		lp_fail(err, EINVAL, "'%s' is under /%s, which every container gets fresh", v->path,
			volume_path_hidden(v->path));
		return volume_fails(field, "path");
	}
	for (j = 0; j < i; j++) {
		if (!strcmp(vols[j].name, v->name)) {
			lp_fail(err, EEXIST, "'%s' is given twice", v->name);
			return volume_fails(field, "name");
		}
		if (!strcmp(vols[j].path, v->path)) {
			lp_fail(err, EEXIST, "'%s' is also the path of volume %s", v->path,
				vols[j].name);
			return volume_fails(field, "path");
		}
	}
	return 0;
}

static int check_volumes(const struct lp_container_cfg *c, struct lp_err *err)
{
	const char *field = NULL;
	size_t i;

	if (c->n_volumes && !c->volumes)
		return lp_fail(err, EINVAL, "%zu volumes but no list", c->n_volumes);
	for (i = 0; i < c->n_volumes; i++) {
		if (lp_volume_check(c->volumes, i, &field, err) == 0)
			continue;
		/* a bad name is in the message already */
		return strcmp(field, "path") ? -1 : lp_prefix(err, "volume %s", c->volumes[i].name);
	}
	return 0;
}

static int check_userns(const struct lp_container_cfg *c, struct lp_err *err)
{
	if (c->userns_count == 0)
		return 0;
#ifndef CONFIG_USERNS
	return lp_fail(err, ENOTSUP, "not built in (CONFIG_USERNS)");
#else
	/* the last host id mapped must itself be valid */
	if ((uint64_t)c->userns_uid + c->userns_count - 1 >= LP_ID_INVALID)
		return lp_fail(err, ERANGE, "%u:%u goes past uid %u", c->userns_uid,
			       c->userns_count, LP_ID_INVALID - 1);
	return 0;
#endif
}

/*
 * A microVM has no network, no host devices and no shared directories yet
 * (no virtio): refuse what it cannot honour rather than drop it silently.
 * "auto" is held to the same, so a deployment behaves alike on every board.
 */
static int check_isolation(const struct lp_container_cfg *c, struct lp_err *err)
{
	const char *iso = c->isolation == LP_ISOLATION_VM ? "vm" : "auto";

	if (c->isolation == LP_ISOLATION_CONTAINER)
		return 0;
	if (c->isolation != LP_ISOLATION_VM && c->isolation != LP_ISOLATION_AUTO)
		return lp_fail(err, EINVAL, "unknown isolation %d", (int)c->isolation);
	if (c->net != LP_NET_NONE)
		return lp_fail(err, EINVAL, "%s: a microVM has no network yet (only network mode none)", iso);
	if (c->n_devices)
		return lp_fail(err, EINVAL, "%s: a microVM cannot be given host devices", iso);
	if (c->n_volumes)
		return lp_fail(err, EINVAL, "%s: a microVM cannot mount volumes yet", iso);
	if (c->userns_count)
		return lp_fail(err, EINVAL, "%s: userns does not apply to a microVM", iso);
	if (c->read_only)
		return lp_fail(err, EINVAL, "%s: a microVM's root is a private copy; drop read_only",
			       iso);
	if (c->limits.memory && c->limits.memory < LP_VM_MEMORY_MIN)
		return lp_fail(err, ERANGE, "%s: a microVM needs a memory limit of at least %lld MiB",
			       iso, (long long)(LP_VM_MEMORY_MIN >> 20));
	return 0;
}

/* In the order a reader of the config would look at them. */
static const struct {
	const char *field;
	int (*check)(const struct lp_container_cfg *c, struct lp_err *err);
} checks[] = {
	{ "name", check_name },		{ "rootfs", check_rootfs },
	{ "command", check_command },	{ "env", check_env },
	{ "hostname", check_hostname },	{ "workdir", check_workdir },
	{ "user", check_user },		{ "memory", check_memory },
	{ "cpus", check_cpus },		{ "cpu_weight", check_cpu_weight },
	{ "pids", check_pids },		{ "net", check_net },
	{ "restart", check_restart },	{ "devices", check_devices },
	{ "volumes", check_volumes },	{ "userns", check_userns },
	{ "isolation", check_isolation },
};

int lp_container_cfg_check(const struct lp_container_cfg *c, const char **field,
			   struct lp_err *err)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(checks); i++) {
		if (checks[i].check(c, err) < 0) {
			if (field)
				*field = checks[i].field;
			return -1;
		}
	}
	return 0;
}

int lp_container_cfg_validate(const struct lp_container_cfg *c, struct lp_err *err)
{
	const char *field = NULL;

	if (lp_container_cfg_check(c, &field, err) < 0)
		return lp_prefix(err, "%s", field);
	return 0;
}
