/* SPDX-License-Identifier: Apache-2.0 */
/* What every subcommand gets: the global options and the loaded config. */
#ifndef LIMPET_CLI_H
#define LIMPET_CLI_H

#include <limits.h>
#include <stdbool.h>

#include "agent/cli/opts.h"
#include "agent/config/host.h"
#include "agent/deploy/deploy.h"
#include "agent/fetch/fetch.h"

#define LP_EXIT_FAILURE 1
#define LP_EXIT_USAGE 2

struct lp_globals {
	const char *argv0;
	const char *config_path;	/* -c PATH, or the default */
	bool config_given;		/* -c was on the command line */
	struct lp_host host;		/* what the core is handed: root, run_dir, config */
	char config_error[LP_ERR_MAX];	/* why the config did not load (doctor only) */
};

/*
 * Print "limpet CMD: message; see 'limpet CMD --help'" to stderr and return
 * LP_EXIT_USAGE.
 */
int lp_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "limpet CMD: message" to stderr and return LP_EXIT_FAILURE. */
int lp_cmd_fail(const char *cmd, const struct lp_err *err);

/*
 * deploy and import: say how an apply ended (what: the file or path) and
 * return the exit status (lp_apply_exit_code).
 */
int lp_apply_finish(const char *cmd, const char *what, enum lp_apply_result r,
		    const struct lp_err *err);

/* A command's --trust PEM options, trusted on top of the config's keys (lp_host_trust). */
#define LP_TRUST_ARGS_MAX 16
struct lp_trust_args {
	const char *pem[LP_TRUST_ARGS_MAX];
	size_t n;
};
/* The option tables' rows for --trust and --sig, the same in every command that verifies. */
#define LP_OPT_TRUST(key) { key, 0, "trust", "PEM", "trust this public key too (repeatable)" }
#define LP_OPT_SIG(key) { key, 0, "sig", "SIG", "the detached signature (default: FILE.sig)" }
/* Take one --trust PEM; past LP_TRUST_ARGS_MAX, an error saying so. */
int lp_trust_arg(struct lp_trust_args *a, const char *pem, struct lp_err *err);

/* What `image pull REF` and `run REF` (for an image not in the store) pull. */
struct lp_cli_pull {
	const char *ref;
	const char *name;		/* the name in the store; NULL: the normalised reference */
	const char *platform;		/* NULL: this board's */
	const struct lp_trust_args *trust;	/* --trust keys, beside the config's; may be NULL */
	const char *auth_file;		/* NULL: the config's registry.auth_file */
	struct lp_fetch_opts fetch;	/* TLS given on the command line, rate, progress */
	bool json;			/* print the result as JSON, not the name */
	bool quiet;			/* print nothing */
};

/* Pull a.ref with the config's trust, registries and credentials; *name_out (may be NULL) := its name. */
int lp_cli_pull_ref(struct lp_globals *g, const struct lp_cli_pull *a, char **name_out,
		    struct lp_err *err);

/*
 * One per command (agent/cli/cmd_*.c): its options, help and entry point.
 * main.c's table lists the top-level ones.
 */
extern const struct lp_cmd_doc lp_doc_run, lp_doc_ps, lp_doc_inspect, lp_doc_stop, lp_doc_rm,
	lp_doc_logs, lp_doc_exec, lp_doc_image, lp_doc_volume, lp_doc_deploy, lp_doc_import,
	lp_doc_bundle, lp_doc_agent, lp_doc_keygen, lp_doc_doctor, lp_doc_vmm, lp_doc_version,
	lp_doc_start, lp_doc_restart, lp_doc_kill, lp_doc_stats, lp_doc_top, lp_doc_system,
	lp_doc_attach, lp_doc_cp;
/* image's subcommands that live in files of their own */
extern const struct lp_cmd_doc lp_doc_image_pull, lp_doc_image_sign, lp_doc_image_verify,
	lp_doc_image_ls, lp_doc_image_rm;

#endif
