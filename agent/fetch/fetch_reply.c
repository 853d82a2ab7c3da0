// SPDX-License-Identifier: Apache-2.0
/*
 * What comes back from one request: the reply's head (status line,
 * Content-Range, ETag) read by us rather than by curl, its body handed to
 * the sink or kept as the start of an error page, and a failed attempt
 * turned into one line with its kind in err->code.  Apart from fetch.c
 * (the handle, retries, GET and PUT) because it is where server text is
 * parsed: the part the http_header fuzz target exercises.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "agent/fetch/fetch_internal.h"

#define DETAIL_MAX 120		/* what of an error page goes into a message */
#define HEADER_MAX 4096		/* a registry's Bearer challenge names a realm and scopes */

/* ---------------------------------------------------------------- the reply's head */

/* "Name: value" -> value, when the line is that header. */
static const char *header_value(const char *line, const char *name)
{
	size_t n = strlen(name);

	if (strncasecmp(line, name, n) || line[n] != ':')
		return NULL;
	line += n + 1;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

void lp_xfer_reply_reset(struct xfer *x)
{
	x->range_start = -1;
	x->range_total = -1;
	x->etag[0] = '\0';
	x->reason[0] = '\0';
	memset(&x->head, 0, sizeof(x->head));
	x->head.retry_after_s = -1;
}

/* "HTTP/1.1 206 Partial Content": a new reply (after a redirect or a 100). */
static void new_reply(struct xfer *x, const char *status_line)
{
	const char *p = strchr(status_line, ' ');

	lp_xfer_reply_reset(x);
	if (p)
		p = strchr(p + 1, ' ');
	if (p)
		snprintf(x->reason, sizeof(x->reason), "%s", p + 1);
}

static bool parse_offset(const char *s, const char **end, int64_t *v)
{
	char *after;
	long long n;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	n = strtoll(s, &after, 10);
	if (errno)
		return false;
	*v = n;
	*end = after;
	return true;
}

/*
 * Content-Range: "bytes 100-199/1000"; a 416 has "*" instead of "100-199".
 * An invalid one (199-100, or 100-199/150) is ignored, as RFC 9110 says: a
 * download must not resume on it.
 */
static void parse_content_range(struct xfer *x, const char *v)
{
	int64_t start = -1, end = -1, total = -1;
	const char *p;

	if (strncasecmp(v, "bytes ", 6))
		return;
	p = v + 6;
	if (*p == '*')
		p++;
	else if (!parse_offset(p, &p, &start) || *p++ != '-' || !parse_offset(p, &p, &end))
		return;
	if (*p++ != '/')
		return;
	if (*p == '*')
		p++;
	else if (!parse_offset(p, &p, &total))
		return;
	if (*p || end < start || (total >= 0 && end >= total) || (start < 0 && total < 0))
		return;
	x->range_start = start;
	x->range_total = total;
}

/* Control characters: a header value we send may not have them (no line break may ride along). */
bool lp_fetch_has_control_chars(const char *value)
{
	const unsigned char *p;

	for (p = (const unsigned char *)value; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

/* Kept whole or not at all: a cut value would be another value. */
static void keep_value(char *out, size_t size, const char *v)
{
	if (strlen(v) < size && !lp_fetch_has_control_chars(v))
		snprintf(out, size, "%s", v);
}

/* Several challenges may come in several headers: one list, as RFC 9110 allows. */
static void add_challenge(struct xfer *x, const char *v)
{
	char *list = x->head.www_authenticate;
	size_t used = strlen(list), add = strlen(v) + (used ? 2 : 0);

	if (lp_fetch_has_control_chars(v) || used + add >= sizeof(x->head.www_authenticate))
		return;
	if (used) {
		memcpy(list + used, ", ", 2);
		used += 2;
	}
	memcpy(list + used, v, strlen(v) + 1);
}

/* "Content-Type: application/json; charset=utf-8" -> "application/json" */
static void keep_media_type(struct xfer *x, const char *v)
{
	size_t n = strcspn(v, "; \t");

	if (n < sizeof(x->head.content_type)) {
		memcpy(x->head.content_type, v, n);
		x->head.content_type[n] = '\0';
		if (lp_fetch_has_control_chars(x->head.content_type))
			x->head.content_type[0] = '\0';
	}
}

/* Retry-After: delta-seconds, or an HTTP-date (RFC 9110 10.2.3). */
static void parse_retry_after(struct xfer *x, const char *v)
{
	time_t at, now = time(NULL);
	int64_t s;
	const char *end;

	if (parse_offset(v, &end, &s)) {
		if (*end == '\0')
			x->head.retry_after_s = s > LONG_MAX ? LONG_MAX : (long)s;
		return;
	}
	at = curl_getdate(v, NULL);
	if (at != (time_t)-1)
		x->head.retry_after_s = at > now ? (long)(at - now) : 0;
}

size_t lp_xfer_on_header(char *line, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n, used = len < HEADER_MAX ? len : HEADER_MAX;
	char buf[HEADER_MAX + 1];
	const char *v;

	/* a header cut short would be another header: only a status line may be */
	if (len > HEADER_MAX && strncmp(line, "HTTP/", 5))
		return len;
	memcpy(buf, line, used);
	while (used > 0 && (buf[used - 1] == '\n' || buf[used - 1] == '\r' ||
			    buf[used - 1] == ' '))
		used--;
	buf[used] = '\0';
	if (!strncmp(buf, "HTTP/", 5))
		new_reply(x, buf);
	else if ((v = header_value(buf, "Content-Range")))
		parse_content_range(x, v);
	else if ((v = header_value(buf, "ETag")))
		/* kept only when the next request can send it back whole */
		keep_value(x->etag, sizeof(x->etag), v);
	else if ((v = header_value(buf, "WWW-Authenticate")))
		add_challenge(x, v);
	else if ((v = header_value(buf, "Retry-After")))
		parse_retry_after(x, v);
	else if ((v = header_value(buf, "Content-Type")))
		keep_media_type(x, v);
	else if ((v = header_value(buf, "Docker-Content-Digest")))
		keep_value(x->head.docker_content_digest, sizeof(x->head.docker_content_digest), v);
	return len;
}

/* ---------------------------------------------------------------- the reply's body */

bool lp_fetch_is_2xx(long status)
{
	return status >= 200 && status < 300;
}

int lp_xfer_abort_transfer(struct xfer *x)
{
	x->aborted = true;
	return -1;
}

static void read_status(struct xfer *x)
{
	if (curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status) != CURLE_OK)
		x->status = 0;
}

/* The head is complete once the first body byte (or the end) arrives. */
static int start_body(struct xfer *x)
{
	x->body_started = true;
	read_status(x);
	if (!lp_fetch_is_2xx(x->status) || !x->sink.start)
		return 0;
	return x->sink.start(x);
}

static void keep_error_page(struct xfer *x, const char *data, size_t len)
{
	size_t room = ERROR_PAGE_MAX - x->error_page_len;

	if (len > room)
		len = room;
	memcpy(x->error_page + x->error_page_len, data, len);
	x->error_page_len += len;
	x->error_page[x->error_page_len] = '\0';
}

static bool cancelled(struct xfer *x)
{
	if (!x->o->cancel || !atomic_load(x->o->cancel))
		return false;
	lp_fail(&x->abort_err, ECANCELED, "%s: cancelled", x->url);
	lp_xfer_abort_transfer(x);
	return true;
}

size_t lp_xfer_on_body(char *data, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;

	if (cancelled(x))
		return 0;
	if (!x->body_started && start_body(x) < 0)
		return 0; /* anything but len stops the transfer */
	if (x->sink.write && lp_fetch_is_2xx(x->status))
		return x->sink.write(x, data, len) < 0 ? 0 : len;
	if (!lp_fetch_is_2xx(x->status))
		keep_error_page(x, data, len);
	/* the status is the answer: the rest of a body nobody reads need not come */
	x->unread_len += len;
	if (x->unread_len > UNREAD_BODY_MAX) {
		x->unread_cut = true;
		return 0;
	}
	return len;
}

int lp_xfer_on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			curl_off_t ulnow)
{
	struct xfer *x = ud;
	long status = 0;

	if (cancelled(x))
		return 1;
	/* a body lp_xfer_on_body does not see: a redirect's, which libcurl reads to reuse the connection */
	if (!x->body_started && dlnow > UNREAD_BODY_MAX &&
	    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status &&
	    !lp_fetch_is_2xx(status)) {
		lp_fail(&x->abort_err, EPROTO, "%s: HTTP %ld with more than %d bytes of body; cut off",
			x->url, status, UNREAD_BODY_MAX);
		lp_xfer_abort_transfer(x);
		return 1;
	}
	if (x->on_progress)
		x->on_progress(x);
	return 0;
}

/* ---------------------------------------------------------------- errors */

static bool is_tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_USE_SSL_FAILED:
		return true;
	default:
		return false;
	}
}

