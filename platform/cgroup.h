/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup v1 and v2 behind one interface.  The mode is detected at run time:
 * a board may boot either way (Raspberry Pi OS uses v2, older images v1).
 */
#ifndef LIMPET_CGROUP_H
#define LIMPET_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "platform/lib/err.h"
#include "platform/runtime.h"

enum lp_cgroup_mode {
	LP_CGROUP_NONE = 0,	/* no usable hierarchy */
	LP_CGROUP_V1,		/* per-controller hierarchies (legacy or hybrid) */
	LP_CGROUP_V2,		/* unified hierarchy owns the controllers */
};

/* The mount point of all hierarchies; LIMPET_CGROUP_ROOT overrides (tests). */
const char *lp_cgroup_root(void);
enum lp_cgroup_mode lp_cgroup_mode(void);
const char *lp_cgroup_mode_name(enum lp_cgroup_mode mode);
/*
 * $LIMPET_CGROUP_MODE, which overrides detection (tests, odd hosts): "v1",
 * "hybrid" (v1 controllers beside an empty cgroup2, so LP_CGROUP_V1 with
 * *hybrid set) or "v2".  1 with *mode set, 0 when unset, -1 (err) for
 * anything else.  The one reading of it, for the runtime and the board probe.
 */
int lp_cgroup_mode_override(enum lp_cgroup_mode *mode, bool *hybrid, struct lp_err *err);

/*
 * Where limpet puts its containers when the config says nothing: on v2 under
 * systemd with Delegate=yes, our own (delegated) cgroup; otherwise "/limpet".
 * Writes a path relative to the hierarchy root, starting with '/'.
 */
int lp_cgroup_default_parent(char *buf, size_t len, struct lp_err *err);

/*
 * Create cgroup `path` (relative, e.g. "/limpet/3f2a...") in every hierarchy
 * limpet uses, write the limits and the device allowlist, and move pid into it.
 * On v2, enables the needed controllers in the ancestors' subtree_control.
 */
int lp_cgroup_setup(const char *path, const struct lp_limits *limits,
		    const struct lp_device *devices, size_t n_devices, pid_t pid,
		    struct lp_err *err);

/*
 * Move pid into an existing container cgroup (every hierarchy it has), as
 * `limpet exec` does for processes started inside a running container.
 */
int lp_cgroup_attach(const char *path, pid_t pid, struct lp_err *err);

/*
 * What a container's /sys/fs/cgroup shows, as Docker's does: read-only
 * cgroup file systems mounted inside its cgroup namespace, so that each
 * shows the container's own cgroup as its root and a runtime in it (a JVM,
 * Go, nginx) can size itself to its limits.  On v2, one cgroup2 mount
 * (name ""); on v1, one per hierarchy the container joins, named as the
 * host names it ("memory", "cpu,cpuacct") with its controllers as options.
 */
struct lp_cgroup_fs {
	char type[8];		/* "cgroup2" or "cgroup" */
	char name[32];		/* its directory under /sys/fs/cgroup; "" for the whole */
	char controllers[64];	/* v1: "cpu,cpuacct"; v2: "" */
};
#define LP_CGROUP_MAX_FS 4
/*
 * Fill fs (LP_CGROUP_MAX_FS entries) and return how many there are: 0 if
 * there is nothing to show (no cgroups, or a test's LIMPET_CGROUP_ROOT).
 */
int lp_cgroup_views(struct lp_cgroup_fs *fs, struct lp_err *err);

/*
 * What the cgroup has used, as docker stats shows it.  -1 where this host
 * does not say (a controller not enabled for it, blkio on v1).
 */
struct lp_cgroup_stats {
	int64_t cpu_usage_us;		/* CPU time of all its tasks since it was made */
	int64_t memory_bytes;		/* memory charged to it now */
	int64_t memory_limit;		/* its limit; -1 also when it has none */
	int64_t pids;			/* tasks in it now */
	int64_t io_read_bytes, io_write_bytes;
};
int lp_cgroup_stats(const char *path, struct lp_cgroup_stats *st, struct lp_err *err);

/* How many times the OOM killer fired in the cgroup (memory.events / oom_control). */
int lp_cgroup_oom_kills(const char *path, uint64_t *count, struct lp_err *err);

/* SIGKILL everything left in the cgroup (cgroup.kill on v2, a procs loop on v1). */
int lp_cgroup_kill(const char *path, struct lp_err *err);

/* Remove the cgroup from every hierarchy; ENOENT is not an error. */
int lp_cgroup_destroy(const char *path, struct lp_err *err);

/* Absolute directory of the cgroup for a controller ("memory", "pids", ...). */
int lp_cgroup_dir(const char *path, const char *controller, char *buf, size_t len,
		  struct lp_err *err);

