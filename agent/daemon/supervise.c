// SPDX-License-Identifier: Apache-2.0
#include "agent/daemon/supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/container/logs.h"
#include "agent/spec/parse.h"
#include "platform/lib/util.h"

struct lp_sv_entry {
	struct lp_container ct;
	struct lp_proc proc;	/* pidfd is -1 while not running */
	bool is_child;		/* we can waitid() for its status */
	int attempt;		/* consecutive quick failures, for the backoff */
	int64_t restart_at;	/* monotonic ms of the pending restart, 0: none */
	int64_t started_ms;
	int log_wd;
	bool done;		/* finished for good: no restart will follow */
	struct lp_console console;	/* its terminal (cfg.tty), while it runs */
	size_t console_fds;		/* how many fds of this pass's poll are the console's */
};

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

/* Its lines are the agent's, or a foreground run's own. */
static const char *prefix(const struct lp_supervisor *sv)
{
	return sv->foreground ? "limpet" : "limpet agent";
}

int lp_sv_init(struct lp_supervisor *sv, const struct lp_host *host, bool foreground,
	       struct lp_err *err)
{
	sigset_t set;
	size_t i;

	memset(sv, 0, sizeof(*sv));
	sv->host = host;
	sv->foreground = foreground;
	sv->term_in = -1;
	sv->term_out = 1;
	sv->listen_fd = -1;
	sv->inotify_fd = -1;
	sv->worker_pidfd = -1;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaddset(&set, forwarded[i]);
	/* Containers unblock everything before their exec (platform/linux/runtime.c). */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return lp_fail_errno(err, "block signals");
	sv->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sv->sigfd < 0)
		return lp_fail_errno(err, "signalfd");
	sv->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (sv->inotify_fd < 0)
		return lp_fail_errno(err, "inotify");
	return 0;
}

static void entry_free(struct lp_sv_entry *e)
{
	lp_console_close(&e->console);
	if (e->proc.pidfd >= 0)
		close(e->proc.pidfd);
	lp_ct_free(&e->ct);
	free(e);
}

void lp_sv_free(struct lp_supervisor *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		entry_free(sv->v[i]);
	free(sv->v);
	if (sv->sigfd >= 0)
		close(sv->sigfd);
	if (sv->inotify_fd >= 0)
		close(sv->inotify_fd);
	sv->v = NULL;
	sv->n = 0;
}

static struct lp_sv_entry *entry_add(struct lp_supervisor *sv, struct lp_container *ct,
				     struct lp_err *err)
{
	struct lp_sv_entry **nv, *e = calloc(1, sizeof(*e));

	if (!e) {
		lp_ct_free(ct);
		lp_fail(err, ENOMEM, "out of memory");
		return NULL;
	}
	e->ct = *ct;
	memset(ct, 0, sizeof(*ct));
	e->proc.pidfd = -1;
	e->proc.console_fd = -1;
	e->log_wd = -1;
	nv = realloc(sv->v, (sv->n + 1) * sizeof(*nv));
	if (!nv) {
		entry_free(e);
		lp_fail(err, ENOMEM, "out of memory");
		return NULL;
	}
	sv->v = nv;
	sv->v[sv->n++] = e;
	return e;
}

static void entry_remove(struct lp_supervisor *sv, size_t i)
{
	entry_free(sv->v[i]);
	memmove(&sv->v[i], &sv->v[i + 1], (sv->n - i - 1) * sizeof(sv->v[0]));
	sv->n--;
}

bool lp_sv_has(const struct lp_supervisor *sv, const char *name)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		if (!strcmp(sv->v[i]->ct.cfg.name, name))
			return true;
	return false;
}

size_t lp_sv_running(const struct lp_supervisor *sv)
{
	size_t i, n = 0;

	for (i = 0; i < sv->n; i++)
		if (sv->v[i]->proc.pidfd >= 0)
			n++;
	return n;
}

static void watch_log(struct lp_supervisor *sv, struct lp_sv_entry *e)
{
	if (!e->ct.st.detached || e->log_wd >= 0)
		return;
	/* Coalesced IN_MODIFY events: a chatty container costs one wakeup per read. */
	e->log_wd = inotify_add_watch(sv->inotify_fd, e->ct.log_path, IN_MODIFY);
}

/* Note when its bytes were seen (its start, each wakeup, its exit), then bound it. */
static void rotate_log(struct lp_supervisor *sv, struct lp_sv_entry *e)
{
	const struct lp_agent_config *cfg = &sv->host->cfg;
	struct lp_err err = { 0 };

	if (e->ct.st.detached &&
	    lp_log_rotate(e->ct.log_path, cfg->log_max_size, cfg->log_files, &err) < 0)
		lp_say(prefix(sv), "container %s: %s", e->ct.cfg.name, err.msg);
}

