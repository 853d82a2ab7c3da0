// SPDX-License-Identifier: Apache-2.0
/*
 * Deployment documents: the rules a parsed document meets on the device
 * (applicability: version, expiry, targets), its RFC 3339 dates and its
 * device specs.  Apart from test_deploy_doc.c because these take a
 * document already parsed, and need no files of their own.
 */
#include <errno.h>
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
#include "agent/spec/parse.h"
#include "platform/lib/util.h"
#include "tests/unit/agent/deploy/deploy_fixtures.h"

#define T_2026 1767225600	/* 2026-01-01T00:00:00Z */

static void assert_msg_has(const struct lp_err *err, const char *want)
{
	if (!strstr(err->msg, want))
		fail_msg("expected \"%s\" in the message \"%s\"", want, err->msg);
}

/* ---------------------------------------------------------------- applicability */

static void example(struct lp_deployment *d)
{
	struct lp_err err = { 0 };
	size_t len = 0;
	char *text = read_example(&len);

	if (lp_deploy_parse(text, len, d, &err) < 0)
		fail_msg("%s", err.msg);
	free(text);
}

static void applicable(const struct lp_deployment *d, int64_t current, int64_t now,
		       const char *device, char *const *groups)
{
	struct lp_err err = { 0 };

	if (lp_deploy_check_applicable(d, current, now, device, groups, &err) < 0)
		fail_msg("refused: %s", err.msg);
}

static void not_applicable(const struct lp_deployment *d, int64_t current, int64_t now,
			   const char *device, char *const *groups, int code, const char *msg)
{
	struct lp_err err = { 0 };

	assert_int_equal(lp_deploy_check_applicable(d, current, now, device, groups, &err), -1);
	assert_string_equal(err.msg, msg);
	assert_int_equal(err.code, code);
}

static void test_applicable(void **state)
{
	char *kitchen[] = { "hall", "kitchen", NULL };
	char *elsewhere[] = { "garage", "hall", NULL };
	struct lp_deployment d;

	example(&d);
	/* by device, by group, and from nothing applied yet */
	applicable(&d, 41, T_2026, "pi-0042", NULL);
	applicable(&d, 0, T_2026, "pi-0042", elsewhere);
	applicable(&d, 1, T_2026, "pi-0001", kitchen);
	applicable(&d, 41, T_EXAMPLE_EXPIRES - 1, "pi-0001", kitchen);
	lp_deploy_free(&d);
}

static void test_not_applicable(void **state)
{
	char *elsewhere[] = { "garage", "hall", NULL };
	char *none[] = { NULL };
	struct lp_deployment d;

	example(&d);
	not_applicable(&d, 43, T_2026, "pi-0042", NULL, ESTALE,
		       "version 42 is not newer than the running 43 (rollback refused)");
	not_applicable(&d, 42, T_2026, "pi-0042", NULL, EALREADY,
		       "version 42 is not newer than the running 42 (already applied)");
	not_applicable(&d, 41, T_EXAMPLE_EXPIRES, "pi-0042", NULL, ETIME,
		       "expired at 2036-12-31T23:59:59Z");
	not_applicable(&d, 41, T_EXAMPLE_EXPIRES + 86400, "pi-0042", NULL, ETIME,
		       "expired at 2036-12-31T23:59:59Z");
	not_applicable(&d, 41, T_2026, "pi-0001", elsewhere, ENXIO,
		       "for devices [pi-0042] / groups [kitchen], not pi-0001 (groups garage, "
		       "hall)");
	not_applicable(&d, 41, T_2026, "pi-0001", NULL, ENXIO,
		       "for devices [pi-0042] / groups [kitchen], not pi-0001 (no groups)");
	not_applicable(&d, 41, T_2026, "pi-0001", none, ENXIO,
		       "for devices [pi-0042] / groups [kitchen], not pi-0001 (no groups)");
	/* group names are not device ids, and the other way round */
	not_applicable(&d, 41, T_2026, "kitchen", NULL, ENXIO,
		       "for devices [pi-0042] / groups [kitchen], not kitchen (no groups)");
	lp_deploy_free(&d);
}

