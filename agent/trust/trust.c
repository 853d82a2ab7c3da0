// SPDX-License-Identifier: Apache-2.0
/*
 * SHA-256, signature checks against trusted public keys, and key generation
 * and signing for the build side, all done by mbedtls.  Built against
 * mbedtls 2.28 (Debian 12); the few calls whose signatures changed in 3.x
 * go through the wrappers at the top, which target 3.6.
 */
#include "agent/trust/trust.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>

#include "platform/lib/util.h"
#include "agent/trust/sha256_hw.h"

#define HASH_CHUNK (64 * 1024)
#define KEY_FILE_MAX (64 * 1024)	/* an RSA-8192 private key PEM is ~6.5K */
#define KEY_PEM_MAX 1024		/* a P-256 key pair in PEM is ~230 bytes */
#define RSA_MIN_BITS 2048

struct lp_trust_key {
	char *name;		/* the PEM path, as given */
	mbedtls_pk_context pk;
};

struct rng {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

/* ---------------------------------------------------------------- mbedtls 2.28 / 3.x */

static int sha256_starts(mbedtls_sha256_context *ctx)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_sha256_starts(ctx, 0);
#else
	return mbedtls_sha256_starts_ret(ctx, 0);
#endif
}

static int sha256_update(mbedtls_sha256_context *ctx, const unsigned char *data, size_t len)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_sha256_update(ctx, data, len);
#else
	return mbedtls_sha256_update_ret(ctx, data, len);
#endif
}

static int sha256_finish(mbedtls_sha256_context *ctx, unsigned char out[LP_SHA256_LEN])
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_sha256_finish(ctx, out);
#else
	return mbedtls_sha256_finish_ret(ctx, out);
#endif
}

static int pk_sign_sha256(mbedtls_pk_context *pk, const unsigned char digest[LP_SHA256_LEN],
			  unsigned char *sig, size_t sig_size, size_t *sig_len, struct rng *rng)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, digest, LP_SHA256_LEN, sig, sig_size, sig_len,
			       mbedtls_ctr_drbg_random, &rng->drbg);
#else
	(void)sig_size;	/* 2.x trusts the buffer to hold MBEDTLS_PK_SIGNATURE_MAX_SIZE */
	return mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, digest, LP_SHA256_LEN, sig, sig_len,
			       mbedtls_ctr_drbg_random, &rng->drbg);
#endif
}

/* 3.x wants a generator to blind the key checks it does while parsing. */
static int pk_parse_private(mbedtls_pk_context *pk, const unsigned char *key, size_t len,
			    struct rng *rng)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_pk_parse_key(pk, key, len, NULL, 0, mbedtls_ctr_drbg_random, &rng->drbg);
#else
	(void)rng;
	return mbedtls_pk_parse_key(pk, key, len, NULL, 0);
#endif
}

/* The group became private in 3.0; 3.6 added the accessor. */
static mbedtls_ecp_group_id pk_curve(const mbedtls_pk_context *pk)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	return mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(*pk));
#else
	return mbedtls_pk_ec(*pk)->grp.id;
#endif
}

/* ---------------------------------------------------------------- helpers */

static int fail_mbedtls(struct lp_err *err, int rc, const char *what)
{
	char text[200];

	mbedtls_strerror(rc, text, sizeof(text));
	return lp_fail(err, EINVAL, "%s: %s", what, text);
}

/* Free a buffer that held key material, wiping it first. */
static void free_secret(char *buf, size_t len)
{
	if (!buf)
		return;
	mbedtls_platform_zeroize(buf, len);
	free(buf);
}

/* Reads all of a key file; *len excludes the NUL lp_read_file appends. */
static int read_key_file(const char *path, char **buf, size_t *len, struct lp_err *err)
{
	if (lp_read_file(path, KEY_FILE_MAX + 1, buf, len, err) < 0)
		return -1;
	if (*len <= KEY_FILE_MAX)
		return 0;
	free_secret(*buf, *len);
	*buf = NULL;
	return lp_fail(err, EFBIG, "%s: larger than %d KiB, not a key", path, KEY_FILE_MAX / 1024);
}

