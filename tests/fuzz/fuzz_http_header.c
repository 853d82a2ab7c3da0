// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP reply heads (agent/fetch/fetch_reply.c's header callback): the
 * status line, Content-Range (which decides whether a download resumes),
 * the ETag (which the next poll sends back as If-None-Match), a registry's
 * WWW-Authenticate challenges, Retry-After, Content-Type and
 * Docker-Content-Digest.  The input is
 * a head, handed over line by line as libcurl does.  Content-Length is
 * libcurl's to parse, not limpet's.
 */
#include "tests/fuzz/fuzz.h"

#include "agent/fetch/fetch_internal.h"

/* Terminated within its buffer, and one printable line: it goes into messages and requests. */
static void check_text(const char *v, size_t size, const char *what)
{
	const char *end = memchr(v, '\0', size), *p;

	if (!end)
		fz_fail("%s not terminated", what);
	for (p = v; p < end; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			fz_fail("%s with control characters kept", what);
}

static void check_reply(const struct xfer *x)
{
	const char *p;

	if (!memchr(x->reason, '\0', sizeof(x->reason)) ||
	    !memchr(x->etag, '\0', sizeof(x->etag)))
		fz_fail("reason or ETag not terminated");
	if (x->range_start < -1 || x->range_total < -1)
		fz_fail("Content-Range kept as %lld/%lld", (long long)x->range_start,
			(long long)x->range_total);
	if (x->range_start >= 0 && x->range_total >= 0 && x->range_start >= x->range_total)
		fz_fail("Content-Range from %lld of %lld kept: the range is invalid",
			(long long)x->range_start, (long long)x->range_total);
	/* What is kept goes back to the server in a header line of our own. */
	for (p = x->etag; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			fz_fail("ETag with control characters kept: it cannot be sent back");
	check_text(x->head.www_authenticate, sizeof(x->head.www_authenticate), "challenge");
	check_text(x->head.content_type, sizeof(x->head.content_type), "Content-Type");
	check_text(x->head.docker_content_digest, sizeof(x->head.docker_content_digest),
		   "Docker-Content-Digest");
	if (x->head.retry_after_s < -1)
		fz_fail("Retry-After kept as %ld", x->head.retry_after_s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xfer x;
	const char *p = (const char *)data, *end = p + size;

	memset(&x, 0, sizeof(x));
	lp_xfer_reply_reset(&x);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		/* libcurl's buffer ends where the line does: ASan sees any read past it. */
		char *line = malloc(len ? len : 1);

		if (!line)
			fz_fail("out of memory");
		memcpy(line, p, len);
		if (lp_xfer_on_header(line, 1, len, &x) != len)
			fz_fail("the callback did not take the whole line");
		free(line);
		check_reply(&x);
		p += len;
	}
	return 0;
}
