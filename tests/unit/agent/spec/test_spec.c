// SPDX-License-Identifier: Apache-2.0
/* Container entries: names and validation (the JSON form: test_spec_json.c). */
#include "tests/unit/agent/spec/spec_fixtures.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_name_invalid),
		cmocka_unit_test(test_validate_good),
		cmocka_unit_test(test_validate_errors),
		cmocka_unit_test(test_path_confined),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
