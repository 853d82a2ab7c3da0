// SPDX-License-Identifier: Apache-2.0
#include "agent/image/unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "platform/lib/util.h"
#include "agent/image/unpack_internal.h"
#include "agent/trust/hasher.h"
#include "agent/trust/trust.h"

/*
 * The pull chain: the tar reader asks `plain` for bytes, which asks the
 * decompressing reader, which asks `blob` for the stored bytes: from the
 * outer archive, or from a file.  Each link hashes what passes through it.
 */
struct blob_src {
	struct archive *outer;	/* the stored bytes: this archive's current member, */
	const void *peek;	/* after these, already read from it */
	size_t peek_len;
	int fd;			/* or the next `left` bytes of this file */
	uint64_t left;
	bool digest;		/* hash them (else the caller has checked them) */
	struct lp_sha256 hash;
	uint64_t size;
	int errcode;
	char errmsg[256];
	struct lp_ring ring;	/* hashed on the other core while we decompress */
};

/*
 * Decompression runs in a thread of its own and hands the uncompressed tar
 * to the extracting thread through a few buffers; both threads and the
 * hasher keep the two cores busy.
 */
#define PIPE_SLOTS 4

struct plain_src {
	struct archive *decompressor;
	struct lp_sha256 hash;
	uint64_t size;
	struct lp_hasher *hasher;
	char (*bufs)[LP_RING_BUF_SIZE];
	la_ssize_t len[PIPE_SLOTS];
	uint64_t hashed[PIPE_SLOTS];	/* hasher job that last read each buffer */
	uint64_t produced, consumed;	/* chunks made / given back by the reader */
	bool holding;			/* the reader still uses chunk `consumed` */
	bool cancel;
	int errcode;
	char errmsg[256];
	pthread_mutex_t lock;
	pthread_cond_t changed;
	pthread_t thread;
};

/* Up to a buffer of stored bytes; -1 with the reason in s. */
static la_ssize_t blob_fill(struct blob_src *s, char *buf)
{
	la_ssize_t n;

	if (s->outer) {
		n = archive_read_data(s->outer, buf, LP_RING_BUF_SIZE);
		if (n < 0) {
			s->errcode = archive_errno(s->outer);
			snprintf(s->errmsg, sizeof(s->errmsg), "%s",
				 archive_error_string(s->outer) ? archive_error_string(s->outer) :
								  "read error");
		}
		return n;
	}
	if (!s->left)
		return 0;
	do
		n = read(s->fd, buf, s->left < LP_RING_BUF_SIZE ? s->left : LP_RING_BUF_SIZE);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		s->left -= (uint64_t)n;
		return n;
	}
	s->errcode = n < 0 ? errno : EBADMSG;
	if (n < 0)
		snprintf(s->errmsg, sizeof(s->errmsg), "read: %s", strerror(errno));
	else
		snprintf(s->errmsg, sizeof(s->errmsg), "the file ends %llu bytes short of its size",
			 (unsigned long long)s->left);
	return -1;
}

static la_ssize_t blob_read(struct archive *a, void *ud, const void **out)
{
	struct blob_src *s = ud;
	unsigned int slot;
	la_ssize_t n;
	char *buf;

	if (s->peek_len) {
		*out = s->peek;
		n = (la_ssize_t)s->peek_len;
		s->peek_len = 0;
		lp_hasher_add(s->ring.h, &s->hash, s->peek, (size_t)n);
		s->size += (uint64_t)n;
		return n;
	}
	buf = lp_ring_get(&s->ring, &slot);
	n = blob_fill(s, buf);
	*out = buf;
	if (n > 0) {
		if (s->digest)
			lp_ring_hash(&s->ring, slot, &s->hash, (size_t)n);
		s->size += (uint64_t)n;
	} else if (n < 0 && a) {
		archive_set_error(a, s->errcode ? s->errcode : EIO, "%s", s->errmsg);
	}
	return n;
}

