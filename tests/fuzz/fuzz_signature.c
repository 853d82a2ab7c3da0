// SPDX-License-Identifier: Apache-2.0
/*
 * Signature files (agent/trust/trust.c): the .sig beside an image archive or a
 * deployment, from a server or a stick, DER or its base64.  The input is
 * the file; it is checked against an ECDSA P-256 and an RSA key over a
 * fixed digest.  The seeds hold real signatures by those keys (their
 * private halves were thrown away), so the fuzzer starts from the accepting
 * path too.
 */
#include "tests/fuzz/fuzz.h"

#include "agent/trust/trust.h"

/* sha256("limpet fuzz"), what the seeds' signatures sign */
static const char message[] = "limpet fuzz";

static const char ec_pub[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4a2sTJZH1c8PCVQ+UIvraIOJAcx+\n"
	"HQWYP12+Uvl/Hj40QtMZdJoU4to5zMhE8UjpO52sPXURgXehiVoVLcpG1w==\n"
	"-----END PUBLIC KEY-----\n";

static const char rsa_pub[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuMJ7q1zEpwa62Xe4Irik\n"
	"FbSEk0ykKqg85HYH4/++gNTKcKsik2CnMMV5BvlZ34YvoeYA/1QtRqZq9btfk8FO\n"
	"evKJH1a6+Zlgp4HU6ET+GFtzMJbBrrkZN/wxw8N4T7yPYrse7IrogBUn8Zw5FH5G\n"
	"dX7Tr/KDPa9irnebLAi0ZS+NK1Nz34IXkRkURo7HbM+sPtOUKvHDZFw/Y3EpDElS\n"
	"aC+Y4ZjVkhA6cVWeei7g6oXAaCCwE1++4eM5HcFVpCdvmyXBSJqmPgMlqYi/3xFr\n"
	"IzOMbvTEAtkrJsRcYcAii+ThlIRXHatZZZcPq9bMDnUWffMnGT/FS5lEFa4HTALh\n"
	"OQIDAQAB\n"
	"-----END PUBLIC KEY-----\n";

static struct lp_trust trust;
static unsigned char digest[LP_SHA256_LEN];

static void add_key(const char *name, const char *pem)
{
	struct lp_err err = { 0 };

	if (lp_trust_add_key(&trust, fz_write(name, pem, strlen(pem)), &err) < 0)
		fz_fail("%s", err.msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct lp_sha256 h;
	struct lp_err err = { 0 };

	lp_trust_init(&trust);
	add_key("ec.pem", ec_pub);
	add_key("rsa.pem", rsa_pub);
	lp_sha256_init(&h);
	lp_sha256_update(&h, message, strlen(message));
	if (lp_sha256_final(&h, digest, &err) < 0)
		fz_fail("%s", err.msg);
	lp_sha256_free(&h);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fz_write("image.tar.sig", data, size);
	const char *key = NULL;
	struct lp_err err = { 0 };

	if (lp_trust_verify(&trust, digest, path, &key, &err) < 0) {
		fz_check_err(&err);
		if (size <= LP_SIG_FILE_MAX && err.code != EKEYREJECTED)
			fz_fail("refused for an unexpected reason: %s", err.msg);
		return 0;
	}
	if (!key || !strstr(key, ".pem"))
		fz_fail("verified, but names no key");
	return 0;
}
