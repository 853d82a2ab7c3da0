// SPDX-License-Identifier: Apache-2.0
/*
 * Cosign `.sig` attachments from a registry (agent/image/registry_sig.c):
 * the attachment manifest, the simple-signing payload, and the whole check
 * of one against the other.  The input is two parts, the manifest and a
 * payload, separated by a line `%%`; the payload is served for every
 * signature layer.  The seeds' signatures are real, by the key below (its
 * private half was thrown away), over payloads for the digest D and
 * localhost:5000/app, so the fuzzer starts from the accepting path too.
 */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>

#include "agent/image/registry_sig.h"

#define D "sha256:9a1e886193c8fa4c9cd9526fb348891d6294c8c2a5139aed3e1d46a227485884"
#define REPO "localhost:5000/app"
#define REF REPO ":1.4"

static const char ec_pub[] = "-----BEGIN PUBLIC KEY-----\n"
			     "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEhYV2sWB0VfuuMKFzR3QOGvY0z/rE\n"
			     "wLz1rlIyZDlsNottLRYG9VitTIkztEdPOxmvGXeU87LislrXT0RWT9lu0Q==\n"
			     "-----END PUBLIC KEY-----\n";

static struct lp_trust trust;

static const struct lp_cosign_want wants[] = {
	{ .digest = D, .reference = REF, .repository = REPO },
	{ .digest = D, .reference = REF, .repository = REPO, .match_repository = true },
	{ .digest = D, .reference = REPO "@" D, .repository = REPO },
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct lp_err err = { 0 };

	lp_trust_init(&trust);
	if (lp_trust_add_key(&trust, fz_write("cosign.pub", ec_pub, strlen(ec_pub)), &err) < 0)
		fz_fail("%s", err.msg);
	return 0;
}

static void check_sigs(const struct lp_cosign_sigs *sigs)
{
	unsigned char d[LP_SHA256_LEN];
	struct lp_err err = { 0 };
	size_t i;

	if (sigs->n > LP_COSIGN_SIGS_MAX)
		fz_fail("%zu signatures kept", sigs->n);
	for (i = 0; i < sigs->n; i++) {
		if (lp_digest_parse(sigs->v[i].digest, d, &err) < 0)
			fz_fail("layer %zu kept with digest %s", i, sigs->v[i].digest);
		if (sigs->v[i].size > LP_COSIGN_PAYLOAD_MAX || !sigs->v[i].signature)
			fz_fail("layer %zu kept with size %llu, signature %p", i,
				(unsigned long long)sigs->v[i].size, (void *)sigs->v[i].signature);
	}
}

/* What is accepted is what w asked for. */
static void check_match(const struct lp_cosign_payload *p, const struct lp_cosign_want *w)
{
	size_t n = strlen(REPO);

	if (strcmp(p->digest, w->digest))
		fz_fail("accepted a signature for %s, not %s", p->digest, w->digest);
	if (strchr(w->reference, '@')) {
		if (strncmp(p->reference, REPO, n) || !strchr(":@", p->reference[n]) ||
		    (p->reference[n] == ':' && strchr(p->reference + n, '/')))
			fz_fail("by digest, accepted %s for %s", p->reference, REPO);
	} else if (strcmp(p->reference, w->reference) &&
		   !(w->match_repository && !strcmp(p->reference, w->repository))) {
		fz_fail("accepted %s for %s", p->reference, w->reference);
	}
}

/* A payload that parsed, written out again as skopeo would, parses the same. */
static void check_round_trip(const struct lp_cosign_payload *p)
{
	struct lp_cosign_payload again;
	struct lp_err err = { 0 };
	json_t *j = json_pack("{s:{s:{s:s}, s:{s:s}, s:s}, s:n}", "critical", "identity",
			      "docker-reference", p->reference, "image", "docker-manifest-digest",
			      p->digest, "type", "cosign container image signature", "optional");
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	if (!text)
		fz_fail("cannot write the payload out again");
	if (lp_cosign_payload_parse(text, strlen(text), &again, &err) < 0)
		fz_fail("written out again, refused: %s", err.msg);
	if (strcmp(again.digest, p->digest) || strcmp(again.reference, p->reference))
		fz_fail("written out again, reads differently");
	lp_cosign_payload_free(&again);
	free(text);
	json_decref(j);
}

struct served {
	const char *p;
	size_t len;
};

static int fetch(void *ctx, const struct lp_cosign_sig *sig, unsigned char **buf, size_t *len,
		 struct lp_err *err)
{
	const struct served *s = ctx;

	*buf = malloc(s->len + 1);
	if (!*buf)
		return lp_fail(err, ENOMEM, "out of memory");
	memcpy(*buf, s->p, s->len);
	*len = s->len;
	return 0;
}

static void check_payload(const char *payload, size_t len)
{
	struct lp_cosign_payload p;
	struct lp_err err = { 0 };
	size_t i;

	if (lp_cosign_payload_parse(payload, len, &p, &err) < 0) {
		fz_check_err(&err);
		lp_cosign_payload_free(&p);
		return;
	}
	if (!p.digest || !p.reference)
		fz_fail("parsed, with a field missing");
	check_round_trip(&p);
	for (i = 0; i < ARRAY_SIZE(wants); i++) {
		if (lp_cosign_payload_match(&p, &wants[i], &err) == 0)
			check_match(&p, &wants[i]);
		else
			fz_check_err(&err);
	}
	lp_cosign_payload_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_part part[2];
	struct lp_cosign_sigs sigs;
	struct lp_cosign_payload p;
	struct lp_err err = { 0 };
	struct served served;
	const char *key;
	size_t n = fz_split(data, size, part, 2), i;

	served.p = n > 1 ? part[1].p : "";
	served.len = n > 1 ? part[1].len : 0;
	check_payload(served.p, served.len);
	if (lp_cosign_parse_manifest(part[0].p, part[0].len, &sigs, &err) < 0) {
		fz_check_err(&err);
		lp_cosign_sigs_free(&sigs);
		return 0;
	}
	check_sigs(&sigs);
	for (i = 0; i < ARRAY_SIZE(wants); i++) {
		key = NULL;
		if (lp_cosign_verify_any(&trust, &wants[i], &sigs, fetch, &served, &key, &err) <
		    0) {
			fz_check_err(&err);
			continue;
		}
		/* accepted: the payload served checked out all the way */
		if (!key || !strstr(key, "cosign.pub"))
			fz_fail("verified, but names no key");
		if (lp_cosign_payload_parse(served.p, served.len, &p, &err) < 0)
			fz_fail("accepted a payload that does not parse: %s", err.msg);
		check_match(&p, &wants[i]);
		lp_cosign_payload_free(&p);
	}
	lp_cosign_sigs_free(&sigs);
	return 0;
}
