/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Authentication to OCI registries, without any I/O but reading the auth
 * file: what a 401's WWW-Authenticate asks for, the credentials the auth
 * file holds for a repository, the token endpoint's URL and reply, and a
 * small cache of bearer tokens (registry_auth.c; the auth file,
 * registry_auth_file.c).  registry.c does the requests.
 *
 * Errors are one line; err->code is EPROTO for what a registry or token
 * server sent that cannot be used, EACCES for an auth file that is not
 * private, EINVAL for an auth file or credential that does not parse.
 */
#ifndef LIMPET_REGISTRY_AUTH_H
#define LIMPET_REGISTRY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "platform/lib/err.h"

/* ---------------------------------------------------------------- challenges */

enum lp_auth_scheme {
	LP_AUTH_NONE,
	LP_AUTH_BASIC,
	LP_AUTH_BEARER,
};

struct lp_auth_challenge {
	enum lp_auth_scheme scheme;
	char realm[1024];	/* Bearer: the token server, always https:// */
	char service[256];	/* "" when not given */
	char scope[1024];	/* "" when not given; may hold several, space separated */
	char error[64];		/* "invalid_token", "insufficient_scope" or "" */
};

/*
 * Parse the value of a WWW-Authenticate header, or of several joined with
 * ", ": challenges are `Scheme k=v, k="quoted, \"escaped\"", ...`, a token
 * followed by a space (not '=') starting the next one; schemes and keys
 * are case-insensitive.  Bearer is preferred, then Basic; other schemes are
 * ignored, and a value offering neither is an error.  A Bearer challenge
 * must name its realm, and the realm must be https:// (the request for a
 * token carries our password).  A value too long for a field is an error,
 * never cut short.
 */
int lp_auth_challenge_parse(const char *value, struct lp_auth_challenge *out,
			    struct lp_err *err);

/* ---------------------------------------------------------------- auth file */

/* Longest base64("user:password") kept (cloud registries' passwords are tokens of some KB). */
#define LP_AUTH_BASIC_MAX 8192

/* Credentials for one registry, ready for `Authorization: Basic <basic>`. */
struct lp_auth_cred {
	char user[256];			/* for the token request's account= */
	char basic[LP_AUTH_BASIC_MAX];	/* base64("user:password"), NUL terminated */
};

struct lp_auth_file;

/*
 * Load a Docker config.json / containers auth.json:
 * {"auths": {"KEY": {"auth": "base64(user:password)"}}} (or "username"
 * and "password" instead of "auth").  The file must be a regular file (not
 * through a symlink), owned by root and not readable or writable by group
 * or others ("PATH: mode 0644, must not be readable by group or others
 * (chmod 600)"), at most 1 MiB, strict JSON.  credHelpers and credsStore
 * are ignored (there are no helper programs on a board); other unknown
 * fields too.  Secrets read are wiped from memory when no longer needed.
 */
int lp_auth_file_load(const char *path, struct lp_auth_file **out, struct lp_err *err);
/* Wipes the credentials held, then frees; NULL is fine. */
void lp_auth_file_free(struct lp_auth_file *f);
void lp_auth_file_freep(struct lp_auth_file **f);
#define cleanup_auth_file __attribute__((cleanup(lp_auth_file_freep)))

/* A line to show when the file names credential helpers, which are ignored; else NULL. */
const char *lp_auth_file_note(const struct lp_auth_file *f);

/*
 * The credentials for repository path ("library/alpine") on host
 * ("docker.io", "registry.example.com:5000"): the most specific key
 * first, "host/a/b/c", "host/a/b", "host/a", then "host".  Keys are
 * compared after dropping http:// or https:// and, after such a scheme,
 * everything from the first '/' (Docker's "https://index.docker.io/v1/"
 * is index.docker.io); docker.io, index.docker.io and
 * registry-1.docker.io are one host.  Returns 1 with *cred filled, 0 when
 * no key matches (go anonymous), -1 when the matching entry cannot be used
 * (bad base64, no ':', only an identitytoken): the message names the file
 * and the key.  The caller wipes *cred after use (lp_wipe).
 */
int lp_auth_file_lookup(const struct lp_auth_file *f, const char *host, const char *path,
			struct lp_auth_cred *cred, struct lp_err *err);

/* ---------------------------------------------------------------- tokens */

/* Longest bearer token taken (JWTs with certificate chains run to several KB); with NUL. */
#define LP_AUTH_TOKEN_MAX 16384
/* Cap on the token server's reply (containers/image's MaxAuthTokenBodySize). */
#define LP_AUTH_REPLY_MAX (1 << 20)

/*
 * The token request's URL for challenge c (Bearer) and repository path:
 * realm?service=S&scope=repository:PATH:pull[&account=A], values
 * URL-escaped, '&' instead of '?' when the realm has a query already.  A
 * scope the challenge names is asked for too (both when they differ);
 * path NULL asks only for the challenge's scope.  account (NULL: none) is
 * the user name when credentials go along, as docker and skopeo send it.
 */
int lp_auth_token_url(const struct lp_auth_challenge *c, const char *path, const char *account,
		      char *out, size_t len, struct lp_err *err);

/*
 * The token server's JSON reply (len bytes, need not be NUL terminated):
 * "token", else "access_token" (non-empty, printable, under
 * LP_AUTH_TOKEN_MAX); "expires_in" seconds (absent or under 60: 60);
 * "issued_at" RFC 3339 (absent: now).  *expires_at := issued_at +
 * expires_in - 10 s, so that a token is not used in its last seconds.
 * An issued_at after now, or so early that the token would arrive
 * expired, says our clock is off (a board without a battery-backed
 * clock): now is taken instead.  Errors are EPROTO (EFBIG: over
 * LP_AUTH_REPLY_MAX bytes), and *token is wiped.
 */
int lp_token_reply_parse(const char *body, size_t len, time_t now, char *token,
			 size_t token_len, time_t *expires_at, struct lp_err *err);

/* ---------------------------------------------------------------- token cache */

#define LP_TOKEN_CACHE_SLOTS 8

struct lp_token_slot {
	char *key;		/* realm '\n' service '\n' scope; NULL: free slot */
	char *token;
	time_t expires_at;
};

/* Zero-initialised it is empty; lp_token_cache_clear frees it. */
struct lp_token_cache {
	struct lp_token_slot slot[LP_TOKEN_CACHE_SLOTS];
};

/* The token for (realm, service, scope) while now < its expiry, else NULL (owned by the cache). */
const char *lp_token_cache_get(struct lp_token_cache *c, const char *realm, const char *service,
			       const char *scope, time_t now);
/* Keep token until expires_at, replacing the same key's, else an expired or the soonest expiring. */
int lp_token_cache_put(struct lp_token_cache *c, const char *realm, const char *service,
		       const char *scope, const char *token, time_t expires_at,
		       struct lp_err *err);
/* Forget the token (a 401 to a request that carried it). */
void lp_token_cache_drop(struct lp_token_cache *c, const char *realm, const char *service,
			 const char *scope);
/* Wipe and free every token; the cache is empty after. */
void lp_token_cache_clear(struct lp_token_cache *c);

#endif
