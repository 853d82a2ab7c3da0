// SPDX-License-Identifier: Apache-2.0
/*
 * The deployment switch as a journaled state machine, so that a crash, a
 * kill -9 or a power cut at any step ends in exactly one complete
 * deployment: the old one or the new one, every container of it running as
 * before, nothing of the other one left.
 *
 * ROOT/deployments/journal.json describes the switch in progress: the
 * version it goes to and from, the slots before it, its plan (for each entry
 * of the old and the new deployment, the container that runs it before and
 * after: a.v4 -> a.v5, b.v1 -> b.v1 unchanged, c.v4 -> none, none -> d.v5,
 * fixed before anything is done), how many switches to this document were
 * cut short, its state, and each step.  A step is recorded durably (a
 * temporary file, fsync, rename, fsync of the directory) BEFORE it is done:
 *
 *   stage v5-0123456789ab   the first record; then staging -> that copy
 *   start a.v5              remove a leftover a.v5, ask the agent to run it
 *   wait a.v5               its health check
 *   stop a.v4               a.v5 is healthy: a.v4 stops (and is kept)
 *   stop c.v4               an entry the new deployment does not have
 *   roll back               state rolling back (a new container failed)
 *   commit                  state committing, then current/previous/staging
 *   remove a.v4             settling: a container of the side that goes
 *   restart a.v4            settling back: an old container the switch stopped
 *   drop images of v4-...   the images of the deployment nothing keeps now
 *
 * The states, and where a crash in each one leads.  Whoever takes the
 * deployment lock next settles it (lp_deploy_recover_locked): the agent at
 * start, before it adopts anything; the next applier (`limpet deploy`, a
 * stick); the fleet poller, before every poll.
 *
 *   none          nothing in progress (a staging slot without a journal, left
 *                 by a limpet that had none, is rolled back as "switching").
 *   switching     the new containers start one at a time.  A crash rolls
 *                 BACK.  It is not the new version's fault, so the result is
 *                 "interrupted" and the document is tried again, up to
 *                 LP_DEPLOY_MAX_ATTEMPTS switches in all (the attempt number
 *                 is in the journal and in last_result.json); the last one
 *                 is recorded "rolled back" (given up), so a document that
 *                 kills the agent every time cannot loop.  An applier whose
 *                 agent dies under it waits for the agent to come back and
 *                 settles the same way itself.
 *   rolling back  a new container failed (it exited, its probe failed, it
 *                 could not start): BACK, result "rolled back" with the
 *                 reason, and the document is not tried again.
 *   committing    every new container was healthy: FORWARD, result "applied".
 *
 * Settling (lp_switch_settle) only looks at the plan, the state and the
 * containers on disk, so doing it again after a crash halfway is harmless:
 *
 *   BACK     remove every deployed container that is not an old one (the new
 *            ones, leftovers); then restart the old ones the switch stopped
 *            ("stop X" is in the steps, or X is alive with a stop pending);
 *            staging := none.
 *   FORWARD  previous := the current before, current := the new one, staging
 *            := none (the same renames again change nothing); remove every
 *            deployed container that is not a new one.
 *   both     drop the images of the deployment no slot keeps now, prune its
 *            directory, write last_result.json, remove the journal.
 *
 * What goes is removed before what stays is started, so after a recovery no
 * two containers of one entry share its volumes.  (In a switch that runs to
 * its end, the new container starts beside the old one until it is healthy:
 * that overlap is by design, see README.md.)
 *
 * Test only: LIMPET_TEST_CRASH_AT=N ends this process with SIGKILL right
 * after the Nth step it journals; N:agent kills the agent instead (and waits
 * until it is gone), N:both the agent and then this process.  It lets
 * tests/integration/22-deploy-kill.t cut a switch at every step without
 * racing it.  Nothing else reads it.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/container/container.h"
#include "agent/daemon/control.h"
#include "agent/deploy/deploy_internal.h"
#include "platform/lib/util.h"
#include "platform/runtime.h"

#define JOURNAL "journal.json"

static const char *const state_names[] = {
	[LP_J_SWITCHING] = "switching",
	[LP_J_ROLLING_BACK] = "rolling back",
	[LP_J_COMMITTING] = "committing",
};

void lp_journal_free(struct lp_journal *j)
{
	free(j->error);
	free(j->plan);
	json_decref(j->steps);
	memset(j, 0, sizeof(*j));
}

/* ---------------------------------------------------------------- the file */

