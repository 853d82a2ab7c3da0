// SPDX-License-Identifier: Apache-2.0
/*
 * limpet as PID 1 of a microVM.  The guest kernel has unpacked the
 * initramfs (agent/container/initramfs.c) and runs us from it; what the VMM and we
 * agree on is in guest_abi.h.
 *
 * As in platform/linux/init.c, PID 1 stays limpet code: it forwards signals
 * to the entrypoint (those it gets, and each byte the VMM sends on the
 * control UART) and reaps the orphans reparented to it.  The entrypoint's
 * end is the VM's: its status goes to the exit device, where the VMM stops
 * the VM.  A failure before the entrypoint runs ends the VM the same way,
 * as LP_GUEST_EXIT_NOSTART | errno, after one line saying what failed on
 * the container's console (its logs) and on the kernel's (the VMM keeps its
 * tail).  PID 1 must never exit: the kernel would panic.
 */
#include "platform/kvm/guest/guest_init.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <sys/io.h>
#endif

#include "platform/kvm/guest/guest_abi.h"
#include "platform/lib/util.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_CT CGROUP_ROOT "/ct"

/* The container's console (UART 0), once open: the entrypoint's stdio, and our last words. */
static int console_fd = -1;

/*
 * Wait until the tty has handed everything to the UART, but not forever:
 * tcdrain() would, should an interrupt go missing, and the VM would never
 * report its end.  Our UART sends instantly, so this is milliseconds.
 */
static void drain_console(void)
{
	const struct timespec step = { .tv_nsec = 10 * 1000 * 1000 };
	int pending, i;

	for (i = 0; console_fd >= 0 && i < 300; i++) {
		if (ioctl(console_fd, TIOCOUTQ, &pending) < 0 || pending == 0)
			return;
		nanosleep(&step, NULL);
	}
}

/* ---------------------------------------------------------------- reporting */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[LP_ERR_MAX + 64] = "limpet-init: ";
	size_t len = strlen(line);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
	va_end(ap);
	len = strlen(line);
	line[len++] = '\n';
	/* Best effort both: there is nowhere left to report a failure to report. */
	if (console_fd >= 0)
		(void)lp_write_all(console_fd, line, len);
	(void)lp_write_all(STDERR_FILENO, line, len);
}

/* One 32-bit store to the exit device; the VMM ends the VM at it. */
static int write_exit_device(uint32_t value, struct lp_err *err)
{
#if defined(__x86_64__)
	if (ioperm(LP_X86_EXIT_PORT, 4, 1) < 0)
		return lp_fail_errno(err, "ioperm port %#x", LP_X86_EXIT_PORT);
	outl(value, LP_X86_EXIT_PORT);
	return 0;
#elif defined(__aarch64__)
	long page = sysconf(_SC_PAGESIZE);
	volatile uint32_t *reg;
	cleanup_fd int fd = -1;
	void *map;

	if (page <= 0)
		return lp_fail_errno(err, "page size");
	/* O_SYNC: an uncached (device) mapping, so the store reaches the VMM as one MMIO write. */
	fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0)
		return lp_fail_errno(err, "open /dev/mem");
	map = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   (off_t)LP_ARM64_EXIT_DEV);
	if (map == MAP_FAILED)
		return lp_fail_errno(err, "map the exit device at %#llx", LP_ARM64_EXIT_DEV);
	reg = map;
	*reg = value;
	return 0;
#else
	(void)value;
	return lp_fail(err, ENOSYS, "no exit device on this architecture");
#endif
}

/*
 * The VM's end.  Power-off is the fallback when there is no exit device
 * to write, or when the VMM went on past the write (it should not): the
 * VMM then sees a power-off without a status, which is still an end.
 */
static _Noreturn void report_end(uint32_t value)
{
	const struct timespec grace = { .tv_nsec = 100 * 1000 * 1000 };
	struct lp_err err = { 0 };

	/* The entrypoint's last output is still in the UART's buffer: the logs get all of it. */
	drain_console();
	if (write_exit_device(value, &err) < 0)
		say("exit device: %s: powering off without the status %#x", err.msg, value);
	else
		nanosleep(&grace, NULL);
	reboot(RB_POWER_OFF);
	say("power off: %s", strerror(errno));
	/* Every signal is blocked: this waits for the VMM to pull the plug. */
	for (;;)
		pause();
}

