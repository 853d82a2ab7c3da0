/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's control socket (RUN_DIR/agent.sock, root only): one JSON
 * request per connection, one JSON reply.  `run -d` uses it so that the
 * agent, which supervises, is the one that starts the container.
 */
#ifndef LIMPET_CONTROL_H
#define LIMPET_CONTROL_H

#include <jansson.h>

#include "agent/config/host.h"

int lp_control_listen(const struct lp_host *host, struct lp_err *err);
/* Send req, wait for the reply; ENOENT/ECONNREFUSED mean no agent runs. */
int lp_control_call(const struct lp_host *host, json_t *req, json_t **reply, struct lp_err *err);
int lp_control_read(int fd, json_t **msg, struct lp_err *err);
int lp_control_write(int fd, json_t *msg, struct lp_err *err);

#endif
