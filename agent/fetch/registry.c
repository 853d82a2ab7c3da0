// SPDX-License-Identifier: Apache-2.0
/*
 * One repository on one registry: who we are to it (anonymous, Basic, a
 * Bearer token), and the requests a pull makes, each checked against the
 * digest it asks by.  The HTTP is lp_fetch_*'s; this file decides which
 * Authorization header goes along and what a 401 means.
 */
#include "agent/fetch/registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "platform/lib/util.h"

#define PING_MAX (64 * 1024)	/* GET /v2/ answers "{}" */
#define NAME_MAX_LEN 512
#define HEADERS_MAX 4		/* Authorization, Accept, and the NULL */
#define NO_AUTH_FILE "no auth file was given (--auth-file, or registry.auth_file)"

struct lp_registry {
	char *host, *auth_host, *path;
	char name[NAME_MAX_LEN];	/* host/path */
	char scope[NAME_MAX_LEN];	/* repository:PATH:pull */
	struct lp_fetch_opts fetch;
	const struct lp_auth_file *auth;

	bool pinged;
	struct lp_auth_challenge ch;	/* what the registry last asked for */
	int have_cred;			/* -1: not looked up yet */
	struct lp_auth_cred cred;
	struct lp_token_cache tokens;
	char *authz;			/* the Authorization line sent; NULL: none */
};

const char *lp_registry_name(const struct lp_registry *r)
{
	return r->name;
}

int lp_registry_open(const struct lp_registry_opts *o, struct lp_registry **out,
		     struct lp_err *err)
{
	struct lp_registry *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return lp_fail(err, ENOMEM, "out of memory");
	r->host = strdup(o->host);
	r->auth_host = strdup(o->auth_host ? o->auth_host : o->host);
	r->path = strdup(o->path);
	r->fetch = o->fetch;
	r->auth = o->auth;
	r->have_cred = -1;
	if (!r->host || !r->auth_host || !r->path) {
		lp_registry_close(r);
		return lp_fail(err, ENOMEM, "out of memory");
	}
	snprintf(r->name, sizeof(r->name), "%s/%s", o->host, o->path);
	snprintf(r->scope, sizeof(r->scope), "repository:%s:pull", o->path);
	*out = r;
	return 0;
}

static void forget_authz(struct lp_registry *r)
{
	if (r->authz) {
		lp_wipe(r->authz, strlen(r->authz));
		free(r->authz);
	}
	r->authz = NULL;
}

void lp_registry_close(struct lp_registry *r)
{
	if (!r)
		return;
	forget_authz(r);
	lp_token_cache_clear(&r->tokens);
	lp_wipe(&r->cred, sizeof(r->cred));
	free(r->host);
	free(r->auth_host);
	free(r->path);
	free(r);
}

void lp_registry_closep(struct lp_registry **r)
{
	lp_registry_close(*r);
	*r = NULL;
}

void lp_registry_doc_free(struct lp_registry_doc *d)
{
	free(d->body);
	d->body = NULL;
	d->len = 0;
}

/* ---------------------------------------------------------------- messages */

/*
 * lp_fetch_* messages start with the URL; ours name the repository and the
 * object instead ("localhost:5000/app: manifest 1.4: HTTP 404 ..."), which
 * says the same to a person without the /v2/ plumbing.
 */
static int name_failure(struct lp_registry *r, const char *what, const char *url,
			struct lp_err *err)
{
	char rest[LP_ERR_MAX];
	size_t n = strlen(url);

	snprintf(rest, sizeof(rest), "%s",
		 strncmp(err->msg, url, n) ? err->msg : err->msg + n + (err->msg[n] == ':'));
	return lp_fail(err, err->code, "%s: %s:%s%s", r->name, what, rest[0] == ' ' ? "" : " ",
		       rest);
}

