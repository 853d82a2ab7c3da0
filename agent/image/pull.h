/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pulling an image from an OCI registry into the store.
 *
 * 1. The reference resolves to a manifest (through an index, for this
 *    board's platform), all of it checked by digest, and the image is
 *    trusted before any layer is fetched: a signed deployment pinned its
 *    digest, or a cosign signature (the sha256-<digest>.sig tag) verifies
 *    with a trusted key and names that digest and this reference.
 * 2. The config follows (digest checked); a layer whose diff_id is in the
 *    store already is not fetched at all.
 * 3. The other layers download one after another into
 *    ROOT/downloads/blobs/ (resumable, cut off at their size, hashed as
 *    they arrive), while the layer before is unpacked into staging; only a
 *    blob whose digest matched is unpacked, and its tar must hash to the
 *    config's diff_id.
 * 4. Only then do the layers and the image record become visible.
 *
 * A registry's mirrors are asked first for what is named by digest (every
 * manifest below a tag, the config, every blob), each object falling back
 * to the next mirror and then to the registry itself on any failure.  A
 * tag resolves at the registry (unless the host's mirror_tags allows a
 * mirror), so a stale mirror cannot roll an image back.  Digests make a
 * mirror's bytes as good as the registry's; the signature's identity is
 * still the reference as written.
 */
#ifndef LIMPET_PULL_H
#define LIMPET_PULL_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/config/config.h"
#include "agent/config/host.h"
#include "agent/fetch/fetch.h"
#include "agent/fetch/registry_auth.h"
#include "agent/trust/trust.h"

#define LP_PULL_LAYERS_MAX 128

struct lp_pull_opts {
	const char *ref;		/* "alpine", "localhost:5000/app:1.4", "...@sha256:..." */
	const char *name;		/* the name in the store; NULL: the normalised reference */
	const char *platform;		/* NULL: this board's */
	const struct lp_trust *trust;
	bool allow_unsigned;
	/*
	 * Accept a signature whose identity is the repository without a tag
	 * (what cosign writes), not only the exact reference.
	 */
	bool signatures_by_repository;
	/*
	 * "sha256:<hex>" a signed deployment names for ref: that digest is the
	 * trust, no signature is looked for.  ref must resolve to it.
	 */
	const char *pinned_digest;
	/*
	 * Timeouts, rate, progress; a ca_file or cert_file here is for the
	 * reference's registry, over what registries says for it.
	 */
	struct lp_fetch_opts fetch;
	/* Per host TLS settings and mirrors (NULL: none): mirrors are tried first. */
	const struct lp_registry_config *registries;
	const struct lp_auth_file *auth;	/* NULL: anonymous */
};

struct lp_pull_layer {
	char digest[LP_DIGEST_STR_LEN];	/* the blob, as stored in the registry */
	char diff_id[LP_DIGEST_STR_LEN];	/* its tar, which names it in the store */
	int64_t size;			/* the blob's bytes */
	bool skipped;			/* in the store already: not fetched */
};

struct lp_pull_result {
	char *name;			/* malloc'd: the image's name in the store */
	char ref[512];			/* the normalised reference */
	char ref_digest[LP_DIGEST_STR_LEN];	/* what ref resolved to (an index, or the manifest) */
	char digest[LP_DIGEST_STR_LEN];	/* the image manifest's */
	char platform[96];
	char registry[256];		/* the host the bytes came from */
	char signed_by[256];
	size_t n_layers;
	struct lp_pull_layer layers[LP_PULL_LAYERS_MAX];
	int64_t fetched_bytes;		/* blob bytes downloaded by this pull */
	/*
	 * The store's image of this name came from the same tag, and a HEAD
	 * says the tag still names that digest: nothing else was asked
	 * (registries that limit pulls count manifest GETs, not HEADs).
	 */
	bool unchanged;
};

int lp_image_pull(const struct lp_host *host, const struct lp_pull_opts *o,
		  struct lp_pull_result *res, struct lp_err *err);
void lp_pull_result_free(struct lp_pull_result *res);

#endif
