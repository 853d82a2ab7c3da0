// SPDX-License-Identifier: Apache-2.0
/*
 * The images of a deployment: fetch and import every archive, or pull every
 * registry image, before anything is switched, and drop those no kept
 * deployment needs any more.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/deploy/deploy_internal.h"
#include "agent/deploy/image_use.h"
#include "agent/fetch/registry_auth.h"
#include "agent/image/import.h"
#include "agent/image/pull.h"
#include "platform/board.h"
#include "platform/lib/util.h"
#include "agent/image/store.h"

/*
 * How a store record says which pinned image it holds: an archive import
 * keeps the file's sha256 (hex), a registry pull the digest its reference
 * resolved to ("sha256:<hex>"), which a deployment's ref pins.
 */
struct pin {
	const char *key;	/* "archive_sha256" or "ref_digest" */
	char value[LP_DIGEST_STR_LEN];
};

static void pin_of(const struct lp_deploy_container *c, struct pin *pin)
{
	char hex[LP_SHA256_HEX_LEN + 1];

	lp_hex(c->image_sha256, LP_SHA256_LEN, hex);
	pin->key = c->image_ref ? "ref_digest" : "archive_sha256";
	snprintf(pin->value, sizeof(pin->value), "%s%s", c->image_ref ? "sha256:" : "", hex);
}

static bool holds(json_t *rec, const struct pin *pin)
{
	return !strcmp(json_string_value(json_object_get(rec, pin->key)) ?: "", pin->value);
}

/* Is the pinned image already in the store under name? */
static bool have_image(const struct lp_host *host, const char *name, const struct pin *pin)
{
	struct lp_err err;
	json_t *rec;
	bool same;

	if (lp_store_load_image(host, name, &rec, &err) < 0)
		return false;
	same = holds(rec, pin);
	json_decref(rec);
	return same;
}

/* An image of the pinned one for this host's platform (malloc'd name), or NULL. */
static char *imported_as(const struct lp_host *host, const struct pin *pin)
{
	struct lp_err err;
	json_t *all, *rec;
	char *name = NULL;
	size_t i;

	if (lp_store_list_images(host, &all, &err) < 0) {
		json_decref(all);
		return NULL;
	}
	json_array_foreach(all, i, rec) {
		const char *platform = json_string_value(json_object_get(rec, "platform"));

		if (holds(rec, pin) && platform && !strcmp(platform, lp_board_platform())) {
			name = strdup(json_string_value(json_object_get(rec, "name")) ?: "");
			break;
		}
	}
	json_decref(all);
	return name;
}

/* The image from under another name too: a second record of the same layers. */
static int tag_image(const struct lp_host *host, const char *from, const char *name,
		     struct lp_err *err)
{
	struct lp_store st;
	json_t *rec;
	int rc;

	if (lp_store_open(host, &st, err) < 0)
		return -1;
	/* Under the store lock: no gc can take its layers meanwhile. */
	rc = lp_store_load_image(host, from, &rec, err);
	if (rc == 0) {
		if (json_object_set_new(rec, "name", json_string(name)) < 0)
			rc = lp_fail(err, ENOMEM, "out of memory");
		else
			rc = lp_store_save_image(&st, rec, err);
		json_decref(rec);
	}
	lp_store_close(&st);
	return rc;
}

/* Fetch errors that say the content itself is wrong; the rest may pass. */
static enum lp_apply_result fetch_result(int code)
{
	return code == EBADMSG || code == EFBIG || code == EINVAL ? LP_APPLY_REFUSED
								   : LP_APPLY_RETRY;
}

/*
 * Registry pull errors that cannot pass: the digest pins every byte, so an
 * image that is malformed, too large, for another platform or with a
 * layer the store refuses stays so.  A missing manifest or blob (404),
 * refused credentials, TLS, the network and the disk may pass.
 */