static int url_for(struct lp_registry *r, char *out, size_t len, const char *kind,
		   const char *ref, struct lp_err *err)
{
	return lp_path(out, len, err, "https://%s/v2/%s%s%s%s", r->host, kind[0] ? r->path : "",
		       kind[0] ? "/" : "", kind, ref);
}

/* ---------------------------------------------------------------- who we are */

static int set_authz(struct lp_registry *r, const char *scheme, const char *value,
		     struct lp_err *err)
{
	size_t len = strlen("Authorization: ") + strlen(scheme) + 1 + strlen(value) + 1;

	forget_authz(r);
	r->authz = malloc(len);
	if (!r->authz)
		return lp_fail(err, ENOMEM, "out of memory");
	snprintf(r->authz, len, "Authorization: %s %s", scheme, value);
	return 0;
}

/* 1: credentials for this repository in the auth file; 0: none. */
static int credentials(struct lp_registry *r, struct lp_err *err)
{
	if (r->have_cred < 0) {
		r->have_cred = 0;
		if (r->auth) {
			int rc = lp_auth_file_lookup(r->auth, r->auth_host, r->path, &r->cred, err);

			if (rc < 0)
				return -1;
			r->have_cred = rc;
		}
	}
	return r->have_cred;
}

/* The token server's answer to "may I pull this repository?" */
static int fetch_token(struct lp_registry *r, char *token, size_t token_len, time_t *expires_at,
		       struct lp_err *err)
{
	char url[4096], basic[LP_AUTH_BASIC_MAX + 32];
	const char *headers[2] = { NULL, NULL };
	struct lp_fetch_opts o = r->fetch;
	cleanup_free char *body = NULL;
	size_t len;
	long status;
	int rc;

	if (lp_auth_token_url(&r->ch, r->path, r->have_cred ? r->cred.user : NULL, url,
			      sizeof(url), err) < 0)
		return -1;
	if (r->have_cred) {
		snprintf(basic, sizeof(basic), "Authorization: Basic %s", r->cred.basic);
		headers[0] = basic;
	}
	o.headers = headers;
	o.progress = false;
	rc = lp_fetch_get(url, NULL, &body, &len, NULL, &status, LP_AUTH_REPLY_MAX, &o, err);
	lp_wipe(basic, sizeof(basic));
	if (rc < 0) {
		if (status == 401 || status == 403)
			lp_prefix(err, "the token server refused %s", r->have_cred
								   ? "the auth file's credentials"
								   : "an anonymous pull");
		return -1;
	}
	return lp_token_reply_parse(body, len, time(NULL), token, token_len, expires_at, err);
}

static int bearer(struct lp_registry *r, struct lp_err *err)
{
	const char *cached = lp_token_cache_get(&r->tokens, r->ch.realm, r->ch.service, r->scope,
						time(NULL));
	cleanup_free char *token = NULL;
	time_t expires_at;
	int rc;

	if (cached)
		return set_authz(r, "Bearer", cached, err);
	token = malloc(LP_AUTH_TOKEN_MAX);
	if (!token)
		return lp_fail(err, ENOMEM, "out of memory");
	rc = fetch_token(r, token, LP_AUTH_TOKEN_MAX, &expires_at, err);
	if (rc == 0)
		rc = lp_token_cache_put(&r->tokens, r->ch.realm, r->ch.service, r->scope, token,
					expires_at, err);
	if (rc == 0)
		rc = set_authz(r, "Bearer", token, err);
	lp_wipe(token, LP_AUTH_TOKEN_MAX);
	return rc;
}

/* The Authorization header for what the registry last asked for. */
static int authorize(struct lp_registry *r, struct lp_err *err)
{
	if (r->ch.scheme == LP_AUTH_NONE) {
		forget_authz(r);
		return 0;
	}
	if (credentials(r, err) < 0)
		return -1;
	if (r->ch.scheme == LP_AUTH_BEARER)
		return bearer(r, err);
	if (!r->have_cred)
		return lp_fail(err, EACCES,
			       "the registry asks for a user name and password (Basic realm "
			       "\"%s\") and %s%s",
			       r->ch.realm, r->auth ? "the auth file has none for " : NO_AUTH_FILE,
			       r->auth ? r->auth_host : "");
	return set_authz(r, "Basic", r->cred.basic, err);
}

