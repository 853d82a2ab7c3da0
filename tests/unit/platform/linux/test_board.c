// SPDX-License-Identifier: Apache-2.0
/*
 * Board probing against fake /proc, /sys, /dev and /boot trees built in a
 * temp dir (LIMPET_SYSROOT), with LIMPET_CGROUP_MODE standing in for the
 * statfs() magic a temp dir cannot fake.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform/board.h"
#include "platform/lib/util.h"

#define FIX_MAX 1024

struct fake_root {
	char dir[PATH_MAX];
};

static const char proc_cgroups_header[] = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n";

/* ---------------------------------------------------------------- fixtures */

static void fake_bytes(const struct fake_root *fr, const char *rel, const char *buf, size_t len)
{
	char path[PATH_MAX], dir[PATH_MAX];
	struct lp_err err = { 0 };
	char *slash;

	assert_int_equal(lp_path(path, sizeof(path), &err, "%s%s", fr->dir, rel), 0);
	memcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	assert_non_null(slash);
	*slash = '\0';
	if (lp_mkdir_p(dir, 0755, &err) < 0)
		fail_msg("%s", err.msg);
	if (lp_write_file(path, buf, len, &err) < 0)
		fail_msg("%s", err.msg);
}

static void fake_file(const struct fake_root *fr, const char *rel, const char *content)
{
	fake_bytes(fr, rel, content, strlen(content));
}

/* What every fake board has: a kernel, the namespaces, seccomp, overlayfs. */
static void fake_common(const struct fake_root *fr, const char *release, const char *arch)
{
	static const char *const ns[] = { "mnt", "pid", "uts", "ipc", "net", "user", "cgroup" };
	char rel[64], line[LP_BOARD_STR_MAX + 1];

	snprintf(line, sizeof(line), "%s\n", release);
	fake_file(fr, "/proc/sys/kernel/osrelease", line);
	snprintf(line, sizeof(line), "%s\n", arch);
	fake_file(fr, "/proc/sys/kernel/arch", line);
	for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
		snprintf(rel, sizeof(rel), "/proc/self/ns/%s", ns[i]);
		fake_file(fr, rel, "");
	}
	fake_file(fr, "/proc/sys/user/max_user_namespaces", "15000\n");
	fake_file(fr, "/proc/self/status", "Name:\ttest_board\nSeccomp:\t0\nSeccomp_filters:\t0\n");
	fake_file(fr, "/proc/sys/kernel/seccomp/actions_avail", "kill_process kill_thread trap\n");
	fake_file(fr, "/proc/filesystems", "nodev\tsysfs\nnodev\ttmpfs\nnodev\toverlay\n\text4\n");
	fake_file(fr, "/proc/cmdline", "console=ttyS0 root=/dev/sda1 quiet\n");
}

static void fake_raspberry_pi4(const struct fake_root *fr)
{
	static const char model[] = "Raspberry Pi 4 Model B Rev 1.4";

	/* device tree strings keep their NUL in the file */
	fake_bytes(fr, "/proc/device-tree/model", model, sizeof(model));
	fake_common(fr, "6.6.51+rpt-rpi-v8", "aarch64");
	fake_file(fr, "/sys/fs/cgroup/.keep", "");
}

static void fake_x86_64_box(const struct fake_root *fr)
{
	fake_file(fr, "/sys/class/dmi/id/sys_vendor", "QEMU\n");
	fake_file(fr, "/sys/class/dmi/id/product_name", "Standard PC (Q35 + ICH9, 2009)\n");
	fake_common(fr, "6.1.0-27-amd64", "x86_64");
}

/* cgroup v1 with every controller mounted except memory, which boot disabled. */
static void fake_v1_memory_disabled(const struct fake_root *fr)
{
	char buf[512];

	snprintf(buf, sizeof(buf),
		 "%scpuset\t2\t1\t1\ncpu\t3\t1\t1\ncpuacct\t3\t1\t1\nblkio\t4\t1\t1\n"
		 "memory\t0\t1\t0\ndevices\t5\t1\t1\npids\t6\t1\t1\n",
		 proc_cgroups_header);
	fake_file(fr, "/proc/cgroups", buf);
}

