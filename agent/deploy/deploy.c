// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/container/container.h"
#include "agent/daemon/control.h"
#include "agent/deploy/deploy_internal.h"
#include "agent/deploy/health.h"
#include "agent/spec/parse.h"
#include "platform/lib/util.h"

/* Room for ".v" and the version in a container name. */
#define DEPLOY_NAME_MAX (LP_NAME_MAX - 12)
/* An applier whose agent died mid-switch waits this long for the next one (systemd: 5 s). */
#define AGENT_WAIT_MS 30000

struct apply {
	const struct lp_host *host;
	const struct lp_apply_opts *o;
	struct lp_dstate ds;
	struct lp_deployment d;
	struct lp_deployed *have;
	size_t n_have;
	struct lp_switch sw;		/* its journal holds the plan */
	struct lp_dslot current;	/* what runs now; d.n == 0 when nothing */
	int attempts;			/* switches to this document cut short before */
	bool settled;			/* the switch recorded its own result */
};

const char *lp_apply_result_name(enum lp_apply_result r)
{
	static const char *const names[] = { "applied", "unchanged", "refused", "rolled back",
					     "will retry" };

	return (size_t)r < ARRAY_SIZE(names) ? names[r] : "?";
}

int lp_apply_exit_code(enum lp_apply_result r)
{
	static const int codes[] = {
		[LP_APPLY_DONE] = 0,	    [LP_APPLY_UNCHANGED] = 0, [LP_APPLY_REFUSED] = 1,
		[LP_APPLY_ROLLED_BACK] = 3, [LP_APPLY_RETRY] = 4,
	};

	return (size_t)r < ARRAY_SIZE(codes) ? codes[r] : 1;
}

/* ---------------------------------------------------------------- containers */

/* c's config as JSON under another name (a deployed one compares as NAME). */
static char *cfg_json_named(const struct lp_container_cfg *c, const char *name,
			    struct lp_err *err)
{
	struct lp_container_cfg tmp = *c;

	tmp.name = (char *)name;
	return lp_container_cfg_to_json(&tmp, err);
}

void lp_deployed_free(struct lp_deployed *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i].cfg_json);
	free(v);
}

int lp_deployed_list(const struct lp_host *host, struct lp_deployed **out, size_t *n_out,
		     struct lp_err *err)
{
	struct lp_deployed *v = NULL;
	char **names;
	size_t n, i, k = 0;

	if (lp_ct_names(host, &names, &n, err) < 0)
		return -1;
	v = calloc(n + 1, sizeof(*v));
	if (!v) {
		lp_ct_names_free(names, n);
		return lp_fail(err, ENOMEM, "out of memory");
	}
	for (i = 0; i < n; i++) {
		struct lp_container ct;
		struct lp_err ignored;

		if (lp_ct_load(host, names[i], &ct, &ignored) < 0)
			continue;
		if (ct.st.deploy_version > 0) {
			struct lp_deployed *e = &v[k];

			snprintf(e->name, sizeof(e->name), "%s", ct.cfg.name);
			snprintf(e->deploy_name, sizeof(e->deploy_name), "%s", ct.st.deploy_name);
			e->version = ct.st.deploy_version;
			e->alive = lp_ct_alive(&ct);
			e->stop_requested = ct.st.stop_requested;
			e->cfg_json = cfg_json_named(&ct.cfg, ct.st.deploy_name, &ignored);
			k++;
		}
		lp_ct_free(&ct);
	}
	lp_ct_names_free(names, n);
	*out = v;
	*n_out = k;
	return 0;
}

/*
 * The container that runs name now (not one of version skip, a leftover of
 * an earlier attempt): the running one, else the newest.
 */
