// SPDX-License-Identifier: Apache-2.0
/*
 * With --init, PID 1 of the container stays limpet code (no exec, so nothing
 * of the image is trusted to do it): it forwards every signal to the
 * entrypoint, reaps orphans so zombies do not pile up, and records the
 * entrypoint's exit status in a file the supervisor can read even when it
 * is not our parent (an agent restarted while the container ran).
 */
#include "platform/linux/linux.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void record_exit(int exit_fd, int status)
{
	char buf[64];
	int len;

	if (exit_fd < 0)
		return;
	if (WIFSIGNALED(status))
		len = snprintf(buf, sizeof(buf), "signal %d\n", WTERMSIG(status));
	else
		len = snprintf(buf, sizeof(buf), "exit %d\n", WEXITSTATUS(status));
	if (write(exit_fd, buf, (size_t)len) != len)
		return; /* the supervisor falls back to our own exit code */
	fsync(exit_fd);
}

void lp_init_run(pid_t child, int exit_fd)
{
	sigset_t all;
	siginfo_t si;
	int status, sig;
	pid_t pid;

	/* Nobody in the container may ptrace or read the memory of PID 1. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		sig = sigwaitinfo(&all, &si);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			_exit(125);
		}
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != child)
				continue;
			record_exit(exit_fd, status);
			/* Our exit takes the rest of the PID namespace with it. */
			_exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
		}
	}
}

/*
 * PID 1 re-executed from the sealed copy (runtime.c): fd 3 lets the
 * entrypoint go on, fd 4 (if open) is the exit file; argv[1] the entrypoint.
 */
void lp_init_stage(int argc, char **argv)
{
	char *end;
	long entry;

	/* Before anything else: the exec made us dumpable again. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (argc != 2 || getpid() != 1)
		_exit(125);
	entry = strtol(argv[1], &end, 10);
	if (entry <= 1 || *end || write(3, "g", 1) != 1)
		_exit(125);
	close(3);
	lp_init_run((pid_t)entry, fcntl(4, F_GETFD) < 0 ? -1 : 4);
}
