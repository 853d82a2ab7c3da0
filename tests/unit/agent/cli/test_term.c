// SPDX-License-Identifier: Apache-2.0
/* The operator's terminal: detach keys as Docker reads them, raw mode and size on a real pty. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/cli/term.h"
#include "agent/daemon/relay.h"

static struct lp_detach_keys parsed(const char *spec)
{
	struct lp_detach_keys k = { .len = 0 };
	struct lp_err err = { 0 };

	if (lp_detach_keys_parse(spec, &k, &err) < 0)
		fail_msg("%s: %s", spec, err.msg);
	return k;
}

static void assert_seq(const char *spec, const char *want, size_t len)
{
	struct lp_detach_keys k = parsed(spec);

	assert_int_equal(k.len, len);
	assert_memory_equal(k.seq, want, len);
	assert_int_equal(k.matched, 0);
}

static void test_parse(void **state)
{
	(void)state;
	assert_seq(NULL, "\x10\x11", 2);
	assert_seq("", "\x10\x11", 2);
	assert_seq("ctrl-p,ctrl-q", "\x10\x11", 2);
	assert_seq("ctrl-a,x", "\x01x", 2);
	assert_seq("ctrl-@", "\0", 1);
	assert_seq("ctrl-[", "\x1b", 1);
	assert_seq("ctrl-\\,ctrl-],ctrl-^,ctrl-_,ctrl-z", "\x1c\x1d\x1e\x1f\x1a", 5);
	assert_seq("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p", "abcdefghijklmnop", 16);
}

static void assert_refused(const char *spec, const char *msg)
{
	struct lp_detach_keys k = parsed("x");
	struct lp_err err = { 0 };

	assert_int_equal(lp_detach_keys_parse(spec, &k, &err), -1);
	assert_int_equal(err.code, EINVAL);
	assert_string_equal(err.msg, msg);
	/* a refusal leaves what was there */
	assert_int_equal(k.len, 1);
	assert_int_equal(k.seq[0], 'x');
}

static void test_parse_refusals(void **state)
{
	(void)state;
	assert_refused("ctrl-1", "detach keys 'ctrl-1': not a-z or ctrl-[a-z@[\\]^_]");
	assert_refused("AB", "detach keys 'AB': not a-z or ctrl-[a-z@[\\]^_]");
	assert_refused("A", "detach keys 'A': not a-z or ctrl-[a-z@[\\]^_]");
	/* case-sensitive, as Docker */
	assert_refused("ctrl-P", "detach keys 'ctrl-P': not a-z or ctrl-[a-z@[\\]^_]");
	assert_refused("ctrl-", "detach keys 'ctrl-': not a-z or ctrl-[a-z@[\\]^_]");
	assert_refused("ctrl-ab", "detach keys 'ctrl-ab': not a-z or ctrl-[a-z@[\\]^_]");
	/* an empty key: a list that is only a comma, or one with a comma too many */
	assert_refused(",", "detach keys '': not a-z or ctrl-[a-z@[\\]^_]");
	assert_refused("a,", "detach keys '': not a-z or ctrl-[a-z@[\\]^_]");
	assert_refused("a,,b", "detach keys '': not a-z or ctrl-[a-z@[\\]^_]");
	assert_refused("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q",
		       "detach keys 'a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q': more than 16 keys");
}

/* Feeds in (a string literal, NULs and all) and compares what goes out. */
#define FEED(k, in, want, detach)                                                    \
	do {                                                                         \
		unsigned char out_[sizeof(in) - 1 + LP_DETACH_KEYS_MAX];             \
		size_t n_ = 12345;                                                   \
		assert_int_equal(lp_detach_keys_feed(k, (const unsigned char *)(in), \
						     sizeof(in) - 1, out_, &n_),     \
				 detach);                                            \
		assert_int_equal(n_, sizeof(want) - 1);                              \
		assert_memory_equal(out_, want, sizeof(want) - 1);                   \
	} while (0)

static void test_feed(void **state)
{
	struct lp_detach_keys k = parsed(NULL);

	(void)state;
	FEED(&k, "hello\r", "hello\r", false);
	/* ^P then something else: both reach the container */
	FEED(&k, "\x10x", "\x10x", false);
	assert_int_equal(k.matched, 0);
	FEED(&k, "\x10\x11", "", true);
	assert_int_equal(k.matched, 0);
	/* what came before goes out; what follows is dropped */
	FEED(&k, "ab\x10\x11zz", "ab", true);
	/* the second ^P fails the first match and starts the next */
	FEED(&k, "\x10\x10\x11", "\x10", true);
	FEED(&k, "\x10\x10\x10x", "\x10\x10\x10x", false);
	FEED(&k, "", "", false);
}

static void test_feed_split(void **state)
{
	struct lp_detach_keys k = parsed(NULL);

	(void)state;
	FEED(&k, "a\x10", "a", false);
	assert_int_equal(k.matched, 1);
	FEED(&k, "\x11", "", true);
	assert_int_equal(k.matched, 0);
	/* a held ^P goes out ahead of the byte that proves it was not a detach */
	FEED(&k, "\x10", "", false);
	FEED(&k, "y", "\x10y", false);
	FEED(&k, "\x10", "", false);
	FEED(&k, "\x10", "\x10", false);
	FEED(&k, "\x11", "", true);
}

