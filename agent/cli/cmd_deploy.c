// SPDX-License-Identifier: Apache-2.0
/*
 * limpet deploy FILE: apply a signed deployment from a local file, through
 * the same code as the fleet poller (the running agent supervises what it
 * starts).  limpet deploy check: what the agent would decide about a
 * document, without applying it, so an operator can check one before
 * publishing it.  limpet deploy status: what runs, what ran, what failed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/deploy/deploy.h"
#include "agent/deploy/deploy_doc.h"
#include "platform/lib/util.h"
#include "agent/image/import.h"
#include "agent/trust/trust.h"

static void print_summary(const struct lp_deployment *d, const unsigned char digest[32])
{
	char when[LP_RFC3339_LEN], hex[65];
	size_t i;

	lp_rfc3339_format(d->expires, when);
	lp_hex(digest, 32, hex);
	printf("version %lld, expires %s, sha256 %.16s\n", (long long)d->version, when, hex);
	for (i = 0; i < d->n; i++) {
		const struct lp_deploy_container *c = &d->containers[i];

		printf("  %-20s %s (%lld bytes) as %s\n", c->cfg.name, c->image_url,
		       (long long)c->image_size, c->cfg.image);
	}
}

static int deploy_check(int argc, char **argv, struct lp_globals *g)
{
	static const struct option opts[] = {
		{ "trust", required_argument, NULL, 't' },
		{ "sig", required_argument, NULL, 's' },
		{ "device", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct lp_deployment d;
	cleanup_trust struct lp_trust trust = { 0 };
	struct lp_trust_args extra = { 0 };
	struct lp_err err = { 0 };
	unsigned char digest[32];
	const char *sig = NULL, *device = NULL;
	int opt, rc = 0;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (opt == 't' && lp_trust_arg(&extra, optarg, &err) < 0)
			return lp_usage_error("deploy check", "%s", err.msg);
		else if (opt == 's')
			sig = optarg;
		else if (opt == 'd')
			device = optarg;
		else if (opt != 't')
			return lp_usage_error("deploy check", "%s: unknown option or missing value",
					      argv[optind - 1]);
	}
	if (optind + 1 != argc)
		return lp_usage_error("deploy check", "needs exactly one deployment FILE");
	if (lp_host_trust(&g->host, extra.pem, extra.n, &trust, &err) < 0 ||
	    lp_deploy_load_signed(argv[optind], sig, &trust, &d, digest, &err) < 0)
		return lp_cmd_fail("deploy check", &err);
	print_summary(&d, digest);
	/* Version 0: as a fresh device sees it; the running version comes with the agent. */
	if (device && lp_deploy_check_applicable(&d, 0, lp_wall_s(), device, NULL, &err) < 0)
		rc = lp_cmd_fail("deploy check", &err);
	else if (device)
		printf("applicable to %s\n", device);
	lp_deploy_free(&d);
	return rc;
}

static int deploy_status(int argc, struct lp_globals *g)
{
	json_t *j;

	if (argc != 1)
		return lp_usage_error("deploy status", "takes no arguments");
	j = lp_deploy_status(&g->host);
	if (!j || json_dumpf(j, stdout, JSON_INDENT(2)) < 0) {
		json_decref(j);
		return lp_usage_error("deploy status", "out of memory");
	}
	putchar('\n');
	json_decref(j);
	return 0;
}

int lp_apply_finish(const char *cmd, const char *what, enum lp_apply_result r,
		    const struct lp_err *err)
{
	if (r == LP_APPLY_UNCHANGED)
		printf("%s: already running this version\n", what);
	else if (r != LP_APPLY_DONE)
		lp_cmd_fail(cmd, err);
	return lp_apply_exit_code(r);
}

static int deploy_apply(int argc, char **argv, struct lp_globals *g)
{
	static const struct option opts[] = {
		{ "trust", required_argument, NULL, 't' },
		{ "sig", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const struct lp_fleet_config *f = &g->host.cfg.fleet;
	struct lp_fetch_opts fetch = { .ca_file = f->ca, .cert_file = f->cert, .key_file = f->key,
				       .max_bytes_per_s = f->max_download_rate, .progress = true };
	struct lp_apply_opts o = { .fetch = &fetch, .log_prefix = "limpet deploy" };
	cleanup_trust struct lp_trust trust = { 0 };
	struct lp_trust_args extra = { 0 };
	struct lp_err err = { 0 };
	enum lp_apply_result r;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (opt == 't' && lp_trust_arg(&extra, optarg, &err) < 0)
			return lp_usage_error("deploy", "%s", err.msg);
		else if (opt == 's')
			o.sig = optarg;
		else if (opt != 't')
			return lp_usage_error("deploy", "%s: unknown option or missing value",
					      argv[optind - 1]);
	}
	if (optind + 1 != argc)
		return lp_usage_error("deploy", "needs exactly one deployment FILE");
	o.doc = argv[optind];
	if (lp_host_trust(&g->host, extra.pem, extra.n, &trust, &err) < 0)
		return lp_cmd_fail("deploy", &err);
	o.trust = &trust;
	r = lp_deploy_apply(&g->host, &o, &err);
	return lp_apply_finish("deploy", o.doc, r, &err);
}

int cmd_deploy(int argc, char **argv, struct lp_globals *g)
{
	if (argc >= 2 && !strcmp(argv[1], "check"))
		return deploy_check(argc - 1, argv + 1, g);
	if (argc >= 2 && !strcmp(argv[1], "status"))
		return deploy_status(argc - 1, g);
	return deploy_apply(argc, argv, g);
}
