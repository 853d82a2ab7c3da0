// SPDX-License-Identifier: Apache-2.0
/*
 * lp_fetch_*: URL checks and retries here; the rest against the nginx of
 * tests/lib/nginx.sh, which tests/integration/08-pull.t starts and passes
 * in the environment (without it those tests are skipped):
 *   LIMPET_TEST_HTTPS   https://localhost:PORT (no trailing slash)
 *   LIMPET_TEST_CA, LIMPET_TEST_CERT, LIMPET_TEST_KEY   the PKI
 *   LIMPET_TEST_DOCROOT the directory nginx serves; holds hello.tar and hello.tar.sig
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/fetch/fetch.h"
#include "agent/fetch/fetch_internal.h"
#include "agent/trust/trust.h"
#include "platform/lib/util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Nothing listens on port 1, and connecting to it fails at once. */
#define NOBODY "https://localhost:1/x.tar"

static char dir[] = "/tmp/limpet-fetch-XXXXXX";
static const char *base, *docroot;
static struct lp_fetch_opts server_opts;

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	base = getenv("LIMPET_TEST_HTTPS");
	docroot = getenv("LIMPET_TEST_DOCROOT");
	server_opts.ca_file = getenv("LIMPET_TEST_CA");
	server_opts.cert_file = getenv("LIMPET_TEST_CERT");
	server_opts.key_file = getenv("LIMPET_TEST_KEY");
	server_opts.attempts = 1;
	return 0;
}

static int teardown(void **state)
{
	struct lp_err err = { 0 };

	return lp_remove_tree(dir, &err);
}

static void need_server(void)
{
	if (!base || !docroot || !server_opts.ca_file || !server_opts.cert_file ||
	    !server_opts.key_file)
		skip();
}

static const char *url_for(const char *path)
{
	static char url[512];

	snprintf(url, sizeof(url), "%s/%s", base, path);
	return url;
}

