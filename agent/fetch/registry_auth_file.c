// SPDX-License-Identifier: Apache-2.0
/*
 * The auth file (registry_auth.h): Docker's config.json, podman's and
 * skopeo's auth.json, keyed as containers/image 5.23 reads them
 * (pkg/docker/config/config.go).  Passwords are kept only as long as the
 * file is loaded, and wiped wherever limpet holds a copy.
 */
#include "agent/fetch/registry_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <mbedtls/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/spec/json.h"
#include "platform/lib/util.h"

#define AUTH_FILE_MAX (1 << 20)
#define HUB_KEY "index.docker.io"
#define KEY_SHOW 100	/* of a key in a message */

struct auth_entry {
	char *key;		/* as written, for messages */
	char *norm;		/* what lookups compare: "host[/ns...]" */
	char *auth;		/* base64("user:password"), or NULL */
	char *user, *password;	/* the other way to give them, or NULL */
	bool identity_token;
};

struct lp_auth_file {
	char *path;
	struct auth_entry *e;
	size_t n;
	bool helpers;		/* credHelpers or credsStore, which are ignored */
};

/* containers/image's normalizeRegistry: the names of Docker Hub's registry are one. */
static const char *hub_alias(const char *host, size_t len)
{
	static const char *const names[] = { "docker.io", "registry-1.docker.io", HUB_KEY };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (strlen(names[i]) == len && !strncmp(host, names[i], len))
			return HUB_KEY;
	return NULL;
}

/*
 * containers/image's normalizeAuthFileKey: a key written as a URL
 * ("https://index.docker.io/v1/", as docker login writes Hub's) is its
 * host; one without a scheme may name a namespace or repository.
 */
static char *normalise_key(const char *key)
{
	const char *k = key, *hub;
	size_t len, host_len;
	bool url = false;
	char *out;

	if (!strncmp(k, "http://", 7) || !strncmp(k, "https://", 8)) {
		k += k[4] == 's' ? 8 : 7;
		url = true;
	}
	host_len = strcspn(k, "/");
	len = url ? host_len : strlen(k);
	hub = hub_alias(k, host_len);
	if (asprintf(&out, "%s%.*s", hub ? hub : "", (int)(hub ? len - host_len : len),
		     hub ? k + host_len : k) < 0)
		return NULL;
	return out;
}

static void wipe_free(char *s)
{
	if (s)
		lp_wipe(s, strlen(s));
	free(s);
}

void lp_auth_file_free(struct lp_auth_file *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->n; i++) {
		free(f->e[i].key);
		free(f->e[i].norm);
		wipe_free(f->e[i].auth);
		wipe_free(f->e[i].user);
		wipe_free(f->e[i].password);
	}
	free(f->e);
	free(f->path);
	free(f);
}

void lp_auth_file_freep(struct lp_auth_file **f)
{
	lp_auth_file_free(*f);
}

/* The secrets' bytes inside jansson's tree, before it is freed without wiping them. */
static void wipe_secrets(json_t *auths)
{
	static const char *const secret[] = { "auth", "password", "identitytoken" };
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(auths, key, v) {
		for (i = 0; json_is_object(v) && i < ARRAY_SIZE(secret); i++) {
			json_t *s = json_object_get(v, secret[i]);

			if (json_is_string(s))
				lp_wipe((char *)json_string_value(s), json_string_length(s));
		}
	}
}

/* *dst := a copy of member name of obj if it is a non-empty string; absent or "" leave NULL. */
static int dup_member(json_t *obj, const char *name, char **dst, const char *key,
		      struct lp_err *err)
{
	json_t *v = json_object_get(obj, name);
	char path[LP_JSON_PATH_MAX];
	const char *s;

	snprintf(path, sizeof(path), "auths.\"%.*s\".%s", KEY_SHOW, key, name);
	if (!v)
		return 0;
	/* jansson refuses \u0000 unless asked: s is the whole string. */
	if (lp_json_get_string(v, &s, path, err) < 0)
		return -1;
	if (*s && !(*dst = strdup(s)))
		return lp_json_out_of_memory(err, path);
	return 0;
}

