// SPDX-License-Identifier: Apache-2.0
#include "agent/image/import.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/board.h"
#include "platform/lib/util.h"
#include "agent/image/store.h"
#include "agent/image/unpack.h"

#define CHUNK (128 * 1024)
#define PEEK 1024		/* enough to see a tar header's "ustar" at 257 */
#define JSON_MAX (4 * 1024 * 1024)
#define LINK_HOPS 8
#define REF_NAME "org.opencontainers.image.ref.name"
/* More images than one docker save or OCI layout holds in practice. */
#define IMAGES_MAX 64

/* One regular file (or link) of the outer archive, as seen in the single pass. */
struct blob {
	char *path;
	char *link;		/* symlink/hardlink target inside the archive */
	unsigned char digest[32];
	uint64_t size;
	uint64_t unpacked;	/* a layer's file data, unpacked */
	bool layer;
	bool committed;
	unsigned char diff_id[32];
	char dir[PATH_MAX];	/* staging dir of a layer */
	json_t *json;		/* parsed when the blob is JSON metadata */
};

struct importer {
	const struct lp_host *host;
	const struct lp_import_opts *o;
	struct lp_store st;
	int fd;
	struct lp_sha256 file_hash;
	struct lp_hasher *hasher;	/* the other core hashes what we read */
	struct lp_ring ring;		/* buffers handed to libarchive and the hasher */
	char buf[CHUNK];		/* metadata members, read on this core */
	struct blob *v;
	size_t n;
	int64_t budget;
	char staging[PATH_MAX];
	const char *signed_by;
	unsigned char signed_digest[32];
	bool is_signed;
	unsigned char archive_digest[32];	/* of the whole file, as read by the import */
};

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
	if (n > 0)
		lp_ring_hash(&im->ring, slot, &im->file_hash, (size_t)n);
	*out = buf;
	return n;
}

/*
 * "./blobs/sha256/x", "/blobs//sha256/x" and "a/../blobs/sha256/x" are the
 * same member: docker save links a repeated layer as "../ID/layer.tar".
 * A ".." above the top stays, so such a name matches no member.
 */
static char *clean_path(const char *p)
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
	nv[im->n].path = clean_path(path);
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

static int read_archive(struct importer *im, struct lp_err *err)
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
				b->link = clean_path(link);
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

/* The whole file, also what the tar reader never asked for, against the signed digest. */
static int check_file_unchanged(struct importer *im, struct lp_err *err)
{
	unsigned char now[32];
	const void *buf;
	la_ssize_t n;

	while ((n = file_read(NULL, im, &buf)) > 0)
		;
	if (n < 0)
		return lp_fail_errno(err, "read %s", im->o->file);
	lp_hasher_wait(im->hasher, 0);
	if (lp_sha256_final(&im->file_hash, now, err) < 0)
		return -1;
	memcpy(im->archive_digest, now, sizeof(now));
	if (im->is_signed && memcmp(now, im->signed_digest, sizeof(now)))
		return lp_fail(err, EAGAIN, "%s changed while it was imported", im->o->file);
	return 0;
}

/* ---------------------------------------------------------------- step 3: resolve */

/* A JSON string's value, or "" when it is missing or not a string. */
static const char *jstr(json_t *v)
{
	const char *s = json_string_value(v);

	return s ? s : "";
}

