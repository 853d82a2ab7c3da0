// SPDX-License-Identifier: Apache-2.0
/*
 * A pulled image's cosign signature: the sha256-<digest>.sig tag beside it
 * in the same repository, whose layers are simple-signing payloads signed
 * by a trusted key (registry_sig.c checks them).  The digest signed is the
 * one the reference names; for a multi-platform tag that is the index, and
 * when the index carries no signature that fits, the chosen platform's
 * manifest may (as `cosign sign --recursive` and `skopeo copy --all` sign
 * each).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/image/pull_internal.h"
#include "agent/image/registry_sig.h"

static const char *const accept_sig[] = { LP_COSIGN_MANIFEST_TYPE, NULL };

static int fetch_payload(void *ctx, const struct lp_cosign_sig *sig, unsigned char **buf,
			 size_t *len, struct lp_err *err)
{
	struct puller *p = ctx;
	char *body;

	if (lp_pull_blob(p, "signature payload", sig->digest, (int64_t)sig->size, &body, err) < 0)
		return -1;
	*buf = (unsigned char *)body;
	*len = sig->size;
	return 0;
}

/*
 * A payload's docker-reference, normalised as the user's reference is, but
 * a reference without tag or digest stays without: it names the repository
 * (what cosign signs), not its :latest.
 */
static int normalise(const char *s, char *out, size_t size, struct lp_err *err)
{
	const char *last = strrchr(s, '/') ? strrchr(s, '/') : s;
	struct lp_image_ref r;
	int rc;

	if (lp_image_ref_parse(s, &r, err) < 0)
		return -1;
	if (!strchr(last, ':') && !strchr(s, '@'))
		rc = lp_image_ref_repo(&r, out, size);
	else
		rc = lp_image_ref_format(&r, out, size);
	return rc < 0 ? lp_fail(err, ENAMETOOLONG, "%s: too long", s) : 0;
}

/* Signatures of the manifest doc (by its digest); ENOENT when it has none. */
static int check(struct puller *p, const struct lp_registry_doc *doc, struct lp_err *err)
{
	char tag[LP_COSIGN_TAG_LEN], reference[LP_COSIGN_REF_MAX], repository[LP_COSIGN_REF_MAX];
	struct lp_image_ref by = p->ref;
	struct lp_cosign_want w = {
		.digest = doc->digest_str,
		.reference = reference,
		.repository = repository,
		.display = p->o->ref,
		.match_repository = p->o->signatures_by_repository,
		.normalise = normalise,
	};
	cleanup_registry_doc struct lp_registry_doc sig_doc = { 0 };
	struct lp_cosign_sigs sigs = { 0 };
	const char *key = NULL;
	int rc;

	/* with a tag, the tag is the identity; by digest alone, the digest */
	if (by.tag[0])
		by.digest[0] = '\0';
	if (lp_image_ref_format(&by, reference, sizeof(reference)) < 0 ||
	    lp_image_ref_repo(&by, repository, sizeof(repository)) < 0)
		return lp_fail(err, ENAMETOOLONG, "%s: reference too long", p->o->ref);
	if (lp_cosign_sig_tag(doc->digest_str, tag, err) < 0)
		return -1;
	/* a tag made of the digest: a mirror's copy is checked as the registry's would be */
	if (lp_pull_manifest(p, tag, true, accept_sig, LP_COSIGN_MANIFEST_MAX, &sig_doc, err) < 0) {
		if (err->code == ENOENT)
			lp_fail(err, ENOENT, "%s (%.19s...): not signed (no %s in %s)", p->o->ref,
				doc->digest_str, tag, lp_pull_name(p));
		return -1;
	}
	rc = lp_cosign_parse_manifest(sig_doc.body, sig_doc.len, &sigs, err);
	if (rc == 0)
		rc = lp_cosign_verify_any(p->o->trust, &w, &sigs, fetch_payload, p, &key, err);
	lp_cosign_sigs_free(&sigs);
	if (rc == 0)
		snprintf(p->res->signed_by, sizeof(p->res->signed_by), "%s", key ? key : "?");
	return rc;
}

int lp_pull_check_signature(struct puller *p, struct lp_err *err)
{
	struct lp_err first;

	if (!p->o->trust || p->o->trust->n_keys == 0)
		return lp_fail(err, ENOKEY,
			       "%s: no trusted key to check its signature with (--trust, or "
			       "trusted_keys in the config)",
			       p->o->ref);
	if (check(p, &p->top, err) == 0)
		return 0;
	/*
	 * An index's .sig may hold only signatures that do not fit (another
	 * tag's, a stranger's) while its platform manifest carries a good one:
	 * that one covers all that is pulled just as well.
	 */
	if (!strcmp(p->top.digest_str, p->image.digest_str) || err->code == ENOMEM ||
	    err->code == ECANCELED)
		return -1;
	first = *err;
	if (check(p, &p->image, err) == 0)
		return 0;
	/* what the reference names explains best, unless it has no .sig at all */
	if (err->code == ENOENT || first.code != ENOENT)
		*err = first;
	return -1;
}
