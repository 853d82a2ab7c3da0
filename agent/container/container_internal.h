/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared between the parts of a container (container*.c): the path of a
 * file in its directory and the state.json reader.  Not an interface: the
 * rest of limpet goes through container.h.
 */
#ifndef LIMPET_CONTAINER_INTERNAL_H
#define LIMPET_CONTAINER_INTERNAL_H

#include <stddef.h>

#include "agent/container/container.h"
#include "platform/lib/err.h"

/* config.json, and the lowerdir file a start writes beside it */
#define CONFIG_MAX (1024 * 1024)

/* A container directory on its way out: renamed to this prefix, then removed. */
#define REMOVING ".removing-"
/* One being made: built under this prefix (and an id), then renamed to its name. */
#define CREATING ".creating-"

/* ROOT/containers/NAME/leaf into buf. */
int lp_ct_path(const struct lp_container *ct, const char *leaf, char *buf, size_t len,
	       struct lp_err *err);

/* ct->st from its state.json, as it is on disk now. */
int lp_ct_load_state(struct lp_container *ct, struct lp_err *err);

#endif
