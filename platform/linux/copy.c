// SPDX-License-Identifier: Apache-2.0
/*
 * limpet cp's walk (platform/copy.h).  Both ends of a copy are held as fds:
 * the source as O_PATH fds opened without following, read through a fresh
 * open of that very inode once its type is known (so a device node swapped
 * in meanwhile is never opened); the destination as directory fds, each
 * entry made beside them with O_EXCL|O_NOFOLLOW.  A file in the way is
 * unlinked and made anew, never written through, so a symlink the container
 * planted there only ever gets replaced.
 */
#include "platform/copy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/securebits.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "platform/lib/util.h"
#include "platform/linux/linux.h"

/* A hostile image may nest directories without end; each level holds three fds. */
#define DEPTH_MAX 1000
#define BUF_SIZE (128 * 1024)
#define IN_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
/* What the kernel answers for a uid a user namespace does not map. */
#define OVERFLOW_ID 65534

struct cp {
	const struct lp_copy_spec *s;
	int sroot, droot;		/* where src and dst resolve: the root fd or AT_FDCWD */
	uint64_t sres, dres;		/* and how: inside that root, or as the host does */
	const char *slabel, *dlabel;	/* "NAME:" on the container's side, "" on the host's */
	char spath[PATH_MAX], dpath[PATH_MAX];	/* the entry being copied, for messages */
	char smsg[PATH_MAX + 64], dmsg[PATH_MAX + 64];
	int depth;
	char *buf;
};

static int copy_node(struct cp *c, int sfd, const struct stat *st, int ddir, const char *name,
		     struct lp_err *err);

/* A path for a message: the image chose its bytes, the operator's terminal gets none of its controls. */
static const char *show(char *out, size_t size, const char *label, const char *path)
{
	size_t i;

	snprintf(out, size, "%s%s", label, path);
	for (i = 0; out[i]; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';
	return out;
}
#define SRC(c) show((c)->smsg, sizeof((c)->smsg), (c)->slabel, (c)->spath)
#define DST(c) show((c)->dmsg, sizeof((c)->dmsg), (c)->dlabel, (c)->dpath)

/* path + "/" + name; its old length in *saved, for pop. */
static int push(char *path, size_t *saved, const char *name, struct lp_err *err)
{
	size_t len = strlen(path);

	*saved = len;
	if (len + strlen(name) + 2 > PATH_MAX)
		return lp_fail(err, ENAMETOOLONG, "%s/%s: the path is too long", path, name);
	if (!len || path[len - 1] != '/')
		path[len++] = '/';
	strcpy(path + len, name);
	return 0;
}

/*
 * proc, sysfs, cgroupfs and their kin: their files are the kernel's
 * (a read of /proc/kmsg takes the host's log away), nothing to copy.
 * Whatever cannot be told counts as one.
 */
static bool kernel_fs(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return true;
	switch (sf.f_type) {
	case PROC_SUPER_MAGIC:
	case SYSFS_MAGIC:
	case CGROUP_SUPER_MAGIC:
	case CGROUP2_SUPER_MAGIC:
	case DEVPTS_SUPER_MAGIC:
	case DEBUGFS_MAGIC:
	case TRACEFS_MAGIC:
	case SECURITYFS_MAGIC:
	case BPF_FS_MAGIC:
		return true;
	default:
		return false;
	}
}

/* The very inode an O_PATH fd holds, opened for reading. */
static int reopen(int pathfd, int flags)
{
	char p[32];

	snprintf(p, sizeof(p), "/proc/self/fd/%d", pathfd);
	return open(p, flags | O_CLOEXEC | O_NOCTTY);
}

/*
 * Who owns what is made: with -a the source's ids (through the container's
 * user namespace, as the other side sees them), else the container's root
 * (copying in) or whoever runs limpet (copying out).
 */
static int owner(struct cp *c, const struct stat *st, uid_t *uid, gid_t *gid, struct lp_err *err)
{
	const struct lp_copy_spec *s = c->s;
	uint32_t base = s->userns_uid, n = s->userns_count;

	if (!s->archive) {
		*uid = s->into ? (n ? base : 0) : geteuid();
		*gid = s->into ? (n ? base : 0) : getegid();
	} else if (!n) {
		*uid = st->st_uid;
		*gid = st->st_gid;
	} else if (s->into) {
		if (st->st_uid >= n || st->st_gid >= n)
			return lp_fail(err, ERANGE,
				       "%s: owner %u:%u is outside the container's user namespace "
				       "(0-%u)",
				       SRC(c), (unsigned)st->st_uid, (unsigned)st->st_gid, n - 1);
		*uid = base + st->st_uid;
		*gid = base + st->st_gid;
	} else {
		*uid = st->st_uid - base < n ? st->st_uid - base : OVERFLOW_ID;
		*gid = st->st_gid - base < n ? st->st_gid - base : OVERFLOW_ID;
	}
	return 0;
}

/*
 * Owner, mode and times of st on what fd names (chown first: it clears
 * setuid).  A file that leaves a container loses setuid and setgid: an
 * image must not hand the host a setuid program of its choosing.
 */
static int set_attrs(struct cp *c, int fd, const struct stat *st, struct lp_err *err)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	mode_t mode = st->st_mode & 07777;
	uid_t uid;
	gid_t gid;

	if (!c->s->into && !S_ISDIR(st->st_mode))
		mode &= ~(mode_t)(S_ISUID | S_ISGID);
	if (owner(c, st, &uid, &gid, err) < 0)
		return -1;
	if (fchown(fd, uid, gid) < 0)
		return lp_fail_errno(err, "chown %s", DST(c));
	if (fchmod(fd, mode) < 0)
		return lp_fail_errno(err, "chmod %s", DST(c));
	if (futimens(fd, ts) < 0)
		return lp_fail_errno(err, "set the times of %s", DST(c));
	return 0;
}

