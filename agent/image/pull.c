// SPDX-License-Identifier: Apache-2.0
/*
 * lp_image_pull: resolve a reference to one image manifest, trust it,
 * read its config, then hand the layers the store lacks to pull_blobs.c
 * and commit what came back.  pull.h says in which order, and why.
 */
#include "agent/image/pull.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/image/pull_internal.h"
#include "agent/spec/spec.h"
#include "platform/lib/util.h"

/*
 * Every manifest type limpet reads, always: Docker's registry 2.8 answers
 * 404 for an OCI index or manifest whose type is not accepted, and turns a
 * Docker manifest asked for by tag without its type into schema 1.
 */
static const char *const accept_manifests[] = { LP_MT_OCI_INDEX, LP_MT_OCI_MANIFEST,
						LP_MT_DOCKER_LIST, LP_MT_DOCKER_MANIFEST, NULL };

static void digest_str(const unsigned char d[32], char out[LP_DIGEST_STR_LEN])
{
	memcpy(out, "sha256:", 7);
	lp_hex(d, 32, out + 7);
}

/* ---------------------------------------------------------------- step 1: resolve */

/* A manifest or index named by a descriptor: its digest and size both checked. */
static int get_by_descriptor(struct puller *p, json_t *desc, struct lp_registry_doc *out,
			     struct lp_descriptor *d, struct lp_err *err)
{
	char digest[LP_DIGEST_STR_LEN];

	if (lp_descriptor_check(desc, LP_MANIFEST_MAX, d, err) < 0)
		return -1;
	digest_str(d->digest, digest);
	if (lp_pull_manifest(p, digest, true, accept_manifests, LP_MANIFEST_MAX, out, err) < 0)
		return -1;
	if (out->len != d->size)
		return lp_fail(err, EBADMSG, "%s: manifest %s: %zu bytes, not the %llu described",
			       lp_pull_name(p), digest, out->len,
			       (unsigned long long)d->size);
	return 0;
}

/* lp_index_pick's loader for an index within the index. */
static json_t *load_nested(void *ctx, json_t *desc, struct lp_err *err)
{
	struct puller *p = ctx;
	cleanup_registry_doc struct lp_registry_doc doc = { 0 };
	struct lp_descriptor d;

	if (get_by_descriptor(p, desc, &doc, &d, err) < 0)
		return NULL;
	return lp_manifest_parse(doc.body, doc.len, err);
}

static int copy_doc(struct lp_registry_doc *to, const struct lp_registry_doc *from,
		    struct lp_err *err)
{
	*to = *from;
	to->body = malloc(from->len + 1);
	if (!to->body)
		return lp_fail(err, ENOMEM, "out of memory");
	memcpy(to->body, from->body, from->len + 1);
	return 0;
}

/* The reference -> its top manifest -> (through an index) the image manifest. */
static int resolve(struct puller *p, struct lp_err *err)
{
	const char *ref = p->ref.digest[0] ? p->ref.digest : p->ref.tag;
	struct lp_index_pick pick = { .want = &p->want, .load = load_nested, .ctx = p };
	cleanup_json json_t *top = NULL, *image = NULL, *chosen = NULL;
	enum lp_manifest_kind kind;
	struct lp_descriptor d;

	if (lp_pull_manifest(p, ref, p->ref.digest[0], accept_manifests, LP_MANIFEST_MAX, &p->top,
			     err) < 0)
		return -1;
	digest_str(p->top.digest, p->res->ref_digest);
	top = lp_manifest_parse(p->top.body, p->top.len, err);
	if (!top || lp_manifest_kind(top, p->top.media_type, &kind, err) < 0)
		return lp_prefix(err, "%s: manifest %s", lp_pull_name(p), ref);
	if (kind == LP_MANIFEST_IMAGE) {
		if (copy_doc(&p->image, &p->top, err) < 0)
			return -1;
		if (lp_manifest_check(top, p->top.media_type, &p->m, err) < 0)
			return lp_prefix(err, "%s: manifest %s", lp_pull_name(p), ref);
		return 0;
	}
	chosen = lp_index_pick(top, &pick, NULL, err);
	if (!chosen)
		return lp_prefix(err, "%s", p->res->ref);
	if (get_by_descriptor(p, chosen, &p->image, &d, err) < 0)
		return -1;
	image = lp_manifest_parse(p->image.body, p->image.len, err);
	if (!image || lp_manifest_check(image, d.media_type, &p->m, err) < 0)
		return lp_prefix(err, "%s: manifest %s", lp_pull_name(p),
				 p->image.digest_str);
	return 0;
}

/* ---------------------------------------------------------------- step 1: trust */

