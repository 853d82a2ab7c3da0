// SPDX-License-Identifier: Apache-2.0
/* The operator's terminal: detach keys as Docker reads them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/cli/term.h"

static struct lp_detach_keys parsed(const char *spec)
{
	struct lp_detach_keys k = { .len = 0 };
	struct lp_err err = { 0 };

	if (lp_detach_keys_parse(spec, &k, &err) < 0)
		fail_msg("%s: %s", spec, err.msg);
	return k;
}

static void assert_seq(const char *spec, const char *want, size_t len)
{
	struct lp_detach_keys k = parsed(spec);

	assert_int_equal(k.len, len);
	assert_memory_equal(k.seq, want, len);
	assert_int_equal(k.matched, 0);
}

static void test_parse(void **state)
{
	(void)state;
	assert_seq(NULL, "\x10\x11", 2);
	assert_seq("", "\x10\x11", 2);
	assert_seq("ctrl-p,ctrl-q", "\x10\x11", 2);
	assert_seq("ctrl-a,x", "\x01x", 2);
	assert_seq("ctrl-@", "\0", 1);
	assert_seq("ctrl-[", "\x1b", 1);
	assert_seq("ctrl-\\,ctrl-],ctrl-^,ctrl-_,ctrl-z", "\x1c\x1d\x1e\x1f\x1a", 5);
	assert_seq("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p", "abcdefghijklmnop", 16);
}

static void assert_refused(const char *spec, const char *msg)
{
	struct lp_detach_keys k = parsed("x");
	struct lp_err err = { 0 };

	assert_int_equal(lp_detach_keys_parse(spec, &k, &err), -1);
	assert_int_equal(err.code, EINVAL);
	assert_string_equal(err.msg, msg);
	/* a refusal leaves what was there */
	assert_int_equal(k.len, 1);
	assert_int_equal(k.seq[0], 'x');
}

static void test_parse_refusals(void **state)
{
	(void)state;
	assert_refused("ctrl-1", "detach keys 'ctrl-1': not a-z or ctrl-[a-z@[\\]^_]");
	assert_refused("AB", "detach keys 'AB': not a-z or ctrl-[a-z@[\\]^_]");
	assert_refused("A", "detach keys 'A': not a-z or ctrl-[a-z@[\\]^_]");
	/* case-sensitive, as Docker */
	assert_refused("ctrl-P", "detach keys 'ctrl-P': not a-z or ctrl-[a-z@[\\]^_]");
	assert_refused("ctrl-", "detach keys 'ctrl-': not a-z or ctrl-[a-z@[\\]^_]");
	assert_refused("ctrl-ab", "detach keys 'ctrl-ab': not a-z or ctrl-[a-z@[\\]^_]");
	/* an empty key: a list that is only a comma, or one with a comma too many */
	assert_refused(",", "detach keys '': not a-z or ctrl-[a-z@[\\]^_]");
	assert_refused("a,", "detach keys '': not a-z or ctrl-[a-z@[\\]^_]");
	assert_refused("a,,b", "detach keys '': not a-z or ctrl-[a-z@[\\]^_]");
	assert_refused("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q",
		       "detach keys 'a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q': more than 16 keys");
}

/* Feeds in (a string literal, NULs and all) and compares what goes out. */
#define FEED(k, in, want, detach)                                                    \
	do {                                                                         \
		unsigned char out_[sizeof(in) - 1 + LP_DETACH_KEYS_MAX];             \
		size_t n_ = 12345;                                                   \
		assert_int_equal(lp_detach_keys_feed(k, (const unsigned char *)(in), \
						     sizeof(in) - 1, out_, &n_),     \
				 detach);                                            \
		assert_int_equal(n_, sizeof(want) - 1);                              \
		assert_memory_equal(out_, want, sizeof(want) - 1);                   \
	} while (0)

static void test_feed(void **state)
{
	struct lp_detach_keys k = parsed(NULL);

	(void)state;
	FEED(&k, "hello\r", "hello\r", false);
	/* ^P then something else: both reach the container */
	FEED(&k, "\x10x", "\x10x", false);
	assert_int_equal(k.matched, 0);
	FEED(&k, "\x10\x11", "", true);
	assert_int_equal(k.matched, 0);
	/* what came before goes out; what follows is dropped */
	FEED(&k, "ab\x10\x11zz", "ab", true);
	/* the second ^P fails the first match and starts the next */
	FEED(&k, "\x10\x10\x11", "\x10", true);
	FEED(&k, "\x10\x10\x10x", "\x10\x10\x10x", false);
	FEED(&k, "", "", false);
}

static void test_feed_split(void **state)
{
	struct lp_detach_keys k = parsed(NULL);

	(void)state;
	FEED(&k, "a\x10", "a", false);
	assert_int_equal(k.matched, 1);
	FEED(&k, "\x11", "", true);
	assert_int_equal(k.matched, 0);
	/* a held ^P goes out ahead of the byte that proves it was not a detach */
	FEED(&k, "\x10", "", false);
	FEED(&k, "y", "\x10y", false);
	FEED(&k, "\x10", "", false);
	FEED(&k, "\x10", "\x10", false);
	FEED(&k, "\x11", "", true);
}

static void test_feed_other_sequences(void **state)
{
	struct lp_detach_keys k = parsed("x");

	(void)state;
	FEED(&k, "abc", "abc", false);
	FEED(&k, "abxc", "ab", true);
	FEED(&k, "x", "", true);
	/* a sequence that repeats itself: the tail of a failed match may begin it */
	k = parsed("a,a,b");
	FEED(&k, "aaab", "a", true);
	FEED(&k, "aa", "", false);
	FEED(&k, "a", "a", false);
	FEED(&k, "a", "a", false);
	FEED(&k, "b", "", true);
	k = parsed("a,b,a,c");
	FEED(&k, "ababac", "ab", true);
	FEED(&k, "abaxabac", "abax", true);
	/* ctrl-@: NUL is a key like any other */
	k = parsed("ctrl-@,q");
	FEED(&k, "\0\0q", "\0", true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_feed),
		cmocka_unit_test(test_feed_split),
		cmocka_unit_test(test_feed_other_sequences),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
