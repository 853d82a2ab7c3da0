// SPDX-License-Identifier: Apache-2.0
/* Value parsers: sizes, durations, CPUs, restart policies, devices, users. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/spec/parse.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void assert_msg_has(const struct lp_err *err, const char *want)
{
	if (!strstr(err->msg, want))
		fail_msg("expected \"%s\" in the message \"%s\"", want, err->msg);
}

struct int_case {
	const char *in;
	int64_t out;
};

struct bad_case {
	const char *in;
	const char *msg;
};

/* ---------------------------------------------------------------- sizes */

static void test_size_valid(void **state)
{
	static const struct int_case cases[] = {
		{ "0", 0 },
		{ "1", 1 },
		{ "1b", 1 },
		{ "1B", 1 },
		{ "1048576", 1048576 },
		{ "512k", 512 << 10 },
		{ "512K", 512 << 10 },
		{ "8KiB", 8 << 10 },
		{ "64m", 64 << 20 },
		{ "64M", 64 << 20 },
		{ "64MiB", 64 << 20 },
		{ "1g", 1 << 30 },
		{ "1G", 1 << 30 },
		{ "2GiB", (int64_t)2 << 30 },
		{ "1.5G", (int64_t)3 << 29 },
		{ "0.5K", 512 },
		{ "1.0", 1 },
		{ "0.25M", 256 << 10 },
		/* fractions past the byte are cut, not rounded */
		{ "1.3K", 1331 },
		{ "9223372036854775807", INT64_MAX },
		{ "8589934591G", (int64_t)((UINT64_C(1) << 63) - (UINT64_C(1) << 30)) },
	};
	struct lp_err err = { 0 };
	size_t i;

	for (i = 0; i < N(cases); i++) {
		int64_t bytes = -1;

		if (lp_parse_size(cases[i].in, &bytes, &err) != 0)
			fail_msg("'%s' rejected: %s", cases[i].in, err.msg);
		if (bytes != cases[i].out)
			fail_msg("'%s' gave %lld, want %lld", cases[i].in, (long long)bytes,
				 (long long)cases[i].out);
	}
}

static void test_size_invalid(void **state)
{
	static const struct bad_case cases[] = {
		{ "12X", "'12X' is not a size (e.g. 64M, 1G)" },
		{ "", "'' is not a size" },
		{ "M", "'M' is not a size" },
		{ "-1M", "'-1M' is negative" },
		{ "-0", "'-0' is negative" },
		{ "+1M", "is not a size" },
		{ " 1M", "is not a size" },
		{ "1M ", "is not a size" },
		{ "1 M", "is not a size" },
		{ "1.", "is not a size" },
		{ ".5G", "is not a size" },
		{ "1..5M", "is not a size" },
		{ "1.5.1M", "is not a size" },
		{ "0x10", "is not a size" },
		{ "1e3", "is not a size" },
		{ "1MB", "is not a size" },
		{ "1Mi", "is not a size" },
		{ "1kk", "is not a size" },
		{ "1T", "is not a size" },
		{ "1.5", "'1.5' is not a whole number of bytes" },
		{ "9223372036854775808", "'9223372036854775808' is too large" },
		{ "8589934592G", "is too large" },
		{ "99999999999999999999", "is too large" },
		{ "99999999999999999999999999K", "is too large" },
		{ "8589934592.5G", "is too large" },
	};
	struct lp_err err = { 0 };
	size_t i;

	for (i = 0; i < N(cases); i++) {
		int64_t bytes = 42;

		if (lp_parse_size(cases[i].in, &bytes, &err) != -1)
			fail_msg("'%s' accepted as %lld", cases[i].in, (long long)bytes);
		assert_msg_has(&err, cases[i].msg);
		assert_int_equal(bytes, 42);
	}
	assert_int_equal(lp_parse_size(NULL, &(int64_t){ 0 }, &err), -1);
}

static void test_size_error_codes(void **state)
{
	struct lp_err err = { 0 };
	int64_t bytes;

	assert_int_equal(lp_parse_size("12X", &bytes, &err), -1);
	assert_int_equal(err.code, EINVAL);
	assert_int_equal(lp_parse_size("99999999999999999999", &bytes, &err), -1);
	assert_int_equal(err.code, ERANGE);
	/* NULL err is allowed: the caller may only want a yes or no */
	assert_int_equal(lp_parse_size("12X", &bytes, NULL), -1);
}

/* ---------------------------------------------------------------- durations */

