// SPDX-License-Identifier: Apache-2.0
/*
 * Values users type, on the command line or in the config.  Numbers with a
 * fraction are read as fixed point (whole part + billionths) instead of with
 * strtod(), so "1.1G" or "0.3" CPUs come out exact and the same everywhere.
 * Messages carry the value but not the option: the caller knows its name.
 */
#include "agent/spec/parse.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "platform/lib/util.h"

#define NANO 1000000000u
#define LP_ID_MAX (UINT32_MAX - 1)	/* (uid_t)-1 means "unchanged" to the kernel */
#define USERNS_DEFAULT_COUNT 65536
#define RESTART_FIRST_DELAY_MS 100
#define RESTART_MAX_DELAY_MS 30000

struct decimal {
	uint64_t whole;
	uint32_t nano;		/* fraction in billionths; digits past the ninth are dropped */
};

/* A unit suffix and what it multiplies by; every mult fits in 2^30. */
struct unit {
	const char *suffix;
	uint64_t mult;
};

/* What a family of quantities is called in messages, and its units. */
struct quantity {
	const char *what;	/* "a size (e.g. 64M, 1G)" */
	const char *smallest;	/* the unit a fraction may not be applied to */
	const struct unit *units;
	size_t n_units;
};

static const struct unit size_units[] = {
	{ "", 1 },		{ "b", 1 },		{ "B", 1 },
	{ "k", 1u << 10 },	{ "K", 1u << 10 },	{ "KiB", 1u << 10 },
	{ "m", 1u << 20 },	{ "M", 1u << 20 },	{ "MiB", 1u << 20 },
	{ "g", 1u << 30 },	{ "G", 1u << 30 },	{ "GiB", 1u << 30 },
};

static const struct unit duration_units[] = {
	{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 }, { "h", 3600 * 1000 },
};

static const struct quantity sizes = {
	"a size (e.g. 64M, 1G)", "bytes", size_units, ARRAY_SIZE(size_units),
};

static const struct quantity durations = {
	"a duration (e.g. 10s, 500ms, 2m)", "milliseconds", duration_units,
	ARRAY_SIZE(duration_units),
};

/*
 * Digits, then optionally "." and at least one more digit.  *end gets the
 * first character after the number.  -EINVAL: s does not start with a
 * number (so also for a sign or a space); -ERANGE: the whole part is huge.
 */
static int parse_decimal(const char *s, struct decimal *d, const char **end)
{
	uint32_t scale = NANO / 10;
	char *p;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	d->whole = strtoull(s, &p, 10);
	if (errno == ERANGE)
		return -ERANGE;
	d->nano = 0;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++) {
			d->nano += (uint32_t)(*p - '0') * scale;
			scale /= 10;
		}
	}
	*end = p;
	return 0;
}

/* A plain number up to max; without end, nothing may follow.  -EINVAL or -ERANGE. */
static int parse_uint(const char *s, const char **end, uint64_t max, uint64_t *v)
{
	char *after;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &after, 10);
	if (errno == ERANGE || *v > max)
		return -ERANGE;
	if (!end && *after)
		return -EINVAL;
	if (end)
		*end = after;
	return 0;
}

static const struct unit *find_unit(const struct quantity *q, const char *suffix)
{
	size_t i;

	for (i = 0; i < q->n_units; i++)
		if (!strcmp(q->units[i].suffix, suffix))
			return &q->units[i];
	return NULL;
}

/*
 * d * mult truncated to a whole number.  -ERANGE past INT64_MAX; -EDOM for a
 * fraction of the smallest unit ("1.5" bytes), which is surely a typo.
 */
static int scale_decimal(const struct decimal *d, uint64_t mult, int64_t *out)
{
	uint64_t whole, frac;

	if (d->nano && mult == 1)
		return -EDOM;
	if (d->whole > (uint64_t)INT64_MAX / mult)
		return -ERANGE;
	whole = d->whole * mult;
	/* nano < 2^30 and mult <= 2^30: the product fits in 64 bits */
	frac = (uint64_t)d->nano * mult / NANO;
	if (frac > (uint64_t)INT64_MAX - whole)
		return -ERANGE;
	*out = (int64_t)(whole + frac);
	return 0;
}

