/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet poller: the agent's helper process when fleet.server is set.
 * It GETs SERVER/deployment.json with If-None-Match (an unchanged document
 * costs a 304 and no parsing), applies a new one through lp_deploy_apply,
 * and PUTs a status report after every change and every
 * fleet.status_interval.  Between polls it sleeps: no CPU when idle.
 * Failures back off exponentially (with jitter) up to 16 poll intervals.
 */
#ifndef LIMPET_FLEET_H
#define LIMPET_FLEET_H

#include <jansson.h>
#include <stdint.h>

#include "agent/config/host.h"

/*
 * The agent's updater process: poll the fleet server (when fleet.server is
 * set) and watch for USB sticks (usb.enabled) until killed (SIGTERM).
 * Returns only when it cannot start.
 */
int lp_fleet_run(const struct lp_host *host, struct lp_err *err);

/* Milliseconds to wait after `failures` failed polls in a row (0: a normal poll). */
int64_t lp_fleet_delay_ms(int64_t interval_ms, int64_t jitter_ms, int failures,
			  uint32_t random);

#endif
