// SPDX-License-Identifier: Apache-2.0
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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
	cleanup_fd int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

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

int lp_write_file_atomic(const char *path, const char *buf, size_t len, struct lp_err *err)
{
	char tmp[PATH_MAX];
	cleanup_fd int fd = -1;

	if (lp_path(tmp, sizeof(tmp), err, "%s.tmp.%d", path, (int)getpid()) < 0)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return lp_fail_errno(err, "open %s", tmp);
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

int lp_read_file(const char *path, size_t max, char **out, size_t *len, struct lp_err *err)
{
	cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
	cleanup_free char *buf = NULL;
	size_t used = 0;

	if (fd < 0)
		return lp_fail_errno(err, "open %s", path);
	buf = malloc(max + 1);
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

static int remove_at(int dirfd, const char *name, dev_t dev, struct lp_err *err)
{
	struct stat st;
	DIR *dir;
	struct dirent *de;
	int fd, ret = 0;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : lp_fail_errno(err, "stat %s", name);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
			return lp_fail_errno(err, "unlink %s", name);
		return 0;
	}
	if (st.st_dev != dev)
		return lp_fail(err, EXDEV, "%s is a mount point; not removing across it", name);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return lp_fail_errno(err, "open %s", name);
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return lp_fail_errno(err, "opendir %s", name);
	}
	while ((de = readdir(dir)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (remove_at(fd, de->d_name, dev, err) < 0) {
			ret = lp_prefix(err, "%s", name);
			break;
		}
	}
	closedir(dir);
	if (ret == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		ret = lp_fail_errno(err, "rmdir %s", name);
	return ret;
}

int lp_remove_tree(const char *path, struct lp_err *err)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : lp_fail_errno(err, "stat %s", path);
	return remove_at(AT_FDCWD, path, st.st_dev, err);
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

int64_t lp_wall_s(void)
{
	return (int64_t)time(NULL);
}

void lp_vsay(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void lp_say(const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lp_vsay(prefix, fmt, ap);
	va_end(ap);
}
