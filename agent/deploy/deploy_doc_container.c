// SPDX-License-Identifier: Apache-2.0
/*
 * One entry of a deployment document's "containers": its image pin, limits,
 * health check, volumes and the rest of what a container runs with, decoded
 * by member tables (deploy_doc_internal.h) and checked as a whole by
 * lp_container_cfg_check.  Apart from deploy_doc.c, which reads the document
 * around the entries, because an entry is most of the schema and of the
 * code, and changes with the container's options rather than the document's.
 */
#include "agent/deploy/deploy_doc_internal.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/spec/json.h"
#include "agent/spec/image_ref.h"
#include "agent/spec/parse.h"
#include "agent/image/store.h"
#include "platform/lib/util.h"

#define DAY_MS ((int64_t)24 * 3600 * 1000)
#define HEALTH_INTERVAL_MIN_MS 1000
#define HEALTH_TIMEOUT_MIN_MS 10
#define HEALTH_RETRIES_MAX 100
#define DERIVED_TAG_HEX 12	/* as many digits as a short docker id */

/* ---------------------------------------------------------------- values */

/* "10s" or "1500ms": a duration the way it would have been written. */
static const char *format_ms(int64_t ms, char *buf, size_t size)
{
	if (ms % 1000 == 0)
		snprintf(buf, size, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, size, "%lldms", (long long)ms);
	return buf;
}

/* A command: leaving it out means the default, so an empty one is a mistake. */
static int decode_command(json_t *v, void *field, const char *path, struct lp_err *err)
{
	char ***argv = field;

	if (lp_deploy_decode_strv(v, argv, path, err) < 0)
		return -1;
	if (!(*argv)[0])
		return lp_deploy_fail_at(err, path, EINVAL, "empty (leave it out for the default)");
	return 0;
}

/* field: bool */
static int decode_bool(json_t *v, void *field, const char *path, struct lp_err *err)
{
	if (!json_is_boolean(v))
		return lp_json_type_error(err, path, "true or false", v);
	*(bool *)field = json_is_true(v);
	return 0;
}

static int get_duration(json_t *v, int64_t min_ms, int64_t max_ms, int64_t *ms, const char *path,
			struct lp_err *err)
{
	char min[32], max[32];
	const char *s;

	if (!json_is_string(v))
		return lp_json_type_error(err, path, "a duration string (e.g. \"10s\")", v);
	s = json_string_value(v);
	if (lp_parse_duration(s, ms, err) < 0)
		return lp_deploy_blame(err, path);
	if (*ms < min_ms || *ms > max_ms)
		return lp_deploy_fail_at(err, path, ERANGE, "'%s' is out of range (%s to %s)", s,
					 format_ms(min_ms, min, sizeof(min)),
					 format_ms(max_ms, max, sizeof(max)));
	return 0;
}

/* ---------------------------------------------------------------- image */


/* field: char *image_url */
static int decode_image_url(json_t *v, void *field, const char *path, struct lp_err *err)
{
	char **url = field;

	if (lp_deploy_decode_string(v, url, path, err) < 0)
		return -1;
	if (lp_deploy_check_ref(*url, err) < 0)
		return lp_deploy_blame(err, path);
	return 0;
}

/* field: unsigned char image_sha256[LP_SHA256_LEN] */
static int decode_image_sha256(json_t *v, void *field, const char *path, struct lp_err *err)
{
	char digest[LP_DIGEST_STR_LEN];
	const char *hex = NULL;

	if (lp_json_get_string(v, &hex, path, err) < 0)
		return -1;
	/* lp_digest_parse does the strict part: exactly 64 lowercase hex digits */
	if (strlen(hex) != LP_SHA256_HEX_LEN ||
	    snprintf(digest, sizeof(digest), "sha256:%s", hex) >= (int)sizeof(digest) ||
	    lp_digest_parse(digest, field, NULL) < 0)
		return lp_deploy_fail_at(
			err, path, EINVAL,
			"'%s' is not 64 lowercase hex digits (as sha256sum prints them)", hex);
	return 0;
}

/* field: char *cfg.image */
static int decode_image_name(json_t *v, void *field, const char *path, struct lp_err *err)
{
	char **name = field;

	if (lp_deploy_decode_string(v, name, path, err) < 0)
		return -1;
	if (lp_image_name_valid(*name, err) < 0)
		return lp_deploy_blame(err, path);
	return 0;
}

