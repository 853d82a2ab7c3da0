// SPDX-License-Identifier: Apache-2.0
/*
 * What agent/image/manifest.c decides for archives and registries alike:
 * the platforms wanted, in c/image's order; which index entry that picks
 * (nested indexes, the one entry without a platform); and what a manifest,
 * a descriptor and a config may say.  Documents are written with ' for "
 * to keep them readable.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/image/manifest.h"
#include "platform/board.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define D4 "sha256:4444444444444444444444444444444444444444444444444444444444444444"

/* An entry of an index: a manifest (digest) for a platform ("" for none). */
#define ENTRY(digest, platform)                                                           \
	"{'mediaType':'" LP_MT_OCI_MANIFEST "','digest':'" digest "','size':10" platform "}"
#define PF(os, arch) ",'platform':{'os':'" os "','architecture':'" arch "'}"
#define PFV(os, arch, v) ",'platform':{'os':'" os "','architecture':'" arch "','variant':'" v "'}"
#define INDEX(...) "{'schemaVersion':2,'mediaType':'" LP_MT_OCI_INDEX "','manifests':[" __VA_ARGS__ "]}"

/* The document text with ' made ". */
static json_t *doc(const char *text)
{
	char *s = strdup(text), *c;
	json_error_t jerr;
	json_t *j;

	assert_non_null(s);
	for (c = s; *c; c++)
		if (*c == '\'')
			*c = '"';
	j = json_loads(s, 0, &jerr);
	if (!j)
		fail_msg("%s: %s", s, jerr.text);
	free(s);
	return j;
}

static void want(const char *platform, const char *expect)
{
	struct lp_platform_want w;
	struct lp_err err = { 0 };
	char got[256] = "";
	size_t i, used = 0;

	if (lp_platform_want(&w, platform, &err) < 0)
		fail_msg("%s: %s", platform, err.msg);
	for (i = 0; i < w.n; i++)
		used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%s/%s/%s", i ? " " : "",
					 w.v[i].os, w.v[i].arch, w.v[i].variant);
	assert_string_equal(got, expect);
	assert_false(w.this_host);
	assert_string_equal(w.name, platform);
}

static void test_wanted_lists(void **state)
{
	static const char *const bad[] = { "linux", "linux/", "/amd64", "linux/arm64/",
					   "linux/arm/v7/x", "Linux/amd64", "linux/am d64", "" };
	struct lp_platform_want w;
	struct lp_err err = { 0 };
	size_t i;

	(void)state;
	want("linux/arm64", "linux/arm64/ linux/arm64/v8");
	want("linux/arm64/v8", "linux/arm64/v8 linux/arm64/");
	want("linux/arm/v7", "linux/arm/v7 linux/arm/v6 linux/arm/v5 linux/arm/");
	want("linux/arm/v6", "linux/arm/v6 linux/arm/v5 linux/arm/");
	want("linux/arm", "linux/arm/ linux/arm/v8 linux/arm/v7 linux/arm/v6 linux/arm/v5");
	want("linux/amd64", "linux/amd64/");
	want("linux/amd64/v3", "linux/amd64/v3 linux/amd64/");
	want("linux/riscv64/rva23", "linux/riscv64/rva23 linux/riscv64/");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (lp_platform_want(&w, bad[i], &err) == 0)
			fail_msg("platform '%s' taken", bad[i]);
		assert_int_equal(err.code, EINVAL);
	}
	assert_int_equal(lp_platform_want(&w, NULL, &err), 0);
	assert_true(w.this_host);
	assert_string_equal(w.name, lp_board_platform());
}

/* What pick chooses from index for platform: the digest, or the error. */
static const char *pick(const char *index, const char *platform, struct lp_err *err)
{
	static char got[80];
	struct lp_platform_want w;
	struct lp_index_pick p = { .want = &w };
	json_t *idx = doc(index), *d;

	assert_int_equal(lp_platform_want(&w, platform, err), 0);
	d = lp_index_pick(idx, &p, NULL, err);
	json_decref(idx);
	if (!d)
		return NULL;
	snprintf(got, sizeof(got), "%s", json_string_value(json_object_get(d, "digest")));
	json_decref(d);
	return got;
}

