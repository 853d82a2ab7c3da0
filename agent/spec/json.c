// SPDX-License-Identifier: Apache-2.0
#include "agent/spec/json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/lib/util.h"

const char *lp_json_kind(const json_t *v)
{
	static const char *const kinds[] = {
		[JSON_OBJECT] = "an object",	[JSON_ARRAY] = "an array",
		[JSON_STRING] = "a string",	[JSON_INTEGER] = "an integer",
		[JSON_REAL] = "a real number",	[JSON_TRUE] = "a boolean",
		[JSON_FALSE] = "a boolean",	[JSON_NULL] = "null",
	};
	unsigned int type;

	/* what json_object_get finds of a member that is not there */
	if (!v)
		return "nothing";
	type = (unsigned int)json_typeof(v);
	return type < ARRAY_SIZE(kinds) && kinds[type] ? kinds[type] : "an unknown type";
}

/* Paths only label messages: one cut short, marked with '~', still helps. */
void lp_json_key_path(char *buf, size_t size, const char *path, const char *key)
{
	if ((size_t)snprintf(buf, size, "%s%s%s", path, *path ? "." : "", key) >= size && size > 1)
		buf[size - 2] = '~';
}

void lp_json_index_path(char *buf, size_t size, const char *path, size_t i)
{
	if ((size_t)snprintf(buf, size, "%s[%zu]", path, i) >= size && size > 1)
		buf[size - 2] = '~';
}

/* ---------------------------------------------------------------- messages */

int lp_json_vfail(struct lp_err *err, const char *path, int code, const char *fmt, va_list ap)
{
	char reason[LP_ERR_MAX];

	vsnprintf(reason, sizeof(reason), fmt, ap);
	return lp_fail(err, code, "%s: %s", *path ? path : "JSON", reason);
}

int lp_json_fail(struct lp_err *err, const char *path, int code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = lp_json_vfail(err, path, code, fmt, ap);
	va_end(ap);
	return rc;
}

int lp_json_type_error(struct lp_err *err, const char *path, const char *want, const json_t *v)
{
	return lp_json_fail(err, path, EINVAL, "expected %s, got %s", want, lp_json_kind(v));
}

int lp_json_out_of_memory(struct lp_err *err, const char *path)
{
	return lp_json_fail(err, path, ENOMEM, "out of memory");
}

/* ---------------------------------------------------------------- values */

int lp_json_get_string(json_t *v, const char **out, const char *path, struct lp_err *err)
{
	if (!json_is_string(v))
		return lp_json_type_error(err, path, "a string", v);
	*out = json_string_value(v);
	return 0;
}

int lp_json_get_int(json_t *v, long long min, long long max, long long *out, const char *path,
		    struct lp_err *err)
{
	long long n;

	if (!json_is_integer(v))
		return lp_json_type_error(err, path, "an integer", v);
	n = json_integer_value(v);
	if (n < min || n > max)
		return lp_json_fail(err, path, ERANGE, "%lld is out of range (%lld to %lld)", n,
				    min, max);
	*out = n;
	return 0;
}

int lp_json_dup_string(json_t *v, bool nullable, char **dst, const char *path,
		       struct lp_err *err)
{
	char *copy = NULL;

	if (!json_is_string(v) && !(nullable && json_is_null(v)))
		return lp_json_type_error(err, path, "a string", v);
	if (json_is_string(v)) {
		copy = strdup(json_string_value(v));
		if (!copy)
			return lp_json_out_of_memory(err, path);
	}
	free(*dst);
	*dst = copy;
	return 0;
}

int lp_json_dup_strv(json_t *v, char ***dst, const char *path, struct lp_err *err)
{
	char item[LP_JSON_PATH_MAX];
	json_t *elem;
	char **strv;
	size_t i;

	if (!json_is_array(v))
		return lp_json_type_error(err, path, "an array of strings", v);
	strv = calloc(json_array_size(v) + 1, sizeof(*strv));
	if (!strv)
		return lp_json_out_of_memory(err, path);
	lp_strv_free(*dst);
	*dst = strv;
	json_array_foreach(v, i, elem) {
		lp_json_index_path(item, sizeof(item), path, i);
		if (!json_is_string(elem))
			return lp_json_type_error(err, item, "a string", elem);
		strv[i] = strdup(json_string_value(elem));
		if (!strv[i])
			return lp_json_out_of_memory(err, item);
	}
	return 0;
}