static uint32_t status_value(int status)
{
	if (WIFSIGNALED(status))
		return LP_GUEST_EXIT_SIGNALED | (uint32_t)WTERMSIG(status);
	return LP_GUEST_EXIT_CODE(WEXITSTATUS(status));
}

/* ---------------------------------------------------------------- the guest's file systems */

struct guest_mount {
	const char *target, *type, *data;
	unsigned long flags;
};

/* /dev first: everything after it opens devices. */
static const struct guest_mount api_mounts[] = {
	{ "/dev", "devtmpfs", "mode=0755", MS_NOSUID },
	{ "/proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
	{ "/sys", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
	{ "/dev/pts", "devpts", "newinstance,ptmxmode=0666,mode=0620", MS_NOSUID | MS_NOEXEC },
	{ "/dev/shm", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV },
};

static const struct guest_mount cgroup_mount = {
	CGROUP_ROOT, "cgroup2", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC
};

/* What runc puts in a container's /dev beside the device nodes. */
static const char *const dev_links[][2] = {
	{ "/proc/self/fd", "/dev/fd" },
	{ "/proc/self/fd/0", "/dev/stdin" },
	{ "/proc/self/fd/1", "/dev/stdout" },
	{ "/proc/self/fd/2", "/dev/stderr" },
};

static int mount_one(const struct guest_mount *m, struct lp_err *err)
{
	/* The image need not have the mount point; the initramfs is writable. */
	if (mkdir(m->target, 0755) < 0 && errno != EEXIST)
		return lp_fail_errno(err, "mkdir %s", m->target);
	if (mount(m->type, m->target, m->type, m->flags, m->data) < 0)
		return lp_fail_errno(err, "mount %s", m->target);
	return 0;
}

/* All but /dev, mounted first on its own. */
static int mount_api_filesystems(struct lp_err *err)
{
	for (size_t i = 1; i < ARRAY_SIZE(api_mounts); i++)
		if (mount_one(&api_mounts[i], err) < 0)
			return -1;
	for (size_t i = 0; i < ARRAY_SIZE(dev_links); i++)
		if (symlink(dev_links[i][0], dev_links[i][1]) < 0 && errno != EEXIST)
			return lp_fail_errno(err, "symlink %s", dev_links[i][1]);
	return 0;
}

/*
 * The kernel gives PID 1 /dev/console as stdio only if the initramfs has
 * that node, and images have an empty /dev: fill 0-2 before anything we
 * open lands there and gets clobbered by the entrypoint's dup2().
 */
static int fill_std_fds(struct lp_err *err)
{
	int fd, got;

	for (fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		got = open("/dev/console", O_RDWR | O_NOCTTY);
		if (got < 0)
			got = open("/dev/null", O_RDWR | O_NOCTTY);
		if (got < 0)
			return lp_fail_errno(err, "open /dev/null");
		/* open() takes the lowest free number, which is fd: the lower ones are taken. */
		if (got != fd) {
			close(got);
			return lp_fail(err, EBADF, "stdio: fd %d instead of %d", got, fd);
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- the spec */

/* A JSON string without an embedded NUL, which would cut it short where exec sees it. */
static bool plain_string(json_t *v)
{
	return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

static int spec_strings(json_t *root, const char *key, bool required, char ***out,
			struct lp_err *err)
{
	json_t *arr = json_object_get(root, key), *v;
	size_t i;

	if (!arr && !required) {
		*out = calloc(1, sizeof(**out));
		return *out ? 0 : lp_fail(err, ENOMEM, "out of memory");
	}
	if (!json_is_array(arr) || (required && !json_array_size(arr)))
		return lp_fail(err, EINVAL, "\"%s\" must be a%s array of strings", key,
			       required ? " non-empty" : "n");
	*out = calloc(json_array_size(arr) + 1, sizeof(**out));
	if (!*out)
		return lp_fail(err, ENOMEM, "out of memory");
	json_array_foreach(arr, i, v) {
		if (!plain_string(v))
			return lp_fail(err, EINVAL, "\"%s\"[%zu] is not a string", key, i);
		(*out)[i] = (char *)json_string_value(v);
	}
	return 0;
}

static bool int_in(json_t *v, long long max)
{
	return json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= max;
}

/* An optional integer in [0, max]; *out keeps its default when absent. */
static int spec_int(json_t *root, const char *key, long long max, long long *out,
		    struct lp_err *err)
{
	json_t *v = json_object_get(root, key);

	if (!v)
		return 0;
	if (!int_in(v, max))
		return lp_fail(err, EINVAL, "\"%s\" must be an integer from 0 to %lld", key, max);
	*out = json_integer_value(v);
	return 0;
}

static int spec_string(json_t *root, const char *key, const char **out, struct lp_err *err)
{
	json_t *v = json_object_get(root, key);

	if (!v)
		return 0;
	if (!plain_string(v))
		return lp_fail(err, EINVAL, "\"%s\" must be a string", key);
	*out = json_string_value(v);
	return 0;
}

/* (uid_t)-1 means "unchanged" to setuid() and setgid(): not an id a spec may ask for. */
#define ID_MAX (UINT32_MAX - 1)

/* Absent: none (a host from before groups were sent); at most LP_GROUPS_MAX, as on the host. */
static int spec_groups(json_t *root, struct lp_guest_spec *s, struct lp_err *err)
{
	json_t *arr = json_object_get(root, "groups"), *v;
	size_t i;

	s->n_groups = 0;
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return lp_fail(err, EINVAL, "\"groups\" must be an array of gids");
	if (json_array_size(arr) > LP_GROUPS_MAX)
		return lp_fail(err, E2BIG, "\"groups\": %zu supplementary groups, at most %d",
			       json_array_size(arr), LP_GROUPS_MAX);
	json_array_foreach(arr, i, v) {
		if (!int_in(v, ID_MAX))
			return lp_fail(err, EINVAL,
				       "\"groups\"[%zu] must be an integer from 0 to %lld", i,
				       (long long)ID_MAX);
		s->groups[i] = (gid_t)json_integer_value(v);
	}
	s->n_groups = json_array_size(arr);
	return 0;
}

static int spec_decode(struct lp_guest_spec *s, const char *path, struct lp_err *err)
{
	long long uid = 0, gid = 0, tty = 0, rows = 0, cols = 0;
	json_error_t je;

	s->json = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!s->json)
		return lp_fail(err, EINVAL, "line %d: %s", je.line, je.text);
	if (!json_is_object(s->json))
		return lp_fail(err, EINVAL, "not a JSON object");
	s->cwd = "/";
	if (spec_strings(s->json, "argv", true, &s->argv, err) < 0 ||
	    spec_strings(s->json, "env", false, &s->env, err) < 0 ||
	    spec_string(s->json, "cwd", &s->cwd, err) < 0 ||
	    spec_string(s->json, "hostname", &s->hostname, err) < 0 ||
	    spec_int(s->json, "uid", ID_MAX, &uid, err) < 0 ||
	    spec_int(s->json, "gid", ID_MAX, &gid, err) < 0 ||
	    spec_groups(s->json, s, err) < 0 ||
	    spec_int(s->json, "pids", INT32_MAX, &s->pids, err) < 0 ||
	    spec_int(s->json, "tty", 1, &tty, err) < 0 ||
	    spec_int(s->json, "rows", LP_GUEST_SIZE_MAX, &rows, err) < 0 ||
	    spec_int(s->json, "cols", LP_GUEST_SIZE_MAX, &cols, err) < 0)
		return -1;
	s->tty = tty;
	s->rows = (unsigned short)rows;
	s->cols = (unsigned short)cols;
	if (!*s->argv[0])
		return lp_fail(err, EINVAL, "\"argv\"[0] is empty");
	s->uid = (uid_t)uid;
	s->gid = (gid_t)gid;
	return 0;
}

int lp_guest_spec_load(struct lp_guest_spec *s, const char *path, struct lp_err *err)
{
	memset(s, 0, sizeof(*s));
	if (spec_decode(s, path, err) < 0) {
		lp_guest_spec_free(s);
		return lp_prefix(err, "%s", path);
	}
	return 0;
}

void lp_guest_spec_free(struct lp_guest_spec *s)
{
	json_decref(s->json);
	free(s->argv);
	free(s->env);
	memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------- devices and limits */

/*
 * Raw: bytes pass both ways unchanged (no CR added to LF, no echo, ^C is
 * a byte and not a SIGINT).  O_NONBLOCK at open: a virtual UART raises no
 * carrier to wait for.  The console is made blocking again, as the
 * entrypoint's stdio.
 */
static int open_raw_tty(const char *path, bool nonblocking, struct lp_err *err)
{
	struct termios t;
	int fd, flags, saved;

	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return lp_fail_errno(err, "open %s", path);
	if (tcgetattr(fd, &t) < 0)
		goto fail;
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL;
	if (tcsetattr(fd, TCSANOW, &t) < 0)
		goto fail;
	if (!nonblocking &&
	    ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0))
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return lp_fail_errno(err, "set up %s", path);
}

/*
 * With "tty" the console is a terminal as on a serial login: echo, line
 * editing, ^C as SIGINT, CR to NL in and NL to CRNL out, all done here by
 * the guest's line discipline, like any serial console's.
 */
static int make_terminal(const struct lp_guest_spec *s, struct lp_err *err)
{
	struct winsize ws = { .ws_row = s->rows, .ws_col = s->cols };
	struct termios t;

	if (tcgetattr(console_fd, &t) < 0)
		return lp_fail_errno(err, "%s: terminal settings", LP_GUEST_CONSOLE_TTY);
	t.c_iflag = ICRNL | IXON | IUTF8 | BRKINT | IMAXBEL;
	t.c_oflag = OPOST | ONLCR;
	t.c_lflag = ISIG | ICANON | IEXTEN | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE;
	t.c_cflag |= CLOCAL | CREAD;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(console_fd, TCSANOW, &t) < 0)
		return lp_fail_errno(err, "%s: terminal settings", LP_GUEST_CONSOLE_TTY);
	if (ws.ws_row && ws.ws_col && ioctl(console_fd, TIOCSWINSZ, &ws) < 0)
		return lp_fail_errno(err, "%s: terminal size", LP_GUEST_CONSOLE_TTY);
	return 0;
}

/* The entrypoint joins CGROUP_CT itself, before its exec; we stay in the root. */
static int setup_pids_limit(long long max, struct lp_err *err)
{
	char value[32];

	if (mount_one(&cgroup_mount, err) < 0)
		return -1;
	if (lp_write_file(CGROUP_ROOT "/cgroup.subtree_control", "+pids", 5, err) < 0)
		return -1;
	if (mkdir(CGROUP_CT, 0755) < 0 && errno != EEXIST)
		return lp_fail_errno(err, "mkdir %s", CGROUP_CT);
	snprintf(value, sizeof(value), "%lld", max);
	return lp_write_file(CGROUP_CT "/pids.max", value, strlen(value), err);
}


/* Everything before the entrypoint; err says what failed. */
static int setup(struct lp_guest_spec *spec, int *control_fd, int *sfd, struct lp_err *err)
{
	sigset_t all;

	/* Mounting /dev opens nothing, so stdio is filled before anything else is opened. */
	if (mount_one(&api_mounts[0], err) < 0 || fill_std_fds(err) < 0 ||
	    mount_api_filesystems(err) < 0)
		return -1;
	/* Early, so that the errors below reach the container's logs. */
	console_fd = open_raw_tty(LP_GUEST_CONSOLE_TTY, false, err);
	if (console_fd < 0 || lp_guest_spec_load(spec, LP_GUEST_SPEC, err) < 0)
		return -1;
	/* A non-root entrypoint may reopen its stdio (/dev/stdout): let it, as runc does. */
	if (fchown(console_fd, spec->uid, spec->gid) < 0)
		return lp_fail_errno(err, "chown %s", LP_GUEST_CONSOLE_TTY);
	if (spec->tty && make_terminal(spec, err) < 0)
		return -1;
	if (spec->hostname && *spec->hostname &&
	    sethostname(spec->hostname, strlen(spec->hostname)) < 0)
		return lp_fail_errno(err, "sethostname %s", spec->hostname);
	*control_fd = open_raw_tty(LP_GUEST_CONTROL_TTY, true, err);
	if (*control_fd < 0)
		return -1;
	if (spec->pids && setup_pids_limit(spec->pids, err) < 0)
		return -1;
	sigfillset(&all);
	*sfd = signalfd(-1, &all, SFD_NONBLOCK | SFD_CLOEXEC);
	if (*sfd < 0)
		return lp_fail_errno(err, "signalfd");
	return 0;
}

/* ---------------------------------------------------------------- the entrypoint */

enum start_step { STEP_SESSION, STEP_CGROUP, STEP_STDIO, STEP_CWD, STEP_IDS, STEP_EXEC };

/* What the entrypoint's process sends back when it cannot exec. */
struct start_failure {
	int step;
	int code;
};

static _Noreturn void start_failed(int report_fd, enum start_step step)
{
	struct start_failure f = { step, errno };

	/* Should this fail too, the init sees the exec as done and reports exit 127. */
	(void)lp_write_all(report_fd, &f, sizeof(f));
	_exit(127);
}

static int join_cgroup(void)
{
	cleanup_fd int fd = open(CGROUP_CT "/cgroup.procs", O_WRONLY | O_CLOEXEC);

	return fd < 0 ? -1 : lp_write_all(fd, "0", 1);
}

/*
 * In the new process: its own session, the limit, the console as stdio;
 * the directory is entered while still root (as runc does when it can),
 * then the spec's ids; the environment is exactly the spec's, and its PATH
 * is the one execvp searches.
 */
static _Noreturn void run_entrypoint(const struct lp_guest_spec *s, int report_fd)
{
	lp_signals_reset();
	if (setsid() < 0)
		start_failed(report_fd, STEP_SESSION);
	/* Its controlling terminal: ^C and job control reach its foreground job. */
	if (s->tty && ioctl(console_fd, TIOCSCTTY, 0) < 0)
		start_failed(report_fd, STEP_SESSION);
	if (s->pids && join_cgroup() < 0)
		start_failed(report_fd, STEP_CGROUP);
	if (dup2(console_fd, STDIN_FILENO) < 0 || dup2(console_fd, STDOUT_FILENO) < 0 ||
	    dup2(console_fd, STDERR_FILENO) < 0)
		start_failed(report_fd, STEP_STDIO);
	if (chdir(s->cwd) < 0)
		start_failed(report_fd, STEP_CWD);
	if (setgroups(s->n_groups, s->n_groups ? s->groups : NULL) < 0 || setgid(s->gid) < 0 ||
	    setuid(s->uid) < 0)
		start_failed(report_fd, STEP_IDS);
	environ = s->env;
	execvp(s->argv[0], s->argv);
	start_failed(report_fd, STEP_EXEC);
}

static int start_error(const struct lp_guest_spec *s, const struct start_failure *f,
		       struct lp_err *err)
{
	errno = f->code;
	switch (f->step) {
	case STEP_SESSION:
		return lp_fail_errno(err, "setsid");
	case STEP_CGROUP:
		return lp_fail_errno(err, "join %s", CGROUP_CT);
	case STEP_STDIO:
		return lp_fail_errno(err, "stdio on %s", LP_GUEST_CONSOLE_TTY);
	case STEP_CWD:
		return lp_fail_errno(err, "chdir %s", s->cwd);
	case STEP_IDS:
		return lp_fail_errno(err, "set uid %u gid %u and %zu groups", (unsigned int)s->uid,
				     (unsigned int)s->gid, s->n_groups);
	default:
		return lp_fail_errno(err, "exec %s", s->argv[0]);
	}
}

/*
 * Fork the entrypoint and wait for its exec: a CLOEXEC pipe closes at a
 * successful one, or carries why it failed.  The pid, or -1 with err.
 */
static pid_t start_entrypoint(const struct lp_guest_spec *s, struct lp_err *err)
{
	struct start_failure f;
	int report[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(report, O_CLOEXEC) < 0)
		return lp_fail_errno(err, "pipe");
	pid = fork();
	if (pid < 0) {
		lp_fail_errno(err, "fork");
		close(report[0]);
		close(report[1]);
		return -1;
	}
	if (pid == 0) {
		close(report[0]);
		run_entrypoint(s, report[1]);
	}
	close(report[1]);
	do
		n = read(report[0], &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n != (ssize_t)sizeof(f))
		return pid;
	/* Collected here, so that its exit 127 is not taken for the entrypoint's. */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return start_error(s, &f, err);
}

/* ---------------------------------------------------------------- PID 1 at work */

static void reap(pid_t child)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (pid == child)
			report_end(status_value(status));
}

/*
 * Signals sent to us go to the entrypoint; SIGCHLD means someone to reap.
 * kill() may fail when the entrypoint has just exited: its SIGCHLD is
 * queued behind and ends the VM.
 */
static void handle_signals(pid_t child, int sfd)
{
	struct signalfd_siginfo si[16];
	ssize_t n = read(sfd, si, sizeof(si));

	for (ssize_t i = 0; n > 0 && i < n / (ssize_t)sizeof(*si); i++) {
		if (si[i].ssi_signo == SIGCHLD)
			reap(child);
		else
			kill(child, (int)si[i].ssi_signo);
	}
}

/* A resize escape from the host, taken in as its bytes come (a read may split it). */
struct resize {
	unsigned char b[LP_GUEST_RESIZE_LEN];
	size_t have;		/* 0: not in one */
};

static void resize_byte(struct resize *r, unsigned char c)
{
	struct winsize ws = { 0 };

	r->b[r->have++] = c;
	if (r->have < LP_GUEST_RESIZE_LEN)
		return;
	r->have = 0;
	ws.ws_row = (unsigned short)(((r->b[1] & 0x3f) << 6) | (r->b[2] & 0x3f));
	ws.ws_col = (unsigned short)(((r->b[3] & 0x3f) << 6) | (r->b[4] & 0x3f));
	/* The kernel tells the terminal's foreground job (SIGWINCH). */
	if (ws.ws_row && ws.ws_col && ioctl(console_fd, TIOCSWINSZ, &ws) < 0)
		say("%s: terminal size: %s", LP_GUEST_CONSOLE_TTY, strerror(errno));
}

/*
 * Each byte from the host is a signal number, or part of a resize escape.
 * -1: the line is gone, stop watching it.
 */
static int forward_control(pid_t child, int fd)
{
	static struct resize resize;
	unsigned char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		say("read %s: %s: no more signals from the host", LP_GUEST_CONTROL_TTY,
		    n ? strerror(errno) : "hung up");
		return -1;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (resize.have || buf[i] == LP_GUEST_RESIZE)
			resize_byte(&resize, buf[i]);
		else if (buf[i] >= 1 && buf[i] <= 64)
			kill(child, buf[i]);
	}
	return 0;
}

/* Without poll (it cannot fail, but): no forwarding, still the entrypoint's end. */
static _Noreturn void wait_only(pid_t child)
{
	int status;
	pid_t pid;

	for (;;) {
		pid = waitpid(-1, &status, 0);
		if (pid == child)
			report_end(status_value(status));
		if (pid < 0 && errno != EINTR)
			report_end(LP_GUEST_EXIT_CODE(125));
	}
}

static _Noreturn void supervise(pid_t child, int sfd, int control_fd)
{
	struct pollfd fds[2] = {
		{ .fd = sfd, .events = POLLIN },
		{ .fd = control_fd, .events = POLLIN },
	};

	for (;;) {
		if (poll(fds, ARRAY_SIZE(fds), -1) < 0) {
			if (errno == EINTR)
				continue;
			say("poll: %s", strerror(errno));
			wait_only(child);
		}
		/* A negative fd is one poll() skips. */
		if (fds[1].revents && forward_control(child, control_fd) < 0)
			fds[1].fd = -1;
		if (fds[0].revents)
			handle_signals(child, sfd);
	}
}

int lp_guest_init_main(int argc, char **argv)
{
	struct lp_guest_spec spec = { 0 };
	struct lp_err err = { 0 };
	int control_fd = -1, sfd = -1;
	sigset_t all;
	pid_t child;

	(void)argc;
	(void)argv;
	/* From the start: they wait for the signalfd (PID 1 drops those it has no handler for). */
	sigfillset(&all);
	if (sigprocmask(SIG_BLOCK, &all, NULL) < 0)
		lp_fail_errno(&err, "block signals");
	else if (!setup(&spec, &control_fd, &sfd, &err) &&
		 (child = start_entrypoint(&spec, &err)) > 0)
		supervise(child, sfd, control_fd);
	say("%s", err.msg);
	report_end(LP_GUEST_EXIT_NOSTART | (uint32_t)(err.code > 0 ? err.code : EIO));
}
