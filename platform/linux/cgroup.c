// SPDX-License-Identifier: Apache-2.0
/*
 * cgroup mode detection, the default parent and dispatch to the v1/v2
 * backends (the cgroup files both use are in cgroup_files.c).
 */
#include "platform/cgroup.h"

#include <errno.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "platform/lib/util.h"

#define CGROUP_DEFAULT_ROOT "/sys/fs/cgroup"
#define CGROUP_DEFAULT_PARENT "/limpet"
/* Sub-cgroup our own pid moves to so a delegated cgroup has no internal processes. */
#define CGROUP_AGENT_LEAF "agent"

const struct lp_cgroup_dev_rule lp_cgroup_default_devices[] = {
	{ 'c', 1, 3, "rwm" },			/* /dev/null */
	{ 'c', 1, 5, "rwm" },			/* /dev/zero */
	{ 'c', 1, 7, "rwm" },			/* /dev/full */
	{ 'c', 1, 8, "rwm" },			/* /dev/random */
	{ 'c', 1, 9, "rwm" },			/* /dev/urandom */
	{ 'c', 5, 0, "rwm" },			/* /dev/tty */
	{ 'c', 5, 2, "rwm" },			/* /dev/ptmx */
	{ 'c', 136, LP_CGROUP_DEV_ANY, "rwm" },	/* /dev/pts/N */
};
const size_t lp_cgroup_n_default_devices = ARRAY_SIZE(lp_cgroup_default_devices);

const char *lp_cgroup_root(void)
{
	const char *root = getenv("LIMPET_CGROUP_ROOT");

	return root && *root ? root : CGROUP_DEFAULT_ROOT;
}

static bool root_overridden(void)
{
	const char *root = getenv("LIMPET_CGROUP_ROOT");

	return root && *root;
}

