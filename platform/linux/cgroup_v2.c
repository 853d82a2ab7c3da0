// SPDX-License-Identifier: Apache-2.0
/*
 * cgroup v2: one unified hierarchy.  Controllers reach a cgroup only when
 * every ancestor lists them in cgroup.subtree_control, and devices are
 * policed by a BPF program instead of a controller.
 */
#include "platform/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "platform/lib/util.h"

#ifdef CONFIG_CGROUP_V2

#define V2_DEFAULT_CPU_PERIOD_US 100000
/* cgroup.controllers and cgroup.subtree_control are one short line. */
#define V2_LIST_MAX 4096

struct v2_controller {
	const char *name;
	const char *limit;	/* for "... needs the NAME cgroup controller" */
	bool (*needed)(const struct lp_limits *limits);
};

static bool needs_memory(const struct lp_limits *limits)
{
	return limits->memory > 0;
}

static bool needs_cpu(const struct lp_limits *limits)
{
	return limits->cpu_quota > 0 || limits->cpu_weight > 0;
}

static bool needs_pids(const struct lp_limits *limits)
{
	return limits->pids > 0;
}

static const struct v2_controller v2_controllers[] = {
	{ "memory", "a memory limit", needs_memory },
	{ "cpu", "a CPU limit or weight", needs_cpu },
	{ "pids", "a pids limit", needs_pids },
};

/* True if list, space-separated words, holds word. */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	for (;;) {
		p += strspn(p, " \t\n");
		if (!*p)
			return false;
		if (strcspn(p, " \t\n") == n && !strncmp(p, word, n))
			return true;
		p += strcspn(p, " \t\n");
	}
}

static int read_list(const char *dir, const char *file, char **text, struct lp_err *err)
{
	char path[PATH_MAX];

	if (lp_path(path, sizeof(path), err, "%s/%s", dir, file) < 0)
		return -1;
	return lp_read_file(path, V2_LIST_MAX, text, NULL, err);
}

static int explain_busy_subtree(const char *dir, struct lp_err *err)
{
	char msg[LP_ERR_MAX];

	if (!err || err->code != EBUSY)
		return -1;
	memcpy(msg, err->msg, sizeof(msg));
	return lp_fail(err, EBUSY,
		       "%s (%s has processes of its own; cgroup v2 enables controllers for children only in cgroups without any)",
		       msg, dir);
}

/*
 * Let dir's children use the controllers limits need.  Only the missing ones
 * are written, so ancestors that systemd already set up stay untouched.
 */
static int enable_controllers(const char *dir, const struct lp_limits *limits,
			      struct lp_err *err)
{
	cleanup_free char *available = NULL;
	cleanup_free char *enabled = NULL;
	char add[64] = "";
	size_t i;

	if (read_list(dir, "cgroup.controllers", &available, err) < 0 ||
	    read_list(dir, "cgroup.subtree_control", &enabled, err) < 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(v2_controllers); i++) {
		const struct v2_controller *c = &v2_controllers[i];

		if (!c->needed(limits) || has_word(enabled, c->name))
			continue;
		if (!has_word(available, c->name))
			return lp_fail(err, ENOTSUP,
				       "%s needs the %s cgroup controller, which is not enabled (not in %s/cgroup.controllers)",
				       c->limit, c->name, dir);
		snprintf(add + strlen(add), sizeof(add) - strlen(add), "%s+%s", *add ? " " : "",
			 c->name);
	}
	if (!*add)
		return 0;
	if (lp_cgroup_write(dir, "cgroup.subtree_control", add, err) < 0)
		return explain_busy_subtree(dir, err);
	return 0;
}

/* Create ROOT/path one level at a time, enabling controllers on the way down. */
static int make_cgroup(const char *path, const struct lp_limits *limits, char *dir,
		       size_t len, struct lp_err *err)
{
	const char *p = path;
	size_t n;

	if (lp_path(dir, len, err, "%s", lp_cgroup_root()) < 0)
		return -1;
	for (;;) {
		p += strspn(p, "/");
		if (!*p)
			return 0;
		n = strcspn(p, "/");
		if (enable_controllers(dir, limits, err) < 0)
			return -1;
		if (strlen(dir) + 1 + n >= len)
			return lp_fail(err, ENAMETOOLONG, "path too long: %s%s", dir, path);
		strcat(dir, "/");
		strncat(dir, p, n);
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return lp_fail_errno(err, "mkdir %s", dir);
		p += n;
	}
}

