// SPDX-License-Identifier: Apache-2.0
#include "agent/daemon/control.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "platform/lib/fdpass.h"
#include "platform/lib/util.h"

#define MSG_MAX (1024 * 1024)

/* A stream socket and the address of RUN_DIR/agent.sock; -1 on failure. */
static int control_socket(const struct lp_host *host, struct sockaddr_un *sa, struct lp_err *err)
{
	int fd;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (lp_path(sa->sun_path, sizeof(sa->sun_path), err, "%s/agent.sock", host->run_dir) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return lp_fail_errno(err, "control socket");
	return fd;
}

int lp_control_listen(const struct lp_host *host, struct lp_err *err)
{
	struct sockaddr_un sa;
	cleanup_fd int fd = control_socket(host, &sa, err);

	if (fd < 0)
		return -1;
	unlink(sa.sun_path); /* the caller holds the agent lock: a leftover is stale */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return lp_fail_errno(err, "bind %s", sa.sun_path);
	if (chmod(sa.sun_path, 0600) < 0)
		return lp_fail_errno(err, "chmod %s", sa.sun_path);
	if (listen(fd, 16) < 0)
		return lp_fail_errno(err, "listen %s", sa.sun_path);
	return steal_fd(&fd);
}

/* msg, and with its first byte pass_fd unless that is -1. */
static int send_msg(int fd, json_t *msg, int pass_fd, struct lp_err *err)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	size_t len, off = 0;

	if (!text)
		return lp_fail(err, ENOMEM, "control: cannot encode message");
	len = strlen(text);
	if (pass_fd >= 0 && lp_fd_send(fd, pass_fd, text, 1, err) < 0) {
		free(text);
		return lp_prefix(err, "control");
	}
	off = pass_fd >= 0 ? 1 : 0;
	while (off < len) {
		ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(text);
			return lp_fail_errno(err, "control: send");
		}
		off += (size_t)n;
	}
	free(text);
	shutdown(fd, SHUT_WR);
	return 0;
}

/* A message, and in *passed (if not NULL) the descriptor that came with it, or -1. */
static int receive_msg(int fd, json_t **msg, int *passed, struct lp_err *err)
{
	cleanup_free char *buf = malloc(MSG_MAX);
	cleanup_fd int got_fd = -1;
	size_t used = 0;
	json_error_t jerr;

	if (!buf)
		return lp_fail(err, ENOMEM, "control: out of memory");
	for (;;) {
		size_t n;
		int f;

		if (lp_fd_recv(fd, 0, buf + used, MSG_MAX - used, &n, &f, err) < 0)
			return lp_prefix(err, "control");
		if (f >= 0 && got_fd < 0)
			got_fd = f;
		else if (f >= 0)
			close(f);
		if (n == 0)
			break;
		used += n;
		if (used == MSG_MAX)
			return lp_fail(err, EMSGSIZE, "control: message over %d bytes", MSG_MAX);
	}
	*msg = json_loadb(buf, used, 0, &jerr);
	if (!*msg)
		return lp_fail(err, EINVAL, "control: bad message: %s", jerr.text);
	if (passed)
		*passed = steal_fd(&got_fd);
	return 0;
}

/* ---------------------------------------------------------------- server */

static json_t *refusal(const struct lp_err *err)
{
	return json_pack("{s:s, s:i}", "error", err->msg, "errno", err->code ? err->code : EIO);
}

static json_t *serve_run(const struct lp_agent_ops *ops, json_t *req)
{
	json_t *dep = json_object_get(req, "deployment");
	const char *dname = json_string_value(json_object_get(dep, "name"));
	json_int_t dversion = json_integer_value(json_object_get(dep, "version"));
	struct lp_container_cfg cfg;
	struct lp_err err = { 0 };

	if (!json_is_object(json_object_get(req, "config")))
		lp_fail(&err, EINVAL, "request has no config");
	else if (dep && (!dname || lp_name_valid(dname, NULL) < 0 || dversion < 1))
		lp_fail(&err, EINVAL, "request has a bad deployment");
	else if (lp_container_cfg_decode(json_object_get(req, "config"), &cfg, &err) == 0 &&
		 ops->run(ops->ctx, &cfg, json_is_true(json_object_get(req, "rm")), dname,
			  dversion, &err) == 0)
		return json_pack("{s:b}", "ok", 1);
	return refusal(&err);
}

/* start and remove: a stopped container, by name. */
static json_t *serve_stopped(const struct lp_agent_ops *ops, json_t *req, bool remove)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	struct lp_err err = { 0 };
	int rc;

	if (!name)
		lp_fail(&err, EINVAL, "request has no name");
	if (!name || lp_name_valid(name, &err) < 0)
		return refusal(&err);
	rc = remove ? ops->remove(ops->ctx, name, &err) : ops->start(ops->ctx, name, &err);
	return rc < 0 ? refusal(&err) : json_pack("{s:b}", "ok", 1);
}

/* attach: the reply carries the client's end of a new session on the container's terminal. */
static json_t *serve_attach(const struct lp_agent_ops *ops, json_t *req, int *session)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	json_int_t rows = json_integer_value(json_object_get(req, "rows"));
	json_int_t cols = json_integer_value(json_object_get(req, "cols"));
	struct lp_err err = { 0 };

	if (!ops->attach)
		lp_fail(&err, ENOTSUP, "attach is not served here");
	else if (!name)
		lp_fail(&err, EINVAL, "request has no name");
	else if (rows < 0 || rows > UINT16_MAX || cols < 0 || cols > UINT16_MAX)
		lp_fail(&err, EINVAL, "request has a bad terminal size");
	if (!name || err.code || lp_name_valid(name, &err) < 0)
		return refusal(&err);
	*session = ops->attach(ops->ctx, name, (unsigned short)rows, (unsigned short)cols, &err);
	return *session < 0 ? refusal(&err) : json_pack("{s:b}", "ok", 1);
}

