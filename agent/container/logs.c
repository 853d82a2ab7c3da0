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
#include <time.h>
#include <unistd.h>

#include "agent/container/logs_index.h"
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
		if (lp_log_index_move(from, to, err) < 0)
			return -1;
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
	out = lp_open_fresh(tmp, 0640, err);
	if (out < 0)
		return -1;
	if (copy_range(in, out, start, end, err) < 0)
		return -1;
	if (rename(tmp, to) < 0)
		return lp_fail_errno(err, "rename %s", tmp);
	return lp_log_index_copy(path, to, start, end, err);
}

/* Rotate the log open at in, of stat st, now past its limits. */
static int rotate_open(int in, const char *path, struct stat st, int64_t max_size, int files,
		       struct lp_err *err)
{
	off_t cut;
	int tries;

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
			return lp_log_index_cut(path, cut, err);
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
	return lp_log_index_cut(path, st.st_size, err);
}

int lp_log_rotate(const char *path, int64_t max_size, int files, struct lp_err *err)
{
	cleanup_fd int in = -1;
	struct lp_err note_err = { 0 };
	struct stat st;
	off_t idx_size = 0;
	int noted;

	in = lp_open_regular(AT_FDCWD, path, O_RDWR | O_NOFOLLOW, 0, err);
	if (in < 0)
		return err->code == ENOENT ? 0 : -1;
	if (fstat(in, &st) < 0)
		return lp_fail_errno(err, "stat %s", path);
	/*
	 * Times first, so that rotation moves them with their bytes.  Failing
	 * to note them (a full disk) must not stop the rotation that bounds
	 * the log: that failure is reported after it.
	 */
	noted = lp_log_index_note(path, st.st_size,
				  (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
				  &idx_size, &note_err);
	/* A container writing a byte at a time would fill its index first. */
	if ((st.st_size > max_size || idx_size > max_size) &&
	    rotate_open(in, path, st, max_size, files, err) < 0)
		return -1;
	if (noted < 0) {
		*err = note_err;
		return -1;
	}
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

static bool view_timed(const struct lp_log_view *v)
{
	return v->timestamps || v->since_ns != INT64_MIN || v->until_ns != INT64_MAX;
}

/* A timed print's place in the lines: across files, and from print on to follow. */
struct emitter {
	const struct lp_log_view *v;
	bool mid_line;	/* the last piece printed had no newline: the next one goes on with it */
	bool keep;	/* that line is within since..until */
};

/* The times of one log file's bytes. */
struct times {
	const char *path;
	struct lp_log_index idx;
	int64_t fallback_ns;	/* for bytes no record reaches: the file's mtime */
	bool may_reload;	/* following: the index may have grown since it was read */
};

static void times_free(struct times *t)
{
	lp_log_index_free(&t->idx);
}
#define cleanup_times __attribute__((cleanup(times_free)))

static int64_t time_at(struct times *t, off_t end)
{
	struct lp_err ignored;
	int64_t ns;

	if (lp_log_index_time(&t->idx, end, &ns))
		return ns;
	/* Once per wakeup: with no agent to write records, every line would read it again. */
	if (t->may_reload) {
		t->may_reload = false;
		if (lp_log_index_load(t->path, &t->idx, &ignored) == 0 &&
		    lp_log_index_time(&t->idx, end, &ns))
			return ns;
	}
	return t->fallback_ns;
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Docker's logs -t: RFC 3339, UTC, always nine digits of the second. */
static void put_time(int64_t ns)
{
	int64_t secs = ns / 1000000000, frac = ns % 1000000000;
	struct tm tm;
	time_t t;

	if (frac < 0) {
		frac += 1000000000;
		secs--;
	}
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	printf("%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ ", tm.tm_year + 1900, tm.tm_mon + 1,
	       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)frac);
}

/* The offset just past the line that goes on at from: past its newline, or size. */
static off_t line_end(int fd, off_t from, off_t size)
{
	char buf[4096], *nl;
	ssize_t got;

	while (from < size) {
		got = pread(fd, buf, (size_t)(size - from) < sizeof(buf) ? (size_t)(size - from)
									   : sizeof(buf),
			    from);
		if (got <= 0)
			break;
		nl = memchr(buf, '\n', (size_t)got);
		if (nl)
			return from + (nl - buf) + 1;
		from += got;
	}
	return size;
}

/* Print [from, to) of fd: each line within since..until, after its time if asked. */
static int emit_range(struct emitter *em, struct times *t, int fd, off_t from, off_t to,
		      struct lp_err *err)
{
	char buf[65536], *nl;
	size_t i, len;
	ssize_t n = 0;

	while (from < to) {
		n = pread(fd, buf, (size_t)(to - from) < sizeof(buf) ? (size_t)(to - from) : sizeof(buf),
			  from);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < (size_t)n; i += len) {
			nl = memchr(buf + i, '\n', (size_t)n - i);
			len = nl ? (size_t)(nl - buf) + 1 - i : (size_t)n - i;
			if (!em->mid_line) {
				int64_t ns = time_at(t, nl ? from + (off_t)(i + len)
							   : line_end(fd, from + n, to));

				em->keep = ns >= em->v->since_ns && ns <= em->v->until_ns;
				if (em->keep && em->v->timestamps)
					put_time(ns);
			}
			if (em->keep && fwrite(buf + i, 1, len, stdout) != len)
				return lp_fail_errno(err, "write");
			em->mid_line = !nl;
		}
		from += n;
	}
	if (n < 0)
		return lp_fail_errno(err, "read %s", t->path);
	if (fflush(stdout) == EOF)
		return lp_fail_errno(err, "write");
	return 0;
}

/* Print the last `lines` lines of path (all of it when lines < 0). */
static int print_file(const char *path, long lines, struct emitter *em, struct lp_err *err)
{
	cleanup_fd int fd = lp_open_regular(AT_FDCWD, path, O_RDONLY | O_NOFOLLOW, 0, err);
	cleanup_times struct times t = { .path = path };
	struct stat st;
	long found;
	off_t start;

	if (fd < 0)
		return err->code == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0)
		return lp_fail_errno(err, "stat %s", path);
	start = tail_offset(fd, st.st_size, lines, &found);
	if (!view_timed(em->v)) {
		fflush(stdout);
		return copy_range(fd, STDOUT_FILENO, start, st.st_size, err);
	}
	t.fallback_ns = mtime_ns(&st);
	if (lp_log_index_load(path, &t.idx, err) < 0)
		return -1;
	return emit_range(em, &t, fd, start, st.st_size, err);
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

int lp_log_print(const char *path, int files, const struct lp_log_view *v, struct lp_err *err)
{
	char name[PATH_MAX];
	long take[16], tail = v->tail, remaining = tail, found;
	int i, n = files < 16 ? files : 16;
	struct emitter em = { .v = v };
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
		    print_file(name, take[i], &em, err) < 0)
			return -1;
	}
	return 0;
}