static int v2_set_memory(const char *dir, const struct lp_limits *limits, struct lp_err *err)
{
	int has_swap;

	if (limits->memory <= 0)
		return 0;
	if (lp_cgroup_write_int(dir, "memory.max", limits->memory, err) < 0)
		return -1;
	/* No swap either, or swap would stretch the limit; the file needs swap accounting. */
	has_swap = lp_cgroup_has_file(dir, "memory.swap.max", err);
	if (has_swap <= 0)
		return has_swap;
	return lp_cgroup_write(dir, "memory.swap.max", "0", err);
}

static int v2_set_cpu(const char *dir, const struct lp_limits *limits, struct lp_err *err)
{
	int64_t period = limits->cpu_period > 0 ? limits->cpu_period : V2_DEFAULT_CPU_PERIOD_US;
	char max[48];

	if (limits->cpu_quota > 0) {
		snprintf(max, sizeof(max), "%" PRId64 " %" PRId64, limits->cpu_quota, period);
		if (lp_cgroup_write(dir, "cpu.max", max, err) < 0)
			return -1;
	}
	if (limits->cpu_weight <= 0)
		return 0;
	return lp_cgroup_write_int(dir, "cpu.weight", limits->cpu_weight, err);
}

static int v2_set_pids(const char *dir, const struct lp_limits *limits, struct lp_err *err)
{
	if (limits->pids <= 0)
		return 0;
	return lp_cgroup_write_int(dir, "pids.max", limits->pids, err);
}

static int v2_set_devices(const char *dir, const struct lp_device *devices, size_t n_devices,
			  struct lp_err *err)
{
	cleanup_fd int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct statfs sfs;

	if (fd < 0)
		return lp_fail_errno(err, "open %s", dir);
	if (fstatfs(fd, &sfs) < 0)
		return lp_fail_errno(err, "statfs %s", dir);
	/* Device programs attach only to cgroup2 directories; a test's fake root has none. */
	if (sfs.f_type != CGROUP2_SUPER_MAGIC)
		return 0;
	if (lp_cgroup_bpf_devices(fd, devices, n_devices, err) < 0)
		return lp_prefix(err, "%s", dir);
	return 0;
}

static int v2_setup(const char *path, const struct lp_limits *limits,
		    const struct lp_device *devices, size_t n_devices, pid_t pid,
		    struct lp_err *err)
{
	char dir[PATH_MAX];

	if (make_cgroup(path, limits, dir, sizeof(dir), err) < 0 ||
	    v2_set_memory(dir, limits, err) < 0 || v2_set_cpu(dir, limits, err) < 0 ||
	    v2_set_pids(dir, limits, err) < 0 ||
	    v2_set_devices(dir, devices, n_devices, err) < 0)
		return -1;
	/* Join last, so the process is never in the cgroup without its limits. */
	return lp_cgroup_write_int(dir, "cgroup.procs", pid, err);
}

static int v2_dir(const char *path, const char *controller, char *buf, size_t len,
		  struct lp_err *err)
{
	return lp_path(buf, len, err, "%s%s", lp_cgroup_root(), path);
}

static int v2_oom_kills(const char *path, uint64_t *count, struct lp_err *err)
{
	char dir[PATH_MAX];
	int has_events;

	*count = 0;
	if (v2_dir(path, NULL, dir, sizeof(dir), err) < 0)
		return -1;
	has_events = lp_cgroup_has_file(dir, "memory.events", err);
	if (has_events < 0)
		return -1;
	/* Without a memory limit the controller was not enabled here: nothing to count. */
	if (!has_events && access(dir, F_OK) == 0)
		return 0;
	if (lp_cgroup_read_key(dir, "memory.events", "oom_kill", count, err) < 0)
		return -1;
	return 0;
}

