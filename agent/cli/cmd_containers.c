// SPDX-License-Identifier: Apache-2.0
/*
 * ps, stop, rm, logs: they work on the state directory directly, so they
 * answer whether or not an agent is running.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/cli/cli.h"
#include "agent/container/container.h"
#include "agent/container/logs.h"
#include "agent/spec/parse.h"
#include "platform/lib/util.h"

static json_t *container_json(const struct lp_container *ct)
{
	const struct lp_container_cfg *c = &ct->cfg;
	json_t *cmd = json_array(), *j;
	char **a;
	bool known = lp_ct_exit_known(ct);

	for (a = c->argv; a && *a; a++)
		json_array_append_new(cmd, json_string(*a));
	j = json_pack("{s:s, s:s, s:s, s:i, s:o, s:o, s:b, s:i, s:I, s:I, s:s, s:s?, s:s?, s:o,"
			 " s:{s:I, s:I, s:I, s:i, s:I}, s:s, s:b}",
			 "name", c->name, "id", ct->st.id, "status", lp_ct_status_name(ct), "pid",
			 lp_ct_alive(ct) ? (int)ct->st.pid : 0, "exit_code",
			 known ? json_integer(ct->st.exit_code) : json_null(), "signal",
			 known ? json_integer(ct->st.signal) : json_null(), "oom_killed",
			 ct->st.oom_killed, "restarts", ct->st.restarts, "started_at",
			 (json_int_t)ct->st.started_at,
			 "finished_at", (json_int_t)ct->st.finished_at, "cgroup", ct->st.cgroup,
			 "rootfs", c->rootfs, "image", c->image, "command", cmd, "limits", "memory",
			 (json_int_t)c->limits.memory, "cpu_quota", (json_int_t)c->limits.cpu_quota,
			 "cpu_period", (json_int_t)c->limits.cpu_period, "cpu_weight",
			 c->limits.cpu_weight, "pids", (json_int_t)c->limits.pids, "isolation",
			 lp_isolation_name(c->isolation), "vm", ct->st.vm);
	if (j && ct->st.deploy_version)
		json_object_set_new(j, "deployment",
				    json_pack("{s:s, s:I}", "name", ct->st.deploy_name, "version",
					      (json_int_t)ct->st.deploy_version));
	return j;
}

/* One line for the COMMAND column: the image or the command, cut short. */
static void command_text(const struct lp_container *ct, char *buf, size_t len)
{
	const struct lp_container_cfg *c = &ct->cfg;
	const char *what = c->argv && c->argv[0] ? c->argv[0] : "";
	char *p;

	if (c->image)
		snprintf(buf, len, "%s%s%s", c->image, *what ? " " : "", what);
	else
		snprintf(buf, len, "%s", what);
	for (p = buf; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	if (strlen(buf) > 40)
		strcpy(buf + 37, "...");
}

static void status_text(const struct lp_container *ct, char *buf, size_t len)
{
	const struct lp_ct_state *st = &ct->st;

	if (lp_ct_alive(ct))
		snprintf(buf, len, "running");
	else if (st->status != LP_CT_EXITED)
		snprintf(buf, len, "%s", lp_ct_status_name(ct));
	else if (st->oom_killed)
		snprintf(buf, len, "oom-killed");
	else if (st->exit_unknown)
		snprintf(buf, len, "exited(?)");
	else if (st->signal)
		snprintf(buf, len, "killed(%d)", st->signal);
	else
		snprintf(buf, len, "exited(%d)", st->exit_code);
}

static const struct lp_opt ps_opts[] = {
	{ 'a', 'a', "all", NULL, "every container (the default: limpet lists stopped ones too)" },
	{ 'q', 'q', "quiet", NULL, "only their names" },
	{ 'j', 0, "json", NULL, "each one's whole configuration and state, as JSON" },
	{ 0 },
};

static int cmd_ps(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_ps = {
	.name = "ps",
	.summary = "List containers, running and stopped",
	.opts = ps_opts,
	.fn = cmd_ps,
};

static int cmd_ps(int argc, char **argv, struct lp_globals *g)
{
	struct lp_err err = { 0 };
	struct lp_opts p;
	char **names;
	size_t n, i;
	bool as_json = false, quiet = false;
	json_t *all;
	int opt;

	lp_opts_init(&p, &lp_doc_ps, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0) {
		as_json = as_json || opt == 'j';
		quiet = quiet || opt == 'q';
	}
	if (opt == LP_OPT_EXIT)
		return p.status;
	if (lp_opts_left(&p))
		return lp_usage_error("ps", "takes no arguments ('%s')", argv[p.ind]);
	if (lp_ct_names(&g->host, &names, &n, &err) < 0)
		return lp_cmd_fail("ps", &err);
	if (quiet && !as_json) {
		for (i = 0; i < n; i++)
			printf("%s\n", names[i]);
		lp_ct_names_free(names, n);
		return 0;
	}
	all = json_array();
	if (!as_json)
		printf("%-20s %-12s %-8s %-8s %s\n", "NAME", "STATUS", "PID", "RESTARTS",
		       "COMMAND");
	for (i = 0; i < n; i++) {
		struct lp_container ct;
		char status[32], command[64];

		if (lp_ct_load(&g->host, names[i], &ct, &err) < 0) {
			fprintf(stderr, "limpet ps: %s\n", err.msg);
			continue;
		}
		if (as_json) {
			json_array_append_new(all, container_json(&ct));
		} else {
			status_text(&ct, status, sizeof(status));
			command_text(&ct, command, sizeof(command));
			printf("%-20s %-12s %-8d %-8d %s\n", ct.cfg.name, status,
			       lp_ct_alive(&ct) ? (int)ct.st.pid : 0, ct.st.restarts, command);
		}
		lp_ct_free(&ct);
	}
	if (as_json) {
		char *s = json_dumps(all, JSON_INDENT(2));

		printf("%s\n", s ? s : "[]");
		free(s);
	}
	json_decref(all);
	lp_ct_names_free(names, n);
	return 0;
}

/* The value at a dotted PATH ("limits.memory") of j, or NULL. */
static json_t *json_at(json_t *j, const char *path)
{
	char key[64];
	const char *dot;

	while (j && *path) {
		dot = strchrnul(path, '.');
		if ((size_t)(dot - path) >= sizeof(key))
			return NULL;
		memcpy(key, path, (size_t)(dot - path));
		key[dot - path] = '\0';
		j = json_object_get(j, key);
		path = *dot ? dot + 1 : dot;
	}
	return j;
}

/* A scalar as a shell wants it: strings bare, the rest as JSON. */
static void print_field(json_t *v)
{
	char *s;

	if (json_is_string(v)) {
		printf("%s\n", json_string_value(v));
		return;
	}
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	printf("%s\n", s ? s : "null");
	free(s);
}

static const struct lp_opt inspect_opts[] = {
	{ 'f', 'f', "format", "FIELD", "one field: a path (limits.memory) or {{.State.Pid}}" },
	{ 'f', 0, "field", "FIELD", "the same as --format" },
	{ 0 },
};

static int cmd_inspect(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_inspect = {
	.name = "inspect",
	.operands = "NAME...",
	.summary = "Show containers' configuration and state as JSON",
	.opts = inspect_opts,
	.fn = cmd_inspect,
};

static int cmd_inspect(int argc, char **argv, struct lp_globals *g)
{
	const char *field = NULL;
	struct lp_opts p;
	int opt, i, rc = 0;

	lp_opts_init(&p, &lp_doc_inspect, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0)
		field = p.arg;
	if (opt == LP_OPT_EXIT)
		return p.status;
	if (p.ind == argc)
		return lp_usage_error("inspect", "needs a container NAME");
	for (i = p.ind; i < argc; i++) {
		struct lp_err err = { 0 };
		struct lp_container ct;
		json_t *j, *v;
		char *s;

		if (lp_ct_load(&g->host, argv[i], &ct, &err) < 0) {
			rc = lp_cmd_fail("inspect", &err);
			continue;
		}
		j = container_json(&ct);
		lp_ct_free(&ct);
		if (!j) {
			fprintf(stderr, "limpet inspect: %s: out of memory\n", argv[i]);
			rc = 1;
		} else if (field && !(v = json_at(j, field))) {
			fprintf(stderr, "limpet inspect: %s has no field %s\n", argv[i], field);
			rc = 1;
		} else if (field) {
			print_field(v);
		} else {
			s = json_dumps(j, JSON_INDENT(2));
			printf("%s\n", s ? s : "{}");
			free(s);
		}
		json_decref(j);
	}
	return rc;
}

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

static const struct lp_opt logs_opts[] = {
	{ 'f', 'f', "follow", NULL, "keep printing what it writes, until it ends" },
	{ 'n', 'n', "tail", "N", "only the last N lines" },
	{ 0 },
};

static int cmd_logs(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_logs = {
	.name = "logs",
	.operands = "NAME",
	.summary = "Print the output of a container started with -d",
	.opts = logs_opts,
	.fn = cmd_logs,
};

static int cmd_logs(int argc, char **argv, struct lp_globals *g)
{
	struct lp_container ct;
	struct lp_err err = { 0 };
	struct lp_opts p;
	bool follow = false;
	long tail = -1;
	char *end;
	int opt, rc = 0, first;

	lp_opts_init(&p, &lp_doc_logs, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0) {
		if (opt == 'f') {
			follow = true;
		} else {
			tail = strtol(p.arg, &end, 10);
			if (*end || end == p.arg || tail < 0)
				return lp_usage_error("logs", "--tail %s: not a line count", p.arg);
		}
	}
	if (opt == LP_OPT_EXIT)
		return p.status;
	first = p.ind;
	if (first + 1 != argc)
		return lp_usage_error("logs", "needs exactly one container NAME");
	if (lp_ct_load(&g->host, argv[first], &ct, &err) < 0)
		return lp_cmd_fail("logs", &err);
	if (!ct.st.detached)
		fprintf(stderr, "limpet logs: %s ran in the foreground; its output went to the "
				"terminal\n", ct.cfg.name);
	else if (lp_log_print(ct.log_path, g->host.cfg.log_files, tail, &err) < 0 ||
		 (follow && lp_log_follow(ct.log_path, container_running, &ct, &err) < 0))
		rc = lp_cmd_fail("logs", &err);
	lp_ct_free(&ct);
	return rc;
}
