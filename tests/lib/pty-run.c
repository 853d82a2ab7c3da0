// SPDX-License-Identifier: Apache-2.0
/*
 * pty-run [-w ROWSxCOLS] [-e SCRIPT] CMD [ARG...]: run CMD in a new session
 * whose controlling terminal is a new pty (its stdin, stdout and stderr) of
 * ROWS x COLS, print what it wrote there without carriage returns, and exit
 * with its status (128+N if signal N killed it).  The escape tests run
 * `limpet exec` this way, as an operator's shell would, to see whether the
 * container can type into that terminal (TIOCSTI): without -e, nothing else
 * ever types into it.
 *
 * SCRIPT plays the operator, one command a line, run while the output is
 * relayed ('#' lines and empty ones are skipped; TEXT is the rest of the line
 * after one space):
 *   expect TEXT   wait for TEXT in the output after what the last expect matched
 *   send TEXT     type TEXT, its \r \n \t \\ and \xNN decoded (\x03 is ctrl-c)
 *   resize R C    make the terminal R rows by C columns (CMD gets SIGWINCH)
 *   sleep MS      wait MS milliseconds
 *   eof           type ctrl-d
 * Output that never comes, or a process left holding the terminal, must fail
 * a test, not hang it: with -e, each expect or send, and then the end of CMD
 * and of the terminal, get PTY_RUN_TIMEOUT seconds (10), after which (or when
 * the terminal closes first) CMD's process group is killed, the output so far
 * goes to stderr for the test's log, and pty-run exits 124.  The boards have
 * no python3 and busybox has neither `script` nor `expect`: built static
 * (tests/lib/tap.sh, test_tool).
 */
#define _GNU_SOURCE 1
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_MAX (1 << 20)

enum op { OP_EXPECT, OP_SEND, OP_RESIZE, OP_SLEEP };

struct cmd {
	enum op op;
	const char *line, *arg; /* as written */
	const char *text; /* what send types */
	size_t len;
	unsigned long ms;
	struct winsize ws;
};

static int master;
static pid_t child;
static bool ended; /* the master read EIO: nothing holds the pty's other end any more */
/* The output without '\r' (its last LOG_MAX bytes, if more); expect looks past mark. */
static char out_log[LOG_MAX];
static size_t log_len, mark;

static int fail(const char *what)
{
	perror(what);
	return 125;
}

