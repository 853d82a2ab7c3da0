// SPDX-License-Identifier: Apache-2.0
/*
 * A container's start: what it gives the container's process besides the
 * command (user, environment, working directory; kept in run.env), its
 * cgroup path, log file and image layers, and the call into the runtime or
 * the microVM.  exec and health probes take their environment from the
 * same run.env, so that reader lives here too.  Apart from the record on
 * disk (container_state.c) because only a start resolves images and runs.
 */
#include "agent/container/container_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/container/image_cfg.h"
#include "agent/container/logs.h"
#include "platform/cgroup.h"
#include "platform/lib/util.h"
#include "agent/container/vm_container.h"
#include "agent/container/volume.h"

/* run.env: what exec takes must fit its spec (platform/linux/exec.c) anyway. */
#define RUN_MAX (512 * 1024)
/* What a container without PATH gets, as under Docker. */
#define DEFAULT_PATH_ENV "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---------------------------------------------------------------- start */

static bool env_has(char **env, const char *key)
{
	size_t klen = strlen(key);

	for (; env && *env; env++)
		if (!strncmp(*env, key, klen) && (*env)[klen] == '=')
			return true;
	return false;
}

/*
 * The container's env plus what Docker always provides: PATH, HOSTNAME and
 * HOME (the user's, from /etc/passwd), and TERM with a terminal (-t).  New
 * strings in a new vector.
 */
static char **build_env(const struct lp_container_cfg *cfg, char **base, const char *home)
{
	char kv[PATH_MAX + sizeof("HOSTNAME=")];
	size_t n = 0, i, k = 0;
	char **env;

	while (base && base[n])
		n++;
	env = calloc(n + 5, sizeof(*env));
	if (!env)
		return NULL;
	for (i = 0; i < n; i++)
		if (!(env[k++] = strdup(base[i])))
			goto oom;
	if (!env_has(base, "PATH") && !(env[k++] = strdup(DEFAULT_PATH_ENV)))
		goto oom;
	snprintf(kv, sizeof(kv), "HOSTNAME=%s", cfg->hostname ? cfg->hostname : cfg->name);
	if (!env_has(base, "HOSTNAME") && !(env[k++] = strdup(kv)))
		goto oom;
	snprintf(kv, sizeof(kv), "HOME=%s", home);
	if (!env_has(base, "HOME") && !(env[k++] = strdup(kv)))
		goto oom;
	if (cfg->tty && !env_has(base, "TERM") && !(env[k++] = strdup("TERM=xterm")))
		goto oom;
	return env;
oom:
	lp_strv_free(env);
	return NULL;
}

/*
 * What a start of cfg gives its process besides the command, as Docker
 * would: the user (looked up in the image's, or the directory's, own
 * /etc/passwd and /etc/group), the environment (*env) and the working
 * directory (img->cwd; NULL is "/").  Resolved anew at every start, so the
 * config on record stays exactly what was asked.
 */
static int resolve_run(const struct lp_host *host, const struct lp_container_cfg *cfg,
		       struct lp_image_run *img, char ***env, struct lp_err *err)
{
	memset(img, 0, sizeof(*img));
	*env = NULL;
	if (cfg->image && lp_image_resolve(host, cfg, img, err) < 0)
		return -1;
	if (!cfg->image) {
		img->user.uid = cfg->uid;
		img->user.gid = cfg->gid;
		if (lp_resolve_user(cfg->user, cfg->rootfs, &img->user, err) < 0)
			return -1;
	}
	if (cfg->cwd) {
		free(img->cwd);
		img->cwd = strdup(cfg->cwd);
	}
	*env = build_env(cfg, img->env ? img->env : cfg->env, img->user.home);
	if (!*env || (cfg->cwd && !img->cwd)) {
		lp_strv_free(*env);
		*env = NULL;
		lp_image_run_free(img);
		return lp_fail(err, ENOMEM, "environment: out of memory");
	}
	return 0;
}

