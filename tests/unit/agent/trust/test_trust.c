// SPDX-License-Identifier: Apache-2.0
/*
 * Digests and signatures: known SHA-256 vectors, keygen/sign/verify round
 * trips, the key policy, and signatures made by openssl (which the tests
 * run through system()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/version.h>

#include "agent/trust/sha256_hw.h"
#include "agent/trust/trust.h"
#include "platform/lib/util.h"

static char dir[] = "/tmp/limpet-trust-XXXXXX";

/* ---------------------------------------------------------------- helpers */

static void in_dir(char path[PATH_MAX], const char *name)
{
	assert_true(snprintf(path, PATH_MAX, "%s/%s", dir, name) < PATH_MAX);
}

/* Run a shell command in the test directory; it must succeed. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	int n, status;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "cd %s && { ", dir);
	va_start(ap, fmt);
	n += vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	assert_true(n + 20 < (int)sizeof(cmd));
	strcat(cmd, "; } >/dev/null 2>&1");
	status = system(cmd);
	if (status != 0)
		fail_msg("command failed (%d): %s", status, cmd);
}

static void write_bytes(const char *path, const void *data, size_t len)
{
	struct lp_err err = { 0 };

	if (lp_write_file(path, data, len, &err) < 0)
		fail_msg("%s", err.msg);
}

/* The one-shot form: the known vectors check it, the streaming form below. */
static void sha256_of(const void *data, size_t len, unsigned char out[LP_SHA256_LEN])
{
	struct lp_err err = { 0 };

	assert_int_equal(lp_sha256_buf(data, len, out, &err), 0);
}

static void assert_hex(const unsigned char d[LP_SHA256_LEN], const char *want)
{
	char hex[LP_SHA256_HEX_LEN + 1];

	lp_hex(d, LP_SHA256_LEN, hex);
	assert_string_equal(hex, want);
}