/* field: char *image_ref; the digest it pins goes to image_sha256 beside it */
static int decode_image_ref(json_t *v, void *field, const char *path, struct lp_err *err)
{
	struct lp_deploy_container *c = field;
	struct lp_image_ref ref;

	if (lp_deploy_decode_string(v, &c->image_ref, path, err) < 0)
		return -1;
	if (lp_image_ref_parse(c->image_ref, &ref, err) < 0)
		return lp_deploy_blame(err, path);
	/* A tag can be moved; only a digest pins what the signature vouches for. */
	if (!ref.digest[0])
		return lp_deploy_fail_at(err, path, EINVAL,
					 "must be pinned by digest (%.200s@sha256:...)",
					 c->image_ref);
	if (lp_digest_parse(ref.digest, c->image_sha256, err) < 0)
		return lp_deploy_blame(err, path);
	return 0;
}

static const struct member archive_members[] = {
	MEMBER(struct lp_deploy_container, "url", decode_image_url, image_url,
	       "where the image archive is"),
	MEMBER(struct lp_deploy_container, "sha256", decode_image_sha256, image_sha256,
	       "every image is pinned by its digest"),
	MEMBER(struct lp_deploy_container, "size", lp_deploy_decode_positive, image_size,
	       "every image is pinned by its size in bytes"),
	MEMBER(struct lp_deploy_container, "name", decode_image_name, cfg.image, NULL),
};

static const struct member registry_members[] = {
	WHOLE("ref", decode_image_ref, NULL),
	MEMBER(struct lp_deploy_container, "name", decode_image_name, cfg.image, NULL),
};

/*
 * field: the whole struct lp_deploy_container (the image fields are flat in
 * it).  An archive (url, sha256, size) or a registry image (ref), never a
 * mix: a document that pins both would leave it open which one runs.
 */
static int decode_image(json_t *v, void *field, const char *path, struct lp_err *err)
{
	bool archive, registry;

	if (!json_is_object(v)) /* which says what it is instead */
		return DECODE_MEMBERS(v, archive_members, field, path, err);
	registry = json_object_get(v, "ref") != NULL;
	archive = json_object_get(v, "url") || json_object_get(v, "sha256") ||
		  json_object_get(v, "size");
	if (archive == registry)
		return lp_deploy_fail_at(err, path, EINVAL,
					 "give either url, sha256 and size, or ref");
	if (registry)
		return DECODE_MEMBERS(v, registry_members, field, path, err);
	return DECODE_MEMBERS(v, archive_members, field, path, err);
}

/*
 * "deploy/web:0123456789ab": a new archive (or registry digest) never
 * replaces the image still running.
 */
static int derive_image_name(struct lp_deploy_container *c, struct lp_err *err)
{
	char hex[LP_SHA256_HEX_LEN + 1];

	lp_hex(c->image_sha256, LP_SHA256_LEN, hex);
	if (asprintf(&c->cfg.image, "deploy/%s:%.*s", c->cfg.name, DERIVED_TAG_HEX, hex) < 0) {
		c->cfg.image = NULL;
		return lp_json_out_of_memory(err, "image.name");
	}
	return 0;
}

/* ---------------------------------------------------------------- limits */

/* field: int64_t memory */
static int decode_memory(json_t *v, void *field, const char *path, struct lp_err *err)
{
	int64_t *memory = field;

	if (json_is_string(v)) {
		if (lp_parse_size(json_string_value(v), memory, err) < 0)
			return lp_deploy_blame(err, path);
		return 0;
	}
	if (!json_is_integer(v))
		return lp_json_type_error(err, path, "a size (\"64M\") or a number of bytes", v);
	/* out of range values are for lp_container_cfg_check to report */
	*memory = json_integer_value(v);
	return 0;
}

/* field: the whole struct lp_limits (a quota and its period) */
static int decode_cpus(json_t *v, void *field, const char *path, struct lp_err *err)
{
	int ret;

	if (json_is_string(v))
		ret = lp_parse_cpus(json_string_value(v), field, err);
	else if (json_is_number(v))
		ret = lp_cpus_to_limits(json_number_value(v), field, err);
	else
		return lp_json_type_error(err, path, "a number of CPUs (0.5, 2 or \"1.5\")", v);
	return ret < 0 ? lp_deploy_blame(err, path) : 0;
}

