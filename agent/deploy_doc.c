// SPDX-License-Identifier: Apache-2.0
/*
 * The deployment document (deployment.json): parsed with jansson into
 * struct lp_deployment and checked strictly.  Each JSON object is read by a
 * table of members, so an unknown key is an error rather than a setting
 * silently lost, and every message starts with the field's path
 * ("containers[1].limits.memory: ...").  Values people type (sizes,
 * durations, policies, devices) go through parse.h, and the container as a
 * whole through lp_container_cfg_check, as for the CLI and the config.
 */
#include "deploy_doc.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "parse.h"
#include "store.h"
#include "platform/lib/util.h"

#define PATH_BUF 128		/* field paths in messages: "containers[3].health.timeout" */
#define DAY_MS ((int64_t)24 * 3600 * 1000)
#define HEALTH_INTERVAL_MIN_MS 1000
#define HEALTH_TIMEOUT_MIN_MS 10
#define HEALTH_RETRIES_MAX 100
#define TARGET_ID_MAX 128
#define VOLUME_NAME_MAX 64
#define DERIVED_TAG_HEX 12	/* as many digits as a short docker id */
#define LIST_BUF 160		/* one target list in a refusal; longer ones end in "..." */

/* ---------------------------------------------------------------- messages */

static const char *label(const char *path)
{
	return *path ? path : "deployment";
}

static int fail_at(struct lp_err *err, const char *path, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail_at(struct lp_err *err, const char *path, int code, const char *fmt, ...)
{
	char reason[LP_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return lp_fail(err, code, "%s: %s", label(path), reason);
}

/* For a reason a parse.h function already recorded: say which field it was. */
static int blame(struct lp_err *err, const char *path)
{
	return lp_prefix(err, "%s", label(path));
}

static int out_of_memory(struct lp_err *err, const char *path)
{
	return fail_at(err, path, ENOMEM, "out of memory");
}

static const char *json_kind(const json_t *v)
{
	static const char *const kinds[] = {
		[JSON_OBJECT] = "an object",	[JSON_ARRAY] = "an array",
		[JSON_STRING] = "a string",	[JSON_INTEGER] = "an integer",
		[JSON_REAL] = "a real number",	[JSON_TRUE] = "a boolean",
		[JSON_FALSE] = "a boolean",	[JSON_NULL] = "null",
	};
	unsigned int type = (unsigned int)json_typeof(v);

	return type < ARRAY_SIZE(kinds) && kinds[type] ? kinds[type] : "an unknown type";
}

static int type_error(struct lp_err *err, const char *path, const char *want, const json_t *v)
{
	return fail_at(err, path, EINVAL, "expected %s, got %s", want, json_kind(v));
}

/* Paths only label messages: one cut short, marked with '~', still helps. */
static void join_path(char *buf, const char *path, const char *key)
{
	if (snprintf(buf, PATH_BUF, "%s%s%s", path, *path ? "." : "", key) >= PATH_BUF)
		buf[PATH_BUF - 2] = '~';
}

static void index_path(char *buf, const char *path, size_t i)
{
	if (snprintf(buf, PATH_BUF, "%s[%zu]", path, i) >= PATH_BUF)
		buf[PATH_BUF - 2] = '~';
}

/* "10s" or "1500ms": a duration the way it would have been written. */
static const char *format_ms(int64_t ms, char *buf, size_t size)
{
	if (ms % 1000 == 0)
		snprintf(buf, size, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, size, "%lldms", (long long)ms);
	return buf;
}

/* ---------------------------------------------------------------- objects */

/* Reads one member's value into its field; messages name path. */
typedef int (*decode_fn)(json_t *v, void *field, const char *path, struct lp_err *err);

struct member {
	const char *key;
	decode_fn decode;
	size_t offset;		/* of the field decode fills in */
	const char *required;	/* why it cannot be left out; NULL if it can */
};

/* A member filling one field of type, or (WHOLE) the whole struct. */
#define MEMBER(type, key, decode, field, required) \
	{ key, decode, offsetof(type, field), required }
#define WHOLE(key, decode, required) { key, decode, 0, required }

static const struct member *find_member(const struct member *members, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(members[i].key, key))
			return &members[i];
	return NULL;
}

/*
 * Every key must be a member, and every required member present.  Unknown
 * keys are reported first: a misspelt required field reads better as the
 * typo than as "missing".
 */
static int decode_members(json_t *obj, const struct member *members, size_t n, void *dst,
			  const char *path, struct lp_err *err)
{
	char sub[PATH_BUF];
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(obj))
		return type_error(err, path, "an object", obj);
	json_object_foreach(obj, key, v) {
		const struct member *m = find_member(members, n, key);

		join_path(sub, path, key);
		if (!m)
			return fail_at(err, sub, EINVAL, "unknown field");
		if (m->decode(v, (char *)dst + m->offset, sub, err) < 0)
			return -1;
	}
	for (i = 0; i < n; i++) {
		if (!members[i].required || json_object_get(obj, members[i].key))
			continue;
		join_path(sub, path, members[i].key);
		return fail_at(err, sub, EINVAL, "missing (%s)", members[i].required);
	}
	return 0;
}

