// SPDX-License-Identifier: Apache-2.0
/*
 * The deployment document (deployment.json): parsed with jansson into
 * struct lp_deployment and checked strictly.  Each JSON object is read by a
 * table of members, so an unknown key is an error rather than a setting
 * silently lost, and every message starts with the field's path
 * ("containers[1].limits.memory: ...").  Values people type (sizes,
 * durations, policies, devices) go through parse.h, and the container as a
 * whole through lp_container_cfg_check, as for the CLI and the config.
 *
 * One entry of "containers" is deploy_doc_container.c's; this file holds
 * the way every object is read and the document around the entries.
 */
#include "agent/deploy/deploy_doc.h"

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

#include "agent/deploy/deploy_doc_internal.h"
#include "agent/spec/json.h"
#include "agent/spec/parse.h"
#include "agent/image/store.h"
#include "platform/lib/util.h"

#define TARGET_ID_MAX 128

/* ---------------------------------------------------------------- messages */

static const char *label(const char *path)
{
	return *path ? path : "deployment";
}

int lp_deploy_fail_at(struct lp_err *err, const char *path, int code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = lp_json_vfail(err, label(path), code, fmt, ap);
	va_end(ap);
	return rc;
}

/* For a reason a parse.h function already recorded: say which field it was. */
int lp_deploy_blame(struct lp_err *err, const char *path)
{
	return lp_prefix(err, "%s", label(path));
}

/* ---------------------------------------------------------------- objects */

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
int lp_deploy_decode_members(json_t *obj, const struct member *members, size_t n, void *dst,
			     const char *path, struct lp_err *err)
{
	char sub[PATH_BUF];
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(obj))
		return lp_json_type_error(err, label(path), "an object", obj);
	json_object_foreach(obj, key, v) {
		const struct member *m = find_member(members, n, key);

		lp_json_key_path(sub, PATH_BUF, path, key);
		if (!m)
			return lp_deploy_fail_at(err, sub, EINVAL, "unknown field");
		if (m->decode(v, (char *)dst + m->offset, sub, err) < 0)
			return -1;
	}
	for (i = 0; i < n; i++) {
		if (!members[i].required || json_object_get(obj, members[i].key))
			continue;
		lp_json_key_path(sub, PATH_BUF, path, members[i].key);
		return lp_deploy_fail_at(err, sub, EINVAL, "missing (%s)", members[i].required);
	}
	return 0;
}

/* ---------------------------------------------------------------- values */

/* field: char * */
int lp_deploy_decode_string(json_t *v, void *field, const char *path, struct lp_err *err)
{
	return lp_json_dup_string(v, false, field, path, err);
}

/* field: char **, NULL-terminated */
int lp_deploy_decode_strv(json_t *v, void *field, const char *path, struct lp_err *err)
{
	return lp_json_dup_strv(v, field, path, err);
}

/* field: int64_t, at least 1 */
int lp_deploy_decode_positive(json_t *v, void *field, const char *path, struct lp_err *err)
{
	long long n = 0;

	if (lp_json_get_int(v, 1, INT64_MAX, &n, path, err) < 0)
		return -1;
	*(int64_t *)field = n;
	return 0;
}

/* ---------------------------------------------------------------- document */

/* field: int64_t expires */
static int decode_expires(json_t *v, void *field, const char *path, struct lp_err *err)
{
	const char *s = NULL;

	if (lp_json_get_string(v, &s, path, err) < 0)
		return -1;
	if (lp_rfc3339_parse(s, field, err) < 0)
		return lp_deploy_blame(err, path);
	return 0;
}

/* field: char **; ids end up in messages and file names, so they stay plain */
static int decode_id_list(json_t *v, void *field, const char *path, struct lp_err *err)
{
	char ***ids = field;
	char item[PATH_BUF];
	size_t i;

	if (lp_deploy_decode_strv(v, ids, path, err) < 0)
		return -1;
	for (i = 0; (*ids)[i]; i++) {
		const char *id = (*ids)[i];

		if (*id && strlen(id) <= TARGET_ID_MAX && lp_chars_in(id, "_.:@-"))
			continue;
		lp_json_index_path(item, PATH_BUF, path, i);
		return lp_deploy_fail_at(
			err, item, EINVAL,
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
		return lp_deploy_fail_at(err, path, EINVAL, "names no devices and no groups");
	return 0;
}

static const struct member document_members[] = {
	MEMBER(struct lp_deployment, "version", lp_deploy_decode_positive, version,
	       "an integer, larger than the last one applied"),
	MEMBER(struct lp_deployment, "expires", decode_expires, expires,
	       "when the document stops applying, RFC 3339"),
	WHOLE("target", decode_target, "the devices or groups it is for"),
	WHOLE("containers", lp_deploy_decode_containers, "what to run; [] for nothing"),
};

static int fill_empty_targets(struct lp_deployment *d, struct lp_err *err)
{
	if (!d->target_devices)
		d->target_devices = calloc(1, sizeof(*d->target_devices));
	if (!d->target_groups)
		d->target_groups = calloc(1, sizeof(*d->target_groups));
	if (!d->target_devices || !d->target_groups)
		return lp_json_out_of_memory(err, "target");
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
	lp_container_cfg_free(&c->cfg);
	free(c->image_url);
	free(c->image_ref);
	lp_strv_free(c->health.argv);
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
