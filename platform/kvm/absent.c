// SPDX-License-Identifier: Apache-2.0
/* A build without a VMM (CONFIG_KVM off, or an architecture limpet has none for). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "platform/vm.h"

#if defined(CONFIG_KVM)
#define WHY "limpet has no VMM for this architecture"
#else
#define WHY "this limpet was built without KVM support (CONFIG_KVM)"
#endif

int lp_vm_probe(struct lp_vm_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	snprintf(caps->why, sizeof(caps->why), "%s", WHY);
	return -1;
}

int lp_vm_probe_guest(struct lp_err *err)
{
	return lp_fail(err, ENOTSUP, "%s", WHY);
}

int lp_vm_run(const struct lp_vm_config *cfg, struct lp_vm_result *res, struct lp_err *err)
{
	(void)cfg;
	memset(res, 0, sizeof(*res));
	res->end = LP_VM_FAILED;
	return lp_fail(err, ENOTSUP, "%s", WHY);
}
