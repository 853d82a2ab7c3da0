// SPDX-License-Identifier: Apache-2.0
/* Points in time as logs --since and --until take them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/spec/parse.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define SEC 1000000000LL
#define NOW (1800000000 * SEC)

struct time_case {
	const char *in;
	int64_t ns;
};

static void test_time_valid(void **state)
{
	static const struct time_case cases[] = {
		{ "1700000000", 1700000000 * SEC },
		{ "1700000000.5", 1700000000 * SEC + 500000000 },
		{ "1700000000.123456789123", 1700000000 * SEC + 123456789 },
		{ "0", 0 },
		{ "2023-11-14T22:13:20Z", 1700000000 * SEC },
		{ "2023-11-14t22:13:20z", 1700000000 * SEC },
		{ "2023-11-14T22:13:20", 1700000000 * SEC },	/* no zone: UTC */
		{ "2023-11-14T22:13:20.25Z", 1700000000 * SEC + 250000000 },
		{ "2023-11-14T23:13:20+01:00", 1700000000 * SEC },
		{ "2023-11-14T20:43:20-01:30", 1700000000 * SEC },
		{ "2023-11-14T22:13", 1700000000 * SEC - 20 * SEC },
		{ "2023-11-14", 1700000000 * SEC - (22 * 3600 + 13 * 60 + 20) * SEC },
		{ "2024-02-29T00:00:00Z", 1709164800 * SEC },
		{ "10m", NOW - 600 * SEC },
		{ "1h30m", NOW - 5400 * SEC },
		{ "45s", NOW - 45 * SEC },
		{ "1.5h", NOW - 5400 * SEC },
		{ "500ms", NOW - 500000000 },
		{ "2h0m3s", NOW - 7203 * SEC },
	};
	struct lp_err err;
	int64_t ns;
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		if (lp_parse_time_ns(cases[i].in, NOW, &ns, &err) < 0)
			fail_msg("'%s': %s", cases[i].in, err.msg);
		if (ns != cases[i].ns)
			fail_msg("'%s': got %lld, want %lld", cases[i].in, (long long)ns,
				 (long long)cases[i].ns);
	}
}

static void test_time_invalid(void **state)
{
	static const char *const bad[] = {
		"", "yesterday", "-10m", "10x", "1.h", ".5s", "2023-13-01", "2023-02-30",
		"2023-11-14T25:00:00Z", "2023-11-14T22:13:20+0100", "2023-11-14T22:13:20Zjunk",
		"2023-11-14 22", "1h 30m", "99999999999999999999", "1700000000.", "m",
	};
	struct lp_err err;
	int64_t ns;
	size_t i;

	(void)state;
	for (i = 0; i < N(bad); i++) {
		if (lp_parse_time_ns(bad[i], NOW, &ns, &err) == 0)
			fail_msg("'%s' was taken as %lld", bad[i], (long long)ns);
		if (!strstr(err.msg, bad[i]))
			fail_msg("'%s': the message does not name it: %s", bad[i], err.msg);
	}
	assert_int_equal(lp_parse_time_ns("99999999999999999999", NOW, &ns, &err), -1);
	assert_int_equal(err.code, ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_valid),
		cmocka_unit_test(test_time_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
