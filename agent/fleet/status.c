// SPDX-License-Identifier: Apache-2.0
/* The device's status report (status.h), sent by the fleet poller and written to sticks. */
#include "agent/fleet/status.h"

#include <sys/statvfs.h>
#include <sys/sysinfo.h>

#include "agent/deploy/deploy.h"
#include "agent/deploy/deploy_doc.h"
#include "platform/lib/util.h"

json_t *lp_status_report(const struct lp_host *host, const char *board_model,
			 const char *last_error, bool volatile_fields)
{
	const struct lp_fleet_config *f = &host->cfg.fleet;
	json_t *j, *groups = json_array();
	char **k;

	for (k = f->groups; k && *k; k++)
		json_array_append_new(groups, json_string(*k));
	j = json_pack("{s:s, s:o, s:s, s:s, s:o, s:s?}", "device", f->device_id, "groups", groups,
		      "agent_version", LIMPET_VERSION, "board", board_model, "deployment",
		      lp_deploy_status(host), "last_error", last_error);
	if (j && volatile_fields) {
		struct statvfs vfs;
		struct sysinfo si;
		char now[LP_RFC3339_LEN];

		lp_rfc3339_format(lp_wall_s(), now);
		json_object_set_new(j, "time", json_string(now));
		if (sysinfo(&si) == 0)
			json_object_set_new(j, "uptime_s", json_integer(si.uptime));
		if (statvfs(host->root, &vfs) == 0)
			json_object_set_new(j, "disk_free_bytes",
					    json_integer((json_int_t)vfs.f_bavail *
							 (json_int_t)vfs.f_frsize));
	}
	return j;
}