/*
 * run.env: the working directory and the environment this start gave the
 * container's process, NUL-separated in that order.  exec and health probes
 * take theirs from it, as Docker's exec takes the container's config: not
 * from the process, which may have changed both (nginx writes its title
 * over its environ), nor from an image imported anew since.
 */
static int save_run(const struct lp_container *ct, const char *cwd, char **env, struct lp_err *err)
{
	cleanup_free char *buf = NULL;
	char path[PATH_MAX];
	size_t len = 0;
	bool failed;
	FILE *f;

	if (lp_ct_path(ct, "run.env", path, sizeof(path), err) < 0)
		return -1;
	f = open_memstream(&buf, &len);
	if (!f)
		return lp_fail_errno(err, "run.env");
	fwrite(cwd ? cwd : "/", 1, strlen(cwd ? cwd : "/") + 1, f);
	for (; *env; env++)
		fwrite(*env, 1, strlen(*env) + 1, f);
	failed = ferror(f);
	if (fclose(f) != 0 || failed)
		return lp_fail(err, ENOMEM, "run.env: out of memory");
	return lp_write_file_atomic(path, buf, len, err);
}

/* The working directory and environment save_run wrote; ENOENT when there are none. */
static int load_run(const struct lp_container *ct, char **cwd, char ***env, struct lp_err *err)
{
	cleanup_free char *buf = NULL;
	char path[PATH_MAX];
	size_t len, n = 0, i, k = 0;

	if (lp_ct_path(ct, "run.env", path, sizeof(path), err) < 0 ||
	    lp_read_file_nofollow(path, RUN_MAX, &buf, &len, err) < 0)
		return -1;
	if (len == RUN_MAX)
		return lp_fail(err, E2BIG, "%s: more than %d KiB", path, RUN_MAX / 1024);
	if (!len || buf[len - 1])
		return lp_fail(err, EINVAL, "%s is malformed", path);
	for (i = 0; i < len; i++)
		n += !buf[i];
	/* n fields: the directory, then n - 1 variables and the NULL. */
	*env = calloc(n, sizeof(**env));
	*cwd = strdup(buf);
	for (i = strlen(buf) + 1; *env && i < len; i += strlen(buf + i) + 1)
		if (!((*env)[k++] = strdup(buf + i)))
			break;
	if (!*env || !*cwd || (k && !(*env)[k - 1])) {
		lp_strv_free(*env);
		free(*cwd);
		*env = NULL;
		*cwd = NULL;
		return lp_fail(err, ENOMEM, "%s: out of memory", path);
	}
	return 0;
}

static int cgroup_path(const struct lp_host *host, struct lp_container *ct, struct lp_err *err)
{
	char parent[PATH_MAX];

	if (host->cfg.cgroup_parent) {
		if (lp_path(parent, sizeof(parent), err, "%s", host->cfg.cgroup_parent) < 0)
			return -1;
	} else if (lp_cgroup_default_parent(parent, sizeof(parent), err) < 0) {
		return -1;
	}
	return lp_path(ct->st.cgroup, sizeof(ct->st.cgroup), err, "%s/%s-%.8s",
		       strcmp(parent, "/") ? parent : "", ct->cfg.name, ct->st.id);
}

static int open_log(const struct lp_host *host, struct lp_container *ct, struct lp_err *err)
{
	if (lp_log_rotate(ct->log_path, host->cfg.log_max_size, host->cfg.log_files, err) < 0)
		return -1;
	return lp_open_regular(AT_FDCWD, ct->log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW,
			       0640, err);
}

/* The layers an image container's run uses, as its overlay lowerdir. */
static int save_lowerdir(struct lp_container *ct, const char *lowerdir, struct lp_err *err)
{
	char path[PATH_MAX];

	if (lp_ct_path(ct, "lowerdir", path, sizeof(path), err) < 0)
		return -1;
	return lp_write_file_atomic(path, lowerdir, strlen(lowerdir), err);
}

