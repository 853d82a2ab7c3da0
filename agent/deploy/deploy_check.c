// SPDX-License-Identifier: Apache-2.0
/*
 * The rules around a deployment document once it is parsed (deploy_doc.c):
 * loading it signed, whether it applies to this device now, where its image
 * references point, its devices on this board, and RFC 3339 times.
 */
#include "agent/deploy/deploy_doc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/spec/parse.h"
#include "platform/lib/util.h"

#define LIST_BUF 160		/* one target list in a refusal; longer ones end in "..." */

/* ---------------------------------------------------------------- signed file */

static int read_document(const char *path, char **text, size_t *len, struct lp_err *err)
{
	/*
	 * One byte over the limit tells a file that is too large from one that
	 * fits.  Never through a link: on a stick it could name a host file.
	 */
	if (lp_read_file_nofollow(path, LP_DEPLOY_MAX + 1, text, len, err) < 0)
		return -1;
	if (*len <= LP_DEPLOY_MAX)
		return 0;
	free(*text);
	*text = NULL;
	return lp_fail(err, EFBIG, "%s: larger than %d KiB, not a deployment document", path,
		       LP_DEPLOY_MAX / 1024);
}

int lp_deploy_load_signed(const char *path, const char *sig_path, const struct lp_trust *trust,
			  struct lp_deployment *d, unsigned char digest[LP_SHA256_LEN],
			  struct lp_err *err)
{
	unsigned char sum[LP_SHA256_LEN];
	cleanup_free char *text = NULL;
	char default_sig[PATH_MAX];
	size_t len = 0;

	memset(d, 0, sizeof(*d));
	if (!sig_path) {
		if (lp_path(default_sig, sizeof(default_sig), err, "%s.sig", path) < 0)
			return -1;
		sig_path = default_sig;
	}
	if (read_document(path, &text, &len, err) < 0)
		return -1;
	/* the bytes hashed are the bytes parsed: the file is not read twice */
	if (lp_sha256_buf(text, len, sum, err) < 0 ||
	    lp_trust_verify(trust, sum, sig_path, NULL, err) < 0 ||
	    lp_deploy_parse(text, len, d, err) < 0)
		return lp_prefix(err, "%s", path);
	if (digest)
		memcpy(digest, sum, sizeof(sum));
	return 0;
}

/* ---------------------------------------------------------------- applicability */

static bool strv_contains(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (!strcmp(*v, s))
			return true;
	return false;
}

static bool any_in(char *const *have, char *const *wanted)
{
	for (; have && *have; have++)
		if (strv_contains(wanted, *have))
			return true;
	return false;
}

/* "a, b, c" into buf, ending in "..." when it does not all fit. */
static const char *join_list(char *const *v, char *buf, size_t size)
{
	static const char more[] = ", ...";
	size_t used = 0, n;

	buf[0] = '\0';
	for (; v && *v; v++) {
		const char *sep = used ? ", " : "";

		n = strlen(sep) + strlen(*v);
		if (used + n + sizeof(more) > size) {
			snprintf(buf + used, size - used, "%s", used ? more : "...");
			break;
		}
		used += (size_t)snprintf(buf + used, size - used, "%s%s", sep, *v);
	}
	return buf;
}

static int refuse_target(const struct lp_deployment *d, const char *device_id,
			 char *const *groups, struct lp_err *err)
{
	char devices[LIST_BUF], targets[LIST_BUF], mine[LIST_BUF];

	return lp_fail(err, ENXIO, "for devices [%s] / groups [%s], not %s (%s%s)",
		       join_list(d->target_devices, devices, sizeof(devices)),
		       join_list(d->target_groups, targets, sizeof(targets)), device_id,
		       groups && groups[0] ? "groups " : "no groups",
		       join_list(groups, mine, sizeof(mine)));
}

int lp_deploy_check_applicable(const struct lp_deployment *d, int64_t current_version,
			       int64_t now, const char *device_id, char *const *groups,
			       struct lp_err *err)
{
	char when[LP_RFC3339_LEN];

	if (!device_id)
		device_id = "";
	if (d->version == current_version)
		return lp_fail(err, EALREADY,
			       "version %lld is not newer than the running %lld (already applied)",
			       (long long)d->version, (long long)current_version);
	if (d->version < current_version)
		return lp_fail(err, ESTALE,
			       "version %lld is not newer than the running %lld (rollback refused)",
			       (long long)d->version, (long long)current_version);
	if (now >= d->expires) {
		lp_rfc3339_format(d->expires, when);
		return lp_fail(err, ETIME, "expired at %s", when);
	}
	if (strv_contains(d->target_devices, device_id) || any_in(groups, d->target_groups))
		return 0;
	return refuse_target(d, device_id, groups, err);
}

