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

#include "platform/board.h"
#include "platform/lib/util.h"
#include "agent/image/import_internal.h"
#include "agent/image/manifest.h"

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

static struct blob *find_digest(struct importer *im, const char *digest, struct lp_err *err)
{
	unsigned char d[32];
	char path[128];
	struct blob *b;
	size_t i;

	if (lp_digest_parse(digest ? digest : "", d, err) < 0)
		return NULL;
	snprintf(path, sizeof(path), "blobs/sha256/%s", digest + strlen("sha256:"));
	b = find_path(im, path);
	for (i = 0; !b && i < im->n; i++)
		if (!im->v[i].link && !memcmp(im->v[i].digest, d, sizeof(d)))
			b = &im->v[i];
	if (!b) {
		lp_fail(err, ENOENT, "blob %.19s... is not in the archive", digest);
		return NULL;
	}
	/* The bytes we read must be the ones the descriptor names. */
	if (memcmp(b->digest, d, sizeof(d))) {
		lp_fail(err, EBADMSG, "%s: content does not match its digest %.19s...", b->path,
			digest);
		return NULL;
	}
	return b;
}

/* A descriptor's target, checked by digest and size; JSON targets must parse. */
static struct blob *resolve_desc(struct importer *im, json_t *desc, bool want_json,
				 struct lp_err *err)
{
	json_t *size = json_object_get(desc, "size");
	struct blob *b = find_digest(im, json_string_value(json_object_get(desc, "digest")), err);

