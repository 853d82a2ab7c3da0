/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the config loader (config*.c): reading libconfig
 * settings with strict types, messages "FILE:LINE: SETTING: reason", and the
 * tables of rules that make an unknown setting an error.
 */
#ifndef LIMPET_CONFIG_LOADER_H
#define LIMPET_CONFIG_LOADER_H

#include <libconfig.h>
#include <stdbool.h>
#include <stdint.h>

#include "platform/lib/err.h"

/* config.h's; the loader fills them in but needs none of their fields. */
struct lp_agent_config;
struct lp_fleet_config;
struct lp_registry_config;

#define SETTING_PATH_MAX 160

struct loader {
	const char *file;	/* for settings libconfig has no file name for */
	struct lp_agent_config *cfg;
	struct lp_err *err;
};

/* Reads one setting into dst; the reason goes in err, the caller adds where. */
typedef int (*apply_fn)(struct loader *ld, const config_setting_t *s, const char *path,
			void *dst);

struct rule {
	const char *name;
	apply_fn apply;
	bool nested;	/* a group: its members' errors already say where they are */
};

int cfg_fail_at(const struct loader *ld, const config_setting_t *s, const char *path);
void cfg_join_path(char *buf, const char *path, const char *name);
const char *cfg_type_name(const config_setting_t *s);
int cfg_wrong_type(struct loader *ld, const config_setting_t *s, const char *want);
bool cfg_is_int(const config_setting_t *s);
int cfg_get_string(struct loader *ld, const config_setting_t *s, const char **out);
int cfg_replace_string(struct loader *ld, const char *value, char **dst);
int cfg_set_string(struct loader *ld, const config_setting_t *s, char **dst);
int cfg_set_abs_path(struct loader *ld, const config_setting_t *s, char **dst);
int cfg_get_int64(struct loader *ld, const config_setting_t *s, int64_t *out);
int cfg_get_int_in(struct loader *ld, const config_setting_t *s, int64_t min, int64_t max,
		   int *out);
int cfg_set_bool(struct loader *ld, const config_setting_t *s, bool *dst);
int cfg_get_size(struct loader *ld, const config_setting_t *s, int64_t *bytes);
int cfg_get_duration(struct loader *ld, const config_setting_t *s, int64_t *ms);
int cfg_set_strv(struct loader *ld, const config_setting_t *s, char ***dst);
const struct rule *cfg_find_rule(const struct rule *rules, size_t n, const char *name);
int cfg_apply_group(struct loader *ld, const config_setting_t *group, const char *path,
		    const struct rule *rules, size_t n_rules, void *dst);

/* The groups with files of their own: containers (config_containers.c), fleet (config_fleet.c). */
int cfg_apply_containers(struct loader *ld, const config_setting_t *s, const char *path,
			 void *dst);
int cfg_apply_fleet(struct loader *ld, const config_setting_t *s, const char *path, void *dst);
int cfg_fleet_defaults(struct lp_fleet_config *f, struct lp_err *err);
int cfg_apply_registry(struct loader *ld, const config_setting_t *s, const char *path,
		       void *dst);
void cfg_registry_free(struct lp_registry_config *r);
void cfg_fleet_free(struct lp_fleet_config *f);

#endif
