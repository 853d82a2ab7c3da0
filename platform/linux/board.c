// SPDX-License-Identifier: Apache-2.0
/*
 * Board and kernel detection.  Everything is best effort: a file that is not
 * there means the feature is not there, because that is exactly what doctor
 * has to report.  Only errors that say nothing about the feature (a path
 * that does not fit, EIO, a bad LIMPET_CGROUP_MODE) fail the probe.
 */
#include "platform/board.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "platform/cgroup.h"
#include "platform/lib/util.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434	/* same number on every architecture */
#endif

#define SMALL_FILE_MAX 4096
#define LIST_FILE_MAX 65536

struct ctrl_info {
	const char *v1_name;	/* as in /proc/cgroups (legacy name) */
	const char *v2_name;	/* as in cgroup.controllers; NULL: not a v2 controller */
	const char *kconfig;	/* what the kernel needs to be built with */
};

static const struct ctrl_info ctrl_info[LP_CTRL_COUNT] = {
	[LP_CTRL_MEMORY] = { "memory", "memory", "CONFIG_MEMCG" },
	[LP_CTRL_CPU] = { "cpu", "cpu", "CONFIG_CGROUP_SCHED" },
	[LP_CTRL_PIDS] = { "pids", "pids", "CONFIG_CGROUP_PIDS" },
	[LP_CTRL_IO] = { "blkio", "io", "CONFIG_BLK_CGROUP" },
	[LP_CTRL_CPUSET] = { "cpuset", "cpuset", "CONFIG_CPUSETS" },
	[LP_CTRL_DEVICES] = { "devices", NULL, "CONFIG_CGROUP_DEVICE" },
};

static const char *const ns_names[LP_NS_COUNT] = {
	[LP_NS_MNT] = "mnt", [LP_NS_PID] = "pid", [LP_NS_UTS] = "uts", [LP_NS_IPC] = "ipc",
	[LP_NS_NET] = "net", [LP_NS_USER] = "user", [LP_NS_CGROUP] = "cgroup",
};

/* ---------------------------------------------------------------- file access */

static bool errno_means_absent(int code)
{
	return code == ENOENT || code == ENOTDIR;
}

static int sysroot_path(char *buf, size_t len, const char *root, const char *rel,
			struct lp_err *err)
{
	return lp_path(buf, len, err, "%s%s", root, rel);
}

/* 1 and *out (to be freed) when read, 0 when the file does not exist. */
static int read_optional(const char *root, const char *rel, size_t max, char **out,
			 struct lp_err *err)
{
	char path[PATH_MAX];

	if (sysroot_path(path, sizeof(path), root, rel, err) < 0)
		return -1;
	if (lp_read_file(path, max, out, NULL, err) == 0)
		return 1;
	if (errno_means_absent(err->code)) {
		lp_err_clear(err);
		return 0;
	}
	return -1;
}

/* lstat, so the /proc/self/ns magic links count without being resolved. */
static int path_exists(const char *root, const char *rel, bool *exists, struct lp_err *err)
{
	char path[PATH_MAX];
	struct stat st;

	if (sysroot_path(path, sizeof(path), root, rel, err) < 0)
		return -1;
	if (lstat(path, &st) == 0) {
		*exists = true;
		return 0;
	}
	if (!errno_means_absent(errno))
		return lp_fail_errno(err, "stat %s", path);
	*exists = false;
	return 0;
}

/* ---------------------------------------------------------------- strings */

/*
 * Firmware strings end up on a terminal and in JSON (which must be UTF-8):
 * keep printable ASCII, stop at the first NUL (device tree strings carry
 * one), drop the trailing newline of sysfs files.
 */
static void copy_clean(char *dst, size_t len, const char *src)
{
	size_t n = 0;

	for (; *src && n + 1 < len; src++) {
		if (*src == '\n' || *src == '\t' || *src == '\r')
			dst[n++] = ' ';
		else
			dst[n++] = (*src >= 0x20 && *src < 0x7f) ? *src : '?';
	}
	while (n > 0 && dst[n - 1] == ' ')
		n--;
	dst[n] = '\0';
}

