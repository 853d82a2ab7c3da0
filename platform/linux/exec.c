// SPDX-License-Identifier: Apache-2.0
/*
 * Run a command inside a running container (limpet exec, health checks).
 *
 * A first child joins the container's cgroup, then its namespaces (user
 * first, mount last).  Joining a PID namespace only places later children,
 * so it clones the command with CLONE_PARENT: the command lands inside the
 * container's PID namespace yet is our own child, to wait for like any
 * other.  The command then takes the container process's user, working
 * directory and environment, and gives up what a container gives up.
 */
#include "linux.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform/cgroup.h"
#include "platform/lib/util.h"

#define ENV_MAX (256 * 1024)
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

struct target {
	uid_t uid;
	gid_t gid;
	char cwd[PATH_MAX];
	char *env_buf;		/* NUL-separated, as /proc/PID/environ has it */
	char **env;
	int ns[8];
	size_t n_ns;
};

struct report {
	int code;
	int exec_failed;
	char msg[LP_ERR_MAX];
};

static int read_ids(pid_t pid, struct target *t, struct lp_err *err)
{
	char path[64], line[256];
	unsigned int ruid, euid, rgid, egid;
	bool got_uid = false, got_gid = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return lp_fail_errno(err, "open %s", path);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Uid: %u %u", &ruid, &euid) == 2) {
			t->uid = euid;
			got_uid = true;
		} else if (sscanf(line, "Gid: %u %u", &rgid, &egid) == 2) {
			t->gid = egid;
			got_gid = true;
		}
	}
	fclose(f);
	if (!got_uid || !got_gid)
		return lp_fail(err, EINVAL, "%s: no Uid/Gid lines", path);
	return 0;
}

