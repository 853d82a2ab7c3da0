// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container.h"
#include "control.h"
#include "deploy_internal.h"
#include "health.h"
#include "parse.h"
#include "platform/lib/util.h"

/* Room for ".v" and the version in a container name. */
#define DEPLOY_NAME_MAX (LP_NAME_MAX - 12)

/* A container on disk that a deployment started. */
struct deployed {
	char name[LP_NAME_MAX + 1];		/* NAME.vN */
	char deploy_name[LP_NAME_MAX + 1];	/* NAME */
	int64_t version;
	char *cfg_json;				/* its config, named NAME, to compare */
	bool alive;
	bool stop_requested;
};

/* What the switch did to one entry of the new deployment, to undo it. */
struct step {
	const struct lp_deploy_container *c;
	char instance[LP_NAME_MAX + 1];
	const struct deployed *old;	/* NULL: a new container */
	bool keep;			/* unchanged: the old one goes on running */
	bool started, old_stopped;
};

struct apply {
	struct lp_globals *g;
	const struct lp_apply_opts *o;
	struct lp_dstate ds;
	struct lp_deployment d;
	struct deployed *have;
	size_t n_have;
	struct step *steps;
	bool *gone_stopped;	/* per have[]: stopped because d no longer has it */
	struct lp_dslot current;	/* what runs now; d.n == 0 when nothing */
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

void lp_deploy_say(const struct lp_apply_opts *o, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	lp_say(o->log_prefix, "%s", line);
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

static void deployed_free(struct deployed *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].cfg_json);
	free(v);
}

static int list_deployed(struct lp_globals *g, struct deployed **out, size_t *n_out,
			 struct lp_err *err)
{
	struct deployed *v = NULL;
	char **names;
	size_t n, i, k = 0;

