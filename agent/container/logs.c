// SPDX-License-Identifier: Apache-2.0
#include "agent/container/logs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/lib/util.h"

static int rotated_name(char *buf, size_t len, const char *path, int n, struct lp_err *err)
{
	return lp_path(buf, len, err, "%s.%d", path, n);
}

static int copy_range(int in, int out, off_t from, off_t to, struct lp_err *err)
{
	char buf[65536];

	while (from < to) {
		size_t want = (size_t)(to - from) < sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
		ssize_t n = pread(in, buf, want, from);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? lp_fail_errno(err, "read log") : 0;
		if (write(out, buf, (size_t)n) != n)
			return lp_fail_errno(err, "write rotated log");
		from += n;
	}
	return 0;
}

static int shift_rotated(const char *path, int files, struct lp_err *err)
{
	char from[PATH_MAX], to[PATH_MAX];
	int i;

	for (i = files - 1; i > 1; i--) {
		if (rotated_name(from, sizeof(from), path, i - 1, err) < 0 ||
		    rotated_name(to, sizeof(to), path, i, err) < 0)
			return -1;
		if (rename(from, to) < 0 && errno != ENOENT)
			return lp_fail_errno(err, "rename %s", from);
	}
	return 0;
}

/* PATH.1 := the newest max_size bytes of [0, end) of the current log. */
static int write_rotated(int in, const char *path, off_t end, int64_t max_size,
			 struct lp_err *err)
{
	char to[PATH_MAX], tmp[PATH_MAX];
	cleanup_fd int out = -1;
	off_t start = end > max_size ? end - max_size : 0;

	if (rotated_name(to, sizeof(to), path, 1, err) < 0 ||
	    lp_path(tmp, sizeof(tmp), err, "%s.tmp", to) < 0)
		return -1;
	/* Made afresh, never through whatever a crash (or anyone else) left under that name. */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return lp_fail_errno(err, "remove %s", tmp);
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (out < 0)
		return lp_fail_errno(err, "open %s", tmp);
	if (copy_range(in, out, start, end, err) < 0)
		return -1;
	if (rename(tmp, to) < 0)
		return lp_fail_errno(err, "rename %s", tmp);
	return 0;
}

int lp_log_rotate(const char *path, int64_t max_size, int files, struct lp_err *err)
{
	cleanup_fd int in = -1;
	struct stat st;
	off_t cut;
	int tries;

	in = lp_open_regular(AT_FDCWD, path, O_RDWR | O_NOFOLLOW, 0, err);
	if (in < 0)
		return err->code == ENOENT ? 0 : -1;
	if (fstat(in, &st) < 0)
		return lp_fail_errno(err, "stat %s", path);
	if (st.st_size <= max_size)
		return 0;
	if (files > 1 && shift_rotated(path, files, err) < 0)
		return -1;
	/*
	 * Preferred: move whole blocks out and collapse them from the head of the
	 * file.  The kernel serialises that with the container's O_APPEND writes,
	 * so nothing written meanwhile is lost.
	 */
	cut = st.st_size - st.st_size % (st.st_blksize > 0 ? st.st_blksize : 4096);
	if (cut > 0) {
		if (files > 1 && write_rotated(in, path, cut, max_size, err) < 0)
			return -1;
		if (fallocate(in, FALLOC_FL_COLLAPSE_RANGE, 0, cut) == 0)
			return 0;
	}
	/*
	 * The filesystem cannot collapse (tmpfs, vfat): copy what is there, copy
	 * again what arrived meanwhile, then truncate.  Only a write landing
	 * between the last fstat and the truncate can be lost.
	 */
	for (tries = 0; tries < 8; tries++) {
		off_t size = st.st_size;

		if (files > 1 && write_rotated(in, path, size, max_size, err) < 0)
			return -1;
		if (fstat(in, &st) < 0)
			return lp_fail_errno(err, "stat %s", path);
		if (st.st_size == size)
			break;
	}
	if (ftruncate(in, 0) < 0)
		return lp_fail_errno(err, "truncate %s", path);
	return 0;
}

