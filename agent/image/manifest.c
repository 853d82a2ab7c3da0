// SPDX-License-Identifier: Apache-2.0
#include "agent/image/manifest.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/trust/trust.h"
#include "platform/board.h"
#include "platform/lib/util.h"

/* A JSON string's value, or "" when it is missing or not a string. */
static const char *jstr(json_t *v)
{
	const char *s = json_string_value(v);

	return s ? s : "";
}

/* ---------------------------------------------------------------- platforms */

/*
 * c/image 5.23.1's table: an architecture's variants, newest first; a CPU
 * of one runs the ones after it.  amd64 has none there, so amd64/v3 does
 * not fall back to v2.
 */
static const struct {
	const char *arch;
	const char *variants[5];	/* NULL-terminated */
} compat[] = {
	{ "arm", { "v8", "v7", "v6", "v5", NULL } },
	{ "arm64", { "v8", NULL } },
};

/* One word of a platform, as OCI's os, architecture and variant values look. */
static bool platform_word(const char *s, size_t len, char *out, size_t cap)
{
	size_t i;

	if (!len || len >= cap)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(islower(c) || isdigit(c) || c == '_' || c == '.' || c == '-'))
			return false;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

/* "os/arch[/variant]" into p. */
static bool platform_parse(const char *s, struct lp_platform *p)
{
	const char *arch = strchr(s, '/');
	const char *variant = arch ? strchr(arch + 1, '/') : NULL;

	if (!arch || !platform_word(s, (size_t)(arch - s), p->os, sizeof(p->os)))
		return false;
	arch++;
	if (!variant)
		return platform_word(arch, strlen(arch), p->arch, sizeof(p->arch));
	return platform_word(arch, (size_t)(variant - arch), p->arch, sizeof(p->arch)) &&
	       platform_word(variant + 1, strlen(variant + 1), p->variant, sizeof(p->variant));
}

static void want_add(struct lp_platform_want *w, const struct lp_platform *base,
		     const char *variant)
{
	struct lp_platform *p = &w->v[w->n++];

	*p = *base;
	snprintf(p->variant, sizeof(p->variant), "%s", variant);
}

int lp_platform_want(struct lp_platform_want *w, const char *platform, struct lp_err *err)
{
	static const char *const unknown[] = { NULL };
	const char *s = platform ? platform : lp_board_platform();
	const char *const *known = unknown;
	struct lp_platform asked = { 0 };
	size_t i;

	memset(w, 0, sizeof(*w));
	w->this_host = !platform;
	snprintf(w->name, sizeof(w->name), "%s", s);
	if (!platform_parse(s, &asked))
		return lp_fail(err, EINVAL, "platform %.80s: not OS/ARCH or OS/ARCH/VARIANT "
					    "(e.g. linux/arm64, linux/arm/v7)",
			       w->name);
	for (i = 0; i < ARRAY_SIZE(compat); i++)
		if (!strcmp(asked.arch, compat[i].arch))
			known = compat[i].variants;
	if (!asked.variant[0]) {
		want_add(w, &asked, "");
		for (i = 0; known[i]; i++)
			want_add(w, &asked, known[i]);
		return 0;
	}
	for (i = 0; known[i] && strcmp(known[i], asked.variant); i++)
		;
	if (!known[i])
		want_add(w, &asked, asked.variant); /* one the table does not know */
	for (; known[i]; i++)
		want_add(w, &asked, known[i]);
	want_add(w, &asked, "");
	return 0;
}

/* Exactly, as c/image's MatchesPlatform: no variant is the variant "". */
static bool platform_is(json_t *p, const struct lp_platform *want)
{
	json_t *variant = json_object_get(p, "variant");

	if (variant && !json_is_string(variant))
		return false;
	return !strcmp(want->os, jstr(json_object_get(p, "os"))) &&
	       !strcmp(want->arch, jstr(json_object_get(p, "architecture"))) &&
	       !strcmp(want->variant, jstr(json_object_get(p, "variant")));
}

/* ---------------------------------------------------------------- documents */

json_t *lp_manifest_parse(const void *buf, size_t len, struct lp_err *err)
{
	json_error_t jerr;
	json_t *doc;

	if (len > LP_MANIFEST_MAX) {
		lp_fail(err, EFBIG, "%zu bytes is over the %u-byte cap", len, LP_MANIFEST_MAX);
		return NULL;
	}
	/* Two parsers reading a doubled key differently would see two images. */
	doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		lp_fail(err, EBADMSG, "not valid JSON (line %d: %.100s)", jerr.line, jerr.text);
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		lp_fail(err, EBADMSG, "not a JSON object");
		return NULL;
	}
	return doc;
}

