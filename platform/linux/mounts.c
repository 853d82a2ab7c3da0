// SPDX-License-Identifier: Apache-2.0
/*
 * The container's filesystem view: overlay root, volumes bound in, private
 * /proc, a minimal /dev, read-only /sys, and the /proc paths runc masks,
 * then pivot_root.
 *
 * The image decides what its root holds, symlinks included, so every mount
 * target is resolved inside the root and held as an fd from then on: a
 * symlink where a mount must go is refused, and each mount goes on the fd
 * (the new mount API or /proc/self/fd/N), never on a path looked up again.
 */
#include "platform/linux/linux.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "platform/cgroup.h"
#include "platform/lib/util.h"

/*
 * The new mount API (Linux 5.2; mount_setattr 5.12), spelt out here: musl
 * has no wrappers, and glibc's <sys/mount.h> and <linux/mount.h> clash.
 * These syscall numbers are the same on every architecture.
 */
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

enum {
	LP_FSCONFIG_SET_FLAG = 0,
	LP_FSCONFIG_SET_STRING = 1,
	LP_FSCONFIG_CMD_CREATE = 6,
	LP_OPEN_TREE_CLONE = 1,
	LP_MOVE_MOUNT_F_EMPTY_PATH = 0x4,
	LP_MOVE_MOUNT_T_EMPTY_PATH = 0x40,
	LP_AT_RECURSIVE = 0x8000,
};

#define A_RDONLY 0x1u
#define A_NOSUID 0x2u
#define A_NODEV 0x4u
#define A_NOEXEC 0x8u
#define A_STRICTATIME 0x20u
#define A_LOCKED_DOWN (A_RDONLY | A_NOSUID | A_NODEV | A_NOEXEC)

struct lp_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* The nodes every container gets; the v1 devices cgroup allows exactly these. */
static const char *const default_devices[] = { "null", "zero", "full", "random", "urandom", "tty" };

/* What runc masks: kernel data a container must not read or poke. */
static const char *const proc_masked[] = {
	"acpi", "asound", "kcore", "keys", "latency_stats", "timer_list", "timer_stats",
	"sched_debug", "scsi",
};
static const char *const sys_masked[] = { "firmware", "devices/virtual/powercap" };
static const char *const proc_readonly[] = { "bus", "fs", "irq", "sys", "sysrq-trigger" };

/* Keep errno across a close on an error path. */
static int close_keep_errno(int fd)
{
	int e = errno;

	close(fd);
	errno = e;
	return -1;
}

