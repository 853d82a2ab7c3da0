// SPDX-License-Identifier: Apache-2.0
/*
 * A registry pull as the commands make it (image pull REF, and run REF
 * when the image is not in the store): the keys, registries, credentials
 * and allow_unsigned of the config, what the command line adds, and the
 * result printed as a name or as JSON.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/fetch/registry_auth.h"
#include "agent/image/pull.h"
#include "agent/spec/json.h"

static json_t *result_json(const struct lp_pull_result *r)
{
	json_t *layers = json_array();
	size_t i;

	for (i = 0; layers && i < r->n_layers; i++)
		json_array_append_new(layers, json_pack("{s:s, s:s, s:I, s:b}", "digest",
							r->layers[i].digest, "diff_id",
							r->layers[i].diff_id, "size",
							(json_int_t)r->layers[i].size, "skipped",
							r->layers[i].skipped));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:b}", "name", r->name,
			 "ref", r->ref, "digest", r->digest, "ref_digest", r->ref_digest,
			 "platform", r->platform, "registry", r->registry, "signed_by",
			 r->signed_by, "layers", layers, "fetched_bytes",
			 (json_int_t)r->fetched_bytes, "unchanged", r->unchanged);
}

static int print_result(const struct lp_cli_pull *a, const struct lp_pull_result *r,
			struct lp_err *err)
{
	cleanup_json json_t *j = NULL;

	if (a->quiet)
		return 0;
	if (!a->json)
		return printf("%s\n", r->name) < 0 ? lp_fail(err, EIO, "cannot print the result")
						   : 0;
	j = result_json(r);
	if (!j || json_dumpf(j, stdout, JSON_INDENT(2)) < 0 || putchar('\n') == EOF)
		return lp_fail(err, EIO, "cannot print the result");
	return 0;
}

int lp_cli_pull_ref(struct lp_globals *g, const struct lp_cli_pull *a, char **name_out,
		    struct lp_err *err)
{
	const struct lp_registry_config *rc_cfg = &g->host.cfg.registry;
	const char *auth_file = a->auth_file ? a->auth_file : rc_cfg->auth_file;
	cleanup_trust struct lp_trust trust = { 0 };
	cleanup_auth_file struct lp_auth_file *auth = NULL;
	struct lp_pull_opts o = {
		.ref = a->ref,
		.name = a->name,
		.platform = a->platform,
		.trust = &trust,
		.allow_unsigned = g->host.cfg.allow_unsigned,
		.signatures_by_repository = rc_cfg->signatures_by_repository,
		.fetch = a->fetch,
		.registries = rc_cfg,
	};
	struct lp_pull_result *res;
	int rc;

	if (lp_host_trust(&g->host, a->trust ? a->trust->pem : NULL, a->trust ? a->trust->n : 0,
			  &trust, err) < 0)
		return -1;
	if (auth_file && lp_auth_file_load(auth_file, &auth, err) < 0)
		return -1;
	o.auth = auth;
	res = calloc(1, sizeof(*res));
	if (!res)
		return lp_fail(err, ENOMEM, "out of memory");
	rc = lp_image_pull(&g->host, &o, res, err);
	if (rc == 0)
		rc = print_result(a, res, err);
	if (rc == 0 && name_out) {
		*name_out = res->name;
		res->name = NULL;
	}
	lp_pull_result_free(res);
	free(res);
	return rc;
}