static bool is_schema1_type(const char *t)
{
	return !strcmp(t, "application/vnd.docker.distribution.manifest.v1+json") ||
	       !strcmp(t, "application/vnd.docker.distribution.manifest.v1+prettyjws");
}

/* A Content-Type without its parameters, in lower case (media types are not case-sensitive). */
static void bare_type(const char *in, char *out, size_t cap)
{
	size_t n = 0;

	while (*in == ' ' || *in == '\t')
		in++;
	while (*in && *in != ';' && *in != ' ' && *in != '\t' && n + 1 < cap)
		out[n++] = (char)tolower((unsigned char)*in++);
	out[n] = '\0';
}

int lp_manifest_kind(json_t *doc, const char *served_as, enum lp_manifest_kind *kind,
		     struct lp_err *err)
{
	json_t *sv = json_object_get(doc, "schemaVersion");
	json_t *mt = json_object_get(doc, "mediaType");
	const char *own = json_string_value(mt);
	char served[128] = "";
	const char *t;

	if (served_as)
		bare_type(served_as, served, sizeof(served));
	if ((json_is_integer(sv) && json_integer_value(sv) == 1) || is_schema1_type(served) ||
	    (own && is_schema1_type(own)))
		return lp_fail(err, ENOTSUP, "schema 1 manifests are not supported");
	if (!json_is_object(doc))
		return lp_fail(err, EBADMSG, "not a JSON object");
	if (!json_is_integer(sv) || json_integer_value(sv) != 2)
		return lp_fail(err, EBADMSG, "schemaVersion is not 2");
	if (mt && !own)
		return lp_fail(err, EBADMSG, "mediaType is not a string");
	if (own && served[0] && strcmp(own, served))
		return lp_fail(err, EBADMSG, "served as %.100s, but its mediaType says %.100s",
			       served, own);
	t = own ? own : served;
	if (!*t) {
		/* OCI lets a document leave its type out: then its shape says. */
		if (json_object_get(doc, "manifests") && !json_object_get(doc, "layers"))
			t = LP_MT_OCI_INDEX;
		else if (json_object_get(doc, "config") && !json_object_get(doc, "manifests"))
			t = LP_MT_OCI_MANIFEST;
		else
			return lp_fail(err, EBADMSG, "neither an image manifest nor an index");
	}
	if (!strcmp(t, LP_MT_OCI_INDEX) || !strcmp(t, LP_MT_DOCKER_LIST))
		*kind = LP_MANIFEST_INDEX;
	else if (!strcmp(t, LP_MT_OCI_MANIFEST) || !strcmp(t, LP_MT_DOCKER_MANIFEST))
		*kind = LP_MANIFEST_IMAGE;
	else
		return lp_fail(err, ENOTSUP, "media type %.100s is not an image manifest or index", t);
	/* A type the body's shape contradicts would make two readers see two things. */
	if (json_object_get(doc, *kind == LP_MANIFEST_INDEX ? "layers" : "manifests"))
		return lp_fail(err, EBADMSG, "%s",
			       *kind == LP_MANIFEST_INDEX ? "an index with layers in it" :
							    "a manifest with manifests in it");
	return 0;
}

int lp_descriptor_check(json_t *desc, uint64_t max, struct lp_descriptor *d, struct lp_err *err)
{
	json_t *size = json_object_get(desc, "size");
	const char *digest = json_string_value(json_object_get(desc, "digest"));

	if (!json_is_object(desc))
		return lp_fail(err, EBADMSG, "descriptor is not a JSON object");
	d->media_type = json_string_value(json_object_get(desc, "mediaType"));
	if (!d->media_type)
		return lp_fail(err, EBADMSG, "descriptor has no mediaType");
	if (!digest)
		return lp_fail(err, EBADMSG, "descriptor has no digest");
	if (lp_digest_parse(digest, d->digest, err) < 0)
		return -1;
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return lp_fail(err, EBADMSG, "%.19s...: no size, or a negative one", digest);
	d->size = (uint64_t)json_integer_value(size);
	if (d->size > max)
		return lp_fail(err, EFBIG, "%.19s...: %llu bytes is over the %llu-byte cap", digest,
			       (unsigned long long)d->size, (unsigned long long)max);
	return 0;
}