static void test_duration_valid(void **state)
{
	static const struct int_case cases[] = {
		{ "0", 0 },		{ "10", 10000 },	{ "10s", 10000 },
		{ "500ms", 500 },	{ "0ms", 0 },		{ "2m", 120000 },
		{ "1h", 3600000 },	{ "1.5s", 1500 },	{ "0.5", 500 },
		{ "1.5m", 90000 },	{ "0.001s", 1 },	{ "0.0001s", 0 },
	};
	struct lp_err err = { 0 };
	size_t i;

	for (i = 0; i < N(cases); i++) {
		int64_t ms = -1;

		if (lp_parse_duration(cases[i].in, &ms, &err) != 0)
			fail_msg("'%s' rejected: %s", cases[i].in, err.msg);
		if (ms != cases[i].out)
			fail_msg("'%s' gave %lld, want %lld", cases[i].in, (long long)ms,
				 (long long)cases[i].out);
	}
}

static void test_duration_invalid(void **state)
{
	static const struct bad_case cases[] = {
		{ "soon", "'soon' is not a duration (e.g. 10s, 500ms, 2m)" },
		{ "", "is not a duration" },
		{ "s", "is not a duration" },
		{ "10x", "is not a duration" },
		{ "10 s", "is not a duration" },
		{ "10S", "is not a duration" },
		{ "1d", "is not a duration" },
		{ "-1s", "'-1s' is negative" },
		{ "1.5ms", "'1.5ms' is not a whole number of milliseconds" },
		{ "9999999999999999999h", "is too large" },
		{ "9223372036854776s", "is too large" },
	};
	struct lp_err err = { 0 };
	size_t i;

	for (i = 0; i < N(cases); i++) {
		int64_t ms = 42;

		if (lp_parse_duration(cases[i].in, &ms, &err) != -1)
			fail_msg("'%s' accepted as %lld", cases[i].in, (long long)ms);
		assert_msg_has(&err, cases[i].msg);
	}
}

/* ---------------------------------------------------------------- CPUs */

static void test_cpus_valid(void **state)
{
	static const struct int_case cases[] = {
		{ "0.5", 50000 },	{ "1", 100000 },	{ "2", 200000 },
		{ "1.25", 125000 },	{ "0.01", 1000 },	{ "0.3", 30000 },
		{ "0.333333", 33333 },	{ "1024", 102400000 },	{ "1024.0", 102400000 },
		{ "01", 100000 },
	};
	struct lp_err err = { 0 };
	size_t i;

	for (i = 0; i < N(cases); i++) {
		struct lp_limits limits = { 0 };

		if (lp_parse_cpus(cases[i].in, &limits, &err) != 0)
			fail_msg("'%s' rejected: %s", cases[i].in, err.msg);
		if (limits.cpu_quota != cases[i].out)
			fail_msg("'%s' gave quota %lld, want %lld", cases[i].in,
				 (long long)limits.cpu_quota, (long long)cases[i].out);
		assert_int_equal(limits.cpu_period, 100000);
	}
}

static void test_cpus_invalid(void **state)
{
	static const struct bad_case cases[] = {
		{ "0", "'0' is out of range (0.01 to 1024 CPUs)" },
		{ "0.0", "out of range" },
		{ "0.001", "out of range" },
		{ "0.009", "out of range" },
		{ "1025", "out of range" },
		{ "1024.5", "out of range" },
		{ "99999999999999999999", "out of range" },
		{ "-1", "'-1' is not a number of CPUs (e.g. 0.5, 2)" },
		{ "", "is not a number of CPUs" },
		{ "half", "is not a number of CPUs" },
		{ "1,5", "is not a number of CPUs" },
		{ "2 ", "is not a number of CPUs" },
		{ "50%", "is not a number of CPUs" },
	};
	struct lp_err err = { 0 };
	size_t i;

	for (i = 0; i < N(cases); i++) {
		struct lp_limits limits = { 0 };

		if (lp_parse_cpus(cases[i].in, &limits, &err) != -1)
			fail_msg("'%s' accepted as %lld", cases[i].in, (long long)limits.cpu_quota);
		assert_msg_has(&err, cases[i].msg);
		assert_int_equal(limits.cpu_quota, 0);
		assert_int_equal(limits.cpu_period, 0);
	}
}

