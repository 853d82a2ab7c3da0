// SPDX-License-Identifier: Apache-2.0
/*
 * Cosign `.sig` attachments (registry_sig.h): the attachment manifest, the
 * simple-signing payload, and the order of the checks, which follows
 * containers/image 5.23 (signature/internal/sigstore_payload.go,
 * signature/policy_reference_match.go) so that what skopeo accepts, limpet
 * accepts, and a little more only where the config says so.
 */
#include "agent/image/registry_sig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/spec/json.h"
#include "platform/lib/util.h"

#define SIG_PAYLOAD_TYPE "cosign container image signature"
/* "sha256:" and 12 hex digits tell digests apart in a message */
#define DIGEST_SHORT 19

/*
 * How far a signature got through the checks.  When none is accepted, the
 * one that got furthest explains best why: a trusted key that signed
 * another tag says more than ten signatures by strangers.
 */
enum stage {
	STAGE_KEY,	/* no trusted key made it */
	STAGE_BLOB,	/* the payload is not the blob its layer names */
	STAGE_PAYLOAD,	/* signed, but not a payload c/image takes */
	STAGE_DIGEST,	/* for another manifest */
	STAGE_IDENTITY,	/* for another reference */
};

/* Enough of s for a message: digests cut after DIGEST_SHORT characters. */
static const char *abbrev(const char *s, char buf[DIGEST_SHORT + 4])
{
	if (strlen(s) <= DIGEST_SHORT + 3)
		return s;
	snprintf(buf, DIGEST_SHORT + 4, "%.*s...", DIGEST_SHORT, s);
	return buf;
}

int lp_cosign_sig_tag(const char *digest, char out[LP_COSIGN_TAG_LEN], struct lp_err *err)
{
	unsigned char d[LP_SHA256_LEN];

	if (lp_digest_parse(digest, d, err) < 0)
		return -1;
	snprintf(out, LP_COSIGN_TAG_LEN, "sha256-%s.sig", digest + strlen("sha256:"));
	return 0;
}

/* JSON of at most max bytes, no key twice (c/image refuses that too). */
static json_t *load(const void *json, size_t len, size_t max, const char *what,
		    struct lp_err *err)
{
	json_error_t jerr;
	json_t *root;

	if (len > max) {
		lp_fail(err, EFBIG, "%s of %zu bytes: larger than %zu KiB", what, len, max / 1024);
		return NULL;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		lp_fail(err, EBADMSG, "not JSON: %s (line %d)", jerr.text, jerr.line);
	return root;
}

/* ---------------------------------------------------------------- attachment manifest */

void lp_cosign_sigs_free(struct lp_cosign_sigs *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].signature);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* What c/image's OCI1FromManifest takes, and no index in disguise. */
static int check_oci_manifest(json_t *root, struct lp_err *err)
{
	static const char *const foreign[] = { "manifests", "fsLayers", "history" };
	json_t *version = json_object_get(root, "schemaVersion");
	json_t *type = json_object_get(root, "mediaType");
	size_t i;

	if (!json_is_object(root))
		return lp_json_type_error(err, "", "an object", root);
	if (!json_is_integer(version) || json_integer_value(version) != 2)
		return lp_fail(err, EBADMSG, "not an OCI image manifest: schemaVersion is not 2");
	if (type &&
	    (!json_is_string(type) || strcmp(json_string_value(type), LP_COSIGN_MANIFEST_TYPE)))
		return lp_fail(err, EBADMSG, "not an OCI image manifest: mediaType is not %s",
			       LP_COSIGN_MANIFEST_TYPE);
	for (i = 0; i < ARRAY_SIZE(foreign); i++)
		if (json_object_get(root, foreign[i]))
			return lp_fail(err, EBADMSG, "not an OCI image manifest: it has \"%s\"",
				       foreign[i]);
	if (!json_is_object(json_object_get(root, "config")))
		return lp_json_type_error(err, "config", "an object",
					  json_object_get(root, "config"));
	if (!json_is_array(json_object_get(root, "layers")))
		return lp_json_type_error(err, "layers", "an array",
					  json_object_get(root, "layers"));
	return 0;
}