static const struct lp_deployed *find_deployed(const struct apply *a, const char *deploy_name,
					       int64_t skip)
{
	const struct lp_deployed *best = NULL;
	size_t i;

	for (i = 0; i < a->n_have; i++) {
		const struct lp_deployed *h = &a->have[i];
		bool runs = h->alive && !h->stop_requested;

		if (strcmp(h->deploy_name, deploy_name) || h->version == skip)
			continue;
		if (!best || runs > (best->alive && !best->stop_requested) ||
		    (runs == (best->alive && !best->stop_requested) && h->version > best->version))
			best = h;
	}
	return best;
}

static int agent_run(struct apply *a, const struct lp_deploy_container *c, const char *instance,
		     struct lp_err *err)
{
	struct lp_container_cfg named = c->cfg;

	named.name = (char *)instance;
	return lp_agent_run(a->host, &named, false, c->cfg.name, a->d.version, err);
}

/* Until an agent answers again (after a crash, systemd starts one in seconds). */
static int wait_for_agent(const struct lp_host *host, int64_t until_ms, struct lp_err *err)
{
	while (lp_agent_ping(host, NULL, err) < 0) {
		if (err->code != ENOTCONN || lp_now_ms() >= until_ms)
			return -1;
		usleep(200 * 1000);
	}
	return 0;
}

/* ---------------------------------------------------------------- the switch */

static bool same_argv(char **a, char **b)
{
	for (; a && b && *a && *b; a++, b++)
		if (strcmp(*a, *b))
			return false;
	return (!a || !*a) == (!b || !*b);
}

/* The current deployment's health check for name is c's: a new one means a new container. */
static bool same_health(const struct apply *a, const struct lp_deploy_container *c)
{
	const struct lp_health *h = &c->health, *o = NULL;
	size_t i;

	for (i = 0; i < a->current.d.n; i++)
		if (!strcmp(a->current.d.containers[i].cfg.name, c->cfg.name))
			o = &a->current.d.containers[i].health;
	return o && same_argv(h->argv, o->argv) && h->interval_ms == o->interval_ms &&
	       h->timeout_ms == o->timeout_ms && h->start_period_ms == o->start_period_ms &&
	       h->retries == o->retries;
}

static bool in_deployment(const struct lp_deployment *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (!strcmp(d->containers[i].cfg.name, name))
			return true;
	return false;
}

/*
 * Which container runs each entry before and after: the plan the journal
 * keeps.  Entries of the new deployment come first, in its order (the
 * switch walks them by index), then the containers it no longer has.
 */
static int plan(struct apply *a, struct lp_err *err)
{
	struct lp_journal *j = &a->sw.j;
	size_t i;

	j->plan = calloc(a->d.n + a->n_have + 1, sizeof(*j->plan));
	if (!j->plan)
		return lp_fail(err, ENOMEM, "out of memory");
	for (i = 0; i < a->d.n; i++) {
		const struct lp_deploy_container *c = &a->d.containers[i];
		const struct lp_deployed *old = find_deployed(a, c->cfg.name, a->d.version);
		struct lp_jentry *e = &j->plan[j->n++];
		bool keep = false;

		snprintf(e->name, sizeof(e->name), "%s", c->cfg.name);
		snprintf(e->new, sizeof(e->new), "%s.v%lld", c->cfg.name, (long long)a->d.version);
		if (!old)
			continue;
		snprintf(e->old, sizeof(e->old), "%s", old->name);
		if (old->cfg_json) {
			char *want = cfg_json_named(&c->cfg, c->cfg.name, err);

			if (!want)
				return -1;
			keep = !strcmp(want, old->cfg_json) && same_health(a, c);
			free(want);
		}
		if (keep)
			snprintf(e->new, sizeof(e->new), "%s", old->name);
	}
	for (i = 0; i < a->n_have; i++) {
		const struct lp_deployed *h = &a->have[i];
		struct lp_jentry *e;

		if (in_deployment(&a->d, h->deploy_name) || h->version == a->d.version)
			continue;
		e = &j->plan[j->n++];
		snprintf(e->name, sizeof(e->name), "%s", h->deploy_name);
		snprintf(e->old, sizeof(e->old), "%s", h->name);
	}
	return 0;
}