static void test_cpus_from_double(void **state)
{
	struct lp_limits limits = { 0 };
	struct lp_err err = { 0 };

	assert_int_equal(lp_cpus_to_limits(0.5, &limits, &err), 0);
	assert_int_equal(limits.cpu_quota, 50000);
	assert_int_equal(limits.cpu_period, 100000);
	/* 0.3 is not exact in binary: rounding, not truncation, gives 30000 */
	assert_int_equal(lp_cpus_to_limits(0.3, &limits, &err), 0);
	assert_int_equal(limits.cpu_quota, 30000);
	assert_int_equal(lp_cpus_to_limits(1024, &limits, &err), 0);
	assert_int_equal(limits.cpu_quota, 102400000);

	assert_int_equal(lp_cpus_to_limits(0, &limits, &err), -1);
	assert_msg_has(&err, "'0' is out of range");
	assert_int_equal(lp_cpus_to_limits(-0.5, &limits, &err), -1);
	assert_int_equal(lp_cpus_to_limits(0.001, &limits, &err), -1);
	assert_int_equal(lp_cpus_to_limits(1024.5, &limits, &err), -1);
	assert_int_equal(lp_cpus_to_limits(NAN, &limits, &err), -1);
	assert_int_equal(lp_cpus_to_limits(INFINITY, &limits, &err), -1);
	assert_int_equal(limits.cpu_quota, 102400000);
}

/* ---------------------------------------------------------------- restart, net */

static void test_restart_valid(void **state)
{
	static const struct {
		const char *in;
		enum lp_restart_policy policy;
		int retries;
	} cases[] = {
		{ "no", LP_RESTART_NO, 0 },
		{ "always", LP_RESTART_ALWAYS, 0 },
		{ "on-failure", LP_RESTART_ON_FAILURE, 0 },
		{ "on-failure:1", LP_RESTART_ON_FAILURE, 1 },
		{ "on-failure:3", LP_RESTART_ON_FAILURE, 3 },
		{ "on-failure:2147483647", LP_RESTART_ON_FAILURE, INT_MAX },
	};
	struct lp_err err = { 0 };
	size_t i;

	for (i = 0; i < N(cases); i++) {
		struct lp_restart r = { LP_RESTART_ALWAYS, 99 };

		if (lp_parse_restart(cases[i].in, &r, &err) != 0)
			fail_msg("'%s' rejected: %s", cases[i].in, err.msg);
		assert_int_equal(r.policy, cases[i].policy);
		assert_int_equal(r.max_retries, cases[i].retries);
	}
}

static void test_restart_invalid(void **state)
{
	static const struct bad_case cases[] = {
		{ "sometimes",
		  "'sometimes' is not a restart policy (no, always, on-failure, on-failure:N)" },
		{ "", "is not a restart policy" },
		{ "No", "is not a restart policy" },
		{ "always:3", "is not a restart policy" },
		{ "on-failure3", "is not a restart policy" },
		{ "on-failure:0", "'on-failure:0': the retry count must be 1 to 2147483647" },
		{ "on-failure:2147483648", "the retry count must be 1 to" },
		{ "on-failure:", "'on-failure:': '' is not a retry count" },
		{ "on-failure:-1", "is not a retry count" },
		{ "on-failure:x", "is not a retry count" },
		{ "on-failure:3x", "is not a retry count" },
	};
	struct lp_err err = { 0 };
	size_t i;

	for (i = 0; i < N(cases); i++) {
		struct lp_restart r = { LP_RESTART_NO, 0 };

		if (lp_parse_restart(cases[i].in, &r, &err) != -1)
			fail_msg("'%s' accepted", cases[i].in);
		assert_msg_has(&err, cases[i].msg);
	}
}

static void test_net(void **state)
{
	enum lp_net_mode net = LP_NET_HOST;
	struct lp_err err = { 0 };

	assert_int_equal(lp_parse_net("none", &net, &err), 0);
	assert_int_equal(net, LP_NET_NONE);
	assert_int_equal(lp_parse_net("host", &net, &err), 0);
	assert_int_equal(net, LP_NET_HOST);
	assert_int_equal(lp_parse_net("bridge", &net, &err), -1);
	assert_msg_has(&err, "'bridge' is not a network mode (none, host)");
	assert_int_equal(lp_parse_net("", &net, &err), -1);
	assert_int_equal(lp_parse_net("Host", &net, &err), -1);
	assert_int_equal(net, LP_NET_HOST);
}

/* ---------------------------------------------------------------- devices */

