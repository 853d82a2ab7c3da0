// SPDX-License-Identifier: Apache-2.0
/*
 * ps and inspect: what limpet knows of its containers, read from the state
 * directory (so they answer whether or not an agent runs).  Both show the
 * same JSON: the state, and the whole configuration it runs with.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/container/container.h"
#include "platform/lib/util.h"
#include "agent/spec/parse.h"

/* A limit as a number, or null where there is none (0 means unlimited). */
static json_t *limit(int64_t v)
{
	return v ? json_integer((json_int_t)v) : json_null();
}

/*
 * The state, and under "config" the whole configuration it runs with (the
 * JSON config.json holds).  What is not known is null, never a made-up 0:
 * the pid of a container that is not running, an exit nobody saw.
 */
static json_t *container_json(const struct lp_container *ct)
{
	const struct lp_container_cfg *c = &ct->cfg;
	json_t *cmd = json_array(), *j, *config;
	struct lp_err err;
	char **a;
	bool known = lp_ct_exit_known(ct), alive = lp_ct_alive(ct);

	for (a = c->argv; a && *a; a++)
		json_array_append_new(cmd, json_string(*a));
	config = lp_container_cfg_encode(c, &err);
	j = json_pack("{s:s, s:s, s:s, s:b, s:o, s:o, s:o, s:b, s:i, s:I, s:I, s:s, s:s?, s:s?, s:o,"
		      " s:{s:o, s:o, s:o, s:o, s:o}, s:s, s:b, s:o}",
		      "name", c->name, "id", ct->st.id, "status", lp_ct_status_name(ct), "running",
		      alive, "pid", alive ? json_integer(ct->st.pid) : json_null(), "exit_code",
		      known ? json_integer(ct->st.exit_code) : json_null(), "signal",
		      known ? json_integer(ct->st.signal) : json_null(), "oom_killed",
		      ct->st.oom_killed, "restarts", ct->st.restarts, "started_at",
		      (json_int_t)ct->st.started_at, "finished_at", (json_int_t)ct->st.finished_at,
		      "cgroup", ct->st.cgroup, "rootfs", c->rootfs, "image", c->image, "command",
		      cmd, "limits", "memory", limit(c->limits.memory), "cpu_quota",
		      limit(c->limits.cpu_quota), "cpu_period", limit(c->limits.cpu_period),
		      "cpu_weight", limit(c->limits.cpu_weight), "pids", limit(c->limits.pids),
		      "isolation", lp_isolation_name(c->isolation), "vm", ct->st.vm, "config",
		      config ? config : json_null());
	if (j && ct->st.deploy_version)
		json_object_set_new(j, "deployment",
				    json_pack("{s:s, s:I}", "name", ct->st.deploy_name, "version",
					      (json_int_t)ct->st.deploy_version));
	return j;
}

