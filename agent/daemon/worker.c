// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's helper process (the updater: fleet poller, USB watcher), which
 * the supervisor keeps running beside the containers: started again with
 * the same backoff as a container when it dies, ended when the agent goes.
 */
#include "agent/daemon/supervise.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/spec/parse.h"
#include "platform/lib/util.h"

void lp_sv_worker_start(struct lp_supervisor *sv)
{
	sv->worker_restart_at = 0;
	sv->worker_started_ms = lp_now_ms();
	sv->worker_pidfd = sv->spawn_worker(sv);
	if (sv->worker_pidfd < 0)
		sv->worker_restart_at = lp_now_ms() + lp_restart_delay_ms(++sv->worker_attempt);
}

void lp_sv_worker_exited(struct lp_supervisor *sv)
{
	siginfo_t si = { 0 };
	int64_t now = lp_now_ms(), delay;

	waitid(P_PIDFD, (id_t)sv->worker_pidfd, &si, WEXITED);
	close(sv->worker_pidfd);
	sv->worker_pidfd = -1;
	delay = lp_sv_backoff(&sv->worker_attempt, now - sv->worker_started_ms);
	sv->worker_restart_at = now + delay;
	if (si.si_code == CLD_EXITED)
		lp_say("limpet agent", "updater (fleet, USB) exited with code %d; again in %lld ms",
		       si.si_status, (long long)delay);
	else
		lp_say("limpet agent", "updater (fleet, USB) was killed by signal %d; again in %lld ms",
		       si.si_status, (long long)delay);
}

void lp_sv_worker_stop(struct lp_supervisor *sv)
{
	siginfo_t si;

	if (sv->worker_pidfd < 0)
		return;
	syscall(SYS_pidfd_send_signal, sv->worker_pidfd, SIGTERM, NULL, 0);
	waitid(P_PIDFD, (id_t)sv->worker_pidfd, &si, WEXITED);
	close(sv->worker_pidfd);
	sv->worker_pidfd = -1;
}
