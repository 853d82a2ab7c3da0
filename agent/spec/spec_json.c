// SPDX-License-Identifier: Apache-2.0
/*
 * The JSON form of struct lp_container_cfg (state files, the control
 * socket).  The layout is written down once, as tables of fields, and both
 * directions are driven by the same tables so the round trip cannot drift.
 */
#include "agent/spec/spec.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/spec/json.h"
#include "agent/spec/parse.h"
#include "platform/lib/util.h"

#define PATH_BUF LP_JSON_PATH_MAX	/* field paths in messages: "devices[3].inner" */

/* ---------------------------------------------------------------- JSON layout */

enum field_kind {
	F_STRING,	/* char *; NULL is JSON null */
	F_STRV,		/* char **, NULL-terminated; an array of strings */
	F_BOOL,
	F_INT,
	F_INT64,
	F_UINT32,	/* uint32_t, and unsigned int (the same on every Linux ABI) */
	F_CHARS,	/* char[size] */
	F_OBJECT,	/* a nested struct, described by sub */
	F_ARRAY,	/* a counted array of such structs: pointer at offset, size_t at count */
	F_SPECIAL,	/* its own encode/decode, handed the whole struct */
};

struct schema;

struct field {
	const char *key;
	enum field_kind kind;
	size_t offset;
	size_t size;
	const struct schema *sub;
	size_t count;		/* F_ARRAY: offset of the element count */
	const char *what;	/* F_ARRAY: "an array of devices" */
	json_t *(*encode)(const void *base, const char *path, struct lp_err *err);
	int (*decode)(json_t *v, void *base, const char *path, struct lp_err *err);
};

struct schema {
	const struct field *fields;
	size_t n_fields;
	size_t size;		/* of the struct, for arrays of it */
};

_Static_assert(sizeof(unsigned int) == sizeof(uint32_t), "device numbers are stored as uint32");

static const char *const net_names[] = {
	[LP_NET_NONE] = "none",
	[LP_NET_HOST] = "host",
};

static const char *const restart_names[] = {
	[LP_RESTART_NO] = "no",
	[LP_RESTART_ON_FAILURE] = "on-failure",
	[LP_RESTART_ALWAYS] = "always",
};

/* ---------------------------------------------------------------- encoding */

/* Adds v to obj, taking it; NULL v means its encoder failed and said why. */
static int put(json_t *obj, const char *key, json_t *v, const char *path, struct lp_err *err)
{
	if (!v)
		return -1;
	if (json_object_set_new(obj, key, v) < 0)
		return lp_json_out_of_memory(err, path);
	return 0;
}

static int append(json_t *array, json_t *v, const char *path, struct lp_err *err)
{
	if (!v)
		return -1;
	if (json_array_append_new(array, v) < 0)
		return lp_json_out_of_memory(err, path);
	return 0;
}

static json_t *encode_object(const struct schema *schema, const void *base, const char *path,
			     struct lp_err *err);

static json_t *encode_string(const char *s, const char *path, struct lp_err *err)
{
	json_t *v;

	if (!s)
		return json_null();
	errno = 0;
	v = json_string(s);
	if (!v && errno == ENOMEM)
		lp_json_out_of_memory(err, path);
	else if (!v)
		lp_json_fail(err, path, EILSEQ, "'%s' is not valid UTF-8", s);
	return v;
}

static json_t *encode_strv(char *const *v, const char *path, struct lp_err *err)
{
	json_t *array = json_array();
	char item[PATH_BUF];
	size_t i;

	if (!array) {
		lp_json_out_of_memory(err, path);
		return NULL;
	}
	for (i = 0; v && v[i]; i++) {
		lp_json_index_path(item, PATH_BUF, path, i);
		if (append(array, encode_string(v[i], item, err), item, err) < 0) {
			json_decref(array);
			return NULL;
		}
	}
	return array;
}

static json_t *encode_enum(unsigned int value, const char *const *names, size_t n,
			   const char *path, struct lp_err *err)
{
	if (value >= n || !names[value]) {
		lp_json_fail(err, path, EINVAL, "unknown value %u", value);
		return NULL;
	}
	return encode_string(names[value], path, err);
}