static int decode_entry(const char *key, json_t *v, struct auth_entry *e, struct lp_err *err)
{
	char path[LP_JSON_PATH_MAX];
	cleanup_free char *token = NULL;

	snprintf(path, sizeof(path), "auths.\"%.*s\"", KEY_SHOW, key);
	if (!json_is_object(v))
		return lp_json_type_error(err, path, "an object", v);
	if (!(e->key = strdup(key)) || !(e->norm = normalise_key(key)))
		return lp_json_out_of_memory(err, path);
	if (dup_member(v, "auth", &e->auth, key, err) < 0 ||
	    dup_member(v, "username", &e->user, key, err) < 0 ||
	    dup_member(v, "password", &e->password, key, err) < 0 ||
	    dup_member(v, "identitytoken", &token, key, err) < 0)
		return -1;
	e->identity_token = token != NULL;
	if (token)
		lp_wipe(token, strlen(token));
	return 0;
}

static int decode_file(json_t *root, struct lp_auth_file *f, struct lp_err *err)
{
	json_t *auths, *v;
	const char *key;

	if (!json_is_object(root))
		return lp_json_type_error(err, "", "an object", root);
	f->helpers = json_object_get(root, "credHelpers") || json_object_get(root, "credsStore");
	auths = json_object_get(root, "auths");
	if (!auths)
		return 0;
	if (!json_is_object(auths))
		return lp_json_type_error(err, "auths", "an object", auths);
	if (!(f->e = calloc(json_object_size(auths) + 1, sizeof(*f->e))))
		return lp_json_out_of_memory(err, "auths");
	json_object_foreach(auths, key, v) {
		/* Counted first: what a failed entry holds is freed with the rest. */
		f->n++;
		if (decode_entry(key, v, &f->e[f->n - 1], err) < 0)
			return -1;
	}
	return 0;
}

/* The bytes of the file at fd after the checks that it is root's alone. */
static int read_private(int fd, const char *path, char **buf, size_t *len, struct lp_err *err)
{
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return lp_fail_errno(err, "stat %s", path);
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return lp_fail(err, EACCES, "%s: owned by uid %u, must be owned by root", path,
			       (unsigned int)st.st_uid);
	if (st.st_mode & 077)
		return lp_fail(err, EACCES,
			       "%s: mode %04o, must not be readable by group or others (chmod 600)",
			       path, (unsigned int)(st.st_mode & 07777));
	if (st.st_size > AUTH_FILE_MAX)
		return lp_fail(err, EFBIG, "%s: larger than %d KiB", path, AUTH_FILE_MAX >> 10);
	if (!(*buf = malloc(AUTH_FILE_MAX + 1)))
		return lp_fail_errno(err, "read %s", path);
	n = lp_pread_all(fd, *buf, AUTH_FILE_MAX + 1, 0);
	if (n < 0)
		return lp_fail_errno(err, "read %s", path);
	if (n > AUTH_FILE_MAX)
		return lp_fail(err, EFBIG, "%s: larger than %d KiB", path, AUTH_FILE_MAX >> 10);
	*len = (size_t)n;
	return 0;
}

int lp_auth_file_load(const char *path, struct lp_auth_file **out, struct lp_err *err)
{
	cleanup_fd int fd = lp_open_regular(AT_FDCWD, path, O_RDONLY | O_NOFOLLOW, 0, err);
	cleanup_auth_file struct lp_auth_file *f = NULL;
	cleanup_json json_t *root = NULL;
	char *buf = NULL;
	json_error_t jerr;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (fd < 0)
		return -1;
	rc = read_private(fd, path, &buf, &len, err);
	if (rc == 0)
		root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (buf)
		lp_wipe(buf, len);
	free(buf);
	if (rc < 0)
		return -1;
	if (!root)
		return lp_fail(err, EINVAL, "%s: JSON line %d column %d: %s", path, jerr.line,
			       jerr.column, jerr.text);
	if (!(f = calloc(1, sizeof(*f))) || !(f->path = strdup(path)))
		rc = lp_fail(err, ENOMEM, "%s: out of memory", path);
	else if (decode_file(root, f, err) < 0)
		rc = lp_prefix(err, "%s", path);
	if (json_is_object(json_object_get(root, "auths")))
		wipe_secrets(json_object_get(root, "auths"));
	if (rc == 0)
		*out = steal_ptr(f);
	return rc;
}

const char *lp_auth_file_note(const struct lp_auth_file *f)
{
	return f && f->helpers ? "credHelpers and credsStore are ignored: limpet runs no "
				 "credential helpers, give the credentials under auths"
			       : NULL;
}

/* ---------------------------------------------------------------- lookup */

static int entry_fail(const struct lp_auth_file *f, const struct auth_entry *e,
		      struct lp_err *err, const char *why)
{
	return lp_fail(err, EINVAL, "%s: auths.\"%.*s\": %s", f->path, KEY_SHOW, e->key, why);
}

