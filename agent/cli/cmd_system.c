// SPDX-License-Identifier: Apache-2.0
/*
 * system df and system prune: what limpet's state takes on the board's
 * storage, and giving back what nothing uses.  Prune keeps what a
 * deployment may still need (its containers, for a rollback) and every
 * volume (data); it asks first, or takes -f.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/container/container.h"
#include "agent/deploy/image_use.h"
#include "agent/image/store.h"
#include "platform/lib/util.h"

struct usage {
	long total, active;
	uint64_t size, reclaimable;
};

static bool listed(char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

/* Layers: all of the store's, and those no image in use lists (nor a running container holds). */
static int image_usage(struct lp_globals *g, const struct lp_image_use *use, struct usage *u,
		       struct lp_err *err)
{
	char dir[PATH_MAX], path[PATH_MAX + 256];
	json_t *all, *rec, *layer;
	struct dirent *de;
	size_t i, j;
	DIR *d;

	if (lp_store_list_images(&g->host, &all, err) < 0)
		return -1;
	u->total = (long)json_array_size(all);
	snprintf(dir, sizeof(dir), "%s/store/layers", g->host.root);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		bool kept = listed(use->layers, de->d_name);
		uint64_t bytes;

		if (de->d_name[0] == '.')
			continue;
		json_array_foreach(all, i, rec) {
			const char *name = json_string_value(json_object_get(rec, "name"));

			if (kept || !name || !lp_image_use_holder(use, name))
				continue;
			json_array_foreach(json_object_get(rec, "layers"), j, layer)
				kept = kept || !strcmp(json_string_value(layer) ?: "", de->d_name);
		}
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		bytes = lp_tree_bytes(path);
		u->size += bytes;
		if (!kept)
			u->reclaimable += bytes;
	}
	if (d)
		closedir(d);
	json_array_foreach(all, i, rec) {
		const char *name = json_string_value(json_object_get(rec, "name"));

		u->active += name && lp_image_use_holder(use, name);
	}
	json_decref(all);
	return 0;
}

/* Containers: their writable layers; volumes: theirs, in use or not. */
static int container_usage(struct lp_globals *g, struct usage *cu, struct usage *vu,
			   struct lp_err *err)
{
	char **names, **used = NULL, path[PATH_MAX + 256], dir[PATH_MAX];
	size_t n, i, k, n_used = 0;
	struct dirent *de;
	DIR *d;

	if (lp_ct_names(&g->host, &names, &n, err) < 0)
		return -1;
	used = calloc(1, sizeof(*used));
	for (i = 0; used && i < n; i++) {
		struct lp_container ct;
		struct lp_err ignored;
		uint64_t bytes;
		char **grown;

		if (lp_ct_load(&g->host, names[i], &ct, &ignored) < 0)
			continue;
		snprintf(path, sizeof(path), "%s/upper", ct.dir);
		bytes = lp_tree_bytes(path);
		cu->total++;
		cu->size += bytes;
		if (lp_ct_alive(&ct))
			cu->active++;
		else
			cu->reclaimable += bytes;
		for (k = 0; k < ct.cfg.n_volumes; k++) {
			grown = realloc(used, (n_used + 2) * sizeof(*used));
			if (!grown)
				break;
			used = grown;
			used[n_used] = strdup(ct.cfg.volumes[k].name);
			used[n_used + 1] = NULL;
			n_used += used[n_used] != NULL;
		}
		lp_ct_free(&ct);
	}
	lp_ct_names_free(names, n);
	if (!used)
		return lp_fail(err, ENOMEM, "out of memory");
	snprintf(dir, sizeof(dir), "%s/volumes", g->host.root);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		uint64_t bytes;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		bytes = lp_tree_bytes(path);
		vu->total++;
		vu->size += bytes;
		if (listed(used, de->d_name))
			vu->active++;
		else
			vu->reclaimable += bytes;
	}
	if (d)
		closedir(d);
	for (i = 0; i < n_used; i++)
		free(used[i]);
	free(used);
	return 0;
}

/* Bytes as docker system df writes them: 12.3MB. */
static void size_text(char *buf, size_t len, uint64_t v)
{
	static const char *const unit[] = { "B", "kB", "MB", "GB", "TB" };
	double d = (double)v;
	int i = 0;

	while (d >= 1000.0 && i < 4) {
		d /= 1000.0;
		i++;
	}
	snprintf(buf, len, i ? "%.3g%s" : "%.0f%s", d, unit[i]);
}

