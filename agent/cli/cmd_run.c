// SPDX-License-Identifier: Apache-2.0
/*
 * limpet run: in the foreground the run process supervises its container
 * and passes on its exit status; with -d the agent starts and supervises it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "agent/cli/cli.h"
#include "agent/cli/term.h"
#include "agent/container/container.h"
#include "agent/daemon/control.h"
#include "agent/spec/parse.h"
#include "platform/lib/util.h"
#include "agent/image/store.h"
#include "agent/spec/image_ref.h"
#include "agent/daemon/supervise.h"

/* Exit statuses of our own, as Docker uses them: not the container's. */
#define EXIT_RUN_FAILED 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

struct run_opts {
	struct lp_container_cfg cfg;
	bool detach, remove;
};

enum {
	OPT_NAME = 256, OPT_MEMORY, OPT_CPUS, OPT_CPU_WEIGHT, OPT_PIDS, OPT_HOSTNAME, OPT_NET,
	OPT_READ_ONLY, OPT_INIT, OPT_DEVICE, OPT_USERNS, OPT_RM, OPT_RESTART, OPT_ISOLATION,
};

static const struct lp_opt run_opts_table[] = {
	{ OPT_NAME, 0, "name", "NAME", "the container's name (default: run-XXXXXXXX)" },
	{ 'd', 'd', "detach", NULL, "hand it to the agent and return (see limpet logs)" },
	{ OPT_RM, 0, "rm", NULL, "remove it when it ends" },
	{ 'i', 'i', "interactive", NULL, "type into it (with -t: through its terminal)" },
	{ 't', 't', "tty", NULL, "give it a terminal of the container's own" },
	{ 'e', 'e', "env", "KEY=VALUE", "set an environment variable (repeatable)" },
	{ 'u', 'u', "user", "USER[:GROUP]", "run as this user: a name in the image, or UID[:GID]" },
	{ 'w', 'w', "workdir", "DIR", "working directory inside (absolute)" },
	{ OPT_HOSTNAME, 'h', "hostname", "NAME", "its hostname (default: its name)" },
	{ 'v', 'v', "volume", "NAME:/PATH", "mount a named volume read-write (repeatable)" },
	{ OPT_DEVICE, 0, "device", "HOST[:INNER][:rwm]", "give it a device node (repeatable)" },
	{ OPT_MEMORY, 'm', "memory", "SIZE", "memory limit, e.g. 64M (no swap beyond it)" },
	{ OPT_CPUS, 0, "cpus", "N", "CPU limit, e.g. 0.5, at most the host's CPUs" },
	{ OPT_CPU_WEIGHT, 0, "cpu-weight", "1-10000", "CPU share against the others (cgroup weight)" },
	{ OPT_PIDS, 0, "pids", "N", "most processes and threads at once" },
	{ OPT_NET, 0, "net", "none|host", "own loopback only (default), or the host's network" },
	{ OPT_NET, 0, "network", "none|host", "the same as --net" },
	{ OPT_READ_ONLY, 0, "read-only", NULL, "its root file system is read-only" },
	{ OPT_INIT, 0, "init", NULL, "limpet's init as PID 1: reaps zombies, forwards signals" },
	{ OPT_RESTART, 0, "restart", "POLICY", "no, on-failure[:N] or always (with -d)" },
	{ OPT_USERNS, 0, "userns", "HOSTUID[:COUNT]", "map its root to HOSTUID in a user namespace" },
	{ OPT_ISOLATION, 0, "isolation", "MODE", "container, vm (a KVM microVM) or auto" },
	{ 0 },
};

