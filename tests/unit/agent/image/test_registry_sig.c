// SPDX-License-Identifier: Apache-2.0
/*
 * Cosign `.sig` attachments (agent/image/registry_sig.c): key pairs and
 * signatures made at test time, payloads as skopeo writes them (sorted keys,
 * optional creator and timestamp) and as cosign does (optional null, an
 * identity without a tag), attachment manifests as skopeo pushes them.
 *
 * A signature made by real cosign (containers/image's fixture) is verified
 * too when its three files are in $LIMPET_COSIGN_FIXTURES (default
 * /work/shared/fixtures/cosign): cosign.pub, signature-1, manifest.json.
 * They are not ours to ship, so the test skips without them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <mbedtls/base64.h>

#include "agent/image/registry_sig.h"
#include "agent/trust/trust.h"
#include "platform/lib/util.h"

#define REPO "localhost:5000/app"
#define REF REPO ":1.4"
#define OTHER_DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ATTESTATION_TYPE "application/vnd.dsse.envelope.v1+json"

static char dir[] = "/tmp/limpet-registry-sig-XXXXXX";
static char key_a[PATH_MAX], pub_a[PATH_MAX], key_b[PATH_MAX], pub_b[PATH_MAX];
static char key_rsa[PATH_MAX], pub_rsa[PATH_MAX];
/* D: the digest of the manifest the reference resolved to */
static char digest[LP_DIGEST_STR_LEN];

/* ---------------------------------------------------------------- helpers */

static void in_dir(char path[PATH_MAX], const char *name)
{
	assert_true(snprintf(path, PATH_MAX, "%s/%s", dir, name) < PATH_MAX);
}

static void sha256_of(const void *data, size_t len, unsigned char out[LP_SHA256_LEN])
{
	struct lp_err err = { 0 };

	assert_int_equal(lp_sha256_buf(data, len, out, &err), 0);
}

static void digest_of(const void *data, size_t len, char out[LP_DIGEST_STR_LEN])
{
	unsigned char d[LP_SHA256_LEN];

	sha256_of(data, len, d);
	strcpy(out, "sha256:");
	lp_hex(d, LP_SHA256_LEN, out + strlen("sha256:"));
}

static char *base64(const void *data, size_t len)
{
	size_t size = 4 * (len / 3 + 1) + 1, out_len = 0;
	char *b64 = malloc(size);

	assert_non_null(b64);
	assert_int_equal(mbedtls_base64_encode((unsigned char *)b64, size, &out_len, data, len), 0);
	b64[out_len] = '\0';
	return b64;
}

/* The base64 of key's DER signature over SHA-256(payload), as cosign annotates it. */
static char *sign_b64(const char *key, const char *payload)
{
	unsigned char d[LP_SHA256_LEN];
	struct lp_err err = { 0 };
	char sig[PATH_MAX], *der = NULL, *b64;
	size_t len = 0;

	in_dir(sig, "payload.sig");
	sha256_of(payload, strlen(payload), d);
	if (lp_sign_digest_to_file(key, d, sig, &err) < 0)
		fail_msg("sign: %s", err.msg);
	if (lp_read_file(sig, LP_SIG_FILE_MAX, &der, &len, &err) < 0)
		fail_msg("%s", err.msg);
	b64 = base64(der, len);
	free(der);
	return b64;
}

/* As c/image 5.23.1 marshals it: Go maps, keys sorted, no spaces. */
static char *skopeo_payload(const char *manifest_digest, const char *ref)
{
	char *p = NULL;

	assert_true(asprintf(&p,
			     "{\"critical\":{\"identity\":{\"docker-reference\":\"%s\"},"
			     "\"image\":{\"docker-manifest-digest\":\"%s\"},"
			     "\"type\":\"cosign container image signature\"},"
			     "\"optional\":{\"creator\":\"containers/image 5.23.1\","
			     "\"timestamp\":1700000000}}",
			     ref, manifest_digest) > 0);
	return p;
}

/* As cosign writes it: no annotations, the repository as the identity. */
static char *cosign_payload(const char *manifest_digest, const char *repo)
{
	char *p = NULL;

	assert_true(asprintf(&p,
			     "{\"critical\":{\"identity\":{\"docker-reference\":\"%s\"},"
			     "\"image\":{\"docker-manifest-digest\":\"%s\"},"
			     "\"type\":\"cosign container image signature\"},\"optional\":null}",
			     repo, manifest_digest) > 0);
	return p;
}

/* One layer of an attachment: its type, payload and signature annotation. */
struct layer {
	const char *type;
	const char *payload;
	const char *sig;
};

/* An attachment manifest as skopeo pushes it. */
static char *attachment(const struct layer *layers, size_t n)
{
	json_t *list = json_array(), *root;
	char d[LP_DIGEST_STR_LEN], *text;
	size_t i;

	for (i = 0; i < n; i++) {
		digest_of(layers[i].payload, strlen(layers[i].payload), d);
		assert_int_equal(json_array_append_new(
					 list, json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType",
							 layers[i].type, "digest", d, "size",
							 (json_int_t)strlen(layers[i].payload),
							 "annotations", LP_COSIGN_SIG_ANNOTATION,
							 layers[i].sig)),
				 0);
	}
	root = json_pack("{s:i, s:s, s:{s:s, s:s, s:i}, s:o}", "schemaVersion", 2, "mediaType",
			 LP_COSIGN_MANIFEST_TYPE, "config", "mediaType",
			 "application/vnd.oci.image.config.v1+json", "digest", OTHER_DIGEST, "size",
			 233, "layers", list);
	assert_non_null(root);
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	assert_non_null(text);
	return text;
}

