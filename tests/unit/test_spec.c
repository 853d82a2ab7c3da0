// SPDX-License-Identifier: Apache-2.0
/* Container entries: names, validation, and the JSON round trip. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/spec/parse.h"
#include "agent/spec/spec.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void assert_msg_has(const struct lp_err *err, const char *want)
{
	if (!strstr(err->msg, want))
		fail_msg("expected \"%s\" in the message \"%s\"", want, err->msg);
}

static char *dup(const char *s)
{
	char *copy = strdup(s);

	assert_non_null(copy);
	return copy;
}

/* A NULL-terminated, heap-allocated vector of copies of the arguments. */
static char **strv(const char *first, ...)
{
	char **v = calloc(16, sizeof(*v));
	const char *s;
	size_t n = 0;
	va_list ap;

	assert_non_null(v);
	va_start(ap, first);
	for (s = first; s; s = va_arg(ap, const char *))
		v[n++] = dup(s);
	va_end(ap);
	return v;
}

static void minimal_cfg(struct lp_container_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->name = dup("web");
	c->rootfs = dup("/srv/web");
	c->argv = strv("/bin/httpd", NULL);
	c->env = strv(NULL);
}

/* Every field set to something other than its zero value. */
static void full_cfg(struct lp_container_cfg *c)
{
	struct lp_err err = { 0 };

	memset(c, 0, sizeof(*c));
	c->name = dup("web-1.a_b");
	c->rootfs = dup("/srv/web");
	c->argv = strv("/bin/httpd", "-f", "-p", "80", "quote \" backslash \\ tab \t", NULL);
	c->env = strv("A=B", "PATH=/bin:/usr/bin", "EMPTY=", "UTF8=h\xc3\xa9",
		      /* the edges of valid UTF-8: U+D7FF, U+E000, U+10FFFF; a shell */
		      "EDGES=\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf \xf0\x9f\x90\x9a", NULL);
	c->hostname = dup("web.local");
	c->cwd = dup("/var/www");
	c->uid = 1000;
	c->gid = 100;
	c->net = LP_NET_HOST;
	c->read_only = true;
	c->init = true;
	c->limits.memory = (int64_t)64 << 20;
	c->limits.cpu_quota = 50000;
	c->limits.cpu_period = 100000;
	c->limits.cpu_weight = 250;
	c->limits.pids = 64;
	c->n_devices = 2;
	c->devices = calloc(2, sizeof(*c->devices));
	assert_non_null(c->devices);
	assert_int_equal(lp_parse_device("/dev/null:rw", &c->devices[0], &err), 0);
	assert_int_equal(lp_parse_device("/dev/null:/dev/gpiochip0:m", &c->devices[1], &err), 0);
	assert_int_equal(lp_parse_volume("data:/var/lib/web", &c->volumes, &c->n_volumes, &err), 0);
	assert_int_equal(lp_parse_volume("cache.v-1_x:/cache", &c->volumes, &c->n_volumes, &err),
			 0);
	c->restart.policy = LP_RESTART_ON_FAILURE;
	c->restart.max_retries = 3;
#ifdef CONFIG_USERNS
	c->userns_uid = 100000;
	c->userns_count = 65536;
#endif
	c->source = "/etc/limpet/limpet.conf";
	c->source_line = 12;
}

static void assert_str_or_null_equal(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

/* NULL and an empty list mean the same: no entries. */
static void assert_strv_equal(char **a, char **b)
{
	size_t i;

	for (i = 0; a && a[i]; i++) {
		assert_non_null(b);
		assert_non_null(b[i]);
		assert_string_equal(a[i], b[i]);
	}
	assert_true(!b || !b[i]);
}

static void assert_device_equal(const struct lp_device *a, const struct lp_device *b)
{
	assert_string_equal(a->host, b->host);
	assert_string_equal(a->inner, b->inner);
	assert_string_equal(a->perms, b->perms);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->major, b->major);
	assert_int_equal(a->minor, b->minor);
}

