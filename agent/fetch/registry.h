/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client side of the OCI distribution API for one repository on one
 * registry (or a mirror of it): authentication (anonymous, Basic, Bearer
 * tokens from the registry's token server), manifests by tag or digest,
 * and blobs to memory or to a resumable file.  Every body is checked
 * against the digest it is asked by; a registry's Docker-Content-Digest is
 * never believed for that.
 *
 * The first request asks GET /v2/ what the registry wants.  Credentials
 * come from the auth file; a Bearer token is fetched for
 * "repository:PATH:pull", kept until it expires, and fetched once more
 * when the registry refuses it (a second refusal is the error).
 *
 * Errors are one line naming the repository and the object:
 *   "localhost:5000/app: manifest 1.4: HTTP 404 Not Found (MANIFEST_UNKNOWN: manifest unknown)"
 * with err->code as lp_fetch_* set it (ENOENT, EACCES, EAGAIN, EFBIG,
 * EBADMSG, EKEYREJECTED, EPROTO).
 *
 * A struct lp_registry is used by one thread at a time.
 */
#ifndef LIMPET_REGISTRY_H
#define LIMPET_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/fetch/fetch.h"
#include "agent/fetch/registry_auth.h"
#include "agent/trust/trust.h"

/* Caps on what is read into memory (containers/image's iolimits). */
#define LP_REGISTRY_MANIFEST_MAX (4 << 20)
#define LP_REGISTRY_CONFIG_MAX (4 << 20)

struct lp_registry_opts {
	const char *host;		/* where /v2/ is: "registry-1.docker.io", "localhost:5000" */
	const char *auth_host;		/* the name credentials are filed under ("docker.io"); NULL: host */
	const char *path;		/* the repository: "library/alpine" */
	struct lp_fetch_opts fetch;	/* TLS, timeouts, rate, attempts, progress */
	const struct lp_auth_file *auth;	/* NULL: anonymous */
};

struct lp_registry;

int lp_registry_open(const struct lp_registry_opts *o, struct lp_registry **out,
		     struct lp_err *err);
/* Wipes credentials and tokens, then frees; NULL is fine. */
void lp_registry_close(struct lp_registry *r);
void lp_registry_closep(struct lp_registry **r);
#define cleanup_registry __attribute__((cleanup(lp_registry_closep)))

/* "localhost:5000/app": what messages name. */
const char *lp_registry_name(const struct lp_registry *r);

/* A manifest (or index) as received. */
struct lp_registry_doc {
	char *body;			/* malloc'd, NUL terminated (not counted in len) */
	size_t len;
	char media_type[128];		/* the reply's Content-Type, without parameters */
	unsigned char digest[LP_SHA256_LEN];	/* SHA-256 of body */
	char digest_str[LP_DIGEST_STR_LEN];	/* "sha256:<hex>" of body */
};

void lp_registry_doc_free(struct lp_registry_doc *d);
#define cleanup_registry_doc __attribute__((cleanup(lp_registry_doc_free)))

/*
 * GET the manifest named by ref (a tag, or "sha256:<hex>"), accepting the
 * media types in accept (NULL-ended), at most max bytes.  By digest, the
 * body must hash to it (EBADMSG).
 */
int lp_registry_get_manifest(struct lp_registry *r, const char *ref, const char *const *accept,
			     size_t max, struct lp_registry_doc *out, struct lp_err *err);

/*
 * HEAD the same: what the registry says ref's digest is, without a GET
 * (registries that count pulls count manifest GETs).  A hint for "has it
 * changed?", never a digest to trust.  Returns 1 with digest_out filled,
 * 0 when the reply did not say (digest_out ""), -1 on failure.
 */
int lp_registry_head_manifest(struct lp_registry *r, const char *ref, const char *const *accept,
			      char *digest_out, size_t len, struct lp_err *err);

/*
 * GET a small blob (a config, a signature's payload): exactly size bytes,
 * hashing to digest.  kind names it in messages ("config": "config
 * (sha256:0123456789ab...)"); NULL: "blob sha256:0123456789ab...".
 */
int lp_registry_get_blob(struct lp_registry *r, const char *kind, const char *digest, int64_t size,
			 char **body, struct lp_err *err);

/*
 * GET a blob into dest as lp_fetch_file does (dest.partial, locked,
 * resumed with Range, cut off at size, renamed only when it hashes to
 * digest).  kind as for lp_registry_get_blob ("layer 2"); progress_name
 * labels the progress bar.
 */
int lp_registry_fetch_blob(struct lp_registry *r, const char *kind, const char *digest,
			   int64_t size, const char *dest, const char *progress_name,
			   struct lp_err *err);

#endif
