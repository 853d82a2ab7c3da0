// SPDX-License-Identifier: Apache-2.0
/*
 * limpet deploy FILE: apply a signed deployment from a local file, through
 * the same code as the fleet poller (the running agent supervises what it
 * starts).  limpet deploy check: what the agent would decide about a
 * document, without applying it, so an operator can check one before
 * publishing it.  limpet deploy status: what runs, what ran, what failed.
 */
#include <errno.h>
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

		if (c->image_ref)
			printf("  %-20s %s (registry) as %s\n", c->cfg.name, c->image_ref,
			       c->cfg.image);
		else
			printf("  %-20s %s (%lld bytes) as %s\n", c->cfg.name, c->image_url,
			       (long long)c->image_size, c->cfg.image);
	}
}

static const struct lp_opt check_opts[] = {
	LP_OPT_TRUST('t'),
	LP_OPT_SIG('s'),
	{ 'd', 0, "device", "ID", "also say whether it applies to this device" },
	{ 0 },
};

static int deploy_check(int argc, char **argv, struct lp_globals *g);

static const struct lp_cmd_doc doc_check = {
	.name = "deploy check",
	.operands = "FILE",
	.summary = "Verify a deployment and print what it would run, changing nothing",
	.opts = check_opts,
	.fn = deploy_check,
};

static int deploy_check(int argc, char **argv, struct lp_globals *g)
{
	struct lp_deployment d;
	cleanup_trust struct lp_trust trust = { 0 };
	struct lp_trust_args extra = { 0 };
	struct lp_err err = { 0 };
	struct lp_opts p;
	unsigned char digest[32];
	const char *sig = NULL, *device = NULL;
	int opt, rc = 0, first;

	lp_opts_init(&p, &doc_check, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0) {
		if (opt == 't' && lp_trust_arg(&extra, p.arg, &err) < 0)
			return lp_usage_error("deploy check", "%s", err.msg);
		else if (opt == 's')
			sig = p.arg;
		else if (opt == 'd')
			device = p.arg;
	}
	if (opt == LP_OPT_EXIT)
		return p.status;
	first = p.ind;
	if (first + 1 != argc)
		return lp_usage_error("deploy check", "needs exactly one deployment FILE");
	if (lp_host_trust(&g->host, extra.pem, extra.n, &trust, &err) < 0 ||
	    lp_deploy_load_signed(argv[first], sig, &trust, &d, digest, &err) < 0)
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

static int deploy_status(int argc, char **argv, struct lp_globals *g);

static const struct lp_cmd_doc doc_status = {
	.name = "deploy status",
	.summary = "Print the deployment this device runs, and its last attempt, as JSON",
	.fn = deploy_status,
};

static int deploy_status(int argc, char **argv, struct lp_globals *g)
{
	int first = 0, rc = lp_opts_none(&doc_status, argc, argv, &first);
	json_t *j;

	if (rc >= 0)
		return rc;
	if (first < argc)
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

static const struct lp_opt apply_opts[] = {
	LP_OPT_TRUST('t'),
	LP_OPT_SIG('s'),
	{ 0 },
};

static const struct lp_cmd_doc *const deploy_subs[] = { &doc_check, &doc_status, NULL };

static int cmd_deploy(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_deploy = {
	.name = "deploy",
	.operands = "FILE",
	.summary = "Apply a signed deployment: pull its images, switch over, roll back on failure",
	.opts = apply_opts,
	.notes = "The agent (limpet agent) must be running: it runs the containers.",
	.subs = deploy_subs,
	.fn = cmd_deploy,
};

static int deploy_apply(int argc, char **argv, struct lp_globals *g)
{
	const struct lp_fleet_config *f = &g->host.cfg.fleet;
	struct lp_fetch_opts fetch = { .ca_file = f->ca, .cert_file = f->cert, .key_file = f->key,
				       .max_bytes_per_s = f->max_download_rate, .progress = true };
	struct lp_apply_opts o = { .fetch = &fetch, .log_prefix = "limpet deploy" };
	cleanup_trust struct lp_trust trust = { 0 };
	struct lp_trust_args extra = { 0 };
	struct lp_err err = { 0 };
	struct lp_opts p;
	enum lp_apply_result r;
	int opt, first;

	lp_opts_init(&p, &lp_doc_deploy, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0) {
		if (opt == 't' && lp_trust_arg(&extra, p.arg, &err) < 0)
			return lp_usage_error("deploy", "%s", err.msg);
		else if (opt == 's')
			o.sig = p.arg;
	}
	if (opt == LP_OPT_EXIT)
		return p.status;
	first = p.ind;
	if (first + 1 != argc)
		return lp_usage_error("deploy", "needs exactly one deployment FILE");
	o.doc = argv[first];
	if (lp_host_trust(&g->host, extra.pem, extra.n, &trust, &err) < 0)
		return lp_cmd_fail("deploy", &err);
	o.trust = &trust;
	r = lp_deploy_apply(&g->host, &o, &err);
	return lp_apply_finish("deploy", o.doc, r, &err);
}

/* deploy FILE applies; deploy check|status are its other commands. */
static int cmd_deploy(int argc, char **argv, struct lp_globals *g)
{
	const struct lp_cmd_doc *sub = argc >= 2 ? lp_cmd_sub(&lp_doc_deploy, argv[1]) : NULL;

	if (sub)
		return sub->fn(argc - 1, argv + 1, g);
	return deploy_apply(argc, argv, g);
}
