// SPDX-License-Identifier: Apache-2.0
/*
 * limpet agent: the daemon.  It takes over containers an earlier agent left
 * running, brings the config's containers to their declared state, starts
 * what `run -d` asks for, and supervises all of them in one process.
 * SIGTERM ends the agent but not the containers: the next agent adopts them.
 */
#include "agent/daemon/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/container/container.h"
#include "agent/daemon/control.h"
#include "agent/daemon/sdnotify.h"
#include "agent/daemon/supervise.h"
#include "platform/lib/util.h"

#define AGENT "limpet agent"

/* The agent process: its supervisor, and what it was handed to do beside supervising. */
struct daemon {
	struct lp_supervisor sv;
	const struct lp_daemon_hooks *hooks;
	struct lp_agent_ops ops;	/* what the control socket's requests do */
};

static struct daemon *daemon_of(struct lp_supervisor *sv)
{
	return (struct daemon *)((char *)sv - offsetof(struct daemon, sv));
}

/*
 * One agent per state directory: the lock lives as long as this process,
 * and no child it forked (the updater, a probe) keeps it past its end.
 */
static int take_lock(const struct lp_host *host, struct lp_err *err)
{
	char path[PATH_MAX], pid[32];
	int fd;

	if (lp_path(path, sizeof(path), err, "%s/agent.pid", host->run_dir) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return lp_fail_errno(err, "open %s", path);
	if (lp_lock_whole(fd, false) < 0) {
		int n = (int)read(fd, pid, sizeof(pid) - 1);

		pid[n > 0 ? n : 0] = '\0';
		close(fd);
		return lp_fail(err, EBUSY, "another agent is running for %s (pid %s)", host->root,
			       pid[0] ? strtok(pid, "\n") : "?");
	}
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0) {
		close(fd);
		return lp_fail_errno(err, "write %s", path);
	}
	return fd;
}

/*
 * systemd (Type=notify, WatchdogSec=) hears from the supervisor loop itself:
 * a loop stuck anywhere stops the WATCHDOG=1s and gets the agent restarted.
 */
static int agent_tick(struct lp_supervisor *sv)
{
	size_t n = lp_sv_running(sv);

	lp_sd_status("%zu container%s running", n, n == 1 ? "" : "s");
	return lp_sd_watchdog();
}

static const struct lp_container_cfg *config_entry(const struct lp_host *host, const char *name)
{
	size_t i;

	for (i = 0; i < host->cfg.n_containers; i++)
		if (!strcmp(host->cfg.containers[i].name, name))
			return &host->cfg.containers[i];
	return NULL;
}

static bool same_config(const struct lp_container_cfg *a, const struct lp_container_cfg *b)
{
	struct lp_err err;
	char *ja = lp_container_cfg_to_json(a, &err), *jb = lp_container_cfg_to_json(b, &err);
	bool same = ja && jb && !strcmp(ja, jb);

	free(ja);
	free(jb);
	return same;
}

/*
 * A deployment switch cut short when the last agent died (kill -9, power
 * cut) is settled first: what goes is not adopted or restarted below.
 */
static void recover_deployment(struct daemon *d)
{
	struct lp_err err = { 0 };

	lp_sd_watchdog();
	if (d->hooks->recover && d->hooks->recover(d->sv.host, &d->ops, AGENT, &err) < 0)
		lp_say(AGENT, "%s", err.msg);
}

/*
 * `run -d --restart always` outlives agent restarts and reboots: one that
 * ended, or whose restart was cut short (created, and it ran before).
 */
static bool restarts_unattended(const struct lp_container *ct)
{
	bool ended = ct->st.status == LP_CT_EXITED ||
		     (ct->st.status == LP_CT_CREATED && ct->st.restarts > 0);

	return ended && ct->st.restarts >= 0 && ct->cfg.restart.policy == LP_RESTART_ALWAYS &&
	       !ct->st.stop_requested;
}

/*
 * Under the container's lock until the new process is on record, as the
 * supervisor restarts: a stop or rm that came since ct was read is heeded.
 */
static void restart_left(struct lp_supervisor *sv, const struct lp_host *host, const char *name,
			 struct lp_container *ct)
{
	struct lp_err err = { 0 };
	cleanup_fd int lock = lp_ct_lock(ct, &err);

