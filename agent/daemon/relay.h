/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bytes between a container's terminal and the operator's (or, for a
 * detached container, its log file): one state machine that any poll loop
 * drives (exec's own, the supervisor's), so each keeps its other duties
 * (signals, the process's end).
 * The operator's descriptors stay blocking: O_NONBLOCK is a flag of the
 * file description, which the shell that started us shares.
 */
#ifndef LIMPET_DAEMON_RELAY_H
#define LIMPET_DAEMON_RELAY_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#define LP_RELAY_BUF 4096
#define LP_RELAY_FDS 2

struct lp_relay {
	int in, out;		/* the operator's input (or -1: none) and output */
	int remote;		/* the container's terminal (its pty master), made nonblocking */
	unsigned char pending[LP_RELAY_BUF];	/* input the terminal did not take yet */
	size_t pending_off, pending_len;
	bool remote_done;	/* hung up: every holder of its other end is gone */
	/* Handed each chunk of the terminal's output too (attach sessions), or NULL. */
	void (*tap)(void *ctx, const void *buf, size_t n);
	void *tap_ctx;
};

/* Relay between in/out and remote; in -1 when the container gets no input (-t without -i). */
int lp_relay_init(struct lp_relay *r, int in, int out, int remote);
/* Fill p with what to wait for (at most LP_RELAY_FDS); returns how many. */
size_t lp_relay_pollfds(const struct lp_relay *r, struct pollfd *p);
/* Act on what the poll said about the fds lp_relay_pollfds gave, in that order. */
void lp_relay_events(struct lp_relay *r, const struct pollfd *p, size_t n);
/*
 * Input from elsewhere (an attach session) for the terminal; false, taking
 * nothing, while earlier input still waits for it (lp_relay_busy).
 */
bool lp_relay_input(struct lp_relay *r, const void *buf, size_t n);
static inline bool lp_relay_busy(const struct lp_relay *r)
{
	return r->pending_len > 0;
}
/*
 * The size of the terminal on fd, else on alt (the operator's input, else
 * output); false when neither is one (or says 0x0).  -1 is no fd.
 */
bool lp_relay_size(int fd, int alt, unsigned short *rows, unsigned short *cols);
/* The operator's terminal changed size (SIGWINCH): the container's follows. */
void lp_relay_resize(const struct lp_relay *r);
/* After the container's process ended: what it wrote last, up to its terminal's end. */
void lp_relay_drain(struct lp_relay *r);

#endif
