// SPDX-License-Identifier: Apache-2.0
/* What a cgroup has used (limpet stats), read from a fake cgroupfs, v1 and v2. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "platform/cgroup.h"
#include "cgroup_fixtures.h"

static void test_v2_stats(void **state)
{
	const struct fake_root *r = *state;
	struct lp_cgroup_stats st;
	struct lp_err err = { 0 };

	put(r, "limpet/c1/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n");
	put(r, "limpet/c1/memory.current", "4194304\n");
	put(r, "limpet/c1/memory.max", "33554432\n");
	put(r, "limpet/c1/pids.current", "3\n");
	put(r, "limpet/c1/io.stat",
	    "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"
	    "179:0 rbytes=100 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
	expect_ok(lp_cgroup_stats("/limpet/c1", &st, &err), &err);
	assert_int_equal(st.cpu_usage_us, 1500000);
	assert_int_equal(st.memory_bytes, 4194304);
	assert_int_equal(st.memory_limit, 33554432);
	assert_int_equal(st.pids, 3);
	assert_int_equal(st.io_read_bytes, 4196);
	assert_int_equal(st.io_write_bytes, 8192);
}

/* No limit is max; a controller not enabled for the cgroup leaves its numbers unknown. */
static void test_v2_unknown(void **state)
{
	const struct fake_root *r = *state;
	struct lp_cgroup_stats st;
	struct lp_err err = { 0 };

	put(r, "limpet/c1/cpu.stat", "usage_usec 7\n");
	put(r, "limpet/c1/memory.current", "8192\n");
	put(r, "limpet/c1/memory.max", "max\n");
	expect_ok(lp_cgroup_stats("/limpet/c1", &st, &err), &err);
	assert_int_equal(st.cpu_usage_us, 7);
	assert_int_equal(st.memory_bytes, 8192);
	assert_int_equal(st.memory_limit, -1);
	assert_int_equal(st.pids, -1);
	assert_int_equal(st.io_read_bytes, -1);
	assert_int_equal(st.io_write_bytes, -1);
}

static void test_v2_bad_file(void **state)
{
	const struct fake_root *r = *state;
	struct lp_cgroup_stats st;
	struct lp_err err = { 0 };

	put(r, "limpet/c1/cpu.stat", "usage_usec 7\n");
	put(r, "limpet/c1/memory.current", "lots\n");
	assert_int_equal(lp_cgroup_stats("/limpet/c1", &st, &err), -1);
	assert_msg_has(&err, "limpet/c1/memory.current: not a number");
}

static void test_v1_stats(void **state)
{
	const struct fake_root *r = *state;
	struct lp_cgroup_stats st;
	struct lp_err err = { 0 };

	put(r, "cpu/limpet/c1/cpuacct.usage", "2500000000\n");
	put(r, "memory/limpet/c1/memory.usage_in_bytes", "1048576\n");
	put(r, "memory/limpet/c1/memory.limit_in_bytes", "67108864\n");
	put(r, "pids/limpet/c1/pids.current", "5\n");
	expect_ok(lp_cgroup_stats("/limpet/c1", &st, &err), &err);
	assert_int_equal(st.cpu_usage_us, 2500000);
	assert_int_equal(st.memory_bytes, 1048576);
	assert_int_equal(st.memory_limit, 67108864);
	assert_int_equal(st.pids, 5);
	/* limpet joins no blkio hierarchy */
	assert_int_equal(st.io_read_bytes, -1);
	/* the kernel's "no limit" is a page-rounded LONG_MAX */
	put(r, "memory/limpet/c1/memory.limit_in_bytes", "9223372036854771712\n");
	expect_ok(lp_cgroup_stats("/limpet/c1", &st, &err), &err);
	assert_int_equal(st.memory_limit, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_v2_stats, setup_v2, teardown),
		cmocka_unit_test_setup_teardown(test_v2_unknown, setup_v2, teardown),
		cmocka_unit_test_setup_teardown(test_v2_bad_file, setup_v2, teardown),
		cmocka_unit_test_setup_teardown(test_v1_stats, setup_v1, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
