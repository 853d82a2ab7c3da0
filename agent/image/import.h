/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Importing a signed image archive: an OCI image layout archive (skopeo
 * oci-archive, umoci, buildah, Docker >= 25 `docker save`) or a classic
 * `docker save` archive.
 *
 * 1. The signature over the file's SHA-256 is checked first: one sequential
 *    read, and an archive that fails costs no disk.
 * 2. One streaming pass over the archive unpacks each layer into staging
 *    while hashing its stored bytes (blob digest) and its tar (diff_id), and
 *    hashes the whole file again (so a file changed since step 1 is caught),
 *    unless the caller wrote the file and hands it over open (own_fd).
 * 3. Manifests and config are resolved; every digest, size and diff_id must
 *    match.  Only then do the layers and the image record become visible.
 */
#ifndef LIMPET_IMPORT_H
#define LIMPET_IMPORT_H

#include "agent/config/host.h"
#include "agent/trust/trust.h"

struct lp_import_opts {
	const char *file;
	const char *sig;	/* NULL: FILE.sig */
	/* NULL: from the archive, else the file name; of several images, picks one */
	const char *name;
	const char *platform;	/* NULL: this host's, e.g. "linux/arm64" */
	const struct lp_trust *trust;
	bool allow_unsigned;
	/*
	 * Trust the file by this SHA-256 (32 bytes) instead of a signature: a
	 * signed deployment pins its images this way.  pinned_checked says the
	 * caller has just checked it (lp_fetch_file does), which saves a read;
	 * the import's own pass still compares it before anything is committed.
	 */
	const unsigned char *pinned_sha256;
	bool pinned_checked;
	/* With pinned_sha256: its size in bytes, so a file of any other size is not even read. */
	int64_t pinned_size;
	/*
	 * The SHA-256 of the file (32 bytes) as the caller wrote it (a download
	 * hashes what it receives): the signature is checked against it without
	 * a first read, and the streaming pass must see the same digest before
	 * anything is committed.  NULL: the import reads the file to hash it.
	 */
	const unsigned char *file_sha256;
	/*
	 * The caller wrote FILE itself, hashing it as it went, and holds it open
	 * as fd (lp_fetch_file_fd into ROOT/downloads, which only limpet
	 * writes, and only by renaming a new file over a name):
	 * file_sha256, or pinned_sha256 with pinned_checked, is the digest of
	 * exactly what fd reads.  The import reads fd from its start, not the
	 * path, and does not hash the whole file a second time.  The caller
	 * closes fd.
	 */
	bool own_fd;
	int fd;
};

/*
 * On success *name_out (malloc'd) is the image's name in the store; the
 * names one a line when the archive holds several images and o->name did
 * not pick one of them (o->name picks by the archive's name for it).
 */
int lp_image_import(const struct lp_host *host, const struct lp_import_opts *o, char **name_out,
		    struct lp_err *err);

#endif
