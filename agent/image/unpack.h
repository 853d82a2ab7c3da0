/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Extract one image layer (a tar stream, any compression) into a directory,
 * safely: no absolute paths or "..", nothing written through a symlink,
 * hardlinks only inside the layer, no device nodes, size caps against
 * decompression bombs.  OCI whiteouts become overlayfs whiteouts, so the
 * overlay shows exactly what a registry client would.  While extracting, the
 * compressed bytes (the blob digest) and the uncompressed tar (the diff_id)
 * are hashed, so a layer is checked in the same single pass.
 */
#ifndef LIMPET_UNPACK_H
#define LIMPET_UNPACK_H

#include <archive.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/trust/hasher.h"
#include "platform/lib/err.h"

struct lp_unpack_limits {
	int64_t max_file_size;	/* largest single file */
	int64_t *budget;	/* uncompressed bytes left for the whole image */
};

struct lp_layer_result {
	unsigned char blob_digest[32];	/* sha256 of the bytes as stored (compressed), or 0s */
	unsigned char diff_id[32];	/* sha256 of the uncompressed tar */
	uint64_t blob_size;
	uint64_t files;
	uint64_t unpacked;		/* bytes of file data written: the layer's size on disk */
};

/*
 * Read the layer from the current entry of `outer` (an archive positioned on
 * the blob's entry), whose first `peek_len` bytes were already read into
 * `peek`, and extract it into dir (which must exist and be empty).
 */
int lp_unpack_layer(struct archive *outer, const void *peek, size_t peek_len, const char *dir,
		    const struct lp_unpack_limits *limits, struct lp_hasher *hasher,
		    struct lp_layer_result *res, struct lp_err *err);

/*
 * The same from the next `size` bytes of the file fd (a blob a download has
 * verified); a file that ends sooner is an error.  hash_blob false leaves
 * res->blob_digest zero: the caller checked the blob as it arrived.
 */
int lp_unpack_layer_fd(int fd, uint64_t size, const char *dir,
		       const struct lp_unpack_limits *limits, struct lp_hasher *hasher,
		       bool hash_blob, struct lp_layer_result *res, struct lp_err *err);

#endif
