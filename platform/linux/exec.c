// SPDX-License-Identifier: Apache-2.0
/*
 * Run a command inside a running container (limpet exec, health checks).
 *
 * The command's process is in the container's PID namespace from the
 * moment it exists until its exec, where the container's processes can
 * look at it through /proc (stage.c says why that matters).  So:
 *  1. a first child, still wholly on the host, becomes non-dumpable, joins
 *     the container's cgroup, keeps only the fds the next step needs (stdio,
 *     the spec, two pipes back to us, the namespaces) and re-executes limpet
 *     from its sealed copy as the stage "limpet:exec", with no environment;
 *  2. the stage, non-dumpable again (the exec reset it), reads the spec,
 *     joins the namespaces (user first, mount last) and clones the command
 *     with CLONE_PARENT: inside the PID namespace, yet our own child, to
 *     wait for like any other;
 *  3. the command starts a session of its own, so that the operator's
 *     terminal is not its controlling tty (TIOCSTI could type into it), with
 *     a tty takes a pty of the container's devpts as that (its master goes
 *     back over the pid socket, before the exec), goes
 *     to the working directory the caller chose (inside the container's
 *     root: the stage has joined its mount namespace), takes the container
 *     process's user and groups, gives up what a container gives up, and
 *     only then looks its name up in the PATH of the environment the caller
 *     chose, inside the container's root.
 */
#include "platform/linux/linux.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "platform/cgroup.h"
#include "platform/lib/fdpass.h"
#include "platform/lib/util.h"

/* The spec handed to the stage: the environment and argv, at most. */
#define SPEC_MAX (512 * 1024)
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* The stage's fds, after 0, 1, 2: then one per namespace, then the sealed copy. */
enum { FD_SPEC = 3, FD_REPORT, FD_PID, FD_NS };

struct target {
	uid_t uid;	/* as the container sees them */
	gid_t gid;
	gid_t groups[LP_GROUPS_MAX];
	size_t n_groups;
	int ns[8];
	size_t n_ns;
};

/* What the stage reads from FD_SPEC: NUL-separated fields, in this order. */
struct staged {
	uid_t uid;
	gid_t gid;
	gid_t groups[LP_GROUPS_MAX];
	size_t n_groups;
	bool keep_mknod;
	bool userns;
	bool tty;
	unsigned short rows, cols;
	size_t n_ns;
	const char *cwd;
	char **argv;
	char **envp;
};

struct report {
	int code;
	int exec_failed;
	char msg[LP_ERR_MAX];
};

/* "Groups:\t1000 1500 \n": the supplementary groups, at most LP_GROUPS_MAX. */
static int parse_groups(const char *list, struct target *t, struct lp_err *err)
{
	char *end;
	unsigned long g;

	for (t->n_groups = 0;; list = end) {
		list += strspn(list, " \t");
		if (!*list || *list == '\n')
			return 0;
		errno = 0;
		g = strtoul(list, &end, 10);
		if (errno || end == list || g > UINT32_MAX)
			return lp_fail(err, EINVAL, "bad Groups line");
		if (t->n_groups == LP_GROUPS_MAX)
			return lp_fail(err, E2BIG,
				       "the container's process is in more than %d groups "
				       "(limpet's limit)",
				       LP_GROUPS_MAX);
		t->groups[t->n_groups++] = (gid_t)g;
	}
}

static int read_ids(pid_t pid, struct target *t, struct lp_err *err)
{
	char path[64];
	cleanup_free char *line = NULL;
	size_t cap = 0;
	unsigned int ruid, euid, rgid, egid;
	bool got_uid = false, got_gid = false, got_groups = false;
	FILE *f;
	int rc = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return lp_fail_errno(err, "open %s", path);
	while (rc == 0 && getline(&line, &cap, f) > 0) {
		if (sscanf(line, "Uid: %u %u", &ruid, &euid) == 2) {
			t->uid = euid;
			got_uid = true;
		} else if (sscanf(line, "Gid: %u %u", &rgid, &egid) == 2) {
			t->gid = egid;
			got_gid = true;
		} else if (!strncmp(line, "Groups:", 7)) {
			rc = parse_groups(line + 7, t, err);
			got_groups = true;
		}
	}
	fclose(f);
	if (rc < 0)
		return lp_prefix(err, "%s", path);
	if (!got_uid || !got_gid || !got_groups)
		return lp_fail(err, EINVAL, "%s: no Uid/Gid/Groups lines", path);
	return 0;
}