static int parse_sig_layer(json_t *layer, const char *path, struct lp_cosign_sig *sig,
			   struct lp_err *err)
{
	char sub[LP_JSON_PATH_MAX], ann_path[LP_JSON_PATH_MAX];
	unsigned char d[LP_SHA256_LEN];
	const char *digest, *signature;
	json_t *ann;
	long long size;

	lp_json_key_path(sub, sizeof(sub), path, "digest");
	if (lp_json_get_string(json_object_get(layer, "digest"), &digest, sub, err) < 0)
		return -1;
	if (lp_digest_parse(digest, d, err) < 0)
		return lp_prefix(err, "%s", sub);
	snprintf(sig->digest, sizeof(sig->digest), "%s", digest);

	lp_json_key_path(sub, sizeof(sub), path, "size");
	if (lp_json_get_int(json_object_get(layer, "size"), 0, LP_COSIGN_PAYLOAD_MAX, &size, sub,
			    err) < 0)
		return -1;
	sig->size = (uint64_t)size;

	lp_json_key_path(ann_path, sizeof(ann_path), path, "annotations");
	ann = json_object_get(layer, "annotations");
	if (!json_is_object(ann))
		return lp_json_type_error(err, ann_path, "an object", ann);
	lp_json_key_path(sub, sizeof(sub), ann_path, LP_COSIGN_SIG_ANNOTATION);
	if (lp_json_get_string(json_object_get(ann, LP_COSIGN_SIG_ANNOTATION), &signature, sub,
			       err) < 0)
		return -1;
	sig->signature = strdup(signature);
	if (!sig->signature)
		return lp_json_out_of_memory(err, sub);
	return 0;
}

int lp_cosign_parse_manifest(const void *json, size_t len, struct lp_cosign_sigs *out,
			     struct lp_err *err)
{
	cleanup_json json_t *root = NULL;
	char path[LP_JSON_PATH_MAX], sub[LP_JSON_PATH_MAX];
	json_t *layers, *layer;
	const char *type;
	size_t i, n;

	memset(out, 0, sizeof(*out));
	root = load(json, len, LP_COSIGN_MANIFEST_MAX, "manifest", err);
	if (!root || check_oci_manifest(root, err) < 0)
		return -1;
	layers = json_object_get(root, "layers");
	n = json_array_size(layers);
	out->v = calloc(n < LP_COSIGN_SIGS_MAX ? n + 1 : LP_COSIGN_SIGS_MAX, sizeof(*out->v));
	if (!out->v)
		return lp_fail(err, ENOMEM, "out of memory");
	json_array_foreach(layers, i, layer)
	{
		lp_json_index_path(path, sizeof(path), "layers", i);
		if (!json_is_object(layer))
			return lp_json_type_error(err, path, "an object", layer);
		lp_json_key_path(sub, sizeof(sub), path, "mediaType");
		if (lp_json_get_string(json_object_get(layer, "mediaType"), &type, sub, err) < 0)
			return -1;
		/* attestations and whatever else may share the tag */
		if (strcmp(type, LP_COSIGN_SIG_TYPE)) {
			out->n_other++;
			continue;
		}
		if (out->n == LP_COSIGN_SIGS_MAX)
			return lp_fail(err, E2BIG, "more than %d signatures", LP_COSIGN_SIGS_MAX);
		if (parse_sig_layer(layer, path, &out->v[out->n], err) < 0)
			return -1;
		out->n++;
	}
	return 0;
}

/* ---------------------------------------------------------------- payload */

void lp_cosign_payload_free(struct lp_cosign_payload *p)
{
	free(p->digest);
	free(p->reference);
	p->digest = NULL;
	p->reference = NULL;
}

/* v is an object with exactly the keys keys[0..n). */
static int exact_keys(json_t *v, const char *path, const char *const *keys, size_t n,
		      struct lp_err *err)
{
	char sub[LP_JSON_PATH_MAX];
	const char *key;
	json_t *member;
	size_t i;

