// SPDX-License-Identifier: Apache-2.0
#include "agent/cli/opts.h"

#include <stdarg.h>
#include <string.h>

#include "agent/cli/cli.h"

void lp_opts_init(struct lp_opts *p, const struct lp_cmd_doc *doc, int argc, char **argv)
{
	memset(p, 0, sizeof(*p));
	p->doc = doc;
	p->argc = argc;
	p->argv = argv;
	p->ind = 1;
}

int lp_opts_error(const struct lp_cmd_doc *doc, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "limpet %s: ", doc->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see 'limpet %s --help'\n", doc->name);
	return LP_EXIT_USAGE;
}

static const struct lp_opt *find_long(const struct lp_cmd_doc *doc, const char *name, size_t len)
{
	const struct lp_opt *o;

	for (o = doc->opts; o && o->key; o++)
		if (o->long_name && strlen(o->long_name) == len && !strncmp(o->long_name, name, len))
			return o;
	return NULL;
}

static const struct lp_opt *find_short(const struct lp_cmd_doc *doc, char c)
{
	const struct lp_opt *o;

	for (o = doc->opts; o && o->key; o++)
		if (o->short_name == c)
			return o;
	return NULL;
}

static int exit_with(struct lp_opts *p, int status)
{
	p->status = status;
	return LP_OPT_EXIT;
}

static int help(struct lp_opts *p)
{
	lp_cmd_help(p->doc, stdout);
	return exit_with(p, 0);
}

/* --name, --name=VALUE or --name VALUE */
static int next_long(struct lp_opts *p, const char *s)
{
	const char *eq = strchr(s, '=');
	size_t len = eq ? (size_t)(eq - s) : strlen(s);
	const struct lp_opt *o = find_long(p->doc, s, len);

	p->ind++;
	if (!o && len == 4 && !strncmp(s, "help", 4))
		return help(p);
	if (!o)
		return exit_with(p, lp_opts_error(p->doc, "--%.*s: no such option", (int)len, s));
	if (!o->arg && eq)
		return exit_with(p, lp_opts_error(p->doc, "--%s takes no value", o->long_name));
	if (o->arg && eq) {
		p->arg = eq + 1;
	} else if (o->arg) {
		if (p->ind == p->argc)
			return exit_with(p, lp_opts_error(p->doc, "--%s needs a value (%s)",
							  o->long_name, o->arg));
		p->arg = p->argv[p->ind++];
	}
	p->opt = o;
	p->typed_long = true;
	return o->key;
}

/* -x, -xVALUE, -x VALUE, and clusters of flags: -it */
static int next_short(struct lp_opts *p)
{
	const char *s = p->argv[p->ind];
	char c = s[p->pos];
	const struct lp_opt *o = find_short(p->doc, c);

	p->pos++;
	if (!s[p->pos]) {
		p->ind++;
		p->pos = 0;
	}
	if (!o && c == 'h')
		return help(p);
	if (!o)
		return exit_with(p, lp_opts_error(p->doc, "-%c: no such option", c));
	if (o->arg && p->pos) {
		p->arg = s + p->pos;
		p->ind++;
		p->pos = 0;
	} else if (o->arg) {
		if (p->ind == p->argc)
			return exit_with(p, lp_opts_error(p->doc, "-%c needs a value (%s)", c,
							  o->arg));
		p->arg = p->argv[p->ind++];
	}
	p->opt = o;
	p->typed_long = false;
	return o->key;
}

int lp_opt_next(struct lp_opts *p)
{
	const char *s;

	p->arg = NULL;
	if (p->pos > 0)
		return next_short(p);
	if (p->ind >= p->argc)
		return LP_OPT_DONE;
	s = p->argv[p->ind];
	if (!strcmp(s, "--")) {
		p->ind++;
		return LP_OPT_DONE;
	}
	if (s[0] != '-' || !s[1])
		return LP_OPT_DONE;
	if (s[1] == '-')
		return next_long(p, s + 2);
	p->pos = 1;
	return next_short(p);
}

