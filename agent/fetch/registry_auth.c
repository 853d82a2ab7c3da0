// SPDX-License-Identifier: Apache-2.0
/*
 * Registry authentication without the requests (registry_auth.h):
 * WWW-Authenticate challenges (RFC 9110 §11.6.1), the bearer token
 * request and reply (distribution's docs/spec/auth/token.md) and a cache
 * of tokens.  The auth file is registry_auth_file.c.
 */
#include "agent/fetch/registry_auth.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/spec/json.h"
#include "agent/spec/parse.h"
#include "platform/lib/util.h"

#define SHOW_MAX 160			/* of a header in a message */
#define TOKEN_LIFETIME_MIN 60		/* containers/image's minimumTokenLifetimeSeconds */
#define TOKEN_LIFETIME_MAX (366 * 86400)	/* keeps issued_at + expires_in in range */
#define TOKEN_MARGIN 10			/* not used in its last seconds */

/* ---------------------------------------------------------------- challenges */

struct cursor {
	const char *p;
	const char *header;	/* for messages */
	struct lp_err *err;
};

static int chal_fail(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The header as the message shows it: cut short, control bytes as '?' (one line). */
static int chal_fail(struct cursor *c, const char *fmt, ...)
{
	char why[256], shown[SHOW_MAX + 1];
	size_t i;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	for (i = 0; i < SHOW_MAX && c->header[i]; i++)
		shown[i] = (unsigned char)c->header[i] < 0x20 || c->header[i] == 0x7f ? '?'
										: c->header[i];
	shown[i] = '\0';
	return lp_fail(c->err, EPROTO, "WWW-Authenticate '%s%s': %s", shown,
		       c->header[i] ? "..." : "", why);
}

/* An unexpected byte, for a message: 'x', or its value when it does not print. */
static const char *show_byte(char ch, char buf[8])
{
	if ((unsigned char)ch > ' ' && (unsigned char)ch < 0x7f)
		snprintf(buf, 8, "'%c'", ch);
	else
		snprintf(buf, 8, "0x%02x", (unsigned char)ch);
	return buf;
}

/* RFC 9110 tchar. */
static bool tchar(char ch)
{
	return lp_ascii_alnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool ctl(char ch)
{
	return (unsigned char)ch < 0x20 || ch == 0x7f;
}

static void skip_space(struct cursor *c)
{
	while (*c->p == ' ' || *c->p == '\t')
		c->p++;
}

/*
 * A parameter's value into buf: a quoted-string, '\' escaping the next
 * character, or bare (a token, and for servers that do not quote their
 * realm URL anything up to a ',' or space).
 */
static int read_value(struct cursor *c, const char *key, char *buf, size_t size)
{
	size_t n = 0;
	char ch;

	if (*c->p != '"') {
		while (*c->p && *c->p != ',' && *c->p != ' ' && *c->p != '\t' && *c->p != '"') {
			if (ctl(*c->p))
				return chal_fail(c, "a control character in %s", key);
			if (buf && n + 1 >= size)
				return chal_fail(c, "%s longer than %zu bytes", key, size - 1);
			if (buf)
				buf[n] = *c->p;
			n++;
			c->p++;
		}
		if (buf)
			buf[n] = '\0';
		return 0;
	}
	for (c->p++; (ch = *c->p) != '"'; c->p++) {
		if (ch == '\\')
			ch = *++c->p;
		if (!ch)
			return chal_fail(c, "%s: a quoted string does not end", key);
		if (ctl(ch) && ch != '\t')
			return chal_fail(c, "a control character in %s", key);
		if (buf && n + 1 >= size)
			return chal_fail(c, "%s longer than %zu bytes", key, size - 1);
		if (buf)
			buf[n] = ch;
		n++;
	}
	c->p++;
	if (buf)
		buf[n] = '\0';
	return 0;
}

/* Where the value of key goes in a challenge of ours; NULL: a parameter we do not use. */
static char *param_field(struct lp_auth_challenge *ch, const char *key, size_t len, size_t *size)
{
#define FIELD(f) { #f, offsetof(struct lp_auth_challenge, f), sizeof(ch->f) }
	const struct {
		const char *key;
		size_t offset, size;
	} fields[] = { FIELD(realm), FIELD(service), FIELD(scope), FIELD(error) };
#undef FIELD
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fields); i++) {
		if (strlen(fields[i].key) == len && !strncasecmp(key, fields[i].key, len)) {
			*size = fields[i].size;
			return (char *)ch + fields[i].offset;
		}
	}
	return NULL;
}