static int trust(struct puller *p, struct lp_err *err)
{
	const struct lp_pull_opts *o = p->o;

	if (o->pinned_digest) {
		if (strcmp(o->pinned_digest, p->res->ref_digest))
			return lp_fail(err, EBADMSG, "%s is %s now, not the %s the deployment pins",
				       p->res->ref, p->res->ref_digest, o->pinned_digest);
		snprintf(p->res->signed_by, sizeof(p->res->signed_by),
			 "a signed deployment (pinned digest)");
		return 0;
	}
	if (lp_pull_check_signature(p, err) == 0)
		return 0;
	if (!o->allow_unsigned || err->code == ENOMEM)
		return -1;
	fprintf(stderr, "limpet: %s; pulling it because allow_unsigned is set\n", err->msg);
	return 0;
}

/* ---------------------------------------------------------------- step 2: config, store */

static int read_config(struct puller *p, struct lp_err *err)
{
	char digest[LP_DIGEST_STR_LEN];
	cleanup_free char *body = NULL;

	digest_str(p->m.config.digest, digest);
	if (p->m.config.size > LP_CONFIG_MAX)
		return lp_fail(err, EFBIG, "%s: config: %llu bytes is more than the %u allowed",
			       lp_pull_name(p), (unsigned long long)p->m.config.size,
			       LP_CONFIG_MAX);
	if (lp_pull_blob(p, "config", digest, (int64_t)p->m.config.size, &body, err) < 0)
		return -1;
	p->config = lp_manifest_parse(body, p->m.config.size, err);
	if (!p->config || lp_config_check(p->config, &p->want, p->m.n_layers, p->diff_ids, err) < 0)
		return lp_prefix(err, "%s: config %s", lp_pull_name(p), digest);
	return 0;
}

/*
 * Which layers to fetch: not those in the store (each was checked against
 * its diff_id when it came), nor a second copy of one this pull unpacks.
 * Under the store's lock, so gc cannot take a layer counted on here.
 */
static int plan_layers(struct puller *p, struct lp_err *err)
{
	char hex[LP_SHA256_HEX_LEN + 1], dir[PATH_MAX];
	size_t i, j;

	for (i = 0; i < p->m.n_layers; i++) {
		struct lp_pull_layer *l = &p->res->layers[i];

		digest_str(p->m.layers[i].digest, l->digest);
		digest_str(p->diff_ids[i], l->diff_id);
		l->size = (int64_t)p->m.layers[i].size;
		lp_hex(p->diff_ids[i], 32, hex);
		if (lp_store_layer_dir(&p->st, hex, dir, sizeof(dir), err) < 0)
			return -1;
		p->need[i] = access(dir, F_OK) != 0;
		for (j = 0; j < i && p->need[i]; j++)
			if (p->need[j] && !memcmp(p->diff_ids[i], p->diff_ids[j], 32))
				p->need[i] = false;
		l->skipped = !p->need[i];
		/* the record's size counts every layer, those already here too */
		if (!p->need[i] && access(dir, F_OK) == 0)
			p->unpacked[i] = lp_tree_bytes(dir);
		if (p->need[i] &&
		    lp_store_staging(&p->st, p->layer_dir[i], sizeof(p->layer_dir[i]), err) < 0)
			return -1;
	}
	p->res->n_layers = p->m.n_layers;
	return 0;
}

/* ---------------------------------------------------------------- step 4: commit */

static json_t *make_record(struct puller *p, const char *name)
{
	json_t *layers = json_array(), *rec;
	char hex[LP_SHA256_HEX_LEN + 1];
	uint64_t size = 0;
	size_t i;

	for (i = 0; layers && i < p->m.n_layers; i++) {
		lp_hex(p->diff_ids[i], 32, hex);
		json_array_append_new(layers, json_string(hex));
		size += p->unpacked[i];
	}
	rec = json_pack("{s:s, s:s, s:s, s:o, s:O, s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "name",
			name, "digest", p->res->digest, "platform", p->res->platform, "layers",
			layers, "config", p->config, "unpacked_size", (json_int_t)size,
			"imported_at", (json_int_t)lp_wall_s(), "source", p->res->ref, "signed_by",
			p->res->signed_by, "format", "registry", "ref_digest", p->res->ref_digest,
			"registry", p->res->registry);
	return rec;
}

/* The name in the store: as asked, else the normalised reference (without a tag that makes it too long). */
static int store_name(struct puller *p, char *out, size_t len, struct lp_err *err)
{
	struct lp_image_ref short_ref = p->ref;

	if (p->o->name)
		return lp_path(out, len, err, "%s", p->o->name);
	if (strlen(p->res->ref) <= LP_IMAGE_NAME_MAX)
		return lp_path(out, len, err, "%s", p->res->ref);
	short_ref.tag[0] = '\0';
	if (lp_image_ref_format(&short_ref, out, len) < 0)
		return lp_fail(err, ENAMETOOLONG, "%s: too long for an image name", p->res->ref);
	return 0;
}

