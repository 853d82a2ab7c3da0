// SPDX-License-Identifier: Apache-2.0
/*
 * What a registry (or an archive) says about an image, through
 * agent/image/manifest.c: a document parsed, judged as an index or a
 * manifest against the type it was served as, an index's manifest picked
 * for a platform (nested indexes from later parts), the same bytes judged
 * as a config.  The input is parts separated by FZ_SEP: the document, the
 * Content-Type (empty: none), the platform (empty: this host's), then the
 * documents the loader hands back for nested indexes, in order.
 */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>

#include "agent/image/manifest.h"

struct loads {
	const struct fz_part *parts;
	size_t n, next;
};

static json_t *load(void *ctx, json_t *desc, struct lp_err *err)
{
	struct loads *l = ctx;
	const struct fz_part *p;

	(void)desc;
	if (l->next >= l->n) {
		lp_fail(err, ENOENT, "no such index");
		return NULL;
	}
	p = &l->parts[l->next++];
	return lp_manifest_parse(p->p, p->len, err);
}

static char *part_str(const struct fz_part *p)
{
	char *s = strndup(p->p, p->len);

	if (!s)
		fz_fail("out of memory");
	return s;
}

static void pick(json_t *doc, const struct lp_platform_want *w, struct loads *l)
{
	const struct lp_index_pick p = { w, load, NULL, l };
	struct lp_descriptor d;
	struct lp_err err = { 0 };
	json_t *top = NULL, *desc = lp_index_pick(doc, &p, &top, &err);
	const char *t;

	if (!desc) {
		fz_check_err(&err);
		return;
	}
	/* What is picked is a checked descriptor of a manifest, reached from the top. */
	if (!top || lp_descriptor_check(desc, LP_MANIFEST_MAX, &d, &err) < 0)
		fz_fail("picked a bad descriptor: %s", err.msg);
	t = json_string_value(json_object_get(desc, "mediaType"));
	if (!strcmp(t, LP_MT_OCI_INDEX) || !strcmp(t, LP_MT_DOCKER_LIST))
		fz_fail("picked an index");
	json_decref(desc);
}

static void manifest(json_t *doc, const char *served)
{
	struct lp_manifest *m = malloc(sizeof(*m));
	struct lp_err err = { 0 };
	uint64_t sum = 0;
	size_t i;

	if (!m)
		fz_fail("out of memory");
	if (lp_manifest_check(doc, served, m, &err) < 0) {
		fz_check_err(&err);
	} else {
		if (m->n_layers > LP_MANIFEST_LAYERS_MAX || m->config.size > LP_CONFIG_MAX)
			fz_fail("a manifest over the caps taken");
		for (i = 0; i < m->n_layers; i++)
			sum += m->layers[i].size;
		if (sum != m->layers_size)
			fz_fail("layers_size is not the sum of the layers' sizes");
	}
	free(m);
}

static void config(json_t *doc, const struct lp_platform_want *w)
{
	json_t *ids = json_object_get(json_object_get(doc, "rootfs"), "diff_ids");
	size_t n = json_array_size(ids) % (LP_MANIFEST_LAYERS_MAX + 1);
	unsigned char (*out)[32] = malloc((n ? n : 1) * sizeof(*out));
	struct lp_err err = { 0 };

	if (!out)
		fz_fail("out of memory");
	if (lp_config_check(doc, w, n, out, &err) < 0)
		fz_check_err(&err);
	else if (strcmp(json_string_value(json_object_get(doc, "os")), w->v[0].os) ||
		 strcmp(json_string_value(json_object_get(doc, "architecture")), w->v[0].arch))
		fz_fail("a config for another platform taken");
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_part parts[FZ_PARTS_MAX];
	size_t n = fz_split(data, size, parts, FZ_PARTS_MAX);
	struct loads l = { parts + 3, n > 3 ? n - 3 : 0, 0 };
	struct lp_platform_want w;
	enum lp_manifest_kind kind;
	struct lp_err err = { 0 };
	char *served = n > 1 && parts[1].len ? part_str(&parts[1]) : NULL;
	char *platform = n > 2 && parts[2].len ? part_str(&parts[2]) : NULL;
	json_t *doc = lp_manifest_parse(parts[0].p, parts[0].len, &err);

	if (lp_platform_want(&w, platform, &err) < 0) {
		fz_check_err(&err);
	} else if (doc) {
		if (w.n < 1 || w.n > LP_PLATFORM_WANTED_MAX)
			fz_fail("%zu platforms wanted", w.n);
		if (lp_manifest_kind(doc, served, &kind, &err) < 0)
			fz_check_err(&err);
		else if (kind == LP_MANIFEST_INDEX)
			pick(doc, &w, &l);
		else
			manifest(doc, served);
		config(doc, &w);
	} else {
		fz_check_err(&err);
	}
	json_decref(doc);
	free(served);
	free(platform);
	return 0;
}
