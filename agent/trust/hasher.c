// SPDX-License-Identifier: Apache-2.0
#include "agent/trust/hasher.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_LEN (4 * LP_RING_BUFS)

struct job {
	struct lp_sha256 *sha;
	const void *data;
	size_t len;
};

struct lp_hasher {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct job q[QUEUE_LEN];
	uint64_t queued;	/* jobs ever queued; job n has sequence n */
	uint64_t done;		/* jobs finished */
	int stop;
};

static void *worker(void *arg)
{
	struct lp_hasher *h = arg;
	struct job j;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (h->done == h->queued && !h->stop)
			pthread_cond_wait(&h->changed, &h->lock);
		if (h->done == h->queued)
			break;
		j = h->q[h->done % QUEUE_LEN];
		pthread_mutex_unlock(&h->lock);
		lp_sha256_update(j.sha, j.data, j.len);
		pthread_mutex_lock(&h->lock);
		h->done++;
		pthread_cond_broadcast(&h->changed);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

int lp_hasher_start(struct lp_hasher **out, struct lp_err *err)
{
	struct lp_hasher *h = calloc(1, sizeof(*h));
	int rc;

	*out = NULL;
	if (!h)
		return lp_fail(err, ENOMEM, "out of memory");
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->changed, NULL);
	rc = pthread_create(&h->thread, NULL, worker, h);
	if (rc) {
		pthread_mutex_destroy(&h->lock);
		pthread_cond_destroy(&h->changed);
		free(h);
		return lp_fail(err, rc, "start the hashing thread: %s", strerror(rc));
	}
	*out = h;
	return 0;
}

void lp_hasher_stop(struct lp_hasher *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = 1;
	pthread_cond_broadcast(&h->changed);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->changed);
	free(h);
}

uint64_t lp_hasher_add(struct lp_hasher *h, struct lp_sha256 *sha, const void *data, size_t len)
{
	uint64_t seq;

	pthread_mutex_lock(&h->lock);
	while (h->queued - h->done == QUEUE_LEN)
		pthread_cond_wait(&h->changed, &h->lock);
	h->q[h->queued % QUEUE_LEN] = (struct job){ sha, data, len };
	seq = ++h->queued;
	pthread_cond_broadcast(&h->changed);
	pthread_mutex_unlock(&h->lock);
	return seq;
}

void lp_hasher_wait(struct lp_hasher *h, uint64_t seq)
{
	pthread_mutex_lock(&h->lock);
	if (!seq)
		seq = h->queued;
	while (h->done < seq)
		pthread_cond_wait(&h->changed, &h->lock);
	pthread_mutex_unlock(&h->lock);
}

int lp_ring_init(struct lp_ring *r, struct lp_hasher *h, struct lp_err *err)
{
	memset(r, 0, sizeof(*r));
	r->h = h;
	r->bufs = malloc(LP_RING_BUFS * sizeof(*r->bufs));
	if (!r->bufs)
		return lp_fail(err, ENOMEM, "out of memory");
	return 0;
}

void lp_ring_free(struct lp_ring *r)
{
	/* The worker may still be reading a buffer: wait before freeing it. */
	if (r->h && r->bufs)
		lp_hasher_wait(r->h, 0);
	free(r->bufs);
	r->bufs = NULL;
}

char *lp_ring_get(struct lp_ring *r, unsigned int *slot)
{
	unsigned int s = r->next++ % LP_RING_BUFS;

	if (r->pending[s])
		lp_hasher_wait(r->h, r->pending[s]);
	*slot = s;
	return r->bufs[s];
}

void lp_ring_hash(struct lp_ring *r, unsigned int slot, struct lp_sha256 *sha, size_t len)
{
	r->pending[slot] = lp_hasher_add(r->h, sha, r->bufs[slot], len);
}
