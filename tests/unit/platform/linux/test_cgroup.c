// SPDX-License-Identifier: Apache-2.0
/*
 * cgroup v1/v2 against a fake root: a temporary directory of plain files
 * standing in for cgroupfs (LIMPET_CGROUP_ROOT + LIMPET_CGROUP_MODE).  The
 * kernel creates a cgroup's files on mkdir; here the tests create them
 * first, and check what limpet wrote into them.  One test also attaches the
 * v2 device filter for real when run as root on a host with cgroup2.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "platform/cgroup.h"
#include "platform/lib/util.h"
#include "cgroup_fixtures.h"

static const char *const v1_files[] = {
	"memory/limpet/c1/memory.limit_in_bytes",
	"memory/limpet/c1/memory.oom_control",
	"memory/limpet/c1/cgroup.procs",
	"cpu/limpet/c1/cpu.cfs_period_us",
	"cpu/limpet/c1/cpu.cfs_quota_us",
	"cpu/limpet/c1/cpu.shares",
	"cpu/limpet/c1/cgroup.procs",
	"pids/limpet/c1/pids.max",
	"pids/limpet/c1/cgroup.procs",
	"devices/limpet/c1/devices.deny",
	"devices/limpet/c1/devices.allow",
	"devices/limpet/c1/cgroup.procs",
};

static const char *const v2_leaf_files[] = {
	"limpet/c1/memory.max",	 "limpet/c1/cpu.max",  "limpet/c1/cpu.weight",
	"limpet/c1/pids.max",	 "limpet/c1/cgroup.procs",
};

/* ------------------------------------------------------------ common */

static void test_root_and_mode_names(void **state)
{
	const struct fake_root *r = *state;

	assert_string_equal(lp_cgroup_root(), r->dir);
	assert_int_equal(lp_cgroup_mode(), LP_CGROUP_V1);
	setenv("LIMPET_CGROUP_MODE", "v2", 1);
	assert_int_equal(lp_cgroup_mode(), LP_CGROUP_V2);
	/* what doctor reports as hybrid runs containers on its v1 controllers */
	setenv("LIMPET_CGROUP_MODE", "hybrid", 1);
	assert_int_equal(lp_cgroup_mode(), LP_CGROUP_V1);
	assert_string_equal(lp_cgroup_mode_name(LP_CGROUP_V1), "v1");
	assert_string_equal(lp_cgroup_mode_name(LP_CGROUP_V2), "v2");
	assert_string_equal(lp_cgroup_mode_name(LP_CGROUP_NONE), "none");
	unsetenv("LIMPET_CGROUP_ROOT");
	assert_string_equal(lp_cgroup_root(), "/sys/fs/cgroup");
}

static void test_mode_detected_from_fake_root(void **state)
{
	const struct fake_root *r = *state;
	struct lp_limits limits = { 0 };
	struct lp_err err = { 0 };

	unsetenv("LIMPET_CGROUP_MODE");
	assert_int_equal(lp_cgroup_mode(), LP_CGROUP_NONE);
	assert_int_equal(lp_cgroup_setup("/limpet/c1", &limits, NULL, 0, 1, &err), -1);
	assert_msg_has(&err, "no cgroup hierarchy");
	put_dir(r, "memory");
	assert_int_equal(lp_cgroup_mode(), LP_CGROUP_V1);
}

static void test_bad_mode_env(void **state)
{
	struct lp_limits limits = { 0 };
	struct lp_err err = { 0 };

	setenv("LIMPET_CGROUP_MODE", "v3", 1);
	assert_int_equal(lp_cgroup_mode(), LP_CGROUP_NONE);
	assert_int_equal(lp_cgroup_setup("/limpet/c1", &limits, NULL, 0, 1, &err), -1);
	assert_msg_has(&err, "LIMPET_CGROUP_MODE=v3: expected v1, hybrid or v2");
}

static void test_bad_paths(void **state)
{
	struct lp_err err = { 0 };

	assert_int_equal(lp_cgroup_kill("/", &err), -1);
	assert_msg_has(&err, "root cgroup");
	assert_int_equal(lp_cgroup_destroy("limpet/c1", &err), -1);
	assert_msg_has(&err, "not absolute");
	assert_int_equal(lp_cgroup_destroy("/limpet/../etc", &err), -1);
	assert_msg_has(&err, "..");
}

