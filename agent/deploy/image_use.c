// SPDX-License-Identifier: Apache-2.0
#include "agent/deploy/image_use.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/container/container.h"
#include "platform/lib/util.h"
#include "agent/image/store.h"

struct collector {
	const struct lp_host *host;
	struct lp_image_use *u;
	size_t n_images, n_layers;
};

/* Append a copy of s to the NULL-terminated vector *v of n strings. */
static int strv_add(char ***v, size_t *n, const char *s, size_t len)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(*nv));

	if (!nv)
		return -1;
	*v = nv;
	nv[*n] = strndup(s, len);
	if (!nv[*n])
		return -1;
	nv[++*n] = NULL;
	return 0;
}

/* image (as its user wrote it) is held by "what name"; a name no image has holds nothing. */
static int hold_image(struct collector *c, const char *image, const char *what, const char *name)
{
	char stored[LP_IMAGE_REF_MAX], holder[LP_NAME_MAX + 64];
	struct lp_err ignored;
	size_t n = c->n_images;

	if (!image || lp_store_resolve(c->host, image, stored, sizeof(stored), &ignored) < 0)
		return 0;
	snprintf(holder, sizeof(holder), "%s %s", what, name);
	if (strv_add(&c->u->images, &c->n_images, stored, strlen(stored)) < 0 ||
	    strv_add(&c->u->holders, &n, holder, strlen(holder)) < 0)
		return -1;
	return 0;
}

/* "ROOT/store/layers/HEX:ROOT/store/layers/HEX...": each HEX is held. */
static int hold_layers(struct collector *c, const char *lowerdir)
{
	const char *p = lowerdir, *end, *slash;

	while (*p) {
		end = p + strcspn(p, ":");
		for (slash = end; slash > p && slash[-1] != '/'; slash--)
			;
		if (end > slash && strv_add(&c->u->layers, &c->n_layers, slash,
					    (size_t)(end - slash)) < 0)
			return -1;
		p = *end ? end + 1 : end;
	}
	return 0;
}

static int from_containers(struct collector *c, struct lp_err *err)
{
	char **names;
	size_t n, i;
	int rc = 0;

	if (lp_ct_names(c->host, &names, &n, err) < 0)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		cleanup_free char *lowerdir = NULL;
		struct lp_container ct;
		struct lp_err ignored;

		/* One that cannot be read is being made or removed right now. */
		if (lp_ct_load(c->host, names[i], &ct, &ignored) < 0)
			continue;
		rc = hold_image(c, ct.cfg.image, "container", names[i]);
		if (rc == 0 && ct.st.status == LP_CT_RUNNING && (lowerdir = lp_ct_lowerdir(&ct)))
			rc = hold_layers(c, lowerdir);
		lp_ct_free(&ct);
	}
	lp_ct_names_free(names, n);
	return rc;
}

static int from_deployments(struct collector *c, const struct lp_dstate *ds)
{
	static const char *const kept[] = { "current", "previous", "staging" };
	char what[32];
	size_t i, j;
	int rc = 0;

	for (i = 0; i < ARRAY_SIZE(kept) && rc == 0; i++) {
		struct lp_dslot s;
		struct lp_err ignored;

		if (lp_dstate_load(ds, kept[i], &s, &ignored) < 0)
			continue;
		snprintf(what, sizeof(what), "the %s deployment's", kept[i]);
		for (j = 0; j < s.d.n && rc == 0; j++)
			rc = hold_image(c, s.d.containers[j].cfg.image, what,
					s.d.containers[j].cfg.name);
		lp_dslot_free(&s);
	}
	return rc;
}

int lp_image_use_collect(const struct lp_host *host, const struct lp_dstate *ds,
			 struct lp_image_use *u, struct lp_err *err)
{
	struct collector c = { .host = host, .u = u };
	struct lp_dstate own = { .dir_fd = -1, .lock_fd = -1 };
	struct lp_err ignored;
	size_t i;
	int rc = 0;

	memset(u, 0, sizeof(*u));
	/* Empty vectors, never NULL: callers walk them without checks. */
	u->images = calloc(1, sizeof(char *));
	u->holders = calloc(1, sizeof(char *));
	u->layers = calloc(1, sizeof(char *));
	if (!u->images || !u->holders || !u->layers)
		rc = -2;
	if (rc == 0 && !ds && lp_dstate_peek(host, &own, &ignored) == 0)
		ds = &own;
	if (rc == 0 && ds)
		rc = from_deployments(&c, ds) < 0 ? -2 : 0;
	for (i = 0; rc == 0 && i < host->cfg.n_containers; i++)
		rc = hold_image(&c, host->cfg.containers[i].image, "config container",
				host->cfg.containers[i].name) < 0 ? -2 : 0;
	if (rc == 0)
		rc = from_containers(&c, err);
	lp_dstate_close(&own);
	if (rc == 0)
		return 0;
	lp_image_use_free(u);
	return rc == -2 ? lp_fail(err, ENOMEM, "out of memory") : -1;
}

const char *lp_image_use_holder(const struct lp_image_use *u, const char *stored)
{
	size_t i;

	for (i = 0; u->images && u->images[i]; i++)
		if (!strcmp(u->images[i], stored))
			return u->holders[i];
	return NULL;
}

void lp_image_use_free(struct lp_image_use *u)
{
	lp_strv_free(u->images);
	lp_strv_free(u->holders);
	lp_strv_free(u->layers);
	memset(u, 0, sizeof(*u));
}
