// SPDX-License-Identifier: Apache-2.0
/*
 * The agent config: libconfig syntax, read into struct lp_agent_config and
 * checked strictly.  Every setting is looked up in a table of rules, so an
 * unknown name (a typo) is an error rather than a line silently ignored, and
 * every message reads "FILE:LINE: SETTING: reason".  The containers list and
 * the fleet group have files of their own (config_containers.c,
 * config_fleet.c).
 */
#include "agent/config/config.h"

#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config/config_loader.h"
#include "agent/spec/parse.h"
#include "platform/lib/util.h"

#define DEFAULT_STOP_TIMEOUT_MS 10000
#define LOG_SIZE_MIN ((int64_t)4 << 10)		/* the range Kconfig allows */
#define LOG_SIZE_MAX ((int64_t)1 << 30)
#define LOG_FILES_MAX 16
#define IMAGE_MAX_FILE_SIZE ((int64_t)1 << 30)
#define IMAGE_MAX_SIZE ((int64_t)8 << 30)
#define IMAGE_SIZE_MIN ((int64_t)1 << 20)	/* below this, a unit was surely forgotten */

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
	{ "containers", cfg_apply_containers, true },
	{ "fleet", cfg_apply_fleet, true },
	{ "registry", cfg_apply_registry, true },
	{ "usb", apply_usb, true },
	{ "vm", apply_vm, true },
};

/* ---------------------------------------------------------------- public */

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
	if (cfg_fleet_defaults(&cfg->fleet, err) < 0) {
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
	cfg_fleet_free(&cfg->fleet);
	cfg_registry_free(&cfg->registry);
	free(cfg->vm.kernel);
	memset(cfg, 0, sizeof(*cfg));
}