static const char *const layer_types[] = {
	"application/vnd.oci.image.layer.v1.tar",
	"application/vnd.oci.image.layer.v1.tar+gzip",
	"application/vnd.oci.image.layer.v1.tar+zstd",
	"application/vnd.oci.image.layer.nondistributable.v1.tar",
	"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
	"application/vnd.docker.image.rootfs.diff.tar",
	"application/vnd.docker.image.rootfs.diff.tar.gzip",
};

static int check_layer(json_t *desc, struct lp_descriptor *d, struct lp_err *err)
{
	size_t i;

	if (lp_descriptor_check(desc, INT64_MAX, d, err) < 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(layer_types); i++)
		if (!strcmp(d->media_type, layer_types[i]))
			return 0;
	/* Its bytes live at URLs the publisher names, outside anything signed here. */
	if (strstr(d->media_type, ".foreign."))
		return lp_fail(err, ENOTSUP, "foreign layers (%.100s) are not supported",
			       d->media_type);
	return lp_fail(err, ENOTSUP, "layer media type %.100s is not supported", d->media_type);
}

int lp_manifest_check(json_t *doc, const char *served_as, struct lp_manifest *m,
		      struct lp_err *err)
{
	json_t *layers = json_object_get(doc, "layers"), *l;
	enum lp_manifest_kind kind;
	size_t i;

	memset(m, 0, sizeof(*m));
	if (lp_manifest_kind(doc, served_as, &kind, err) < 0)
		return -1;
	if (kind != LP_MANIFEST_IMAGE)
		return lp_fail(err, EBADMSG, "an image index where an image manifest should be");
	if (lp_descriptor_check(json_object_get(doc, "config"), LP_CONFIG_MAX, &m->config, err) < 0)
		return lp_prefix(err, "config");
	if (strcmp(m->config.media_type, LP_MT_OCI_CONFIG) &&
	    strcmp(m->config.media_type, LP_MT_DOCKER_CONFIG))
		return lp_fail(err, ENOTSUP, "config media type %.100s: not a container image",
			       m->config.media_type);
	if (!json_is_array(layers))
		return lp_fail(err, EBADMSG, "manifest: no layers array");
	if (json_array_size(layers) > LP_MANIFEST_LAYERS_MAX)
		return lp_fail(err, E2BIG, "manifest: %zu layers, more than %d",
			       json_array_size(layers), LP_MANIFEST_LAYERS_MAX);
	json_array_foreach(layers, i, l) {
		if (check_layer(l, &m->layers[i], err) < 0)
			return lp_prefix(err, "layer %zu", i + 1);
		/* Each is below 2^63: the sum of 128 cannot wrap. */
		m->layers_size += m->layers[i].size;
	}
	m->n_layers = json_array_size(layers);
	return 0;
}

int lp_config_check(json_t *cfg, const struct lp_platform_want *w, size_t n_layers,
		    unsigned char (*diff_ids)[32], struct lp_err *err)
{
	json_t *rootfs = json_object_get(cfg, "rootfs");
	json_t *ids = json_object_get(rootfs, "diff_ids");
	const char *arch = json_string_value(json_object_get(cfg, "architecture"));
	const char *os = json_string_value(json_object_get(cfg, "os"));
	unsigned char d[32];
	size_t i;

	if (!json_is_object(cfg))
		return lp_fail(err, EBADMSG, "config is not a JSON object");
	if (!os || !arch)
		return lp_fail(err, EBADMSG, "config says no os or architecture");
	/* An index may not say, or lie: the config always says. */
	if (strcmp(os, w->v[0].os) || strcmp(arch, w->v[0].arch))
		return lp_fail(err, ENOEXEC, "the image is for %.32s/%.32s, not %s%s", os, arch,
			       w->name, w->this_host ? " (this host)" : "");
	if (!json_is_array(ids) || strcmp(jstr(json_object_get(rootfs, "type")), "layers"))
		return lp_fail(err, EBADMSG, "config: no rootfs of type layers with diff_ids");
	if (json_array_size(ids) != n_layers)
		return lp_fail(err, EBADMSG, "config lists %zu diff_ids for %zu layers",
			       json_array_size(ids), n_layers);
	for (i = 0; i < n_layers; i++) {
		if (lp_digest_parse(jstr(json_array_get(ids, i)), diff_ids ? diff_ids[i] : d,
				    err) < 0)
			return lp_prefix(err, "config diff_ids[%zu]", i);
	}
	return 0;
}

