/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one set of strict jansson decoders (spec_json.c, deploy_doc*.c): typed
 * reads of a value, and messages that name its place in the document
 * ("containers[1].limits.memory: expected a string, got an integer"), so
 * every JSON input limpet reads is refused alike.
 */
#ifndef LIMPET_SPEC_JSON_H
#define LIMPET_SPEC_JSON_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "platform/lib/err.h"

/* json_decref at the end of the variable's scope: cleanup_json json_t *j = NULL; */
static inline void lp_json_decrefp(json_t **j)
{
	json_decref(*j);
}
#define cleanup_json __attribute__((cleanup(lp_json_decrefp)))

/* Longest path a message names; longer ones are cut short with '~'. */
#define LP_JSON_PATH_MAX 128

/* "an object", "a string", ...: what v is, for "expected X, got Y" (NULL: "nothing"). */
const char *lp_json_kind(const json_t *v);
/* buf := path.key (or key at the top); a path cut short ends in '~'. */
void lp_json_key_path(char *buf, size_t size, const char *path, const char *key);
/* buf := path[i]. */
void lp_json_index_path(char *buf, size_t size, const char *path, size_t i);

/* "path: reason" ("JSON: reason" at the top, path ""), with errno code. */
int lp_json_fail(struct lp_err *err, const char *path, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int lp_json_vfail(struct lp_err *err, const char *path, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
int lp_json_type_error(struct lp_err *err, const char *path, const char *want, const json_t *v);
int lp_json_out_of_memory(struct lp_err *err, const char *path);

/* v must be a string; *out points into v. */
int lp_json_get_string(json_t *v, const char **out, const char *path, struct lp_err *err);
/* v must be an integer from min to max. */
int lp_json_get_int(json_t *v, long long min, long long max, long long *out, const char *path,
		    struct lp_err *err);
/* *dst := a copy of the string v (the old value freed); with nullable, null gives NULL. */
int lp_json_dup_string(json_t *v, bool nullable, char **dst, const char *path,
		       struct lp_err *err);
/* *dst := the array of strings v as a NULL-terminated vector (the old one freed). */
int lp_json_dup_strv(json_t *v, char ***dst, const char *path, struct lp_err *err);

#endif
