/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A running container's terminal as its supervisor holds it: its output
 * goes to the operator of a foreground run or to the container's log, and
 * to every `limpet attach` session; the sessions' input and sizes go to it.
 *
 * A session is one end of a SOCK_SEQPACKET pair, handed to the client over
 * the control socket.  Packets, LP_CONSOLE_PACKET_MAX bytes at most, start
 * with their kind:
 *   'd' + bytes        both ways: the terminal's output, the operator's input
 *   'w' + rows, cols   client to agent: its terminal's size (two uint16 each)
 *   'x' + status       agent to client: the container ended (int32), then EOF
 * A client detaches by closing its end.  One that does not keep up with the
 * output is dropped, never waited for: nothing a client does can hold up
 * the container, its log or the agent.
 */
#ifndef LIMPET_DAEMON_CONSOLE_H
#define LIMPET_DAEMON_CONSOLE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "agent/daemon/relay.h"
#include "platform/lib/err.h"

#define LP_CONSOLE_PACKET_MAX (1 + LP_RELAY_BUF)
#define LP_CONSOLE_SESSIONS_MAX 8
#define LP_CONSOLE_FDS (LP_RELAY_FDS + LP_CONSOLE_SESSIONS_MAX)
/* What a session may fall behind by before it is let go (the kernel doubles it). */
#define LP_CONSOLE_SESSION_BUF (64 * 1024)

struct lp_console {
	const char *name;	/* the container's, for the log; not owned */
	struct lp_relay relay;
	int out_owned;		/* the log file we write to and close, or -1 */
	int sessions[LP_CONSOLE_SESSIONS_MAX];
	size_t n_sessions;
	bool open;
};

/*
 * Hold the terminal master (taken over): output to out (out_owned: a file of
 * ours to close at the end, else the operator's), input from in (-1: none
 * but the sessions').
 */
int lp_console_start(struct lp_console *c, const char *name, int master, int in, int out,
		     bool out_owned, struct lp_err *err);
/* What to wait for (at most LP_CONSOLE_FDS); none when it is not open. */
size_t lp_console_pollfds(const struct lp_console *c, struct pollfd *p);
/* Act on the poll's answer for those fds. */
void lp_console_events(struct lp_console *c, const struct pollfd *p, size_t n);
/* The operator's terminal changed size. */
void lp_console_resize(struct lp_console *c);
/*
 * A new session, its terminal resized to rows x cols (0: left as it is);
 * the client's end of it, or -1 with err (EBUSY: too many).
 */
int lp_console_attach(struct lp_console *c, unsigned short rows, unsigned short cols,
		      struct lp_err *err);
/* The container ended with status: the rest of its output, then the status to each session. */
void lp_console_end(struct lp_console *c, int status);
/* Let go of everything at once (a forked process that is not the supervisor). */
void lp_console_close(struct lp_console *c);

#endif
