// SPDX-License-Identifier: Apache-2.0
/* limpet agent: the daemon (daemon/agent.c), with the deployment code it recovers and polls with. */
#include "agent/cli/cli.h"
#include "agent/daemon/agent.h"
#include "agent/deploy/deploy.h"
#include "agent/fleet/fleet.h"

int cmd_agent(int argc, char **argv, struct lp_globals *g)
{
	static const struct lp_daemon_hooks hooks = {
		.recover = lp_deploy_recover,
		.updater = lp_fleet_run,
	};
	struct lp_err err = { 0 };

	if (argc > 1)
		return lp_usage_error("agent", "unknown argument %s", argv[1]);
	if (lp_daemon_main(&g->host, &hooks, &err) < 0)
		return lp_cmd_fail("agent", &err);
	return 0;
}