/* The payloads fetch() serves, by layer, and how many it served. */
struct fetcher {
	const struct lp_cosign_sigs *sigs;
	const char *const *payloads;
	size_t fetched;
	bool fail;
};

static int fetch(void *ctx, const struct lp_cosign_sig *sig, unsigned char **buf, size_t *len,
		 struct lp_err *err)
{
	struct fetcher *f = ctx;
	const char *p = f->payloads[sig - f->sigs->v];

	f->fetched++;
	if (f->fail)
		return lp_fail(err, EIO, "GET %s: 404", sig->digest);
	*len = strlen(p);
	*buf = (unsigned char *)strdup(p);
	assert_non_null(*buf);
	return 0;
}

static void trust_keys(struct lp_trust *t, const char *pub, const char *pub2)
{
	struct lp_err err = { 0 };

	lp_trust_init(t);
	if (pub && lp_trust_add_key(t, pub, &err) < 0)
		fail_msg("%s", err.msg);
	if (pub2 && lp_trust_add_key(t, pub2, &err) < 0)
		fail_msg("%s", err.msg);
}

static struct lp_cosign_want want_tag(void)
{
	return (struct lp_cosign_want){
		.digest = digest, .reference = REF, .repository = REPO, .display = "app:1.4" };
}

/*
 * Push layers as an attachment, then verify them all against w with the
 * keys of t: what lp_cosign_verify_any returns, *fetched how many payloads
 * it fetched.
 */
static int run(const struct lp_trust *t, const struct lp_cosign_want *w, const struct layer *layers,
	       size_t n, const char **key, struct lp_err *err, size_t *fetched)
{
	const char *payloads[8];
	struct lp_cosign_sigs sigs;
	struct fetcher f = { .sigs = &sigs, .payloads = payloads };
	char *json = attachment(layers, n);
	size_t i, k = 0;
	int rc;

	for (i = 0; i < n; i++)
		if (!strcmp(layers[i].type, LP_COSIGN_SIG_TYPE))
			payloads[k++] = layers[i].payload;
	if (lp_cosign_parse_manifest(json, strlen(json), &sigs, err) < 0)
		fail_msg("manifest: %s", err->msg);
	free(json);
	assert_int_equal(sigs.n, k);
	rc = lp_cosign_verify_any(t, w, &sigs, fetch, &f, key, err);
	if (fetched)
		*fetched = f.fetched;
	lp_cosign_sigs_free(&sigs);
	return rc;
}

/* One signature layer by key over payload: accepted, and the key is named. */
static void accepted(const struct lp_trust *t, const struct lp_cosign_want *w, const char *key,
		     const char *payload, const char *want_key)
{
	char *b64 = sign_b64(key, payload);
	struct layer l = { LP_COSIGN_SIG_TYPE, payload, b64 };
	struct lp_err err = { 0 };
	const char *signer = NULL;

	if (run(t, w, &l, 1, &signer, &err, NULL) < 0)
		fail_msg("refused: %s\npayload: %s", err.msg, payload);
	assert_string_equal(signer, want_key);
	free(b64);
}

/* One signature layer by key over payload: refused with exactly want_msg. */
static void refused(const struct lp_trust *t, const struct lp_cosign_want *w, const char *key,
		    const char *payload, const char *want_msg)
{
	char *b64 = sign_b64(key, payload);
	struct layer l = { LP_COSIGN_SIG_TYPE, payload, b64 };
	struct lp_err err = { 0 };
	const char *signer = NULL;

	assert_int_equal(run(t, w, &l, 1, &signer, &err, NULL), -1);
	assert_null(signer);
	assert_int_equal(err.code, EKEYREJECTED);
	assert_string_equal(err.msg, want_msg);
	free(b64);
}

/* "app:1.4 (sha256:<first 12 of D>...): " */
static const char *prefix(void)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "app:1.4 (%.19s...): ", digest);
	return buf;
}

static int setup(void **state)
{
	char cmd[PATH_MAX * 3 + 128];
	struct lp_err err = { 0 };

	if (!mkdtemp(dir))
		return -1;
	in_dir(key_a, "a.key");
	in_dir(pub_a, "a.pub");
	in_dir(key_b, "b.key");
	in_dir(pub_b, "b.pub");
	in_dir(key_rsa, "rsa.key");
	in_dir(pub_rsa, "rsa.pub");
	if (lp_keygen(key_a, pub_a, &err) < 0 || lp_keygen(key_b, pub_b, &err) < 0) {
		fprintf(stderr, "keygen: %s\n", err.msg);
		return -1;
	}
	/* lp_keygen makes P-256 keys only */
	snprintf(cmd, sizeof(cmd),
		 "openssl genrsa -out %s 2048 2>/dev/null && "
		 "openssl rsa -in %s -pubout -out %s 2>/dev/null",
		 key_rsa, key_rsa, pub_rsa);
	if (system(cmd) != 0)
		return -1;
	digest_of("the image manifest", 18, digest);
	return 0;
}

static int teardown(void **state)
{
	struct lp_err err = { 0 };

	return lp_remove_tree(dir, &err);
}

/* ---------------------------------------------------------------- tests */

static void test_sig_tag(void **state)
{
	char tag[LP_COSIGN_TAG_LEN], want[LP_COSIGN_TAG_LEN];
	struct lp_err err = { 0 };

	assert_int_equal(lp_cosign_sig_tag(digest, tag, &err), 0);
	snprintf(want, sizeof(want), "sha256-%s.sig", digest + 7);
	assert_string_equal(tag, want);
	assert_int_equal(strlen(tag) + 1, LP_COSIGN_TAG_LEN);
	assert_int_equal(lp_cosign_sig_tag("sha256:abc", tag, &err), -1);
	assert_int_equal(lp_cosign_sig_tag("sha512:abc", tag, &err), -1);
}