static int rng_init(struct rng *rng, struct lp_err *err)
{
	static const char personal[] = "limpet trust";
	int rc;

	mbedtls_entropy_init(&rng->entropy);
	mbedtls_ctr_drbg_init(&rng->drbg);
	rc = mbedtls_ctr_drbg_seed(&rng->drbg, mbedtls_entropy_func, &rng->entropy,
				   (const unsigned char *)personal, sizeof(personal) - 1);
	if (rc == 0)
		return 0;
	mbedtls_ctr_drbg_free(&rng->drbg);
	mbedtls_entropy_free(&rng->entropy);
	return fail_mbedtls(err, rc, "seeding the random generator");
}

static void rng_free(struct rng *rng)
{
	mbedtls_ctr_drbg_free(&rng->drbg);
	mbedtls_entropy_free(&rng->entropy);
}

/* The signing policy: P-256, or RSA of RSA_MIN_BITS or more. */
static int check_key_kind(const mbedtls_pk_context *pk, struct lp_err *err)
{
	const mbedtls_ecp_curve_info *curve;
	size_t bits = mbedtls_pk_get_bitlen(pk);

	switch (mbedtls_pk_get_type(pk)) {
	case MBEDTLS_PK_RSA:
		if (bits < RSA_MIN_BITS)
			return lp_fail(err, EINVAL, "RSA key of %zu bits is too weak (%d at least)",
				       bits, RSA_MIN_BITS);
		return 0;
	case MBEDTLS_PK_ECKEY:
	case MBEDTLS_PK_ECDSA:
		if (pk_curve(pk) == MBEDTLS_ECP_DP_SECP256R1)
			return 0;
		curve = mbedtls_ecp_curve_info_from_grp_id(pk_curve(pk));
		return lp_fail(err, EINVAL,
			       "EC key on curve %s: only P-256 (prime256v1) is supported",
			       curve ? curve->name : "(unknown)");
	default:
		return lp_fail(err, EINVAL, "%s key: only ECDSA P-256 and RSA keys are supported",
			       mbedtls_pk_get_name(pk));
	}
}

/* ---------------------------------------------------------------- SHA-256 */