/* A column's text, on one line and cut short. */
static void column(char *buf, size_t len, size_t width)
{
	char *p;

	for (p = buf; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	if (strlen(buf) > width && width >= 3 && width < len)
		strcpy(buf + width - 3, "...");
}

/* IMAGE: the image, or the root directory it runs from. */
static void image_text(const struct lp_container *ct, char *buf, size_t len)
{
	snprintf(buf, len, "%s", ct->cfg.image ? ct->cfg.image : ct->cfg.rootfs);
	column(buf, len, 24);
}

/* COMMAND: what it runs, as given (empty: the image's own). */
static void command_text(const struct lp_container *ct, char *buf, size_t len)
{
	char **a;
	size_t n = 0;

	buf[0] = '\0';
	for (a = ct->cfg.argv; a && *a && n < len; a++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? " " : "", *a);
	column(buf, len, 40);
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
		printf("%-20s %-12s %-8s %-8s %-24s %s\n", "NAME", "STATUS", "PID", "RESTARTS",
		       "IMAGE", "COMMAND");
	for (i = 0; i < n; i++) {
		struct lp_container ct;
		char status[32], image[128], command[128], pid[16];

		if (lp_ct_load(&g->host, names[i], &ct, &err) < 0) {
			fprintf(stderr, "limpet ps: %s\n", err.msg);
			continue;
		}
		if (as_json) {
			json_array_append_new(all, container_json(&ct));
		} else {
			status_text(&ct, status, sizeof(status));
			image_text(&ct, image, sizeof(image));
			command_text(&ct, command, sizeof(command));
			snprintf(pid, sizeof(pid), "%d", (int)ct.st.pid);
			printf("%-20s %-12s %-8s %-8d %-24s %s\n", ct.cfg.name, status,
			       lp_ct_alive(&ct) ? pid : "-", ct.st.restarts, image, command);
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

/* Docker's names for the fields its users ask for most, and where limpet keeps them. */
static const struct {
	const char *docker, *path;
} docker_fields[] = {
	{ ".Name", "name" },
	{ ".Id", "id" },
	{ ".ID", "id" },
	{ ".State.Status", "status" },
	{ ".State.Running", "running" },
	{ ".State.Pid", "pid" },
	{ ".State.ExitCode", "exit_code" },
	{ ".State.OOMKilled", "oom_killed" },
	{ ".State.StartedAt", "started_at" },
	{ ".State.FinishedAt", "finished_at" },
	{ ".RestartCount", "restarts" },
	{ ".Image", "image" },
	{ ".Config.Image", "image" },
	{ ".Config.Cmd", "command" },
	{ ".Config.Env", "config.env" },
	{ ".Config.Hostname", "config.hostname" },
	{ ".Config.User", "config.user" },
	{ ".Config.WorkingDir", "config.workdir" },
	{ ".Config.Tty", "config.tty" },
	{ ".Config.OpenStdin", "config.interactive" },
	{ ".HostConfig.Memory", "limits.memory" },
	{ ".HostConfig.PidsLimit", "limits.pids" },
	{ ".HostConfig.NetworkMode", "config.net" },
	{ ".HostConfig.ReadonlyRootfs", "config.read_only" },
	{ ".HostConfig.Init", "config.init" },
	{ ".HostConfig.RestartPolicy.Name", "config.restart.policy" },
	{ ".HostConfig.RestartPolicy.MaximumRetryCount", "config.restart.max_retries" },
};

static const char *skip_spaces(const char *s)
{
	while (*s == ' ')
		s++;
	return s;
}

/*
 * -f FORMAT into a path of limpet's JSON: a path as it is ("limits.memory"),
 * or one Go-template action as Docker users type it: {{.State.Pid}},
 * {{.limits.memory}}, {{json .Config.Env}} (then *as_json).
 */
static int format_path(const char *format, char *path, size_t len, bool *as_json,
		       struct lp_err *err)
{
	const char *s = skip_spaces(format), *end;
	size_t n, i;

	*as_json = false;
	if (strncmp(s, "{{", 2)) {
		snprintf(path, len, "%s", format);
		return 0;
	}
	s = skip_spaces(s + 2);
	if (!strncmp(s, "json ", 5)) {
		*as_json = true;
		s = skip_spaces(s + 5);
	}
	end = strstr(s, "}}");
	if (!end || *skip_spaces(end + 2) || *s != '.')
		return lp_fail(err, EINVAL, "'%s': only {{.Field}} and {{json .Field}} are understood",
			       format);
	n = (size_t)(end - s);
	while (n && s[n - 1] == ' ')
		n--;
	for (i = 0; i < ARRAY_SIZE(docker_fields); i++)
		if (strlen(docker_fields[i].docker) == n && !strncmp(docker_fields[i].docker, s, n)) {
			snprintf(path, len, "%s", docker_fields[i].path);
			return 0;
		}
	if (n - 1 >= len)
		return lp_fail(err, ENAMETOOLONG, "'%s': too long", format);
	snprintf(path, len, "%.*s", (int)n - 1, s + 1);
	return 0;
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
	char path[256];
	struct lp_opts p;
	bool as_json = false;
	int opt, i, rc = 0;

	lp_opts_init(&p, &lp_doc_inspect, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0) {
		struct lp_err err = { 0 };

		if (format_path(p.arg, path, sizeof(path), &as_json, &err) < 0)
			return lp_usage_error("inspect", "-f %s", err.msg);
		field = path;
	}
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
		} else if (field && as_json) {
			s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
			printf("%s\n", s ? s : "null");
			free(s);
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
