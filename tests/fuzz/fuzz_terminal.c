// SPDX-License-Identifier: Apache-2.0
/*
 * What an operator types: the command line's options (agent/cli/opts.c,
 * with a table of every kind of option a command has) and, at an attached terminal,
 * the bytes that go through the detach keys (agent/cli/term.c).  The
 * input's first part is a command line (arguments NUL-separated), the
 * second a --detach-keys value, the rest the keystrokes, one read each.
 * No byte typed may be lost or made up: what went on plus what is held
 * back is all that came in, until the keys detach.
 */
#include "tests/fuzz/fuzz.h"

#include <fcntl.h>

#include "agent/cli/opts.h"
#include "agent/cli/term.h"

/* One read of the operator's terminal, as attach makes it. */
#define READ_MAX 4096

static int devnull = -1;

static void command_line(const struct lp_cmd_doc *doc, const struct fz_part *part)
{
	char *args = fz_strndup(part->p, part->len), *argv[64];
	struct lp_opts p;
	int argc = 1, opt, steps = 0, saved;
	size_t i;

	argv[0] = (char *)doc->name;
	/* NUL-separated: each argument starts after the previous one's NUL. */
	for (i = 0; i < part->len && argc < 63; i += strlen(args + i) + 1)
		argv[argc++] = args + i;
	argv[argc] = NULL;
	/* --help and usage errors print: not this target's business, nor libFuzzer's log. */
	if (devnull < 0 && (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		fz_fail("/dev/null");
	if (!freopen("/dev/null", "w", stdout))
		fz_fail("/dev/null");
	fflush(stderr);
	saved = dup(2);
	if (saved < 0 || dup2(devnull, 2) < 0)
		fz_fail("stderr");
	lp_opts_init(&p, doc, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0) {
		if (++steps > (int)part->len + argc)
			break;
		if (p.opt && p.opt->arg && !p.arg)
			break;
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	if (steps > (int)part->len + argc)
		fz_fail("%s: the parser does not end", doc->name);
	if (opt > 0)
		fz_fail("%s: option %d returned without its value", doc->name, opt);
	if (opt == LP_OPT_DONE && (p.ind < 1 || p.ind > argc))
		fz_fail("%s: operands start at %d of %d", doc->name, p.ind, argc);
	free(args);
}

static void keystrokes(const struct fz_part *parts, size_t n)
{
	unsigned char out[READ_MAX + LP_DETACH_KEYS_MAX];
	char *spec = fz_strndup(parts[0].p, parts[0].len);
	struct lp_detach_keys k;
	struct lp_err err = { 0 };
	size_t i, in_total = 0, out_total = 0, out_n;

	if (lp_detach_keys_parse(spec, &k, &err) < 0) {
		fz_check_err(&err);
		free(spec);
		return;
	}
	free(spec);
	if (k.len < 1 || k.len > LP_DETACH_KEYS_MAX)
		fz_fail("%zu detach keys accepted", k.len);
	for (i = 1; i < n; i++) {
		size_t len = parts[i].len < READ_MAX ? parts[i].len : READ_MAX;
		bool detached = lp_detach_keys_feed(&k, (const unsigned char *)parts[i].p, len,
						    out, &out_n);

		if (out_n > len + LP_DETACH_KEYS_MAX)
			fz_fail("%zu bytes out of %zu in", out_n, len);
		in_total += len;
		out_total += out_n;
		if (detached)
			return;
		if (k.matched >= k.len || out_total + k.matched != in_total)
			fz_fail("%zu bytes typed, %zu passed on, %zu held", in_total, out_total,
				k.matched);
	}
}

/* Flags, short and long, with values or without, clustered or not: as run's. */
static const struct lp_opt opts[] = {
	{ 'd', 'd', "detach", NULL, "" },
	{ 'i', 'i', "interactive", NULL, "" },
	{ 't', 't', "tty", NULL, "" },
	{ 'e', 'e', "env", "KEY=VALUE", "" },
	{ 'm', 'm', "memory", "SIZE", "" },
	{ 256, 0, "name", "NAME", "" },
	{ 257, 0, "rm", NULL, "" },
	{ 258, 0, "detach-keys", "KEYS", "" },
	{ 0 },
};
static const struct lp_cmd_doc doc = {
	.name = "run",
	.operands = "IMAGE [CMD...]",
	.summary = "fuzz",
	.opts = opts,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_part parts[FZ_PARTS_MAX];
	size_t n = fz_split(data, size, parts, FZ_PARTS_MAX);

	if (n >= 1)
		command_line(&doc, &parts[0]);
	if (n >= 2)
		keystrokes(parts + 1, n - 1);
	return 0;
}
