// SPDX-License-Identifier: Apache-2.0
/*
 * Registry authentication without a server: WWW-Authenticate challenges,
 * the auth file, the token request's URL and reply, the token cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/fetch/registry_auth.h"
#include "platform/lib/util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define NOW ((time_t)1700000000)	/* 2023-11-14T22:13:20Z */

static char dir[] = "/tmp/limpet-regauth-XXXXXX";

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	struct lp_err err = { 0 };

	return lp_remove_tree(dir, &err);
}

/* ---------------------------------------------------------------- challenges */

struct chal_case {
	const char *in;
	enum lp_auth_scheme scheme;
	const char *realm, *service, *scope, *error;
};

static void test_challenge_valid(void **state)
{
	static const struct chal_case cases[] = {
		{ "Basic realm=\"Registry Realm\"", LP_AUTH_BASIC, "Registry Realm", "", "", "" },
		{ "Basic", LP_AUTH_BASIC, "", "", "", "" },
		{ "Bearer realm=\"https://auth.example.com/token\",service=\"registry.example.com\","
		  "scope=\"repository:a/b:pull,push repository:c:pull\"",
		  LP_AUTH_BEARER, "https://auth.example.com/token", "registry.example.com",
		  "repository:a/b:pull,push repository:c:pull", "" },
		{ "Bearer realm=\"https://a.io/t\",service=\"s\",scope=\"repository:x:pull\","
		  "error=\"invalid_token\"",
		  LP_AUTH_BEARER, "https://a.io/t", "s", "repository:x:pull", "invalid_token" },
		/* Two challenges, joined from two headers: Bearer wins wherever it is. */
		{ "Basic realm=\"r\", Bearer realm=\"https://a.io/t\", service=\"s\"",
		  LP_AUTH_BEARER, "https://a.io/t", "s", "", "" },
		{ "Bearer realm=\"https://a.io/t\",service=\"s\", Basic realm=\"r\"",
		  LP_AUTH_BEARER, "https://a.io/t", "s", "", "" },
		{ "Negotiate abc==, Basic realm=\"r\"", LP_AUTH_BASIC, "r", "", "", "" },
		{ "Digest realm=\"d\", nonce=\"n\", Basic realm=\"b\"", LP_AUTH_BASIC, "b", "", "",
		  "" },
		/* Case-insensitive names, spaces around '=', escapes, bare values. */
		{ "bEARER ReAlM = \"https://a.io/t\" , SERVICE=\"x\\\"y\\\\z\"", LP_AUTH_BEARER,
		  "https://a.io/t", "x\"y\\z", "", "" },
		{ "Bearer realm=https://a.io/t,service=reg.io:5000", LP_AUTH_BEARER,
		  "https://a.io/t", "reg.io:5000", "", "" },
		{ "Bearer realm=\"https://a.io/t\", unknown=\"1, 2\", service=s", LP_AUTH_BEARER,
		  "https://a.io/t", "s", "", "" },
		/* Only the first challenge of a scheme counts. */
		{ "Bearer realm=\"https://a.io/1\", Bearer realm=\"http://b.io/2\"", LP_AUTH_BEARER,
		  "https://a.io/1", "", "", "" },
	};
	struct lp_auth_challenge c;
	struct lp_err err;
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		if (lp_auth_challenge_parse(cases[i].in, &c, &err) < 0)
			fail_msg("'%s': %s", cases[i].in, err.msg);
		assert_int_equal(c.scheme, cases[i].scheme);
		assert_string_equal(c.realm, cases[i].realm);
		assert_string_equal(c.service, cases[i].service);
		assert_string_equal(c.scope, cases[i].scope);
		assert_string_equal(c.error, cases[i].error);
	}
}

struct bad_case {
	const char *in, *why;
};