	lp_ct_free(ct);
	if (lock < 0 || lp_ct_load(host, name, ct, &err) < 0) {
		if (err.code != ENOENT)
			lp_say(AGENT, "%s", err.msg);
		return;
	}
	if (!restarts_unattended(ct)) {
		lp_ct_free(ct);
		return;
	}
	ct->st.restarts++;
	if (lp_sv_start(sv, ct, NULL, &err) < 0)
		lp_say(AGENT, "%s", err.msg);
}

/* What an earlier agent left: adopt what runs, note what died meanwhile. */
static void recover(struct lp_supervisor *sv, const struct lp_host *host)
{
	struct lp_err err = { 0 };
	char **names;
	size_t n, i;

	lp_ct_sweep(host);
	if (lp_ct_names(host, &names, &n, &err) < 0) {
		lp_say(AGENT, "%s", err.msg);
		return;
	}
	for (i = 0; i < n; i++) {
		struct lp_container ct;
		const struct lp_container_cfg *want;

		/* Stopping changed containers can take a stop_timeout each. */
		lp_sd_watchdog();
		/* Started again by recover_deployment. */
		if (lp_sv_has(sv, names[i]))
			continue;

		if (lp_ct_load(host, names[i], &ct, &err) < 0) {
			lp_say(AGENT, "%s", err.msg);
			continue;
		}
		want = config_entry(host, names[i]);
		if (lp_ct_alive(&ct) && lp_ct_supervised(&ct) && ct.st.supervisor != getpid()) {
			/* A foreground `limpet run` owns it. */
			lp_ct_free(&ct);
			continue;
		}
		if (lp_ct_alive(&ct) && (!want || same_config(want, &ct.cfg))) {
			lp_say(AGENT, "container %s: adopted (pid %d)", names[i], (int)ct.st.pid);
			if (lp_sv_adopt(sv, &ct, &err) < 0)
				lp_say(AGENT, "%s", err.msg);
			continue;
		}
		if (lp_ct_alive(&ct)) {
			lp_say(AGENT, "container %s: config changed, replacing it", names[i]);
			if (lp_ct_stop(&ct, host->cfg.stop_timeout_ms, &err) < 0)
				lp_say(AGENT, "%s", err.msg);
		} else if (ct.st.status == LP_CT_RUNNING) {
			/* It ended while no agent was there to see how. */
			lp_ct_record_exit(&ct, false, 0, 0, &err);
			lp_say(AGENT, "container %s: exited while no agent was running", names[i]);
		}
		if (want) {
			/* Config containers are re-created from the config below. */
			if (lp_ct_remove(&ct, &err) < 0)
				lp_say(AGENT, "%s", err.msg);
			lp_ct_free(&ct);
		} else if (restarts_unattended(&ct)) {
			restart_left(sv, host, names[i], &ct);
		} else {
			lp_ct_free(&ct);
		}
	}
	lp_ct_names_free(names, n);
}

/* deploy_name NULL: not made by a deployment. */
static int start_stopped(void *sv, const char *name, struct lp_err *err)
{
	return lp_sv_restart_stopped(sv, name, err);
}

static int attach(void *sv, const char *name, unsigned short rows, unsigned short cols,
		  struct lp_err *err)
{
	return lp_sv_attach(sv, name, rows, cols, err);
}

static int remove_stopped(void *sv, const char *name, struct lp_err *err)
{
	return lp_sv_remove_stopped(sv, name, err);
}

static int start_new(void *ctx, struct lp_container_cfg *cfg, bool remove,
		     const char *deploy_name, int64_t deploy_version, struct lp_err *err)
{
	struct lp_supervisor *sv = ctx;
	struct lp_container ct;

	if (lp_ct_create(sv->host, cfg, true, remove, &ct, err) < 0)
		return -1;
	if (deploy_name) {
		snprintf(ct.st.deploy_name, sizeof(ct.st.deploy_name), "%s", deploy_name);
		ct.st.deploy_version = deploy_version;
		if (lp_ct_save(&ct, err) < 0) {
			lp_ct_free(&ct);
			return -1;
		}
	}
	return lp_sv_start(sv, &ct, NULL, err);
}

