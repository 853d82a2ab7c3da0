// SPDX-License-Identifier: Apache-2.0
/*
 * Step 2 of an import: the one streaming pass over the archive.  libarchive
 * reads it through a ring the hasher thread also hashes, each layer is
 * unpacked into staging as it goes by, and metadata members are hashed and,
 * when JSON, kept for step 3.  Apart from import.c because it is the only
 * part that touches libarchive and the file's bytes.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/lib/util.h"
#include "agent/image/import_internal.h"
#include "agent/image/unpack.h"

#define PEEK 1024		/* enough to see a tar header's "ustar" at 257 */
#define JSON_MAX (4 * 1024 * 1024)

/* ---------------------------------------------------------------- step 2: one pass */

static la_ssize_t file_read(struct archive *a, void *ud, const void **out)
{
	struct importer *im = ud;
	unsigned int slot;
	char *buf = lp_ring_get(&im->ring, &slot);
	ssize_t n;

	do {
		n = read(im->fd, buf, LP_RING_BUF_SIZE);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (a)
			archive_set_error(a, errno, "read %s", im->o->file);
		return -1;
	}
	if (n > 0 && !im->own_digest)
		lp_ring_hash(&im->ring, slot, &im->file_hash, (size_t)n);
	*out = buf;
	return n;
}

/*
 * "./blobs/sha256/x", "/blobs//sha256/x" and "a/../blobs/sha256/x" are the
 * same member: docker save links a repeated layer as "../ID/layer.tar".
 * A ".." above the top stays, so such a name matches no member.
 */
char *lp_import_clean_path(const char *p)
{
	char *out = malloc(strlen(p) + 1);
	size_t len = 0, n, up = 0;

	if (!out)
		return NULL;
	for (; *p; p += n) {
		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (!n || (n == 1 && p[0] == '.'))
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.' && len > up) {
			while (len > up && out[len - 1] != '/')
				len--;
			len -= len > up; /* the '/' before the dropped name */
			continue;
		}
		if (len)
			out[len++] = '/';
		memcpy(out + len, p, n);
		len += n;
		if (n == 2 && p[0] == '.' && p[1] == '.')
			up = len;
	}
	out[len] = '\0';
	return out;
}

static struct blob *add_blob(struct importer *im, const char *path, struct lp_err *err)
{
	struct blob *nv = realloc(im->v, (im->n + 1) * sizeof(*nv));

	if (!nv) {
		lp_fail(err, ENOMEM, "out of memory");
		return NULL;
	}
	im->v = nv;
	memset(&nv[im->n], 0, sizeof(nv[0]));
	nv[im->n].path = lp_import_clean_path(path);
	if (!nv[im->n].path) {
		lp_fail(err, ENOMEM, "out of memory");
		return NULL;
	}
	return &im->v[im->n++];
}

static size_t peek_data(struct archive *a, char *buf, size_t len)
{
	size_t got = 0;
	la_ssize_t n;

	while (got < len && (n = archive_read_data(a, buf + got, len - got)) > 0)
		got += (size_t)n;
	return got;
}

static bool looks_like_layer(const unsigned char *p, size_t n)
{
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return true; /* gzip */
	if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
		return true; /* zstd */
	return n >= 262 && !memcmp(p + 257, "ustar", 5);
}

static bool looks_like_json(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && strchr(" \t\r\n", p[i]))
		i++;
	return i < n && (p[i] == '{' || p[i] == '[');
}

/* Hash (and, for JSON, keep) a metadata member. */
static int read_member(struct importer *im, struct archive *a, struct blob *b, const char *peek,
		       size_t peek_len, struct lp_err *err)
{
	bool keep = looks_like_json(peek, peek_len);
	char *text = keep ? malloc(JSON_MAX) : NULL;
	struct lp_sha256 h;
	size_t used = 0;
	la_ssize_t n;
	json_error_t jerr;
	int rc = 0;

	lp_sha256_init(&h);
	lp_sha256_update(&h, peek, peek_len);
	if (text) {
		memcpy(text, peek, peek_len);
		used = peek_len;
	}
	b->size = peek_len;
	while ((n = archive_read_data(a, im->buf, sizeof(im->buf))) > 0) {
		lp_sha256_update(&h, im->buf, (size_t)n);
		b->size += (uint64_t)n;
		if (text && used + (size_t)n <= JSON_MAX) {
			memcpy(text + used, im->buf, (size_t)n);
			used += (size_t)n;
		} else if (text) {
			free(text); /* too big to be metadata: only its digest matters */
			text = NULL;
		}
	}
	if (n < 0)
		rc = lp_fail(err, archive_errno(a), "%s: %s", b->path, archive_error_string(a));
	if (rc == 0)
		rc = lp_sha256_final(&h, b->digest, err);
	lp_sha256_free(&h);
	if (rc == 0 && text)
		b->json = json_loadb(text, used, 0, &jerr); /* not JSON after all: stays NULL */
	free(text);
	return rc;
}

