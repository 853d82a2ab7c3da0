// SPDX-License-Identifier: Apache-2.0
/*
 * Image references (image_ref.h).  The grammar is distribution's
 * reference/regexp.go, written out by hand: a regex engine for five short
 * rules would be the larger and slower part, and the rules give better
 * messages one by one.  Only sha256 digests are taken, as everywhere in
 * limpet.
 */
#include "agent/spec/image_ref.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_HOST "docker.io"
#define LEGACY_HOST "index.docker.io"
#define HUB_API_HOST "registry-1.docker.io"
#define TAG_MAX 128
#define SHA256_PREFIX "sha256:"
#define SHA256_HEX 64
#define SHOW_MAX 200	/* of the reference in a message */

static int bad(struct lp_err *err, const char *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(struct lp_err *err, const char *s, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return lp_fail(err, EINVAL, "%.*s%s: %s", SHOW_MAX, s, strlen(s) > SHOW_MAX ? "..." : "",
		       why);
}

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
	return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool lower_hex(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

/* domain-component ('.' domain-component)* (':' port)?, port 1 to 65535. */
static const char *host_error(const char *h, size_t n)
{
	const char *colon = memchr(h, ':', n);
	size_t name_len = colon ? (size_t)(colon - h) : n, i, start = 0;

	for (i = 0; i <= name_len; i++) {
		if (i < name_len && h[i] != '.')
			continue;
		if (i == start)
			return "empty component in the registry host";
		if (h[start] == '-' || h[i - 1] == '-')
			return "a registry host component starts or ends with '-'";
		start = i + 1;
	}
	for (i = 0; i < name_len; i++)
		if (!alnum(h[i]) && h[i] != '.' && h[i] != '-')
			return "the registry host has a character other than letters, digits, '.', '-'";
	if (colon) {
		const char *p = colon + 1, *end = h + n;
		long port = 0;

		if (p == end || end - p > 5)
			return "the registry port is not a number from 1 to 65535";
		for (; p < end; p++) {
			if (*p < '0' || *p > '9')
				return "the registry port is not a number from 1 to 65535";
			port = port * 10 + (*p - '0');
		}
		if (port < 1 || port > 65535)
			return "the registry port is not a number from 1 to 65535";
	}
	return NULL;
}

/* [a-z0-9]+ (('.' | '_' | '__' | '-'+) [a-z0-9]+)*: words joined by one separator each. */
static bool component_ok(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (!lower_alnum(p[i]))
			return false;
		while (i < n && lower_alnum(p[i]))
			i++;
		if (i == n)
			return true;
		if (p[i] == '.') {
			i++;
		} else if (p[i] == '_') {
			i++;
			if (i < n && p[i] == '_')
				i++;
		} else if (p[i] == '-') {
			while (i < n && p[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == n)
			return false;
	}
	return false;
}

static int check_path(const char *s, const char *path, struct lp_err *err)
{
	const char *p = path;

	if (strpbrk(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
		return bad(err, s, "repository names must be lowercase");
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 0)
			return bad(err, s, "empty component in the repository path");
		if (!component_ok(p, n))
			return bad(err, s,
				   "repository path component '%.*s' is not lowercase letters and digits joined by '.', '_', '__' or '-'",
				   (int)(n > 64 ? 64 : n), p);
		if (!slash)
			return 0;
		p = slash + 1;
	}
}

static int check_tag(const char *s, const char *tag, size_t n, struct lp_err *err)
{
	size_t i;

	if (n == 0)
		return bad(err, s, "empty tag after ':'");
	if (n > TAG_MAX)
		return bad(err, s, "the tag is longer than %d bytes", TAG_MAX);
	for (i = 0; i < n; i++)
		if (!alnum(tag[i]) && tag[i] != '_' && (i == 0 || (tag[i] != '.' && tag[i] != '-')))
			return bad(err, s,
				   "the tag is not a letter, digit or '_' followed by those, '.' or '-'");
	return 0;
}

static int check_digest(const char *s, const char *d, struct lp_err *err)
{
	const char *colon = strchr(d, ':');
	size_t alg_len = colon ? (size_t)(colon - d) : 0, i;

	if (!colon || alg_len == 0)
		return bad(err, s, "the digest after '@' is not sha256:<64 hex digits>");
	if (alg_len != strlen("sha256") || memcmp(d, "sha256", alg_len) != 0) {
		for (i = 0; i < alg_len && i < 16; i++)
			if (!alnum(d[i]) && !strchr("-_+.", d[i]))
				break;
		if (i == alg_len)
			return bad(err, s, "only sha256 digests are supported, not %.*s",
				   (int)alg_len, d);
		return bad(err, s, "the digest after '@' is not sha256:<64 hex digits>");
	}
	if (strlen(colon + 1) != SHA256_HEX || !lower_hex(colon + 1, SHA256_HEX))
		return bad(err, s, "a sha256 digest is 64 lowercase hex digits");
	return 0;
}

/* The copy of [p, p + n) into a field of size bytes, which the caller made sure it fits. */
static void put(char *field, size_t size, const char *p, size_t n)
{
	if (n >= size)
		n = size - 1;
	memcpy(field, p, n);
	field[n] = '\0';
}

/*
 * splitDockerDomain: the first component is a host if it has '.' or ':' or
 * is localhost; a Hub path of one component is an official image.
 */
static int split_name(const char *s, const char *name, size_t n, struct lp_image_ref *out,
		      struct lp_err *err)
{
	const char *slash = memchr(name, '/', n), *rest = name;
	size_t host_len = slash ? (size_t)(slash - name) : 0, rest_len = n;
	bool has_host = slash && (memchr(name, '.', host_len) || memchr(name, ':', host_len) ||
				  (host_len == 9 && memcmp(name, "localhost", 9) == 0));
	const char *why;
	bool library;

	if (has_host) {
		if ((why = host_error(name, host_len)))
			return bad(err, s, "%s", why);
		rest = slash + 1;
		rest_len = n - host_len - 1;
		if (host_len == strlen(LEGACY_HOST) && memcmp(name, LEGACY_HOST, host_len) == 0)
			strcpy(out->host, DEFAULT_HOST);
		else if (host_len >= LP_IMAGE_REPO_MAX)
			return bad(err, s, "the repository name is longer than %d bytes",
				   LP_IMAGE_REPO_MAX);
		else
			put(out->host, sizeof(out->host), name, host_len);
	} else {
		strcpy(out->host, DEFAULT_HOST);
	}
	library = strcmp(out->host, DEFAULT_HOST) == 0 && !memchr(rest, '/', rest_len);
	if (strlen(out->host) + 1 + (library ? strlen("library/") : 0) + rest_len >
	    LP_IMAGE_REPO_MAX)
		return bad(err, s, "the repository name is longer than %d bytes",
			   LP_IMAGE_REPO_MAX);
	snprintf(out->path, sizeof(out->path), "%s%.*s", library ? "library/" : "", (int)rest_len,
		 rest);
	if (check_path(s, out->path, err) < 0)
		return -1;
	strcpy(out->api_host, strcmp(out->host, DEFAULT_HOST) == 0 ? HUB_API_HOST : out->host);
	return 0;
}

static int parse(const char *s, struct lp_image_ref *out, struct lp_err *err)
{
	const char *at, *slash, *colon, *p;
	size_t name_len, len = strlen(s);

	if (len == 0)
		return lp_fail(err, EINVAL, "empty image reference");
	for (p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return lp_fail(err, EINVAL,
				       "image reference with a space, control character or non-ASCII byte (byte %zu)",
				       (size_t)(p - s) + 1);
	if (len >= LP_IMAGE_REF_STR_MAX + strlen(LEGACY_HOST))
		return bad(err, s, "too long for an image reference");
	/* A bare image ID, which docker refuses as a name too. */
	if (len == SHA256_HEX && lower_hex(s, len))
		return bad(err, s, "64 hex digits are an image ID, not a repository name");

	at = strchr(s, '@');
	name_len = at ? (size_t)(at - s) : len;
	if (at) {
		if (check_digest(s, at + 1, err) < 0)
			return -1;
		put(out->digest, sizeof(out->digest), at + 1, strlen(at + 1));
	}
	/* A ':' after the last '/' is the tag's; before it, the host's port. */
	slash = memrchr(s, '/', name_len);
	p = slash ? slash + 1 : s;
	colon = memchr(p, ':', name_len - (size_t)(p - s));
	if (colon) {
		size_t tag_len = name_len - (size_t)(colon - s) - 1;

		if (check_tag(s, colon + 1, tag_len, err) < 0)
			return -1;
		put(out->tag, sizeof(out->tag), colon + 1, tag_len);
		name_len = (size_t)(colon - s);
	} else if (!at) {
		strcpy(out->tag, "latest");
	}
	if (name_len == 0)
		return bad(err, s, "no repository name");
	return split_name(s, s, name_len, out, err);
}

int lp_image_ref_parse(const char *s, struct lp_image_ref *out, struct lp_err *err)
{
	memset(out, 0, sizeof(*out));
	if (parse(s, out, err) == 0)
		return 0;
	memset(out, 0, sizeof(*out));
	return -1;
}

int lp_image_ref_repo(const struct lp_image_ref *r, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s", r->host, r->path);

	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int lp_image_ref_format(const struct lp_image_ref *r, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s%s%s%s%s", r->host, r->path, r->tag[0] ? ":" : "", r->tag,
			 r->digest[0] ? "@" : "", r->digest);

	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}
