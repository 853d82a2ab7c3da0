// SPDX-License-Identifier: Apache-2.0
/*
 * The agent config: libconfig syntax, read into struct lp_agent_config and
 * checked strictly.  Every setting is looked up in a table of rules, so an
 * unknown name (a typo) is an error rather than a line silently ignored, and
 * every message reads "FILE:LINE: SETTING: reason".
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_loader.h"
#include "fetch.h"
#include "parse.h"
#include "platform/lib/util.h"

#define DEFAULT_STOP_TIMEOUT_MS 10000
#define LOG_SIZE_MIN ((int64_t)4 << 10)		/* the range Kconfig allows */
#define LOG_SIZE_MAX ((int64_t)1 << 30)
#define LOG_FILES_MAX 16
#define IMAGE_MAX_FILE_SIZE ((int64_t)1 << 30)
#define IMAGE_MAX_SIZE ((int64_t)8 << 30)
#define IMAGE_SIZE_MIN ((int64_t)1 << 20)	/* below this, a unit was surely forgotten */
#define DEFAULT_POLL_INTERVAL_MS 60000
#define DEFAULT_POLL_JITTER_MS 10000
#define DEFAULT_STATUS_INTERVAL_MS (10 * 60000)
#define POLL_INTERVAL_MIN_MS 1000
#define POLL_MAX_MS ((int64_t)24 * 3600 * 1000)
#define FLEET_NAME_MAX 64

/* ---------------------------------------------------------------- container settings */

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
	if (!strchr("0123456789", v[0]))
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