	if (!json_is_object(v))
		return lp_json_type_error(err, path, "an object", v);
	json_object_foreach(v, key, member)
	{
		for (i = 0; i < n && strcmp(key, keys[i]); i++)
			;
		if (i == n) {
			lp_json_key_path(sub, sizeof(sub), path, key);
			return lp_json_fail(err, sub, EBADMSG, "unknown field");
		}
	}
	for (i = 0; i < n; i++)
		if (!json_object_get(v, keys[i]))
			return lp_json_fail(err, path, EBADMSG, "\"%s\" is missing", keys[i]);
	return 0;
}

/*
 * The one string member of an object with exactly that key, copied.
 * (c/image would read null as "": no digest or reference matches that.)
 */
static int only_string(json_t *parent, const char *name, const char *key, char **out,
		       struct lp_err *err)
{
	char path[LP_JSON_PATH_MAX], sub[LP_JSON_PATH_MAX];
	json_t *obj = json_object_get(parent, name);

	lp_json_key_path(path, sizeof(path), "critical", name);
	if (exact_keys(obj, path, &key, 1, err) < 0)
		return -1;
	lp_json_key_path(sub, sizeof(sub), path, key);
	return lp_json_dup_string(json_object_get(obj, key), false, out, sub, err);
}

/* A whole number of seconds, as c/image's int64(f) == f has it. */
static bool integral(json_t *v)
{
	double d;

	if (json_is_integer(v) || json_is_null(v))
		return true;
	if (!json_is_real(v))
		return false;
	d = json_real_value(v);
	return d >= -9.2e18 && d <= 9.2e18 && d == (double)(long long)d;
}

/*
 * cosign writes null when there are no annotations.  Go decodes a null
 * into a string or a number as nothing at all, so null passes for both.
 */
static int check_optional(json_t *opt, struct lp_err *err)
{
	json_t *creator = json_object_get(opt, "creator");
	json_t *timestamp = json_object_get(opt, "timestamp");

	if (json_is_null(opt))
		return 0;
	if (!json_is_object(opt))
		return lp_json_type_error(err, "optional", "an object or null", opt);
	if (creator && !json_is_string(creator) && !json_is_null(creator))
		return lp_json_type_error(err, "optional.creator", "a string", creator);
	if (timestamp && !integral(timestamp))
		return lp_json_type_error(err, "optional.timestamp", "an integer", timestamp);
	return 0;
}

int lp_cosign_payload_parse(const void *json, size_t len, struct lp_cosign_payload *out,
			    struct lp_err *err)
{
	static const char *const top[] = { "critical", "optional" };
	static const char *const critical_keys[] = { "type", "image", "identity" };
	cleanup_json json_t *root = NULL;
	json_t *critical;
	const char *type;

	memset(out, 0, sizeof(*out));
	root = load(json, len, LP_COSIGN_PAYLOAD_MAX, "payload", err);
	if (!root || exact_keys(root, "", top, ARRAY_SIZE(top), err) < 0 ||
	    check_optional(json_object_get(root, "optional"), err) < 0)
		return -1;
	critical = json_object_get(root, "critical");
	if (exact_keys(critical, "critical", critical_keys, ARRAY_SIZE(critical_keys), err) < 0 ||
	    lp_json_get_string(json_object_get(critical, "type"), &type, "critical.type", err) < 0)
		return -1;
	if (strcmp(type, SIG_PAYLOAD_TYPE))
		return lp_json_fail(err, "critical.type", EBADMSG, "\"%.64s\", not \"%s\"", type,
				    SIG_PAYLOAD_TYPE);
	if (only_string(critical, "image", "docker-manifest-digest", &out->digest, err) < 0 ||
	    only_string(critical, "identity", "docker-reference", &out->reference, err) < 0)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- matching */

/* Length of the repository part of a normalised reference: no tag, no digest. */
static size_t repo_len(const char *ref)
{
	const char *at = strchr(ref, '@');
	size_t n = at ? (size_t)(at - ref) : strlen(ref);
	const char *slash = memrchr(ref, '/', n), *colon = memrchr(ref, ':', n);

	/* a colon before the last slash is the host's port */
	if (colon && (!slash || colon > slash))
		n = (size_t)(colon - ref);
	return n;
}

static int normalise(const struct lp_cosign_want *w, const char *ref, char out[LP_COSIGN_REF_MAX],
		     struct lp_err *err)
{
	if (w->normalise) {
		if (w->normalise(ref, out, LP_COSIGN_REF_MAX, err) < 0)
			return lp_prefix(err, "signature names \"%.200s\"", ref);
		return 0;
	}
	if (strlen(ref) >= LP_COSIGN_REF_MAX)
		return lp_fail(err, EACCES, "signature names a reference of %zu bytes",
			       strlen(ref));
	strcpy(out, ref);
	return 0;
}

/* c/image's matchRepoDigestOrExact, and a tagless identity if w allows it. */
static int match_identity(const char *signed_ref, const struct lp_cosign_want *w,
			  struct lp_err *err)
{
	char ref[LP_COSIGN_REF_MAX];
	size_t n;
	bool same_repo;