static int check_bearer(struct cursor *c, const struct lp_auth_challenge *b)
{
	const char *p;

	if (!b->realm[0])
		return chal_fail(c, "a Bearer challenge without a realm (the token server)");
	for (p = b->realm; *p; p++)
		if (*p == ' ' || ctl(*p))
			return chal_fail(c, "realm with a space or control character");
	if (strncasecmp(b->realm, "https://", 8) != 0 || !b->realm[8] || b->realm[8] == '/')
		return chal_fail(c,
				 "realm %s is not an https:// URL, and the token request may carry our password",
				 b->realm);
	return 0;
}

int lp_auth_challenge_parse(const char *value, struct lp_auth_challenge *out,
			    struct lp_err *err)
{
	struct lp_auth_challenge found[2] = { { 0 } };	/* [0] Basic, [1] Bearer */
	struct lp_auth_challenge *cur = NULL;
	struct cursor c = { .p = value, .header = value, .err = err };
	char offered[64] = "";
	bool in_challenge = false;

	memset(out, 0, sizeof(*out));
	for (;;) {
		const char *tok;
		size_t len, size = 0;
		char *field, key[32], shown[8];

		while (*c.p == ' ' || *c.p == '\t' || *c.p == ',')
			c.p++;
		if (!*c.p)
			break;
		for (tok = c.p; tchar(*c.p); c.p++)
			;
		len = (size_t)(c.p - tok);
		if (!len)
			return chal_fail(&c, "unexpected %s at byte %zu", show_byte(*c.p, shown),
					 (size_t)(c.p - value) + 1);
		skip_space(&c);
		if (*c.p != '=') {
			/* A token not followed by '=' names the next challenge's scheme. */
			enum lp_auth_scheme s = LP_AUTH_NONE;

			if (len == 5 && !strncasecmp(tok, "basic", 5))
				s = LP_AUTH_BASIC;
			else if (len == 6 && !strncasecmp(tok, "bearer", 6))
				s = LP_AUTH_BEARER;
			else if (!offered[0])
				snprintf(offered, sizeof(offered), "%.*s", (int)len, tok);
			/* The first of each scheme counts. */
			cur = s && !found[s - 1].scheme ? &found[s - 1] : NULL;
			if (cur)
				cur->scheme = s;
			in_challenge = true;
			continue;
		}
		c.p++;
		skip_space(&c);
		if (!in_challenge)
			return chal_fail(&c, "a parameter before any scheme");
		snprintf(key, sizeof(key), "%.*s", (int)(len < 31 ? len : 31), tok);
		field = cur ? param_field(cur, tok, len, &size) : NULL;
		if (field && field[0])
			return chal_fail(&c, "%s given twice", key);
		if (read_value(&c, key, field, size) < 0)
			return -1;
		skip_space(&c);
		if (*c.p && *c.p != ',')
			return chal_fail(&c, "unexpected %s after %s", show_byte(*c.p, shown), key);
	}
	if (found[1].scheme) {
		if (check_bearer(&c, &found[1]) < 0)
			return -1;
		*out = found[1];
	} else if (found[0].scheme) {
		*out = found[0];
	} else if (offered[0]) {
		return chal_fail(&c, "neither Bearer nor Basic offered (%s is not supported)",
				 offered);
	} else {
		return chal_fail(&c, "no challenge");
	}
	return 0;
}

/* ---------------------------------------------------------------- token URL */

struct url_buf {
	char *p;
	size_t len, used;
	bool overflow;
};

static void url_raw(struct url_buf *u, const char *s)
{
	size_t n = strlen(s);

	if (u->used + n >= u->len) {
		u->overflow = true;
		return;
	}
	memcpy(u->p + u->used, s, n + 1);
	u->used += n;
}

/* RFC 3986 unreserved characters as they are, every other byte as %XX. */
static void url_escaped(struct url_buf *u, const char *s)
{
	char enc[4];

	for (; *s; s++) {
		if (lp_ascii_alnum(*s) || strchr("-._~", *s)) {
			enc[0] = *s;
			enc[1] = '\0';
		} else {
			snprintf(enc, sizeof(enc), "%%%02X", (unsigned char)*s);
		}
		url_raw(u, enc);
	}
}