#define DECODE_MEMBERS(obj, members, dst, path, err) \
	decode_members(obj, members, ARRAY_SIZE(members), dst, path, err)

/* ---------------------------------------------------------------- values */

static int get_string(json_t *v, const char **out, const char *path, struct lp_err *err)
{
	if (!json_is_string(v))
		return type_error(err, path, "a string", v);
	*out = json_string_value(v);
	return 0;
}

/* field: char * */
static int decode_string(json_t *v, void *field, const char *path, struct lp_err *err)
{
	char **dst = field;
	const char *s = NULL;
	char *copy;

	if (get_string(v, &s, path, err) < 0)
		return -1;
	copy = strdup(s);
	if (!copy)
		return out_of_memory(err, path);
	free(*dst);
	*dst = copy;
	return 0;
}

/* field: char **, NULL-terminated */
static int decode_strv(json_t *v, void *field, const char *path, struct lp_err *err)
{
	char ***dst = field;
	char item[PATH_BUF];
	json_t *elem;
	char **strv;
	size_t i;

	if (!json_is_array(v))
		return type_error(err, path, "an array of strings", v);
	strv = calloc(json_array_size(v) + 1, sizeof(*strv));
	if (!strv)
		return out_of_memory(err, path);
	lp_strv_free(*dst);
	*dst = strv;
	json_array_foreach(v, i, elem) {
		index_path(item, path, i);
		if (!json_is_string(elem))
			return type_error(err, item, "a string", elem);
		strv[i] = strdup(json_string_value(elem));
		if (!strv[i])
			return out_of_memory(err, item);
	}
	return 0;
}

/* A command: leaving it out means the default, so an empty one is a mistake. */
static int decode_command(json_t *v, void *field, const char *path, struct lp_err *err)
{
	char ***argv = field;

	if (decode_strv(v, argv, path, err) < 0)
		return -1;
	if (!(*argv)[0])
		return fail_at(err, path, EINVAL, "empty (leave it out for the default)");
	return 0;
}

/* field: bool */
static int decode_bool(json_t *v, void *field, const char *path, struct lp_err *err)
{
	if (!json_is_boolean(v))
		return type_error(err, path, "true or false", v);
	*(bool *)field = json_is_true(v);
	return 0;
}

static int get_int(json_t *v, long long min, long long max, long long *out, const char *path,
		   struct lp_err *err)
{
	long long n;

	if (!json_is_integer(v))
		return type_error(err, path, "an integer", v);
	n = json_integer_value(v);
	if (n < min || n > max)
		return fail_at(err, path, ERANGE, "%lld is out of range (%lld to %lld)", n, min,
			       max);
	*out = n;
	return 0;
}

/* field: int64_t, at least 1 */
static int decode_positive(json_t *v, void *field, const char *path, struct lp_err *err)
{
	long long n = 0;

	if (get_int(v, 1, INT64_MAX, &n, path, err) < 0)
		return -1;
	*(int64_t *)field = n;
	return 0;
}

static int get_duration(json_t *v, int64_t min_ms, int64_t max_ms, int64_t *ms, const char *path,
			struct lp_err *err)
{
	char min[32], max[32];
	const char *s;

	if (!json_is_string(v))
		return type_error(err, path, "a duration string (e.g. \"10s\")", v);
	s = json_string_value(v);
	if (lp_parse_duration(s, ms, err) < 0)
		return blame(err, path);
	if (*ms < min_ms || *ms > max_ms)
		return fail_at(err, path, ERANGE, "'%s' is out of range (%s to %s)", s,
			       format_ms(min_ms, min, sizeof(min)),
			       format_ms(max_ms, max, sizeof(max)));
	return 0;
}

/* Plain ASCII: the C library's classes would follow the locale. */
static bool ascii_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

static bool all_chars_in(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!ascii_alnum(*s) && !strchr(extra, *s))
			return false;
	return true;
}

/* ---------------------------------------------------------------- image */

static int check_ref(const char *ref, struct lp_err *err);

/* field: char *image_url */
static int decode_image_url(json_t *v, void *field, const char *path, struct lp_err *err)
{
	char **url = field;

	if (decode_string(v, url, path, err) < 0)
		return -1;
	if (check_ref(*url, err) < 0)
		return blame(err, path);
	return 0;
}

