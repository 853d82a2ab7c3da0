/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by unpack.c (the chain that hands a layer's tar over: stored
 * bytes, decompressing thread, hashes) and unpack_extract.c (its entries
 * through limpet's rules onto disk).  Not an interface: unpack.h is.
 */
#ifndef LIMPET_UNPACK_INTERNAL_H
#define LIMPET_UNPACK_INTERNAL_H

#include "agent/image/unpack.h"

/* Extract every entry of tar into the layer directory (an fd; also the cwd). */
int lp_unpack_extract(struct archive *tar, int layer, const struct lp_unpack_limits *lim,
		      struct lp_layer_result *res, struct lp_err *err);

#endif