static int cmd_run(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_run = {
	.name = "run",
	.operands = "IMAGE|ROOTFS_DIR [CMD [ARGS...]]",
	.summary = "Run a command in a new container",
	.opts = run_opts_table,
	.notes = "IMAGE is an image in the store (limpet image ls); a directory, or an argument\n"
		 "written as a path (/x, ./x), is a root file system to run as it is.\n"
		 "Exit status: the command's, or 125 (limpet failed), 126 (cannot execute),\n"
		 "127 (no such command), as with docker run.",
	.fn = cmd_run,
};

static int push_str(char ***v, const char *s)
{
	size_t n = 0;
	char **nv;

	while (*v && (*v)[n])
		n++;
	nv = realloc(*v, (n + 2) * sizeof(*nv));
	if (!nv)
		return -1;
	*v = nv;
	nv[n] = strdup(s);
	nv[n + 1] = NULL;
	return nv[n] ? 0 : -1;
}

static int push_device(struct lp_container_cfg *c, const char *s, struct lp_err *err)
{
	struct lp_device *nv = realloc(c->devices, (c->n_devices + 1) * sizeof(*nv));

	if (!nv)
		return lp_fail(err, ENOMEM, "out of memory");
	c->devices = nv;
	if (lp_parse_device(s, &c->devices[c->n_devices], err) < 0)
		return -1;
	c->n_devices++;
	return 0;
}

static int parse_int_opt(const char *s, long min, long max, int64_t *out, struct lp_err *err)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return lp_fail(err, EINVAL, "'%s' is not a whole number from %ld to %ld", s, min,
			       max);
	*out = v;
	return 0;
}

/* As docker run: a limit past the CPUs this host has is a mistake, not a wish. */
static int parse_cpus(const char *arg, struct lp_limits *limits, struct lp_err *err)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	if (lp_parse_cpus(arg, limits, err) < 0)
		return -1;
	if (online > 0 && limits->cpu_quota > online * limits->cpu_period)
		return lp_fail(err, ERANGE, "%s is more than the %ld CPU%s this host has", arg,
			       online, online == 1 ? "" : "s");
	return 0;
}

/* One option into the config; returns 0, or -1 with err naming nothing (caller adds it). */
static int apply_opt(struct run_opts *o, int opt, const char *arg, struct lp_err *err)
{
	struct lp_container_cfg *c = &o->cfg;
	int64_t v;

	switch (opt) {
	case OPT_NAME:
		free(c->name);
		c->name = strdup(arg);
		return c->name ? lp_name_valid(arg, err) : lp_fail(err, ENOMEM, "out of memory");
	case OPT_MEMORY:
		return lp_parse_size(arg, &c->limits.memory, err);
	case OPT_CPUS:
		return parse_cpus(arg, &c->limits, err);
	case OPT_CPU_WEIGHT:
		if (parse_int_opt(arg, 1, 10000, &v, err) < 0)
			return -1;
		c->limits.cpu_weight = (int)v;
		return 0;
	case OPT_PIDS:
		return parse_int_opt(arg, 1, 4194304, &c->limits.pids, err);
	case OPT_HOSTNAME:
		free(c->hostname);
		c->hostname = strdup(arg);
		return c->hostname ? 0 : lp_fail(err, ENOMEM, "out of memory");
	case 'e':
		if (!strchr(arg, '='))
			return lp_fail(err, EINVAL, "'%s' is not KEY=VALUE", arg);
		return push_str(&c->env, arg) < 0 ? lp_fail(err, ENOMEM, "out of memory") : 0;
	case OPT_NET:
		return lp_parse_net(arg, &c->net, err);
	case OPT_ISOLATION:
		return lp_parse_isolation(arg, &c->isolation, err);
	case OPT_READ_ONLY:
		c->read_only = true;
		return 0;
	case OPT_INIT:
		c->init = true;
		return 0;
	case OPT_DEVICE:
		return push_device(c, arg, err);
	case 'v':
		return lp_parse_volume(arg, &c->volumes, &c->n_volumes, err);
	case 'u':
		/* Names are resolved in an image's /etc/passwd when it starts. */
		free(c->user);
		c->user = strdup(arg);
		if (!c->user)
			return lp_fail(err, ENOMEM, "out of memory");
		if (lp_user_has_name(arg))
			return 0;
		return lp_parse_user(arg, &c->uid, &c->gid, err);
	case 'w':
		if (arg[0] != '/')
			return lp_fail(err, EINVAL, "'%s' is not an absolute path", arg);
		free(c->cwd);
		c->cwd = strdup(arg);
		return c->cwd ? 0 : lp_fail(err, ENOMEM, "out of memory");
	case OPT_USERNS:
		return lp_parse_userns(arg, &c->userns_uid, &c->userns_count, err);
	case 'd':
		o->detach = true;
		return 0;
	case OPT_RM:
		o->remove = true;
		return 0;
	case 'i':
		c->interactive = true;
		return 0;
	case 't':
		c->tty = true;
		return 0;
	case OPT_RESTART:
		return lp_parse_restart(arg, &c->restart, err);
	}
	return lp_fail(err, EINVAL, "unknown option");
}

