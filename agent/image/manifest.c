// SPDX-License-Identifier: Apache-2.0
#include "agent/image/manifest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "platform/lib/util.h"

/* A JSON string's value, or "" when it is missing or not a string. */
static const char *jstr(json_t *v)
{
	const char *s = json_string_value(v);

	return s ? s : "";
}

bool lp_platform_matches(json_t *p, const char *want)
{
	char os[32] = "", arch[32] = "", variant[32] = "";
	const char *pv = json_string_value(json_object_get(p, "variant"));

	sscanf(want, "%31[^/]/%31[^/]/%31s", os, arch, variant);
	if (strcmp(os, jstr(json_object_get(p, "os"))) ||
	    strcmp(arch, jstr(json_object_get(p, "architecture"))))
		return false;
	/* arm64 images rarely say v8; an unspecified variant matches any. */
	return !variant[0] || !pv || !strcmp(variant, pv);
}

static const char *const index_types[] = {
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
};

bool lp_manifest_is_index(json_t *desc)
{
	const char *t = json_string_value(json_object_get(desc, "mediaType"));
	size_t i;

	for (i = 0; t && i < ARRAY_SIZE(index_types); i++)
		if (!strcmp(t, index_types[i]))
			return true;
	return false;
}

static const char *const layer_types[] = {
	"application/vnd.oci.image.layer.v1.tar",
	"application/vnd.oci.image.layer.v1.tar+gzip",
	"application/vnd.oci.image.layer.v1.tar+zstd",
	"application/vnd.oci.image.layer.nondistributable.v1.tar",
	"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
	"application/vnd.docker.image.rootfs.diff.tar",
	"application/vnd.docker.image.rootfs.diff.tar.gzip",
};

int lp_manifest_check_layer_type(json_t *desc, struct lp_err *err)
{
	const char *t = json_string_value(json_object_get(desc, "mediaType"));
	size_t i;

	for (i = 0; t && i < ARRAY_SIZE(layer_types); i++)
		if (!strcmp(t, layer_types[i]))
			return 0;
	return lp_fail(err, ENOTSUP, "layer media type %s is not supported", t ? t : "(none)");
}
