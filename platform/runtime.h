/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The narrow interface agent/ uses to start a container.  Everything here is
 * already validated and resolved (paths absolute, limits in bytes/us); the
 * platform code only carries it out.
 */
#ifndef LIMPET_RUNTIME_H
#define LIMPET_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "platform/lib/err.h"

#define LP_DEV_PATH_MAX 256

/* A host device node handed to the container (--device). */
struct lp_device {
	char host[LP_DEV_PATH_MAX];	/* node on the host, e.g. /dev/gpiochip0 */
	char inner[LP_DEV_PATH_MAX];	/* where it appears inside, e.g. /dev/gpiochip0 */
	char perms[4];			/* subset of "rwm" */
	char type;			/* 'c' or 'b' */
	unsigned int major, minor;
};

/*
 * A host directory bound into the container (a volume): always nosuid and
 * nodev.  The target is created (0755) inside the root if it is missing;
 * symlinks on the way resolve inside the root, never out of it.
 */
struct lp_bind {
	const char *source;	/* host directory */
	const char *target;	/* absolute path inside */
	bool read_only;
};

/* Resource limits; 0 means "not limited" / "kernel default". */
struct lp_limits {
	int64_t memory;		/* bytes */
	int64_t cpu_quota;	/* microseconds of CPU per period */
	int64_t cpu_period;	/* microseconds; 100000 when a quota is set */
	int cpu_weight;		/* 1..10000, cgroup v2 scale (v1 shares are derived) */
	int64_t pids;		/* max tasks */
};

/* Supplementary groups a container process may have (Docker has no limit; 64 is plenty). */
#define LP_GROUPS_MAX 64

struct lp_spec {
	const char *name;
	const char *lowerdir;	/* overlay lowerdir (read-only image layers, ':' separated) */
	const char *upperdir;	/* per-container writable layer */
	const char *workdir;	/* overlay work dir, same filesystem as upperdir */
	const char *mergedir;	/* where the overlay is mounted before pivot_root */
	char *const *argv;	/* argv[0] is looked up in the container's PATH */
	char *const *envp;
	const char *hostname;
	const char *cwd;	/* NULL: "/" */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;	/* supplementary groups (ignored in a user namespace) */
	size_t n_groups;
	bool net_host;		/* share the host network namespace */
	bool read_only;		/* mount the rootfs read-only */
	bool init;		/* run limpet's minimal init as PID 1 */
	uint32_t userns_uid;	/* with userns_count > 0: container 0 -> host userns_uid */
	uint32_t userns_count;
	struct lp_limits limits;
	const struct lp_device *devices;
	size_t n_devices;
	const struct lp_bind *binds;	/* mounted before /proc, /dev and /sys */
	size_t n_binds;
	int stdio[3];		/* fds for the container's 0, 1, 2; -1 inherits ours */
	/*
	 * A terminal from the container's devpts as its 0, 1, 2 (stdio is
	 * not used then), tty_rows x tty_cols at the start; its master comes
	 * back in lp_proc.console_fd.
	 */
	bool tty;
	unsigned short tty_rows, tty_cols;
	const char *cgroup;	/* cgroup path relative to each hierarchy root */
	const char *exit_file;	/* with init: where the init records the exit status */
	const char *seccomp_cache; /* root's directory to keep the built filter in, or NULL */
	/*
	 * Set for a microVM: the process is this binary running argv (`limpet
	 * vmm ...`) in the cgroup, without namespaces; the rootfs, user,
	 * hostname and mount fields are the VM's business then.
	 */
	char *const *vmm_argv;
};

struct lp_proc {
	pid_t pid;			/* host pid of the container's PID 1 */
	int pidfd;			/* pidfd for it, owned by the caller */
	unsigned long long starttime;	/* /proc/PID/stat field 22, to recognise it later */
	int exec_errno;			/* set when setup worked but the exec failed */
	int console_fd;			/* the master of its terminal (tty), or -1; the caller's */
};

/*
 * Create namespaces, cgroup (with limits and device allowlist), mounts and
 * privileges, then exec spec->argv.  Returns once the exec has succeeded;
 * any failure before that comes back in err with the step that failed.
 */
int lp_runtime_start(const struct lp_spec *spec, struct lp_proc *proc, struct lp_err *err);

/* A command to run inside a running container (limpet exec, health checks). */
struct lp_exec_spec {
	pid_t target;			/* the container process to join */
	unsigned long long target_starttime;
	const char *cgroup;		/* the container's cgroup path */
	char *const *argv;
	char *const *envp;		/* the command's environment (NULL: an empty one) */
	const char *cwd;		/* inside the container's root; NULL: "/" */
	bool userns;			/* the container has its own user namespace */
	int stdio[3];			/* -1 inherits ours */
	bool tty;			/* as lp_spec.tty */
	unsigned short tty_rows, tty_cols;
};

/*
 * Start argv inside the container of spec->target, as that process's user
 * and groups, with the container's privileges, in spec->cwd with
 * spec->envp; proc describes the command, our child.
 */
int lp_runtime_exec(const struct lp_exec_spec *spec, struct lp_proc *proc, struct lp_err *err);

/* starttime of pid, 0 if it does not exist. */
unsigned long long lp_proc_starttime(pid_t pid);
/* CPU time it has used (user and system, its threads included) in microseconds; -1 if gone. */
int64_t lp_proc_cpu_us(pid_t pid);
/* Is pid still the process that had starttime, and not a zombie? */
bool lp_proc_running(pid_t pid, unsigned long long starttime);

/* Open a pidfd for pid and check it is still the process that had starttime. */
int lp_proc_adopt(pid_t pid, unsigned long long starttime, struct lp_proc *proc);

/*
 * The root directory of pid's mount namespace, as an O_PATH fd; ESRCH
 * unless pid is still the process that had starttime once it is open.
 */
int lp_proc_root(pid_t pid, unsigned long long starttime, struct lp_err *err);

/* What is done with a container's root (an O_PATH fd of it): 0, or -1 with err. */
typedef int lp_root_fn(int rootfd, void *arg, struct lp_err *err);
/*
 * A stopped container's root for fn: in a child of ours with a mount
 * namespace of its own, the overlay of spec (lowerdir, upperdir, workdir,
 * userns_count) and its binds are mounted on spec->mergedir, an empty
 * directory, where nobody else sees them; fn runs there and its error
 * comes back in err.  Every other field of spec but name is ignored.
 */
int lp_runtime_with_root(const struct lp_spec *spec, lp_root_fn *fn, void *arg,
			 struct lp_err *err);

/*
 * Is argv0 one of the steps limpet runs inside a container, re-executed
 * from a sealed copy of itself?  main() hands those to lp_runtime_stage
 * before anything else (no config, no environment, fds set by the caller).
 */
bool lp_runtime_is_stage(const char *argv0);
__attribute__((noreturn)) void lp_runtime_stage(int argc, char **argv);


#endif
