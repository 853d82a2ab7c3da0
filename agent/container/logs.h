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

/* Print the logs oldest first; tail >= 0 keeps only the last `tail` lines. */
int lp_log_print(const char *path, int files, long tail, struct lp_err *err);

/* Print what is appended to PATH until still_running() says no. */
int lp_log_follow(const char *path, bool (*still_running)(void *), void *arg,
		  struct lp_err *err);

#endif
