// SPDX-License-Identifier: Apache-2.0
/*
 * Image references (agent/spec/image_ref.c) as a user, a config file or a
 * deployment document writes them.  What is taken must be normalised: it
 * formats to a string that parses back to the same reference, and its
 * fields keep the promises image_ref.h makes.
 */
#include "tests/fuzz/fuzz.h"

#include "agent/spec/image_ref.h"

#define TERMINATED(f) (memchr((f), '\0', sizeof(f)) != NULL)

static void check_fields(const char *in, const struct lp_image_ref *r)
{
	size_t i;

	if (!TERMINATED(r->host) || !TERMINATED(r->api_host) || !TERMINATED(r->path) ||
	    !TERMINATED(r->tag) || !TERMINATED(r->digest))
		fz_fail("'%s': a field is not terminated", in);
	if (!r->host[0] || !r->path[0] || !r->api_host[0])
		fz_fail("'%s': taken without host or path", in);
	if (!r->tag[0] && !r->digest[0])
		fz_fail("'%s': taken without tag or digest", in);
	if (strlen(r->host) + 1 + strlen(r->path) > LP_IMAGE_REPO_MAX)
		fz_fail("'%s': repository name over %d bytes", in, LP_IMAGE_REPO_MAX);
	if (r->digest[0]) {
		if (strncmp(r->digest, "sha256:", 7) != 0 || strlen(r->digest) != 71)
			fz_fail("'%s': digest '%s' kept", in, r->digest);
		for (i = 7; i < 71; i++)
			if (!strchr("0123456789abcdef", r->digest[i]))
				fz_fail("'%s': digest '%s' kept", in, r->digest);
	}
	for (i = 0; r->path[i]; i++)
		if (r->path[i] >= 'A' && r->path[i] <= 'Z')
			fz_fail("'%s': path with capitals '%s'", in, r->path);
	if (!strcmp(r->host, "index.docker.io"))
		fz_fail("'%s': index.docker.io not normalised", in);
	if (!strcmp(r->host, "docker.io") != !strcmp(r->api_host, "registry-1.docker.io"))
		fz_fail("'%s': API host %s for %s", in, r->api_host, r->host);
	if (!strcmp(r->host, "docker.io") && !strchr(r->path, '/'))
		fz_fail("'%s': Hub path '%s' without a namespace", in, r->path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fz_strndup(data, size), out[LP_IMAGE_REF_STR_MAX], repo[LP_IMAGE_REF_STR_MAX];
	struct lp_image_ref r, again;
	struct lp_err err;

	if (lp_image_ref_parse(in, &r, &err) < 0) {
		fz_check_err(&err);
		if (strpbrk(err.msg, "\n\r"))
			fz_fail("a message of more than one line: %s", err.msg);
		if (err.code != EINVAL)
			fz_fail("'%s': refused with code %d", in, err.code);
		free(in);
		return 0;
	}
	check_fields(in, &r);
	if (lp_image_ref_format(&r, out, sizeof(out)) < 0)
		fz_fail("'%s': the normalised form does not fit in LP_IMAGE_REF_STR_MAX", in);
	if (lp_image_ref_repo(&r, repo, sizeof(repo)) < 0 || strncmp(out, repo, strlen(repo)))
		fz_fail("'%s': repository '%s' is not the start of '%s'", in, repo, out);
	if (lp_image_ref_parse(out, &again, &err) < 0)
		fz_fail("'%s': normalised as '%s', which is refused: %s", in, out, err.msg);
	if (memcmp(&r, &again, sizeof(r)) != 0)
		fz_fail("'%s': normalised as '%s', which reads back otherwise", in, out);
	free(in);
	return 0;
}
