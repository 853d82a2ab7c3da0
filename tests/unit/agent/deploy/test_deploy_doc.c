// SPDX-License-Identifier: Apache-2.0
/*
 * Deployment documents: parsing, and the refusals of bad documents with the
 * field they name.  Apart from test_deploy_check.c and test_deploy_load.c,
 * which take a parsed document further, because the schema is most of it.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/deploy/deploy_doc.h"
#include "agent/trust/trust.h"
#include "platform/lib/util.h"
#include "tests/unit/agent/deploy/deploy_fixtures.h"

#define EXAMPLE_WEB_SHA256 "5d41402abc4b2a76b9719d911017c592ae2cb0e1c8c26e7f0fd5a9ee5f0b1c3a"
#define EXAMPLE_SENSOR_SHA256 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

/* The document must be refused with a message starting with want. */
static void parse_refused(const char *text, const char *want)
{
	struct lp_err err = { 0 };
	struct lp_deployment d;

	if (lp_deploy_parse(text, strlen(text), &d, &err) == 0) {
		lp_deploy_free(&d);
		fail_msg("accepted, expected \"%s\":\n%s", want, text);
	}
	assert_msg_starts(&err, want);
	assert_empty(&d);
}

static void assert_sha256(const unsigned char *got, const char *want_hex)
{
	char hex[LP_SHA256_HEX_LEN + 1];

	lp_hex(got, LP_SHA256_LEN, hex);
	assert_string_equal(hex, want_hex);
}

static void assert_strv(char *const *v, const char *const *want, size_t n)
{
	size_t i;

	assert_non_null(v);
	for (i = 0; i < n; i++) {
		assert_non_null(v[i]);
		assert_string_equal(v[i], want[i]);
	}
	assert_null(v[n]);
}

/* ---------------------------------------------------------------- the example */

static void assert_example_web(const struct lp_deploy_container *c)
{
	static const char *const argv[] = { "/bin/httpd", "-f", "-p", "8080", "-h", "/srv/www" };
	static const char *const env[] = { "GREETING=hello", "LOG_LEVEL=info" };
	static const char *const probe[] = { "/bin/wget", "-q", "-O-",
					     "http://127.0.0.1:8080/health" };
	struct lp_err err = { 0 };

	assert_string_equal(c->cfg.name, "web");
	assert_string_equal(c->image_url, "images/web.tar");
	assert_sha256(c->image_sha256, EXAMPLE_WEB_SHA256);
	assert_int_equal(c->image_size, 12345678);
	assert_string_equal(c->cfg.image, "web:1.4");
	assert_null(c->cfg.rootfs);
	assert_strv(c->cfg.argv, argv, N(argv));
	assert_strv(c->cfg.env, env, N(env));
	assert_string_equal(c->cfg.user, "1000:1000");
	assert_int_equal(c->cfg.uid, 1000);
	assert_int_equal(c->cfg.gid, 1000);
	assert_string_equal(c->cfg.cwd, "/srv");
	assert_string_equal(c->cfg.hostname, "web");
	assert_int_equal(c->cfg.limits.memory, 64 << 20);
	assert_int_equal(c->cfg.limits.cpu_quota, 50000);
	assert_int_equal(c->cfg.limits.cpu_period, 100000);
	assert_int_equal(c->cfg.limits.cpu_weight, 100);
	assert_int_equal(c->cfg.limits.pids, 64);
	assert_int_equal(c->cfg.restart.policy, LP_RESTART_ON_FAILURE);
	assert_int_equal(c->cfg.restart.max_retries, 3);
	assert_strv(c->health.argv, probe, N(probe));
	assert_int_equal(c->health.interval_ms, 10000);
	assert_int_equal(c->health.timeout_ms, 5000);
	assert_int_equal(c->health.retries, 3);
	assert_int_equal(c->health.start_period_ms, 15000);
	assert_int_equal(c->cfg.isolation, LP_ISOLATION_CONTAINER);
	assert_int_equal(c->cfg.net, LP_NET_HOST);
	assert_int_equal(c->cfg.n_volumes, 1);
	assert_string_equal(c->cfg.volumes[0].name, "web-data");
	assert_string_equal(c->cfg.volumes[0].path, "/var/lib/web");
	assert_strv(c->device_specs, NULL, 0);
	assert_int_equal(c->cfg.n_devices, 0);
	assert_true(c->cfg.init);
	assert_true(c->cfg.read_only);
	if (lp_container_cfg_validate(&c->cfg, &err) < 0)
		fail_msg("%s", err.msg);
}

