// SPDX-License-Identifier: Apache-2.0
/*
 * libcurl behind lp_fetch_*: one easy handle per call, every option checked,
 * and the reply's status decided by us rather than by curl.  We send Range
 * ourselves (CURLOPT_RANGE) instead of CURLOPT_RESUME_FROM_LARGE because curl
 * fails a resume outright when the server answers 200, and reports a 404 to
 * a resumed request as a range error; reading the status ourselves lets a
 * 200 simply restart the file within the same request.
 */
#include "agent/fetch/fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "platform/lib/util.h"
#include "agent/trust/trust.h"

#define MAX_REDIRECTS 5L
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 16000
#define USER_AGENT "limpet/" LIMPET_VERSION

#include "agent/fetch/fetch_internal.h"

static const struct lp_fetch_opts default_opts;

/* ---------------------------------------------------------------- libcurl setup */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init_once(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* curl_global_init must run once, before any handle, and is not cheap. */
static int global_init(struct lp_err *err)
{
	int rc = pthread_once(&global_once, global_init_once);

	if (rc != 0)
		return lp_fail(err, rc, "libcurl: initialisation failed: %s", strerror(rc));
	if (global_rc != CURLE_OK)
		return lp_fail(err, ENOMEM, "libcurl: initialisation failed: %s",
			       curl_easy_strerror(global_rc));
	return 0;
}

void lp_xfer_opt(struct xfer *x, CURLcode rc)
{
	if (x->setopt_rc == CURLE_OK)
		x->setopt_rc = rc;
}

int lp_xfer_ready(struct xfer *x, struct lp_err *err)
{
	if (x->setopt_rc == CURLE_OK)
		return 0;
	return lp_fail(err, EINVAL, "%s: libcurl refused an option: %s", x->url,
		       curl_easy_strerror(x->setopt_rc));
}

static int add_header(struct xfer *x, const char *line, struct lp_err *err)
{
	struct curl_slist *grown = curl_slist_append(x->headers, line);

	if (!grown)
		return lp_fail(err, ENOMEM, "out of memory");
	x->headers = grown;
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_HTTPHEADER, x->headers));
	return 0;
}

/* Values the caller gives go into header lines. */
static int check_header_value(const char *url, const char *what, const char *value,
			      struct lp_err *err)
{
	if (lp_fetch_has_control_chars(value))
		return lp_fail(err, EINVAL, "%s: the %s has control characters", url, what);
	return 0;
}

static int add_caller_headers(struct xfer *x, struct lp_err *err)
{
	const char *const *h;

	for (h = x->o->headers; h && *h; h++)
		if (check_header_value(x->url, "header", *h, err) < 0 ||
		    add_header(x, *h, err) < 0)
			return -1;
	return 0;
}

static void set_tls_options(struct xfer *x)
{
	const struct lp_fetch_opts *o = x->o;

	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2));
	if (o->ca_file) {
		/* The fleet's CA alone: no public CA may vouch for the server too. */
		lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_CAINFO, o->ca_file));
		lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_CAPATH, NULL));
	}
	if (o->cert_file)
		lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_SSLCERT, o->cert_file));
	if (o->key_file)
		lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_SSLKEY, o->key_file));
}

/*
 * The speed below which a transfer counts as stalled: LP_FETCH_STALL_FLOOR,
 * or less when the caller caps the rate lower (a cap is not a stall).
 */
static long stall_floor(const struct lp_fetch_opts *o)
{
	int64_t floor = LP_FETCH_STALL_FLOOR;

	if (o->max_bytes_per_s > 0 && o->max_bytes_per_s / 4 < floor)
		floor = o->max_bytes_per_s / 4;
	return floor > 0 ? (long)floor : 1L;
}