static void digest_file(const char *path, unsigned char out[LP_SHA256_LEN])
{
	struct lp_err err = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	if (lp_sha256_fd(fd, out, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	close(fd);
}

static void keygen_ok(const char *prefix, char priv[PATH_MAX], char pub[PATH_MAX])
{
	struct lp_err err = { 0 };
	char name[64];

	snprintf(name, sizeof(name), "%s.key", prefix);
	in_dir(priv, name);
	snprintf(name, sizeof(name), "%s.pub", prefix);
	in_dir(pub, name);
	if (lp_keygen(priv, pub, &err) < 0)
		fail_msg("keygen: %s", err.msg);
}

static void trust_ok(struct lp_trust *t, const char *pem)
{
	struct lp_err err = { 0 };

	if (lp_trust_add_key(t, pem, &err) < 0)
		fail_msg("%s", err.msg);
}

static void sign_ok(const char *key, const unsigned char d[LP_SHA256_LEN], const char *sig)
{
	struct lp_err err = { 0 };

	if (lp_sign_digest_to_file(key, d, sig, &err) < 0)
		fail_msg("sign: %s", err.msg);
}

static void verify_ok(const struct lp_trust *t, const unsigned char d[LP_SHA256_LEN],
		      const char *sig, const char *want_key)
{
	struct lp_err err = { 0 };
	const char *key = NULL;

	if (lp_trust_verify(t, d, sig, &key, &err) < 0)
		fail_msg("%s: %s", sig, err.msg);
	assert_string_equal(key, want_key);
}

static void verify_fails(const struct lp_trust *t, const unsigned char d[LP_SHA256_LEN],
			 const char *sig, int code, const char *want_msg)
{
	struct lp_err err = { 0 };
	const char *key = NULL;

	assert_int_equal(lp_trust_verify(t, d, sig, &key, &err), -1);
	assert_null(key);
	assert_int_equal(err.code, code);
	assert_string_equal(err.msg, want_msg);
}

/* The key in pem must be refused with a message naming the file and `why`. */
static void key_refused(const char *pem, const char *why)
{
	struct lp_err err = { 0 };
	struct lp_trust t;

	lp_trust_init(&t);
	assert_int_equal(lp_trust_add_key(&t, pem, &err), -1);
	assert_int_equal(t.n_keys, 0);
	if (strncmp(err.msg, pem, strlen(pem)) || !strstr(err.msg, why))
		fail_msg("want \"%s: ...%s...\", got \"%s\"", pem, why, err.msg);
	lp_trust_free(&t);
}

static int make_dir(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	/* the data every signature test signs; its digest is the one signed */
	sh("head -c 100000 /dev/urandom > data.tar");
	sh("openssl ecparam -genkey -name prime256v1 -noout -out ec.pem && "
	   "openssl pkey -in ec.pem -pubout -out ec.pub");
	sh("openssl genrsa -out rsa2048.pem 2048 && "
	   "openssl rsa -in rsa2048.pem -pubout -out rsa2048.pub");
	return 0;
}

static int remove_dir(void **state)
{
	struct lp_err err = { 0 };

	return lp_remove_tree(dir, &err);
}

/* ---------------------------------------------------------------- digests */

static void test_sha256_vectors(void **state)
{
	static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	unsigned char d[LP_SHA256_LEN];
	struct lp_err err = { 0 };
	struct lp_sha256 h;
	char chunk[997];	/* prime, so the pieces straddle the 64-byte blocks */
	size_t left, n;

	sha256_of("", 0, d);
	assert_hex(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_of("abc", 3, d);
	assert_hex(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_of(two_blocks, strlen(two_blocks), d);
	assert_hex(d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

	/* a million 'a's, fed in pieces */
	memset(chunk, 'a', sizeof(chunk));
	lp_sha256_init(&h);
	for (left = 1000000; left > 0; left -= n) {
		n = left < sizeof(chunk) ? left : sizeof(chunk);
		lp_sha256_update(&h, chunk, n);
	}
	assert_int_equal(lp_sha256_final(&h, d, &err), 0);
	lp_sha256_free(&h);
	assert_hex(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* mbedtls' one-shot SHA-256, the reference for our own code's. */
static void mbedtls_of(const void *data, size_t len, unsigned char out[LP_SHA256_LEN])
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	assert_int_equal(mbedtls_sha256(data, len, out, 0), 0);
#else
	assert_int_equal(mbedtls_sha256_ret(data, len, out, 0), 0);
#endif
}

/*
 * Every length over a few blocks, fed whole and in pieces that start and
 * end anywhere in a block: what the CPU-instruction path (sha256_x86.c)
 * buffers and pads itself must give mbedtls' digest.
 */
static void test_sha256_pieces(void **state)
{
	static unsigned char data[1000];
	unsigned char want[LP_SHA256_LEN], got[LP_SHA256_LEN];
	struct lp_err err = { 0 };
	struct lp_sha256 h;
	size_t len, off, step;

	if (lp_sha256_hw_available())
		print_message("SHA-256 on the CPU's SHA instructions\n");
	for (len = 0; len < sizeof(data); len++)
		data[len] = (unsigned char)(len * 131 % 253);
	for (len = 0; len <= 300; len++) {
		mbedtls_of(data, len, want);
		sha256_of(data, len, got);
		assert_memory_equal(got, want, sizeof(want));
		for (step = 1; step <= 70; step += 3) {
			lp_sha256_init(&h);
			for (off = 0; off < len; off += step)
				lp_sha256_update(&h, data + off, off + step < len ? step : len - off);
			assert_int_equal(lp_sha256_final(&h, got, &err), 0);
			lp_sha256_free(&h);
			assert_memory_equal(got, want, sizeof(want));
		}
	}
	mbedtls_of(data, sizeof(data), want);
	sha256_of(data, sizeof(data), got);
	assert_memory_equal(got, want, sizeof(want));
}

static void test_sha256_fd(void **state)
{
	const size_t len = 200000;	/* several 64 KiB reads and a partial one */
	unsigned char *data = malloc(len);
	unsigned char want[LP_SHA256_LEN], got[LP_SHA256_LEN];
	struct lp_err err = { 0 };
	char path[PATH_MAX];
	uint64_t size = 0;
	size_t i;
	int fd;

	assert_non_null(data);
	for (i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 31 % 251);
	in_dir(path, "hashme");
	write_bytes(path, data, len);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);

	sha256_of(data, len, want);
	assert_int_equal(lp_sha256_fd(fd, got, &size, &err), 0);
	assert_memory_equal(got, want, sizeof(want));
	assert_int_equal(size, len);

	/* from the current offset, not from the start */
	assert_int_equal(lseek(fd, 1000, SEEK_SET), 1000);
	sha256_of(data + 1000, len - 1000, want);
	assert_int_equal(lp_sha256_fd(fd, got, &size, &err), 0);
	assert_memory_equal(got, want, sizeof(want));
	assert_int_equal(size, len - 1000);

	/* at EOF: the digest of nothing */
	assert_int_equal(lp_sha256_fd(fd, got, NULL, &err), 0);
	assert_hex(got, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	close(fd);

	assert_int_equal(lp_sha256_fd(-1, got, &size, &err), -1);
	assert_int_equal(err.code, EBADF);
	assert_string_equal(err.msg, "read: Bad file descriptor");
	free(data);
}

static void test_hex(void **state)
{
	static const unsigned char bytes[] = { 0x00, 0x09, 0xab, 0xf0, 0xff };
	char out[2 * sizeof(bytes) + 1];

	memset(out, 'x', sizeof(out));
	lp_hex(bytes, sizeof(bytes), out);
	assert_string_equal(out, "0009abf0ff");
	lp_hex(bytes, 0, out);
	assert_string_equal(out, "");
}

static void digest_bad(const char *s)
{
	unsigned char d[LP_SHA256_LEN], untouched[LP_SHA256_LEN];
	struct lp_err err = { 0 };

	memset(d, 0x5a, sizeof(d));
	memcpy(untouched, d, sizeof(d));
	if (lp_digest_parse(s, d, &err) != -1)
		fail_msg("accepted '%s'", s);
	assert_int_equal(err.code, EINVAL);
	assert_non_null(strstr(err.msg, "is not a sha256 digest"));
	assert_memory_equal(d, untouched, sizeof(d));
}

static void test_digest_parse(void **state)
{
	static const char abc[] =
		"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	unsigned char d[LP_SHA256_LEN], want[LP_SHA256_LEN];
	char back[LP_DIGEST_STR_LEN];
	struct lp_err err = { 0 };

	assert_int_equal(lp_digest_parse(abc, d, &err), 0);
	sha256_of("abc", 3, want);
	assert_memory_equal(d, want, sizeof(d));
	memcpy(back, "sha256:", 7);
	lp_hex(d, sizeof(d), back + 7);
	assert_string_equal(back, abc);

	digest_bad("");
	digest_bad("sha256:");
	digest_bad("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	digest_bad("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a");
	digest_bad("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0");
	digest_bad("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
	digest_bad("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ag");
	digest_bad("sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	digest_bad("SHA256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	digest_bad(" sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a");
	/* no error object: the caller only wants to know */
	assert_int_equal(lp_digest_parse("sha256:xyz", d, NULL), -1);
}

/* ---------------------------------------------------------------- keygen, sign, verify */

static void test_keygen_files(void **state)
{
	char priv[PATH_MAX], pub[PATH_MAX], *text = NULL, *before = NULL, *after = NULL;
	struct lp_err err = { 0 };
	struct stat st;

	keygen_ok("gen", priv, pub);
	assert_int_equal(stat(priv, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(pub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(lp_read_file(pub, 4096, &text, NULL, &err), 0);
	assert_non_null(strstr(text, "-----BEGIN PUBLIC KEY-----"));
	free(text);
	/* openssl reads both, and sees a P-256 key */
	sh("openssl pkey -in gen.key -noout && "
	   "openssl pkey -pubin -in gen.pub -text -noout | grep -q 'NIST CURVE: P-256'");

	/* an existing private key is never replaced */
	assert_int_equal(lp_read_file(priv, 4096, &before, NULL, &err), 0);
	assert_int_equal(lp_keygen(priv, pub, &err), -1);
	assert_int_equal(err.code, EEXIST);
	assert_non_null(strstr(err.msg, "gen.key: already exists; not overwriting a private key"));
	assert_int_equal(lp_read_file(priv, 4096, &after, NULL, &err), 0);
	assert_string_equal(after, before);
	free(before);
	free(after);
}

static void test_round_trip(void **state)
{
	char priv[PATH_MAX], pub[PATH_MAX], sig[PATH_MAX];
	unsigned char d[LP_SHA256_LEN];
	struct lp_trust t;

	keygen_ok("rt", priv, pub);
	in_dir(sig, "rt.sig");
	sha256_of("abc", 3, d);
	sign_ok(priv, d, sig);

	lp_trust_init(&t);
	trust_ok(&t, pub);
	verify_ok(&t, d, sig, pub);
	lp_trust_free(&t);
	assert_int_equal(t.n_keys, 0);
}

static void test_wrong_key(void **state)
{
	char priv_a[PATH_MAX], pub_a[PATH_MAX], priv_b[PATH_MAX], pub_b[PATH_MAX], sig[PATH_MAX];
	unsigned char d[LP_SHA256_LEN];
	struct lp_trust t;

	keygen_ok("a", priv_a, pub_a);
	keygen_ok("b", priv_b, pub_b);
	in_dir(sig, "a.sig");
	sha256_of("abc", 3, d);
	sign_ok(priv_a, d, sig);

	lp_trust_init(&t);
	trust_ok(&t, pub_b);
	verify_fails(&t, d, sig, EKEYREJECTED, "signature does not match any trusted key (1 key)");
	trust_ok(&t, pub_a);
	verify_ok(&t, d, sig, pub_a);
	/* a key added twice is one key */
	trust_ok(&t, pub_a);
	assert_int_equal(t.n_keys, 2);
	lp_trust_free(&t);
}

static void test_tampering(void **state)
{
	char priv[PATH_MAX], pub[PATH_MAX], sig[PATH_MAX], bad_sig[PATH_MAX], *der = NULL;
	unsigned char d[LP_SHA256_LEN];
	struct lp_err err = { 0 };
	struct lp_trust t;
	size_t len = 0;

	keygen_ok("tamper", priv, pub);
	in_dir(sig, "tamper.sig");
	in_dir(bad_sig, "tamper-bad.sig");
	sha256_of("abc", 3, d);
	sign_ok(priv, d, sig);
	lp_trust_init(&t);
	trust_ok(&t, pub);

	d[31] ^= 1;
	verify_fails(&t, d, sig, EKEYREJECTED, "signature does not match any trusted key (1 key)");
	d[31] ^= 1;

	/* one bit of the signature's last integer flipped */
	assert_int_equal(lp_read_file(sig, 4096, &der, &len, &err), 0);
	der[len - 1] ^= 1;
	write_bytes(bad_sig, der, len);
	verify_fails(&t, d, bad_sig, EKEYREJECTED,
		     "signature does not match any trusted key (1 key)");
	/* valid DER with trailing bytes is not a signature either */
	der[len - 1] ^= 1;
	write_bytes(bad_sig, der, len);
	sh("printf x >> tamper-bad.sig");
	verify_fails(&t, d, bad_sig, EKEYREJECTED,
		     "signature does not match any trusted key (1 key)");
	free(der);
	verify_ok(&t, d, sig, pub);
	lp_trust_free(&t);
}

static void test_base64_signature(void **state)
{
	char priv[PATH_MAX], pub[PATH_MAX], sig[PATH_MAX], b64[PATH_MAX];
	unsigned char d[LP_SHA256_LEN];
	struct lp_trust t;

	keygen_ok("b64", priv, pub);
	in_dir(sig, "b64.sig");
	in_dir(b64, "b64.sig.b64");
	sha256_of("abc", 3, d);
	sign_ok(priv, d, sig);
	lp_trust_init(&t);
	trust_ok(&t, pub);

	/* as cosign prints it: one line, with or without a newline */
	sh("base64 -w0 b64.sig > b64.sig.b64");
	verify_ok(&t, d, b64, pub);
	sh("echo >> b64.sig.b64");
	verify_ok(&t, d, b64, pub);
	/* wrapped, as openssl base64 writes it, with stray spaces */
	sh("base64 -w 8 b64.sig | sed 's/^/ /' > b64.sig.b64");
	verify_ok(&t, d, b64, pub);
	/* not base64 at all */
	sh("echo 'not a signature!' > b64.sig.b64");
	verify_fails(&t, d, b64, EKEYREJECTED, "signature does not match any trusted key (1 key)");
	/* base64 of something else */
	sh("echo 'aGVsbG8K' > b64.sig.b64");
	verify_fails(&t, d, b64, EKEYREJECTED, "signature does not match any trusted key (1 key)");
	lp_trust_free(&t);
}

static void test_signature_file_errors(void **state)
{
	char pub[PATH_MAX], sig[PATH_MAX], want[PATH_MAX + 64];
	unsigned char d[LP_SHA256_LEN];
	struct lp_err err = { 0 };
	struct lp_trust t;

	in_dir(pub, "ec.pub");
	in_dir(sig, "missing.sig");
	sha256_of("abc", 3, d);
	lp_trust_init(&t);
	verify_fails(&t, d, sig, ENOKEY,
		     "no trusted keys configured (trust = [...] in the config, or --trust PEM)");
	trust_ok(&t, pub);

	snprintf(want, sizeof(want), "%s: no such file", sig);
	verify_fails(&t, d, sig, ENOENT, want);

	in_dir(sig, "huge.sig");
	sh("head -c %d /dev/zero > huge.sig", LP_SIG_FILE_MAX + 1);
	assert_int_equal(lp_trust_verify(&t, d, sig, NULL, &err), -1);
	assert_int_equal(err.code, EFBIG);
	assert_non_null(strstr(err.msg, "huge.sig: larger than 16 KiB"));

	in_dir(sig, "empty.sig");
	write_bytes(sig, "", 0);
	verify_fails(&t, d, sig, EKEYREJECTED, "signature does not match any trusted key (1 key)");
	lp_trust_free(&t);
}

/* The signature as bytes in memory, as a registry's annotation carries it. */
static void test_verify_buf(void **state)
{
	char priv[PATH_MAX], pub[PATH_MAX], other[PATH_MAX], sig[PATH_MAX], *der = NULL;
	char *b64 = NULL, *big;
	unsigned char d[LP_SHA256_LEN];
	struct lp_err err = { 0 };
	const char *key = NULL;
	size_t len = 0, b64_len = 0;
	struct lp_trust t;

	keygen_ok("buf", priv, pub);
	in_dir(other, "ec.pub");
	in_dir(sig, "buf.sig");
	sha256_of("abc", 3, d);
	sign_ok(priv, d, sig);
	assert_int_equal(lp_read_file(sig, 4096, &der, &len, &err), 0);
	sh("base64 -w0 buf.sig > buf.sig.b64");
	in_dir(sig, "buf.sig.b64");
	assert_int_equal(lp_read_file(sig, 4096, &b64, &b64_len, &err), 0);

	lp_trust_init(&t);
	assert_int_equal(lp_trust_verify_buf(&t, d, der, len, &key, &err), -1);
	assert_int_equal(err.code, ENOKEY);
	trust_ok(&t, other);
	trust_ok(&t, pub);
	assert_int_equal(lp_trust_verify_buf(&t, d, der, len, &key, &err), 0);
	assert_string_equal(key, pub);
	key = NULL;
	assert_int_equal(lp_trust_verify_buf(&t, d, b64, b64_len, &key, &err), 0);
	assert_string_equal(key, pub);
	/* only len bytes count: what follows them is not the signature */
	b64[b64_len] = 'A';
	assert_int_equal(lp_trust_verify_buf(&t, d, b64, b64_len, NULL, &err), 0);
	assert_int_equal(lp_trust_verify_buf(&t, d, b64, b64_len - 4, NULL, &err), -1);
	assert_int_equal(err.code, EKEYREJECTED);
	assert_string_equal(err.msg, "signature does not match any trusted key (2 keys)");
	assert_int_equal(lp_trust_verify_buf(&t, d, "", 0, NULL, &err), -1);
	assert_int_equal(err.code, EKEYREJECTED);
	d[0] ^= 1;
	assert_int_equal(lp_trust_verify_buf(&t, d, der, len, NULL, &err), -1);
	assert_int_equal(err.code, EKEYREJECTED);

	big = calloc(1, LP_SIG_FILE_MAX + 1);
	assert_non_null(big);
	assert_int_equal(lp_trust_verify_buf(&t, d, big, LP_SIG_FILE_MAX + 1, NULL, &err), -1);
	assert_int_equal(err.code, EFBIG);
	free(big);
	free(der);
	free(b64);
	lp_trust_free(&t);
}

/* ---------------------------------------------------------------- keys openssl made */

static void test_openssl_signatures(void **state)
{
	char data[PATH_MAX], ec_pub[PATH_MAX], rsa_pub[PATH_MAX], sig[PATH_MAX];
	unsigned char d[LP_SHA256_LEN];
	struct lp_trust t;

	in_dir(data, "data.tar");
	in_dir(ec_pub, "ec.pub");
	in_dir(rsa_pub, "rsa2048.pub");
	digest_file(data, d);
	lp_trust_init(&t);
	trust_ok(&t, ec_pub);
	trust_ok(&t, rsa_pub);

	sh("openssl dgst -sha256 -sign rsa2048.pem -out data.tar.rsa.sig data.tar");
	in_dir(sig, "data.tar.rsa.sig");
	verify_ok(&t, d, sig, rsa_pub);
	sh("openssl dgst -sha256 -sign ec.pem -out data.tar.ec.sig data.tar");
	in_dir(sig, "data.tar.ec.sig");
	verify_ok(&t, d, sig, ec_pub);
	sh("base64 -w0 data.tar.rsa.sig > data.tar.rsa.b64");
	in_dir(sig, "data.tar.rsa.b64");
	verify_ok(&t, d, sig, rsa_pub);
	lp_trust_free(&t);
}

static void test_openssl_verifies_ours(void **state)
{
	char data[PATH_MAX], key[PATH_MAX], sig[PATH_MAX];
	unsigned char d[LP_SHA256_LEN];

	in_dir(data, "data.tar");
	digest_file(data, d);
	in_dir(key, "rsa2048.pem");
	in_dir(sig, "ours.rsa.sig");
	sign_ok(key, d, sig);
	sh("openssl dgst -sha256 -verify rsa2048.pub -signature ours.rsa.sig data.tar");
	in_dir(key, "ec.pem");
	in_dir(sig, "ours.ec.sig");
	sign_ok(key, d, sig);
	sh("openssl dgst -sha256 -verify ec.pub -signature ours.ec.sig data.tar");
}

/* ---------------------------------------------------------------- key policy */

static void test_weak_keys_refused(void **state)
{
	char pem[PATH_MAX], sig[PATH_MAX];
	unsigned char d[LP_SHA256_LEN];
	struct lp_err err = { 0 };

	sh("openssl genrsa -out rsa1024.pem 1024 && "
	   "openssl rsa -in rsa1024.pem -pubout -out rsa1024.pub");
	in_dir(pem, "rsa1024.pub");
	key_refused(pem, "RSA key of 1024 bits is too weak (2048 at least)");
	/* nor does limpet sign with one */
	in_dir(pem, "rsa1024.pem");
	in_dir(sig, "weak.sig");
	sha256_of("abc", 3, d);
	assert_int_equal(lp_sign_digest_to_file(pem, d, sig, &err), -1);
	assert_non_null(strstr(err.msg, "rsa1024.pem: RSA key of 1024 bits is too weak"));
	assert_int_equal(access(sig, F_OK), -1);

	sh("openssl ecparam -genkey -name secp384r1 -noout -out p384.pem && "
	   "openssl pkey -in p384.pem -pubout -out p384.pub");
	in_dir(pem, "p384.pub");
	key_refused(pem, "EC key on curve secp384r1: only P-256 (prime256v1) is supported");
	sh("openssl genpkey -algorithm ed25519 -out ed.pem && "
	   "openssl pkey -in ed.pem -pubout -out ed.pub");
	in_dir(pem, "ed.pub");
	key_refused(pem, "not a PEM public key");
}

static void test_bad_key_files(void **state)
{
	unsigned char d[LP_SHA256_LEN];
	char pem[PATH_MAX];
	struct lp_err err = { 0 };
	struct lp_trust t;

	in_dir(pem, "ec.pem");
	key_refused(pem, "is a private key; trust its public key");
	in_dir(pem, "garbage.pub");
	write_bytes(pem, "hello\n", 6);
	key_refused(pem, "not a PEM public key: ");
	in_dir(pem, "empty.pub");
	write_bytes(pem, "", 0);
	key_refused(pem, "not a PEM public key");

	in_dir(pem, "nonexistent.pub");
	lp_trust_init(&t);
	assert_int_equal(lp_trust_add_key(&t, pem, &err), -1);
	assert_int_equal(err.code, ENOENT);
	assert_non_null(strstr(err.msg, "nonexistent.pub: No such file or directory"));
	lp_trust_free(&t);

	/* sign needs the private key */
	in_dir(pem, "ec.pub");
	memset(d, 0, sizeof(d));
	assert_int_equal(lp_sign_digest_to_file(pem, d, "/nonexistent/x.sig", &err), -1);
	assert_non_null(strstr(err.msg, "ec.pub: not a PEM private key"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_pieces),
		cmocka_unit_test(test_sha256_fd),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_digest_parse),
		cmocka_unit_test(test_keygen_files),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_tampering),
		cmocka_unit_test(test_base64_signature),
		cmocka_unit_test(test_signature_file_errors),
		cmocka_unit_test(test_verify_buf),
		cmocka_unit_test(test_openssl_signatures),
		cmocka_unit_test(test_openssl_verifies_ours),
		cmocka_unit_test(test_weak_keys_refused),
		cmocka_unit_test(test_bad_key_files),
	};

	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
