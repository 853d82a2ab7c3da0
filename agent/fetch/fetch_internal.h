/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by fetch.c (libcurl setup, retries, small documents, PUT),
 * fetch_reply.c (a reply's head and body, errors) and fetch_file.c
 * (resumable, pinned file downloads).  Not an interface: fetch.h is.
 */
#ifndef LIMPET_FETCH_INTERNAL_H
#define LIMPET_FETCH_INTERNAL_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/fetch/fetch.h"

#define ERROR_PAGE_MAX 1024	/* enough of an error page to find its title */
/*
 * The most of a body nobody reads (an error page, a redirect's, a PUT's
 * reply) that is let come: a server sending one without end would hold us
 * for ever.
 */
#define UNREAD_BODY_MAX (64 * 1024)

struct xfer;

/* Where a 2xx reply's body goes: the file being downloaded, or memory. */
struct sink {
	int (*start)(struct xfer *x);	/* the reply's head is in; may abort */
	int (*write)(struct xfer *x, const char *data, size_t len);
	void *data;
};

struct xfer {
	CURL *curl;
	const char *url;
	const struct lp_fetch_opts *o;
	CURLcode setopt_rc;		/* the first option libcurl refused */
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	struct sink sink;		/* .write NULL: a 2xx body is discarded */

	/* The reply being received: the last one when redirects were followed. */
	long status;
	char reason[64];
	int64_t range_start;		/* Content-Range: bytes START-END/TOTAL; -1: absent */
	int64_t range_total;		/* TOTAL; -1: absent or '*' */
	char etag[256];
	struct lp_fetch_reply head;	/* what opts->reply gets; head.status unused until then */
	bool body_started;
	char error_page[ERROR_PAGE_MAX + 1];	/* start of a non-2xx reply's body */
	size_t error_page_len;
	size_t unread_len;		/* body bytes that came for no sink */
	bool unread_cut;		/* more than UNREAD_BODY_MAX: the reply is read no further */
	/* Called as the transfer goes (about once a second at least); NULL: nothing to do. */
	void (*on_progress)(struct xfer *x);

	/* Why one of our callbacks stopped the transfer. */
	bool aborted;
	struct lp_err abort_err;

	bool bar_on_line;		/* the progress bar has the cursor: break the line first */
};

/* Remember the first option libcurl refused; lp_xfer_ready reports it. */
void lp_xfer_opt(struct xfer *x, CURLcode rc);
int lp_xfer_ready(struct xfer *x, struct lp_err *err);
/* An easy handle for url with TLS, client certificate, timeouts and our callbacks. */
int lp_xfer_open(struct xfer *x, const char *url, const struct lp_fetch_opts *o,
		 struct lp_err *err);
void lp_xfer_close(struct xfer *x);
/*
 * libcurl's header callback: one line of the reply's head (status line,
 * Content-Range, ETag, WWW-Authenticate, Retry-After, Content-Type,
 * Docker-Content-Digest) into x's reply fields.  Its own function for the fuzzer.
 */
size_t lp_xfer_on_header(char *line, size_t size, size_t n, void *ud);
/*
 * libcurl's write callback: a 2xx body to x->sink, else the start of the
 * error page; a body without a sink ends the transfer after UNREAD_BODY_MAX.
 */
size_t lp_xfer_on_body(char *data, size_t size, size_t n, void *ud);
/*
 * libcurl's progress callback: stops a cancelled transfer, and a reply that
 * is not a success once its body passes UNREAD_BODY_MAX (libcurl reads a
 * redirect's body without handing it to lp_xfer_on_body); then x->on_progress.
 */
int lp_xfer_on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			curl_off_t ulnow);
bool lp_fetch_is_2xx(long status);
/* Control characters: a header value we send may not have them (no line break may ride along). */
bool lp_fetch_has_control_chars(const char *value);
/* For a sink callback: stop the transfer with x->abort_err as the reason. */
int lp_xfer_abort_transfer(struct xfer *x);
/* x's reply fields as a new reply (a redirect's, a 100's) starts. */
void lp_xfer_reply_reset(struct xfer *x);
/* A reply that is not a success, as one line with its kind in err->code. */
int lp_xfer_http_failed(struct xfer *x, struct lp_err *err);
int lp_xfer_perform_once(struct xfer *x, struct lp_err *err);
/* Progress bars and retry notes only for a person at a terminal. */
bool lp_xfer_interactive(const struct xfer *x);
/* once, again after failures that may pass, with backoff (o->attempts in all). */
int lp_xfer_with_retries(struct xfer *x, int (*once)(struct xfer *, struct lp_err *),
			 struct lp_err *err);

#endif