static void fake_v2(const struct fake_root *fr, const char *controllers, const char *subtree)
{
	fake_file(fr, "/sys/fs/cgroup/cgroup.controllers", controllers);
	fake_file(fr, "/sys/fs/cgroup/cgroup.subtree_control", subtree);
}

static int setup(void **state)
{
	struct fake_root *fr = calloc(1, sizeof(*fr));

	if (!fr)
		return -1;
	snprintf(fr->dir, sizeof(fr->dir), "%s/limpet-board-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(fr->dir) || setenv("LIMPET_SYSROOT", fr->dir, 1) < 0) {
		free(fr);
		return -1;
	}
	unsetenv("LIMPET_CGROUP_MODE");
	*state = fr;
	return 0;
}

static int teardown(void **state)
{
	struct fake_root *fr = *state;
	struct lp_err err = { 0 };
	int ret = lp_remove_tree(fr->dir, &err);

	unsetenv("LIMPET_SYSROOT");
	unsetenv("LIMPET_CGROUP_MODE");
	free(fr);
	return ret;
}

static void probe_ok(struct lp_board *b)
{
	struct lp_err err = { 0 };

	if (lp_board_probe(b, &err) < 0)
		fail_msg("lp_board_probe: %s", err.msg);
	assert_true(b->from_sysroot);
}

/* ---------------------------------------------------------------- (a) Raspberry Pi */

static void test_pi4_v1_memory_disabled(void **state)
{
	struct fake_root *fr = *state;
	struct lp_board b;
	char fix[FIX_MAX];

	fake_raspberry_pi4(fr);
	fake_v1_memory_disabled(fr);
	fake_file(fr, "/boot/firmware/cmdline.txt", "console=serial0,115200 rootwait\n");
	setenv("LIMPET_CGROUP_MODE", "v1", 1);
	probe_ok(&b);

	assert_string_equal(b.model, "Raspberry Pi 4 Model B Rev 1.4");
	assert_true(b.is_raspberry_pi);
	assert_string_equal(b.machine, "aarch64");
	assert_string_equal(b.kernel_release, "6.6.51+rpt-rpi-v8");
	assert_int_equal(b.cgroup_mode, LP_BOARD_CGROUP_V1);
	assert_true(b.ctrl[LP_CTRL_MEMORY].available);
	assert_false(b.ctrl[LP_CTRL_MEMORY].enabled);
	assert_false(lp_board_ctrl_usable(&b, LP_CTRL_MEMORY));
	assert_true(lp_board_ctrl_usable(&b, LP_CTRL_CPU));
	assert_true(lp_board_ctrl_usable(&b, LP_CTRL_PIDS));
	assert_string_equal(lp_board_ctrl_name(&b, LP_CTRL_IO), "blkio");

	assert_non_null(lp_board_memory_fix(&b, fix, sizeof(fix)));
	assert_non_null(strstr(fix, "/boot/firmware/cmdline.txt"));
	assert_non_null(strstr(fix, "cgroup_enable=memory cgroup_memory=1"));
	assert_non_null(strstr(fix, "reboot"));
}

/* Before bookworm the boot partition was mounted at /boot. */
static void test_pi_old_release_names_boot_cmdline(void **state)
{
	struct fake_root *fr = *state;
	struct lp_board b;
	char fix[FIX_MAX];

	fake_raspberry_pi4(fr);
	fake_v1_memory_disabled(fr);
	fake_file(fr, "/boot/cmdline.txt", "console=serial0,115200 rootwait\n");
	setenv("LIMPET_CGROUP_MODE", "v1", 1);
	probe_ok(&b);

	assert_string_equal(b.pi_cmdline_txt, "/boot/cmdline.txt");
	assert_non_null(lp_board_memory_fix(&b, fix, sizeof(fix)));
	assert_non_null(strstr(fix, "/boot/cmdline.txt"));
	assert_null(strstr(fix, "/boot/firmware"));
}

/* Device tree model through /sys when /proc/device-tree is not there. */
static void test_model_from_sysfs_devicetree(void **state)
{
	static const char model[] = "Raspberry Pi 5 Model B Rev 1.0";
	struct fake_root *fr = *state;
	struct lp_board b;

	fake_common(fr, "6.6.51+rpt-rpi-2712", "aarch64");
	fake_bytes(fr, "/sys/firmware/devicetree/base/model", model, sizeof(model));
	probe_ok(&b);

	assert_string_equal(b.model, model);
	assert_true(b.is_raspberry_pi);
}