/* field: unsigned char image_sha256[LP_SHA256_LEN] */
static int decode_image_sha256(json_t *v, void *field, const char *path, struct lp_err *err)
{
	char digest[LP_DIGEST_STR_LEN];
	const char *hex = NULL;

	if (get_string(v, &hex, path, err) < 0)
		return -1;
	/* lp_digest_parse does the strict part: exactly 64 lowercase hex digits */
	if (strlen(hex) != LP_SHA256_HEX_LEN ||
	    snprintf(digest, sizeof(digest), "sha256:%s", hex) >= (int)sizeof(digest) ||
	    lp_digest_parse(digest, field, NULL) < 0)
		return fail_at(err, path, EINVAL,
			       "'%s' is not 64 lowercase hex digits (as sha256sum prints them)",
			       hex);
	return 0;
}

/* field: char *cfg.image */
static int decode_image_name(json_t *v, void *field, const char *path, struct lp_err *err)
{
	char **name = field;

	if (decode_string(v, name, path, err) < 0)
		return -1;
	if (lp_image_name_valid(*name, err) < 0)
		return blame(err, path);
	return 0;
}

static const struct member image_members[] = {
	MEMBER(struct lp_deploy_container, "url", decode_image_url, image_url,
	       "where the image archive is"),
	MEMBER(struct lp_deploy_container, "sha256", decode_image_sha256, image_sha256,
	       "every image is pinned by its digest"),
	MEMBER(struct lp_deploy_container, "size", decode_positive, image_size,
	       "every image is pinned by its size in bytes"),
	MEMBER(struct lp_deploy_container, "name", decode_image_name, cfg.image, NULL),
};

/* field: the whole struct lp_deploy_container (the image fields are flat in it) */
static int decode_image(json_t *v, void *field, const char *path, struct lp_err *err)
{
	return DECODE_MEMBERS(v, image_members, field, path, err);
}

/* "deploy/web:0123456789ab": a new archive never replaces the image still running. */
static int derive_image_name(struct lp_deploy_container *c, struct lp_err *err)
{
	char hex[LP_SHA256_HEX_LEN + 1];

	lp_hex(c->image_sha256, LP_SHA256_LEN, hex);
	if (asprintf(&c->cfg.image, "deploy/%s:%.*s", c->cfg.name, DERIVED_TAG_HEX, hex) < 0) {
		c->cfg.image = NULL;
		return out_of_memory(err, "image.name");
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
			return blame(err, path);
		return 0;
	}
	if (!json_is_integer(v))
		return type_error(err, path, "a size (\"64M\") or a number of bytes", v);
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
		return type_error(err, path, "a number of CPUs (0.5, 2 or \"1.5\")", v);
	return ret < 0 ? blame(err, path) : 0;
}

/* field: int cpu_weight */
static int decode_cpu_weight(json_t *v, void *field, const char *path, struct lp_err *err)
{
	long long w = 0;

	if (get_int(v, 1, LP_CPU_WEIGHT_MAX, &w, path, err) < 0)
		return -1;
	*(int *)field = (int)w;
	return 0;
}

/* field: int64_t pids */
static int decode_pids(json_t *v, void *field, const char *path, struct lp_err *err)
{
	long long pids = 0;

	/* 0 would mean "no limit" inside; in a document that is leaving it out */
	if (get_int(v, 1, INT_MAX, &pids, path, err) < 0)
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

	if (get_int(v, 1, HEALTH_RETRIES_MAX, &n, path, err) < 0)
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
		join_path(sub, path, probe_only[i]);
		return fail_at(err, sub, EINVAL, "only goes with a command to probe with");
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
		join_path(sub, path, "timeout");
		return fail_at(err, sub, EINVAL, "%s is longer than the interval (%s)",
			       format_ms(h->timeout_ms, timeout, sizeof(timeout)),
			       format_ms(h->interval_ms, interval, sizeof(interval)));
	}
	return 0;
}

/* ---------------------------------------------------------------- volumes */

/* field: char *name */
static int decode_volume_name(json_t *v, void *field, const char *path, struct lp_err *err)
{
	char **name = field;

	if (decode_string(v, name, path, err) < 0)
		return -1;
	/* it becomes a directory name on the device: "." and ".." would escape */
	if (!**name || strlen(*name) > VOLUME_NAME_MAX || !all_chars_in(*name, "_.-") ||
	    !strcmp(*name, ".") || !strcmp(*name, ".."))
		return fail_at(err, path, EINVAL,
			       "'%s' is not a volume name (1 to %d letters, digits, '_', '.' "
			       "and '-'; not . or ..)",
			       *name, VOLUME_NAME_MAX);
	return 0;
}

/* field: char *path */
static int decode_volume_path(json_t *v, void *field, const char *path, struct lp_err *err)
{
	char **inside = field;

	if (decode_string(v, inside, path, err) < 0)
		return -1;
	if (!lp_path_confined(*inside) || !(*inside)[strspn(*inside, "/")])
		return fail_at(err, path, EINVAL,
			       "'%s' is not an absolute path without '..' (and not /)", *inside);
	return 0;
}