static const char *tmp_path(const char *name)
{
	static char path[2][sizeof(dir) + 64];
	static int which;

	which ^= 1;
	snprintf(path[which], sizeof(path[which]), "%s/%s", dir, name);
	return path[which];
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void read_served(const char *name, char **buf, size_t *len)
{
	char path[512];
	struct lp_err err = { 0 };

	snprintf(path, sizeof(path), "%s/%s", docroot, name);
	if (lp_read_file(path, 64 << 20, buf, len, &err) < 0)
		fail_msg("%s", err.msg);
}

static void sha256_of(const char *path, unsigned char out[LP_SHA256_LEN])
{
	struct lp_err err = { 0 };
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(lp_sha256_fd(fd, out, NULL, &err), 0);
	close(fd);
}

static void assert_starts_with(const char *s, const char *prefix)
{
	if (strncmp(s, prefix, strlen(prefix)))
		fail_msg("expected \"%s\" to start with \"%s\"", s, prefix);
}

/* The message is exactly "URL" followed by rest. */
static void assert_message(const char *msg, const char *url, const char *rest)
{
	assert_starts_with(msg, url);
	assert_string_equal(msg + strlen(url), rest);
}

/* ---------------------------------------------------------------- no server needed */

static void test_url_check(void **state)
{
	struct lp_err err = { 0 };
	char name[64];

	assert_int_equal(lp_fetch_url_check("https://fleet.example.com/devices/", &err), 0);
	assert_int_equal(lp_fetch_url_check("http://fleet.example.com/", &err), -1);
	assert_int_equal(err.code, EINVAL);
	assert_string_equal(err.msg, "'http://fleet.example.com/': only https:// URLs are allowed");
	assert_int_equal(lp_fetch_url_check("file:///etc/passwd", &err), -1);
	assert_int_equal(lp_fetch_url_check("fleet.example.com/x", &err), -1);
	assert_starts_with(err.msg, "'fleet.example.com/x' is not a URL");

	assert_int_equal(lp_fetch_url_file_name("https://h/images/hello.tar?token=1#x", name,
						sizeof(name), &err),
			 0);
	assert_string_equal(name, "hello.tar");
	assert_int_equal(lp_fetch_url_file_name("https://h/a%20b.tar", name, sizeof(name), &err),
			 0);
	assert_string_equal(name, "a b.tar");
	assert_int_equal(lp_fetch_url_file_name("https://h/images/", name, sizeof(name), &err), -1);
	assert_string_equal(err.msg, "'https://h/images/' does not end in a file name");
	assert_int_equal(lp_fetch_url_file_name("https://h/x/..", name, sizeof(name), &err), -1);
	/* decoding cannot smuggle in a directory: the name is what follows the last '/' */
	assert_int_equal(lp_fetch_url_file_name("https://h/a%2Fb", name, sizeof(name), &err), 0);
	assert_string_equal(name, "b");
	assert_int_equal(lp_fetch_url_file_name("https://h/a%2F..", name, sizeof(name), &err), -1);
	assert_int_equal(lp_fetch_url_file_name("https://h/a%0Ab", name, sizeof(name), &err), -1);
}

/* A connection that fails is tried `attempts` times, with a backoff in between. */
static void test_retries(void **state)
{
	struct lp_fetch_opts o = { .attempts = 2 };
	struct lp_err err = { 0 };
	char *body = NULL;
	int64_t start;
	size_t len;
	long status;

	start = lp_now_ms();
	assert_int_equal(lp_fetch_get(NOBODY, NULL, &body, &len, NULL, &status, 100, &o, &err), -1);
	assert_true(lp_now_ms() - start >= 500); /* 1 s -50 % at the least */
	assert_int_equal(err.code, EAGAIN);
	assert_int_equal(status, 0);
	assert_null(body);
	assert_starts_with(err.msg, NOBODY ": ");
	assert_non_null(strstr(err.msg, " (2 attempts)"));
	assert_null(strchr(err.msg, '\n'));
}

/* A failure before the first byte leaves no empty partial file behind. */
static void test_nothing_left_after_failure(void **state)
{
	struct lp_fetch_opts o = { .attempts = 1 };
	struct lp_err err = { 0 };
	const char *dest = tmp_path("x.tar");

	assert_int_equal(lp_fetch_file(NOBODY, dest, -1, NULL, NULL, &o, &err), -1);
	assert_int_equal(err.code, EAGAIN);
	assert_false(exists(dest));
	assert_false(exists(tmp_path("x.tar.partial")));
	assert_int_equal(lp_fetch_file("http://localhost/x.tar", dest, -1, NULL, NULL, &o, &err), -1);
	assert_int_equal(err.code, EINVAL);
}

/* ---------------------------------------------------------------- against nginx */

static void test_get_and_etag(void **state)
{
	char *body = NULL, *etag = NULL, *again = NULL, *etag2 = NULL, *served;
	struct lp_err err = { 0 };
	size_t len, served_len;
	long status;

	need_server();
	read_served("hello.tar.sig", &served, &served_len);
	if (lp_fetch_get(url_for("hello.tar.sig"), NULL, &body, &len, &etag, &status, 4096,
			 &server_opts, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(status, 200);
	assert_int_equal(len, served_len);
	assert_memory_equal(body, served, len);
	assert_int_equal(body[len], '\0');
	assert_non_null(etag);

	/* an idle poll: the same ETag gets a 304 and no body */
	assert_int_equal(lp_fetch_get(url_for("hello.tar.sig"), etag, &again, &len, &etag2,
				      &status, 4096, &server_opts, &err),
			 0);
	assert_int_equal(status, 304);
	assert_null(again);
	assert_int_equal(len, 0);
	assert_string_equal(etag2, etag);
	free(body);
	free(etag);
	free(etag2);
	free(served);
}

static void test_get_refusals(void **state)
{
	struct lp_err err = { 0 };
	char *body = NULL;
	size_t len;
	long status;

	need_server();
	assert_int_equal(lp_fetch_get(url_for("hello.tar"), NULL, &body, &len, NULL, &status,
				      1000, &server_opts, &err),
			 -1);
	assert_int_equal(err.code, EFBIG);
	assert_message(err.msg, url_for("hello.tar"), ": the reply is larger than 1000 bytes");
	assert_null(body);

	assert_int_equal(lp_fetch_get(url_for("nope.json"), NULL, &body, &len, NULL, &status, 1000,
				      &server_opts, &err),
			 -1);
	assert_int_equal(status, 404);
	assert_int_equal(err.code, ENOENT);
	assert_message(err.msg, url_for("nope.json"), ": HTTP 404 Not Found");
	assert_null(body);
}

/* GET (or HEAD) path at the test server: lp_fetch_get's return; *body the reply. */
static int get(const char *path, const struct lp_fetch_opts *o, char **body, struct lp_err *err)
{
	size_t len;
	long status;

	*body = NULL;
	return lp_fetch_get(url_for(path), NULL, body, &len, NULL, &status, 4096, o, err);
}

static char *echo_of(const char *path, const struct lp_fetch_opts *o)
{
	struct lp_err err = { 0 };
	char *body;

	if (get(path, o, &body, &err) < 0)
		fail_msg("%s", err.msg);
	return body;
}

/* A registry's token goes to the registry, and to no other host a redirect names. */
static void test_headers_stay_with_their_host(void **state)
{
	static const char *const headers[] = { "Authorization: Bearer t0ken",
					       "X-Limpet-Test: yes", NULL };
	struct lp_fetch_opts o = server_opts;
	char *body;

	need_server();
	o.headers = headers;
	body = echo_of("echo/", &o);
	assert_string_equal(body, "authorization=Bearer t0ken test=yes\n");
	free(body);
	body = echo_of("samehost/", &o);
	assert_string_equal(body, "authorization=Bearer t0ken test=yes\n");
	free(body);
	body = echo_of("elsewhere/", &o);
	assert_string_equal(body, "authorization= test=yes\n");
	free(body);
}

static void test_header_values_checked(void **state)
{
	static const char *const headers[] = { "X-Limpet-Test: a\r\nInjected: 1", NULL };
	struct lp_fetch_opts o = server_opts;
	struct lp_err err = { 0 };
	char *body = NULL;
	size_t len;
	long status;

	o.headers = headers;
	assert_int_equal(lp_fetch_get("https://localhost:1/x", NULL, &body, &len, NULL, &status,
				      100, &o, &err),
			 -1);
	assert_int_equal(err.code, EINVAL);
	assert_string_equal(err.msg, "https://localhost:1/x: the header has control characters");
}

/* HEAD answers "has it changed?" with the reply's head alone. */
static void test_head_and_reply(void **state)
{
	struct lp_fetch_opts o = server_opts;
	struct lp_fetch_reply reply;
	char *body;

	need_server();
	o.head = true;
	o.reply = &reply;
	body = echo_of("hello.tar", &o);
	assert_int_equal(reply.status, 200);
	assert_string_equal(body, "");
	assert_string_equal(reply.content_type, "application/x-tar");
	free(body);
}

static void test_retry_after(void **state)
{
	struct lp_fetch_opts o = server_opts;
	struct lp_fetch_reply reply;
	struct lp_err err = { 0 };
	char *body;

	need_server();
	o.reply = &reply;
	o.attempts = 3;
	/* an hour is longer than a command may wait: at once, saying when */
	assert_int_equal(get("throttled/", &o, &body, &err), -1);
	assert_int_equal(err.code, EAGAIN);
	assert_message(err.msg, url_for("throttled/"),
		       ": HTTP 429 Too Many Requests; retry after 3600 s");
	assert_int_equal(reply.retry_after_s, 3600);
	/* a second is not: waited for, then tried again */
	o.attempts = 2;
	assert_int_equal(get("busy/", &o, &body, &err), -1);
	assert_message(err.msg, url_for("busy/"),
		       ": HTTP 503 Service Temporarily Unavailable (2 attempts)");
}

/* A status report goes up with PUT (WebDAV) and comes back with GET. */
static void test_put(void **state)
{
	static const char report[] = "{\"device\":\"pi-0042\",\"state\":\"running\"}\n";
	static const char report2[] = "{\"device\":\"pi-0042\",\"state\":\"stopped\"}\n";
	struct lp_err err = { 0 };
	char *body = NULL;
	size_t len;
	long status;

	need_server();
	if (lp_fetch_put(url_for("status/pi-0042.json"), report, strlen(report),
			 "application/json", &server_opts, &err) < 0)
		fail_msg("%s", err.msg);
	/* nginx says 201 first, then 204 when it replaces the file */
	if (lp_fetch_put(url_for("status/pi-0042.json"), report2, strlen(report2),
			 "application/json", &server_opts, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(lp_fetch_get(url_for("status/pi-0042.json"), NULL, &body, &len, NULL,
				      &status, 4096, &server_opts, &err),
			 0);
	assert_string_equal(body, report2);
	free(body);

	/* outside /status/ PUT is not allowed */
	assert_int_equal(lp_fetch_put(url_for("pi-0042.json"), report, strlen(report),
				      "application/json", &server_opts, &err),
			 -1);
	assert_int_equal(err.code, EPROTO);
	assert_non_null(strstr(err.msg, ": HTTP 405 Not Allowed"));
}

static void test_file_pinned(void **state)
{
	unsigned char want[LP_SHA256_LEN], got[LP_SHA256_LEN], streamed[LP_SHA256_LEN];
	const char *dest = tmp_path("hello.tar");
	struct lp_err err = { 0 };
	char served[512];
	struct stat st;

	need_server();
	snprintf(served, sizeof(served), "%s/hello.tar", docroot);
	assert_int_equal(stat(served, &st), 0);
	sha256_of(served, want);
	if (lp_fetch_file(url_for("hello.tar"), dest, st.st_size, want, streamed, &server_opts,
			  &err) < 0)
		fail_msg("%s", err.msg);
	sha256_of(dest, got);
	assert_memory_equal(got, want, sizeof(want));
	/* hashed as it arrived: the same digest without a second read */
	assert_memory_equal(streamed, want, sizeof(want));
	assert_false(exists(tmp_path("hello.tar.partial")));
	unlink(dest);
}

/*
 * The file as it was written, handed over open: the import reads these very
 * bytes by the digest taken on the way in, whatever dest names later.
 */
static void test_file_fd(void **state)
{
	unsigned char want[LP_SHA256_LEN], streamed[LP_SHA256_LEN], got[LP_SHA256_LEN];
	const char *dest = tmp_path("fd.tar");
	struct lp_err err = { 0 };
	struct stat by_fd, by_path;
	char served[512];
	uint64_t size;
	int fd = -1;

	need_server();
	snprintf(served, sizeof(served), "%s/hello.tar", docroot);
	sha256_of(served, want);
	if (lp_fetch_file_fd(url_for("hello.tar"), dest, -1, want, streamed, &fd, &server_opts,
			     &err) < 0)
		fail_msg("%s", err.msg);
	assert_true(fd >= 0);
	assert_memory_equal(streamed, want, sizeof(want));
	assert_int_equal(fstat(fd, &by_fd), 0);
	assert_int_equal(stat(dest, &by_path), 0);
	assert_int_equal(by_fd.st_ino, by_path.st_ino);
	assert_int_equal(unlink(dest), 0);
	assert_int_equal(lp_sha256_fd(fd, got, &size, &err), 0);
	assert_memory_equal(got, want, sizeof(want));
	assert_int_equal(close(fd), 0);

	/* refused: nothing to hand over */
	fd = -1;
	want[0] ^= 1;
	assert_int_equal(lp_fetch_file_fd(url_for("hello.tar"), dest, -1, want, NULL, &fd,
					  &server_opts, &err),
			 -1);
	assert_int_equal(fd, -1);
}

/* No Content-Length: only the write callback can see the server send too much. */
static void test_file_cut_off(void **state)
{
	const char *dest = tmp_path("cut.tar");
	struct lp_err err = { 0 };

	need_server();
	assert_int_equal(lp_fetch_file(url_for("chunked/hello.tar"), dest, 1000, NULL,
				       NULL, &server_opts, &err),
			 -1);
	assert_int_equal(err.code, EFBIG);
	assert_message(err.msg, url_for("chunked/hello.tar"),
		       ": the server sent more than the pinned 1000 bytes; cut off");
	assert_false(exists(dest));
	assert_false(exists(tmp_path("cut.tar.partial")));
}

static void test_file_wrong_digest(void **state)
{
	unsigned char wrong[LP_SHA256_LEN] = { 1, 2, 3 };
	const char *dest = tmp_path("bad.tar");
	struct lp_err err = { 0 };

	need_server();
	assert_int_equal(lp_fetch_file(url_for("hello.tar"), dest, -1, wrong, NULL, &server_opts, &err),
			 -1);
	assert_int_equal(err.code, EBADMSG);
	assert_non_null(strstr(err.msg, ": SHA-256 is "));
	assert_false(exists(dest));
	assert_false(exists(tmp_path("bad.tar.partial")));
}

/* A partial file longer than the pin cannot be a start of the file: it is replaced. */
static void test_file_partial_longer_than_pin(void **state)
{
	unsigned char want[LP_SHA256_LEN], got[LP_SHA256_LEN];
	const char *dest = tmp_path("long.tar");
	struct lp_err err = { 0 };
	char served[512], junk[4096];
	struct stat st;
	FILE *f;
	long i;

	need_server();
	snprintf(served, sizeof(served), "%s/hello.tar", docroot);
	assert_int_equal(stat(served, &st), 0);
	sha256_of(served, want);
	f = fopen(tmp_path("long.tar.partial"), "w");
	assert_non_null(f);
	memset(junk, 'j', sizeof(junk));
	for (i = 0; i <= st.st_size / (long)sizeof(junk); i++)
		assert_int_equal(fwrite(junk, sizeof(junk), 1, f), 1);
	assert_int_equal(fclose(f), 0);
	if (lp_fetch_file(url_for("hello.tar"), dest, st.st_size, want, NULL, &server_opts, &err) < 0)
		fail_msg("%s", err.msg);
	sha256_of(dest, got);
	assert_memory_equal(got, want, sizeof(want));
	unlink(dest);
}

/* ---------------------------------------------------------------- reply heads */

/* A reply's head, line by line as libcurl hands it over. */
static void head(struct xfer *x, const char *const *lines)
{
	memset(x, 0, sizeof(*x));
	x->range_start = -1;
	x->range_total = -1;
	for (; *lines; lines++) {
		size_t len = strlen(*lines);
		char *copy = strdup(*lines);

		assert_non_null(copy);
		assert_int_equal(lp_xfer_on_header(copy, 1, len, x), len);
		free(copy);
	}
}

static void test_content_range(void **state)
{
	static const struct {
		const char *line;
		int64_t start, total;
	} cases[] = {
		{ "Content-Range: bytes 100-199/200\r\n", 100, 200 },
		{ "content-range: bytes 0-0/1\r\n", 0, 1 },
		{ "Content-Range: bytes 100-199/*\r\n", 100, -1 },
		{ "Content-Range: bytes */200\r\n", -1, 200 },
		/* invalid (RFC 9110): ignored, so a download never resumes on one */
		{ "Content-Range: bytes 100-199/100\r\n", -1, -1 },
		{ "Content-Range: bytes 100-199/150\r\n", -1, -1 },
		{ "Content-Range: bytes 199-100/1000\r\n", -1, -1 },
		{ "Content-Range: bytes 100-199/1000x\r\n", -1, -1 },
		{ "Content-Range: bytes */*\r\n", -1, -1 },
		{ "Content-Range: bytes 0-9223372036854775808/*\r\n", -1, -1 },
	};
	struct xfer x;
	size_t i;

	for (i = 0; i < N(cases); i++) {
		const char *lines[] = { "HTTP/1.1 206 Partial Content\r\n", cases[i].line, NULL };

		head(&x, lines);
		if (x.range_start != cases[i].start || x.range_total != cases[i].total)
			fail_msg("%s: kept %lld/%lld, want %lld/%lld", cases[i].line,
				 (long long)x.range_start, (long long)x.range_total,
				 (long long)cases[i].start, (long long)cases[i].total);
	}
}

/* The ETag kept is sent back as If-None-Match: only one that can be, whole. */
static void test_etag_kept_only_if_sendable(void **state)
{
	char long_etag[300 + 16];
	const char *ok[] = { "HTTP/1.1 200 OK\r\n", "ETag: W/\"65f1-c8\"\r\n", NULL };
	const char *tab[] = { "HTTP/1.1 200 OK\r\n", "ETag: \"a\tb\"\r\n", NULL };
	const char *cr[] = { "HTTP/1.1 200 OK\r\n", "ETag: \"a\rb\"\r\n", NULL };
	const char *big[] = { "HTTP/1.1 200 OK\r\n", long_etag, NULL };
	struct xfer x;

	head(&x, ok);
	assert_string_equal(x.etag, "W/\"65f1-c8\"");
	head(&x, tab);
	assert_string_equal(x.etag, "");
	head(&x, cr);
	assert_string_equal(x.etag, "");
	snprintf(long_etag, sizeof(long_etag), "ETag: \"%0300d\"\r\n", 0);
	head(&x, big);
	assert_string_equal(x.etag, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_check),
		cmocka_unit_test(test_content_range),
		cmocka_unit_test(test_etag_kept_only_if_sendable),
		cmocka_unit_test(test_retries),
		cmocka_unit_test(test_nothing_left_after_failure),
		cmocka_unit_test(test_get_and_etag),
		cmocka_unit_test(test_get_refusals),
		cmocka_unit_test(test_put),
		cmocka_unit_test(test_headers_stay_with_their_host),
		cmocka_unit_test(test_header_values_checked),
		cmocka_unit_test(test_head_and_reply),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_file_pinned),
		cmocka_unit_test(test_file_fd),
		cmocka_unit_test(test_file_cut_off),
		cmocka_unit_test(test_file_wrong_digest),
		cmocka_unit_test(test_file_partial_longer_than_pin),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
