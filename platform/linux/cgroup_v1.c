// SPDX-License-Identifier: Apache-2.0
/*
 * cgroup v1: one hierarchy per controller.  A container's cgroup exists once
 * in each of the memory, cpu, pids and devices hierarchies, and its process
 * joins all of them.
 */
#include "platform/cgroup.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform/lib/util.h"
#include "platform/runtime.h"

#ifdef CONFIG_CGROUP_V1

enum v1_controller {
	V1_MEMORY,
	V1_CPU,
	V1_PIDS,
	V1_DEVICES,
	V1_NR_CONTROLLERS,
};

static const char *const v1_names[V1_NR_CONTROLLERS] = {
	[V1_MEMORY] = "memory",
	[V1_CPU] = "cpu",
	[V1_PIDS] = "pids",
	[V1_DEVICES] = "devices",
};

/* What to call a limit in "... needs the X cgroup controller". */
static const char *const v1_limit_names[V1_NR_CONTROLLERS] = {
	[V1_MEMORY] = "a memory limit",
	[V1_CPU] = "a CPU limit or weight",
	[V1_PIDS] = "a pids limit",
};

#define V1_DEFAULT_CFS_PERIOD_US 100000
#define V2_WEIGHT_MIN 1
#define V2_WEIGHT_MAX 10000
#define V1_SHARES_MIN 2
#define V1_SHARES_MAX 262144

/* Directory of path in controller's hierarchy: 1, or 0 if it is not mounted. */
static int v1_resolve(const char *path, const char *controller, char *buf, size_t len,
		      struct lp_err *err)
{
	char mount[PATH_MAX];
	int found = lp_cgroup_v1_mount(controller, mount, sizeof(mount), err);

	if (found <= 0)
		return found;
	if (lp_path(buf, len, err, "%s%s", mount, path) < 0)
		return -1;
	return 1;
}

static bool v1_needed(enum v1_controller c, const struct lp_limits *limits)
{
	switch (c) {
	case V1_MEMORY:
		return limits->memory > 0;
	case V1_CPU:
		return limits->cpu_quota > 0 || limits->cpu_weight > 0;
	case V1_PIDS:
		return limits->pids > 0;
	case V1_DEVICES:
	case V1_NR_CONTROLLERS:
		break;
	}
	/*
	 * Without a devices hierarchy there is nothing to restrict against;
	 * the runtime's dropped CAP_MKNOD still keeps new nodes out.
	 */
	return false;
}

static int v1_set_memory(const char *dir, const struct lp_limits *limits, struct lp_err *err)
{
	int has_memsw;

	if (limits->memory <= 0)
		return 0;
	if (lp_cgroup_write_int(dir, "memory.limit_in_bytes", limits->memory, err) < 0)
		return -1;
	/*
	 * memory+swap gets the same value so swap cannot stretch the limit.
	 * The file exists only with swap accounting; it must not go below
	 * limit_in_bytes, hence the order.
	 */
	has_memsw = lp_cgroup_has_file(dir, "memory.memsw.limit_in_bytes", err);
	if (has_memsw <= 0)
		return has_memsw;
	return lp_cgroup_write_int(dir, "memory.memsw.limit_in_bytes", limits->memory, err);
}

/* Map the v2 weight scale (1..10000, default 100) onto v1 shares (2..262144). */
static int v1_weight_to_shares(int weight, int64_t *shares, struct lp_err *err)
{
	if (weight < V2_WEIGHT_MIN || weight > V2_WEIGHT_MAX)
		return lp_fail(err, EINVAL, "CPU weight %d is outside %d..%d", weight, V2_WEIGHT_MIN,
			       V2_WEIGHT_MAX);
	*shares = V1_SHARES_MIN + (int64_t)(weight - V2_WEIGHT_MIN) *
				  (V1_SHARES_MAX - V1_SHARES_MIN) / (V2_WEIGHT_MAX - V2_WEIGHT_MIN);
	return 0;
}

static int v1_set_cpu(const char *dir, const struct lp_limits *limits, struct lp_err *err)
{
	int64_t period = limits->cpu_period > 0 ? limits->cpu_period : V1_DEFAULT_CFS_PERIOD_US;
	int64_t shares = 0;

	if (limits->cpu_quota > 0) {
		if (lp_cgroup_write_int(dir, "cpu.cfs_period_us", period, err) < 0 ||
		    lp_cgroup_write_int(dir, "cpu.cfs_quota_us", limits->cpu_quota, err) < 0)
			return -1;
	}
	if (limits->cpu_weight <= 0)
		return 0;
	if (v1_weight_to_shares(limits->cpu_weight, &shares, err) < 0)
		return -1;
	return lp_cgroup_write_int(dir, "cpu.shares", shares, err);
}