void lp_control_serve(int conn, const struct lp_agent_ops *ops, const char *log_prefix)
{
	struct lp_err err = { 0 };
	json_t *req = NULL, *reply;
	cleanup_fd int session = -1;
	const char *op;

	if (receive_msg(conn, &req, NULL, &err) < 0) {
		lp_say(log_prefix, "%s", err.msg);
		return;
	}
	op = json_string_value(json_object_get(req, "op"));
	if (op && !strcmp(op, "run"))
		reply = serve_run(ops, req);
	else if (op && (!strcmp(op, "start") || !strcmp(op, "remove")))
		reply = serve_stopped(ops, req, !strcmp(op, "remove"));
	else if (op && !strcmp(op, "attach"))
		reply = serve_attach(ops, req, &session);
	else if (op && !strcmp(op, "ping"))
		reply = json_pack("{s:b, s:i}", "ok", 1, "pid", (int)getpid());
	else
		reply = json_pack("{s:s, s:i}", "error", "unknown request", "errno", EINVAL);
	if (reply && send_msg(conn, reply, session, &err) < 0)
		lp_say(log_prefix, "%s", err.msg);
	json_decref(reply);
	json_decref(req);
}

/* ---------------------------------------------------------------- client */

/*
 * Send req (taken over: NULL is out of memory) and read the reply into
 * *reply, and the descriptor it carried into *passed (if not NULL).
 */
static int call_fd(const struct lp_host *host, json_t *req, json_t **reply, int *passed,
		   struct lp_err *err)
{
	struct sockaddr_un sa;
	cleanup_fd int fd = -1;
	const char *msg;
	int rc;

	*reply = NULL;
	if (!req)
		return lp_fail(err, ENOMEM, "control: out of memory");
	fd = control_socket(host, &sa, err);
	if (fd < 0) {
		json_decref(req);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		json_decref(req);
		if (errno == ENOENT || errno == ECONNREFUSED)
			return lp_fail(err, ENOTCONN,
				       "no agent is running for %s (start `limpet agent`)",
				       host->root);
		return lp_fail_errno(err, "connect %s", sa.sun_path);
	}
	rc = send_msg(fd, req, -1, err);
	json_decref(req);
	if (rc == 0)
		rc = receive_msg(fd, reply, passed, err);
	if (rc < 0) {
		/* It died between our request and its reply (a crash, a kill -9). */
		err->code = ENOTCONN;
		return lp_prefix(err, "the agent went away");
	}
	msg = json_string_value(json_object_get(*reply, "error"));
	if (msg) {
		json_int_t code = json_integer_value(json_object_get(*reply, "errno"));

		/* an agent from before errno was sent says EIO */
		rc = lp_fail(err, code > 0 && code < 4096 ? (int)code : EIO, "%s", msg);
		json_decref(*reply);
		*reply = NULL;
		if (passed && *passed >= 0) {
			close(*passed);
			*passed = -1;
		}
	}
	return rc;
}

static int call(const struct lp_host *host, json_t *req, json_t **reply, struct lp_err *err)
{
	return call_fd(host, req, reply, NULL, err);
}

static int call_done(const struct lp_host *host, json_t *req, struct lp_err *err)
{
	json_t *reply;

	if (call(host, req, &reply, err) < 0)
		return -1;
	json_decref(reply);
	return 0;
}

int lp_agent_ping(const struct lp_host *host, pid_t *pid, struct lp_err *err)
{
	json_t *reply;

	if (call(host, json_pack("{s:s}", "op", "ping"), &reply, err) < 0)
		return -1;
	if (pid)
		*pid = (pid_t)json_integer_value(json_object_get(reply, "pid"));
	json_decref(reply);
	return 0;
}

int lp_agent_run(const struct lp_host *host, const struct lp_container_cfg *cfg, bool remove,
		 const char *deploy_name, int64_t deploy_version, struct lp_err *err)
{
	json_t *jcfg = lp_container_cfg_encode(cfg, err), *req;

	if (!jcfg)
		return -1;
	if (deploy_name)
		req = json_pack("{s:s, s:o, s:b, s:{s:s, s:I}}", "op", "run", "config", jcfg, "rm",
				remove, "deployment", "name", deploy_name, "version",
				(json_int_t)deploy_version);
	else
		req = json_pack("{s:s, s:o, s:b}", "op", "run", "config", jcfg, "rm", remove);
	return call_done(host, req, err);
}

int lp_agent_start(const struct lp_host *host, const char *name, struct lp_err *err)
{
	return call_done(host, json_pack("{s:s, s:s}", "op", "start", "name", name), err);
}

int lp_agent_remove(const struct lp_host *host, const char *name, struct lp_err *err)
{
	return call_done(host, json_pack("{s:s, s:s}", "op", "remove", "name", name), err);
}

int lp_agent_attach(const struct lp_host *host, const char *name, unsigned short rows,
		    unsigned short cols, struct lp_err *err)
{
	json_t *req = json_pack("{s:s, s:s, s:i, s:i}", "op", "attach", "name", name, "rows",
				(int)rows, "cols", (int)cols);
	json_t *reply;
	int session = -1;

	if (call_fd(host, req, &reply, &session, err) < 0)
		return -1;
	json_decref(reply);
	if (session < 0)
		return lp_fail(err, EPROTO, "the agent sent no session (an older agent?)");
	return session;
}