/* Make room for a non-directory at name in dir: whatever is there goes, a directory stays. */
static int make_room(struct cp *c, int dir, const char *name, struct lp_err *err)
{
	struct stat st;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : lp_fail_errno(err, "stat %s", DST(c));
	if (S_ISDIR(st.st_mode))
		return lp_fail(err, EISDIR, "%s: cannot overwrite a directory with %s", DST(c),
			       SRC(c));
	if (unlinkat(dir, name, 0) < 0 && errno != ENOENT)
		return lp_fail_errno(err, "replace %s", DST(c));
	return 0;
}

static int copy_file(struct cp *c, int sfd, int ddir, const char *name, struct lp_err *err)
{
	cleanup_fd int in = -1, out = -1;
	struct stat st;
	off_t left;
	ssize_t n;

	if (kernel_fs(sfd))
		return lp_fail(err, EPERM, "%s is a kernel file (proc, sysfs...): refused", SRC(c));
	in = reopen(sfd, O_RDONLY);
	if (in < 0 || fstat(in, &st) < 0)
		return lp_fail_errno(err, "open %s", SRC(c));
	if (make_room(c, ddir, name, err) < 0)
		return -1;
	out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return lp_fail_errno(err, "create %s", DST(c));
	/* The size it had when opened: a file its container keeps growing still ends. */
	for (left = st.st_size; left > 0; left -= n) {
		n = read(in, c->buf, left < BUF_SIZE ? (size_t)left : BUF_SIZE);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n < 0)
			return lp_fail_errno(err, "read %s", SRC(c));
		if (n == 0)
			break;
		if (lp_write_all(out, c->buf, (size_t)n) < 0)
			return lp_fail_errno(err, "write %s", DST(c));
	}
	return set_attrs(c, out, &st, err);
}