/* Failures a later attempt may not see: the network, not the request. */
static bool is_transient_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static int transfer_failed(struct xfer *x, CURLcode rc, struct lp_err *err)
{
	const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
	size_t n = strlen(x->errbuf);
	char *nl;

	/* mbedtls' certificate verdicts end in a newline */
	while (n > 0 && isspace((unsigned char)x->errbuf[n - 1]))
		x->errbuf[--n] = '\0';
	while ((nl = strchr(x->errbuf, '\n')))
		*nl = ' ';
	if (is_tls_error(rc))
		return lp_fail(err, EKEYREJECTED, "%s: TLS: %s", x->url, why);
	/*
	 * A reply cut short reads "transfer closed with N bytes remaining" with
	 * OpenSSL but "ssl_read returned: (-0x0000)" with mbedtls (the static
	 * build): say what happened, whichever library words it.
	 */
	if (rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR)
		return lp_fail(err, EAGAIN, "%s: the connection broke mid-reply (%s)", x->url, why);
	return lp_fail(err, is_transient_error(rc) ? EAGAIN : EPROTO, "%s: %s", x->url, why);
}

static int http_errno(long status)
{
	switch (status) {
	case 404:
	case 410:
		return ENOENT;
	case 401:
	case 403:
		return EACCES;
	case 408:
	case 429:
		return EAGAIN;
	}
	return status >= 500 ? EAGAIN : EPROTO;
}