/* The second container leaves out everything it can: the defaults show. */
static void assert_example_sensor(const struct lp_deploy_container *c)
{
	static const char *const devices[] = { "/dev/gpiochip0:rw", "/dev/i2c-1:/dev/i2c-1:rw" };
	struct lp_err err = { 0 };

	assert_string_equal(c->cfg.name, "sensor");
	assert_string_equal(c->image_url, "https://fleet.example.com/images/sensor-2.0.tar");
	assert_sha256(c->image_sha256, EXAMPLE_SENSOR_SHA256);
	assert_int_equal(c->image_size, 4194304);
	assert_string_equal(c->cfg.image, "deploy/sensor:9f86d081884c");
	assert_null(c->cfg.argv);
	assert_strv(c->cfg.env, NULL, 0);
	assert_null(c->cfg.user);
	assert_int_equal(c->cfg.uid, 0);
	assert_null(c->cfg.cwd);
	assert_null(c->cfg.hostname);
	assert_int_equal(c->cfg.limits.memory, 32 << 20);
	assert_int_equal(c->cfg.limits.cpu_quota, 0);
	assert_int_equal(c->cfg.limits.cpu_weight, 0);
	assert_int_equal(c->cfg.limits.pids, 16);
	assert_int_equal(c->cfg.restart.policy, LP_RESTART_ALWAYS);
	assert_int_equal(c->cfg.restart.max_retries, 0);
	assert_null(c->health.argv);
	assert_int_equal(c->health.start_period_ms, LP_HEALTH_START_PERIOD_MS);
	assert_int_equal(c->health.interval_ms, LP_HEALTH_INTERVAL_MS);
	assert_int_equal(c->health.timeout_ms, LP_HEALTH_TIMEOUT_MS);
	assert_int_equal(c->health.retries, LP_HEALTH_RETRIES);
	assert_int_equal(c->cfg.isolation, LP_ISOLATION_CONTAINER);
	assert_int_equal(c->cfg.net, LP_NET_NONE);
	assert_int_equal(c->cfg.n_volumes, 0);
	assert_null(c->cfg.volumes);
	assert_strv(c->device_specs, devices, N(devices));
	/* devices are resolved on the device itself, not when parsing */
	assert_int_equal(c->cfg.n_devices, 0);
	assert_false(c->cfg.init);
	assert_false(c->cfg.read_only);
	if (lp_container_cfg_validate(&c->cfg, &err) < 0)
		fail_msg("%s", err.msg);
}

static void test_example_parses(void **state)
{
	static const char *const devices[] = { "pi-0042" };
	static const char *const groups[] = { "kitchen" };
	struct lp_err err = { 0 };
	struct lp_deployment d;
	size_t len = 0;
	char *text = read_example(&len);

	/* not NUL terminated: the length is what counts */
	text[len] = '}';
	if (lp_deploy_parse(text, len, &d, &err) < 0)
		fail_msg("%s: %s", EXAMPLE, err.msg);
	free(text);
	assert_int_equal(d.version, 42);
	assert_int_equal(d.expires, T_EXAMPLE_EXPIRES);
	assert_strv(d.target_devices, devices, N(devices));
	assert_strv(d.target_groups, groups, N(groups));
	assert_int_equal(d.n, 2);
	assert_example_web(&d.containers[0]);
	assert_example_sensor(&d.containers[1]);
	lp_deploy_free(&d);
	assert_empty(&d);
	lp_deploy_free(&d);
	lp_deploy_free(NULL);
}