static void assert_cfg_equal(const struct lp_container_cfg *a, const struct lp_container_cfg *b)
{
	size_t i;

	assert_str_or_null_equal(a->name, b->name);
	assert_str_or_null_equal(a->rootfs, b->rootfs);
	assert_strv_equal(a->argv, b->argv);
	assert_strv_equal(a->env, b->env);
	assert_str_or_null_equal(a->hostname, b->hostname);
	assert_str_or_null_equal(a->cwd, b->cwd);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_int_equal(a->net, b->net);
	assert_int_equal(a->isolation, b->isolation);
	assert_int_equal(a->read_only, b->read_only);
	assert_int_equal(a->init, b->init);
	assert_memory_equal(&a->limits, &b->limits, sizeof(a->limits));
	assert_int_equal(a->n_devices, b->n_devices);
	for (i = 0; i < a->n_devices; i++)
		assert_device_equal(&a->devices[i], &b->devices[i]);
	assert_int_equal(a->n_volumes, b->n_volumes);
	for (i = 0; i < a->n_volumes; i++) {
		assert_string_equal(a->volumes[i].name, b->volumes[i].name);
		assert_string_equal(a->volumes[i].path, b->volumes[i].path);
	}
	assert_int_equal(a->restart.policy, b->restart.policy);
	assert_int_equal(a->restart.max_retries, b->restart.max_retries);
	assert_int_equal(a->userns_uid, b->userns_uid);
	assert_int_equal(a->userns_count, b->userns_count);
}

/* ---------------------------------------------------------------- names */

static void test_name_valid(void **state)
{
	static const char *const good[] = {
		"web", "a", "0", "A1_b.c-d", "web.", "x-",
		"1234567890123456789012345678901234567890123456789012345678901234",
	};
	struct lp_err err = { 0 };
	size_t i;

	for (i = 0; i < N(good); i++)
		if (lp_name_valid(good[i], &err) != 0)
			fail_msg("'%s' rejected: %s", good[i], err.msg);
}

static void test_name_invalid(void **state)
{
	static const struct {
		const char *name;
		const char *msg;
	} bad[] = {
		{ "", "a name cannot be empty" },
		{ "12345678901234567890123456789012345678901234567890123456789012345",
		  "is longer than 64 characters" },
		{ "-web", "'-web' is not a valid name (letters, digits, '_', '.' and '-'" },
		{ ".web", "is not a valid name" },
		{ "_web", "is not a valid name" },
		{ "we b", "is not a valid name" },
		{ "web/x", "is not a valid name" },
		{ "../x", "is not a valid name" },
		{ "w\xc3\xa9" "b", "is not a valid name" },
		{ "web\n", "is not a valid name" },
	};
	struct lp_err err = { 0 };
	size_t i;

	for (i = 0; i < N(bad); i++) {
		if (lp_name_valid(bad[i].name, &err) != -1)
			fail_msg("'%s' accepted", bad[i].name);
		assert_msg_has(&err, bad[i].msg);
	}
	assert_int_equal(lp_name_valid(NULL, &err), -1);
	assert_int_equal(lp_name_valid("-", NULL), -1);
}

/* ---------------------------------------------------------------- validation */

static void test_validate_good(void **state)
{
	struct lp_container_cfg c;
	struct lp_err err = { 0 };

	minimal_cfg(&c);
	assert_int_equal(lp_container_cfg_validate(&c, &err), 0);
	/* limits at exactly their minimum */
	c.limits.memory = LP_MEMORY_MIN;
	c.limits.pids = 1;
	c.limits.cpu_weight = 1;
	assert_int_equal(lp_container_cfg_validate(&c, &err), 0);
	c.limits.cpu_weight = LP_CPU_WEIGHT_MAX;
	assert_int_equal(lp_container_cfg_validate(&c, &err), 0);
	lp_container_cfg_free(&c);

	full_cfg(&c);
	if (lp_container_cfg_validate(&c, &err) != 0)
		fail_msg("full config rejected: %s", err.msg);
	lp_container_cfg_free(&c);
	assert_null(c.name);
	assert_null(c.devices);
	assert_null(c.volumes);
	assert_int_equal(c.n_volumes, 0);
	/* freeing twice, or an empty entry, is harmless */
	lp_container_cfg_free(&c);
	lp_container_cfg_free(NULL);
}

