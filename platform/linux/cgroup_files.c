// SPDX-License-Identifier: Apache-2.0
/*
 * The files of a cgroup directory, as both backends use them: writing a
 * value, reading a flat-keyed file, and killing and removing a tree of
 * cgroups, waiting for its processes to go.
 */
#include "platform/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "platform/lib/util.h"

#define CGROUP_POLL_MS 10
/* How long kill and destroy wait for processes to exit. */
#define CGROUP_WAIT_MS 1000

/*
 * O_APPEND: cgroupfs ignores the file offset, so this changes nothing on a
 * real hierarchy, while a plain file standing in for one (tests) keeps
 * every line written, e.g. each devices.allow rule.
 */
int lp_cgroup_write(const char *dir, const char *file, const char *value, struct lp_err *err)
{
	char path[PATH_MAX], line[256];
	cleanup_fd int fd = -1;
	size_t len;
	ssize_t n;

	if (lp_path(path, sizeof(path), err, "%s/%s", dir, file) < 0)
		return -1;
	if (lp_path(line, sizeof(line), err, "%s\n", value) < 0)
		return -1;
	len = strlen(line);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return lp_fail_errno(err, "open %s", path);
	/* One write per value: cgroupfs parses each write on its own. */
	do {
		n = write(fd, line, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return lp_fail_errno(err, "write %s = %s", path, value);
	if ((size_t)n != len)
		return lp_fail(err, EIO, "write %s = %s: short write", path, value);
	return 0;
}

int lp_cgroup_write_int(const char *dir, const char *file, int64_t value, struct lp_err *err)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, value);
	return lp_cgroup_write(dir, file, buf, err);
}

int lp_cgroup_has_file(const char *dir, const char *file, struct lp_err *err)
{
	char path[PATH_MAX];

	if (lp_path(path, sizeof(path), err, "%s/%s", dir, file) < 0)
		return -1;
	if (access(path, F_OK) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	return lp_fail_errno(err, "access %s", path);
}

static const char *next_line(const char *s)
{
	const char *nl = strchr(s, '\n');

	return nl ? nl + 1 : NULL;
}

/* Flat-keyed files ("KEY VALUE" per line) are small: a page is plenty. */
#define CGROUP_KEYED_MAX 8192

int lp_cgroup_read_value(const char *dir, const char *file, int64_t *value, struct lp_err *err)
{
	char path[PATH_MAX], buf[32];
	cleanup_fd int fd = -1;
	ssize_t n;
	char *end;

	if (lp_path(path, sizeof(path), err, "%s/%s", dir, file) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return lp_fail_errno(err, "open %s", path);
	n = lp_pread_all(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return lp_fail_errno(err, "read %s", path);
	buf[n] = '\0';
	if (!strcmp(buf, "max\n")) {
		*value = -1;
		return 1;
	}
	errno = 0;
	*value = (int64_t)strtoll(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || *value < 0)
		return lp_fail(err, EINVAL, "%s: not a number", path);
	return 1;
}

int lp_cgroup_read_key(const char *dir, const char *file, const char *key, uint64_t *value,
		       struct lp_err *err)
{
	char path[PATH_MAX];
	cleanup_free char *text = NULL;
	size_t klen = strlen(key);
	const char *line;

	if (lp_path(path, sizeof(path), err, "%s/%s", dir, file) < 0)
		return -1;
	if (lp_read_file(path, CGROUP_KEYED_MAX, &text, NULL, err) < 0)
		return -1;
	for (line = text; line && *line; line = next_line(line)) {
		char *end;

		if (strncmp(line, key, klen) || line[klen] != ' ')
			continue;
		errno = 0;
		*value = strtoull(line + klen + 1, &end, 10);
		if (errno || end == line + klen + 1 || (*end && *end != '\n'))
			return lp_fail(err, EINVAL, "%s: bad \"%s\" line", path, key);
		return 1;
	}
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

typedef int (*cgroup_visit_fn)(const char *dir, void *arg, struct lp_err *err);

/* Calls fn for every descendant cgroup of dir, deepest first, then for dir. */
static int walk_post_order(const char *dir, cgroup_visit_fn fn, void *arg, struct lp_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int ret = 0;

	if (!d) {
		if (errno == ENOENT)
			return 0;
		return lp_fail_errno(err, "open %s", dir);
	}
	while (ret == 0 && (de = readdir(d)) != NULL) {
		char child[PATH_MAX];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		ret = lp_path(child, sizeof(child), err, "%s/%s", dir, de->d_name);
		if (ret < 0)
			break;
		if (de->d_type == DT_UNKNOWN &&
		    (lstat(child, &st) < 0 || !S_ISDIR(st.st_mode)))
			continue;
		ret = walk_post_order(child, fn, arg, err);
	}
	closedir(d);
	if (ret < 0)
		return -1;
	return fn(dir, arg, err);
}

static int kill_procs_of(const char *dir, void *arg, struct lp_err *err)
{
	size_t *left = arg;
	char path[PATH_MAX];
	cleanup_file FILE *f = NULL;
	long pid;

	if (lp_path(path, sizeof(path), err, "%s/cgroup.procs", dir) < 0)
		return -1;
	f = fopen(path, "re");
	if (!f) {
		/* The cgroup went away while we walked it: nothing left there. */
		if (errno == ENOENT)
			return 0;
		return lp_fail_errno(err, "open %s", path);
	}
	while (fscanf(f, "%ld", &pid) == 1) {
		if (pid == (long)getpid())
			return lp_fail(err, EPERM,
				       "refusing to kill cgroup %s: limpet itself (pid %ld) is in it",
				       dir, pid);
		(*left)++;
		/* A pid that exited since we read it is ESRCH; the next round re-reads. */
		if (kill((pid_t)pid, SIGKILL) < 0 && errno != ESRCH)
			return lp_fail_errno(err, "kill %ld in %s", pid, dir);
	}
	if (ferror(f))
		return lp_fail_errno(err, "read %s", path);
	return 0;
}

int lp_cgroup_kill_tree(const char *dir, struct lp_err *err)
{
	int64_t deadline = lp_now_ms() + CGROUP_WAIT_MS;
	size_t left;

	for (;;) {
		left = 0;
		if (walk_post_order(dir, kill_procs_of, &left, err) < 0)
			return -1;
		if (left == 0)
			return 0;
		if (lp_now_ms() >= deadline)
			break;
		sleep_ms(CGROUP_POLL_MS);
	}
	return lp_fail(err, EBUSY, "%zu processes still in %s after SIGKILL for %d ms", left,
		       dir, CGROUP_WAIT_MS);
}

static int rmdir_waiting(const char *dir, void *arg, struct lp_err *err)
{
	int64_t deadline = *(int64_t *)arg;

	for (;;) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		/* EBUSY: killed processes have not finished exiting yet. */
		if (errno != EBUSY || lp_now_ms() >= deadline)
			break;
		sleep_ms(CGROUP_POLL_MS);
	}
	return lp_fail_errno(err, "rmdir %s", dir);
}

int lp_cgroup_remove_tree(const char *dir, struct lp_err *err)
{
	int64_t deadline = lp_now_ms() + CGROUP_WAIT_MS;

	return walk_post_order(dir, rmdir_waiting, &deadline, err);
}
