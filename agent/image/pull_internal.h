/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by pull.c (resolving, trusting, committing), pull_sig.c (cosign
 * signatures) and pull_blobs.c (the download thread beside the unpacking).
 * Not an interface: pull.h is.
 */
#ifndef LIMPET_PULL_INTERNAL_H
#define LIMPET_PULL_INTERNAL_H

#include <jansson.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "agent/fetch/registry.h"
#include "agent/image/manifest.h"
#include "agent/image/pull.h"
#include "agent/image/store.h"
#include "agent/spec/image_ref.h"
#include "agent/spec/json.h"

#define LP_PULL_SOURCES_MAX 8

/* A registry or one of its mirrors. */
struct pull_source {
	struct lp_registry *reg;
	const char *host;		/* what res->registry says when it served */
	bool mirror;
};

struct puller {
	const struct lp_host *host;
	const struct lp_pull_opts *o;
	struct lp_pull_result *res;
	struct lp_image_ref ref;
	/* mirrors first, the registry last; the downloader alone uses them while it runs */
	struct pull_source src[LP_PULL_SOURCES_MAX];
	size_t n_src;
	/* o->fetch's TLS files, absolute: the download thread may open them (pull_source.c) */
	char ca_file[PATH_MAX], cert_file[PATH_MAX], key_file[PATH_MAX];
	bool mirror_tags;
	struct lp_platform_want want;

	struct lp_registry_doc top;	/* what the reference names: an index or the manifest */
	struct lp_registry_doc image;	/* the image manifest (a copy of top without an index) */
	struct lp_manifest m;
	unsigned char diff_ids[LP_MANIFEST_LAYERS_MAX][32];
	json_t *config;

	struct lp_store st;
	bool need[LP_MANIFEST_LAYERS_MAX];	/* fetch and unpack layer i */
	char layer_dir[LP_MANIFEST_LAYERS_MAX][PATH_MAX];	/* staged, for those */
	uint64_t unpacked[LP_MANIFEST_LAYERS_MAX];
	int64_t budget;
	char blob_dir[PATH_MAX];	/* ROOT/downloads/blobs */
	atomic_bool cancel;		/* stops the registry's transfer in progress */
};

/* pull_source.c: the mirrors and the registry, and one object from the first that has it. */
int lp_pull_open_sources(struct puller *p, struct lp_err *err);
void lp_pull_close_sources(struct puller *p);
/* "host/path" of the registry itself, for messages. */
const char *lp_pull_name(const struct puller *p);
/* by_digest: ref is a digest (or a tag made of one): a mirror may answer it. */
int lp_pull_manifest(struct puller *p, const char *ref, bool by_digest, const char *const *accept,
		     size_t max, struct lp_registry_doc *out, struct lp_err *err);
/* kind: what the blob is, for messages ("config"), as lp_registry_get_blob takes it. */
int lp_pull_blob(struct puller *p, const char *kind, const char *digest, int64_t size, char **body,
		 struct lp_err *err);
int lp_pull_fetch_blob(struct puller *p, const char *kind, const char *digest, int64_t size,
		       const char *dest, const char *label, struct lp_err *err);

/* Step 1's trust: a cosign signature over p->top's (or p->image's) digest. */
int lp_pull_check_signature(struct puller *p, struct lp_err *err);

/* Step 3: fetch the layers p->need names and unpack each into p->layer_dir[i]. */
int lp_pull_layers(struct puller *p, struct lp_err *err);

#endif