static void test_path_confined(void **state)
{
	assert_true(lp_path_confined("/"));
	assert_true(lp_path_confined("/dev/x"));
	assert_true(lp_path_confined("//dev//x/"));
	assert_true(lp_path_confined("/a..b"));
	assert_true(lp_path_confined("/..a/b"));
	assert_true(lp_path_confined("/a/./b"));
	assert_false(lp_path_confined("/.."));
	assert_false(lp_path_confined("/a/../b"));
	assert_false(lp_path_confined("/a/.."));
	assert_false(lp_path_confined("dev/x"));
	assert_false(lp_path_confined(""));
	assert_false(lp_path_confined(NULL));
}

/* Break one thing in a valid entry and expect exactly that to be reported. */
static void expect_invalid(void (*breaker)(struct lp_container_cfg *c), const char *field,
			   const char *msg)
{
	struct lp_container_cfg c;
	struct lp_err err = { 0 };
	const char *got = NULL;

	full_cfg(&c);
	breaker(&c);
	assert_int_equal(lp_container_cfg_check(&c, &got, &err), -1);
	assert_non_null(got);
	assert_string_equal(got, field);
	assert_msg_has(&err, msg);
	assert_int_equal(lp_container_cfg_validate(&c, &err), -1);
	if (strncmp(err.msg, field, strlen(field)) || strncmp(err.msg + strlen(field), ": ", 2))
		fail_msg("\"%s\" does not start with \"%s: \"", err.msg, field);
	lp_container_cfg_free(&c);
}

static void no_name(struct lp_container_cfg *c)
{
	free(c->name);
	c->name = NULL;
}

static void bad_name(struct lp_container_cfg *c)
{
	c->name[0] = '-';
}

static void no_rootfs(struct lp_container_cfg *c)
{
	free(c->rootfs);
	c->rootfs = NULL;
}

static void relative_rootfs(struct lp_container_cfg *c)
{
	free(c->rootfs);
	c->rootfs = dup("srv/web");
}

static void empty_argv(struct lp_container_cfg *c)
{
	size_t i;

	for (i = 0; c->argv[i]; i++)
		free(c->argv[i]);
	c->argv[0] = NULL;
}

static void empty_program(struct lp_container_cfg *c)
{
	c->argv[0][0] = '\0';
}

static void env_without_equals(struct lp_container_cfg *c)
{
	free(c->env[1]);
	c->env[1] = dup("FOO");
}

static void env_without_name(struct lp_container_cfg *c)
{
	free(c->env[0]);
	c->env[0] = dup("=x");
}

/* Each a different way to break UTF-8: JSON, where all of these are saved, refuses them. */
static void rootfs_not_utf8(struct lp_container_cfg *c)
{
	free(c->rootfs);
	c->rootfs = dup("/srv/\xff");
}

static void argv_not_utf8(struct lp_container_cfg *c)
{
	free(c->argv[1]);
	c->argv[1] = dup("-c\xc0\xaf"); /* an overlong '/' */
}

static void env_not_utf8(struct lp_container_cfg *c)
{
	free(c->env[1]);
	c->env[1] = dup("PATH=/usr\xf0/bin"); /* cut short */
}

static void env_surrogate(struct lp_container_cfg *c)
{
	free(c->env[0]);
	c->env[0] = dup("X=\xed\xa0\x80");
}

static void workdir_past_unicode(struct lp_container_cfg *c)
{
	free(c->cwd);
	c->cwd = dup("/\xf4\x90\x80\x80");
}

static void user_not_utf8(struct lp_container_cfg *c)
{
	free(c->user);
	c->user = dup("\xe9t\xe9");
}

static void device_not_utf8(struct lp_container_cfg *c)
{
	strcpy(c->devices[1].inner, "/dev/\x80");
}

static void volume_not_utf8(struct lp_container_cfg *c)
{
	free(c->volumes[1].path);
	c->volumes[1].path = dup("/var/\xfe");
}

static void long_hostname(struct lp_container_cfg *c)
{
	free(c->hostname);
	c->hostname = dup("h2345678901234567890123456789012345678901234567890123456789012345");
}

static void bad_hostname(struct lp_container_cfg *c)
{
	c->hostname[3] = '_';
}

static void relative_workdir(struct lp_container_cfg *c)
{
	free(c->cwd);
	c->cwd = dup("var/www");
}

static void invalid_uid(struct lp_container_cfg *c)
{
	c->gid = UINT32_MAX;
}

