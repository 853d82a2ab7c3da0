// SPDX-License-Identifier: Apache-2.0
/*
 * What a registry and its token server say about authentication
 * (agent/fetch/registry_auth.c): a WWW-Authenticate value, one header or
 * several joined with ", ", and the token URL made from the challenge
 * taken; an input that starts with '{' is a token server's reply instead.
 * What is taken goes into the next request, so it must not carry what
 * could break out of a URL or a header line.
 */
#include "tests/fuzz/fuzz.h"

#include <strings.h>
#include <time.h>

#include "agent/fetch/registry_auth.h"

#define NOW ((time_t)1700000000)
#define TERMINATED(f) (memchr((f), '\0', sizeof(f)) != NULL)

/* No control character (a tab if blank_ok), no space unless blank_ok. */
static void no_ctl(const char *what, const char *s, bool blank_ok)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (((ch < 0x20 || ch == 0x7f) && !(blank_ok && ch == '\t')) ||
		    (ch == ' ' && !blank_ok))
			fz_fail("%s with byte 0x%02x kept", what, ch);
	}
}

static void check_challenge(const struct lp_auth_challenge *c)
{
	/* Room for the longest: every byte of service and scope escaped. */
	char url[8192];
	struct lp_err err;

	if (!TERMINATED(c->realm) || !TERMINATED(c->service) || !TERMINATED(c->scope) ||
	    !TERMINATED(c->error))
		fz_fail("a field is not terminated");
	if (c->scheme != LP_AUTH_BASIC && c->scheme != LP_AUTH_BEARER)
		fz_fail("taken with scheme %d", (int)c->scheme);
	no_ctl("service", c->service, true);
	no_ctl("scope", c->scope, true);
	no_ctl("error", c->error, true);
	if (c->scheme == LP_AUTH_BASIC)
		return;
	no_ctl("realm", c->realm, false);
	if (strncasecmp(c->realm, "https://", 8) != 0 || !c->realm[8])
		fz_fail("Bearer realm '%s' taken", c->realm);
	if (lp_auth_token_url(c, "library/alpine", "us er", url, sizeof(url), &err) < 0)
		fz_fail("no token URL: %s", err.msg);
	if (strncmp(url, c->realm, strlen(c->realm)) != 0)
		fz_fail("token URL '%s' does not start with the realm", url);
	no_ctl("token URL", url, false);
	if (!strstr(url + strlen(c->realm), "scope=repository%3Alibrary%2Falpine%3Apull"))
		fz_fail("token URL '%s' without our scope", url);
}

static void token_reply(const uint8_t *data, size_t size)
{
	char token[LP_AUTH_TOKEN_MAX];
	struct lp_err err;
	time_t exp;

	if (lp_token_reply_parse((const char *)data, size, NOW, token, sizeof(token), &exp,
				 &err) < 0) {
		fz_check_err(&err);
		if (strpbrk(err.msg, "\n\r"))
			fz_fail("a message of more than one line: %s", err.msg);
		return;
	}
	if (!token[0] || !TERMINATED(token))
		fz_fail("empty or unterminated token taken");
	no_ctl("token", token, false);
	/* issued_at is only believed when the token arrives alive, by our clock. */
	if (exp <= NOW - 10 || exp > NOW + 366 * 86400 - 10)
		fz_fail("token expiring at now%+lld", (long long)(exp - NOW));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lp_auth_challenge c;
	struct lp_err err;
	char *in;

	if (size && data[0] == '{') {
		token_reply(data, size);
		return 0;
	}
	in = fz_strndup(data, size);
	if (lp_auth_challenge_parse(in, &c, &err) < 0) {
		fz_check_err(&err);
		if (strpbrk(err.msg, "\n\r"))
			fz_fail("a message of more than one line: %s", err.msg);
		if (c.scheme != LP_AUTH_NONE)
			fz_fail("refused, but the challenge was filled in");
	} else {
		check_challenge(&c);
	}
	free(in);
	return 0;
}