static int random_name(struct lp_container_cfg *c)
{
	unsigned char r[4];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	return asprintf(&c->name, "run-%02x%02x%02x%02x", r[0], r[1], r[2], r[3]) < 0 ? -1 : 0;
}

/*
 * As docker run does: an image not in the store (neither by its name nor by
 * its normalised reference, lp_store_resolve) is pulled from its registry.
 */
static int pull_missing(struct lp_globals *g, const char *arg, char **image, struct lp_err *err)
{
	struct lp_cli_pull a = { .ref = arg, .quiet = true, .fetch = { .progress = true } };
	char name[LP_IMAGE_REF_STR_MAX];
	struct lp_image_ref ref;
	struct lp_err why = *err;

	if (lp_image_ref_parse(arg, &ref, err) < 0 ||
	    lp_image_ref_format(&ref, name, sizeof(name)) < 0) {
		*err = why; /* not a reference: no such image is the news */
		return -1;
	}
	fprintf(stderr, "limpet run: %s is not in the store; pulling %s\n", arg, name);
	if (lp_cli_pull_ref(g, &a, image, err) < 0)
		return lp_prefix(err, "pull");
	return 0;
}

/*
 * An existing directory, or anything written as a path (/x, ./x, ../x), is a
 * root filesystem; otherwise the argument names an image in the store
 * (references like docker.io/library/alpine:3 hold '/' too).
 */
static int set_root(struct lp_globals *g, struct run_opts *o, const char *arg)
{
	char rootfs[PATH_MAX];
	struct lp_err err = { 0 };
	struct stat st;
	json_t *rec;

	if (arg[0] == '/' || arg[0] == '.' || stat(arg, &st) == 0) {
		if (!realpath(arg, rootfs) || stat(rootfs, &st) < 0 || !S_ISDIR(st.st_mode)) {
			lp_usage_error("run", "ROOTFS_DIR %s: %s", arg,
				       errno ? strerror(errno) : "not a directory");
			return -1;
		}
		o->cfg.rootfs = strdup(rootfs);
		return o->cfg.rootfs ? 0 : -1;
	}
	if (lp_store_load_image(&g->host, arg, &rec, &err) == 0) {
		json_decref(rec);
		o->cfg.image = strdup(arg);
		return o->cfg.image ? 0 : -1;
	}
	if (err.code == ENOENT && pull_missing(g, arg, &o->cfg.image, &err) == 0)
		return 0;
	lp_usage_error("run", "%s (not a directory, and %s)", arg, err.msg);
	return -1;
}

