// SPDX-License-Identifier: Apache-2.0
/*
 * A container's record on disk: its directory and name (made under a dot
 * name, then renamed: the rename is the name lock), config.json, state.json
 * and the lock its writers take, the listing of names, and the sweep of
 * what a killed create or rm left half done.  Apart from the start
 * and the stop because every command reads and writes these, whatever it
 * then does with the container.
 */
#include "agent/container/container_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "platform/lib/util.h"

#define STATE_MAX (64 * 1024)

static const char *const status_names[] = { "created", "running", "exited" };

int lp_ct_path(const struct lp_container *ct, const char *leaf, char *buf, size_t len,
	       struct lp_err *err)
{
	return lp_path(buf, len, err, "%s/%s", ct->dir, leaf);
}

static int containers_dir(const struct lp_host *host, char *buf, size_t len, struct lp_err *err)
{
	return lp_path(buf, len, err, "%s/containers", host->root);
}

static int set_dirs(const struct lp_host *host, const char *name, struct lp_container *ct,
		    struct lp_err *err)
{
	if (lp_path(ct->dir, sizeof(ct->dir), err, "%s/containers/%s", host->root, name) < 0)
		return -1;
	return lp_ct_path(ct, "container.log", ct->log_path, sizeof(ct->log_path), err);
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
	rc = lp_ct_path(ct, "state.json", path, sizeof(path), err);
	if (rc == 0)
		rc = lp_write_file_atomic(path, text, strlen(text), err);
	free(text);
	return rc;
}

/* ct->st from its state.json, as it is on disk now. */
int lp_ct_load_state(struct lp_container *ct, struct lp_err *err)
{
	char path[PATH_MAX];
	cleanup_free char *text = NULL;
	json_error_t jerr;
	json_t *j;
	int rc;

	if (lp_ct_path(ct, "state.json", path, sizeof(path), err) < 0 ||
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
	if (lp_ct_path(ct, "config.json", path, sizeof(path), err) < 0)
		return -1;
	if (access(ct->dir, F_OK) < 0)
		return lp_fail(err, ENOENT, "no such container: %s", name);
	if (lp_read_file_nofollow(path, CONFIG_MAX, &text, NULL, err) < 0 ||
	    lp_container_cfg_from_json(text, &ct->cfg, err) < 0)
		return lp_prefix(err, "container %s", name);
	if (lp_ct_load_state(ct, err) < 0) {
		lp_ct_free(ct);
		return lp_prefix(err, "container %s", name);
	}
	return 0;
}

int lp_ct_lock(const struct lp_container *ct, struct lp_err *err)
{
	char path[PATH_MAX];
	int fd;

	if (lp_ct_path(ct, "state.lock", path, sizeof(path), err) < 0)
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
	rc = lp_ct_path(ct, "config.json", path, sizeof(path), err);
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
		if (lp_ct_path(ct, dirs[i], path, sizeof(path), err) < 0)
			return -1;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return lp_fail_errno(err, "mkdir %s", path);
		if (owner && lchown(path, owner, owner) < 0)
			return lp_fail_errno(err, "chown %s", path);
	}
	return 0;
}

static int name_in_use(const struct lp_container *ct, struct lp_err *err)
{
	return lp_fail(err, EEXIST, "container name %s is already in use (limpet rm %s)",
		       ct->cfg.name, ct->cfg.name);
}

/*
 * staged becomes final only if final is not there: the name lock.  A file
 * system without RENAME_NOREPLACE gets mkdir as the lock, and the rename
 * then replaces that empty directory in one step.
 */
