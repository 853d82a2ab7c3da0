// SPDX-License-Identifier: Apache-2.0
/*
 * limpet: one binary, subcommands in one table (like BusyBox applets), and
 * the global options every subcommand understands: -c PATH and --root DIR.
 */
#include <errno.h>
#include <stdarg.h>
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
	const char *name;
	lp_cmd_fn fn;
	/* reads the config file and finds the state directory */
	enum { CONFIG_NONE, CONFIG_NEEDED, CONFIG_TRIED } config;
	const char *usage;
};

static const struct applet applets[] = {
	{ "run", cmd_run, CONFIG_NEEDED,
	  "run [--name N] [--memory 64M] [--cpus 0.5] [--cpu-weight W] [--pids 64]\n"
	  "      [--hostname H] [-e K=V]... [--net none|host] [--read-only] [--init]\n"
	  "      [--device HOST[:INNER][:rwm]]... [-v NAME:/PATH]... [--user UID[:GID]]\n"
	  "      [--workdir DIR] [--userns HOSTUID[:COUNT]] [--isolation container|vm|auto]\n"
	  "      [-d] [--rm] [--restart no|on-failure[:N]|always] ROOTFS_DIR [CMD ARGS...]" },
	{ "image", cmd_image, CONFIG_NEEDED,
	  "image import [--trust PEM]... [--sig SIG] [--name N] [--platform P] FILE\n"
	  "  image pull [--trust PEM]... [--ca F] [--cert F --key F] [--size N] [--sha256 H]\n"
	  "             [--limit-rate R] [--name N] [--platform P] https://URL\n"
	  "  image ls [--json] | inspect NAME | rm NAME... | gc | check | sign KEY FILE |\n"
	  "  image verify FILE" },
	{ "ps", cmd_ps, CONFIG_NEEDED, "ps [--json]" },
	{ "inspect", cmd_inspect, CONFIG_NEEDED,
	  "inspect [-f FIELD] NAME...   (FIELD: pid, limits.memory, ...)" },
	{ "stop", cmd_stop, CONFIG_NEEDED, "stop [-t SECS] NAME..." },
	{ "rm", cmd_rm, CONFIG_NEEDED, "rm [-f] NAME..." },
	{ "logs", cmd_logs, CONFIG_NEEDED, "logs [-f] [--tail N] NAME" },
	{ "exec", cmd_exec, CONFIG_NEEDED, "exec [-e K=V]... [-w DIR] NAME CMD [ARGS...]" },
	{ "volume", cmd_volume, CONFIG_NEEDED, "volume ls | rm NAME..." },
	{ "deploy", cmd_deploy, CONFIG_NEEDED,
	  "deploy [--trust PEM]... [--sig SIG] deployment.json   (apply it; the agent runs)\n"
	  "  deploy check [--trust PEM]... [--sig SIG] [--device ID] deployment.json\n"
	  "  deploy status" },
	{ "import", cmd_import, CONFIG_NEEDED,
	  "import [--trust PEM]... PATH   (a folder with limpet/ in it, or a stick's block device)" },
	{ "bundle", cmd_bundle, CONFIG_NEEDED,
	  "bundle create [--key KEY.pem] OUTDIR DEPLOYMENT.json IMAGE...   (OUTDIR/limpet/)" },
#ifdef CONFIG_AGENT
	{ "agent", cmd_agent, CONFIG_NEEDED, "agent" },
#endif
	{ "keygen", cmd_keygen, CONFIG_NONE, "keygen [--force] PREFIX" },
	/* doctor reports a config it cannot read, and checks on with the defaults */
	{ "doctor", cmd_doctor, CONFIG_TRIED, "doctor [--json]" },
#ifdef CONFIG_KVM
	{ "vmm", cmd_vmm, CONFIG_NONE,
	  "vmm --kernel IMAGE --initrd CPIO [--memory 256M] [--cpus N] [--append ARGS]\n"
	  "      [--kernel-log | --kernel-log-file FILE] [--times]   (one microVM, foreground)\n"
	  "  vmm --probe   (does a guest of a few instructions run here?)" },
#endif
	{ "version", cmd_version, CONFIG_NONE, "version" },
};

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: limpet [-c CONFIG] [--root DIR] COMMAND [ARGS...]\n\ncommands:\n");
	for (i = 0; i < ARRAY_SIZE(applets); i++)
		fprintf(out, "  %s\n", applets[i].usage);
	fprintf(out, "\n  -c CONFIG   agent config (default %s)\n"
		     "  --root DIR  state directory (default %s)\n",
		LP_DEFAULT_CONFIG, LP_DEFAULT_ROOT);
}

int lp_usage_error(const char *cmd, const char *fmt, ...)
{
	char prefix[64];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "limpet %s", cmd);
	va_start(ap, fmt);
	lp_vsay(prefix, fmt, ap);
	va_end(ap);
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

int cmd_version(int argc, char **argv, struct lp_globals *g)
{
	(void)g;
	if (argc > 1)
		return lp_usage_error(argv[0], "takes no arguments");
	printf("limpet %s\n", LIMPET_VERSION);
	return 0;
}

static const struct applet *find_applet(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(applets); i++)
		if (!strcmp(applets[i].name, name))
			return &applets[i];
	return NULL;
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
			return cmd_version(1, argv, &g);
		} else if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) {
			if (++i == argc)
				return lp_usage_error("-c", "needs a config file path");
			g.config_path = argv[i];
			g.config_given = true;
		} else if (!strcmp(argv[i], "--root")) {
			if (++i == argc)
				return lp_usage_error("--root", "needs a directory");
			root_opt = argv[i];
		} else {
			usage(stderr);
			return lp_usage_error(argv[i], "unknown global option");
		}
	}
	if (i == argc) {
		usage(stderr);
		return LP_EXIT_USAGE;
	}
	a = find_applet(argv[i]);
	if (!a) {
		usage(stderr);
		return lp_usage_error(argv[i], "unknown command");
	}
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
		fprintf(stderr, "limpet: %s\n", err.msg);
		return g.config_given || root_opt ? LP_EXIT_USAGE : LP_EXIT_FAILURE;
	}
run:
	rc = a->fn(argc - i, argv + i, &g);
	if (a->config != CONFIG_NONE)
		lp_config_free(&g.host.cfg);
	return rc;
}
