// SPDX-License-Identifier: Apache-2.0
/*
 * Start a container: clone into new namespaces, let the parent put the child
 * into its cgroup (and write uid maps), then the child builds its root,
 * drops privileges and execs.  Failures in the child travel back over a
 * close-on-exec pipe, so the parent learns either "exec happened" (EOF) or
 * exactly which step failed.
 */
#include "platform/linux/linux.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform/cgroup.h"
#include "platform/lib/fdpass.h"
#include "platform/lib/util.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#ifndef CONFIG_SECCOMP
int lp_seccomp_apply(struct lp_err *err)
{
	(void)err;
	return 0;
}

int lp_seccomp_prepare(const char *cache_dir, struct lp_err *err)
{
	(void)cache_dir;
	(void)err;
	return 0;
}

const void *lp_seccomp_program(size_t *len)
{
	*len = 0;
	return NULL;
}

int lp_seccomp_set_program(const void *prog, size_t len, struct lp_err *err)
{
	(void)prog;
	(void)len;
	(void)err;
	return 0;
}
#endif

/* What the child reports when a step fails: the errno and the message. */
struct child_report {
	int code;
	int exec_failed;
	char msg[LP_ERR_MAX];
};

struct child_ctx {
	const struct lp_spec *spec;
	int sync_fd;	/* parent writes one byte when the cgroup is ready */
	int report_fd;	/* close-on-exec: EOF means the exec happened */
	int exit_fd;	/* --init records the exit status here */
	int tty_fd;	/* with a tty: where the terminal's master goes back to the parent */
	bool keep_mknod;
	/* The child's spec with the binds' sources as descriptors; room made by the parent. */
	struct lp_spec by_fd;
	struct lp_bind *binds;
	char (*bind_src)[32];
};

static __attribute__((noreturn)) void child_die(const struct child_ctx *c, struct lp_err *err,
						 int exec_failed)
{
	struct child_report r = { .code = err->code, .exec_failed = exec_failed };
	ssize_t n;

	memcpy(r.msg, err->msg, sizeof(r.msg));
	n = write(c->report_fd, &r, sizeof(r));
	(void)n;
	_exit(exec_failed ? (err->code == ENOENT ? 127 : 126) : 125);
}

static int set_stdio(const struct lp_spec *spec, struct lp_err *err)
{
	int i;

	for (i = 0; i < 3; i++) {
		if (spec->stdio[i] < 0)
			continue;
		if (dup2(spec->stdio[i], i) < 0)
			return lp_fail_errno(err, "attach stdio %d", i);
	}
	return 0;
}

static int detach_stdio(struct lp_err *err)
{
	int i, null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0)
		return lp_fail_errno(err, "open /dev/null");
	for (i = 0; i < 3; i++)
		if (dup2(null, i) < 0)
			return lp_fail_errno(err, "stdio %d to /dev/null", i);
	close(null);
	return 0;
}