/* cred := user and base64(user:password), from the parts of user:password in buf. */
static int encode_cred(const struct lp_auth_file *f, const struct auth_entry *e,
		       const char *user, size_t user_len, const char *pw, size_t pw_len,
		       struct lp_auth_cred *cred, struct lp_err *err)
{
	cleanup_free char *plain = malloc(user_len + 1 + pw_len + 1);
	size_t olen;
	int rc;

	if (!plain)
		return lp_fail(err, ENOMEM, "%s: out of memory", f->path);
	if (memchr(user, ':', user_len) || memchr(user, '\0', user_len))
		return entry_fail(f, e, err, "a user name with ':' or NUL cannot be sent");
	if (user_len >= sizeof(cred->user))
		return entry_fail(f, e, err, "a user name longer than 255 bytes");
	memcpy(cred->user, user, user_len);
	cred->user[user_len] = '\0';
	memcpy(plain, user, user_len);
	plain[user_len] = ':';
	memcpy(plain + user_len + 1, pw, pw_len);
	rc = mbedtls_base64_encode((unsigned char *)cred->basic, sizeof(cred->basic), &olen,
				   (unsigned char *)plain, user_len + 1 + pw_len);
	lp_wipe(plain, user_len + 1 + pw_len);
	if (rc != 0)
		return entry_fail(f, e, err, "credentials longer than limpet takes");
	return 1;
}

static int use_entry(const struct lp_auth_file *f, const struct auth_entry *e,
		     struct lp_auth_cred *cred, struct lp_err *err)
{
	size_t n = e->auth ? strlen(e->auth) : 0, plain_len = 0, pw_len;
	cleanup_free unsigned char *plain = NULL;
	const char *colon;
	int rc;

	if (!e->auth && (e->user || e->password))
		return encode_cred(f, e, e->user ? e->user : "", e->user ? strlen(e->user) : 0,
				   e->password ? e->password : "",
				   e->password ? strlen(e->password) : 0, cred, err);
	if (!e->auth && e->identity_token)
		return entry_fail(f, e, err,
				  "only an identitytoken (an OAuth2 refresh token), which limpet does not support: give auth, or username and password");
	if (!e->auth)
		return 0;	/* what docker writes for a credential helper: anonymous */
	if (!(plain = malloc(n + 1)))
		return lp_fail(err, ENOMEM, "%s: out of memory", f->path);
	if (mbedtls_base64_decode(plain, n + 1, &plain_len, (unsigned char *)e->auth, n) != 0) {
		lp_wipe(plain, n + 1);
		return entry_fail(f, e, err, "auth is not base64");
	}
	colon = memchr(plain, ':', plain_len);
	if (!colon) {
		lp_wipe(plain, n + 1);
		return entry_fail(f, e, err, "auth is not the base64 of user:password (no ':')");
	}
	/* containers/image drops NULs at the password's end, as some tools wrote them. */
	pw_len = plain_len - (size_t)(colon + 1 - (char *)plain);
	while (pw_len && colon[pw_len] == '\0')
		pw_len--;
	rc = encode_cred(f, e, (char *)plain, (size_t)(colon - (char *)plain), colon + 1, pw_len,
			 cred, err);
	lp_wipe(plain, n + 1);
	return rc;
}

static const struct auth_entry *find(const struct lp_auth_file *f, const char *key, size_t len)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strlen(f->e[i].norm) == len && !strncmp(f->e[i].norm, key, len))
			return &f->e[i];
	return NULL;
}

int lp_auth_file_lookup(const struct lp_auth_file *f, const char *host, const char *path,
			struct lp_auth_cred *cred, struct lp_err *err)
{
	const char *hub = hub_alias(host, strlen(host));
	cleanup_free char *want = NULL;
	size_t len, host_len;

	memset(cred, 0, sizeof(*cred));
	if (asprintf(&want, "%s%s%s", hub ? hub : host, path && *path ? "/" : "",
		     path ? path : "") < 0)
		return lp_fail(err, ENOMEM, "%s: out of memory", f->path);
	host_len = strlen(hub ? hub : host);
	/* host/a/b/c, host/a/b, host/a, host: the most specific key wins. */
	for (len = strlen(want);;) {
		const struct auth_entry *e = find(f, want, len);

		if (e) {
			int rc = use_entry(f, e, cred, err);

			if (rc <= 0)
				lp_wipe(cred, sizeof(*cred));
			return rc;
		}
		if (len == host_len)
			break;
		while (len > host_len && want[--len] != '/')
			;
	}
	return 0;
}
