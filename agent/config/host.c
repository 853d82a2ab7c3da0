// SPDX-License-Identifier: Apache-2.0
/* Where the core keeps its state on this host (host.h). */
#include "agent/config/host.h"

#include <errno.h>
#include <string.h>

#include "platform/lib/util.h"

int lp_host_trust(const struct lp_host *host, const char *const *extra, size_t n_extra,
		  struct lp_trust *t, struct lp_err *err)
{
	char **k;
	size_t i;

	lp_trust_init(t);
	for (i = 0; i < n_extra; i++)
		if (lp_trust_add_key(t, extra[i], err) < 0)
			goto fail;
	for (k = host->cfg.trusted_keys; k && *k; k++)
		if (lp_trust_add_key(t, *k, err) < 0)
			goto fail;
	return 0;
fail:
	lp_trust_free(t);
	return -1;
}

int lp_host_dirs(struct lp_host *host, const char *root_opt, struct lp_err *err)
{
	const char *root = root_opt ? root_opt : host->cfg.root;

	if (root[0] != '/')
		return lp_fail(err, EINVAL, "--root %s: must be an absolute path", root);
	if (lp_path(host->root, sizeof(host->root), err, "%s", root) < 0)
		return -1;
	if (host->cfg.run_dir && !root_opt)
		return lp_path(host->run_dir, sizeof(host->run_dir), err, "%s", host->cfg.run_dir);
	if (!root_opt && !strcmp(root, LP_DEFAULT_ROOT))
		return lp_path(host->run_dir, sizeof(host->run_dir), err, "%s", LP_DEFAULT_RUN_DIR);
	return lp_path(host->run_dir, sizeof(host->run_dir), err, "%s/run", root);
}