static void test_good(void **state)
{
	struct lp_cosign_want w = want_tag();
	struct lp_trust t;
	char *p = skopeo_payload(digest, REF);

	trust_keys(&t, pub_b, pub_a);
	accepted(&t, &w, key_a, p, pub_a);
	lp_trust_free(&t);
	/* RSA, PKCS#1 v1.5 */
	trust_keys(&t, pub_rsa, NULL);
	accepted(&t, &w, key_rsa, p, pub_rsa);
	lp_trust_free(&t);
	free(p);
}

static void test_other_key(void **state)
{
	struct lp_cosign_want w = want_tag();
	char *p = skopeo_payload(digest, REF), want[512];
	struct lp_trust t;

	trust_keys(&t, pub_b, NULL);
	snprintf(want, sizeof(want),
		 "%sno signature by a trusted key (sha256-%.12s....sig: 1 signature, "
		 "not by the 1 trusted key)",
		 prefix(), digest + 7);
	refused(&t, &w, key_a, p, want);
	lp_trust_free(&t);
	free(p);
}

static void test_other_digest(void **state)
{
	struct lp_cosign_want w = want_tag();
	char *p = skopeo_payload(OTHER_DIGEST, REF), want[512];
	struct lp_trust t;

	trust_keys(&t, pub_a, NULL);
	snprintf(want, sizeof(want), "%ssignature is for sha256:0123456789ab..., not %.19s...",
		 prefix(), digest);
	refused(&t, &w, key_a, p, want);
	lp_trust_free(&t);
	free(p);
}

static void test_other_reference(void **state)
{
	struct lp_cosign_want w = want_tag();
	char want[512], *p;
	struct lp_trust t;

	trust_keys(&t, pub_a, NULL);
	p = skopeo_payload(digest, REPO ":1.3");
	snprintf(want, sizeof(want), "%ssignature is for " REPO ":1.3, not " REF, prefix());
	refused(&t, &w, key_a, p, want);
	free(p);
	p = skopeo_payload(digest, "localhost:5000/other:1.4");
	snprintf(want, sizeof(want), "%ssignature is for localhost:5000/other:1.4, not " REF,
		 prefix());
	refused(&t, &w, key_a, p, want);
	free(p);
	/* another registry's port is another repository */
	p = skopeo_payload(digest, "localhost:5001/app:1.4");
	snprintf(want, sizeof(want), "%ssignature is for localhost:5001/app:1.4, not " REF,
		 prefix());
	refused(&t, &w, key_a, p, want);
	free(p);
	lp_trust_free(&t);
}

static void test_by_digest(void **state)
{
	char ref[256], want[512], *p;
	struct lp_cosign_want w = want_tag();
	struct lp_trust t;

	snprintf(ref, sizeof(ref), REPO "@%s", digest);
	w.reference = ref;
	w.display = NULL;
	trust_keys(&t, pub_a, NULL);
	/* whatever tag was signed: the digest says which manifest */
	p = skopeo_payload(digest, REPO ":latest");
	accepted(&t, &w, key_a, p, pub_a);
	free(p);
	p = cosign_payload(digest, REPO);
	accepted(&t, &w, key_a, p, pub_a);
	free(p);
	p = skopeo_payload(digest, ref);
	accepted(&t, &w, key_a, p, pub_a);
	free(p);

	p = skopeo_payload(digest, "localhost:5000/other:1.4");
	snprintf(want, sizeof(want),
		 "%s (%.19s...): signature is for localhost:5000/other:1.4, not the "
		 "repository " REPO,
		 ref, digest);
	refused(&t, &w, key_a, p, want);
	free(p);
	/* a repository whose name starts with ours is not ours */
	p = skopeo_payload(digest, REPO "x:1.4");
	snprintf(want, sizeof(want),
		 "%s (%.19s...): signature is for " REPO "x:1.4, not the repository " REPO, ref,
		 digest);
	refused(&t, &w, key_a, p, want);
	free(p);
	lp_trust_free(&t);
}

static void test_tagless_identity(void **state)
{
	struct lp_cosign_want w = want_tag();
	char *p = cosign_payload(digest, REPO), want[512];
	struct lp_trust t;

	trust_keys(&t, pub_a, NULL);
	snprintf(want, sizeof(want),
		 "%ssignature is for " REPO ", any tag, not " REF " exactly "
		 "(signatures = \"repository\" accepts it)",
		 prefix());
	refused(&t, &w, key_a, p, want);
	w.match_repository = true;
	accepted(&t, &w, key_a, p, pub_a);
	/* the flag accepts a tagless identity, not another tag */
	free(p);
	p = skopeo_payload(digest, REPO ":1.3");
	snprintf(want, sizeof(want), "%ssignature is for " REPO ":1.3, not " REF, prefix());
	refused(&t, &w, key_a, p, want);
	free(p);
	p = cosign_payload(digest, "localhost:5000/other");
	snprintf(want, sizeof(want), "%ssignature is for localhost:5000/other, not " REF, prefix());
	refused(&t, &w, key_a, p, want);
	free(p);
	lp_trust_free(&t);
}

