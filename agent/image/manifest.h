/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image indexes, manifests and configs as JSON already in memory: what they
 * may say, and which of an index's manifests is for a platform.  No I/O (a
 * nested index comes through the caller's loader), so an archive import and
 * a registry pull check and choose alike.
 */
#ifndef LIMPET_MANIFEST_H
#define LIMPET_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform/lib/err.h"

#define LP_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define LP_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define LP_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define LP_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define LP_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define LP_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
/* What a manifest request accepts: never schema 1, which a registry would rewrite to. */
#define LP_MANIFEST_ACCEPT                                                                        \
	LP_MT_OCI_INDEX ", " LP_MT_OCI_MANIFEST ", " LP_MT_DOCKER_LIST ", " LP_MT_DOCKER_MANIFEST

/* Caps (c/image's iolimits): a manifest or index, a config; layers of one image. */
#define LP_MANIFEST_MAX (4u << 20)
#define LP_CONFIG_MAX (4u << 20)
#define LP_MANIFEST_LAYERS_MAX 128
/* Indexes within indexes, the top one included. */
#define LP_INDEX_DEPTH_MAX 4

/* ---------------------------------------------------------------- platforms */

struct lp_platform {
	char os[32];
	char arch[32];
	char variant[32];	/* "" when none */
};

#define LP_PLATFORM_WANTED_MAX 6

/* The platforms an index entry may be for, best first (c/image's WantedPlatforms). */
struct lp_platform_want {
	struct lp_platform v[LP_PLATFORM_WANTED_MAX];
	size_t n;
	char name[96];		/* as asked, for messages */
	bool this_host;		/* not asked: this board's */
};

/*
 * From "os/arch[/variant]" (NULL: lp_board_platform()).  No variant: "" then
 * every known one (arm64: "", v8); a variant: it, the older ones of its
 * architecture, then "" (arm/v7: v7, v6, v5, ""; amd64/v3: v3, "").  Only
 * the architecture asked: an arm64 host never takes an arm image.
 */
int lp_platform_want(struct lp_platform_want *w, const char *platform, struct lp_err *err);

/* ---------------------------------------------------------------- documents */

/* A manifest, index or config received as bytes: one JSON object, no key twice. */
json_t *lp_manifest_parse(const void *buf, size_t len, struct lp_err *err);

enum lp_manifest_kind {
	LP_MANIFEST_IMAGE,	/* an image manifest: config and layers */
	LP_MANIFEST_INDEX,	/* an image index or Docker manifest list */
};

/*
 * What doc is: schemaVersion 2, and its own mediaType, if it says one, the
 * same as served_as (a registry's Content-Type, parameters ignored, or the
 * mediaType of the descriptor that named it; NULL: not known).  Schema 1
 * and types other than the four above are refused.
 */
int lp_manifest_kind(json_t *doc, const char *served_as, enum lp_manifest_kind *kind,
		     struct lp_err *err);

struct lp_descriptor {
	const char *media_type;		/* borrowed from the JSON */
	unsigned char digest[32];	/* sha256 */
	uint64_t size;
};

/* A descriptor: mediaType, a sha256 digest, a size of 0 to max bytes. */
int lp_descriptor_check(json_t *desc, uint64_t max, struct lp_descriptor *d, struct lp_err *err);

struct lp_manifest {
	struct lp_descriptor config;
	struct lp_descriptor layers[LP_MANIFEST_LAYERS_MAX];	/* bottom first */
	size_t n_layers;
	uint64_t layers_size;		/* of the blobs as stored */
};

/*
 * An image manifest (lp_manifest_kind's rules, then): a config descriptor
 * of an image config type, at most LP_MANIFEST_LAYERS_MAX layers of the
 * media types limpet unpacks (tar, gzip, zstd; foreign layers refused).
 */
int lp_manifest_check(json_t *doc, const char *served_as, struct lp_manifest *m,
		      struct lp_err *err);

/*
 * An image config for the platform wanted (its os and architecture: the
 * variant is not always said), with one rootfs.diff_ids entry per layer;
 * diff_ids (n_layers of them; may be NULL) receives them.
 */
int lp_config_check(json_t *cfg, const struct lp_platform_want *w, size_t n_layers,
		    unsigned char (*diff_ids)[32], struct lp_err *err);

/* ---------------------------------------------------------------- choosing */

struct lp_index_pick {
	const struct lp_platform_want *want;
	/*
	 * The index a nested entry names, checked against the entry's digest
	 * and size (a new reference; NULL and err on failure).
	 */
	json_t *(*load)(void *ctx, json_t *desc, struct lp_err *err);
	/* Of the top index, only the entries this keeps (NULL: all). */
	bool (*keep)(void *ctx, json_t *desc);
	void *ctx;
};

/*
 * The descriptor (a new reference) of the image manifest for the first
 * wanted platform an entry is for exactly (os, architecture, variant), the
 * first such entry in the index's order, descending into nested indexes.
 * An entry that says no platform is taken only as an index's one entry.
 * *top (may be NULL) is the top index's entry on the way (borrowed).
 * The error (ENOEXEC, as for an image of another platform) says what there
 * is: "no image for linux/arm64 (this host), only for linux/amd64, linux/arm/v7".
 */
json_t *lp_index_pick(json_t *index, const struct lp_index_pick *p, json_t **top,
		      struct lp_err *err);

#endif
