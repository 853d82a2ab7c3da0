// SPDX-License-Identifier: Apache-2.0
/*
 * Container spec JSON (agent/spec/spec_json.c): the state file a container's
 * config is kept in, read back by ps, stop and a restarted agent.  What is
 * accepted must survive the round trip: written out and read back, it is
 * the same JSON.
 */
#include "tests/fuzz/fuzz.h"

#include "agent/spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cleanup_free char *text = fz_strndup(data, size);
	cleanup_free char *out = NULL, *again = NULL;
	struct lp_container_cfg c, back;
	struct lp_err err = { 0 };

	if (lp_container_cfg_from_json(text, &c, &err) < 0) {
		fz_check_err(&err);
		return 0;
	}
	out = lp_container_cfg_to_json(&c, &err);
	if (!out)
		fz_fail("accepted, but cannot be written back: %s", err.msg);
	if (lp_container_cfg_from_json(out, &back, &err) < 0)
		fz_fail("written as %s, which reads back as: %s", out, err.msg);
	again = lp_container_cfg_to_json(&back, &err);
	if (!again || strcmp(out, again))
		fz_fail("round trip changed %s into %s", out, again ? again : err.msg);
	lp_container_cfg_free(&back);
	lp_container_cfg_free(&c);
	return 0;
}
