/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The operator's terminal for `run -it`, `exec -it` and `attach`: its detach
 * keys, and raw mode while a container owns it (its size: lp_relay_size).  Docker's rules,
 * so that hands used to Docker need not learn new ones.
 */
#ifndef LIMPET_CLI_TERM_H
#define LIMPET_CLI_TERM_H

#include <stdbool.h>
#include <stddef.h>

#include "platform/lib/err.h"

/*
 * Detach keys, Docker's syntax: a comma list of `a`-`z` or `ctrl-X` with X in
 * a-z @ [ \ ] ^ _ ; default "ctrl-p,ctrl-q".
 */
#define LP_DETACH_KEYS_MAX 16
struct lp_detach_keys {
	unsigned char seq[LP_DETACH_KEYS_MAX];
	size_t len;
	size_t matched;		/* how much of seq the input has matched so far (held back) */
};
/*
 * Parse spec (NULL or "" : the default ctrl-p,ctrl-q).  EINVAL with a message
 * naming the bad key, e.g. "detach keys 'ctrl-1': not a-z or ctrl-[a-z@[\\]^_]".
 */
int lp_detach_keys_parse(const char *spec, struct lp_detach_keys *k, struct lp_err *err);
/*
 * Pass n bytes of the operator's input through: what goes on to the
 * container is written to out (room for n + LP_DETACH_KEYS_MAX bytes) and its
 * length to *out_n.  Bytes that match a prefix of the sequence are held; on a
 * mismatch the held bytes go out followed by the new byte (so ctrl-p x
 * reaches the container as ^P x), except for a tail of them that begins the
 * sequence again, which stays held (ctrl-p ctrl-p ctrl-q detaches and sends
 * one ^P).  Returns true when the whole sequence was typed: out then holds
 * what came before it, and the rest of in is dropped; matched resets to 0.
 */
bool lp_detach_keys_feed(struct lp_detach_keys *k, const unsigned char *in, size_t n,
			 unsigned char *out, size_t *out_n);

/*
 * Put the terminal on fd in raw mode (cfmakeraw, TCSANOW), saving its
 * settings once: calling it again while raw keeps the first ones.
 * lp_term_restore puts them back (TCSADRAIN; safe to call many times, before
 * any raw mode, from atexit, from error paths and from a signal handler; it
 * keeps errno), and registers itself with atexit on first use.  -1 with err:
 * ENOTTY "the input device is not a TTY", EBUSY if another fd is raw already.
 */
int lp_term_raw(int fd, struct lp_err *err);
void lp_term_restore(void);
/*
 * Can we take over this terminal: is fd a tty and our process group its
 * foreground group (else tcsetattr would stop us with SIGTTOU)?  A tty that is
 * not our controlling terminal has no foreground for us and passes.  0, or -1
 * with err: ENOTTY "the input device is not a TTY", or EBUSY "not in the
 * foreground of this terminal".
 */
int lp_term_check(int fd, struct lp_err *err);

#endif