static void set_common_options(struct xfer *x)
{
	const struct lp_fetch_opts *o = x->o;
	long connect_s = o->connect_timeout_s > 0 ? o->connect_timeout_s
						  : LP_FETCH_CONNECT_TIMEOUT_S;
	long stall_s = o->stall_timeout_s > 0 ? o->stall_timeout_s : LP_FETCH_STALL_TIMEOUT_S;

	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_URL, x->url));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_PROTOCOLS_STR, "https"));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_REDIR_PROTOCOLS_STR, "https"));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_FOLLOWLOCATION, 1L));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_MAXREDIRS, MAX_REDIRECTS));
	/*
	 * A registry's token is for the registry: a redirect to blob storage on
	 * another host, port or scheme must not carry it (libcurl drops our own
	 * Authorization header too on such a hop).  0 is the default; it is set
	 * so that no later change of default can hand tokens around.
	 */
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_UNRESTRICTED_AUTH, 0L));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_ERRORBUFFER, x->errbuf));
	/* no SIGALRM for DNS timeouts: the agent has threads and signal handlers */
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_NOSIGNAL, 1L));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_USERAGENT, USER_AGENT));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_CONNECTTIMEOUT, connect_s));
	/*
	 * A link that silently died is dropped, then resumed by the next
	 * attempt; so is a server that trickles a byte now and then, which
	 * would otherwise hold a pull for as long as it likes.
	 */
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_LOW_SPEED_LIMIT, stall_floor(o)));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_LOW_SPEED_TIME, stall_s));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_TCP_KEEPALIVE, 1L));
	if (o->max_bytes_per_s > 0)
		lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_MAX_RECV_SPEED_LARGE,
					(curl_off_t)o->max_bytes_per_s));
	set_tls_options(x);
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_HEADERFUNCTION, lp_xfer_on_header));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_HEADERDATA, x));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_WRITEFUNCTION, lp_xfer_on_body));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_WRITEDATA, x));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_XFERINFOFUNCTION, lp_xfer_on_progress));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_XFERINFODATA, x));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_NOPROGRESS, 0L));
}

int lp_xfer_open(struct xfer *x, const char *url, const struct lp_fetch_opts *o,
		     struct lp_err *err)
{
	memset(x, 0, sizeof(*x));
	x->url = url;
	x->o = o ? o : &default_opts;
	if (lp_fetch_url_check(url, err) < 0 || global_init(err) < 0)
		return -1;
	x->curl = curl_easy_init();
	if (!x->curl)
		return lp_fail(err, ENOMEM, "%s: libcurl: out of memory", url);
	set_common_options(x);
	if (add_caller_headers(x, err) < 0)
		return -1;
	return lp_xfer_ready(x, err);
}

/* The last reply's head goes to the caller who asked for it. */
void lp_xfer_close(struct xfer *x)
{
	if (x->o && x->o->reply) {
		*x->o->reply = x->head;
		x->o->reply->status = x->status;
	}
	curl_slist_free_all(x->headers);
	if (x->curl)
		curl_easy_cleanup(x->curl);
	x->headers = NULL;
	x->curl = NULL;
}

/* ---------------------------------------------------------------- URLs */

int lp_fetch_url_check(const char *url, struct lp_err *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	CURLUcode rc;
	int ret = 0;

	if (!u)
		return lp_fail(err, ENOMEM, "out of memory");
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc != CURLUE_OK)
		ret = lp_fail(err, EINVAL, "'%s' is not a URL: %s", url, curl_url_strerror(rc));
	if (ret == 0 && (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
			 strcmp(scheme, "https")))
		ret = lp_fail(err, EINVAL, "'%s': only https:// URLs are allowed", url);
	if (ret == 0 && (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host))
		ret = lp_fail(err, EINVAL, "'%s' names no host", url);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ret;
}

static bool plain_file_name(const char *name)
{
	const unsigned char *p;

	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/')
			return false;
	return true;
}

int lp_fetch_url_file_name(const char *url, char *out, size_t len, struct lp_err *err)
{
	CURLU *u = curl_url();
	char *path = NULL;
	const char *name;
	int ret;

	if (!u)
		return lp_fail(err, ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK) {
		curl_url_cleanup(u);
		return lp_fail(err, EINVAL, "'%s' is not a URL with a path", url);
	}
	name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (plain_file_name(name))
		ret = lp_path(out, len, err, "%s", name);
	else
		ret = lp_fail(err, EINVAL, "'%s' does not end in a file name", url);
	curl_free(path);
	curl_url_cleanup(u);
	return ret;
}

/* ---------------------------------------------------------------- attempts */

static uint32_t random_u32(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)lp_now_ms() * 2654435761u ^ (uint32_t)getpid();
	return r;
}

/* 1 s, 2 s, 4 s ... up to 16 s, each between half and one and a half of that. */
static int64_t backoff_ms(int attempt)
{
	int64_t base = BACKOFF_FIRST_MS;

	while (--attempt > 0 && base < BACKOFF_MAX_MS)
		base *= 2;
	if (base > BACKOFF_MAX_MS)
		base = BACKOFF_MAX_MS;
	return base / 2 + (int64_t)(random_u32() % (uint32_t)(base + 1));
}

