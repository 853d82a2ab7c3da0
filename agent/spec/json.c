// SPDX-License-Identifier: Apache-2.0
#include "agent/spec/json.h"

#include <stdio.h>

#include "platform/lib/util.h"

const char *lp_json_kind(const json_t *v)
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