static int apply_containers(struct loader *ld, const config_setting_t *s, const char *path,
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

/* ---------------------------------------------------------------- agent settings */

static int apply_root(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	return cfg_set_abs_path(ld, s, &((struct lp_agent_config *)dst)->root);
}

static int apply_run_dir(struct loader *ld, const config_setting_t *s, const char *path,
			 void *dst)
{
	return cfg_set_abs_path(ld, s, &((struct lp_agent_config *)dst)->run_dir);
}

static int apply_cgroup_parent(struct loader *ld, const config_setting_t *s, const char *path,
			       void *dst)
{
	const char *value = NULL;

	if (cfg_get_string(ld, s, &value) < 0)
		return -1;
	if (!lp_path_confined(value))
		return lp_fail(ld->err, EINVAL,
			       "'%s' is not a cgroup path (absolute, e.g. \"/limpet\", without '..')",
			       value);
	return cfg_replace_string(ld, value, &((struct lp_agent_config *)dst)->cgroup_parent);
}

static int apply_log_max_size(struct loader *ld, const config_setting_t *s, const char *path,
			      void *dst)
{
	struct lp_agent_config *cfg = dst;
	int64_t bytes;

	if (cfg_get_size(ld, s, &bytes) < 0)
		return -1;
	if (bytes < LOG_SIZE_MIN || bytes > LOG_SIZE_MAX)
		return lp_fail(ld->err, ERANGE, "%lld bytes is out of range (4K to 1G)",
			       (long long)bytes);
	cfg->log_max_size = bytes;
	return 0;
}

static int apply_log_files(struct loader *ld, const config_setting_t *s, const char *path,
			   void *dst)
{
	return cfg_get_int_in(ld, s, 1, LOG_FILES_MAX, &((struct lp_agent_config *)dst)->log_files);
}

static const struct rule log_rules[] = {
	{ "max_size", apply_log_max_size, false },
	{ "files", apply_log_files, false },
};

static int apply_log(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	if (!config_setting_is_group(s)) {
		cfg_wrong_type(ld, s, "a group { max_size = ...; files = ...; }");
		return cfg_fail_at(ld, s, path);
	}
	return cfg_apply_group(ld, s, path, log_rules, ARRAY_SIZE(log_rules), dst);
}

static int apply_stop_timeout(struct loader *ld, const config_setting_t *s, const char *path,
			      void *dst)
{
	return cfg_get_duration(ld, s, &((struct lp_agent_config *)dst)->stop_timeout_ms);
}

static int apply_trust(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	struct lp_agent_config *cfg = dst;
	char **keys = NULL;
	size_t i;

	if (cfg_set_strv(ld, s, &keys) < 0)
		return -1;
	for (i = 0; keys[i]; i++) {
		if (keys[i][0] == '/')
			continue;
		lp_fail(ld->err, EINVAL, "element %zu: '%s' is not an absolute path", i, keys[i]);
		lp_strv_free(keys);
		return -1;
	}
	lp_strv_free(cfg->trusted_keys);
	cfg->trusted_keys = keys;
	return 0;
}

static int apply_allow_unsigned(struct loader *ld, const config_setting_t *s, const char *path,
				void *dst)
{
	return cfg_set_bool(ld, s, &((struct lp_agent_config *)dst)->allow_unsigned);
}

static int get_image_size(struct loader *ld, const config_setting_t *s, int64_t *dst)
{
	int64_t bytes;

	if (cfg_get_size(ld, s, &bytes) < 0)
		return -1;
	if (bytes < IMAGE_SIZE_MIN)
		return lp_fail(ld->err, ERANGE, "%lld bytes is below the 1M minimum",
			       (long long)bytes);
	*dst = bytes;
	return 0;
}

static int apply_image_max_file_size(struct loader *ld, const config_setting_t *s,
				     const char *path, void *dst)
{
	return get_image_size(ld, s, &((struct lp_agent_config *)dst)->image_max_file_size);
}

static int apply_image_max_size(struct loader *ld, const config_setting_t *s, const char *path,
				void *dst)
{
	return get_image_size(ld, s, &((struct lp_agent_config *)dst)->image_max_size);
}

static const struct rule images_rules[] = {
	{ "max_file_size", apply_image_max_file_size, false },
	{ "max_size", apply_image_max_size, false },
};

static int apply_images(struct loader *ld, const config_setting_t *s, const char *path,
			void *dst)
{
	if (!config_setting_is_group(s)) {
		cfg_wrong_type(ld, s, "a group { max_file_size = ...; max_size = ...; }");
		return cfg_fail_at(ld, s, path);
	}
	return cfg_apply_group(ld, s, path, images_rules, ARRAY_SIZE(images_rules), dst);
}

/* ---------------------------------------------------------------- fleet settings */

static int apply_fleet_server(struct loader *ld, const config_setting_t *s, const char *path,
			      void *dst)
{
	const char *value = NULL;

	if (cfg_get_string(ld, s, &value) < 0 || lp_fetch_url_check(value, ld->err) < 0)
		return -1;
	return cfg_replace_string(ld, value, &((struct lp_fleet_config *)dst)->server);
}

static int apply_fleet_status_url(struct loader *ld, const config_setting_t *s,
				  const char *path, void *dst)
{
	const char *value = NULL;

	if (cfg_get_string(ld, s, &value) < 0 || lp_fetch_url_check(value, ld->err) < 0)
		return -1;
	return cfg_replace_string(ld, value, &((struct lp_fleet_config *)dst)->status_url);
}

static int apply_fleet_ca(struct loader *ld, const config_setting_t *s, const char *path,
			  void *dst)
{
	return cfg_set_abs_path(ld, s, &((struct lp_fleet_config *)dst)->ca);
}

static int apply_fleet_cert(struct loader *ld, const config_setting_t *s, const char *path,
			    void *dst)
{
	return cfg_set_abs_path(ld, s, &((struct lp_fleet_config *)dst)->cert);
}

static int apply_fleet_key(struct loader *ld, const config_setting_t *s, const char *path,
			   void *dst)
{
	return cfg_set_abs_path(ld, s, &((struct lp_fleet_config *)dst)->key);
}

/* Device ids and group names end up in URL paths: keep them plain. */
static bool fleet_name_valid(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > FLEET_NAME_MAX || !isalnum((unsigned char)name[0]))
		return false;
	for (i = 1; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
			return false;
	return true;
}

static int bad_fleet_name(struct loader *ld, const char *name, const char *what)
{
	return lp_fail(ld->err, EINVAL,
		       "'%s' is not a valid %s (letters, digits, '_', '.' and '-', starting with "
		       "a letter or digit, %d at most)",
		       name, what, FLEET_NAME_MAX);
}

static int apply_fleet_device_id(struct loader *ld, const config_setting_t *s, const char *path,
				 void *dst)
{
	const char *value = NULL;

	if (cfg_get_string(ld, s, &value) < 0)
		return -1;
	if (!fleet_name_valid(value))
		return bad_fleet_name(ld, value, "device id");
	return cfg_replace_string(ld, value, &((struct lp_fleet_config *)dst)->device_id);
}

static int apply_fleet_groups(struct loader *ld, const config_setting_t *s, const char *path,
			      void *dst)
{
	struct lp_fleet_config *f = dst;
	char **groups = NULL;
	size_t i;

	if (cfg_set_strv(ld, s, &groups) < 0)
		return -1;
	for (i = 0; groups[i]; i++) {
		if (fleet_name_valid(groups[i]))
			continue;
		bad_fleet_name(ld, groups[i], "group name");
		lp_prefix(ld->err, "element %zu", i);
		lp_strv_free(groups);
		return -1;
	}
	lp_strv_free(f->groups);
	f->groups = groups;
	return 0;
}

static int get_duration_in(struct loader *ld, const config_setting_t *s, int64_t min_ms,
			   int64_t max_ms, int64_t *dst)
{
	int64_t ms;

	if (cfg_get_duration(ld, s, &ms) < 0)
		return -1;
	if (ms < min_ms || ms > max_ms)
		return lp_fail(ld->err, ERANGE, "%lld ms is out of range (%llds to %llds)",
			       (long long)ms, (long long)min_ms / 1000, (long long)max_ms / 1000);
	*dst = ms;
	return 0;
}

static int apply_fleet_poll_interval(struct loader *ld, const config_setting_t *s,
				     const char *path, void *dst)
{
	return get_duration_in(ld, s, POLL_INTERVAL_MIN_MS, POLL_MAX_MS,
			       &((struct lp_fleet_config *)dst)->poll_interval_ms);
}

static int apply_fleet_poll_jitter(struct loader *ld, const config_setting_t *s,
				   const char *path, void *dst)
{
	return get_duration_in(ld, s, 0, POLL_MAX_MS,
			       &((struct lp_fleet_config *)dst)->poll_jitter_ms);
}

static int apply_fleet_status_interval(struct loader *ld, const config_setting_t *s,
				       const char *path, void *dst)
{
	return get_duration_in(ld, s, POLL_INTERVAL_MIN_MS, POLL_MAX_MS,
			       &((struct lp_fleet_config *)dst)->status_interval_ms);
}

static int apply_fleet_max_download_rate(struct loader *ld, const config_setting_t *s,
					 const char *path, void *dst)
{
	return cfg_get_size(ld, s, &((struct lp_fleet_config *)dst)->max_download_rate);
}

static int apply_fleet_keep_downloads(struct loader *ld, const config_setting_t *s,
				      const char *path, void *dst)
{
	return cfg_set_bool(ld, s, &((struct lp_fleet_config *)dst)->keep_downloads);
}

static const struct rule fleet_rules[] = {
	{ "server", apply_fleet_server, false },
	{ "status_url", apply_fleet_status_url, false },
	{ "status_interval", apply_fleet_status_interval, false },
	{ "ca", apply_fleet_ca, false },
	{ "cert", apply_fleet_cert, false },
	{ "key", apply_fleet_key, false },
	{ "device_id", apply_fleet_device_id, false },
	{ "groups", apply_fleet_groups, false },
	{ "poll_interval", apply_fleet_poll_interval, false },
	{ "poll_jitter", apply_fleet_poll_jitter, false },
	{ "max_download_rate", apply_fleet_max_download_rate, false },
	{ "keep_downloads", apply_fleet_keep_downloads, false },
};

/* A certificate without its key (or a key alone) proves nothing: blame the one given. */
static int check_fleet_identity(struct loader *ld, const config_setting_t *group,
				const char *path, const struct lp_fleet_config *f)
{
	const char *given = f->cert ? "cert" : "key";
	char sub[SETTING_PATH_MAX];

	if (!f->cert == !f->key)
		return 0;
	lp_fail(ld->err, EINVAL, "needs fleet.%s as well", f->cert ? "key" : "cert");
	cfg_join_path(sub, path, given);
	return cfg_fail_at(ld, config_setting_get_member(group, given), sub);
}

static int apply_fleet(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	struct lp_agent_config *cfg = dst;

	if (!config_setting_is_group(s)) {
		cfg_wrong_type(ld, s, "a group { server = ...; ... }");
		return cfg_fail_at(ld, s, path);
	}
	if (cfg_apply_group(ld, s, path, fleet_rules, ARRAY_SIZE(fleet_rules), &cfg->fleet) < 0)
		return -1;
	return check_fleet_identity(ld, s, path, &cfg->fleet);
}

static int apply_usb_enabled(struct loader *ld, const config_setting_t *s, const char *path,
			     void *dst)
{
	return cfg_set_bool(ld, s, &((struct lp_usb_config *)dst)->enabled);
}

static int apply_usb_write_status(struct loader *ld, const config_setting_t *s,
				  const char *path, void *dst)
{
	return cfg_set_bool(ld, s, &((struct lp_usb_config *)dst)->write_status);
}

static const struct rule usb_rules[] = {
	{ "enabled", apply_usb_enabled, false },
	{ "write_status", apply_usb_write_status, false },
};

static int apply_usb(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	struct lp_agent_config *cfg = dst;

	if (!config_setting_is_group(s)) {
		cfg_wrong_type(ld, s, "a group { enabled = true; ... }");
		return cfg_fail_at(ld, s, path);
	}
	return cfg_apply_group(ld, s, path, usb_rules, ARRAY_SIZE(usb_rules), &cfg->usb);
}

static int apply_vm_kernel(struct loader *ld, const config_setting_t *s, const char *path,
			   void *dst)
{
	return cfg_set_abs_path(ld, s, &((struct lp_vm_settings *)dst)->kernel);
}

static int apply_vm_memory(struct loader *ld, const config_setting_t *s, const char *path,
			   void *dst)
{
	struct lp_vm_settings *vm = dst;

	if (cfg_get_size(ld, s, &vm->memory) < 0)
		return -1;
	if (vm->memory < LP_VM_MEMORY_MIN)
		return lp_fail(ld->err, ERANGE, "at least %lld MiB (the guest kernel needs it)",
			       (long long)(LP_VM_MEMORY_MIN >> 20));
	return 0;
}

static const struct rule vm_rules[] = {
	{ "kernel", apply_vm_kernel, false },
	{ "memory", apply_vm_memory, false },
};

static int apply_vm(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	struct lp_agent_config *cfg = dst;

	if (!config_setting_is_group(s)) {
		cfg_wrong_type(ld, s, "a group { kernel = \"/path/to/vmlinuz\"; ... }");
		return cfg_fail_at(ld, s, path);
	}
	return cfg_apply_group(ld, s, path, vm_rules, ARRAY_SIZE(vm_rules), &cfg->vm);
}

static const struct rule top_rules[] = {
	{ "root", apply_root, false },
	{ "run_dir", apply_run_dir, false },
	{ "cgroup_parent", apply_cgroup_parent, false },
	{ "log", apply_log, true },
	{ "stop_timeout", apply_stop_timeout, false },
	{ "trust", apply_trust, false },
	{ "allow_unsigned", apply_allow_unsigned, false },
	{ "images", apply_images, true },
	{ "containers", apply_containers, true },
	{ "fleet", apply_fleet, true },
	{ "usb", apply_usb, true },
	{ "vm", apply_vm, true },
};

/* ---------------------------------------------------------------- public */

static int fleet_defaults(struct lp_fleet_config *f, struct lp_err *err)
{
	char host[HOST_NAME_MAX + 1];

	f->poll_interval_ms = DEFAULT_POLL_INTERVAL_MS;
	f->poll_jitter_ms = DEFAULT_POLL_JITTER_MS;
	f->status_interval_ms = DEFAULT_STATUS_INTERVAL_MS;
	if (gethostname(host, sizeof(host)) < 0)
		return lp_fail_errno(err, "gethostname (the default fleet.device_id)");
	host[HOST_NAME_MAX] = '\0';
	f->device_id = strdup(host);
	/* a list, possibly empty, never NULL: users iterate it directly */
	f->groups = calloc(1, sizeof(*f->groups));
	if (!f->device_id || !f->groups)
		return lp_fail(err, ENOMEM, "out of memory");
	return 0;
}

static void fleet_free(struct lp_fleet_config *f)
{
	free(f->server);
	free(f->status_url);
	free(f->ca);
	free(f->cert);
	free(f->key);
	free(f->device_id);
	lp_strv_free(f->groups);
}

int lp_config_defaults(struct lp_agent_config *cfg, struct lp_err *err)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->root = strdup(LP_DEFAULT_ROOT);
	if (!cfg->root)
		return lp_fail(err, ENOMEM, "out of memory");
	cfg->log_max_size = (int64_t)CONFIG_DEFAULT_LOG_MAX_KB * 1024;
	cfg->log_files = CONFIG_DEFAULT_LOG_FILES;
	cfg->stop_timeout_ms = DEFAULT_STOP_TIMEOUT_MS;
	cfg->image_max_file_size = IMAGE_MAX_FILE_SIZE;
	cfg->image_max_size = IMAGE_MAX_SIZE;
	/* a list, possibly empty, never NULL: users iterate it directly */
	cfg->trusted_keys = calloc(1, sizeof(*cfg->trusted_keys));
	if (!cfg->trusted_keys) {
		lp_config_free(cfg);
		return lp_fail(err, ENOMEM, "out of memory");
	}
	if (fleet_defaults(&cfg->fleet, err) < 0) {
		lp_config_free(cfg);
		return -1;
	}
	/* A stick is how a device with no network gets updated: on unless turned off. */
	cfg->usb.enabled = true;
	cfg->vm.memory = LP_DEFAULT_VM_MEMORY;
	cfg->vm.kernel = strdup(LP_DEFAULT_VM_KERNEL);
	if (!cfg->vm.kernel) {
		lp_config_free(cfg);
		return lp_fail(err, ENOMEM, "out of memory");
	}
	return 0;
}

