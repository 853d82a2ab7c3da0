// SPDX-License-Identifier: Apache-2.0
/*
 * stop, rm, logs: they work on the state directory directly, so they
 * answer whether or not an agent is running.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/container/container.h"
#include "agent/container/logs.h"
#include "agent/container/logs_index.h"
#include "agent/spec/parse.h"
#include "platform/lib/util.h"

static int for_each_name(int first, int argc, char **argv, struct lp_globals *g,
			 const char *cmd, int (*fn)(struct lp_container *, int64_t, struct lp_err *),
			 int64_t arg)
{
	int i, rc = 0;

	if (first == argc)
		return lp_usage_error(cmd, "needs a container NAME");
	for (i = first; i < argc; i++) {
		struct lp_container ct;
		struct lp_err err = { 0 };

		if (lp_ct_load(&g->host, argv[i], &ct, &err) < 0) {
			rc = lp_cmd_fail(cmd, &err);
			continue;
		}
		if (fn(&ct, arg, &err) < 0)
			rc = lp_cmd_fail(cmd, &err);
		else
			printf("%s\n", argv[i]);
		lp_ct_free(&ct);
	}
	return rc;
}

static int stop_one(struct lp_container *ct, int64_t timeout_ms, struct lp_err *err)
{
	return lp_ct_stop(ct, timeout_ms, err);
}

static const struct lp_opt stop_opts[] = {
	{ 't', 't', "time", "SECS", "seconds to wait after SIGTERM before SIGKILL" },
	{ 0 },
};

static int cmd_stop(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_stop = {
	.name = "stop",
	.operands = "NAME...",
	.summary = "Stop containers: SIGTERM, then SIGKILL after a timeout",
	.opts = stop_opts,
	.fn = cmd_stop,
};

static int cmd_stop(int argc, char **argv, struct lp_globals *g)
{
	int64_t timeout_ms = g->host.cfg.stop_timeout_ms;
	struct lp_opts p;
	int opt;

	lp_opts_init(&p, &lp_doc_stop, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0)
		if (lp_parse_seconds_ms(p.arg, &timeout_ms) < 0)
			return lp_usage_error("stop", "-t %s: not a number of seconds", p.arg);
	if (opt == LP_OPT_EXIT)
		return p.status;
	return for_each_name(p.ind, argc, argv, g, "stop", stop_one, timeout_ms);
}

static int rm_one(struct lp_container *ct, int64_t force, struct lp_err *err)
{
	if (force && lp_ct_alive(ct) && lp_ct_stop(ct, 0, err) < 0)
		return -1;
	return lp_ct_remove(ct, err);
}

static const struct lp_opt rm_opts[] = {
	{ 'f', 'f', "force", NULL, "stop it first if it runs (SIGKILL)" },
	{ 0 },
};

static int cmd_rm(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_rm = {
	.name = "rm",
	.operands = "NAME...",
	.summary = "Remove stopped containers",
	.opts = rm_opts,
	.fn = cmd_rm,
};

static int cmd_rm(int argc, char **argv, struct lp_globals *g)
{
	struct lp_opts p;
	bool force = false;
	int opt;

	lp_opts_init(&p, &lp_doc_rm, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0)
		force = true;
	if (opt == LP_OPT_EXIT)
		return p.status;
	return for_each_name(p.ind, argc, argv, g, "rm", rm_one, force);
}

static bool container_running(void *arg)
{
	struct lp_container *ct = arg;

	return lp_ct_alive(ct);
}

enum { OPT_SINCE = 256, OPT_UNTIL };

static const struct lp_opt logs_opts[] = {
	{ 'f', 'f', "follow", NULL, "keep printing what it writes, until it ends" },
	{ 'n', 'n', "tail", "N", "only the last N lines" },
	{ 't', 't', "timestamps", NULL, "each line after its time (RFC 3339, UTC)" },
	{ OPT_SINCE, 0, "since", "TIME", "lines from TIME on: 2026-12-07T18:00:00Z, Unix seconds, or 10m ago" },
	{ OPT_UNTIL, 0, "until", "TIME", "lines up to TIME (the same forms)" },
	{ 0 },
};

static int cmd_logs(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_logs = {
	.name = "logs",
	.operands = "NAME",
	.summary = "Print the output of a container started with -d",
	.opts = logs_opts,
	.notes = "A line's time is when the agent saw it written, to within its wakeups.",
	.fn = cmd_logs,
};

/* One option of logs into v; the usage status when it is bad, else 0. */
static int logs_opt(int opt, const char *arg, struct lp_log_view *v, bool *follow)
{
	struct lp_err err = { 0 };
	char *end;

	switch (opt) {
	case 'f':
		*follow = true;
		return 0;
	case 't':
		v->timestamps = true;
		return 0;
	case 'n':
		v->tail = strtol(arg, &end, 10);
		if (*end || end == arg || v->tail < 0)
			return lp_usage_error("logs", "--tail %s: not a line count", arg);
		return 0;
	}
	if (lp_parse_time_ns(arg, lp_wall_ns(), opt == OPT_SINCE ? &v->since_ns : &v->until_ns,
			     &err) < 0)
		return lp_usage_error("logs", "--%s: %s", opt == OPT_SINCE ? "since" : "until",
				      err.msg);
	return 0;
}

static int cmd_logs(int argc, char **argv, struct lp_globals *g)
{
	struct lp_log_view v = LP_LOG_VIEW_ALL;
	struct lp_container ct;
	struct lp_err err = { 0 };
	struct lp_opts p;
	bool follow = false;
	int opt, rc = 0, first;

	lp_opts_init(&p, &lp_doc_logs, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0)
		if ((rc = logs_opt(opt, p.arg, &v, &follow)) != 0)
			return rc;
	if (opt == LP_OPT_EXIT)
		return p.status;
	first = p.ind;
	if (first + 1 != argc)
		return lp_usage_error("logs", "needs exactly one container NAME");
	if (lp_ct_load(&g->host, argv[first], &ct, &err) < 0)
		return lp_cmd_fail("logs", &err);
	if (!ct.st.detached) {
		fprintf(stderr, "limpet logs: %s ran in the foreground; its output went to the "
				"terminal\n", ct.cfg.name);
		lp_ct_free(&ct);
		return 0;
	}
	/* Then each file without an index dates its lines by its mtime (logs.h). */
	if ((v.timestamps || v.since_ns != INT64_MIN || v.until_ns != INT64_MAX) &&
	    !lp_log_index_complete(ct.log_path, g->host.cfg.log_files))
		fprintf(stderr, "limpet logs: %s: no times recorded for this log (written before "
				"limpet kept them)\n", ct.cfg.name);
	if (lp_log_print(ct.log_path, g->host.cfg.log_files, &v, &err) < 0 ||
	    (follow && lp_log_follow(ct.log_path, &v, container_running, &ct, &err) < 0))
		rc = lp_cmd_fail("logs", &err);
	lp_ct_free(&ct);
	return rc;
}
