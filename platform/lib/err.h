/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One error object travels up the call chain; each level may prefix context,
 * and only the top prints it, once.  Fixed-size so that failing never needs
 * an allocation (we may be failing because memory ran out).
 */
#ifndef LIMPET_ERR_H
#define LIMPET_ERR_H

#include <stdarg.h>

#define LP_ERR_MAX 512

struct lp_err {
	int code;		/* errno of the first failure, 0 if not errno based */
	char msg[LP_ERR_MAX];
};

/* Record a failure; returns -1 so callers can `return lp_fail(...)`. */
int lp_fail(struct lp_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* As lp_fail, appending ": strerror(errno)" and keeping errno as the code. */
int lp_fail_errno(struct lp_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Put "context: " in front of the message already recorded. Returns -1. */
int lp_prefix(struct lp_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lp_err_clear(struct lp_err *err);

#endif