static void test_minimal_document(void **state)
{
	struct lp_deployment d;

	/* no containers: the device is to run none; only groups targeted */
	parse_ok("{\"version\": 1, \"expires\": \"2030-01-01T00:00:00Z\","
		 " \"target\": {\"groups\": [\"all\"]}, \"containers\": []}",
		 &d);
	assert_int_equal(d.n, 0);
	assert_null(d.containers);
	assert_non_null(d.target_devices);
	assert_null(d.target_devices[0]);
	assert_string_equal(d.target_groups[0], "all");
	lp_deploy_free(&d);
}

static void test_other_values(void **state)
{
	struct lp_deployment d;
	struct lp_deploy_container *c;

	parse_ok("{\"version\": 9007199254740993, \"expires\": \"2030-01-01T01:00:00+01:00\","
		 " \"target\": {\"devices\": [\"b8:27:eb:00:00:01\"], \"groups\": []},"
		 " \"containers\": [{\"name\": \"a\", \"image\": {\"url\": \"./a.tar\","
		 " \"sha256\": \"" EXAMPLE_WEB_SHA256 "\", \"size\": 1},"
		 " \"user\": \"nobody\", \"limits\": {\"memory\": 67108864, \"cpus\": \"1.5\"},"
		 " \"health\": {\"command\": [\"/bin/true\"], \"interval\": \"2s\"},"
		 " \"isolation\": \"auto\", \"restart\": \"no\"},"
		 " {\"name\": \"b\", \"image\": {\"url\": \"b.tar\", \"sha256\": \""
		 EXAMPLE_WEB_SHA256 "\", \"size\": 2}, \"isolation\": \"vm\","
		 " \"health\": {\"start_period\": \"1m\"}}]}",
		 &d);
	assert_int_equal(d.version, 9007199254740993LL);
	assert_int_equal(d.expires, 1893456000);
	c = &d.containers[0];
	/* a name is kept for the image's /etc/passwd to resolve when it starts */
	assert_string_equal(c->cfg.user, "nobody");
	assert_int_equal(c->cfg.uid, 0);
	assert_int_equal(c->cfg.limits.memory, 64 << 20);
	assert_int_equal(c->cfg.limits.cpu_quota, 150000);
	assert_int_equal(c->cfg.isolation, LP_ISOLATION_AUTO);
	assert_int_equal(c->cfg.restart.policy, LP_RESTART_NO);
	/* the default timeout (5s) shrinks to a shorter interval */
	assert_int_equal(c->health.interval_ms, 2000);
	assert_int_equal(c->health.timeout_ms, 2000);
	assert_string_equal(c->cfg.image, "deploy/a:5d41402abc4b");
	c = &d.containers[1];
	assert_int_equal(c->cfg.isolation, LP_ISOLATION_VM);
	assert_null(c->health.argv);
	assert_int_equal(c->health.start_period_ms, 60000);
	lp_deploy_free(&d);
}

/* ---------------------------------------------------------------- bad documents */

/* The example, as a JSON tree to break one thing in. */
static json_t *example_tree(void)
{
	json_error_t jerr;
	json_t *root = json_load_file(EXAMPLE, 0, &jerr);

	if (!root)
		fail_msg("%s: %s", EXAMPLE, jerr.text);
	return root;
}

/* "containers.1.limits": the object or array the last part of path lives in. */
static json_t *walk(json_t *root, char *path, char **last)
{
	char *dot;

	while ((dot = strchr(path, '.'))) {
		*dot = '\0';
		root = json_is_array(root) ? json_array_get(root, strtoul(path, NULL, 10))
					   : json_object_get(root, path);
		assert_non_null(root);
		path = dot + 1;
	}
	*last = path;
	return root;
}