static void test_not_applicable_long_lists(void **state)
{
	struct lp_err err = { 0 };
	struct lp_deployment d;
	char json[8192], id[16];
	size_t i, used;

	used = (size_t)snprintf(json, sizeof(json),
				"{\"version\": 2, \"expires\": \"2030-01-01T00:00:00Z\","
				" \"containers\": [], \"target\": {\"devices\": [");
	for (i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "pi-%04zu", i);
		used += (size_t)snprintf(json + used, sizeof(json) - used, "%s\"%s\"",
					 i ? ", " : "", id);
	}
	snprintf(json + used, sizeof(json) - used, "]}}");
	parse_ok(json, &d);
	assert_int_equal(lp_deploy_check_applicable(&d, 1, T_2026, "pi-9999", NULL, &err), -1);
	assert_msg_starts(&err, "for devices [pi-0000, pi-0001, ");
	assert_msg_has(&err, ", ...] / groups [], not pi-9999 (no groups)");
	applicable(&d, 1, T_2026, "pi-0199", NULL);
	lp_deploy_free(&d);
}

/* ---------------------------------------------------------------- RFC 3339 */

static void test_rfc3339_valid(void **state)
{
	static const struct {
		const char *s;
		int64_t t;
	} good[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "1969-12-31T23:59:59Z", -1 },
		{ "2036-12-31T23:59:59Z", T_EXAMPLE_EXPIRES },
		{ "2026-01-01T00:00:00Z", T_2026 },
		{ "2026-01-01t00:00:00z", T_2026 },
		{ "2026-01-01T01:00:00+01:00", T_2026 },
		{ "2025-12-31T19:00:00-05:00", T_2026 },
		{ "2026-01-01T05:30:00+05:30", T_2026 },
		{ "2026-01-01T00:00:00+00:00", T_2026 },
		{ "2026-01-01T00:00:00-00:00", T_2026 },
		{ "2026-01-01T00:00:00.999999Z", T_2026 },
		{ "2026-01-01T00:45:00.5+00:45", T_2026 },
		{ "2024-02-29T12:00:00Z", 1709208000 },
		{ "2000-02-29T00:00:00Z", 951782400 },
		{ "2016-12-31T23:59:60Z", 1483228800 },
	};
	struct lp_err err = { 0 };
	size_t i;

	for (i = 0; i < N(good); i++) {
		int64_t t = 12345;

		if (lp_rfc3339_parse(good[i].s, &t, &err) < 0)
			fail_msg("'%s' refused: %s", good[i].s, err.msg);
		if (t != good[i].t)
			fail_msg("'%s' gave %lld, not %lld", good[i].s, (long long)t,
				 (long long)good[i].t);
	}
}

static void test_rfc3339_invalid(void **state)
{
	static const struct {
		const char *s;
		const char *msg;
	} bad[] = {
		{ "", "is not an RFC 3339 date-time" },
		{ "2026-12-31", "is not an RFC 3339 date-time" },
		{ "2026-12-31T23:59:59", "it needs a zone" },
		{ "2026-12-31 23:59:59Z", "is not an RFC 3339 date-time" },
		{ "2026-1-31T23:59:59Z", "is not an RFC 3339 date-time" },
		{ "+026-12-31T23:59:59Z", "is not an RFC 3339 date-time" },
		{ " 2026-12-31T23:59:59Z", "is not an RFC 3339 date-time" },
		{ "2026-12-31T23:59:59ZZ", "it needs a zone" },
		{ "2026-12-31T23:59:59+0100", "it needs a zone" },
		{ "2026-12-31T23:59:59+01", "it needs a zone" },
		{ "2026-12-31T23:59:59+01:00x", "it needs a zone" },
		{ "2026-12-31T23:59:59.Z", "it needs a zone" },
		{ "2026-12-31T23:59:59,5Z", "it needs a zone" },
		{ "2026-12-31T23:59:59+24:00", "the offset +24:00 is out of range" },
		{ "2026-12-31T23:59:59-01:60", "the offset -01:60 is out of range" },
		{ "2026-13-01T00:00:00Z", "no such date" },
		{ "2026-00-10T00:00:00Z", "no such date" },
		{ "2026-01-00T00:00:00Z", "no such date" },
		{ "2026-04-31T00:00:00Z", "no such date" },
		{ "2026-02-29T00:00:00Z", "no such date" },
		{ "1900-02-29T00:00:00Z", "no such date" },
		{ "2026-01-32T00:00:00Z", "no such date" },
		{ "2026-01-01T24:00:00Z", "no such time of day" },
		{ "2026-01-01T23:60:00Z", "no such time of day" },
		{ "2026-01-01T23:59:61Z", "no such time of day" },
	};
	struct lp_err err = { 0 };
	size_t i;

	for (i = 0; i < N(bad); i++) {
		int64_t t = 12345;

		if (lp_rfc3339_parse(bad[i].s, &t, &err) == 0)
			fail_msg("'%s' accepted", bad[i].s);
		assert_int_equal(t, 12345);
		assert_msg_has(&err, bad[i].msg);
	}
}