/* True if opts, a comma-separated mount option list, has exactly word. */
static bool has_option(const char *opts, const char *word)
{
	size_t n = strlen(word);
	const char *p = opts;

	while (*p) {
		size_t len = strcspn(p, ",");

		if (len == n && !strncmp(p, word, n))
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/*
 * One /proc/self/mountinfo line:
 *   ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
 * Returns true with the (still escaped) mount point and the super options
 * if it is a v1 hierarchy carrying controller.
 */
static bool mountinfo_v1_match(char *line, const char *controller, char **mountpoint,
			       char **superopts)
{
	char *save = NULL, *tok, *fstype;
	int field = 0;

	*mountpoint = NULL;
	for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		if (++field == 5)
			*mountpoint = tok;
		if (field > 6 && !strcmp(tok, "-"))
			break;
	}
	if (!tok || !*mountpoint)
		return false;
	fstype = strtok_r(NULL, " \n", &save);
	if (!fstype || strcmp(fstype, "cgroup") || !strtok_r(NULL, " \n", &save))
		return false;
	*superopts = strtok_r(NULL, " \n", &save);
	return *superopts && has_option(*superopts, controller);
}

/* Options a v1 hierarchy shows that are flags, not controllers to mount it by. */
static bool v1_flag_option(const char *opt, size_t len)
{
	static const char *const flags[] = { "rw", "ro", "noprefix", "cpuset_v2_mode",
					     "favordynmods", "xattr", "clone_children", "none" };
	size_t i;

	if (memchr(opt, '=', len))
		return true;
	for (i = 0; i < ARRAY_SIZE(flags); i++)
		if (strlen(flags[i]) == len && !strncmp(opt, flags[i], len))
			return true;
	return false;
}

int lp_cgroup_v1_controllers(const char *superopts, char *buf, size_t size, struct lp_err *err)
{
	const char *p = superopts;
	size_t used = 0;

	buf[0] = '\0';
	while (*p) {
		size_t len = strcspn(p, ",");

		if (len && !v1_flag_option(p, len)) {
			if (used + !!used + len >= size)
				return lp_fail(err, ENAMETOOLONG, "cgroup options %s: too long",
					       superopts);
			used += (size_t)snprintf(buf + used, size - used, "%s%.*s", used ? "," : "",
						 (int)len, p);
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

int lp_cgroup_v1_hierarchy(const char *controller, char *buf, size_t len, char *opts,
			   size_t opts_len, struct lp_err *err)
{
	const char *path = "/proc/self/mountinfo";
	cleanup_file FILE *f = fopen(path, "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;
	char *mountpoint, *superopts;

	if (!f)
		return lp_fail_errno(err, "open %s", path);
	errno = 0;
	while (getline(&line, &cap, f) >= 0) {
		if (!mountinfo_v1_match(line, controller, &mountpoint, &superopts))
			continue;
		unescape_octal(mountpoint);
		if (lp_path(buf, len, err, "%s", mountpoint) < 0)
			return -1;
		if (opts && lp_cgroup_v1_controllers(superopts, opts, opts_len, err) < 0)
			return -1;
		return 1;
	}
	if (ferror(f))
		return lp_fail_errno(err, "read %s", path);
	return 0;
}

/*
 * Every cgroup operation asks where a controller is mounted; the answer does
 * not change while we run, so each hit is read from mountinfo only once.
 */
static int v1_mount_cached(const char *controller, char *buf, size_t len, struct lp_err *err)
{
	static struct {
		char controller[16];
		char path[PATH_MAX];
	} cache[8];
	size_t i;
	int rc;

	for (i = 0; i < ARRAY_SIZE(cache) && cache[i].controller[0]; i++)
		if (!strcmp(cache[i].controller, controller))
			return lp_path(buf, len, err, "%s", cache[i].path) < 0 ? -1 : 1;
	rc = lp_cgroup_v1_hierarchy(controller, buf, len, NULL, 0, err);
	if (rc == 1 && i < ARRAY_SIZE(cache) && strlen(controller) < sizeof(cache[i].controller) &&
	    strlen(buf) < sizeof(cache[i].path)) {
		strcpy(cache[i].controller, controller);
		strcpy(cache[i].path, buf);
	}
	return rc;
}

int lp_cgroup_v1_mount(const char *controller, char *buf, size_t len, struct lp_err *err)
{
	struct stat st;

	if (!root_overridden())
		return v1_mount_cached(controller, buf, len, err);
	if (lp_path(buf, len, err, "%s/%s", lp_cgroup_root(), controller) < 0)
		return -1;
	if (stat(buf, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return lp_fail_errno(err, "stat %s", buf);
	}
	return S_ISDIR(st.st_mode) ? 1 : 0;
}

static bool any_v1_controller(void)
{
	static const char *const controllers[] = { "memory", "cpu", "pids", "devices" };
	char dir[PATH_MAX];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(controllers); i++) {
		if (lp_cgroup_v1_mount(controllers[i], dir, sizeof(dir), NULL) == 1)
			return true;
	}
	return false;
}

int lp_cgroup_mode_override(enum lp_cgroup_mode *mode, bool *hybrid, struct lp_err *err)
{
	const char *forced = getenv("LIMPET_CGROUP_MODE");

	*hybrid = false;
	if (!forced || !*forced)
		return 0;
	if (!strcmp(forced, "v1") || !strcmp(forced, "hybrid")) {
		*mode = LP_CGROUP_V1;
		*hybrid = forced[0] == 'h';
	} else if (!strcmp(forced, "v2")) {
		*mode = LP_CGROUP_V2;
	} else {
		return lp_fail(err, EINVAL, "LIMPET_CGROUP_MODE=%s: expected v1, hybrid or v2",
			       forced);
	}
	return 1;
}

enum lp_cgroup_mode lp_cgroup_mode(void)
{
	enum lp_cgroup_mode forced = LP_CGROUP_NONE;
	struct lp_err err = { 0 };
	struct statfs sfs;
	bool hybrid;
	int set = lp_cgroup_mode_override(&forced, &hybrid, &err);

	if (set != 0)
		return forced; /* NONE when it is not a mode */
	if (statfs(lp_cgroup_root(), &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
		return LP_CGROUP_V2;
	/* Hybrid systems land here too: their cgroup2 at ROOT/unified has no controllers. */
	if (any_v1_controller())
		return LP_CGROUP_V1;
	return LP_CGROUP_NONE;
}

const char *lp_cgroup_mode_name(enum lp_cgroup_mode mode)
{
	switch (mode) {
	case LP_CGROUP_V1:
		return "v1";
	case LP_CGROUP_V2:
		return "v2";
	case LP_CGROUP_NONE:
		break;
	}
	return "none";
}

static const struct lp_cgroup_ops *backend(struct lp_err *err)
{
	enum lp_cgroup_mode forced;
	bool hybrid;

	switch (lp_cgroup_mode()) {
	case LP_CGROUP_V1:
#ifdef CONFIG_CGROUP_V1
		return &lp_cgroup_v1_ops;
#else
		lp_fail(err, ENOTSUP, "cgroup v1 support not built in (CONFIG_CGROUP_V1)");
		return NULL;
#endif
	case LP_CGROUP_V2:
#ifdef CONFIG_CGROUP_V2
		return &lp_cgroup_v2_ops;
#else
		lp_fail(err, ENOTSUP, "cgroup v2 support not built in (CONFIG_CGROUP_V2)");
		return NULL;
#endif
	case LP_CGROUP_NONE:
		break;
	}
	if (lp_cgroup_mode_override(&forced, &hybrid, err) == 0)
		lp_fail(err, ENOENT, "no cgroup hierarchy at %s: neither cgroup2 nor v1 controllers are mounted",
			lp_cgroup_root());
	return NULL;
}

/*
 * Paths come from limpet itself, but a bad one would reach far: "/" names
 * the root (kill would hit every process) and ".." escapes the hierarchy.
 */
static int check_path(const char *path, bool allow_root, struct lp_err *err)
{
	const char *p;

	if (!path || path[0] != '/')
		return lp_fail(err, EINVAL, "cgroup path \"%s\" is not absolute", path ? path : "");
	if (!allow_root && !path[strspn(path, "/")])
		return lp_fail(err, EINVAL, "cgroup path \"%s\" names the root cgroup", path);
	for (p = path; *p; p += strcspn(p, "/")) {
		p += strspn(p, "/");
		if (!strncmp(p, "..", 2) && (p[2] == '/' || !p[2]))
			return lp_fail(err, EINVAL, "cgroup path \"%s\" contains \"..\"", path);
	}
	return 0;
}

int lp_cgroup_self_v2(char *buf, size_t len, struct lp_err *err)
{
	const char *path = "/proc/self/cgroup";
	cleanup_file FILE *f = fopen(path, "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return lp_fail_errno(err, "open %s", path);
	while ((n = getline(&line, &cap, f)) >= 0) {
		if (strncmp(line, "0::", 3))
			continue;
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		return lp_path(buf, len, err, "%s", line + 3);
	}
	return lp_fail(err, ENOENT, "%s has no cgroup v2 (\"0::\") line", path);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/*
 * If we already moved into OWN/agent (an earlier call), own is that leaf:
 * strip it so the answer stays the delegated service cgroup.
 */
static void strip_agent_leaf(char *own)
{
	char *slash = strrchr(own, '/');

	if (!slash || strcmp(slash + 1, CGROUP_AGENT_LEAF))
		return;
	*slash = '\0';
	if (!ends_with(own, ".service"))
		*slash = '/';
}

static int move_self_to_leaf(const char *own, struct lp_err *err)
{
	char dir[PATH_MAX];

	if (lp_path(dir, sizeof(dir), err, "%s%s/%s", lp_cgroup_root(), own,
		    CGROUP_AGENT_LEAF) < 0)
		return -1;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return lp_fail_errno(err, "mkdir %s", dir);
	return lp_cgroup_write_int(dir, "cgroup.procs", getpid(), err);
}

int lp_cgroup_default_parent(char *buf, size_t len, struct lp_err *err)
{
	const char *invocation = getenv("INVOCATION_ID");
	char own[PATH_MAX];

	if (lp_cgroup_mode() != LP_CGROUP_V2 || !invocation || !*invocation)
		return lp_path(buf, len, err, "%s", CGROUP_DEFAULT_PARENT);
	if (lp_cgroup_self_v2(own, sizeof(own), err) < 0)
		return -1;
	strip_agent_leaf(own);
	if (!ends_with(own, ".service"))
		return lp_path(buf, len, err, "%s", CGROUP_DEFAULT_PARENT);
	/*
	 * systemd delegated OWN to us (Delegate=yes).  cgroup v2 enables
	 * controllers for children only in cgroups without processes of their
	 * own, so we step aside into a leaf before putting containers beside it.
	 */
	if (move_self_to_leaf(own, err) < 0)
		return lp_prefix(err, "move limpet out of its delegated cgroup %s", own);
	return lp_path(buf, len, err, "%s", own);
}


/* The backend for this host, once path is known to be a sane relative cgroup. */
static const struct lp_cgroup_ops *checked_backend(const char *path, struct lp_err *err)
{
	if (check_path(path, false, err) < 0)
		return NULL;
	return backend(err);
}

int lp_cgroup_setup(const char *path, const struct lp_limits *limits,
		    const struct lp_device *devices, size_t n_devices, pid_t pid,
		    struct lp_err *err)
{
	const struct lp_cgroup_ops *ops = checked_backend(path, err);

	return ops ? ops->setup(path, limits, devices, n_devices, pid, err) : -1;
}

int lp_cgroup_attach(const char *path, pid_t pid, struct lp_err *err)
{
	static const char *const controllers[] = { "memory", "cpu", "pids", "devices" };
	enum lp_cgroup_mode mode = lp_cgroup_mode();
	char dir[PATH_MAX], value[32];
	size_t i;

	snprintf(value, sizeof(value), "%d", (int)pid);
	if (mode == LP_CGROUP_V2)
		return lp_cgroup_dir(path, NULL, dir, sizeof(dir), err) < 0
			       ? -1
			       : lp_cgroup_write(dir, "cgroup.procs", value, err);
	if (mode != LP_CGROUP_V1)
		return lp_fail(err, ENOTSUP, "no usable cgroup hierarchy");
	for (i = 0; i < ARRAY_SIZE(controllers); i++) {
		struct lp_err ignored;

		/* A controller this host does not mount holds nothing to join. */
		if (lp_cgroup_dir(path, controllers[i], dir, sizeof(dir), &ignored) < 0)
			continue;
		if (lp_cgroup_write(dir, "cgroup.procs", value, err) < 0)
			return -1;
	}
	return 0;
}

int lp_cgroup_stats(const char *path, struct lp_cgroup_stats *st, struct lp_err *err)
{
	const struct lp_cgroup_ops *ops = checked_backend(path, err);

	*st = (struct lp_cgroup_stats){ -1, -1, -1, -1, -1, -1 };
	return ops ? ops->stats(path, st, err) : -1;
}

int lp_cgroup_oom_kills(const char *path, uint64_t *count, struct lp_err *err)
{
	const struct lp_cgroup_ops *ops = checked_backend(path, err);

	return ops ? ops->oom_kills(path, count, err) : -1;
}

int lp_cgroup_kill(const char *path, struct lp_err *err)
{
	const struct lp_cgroup_ops *ops = checked_backend(path, err);

	return ops ? ops->kill(path, err) : -1;
}

int lp_cgroup_destroy(const char *path, struct lp_err *err)
{
	const struct lp_cgroup_ops *ops = checked_backend(path, err);

	return ops ? ops->destroy(path, err) : -1;
}

int lp_cgroup_dir(const char *path, const char *controller, char *buf, size_t len,
		  struct lp_err *err)
{
	const struct lp_cgroup_ops *ops;

	if (check_path(path, true, err) < 0)
		return -1;
	ops = backend(err);
	if (!ops)
		return -1;
	return ops->dir(path, controller, buf, len, err);
}

int lp_cgroup_views(struct lp_cgroup_fs *fs, struct lp_err *err)
{
	const struct lp_cgroup_ops *ops;

	/* A test's fake hierarchy is plain directories: nothing to mount. */
	if (root_overridden() || lp_cgroup_mode() == LP_CGROUP_NONE)
		return 0;
	ops = backend(err);
	if (!ops)
		return -1;
	return ops->views(fs, err);
}

int lp_cgroup_dev_rule(const struct lp_device *dev, struct lp_cgroup_dev_rule *rule,
		       struct lp_err *err)
{
	size_t n = strnlen(dev->perms, sizeof(dev->perms));

	if (dev->type != 'c' && dev->type != 'b')
		return lp_fail(err, EINVAL, "device %s: type '%c' is not 'c' or 'b'", dev->host,
			       dev->type);
	if (n == 0 || n == sizeof(dev->perms) || dev->perms[strspn(dev->perms, "rwm")])
		return lp_fail(err, EINVAL, "device %s: permissions \"%.*s\" are not a subset of \"rwm\"",
			       dev->host, (int)n, dev->perms);
	rule->type = dev->type;
	rule->major = (long)dev->major;
	rule->minor = (long)dev->minor;
	memcpy(rule->perms, dev->perms, n + 1);
	return 0;
}
