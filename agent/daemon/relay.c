// SPDX-License-Identifier: Apache-2.0
#include "agent/daemon/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "platform/lib/util.h"

int lp_relay_init(struct lp_relay *r, int in, int out, int remote)
{
	int fl = fcntl(remote, F_GETFL);

	*r = (struct lp_relay){ .in = in, .out = out, .remote = remote };
	/* Ours alone: a full terminal must never block the loop that drives us. */
	if (fl < 0 || fcntl(remote, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

size_t lp_relay_pollfds(const struct lp_relay *r, struct pollfd *p)
{
	size_t n = 0;

	if (r->remote_done)
		return 0;
	/* Input is read only when the terminal took the last of it: the typist waits, not us. */
	p[n++] = (struct pollfd){ .fd = r->remote,
				  .events = POLLIN | (r->pending_len ? POLLOUT : 0) };
	if (r->in >= 0 && !r->pending_len)
		p[n++] = (struct pollfd){ .fd = r->in, .events = POLLIN };
	return n;
}

static void flush_pending(struct lp_relay *r)
{
	while (r->pending_len) {
		ssize_t w = write(r->remote, r->pending + r->pending_off, r->pending_len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* EAGAIN: on the next POLLOUT; EIO: the hangup ends us */
		r->pending_off += (size_t)w;
		r->pending_len -= (size_t)w;
	}
	r->pending_off = 0;
}

/* One read of the terminal's output to the operator; false when there is no more. */
static bool copy_out(struct lp_relay *r)
{
	char buf[LP_RELAY_BUF];
	ssize_t n = read(r->remote, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return false;
	if (n <= 0) {
		/* EIO: the last holder of its other end closed it. */
		r->remote_done = true;
		return false;
	}
	/* A closed or broken output loses the rest; the container goes on regardless. */
	if (r->out >= 0)
		lp_write_all(r->out, buf, (size_t)n);
	if (r->tap)
		r->tap(r->tap_ctx, buf, (size_t)n);
	return true;
}

static void copy_in(struct lp_relay *r)
{
	ssize_t n = read(r->in, r->pending, sizeof(r->pending));

	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		/* Its end (not a terminal, or gone): the container keeps its own input open. */
		r->in = -1;
		return;
	}
	r->pending_off = 0;
	r->pending_len = (size_t)n;
	flush_pending(r);
}

bool lp_relay_input(struct lp_relay *r, const void *buf, size_t n)
{
	if (r->remote_done)
		return true; /* nobody left to read it */
	if (r->pending_len)
		return false;
	if (n > sizeof(r->pending))
		n = sizeof(r->pending);
	memcpy(r->pending, buf, n);
	r->pending_off = 0;
	r->pending_len = n;
	flush_pending(r);
	return true;
}

void lp_relay_events(struct lp_relay *r, const struct pollfd *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!p[i].revents)
			continue;
		if (p[i].fd == r->remote) {
			if (p[i].revents & POLLOUT)
				flush_pending(r);
			if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
				copy_out(r);
		} else if (p[i].fd == r->in) {
			copy_in(r);
		}
	}
}

bool lp_relay_size(int fd, int alt, unsigned short *rows, unsigned short *cols)
{
	struct winsize ws;

	if (fd < 0 || ioctl(fd, TIOCGWINSZ, &ws) < 0 || !ws.ws_row || !ws.ws_col)
		return alt >= 0 && lp_relay_size(alt, -1, rows, cols);
	*rows = ws.ws_row;
	*cols = ws.ws_col;
	return true;
}

void lp_relay_resize(const struct lp_relay *r)
{
	struct winsize ws = { 0 };

	if (lp_relay_size(r->in, r->out, &ws.ws_row, &ws.ws_col))
		ioctl(r->remote, TIOCSWINSZ, &ws);
}

void lp_relay_drain(struct lp_relay *r)
{
	while (!r->remote_done && copy_out(r))
		;
}
