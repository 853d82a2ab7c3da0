// SPDX-License-Identifier: Apache-2.0
/*
 * A pull's layers: one thread downloads blob k+1 (hashing it as it comes)
 * while this one unpacks blob k, so the network and the disk work at once.
 * Between them is a queue of one: the downloader starts a blob only when
 * the unpacker has taken the one before, which bounds the disk a pull
 * holds to about two blobs, and keeps the manifest's order.
 *
 * Why a thread and not curl's multi interface: unpacking is libarchive
 * pulling from its read callback, which blocks for seconds a layer; with
 * both in one thread the transfer would stall whenever a layer unpacks.
 *
 * A blob is only unpacked after lp_fetch_file renamed it into place, which
 * it does only when it has exactly its size and digest.  A failure on
 * either side cancels the other; what was downloaded stays for the next
 * run (a partial blob resumes with Range, a whole one is not fetched again).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/image/pull_internal.h"
#include "agent/image/unpack.h"
#include "agent/trust/hasher.h"
#include "platform/lib/util.h"

/* mbedtls' handshake and libcurl need more than musl's 128 KiB default. */
#define DOWNLOADER_STACK (512 * 1024)

struct pipeline {
	struct puller *p;
	size_t todo[LP_MANIFEST_LAYERS_MAX];	/* layer indexes to fetch, in order */
	size_t n;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t ready;		/* blobs downloaded: todo[0 .. ready-1] */
	size_t taken;		/* blobs the unpacker has started on */
	bool done;		/* the downloader has ended */
	bool failed;		/* ... with err */
	struct lp_err err;
	int64_t fetched;	/* bytes downloaded */
};

static int blob_path(const struct puller *p, size_t i, char *out, size_t len,
		     struct lp_err *err)
{
	char hex[LP_SHA256_HEX_LEN + 1];

	lp_hex(p->m.layers[i].digest, 32, hex);
	return lp_path(out, len, err, "%s/sha256-%s", p->blob_dir, hex);
}

/* A blob a run before this one downloaded and verified but did not unpack. */
static bool have_blob(const char *path, uint64_t size)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size;
}

static int download(struct pipeline *pl, size_t i, struct lp_err *err)
{
	struct puller *p = pl->p;
	char path[PATH_MAX], label[32], kind[32];
	const struct lp_pull_layer *l = &p->res->layers[i];

	if (blob_path(p, i, path, sizeof(path), err) < 0)
		return -1;
	if (have_blob(path, p->m.layers[i].size))
		return 0;
	snprintf(label, sizeof(label), "%.19s", l->digest);
	snprintf(kind, sizeof(kind), "layer %zu", i + 1);
	if (lp_pull_fetch_blob(p, kind, l->digest, l->size, path, label, err) < 0)
		return -1;
	pl->fetched += l->size;
	return 0;
}

static void *downloader(void *arg)
{
	struct pipeline *pl = arg;
	struct lp_err err = { 0 };
	size_t k;
	int rc = 0;

	for (k = 0; k < pl->n && rc == 0; k++) {
		pthread_mutex_lock(&pl->mu);
		while (pl->taken < k && !atomic_load(&pl->p->cancel))
			pthread_cond_wait(&pl->cv, &pl->mu);
		pthread_mutex_unlock(&pl->mu);
		if (atomic_load(&pl->p->cancel))
			break;
		rc = download(pl, pl->todo[k], &err);
		pthread_mutex_lock(&pl->mu);
		if (rc < 0) {
			pl->failed = true;
			pl->err = err;
		} else {
			pl->ready = k + 1;
		}
		pthread_cond_broadcast(&pl->cv);
		pthread_mutex_unlock(&pl->mu);
	}
	pthread_mutex_lock(&pl->mu);
	pl->done = true;
	pthread_cond_broadcast(&pl->cv);
	pthread_mutex_unlock(&pl->mu);
	return NULL;
}

/* Wait for todo[k]; take it, which lets the downloader start on the next. */
static int take(struct pipeline *pl, size_t k, struct lp_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&pl->mu);
	while (pl->ready <= k && !pl->done)
		pthread_cond_wait(&pl->cv, &pl->mu);
	if (pl->ready <= k) {
		*err = pl->err;
		rc = -1;
	} else {
		pl->taken = k + 1;
		pthread_cond_broadcast(&pl->cv);
	}
	pthread_mutex_unlock(&pl->mu);
	return rc;
}

