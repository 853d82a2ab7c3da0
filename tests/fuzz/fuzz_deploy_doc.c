// SPDX-License-Identifier: Apache-2.0
/*
 * Deployment documents (agent/deploy/deploy_doc.c), as a fleet server or a USB
 * stick hands them over: the input is the deployment.json.  A document the
 * parser accepts must hold what the header promises, its containers must
 * pass the same check as any other container, its image urls must resolve
 * against both kinds of origin, and its registry references must be pinned.
 */
#include "tests/fuzz/fuzz.h"

#include "agent/deploy/deploy_doc.h"
#include "agent/spec/image_ref.h"
#include "agent/spec/spec.h"

static void check_expires(int64_t expires)
{
	char text[LP_RFC3339_LEN];
	struct lp_err err = { 0 };
	int64_t again;

	lp_rfc3339_format(expires, text);
	if (text[0] == '@')
		return; /* outside years 0 to 9999: printed as a number */
	if (lp_rfc3339_parse(text, &again, &err) < 0)
		fz_fail("expires %lld formats as %s, which does not parse: %s",
			(long long)expires, text, err.msg);
	if (again != expires)
		fz_fail("expires %lld -> %s -> %lld", (long long)expires, text, (long long)again);
}

/* A registry image: pinned by a digest, which is the one image_sha256 holds. */
static void check_registry_image(const struct lp_deploy_container *c)
{
	char hex[LP_SHA256_HEX_LEN + 1];
	struct lp_err err = { 0 };
	struct lp_image_ref ref;

	if (c->image_url || c->image_size)
		fz_fail("%s: accepted with a url or size too", c->image_ref);
	if (lp_image_ref_parse(c->image_ref, &ref, &err) < 0)
		fz_fail("ref %s accepted, but it does not parse: %s", c->image_ref, err.msg);
	lp_hex(c->image_sha256, LP_SHA256_LEN, hex);
	if (strncmp(ref.digest, "sha256:", 7) || strcmp(ref.digest + 7, hex))
		fz_fail("ref %s accepted, pinning %s, not its digest", c->image_ref, hex);
}

static void check_container(const struct lp_deploy_container *c)
{
	static const char *const origins[] = {
		"https://fleet.example/devices/pi-7/deployment.json",
		"https://fleet.example",
		"/media/stick/limpet/deployment.json",
		"/media/stick/limpet/",
	};
	struct lp_err err = { 0 };
	const char *field = NULL;
	size_t i;

	if (!c->cfg.name || !c->cfg.image || !c->device_specs)
		fz_fail("an accepted container lacks its name, image or devices");
	if (lp_container_cfg_check(&c->cfg, &field, &err) < 0)
		fz_fail("container %s accepted, but its config is not valid: %s: %s", c->cfg.name,
			field ? field : "?", err.msg);
	if (c->image_ref) {
		check_registry_image(c);
		return;
	}
	if (!c->image_url)
		fz_fail("container %s accepted without an image url or ref", c->cfg.name);
	if (c->image_size < 1)
		fz_fail("image size %lld accepted", (long long)c->image_size);
	for (i = 0; i < ARRAY_SIZE(origins); i++) {
		char *url = NULL;

		memset(&err, 0, sizeof(err));
		if (lp_deploy_resolve_url(origins[i], c->image_url, &url, &err) < 0)
			fz_fail("url %s accepted but does not resolve against %s: %s",
				c->image_url, origins[i], err.msg);
		/* a ".." in the query or the fragment is no path segment */
		url[strcspn(url, "?#")] = '\0';
		if (strstr(url, "/../") ||
		    (strlen(url) >= 3 && !strcmp(url + strlen(url) - 3, "/..")))
			fz_fail("url %s resolves to %s", c->image_url, url);
		free(url);
	}
	if (c->health.argv && (c->health.interval_ms < 1 || c->health.timeout_ms < 1 ||
			       c->health.retries < 1 || c->health.start_period_ms < 0))
		fz_fail("health settings out of range accepted");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lp_deployment d;
	struct lp_err err = { 0 };
	char *const groups[] = { "kiosk", NULL };
	size_t i;

	if (lp_deploy_parse((const char *)data, size, &d, &err) < 0) {
		fz_check_err(&err);
		if (d.containers || d.n || d.target_devices || d.target_groups)
			fz_fail("a refused document left fields behind");
		return 0;
	}
	if (d.version < 1 || !d.target_devices || !d.target_groups ||
	    (!d.target_devices[0] && !d.target_groups[0]))
		fz_fail("accepted with version %lld or without targets", (long long)d.version);
	check_expires(d.expires);
	for (i = 0; i < d.n; i++)
		check_container(&d.containers[i]);
	lp_deploy_check_applicable(&d, 1, 1700000000, "pi-7", groups, &err);
	fz_check_err(&err);
	lp_deploy_free(&d);
	return 0;
}