/* ---------------------------------------------------------------- choosing */

static bool is_index(json_t *desc)
{
	const char *t = jstr(json_object_get(desc, "mediaType"));

	return !strcmp(t, LP_MT_OCI_INDEX) || !strcmp(t, LP_MT_DOCKER_LIST);
}

static bool kept(const struct lp_index_pick *p, size_t depth, json_t *desc)
{
	return depth > 0 || !p->keep || p->keep(p->ctx, desc);
}

/* Whether one is an item of the ", "-separated list. */
static bool listed(const char *list, const char *one)
{
	size_t len = strlen(one);
	const char *at;

	for (at = strstr(list, one); at; at = strstr(at + 1, one))
		if ((at == list || at[-1] == ' ') && (!at[len] || at[len] == ','))
			return true;
	return false;
}

/* None of the index's (kept) entries is for the platforms wanted: say what they are for. */
static void none_wanted(const struct lp_index_pick *p, size_t depth, json_t *list,
			struct lp_err *err)
{
	char have[256] = "", one[112];
	size_t i, used = 0;
	json_t *d;

	json_array_foreach(list, i, d) {
		json_t *pf = json_object_get(d, "platform");
		const char *variant = jstr(json_object_get(pf, "variant"));

		if (!kept(p, depth, d))
			continue;
		if (!pf)
			snprintf(one, sizeof(one), "(no platform)");
		else
			snprintf(one, sizeof(one), "%.32s/%.32s%s%.32s",
				 jstr(json_object_get(pf, "os")),
				 jstr(json_object_get(pf, "architecture")), *variant ? "/" : "",
				 variant);
		if (listed(have, one) || used >= sizeof(have))
			continue;
		used += (size_t)snprintf(have + used, sizeof(have) - used, "%s%s", used ? ", " : "",
					 one);
	}
	lp_fail(err, ENOEXEC, "no image for %s%s, only for %s", p->want->name,
		p->want->this_host ? " (this host)" : "", have);
}

/* One index's choice: the entry for the best wanted platform, or its only one. */
static json_t *pick_one(const struct lp_index_pick *p, size_t depth, json_t *list,
			struct lp_err *err)
{
	json_t *d, *only = NULL;
	size_t i, w, n = 0;

	if (!json_is_array(list) || !json_array_size(list)) {
		lp_fail(err, EBADMSG, "image index lists no manifests");
		return NULL;
	}
	json_array_foreach(list, i, d)
		if (kept(p, depth, d) && !n++)
			only = d;
	if (n == 1 && !json_object_get(only, "platform"))
		return only;
	for (w = 0; w < p->want->n; w++)
		json_array_foreach(list, i, d) {
			json_t *pf = json_object_get(d, "platform");

			if (pf && kept(p, depth, d) && platform_is(pf, &p->want->v[w]))
				return d;
		}
	none_wanted(p, depth, list, err);
	return NULL;
}

json_t *lp_index_pick(json_t *index, const struct lp_index_pick *p, json_t **top,
		      struct lp_err *err)
{
	json_t *doc = json_incref(index), *chosen, *nested;
	enum lp_manifest_kind kind;
	struct lp_descriptor d;
	size_t depth;

	for (depth = 0;; depth++) {
		chosen = pick_one(p, depth, json_object_get(doc, "manifests"), err);
		if (!chosen)
			break;
		if (lp_descriptor_check(chosen, LP_MANIFEST_MAX, &d, err) < 0) {
			lp_prefix(err, "image index entry");
			break;
		}
		if (depth == 0 && top)
			*top = chosen;
		if (!is_index(chosen)) {
			json_incref(chosen);
			json_decref(doc);
			return chosen;
		}
		if (depth + 1 == LP_INDEX_DEPTH_MAX) {
			lp_fail(err, ELOOP, "image indexes nested too deep");
			break;
		}
		if (!p->load) {
			lp_fail(err, ENOTSUP, "a nested image index, and no way to load it");
			break;
		}
		nested = p->load(p->ctx, chosen, err);
		if (!nested)
			break;
		/*
		 * Checked as the entry's index type says (so it is an index), and
		 * before doc goes: d's strings are doc's.
		 */
		if (lp_manifest_kind(nested, d.media_type, &kind, err) < 0) {
			json_decref(nested);
			break;
		}
		json_decref(doc);
		doc = nested;
	}
	json_decref(doc);
	return NULL;
}