/* field: int cpu_weight */
static int decode_cpu_weight(json_t *v, void *field, const char *path, struct lp_err *err)
{
	long long w = 0;

	if (lp_json_get_int(v, 1, LP_CPU_WEIGHT_MAX, &w, path, err) < 0)
		return -1;
	*(int *)field = (int)w;
	return 0;
}

/* field: int64_t pids */
static int decode_pids(json_t *v, void *field, const char *path, struct lp_err *err)
{
	long long pids = 0;

	/* 0 would mean "no limit" inside; in a document that is leaving it out */
	if (lp_json_get_int(v, 1, INT_MAX, &pids, path, err) < 0)
		return -1;
	*(int64_t *)field = pids;
	return 0;
}

static const struct member limits_members[] = {
	MEMBER(struct lp_limits, "memory", decode_memory, memory, NULL),
	WHOLE("cpus", decode_cpus, NULL),
	MEMBER(struct lp_limits, "cpu_weight", decode_cpu_weight, cpu_weight, NULL),
	MEMBER(struct lp_limits, "pids", decode_pids, pids, NULL),
};

static int decode_limits(json_t *v, void *field, const char *path, struct lp_err *err)
{
	return DECODE_MEMBERS(v, limits_members, field, path, err);
}

/* ---------------------------------------------------------------- health */

static int decode_interval(json_t *v, void *field, const char *path, struct lp_err *err)
{
	return get_duration(v, HEALTH_INTERVAL_MIN_MS, DAY_MS, field, path, err);
}

static int decode_timeout(json_t *v, void *field, const char *path, struct lp_err *err)
{
	return get_duration(v, HEALTH_TIMEOUT_MIN_MS, DAY_MS, field, path, err);
}

static int decode_start_period(json_t *v, void *field, const char *path, struct lp_err *err)
{
	return get_duration(v, 0, DAY_MS, field, path, err);
}

static int decode_retries(json_t *v, void *field, const char *path, struct lp_err *err)
{
	long long n = 0;

	if (lp_json_get_int(v, 1, HEALTH_RETRIES_MAX, &n, path, err) < 0)
		return -1;
	*(int *)field = (int)n;
	return 0;
}

static const struct member health_members[] = {
	MEMBER(struct lp_health, "command", decode_command, argv, NULL),
	MEMBER(struct lp_health, "interval", decode_interval, interval_ms, NULL),
	MEMBER(struct lp_health, "timeout", decode_timeout, timeout_ms, NULL),
	MEMBER(struct lp_health, "retries", decode_retries, retries, NULL),
	MEMBER(struct lp_health, "start_period", decode_start_period, start_period_ms, NULL),
};

/* Settings of the probe mean nothing without a probe to run. */
static int check_probe_settings(json_t *obj, const char *path, struct lp_err *err)
{
	static const char *const probe_only[] = { "interval", "timeout", "retries" };
	char sub[PATH_BUF];
	size_t i;

	if (json_object_get(obj, "command"))
		return 0;
	for (i = 0; i < ARRAY_SIZE(probe_only); i++) {
		if (!json_object_get(obj, probe_only[i]))
			continue;
		lp_json_key_path(sub, PATH_BUF, path, probe_only[i]);
		return lp_deploy_fail_at(err, sub, EINVAL,
					 "only goes with a command to probe with");
	}
	return 0;
}

/* field: struct lp_health, holding the defaults */
static int decode_health(json_t *v, void *field, const char *path, struct lp_err *err)
{
	char sub[PATH_BUF], timeout[32], interval[32];
	struct lp_health *h = field;

	if (DECODE_MEMBERS(v, health_members, h, path, err) < 0 ||
	    check_probe_settings(v, path, err) < 0)
		return -1;
	/* the default timeout shrinks to a short interval rather than refuse it */
	if (!json_object_get(v, "timeout") && h->timeout_ms > h->interval_ms)
		h->timeout_ms = h->interval_ms;
	if (h->timeout_ms > h->interval_ms) {
		lp_json_key_path(sub, PATH_BUF, path, "timeout");
		return lp_deploy_fail_at(err, sub, EINVAL, "%s is longer than the interval (%s)",
					 format_ms(h->timeout_ms, timeout, sizeof(timeout)),
					 format_ms(h->interval_ms, interval, sizeof(interval)));
	}
	return 0;
}

/* ---------------------------------------------------------------- volumes */

static const struct member volume_members[] = {
	MEMBER(struct lp_volume, "name", lp_deploy_decode_string, name,
	       "what the volume is kept as"),
	MEMBER(struct lp_volume, "path", lp_deploy_decode_string, path,
	       "where the container sees it"),
};