static void test_default_parent_outside_systemd(void **state)
{
	char parent[PATH_MAX];
	struct lp_err err = { 0 };

	unsetenv("INVOCATION_ID");
	expect_ok(lp_cgroup_default_parent(parent, sizeof(parent), &err), &err);
	assert_string_equal(parent, "/limpet");
	setenv("LIMPET_CGROUP_MODE", "v2", 1);
	expect_ok(lp_cgroup_default_parent(parent, sizeof(parent), &err), &err);
	assert_string_equal(parent, "/limpet");
}

/* ------------------------------------------------------------ v1 */

static const struct lp_device gpio = {
	.host = "/dev/gpiochip0", .inner = "/dev/gpiochip0", .perms = "rw",
	.type = 'c', .major = 254, .minor = 0,
};

static void test_v1_setup_writes_limits(void **state)
{
	const struct fake_root *r = *state;
	struct lp_limits limits = {
		.memory = 32 << 20, .cpu_quota = 50000, .cpu_period = 100000,
		.cpu_weight = 100, .pids = 16,
	};
	struct lp_err err = { 0 };

	put_all(r, v1_files, ARRAY_SIZE(v1_files));
	put(r, "memory/limpet/c1/memory.memsw.limit_in_bytes", "");
	expect_ok(lp_cgroup_setup("/limpet/c1", &limits, &gpio, 1, 4242, &err), &err);
	assert_file(r, "memory/limpet/c1/memory.limit_in_bytes", "33554432\n");
	assert_file(r, "memory/limpet/c1/memory.memsw.limit_in_bytes", "33554432\n");
	assert_file(r, "cpu/limpet/c1/cpu.cfs_period_us", "100000\n");
	assert_file(r, "cpu/limpet/c1/cpu.cfs_quota_us", "50000\n");
	assert_file(r, "cpu/limpet/c1/cpu.shares", "2597\n");
	assert_file(r, "pids/limpet/c1/pids.max", "16\n");
	assert_file(r, "devices/limpet/c1/devices.deny", "a\n");
	assert_file(r, "devices/limpet/c1/devices.allow",
		    "c 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\n"
		    "c 5:0 rwm\nc 5:2 rwm\nc 136:* rwm\nc 254:0 rw\n");
	assert_file(r, "memory/limpet/c1/cgroup.procs", "4242\n");
	assert_file(r, "cpu/limpet/c1/cgroup.procs", "4242\n");
	assert_file(r, "pids/limpet/c1/cgroup.procs", "4242\n");
	assert_file(r, "devices/limpet/c1/cgroup.procs", "4242\n");
}

static void test_v1_no_limits_leaves_defaults(void **state)
{
	const struct fake_root *r = *state;
	struct lp_limits limits = { 0 };
	struct lp_err err = { 0 };

	put_all(r, v1_files, ARRAY_SIZE(v1_files));
	expect_ok(lp_cgroup_setup("/limpet/c1", &limits, NULL, 0, 7, &err), &err);
	assert_file(r, "memory/limpet/c1/memory.limit_in_bytes", "");
	assert_file(r, "cpu/limpet/c1/cpu.cfs_quota_us", "");
	assert_file(r, "cpu/limpet/c1/cpu.shares", "");
	assert_file(r, "pids/limpet/c1/pids.max", "");
	assert_file(r, "devices/limpet/c1/devices.deny", "a\n");
	assert_file(r, "pids/limpet/c1/cgroup.procs", "7\n");
}

static void test_v1_memsw_only_when_present(void **state)
{
	const struct fake_root *r = *state;
	struct lp_limits limits = { .memory = 1 << 20 };
	struct lp_err err = { 0 };

	put_all(r, v1_files, ARRAY_SIZE(v1_files));
	expect_ok(lp_cgroup_setup("/limpet/c1", &limits, NULL, 0, 1, &err), &err);
	assert_file(r, "memory/limpet/c1/memory.limit_in_bytes", "1048576\n");
	assert_false(exists(r, "memory/limpet/c1/memory.memsw.limit_in_bytes"));
}