int lp_log_follow(const char *path, const struct lp_log_view *v, bool (*still_running)(void *),
		  void *arg, struct lp_err *err)
{
	cleanup_fd int fd = lp_open_regular(AT_FDCWD, path, O_RDONLY | O_NOFOLLOW, 0, err);
	cleanup_fd int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	cleanup_times struct times t = { .path = path };
	struct emitter em = { .v = v, .keep = true };
	struct pollfd p;
	struct stat st;
	off_t pos;
	char evbuf[4096], last;
	bool running = true;
	int rc;

	if (fd < 0)
		return -1;
	if (ino < 0 || inotify_add_watch(ino, path, IN_MODIFY) < 0)
		return lp_fail_errno(err, "watch %s", path);
	if (fstat(fd, &st) < 0)
		return lp_fail_errno(err, "stat %s", path);
	pos = st.st_size;
	/* A line the print left open goes on without a time of its own. */
	em.mid_line = pos > 0 && pread(fd, &last, 1, pos - 1) == 1 && last != '\n';
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
		if (st.st_size < pos) {
			pos = 0; /* rotated: the file starts again */
			em.mid_line = false;
		}
		if (view_timed(v)) {
			/* Its last write's time, for lines the agent has not dated yet. */
			t.fallback_ns = mtime_ns(&st) < lp_wall_ns() ? mtime_ns(&st) : lp_wall_ns();
			t.may_reload = true;
			rc = emit_range(&em, &t, fd, pos, st.st_size, err);
		} else {
			rc = copy_range(fd, STDOUT_FILENO, pos, st.st_size, err);
		}
		if (rc < 0)
			return -1;
		pos = st.st_size;
		if (v->until_ns != INT64_MAX && lp_wall_ns() > v->until_ns)
			break;
	}
	return 0;
}