static void tiny_memory(struct lp_container_cfg *c)
{
	c->limits.memory = 1 << 20;
}

static void odd_memory(struct lp_container_cfg *c)
{
	c->limits.memory = 1000000;
}

static void negative_memory(struct lp_container_cfg *c)
{
	c->limits.memory = -1;
}

static void tiny_quota(struct lp_container_cfg *c)
{
	c->limits.cpu_quota = 999;
}

static void huge_quota(struct lp_container_cfg *c)
{
	c->limits.cpu_quota = (int64_t)LP_CPUS_MAX * c->limits.cpu_period + 1;
}

static void quota_without_period(struct lp_container_cfg *c)
{
	c->limits.cpu_period = 0;
}

static void heavy_weight(struct lp_container_cfg *c)
{
	c->limits.cpu_weight = LP_CPU_WEIGHT_MAX + 1;
}

static void negative_weight(struct lp_container_cfg *c)
{
	c->limits.cpu_weight = -1;
}

static void negative_pids(struct lp_container_cfg *c)
{
	c->limits.pids = -1;
}

static void unknown_net(struct lp_container_cfg *c)
{
	c->net = (enum lp_net_mode)7;
}

/* The full config has devices, volumes, a user namespace and host networking. */
static void vm_with_host_net(struct lp_container_cfg *c)
{
	c->isolation = LP_ISOLATION_VM;
}

static void vm_with_devices(struct lp_container_cfg *c)
{
	c->isolation = LP_ISOLATION_AUTO;
	c->net = LP_NET_NONE;
}

static void vm_with_volumes(struct lp_container_cfg *c)
{
	vm_with_devices(c);
	c->n_devices = 0;
}

static void vm_with_userns(struct lp_container_cfg *c)
{
	vm_with_volumes(c);
	lp_volumes_free(c->volumes, c->n_volumes);
	c->volumes = NULL;
	c->n_volumes = 0;
}

static void vm_read_only(struct lp_container_cfg *c)
{
	vm_with_userns(c);
	c->userns_count = 0;
	c->read_only = true;
}

static void vm_small_memory(struct lp_container_cfg *c)
{
	vm_read_only(c);
	c->read_only = false;
	c->limits.memory = 32 << 20;
}

static void unknown_isolation(struct lp_container_cfg *c)
{
	c->isolation = (enum lp_isolation)9;
}

static void retries_with_always(struct lp_container_cfg *c)
{
	c->restart.policy = LP_RESTART_ALWAYS;
}

static void negative_retries(struct lp_container_cfg *c)
{
	c->restart.max_retries = -1;
}

static void device_bad_perms(struct lp_container_cfg *c)
{
	strcpy(c->devices[1].perms, "rx");
}

static void device_bad_type(struct lp_container_cfg *c)
{
	c->devices[0].type = 'p';
}

static void device_escaping(struct lp_container_cfg *c)
{
	strcpy(c->devices[1].inner, "/dev/../etc/shadow");
}

static void device_relative_host(struct lp_container_cfg *c)
{
	strcpy(c->devices[0].host, "null");
}

static void devices_missing(struct lp_container_cfg *c)
{
	free(c->devices);
	c->devices = NULL;
}

static void volume_bad_name(struct lp_container_cfg *c)
{
	free(c->volumes[1].name);
	c->volumes[1].name = dup("..");
}

static void volume_no_name(struct lp_container_cfg *c)
{
	free(c->volumes[0].name);
	c->volumes[0].name = NULL;
}

static void volume_relative_path(struct lp_container_cfg *c)
{
	free(c->volumes[0].path);
	c->volumes[0].path = dup("var/lib/web");
}

static void volume_root_path(struct lp_container_cfg *c)
{
	free(c->volumes[1].path);
	c->volumes[1].path = dup("//");
}

static void volume_climbing_path(struct lp_container_cfg *c)
{
	free(c->volumes[1].path);
	c->volumes[1].path = dup("/cache/../../etc");
}

static void volume_name_twice(struct lp_container_cfg *c)
{
	free(c->volumes[1].name);
	c->volumes[1].name = dup("data");
}

static void volume_path_twice(struct lp_container_cfg *c)
{
	free(c->volumes[1].path);
	c->volumes[1].path = dup("/var/lib/web");
}