/*
 * Attach a cgroup v2 device filter (a BPF_PROG_TYPE_CGROUP_DEVICE program) to
 * the cgroup open at cgroup_dirfd: the default nodes every container gets and
 * devs are allowed, every other device is denied.  Used by the v2 backend;
 * v1 has the devices controller instead.
 */
int lp_cgroup_bpf_devices(int cgroup_dirfd, const struct lp_device *devs, size_t n,
			  struct lp_err *err);

/*
 * ---- Shared by the backends (platform/linux/cgroup*.c), not by callers ----
 *
 * cgroup.c detects the mode and dispatches to one of these; each exists only
 * when its CONFIG_CGROUP_V1 / CONFIG_CGROUP_V2 is set.
 */
struct lp_cgroup_ops {
	int (*setup)(const char *path, const struct lp_limits *limits,
		     const struct lp_device *devices, size_t n_devices, pid_t pid,
		     struct lp_err *err);
	int (*oom_kills)(const char *path, uint64_t *count, struct lp_err *err);
	int (*stats)(const char *path, struct lp_cgroup_stats *st, struct lp_err *err);
	int (*kill)(const char *path, struct lp_err *err);
	int (*destroy)(const char *path, struct lp_err *err);
	int (*dir)(const char *path, const char *controller, char *buf, size_t len,
		   struct lp_err *err);
	int (*views)(struct lp_cgroup_fs *fs, struct lp_err *err);
};
extern const struct lp_cgroup_ops lp_cgroup_v1_ops;
extern const struct lp_cgroup_ops lp_cgroup_v2_ops;

/* One device rule; major or minor LP_CGROUP_DEV_ANY is the "*" of devices.allow. */
#define LP_CGROUP_DEV_ANY (-1)
struct lp_cgroup_dev_rule {
	char type;		/* 'c' or 'b' */
	long major, minor;	/* or LP_CGROUP_DEV_ANY */
	char perms[4];		/* non-empty subset of "rwm" */
};

/* The nodes every container gets (null, zero, full, random, urandom, tty, ptmx, pts). */
extern const struct lp_cgroup_dev_rule lp_cgroup_default_devices[];
extern const size_t lp_cgroup_n_default_devices;
/* Check a granted device and turn it into a rule. */
int lp_cgroup_dev_rule(const struct lp_device *dev, struct lp_cgroup_dev_rule *rule,
		       struct lp_err *err);

/*
 * Where a v1 controller's hierarchy is mounted: ROOT/CONTROLLER when
 * LIMPET_CGROUP_ROOT is set, else found in /proc/self/mountinfo (which
 * handles "cpu,cpuacct" co-mounts).  Returns 1 and fills buf, 0 if the
 * controller is not mounted, -1 on error.
 */
int lp_cgroup_v1_mount(const char *controller, char *buf, size_t len, struct lp_err *err);
/*
 * The same from mountinfo (never ROOT/CONTROLLER), with the controllers
 * that hierarchy carries ("cpu,cpuacct") into opts: 1, 0 if not mounted.
 */
int lp_cgroup_v1_hierarchy(const char *controller, char *buf, size_t len, char *opts,
			   size_t opts_len, struct lp_err *err);

/*
 * A v1 hierarchy's super options ("rw,xattr,cpu,cpuacct") less its flags:
 * the controllers to mount it by, comma-separated ("cpu,cpuacct").
 */
int lp_cgroup_v1_controllers(const char *superopts, char *buf, size_t size, struct lp_err *err);

/* Our own cgroup on the unified hierarchy (the "0::" line of /proc/self/cgroup). */
int lp_cgroup_self_v2(char *buf, size_t len, struct lp_err *err);

/* Write "value\n" to dir/file, which must exist; errors name the file and value. */
int lp_cgroup_write(const char *dir, const char *file, const char *value, struct lp_err *err);
int lp_cgroup_write_int(const char *dir, const char *file, int64_t value, struct lp_err *err);
/* 1 if dir/file exists, 0 if not, -1 on any other error. */
int lp_cgroup_has_file(const char *dir, const char *file, struct lp_err *err);
/*
 * Read a file holding one number, or "max" (then -1): 1, or 0 when the file
 * is not there (a controller not enabled for this cgroup).
 */
int lp_cgroup_read_value(const char *dir, const char *file, int64_t *value, struct lp_err *err);
/* Read the "KEY N" line of a flat-keyed file; 1 if found, 0 if the key is absent. */
int lp_cgroup_read_key(const char *dir, const char *file, const char *key, uint64_t *value,
		       struct lp_err *err);
/* SIGKILL the processes of dir and its descendants until none are left. */
int lp_cgroup_kill_tree(const char *dir, struct lp_err *err);
/* rmdir dir after its descendants, waiting out EBUSY while processes exit. */
int lp_cgroup_remove_tree(const char *dir, struct lp_err *err);

#endif
