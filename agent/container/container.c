// SPDX-License-Identifier: Apache-2.0
#include "agent/container/container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/container/image_cfg.h"
#include "agent/container/logs.h"
#include "platform/cgroup.h"
#include "platform/lib/util.h"
#include "agent/container/vm_container.h"
#include "agent/container/volume.h"

#define STATE_MAX (64 * 1024)
#define CONFIG_MAX (1024 * 1024)
/* run.env: what exec takes must fit its spec (platform/linux/exec.c) anyway. */
#define RUN_MAX (512 * 1024)
/* What a container without PATH gets, as under Docker. */
#define DEFAULT_PATH_ENV "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *const status_names[] = { "created", "running", "exited" };

static int ct_path(const struct lp_container *ct, const char *leaf, char *buf, size_t len,
		   struct lp_err *err)
{
	return lp_path(buf, len, err, "%s/%s", ct->dir, leaf);
}

/* A container directory on its way out: renamed to this prefix, then removed. */
#define REMOVING ".removing-"

static int containers_dir(const struct lp_host *host, char *buf, size_t len, struct lp_err *err)
{
	return lp_path(buf, len, err, "%s/containers", host->root);
}

static int set_dirs(const struct lp_host *host, const char *name, struct lp_container *ct,
		    struct lp_err *err)
{
	if (lp_path(ct->dir, sizeof(ct->dir), err, "%s/containers/%s", host->root, name) < 0)
		return -1;
	return ct_path(ct, "container.log", ct->log_path, sizeof(ct->log_path), err);
}

/* ---------------------------------------------------------------- state file */

static json_t *state_to_json(const struct lp_ct_state *s)
{
	json_t *j = json_pack("{s:s, s:s, s:i, s:I, s:i, s:I, s:b, s:b, s:b, s:i, s:i, s:b, s:b,"
			 " s:i, s:I, s:I, s:s, s:b}",
			 "id", s->id, "status", status_names[s->status], "pid", (int)s->pid,
			 "starttime", (json_int_t)s->starttime, "supervisor", (int)s->supervisor,
			 "supervisor_start", (json_int_t)s->supervisor_start, "stop_requested",
			 s->stop_requested, "detached", s->detached, "auto_remove",
			 s->auto_remove, "exit_code", s->exit_code, "signal", s->signal,
			 "oom_killed", s->oom_killed, "exit_unknown", s->exit_unknown, "restarts",
			 s->restarts, "started_at", (json_int_t)s->started_at, "finished_at",
			 (json_int_t)s->finished_at, "cgroup", s->cgroup, "vm", s->vm);

	if (j && s->deploy_version &&
	    json_object_set_new(j, "deployment",
				json_pack("{s:s, s:I}", "name", s->deploy_name, "version",
					  (json_int_t)s->deploy_version)) < 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static int state_from_json(json_t *j, struct lp_ct_state *s, struct lp_err *err)
{
	const char *id, *status, *cgroup, *dname;
	json_int_t starttime, sup_start, started, finished, dversion;
	json_t *deployment = NULL;
	int pid, sup, stop_req, detached, auto_rm, oom, unknown, vm = 0;
	json_error_t jerr;
	size_t i;

	if (json_unpack_ex(j, &jerr, JSON_STRICT,
			   "{s:s, s:s, s:i, s:I, s:i, s:I, s:b, s:b, s:b, s:i, s:i, s:b, s:b,"
			   " s:i, s:I, s:I, s:s, s?o, s?b}",
			   "id", &id, "status", &status, "pid", &pid, "starttime", &starttime,
			   "supervisor", &sup, "supervisor_start", &sup_start, "stop_requested",
			   &stop_req, "detached", &detached, "auto_remove", &auto_rm, "exit_code",
			   &s->exit_code, "signal", &s->signal, "oom_killed", &oom, "exit_unknown",
			   &unknown, "restarts", &s->restarts, "started_at", &started,
			   "finished_at", &finished, "cgroup", &cgroup, "deployment",
			   &deployment, "vm", &vm) < 0)
		return lp_fail(err, EINVAL, "state.json: %s", jerr.text);
	if (deployment) {
		if (json_unpack_ex(deployment, &jerr, JSON_STRICT, "{s:s, s:I}", "name", &dname,
				   "version", &dversion) < 0)
			return lp_fail(err, EINVAL, "state.json: deployment: %s", jerr.text);
		snprintf(s->deploy_name, sizeof(s->deploy_name), "%s", dname);
		s->deploy_version = dversion;
	}
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->cgroup, sizeof(s->cgroup), "%s", cgroup);
	for (i = 0; i < ARRAY_SIZE(status_names); i++)
		if (!strcmp(status, status_names[i]))
			s->status = (enum lp_ct_status)i;
	s->pid = pid;
	s->starttime = (unsigned long long)starttime;
	s->supervisor = sup;
	s->supervisor_start = (unsigned long long)sup_start;
	s->stop_requested = stop_req;
	s->detached = detached;
	s->auto_remove = auto_rm;
	s->oom_killed = oom;
	s->exit_unknown = unknown;
	s->started_at = started;
	s->finished_at = finished;
	s->vm = vm;
	return 0;
}

int lp_ct_save(struct lp_container *ct, struct lp_err *err)
{
	char path[PATH_MAX];
	json_t *j = state_to_json(&ct->st);
	char *text;
	int rc;

	if (!j)
		return lp_fail(err, ENOMEM, "container %s: cannot encode state", ct->cfg.name);
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!text)
		return lp_fail(err, ENOMEM, "container %s: cannot encode state", ct->cfg.name);
	rc = ct_path(ct, "state.json", path, sizeof(path), err);
	if (rc == 0)
		rc = lp_write_file_atomic(path, text, strlen(text), err);
	free(text);
	return rc;
}