static int read_error(const config_t *lc, const char *path, int saved_errno, struct lp_err *err)
{
	const char *file = config_error_file(lc);

	if (config_error_type(lc) == CONFIG_ERR_FILE_IO && saved_errno) {
		errno = saved_errno;
		return lp_fail_errno(err, "%s", path);
	}
	if (config_error_type(lc) == CONFIG_ERR_FILE_IO)
		return lp_fail(err, EIO, "%s: %s", path, config_error_text(lc));
	return lp_fail(err, EINVAL, "%s:%d: %s", file ? file : path, config_error_line(lc),
		       config_error_text(lc));
}

static int read_config(struct lp_agent_config *cfg, struct lp_err *err)
{
	struct loader ld = { .file = cfg->path, .cfg = cfg, .err = err };
	config_t lc;
	int ret;

	config_init(&lc);
	errno = 0;
	if (config_read_file(&lc, cfg->path) == CONFIG_FALSE)
		ret = read_error(&lc, cfg->path, errno, err);
	else
		ret = cfg_apply_group(&ld, config_root_setting(&lc), "", top_rules,
				      ARRAY_SIZE(top_rules), cfg);
	config_destroy(&lc);
	return ret;
}

int lp_config_load(const char *path, int must_exist, struct lp_agent_config *cfg,
		   struct lp_err *err)
{
	struct lp_agent_config loaded;
	struct stat st;