/* io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N ...", a line per device; summed. */
static int v2_io(const char *dir, struct lp_cgroup_stats *st, struct lp_err *err)
{
	char path[PATH_MAX];
	cleanup_free char *text = NULL;
	const char *p;

	if (lp_path(path, sizeof(path), err, "%s/io.stat", dir) < 0)
		return -1;
	if (access(path, F_OK) < 0)
		return 0;
	if (lp_read_file(path, 1 << 16, &text, NULL, err) < 0)
		return -1;
	st->io_read_bytes = st->io_write_bytes = 0;
	for (p = text; (p = strpbrk(p, "rw")); p++) {
		int64_t *sum = !strncmp(p, "rbytes=", 7) ? &st->io_read_bytes
			       : !strncmp(p, "wbytes=", 7) ? &st->io_write_bytes
							  : NULL;

		if (sum && (p == text || p[-1] == ' '))
			*sum += strtoll(p + 7, NULL, 10);
	}
	return 0;
}

static int v2_stats(const char *path, struct lp_cgroup_stats *st, struct lp_err *err)
{
	char dir[PATH_MAX];
	uint64_t usage;
	int found;

	if (v2_dir(path, NULL, dir, sizeof(dir), err) < 0)
		return -1;
	found = lp_cgroup_read_key(dir, "cpu.stat", "usage_usec", &usage, err);
	if (found < 0)
		return -1;
	if (found)
		st->cpu_usage_us = (int64_t)usage;
	if (lp_cgroup_read_value(dir, "memory.current", &st->memory_bytes, err) < 0 ||
	    lp_cgroup_read_value(dir, "memory.max", &st->memory_limit, err) < 0 ||
	    lp_cgroup_read_value(dir, "pids.current", &st->pids, err) < 0)
		return -1;
	return v2_io(dir, st, err);
}

/* True if cgroup `inner` is `outer` or below it. */
static bool cgroup_within(const char *inner, const char *outer)
{
	size_t n = strlen(outer);

	while (n > 1 && outer[n - 1] == '/')
		n--;
	return !strncmp(inner, outer, n) && (inner[n] == '/' || inner[n] == '\0');
}

static int v2_kill(const char *path, struct lp_err *err)
{
	char dir[PATH_MAX], self[PATH_MAX];
	int has_kill;

	if (lp_cgroup_self_v2(self, sizeof(self), err) < 0)
		return -1;
	if (cgroup_within(self, path))
		return lp_fail(err, EPERM, "refusing to kill cgroup %s: limpet itself is in %s",
			       path, self);
	if (v2_dir(path, NULL, dir, sizeof(dir), err) < 0)
		return -1;
	/* cgroup.kill (5.14+) kills the whole subtree at once, racing no fork. */
	has_kill = lp_cgroup_has_file(dir, "cgroup.kill", err);
	if (has_kill < 0)
		return -1;
	if (has_kill && lp_cgroup_write(dir, "cgroup.kill", "1", err) < 0)
		return -1;
	/* Either way, wait until the processes are gone (and kill any the loop finds). */
	return lp_cgroup_kill_tree(dir, err);
}

static int v2_destroy(const char *path, struct lp_err *err)
{
	char dir[PATH_MAX];

	if (v2_dir(path, NULL, dir, sizeof(dir), err) < 0)
		return -1;
	return lp_cgroup_remove_tree(dir, err);
}

static int v2_views(struct lp_cgroup_fs *fs, struct lp_err *err)
{
	(void)err;
	fs[0] = (struct lp_cgroup_fs){ .type = "cgroup2" };
	return 1;
}

const struct lp_cgroup_ops lp_cgroup_v2_ops = {
	.setup = v2_setup,
	.oom_kills = v2_oom_kills,
	.stats = v2_stats,
	.kill = v2_kill,
	.destroy = v2_destroy,
	.dir = v2_dir,
	.views = v2_views,
};

#endif /* CONFIG_CGROUP_V2 */
