/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the three steps of an import (import.h says which): import.c
 * (the signature, the commit into the store, the whole run), import_stream.c
 * (the one pass over the archive) and import_select.c (which images, and
 * their manifests, config and layers).  Not an interface: lp_image_import is.
 */
#ifndef LIMPET_IMPORT_INTERNAL_H
#define LIMPET_IMPORT_INTERNAL_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/image/import.h"
#include "agent/image/manifest.h"
#include "agent/image/store.h"
#include "agent/trust/hasher.h"

#define CHUNK (128 * 1024)

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
	struct lp_platform_want want;	/* o->platform's or this host's */
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
	/* The file's digest from the caller that wrote it (import.h: own_fd): no second hash. */
	const unsigned char *own_digest;
};

/* One image of the archive, checked: what step 3 commits. */
struct resolved {
	struct blob *config;
	struct blob *layers[LP_MANIFEST_LAYERS_MAX];
	size_t n_layers;
	const char *name;	/* from the archive, may be NULL */
	unsigned char manifest_digest[32];
	const char *format;
};

/* "a/../blobs//x" -> "blobs/x" (malloc'd; NULL: out of memory). */
char *lp_import_clean_path(const char *p);
/* Step 2: the one pass, then the rest of the file against the signed digest. */
int lp_import_read_archive(struct importer *im, struct lp_err *err);
int lp_import_check_file_unchanged(struct importer *im, struct lp_err *err);
/* Step 3: pick the images, check them all, then commit each (names one a line). */
int lp_import_resolve_and_commit(struct importer *im, char **name_out, struct lp_err *err);
/* The archive's name ref for the image, as the store will call it (malloc'd). */
char *lp_import_archive_name(const char *file, const char *ref);
/* Make one checked image visible: its layers, then its record. */
int lp_import_commit(struct importer *im, struct resolved *r, char **name_out,
		     struct lp_err *err);

#endif
