// SPDX-License-Identifier: Apache-2.0
/*
 * The value parsers (agent/spec/parse.c and the name and reference checks beside
 * them): sizes, durations, CPUs, restart policies, devices, volumes, users,
 * names, digests and URLs, as a deployment, a config or a command line
 * gives them.  The input is one value; every parser gets it, and what one
 * accepts must be in the range its header promises.
 */
#include "tests/fuzz/fuzz.h"

#include <ctype.h>

#include "agent/deploy/deploy_doc.h"
#include "agent/fetch/fetch.h"
#include "agent/spec/parse.h"
#include "agent/spec/spec.h"
#include "agent/image/store.h"
#include "agent/trust/trust.h"

#define ID_MAX (UINT32_MAX - 1)

static void quantities(const char *s)
{
	struct lp_limits limits = { 0 };
	struct lp_err err = { 0 };
	int64_t v;

	if (lp_parse_size(s, &v, &err) == 0 && v < 0)
		fz_fail("size '%s' is %lld", s, (long long)v);
	if (lp_parse_duration(s, &v, &err) == 0 && v < 0)
		fz_fail("duration '%s' is %lld ms", s, (long long)v);
	if (lp_parse_cpus(s, &limits, &err) == 0 &&
	    (limits.cpu_period != LP_CPU_PERIOD_US || limits.cpu_quota < LP_CPU_QUOTA_MIN_US ||
	     limits.cpu_quota > (int64_t)LP_CPUS_MAX * LP_CPU_PERIOD_US))
		fz_fail("cpus '%s' is %lld/%lld", s, (long long)limits.cpu_quota,
			(long long)limits.cpu_period);
	fz_check_err(&err);
}

static void policies(const char *s)
{
	struct lp_restart r = { 0 };
	struct lp_err err = { 0 };
	enum lp_isolation iso;
	enum lp_net_mode net;

	if (lp_parse_restart(s, &r, &err) == 0 && r.max_retries < 0)
		fz_fail("restart '%s' allows %d retries", s, r.max_retries);
	lp_parse_net(s, &net, &err);
	lp_parse_isolation(s, &iso, &err);
	fz_check_err(&err);
}

static void ids(const char *s)
{
	struct lp_err err = { 0 };
	uint32_t a, b;

	if (lp_parse_user(s, &a, &b, &err) == 0 && (a > ID_MAX || b > ID_MAX))
		fz_fail("user '%s' is %u:%u", s, a, b);
	if (lp_parse_userns(s, &a, &b, &err) == 0 && (b < 1 || (uint64_t)a + b - 1 > ID_MAX))
		fz_fail("userns '%s' maps %u ids from %u", s, b, a);
	fz_check_err(&err);
}

static bool has_dotdot(const char *path)
{
	const char *p = path;

	while (*p) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += len;
		p += strspn(p, "/");
	}
	return false;
}

static void paths(const char *s)
{
	struct lp_volume *vols = NULL;
	struct lp_device dev;
	struct lp_err err = { 0 };
	size_t n = 0;

	if (lp_path_confined(s) && (s[0] != '/' || has_dotdot(s)))
		fz_fail("'%s' passes as confined", s);
	if (lp_parse_device_syntax(s, &dev, &err) == 0 &&
	    (dev.host[0] != '/' || !lp_path_confined(dev.inner) ||
	     strspn(dev.perms, "rwm") != strlen(dev.perms)))
		fz_fail("device '%s' is %s:%s:%s", s, dev.host, dev.inner, dev.perms);
	if (lp_parse_volume(s, &vols, &n, &err) == 0 &&
	    (n != 1 || lp_volume_name_valid(vols[0].name, &err) < 0 ||
	     !lp_path_confined(vols[0].path)))
		fz_fail("volume '%s' accepted as %s at %s", s, vols[0].name, vols[0].path);
	lp_volumes_free(vols, n);
	fz_check_err(&err);
}

static void names(const char *s)
{
	unsigned char d[LP_SHA256_LEN];
	char hex[LP_SHA256_HEX_LEN + 1];
	char file[256];
	struct lp_err err = { 0 };

	if (lp_name_valid(s, &err) == 0 &&
	    (strlen(s) > LP_NAME_MAX || s[0] == '.' || strchr(s, '/')))
		fz_fail("container name '%s' accepted", s);
	if (lp_image_name_valid(s, &err) == 0 && strlen(s) > 255)
		fz_fail("image name of %zu bytes accepted", strlen(s));
	if (lp_digest_parse(s, d, &err) == 0) {
		lp_hex(d, sizeof(d), hex);
		if (strcmp(s + strlen("sha256:"), hex))
			fz_fail("digest '%s' read as %s", s, hex);
	}
	lp_deploy_check_ref(s, &err);
	lp_fetch_url_check(s, &err);
	if (lp_fetch_url_file_name(s, file, sizeof(file), &err) == 0 &&
	    (!file[0] || strchr(file, '/') || !strcmp(file, ".") || !strcmp(file, "..")))
		fz_fail("url '%s' names the file '%s'", s, file);
	fz_check_err(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cleanup_free char *s = fz_strndup(data, size);

	quantities(s);
	policies(s);
	ids(s);
	paths(s);
	names(s);
	return 0;
}