static void print_row(const char *type, const struct usage *u)
{
	char size[16], rec[16];

	size_text(size, sizeof(size), u->size);
	size_text(rec, sizeof(rec), u->reclaimable);
	printf("%-12s %6ld %7ld %10s %12s (%d%%)\n", type, u->total, u->active, size, rec,
	       u->size ? (int)(u->reclaimable * 100 / u->size) : 0);
}

static json_t *usage_json(const struct usage *u)
{
	return json_pack("{s:I, s:I, s:I, s:I}", "total", (json_int_t)u->total, "active",
			 (json_int_t)u->active, "size", (json_int_t)u->size, "reclaimable",
			 (json_int_t)u->reclaimable);
}

static const struct lp_opt df_opts[] = {
	{ 'j', 0, "json", NULL, "as JSON" },
	{ 0 },
};

static int system_df(int argc, char **argv, struct lp_globals *g);

static const struct lp_cmd_doc doc_df = {
	.name = "system df",
	.summary = "Show the space images, containers and volumes take, and what prune would free",
	.opts = df_opts,
	.notes = "Images: the store's layers, reclaimable when no image in use lists them.\n"
		 "Containers: their writable layers, reclaimable when stopped.\n"
		 "Volumes: reclaimable when no container uses them (prune keeps them).",
	.fn = system_df,
};

static int system_df(int argc, char **argv, struct lp_globals *g)
{
	struct usage images = { 0 }, containers = { 0 }, volumes = { 0 };
	struct lp_image_use use;
	struct lp_err err = { 0 };
	struct lp_opts p;
	bool as_json = false;
	int opt, rc;

	lp_opts_init(&p, &doc_df, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0)
		as_json = true;
	if (opt == LP_OPT_EXIT)
		return p.status;
	if (lp_opts_left(&p))
		return lp_usage_error("system df", "takes no arguments ('%s')", argv[p.ind]);
	if (lp_image_use_collect(&g->host, NULL, &use, &err) < 0)
		return lp_cmd_fail("system df", &err);
	rc = image_usage(g, &use, &images, &err);
	lp_image_use_free(&use);
	if (rc < 0 || container_usage(g, &containers, &volumes, &err) < 0)
		return lp_cmd_fail("system df", &err);
	if (as_json) {
		json_t *j = json_pack("{s:o, s:o, s:o}", "images", usage_json(&images),
				      "containers", usage_json(&containers), "volumes",
				      usage_json(&volumes));
		char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;

		json_decref(j);
		if (!s)
			return lp_usage_error("system df", "out of memory");
		printf("%s\n", s);
		free(s);
		return 0;
	}
	printf("%-12s %6s %7s %10s %12s\n", "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE");
	print_row("Images", &images);
	print_row("Containers", &containers);
	print_row("Volumes", &volumes);
	return 0;
}

/* ---------------------------------------------------------------- prune */

static const struct lp_opt prune_opts[] = {
	{ 'a', 'a', "all", NULL, "also remove the images no container or deployment uses" },
	{ 'f', 'f', "force", NULL, "do not ask" },
	{ 0 },
};

static int system_prune(int argc, char **argv, struct lp_globals *g);

static const struct lp_cmd_doc doc_prune = {
	.name = "system prune",
	.summary = "Remove stopped containers and the layers no image uses",
	.opts = prune_opts,
	.notes = "A deployment's containers are kept (a rollback starts them again), and so\n"
		 "is every volume. Without -f it asks on the terminal, and refuses without one.",
	.fn = system_prune,
};

/* y on the terminal, or -f; no terminal to ask on is a no. */
static int confirm(bool all)
{
	char answer[16] = "";

	if (!isatty(STDIN_FILENO))
		return lp_usage_error("system prune",
				      "there is no terminal to ask on: give -f to go ahead");
	printf("This removes every stopped container that no deployment owns, and the\n"
	       "layers no image uses%s. Go on? [y/N] ",
	       all ? ", and every image no container or deployment uses" : "");
	fflush(stdout);
	if (!fgets(answer, sizeof(answer), stdin) || (answer[0] != 'y' && answer[0] != 'Y'))
		return LP_EXIT_FAILURE;
	return 0;
}