static int parse_quantity(const struct quantity *q, const char *s, int64_t *out,
			  struct lp_err *err)
{
	const struct unit *unit;
	const char *suffix;
	struct decimal d;
	int ret;

	if (!s)
		s = "";
	ret = parse_decimal(s, &d, &suffix);
	if (ret == 0) {
		unit = find_unit(q, suffix);
		ret = unit ? scale_decimal(&d, unit->mult, out) : -EINVAL;
	}
	switch (ret) {
	case 0:
		return 0;
	case -ERANGE:
		return lp_fail(err, ERANGE, "'%s' is too large", s);
	case -EDOM:
		return lp_fail(err, EINVAL, "'%s' is not a whole number of %s", s, q->smallest);
	}
	if (*s == '-')
		return lp_fail(err, EINVAL, "'%s' is negative", s);
	return lp_fail(err, EINVAL, "'%s' is not %s", s, q->what);
}

int lp_parse_size(const char *s, int64_t *bytes, struct lp_err *err)
{
	return parse_quantity(&sizes, s, bytes, err);
}

int lp_parse_duration(const char *s, int64_t *ms, struct lp_err *err)
{
	return parse_quantity(&durations, s, ms, err);
}

static int cpus_out_of_range(const char *text, struct lp_err *err)
{
	return lp_fail(err, ERANGE, "'%s' is out of range (%g to %d CPUs)", text,
		       (double)LP_CPU_QUOTA_MIN_US / LP_CPU_PERIOD_US, LP_CPUS_MAX);
}

static int set_cpu_quota(int64_t quota, const char *text, struct lp_limits *limits,
			 struct lp_err *err)
{
	if (quota < LP_CPU_QUOTA_MIN_US || quota > (int64_t)LP_CPUS_MAX * LP_CPU_PERIOD_US)
		return cpus_out_of_range(text, err);
	limits->cpu_quota = quota;
	limits->cpu_period = LP_CPU_PERIOD_US;
	return 0;
}

int lp_parse_cpus(const char *s, struct lp_limits *limits, struct lp_err *err)
{
	struct decimal d;
	const char *end;
	int64_t quota;
	int ret;

	if (!s)
		s = "";
	ret = parse_decimal(s, &d, &end);
	if (ret == -EINVAL || (ret == 0 && *end))
		return lp_fail(err, EINVAL, "'%s' is not a number of CPUs (e.g. 0.5, 2)", s);
	if (ret == -ERANGE || d.whole > LP_CPUS_MAX)
		return cpus_out_of_range(s, err);
	/* the period has 10^5 steps: finer fractions of a CPU are dropped */
	quota = (int64_t)d.whole * LP_CPU_PERIOD_US + d.nano / (NANO / LP_CPU_PERIOD_US);
	return set_cpu_quota(quota, s, limits, err);
}

int lp_cpus_to_limits(double cpus, struct lp_limits *limits, struct lp_err *err)
{
	char text[32];

	snprintf(text, sizeof(text), "%g", cpus);
	/* written so that NaN fails too */
	if (!(cpus > 0 && cpus <= LP_CPUS_MAX))
		return cpus_out_of_range(text, err);
	return set_cpu_quota((int64_t)(cpus * LP_CPU_PERIOD_US + 0.5), text, limits, err);
}

static int parse_retries(const char *s, const char *count, struct lp_restart *r,
			 struct lp_err *err)
{
	uint64_t n;
	int ret = parse_uint(count, NULL, INT_MAX, &n);

	if (ret == -ERANGE || (ret == 0 && n < 1))
		return lp_fail(err, ERANGE, "'%s': the retry count must be 1 to %d", s, INT_MAX);
	if (ret < 0)
		return lp_fail(err, EINVAL, "'%s': '%s' is not a retry count", s, count);
	r->policy = LP_RESTART_ON_FAILURE;
	r->max_retries = (int)n;
	return 0;
}