static int publish(const char *staged, const struct lp_container *ct, struct lp_err *err)
{
	if (syscall(SYS_renameat2, AT_FDCWD, staged, AT_FDCWD, ct->dir, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EEXIST)
		return name_in_use(ct, err);
	if (errno != EINVAL)
		return lp_fail_errno(err, "rename %s to %s", staged, ct->dir);
	if (mkdir(ct->dir, 0700) < 0)
		return errno == EEXIST ? name_in_use(ct, err) : lp_fail_errno(err, "mkdir %s", ct->dir);
	if (rename(staged, ct->dir) < 0) {
		lp_fail_errno(err, "rename %s to %s", staged, ct->dir);
		rmdir(ct->dir);
		return -1;
	}
	return 0;
}

/* Test only: LIMPET_TEST_CRASH_IN_CREATE=1 dies as a power cut would, with the container half made. */
static void test_crash_hook(void)
{
	const char *at = getenv("LIMPET_TEST_CRASH_IN_CREATE");

	if (at && *at == '1')
		raise(SIGKILL);
}

/*
 * The container is made whole under a dot name (CREATING + its id, which
 * nothing lists) and then renamed to its own: a listing never meets one
 * without its state, and one cut short by a crash or a power cut leaves no
 * name behind that neither run nor rm could use, only a dot directory for
 * lp_ct_sweep.  The maker holds a lock on it until then, so that a sweep
 * never takes one still being made.
 */
int lp_ct_create(const struct lp_host *host, struct lp_container_cfg *cfg, bool detached,
		 bool auto_remove, struct lp_container *ct, struct lp_err *err)
{
	char parent[PATH_MAX], final[PATH_MAX], staged[PATH_MAX];
	cleanup_fd int hold = -1;
	struct lp_err ignored;

	memset(ct, 0, sizeof(*ct));
	ct->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	if (set_dirs(host, ct->cfg.name, ct, err) < 0 ||
	    containers_dir(host, parent, sizeof(parent), err) < 0 ||
	    lp_mkdir_p(parent, 0711, err) < 0)
		goto fail;
	/* The quick answer; publish() is the one that holds against a race. */
	if (access(ct->dir, F_OK) == 0) {
		name_in_use(ct, err);
		goto fail;
	}
	ct->st.detached = detached;
	ct->st.auto_remove = auto_remove;
	if (make_id(ct->st.id, sizeof(ct->st.id), err) < 0 ||
	    lp_path(staged, sizeof(staged), err, "%s/" CREATING "%s", parent, ct->st.id) < 0)
		goto fail;
	if (mkdir(staged, 0700) < 0) {
		lp_fail_errno(err, "mkdir %s", staged);
		goto fail;
	}
	hold = open(staged, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (hold < 0 || flock(hold, LOCK_EX | LOCK_NB) < 0) {
		lp_fail_errno(err, "lock %s", staged);
		goto fail_staged;
	}
	/* Built where it stands now; its own name again once published. */
	memcpy(final, ct->dir, sizeof(final));
	memcpy(ct->dir, staged, sizeof(ct->dir));
	if (make_layout(ct, err) < 0 || write_config(ct, err) < 0) {
		memcpy(ct->dir, final, sizeof(ct->dir));
		goto fail_staged;
	}
	test_crash_hook();
	if (lp_ct_save(ct, err) < 0) {
		memcpy(ct->dir, final, sizeof(ct->dir));
		goto fail_staged;
	}
	memcpy(ct->dir, final, sizeof(ct->dir));
	if (publish(staged, ct, err) < 0)
		goto fail_staged;
	return 0;
fail_staged:
	lp_remove_tree(staged, &ignored);
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

void lp_ct_sweep(const struct lp_host *host)
{
	char path[PATH_MAX], leftover[PATH_MAX];
	struct lp_err err = { 0 };
	struct dirent *de;
	DIR *d;

	if (containers_dir(host, path, sizeof(path), &err) < 0 || !(d = opendir(path)))
		return;
	while ((de = readdir(d)) != NULL) {
		bool removing = !strncmp(de->d_name, REMOVING, strlen(REMOVING));
		bool creating = !strncmp(de->d_name, CREATING, strlen(CREATING));

		if ((!removing && !creating) ||
		    lp_path(leftover, sizeof(leftover), &err, "%s/%s", path, de->d_name) < 0)
			continue;
		/* One its maker still holds is being made right now. */
		if (creating) {
			cleanup_fd int fd = open(leftover, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
							   O_CLOEXEC);

			if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
				continue;
		}
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