	if (normalise(w, signed_ref, ref, err) < 0)
		return -1;
	n = repo_len(ref);
	same_repo = n == strlen(w->repository) && !strncmp(ref, w->repository, n);
	if (strchr(w->reference, '@')) {
		if (same_repo)
			return 0;
		return lp_fail(err, EACCES, "signature is for %.200s, not the repository %.200s",
			       ref, w->repository);
	}
	if (!strcmp(ref, w->reference))
		return 0;
	if (same_repo && ref[n] == '\0') {
		/* cosign signs the repository; what the tag named then is unsigned */
		if (w->match_repository)
			return 0;
		return lp_fail(err, EACCES,
			       "signature is for %.200s, any tag, not %.200s exactly "
			       "(signatures = \"repository\" accepts it)",
			       ref, w->reference);
	}
	return lp_fail(err, EACCES, "signature is for %.200s, not %.200s", ref, w->reference);
}

static int match(const struct lp_cosign_payload *p, const struct lp_cosign_want *w,
		 enum stage *stage, struct lp_err *err)
{
	char a[DIGEST_SHORT + 4], b[DIGEST_SHORT + 4];

	*stage = STAGE_DIGEST;
	if (strcmp(p->digest, w->digest))
		return lp_fail(err, EACCES, "signature is for %.80s, not %s", abbrev(p->digest, a),
			       abbrev(w->digest, b));
	*stage = STAGE_IDENTITY;
	return match_identity(p->reference, w, err);
}

int lp_cosign_payload_match(const struct lp_cosign_payload *p, const struct lp_cosign_want *w,
			    struct lp_err *err)
{
	enum stage stage;

	return match(p, w, &stage, err);
}

/* ---------------------------------------------------------------- verification */

/*
 * The layer's signature, over the digest its descriptor names: that is
 * SHA-256(payload) once check_blob has seen the payload, so a signature by
 * a stranger costs no fetch.
 */
static int signed_by(const struct lp_trust *t, const struct lp_cosign_sig *sig, const char **key,
		     struct lp_err *err)
{
	unsigned char d[LP_SHA256_LEN];

	if (lp_digest_parse(sig->digest, d, err) < 0)
		return -1;
	return lp_trust_verify_buf(t, d, sig->signature, strlen(sig->signature), key, err);
}

/* The payload is the blob the layer names: its size and digest. */
static int check_blob(const struct lp_cosign_sig *sig, const void *payload, size_t len,
		      struct lp_err *err)
{
	unsigned char want[LP_SHA256_LEN], got[LP_SHA256_LEN];
	char buf[DIGEST_SHORT + 4];

