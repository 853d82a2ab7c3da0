// SPDX-License-Identifier: Apache-2.0
/*
 * Where each object of a pull comes from: the registry's mirrors in the
 * order configured, then the registry itself.  What is named by digest may
 * come from any of them (its bytes are checked against the digest); a tag
 * only from the registry, unless mirror_tags says the mirrors may answer
 * it too.  A failed object is asked of the next source; the error kept is
 * the registry's own, the one a person can act on.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/image/pull_internal.h"
#include "platform/lib/util.h"

static int open_source(struct puller *p, const char *api_host, const char *auth_host,
		       bool mirror, struct lp_err *err)
{
	const struct lp_registry_host *h =
		p->o->registries ? lp_registry_host_find(p->o->registries, auth_host) : NULL;
	struct lp_registry_opts ro = {
		.host = api_host,
		.auth_host = auth_host,
		.path = p->ref.path,
		.fetch = p->o->fetch,
		.auth = p->o->auth,
	};
	struct pull_source *s = &p->src[p->n_src];

	ro.fetch.cancel = &p->cancel;
	ro.fetch.ca_file = p->ca_file[0] ? p->ca_file : NULL;
	ro.fetch.cert_file = p->cert_file[0] ? p->cert_file : NULL;
	ro.fetch.key_file = p->key_file[0] ? p->key_file : NULL;
	/* the command line's TLS options are for the registry the reference names */
	if (mirror || !ro.fetch.ca_file)
		ro.fetch.ca_file = h ? h->ca : NULL;
	if (mirror || !ro.fetch.cert_file) {
		ro.fetch.cert_file = h ? h->cert : NULL;
		ro.fetch.key_file = h ? h->key : NULL;
	}
	if (lp_registry_open(&ro, &s->reg, err) < 0)
		return -1;
	s->host = lp_registry_name(s->reg);
	s->mirror = mirror;
	p->n_src++;
	return 0;
}

/*
 * path as it names a file now, wherever the working directory goes next:
 * the download thread opens the TLS files (a new connection reads them
 * again) while this one unpacks a layer from inside it.  Those of the
 * config are absolute already; the command line's may not be.
 */
static int absolute(const char *path, char *out, size_t len, struct lp_err *err)
{
	char cwd[PATH_MAX];

	if (!path)
		return 0;
	if (path[0] == '/')
		return lp_path(out, len, err, "%s", path);
	if (!getcwd(cwd, sizeof(cwd)))
		return lp_fail_errno(err, "%s: the working directory", path);
	return lp_path(out, len, err, "%s/%s", cwd, path);
}

int lp_pull_open_sources(struct puller *p, struct lp_err *err)
{
	const struct lp_registry_host *h =
		p->o->registries ? lp_registry_host_find(p->o->registries, p->ref.host) : NULL;
	const struct lp_fetch_opts *f = &p->o->fetch;
	char *const *m;

	if (absolute(f->ca_file, p->ca_file, sizeof(p->ca_file), err) < 0 ||
	    absolute(f->cert_file, p->cert_file, sizeof(p->cert_file), err) < 0 ||
	    absolute(f->key_file, p->key_file, sizeof(p->key_file), err) < 0)
		return -1;
	for (m = h ? h->mirrors : NULL; m && *m && p->n_src < LP_PULL_SOURCES_MAX - 1; m++)
		if (open_source(p, *m, *m, true, err) < 0)
			return -1;
	p->mirror_tags = h && h->mirror_tags;
	return open_source(p, p->ref.api_host, p->ref.host, false, err);
}

void lp_pull_close_sources(struct puller *p)
{
	size_t i;

	for (i = 0; i < p->n_src; i++)
		lp_registry_close(p->src[i].reg);
	p->n_src = 0;
}

const char *lp_pull_name(const struct puller *p)
{
	return p->n_src ? lp_registry_name(p->src[p->n_src - 1].reg) : p->o->ref;
}

/* ---------------------------------------------------------------- one object, from the first that has it */

struct op {
	int (*run)(struct lp_registry *r, struct op *op, struct lp_err *err);
	const char *ref;
	const char *kind;
	const char *const *accept;
	size_t max;
	struct lp_registry_doc *doc;
	int64_t size;
	char **body;
	const char *dest;
	const char *label;
};

static int from_sources(struct puller *p, bool by_digest, struct op *op, struct lp_err *err)
{
	struct lp_err e = { 0 };
	size_t i;

	for (i = 0; i < p->n_src; i++) {
		struct pull_source *s = &p->src[i];

		if (s->mirror && !by_digest && !p->mirror_tags)
			continue;
		if (op->run(s->reg, op, &e) == 0) {
			snprintf(p->res->registry, sizeof(p->res->registry), "%s", s->host);
			return 0;
		}
		/* a cancelled pull is over, whoever was asked */
		if (e.code == ECANCELED || e.code == ENOMEM)
			break;
	}
	*err = e;
	return -1;
}

static int run_manifest(struct lp_registry *r, struct op *op, struct lp_err *err)
{
	return lp_registry_get_manifest(r, op->ref, op->accept, op->max, op->doc, err);
}

int lp_pull_manifest(struct puller *p, const char *ref, bool by_digest, const char *const *accept,
		     size_t max, struct lp_registry_doc *out, struct lp_err *err)
{
	struct op op = { .run = run_manifest, .ref = ref, .accept = accept, .max = max, .doc = out };

	return from_sources(p, by_digest, &op, err);
}

static int run_blob(struct lp_registry *r, struct op *op, struct lp_err *err)
{
	return lp_registry_get_blob(r, op->kind, op->ref, op->size, op->body, err);
}

int lp_pull_blob(struct puller *p, const char *kind, const char *digest, int64_t size, char **body,
		 struct lp_err *err)
{
	struct op op = { .run = run_blob, .ref = digest, .kind = kind, .size = size, .body = body };

	return from_sources(p, true, &op, err);
}

static int run_fetch(struct lp_registry *r, struct op *op, struct lp_err *err)
{
	return lp_registry_fetch_blob(r, op->kind, op->ref, op->size, op->dest, op->label, err);
}

int lp_pull_fetch_blob(struct puller *p, const char *kind, const char *digest, int64_t size,
		       const char *dest, const char *label, struct lp_err *err)
{
	struct op op = { .run = run_fetch, .ref = digest, .kind = kind, .size = size,
			 .dest = dest, .label = label };

	return from_sources(p, true, &op, err);
}