/* argv -> a validated config; returns 0, an exit status, or -1 when --help was all. */
static int parse_args(int argc, char **argv, struct lp_globals *g, struct run_opts *o)
{
	struct lp_err err = { 0 };
	struct lp_opts p;
	char name[32];
	int opt, i, first;

	lp_opts_init(&p, &lp_doc_run, argc, argv);
	/* Options end at IMAGE|ROOTFS_DIR, so CMD keeps its own flags. */
	while ((opt = lp_opt_next(&p)) > 0)
		if (apply_opt(o, opt, p.arg, &err) < 0)
			return lp_usage_error("run", "%s: %s", lp_opt_name(&p, name, sizeof(name)),
					      err.msg);
	if (opt == LP_OPT_EXIT)
		return p.status ? p.status : -1; /* -1: --help, done */
	first = p.ind;
	if (first == argc)
		return lp_usage_error("run", "needs an IMAGE or ROOTFS_DIR");
	if (set_root(g, o, argv[first]) < 0)
		return LP_EXIT_USAGE;
	if (first + 1 == argc && !o->cfg.image)
		return lp_usage_error("run", "missing CMD (a root directory has no image config to "
					     "default to)");
	for (i = first + 1; i < argc; i++)
		if (push_str(&o->cfg.argv, argv[i]) < 0)
			return lp_usage_error("run", "out of memory");
	if (!o->cfg.name && random_name(&o->cfg) < 0)
		return lp_usage_error("run", "cannot make a container name");
	if (!o->cfg.env && !o->cfg.image && push_str(&o->cfg.env, "TERM=xterm") < 0)
		return lp_usage_error("run", "out of memory");
	if (lp_container_cfg_validate(&o->cfg, &err) < 0)
		return lp_usage_error("run", "%s", err.msg);
	return 0;
}

static int run_detached(struct lp_globals *g, struct run_opts *o)
{
	struct lp_err err = { 0 };

	if (lp_agent_run(&g->host, &o->cfg, o->remove, NULL, 0, &err) < 0) {
		if (err.code == ENOTCONN)
			fprintf(stderr, "limpet run: %s, or run it in the foreground without -d\n",
				err.msg);
		else
			lp_cmd_fail("run", &err);
		return EXIT_RUN_FAILED;
	}
	printf("%s\n", o->cfg.name);
	return 0;
}

/* -it: the operator types into the container's terminal through ours, raw. */
static int take_terminal(const struct lp_container_cfg *cfg, struct lp_supervisor *sv,
			 struct lp_err *err)
{
	if (!cfg->tty || !cfg->interactive)
		return 0;
	if (lp_term_check(0, err) < 0 || lp_term_raw(0, err) < 0)
		return -1;
	sv->term_in = 0;
	return 0;
}

static int run_foreground(struct lp_globals *g, struct run_opts *o)
{
	struct lp_supervisor sv;
	struct lp_container ct;
	struct lp_err err = { 0 };
	char name[LP_NAME_MAX + 1];
	int rc, exec_errno = 0;

	snprintf(name, sizeof(name), "%s", o->cfg.name);
	if (lp_sv_init(&sv, &g->host, true, &err) < 0 || take_terminal(&o->cfg, &sv, &err) < 0 ||
	    lp_ct_create(&g->host, &o->cfg, false, o->remove, &ct, &err) < 0) {
		lp_sv_free(&sv);
		lp_term_restore();
		lp_cmd_fail("run", &err);
		return EXIT_RUN_FAILED;
	}
	if (lp_sv_start(&sv, &ct, &exec_errno, &err) < 0) {
		struct lp_container gone;
		struct lp_err ignored;

		lp_term_restore();
		lp_cmd_fail("run", &err);
		if (lp_ct_load(&g->host, name, &gone, &ignored) == 0) {
			gone.st.status = LP_CT_EXITED;
			if (o->remove)
				lp_ct_remove(&gone, &ignored);
			else
				lp_ct_save(&gone, &ignored);
			lp_ct_free(&gone);
		}
		lp_sv_free(&sv);
		if (!exec_errno)
			return EXIT_RUN_FAILED;
		return exec_errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
	}
	rc = lp_sv_loop(&sv, &err);
	lp_term_restore();
	if (rc < 0)
		lp_cmd_fail("run", &err);
	rc = rc < 0 ? EXIT_RUN_FAILED : sv.last_status;
	lp_sv_free(&sv);
	return rc;
}

static int cmd_run(int argc, char **argv, struct lp_globals *g)
{
	struct run_opts o;
	int rc;

	memset(&o, 0, sizeof(o));
	rc = parse_args(argc, argv, g, &o);
	if (rc == 0)
		rc = o.detach ? run_detached(g, &o) : run_foreground(g, &o);
	lp_container_cfg_free(&o.cfg);
	return rc < 0 ? 0 : rc;
}
