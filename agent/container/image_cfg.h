/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LIMPET_IMAGE_CFG_H
#define LIMPET_IMAGE_CFG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/config/host.h"
#include "agent/spec/spec.h"

/* Who a container runs as: resolved in its root's /etc/passwd and /etc/group. */
struct lp_user {
	uint32_t uid, gid;
	char home[PATH_MAX];		/* from /etc/passwd; "/" when the user is not in it */
	gid_t groups[LP_GROUPS_MAX];	/* supplementary: the gid first, then its groups */
	size_t n_groups;
};

/* An image container's start-time view: what the image config filled in. */
struct lp_image_run {
	char *lowerdir;		/* overlay lower dirs, top layer first */
	char **argv;
	char **env;
	char *cwd;		/* NULL: the container's own (or "/") */
	struct lp_user user;
	bool exposes_ports;	/* ExposedPorts, which limpet does not publish */
};

int lp_image_resolve(const struct lp_host *host, const struct lp_container_cfg *c,
		     struct lp_image_run *r, struct lp_err *err);
void lp_image_run_free(struct lp_image_run *r);
#define cleanup_image_run __attribute__((cleanup(lp_image_run_free)))

/*
 * spec: "name", "uid", "name:group" or "uid:gid" (NULL or "": the uid and
 * gid already in u), looked up in the /etc/passwd and /etc/group of the
 * container's root (lowerdir: overlay lower dirs, top first), each read
 * inside its layer without following symlinks.  As Docker does it: a user
 * in /etc/passwd gets its gid and home, and, unless a group is given, the
 * groups that list it; a uid that is not there gets gid 0 (unless a group
 * is given) and HOME=/.
 */
int lp_resolve_user(const char *spec, const char *lowerdir, struct lp_user *u,
		    struct lp_err *err);

#endif
