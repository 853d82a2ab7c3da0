// SPDX-License-Identifier: Apache-2.0
/* sd_notify without libsystemd: $NOTIFY_SOCKET, $WATCHDOG_USEC/PID, what is sent. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/daemon/sdnotify.h"

#define SUN_OFF offsetof(struct sockaddr_un, sun_path)

static void test_socket_path(void **state)
{
	struct sockaddr_un sa;
	socklen_t len = 0;

	assert_int_equal(lp_sd_parse_socket("/run/systemd/notify", &sa, &len), 0);
	assert_int_equal(sa.sun_family, AF_UNIX);
	assert_string_equal(sa.sun_path, "/run/systemd/notify");
	/* a path is passed with its NUL, as libsystemd does */
	assert_int_equal(len, SUN_OFF + strlen("/run/systemd/notify") + 1);
}

static void test_socket_abstract(void **state)
{
	struct sockaddr_un sa;
	socklen_t len = 0;

	assert_int_equal(lp_sd_parse_socket("@/org/freedesktop/systemd1/notify/42", &sa, &len), 0);
	assert_int_equal(sa.sun_path[0], '\0');
	assert_memory_equal(sa.sun_path + 1, "/org/freedesktop/systemd1/notify/42",
			    strlen("/org/freedesktop/systemd1/notify/42"));
	/* the leading NUL stands for '@'; no trailing NUL: it would be part of the name */
	assert_int_equal(len, SUN_OFF + strlen("@/org/freedesktop/systemd1/notify/42"));
}

static void test_socket_invalid(void **state)
{
	struct sockaddr_un sa;
	socklen_t len;
	char name[sizeof(sa.sun_path) + 2];

	assert_int_equal(lp_sd_parse_socket(NULL, &sa, &len), -1);
	assert_int_equal(lp_sd_parse_socket("", &sa, &len), -1);
	assert_int_equal(lp_sd_parse_socket("@", &sa, &len), -1);
	assert_int_equal(lp_sd_parse_socket("run/notify", &sa, &len), -1);
	assert_int_equal(lp_sd_parse_socket("vsock:2:1234", &sa, &len), -1);

	/* every byte of sun_path: too long for a path (no room for its NUL), right for a name */
	memset(name, 'x', sizeof(name));
	name[sizeof(sa.sun_path)] = '\0';
	name[0] = '/';
	assert_int_equal(lp_sd_parse_socket(name, &sa, &len), -1);
	name[0] = '@';
	assert_int_equal(lp_sd_parse_socket(name, &sa, &len), 0);
	assert_int_equal(len, sizeof(sa));
	/* one byte shorter is a path that fits */
	name[sizeof(sa.sun_path) - 1] = '\0';
	name[0] = '/';
	assert_int_equal(lp_sd_parse_socket(name, &sa, &len), 0);
	assert_int_equal(len, sizeof(sa));
	/* one byte longer fits neither */
	name[sizeof(sa.sun_path) - 1] = 'x';
	name[sizeof(sa.sun_path)] = 'x';
	name[sizeof(sa.sun_path) + 1] = '\0';
	name[0] = '@';
	assert_int_equal(lp_sd_parse_socket(name, &sa, &len), -1);
}

static void test_watchdog(void **state)
{
	pid_t me = 4242;

	assert_int_equal(lp_sd_parse_watchdog(NULL, NULL, me), 0);
	assert_int_equal(lp_sd_parse_watchdog(NULL, "4242", me), 0);
	assert_int_equal(lp_sd_parse_watchdog("30000000", NULL, me), 30000000);
	assert_int_equal(lp_sd_parse_watchdog("200000", "4242", me), 200000);
	/* set for the process that started us, not for us */
	assert_int_equal(lp_sd_parse_watchdog("200000", "4241", me), 0);
	assert_int_equal(lp_sd_parse_watchdog("18446744073709551615", NULL, me), -1);
	assert_int_equal(lp_sd_parse_watchdog("9223372036854775807", NULL, me), INT64_MAX);
}

static void test_watchdog_invalid(void **state)
{
	static const char *const bad_usec[] = { "", "0", "-1", "+5", " 5", "5 ", "5s", "0x10", "1e6",
						"99999999999999999999" };
	static const char *const bad_pid[] = { "", "0", "-1", "pid", "42x", "99999999999" };
	size_t i;

	for (i = 0; i < sizeof(bad_usec) / sizeof(bad_usec[0]); i++)
		if (lp_sd_parse_watchdog(bad_usec[i], NULL, 1) != -1)
			fail_msg("WATCHDOG_USEC=\"%s\" was accepted", bad_usec[i]);
	for (i = 0; i < sizeof(bad_pid) / sizeof(bad_pid[0]); i++)
		if (lp_sd_parse_watchdog("1000", bad_pid[i], 1) != -1)
			fail_msg("WATCHDOG_PID=\"%s\" was accepted", bad_pid[i]);
}