/* After a second 401: why, in terms of what the person can change. */
static void refused_why(struct lp_registry *r, struct lp_err *err)
{
	size_t len = strlen(err->msg);
	char *end = err->msg + len;

	if (r->have_cred > 0)
		snprintf(end, sizeof(err->msg) - len, "; credentials refused (realm \"%s\")",
			 r->ch.realm);
	else if (r->auth)
		snprintf(end, sizeof(err->msg) - len,
			 "; the auth file has no credentials for %s (realm \"%s\")", r->auth_host,
			 r->ch.realm);
	else
		snprintf(end, sizeof(err->msg) - len,
			 "; an anonymous pull refused (realm \"%s\") and " NO_AUTH_FILE, r->ch.realm);
}

static int take_challenge(struct lp_registry *r, const struct lp_fetch_reply *reply,
			  struct lp_err *err)
{
	if (lp_auth_challenge_parse(reply->www_authenticate, &r->ch, err) < 0)
		return lp_prefix(err, "HTTP 401 with a challenge that cannot be answered");
	return 0;
}

/* GET /v2/: 200 anonymous, 401 says how to authenticate, anything else is no registry. */
static int ping(struct lp_registry *r, struct lp_err *err)
{
	struct lp_fetch_opts o = r->fetch;
	struct lp_fetch_reply reply;
	cleanup_free char *body = NULL;
	char url[NAME_MAX_LEN + 16];
	size_t len;
	long status;

	if (url_for(r, url, sizeof(url), "", "", err) < 0)
		return -1;
	o.reply = &reply;
	o.progress = false;
	if (lp_fetch_get(url, NULL, &body, &len, NULL, &status, PING_MAX, &o, err) == 0) {
		r->ch.scheme = LP_AUTH_NONE;
	} else if (status == 401) {
		if (take_challenge(r, &reply, err) < 0)
			return -1;
	} else if (status != 0 && status != 429 && status < 500) {
		return lp_fail(err, EPROTO, "%s: not a registry (GET /v2/ answered HTTP %ld)",
			       r->host, status);
	} else {
		return -1;
	}
	r->pinged = true;
	return authorize(r, err);
}

/* ---------------------------------------------------------------- requests */

struct request {
	const char *what;		/* "manifest 1.4", for messages */
	char url[NAME_MAX_LEN + 128];
	const char *const *accept;	/* NULL-ended media types; NULL: no Accept */
	int (*send)(struct request *q, const struct lp_fetch_opts *o, struct lp_err *err);
	/* what send works with */
	struct lp_registry_doc *doc;
	size_t max;
	bool head;
	const char *dest;
	int64_t size;
	const unsigned char *digest;
};

static int accept_line(const char *const *types, char *out, size_t len, struct lp_err *err)
{
	size_t used;

	if (lp_path(out, len, err, "Accept: ") < 0)
		return -1;
	for (used = strlen(out); *types; types++) {
		if (lp_path(out + used, len - used, err, "%s%s", used > 8 ? ", " : "", *types) < 0)
			return -1;
		used = strlen(out);
	}
	return 0;
}

/*
 * q->send with the Authorization the registry wants.  A 401 carries its
 * challenge (an expired token, or a scope the ping did not name): answer
 * it once; a second 401 is the error.
 */