static void url_param(struct url_buf *u, const char *name, const char *value)
{
	url_raw(u, strchr(u->p, '?') ? "&" : "?");
	url_raw(u, name);
	url_raw(u, "=");
	url_escaped(u, value);
}

int lp_auth_token_url(const struct lp_auth_challenge *c, const char *path, const char *account,
		      char *out, size_t len, struct lp_err *err)
{
	struct url_buf u = { .p = out, .len = len };
	char scope[sizeof("repository:") + 256 + sizeof(":pull")];

	if (!len)
		return lp_fail(err, EINVAL, "no room for a token URL");
	out[0] = '\0';
	if (c->scheme != LP_AUTH_BEARER || !c->realm[0])
		return lp_fail(err, EINVAL, "a token URL needs a Bearer challenge with a realm");
	if (path && lp_path(scope, sizeof(scope), err, "repository:%s:pull", path) < 0)
		return lp_prefix(err, "token scope");
	url_raw(&u, c->realm);
	if (c->service[0])
		url_param(&u, "service", c->service);
	if (path)
		url_param(&u, "scope", scope);
	if (c->scope[0] && (!path || strcmp(c->scope, scope) != 0))
		url_param(&u, "scope", c->scope);
	if (account && *account)
		url_param(&u, "account", account);
	if (u.overflow) {
		out[0] = '\0';
		return lp_fail(err, ENAMETOOLONG, "token URL for %s longer than %zu bytes",
			       c->realm, len - 1);
	}
	return 0;
}

/* ---------------------------------------------------------------- token reply */

/* 1 with *s when key is a string (jansson refuses \u0000), 0 when absent, -1 otherwise. */
static int member_string(json_t *obj, const char *key, const char **s, struct lp_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	return lp_json_get_string(v, s, key, err) < 0 ? -1 : 1;
}

