/* SPDX-License-Identifier: Apache-2.0 */
/* What every subcommand gets: the global options and the loaded config. */
#ifndef LIMPET_CLI_H
#define LIMPET_CLI_H

#include <limits.h>
#include <stdbool.h>

#include "agent/config/host.h"
#include "agent/deploy/deploy.h"

#define LP_EXIT_FAILURE 1
#define LP_EXIT_USAGE 2

struct lp_globals {
	const char *argv0;
	const char *config_path;	/* -c PATH, or the default */
	bool config_given;		/* -c was on the command line */
	struct lp_host host;		/* what the core is handed: root, run_dir, config */
	char config_error[LP_ERR_MAX];	/* why the config did not load (doctor only) */
};

typedef int (*lp_cmd_fn)(int argc, char **argv, struct lp_globals *g);

/* Print "limpet CMD: message" to stderr and return LP_EXIT_USAGE. */
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
/* Take one --trust PEM; past LP_TRUST_ARGS_MAX, an error saying so. */
int lp_trust_arg(struct lp_trust_args *a, const char *pem, struct lp_err *err);

/* One entry point per subcommand (agent/cli/cmd_*.c). */
int cmd_run(int argc, char **argv, struct lp_globals *g);
int cmd_ps(int argc, char **argv, struct lp_globals *g);
int cmd_inspect(int argc, char **argv, struct lp_globals *g);
int cmd_stop(int argc, char **argv, struct lp_globals *g);
int cmd_rm(int argc, char **argv, struct lp_globals *g);
int cmd_logs(int argc, char **argv, struct lp_globals *g);
int cmd_exec(int argc, char **argv, struct lp_globals *g);
int cmd_deploy(int argc, char **argv, struct lp_globals *g);
int cmd_agent(int argc, char **argv, struct lp_globals *g);
int cmd_doctor(int argc, char **argv, struct lp_globals *g);
int cmd_version(int argc, char **argv, struct lp_globals *g);
int cmd_image(int argc, char **argv, struct lp_globals *g);
int cmd_keygen(int argc, char **argv, struct lp_globals *g);
int cmd_image_sign(int argc, char **argv, struct lp_globals *g);
int cmd_image_verify(int argc, char **argv, struct lp_globals *g);
int cmd_image_pull(int argc, char **argv, struct lp_globals *g);
int cmd_volume(int argc, char **argv, struct lp_globals *g);
int cmd_bundle(int argc, char **argv, struct lp_globals *g);
int cmd_import(int argc, char **argv, struct lp_globals *g);
int cmd_vmm(int argc, char **argv, struct lp_globals *g);

#endif