/* A datagram socket standing in for systemd's, bound to a temporary path. */
struct listener {
	char dir[64];
	char path[96];
	int fd;
};

static void listen_on(struct listener *l)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(l->dir, sizeof(l->dir), "/tmp/limpet-sd.XXXXXX");
	assert_non_null(mkdtemp(l->dir));
	snprintf(l->path, sizeof(l->path), "%s/notify", l->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->path);
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(l->fd >= 0);
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

static void listener_close(struct listener *l)
{
	close(l->fd);
	unlink(l->path);
	rmdir(l->dir);
}

/* The next datagram, or "" when none is waiting. */
static const char *next_msg(struct listener *l)
{
	static char buf[256];
	ssize_t n = recv(l->fd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_send(void **state)
{
	struct listener l;
	char pid[16];

	listen_on(&l);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("NOTIFY_SOCKET", l.path, 1);
	setenv("WATCHDOG_USEC", "60000000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	lp_sd_init();
	/* what the agent forks must not speak for it */
	assert_null(getenv("NOTIFY_SOCKET"));
	assert_null(getenv("WATCHDOG_USEC"));
	assert_null(getenv("WATCHDOG_PID"));

	assert_int_equal(lp_sd_notify("READY=1"), 0);
	assert_string_equal(next_msg(&l), "READY=1");

	/* due at once, then not before half the interval (30 s) */
	assert_in_range(lp_sd_watchdog(), 29000, 30000);
	assert_string_equal(next_msg(&l), "WATCHDOG=1");
	assert_in_range(lp_sd_watchdog(), 29000, 30000);
	assert_string_equal(next_msg(&l), "");

	lp_sd_status("%d containers running", 2);
	assert_string_equal(next_msg(&l), "STATUS=2 containers running");
	lp_sd_status("%d containers running", 2);
	assert_string_equal(next_msg(&l), "");
	lp_sd_status("%d containers running", 3);
	assert_string_equal(next_msg(&l), "STATUS=3 containers running");
	listener_close(&l);

	/* a socket that went away: an error (reported once), not a crash */
	assert_true(lp_sd_notify("STOPPING=1") < 0);
	assert_true(lp_sd_notify("STOPPING=1") < 0);
}

static void test_send_abstract(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char name[64], buf[32];
	socklen_t len;
	ssize_t n;
	int fd;

	snprintf(name, sizeof(name), "@limpet-test-sdnotify-%d", (int)getpid());
	assert_int_equal(lp_sd_parse_socket(name, &sa, &len), 0);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	setenv("NOTIFY_SOCKET", name, 1);
	unsetenv("WATCHDOG_USEC");
	lp_sd_init();
	assert_int_equal(lp_sd_notify("READY=1\nSTATUS=up"), 0);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_int_equal(n, strlen("READY=1\nSTATUS=up"));
	buf[n] = '\0';
	assert_string_equal(buf, "READY=1\nSTATUS=up");
	assert_int_equal(lp_sd_watchdog(), -1);
	close(fd);
}

static void test_outside_systemd(void **state)
{
	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "1000000", 1);
	unsetenv("WATCHDOG_PID");
	lp_sd_init();
	assert_int_equal(lp_sd_notify("READY=1"), 0);
	/* no socket to feed: no watchdog, so the loop may sleep as long as it likes */
	assert_int_equal(lp_sd_watchdog(), -1);
	lp_sd_status("ignored");
}

static void test_watchdog_other_pid(void **state)
{
	struct listener l;

	listen_on(&l);
	setenv("NOTIFY_SOCKET", l.path, 1);
	setenv("WATCHDOG_USEC", "1000000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	lp_sd_init();
	assert_int_equal(lp_sd_watchdog(), -1);
	assert_string_equal(next_msg(&l), "");
	listener_close(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_path),
		cmocka_unit_test(test_socket_abstract),
		cmocka_unit_test(test_socket_invalid),
		cmocka_unit_test(test_watchdog),
		cmocka_unit_test(test_watchdog_invalid),
		cmocka_unit_test(test_send),
		cmocka_unit_test(test_send_abstract),
		cmocka_unit_test(test_outside_systemd),
		cmocka_unit_test(test_watchdog_other_pid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