/* Set path to the JSON text value, or remove it when value is NULL. */
static void mutate(json_t *root, const char *path, const char *value)
{
	char buf[256], *last;
	json_t *parent, *v = NULL;
	json_error_t jerr;

	snprintf(buf, sizeof(buf), "%s", path);
	parent = walk(root, buf, &last);
	if (value) {
		v = json_loads(value, JSON_DECODE_ANY, &jerr);
		if (!v)
			fail_msg("%s: %s", value, jerr.text);
	}
	if (json_is_array(parent) && v)
		assert_int_equal(json_array_set_new(parent, strtoul(last, NULL, 10), v), 0);
	else if (json_is_array(parent))
		assert_int_equal(json_array_remove(parent, strtoul(last, NULL, 10)), 0);
	else if (v)
		assert_int_equal(json_object_set_new(parent, last, v), 0);
	else
		assert_int_equal(json_object_del(parent, last), 0);
}

struct breakage {
	const char *path;
	const char *value;	/* JSON; NULL removes the field */
	const char *msg;	/* how the message must start */
};

static void expect_refusals(const struct breakage *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *root = example_tree();
		char *text;

		mutate(root, cases[i].path, cases[i].value);
		text = json_dumps(root, 0);
		assert_non_null(text);
		json_decref(root);
		parse_refused(text, cases[i].msg);
		free(text);
	}
}

#define UPPER_SHA256 "5D41402ABC4B2A76B9719D911017C592AE2CB0E1C8C26E7F0FD5A9EE5F0B1C3A"