static void sleep_ms(int64_t ms)
{
	struct timespec left = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&left, &left) < 0 && errno == EINTR)
		;
}

bool lp_xfer_interactive(const struct xfer *x)
{
	return x->o->progress && isatty(STDERR_FILENO);
}

static int gave_up(struct lp_err *err, int attempts)
{
	size_t len = strlen(err->msg);

	if (attempts > 1)
		snprintf(err->msg + len, sizeof(err->msg) - len, " (%d attempts)", attempts);
	return -1;
}

/*
 * A throttling server's Retry-After beyond what this caller may wait: give
 * up now, saying when to come back, rather than retry too soon (a registry
 * counts the refused requests too) or block a poller for an hour.
 */
static bool told_to_wait_too_long(struct xfer *x, struct lp_err *err)
{
	long max = x->o->retry_after_max_s > 0 ? x->o->retry_after_max_s
					       : LP_FETCH_RETRY_AFTER_MAX_S;
	size_t len = strlen(err->msg);

	if ((x->status != 429 && x->status != 503) || x->head.retry_after_s <= max)
		return false;
	snprintf(err->msg + len, sizeof(err->msg) - len, "; retry after %ld s",
		 x->head.retry_after_s);
	return true;
}

/* Run once() until it succeeds, fails for good, or the attempts are used up. */
int lp_xfer_with_retries(struct xfer *x, int (*once)(struct xfer *, struct lp_err *),
			struct lp_err *err)
{
	int max = x->o->attempts > 0 ? x->o->attempts : LP_FETCH_ATTEMPTS;
	int attempt;

	for (attempt = 1;; attempt++) {
		int64_t wait;

		if (once(x, err) == 0)
			return 0;
		if (err->code != EAGAIN)
			return -1;
		if (told_to_wait_too_long(x, err))
			return -1;
		if (attempt >= max)
			return gave_up(err, attempt);
		wait = backoff_ms(attempt);
		if (x->head.retry_after_s > 0 && x->head.retry_after_s * 1000 > wait)
			wait = x->head.retry_after_s * 1000;
		if (lp_xfer_interactive(x))
			fprintf(stderr, "%slimpet: %s; trying again in %.1f s\n",
				x->bar_on_line ? "\n" : "", err->msg, (double)wait / 1000.0);
		x->bar_on_line = false;
		sleep_ms(wait);
	}
}

/* ---------------------------------------------------------------- small documents */

struct memory {
	char *buf;
	size_t len, cap, max;
};

static int memory_write(struct xfer *x, const char *data, size_t len)
{
	struct memory *m = x->sink.data;
	size_t cap;
	char *grown;

	if (len > m->max - m->len) {
		lp_fail(&x->abort_err, EFBIG, "%s: the reply is larger than %zu bytes", x->url,
			m->max);
		return lp_xfer_abort_transfer(x);
	}
	if (m->len + len + 1 > m->cap) {
		cap = m->cap ? m->cap : 4096;
		while (cap < m->len + len + 1)
			cap *= 2;
		grown = realloc(m->buf, cap);
		if (!grown) {
			lp_fail(&x->abort_err, ENOMEM, "%s: out of memory", x->url);
			return lp_xfer_abort_transfer(x);
		}
		m->buf = grown;
		m->cap = cap;
	}
	memcpy(m->buf + m->len, data, len);
	m->len += len;
	m->buf[m->len] = '\0';
	return 0;
}

static int get_once(struct xfer *x, struct lp_err *err)
{
	struct memory *m = x->sink.data;

	m->len = 0; /* a dropped reply starts over */
	if (lp_xfer_perform_once(x, err) < 0)
		return -1;
	if (lp_fetch_is_2xx(x->status) || x->status == 304)
		return 0;
	return lp_xfer_http_failed(x, err);
}

static int send_if_none_match(struct xfer *x, const char *etag, struct lp_err *err)
{
	char line[sizeof(x->etag) + 32];

	if (check_header_value(x->url, "ETag", etag, err) < 0 ||
	    lp_path(line, sizeof(line), err, "If-None-Match: %s", etag) < 0)
		return -1;
	return add_header(x, line, err);
}

