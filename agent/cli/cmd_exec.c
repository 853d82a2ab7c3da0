// SPDX-License-Identifier: Apache-2.0
/* limpet exec NAME CMD...: a command inside a running container, in the foreground. */
#include <errno.h>
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
#include "agent/daemon/relay.h"
#include "agent/cli/term.h"
#include "agent/container/container.h"
#include "platform/lib/util.h"

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

/*
 * Wait for the command, passing our signals on (a terminal's new size goes
 * to its terminal instead) and relaying its terminal if it has one; its
 * status becomes ours.
 */
static int wait_forwarding(const struct lp_proc *proc, struct lp_relay *relay)
{
	struct pollfd p[2 + LP_RELAY_FDS];
	struct signalfd_siginfo si;
	siginfo_t info = { 0 };
	sigset_t set;
	size_t i, n;
	int sfd;

	sigemptyset(&set);
	for (i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	for (;;) {
		n = 0;
		p[n++] = (struct pollfd){ .fd = proc->pidfd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = sfd, .events = sfd >= 0 ? POLLIN : 0 };
		if (relay)
			n += lp_relay_pollfds(relay, p + n);
		if (poll(p, n, -1) < 0 && errno != EINTR)
			break;
		if (relay)
			lp_relay_events(relay, p + 2, n - 2);
		if (p[0].revents)
			break;
		if (!p[1].revents || read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		if (relay && si.ssi_signo == SIGWINCH)
			lp_relay_resize(relay);
		else
			syscall(SYS_pidfd_send_signal, proc->pidfd, (int)si.ssi_signo, NULL, 0);
	}
	if (sfd >= 0)
		close(sfd);
	if (relay)
		lp_relay_drain(relay);
	if (waitid(P_PIDFD, (id_t)proc->pidfd, &info, WEXITED) < 0)
		return 125;
	return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
}

/*
 * The terminal a -t command starts with: ours in raw mode when the
 * operator types into it (-i), else only its size.
 */
static int take_terminal(bool input, struct lp_exec_spec *spec, struct lp_err *err)
{
	spec->tty = true;
	if (input && lp_term_check(0, err) < 0)
		return -1;
	lp_relay_size(0, 1, &spec->tty_rows, &spec->tty_cols);
	return 0;
}

static const struct lp_opt exec_opts[] = {
	{ 'e', 'e', "env", "KEY=VALUE", "set an environment variable (repeatable)" },
	{ 'w', 'w', "workdir", "DIR", "working directory inside (absolute)" },
	{ 'i', 'i', "interactive", NULL, "type into it (with -t: through its terminal)" },
	{ 't', 't', "tty", NULL, "give it a terminal of the container's own" },
	{ 0 },
};

static int cmd_exec(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_exec = {
	.name = "exec",
	.operands = "NAME CMD [ARGS...]",
	.summary = "Run a command in a running container",
	.opts = exec_opts,
	.notes = "It gets the container's environment, user, namespaces, cgroup and\n"
		 "restrictions. Without -t it shares limpet's standard input and output.\n"
		 "Exit status: the command's, or 125, 126, 127 as with run.",
	.fn = cmd_exec,
};

static int cmd_exec(int argc, char **argv, struct lp_globals *g)
{
	struct lp_container ct;
	struct lp_exec_spec spec = { .stdio = { -1, -1, -1 } };
	struct lp_proc proc;
	struct lp_err err = { 0 };
	struct lp_opts p;
	const char *workdir = NULL;
	struct lp_relay relay;
	bool input = false, tty = false, broken;
	char **env = NULL;
	size_t n_env = 0;
	int opt, rc, first;

	lp_opts_init(&p, &lp_doc_exec, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0) {
		char **nv;

		if (opt == 'i' || opt == 't') {
			input = input || opt == 'i';
			tty = tty || opt == 't';
			continue;
		}

		if (opt == 'w' && p.arg[0] != '/') {
			free(env);
			return lp_usage_error("exec", "-w %s: not an absolute path", p.arg);
		}
		if (opt == 'w') {
			workdir = p.arg;
			continue;
		}
		if (!strchr(p.arg, '=')) {
			free(env);
			return lp_usage_error("exec", "-e %s: not KEY=VALUE", p.arg);
		}
		nv = realloc(env, (n_env + 2) * sizeof(*nv));
		if (!nv) {
			free(env);
			return lp_usage_error("exec", "out of memory");
		}
		env = nv;
		env[n_env++] = (char *)p.arg;
		env[n_env] = NULL;
	}
	if (opt == LP_OPT_EXIT) {
		free(env);
		return p.status;
	}
	first = p.ind;
	if (argc - first < 2) {
		free(env);
		return lp_usage_error("exec", "needs a container NAME and a CMD");
	}
	if (lp_ct_load(&g->host, argv[first], &ct, &err) < 0) {
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
	spec.argv = argv + first + 1;
	spec.userns = ct.cfg.userns_count > 0;
	/* -e adds to the container's environment rather than replacing it. */
	if (lp_ct_exec_env(&g->host, &ct, env, workdir, &spec, &err) < 0) {
		rc = lp_cmd_fail("exec", &err);
		goto out;
	}
	if (tty && take_terminal(input, &spec, &err) < 0) {
		lp_cmd_fail("exec", &err);
		rc = 125;
		goto out;
	}
	if (lp_runtime_exec(&spec, &proc, &err) < 0) {
		lp_cmd_fail("exec", &err);
		rc = proc.exec_errno == ENOENT ? 127 : proc.exec_errno ? 126 : 125;
		goto out;
	}
	broken = tty && (lp_relay_init(&relay, input ? 0 : -1, 1, proc.console_fd) < 0 ||
			 (input && lp_term_raw(0, &err) < 0));
	if (broken) {
		if (!err.msg[0])
			lp_fail_errno(&err, "terminal");
		lp_cmd_fail("exec", &err);
		syscall(SYS_pidfd_send_signal, proc.pidfd, SIGKILL, NULL, 0);
	}
	rc = wait_forwarding(&proc, tty ? &relay : NULL);
	if (broken)
		rc = 125;
	if (input)
		lp_term_restore();
	close(proc.pidfd);
	if (proc.console_fd >= 0)
		close(proc.console_fd);
out:
	lp_ct_exec_env_free(&spec);
	free(env);
	lp_ct_free(&ct);
	return rc;
}