static enum lp_apply_result pull_result(int code)
{
	switch (code) {
	case EBADMSG:
	case EFBIG:
	case EINVAL:
	case ENOEXEC:
	case ENOTSUP:
	case ELOOP:
	case EPERM:
	case ENAMETOOLONG:
		return LP_APPLY_REFUSED;
	default:
		return LP_APPLY_RETRY;
	}
}

static enum lp_apply_result fetch_archive(const struct lp_host *host,
					  const struct lp_apply_opts *o, const char *origin,
					  const struct lp_deploy_container *c, const char *hex,
					  struct lp_err *err)
{
	struct lp_import_opts io = { .name = c->cfg.image, .pinned_sha256 = c->image_sha256,
				     .pinned_size = c->image_size };
	char dir[PATH_MAX], dest[PATH_MAX];
	enum lp_apply_result r = LP_APPLY_DONE;
	char *url = NULL, *imported = NULL;
	cleanup_fd int fd = -1;
	bool remote;

	if (lp_deploy_resolve_url(origin, c->image_url, &url, err) < 0)
		return LP_APPLY_REFUSED;
	remote = !strncmp(url, "https://", 8);
	io.file = url;
	if (remote) {
		/* Named by content, so a restarted agent resumes the same partial file. */
		if (lp_path(dir, sizeof(dir), err, "%s/downloads", host->root) < 0 ||
		    lp_path(dest, sizeof(dest), err, "%s/deploy-%s.tar", dir, hex) < 0 ||
		    lp_mkdir_p(dir, 0700, err) < 0) {
			free(url);
			return LP_APPLY_RETRY;
		}
		lp_say(o->log_prefix, "pulling %s (%lld bytes)", url, (long long)c->image_size);
		if (lp_fetch_file_fd(url, dest, c->image_size, c->image_sha256, NULL, &fd, o->fetch,
				     err) < 0) {
			free(url);
			return fetch_result(err->code);
		}
		/* Checked against the pin as it arrived: the import need not hash it again. */
		io.file = dest;
		io.pinned_checked = true;
		io.own_fd = true;
		io.fd = fd;
	}
	if (lp_image_import(host, &io, &imported, err) < 0)
		r = err->code == ENOSPC || err->code == EAGAIN ? LP_APPLY_RETRY : LP_APPLY_REFUSED;
	else
		lp_say(o->log_prefix, "imported %s as %s", url, imported);
	/* A bad archive is dropped too: the next attempt fetches it again. */
	if (remote && (r != LP_APPLY_DONE || !host->cfg.fleet.keep_downloads))
		unlink(dest);
	free(imported);
	free(url);
	return r;
}

/*
 * The signed document's digest is the trust (no cosign signature is looked
 * for); the registry settings and credentials are the agent's, as for
 * `limpet image pull`, not the fleet server's CA and client certificate.
 */
static enum lp_apply_result pull_registry(const struct lp_host *host,
					  const struct lp_apply_opts *o,
					  const struct lp_deploy_container *c, const char *digest,
					  struct lp_err *err)
{
	const struct lp_registry_config *reg = &host->cfg.registry;
	const struct lp_fetch_opts *f = o->fetch;
	cleanup_auth_file struct lp_auth_file *auth = NULL;
	struct lp_pull_opts po = { .ref = c->image_ref, .name = c->cfg.image,
				   .trust = o->trust, .pinned_digest = digest,
				   .registries = reg };
	struct lp_pull_result *res;
	enum lp_apply_result r = LP_APPLY_DONE;

