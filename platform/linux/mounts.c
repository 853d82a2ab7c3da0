// SPDX-License-Identifier: Apache-2.0
/*
 * The container's filesystem view: overlay root, volumes bound in, private
 * /proc, a minimal /dev, read-only /sys, and the /proc paths runc masks,
 * then pivot_root.
 */
#include "linux.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
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

/* path inside the directory rootfd, symlinks resolved as if rootfd were "/". */
static int open_in_root(int rootfd, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/*
 * The directory path inside rootfd as an O_PATH fd, each missing component
 * made (0755) on the way.  Every step resolves inside the root, so a symlink
 * in the image cannot point the mkdir or the mount at the host.
 */
static int make_dir_in_root(int rootfd, const char *path, struct lp_err *err)
{
	char prefix[PATH_MAX], comp[NAME_MAX + 1];
	const char *p = path;
	int parent, fd;
	size_t len, used = 0;

	parent = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
	if (parent < 0)
		return lp_fail_errno(err, "dup");
	while (*(p += strspn(p, "/"))) {
		len = strcspn(p, "/");
		if (len > NAME_MAX || used + len + 2 > sizeof(prefix)) {
			close(parent);
			return lp_fail(err, ENAMETOOLONG, "the path is too long");
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		used += (size_t)snprintf(prefix + used, sizeof(prefix) - used, "/%s", comp);
		p += len;
		fd = open_in_root(rootfd, prefix);
		if (fd < 0 && errno == ENOENT) {
			if (mkdirat(parent, comp, 0755) < 0 && errno != EEXIST) {
				close(parent);
				return lp_fail_errno(err, "mkdir");
			}
			fd = open_in_root(rootfd, prefix);
		}
		close(parent);
		if (fd < 0)
			return lp_fail_errno(err, "open %s", prefix);
		parent = fd;
	}
	return parent;
}

static bool same_dir(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/*
 * Flags of the source's mount that a user namespace may not drop: a
 * remount without them would fail with EPERM.
 */
static unsigned long locked_flags(int fd)
{
	static const struct {
		unsigned long st, ms;
	} map[] = { { ST_RDONLY, MS_RDONLY }, { ST_NOEXEC, MS_NOEXEC } };
	unsigned long flags = 0;
	struct statfs sf;
	size_t i;

	if (fstatfs(fd, &sf) < 0)
		return 0;
	for (i = 0; i < ARRAY_SIZE(map); i++)
		if (sf.f_flags & map[i].st)
			flags |= map[i].ms;
	return flags;
}

/* Through /proc/self/fd: the very directory fd names, whatever the path does meanwhile. */
static int mount_at_fd(const char *src, int fd, unsigned long flags)
{
	char target[64];

	snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
	return mount(src, target, NULL, flags, NULL);
}

static int bind_one(int rootfd, const struct lp_bind *b, struct lp_err *err)
{
	unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV;
	cleanup_fd int fd = make_dir_in_root(rootfd, b->target, err);
	cleanup_fd int mounted = -1;

	if (fd < 0)
		return -1;
	if (same_dir(fd, rootfd))
		return lp_fail(err, EINVAL, "resolves to the container's root");
	if (mount_at_fd(b->source, fd, MS_BIND) < 0)
		return lp_fail_errno(err, "bind %s", b->source);
	/* Open it again to get the new mount rather than the directory under it. */
	mounted = open_in_root(rootfd, b->target);
	if (mounted < 0)
		return lp_fail_errno(err, "open");
	flags |= locked_flags(mounted) | (b->read_only ? MS_RDONLY : 0);
	if (mount_at_fd(NULL, mounted, flags) < 0)
		return lp_fail_errno(err, "remount nosuid,nodev");
	return 0;
}

/*
 * Volumes go in before /proc, /dev and /sys, so none of those can be
 * covered by one: the masks and read-only paths always win.
 */
static int bind_volumes(const struct lp_spec *spec, struct lp_err *err)
{
	cleanup_fd int rootfd = -1;
	size_t i;

	if (!spec->n_binds)
		return 0;
	rootfd = open(spec->mergedir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return lp_fail_errno(err, "open %s", spec->mergedir);
	for (i = 0; i < spec->n_binds; i++)
		if (bind_one(rootfd, &spec->binds[i], err) < 0)
			return lp_prefix(err, "volume %s", spec->binds[i].target);
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
	if (mount_overlay(spec, err) < 0 || bind_volumes(spec, err) < 0)
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