static void volumes_missing(struct lp_container_cfg *c)
{
	lp_volumes_free(c->volumes, c->n_volumes);
	c->volumes = NULL;
}

static void userns_past_end(struct lp_container_cfg *c)
{
	c->userns_uid = UINT32_MAX - 10;
	c->userns_count = 65536;
}

static void test_validate_errors(void **state)
{
	expect_invalid(no_name, "name", "missing");
	expect_invalid(bad_name, "name", "is not a valid name");
	expect_invalid(no_rootfs, "rootfs", "missing");
	expect_invalid(relative_rootfs, "rootfs", "'srv/web' is not an absolute path");
	expect_invalid(empty_argv, "command", "empty");
	expect_invalid(empty_program, "command", "the program name is empty");
	expect_invalid(env_without_equals, "env", "'FOO' is not NAME=VALUE");
	expect_invalid(env_without_name, "env", "'=x' is not NAME=VALUE");
	expect_invalid(rootfs_not_utf8, "rootfs", "the path is not valid UTF-8 text");
	expect_invalid(argv_not_utf8, "command", "argument 2 is not valid UTF-8 text");
	expect_invalid(env_not_utf8, "env", "variable 2 is not valid UTF-8 text");
	expect_invalid(env_surrogate, "env", "variable 1 is not valid UTF-8 text");
	expect_invalid(workdir_past_unicode, "workdir", "the path is not valid UTF-8 text");
	expect_invalid(user_not_utf8, "user", "the user is not valid UTF-8 text");
	expect_invalid(device_not_utf8, "devices", "a device path is not valid UTF-8 text");
	expect_invalid(volume_not_utf8, "volumes",
		       "volume cache.v-1_x: the path is not valid UTF-8 text");
	expect_invalid(long_hostname, "hostname", "is longer than 64 characters");
	expect_invalid(bad_hostname, "hostname", "'web_local' is not a valid hostname");
	expect_invalid(relative_workdir, "workdir", "'var/www' is not an absolute path");
	expect_invalid(invalid_uid, "user", "4294967295 is not a valid id");
	expect_invalid(tiny_memory, "memory", "1M is below the 4M minimum a container needs");
	expect_invalid(odd_memory, "memory", "1000000 is below the 4M minimum");
	expect_invalid(negative_memory, "memory", "-1 is negative");
	expect_invalid(tiny_quota, "cpus", "a quota of 999 us per 100000 us is out of range");
	expect_invalid(huge_quota, "cpus", "is out of range");
	expect_invalid(quota_without_period, "cpus", "a period of 0 us is out of range");
	expect_invalid(heavy_weight, "cpu_weight", "10001 is out of range (1 to 10000)");
	expect_invalid(negative_weight, "cpu_weight", "-1 is out of range");
	expect_invalid(negative_pids, "pids", "-1 is negative");
	expect_invalid(unknown_net, "net", "unknown mode 7");
	expect_invalid(vm_with_host_net, "isolation", "vm: a microVM has no network yet");
	expect_invalid(vm_with_devices, "isolation", "auto: a microVM cannot be given host devices");
	expect_invalid(vm_with_volumes, "isolation", "auto: a microVM cannot mount volumes yet");
	expect_invalid(vm_with_userns, "isolation", "auto: userns does not apply to a microVM");
	expect_invalid(vm_read_only, "isolation", "auto: a microVM's root is a private copy");
	expect_invalid(vm_small_memory, "isolation", "auto: a microVM needs a memory limit of at least 64 MiB");
	expect_invalid(unknown_isolation, "isolation", "unknown isolation 9");
	expect_invalid(retries_with_always, "restart", "a retry count only goes with on-failure");
	expect_invalid(negative_retries, "restart", "a retry count of -1 is negative");
	expect_invalid(device_bad_perms, "devices", "'rx' is not a set of permissions from rwm");
	expect_invalid(device_bad_type, "devices", "/dev/null: the type must be c or b");
	expect_invalid(device_escaping, "devices", "'/dev/../etc/shadow', must be absolute");
	expect_invalid(device_relative_host, "devices", "'null' is not an absolute path");
	expect_invalid(devices_missing, "devices", "2 devices but no list");
	expect_invalid(volume_bad_name, "volumes", "'..' is not a volume name");
	expect_invalid(volume_no_name, "volumes", "'' is not a volume name");
	expect_invalid(volume_relative_path, "volumes",
		       "volume data: 'var/lib/web' is not an absolute path");
	expect_invalid(volume_root_path, "volumes", "volume cache.v-1_x: '//' is not an absolute");
	expect_invalid(volume_climbing_path, "volumes", "'/cache/../../etc' is not an absolute");
	expect_invalid(volume_name_twice, "volumes", "'data' is given twice");
	expect_invalid(volume_path_twice, "volumes",
		       "volume cache.v-1_x: '/var/lib/web' is also the path of volume data");
	expect_invalid(volumes_missing, "volumes", "2 volumes but no list");
#ifdef CONFIG_USERNS
	expect_invalid(userns_past_end, "userns", "goes past uid 4294967294");
#else
	expect_invalid(userns_past_end, "userns", "not built in (CONFIG_USERNS)");
#endif
}

