// SPDX-License-Identifier: Apache-2.0
#include "agent/cli/term.h"

#include <errno.h>
#include <string.h>

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
