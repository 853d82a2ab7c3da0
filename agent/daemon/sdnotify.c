// SPDX-License-Identifier: Apache-2.0
#include "agent/daemon/sdnotify.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform/lib/util.h"

static struct {
	struct sockaddr_un sa;
	socklen_t len;		/* 0: not under systemd */
	int64_t interval_ms;	/* WATCHDOG=1 this often; 0: no watchdog */
	int64_t next_ms;	/* monotonic time the next WATCHDOG=1 is due */
	char status[128];
	bool warned;
} sd;

int lp_sd_parse_socket(const char *value, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n;

	if (!value || (value[0] != '/' && value[0] != '@'))
		return -1;
	n = strlen(value);
	/* An abstract name needs no NUL, a path does; "@" alone names nothing. */
	if (n < 2 || n + (value[0] == '/') > sizeof(sa->sun_path))
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, value, n);
	if (value[0] == '@')
		sa->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (value[0] == '/'));
	return 0;
}

/* A decimal number, nothing around it, at most max; -1 otherwise. */
static int64_t parse_decimal(const char *s, unsigned long long max)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	return (int64_t)v;
}

int64_t lp_sd_parse_watchdog(const char *usec, const char *pid, pid_t self)
{
	int64_t v;

	if (!usec)
		return 0;
	if (pid) {
		v = parse_decimal(pid, INT32_MAX);
		if (v <= 0)
			return -1;
		/* Meant for a process that exec'd us, or forked us: not ours to feed. */
		if (v != (int64_t)self)
			return 0;
	}
	v = parse_decimal(usec, INT64_MAX);
	return v > 0 ? v : -1;
}

void lp_sd_init(void)
{
	int64_t usec;

	memset(&sd, 0, sizeof(sd));
	if (lp_sd_parse_socket(getenv("NOTIFY_SOCKET"), &sd.sa, &sd.len) < 0)
		sd.len = 0;
	usec = lp_sd_parse_watchdog(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"), getpid());
	if (usec < 0)
		lp_say("limpet agent", "WATCHDOG_USEC=%s: not a number of microseconds; no watchdog",
		       getenv("WATCHDOG_USEC"));
	if (sd.len && usec > 0) {
		/* Half the interval, as sd_watchdog_enabled(3) advises: never 0, fits a poll(). */
		sd.interval_ms = usec / 2000 > 0 ? usec / 2000 : 1;
		if (sd.interval_ms > INT_MAX)
			sd.interval_ms = INT_MAX;
		sd.next_ms = lp_now_ms();
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

int lp_sd_notify(const char *msg)
{
	int fd, rc = 0;

	if (!sd.len)
		return 0;
	/* A socket per message, like libsystemd: no descriptor for children to inherit. */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sd.sa,
			     sd.len) < 0) {
		rc = -errno;
		/* Once: a gone manager would otherwise fill the log every few seconds. */
		if (!sd.warned)
			lp_say("limpet agent", "notify systemd: %s", strerror(errno));
		sd.warned = true;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

void lp_sd_status(const char *fmt, ...)
{
	char text[sizeof(sd.status)], msg[sizeof(text) + 8];
	va_list ap;

	if (!sd.len)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (!strcmp(text, sd.status))
		return;
	snprintf(msg, sizeof(msg), "STATUS=%s", text);
	if (lp_sd_notify(msg) == 0)
		memcpy(sd.status, text, sizeof(text));
}

int lp_sd_watchdog(void)
{
	int64_t now;

	if (!sd.interval_ms)
		return -1;
	now = lp_now_ms();
	if (now >= sd.next_ms) {
		lp_sd_notify("WATCHDOG=1");
		sd.next_ms = now + sd.interval_ms;
	}
	return (int)(sd.next_ms - now);
}