static int unpack(struct puller *p, struct lp_hasher *hasher, size_t i, struct lp_err *err)
{
	struct lp_unpack_limits lim = { p->host->cfg.image_max_file_size, &p->budget };
	const struct lp_pull_layer *l = &p->res->layers[i];
	char path[PATH_MAX], got[LP_DIGEST_STR_LEN];
	struct lp_layer_result res;
	cleanup_fd int fd = -1;

	if (blob_path(p, i, path, sizeof(path), err) < 0)
		return -1;
	fd = lp_open_regular(AT_FDCWD, path, O_RDONLY | O_NOFOLLOW, 0, err);
	if (fd < 0)
		return -1;
	/* the blob's digest was checked as it arrived: only its tar is hashed */
	if (lp_unpack_layer_fd(fd, (uint64_t)l->size, p->layer_dir[i], &lim, hasher, false, &res,
			       err) < 0)
		return lp_prefix(err, "%s: layer %zu (%.19s...)", lp_pull_name(p), i + 1,
				 l->digest);
	if (memcmp(res.diff_id, p->diff_ids[i], 32)) {
		memcpy(got, "sha256:", 7);
		lp_hex(res.diff_id, 32, got + 7);
		return lp_fail(err, EBADMSG,
			       "%s: layer %zu (%.19s...): its tar is %.19s..., not the config's "
			       "%.19s...",
			       lp_pull_name(p), i + 1, l->digest, got, l->diff_id);
	}
	p->unpacked[i] = res.unpacked;
	if (unlink(path) < 0)
		return lp_fail_errno(err, "remove %s", path);
	return 0;
}

static void forget_blob(const struct puller *p, size_t i)
{
	char path[PATH_MAX];
	struct lp_err ignored;

	if (blob_path(p, i, path, sizeof(path), &ignored) == 0)
		unlink(path);
}

static int unpack_all(struct pipeline *pl, struct lp_err *err)
{
	struct lp_hasher *hasher = NULL;
	size_t k;
	int rc = 0;

	if (lp_hasher_start(&hasher, err) < 0)
		return -1;
	for (k = 0; k < pl->n && rc == 0; k++) {
		rc = take(pl, k, err);
		if (rc == 0 && unpack(pl->p, hasher, pl->todo[k], err) < 0) {
			rc = -1;
			/* a layer refused stays refused: its blob is no use, unless the disk was full */
			if (err->code != ENOSPC && err->code != EDQUOT)
				forget_blob(pl->p, pl->todo[k]);
		}
	}
	lp_hasher_stop(hasher);
	return rc;
}

static int start_downloader(struct pipeline *pl, pthread_t *t, struct lp_err *err)
{
	pthread_attr_t attr;
	int rc = pthread_attr_init(&attr);

	if (rc == 0)
		rc = pthread_attr_setstacksize(&attr, DOWNLOADER_STACK);
	if (rc == 0)
		rc = pthread_create(t, &attr, downloader, pl);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		return lp_fail(err, rc, "start the download thread: %s", strerror(rc));
	return 0;
}

int lp_pull_layers(struct puller *p, struct lp_err *err)
{
	struct pipeline *pl;
	pthread_t t;
	size_t i;
	int rc;

	if (lp_mkdir_p(p->blob_dir, 0700, err) < 0)
		return -1;
	pl = calloc(1, sizeof(*pl));
	if (!pl)
		return lp_fail(err, ENOMEM, "out of memory");
	pl->p = p;
	for (i = 0; i < p->m.n_layers; i++) {
		if (p->need[i])
			pl->todo[pl->n++] = i;
		else if (p->o->fetch.progress && isatty(STDERR_FILENO))
			fprintf(stderr, "%.19s  already in the store\n", p->res->layers[i].digest);
	}
	pthread_mutex_init(&pl->mu, NULL);
	pthread_cond_init(&pl->cv, NULL);
	/* the downloader alone uses the registry until it is joined */
	rc = start_downloader(pl, &t, err);
	if (rc == 0) {
		rc = unpack_all(pl, err);
		if (rc < 0) {
			atomic_store(&p->cancel, true);
			pthread_mutex_lock(&pl->mu);
			pthread_cond_broadcast(&pl->cv);
			pthread_mutex_unlock(&pl->mu);
		}
		pthread_join(t, NULL);
	}
	p->res->fetched_bytes = pl->fetched;
	pthread_cond_destroy(&pl->cv);
	pthread_mutex_destroy(&pl->mu);
	free(pl);
	return rc;
}
