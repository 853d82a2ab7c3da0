/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who holds what in the image store.  Every container (running or not), every
 * container of the agent config and every container of a kept deployment
 * (current, previous, a switch in progress) holds the image it names; a
 * running container also holds the layers it was started with, which a later
 * import under the same name may no longer list.  image rm, image gc and the
 * deployment code that drops images all ask here, so none of them misses a
 * kind of holder.
 */
#ifndef LIMPET_IMAGE_USE_H
#define LIMPET_IMAGE_USE_H

#include "agent/config/host.h"
#include "agent/deploy/deploy_state.h"

struct lp_image_use {
	char **images;		/* stored names (lp_store_resolve), NULL-terminated */
	char **holders;		/* holders[i] holds images[i]: "container web" */
	char **layers;		/* diff_id hex of running containers' layers, NULL-ended */
};

/* ds: the deployments, when the caller holds them open; NULL: read them here. */
int lp_image_use_collect(const struct lp_host *host, const struct lp_dstate *ds,
			 struct lp_image_use *u, struct lp_err *err);
/* Who holds the image stored as `stored` ("container web"), or NULL. */
const char *lp_image_use_holder(const struct lp_image_use *u, const char *stored);
void lp_image_use_free(struct lp_image_use *u);

#endif
