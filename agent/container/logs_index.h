/* SPDX-License-Identifier: Apache-2.0 */
/*
 * When a log's lines were written.  The container writes its log itself
 * (logs.h), so nothing stamps its lines; instead the agent keeps PATH.idx
 * beside each log file: records of (offset, time), each saying "the first
 * `offset` bytes of PATH had been written by `time`".  A line's time is that
 * of the first record at or past its end: an upper bound, as close as the
 * agent's wakeups on the log (and the file's mtime, which it records when
 * it can) make it.  Records are 16 bytes (two int64, this host's byte
 * order), offsets and times never decreasing, unless the clock went back.
 * Rotation moves the records with the bytes (PATH.1.idx beside PATH.1).
 */
#ifndef LIMPET_LOGS_INDEX_H
#define LIMPET_LOGS_INDEX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "platform/lib/err.h"

struct lp_log_rec {
	int64_t off;	/* bytes of the log ... */
	int64_t ns;	/* ... written by then (Unix ns, UTC) */
};

/* Records closer than this in time are merged into the later one. */
#define LP_LOG_INDEX_GRAIN_NS 10000000

/*
 * PATH had size bytes, last modified at mtime_ns: record that, if the log
 * grew since the last record (at most one record per call).  The time is
 * mtime_ns when it is plausible (not before the last record, not in the
 * future), else now.  PATH.idx is made if missing, even for an empty log:
 * its presence says times are kept.  *idx_size (may be NULL): its size
 * after, so the caller can bound it.
 */
int lp_log_index_note(const char *path, off_t size, int64_t mtime_ns, off_t *idx_size,
		      struct lp_err *err);

/*
 * Rotation: ROTATED (PATH.1) was given [start, end) of PATH; its index gets
 * the records of those bytes, offsets from start, written afresh beside it.
 */
int lp_log_index_copy(const char *path, const char *rotated, off_t start, off_t end,
		      struct lp_err *err);
/* Rotation: the first cut bytes of PATH are gone; so are their records. */
int lp_log_index_cut(const char *path, off_t cut, struct lp_err *err);
/* Rotation: PATH.from.idx becomes PATH.to.idx (or goes, with no PATH.from.idx). */
int lp_log_index_move(const char *from, const char *to, struct lp_err *err);

/* The records of log file PATH, read for printing. */
struct lp_log_index {
	struct lp_log_rec *v;
	size_t n;
	bool present;	/* PATH.idx exists: times were kept */
	dev_t dev;	/* the file read, to read only what was added next time */
	ino_t ino;
};

/* Load (or bring up to date) idx from PATH.idx; a missing one leaves it empty. */
int lp_log_index_load(const char *path, struct lp_log_index *idx, struct lp_err *err);
void lp_log_index_free(struct lp_log_index *idx);
/* The time of the bytes up to end; false when no record reaches that far yet. */
bool lp_log_index_time(const struct lp_log_index *idx, off_t end, int64_t *ns);
/* Does every file of the log (PATH, PATH.1, ... files in all) that has bytes have an index? */
bool lp_log_index_complete(const char *path, int files);

#endif
