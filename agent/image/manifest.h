/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image indexes and manifests as JSON already in memory: what they may say
 * and which of an index's manifests is for a platform.  No I/O, so an
 * archive and a registry choose alike.
 */
#ifndef LIMPET_MANIFEST_H
#define LIMPET_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>

#include "platform/lib/err.h"

/* Whether an index entry's platform object is the platform "os/arch[/variant]". */
bool lp_platform_matches(json_t *p, const char *want);
/* Whether a descriptor names an image index (OCI) or manifest list (Docker). */
bool lp_manifest_is_index(json_t *desc);
/* A layer descriptor's media type must be one limpet unpacks. */
int lp_manifest_check_layer_type(json_t *desc, struct lp_err *err);

#endif