static void test_bad_fields(void **state)
{
	static const struct breakage cases[] = {
		{ "version", "\"42\"", "version: expected an integer, got a string" },
		{ "version", "0", "version: 0 is out of range (1 to " },
		{ "version", "42.0", "version: expected an integer, got a real number" },
		{ "expires", "\"2026-12-31\"",
		  "expires: '2026-12-31' is not an RFC 3339 date-time" },
		{ "expires", "\"2026-02-29T00:00:00Z\"",
		  "expires: '2026-02-29T00:00:00Z': no such date" },
		{ "expires", "1798761599", "expires: expected a string, got an integer" },
		{ "target", "{}", "target: names no devices and no groups" },
		{ "target", "{\"devices\": [], \"groups\": []}",
		  "target: names no devices and no groups" },
		{ "target", "[\"pi-0042\"]", "target: expected an object, got an array" },
		{ "target.devices", "[\"pi 42\"]", "target.devices[0]: 'pi 42' is not an id" },
		{ "target.groups", "\"kitchen\"",
		  "target.groups: expected an array of strings, got a string" },
		{ "target.groups", "[\"kitchen\", 7]",
		  "target.groups[1]: expected a string, got an integer" },
		{ "containers", "{}",
		  "containers: expected an array of containers, got an object" },
		{ "containers.0", "\"web\"", "containers[0]: expected an object, got a string" },
		{ "containers.0.name", "\"-web\"",
		  "containers[0].name: '-web' is not a valid name" },
		{ "containers.0.name", "null", "containers[0].name: expected a string, got null" },
		{ "containers.0.image", "\"web:1.4\"",
		  "containers[0].image: expected an object, got a string" },
		{ "containers.0.image.url", "\"http://fleet.example.com/web.tar\"",
		  "containers[0].image.url: 'http://fleet.example.com/web.tar': only https:// URLs "
		  "are allowed, not http:" },
		{ "containers.0.image.url", "\"images/../../etc/passwd\"",
		  "containers[0].image.url: 'images/../../etc/passwd' has a '..' segment" },
		{ "containers.0.image.url", "\"/images/web.tar\"",
		  "containers[0].image.url: '/images/web.tar' starts with '/'" },
		{ "containers.0.image.url", "\"\"", "containers[0].image.url: empty" },
		{ "containers.0.image.sha256", "\"5d41402abc\"",
		  "containers[0].image.sha256: '5d41402abc' is not 64 lowercase hex digits" },
		{ "containers.0.image.sha256", "\"" UPPER_SHA256 "\"",
		  "containers[0].image.sha256: '" UPPER_SHA256 "' is not 64 lowercase hex" },
		{ "containers.0.image.sha256", "\"sha256:" EXAMPLE_WEB_SHA256 "\"",
		  "containers[0].image.sha256: 'sha256:" },
		{ "containers.0.image.size", "0", "containers[0].image.size: 0 is out of range" },
		{ "containers.0.image.size", "\"12M\"",
		  "containers[0].image.size: expected an integer, got a string" },
		{ "containers.0.image.name", "\"web 1.4\"",
		  "containers[0].image.name: image name 'web 1.4': ' ' is not allowed" },
		{ "containers.1.limits.memory", "\"64Q\"",
		  "containers[1].limits.memory: '64Q' is not a size (e.g. 64M, 1G)" },
		{ "containers.0.limits.memory", "\"1M\"",
		  "containers[0].limits.memory: 1M is below the 4M minimum" },
		{ "containers.0.limits.memory", "-1",
		  "containers[0].limits.memory: -1 is negative" },
		{ "containers.0.limits.memory", "true",
		  "containers[0].limits.memory: expected a size (\"64M\") or a number of bytes" },
		{ "containers.0.limits.cpus", "0",
		  "containers[0].limits.cpus: '0' is out of range" },
		{ "containers.0.limits.cpus", "2000",
		  "containers[0].limits.cpus: '2000' is out of range" },
		{ "containers.0.limits.cpus", "\"half\"",
		  "containers[0].limits.cpus: 'half' is not a number of CPUs" },
		{ "containers.0.limits.cpus", "[1]",
		  "containers[0].limits.cpus: expected a number of CPUs" },
		{ "containers.0.limits.cpu_weight", "0",
		  "containers[0].limits.cpu_weight: 0 is out of range (1 to 10000)" },
		{ "containers.0.limits.cpu_weight", "10001",
		  "containers[0].limits.cpu_weight: 10001 is out of range (1 to 10000)" },
		{ "containers.0.limits.pids", "0", "containers[0].limits.pids: 0 is out of range" },
		{ "containers.0.limits.pids", "\"64\"",
		  "containers[0].limits.pids: expected an integer, got a string" },
		{ "containers.0.restart", "\"sometimes\"",
		  "containers[0].restart: 'sometimes' is not a restart policy" },
		{ "containers.0.restart", "\"on-failure:0\"",
		  "containers[0].restart: 'on-failure:0': the retry count must be 1 to" },
		{ "containers.0.command", "[]",
		  "containers[0].command: empty (leave it out for the default)" },
		{ "containers.0.command", "[\"/bin/httpd\", 8080]",
		  "containers[0].command[1]: expected a string, got an integer" },
		{ "containers.0.command", "\"/bin/httpd -f\"",
		  "containers[0].command: expected an array of strings, got a string" },
		{ "containers.0.command", "[\"\"]",
		  "containers[0].command: the program name is empty" },
		{ "containers.0.env", "[\"NOEQUALS\"]",
		  "containers[0].env: 'NOEQUALS' is not NAME=VALUE" },
		{ "containers.0.user", "\"1000:1x\"", "containers[0].user: '1000:1x' is not a user" },
		{ "containers.0.user", "\"\"", "containers[0].user: empty" },
		{ "containers.0.user", "1000",
		  "containers[0].user: expected a string, got an integer" },
		{ "containers.0.workdir", "\"srv\"",
		  "containers[0].workdir: 'srv' is not an absolute path" },
		{ "containers.0.hostname", "\"web_1\"",
		  "containers[0].hostname: 'web_1' is not a valid hostname" },
		{ "containers.0.health", "[]",
		  "containers[0].health: expected an object, got an array" },
		{ "containers.0.health.interval", "\"10q\"",
		  "containers[0].health.interval: '10q' is not a duration" },
		{ "containers.0.health.interval", "\"0s\"",
		  "containers[0].health.interval: '0s' is out of range (1s to 86400s)" },
		{ "containers.0.health.interval", "10",
		  "containers[0].health.interval: expected a duration string (e.g. \"10s\")" },
		{ "containers.0.health.timeout", "\"20s\"",
		  "containers[0].health.timeout: 20s is longer than the interval (10s)" },
		{ "containers.0.health.timeout", "\"25h\"",
		  "containers[0].health.timeout: '25h' is out of range (10ms to 86400s)" },
		{ "containers.0.health.retries", "0",
		  "containers[0].health.retries: 0 is out of range (1 to 100)" },
		{ "containers.0.health.command", "[]", "containers[0].health.command: empty" },
		{ "containers.0.health.command", NULL,
		  "containers[0].health.interval: only goes with a command to probe with" },
		{ "containers.0.health.start_period", "\"-1s\"",
		  "containers[0].health.start_period: '-1s' is negative" },
		{ "containers.0.isolation", "\"kvm\"",
		  "containers[0].isolation: 'kvm' is not an isolation (container, vm, auto)" },
		{ "containers.0.isolation", "\"vm\"", 
		  "containers[0].isolation: vm: a microVM has no network yet (only network mode none)" },
		{ "containers.0.network", "\"bridge\"",
		  "containers[0].network: 'bridge' is not a network mode (none, host)" },
		{ "containers.0.volumes", "{}",
		  "containers[0].volumes: expected an array of volumes, got an object" },
		{ "containers.0.volumes.0.name", "\"..\"",
		  "containers[0].volumes[0].name: '..' is not a volume name" },
		{ "containers.0.volumes.0.name", "\"a/b\"",
		  "containers[0].volumes[0].name: 'a/b' is not a volume name" },
		{ "containers.0.volumes.0.name", "\"\"",
		  "containers[0].volumes[0].name: '' is not a volume name" },
		{ "containers.0.volumes.0.path", "\"var/lib/web\"",
		  "containers[0].volumes[0].path: 'var/lib/web' is not an absolute path" },
		{ "containers.0.volumes.0.path", "\"/\"",
		  "containers[0].volumes[0].path: '/' is not an absolute path without '.' or '..' "
		  "components (and not /)" },
		{ "containers.0.volumes.0.path", "\"/.\"",
		  "containers[0].volumes[0].path: '/.' is not an absolute path" },
		{ "containers.0.volumes.0.path", "7",
		  "containers[0].volumes[0].path: expected a string, got an integer" },
		{ "containers.0.volumes.0.path", "\"/var/../etc\"",
		  "containers[0].volumes[0].path: '/var/../etc' is not an absolute path" },
		{ "containers.0.volumes.0.path", NULL,
		  "containers[0].volumes[0].path: missing (where the container sees it)" },
		{ "containers.0.volumes",
		  "[{\"name\": \"a\", \"path\": \"/x\"}, {\"name\": \"a\", \"path\": \"/y\"}]",
		  "containers[0].volumes[1].name: 'a' is given twice" },
		{ "containers.0.volumes",
		  "[{\"name\": \"a\", \"path\": \"/x\"}, {\"name\": \"b\", \"path\": \"/x\"}]",
		  "containers[0].volumes[1].path: '/x' is also the path of volume a" },
		{ "containers.1.devices.0", "\"gpiochip0\"",
		  "containers[1].devices[0]: 'gpiochip0': 'gpiochip0' is not an absolute path" },
		{ "containers.1.devices.1", "\"/dev/i2c-1:rwx\"",
		  "containers[1].devices[1]: /dev/i2c-1: 'rwx' is not a set of permissions" },
		{ "containers.1.devices.0", "\"/dev/gpiochip0:/dev/../etc/shadow\"",
		  "containers[1].devices[0]: /dev/gpiochip0: the path inside" },
		{ "containers.1.devices.0", "\"/dev/a:/dev/b:rw:m\"",
		  "containers[1].devices[0]: '/dev/a:/dev/b:rw:m' is not a device" },
		{ "containers.0.init", "\"yes\"",
		  "containers[0].init: expected true or false, got a string" },
		{ "containers.0.read_only", "1",
		  "containers[0].read_only: expected true or false, got an integer" },
	};

	expect_refusals(cases, N(cases));
}