/* Whether word is one of the whitespace separated words of list. */
static bool word_in_list(const char *list, const char *word)
{
	size_t wlen = strlen(word);
	const char *p = list;

	while (*p) {
		size_t n;

		p += strspn(p, " \t\n");
		n = strcspn(p, " \t\n");
		if (n == wlen && strncmp(p, word, n) == 0)
			return true;
		p += n;
	}
	return false;
}

/* Whether word is one of the comma separated items of list. */
static bool item_in_comma_list(const char *list, const char *word)
{
	size_t wlen = strlen(word);
	const char *p = list;

	for (;;) {
		size_t n = strcspn(p, ",");

		if (n == wlen && strncmp(p, word, n) == 0)
			return true;
		if (!p[n])
			return false;
		p += n + 1;
	}
}

/* ---------------------------------------------------------------- model */

static int read_model_file(const char *root, const char *rel, char *dst, size_t len,
			   struct lp_err *err)
{
	cleanup_free char *buf = NULL;
	int got = read_optional(root, rel, SMALL_FILE_MAX, &buf, err);

	if (got <= 0)
		return got;
	copy_clean(dst, len, buf);
	return dst[0] != '\0';
}

static int probe_dmi_model(const char *root, char *dst, size_t len, struct lp_err *err)
{
	/* halves, so that "vendor product" always fits in the model */
	char vendor[LP_BOARD_STR_MAX / 2], product[LP_BOARD_STR_MAX / 2];
	int got_vendor, got_product;

	got_vendor = read_model_file(root, "/sys/class/dmi/id/sys_vendor", vendor,
				     sizeof(vendor), err);
	if (got_vendor < 0)
		return -1;
	got_product = read_model_file(root, "/sys/class/dmi/id/product_name", product,
				      sizeof(product), err);
	if (got_product < 0)
		return -1;
	if (got_vendor && got_product)
		snprintf(dst, len, "%s %s", vendor, product);
	else if (got_vendor || got_product)
		snprintf(dst, len, "%s", got_vendor ? vendor : product);
	return got_vendor || got_product;
}

static int probe_model(const char *root, struct lp_board *b, struct lp_err *err)
{
	static const char *const dt_models[] = {
		"/proc/device-tree/model",
		"/sys/firmware/devicetree/base/model",
	};
	int got = 0;

	for (size_t i = 0; i < ARRAY_SIZE(dt_models) && got == 0; i++) {
		got = read_model_file(root, dt_models[i], b->model, sizeof(b->model), err);
		if (got < 0)
			return lp_prefix(err, "board model");
	}
	if (got == 0)
		got = probe_dmi_model(root, b->model, sizeof(b->model), err);
	if (got < 0)
		return lp_prefix(err, "board model");
	if (got == 0)
		snprintf(b->model, sizeof(b->model), "unknown");
	b->is_raspberry_pi = strncmp(b->model, "Raspberry Pi", strlen("Raspberry Pi")) == 0;
	return 0;
}