/* ---------------------------------------------------------------- JSON */

static void round_trip(struct lp_container_cfg *c)
{
	struct lp_container_cfg back;
	struct lp_err err = { 0 };
	char *json;

	json = lp_container_cfg_to_json(c, &err);
	if (!json)
		fail_msg("to_json: %s", err.msg);
	if (lp_container_cfg_from_json(json, &back, &err) != 0)
		fail_msg("from_json: %s in %s", err.msg, json);
	assert_cfg_equal(c, &back);
	/* not serialised: where the entry came from */
	assert_null(back.source);
	assert_int_equal(back.source_line, 0);
	assert_null(strstr(json, "source"));
	/* compact: one line, no padding */
	assert_null(strchr(json, '\n'));
	assert_null(strstr(json, ": "));
	free(json);
	lp_container_cfg_free(&back);
}

static void test_json_round_trip_full(void **state)
{
	struct lp_container_cfg c;

	full_cfg(&c);
	round_trip(&c);
	lp_container_cfg_free(&c);
}

static void test_json_round_trip_minimal(void **state)
{
	struct lp_container_cfg c;

	minimal_cfg(&c);
	round_trip(&c);
	/* NULL env (never set) comes back as an empty list, not NULL */
	free(c.env);
	c.env = NULL;
	round_trip(&c);
	lp_container_cfg_free(&c);
}

static void test_json_round_trip_policies(void **state)
{
	static const enum lp_restart_policy policies[] = {
		LP_RESTART_NO, LP_RESTART_ON_FAILURE, LP_RESTART_ALWAYS,
	};
	struct lp_container_cfg c;
	size_t i;

	minimal_cfg(&c);
	for (i = 0; i < N(policies); i++) {
		c.restart.policy = policies[i];
		round_trip(&c);
	}
	c.net = LP_NET_HOST;
	round_trip(&c);
	c.net = LP_NET_NONE;
	c.isolation = LP_ISOLATION_VM;
	round_trip(&c);
	c.isolation = LP_ISOLATION_AUTO;
	round_trip(&c);
	lp_container_cfg_free(&c);
}

static void test_json_layout(void **state)
{
	struct lp_container_cfg c;
	struct lp_err err = { 0 };
	char *json;

	full_cfg(&c);
	json = lp_container_cfg_to_json(&c, &err);
	assert_non_null(json);
	assert_non_null(strstr(json, "\"name\":\"web-1.a_b\""));
	assert_non_null(strstr(json, "\"command\":[\"/bin/httpd\",\"-f\",\"-p\",\"80\","));
	assert_non_null(strstr(json, "\"net\":\"host\""));
	assert_non_null(strstr(json, "\"restart\":{\"policy\":\"on-failure\",\"max_retries\":3}"));
	assert_non_null(strstr(json, "{\"host\":\"/dev/null\",\"inner\":\"/dev/null\","
				     "\"perms\":\"rw\",\"type\":\"c\",\"major\":1,\"minor\":3}"));
	assert_non_null(strstr(json, "\"volumes\":[{\"name\":\"data\",\"path\":\"/var/lib/web\"},"
				     "{\"name\":\"cache.v-1_x\",\"path\":\"/cache\"}]"));
	free(json);
	lp_container_cfg_free(&c);
}

