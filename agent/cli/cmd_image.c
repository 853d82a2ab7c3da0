// SPDX-License-Identifier: Apache-2.0
/* limpet image import|ls|inspect|rm|gc|sign|verify */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/deploy/image_use.h"
#include "agent/image/import.h"
#include "platform/lib/util.h"
#include "agent/image/store.h"
#include "agent/trust/trust.h"

static const struct lp_opt import_opts[] = {
	LP_OPT_TRUST('t'),
	LP_OPT_SIG('s'),
	{ 'n', 0, "name", "NAME", "which image of a multi-image archive; or its name here" },
	{ 'p', 0, "platform", "OS/ARCH", "which platform of an index (default: this board's)" },
	{ 0 },
};

static int image_import(int argc, char **argv, struct lp_globals *g);

static const struct lp_cmd_doc doc_import = {
	.name = "image import",
	.operands = "FILE",
	.summary = "Verify and import a signed image archive (OCI layout or docker save)",
	.opts = import_opts,
	.fn = image_import,
};

static int image_import(int argc, char **argv, struct lp_globals *g)
{
	struct lp_import_opts o = { .allow_unsigned = g->host.cfg.allow_unsigned };
	struct lp_err err = { 0 };
	cleanup_trust struct lp_trust trust = { 0 };
	struct lp_trust_args extra = { 0 };
	struct lp_opts p;
	char *name = NULL;
	int opt, rc, first;

	lp_opts_init(&p, &doc_import, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0) {
		if (opt == 's')
			o.sig = p.arg;
		else if (opt == 'n')
			o.name = p.arg;
		else if (opt == 'p')
			o.platform = p.arg;
		else if (opt == 't' && lp_trust_arg(&extra, p.arg, &err) < 0)
			return lp_usage_error("image import", "%s", err.msg);
	}
	if (opt == LP_OPT_EXIT)
		return p.status;
	first = p.ind;
	if (first + 1 != argc)
		return lp_usage_error("image import", "needs exactly one FILE");
	o.file = argv[first];
	if (o.name && lp_image_name_valid(o.name, &err) < 0)
		return lp_usage_error("image import", "--name: %s", err.msg);
	if (lp_host_trust(&g->host, extra.pem, extra.n, &trust, &err) < 0)
		return lp_cmd_fail("image import", &err);
	o.trust = &trust;
	rc = lp_image_import(&g->host, &o, &name, &err);
	if (rc < 0)
		return lp_cmd_fail("image import", &err);
	printf("%s\n", name);
	free(name);
	return 0;
}

/*
 * An image's unpacked size, the bytes of file data in its layers (what
 * `docker images` shows), whatever the archive's compression was: what the
 * import counted, or for a record from before it did, its layers now.
 */
static uint64_t unpacked_size(struct lp_globals *g, json_t *rec)
{
	json_t *v = json_object_get(rec, "unpacked_size"), *layer;
	char dir[PATH_MAX];
	uint64_t total = 0;
	size_t i;

	if (json_is_integer(v))
		return (uint64_t)json_integer_value(v);
	json_array_foreach(json_object_get(rec, "layers"), i, layer)
		if (json_is_string(layer) &&
		    snprintf(dir, sizeof(dir), "%s/store/layers/%s", g->host.root,
			     json_string_value(layer)) < (int)sizeof(dir))
			total += lp_tree_bytes(dir);
	return total;
}

static const struct lp_opt ls_opts[] = {
	{ 'j', 0, "json", NULL, "as a JSON array of the store's records" },
	{ 0 },
};