static struct blob *find_path(struct importer *im, const char *path)
{
	cleanup_free char *want = clean_path(path);
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
		want = clean_path(im->v[i].link);
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

static bool platform_matches(json_t *p, const char *want)
{
	char os[32] = "", arch[32] = "", variant[32] = "";
	const char *pv = json_string_value(json_object_get(p, "variant"));

	sscanf(want, "%31[^/]/%31[^/]/%31s", os, arch, variant);
	if (strcmp(os, jstr(json_object_get(p, "os"))) ||
	    strcmp(arch, jstr(json_object_get(p, "architecture"))))
		return false;
	/* arm64 images rarely say v8; an unspecified variant matches any. */
	return !variant[0] || !pv || !strcmp(variant, pv);
}

static const char *const index_types[] = {
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
};

static bool is_index(json_t *desc)
{
	const char *t = json_string_value(json_object_get(desc, "mediaType"));
	size_t i;

	for (i = 0; t && i < ARRAY_SIZE(index_types); i++)
		if (!strcmp(t, index_types[i]))
			return true;
	return false;
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
			if ((!p && n == 1) || (p && platform_matches(p, platform))) {
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
		if (!is_index(chosen))
			return chosen;
		nested = resolve_desc(im, chosen, true, err);
		if (!nested)
			return NULL;
		list = json_object_get(nested->json, "manifests");
	}
	lp_fail(err, ELOOP, "image indexes nested too deep");
	return NULL;
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

static int check_layer_type(json_t *desc, struct lp_err *err)
{
	const char *t = json_string_value(json_object_get(desc, "mediaType"));
	size_t i;

	for (i = 0; t && i < ARRAY_SIZE(layer_types); i++)
		if (!strcmp(t, layer_types[i]))
			return 0;
	return lp_fail(err, ENOTSUP, "layer media type %s is not supported", t ? t : "(none)");
}

/* One image of the archive: an archive (docker save a b) may hold several. */
struct image_sel {
	bool several;		/* the archive holds more than this one */
	const char *name;	/* its name there (OCI: the index entries'; docker: RepoTags[0]) */
	size_t index;		/* docker: its entry in manifest.json */
};

struct resolved {
	struct blob *config;
	struct blob *layers[128];
	size_t n_layers;
	const char *name;	/* from the archive, may be NULL */
	unsigned char manifest_digest[32];
	const char *format;
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
		if (check_layer_type(d, err) < 0)
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
			im->o->platform ? im->o->platform : lp_board_platform(), "layers", layers,
			"config", r->config->json, "unpacked_size", (json_int_t)size, "imported_at",
			(json_int_t)lp_wall_s(), "source", im->o->file, "signed_by", im->signed_by,
			"format", r->format, "archive_sha256", archive);
	return rec;
}

/*
 * The archive's own name for the image.  OCI's ref.name is usually just a tag
 * ("latest"): like containerd, put the file's base name in front of it.
 */
static char *archive_name(const char *file, const char *ref)
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

static int commit(struct importer *im, struct resolved *r, char **name_out, struct lp_err *err)
{
	cleanup_free char *fallback = NULL;
	const char *name = im->o->name;
	char hex[65];
	json_t *rec;
	size_t i;
	int rc;

	if (!name)
		name = fallback = archive_name(im->o->file, r->name);
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
	cleanup_free char *stored = name ? archive_name(file, name) : NULL;
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

static int resolve_and_commit(struct importer *im, char **name_out, struct lp_err *err)
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

		rc = commit(im, &r[i], &one, err);
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
	if (im->fd >= 0)
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
	/* Never a FIFO that blocks the updater, nor a link a stick points at a host file. */
	im->fd = lp_open_regular(AT_FDCWD, o->file, O_RDONLY | O_NOFOLLOW, 0, err);
	if (im->fd < 0)
		goto out;
	if (lp_hasher_start(&im->hasher, err) < 0 || lp_ring_init(&im->ring, im->hasher, err) < 0)
		goto out;
	if (check_signature(im, err) < 0 || lp_store_open(host, &im->st, err) < 0 ||
	    lp_store_staging(&im->st, im->staging, sizeof(im->staging), err) < 0)
		goto out;
	if (read_archive(im, err) < 0 || check_file_unchanged(im, err) < 0) {
		lp_prefix(err, "%s", o->file);
		goto out;
	}
	if (resolve_and_commit(im, name_out, err) < 0) {
		lp_prefix(err, "%s", o->file);
		goto out;
	}
	rc = 0;
out:
	importer_free(im);
	free(im);
	return rc;
}