/*
 * Someone must read a terminal, or the container blocks once its buffer is
 * full: the operator of a foreground run, else the log file (kept in the
 * terminal's \r\n).
 */
static int console_open(struct lp_supervisor *sv, struct lp_sv_entry *e, struct lp_err *err)
{
	int master = e->proc.console_fd, log;

	e->proc.console_fd = -1; /* the console's now */
	if (sv->foreground)
		return lp_console_start(&e->console, e->ct.cfg.name, master, sv->term_in,
					sv->term_out, false, err);
	log = lp_open_regular(AT_FDCWD, e->ct.log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW,
			      0640, err);
	if (log < 0) {
		close(master);
		return -1;
	}
	return lp_console_start(&e->console, e->ct.cfg.name, master, -1, log, true, err);
}

static int start_entry(struct lp_supervisor *sv, struct lp_sv_entry *e, struct lp_err *err)
{
	e->restart_at = 0;
	e->ct.tty_rows = e->ct.tty_cols = 0;
	if (sv->foreground && e->ct.cfg.tty)
		lp_relay_size(sv->term_in, sv->term_out, &e->ct.tty_rows, &e->ct.tty_cols);
	if (lp_ct_start(sv->host, &e->ct, &e->proc, err) < 0)
		return -1;
	if (e->proc.console_fd >= 0 && console_open(sv, e, err) < 0) {
		/* Nobody would read it: the container would hang on a full terminal. */
		lp_say(prefix(sv), "container %s: %s", e->ct.cfg.name, err->msg);
		syscall(SYS_pidfd_send_signal, e->proc.pidfd, SIGKILL, NULL, 0);
		e->is_child = true;
		e->started_ms = lp_now_ms();
		return 0;
	}
	e->is_child = true;
	e->started_ms = lp_now_ms();
	watch_log(sv, e);
	rotate_log(sv, e);
	return 0;
}

int lp_sv_start(struct lp_supervisor *sv, struct lp_container *ct, int *exec_errno,
		struct lp_err *err)
{
	struct lp_sv_entry *e = entry_add(sv, ct, err);

	if (!e)
		return -1;
	if (start_entry(sv, e, err) < 0) {
		if (exec_errno)
			*exec_errno = e->proc.exec_errno;
		entry_remove(sv, sv->n - 1);
		return -1;
	}
	return 0;
}

int lp_sv_adopt(struct lp_supervisor *sv, struct lp_container *ct, struct lp_err *err)
{
	struct lp_sv_entry *e = entry_add(sv, ct, err);

	if (!e)
		return -1;
	if (lp_proc_adopt(e->ct.st.pid, e->ct.st.starttime, &e->proc) < 0) {
		/* ct was moved into e: name it before e goes */
		lp_fail(err, ESRCH, "container %s: its process is gone", e->ct.cfg.name);
		entry_remove(sv, sv->n - 1);
		return -1;
	}
	e->is_child = false;
	e->started_ms = lp_now_ms();
	/* Made by an older limpet, its directory may still belong to a user namespace's root. */
	if (lp_ct_claim_dir(&e->ct, err) < 0)
		return lp_prefix(err, "container %s", e->ct.cfg.name);
	/* We are its supervisor now: stop/ps must know someone will record its exit. */
	e->ct.st.supervisor = getpid();
	e->ct.st.supervisor_start = lp_proc_starttime(getpid());
	watch_log(sv, e);
	rotate_log(sv, e);
	return lp_ct_save(&e->ct, err);
}

/* Pick up what `limpet stop` / `rm` changed on disk; false if it was removed. */
static bool refresh_state(struct lp_supervisor *sv, struct lp_sv_entry *e)
{
	struct lp_container fresh;
	struct lp_err err;

	if (lp_ct_load(sv->host, e->ct.cfg.name, &fresh, &err) < 0)
		return false;
	e->ct.st.stop_requested = fresh.st.stop_requested;
	lp_ct_free(&fresh);
	return true;
}

static bool failed(const struct lp_ct_state *st)
{
	return st->exit_unknown || st->oom_killed || st->signal || st->exit_code != 0;
}