static void expect_shares(const struct fake_root *r, int weight, const char *shares)
{
	struct lp_limits limits = { .cpu_weight = weight };
	struct lp_err err = { 0 };

	put(r, "cpu/limpet/c1/cpu.shares", "");
	expect_ok(lp_cgroup_setup("/limpet/c1", &limits, NULL, 0, 1, &err), &err);
	assert_file(r, "cpu/limpet/c1/cpu.shares", shares);
}

static void test_v1_weight_to_shares(void **state)
{
	const struct fake_root *r = *state;
	struct lp_limits limits = { .cpu_weight = 10001 };
	struct lp_err err = { 0 };

	put_all(r, v1_files, ARRAY_SIZE(v1_files));
	expect_shares(r, 1, "2\n");
	expect_shares(r, 100, "2597\n");
	expect_shares(r, 10000, "262144\n");
	assert_int_equal(lp_cgroup_setup("/limpet/c1", &limits, NULL, 0, 1, &err), -1);
	assert_msg_has(&err, "CPU weight 10001");
}

static void test_v1_missing_controller(void **state)
{
	const struct fake_root *r = *state;
	struct lp_limits limits = { .memory = 1 << 20 };
	struct lp_err err = { 0 };

	put(r, "cpu/limpet/c1/cgroup.procs", "");
	put(r, "pids/limpet/c1/cgroup.procs", "");
	assert_int_equal(lp_cgroup_setup("/limpet/c1", &limits, NULL, 0, 1, &err), -1);
	assert_msg_has(&err, "needs the memory cgroup controller, which is not enabled");
	limits.memory = 0;
	expect_ok(lp_cgroup_setup("/limpet/c1", &limits, NULL, 0, 9, &err), &err);
	assert_file(r, "pids/limpet/c1/cgroup.procs", "9\n");
	assert_false(exists(r, "memory"));
	assert_false(exists(r, "devices"));
}

static void test_v1_error_names_file(void **state)
{
	const struct fake_root *r = *state;
	struct lp_limits limits = { .pids = 5 };
	struct lp_err err = { 0 };
	char want[PATH_MAX];

	put_dir(r, "pids");
	assert_int_equal(lp_cgroup_setup("/limpet/c1", &limits, NULL, 0, 1, &err), -1);
	snprintf(want, sizeof(want), "open %s/pids/limpet/c1/pids.max: No such file or directory",
		 r->dir);
	assert_string_equal(err.msg, want);
	assert_int_equal(err.code, ENOENT);
}

static void test_v1_bad_device(void **state)
{
	const struct fake_root *r = *state;
	struct lp_device dev = gpio;
	struct lp_limits limits = { 0 };
	struct lp_err err = { 0 };

	put_all(r, v1_files, ARRAY_SIZE(v1_files));
	dev.type = 'x';
	assert_int_equal(lp_cgroup_setup("/limpet/c1", &limits, &dev, 1, 1, &err), -1);
	assert_msg_has(&err, "/dev/gpiochip0");
	dev = gpio;
	strcpy(dev.perms, "rx");
	assert_int_equal(lp_cgroup_setup("/limpet/c1", &limits, &dev, 1, 1, &err), -1);
	assert_msg_has(&err, "\"rx\"");
}

