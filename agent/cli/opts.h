/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Each command's options, as one table that both its parser and its --help
 * read, so that the help lists exactly what the parser accepts.  The parser
 * stops at the first operand (a command's CMD keeps its own flags), takes
 * "--name=VALUE", "--name VALUE", "-xVALUE", "-x VALUE" and clusters of
 * short flags ("-it"), answers --help by itself, and names the argument at
 * fault in a one-line usage error.
 */
#ifndef LIMPET_CLI_OPTS_H
#define LIMPET_CLI_OPTS_H

#include <stdbool.h>
#include <stdio.h>

struct lp_opt {
	int key;		/* what lp_opt_next returns: the short letter, or >= 256 */
	char short_name;	/* 0: long only */
	const char *long_name;	/* NULL: short only */
	const char *arg;	/* NULL: a flag; else the value, as help names it ("SIZE") */
	const char *help;	/* one line */
};

struct lp_globals;

struct lp_cmd_doc {
	const char *name;		/* as typed after limpet: "run", "image import" */
	const char *operands;		/* after the options: "NAME [CMD ARGS...]" */
	const char *summary;		/* one line: what it does */
	const struct lp_opt *opts;	/* ends with { 0 }; NULL: none */
	const char *notes;		/* more lines for --help, or NULL */
	/* a command made of subcommands ("image"): theirs, ending with NULL */
	const struct lp_cmd_doc *const *subs;
	/* what runs it: argv[0] is the last word of name */
	int (*fn)(int argc, char **argv, struct lp_globals *g);
};

struct lp_opts {
	const struct lp_cmd_doc *doc;
	int argc;
	char **argv;
	int ind;		/* next argument; after LP_OPT_DONE, the first operand */
	const char *arg;	/* the value of the option just returned */
	const struct lp_opt *opt;	/* the option just returned */
	bool typed_long;	/* ... as --name, not -x */
	int status;		/* after LP_OPT_EXIT: what the command returns */
	int pos;		/* inside a cluster of short options ("-it"), or 0 */
};

#define LP_OPT_DONE 0		/* no more options: operands start at ind */
#define LP_OPT_EXIT (-1)	/* --help was printed, or a usage error: return status */

/* argv[0] is the command's own name; options start at argv[1]. */
void lp_opts_init(struct lp_opts *p, const struct lp_cmd_doc *doc, int argc, char **argv);
int lp_opt_next(struct lp_opts *p);
/* The option just returned, as the user typed it ("--memory", "-e"): for messages. */
const char *lp_opt_name(const struct lp_opts *p, char *buf, size_t len);

/*
 * For a command without options, which still answers --help and refuses an
 * option it does not take: -1 with *first its first operand, or the status
 * to return now.
 */
int lp_opts_none(const struct lp_cmd_doc *doc, int argc, char **argv, int *first);

/* The operands left after the options. */
static inline int lp_opts_left(const struct lp_opts *p)
{
	return p->argc - p->ind;
}

/*
 * "limpet CMD: message; see 'limpet CMD --help'" on stderr, one line;
 * returns the usage exit status (2).
 */
int lp_opts_error(const struct lp_cmd_doc *doc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The help of one command (its options, from the same table the parser reads). */
void lp_cmd_help(const struct lp_cmd_doc *doc, FILE *out);
/* The subcommand of doc named name, or NULL. */
const struct lp_cmd_doc *lp_cmd_sub(const struct lp_cmd_doc *doc, const char *name);
/*
 * A command made of subcommands (image, volume, bundle): --help, or the
 * subcommand argv[1] names, or a usage error listing them.
 */
int lp_cmd_dispatch(const struct lp_cmd_doc *doc, int argc, char **argv, struct lp_globals *g);

#endif