static void test_challenge_invalid(void **state)
{
	static const struct bad_case cases[] = {
		{ "", "no challenge" },
		{ " , ", "no challenge" },
		{ "Negotiate abc==", "neither Bearer nor Basic offered (Negotiate is not supported)" },
		{ "Bearer service=\"s\"", "a Bearer challenge without a realm" },
		{ "Bearer realm=\"http://a.io/t\"", "is not an https:// URL" },
		{ "Bearer realm=\"https:///t\"", "is not an https:// URL" },
		{ "Bearer realm=\"https://a.io/ t\"", "space or control character" },
		{ "Bearer realm=\"https://a.io/t", "a quoted string does not end" },
		{ "Bearer realm=\"https://a.io/t\\", "a quoted string does not end" },
		{ "Bearer realm=\"https://a.io/t\" junk", "unexpected 'j' after realm" },
		{ "Bearer realm=\"https://a\",realm=\"https://b\"", "realm given twice" },
		{ "realm=\"x\"", "a parameter before any scheme" },
		{ "\"quoted\"", "unexpected '\"' at byte 1" },
		{ "Basic\n\x01", "'Basic?\?': unexpected 0x0a at byte 6" },
		{ "Basic realm=\"r\"\n", "'Basic realm=\"r\"?': unexpected 0x0a after realm" },
		{ "Bearer realm=\"https://a.io/\x01\"", "control character in realm" },
		{ "Basic realm=a\x7f", "control character in realm" },
		{ "Bearer error=\"0123456789012345678901234567890123456789012345678901234567890123\"",
		  "error longer than 63 bytes" },
	};
	struct lp_auth_challenge c;
	struct lp_err err;
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		if (lp_auth_challenge_parse(cases[i].in, &c, &err) == 0)
			fail_msg("'%s' was taken", cases[i].in);
		if (!strstr(err.msg, cases[i].why))
			fail_msg("'%s': want '%s' in: %s", cases[i].in, cases[i].why, err.msg);
		assert_non_null(strstr(err.msg, "WWW-Authenticate"));
		assert_int_equal(err.code, EPROTO);
		assert_int_equal(c.scheme, LP_AUTH_NONE);
	}
}

static void test_challenge_long_realm(void **state)
{
	char in[1200], url[1100];
	struct lp_auth_challenge c;
	struct lp_err err;

	(void)state;
	memset(url, 'a', sizeof(url));
	snprintf(in, sizeof(in), "Bearer realm=\"https://%.*s\"", 1023 - 8, url);
	assert_int_equal(lp_auth_challenge_parse(in, &c, &err), 0);
	assert_int_equal(strlen(c.realm), 1023);
	snprintf(in, sizeof(in), "Bearer realm=\"https://%.*s\"", 1024 - 8, url);
	assert_int_equal(lp_auth_challenge_parse(in, &c, &err), -1);
	assert_non_null(strstr(err.msg, "realm longer than 1023 bytes"));
	assert_non_null(strstr(err.msg, "...': "));	/* the header is shown cut short */
}

/* ---------------------------------------------------------------- auth file */

