// SPDX-License-Identifier: Apache-2.0
/*
 * A container once started: how its run ended, whether its process is
 * still the one on record, and its stop and removal.  The record on disk is
 * container_state.c's, the start container_start.c's.
 */
#include "agent/container/container.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/container/container_internal.h"
#include "platform/cgroup.h"
#include "platform/lib/util.h"

/* ---------------------------------------------------------------- exit */

static bool read_exit_file(struct lp_container *ct, int *code, int *sig)
{
	char path[PATH_MAX], *text = NULL;
	struct lp_err ignored;
	bool ok = false;
	int v;

	if (lp_ct_path(ct, "exit", path, sizeof(path), &ignored) < 0 ||
	    lp_read_file_nofollow(path, 64, &text, NULL, &ignored) < 0)
		return false;
	if (sscanf(text, "exit %d", &v) == 1) {
		*code = v;
		*sig = 0;
		ok = true;
	} else if (sscanf(text, "signal %d", &v) == 1) {
		*code = 128 + v;
		*sig = v;
		ok = true;
	}
	free(text);
	return ok;
}

int lp_ct_record_exit(struct lp_container *ct, bool have_status, int code, int sig,
		      struct lp_err *err)
{
	uint64_t ooms = 0;
	struct lp_err ignored;

	/*
	 * With --init, PID 1's own status hides the entrypoint's; a VMM's says
	 * 128+N for both a guest entrypoint killed by signal N and an exit
	 * code of 128+N: the file has the difference.
	 */
	if ((ct->cfg.init || ct->st.vm) && read_exit_file(ct, &code, &sig))
		have_status = true;
	ct->st.exit_unknown = !have_status;
	ct->st.exit_code = have_status ? code : 0;
	ct->st.signal = have_status ? sig : 0;
	ct->st.oom_killed = lp_cgroup_oom_kills(ct->st.cgroup, &ooms, &ignored) == 0 && ooms > 0;
	/* The entrypoint is gone; anything it left behind goes with it. */
	lp_cgroup_kill(ct->st.cgroup, &ignored);
	lp_cgroup_destroy(ct->st.cgroup, &ignored);
	ct->st.status = LP_CT_EXITED;
	ct->st.pid = 0;
	ct->st.starttime = 0;
	ct->st.finished_at = lp_wall_s();
	return lp_ct_save(ct, err);
}

bool lp_ct_alive(const struct lp_container *ct)
{
	return ct->st.status == LP_CT_RUNNING && lp_proc_running(ct->st.pid, ct->st.starttime);
}

bool lp_ct_supervised(const struct lp_container *ct)
{
	return lp_proc_running(ct->st.supervisor, ct->st.supervisor_start);
}

int lp_ct_main_process(const struct lp_container *ct, pid_t *pid,
		       unsigned long long *starttime)
{
	char path[96], buf[64];
	FILE *f;
	int child = 0;

	if (!lp_ct_alive(ct))
		return -1;
	/* Nothing of a microVM's guest is a process here. */
	if (ct->st.vm)
		return -1;
	*pid = ct->st.pid;
	*starttime = ct->st.starttime;
	if (!ct->cfg.init)
		return 0;
	/* limpet's init has exactly one child of its own: the entrypoint. */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)*pid, (int)*pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		child = atoi(buf);
	fclose(f);
	if (child <= 0)
		return -1;
	*pid = child;
	*starttime = lp_proc_starttime(child);
	return 0;
}

/* ---------------------------------------------------------------- stop, rm */

static int pidfd_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static bool wait_gone(int pidfd, int64_t timeout_ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int64_t deadline = lp_now_ms() + timeout_ms;
	int64_t left;

	for (;;) {
		left = deadline - lp_now_ms();
		if (left < 0)
			left = 0;
		if (poll(&p, 1, (int)left) > 0)
			return true;
		if (left == 0)
			return false;
	}
}

int lp_ct_kill(struct lp_container *ct, int sig, struct lp_err *err)
{
	struct lp_proc proc;
	int rc, lock = lp_ct_lock(ct, err);

	if (lock < 0)
		return -1;
	if (lp_ct_load_state(ct, err) < 0) {
		close(lock);
		return lp_prefix(err, "container %s", ct->cfg.name);
	}
	if (!lp_ct_alive(ct) || lp_proc_adopt(ct->st.pid, ct->st.starttime, &proc) < 0) {
		close(lock);
		return lp_fail(err, ESRCH, "container %s is not running", ct->cfg.name);
	}
	/* Its pid is the VMM's: another signal would reach the VMM, not the guest's PID 1. */
	if (ct->st.vm && sig != SIGKILL && sig != SIGTERM) {
		close(proc.pidfd);
		close(lock);
		return lp_fail(err, ENOTSUP,
			       "container %s runs in a microVM: only KILL and TERM reach it", ct->cfg.name);
	}
	/* As a stop: the user ended it, so its restart policy does not bring it back. */
	if (sig == SIGKILL || sig == SIGTERM) {
		ct->st.stop_requested = true;
		if (lp_ct_save(ct, err) < 0) {
			close(proc.pidfd);
			close(lock);
			return -1;
		}
	}
	close(lock);
	rc = pidfd_signal(proc.pidfd, sig);
	close(proc.pidfd);
	if (rc < 0)
		return lp_fail_errno(err, "container %s: signal %d", ct->cfg.name, sig);
	return 0;
}

