/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent process (`limpet agent`): adopts what an earlier agent left
 * running, brings the config's containers up, serves the control socket
 * and supervises everything in one process until SIGTERM, which leaves the
 * containers running for the next agent.
 */
#ifndef LIMPET_DAEMON_AGENT_H
#define LIMPET_DAEMON_AGENT_H

#include "agent/config/host.h"
#include "agent/daemon/control.h"

/*
 * What the agent does beside supervising, handed down by its caller so
 * that daemon/ needs nothing from the deployment code above it.
 */
struct lp_daemon_hooks {
	/* At start: settle a deployment switch a crash cut short, acting through ops. */
	int (*recover)(const struct lp_host *host, const struct lp_agent_ops *ops,
		       const char *log_prefix, struct lp_err *err);
	/*
	 * The updater process's body (fleet poller, USB sticks), run when the
	 * config asks for either; restarted with backoff when it returns.
	 */
	int (*updater)(const struct lp_host *host, struct lp_err *err);
};

/* Run the agent until SIGTERM (0), or fail to start (-1, err). */
int lp_daemon_main(const struct lp_host *host, const struct lp_daemon_hooks *hooks,
		   struct lp_err *err);

#endif
