/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container output goes straight into PATH (O_APPEND), so it survives an
 * agent restart with no process in between.  The supervisor keeps it
 * bounded: once PATH passes max_size, its newest max_size bytes move to
 * PATH.1 (older files shift up, the oldest is dropped) and PATH is
 * truncated in place, so the container's open descriptor stays valid.
 */
#ifndef LIMPET_LOGS_H
#define LIMPET_LOGS_H

#include <stdbool.h>
#include <stdint.h>

#include "platform/lib/err.h"

/* Rotate when PATH is larger than max_size; keeps `files` files in all. */
int lp_log_rotate(const char *path, int64_t max_size, int files, struct lp_err *err);

/* What logs prints, and how. */
struct lp_log_view {
	long tail;		/* >= 0: only the last `tail` lines (before since/until) */
	bool timestamps;	/* each line after its time, as Docker's logs -t */
	int64_t since_ns;	/* only lines timed at or after this (Unix ns); INT64_MIN: all */
	int64_t until_ns;	/* ... and at or before this; INT64_MAX: no end */
};
#define LP_LOG_VIEW_ALL ((struct lp_log_view){ -1, false, INT64_MIN, INT64_MAX })

/*
 * Print the logs oldest first.  A line's time is that of its index
 * (logs_index.h); a file without one dates all its lines by its mtime.
 */
int lp_log_print(const char *path, int files, const struct lp_log_view *v, struct lp_err *err);

/*
 * Print what is appended to PATH until still_running() says no (or the
 * clock passes v->until_ns).  A line no record reaches yet is dated by the
 * file's mtime.
 */
int lp_log_follow(const char *path, const struct lp_log_view *v, bool (*still_running)(void *),
		  void *arg, struct lp_err *err);

#endif
