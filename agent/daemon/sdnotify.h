/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The systemd notification protocol (sd_notify(3)) without libsystemd: one
 * datagram per message to $NOTIFY_SOCKET.  Outside systemd (no socket) every
 * call here does nothing, so the agent can call them unconditionally.
 */
#ifndef LIMPET_SDNOTIFY_H
#define LIMPET_SDNOTIFY_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/*
 * $NOTIFY_SOCKET: an absolute path, or "@name" for the abstract namespace.
 * Fills *sa and *len; -1 for anything else (unset, relative, too long).
 */
int lp_sd_parse_socket(const char *value, struct sockaddr_un *sa, socklen_t *len);

/*
 * $WATCHDOG_USEC and $WATCHDOG_PID (either may be NULL) as sd_watchdog_enabled(3)
 * reads them: the interval in microseconds, 0 when no watchdog is asked of
 * process self (no USEC, or PID names another process), -1 when malformed.
 */
int64_t lp_sd_parse_watchdog(const char *usec, const char *pid, pid_t self);

/*
 * Read the environment once and remove those variables from it, so that
 * what the agent forks (the updater, containers) cannot speak for it.
 */
void lp_sd_init(void);

/* Send msg ("READY=1", several lines allowed); 0 also when not under systemd. */
int lp_sd_notify(const char *msg);

/* STATUS=...; sent only when the text changed. */
void lp_sd_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Send WATCHDOG=1 if half the watchdog interval has passed since the last
 * one.  Returns the milliseconds until it is due again (the longest the
 * caller may sleep), or -1 when there is no watchdog.
 */
int lp_sd_watchdog(void);

#endif