static int read_layer(struct importer *im, struct archive *a, struct blob *b, const char *peek,
		      size_t peek_len, struct lp_err *err)
{
	struct lp_unpack_limits lim = { im->host->cfg.image_max_file_size, &im->budget };
	struct lp_layer_result res;

	if (lp_path(b->dir, sizeof(b->dir), err, "%s/%zu", im->staging, im->n) < 0)
		return -1;
	if (mkdir(b->dir, 0755) < 0)
		return lp_fail_errno(err, "mkdir %s", b->dir);
	if (lp_unpack_layer(a, peek, peek_len, b->dir, &lim, im->hasher, &res, err) < 0)
		return lp_prefix(err, "layer %s", b->path);
	memcpy(b->digest, res.blob_digest, sizeof(b->digest));
	memcpy(b->diff_id, res.diff_id, sizeof(b->diff_id));
	b->size = res.blob_size;
	b->unpacked = res.unpacked;
	b->layer = true;
	return 0;
}

int lp_import_read_archive(struct importer *im, struct lp_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char peek[PEEK];
	int r, rc = 0;

	if (!a)
		return lp_fail(err, ENOMEM, "out of memory");
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a); /* docker save | gzip */
	archive_read_support_filter_zstd(a);
	if (archive_read_open(a, im, NULL, file_read, NULL) != ARCHIVE_OK) {
		rc = lp_fail(err, archive_errno(a), "%s: %s", im->o->file, archive_error_string(a));
		goto out;
	}
	while (rc == 0 && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		mode_t type = archive_entry_filetype(e);
		const char *link = archive_entry_hardlink(e);
		struct blob *b;
		size_t n;

		if (type == AE_IFDIR)
			continue;
		if (!link && type == AE_IFLNK)
			link = archive_entry_symlink(e);
		if (!link && type != AE_IFREG)
			continue;
		b = add_blob(im, archive_entry_pathname(e), err);
		if (!b) {
			rc = -1;
			break;
		}
		if (link) {
			/* docker save links duplicate layers: resolve relative to the member. */
			char base[PATH_MAX];

			snprintf(base, sizeof(base), "%s", b->path);
			if (type == AE_IFLNK && link[0] != '/' && strchr(base, '/')) {
				*strrchr(base, '/') = '\0';
				if (asprintf(&b->link, "%s/%s", base, link) < 0)
					b->link = NULL;
			} else {
				b->link = lp_import_clean_path(link);
			}
			if (!b->link)
				rc = lp_fail(err, ENOMEM, "out of memory");
			continue;
		}
		n = peek_data(a, peek, sizeof(peek));
		if (looks_like_layer((unsigned char *)peek, n))
			rc = read_layer(im, a, b, peek, n, err);
		else
			rc = read_member(im, a, b, peek, n, err);
	}
	if (rc == 0 && r != ARCHIVE_EOF)
		rc = lp_fail(err, archive_errno(a), "%s: %s", im->o->file, archive_error_string(a));
out:
	archive_read_free(a);
	return rc;
}

/*
 * The whole file, also what the tar reader never asked for, against the
 * signed digest; a file its writer handed over open was read through that
 * fd, so its writer's digest stands for it.
 */
int lp_import_check_file_unchanged(struct importer *im, struct lp_err *err)
{
	unsigned char now[32];
	const void *buf;
	la_ssize_t n;

	if (im->own_digest) {
		memcpy(now, im->own_digest, sizeof(now));
	} else {
		while ((n = file_read(NULL, im, &buf)) > 0)
			;
		if (n < 0)
			return lp_fail_errno(err, "read %s", im->o->file);
		lp_hasher_wait(im->hasher, 0);
		if (lp_sha256_final(&im->file_hash, now, err) < 0)
			return -1;
	}
	memcpy(im->archive_digest, now, sizeof(now));
	if (im->is_signed && memcmp(now, im->signed_digest, sizeof(now)))
		return lp_fail(err, EAGAIN, "%s changed while it was imported", im->o->file);
	return 0;
}
