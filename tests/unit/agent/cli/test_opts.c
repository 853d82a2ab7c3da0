// SPDX-License-Identifier: Apache-2.0
/* The option parser every command uses: the forms it takes, where it stops, what it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/cli/cli.h"
#include "agent/cli/opts.h"

enum { OPT_NAME = 256, OPT_RM };

static const struct lp_opt table[] = {
	{ 'e', 'e', "env", "KEY=VALUE", "an environment variable" },
	{ 'd', 'd', "detach", NULL, "detach" },
	{ 'i', 'i', "interactive", NULL, "keep stdin open" },
	{ OPT_NAME, 0, "name", "NAME", "its name" },
	{ OPT_RM, 0, "rm", NULL, "remove it" },
	{ 0 },
};

static const struct lp_cmd_doc doc = {
	.name = "try",
	.operands = "IMAGE [CMD...]",
	.summary = "a command to try the parser on",
	.opts = table,
};

#define ARGV(...) ((char *[]){ "try", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "try", __VA_ARGS__ }) / sizeof(char *)))

/* Every form a value can come in, and where the options end. */
static void test_forms(void **state)
{
	char **argv = ARGV("-e", "A=1", "-eB=2", "--env", "C=3", "--env=D=4", "--name=web", "-di",
			   "--rm", "img", "-e", "x");
	int argc = ARGC("-e", "A=1", "-eB=2", "--env", "C=3", "--env=D=4", "--name=web", "-di",
			"--rm", "img", "-e", "x");
	struct lp_opts p;
	char buf[32];

	(void)state;
	lp_opts_init(&p, &doc, argc, argv);
	assert_int_equal(lp_opt_next(&p), 'e');
	assert_string_equal(p.arg, "A=1");
	assert_string_equal(lp_opt_name(&p, buf, sizeof(buf)), "-e");
	assert_int_equal(lp_opt_next(&p), 'e');
	assert_string_equal(p.arg, "B=2");
	assert_int_equal(lp_opt_next(&p), 'e');
	assert_string_equal(p.arg, "C=3");
	assert_string_equal(lp_opt_name(&p, buf, sizeof(buf)), "--env");
	assert_int_equal(lp_opt_next(&p), 'e');
	assert_string_equal(p.arg, "D=4");
	assert_int_equal(lp_opt_next(&p), OPT_NAME);
	assert_string_equal(p.arg, "web");
	assert_int_equal(lp_opt_next(&p), 'd');
	assert_null(p.arg);
	assert_int_equal(lp_opt_next(&p), 'i');
	assert_int_equal(lp_opt_next(&p), OPT_RM);
	/* the first operand ends the options: what follows is the command's */
	assert_int_equal(lp_opt_next(&p), LP_OPT_DONE);
	assert_string_equal(argv[p.ind], "img");
	assert_int_equal(lp_opts_left(&p), 3);
}

static void test_double_dash(void **state)
{
	char **argv = ARGV("-d", "--", "-e", "x");
	struct lp_opts p;

	(void)state;
	lp_opts_init(&p, &doc, ARGC("-d", "--", "-e", "x"), argv);
	assert_int_equal(lp_opt_next(&p), 'd');
	assert_int_equal(lp_opt_next(&p), LP_OPT_DONE);
	assert_string_equal(argv[p.ind], "-e");
	/* "-" alone is an operand (stdin, by custom) */
	argv = ARGV("-");
	lp_opts_init(&p, &doc, ARGC("-"), argv);
	assert_int_equal(lp_opt_next(&p), LP_OPT_DONE);
	assert_int_equal(p.ind, 1);
}

static void expect_usage_error(char **argv, int argc)
{
	struct lp_opts p;
	int opt;

	lp_opts_init(&p, &doc, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0)
		;
	assert_int_equal(opt, LP_OPT_EXIT);
	assert_int_equal(p.status, LP_EXIT_USAGE);
}

static void test_refusals(void **state)
{
	(void)state;
	expect_usage_error(ARGV("--bogus"), ARGC("--bogus"));
	expect_usage_error(ARGV("-x"), ARGC("-x"));
	expect_usage_error(ARGV("-dx"), ARGC("-dx"));
	expect_usage_error(ARGV("--name"), ARGC("--name"));
	expect_usage_error(ARGV("-e"), ARGC("-e"));
	expect_usage_error(ARGV("--rm=yes"), ARGC("--rm=yes"));
	/* a prefix is not the option: --na is not --name */
	expect_usage_error(ARGV("--na", "x"), ARGC("--na", "x"));
	expect_usage_error(ARGV("--names", "x"), ARGC("--names", "x"));
}

static void test_help(void **state)
{
	struct lp_opts p;

	(void)state;
	lp_opts_init(&p, &doc, ARGC("-d", "--help"), ARGV("-d", "--help"));
	assert_int_equal(lp_opt_next(&p), 'd');
	assert_int_equal(lp_opt_next(&p), LP_OPT_EXIT);
	assert_int_equal(p.status, 0);
	lp_opts_init(&p, &doc, ARGC("-h"), ARGV("-h"));
	assert_int_equal(lp_opt_next(&p), LP_OPT_EXIT);
	assert_int_equal(p.status, 0);
	/* after the operand it is the command's */
	lp_opts_init(&p, &doc, ARGC("img", "--help"), ARGV("img", "--help"));
	assert_int_equal(lp_opt_next(&p), LP_OPT_DONE);
}

/* A command whose table has its own -h (run's --hostname): then -h is that. */
static void test_own_h(void **state)
{
	static const struct lp_opt own[] = {
		{ 'h', 'h', "hostname", "NAME", "its hostname" },
		{ 0 },
	};
	static const struct lp_cmd_doc d = { .name = "own", .summary = "s", .opts = own };
	struct lp_opts p;

	(void)state;
	lp_opts_init(&p, &d, ARGC("-h", "box"), ARGV("-h", "box"));
	assert_int_equal(lp_opt_next(&p), 'h');
	assert_string_equal(p.arg, "box");
}

static void test_none(void **state)
{
	int first = -7;

	(void)state;
	assert_int_equal(lp_opts_none(&doc, ARGC("a", "b"), ARGV("a", "b"), &first), -1);
	assert_int_equal(first, 1);
	assert_int_equal(lp_opts_none(&doc, ARGC("--help"), ARGV("--help"), &first), 0);
	assert_int_equal(lp_opts_none(&doc, ARGC("--nope"), ARGV("--nope"), &first),
			 LP_EXIT_USAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),   cmocka_unit_test(test_double_dash),
		cmocka_unit_test(test_refusals), cmocka_unit_test(test_help),
		cmocka_unit_test(test_own_h),   cmocka_unit_test(test_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