static void test_v1_oom_kills(void **state)
{
	const struct fake_root *r = *state;
	struct lp_err err = { 0 };
	uint64_t count = 99;

	put(r, "memory/limpet/c1/memory.oom_control",
	    "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
	expect_ok(lp_cgroup_oom_kills("/limpet/c1", &count, &err), &err);
	assert_int_equal(count, 3);
	/* Before Linux 4.13 there is no counter. */
	put(r, "memory/limpet/c1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
	expect_ok(lp_cgroup_oom_kills("/limpet/c1", &count, &err), &err);
	assert_int_equal(count, 0);
	assert_int_equal(lp_cgroup_oom_kills("/limpet/gone", &count, &err), -1);
	assert_msg_has(&err, "/memory/limpet/gone/memory.oom_control");
}

static void test_v1_destroy(void **state)
{
	const struct fake_root *r = *state;
	struct lp_err err = { 0 };

	put_dir(r, "memory/limpet/c1/nested");
	put_dir(r, "cpu/limpet/c1");
	put_dir(r, "pids/limpet/c1");
	put_dir(r, "devices/limpet");
	expect_ok(lp_cgroup_destroy("/limpet/c1", &err), &err);
	assert_false(exists(r, "memory/limpet/c1"));
	assert_false(exists(r, "cpu/limpet/c1"));
	assert_false(exists(r, "pids/limpet/c1"));
	assert_true(exists(r, "memory/limpet"));
	expect_ok(lp_cgroup_destroy("/limpet/c1", &err), &err);
}

static void test_v1_kill_empty_and_refuses_self(void **state)
{
	const struct fake_root *r = *state;
	struct lp_err err = { 0 };
	char self[32];

	put(r, "pids/limpet/c1/cgroup.procs", "");
	put_dir(r, "memory");
	expect_ok(lp_cgroup_kill("/limpet/c1", &err), &err);
	snprintf(self, sizeof(self), "%d\n", (int)getpid());
	put(r, "pids/limpet/c1/cgroup.procs", self);
	assert_int_equal(lp_cgroup_kill("/limpet/c1", &err), -1);
	assert_msg_has(&err, "limpet itself");
}

static void test_v1_dir(void **state)
{
	const struct fake_root *r = *state;
	char dir[PATH_MAX], want[PATH_MAX];
	struct lp_err err = { 0 };

	put_dir(r, "memory");
	expect_ok(lp_cgroup_dir("/limpet/c1", "memory", dir, sizeof(dir), &err), &err);
	snprintf(want, sizeof(want), "%s/memory/limpet/c1", r->dir);
	assert_string_equal(dir, want);
	assert_int_equal(lp_cgroup_dir("/limpet/c1", "pids", dir, sizeof(dir), &err), -1);
	assert_msg_has(&err, "pids is not mounted");
}

/* ------------------------------------------------------------ v2 */

static void put_v2_tree(const struct fake_root *r, const char *available)
{
	put(r, "cgroup.controllers", available);
	put(r, "cgroup.subtree_control", "");
	put(r, "limpet/cgroup.controllers", available);
	put(r, "limpet/cgroup.subtree_control", "");
	put_all(r, v2_leaf_files, ARRAY_SIZE(v2_leaf_files));
}

/* What a container's v1 /sys/fs/cgroup mounts each hierarchy by: its controllers alone. */
static void test_v1_controllers_from_superopts(void **state)
{
	static const char *const cases[][2] = {
		{ "rw,memory", "memory" },
		{ "rw,cpu,cpuacct", "cpu,cpuacct" },
		{ "ro,xattr,cpu,cpuacct", "cpu,cpuacct" },
		{ "rw,noprefix,release_agent=/sbin/x,cpuset,clone_children", "cpuset" },
		{ "rw,cpuset_v2_mode,favordynmods,cpuset", "cpuset" },
		{ "rw,xattr,name=systemd", "" },
		{ "rw,,pids,", "pids" },
	};
	char buf[64], small[8];
	struct lp_err err = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(lp_cgroup_v1_controllers(cases[i][0], buf, sizeof(buf), &err), 0);
		assert_string_equal(buf, cases[i][1]);
	}
	assert_int_equal(lp_cgroup_v1_controllers("rw,cpu,cpuacct", small, sizeof(small), &err),
			 -1);
	assert_non_null(strstr(err.msg, "rw,cpu,cpuacct"));
}

/* A test's fake hierarchy is directories, not a file system to mount. */
static void test_views_none_under_fake_root(void **state)
{
	struct lp_cgroup_fs fs[LP_CGROUP_MAX_FS];
	struct lp_err err = { 0 };

	(void)state;
	assert_int_equal(lp_cgroup_views(fs, &err), 0);
}

static void test_v2_setup_writes_limits(void **state)
{
	const struct fake_root *r = *state;
	struct lp_limits limits = {
		.memory = 64 << 20, .cpu_quota = 25000, .cpu_period = 50000,
		.cpu_weight = 200, .pids = 32,
	};
	struct lp_err err = { 0 };

	put_v2_tree(r, "cpuset cpu io memory hugetlb pids rdma misc\n");
	put(r, "limpet/c1/memory.swap.max", "");
	expect_ok(lp_cgroup_setup("/limpet/c1", &limits, &gpio, 1, 4242, &err), &err);
	assert_file(r, "cgroup.subtree_control", "+memory +cpu +pids\n");
	assert_file(r, "limpet/cgroup.subtree_control", "+memory +cpu +pids\n");
	assert_file(r, "limpet/c1/memory.max", "67108864\n");
	assert_file(r, "limpet/c1/memory.swap.max", "0\n");
	assert_file(r, "limpet/c1/cpu.max", "25000 50000\n");
	assert_file(r, "limpet/c1/cpu.weight", "200\n");
	assert_file(r, "limpet/c1/pids.max", "32\n");
	assert_file(r, "limpet/c1/cgroup.procs", "4242\n");
}

static void test_v2_enables_only_needed_and_missing(void **state)
{
	const struct fake_root *r = *state;
	struct lp_limits limits = { .cpu_quota = 10000, .pids = 8 };
	struct lp_err err = { 0 };

	put_v2_tree(r, "cpu memory pids\n");
	put(r, "cgroup.subtree_control", "cpu memory pids\n");
	expect_ok(lp_cgroup_setup("/limpet/c1", &limits, NULL, 0, 1, &err), &err);
	assert_file(r, "cgroup.subtree_control", "cpu memory pids\n");
	assert_file(r, "limpet/cgroup.subtree_control", "+cpu +pids\n");
	assert_file(r, "limpet/c1/cpu.max", "10000 100000\n");
	assert_file(r, "limpet/c1/memory.max", "");
	assert_false(exists(r, "limpet/c1/memory.swap.max"));
}

static void test_v2_controller_not_available(void **state)
{
	const struct fake_root *r = *state;
	struct lp_limits limits = { .memory = 1 << 20 };
	struct lp_err err = { 0 };
	char want[PATH_MAX];

	put_v2_tree(r, "cpu pids\n");
	assert_int_equal(lp_cgroup_setup("/limpet/c1", &limits, NULL, 0, 1, &err), -1);
	snprintf(want, sizeof(want),
		 "a memory limit needs the memory cgroup controller, which is not enabled (not in %s/cgroup.controllers)",
		 r->dir);
	assert_string_equal(err.msg, want);
	assert_file(r, "cgroup.subtree_control", "");
}

static void test_v2_oom_kills(void **state)
{
	const struct fake_root *r = *state;
	struct lp_err err = { 0 };
	uint64_t count = 99;

	put(r, "limpet/c1/memory.events",
	    "low 0\nhigh 0\nmax 12\noom 4\noom_kill 3\noom_group_kill 0\n");
	expect_ok(lp_cgroup_oom_kills("/limpet/c1", &count, &err), &err);
	assert_int_equal(count, 3);
	/* No memory limit, no memory controller in the cgroup: no file, no kills. */
	put_dir(r, "limpet/c2");
	expect_ok(lp_cgroup_oom_kills("/limpet/c2", &count, &err), &err);
	assert_int_equal(count, 0);
	assert_int_equal(lp_cgroup_oom_kills("/limpet/gone", &count, &err), -1);
	assert_msg_has(&err, "/limpet/gone/memory.events");
	put(r, "limpet/c3/memory.events", "oom_kill many\n");
	assert_int_equal(lp_cgroup_oom_kills("/limpet/c3", &count, &err), -1);
	assert_msg_has(&err, "bad \"oom_kill\" line");
}

static void test_v2_kill_writes_cgroup_kill(void **state)
{
	const struct fake_root *r = *state;
	struct lp_err err = { 0 };

	put(r, "limpet/c1/cgroup.kill", "");
	put(r, "limpet/c1/cgroup.procs", "");
	expect_ok(lp_cgroup_kill("/limpet/c1", &err), &err);
	assert_file(r, "limpet/c1/cgroup.kill", "1\n");
	/* Gone already: nothing left to kill. */
	expect_ok(lp_cgroup_kill("/limpet/gone", &err), &err);
}

static void test_v2_destroy_children_first(void **state)
{
	const struct fake_root *r = *state;
	struct lp_err err = { 0 };
	char dir[PATH_MAX], want[PATH_MAX];

	put_dir(r, "limpet/c1/a/b");
	put_dir(r, "limpet/c1/c");
	expect_ok(lp_cgroup_destroy("/limpet/c1", &err), &err);
	assert_false(exists(r, "limpet/c1"));
	assert_true(exists(r, "limpet"));
	expect_ok(lp_cgroup_dir("/limpet/c1", "memory", dir, sizeof(dir), &err), &err);
	snprintf(want, sizeof(want), "%s/limpet/c1", r->dir);
	assert_string_equal(dir, want);
}

/* ------------------------------------------------------------ real v2 device filter */

static bool find_cgroup2_mount(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[1024], mnt[512], type[64];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");

		if (sep && sscanf(sep, " - %63s", type) == 1 && !strcmp(type, "cgroup2") &&
		    sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1) {
			snprintf(buf, len, "%s", mnt);
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* 0 if opening path with flags gives the expected errno (0 = success), else 1. */
static int probe(const char *path, int flags, int expected)
{
	int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK);
	int got = fd < 0 ? errno : 0;

	if (fd >= 0)
		close(fd);
	return got == expected ? 0 : 1;
}

static int child_in_cgroup(const char *dir)
{
	char procs[PATH_MAX + 16];
	int fd, bad = 0;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || dprintf(fd, "%d\n", (int)getpid()) < 0)
		_exit(100);
	close(fd);
	bad |= probe("/dev/null", O_RDWR, 0) << 0;
	bad |= probe("/dev/kmsg", O_RDONLY, 0) << 1;
	bad |= probe("/dev/kmsg", O_WRONLY, EPERM) << 2;
	bad |= probe("/dev/loop-control", O_RDWR, EPERM) << 3;
	return bad;
}

static void test_bpf_device_filter_real(void **state)
{
	const struct lp_device kmsg = {
		.host = "/dev/kmsg", .inner = "/dev/kmsg", .perms = "r",
		.type = 'c', .major = 1, .minor = 11,
	};
	char mnt[512], dir[PATH_MAX];
	struct lp_err err = { 0 };
	int fd, status, ret;
	pid_t pid;

	if (geteuid() != 0 || !find_cgroup2_mount(mnt, sizeof(mnt)) ||
	    access("/dev/kmsg", F_OK) || access("/dev/loop-control", F_OK))
		skip();
	snprintf(dir, sizeof(dir), "%s/limpet-unit-%d", mnt, (int)getpid());
	if (mkdir(dir, 0755) < 0)
		skip();
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	ret = lp_cgroup_bpf_devices(fd, &kmsg, 1, &err);
	close(fd);
	if (ret < 0) {
		rmdir(dir);
		fail_msg("%s", err.msg);
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_in_cgroup(dir));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	expect_ok(lp_cgroup_remove_tree(dir, &err), &err);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_root_and_mode_names, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_mode_detected_from_fake_root, setup_v1,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_mode_env, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_bad_paths, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_default_parent_outside_systemd, setup_v1,
						teardown),
		cmocka_unit_test_setup_teardown(test_v1_setup_writes_limits, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_v1_no_limits_leaves_defaults, setup_v1,
						teardown),
		cmocka_unit_test_setup_teardown(test_v1_memsw_only_when_present, setup_v1,
						teardown),
		cmocka_unit_test_setup_teardown(test_v1_weight_to_shares, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_v1_missing_controller, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_v1_error_names_file, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_v1_bad_device, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_v1_oom_kills, setup_v1, teardown),
		cmocka_unit_test(test_v1_controllers_from_superopts),
		cmocka_unit_test_setup_teardown(test_views_none_under_fake_root, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_v1_destroy, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_v1_kill_empty_and_refuses_self, setup_v1,
						teardown),
		cmocka_unit_test_setup_teardown(test_v1_dir, setup_v1, teardown),
		cmocka_unit_test_setup_teardown(test_v2_setup_writes_limits, setup_v2, teardown),
		cmocka_unit_test_setup_teardown(test_v2_enables_only_needed_and_missing,
						setup_v2, teardown),
		cmocka_unit_test_setup_teardown(test_v2_controller_not_available, setup_v2,
						teardown),
		cmocka_unit_test_setup_teardown(test_v2_oom_kills, setup_v2, teardown),
		cmocka_unit_test_setup_teardown(test_v2_kill_writes_cgroup_kill, setup_v2,
						teardown),
		cmocka_unit_test_setup_teardown(test_v2_destroy_children_first, setup_v2,
						teardown),
		cmocka_unit_test(test_bpf_device_filter_real),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