/* Offset where the last `tail` lines of fd start (0 when it has fewer). */
static off_t tail_offset(int fd, off_t size, long tail, long *found)
{
	char buf[4096];
	off_t pos = size;
	long lines = 0;

	*found = 0;
	if (tail < 0)
		return 0;
	while (pos > 0) {
		size_t n = pos < (off_t)sizeof(buf) ? (size_t)pos : sizeof(buf);
		ssize_t got = pread(fd, buf, n, pos - (off_t)n);

		if (got <= 0)
			return 0;
		for (ssize_t i = got - 1; i >= 0; i--) {
			/* The newline ending the last line does not start a line. */
			if (buf[i] != '\n' || pos - (off_t)n + i == size - 1)
				continue;
			if (++lines == tail) {
				*found = lines;
				return pos - (off_t)n + i + 1;
			}
		}
		pos -= (off_t)n;
	}
	*found = lines + (size > 0);
	return 0;
}

static int log_name(char *buf, size_t len, const char *path, int i, struct lp_err *err)
{
	return i == 0 ? lp_path(buf, len, err, "%s", path) : rotated_name(buf, len, path, i, err);
}

/* Print the last `lines` lines of path (all of it when lines < 0). */
static int print_file(const char *path, long lines, struct lp_err *err)
{
	cleanup_fd int fd = lp_open_regular(AT_FDCWD, path, O_RDONLY | O_NOFOLLOW, 0, err);
	struct stat st;
	long found;

	if (fd < 0)
		return err->code == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0)
		return lp_fail_errno(err, "stat %s", path);
	fflush(stdout);
	return copy_range(fd, STDOUT_FILENO, tail_offset(fd, st.st_size, lines, &found),
			  st.st_size, err);
}

/* Lines among the last `lines` of path; *partial: it ends without a newline. */
static long count_up_to(const char *path, long lines, bool *partial)
{
	struct lp_err ignored;
	cleanup_fd int fd = lp_open_regular(AT_FDCWD, path, O_RDONLY | O_NOFOLLOW, 0, &ignored);
	struct stat st;
	long found = 0;
	char last = '\n';

	*partial = false;
	if (fd < 0 || fstat(fd, &st) < 0)
		return 0;
	if (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) == 1)
		*partial = last != '\n';
	tail_offset(fd, st.st_size, lines, &found);
	return found;
}

int lp_log_print(const char *path, int files, long tail, struct lp_err *err)
{
	char name[PATH_MAX];
	long take[16], remaining = tail, found;
	int i, n = files < 16 ? files : 16;
	bool partial;

	/* Newest file first to see how many lines each contributes ... */
	for (i = 0; i < n; i++) {
		if (log_name(name, sizeof(name), path, i, err) < 0)
			return -1;
		if (tail < 0 || remaining <= 0) {
			take[i] = tail < 0 ? -1 : 0;
			continue;
		}
		found = count_up_to(name, remaining, &partial);
		/*
		 * Rotation cuts at block boundaries: an older file may end inside
		 * the line the newer file begins with, already counted there.
		 */
		if (i > 0 && partial) {
			found = count_up_to(name, remaining + 1, &partial) - 1;
			take[i] = remaining + 1;
		} else {
			take[i] = remaining;
		}
		remaining -= found;
	}
	/* ... then print oldest first. */
	for (i = n - 1; i >= 0; i--) {
		if (take[i] == 0)
			continue;
		if (log_name(name, sizeof(name), path, i, err) < 0 ||
		    print_file(name, take[i], err) < 0)
			return -1;
	}
	return 0;
}

int lp_log_follow(const char *path, bool (*still_running)(void *), void *arg,
		  struct lp_err *err)
{
	cleanup_fd int fd = lp_open_regular(AT_FDCWD, path, O_RDONLY | O_NOFOLLOW, 0, err);
	cleanup_fd int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	struct pollfd p;
	struct stat st;
	off_t pos;
	char evbuf[4096];
	bool running = true;

	if (fd < 0)
		return -1;
	if (ino < 0 || inotify_add_watch(ino, path, IN_MODIFY) < 0)
		return lp_fail_errno(err, "watch %s", path);
	if (fstat(fd, &st) < 0)
		return lp_fail_errno(err, "stat %s", path);
	pos = st.st_size;
	p.fd = ino;
	p.events = POLLIN;
	while (running) {
		/* Wake at least once a second to notice the container has gone. */
		if (poll(&p, 1, 1000) > 0)
			while (read(ino, evbuf, sizeof(evbuf)) > 0)
				;
		running = still_running(arg);
		if (fstat(fd, &st) < 0)
			return lp_fail_errno(err, "stat %s", path);
		if (st.st_size < pos)
			pos = 0; /* rotated: the file starts again */
		if (copy_range(fd, STDOUT_FILENO, pos, st.st_size, err) < 0)
			return -1;
		pos = st.st_size;
	}
	return 0;
}
