/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One supervisor for all containers of a process: a foreground `limpet run`
 * has one, the agent has many.  It waits on pidfds (so containers started by
 * a previous agent can be watched too), applies restart policies with
 * backoff, keeps log files bounded, and never needs a process per container.
 */
#ifndef LIMPET_SUPERVISE_H
#define LIMPET_SUPERVISE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/container/container.h"
#include "agent/daemon/console.h"

struct lp_sv_entry;

struct lp_supervisor {
	const struct lp_host *host;
	struct lp_sv_entry **v;
	size_t n;
	int sigfd;
	int inotify_fd;
	int listen_fd;		/* agent control socket, -1 if none */
	bool foreground;	/* forward our signals to the one container */
	/*
	 * foreground: where a container with a terminal (cfg.tty) reads from
	 * (-1: nothing) and writes to; a new size of ours (SIGWINCH) is its.
	 * Detached containers' terminals go to their log files.
	 */
	int term_in, term_out;
	bool quit;		/* leave the loop; containers keep running */
	int last_status;	/* foreground: what the container's last run returned */
	/* agent: handle one request on an accepted connection */
	void (*on_request)(struct lp_supervisor *sv, int conn);
	/*
	 * agent: a helper process (the updater: fleet poller, USB watcher) that is started again,
	 * with backoff, when it dies, and ended with SIGTERM when we leave.
	 * spawn_worker returns a pidfd for it, or -1.
	 */
	int (*spawn_worker)(struct lp_supervisor *sv);
	/*
	 * agent: called on every pass of the loop (the systemd watchdog is fed
	 * from here, so a loop that hangs stops feeding it).  Returns the most
	 * milliseconds the loop may sleep before the next call, or -1.
	 */
	int (*on_tick)(struct lp_supervisor *sv);
	int worker_pidfd;
	int worker_attempt;
	int64_t worker_started_ms, worker_restart_at;
};

int lp_sv_init(struct lp_supervisor *sv, const struct lp_host *host, bool foreground,
	       struct lp_err *err);
void lp_sv_free(struct lp_supervisor *sv);

/*
 * Start ct (owned by the supervisor from now on, even on failure).  When the
 * setup worked but the command could not be executed, *exec_errno says why.
 */
int lp_sv_start(struct lp_supervisor *sv, struct lp_container *ct, int *exec_errno,
		struct lp_err *err);

/*
 * What the restart policy r says after a run that ended as st records and
 * lasted ran_ms: the milliseconds to wait before starting it again, or one of
 * these.  *attempt is the backoff's step (0 before the first restart); a run
 * of LP_RESTART_RESET_MS or more starts the backoff over.
 */
#define LP_SV_NO_RESTART (-1)
#define LP_SV_GIVE_UP (-2)	/* on-failure:N has used its N restarts */
int64_t lp_sv_restart_plan(const struct lp_restart *r, const struct lp_ct_state *st,
			   int64_t ran_ms, int *attempt);

/* Take over a container that is already running (started by an earlier agent). */
int lp_sv_adopt(struct lp_supervisor *sv, struct lp_container *ct, struct lp_err *err);

/*
 * Start the stopped container name again (from its record on disk), with
 * stop_requested cleared.  An exit of it not yet seen is recorded first.
 * EALREADY when it runs.
 */
int lp_sv_restart_stopped(struct lp_supervisor *sv, const char *name, struct lp_err *err);

/* Delete the stopped container name (and stop supervising it); EBUSY when it runs. */
int lp_sv_remove_stopped(struct lp_supervisor *sv, const char *name, struct lp_err *err);

/* How many of the supervised containers are running now. */
size_t lp_sv_running(const struct lp_supervisor *sv);

/*
 * A new `limpet attach` session on the terminal of the running container
 * name, sized rows x cols: the client's end (lp_console_attach), or -1 with
 * err (ESRCH: not running; ENOTTY: no terminal here).
 */
int lp_sv_attach(struct lp_supervisor *sv, const char *name, unsigned short rows,
		 unsigned short cols, struct lp_err *err);
/* Close every container's terminal here: in a process forked to do something else. */
void lp_sv_close_consoles(struct lp_supervisor *sv);

/* Is a container of this name supervised here? */
bool lp_sv_has(const struct lp_supervisor *sv, const char *name);

/* The next wait of a backoff; a run that lasted LP_RESTART_RESET_MS or more starts it over. */
int64_t lp_sv_backoff(int *attempt, int64_t ran_ms);

/* worker.c: start spawn_worker's process, record its end (and plan the next), end it. */
void lp_sv_worker_start(struct lp_supervisor *sv);
void lp_sv_worker_exited(struct lp_supervisor *sv);
void lp_sv_worker_stop(struct lp_supervisor *sv);

/*
 * Run until nothing is left to supervise (foreground) or a stop signal
 * arrives (agent: containers keep running for the next agent to adopt).
 */
int lp_sv_loop(struct lp_supervisor *sv, struct lp_err *err);

#endif
