// SPDX-License-Identifier: Apache-2.0
/*
 * The agent config's registry = { ... } group: the credentials file,
 * how strictly a signature's identity must match, and per registry host
 * its TLS trust and identity and the mirrors to try first.
 *
 *   registry = {
 *     auth_file = "/etc/limpet/auth.json";
 *     signatures = "exact";		# or "repository"
 *     hosts = ( { host = "registry.example.com:5000"; ca = "/etc/limpet/reg-ca.pem";
 *                 mirrors = [ "mirror.lan:5000" ]; mirror_tags = false; } );
 *   };
 *
 * libconfig names cannot hold dots, so hosts are a list, not a group.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config/config.h"
#include "agent/config/config_loader.h"
#include "agent/spec/image_ref.h"
#include "platform/lib/util.h"

/*
 * A registry host as a reference's first component names it, normalised
 * as references are (index.docker.io is docker.io): "h" must be one.
 */
static int normal_host(struct loader *ld, const char *h, char **dst)
{
	char probe[512];
	struct lp_image_ref ref;

	snprintf(probe, sizeof(probe), "%s/x", h);
	if (lp_image_ref_parse(probe, &ref, ld->err) < 0 || strchr(h, '/') ||
	    (strcmp(ref.host, h) && strcmp(h, "index.docker.io")))
		return lp_fail(ld->err, EINVAL,
			       "'%s' is not a registry host (a name with a '.' or a port, or "
			       "localhost)",
			       h);
	return cfg_replace_string(ld, ref.host, dst);
}

static int apply_host(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	const char *value = NULL;

	if (cfg_get_string(ld, s, &value) < 0)
		return -1;
	return normal_host(ld, value, &((struct lp_registry_host *)dst)->host);
}

static int apply_ca(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	return cfg_set_abs_path(ld, s, &((struct lp_registry_host *)dst)->ca);
}

static int apply_cert(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	return cfg_set_abs_path(ld, s, &((struct lp_registry_host *)dst)->cert);
}

static int apply_key(struct loader *ld, const config_setting_t *s, const char *path, void *dst)
{
	return cfg_set_abs_path(ld, s, &((struct lp_registry_host *)dst)->key);
}

static int apply_mirrors(struct loader *ld, const config_setting_t *s, const char *path,
			 void *dst)
{
	struct lp_registry_host *h = dst;
	char **mirrors = NULL;
	size_t i;

	if (cfg_set_strv(ld, s, &mirrors) < 0)
		return -1;
	for (i = 0; mirrors[i]; i++) {
		char *normal = NULL;

		if (normal_host(ld, mirrors[i], &normal) < 0) {
			lp_prefix(ld->err, "element %zu", i);
			lp_strv_free(mirrors);
			return -1;
		}
		free(mirrors[i]);
		mirrors[i] = normal;
	}
	lp_strv_free(h->mirrors);
	h->mirrors = mirrors;
	return 0;
}

static int apply_mirror_tags(struct loader *ld, const config_setting_t *s, const char *path,
			     void *dst)
{
	return cfg_set_bool(ld, s, &((struct lp_registry_host *)dst)->mirror_tags);
}

static const struct rule host_rules[] = {
	{ "host", apply_host, false },	       { "ca", apply_ca, false },
	{ "cert", apply_cert, false },	       { "key", apply_key, false },
	{ "mirrors", apply_mirrors, false },   { "mirror_tags", apply_mirror_tags, false },
};

static void host_free(struct lp_registry_host *h)
{
	free(h->host);
	free(h->ca);
	free(h->cert);
	free(h->key);
	lp_strv_free(h->mirrors);
	memset(h, 0, sizeof(*h));
}

static int check_host(struct loader *ld, const config_setting_t *entry, const char *path,
		      const struct lp_registry_config *r, const struct lp_registry_host *h)
{
	if (!h->host)
		lp_fail(ld->err, EINVAL, "needs host = \"registry.example.com\"");
	else if (!h->cert != !h->key)
		lp_fail(ld->err, EINVAL, "needs %s as well", h->cert ? "key" : "cert");
	else if (lp_registry_host_find(r, h->host))
		lp_fail(ld->err, EEXIST, "%s is listed twice", h->host);
	else
		return 0;
	return cfg_fail_at(ld, entry, path);
}

