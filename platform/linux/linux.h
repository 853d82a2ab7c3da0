/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to platform/linux: the steps the container's first process takes. */
#ifndef LIMPET_LINUX_H
#define LIMPET_LINUX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "platform/lib/err.h"
#include "platform/runtime.h"

/*
 * In a mount namespace of our own: / made private, the overlay on
 * spec->mergedir and the volumes in it.  Its root as an O_PATH fd.
 */
int lp_mount_root(const struct lp_spec *spec, struct lp_err *err);
/* lp_mount_root, then /proc, /dev, /sys, masks; pivot_root into it. */
int lp_mount_rootfs(const struct lp_spec *spec, struct lp_err *err);
/* After pivot_root: remount / read-only if asked. */
int lp_mount_finish(const struct lp_spec *spec, struct lp_err *err);
/* openat2(2), which libcs do not wrap; O_CLOEXEC added.  -1 with errno. */
int lp_openat2(int dir, const char *path, uint64_t flags, uint64_t resolve);
/*
 * chdir to a container's working directory from inside its root (after
 * pivot_root or setns), following no magic link: /proc/self/fd/N would be
 * one of our own fds, the operator's stdio among them.  -1 with errno.
 */
int lp_chdir_workdir(const char *path);

/* Docker's default capability set, as a mask of 1 << CAP_*. */
unsigned long long lp_caps_default(void);
/* Docker's default capability set; CAP_MKNOD kept only when keep_mknod. */
int lp_caps_apply(bool keep_mknod, struct lp_err *err);
/* Drop the bounding set to the default set (before changing uid). */
int lp_caps_bound(bool keep_mknod, struct lp_err *err);

/*
 * Everything a container process gives up before its exec: the bounding set,
 * the host's supplementary groups (groups become its own, n_groups of them,
 * at most LP_GROUPS_MAX; in a user namespace setgroups is denied and they
 * stay empty), uid/gid,
 * capabilities (Docker's set for root, none otherwise), no_new_privs, the
 * seccomp profile.
 */
int lp_privileges_drop(bool keep_mknod, bool in_userns, uid_t uid, gid_t gid,
		       const gid_t *groups, size_t n_groups, struct lp_err *err);

/* Load the default seccomp profile (a no-op when built without it). */
int lp_seccomp_apply(struct lp_err *err);
/*
 * Build the profile's BPF program once for this process, or read it from
 * cache_dir (NULL: no disk cache), so that lp_seccomp_apply only loads it.
 */
int lp_seccomp_prepare(const char *cache_dir, struct lp_err *err);
/* The prepared program (NULL if none), to hand to a re-executed stage; and back. */
const void *lp_seccomp_program(size_t *len);
int lp_seccomp_set_program(const void *prog, size_t len, struct lp_err *err);
/*
 * Write the profile's BPF program, as built for a board whose native
 * architecture is native (SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64), to fd.
 */
int lp_seccomp_export_bpf(uint32_t native, int fd, struct lp_err *err);

/*
 * A new pty of the container's devpts (call it with the container's root as
 * ours), sized rows x cols (0: left alone): the master, close-on-exec, and
 * its other end in *slave; -1 with err.
 */
int lp_pty_open(unsigned short rows, unsigned short cols, int *slave, struct lp_err *err);
/*
 * A pty of the host's for a microVM's VMM, raw (the guest's terminal does
 * the rest), sized rows x cols: the master, and its other end in *slave.
 */
int lp_pty_open_host(unsigned short rows, unsigned short cols, int *slave, struct lp_err *err);
/*
 * Make slave our controlling terminal in a session of our own, give it to
 * uid, and make it fds 0, 1, 2 (slave itself is closed if above 2).
 */
int lp_pty_take(int slave, uid_t uid, struct lp_err *err);

/* Bring up loopback in the current (new) network namespace. */
int lp_net_loopback_up(struct lp_err *err);

/* PID 1 in the container: run child pid until it exits, forwarding signals. */
__attribute__((noreturn)) void lp_init_run(pid_t child, int exit_fd);

/* argv[0] of limpet re-executed from its sealed copy, for one step (stage.c). */
#define LP_STAGE_EXEC "limpet:exec"
#define LP_STAGE_INIT "limpet:init"
#define LP_STAGE_FDS_MAX 32

/*
 * A memfd holding a copy of our own binary, sealed against any change: the
 * only executable a process limpet puts into a container may run.  Made
 * once per process and kept (close-on-exec); do not close it.
 */
int lp_self_sealed(struct lp_err *err);
/*
 * Make fds 0..n-1 copies of src[0..n-1] (a negative or closed source leaves
 * that number closed) and close every other fd.  -1 with errno, nothing
 * moved, if copying failed; the copies are not close-on-exec.
 */
int lp_fds_arrange(const int *src, int n);
/*
 * execve argv, looking a name without '/' up in envp's PATH (not ours),
 * as musl's execvpe does; -1 with errno (ENOENT, EACCES, ...) on failure.
 */
int lp_exec_search(char *const argv[], char *const envp[]);
/* The stages, run by lp_runtime_stage: exec.c and init.c. */
__attribute__((noreturn)) void lp_exec_stage(void);
__attribute__((noreturn)) void lp_init_stage(int argc, char **argv);

#endif