static int perform(struct lp_registry *r, struct request *q, struct lp_err *err)
{
	const char *headers[HEADERS_MAX];
	struct lp_fetch_opts o = r->fetch;
	struct lp_fetch_reply reply;
	char accept[1024];
	int tries, n;

	if (q->accept && accept_line(q->accept, accept, sizeof(accept), err) < 0)
		return -1;
	if (!r->pinged && ping(r, err) < 0)
		return name_failure(r, q->what, "", err);
	o.reply = &reply;
	o.headers = headers;
	o.identity = true;
	o.head = q->head;
	for (tries = 1;; tries++) {
		n = 0;
		if (r->authz)
			headers[n++] = r->authz;
		if (q->accept)
			headers[n++] = accept;
		headers[n] = NULL;
		if (q->send(q, &o, err) == 0)
			return 0;
		if (reply.status != 401 || tries == 2)
			break;
		if (r->ch.scheme == LP_AUTH_BEARER)
			lp_token_cache_drop(&r->tokens, r->ch.realm, r->ch.service, r->scope);
		if (take_challenge(r, &reply, err) < 0 || authorize(r, err) < 0)
			return name_failure(r, q->what, "", err);
	}
	name_failure(r, q->what, q->url, err);
	if (reply.status == 401)
		refused_why(r, err);
	return -1;
}

static int send_get(struct request *q, const struct lp_fetch_opts *o, struct lp_err *err)
{
	long status;

	lp_registry_doc_free(q->doc);
	if (lp_fetch_get(q->url, NULL, &q->doc->body, &q->doc->len, NULL, &status, q->max, o,
			 err) < 0)
		return -1;
	snprintf(q->doc->media_type, sizeof(q->doc->media_type), "%s", o->reply->content_type);
	return 0;
}

static int send_head(struct request *q, const struct lp_fetch_opts *o, struct lp_err *err)
{
	cleanup_free char *body = NULL;
	size_t len;
	long status;

	if (lp_fetch_get(q->url, NULL, &body, &len, NULL, &status, 1, o, err) < 0)
		return -1;
	snprintf(q->doc->media_type, sizeof(q->doc->media_type), "%s", o->reply->content_type);
	/* the only use of Docker-Content-Digest: a hint, compared, never trusted */
	if (strlen(o->reply->docker_content_digest) < sizeof(q->doc->digest_str))
		memcpy(q->doc->digest_str, o->reply->docker_content_digest,
		       strlen(o->reply->docker_content_digest) + 1);
	return 0;
}

static int send_file(struct request *q, const struct lp_fetch_opts *o, struct lp_err *err)
{
	return lp_fetch_file(q->url, q->dest, q->size, q->digest, NULL, o, err);
}

/* ---------------------------------------------------------------- manifests */

static int hash_doc(struct lp_registry_doc *d, struct lp_err *err)
{
	struct lp_sha256 h;
	int rc;

	lp_sha256_init(&h);
	lp_sha256_update(&h, d->body, d->len);
	rc = lp_sha256_final(&h, d->digest, err);
	lp_sha256_free(&h);
	if (rc < 0)
		return -1;
	memcpy(d->digest_str, "sha256:", 7);
	lp_hex(d->digest, LP_SHA256_LEN, d->digest_str + 7);
	return 0;
}

static bool is_digest(const char *ref)
{
	return !strncmp(ref, "sha256:", 7);
}

static int manifest_request(struct lp_registry *r, struct request *q, char *what, size_t len,
			    const char *ref, struct lp_err *err)
{
	if (lp_path(what, len, err, "manifest %s", ref) < 0)
		return -1;
	q->what = what;
	return url_for(r, q->url, sizeof(q->url), "manifests/", ref, err);
}

int lp_registry_get_manifest(struct lp_registry *r, const char *ref, const char *const *accept,
			     size_t max, struct lp_registry_doc *out, struct lp_err *err)
{
	struct request q = { .accept = accept, .send = send_get, .doc = out, .max = max };
	char what[256];

	memset(out, 0, sizeof(*out));
	if (manifest_request(r, &q, what, sizeof(what), ref, err) < 0)
		return -1;
	if (perform(r, &q, err) < 0)
		return -1;
	if (hash_doc(out, err) < 0)
		return -1;
	if (is_digest(ref) && strcmp(out->digest_str, ref))
		return lp_fail(err, EBADMSG, "%s: %s: the registry sent a manifest with digest %s",
			       r->name, what, out->digest_str);
	return 0;
}

