/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTPS for the fleet and for registries: image archives and blobs
 * (resumable, size and digest pinned), small documents revalidated by ETag
 * (or HEAD), and PUT for status reports.  This module is the only user of
 * libcurl.
 *
 * Only https:// URLs are used, redirects included; a redirect to another
 * host, port or scheme never takes an Authorization header along (neither
 * libcurl's nor one in opts->headers).  The server's certificate
 * must chain to opts->ca_file (or the system store) and name the host; the
 * device proves who it is with a client certificate.
 *
 * A failure that may pass (the connection drops or times out, DNS fails,
 * HTTP 408, 429 or 5xx) is retried inside the call, opts->attempts times in
 * all, waiting 1 s, 2 s, 4 s ... (at most 16 s, each +-50 % random) in
 * between.  Anything else returns at once.
 *
 * Every error is one line that starts with the URL, and err->code says what
 * kind of failure it was, so a poller can decide what to do next:
 *   EAGAIN       it may pass: network, timeout, HTTP 408/429/5xx (after all attempts)
 *   ENOENT       HTTP 404 or 410
 *   EACCES       HTTP 401 or 403
 *   EPROTO       any other HTTP status that is not a success
 *   EKEYREJECTED TLS: the server's certificate, our certificate or the handshake
 *   EFBIG        the server sent more than pinned (lp_fetch_file) or max_len (lp_fetch_get)
 *   EBADMSG      the file's size or SHA-256 is not what was pinned
 *   EBUSY        another process is downloading to the same file
 *   EINVAL       not an https:// URL
 *   other errno  a local file could not be written
 */
#ifndef LIMPET_FETCH_H
#define LIMPET_FETCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform/lib/err.h"

#define LP_FETCH_ATTEMPTS 4		/* default for opts->attempts */
#define LP_FETCH_CONNECT_TIMEOUT_S 15	/* default for opts->connect_timeout_s */
#define LP_FETCH_STALL_TIMEOUT_S 30	/* default for opts->stall_timeout_s */
#define LP_FETCH_STALL_FLOOR 1024	/* bytes a second below which a transfer stalls */
#define LP_FETCH_RETRY_AFTER_MAX_S 60	/* default for opts->retry_after_max_s */

/*
 * What a caller may want from the last reply's head beyond its body: a
 * registry's authentication challenge, a throttling server's Retry-After,
 * a manifest's Content-Type.  Values are printable ASCII, NUL terminated,
 * "" when absent; a longer value than fits is dropped, never cut.
 */
struct lp_fetch_reply {
	long status;			/* 0: no reply */
	char www_authenticate[4096];	/* every WWW-Authenticate, joined with ", " */
	char content_type[128];		/* without parameters (";charset=...") */
	char docker_content_digest[80];	/* a hint only: never trust it for a digest */
	long retry_after_s;		/* -1: absent */
};

/* Zero-initialised, these are the defaults. */
struct lp_fetch_opts {
	const char *ca_file;		/* PEM bundle the server must chain to; NULL: system store */
	const char *cert_file;		/* client certificate (PEM): the device's identity */
	const char *key_file;		/* its private key (PEM); needed with cert_file */
	int64_t max_bytes_per_s;	/* download rate cap; 0: none */
	long connect_timeout_s;		/* 0: LP_FETCH_CONNECT_TIMEOUT_S */
	/*
	 * A transfer slower than LP_FETCH_STALL_FLOOR (or a quarter of
	 * max_bytes_per_s, if lower) this long is dropped, and tried again
	 * like a dropped connection: a dead link, or a server trickling bytes.
	 * 0: LP_FETCH_STALL_TIMEOUT_S.
	 */
	long stall_timeout_s;
	int attempts;			/* tries for failures that may pass; 0: LP_FETCH_ATTEMPTS */
	bool progress;			/* progress bar (and retry notes) on stderr if it is a TTY */
	/*
	 * A 429 or 503 with Retry-After is tried again after that long, when it
	 * is at most this (0: LP_FETCH_RETRY_AFTER_MAX_S); a longer wait fails
	 * at once with EAGAIN, naming it, for a poller's own backoff.
	 */
	long retry_after_max_s;
	const char *const *headers;	/* extra "Name: value" lines, NULL-ended; NULL: none */
	const char *progress_name;	/* the progress bar's label; NULL: the URL's file name */
	bool head;			/* lp_fetch_get: HEAD, not GET (no body comes) */
	/*
	 * lp_fetch_get: no Accept-Encoding, so the body is the bytes as stored
	 * (a registry manifest, whose digest is over exactly those).
	 */
	bool identity;
	struct lp_fetch_reply *reply;	/* filled with the last reply's head; NULL: not wanted */
	/* Another thread sets it to stop the transfer at its next bytes (ECANCELED). */
	const atomic_bool *cancel;
};

/* url parses and is https:// with a host; the message quotes it. */
int lp_fetch_url_check(const char *url, struct lp_err *err);

/*
 * The last component of url's path ("hello.tar" for
 * https://h/images/hello.tar?x=1), to name a download after.  Fails when the
 * path ends in '/' or the name would not be a plain file name.
 */
int lp_fetch_url_file_name(const char *url, char *out, size_t len, struct lp_err *err);

/*
 * Download url to dest.  Bytes go to "dest.partial", which is locked while
 * the call runs; when it exists already (an earlier call was interrupted) the
 * download resumes from its end with a Range request.  A server that answers
 * 200 instead of 206 sends the whole file, which replaces the partial one.
 *
 * pinned_size (-1: unknown) is the exact size: the transfer is cut off as
 * soon as the server sends a byte more, and a file that ends short or long is
 * refused.  pinned_sha256 (NULL: none, else 32 bytes) must match the
 * complete file.  A file resumed from a partial one an earlier call left
 * that fails them is fetched once more from its start (the part kept may
 * be what was wrong); on a refusal after that the partial file is deleted,
 * so the next call starts over.
 *
 * The file is hashed as it arrives; sha256_out (NULL: not wanted, else 32
 * bytes) gets its SHA-256, so a caller checking a signature over it need not
 * read it again.  Only a complete, verified file is renamed to dest (after
 * fsync), replacing any file there.  Any other failure keeps dest.partial for the next call.
 * Resuming assumes the URL's content does not change: pin the SHA-256 (or
 * check a signature) to catch one that did.
 */
int lp_fetch_file(const char *url, const char *dest, int64_t pinned_size,
		  const unsigned char *pinned_sha256, unsigned char *sha256_out,
		  const struct lp_fetch_opts *o, struct lp_err *err);
/*
 * lp_fetch_file, and on success *fd_out (the caller closes it) is dest as it
 * was written, still open (for reading and writing): the very bytes
 * sha256_out's digest covers, which the caller can read without hashing
 * them again.  A later download to the same dest renames a new file over
 * the name; what the fd reads stays.
 */
int lp_fetch_file_fd(const char *url, const char *dest, int64_t pinned_size,
		     const unsigned char *pinned_sha256, unsigned char *sha256_out, int *fd_out,
		     const struct lp_fetch_opts *o, struct lp_err *err);

/*
 * GET a small document.  With etag_in (NULL: none) it is sent as
 * If-None-Match.  Returns 0 for a 2xx reply (*body is malloc'd and NUL
 * terminated, *len its length, *etag_out the reply's ETag or NULL) and for a
 * 304 (*body NULL, *len 0, *etag_out a copy of etag_in): an idle poll costs
 * one request and no body.  A body over max_len bytes is refused (EFBIG).
 * Any other status returns -1.  *status is the HTTP status, 0 when there was
 * no reply.  etag_out may be NULL when the caller does not want it.
 */
int lp_fetch_get(const char *url, const char *etag_in, char **body, size_t *len, char **etag_out,
		 long *status, size_t max_len, const struct lp_fetch_opts *o, struct lp_err *err);

/* PUT body (a status report) at url; any 2xx reply is success. */
int lp_fetch_put(const char *url, const char *body, size_t len, const char *content_type,
		 const struct lp_fetch_opts *o, struct lp_err *err);

#endif