static const char *write_auth(const char *name, const char *json, mode_t mode)
{
	static char path[256];
	struct lp_err err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	if (lp_write_file(path, json, strlen(json), &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

/* "user:pw" base64 */
#define B64_USER_PW "dXNlcjpwdw=="

static void test_auth_file_private(void **state)
{
	struct lp_auth_file *f = NULL;
	char want[512], link[300];
	const char *path;
	struct lp_err err;

	(void)state;
	path = write_auth("open.json", "{\"auths\":{}}", 0644);
	assert_int_equal(lp_auth_file_load(path, &f, &err), -1);
	snprintf(want, sizeof(want),
		 "%s: mode 0644, must not be readable by group or others (chmod 600)", path);
	assert_string_equal(err.msg, want);
	assert_int_equal(err.code, EACCES);
	assert_null(f);
	path = write_auth("group-writable.json", "{\"auths\":{}}", 0620);
	assert_int_equal(lp_auth_file_load(path, &f, &err), -1);
	assert_non_null(strstr(err.msg, "mode 0620"));

	path = write_auth("private.json", "{\"auths\":{}}", 0600);
	snprintf(link, sizeof(link), "%s/link.json", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(lp_auth_file_load(link, &f, &err), -1);
	assert_non_null(strstr(err.msg, "a symbolic link, refused"));
	assert_int_equal(lp_auth_file_load(path, &f, &err), 0);
	assert_null(lp_auth_file_note(f));
	lp_auth_file_free(f);

	snprintf(link, sizeof(link), "%s/missing.json", dir);
	assert_int_equal(lp_auth_file_load(link, &f, &err), -1);
	assert_int_equal(err.code, ENOENT);
}

static void test_auth_file_big(void **state)
{
	size_t len = (1 << 20) + 1;
	char *big = malloc(len + 1);
	struct lp_auth_file *f = NULL;
	const char *path;
	struct lp_err err;

	(void)state;
	assert_non_null(big);
	memset(big, ' ', len);
	big[0] = '{';
	big[len - 1] = '}';
	big[len] = '\0';
	path = write_auth("big.json", big, 0600);
	assert_int_equal(lp_auth_file_load(path, &f, &err), -1);
	assert_int_equal(err.code, EFBIG);
	big[len - 2] = '}';
	big[len - 1] = '\0';
	path = write_auth("big.json", big, 0600);
	assert_int_equal(lp_auth_file_load(path, &f, &err), 0);
	lp_auth_file_free(f);
	free(big);
}

static void test_auth_file_bad_json(void **state)
{
	static const struct bad_case cases[] = {
		{ "[]", "JSON: expected an object, got an array" },
		{ "{\"auths\":[]}", "auths: expected an object, got an array" },
		{ "{\"auths\":{\"h\":\"x\"}}", "auths.\"h\": expected an object" },
		{ "{\"auths\":{\"h\":{\"auth\":5}}}", "auths.\"h\".auth: expected a string" },
		{ "{\"auths\":{\"h\":{\"password\":\"a\\u0000b\"}}}", "\\u0000 is not allowed" },
		{ "{\"auths\":{\"h\":{}},\"auths\":{}}", "duplicate object key" },
		{ "{\"auths\":", "JSON line 1" },
	};
	struct lp_auth_file *f = NULL;
	const char *path;
	struct lp_err err;
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		path = write_auth("bad.json", cases[i].in, 0600);
		if (lp_auth_file_load(path, &f, &err) == 0)
			fail_msg("'%s' was taken", cases[i].in);
		if (!strstr(err.msg, cases[i].why) || strncmp(err.msg, path, strlen(path)))
			fail_msg("'%s': want '%s' in: %s", cases[i].in, cases[i].why, err.msg);
		assert_null(f);
	}
}

static struct lp_auth_file *load(const char *json)
{
	struct lp_auth_file *f = NULL;
	struct lp_err err;

	if (lp_auth_file_load(write_auth("auth.json", json, 0600), &f, &err) < 0)
		fail_msg("%s", err.msg);
	return f;
}

/* lookup's result, and the credential's user when one was found. */
static int lookup(const struct lp_auth_file *f, const char *host, const char *path,
		  struct lp_auth_cred *cred, struct lp_err *err)
{
	int rc = lp_auth_file_lookup(f, host, path, cred, err);

	if (rc != 1)
		assert_string_equal(cred->basic, "");
	return rc;
}

static void test_auth_file_keys(void **state)
{
	/* u1:p .. u4:p */
	cleanup_auth_file struct lp_auth_file *f = load(
		"{\"HttpHeaders\":{\"X\":\"y\"},\"auths\":{"
		"\"reg.io\":{\"auth\":\"dTE6cA==\"},"
		"\"reg.io/ns\":{\"auth\":\"dTI6cA==\"},"
		"\"reg.io/ns/app\":{\"auth\":\"dTM6cA==\",\"email\":\"x\"},"
		"\"http://other.io:5000/v2/\":{\"auth\":\"dTQ6cA==\"},"
		"\"https://index.docker.io/v1/\":{\"auth\":\"" B64_USER_PW "\"}}}");
	static const struct {
		const char *host, *path, *user;
	} cases[] = {
		{ "reg.io", "ns/app", "u3" },		{ "reg.io", "ns/app/sub", "u3" },
		{ "reg.io", "ns/other", "u2" },		{ "reg.io", "nsx/app", "u1" },
		{ "reg.io", "x", "u1" },		{ "reg.io", NULL, "u1" },
		{ "other.io:5000", "a/b", "u4" },	{ "docker.io", "library/alpine", "user" },
		{ "registry-1.docker.io", "x/y", "user" }, { "index.docker.io", "x/y", "user" },
	};
	struct lp_auth_cred cred;
	struct lp_err err;
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		if (lookup(f, cases[i].host, cases[i].path, &cred, &err) != 1)
			fail_msg("%s %s: not found", cases[i].host, cases[i].path);
		assert_string_equal(cred.user, cases[i].user);
	}
	assert_int_equal(lookup(f, "docker.io", "library/alpine", &cred, &err), 1);
	assert_string_equal(cred.basic, B64_USER_PW);
	/* Neither a prefix of the host nor another port. */
	assert_int_equal(lookup(f, "reg.i", "ns/app", &cred, &err), 0);
	assert_int_equal(lookup(f, "other.io", "a", &cred, &err), 0);
	assert_int_equal(lookup(f, "other.io:5001", "a", &cred, &err), 0);
	assert_null(lp_auth_file_note(f));
}

static void test_auth_file_entries(void **state)
{
	cleanup_auth_file struct lp_auth_file *f = load(
		"{\"credsStore\":\"desktop\",\"auths\":{"
		"\"fields.io\":{\"username\":\"user\",\"password\":\"pw\"},"
		"\"nul.io\":{\"auth\":\"dXNlcjpwdwAA\"},"		/* user:pw\0\0 */
		"\"empty-pw.io\":{\"auth\":\"dG9rZW46\"},"		/* token: */
		"\"bad64.io\":{\"auth\":\"not base64!\"},"
		"\"nocolon.io\":{\"auth\":\"dXNlcg==\"},"		/* user */
		"\"colon-user.io\":{\"username\":\"a:b\",\"password\":\"c\"},"
		"\"oauth.io\":{\"identitytoken\":\"refresh\"},"
		"\"both.io\":{\"auth\":\"" B64_USER_PW "\",\"identitytoken\":\"refresh\"},"
		"\"helper.io\":{}}}");
	static const struct bad_case bad[] = {
		{ "bad64.io", "auths.\"bad64.io\": auth is not base64" },
		{ "nocolon.io", "auths.\"nocolon.io\": auth is not the base64 of user:password" },
		{ "colon-user.io", "a user name with ':'" },
		{ "oauth.io", "auths.\"oauth.io\": only an identitytoken" },
	};
	struct lp_auth_cred cred;
	struct lp_err err;
	size_t i;

	(void)state;
	assert_int_equal(lookup(f, "fields.io", "a", &cred, &err), 1);
	assert_string_equal(cred.basic, B64_USER_PW);
	assert_string_equal(cred.user, "user");
	assert_int_equal(lookup(f, "nul.io", "a", &cred, &err), 1);
	assert_string_equal(cred.basic, B64_USER_PW);
	assert_int_equal(lookup(f, "empty-pw.io", "a", &cred, &err), 1);
	assert_string_equal(cred.basic, "dG9rZW46");
	assert_int_equal(lookup(f, "both.io", "a", &cred, &err), 1);
	assert_string_equal(cred.basic, B64_USER_PW);
	assert_int_equal(lookup(f, "helper.io", "a", &cred, &err), 0);
	assert_int_equal(lookup(f, "absent.io", "a", &cred, &err), 0);
	for (i = 0; i < N(bad); i++) {
		if (lookup(f, bad[i].in, "a", &cred, &err) != -1)
			fail_msg("%s was taken", bad[i].in);
		if (!strstr(err.msg, bad[i].why) || !strstr(err.msg, "/auth.json: auths."))
			fail_msg("%s: want '%s' in: %s", bad[i].in, bad[i].why, err.msg);
		assert_int_equal(err.code, EINVAL);
	}
	assert_non_null(strstr(lp_auth_file_note(f), "credHelpers and credsStore are ignored"));
}

/* ---------------------------------------------------------------- token reply */

struct reply_case {
	const char *body, *token;
	time_t expires_at;
};

static void test_token_reply(void **state)
{
	static const struct reply_case cases[] = {
		{ "{\"token\":\"abc\",\"expires_in\":300}", "abc", NOW + 290 },
		{ "{\"access_token\":\"xyz\"}", "xyz", NOW + 50 },
		{ "{\"token\":\"t\",\"access_token\":\"a\",\"expires_in\":3600,\"refresh_token\":\"r\"}",
		  "t", NOW + 3590 },
		{ "{\"token\":\"\",\"access_token\":\"a\"}", "a", NOW + 50 },
		{ "{\"token\":\"t\",\"expires_in\":10}", "t", NOW + 50 },
		{ "{\"token\":\"t\",\"expires_in\":-5}", "t", NOW + 50 },
		{ "{\"token\":\"t\",\"expires_in\":300,\"issued_at\":\"2023-11-14T22:11:40Z\"}", "t",
		  NOW - 100 + 290 },
		{ "{\"token\":\"t\",\"expires_in\":300,\"issued_at\":\"2023-11-14T23:11:40.123456789+01:00\"}",
		  "t", NOW - 100 + 290 },
		/* Our clock is behind the server's: the token lives from now. */
		{ "{\"token\":\"t\",\"expires_in\":300,\"issued_at\":\"2023-11-15T22:13:20Z\"}", "t",
		  NOW + 290 },
		/* Ahead: it would arrive dead, so the clocks disagree, not the token. */
		{ "{\"token\":\"t\",\"expires_in\":300,\"issued_at\":\"2023-11-13T22:13:20Z\"}", "t",
		  NOW + 290 },
	};
	char token[LP_AUTH_TOKEN_MAX];
	struct lp_err err;
	time_t exp;
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		if (lp_token_reply_parse(cases[i].body, strlen(cases[i].body), NOW, token,
					 sizeof(token), &exp, &err) < 0)
			fail_msg("%s: %s", cases[i].body, err.msg);
		assert_string_equal(token, cases[i].token);
		if (exp != cases[i].expires_at)
			fail_msg("%s: expires at now%+lld, want now%+lld", cases[i].body,
				 (long long)(exp - NOW), (long long)(cases[i].expires_at - NOW));
	}
}

static void test_token_reply_invalid(void **state)
{
	static const struct bad_case cases[] = {
		{ "", "token reply: JSON line" },
		{ "[]", "token reply: JSON: expected an object, got an array" },
		{ "{}", "neither token nor access_token given" },
		{ "{\"token\":\"\"}", "neither token nor access_token given" },
		{ "{\"token\":5}", "token: expected a string" },
		{ "{\"token\":\"a b\"}", "token: a character that cannot go in a header line" },
		{ "{\"token\":\"a\\r\\nX-Evil: 1\"}", "cannot go in a header line" },
		{ "{\"token\":\"a\\u0000b\"}", "\\u0000 is not allowed" },
		{ "{\"token\":\"t\",\"expires_in\":\"300\"}", "expires_in: expected an integer" },
		{ "{\"token\":\"t\",\"expires_in\":30.5}", "expires_in: expected an integer" },
		{ "{\"token\":\"t\",\"issued_at\":\"yesterday\"}", "issued_at: not an RFC 3339 time" },
		{ "{\"token\":\"t\",\"issued_at\":\"10m\"}", "issued_at: not an RFC 3339 time" },
		{ "{\"token\":\"t\",\"issued_at\":\"2023-11-14T25:00:00Z\"}", "not an RFC 3339" },
		{ "{\"token\":\"t\",\"issued_at\":1700000000}", "issued_at: expected a string" },
		{ "{\"token\":\"a\",\"token\":\"b\"}", "duplicate object key" },
	};
	char token[64];
	struct lp_err err;
	time_t exp;
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		if (lp_token_reply_parse(cases[i].in, strlen(cases[i].in), NOW, token,
					 sizeof(token), &exp, &err) == 0)
			fail_msg("%s was taken", cases[i].in);
		if (!strstr(err.msg, cases[i].why) || strncmp(err.msg, "token reply: ", 13))
			fail_msg("%s: want '%s' in: %s", cases[i].in, cases[i].why, err.msg);
		assert_int_equal(err.code, EPROTO);
		assert_string_equal(token, "");
	}
}