/* ---------------------------------------------------------------- (b) x86_64, v2 */

static void test_x86_64_v2_required_controllers(void **state)
{
	struct fake_root *fr = *state;
	struct lp_board b;
	char fix[FIX_MAX];

	fake_x86_64_box(fr);
	fake_v2(fr, "cpu memory pids\n", "cpu memory pids\n");
	setenv("LIMPET_CGROUP_MODE", "v2", 1);
	probe_ok(&b);

	assert_string_equal(b.model, "QEMU Standard PC (Q35 + ICH9, 2009)");
	assert_false(b.is_raspberry_pi);
	assert_string_equal(b.machine, "x86_64");
	assert_int_equal(b.kernel_major, 6);
	assert_int_equal(b.kernel_minor, 1);
	assert_int_equal(b.cgroup_mode, LP_BOARD_CGROUP_V2);
	assert_true(lp_board_ctrl_usable(&b, LP_CTRL_MEMORY));
	assert_true(lp_board_ctrl_usable(&b, LP_CTRL_CPU));
	assert_true(lp_board_ctrl_usable(&b, LP_CTRL_PIDS));
	assert_true(b.ctrl[LP_CTRL_MEMORY].subtree);
	assert_false(lp_board_ctrl_usable(&b, LP_CTRL_IO));
	assert_string_equal(lp_board_ctrl_name(&b, LP_CTRL_IO), "io");
	assert_null(lp_board_memory_fix(&b, fix, sizeof(fix)));
	assert_null(lp_board_ctrl_fix(&b, LP_CTRL_PIDS, fix, sizeof(fix)));

	for (int ns = 0; ns < LP_NS_COUNT; ns++)
		assert_true(b.ns[ns]);
	assert_true(b.userns_allowed);
	assert_true(b.overlay);
	assert_true(b.seccomp);
	assert_true(b.seccomp_filter);
	assert_true(b.pidfd);
	assert_false(b.kvm.present);
}

/* Without the override a fake tree's mode comes from which files it has. */
static void test_cgroup_mode_from_fake_tree(void **state)
{
	struct fake_root *fr = *state;
	struct lp_board b;

	fake_x86_64_box(fr);
	fake_v2(fr, "cpuset cpu io memory pids\n", "");
	probe_ok(&b);

	assert_int_equal(b.cgroup_mode, LP_BOARD_CGROUP_V2);
	assert_true(lp_board_ctrl_usable(&b, LP_CTRL_IO));
	assert_false(b.ctrl[LP_CTRL_IO].subtree);
}

/* The override means the same here as to the runtime (lp_cgroup_mode). */
static void test_cgroup_mode_override(void **state)
{
	struct fake_root *fr = *state;
	struct lp_board b;

	fake_x86_64_box(fr);
	fake_v2(fr, "cpu pids\n", "");
	setenv("LIMPET_CGROUP_MODE", "hybrid", 1);
	probe_ok(&b);
	assert_int_equal(b.cgroup_mode, LP_BOARD_CGROUP_HYBRID);
	setenv("LIMPET_CGROUP_MODE", "v1", 1);
	probe_ok(&b);
	assert_int_equal(b.cgroup_mode, LP_BOARD_CGROUP_V1);
}

/* Off the Pi, the fix is the kernel parameter, or removing the one that disables. */
static void test_x86_64_memory_fix(void **state)
{
	struct fake_root *fr = *state;
	struct lp_board b;
	char fix[FIX_MAX];

	fake_x86_64_box(fr);
	fake_v2(fr, "cpu pids\n", "cpu pids\n");
	setenv("LIMPET_CGROUP_MODE", "v2", 1);
	probe_ok(&b);
	assert_false(lp_board_ctrl_usable(&b, LP_CTRL_MEMORY));
	assert_non_null(lp_board_memory_fix(&b, fix, sizeof(fix)));
	assert_non_null(strstr(fix, "cgroup_enable=memory"));
	assert_null(strstr(fix, "cmdline.txt"));

	fake_file(fr, "/proc/cmdline", "root=/dev/sda1 cgroup_disable=pids,memory quiet\n");
	probe_ok(&b);
	assert_true(b.cmdline_disables_memory);
	assert_non_null(lp_board_memory_fix(&b, fix, sizeof(fix)));
	assert_non_null(strstr(fix, "remove cgroup_disable=memory"));
}

