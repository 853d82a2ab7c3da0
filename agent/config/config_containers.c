// SPDX-License-Identifier: Apache-2.0
/*
 * The agent config's containers = ( { ... }, ... ) list: each entry's
 * settings read by a table of rules into a struct lp_container_cfg, then
 * checked as `limpet run` checks its options, names unique.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/config/config_loader.h"
#include "agent/spec/parse.h"
#include "platform/lib/util.h"

static int apply_name(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	return cfg_set_string(ld, s, &((struct lp_container_cfg *)dst)->name);
}

static int apply_rootfs(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	return cfg_set_string(ld, s, &((struct lp_container_cfg *)dst)->rootfs);
}

static int apply_image(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	return cfg_set_string(ld, s, &((struct lp_container_cfg *)dst)->image);
}

static int apply_command(struct loader *ld, const config_setting_t *s, const char *path,
			 void *dst)
{
	return cfg_set_strv(ld, s, &((struct lp_container_cfg *)dst)->argv);
}

static int apply_env(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	return cfg_set_strv(ld, s, &((struct lp_container_cfg *)dst)->env);
}

static int apply_hostname(struct loader *ld, const config_setting_t *s, const char *path,
			  void *dst)
{
	return cfg_set_string(ld, s, &((struct lp_container_cfg *)dst)->hostname);
}

static int apply_workdir(struct loader *ld, const config_setting_t *s, const char *path,
			 void *dst)
{
	return cfg_set_string(ld, s, &((struct lp_container_cfg *)dst)->cwd);
}

static int apply_user(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	struct lp_container_cfg *c = dst;

	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_wrong_type(ld, s, "a string (\"UID\", \"UID:GID\" or, with an image, a name)");
	v = config_setting_get_string(s);
	/* A name is looked up in the image's /etc/passwd when it starts. */
	if (cfg_set_string(ld, s, &c->user) < 0)
		return -1;
	if (lp_user_has_name(v))
		return 0;
	return lp_parse_user(v, &c->uid, &c->gid, ld->err);
}

static int apply_memory(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	return cfg_get_size(ld, s, &((struct lp_container_cfg *)dst)->limits.memory);
}

static int apply_cpus(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	struct lp_limits *limits = &((struct lp_container_cfg *)dst)->limits;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		return lp_parse_cpus(config_setting_get_string(s), limits, ld->err);
	case CONFIG_TYPE_FLOAT:
		return lp_cpus_to_limits(config_setting_get_float(s), limits, ld->err);
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return lp_cpus_to_limits((double)config_setting_get_int64(s), limits, ld->err);
	}
	return cfg_wrong_type(ld, s, "a number of CPUs (0.5, 2 or \"1.5\")");
}

static int apply_cpu_weight(struct loader *ld, const config_setting_t *s, const char *path,
			    void *dst)
{
	return cfg_get_int_in(ld, s, 1, LP_CPU_WEIGHT_MAX,
			      &((struct lp_container_cfg *)dst)->limits.cpu_weight);
}

static int apply_pids(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	return cfg_get_int64(ld, s, &((struct lp_container_cfg *)dst)->limits.pids);
}

static int apply_net(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	const char *value = NULL;

	if (cfg_get_string(ld, s, &value) < 0)
		return -1;
	return lp_parse_net(value, &((struct lp_container_cfg *)dst)->net, ld->err);
}

static int apply_isolation(struct loader *ld, const config_setting_t *s, const char *path,
			   void *dst)
{
	const char *value = NULL;

	if (cfg_get_string(ld, s, &value) < 0)
		return -1;
	return lp_parse_isolation(value, &((struct lp_container_cfg *)dst)->isolation, ld->err);
}

static int apply_read_only(struct loader *ld, const config_setting_t *s, const char *path,
			   void *dst)
{
	return cfg_set_bool(ld, s, &((struct lp_container_cfg *)dst)->read_only);
}

static int apply_init(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	return cfg_set_bool(ld, s, &((struct lp_container_cfg *)dst)->init);
}

static int apply_restart(struct loader *ld, const config_setting_t *s, const char *path,
			 void *dst)
{
	const char *value = NULL;

	if (cfg_get_string(ld, s, &value) < 0)
		return -1;
	return lp_parse_restart(value, &((struct lp_container_cfg *)dst)->restart, ld->err);
}

static int apply_devices(struct loader *ld, const config_setting_t *s, const char *path,
			 void *dst)
{
	struct lp_container_cfg *c = dst;
	struct lp_device *devices;
	char **specs = NULL;
	size_t i, n;
	int ret = 0;

	if (cfg_set_strv(ld, s, &specs) < 0)
		return -1;
	for (n = 0; specs[n]; n++)
		;
	devices = n ? calloc(n, sizeof(*devices)) : NULL;
	if (n && !devices)
		ret = lp_fail(ld->err, ENOMEM, "out of memory");
	for (i = 0; ret == 0 && i < n; i++)
		ret = lp_parse_device(specs[i], &devices[i], ld->err);
	lp_strv_free(specs);
	if (ret < 0) {
		free(devices);
		return -1;
	}
	free(c->devices);
	c->devices = devices;
	c->n_devices = n;
	return 0;
}

