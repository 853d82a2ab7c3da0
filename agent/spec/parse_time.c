// SPDX-License-Identifier: Apache-2.0
/*
 * Points in time as docker logs --since and --until take them.  A time
 * without a zone is UTC: a board seldom has a local zone set, and the
 * times logs -t prints are UTC too.
 */
#include "agent/spec/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS 1000000000LL
#define WHOLE_MAX (INT64_MAX / NS - 1)	/* seconds that still fit as ns */

/* Exactly n digits at *p, moved past them. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + (*p)[i] - '0';
	}
	*p += n;
	*out = v;
	return true;
}

/* ".123" (any number of digits, past the ninth dropped) as ns; none: 0. */
static bool fraction(const char **p, int64_t *ns)
{
	int64_t scale = NS / 10;

	*ns = 0;
	if (**p != '.')
		return true;
	if (!isdigit((unsigned char)(*p)[1]))
		return false;
	for ((*p)++; isdigit((unsigned char)**p); (*p)++, scale /= 10)
		*ns += (**p - '0') * scale;
	return true;
}

/* Digits and an optional fraction: Unix seconds.  -1: not that form at all. */
static int unix_time(const char *s, int64_t *ns)
{
	const char *p = s;
	int64_t whole = 0, frac;

	for (; isdigit((unsigned char)*p); p++) {
		whole = whole * 10 + (*p - '0');
		if (whole > WHOLE_MAX)
			return -ERANGE;
	}
	if (p == s || !fraction(&p, &frac) || *p)
		return -1;
	*ns = whole * NS + frac;
	return 0;
}

/* 2026-12-07, 2026-12-07T18:00, 2026-12-07T18:00:00.5Z, ...+01:00. */
static int rfc3339(const char *s, int64_t *ns)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, zh, zm, sign;
	int64_t frac = 0, secs;
	struct tm tm = { 0 }, back;
	time_t t;

	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return -1;
		if (*p == ':' && (p++, !digits(&p, 2, &sec) || !fraction(&p, &frac)))
			return -1;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm() takes February 30th as March 2nd: the fields must come back as given. */
	if (!gmtime_r(&t, &back) || back.tm_year != y - 1900 || back.tm_mon != mo - 1 ||
	    back.tm_mday != d || back.tm_hour != h || back.tm_min != mi || back.tm_sec != sec)
		return -1;
	secs = (int64_t)t;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!digits(&p, 2, &zh) || *p++ != ':' || !digits(&p, 2, &zm) || zh > 23 || zm > 59)
			return -1;
		secs -= sign * (zh * 3600 + zm * 60);
	}
	if (*p || secs < 0 || secs > WHOLE_MAX)
		return -1;
	*ns = secs * NS + frac;
	return 0;
}

static const struct {
	const char *unit;
	int64_t ns;
} units[] = {
	{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", NS }, { "m", 60 * NS }, { "h", 3600 * NS },
};

/* Go's durations: "10m", "1h30m", "1.5h", "500ms"; none may be negative. */
static int duration(const char *s, int64_t *ns)
{
	const char *p = s;
	int64_t total = 0;

	while (*p) {
		int64_t whole = 0, frac, part;
		size_t i, len, best = 0, which = 0;
		const char *num = p;

		for (; isdigit((unsigned char)*p); p++) {
			whole = whole * 10 + (*p - '0');
			if (whole > WHOLE_MAX)
				return -ERANGE;
		}
		if (p == num || !fraction(&p, &frac))
			return -1;
		/* the longest unit that matches: "ms" before "m" */
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			len = strlen(units[i].unit);
			if (len > best && !strncmp(p, units[i].unit, len)) {
				best = len;
				which = i;
			}
		}
		if (!best)
			return -1;
		p += best;
		if (whole > INT64_MAX / units[which].ns)
			return -ERANGE;
		/* frac is in billionths of the unit; either way the product fits */
		part = whole * units[which].ns + (units[which].ns >= NS ? frac * (units[which].ns / NS)
									 : frac * units[which].ns / NS);
		if (part > INT64_MAX - total)
			return -ERANGE;
		total += part;
	}
	*ns = total;
	return p == s ? -1 : 0;
}

int lp_parse_time_ns(const char *s, int64_t now_ns, int64_t *ns, struct lp_err *err)
{
	int64_t d;
	int rc;

	if (!s)
		s = "";
	rc = unix_time(s, ns);
	if (rc == -1)
		rc = rfc3339(s, ns);
	if (rc == -1) {
		rc = duration(s, &d);
		if (rc == 0)
			*ns = now_ns - d;
	}
	if (rc == -ERANGE)
		return lp_fail(err, ERANGE, "'%s' is out of range", s);
	if (rc < 0)
		return lp_fail(err, EINVAL,
			       "'%s' is not a time (e.g. 2026-12-07T18:00:00Z, Unix seconds, or "
			       "a duration before now such as 10m or 1h30m)",
			       s);
	return 0;
}