int lp_parse_restart(const char *s, struct lp_restart *r, struct lp_err *err)
{
	static const struct {
		const char *name;
		enum lp_restart_policy policy;
	} plain[] = {
		{ "no", LP_RESTART_NO },
		{ "always", LP_RESTART_ALWAYS },
		{ "on-failure", LP_RESTART_ON_FAILURE },
	};
	static const char on_failure_n[] = "on-failure:";
	size_t i;

	if (!s)
		s = "";
	for (i = 0; i < ARRAY_SIZE(plain); i++) {
		if (!strcmp(s, plain[i].name)) {
			r->policy = plain[i].policy;
			r->max_retries = 0;
			return 0;
		}
	}
	if (!strncmp(s, on_failure_n, sizeof(on_failure_n) - 1))
		return parse_retries(s, s + sizeof(on_failure_n) - 1, r, err);
	return lp_fail(err, EINVAL,
		       "'%s' is not a restart policy (no, always, on-failure, on-failure:N)", s);
}

int lp_parse_seconds_ms(const char *s, int64_t *ms)
{
	char *end;
	long secs;

	errno = 0;
	secs = strtol(s, &end, 10);
	if (errno || end == s || *end || secs < 0 || secs > 86400)
		return -1;
	*ms = (int64_t)secs * 1000;
	return 0;
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },     { "INT", SIGINT },	  { "QUIT", SIGQUIT },	 { "ILL", SIGILL },
	{ "TRAP", SIGTRAP },   { "ABRT", SIGABRT },	  { "BUS", SIGBUS },	 { "FPE", SIGFPE },
	{ "KILL", SIGKILL },   { "USR1", SIGUSR1 },	  { "SEGV", SIGSEGV },	 { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE },   { "ALRM", SIGALRM },	  { "TERM", SIGTERM },	 { "CHLD", SIGCHLD },
	{ "CONT", SIGCONT },   { "STOP", SIGSTOP },	  { "TSTP", SIGTSTP },	 { "TTIN", SIGTTIN },
	{ "TTOU", SIGTTOU },   { "URG", SIGURG },	  { "XCPU", SIGXCPU },	 { "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },	  { "WINCH", SIGWINCH }, { "IO", SIGIO },
	{ "PWR", SIGPWR },     { "SYS", SIGSYS },
};

int lp_parse_signal(const char *s, int *sig, struct lp_err *err)
{
	const char *name = s;
	char *end;
	long n;
	size_t i;

	errno = 0;
	n = strtol(s, &end, 10);
	if (*s && !*end && !errno) {
		if (n < 1 || n > SIGRTMAX)
			return lp_fail(err, EINVAL, "'%s' is not a signal (1 to %d)", s, SIGRTMAX);
		*sig = (int)n;
		return 0;
	}
	if (!strncasecmp(name, "SIG", 3))
		name += 3;
	for (i = 0; i < ARRAY_SIZE(signals); i++) {
		if (!strcasecmp(name, signals[i].name)) {
			*sig = signals[i].sig;
			return 0;
		}
	}
	return lp_fail(err, EINVAL, "'%s' is not a signal (KILL, TERM, HUP, USR1, 9, ...)", s);
}

int lp_parse_net(const char *s, enum lp_net_mode *net, struct lp_err *err)
{
	if (s && !strcmp(s, "none")) {
		*net = LP_NET_NONE;
		return 0;
	}
	if (s && !strcmp(s, "host")) {
		*net = LP_NET_HOST;
		return 0;
	}
	return lp_fail(err, EINVAL, "'%s' is not a network mode (none, host)", s ? s : "");
}

int lp_parse_isolation(const char *s, enum lp_isolation *iso, struct lp_err *err)
{
	static const char *const names[] = { "container", "vm", "auto" };
	size_t i;

	for (i = 0; s && i < ARRAY_SIZE(names); i++)
		if (!strcmp(s, names[i])) {
			*iso = (enum lp_isolation)i;
			return 0;
		}
	return lp_fail(err, EINVAL, "'%s' is not an isolation (container, vm, auto)", s ? s : "");
}