/* ( "NAME:/PATH", ... ): each checked against those before it. */
static int apply_volumes(struct loader *ld, const config_setting_t *s, const char *path,
			 void *dst)
{
	struct lp_container_cfg *c = dst;
	struct lp_volume *vols = NULL;
	char **specs = NULL;
	size_t i, n = 0;
	int ret = 0;

	if (cfg_set_strv(ld, s, &specs) < 0)
		return -1;
	for (i = 0; ret == 0 && specs[i]; i++)
		ret = lp_parse_volume(specs[i], &vols, &n, ld->err);
	lp_strv_free(specs);
	if (ret < 0) {
		lp_volumes_free(vols, n);
		return -1;
	}
	lp_volumes_free(c->volumes, c->n_volumes);
	c->volumes = vols;
	c->n_volumes = n;
	return 0;
}

static int apply_userns(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	struct lp_container_cfg *c = dst;
	const char *value = NULL;

	if (cfg_get_string(ld, s, &value) < 0)
		return -1;
	return lp_parse_userns(value, &c->userns_uid, &c->userns_count, ld->err);
}

static const struct rule container_rules[] = {
	{ "name", apply_name, false },
	{ "rootfs", apply_rootfs, false },
	{ "image", apply_image, false },
	{ "command", apply_command, false },
	{ "env", apply_env, false },
	{ "hostname", apply_hostname, false },
	{ "workdir", apply_workdir, false },
	{ "user", apply_user, false },
	{ "memory", apply_memory, false },
	{ "cpus", apply_cpus, false },
	{ "cpu_weight", apply_cpu_weight, false },
	{ "pids", apply_pids, false },
	{ "net", apply_net, false },
	{ "read_only", apply_read_only, false },
	{ "init", apply_init, false },
	{ "restart", apply_restart, false },
	{ "devices", apply_devices, false },
	{ "volumes", apply_volumes, false },
	{ "userns", apply_userns, false },
	{ "isolation", apply_isolation, false },
};

/* ---------------------------------------------------------------- containers */

/* "containers.web" when the entry has a usable name, else "containers.[2]". */
static void container_path(const config_setting_t *entry, int index, char *buf)
{
	const config_setting_t *name = config_setting_get_member(entry, "name");
	const char *value = NULL;

	if (name && config_setting_type(name) == CONFIG_TYPE_STRING)
		value = config_setting_get_string(name);
	if (value && lp_name_valid(value, NULL) == 0)
		snprintf(buf, SETTING_PATH_MAX, "containers.%s", value);
	else
		snprintf(buf, SETTING_PATH_MAX, "containers.[%d]", index);
}

/* Blame the setting the check names, or the whole entry if it is not there. */
static int check_container(struct loader *ld, const config_setting_t *entry, const char *path,
			   const struct lp_container_cfg *c)
{
	const config_setting_t *member;
	char sub[SETTING_PATH_MAX];
	const char *field = NULL;

	if (lp_container_cfg_check(c, &field, ld->err) == 0)
		return 0;
	member = config_setting_get_member(entry, field);
	cfg_join_path(sub, path, field);
	return cfg_fail_at(ld, member ? member : entry, sub);
}

static int check_unique(struct loader *ld, const config_setting_t *entry, const char *path,
			const struct lp_container_cfg *c)
{
	char sub[SETTING_PATH_MAX];
	size_t i;

	for (i = 0; i < ld->cfg->n_containers; i++) {
		const struct lp_container_cfg *other = &ld->cfg->containers[i];

		if (strcmp(other->name, c->name))
			continue;
		lp_fail(ld->err, EEXIST, "duplicate name '%s' (also used at line %d)", c->name,
			other->source_line);
		cfg_join_path(sub, path, "name");
		return cfg_fail_at(ld, config_setting_get_member(entry, "name"), sub);
	}
	return 0;
}

/* Moves c into the config's array; c is left empty. */
static int append_container(struct loader *ld, struct lp_container_cfg *c)
{
	struct lp_agent_config *cfg = ld->cfg;
	struct lp_container_cfg *grown;

	grown = reallocarray(cfg->containers, cfg->n_containers + 1, sizeof(*grown));
	if (!grown)
		return lp_fail(ld->err, ENOMEM, "out of memory");
	cfg->containers = grown;
	cfg->containers[cfg->n_containers++] = *c;
	memset(c, 0, sizeof(*c));
	return 0;
}

static int load_container(struct loader *ld, const config_setting_t *entry, int index)
{
	struct lp_container_cfg c = { 0 };
	char path[SETTING_PATH_MAX];
	int ret;

	container_path(entry, index, path);
	if (!config_setting_is_group(entry)) {
		cfg_wrong_type(ld, entry, "a group { name = ...; ... }");
		return cfg_fail_at(ld, entry, path);
	}
	c.source = ld->cfg->path;
	c.source_line = (int)config_setting_source_line(entry);
	ret = cfg_apply_group(ld, entry, path, container_rules, ARRAY_SIZE(container_rules), &c);
	/* env is a list, possibly empty, never NULL: users iterate it directly */
	if (ret == 0 && !c.env) {
		c.env = calloc(1, sizeof(*c.env));
		if (!c.env)
			ret = lp_fail(ld->err, ENOMEM, "out of memory");
	}
	if (ret == 0)
		ret = check_container(ld, entry, path, &c);
	if (ret == 0)
		ret = check_unique(ld, entry, path, &c);
	if (ret == 0)
		ret = append_container(ld, &c);
	lp_container_cfg_free(&c);
	return ret;
}

int cfg_apply_containers(struct loader *ld, const config_setting_t *s, const char *path,
			    void *dst)
{
	int i, n;

	if (!config_setting_is_list(s)) {
		cfg_wrong_type(ld, s, "a list ( { ... }, { ... } )");
		return cfg_fail_at(ld, s, path);
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++)
		if (load_container(ld, config_setting_get_elem(s, (unsigned int)i), i) < 0)
			return -1;
	return 0;
}
