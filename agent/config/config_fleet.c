// SPDX-License-Identifier: Apache-2.0
/*
 * The agent config's fleet = { ... } group: where deployments come from
 * (server, status_url, TLS identity), who this device is (device_id,
 * groups), and how often and how fast it asks.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config/config.h"
#include "agent/config/config_loader.h"
#include "agent/fetch/fetch.h"
#include "agent/spec/parse.h"
#include "platform/lib/util.h"

#define DEFAULT_POLL_INTERVAL_MS 60000
#define DEFAULT_POLL_JITTER_MS 10000
#define DEFAULT_STATUS_INTERVAL_MS (10 * 60000)
#define POLL_INTERVAL_MIN_MS 1000
#define POLL_MAX_MS ((int64_t)24 * 3600 * 1000)
#define FLEET_NAME_MAX 64

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

int cfg_apply_fleet(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
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

int cfg_fleet_defaults(struct lp_fleet_config *f, struct lp_err *err)
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

void cfg_fleet_free(struct lp_fleet_config *f)
{
	free(f->server);
	free(f->status_url);
	free(f->ca);
	free(f->cert);
	free(f->key);
	free(f->device_id);
	lp_strv_free(f->groups);
}