static int usage(void)
{
	fprintf(stderr, "usage: pty-run [-w ROWSxCOLS] [-e SCRIPT] CMD [ARG...]\n");
	return 2;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The milliseconds left until DEADLINE (now_ms's), for poll: -1 if there is no deadline. */
static int ms_left(long long deadline)
{
	long long ms = deadline - now_ms();

	if (deadline < 0)
		return -1;
	return ms < 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

__attribute__((format(printf, 1, 2))) static _Noreturn void give_up(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("pty-run: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fwrite(out_log, 1, log_len, stderr);
	if (log_len && out_log[log_len - 1] != '\n')
		fputc('\n', stderr);
	kill(-child, SIGKILL);
	exit(124);
}

/* The decimal number at S, up to MAX, in *V; what follows it, NULL if none. */
static const char *number(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return NULL;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno || *v > max ? NULL : end;
}

static bool size(const char *s, char sep, struct winsize *ws)
{
	unsigned long rows, cols;

	s = number(s, USHRT_MAX, &rows);
	if (!s || *s++ != sep || !(s = number(s, USHRT_MAX, &cols)) || *s || !rows || !cols)
		return false;
	ws->ws_row = (unsigned short)rows;
	ws->ws_col = (unsigned short)cols;
	return true;
}

static bool decode(struct cmd *c)
{
	static const char from[] = "rnt\\", to[] = "\r\n\t\\";
	const char *s, *e;
	char *t = malloc(strlen(c->arg) + 1), hex[3] = "";

	if (!t)
		exit(fail("pty-run: malloc"));
	for (c->text = t, s = c->arg; *s; s++) {
		if (*s != '\\') {
			*t++ = *s;
		} else if (*++s && (e = strchr(from, *s))) {
			*t++ = to[e - from];
		} else if (*s == 'x' && isxdigit((unsigned char)s[1]) &&
			   isxdigit((unsigned char)s[2])) {
			memcpy(hex, s + 1, 2);
			*t++ = (char)strtoul(hex, NULL, 16);
			s += 2;
		} else {
			return false;
		}
	}
	c->len = (size_t)(t - c->text);
	return true;
}

/* All of SCRIPT is checked before CMD starts: a typo fails at once, not halfway. */
static struct cmd *parse(char *script, size_t *n)
{
	struct cmd *cmds = calloc(strlen(script) + 1, sizeof(*cmds)), *c;
	const char *end;
	char *line = NULL, *arg;
	int lineno;

	for (lineno = 1; cmds && (line = strsep(&script, "\n")); lineno++) {
		line += strspn(line, " \t");
		if (!*line || *line == '#')
			continue;
		c = &cmds[(*n)++];
		if (!(c->line = strdup(line)))
			break;
		if ((arg = strchr(line, ' ')))
			*arg++ = '\0';
		c->arg = arg;
		if (!strcmp(line, "expect") && arg && *arg) {
			c->op = OP_EXPECT;
		} else if (!strcmp(line, "send") && arg && decode(c)) {
			c->op = OP_SEND;
		} else if (!strcmp(line, "eof") && (!arg || !*arg)) {
			c->op = OP_SEND;
			c->text = "\x04";
			c->len = 1;
		} else if (!strcmp(line, "resize") && arg && size(arg, ' ', &c->ws)) {
			c->op = OP_RESIZE;
		} else if (!strcmp(line, "sleep") && arg && (end = number(arg, 86400000, &c->ms)) &&
			   !*end) {
			c->op = OP_SLEEP;
		} else {
			fprintf(stderr, "pty-run: -e line %d: no such command: %s\n", lineno,
				c->line);
			exit(2);
		}
	}
	if (!cmds || line)
		exit(fail("pty-run: malloc"));
	return cmds;
}

/*
 * Waits for the pty until DEADLINE (-1: no limit), relays what CMD wrote to
 * stdout and the log, and writes what the pty takes of *OUT's *LEFT bytes.
 */
static void step(long long deadline, const char **out, size_t *left)
{
	struct pollfd pfd = { .fd = master, .events = left && *left ? POLLIN | POLLOUT : POLLIN };
	char buf[4096];
	ssize_t n, i, j;

	if (poll(&pfd, 1, ms_left(deadline)) < 0) {
		if (errno == EINTR)
			return;
		exit(fail("pty-run: poll"));
	}
	if (pfd.revents & POLLOUT) {
		n = write(master, *out, *left);
		if (n > 0) {
			*out += n;
			*left -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR && errno != EIO) {
			exit(fail("pty-run: write"));
		}
	}
	if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	n = read(master, buf, sizeof(buf));
	if (n == 0 || (n < 0 && errno == EIO))
		ended = true;
	if (n < 0 && errno != EIO && errno != EAGAIN && errno != EINTR)
		exit(fail("pty-run: read"));
	for (i = j = 0; i < n; i++)
		if (buf[i] != '\r')
			buf[j++] = buf[i];
	if (j <= 0)
		return;
	if (fwrite(buf, 1, (size_t)j, stdout) != (size_t)j)
		exit(fail("pty-run: stdout"));
	if (log_len + (size_t)j > LOG_MAX) {
		memmove(out_log, out_log + LOG_MAX / 2, log_len - LOG_MAX / 2);
		log_len -= LOG_MAX / 2;
		mark = mark > LOG_MAX / 2 ? mark - LOG_MAX / 2 : 0;
	}
	memcpy(out_log + log_len, buf, (size_t)j);
	log_len += (size_t)j;
}

static void run(const struct cmd *c, long long timeout)
{
	long long deadline = now_ms() + (c->op == OP_SLEEP ? (long long)c->ms : timeout);
	const char *out = c->text, *hit;
	size_t left = c->len;
	bool late;

	if (c->op == OP_RESIZE) {
		if (ioctl(master, TIOCSWINSZ, &c->ws) < 0)
			exit(fail("pty-run: resize"));
		return;
	}
	for (;; step(deadline, &out, &left)) {
		hit = c->op != OP_EXPECT ? NULL :
			memmem(out_log + mark, log_len - mark, c->arg, strlen(c->arg));
		if (hit)
			mark = (size_t)(hit - out_log) + strlen(c->arg);
		late = !ms_left(deadline);
		if (hit || (c->op == OP_SEND && !left) || (c->op == OP_SLEEP && (ended || late)))
			return;
		if (ended)
			give_up("the terminal closed during \"%s\"", c->line);
		if (late && c->op == OP_EXPECT)
			give_up("timed out waiting for \"%s\"", c->arg);
		if (late)
			give_up("timed out at \"%s\"", c->line);
	}
}

/* Whether SIGCHLD (or another signal) comes before DEADLINE. */
static bool sigchld_by(const sigset_t *chld, long long deadline)
{
	int ms = ms_left(deadline);
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L };

	return ms > 0 && (sigtimedwait(chld, NULL, &ts) >= 0 || errno != EAGAIN);
}

int main(int argc, char **argv)
{
	struct winsize ws = { 0 };
	struct cmd *cmds = NULL;
	char *script = NULL;
	const char *slave, *env, *end;
	unsigned long secs = 10;
	long long deadline = -1;
	size_t ncmds = 0, i;
	sigset_t chld, old;
	int opt, fd, status;
	pid_t pid;

	/* A test waits for what a running session has shown so far: no buffering. */
	setvbuf(stdout, NULL, _IONBF, 0);

	while ((opt = getopt(argc, argv, "+w:e:")) != -1) {
		if (opt == 'w' && size(optarg, 'x', &ws))
			continue;
		if (opt != 'e')
			return usage();
		script = optarg;
	}
	if (optind >= argc)
		return usage();
	env = getenv("PTY_RUN_TIMEOUT");
	if (env && *env && (!(end = number(env, 86400, &secs)) || *end || !secs)) {
		fprintf(stderr, "pty-run: PTY_RUN_TIMEOUT=%s: not a number of seconds\n", env);
		return 2;
	}
	if (script)
		cmds = parse(script, &ncmds);
	/* An ignored SIGCHLD would reap CMD itself; a blocked one waits for sigtimedwait. */
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
		return fail("pty-run: a new pty");
	slave = ptsname(master);
	if (!slave)
		return fail("pty-run: ptsname");
	if (ws.ws_row && ioctl(master, TIOCSWINSZ, &ws) < 0)
		return fail("pty-run: -w");
	child = fork();
	if (child < 0)
		return fail("pty-run: fork");
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (setsid() < 0)
			_exit(fail("pty-run: setsid"));
		fd = open(slave, O_RDWR);
		if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0)
			_exit(fail(slave));
		if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(fail("pty-run: dup2"));
		if (fd > 2)
			close(fd);
		execvp(argv[optind], argv + optind);
		_exit(fail(argv[optind]));
	}
	for (i = 0; i < ncmds; i++)
		run(&cmds[i], (long long)secs * 1000);
	/* Until every holder of the pty's other end is gone (EIO), and CMD with them. */
	if (script)
		deadline = now_ms() + (long long)secs * 1000;
	while (!ended) {
		if (!ms_left(deadline))
			give_up("timed out waiting for the command to end");
		step(deadline, NULL, NULL);
	}
	if (fflush(stdout) != 0)
		return fail("pty-run: stdout");
	while ((pid = waitpid(child, &status, script ? WNOHANG : 0)) <= 0) {
		if (pid < 0 && errno != EINTR)
			return fail("pty-run: waitpid");
		if (pid == 0 && !sigchld_by(&chld, deadline))
			give_up("timed out waiting for the command to end");
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