/* Printable ASCII only, at most DETAIL_MAX bytes: server text goes into one line. */
static void copy_detail(char *out, const char *from, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len && n < DETAIL_MAX; i++)
		if (from[i] >= 0x20 && from[i] < 0x7f)
			out[n++] = from[i];
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

/*
 * A registry's error body (OCI distribution spec, "Error Codes"):
 * {"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown",...}]}
 * -> "MANIFEST_UNKNOWN: manifest unknown".  Only the first error is named.
 */
static bool registry_error(const struct xfer *x, char *out)
{
	json_t *doc = json_loadb(x->error_page, x->error_page_len, JSON_REJECT_DUPLICATES, NULL);
	json_t *first = json_array_get(json_object_get(doc, "errors"), 0);
	const char *code = json_string_value(json_object_get(first, "code"));
	const char *msg = json_string_value(json_object_get(first, "message"));
	char line[2 * DETAIL_MAX + 3];

	if (code)
		snprintf(line, sizeof(line), "%.*s%s%.*s", DETAIL_MAX, code, msg ? ": " : "",
			 DETAIL_MAX, msg ? msg : "");
	json_decref(doc);
	if (!code)
		return false;
	copy_detail(out, line, strlen(line));
	return true;
}

/*
 * What the server said about the failure: a registry's error code, an HTML
 * page's <title> (nginx: "400 No required SSL certificate was sent"), else
 * a text body's first line.
 */
static void error_detail(const struct xfer *x, char *out)
{
	const char *page = x->error_page, *start, *end;

	out[0] = '\0';
	if (page[0] == '{') {
		/* JSON in a message is noise unless it is a registry's error */
		registry_error(x, out);
		return;
	}
	start = strcasestr(page, "<title>");
	if (start) {
		start += strlen("<title>");
		end = strcasestr(start, "</title>");
		if (!end)
			return;
		while (start < end && ((*start >= '0' && *start <= '9') || *start == ' '))
			start++;
	} else if (page[0] && page[0] != '<') {
		start = page;
		end = start + strcspn(start, "\r\n");
	} else {
		return;
	}
	copy_detail(out, start, (size_t)(end - start));
	if (!strcasecmp(out, x->reason))
		out[0] = '\0';
}

/* HTTP/2 has no reason phrases: the usual one, so a message reads the same either way. */
static const char *usual_reason(long status)
{
	static const struct {
		long status;
		const char *reason;
	} reasons[] = {
		{ 400, "Bad Request" },	   { 401, "Unauthorized" },
		{ 403, "Forbidden" },	   { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 408, "Request Timeout" },
		{ 410, "Gone" },	   { 416, "Range Not Satisfiable" },
		{ 429, "Too Many Requests" }, { 500, "Internal Server Error" },
		{ 502, "Bad Gateway" },	   { 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
	};
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "";
}

int lp_xfer_http_failed(struct xfer *x, struct lp_err *err)
{
	char detail[DETAIL_MAX + 1];

	if (!x->reason[0])
		snprintf(x->reason, sizeof(x->reason), "%s", usual_reason(x->status));
	error_detail(x, detail);
	return lp_fail(err, http_errno(x->status), "%s: HTTP %ld%s%s%s%s%s", x->url, x->status,
		       x->reason[0] ? " " : "", x->reason, detail[0] ? " (" : "", detail,
		       detail[0] ? ")" : "");
}

/* ---------------------------------------------------------------- one attempt */

/* One request.  0: a reply came, x->status says which; -1: err says why not. */
int lp_xfer_perform_once(struct xfer *x, struct lp_err *err)
{
	CURLcode rc;

	x->status = 0;
	lp_xfer_reply_reset(x);
	x->body_started = false;
	x->error_page_len = 0;
	x->error_page[0] = '\0';
	x->unread_len = 0;
	x->unread_cut = false;
	x->errbuf[0] = '\0';
	x->aborted = false;
	rc = curl_easy_perform(x->curl);
	/* a body cut short that nobody reads: the reply is its status */
	if (rc == CURLE_WRITE_ERROR && x->unread_cut)
		rc = CURLE_OK;
	if (!x->aborted && rc == CURLE_OK && !x->body_started)
		start_body(x); /* a reply without a body */
	else if (!x->body_started)
		read_status(x);
	if (x->aborted) {
		*err = x->abort_err;
		return -1;
	}
	if (rc != CURLE_OK)
		return transfer_failed(x, rc, err);
	return 0;
}
