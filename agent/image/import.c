// SPDX-License-Identifier: Apache-2.0
#include "agent/image/import.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/lib/util.h"
#include "agent/image/import_internal.h"

/* ---------------------------------------------------------------- step 1: signature */

static int check_signature(struct importer *im, struct lp_err *err)
{
	const struct lp_import_opts *o = im->o;
	char sig[PATH_MAX];
	uint64_t size;

	if (o->pinned_sha256 && o->pinned_size > 0) {
		struct stat st;

		/* A sparse giant where a small archive is pinned costs no read. */
		if (fstat(im->fd, &st) < 0)
			return lp_fail_errno(err, "%s", o->file);
		if (st.st_size != o->pinned_size)
			return lp_fail(err, EBADMSG, "%s: %lld bytes, but the deployment pins %lld",
				       o->file, (long long)st.st_size, (long long)o->pinned_size);
	}
	if (o->pinned_sha256) {
		/* A signed deployment vouches for exactly this file. */
		memcpy(im->signed_digest, o->pinned_sha256, sizeof(im->signed_digest));
		im->is_signed = true;
		im->signed_by = "a signed deployment (pinned sha256)";
		if (o->pinned_checked)
			return 0; /* the streaming pass compares it again at the end */
		if (lp_sha256_fd(im->fd, im->archive_digest, &size, err) < 0)
			return lp_prefix(err, "%s", o->file);
		if (memcmp(im->archive_digest, o->pinned_sha256, sizeof(im->archive_digest)))
			return lp_fail(err, EBADMSG, "%s: sha256 does not match the pinned one",
				       o->file);
		if (lseek(im->fd, 0, SEEK_SET) < 0)
			return lp_fail_errno(err, "%s: rewind", o->file);
		return 0;
	}
	if (lp_path(sig, sizeof(sig), err, "%s%s", o->sig ? o->sig : o->file, o->sig ? "" : ".sig") <
	    0)
		return -1;
	if (access(sig, F_OK) < 0) {
		if (o->sig || !o->allow_unsigned)
			return lp_fail(err, ENOENT,
				       "%s: no signature (%s); images must be signed "
				       "(allow_unsigned = true in the config is for development)",
				       o->file, sig);
		fprintf(stderr, "limpet: %s is not signed; importing it because allow_unsigned "
				"is set\n",
			o->file);
		return 0;
	}
	if (o->file_sha256)
		memcpy(im->signed_digest, o->file_sha256, sizeof(im->signed_digest));
	else if (lp_sha256_fd(im->fd, im->signed_digest, &size, err) < 0)
		return lp_prefix(err, "%s", o->file);
	if (lp_trust_verify(o->trust, im->signed_digest, sig, &im->signed_by, err) < 0)
		return lp_prefix(err, "%s", o->file);
	im->is_signed = true;
	if (o->file_sha256)
		return 0;
	if (lseek(im->fd, 0, SEEK_SET) < 0)
		return lp_fail_errno(err, "%s: rewind", o->file);
	return 0;
}

/* ---------------------------------------------------------------- step 3: commit */

static char *default_name(const char *file)
{
	char *copy = strdup(file), *base, *dot, *out;

	if (!copy)
		return NULL;
	base = basename(copy);
	dot = strstr(base, ".tar");
	if (dot)
		*dot = '\0';
	out = strdup(base);
	free(copy);
	return out;
}

static json_t *make_record(struct importer *im, struct resolved *r, const char *name)
{
	json_t *layers = json_array(), *rec;
	char hex[65], digest[72], archive[65];
	uint64_t size = 0;
	size_t i;

	for (i = 0; i < r->n_layers; i++) {
		lp_hex(r->layers[i]->diff_id, 32, hex);
		json_array_append_new(layers, json_string(hex));
		size += r->layers[i]->unpacked;
	}
	lp_hex(r->manifest_digest, 32, hex);
	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	lp_hex(im->archive_digest, 32, archive);
	/* archive_sha256 lets a deployment that pins this file skip fetching it again. */
	rec = json_pack("{s:s, s:s, s:s, s:o, s:O, s:I, s:I, s:s, s:s?, s:s, s:s}", "name", name,
			"digest", digest, "platform",
			im->want.name, "layers", layers,
			"config", r->config->json, "unpacked_size", (json_int_t)size, "imported_at",
			(json_int_t)lp_wall_s(), "source", im->o->file, "signed_by", im->signed_by,
			"format", r->format, "archive_sha256", archive);
	return rec;
}

/*
 * The archive's own name for the image.  OCI's ref.name is usually just a tag
 * ("latest"): like containerd, put the file's base name in front of it.
 */