static json_t *opt_string(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static json_t *journal_json(const struct lp_journal *j)
{
	json_t *plan = json_array();
	size_t i;

	for (i = 0; plan && i < j->n; i++) {
		const struct lp_jentry *e = &j->plan[i];

		if (json_array_append_new(plan, json_pack("{s:s, s:o, s:o}", "name", e->name, "old",
							  opt_string(e->old), "new",
							  opt_string(e->new))) < 0) {
			json_decref(plan);
			return NULL;
		}
	}
	return json_pack("{s:I, s:I, s:s, s:s, s:o, s:o, s:i, s:s, s:s?, s:o, s:O}", "version",
			 (json_int_t)j->version, "from", (json_int_t)j->from, "sha256", j->sha256,
			 "dir", j->dir, "current", opt_string(j->current), "previous",
			 opt_string(j->previous), "attempt", j->attempt, "state",
			 state_names[j->state], "error", j->error, "plan", plan, "steps", j->steps);
}

/* Copy a string field of o (null: "") into out; false when it is missing or too long. */
static bool get_str(json_t *o, const char *key, char *out, size_t len, bool nullable)
{
	json_t *v = json_object_get(o, key);

	if (nullable && json_is_null(v)) {
		out[0] = '\0';
		return true;
	}
	return json_is_string(v) && json_string_length(v) < len &&
	       snprintf(out, len, "%s", json_string_value(v)) >= 0;
}

static int journal_parse(json_t *o, struct lp_journal *j, struct lp_err *err)
{
	json_t *plan = json_object_get(o, "plan"), *steps = json_object_get(o, "steps");
	const char *state = json_string_value(json_object_get(o, "state"));
	const char *error = json_string_value(json_object_get(o, "error"));
	size_t i;

	memset(j, 0, sizeof(*j));
	j->version = json_integer_value(json_object_get(o, "version"));
	j->from = json_integer_value(json_object_get(o, "from"));
	j->attempt = (int)json_integer_value(json_object_get(o, "attempt"));
	for (i = 0; state && i < ARRAY_SIZE(state_names); i++)
		if (!strcmp(state, state_names[i]))
			break;
	if (!state || i == ARRAY_SIZE(state_names) || j->version < 1 || j->attempt < 1 ||
	    !json_is_array(plan) || !json_is_array(steps) ||
	    !get_str(o, "sha256", j->sha256, sizeof(j->sha256), false) ||
	    !get_str(o, "dir", j->dir, sizeof(j->dir), false) ||
	    !get_str(o, "current", j->current, sizeof(j->current), true) ||
	    !get_str(o, "previous", j->previous, sizeof(j->previous), true))
		return lp_fail(err, EINVAL, "%s is not a journal this limpet wrote", JOURNAL);
	j->state = (enum lp_jstate)i;
	j->plan = calloc(json_array_size(plan) + 1, sizeof(*j->plan));
	j->error = error ? strdup(error) : NULL;
	if (!j->plan || (error && !j->error))
		return lp_fail(err, ENOMEM, "out of memory");
	for (i = 0; i < json_array_size(plan); i++) {
		json_t *e = json_array_get(plan, i);
		struct lp_jentry *p = &j->plan[j->n++];

		if (!get_str(e, "name", p->name, sizeof(p->name), false) ||
		    !get_str(e, "old", p->old, sizeof(p->old), true) ||
		    !get_str(e, "new", p->new, sizeof(p->new), true))
			return lp_fail(err, EINVAL, "%s: plan[%zu] is not valid", JOURNAL, i);
	}
	j->steps = json_incref(steps);
	return 0;
}

static int journal_load(struct lp_dstate *ds, struct lp_journal *j, struct lp_err *err)
{
	json_t *o;
	int rc;

	memset(j, 0, sizeof(*j));
	if (lp_dstate_read_json(ds, JOURNAL, &o, err) < 0)
		return -1;
	rc = journal_parse(o, j, err);
	json_decref(o);
	if (rc < 0)
		lp_journal_free(j);
	return rc;
}

/* The test hook described at the top; the agent's pid comes from the agent itself. */
static void kill_agent(struct lp_switch *sw)
{
	struct lp_err err = { 0 };
	struct lp_proc proc;
	struct pollfd pfd;
	pid_t pid = 0;

	if (sw->agent)
		raise(SIGKILL); /* we are the agent */
	if (lp_agent_ping(sw->host, &pid, &err) < 0 || pid <= 0 || lp_proc_adopt(pid, lp_proc_starttime(pid), &proc) < 0)
		return;
	syscall(SYS_pidfd_send_signal, proc.pidfd, SIGKILL, NULL, 0);
	pfd = (struct pollfd){ .fd = proc.pidfd, .events = POLLIN };
	poll(&pfd, 1, 10000);
	close(proc.pidfd);
}

static void test_crash_hook(struct lp_switch *sw)
{
	static unsigned long journaled;
	const char *at = getenv("LIMPET_TEST_CRASH_AT");
	char *how;

	journaled++;
	if (!at || strtoul(at, &how, 10) != journaled)
		return;
	if (!strcmp(how, ":agent") || !strcmp(how, ":both"))
		kill_agent(sw);
	if (strcmp(how, ":agent"))
		raise(SIGKILL);
}

static int journal_write(struct lp_switch *sw, struct lp_err *err)
{
	json_t *o = journal_json(&sw->j);
	int rc;

	if (!o)
		return lp_fail(err, ENOMEM, "out of memory");
	rc = lp_dstate_write_json(sw->ds, JOURNAL, o, err);
	json_decref(o);
	return rc;
}

int lp_journal_step(struct lp_switch *sw, struct lp_err *err, const char *fmt, ...)
{
	char line[NAME_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (!sw->j.steps)
		sw->j.steps = json_array();
	if (!sw->j.steps || json_array_append_new(sw->j.steps, json_string(line)) < 0)
		return lp_fail(err, ENOMEM, "out of memory");
	if (journal_write(sw, err) < 0)
		return lp_prefix(err, "journal the step '%s'", line);
	test_crash_hook(sw);
	return 0;
}

int lp_journal_set_state(struct lp_switch *sw, enum lp_jstate state, const char *why,
			 const char *step, struct lp_err *err)
{
	if (why) {
		char *copy = strdup(why);

		if (!copy)
			return lp_fail(err, ENOMEM, "out of memory");
		free(sw->j.error);
		sw->j.error = copy;
	}
	sw->j.state = state;
	return lp_journal_step(sw, err, "%s", step);
}

json_t *lp_journal_status(struct lp_dstate *ds)
{
	struct lp_journal j;
	struct lp_err err;
	json_t *o;

	if (ds->dir_fd < 0 || journal_load(ds, &j, &err) < 0)
		return json_null();
	o = json_pack("{s:I, s:I, s:s, s:i}", "version", (json_int_t)j.version, "from",
		      (json_int_t)j.from, "state", state_names[j.state], "attempt", j.attempt);
	lp_journal_free(&j);
	return o ? o : json_null();
}

/* ---------------------------------------------------------------- containers */

static int sw_start(struct lp_switch *sw, const char *name, struct lp_err *err)
{
	if (sw->agent)
		return sw->agent->start(sw->agent->ctx, name, err);
	return lp_agent_start(sw->host, name, err);
}

/* 1 if name is gone already, else 0 once it is stopped. */
static int stop_one(struct lp_switch *sw, const char *name, struct lp_err *err)
{
	struct lp_container ct;
	int rc;

	if (lp_ct_load(sw->host, name, &ct, err) < 0)
		return err->code == ENOENT ? 1 : -1;
	/* Also when it is not running: a pending restart must not bring it back. */
	rc = lp_ct_stop(&ct, sw->host->cfg.stop_timeout_ms, err);
	lp_ct_free(&ct);
	return rc;
}

int lp_switch_stop(struct lp_switch *sw, const char *name, bool remove, struct lp_err *err)
{
	int rc, tries;

	for (tries = 0;; tries++) {
		rc = stop_one(sw, name, err);
		if (rc != 0 || !remove)
			return rc < 0 ? -1 : 0;
		/* The agent deletes it: it must let go of it first. */
		if (sw->agent)
			rc = sw->agent->remove(sw->agent->ctx, name, err);
		else
			rc = lp_agent_remove(sw->host, name, err);
		/*
		 * Refused, as running: a start that an applier cut short had asked
		 * the agent for was under way while we stopped it, and has run it
		 * since.  The agent answers in order, so that start is over now:
		 * stop it once more.
		 */
		if (rc == 0 || err->code != EALREADY || tries == 1)
			return rc;
	}
}

/* Is name the container of some entry on the side that stays? */
static bool kept(const struct lp_journal *j, const char *name, bool forward)
{
	size_t i;

	for (i = 0; i < j->n; i++)
		if (!strcmp(forward ? j->plan[i].new : j->plan[i].old, name))
			return true;
	return false;
}

static bool stopped_by_switch(const struct lp_journal *j, const char *name)
{
	char want[LP_NAME_MAX + 8];
	size_t i;

	snprintf(want, sizeof(want), "stop %s", name);
	for (i = 0; i < json_array_size(j->steps); i++)
		if (!strcmp(json_string_value(json_array_get(j->steps, i)) ?: "", want))
			return true;
	return false;
}

/* An old container back as it was; one that ended by itself is left to its restart policy. */
static int restart_old(struct lp_switch *sw, const struct lp_deployed *h, struct lp_err *err)
{
	if (h->alive && !h->stop_requested)
		return 0;
	if (!h->alive && !stopped_by_switch(&sw->j, h->name))
		return 0;
	if (lp_journal_step(sw, err, "restart %s", h->name) < 0)
		return -1;
	/* A stop cut short: finish it, so that the start below is a clean one. */
	if (h->alive && lp_switch_stop(sw, h->name, false, err) < 0)
		return -1;
	if (sw_start(sw, h->name, err) < 0)
		return lp_prefix(err, "restart %s", h->name);
	lp_say(sw->log_prefix, "%s runs again", h->name);
	return 0;
}

/* The containers of one side of the plan, and nothing else deployed. */
static int converge(struct lp_switch *sw, bool forward, struct lp_err *err)
{
	struct lp_deployed *have;
	size_t n, i;
	int rc = 0;

	if (lp_deployed_list(sw->host, &have, &n, err) < 0)
		return -1;
	/* What goes, first: two containers of one entry must not share its volumes. */
	for (i = 0; i < n && rc == 0; i++) {
		if (kept(&sw->j, have[i].name, forward))
			continue;
		rc = lp_journal_step(sw, err, "remove %s", have[i].name);
		if (rc == 0)
			rc = lp_switch_stop(sw, have[i].name, true, err);
		if (rc < 0)
			lp_prefix(err, "remove %s", have[i].name);
	}
	for (i = 0; i < n && rc == 0 && !forward; i++)
		if (kept(&sw->j, have[i].name, false))
			rc = restart_old(sw, &have[i], err);
	for (i = 0; i < sw->j.n && rc == 0; i++) {
		const char *name = forward ? sw->j.plan[i].new : sw->j.plan[i].old;
		size_t k;

		for (k = 0; k < n && strcmp(have[k].name, name); k++)
			;
		/* Removed by hand (rm -f) meanwhile: nothing brings it back. */
		if (name[0] && k == n)
			lp_say(sw->log_prefix, "%s is gone: %s does not run", name,
			       sw->j.plan[i].name);
	}
	lp_deployed_free(have, n);
	return rc;
}

/* ---------------------------------------------------------------- settling */

void lp_deploy_save_result(struct lp_dstate *ds, const char *log_prefix, int64_t version,
			   const char *sha256_hex, const char *result, const char *error,
			   int attempts)
{
	char at[LP_RFC3339_LEN];
	struct lp_err err = { 0 };
	json_t *j;

	lp_rfc3339_format(lp_wall_s(), at);
	j = json_pack("{s:I, s:s, s:s, s:s?, s:s}", "version", (json_int_t)version, "sha256",
		      sha256_hex, "result", result, "error", error, "at", at);
	if (j && attempts > 0)
		json_object_set_new(j, "attempts", json_integer(attempts));
	if (!j)
		lp_say(log_prefix, "last_result.json: out of memory");
	else if (lp_dstate_save_result(ds, j, &err) < 0)
		lp_say(log_prefix, "%s", err.msg);
	json_decref(j);
}

/* How the switch ended, once its containers and slots are settled. */
static enum lp_apply_result outcome(struct lp_switch *sw, struct lp_err *why)
{
	const struct lp_journal *j = &sw->j;
	const char *cause = j->error ?: "the agent or the applier died during it";
	char back[48] = "none ran before";

	if (j->from)
		snprintf(back, sizeof(back), "version %lld runs again", (long long)j->from);
	switch (j->state) {
	case LP_J_COMMITTING:
		lp_say(sw->log_prefix, "deployment version %lld is running", (long long)j->version);
		return LP_APPLY_DONE;
	case LP_J_ROLLING_BACK:
		lp_fail(why, EIO, "%s", j->error ?: "rolled back");
		return LP_APPLY_ROLLED_BACK;
	case LP_J_SWITCHING:
		break;
	}
	if (j->attempt >= LP_DEPLOY_MAX_ATTEMPTS) {
		lp_fail(why, EIO,
			"deployment version %lld given up: its switch was cut short %d times "
			"(last: %s); %s; publish a new version",
			(long long)j->version, j->attempt, cause, back);
		return LP_APPLY_ROLLED_BACK;
	}
	lp_fail(why, EINTR,
		"the switch to version %lld was cut short (%s; attempt %d of %d): %s; it will "
		"be tried again",
		(long long)j->version, cause, j->attempt, LP_DEPLOY_MAX_ATTEMPTS, back);
	return LP_APPLY_RETRY;
}

static const char *result_name(enum lp_apply_result r)
{
	return r == LP_APPLY_RETRY ? "interrupted" : lp_apply_result_name(r);
}

int lp_switch_settle(struct lp_switch *sw, enum lp_apply_result *r, struct lp_err *err)
{
	const struct lp_journal *j = &sw->j;
	bool forward = j->state == LP_J_COMMITTING;
	const char *gone = forward ? j->previous : j->dir;
	struct lp_err ignored = { 0 };
	struct lp_dslot s;

	if (forward && lp_dstate_commit(sw->ds, j->current, j->dir, err) < 0)
		return -1;
	if (converge(sw, forward, err) < 0)
		return -1;
	if (!forward && lp_dstate_unstage(sw->ds, err) < 0)
		return -1;
	/* Its directory goes in the prune below: a crash after it leaves its images, not worse. */
	if (gone[0] && lp_dstate_load_dir(sw->ds, gone, &s, &ignored) == 0) {
		int rc = lp_journal_step(sw, err, "drop images of %s", gone);

		if (rc == 0)
			lp_deploy_drop_images(sw->host, sw->ds, sw->log_prefix, &s.d);
		lp_dslot_free(&s);
		if (rc < 0)
			return -1;
	}
	lp_dstate_prune(sw->ds);
	*r = outcome(sw, err);
	lp_deploy_save_result(sw->ds, sw->log_prefix, j->version, j->sha256, result_name(*r),
			      *r == LP_APPLY_DONE ? NULL : err->msg, j->attempt);
	/* Left behind, it is settled again (to the same end) by the next one. */
	if (lp_dstate_remove_file(sw->ds, JOURNAL, &ignored) < 0)
		lp_say(sw->log_prefix, "%s", ignored.msg);
	return 0;
}

/* ---------------------------------------------------------------- recovery */

/*
 * A staging slot without a journal: a switch of a limpet without journals,
 * cut short.  Back to current, restarting what such a switch stopped.
 * 0: nothing to settle.
 */
static int journal_from_staging(struct lp_switch *sw, struct lp_err *err)
{
	struct lp_journal *j = &sw->j;
	struct lp_dslot staging, current = { 0 };
	struct lp_deployed *have = NULL;
	size_t n = 0, i, k;
	struct lp_err ignored;
	int rc = 1;

	memset(j, 0, sizeof(*j));
	if (lp_dstate_load(sw->ds, "staging", &staging, err) < 0)
		return err->code == ENOENT ? 0 : -1;
	lp_dstate_load(sw->ds, "current", &current, &ignored);
	j->version = staging.d.version;
	j->from = current.d.version;
	j->attempt = 1;
	j->state = LP_J_SWITCHING;
	snprintf(j->sha256, sizeof(j->sha256), "%s", staging.sha256);
	if (lp_dstate_slot_target(sw->ds, "staging", j->dir, sizeof(j->dir), err) < 0 ||
	    lp_deployed_list(sw->host, &have, &n, err) < 0) {
		rc = -1;
		goto out;
	}
	if (lp_dstate_slot_target(sw->ds, "current", j->current, sizeof(j->current), &ignored) < 0)
		j->current[0] = '\0';
	if (lp_dstate_slot_target(sw->ds, "previous", j->previous, sizeof(j->previous),
				  &ignored) < 0)
		j->previous[0] = '\0';
	j->plan = calloc(current.d.n + 1, sizeof(*j->plan));
	j->steps = json_array();
	if (!j->plan || !j->steps) {
		rc = lp_fail(err, ENOMEM, "out of memory");
		goto out;
	}
	for (k = 0; k < current.d.n; k++) {
		struct lp_jentry *e = &j->plan[j->n++];
		const struct lp_deployed *best = NULL;

		snprintf(e->name, sizeof(e->name), "%s", current.d.containers[k].cfg.name);
		for (i = 0; i < n; i++)
			if (!strcmp(have[i].deploy_name, e->name) &&
			    have[i].version != j->version &&
			    (!best || have[i].version > best->version))
				best = &have[i];
		if (!best)
			continue;
		snprintf(e->old, sizeof(e->old), "%s", best->name);
		if (!best->alive && best->stop_requested)
			json_array_append_new(j->steps, json_sprintf("stop %s", best->name));
	}
out:
	lp_deployed_free(have, n);
	lp_dslot_free(&staging);
	lp_dslot_free(&current);
	if (rc < 0)
		lp_journal_free(j);
	return rc;
}

int lp_deploy_recover_locked(const struct lp_host *host, struct lp_dstate *ds,
			     const struct lp_agent_ops *agent, const char *log_prefix,
			     struct lp_err *err)
{
	struct lp_switch sw = { .host = host, .ds = ds, .agent = agent, .log_prefix = log_prefix };
	struct lp_journal *j = &sw.j;
	enum lp_apply_result r;
	int rc;

	if (journal_load(ds, j, err) < 0) {
		bool unreadable = err->code == EINVAL;

		if (!unreadable && err->code != ENOENT)
			return -1;
		/* Only a failing disk makes one: the slots say as much as it can. */
		if (unreadable)
			lp_say(log_prefix, "%s: rolling back by the slots", err->msg);
		rc = journal_from_staging(&sw, err);
		if (rc == 0 && unreadable)
			rc = lp_dstate_remove_file(ds, JOURNAL, err);
		if (rc <= 0)
			return rc;
	}
	if (j->state == LP_J_COMMITTING)
		lp_say(log_prefix,
		       "finishing the switch to version %lld (cut short after its commit)",
		       (long long)j->version);
	else if (j->state == LP_J_ROLLING_BACK)
		lp_say(log_prefix, "finishing the rollback of version %lld (cut short)",
		       (long long)j->version);
	else if (j->from)
		lp_say(log_prefix,
		       "the switch to version %lld was cut short: rolling back to version %lld",
		       (long long)j->version, (long long)j->from);
	else
		lp_say(log_prefix, "the switch to version %lld was cut short: rolling back",
		       (long long)j->version);
	rc = lp_switch_settle(&sw, &r, err);
	if (rc == 0 && r != LP_APPLY_DONE)
		lp_say(log_prefix, "%s", err->msg);
	lp_journal_free(j);
	return rc < 0 ? lp_prefix(err, "settle the switch cut short") : 0;
}