/* JWTs with certificate chains are long: up to LP_AUTH_TOKEN_MAX - 1 bytes are taken. */
static void test_token_reply_long(void **state)
{
	size_t body_len = LP_AUTH_TOKEN_MAX + 64;
	char *body = malloc(body_len), *token = malloc(LP_AUTH_TOKEN_MAX);
	struct lp_err err;
	time_t exp;
	int n;

	(void)state;
	assert_non_null(body);
	assert_non_null(token);
	n = snprintf(body, body_len, "{\"token\":\"%0*d\"}", LP_AUTH_TOKEN_MAX - 1, 7);
	assert_int_equal(lp_token_reply_parse(body, (size_t)n, NOW, token, LP_AUTH_TOKEN_MAX,
					      &exp, &err), 0);
	assert_int_equal(strlen(token), LP_AUTH_TOKEN_MAX - 1);
	n = snprintf(body, body_len, "{\"token\":\"%0*d\"}", LP_AUTH_TOKEN_MAX, 7);
	assert_int_equal(lp_token_reply_parse(body, (size_t)n, NOW, token, LP_AUTH_TOKEN_MAX,
					      &exp, &err), -1);
	assert_non_null(strstr(err.msg, "more than the 16383 taken"));
	/* A caller's smaller buffer is the limit too. */
	n = snprintf(body, body_len, "{\"token\":\"0123456789\"}");
	assert_int_equal(lp_token_reply_parse(body, (size_t)n, NOW, token, 10, &exp, &err), -1);
	assert_int_equal(lp_token_reply_parse(body, (size_t)n, NOW, token, 11, &exp, &err), 0);
	/* The body need not end in NUL. */
	assert_int_equal(lp_token_reply_parse("{\"token\":\"ab\"}xyz", 14, NOW, token, 11, &exp,
					      &err), 0);
	assert_string_equal(token, "ab");
	assert_int_equal(lp_token_reply_parse(body, LP_AUTH_REPLY_MAX + 1, NOW, token, 11, &exp,
					      &err), -1);
	assert_int_equal(err.code, EFBIG);
	free(body);
	free(token);
}