/* ---------------------------------------------------------------- image URLs */

/* RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"; 0 when s has no scheme. */
static size_t scheme_len(const char *s)
{
	size_t n;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return 0;
	for (n = 1; s[n] && (lp_ascii_alnum(s[n]) || strchr("+-.", s[n])); n++)
		;
	return s[n] == ':' ? n : 0;
}

static bool is_https(const char *s)
{
	return !strncasecmp(s, "https://", strlen("https://"));
}

/* Is there a ".." segment before the end (or the query or fragment)? */
static bool has_dotdot(const char *s)
{
	size_t len;

	while (*s && !strchr("?#", *s)) {
		len = strcspn(s, "/?#");
		if (len == 2 && s[0] == '.' && s[1] == '.')
			return true;
		s += len;
		if (*s == '/')
			s++;
	}
	return false;
}

static int check_https_url(const char *url, struct lp_err *err)
{
	const char *host = url + strlen("https://");
	const char *p;

	for (p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return lp_fail(err, EINVAL, "'%s' has spaces or control characters", url);
	if (strcspn(host, "/?#") == 0)
		return lp_fail(err, EINVAL, "'%s' has no host", url);
	if (has_dotdot(host))
		return lp_fail(err, EINVAL, "'%s' has a '..' segment", url);
	return 0;
}

/*
 * A path relative to the document: names made of characters a file name
 * needs, joined by single '/'.  Nothing there can change what the base
 * means ('%', '?', '#', ':', '\') or climb out of its directory ("..").
 */
static int check_relative(const char *ref, struct lp_err *err)
{
	const char *p;

	if (ref[0] == '/')
		return lp_fail(err, EINVAL,
			       "'%s' starts with '/' (give a path relative to the deployment, or "
			       "an https:// URL)",
			       ref);
	for (p = ref; *p; p++)
		if (!lp_ascii_alnum(*p) && !strchr("/._~+@=,-", *p))
			return lp_fail(err, EINVAL, "'%s': '%c' is not allowed in a relative path",
				       ref, *p);
	if (strstr(ref, "//") || ref[strlen(ref) - 1] == '/')
		return lp_fail(err, EINVAL, "'%s' has an empty path segment", ref);
	if (has_dotdot(ref))
		return lp_fail(err, EINVAL, "'%s' has a '..' segment", ref);
	return 0;
}

int lp_deploy_check_ref(const char *ref, struct lp_err *err)
{
	size_t scheme;

	if (!*ref)
		return lp_fail(err, EINVAL, "empty (a path relative to the deployment, or an "
					    "https:// URL)");
	scheme = scheme_len(ref);
	if (scheme && !is_https(ref))
		return lp_fail(err, EINVAL, "'%s': only https:// URLs are allowed, not %.*s:", ref,
			       (int)scheme, ref);
	return scheme ? check_https_url(ref, err) : check_relative(ref, err);
}

/* How much of an https base stays: through the last '/' of its path. */
static int url_dir_len(const char *base, size_t *len, bool *add_slash, struct lp_err *err)
{
	const char *host = base + strlen("https://");
	size_t end = (size_t)(host - base) + strcspn(host, "?#");
	size_t path = (size_t)(host - base) + strcspn(host, "/?#");

	if (check_https_url(base, err) < 0)
		return -1;
	*len = end;
	while (*len > path && base[*len - 1] != '/')
		(*len)--;
	/* "https://host" alone: its directory is "/" */
	*add_slash = *len == path;
	return 0;
}

/*
 * A bundle directory as it is, else the document's directory.  Asking the
 * filesystem keeps "/media/usb/limpet" from meaning "/media/usb/".
 */
static void local_dir_len(const char *base, size_t *len, bool *add_slash)
{
	struct stat st;
	size_t n = strlen(base);

	*add_slash = false;
	if (base[n - 1] != '/' && stat(base, &st) == 0 && S_ISDIR(st.st_mode)) {
		*len = n;
		*add_slash = true;
		return;
	}
	/* base starts with '/', so this stops */
	while (base[n - 1] != '/')
		n--;
	*len = n;
}

int lp_deploy_resolve_url(const char *deployment_url, const char *ref, char **out,
			  struct lp_err *err)
{
	bool add_slash = false;
	size_t dir_len = 0;

	*out = NULL;
	if (lp_deploy_check_ref(ref, err) < 0)
		return lp_prefix(err, "image url");
	if (scheme_len(ref)) {
		*out = strdup(ref);
		return *out ? 0 : lp_fail(err, ENOMEM, "out of memory");
	}
	if (is_https(deployment_url)) {
		if (url_dir_len(deployment_url, &dir_len, &add_slash, err) < 0)
			return lp_prefix(err, "deployment location");
	} else if (deployment_url[0] == '/') {
		local_dir_len(deployment_url, &dir_len, &add_slash);
	} else {
		return lp_fail(err, EINVAL,
			       "deployment location '%s' is neither an https:// URL nor an "
			       "absolute path",
			       deployment_url);
	}
	if (asprintf(out, "%.*s%s%s", (int)dir_len, deployment_url, add_slash ? "/" : "",
		     ref) < 0) {
		*out = NULL;
		return lp_fail(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* ---------------------------------------------------------------- devices */

int lp_deploy_resolve_devices(struct lp_deploy_container *c, struct lp_err *err)
{
	struct lp_device *devices;
	size_t i, n = 0;

	while (c->device_specs && c->device_specs[n])
		n++;
	devices = n ? calloc(n, sizeof(*devices)) : NULL;
	if (n && !devices)
		return lp_fail(err, ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		if (lp_parse_device(c->device_specs[i], &devices[i], err) < 0) {
			free(devices);
			return lp_prefix(err, "devices[%zu]", i);
		}
	}
	free(c->cfg.devices);
	c->cfg.devices = devices;
	c->cfg.n_devices = n;
	return 0;
}

/* ---------------------------------------------------------------- RFC 3339 */

/* 'd' is a digit, 'T' is T or t (RFC 3339 section 5.6), anything else itself. */
static bool has_shape(const char *s, const char *shape)
{
	for (; *shape; s++, shape++) {
		if (*shape == 'd' && !(*s >= '0' && *s <= '9'))
			return false;
		if (*shape == 'T' && *s != 'T' && *s != 't')
			return false;
		if (*shape != 'd' && *shape != 'T' && *s != *shape)
			return false;
	}
	return true;
}

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return month == 2 && leap_year(year) ? 29 : days[month - 1];
}

/* "Z", or "+hh:mm" / "-hh:mm": seconds to subtract to get UTC. */
static int parse_offset(const char *s, const char *whole, int64_t *offset, struct lp_err *err)
{
	int hh, mm;

	if ((s[0] == 'Z' || s[0] == 'z') && !s[1]) {
		*offset = 0;
		return 0;
	}
	if ((s[0] != '+' && s[0] != '-') || !has_shape(s + 1, "dd:dd") || s[6] ||
	    sscanf(s + 1, "%2d:%2d", &hh, &mm) != 2)
		return lp_fail(err, EINVAL,
			       "'%s' is not an RFC 3339 date-time: it needs a zone, Z or +hh:mm "
			       "(e.g. 2026-12-31T23:59:59Z)",
			       whole);
	if (hh > 23 || mm > 59)
		return lp_fail(err, EINVAL, "'%s': the offset %.6s is out of range", whole, s);
	*offset = (s[0] == '-' ? -1 : 1) * (int64_t)(hh * 3600 + mm * 60);
	return 0;
}

int lp_rfc3339_parse(const char *s, int64_t *t, struct lp_err *err)
{
	struct tm tm = { 0 };
	int64_t offset = 0;
	time_t local;
	const char *p;

	if (!has_shape(s, "dddd-dd-ddTdd:dd:dd") ||
	    sscanf(s, "%4d-%2d-%2d%*c%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return lp_fail(err, EINVAL,
			       "'%s' is not an RFC 3339 date-time (e.g. 2026-12-31T23:59:59Z)", s);
	p = s + strlen("yyyy-mm-ddThh:mm:ss");
	/* fractions of a second change nothing at this resolution */
	if (*p == '.' && p[1] >= '0' && p[1] <= '9')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (parse_offset(p, s, &offset, err) < 0)
		return -1;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > days_in_month(tm.tm_year, tm.tm_mon))
		return lp_fail(err, EINVAL, "'%s': no such date", s);
	/* 60 is a leap second; timegm carries it into the next minute */
	if (tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return lp_fail(err, EINVAL, "'%s': no such time of day", s);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	errno = 0;
	local = timegm(&tm);
	if (local == (time_t)-1 && errno == EOVERFLOW)
		return lp_fail(err, ERANGE, "'%s' is out of range", s);
	*t = (int64_t)local - offset;
	return 0;
}

void lp_rfc3339_format(int64_t t, char buf[LP_RFC3339_LEN])
{
	time_t tt = (time_t)t;
	struct tm tm;

	/* %04Y (POSIX): a plain %Y has no leading zeros (year 302), which RFC 3339 needs */
	if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999 ||
	    !strftime(buf, LP_RFC3339_LEN, "%04Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, LP_RFC3339_LEN, "@%lld", (long long)t);
}