static void test_feed_other_sequences(void **state)
{
	struct lp_detach_keys k = parsed("x");

	(void)state;
	FEED(&k, "abc", "abc", false);
	FEED(&k, "abxc", "ab", true);
	FEED(&k, "x", "", true);
	/* a sequence that repeats itself: the tail of a failed match may begin it */
	k = parsed("a,a,b");
	FEED(&k, "aaab", "a", true);
	FEED(&k, "aa", "", false);
	FEED(&k, "a", "a", false);
	FEED(&k, "a", "a", false);
	FEED(&k, "b", "", true);
	k = parsed("a,b,a,c");
	FEED(&k, "ababac", "ab", true);
	FEED(&k, "abaxabac", "abax", true);
	/* ctrl-@: NUL is a key like any other */
	k = parsed("ctrl-@,q");
	FEED(&k, "\0\0q", "\0", true);
}

/* A new pty: its master, and its slave in *slave (neither our controlling terminal). */
static int open_pty(int *slave)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	const char *name;

	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	name = ptsname(master);
	assert_non_null(name);
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(*slave >= 0);
	return master;
}

/* What fn says of a pipe, which is no tty. */
static void assert_not_tty(int (*fn)(int fd, struct lp_err *err))
{
	struct lp_err err = { 0 };
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(fn(p[0], &err), -1);
	assert_int_equal(err.code, ENOTTY);
	assert_string_equal(err.msg, "the input device is not a TTY");
	close(p[0]);
	close(p[1]);
}

static void test_check(void **state)
{
	struct lp_err err = { 0 };
	int master, slave;

	(void)state;
	assert_not_tty(lp_term_check);
	/* a tty, though not our controlling terminal: taken, as Docker would */
	master = open_pty(&slave);
	assert_int_equal(lp_term_check(slave, &err), 0);
	close(slave);
	close(master);
}

/*
 * On a controlling terminal: its foreground group may take it, a
 * background group may not.  In a child of our own, in a session of its
 * own, so that our terminal (if any) is not touched.
 */
static int check_in_session(void)
{
	struct lp_err err = { 0 };
	int master, slave, status;
	pid_t pid;

	if (setsid() < 0)
		return 10;
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) || unlockpt(master) || !ptsname(master))
		return 11;
	slave = open(ptsname(master), O_RDWR);
	if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
		return 12;
	if (lp_term_check(slave, &err) != 0)
		return 13;
	pid = fork();
	if (pid < 0)
		return 14;
	if (pid == 0) {
		if (setpgid(0, 0) < 0)
			_exit(20);
		if (lp_term_check(slave, &err) != -1 || err.code != EBUSY ||
		    strcmp(err.msg, "not in the foreground of this terminal"))
			_exit(21);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 15;
	return WEXITSTATUS(status);
}

static void test_check_foreground(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(check_in_session());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_raw(void **state)
{
	struct lp_err err = { 0 };
	struct termios t;
	int master, slave;

	(void)state;
	/* before any raw mode there is nothing to restore */
	lp_term_restore();
	assert_not_tty(lp_term_raw);

	master = open_pty(&slave);
	assert_int_equal(tcgetattr(slave, &t), 0);
	assert_true(t.c_lflag & ICANON);
	assert_true(t.c_lflag & ECHO);
	assert_int_equal(lp_term_raw(slave, &err), 0);
	assert_int_equal(tcgetattr(slave, &t), 0);
	assert_false(t.c_lflag & (ICANON | ECHO | ISIG));
	assert_false(t.c_oflag & OPOST);
	/* raw once more must not save the raw settings as the ones to restore */
	assert_int_equal(lp_term_raw(slave, &err), 0);
	lp_term_restore();
	assert_int_equal(tcgetattr(slave, &t), 0);
	assert_true(t.c_lflag & ICANON);
	assert_true(t.c_lflag & ECHO);
	assert_true(t.c_oflag & OPOST);
	/* again, and once more after: the second is a no-op */
	errno = EXDEV;
	lp_term_restore();
	assert_int_equal(errno, EXDEV);
	/* and raw again after a restore */
	assert_int_equal(lp_term_raw(slave, &err), 0);
	assert_int_equal(tcgetattr(slave, &t), 0);
	assert_false(t.c_lflag & ICANON);
	lp_term_restore();
	assert_int_equal(tcgetattr(slave, &t), 0);
	assert_true(t.c_lflag & ICANON);
	close(slave);
	close(master);
}

/* The size a -t command starts with (agent/daemon/relay.c, which the supervisor shares). */
static void test_size(void **state)
{
	struct winsize ws = { .ws_row = 42, .ws_col = 132 };
	unsigned short rows = 1, cols = 1;
	int p[2], master, slave;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_false(lp_relay_size(p[0], -1, &rows, &cols));
	close(p[0]);
	close(p[1]);
	master = open_pty(&slave);
	/* a fresh pty is 0x0: no size to pass on */
	assert_false(lp_relay_size(slave, -1, &rows, &cols));
	assert_int_equal(ioctl(master, TIOCSWINSZ, &ws), 0);
	assert_true(lp_relay_size(slave, -1, &rows, &cols));
	assert_int_equal(rows, 42);
	assert_int_equal(cols, 132);
	/* a pipe first (input redirected): the other, a terminal, gives the size */
	assert_int_equal(pipe(p), 0);
	rows = cols = 1;
	assert_true(lp_relay_size(p[0], slave, &rows, &cols));
	assert_int_equal(rows, 42);
	close(p[0]);
	close(p[1]);
	close(slave);
	close(master);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_feed),
		cmocka_unit_test(test_feed_split),
		cmocka_unit_test(test_feed_other_sequences),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_check_foreground),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