/* ---------------------------------------------------------------- token URL */

static void test_token_url(void **state)
{
	struct lp_auth_challenge c = { .scheme = LP_AUTH_BEARER,
				       .realm = "https://auth.io/token",
				       .service = "registry.io" };
	char url[1024], small[40];
	struct lp_err err;

	(void)state;
	assert_int_equal(lp_auth_token_url(&c, "library/alpine", NULL, url, sizeof(url), &err), 0);
	assert_string_equal(url, "https://auth.io/token?service=registry.io"
				 "&scope=repository%3Alibrary%2Falpine%3Apull");
	assert_int_equal(lp_auth_token_url(&c, "a/b", "us er&x=1", url, sizeof(url), &err), 0);
	assert_string_equal(url, "https://auth.io/token?service=registry.io"
				 "&scope=repository%3Aa%2Fb%3Apull&account=us%20er%26x%3D1");
	/* The challenge's scope: once if it is ours, beside ours if not. */
	strcpy(c.scope, "repository:a/b:pull");
	assert_int_equal(lp_auth_token_url(&c, "a/b", NULL, url, sizeof(url), &err), 0);
	assert_string_equal(url, "https://auth.io/token?service=registry.io"
				 "&scope=repository%3Aa%2Fb%3Apull");
	strcpy(c.scope, "repository:a/b:pull,push registry:catalog:*");
	assert_int_equal(lp_auth_token_url(&c, "a/b", NULL, url, sizeof(url), &err), 0);
	assert_string_equal(url, "https://auth.io/token?service=registry.io"
				 "&scope=repository%3Aa%2Fb%3Apull"
				 "&scope=repository%3Aa%2Fb%3Apull%2Cpush%20registry%3Acatalog%3A%2A");
	assert_int_equal(lp_auth_token_url(&c, NULL, NULL, url, sizeof(url), &err), 0);
	assert_string_equal(url, "https://auth.io/token?service=registry.io"
				 "&scope=repository%3Aa%2Fb%3Apull%2Cpush%20registry%3Acatalog%3A%2A");
	/* A realm with a query of its own; no service. */
	c.scope[0] = '\0';
	c.service[0] = '\0';
	strcpy(c.realm, "https://auth.io/token?x=1");
	assert_int_equal(lp_auth_token_url(&c, "a", NULL, url, sizeof(url), &err), 0);
	assert_string_equal(url, "https://auth.io/token?x=1&scope=repository%3Aa%3Apull");

	assert_int_equal(lp_auth_token_url(&c, "a", NULL, small, sizeof(small), &err), -1);
	assert_int_equal(err.code, ENAMETOOLONG);
	assert_string_equal(small, "");
	c.scheme = LP_AUTH_BASIC;
	assert_int_equal(lp_auth_token_url(&c, "a", NULL, url, sizeof(url), &err), -1);
	assert_int_equal(err.code, EINVAL);
}