/* One at a time: the new one must be healthy before the old one goes. */
static int switch_one(struct apply *a, const struct lp_deploy_container *c,
		      const struct lp_jentry *e, struct lp_err *err)
{
	const struct lp_apply_opts *o = a->o;

	if (!strcmp(e->new, e->old)) {
		lp_say(o->log_prefix, "%s: unchanged, %s keeps running", e->name, e->old);
		return 0;
	}
	if (lp_journal_step(&a->sw, err, "start %s", e->new) < 0)
		return -1;
	/* A leftover of an earlier attempt at this version would block the name. */
	if (lp_switch_stop(&a->sw, e->new, true, err) < 0)
		return -1;
	lp_say(o->log_prefix, "starting %s", e->new);
	if (agent_run(a, c, e->new, err) < 0)
		return lp_prefix(err, "start %s", e->new);
	if (lp_journal_step(&a->sw, err, "wait %s", e->new) < 0 ||
	    lp_health_wait(a->host, e->new, &c->health, err) < 0)
		return -1;
	lp_say(o->log_prefix, "%s is healthy", e->new);
	if (!e->old[0])
		return 0;
	if (lp_journal_step(&a->sw, err, "stop %s", e->old) < 0 ||
	    lp_switch_stop(&a->sw, e->old, false, err) < 0)
		return -1;
	lp_say(o->log_prefix, "%s replaces %s", e->new, e->old);
	return 0;
}

static int switch_over(struct apply *a, struct lp_err *err)
{
	const struct lp_journal *j = &a->sw.j;
	size_t i;

	for (i = 0; i < a->d.n; i++)
		if (switch_one(a, &a->d.containers[i], &j->plan[i], err) < 0)
			return -1;
	/* Containers the new deployment no longer has go last. */
	for (i = a->d.n; i < j->n; i++) {
		const struct lp_jentry *e = &j->plan[i];
		size_t k;
		bool runs = false;

		for (k = 0; k < a->n_have; k++)
			if (!strcmp(a->have[k].name, e->old))
				runs = a->have[k].alive && !a->have[k].stop_requested;
		if (!runs)
			continue;
		if (lp_journal_step(&a->sw, err, "stop %s", e->old) < 0 ||
		    lp_switch_stop(&a->sw, e->old, false, err) < 0)
			return -1;
		lp_say(a->o->log_prefix, "%s stopped: the new deployment does not have it", e->old);
	}
	return 0;
}

/*
 * Settle the switch; when the agent dies meanwhile, wait for the next one and
 * go on.  Given up, the journal stays for whoever takes the lock next.
 */
static enum lp_apply_result settle(struct apply *a, struct lp_err *err)
{
	int64_t until = lp_now_ms() + AGENT_WAIT_MS;
	enum lp_apply_result r;

	a->settled = true;
	while (lp_switch_settle(&a->sw, &r, err) < 0) {
		struct lp_err werr = { 0 };

		if (err->code != ENOTCONN || wait_for_agent(a->host, until, &werr) < 0) {
			lp_prefix(err, "deployment version %lld: the switch is left for the agent "
				       "(at its start) or the next apply to settle",
				  (long long)a->d.version);
			a->settled = false;
			return LP_APPLY_RETRY;
		}
		lp_say(a->o->log_prefix, "the agent is back: settling the switch to version %lld",
			      (long long)a->d.version);
	}
	return r;
}

