// SPDX-License-Identifier: Apache-2.0
/*
 * The microVM's spec, both ends: what the host writes
 * (lp_vm_guest_spec_json) and what the guest's init reads from it
 * (lp_guest_spec_load) -- the user's supplementary groups above all, which
 * its /dev nodes may need.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/container/vm_container.h"
#include "platform/lib/util.h"

/* The build has the guest side (platform/kvm/guest/guest_init.c) where agent/cli/main.c runs it. */
#if defined(CONFIG_KVM) && (defined(__x86_64__) || defined(__aarch64__))
#define HAVE_GUEST 1
#include "platform/kvm/guest/guest_init.h"
#endif

static char *argv_ids[] = { "/bin/id", "-G", NULL };
static char *env_alice[] = { "HOME=/home/alice", NULL };
static const gid_t alice_groups[] = { 44, 1234, 1500 };

static char spec_path[64];

static void assert_msg_has(const struct lp_err *err, const char *want)
{
	if (!strstr(err->msg, want))
		fail_msg("expected \"%s\" in the message \"%s\"", want, err->msg);
}

static struct lp_spec alice_spec(void)
{
	struct lp_spec spec = { 0 };

	spec.name = "c1";
	spec.argv = argv_ids;
	spec.envp = env_alice;
	spec.uid = 1234;
	spec.gid = 1234;
	spec.groups = alice_groups;
	spec.n_groups = 3;
	return spec;
}

static char *host_json(const struct lp_spec *spec)
{
	struct lp_err err = { 0 };
	char *json = lp_vm_guest_spec_json(spec, &err);

	if (!json)
		fail_msg("lp_vm_guest_spec_json: %s", err.msg);
	return json;
}

static void test_host_sends_groups(void **state)
{
	struct lp_spec spec = alice_spec();
	char *json;

	(void)state;
	json = host_json(&spec);
	if (!strstr(json, "\"groups\":[44,1234,1500]"))
		fail_msg("no groups in the guest spec: %s", json);
	free(json);
	spec.groups = NULL;
	spec.n_groups = 0;
	json = host_json(&spec);
	if (!strstr(json, "\"groups\":[]"))
		fail_msg("a user in no group: expected \"groups\":[] in %s", json);
	free(json);
}

/* json_string refuses what is not UTF-8: the entry must fail the start, not vanish. */
static void test_host_refuses_non_utf8(void **state)
{
	char *env[] = { "A=1", "LATIN1=caf\xe9", NULL };
	struct lp_spec spec = alice_spec();
	struct lp_err err = { 0 };

	(void)state;
	spec.envp = env;
	assert_null(lp_vm_guest_spec_json(&spec, &err));
	assert_msg_has(&err, "guest spec: env[1] is not valid UTF-8");
	spec.envp = env_alice;
	spec.cwd = "/caf\xe9";
	assert_null(lp_vm_guest_spec_json(&spec, &err));
	assert_msg_has(&err, "guest spec: Invalid UTF-8 string");
}

#ifdef HAVE_GUEST
static void put_spec(const char *json)
{
	struct lp_err err = { 0 };

	if (lp_write_file(spec_path, json, strlen(json), &err) < 0)
		fail_msg("%s", err.msg);
}

static void test_round_trip(void **state)
{
	struct lp_spec spec = alice_spec();
	struct lp_guest_spec g;
	struct lp_err err = { 0 };
	char *json = host_json(&spec);

	(void)state;
	put_spec(json);
	free(json);
	if (lp_guest_spec_load(&g, spec_path, &err) < 0)
		fail_msg("lp_guest_spec_load: %s", err.msg);
	assert_int_equal(g.uid, 1234);
	assert_int_equal(g.gid, 1234);
	assert_int_equal(g.n_groups, 3);
	assert_memory_equal(g.groups, alice_groups, sizeof(alice_groups));
	assert_string_equal(g.env[0], "HOME=/home/alice");
	assert_null(g.env[1]);
	assert_string_equal(g.argv[1], "-G");
	lp_guest_spec_free(&g);
}

/* The spec of a host from before groups were sent: none, as it meant. */
static void test_no_groups_key(void **state)
{
	struct lp_guest_spec g;
	struct lp_err err = { 0 };

	(void)state;
	put_spec("{\"argv\":[\"/bin/id\"],\"uid\":1000,\"gid\":1000}");
	assert_int_equal(lp_guest_spec_load(&g, spec_path, &err), 0);
	assert_int_equal(g.n_groups, 0);
	assert_int_equal(g.gid, 1000);
	lp_guest_spec_free(&g);
}

static void expect_refused(const char *groups, const char *want)
{
	char json[1024];
	struct lp_guest_spec g;
	struct lp_err err = { 0 };

	snprintf(json, sizeof(json), "{\"argv\":[\"/bin/id\"],\"groups\":%s}", groups);
	put_spec(json);
	if (lp_guest_spec_load(&g, spec_path, &err) == 0)
		fail_msg("groups %s were taken", groups);
	assert_msg_has(&err, spec_path);
	assert_msg_has(&err, want);
}

static void test_bad_groups_refused(void **state)
{
	char many[512] = "[";
	size_t i, n = 1;

	(void)state;
	for (i = 0; i <= LP_GROUPS_MAX; i++)
		n += snprintf(many + n, sizeof(many) - n, "%s%zu", i ? "," : "", 2000 + i);
	snprintf(many + n, sizeof(many) - n, "]");
	expect_refused(many, "\"groups\": 65 supplementary groups, at most 64");
	expect_refused("[44,\"20\"]", "\"groups\"[1] must be an integer from 0 to 4294967294");
	expect_refused("[-1]", "\"groups\"[0] must be an integer from 0 to 4294967294");
	expect_refused("[4294967295]", "\"groups\"[0] must be an integer from 0 to 4294967294");
	expect_refused("[4.5]", "\"groups\"[0] must be an integer");
	expect_refused("44", "\"groups\" must be an array of gids");
}
#endif

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(spec_path, sizeof(spec_path), "%s", "/tmp/limpet-guest-spec-XXXXXX");
	fd = mkstemp(spec_path);
	assert_true(fd >= 0);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(spec_path);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_sends_groups),
		cmocka_unit_test(test_host_refuses_non_utf8),
#ifdef HAVE_GUEST
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_no_groups_key),
		cmocka_unit_test(test_bad_groups_refused),
#endif
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