const char *lp_isolation_name(enum lp_isolation iso)
{
	return iso == LP_ISOLATION_VM ? "vm" : iso == LP_ISOLATION_AUTO ? "auto" : "container";
}

static int copy_field(char *dst, size_t size, const char *src)
{
	size_t len = strlen(src);

	if (len >= size)
		return -1;
	memcpy(dst, src, len + 1);
	return 0;
}

/*
 * Split "HOST[:INNER][:PERMS]".  With two fields the second is INNER when it
 * looks like a path, else PERMS: device paths start with '/', perms never do.
 */
static int split_device(const char *s, struct lp_device *dev)
{
	char buf[3 * LP_DEV_PATH_MAX];
	char *fields[3];
	const char *inner, *perms = "rwm";
	char *p;
	size_t n;

	if (copy_field(buf, sizeof(buf), s) < 0)
		return -1;
	for (n = 0, p = buf; p && n < ARRAY_SIZE(fields); n++) {
		fields[n] = p;
		p = strchr(p, ':');
		if (p)
			*p++ = '\0';
	}
	if (p)
		return -1;	/* a fourth field */
	inner = fields[0];
	if (n == 2 && fields[1][0] == '/') {
		inner = fields[1];
	} else if (n == 2) {
		perms = fields[1];
	} else if (n == 3) {
		inner = fields[1];
		perms = fields[2];
	}
	if (copy_field(dev->host, sizeof(dev->host), fields[0]) < 0 ||
	    copy_field(dev->inner, sizeof(dev->inner), inner) < 0 ||
	    copy_field(dev->perms, sizeof(dev->perms), perms) < 0)
		return -1;
	return 0;
}

/* The fields of a device spec, with the host path absolute; nothing looked up yet. */
static int split_device_spec(const char *s, struct lp_device *dev, struct lp_err *err)
{
	memset(dev, 0, sizeof(*dev));
	if (!s || split_device(s, dev) < 0)
		return lp_fail(err, EINVAL,
			       "'%s' is not a device (HOST[:INNER][:PERMS], e.g. /dev/gpiochip0:rw)",
			       s ? s : "");
	/* a relative path would be looked up from wherever the agent runs */
	if (dev->host[0] != '/')
		return lp_fail(err, EINVAL, "'%s': '%s' is not an absolute path", s, dev->host);
	return 0;
}

int lp_parse_device(const char *s, struct lp_device *dev, struct lp_err *err)
{
	struct stat st;

	if (split_device_spec(s, dev, err) < 0)
		return -1;
	if (stat(dev->host, &st) < 0)
		return lp_fail_errno(err, "%s", dev->host);
	if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
		return lp_fail(err, EINVAL, "'%s' is not a device node", dev->host);
	dev->type = S_ISCHR(st.st_mode) ? 'c' : 'b';
	dev->major = major(st.st_rdev);
	dev->minor = minor(st.st_rdev);
	return lp_device_check(dev, err);
}

int lp_parse_device_syntax(const char *s, struct lp_device *dev, struct lp_err *err)
{
	struct lp_device typed;

	if (split_device_spec(s, dev, err) < 0)
		return -1;
	/* the type comes from the node itself: stand one in so the other fields get checked */
	typed = *dev;
	typed.type = 'c';
	return lp_device_check(&typed, err);
}