/* path inside the directory rootfd, symlinks resolved as if rootfd were "/". */
static int open_in_root(int rootfd, const char *path)
{
	return lp_openat2(rootfd, path, O_PATH | O_DIRECTORY,
			  RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

/* Mount the detached mount mnt on the very place the fd at names. */
static int attach(int mnt, int at)
{
	return (int)syscall(SYS_move_mount, mnt, "", at, "",
			    LP_MOVE_MOUNT_F_EMPTY_PATH | LP_MOVE_MOUNT_T_EMPTY_PATH);
}

/* Through /proc/self/fd: the very file fd names, whatever the path does meanwhile. */
static int mount_at_fd(const char *src, int fd, const char *type, unsigned long flags,
		       const char *data)
{
	char target[64];

	snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
	return mount(src, target, type, flags, data);
}

/*
 * A copy of the mount at dir/path (with open_flags: AT_RECURSIVE,
 * AT_EMPTY_PATH...), attrs added, mounted on at.  The copy's fd, or -1
 * and errno.
 */
static int bind_tree(int dir, const char *path, unsigned int open_flags, unsigned int attrs, int at)
{
	struct lp_mount_attr a = { .attr_set = attrs };
	int tree = (int)syscall(SYS_open_tree, dir, path, LP_OPEN_TREE_CLONE | O_CLOEXEC | open_flags);

	if (tree < 0)
		return -1;
	if (attrs && syscall(SYS_mount_setattr, tree, "",
			     AT_EMPTY_PATH | (open_flags & LP_AT_RECURSIVE), &a, sizeof(a)) < 0)
		return close_keep_errno(tree);
	if (attach(tree, at) < 0)
		return close_keep_errno(tree);
	return tree;
}

/*
 * A new filesystem of type (opts: "key=value,flag,...") mounted on at.
 * Its root's fd: what goes on inside it is then found in this very mount.
 */
static int mount_new(const char *source, const char *type, const char *opts, unsigned int attrs,
		     int at, const char *where, struct lp_err *err)
{
	cleanup_fd int fs = (int)syscall(SYS_fsopen, type, 1 /* FSOPEN_CLOEXEC */);
	char buf[64], *key, *val, *save = NULL;
	int mnt;

	if (fs < 0)
		return lp_fail_errno(err, "mount %s on %s", type, where);
	if (syscall(SYS_fsconfig, fs, LP_FSCONFIG_SET_STRING, "source", source, 0) < 0)
		return lp_fail_errno(err, "mount %s on %s: source %s", type, where, source);
	snprintf(buf, sizeof(buf), "%s", opts ? opts : "");
	for (key = strtok_r(buf, ",", &save); key; key = strtok_r(NULL, ",", &save)) {
		val = strchr(key, '=');
		if (val)
			*val++ = '\0';
		if (syscall(SYS_fsconfig, fs, val ? LP_FSCONFIG_SET_STRING : LP_FSCONFIG_SET_FLAG,
			    key, val, 0) < 0)
			return lp_fail_errno(err, "mount %s on %s: option %s", type, where, key);
	}
	if (syscall(SYS_fsconfig, fs, LP_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return lp_fail_errno(err, "mount %s on %s", type, where);
	mnt = (int)syscall(SYS_fsmount, fs, 1 /* FSMOUNT_CLOEXEC */, attrs);
	if (mnt < 0 || attach(mnt, at) < 0) {
		lp_fail_errno(err, "mount %s on %s", type, where);
		if (mnt >= 0)
			close(mnt);
		return -1;
	}
	return mnt;
}

/*
 * " (name -> target)" if name in dir is a symlink, else "": the target made
 * printable, as it comes from the image and goes to the operator's terminal.
 */
static const char *link_note(int dir, const char *name, char *buf, size_t size)
{
	char target[200];
	ssize_t n = readlinkat(dir, name, target, sizeof(target) - 1);
	ssize_t i;

	buf[0] = '\0';
	if (n < 0)
		return buf;
	for (i = 0; i < n; i++)
		if ((unsigned char)target[i] < 0x20 || (unsigned char)target[i] >= 0x7f)
			target[i] = '?';
	target[n] = '\0';
	snprintf(buf, size, " (%s -> %s%s)", name, target,
		 n == (ssize_t)sizeof(target) - 1 ? "..." : "");
	return buf;
}

/* name in dir, found where a mount must go but not fit for it: refuse it. */
static int refuse(int dir, const char *name, const char *path, const struct stat *st,
		  bool want_dir, struct lp_err *err)
{
	char note[NAME_MAX + 256];

	if (S_ISLNK(st->st_mode))
		return lp_fail(err, ELOOP, "%s is a symlink%s: refused", path,
			       link_note(dir, name, note, sizeof(note)));
	if (want_dir)
		return lp_fail(err, ENOTDIR, "%s is not a directory: refused", path);
	return lp_fail(err, EISDIR, "%s is a directory: refused", path);
}

/*
 * name in dir as an O_PATH fd for a mount to go on: a directory, or for a
 * device node any other file, made if missing.  Never a symlink: even one
 * resolved inside the root lets the image choose where the mount lands
 * (proc -> sys/x puts /proc where sysfs then hides it from the masks).
 * path names it in messages.
 */
static int mount_point(int dir, const char *name, const char *path, bool want_dir,
		       struct lp_err *err)
{
	const uint64_t resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	struct stat st;
	int fd, made;

	fd = lp_openat2(dir, name, O_PATH | O_NOFOLLOW, resolve);
	if (fd < 0 && errno == ENOENT) {
		made = want_dir ? mkdirat(dir, name, 0755) : mknodat(dir, name, S_IFREG | 0644, 0);
		if (made < 0 && errno != EEXIST)
			return lp_fail_errno(err, "make %s", path);
		fd = lp_openat2(dir, name, O_PATH | O_NOFOLLOW, resolve);
	}
	if (fd < 0)
		return lp_fail_errno(err, "open %s", path);
	if (fstat(fd, &st) < 0) {
		close_keep_errno(fd);
		return lp_fail_errno(err, "stat %s", path);
	}
	if (S_ISLNK(st.st_mode) || want_dir != S_ISDIR(st.st_mode)) {
		close(fd);
		return refuse(dir, name, path, &st, want_dir, err);
	}
	return fd;
}

/*
 * The directory holding path's last component, as an O_PATH fd, each missing
 * directory made (0755) on the way; the component goes to name.  Every step
 * resolves inside the root: a symlink in the image is followed as if the
 * root were "/", so nothing made or mounted can land outside it.
 */
static int open_parent(int rootfd, const char *path, char name[NAME_MAX + 1], struct lp_err *err)
{
	char prefix[PATH_MAX];
	const char *p = path;
	size_t len, used = 0;
	int parent, fd;

	parent = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
	if (parent < 0)
		return lp_fail_errno(err, "dup");
	for (;;) {
		p += strspn(p, "/");
		len = strcspn(p, "/");
		if (len > NAME_MAX || used + len + 2 > sizeof(prefix)) {
			close(parent);
			return lp_fail(err, ENAMETOOLONG, "the path is too long");
		}
		memcpy(name, p, len);
		name[len] = '\0';
		p += len;
		if (!p[strspn(p, "/")])
			break;
		used += (size_t)snprintf(prefix + used, sizeof(prefix) - used, "/%s", name);
		fd = open_in_root(rootfd, prefix);
		if (fd < 0 && errno == ENOENT) {
			if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST) {
				close_keep_errno(parent);
				return lp_fail_errno(err, "mkdir %s", prefix);
			}
			fd = open_in_root(rootfd, prefix);
		}
		if (fd < 0) {
			char note[NAME_MAX + 256];
			int e = errno;

			link_note(parent, name, note, sizeof(note));
			close(parent);
			errno = e;
			return lp_fail_errno(err, "open %s%s", prefix, note);
		}
		close(parent);
		parent = fd;
	}
	if (!*name) {
		close(parent);
		return lp_fail(err, EINVAL, "'%s' names no file", path);
	}
	return parent;
}

/* path (absolute, inside the root) as a mount point: open_parent, then mount_point. */
static int mount_point_in_root(int rootfd, const char *path, bool want_dir, struct lp_err *err)
{
	char name[NAME_MAX + 1];
	cleanup_fd int parent = open_parent(rootfd, path, name, err);

	if (parent < 0)
		return -1;
	return mount_point(parent, name, path, want_dir, err);
}

/* The host's node host bound on a file made at name in dir (path in messages). */
static int bind_node(int dir, const char *name, const char *path, const char *host,
		     struct lp_err *err)
{
	cleanup_fd int fd = mount_point(dir, name, path, false, err);

	if (fd < 0)
		return -1;
	if (mount_at_fd(host, fd, NULL, MS_BIND, NULL) < 0)
		return lp_fail_errno(err, "bind %s on %s", host, path);
	return 0;
}

/* A file system of its own on the directory name of dev (the new /dev). */
static int dev_submount(int dev, const char *name, const char *source, const char *type,
			unsigned int attrs, const char *opts, struct lp_err *err)
{
	char path[32];
	cleanup_fd int at = -1, mnt = -1;

	snprintf(path, sizeof(path), "/dev/%s", name);
	at = mount_point(dev, name, path, true, err);
	if (at < 0)
		return -1;
	mnt = mount_new(source, type, opts, attrs, at, path, err);
	return mnt < 0 ? -1 : 0;
}

static int setup_dev(int rootfd, const struct lp_spec *spec, struct lp_err *err)
{
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" },	   { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" },   { "/proc/self/fd/2", "stderr" },
		{ "pts/ptmx", "ptmx" },
	};
	char path[64];
	cleanup_fd int at = mount_point(rootfd, "dev", "/dev", true, err);
	cleanup_fd int dev = -1;
	size_t i;

	if (at < 0)
		return -1;
	/* Every node below is made through this fd: the tmpfs, never the path to it. */
	dev = mount_new("tmpfs", "tmpfs", "mode=755,size=65536k", A_NOSUID | A_STRICTATIME, at,
			"/dev", err);
	if (dev < 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(default_devices); i++) {
		snprintf(path, sizeof(path), "/dev/%s", default_devices[i]);
		if (bind_node(dev, default_devices[i], path, path, err) < 0)
			return -1;
	}
	for (i = 0; i < spec->n_devices; i++) {
		const struct lp_device *d = &spec->devices[i];
		char name[NAME_MAX + 1];
		cleanup_fd int parent = open_parent(rootfd, d->inner, name, err);

		if (parent < 0 || bind_node(parent, name, d->inner, d->host, err) < 0)
			return lp_prefix(err, "--device %s", d->host);
	}
	if (dev_submount(dev, "pts", "devpts", "devpts", A_NOSUID | A_NOEXEC,
			 "newinstance,ptmxmode=0666,mode=0620,gid=5", err) < 0 ||
	    dev_submount(dev, "shm", "shm", "tmpfs", A_NOSUID | A_NODEV | A_NOEXEC,
			 "mode=1777,size=65536k", err) < 0 ||
	    dev_submount(dev, "mqueue", "mqueue", "mqueue", A_NOSUID | A_NODEV | A_NOEXEC, NULL,
			 err) < 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(links); i++)
		if (symlinkat(links[i][0], dev, links[i][1]) < 0 && errno != EEXIST)
			return lp_fail_errno(err, "symlink /dev/%s", links[i][1]);
	return 0;
}

/* /sys read-only; the root of that mount as an fd. */
static int setup_sys(int rootfd, struct lp_err *err)
{
	cleanup_fd int at = mount_point(rootfd, "sys", "/sys", true, err);
	struct lp_err ignored = { 0 };
	int mnt;

	if (at < 0)
		return -1;
	mnt = mount_new("sysfs", "sysfs", NULL, A_LOCKED_DOWN, at, "/sys", &ignored);
	if (mnt >= 0)
		return mnt;
	/*
	 * A fresh sysfs needs our own network namespace; with --net host, a
	 * copy of the host's, read-only down to every mount under it.
	 */
	mnt = bind_tree(AT_FDCWD, "/sys", LP_AT_RECURSIVE, A_LOCKED_DOWN, at);
	if (mnt < 0)
		return lp_fail_errno(err, "bind /sys on /sys");
	return mnt;
}

/*
 * The file or directory rel under fs (a fresh proc or sys mount, named top
 * in messages) into *fd, for a mask or a read-only copy to go on: 1.
 * Missing: 0, as this kernel has nothing there to hide; decided in the
 * fresh mount itself, never through a path the image could redirect.
 */
static int open_under(int fs, const char *top, const char *rel, char *path, size_t size, int *fd,
		      struct lp_err *err)
{
	snprintf(path, size, "%s/%s", top, rel);
	*fd = lp_openat2(fs, rel, O_PATH | O_NOFOLLOW,
			 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
				 RESOLVE_NO_XDEV);
	if (*fd >= 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	return lp_fail_errno(err, "cannot protect %s", path);
}

static int mask_path(int fs, const char *top, const char *rel, struct lp_err *err)
{
	char path[64];
	cleanup_fd int fd = -1, mnt = -1;
	struct stat st;
	int found = open_under(fs, top, rel, path, sizeof(path), &fd, err);

	if (found <= 0)
		return found;
	if (fstat(fd, &st) < 0)
		return lp_fail_errno(err, "cannot mask %s", path);
	if (S_ISDIR(st.st_mode)) {
		mnt = mount_new("tmpfs", "tmpfs", "size=0", A_LOCKED_DOWN, fd, path, err);
		return mnt < 0 ? lp_prefix(err, "cannot mask %s", path) : 0;
	}
	if (mount_at_fd("/dev/null", fd, NULL, MS_BIND, NULL) < 0)
		return lp_fail_errno(err, "cannot mask %s: bind /dev/null", path);
	return 0;
}

static int readonly_path(int fs, const char *top, const char *rel, struct lp_err *err)
{
	char path[64];
	cleanup_fd int fd = -1, mnt = -1;
	int found = open_under(fs, top, rel, path, sizeof(path), &fd, err);

	if (found <= 0)
		return found;
	mnt = bind_tree(fd, "", AT_EMPTY_PATH | LP_AT_RECURSIVE, A_LOCKED_DOWN, fd);
	if (mnt < 0)
		return lp_fail_errno(err, "cannot make %s read-only", path);
	return 0;
}

/* One v1 hierarchy in its directory of the tmpfs top; its other controllers link to it. */
static int mount_v1_hierarchy(int top, const struct lp_cgroup_fs *fs, struct lp_err *err)
{
	char where[64], alias[sizeof(fs->name)];
	cleanup_fd int dir = -1, mnt = -1;
	const char *p;
	size_t len;

	snprintf(where, sizeof(where), "/sys/fs/cgroup/%s", fs->name);
	if (mkdirat(top, fs->name, 0755) < 0)
		return lp_fail_errno(err, "mkdir %s", where);
	dir = openat(top, fs->name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return lp_fail_errno(err, "open %s", where);
	mnt = mount_new("cgroup", "cgroup", fs->controllers, A_LOCKED_DOWN, dir, where, err);
	if (mnt < 0)
		return -1;
	/* "cpu" and "cpuacct" lead to "cpu,cpuacct", as on the host. */
	for (p = fs->controllers; *p; p += len + (p[len] == ',')) {
		len = strcspn(p, ",");
		if (len >= sizeof(alias))
			continue;
		snprintf(alias, sizeof(alias), "%.*s", (int)len, p);
		if (strcmp(alias, fs->name) && symlinkat(fs->name, top, alias) < 0 && errno != EEXIST)
			return lp_fail_errno(err, "symlink /sys/fs/cgroup/%s", alias);
	}
	return 0;
}

/*
 * The container's cgroups on /sys/fs/cgroup, read-only, as Docker mounts
 * them: fresh mounts made in the container's cgroup namespace, so each has
 * the container's own cgroup as its root and its limits at the top.
 */
static int setup_cgroup(int sys, const struct lp_spec *spec, struct lp_err *err)
{
	struct lp_cgroup_fs fs[LP_CGROUP_MAX_FS];
	struct lp_mount_attr ro = { .attr_set = A_RDONLY };
	char path[64];
	cleanup_fd int at = -1, top = -1;
	int i, n;

	if (!spec->cgroup)
		return 0;
	n = lp_cgroup_views(fs, err);
	if (n <= 0)
		return n;
	/*
	 * In a fresh sysfs an empty directory; in a copy of the host's (--net
	 * host with --userns) the host's cgroup mount, which ours then hides.
	 */
	snprintf(path, sizeof(path), "/sys/fs/cgroup");
	at = lp_openat2(sys, "fs/cgroup", O_PATH | O_DIRECTORY,
			RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	if (at < 0)
		return errno == ENOENT ? 0 : lp_fail_errno(err, "open %s", path);
	if (!strcmp(fs[0].type, "cgroup2")) {
		cleanup_fd int mnt = mount_new("cgroup2", "cgroup2", NULL, A_LOCKED_DOWN, at, path,
					       err);

		return mnt < 0 ? -1 : 0;
	}
	/* v1: a small tmpfs holds a directory per hierarchy, then turns read-only. */
	top = mount_new("tmpfs", "tmpfs", "mode=755,size=64k", A_NOSUID | A_NODEV | A_NOEXEC, at,
			path, err);
	if (top < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (mount_v1_hierarchy(top, &fs[i], err) < 0)
			return -1;
	if (syscall(SYS_mount_setattr, top, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0)
		return lp_fail_errno(err, "make %s read-only", path);
	return 0;
}

/* The overlay on spec->mergedir; its root as an O_PATH fd. */
static int mount_overlay(const struct lp_spec *spec, struct lp_err *err)
{
	const int flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	char opts[PATH_MAX * 2];
	cleanup_fd int at = -1;
	struct statfs sf;
	int rootfd;

	/* Inside a user namespace overlay may not use trusted.* xattrs: user.* instead. */
	if (lp_path(opts, sizeof(opts), err, "lowerdir=%s,upperdir=%s,workdir=%s%s", spec->lowerdir,
		    spec->upperdir, spec->workdir, spec->userns_count ? ",userxattr" : "") < 0)
		return -1;
	at = open(spec->mergedir, flags);
	if (at < 0)
		return lp_fail_errno(err, "open %s", spec->mergedir);
	/*
	 * nodev: device nodes that happen to be in an image are inert; the only
	 * usable ones are those bound into /dev from the host.
	 */
	if (mount_at_fd("overlay", at, "overlay", MS_NODEV, opts) < 0)
		return lp_fail_errno(err, "mount overlay on %s (lower %s)", spec->mergedir,
				     spec->lowerdir);
	/* Opened again to get the new mount rather than the directory under it. */
	rootfd = open(spec->mergedir, flags);
	if (rootfd < 0)
		return lp_fail_errno(err, "open %s", spec->mergedir);
	if (fstatfs(rootfd, &sf) < 0 || sf.f_type != OVERLAYFS_SUPER_MAGIC) {
		close(rootfd);
		return lp_fail(err, EXDEV, "%s is not the overlay just mounted", spec->mergedir);
	}
	return rootfd;
}

static bool same_dir(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static int bind_one(int rootfd, const struct lp_bind *b, struct lp_err *err)
{
	unsigned int attrs = A_NOSUID | A_NODEV | (b->read_only ? A_RDONLY : 0);
	cleanup_fd int fd = mount_point_in_root(rootfd, b->target, true, err);
	cleanup_fd int mnt = -1;

	if (fd < 0)
		return -1;
	if (same_dir(fd, rootfd))
		return lp_fail(err, EINVAL, "resolves to the container's root");
	/*
	 * Attributes set on the detached copy: it is never mounted without
	 * them.  The source is /proc/self/fd/N of a directory the runtime
	 * opened O_NOFOLLOW while it had the host's credentials: the magic
	 * link must be followed to reach it.
	 */
	mnt = bind_tree(AT_FDCWD, b->source, 0, attrs, fd);
	if (mnt < 0)
		return lp_fail_errno(err, "bind %s", b->source);
	return 0;
}

/*
 * Volumes go in before /proc, /dev and /sys, so none of those can be
 * covered by one: the masks and read-only paths always win.
 */
static int bind_volumes(int rootfd, const struct lp_spec *spec, struct lp_err *err)
{
	size_t i;

	for (i = 0; i < spec->n_binds; i++)
		if (bind_one(rootfd, &spec->binds[i], err) < 0)
			return lp_prefix(err, "volume %s", spec->binds[i].target);
	return 0;
}

static int pivot_into(int rootfd, const char *root, struct lp_err *err)
{
	if (fchdir(rootfd) < 0)
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

/* /proc, /dev, /sys, then the masks and read-only paths, which win over all else. */
static int mount_kernel_fs(int rootfd, const struct lp_spec *spec, struct lp_err *err)
{
	cleanup_fd int at = mount_point(rootfd, "proc", "/proc", true, err);
	cleanup_fd int proc = -1, sys = -1;
	size_t i;

	if (at < 0)
		return -1;
	proc = mount_new("proc", "proc", NULL, A_NOSUID | A_NODEV | A_NOEXEC, at, "/proc", err);
	if (proc < 0 || setup_dev(rootfd, spec, err) < 0)
		return -1;
	sys = setup_sys(rootfd, err);
	if (sys < 0 || setup_cgroup(sys, spec, err) < 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(proc_masked); i++)
		if (mask_path(proc, "/proc", proc_masked[i], err) < 0)
			return -1;
	for (i = 0; i < ARRAY_SIZE(sys_masked); i++)
		if (mask_path(sys, "/sys", sys_masked[i], err) < 0)
			return -1;
	for (i = 0; i < ARRAY_SIZE(proc_readonly); i++)
		if (readonly_path(proc, "/proc", proc_readonly[i], err) < 0)
			return -1;
	return 0;
}

int lp_mount_root(const struct lp_spec *spec, struct lp_err *err)
{
	cleanup_fd int rootfd = -1;

	/* Nothing we mount from here on may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return lp_fail_errno(err, "make / private");
	rootfd = mount_overlay(spec, err);
	return rootfd < 0 || bind_volumes(rootfd, spec, err) < 0 ? -1 : steal_fd(&rootfd);
}

int lp_mount_rootfs(const struct lp_spec *spec, struct lp_err *err)
{
	cleanup_fd int rootfd = lp_mount_root(spec, err);

	if (rootfd < 0)
		return -1;
	if (mount_kernel_fs(rootfd, spec, err) < 0)
		return lp_prefix(err, "rootfs");
	return pivot_into(rootfd, spec->mergedir, err);
}

int lp_mount_finish(const struct lp_spec *spec, struct lp_err *err)
{
	if (!spec->read_only)
		return 0;
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NODEV, NULL) < 0)
		return lp_fail_errno(err, "remount / read-only");
	return 0;
}