	memset(cfg, 0, sizeof(*cfg));
	if (stat(path, &st) < 0) {
		if (errno == ENOENT && !must_exist)
			return lp_config_defaults(cfg, err);
		return lp_fail_errno(err, "%s", path);
	}
	/* fopen() succeeds on a directory; libconfig would only say "file I/O error" */
	if (S_ISDIR(st.st_mode))
		return lp_fail(err, EISDIR, "%s: is a directory", path);
	if (lp_config_defaults(&loaded, err) < 0)
		return -1;
	loaded.path = strdup(path);
	if (!loaded.path) {
		lp_config_free(&loaded);
		return lp_fail(err, ENOMEM, "out of memory");
	}
	if (read_config(&loaded, err) < 0) {
		lp_config_free(&loaded);
		return -1;
	}
	*cfg = loaded;
	return 0;
}

void lp_config_free(struct lp_agent_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_containers; i++)
		lp_container_cfg_free(&cfg->containers[i]);
	free(cfg->containers);
	free(cfg->path);
	free(cfg->root);
	free(cfg->run_dir);
	free(cfg->cgroup_parent);
	lp_strv_free(cfg->trusted_keys);
	fleet_free(&cfg->fleet);
	free(cfg->vm.kernel);
	memset(cfg, 0, sizeof(*cfg));
}