static void test_missing_fields(void **state)
{
	static const struct breakage cases[] = {
		{ "version", NULL, "version: missing (" },
		{ "expires", NULL, "expires: missing (" },
		{ "target", NULL, "target: missing (" },
		{ "containers", NULL, "containers: missing (" },
		{ "containers.1.name", NULL,
		  "containers[1].name: missing (every container needs a name)" },
		{ "containers.1.image", NULL, "containers[1].image: missing (what to run)" },
		{ "containers.0.image.url", NULL, "containers[0].image.url: missing (" },
		{ "containers.0.image.sha256", NULL,
		  "containers[0].image.sha256: missing (every image is pinned by its digest)" },
		{ "containers.1.image.size", NULL,
		  "containers[1].image.size: missing (every image is pinned by its size in "
		  "bytes)" },
		{ "containers.0.volumes.0.name", NULL, "containers[0].volumes[0].name: missing (" },
	};

	expect_refusals(cases, N(cases));
}

static void test_unknown_fields(void **state)
{
	static const struct breakage cases[] = {
		{ "versoin", "42", "versoin: unknown field" },
		{ "target.hosts", "[\"pi\"]", "target.hosts: unknown field" },
		/* a config-file spelling at the wrong level */
		{ "containers.0.memory", "\"64M\"", "containers[0].memory: unknown field" },
		{ "containers.0.userns", "\"100000\"", "containers[0].userns: unknown field" },
		{ "containers.0.rootfs", "\"/srv\"", "containers[0].rootfs: unknown field" },
		{ "containers.1.image.digest", "\"x\"",
		  "containers[1].image.digest: unknown field" },
		{ "containers.0.limits.swap", "\"1G\"",
		  "containers[0].limits.swap: unknown field" },
		{ "containers.0.health.test", "[]", "containers[0].health.test: unknown field" },
		{ "containers.0.volumes.0.mode", "\"ro\"",
		  "containers[0].volumes[0].mode: unknown field" },
		/* a typo is reported as itself, not as the field it was meant to be */
		{ "containers.0.image.sha265", "\"x\"",
		  "containers[0].image.sha265: unknown field" },
	};

	expect_refusals(cases, N(cases));
}

