/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A descriptor handed from one process to another over a Unix socket
 * (SCM_RIGHTS): how a container's terminal reaches the process that holds
 * it, and how the agent gives `limpet attach` its end of a session.
 */
#ifndef LIMPET_FDPASS_H
#define LIMPET_FDPASS_H

#include <stddef.h>

#include "platform/lib/err.h"

/* Send fd with the bytes msg[0..len) (at least one: a packet must carry data). */
int lp_fd_send(int sock, int fd, const void *msg, size_t len, struct lp_err *err);
/*
 * Receive one packet into msg (room for len bytes; *got set) and the
 * descriptor it carried as *fd (close-on-exec), -1 when it carried none.
 * 0 at end of stream with *got 0; -1 with err.  flags: MSG_DONTWAIT or 0.
 */
int lp_fd_recv(int sock, int flags, void *msg, size_t len, size_t *got, int *fd,
	       struct lp_err *err);

#endif
