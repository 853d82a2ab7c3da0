/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's control socket (RUN_DIR/agent.sock, root only): one JSON
 * request per connection, one JSON reply.  `run -d` and deployments use it
 * so that the agent, which supervises, is the one that starts a container.
 *
 * Requests: {"op":"run","config":{...},"rm":bool,"deployment":{"name","version"}},
 * {"op":"start"|"remove","name":N}, {"op":"attach","name":N,"rows":R,"cols":C},
 * {"op":"ping"}.  Replies: {"ok":true} (ping adds "pid"; attach's carries
 * the client's end of the session, agent/daemon/console.h, as SCM_RIGHTS),
 * or {"error":MESSAGE,"errno":E}.
 */
#ifndef LIMPET_CONTROL_H
#define LIMPET_CONTROL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/config/host.h"
#include "agent/spec/spec.h"

/*
 * What the agent does for each request.  The server calls these; so does
 * the agent's own start-up recovery, which acts on its supervisor directly.
 */
struct lp_agent_ops {
	/* Create and supervise cfg's container, taking cfg over (deploy_name NULL: no deployment's). */
	int (*run)(void *ctx, struct lp_container_cfg *cfg, bool remove, const char *deploy_name,
		   int64_t deploy_version, struct lp_err *err);
	/* Start a stopped container again (a deployment rolling back). */
	int (*start)(void *ctx, const char *name, struct lp_err *err);
	/* Delete a stopped container (a deployment done with it); EALREADY while it runs. */
	int (*remove)(void *ctx, const char *name, struct lp_err *err);
	/* A session on the running container's terminal: the client's end, or -1. */
	int (*attach)(void *ctx, const char *name, unsigned short rows, unsigned short cols,
		      struct lp_err *err);
	void *ctx;
};

/* ---------------------------------------------------------------- the server */

int lp_control_listen(const struct lp_host *host, struct lp_err *err);
/* Answer the one request on conn (accepted from the listening socket); problems are logged. */
void lp_control_serve(int conn, const struct lp_agent_ops *ops, const char *log_prefix);

/* ---------------------------------------------------------------- the client */

/*
 * One call per request.  The agent's refusal comes back in err with the
 * errno it failed with; no agent running, or one that went away before it
 * replied, is ENOTCONN.
 */
int lp_agent_ping(const struct lp_host *host, pid_t *pid, struct lp_err *err);
int lp_agent_run(const struct lp_host *host, const struct lp_container_cfg *cfg, bool remove,
		 const char *deploy_name, int64_t deploy_version, struct lp_err *err);
int lp_agent_start(const struct lp_host *host, const char *name, struct lp_err *err);
int lp_agent_remove(const struct lp_host *host, const char *name, struct lp_err *err);
/* A session on the terminal of the running container name: the socket, or -1 with err. */
int lp_agent_attach(const struct lp_host *host, const char *name, unsigned short rows,
		    unsigned short cols, struct lp_err *err);

#endif
