/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container on disk: ROOT/containers/NAME/ holds config.json (what was
 * asked), state.json (what happened), upper/ and work/ (its writable layer),
 * rootfs/ (mount point inside its own mount namespace), its log files, and
 * with --init the exit file PID 1 writes.  Every command and the agent go
 * through these functions, so they agree on what a container is.  NAME is
 * root's (0700; 0710 to the group of a user namespace's root, which owns
 * upper/, work/ and rootfs/), so nothing the agent writes there can be a
 * link a container planted.
 */
#ifndef LIMPET_CONTAINER_H
#define LIMPET_CONTAINER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/config/host.h"
#include "platform/runtime.h"
#include "agent/spec/spec.h"

enum lp_ct_status {
	LP_CT_CREATED = 0,
	LP_CT_RUNNING,
	LP_CT_EXITED,
};

struct lp_ct_state {
	char id[17];			/* random, fixed for the container's life */
	enum lp_ct_status status;
	pid_t pid;			/* host pid of PID 1 while running */
	unsigned long long starttime;	/* with pid: recognises the process */
	pid_t supervisor;		/* who waits for it: the agent or a foreground run */
	unsigned long long supervisor_start;
	bool stop_requested;		/* stop/rm asked: no restart */
	bool detached;			/* output goes to the log files */
	bool auto_remove;		/* --rm */
	int exit_code;			/* valid when EXITED; 128+signal when killed */
	int signal;			/* killing signal, 0 if it exited */
	bool oom_killed;
	bool exit_unknown;		/* exited while nobody could wait for it */
	bool vm;			/* this run is a microVM: pid is its VMM */
	int restarts;
	int64_t started_at, finished_at; /* wall clock seconds */
	char cgroup[PATH_MAX];
	/* Set when a deployment made it: which of its containers, from which version. */
	char deploy_name[LP_NAME_MAX + 1];
	int64_t deploy_version;		/* 0: not from a deployment */
};

struct lp_container {
	struct lp_container_cfg cfg;
	struct lp_ct_state st;
	char dir[PATH_MAX];
	char log_path[PATH_MAX];
	/* The size of the terminal (cfg.tty) it starts with; not kept on disk. */
	unsigned short tty_rows, tty_cols;
};

/* Give ct->dir the owner and mode above, taking it back from an older layout. */
int lp_ct_claim_dir(const struct lp_container *ct, struct lp_err *err);

/* Make a new container record; takes ownership of *cfg (zeroed on return). */
int lp_ct_create(const struct lp_host *host, struct lp_container_cfg *cfg, bool detached,
		 bool auto_remove, struct lp_container *ct, struct lp_err *err);
int lp_ct_load(const struct lp_host *host, const char *name, struct lp_container *ct,
	       struct lp_err *err);
int lp_ct_save(struct lp_container *ct, struct lp_err *err);
/*
 * state.json has more than one writer: the agent that supervises the
 * container (exits, restarts) and whoever stops it (a deployment switch,
 * the CLI).  Each reads, changes and writes it holding this lock, so that
 * a stop is never lost under a restart.  Returns the descriptor to close.
 */
int lp_ct_lock(const struct lp_container *ct, struct lp_err *err);
void lp_ct_free(struct lp_container *ct);

/* Finish removals a killed rm or agent left half done (the agent, at start). */
void lp_ct_sweep(const struct lp_host *host);

/* Names of all containers (sorted); free with lp_ct_names_free. */
int lp_ct_names(const struct lp_host *host, char ***names, size_t *n, struct lp_err *err);
void lp_ct_names_free(char **names, size_t n);

/* Start it (as the calling process's child); state becomes RUNNING. */
int lp_ct_start(const struct lp_host *host, struct lp_container *ct, struct lp_proc *proc,
		struct lp_err *err);
/*
 * Record how it ended: status from waitid (is_status true), else from the
 * --init exit file, else unknown.  Reports OOM kills, clears the cgroup.
 */
int lp_ct_record_exit(struct lp_container *ct, bool have_status, int code, int sig,
		      struct lp_err *err);

/*
 * The overlay lowerdir ("DIR:DIR...", top first) the last start of an image
 * container used; NULL when there is none.  Free it.
 */
char *lp_ct_lowerdir(const struct lp_container *ct);

/* Is the recorded PID 1 still that process? */
bool lp_ct_alive(const struct lp_container *ct);
/* Is the recorded supervisor still alive (so it will record the exit)? */
bool lp_ct_supervised(const struct lp_container *ct);

/*
 * The process that runs the container's command: PID 1, or with --init the
 * entrypoint under limpet's init.  -1 when the container is not running.
 */
int lp_ct_main_process(const struct lp_container *ct, pid_t *pid,
		       unsigned long long *starttime);
/*
 * fn with an O_PATH fd of ct's root directory (limpet cp): a running
 * container's is its process's, the one its mounts (volumes, /proc, /dev)
 * are in; a stopped one's overlay and volumes are mounted where only fn
 * sees them (lp_runtime_with_root), and fn runs in a child process.
 */
int lp_ct_with_root(const struct lp_host *host, const struct lp_container *ct, lp_root_fn *fn,
		    void *arg, struct lp_err *err);

/*
 * spec->envp and spec->cwd for a command run in ct (exec, health probes), as
 * Docker's exec has them: the environment and working directory its start
 * gave ct's process (ROOT/containers/NAME/run.env; resolved from its config
 * for a container an older limpet started), extra (KEY=VALUE, NULL-terminated,
 * may be NULL) on top; workdir, unless NULL, instead of that directory.
 * Free them with lp_ct_exec_env_free.
 */
int lp_ct_exec_env(const struct lp_host *host, const struct lp_container *ct, char *const *extra,
		   const char *workdir, struct lp_exec_spec *spec, struct lp_err *err);
void lp_ct_exec_env_free(struct lp_exec_spec *spec);

/*
 * Send sig to its PID 1 (ESRCH when it is not running).  KILL and TERM end
 * it as a stop does: its restart policy does not start it again.  A
 * microVM takes only those two (ENOTSUP): its pid is the VMM's.
 */
int lp_ct_kill(struct lp_container *ct, int sig, struct lp_err *err);
/* SIGTERM, then SIGKILL after timeout_ms; returns once PID 1 is gone. */
int lp_ct_stop(struct lp_container *ct, int64_t timeout_ms, struct lp_err *err);
/* Delete everything of a stopped container. */
int lp_ct_remove(struct lp_container *ct, struct lp_err *err);

const char *lp_ct_status_name(const struct lp_container *ct);
/*
 * Whether exit_code and signal say how it ended: it exited and someone saw
 * it (not while it runs, nor when it ended unsupervised, nor "lost").
 * Reports show null where this is false, never a made-up 0.
 */
bool lp_ct_exit_known(const struct lp_container *ct);
/* Exit status a foreground run passes on: the code, or 128+signal. */
int lp_ct_exit_status(const struct lp_container *ct);

#endif
