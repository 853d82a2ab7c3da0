// SPDX-License-Identifier: Apache-2.0
/*
 * The container's filesystem view: overlay root, private /proc, a minimal
 * /dev, read-only /sys, and the /proc paths runc masks, then pivot_root.
 */
#include "linux.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "platform/lib/util.h"

/* The nodes every container gets; the v1 devices cgroup allows exactly these. */
static const char *const default_devices[] = { "null", "zero", "full", "random", "urandom", "tty" };

/* What runc masks: kernel data a container must not read or poke. */
static const char *const masked_paths[] = {
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
};

static const char *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static int do_mount(const char *src, const char *dst, const char *type, unsigned long flags,
		    const char *data, struct lp_err *err)
{
	if (mount(src, dst, type, flags, data) < 0)
		return lp_fail_errno(err, "mount %s on %s", type ? type : src ? src : "(remount)",
				     dst);
	return 0;
}

static int make_node_target(const char *path, bool dir, struct lp_err *err)
{
	char parent[PATH_MAX];
	char *slash;
	int fd;

	if (lp_path(parent, sizeof(parent), err, "%s", path) < 0)
		return -1;
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (lp_mkdir_p(parent, 0755, err) < 0)
			return -1;
	}
	if (dir)
		return mkdir(path, 0755) < 0 && errno != EEXIST ? lp_fail_errno(err, "mkdir %s", path)
								 : 0;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return lp_fail_errno(err, "create %s", path);
	close(fd);
	return 0;
}

static int bind_node(const char *host, const char *target, struct lp_err *err)
{
	if (make_node_target(target, false, err) < 0)
		return -1;
	return do_mount(host, target, NULL, MS_BIND, NULL, err);
}

static int setup_dev(const char *root, const struct lp_spec *spec, struct lp_err *err)
{
	char dev[PATH_MAX], path[PATH_MAX], host[PATH_MAX];
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" },	   { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" },   { "/proc/self/fd/2", "stderr" },
		{ "pts/ptmx", "ptmx" },
	};
	size_t i;

	if (lp_path(dev, sizeof(dev), err, "%s/dev", root) < 0 ||
	    make_node_target(dev, true, err) < 0 ||
	    do_mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k",
		     err) < 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(default_devices); i++) {
		if (lp_path(path, sizeof(path), err, "%s/%s", dev, default_devices[i]) < 0 ||
		    lp_path(host, sizeof(host), err, "/dev/%s", default_devices[i]) < 0 ||
		    bind_node(host, path, err) < 0)
			return -1;
	}
	for (i = 0; i < spec->n_devices; i++) {
		const struct lp_device *d = &spec->devices[i];

		if (lp_path(path, sizeof(path), err, "%s%s", root, d->inner) < 0 ||
		    bind_node(d->host, path, err) < 0)
			return lp_prefix(err, "--device %s", d->host);
	}
	if (lp_path(path, sizeof(path), err, "%s/pts", dev) < 0 ||
	    make_node_target(path, true, err) < 0 ||
	    do_mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC,
		     "newinstance,ptmxmode=0666,mode=0620,gid=5", err) < 0)
		return -1;
	if (lp_path(path, sizeof(path), err, "%s/shm", dev) < 0 ||
	    make_node_target(path, true, err) < 0 ||
	    do_mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		     "mode=1777,size=65536k", err) < 0)
		return -1;
	if (lp_path(path, sizeof(path), err, "%s/mqueue", dev) < 0 ||
	    make_node_target(path, true, err) < 0 ||
	    do_mount("mqueue", path, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) < 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(links); i++) {
		if (lp_path(path, sizeof(path), err, "%s/%s", dev, links[i][1]) < 0)
			return -1;
		if (symlink(links[i][0], path) < 0 && errno != EEXIST)
			return lp_fail_errno(err, "symlink %s", path);
	}
	return 0;
}

