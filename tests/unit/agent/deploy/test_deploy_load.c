// SPDX-License-Identifier: Apache-2.0
/*
 * Deployment documents as they arrive: a signed file checked against
 * trusted keys before it is parsed, and the image URLs resolved against
 * where it came from (a server, a file, a bundle directory).  Apart from
 * test_deploy_doc.c because these need a directory and a key pair of
 * their own, made once for the group.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/deploy/deploy_doc.h"
#include "agent/trust/trust.h"
#include "platform/lib/util.h"
#include "tests/unit/agent/deploy/deploy_fixtures.h"

static char dir[] = "/tmp/limpet-test-deploy-XXXXXX";

/* ---------------------------------------------------------------- image URLs */

static void resolves(const char *base, const char *ref, const char *want)
{
	struct lp_err err = { 0 };
	char *out = NULL;

	if (lp_deploy_resolve_url(base, ref, &out, &err) < 0)
		fail_msg("%s + %s: %s", base, ref, err.msg);
	assert_string_equal(out, want);
	free(out);
}

static void does_not_resolve(const char *base, const char *ref, const char *msg)
{
	struct lp_err err = { 0 };
	char *out = (char *)"untouched";

	assert_int_equal(lp_deploy_resolve_url(base, ref, &out, &err), -1);
	assert_null(out);
	assert_string_equal(err.msg, msg);
}

static void test_resolve_url(void **state)
{
	static const char base[] = "https://fleet.example.com/site/deployment.json";
	char bundle[PATH_MAX], want[PATH_MAX + 32];

	resolves(base, "images/web.tar", "https://fleet.example.com/site/images/web.tar");
	resolves(base, "web.tar", "https://fleet.example.com/site/web.tar");
	resolves(base, "./web.tar", "https://fleet.example.com/site/./web.tar");
	resolves(base, "web-1.4_x~y+z@2=a,b.tar",
		 "https://fleet.example.com/site/web-1.4_x~y+z@2=a,b.tar");
	resolves("https://fleet.example.com/site/deployment.json?token=a/b#frag", "web.tar",
		 "https://fleet.example.com/site/web.tar");
	resolves("https://fleet.example.com/deployment.json", "web.tar",
		 "https://fleet.example.com/web.tar");
	resolves("https://fleet.example.com", "web.tar", "https://fleet.example.com/web.tar");
	resolves("https://fleet.example.com/site/", "web.tar",
		 "https://fleet.example.com/site/web.tar");
	resolves("https://fleet.example.com:8443/d.json", "a/b.tar",
		 "https://fleet.example.com:8443/a/b.tar");
	/* absolute https refs pass through, whatever the base */
	resolves(base, "https://cdn.example.net/web.tar?sig=x",
		 "https://cdn.example.net/web.tar?sig=x");
	resolves("/media/usb/limpet/deployment.json", "HTTPS://cdn.example.net/web.tar",
		 "HTTPS://cdn.example.net/web.tar");
	/* a local document gives local paths: its directory, or a bundle directory */
	resolves("/media/usb/limpet/deployment.json", "images/web.tar",
		 "/media/usb/limpet/images/web.tar");
	resolves("/media/usb/limpet/", "web.tar", "/media/usb/limpet/web.tar");
	resolves("/deployment.json", "web.tar", "/web.tar");
	snprintf(bundle, sizeof(bundle), "%s", dir);
	snprintf(want, sizeof(want), "%s/images/web.tar", dir);
	resolves(bundle, "images/web.tar", want);
}

