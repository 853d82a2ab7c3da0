/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image references as docker pull takes them ("alpine",
 * "registry.example.com:5000/app:1.4", "app@sha256:..."), normalised as
 * Docker does (distribution's reference/normalize.go, v2.8.2): the first
 * '/'-component is a registry host only if it holds '.' or ':' or is
 * "localhost", else the host is docker.io; index.docker.io is docker.io;
 * on docker.io a path of one component is under library/; without tag or
 * digest the tag is "latest".
 */
#ifndef LIMPET_IMAGE_REF_H
#define LIMPET_IMAGE_REF_H

#include <stddef.h>

#include "platform/lib/err.h"

/* "host/path" at most (the distribution spec's limit on a repository name). */
#define LP_IMAGE_REPO_MAX 255
/* The longest "host/path:tag@sha256:<hex>", with its NUL. */
#define LP_IMAGE_REF_STR_MAX (LP_IMAGE_REPO_MAX + 1 + 128 + 1 + 71 + 1)

struct lp_image_ref {
	char host[256];		/* "docker.io", "localhost:5000": as written but for index.docker.io */
	char api_host[256];	/* where /v2/ is: registry-1.docker.io for docker.io, else host */
	char path[256];		/* "library/alpine": lowercase components */
	char tag[129];		/* "" only when a digest is given without a tag */
	char digest[72];	/* "" or "sha256:" and 64 lowercase hex digits */
};

/*
 * Parse and normalise s.  NAME:TAG@DIGEST is allowed: the digest decides
 * what is pulled, the tag is kept for the signature's identity check.  A
 * refusal is one line naming s and the reason
 * ("Alpine: repository names must be lowercase"), err->code EINVAL.
 */
int lp_image_ref_parse(const char *s, struct lp_image_ref *out, struct lp_err *err);

/*
 * The normalised reference: "host/path:tag", "host/path@sha256:..." or
 * "host/path:tag@sha256:...", which parses back to *r.  -1 (errno
 * ENAMETOOLONG) if it does not fit in len bytes; LP_IMAGE_REF_STR_MAX always does.
 */
int lp_image_ref_format(const struct lp_image_ref *r, char *out, size_t len);

/* "host/path", the repository without tag or digest; -1 as lp_image_ref_format. */
int lp_image_ref_repo(const struct lp_image_ref *r, char *out, size_t len);

#endif