/* The link itself, its target text as it is: never followed, here or there. */
static int copy_link(struct cp *c, int sfd, const struct stat *st, int ddir, const char *name,
		     struct lp_err *err)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	char target[PATH_MAX];
	ssize_t n = readlinkat(sfd, "", target, sizeof(target));
	uid_t uid;
	gid_t gid;

	if (n < 0)
		return lp_fail_errno(err, "readlink %s", SRC(c));
	if (n == (ssize_t)sizeof(target))
		return lp_fail(err, ENAMETOOLONG, "%s: the link's target is too long", SRC(c));
	target[n] = '\0';
	if (make_room(c, ddir, name, err) < 0 || owner(c, st, &uid, &gid, err) < 0)
		return -1;
	if (symlinkat(target, ddir, name) < 0)
		return lp_fail_errno(err, "symlink %s", DST(c));
	if (fchownat(ddir, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return lp_fail_errno(err, "chown %s", DST(c));
	if (utimensat(ddir, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return lp_fail_errno(err, "set the times of %s", DST(c));
	return 0;
}

/* Each entry of the directory sfd (O_PATH) into the directory ddir. */
static int copy_children(struct cp *c, int sfd, int ddir, struct lp_err *err)
{
	int fd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (fd < 0)
		return lp_fail_errno(err, "open %s", SRC(c));
	/* A kernel filesystem mounted in the tree comes out empty, as docker cp has it. */
	if (kernel_fs(fd)) {
		close(fd);
		return 0;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return lp_fail_errno(err, "open %s", SRC(c));
	}
	for (errno = 0; rc == 0 && (de = readdir(d)); errno = 0) {
		cleanup_fd int child = -1;
		size_t slen, dlen;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (push(c->spath, &slen, de->d_name, err) < 0) {
			rc = -1;
			break;
		}
		if (push(c->dpath, &dlen, de->d_name, err) < 0) {
			c->spath[slen] = '\0';
			rc = -1;
			break;
		}
		child = openat(dirfd(d), de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (child < 0 || fstat(child, &st) < 0)
			rc = lp_fail_errno(err, "open %s", SRC(c));
		else
			rc = copy_node(c, child, &st, ddir, de->d_name, err);
		c->spath[slen] = '\0';
		c->dpath[dlen] = '\0';
	}
	if (rc == 0 && errno)
		rc = lp_fail_errno(err, "read the directory %s", SRC(c));
	closedir(d);
	return rc;
}

/* A directory made (or merged into one already there), its entries, then its attributes. */
static int copy_dir(struct cp *c, int sfd, const struct stat *st, int ddir, const char *name,
		    struct lp_err *err)
{
	cleanup_fd int out = -1;
	struct stat have;
	bool made = false;
	int rc;

	if (c->depth >= DEPTH_MAX)
		return lp_fail(err, ELOOP, "%s: more than %d directories deep: refused", SRC(c),
			       DEPTH_MAX);
	if (fstatat(ddir, name, &have, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISDIR(have.st_mode))
			return lp_fail(err, ENOTDIR, "%s: cannot overwrite a non-directory with "
						     "the directory %s",
				       DST(c), SRC(c));
	} else if (errno != ENOENT) {
		return lp_fail_errno(err, "stat %s", DST(c));
	} else if (mkdirat(ddir, name, 0700) < 0) {
		return lp_fail_errno(err, "mkdir %s", DST(c));
	} else {
		made = true;
	}
	/* Whatever took its place since is not followed. */
	out = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (out < 0)
		return lp_fail_errno(err, "open %s", DST(c));
	c->depth++;
	rc = copy_children(c, sfd, out, err);
	c->depth--;
	/* One that was there keeps its owner and mode, as an operator's /usr/local should. */
	if (rc == 0 && made)
		rc = set_attrs(c, out, st, err);
	return rc;
}

static int copy_node(struct cp *c, int sfd, const struct stat *st, int ddir, const char *name,
		     struct lp_err *err)
{
	if (S_ISREG(st->st_mode))
		return copy_file(c, sfd, ddir, name, err);
	if (S_ISDIR(st->st_mode))
		return copy_dir(c, sfd, st, ddir, name, err);
	if (S_ISLNK(st->st_mode))
		return copy_link(c, sfd, st, ddir, name, err);
	return lp_fail(err, EPERM, "%s is %s: refused (cp copies files, directories and symlinks)",
		       SRC(c), lp_file_kind(st->st_mode));
}

/* Room for a deep tree: raise the soft fd limit to the hard one. */
static void more_fds(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * A running --userns container's root is mounted in its user namespace,
 * where the kernel makes no file for a fsuid it does not map (EOVERFLOW):
 * what is copied in is made as its root, our capabilities kept.  Undone by
 * calling it with on false.
 */
static int as_container_root(const struct lp_copy_spec *s, bool on, struct lp_err *err)
{
	static int bits;
	uid_t id = on ? s->userns_uid : geteuid();

	if (!s->into || !s->userns_count)
		return 0;
	if (on) {
		bits = prctl(PR_GET_SECUREBITS);
		if (bits < 0 ||
		    prctl(PR_SET_SECUREBITS, (unsigned long)bits | SECBIT_NO_SETUID_FIXUP) < 0)
			return lp_fail_errno(err, "keep capabilities across setfsuid");
	}
	setfsuid(id);
	setfsgid(on ? (gid_t)id : getegid());
	if ((uid_t)setfsuid((uid_t)-1) != id)
		return lp_fail(err, EPERM, "setfsuid %u failed", (unsigned)id);
	if (!on && prctl(PR_SET_SECUREBITS, (unsigned long)bits) < 0)
		return lp_fail_errno(err, "restore the securebits");
	return 0;
}

/* path's last component into name ("" for "/", "." or a path ending in "/."). */
static void last_name(const char *path, char name[NAME_MAX + 1])
{
	size_t len = strlen(path), start;

	while (len > 1 && path[len - 1] == '/')
		len--;
	start = len;
	while (start > 0 && path[start - 1] != '/')
		start--;
	snprintf(name, NAME_MAX + 1, "%.*s", (int)(len - start), path + start);
	if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, "/"))
		name[0] = '\0';
}

/*
 * The destination dst names no directory: it is the entry to make in its
 * parent directory, which must exist.
 */
static int copy_to_new(struct cp *c, int sfd, const struct stat *st, struct lp_err *err)
{
	const char *dst = c->s->dst, *slash = strrchr(dst, '/');
	char parent[PATH_MAX], name[NAME_MAX + 1];
	cleanup_fd int pfd = -1;

	last_name(dst, name);
	if (!name[0])
		return lp_fail(err, EINVAL, "%s names no file", DST(c));
	if (!slash)
		snprintf(parent, sizeof(parent), ".");
	else if (slash == dst)
		snprintf(parent, sizeof(parent), "/");
	else
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - dst), dst);
	pfd = lp_openat2(c->droot, parent, O_RDONLY | O_DIRECTORY, c->dres);
	if (pfd < 0)
		return lp_fail_errno(err, "open %s%s", c->dlabel, parent);
	if (c->s->into && kernel_fs(pfd))
		return lp_fail(err, EPERM, "%s is on a kernel filesystem (proc, sysfs...): refused",
			       DST(c));
	return copy_node(c, sfd, st, pfd, name, err);
}

static int copy(int rootfd, const struct lp_copy_spec *s, struct lp_err *err);

int lp_copy(int rootfd, const struct lp_copy_spec *s, struct lp_err *err)
{
	struct lp_err ignored;
	int rc;

	if (as_container_root(s, true, err) < 0)
		return -1;
	rc = copy(rootfd, s, err);
	if (as_container_root(s, false, rc < 0 ? &ignored : err) < 0)
		return -1;
	return rc;
}

static int copy(int rootfd, const struct lp_copy_spec *s, struct lp_err *err)
{
	struct cp c = { .s = s };
	cleanup_fd int sfd = -1, dfd = -1;
	cleanup_free char *buf = malloc(BUF_SIZE);
	char name[NAME_MAX + 1];
	size_t slen = strlen(s->src), dlen = strlen(s->dst), saved;
	bool contents, src_slash = slen && s->src[slen - 1] == '/';
	bool dst_slash = dlen && s->dst[dlen - 1] == '/';
	struct stat st;

	if (!buf)
		return lp_fail(err, ENOMEM, "out of memory");
	c.buf = buf;
	c.sroot = s->into ? AT_FDCWD : rootfd;
	c.droot = s->into ? rootfd : AT_FDCWD;
	c.sres = s->into ? 0 : IN_ROOT;
	c.dres = s->into ? IN_ROOT : 0;
	c.slabel = s->into ? "" : s->label;
	c.dlabel = s->into ? s->label : "";
	if (lp_path(c.spath, sizeof(c.spath), err, "%s", s->src) < 0 ||
	    lp_path(c.dpath, sizeof(c.dpath), err, "%s", s->dst) < 0)
		return -1;
	more_fds();
	sfd = lp_openat2(c.sroot, s->src, O_PATH | (s->follow ? 0 : O_NOFOLLOW), c.sres);
	if (sfd < 0 || fstat(sfd, &st) < 0)
		return lp_fail_errno(err, "%s", SRC(&c));
	if (src_slash && !S_ISDIR(st.st_mode))
		return lp_fail(err, ENOTDIR, "%s: not a directory", SRC(&c));
	if (S_ISDIR(st.st_mode) && kernel_fs(sfd))
		return lp_fail(err, EPERM, "%s is on a kernel filesystem (proc, sysfs...): refused",
			       SRC(&c));
	/* "DIR/." (and "/") copy what DIR holds rather than DIR itself. */
	last_name(s->src, name);
	contents = !name[0];
	if (contents && !S_ISDIR(st.st_mode))
		return lp_fail(err, ENOTDIR, "%s: not a directory", SRC(&c));
	dfd = lp_openat2(c.droot, s->dst, O_RDONLY | O_DIRECTORY, c.dres);
	if (dfd < 0 && errno != ENOENT && errno != ENOTDIR)
		return lp_fail_errno(err, "%s", DST(&c));
	if (dfd < 0 && dst_slash)
		return lp_fail(err, errno, "%s: %s", DST(&c),
			       errno == ENOENT ? "the destination directory must exist"
					       : "not a directory");
	if (dfd < 0)
		return copy_to_new(&c, sfd, &st, err);
	if (s->into && kernel_fs(dfd))
		return lp_fail(err, EPERM, "%s is on a kernel filesystem (proc, sysfs...): refused",
			       DST(&c));
	if (contents)
		return copy_children(&c, sfd, dfd, err);
	if (push(c.dpath, &saved, name, err) < 0)
		return -1;
	return copy_node(&c, sfd, &st, dfd, name, err);
}