static json_t *encode_array(const struct field *f, const void *base, const char *path,
			   struct lp_err *err)
{
	const char *items;
	size_t i, n;
	json_t *array = json_array();
	char item[PATH_BUF];

	if (!array) {
		lp_json_out_of_memory(err, path);
		return NULL;
	}
	memcpy(&items, (const char *)base + f->offset, sizeof(items));
	memcpy(&n, (const char *)base + f->count, sizeof(n));
	for (i = 0; i < n; i++) {
		lp_json_index_path(item, PATH_BUF, path, i);
		if (append(array, encode_object(f->sub, items + i * f->sub->size, item, err), item,
			   err) < 0) {
			json_decref(array);
			return NULL;
		}
	}
	return array;
}

static json_t *encode_field(const struct field *f, const void *base, const char *path,
			    struct lp_err *err)
{
	const void *member = (const char *)base + f->offset;
	json_t *v = NULL;

	switch (f->kind) {
	case F_STRING:
		return encode_string(*(char *const *)member, path, err);
	case F_STRV:
		return encode_strv(*(char **const *)member, path, err);
	case F_BOOL:
		v = json_boolean(*(const bool *)member);
		break;
	case F_INT:
		v = json_integer(*(const int *)member);
		break;
	case F_INT64:
		v = json_integer(*(const int64_t *)member);
		break;
	case F_UINT32:
		v = json_integer(*(const uint32_t *)member);
		break;
	case F_CHARS:
		return encode_string(member, path, err);
	case F_OBJECT:
		return encode_object(f->sub, member, path, err);
	case F_ARRAY:
		return encode_array(f, base, path, err);
	case F_SPECIAL:
		return f->encode(base, path, err);
	}
	if (!v)
		lp_json_out_of_memory(err, path);
	return v;
}

static json_t *encode_object(const struct schema *schema, const void *base, const char *path,
			     struct lp_err *err)
{
	json_t *obj = json_object();
	char sub[PATH_BUF];
	size_t i;