static int image_ls(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_image_ls = {
	.name = "image ls",
	.summary = "List the images in the store",
	.opts = ls_opts,
	.fn = image_ls,
};

static int image_ls(int argc, char **argv, struct lp_globals *g)
{
	bool as_json = false;
	struct lp_err err = { 0 };
	struct lp_opts p;
	json_t *all, *rec;
	size_t i;
	int width = 4, opt;

	lp_opts_init(&p, &lp_doc_image_ls, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0)
		as_json = true;
	if (opt == LP_OPT_EXIT)
		return p.status;
	if (lp_opts_left(&p))
		return lp_usage_error("image ls", "takes no arguments ('%s')", argv[p.ind]);
	if (lp_store_list_images(&g->host, &all, &err) < 0)
		return lp_cmd_fail("image ls", &err);
	json_array_foreach(all, i, rec) {
		const char *name = json_string_value(json_object_get(rec, "name"));

		json_object_set_new(rec, "unpacked_size",
				    json_integer((json_int_t)unpacked_size(g, rec)));
		/* Records from before unpacked_size: their size meant the archive's bytes. */
		json_object_del(rec, "size");
		if (name && (int)strlen(name) > width)
			width = (int)strlen(name);
	}
	if (as_json) {
		json_array_foreach(all, i, rec)
			json_object_del(rec, "config");
		char *s = json_dumps(all, JSON_INDENT(2));

		printf("%s\n", s ? s : "[]");
		free(s);
	} else {
		printf("%-*s  %-19s  %6s  %10s  %s\n", width, "NAME", "DIGEST", "LAYERS", "SIZE",
		       "SIGNED BY");
		json_array_foreach(all, i, rec) {
			const char *signer = json_string_value(json_object_get(rec, "signed_by"));

			printf("%-*s  %-19.19s  %6zu  %7.1f MB  %s\n", width,
			       json_string_value(json_object_get(rec, "name")),
			       json_string_value(json_object_get(rec, "digest")),
			       json_array_size(json_object_get(rec, "layers")),
			       (double)json_integer_value(json_object_get(rec, "unpacked_size")) /
				       (1024.0 * 1024.0),
			       signer ? signer : "unsigned");
		}
	}
	json_decref(all);
	return 0;
}

static int image_inspect(int argc, char **argv, struct lp_globals *g);

static const struct lp_cmd_doc doc_inspect = {
	.name = "image inspect",
	.operands = "NAME",
	.summary = "Show an image's record in the store as JSON",
	.fn = image_inspect,
};

static int image_inspect(int argc, char **argv, struct lp_globals *g)
{
	struct lp_err err = { 0 };
	json_t *rec;
	char *s;
	int first = 0, rc = lp_opts_none(&doc_inspect, argc, argv, &first);

	if (rc >= 0)
		return rc;
	if (argc - first != 1)
		return lp_usage_error("image inspect", "needs exactly one image NAME");
	if (lp_store_load_image(&g->host, argv[first], &rec, &err) < 0)
		return lp_cmd_fail("image inspect", &err);
	s = json_dumps(rec, JSON_INDENT(2) | JSON_SORT_KEYS);
	printf("%s\n", s ? s : "{}");
	free(s);
	json_decref(rec);
	return 0;
}

static int image_rm(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_image_rm = {
	.name = "image rm",
	.operands = "NAME...",
	.summary = "Remove images no container or deployment uses",
	.fn = image_rm,
};

static int image_rm(int argc, char **argv, struct lp_globals *g)
{
	char stored[LP_IMAGE_REF_MAX];
	struct lp_err err = { 0 };
	struct lp_image_use use;
	struct lp_store st;
	const char *holder;
	int i, first = 0, rc = lp_opts_none(&lp_doc_image_rm, argc, argv, &first);

	if (rc >= 0)
		return rc;
	rc = 0;
	if (first == argc)
		return lp_usage_error("image rm", "needs an image NAME");
	if (lp_store_open(&g->host, &st, &err) < 0)
		return lp_cmd_fail("image rm", &err);
	if (lp_image_use_collect(&g->host, NULL, &use, &err) < 0) {
		lp_store_close(&st);
		return lp_cmd_fail("image rm", &err);
	}
	for (i = first; i < argc; i++) {
		if (lp_store_resolve(&g->host, argv[i], stored, sizeof(stored), &err) < 0) {
			rc = lp_cmd_fail("image rm", &err);
			continue;
		}
		holder = lp_image_use_holder(&use, stored);
		if (holder)
			lp_fail(&err, EBUSY, "image %s is used by %s", stored, holder);
		if (holder || lp_store_remove_image(&st, stored, &err) < 0)
			rc = lp_cmd_fail("image rm", &err);
		else
			printf("%s\n", stored);
	}
	lp_image_use_free(&use);
	lp_store_close(&st);
	return rc;
}

static int image_gc(int argc, char **argv, struct lp_globals *g);

static const struct lp_cmd_doc doc_gc = {
	.name = "image gc",
	.summary = "Remove the layers no image uses",
	.fn = image_gc,
};

static int image_gc(int argc, char **argv, struct lp_globals *g)
{
	struct lp_err err = { 0 };
	struct lp_image_use use;
	struct lp_store st;
	unsigned int freed;
	int first = 0, rc = lp_opts_none(&doc_gc, argc, argv, &first);

	if (rc >= 0)
		return rc;
	if (first < argc)
		return lp_usage_error("image gc", "takes no arguments");
	if (lp_store_open(&g->host, &st, &err) < 0)
		return lp_cmd_fail("image gc", &err);
	rc = lp_image_use_collect(&g->host, NULL, &use, &err);
	if (rc == 0) {
		rc = lp_store_gc(&st, use.layers, &freed, &err);
		lp_image_use_free(&use);
	}
	lp_store_close(&st);
	if (rc < 0)
		return lp_cmd_fail("image gc", &err);
	printf("removed %u unused layer%s\n", freed, freed == 1 ? "" : "s");
	return 0;
}

/* Count entries of dir other than . and .. (0 when it does not exist). */
static int count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * What an interrupted import may leave is harmless, but worth seeing: every
 * record must name layers that exist; unreferenced layers wait for gc.
 */
static int image_check(int argc, char **argv, struct lp_globals *g);

static const struct lp_cmd_doc doc_check = {
	.name = "image check",
	.summary = "Check that every image's layers are in the store",
	.fn = image_check,
};

static int image_check(int argc, char **argv, struct lp_globals *g)
{
	struct lp_err err = { 0 };
	char path[PATH_MAX + 96];
	json_t *all, *rec, *layer;
	size_t i, j;
	int bad = 0, layers, first = 0, rc = lp_opts_none(&doc_check, argc, argv, &first);

	if (rc >= 0)
		return rc;
	if (first < argc)
		return lp_usage_error("image check", "takes no arguments");
	if (lp_store_list_images(&g->host, &all, &err) < 0)
		return lp_cmd_fail("image check", &err);
	json_array_foreach(all, i, rec) {
		const char *name = json_string_value(json_object_get(rec, "name"));

		json_array_foreach(json_object_get(rec, "layers"), j, layer) {
			snprintf(path, sizeof(path), "%s/store/layers/%s", g->host.root,
				 json_string_value(layer) ? json_string_value(layer) : "?");
			if (access(path, F_OK) < 0) {
				printf("FAIL  image %s: layer %.12s is missing\n", name ? name : "?",
				       json_string_value(layer) ? json_string_value(layer) : "?");
				bad++;
			}
		}
	}
	snprintf(path, sizeof(path), "%s/store/layers", g->host.root);
	layers = count_entries(path);
	snprintf(path, sizeof(path), "%s/store/staging", g->host.root);
	printf("%s  %zu images, %d layers, %d staging leftovers (removed by the next import or gc)\n",
	       bad ? "FAIL" : "ok  ", json_array_size(all), layers, count_entries(path));
	json_decref(all);
	return bad ? LP_EXIT_FAILURE : 0;
}

static const struct lp_cmd_doc *const image_subs[] = {
	&doc_import, &lp_doc_image_pull, &lp_doc_image_ls,	       &doc_inspect,	     &lp_doc_image_rm,
	&doc_gc,     &doc_check,	 &lp_doc_image_sign, &lp_doc_image_verify, NULL,
};

static int cmd_image(int argc, char **argv, struct lp_globals *g)
{
	return lp_cmd_dispatch(&lp_doc_image, argc, argv, g);
}

const struct lp_cmd_doc lp_doc_image = {
	.name = "image",
	.operands = "COMMAND",
	.summary = "Import, pull, list and remove images",
	.subs = image_subs,
	.fn = cmd_image,
};