/* Start the journal of this switch (the plan in a->sw.j) and stage the document. */
static int begin(struct apply *a, const unsigned char digest[LP_SHA256_LEN], struct lp_err *err)
{
	struct lp_journal *j = &a->sw.j;
	struct lp_err ignored;

	j->version = a->d.version;
	j->from = a->current.d.version;
	j->attempt = a->attempts + 1;
	j->state = LP_J_SWITCHING;
	lp_hex(digest, LP_SHA256_LEN, j->sha256);
	lp_dstate_dir_name(j->version, j->sha256, j->dir);
	if (lp_dstate_slot_target(&a->ds, "current", j->current, sizeof(j->current), &ignored) < 0)
		j->current[0] = '\0';
	if (lp_dstate_slot_target(&a->ds, "previous", j->previous, sizeof(j->previous),
				  &ignored) < 0)
		j->previous[0] = '\0';
	if (lp_journal_step(&a->sw, err, "stage %s", j->dir) < 0)
		return -1;
	if (lp_dstate_stage(&a->ds, a->o->doc, a->o->sig, a->d.version, digest, err) == 0)
		return 0;
	/* Nothing was switched: no attempt to count, only the journal to take back. */
	if (lp_dstate_unstage(&a->ds, &ignored) == 0)
		lp_dstate_remove_file(&a->ds, "journal.json", &ignored);
	lp_dstate_prune(&a->ds);
	return -1;
}

static enum lp_apply_result switch_and_settle(struct apply *a,
					      const unsigned char digest[LP_SHA256_LEN],
					      struct lp_err *err)
{
	const struct lp_apply_opts *o = a->o;
	int64_t current = a->current.d.version;
	char why[LP_ERR_MAX + 96];

	if (lp_deployed_list(a->host, &a->have, &a->n_have, err) < 0 || plan(a, err) < 0 ||
	    begin(a, digest, err) < 0)
		return LP_APPLY_RETRY;
	if (switch_over(a, err) == 0) {
		if (lp_journal_set_state(&a->sw, LP_J_COMMITTING, NULL, "commit", err) == 0)
			return settle(a, err);
		a->sw.j.state = LP_J_SWITCHING; /* not on disk: back, as after a crash */
	} else if (err->code != ENOTCONN) {
		lp_say(o->log_prefix, "deployment version %lld failed: %s; rolling back",
			      (long long)a->d.version, err->msg);
		if (current)
			snprintf(why, sizeof(why),
				 "deployment version %lld rolled back to version %lld: %s",
				 (long long)a->d.version, (long long)current, err->msg);
		else
			snprintf(why, sizeof(why),
				 "deployment version %lld rolled back (none ran before): %s",
				 (long long)a->d.version, err->msg);
		if (lp_journal_set_state(&a->sw, LP_J_ROLLING_BACK, why, "roll back", err) == 0)
			return settle(a, err);
		a->sw.j.state = LP_J_SWITCHING;
	}
	/* The agent went away, or the journal cannot be written: not the version's fault. */
	lp_say(o->log_prefix, "the switch to version %lld was cut short: %s",
	       (long long)a->d.version, err->msg);
	free(a->sw.j.error);
	a->sw.j.error = strdup(err->msg);
	return settle(a, err);
}

/* ---------------------------------------------------------------- apply */

static int check_names(const struct lp_deployment *d, struct lp_err *err)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		struct lp_deploy_container *c = &d->containers[i];

		if (strlen(c->cfg.name) > DEPLOY_NAME_MAX)
			return lp_fail(err, ENAMETOOLONG,
				       "containers[%zu].name: '%s' is too long for a deployed "
				       "container (at most %d characters)",
				       i, c->cfg.name, DEPLOY_NAME_MAX);
		/* A probe runs through exec, which cannot enter a microVM yet. */
		if (c->cfg.isolation != LP_ISOLATION_CONTAINER && c->health.argv)
			return lp_fail(err, ENOTSUP,
				       "containers[%zu].health.command: probes cannot run inside a "
				       "microVM yet (isolation '%s'); drop the command to check "
				       "that it keeps running",
				       i, lp_isolation_name(c->cfg.isolation));
		if (lp_deploy_resolve_devices(c, err) < 0)
			return lp_prefix(err, "containers[%zu] (%s)", i, c->cfg.name);
	}
	return 0;
}