char *lp_ct_lowerdir(const struct lp_container *ct)
{
	char path[PATH_MAX], *text = NULL;
	struct lp_err ignored;

	if (!ct->cfg.image || lp_ct_path(ct, "lowerdir", path, sizeof(path), &ignored) < 0 ||
	    lp_read_file(path, CONFIG_MAX, &text, NULL, &ignored) < 0)
		return NULL;
	return text;
}

int lp_ct_start(const struct lp_host *host, struct lp_container *ct, struct lp_proc *proc,
		struct lp_err *err)
{
	const struct lp_container_cfg *cfg = &ct->cfg;
	char upper[PATH_MAX], work[PATH_MAX], merged[PATH_MAX], exitf[PATH_MAX];
	cleanup_strv char **env = NULL;
	cleanup_fd int null_fd = -1, log_fd = -1;
	cleanup_image_run struct lp_image_run img = { 0 };
	struct lp_bind *binds = NULL;
	struct lp_err ignored;
	struct lp_spec spec;
	bool use_vm = false;
	int rc;

	if (lp_vm_choose(host, cfg, &use_vm, err) < 0 || lp_ct_claim_dir(ct, err) < 0)
		return lp_prefix(err, "container %s", cfg->name);
	if (lp_ct_path(ct, "upper", upper, sizeof(upper), err) < 0 ||
	    lp_ct_path(ct, "work", work, sizeof(work), err) < 0 ||
	    lp_ct_path(ct, "rootfs", merged, sizeof(merged), err) < 0 ||
	    lp_ct_path(ct, "exit", exitf, sizeof(exitf), err) < 0 || cgroup_path(host, ct, err) < 0)
		return -1;
	if (resolve_run(host, cfg, &img, &env, err) < 0)
		return lp_prefix(err, "container %s", cfg->name);
	if (img.exposes_ports)
		fprintf(stderr, "limpet: image %s exposes ports; limpet does not publish ports "
				"(use --net host)\n",
			cfg->image);
	/* Before it runs: gc keeps these layers even if the image is imported anew. */
	if ((cfg->image && save_lowerdir(ct, img.lowerdir, err) < 0) ||
	    save_run(ct, img.cwd, env, err) < 0)
		return lp_prefix(err, "container %s", cfg->name);
	memset(&spec, 0, sizeof(spec));
	spec.name = cfg->name;
	spec.lowerdir = cfg->image ? img.lowerdir : cfg->rootfs;
	spec.upperdir = upper;
	spec.workdir = work;
	spec.mergedir = merged;
	spec.argv = cfg->image ? img.argv : cfg->argv;
	spec.envp = env;
	spec.hostname = cfg->hostname;
	spec.cwd = img.cwd;
	spec.uid = img.user.uid;
	spec.gid = img.user.gid;
	spec.groups = img.user.groups;
	spec.n_groups = img.user.n_groups;
	spec.net_host = cfg->net == LP_NET_HOST;
	spec.read_only = cfg->read_only;
	spec.init = cfg->init;
	spec.userns_uid = cfg->userns_uid;
	spec.userns_count = cfg->userns_count;
	spec.limits = cfg->limits;
	spec.devices = cfg->devices;
	spec.n_devices = cfg->n_devices;
	spec.cgroup = ct->st.cgroup;
	spec.exit_file = exitf;
	/* The next start reads the filter instead of building it (runtime's cache). */
	if (lp_mkdir_p(host->run_dir, 0700, &ignored) == 0)
		spec.seccomp_cache = host->run_dir;
	spec.stdio[0] = spec.stdio[1] = spec.stdio[2] = -1;
	spec.tty = cfg->tty;
	spec.tty_rows = ct->tty_rows;
	spec.tty_cols = ct->tty_cols;
	unlink(exitf);
	if (ct->st.detached && !cfg->tty) {
		null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		log_fd = open_log(host, ct, err);
		if (null_fd < 0 || log_fd < 0)
			return null_fd < 0 ? lp_fail_errno(err, "open /dev/null") : -1;
		spec.stdio[0] = null_fd;
		spec.stdio[1] = spec.stdio[2] = log_fd;
	}
	/* ROOT/volumes/NAME for each volume, made on first use; rm never deletes them. */
	rc = lp_volume_binds(host, cfg, img.user.uid, img.user.gid, &binds, err);
	spec.binds = binds;
	spec.n_binds = cfg->n_volumes;
	/* A cgroup left by a previous run of this container would carry its counters. */
	lp_cgroup_destroy(ct->st.cgroup, &ignored);
	/*
	 * The cgroup is on record before anything runs in it: killed between
	 * the start and the save below, we leave a process no pid names, and
	 * rm finds it there.  The record says a start is under way, not how
	 * the run before ended: a restart counted with that old exit beside
	 * it reads as a policy that already gave up.
	 */
	ct->st.status = LP_CT_CREATED;
	if (rc == 0)
		rc = lp_ct_save(ct, err);
	if (rc == 0 && use_vm)
		rc = lp_vm_container_start(&host->cfg.vm, ct->dir, &spec, proc, err);
	else if (rc == 0)
		rc = lp_runtime_start(&spec, proc, err);
	lp_volume_binds_free(binds, cfg->n_volumes);
	if (rc < 0) {
		lp_cgroup_destroy(ct->st.cgroup, &ignored);
		return lp_prefix(err, "container %s", cfg->name);
	}
	ct->st.status = LP_CT_RUNNING;
	ct->st.vm = use_vm;
	ct->st.pid = proc->pid;
	ct->st.starttime = proc->starttime;
	ct->st.supervisor = getpid();
	ct->st.supervisor_start = lp_proc_starttime(getpid());
	ct->st.exit_code = ct->st.signal = 0;
	ct->st.oom_killed = ct->st.exit_unknown = false;
	ct->st.started_at = lp_wall_s();
	ct->st.finished_at = 0;
	return lp_ct_save(ct, err);
}

