/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Applying a signed deployment: the one code path for the fleet poller,
 * `limpet deploy FILE`, `limpet import` and USB sticks.
 *
 *  1. Check it: signature, schema, version newer than current, not expired,
 *     meant for this device.  A refusal changes nothing.
 *  2. Pull every image first (pinned size and sha256, resumable), so a
 *     network failure can never leave the device half switched.
 *  3. Switch one container at a time: start the new one, wait until it is
 *     healthy, then stop the old one.  Containers whose config did not
 *     change keep running untouched.
 *  4. If any new container fails, roll back: remove the new ones, start the
 *     old ones again.  Otherwise commit (current/previous switch by rename)
 *     and drop what only the deployment before previous used.
 *
 * Steps 3 and 4 are journaled (deploy_journal.c): a switch cut short by a
 * crash, kill -9 or power cut is finished or undone by whoever takes the
 * deployment lock next, and ends in one complete deployment.
 *
 * Containers are started by the running agent (over its control socket) so
 * that the agent supervises them; deployed containers are named NAME.vN
 * after the version that started them.
 */
#ifndef LIMPET_DEPLOY_H
#define LIMPET_DEPLOY_H

#include <jansson.h>
#include <stdbool.h>

#include "agent/config/host.h"
#include "agent/daemon/control.h"
#include "agent/fetch/fetch.h"
#include "agent/trust/trust.h"

enum lp_apply_result {
	LP_APPLY_DONE = 0,	/* the device runs it now */
	LP_APPLY_UNCHANGED,	/* it ran it already */
	LP_APPLY_REFUSED,	/* not acceptable: signature, schema, version, expiry, target, image */
	LP_APPLY_ROLLED_BACK,	/* a new container failed: what ran before runs again */
	LP_APPLY_RETRY,		/* failed on the way (network, busy, disk): try again later */
};

struct lp_apply_opts {
	const char *doc;	/* the deployment.json to apply, a local file */
	const char *sig;	/* its signature; NULL: doc + ".sig" */
	const char *origin;	/* where doc came from (https:// URL); NULL: doc itself */
	const struct lp_trust *trust;
	const struct lp_fetch_opts *fetch;
	const char *log_prefix;	/* "limpet agent", "limpet deploy" */
	/*
	 * A USB stick's bundle: a registry image not in the store yet is
	 * refused, as `limpet bundle create` refuses it, not pulled.
	 */
	bool offline;
};

/*
 * The exit status of limpet deploy and limpet import: 0 applied (or ran
 * already), 1 refused, 3 rolled back, 4 try again later.
 */
int lp_apply_exit_code(enum lp_apply_result r);

/* The result as a word for status reports and messages: "applied", "refused", ... */
const char *lp_apply_result_name(enum lp_apply_result r);

/*
 * Apply o->doc.  err (when not DONE/UNCHANGED) is the one-line reason, and
 * ROOT/deployments/last_result.json records it.  Holds the deployment lock
 * while it runs: a second apply at the same time is RETRY (EBUSY).
 */
enum lp_apply_result lp_deploy_apply(const struct lp_host *host, const struct lp_apply_opts *o,
				     struct lp_err *err);

/*
 * After a crash or power cut in the middle of a switch: finish it or undo
 * it, as its journal says, so that exactly one deployment runs.  Appliers
 * (agent NULL) ask the agent over its control socket; the agent, recovering
 * before its loop runs, passes its own lp_agent_ops.  Nothing to do (and
 * quick) in the normal case; nothing either while another process is
 * applying a deployment (it holds the lock and settles its own switch).
 */
int lp_deploy_recover(const struct lp_host *host, const struct lp_agent_ops *agent,
		      const char *log_prefix, struct lp_err *err);

/*
 * The deployment status for reports and `limpet deploy status`: current and
 * previous versions, the last result, a switch in progress (or cut short and
 * not settled yet), and each deployed container.
 */
json_t *lp_deploy_status(const struct lp_host *host);

#endif
