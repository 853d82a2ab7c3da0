// SPDX-License-Identifier: Apache-2.0
#include "agent/cli/term.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const char default_keys[] = "ctrl-p,ctrl-q";

/*
 * One key as Docker's term.ToBytes names it, case-sensitive as there
 * ("ctrl-P" is refused).  Every control key is its character with the top
 * bits cleared: ctrl-@ is NUL, ctrl-a 0x01, ctrl-[ ESC, ctrl-_ 0x1f.
 */
static bool parse_key(const char *key, size_t len, unsigned char *code)
{
	char c;

	if (len == 1 && key[0] >= 'a' && key[0] <= 'z') {
		*code = (unsigned char)key[0];
		return true;
	}
	if (len != 6 || strncmp(key, "ctrl-", 5))
		return false;
	c = key[5];
	if ((c >= 'a' && c <= 'z') || (c && strchr("@[\\]^_", c))) {
		*code = (unsigned char)c & 0x1f;
		return true;
	}
	return false;
}

int lp_detach_keys_parse(const char *spec, struct lp_detach_keys *k, struct lp_err *err)
{
	struct lp_detach_keys parsed = { .len = 0 };
	const char *key, *end;
	size_t len;

	if (!spec || !*spec)
		spec = default_keys;
	/* Docker splits on every comma, so "a,,b" and "a," hold an empty key, which it refuses. */
	for (key = spec;; key = end + 1) {
		end = strchrnul(key, ',');
		len = (size_t)(end - key);
		if (parsed.len == LP_DETACH_KEYS_MAX)
			return lp_fail(err, EINVAL, "detach keys '%s': more than %d keys", spec,
				       LP_DETACH_KEYS_MAX);
		if (!parse_key(key, len, &parsed.seq[parsed.len++]))
			return lp_fail(err, EINVAL,
				       "detach keys '%.*s': not a-z or ctrl-[a-z@[\\]^_]",
				       len > 64 ? 64 : (int)len, key);
		if (!*end)
			break;
	}
	*k = parsed;
	return 0;
}

/*
 * The input was seq[0..matched) and then c, which is not seq[matched]: how
 * much of its tail still begins the sequence (KMP's fallback).  Starting
 * over at c alone is not enough where the sequence repeats itself: with
 * "a,a,b", the input "aaab" must detach.
 */
static size_t fallback(const struct lp_detach_keys *k, unsigned char c)
{
	size_t m = k->matched, j;

	for (j = m; j > 0; j--)
		if (k->seq[j - 1] == c && !memcmp(k->seq, k->seq + m + 1 - j, j - 1))
			return j;
	return 0;
}

bool lp_detach_keys_feed(struct lp_detach_keys *k, const unsigned char *in, size_t n,
			 unsigned char *out, size_t *out_n)
{
	size_t i, o = 0, m, j;

	/* No sequence (a zeroed struct): nothing can detach, all goes through. */
	if (!k->len) {
		memcpy(out, in, n);
		*out_n = n;
		return false;
	}
	for (i = 0; i < n; i++) {
		if (in[i] == k->seq[k->matched]) {
			if (++k->matched < k->len)
				continue;
			k->matched = 0;
			*out_n = o;
			return true;
		}
		/*
		 * What is held and in[i] go out, but for the tail that
		 * begins the sequence again, which stays held.
		 */
		m = k->matched;
		j = fallback(k, in[i]);
		if (j) {
			memcpy(out + o, k->seq, m + 1 - j);
			o += m + 1 - j;
		} else {
			memcpy(out + o, k->seq, m);
			o += m;
			out[o++] = in[i];
		}
		k->matched = j;
	}
	*out_n = o;
	return false;
}

/*
 * The settings raw mode replaced, and the terminal they belong to (-1: none
 * replaced, nothing to restore).  A sig_atomic_t so that a signal handler
 * may call lp_term_restore too: tcsetattr is async-signal-safe.
 */
static struct termios saved;
static volatile sig_atomic_t saved_fd = -1;

int lp_term_raw(int fd, struct lp_err *err)
{
	static bool registered;
	bool was_raw = saved_fd >= 0;
	struct termios t;

	if (was_raw && saved_fd != fd)
		return lp_fail(err, EBUSY, "raw mode: another terminal (fd %d) is raw already",
			       (int)saved_fd);
	if (tcgetattr(fd, &t) < 0) {
		if (errno == ENOTTY)
			return lp_fail(err, ENOTTY, "the input device is not a TTY");
		return lp_fail_errno(err, "terminal settings");
	}
	/* Before the terminal changes, so that no exit can leave it raw. */
	if (!registered) {
		if (atexit(lp_term_restore))
			return lp_fail(err, ENOMEM,
				       "raw mode: cannot register its undoing at exit");
		registered = true;
	}
	/*
	 * Once raw, what tcgetattr reads is our own raw mode: keep the first.
	 * saved is complete before saved_fd says so, and saved_fd says so
	 * before the change, for a signal handler that restores.
	 */
	if (!was_raw) {
		saved = t;
		atomic_signal_fence(memory_order_seq_cst);
		saved_fd = fd;
	}
	cfmakeraw(&t);
	if (tcsetattr(fd, TCSANOW, &t) < 0) {
		lp_fail_errno(err, "terminal raw mode");
		/* it may have changed some of the settings before it failed */
		if (!was_raw)
			lp_term_restore();
		return -1;
	}
	return 0;
}

/*
 * TCSADRAIN, as ssh restores its terminal: raw mode changed the line too
 * (cfmakeraw sets CS8 and clears PARENB), and on a serial console the
 * container's last bytes, still leaving, would be garbled by a line that
 * changes under them.  On a pty nothing waits.  errno is kept: error paths
 * restore the terminal between a failure and its report.
 */
void lp_term_restore(void)
{
	int fd = saved_fd, saved_errno = errno;

	if (fd < 0)
		return;
	while (tcsetattr(fd, TCSADRAIN, &saved) < 0 && errno == EINTR)
		;
	saved_fd = -1;
	errno = saved_errno;
}

int lp_term_check(int fd, struct lp_err *err)
{
	pid_t fg;

	if (!isatty(fd))
		return lp_fail(err, ENOTTY, "the input device is not a TTY");
	/*
	 * A tty that is not our controlling terminal has no foreground group
	 * for us (ENOTTY), and tcsetattr on it does not stop us: Docker asks
	 * only isatty, and so do we then.
	 */
	fg = tcgetpgrp(fd);
	if (fg > 0 && fg != getpgrp())
		return lp_fail(err, EBUSY, "not in the foreground of this terminal");
	return 0;
}
