/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between the parts of the deployment switch (deploy*.c); not an interface. */
#ifndef LIMPET_DEPLOY_INTERNAL_H
#define LIMPET_DEPLOY_INTERNAL_H

#include "agent/deploy/deploy.h"
#include "agent/deploy/deploy_doc.h"
#include "agent/deploy/deploy_state.h"
#include "agent/spec/spec.h"

/* A switch cut short this many times is given up (see deploy_journal.c). */
#define LP_DEPLOY_MAX_ATTEMPTS 3

/* Pull and import every image d needs that the store does not have yet. */
enum lp_apply_result lp_deploy_pull_images(const struct lp_host *host,
					   const struct lp_apply_opts *o, const char *origin,
					   const struct lp_deployment *d, struct lp_err *err);

/* Remove gone's images that no kept deployment and no container uses, then their layers. */
void lp_deploy_drop_images(const struct lp_host *host, struct lp_dstate *ds, const char *prefix,
			   const struct lp_deployment *gone);

/* A container on disk that a deployment started. */
struct lp_deployed {
	char name[LP_NAME_MAX + 1];		/* NAME.vN */
	char deploy_name[LP_NAME_MAX + 1];	/* NAME */
	int64_t version;
	char *cfg_json;				/* its config, named NAME, to compare */
	bool alive;
	bool stop_requested;
};

int lp_deployed_list(const struct lp_host *host, struct lp_deployed **out, size_t *n_out,
		     struct lp_err *err);
void lp_deployed_free(struct lp_deployed *v, size_t n);

/* The states of a switch: see the top of deploy_journal.c. */
enum lp_jstate {
	LP_J_SWITCHING,
	LP_J_ROLLING_BACK,
	LP_J_COMMITTING,
};

/* One entry of the old or the new deployment: its container before and after. */
struct lp_jentry {
	char name[LP_NAME_MAX + 1];
	char old[LP_NAME_MAX + 1];	/* "": the old deployment does not have it */
	char new[LP_NAME_MAX + 1];	/* "": the new one does not; == old: unchanged */
};

/* journal.json in memory. */
struct lp_journal {
	int64_t version;		/* switching to */
	int64_t from;			/* the version that ran before (0: none) */
	char sha256[LP_SHA256_HEX_LEN + 1];
	char dir[NAME_MAX + 1];		/* the new deployment's directory */
	char current[NAME_MAX + 1];	/* the slots before the switch ("": empty) */
	char previous[NAME_MAX + 1];
	int attempt;			/* 1, 2, ...: the switches to this document cut short + 1 */
	enum lp_jstate state;
	char *error;			/* why it rolls back, or what cut it short; may be NULL */
	struct lp_jentry *plan;
	size_t n;
	json_t *steps;			/* what was done (each recorded before it was done) */
};

struct lp_switch {
	const struct lp_host *host;
	struct lp_dstate *ds;
	const struct lp_agent_ops *agent;	/* NULL: over the control socket */
	const char *log_prefix;
	struct lp_journal j;
};

void lp_journal_free(struct lp_journal *j);

/* Record step (done next) in the journal, durably, before it is done. */
int lp_journal_step(struct lp_switch *sw, struct lp_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Enter state (why: its error, may be NULL), journaled as step. */
int lp_journal_set_state(struct lp_switch *sw, enum lp_jstate state, const char *why,
			 const char *step, struct lp_err *err);

/* Stop container name (gone already is fine) and, with remove, delete it. */
int lp_switch_stop(struct lp_switch *sw, const char *name, bool remove, struct lp_err *err);

/*
 * Bring the switch in sw->j to its end, forward or back as its state says:
 * containers, slots, images, last_result.json, and the journal removed.  It
 * can be repeated after a crash at any point.  0: *r says how it ended and
 * err why when that is not LP_APPLY_DONE.  -1: it could not (err; ENOTCONN
 * when the agent went away), and the journal stays for the next try.
 */
int lp_switch_settle(struct lp_switch *sw, enum lp_apply_result *r, struct lp_err *err);

/* Settle a switch a crash left behind, if any; the caller holds ds's lock. */
int lp_deploy_recover_locked(const struct lp_host *host, struct lp_dstate *ds,
			     const struct lp_agent_ops *agent, const char *log_prefix,
			     struct lp_err *err);

/* last_result.json := this outcome (attempts 0: not recorded). */
void lp_deploy_save_result(struct lp_dstate *ds, const char *log_prefix, int64_t version,
			   const char *sha256_hex, const char *result, const char *error,
			   int attempts);

/* The switch in progress for status reports ({version, state, attempt}), or JSON null. */
json_t *lp_journal_status(struct lp_dstate *ds);

#endif