static void assert_device(const char *spec, const char *host, const char *inner,
			  const char *perms)
{
	struct lp_device dev;
	struct lp_err err = { 0 };

	if (lp_parse_device(spec, &dev, &err) != 0)
		fail_msg("'%s' rejected: %s", spec, err.msg);
	assert_string_equal(dev.host, host);
	assert_string_equal(dev.inner, inner);
	assert_string_equal(dev.perms, perms);
	assert_int_equal(dev.type, 'c');
	assert_int_equal(dev.major, 1);
	assert_int_equal(dev.minor, 3);
}

static void test_device_valid(void **state)
{
	assert_device("/dev/null", "/dev/null", "/dev/null", "rwm");
	assert_device("/dev/null:rw", "/dev/null", "/dev/null", "rw");
	assert_device("/dev/null:r", "/dev/null", "/dev/null", "r");
	assert_device("/dev/null:mwr", "/dev/null", "/dev/null", "mwr");
	assert_device("/dev/null:/dev/mynull", "/dev/null", "/dev/mynull", "rwm");
	assert_device("/dev/null:/dev/mynull:rwm", "/dev/null", "/dev/mynull", "rwm");
	assert_device("/dev/null:/dev/sub/mynull:w", "/dev/null", "/dev/sub/mynull", "w");
}