static void describe_exit(struct lp_supervisor *sv, struct lp_sv_entry *e)
{
	const struct lp_ct_state *st = &e->ct.st;
	const char *name = e->ct.cfg.name;

	if (st->oom_killed)
		lp_say(prefix(sv),
		       "container %s was killed by the OOM killer (memory limit %lld bytes)", name,
		       (long long)e->ct.cfg.limits.memory);
	else if (!sv->foreground && st->exit_unknown)
		lp_say(prefix(sv),
		       "container %s exited (status unknown: it was started by an earlier agent)",
		       name);
	else if (!sv->foreground && st->signal)
		lp_say(prefix(sv), "container %s was killed by signal %d", name, st->signal);
	else if (!sv->foreground)
		lp_say(prefix(sv), "container %s exited with code %d", name, st->exit_code);
}

int64_t lp_sv_backoff(int *attempt, int64_t ran_ms)
{
	*attempt = ran_ms >= LP_RESTART_RESET_MS ? 1 : *attempt + 1;
	return lp_restart_delay_ms(*attempt);
}

int64_t lp_sv_restart_plan(const struct lp_restart *r, const struct lp_ct_state *st,
			   int64_t ran_ms, int *attempt)
{
	if (st->stop_requested || r->policy == LP_RESTART_NO)
		return LP_SV_NO_RESTART;
	if (r->policy == LP_RESTART_ON_FAILURE && !failed(st))
		return LP_SV_NO_RESTART;
	if (r->policy == LP_RESTART_ON_FAILURE && r->max_retries &&
	    st->restarts >= r->max_retries)
		return LP_SV_GIVE_UP;
	return lp_sv_backoff(attempt, ran_ms);
}

static void plan_restart(struct lp_supervisor *sv, struct lp_sv_entry *e)
{
	int64_t now = lp_now_ms();
	int64_t delay = lp_sv_restart_plan(&e->ct.cfg.restart, &e->ct.st, now - e->started_ms,
					   &e->attempt);

	e->done = delay < 0;
	if (delay == LP_SV_GIVE_UP)
		lp_say(prefix(sv), "container %s: giving up after %d restarts", e->ct.cfg.name,
		       e->ct.st.restarts);
	if (delay < 0)
		return;
	e->restart_at = now + delay;
	lp_say(prefix(sv), "container %s: restarting in %lld ms", e->ct.cfg.name, (long long)delay);
}

static void handle_exit(struct lp_supervisor *sv, struct lp_sv_entry *e)
{
	cleanup_fd int lock = -1;
	siginfo_t si = { 0 };
	bool have = false;
	int code = 0, sig = 0;
	struct lp_err err = { 0 };

	if (e->is_child && waitid(P_PIDFD, (id_t)e->proc.pidfd, &si, WEXITED) == 0) {
		have = true;
		if (si.si_code == CLD_EXITED) {
			code = si.si_status;
		} else {
			sig = si.si_status;
			code = 128 + sig;
		}
	}
	close(e->proc.pidfd);
	e->proc.pidfd = -1;
	if (e->log_wd >= 0) {
		inotify_rm_watch(sv->inotify_fd, e->log_wd);
		e->log_wd = -1;
	}
	lock = lp_ct_lock(&e->ct, &err);
	if (!refresh_state(sv, e)) {
		lp_console_end(&e->console, have ? code : 128 + SIGKILL);
		e->done = true; /* removed under us (rm -f) */
		return;
	}
	if (lp_ct_record_exit(&e->ct, have, code, sig, &err) < 0)
		lp_say(prefix(sv), "%s", err.msg);
	close(lock);
	lock = -1;
	/* Its last words into the log, and its status to whoever is attached. */
	lp_console_end(&e->console, lp_ct_exit_status(&e->ct));
	rotate_log(sv, e);
	describe_exit(sv, e);
	sv->last_status = lp_ct_exit_status(&e->ct);
	plan_restart(sv, e);
}

static void do_restart(struct lp_supervisor *sv, struct lp_sv_entry *e)
{
	struct lp_err err = { 0 };
	/* Held until the new process is on disk: a stop waits for it, or is heeded. */
	cleanup_fd int lock = lp_ct_lock(&e->ct, &err);

	if (lock < 0)
		lp_say(prefix(sv), "%s", err.msg);
	if (lock < 0 || !refresh_state(sv, e) || e->ct.st.stop_requested) {
		e->restart_at = 0;
		e->done = true;
		return;
	}
	e->ct.st.restarts++;
	if (start_entry(sv, e, &err) == 0)
		return;
	lp_say(prefix(sv), "%s", err.msg);
	/* Failing to start counts as a failed run: the policy decides what next. */
	e->ct.st.exit_code = e->proc.exec_errno == ENOENT ? 127 : 126;
	e->ct.st.status = LP_CT_EXITED;
	lp_ct_save(&e->ct, &err);
	e->started_ms = lp_now_ms();
	plan_restart(sv, e);
}

static void finish_entries(struct lp_supervisor *sv);

