// SPDX-License-Identifier: Apache-2.0
/* Strictly typed reads of libconfig settings for the config loader (config.c). */
#include "agent/config/config_loader.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/spec/parse.h"
#include "platform/lib/util.h"

/* ---------------------------------------------------------------- helpers */

int cfg_fail_at(const struct loader *ld, const config_setting_t *s, const char *path)
{
	const char *file = config_setting_source_file(s);

	return lp_prefix(ld->err, "%s:%u: %s", file ? file : ld->file,
			 (unsigned int)config_setting_source_line(s), path);
}

/* Setting paths only label messages: one cut short, marked with '~', still helps. */
void cfg_join_path(char *buf, const char *path, const char *name)
{
	if (snprintf(buf, SETTING_PATH_MAX, "%s%s%s", path, *path ? "." : "", name) >=
	    SETTING_PATH_MAX)
		buf[SETTING_PATH_MAX - 2] = '~';
}

const char *cfg_type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
		return "a group { ... }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ... ]";
	case CONFIG_TYPE_LIST:
		return "a list ( ... )";
	}
	return "nothing";
}

int cfg_wrong_type(struct loader *ld, const config_setting_t *s, const char *want)
{
	return lp_fail(ld->err, EINVAL, "expected %s, got %s", want, cfg_type_name(s));
}

bool cfg_is_int(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT ||
	       config_setting_type(s) == CONFIG_TYPE_INT64;
}

int cfg_get_string(struct loader *ld, const config_setting_t *s, const char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_wrong_type(ld, s, "a string");
	*out = config_setting_get_string(s);
	return 0;
}

int cfg_replace_string(struct loader *ld, const char *value, char **dst)
{
	char *copy = strdup(value);

	if (!copy)
		return lp_fail(ld->err, ENOMEM, "out of memory");
	free(*dst);
	*dst = copy;
	return 0;
}

int cfg_set_string(struct loader *ld, const config_setting_t *s, char **dst)
{
	const char *value = NULL;

	if (cfg_get_string(ld, s, &value) < 0)
		return -1;
	return cfg_replace_string(ld, value, dst);
}

int cfg_set_abs_path(struct loader *ld, const config_setting_t *s, char **dst)
{
	const char *value = NULL;

	if (cfg_get_string(ld, s, &value) < 0)
		return -1;
	if (value[0] != '/')
		return lp_fail(ld->err, EINVAL, "'%s' is not an absolute path", value);
	return cfg_replace_string(ld, value, dst);
}

int cfg_get_int64(struct loader *ld, const config_setting_t *s, int64_t *out)
{
	if (!cfg_is_int(s))
		return cfg_wrong_type(ld, s, "an integer");
	*out = config_setting_get_int64(s);
	return 0;
}

int cfg_get_int_in(struct loader *ld, const config_setting_t *s, int64_t min, int64_t max,
		   int *out)
{
	int64_t v = 0;

	if (cfg_get_int64(ld, s, &v) < 0)
		return -1;
	if (v < min || v > max)
		return lp_fail(ld->err, ERANGE, "%lld is out of range (%lld to %lld)", (long long)v,
			       (long long)min, (long long)max);
	*out = (int)v;
	return 0;
}

int cfg_set_bool(struct loader *ld, const config_setting_t *s, bool *dst)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return cfg_wrong_type(ld, s, "true or false");
	*dst = config_setting_get_bool(s);
	return 0;
}

/* "64M" or a plain number of bytes. */
int cfg_get_size(struct loader *ld, const config_setting_t *s, int64_t *bytes)
{
	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		return lp_parse_size(config_setting_get_string(s), bytes, ld->err);
	if (!cfg_is_int(s))
		return cfg_wrong_type(ld, s, "a size (\"64M\") or a number of bytes");
	*bytes = config_setting_get_int64(s);
	if (*bytes < 0)
		return lp_fail(ld->err, EINVAL, "%lld is negative", (long long)*bytes);
	return 0;
}

/* "10s", "500ms" or a plain number of seconds. */
int cfg_get_duration(struct loader *ld, const config_setting_t *s, int64_t *ms)
{
	long long seconds;

	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		return lp_parse_duration(config_setting_get_string(s), ms, ld->err);
	if (!cfg_is_int(s))
		return cfg_wrong_type(ld, s, "a duration (\"10s\") or a number of seconds");
	seconds = config_setting_get_int64(s);
	if (seconds < 0)
		return lp_fail(ld->err, EINVAL, "%lld is negative", seconds);
	if (seconds > INT64_MAX / 1000)
		return lp_fail(ld->err, ERANGE, "%lld is too large", seconds);
	*ms = seconds * 1000;
	return 0;
}

/* [ "a", "b" ] (or a list of strings) into a NULL-terminated vector. */
int cfg_set_strv(struct loader *ld, const config_setting_t *s, char ***dst)
{
	int i, n;
	char **v;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return cfg_wrong_type(ld, s, "an array of strings [ \"...\" ]");
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		const config_setting_t *elem = config_setting_get_elem(s, (unsigned int)i);

		if (config_setting_type(elem) != CONFIG_TYPE_STRING)
			return lp_fail(ld->err, EINVAL, "element %d: expected a string, got %s", i,
				       cfg_type_name(elem));
	}
	v = calloc((size_t)n + 1, sizeof(*v));
	if (!v)
		return lp_fail(ld->err, ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		v[i] = strdup(config_setting_get_string_elem(s, (unsigned int)i));
		if (!v[i]) {
			lp_strv_free(v);
			return lp_fail(ld->err, ENOMEM, "out of memory");
		}
	}
	lp_strv_free(*dst);
	*dst = v;
	return 0;
}

const struct rule *cfg_find_rule(const struct rule *rules, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(rules[i].name, name))
			return &rules[i];
	return NULL;
}

int cfg_apply_group(struct loader *ld, const config_setting_t *group, const char *path,
		    const struct rule *rules, size_t n_rules, void *dst)
{
	char sub[SETTING_PATH_MAX];
	int i, n = config_setting_length(group);

	for (i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned int)i);
		const struct rule *rule = cfg_find_rule(rules, n_rules, config_setting_name(s));

		cfg_join_path(sub, path, config_setting_name(s));
		if (!rule) {
			lp_fail(ld->err, EINVAL, "unknown setting");
			return cfg_fail_at(ld, s, sub);
		}
		if (rule->apply(ld, s, sub, dst) < 0)
			return rule->nested ? -1 : cfg_fail_at(ld, s, sub);
	}
	return 0;
}

