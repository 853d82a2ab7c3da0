// SPDX-License-Identifier: Apache-2.0
/* The time index beside each log file (see logs_index.h). */
#include "agent/container/logs_index.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/lib/util.h"

#define REC ((off_t)sizeof(struct lp_log_rec))
/* Far past what rotation lets one grow to (log.max_size, at most 1G): not an index of ours. */
#define INDEX_MAX ((off_t)1 << 30)

static int index_name(char *buf, size_t len, const char *path, struct lp_err *err)
{
	return lp_path(buf, len, err, "%s.idx", path);
}

int lp_log_index_note(const char *path, off_t size, int64_t mtime_ns, off_t *idx_size,
		      struct lp_err *err)
{
	char name[PATH_MAX];
	cleanup_fd int fd = -1;
	struct lp_log_rec last = { 0, INT64_MIN }, rec;
	struct stat st;
	off_t whole, at;
	int64_t now;

	if (index_name(name, sizeof(name), path, err) < 0)
		return -1;
	fd = lp_open_regular(AT_FDCWD, name, O_RDWR | O_CREAT | O_NOFOLLOW, 0640, err);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return lp_fail_errno(err, "stat %s", name);
	whole = st.st_size - st.st_size % REC;
	if (whole >= REC && lp_pread_all(fd, &last, sizeof(last), whole - REC) != REC)
		return lp_fail_errno(err, "read %s", name);
	/*
	 * Records past the end of the log: a rotation was cut short between
	 * moving the bytes and their records.  They would date the bytes that
	 * come next, so they go, as does a record torn by a crash.
	 */
	if (whole >= REC && last.off > size) {
		whole = 0;
		last = (struct lp_log_rec){ 0, INT64_MIN };
	}
	if (whole != st.st_size && ftruncate(fd, whole) < 0)
		return lp_fail_errno(err, "truncate %s", name);
	if (idx_size)
		*idx_size = whole;
	if (size <= last.off)
		return 0;
	now = lp_wall_ns();
	rec.off = size;
	/*
	 * The last write's own time is closer than ours; but the container
	 * holds the file and may have set its mtime to anything.
	 */
	rec.ns = mtime_ns >= last.ns && mtime_ns <= now ? mtime_ns : now;
	at = whole;
	/* A chatty container gets one record per grain, not one per wakeup. */
	if (whole >= REC && rec.ns >= last.ns &&
	    rec.ns / LP_LOG_INDEX_GRAIN_NS == last.ns / LP_LOG_INDEX_GRAIN_NS)
		at = whole - REC;
	if (pwrite(fd, &rec, sizeof(rec), at) != REC)
		return lp_fail_errno(err, "write %s", name);
	if (idx_size)
		*idx_size = at + REC;
	return 0;
}

/* NAME := the n records, written afresh beside it and renamed into place. */
static int write_records(const char *name, const struct lp_log_rec *v, size_t n,
			 struct lp_err *err)
{
	char tmp[PATH_MAX];
	cleanup_fd int fd = -1;

	if (lp_path(tmp, sizeof(tmp), err, "%s.tmp", name) < 0)
		return -1;
	fd = lp_open_fresh(tmp, 0640, err);
	if (fd < 0)
		return -1;
	if (lp_write_all(fd, v, n * sizeof(*v)) < 0)
		return lp_fail_errno(err, "write %s", tmp);
	if (rename(tmp, name) < 0)
		return lp_fail_errno(err, "rename %s", tmp);
	return 0;
}

int lp_log_index_copy(const char *path, const char *rotated, off_t start, off_t end,
		      struct lp_err *err)
{
	struct lp_log_index idx = { 0 };
	char name[PATH_MAX];
	struct lp_log_rec *out;
	size_t i, n = 0;
	int rc;

	if (index_name(name, sizeof(name), rotated, err) < 0 ||
	    lp_log_index_load(path, &idx, err) < 0)
		return -1;
	if (!idx.present) {
		/* Nothing to say of these bytes: no stale index of older ones either. */
		if (unlink(name) < 0 && errno != ENOENT)
			return lp_fail_errno(err, "remove %s", name);
		return 0;
	}
	out = calloc(idx.n + 1, sizeof(*out));
	if (!out) {
		lp_log_index_free(&idx);
		return lp_fail(err, ENOMEM, "out of memory");
	}
	for (i = 0; i < idx.n && (n == 0 || out[n - 1].off < end - start); i++) {
		if (idx.v[i].off <= start)
			continue;
		out[n].off = (idx.v[i].off < end ? idx.v[i].off : end) - start;
		out[n++].ns = idx.v[i].ns;
	}
	/* What no record reached yet is there now, at the latest. */
	if (end > start && (n == 0 || out[n - 1].off < end - start))
		out[n++] = (struct lp_log_rec){ end - start, lp_wall_ns() };
	rc = write_records(name, out, n, err);
	free(out);
	lp_log_index_free(&idx);
	return rc;
}

