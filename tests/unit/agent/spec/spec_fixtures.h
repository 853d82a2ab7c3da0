/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container entries for the spec tests (test_spec.c, test_spec_json.c): a
 * minimal and a full one, and assertions that compare them field by field.
 */
#ifndef LIMPET_TEST_SPEC_FIXTURES_H
#define LIMPET_TEST_SPEC_FIXTURES_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/spec/parse.h"
#include "agent/spec/spec.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static inline void assert_msg_has(const struct lp_err *err, const char *want)
{
	if (!strstr(err->msg, want))
		fail_msg("expected \"%s\" in the message \"%s\"", want, err->msg);
}

static inline char *dup(const char *s)
{
	char *copy = strdup(s);

	assert_non_null(copy);
	return copy;
}

/* A NULL-terminated, heap-allocated vector of copies of the arguments. */
static inline char **strv(const char *first, ...)
{
	char **v = calloc(16, sizeof(*v));
	const char *s;
	size_t n = 0;
	va_list ap;

	assert_non_null(v);
	va_start(ap, first);
	for (s = first; s; s = va_arg(ap, const char *))
		v[n++] = dup(s);
	va_end(ap);
	return v;
}

static inline void minimal_cfg(struct lp_container_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->name = dup("web");
	c->rootfs = dup("/srv/web");
	c->argv = strv("/bin/httpd", NULL);
	c->env = strv(NULL);
}

/* Every field set to something other than its zero value. */
static inline void full_cfg(struct lp_container_cfg *c)
{
	struct lp_err err = { 0 };

	memset(c, 0, sizeof(*c));
	c->name = dup("web-1.a_b");
	c->rootfs = dup("/srv/web");
	c->argv = strv("/bin/httpd", "-f", "-p", "80", "quote \" backslash \\ tab \t", NULL);
	c->env = strv("A=B", "PATH=/bin:/usr/bin", "EMPTY=", "UTF8=h\xc3\xa9",
		      /* the edges of valid UTF-8: U+D7FF, U+E000, U+10FFFF; a shell */
		      "EDGES=\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf \xf0\x9f\x90\x9a", NULL);
	c->hostname = dup("web.local");
	c->cwd = dup("/var/www");
	c->uid = 1000;
	c->gid = 100;
	c->net = LP_NET_HOST;
	c->read_only = true;
	c->init = true;
	c->limits.memory = (int64_t)64 << 20;
	c->limits.cpu_quota = 50000;
	c->limits.cpu_period = 100000;
	c->limits.cpu_weight = 250;
	c->limits.pids = 64;
	c->n_devices = 2;
	c->devices = calloc(2, sizeof(*c->devices));
	assert_non_null(c->devices);
	assert_int_equal(lp_parse_device("/dev/null:rw", &c->devices[0], &err), 0);
	assert_int_equal(lp_parse_device("/dev/null:/dev/gpiochip0:m", &c->devices[1], &err), 0);
	assert_int_equal(lp_parse_volume("data:/var/lib/web", &c->volumes, &c->n_volumes, &err), 0);
	assert_int_equal(lp_parse_volume("cache.v-1_x:/cache", &c->volumes, &c->n_volumes, &err),
			 0);
	c->restart.policy = LP_RESTART_ON_FAILURE;
	c->restart.max_retries = 3;
#ifdef CONFIG_USERNS
	c->userns_uid = 100000;
	c->userns_count = 65536;
#endif
	c->source = "/etc/limpet/limpet.conf";
	c->source_line = 12;
}

static inline void assert_str_or_null_equal(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

/* NULL and an empty list mean the same: no entries. */
static inline void assert_strv_equal(char **a, char **b)
{
	size_t i;

	for (i = 0; a && a[i]; i++) {
		assert_non_null(b);
		assert_non_null(b[i]);
		assert_string_equal(a[i], b[i]);
	}
	assert_true(!b || !b[i]);
}

static inline void assert_device_equal(const struct lp_device *a, const struct lp_device *b)
{
	assert_string_equal(a->host, b->host);
	assert_string_equal(a->inner, b->inner);
	assert_string_equal(a->perms, b->perms);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->major, b->major);
	assert_int_equal(a->minor, b->minor);
}

static inline void assert_cfg_equal(const struct lp_container_cfg *a, const struct lp_container_cfg *b)
{
	size_t i;

	assert_str_or_null_equal(a->name, b->name);
	assert_str_or_null_equal(a->rootfs, b->rootfs);
	assert_strv_equal(a->argv, b->argv);
	assert_strv_equal(a->env, b->env);
	assert_str_or_null_equal(a->hostname, b->hostname);
	assert_str_or_null_equal(a->cwd, b->cwd);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_int_equal(a->net, b->net);
	assert_int_equal(a->isolation, b->isolation);
	assert_int_equal(a->read_only, b->read_only);
	assert_int_equal(a->init, b->init);
	assert_memory_equal(&a->limits, &b->limits, sizeof(a->limits));
	assert_int_equal(a->n_devices, b->n_devices);
	for (i = 0; i < a->n_devices; i++)
		assert_device_equal(&a->devices[i], &b->devices[i]);
	assert_int_equal(a->n_volumes, b->n_volumes);
	for (i = 0; i < a->n_volumes; i++) {
		assert_string_equal(a->volumes[i].name, b->volumes[i].name);
		assert_string_equal(a->volumes[i].path, b->volumes[i].path);
	}
	assert_int_equal(a->restart.policy, b->restart.policy);
	assert_int_equal(a->restart.max_retries, b->restart.max_retries);
	assert_int_equal(a->userns_uid, b->userns_uid);
	assert_int_equal(a->userns_count, b->userns_count);
}

#endif
