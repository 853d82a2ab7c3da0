// SPDX-License-Identifier: Apache-2.0
/* limpet image import|ls|inspect|rm|gc|sign|verify */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
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

static int image_import(int argc, char **argv, struct lp_globals *g)
{
	static const struct option opts[] = {
		{ "sig", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'n' },
		{ "platform", required_argument, NULL, 'p' },
		{ "trust", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct lp_import_opts o = { .allow_unsigned = g->host.cfg.allow_unsigned };
	struct lp_err err = { 0 };
	cleanup_trust struct lp_trust trust = { 0 };
	struct lp_trust_args extra = { 0 };
	char *name = NULL;
	int opt, rc;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (opt == 's')
			o.sig = optarg;
		else if (opt == 'n')
			o.name = optarg;
		else if (opt == 'p')
			o.platform = optarg;
		else if (opt == 't' && lp_trust_arg(&extra, optarg, &err) < 0)
			return lp_usage_error("image import", "%s", err.msg);
		else if (opt != 't')
			return lp_usage_error("image import", "%s: unknown option or missing value",
					      argv[optind - 1]);
	}
	if (optind + 1 != argc)
		return lp_usage_error("image import", "needs exactly one FILE");
	o.file = argv[optind];
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

/* nftw has no argument for its callback: the sum it is adding to. */
static uint64_t walk_total;

static int add_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (type == FTW_F && S_ISREG(st->st_mode))
		walk_total += (uint64_t)st->st_size;
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
	size_t i;

	if (json_is_integer(v))
		return (uint64_t)json_integer_value(v);
	walk_total = 0;
	json_array_foreach(json_object_get(rec, "layers"), i, layer)
		if (json_is_string(layer) &&
		    snprintf(dir, sizeof(dir), "%s/store/layers/%s", g->host.root,
			     json_string_value(layer)) < (int)sizeof(dir))
			nftw(dir, add_file, 16, FTW_PHYS);
	return walk_total;
}

static int image_ls(int argc, char **argv, struct lp_globals *g)
{
	bool as_json = argc == 2 && !strcmp(argv[1], "--json");
	struct lp_err err = { 0 };
	json_t *all, *rec;
	size_t i;
	int width = 4;

	if (argc > 1 && !as_json)
		return lp_usage_error("image ls", "unknown argument %s (usage: image ls [--json])",
				      argv[1]);
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

static int image_inspect(int argc, char **argv, struct lp_globals *g)
{
	struct lp_err err = { 0 };
	json_t *rec;
	char *s;

	if (argc != 2)
		return lp_usage_error("image inspect", "needs exactly one image NAME");
	if (lp_store_load_image(&g->host, argv[1], &rec, &err) < 0)
		return lp_cmd_fail("image inspect", &err);
	s = json_dumps(rec, JSON_INDENT(2) | JSON_SORT_KEYS);
	printf("%s\n", s ? s : "{}");
	free(s);
	json_decref(rec);
	return 0;
}

static int image_rm(int argc, char **argv, struct lp_globals *g)
{
	char stored[LP_IMAGE_REF_MAX];
	struct lp_err err = { 0 };
	struct lp_image_use use;
	struct lp_store st;
	const char *holder;
	int i, rc = 0;

	if (argc < 2)
		return lp_usage_error("image rm", "missing image NAME");
	if (lp_store_open(&g->host, &st, &err) < 0)
		return lp_cmd_fail("image rm", &err);
	if (lp_image_use_collect(&g->host, NULL, &use, &err) < 0) {
		lp_store_close(&st);
		return lp_cmd_fail("image rm", &err);
	}
	for (i = 1; i < argc; i++) {
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

static int image_gc(int argc, char **argv, struct lp_globals *g)
{
	struct lp_err err = { 0 };
	struct lp_image_use use;
	struct lp_store st;
	unsigned int freed;
	int rc;

	if (argc > 1)
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
static int image_check(int argc, char **argv, struct lp_globals *g)
{
	struct lp_err err = { 0 };
	char path[PATH_MAX + 96];
	json_t *all, *rec, *layer;
	size_t i, j;
	int bad = 0, layers;

	if (argc > 1)
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

int cmd_image(int argc, char **argv, struct lp_globals *g)
{
	static const struct {
		const char *name;
		lp_cmd_fn fn;
	} sub[] = {
		{ "import", image_import }, { "ls", image_ls },	    { "inspect", image_inspect },
		{ "rm", image_rm },	    { "gc", image_gc },	    { "check", image_check },
		{ "sign", cmd_image_sign }, { "verify", cmd_image_verify },
		{ "pull", cmd_image_pull },
	};
	size_t i;

	if (argc < 2)
		return lp_usage_error("image", "needs a subcommand: import pull ls inspect rm gc "
					       "check sign verify");
	for (i = 0; i < ARRAY_SIZE(sub); i++)
		if (!strcmp(argv[1], sub[i].name))
			return sub[i].fn(argc - 1, argv + 1, g);
	return lp_usage_error("image", "unknown subcommand %s", argv[1]);
}
