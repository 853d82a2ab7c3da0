// SPDX-License-Identifier: Apache-2.0
/*
 * start, restart, kill: a stopped container starts again under the agent
 * (which supervises it, as after run -d), a running one gets a signal.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/container/container.h"
#include "agent/daemon/control.h"
#include "agent/spec/parse.h"

/* Start it under the agent; one that already runs is left as it is, as docker start does. */
static int start_one(struct lp_globals *g, const char *cmd, const char *name)
{
	struct lp_err err = { 0 };

	if (lp_agent_start(&g->host, name, &err) < 0 && err.code != EALREADY) {
		if (err.code == ENOTCONN)
			fprintf(stderr, "limpet %s: %s: %s (it starts containers: limpet agent, or "
					"systemctl start limpet)\n",
				cmd, name, err.msg);
		else
			lp_cmd_fail(cmd, &err);
		return LP_EXIT_FAILURE;
	}
	printf("%s\n", name);
	return 0;
}

/* Each name must be a container: refused before anything is done to any. */
static int load(struct lp_globals *g, const char *cmd, const char *name, struct lp_container *ct)
{
	struct lp_err err = { 0 };

	if (lp_ct_load(&g->host, name, ct, &err) < 0)
		return lp_cmd_fail(cmd, &err);
	return 0;
}

static int cmd_start(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_start = {
	.name = "start",
	.operands = "NAME...",
	.summary = "Start stopped containers again, under the agent",
	.notes = "Their output goes to their log files (limpet logs), as with run -d.",
	.fn = cmd_start,
};

static int cmd_start(int argc, char **argv, struct lp_globals *g)
{
	int i, first = 0, rc = lp_opts_none(&lp_doc_start, argc, argv, &first);

	if (rc >= 0)
		return rc;
	if (first == argc)
		return lp_usage_error("start", "needs a container NAME");
	for (i = first, rc = 0; i < argc; i++) {
		struct lp_container ct;

		if (load(g, "start", argv[i], &ct)) {
			rc = LP_EXIT_FAILURE;
			continue;
		}
		lp_ct_free(&ct);
		if (start_one(g, "start", argv[i]))
			rc = LP_EXIT_FAILURE;
	}
	return rc;
}

static const struct lp_opt restart_opts[] = {
	{ 't', 't', "time", "SECS", "seconds to wait after SIGTERM before SIGKILL" },
	{ 0 },
};

static int cmd_restart(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_restart = {
	.name = "restart",
	.operands = "NAME...",
	.summary = "Stop containers (if they run) and start them again, under the agent",
	.opts = restart_opts,
	.fn = cmd_restart,
};

static int cmd_restart(int argc, char **argv, struct lp_globals *g)
{
	int64_t timeout_ms = g->host.cfg.stop_timeout_ms;
	struct lp_opts p;
	int opt, i, rc = 0;

	lp_opts_init(&p, &lp_doc_restart, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0)
		if (lp_parse_seconds_ms(p.arg, &timeout_ms) < 0)
			return lp_usage_error("restart", "-t %s: not a number of seconds", p.arg);
	if (opt == LP_OPT_EXIT)
		return p.status;
	if (p.ind == argc)
		return lp_usage_error("restart", "needs a container NAME");
	for (i = p.ind; i < argc; i++) {
		struct lp_err err = { 0 };
		struct lp_container ct;

		if (load(g, "restart", argv[i], &ct)) {
			rc = LP_EXIT_FAILURE;
			continue;
		}
		if (lp_ct_alive(&ct) && lp_ct_stop(&ct, timeout_ms, &err) < 0) {
			rc = lp_cmd_fail("restart", &err);
			lp_ct_free(&ct);
			continue;
		}
		lp_ct_free(&ct);
		if (start_one(g, "restart", argv[i]))
			rc = LP_EXIT_FAILURE;
	}
	return rc;
}

static const struct lp_opt kill_opts[] = {
	{ 's', 's', "signal", "SIG", "the signal: a name (TERM, SIGHUP) or a number (default KILL)" },
	{ 0 },
};

static int cmd_kill(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_kill = {
	.name = "kill",
	.operands = "NAME...",
	.summary = "Send a signal to running containers' PID 1 (default SIGKILL)",
	.opts = kill_opts,
	.notes = "KILL and TERM end a container for good, as stop does: its restart policy\n"
		 "does not start it again.",
	.fn = cmd_kill,
};

static int cmd_kill(int argc, char **argv, struct lp_globals *g)
{
	struct lp_err err = { 0 };
	struct lp_opts p;
	int opt, i, sig = 9, rc = 0;

	lp_opts_init(&p, &lp_doc_kill, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0)
		if (lp_parse_signal(p.arg, &sig, &err) < 0)
			return lp_usage_error("kill", "-s: %s", err.msg);
	if (opt == LP_OPT_EXIT)
		return p.status;
	if (p.ind == argc)
		return lp_usage_error("kill", "needs a container NAME");
	for (i = p.ind; i < argc; i++) {
		struct lp_container ct;

		if (load(g, "kill", argv[i], &ct)) {
			rc = LP_EXIT_FAILURE;
			continue;
		}
		if (lp_ct_kill(&ct, sig, &err) < 0)
			rc = lp_cmd_fail("kill", &err);
		else
			printf("%s\n", argv[i]);
		lp_ct_free(&ct);
	}
	return rc;
}