static int reply_token(json_t *root, char *token, size_t token_len, struct lp_err *err)
{
	const char *t = NULL, *key = "token", *p;
	int rc = member_string(root, key, &t, err);

	if (rc < 0)
		return -1;
	if (rc == 0 || !*t) {
		key = "access_token";
		rc = member_string(root, key, &t, err);
		if (rc < 0)
			return -1;
		if (rc == 0 || !*t)
			return lp_json_fail(err, "", EPROTO, "neither token nor access_token given");
	}
	for (p = t; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return lp_json_fail(err, key, EPROTO,
					    "a character that cannot go in a header line");
	if (strlen(t) >= token_len || strlen(t) >= LP_AUTH_TOKEN_MAX)
		return lp_json_fail(err, key, EPROTO, "%zu bytes, more than the %zu taken",
				    strlen(t),
				    (token_len < LP_AUTH_TOKEN_MAX ? token_len : LP_AUTH_TOKEN_MAX) - 1);
	memcpy(token, t, strlen(t) + 1);
	return 0;
}

/*
 * When the token was issued, by our clock: issued_at unless that cannot be
 * right, which on a board without a battery-backed clock is our clock's
 * fault, not the server's: a time after now (ours is behind), or one so
 * early the token would arrive expired (ours is ahead; a token server does
 * not hand out dead tokens).
 */
static int reply_issued(json_t *root, time_t now, long long lifetime, time_t *issued,
			struct lp_err *err)
{
	const char *s;
	int64_t ns;
	int rc = member_string(root, "issued_at", &s, err);

	*issued = now;
	if (rc <= 0)
		return rc;
	/* RFC 3339 only, not the durations and Unix times the parser also takes. */
	if (strlen(s) < 11 || s[4] != '-' || !strchr(s, 'T') ||
	    lp_parse_time_ns(s, (int64_t)now * 1000000000LL, &ns, err) < 0)
		return lp_json_fail(err, "issued_at", EPROTO, "not an RFC 3339 time: %.40s", s);
	if (ns / 1000000000LL <= (int64_t)now && ns / 1000000000LL > (int64_t)now - lifetime)
		*issued = (time_t)(ns / 1000000000LL);
	return 0;
}

int lp_token_reply_parse(const char *body, size_t len, time_t now, char *token,
			 size_t token_len, time_t *expires_at, struct lp_err *err)
{
	cleanup_json json_t *root = NULL;
	json_error_t jerr;
	long long lifetime = TOKEN_LIFETIME_MIN;
	time_t issued;
	json_t *v;

	if (token_len)
		token[0] = '\0';
	if (len > LP_AUTH_REPLY_MAX)
		return lp_fail(err, EFBIG, "token reply: more than %d bytes", LP_AUTH_REPLY_MAX);
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return lp_fail(err, EPROTO, "token reply: JSON line %d column %d: %s", jerr.line,
			       jerr.column, jerr.text);
	if (!json_is_object(root)) {
		lp_json_type_error(err, "", "an object", root);
		err->code = EPROTO;
		return lp_prefix(err, "token reply");
	}
	v = json_object_get(root, "expires_in");
	if (v) {
		if (!json_is_integer(v)) {
			lp_json_type_error(err, "expires_in", "an integer", v);
			err->code = EPROTO;
			return lp_prefix(err, "token reply");
		}
		if (json_integer_value(v) > lifetime)
			lifetime = json_integer_value(v);
		if (lifetime > TOKEN_LIFETIME_MAX)
			lifetime = TOKEN_LIFETIME_MAX;
	}
	if (reply_token(root, token, token_len, err) < 0 ||
	    reply_issued(root, now, lifetime, &issued, err) < 0) {
		if (token_len)
			lp_wipe(token, token_len);
		err->code = EPROTO;
		return lp_prefix(err, "token reply");
	}
	*expires_at = issued + (time_t)lifetime - TOKEN_MARGIN;
	return 0;
}

/* ---------------------------------------------------------------- token cache */

static char *cache_key(const char *realm, const char *service, const char *scope)
{
	char *key;

	if (asprintf(&key, "%s\n%s\n%s", realm, service ? service : "", scope ? scope : "") < 0)
		return NULL;
	return key;
}

static struct lp_token_slot *cache_find(struct lp_token_cache *c, const char *key)
{
	size_t i;

	for (i = 0; i < LP_TOKEN_CACHE_SLOTS; i++)
		if (c->slot[i].key && !strcmp(c->slot[i].key, key))
			return &c->slot[i];
	return NULL;
}

static void slot_clear(struct lp_token_slot *s)
{
	if (s->token)
		lp_wipe(s->token, strlen(s->token));
	free(s->token);
	free(s->key);
	memset(s, 0, sizeof(*s));
}

const char *lp_token_cache_get(struct lp_token_cache *c, const char *realm, const char *service,
			       const char *scope, time_t now)
{
	cleanup_free char *key = cache_key(realm, service, scope);
	struct lp_token_slot *s = key ? cache_find(c, key) : NULL;

	if (!s)
		return NULL;
	if (now >= s->expires_at) {
		slot_clear(s);
		return NULL;
	}
	return s->token;
}

int lp_token_cache_put(struct lp_token_cache *c, const char *realm, const char *service,
		       const char *scope, const char *token, time_t expires_at,
		       struct lp_err *err)
{
	char *key = cache_key(realm, service, scope), *copy = strdup(token);
	struct lp_token_slot *s = key ? cache_find(c, key) : NULL;
	size_t i;

	if (!key || !copy) {
		free(key);
		if (copy)
			lp_wipe(copy, strlen(copy));
		free(copy);
		return lp_fail(err, ENOMEM, "token cache: out of memory");
	}
	/* The same key's slot, else a free one, else the one that expires first. */
	for (i = 0; !s && i < LP_TOKEN_CACHE_SLOTS; i++)
		if (!c->slot[i].key)
			s = &c->slot[i];
	if (!s) {
		s = &c->slot[0];
		for (i = 1; i < LP_TOKEN_CACHE_SLOTS; i++)
			if (c->slot[i].expires_at < s->expires_at)
				s = &c->slot[i];
	}
	slot_clear(s);
	s->key = key;
	s->token = copy;
	s->expires_at = expires_at;
	return 0;
}

void lp_token_cache_drop(struct lp_token_cache *c, const char *realm, const char *service,
			 const char *scope)
{
	cleanup_free char *key = cache_key(realm, service, scope);
	struct lp_token_slot *s = key ? cache_find(c, key) : NULL;

	if (s)
		slot_clear(s);
}

void lp_token_cache_clear(struct lp_token_cache *c)
{
	size_t i;

	for (i = 0; i < LP_TOKEN_CACHE_SLOTS; i++)
		slot_clear(&c->slot[i]);
}
