/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the deployment document tests (test_deploy_*.c) share: the example
 * document under images/ and the checks of a parse and of a message.  Each
 * test file is a program of its own linked with liblimpet.a, so these are
 * static functions here rather than a library of their own; not every file
 * uses every one.  Not static inline: inlined, read_example trips GCC's
 * -Wdangling-pointer in its callers, which it does not as a call.
 */
#ifndef LIMPET_TESTS_DEPLOY_FIXTURES_H
#define LIMPET_TESTS_DEPLOY_FIXTURES_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/deploy/deploy_doc.h"
#include "platform/lib/util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define EXAMPLE "images/deployment.example.json"	/* make runs the tests from the top */
#define T_EXAMPLE_EXPIRES 2114380799	/* 2036-12-31T23:59:59Z */

static __attribute__((unused)) void assert_msg_starts(const struct lp_err *err, const char *want)
{
	if (strncmp(err->msg, want, strlen(want)))
		fail_msg("expected the message to start with \"%s\", got \"%s\"", want, err->msg);
}

static __attribute__((unused)) char *read_example(size_t *len)
{
	struct lp_err err = { 0 };
	char *text = NULL;

	if (lp_read_file(EXAMPLE, LP_DEPLOY_MAX, &text, len, &err) < 0)
		fail_msg("%s", err.msg);
	return text;
}

static __attribute__((unused)) void parse_ok(const char *text, struct lp_deployment *d)
{
	struct lp_err err = { 0 };

	if (lp_deploy_parse(text, strlen(text), d, &err) < 0)
		fail_msg("refused: %s", err.msg);
}

static __attribute__((unused)) void assert_empty(const struct lp_deployment *d)
{
	static const struct lp_deployment zero;

	assert_memory_equal(d, &zero, sizeof(zero));
}

#endif