static int v1_set_pids(const char *dir, const struct lp_limits *limits, struct lp_err *err)
{
	if (limits->pids <= 0)
		return 0;
	return lp_cgroup_write_int(dir, "pids.max", limits->pids, err);
}

static void format_dev_number(char *buf, size_t len, long n)
{
	if (n == LP_CGROUP_DEV_ANY)
		snprintf(buf, len, "*");
	else
		snprintf(buf, len, "%ld", n);
}

static int v1_allow_device(const char *dir, const struct lp_cgroup_dev_rule *rule,
			   struct lp_err *err)
{
	char major[24], minor[24], line[64];

	format_dev_number(major, sizeof(major), rule->major);
	format_dev_number(minor, sizeof(minor), rule->minor);
	snprintf(line, sizeof(line), "%c %s:%s %s", rule->type, major, minor, rule->perms);
	return lp_cgroup_write(dir, "devices.allow", line, err);
}

static int v1_set_devices(const char *dir, const struct lp_device *devices, size_t n_devices,
			  struct lp_err *err)
{
	struct lp_cgroup_dev_rule rule;
	size_t i;

	/* Start from nothing, then allow exactly what the container gets. */
	if (lp_cgroup_write(dir, "devices.deny", "a", err) < 0)
		return -1;
	for (i = 0; i < lp_cgroup_n_default_devices; i++) {
		if (v1_allow_device(dir, &lp_cgroup_default_devices[i], err) < 0)
			return -1;
	}
	for (i = 0; i < n_devices; i++) {
		if (lp_cgroup_dev_rule(&devices[i], &rule, err) < 0 ||
		    v1_allow_device(dir, &rule, err) < 0)
			return -1;
	}
	return 0;
}

static int v1_apply(enum v1_controller c, const char *dir, const struct lp_limits *limits,
		    const struct lp_device *devices, size_t n_devices, struct lp_err *err)
{
	switch (c) {
	case V1_MEMORY:
		return v1_set_memory(dir, limits, err);
	case V1_CPU:
		return v1_set_cpu(dir, limits, err);
	case V1_PIDS:
		return v1_set_pids(dir, limits, err);
	case V1_DEVICES:
		return v1_set_devices(dir, devices, n_devices, err);
	case V1_NR_CONTROLLERS:
		break;
	}
	return 0;
}

static int v1_setup(const char *path, const struct lp_limits *limits,
		    const struct lp_device *devices, size_t n_devices, pid_t pid,
		    struct lp_err *err)
{
	char dirs[V1_NR_CONTROLLERS][PATH_MAX];
	bool mounted[V1_NR_CONTROLLERS];
	int c, found;

	for (c = 0; c < V1_NR_CONTROLLERS; c++) {
		found = v1_resolve(path, v1_names[c], dirs[c], sizeof(dirs[c]), err);
		if (found < 0)
			return -1;
		mounted[c] = found;
		if (!found && v1_needed(c, limits))
			return lp_fail(err, ENOTSUP,
				       "%s needs the %s cgroup controller, which is not enabled (no cgroup v1 hierarchy has it mounted)",
				       v1_limit_names[c], v1_names[c]);
		if (!found)
			continue;
		if (lp_mkdir_p(dirs[c], 0755, err) < 0 ||
		    v1_apply(c, dirs[c], limits, devices, n_devices, err) < 0)
			return -1;
	}
	/* Join only once every limit is in place, so the process is never unlimited. */
	for (c = 0; c < V1_NR_CONTROLLERS; c++) {
		if (mounted[c] && lp_cgroup_write_int(dirs[c], "cgroup.procs", pid, err) < 0)
			return -1;
	}
	return 0;
}

static int v1_oom_kills(const char *path, uint64_t *count, struct lp_err *err)
{
	char dir[PATH_MAX];
	int found = v1_resolve(path, "memory", dir, sizeof(dir), err);

	*count = 0;
	/* No memory controller, no memory cgroup to run out of. */
	if (found <= 0)
		return found;
	found = lp_cgroup_read_key(dir, "memory.oom_control", "oom_kill", count, err);
	/* Kernels before 4.13 do not count kills; report none rather than fail. */
	return found < 0 ? -1 : 0;
}

/* A v1 memory limit this large is none: the kernel's "unlimited" rounded to a page. */
#define V1_NO_LIMIT (INT64_C(1) << 62)

/* The controller's file, when the controller is mounted: 1, or 0. */
static int v1_value(const char *path, const char *controller, const char *file,
		    int64_t *value, struct lp_err *err)
{
	char dir[PATH_MAX];
	int found = v1_resolve(path, controller, dir, sizeof(dir), err);

	return found <= 0 ? found : lp_cgroup_read_value(dir, file, value, err);
}

/*
 * Where cpuacct is a hierarchy of its own (which limpet does not join), the
 * CPU time of the processes in the cgroup now: those that ended are left
 * out, so it is a lower bound.
 */
