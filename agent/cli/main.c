// SPDX-License-Identifier: Apache-2.0
/*
 * limpet: one binary, subcommands in one table (like BusyBox applets), and
 * the global options every subcommand understands: -c PATH and --root DIR.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "platform/lib/util.h"
#include "platform/runtime.h"
#if defined(CONFIG_KVM) && (defined(__x86_64__) || defined(__aarch64__))
#define LP_GUEST_SIDE 1
#include "platform/kvm/guest/guest_abi.h"
#include "platform/kvm/guest/guest_init.h"
#endif

struct applet {
	const struct lp_cmd_doc *doc;
	const char *alias;	/* Docker's short name for a subcommand: images, pull, rmi */
	/* reads the config file and finds the state directory */
	enum { CONFIG_NONE, CONFIG_NEEDED, CONFIG_TRIED } config;
};

static const struct applet applets[] = {
	{ &lp_doc_run, NULL, CONFIG_NEEDED },
	{ &lp_doc_exec, NULL, CONFIG_NEEDED },
	{ &lp_doc_ps, NULL, CONFIG_NEEDED },
	{ &lp_doc_logs, NULL, CONFIG_NEEDED },
	{ &lp_doc_inspect, NULL, CONFIG_NEEDED },
	{ &lp_doc_stats, NULL, CONFIG_NEEDED },
	{ &lp_doc_top, NULL, CONFIG_NEEDED },
	{ &lp_doc_stop, NULL, CONFIG_NEEDED },
	{ &lp_doc_start, NULL, CONFIG_NEEDED },
	{ &lp_doc_restart, NULL, CONFIG_NEEDED },
	{ &lp_doc_kill, NULL, CONFIG_NEEDED },
	{ &lp_doc_attach, NULL, CONFIG_NEEDED },
	{ &lp_doc_cp, NULL, CONFIG_NEEDED },
	{ &lp_doc_rm, NULL, CONFIG_NEEDED },
	{ &lp_doc_image, NULL, CONFIG_NEEDED },
	{ &lp_doc_image_ls, "images", CONFIG_NEEDED },
	{ &lp_doc_image_pull, "pull", CONFIG_NEEDED },
	{ &lp_doc_image_rm, "rmi", CONFIG_NEEDED },
	{ &lp_doc_volume, NULL, CONFIG_NEEDED },
	{ &lp_doc_system, NULL, CONFIG_NEEDED },
	{ &lp_doc_deploy, NULL, CONFIG_NEEDED },
	{ &lp_doc_import, NULL, CONFIG_NEEDED },
	{ &lp_doc_bundle, NULL, CONFIG_NEEDED },
#ifdef CONFIG_AGENT
	{ &lp_doc_agent, NULL, CONFIG_NEEDED },
#endif
	{ &lp_doc_keygen, NULL, CONFIG_NONE },
	/* doctor reports a config it cannot read, and checks on with the defaults */
	{ &lp_doc_doctor, NULL, CONFIG_TRIED },
#ifdef CONFIG_KVM
	{ &lp_doc_vmm, NULL, CONFIG_NONE },
#endif
	{ &lp_doc_version, NULL, CONFIG_NONE },
};

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: limpet [-c CONFIG] [--root DIR] COMMAND [ARGS...]\n\n"
		     "An agent that runs signed container images on small boards.\n\n"
		     "commands:\n");
	for (i = 0; i < ARRAY_SIZE(applets); i++)
		if (applets[i].alias)
			fprintf(out, "  %-10s  The same as limpet %s\n", applets[i].alias,
				applets[i].doc->name);
		else
			fprintf(out, "  %-10s  %s\n", applets[i].doc->name, applets[i].doc->summary);
	fprintf(out, "\nglobal options (before COMMAND):\n"
		     "  -c, --config CONFIG  agent config (default %s)\n"
		     "  --root DIR           state directory (default %s)\n"
		     "  -h, --help           this help\n"
		     "  --version            limpet's version\n"
		     "\nRun 'limpet COMMAND --help' (or 'limpet help COMMAND') for a command's "
		     "options.\n",
		LP_DEFAULT_CONFIG, LP_DEFAULT_ROOT);
}

int lp_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "limpet %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see 'limpet %s --help'\n", cmd);
	return LP_EXIT_USAGE;
}

/* Global errors: no command to point at. */
static int global_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "limpet: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "; see 'limpet --help'\n");
	return LP_EXIT_USAGE;
}

int lp_cmd_fail(const char *cmd, const struct lp_err *err)
{
	fprintf(stderr, "limpet %s: %s\n", cmd, err->msg);
	return LP_EXIT_FAILURE;
}

int lp_trust_arg(struct lp_trust_args *a, const char *pem, struct lp_err *err)
{
	if (a->n == LP_TRUST_ARGS_MAX)
		return lp_fail(err, E2BIG, "--trust: at most %d keys", LP_TRUST_ARGS_MAX);
	a->pem[a->n++] = pem;
	return 0;
}

