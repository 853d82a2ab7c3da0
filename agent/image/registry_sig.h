/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cosign-compatible image signatures from a registry: the `sha256-<hex>.sig`
 * attachment manifest skopeo and cosign push beside an image, its
 * simple-signing payloads, and the checks that make one of them vouch for
 * the manifest a reference resolved to.  Pure logic: the caller fetches the
 * attachment manifest and, through a callback, each payload.
 *
 * The checks, in order, as containers/image makes them: the signature over
 * SHA-256(payload) by a trusted key (lp_trust_verify_buf) before the payload
 * is even parsed; the payload strictly (exactly the keys c/image accepts);
 * its docker-manifest-digest equal to the digest D; its docker-reference
 * against the reference the user wrote:
 *   - by tag ("host/path:tag"): equal to it; a tagless identity equal to the
 *     repository (what cosign writes) only with match_repository;
 *   - by digest ("host/path@sha256:..."): the same repository, any tag.
 *
 * References are compared as normalised strings.  The caller passes its own
 * normalised; the payload's goes through want->normalise (the image
 * reference parser's, so that cosign's "index.docker.io/library/x" is
 * "docker.io/library/x") or, without one, is compared as written.
 */
#ifndef LIMPET_REGISTRY_SIG_H
#define LIMPET_REGISTRY_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/trust/trust.h"
#include "platform/lib/err.h"

#define LP_COSIGN_MANIFEST_TYPE "application/vnd.oci.image.manifest.v1+json"
#define LP_COSIGN_SIG_TYPE "application/vnd.dev.cosign.simplesigning.v1+json"
#define LP_COSIGN_SIG_ANNOTATION "dev.cosignproject.cosign/signature"
#define LP_COSIGN_MANIFEST_MAX (1024 * 1024)
#define LP_COSIGN_PAYLOAD_MAX (64 * 1024)
/* Signature layers one attachment may list: each costs a fetch. */
#define LP_COSIGN_SIGS_MAX 64
/* "sha256-" 64 hex ".sig", NUL included */
#define LP_COSIGN_TAG_LEN (sizeof("sha256-.sig") + LP_SHA256_HEX_LEN)
/* A normalised reference: host, path, tag and digest, with room to spare. */
#define LP_COSIGN_REF_MAX 1024

/* One signature layer of an attachment manifest. */
struct lp_cosign_sig {
	char digest[LP_DIGEST_STR_LEN];	/* of the payload blob, "sha256:<hex>" */
	uint64_t size;			/* of the payload blob, <= LP_COSIGN_PAYLOAD_MAX */
	char *signature;		/* the annotation: base64 of DER */
};

struct lp_cosign_sigs {
	struct lp_cosign_sig *v;
	size_t n;
	size_t n_other;			/* layers of other types, ignored */
};

/*
 * The tag the signatures of the manifest `digest` ("sha256:<hex>") are
 * pushed under, in the same repository: "sha256-<hex>.sig".
 */
int lp_cosign_sig_tag(const char *digest, char out[LP_COSIGN_TAG_LEN], struct lp_err *err);

/*
 * Parse an attachment manifest (len <= LP_COSIGN_MANIFEST_MAX): an OCI
 * image manifest whose simple-signing layers are the signatures.  Anything
 * else, or a signature layer without a sha256 digest, a size within
 * LP_COSIGN_PAYLOAD_MAX and the signature annotation, is an error.
 * Free *out with lp_cosign_sigs_free, on failure too.
 */
int lp_cosign_parse_manifest(const void *json, size_t len, struct lp_cosign_sigs *out,
			     struct lp_err *err);
void lp_cosign_sigs_free(struct lp_cosign_sigs *s);

/* A signature payload's critical part. */
struct lp_cosign_payload {
	char *digest;		/* critical.image.docker-manifest-digest */
	char *reference;	/* critical.identity.docker-reference */
};

/*
 * Parse a payload as c/image's strictUnmarshalJSON does: top level exactly
 * critical and optional; critical exactly type, image, identity; image
 * exactly docker-manifest-digest; identity exactly docker-reference; no key
 * twice; optional null or an object (creator a string, timestamp an
 * integer).  type must be "cosign container image signature".  Unverified
 * bytes: call it after the signature checked out.  Free *out with
 * lp_cosign_payload_free, on failure too.
 */
int lp_cosign_payload_parse(const void *json, size_t len, struct lp_cosign_payload *out,
			    struct lp_err *err);
void lp_cosign_payload_free(struct lp_cosign_payload *p);

/* ref normalised into out; -1 with err if it is no image reference. */
typedef int (*lp_cosign_normalise_fn)(const char *ref, char *out, size_t size, struct lp_err *err);

/* What a signature must vouch for. */
struct lp_cosign_want {
	const char *digest;	/* D, "sha256:<hex>": the manifest the reference resolved to */
	const char *reference;	/* normalised: "host/path:tag" or "host/path@sha256:<hex>" */
	const char *repository;	/* normalised: "host/path" */
	const char *display;	/* names the image in messages; NULL: reference */
	bool match_repository;	/* a tagless identity equal to repository is enough */
	lp_cosign_normalise_fn normalise;	/* of the payload's reference; NULL: as written */
};

/* A verified payload's digest and reference against w (the last two checks). */
int lp_cosign_payload_match(const struct lp_cosign_payload *p, const struct lp_cosign_want *w,
			    struct lp_err *err);

/*
 * One signature: sig's signature by a trusted key over the digest sig
 * names, payload (the blob of sig, fetched by the caller) of that size and
 * digest, then parsed and matched against w.  *key_name (if not NULL) :=
 * the key that verified, owned by t.  Refusals: what lp_trust_verify_buf
 * says, EBADMSG (payload not the blob, or not a payload), EACCES (for
 * another digest or reference).
 */
int lp_cosign_verify_sig(const struct lp_trust *t, const struct lp_cosign_want *w,
			 const struct lp_cosign_sig *sig, const void *payload, size_t len,
			 const char **key_name, struct lp_err *err);

/*
 * Fetch the payload blob of sig into *buf (malloc'd; lp_cosign_verify_any
 * frees it), sig->size bytes.  A failure ends the verification with the
 * callback's err.
 */
typedef int (*lp_cosign_fetch_fn)(void *ctx, const struct lp_cosign_sig *sig, unsigned char **buf,
				  size_t *len, struct lp_err *err);

/*
 * Accept when any signature of sigs passes lp_cosign_verify_sig, in order
 * (skopeo appends a layer per signing), fetching one payload at a time and
 * only those a trusted key signed.  Otherwise EKEYREJECTED, with one
 * message that says what was looked for: "DISPLAY (sha256:ab12...): no
 * signature by a trusted key (sha256-ab12....sig: 2 signatures, none by
 * the 1 trusted key)", or, when a trusted key signed something else, why
 * that is not this image ("DISPLAY (sha256:ab12...): signature is for
 * sha256:cd34..., not sha256:ab12...").  ENOKEY when t has no keys.
 */
int lp_cosign_verify_any(const struct lp_trust *t, const struct lp_cosign_want *w,
			 const struct lp_cosign_sigs *sigs, lp_cosign_fetch_fn fetch, void *ctx,
			 const char **key_name, struct lp_err *err);

#endif