/*
 * status shows the ids as the host sees them; once in the container's user
 * namespace, setuid takes that namespace's: the one *id maps to there.
 */
static int map_id(pid_t pid, const char *map, unsigned int *id, struct lp_err *err)
{
	unsigned int inside, outside, count;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, map);
	f = fopen(path, "re");
	if (!f)
		return lp_fail_errno(err, "open %s", path);
	while (fscanf(f, "%u %u %u", &inside, &outside, &count) == 3) {
		if (*id >= outside && *id - outside < count) {
			*id = inside + (*id - outside);
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return lp_fail(err, EINVAL, "%s: id %u is not mapped", path, *id);
}

/* The user and groups of the container's process. */
static int read_target(pid_t pid, bool userns, struct target *t, struct lp_err *err)
{
	if (read_ids(pid, t, err) < 0)
		return -1;
	if (userns && (map_id(pid, "uid_map", &t->uid, err) < 0 ||
		       map_id(pid, "gid_map", &t->gid, err) < 0))
		return -1;
	/* Host gids, and setgroups is denied in the user namespace: none to take. */
	if (userns)
		t->n_groups = 0;
	return 0;
}

static int open_namespaces(pid_t pid, bool userns, struct target *t, struct lp_err *err)
{
	/* Order matters: the user namespace grants the rights to join the rest. */
	static const char *const order[] = { "user", "ipc", "uts", "net", "cgroup", "pid", "mnt" };
	char path[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(order); i++) {
		int fd;

		if (i == 0 && !userns)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, order[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return lp_fail_errno(err, "open %s", path);
		t->ns[t->n_ns++] = fd;
	}
	return 0;
}

static void target_free(struct target *t)
{
	size_t i;

	for (i = 0; i < t->n_ns; i++)
		close(t->ns[i]);
}

static __attribute__((noreturn)) void fail_child(int fd, struct lp_err *err, int exec_failed)
{
	struct report r = { .code = err->code, .exec_failed = exec_failed };
	ssize_t n;

	memcpy(r.msg, err->msg, sizeof(r.msg));
	n = write(fd, &r, sizeof(r));
	(void)n;
	_exit(exec_failed ? 127 : 125);
}

static void put_str(FILE *f, const char *s)
{
	fwrite(s, 1, strlen(s) + 1, f);
}

static void put_num(FILE *f, unsigned long long n)
{
	fprintf(f, "%llu", n);
	fputc('\0', f);
}

static void put_hex(FILE *f, const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		fprintf(f, "%02x", b[i]);
	fputc('\0', f);
}

static void put_strv(FILE *f, char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	put_num(f, n);
	for (n = 0; v && v[n]; n++)
		put_str(f, v[n]);
}

/* The spec for the stage, in a memfd: no pipe to fill, no SIGPIPE to catch. */
static int write_spec(const struct lp_exec_spec *spec, const struct target *t,
		      struct lp_err *err)
{
	cleanup_free char *buf = NULL;
	cleanup_fd int fd = -1;
	size_t len = 0, prog_len, i;
	const void *prog;
	bool failed;
	FILE *f;

	/* The stage is a new process image: it gets the filter built here, not a rebuild. */
	if (lp_seccomp_prepare(NULL, err) < 0)
		return -1;
	prog = lp_seccomp_program(&prog_len);
	f = open_memstream(&buf, &len);
	if (!f)
		return lp_fail_errno(err, "exec spec");
	put_num(f, t->uid);
	put_num(f, t->gid);
	put_num(f, t->n_groups);
	for (i = 0; i < t->n_groups; i++)
		put_num(f, t->groups[i]);
	put_num(f, lp_cgroup_mode() == LP_CGROUP_V1);
	put_num(f, spec->userns);
	put_num(f, spec->tty);
	put_num(f, spec->tty_rows);
	put_num(f, spec->tty_cols);
	put_num(f, t->n_ns);
	put_str(f, spec->cwd ? spec->cwd : "/");
	put_strv(f, spec->argv);
	put_strv(f, spec->envp);
	put_hex(f, prog, prog_len);
	failed = ferror(f);
	if (fclose(f) != 0 || failed)
		return lp_fail(err, ENOMEM, "exec spec: out of memory");
	if (len > SPEC_MAX)
		return lp_fail(err, E2BIG, "the command and its environment take more than %d KiB",
			       SPEC_MAX / 1024);
	fd = memfd_create("limpet-exec-spec", MFD_CLOEXEC);
	if (fd < 0 || lp_write_all(fd, buf, len) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return lp_fail_errno(err, "write the exec spec");
	return steal_fd(&fd);
}

/* The first child: on the host still; hands over to the stage. */
static __attribute__((noreturn)) void enter(const struct lp_exec_spec *spec,
					    const struct target *t, int self, int spec_fd,
					    int report_fd, int pid_fd)
{
	char *argv[] = { LP_STAGE_EXEC, NULL }, *envp[] = { NULL };
	int fds[LP_STAGE_FDS_MAX], n = 0, i, null;
	struct lp_err err = { 0 };

	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (spec->cgroup && lp_cgroup_attach(spec->cgroup, getpid(), &err) < 0)
		fail_child(report_fd, &err, 0);
	/* With a terminal of its own, the command never holds the operator's. */
	null = spec->tty ? open("/dev/null", O_RDWR | O_CLOEXEC) : -1;
	if (spec->tty && null < 0) {
		lp_fail_errno(&err, "open /dev/null");
		fail_child(report_fd, &err, 0);
	}
	for (i = 0; i < 3; i++)
		fds[n++] = spec->tty ? null : spec->stdio[i] >= 0 ? spec->stdio[i] : i;
	fds[n++] = spec_fd;
	fds[n++] = report_fd;
	fds[n++] = pid_fd;
	for (i = 0; i < (int)t->n_ns; i++)
		fds[n++] = t->ns[i];
	fds[n++] = self;
	if (lp_fds_arrange(fds, n) < 0) {
		lp_fail_errno(&err, "arrange the fds of the command");
		fail_child(report_fd, &err, 0);
	}
	fcntl(n - 1, F_SETFD, FD_CLOEXEC);
	fexecve(n - 1, argv, envp);
	lp_fail_errno(&err, "re-execute limpet from its sealed copy");
	fail_child(FD_REPORT, &err, 0);
}

/* Next NUL-terminated field of [*p, end), or NULL if there is none. */
static char *next_field(char **p, char *end)
{
	char *s = *p, *nul;

	if (s >= end || !(nul = memchr(s, '\0', (size_t)(end - s))))
		return NULL;
	*p = nul + 1;
	return s;
}

static bool next_num(char **p, char *end, unsigned long long max, unsigned long long *out)
{
	char *s = next_field(p, end), *e;

	if (!s || !*s)
		return false;
	errno = 0;
	*out = strtoull(s, &e, 10);
	return !errno && !*e && *out <= max;
}

static char **next_strv(char **p, char *end)
{
	unsigned long long n, i;
	char **v;

	if (!next_num(p, end, SPEC_MAX, &n) || !(v = calloc(n + 1, sizeof(*v))))
		return NULL;
	for (i = 0; i < n; i++) {
		if (!(v[i] = next_field(p, end))) {
			free(v);
			return NULL;
		}
	}
	return v;
}

/* The filter write_spec put in as hex, decoded in place; none if empty. */
static int take_hex(char *hex, struct lp_err *err)
{
	size_t n = strlen(hex) / 2, i;
	unsigned int byte;

	if (strlen(hex) % 2)
		return lp_fail(err, EINVAL, "the exec spec is malformed (filter)");
	for (i = 0; i < n; i++) {
		if (sscanf(hex + 2 * i, "%2x", &byte) != 1)
			return lp_fail(err, EINVAL, "the exec spec is malformed (filter)");
		hex[i] = (char)byte;
	}
	return n ? lp_seccomp_set_program(hex, n, err) : 0;
}

static int read_spec(struct staged *s, struct lp_err *err)
{
	unsigned long long uid, gid, n_groups, group, mknod, userns, tty, rows, cols, n_ns, i;
	char *buf, *p, *end, *hex;
	size_t len = 0;
	ssize_t n;

	buf = malloc(SPEC_MAX);
	if (!buf)
		return lp_fail(err, ENOMEM, "out of memory");
	while (len < SPEC_MAX && (n = read(FD_SPEC, buf + len, SPEC_MAX - len)) != 0) {
		if (n < 0 && errno != EINTR)
			return lp_fail_errno(err, "read the exec spec");
		len += n > 0 ? (size_t)n : 0;
	}
	p = buf;
	end = buf + len;
	if (!next_num(&p, end, UINT32_MAX, &uid) || !next_num(&p, end, UINT32_MAX, &gid) ||
	    !next_num(&p, end, LP_GROUPS_MAX, &n_groups))
		return lp_fail(err, EINVAL, "the exec spec is malformed");
	for (i = 0; i < n_groups; i++) {
		if (!next_num(&p, end, UINT32_MAX, &group))
			return lp_fail(err, EINVAL, "the exec spec is malformed (groups)");
		s->groups[i] = (gid_t)group;
	}
	s->n_groups = (size_t)n_groups;
	if (!next_num(&p, end, 1, &mknod) || !next_num(&p, end, 1, &userns) ||
	    !next_num(&p, end, 1, &tty) || !next_num(&p, end, USHRT_MAX, &rows) ||
	    !next_num(&p, end, USHRT_MAX, &cols) ||
	    !next_num(&p, end, LP_STAGE_FDS_MAX - FD_NS - 1, &n_ns) ||
	    !(s->cwd = next_field(&p, end)) || !(s->argv = next_strv(&p, end)) ||
	    !s->argv[0] || !(s->envp = next_strv(&p, end)) || !(hex = next_field(&p, end)))
		return lp_fail(err, EINVAL, "the exec spec is malformed");
	if (take_hex(hex, err) < 0)
		return -1;
	s->uid = (uid_t)uid;
	s->gid = (gid_t)gid;
	s->keep_mknod = mknod;
	s->userns = userns;
	s->tty = tty;
	s->rows = (unsigned short)rows;
	s->cols = (unsigned short)cols;
	s->n_ns = (size_t)n_ns;
	return 0;
}

/*
 * The command's terminal, from the container's devpts: opened here, in its
 * PID namespace and cgroup (device rules), not by the stage, whose host
 * root has no uid in a user namespace to own the pty with.
 */
static int open_terminal(const struct staged *s, struct lp_err *err)
{
	int master, slave;

	if (s->userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		return lp_fail_errno(err, "become root of the user namespace");
	master = lp_pty_open(s->rows, s->cols, &slave, err);
	if (master < 0)
		return -1;
	if (lp_pty_take(slave, s->uid, err) < 0 || lp_fd_send(FD_PID, master, "t", 1, err) < 0) {
		close(master);
		return -1;
	}
	close(master);
	close(FD_PID);
	return 0;
}

static __attribute__((noreturn)) void run_command(const struct staged *s)
{
	struct lp_err err = { 0 };

	/* The terminal exec runs in must not be the command's: no TIOCSTI into it. */
	if (setsid() < 0) {
		lp_fail_errno(&err, "setsid");
		fail_child(FD_REPORT, &err, 0);
	}
	if (s->tty && open_terminal(s, &err) < 0)
		fail_child(FD_REPORT, &err, 0);
	/* setns left us in the container's root, where the lookup starts. */
	if (lp_chdir_workdir(s->cwd) < 0) {
		lp_fail_errno(&err, "working directory %s", s->cwd);
		fail_child(FD_REPORT, &err, 0);
	}
	/* The same groups as the container's process: the ones its user has there. */
	if (lp_privileges_drop(s->keep_mknod, s->userns, s->uid, s->gid, s->groups, s->n_groups,
			       &err) < 0)
		fail_child(FD_REPORT, &err, 0);
	/* A change of user set the flag to fs.suid_dumpable, which may be 1. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	lp_signals_reset();
	lp_exec_search(s->argv, s->envp);
	lp_fail_errno(&err, "exec %s", s->argv[0]);
	fail_child(FD_REPORT, &err, 1);
}

void lp_exec_stage(void)
{
	struct lp_err err = { 0 };
	struct staged s = { 0 };
	size_t i;
	pid_t cmd;

	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Nothing from 3 up outlives the command's exec. */
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	if (read_spec(&s, &err) < 0)
		fail_child(FD_REPORT, &err, 0);
	close(FD_SPEC);
	for (i = 0; i < s.n_ns; i++) {
		if (setns(FD_NS + (int)i, 0) < 0) {
			lp_fail_errno(&err, "join namespace %zu of the container", i);
			fail_child(FD_REPORT, &err, 0);
		}
		close(FD_NS + (int)i);
	}
	cmd = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
	if (cmd == 0) {
		if (!s.tty)
			close(FD_PID);
		run_command(&s);
	}
	if (cmd < 0) {
		lp_fail_errno(&err, "start the command");
		fail_child(FD_REPORT, &err, 0);
	}
	if (write(FD_PID, &cmd, sizeof(cmd)) != sizeof(cmd))
		_exit(125);
	_exit(0);
}

/*
 * What the stage and the command sent: the command's pid, and the master of
 * its terminal if it has one; until both have closed their ends.
 */
static void read_packets(int fd, pid_t *cmd, int *console)
{
	struct lp_err ignored;
	char buf[sizeof(pid_t)];
	size_t got;
	int passed;

	while (lp_fd_recv(fd, 0, buf, sizeof(buf), &got, &passed, &ignored) == 0 && got > 0) {
		if (passed >= 0 && got == 1 && buf[0] == 't' && *console < 0)
			*console = passed;
		else if (passed >= 0)
			close(passed);
		else if (got == sizeof(pid_t))
			memcpy(cmd, buf, sizeof(pid_t));
	}
}

static int collect(pid_t first, int report_fd, int pid_fd, struct lp_proc *proc,
		   struct lp_err *err)
{
	struct report r;
	pid_t cmd = 0;
	ssize_t n;

	while (waitpid(first, NULL, 0) < 0 && errno == EINTR)
		;
	read_packets(pid_fd, &cmd, &proc->console_fd);
	/* EOF on the report pipe: the command's exec closed the last copy. */
	do {
		n = read(report_fd, &r, sizeof(r));
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(r)) {
		if (cmd > 0)
			while (waitpid(cmd, NULL, 0) < 0 && errno == EINTR)
				;
		proc->exec_errno = r.exec_failed ? r.code : 0;
		r.msg[sizeof(r.msg) - 1] = '\0';
		return lp_fail(err, r.code, "%s", r.msg);
	}
	if (cmd <= 0)
		return lp_fail(err, EIO, "the command did not start");
	proc->pid = cmd;
	proc->starttime = lp_proc_starttime(cmd);
	proc->pidfd = (int)syscall(SYS_pidfd_open, cmd, 0);
	if (proc->pidfd < 0)
		return lp_fail_errno(err, "pidfd for the command");
	return 0;
}

int lp_runtime_exec(const struct lp_exec_spec *spec, struct lp_proc *proc, struct lp_err *err)
{
	struct target t = { 0 };
	int report[2] = { -1, -1 }, pids[2] = { -1, -1 };
	int spec_fd = -1, self;
	pid_t first;
	int rc = -1;

	memset(proc, 0, sizeof(*proc));
	proc->pidfd = -1;
	proc->console_fd = -1;
	if (!lp_proc_running(spec->target, spec->target_starttime)) {
		lp_fail(err, ESRCH, "the container is not running");
		goto out;
	}
	if (read_target(spec->target, spec->userns, &t, err) < 0 ||
	    open_namespaces(spec->target, spec->userns, &t, err) < 0)
		goto out;
	self = lp_self_sealed(err);
	if (self < 0 || (spec_fd = write_spec(spec, &t, err)) < 0)
		goto out;
	if (pipe2(report, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pids) < 0) {
		lp_fail_errno(err, "pipe");
		goto out;
	}
	fflush(NULL);
	first = fork();
	if (first == 0) {
		close(report[0]);
		close(pids[0]);
		enter(spec, &t, self, spec_fd, report[1], pids[1]);
	}
	close(report[1]);
	close(pids[1]);
	report[1] = pids[1] = -1;
	if (first < 0) {
		lp_fail_errno(err, "fork");
		goto out;
	}
	rc = collect(first, report[0], pids[0], proc, err);
	if (rc < 0 && proc->console_fd >= 0) {
		close(proc->console_fd);
		proc->console_fd = -1;
	}
out:
	if (spec_fd >= 0)
		close(spec_fd);
	if (report[0] >= 0)
		close(report[0]);
	if (pids[0] >= 0)
		close(pids[0]);
	target_free(&t);
	return rc;
}