int lp_ct_stop(struct lp_container *ct, int64_t timeout_ms, struct lp_err *err)
{
	struct lp_proc proc;
	struct lp_err ignored;
	int sig = SIGTERM;

	int lock = lp_ct_lock(ct, err);

	if (lock < 0)
		return -1;
	/*
	 * What the caller loaded may be stale: its supervisor may have started
	 * it again since.  Under the lock, the process we stop is the one on
	 * disk, and a restart comes after our mark (and heeds it) or before.
	 */
	if (lp_ct_load_state(ct, err) < 0) {
		close(lock);
		return lp_prefix(err, "container %s", ct->cfg.name);
	}
	ct->st.stop_requested = true;
	if (lp_ct_save(ct, err) < 0) {
		close(lock);
		return -1;
	}
	close(lock);
	if (lp_proc_adopt(ct->st.pid, ct->st.starttime, &proc) < 0)
		return 0; /* already gone */
	if (timeout_ms > 0 && pidfd_signal(proc.pidfd, SIGTERM) == 0 &&
	    wait_gone(proc.pidfd, timeout_ms))
		goto gone;
	/* It ignored SIGTERM (PID 1 without a handler does): no more asking. */
	sig = SIGKILL;
	pidfd_signal(proc.pidfd, SIGKILL);
	lp_cgroup_kill(ct->st.cgroup, &ignored);
	if (!wait_gone(proc.pidfd, 10000)) {
		close(proc.pidfd);
		return lp_fail(err, ETIMEDOUT, "container %s: still running after SIGKILL",
			       ct->cfg.name);
	}
gone:
	close(proc.pidfd);
	/* Gone, even if its supervisor has not reaped it yet. */
	ct->st.status = LP_CT_EXITED;
	/* Its supervisor records the exit; with none left, we are the only witness. */
	if (!lp_ct_supervised(ct))
		return lp_ct_record_exit(ct, sig == SIGKILL, 128 + sig, sig, err);
	return 0;
}

int lp_ct_remove(struct lp_container *ct, struct lp_err *err)
{
	char gone[PATH_MAX];
	struct lp_err ignored;
	int tries;

	if (lp_ct_alive(ct))
		return lp_fail(err, EBUSY, "container %s is running (stop it first, or rm -f)",
			       ct->cfg.name);
	if (ct->st.cgroup[0]) {
		/* Not alive by its record, yet a start cut short may have left a process. */
		lp_cgroup_kill(ct->st.cgroup, &ignored);
		lp_cgroup_destroy(ct->st.cgroup, &ignored);
	}
	/*
	 * Out of the listing in one step: ps or an agent looking at the
	 * containers never meets one half removed (its config gone, its
	 * directory still there).  A dot name is never listed, and a removal
	 * cut short is finished by the next agent (lp_ct_sweep).
	 */
	if (lp_path(gone, sizeof(gone), err, "%.*s/" REMOVING "%s",
		    (int)(strrchr(ct->dir, '/') - ct->dir), ct->dir, ct->cfg.name) < 0)
		return -1;
	if (rename(ct->dir, gone) < 0)
		return lp_fail_errno(err, "remove container %s: rename %s", ct->cfg.name, ct->dir);
	/*
	 * The supervisor may be recording the exit of a container just stopped
	 * and write its state file into the directory being removed: go again.
	 */
	for (tries = 0; lp_remove_tree(gone, err) < 0; tries++) {
		if (err->code != ENOTEMPTY || tries == 10)
			return lp_prefix(err, "remove container %s", ct->cfg.name);
		usleep(20 * 1000);
	}
	return 0;
}

bool lp_ct_exit_known(const struct lp_container *ct)
{
	return ct->st.status == LP_CT_EXITED && !ct->st.exit_unknown;
}

int lp_ct_exit_status(const struct lp_container *ct)
{
	if (ct->st.signal)
		return 128 + ct->st.signal;
	return ct->st.exit_code;
}