/* The host path may be a symlink (/dev/serial/by-id/...): stat() follows it. */
static void test_device_symlink(void **state)
{
	char dir[] = "/tmp/limpet-parse-XXXXXX";
	char link[sizeof(dir) + 16], spec[sizeof(link) + 8];

	assert_non_null(mkdtemp(dir));
	snprintf(link, sizeof(link), "%s/ttyfoo", dir);
	assert_int_equal(symlink("/dev/null", link), 0);
	snprintf(spec, sizeof(spec), "%s:rw", link);
	assert_device(spec, link, link, "rw");
	assert_int_equal(unlink(link), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_device_invalid(void **state)
{
	static const struct bad_case cases[] = {
		{ "/dev/limpet-no-such-device", "/dev/limpet-no-such-device: No such file" },
		{ "/tmp", "'/tmp' is not a device node" },
		{ "dev/null", "'dev/null': 'dev/null' is not an absolute path" },
		{ "", "is not an absolute path" },
		{ ":/dev/null", "is not an absolute path" },
		{ "/dev/null:rx", "/dev/null: 'rx' is not a set of permissions from rwm" },
		{ "/dev/null:rr", "'rr' is not a set of permissions" },
		{ "/dev/null:", "'' is not a set of permissions" },
		{ "/dev/null:/dev/x:", "'' is not a set of permissions" },
		{ "/dev/null:RW", "is not a set of permissions" },
		{ "/dev/null:rwmx", "is not a device (HOST[:INNER][:PERMS]" },
		{ "/dev/null:/dev/../etc/x", "the path inside, '/dev/../etc/x', must be absolute" },
		{ "/dev/null:/..:rw", "must be absolute without '..'" },
		{ "/dev/null:/dev/x:/dev/y", "is not a device (HOST[:INNER][:PERMS]" },
		{ "/dev/null::rw", "the path inside, '', must be absolute" },
		{ "/dev/null:dev/x:rw", "the path inside, 'dev/x', must be absolute" },
		{ "/dev/null:/dev/x:rw:m", "is not a device (HOST[:INNER][:PERMS]" },
	};
	struct lp_err err = { 0 };
	struct lp_device dev;
	size_t i;

	for (i = 0; i < N(cases); i++) {
		if (lp_parse_device(cases[i].in, &dev, &err) != -1)
			fail_msg("'%s' accepted", cases[i].in);
		assert_msg_has(&err, cases[i].msg);
	}
}

static void test_device_too_long(void **state)
{
	char spec[LP_DEV_PATH_MAX + 16];
	struct lp_err err = { 0 };
	struct lp_device dev;

	memset(spec, 'a', sizeof(spec) - 1);
	spec[0] = '/';
	spec[sizeof(spec) - 1] = '\0';
	assert_int_equal(lp_parse_device(spec, &dev, &err), -1);
	assert_msg_has(&err, "is not a device");
}

/* ---------------------------------------------------------------- users */

static void test_user(void **state)
{
	struct lp_err err = { 0 };
	uint32_t uid = 7, gid = 7;

	assert_int_equal(lp_parse_user("1000:100", &uid, &gid, &err), 0);
	assert_int_equal(uid, 1000);
	assert_int_equal(gid, 100);
	/* a bare uid is in the root group, as under Docker (/etc/passwd may say otherwise) */
	assert_int_equal(lp_parse_user("1000", &uid, &gid, &err), 0);
	assert_int_equal(uid, 1000);
	assert_int_equal(gid, 0);
	assert_int_equal(lp_parse_user("0", &uid, &gid, &err), 0);
	assert_int_equal(uid, 0);
	assert_int_equal(gid, 0);
	assert_int_equal(lp_parse_user("4294967294:4294967294", &uid, &gid, &err), 0);
	assert_int_equal(uid, 4294967294u);
}

/* Which -u values wait for the image's /etc/passwd and /etc/group. */
static void test_user_has_name(void **state)
{
	static const char *const names[] = { "alice", "alice:crew", "alice:1500", "4242:crew",
					     "0:wheel" };
	static const char *const numbers[] = { "1000", "1000:100", "", "1000:", ":1000",
					       "1000:1:2", ":", "1x", "1000:1x" };
	size_t i;

	(void)state;
	for (i = 0; i < N(names); i++)
		assert_true(lp_user_has_name(names[i]));
	for (i = 0; i < N(numbers); i++)
		assert_false(lp_user_has_name(numbers[i]));
}

static void test_user_invalid(void **state)
{
	static const struct bad_case cases[] = {
		{ "www", "'www' is not a user (numeric UID or UID:GID)" },
		{ "", "is not a user" },
		{ "1000:", "is not a user" },
		{ ":1000", "is not a user" },
		{ "-1", "is not a user" },
		{ "1000:1:2", "is not a user" },
		{ "1000 ", "is not a user" },
		{ "1000:www", "is not a user" },
		{ "4294967295", "'4294967295': ids go up to 4294967294" },
		{ "1000:4294967295", "ids go up to" },
		{ "99999999999999999999", "ids go up to" },
	};
	struct lp_err err = { 0 };
	size_t i;

	for (i = 0; i < N(cases); i++) {
		uint32_t uid = 7, gid = 7;

		if (lp_parse_user(cases[i].in, &uid, &gid, &err) != -1)
			fail_msg("'%s' accepted", cases[i].in);
		assert_msg_has(&err, cases[i].msg);
		assert_int_equal(uid, 7);
		assert_int_equal(gid, 7);
	}
}

static void test_userns(void **state)
{
	struct lp_err err = { 0 };
	uint32_t uid = 0, count = 0;

	assert_int_equal(lp_parse_userns("100000", &uid, &count, &err), 0);
	assert_int_equal(uid, 100000);
	assert_int_equal(count, 65536);
	assert_int_equal(lp_parse_userns("100000:1000", &uid, &count, &err), 0);
	assert_int_equal(count, 1000);
	assert_int_equal(lp_parse_userns("4294901759:65536", &uid, &count, &err), 0);
	assert_int_equal(uid, 4294901759u);

	assert_int_equal(lp_parse_userns("100000:0", &uid, &count, &err), -1);
	assert_msg_has(&err, "'100000:0': the count must be at least 1");
	assert_int_equal(lp_parse_userns("4294901760:65536", &uid, &count, &err), -1);
	assert_msg_has(&err, "the range goes past uid 4294967294");
	assert_int_equal(lp_parse_userns("4294967295", &uid, &count, &err), -1);
	assert_msg_has(&err, "the range goes past uid");
	assert_int_equal(lp_parse_userns("1:99999999999", &uid, &count, &err), -1);
	assert_msg_has(&err, "the range goes past uid");
	assert_int_equal(lp_parse_userns("root", &uid, &count, &err), -1);
	assert_msg_has(&err, "'root' is not a uid mapping (HOSTUID or HOSTUID:COUNT");
	assert_int_equal(lp_parse_userns("100000:", &uid, &count, &err), -1);
	assert_msg_has(&err, "is not a uid mapping");
	assert_int_equal(uid, 4294901759u);
	assert_int_equal(count, 65536);
}

/* ---------------------------------------------------------------- volumes */

static void test_volume_valid(void **state)
{
	struct lp_volume *vols = NULL;
	struct lp_err err = { 0 };
	size_t n = 0;

	assert_int_equal(lp_parse_volume("data:/var/lib/web", &vols, &n, &err), 0);
	/* only the first ':' splits: the path may hold more */
	assert_int_equal(lp_parse_volume("a.b-c_9:/srv/x:y", &vols, &n, &err), 0);
	/* only those very directories are refused, not names that start alike */
	assert_int_equal(lp_parse_volume("d:/device", &vols, &n, &err), 0);
	assert_int_equal(lp_parse_volume("p:/srv/proc", &vols, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_string_equal(vols[0].name, "data");
	assert_string_equal(vols[0].path, "/var/lib/web");
	assert_string_equal(vols[1].name, "a.b-c_9");
	assert_string_equal(vols[1].path, "/srv/x:y");
	lp_volumes_free(vols, n);
}

static void test_volume_invalid(void **state)
{
	static const struct bad_case cases[] = {
		{ "data", "'data' is not NAME:/PATH" },
		{ "data:", "'data:' is not NAME:/PATH" },
		{ ":/d", "':/d' is not NAME:/PATH" },
		{ "", "'' is not NAME:/PATH" },
		{ "data:relative", "volume data: 'relative' is not an absolute path" },
		{ "data:/", "volume data: '/' is not an absolute path" },
		{ "data:/a/../b", "volume data: '/a/../b' is not an absolute path without '.' or" },
		{ "data:/a/./b", "volume data: '/a/./b' is not" },
		{ "data:/dev/data", "volume data: '/dev/data' is under /dev, which every container" },
		{ "data:/proc", "volume data: '/proc' is under /proc" },
		{ "data://sys/x", "volume data: '//sys/x' is under /sys" },
		{ "../x:/d", "'../x' is a host path: limpet mounts only named volumes" },
		{ "/srv/data:/d", "'/srv/data' is a host path" },
		{ "x/y:/d", "'x/y' is not a volume name (1 to 64 letters" },
		{ "..:/d", "'..' is not a volume name" },
		{ ".:/d", "'.' is not a volume name" },
		{ "a b:/d", "'a b' is not a volume name" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:/d",
		  "is not a volume name" },
		/* against the one already there */
		{ "web:/other", "'web' is given twice" },
		{ "logs:/srv/web", "volume logs: '/srv/web' is also the path of volume web" },
	};
	struct lp_volume *vols = NULL;
	struct lp_err err = { 0 };
	size_t i, n = 0;

	assert_int_equal(lp_parse_volume("web:/srv/web", &vols, &n, &err), 0);
	for (i = 0; i < N(cases); i++) {
		memset(&err, 0, sizeof(err));
		if (lp_parse_volume(cases[i].in, &vols, &n, &err) != -1)
			fail_msg("accepted '%s'", cases[i].in);
		assert_msg_has(&err, cases[i].msg);
		/* nothing added */
		assert_int_equal(n, 1);
		assert_string_equal(vols[0].name, "web");
	}
	/* 64 characters is still a name */
	assert_int_equal(lp_parse_volume("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:/a",
					 &vols, &n, &err),
			 0);
	lp_volumes_free(vols, n);
	lp_volumes_free(NULL, 0);
}

/* ---------------------------------------------------------------- backoff */

static void test_restart_backoff(void **state)
{
	static const int64_t want[] = {
		100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000,
	};
	size_t i;

	for (i = 0; i < N(want); i++)
		assert_int_equal(lp_restart_delay_ms((int)i + 1), want[i]);
	assert_int_equal(lp_restart_delay_ms(64), 30000);
	assert_int_equal(lp_restart_delay_ms(INT_MAX), 30000);
	/* nonsense attempt numbers still give a sane first delay */
	assert_int_equal(lp_restart_delay_ms(0), 100);
	assert_int_equal(lp_restart_delay_ms(-3), 100);
	assert_int_equal(LP_RESTART_RESET_MS, 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_valid),
		cmocka_unit_test(test_size_invalid),
		cmocka_unit_test(test_size_error_codes),
		cmocka_unit_test(test_duration_valid),
		cmocka_unit_test(test_duration_invalid),
		cmocka_unit_test(test_cpus_valid),
		cmocka_unit_test(test_cpus_invalid),
		cmocka_unit_test(test_cpus_from_double),
		cmocka_unit_test(test_restart_valid),
		cmocka_unit_test(test_restart_invalid),
		cmocka_unit_test(test_net),
		cmocka_unit_test(test_device_valid),
		cmocka_unit_test(test_device_symlink),
		cmocka_unit_test(test_device_invalid),
		cmocka_unit_test(test_device_too_long),
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_user_has_name),
		cmocka_unit_test(test_user_invalid),
		cmocka_unit_test(test_userns),
		cmocka_unit_test(test_volume_valid),
		cmocka_unit_test(test_volume_invalid),
		cmocka_unit_test(test_restart_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
