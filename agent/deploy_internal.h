/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between the parts of the deployment switch (deploy*.c); not an interface. */
#ifndef LIMPET_DEPLOY_INTERNAL_H
#define LIMPET_DEPLOY_INTERNAL_H

#include "deploy.h"
#include "deploy_doc.h"
#include "deploy_state.h"

/* One progress line on stderr, after o->log_prefix. */
void lp_deploy_say(const struct lp_apply_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Pull and import every image d needs that the store does not have yet. */
enum lp_apply_result lp_deploy_pull_images(struct lp_globals *g, const struct lp_apply_opts *o,
					   const char *origin, const struct lp_deployment *d,
					   struct lp_err *err);

/* Remove gone's images that no kept deployment and no container uses, then their layers. */
void lp_deploy_drop_images(struct lp_globals *g, struct lp_dstate *ds, const char *prefix,
			   const struct lp_deployment *gone);

#endif