/*
 * Let go of the stopped container name: an exit not yet seen is recorded
 * first, so nothing writes into its directory afterwards.  EALREADY when it
 * still runs.
 */
static int forget(struct lp_supervisor *sv, const char *name, struct lp_err *err)
{
	size_t i;

	for (i = 0; i < sv->n; i++) {
		struct lp_sv_entry *e = sv->v[i];

		if (strcmp(e->ct.cfg.name, name))
			continue;
		if (e->proc.pidfd >= 0 && lp_proc_running(e->proc.pid, e->proc.starttime))
			return lp_fail(err, EALREADY, "container %s is running", name);
		/* Stopped by another process; its pidfd may not have been polled yet. */
		if (e->proc.pidfd >= 0)
			handle_exit(sv, e);
		e->restart_at = 0;
		e->done = true;
	}
	finish_entries(sv);
	return 0;
}

int lp_sv_restart_stopped(struct lp_supervisor *sv, const char *name, struct lp_err *err)
{
	struct lp_container ct;

	if (forget(sv, name, err) < 0 || lp_ct_load(sv->host, name, &ct, err) < 0)
		return -1;
	if (lp_ct_alive(&ct)) {
		lp_ct_free(&ct);
		return lp_fail(err, EALREADY, "container %s is running", name);
	}
	ct.st.stop_requested = false;
	/* The agent runs it now: its output goes to its log files, as with run -d. */
	ct.st.detached = true;
	return lp_sv_start(sv, &ct, NULL, err);
}

int lp_sv_remove_stopped(struct lp_supervisor *sv, const char *name, struct lp_err *err)
{
	struct lp_container ct;
	int rc;

	if (forget(sv, name, err) < 0)
		return -1;
	if (lp_ct_load(sv->host, name, &ct, err) < 0)
		return err->code == ENOENT ? 0 : -1;
	rc = lp_ct_remove(&ct, err);
	lp_ct_free(&ct);
	return rc;
}

static void finish_entries(struct lp_supervisor *sv)
{
	size_t i = 0;
	struct lp_err err = { 0 };

	while (i < sv->n) {
		struct lp_sv_entry *e = sv->v[i];

		if (!e->done) {
			i++;
			continue;
		}
		if (e->ct.st.auto_remove && access(e->ct.dir, F_OK) == 0 &&
		    lp_ct_remove(&e->ct, &err) < 0)
			lp_say(prefix(sv), "%s", err.msg);
		entry_remove(sv, i);
	}
}

static void forward_signal(struct lp_supervisor *sv, int sig)
{
	size_t i;

	for (i = 0; i < sv->n; i++) {
		struct lp_sv_entry *e = sv->v[i];

		if (sig != SIGUSR1 && sig != SIGUSR2 && sig != SIGWINCH) {
			/* The user asked it to end: do not bring it back. */
			e->ct.st.stop_requested = true;
			lp_ct_save(&e->ct, &(struct lp_err){ 0 });
			if (e->proc.pidfd < 0) {
				e->restart_at = 0;
				e->done = true;
			}
		}
		/* A terminal's size reaches its programs from the terminal. */
		if (sig == SIGWINCH && e->console.open)
			lp_console_resize(&e->console);
		else if (e->proc.pidfd >= 0)
			syscall(SYS_pidfd_send_signal, e->proc.pidfd, sig, NULL, 0);
	}
}

int lp_sv_attach(struct lp_supervisor *sv, const char *name, unsigned short rows,
		 unsigned short cols, struct lp_err *err)
{
	size_t i;
	int fd;

	for (i = 0; i < sv->n; i++) {
		struct lp_sv_entry *e = sv->v[i];

		if (strcmp(e->ct.cfg.name, name) || e->proc.pidfd < 0)
			continue;
		if (!e->ct.cfg.tty)
			return lp_fail(err, ENOTTY,
				       "container %s has no terminal (it was started without -t): "
				       "see limpet logs -f",
				       name);
		if (!e->console.open)
			return lp_fail(err, ENOTTY,
				       "container %s: its terminal was another agent's, which closed "
				       "it",
				       name);
		fd = lp_console_attach(&e->console, rows, cols, err);
		return fd < 0 ? lp_prefix(err, "container %s", name) : fd;
	}
	return lp_fail(err, ESRCH, "container %s is not running", name);
}

void lp_sv_close_consoles(struct lp_supervisor *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		lp_console_close(&sv->v[i]->console);
}