static void test_rfc3339_format(void **state)
{
	char buf[LP_RFC3339_LEN];

	lp_rfc3339_format(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	lp_rfc3339_format(T_EXAMPLE_EXPIRES, buf);
	assert_string_equal(buf, "2036-12-31T23:59:59Z");
	lp_rfc3339_format(1709208000, buf);
	assert_string_equal(buf, "2024-02-29T12:00:00Z");
	/* the year has four digits, as lp_rfc3339_parse wants them back */
	lp_rfc3339_format(-52637040000, buf);
	assert_string_equal(buf, "0302-01-01T00:00:00Z");
	/* past year 9999 it no longer fits: the number, cut short but terminated */
	lp_rfc3339_format(INT64_MAX, buf);
	assert_int_equal(buf[0], '@');
	assert_int_equal(strlen(buf), LP_RFC3339_LEN - 1);
}

/* ---------------------------------------------------------------- devices */

static void test_device_syntax(void **state)
{
	struct lp_err err = { 0 };
	struct lp_device dev;

	/* the node need not exist where the document is checked */
	assert_int_equal(lp_parse_device_syntax("/dev/limpet-no-such:/dev/x:rw", &dev, &err), 0);
	assert_string_equal(dev.host, "/dev/limpet-no-such");
	assert_string_equal(dev.inner, "/dev/x");
	assert_string_equal(dev.perms, "rw");
	assert_int_equal(dev.type, 0);
	assert_int_equal(lp_parse_device_syntax("/dev/gpiochip0", &dev, &err), 0);
	assert_string_equal(dev.inner, "/dev/gpiochip0");
	assert_string_equal(dev.perms, "rwm");
	assert_int_equal(lp_parse_device_syntax("/dev/a:rwmr", &dev, &err), -1);
	assert_msg_has(&err, "is not a device (HOST[:INNER][:PERMS]");
	assert_int_equal(lp_parse_device_syntax("/dev/a:rr", &dev, &err), -1);
	assert_msg_has(&err, "/dev/a: 'rr' is not a set of permissions from rwm");
	assert_int_equal(lp_parse_device_syntax("/dev/a:rwx", &dev, &err), -1);
	assert_msg_has(&err, "/dev/a: 'rwx' is not a set of permissions from rwm");
	assert_int_equal(lp_parse_device_syntax("dev/a:/dev/a", &dev, &err), -1);
	assert_msg_has(&err, "'dev/a:/dev/a': 'dev/a' is not an absolute path");
	assert_int_equal(lp_parse_device_syntax("/dev/a:/dev/b:", &dev, &err), -1);
	assert_msg_has(&err, "/dev/a: '' is not a set of permissions from rwm");
	assert_int_equal(lp_parse_device_syntax(NULL, &dev, &err), -1);
	assert_msg_has(&err, "'' is not a device");
}

static void test_resolve_devices(void **state)
{
	struct lp_err err = { 0 };
	struct lp_deployment d;
	struct lp_deploy_container *c;

	example(&d);
	c = &d.containers[1];
	assert_int_equal(lp_deploy_resolve_devices(c, &err), -1);
	assert_msg_starts(&err, "devices[0]: /dev/gpiochip0: ");
	assert_int_equal(c->cfg.n_devices, 0);
	lp_strv_free(c->device_specs);
	c->device_specs = calloc(3, sizeof(*c->device_specs));
	assert_non_null(c->device_specs);
	c->device_specs[0] = strdup("/dev/null:rw");
	c->device_specs[1] = strdup("/dev/zero:/dev/gpiochip0");
	assert_non_null(c->device_specs[0]);
	assert_non_null(c->device_specs[1]);
	if (lp_deploy_resolve_devices(c, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(c->cfg.n_devices, 2);
	assert_int_equal(c->cfg.devices[0].type, 'c');
	assert_string_equal(c->cfg.devices[0].perms, "rw");
	assert_string_equal(c->cfg.devices[1].inner, "/dev/gpiochip0");
	if (lp_container_cfg_validate(&c->cfg, &err) < 0)
		fail_msg("%s", err.msg);
	/* resolving again replaces the list rather than adding to it */
	if (lp_deploy_resolve_devices(c, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(c->cfg.n_devices, 2);
	lp_deploy_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_applicable),
		cmocka_unit_test(test_not_applicable),
		cmocka_unit_test(test_not_applicable_long_lists),
		cmocka_unit_test(test_rfc3339_valid),
		cmocka_unit_test(test_rfc3339_invalid),
		cmocka_unit_test(test_rfc3339_format),
		cmocka_unit_test(test_device_syntax),
		cmocka_unit_test(test_resolve_devices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