static void test_duplicate_names(void **state)
{
	static const struct breakage cases[] = {
		{ "containers.1.name", "\"web\"",
		  "containers[1].name: duplicate name 'web' (also containers[0])" },
	};

	expect_refusals(cases, N(cases));
}

static void test_not_json(void **state)
{
	parse_refused("", "JSON line ");
	parse_refused("{\"version\": 1,}", "JSON line 1 column");
	parse_refused("{\"version\": 1, \"version\": 2}", "JSON line 1");
	parse_refused("[]", "deployment: expected an object, got an array");
	parse_refused("{\"version\": 99999999999999999999}", "JSON line 1");
	parse_refused("{\"version\": 1} trailing", "JSON line 1");
}

/* ---------------------------------------------------------------- registry images */

#define REF_DIGEST "sha256:" EXAMPLE_SENSOR_SHA256
#define REF_APP "registry.example.com:5000/app"

/* A document of one container "a" whose image is the JSON object image. */
static void parse_image(const char *image, struct lp_deployment *d)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "{\"version\": 1, \"expires\": \"2030-01-01T00:00:00Z\","
		 " \"target\": {\"groups\": [\"all\"]},"
		 " \"containers\": [{\"name\": \"a\", \"image\": %s}]}",
		 image);
	parse_ok(text, d);
}