/* Linux 6.12 can be built without v1 memory: then only cgroup v2 helps. */
static void test_v1_without_memcg_v1(void **state)
{
	struct fake_root *fr = *state;
	struct lp_board b;
	char fix[FIX_MAX], cgroups[256];

	fake_x86_64_box(fr);
	fake_file(fr, "/proc/sys/kernel/osrelease", "6.12.20-amd64\n");
	snprintf(cgroups, sizeof(cgroups), "%scpu\t3\t1\t1\npids\t6\t1\t1\n", proc_cgroups_header);
	fake_file(fr, "/proc/cgroups", cgroups);
	setenv("LIMPET_CGROUP_MODE", "v1", 1);
	probe_ok(&b);

	assert_false(b.ctrl[LP_CTRL_MEMORY].available);
	assert_non_null(lp_board_memory_fix(&b, fix, sizeof(fix)));
	assert_non_null(strstr(fix, "CONFIG_MEMCG_V1"));
}

/* ---------------------------------------------------------------- (c) overlayfs */

static void test_no_overlay(void **state)
{
	struct fake_root *fr = *state;
	struct lp_board b;

	fake_x86_64_box(fr);
	fake_file(fr, "/proc/filesystems", "nodev\tsysfs\nnodev\toverlayish\n\text4\n");
	probe_ok(&b);

	assert_false(b.overlay);
	assert_false(b.overlay_module);
}

/* Not registered yet, but installed: the kernel loads it on the first mount. */
static void test_overlay_module_installed(void **state)
{
	struct fake_root *fr = *state;
	struct lp_board b;

	fake_x86_64_box(fr);
	fake_file(fr, "/proc/filesystems", "nodev\tsysfs\n\text4\n");
	fake_file(fr, "/lib/modules/6.1.0-27-amd64/modules.dep",
		  "kernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko\n"
		  "kernel/fs/overlayfs/overlay.ko:\n");
	probe_ok(&b);

	assert_false(b.overlay);
	assert_true(b.overlay_module);
}

/* ---------------------------------------------------------------- the rest */

static void test_sysroot_never_touches_the_host(void **state)
{
	struct fake_root *fr = *state;
	struct lp_board b;

	fake_x86_64_box(fr);
	fake_file(fr, "/proc/sys/kernel/osrelease", "5.2.21\n");
	fake_file(fr, "/proc/sys/user/max_user_namespaces", "0\n");
	fake_file(fr, "/dev/kvm", "");
	probe_ok(&b);

	assert_false(b.pidfd);
	assert_false(b.userns_allowed);
	assert_true(b.kvm.present);
	assert_false(b.kvm.usable);
	assert_int_equal(b.kvm.open_errno, 0);
	assert_string_equal(b.model, "QEMU Standard PC (Q35 + ICH9, 2009)");
}

static void test_empty_tree_is_unknown(void **state)
{
	struct lp_board b;

	(void)state;
	probe_ok(&b);

	assert_string_equal(b.model, "unknown");
	assert_string_equal(b.kernel_release, "unknown");
	assert_int_equal(b.cgroup_mode, LP_BOARD_CGROUP_NONE);
	assert_false(b.overlay);
	assert_false(b.seccomp);
	assert_false(b.ns[LP_NS_MNT]);
	assert_true(b.page_size > 0);
}

static void test_bad_cgroup_mode_override(void **state)
{
	struct lp_board b;
	struct lp_err err = { 0 };

	(void)state;
	setenv("LIMPET_CGROUP_MODE", "v3", 1);
	assert_int_equal(lp_board_probe(&b, &err), -1);
	assert_non_null(strstr(err.msg, "LIMPET_CGROUP_MODE=v3: expected v1, hybrid or v2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pi4_v1_memory_disabled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pi_old_release_names_boot_cmdline, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_model_from_sysfs_devicetree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_x86_64_v2_required_controllers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cgroup_mode_from_fake_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cgroup_mode_override, setup, teardown),
		cmocka_unit_test_setup_teardown(test_x86_64_memory_fix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_without_memcg_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_overlay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_module_installed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sysroot_never_touches_the_host, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_empty_tree_is_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_cgroup_mode_override, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