	if (lp_ct_names(g, &names, &n, err) < 0)
		return -1;
	v = calloc(n + 1, sizeof(*v));
	if (!v) {
		lp_ct_names_free(names, n);
		return lp_fail(err, ENOMEM, "out of memory");
	}
	for (i = 0; i < n; i++) {
		struct lp_container ct;
		struct lp_err ignored;

		if (lp_ct_load(g, names[i], &ct, &ignored) < 0)
			continue;
		if (ct.st.deploy_version > 0) {
			struct deployed *e = &v[k];

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

/* The newest container running a deployment's NAME (not from version skip). */
static const struct deployed *find_deployed(const struct apply *a, const char *deploy_name,
					    int64_t skip)
{
	const struct deployed *best = NULL;
	size_t i;

	for (i = 0; i < a->n_have; i++)
		if (!strcmp(a->have[i].deploy_name, deploy_name) && a->have[i].version != skip &&
		    (!best || a->have[i].version > best->version))
			best = &a->have[i];
	return best;
}

/* Ask the agent (which supervises) to do something; its error comes back in err. */
static int agent_call(struct lp_globals *g, json_t *req, struct lp_err *err)
{
	json_t *reply = NULL;
	const char *msg;
	int rc = 0;

	if (!req)
		return lp_fail(err, ENOMEM, "out of memory");
	if (lp_control_call(g, req, &reply, err) < 0) {
		json_decref(req);
		if (err->code == ENOENT || err->code == ECONNREFUSED)
			return lp_fail(err, err->code,
				       "no agent is running for %s (start `limpet agent`: it "
				       "supervises deployed containers)",
				       g->root);
		return -1;
	}
	json_decref(req);
	msg = json_string_value(json_object_get(reply, "error"));
	if (msg)
		rc = lp_fail(err, EIO, "%s", msg);
	json_decref(reply);
	return rc;
}

static int agent_run(struct apply *a, const struct step *s, struct lp_err *err)
{
	char *text = cfg_json_named(&s->c->cfg, s->instance, err);
	json_t *cfg;

	if (!text)
		return -1;
	cfg = json_loads(text, 0, NULL);
	free(text);
	if (!cfg)
		return lp_fail(err, ENOMEM, "out of memory");
	return agent_call(a->g,
			  json_pack("{s:s, s:o, s:{s:s, s:I}}", "op", "run", "config", cfg,
				    "deployment", "name", s->c->cfg.name, "version",
				    (json_int_t)a->d.version),
			  err);
}

static int agent_start(struct lp_globals *g, const char *name, struct lp_err *err)
{
	return agent_call(g, json_pack("{s:s, s:s}", "op", "start", "name", name), err);
}

/* Stop name (gone already is fine); removing it is the agent's job, which watches it. */
static int stop_container(struct lp_globals *g, const char *name, bool remove,
			  struct lp_err *err)
{
	struct lp_container ct;
	int rc = 0;

	if (lp_ct_load(g, name, &ct, err) < 0)
		return err->code == ENOENT ? 0 : -1;
	/* Also when it is not running: a pending restart must not bring it back. */
	rc = lp_ct_stop(&ct, g->cfg.stop_timeout_ms, err);
	lp_ct_free(&ct);
	if (rc == 0 && remove)
		rc = agent_call(g, json_pack("{s:s, s:s}", "op", "remove", "name", name), err);
	return rc;
}

/* ---------------------------------------------------------------- the switch */

static void rollback(struct apply *a)
{
	const struct lp_apply_opts *o = a->o;
	struct lp_err err = { 0 };
	size_t i = a->d.n;

	for (i = 0; i < a->n_have; i++)
		if (a->gone_stopped[i] && agent_start(a->g, a->have[i].name, &err) < 0)
			lp_deploy_say(o, "rollback: %s", err.msg);
	for (i = a->d.n; i-- > 0;) {
		struct step *s = &a->steps[i];

		if (s->started && stop_container(a->g, s->instance, true, &err) < 0)
			lp_deploy_say(o, "rollback: %s", err.msg);
		if (s->old_stopped && agent_start(a->g, s->old->name, &err) < 0)
			lp_deploy_say(o, "rollback: %s", err.msg);
		else if (s->old_stopped)
			lp_deploy_say(o, "rollback: %s runs again", s->old->name);
	}
}

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

/* Which containers change, and what they are called. */
static int plan(struct apply *a, struct lp_err *err)
{
	size_t i;


	for (i = 0; i < a->d.n; i++) {
		struct step *s = &a->steps[i];
		char *want;

		s->c = &a->d.containers[i];
		snprintf(s->instance, sizeof(s->instance), "%s.v%lld", s->c->cfg.name,
			 (long long)a->d.version);
		s->old = find_deployed(a, s->c->cfg.name, a->d.version);
		if (!s->old || !s->old->cfg_json)
			continue;
		want = cfg_json_named(&s->c->cfg, s->c->cfg.name, err);
		if (!want)
			return -1;
		s->keep = !strcmp(want, s->old->cfg_json) && same_health(a, s->c);
		free(want);
	}
	return 0;
}

/* One at a time: the new one must be healthy before the old one goes. */
static int switch_one(struct apply *a, struct step *s, struct lp_err *err)
{
	const struct lp_apply_opts *o = a->o;

	if (s->keep) {
		lp_deploy_say(o, "%s: unchanged, %s keeps running", s->c->cfg.name, s->old->name);
		return 0;
	}
	/* A leftover of an earlier attempt at this version would block the name. */
	if (stop_container(a->g, s->instance, true, err) < 0)
		return -1;
	lp_deploy_say(o, "starting %s", s->instance);
	if (agent_run(a, s, err) < 0)
		return lp_prefix(err, "start %s", s->instance);
	s->started = true;
	if (lp_health_wait(a->g, s->instance, &s->c->health, err) < 0)
		return -1;
	lp_deploy_say(o, "%s is healthy", s->instance);
	if (!s->old)
		return 0;
	if (stop_container(a->g, s->old->name, false, err) < 0)
		return -1;
	s->old_stopped = true;
	lp_deploy_say(o, "%s replaces %s", s->instance, s->old->name);
	return 0;
}

static bool in_deployment(const struct lp_deployment *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (!strcmp(d->containers[i].cfg.name, name))
			return true;
	return false;
}

static int switch_over(struct apply *a, struct lp_err *err)
{
	size_t i;

	if (plan(a, err) < 0)
		return -1;
	for (i = 0; i < a->d.n; i++)
		if (switch_one(a, &a->steps[i], err) < 0)
			return -1;
	/* Containers the new deployment no longer has go last. */
	for (i = 0; i < a->n_have; i++) {
		const struct deployed *h = &a->have[i];

		if (in_deployment(&a->d, h->deploy_name) || h->version == a->d.version ||
		    (!h->alive && h->stop_requested))
			continue;
		if (stop_container(a->g, h->name, false, err) < 0)
			return -1;
		a->gone_stopped[i] = true;
		lp_deploy_say(a->o, "%s stopped: the new deployment does not have it", h->name);
	}
	return 0;
}

/* The old containers the switch stopped are not coming back. */
static void remove_replaced(struct apply *a)
{
	struct lp_err err = { 0 };
	size_t i;

	for (i = 0; i < a->d.n; i++)
		if (a->steps[i].old_stopped &&
		    stop_container(a->g, a->steps[i].old->name, true, &err) < 0)
			lp_deploy_say(a->o, "%s", err.msg);
	for (i = 0; i < a->n_have; i++)
		if (a->gone_stopped[i] && stop_container(a->g, a->have[i].name, true, &err) < 0)
			lp_deploy_say(a->o, "%s", err.msg);
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
	char at[LP_RFC3339_LEN], hex[LP_SHA256_HEX_LEN + 1] = "";
	struct lp_err werr = { 0 };
	json_t *j;

	if (r == LP_APPLY_UNCHANGED || (r == LP_APPLY_REFUSED && err->code == ECANCELED))
		return;
	if (digest)
		lp_hex(digest, LP_SHA256_LEN, hex);
	lp_rfc3339_format(lp_wall_s(), at);
	j = json_pack("{s:I, s:s, s:s, s:s?, s:s}", "version", (json_int_t)a->d.version, "sha256",
		      hex, "result", lp_apply_result_name(r), "error",
		      r == LP_APPLY_DONE ? NULL : err->msg, "at", at);
	if (j && lp_dstate_save_result(&a->ds, j, &werr) < 0)
		lp_deploy_say(a->o, "%s", werr.msg);
	json_decref(j);
}

/* A document that failed its switch fails again: wait for a new version. */
static bool rolled_back_before(struct lp_globals *g, const char *hex, struct lp_err *err)
{
	json_t *last = lp_dstate_load_result(g);
	const char *result = json_string_value(json_object_get(last, "result"));
	const char *sha = json_string_value(json_object_get(last, "sha256"));
	bool same = result && sha && !strcmp(sha, hex) &&
		    !strcmp(result, lp_apply_result_name(LP_APPLY_ROLLED_BACK));

	if (same)
		lp_fail(err, ECANCELED, "this document was rolled back before (%s); publish a new version",
			json_string_value(json_object_get(last, "error")) ?: "?");
	json_decref(last);
	return same;
}

static enum lp_apply_result apply_locked(struct apply *a, unsigned char digest[LP_SHA256_LEN],
					 bool *have_digest, struct lp_err *err)
{
	struct lp_globals *g = a->g;
	const struct lp_apply_opts *o = a->o;
	const struct lp_fleet_config *f = &g->cfg.fleet;
	enum lp_apply_result r;
	struct lp_dslot dropped;
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
	if (rolled_back_before(a->g, hex, err))
		return LP_APPLY_REFUSED;
	if (check_names(&a->d, err) < 0)
		return LP_APPLY_REFUSED;
	/* Nothing is fetched for a deployment the agent could not run. */
	if (agent_call(g, json_pack("{s:s}", "op", "ping"), err) < 0)
		return LP_APPLY_RETRY;
	lp_deploy_say(o, "applying deployment version %lld (running: %lld)",
		      (long long)a->d.version, (long long)current);
	origin = realpath(o->doc, NULL);
	r = lp_deploy_pull_images(g, o, o->origin ? o->origin : origin, &a->d, err);
	free(origin);
	if (r != LP_APPLY_DONE)
		return r;
	if (lp_dstate_stage(&a->ds, o->doc, o->sig, a->d.version, digest, err) < 0 ||
	    list_deployed(g, &a->have, &a->n_have, err) < 0)
		return LP_APPLY_RETRY;
	a->steps = calloc(a->d.n + 1, sizeof(*a->steps));
	a->gone_stopped = calloc(a->n_have + 1, sizeof(*a->gone_stopped));
	if (!a->steps || !a->gone_stopped) {
		lp_fail(err, ENOMEM, "out of memory");
		lp_dstate_unstage(&a->ds, &(struct lp_err){ 0 });
		return LP_APPLY_RETRY;
	}
	if (switch_over(a, err) < 0) {
		lp_deploy_say(o, "deployment version %lld failed: %s; rolling back",
			      (long long)a->d.version, err->msg);
		rollback(a);
		lp_dstate_unstage(&a->ds, &(struct lp_err){ 0 });
		lp_deploy_drop_images(g, &a->ds, o->log_prefix, &a->d);
		if (current)
			lp_prefix(err, "deployment version %lld rolled back to version %lld",
				  (long long)a->d.version, (long long)current);
		else
			lp_prefix(err, "deployment version %lld rolled back (none ran before)",
				  (long long)a->d.version);
		return LP_APPLY_ROLLED_BACK;
	}
	if (lp_dstate_commit(&a->ds, &dropped, err) < 0) {
		/* current still names the old deployment: put it back as it was. */
		rollback(a);
		lp_dstate_unstage(&a->ds, &(struct lp_err){ 0 });
		return LP_APPLY_RETRY;
	}
	remove_replaced(a);
	lp_deploy_drop_images(g, &a->ds, o->log_prefix, &dropped.d);
	lp_dslot_free(&dropped);
	lp_deploy_say(o, "deployment version %lld is running", (long long)a->d.version);
	return LP_APPLY_DONE;
}

static int recover_locked(struct lp_globals *g, struct lp_dstate *ds, const char *log_prefix,
			  struct lp_err *err);

enum lp_apply_result lp_deploy_apply(struct lp_globals *g, const struct lp_apply_opts *o,
				     struct lp_err *err)
{
	struct apply a = { .g = g, .o = o };
	unsigned char digest[LP_SHA256_LEN];
	bool have_digest = false;
	enum lp_apply_result r;

	if (lp_dstate_open(g, &a.ds, false, err) < 0)
		return LP_APPLY_RETRY;
	if (recover_locked(g, &a.ds, o->log_prefix, err) < 0) {
		lp_dstate_close(&a.ds);
		return LP_APPLY_RETRY;
	}
	r = apply_locked(&a, digest, &have_digest, err);
	save_result(&a, r, have_digest ? digest : NULL, err);
	lp_dstate_close(&a.ds);
	lp_deploy_free(&a.d);
	lp_dslot_free(&a.current);
	deployed_free(a.have, a.n_have);
	free(a.steps);
	free(a.gone_stopped);
	return r;
}

/* ---------------------------------------------------------------- recovery */

/* Undo (or finish) a switch cut short; the caller holds the lock of ds. */
static int recover_locked(struct lp_globals *g, struct lp_dstate *ds, const char *log_prefix,
			  struct lp_err *err)
{
	struct lp_apply_opts o = { .log_prefix = log_prefix };
	struct lp_dslot staging, current = { 0 };
	struct deployed *have;
	size_t n, i;
	int rc = 0;

	if (lp_dstate_load(ds, "staging", &staging, err) < 0)
		return err->code == ENOENT ? 0 : -1;
	lp_dstate_load(ds, "current", &current, &(struct lp_err){ 0 });
	if (list_deployed(g, &have, &n, err) < 0) {
		rc = -1;
		goto out;
	}
	if (current.d.version == staging.d.version) {
		/* The commit got as far as current: only the tidying was left. */
		lp_deploy_say(&o, "finishing the switch to version %lld",
			      (long long)staging.d.version);
		for (i = 0; i < n; i++)
			if (have[i].version < current.d.version && !have[i].alive &&
			    have[i].stop_requested)
				stop_container(g, have[i].name, true, err);
	} else {
		lp_deploy_say(&o, "the switch to version %lld was cut short: rolling back",
			      (long long)staging.d.version);
		for (i = 0; i < n; i++)
			if (have[i].version == staging.d.version &&
			    stop_container(g, have[i].name, true, err) < 0)
				lp_deploy_say(&o, "%s", err->msg);
		for (i = 0; i < n; i++)
			if (have[i].version != staging.d.version && !have[i].alive &&
			    have[i].stop_requested && in_deployment(&current.d, have[i].deploy_name) &&
			    agent_start(g, have[i].name, err) < 0)
				lp_deploy_say(&o, "%s", err->msg);
	}
	deployed_free(have, n);
	rc = lp_dstate_unstage(ds, err);
out:
	lp_dslot_free(&staging);
	lp_dslot_free(&current);
	return rc;
}

int lp_deploy_recover(struct lp_globals *g, const char *log_prefix, struct lp_err *err)
{
	struct lp_dstate ds;
	int rc;

	if (lp_dstate_open(g, &ds, false, err) < 0)
		/* Someone is applying a deployment right now: nothing was cut short. */
		return err->code == EBUSY ? 0 : -1;
	rc = recover_locked(g, &ds, log_prefix, err);
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

json_t *lp_deploy_status(struct lp_globals *g)
{
	struct lp_dstate ds = { .dir_fd = -1, .lock_fd = -1 };
	struct lp_err err;
	json_t *j, *cts = json_array(), *last;
	char **names;
	size_t n, i;

	lp_dstate_peek(g, &ds, &err);
	if (lp_ct_names(g, &names, &n, &err) == 0) {
		for (i = 0; i < n; i++) {
			struct lp_container ct;

			if (lp_ct_load(g, names[i], &ct, &err) < 0)
				continue;
			if (ct.st.deploy_version > 0)
				json_array_append_new(
					cts, json_pack("{s:s, s:s, s:I, s:s, s:i, s:i, s:b}", "name",
						       ct.st.deploy_name, "container", ct.cfg.name,
						       "version", (json_int_t)ct.st.deploy_version,
						       "state", lp_ct_status_name(&ct), "restarts",
						       ct.st.restarts, "exit_code", ct.st.exit_code,
						       "oom_killed", ct.st.oom_killed));
			lp_ct_free(&ct);
		}
		lp_ct_names_free(names, n);
	}
	last = lp_dstate_load_result(g);
	j = json_pack("{s:o, s:o, s:o, s:o}", "current", slot_json(&ds, "current"), "previous",
		      slot_json(&ds, "previous"), "last_result", last ? last : json_null(),
		      "containers", cts);
	lp_dstate_close(&ds);
	return j;
}