int lp_registry_head_manifest(struct lp_registry *r, const char *ref, const char *const *accept,
			      char *digest_out, size_t len, struct lp_err *err)
{
	struct lp_registry_doc d = { 0 };
	struct request q = { .accept = accept, .send = send_head, .doc = &d, .head = true };
	char what[256];

	digest_out[0] = '\0';
	if (manifest_request(r, &q, what, sizeof(what), ref, err) < 0 || perform(r, &q, err) < 0)
		return -1;
	if (strncmp(d.digest_str, "sha256:", 7) || strlen(d.digest_str) >= len)
		return 0;
	snprintf(digest_out, len, "%s", d.digest_str);
	return 1;
}

/* ---------------------------------------------------------------- blobs */

/* A message names the blob by what it is to the caller: a config, a layer. */
static int blob_request(struct lp_registry *r, struct request *q, char *what, size_t len,
			const char *kind, const char *digest, unsigned char bin[LP_SHA256_LEN],
			struct lp_err *err)
{
	int rc;

	if (lp_digest_parse(digest, bin, err) < 0)
		return lp_prefix(err, "%s: %s", r->name, kind ? kind : "blob");
	if (kind)
		rc = lp_path(what, len, err, "%s (%.19s...)", kind, digest);
	else
		rc = lp_path(what, len, err, "blob %.19s...", digest);
	if (rc < 0)
		return -1;
	q->what = what;
	q->digest = bin;
	return url_for(r, q->url, sizeof(q->url), "blobs/", digest, err);
}

int lp_registry_get_blob(struct lp_registry *r, const char *kind, const char *digest, int64_t size,
			 char **body, struct lp_err *err)
{
	struct lp_registry_doc d = { 0 };
	struct request q = { .send = send_get, .doc = &d, .size = size };
	unsigned char want[LP_SHA256_LEN];
	char what[128];

	*body = NULL;
	if (blob_request(r, &q, what, sizeof(what), kind, digest, want, err) < 0)
		return -1;
	if (size < 0 || size > LP_REGISTRY_CONFIG_MAX)
		return lp_fail(err, EFBIG, "%s: %s: %lld bytes is more than the %d allowed",
			       r->name, what, (long long)size, LP_REGISTRY_CONFIG_MAX);
	q.max = (size_t)size;
	if (perform(r, &q, err) < 0 || hash_doc(&d, err) < 0) {
		lp_registry_doc_free(&d);
		return -1;
	}
	if (d.len != (size_t)size)
		lp_fail(err, EBADMSG, "%s: %s: got %zu bytes, not the %lld described", r->name, what,
			d.len, (long long)size);
	else if (memcmp(d.digest, want, LP_SHA256_LEN))
		lp_fail(err, EBADMSG, "%s: %s: the bytes received are %.19s..., not the blob asked for",
			r->name, what, d.digest_str);
	if (d.len != (size_t)size || memcmp(d.digest, want, LP_SHA256_LEN)) {
		lp_registry_doc_free(&d);
		return -1;
	}
	*body = d.body;
	return 0;
}

int lp_registry_fetch_blob(struct lp_registry *r, const char *kind, const char *digest,
			   int64_t size, const char *dest, const char *progress_name,
			   struct lp_err *err)
{
	struct request q = { .send = send_file, .dest = dest, .size = size };
	unsigned char want[LP_SHA256_LEN];
	const char *was = r->fetch.progress_name;
	char what[128];
	int rc;

	if (blob_request(r, &q, what, sizeof(what), kind, digest, want, err) < 0)
		return -1;
	r->fetch.progress_name = progress_name;
	rc = perform(r, &q, err);
	r->fetch.progress_name = was;
	return rc;
}