static void test_resolve_url_refused(void **state)
{
	static const char base[] = "https://fleet.example.com/site/deployment.json";

	does_not_resolve(base, "http://fleet.example.com/web.tar",
			 "image url: 'http://fleet.example.com/web.tar': only https:// URLs are "
			 "allowed, not http:");
	does_not_resolve(base, "file:///etc/passwd",
			 "image url: 'file:///etc/passwd': only https:// URLs are allowed, "
			 "not file:");
	does_not_resolve(base, "web.tar:latest",
			 "image url: 'web.tar:latest': only https:// URLs are allowed, "
			 "not web.tar:");
	does_not_resolve(base, "../web.tar", "image url: '../web.tar' has a '..' segment");
	does_not_resolve(base, "images/../../web.tar",
			 "image url: 'images/../../web.tar' has a '..' segment");
	does_not_resolve(base, "images/..", "image url: 'images/..' has a '..' segment");
	does_not_resolve(base, "https://cdn.example.net/a/../b.tar",
			 "image url: 'https://cdn.example.net/a/../b.tar' has a '..' segment");
	does_not_resolve(base, "/images/web.tar",
			 "image url: '/images/web.tar' starts with '/' (give a path relative to "
			 "the deployment, or an https:// URL)");
	does_not_resolve(base, "//evil.example/web.tar",
			 "image url: '//evil.example/web.tar' starts with '/' (give a path "
			 "relative to the deployment, or an https:// URL)");
	does_not_resolve(base, "%2e%2e/web.tar",
			 "image url: '%2e%2e/web.tar': '%' is not allowed in a relative path");
	does_not_resolve(base, "web.tar?x=1",
			 "image url: 'web.tar?x=1': '?' is not allowed in a relative path");
	does_not_resolve(base, "a\\..\\b",
			 "image url: 'a\\..\\b': '\\' is not allowed in a relative path");
	does_not_resolve(base, "a b.tar",
			 "image url: 'a b.tar': ' ' is not allowed in a relative path");
	does_not_resolve(base, "images//web.tar",
			 "image url: 'images//web.tar' has an empty path segment");
	does_not_resolve(base, "images/", "image url: 'images/' has an empty path segment");
	does_not_resolve(base, "", "image url: empty (a path relative to the deployment, or an "
				   "https:// URL)");
	does_not_resolve(base, "https:///web.tar", "image url: 'https:///web.tar' has no host");
	does_not_resolve(base, "https://cdn.example.net/a b.tar",
			 "image url: 'https://cdn.example.net/a b.tar' has spaces or control "
			 "characters");
	does_not_resolve("http://fleet.example.com/deployment.json", "web.tar",
			 "deployment location 'http://fleet.example.com/deployment.json' is "
			 "neither an https:// URL nor an absolute path");
	does_not_resolve("media/usb/deployment.json", "web.tar",
			 "deployment location 'media/usb/deployment.json' is neither an https:// "
			 "URL nor an absolute path");
	does_not_resolve("https://fleet.example.com/../deployment.json", "web.tar",
			 "deployment location: 'https://fleet.example.com/../deployment.json' has "
			 "a '..' segment");
}

/* ---------------------------------------------------------------- signed documents */

static void in_dir(char *buf, const char *name)
{
	snprintf(buf, PATH_MAX, "%s/%s", dir, name);
}

static void write_ok(const char *path, const char *text, size_t len)
{
	struct lp_err err = { 0 };

	if (lp_write_file(path, text, len, &err) < 0)
		fail_msg("%s", err.msg);
}

static void hash_ok(const char *text, size_t len, unsigned char d[LP_SHA256_LEN])
{
	struct lp_err err = { 0 };
	struct lp_sha256 h;

	lp_sha256_init(&h);
	lp_sha256_update(&h, text, len);
	assert_int_equal(lp_sha256_final(&h, d, &err), 0);
	lp_sha256_free(&h);
}

/* path gets text and path.sig a signature by the test key over exactly it. */
static void write_signed(const char *path, const char *text, size_t len)
{
	unsigned char digest[LP_SHA256_LEN];
	struct lp_err err = { 0 };
	char sig[PATH_MAX + 8];
	char key[PATH_MAX];

	in_dir(key, "test.key");
	snprintf(sig, sizeof(sig), "%s.sig", path);
	write_ok(path, text, len);
	hash_ok(text, len, digest);
	if (lp_sign_digest_to_file(key, digest, sig, &err) < 0)
		fail_msg("sign: %s", err.msg);
}

static void trusted(struct lp_trust *t)
{
	struct lp_err err = { 0 };
	char pub[PATH_MAX];

	in_dir(pub, "test.pub");
	lp_trust_init(t);
	if (lp_trust_add_key(t, pub, &err) < 0)
		fail_msg("%s", err.msg);
}

static void load_refused(const char *path, const char *sig, const struct lp_trust *t,
			 const char *msg)
{
	unsigned char digest[LP_SHA256_LEN] = { 0 };
	static const unsigned char zero[LP_SHA256_LEN];
	struct lp_err err = { 0 };
	struct lp_deployment d;

	assert_int_equal(lp_deploy_load_signed(path, sig, t, &d, digest, &err), -1);
	assert_empty(&d);
	assert_memory_equal(digest, zero, sizeof(zero));
	if (strcmp(err.msg, msg))
		fail_msg("expected \"%s\", got \"%s\"", msg, err.msg);
}