/* ---------------------------------------------------------------- exec */

int lp_ct_exec_env(const struct lp_host *host, const struct lp_container *ct, char *const *extra,
		   const char *workdir, struct lp_exec_spec *spec, struct lp_err *err)
{
	cleanup_strv char **base = NULL;
	cleanup_free char *cwd = NULL;
	cleanup_image_run struct lp_image_run img = { 0 };
	size_t n_base = 0, n, i, k, j = 0;
	char **env;

	spec->envp = NULL;
	spec->cwd = NULL;
	if (load_run(ct, &cwd, &base, err) < 0) {
		if (err->code != ENOENT)
			return lp_prefix(err, "container %s", ct->cfg.name);
		/* Started by a limpet that kept no run.env: what a start would give now. */
		if (resolve_run(host, &ct->cfg, &img, &base, err) < 0)
			return lp_prefix(err, "container %s", ct->cfg.name);
		cwd = steal_ptr(img.cwd); /* NULL: "/" */
	}
	while (base[n_base])
		n_base++;
	for (n = n_base, k = 0; extra && extra[k]; k++)
		n++;
	env = calloc(n + 1, sizeof(*env));
	if (!env)
		return lp_fail(err, ENOMEM, "out of memory");
	/* The extra values replace the container's own of the same name. */
	for (i = 0; i < n_base; i++) {
		size_t klen = strcspn(base[i], "=");
		bool replaced = false;

		for (k = 0; extra && extra[k] && !replaced; k++)
			replaced = !strncmp(extra[k], base[i], klen) && extra[k][klen] == '=';
		if (replaced)
			free(base[i]);
		else
			env[j++] = base[i];
		base[i] = NULL; /* moved or freed: only the vector is left to free */
	}
	for (k = 0; extra && extra[k]; k++)
		if (!(env[j++] = strdup(extra[k]))) {
			lp_strv_free(env);
			return lp_fail(err, ENOMEM, "out of memory");
		}
	if (workdir) {
		free(cwd);
		cwd = strdup(workdir);
		if (!cwd) {
			lp_strv_free(env);
			return lp_fail(err, ENOMEM, "out of memory");
		}
	}
	spec->envp = env;
	spec->cwd = steal_ptr(cwd);
	return 0;
}

