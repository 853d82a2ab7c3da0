// SPDX-License-Identifier: Apache-2.0
/*
 * A reply's head and error body as agent/fetch/fetch_reply.c reads them,
 * fed line by line as libcurl hands them over, with no server: what a
 * registry's challenge, a throttling server's Retry-After and a manifest's
 * Content-Type become, and how a registry's JSON error reads in a message.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "agent/fetch/fetch_internal.h"

static void feed(struct xfer *x, const char *head)
{
	char line[8192];

	while (*head) {
		size_t n = strcspn(head, "\n") + (strchr(head, '\n') ? 1 : 0);

		assert_true(n < sizeof(line));
		memcpy(line, head, n);
		assert_int_equal(lp_xfer_on_header(line, 1, n, x), n);
		head += n;
	}
}

static void fresh(struct xfer *x)
{
	memset(x, 0, sizeof(*x));
	lp_xfer_reply_reset(x);
	x->url = "https://registry.test:5000/v2/app/manifests/1.4";
}

static void test_challenges_are_joined(void **state)
{
	struct xfer x;

	(void)state;
	fresh(&x);
	feed(&x, "HTTP/1.1 401 Unauthorized\r\n"
		 "Content-Type: application/json; charset=utf-8\r\n"
		 "WWW-Authenticate: Bearer realm=\"https://auth.test/token\",service=\"reg\","
		 "scope=\"repository:app:pull,push\"\r\n"
		 "www-authenticate: Basic realm=\"reg\"\r\n"
		 "Docker-Distribution-Api-Version: registry/2.0\r\n\r\n");
	assert_string_equal(x.head.www_authenticate,
			    "Bearer realm=\"https://auth.test/token\",service=\"reg\","
			    "scope=\"repository:app:pull,push\", Basic realm=\"reg\"");
	assert_string_equal(x.head.content_type, "application/json");
	assert_int_equal(x.head.retry_after_s, -1);
	/* a redirect's next reply starts empty */
	feed(&x, "HTTP/1.1 200 OK\r\n\r\n");
	assert_string_equal(x.head.www_authenticate, "");
	assert_string_equal(x.head.content_type, "");
}

static void test_values_are_kept_whole_or_not_at_all(void **state)
{
	char head[10000], big[4200];
	struct xfer x;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fresh(&x);
	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nDocker-Content-Digest: sha256:%s\r\n"
		 "WWW-Authenticate: Bearer realm=\"%s\"\r\n\r\n",
		 big, big);
	feed(&x, head);
	assert_string_equal(x.head.docker_content_digest, "");
	assert_string_equal(x.head.www_authenticate, "");
	fresh(&x);
	feed(&x, "HTTP/1.1 200 OK\r\n"
		 "Content-Type: application/vnd.oci.image.index.v1+json\r\n"
		 "Docker-Content-Digest: sha256:0123\r\n\r\n");
	assert_string_equal(x.head.content_type, "application/vnd.oci.image.index.v1+json");
	assert_string_equal(x.head.docker_content_digest, "sha256:0123");
}

static void test_retry_after(void **state)
{
	char head[200], date[64];
	time_t later = time(NULL) + 120;
	struct xfer x;

	(void)state;
	fresh(&x);
	feed(&x, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3600\r\n\r\n");
	assert_int_equal(x.head.retry_after_s, 3600);
	fresh(&x);
	feed(&x, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: soon\r\n\r\n");
	assert_int_equal(x.head.retry_after_s, -1);
	fresh(&x);
	feed(&x, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 12x\r\n\r\n");
	assert_int_equal(x.head.retry_after_s, -1);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime(&later));
	snprintf(head, sizeof(head), "HTTP/1.1 503 Service Unavailable\r\nRetry-After: %s\r\n\r\n",
		 date);
	fresh(&x);
	feed(&x, head);
	assert_in_range(x.head.retry_after_s, 110, 120);
	fresh(&x);
	feed(&x, "HTTP/1.1 503 Service Unavailable\r\n"
		 "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n");
	assert_int_equal(x.head.retry_after_s, 0);
}

static void failed_with(const char *head, const char *page, const char *want, int code)
{
	struct lp_err err = { 0 };
	struct xfer x;

	fresh(&x);
	feed(&x, head);
	x.status = strtol(head + strlen("HTTP/1.1 "), NULL, 10);
	snprintf(x.error_page, sizeof(x.error_page), "%s", page);
	x.error_page_len = strlen(x.error_page);
	assert_int_equal(lp_xfer_http_failed(&x, &err), -1);
	assert_string_equal(err.msg, want);
	assert_int_equal(err.code, code);
}

static void test_registry_errors_are_named(void **state)
{
	(void)state;
	failed_with("HTTP/1.1 404 Not Found\r\n\r\n",
		    "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\","
		    "\"detail\":{\"Tag\":\"1.4\"}}]}\n",
		    "https://registry.test:5000/v2/app/manifests/1.4: HTTP 404 Not Found "
		    "(MANIFEST_UNKNOWN: manifest unknown)",
		    ENOENT);
	failed_with("HTTP/1.1 429 Too Many Requests\r\n\r\n",
		    "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\"}]}",
		    "https://registry.test:5000/v2/app/manifests/1.4: HTTP 429 Too Many Requests "
		    "(TOOMANYREQUESTS)",
		    EAGAIN);
	/* not the registry's shape, or cut short: no detail rather than a guess */
	failed_with("HTTP/1.1 401 Unauthorized\r\n\r\n", "{\"errors\":[{\"code\":\"UNAUTH",
		    "https://registry.test:5000/v2/app/manifests/1.4: HTTP 401 Unauthorized",
		    EACCES);
	failed_with("HTTP/1.1 403 Forbidden\r\n\r\n", "{\"errors\":[{\"code\":7}]}",
		    "https://registry.test:5000/v2/app/manifests/1.4: HTTP 403 Forbidden", EACCES);
	/* server text is one printable line */
	failed_with("HTTP/1.1 400 Bad Request\r\n\r\n",
		    "{\"errors\":[{\"code\":\"X\\nY\",\"message\":\"a\\u0007b\"}]}",
		    "https://registry.test:5000/v2/app/manifests/1.4: HTTP 400 Bad Request (XY: ab)",
		    EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_challenges_are_joined),
		cmocka_unit_test(test_values_are_kept_whole_or_not_at_all),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_registry_errors_are_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