/* The caller's copies: a body (NUL terminated) and the ETag that goes with it. */
static int hand_over(struct xfer *x, struct memory *m, const char *etag_in, char **body,
		     size_t *len, char **etag_out, struct lp_err *err)
{
	const char *etag = x->status == 304 ? (x->etag[0] ? x->etag : etag_in) : x->etag;

	if (x->status != 304 && !m->buf && !(m->buf = calloc(1, 1)))
		return lp_fail(err, ENOMEM, "out of memory");
	if (etag_out && etag && etag[0] && !(*etag_out = strdup(etag)))
		return lp_fail(err, ENOMEM, "out of memory");
	*body = x->status == 304 ? NULL : steal_ptr(m->buf);
	*len = x->status == 304 ? 0 : m->len;
	return 0;
}

int lp_fetch_get(const char *url, const char *etag_in, char **body, size_t *len, char **etag_out,
		 long *status, size_t max_len, const struct lp_fetch_opts *o, struct lp_err *err)
{
	struct memory m = { .max = max_len };
	struct xfer x;
	int rc;

	*body = NULL;
	*len = 0;
	*status = 0;
	if (etag_out)
		*etag_out = NULL;
	rc = lp_xfer_open(&x, url, o, err);
	if (rc == 0 && etag_in)
		rc = send_if_none_match(&x, etag_in, err);
	if (rc == 0) {
		/* documents compress well; max_len bounds what they inflate to */
		if (!x.o->identity)
			lp_xfer_opt(&x, curl_easy_setopt(x.curl, CURLOPT_ACCEPT_ENCODING, ""));
		if (x.o->head)
			lp_xfer_opt(&x, curl_easy_setopt(x.curl, CURLOPT_NOBODY, 1L));
		x.sink = (struct sink){ NULL, memory_write, &m };
		rc = lp_xfer_ready(&x, err);
	}
	if (rc == 0)
		rc = lp_xfer_with_retries(&x, get_once, err);
	*status = x.status;
	if (rc == 0)
		rc = hand_over(&x, &m, etag_in, body, len, etag_out, err);
	free(m.buf);
	lp_xfer_close(&x);
	return rc;
}

/* ---------------------------------------------------------------- status reports */

struct upload {
	const char *data;
	size_t len, at;
};

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
	struct upload *up = ud;
	size_t len = size * n;

	if (len > up->len - up->at)
		len = up->len - up->at;
	memcpy(buf, up->data + up->at, len);
	up->at += len;
	return len;
}

/* A redirect sends the body again from the start. */
static int on_seek(void *ud, curl_off_t offset, int origin)
{
	struct upload *up = ud;

	if (origin != SEEK_SET || offset < 0 || (size_t)offset > up->len)
		return CURL_SEEKFUNC_CANTSEEK;
	up->at = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

static int put_once(struct xfer *x, struct lp_err *err)
{
	struct upload *up = x->sink.data;

	up->at = 0;
	if (lp_xfer_perform_once(x, err) < 0)
		return -1;
	return lp_fetch_is_2xx(x->status) ? 0 : lp_xfer_http_failed(x, err);
}

static int set_upload(struct xfer *x, struct upload *up, const char *content_type,
		      struct lp_err *err)
{
	char line[256];

	if (check_header_value(x->url, "content type", content_type, err) < 0 ||
	    lp_path(line, sizeof(line), err, "Content-Type: %s", content_type) < 0 ||
	    add_header(x, line, err) < 0)
		return -1;
	/* a report is small: waiting for "100 Continue" would only add a round trip */
	if (add_header(x, "Expect:", err) < 0)
		return -1;
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_UPLOAD, 1L));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up->len));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_READFUNCTION, on_read));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_READDATA, up));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_SEEKFUNCTION, on_seek));
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_SEEKDATA, up));
	x->sink = (struct sink){ NULL, NULL, up };
	return lp_xfer_ready(x, err);
}

int lp_fetch_put(const char *url, const char *body, size_t len, const char *content_type,
		 const struct lp_fetch_opts *o, struct lp_err *err)
{
	struct upload up = { .data = body, .len = len };
	struct xfer x;
	int rc;

	rc = lp_xfer_open(&x, url, o, err);
	if (rc == 0)
		rc = set_upload(&x, &up, content_type, err);
	if (rc == 0)
		rc = lp_xfer_with_retries(&x, put_once, err);
	lp_xfer_close(&x);
	return rc;
}