static int v1_cpu_of_procs(const char *path, int64_t *us, struct lp_err *err)
{
	char dir[PATH_MAX], file[PATH_MAX + 16];
	cleanup_free char *text = NULL;
	int found = v1_resolve(path, "cpu", dir, sizeof(dir), err);
	char *line, *save = NULL;

	if (found <= 0)
		return found;
	if (lp_path(file, sizeof(file), err, "%s/cgroup.procs", dir) < 0)
		return -1;
	if (lp_read_file(file, 1 << 20, &text, NULL, err) < 0)
		return -1;
	*us = 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int64_t one = lp_proc_cpu_us((pid_t)strtol(line, NULL, 10));

		*us += one > 0 ? one : 0;
	}
	return 1;
}

/* No blkio here: limpet does not join that hierarchy, so I/O stays unknown. */
static int v1_stats(const char *path, struct lp_cgroup_stats *st, struct lp_err *err)
{
	int64_t ns;
	int found = v1_value(path, "cpu", "cpuacct.usage", &ns, err);

	if (found < 0)
		return -1;
	if (found)
		st->cpu_usage_us = ns / 1000;
	else if (v1_cpu_of_procs(path, &st->cpu_usage_us, err) < 0)
		return -1;
	if (v1_value(path, "memory", "memory.usage_in_bytes", &st->memory_bytes, err) < 0 ||
	    v1_value(path, "memory", "memory.limit_in_bytes", &st->memory_limit, err) < 0 ||
	    v1_value(path, "pids", "pids.current", &st->pids, err) < 0)
		return -1;
	if (st->memory_limit >= V1_NO_LIMIT)
		st->memory_limit = -1;
	return 0;
}

/* Run fn on path in every mounted hierarchy; all are tried, the first error is kept. */
static int v1_each_hierarchy(const char *path, int (*fn)(const char *dir, struct lp_err *err),
			     struct lp_err *err)
{
	char dir[PATH_MAX];
	struct lp_err one;
	int c, found, ret = 0;

	for (c = 0; c < V1_NR_CONTROLLERS; c++) {
		found = v1_resolve(path, v1_names[c], dir, sizeof(dir), &one);
		if (found == 0)
			continue;
		if (found > 0 && fn(dir, &one) == 0)
			continue;
		if (ret == 0 && err)
			*err = one;
		ret = -1;
	}
	return ret;
}

/*
 * The process joined every hierarchy, so the first one walked kills it and
 * the others find themselves empty; walking all of them also catches a
 * process that a failed setup left in only some.
 */
static int v1_kill(const char *path, struct lp_err *err)
{
	return v1_each_hierarchy(path, lp_cgroup_kill_tree, err);
}

static int v1_destroy(const char *path, struct lp_err *err)
{
	return v1_each_hierarchy(path, lp_cgroup_remove_tree, err);
}

static int v1_dir(const char *path, const char *controller, char *buf, size_t len,
		  struct lp_err *err)
{
	int found = v1_resolve(path, controller, buf, len, err);

	if (found < 0)
		return -1;
	if (found == 0)
		return lp_fail(err, ENOENT, "cgroup v1 controller %s is not mounted", controller);
	return 0;
}

/* The hierarchies the container joins, each once (cpu and cpuacct may share one). */
static int v1_views(struct lp_cgroup_fs *fs, struct lp_err *err)
{
	char mount[PATH_MAX];
	int c, i, n = 0, found;

	for (c = 0; c < V1_NR_CONTROLLERS; c++) {
		struct lp_cgroup_fs one = { .type = "cgroup" };
		const char *base;
		bool seen = false;

		found = lp_cgroup_v1_hierarchy(v1_names[c], mount, sizeof(mount), one.controllers,
					       sizeof(one.controllers), err);
		if (found < 0)
			return -1;
		if (!found)
			continue;
		base = strrchr(mount, '/');
		base = base ? base + 1 : mount;
		if (!*base || base[0] == '.' ||
		    strlen(base) >= sizeof(one.name))
			return lp_fail(err, EINVAL, "cgroup %s hierarchy at %s: unusable name",
				       v1_names[c], mount);
		strcpy(one.name, base);
		for (i = 0; i < n; i++)
			seen |= !strcmp(fs[i].name, one.name);
		if (!seen && n < LP_CGROUP_MAX_FS)
			fs[n++] = one;
	}
	return n;
}

const struct lp_cgroup_ops lp_cgroup_v1_ops = {
	.setup = v1_setup,
	.oom_kills = v1_oom_kills,
	.stats = v1_stats,
	.kill = v1_kill,
	.destroy = v1_destroy,
	.dir = v1_dir,
	.views = v1_views,
};

#endif /* CONFIG_CGROUP_V1 */