static int load_host(struct loader *ld, struct lp_registry_config *r,
		     const config_setting_t *entry, const char *list_path, int index)
{
	struct lp_registry_host h = { 0 }, *grown;
	char path[SETTING_PATH_MAX];
	int ret;

	snprintf(path, sizeof(path), "%s[%d]", list_path, index);
	if (!config_setting_is_group(entry)) {
		cfg_wrong_type(ld, entry, "a group { host = ...; ... }");
		return cfg_fail_at(ld, entry, path);
	}
	ret = cfg_apply_group(ld, entry, path, host_rules, ARRAY_SIZE(host_rules), &h);
	if (ret == 0 && !h.mirrors && !(h.mirrors = calloc(1, sizeof(*h.mirrors))))
		ret = lp_fail(ld->err, ENOMEM, "out of memory");
	if (ret == 0)
		ret = check_host(ld, entry, path, r, &h);
	if (ret == 0) {
		grown = realloc(r->hosts, (r->n_hosts + 1) * sizeof(*r->hosts));
		if (!grown)
			ret = lp_fail(ld->err, ENOMEM, "out of memory");
		else {
			r->hosts = grown;
			r->hosts[r->n_hosts++] = h;
			return 0;
		}
	}
	host_free(&h);
	return ret;
}

static int apply_hosts(struct loader *ld, const config_setting_t *s, const char *path,
		       void *dst)
{
	int i, n;

	if (!config_setting_is_list(s)) {
		cfg_wrong_type(ld, s, "a list ( { host = ...; ... }, ... )");
		return cfg_fail_at(ld, s, path);
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++)
		if (load_host(ld, dst, config_setting_get_elem(s, (unsigned int)i), path, i) < 0)
			return -1;
	return 0;
}

static int apply_auth_file(struct loader *ld, const config_setting_t *s, const char *path,
			   void *dst)
{
	return cfg_set_abs_path(ld, s, &((struct lp_registry_config *)dst)->auth_file);
}

static int apply_signatures(struct loader *ld, const config_setting_t *s, const char *path,
			    void *dst)
{
	const char *value = NULL;

	if (cfg_get_string(ld, s, &value) < 0)
		return -1;
	if (strcmp(value, "exact") && strcmp(value, "repository"))
		return lp_fail(ld->err, EINVAL, "'%s': exact or repository", value);
	((struct lp_registry_config *)dst)->signatures_by_repository = !strcmp(value, "repository");
	return 0;
}

static const struct rule registry_rules[] = {
	{ "auth_file", apply_auth_file, false },
	{ "signatures", apply_signatures, false },
	{ "hosts", apply_hosts, true },
};

int cfg_apply_registry(struct loader *ld, const config_setting_t *s, const char *path,
		       void *dst)
{
	struct lp_agent_config *cfg = dst;

	if (!config_setting_is_group(s)) {
		cfg_wrong_type(ld, s, "a group { hosts = ( ... ); ... }");
		return cfg_fail_at(ld, s, path);
	}
	return cfg_apply_group(ld, s, path, registry_rules, ARRAY_SIZE(registry_rules),
			       &cfg->registry);
}

const struct lp_registry_host *lp_registry_host_find(const struct lp_registry_config *r,
						     const char *host)
{
	size_t i;

	for (i = 0; i < r->n_hosts; i++)
		if (!strcmp(r->hosts[i].host, host))
			return &r->hosts[i];
	return NULL;
}

void cfg_registry_free(struct lp_registry_config *r)
{
	size_t i;

	for (i = 0; i < r->n_hosts; i++)
		host_free(&r->hosts[i]);
	free(r->hosts);
	free(r->auth_file);
	memset(r, 0, sizeof(*r));
}