char *lp_import_archive_name(const char *file, const char *ref)
{
	char *base = default_name(file), *out;

	if (!ref || !base || strchr(ref, '/') || strchr(ref, ':') || !strcmp(ref, base)) {
		if (ref) {
			free(base);
			return strdup(ref);
		}
		return base;
	}
	if (asprintf(&out, "%s:%s", base, ref) < 0)
		out = NULL;
	free(base);
	return out;
}

int lp_import_commit(struct importer *im, struct resolved *r, char **name_out, struct lp_err *err)
{
	cleanup_free char *fallback = NULL;
	const char *name = im->o->name;
	char hex[65];
	json_t *rec;
	size_t i;
	int rc;

	if (!name)
		name = fallback = lp_import_archive_name(im->o->file, r->name);
	if (!name || lp_image_name_valid(name, err) < 0)
		return name ? -1 : lp_fail(err, ENOMEM, "out of memory");
	for (i = 0; i < r->n_layers; i++) {
		struct blob *b = r->layers[i];

		if (b->committed)
			continue;
		lp_hex(b->diff_id, 32, hex);
		if (lp_store_commit_layer(&im->st, b->dir, hex, err) < 0)
			return -1;
		b->committed = true;
	}
	rec = make_record(im, r, name);
	if (!rec)
		return lp_fail(err, ENOMEM, "out of memory");
	rc = lp_store_save_image(&im->st, rec, err);
	json_decref(rec);
	if (rc == 0 && !(*name_out = strdup(name)))
		rc = lp_fail(err, ENOMEM, "out of memory");
	return rc;
}

/*
 * The file's digest when its writer hands it over open and vouches for what
 * that fd reads (import.h: own_fd); NULL: the import hashes the file itself.
 */
static const unsigned char *own_digest(const struct lp_import_opts *o)
{
	if (!o->own_fd)
		return NULL;
	if (o->file_sha256)
		return o->file_sha256;
	return o->pinned_sha256 && o->pinned_checked ? o->pinned_sha256 : NULL;
}

/*
 * The writer's fd, from the start (not a copy: closing one would drop its
 * lock), or the file opened afresh.
 */
static int open_archive(const struct lp_import_opts *o, struct lp_err *err)
{
	/* Never a FIFO that blocks the updater, nor a link a stick points at a host file. */
	if (!o->own_fd)
		return lp_open_regular(AT_FDCWD, o->file, O_RDONLY | O_NOFOLLOW, 0, err);
	if (lseek(o->fd, 0, SEEK_SET) < 0)
		return lp_fail_errno(err, "%s: rewind", o->file);
	return o->fd;
}

static void importer_free(struct importer *im)
{
	size_t i;

	for (i = 0; i < im->n; i++) {
		free(im->v[i].path);
		free(im->v[i].link);
		json_decref(im->v[i].json);
	}
	free(im->v);
	lp_ring_free(&im->ring);
	lp_hasher_stop(im->hasher);
	lp_sha256_free(&im->file_hash);
	if (im->fd >= 0 && !im->o->own_fd)
		close(im->fd);
	lp_store_close(&im->st); /* also removes what is left in staging */
}

int lp_image_import(const struct lp_host *host, const struct lp_import_opts *o, char **name_out,
		    struct lp_err *err)
{
	struct importer *im = calloc(1, sizeof(*im));
	int rc = -1;

	if (!im)
		return lp_fail(err, ENOMEM, "out of memory");
	im->host = host;
	im->o = o;
	im->st.lock_fd = -1;
	im->budget = host->cfg.image_max_size;
	lp_sha256_init(&im->file_hash);
	/* A platform that cannot be is refused before the archive is read. */
	if (lp_platform_want(&im->want, o->platform, err) < 0)
		goto out;
	im->own_digest = own_digest(o);
	im->fd = open_archive(o, err);
	if (im->fd < 0)
		goto out;
	if (lp_hasher_start(&im->hasher, err) < 0 || lp_ring_init(&im->ring, im->hasher, err) < 0)
		goto out;
	if (check_signature(im, err) < 0 || lp_store_open(host, &im->st, err) < 0 ||
	    lp_store_staging(&im->st, im->staging, sizeof(im->staging), err) < 0)
		goto out;
	if (lp_import_read_archive(im, err) < 0 || lp_import_check_file_unchanged(im, err) < 0) {
		lp_prefix(err, "%s", o->file);
		goto out;
	}
	if (lp_import_resolve_and_commit(im, name_out, err) < 0) {
		lp_prefix(err, "%s", o->file);
		goto out;
	}
	rc = 0;
out:
	importer_free(im);
	free(im);
	return rc;
}