static const uint32_t sha256_iv[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

void lp_sha256_init(struct lp_sha256 *h)
{
	memset(h, 0, sizeof(*h));
	mbedtls_sha256_init(&h->ctx);
	h->hw = lp_sha256_hw_available();
	if (h->hw)
		memcpy(h->own.state, sha256_iv, sizeof(sha256_iv));
	else
		h->failed = sha256_starts(&h->ctx);
}

static void hw_update(struct lp_sha256 *h, const unsigned char *p, size_t len)
{
	size_t used = h->own.len % 64, n;

	h->own.len += len;
	if (used) {
		n = len < 64 - used ? len : 64 - used;
		memcpy(h->own.block + used, p, n);
		p += n;
		len -= n;
		if (used + n < 64)
			return;
		lp_sha256_hw_blocks(h->own.state, h->own.block, 1);
	}
	if (len >= 64)
		lp_sha256_hw_blocks(h->own.state, p, len / 64);
	memcpy(h->own.block, p + len / 64 * 64, len % 64);
}

/* FIPS 180-4's padding: 0x80, zeros, the length in bits, big-endian. */
static void hw_final(struct lp_sha256 *h, unsigned char out[LP_SHA256_LEN])
{
	unsigned char pad[72] = { 0x80 };
	uint64_t bits = h->own.len * 8;
	size_t used = h->own.len % 64, n = (used < 56 ? 56 : 120) - used;
	int i;

	for (i = 0; i < 8; i++)
		pad[n + i] = (unsigned char)(bits >> (56 - 8 * i));
	hw_update(h, pad, n + 8);
	for (i = 0; i < 32; i++)
		out[i] = (unsigned char)(h->own.state[i / 4] >> (24 - 8 * (i % 4)));
}

void lp_sha256_update(struct lp_sha256 *h, const void *data, size_t len)
{
	if (h->hw)
		hw_update(h, data, len);
	else if (!h->failed)
		h->failed = sha256_update(&h->ctx, data, len);
}

int lp_sha256_final(struct lp_sha256 *h, unsigned char out[LP_SHA256_LEN], struct lp_err *err)
{
	if (h->hw)
		hw_final(h, out);
	else if (!h->failed)
		h->failed = sha256_finish(&h->ctx, out);
	if (h->failed)
		return fail_mbedtls(err, h->failed, "SHA-256");
	return 0;
}

void lp_sha256_free(struct lp_sha256 *h)
{
	mbedtls_sha256_free(&h->ctx);
	mbedtls_platform_zeroize(&h->own, sizeof(h->own));
}

int lp_sha256_buf(const void *data, size_t len, unsigned char out[LP_SHA256_LEN],
		  struct lp_err *err)
{
	struct lp_sha256 h;
	int ret;

	lp_sha256_init(&h);
	lp_sha256_update(&h, data, len);
	ret = lp_sha256_final(&h, out, err);
	lp_sha256_free(&h);
	return ret;
}

int lp_sha256_fd(int fd, unsigned char out[LP_SHA256_LEN], uint64_t *size, struct lp_err *err)
{
	cleanup_free unsigned char *buf = malloc(HASH_CHUNK);
	struct lp_sha256 h;
	uint64_t total = 0;
	int ret;

	if (!buf)
		return lp_fail(err, ENOMEM, "out of memory");
	lp_sha256_init(&h);
	for (;;) {
		ssize_t n = read(fd, buf, HASH_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			lp_sha256_free(&h);
			return lp_fail_errno(err, "read");
		}
		if (n == 0)
			break;
		lp_sha256_update(&h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	ret = lp_sha256_final(&h, out, err);
	lp_sha256_free(&h);
	if (ret == 0 && size)
		*size = total;
	return ret;
}

void lp_hex(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int lp_digest_parse(const char *s, unsigned char out[LP_SHA256_LEN], struct lp_err *err)
{
	static const char prefix[] = "sha256:";
	const size_t prefix_len = sizeof(prefix) - 1;
	unsigned char d[LP_SHA256_LEN];
	const char *hex = s + prefix_len;
	size_t i;

	if (strncmp(s, prefix, prefix_len) || strlen(hex) != LP_SHA256_HEX_LEN)
		goto bad;
	for (i = 0; i < LP_SHA256_LEN; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			goto bad;
		d[i] = (unsigned char)(hi << 4 | lo);
	}
	memcpy(out, d, sizeof(d));
	return 0;
bad:
	return lp_fail(err, EINVAL,
		       "'%.80s' is not a sha256 digest (\"sha256:\" and 64 lowercase hex digits)",
		       s);
}

/* ---------------------------------------------------------------- trusted keys */

void lp_trust_init(struct lp_trust *t)
{
	t->keys = NULL;
	t->n_keys = 0;
}

void lp_trust_free(struct lp_trust *t)
{
	size_t i;

	for (i = 0; i < t->n_keys; i++) {
		mbedtls_pk_free(&t->keys[i].pk);
		free(t->keys[i].name);
	}
	free(t->keys);
	lp_trust_init(t);
}

static bool trusted_already(const struct lp_trust *t, const char *pem_path)
{
	size_t i;

	for (i = 0; i < t->n_keys; i++)
		if (!strcmp(t->keys[i].name, pem_path))
			return true;
	return false;
}

/* A private key where a public one belongs is a mistake worth naming. */
static int parse_public_pem(const char *path, const char *pem, size_t len,
			    mbedtls_pk_context *pk, struct lp_err *err)
{
	/* PEM input is parsed only when the length counts the final NUL */
	int rc = mbedtls_pk_parse_public_key(pk, (const unsigned char *)pem, len + 1);

	if (rc == 0)
		return 0;
	if (strstr(pem, "PRIVATE KEY-----"))
		return lp_fail(err, EINVAL,
			       "%s: is a private key; trust its public key (openssl pkey -pubout)",
			       path);
	fail_mbedtls(err, rc, "not a PEM public key");
	return lp_prefix(err, "%s", path);
}

static int load_public_key(const char *path, mbedtls_pk_context *pk, struct lp_err *err)
{
	cleanup_free char *pem = NULL;
	size_t len = 0;

	if (read_key_file(path, &pem, &len, err) < 0)
		return -1;
	if (parse_public_pem(path, pem, len, pk, err) < 0)
		return -1;
	if (check_key_kind(pk, err) < 0)
		return lp_prefix(err, "%s", path);
	return 0;
}

int lp_trust_add_key(struct lp_trust *t, const char *pem_path, struct lp_err *err)
{
	struct lp_trust_key key = { 0 };
	struct lp_trust_key *grown;

	if (trusted_already(t, pem_path))
		return 0;
	mbedtls_pk_init(&key.pk);
	if (load_public_key(pem_path, &key.pk, err) < 0)
		goto fail;
	key.name = strdup(pem_path);
	grown = reallocarray(t->keys, t->n_keys + 1, sizeof(*grown));
	if (grown)
		t->keys = grown;
	if (!key.name || !grown) {
		lp_fail(err, ENOMEM, "out of memory");
		goto fail;
	}
	t->keys[t->n_keys++] = key;
	return 0;
fail:
	free(key.name);
	mbedtls_pk_free(&key.pk);
	return -1;
}

/* ---------------------------------------------------------------- verification */

static int read_signature(const char *path, char **buf, size_t *len, struct lp_err *err)
{
	struct lp_err read_err = { 0 };

	/*
	 * "no such file" is the common case (an unsigned image): say it plainly.
	 * Never through a link: on a stick it could name a host file.
	 */
	if (lp_read_file_nofollow(path, LP_SIG_FILE_MAX + 1, buf, len, &read_err) < 0) {
		if (read_err.code == ENOENT)
			return lp_fail(err, ENOENT, "%s: no such file", path);
		return lp_fail(err, read_err.code, "%s", read_err.msg);
	}
	if (*len <= LP_SIG_FILE_MAX)
		return 0;
	free(*buf);
	*buf = NULL;
	return lp_fail(err, EFBIG, "%s: larger than %d KiB, not a signature", path,
		       LP_SIG_FILE_MAX / 1024);
}

static const struct lp_trust_key *find_signer(const struct lp_trust *t,
					      const unsigned char digest[LP_SHA256_LEN],
					      const unsigned char *sig, size_t sig_len)
{
	size_t i;

	for (i = 0; i < t->n_keys; i++)
		if (mbedtls_pk_verify(&t->keys[i].pk, MBEDTLS_MD_SHA256, digest, LP_SHA256_LEN, sig,
				      sig_len) == 0)
			return &t->keys[i];
	return NULL;
}

/*
 * The base64 form, wrapped or with a trailing newline, to DER.  Returns
 * false if it is not base64; *der is then NULL.
 */
static bool base64_to_der(const char *text, size_t len, unsigned char **der, size_t *der_len)
{
	cleanup_free unsigned char *packed = malloc(len + 1);
	size_t i, n = 0;

	*der = NULL;
	if (!packed)
		return false;
	for (i = 0; i < len; i++)
		if (!isspace((unsigned char)text[i]))
			packed[n++] = (unsigned char)text[i];
	/* decoded data is always shorter than its base64 */
	*der = malloc(n + 1);
	if (!*der)
		return false;
	if (n > 0 && mbedtls_base64_decode(*der, n + 1, der_len, packed, n) == 0)
		return true;
	free(*der);
	*der = NULL;
	return false;
}

static int need_keys(const struct lp_trust *t, struct lp_err *err)
{
	if (t->n_keys > 0)
		return 0;
	return lp_fail(err, ENOKEY, "no trusted keys configured "
				    "(trust = [...] in the config, or --trust PEM)");
}

int lp_trust_verify_buf(const struct lp_trust *t, const unsigned char digest[LP_SHA256_LEN],
			const void *sig, size_t sig_len, const char **key_name, struct lp_err *err)
{
	cleanup_free unsigned char *der = NULL;
	const struct lp_trust_key *signer;
	size_t der_len = 0;

	if (need_keys(t, err) < 0)
		return -1;
	if (sig_len > LP_SIG_FILE_MAX)
		return lp_fail(err, EFBIG, "signature of %zu bytes: larger than %d KiB, not one",
			       sig_len, LP_SIG_FILE_MAX / 1024);
	signer = find_signer(t, digest, sig, sig_len);
	if (!signer && base64_to_der(sig, sig_len, &der, &der_len))
		signer = find_signer(t, digest, der, der_len);
	if (!signer)
		return lp_fail(err, EKEYREJECTED,
			       "signature does not match any trusted key (%zu key%s)", t->n_keys,
			       t->n_keys == 1 ? "" : "s");
	if (key_name)
		*key_name = signer->name;
	return 0;
}

int lp_trust_verify(const struct lp_trust *t, const unsigned char digest[LP_SHA256_LEN],
		    const char *sig_path, const char **key_name, struct lp_err *err)
{
	cleanup_free char *sig = NULL;
	size_t sig_len = 0;

	/* no keys is the mistake to name, whether or not the file is there */
	if (need_keys(t, err) < 0 || read_signature(sig_path, &sig, &sig_len, err) < 0)
		return -1;
	return lp_trust_verify_buf(t, digest, sig, sig_len, key_name, err);
}

/* ---------------------------------------------------------------- signing */

static int load_private_key(const char *path, mbedtls_pk_context *pk, struct rng *rng,
			    struct lp_err *err)
{
	char *pem = NULL;
	size_t len = 0;
	int rc;

	if (read_key_file(path, &pem, &len, err) < 0)
		return -1;
	rc = pk_parse_private(pk, (const unsigned char *)pem, len + 1, rng);
	free_secret(pem, len);
	if (rc != 0) {
		fail_mbedtls(err, rc, "not a PEM private key");
		return lp_prefix(err, "%s", path);
	}
	if (check_key_kind(pk, err) < 0)
		return lp_prefix(err, "%s", path);
	return 0;
}

int lp_sign_digest_to_file(const char *key_pem, const unsigned char digest[LP_SHA256_LEN],
			   const char *sig_path, struct lp_err *err)
{
	unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	mbedtls_pk_context pk;
	struct rng rng;
	size_t sig_len = 0;
	int rc, ret = -1;

	if (rng_init(&rng, err) < 0)
		return -1;
	mbedtls_pk_init(&pk);
	if (load_private_key(key_pem, &pk, &rng, err) < 0)
		goto out;
	rc = pk_sign_sha256(&pk, digest, sig, sizeof(sig), &sig_len, &rng);
	if (rc != 0) {
		fail_mbedtls(err, rc, "signing");
		lp_prefix(err, "%s", key_pem);
		goto out;
	}
	ret = lp_write_file_atomic(sig_path, (const char *)sig, sig_len, err);
out:
	mbedtls_pk_free(&pk);
	rng_free(&rng);
	return ret;
}

/* ---------------------------------------------------------------- key generation */

/* O_EXCL: a private key that exists may be the only copy of a release key. */
static int write_new_private_file(const char *path, const unsigned char *buf, size_t len,
				  struct lp_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0 && errno == EEXIST)
		return lp_fail(err, EEXIST, "%s: already exists; not overwriting a private key",
			       path);
	if (fd < 0)
		return lp_fail_errno(err, "open %s", path);
	if (lp_write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
		lp_fail_errno(err, "write %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) < 0) {
		lp_fail_errno(err, "close %s", path);
		unlink(path);
		return -1;
	}
	return 0;
}

static int write_private_pem(mbedtls_pk_context *pk, const char *path, struct lp_err *err)
{
	unsigned char pem[KEY_PEM_MAX];
	int rc, ret;

	rc = mbedtls_pk_write_key_pem(pk, pem, sizeof(pem));
	if (rc != 0)
		ret = fail_mbedtls(err, rc, "encoding the private key");
	else
		ret = write_new_private_file(path, pem, strlen((const char *)pem), err);
	mbedtls_platform_zeroize(pem, sizeof(pem));
	return ret;
}

static int write_public_pem(mbedtls_pk_context *pk, const char *path, struct lp_err *err)
{
	unsigned char pem[KEY_PEM_MAX];
	int rc;

	rc = mbedtls_pk_write_pubkey_pem(pk, pem, sizeof(pem));
	if (rc != 0)
		return fail_mbedtls(err, rc, "encoding the public key");
	if (lp_write_file_atomic(path, (const char *)pem, strlen((const char *)pem), err) < 0)
		return -1;
	/* the file was created under the umask; a public key is for everyone */
	if (chmod(path, 0644) < 0)
		return lp_fail_errno(err, "chmod %s", path);
	return 0;
}

static int generate_p256(mbedtls_pk_context *pk, struct rng *rng, struct lp_err *err)
{
	int rc = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));

	if (rc == 0)
		rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
					 mbedtls_ctr_drbg_random, &rng->drbg);
	if (rc != 0)
		return fail_mbedtls(err, rc, "generating a P-256 key");
	return 0;
}

int lp_keygen(const char *priv_path, const char *pub_path, struct lp_err *err)
{
	mbedtls_pk_context pk;
	struct rng rng;
	int ret = -1;

	if (rng_init(&rng, err) < 0)
		return -1;
	mbedtls_pk_init(&pk);
	if (generate_p256(&pk, &rng, err) < 0 || write_private_pem(&pk, priv_path, err) < 0)
		goto out;
	/* half a key pair is no use, and it would block the next attempt */
	if (write_public_pem(&pk, pub_path, err) < 0) {
		unlink(priv_path);
		goto out;
	}
	ret = 0;
out:
	mbedtls_pk_free(&pk);
	rng_free(&rng);
	return ret;
}
