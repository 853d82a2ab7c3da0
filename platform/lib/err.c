// SPDX-License-Identifier: Apache-2.0
#include "platform/lib/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void vset(struct lp_err *err, const char *fmt, va_list ap)
{
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int lp_fail(struct lp_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vset(err, fmt, ap);
	va_end(ap);
	return -1;
}

int lp_fail_errno(struct lp_err *err, const char *fmt, ...)
{
	int saved = errno;
	size_t len;
	va_list ap;

	if (!err)
		return -1;
	err->code = saved;
	va_start(ap, fmt);
	vset(err, fmt, ap);
	va_end(ap);
	len = strlen(err->msg);
	if (len + 3 < sizeof(err->msg))
		snprintf(err->msg + len, sizeof(err->msg) - len, ": %.*s",
			 (int)(sizeof(err->msg) - len - 3), strerror(saved));
	errno = saved;
	return -1;
}

int lp_prefix(struct lp_err *err, const char *fmt, ...)
{
	char head[LP_ERR_MAX], joined[2 * LP_ERR_MAX + 2];
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	snprintf(joined, sizeof(joined), "%s: %s", head, err->msg);
	/* Too long a chain keeps its start: the outermost context reads first. */
	memcpy(err->msg, joined, sizeof(err->msg) - 1);
	err->msg[sizeof(err->msg) - 1] = '\0';
	return -1;
}

void lp_err_clear(struct lp_err *err)
{
	err->code = 0;
	err->msg[0] = '\0';
}
