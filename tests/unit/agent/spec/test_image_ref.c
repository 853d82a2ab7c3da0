// SPDX-License-Identifier: Apache-2.0
/* Image references, normalised as docker pull does (distribution v2.8.2). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/spec/image_ref.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX_UPPER "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"

struct ref_case {
	const char *in;
	const char *host, *api_host, *path, *tag, *digest;
	const char *formatted;
};

static const struct ref_case valid[] = {
	{ "alpine", "docker.io", "registry-1.docker.io", "library/alpine", "latest", "",
	  "docker.io/library/alpine:latest" },
	{ "library/alpine", "docker.io", "registry-1.docker.io", "library/alpine", "latest", "",
	  "docker.io/library/alpine:latest" },
	{ "docker.io/alpine:3.19", "docker.io", "registry-1.docker.io", "library/alpine", "3.19",
	  "", "docker.io/library/alpine:3.19" },
	{ "index.docker.io/x", "docker.io", "registry-1.docker.io", "library/x", "latest", "",
	  "docker.io/library/x:latest" },
	{ "index.docker.io/ns/x", "docker.io", "registry-1.docker.io", "ns/x", "latest", "",
	  "docker.io/ns/x:latest" },
	{ "user/app", "docker.io", "registry-1.docker.io", "user/app", "latest", "",
	  "docker.io/user/app:latest" },
	{ "localhost/x", "localhost", "localhost", "x", "latest", "", "localhost/x:latest" },
	{ "localhost:5000/x:1@sha256:" HEX, "localhost:5000", "localhost:5000", "x", "1",
	  "sha256:" HEX, "localhost:5000/x:1@sha256:" HEX },
	{ "foo.bar/a/b/c:t", "foo.bar", "foo.bar", "a/b/c", "t", "", "foo.bar/a/b/c:t" },
	{ "registry.example.com:5000/app@sha256:" HEX, "registry.example.com:5000",
	  "registry.example.com:5000", "app", "", "sha256:" HEX,
	  "registry.example.com:5000/app@sha256:" HEX },
	/* Without '.', ':' or localhost the first component is a namespace on Hub. */
	{ "myhost/app", "docker.io", "registry-1.docker.io", "myhost/app", "latest", "",
	  "docker.io/myhost/app:latest" },
	/* No '/': "localhost:5000" is repository localhost, tag 5000 (as docker). */
	{ "localhost:5000", "docker.io", "registry-1.docker.io", "library/localhost", "5000", "",
	  "docker.io/library/localhost:5000" },
	{ "Example.COM/a_b/c__d/e--f/g.h:V1.0-rc_2", "Example.COM", "Example.COM",
	  "a_b/c__d/e--f/g.h", "V1.0-rc_2", "", "Example.COM/a_b/c__d/e--f/g.h:V1.0-rc_2" },
	{ "h.io/x:_", "h.io", "h.io", "x", "_", "", "h.io/x:_" },
};

static void test_ref_valid(void **state)
{
	char buf[LP_IMAGE_REF_STR_MAX];
	struct lp_image_ref r, again;
	struct lp_err err;
	size_t i;

	(void)state;
	for (i = 0; i < N(valid); i++) {
		const struct ref_case *c = &valid[i];

		if (lp_image_ref_parse(c->in, &r, &err) < 0)
			fail_msg("'%s': %s", c->in, err.msg);
		assert_string_equal(r.host, c->host);
		assert_string_equal(r.api_host, c->api_host);
		assert_string_equal(r.path, c->path);
		assert_string_equal(r.tag, c->tag);
		assert_string_equal(r.digest, c->digest);
		assert_int_equal(lp_image_ref_format(&r, buf, sizeof(buf)), 0);
		assert_string_equal(buf, c->formatted);
		assert_int_equal(lp_image_ref_parse(buf, &again, &err), 0);
		assert_memory_equal(&r, &again, sizeof(r));
	}
}