static int cmd_version(int argc, char **argv, struct lp_globals *g)
{
	struct lp_opts p;

	(void)g;
	lp_opts_init(&p, &lp_doc_version, argc, argv);
	if (lp_opt_next(&p) == LP_OPT_EXIT)
		return p.status;
	if (lp_opts_left(&p))
		return lp_usage_error("version", "takes no arguments");
	printf("limpet %s\n", LIMPET_VERSION);
	return 0;
}

const struct lp_cmd_doc lp_doc_version = {
	.name = "version",
	.summary = "Print limpet's version",
	.fn = cmd_version,
};

static const struct applet *find_applet(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(applets); i++)
		if (!strcmp(applets[i].alias ? applets[i].alias : applets[i].doc->name, name))
			return &applets[i];
	return NULL;
}

static bool is_help(const char *arg)
{
	return arg && (!strcmp(arg, "--help") || !strcmp(arg, "-h"));
}

/* limpet CMD --help, limpet CMD SUB --help */
static bool asks_help(const struct lp_cmd_doc *doc, int argc, char **argv)
{
	if (argc > 1 && is_help(argv[1]))
		return true;
	return argc > 2 && lp_cmd_sub(doc, argv[1]) && is_help(argv[2]);
}

/* limpet help [COMMAND [SUBCOMMAND]] */
static int help(int argc, char **argv)
{
	const struct applet *a = argc > 1 ? find_applet(argv[1]) : NULL;
	const struct lp_cmd_doc *doc = a ? a->doc : NULL;

	if (argc == 1 || is_help(argv[1])) {
		usage(stdout);
		return 0;
	}
	if (!a)
		return global_error("'%s' is not a limpet command", argv[1]);
	if (argc > 2 && !(doc = lp_cmd_sub(a->doc, argv[2]))) {
		fprintf(stderr, "limpet help: '%s' is not a command of limpet %s; see 'limpet %s "
				"--help'\n",
			argv[2], argv[1], argv[1]);
		return LP_EXIT_USAGE;
	}
	lp_cmd_help(doc, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct lp_globals g = { .argv0 = argv[0], .config_path = LP_DEFAULT_CONFIG };
	const char *root_opt = NULL;
	const struct applet *a;
	struct lp_err err = { 0 };
	int i, rc;

#ifdef LP_GUEST_SIDE
	/* The guest kernel runs us as a microVM's init: no command line to parse there. */
	if (getpid() == 1 && argv[0] && !strcmp(argv[0], LP_GUEST_INIT))
		return lp_guest_init_main(argc, argv);
#endif
	/* limpet re-executed from its sealed copy for a step inside a container. */
	if (lp_runtime_is_stage(argv[0]))
		lp_runtime_stage(argc, argv);
	/* Global options come before the command (limpet --root /x run ...). */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("limpet %s\n", LIMPET_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) {
			if (++i == argc)
				return global_error("%s needs a value (CONFIG)", argv[i - 1]);
			g.config_path = argv[i];
			g.config_given = true;
		} else if (!strcmp(argv[i], "--root")) {
			if (++i == argc)
				return global_error("%s needs a value (DIR)", argv[i - 1]);
			root_opt = argv[i];
		} else {
			return global_error("%s: no such global option", argv[i]);
		}
	}
	if (i == argc) {
		usage(stderr);
		return LP_EXIT_USAGE;
	}
	if (!strcmp(argv[i], "help"))
		return help(argc - i, argv + i);
	a = find_applet(argv[i]);
	if (!a)
		return global_error("'%s' is not a limpet command", argv[i]);
	if (a->config != CONFIG_NONE &&
	    (lp_config_load(g.config_path, g.config_given, &g.host.cfg, &err) < 0 ||
	     lp_host_dirs(&g.host, root_opt, &err) < 0)) {
		lp_config_free(&g.host.cfg);
		if (a->config == CONFIG_TRIED) {
			snprintf(g.config_error, sizeof(g.config_error), "%s", err.msg);
			if (lp_config_defaults(&g.host.cfg, &err) < 0 ||
			    lp_host_dirs(&g.host, root_opt, &err) < 0)
				lp_config_free(&g.host.cfg);
			else
				goto run;
		}
		/* Help needs no config: it still works beside a broken one. */
		if (asks_help(a->doc, argc - i, argv + i))
			return a->doc->fn(argc - i, argv + i, &g);
		fprintf(stderr, "limpet: %s\n", err.msg);
		return g.config_given || root_opt ? LP_EXIT_USAGE : LP_EXIT_FAILURE;
	}
run:
	rc = a->doc->fn(argc - i, argv + i, &g);
	if (a->config != CONFIG_NONE)
		lp_config_free(&g.host.cfg);
	return rc;
}