/* The decompressing thread: fill free slots until the stream ends. */
static void *decompress_thread(void *arg)
{
	struct plain_src *s = arg;
	unsigned int slot;
	la_ssize_t n;

	do {
		pthread_mutex_lock(&s->lock);
		while (s->produced - s->consumed >= PIPE_SLOTS && !s->cancel)
			pthread_cond_wait(&s->changed, &s->lock);
		if (s->cancel) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		slot = s->produced % PIPE_SLOTS;
		pthread_mutex_unlock(&s->lock);
		if (s->hashed[slot])
			lp_hasher_wait(s->hasher, s->hashed[slot]);
		n = archive_read_data(s->decompressor, s->bufs[slot], LP_RING_BUF_SIZE);
		if (n > 0) {
			s->hashed[slot] = lp_hasher_add(s->hasher, &s->hash, s->bufs[slot], (size_t)n);
			s->size += (uint64_t)n;
		} else if (n < 0) {
			s->errcode = archive_errno(s->decompressor);
			snprintf(s->errmsg, sizeof(s->errmsg), "%s",
				 archive_error_string(s->decompressor));
		}
		pthread_mutex_lock(&s->lock);
		s->len[slot] = n;
		s->produced++;
		pthread_cond_broadcast(&s->changed);
		pthread_mutex_unlock(&s->lock);
	} while (n > 0);
	return NULL;
}

/* The tar reader's source: the next chunk the decompressing thread made. */
static la_ssize_t plain_read(struct archive *a, void *ud, const void **out)
{
	struct plain_src *s = ud;
	unsigned int slot;
	la_ssize_t n;

	pthread_mutex_lock(&s->lock);
	if (s->holding) {
		/* libarchive is done with the chunk it had: give it back. */
		s->consumed++;
		s->holding = false;
		pthread_cond_broadcast(&s->changed);
	}
	while (s->produced == s->consumed)
		pthread_cond_wait(&s->changed, &s->lock);
	slot = s->consumed % PIPE_SLOTS;
	n = s->len[slot];
	s->holding = n > 0; /* the end (or an error) is kept for every later call */
	pthread_mutex_unlock(&s->lock);
	*out = s->bufs[slot];
	if (n < 0 && a)
		archive_set_error(a, s->errcode ? s->errcode : EIO, "layer: %s", s->errmsg);
	return n;
}

static int pipe_start(struct plain_src *s, struct lp_err *err)
{
	int rc;

	rc = pthread_create(&s->thread, NULL, decompress_thread, s);
	if (rc)
		return lp_fail(err, rc, "start the decompressing thread: %s", strerror(rc));
	return 0;
}

static void pipe_stop(struct plain_src *s)
{
	pthread_mutex_lock(&s->lock);
	s->cancel = true;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
}

/*
 * The digests cover every byte, also what follows the tar's end marker, so
 * the rest is pulled through the same hashing callbacks.
 */
static int drain(la_ssize_t (*rd)(struct archive *, void *, const void **), void *src,
		 const int *errcode, const char *errmsg, const char *what, struct lp_err *err)
{
	const void *buf;
	la_ssize_t n;

	while ((n = rd(NULL, src, &buf)) > 0)
		;
	if (n < 0)
		return lp_fail(err, *errcode ? *errcode : EIO, "%s: %s", what,
			       errmsg[0] ? errmsg : "read error");
	return 0;
}

static int run_chain(struct blob_src *blob, struct plain_src *plain, int layer,
		     const struct lp_unpack_limits *lim, struct lp_layer_result *res,
		     struct lp_err *err)
{
	struct archive *dec = archive_read_new(), *tar = archive_read_new();
	struct archive_entry *raw;
	bool started = false;
	int rc = -1;