/* Bookworm moved the boot partition to /boot/firmware; older releases use /boot. */
static int probe_pi_cmdline_txt(const char *root, struct lp_board *b, struct lp_err *err)
{
	static const char *const candidates[] = {
		"/boot/firmware/cmdline.txt",
		"/boot/cmdline.txt",
	};
	bool exists;

	b->pi_cmdline_txt[0] = '\0';
	if (!b->is_raspberry_pi)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(candidates); i++) {
		if (path_exists(root, candidates[i], &exists, err) < 0)
			return -1;
		if (exists) {
			snprintf(b->pi_cmdline_txt, sizeof(b->pi_cmdline_txt), "%s",
				 candidates[i]);
			return 0;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- kernel */

static int read_kernel_string(const char *root, const char *rel, char *dst, size_t len,
			      struct lp_err *err)
{
	cleanup_free char *buf = NULL;
	int got = read_optional(root, rel, SMALL_FILE_MAX, &buf, err);

	if (got < 0)
		return -1;
	if (got)
		buf[strcspn(buf, "\n")] = '\0';
	copy_clean(dst, len, got ? buf : "");
	if (!dst[0])
		snprintf(dst, len, "unknown");
	return 0;
}

/* A fake tree has no uname(): the same strings live in /proc/sys/kernel. */
static int probe_kernel(const char *root, struct lp_board *b, struct lp_err *err)
{
	struct utsname u;
	long page_size;

	if (root[0]) {
		if (read_kernel_string(root, "/proc/sys/kernel/osrelease", b->kernel_release,
				       sizeof(b->kernel_release), err) < 0 ||
		    read_kernel_string(root, "/proc/sys/kernel/arch", b->machine,
				       sizeof(b->machine), err) < 0)
			return lp_prefix(err, "kernel release");
	} else {
		if (uname(&u) < 0)
			return lp_fail_errno(err, "uname");
		copy_clean(b->kernel_release, sizeof(b->kernel_release), u.release);
		copy_clean(b->machine, sizeof(b->machine), u.machine);
	}
	if (sscanf(b->kernel_release, "%d.%d", &b->kernel_major, &b->kernel_minor) != 2)
		b->kernel_major = b->kernel_minor = 0;

	page_size = sysconf(_SC_PAGESIZE);
	if (page_size < 0)
		return lp_fail_errno(err, "sysconf(_SC_PAGESIZE)");
	b->page_size = page_size;
	return 0;
}

/*
 * Only cgroup_disable= counts: a cgroup_enable= after it works on Raspberry
 * Pi and Debian-patched kernels but not upstream, so "remove the disable" is
 * the fix that works everywhere.  Words after "--" belong to init.
 */
static int probe_cmdline(const char *root, struct lp_board *b, struct lp_err *err)
{
	cleanup_free char *buf = NULL;
	char *save = NULL;
	int got = read_optional(root, "/proc/cmdline", SMALL_FILE_MAX, &buf, err);

	b->cmdline_disables_memory = false;
	if (got <= 0)
		return got < 0 ? lp_prefix(err, "kernel command line") : 0;
	for (char *tok = strtok_r(buf, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		const char *key = "cgroup_disable=";

		if (strcmp(tok, "--") == 0)
			break;
		if (strncmp(tok, key, strlen(key)) == 0 &&
		    item_in_comma_list(tok + strlen(key), "memory"))
			b->cmdline_disables_memory = true;
	}
	return 0;
}

/* ---------------------------------------------------------------- cgroups */

/* In a fake tree statfs() reports the temp dir's filesystem: go by the files. */
static int cgroup_mode_from_files(const char *root, enum lp_board_cgroup_mode *mode,
				  struct lp_err *err)
{
	bool v2_root, v2_unified, dir;

	if (path_exists(root, "/sys/fs/cgroup/cgroup.controllers", &v2_root, err) < 0 ||
	    path_exists(root, "/sys/fs/cgroup/unified/cgroup.controllers", &v2_unified, err) < 0 ||
	    path_exists(root, "/sys/fs/cgroup", &dir, err) < 0)
		return -1;
	if (v2_root)
		*mode = LP_BOARD_CGROUP_V2;
	else if (v2_unified)
		*mode = LP_BOARD_CGROUP_HYBRID;
	else
		*mode = dir ? LP_BOARD_CGROUP_V1 : LP_BOARD_CGROUP_NONE;
	return 0;
}

static int fs_magic(const char *path, long *magic, struct lp_err *err)
{
	struct statfs sfs;

	if (statfs(path, &sfs) == 0) {
		*magic = (long)sfs.f_type;
		return 0;
	}
	if (!errno_means_absent(errno))
		return lp_fail_errno(err, "statfs %s", path);
	*magic = 0;
	return 0;
}

static int cgroup_mode_from_statfs(enum lp_board_cgroup_mode *mode, struct lp_err *err)
{
	long magic, unified;

	if (fs_magic("/sys/fs/cgroup", &magic, err) < 0)
		return -1;
	if (magic == CGROUP2_SUPER_MAGIC) {
		*mode = LP_BOARD_CGROUP_V2;
		return 0;
	}
	/* v1 is a tmpfs of per-controller mounts, rarely one hierarchy mounted directly */
	if (magic != TMPFS_MAGIC && magic != CGROUP_SUPER_MAGIC) {
		*mode = LP_BOARD_CGROUP_NONE;
		return 0;
	}
	if (fs_magic("/sys/fs/cgroup/unified", &unified, err) < 0)
		return -1;
	*mode = unified == CGROUP2_SUPER_MAGIC ? LP_BOARD_CGROUP_HYBRID : LP_BOARD_CGROUP_V1;
	return 0;
}

static int probe_cgroup_mode(const char *root, struct lp_board *b, struct lp_err *err)
{
	enum lp_cgroup_mode forced;
	bool hybrid;
	int set = lp_cgroup_mode_override(&forced, &hybrid, err);

	if (set < 0)
		return -1;
	if (set) {
		b->cgroup_mode = forced == LP_CGROUP_V2 ? LP_BOARD_CGROUP_V2
			       : hybrid		       ? LP_BOARD_CGROUP_HYBRID
						       : LP_BOARD_CGROUP_V1;
		return 0;
	}
	if (root[0])
		return cgroup_mode_from_files(root, &b->cgroup_mode, err);
	return cgroup_mode_from_statfs(&b->cgroup_mode, err);
}

static int ctrl_by_v1_name(const char *name)
{
	for (int c = 0; c < LP_CTRL_COUNT; c++)
		if (strcmp(ctrl_info[c].v1_name, name) == 0)
			return c;
	return -1;
}

/*
 * /proc/cgroups: "name hierarchy num_cgroups enabled".  Kernels since 6.12
 * may leave out controllers they cannot bind to v1 (memory without
 * CONFIG_MEMCG_V1), so on v2 this only adds to what cgroup.controllers says.
 */
static int read_proc_cgroups(const char *root, struct lp_board *b, struct lp_err *err)
{
	cleanup_free char *buf = NULL;
	char *save = NULL;
	bool v2 = b->cgroup_mode == LP_BOARD_CGROUP_V2;
	int got = read_optional(root, "/proc/cgroups", LIST_FILE_MAX, &buf, err);

	if (got <= 0)
		return got;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64];
		int hierarchy, count, enabled, c;
		struct lp_board_ctrl_state *st;

		if (line[0] == '#' ||
		    sscanf(line, "%63s %d %d %d", name, &hierarchy, &count, &enabled) != 4)
			continue;
		c = ctrl_by_v1_name(name);
		if (c < 0)
			continue;
		st = &b->ctrl[c];
		st->available = true;
		/*
		 * On v2, cgroup.controllers decides; the device controller has
		 * no entry there (it is an eBPF hook) so this column stands.
		 */
		if (v2 && ctrl_info[c].v2_name)
			continue;
		st->enabled = enabled != 0;
		st->mounted = st->enabled && (v2 || hierarchy != 0);
	}
	return 0;
}

static int read_v2_controllers(const char *root, struct lp_board *b, struct lp_err *err)
{
	cleanup_free char *controllers = NULL;
	cleanup_free char *subtree = NULL;
	int got_controllers, got_subtree;

	got_controllers = read_optional(root, "/sys/fs/cgroup/cgroup.controllers", SMALL_FILE_MAX,
					&controllers, err);
	if (got_controllers < 0)
		return -1;
	got_subtree = read_optional(root, "/sys/fs/cgroup/cgroup.subtree_control", SMALL_FILE_MAX,
				    &subtree, err);
	if (got_subtree < 0)
		return -1;
	for (int c = 0; c < LP_CTRL_COUNT; c++) {
		struct lp_board_ctrl_state *st = &b->ctrl[c];
		const char *name = ctrl_info[c].v2_name;

		if (!name)
			continue;
		if (got_controllers && word_in_list(controllers, name))
			st->available = st->enabled = st->mounted = true;
		st->subtree = got_subtree && word_in_list(subtree, name);
	}
	return 0;
}

static int probe_controllers(const char *root, struct lp_board *b, struct lp_err *err)
{
	memset(b->ctrl, 0, sizeof(b->ctrl));
	if (read_proc_cgroups(root, b, err) < 0)
		return lp_prefix(err, "cgroup controllers");
	if (b->cgroup_mode == LP_BOARD_CGROUP_V2 && read_v2_controllers(root, b, err) < 0)
		return lp_prefix(err, "cgroup v2 controllers");
	return 0;
}

/* ---------------------------------------------------------------- namespaces */

static int probe_namespaces(const char *root, struct lp_board *b, struct lp_err *err)
{
	cleanup_free char *max = NULL;
	char rel[64];
	int got;

	for (int ns = 0; ns < LP_NS_COUNT; ns++) {
		snprintf(rel, sizeof(rel), "/proc/self/ns/%s", ns_names[ns]);
		if (path_exists(root, rel, &b->ns[ns], err) < 0)
			return lp_prefix(err, "namespaces");
	}
	got = read_optional(root, "/proc/sys/user/max_user_namespaces", SMALL_FILE_MAX, &max, err);
	if (got < 0)
		return lp_prefix(err, "user namespaces");
	b->max_user_namespaces = got ? strtol(max, NULL, 10) : -1;
	b->userns_allowed = b->ns[LP_NS_USER] && b->max_user_namespaces > 0;
	return 0;
}

/* ---------------------------------------------------------------- overlayfs */

/* A filesystem module is loaded by the kernel on first mount: installed is enough. */
static int probe_overlay_module(const char *root, struct lp_board *b, struct lp_err *err)
{
	char rel[PATH_MAX], path[PATH_MAX];
	cleanup_file FILE *f = NULL;
	cleanup_free char *line = NULL;
	size_t cap = 0;

	b->overlay_module = false;
	if (lp_path(rel, sizeof(rel), err, "/lib/modules/%s/modules.dep", b->kernel_release) < 0 ||
	    sysroot_path(path, sizeof(path), root, rel, err) < 0)
		return -1;
	f = fopen(path, "re");
	if (!f)
		return errno_means_absent(errno) ? 0 : lp_fail_errno(err, "open %s", path);
	while (getline(&line, &cap, f) >= 0) {
		char *colon = strchr(line, ':');

		if (colon)
			*colon = '\0';
		if (strstr(line, "/overlayfs/overlay.ko")) {
			b->overlay_module = true;
			return 0;
		}
	}
	if (ferror(f))
		return lp_fail_errno(err, "read %s", path);
	return 0;
}

static int probe_overlay(const char *root, struct lp_board *b, struct lp_err *err)
{
	cleanup_free char *fs = NULL;
	int got = read_optional(root, "/proc/filesystems", LIST_FILE_MAX, &fs, err);

	if (got < 0)
		return lp_prefix(err, "overlayfs");
	b->overlay = got && word_in_list(fs, "overlay");
	if (b->overlay) {
		b->overlay_module = false;
		return 0;
	}
	if (probe_overlay_module(root, b, err) < 0)
		return lp_prefix(err, "overlayfs module");
	return 0;
}

/* ---------------------------------------------------------------- seccomp, pidfd */

static int probe_seccomp(const char *root, struct lp_board *b, struct lp_err *err)
{
	cleanup_free char *status = NULL;
	bool prctl_ok = true;
	int got;

	/* EINVAL: the kernel was built without CONFIG_SECCOMP */
	if (!root[0] && prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
		prctl_ok = false;
	got = read_optional(root, "/proc/self/status", LIST_FILE_MAX, &status, err);
	if (got < 0)
		return lp_prefix(err, "seccomp");
	b->seccomp = prctl_ok && got && strstr(status, "\nSeccomp:") != NULL;
	b->seccomp_filter = false;
	if (b->seccomp && path_exists(root, "/proc/sys/kernel/seccomp/actions_avail",
				      &b->seccomp_filter, err) < 0)
		return lp_prefix(err, "seccomp");
	return 0;
}

static void probe_pidfd(const char *root, struct lp_board *b)
{
	long fd;

	b->pidfd_errno = 0;
	if (root[0]) {
		b->pidfd = lp_board_kernel_at_least(b, 5, 3);
		return;
	}
	fd = syscall(SYS_pidfd_open, (long)getpid(), 0L);
	if (fd < 0) {
		b->pidfd = false;
		b->pidfd_errno = errno;
		return;
	}
	close((int)fd);
	b->pidfd = true;
}

/* ---------------------------------------------------------------- KVM */

static int probe_kvm(const char *root, struct lp_board *b, struct lp_err *err)
{
	struct lp_board_kvm *kvm = &b->kvm;

	if (!root[0]) {
		lp_board_probe_kvm(kvm);
		return 0;
	}
	memset(kvm, 0, sizeof(*kvm));
	kvm->api_version = -1;
	if (path_exists(root, "/dev/kvm", &kvm->present, err) < 0)
		return lp_prefix(err, "kvm");
	return 0;
}

/* ---------------------------------------------------------------- public */

int lp_board_probe(struct lp_board *b, struct lp_err *err)
{
	const char *root = getenv("LIMPET_SYSROOT");

	if (!root)
		root = "";
	memset(b, 0, sizeof(*b));
	b->from_sysroot = root[0] != '\0';
	if (probe_model(root, b, err) < 0 || probe_pi_cmdline_txt(root, b, err) < 0 ||
	    probe_kernel(root, b, err) < 0 || probe_cmdline(root, b, err) < 0 ||
	    probe_cgroup_mode(root, b, err) < 0 || probe_controllers(root, b, err) < 0 ||
	    probe_namespaces(root, b, err) < 0 || probe_overlay(root, b, err) < 0 ||
	    probe_seccomp(root, b, err) < 0 || probe_kvm(root, b, err) < 0)
		return lp_prefix(err, "probing the board");
	probe_pidfd(root, b);
	return 0;
}

const char *lp_board_cgroup_mode_name(enum lp_board_cgroup_mode mode)
{
	switch (mode) {
	case LP_BOARD_CGROUP_V1:
		return "v1";
	case LP_BOARD_CGROUP_HYBRID:
		return "hybrid";
	case LP_BOARD_CGROUP_V2:
		return "v2";
	case LP_BOARD_CGROUP_NONE:
		break;
	}
	return "none";
}

const char *lp_board_ctrl_name(const struct lp_board *b, enum lp_board_ctrl c)
{
	const struct ctrl_info *info = &ctrl_info[c];

	if (b->cgroup_mode == LP_BOARD_CGROUP_V2 && info->v2_name)
		return info->v2_name;
	return info->v1_name;
}

bool lp_board_ctrl_usable(const struct lp_board *b, enum lp_board_ctrl c)
{
	return b->cgroup_mode != LP_BOARD_CGROUP_NONE && b->ctrl[c].enabled && b->ctrl[c].mounted;
}

const char *lp_board_ns_name(enum lp_board_ns ns)
{
	return ns_names[ns];
}

const char *lp_board_ctrl_kconfig(enum lp_board_ctrl c)
{
	return ctrl_info[c].kconfig;
}

bool lp_board_kernel_at_least(const struct lp_board *b, int major, int minor)
{
	return b->kernel_major > major || (b->kernel_major == major && b->kernel_minor >= minor);
}

const char *lp_board_platform(void)
{
	struct utsname u;

	if (uname(&u) < 0)
		return "linux/unknown";
	if (!strcmp(u.machine, "x86_64"))
		return "linux/amd64";
	if (!strcmp(u.machine, "aarch64") || !strcmp(u.machine, "arm64"))
		return "linux/arm64";
	if (!strncmp(u.machine, "armv7", 5) || !strncmp(u.machine, "armv8l", 6))
		return "linux/arm/v7";
	if (!strncmp(u.machine, "armv6", 5))
		return "linux/arm/v6";
	return "linux/unknown";
}
