// SPDX-License-Identifier: Apache-2.0
/* limpet exec NAME CMD...: a command inside a running container, in the foreground. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/container/container.h"
#include "platform/lib/util.h"

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

/* Wait for the command, passing our signals on; its status becomes ours. */
static int wait_forwarding(const struct lp_proc *proc)
{
	struct pollfd p[2];
	struct signalfd_siginfo si;
	siginfo_t info = { 0 };
	sigset_t set;
	size_t i;
	int sfd;

	sigemptyset(&set);
	for (i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	p[0] = (struct pollfd){ .fd = proc->pidfd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (;;) {
		if (poll(p, sfd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (sfd >= 0 && p[1].revents && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			syscall(SYS_pidfd_send_signal, proc->pidfd, (int)si.ssi_signo, NULL, 0);
	}
	if (sfd >= 0)
		close(sfd);
	if (waitid(P_PIDFD, (id_t)proc->pidfd, &info, WEXITED) < 0)
		return 125;
	return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
}

int cmd_exec(int argc, char **argv, struct lp_globals *g)
{
	static const struct option opts[] = {
		{ "env", required_argument, NULL, 'e' },
		{ "workdir", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct lp_container ct;
	struct lp_exec_spec spec = { .stdio = { -1, -1, -1 } };
	struct lp_proc proc;
	struct lp_err err = { 0 };
	const char *workdir = NULL;
	char **env = NULL;
	size_t n_env = 0;
	int opt, rc;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+e:w:", opts, NULL)) != -1) {
		char **nv;

		if (opt == 'w' && optarg[0] != '/') {
			free(env);
			return lp_usage_error("exec", "'%s' is not an absolute path", optarg);
		}
		if (opt == 'w') {
			workdir = optarg;
			continue;
		}
		if (opt != 'e' || !strchr(optarg, '=')) {
			free(env);
			return lp_usage_error("exec", "%s: expected -e KEY=VALUE or -w DIR",
					      argv[optind - 1]);
		}
		nv = realloc(env, (n_env + 2) * sizeof(*nv));
		if (!nv) {
			free(env);
			return lp_usage_error("exec", "out of memory");
		}
		env = nv;
		env[n_env++] = optarg;
		env[n_env] = NULL;
	}
	if (argc - optind < 2) {
		free(env);
		return lp_usage_error("exec", "needs a container NAME and a CMD");
	}
	if (lp_ct_load(&g->host, argv[optind], &ct, &err) < 0) {
		free(env);
		return lp_cmd_fail("exec", &err);
	}
	if (lp_ct_alive(&ct) && ct.st.vm) {
		lp_fail(&err, ENOTSUP, "container %s runs in a microVM: exec cannot enter it yet",
			ct.cfg.name);
		rc = lp_cmd_fail("exec", &err);
		goto out;
	}
	if (lp_ct_main_process(&ct, &spec.target, &spec.target_starttime) < 0) {
		lp_fail(&err, ESRCH, "container %s is not running", ct.cfg.name);
		rc = lp_cmd_fail("exec", &err);
		goto out;
	}
	spec.cgroup = ct.st.cgroup;
	spec.argv = argv + optind + 1;
	spec.userns = ct.cfg.userns_count > 0;
	/* -e adds to the container's environment rather than replacing it. */
	if (lp_ct_exec_env(&g->host, &ct, env, workdir, &spec, &err) < 0) {
		rc = lp_cmd_fail("exec", &err);
		goto out;
	}
	if (lp_runtime_exec(&spec, &proc, &err) < 0) {
		lp_cmd_fail("exec", &err);
		rc = proc.exec_errno == ENOENT ? 127 : proc.exec_errno ? 126 : 125;
		goto out;
	}
	rc = wait_forwarding(&proc);
	close(proc.pidfd);
out:
	lp_ct_exec_env_free(&spec);
	free(env);
	lp_ct_free(&ct);
	return rc;
}