void lp_ct_exec_env_free(struct lp_exec_spec *spec)
{
	lp_strv_free((char **)spec->envp);
	free((char *)spec->cwd);
	spec->envp = NULL;
	spec->cwd = NULL;
}

/* ---------------------------------------------------------------- its root (cp) */

/* A stopped container's root: its overlay and volumes, mounted for fn alone. */
static int with_stopped_root(const struct lp_host *host, const struct lp_container *ct,
			     lp_root_fn *fn, void *arg, struct lp_err *err)
{
	char upper[PATH_MAX], work[PATH_MAX], merged[PATH_MAX];
	cleanup_free char *lowerdir = lp_ct_lowerdir(ct);
	struct lp_spec spec = { 0 };
	struct lp_bind *binds = NULL;
	int rc;

	if (ct->cfg.image && !lowerdir)
		return lp_fail(err, ENOENT, "container %s has never started: its layers are not "
					    "known yet",
			       ct->cfg.name);
	if (lp_ct_path(ct, "upper", upper, sizeof(upper), err) < 0 ||
	    lp_ct_path(ct, "work", work, sizeof(work), err) < 0 ||
	    lp_mkdir_p(host->run_dir, 0700, err) < 0 ||
	    lp_path(merged, sizeof(merged), err, "%s/cp-XXXXXX", host->run_dir) < 0)
		return lp_prefix(err, "container %s", ct->cfg.name);
	if (!mkdtemp(merged))
		return lp_fail_errno(err, "container %s: mkdtemp %s", ct->cfg.name, merged);
	spec.name = ct->cfg.name;
	spec.lowerdir = ct->cfg.image ? lowerdir : ct->cfg.rootfs;
	spec.upperdir = upper;
	spec.workdir = work;
	spec.mergedir = merged;
	spec.userns_uid = ct->cfg.userns_uid;
	spec.userns_count = ct->cfg.userns_count;
	rc = lp_volume_binds(host, &ct->cfg, ct->cfg.uid, ct->cfg.gid, &binds, err);
	spec.binds = binds;
	spec.n_binds = ct->cfg.n_volumes;
	if (rc < 0)
		lp_prefix(err, "container %s", ct->cfg.name);
	else
		rc = lp_runtime_with_root(&spec, fn, arg, err);
	lp_volume_binds_free(binds, ct->cfg.n_volumes);
	rmdir(merged);
	return rc;
}

int lp_ct_with_root(const struct lp_host *host, const struct lp_container *ct, lp_root_fn *fn,
		    void *arg, struct lp_err *err)
{
	unsigned long long starttime;
	cleanup_fd int rootfd = -1;
	pid_t pid;

	/* A microVM's files are in its guest (and a stopped one's were never in upper/). */
	if (ct->st.vm)
		return lp_fail(err, ENOTSUP, "container %s runs in a microVM: cp cannot enter it yet",
			       ct->cfg.name);
	if (lp_ct_main_process(ct, &pid, &starttime) < 0 && lp_ct_alive(ct)) {
		pid = ct->st.pid; /* --init's PID 1 before its child: the same root */
		starttime = ct->st.starttime;
	} else if (!lp_ct_alive(ct)) {
		return with_stopped_root(host, ct, fn, arg, err);
	}
	rootfd = lp_proc_root(pid, starttime, err);
	if (rootfd < 0)
		return lp_prefix(err, "container %s", ct->cfg.name);
	return fn(rootfd, arg, err);
}