static void test_registry_image(void **state)
{
	struct lp_deployment d;
	struct lp_deploy_container *c;

	/* the tag beside the digest is kept as written; the digest names the image */
	parse_image("{\"ref\": \"" REF_APP ":1.4@" REF_DIGEST "\"}", &d);
	c = &d.containers[0];
	assert_string_equal(c->image_ref, REF_APP ":1.4@" REF_DIGEST);
	assert_null(c->image_url);
	assert_int_equal(c->image_size, 0);
	assert_sha256(c->image_sha256, EXAMPLE_SENSOR_SHA256);
	assert_string_equal(c->cfg.image, "deploy/a:9f86d081884c");
	lp_deploy_free(&d);

	/* a short name, as docker pull takes it; and a name of its own */
	parse_image("{\"ref\": \"alpine@" REF_DIGEST "\", \"name\": \"alpine:pinned\"}", &d);
	c = &d.containers[0];
	assert_string_equal(c->image_ref, "alpine@" REF_DIGEST);
	assert_string_equal(c->cfg.image, "alpine:pinned");
	lp_deploy_free(&d);
}

static void test_registry_image_refused(void **state)
{
	static const struct breakage cases[] = {
		/* both forms, or neither */
		{ "containers.0.image.ref", "\"" REF_APP "@" REF_DIGEST "\"",
		  "containers[0].image: give either url, sha256 and size, or ref" },
		{ "containers.0.image", "{\"ref\": \"" REF_APP "@" REF_DIGEST "\", \"size\": 1}",
		  "containers[0].image: give either url, sha256 and size, or ref" },
		{ "containers.0.image", "{\"name\": \"web:1.4\"}",
		  "containers[0].image: give either url, sha256 and size, or ref" },
		{ "containers.0.image", "{}",
		  "containers[0].image: give either url, sha256 and size, or ref" },
		/* a tag alone could be moved under the signed document */
		{ "containers.0.image", "{\"ref\": \"" REF_APP ":1.4\"}",
		  "containers[0].image.ref: must be pinned by digest (" REF_APP ":1.4@sha256:...)" },
		{ "containers.0.image", "{\"ref\": \"" REF_APP "\"}",
		  "containers[0].image.ref: must be pinned by digest (" REF_APP "@sha256:...)" },
		{ "containers.0.image", "{\"ref\": \"" REF_APP "@sha256:5d41402abc\"}",
		  "containers[0].image.ref: " REF_APP "@sha256:5d41402abc: a sha256 digest is 64 "
		  "lowercase hex digits" },
		{ "containers.0.image", "{\"ref\": \"" REF_APP "@sha512:" EXAMPLE_WEB_SHA256 "\"}",
		  "containers[0].image.ref: " REF_APP "@sha512:" },
		{ "containers.0.image", "{\"ref\": \"" REF_APP "@" UPPER_SHA256 "\"}",
		  "containers[0].image.ref: " REF_APP "@" UPPER_SHA256 ": the digest after '@' "
		  "is not sha256:<64 hex digits>" },
		/* not a reference at all */
		{ "containers.0.image", "{\"ref\": \"Registry.example.com/App@" REF_DIGEST "\"}",
		  "containers[0].image.ref: Registry.example.com/App@" },
		{ "containers.0.image", "{\"ref\": \"https://registry.example.com/app@" REF_DIGEST
		  "\"}",
		  "containers[0].image.ref: https://registry.example.com/app@" },
		{ "containers.0.image", "{\"ref\": \"\"}", "containers[0].image.ref: empty" },
		{ "containers.0.image", "{\"ref\": 7}",
		  "containers[0].image.ref: expected a string, got an integer" },
		{ "containers.0.image", "{\"ref\": \"" REF_APP "@" REF_DIGEST "\", \"url\": null}",
		  "containers[0].image: give either url, sha256 and size, or ref" },
		{ "containers.0.image", "{\"ref\": \"" REF_APP "@" REF_DIGEST "\", \"digest\": 1}",
		  "containers[0].image.digest: unknown field" },
	};

	expect_refusals(cases, N(cases));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_parses),
		cmocka_unit_test(test_minimal_document),
		cmocka_unit_test(test_other_values),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_registry_image),
		cmocka_unit_test(test_registry_image_refused),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_duplicate_names),
		cmocka_unit_test(test_not_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
