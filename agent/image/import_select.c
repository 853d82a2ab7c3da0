// SPDX-License-Identifier: Apache-2.0
/*
 * Step 3 of an import: which image(s) of the archive to take (an OCI
 * layout's index.json or docker save's manifest.json; several images, --name
 * and --platform), and each one's manifest, config and layers, resolved
 * against what step 2 read and checked by digest, size and diff_id before any
 * is committed.  Apart from import.c because it reads only JSON already in
 * memory: the archive formats' rules live here and nowhere else; what any
 * index or manifest may say, also one a registry serves, in manifest.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/lib/util.h"
#include "agent/image/import_internal.h"
#include "agent/image/manifest.h"
#include "agent/spec/json.h"
#include "agent/trust/trust.h"

#define LINK_HOPS 8
#define REF_NAME "org.opencontainers.image.ref.name"
/* More images than one docker save or OCI layout holds in practice. */
#define IMAGES_MAX 64

/* ---------------------------------------------------------------- step 3: resolve */

/* A JSON string's value, or "" when it is missing or not a string. */
static const char *jstr(json_t *v)
{
	const char *s = json_string_value(v);

	return s ? s : "";
}

static struct blob *find_path(struct importer *im, const char *path)
{
	cleanup_free char *want = lp_import_clean_path(path);
	size_t i;
	int hops;

	for (hops = 0; want && hops < LINK_HOPS; hops++) {
		for (i = 0; i < im->n && strcmp(im->v[i].path, want); i++)
			;
		if (i == im->n)
			return NULL;
		if (!im->v[i].link)
			return &im->v[i];
		free(want);
		want = lp_import_clean_path(im->v[i].link);
	}
	return NULL;
}

/*
 * A descriptor's target, checked by digest and size (max: the descriptor's
 * cap); JSON targets must parse.
 */
static struct blob *resolve_desc(struct importer *im, json_t *desc, uint64_t max, bool want_json,
				 struct lp_err *err)
{
	struct lp_descriptor d;
	char hex[LP_SHA256_HEX_LEN + 1], path[128];
	struct blob *b;
	size_t i;

	if (lp_descriptor_check(desc, max, &d, err) < 0)
		return NULL;
	lp_hex(d.digest, sizeof(d.digest), hex);
	snprintf(path, sizeof(path), "blobs/sha256/%s", hex);
	b = find_path(im, path);
	for (i = 0; !b && i < im->n; i++)
		if (!im->v[i].link && !memcmp(im->v[i].digest, d.digest, sizeof(d.digest)))
			b = &im->v[i];
	if (!b) {
		lp_fail(err, ENOENT, "blob sha256:%.12s... is not in the archive", hex);
		return NULL;
	}
	/* The bytes we read must be the ones the descriptor names. */
	if (memcmp(b->digest, d.digest, sizeof(d.digest))) {
		lp_fail(err, EBADMSG, "%s: content does not match its digest sha256:%.12s...",
			b->path, hex);
		return NULL;
	}
	if (d.size != b->size) {
		lp_fail(err, EBADMSG, "%s: %llu bytes, its descriptor says %llu", b->path,
			(unsigned long long)b->size, (unsigned long long)d.size);
		return NULL;
	}
	if (want_json && !b->json) {
		lp_fail(err, EBADMSG, "%s: not valid JSON", b->path);
		return NULL;
	}
	return b;
}

/* The name an index entry gives its image: Docker's and containerd's, else OCI's ref. */
static const char *entry_name(json_t *desc)
{
	json_t *ann = json_object_get(desc, "annotations");
	const char *name = json_string_value(json_object_get(ann, "io.containerd.image.name"));

	return name ? name : json_string_value(json_object_get(ann, REF_NAME));
}