static int setup_sys(const char *root, struct lp_err *err)
{
	char path[PATH_MAX];
	unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

	if (lp_path(path, sizeof(path), err, "%s/sys", root) < 0 ||
	    make_node_target(path, true, err) < 0)
		return -1;
	if (mount("sysfs", path, "sysfs", ro, NULL) == 0)
		return 0;
	/* A fresh sysfs needs our own network namespace; with --net host, bind the host's. */
	if (do_mount("/sys", path, NULL, MS_BIND | MS_REC, NULL, err) < 0)
		return -1;
	return do_mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | ro, NULL, err);
}

static int mask_path(const char *root, const char *rel, struct lp_err *err)
{
	char path[PATH_MAX], null[PATH_MAX];
	struct stat st;

	if (lp_path(path, sizeof(path), err, "%s%s", root, rel) < 0 ||
	    lp_path(null, sizeof(null), err, "%s/dev/null", root) < 0)
		return -1;
	if (stat(path, &st) < 0)
		return 0; /* absent on this kernel: nothing to hide */
	if (S_ISDIR(st.st_mode))
		return do_mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
				"size=0", err);
	return do_mount(null, path, NULL, MS_BIND, NULL, err);
}

static int readonly_path(const char *root, const char *rel, struct lp_err *err)
{
	char path[PATH_MAX];
	struct stat st;

	if (lp_path(path, sizeof(path), err, "%s%s", root, rel) < 0)
		return -1;
	if (stat(path, &st) < 0)
		return 0;
	if (do_mount(path, path, NULL, MS_BIND | MS_REC, NULL, err) < 0)
		return -1;
	return do_mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
				 MS_NOEXEC, NULL, err);
}

static int mount_overlay(const struct lp_spec *spec, struct lp_err *err)
{
	char opts[PATH_MAX * 2];

	/* Inside a user namespace overlay may not use trusted.* xattrs: user.* instead. */
	if (lp_path(opts, sizeof(opts), err, "lowerdir=%s,upperdir=%s,workdir=%s%s", spec->lowerdir,
		    spec->upperdir, spec->workdir, spec->userns_count ? ",userxattr" : "") < 0)
		return -1;
	/*
	 * nodev: device nodes that happen to be in an image are inert; the only
	 * usable ones are those bound into /dev from the host.
	 */
	if (mount("overlay", spec->mergedir, "overlay", MS_NODEV, opts) < 0)
		return lp_fail_errno(err, "mount overlay on %s (lower %s)", spec->mergedir,
				     spec->lowerdir);
	return 0;
}

static int pivot_into(const char *root, struct lp_err *err)
{
	if (chdir(root) < 0)
		return lp_fail_errno(err, "chdir %s", root);
	/* Stack the old root under the new one, then detach it: no temp dir needed. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return lp_fail_errno(err, "pivot_root %s", root);
	if (umount2(".", MNT_DETACH) < 0)
		return lp_fail_errno(err, "detach old root");
	if (chdir("/") < 0)
		return lp_fail_errno(err, "chdir /");
	return 0;
}

int lp_mount_rootfs(const struct lp_spec *spec, struct lp_err *err)
{
	const char *root = spec->mergedir;
	char path[PATH_MAX];
	size_t i;

	/* Nothing we mount from here on may propagate back to the host. */
	if (do_mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL, err) < 0)
		return -1;
	if (mount_overlay(spec, err) < 0)
		return -1;
	if (lp_path(path, sizeof(path), err, "%s/proc", root) < 0 ||
	    make_node_target(path, true, err) < 0 ||
	    do_mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) < 0)
		return -1;
	if (setup_dev(root, spec, err) < 0 || setup_sys(root, err) < 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(masked_paths); i++)
		if (mask_path(root, masked_paths[i], err) < 0)
			return -1;
	for (i = 0; i < ARRAY_SIZE(readonly_paths); i++)
		if (readonly_path(root, readonly_paths[i], err) < 0)
			return -1;
	return pivot_into(root, err);
}

int lp_mount_finish(const struct lp_spec *spec, struct lp_err *err)
{
	if (!spec->read_only)
		return 0;
	return do_mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NODEV, NULL, err);
}
