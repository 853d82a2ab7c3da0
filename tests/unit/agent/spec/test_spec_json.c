// SPDX-License-Identifier: Apache-2.0
/* Container entries as JSON (spec_json.c): the round trip, its layout, strict decoding. */
#include "tests/unit/agent/spec/spec_fixtures.h"

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