static void test_load_signed(void **state)
{
	unsigned char digest[LP_SHA256_LEN], want[LP_SHA256_LEN];
	char path[PATH_MAX], sig[PATH_MAX], moved[PATH_MAX];
	struct lp_err err = { 0 };
	struct lp_deployment d;
	struct lp_trust t;
	size_t len = 0;
	char *text = read_example(&len);

	in_dir(path, "deployment.json");
	in_dir(sig, "deployment.json.sig");
	write_signed(path, text, len);
	hash_ok(text, len, want);
	trusted(&t);
	if (lp_deploy_load_signed(path, NULL, &t, &d, digest, &err) < 0)
		fail_msg("%s", err.msg);
	assert_memory_equal(digest, want, sizeof(want));
	assert_int_equal(d.version, 42);
	assert_int_equal(d.n, 2);
	lp_deploy_free(&d);

	/* a signature kept elsewhere, and no digest wanted */
	in_dir(moved, "elsewhere.sig");
	assert_int_equal(rename(sig, moved), 0);
	if (lp_deploy_load_signed(path, moved, &t, &d, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	lp_deploy_free(&d);
	lp_trust_free(&t);
	free(text);
}

/* Tampering is caught by the signature, before the JSON is even looked at. */
static void test_load_tampered(void **state)
{
	char path[PATH_MAX], sig[PATH_MAX], msg[2 * PATH_MAX];
	struct lp_trust t;
	size_t len = 0;
	char *text = read_example(&len);
	char *version = strstr(text, "42");

	in_dir(path, "deployment.json");
	in_dir(sig, "deployment.json.sig");
	snprintf(msg, sizeof(msg), "%s: signature does not match any trusted key (1 key)", path);
	trusted(&t);
	write_signed(path, text, len);
	/* still a valid document, for a newer version */
	assert_non_null(version);
	version[1] = '3';
	write_ok(path, text, len);
	load_refused(path, NULL, &t, msg);
	/* no longer JSON at all: the message is about the signature, not the syntax */
	write_ok(path, text, len / 2);
	load_refused(path, NULL, &t, msg);
	lp_trust_free(&t);
	free(text);
}

static void test_load_refused(void **state)
{
	char path[PATH_MAX], other[PATH_MAX], msg[3 * PATH_MAX];
	struct lp_trust t, none;
	size_t len = 0;
	char *text = read_example(&len);
	char *big;

	in_dir(path, "deployment.json");
	trusted(&t);
	lp_trust_init(&none);
	write_signed(path, text, len);
	snprintf(msg, sizeof(msg),
		 "%s: no trusted keys configured (trust = [...] in the config, or --trust PEM)",
		 path);
	load_refused(path, NULL, &none, msg);

	in_dir(other, "unsigned.json");
	write_ok(other, text, len);
	snprintf(msg, sizeof(msg), "%s: %s.sig: no such file", other, other);
	load_refused(other, NULL, &t, msg);

	in_dir(other, "no-such.json");
	snprintf(msg, sizeof(msg), "open %s: No such file or directory", other);
	load_refused(other, NULL, &t, msg);

	/* signed, but not a valid document: refused with the field, after the check */
	in_dir(other, "bad.json");
	strstr(text, "\"64M\"")[3] = 'Q';
	write_signed(other, text, len);
	snprintf(msg, sizeof(msg),
		 "%s: containers[0].limits.memory: '64Q' is not a size (e.g. 64M, 1G)", other);
	load_refused(other, NULL, &t, msg);

	/* too large to be a document: not even hashed */
	in_dir(other, "big.json");
	big = calloc(LP_DEPLOY_MAX + 1, 1);
	assert_non_null(big);
	memset(big, ' ', LP_DEPLOY_MAX + 1);
	write_signed(other, big, LP_DEPLOY_MAX + 1);
	snprintf(msg, sizeof(msg), "%s: larger than 1024 KiB, not a deployment document", other);
	load_refused(other, NULL, &t, msg);
	free(big);

	lp_trust_free(&t);
	lp_trust_free(&none);
	free(text);
}

/* ---------------------------------------------------------------- main */

static int make_dir(void **state)
{
	struct lp_err err = { 0 };
	char key[PATH_MAX], pub[PATH_MAX];

	if (!mkdtemp(dir))
		return -1;
	in_dir(key, "test.key");
	in_dir(pub, "test.pub");
	if (lp_keygen(key, pub, &err) < 0) {
		fprintf(stderr, "keygen: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int remove_dir(void **state)
{
	struct lp_err err = { 0 };

	return lp_remove_tree(dir, &err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_url),
		cmocka_unit_test(test_resolve_url_refused),
		cmocka_unit_test(test_load_signed),
		cmocka_unit_test(test_load_tampered),
		cmocka_unit_test(test_load_refused),
	};

	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