static int prune_containers(struct lp_globals *g, int *removed, struct lp_err *err)
{
	char **names;
	size_t n, i;
	int rc = 0;

	if (lp_ct_names(&g->host, &names, &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		struct lp_container ct;
		struct lp_err one = { 0 };

		if (lp_ct_load(&g->host, names[i], &ct, &one) < 0)
			continue;
		if (!lp_ct_alive(&ct) && !ct.st.deploy_version) {
			if (lp_ct_remove(&ct, &one) < 0) {
				fprintf(stderr, "limpet system prune: %s\n", one.msg);
				rc = -1;
			} else {
				printf("deleted container %s\n", names[i]);
				(*removed)++;
			}
		}
		lp_ct_free(&ct);
	}
	lp_ct_names_free(names, n);
	if (rc < 0)
		lp_fail(err, EBUSY, "some containers were not removed");
	return rc;
}

static int prune_images(struct lp_globals *g, struct lp_store *st, int *removed,
			struct lp_err *err)
{
	struct lp_image_use use;
	json_t *all, *rec;
	size_t i;

	if (lp_image_use_collect(&g->host, NULL, &use, err) < 0)
		return -1;
	if (lp_store_list_images(&g->host, &all, err) < 0) {
		lp_image_use_free(&use);
		return -1;
	}
	json_array_foreach(all, i, rec) {
		const char *name = json_string_value(json_object_get(rec, "name"));
		struct lp_err one = { 0 };

		if (!name || lp_image_use_holder(&use, name))
			continue;
		if (lp_store_remove_image(st, name, &one) < 0) {
			fprintf(stderr, "limpet system prune: %s\n", one.msg);
			continue;
		}
		printf("deleted image %s\n", name);
		(*removed)++;
	}
	json_decref(all);
	lp_image_use_free(&use);
	return 0;
}

static int system_prune(int argc, char **argv, struct lp_globals *g)
{
	struct lp_image_use use;
	struct lp_err err = { 0 };
	struct lp_store st;
	struct lp_opts p;
	bool all = false, force = false;
	int opt, rc, containers = 0, images = 0;
	unsigned int layers = 0;
	uint64_t before, after;
	char dir[PATH_MAX], freed[16];

	lp_opts_init(&p, &doc_prune, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0) {
		all = all || opt == 'a';
		force = force || opt == 'f';
	}
	if (opt == LP_OPT_EXIT)
		return p.status;
	if (lp_opts_left(&p))
		return lp_usage_error("system prune", "takes no arguments ('%s')", argv[p.ind]);
	if (!force && (rc = confirm(all)) != 0)
		return rc;
	snprintf(dir, sizeof(dir), "%s", g->host.root);
	before = lp_tree_bytes(dir);
	rc = prune_containers(g, &containers, &err) < 0 ? lp_cmd_fail("system prune", &err) : 0;
	if (lp_store_open(&g->host, &st, &err) < 0)
		return lp_cmd_fail("system prune", &err);
	if (all && prune_images(g, &st, &images, &err) < 0)
		rc = lp_cmd_fail("system prune", &err);
	if (lp_image_use_collect(&g->host, NULL, &use, &err) < 0) {
		rc = lp_cmd_fail("system prune", &err);
	} else {
		if (lp_store_gc(&st, use.layers, &layers, &err) < 0)
			rc = lp_cmd_fail("system prune", &err);
		lp_image_use_free(&use);
	}
	lp_store_close(&st);
	after = lp_tree_bytes(dir);
	size_text(freed, sizeof(freed), before > after ? before - after : 0);
	printf("removed %d container%s, %d image%s and %u layer%s: %s freed\n", containers,
	       containers == 1 ? "" : "s", images, images == 1 ? "" : "s", layers,
	       layers == 1 ? "" : "s", freed);
	return rc;
}

static const struct lp_cmd_doc *const system_subs[] = { &doc_df, &doc_prune, NULL };

static int cmd_system(int argc, char **argv, struct lp_globals *g)
{
	return lp_cmd_dispatch(&lp_doc_system, argc, argv, g);
}

const struct lp_cmd_doc lp_doc_system = {
	.name = "system",
	.operands = "COMMAND",
	.summary = "Space used by images, containers and volumes; free what nothing uses",
	.subs = system_subs,
	.fn = cmd_system,
};
