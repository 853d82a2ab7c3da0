// SPDX-License-Identifier: Apache-2.0
/* limpet agent: the daemon (daemon/agent.c), with the deployment code it recovers and polls with. */
#include "agent/cli/cli.h"
#include "agent/daemon/agent.h"
#include "agent/deploy/deploy.h"
#include "agent/fleet/fleet.h"

static int cmd_agent(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_agent = {
	.name = "agent",
	.summary = "Run the agent: supervise containers, serve the CLI, poll the fleet, watch for sticks",
	.notes = "It runs in the foreground (systemd starts it: limpet.service) and reads\n"
		 "limpet.conf (-c). Containers keep running when it stops.",
	.fn = cmd_agent,
};

static int cmd_agent(int argc, char **argv, struct lp_globals *g)
{
	static const struct lp_daemon_hooks hooks = {
		.recover = lp_deploy_recover,
		.updater = lp_fleet_run,
	};
	struct lp_err err = { 0 };
	int first = 0, rc = lp_opts_none(&lp_doc_agent, argc, argv, &first);

	if (rc >= 0)
		return rc;
	if (first < argc)
		return lp_usage_error("agent", "takes no arguments ('%s')", argv[first]);
	if (lp_daemon_main(&g->host, &hooks, &err) < 0)
		return lp_cmd_fail("agent", &err);
	return 0;
}