/* ct->st from its state.json, as it is on disk now. */
static int load_state(struct lp_container *ct, struct lp_err *err)
{
	char path[PATH_MAX];
	cleanup_free char *text = NULL;
	json_error_t jerr;
	json_t *j;
	int rc;

	if (ct_path(ct, "state.json", path, sizeof(path), err) < 0 ||
	    lp_read_file_nofollow(path, STATE_MAX, &text, NULL, err) < 0)
		return -1;
	j = json_loads(text, 0, &jerr);
	if (!j)
		return lp_fail(err, EINVAL, "state.json: %s", jerr.text);
	memset(&ct->st, 0, sizeof(ct->st));
	rc = state_from_json(j, &ct->st, err);
	json_decref(j);
	return rc;
}

int lp_ct_load(const struct lp_host *host, const char *name, struct lp_container *ct,
	       struct lp_err *err)
{
	char path[PATH_MAX];
	cleanup_free char *text = NULL;

	memset(ct, 0, sizeof(*ct));
	if (lp_name_valid(name, err) < 0 || set_dirs(host, name, ct, err) < 0)
		return -1;
	if (ct_path(ct, "config.json", path, sizeof(path), err) < 0)
		return -1;
	if (access(ct->dir, F_OK) < 0)
		return lp_fail(err, ENOENT, "no such container: %s", name);
	if (lp_read_file_nofollow(path, CONFIG_MAX, &text, NULL, err) < 0 ||
	    lp_container_cfg_from_json(text, &ct->cfg, err) < 0)
		return lp_prefix(err, "container %s", name);
	if (load_state(ct, err) < 0) {
		lp_ct_free(ct);
		return lp_prefix(err, "container %s", name);
	}
	return 0;
}