static void handle_signals(struct lp_supervisor *sv)
{
	struct signalfd_siginfo si;

	while (read(sv->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int sig = (int)si.ssi_signo;

		if (sig == SIGCHLD)
			continue; /* exits arrive on the pidfds */
		if (sv->foreground)
			forward_signal(sv, sig);
		else if (sig == SIGTERM || sig == SIGINT)
			sv->quit = true; /* containers stay up for the next agent */
	}
}

static void handle_logs(struct lp_supervisor *sv)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	size_t i;
	bool any = false;

	while (read(sv->inotify_fd, buf, sizeof(buf)) > 0)
		any = true;
	if (!any)
		return;
	for (i = 0; i < sv->n; i++)
		if (sv->v[i]->proc.pidfd >= 0)
			rotate_log(sv, sv->v[i]);
}

static int next_timeout(const struct lp_supervisor *sv)
{
	int64_t now = lp_now_ms(), best = -1;
	size_t i;

	for (i = 0; i <= sv->n; i++) {
		int64_t at = i < sv->n ? sv->v[i]->restart_at : sv->worker_restart_at;

		if (!at)
			continue;
		if (best < 0 || at - now < best)
			best = at - now < 0 ? 0 : at - now;
	}
	return (int)best;
}

static void relay_consoles(struct lp_supervisor *sv, const struct pollfd *p)
{
	size_t i, k = 0;

	for (i = 0; i < sv->n; i++) {
		lp_console_events(&sv->v[i]->console, p + k, sv->v[i]->console_fds);
		k += sv->v[i]->console_fds;
	}
}

/* Has the process behind pidfd ended (it is readable then)? */
static bool proc_ended(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

int lp_sv_loop(struct lp_supervisor *sv, struct lp_err *err)
{
	struct pollfd *pfd = NULL;
	size_t i, k, n, base, consoles;
	int timeout, tick;
	bool any_exit;

	if (sv->spawn_worker)
		lp_sv_worker_start(sv);
	for (;;) {
		finish_entries(sv);
		if (sv->quit || (sv->foreground && sv->n == 0))
			break;
		free(pfd);
		pfd = calloc(sv->n * (1 + LP_CONSOLE_FDS) + 4, sizeof(*pfd));
		if (!pfd)
			return lp_fail(err, ENOMEM, "supervisor: out of memory");
		n = 0;
		pfd[n++] = (struct pollfd){ .fd = sv->sigfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = sv->inotify_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = sv->listen_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = sv->worker_pidfd, .events = POLLIN };
		base = n;
		for (i = 0; i < sv->n; i++)
			pfd[n++] = (struct pollfd){ .fd = sv->v[i]->proc.pidfd, .events = POLLIN };
		consoles = n;
		for (i = 0; i < sv->n; i++) {
			sv->v[i]->console_fds = lp_console_pollfds(&sv->v[i]->console, pfd + n);
			n += sv->v[i]->console_fds;
		}
		timeout = next_timeout(sv);
		tick = sv->on_tick ? sv->on_tick(sv) : -1;
		if (tick >= 0 && (timeout < 0 || tick < timeout))
			timeout = tick;
		if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
			free(pfd);
			lp_sv_worker_stop(sv);
			return lp_fail_errno(err, "supervisor: poll");
		}
		/* Before any request or exit can change sv->v: the fds still match. */
		relay_consoles(sv, pfd + consoles);
		if (pfd[0].revents)
			handle_signals(sv);
		if (pfd[1].revents)
			handle_logs(sv);
		if (pfd[2].revents && sv->on_request) {
			int conn = accept4(sv->listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (conn >= 0) {
				sv->on_request(sv, conn);
				close(conn);
			}
		}
		if (pfd[3].revents && sv->worker_pidfd >= 0)
			lp_sv_worker_exited(sv);
		if (sv->spawn_worker && sv->worker_restart_at &&
		    sv->worker_restart_at <= lp_now_ms())
			lp_sv_worker_start(sv);
		/*
		 * A request may have removed entries since the poll (a deployment
		 * deleting a container): positions in pfd no longer match sv->v,
		 * and a running container taken for the one that ended would hang
		 * its waitid.  Each entry's own pidfd says whether it ended.
		 */
		for (k = base, any_exit = false; k < consoles; k++)
			any_exit = any_exit || pfd[k].revents;
		for (i = 0; any_exit && i < sv->n; i++)
			if (sv->v[i]->proc.pidfd >= 0 && proc_ended(sv->v[i]->proc.pidfd))
				handle_exit(sv, sv->v[i]);
		for (i = 0; i < sv->n; i++)
			if (sv->v[i]->restart_at && sv->v[i]->restart_at <= lp_now_ms())
				do_restart(sv, sv->v[i]);
	}
	free(pfd);
	lp_sv_worker_stop(sv);
	return 0;
}
