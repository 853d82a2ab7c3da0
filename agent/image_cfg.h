/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LIMPET_IMAGE_CFG_H
#define LIMPET_IMAGE_CFG_H

#include <stdint.h>

#include "cli.h"
#include "spec.h"

/* An image container's start-time view: what the image config filled in. */
struct lp_image_run {
	char *lowerdir;		/* overlay lower dirs, top layer first */
	char **argv;
	char **env;
	char *cwd;		/* NULL: the container's own (or "/") */
	uint32_t uid, gid;
};

int lp_image_resolve(struct lp_globals *g, const struct lp_container_cfg *c,
		     struct lp_image_run *r, struct lp_err *err);
void lp_image_run_free(struct lp_image_run *r);

/*
 * "name", "uid", "name:group" or "uid:gid", looked up in the /etc/passwd and
 * /etc/group of the container's root (lowerdir: overlay lower dirs, top first).
 */
int lp_resolve_user(const char *spec, const char *lowerdir, uint32_t *uid, uint32_t *gid,
		    struct lp_err *err);

#endif