	if (!dec || !tar) {
		lp_fail(err, ENOMEM, "out of memory");
		goto out;
	}
	archive_read_support_filter_gzip(dec);
	archive_read_support_filter_zstd(dec);
	archive_read_support_format_raw(dec);
	if (archive_read_open(dec, blob, NULL, blob_read, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(dec, &raw) != ARCHIVE_OK) {
		lp_fail(err, archive_errno(dec), "layer: %s", archive_error_string(dec));
		goto out;
	}
	plain->decompressor = dec;
	if (pipe_start(plain, err) < 0)
		goto out;
	started = true;
	archive_read_support_format_tar(tar);
	if (archive_read_open(tar, plain, NULL, plain_read, NULL) != ARCHIVE_OK) {
		lp_fail(err, archive_errno(tar), "layer tar: %s", archive_error_string(tar));
		goto out;
	}
	if (lp_unpack_extract(tar, layer, lim, res, err) < 0)
		goto out;
	if (drain(plain_read, plain, &plain->errcode, plain->errmsg, "layer", err) < 0)
		goto out;
	rc = 0;
out:
	/* After a failure the decompressor may still be running: stop it first. */
	if (started)
		pipe_stop(plain);
	if (tar)
		archive_read_free(tar);
	if (dec)
		archive_read_free(dec);
	return rc;
}

/* The chain from blob (its source set) into dir. */
static int unpack(struct blob_src *blob, const char *dir, const struct lp_unpack_limits *limits,
		  struct lp_hasher *hasher, struct lp_layer_result *res, struct lp_err *err)
{
	cleanup_free struct plain_src *plain = calloc(1, sizeof(*plain));
	cleanup_fd int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_fd int layer = -1;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!plain)
		return lp_fail(err, ENOMEM, "out of memory");
	if (here < 0)
		return lp_fail_errno(err, "open the working directory");
	lp_sha256_init(&blob->hash);
	lp_sha256_init(&plain->hash);
	plain->hasher = hasher;
	plain->bufs = malloc(PIPE_SLOTS * sizeof(*plain->bufs));
	pthread_mutex_init(&plain->lock, NULL);
	pthread_cond_init(&plain->changed, NULL);
	if (!plain->bufs || lp_ring_init(&blob->ring, hasher, err) < 0) {
		free(plain->bufs);
		lp_sha256_free(&blob->hash);
		lp_sha256_free(&plain->hash);
		return plain->bufs ? -1 : lp_fail(err, ENOMEM, "out of memory");
	}
	/*
	 * libarchive's secure-extraction checks work relative to the cwd.  It
	 * is the process's: a thread beside this one (a pull's downloader)
	 * must not open relative paths meanwhile.
	 */
	layer = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (layer < 0) {
		rc = lp_fail_errno(err, "open %s", dir);
	} else if (fchdir(layer) < 0) {
		rc = lp_fail_errno(err, "chdir %s", dir);
	} else {
		rc = run_chain(blob, plain, layer, limits, res, err);
		if (fchdir(here) < 0 && rc == 0)
			rc = lp_fail_errno(err, "return to the working directory");
	}
	/* The blob digest needs every stored byte, compression trailer included. */
	if (rc == 0)
		rc = drain(blob_read, blob, &blob->errcode, blob->errmsg,
			   blob->outer ? "archive" : "layer file", err);
	/* Also on failure: the worker must be done with our buffers and hashes. */
	lp_hasher_wait(hasher, 0);
	lp_ring_free(&blob->ring);
	free(plain->bufs);
	pthread_mutex_destroy(&plain->lock);
	pthread_cond_destroy(&plain->changed);
	if (rc == 0 && ((blob->digest && lp_sha256_final(&blob->hash, res->blob_digest, err) < 0) ||
			lp_sha256_final(&plain->hash, res->diff_id, err) < 0))
		rc = -1;
	res->blob_size = blob->size;
	lp_sha256_free(&blob->hash);
	lp_sha256_free(&plain->hash);
	return rc;
}

int lp_unpack_layer(struct archive *outer, const void *peek, size_t peek_len, const char *dir,
		    const struct lp_unpack_limits *limits, struct lp_hasher *hasher,
		    struct lp_layer_result *res, struct lp_err *err)
{
	struct blob_src blob = {
		.outer = outer, .peek = peek, .peek_len = peek_len, .fd = -1, .digest = true,
	};

	return unpack(&blob, dir, limits, hasher, res, err);
}

int lp_unpack_layer_fd(int fd, uint64_t size, const char *dir,
		       const struct lp_unpack_limits *limits, struct lp_hasher *hasher,
		       bool hash_blob, struct lp_layer_result *res, struct lp_err *err)
{
	struct blob_src blob = { .fd = fd, .left = size, .digest = hash_blob };

	return unpack(&blob, dir, limits, hasher, res, err);
}