int lp_ct_lock(const struct lp_container *ct, struct lp_err *err)
{
	char path[PATH_MAX];
	int fd;

	if (ct_path(ct, "state.lock", path, sizeof(path), err) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return lp_fail_errno(err, "container %s: open %s", ct->cfg.name, path);
	if (lp_lock_whole(fd, true) < 0) {
		lp_fail_errno(err, "container %s: lock %s", ct->cfg.name, path);
		close(fd);
		return -1;
	}
	return fd;
}

void lp_ct_free(struct lp_container *ct)
{
	lp_container_cfg_free(&ct->cfg);
}

/* ---------------------------------------------------------------- create */

static int make_id(char *id, size_t len, struct lp_err *err)
{
	unsigned char raw[8];
	size_t i;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return lp_fail_errno(err, "getrandom");
	for (i = 0; i < sizeof(raw) && 2 * i + 2 < len; i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

static int write_config(struct lp_container *ct, struct lp_err *err)
{
	char path[PATH_MAX];
	char *text = lp_container_cfg_to_json(&ct->cfg, err);
	int rc;

	if (!text)
		return -1;
	rc = ct_path(ct, "config.json", path, sizeof(path), err);
	if (rc == 0)
		rc = lp_write_file_atomic(path, text, strlen(text), err);
	free(text);
	return rc;
}

/*
 * ROOT/containers/NAME is root's alone: the agent writes its state and the
 * container's logs there.  With a user namespace, whose root mounts the
 * overlay, that root's group may walk through it (0710) to upper/, work/
 * and rootfs/, which it owns; it can create nothing beside them.  A
 * directory an older limpet gave to that uid is taken back, and whatever
 * that uid could have planted in it meanwhile (a link where the agent
 * writes, a FIFO) is dropped.
 */
int lp_ct_claim_dir(const struct lp_container *ct, struct lp_err *err)
{
	gid_t group = ct->cfg.userns_count ? ct->cfg.userns_uid : 0;
	mode_t mode = ct->cfg.userns_count ? 0710 : 0700;
	cleanup_fd int fd = open(ct->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	struct stat st;
	bool was_given;
	DIR *d;

	if (fd < 0 || fstat(fd, &st) < 0)
		return lp_fail_errno(err, "%s", ct->dir);
	was_given = st.st_uid != 0;
	if ((st.st_uid != 0 || st.st_gid != group) && fchown(fd, 0, group) < 0)
		return lp_fail_errno(err, "chown %s", ct->dir);
	if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
		return lp_fail_errno(err, "chmod %s", ct->dir);
	if (!was_given)
		return 0;
	d = fdopendir(steal_fd(&fd));
	if (!d)
		return lp_fail_errno(err, "%s", ct->dir);
	while ((de = readdir(d)) != NULL) {
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	return 0;
}

static int make_layout(struct lp_container *ct, struct lp_err *err)
{
	static const char *const dirs[] = { "upper", "work", "rootfs" };
	uid_t owner = ct->cfg.userns_count ? ct->cfg.userns_uid : 0;
	char path[PATH_MAX];
	size_t i;

	if (lp_ct_claim_dir(ct, err) < 0)
		return -1;
	/* With a user namespace, its root mounts the overlay: it must own these. */
	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (ct_path(ct, dirs[i], path, sizeof(path), err) < 0)
			return -1;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return lp_fail_errno(err, "mkdir %s", path);
		if (owner && lchown(path, owner, owner) < 0)
			return lp_fail_errno(err, "chown %s", path);
	}
	return 0;
}

int lp_ct_create(const struct lp_host *host, struct lp_container_cfg *cfg, bool detached,
		 bool auto_remove, struct lp_container *ct, struct lp_err *err)
{
	char parent[PATH_MAX];

	memset(ct, 0, sizeof(*ct));
	ct->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	if (set_dirs(host, ct->cfg.name, ct, err) < 0 ||
	    containers_dir(host, parent, sizeof(parent), err) < 0 ||
	    lp_mkdir_p(parent, 0711, err) < 0)
		goto fail;
	/* mkdir is the name lock: two creators cannot both get it. */
	if (mkdir(ct->dir, 0700) < 0) {
		if (errno == EEXIST)
			lp_fail(err, EEXIST, "container name %s is already in use (limpet rm %s)",
				ct->cfg.name, ct->cfg.name);
		else
			lp_fail_errno(err, "mkdir %s", ct->dir);
		goto fail;
	}
	ct->st.detached = detached;
	ct->st.auto_remove = auto_remove;
	if (make_id(ct->st.id, sizeof(ct->st.id), err) < 0 || make_layout(ct, err) < 0 ||
	    write_config(ct, err) < 0 || lp_ct_save(ct, err) < 0) {
		struct lp_err ignored;

		lp_remove_tree(ct->dir, &ignored);
		goto fail;
	}
	return 0;
fail:
	lp_ct_free(ct);
	return -1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int lp_ct_names(const struct lp_host *host, char ***names, size_t *n, struct lp_err *err)
{
	char path[PATH_MAX];
	char **v = NULL, **nv;
	size_t count = 0;
	struct dirent *de;
	DIR *d;

	*names = NULL;
	*n = 0;
	if (containers_dir(host, path, sizeof(path), err) < 0)
		return -1;
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : lp_fail_errno(err, "open %s", path);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		nv = realloc(v, (count + 1) * sizeof(*v));
		if (!nv || !(nv[count] = strdup(de->d_name))) {
			v = nv ? nv : v;
			lp_ct_names_free(v, count);
			closedir(d);
			return lp_fail(err, ENOMEM, "listing containers: out of memory");
		}
		v = nv;
		count++;
	}
	closedir(d);
	if (count)
		qsort(v, count, sizeof(*v), cmp_names);
	*names = v;
	*n = count;
	return 0;
}

void lp_ct_names_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

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
 * HOME (the user's, from /etc/passwd).  New strings in a new vector.
 */
static char **build_env(const struct lp_container_cfg *cfg, char **base, const char *home)
{
	char kv[PATH_MAX + sizeof("HOSTNAME=")];
	size_t n = 0, i, k = 0;
	char **env;

	while (base && base[n])
		n++;
	env = calloc(n + 4, sizeof(*env));
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

	if (ct_path(ct, "run.env", path, sizeof(path), err) < 0)
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

	if (ct_path(ct, "run.env", path, sizeof(path), err) < 0 ||
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

	if (ct_path(ct, "lowerdir", path, sizeof(path), err) < 0)
		return -1;
	return lp_write_file_atomic(path, lowerdir, strlen(lowerdir), err);
}

char *lp_ct_lowerdir(const struct lp_container *ct)
{
	char path[PATH_MAX], *text = NULL;
	struct lp_err ignored;

	if (!ct->cfg.image || ct_path(ct, "lowerdir", path, sizeof(path), &ignored) < 0 ||
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
	struct lp_image_run img;
	struct lp_bind *binds = NULL;
	struct lp_err ignored;
	struct lp_spec spec;
	bool use_vm = false;
	int rc;

	if (lp_vm_choose(host, cfg, &use_vm, err) < 0 || lp_ct_claim_dir(ct, err) < 0)
		return lp_prefix(err, "container %s", cfg->name);
	if (ct_path(ct, "upper", upper, sizeof(upper), err) < 0 ||
	    ct_path(ct, "work", work, sizeof(work), err) < 0 ||
	    ct_path(ct, "rootfs", merged, sizeof(merged), err) < 0 ||
	    ct_path(ct, "exit", exitf, sizeof(exitf), err) < 0 || cgroup_path(host, ct, err) < 0)
		return -1;
	if (resolve_run(host, cfg, &img, &env, err) < 0)
		return lp_prefix(err, "container %s", cfg->name);
	if (img.exposes_ports)
		fprintf(stderr, "limpet: image %s exposes ports; limpet does not publish ports "
				"(use --net host)\n",
			cfg->image);
	/* Before it runs: gc keeps these layers even if the image is imported anew. */
	if ((cfg->image && save_lowerdir(ct, img.lowerdir, err) < 0) ||
	    save_run(ct, img.cwd, env, err) < 0) {
		lp_image_run_free(&img);
		return lp_prefix(err, "container %s", cfg->name);
	}
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
	unlink(exitf);
	if (ct->st.detached) {
		null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		log_fd = open_log(host, ct, err);
		if (null_fd < 0 || log_fd < 0) {
			lp_image_run_free(&img);
			return null_fd < 0 ? lp_fail_errno(err, "open /dev/null") : -1;
		}
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
	lp_image_run_free(&img);
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

/* ---------------------------------------------------------------- exit */

static bool read_exit_file(struct lp_container *ct, int *code, int *sig)
{
	char path[PATH_MAX], *text = NULL;
	struct lp_err ignored;
	bool ok = false;
	int v;

	if (ct_path(ct, "exit", path, sizeof(path), &ignored) < 0 ||
	    lp_read_file_nofollow(path, 64, &text, NULL, &ignored) < 0)
		return false;
	if (sscanf(text, "exit %d", &v) == 1) {
		*code = v;
		*sig = 0;
		ok = true;
	} else if (sscanf(text, "signal %d", &v) == 1) {
		*code = 128 + v;
		*sig = v;
		ok = true;
	}
	free(text);
	return ok;
}

int lp_ct_record_exit(struct lp_container *ct, bool have_status, int code, int sig,
		      struct lp_err *err)
{
	uint64_t ooms = 0;
	struct lp_err ignored;

	/*
	 * With --init, PID 1's own status hides the entrypoint's; a VMM's says
	 * 128+N for both a guest entrypoint killed by signal N and an exit
	 * code of 128+N: the file has the difference.
	 */
	if ((ct->cfg.init || ct->st.vm) && read_exit_file(ct, &code, &sig))
		have_status = true;
	ct->st.exit_unknown = !have_status;
	ct->st.exit_code = have_status ? code : 0;
	ct->st.signal = have_status ? sig : 0;
	ct->st.oom_killed = lp_cgroup_oom_kills(ct->st.cgroup, &ooms, &ignored) == 0 && ooms > 0;
	/* The entrypoint is gone; anything it left behind goes with it. */
	lp_cgroup_kill(ct->st.cgroup, &ignored);
	lp_cgroup_destroy(ct->st.cgroup, &ignored);
	ct->st.status = LP_CT_EXITED;
	ct->st.pid = 0;
	ct->st.starttime = 0;
	ct->st.finished_at = lp_wall_s();
	return lp_ct_save(ct, err);
}

bool lp_ct_alive(const struct lp_container *ct)
{
	return ct->st.status == LP_CT_RUNNING && lp_proc_running(ct->st.pid, ct->st.starttime);
}

bool lp_ct_supervised(const struct lp_container *ct)
{
	return lp_proc_running(ct->st.supervisor, ct->st.supervisor_start);
}

int lp_ct_main_process(const struct lp_container *ct, pid_t *pid,
		       unsigned long long *starttime)
{
	char path[96], buf[64];
	FILE *f;
	int child = 0;

	if (!lp_ct_alive(ct))
		return -1;
	/* Nothing of a microVM's guest is a process here. */
	if (ct->st.vm)
		return -1;
	*pid = ct->st.pid;
	*starttime = ct->st.starttime;
	if (!ct->cfg.init)
		return 0;
	/* limpet's init has exactly one child of its own: the entrypoint. */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)*pid, (int)*pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		child = atoi(buf);
	fclose(f);
	if (child <= 0)
		return -1;
	*pid = child;
	*starttime = lp_proc_starttime(child);
	return 0;
}

int lp_ct_exec_env(const struct lp_host *host, const struct lp_container *ct, char *const *extra,
		   const char *workdir, struct lp_exec_spec *spec, struct lp_err *err)
{
	cleanup_strv char **base = NULL;
	cleanup_free char *cwd = NULL;
	struct lp_image_run img;
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
		lp_image_run_free(&img);
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

/* ---------------------------------------------------------------- stop, rm */

static int pidfd_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static bool wait_gone(int pidfd, int64_t timeout_ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int64_t deadline = lp_now_ms() + timeout_ms;
	int64_t left;

	for (;;) {
		left = deadline - lp_now_ms();
		if (left < 0)
			left = 0;
		if (poll(&p, 1, (int)left) > 0)
			return true;
		if (left == 0)
			return false;
	}
}

int lp_ct_stop(struct lp_container *ct, int64_t timeout_ms, struct lp_err *err)
{
	struct lp_proc proc;
	struct lp_err ignored;
	int sig = SIGTERM;

	int lock = lp_ct_lock(ct, err);

	if (lock < 0)
		return -1;
	/*
	 * What the caller loaded may be stale: its supervisor may have started
	 * it again since.  Under the lock, the process we stop is the one on
	 * disk, and a restart comes after our mark (and heeds it) or before.
	 */
	if (load_state(ct, err) < 0) {
		close(lock);
		return lp_prefix(err, "container %s", ct->cfg.name);
	}
	ct->st.stop_requested = true;
	if (lp_ct_save(ct, err) < 0) {
		close(lock);
		return -1;
	}
	close(lock);
	if (lp_proc_adopt(ct->st.pid, ct->st.starttime, &proc) < 0)
		return 0; /* already gone */
	if (timeout_ms > 0 && pidfd_signal(proc.pidfd, SIGTERM) == 0 &&
	    wait_gone(proc.pidfd, timeout_ms))
		goto gone;
	/* It ignored SIGTERM (PID 1 without a handler does): no more asking. */
	sig = SIGKILL;
	pidfd_signal(proc.pidfd, SIGKILL);
	lp_cgroup_kill(ct->st.cgroup, &ignored);
	if (!wait_gone(proc.pidfd, 10000)) {
		close(proc.pidfd);
		return lp_fail(err, ETIMEDOUT, "container %s: still running after SIGKILL",
			       ct->cfg.name);
	}
gone:
	close(proc.pidfd);
	/* Gone, even if its supervisor has not reaped it yet. */
	ct->st.status = LP_CT_EXITED;
	/* Its supervisor records the exit; with none left, we are the only witness. */
	if (!lp_ct_supervised(ct))
		return lp_ct_record_exit(ct, sig == SIGKILL, 128 + sig, sig, err);
	return 0;
}

int lp_ct_remove(struct lp_container *ct, struct lp_err *err)
{
	char gone[PATH_MAX];
	struct lp_err ignored;
	int tries;

	if (lp_ct_alive(ct))
		return lp_fail(err, EBUSY, "container %s is running (stop it first, or rm -f)",
			       ct->cfg.name);
	if (ct->st.cgroup[0]) {
		/* Not alive by its record, yet a start cut short may have left a process. */
		lp_cgroup_kill(ct->st.cgroup, &ignored);
		lp_cgroup_destroy(ct->st.cgroup, &ignored);
	}
	/*
	 * Out of the listing in one step: ps or an agent looking at the
	 * containers never meets one half removed (its config gone, its
	 * directory still there).  A dot name is never listed, and a removal
	 * cut short is finished by the next agent (lp_ct_sweep).
	 */
	if (lp_path(gone, sizeof(gone), err, "%.*s/" REMOVING "%s",
		    (int)(strrchr(ct->dir, '/') - ct->dir), ct->dir, ct->cfg.name) < 0)
		return -1;
	if (rename(ct->dir, gone) < 0)
		return lp_fail_errno(err, "remove container %s: rename %s", ct->cfg.name, ct->dir);
	/*
	 * The supervisor may be recording the exit of a container just stopped
	 * and write its state file into the directory being removed: go again.
	 */
	for (tries = 0; lp_remove_tree(gone, err) < 0; tries++) {
		if (err->code != ENOTEMPTY || tries == 10)
			return lp_prefix(err, "remove container %s", ct->cfg.name);
		usleep(20 * 1000);
	}
	return 0;
}

void lp_ct_sweep(const struct lp_host *host)
{
	char path[PATH_MAX], leftover[PATH_MAX];
	struct lp_err err = { 0 };
	struct dirent *de;
	DIR *d;

	if (containers_dir(host, path, sizeof(path), &err) < 0 || !(d = opendir(path)))
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, REMOVING, strlen(REMOVING)) ||
		    lp_path(leftover, sizeof(leftover), &err, "%s/%s", path, de->d_name) < 0)
			continue;
		if (lp_remove_tree(leftover, &err) < 0)
			fprintf(stderr, "limpet agent: %s\n", err.msg);
	}
	closedir(d);
}

const char *lp_ct_status_name(const struct lp_container *ct)
{
	if (ct->st.status == LP_CT_RUNNING && !lp_ct_alive(ct))
		return "lost";
	return status_names[ct->st.status];
}

bool lp_ct_exit_known(const struct lp_container *ct)
{
	return ct->st.status == LP_CT_EXITED && !ct->st.exit_unknown;
}

int lp_ct_exit_status(const struct lp_container *ct)
{
	if (ct->st.signal)
		return 128 + ct->st.signal;
	return ct->st.exit_code;
}