static void picks(const char *index, const char *platform, const char *digest)
{
	struct lp_err err = { 0 };
	const char *got = pick(index, platform, &err);

	if (!got)
		fail_msg("%s: %s", platform, err.msg);
	assert_string_equal(got, digest);
}

static void no_pick(const char *index, const char *platform, const char *msg)
{
	struct lp_err err = { 0 };

	assert_null(pick(index, platform, &err));
	assert_string_equal(err.msg, msg);
}

static void test_arm64_takes_no_variant_then_v8(void **state)
{
	(void)state;
	/* "" is wanted first, whatever the index's order */
	picks(INDEX(ENTRY(D1, PFV("linux", "arm64", "v8")) "," ENTRY(D2, PF("linux", "arm64"))),
	      "linux/arm64", D2);
	picks(INDEX(ENTRY(D3, PF("linux", "amd64")) "," ENTRY(D1, PFV("linux", "arm64", "v8"))),
	      "linux/arm64", D1);
	/* asked for v8: v8 first */
	picks(INDEX(ENTRY(D2, PF("linux", "arm64")) "," ENTRY(D1, PFV("linux", "arm64", "v8"))),
	      "linux/arm64/v8", D1);
	/* of two for one platform, the first */
	picks(INDEX(ENTRY(D1, PF("linux", "arm64")) "," ENTRY(D2, PF("linux", "arm64"))),
	      "linux/arm64", D1);
}

static void test_arm_v7_falls_back_to_v6(void **state)
{
	(void)state;
	picks(INDEX(ENTRY(D1, PF("linux", "amd64")) "," ENTRY(D2, PFV("linux", "arm", "v5")) ","
		    ENTRY(D3, PFV("linux", "arm", "v6"))),
	      "linux/arm/v7", D3);
	picks(INDEX(ENTRY(D2, PFV("linux", "arm", "v6")) "," ENTRY(D3, PFV("linux", "arm", "v7"))),
	      "linux/arm/v7", D3);
	/* never up: a v6 board does not take v7 */
	no_pick(INDEX(ENTRY(D3, PFV("linux", "arm", "v7")) "," ENTRY(D4, PFV("linux", "arm", "v8"))),
		"linux/arm/v6", "no image for linux/arm/v6, only for linux/arm/v7, linux/arm/v8");
}

static void test_amd64_takes_only_no_variant(void **state)
{
	(void)state;
	no_pick(INDEX(ENTRY(D1, PFV("linux", "amd64", "v3"))), "linux/amd64",
		"no image for linux/amd64, only for linux/amd64/v3");
	picks(INDEX(ENTRY(D1, PFV("linux", "amd64", "v3")) "," ENTRY(D2, PF("linux", "amd64"))),
	      "linux/amd64", D2);
	picks(INDEX(ENTRY(D2, PF("linux", "amd64")) "," ENTRY(D1, PFV("linux", "amd64", "v3"))),
	      "linux/amd64/v3", D1);
	picks(INDEX(ENTRY(D2, PF("linux", "amd64"))), "linux/amd64/v3", D2);
}

static void test_arm64_never_takes_arm(void **state)
{
	struct lp_err err = { 0 };
	char msg[160];

	(void)state;
	no_pick(INDEX(ENTRY(D1, PF("linux", "amd64")) "," ENTRY(D2, PFV("linux", "arm", "v7")) ","
		      ENTRY(D3, PFV("linux", "arm", "v7"))),
		"linux/arm64", "no image for linux/arm64, only for linux/amd64, linux/arm/v7");
	/* Not asked: this host's, and the message says so. */
	snprintf(msg, sizeof(msg), "no image for %s (this host), only for linux/s390x",
		 lp_board_platform());
	assert_null(pick(INDEX(ENTRY(D1, PF("linux", "s390x"))), NULL, &err));
	assert_string_equal(err.msg, msg);
	/* the image cannot run here, as one whose config names another platform */
	assert_int_equal(err.code, ENOEXEC);
}

