/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device's status report: what the fleet poller PUTs to
 * fleet.status_url and what a USB stick gets in limpet/status/.
 */
#ifndef LIMPET_DEPLOY_STATUS_H
#define LIMPET_DEPLOY_STATUS_H

#include <jansson.h>
#include <stdbool.h>

#include "agent/config/host.h"

/*
 * Device, groups, agent version, board, the deployment (current, previous,
 * last result, containers) and last_error (NULL: none); with
 * volatile_fields, also time, uptime and free disk.  Without them, two
 * reports are equal when nothing changed but the clock.
 */
json_t *lp_status_report(const struct lp_host *host, const char *board_model,
			 const char *last_error, bool volatile_fields);

#endif