static void save_result(struct apply *a, enum lp_apply_result r, const unsigned char *digest,
			const struct lp_err *err)
{
	char hex[LP_SHA256_HEX_LEN + 1] = "";

	if (a->settled || r == LP_APPLY_UNCHANGED ||
	    (r == LP_APPLY_REFUSED && err->code == ECANCELED))
		return;
	if (digest)
		lp_hex(digest, LP_SHA256_LEN, hex);
	lp_deploy_save_result(&a->ds, a->o->log_prefix, a->d.version, hex, lp_apply_result_name(r),
			      r == LP_APPLY_DONE ? NULL : err->msg, a->attempts);
}

/*
 * A document that failed its switch fails again: wait for a new version.
 * One whose switches were cut short is tried again: *attempts says how often.
 */
static bool rolled_back_before(const struct lp_host *host, const char *hex, int *attempts,
			       struct lp_err *err)
{
	json_t *last = lp_dstate_load_result(host);
	const char *result = json_string_value(json_object_get(last, "result"));
	const char *sha = json_string_value(json_object_get(last, "sha256"));
	bool this_one = sha && !strcmp(sha, hex);
	bool same = this_one && result &&
		    !strcmp(result, lp_apply_result_name(LP_APPLY_ROLLED_BACK));

	*attempts = this_one ? (int)json_integer_value(json_object_get(last, "attempts")) : 0;
	if (same)
		lp_fail(err, ECANCELED,
			"this document was rolled back before (%s); publish a new version",
			json_string_value(json_object_get(last, "error")) ?: "?");
	json_decref(last);
	return same;
}

static enum lp_apply_result apply_locked(struct apply *a, unsigned char digest[LP_SHA256_LEN],
					 bool *have_digest, struct lp_err *err)
{
	const struct lp_host *host = a->host;
	const struct lp_apply_opts *o = a->o;
	const struct lp_fleet_config *f = &host->cfg.fleet;
	enum lp_apply_result r;
	char *origin, hex[LP_SHA256_HEX_LEN + 1];
	int64_t current;

	lp_dstate_load(&a->ds, "current", &a->current, &(struct lp_err){ 0 });
	current = a->current.d.version;
	if (lp_deploy_load_signed(o->doc, o->sig, o->trust, &a->d, digest, err) < 0)
		return LP_APPLY_REFUSED;
	*have_digest = true;
	lp_hex(digest, LP_SHA256_LEN, hex);
	if (lp_deploy_check_applicable(&a->d, current, lp_wall_s(), f->device_id, f->groups,
				       err) < 0) {
		if (err->code != EALREADY)
			return LP_APPLY_REFUSED;
		if (!strcmp(hex, a->current.sha256))
			return LP_APPLY_UNCHANGED;
		/* The same number on other content is not the deployment that runs. */
		lp_fail(err, ESTALE,
			"version %lld is not newer than the running %lld (a different document "
			"with the same version: refused)",
			(long long)a->d.version, (long long)current);
		return LP_APPLY_REFUSED;
	}
	if (rolled_back_before(a->host, hex, &a->attempts, err))
		return LP_APPLY_REFUSED;
	if (check_names(&a->d, err) < 0)
		return LP_APPLY_REFUSED;
	/* Nothing is fetched for a deployment the agent could not run. */
	if (lp_agent_ping(host, NULL, err) < 0)
		return LP_APPLY_RETRY;
	if (a->attempts)
		lp_say(o->log_prefix,
			      "applying deployment version %lld (running: %lld; attempt %d of %d)",
			      (long long)a->d.version, (long long)current, a->attempts + 1,
			      LP_DEPLOY_MAX_ATTEMPTS);
	else
		lp_say(o->log_prefix, "applying deployment version %lld (running: %lld)",
			      (long long)a->d.version, (long long)current);
	origin = realpath(o->doc, NULL);
	r = lp_deploy_pull_images(host, o, o->origin ? o->origin : origin, &a->d, err);
	free(origin);
	if (r != LP_APPLY_DONE)
		return r;
	return switch_and_settle(a, digest, err);
}

