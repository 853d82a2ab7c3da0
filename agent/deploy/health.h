/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Is a freshly started container healthy?  Used by the deployment switch
 * before it lets an old container go: either its probe succeeds inside the
 * container, or (without a probe) it is still running, unrestarted, after
 * its start period.
 */
#ifndef LIMPET_HEALTH_H
#define LIMPET_HEALTH_H

#include "agent/config/host.h"
#include "agent/container/container.h"
#include "agent/deploy/deploy_doc.h"

/*
 * Run argv once inside the running container ct, as `limpet exec` would
 * (its environment and working directory), with its output captured.  0:
 * it exited 0 within timeout_ms.  Otherwise the message says how it
 * failed, with the last line it printed.
 */
int lp_health_probe(const struct lp_host *host, const struct lp_container *ct, char *const *argv,
		    int64_t timeout_ms, struct lp_err *err);

/*
 * Wait until container name is healthy by h: the first successful probe, or
 * without a probe the end of the start period.  It fails when the container
 * exits or is restarted meanwhile, or when h->retries probes in a row fail
 * after the start period.
 */
int lp_health_wait(const struct lp_host *host, const char *name, const struct lp_health *h,
		   struct lp_err *err);

#endif