static int commit(struct puller *p, struct lp_err *err)
{
	char hex[LP_SHA256_HEX_LEN + 1], name[LP_IMAGE_NAME_MAX + 128];
	cleanup_json json_t *rec = NULL;
	size_t i;

	if (store_name(p, name, sizeof(name), err) < 0 || lp_image_name_valid(name, err) < 0)
		return -1;
	for (i = 0; i < p->m.n_layers; i++) {
		if (!p->need[i])
			continue;
		lp_hex(p->diff_ids[i], 32, hex);
		if (lp_store_commit_layer(&p->st, p->layer_dir[i], hex, err) < 0)
			return -1;
	}
	rec = make_record(p, name);
	if (!rec)
		return lp_fail(err, ENOMEM, "out of memory");
	if (lp_store_save_image(&p->st, rec, err) < 0)
		return -1;
	p->res->name = strdup(name);
	return p->res->name ? 0 : lp_fail(err, ENOMEM, "out of memory");
}

/* ---------------------------------------------------------------- has it changed? */

static void copy_field(json_t *rec, const char *key, char *out, size_t len)
{
	const char *v = json_string_value(json_object_get(rec, key));

	snprintf(out, len, "%s", v ? v : "");
}

/*
 * The image the store has under this name, if it was pulled from this very
 * tag for this platform and a HEAD of the tag (at the registry itself)
 * still says its digest.  A HEAD is only a hint, but all it can decide is
 * to keep what was verified when it came; any doubt means a full pull.
 */
static bool unchanged(struct puller *p, const char *name)
{
	char head[LP_DIGEST_STR_LEN], stored_ref[sizeof(p->res->ref)];
	struct lp_registry *origin = p->src[p->n_src - 1].reg;
	cleanup_json json_t *rec = NULL;
	struct lp_err ignored;

	if (p->ref.digest[0] || p->o->pinned_digest ||
	    lp_store_load_image(p->host, name, &rec, &ignored) < 0)
		return false;
	copy_field(rec, "source", stored_ref, sizeof(stored_ref));
	copy_field(rec, "ref_digest", p->res->ref_digest, sizeof(p->res->ref_digest));
	if (strcmp(stored_ref, p->res->ref) || !p->res->ref_digest[0] ||
	    strcmp(json_string_value(json_object_get(rec, "platform")) ?: "", p->res->platform))
		return false;
	if (lp_registry_head_manifest(origin, p->ref.tag, accept_manifests, head, sizeof(head), &ignored) <=
		    0 ||
	    strcmp(head, p->res->ref_digest))
		return false;
	copy_field(rec, "digest", p->res->digest, sizeof(p->res->digest));
	copy_field(rec, "signed_by", p->res->signed_by, sizeof(p->res->signed_by));
	copy_field(rec, "registry", p->res->registry, sizeof(p->res->registry));
	p->res->name = strdup(name);
	p->res->unchanged = p->res->name != NULL;
	return p->res->unchanged;
}

/* ---------------------------------------------------------------- the whole pull */

static int prepare(struct puller *p, struct lp_err *err)
{
	if (lp_image_ref_parse(p->o->ref, &p->ref, err) < 0 ||
	    lp_platform_want(&p->want, p->o->platform, err) < 0)
		return -1;
	if (lp_image_ref_format(&p->ref, p->res->ref, sizeof(p->res->ref)) < 0)
		return lp_fail(err, ENAMETOOLONG, "%s: reference too long", p->o->ref);
	snprintf(p->res->platform, sizeof(p->res->platform), "%s", p->want.name);
	if (lp_path(p->blob_dir, sizeof(p->blob_dir), err, "%s/downloads/blobs", p->host->root) <
	    0)
		return -1;
	p->budget = p->host->cfg.image_max_size;
	return lp_pull_open_sources(p, err);
}

static void puller_free(struct puller *p)
{
	lp_pull_close_sources(p);
	lp_registry_doc_free(&p->top);
	lp_registry_doc_free(&p->image);
	json_decref(p->config);
	lp_store_close(&p->st); /* also removes what is left in staging */
}

int lp_image_pull(const struct lp_host *host, const struct lp_pull_opts *o,
		  struct lp_pull_result *res, struct lp_err *err)
{
	struct puller *p = calloc(1, sizeof(*p));
	char name[LP_IMAGE_NAME_MAX + 128];
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (!p)
		return lp_fail(err, ENOMEM, "out of memory");
	p->host = host;
	p->o = o;
	p->res = res;
	p->st.lock_fd = -1;
	if (prepare(p, err) < 0 || store_name(p, name, sizeof(name), err) < 0)
		goto out;
	if (unchanged(p, name)) {
		rc = 0;
		goto out;
	}
	/* Everything that talks to the registry before the store is locked. */
	if (resolve(p, err) < 0 || trust(p, err) < 0 || read_config(p, err) < 0)
		goto out;
	memcpy(res->digest, p->image.digest_str, sizeof(res->digest));
	if (lp_store_open(host, &p->st, err) < 0 || plan_layers(p, err) < 0 ||
	    lp_pull_layers(p, err) < 0 || commit(p, err) < 0)
		goto out;
	rc = 0;
out:
	puller_free(p);
	free(p);
	return rc;
}

void lp_pull_result_free(struct lp_pull_result *res)
{
	free(res->name);
	res->name = NULL;
}