int lp_parse_volume(const char *s, struct lp_volume **vols, size_t *n, struct lp_err *err)
{
	const char *colon = s ? strchr(s, ':') : NULL;
	const char *field = NULL;
	struct lp_volume *grown, *v;

	if (!colon || colon == s || !colon[1])
		return lp_fail(err, EINVAL,
			       "'%s' is not NAME:/PATH (a volume name, then where the container "
			       "sees it)",
			       s ? s : "");
	/* Docker's -v /host/path:/ctr: say plainly it is not a volume, and why. */
	if (s[0] == '/' || s[0] == '~' || !strncmp(s, "./", 2) || !strncmp(s, "../", 3))
		return lp_fail(err, EPERM,
			       "'%.*s' is a host path: limpet mounts only named volumes "
			       "(NAME:/PATH, kept under ROOT/volumes), so that no container, "
			       "and no deployment, reaches outside its own files",
			       (int)(colon - s), s);
	grown = reallocarray(*vols, *n + 1, sizeof(*grown));
	if (!grown)
		return lp_fail(err, ENOMEM, "out of memory");
	*vols = grown;
	v = &grown[*n];
	v->name = strndup(s, (size_t)(colon - s));
	v->path = strdup(colon + 1);
	if (!v->name || !v->path) {
		lp_fail(err, ENOMEM, "out of memory");
	} else if (lp_volume_check(grown, *n, &field, err) == 0) {
		(*n)++;
		return 0;
	} else if (!strcmp(field, "path")) {
		lp_prefix(err, "volume %s", v->name);
	}
	free(v->name);
	free(v->path);
	return -1;
}

/* "A" or "A:B": plain numbers up to max; *has_b tells which form it was. */
static int parse_pair(const char *s, uint64_t max, uint64_t *a, uint64_t *b, bool *has_b)
{
	const char *end;
	int ret = parse_uint(s, &end, max, a);

	if (ret < 0)
		return ret;
	*has_b = *end == ':';
	if (!*has_b)
		return *end ? -EINVAL : 0;
	return parse_uint(end + 1, NULL, max, b);
}

int lp_parse_user(const char *s, uint32_t *uid, uint32_t *gid, struct lp_err *err)
{
	uint64_t u, g;
	bool has_gid;
	int ret;

	if (!s)
		s = "";
	ret = parse_pair(s, LP_ID_MAX, &u, &g, &has_gid);
	if (ret == -ERANGE)
		return lp_fail(err, ERANGE, "'%s': ids go up to %u", s, LP_ID_MAX);
	if (ret < 0)
		return lp_fail(err, EINVAL, "'%s' is not a user (numeric UID or UID:GID)", s);
	*uid = (uint32_t)u;
	/* As Docker: a bare uid is in the root group, unless /etc/passwd says otherwise. */
	*gid = has_gid ? (uint32_t)g : 0;
	return 0;
}

/* A part that starts with a digit is a number, checked now: "1x" is a typo, not a name. */
static bool user_part_is_name(const char *s, size_t n)
{
	return n > 0 && !strchr("0123456789", s[0]) && !memchr(s, ':', n);
}

bool lp_user_has_name(const char *s)
{
	size_t n = strcspn(s, ":");

	return user_part_is_name(s, n) || (s[n] == ':' && user_part_is_name(s + n + 1, strlen(s + n + 1)));
}

int lp_parse_userns(const char *s, uint32_t *uid, uint32_t *count, struct lp_err *err)
{
	uint64_t u = 0, n = USERNS_DEFAULT_COUNT;
	bool has_count;
	int ret;

	if (!s)
		s = "";
	ret = parse_pair(s, UINT32_MAX, &u, &n, &has_count);
	if (ret == -EINVAL)
		return lp_fail(err, EINVAL,
			       "'%s' is not a uid mapping (HOSTUID or HOSTUID:COUNT, e.g. 100000:65536)",
			       s);
	if (ret == 0 && n < 1)
		return lp_fail(err, ERANGE, "'%s': the count must be at least 1", s);
	/* the last mapped id, u + n - 1, must itself be a valid id */
	if (ret == -ERANGE || u + n - 1 > LP_ID_MAX)
		return lp_fail(err, ERANGE, "'%s': the range goes past uid %u", s, LP_ID_MAX);
	*uid = (uint32_t)u;
	*count = (uint32_t)n;
	return 0;
}

int64_t lp_restart_delay_ms(int attempt)
{
	int64_t delay = RESTART_FIRST_DELAY_MS;
	int i;

	for (i = 1; i < attempt && delay < RESTART_MAX_DELAY_MS; i++)
		delay *= 2;
	return delay < RESTART_MAX_DELAY_MS ? delay : RESTART_MAX_DELAY_MS;
}