static void test_ref_repo_and_format_limits(void **state)
{
	char buf[LP_IMAGE_REF_STR_MAX], small[8];
	struct lp_image_ref r;
	struct lp_err err;

	(void)state;
	assert_int_equal(lp_image_ref_parse("localhost:5000/ns/app:2@sha256:" HEX, &r, &err), 0);
	assert_int_equal(lp_image_ref_repo(&r, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "localhost:5000/ns/app");
	errno = 0;
	assert_int_equal(lp_image_ref_format(&r, small, sizeof(small)), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_int_equal(lp_image_ref_repo(&r, small, sizeof(small)), -1);
}

/* 255 bytes of "host/path" pass, 256 do not. */
static void test_ref_length(void **state)
{
	char in[400], name[300];
	struct lp_image_ref r;
	struct lp_err err;

	(void)state;
	memset(name, 'a', sizeof(name));
	snprintf(in, sizeof(in), "example.com/%.*s", 255 - 12, name);
	assert_int_equal(strlen(in), 255);
	if (lp_image_ref_parse(in, &r, &err) < 0)
		fail_msg("%s", err.msg);
	snprintf(in, sizeof(in), "example.com/%.*s:t", 256 - 12, name);
	assert_int_equal(lp_image_ref_parse(in, &r, &err), -1);
	assert_non_null(strstr(err.msg, "longer than 255 bytes"));
	assert_string_equal(r.host, "");
	/* On Hub, library/ counts: 246 bytes as written are 256 normalised. */
	snprintf(in, sizeof(in), "%.*s", 256 - 18, name);
	assert_int_equal(lp_image_ref_parse(in, &r, &err), -1);
	assert_non_null(strstr(err.msg, "longer than 255 bytes"));
	snprintf(in, sizeof(in), "h.io/x:%.*s", 129, name);
	assert_int_equal(lp_image_ref_parse(in, &r, &err), -1);
	assert_non_null(strstr(err.msg, "tag is longer than 128"));
	snprintf(in, sizeof(in), "h.io/x:%.*s", 128, name);
	assert_int_equal(lp_image_ref_parse(in, &r, &err), 0);
}

struct bad_case {
	const char *in;
	const char *why;
};

static void test_ref_invalid(void **state)
{
	static const struct bad_case bad[] = {
		{ "Alpine", "Alpine: repository names must be lowercase" },
		{ "localhost:5000/App:1", "repository names must be lowercase" },
		{ "a//b", "a//b: empty component in the repository path" },
		{ "h.io/a/", "empty component in the repository path" },
		{ "/a", "empty component in the repository path" },
		{ "alpine:", "alpine:: empty tag after ':'" },
		{ "alpine:.x", "the tag is not" },
		{ "alpine:a+b", "the tag is not" },
		{ "alpine@sha256:" HEX_UPPER, "64 lowercase hex digits" },
		{ "alpine@sha256:" HEX "0", "64 lowercase hex digits" },
		{ "alpine@sha256:abc", "64 lowercase hex digits" },
		{ "alpine@sha512:" HEX HEX, "only sha256 digests are supported, not sha512" },
		{ "alpine@" HEX, "is not sha256:<64 hex digits>" },
		{ "alpine@", "is not sha256:<64 hex digits>" },
		{ "a@b@sha256:" HEX, "is not sha256:<64 hex digits>" },
		{ HEX, "an image ID, not a repository name" },
		{ "a/b_-c", "repository path component 'b_-c'" },
		{ "a/b___c", "repository path component" },
		{ "a/-b", "repository path component" },
		{ "a/b.", "repository path component" },
		{ "a!/b", "repository path component" },
		{ "-h.io/x", "starts or ends with '-'" },
		{ "h..io/x", "empty component in the registry host" },
		{ "h_x.io/x", "the registry host has a character" },
		{ "h.io:/x", "registry port" },
		{ "h.io:0/x", "registry port" },
		{ "h.io:65536/x", "registry port" },
		{ "h.io:5x/x", "registry port" },
		{ ":tag", "no repository name" },
		{ "@sha256:" HEX, "no repository name" },
		{ "", "empty image reference" },
		{ "a b", "space, control character or non-ASCII byte (byte 2)" },
		{ "a\nb", "space, control character or non-ASCII byte" },
		{ "caf\xc3\xa9", "non-ASCII byte (byte 4)" },
	};
	struct lp_image_ref r;
	struct lp_err err;
	size_t i;

	(void)state;
	for (i = 0; i < N(bad); i++) {
		if (lp_image_ref_parse(bad[i].in, &r, &err) == 0)
			fail_msg("'%s' was taken", bad[i].in);
		if (!strstr(err.msg, bad[i].why))
			fail_msg("'%s': want '%s' in: %s", bad[i].in, bad[i].why, err.msg);
		assert_int_equal(err.code, EINVAL);
		assert_null(strchr(err.msg, '\n'));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_valid),
		cmocka_unit_test(test_ref_repo_and_format_limits),
		cmocka_unit_test(test_ref_length),
		cmocka_unit_test(test_ref_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