	if (!b)
		return NULL;
	if (json_is_integer(size) && (uint64_t)json_integer_value(size) != b->size) {
		lp_fail(err, EBADMSG, "%s: %llu bytes, its descriptor says %lld", b->path,
			(unsigned long long)b->size, (long long)json_integer_value(size));
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

/* None of the index's entries (named image, when filter) is for platform: say what is. */
static void no_platform(struct importer *im, json_t *list, bool filter, const char *image,
			const char *platform, struct lp_err *err)
{
	char have[256] = "";
	size_t i, used = 0;
	json_t *d;

	json_array_foreach(list, i, d) {
		json_t *p = json_object_get(d, "platform");
		const char *variant = json_string_value(json_object_get(p, "variant"));

		if ((filter && !same_name(entry_name(d), image)) || used >= sizeof(have))
			continue;
		if (!p)
			used += (size_t)snprintf(have + used, sizeof(have) - used,
						 "%s(no platform)", used ? ", " : "");
		else
			used += (size_t)snprintf(have + used, sizeof(have) - used, "%s%s/%s%s%s",
						 used ? ", " : "", jstr(json_object_get(p, "os")),
						 jstr(json_object_get(p, "architecture")),
						 variant ? "/" : "", variant ? variant : "");
	}
	lp_fail(err, ENOENT, "the archive has no image for %s%s, only for %s", platform,
		im->o->platform ? "" : " (this host; --platform picks another)", have);
}

/*
 * Pick the manifest for our platform from an index (descending into nested
 * ones); at the top, only among the entries named `image` (one image of an
 * archive that holds several; all of them when there is one).
 */
static json_t *pick_manifest(struct importer *im, json_t *index, const char *platform,
			     bool filter, const char *image, json_t **name_desc,
			     struct lp_err *err)
{
	json_t *list = json_object_get(index, "manifests"), *d, *chosen = NULL;
	struct blob *nested;
	size_t i, depth, n;

	for (depth = 0; depth < 4; depth++) {
		if (!json_is_array(list) || !json_array_size(list)) {
			lp_fail(err, EBADMSG, "image index lists no manifests");
			return NULL;
		}
		n = 0;
		json_array_foreach(list, i, d)
			n += !(filter && depth == 0) || same_name(entry_name(d), image);
		chosen = NULL;
		json_array_foreach(list, i, d) {
			json_t *p = json_object_get(d, "platform");

			if (filter && depth == 0 && !same_name(entry_name(d), image))
				continue;
			if ((!p && n == 1) || (p && lp_platform_matches(p, platform))) {
				chosen = d;
				break;
			}
		}
		if (!chosen) {
			no_platform(im, list, filter && depth == 0, image, platform, err);
			return NULL;
		}
		if (!*name_desc)
			*name_desc = chosen;
		if (!lp_manifest_is_index(chosen))
			return chosen;
		nested = resolve_desc(im, chosen, true, err);
		if (!nested)
			return NULL;
		list = json_object_get(nested->json, "manifests");
	}
	lp_fail(err, ELOOP, "image indexes nested too deep");
	return NULL;
}

/* One image of the archive: an archive (docker save a b) may hold several. */
struct image_sel {
	bool several;		/* the archive holds more than this one */
	const char *name;	/* its name there (OCI: the index entries'; docker: RepoTags[0]) */
	size_t index;		/* docker: its entry in manifest.json */
};

static int resolve_oci(struct importer *im, struct blob *index, const struct image_sel *sel,
		       struct resolved *r, struct lp_err *err)
{
	const char *platform = im->o->platform ? im->o->platform : lp_board_platform();
	json_t *name_desc = NULL, *desc, *layers, *d;
	struct blob *manifest;
	size_t i;

	desc = pick_manifest(im, index->json, platform, sel->several, sel->name, &name_desc, err);
	if (!desc || !(manifest = resolve_desc(im, desc, true, err)))
		return -1;
	memcpy(r->manifest_digest, manifest->digest, 32);
	r->name = entry_name(name_desc);
	r->config = resolve_desc(im, json_object_get(manifest->json, "config"), true, err);
	if (!r->config)
		return lp_prefix(err, "image config");
	layers = json_object_get(manifest->json, "layers");
	if (!json_is_array(layers) || json_array_size(layers) > ARRAY_SIZE(r->layers))
		return lp_fail(err, EBADMSG, "manifest: bad or too many layers");
	json_array_foreach(layers, i, d) {
		if (lp_manifest_check_layer_type(d, err) < 0)
			return -1;
		r->layers[i] = resolve_desc(im, d, false, err);
		if (!r->layers[i])
			return lp_prefix(err, "layer %zu", i + 1);
	}
	r->n_layers = json_array_size(layers);
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

/* Every layer's uncompressed digest must be the one the config promises. */
static int check_diff_ids(struct resolved *r, const char *platform, bool platform_given,
			  struct lp_err *err)
{
	json_t *cfg = r->config->json;
	json_t *ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	const char *arch = json_string_value(json_object_get(cfg, "architecture"));
	const char *os = json_string_value(json_object_get(cfg, "os"));
	unsigned char d[32];
	size_t i;

	if (json_array_size(ids) != r->n_layers)
		return lp_fail(err, EBADMSG, "config lists %zu diff_ids for %zu layers",
			       json_array_size(ids), r->n_layers);
	for (i = 0; i < r->n_layers; i++) {
		if (!r->layers[i]->layer)
			return lp_fail(err, EBADMSG, "%s is not a layer", r->layers[i]->path);
		if (lp_digest_parse(jstr(json_array_get(ids, i)), d, err) < 0)
			return lp_prefix(err, "config diff_ids[%zu]", i);
		if (memcmp(d, r->layers[i]->diff_id, 32))
			return lp_fail(err, EBADMSG,
				       "layer %zu (%s): uncompressed content does not match "
				       "the config's diff_id",
				       i + 1, r->layers[i]->path);
	}
	/* An index may not say: the config always does. */
	if (arch && os) {
		char have[96];

		snprintf(have, sizeof(have), "%s/%s", os, arch);
		if (strncmp(platform, have, strlen(have)))
			return lp_fail(err, ENOEXEC, "the image is for %s, not %s%s", have, platform,
				       platform_given ? "" :
				       " (this host; --platform imports one for another board)");
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
	const char *platform = im->o->platform ? im->o->platform : lp_board_platform();
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
		n = 1, sel[0] = (struct image_sel){ 0 }; /* pick_manifest says what is wrong */
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
			rc = check_diff_ids(&r[i], platform, im->o->platform != NULL, err);
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