/* A payload signed by a trusted key, refused for its JSON with msg in the message. */
static void payload_refused(const struct lp_trust *t, const char *payload, const char *msg)
{
	struct lp_cosign_want w = want_tag();
	char *b64 = sign_b64(key_a, payload);
	struct layer l = { LP_COSIGN_SIG_TYPE, payload, b64 };
	struct lp_err err = { 0 };
	char want[512];

	assert_int_equal(run(t, &w, &l, 1, NULL, &err, NULL), -1);
	snprintf(want, sizeof(want), "%ssigned payload: %s", prefix(), msg);
	if (strncmp(err.msg, want, strlen(want)))
		fail_msg("payload %s\nwant \"%s...\"\ngot  \"%s\"", payload, want, err.msg);
	free(b64);
}

#define CRIT(identity, image, type) \
	"{\"critical\":{\"identity\":" identity ",\"image\":" image ",\"type\":" type "}"
#define ID "{\"docker-reference\":\"" REF "\"}"
#define IMG "{\"docker-manifest-digest\":\"%s\"}"
#define TYPE "\"cosign container image signature\""

static void test_payload_strict(void **state)
{
	static const struct {
		const char *fmt;	/* %s: the digest */
		const char *msg;	/* NULL: accepted */
	} cases[] = {
		{ CRIT(ID, IMG, TYPE) ",\"optional\":null}", NULL },
		{ CRIT(ID, IMG, TYPE) ",\"optional\":{}}", NULL },
		/* unknown optional keys are anyone's */
		{ CRIT(ID, IMG, TYPE) ",\"optional\":{\"x\":[1,{}],\"timestamp\":1.7e9}}", NULL },
		{ CRIT(ID, IMG, TYPE) ",\"optional\":{\"creator\":null,\"timestamp\":null}}", NULL },
		{ CRIT(ID, IMG, TYPE) "}", "JSON: \"optional\" is missing" },
		{ CRIT(ID, IMG, TYPE) ",\"optional\":null,\"extra\":1}", "extra: unknown field" },
		{ "{\"optional\":null}", "JSON: \"critical\" is missing" },
		{ CRIT(ID, IMG, TYPE) ",\"optional\":\"x\"}",
		  "optional: expected an object or null, got a string" },
		{ CRIT(ID, IMG, TYPE) ",\"optional\":{\"timestamp\":1.5}}",
		  "optional.timestamp: expected an integer, got a real number" },
		{ CRIT(ID, IMG, TYPE) ",\"optional\":{\"timestamp\":\"1\"}}",
		  "optional.timestamp: expected an integer, got a string" },
		{ CRIT(ID, IMG, TYPE) ",\"optional\":{\"creator\":7}}",
		  "optional.creator: expected a string, got an integer" },
		{ "{\"critical\":{\"identity\":" ID ",\"image\":" IMG ",\"type\":" TYPE
		  ",\"x\":1},\"optional\":null}",
		  "critical.x: unknown field" },
		{ "{\"critical\":{\"identity\":" ID ",\"image\":" IMG "},\"optional\":null}",
		  "critical: \"type\" is missing" },
		{ "{\"critical\":{\"image\":" IMG ",\"type\":" TYPE "},\"optional\":null}",
		  "critical: \"identity\" is missing" },
		{ CRIT(ID, "{\"docker-manifest-digest\":\"%s\",\"x\":1}", TYPE)
		  ",\"optional\":null}",
		  "critical.image.x: unknown field" },
		{ CRIT("{\"docker-reference\":\"" REF "\",\"docker-tag\":\"1.4\"}", IMG, TYPE)
		  ",\"optional\":null}",
		  "critical.identity.docker-tag: unknown field" },
		{ CRIT("{}", IMG, TYPE) ",\"optional\":null}",
		  "critical.identity: \"docker-reference\" is missing" },
		{ CRIT("{\"docker-reference\":null}", IMG, TYPE) ",\"optional\":null}",
		  "critical.identity.docker-reference: expected a string, got null" },
		{ CRIT("\"" REF "\"", IMG, TYPE) ",\"optional\":null}",
		  "critical.identity: expected an object, got a string" },
		{ CRIT(ID, IMG, "\"atomic container signature\"") ",\"optional\":null}",
		  "critical.type: \"atomic container signature\", not "
		  "\"cosign container image signature\"" },
		{ CRIT(ID, IMG, "7") ",\"optional\":null}",
		  "critical.type: expected a string, got an integer" },
		/* a key twice could mean one thing to us and another to a reviewer */
		{ CRIT(ID, IMG, TYPE) ",\"optional\":null,\"optional\":null}", "not JSON: " },
		{ CRIT(ID, IMG, TYPE) ",\"optional\":null} x", "not JSON: " },
		{ "[]", "JSON: expected an object, got an array" },
	};
	struct lp_cosign_want w = want_tag();
	char payload[1024];
	struct lp_trust t;
	size_t i;

	trust_keys(&t, pub_a, NULL);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(payload, sizeof(payload), cases[i].fmt, digest);
		if (cases[i].msg)
			payload_refused(&t, payload, cases[i].msg);
		else
			accepted(&t, &w, key_a, payload, pub_a);
	}
	lp_trust_free(&t);
}

static void test_payload_parse(void **state)
{
	struct lp_cosign_payload p;
	struct lp_err err = { 0 };
	char *json = skopeo_payload(digest, REF);
	char big[LP_COSIGN_PAYLOAD_MAX + 2];

	assert_int_equal(lp_cosign_payload_parse(json, strlen(json), &p, &err), 0);
	assert_string_equal(p.digest, digest);
	assert_string_equal(p.reference, REF);
	lp_cosign_payload_free(&p);
	lp_cosign_payload_free(&p);
	free(json);

	memset(big, ' ', sizeof(big));
	assert_int_equal(lp_cosign_payload_parse(big, sizeof(big), &p, &err), -1);
	assert_int_equal(err.code, EFBIG);
	lp_cosign_payload_free(&p);
}

