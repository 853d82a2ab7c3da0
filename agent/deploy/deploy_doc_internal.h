/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared between the parts of the deployment document parser (deploy_doc*.c):
 * the member tables every JSON object is read by, the readers of typed
 * values, and messages that start with the field's path.  Not an interface:
 * the rest of limpet goes through deploy_doc.h.
 */
#ifndef LIMPET_DEPLOY_DOC_INTERNAL_H
#define LIMPET_DEPLOY_DOC_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "agent/deploy/deploy_doc.h"
#include "agent/spec/json.h"
#include "platform/lib/err.h"
#include "platform/lib/util.h"

#define PATH_BUF LP_JSON_PATH_MAX	/* field paths in messages: "containers[3].health.timeout" */

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

#define DECODE_MEMBERS(obj, members, dst, path, err) \
	lp_deploy_decode_members(obj, members, ARRAY_SIZE(members), dst, path, err)

/* "path: reason"; path "" is the document itself. */
int lp_deploy_fail_at(struct lp_err *err, const char *path, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* For a reason a parse.h function already recorded: say which field it was. */
int lp_deploy_blame(struct lp_err *err, const char *path);

/* Every key must be a member, and every required member present. */
int lp_deploy_decode_members(json_t *obj, const struct member *members, size_t n, void *dst,
			     const char *path, struct lp_err *err);

/* decode_fn for: char *, char ** (NULL-terminated), int64_t at least 1 */
int lp_deploy_decode_string(json_t *v, void *field, const char *path, struct lp_err *err);
int lp_deploy_decode_strv(json_t *v, void *field, const char *path, struct lp_err *err);
int lp_deploy_decode_positive(json_t *v, void *field, const char *path, struct lp_err *err);

/* decode_fn for the whole struct lp_deployment: its containers and n */
int lp_deploy_decode_containers(json_t *v, void *field, const char *path, struct lp_err *err);

#endif