static void start_configured(struct lp_supervisor *sv, const struct lp_host *host)
{
	size_t i;

	for (i = 0; i < host->cfg.n_containers; i++) {
		struct lp_container_cfg copy;
		struct lp_err err = { 0 };
		char *json;

		lp_sd_watchdog();
		if (lp_sv_has(sv, host->cfg.containers[i].name))
			continue;
		/* The supervisor takes ownership: hand it a deep copy. */
		json = lp_container_cfg_to_json(&host->cfg.containers[i], &err);
		if (!json || lp_container_cfg_from_json(json, &copy, &err) < 0 ||
		    start_new(sv, &copy, false, NULL, 0, &err) < 0)
			lp_say(AGENT, "%s", err.msg);
		else
			lp_say(AGENT, "container %s: started", host->cfg.containers[i].name);
		free(json);
	}
}

static void serve(struct lp_supervisor *sv, int conn)
{
	lp_control_serve(conn, &daemon_of(sv)->ops, AGENT);
}

/*
 * The updater (fleet poller and USB watcher) runs in its own process: a slow
 * download or a health check never holds up supervision, and a crash in it
 * is only its own.  It talks to us like any client, over the control socket.
 */
static int spawn_updater(struct lp_supervisor *sv)
{
	pid_t parent = getpid(), pid;
	sigset_t all;
	int pidfd;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		lp_say(AGENT, "updater: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		struct lp_err err = { 0 };

		/* An agent killed with SIGKILL must not leave the updater behind. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			_exit(1);
		close(sv->sigfd);
		close(sv->inotify_fd);
		close(sv->listen_fd);
		/* Only the agent reads the containers' terminals. */
		lp_sv_close_consoles(sv);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		daemon_of(sv)->hooks->updater(sv->host, &err);
		lp_say(AGENT, "updater: %s", err.msg);
		_exit(1);
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		lp_say(AGENT, "updater: pidfd: %s", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return pidfd;
}

int lp_daemon_main(const struct lp_host *host, const struct lp_daemon_hooks *hooks,
		   struct lp_err *err)
{
	struct daemon d = { .hooks = hooks };
	struct lp_supervisor *sv = &d.sv;
	int lock_fd, rc;

	lp_sd_init();
	if (lp_mkdir_p(host->root, 0711, err) < 0 || lp_mkdir_p(host->run_dir, 0700, err) < 0)
		return -1;
	lock_fd = take_lock(host, err);
	if (lock_fd < 0)
		return -1;
	if (lp_sv_init(sv, host, false, err) < 0)
		goto fail;
	d.ops = (struct lp_agent_ops){ .run = start_new, .start = start_stopped,
				       .remove = remove_stopped, .attach = attach, .ctx = sv };
	sv->listen_fd = lp_control_listen(host, err);
	if (sv->listen_fd < 0)
		goto fail;
	sv->on_request = serve;
	if (hooks->updater && (host->cfg.fleet.server || host->cfg.usb.enabled))
		sv->spawn_worker = spawn_updater;
	lp_say(AGENT, "limpet %s supervising %s (config %s)", LIMPET_VERSION, host->root,
	       host->cfg.path ? host->cfg.path : "none: defaults");
	sv->on_tick = agent_tick;
	lp_sd_status("adopting and starting containers");
	recover_deployment(&d);
	recover(sv, host);
	start_configured(sv, host);
	/* Ready means supervising: what was running is adopted, the config's are started. */
	lp_sd_notify("READY=1");
	rc = lp_sv_loop(sv, err);
	lp_sd_notify("STOPPING=1");
	lp_sd_status("stopped; containers left running: %zu", lp_sv_running(sv));
	close(sv->listen_fd);
	lp_sv_free(sv);
	close(lock_fd);
	if (rc < 0)
		return -1;
	lp_say(AGENT, "stopping; containers keep running");
	return 0;
fail:
	lp_sd_status("failed: %s", err->msg);
	if (sv->listen_fd >= 0)
		close(sv->listen_fd);
	lp_sv_free(sv);
	close(lock_fd);
	return -1;
}