static void test_signature_garbage(void **state)
{
	struct lp_cosign_want w = want_tag();
	char *p = skopeo_payload(digest, REF), *good = sign_b64(key_a, p), want[512];
	struct layer l[] = {
		{ LP_COSIGN_SIG_TYPE, p, "!!! not base64 !!!" },
		{ LP_COSIGN_SIG_TYPE, p, "" },
		{ LP_COSIGN_SIG_TYPE, p, "aGVsbG8K" },
		{ LP_COSIGN_SIG_TYPE, p, good + 4 },	/* cut short */
	};
	struct lp_err err = { 0 };
	struct lp_trust t;
	size_t fetched = 0;

	trust_keys(&t, pub_a, pub_b);
	assert_int_equal(run(&t, &w, l, ARRAY_SIZE(l), NULL, &err, &fetched), -1);
	snprintf(want, sizeof(want),
		 "%sno signature by a trusted key (sha256-%.12s....sig: 4 signatures, "
		 "none by the 2 trusted keys)",
		 prefix(), digest + 7);
	assert_string_equal(err.msg, want);
	assert_int_equal(fetched, 0);
	lp_trust_free(&t);
	free(good);
	free(p);
}

static void test_second_layer_good(void **state)
{
	struct lp_cosign_want w = want_tag();
	char *p = skopeo_payload(digest, REF), *by_b = sign_b64(key_b, p),
	     *by_a = sign_b64(key_a, p);
	struct layer l[] = {
		{ LP_COSIGN_SIG_TYPE, p, by_b },
		{ LP_COSIGN_SIG_TYPE, p, by_a },
	};
	struct lp_err err = { 0 };
	const char *key = NULL;
	struct lp_trust t;
	size_t fetched = 0;

	trust_keys(&t, pub_a, NULL);
	if (run(&t, &w, l, 2, &key, &err, &fetched) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(key, pub_a);
	/* a stranger's signature is checked against the descriptor's digest: no fetch */
	assert_int_equal(fetched, 1);
	/* the first that checks out ends the search */
	l[0].sig = by_a;
	l[1].sig = by_b;
	key = NULL;
	assert_int_equal(run(&t, &w, l, 2, &key, &err, &fetched), 0);
	assert_string_equal(key, pub_a);
	assert_int_equal(fetched, 1);
	/* trusted both: the first */
	lp_trust_free(&t);
	trust_keys(&t, pub_a, pub_b);
	assert_int_equal(run(&t, &w, l, 2, &key, &err, &fetched), 0);
	assert_string_equal(key, pub_a);
	assert_int_equal(fetched, 1);
	lp_trust_free(&t);
	free(by_a);
	free(by_b);
	free(p);
}

/* The furthest a trusted signature got is what the message explains. */
static void test_most_specific_reason(void **state)
{
	struct lp_cosign_want w = want_tag();
	char *right = skopeo_payload(digest, REF), *by_b = sign_b64(key_b, right);
	char *other_digest = skopeo_payload(OTHER_DIGEST, REF);
	char *other_tag = skopeo_payload(digest, REPO ":1.3"), *bad = "{}";
	char *sig_digest = sign_b64(key_a, other_digest), *sig_tag = sign_b64(key_a, other_tag);
	char *sig_bad = sign_b64(key_a, bad);
	struct layer l[] = {
		{ LP_COSIGN_SIG_TYPE, right, by_b },
		{ LP_COSIGN_SIG_TYPE, other_tag, sig_tag },
		{ LP_COSIGN_SIG_TYPE, bad, sig_bad },
		{ LP_COSIGN_SIG_TYPE, other_digest, sig_digest },
	};
	struct lp_err err = { 0 };
	char want[512];
	struct lp_trust t;

	trust_keys(&t, pub_a, NULL);
	assert_int_equal(run(&t, &w, l, ARRAY_SIZE(l), NULL, &err, NULL), -1);
	snprintf(want, sizeof(want), "%ssignature is for " REPO ":1.3, not " REF, prefix());
	assert_string_equal(err.msg, want);
	/* without it: the digest one, then the malformed one */
	assert_int_equal(run(&t, &w, (struct layer[]){ l[0], l[2], l[3] }, 3, NULL, &err, NULL), -1);
	snprintf(want, sizeof(want), "%ssignature is for sha256:0123456789ab..., not %.19s...",
		 prefix(), digest);
	assert_string_equal(err.msg, want);
	assert_int_equal(run(&t, &w, (struct layer[]){ l[2], l[0] }, 2, NULL, &err, NULL), -1);
	snprintf(want, sizeof(want), "%ssigned payload: JSON: \"critical\" is missing", prefix());
	assert_string_equal(err.msg, want);
	lp_trust_free(&t);
	free(right);
	free(by_b);
	free(other_digest);
	free(other_tag);
	free(sig_digest);
	free(sig_tag);
	free(sig_bad);
}

static void test_other_layers_ignored(void **state)
{
	struct lp_cosign_want w = want_tag();
	char *p = skopeo_payload(digest, REF), *by_a = sign_b64(key_a, p), *json;
	struct layer l[] = {
		{ ATTESTATION_TYPE, "{\"payloadType\":\"x\"}", by_a },
		{ LP_COSIGN_SIG_TYPE, p, by_a },
		{ "application/vnd.oci.image.layer.v1.tar", "tar", "x" },
	};
	struct lp_cosign_sigs sigs;
	struct lp_err err = { 0 };
	const char *key = NULL;
	struct lp_trust t;
	size_t fetched = 0;

	json = attachment(l, ARRAY_SIZE(l));
	assert_int_equal(lp_cosign_parse_manifest(json, strlen(json), &sigs, &err), 0);
	assert_int_equal(sigs.n, 1);
	assert_int_equal(sigs.n_other, 2);
	assert_int_equal(sigs.v[0].size, strlen(p));
	assert_string_equal(sigs.v[0].signature, by_a);
	lp_cosign_sigs_free(&sigs);
	free(json);

	trust_keys(&t, pub_a, NULL);
	assert_int_equal(run(&t, &w, l, ARRAY_SIZE(l), &key, &err, &fetched), 0);
	assert_int_equal(fetched, 1);
	/* only other types: no signatures at all */
	assert_int_equal(run(&t, &w, (struct layer[]){ l[0], l[2] }, 2, NULL, &err, NULL), -1);
	assert_int_equal(err.code, EKEYREJECTED);
	assert_non_null(strstr(err.msg, ".sig: no signatures)"));
	lp_trust_free(&t);
	free(by_a);
	free(p);
}

static void manifest_refused(const char *json, int code, const char *msg)
{
	struct lp_cosign_sigs sigs;
	struct lp_err err = { 0 };

	assert_int_equal(lp_cosign_parse_manifest(json, strlen(json), &sigs, &err), -1);
	if (strncmp(err.msg, msg, strlen(msg)))
		fail_msg("manifest %.200s\nwant \"%s...\"\ngot  \"%s\"", json, msg, err.msg);
	assert_int_equal(err.code, code);
	lp_cosign_sigs_free(&sigs);
}

#define M(rest) "{\"schemaVersion\":2,\"config\":{}," rest "}"
#define SIG_LAYER(digest, size, ann)                                                         \
	"{\"mediaType\":\"" LP_COSIGN_SIG_TYPE "\",\"digest\":\"" digest "\",\"size\":" size \
	",\"annotations\":" ann "}"
#define ANN "{\"" LP_COSIGN_SIG_ANNOTATION "\":\"MEUC\"}"

static void test_manifest_errors(void **state)
{
	struct lp_cosign_sigs sigs;
	struct lp_err err = { 0 };
	char *big;
	size_t i, n;

	/* mediaType may be left out (OCI says SHOULD), layers may be none */
	assert_int_equal(lp_cosign_parse_manifest(M("\"layers\":[]"), strlen(M("\"layers\":[]")),
						  &sigs, &err),
			 0);
	assert_int_equal(sigs.n, 0);
	lp_cosign_sigs_free(&sigs);

	manifest_refused("{", EBADMSG, "not JSON: ");
	manifest_refused("[]", EINVAL, "JSON: expected an object, got an array");
	manifest_refused("{\"schemaVersion\":1,\"config\":{},\"layers\":[]}", EBADMSG,
			 "not an OCI image manifest: schemaVersion is not 2");
	manifest_refused(M("\"layers\":[],\"mediaType\":"
			   "\"application/vnd.docker.distribution.manifest.v2+json\""),
			 EBADMSG,
			 "not an OCI image manifest: mediaType is not " LP_COSIGN_MANIFEST_TYPE);
	manifest_refused(M("\"layers\":[],\"manifests\":[]"), EBADMSG,
			 "not an OCI image manifest: it has \"manifests\"");
	manifest_refused(M("\"layers\":{}"), EINVAL, "layers: expected an array, got an object");
	manifest_refused("{\"schemaVersion\":2,\"layers\":[]}", EINVAL,
			 "config: expected an object, got nothing");
	manifest_refused(M("\"layers\":[7]"), EINVAL, "layers[0]: expected an object");
	manifest_refused(M("\"layers\":[{}]"), EINVAL, "layers[0].mediaType: expected a string");
	manifest_refused(M("\"layers\":[" SIG_LAYER("sha512:00", "2", ANN) "]"), EINVAL,
			 "layers[0].digest: 'sha512:00' is not a sha256 digest");
	manifest_refused(M("\"layers\":[" SIG_LAYER(OTHER_DIGEST, "65537", ANN) "]"), ERANGE,
			 "layers[0].size: 65537 is out of range (0 to 65536)");
	manifest_refused(M("\"layers\":[" SIG_LAYER(OTHER_DIGEST, "-1", ANN) "]"), ERANGE,
			 "layers[0].size: -1 is out of range");
	manifest_refused(M("\"layers\":[" SIG_LAYER(OTHER_DIGEST, "2", "{}") "]"), EINVAL,
			 "layers[0].annotations." LP_COSIGN_SIG_ANNOTATION
			 ": expected a string, got nothing");
	manifest_refused(M("\"layers\":[" SIG_LAYER(OTHER_DIGEST, "2", "null") "]"), EINVAL,
			 "layers[0].annotations: expected an object, got null");

	/* more signatures than anyone signs with: each would cost a fetch */
	for (n = LP_COSIGN_SIGS_MAX; n <= LP_COSIGN_SIGS_MAX + 1; n++) {
		big = malloc(64 + n * 300);
		assert_non_null(big);
		strcpy(big, "{\"schemaVersion\":2,\"config\":{},\"layers\":[");
		for (i = 0; i < n; i++)
			strcat(strcat(big, i ? "," : ""), SIG_LAYER(OTHER_DIGEST, "2", ANN));
		strcat(big, "]}");
		if (n > LP_COSIGN_SIGS_MAX) {
			manifest_refused(big, E2BIG, "more than 64 signatures");
		} else {
			assert_int_equal(lp_cosign_parse_manifest(big, strlen(big), &sigs, &err),
					 0);
			assert_int_equal(sigs.n, LP_COSIGN_SIGS_MAX);
			lp_cosign_sigs_free(&sigs);
		}
		free(big);
	}

	assert_int_equal(lp_cosign_parse_manifest("{}", LP_COSIGN_MANIFEST_MAX + 1, &sigs, &err),
			 -1);
	assert_int_equal(err.code, EFBIG);
	lp_cosign_sigs_free(&sigs);
}

/* A blob that is not what its layer names never reaches the key check. */
static void test_payload_not_its_blob(void **state)
{
	struct lp_cosign_want w = want_tag();
	char *p = skopeo_payload(digest, REF), *by_a = sign_b64(key_a, p), want[512];
	char *json = attachment(&(struct layer){ LP_COSIGN_SIG_TYPE, p, by_a }, 1);
	const char *served[] = { NULL };
	struct lp_cosign_sigs sigs;
	struct fetcher f = { .sigs = &sigs, .payloads = served };
	struct lp_err err = { 0 };
	struct lp_trust t;

	trust_keys(&t, pub_a, NULL);
	assert_int_equal(lp_cosign_parse_manifest(json, strlen(json), &sigs, &err), 0);
	/* same length, one byte changed */
	served[0] = strdup(p);
	((char *)served[0])[2] ^= 1;
	assert_int_equal(lp_cosign_verify_any(&t, &w, &sigs, fetch, &f, NULL, &err), -1);
	snprintf(want, sizeof(want), "%spayload %.19s...: content does not match its digest",
		 prefix(), sigs.v[0].digest);
	assert_string_equal(err.msg, want);
	free((char *)served[0]);
	/* longer than the layer says */
	assert_true(asprintf((char **)&served[0], "%s ", p) > 0);
	assert_int_equal(lp_cosign_verify_any(&t, &w, &sigs, fetch, &f, NULL, &err), -1);
	snprintf(want, sizeof(want), "%spayload %.19s...: %zu bytes, not %zu", prefix(),
		 sigs.v[0].digest, strlen(p) + 1, strlen(p));
	assert_string_equal(err.msg, want);
	free((char *)served[0]);

	/* a fetch that fails ends it with the fetch's own message */
	f.fail = true;
	assert_int_equal(lp_cosign_verify_any(&t, &w, &sigs, fetch, &f, NULL, &err), -1);
	assert_int_equal(err.code, EIO);
	assert_non_null(strstr(err.msg, ": 404"));
	lp_cosign_sigs_free(&sigs);
	lp_trust_free(&t);
	free(json);
	free(by_a);
	free(p);
}

static void test_no_keys(void **state)
{
	struct lp_cosign_want w = want_tag();
	char *p = skopeo_payload(digest, REF), *by_a = sign_b64(key_a, p);
	struct layer l = { LP_COSIGN_SIG_TYPE, p, by_a };
	struct lp_err err = { 0 };
	struct lp_trust t;

	lp_trust_init(&t);
	assert_int_equal(run(&t, &w, &l, 1, NULL, &err, NULL), -1);
	assert_int_equal(err.code, ENOKEY);
	assert_non_null(strstr(err.msg, "no trusted keys configured"));
	free(by_a);
	free(p);
}

/* What the image reference parser will do for Docker Hub, in miniature. */
static int toy_normalise(const char *ref, char *out, size_t size, struct lp_err *err)
{
	static const char legacy[] = "index.docker.io/";

	if (strchr(ref, ' '))
		return lp_fail(err, EINVAL, "a space is not allowed");
	if (!strncmp(ref, legacy, strlen(legacy)))
		ref += strlen("index.");
	snprintf(out, size, "%s", ref);
	return 0;
}

static void test_normalised_identity(void **state)
{
	struct lp_cosign_want w = {
		.digest = digest,
		.reference = "docker.io/library/app:1.4",
		.repository = "docker.io/library/app",
		.normalise = toy_normalise,
	};
	char want[512], *p;
	struct lp_trust t;

	trust_keys(&t, pub_a, NULL);
	p = skopeo_payload(digest, "index.docker.io/library/app:1.4");
	accepted(&t, &w, key_a, p, pub_a);
	free(p);
	p = skopeo_payload(digest, "docker.io/library/app:1.4");
	accepted(&t, &w, key_a, p, pub_a);
	free(p);
	p = skopeo_payload(digest, "docker.io/library/app :1.4");
	snprintf(want, sizeof(want),
		 "docker.io/library/app:1.4 (%.19s...): signature names "
		 "\"docker.io/library/app :1.4\": a space is not allowed",
		 digest);
	refused(&t, &w, key_a, p, want);
	free(p);
	/* without a normaliser, as written */
	w.normalise = NULL;
	p = skopeo_payload(digest, "index.docker.io/library/app:1.4");
	snprintf(want, sizeof(want),
		 "docker.io/library/app:1.4 (%.19s...): signature is for "
		 "index.docker.io/library/app:1.4, not docker.io/library/app:1.4",
		 digest);
	refused(&t, &w, key_a, p, want);
	free(p);
	lp_trust_free(&t);
}

static void test_verify_sig(void **state)
{
	struct lp_cosign_want w = want_tag();
	char *p = skopeo_payload(digest, REF), *by_a = sign_b64(key_a, p);
	struct lp_cosign_sig sig = { .size = strlen(p), .signature = by_a };
	struct lp_err err = { 0 };
	const char *key = NULL;
	struct lp_trust t;

	digest_of(p, strlen(p), sig.digest);
	trust_keys(&t, pub_b, pub_a);
	assert_int_equal(lp_cosign_verify_sig(&t, &w, &sig, p, strlen(p), &key, &err), 0);
	assert_string_equal(key, pub_a);
	lp_trust_free(&t);
	trust_keys(&t, pub_b, NULL);
	key = NULL;
	assert_int_equal(lp_cosign_verify_sig(&t, &w, &sig, p, strlen(p), &key, &err), -1);
	assert_null(key);
	assert_int_equal(err.code, EKEYREJECTED);
	lp_trust_free(&t);
	free(by_a);
	free(p);
}

/* ---------------------------------------------------------------- real cosign */

static char *read_fixture(const char *fixtures, const char *name, size_t *len)
{
	struct lp_err err = { 0 };
	char path[PATH_MAX];
	char *buf = NULL;

	snprintf(path, sizeof(path), "%s/%s", fixtures, name);
	if (lp_read_file(path, 1 << 20, &buf, len, &err) < 0)
		fail_msg("%s", err.msg);
	return buf;
}

/*
 * c/image's signature/fixtures: signature-1 is a "dir:" image's signature
 * file ("\0sigstore-json\n" and JSON holding the payload and its
 * annotations), made by cosign over manifest.json for
 * 192.168.64.2:5000/cosign-signed-single-sample.  Pushed, it is a layer of
 * the attachment manifest built here.
 */
static void test_real_cosign(void **state)
{
	static const char magic[] = "\0sigstore-json\n";
	static const char repo[] = "192.168.64.2:5000/cosign-signed-single-sample";
	const char *fixtures = getenv("LIMPET_COSIGN_FIXTURES");
	char pub[PATH_MAX], ref[256], d[LP_DIGEST_STR_LEN], *sigfile, *manifest, *json;
	unsigned char payload[4096];
	size_t len, payload_len = 0;
	struct lp_cosign_want w = { .digest = d, .repository = repo, .reference = ref };
	struct lp_err err = { 0 };
	const char *key = NULL;
	json_t *root;
	struct lp_trust t;

	if (!fixtures)
		fixtures = "/work/shared/fixtures/cosign";
	snprintf(pub, sizeof(pub), "%s/cosign.pub", fixtures);
	if (access(pub, R_OK) < 0) {
		print_message("no cosign fixture in %s: skipped\n", fixtures);
		skip();
	}
	manifest = read_fixture(fixtures, "manifest.json", &len);
	digest_of(manifest, len, d);
	free(manifest);
	sigfile = read_fixture(fixtures, "signature-1", &len);
	assert_true(len > sizeof(magic) - 1 && !memcmp(sigfile, magic, sizeof(magic) - 1));
	root = json_loadb(sigfile + sizeof(magic) - 1, len - (sizeof(magic) - 1), 0, NULL);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(root, "mimeType")),
			    LP_COSIGN_SIG_TYPE);
	assert_int_equal(
		mbedtls_base64_decode(
			payload, sizeof(payload) - 1, &payload_len,
			(const unsigned char *)json_string_value(json_object_get(root, "payload")),
			strlen(json_string_value(json_object_get(root, "payload")))),
		0);
	payload[payload_len] = '\0';
	json = attachment(&(struct layer){ LP_COSIGN_SIG_TYPE, (char *)payload,
					  json_string_value(json_object_get(
						  json_object_get(root, "annotations"),
						  LP_COSIGN_SIG_ANNOTATION)) },
			  1);
	trust_keys(&t, pub, NULL);
	{
		struct lp_cosign_sigs sigs;
		const char *served[] = { (char *)payload };
		struct fetcher f = { .sigs = &sigs, .payloads = served };

		assert_int_equal(lp_cosign_parse_manifest(json, strlen(json), &sigs, &err), 0);
		/* a tag: cosign's tagless identity only with match_repository */
		snprintf(ref, sizeof(ref), "%s:latest", repo);
		assert_int_equal(lp_cosign_verify_any(&t, &w, &sigs, fetch, &f, &key, &err), -1);
		assert_non_null(strstr(err.msg, "any tag, not"));
		w.match_repository = true;
		if (lp_cosign_verify_any(&t, &w, &sigs, fetch, &f, &key, &err) < 0)
			fail_msg("%s", err.msg);
		assert_string_equal(key, pub);
		/* by digest */
		w.match_repository = false;
		snprintf(ref, sizeof(ref), "%s@%s", repo, d);
		if (lp_cosign_verify_any(&t, &w, &sigs, fetch, &f, &key, &err) < 0)
			fail_msg("%s", err.msg);
		lp_cosign_sigs_free(&sigs);
	}
	lp_trust_free(&t);
	json_decref(root);
	free(json);
	free(sigfile);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sig_tag),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_other_key),
		cmocka_unit_test(test_other_digest),
		cmocka_unit_test(test_other_reference),
		cmocka_unit_test(test_by_digest),
		cmocka_unit_test(test_tagless_identity),
		cmocka_unit_test(test_payload_strict),
		cmocka_unit_test(test_payload_parse),
		cmocka_unit_test(test_signature_garbage),
		cmocka_unit_test(test_second_layer_good),
		cmocka_unit_test(test_most_specific_reason),
		cmocka_unit_test(test_other_layers_ignored),
		cmocka_unit_test(test_manifest_errors),
		cmocka_unit_test(test_payload_not_its_blob),
		cmocka_unit_test(test_no_keys),
		cmocka_unit_test(test_normalised_identity),
		cmocka_unit_test(test_verify_sig),
		cmocka_unit_test(test_real_cosign),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
