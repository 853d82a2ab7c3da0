// SPDX-License-Identifier: Apache-2.0
/*
 * The agent config (agent/config/config*.c): libconfig reads the file, limpet turns
 * it into a checked struct.  The input is the file.  Every container a
 * config is accepted with must be one the agent can save as its state.
 */
#include "tests/fuzz/fuzz.h"

#include "agent/config/config.h"
#include "agent/spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lp_agent_config cfg;
	struct lp_err err = { 0 };
	const char *path;
	size_t i;

	/* An include reads another file (even a FIFO or /dev/zero): not the parser's bytes. */
	if (memmem(data, size, "@include", strlen("@include")))
		return 0;
	path = fz_write("limpet.conf", data, size);
	if (lp_config_load(path, 1, &cfg, &err) < 0) {
		fz_check_err(&err);
		return 0;
	}
	if (!cfg.root || cfg.root[0] != '/' || !cfg.trusted_keys || !cfg.fleet.groups ||
	    cfg.log_files < 1 || cfg.log_max_size < 1 || cfg.stop_timeout_ms < 0)
		fz_fail("accepted with a missing or out of range setting");
	for (i = 0; i < cfg.n_containers; i++) {
		cleanup_free char *json = lp_container_cfg_to_json(&cfg.containers[i], &err);

		if (!json)
			fz_fail("container %s accepted, but cannot be saved: %s",
				cfg.containers[i].name, err.msg);
	}
	lp_config_free(&cfg);
	return 0;
}
