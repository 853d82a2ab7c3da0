/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host the core works on: where its state lives and how it is
 * configured.  The CLI fills one in from its options and the config file
 * and hands it down; nothing below the CLI sees the command line (as crun's
 * libcrun takes a context, never its CLI's global arguments).
 */
#ifndef LIMPET_CONFIG_HOST_H
#define LIMPET_CONFIG_HOST_H

#include <limits.h>

#include "agent/config/config.h"
#include "agent/trust/trust.h"
#include "platform/lib/err.h"

struct lp_host {
	char root[PATH_MAX];		/* --root, else cfg.root */
	char run_dir[PATH_MAX];		/* cfg.run_dir, else /run/limpet or ROOT/run */
	struct lp_agent_config cfg;	/* loaded config (defaults if no file) */
};

/*
 * Settle root and run_dir from cfg and an optional --root (which wins over
 * cfg.root and then keeps run-time state beside it, as ROOT/run).
 */
int lp_host_dirs(struct lp_host *host, const char *root_opt, struct lp_err *err);

/*
 * The keys this host trusts: the n_extra PEM files a command was given
 * (--trust), then the config's trusted_keys.  A signature is credited to
 * the first that verifies it, so a key named on the command line is the
 * one reported.  On failure t is left empty.
 */
int lp_host_trust(const struct lp_host *host, const char *const *extra, size_t n_extra,
		  struct lp_trust *t, struct lp_err *err);

#endif