/* field: struct lp_container_cfg (volumes and n_volumes); the rules are lp_volume_check's */
static int decode_volumes(json_t *v, void *field, const char *path, struct lp_err *err)
{
	struct lp_container_cfg *cfg = field;
	const char *part = NULL;
	char item[PATH_BUF], sub[PATH_BUF];
	json_t *elem;
	size_t i;

	if (!json_is_array(v))
		return lp_json_type_error(err, path, "an array of volumes", v);
	if (json_array_size(v) == 0)
		return 0;
	cfg->volumes = calloc(json_array_size(v), sizeof(*cfg->volumes));
	if (!cfg->volumes)
		return lp_json_out_of_memory(err, path);
	json_array_foreach(v, i, elem) {
		lp_json_index_path(item, PATH_BUF, path, i);
		cfg->n_volumes = i + 1;
		if (DECODE_MEMBERS(elem, volume_members, &cfg->volumes[i], item, err) < 0)
			return -1;
		if (lp_volume_check(cfg->volumes, i, &part, err) < 0) {
			lp_json_key_path(sub, PATH_BUF, item, part);
			return lp_deploy_blame(err, sub);
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- container */

/* field: struct lp_container_cfg; numbers are ids, a name is looked up in the image */
static int decode_user(json_t *v, void *field, const char *path, struct lp_err *err)
{
	struct lp_container_cfg *cfg = field;

	if (lp_deploy_decode_string(v, &cfg->user, path, err) < 0)
		return -1;
	if (!cfg->user[0])
		return lp_deploy_fail_at(err, path, EINVAL, "empty (a user name, UID or UID:GID)");
	if (lp_user_has_name(cfg->user))
		return 0;
	if (lp_parse_user(cfg->user, &cfg->uid, &cfg->gid, err) < 0)
		return lp_deploy_blame(err, path);
	return 0;
}

/* field: struct lp_restart */
static int decode_restart(json_t *v, void *field, const char *path, struct lp_err *err)
{
	const char *s = NULL;

	if (lp_json_get_string(v, &s, path, err) < 0)
		return -1;
	if (lp_parse_restart(s, field, err) < 0)
		return lp_deploy_blame(err, path);
	return 0;
}

/* field: enum lp_isolation */
static int decode_isolation(json_t *v, void *field, const char *path, struct lp_err *err)
{
	const char *s = NULL;

	if (lp_json_get_string(v, &s, path, err) < 0)
		return -1;
	if (lp_parse_isolation(s, field, err) < 0)
		return lp_deploy_blame(err, path);
	return 0;
}

/* field: enum lp_net_mode */
static int decode_network(json_t *v, void *field, const char *path, struct lp_err *err)
{
	const char *s = NULL;

	if (lp_json_get_string(v, &s, path, err) < 0)
		return -1;
	if (lp_parse_net(s, field, err) < 0)
		return lp_deploy_blame(err, path);
	return 0;
}

/* field: char **device_specs; the nodes are looked up on the device, later */
static int decode_devices(json_t *v, void *field, const char *path, struct lp_err *err)
{
	char ***specs = field;
	char item[PATH_BUF];
	struct lp_device dev;
	size_t i;

	if (lp_deploy_decode_strv(v, specs, path, err) < 0)
		return -1;
	for (i = 0; (*specs)[i]; i++) {
		lp_json_index_path(item, PATH_BUF, path, i);
		if (lp_parse_device_syntax((*specs)[i], &dev, err) < 0)
			return lp_deploy_blame(err, item);
	}
	return 0;
}

#define CONTAINER(key, decode, field, required) \
	MEMBER(struct lp_deploy_container, key, decode, field, required)

static const struct member container_members[] = {
	CONTAINER("name", lp_deploy_decode_string, cfg.name, "every container needs a name"),
	WHOLE("image", decode_image, "what to run"),
	CONTAINER("command", decode_command, cfg.argv, NULL),
	CONTAINER("env", lp_deploy_decode_strv, cfg.env, NULL),
	CONTAINER("user", decode_user, cfg, NULL),
	CONTAINER("workdir", lp_deploy_decode_string, cfg.cwd, NULL),
	CONTAINER("hostname", lp_deploy_decode_string, cfg.hostname, NULL),
	CONTAINER("limits", decode_limits, cfg.limits, NULL),
	CONTAINER("restart", decode_restart, cfg.restart, NULL),
	CONTAINER("health", decode_health, health, NULL),
	CONTAINER("isolation", decode_isolation, cfg.isolation, NULL),
	CONTAINER("network", decode_network, cfg.net, NULL),
	CONTAINER("volumes", decode_volumes, cfg, NULL),
	CONTAINER("devices", decode_devices, device_specs, NULL),
	CONTAINER("init", decode_bool, cfg.init, NULL),
	CONTAINER("read_only", decode_bool, cfg.read_only, NULL),
};

/* lp_container_cfg_check names fields as the config spells them; this document's names. */
static const char *document_field(const char *cfg_field)
{
	static const struct {
		const char *cfg, *doc;
	} renamed[] = {
		{ "rootfs", "image.name" },	{ "memory", "limits.memory" },
		{ "cpus", "limits.cpus" },	{ "cpu_weight", "limits.cpu_weight" },
		{ "pids", "limits.pids" },	{ "net", "network" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(renamed); i++)
		if (!strcmp(renamed[i].cfg, cfg_field))
			return renamed[i].doc;
	return cfg_field;
}

static void set_container_defaults(struct lp_deploy_container *c)
{
	/* a deployed service is meant to stay up */
	c->cfg.restart.policy = LP_RESTART_ALWAYS;
	c->health.interval_ms = LP_HEALTH_INTERVAL_MS;
	c->health.timeout_ms = LP_HEALTH_TIMEOUT_MS;
	c->health.start_period_ms = LP_HEALTH_START_PERIOD_MS;
	c->health.retries = LP_HEALTH_RETRIES;
}

/* Lists are never NULL, so users iterate them directly. */
static int fill_empty_lists(struct lp_deploy_container *c, const char *path, struct lp_err *err)
{
	if (!c->cfg.env)
		c->cfg.env = calloc(1, sizeof(*c->cfg.env));
	if (!c->device_specs)
		c->device_specs = calloc(1, sizeof(*c->device_specs));
	if (!c->cfg.env || !c->device_specs)
		return lp_json_out_of_memory(err, path);
	return 0;
}

static int check_container(struct lp_deploy_container *c, const char *path, struct lp_err *err)
{
	const char *field = NULL;
	char sub[PATH_BUF];

	if (lp_container_cfg_check(&c->cfg, &field, err) == 0)
		return 0;
	lp_json_key_path(sub, PATH_BUF, path, document_field(field));
	return lp_deploy_blame(err, sub);
}

static int decode_container(json_t *v, struct lp_deploy_container *c, const char *path,
			    struct lp_err *err)
{
	set_container_defaults(c);
	if (DECODE_MEMBERS(v, container_members, c, path, err) < 0 ||
	    fill_empty_lists(c, path, err) < 0)
		return -1;
	/* an invalid name is for check_container to report, not to build on */
	if (!c->cfg.image && lp_name_valid(c->cfg.name, NULL) == 0 &&
	    derive_image_name(c, err) < 0)
		return lp_deploy_blame(err, path);
	return check_container(c, path, err);
}

static int check_name_unique(const struct lp_deployment *d, size_t i, const char *path,
			     struct lp_err *err)
{
	char sub[PATH_BUF];
	size_t j;

	for (j = 0; j < i; j++) {
		if (strcmp(d->containers[j].cfg.name, d->containers[i].cfg.name))
			continue;
		lp_json_key_path(sub, PATH_BUF, path, "name");
		return lp_deploy_fail_at(err, sub, EEXIST,
					 "duplicate name '%s' (also containers[%zu])",
					 d->containers[i].cfg.name, j);
	}
	return 0;
}

/* field: the whole struct lp_deployment (containers and n) */
int lp_deploy_decode_containers(json_t *v, void *field, const char *path, struct lp_err *err)
{
	struct lp_deployment *d = field;
	char item[PATH_BUF];
	json_t *elem;
	size_t i;

	if (!json_is_array(v))
		return lp_json_type_error(err, path, "an array of containers", v);
	if (json_array_size(v) == 0)
		return 0;
	d->containers = calloc(json_array_size(v), sizeof(*d->containers));
	if (!d->containers)
		return lp_json_out_of_memory(err, path);
	json_array_foreach(v, i, elem) {
		lp_json_index_path(item, PATH_BUF, path, i);
		d->n = i + 1;
		if (decode_container(elem, &d->containers[i], item, err) < 0 ||
		    check_name_unique(d, i, item, err) < 0)
			return -1;
	}
	return 0;
}