int lp_opts_none(const struct lp_cmd_doc *doc, int argc, char **argv, int *first)
{
	struct lp_opts p;

	lp_opts_init(&p, doc, argc, argv);
	if (lp_opt_next(&p) == LP_OPT_EXIT)
		return p.status;
	*first = p.ind;
	return -1;
}

const char *lp_opt_name(const struct lp_opts *p, char *buf, size_t len)
{
	if (p->typed_long || !p->opt->short_name)
		snprintf(buf, len, "--%s", p->opt->long_name);
	else
		snprintf(buf, len, "-%c", p->opt->short_name);
	return buf;
}

static void print_opt(const struct lp_opt *o, FILE *out)
{
	char left[64];
	int n = 0;

	if (o->short_name && o->long_name)
		n = snprintf(left, sizeof(left), "-%c, --%s", o->short_name, o->long_name);
	else if (o->short_name)
		n = snprintf(left, sizeof(left), "-%c", o->short_name);
	else
		n = snprintf(left, sizeof(left), "    --%s", o->long_name);
	if (o->arg && n > 0 && (size_t)n < sizeof(left))
		snprintf(left + n, sizeof(left) - (size_t)n, " %s", o->arg);
	if (strlen(left) > 26)
		fprintf(out, "  %s\n  %-26s  %s\n", left, "", o->help);
	else
		fprintf(out, "  %-26s  %s\n", left, o->help);
}

const struct lp_cmd_doc *lp_cmd_sub(const struct lp_cmd_doc *doc, const char *name)
{
	const struct lp_cmd_doc *const *s;
	size_t len = strlen(doc->name);

	for (s = doc->subs; s && *s; s++)
		if (!strncmp((*s)->name, doc->name, len) && (*s)->name[len] == ' ' &&
		    !strcmp((*s)->name + len + 1, name))
			return *s;
	return NULL;
}

void lp_cmd_help(const struct lp_cmd_doc *doc, FILE *out)
{
	const struct lp_cmd_doc *const *s;
	const struct lp_opt *o;
	bool has_opts = doc->opts && doc->opts->key;

	fprintf(out, "usage: limpet %s%s%s%s\n\n%s\n", doc->name, has_opts ? " [OPTIONS]" : "",
		doc->operands ? " " : "", doc->operands ? doc->operands : "", doc->summary);
	if (doc->subs) {
		fprintf(out, "\ncommands:\n");
		for (s = doc->subs; *s; s++)
			fprintf(out, "  %-10s  %s\n", (*s)->name + strlen(doc->name) + 1,
				(*s)->summary);
	}
	if (has_opts) {
		fprintf(out, "\noptions:\n");
		for (o = doc->opts; o->key; o++)
			print_opt(o, out);
		fprintf(out, "  %-26s  %s\n", find_short(doc, 'h') ? "    --help" : "-h, --help",
			"this help");
	}
	if (doc->notes)
		fprintf(out, "\n%s\n", doc->notes);
	if (doc->subs)
		fprintf(out, "\nRun 'limpet %s COMMAND --help' for a command's options.\n",
			doc->name);
}

int lp_cmd_dispatch(const struct lp_cmd_doc *doc, int argc, char **argv, struct lp_globals *g)
{
	const struct lp_cmd_doc *sub;
	const struct lp_cmd_doc *const *s;
	char list[256] = "";
	size_t len = strlen(doc->name), n = 0;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		lp_cmd_help(doc, stdout);
		return 0;
	}
	sub = argc >= 2 ? lp_cmd_sub(doc, argv[1]) : NULL;
	if (sub)
		return sub->fn(argc - 1, argv + 1, g);
	for (s = doc->subs; *s && n < sizeof(list); s++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "",
				      (*s)->name + len + 1);
	if (argc < 2)
		return lp_opts_error(doc, "needs a COMMAND: %s", list);
	return lp_opts_error(doc, "'%s' is not one of its commands: %s", argv[1], list);
}
