// SPDX-License-Identifier: Apache-2.0
#include "agent/deploy/health.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform/lib/util.h"

/* How often a wait looks at the container between probes. */
#define WATCH_MS 100
#define OUTPUT_MAX 1024

/* The last non-empty line of what the probe printed, for the message. */
static void last_line(char *buf, size_t len, char *out, size_t out_len)
{
	char *end, *start;

	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	end = buf + len;
	start = memrchr(buf, '\n', (size_t)(end - buf));
	start = start ? start + 1 : buf;
	/* Truncating a long line is what we want here. */
	out[0] = '\0';
	if (*start && out_len > 3) {
		size_t n = strlen(start) < out_len - 3 ? strlen(start) : out_len - 3;

		memcpy(out, ": ", 2);
		memcpy(out + 2, start, n);
		out[2 + n] = '\0';
	}
}

/* Read what fits of the probe's output until it exits or time runs out. */
static int collect(const struct lp_proc *proc, int out_fd, int64_t deadline, char *buf,
		   size_t *len)
{
	struct pollfd p[2] = {
		{ .fd = proc->pidfd, .events = POLLIN },
		{ .fd = out_fd, .events = POLLIN },
	};
	char sink[512];

	for (;;) {
		int64_t left = deadline - lp_now_ms();
		int n;

		if (left <= 0)
			return -1;
		n = poll(p, p[1].fd >= 0 ? 2 : 1, (int)left);
		if (n < 0 && errno != EINTR)
			return -1;
		if (p[1].fd >= 0 && p[1].revents) {
			ssize_t r = *len < OUTPUT_MAX ? read(out_fd, buf + *len, OUTPUT_MAX - *len)
						      : read(out_fd, sink, sizeof(sink));

			if (r > 0 && *len < OUTPUT_MAX)
				*len += (size_t)r;
			else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
				p[1].fd = -1; /* all writers gone */
		}
		if (p[0].revents)
			return 0;
	}
}

int lp_health_probe(const struct lp_host *host, const struct lp_container *ct, char *const *argv,
		    int64_t timeout_ms, struct lp_err *err)
{
	struct lp_exec_spec spec = { .argv = argv, .cgroup = ct->st.cgroup };
	struct lp_proc proc;
	siginfo_t info = { 0 };
	char buf[OUTPUT_MAX + 1], tail[160];
	size_t len = 0;
	int pipefd[2], null_fd, rc;
	bool in_time;

	if (lp_ct_main_process(ct, &spec.target, &spec.target_starttime) < 0)
		return lp_fail(err, ESRCH, "container %s is not running", ct->cfg.name);
	spec.userns = ct->cfg.userns_count > 0;
	/* As Docker's HEALTHCHECK: the container's environment and working directory. */
	if (lp_ct_exec_env(host, ct, NULL, NULL, &spec, err) < 0)
		return lp_prefix(err, "health check of %s", ct->cfg.name);
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		lp_ct_exec_env_free(&spec);
		return lp_fail_errno(err, "health check of %s: pipe", ct->cfg.name);
	}
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	spec.stdio[0] = null_fd;
	spec.stdio[1] = pipefd[1];
	spec.stdio[2] = pipefd[1];
	rc = lp_runtime_exec(&spec, &proc, err);
	lp_ct_exec_env_free(&spec);
	close(pipefd[1]);
	if (null_fd >= 0)
		close(null_fd);
	if (rc < 0) {
		close(pipefd[0]);
		return lp_prefix(err, "health check of %s", ct->cfg.name);
	}
	in_time = collect(&proc, pipefd[0], lp_now_ms() + timeout_ms, buf, &len) == 0;
	close(pipefd[0]);
	if (!in_time)
		syscall(SYS_pidfd_send_signal, proc.pidfd, SIGKILL, NULL, 0);
	rc = waitid(P_PIDFD, (id_t)proc.pidfd, &info, WEXITED);
	close(proc.pidfd);
	last_line(buf, len, tail, sizeof(tail));
	if (!in_time)
		return lp_fail(err, ETIMEDOUT, "health check of %s timed out after %lld ms%s",
			       ct->cfg.name, (long long)timeout_ms, tail);
	if (rc < 0)
		return lp_fail_errno(err, "health check of %s: wait", ct->cfg.name);
	if (info.si_code != CLD_EXITED)
		return lp_fail(err, EIO, "health check of %s was killed by signal %d%s",
			       ct->cfg.name, info.si_status, tail);
	if (info.si_status != 0)
		return lp_fail(err, EIO, "health check of %s exited with code %d%s", ct->cfg.name,
			       info.si_status, tail);
	return 0;
}

/* Has the container ended, or been restarted, since we first saw it? */
static int still_first_run(const struct lp_host *host, const char *name, pid_t pid,
			   unsigned long long starttime, struct lp_container *ct,
			   struct lp_err *err)
{
	if (lp_ct_load(host, name, ct, err) < 0)
		return -1;
	if (ct->st.pid == pid && ct->st.starttime == starttime && lp_ct_alive(ct))
		return 0;
	if (ct->st.status == LP_CT_EXITED && ct->st.oom_killed)
		lp_fail(err, ECHILD, "container %s was killed by the OOM killer before it was "
			"healthy", name);
	else if (ct->st.status == LP_CT_EXITED && !ct->st.exit_unknown)
		lp_fail(err, ECHILD, "container %s exited with code %d before it was healthy",
			name, ct->st.exit_code);
	else
		lp_fail(err, ECHILD, "container %s stopped or restarted before it was healthy",
			name);
	lp_ct_free(ct);
	return -1;
}

int lp_health_wait(const struct lp_host *host, const char *name, const struct lp_health *h,
		   struct lp_err *err)
{
	struct lp_container ct;
	int64_t start = lp_now_ms(), next_probe = start;
	unsigned long long starttime;
	int failures = 0;
	pid_t pid;

	if (lp_ct_load(host, name, &ct, err) < 0)
		return -1;
	pid = ct.st.pid;
	starttime = ct.st.starttime;
	lp_ct_free(&ct);
	for (;;) {
		int64_t now = lp_now_ms();
		bool counts = now - start >= h->start_period_ms;
		struct lp_err probe_err = { 0 };

		if (still_first_run(host, name, pid, starttime, &ct, err) < 0)
			return -1;
		if (!h->argv && counts) {
			lp_ct_free(&ct);
			return 0;
		}
		if (h->argv && now >= next_probe) {
			int rc = lp_health_probe(host, &ct, h->argv, h->timeout_ms, &probe_err);

			next_probe = lp_now_ms() + h->interval_ms;
			if (rc == 0) {
				lp_ct_free(&ct);
				return 0;
			}
			/* Failures in the start period do not count. */
			if (lp_now_ms() - start >= h->start_period_ms && ++failures >= h->retries) {
				lp_ct_free(&ct);
				return lp_fail(err, probe_err.code, "%s (%d in a row)", probe_err.msg,
					       failures);
			}
		}
		lp_ct_free(&ct);
		usleep(WATCH_MS * 1000);
	}
}