static void test_to_json_refuses_invalid(void **state)
{
	struct lp_container_cfg c;
	struct lp_err err = { 0 };

	minimal_cfg(&c);
	c.limits.memory = 1 << 20;
	assert_null(lp_container_cfg_to_json(&c, &err));
	assert_msg_has(&err, "memory: 1M is below the 4M minimum");
	c.limits.memory = 0;
	free(c.argv[0]);
	c.argv[0] = dup("/bin/\xff\xfe");
	assert_null(lp_container_cfg_to_json(&c, &err));
	assert_msg_has(&err, "command: argument 1 is not valid UTF-8 text");
	lp_container_cfg_free(&c);
}

#define BASE "\"name\":\"web\",\"rootfs\":\"/srv\",\"command\":[\"/bin/sh\"]"

static void expect_json_error(const char *json, const char *msg)
{
	struct lp_container_cfg c;
	struct lp_err err = { 0 };

	memset(&c, 0x5a, sizeof(c));
	if (lp_container_cfg_from_json(json, &c, &err) != -1)
		fail_msg("accepted: %s", json);
	assert_msg_has(&err, msg);
	/* a failed decode leaves nothing behind to free */
	assert_null(c.name);
	assert_null(c.argv);
	assert_null(c.devices);
	assert_int_equal(c.n_devices, 0);
	assert_null(c.volumes);
	assert_int_equal(c.n_volumes, 0);
	lp_container_cfg_free(&c);
}

static void test_json_bad_types(void **state)
{
	expect_json_error("{\"name\":5,\"rootfs\":\"/srv\",\"command\":[\"/bin/sh\"]}",
			  "name: expected a string, got an integer");
	expect_json_error("{" BASE ",\"env\":\"A=B\"}",
			  "env: expected an array of strings, got a string");
	expect_json_error("{\"name\":\"web\",\"rootfs\":\"/srv\",\"command\":[\"/bin/sh\",1]}",
			  "command[1]: expected a string, got an integer");
	expect_json_error("{" BASE ",\"hostname\":[]}",
			  "hostname: expected a string, got an array");
	expect_json_error("{" BASE ",\"uid\":1.5}", "uid: expected an integer, got a real number");
	expect_json_error("{" BASE ",\"uid\":-1}", "uid: -1 is out of range (0 to 4294967295)");
	expect_json_error("{" BASE ",\"gid\":4294967296}", "gid: 4294967296 is out of range");
	expect_json_error("{" BASE ",\"read_only\":1}",
			  "read_only: expected a boolean, got an integer");
	expect_json_error("{" BASE ",\"init\":null}", "init: expected a boolean, got null");
	expect_json_error("{" BASE ",\"net\":true}", "net: expected a string, got a boolean");
	expect_json_error("{" BASE ",\"net\":\"bridge\"}", "net: unknown value 'bridge'");
	expect_json_error("{" BASE ",\"limits\":[]}", "limits: expected an object, got an array");
	expect_json_error("{" BASE ",\"limits\":{\"memory\":\"64M\"}}",
			  "limits.memory: expected an integer, got a string");
	expect_json_error("{" BASE ",\"limits\":{\"cpu_weight\":4294967296}}",
			  "limits.cpu_weight: 4294967296 is out of range");
	expect_json_error("{" BASE ",\"restart\":{\"policy\":\"sometimes\"}}",
			  "restart.policy: unknown value 'sometimes'");
	expect_json_error("{" BASE ",\"restart\":{\"max_retries\":\"3\"}}",
			  "restart.max_retries: expected an integer, got a string");
	expect_json_error("{" BASE ",\"devices\":{}}",
			  "devices: expected an array of devices, got an object");
	expect_json_error("{" BASE ",\"devices\":[\"/dev/null\"]}",
			  "devices[0]: expected an object, got a string");
	expect_json_error("{" BASE ",\"devices\":[{\"major\":-1}]}",
			  "devices[0].major: -1 is out of range");
	expect_json_error("{" BASE ",\"devices\":[{\"type\":\"cb\"}]}",
			  "devices[0].type: 'cb' is not c or b");
	expect_json_error("{" BASE ",\"devices\":[{\"perms\":\"rwmm\"}]}",
			  "devices[0].perms: longer than 3 bytes");
	expect_json_error("{" BASE ",\"volumes\":{}}",
			  "volumes: expected an array of volumes, got an object");
	expect_json_error("{" BASE ",\"volumes\":[\"data:/d\"]}",
			  "volumes[0]: expected an object, got a string");
	expect_json_error("{" BASE ",\"volumes\":[{\"name\":\"a\",\"path\":\"/a\"},{\"name\":1}]}",
			  "volumes[1].name: expected a string, got an integer");
	expect_json_error("{" BASE ",\"userns_count\":false}",
			  "userns_count: expected an integer, got a boolean");
}