static const struct member volume_members[] = {
	MEMBER(struct lp_volume, "name", decode_volume_name, name, "what the volume is kept as"),
	MEMBER(struct lp_volume, "path", decode_volume_path, path, "where the container sees it"),
};

/* Two volumes on one path, or one name twice, are surely a mistake. */
static int check_volume_unique(const struct lp_volume *vols, size_t i, const char *path,
			       struct lp_err *err)
{
	char sub[PATH_BUF];
	size_t j;

	for (j = 0; j < i; j++) {
		if (!strcmp(vols[j].name, vols[i].name)) {
			join_path(sub, path, "name");
			return fail_at(err, sub, EEXIST, "'%s' is already used by volumes[%zu]",
				       vols[i].name, j);
		}
		if (!strcmp(vols[j].path, vols[i].path)) {
			join_path(sub, path, "path");
			return fail_at(err, sub, EEXIST, "'%s' is already used by volumes[%zu]",
				       vols[i].path, j);
		}
	}
	return 0;
}

/* field: the whole struct lp_deploy_container (volumes and n_volumes) */
static int decode_volumes(json_t *v, void *field, const char *path, struct lp_err *err)
{
	struct lp_deploy_container *c = field;
	char item[PATH_BUF];
	json_t *elem;
	size_t i;

	if (!json_is_array(v))
		return type_error(err, path, "an array of volumes", v);
	if (json_array_size(v) == 0)
		return 0;
	c->volumes = calloc(json_array_size(v), sizeof(*c->volumes));
	if (!c->volumes)
		return out_of_memory(err, path);
	json_array_foreach(v, i, elem) {
		index_path(item, path, i);
		c->n_volumes = i + 1;
		if (DECODE_MEMBERS(elem, volume_members, &c->volumes[i], item, err) < 0 ||
		    check_volume_unique(c->volumes, i, item, err) < 0)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- container */

/* field: struct lp_container_cfg; numbers are ids, a name is looked up in the image */
static int decode_user(json_t *v, void *field, const char *path, struct lp_err *err)
{
	struct lp_container_cfg *cfg = field;

	if (decode_string(v, &cfg->user, path, err) < 0)
		return -1;
	if (!cfg->user[0])
		return fail_at(err, path, EINVAL, "empty (a user name, UID or UID:GID)");
	if (!strchr("0123456789", cfg->user[0]))
		return 0;
	if (lp_parse_user(cfg->user, &cfg->uid, &cfg->gid, err) < 0)
		return blame(err, path);
	return 0;
}

/* field: struct lp_restart */
static int decode_restart(json_t *v, void *field, const char *path, struct lp_err *err)
{
	const char *s = NULL;

	if (get_string(v, &s, path, err) < 0)
		return -1;
	if (lp_parse_restart(s, field, err) < 0)
		return blame(err, path);
	return 0;
}

/* field: enum lp_isolation */
static int decode_isolation(json_t *v, void *field, const char *path, struct lp_err *err)
{
	static const char *const names[] = {
		[LP_ISOLATION_CONTAINER] = "container",
		[LP_ISOLATION_VM] = "vm",
		[LP_ISOLATION_AUTO] = "auto",
	};
	const char *s = NULL;
	size_t i;

	if (get_string(v, &s, path, err) < 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcmp(s, names[i])) {
			*(enum lp_isolation *)field = (enum lp_isolation)i;
			return 0;
		}
	}
	return fail_at(err, path, EINVAL, "'%s' is not an isolation (container, vm, auto)", s);
}

/* field: enum lp_net_mode */
static int decode_network(json_t *v, void *field, const char *path, struct lp_err *err)
{
	const char *s = NULL;

	if (get_string(v, &s, path, err) < 0)
		return -1;
	if (lp_parse_net(s, field, err) < 0)
		return blame(err, path);
	return 0;
}

/* field: char **device_specs; the nodes are looked up on the device, later */
static int decode_devices(json_t *v, void *field, const char *path, struct lp_err *err)
{
	char ***specs = field;
	char item[PATH_BUF];
	struct lp_device dev;
	size_t i;

	if (decode_strv(v, specs, path, err) < 0)
		return -1;
	for (i = 0; (*specs)[i]; i++) {
		index_path(item, path, i);
		if (lp_parse_device_syntax((*specs)[i], &dev, err) < 0)
			return blame(err, item);
	}
	return 0;
}

#define CONTAINER(key, decode, field, required) \
	MEMBER(struct lp_deploy_container, key, decode, field, required)

static const struct member container_members[] = {
	CONTAINER("name", decode_string, cfg.name, "every container needs a name"),
	WHOLE("image", decode_image, "what to run"),
	CONTAINER("command", decode_command, cfg.argv, NULL),
	CONTAINER("env", decode_strv, cfg.env, NULL),
	CONTAINER("user", decode_user, cfg, NULL),
	CONTAINER("workdir", decode_string, cfg.cwd, NULL),
	CONTAINER("hostname", decode_string, cfg.hostname, NULL),
	CONTAINER("limits", decode_limits, cfg.limits, NULL),
	CONTAINER("restart", decode_restart, cfg.restart, NULL),
	CONTAINER("health", decode_health, health, NULL),
	CONTAINER("isolation", decode_isolation, isolation, NULL),
	CONTAINER("network", decode_network, cfg.net, NULL),
	WHOLE("volumes", decode_volumes, NULL),
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
		return out_of_memory(err, path);
	return 0;
}

static int check_container(struct lp_deploy_container *c, const char *path, struct lp_err *err)
{
	const char *field = NULL;
	char sub[PATH_BUF];

	if (lp_container_cfg_check(&c->cfg, &field, err) == 0)
		return 0;
	join_path(sub, path, document_field(field));
	return blame(err, sub);
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
		return blame(err, path);
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
		join_path(sub, path, "name");
		return fail_at(err, sub, EEXIST, "duplicate name '%s' (also containers[%zu])",
			       d->containers[i].cfg.name, j);
	}
	return 0;
}