static void test_entry_without_platform(void **state)
{
	(void)state;
	/* the index's one entry: taken (the config's os and arch are checked later) */
	picks(INDEX(ENTRY(D1, "")), "linux/arm64", D1);
	/* one of several: not */
	no_pick(INDEX(ENTRY(D1, "") "," ENTRY(D2, PF("linux", "amd64"))), "linux/arm64",
		"no image for linux/arm64, only for (no platform), linux/amd64");
	picks(INDEX(ENTRY(D1, "") "," ENTRY(D2, PF("linux", "arm64"))), "linux/arm64", D2);
	no_pick(INDEX(), "linux/arm64", "image index lists no manifests");
}

/* Nested indexes: D1's is an index of D2 (amd64) and D3 (arm64); D4's names itself. */
static json_t *load(void *ctx, json_t *desc, struct lp_err *err)
{
	const char *d = json_string_value(json_object_get(desc, "digest"));

	(*(int *)ctx)++;
	if (!strcmp(d, D1))
		return doc(INDEX(ENTRY(D2, PF("linux", "amd64")) "," ENTRY(D3, PF("linux", "arm64"))));
	if (!strcmp(d, D4))
		return doc(INDEX("{'mediaType':'" LP_MT_OCI_INDEX "','digest':'" D4 "','size':1}"));
	if (!strcmp(d, D2))
		return doc("{'schemaVersion':2,'mediaType':'" LP_MT_OCI_MANIFEST "','layers':[]}");
	lp_fail(err, ENOENT, "no %s", d);
	return NULL;
}

static bool keep_d1(void *ctx, json_t *desc)
{
	(void)ctx;
	return !strcmp(json_string_value(json_object_get(desc, "digest")), D1);
}

static void test_nested_index(void **state)
{
	struct lp_platform_want w;
	struct lp_err err = { 0 };
	int loads = 0;
	struct lp_index_pick p = { &w, load, NULL, &loads };
	json_t *idx = doc(INDEX(ENTRY(D4, PF("linux", "arm64")) ",{'mediaType':'" LP_MT_OCI_INDEX
								  "','digest':'" D1 "','size':10}")),
	       *top = NULL, *d;

	(void)state;
	assert_int_equal(lp_platform_want(&w, "linux/arm64", &err), 0);
	/* the top's only kept entry (no platform) is an index: descend */
	p.keep = keep_d1;
	d = lp_index_pick(idx, &p, &top, &err);
	if (!d)
		fail_msg("%s", err.msg);
	assert_string_equal(json_string_value(json_object_get(d, "digest")), D3);
	assert_string_equal(json_string_value(json_object_get(top, "digest")), D1);
	assert_int_equal(loads, 1);
	json_decref(d);
	json_decref(idx);

	/* an index that names itself stops at the depth cap, having loaded 3 */
	loads = 0;
	p.keep = NULL;
	idx = doc(INDEX("{'mediaType':'" LP_MT_OCI_INDEX "','digest':'" D4 "','size':1}"));
	assert_null(lp_index_pick(idx, &p, NULL, &err));
	assert_string_equal(err.msg, "image indexes nested too deep");
	assert_int_equal(loads, LP_INDEX_DEPTH_MAX - 1);
	json_decref(idx);

	/* an entry that says index but names a manifest */
	idx = doc(INDEX("{'mediaType':'" LP_MT_OCI_INDEX "','digest':'" D2 "','size':1}"));
	assert_null(lp_index_pick(idx, &p, NULL, &err));
	assert_non_null(strstr(err.msg, "served as " LP_MT_OCI_INDEX));
	json_decref(idx);

	/* the loader's error comes through */
	idx = doc(INDEX("{'mediaType':'" LP_MT_OCI_INDEX "','digest':'" D3 "','size':1}"));
	assert_null(lp_index_pick(idx, &p, NULL, &err));
	assert_string_equal(err.msg, "no " D3);
	json_decref(idx);

	/* a chosen entry whose descriptor is bad */
	idx = doc(INDEX("{'mediaType':'" LP_MT_OCI_MANIFEST "','digest':'sha256:12','size':1}"));
	assert_null(lp_index_pick(idx, &p, NULL, &err));
	assert_non_null(strstr(err.msg, "image index entry: 'sha256:12' is not a sha256 digest"));
	json_decref(idx);
}