int lp_log_index_cut(const char *path, off_t cut, struct lp_err *err)
{
	struct lp_log_index idx = { 0 };
	char name[PATH_MAX];
	size_t i, n = 0;
	int rc;

	if (index_name(name, sizeof(name), path, err) < 0 ||
	    lp_log_index_load(path, &idx, err) < 0)
		return -1;
	if (!idx.present)
		return 0;
	for (i = 0; i < idx.n; i++)
		if (idx.v[i].off > cut)
			idx.v[n++] = (struct lp_log_rec){ idx.v[i].off - cut, idx.v[i].ns };
	rc = write_records(name, idx.v, n, err);
	lp_log_index_free(&idx);
	return rc;
}

int lp_log_index_move(const char *from, const char *to, struct lp_err *err)
{
	char a[PATH_MAX], b[PATH_MAX];

	if (index_name(a, sizeof(a), from, err) < 0 || index_name(b, sizeof(b), to, err) < 0)
		return -1;
	if (rename(a, b) == 0)
		return 0;
	if (errno != ENOENT)
		return lp_fail_errno(err, "rename %s", a);
	/* The log that moves there has no times: none of an older one may stay with it. */
	if (unlink(b) < 0 && errno != ENOENT)
		return lp_fail_errno(err, "remove %s", b);
	return 0;
}

int lp_log_index_load(const char *path, struct lp_log_index *idx, struct lp_err *err)
{
	char name[PATH_MAX];
	cleanup_fd int fd = -1;
	struct lp_log_rec *v;
	struct stat st;
	size_t n, from = 0;
	ssize_t got;

	if (index_name(name, sizeof(name), path, err) < 0)
		return -1;
	fd = lp_open_regular(AT_FDCWD, name, O_RDONLY | O_NOFOLLOW, 0, err);
	if (fd < 0 && err->code == ENOENT) {
		idx->n = 0;
		idx->present = false;
		return 0;
	}
	if (fd < 0 || fstat(fd, &st) < 0)
		return fd < 0 ? -1 : lp_fail_errno(err, "stat %s", name);
	if (st.st_size > INDEX_MAX)
		return lp_fail(err, EFBIG, "%s: too large for a log's index", name);
	n = (size_t)(st.st_size / REC);
	/* The same file, grown: only its last record can have changed (merged on). */
	if (idx->present && idx->n > 0 && st.st_dev == idx->dev && st.st_ino == idx->ino &&
	    n >= idx->n)
		from = idx->n - 1;
	v = realloc(idx->v, (n ? n : 1) * sizeof(*v));
	if (!v)
		return lp_fail(err, ENOMEM, "out of memory");
	idx->v = v;
	got = lp_pread_all(fd, v + from, (n - from) * sizeof(*v), (off_t)from * REC);
	if (got < 0)
		return lp_fail_errno(err, "read %s", name);
	idx->n = from + (size_t)got / sizeof(*v);
	idx->present = true;
	idx->dev = st.st_dev;
	idx->ino = st.st_ino;
	return 0;
}

void lp_log_index_free(struct lp_log_index *idx)
{
	free(idx->v);
	idx->v = NULL;
	idx->n = 0;
}

bool lp_log_index_time(const struct lp_log_index *idx, off_t end, int64_t *ns)
{
	size_t lo = 0, hi = idx->n;

	/* The first record at or past end. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (idx->v[mid].off < end)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == idx->n)
		return false;
	*ns = idx->v[lo].ns;
	return true;
}

bool lp_log_index_complete(const char *path, int files)
{
	char log[PATH_MAX], name[PATH_MAX];
	struct lp_err ignored;
	struct stat st;
	int i;

	for (i = 0; i < files; i++) {
		if ((i == 0 ? lp_path(log, sizeof(log), &ignored, "%s", path)
			    : lp_path(log, sizeof(log), &ignored, "%s.%d", path, i)) < 0 ||
		    index_name(name, sizeof(name), log, &ignored) < 0)
			return false;
		if (stat(log, &st) == 0 && st.st_size > 0 && access(name, F_OK) < 0)
			return false;
	}
	return true;
}
