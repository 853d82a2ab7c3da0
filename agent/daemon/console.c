// SPDX-License-Identifier: Apache-2.0
#include "agent/daemon/console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "platform/lib/util.h"

static void drop_session(struct lp_console *c, size_t i)
{
	close(c->sessions[i]);
	c->sessions[i] = c->sessions[--c->n_sessions];
}

/* A session that cannot take a packet now is a stopped or gone client: it is let go. */
static void send_all(struct lp_console *c, const void *pkt, size_t len)
{
	size_t i = 0;

	while (i < c->n_sessions) {
		if (send(c->sessions[i], pkt, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len) {
			i++;
			continue;
		}
		if (errno == EAGAIN)
			lp_say("limpet agent", "container %s: an attached terminal fell %d KiB behind "
					       "its output: let go",
			       c->name, LP_CONSOLE_SESSION_BUF / 1024);
		drop_session(c, i);
	}
}

static void tap_output(void *ctx, const void *buf, size_t n)
{
	struct lp_console *c = ctx;
	unsigned char pkt[LP_CONSOLE_PACKET_MAX];

	if (!c->n_sessions)
		return;
	pkt[0] = 'd';
	memcpy(pkt + 1, buf, n); /* n <= LP_RELAY_BUF: one read of the terminal */
	send_all(c, pkt, n + 1);
}

int lp_console_start(struct lp_console *c, const char *name, int master, int in, int out,
		     bool out_owned, struct lp_err *err)
{
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->out_owned = out_owned ? out : -1;
	if (lp_relay_init(&c->relay, in, out, master) < 0) {
		lp_fail_errno(err, "its terminal");
		close(master);
		if (out_owned)
			close(out);
		return -1;
	}
	c->relay.tap = tap_output;
	c->relay.tap_ctx = c;
	c->open = true;
	return 0;
}

size_t lp_console_pollfds(const struct lp_console *c, struct pollfd *p)
{
	size_t n, i;

	if (!c->open)
		return 0;
	n = lp_relay_pollfds(&c->relay, p);
	/* While the terminal has not taken the last input, the sessions' next must wait. */
	for (i = 0; i < c->n_sessions; i++)
		p[n++] = (struct pollfd){ .fd = c->sessions[i],
					  .events = lp_relay_busy(&c->relay) ? 0 : POLLIN };
	return n;
}

static void set_size(struct lp_console *c, unsigned short rows, unsigned short cols)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };

	if (rows && cols)
		ioctl(c->relay.remote, TIOCSWINSZ, &ws);
}

/* One packet from session i; false when it is gone (or broke the protocol). */
static bool from_session(struct lp_console *c, size_t i)
{
	unsigned char pkt[LP_CONSOLE_PACKET_MAX];
	uint16_t size[2];
	ssize_t n = recv(c->sessions[i], pkt, sizeof(pkt), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	if (pkt[0] == 'd' && n > 1) {
		/* Called only while the terminal is not busy: it takes all of it. */
		lp_relay_input(&c->relay, pkt + 1, (size_t)n - 1);
		return true;
	}
	if (pkt[0] == 'w' && n == 1 + (ssize_t)sizeof(size)) {
		memcpy(size, pkt + 1, sizeof(size));
		set_size(c, size[0], size[1]);
		return true;
	}
	return false;
}

void lp_console_events(struct lp_console *c, const struct pollfd *p, size_t n)
{
	size_t i, k;

	if (!c->open)
		return;
	lp_relay_events(&c->relay, p, n);
	for (i = 0; i < n; i++) {
		if (!p[i].revents)
			continue;
		for (k = 0; k < c->n_sessions; k++) {
			if (p[i].fd != c->sessions[k])
				continue;
			/* A busy terminal leaves input in the socket; a hangup ends the session now. */
			if (lp_relay_busy(&c->relay) && !(p[i].revents & (POLLHUP | POLLERR)))
				break;
			if (lp_relay_busy(&c->relay) || !from_session(c, k))
				drop_session(c, k);
			break;
		}
	}
}

void lp_console_resize(struct lp_console *c)
{
	if (c->open)
		lp_relay_resize(&c->relay);
}

int lp_console_attach(struct lp_console *c, unsigned short rows, unsigned short cols,
		      struct lp_err *err)
{
	struct winsize ws;
	int sv[2];

	if (!c->open || c->relay.remote_done)
		return lp_fail(err, EPIPE, "its terminal is closed");
	if (c->n_sessions == LP_CONSOLE_SESSIONS_MAX)
		return lp_fail(err, EBUSY, "%d sessions are attached already",
			       LP_CONSOLE_SESSIONS_MAX);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return lp_fail_errno(err, "attach: socketpair");
	/* The agent's memory for a client that stopped reading is bounded, and small. */
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &(int){ LP_CONSOLE_SESSION_BUF },
		       sizeof(int)) < 0) {
		close(sv[0]);
		close(sv[1]);
		return lp_fail_errno(err, "attach: socket buffer");
	}
	c->sessions[c->n_sessions++] = sv[0];
	/*
	 * A program learns of a new size only from SIGWINCH, which the kernel
	 * sends only for a change: one row more first, so that a shell redraws
	 * its prompt for the newcomer even at the same size.
	 */
	if (ioctl(c->relay.remote, TIOCGWINSZ, &ws) == 0) {
		if (!rows || !cols) {
			rows = ws.ws_row;
			cols = ws.ws_col;
		}
		set_size(c, rows + 1, cols);
		set_size(c, rows, cols);
	}
	return sv[1];
}

void lp_console_end(struct lp_console *c, int status)
{
	unsigned char pkt[1 + sizeof(int32_t)];
	int32_t st = status;

	if (!c->open)
		return;
	lp_relay_drain(&c->relay);
	pkt[0] = 'x';
	memcpy(pkt + 1, &st, sizeof(st));
	send_all(c, pkt, sizeof(pkt));
	lp_console_close(c);
}

void lp_console_close(struct lp_console *c)
{
	if (!c->open)
		return;
	while (c->n_sessions)
		drop_session(c, c->n_sessions - 1);
	close(c->relay.remote);
	if (c->out_owned >= 0)
		close(c->out_owned);
	c->open = false;
}