	if (!obj) {
		lp_json_out_of_memory(err, path);
		return NULL;
	}
	for (i = 0; i < schema->n_fields; i++) {
		const struct field *f = &schema->fields[i];

		lp_json_key_path(sub, PATH_BUF, path, f->key);
		if (put(obj, f->key, encode_field(f, base, sub, err), sub, err) < 0) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

/* ---------------------------------------------------------------- decoding */

static int decode_object(json_t *obj, const struct schema *schema, void *base, const char *path,
			 struct lp_err *err);

static int decode_chars(json_t *v, char *dst, size_t size, const char *path, struct lp_err *err)
{
	size_t len;

	if (!json_is_string(v))
		return lp_json_type_error(err, path, "a string", v);
	len = json_string_length(v);
	if (len >= size)
		return lp_json_fail(err, path, EINVAL, "longer than %zu bytes", size - 1);
	memcpy(dst, json_string_value(v), len + 1);
	return 0;
}

static int decode_enum(json_t *v, const char *const *names, size_t n, unsigned int *out,
		       const char *path, struct lp_err *err)
{
	unsigned int i;

	if (!json_is_string(v))
		return lp_json_type_error(err, path, "a string", v);
	for (i = 0; i < n; i++) {
		if (names[i] && !strcmp(names[i], json_string_value(v))) {
			*out = i;
			return 0;
		}
	}
	return lp_json_fail(err, path, EINVAL, "unknown value '%s'", json_string_value(v));
}

static int decode_number(const struct field *f, json_t *v, void *member, const char *path,
			 struct lp_err *err)
{
	long long n;

	switch (f->kind) {
	case F_INT:
		if (lp_json_get_int(v, INT_MIN, INT_MAX, &n, path, err) < 0)
			return -1;
		*(int *)member = (int)n;
		return 0;
	case F_INT64:
		if (lp_json_get_int(v, INT64_MIN, INT64_MAX, &n, path, err) < 0)
			return -1;
		*(int64_t *)member = n;
		return 0;
	default:
		if (lp_json_get_int(v, 0, UINT32_MAX, &n, path, err) < 0)
			return -1;
		*(uint32_t *)member = (uint32_t)n;
		return 0;
	}
}

/*
 * Into a struct that starts zeroed, with keys unique (JSON_REJECT_DUPLICATES):
 * there is no old array to free.  The count is set before the elements are
 * read, so a failure leaves them for the struct's own free function.
 */
static int decode_array(const struct field *f, json_t *v, void *base, const char *path,
			struct lp_err *err)
{
	size_t i, n, size = f->sub->size;
	char item[PATH_BUF];
	json_t *elem;
	char *items;

	if (!json_is_array(v))
		return lp_json_type_error(err, path, f->what, v);
	n = json_array_size(v);
	if (n == 0)
		return 0;
	items = calloc(n, size);
	if (!items)
		return lp_json_out_of_memory(err, path);
	/* memcpy: the member is a pointer to the element type, not to char */
	memcpy((char *)base + f->offset, &items, sizeof(items));
	memcpy((char *)base + f->count, &n, sizeof(n));
	json_array_foreach(v, i, elem) {
		lp_json_index_path(item, PATH_BUF, path, i);
		if (decode_object(elem, f->sub, items + i * size, item, err) < 0)
			return -1;
	}
	return 0;
}

static int decode_field(const struct field *f, json_t *v, void *base, const char *path,
			struct lp_err *err)
{
	void *member = (char *)base + f->offset;

	switch (f->kind) {
	case F_STRING:
		return lp_json_dup_string(v, true, member, path, err);
	case F_STRV:
		return lp_json_dup_strv(v, member, path, err);
	case F_BOOL:
		if (!json_is_boolean(v))
			return lp_json_type_error(err, path, "a boolean", v);
		*(bool *)member = json_is_true(v);
		return 0;
	case F_INT:
	case F_INT64:
	case F_UINT32:
		return decode_number(f, v, member, path, err);
	case F_CHARS:
		return decode_chars(v, member, f->size, path, err);
	case F_OBJECT:
		return decode_object(v, f->sub, member, path, err);
	case F_ARRAY:
		return decode_array(f, v, base, path, err);
	case F_SPECIAL:
		return f->decode(v, base, path, err);
	}
	return lp_json_fail(err, path, EINVAL, "unknown field kind");
}

static const struct field *find_field(const struct schema *schema, const char *key)
{
	size_t i;

	for (i = 0; i < schema->n_fields; i++)
		if (!strcmp(schema->fields[i].key, key))
			return &schema->fields[i];
	return NULL;
}

/* Unknown keys are errors: a typo must not silently lose a setting. */
static int decode_object(json_t *obj, const struct schema *schema, void *base, const char *path,
			 struct lp_err *err)
{
	char sub[PATH_BUF];
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return lp_json_type_error(err, path, "an object", obj);
	json_object_foreach(obj, key, v) {
		const struct field *f = find_field(schema, key);

		lp_json_key_path(sub, PATH_BUF, path, key);
		if (!f)
			return lp_json_fail(err, sub, EINVAL, "unknown field");
		if (decode_field(f, v, base, sub, err) < 0)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- special fields */

static json_t *encode_net(const void *base, const char *path, struct lp_err *err)
{
	const struct lp_container_cfg *c = base;

	return encode_enum(c->net, net_names, ARRAY_SIZE(net_names), path, err);
}

static int decode_net(json_t *v, void *base, const char *path, struct lp_err *err)
{
	struct lp_container_cfg *c = base;
	unsigned int net;

	if (decode_enum(v, net_names, ARRAY_SIZE(net_names), &net, path, err) < 0)
		return -1;
	c->net = (enum lp_net_mode)net;
	return 0;
}

static const char *const isolation_names[] = { "container", "vm", "auto" };

static json_t *encode_isolation(const void *base, const char *path, struct lp_err *err)
{
	const struct lp_container_cfg *c = base;

	return encode_enum(c->isolation, isolation_names, ARRAY_SIZE(isolation_names), path, err);
}

static int decode_isolation(json_t *v, void *base, const char *path, struct lp_err *err)
{
	struct lp_container_cfg *c = base;
	unsigned int iso;

	if (decode_enum(v, isolation_names, ARRAY_SIZE(isolation_names), &iso, path, err) < 0)
		return -1;
	c->isolation = (enum lp_isolation)iso;
	return 0;
}

static json_t *encode_policy(const void *base, const char *path, struct lp_err *err)
{
	const struct lp_restart *r = base;

	return encode_enum(r->policy, restart_names, ARRAY_SIZE(restart_names), path, err);
}

static int decode_policy(json_t *v, void *base, const char *path, struct lp_err *err)
{
	struct lp_restart *r = base;
	unsigned int policy;

	if (decode_enum(v, restart_names, ARRAY_SIZE(restart_names), &policy, path, err) < 0)
		return -1;
	r->policy = (enum lp_restart_policy)policy;
	return 0;
}

static json_t *encode_dev_type(const void *base, const char *path, struct lp_err *err)
{
	const struct lp_device *dev = base;
	char type[2] = { dev->type, '\0' };

	return encode_string(type, path, err);
}

static int decode_dev_type(json_t *v, void *base, const char *path, struct lp_err *err)
{
	struct lp_device *dev = base;

	if (!json_is_string(v))
		return lp_json_type_error(err, path, "a string", v);
	if (json_string_length(v) != 1)
		return lp_json_fail(err, path, EINVAL, "'%s' is not c or b", json_string_value(v));
	dev->type = json_string_value(v)[0];
	return 0;
}

#define FIELD(type, k, kind_, member) \
	{ .key = k, .kind = kind_, .offset = offsetof(type, member) }
#define CHARS(type, k, member)                                                      \
	{ .key = k, .kind = F_CHARS, .offset = offsetof(type, member),              \
	  .size = sizeof(((type *)NULL)->member) }
#define OBJECT(type, k, member, schema)                                             \
	{ .key = k, .kind = F_OBJECT, .offset = offsetof(type, member), .sub = &schema }
#define ARRAY(type, k, member, count_, schema, what_)                               \
	{ .key = k, .kind = F_ARRAY, .offset = offsetof(type, member),              \
	  .count = offsetof(type, count_), .sub = &schema, .what = what_ }
#define SPECIAL(k, enc, dec) { .key = k, .kind = F_SPECIAL, .encode = enc, .decode = dec }
#define SCHEMA(fields) { fields, ARRAY_SIZE(fields), 0 }
#define ELEMENT_SCHEMA(fields, type) { fields, ARRAY_SIZE(fields), sizeof(type) }

static const struct field limits_fields[] = {
	FIELD(struct lp_limits, "memory", F_INT64, memory),
	FIELD(struct lp_limits, "cpu_quota", F_INT64, cpu_quota),
	FIELD(struct lp_limits, "cpu_period", F_INT64, cpu_period),
	FIELD(struct lp_limits, "cpu_weight", F_INT, cpu_weight),
	FIELD(struct lp_limits, "pids", F_INT64, pids),
};
static const struct schema limits_schema = SCHEMA(limits_fields);

static const struct field restart_fields[] = {
	SPECIAL("policy", encode_policy, decode_policy),
	FIELD(struct lp_restart, "max_retries", F_INT, max_retries),
};
static const struct schema restart_schema = SCHEMA(restart_fields);

static const struct field device_fields[] = {
	CHARS(struct lp_device, "host", host),
	CHARS(struct lp_device, "inner", inner),
	CHARS(struct lp_device, "perms", perms),
	SPECIAL("type", encode_dev_type, decode_dev_type),
	FIELD(struct lp_device, "major", F_UINT32, major),
	FIELD(struct lp_device, "minor", F_UINT32, minor),
};
static const struct schema device_schema = ELEMENT_SCHEMA(device_fields, struct lp_device);

static const struct field volume_fields[] = {
	FIELD(struct lp_volume, "name", F_STRING, name),
	FIELD(struct lp_volume, "path", F_STRING, path),
};
static const struct schema volume_schema = ELEMENT_SCHEMA(volume_fields, struct lp_volume);

/* Keys follow the config file's names where it has one (command, workdir). */
static const struct field container_fields[] = {
	FIELD(struct lp_container_cfg, "name", F_STRING, name),
	FIELD(struct lp_container_cfg, "rootfs", F_STRING, rootfs),
	FIELD(struct lp_container_cfg, "image", F_STRING, image),
	FIELD(struct lp_container_cfg, "command", F_STRV, argv),
	FIELD(struct lp_container_cfg, "user", F_STRING, user),
	FIELD(struct lp_container_cfg, "env", F_STRV, env),
	FIELD(struct lp_container_cfg, "hostname", F_STRING, hostname),
	FIELD(struct lp_container_cfg, "workdir", F_STRING, cwd),
	FIELD(struct lp_container_cfg, "uid", F_UINT32, uid),
	FIELD(struct lp_container_cfg, "gid", F_UINT32, gid),
	SPECIAL("net", encode_net, decode_net),
	FIELD(struct lp_container_cfg, "read_only", F_BOOL, read_only),
	FIELD(struct lp_container_cfg, "init", F_BOOL, init),
	FIELD(struct lp_container_cfg, "tty", F_BOOL, tty),
	FIELD(struct lp_container_cfg, "interactive", F_BOOL, interactive),
	OBJECT(struct lp_container_cfg, "limits", limits, limits_schema),
	ARRAY(struct lp_container_cfg, "devices", devices, n_devices, device_schema,
	      "an array of devices"),
	ARRAY(struct lp_container_cfg, "volumes", volumes, n_volumes, volume_schema,
	      "an array of volumes"),
	OBJECT(struct lp_container_cfg, "restart", restart, restart_schema),
	FIELD(struct lp_container_cfg, "userns_uid", F_UINT32, userns_uid),
	FIELD(struct lp_container_cfg, "userns_count", F_UINT32, userns_count),
	SPECIAL("isolation", encode_isolation, decode_isolation),
};
static const struct schema container_schema = SCHEMA(container_fields);

/* ---------------------------------------------------------------- public */

json_t *lp_container_cfg_encode(const struct lp_container_cfg *c, struct lp_err *err)
{
	/* never write a state file that from_json would refuse to read back */
	if (lp_container_cfg_validate(c, err) < 0)
		return NULL;
	return encode_object(&container_schema, c, "", err);
}

char *lp_container_cfg_to_json(const struct lp_container_cfg *c, struct lp_err *err)
{
	json_t *root = lp_container_cfg_encode(c, err);
	char *text;

	if (!root)
		return NULL;
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!text)
		lp_json_out_of_memory(err, "");
	return text;
}

int lp_container_cfg_from_json(const char *json, struct lp_container_cfg *c, struct lp_err *err)
{
	json_error_t jerr;
	json_t *root;
	int ret;

	memset(c, 0, sizeof(*c));
	root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return lp_fail(err, EINVAL, "JSON line %d column %d: %s", jerr.line, jerr.column,
			       jerr.text);
	ret = lp_container_cfg_decode(root, c, err);
	json_decref(root);
	return ret;
}

int lp_container_cfg_decode(json_t *root, struct lp_container_cfg *c, struct lp_err *err)
{
	struct lp_container_cfg tmp = { 0 };
	int ret;

	memset(c, 0, sizeof(*c));
	ret = decode_object(root, &container_schema, &tmp, "", err);
	/* env is a list, possibly empty, never NULL: users iterate it directly */
	if (ret == 0 && !tmp.env) {
		tmp.env = calloc(1, sizeof(*tmp.env));
		if (!tmp.env)
			ret = lp_json_out_of_memory(err, "env");
	}
	if (ret == 0)
		ret = lp_container_cfg_validate(&tmp, err);
	if (ret < 0) {
		lp_container_cfg_free(&tmp);
		return -1;
	}
	*c = tmp;
	return 0;
}
