/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SHA-256 on the second core.  An import hashes every stored byte twice and
 * every uncompressed byte once; done inline that is almost half the time on
 * one core while the other idles.  One worker thread takes hashing jobs in
 * order; readers hand it buffers from a small ring and only wait when the
 * worker falls a whole ring behind.
 */
#ifndef LIMPET_HASHER_H
#define LIMPET_HASHER_H

#include <stddef.h>
#include <stdint.h>

#include "platform/lib/err.h"
#include "agent/trust/trust.h"

#define LP_RING_BUFS 4
#define LP_RING_BUF_SIZE (128 * 1024)

struct lp_hasher;

/* A ring of buffers whose contents are being hashed by the worker. */
struct lp_ring {
	struct lp_hasher *h;
	unsigned int next;
	uint64_t pending[LP_RING_BUFS];	/* job sequence that last used each buffer */
	char (*bufs)[LP_RING_BUF_SIZE];
};

int lp_hasher_start(struct lp_hasher **h, struct lp_err *err);
/* Wait for every queued job, stop the thread, free it (NULL is fine). */
void lp_hasher_stop(struct lp_hasher *h);

/* Hash len bytes at data into sha, later; data must stay untouched until done. */
uint64_t lp_hasher_add(struct lp_hasher *h, struct lp_sha256 *sha, const void *data,
		       size_t len);
/* Wait until job `seq` (and all before it) is done; 0 waits for everything queued. */
void lp_hasher_wait(struct lp_hasher *h, uint64_t seq);

int lp_ring_init(struct lp_ring *r, struct lp_hasher *h, struct lp_err *err);
void lp_ring_free(struct lp_ring *r);
/* The next buffer, once the worker is done with what it held before. */
char *lp_ring_get(struct lp_ring *r, unsigned int *slot);
/* Queue the buffer's first len bytes for hashing into sha. */
void lp_ring_hash(struct lp_ring *r, unsigned int slot, struct lp_sha256 *sha, size_t len);

#endif