static void test_json_strict(void **state)
{
	expect_json_error("{" BASE ",\"memory\":1}", "memory: unknown field");
	expect_json_error("{" BASE ",\"limits\":{\"swap\":1}}", "limits.swap: unknown field");
	expect_json_error("{" BASE ",\"devices\":[{\"host\":\"/dev/null\",\"mode\":1}]}",
			  "devices[0].mode: unknown field");
	expect_json_error("{" BASE ",\"volumes\":[{\"name\":\"a\",\"path\":\"/a\",\"ro\":true}]}",
			  "volumes[0].ro: unknown field");
	expect_json_error("{" BASE ",\"name\":\"other\"}", "duplicate object key");
	expect_json_error("[]", "JSON: expected an object, got an array");
	expect_json_error("{" BASE, "JSON line 1");
	expect_json_error("", "JSON line");
	/* decoded entries are validated like any other */
	expect_json_error("{\"rootfs\":\"/srv\",\"command\":[\"/bin/sh\"]}", "name: missing");
	expect_json_error("{\"name\":null,\"rootfs\":\"/srv\",\"command\":[\"/bin/sh\"]}",
			  "name: missing");
	expect_json_error("{\"name\":\"web\",\"rootfs\":\"/srv\"}", "command: empty");
	expect_json_error("{\"name\":\"web\",\"rootfs\":\"/srv\",\"command\":[]}",
			  "command: empty");
	expect_json_error("{" BASE ",\"limits\":{\"memory\":1000}}",
			  "memory: 1000 is below the 4M minimum");
	expect_json_error("{" BASE ",\"devices\":[{\"host\":\"/dev/null\",\"inner\":\"/dev/null\","
			  "\"perms\":\"rw\",\"type\":\"p\",\"major\":1,\"minor\":3}]}",
			  "devices: /dev/null: the type must be c or b");
	expect_json_error("{" BASE ",\"volumes\":[{\"name\":\"a\"}]}",
			  "volumes: volume a: '' is not an absolute path");
	expect_json_error("{" BASE ",\"volumes\":[{\"name\":\"a\",\"path\":\"/a\"},"
			  "{\"name\":\"b\",\"path\":\"/a\"}]}",
			  "volumes: volume b: '/a' is also the path of volume a");
}

static void test_json_defaults(void **state)
{
	struct lp_container_cfg c;
	struct lp_err err = { 0 };

	assert_int_equal(lp_container_cfg_from_json("{" BASE "}", &c, &err), 0);
	assert_string_equal(c.name, "web");
	assert_string_equal(c.argv[0], "/bin/sh");
	assert_null(c.argv[1]);
	assert_non_null(c.env);
	assert_null(c.env[0]);
	assert_null(c.hostname);
	assert_null(c.cwd);
	assert_int_equal(c.net, LP_NET_NONE);
	assert_int_equal(c.restart.policy, LP_RESTART_NO);
	assert_int_equal(c.n_devices, 0);
	/* state files from before volumes have none */
	assert_int_equal(c.n_volumes, 0);
	assert_null(c.volumes);
	assert_int_equal(c.userns_count, 0);
	lp_container_cfg_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_name_invalid),
		cmocka_unit_test(test_validate_good),
		cmocka_unit_test(test_validate_errors),
		cmocka_unit_test(test_path_confined),
		cmocka_unit_test(test_json_round_trip_full),
		cmocka_unit_test(test_json_round_trip_minimal),
		cmocka_unit_test(test_json_round_trip_policies),
		cmocka_unit_test(test_json_layout),
		cmocka_unit_test(test_to_json_refuses_invalid),
		cmocka_unit_test(test_json_bad_types),
		cmocka_unit_test(test_json_strict),
		cmocka_unit_test(test_json_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