/* The user, directory and environment of the container's process. */
static int read_target(pid_t pid, struct target *t, struct lp_err *err)
{
	char path[64];
	size_t len, n = 0, i;
	ssize_t cwd_len;

	if (read_ids(pid, t, err) < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
	/* The link shows the path inside the container's root. */
	cwd_len = readlink(path, t->cwd, sizeof(t->cwd) - 1);
	if (cwd_len <= 0 || t->cwd[0] != '/')
		strcpy(t->cwd, "/");
	else
		t->cwd[cwd_len] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	if (lp_read_file(path, ENV_MAX, &t->env_buf, &len, err) < 0)
		return -1;
	for (i = 0; i < len; i++)
		n += t->env_buf[i] == '\0';
	t->env = calloc(n + 2, sizeof(*t->env));
	if (!t->env)
		return lp_fail(err, ENOMEM, "out of memory");
	for (i = 0, n = 0; i < len; i += strlen(t->env_buf + i) + 1)
		if (t->env_buf[i])
			t->env[n++] = t->env_buf + i;
	return 0;
}

static int open_namespaces(pid_t pid, bool userns, struct target *t, struct lp_err *err)
{
	/* Order matters: the user namespace grants the rights to join the rest. */
	static const char *const order[] = { "user", "ipc", "uts", "net", "cgroup", "pid", "mnt" };
	char path[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(order); i++) {
		int fd;

		if (i == 0 && !userns)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, order[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return lp_fail_errno(err, "open %s", path);
		t->ns[t->n_ns++] = fd;
	}
	return 0;
}

static void target_free(struct target *t)
{
	size_t i;

	for (i = 0; i < t->n_ns; i++)
		close(t->ns[i]);
	free(t->env);
	free(t->env_buf);
}

static __attribute__((noreturn)) void fail_child(int fd, struct lp_err *err, int exec_failed)
{
	struct report r = { .code = err->code, .exec_failed = exec_failed };
	ssize_t n;

	memcpy(r.msg, err->msg, sizeof(r.msg));
	n = write(fd, &r, sizeof(r));
	(void)n;
	_exit(exec_failed ? 127 : 125);
}

static __attribute__((noreturn)) void run_command(const struct lp_exec_spec *spec,
						  const struct target *t, int report_fd)
{
	struct lp_err err = { 0 };
	sigset_t none;
	int i;

	for (i = 0; i < 3; i++)
		if (spec->stdio[i] >= 0 && dup2(spec->stdio[i], i) < 0) {
			lp_fail_errno(&err, "attach stdio %d", i);
			fail_child(report_fd, &err, 0);
		}
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	if (chdir(t->cwd) < 0 && chdir("/") < 0) {
		lp_fail_errno(&err, "chdir %s", t->cwd);
		fail_child(report_fd, &err, 0);
	}
	if (lp_privileges_drop(lp_cgroup_mode() == LP_CGROUP_V1, spec->userns, t->uid, t->gid,
			       &err) < 0)
		fail_child(report_fd, &err, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	environ = spec->envp ? (char **)spec->envp : t->env;
	execvp(spec->argv[0], spec->argv);
	lp_fail_errno(&err, "exec %s", spec->argv[0]);
	fail_child(report_fd, &err, 1);
}

/* The first child: join, clone the command as our parent's child, report its pid. */
static __attribute__((noreturn)) void enter(const struct lp_exec_spec *spec, struct target *t,
					    int report_fd, int pid_fd)
{
	struct lp_err err = { 0 };
	size_t i;
	pid_t cmd;

	if (spec->cgroup && lp_cgroup_attach(spec->cgroup, getpid(), &err) < 0)
		fail_child(report_fd, &err, 0);
	for (i = 0; i < t->n_ns; i++) {
		if (setns(t->ns[i], 0) < 0) {
			lp_fail_errno(&err, "join namespace %zu of the container", i);
			fail_child(report_fd, &err, 0);
		}
	}
	cmd = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
	if (cmd == 0)
		run_command(spec, t, report_fd);
	if (cmd < 0) {
		lp_fail_errno(&err, "start the command");
		fail_child(report_fd, &err, 0);
	}
	if (write(pid_fd, &cmd, sizeof(cmd)) != sizeof(cmd))
		_exit(125);
	_exit(0);
}

static int collect(pid_t first, int report_fd, int pid_fd, struct lp_proc *proc,
		   struct lp_err *err)
{
	struct report r;
	pid_t cmd = 0;
	ssize_t n;

	while (waitpid(first, NULL, 0) < 0 && errno == EINTR)
		;
	if (read(pid_fd, &cmd, sizeof(cmd)) != (ssize_t)sizeof(cmd))
		cmd = 0;
	/* EOF on the report pipe: the command's exec closed the last copy. */
	do {
		n = read(report_fd, &r, sizeof(r));
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(r)) {
		if (cmd > 0)
			while (waitpid(cmd, NULL, 0) < 0 && errno == EINTR)
				;
		proc->exec_errno = r.exec_failed ? r.code : 0;
		r.msg[sizeof(r.msg) - 1] = '\0';
		return lp_fail(err, r.code, "%s", r.msg);
	}
	if (cmd <= 0)
		return lp_fail(err, EIO, "the command did not start");
	proc->pid = cmd;
	proc->starttime = lp_proc_starttime(cmd);
	proc->pidfd = (int)syscall(SYS_pidfd_open, cmd, 0);
	if (proc->pidfd < 0)
		return lp_fail_errno(err, "pidfd for the command");
	return 0;
}

int lp_runtime_exec(const struct lp_exec_spec *spec, struct lp_proc *proc, struct lp_err *err)
{
	struct target t = { 0 };
	int report[2] = { -1, -1 }, pids[2] = { -1, -1 };
	pid_t first;
	int rc = -1;

	memset(proc, 0, sizeof(*proc));
	proc->pidfd = -1;
	if (!lp_proc_running(spec->target, spec->target_starttime)) {
		lp_fail(err, ESRCH, "the container is not running");
		goto out;
	}
	if (read_target(spec->target, &t, err) < 0 ||
	    open_namespaces(spec->target, spec->userns, &t, err) < 0)
		goto out;
	if (pipe2(report, O_CLOEXEC) < 0 || pipe2(pids, O_CLOEXEC) < 0) {
		lp_fail_errno(err, "pipe");
		goto out;
	}
	fflush(NULL);
	first = fork();
	if (first == 0) {
		close(report[0]);
		close(pids[0]);
		enter(spec, &t, report[1], pids[1]);
	}
	close(report[1]);
	close(pids[1]);
	report[1] = pids[1] = -1;
	if (first < 0) {
		lp_fail_errno(err, "fork");
		goto out;
	}
	rc = collect(first, report[0], pids[0], proc, err);
out:
	if (report[0] >= 0)
		close(report[0]);
	if (pids[0] >= 0)
		close(pids[0]);
	target_free(&t);
	return rc;
}
