/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Volumes on disk: ROOT/volumes/NAME, a directory that containers see at
 * the paths their configs give; ROOT/volumes is root's alone (0700), so no
 * other local user reaches a volume by its name.  It is made when a container using it
 * starts (or by `limpet volume create`), and removing containers never removes it: the data outlives them
 * and their updates.  Only `limpet volume rm` does, while no container uses it.
 */
#ifndef LIMPET_VOLUME_H
#define LIMPET_VOLUME_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/config/host.h"
#include "platform/runtime.h"
#include "agent/spec/spec.h"

/* ROOT/volumes/NAME into buf; the name is checked. */
int lp_volume_dir(const struct lp_host *host, const char *name, char *buf, size_t len,
		  struct lp_err *err);

/*
 * limpet volume create: ROOT/volumes/NAME made now as a container's first use
 * would make it (0755), belonging to uid:gid (host ids).  One that exists is
 * left as it is, but with same_owner it must belong to uid:gid already
 * (EEXIST, saying whose it is).
 */
int lp_volume_create(const struct lp_host *host, const char *name, uid_t uid, gid_t gid,
		     bool same_owner, struct lp_err *err);

/*
 * The binds that put cfg's volumes in place, each directory made (0755)
 * if missing.  A new one belongs to the user the container runs as (uid and
 * gid as the container sees them), through cfg's user namespace if it has
 * one: the first container to use a volume can write to it.  *binds (NULL
 * when there are none) is freed with lp_volume_binds_free.
 */
int lp_volume_binds(const struct lp_host *host, const struct lp_container_cfg *cfg, uid_t uid,
		    gid_t gid, struct lp_bind **binds, struct lp_err *err);
void lp_volume_binds_free(struct lp_bind *binds, size_t n);

#endif