static bool same_name(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* One image of the archive: an archive (docker save a b) may hold several. */
struct image_sel {
	bool several;		/* the archive holds more than this one */
	const char *name;	/* its name there (OCI: the index entries'; docker: RepoTags[0]) */
	size_t index;		/* docker: its entry in manifest.json */
};

/* For lp_index_pick: the archive's own indexes, and the image sel names. */
struct pick_ctx {
	struct importer *im;
	const struct image_sel *sel;
};

static json_t *load_index(void *ctx, json_t *desc, struct lp_err *err)
{
	struct pick_ctx *c = ctx;
	struct blob *b = resolve_desc(c->im, desc, LP_MANIFEST_MAX, true, err);

	return b ? json_incref(b->json) : NULL;
}

static bool keep_named(void *ctx, json_t *desc)
{
	struct pick_ctx *c = ctx;

	return !c->sel->several || same_name(entry_name(desc), c->sel->name);
}

static int resolve_oci(struct importer *im, struct blob *index, const struct image_sel *sel,
		       struct resolved *r, struct lp_err *err)
{
	struct pick_ctx ctx = { im, sel };
	const struct lp_index_pick pick = { &im->want, load_index, keep_named, &ctx };
	json_t *name_desc = NULL, *layers;
	cleanup_json json_t *desc = NULL;
	struct blob *manifest;
	struct lp_manifest m;
	size_t i;

	desc = lp_index_pick(index->json, &pick, &name_desc, err);
	if (!desc || !(manifest = resolve_desc(im, desc, LP_MANIFEST_MAX, true, err)))
		return -1;
	if (lp_manifest_check(manifest->json, json_string_value(json_object_get(desc, "mediaType")),
			      &m, err) < 0)
		return lp_prefix(err, "manifest");
	memcpy(r->manifest_digest, manifest->digest, 32);
	r->name = entry_name(name_desc);
	r->config = resolve_desc(im, json_object_get(manifest->json, "config"), LP_CONFIG_MAX, true,
				 err);
	if (!r->config)
		return lp_prefix(err, "image config");
	layers = json_object_get(manifest->json, "layers");
	for (i = 0; i < m.n_layers; i++) {
		r->layers[i] = resolve_desc(im, json_array_get(layers, i), INT64_MAX, false, err);
		if (!r->layers[i])
			return lp_prefix(err, "layer %zu", i + 1);
	}
	r->n_layers = m.n_layers;
	r->format = "oci";
	return 0;
}

static int resolve_docker(struct importer *im, struct blob *mf, const struct image_sel *sel,
			  struct resolved *r, struct lp_err *err)
{
	json_t *m = json_array_get(mf->json, sel->index), *layers, *l;
	const char *cfg = json_string_value(json_object_get(m, "Config"));
	unsigned char d[32];
	char digest[80];
	size_t i;

	if (!m || !cfg)
		return lp_fail(err, EBADMSG, "manifest.json: no image in it");
	r->name = json_string_value(json_array_get(json_object_get(m, "RepoTags"), 0));
	r->config = find_path(im, cfg);
	if (!r->config || !r->config->json)
		return lp_fail(err, EBADMSG, "manifest.json: config %s missing or not JSON", cfg);
	/* Docker names the config by its digest: check it when the name says one. */
	snprintf(digest, sizeof(digest), "sha256:%.64s",
		 strrchr(cfg, '/') ? strrchr(cfg, '/') + 1 : cfg);
	if (lp_digest_parse(digest, d, NULL) == 0 && memcmp(d, r->config->digest, 32))
		return lp_fail(err, EBADMSG, "%s: content does not match its name", cfg);
	memcpy(r->manifest_digest, mf->digest, 32);
	layers = json_object_get(m, "Layers");
	if (!json_is_array(layers) || json_array_size(layers) > ARRAY_SIZE(r->layers))
		return lp_fail(err, EBADMSG, "manifest.json: bad or too many layers");
	json_array_foreach(layers, i, l) {
		r->layers[i] = find_path(im, jstr(l));
		if (!r->layers[i] || !r->layers[i]->layer)
			return lp_fail(err, EBADMSG, "manifest.json: layer %s missing or not a layer",
				       jstr(l));
	}
	r->n_layers = json_array_size(layers);
	r->format = "docker";
	return 0;
}

/* The config is for the platform, and each layer's uncompressed digest the one it promises. */
static int check_diff_ids(struct resolved *r, const struct lp_platform_want *want,
			  struct lp_err *err)
{
	unsigned char ids[LP_MANIFEST_LAYERS_MAX][32];
	size_t i;

	if (lp_config_check(r->config->json, want, r->n_layers, ids, err) < 0)
		return -1;
	for (i = 0; i < r->n_layers; i++) {
		if (!r->layers[i]->layer)
			return lp_fail(err, EBADMSG, "%s is not a layer", r->layers[i]->path);
		if (memcmp(ids[i], r->layers[i]->diff_id, 32))
			return lp_fail(err, EBADMSG,
				       "layer %zu (%s): uncompressed content does not match "
				       "the config's diff_id",
				       i + 1, r->layers[i]->path);
	}
	return 0;
}

/*
 * The images of the archive: the distinct names of the index's entries, or
 * manifest.json's entries.  -1 when there are more than v holds (max).
 */
static ssize_t list_images(json_t *index, json_t *mf, struct image_sel *v, size_t max)
{
	json_t *d;
	size_t i, j, n = 0;

	if (index) {
		json_array_foreach(json_object_get(index, "manifests"), i, d) {
			const char *name = entry_name(d);

			for (j = 0; j < n && !same_name(v[j].name, name); j++)
				;
			if (j < n)
				continue;
			if (n == max)
				return -1;
			v[n++] = (struct image_sel){ .name = name };
		}
	} else {
		json_array_foreach(mf, i, d) {
			json_t *tags = json_object_get(d, "RepoTags");

			if (n == max)
				return -1;
			v[n++] = (struct image_sel){
				.name = json_string_value(json_array_get(tags, 0)),
				.index = i,
			};
		}
	}
	for (i = 0; i < n; i++)
		v[i].several = n > 1;
	return (ssize_t)n;
}

/* What the user's --name picks: the image it names, as the archive or the store would. */
static bool name_picks(const char *want, const char *file, const char *name)
{
	cleanup_free char *stored = name ? lp_import_archive_name(file, name) : NULL;
	char tagged[512];

	snprintf(tagged, sizeof(tagged), "%s:latest", want);
	return name && (!strcmp(want, name) || !strcmp(tagged, name) ||
			(stored && (!strcmp(want, stored) || !strcmp(tagged, stored))));
}

static int several_images(const struct image_sel *v, size_t n, const char *why,
			  struct lp_err *err)
{
	char list[512] = "";
	size_t i, used = 0;

	for (i = 0; i < n && used < sizeof(list); i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
					 v[i].name ? v[i].name : "(no name)");
	return lp_fail(err, EINVAL, "it holds %zu images (%s): %s", n, list, why);
}

/*
 * The images to import: the archive's only one; the one --name picks when
 * it holds several; or, without --name, all of them, each by its own name.
 */
static ssize_t select_images(struct importer *im, struct image_sel *v, size_t n,
			     struct lp_err *err)
{
	size_t i, pick = n;

	if (n <= 1)
		return (ssize_t)n;
	if (!im->o->name) {
		for (i = 0; i < n; i++)
			if (!v[i].name)
				return several_images(v, n, "one has no name: import a named "
							   "one with --name NAME", err);
		return (ssize_t)n;
	}
	for (i = 0; i < n; i++) {
		if (!name_picks(im->o->name, im->o->file, v[i].name))
			continue;
		if (pick < n)
			return several_images(v, n, "--name matches more than one", err);
		pick = i;
	}
	if (pick == n)
		return several_images(v, n, "--name must name one of them", err);
	v[0] = v[pick];
	return 1;
}

int lp_import_resolve_and_commit(struct importer *im, char **name_out, struct lp_err *err)
{
	struct blob *index = find_path(im, "index.json");
	struct blob *mf = find_path(im, "manifest.json");
	struct image_sel sel[IMAGES_MAX];
	struct resolved *r;
	char *names = NULL;
	ssize_t n, i;
	int rc = 0;

	if (index && !index->json)
		index = NULL;
	if (!index && !(mf && json_is_array(mf->json)))
		return lp_fail(err, EBADMSG, "neither an OCI layout (index.json) nor a docker save "
					     "archive (manifest.json)");
	n = list_images(index ? index->json : NULL, mf ? mf->json : NULL, sel, IMAGES_MAX);
	if (n < 0)
		return lp_fail(err, E2BIG, "it holds more than %d images", IMAGES_MAX);
	if (n == 0 && !index)
		return lp_fail(err, EBADMSG, "manifest.json: no image in it");
	if (n == 0)
		n = 1, sel[0] = (struct image_sel){ 0 }; /* lp_index_pick says what is wrong */
	n = select_images(im, sel, (size_t)n, err);
	if (n < 0)
		return -1;
	r = calloc((size_t)n, sizeof(*r));
	if (!r)
		return lp_fail(err, ENOMEM, "out of memory");
	/* Every image is checked before any is committed. */
	for (i = 0; i < n && rc == 0; i++) {
		rc = index ? resolve_oci(im, index, &sel[i], &r[i], err)
			   : resolve_docker(im, mf, &sel[i], &r[i], err);
		if (rc == 0)
			rc = check_diff_ids(&r[i], &im->want, err);
		if (rc < 0 && sel[i].several)
			lp_prefix(err, "image %s", sel[i].name);
	}
	for (i = 0; i < n && rc == 0; i++) {
		cleanup_free char *one = NULL;
		char *joined = NULL;

		rc = lp_import_commit(im, &r[i], &one, err);
		if (rc == 0 && asprintf(&joined, "%s%s%s", names ? names : "", names ? "\n" : "",
					one) < 0)
			rc = lp_fail(err, ENOMEM, "out of memory");
		if (rc == 0) {
			free(names);
			names = joined;
		}
	}
	free(r);
	if (rc < 0) {
		free(names);
		return -1;
	}
	*name_out = names;
	return 0;
}