	if (o->offline) {
		lp_fail(err, ENETUNREACH, "a device offline cannot pull %s (not in the store)",
			c->image_ref);
		return LP_APPLY_REFUSED;
	}
	if (f) {
		po.fetch.max_bytes_per_s = f->max_bytes_per_s;
		po.fetch.attempts = f->attempts;
		po.fetch.connect_timeout_s = f->connect_timeout_s;
		po.fetch.stall_timeout_s = f->stall_timeout_s;
	}
	if (reg->auth_file && lp_auth_file_load(reg->auth_file, &auth, err) < 0)
		return LP_APPLY_RETRY;
	po.auth = auth;
	res = calloc(1, sizeof(*res));
	if (!res) {
		lp_fail(err, ENOMEM, "out of memory");
		return LP_APPLY_RETRY;
	}
	lp_say(o->log_prefix, "pulling %s (registry)", c->image_ref);
	if (lp_image_pull(host, &po, res, err) < 0)
		r = pull_result(err->code);
	else
		lp_say(o->log_prefix, "pulled %s as %s (%lld blob bytes fetched)", c->image_ref,
		       res->name, (long long)res->fetched_bytes);
	lp_pull_result_free(res);
	free(res);
	return r;
}

static enum lp_apply_result pull_one(const struct lp_host *host, const struct lp_apply_opts *o,
				     const char *origin, const struct lp_deploy_container *c,
				     struct lp_err *err)
{
	char *imported;
	struct pin pin;

	pin_of(c, &pin);
	if (have_image(host, c->cfg.image, &pin))
		return LP_APPLY_DONE;
	/* Another entry (of this deployment or of one before) named the same image. */
	imported = imported_as(host, &pin);
	if (imported && imported[0]) {
		if (tag_image(host, imported, c->cfg.image, err) < 0) {
			free(imported);
			return LP_APPLY_RETRY;
		}
		lp_say(o->log_prefix, "%s: the %s of %s, %s already", c->cfg.image,
		       c->image_ref ? "image" : "archive", imported,
		       c->image_ref ? "pulled" : "imported");
		free(imported);
		return LP_APPLY_DONE;
	}
	free(imported);
	if (c->image_ref)
		return pull_registry(host, o, c, pin.value, err);
	return fetch_archive(host, o, origin, c, pin.value, err);
}

enum lp_apply_result lp_deploy_pull_images(const struct lp_host *host,
					   const struct lp_apply_opts *o, const char *origin,
					   const struct lp_deployment *d, struct lp_err *err)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		enum lp_apply_result r = pull_one(host, o, origin, &d->containers[i], err);

		if (r != LP_APPLY_DONE) {
			lp_prefix(err, "containers[%zu] (%s): image", i, d->containers[i].cfg.name);
			return r;
		}
	}
	return LP_APPLY_DONE;
}

void lp_deploy_drop_images(const struct lp_host *host, struct lp_dstate *ds, const char *prefix,
			   const struct lp_deployment *gone)
{
	char stored[LP_IMAGE_REF_MAX];
	struct lp_err err = { 0 };
	struct lp_image_use use;
	struct lp_store st;
	unsigned int freed = 0;
	size_t i, removed = 0;

	if (!gone || !gone->n)
		return;
	if (lp_image_use_collect(host, ds, &use, &err) < 0) {
		fprintf(stderr, "%s: %s\n", prefix, err.msg);
		return;
	}
	if (lp_store_open(host, &st, &err) < 0) {
		fprintf(stderr, "%s: %s\n", prefix, err.msg);
		lp_image_use_free(&use);
		return;
	}
	for (i = 0; i < gone->n; i++) {
		if (lp_store_resolve(host, gone->containers[i].cfg.image, stored, sizeof(stored),
				     &err) < 0 ||
		    lp_image_use_holder(&use, stored) ||
		    lp_store_remove_image(&st, stored, &err) < 0)
			continue;
		removed++;
	}
	if (removed && lp_store_gc(&st, use.layers, &freed, &err) < 0)
		fprintf(stderr, "%s: %s\n", prefix, err.msg);
	lp_store_close(&st);
	lp_image_use_free(&use);
	if (removed)
		fprintf(stderr, "%s: removed %zu image(s) no kept deployment uses (%u layers)\n",
			prefix, removed, freed);
}