/* field: the whole struct lp_deployment (containers and n) */
static int decode_containers(json_t *v, void *field, const char *path, struct lp_err *err)
{
	struct lp_deployment *d = field;
	char item[PATH_BUF];
	json_t *elem;
	size_t i;

	if (!json_is_array(v))
		return type_error(err, path, "an array of containers", v);
	if (json_array_size(v) == 0)
		return 0;
	d->containers = calloc(json_array_size(v), sizeof(*d->containers));
	if (!d->containers)
		return out_of_memory(err, path);
	json_array_foreach(v, i, elem) {
		index_path(item, path, i);
		d->n = i + 1;
		if (decode_container(elem, &d->containers[i], item, err) < 0 ||
		    check_name_unique(d, i, item, err) < 0)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- document */

/* field: int64_t expires */
static int decode_expires(json_t *v, void *field, const char *path, struct lp_err *err)
{
	const char *s = NULL;

	if (get_string(v, &s, path, err) < 0)
		return -1;
	if (lp_rfc3339_parse(s, field, err) < 0)
		return blame(err, path);
	return 0;
}

/* field: char **; ids end up in messages and file names, so they stay plain */
static int decode_id_list(json_t *v, void *field, const char *path, struct lp_err *err)
{
	char ***ids = field;
	char item[PATH_BUF];
	size_t i;

	if (decode_strv(v, ids, path, err) < 0)
		return -1;
	for (i = 0; (*ids)[i]; i++) {
		const char *id = (*ids)[i];

		if (*id && strlen(id) <= TARGET_ID_MAX && all_chars_in(id, "_.:@-"))
			continue;
		index_path(item, path, i);
		return fail_at(err, item, EINVAL,
			       "'%s' is not an id (1 to %d letters, digits, '_', '.', ':', '@' "
			       "and '-')",
			       id, TARGET_ID_MAX);
	}
	return 0;
}

static const struct member target_members[] = {
	MEMBER(struct lp_deployment, "devices", decode_id_list, target_devices, NULL),
	MEMBER(struct lp_deployment, "groups", decode_id_list, target_groups, NULL),
};

/* field: the whole struct lp_deployment (the target lists are flat in it) */
static int decode_target(json_t *v, void *field, const char *path, struct lp_err *err)
{
	struct lp_deployment *d = field;

	if (DECODE_MEMBERS(v, target_members, d, path, err) < 0)
		return -1;
	/* an empty target would match nothing: surely not what was signed for */
	if ((!d->target_devices || !d->target_devices[0]) &&
	    (!d->target_groups || !d->target_groups[0]))
		return fail_at(err, path, EINVAL, "names no devices and no groups");
	return 0;
}

static const struct member document_members[] = {
	MEMBER(struct lp_deployment, "version", decode_positive, version,
	       "an integer, larger than the last one applied"),
	MEMBER(struct lp_deployment, "expires", decode_expires, expires,
	       "when the document stops applying, RFC 3339"),
	WHOLE("target", decode_target, "the devices or groups it is for"),
	WHOLE("containers", decode_containers, "what to run; [] for nothing"),
};

static int fill_empty_targets(struct lp_deployment *d, struct lp_err *err)
{
	if (!d->target_devices)
		d->target_devices = calloc(1, sizeof(*d->target_devices));
	if (!d->target_groups)
		d->target_groups = calloc(1, sizeof(*d->target_groups));
	if (!d->target_devices || !d->target_groups)
		return out_of_memory(err, "target");
	return 0;
}

int lp_deploy_parse(const char *json, size_t len, struct lp_deployment *d, struct lp_err *err)
{
	struct lp_deployment tmp = { 0 };
	json_error_t jerr;
	json_t *root;
	int ret;

	memset(d, 0, sizeof(*d));
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return lp_fail(err, EINVAL, "JSON line %d column %d: %s", jerr.line, jerr.column,
			       jerr.text);
	ret = DECODE_MEMBERS(root, document_members, &tmp, "", err);
	json_decref(root);
	if (ret == 0)
		ret = fill_empty_targets(&tmp, err);
	if (ret < 0) {
		lp_deploy_free(&tmp);
		return -1;
	}
	*d = tmp;
	return 0;
}

static void free_container(struct lp_deploy_container *c)
{
	size_t i;

	lp_container_cfg_free(&c->cfg);
	free(c->image_url);
	lp_strv_free(c->health.argv);
	for (i = 0; i < c->n_volumes; i++) {
		free(c->volumes[i].name);
		free(c->volumes[i].path);
	}
	free(c->volumes);
	lp_strv_free(c->device_specs);
}

void lp_deploy_free(struct lp_deployment *d)
{
	size_t i;

	if (!d)
		return;
	lp_strv_free(d->target_devices);
	lp_strv_free(d->target_groups);
	for (i = 0; i < d->n; i++)
		free_container(&d->containers[i]);
	free(d->containers);
	memset(d, 0, sizeof(*d));
}

/* ---------------------------------------------------------------- signed file */

static int read_document(const char *path, char **text, size_t *len, struct lp_err *err)
{
	/* one byte over the limit tells a file that is too large from one that fits */
	if (lp_read_file(path, LP_DEPLOY_MAX + 1, text, len, err) < 0)
		return -1;
	if (*len <= LP_DEPLOY_MAX)
		return 0;
	free(*text);
	*text = NULL;
	return lp_fail(err, EFBIG, "%s: larger than %d KiB, not a deployment document", path,
		       LP_DEPLOY_MAX / 1024);
}

static int hash_buffer(const char *buf, size_t len, unsigned char digest[LP_SHA256_LEN],
		       struct lp_err *err)
{
	struct lp_sha256 h;
	int ret;

	lp_sha256_init(&h);
	lp_sha256_update(&h, buf, len);
	ret = lp_sha256_final(&h, digest, err);
	lp_sha256_free(&h);
	return ret;
}

int lp_deploy_load_signed(const char *path, const char *sig_path, const struct lp_trust *trust,
			  struct lp_deployment *d, unsigned char digest[LP_SHA256_LEN],
			  struct lp_err *err)
{
	unsigned char sum[LP_SHA256_LEN];
	cleanup_free char *text = NULL;
	char default_sig[PATH_MAX];
	size_t len = 0;

	memset(d, 0, sizeof(*d));
	if (!sig_path) {
		if (lp_path(default_sig, sizeof(default_sig), err, "%s.sig", path) < 0)
			return -1;
		sig_path = default_sig;
	}
	if (read_document(path, &text, &len, err) < 0)
		return -1;
	/* the bytes hashed are the bytes parsed: the file is not read twice */
	if (hash_buffer(text, len, sum, err) < 0 ||
	    lp_trust_verify(trust, sum, sig_path, NULL, err) < 0 ||
	    lp_deploy_parse(text, len, d, err) < 0)
		return lp_prefix(err, "%s", path);
	if (digest)
		memcpy(digest, sum, sizeof(sum));
	return 0;
}

/* ---------------------------------------------------------------- applicability */

static bool strv_contains(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (!strcmp(*v, s))
			return true;
	return false;
}

static bool any_in(char *const *have, char *const *wanted)
{
	for (; have && *have; have++)
		if (strv_contains(wanted, *have))
			return true;
	return false;
}

/* "a, b, c" into buf, ending in "..." when it does not all fit. */
static const char *join_list(char *const *v, char *buf, size_t size)
{
	static const char more[] = ", ...";
	size_t used = 0, n;

	buf[0] = '\0';
	for (; v && *v; v++) {
		const char *sep = used ? ", " : "";

		n = strlen(sep) + strlen(*v);
		if (used + n + sizeof(more) > size) {
			snprintf(buf + used, size - used, "%s", used ? more : "...");
			break;
		}
		used += (size_t)snprintf(buf + used, size - used, "%s%s", sep, *v);
	}
	return buf;
}

static int refuse_target(const struct lp_deployment *d, const char *device_id,
			 char *const *groups, struct lp_err *err)
{
	char devices[LIST_BUF], targets[LIST_BUF], mine[LIST_BUF];

	return lp_fail(err, ENXIO, "for devices [%s] / groups [%s], not %s (%s%s)",
		       join_list(d->target_devices, devices, sizeof(devices)),
		       join_list(d->target_groups, targets, sizeof(targets)), device_id,
		       groups && groups[0] ? "groups " : "no groups",
		       join_list(groups, mine, sizeof(mine)));
}

int lp_deploy_check_applicable(const struct lp_deployment *d, int64_t current_version,
			       int64_t now, const char *device_id, char *const *groups,
			       struct lp_err *err)
{
	char when[LP_RFC3339_LEN];

	if (!device_id)
		device_id = "";
	if (d->version == current_version)
		return lp_fail(err, EALREADY,
			       "version %lld is not newer than the running %lld (already applied)",
			       (long long)d->version, (long long)current_version);
	if (d->version < current_version)
		return lp_fail(err, ESTALE,
			       "version %lld is not newer than the running %lld (rollback refused)",
			       (long long)d->version, (long long)current_version);
	if (now >= d->expires) {
		lp_rfc3339_format(d->expires, when);
		return lp_fail(err, ETIME, "expired at %s", when);
	}
	if (strv_contains(d->target_devices, device_id) || any_in(groups, d->target_groups))
		return 0;
	return refuse_target(d, device_id, groups, err);
}

/* ---------------------------------------------------------------- image URLs */

/* RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"; 0 when s has no scheme. */
static size_t scheme_len(const char *s)
{
	size_t n;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	for (n = 1; s[n] && (ascii_alnum(s[n]) || strchr("+-.", s[n])); n++)
		;
	return s[n] == ':' ? n : 0;
}

static bool is_https(const char *s)
{
	return !strncasecmp(s, "https://", strlen("https://"));
}

/* Is there a ".." segment before the end (or the query or fragment)? */
static bool has_dotdot(const char *s)
{
	size_t len;

	while (*s && !strchr("?#", *s)) {
		len = strcspn(s, "/?#");
		if (len == 2 && s[0] == '.' && s[1] == '.')
			return true;
		s += len;
		if (*s == '/')
			s++;
	}
	return false;
}

static int check_https_url(const char *url, struct lp_err *err)
{
	const char *host = url + strlen("https://");
	const char *p;

	for (p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return lp_fail(err, EINVAL, "'%s' has spaces or control characters", url);
	if (strcspn(host, "/?#") == 0)
		return lp_fail(err, EINVAL, "'%s' has no host", url);
	if (has_dotdot(host))
		return lp_fail(err, EINVAL, "'%s' has a '..' segment", url);
	return 0;
}

/*
 * A path relative to the document: names made of characters a file name
 * needs, joined by single '/'.  Nothing there can change what the base
 * means ('%', '?', '#', ':', '\') or climb out of its directory ("..").
 */
static int check_relative(const char *ref, struct lp_err *err)
{
	const char *p;

	if (ref[0] == '/')
		return lp_fail(err, EINVAL,
			       "'%s' starts with '/' (give a path relative to the deployment, or "
			       "an https:// URL)",
			       ref);
	for (p = ref; *p; p++)
		if (!ascii_alnum(*p) && !strchr("/._~+@=,-", *p))
			return lp_fail(err, EINVAL, "'%s': '%c' is not allowed in a relative path",
				       ref, *p);
	if (strstr(ref, "//") || ref[strlen(ref) - 1] == '/')
		return lp_fail(err, EINVAL, "'%s' has an empty path segment", ref);
	if (has_dotdot(ref))
		return lp_fail(err, EINVAL, "'%s' has a '..' segment", ref);
	return 0;
}

static int check_ref(const char *ref, struct lp_err *err)
{
	size_t scheme;

	if (!*ref)
		return lp_fail(err, EINVAL, "empty (a path relative to the deployment, or an "
					    "https:// URL)");
	scheme = scheme_len(ref);
	if (scheme && !is_https(ref))
		return lp_fail(err, EINVAL, "'%s': only https:// URLs are allowed, not %.*s:", ref,
			       (int)scheme, ref);
	return scheme ? check_https_url(ref, err) : check_relative(ref, err);
}

/* How much of an https base stays: through the last '/' of its path. */
static int url_dir_len(const char *base, size_t *len, bool *add_slash, struct lp_err *err)
{
	const char *host = base + strlen("https://");
	size_t end = (size_t)(host - base) + strcspn(host, "?#");
	size_t path = (size_t)(host - base) + strcspn(host, "/?#");

	if (check_https_url(base, err) < 0)
		return -1;
	*len = end;
	while (*len > path && base[*len - 1] != '/')
		(*len)--;
	/* "https://host" alone: its directory is "/" */
	*add_slash = *len == path;
	return 0;
}

/*
 * A bundle directory as it is, else the document's directory.  Asking the
 * filesystem keeps "/media/usb/limpet" from meaning "/media/usb/".
 */
static void local_dir_len(const char *base, size_t *len, bool *add_slash)
{
	struct stat st;
	size_t n = strlen(base);

	*add_slash = false;
	if (base[n - 1] != '/' && stat(base, &st) == 0 && S_ISDIR(st.st_mode)) {
		*len = n;
		*add_slash = true;
		return;
	}
	/* base starts with '/', so this stops */
	while (base[n - 1] != '/')
		n--;
	*len = n;
}

int lp_deploy_resolve_url(const char *deployment_url, const char *ref, char **out,
			  struct lp_err *err)
{
	bool add_slash = false;
	size_t dir_len = 0;

	*out = NULL;
	if (check_ref(ref, err) < 0)
		return lp_prefix(err, "image url");
	if (scheme_len(ref)) {
		*out = strdup(ref);
		return *out ? 0 : lp_fail(err, ENOMEM, "out of memory");
	}
	if (is_https(deployment_url)) {
		if (url_dir_len(deployment_url, &dir_len, &add_slash, err) < 0)
			return lp_prefix(err, "deployment location");
	} else if (deployment_url[0] == '/') {
		local_dir_len(deployment_url, &dir_len, &add_slash);
	} else {
		return lp_fail(err, EINVAL,
			       "deployment location '%s' is neither an https:// URL nor an "
			       "absolute path",
			       deployment_url);
	}
	if (asprintf(out, "%.*s%s%s", (int)dir_len, deployment_url, add_slash ? "/" : "",
		     ref) < 0) {
		*out = NULL;
		return lp_fail(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* ---------------------------------------------------------------- devices */

int lp_deploy_resolve_devices(struct lp_deploy_container *c, struct lp_err *err)
{
	struct lp_device *devices;
	size_t i, n = 0;

	while (c->device_specs && c->device_specs[n])
		n++;
	devices = n ? calloc(n, sizeof(*devices)) : NULL;
	if (n && !devices)
		return lp_fail(err, ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		if (lp_parse_device(c->device_specs[i], &devices[i], err) < 0) {
			free(devices);
			return lp_prefix(err, "devices[%zu]", i);
		}
	}
	free(c->cfg.devices);
	c->cfg.devices = devices;
	c->cfg.n_devices = n;
	return 0;
}

/* ---------------------------------------------------------------- RFC 3339 */

/* 'd' is a digit, 'T' is T or t (RFC 3339 section 5.6), anything else itself. */
static bool has_shape(const char *s, const char *shape)
{
	for (; *shape; s++, shape++) {
		if (*shape == 'd' && !(*s >= '0' && *s <= '9'))
			return false;
		if (*shape == 'T' && *s != 'T' && *s != 't')
			return false;
		if (*shape != 'd' && *shape != 'T' && *s != *shape)
			return false;
	}
	return true;
}

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return month == 2 && leap_year(year) ? 29 : days[month - 1];
}

/* "Z", or "+hh:mm" / "-hh:mm": seconds to subtract to get UTC. */
static int parse_offset(const char *s, const char *whole, int64_t *offset, struct lp_err *err)
{
	int hh, mm;

	if ((s[0] == 'Z' || s[0] == 'z') && !s[1]) {
		*offset = 0;
		return 0;
	}
	if ((s[0] != '+' && s[0] != '-') || !has_shape(s + 1, "dd:dd") || s[6] ||
	    sscanf(s + 1, "%2d:%2d", &hh, &mm) != 2)
		return lp_fail(err, EINVAL,
			       "'%s' is not an RFC 3339 date-time: it needs a zone, Z or +hh:mm "
			       "(e.g. 2026-12-31T23:59:59Z)",
			       whole);
	if (hh > 23 || mm > 59)
		return lp_fail(err, EINVAL, "'%s': the offset %.6s is out of range", whole, s);
	*offset = (s[0] == '-' ? -1 : 1) * (int64_t)(hh * 3600 + mm * 60);
	return 0;
}

int lp_rfc3339_parse(const char *s, int64_t *t, struct lp_err *err)
{
	struct tm tm = { 0 };
	int64_t offset = 0;
	time_t local;
	const char *p;

	if (!has_shape(s, "dddd-dd-ddTdd:dd:dd") ||
	    sscanf(s, "%4d-%2d-%2d%*c%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return lp_fail(err, EINVAL,
			       "'%s' is not an RFC 3339 date-time (e.g. 2026-12-31T23:59:59Z)", s);
	p = s + strlen("yyyy-mm-ddThh:mm:ss");
	/* fractions of a second change nothing at this resolution */
	if (*p == '.' && p[1] >= '0' && p[1] <= '9')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (parse_offset(p, s, &offset, err) < 0)
		return -1;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > days_in_month(tm.tm_year, tm.tm_mon))
		return lp_fail(err, EINVAL, "'%s': no such date", s);
	/* 60 is a leap second; timegm carries it into the next minute */
	if (tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return lp_fail(err, EINVAL, "'%s': no such time of day", s);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	errno = 0;
	local = timegm(&tm);
	if (local == (time_t)-1 && errno == EOVERFLOW)
		return lp_fail(err, ERANGE, "'%s' is out of range", s);
	*t = (int64_t)local - offset;
	return 0;
}

void lp_rfc3339_format(int64_t t, char buf[LP_RFC3339_LEN])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999 ||
	    !strftime(buf, LP_RFC3339_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, LP_RFC3339_LEN, "@%lld", (long long)t);
}