/* ---------------------------------------------------------------- manifests */

#define LAYER(type) "{'mediaType':'" type "','digest':'" D2 "','size':100}"
#define MANIFEST(type, config_type, ...)                                                  \
	"{'schemaVersion':2" type ",'config':{'mediaType':'" config_type "','digest':'" D1 \
	"','size':50},'layers':[" __VA_ARGS__ "]}"
#define OCI_MT ",'mediaType':'" LP_MT_OCI_MANIFEST "'"
#define GZ "application/vnd.oci.image.layer.v1.tar+gzip"

static int check(const char *text, const char *served_as, struct lp_manifest *m,
		 struct lp_err *err)
{
	json_t *j = doc(text);
	int rc = lp_manifest_check(j, served_as, m, err);

	json_decref(j);
	return rc;
}

static void refused(const char *text, const char *served_as, int code, const char *msg)
{
	struct lp_manifest m;
	struct lp_err err = { 0 };

	assert_int_equal(check(text, served_as, &m, &err), -1);
	if (!strstr(err.msg, msg))
		fail_msg("\"%s\" does not say \"%s\"", err.msg, msg);
	assert_int_equal(err.code, code);
}

static void test_manifest_accepted(void **state)
{
	struct lp_manifest m;
	struct lp_err err = { 0 };
	json_t *j = doc(MANIFEST(OCI_MT, LP_MT_OCI_CONFIG, LAYER(GZ) "," LAYER(GZ)));

	(void)state;
	if (lp_manifest_check(j, "application/vnd.oci.image.manifest.v1+json; charset=utf-8", &m,
			      &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(m.n_layers, 2);
	assert_int_equal(m.layers_size, 200);
	assert_int_equal(m.config.size, 50);
	assert_int_equal(m.config.digest[0], 0x11);
	assert_int_equal(m.layers[1].digest[31], 0x22);
	assert_string_equal(m.layers[0].media_type, GZ);
	json_decref(j);
	/* OCI may leave the type out; Docker's, with Docker's layer types */
	assert_int_equal(check(MANIFEST("", LP_MT_OCI_CONFIG, LAYER(GZ)), NULL, &m, &err), 0);
	assert_int_equal(check(MANIFEST("", LP_MT_OCI_CONFIG), LP_MT_OCI_MANIFEST, &m, &err), 0);
	assert_int_equal(check(MANIFEST(",'mediaType':'" LP_MT_DOCKER_MANIFEST "'",
					LP_MT_DOCKER_CONFIG,
					LAYER("application/vnd.docker.image.rootfs.diff.tar.gzip")),
			       LP_MT_DOCKER_MANIFEST, &m, &err),
			 0);
}

static void test_schema1_refused(void **state)
{
	(void)state;
	refused("{'schemaVersion':1,'name':'x','tag':'latest','fsLayers':[]}", NULL, ENOTSUP,
		"schema 1 manifests are not supported");
	refused("{'schemaVersion':1,'name':'x','tag':'latest','fsLayers':[]}",
		"application/vnd.docker.distribution.manifest.v1+prettyjws", ENOTSUP,
		"schema 1 manifests are not supported");
	refused(MANIFEST("", LP_MT_OCI_CONFIG), "application/vnd.docker.distribution.manifest.v1+json",
		ENOTSUP, "schema 1 manifests are not supported");
	refused("{'mediaType':'" LP_MT_OCI_MANIFEST "','config':{},'layers':[]}", NULL, EBADMSG,
		"schemaVersion is not 2");
}

static void test_layer_types(void **state)
{
	(void)state;
	refused(MANIFEST(OCI_MT, LP_MT_OCI_CONFIG, LAYER(GZ) ","
			 LAYER("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")),
		NULL, ENOTSUP,
		"layer 2: foreign layers (application/vnd.docker.image.rootfs.foreign.diff.tar.gzip) "
		"are not supported");
	refused(MANIFEST(OCI_MT, LP_MT_OCI_CONFIG, LAYER("application/vnd.oci.image.layer.v1.tar+bz2")),
		NULL, ENOTSUP,
		"layer 1: layer media type application/vnd.oci.image.layer.v1.tar+bz2 is not supported");
	refused(MANIFEST(OCI_MT, "application/vnd.cncf.helm.config.v1+json", LAYER(GZ)), NULL,
		ENOTSUP, "config media type application/vnd.cncf.helm.config.v1+json: not a container image");
}

static void test_type_must_agree(void **state)
{
	(void)state;
	/* the body says OCI manifest, the registry served it as Docker's */
	refused(MANIFEST(OCI_MT, LP_MT_OCI_CONFIG, LAYER(GZ)), LP_MT_DOCKER_MANIFEST, EBADMSG,
		"served as " LP_MT_DOCKER_MANIFEST ", but its mediaType says " LP_MT_OCI_MANIFEST);
	/* an index where a manifest should be */
	refused(INDEX(ENTRY(D1, "")), LP_MT_OCI_INDEX, EBADMSG,
		"an image index where an image manifest should be");
	refused(MANIFEST("", LP_MT_OCI_CONFIG, LAYER(GZ)), "application/json", ENOTSUP,
		"media type application/json is not an image manifest or index");
	/* a body whose shape contradicts its type */
	refused("{'schemaVersion':2,'mediaType':'" LP_MT_OCI_MANIFEST "','config':{},'layers':[],"
		"'manifests':[]}",
		NULL, EBADMSG, "a manifest with manifests in it");
	refused("{'schemaVersion':2,'layers':[],'manifests':[]}", NULL, EBADMSG,
		"neither an image manifest nor an index");
}

static void test_descriptors(void **state)
{
	struct lp_descriptor d;
	struct lp_err err = { 0 };
	json_t *j;

	(void)state;
	j = doc("{'mediaType':'x','digest':'" D1 "','size':4194304}");
	assert_int_equal(lp_descriptor_check(j, LP_MANIFEST_MAX, &d, &err), 0);
	assert_int_equal(d.size, LP_MANIFEST_MAX);
	assert_int_equal(lp_descriptor_check(j, LP_MANIFEST_MAX - 1, &d, &err), -1);
	assert_int_equal(err.code, EFBIG);
	json_decref(j);
	j = doc("{'mediaType':'x','digest':'" D1 "','size':-1}");
	assert_int_equal(lp_descriptor_check(j, LP_MANIFEST_MAX, &d, &err), -1);
	assert_non_null(strstr(err.msg, "no size, or a negative one"));
	json_decref(j);
	j = doc("{'mediaType':'x','digest':'sha512:00','size':1}");
	assert_int_equal(lp_descriptor_check(j, LP_MANIFEST_MAX, &d, &err), -1);
	assert_non_null(strstr(err.msg, "is not a sha256 digest"));
	json_decref(j);
	j = doc("{'digest':'" D1 "','size':1}");
	assert_int_equal(lp_descriptor_check(j, LP_MANIFEST_MAX, &d, &err), -1);
	assert_string_equal(err.msg, "descriptor has no mediaType");
	json_decref(j);
	refused(MANIFEST(OCI_MT, LP_MT_OCI_CONFIG,
			 "{'mediaType':'" GZ "','digest':'" D2 "','size':'100'}"),
		NULL, EBADMSG, "layer 1: sha256:222222222222...: no size, or a negative one");
}

static void test_parse(void **state)
{
	static const char dup[] = "{\"schemaVersion\":2,\"layers\":[],\"layers\":[]}";
	struct lp_err err = { 0 };
	json_t *j;

	(void)state;
	assert_null(lp_manifest_parse(dup, sizeof(dup) - 1, &err));
	assert_int_equal(err.code, EBADMSG);
	assert_null(lp_manifest_parse("[]", 2, &err));
	assert_string_equal(err.msg, "not a JSON object");
	assert_null(lp_manifest_parse("{}", LP_MANIFEST_MAX + 1, &err));
	assert_int_equal(err.code, EFBIG);
	j = lp_manifest_parse("{\"a\":1}", 7, &err);
	assert_non_null(j);
	json_decref(j);
}

/* ---------------------------------------------------------------- configs */

#define CONFIG(os, arch, ...)                                                             \
	"{'os':'" os "','architecture':'" arch "','rootfs':{'type':'layers','diff_ids':[" \
	__VA_ARGS__ "]}}"

static int config(const char *text, const char *platform, size_t n, unsigned char (*ids)[32],
		  struct lp_err *err)
{
	struct lp_platform_want w;
	json_t *j = doc(text);
	int rc;

	assert_int_equal(lp_platform_want(&w, platform, err), 0);
	rc = lp_config_check(j, &w, n, ids, err);
	json_decref(j);
	return rc;
}

static void test_config(void **state)
{
	unsigned char ids[2][32];
	struct lp_err err = { 0 };

	(void)state;
	if (config(CONFIG("linux", "arm64", "'" D3 "','" D4 "'"), "linux/arm64/v8", 2, ids, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(ids[0][0], 0x33);
	assert_int_equal(ids[1][31], 0x44);
	/* one diff_id per layer */
	assert_int_equal(config(CONFIG("linux", "arm64", "'" D3 "'"), "linux/arm64", 2, ids, &err),
			 -1);
	assert_string_equal(err.msg, "config lists 1 diff_ids for 2 layers");
	assert_int_equal(config(CONFIG("linux", "arm64", "'" D3 "','x'"), "linux/arm64", 2, NULL,
				&err),
			 -1);
	assert_non_null(strstr(err.msg, "config diff_ids[1]: 'x' is not a sha256 digest"));
	/* the config says the platform the index may not have: arm is not arm64 */
	assert_int_equal(config(CONFIG("linux", "arm", "'" D3 "'"), "linux/arm64", 1, ids, &err),
			 -1);
	assert_string_equal(err.msg, "the image is for linux/arm, not linux/arm64");
	assert_int_equal(err.code, ENOEXEC);
	assert_int_equal(config("{'os':'linux','rootfs':{'type':'layers','diff_ids':[]}}",
				"linux/arm64", 0, ids, &err),
			 -1);
	assert_string_equal(err.msg, "config says no os or architecture");
	assert_int_equal(config("{'os':'linux','architecture':'arm64'}", "linux/arm64", 0, ids,
				&err),
			 -1);
	assert_string_equal(err.msg, "config: no rootfs of type layers with diff_ids");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wanted_lists),
		cmocka_unit_test(test_arm64_takes_no_variant_then_v8),
		cmocka_unit_test(test_arm_v7_falls_back_to_v6),
		cmocka_unit_test(test_amd64_takes_only_no_variant),
		cmocka_unit_test(test_arm64_never_takes_arm),
		cmocka_unit_test(test_entry_without_platform),
		cmocka_unit_test(test_nested_index),
		cmocka_unit_test(test_manifest_accepted),
		cmocka_unit_test(test_schema1_refused),
		cmocka_unit_test(test_layer_types),
		cmocka_unit_test(test_type_must_agree),
		cmocka_unit_test(test_descriptors),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