int lp_privileges_drop(bool keep_mknod, bool in_userns, uid_t uid, gid_t gid,
		       const gid_t *groups, size_t n_groups, struct lp_err *err)
{
	if (n_groups > LP_GROUPS_MAX)
		return lp_fail(err, E2BIG, "%zu supplementary groups: at most %d", n_groups,
			       LP_GROUPS_MAX);
	if (lp_caps_bound(keep_mknod, err) < 0)
		return -1;
	/* In a user namespace setgroups is denied (and there is nothing to clear). */
	if (!in_userns && setgroups(n_groups, n_groups ? groups : NULL) < 0)
		return lp_fail_errno(err, "set %zu supplementary groups", n_groups);
	if (setresgid(gid, gid, gid) < 0)
		return lp_fail_errno(err, "setgid %u", (unsigned int)gid);
	if (setresuid(uid, uid, uid) < 0)
		return lp_fail_errno(err, "setuid %u", (unsigned int)uid);
	/* A non-root user keeps no capabilities, as under Docker. */
	if (uid == 0 && lp_caps_apply(keep_mknod, err) < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return lp_fail_errno(err, "set no_new_privs");
	return lp_seccomp_apply(err);
}

/* Hardening shared by the entrypoint and, with --init, PID 1. */
static int drop_privileges(const struct child_ctx *c, uid_t uid, gid_t gid, const gid_t *groups,
			   size_t n_groups, struct lp_err *err)
{
	return lp_privileges_drop(c->keep_mknod, c->spec->userns_count > 0, uid, gid, groups,
				  n_groups, err);
}

/*
 * PID 1 with --init: its stdio, the pipe that lets the entrypoint go on, the
 * exit file, nothing else; then limpet again from the sealed copy (init.c).
 * Still in the host's view of the filesystem: a dynamic limpet loads its
 * libraries there, never from the image.  With cwd at "/", the entrypoint's
 * pivot_root moves our root and cwd into the container along with its own.
 */
static __attribute__((noreturn)) void run_init(struct child_ctx *c, pid_t entry, int ready_fd,
					       int self)
{
	char pid_arg[16], *argv[] = { LP_STAGE_INIT, pid_arg, NULL }, *envp[] = { NULL };
	const int *io = c->spec->stdio;
	int fds[] = { io[0] >= 0 ? io[0] : 0, io[1] >= 0 ? io[1] : 1, io[2] >= 0 ? io[2] : 2,
		      ready_fd, c->exit_fd, self, c->report_fd };
	enum { SELF = 5, REPORT = 6 };
	struct lp_err err = { 0 };

	snprintf(pid_arg, sizeof(pid_arg), "%d", (int)entry);
	if (chdir("/") < 0) {
		lp_fail_errno(&err, "chdir /");
		child_die(c, &err, 0);
	}
	if (lp_fds_arrange(fds, ARRAY_SIZE(fds)) < 0) {
		lp_fail_errno(&err, "arrange the fds of the init");
		child_die(c, &err, 0);
	}
	c->report_fd = REPORT;
	fcntl(SELF, F_SETFD, FD_CLOEXEC);
	fcntl(REPORT, F_SETFD, FD_CLOEXEC);
	if (drop_privileges(c, 0, 0, NULL, 0, &err) < 0)
		child_die(c, &err, 0);
	fexecve(SELF, argv, envp);
	lp_fail_errno(&err, "re-execute limpet from its sealed copy");
	child_die(c, &err, 0);
}

/*
 * With --init, PID 1 stays limpet code for the container's whole life: it
 * is non-dumpable before the first process of the image can exist (the
 * entrypoint inherits that until its exec), and the entrypoint waits until
 * PID 1 runs from the sealed copy before it builds the root.  Returns in
 * the entrypoint only.
 */
static void start_init(struct child_ctx *c)
{
	struct lp_err err = { 0 };
	int ready[2], self;
	sigset_t all;
	pid_t entry;
	char go;

	self = lp_self_sealed(&err);
	if (self < 0)
		child_die(c, &err, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (pipe2(ready, O_CLOEXEC) < 0) {
		lp_fail_errno(&err, "pipe");
		child_die(c, &err, 0);
	}
	/* Block first so no signal slips past PID 1 before it waits for them. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	entry = fork();
	if (entry < 0) {
		lp_fail_errno(&err, "fork entrypoint");
		child_die(c, &err, 0);
	}
	if (entry > 0) {
		close(ready[0]);
		run_init(c, entry, ready[1], self);
	}
	close(ready[1]);
	/* EOF: PID 1 failed and reported why; its end takes us along anyway. */
	if (read(ready[0], &go, 1) != 1)
		_exit(125);
	close(ready[0]);
}

/* What does not touch the filesystem: the same for PID 1 and the entrypoint. */
static int setup_namespaces(const struct child_ctx *c, struct lp_err *err)
{
	const struct lp_spec *spec = c->spec;
	const char *hostname = spec->hostname ? spec->hostname : spec->name;

	/* After the parent placed us: our cgroup becomes the container's "/". */
	if (unshare(CLONE_NEWCGROUP) < 0 && errno != EINVAL)
		return lp_fail_errno(err, "new cgroup namespace");
	if (sethostname(hostname, strlen(hostname)) < 0)
		return lp_fail_errno(err, "set hostname %s", hostname);
	if (setsid() < 0)
		return lp_fail_errno(err, "setsid");
	if (!spec->net_host && lp_net_loopback_up(err) < 0)
		return -1;
	return 0;
}

static int setup_root(const struct child_ctx *c, struct lp_err *err)
{
	const struct lp_spec *spec = c->spec;

	if (lp_mount_rootfs(spec, err) < 0 || lp_mount_finish(spec, err) < 0)
		return -1;
	if (spec->cwd && lp_chdir_workdir(spec->cwd) < 0)
		return lp_fail_errno(err, "working directory %s", spec->cwd);
	return 0;
}

/*
 * The container's terminal, from its own devpts now that its root is ours;
 * the master goes to the parent and is closed here before the exec, so no
 * process of the container ever holds it.
 */
static int open_terminal(struct child_ctx *c, struct lp_err *err)
{
	const struct lp_spec *spec = c->spec;
	int slave, master = lp_pty_open(spec->tty_rows, spec->tty_cols, &slave, err);

	if (master < 0)
		return -1;
	if (lp_pty_take(slave, spec->uid, err) < 0 ||
	    lp_fd_send(c->tty_fd, master, "t", 1, err) < 0) {
		close(master);
		return -1;
	}
	close(master);
	close(c->tty_fd);
	return 0;
}

/*
 * A microVM's container process is limpet's VMM (`limpet vmm`): the VM is
 * its isolation, so no namespaces; the cgroup (which lets it open
 * /dev/kvm) holds its limits.
 */
static __attribute__((noreturn)) void exec_vmm(const struct child_ctx *c)
{
	const struct lp_spec *spec = c->spec;
	struct lp_err err = { 0 };

	lp_signals_reset();
	if (setsid() < 0) {
		lp_fail_errno(&err, "setsid");
		child_die(c, &err, 0);
	}
	/* Its controlling terminal: a new size of it reaches the VMM as SIGWINCH. */
	if (spec->tty && (ioctl(c->tty_fd, TIOCSCTTY, 0) < 0 || dup2(c->tty_fd, 0) < 0 ||
			  dup2(c->tty_fd, 1) < 0 || dup2(c->tty_fd, 2) < 0)) {
		lp_fail_errno(&err, "the VMM's terminal");
		child_die(c, &err, 0);
	}
	if (!spec->tty && set_stdio(spec, &err) < 0)
		child_die(c, &err, 0);
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	execv("/proc/self/exe", spec->vmm_argv);
	lp_fail_errno(&err, "exec the VMM (/proc/self/exe)");
	child_die(c, &err, 1);
}

/*
 * Volumes live in a directory only root may enter (ROOT/volumes, 0700), out
 * of a user namespace root's reach: each is opened while we still have the
 * host's root credentials and bound from that descriptor.
 */
static int open_bind_sources(struct child_ctx *c, struct lp_err *err)
{
	const struct lp_spec *spec = c->spec;
	size_t i;

	for (i = 0; i < spec->n_binds; i++) {
		int fd = open(spec->binds[i].source, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (fd < 0)
			return lp_fail_errno(err, "volume %s: open %s", spec->binds[i].target,
					     spec->binds[i].source);
		c->binds[i] = spec->binds[i];
		snprintf(c->bind_src[i], sizeof(c->bind_src[i]), "/proc/self/fd/%d", fd);
		c->binds[i].source = c->bind_src[i];
	}
	c->by_fd = *spec;
	c->by_fd.binds = c->binds;
	c->spec = &c->by_fd;
	return 0;
}

static __attribute__((noreturn)) void child_main(struct child_ctx *c)
{
	const struct lp_spec *spec = c->spec;
	struct lp_err err = { 0 };
	char go;

	/* Until the exec, die with the parent instead of running half set up. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (read(c->sync_fd, &go, 1) != 1)
		_exit(125); /* the parent gave up (cgroup setup failed) */
	close(c->sync_fd);
	/* A detached container must outlive the agent that started it. */
	prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
	if (spec->vmm_argv)
		exec_vmm(c);
	/* Not even PID 1 under --init keeps the terminal limpet was started from. */
	if (spec->tty && detach_stdio(&err) < 0)
		child_die(c, &err, 0);
	if (spec->n_binds && open_bind_sources(c, &err) < 0)
		child_die(c, &err, 0);
	spec = c->spec;
	/* Become the user namespace's root: host root has no mapping inside it. */
	if (spec->userns_count && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
		lp_fail_errno(&err, "become root of the user namespace");
		child_die(c, &err, 0);
	}
	if (setup_namespaces(c, &err) < 0)
		child_die(c, &err, 0);
	if (spec->init)
		start_init(c);
	if (setup_root(c, &err) < 0)
		child_die(c, &err, 0);
	/* The supervisor blocks signals it reads from a signalfd; the container must not. */
	lp_signals_reset();
	/* In the cgroup (its device rules), with privileges still to drop (fchown). */
	if ((spec->tty ? open_terminal(c, &err) : set_stdio(spec, &err)) < 0)
		child_die(c, &err, 0);
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	if (drop_privileges(c, spec->uid, spec->gid, spec->groups, spec->n_groups, &err) < 0)
		child_die(c, &err, 0);
	lp_exec_search(spec->argv, spec->envp);
	lp_fail_errno(&err, "exec %s", spec->argv[0]);
	child_die(c, &err, 1);
}

static int write_id_maps(pid_t pid, const struct lp_spec *spec, struct lp_err *err)
{
	char path[64], map[64];

	snprintf(map, sizeof(map), "0 %u %u\n", spec->userns_uid, spec->userns_count);
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	if (lp_write_file(path, map, strlen(map), err) < 0)
		return lp_prefix(err, "user namespace");
	snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
	if (lp_write_file(path, "deny", 4, err) < 0)
		return lp_prefix(err, "user namespace");
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	if (lp_write_file(path, map, strlen(map), err) < 0)
		return lp_prefix(err, "user namespace");
	return 0;
}

static int place_child(pid_t pid, const struct lp_spec *spec, struct lp_err *err)
{
	if (spec->userns_count && write_id_maps(pid, spec, err) < 0)
		return -1;
	if (spec->cgroup && lp_cgroup_setup(spec->cgroup, &spec->limits, spec->devices,
					    spec->n_devices, pid, err) < 0)
		return lp_prefix(err, "cgroup %s", spec->cgroup);
	return 0;
}

/* Read the child's report: 0 on EOF (exec happened), -1 with err filled. */
static int await_exec(int fd, struct lp_proc *proc, struct lp_err *err)
{
	struct child_report r;
	ssize_t n;

	do {
		n = read(fd, &r, sizeof(r));
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(r))
		return lp_fail(err, EIO, "container died during setup");
	proc->exec_errno = r.exec_failed ? r.code : 0;
	r.msg[sizeof(r.msg) - 1] = '\0';
	return lp_fail(err, r.code, "%s", r.msg);
}

static void reap(struct lp_proc *proc)
{
	kill(proc->pid, SIGKILL);
	while (waitpid(proc->pid, NULL, __WALL) < 0 && errno == EINTR)
		;
	close(proc->pidfd);
	proc->pidfd = -1;
}

/* The master the child sent before its exec; nothing there means it never made one. */
static int take_console(int fd, struct lp_proc *proc, struct lp_err *err)
{
	char tag;
	size_t got;

	if (lp_fd_recv(fd, MSG_DONTWAIT, &tag, 1, &got, &proc->console_fd, err) < 0)
		return lp_prefix(err, "terminal");
	if (proc->console_fd < 0)
		return lp_fail(err, EIO, "terminal: the container sent none");
	return 0;
}

int lp_runtime_start(const struct lp_spec *spec, struct lp_proc *proc, struct lp_err *err)
{
	int sync[2], report[2], tty[2] = { -1, -1 };
	struct child_ctx c = { .spec = spec, .exit_fd = -1, .tty_fd = -1 };
	unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
			      CLONE_PIDFD | SIGCHLD;
	int pidfd = -1, ret;
	pid_t pid;

	memset(proc, 0, sizeof(*proc));
	proc->pidfd = -1;
	proc->console_fd = -1;
	if (spec->vmm_argv)
		flags = CLONE_PIDFD | SIGCHLD;
	else if (!spec->net_host)
		flags |= CLONE_NEWNET;
#ifdef CONFIG_USERNS
	if (spec->userns_count)
		flags |= CLONE_NEWUSER;
#else
	if (spec->userns_count)
		return lp_fail(err, ENOTSUP, "user namespaces not built in (CONFIG_USERNS)");
#endif
	/* Without a device cgroup on v2, CAP_MKNOD would let a container reach any device. */
	c.keep_mknod = lp_cgroup_mode() == LP_CGROUP_V1;
	/* Built (or read) here once, the child and its PID 1 only load it. */
	if (!spec->vmm_argv && lp_seccomp_prepare(spec->seccomp_cache, err) < 0)
		return -1;
	/* Made here, the copy counts against limpet's memory, not the container's. */
	if (spec->init && lp_self_sealed(err) < 0)
		return -1;
	if (spec->n_binds) {
		c.binds = calloc(spec->n_binds, sizeof(*c.binds));
		c.bind_src = calloc(spec->n_binds, sizeof(*c.bind_src));
		if (!c.binds || !c.bind_src) {
			free(c.binds);
			free(c.bind_src);
			return lp_fail(err, ENOMEM, "out of memory");
		}
	}
	if (spec->init && spec->exit_file) {
		c.exit_fd = open(spec->exit_file,
				 O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (c.exit_fd < 0) {
			free(c.binds);
			free(c.bind_src);
			return lp_fail_errno(err, "open %s", spec->exit_file);
		}
	}
	/*
	 * A container's terminal is made inside it and sent back over tty[];
	 * a VMM's is the host's, made here: tty[0] the master, tty[1] its stdio.
	 */
	if (spec->tty && spec->vmm_argv)
		tty[0] = lp_pty_open_host(spec->tty_rows, spec->tty_cols, &tty[1], err);
	else if (spec->tty && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, tty) < 0)
		lp_fail_errno(err, "terminal: socketpair");
	if (spec->tty && tty[0] < 0) {
		if (c.exit_fd >= 0)
			close(c.exit_fd);
		free(c.binds);
		free(c.bind_src);
		return -1;
	}
	if (pipe2(sync, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0) {
		if (tty[0] >= 0) {
			close(tty[0]);
			close(tty[1]);
		}
		if (c.exit_fd >= 0)
			close(c.exit_fd);
		free(c.binds);
		free(c.bind_src);
		return lp_fail_errno(err, "pipe");
	}
	fflush(NULL);
	pid = (pid_t)syscall(SYS_clone, flags, NULL, &pidfd, NULL, NULL);
	if (pid == 0) {
		close(sync[1]);
		close(report[0]);
		c.sync_fd = sync[0];
		c.report_fd = report[1];
		if (tty[0] >= 0)
			close(tty[0]);
		c.tty_fd = tty[1];
		child_main(&c);
	}
	close(sync[0]);
	close(report[1]);
	if (tty[1] >= 0)
		close(tty[1]);
	if (c.exit_fd >= 0)
		close(c.exit_fd);
	free(c.binds);
	free(c.bind_src);
	if (pid < 0) {
		lp_fail_errno(err, "clone (namespaces)");
		close(sync[1]);
		close(report[0]);
		if (tty[0] >= 0)
			close(tty[0]);
		return -1;
	}
	proc->pid = pid;
	proc->pidfd = pidfd;
	ret = place_child(pid, spec, err);
	if (ret == 0 && write(sync[1], "g", 1) != 1)
		ret = lp_fail_errno(err, "start container");
	close(sync[1]);
	if (ret == 0)
		ret = await_exec(report[0], proc, err);
	close(report[0]);
	if (ret == 0 && tty[0] >= 0 && spec->vmm_argv)
		proc->console_fd = steal_fd(&tty[0]);
	else if (ret == 0 && tty[0] >= 0)
		ret = take_console(tty[0], proc, err);
	if (tty[0] >= 0)
		close(tty[0]);
	if (ret < 0) {
		reap(proc);
		return -1;
	}
	proc->starttime = lp_proc_starttime(pid);
	return 0;
}