	if (len != sig->size)
		return lp_fail(err, EBADMSG, "payload %s: %zu bytes, not %llu",
			       abbrev(sig->digest, buf), len, (unsigned long long)sig->size);
	if (lp_digest_parse(sig->digest, want, err) < 0 || lp_sha256_buf(payload, len, got, err) < 0)
		return -1;
	if (memcmp(want, got, sizeof(got)))
		return lp_fail(err, EBADMSG, "payload %s: content does not match its digest",
			       abbrev(sig->digest, buf));
	return 0;
}

/* After signed_by: the payload fetched is the one signed, and says w. */
static int check_signed(const struct lp_cosign_want *w, const struct lp_cosign_sig *sig,
			const void *payload, size_t len, enum stage *stage, struct lp_err *err)
{
	struct lp_cosign_payload p;
	int rc;

	*stage = STAGE_BLOB;
	if (check_blob(sig, payload, len, err) < 0)
		return -1;
	/* only now are the bytes known to be the ones signed, and read */
	*stage = STAGE_PAYLOAD;
	rc = lp_cosign_payload_parse(payload, len, &p, err);
	if (rc < 0)
		lp_prefix(err, "signed payload");
	else
		rc = match(&p, w, stage, err);
	lp_cosign_payload_free(&p);
	return rc;
}

int lp_cosign_verify_sig(const struct lp_trust *t, const struct lp_cosign_want *w,
			 const struct lp_cosign_sig *sig, const void *payload, size_t len,
			 const char **key_name, struct lp_err *err)
{
	const char *key = NULL;
	enum stage stage;

	if (signed_by(t, sig, &key, err) < 0 || check_signed(w, sig, payload, len, &stage, err) < 0)
		return -1;
	if (key_name)
		*key_name = key;
	return 0;
}

/* "2 signatures, none by the 1 trusted key" */
static int no_signature(const struct lp_trust *t, const struct lp_cosign_want *w,
			const struct lp_cosign_sigs *sigs, const char *what, struct lp_err *err)
{
	const char *hex = strchr(w->digest, ':') ? strchr(w->digest, ':') + 1 : w->digest;
	char tally[128];

	if (sigs->n == 0)
		snprintf(tally, sizeof(tally), "no signatures");
	else
		snprintf(tally, sizeof(tally), "%zu signature%s, %s by the %zu trusted key%s",
			 sigs->n, sigs->n == 1 ? "" : "s", sigs->n == 1 ? "not" : "none", t->n_keys,
			 t->n_keys == 1 ? "" : "s");
	return lp_fail(err, EKEYREJECTED,
		       "%s: no signature by a trusted key (sha256-%.12s....sig: %s)", what, hex,
		       tally);
}

int lp_cosign_verify_any(const struct lp_trust *t, const struct lp_cosign_want *w,
			 const struct lp_cosign_sigs *sigs, lp_cosign_fetch_fn fetch, void *ctx,
			 const char **key_name, struct lp_err *err)
{
	struct lp_err best = { 0 };
	char what[320], buf[DIGEST_SHORT + 4];
	enum stage stage, best_stage = STAGE_KEY;
	size_t i;

	snprintf(what, sizeof(what), "%.250s (%s)", w->display ? w->display : w->reference,
		 abbrev(w->digest, buf));
	if (t->n_keys == 0)
		return lp_fail(err, ENOKEY,
			       "%s: no trusted keys configured to check its signatures "
			       "(trust = [...] in the config, or --trust PEM)",
			       what);
	for (i = 0; i < sigs->n; i++) {
		cleanup_free unsigned char *payload = NULL;
		struct lp_err why = { 0 };
		const char *key = NULL;
		size_t len = 0;

		if (signed_by(t, &sigs->v[i], &key, &why) < 0)
			continue;
		if (fetch(ctx, &sigs->v[i], &payload, &len, err) < 0)
			return -1;
		if (check_signed(w, &sigs->v[i], payload, len, &stage, &why) == 0) {
			if (key_name)
				*key_name = key;
			return 0;
		}
		if (stage > best_stage) {
			best_stage = stage;
			best = why;
		}
	}
	if (best_stage == STAGE_KEY)
		return no_signature(t, w, sigs, what, err);
	return lp_fail(err, EKEYREJECTED, "%s: %s", what, best.msg);
}
