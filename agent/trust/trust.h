/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Digests and signatures: SHA-256 of image files, the public keys an image
 * must be signed with, and making keys and signatures for the build side.
 * This module is the only user of mbedtls.
 *
 * A signature is what `openssl dgst -sha256 -sign KEY -out F.sig F` writes:
 * DER, ECDSA P-256 or RSA (2048 bits or more, PKCS#1 v1.5), over the SHA-256
 * of the file.  Its base64 (what `cosign sign-blob --key` prints) is accepted
 * as well.
 */
#ifndef LIMPET_TRUST_H
#define LIMPET_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/sha256.h>

#include "platform/lib/err.h"

#define LP_SHA256_LEN 32
#define LP_SHA256_HEX_LEN (2 * LP_SHA256_LEN)
/* "sha256:" and 64 hex digits, NUL included */
#define LP_DIGEST_STR_LEN (sizeof("sha256:") + LP_SHA256_HEX_LEN)
/* Signature files are a few hundred bytes; anything larger is not one. */
#define LP_SIG_FILE_MAX (16 * 1024)

/*
 * Streaming SHA-256.  A failure is remembered and reported by final.  On a
 * CPU with SHA instructions mbedtls lacks (x86), trust.c hashes with them
 * in the hw part instead.
 */
struct lp_sha256 {
	mbedtls_sha256_context ctx;
	int failed;	/* first mbedtls error, 0 if none */
	bool hw;
	struct {
		uint32_t state[8];
		uint64_t len;	/* bytes hashed */
		unsigned char block[64];	/* the first len % 64 bytes are pending */
	} own;
};

void lp_sha256_init(struct lp_sha256 *h);
void lp_sha256_update(struct lp_sha256 *h, const void *data, size_t len);
int lp_sha256_final(struct lp_sha256 *h, unsigned char out[LP_SHA256_LEN], struct lp_err *err);
/* Wipes the state; safe after final and on a state that was never updated. */
void lp_sha256_free(struct lp_sha256 *h);
/* The digest of len bytes in memory, in one call. */
int lp_sha256_buf(const void *data, size_t len, unsigned char out[LP_SHA256_LEN],
		  struct lp_err *err);

/*
 * Hash from fd's current offset to EOF; *size (if not NULL) gets the number
 * of bytes hashed.  Read errors carry errno; the caller names the file.
 */
int lp_sha256_fd(int fd, unsigned char out[LP_SHA256_LEN], uint64_t *size, struct lp_err *err);

/* Lowercase hex of n bytes; out holds 2n + 1 characters. */
void lp_hex(const unsigned char *d, size_t n, char *out);
/* "sha256:" followed by exactly 64 lowercase hex digits (as OCI writes them). */
int lp_digest_parse(const char *s, unsigned char out[LP_SHA256_LEN], struct lp_err *err);

/* The public keys signatures are checked against. */
struct lp_trust_key;
struct lp_trust {
	struct lp_trust_key *keys;
	size_t n_keys;
};

void lp_trust_init(struct lp_trust *t);
/*
 * Add the public key in a PEM file: ECDSA P-256, or RSA of 2048 bits or
 * more.  Anything else is refused with a message that names the file.
 * A path added before is not added twice.
 */
int lp_trust_add_key(struct lp_trust *t, const char *pem_path, struct lp_err *err);
/* Leaves t empty, as lp_trust_init does: freeing twice is harmless. */
void lp_trust_free(struct lp_trust *t);
#define cleanup_trust __attribute__((cleanup(lp_trust_free)))

/*
 * Check the signature sig (sig_len bytes of DER, or of its base64, as a
 * cosign annotation carries it) over digest against every trusted key.  On
 * success *key_name (if not NULL) points at the path of the key that
 * verified, owned by t.  Refusals: ENOKEY (no keys), EFBIG (longer than
 * LP_SIG_FILE_MAX), EKEYREJECTED (no key verifies it).
 */
int lp_trust_verify_buf(const struct lp_trust *t, const unsigned char digest[LP_SHA256_LEN],
			const void *sig, size_t sig_len, const char **key_name, struct lp_err *err);
/* lp_trust_verify_buf on the content of the file sig_path (a missing one: ENOENT). */
int lp_trust_verify(const struct lp_trust *t, const unsigned char digest[LP_SHA256_LEN],
		    const char *sig_path, const char **key_name, struct lp_err *err);

/* Sign digest with the private key in key_pem; writes DER to sig_path atomically. */
int lp_sign_digest_to_file(const char *key_pem, const unsigned char digest[LP_SHA256_LEN],
			   const char *sig_path, struct lp_err *err);

/*
 * A new ECDSA P-256 key pair: the private key in PEM at priv_path (mode
 * 0600; an existing file is never overwritten) and the public key in PEM at
 * pub_path (0644).
 */
int lp_keygen(const char *priv_path, const char *pub_path, struct lp_err *err);

#endif