enum lp_apply_result lp_deploy_apply(const struct lp_host *host, const struct lp_apply_opts *o,
				     struct lp_err *err)
{
	struct apply a = { .host = host, .o = o };
	unsigned char digest[LP_SHA256_LEN];
	bool have_digest = false;
	enum lp_apply_result r;

	a.sw = (struct lp_switch){ .host = host, .ds = &a.ds, .log_prefix = o->log_prefix };
	if (lp_dstate_open(host, &a.ds, false, err) < 0)
		return LP_APPLY_RETRY;
	if (lp_deploy_recover_locked(host, &a.ds, NULL, o->log_prefix, err) < 0) {
		lp_dstate_close(&a.ds);
		return LP_APPLY_RETRY;
	}
	r = apply_locked(&a, digest, &have_digest, err);
	save_result(&a, r, have_digest ? digest : NULL, err);
	lp_dstate_close(&a.ds);
	lp_deploy_free(&a.d);
	lp_dslot_free(&a.current);
	lp_deployed_free(a.have, a.n_have);
	lp_journal_free(&a.sw.j);
	return r;
}

int lp_deploy_recover(const struct lp_host *host, const struct lp_agent_ops *agent,
		      const char *log_prefix, struct lp_err *err)
{
	struct lp_dstate ds;
	int rc;

	if (lp_dstate_open(host, &ds, false, err) < 0)
		/* Someone is applying a deployment right now: it settles its own switch. */
		return err->code == EBUSY ? 0 : -1;
	rc = lp_deploy_recover_locked(host, &ds, agent, log_prefix, err);
	lp_dstate_close(&ds);
	return rc;
}

/* ---------------------------------------------------------------- status */

static json_t *slot_json(struct lp_dstate *ds, const char *slot)
{
	struct lp_dslot s;
	struct lp_err err;
	json_t *j;

	if (ds->dir_fd < 0 || lp_dstate_load(ds, slot, &s, &err) < 0)
		return json_null();
	j = json_pack("{s:I, s:s}", "version", (json_int_t)s.d.version, "sha256", s.sha256);
	lp_dslot_free(&s);
	return j;
}

/* One container of a deployment, as the status report shows it. */
static json_t *deployed_json(const struct lp_container *ct)
{
	return json_pack("{s:s, s:s, s:I, s:s, s:i, s:o, s:b}", "name", ct->st.deploy_name,
			 "container", ct->cfg.name, "version", (json_int_t)ct->st.deploy_version,
			 "state", lp_ct_status_name(ct), "restarts", ct->st.restarts, "exit_code",
			 lp_ct_exit_known(ct) ? json_integer(ct->st.exit_code) : json_null(),
			 "oom_killed", ct->st.oom_killed);
}

json_t *lp_deploy_status(const struct lp_host *host)
{
	struct lp_dstate ds = { .dir_fd = -1, .lock_fd = -1 };
	struct lp_err err;
	json_t *j, *cts = json_array(), *last;
	char **names;
	size_t n, i;

	lp_dstate_peek(host, &ds, &err);
	if (lp_ct_names(host, &names, &n, &err) == 0) {
		for (i = 0; i < n; i++) {
			struct lp_container ct;

			if (lp_ct_load(host, names[i], &ct, &err) < 0)
				continue;
			if (ct.st.deploy_version > 0)
				json_array_append_new(cts, deployed_json(&ct));
			lp_ct_free(&ct);
		}
		lp_ct_names_free(names, n);
	}
	last = lp_dstate_load_result(host);
	j = json_pack("{s:o, s:o, s:o, s:o, s:o}", "current", slot_json(&ds, "current"),
		      "previous", slot_json(&ds, "previous"), "switching", lp_journal_status(&ds),
		      "last_result", last ? last : json_null(), "containers", cts);
	lp_dstate_close(&ds);
	return j;
}