/* ---------------------------------------------------------------- token cache */

static void test_token_cache(void **state)
{
	struct lp_token_cache c = { 0 };
	struct lp_err err;
	char scope[32], token[32];
	int i;

	(void)state;
	assert_null(lp_token_cache_get(&c, "https://r", "s", "a", NOW));
	assert_int_equal(lp_token_cache_put(&c, "https://r", "s", "a", "T1", NOW + 100, &err), 0);
	assert_string_equal(lp_token_cache_get(&c, "https://r", "s", "a", NOW), "T1");
	assert_string_equal(lp_token_cache_get(&c, "https://r", "s", "a", NOW + 99), "T1");
	assert_null(lp_token_cache_get(&c, "https://r", "s", "b", NOW));
	assert_null(lp_token_cache_get(&c, "https://r", "", "a", NOW));
	assert_null(lp_token_cache_get(&c, "https://q", "s", "a", NOW));
	assert_null(lp_token_cache_get(&c, "https://r", "s", "a", NOW + 100));
	assert_null(lp_token_cache_get(&c, "https://r", "s", "a", NOW));	/* expired: gone */

	assert_int_equal(lp_token_cache_put(&c, "https://r", "s", "a", "T1", NOW + 100, &err), 0);
	assert_int_equal(lp_token_cache_put(&c, "https://r", "s", "a", "T2", NOW + 200, &err), 0);
	assert_string_equal(lp_token_cache_get(&c, "https://r", "s", "a", NOW + 150), "T2");
	lp_token_cache_drop(&c, "https://r", "s", "a");
	assert_null(lp_token_cache_get(&c, "https://r", "s", "a", NOW));
	lp_token_cache_drop(&c, "https://r", "s", "a");

	/* Full: the token that expires first makes room. */
	for (i = 0; i < LP_TOKEN_CACHE_SLOTS; i++) {
		snprintf(scope, sizeof(scope), "scope%d", i);
		snprintf(token, sizeof(token), "T%d", i);
		assert_int_equal(lp_token_cache_put(&c, "https://r", "s", scope, token,
						    NOW + 1000 - (i == 3 ? 500 : i), &err), 0);
	}
	assert_int_equal(lp_token_cache_put(&c, "https://r", "s", "new", "TN", NOW + 10, &err), 0);
	assert_string_equal(lp_token_cache_get(&c, "https://r", "s", "new", NOW), "TN");
	assert_null(lp_token_cache_get(&c, "https://r", "s", "scope3", NOW));
	for (i = 0; i < LP_TOKEN_CACHE_SLOTS; i++) {
		snprintf(scope, sizeof(scope), "scope%d", i);
		if (i != 3)
			assert_non_null(lp_token_cache_get(&c, "https://r", "s", scope, NOW));
	}
	/* The same key is replaced in place, not evicting another. */
	assert_int_equal(lp_token_cache_put(&c, "https://r", "s", "new", "TN2", NOW + 5, &err), 0);
	assert_string_equal(lp_token_cache_get(&c, "https://r", "s", "new", NOW), "TN2");
	assert_non_null(lp_token_cache_get(&c, "https://r", "s", "scope0", NOW));
	lp_token_cache_clear(&c);
	for (i = 0; i < LP_TOKEN_CACHE_SLOTS; i++)
		assert_null(c.slot[i].key);
	assert_null(lp_token_cache_get(&c, "https://r", "s", "new", NOW));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_challenge_valid),
		cmocka_unit_test(test_challenge_invalid),
		cmocka_unit_test(test_challenge_long_realm),
		cmocka_unit_test(test_auth_file_private),
		cmocka_unit_test(test_auth_file_big),
		cmocka_unit_test(test_auth_file_bad_json),
		cmocka_unit_test(test_auth_file_keys),
		cmocka_unit_test(test_auth_file_entries),
		cmocka_unit_test(test_token_reply),
		cmocka_unit_test(test_token_reply_invalid),
		cmocka_unit_test(test_token_reply_long),
		cmocka_unit_test(test_token_url),
		cmocka_unit_test(test_token_cache),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
