// SPDX-License-Identifier: Apache-2.0
#include "platform/lib/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void lp_freep(void *p)
{
	free(*(void **)p);
}

void lp_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

void lp_fclosep(void *f)
{
	FILE **fp = f;

	if (*fp)
		fclose(*fp);
}

void lp_strvp(void *v)
{
	lp_strv_free(*(char ***)v);
}

bool lp_ascii_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

bool lp_chars_in(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!lp_ascii_alnum(*s) && !strchr(extra, *s))
			return false;
	return true;
}

/*
 * The rules jansson holds a string to (RFC 3629): what a container is
 * configured with is saved as JSON, so it must be text JSON can carry.
 */
bool lp_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned int cp, min;
		int more, i;

		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f, more = 1, min = 0x80;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f, more = 2, min = 0x800;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07, more = 3, min = 0x10000;
		} else {
			return false;
		}
		for (i = 1; i <= more; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false; /* also stops at the terminating NUL */
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += more + 1;
	}
	return true;
}

void lp_strv_free(char **v)
{
	char **p;

	if (!v)
		return;
	for (p = v; *p; p++)
		free(*p);
	free(v);
}

ssize_t lp_pread_all(int fd, void *data, size_t len, off_t off)
{
	char *buf = data;
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int lp_write_all(int fd, const void *data, size_t len)
{
	const char *buf = data;

	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int lp_write_file(const char *path, const char *buf, size_t len, struct lp_err *err)
{
	cleanup_fd int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd < 0)
		return lp_fail_errno(err, "open %s", path);
	if (lp_write_all(fd, buf, len) < 0)
		return lp_fail_errno(err, "write %s", path);
	return 0;
}

int lp_write_at(int dirfd, const char *name, const char *s, struct lp_err *err)
{
	cleanup_fd int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return lp_fail_errno(err, "open %s", name);
	if (lp_write_all(fd, s, strlen(s)) < 0)
		return lp_fail_errno(err, "write %s = %s", name, s);
	return 0;
}

int lp_open_fresh(const char *path, mode_t mode, struct lp_err *err)
{
	int fd;

	if (unlink(path) < 0 && errno != ENOENT)
		return lp_fail_errno(err, "remove %s", path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return lp_fail_errno(err, "open %s", path);
	return fd;
}

int lp_write_file_atomic(const char *path, const char *buf, size_t len, struct lp_err *err)
{
	char tmp[PATH_MAX];
	cleanup_fd int fd = -1;

	if (lp_path(tmp, sizeof(tmp), err, "%s.tmp.%d", path, (int)getpid()) < 0)
		return -1;
	fd = lp_open_fresh(tmp, 0644, err);
	if (fd < 0)
		return -1;
	if (lp_write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
		lp_fail_errno(err, "write %s", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		lp_fail_errno(err, "rename %s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

const char *lp_file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISLNK(mode))
		return "a symbolic link";
	return "not a plain file";
}

int lp_lock_whole(int fd, bool wait)
{
	struct flock whole = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	while (fcntl(fd, wait ? F_SETLKW : F_SETLK, &whole) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EACCES)
			errno = EAGAIN;
		return -1;
	}
	return 0;
}

int lp_open_regular(int dirfd, const char *path, int flags, mode_t mode, struct lp_err *err)
{
	int fd = openat(dirfd, path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode);
	struct stat st;

	if (fd < 0) {
		if (errno == ELOOP && (flags & O_NOFOLLOW))
			return lp_fail(err, ELOOP, "%s: a symbolic link, refused", path);
		/* A FIFO nobody reads, opened for writing without waiting. */
		if (errno == ENXIO)
			return lp_fail(err, ENXIO, "%s: not a regular file", path);
		return lp_fail_errno(err, "open %s", path);
	}
	if (fstat(fd, &st) < 0) {
		lp_fail_errno(err, "stat %s", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return lp_fail(err, EINVAL, "%s: not a regular file (%s)", path,
			       lp_file_kind(st.st_mode));
	}
	/* Reads of a regular file do not wait anyway; writes keep their usual semantics. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		lp_fail_errno(err, "%s", path);
		close(fd);
		return -1;
	}
	return fd;
}

static int read_fd(int fd, const char *path, size_t max, char **out, size_t *len,
		   struct lp_err *err)
{
	cleanup_free char *buf = malloc(max + 1);
	size_t used = 0;

	if (!buf)
		return lp_fail_errno(err, "read %s", path);
	while (used < max) {
		ssize_t n = read(fd, buf + used, max - used);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return lp_fail_errno(err, "read %s", path);
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	buf[used] = '\0';
	if (len)
		*len = used;
	*out = steal_ptr(buf);
	return 0;
}

int lp_read_file(const char *path, size_t max, char **out, size_t *len, struct lp_err *err)
{
	cleanup_fd int fd = lp_open_regular(AT_FDCWD, path, O_RDONLY, 0, err);

	if (fd < 0)
		return -1;
	return read_fd(fd, path, max, out, len, err);
}

int lp_read_file_nofollow(const char *path, size_t max, char **out, size_t *len,
			  struct lp_err *err)
{
	cleanup_fd int fd = lp_open_regular(AT_FDCWD, path, O_RDONLY | O_NOFOLLOW, 0, err);

	if (fd < 0)
		return -1;
	return read_fd(fd, path, max, out, len, err);
}

int lp_mkdir_p(const char *path, mode_t mode, struct lp_err *err)
{
	char buf[PATH_MAX];
	char *p;

	if (lp_path(buf, sizeof(buf), err, "%s", path) < 0)
		return -1;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return lp_fail_errno(err, "mkdir %s", buf);
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return lp_fail_errno(err, "mkdir %s", buf);
	return 0;
}

/*
 * Removing a tree keeps at most this many directories open: a tree deeper
 * than the descriptor limit (a container can make one) is removed all the
 * same.  Deeper directories are closed and found again through "..".
 */
#define REMOVE_OPEN_MAX 16

/* A directory on the way down; the memory a level costs is this and its name. */
struct rm_level {
	DIR *dir;		/* NULL while closed for a deeper one */
	ino_t ino;		/* to recognise it when reached again through ".." */
	off_t pos;		/* where the next entry is read */
	off_t resume;		/* where the entry being removed below it was read */
	size_t name;		/* its name in its parent: offset in rm_walk.names */
	bool reopened;		/* found again and seeked: look once more from the start */
};

struct rm_walk {
	const char *top;
	dev_t dev;		/* the tree's device: another one is a mount point */
	struct rm_level *v;
	size_t depth, cap;
	char *names;		/* the names of v[1..depth], NUL-terminated, in order */
	size_t names_len, names_cap;
	struct lp_err *err;
};

/* dirfd/name as a directory, checked to be dev/ino (not swapped meanwhile). */
static DIR *open_level(int dirfd, const char *name, dev_t dev, ino_t ino, off_t pos)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat got;
	DIR *d;
	int saved;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &got) < 0)
		goto fail;
	if (got.st_dev != dev || got.st_ino != ino) {
		errno = ESTALE;
		goto fail;
	}
	if (pos && lseek(fd, pos, SEEK_SET) < 0)
		goto fail;
	d = fdopendir(fd);
	if (d)
		return d;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return NULL;
}

/* Room for one more level and its name. */
static int grow_walk(struct rm_walk *w, size_t name_len)
{
	if (w->depth + 2 > w->cap) {
		struct rm_level *nv = realloc(w->v, (w->cap * 2 + 16) * sizeof(*nv));

		if (!nv)
			return lp_fail(w->err, ENOMEM, "out of memory");
		memset(nv + w->cap, 0, (w->cap + 16) * sizeof(*nv));
		w->v = nv;
		w->cap = w->cap * 2 + 16;
	}
	if (w->names_len + name_len + 1 > w->names_cap) {
		size_t cap = (w->names_cap + name_len + 1) * 2;
		char *nn = realloc(w->names, cap);

		if (!nn)
			return lp_fail(w->err, ENOMEM, "out of memory");
		w->names = nn;
		w->names_cap = cap;
	}
	return 0;
}

/* Go down into name (st) of the current level, at was where it was read. */
static int enter_level(struct rm_walk *w, const char *name, const struct stat *st, off_t at)
{
	struct rm_level *cur, *down;
	size_t len = strlen(name);

	if (grow_walk(w, len) < 0)
		return -1;
	cur = &w->v[w->depth];
	down = &w->v[w->depth + 1];
	memset(down, 0, sizeof(*down));
	down->dir = open_level(dirfd(cur->dir), name, st->st_dev, st->st_ino, 0);
	if (!down->dir)
		return lp_fail_errno(w->err, "open %s in %s", name, w->top);
	down->ino = st->st_ino;
	down->name = w->names_len;
	memcpy(w->names + w->names_len, name, len + 1);
	w->names_len += len + 1;
	cur->resume = at;
	w->depth++;
	if (w->depth >= REMOVE_OPEN_MAX) {
		struct rm_level *old = &w->v[w->depth - REMOVE_OPEN_MAX];

		if (old->dir) {
			closedir(old->dir);
			old->dir = NULL;
		}
	}
	return 0;
}

/* The current directory is empty: back up to its parent and remove it there. */
static int leave_level(struct rm_walk *w)
{
	struct rm_level *cur = &w->v[w->depth], *up = &w->v[w->depth - 1];
	const char *name = w->names + cur->name;

	if (!up->dir) {
		up->dir = open_level(dirfd(cur->dir), "..", w->dev, up->ino, up->resume);
		if (!up->dir)
			return lp_fail_errno(w->err, "%s: a directory moved while it was removed",
					     w->top);
		up->pos = up->resume;
		up->reopened = true;
	}
	closedir(cur->dir);
	cur->dir = NULL;
	if (unlinkat(dirfd(up->dir), name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return lp_fail_errno(w->err, "rmdir %s in %s", name, w->top);
	w->names_len = cur->name;
	w->depth--;
	return 0;
}

/*
 * Empty the directory at v[0] without recursion: a walk down the first
 * subdirectory of each level, removing files on the way and each directory
 * once it is empty.  Symlinks are removed, never followed; a directory on
 * another device (a mount point) stops it.
 */
static int remove_levels(struct rm_walk *w)
{
	struct dirent *de;
	struct stat st;

	for (;;) {
		struct rm_level *cur = &w->v[w->depth];
		off_t at = cur->pos;
		int fd = dirfd(cur->dir);

		errno = 0;
		de = readdir(cur->dir);
		if (!de && errno)
			return lp_fail_errno(w->err, "read a directory in %s", w->top);
		if (!de && cur->reopened) {
			/* A seek back may have skipped an entry on some file systems. */
			rewinddir(cur->dir);
			cur->pos = 0;
			cur->reopened = false;
			continue;
		}
		if (!de && w->depth == 0)
			return 0;
		if (!de) {
			if (leave_level(w) < 0)
				return -1;
			continue;
		}
		cur->pos = de->d_off;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return lp_fail_errno(w->err, "stat %s in %s", de->d_name, w->top);
		}
		if (!S_ISDIR(st.st_mode)) {
			if (unlinkat(fd, de->d_name, 0) < 0 && errno != ENOENT)
				return lp_fail_errno(w->err, "unlink %s in %s", de->d_name, w->top);
			continue;
		}
		if (st.st_dev != w->dev)
			return lp_fail(w->err, EXDEV,
				       "%s in %s is a mount point; not removing across it",
				       de->d_name, w->top);
		if (enter_level(w, de->d_name, &st, at) < 0)
			return -1;
	}
}

int lp_remove_tree(const char *path, struct lp_err *err)
{
	struct rm_walk w = { .top = path, .err = err };
	struct stat st;
	size_t i;
	int rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : lp_fail_errno(err, "stat %s", path);
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0 && errno != ENOENT)
			return lp_fail_errno(err, "unlink %s", path);
		return 0;
	}
	w.dev = st.st_dev;
	rc = grow_walk(&w, 0);
	if (rc == 0) {
		w.v[0].ino = st.st_ino;
		w.v[0].dir = open_level(AT_FDCWD, path, st.st_dev, st.st_ino, 0);
		rc = w.v[0].dir ? remove_levels(&w) : lp_fail_errno(err, "open %s", path);
	}
	for (i = 0; i < w.cap; i++)
		if (w.v[i].dir)
			closedir(w.v[i].dir);
	free(w.v);
	free(w.names);
	if (rc == 0 && rmdir(path) < 0 && errno != ENOENT)
		rc = lp_fail_errno(err, "rmdir %s", path);
	return rc;
}

int lp_path(char *buf, size_t size, struct lp_err *err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return lp_fail(err, ENAMETOOLONG, "path too long: %s...", buf);
	return 0;
}

int64_t lp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t lp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void lp_wipe(void *p, size_t len)
{
	if (p && len)
		explicit_bzero(p, len);
}

int64_t lp_wall_s(void)
{
	return (int64_t)time(NULL);
}

int64_t lp_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * One write(2) per line: the agent, its updater and its probes share one
 * stderr (a log file, a pipe to journald), and lines written piecewise
 * would interleave.  A line too long for the buffer ends in "...".
 */
void lp_vsay(const char *prefix, const char *fmt, va_list ap)
{
	char line[LP_ERR_MAX + 256];
	int head = snprintf(line, sizeof(line), "%s: ", prefix);
	size_t len;

	if (head < 0)
		return;
	len = (size_t)head < sizeof(line) ? (size_t)head : sizeof(line) - 1;
	if (vsnprintf(line + len, sizeof(line) - len, fmt, ap) >= (int)(sizeof(line) - len))
		memcpy(line + sizeof(line) - 5, "...", 4);
	len = strlen(line);
	line[len++] = '\n';
	(void)lp_write_all(STDERR_FILENO, line, len);
}

void lp_say(const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lp_vsay(prefix, fmt, ap);
	va_end(ap);
}

/* nftw has no argument for its callback: the sum it adds to. */
static uint64_t tree_bytes;

static int add_file_bytes(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (type == FTW_F && S_ISREG(st->st_mode))
		tree_bytes += (uint64_t)st->st_size;
	return 0;
}

uint64_t lp_tree_bytes(const char *dir)
{
	tree_bytes = 0;
	nftw(dir, add_file_bytes, 16, FTW_PHYS);
	return tree_bytes;
}

void lp_signals_reset(void)
{
	sigset_t none;
	int sig;

	/*
	 * Through the kernel, not signal(): the C library refuses its own
	 * real-time signals (32-34), which a starter may have ignored too.  An
	 * all-zero kernel sigaction is SIG_DFL, no flags, no mask.
	 */
	static const unsigned long dfl[4];

	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, dfl, NULL, _NSIG / 8);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}
