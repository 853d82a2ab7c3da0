// SPDX-License-Identifier: Apache-2.0
/*
 * limpet image pull URL: fetch a signed archive and URL.sig over HTTPS, then
 * import it exactly as `image import` does (same trust rules, same checks).
 * Each URL downloads into a directory of its own, ROOT/downloads/<sha256 of
 * the URL>/, under the URL's file name, so the image gets the name an import
 * of that file would give it, and an interrupted pull resumes where it
 * stopped.
 *
 * limpet image pull REF: anything that is not an https:// URL is an image
 * reference, pulled from its registry (agent/image/pull.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/fetch/fetch.h"
#include "agent/image/import.h"
#include "agent/spec/image_ref.h"
#include "agent/spec/parse.h"
#include "platform/lib/util.h"
#include "agent/image/store.h"
#include "agent/trust/trust.h"

struct pull {
	const char *url;
	bool registry;					/* url is an image reference */
	const char *auth_file;				/* --auth-file */
	bool json;					/* --json */
	const char *archive_opt;			/* an option only archives take, if given */
	bool ca_given, cert_given;
	struct lp_trust_args extra_trust;
	struct lp_import_opts import;
	struct lp_fetch_opts fetch;
	int64_t size;					/* --size; -1: not pinned */
	unsigned char sha256[LP_SHA256_LEN];		/* --sha256 */
	bool sha256_pinned;
	char file_name[NAME_MAX + 1];			/* the URL's: "hello.tar" */
	char dir[PATH_MAX];				/* ROOT/downloads/<sha256 of URL> */
	char file[PATH_MAX];				/* DIR/FILE_NAME */
	char sig[PATH_MAX];				/* FILE.sig */
};

enum {
	OPT_TRUST = 't',
	OPT_NAME = 'n',
	OPT_PLATFORM = 'p',
	OPT_CA = 256,
	OPT_CERT,
	OPT_KEY,
	OPT_SIZE,
	OPT_SHA256,
	OPT_LIMIT_RATE,
	OPT_STALL_TIMEOUT,
	OPT_AUTH_FILE,
	OPT_JSON,
};

static const struct lp_opt pull_opts[] = {
	LP_OPT_TRUST(OPT_TRUST),
	{ OPT_NAME, 0, "name", "NAME", "which image of a multi-image archive; or its name here" },
	{ OPT_PLATFORM, 0, "platform", "OS/ARCH", "which platform of an index (default: this board's)" },
	{ OPT_CA, 0, "ca", "PEM", "CA certificates for the server (default: the fleet's, or the system's)" },
	{ OPT_CERT, 0, "cert", "PEM", "client certificate (with --key)" },
	{ OPT_KEY, 0, "key", "PEM", "its private key" },
	{ OPT_SIZE, 0, "size", "BYTES", "the archive's size: more is cut off" },
	{ OPT_SHA256, 0, "sha256", "HEX", "the archive's SHA-256: anything else is refused" },
	{ OPT_LIMIT_RATE, 0, "limit-rate", "RATE", "most bytes a second, e.g. 200K" },
	{ OPT_STALL_TIMEOUT, 0, "stall-timeout", "SECONDS",
	  "retry a transfer slower than 1K/s for this long (default 30)" },
	{ OPT_AUTH_FILE, 0, "auth-file", "FILE", "registry credentials, as docker login writes them" },
	{ OPT_JSON, 0, "json", NULL, "print what was pulled as JSON" },
	{ 0 },
};

static int cmd_image_pull(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_image_pull = {
	.name = "image pull",
	.operands = "https://URL | REF",
	.summary = "Pull a signed image from a registry, or an image archive over TLS",
	.opts = pull_opts,
	.notes = "REF is a registry reference: registry.example.com:5000/app:1.4, ...@sha256:HEX,\n"
		 "or a short name (alpine is docker.io/library/alpine:latest). It must carry a\n"
		 "cosign signature by a trusted key (the sha256-DIGEST.sig tag).\n"
		 "An archive's signature is fetched from URL.sig; --size and --sha256 are\n"
		 "for archives. Either way an interrupted download resumes where it\n"
		 "stopped when the command is run again.",
	.fn = cmd_image_pull,
};

/* "sha256:<64 hex>" or the bare hex that sha256sum prints. */
static int parse_sha256(const char *arg, unsigned char out[LP_SHA256_LEN], struct lp_err *err)
{
	char digest[LP_DIGEST_STR_LEN];

	if (!strncmp(arg, "sha256:", 7))
		return lp_digest_parse(arg, out, err);
	if (lp_path(digest, sizeof(digest), err, "sha256:%s", arg) < 0)
		return lp_fail(err, EINVAL, "'%s' is not 64 hex digits", arg);
	return lp_digest_parse(digest, out, err);
}

/* Whole seconds: a stall is judged over them, so less than one means nothing. */
static int parse_stall_timeout(const char *arg, long *out, struct lp_err *err)
{
	int64_t ms;

	if (lp_parse_seconds_ms(arg, &ms) < 0 || ms < 1000)
		return lp_fail(err, EINVAL, "--stall-timeout: '%s' is not 1 to 86400 seconds", arg);
	*out = (long)(ms / 1000);
	return 0;
}

static int apply_option(struct pull *p, int opt, const char *arg, struct lp_err *err)
{
	switch (opt) {
	case OPT_TRUST:
		return lp_trust_arg(&p->extra_trust, arg, err);
	case OPT_NAME:
		p->import.name = arg;
		return lp_image_name_valid(arg, err) < 0 ? lp_prefix(err, "--name") : 0;
	case OPT_PLATFORM:
		p->import.platform = arg;
		return 0;
	case OPT_CA:
		p->ca_given = true;
		p->fetch.ca_file = arg;
		return 0;
	case OPT_CERT:
		p->cert_given = true;
		p->fetch.cert_file = arg;
		return 0;
	case OPT_KEY:
		p->fetch.key_file = arg;
		return 0;
	case OPT_SIZE:
		p->archive_opt = "--size";
		return lp_parse_size(arg, &p->size, err) < 0 ? lp_prefix(err, "--size") : 0;
	case OPT_SHA256:
		p->archive_opt = "--sha256";
		p->sha256_pinned = true;
		return parse_sha256(arg, p->sha256, err) < 0 ? lp_prefix(err, "--sha256") : 0;
	case OPT_LIMIT_RATE:
		return lp_parse_size(arg, &p->fetch.max_bytes_per_s, err) < 0
			       ? lp_prefix(err, "--limit-rate")
			       : 0;
	case OPT_STALL_TIMEOUT:
		return parse_stall_timeout(arg, &p->fetch.stall_timeout_s, err);
	case OPT_AUTH_FILE:
		p->auth_file = arg;
		return 0;
	case OPT_JSON:
		p->json = true;
		return 0;
	}
	return lp_fail(err, EINVAL, "unknown option");
}

/* The config's fleet identity and rate cap, unless the command line says otherwise. */
static void use_fleet_config(struct pull *p, const struct lp_fleet_config *f)
{
	p->size = -1;
	p->fetch.ca_file = f->ca;
	p->fetch.cert_file = f->cert;
	p->fetch.key_file = f->key;
	p->fetch.max_bytes_per_s = f->max_download_rate;
	p->fetch.progress = true;
}

static int registry_args(struct pull *p)
{
	struct lp_image_ref ref;
	struct lp_err err = { 0 };

	p->registry = true;
	if (p->archive_opt)
		return lp_usage_error("image pull", "%s is for archive URLs; a registry reference "
				      "is checked by its digest", p->archive_opt);
	if (lp_image_ref_parse(p->url, &ref, &err) < 0)
		return lp_usage_error("image pull", "%s", err.msg);
	/* the fleet's CA and identity are the fleet's: a registry has its own */
	if (!p->ca_given)
		p->fetch.ca_file = NULL;
	if (!p->cert_given) {
		p->fetch.cert_file = NULL;
		p->fetch.key_file = NULL;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct lp_globals *g, struct pull *p)
{
	bool cert_given = false, key_given = false;
	struct lp_err err = { 0 };
	struct lp_opts o;
	int opt;

	use_fleet_config(p, &g->host.cfg.fleet);
	lp_opts_init(&o, &lp_doc_image_pull, argc, argv);
	while ((opt = lp_opt_next(&o)) > 0) {
		if (apply_option(p, opt, o.arg, &err) < 0)
			return lp_usage_error("image pull", "%s", err.msg);
		cert_given |= opt == OPT_CERT;
		key_given |= opt == OPT_KEY;
	}
	if (opt == LP_OPT_EXIT)
		return o.status ? o.status : -1; /* -1: --help, done */
	if (cert_given != key_given)
		return lp_usage_error("image pull", "--cert and --key go together (the device's "
						    "certificate and its private key)");
	if (o.ind + 1 != argc)
		return lp_usage_error("image pull", "needs exactly one URL or image reference");
	p->url = argv[o.ind];
	p->import.allow_unsigned = g->host.cfg.allow_unsigned;
	if (strncmp(p->url, "https://", 8) && strncmp(p->url, "http://", 7))
		return registry_args(p);
	if (p->auth_file || p->json)
		return lp_usage_error("image pull", "%s is for registry references, not archive URLs",
				      p->auth_file ? "--auth-file" : "--json");
	if (lp_fetch_url_check(p->url, &err) < 0 ||
	    lp_fetch_url_file_name(p->url, p->file_name, sizeof(p->file_name), &err) < 0)
		return lp_usage_error("image pull", "%s", err.msg);
	return 0;
}

static int download_paths(struct lp_globals *g, struct pull *p, struct lp_err *err)
{
	unsigned char digest[LP_SHA256_LEN];
	char hex[LP_SHA256_HEX_LEN + 1];
	struct lp_sha256 h;
	int rc;

	lp_sha256_init(&h);
	lp_sha256_update(&h, p->url, strlen(p->url));
	rc = lp_sha256_final(&h, digest, err);
	lp_sha256_free(&h);
	if (rc < 0)
		return -1;
	lp_hex(digest, sizeof(digest), hex);
	if (lp_path(p->dir, sizeof(p->dir), err, "%s/downloads/%s", g->host.root, hex) < 0 ||
	    lp_path(p->file, sizeof(p->file), err, "%s/%s", p->dir, p->file_name) < 0 ||
	    lp_path(p->sig, sizeof(p->sig), err, "%s.sig", p->file) < 0)
		return -1;
	return lp_mkdir_p(p->dir, 0700, err);
}

/*
 * Is the archive itself missing?  Asked only when URL.sig is, so that a
 * mistyped URL is reported as such.  The GET is cut off at its first byte.
 */
static bool archive_missing(const struct pull *p)
{
	struct lp_fetch_opts once = p->fetch;
	struct lp_err ignored;
	char *body = NULL;
	size_t len;
	long status;

	once.attempts = 1;
	once.progress = false;
	lp_fetch_get(p->url, NULL, &body, &len, NULL, &status, 0, &once, &ignored);
	free(body);
	return status == 404 || status == 410;
}

static int no_signature(const struct pull *p, long status, struct lp_err *err)
{
	if (archive_missing(p))
		return lp_fail(err, ENOENT, "%s: HTTP 404 Not Found", p->url);
	return lp_fail(err, ENOENT,
		       "%s has no signature (%s.sig: HTTP %ld); images must be signed "
		       "(allow_unsigned = true in the config is for development)",
		       p->url, p->url, status);
}

/* URL.sig beside the archive, where the import looks for it.  Signatures are small. */
static int fetch_signature(const struct pull *p, struct lp_err *err)
{
	cleanup_free char *body = NULL;
	char url[PATH_MAX];
	size_t len;
	long status;

	if (lp_path(url, sizeof(url), err, "%s.sig", p->url) < 0)
		return -1;
	if (lp_fetch_get(url, NULL, &body, &len, NULL, &status, LP_SIG_FILE_MAX, &p->fetch, err) <
	    0) {
		if (status != 404 && status != 410)
			return -1;
		if (!p->import.allow_unsigned)
			return no_signature(p, status, err);
		/* the import warns that it takes an unsigned archive */
		if (unlink(p->sig) < 0 && errno != ENOENT)
			return lp_fail_errno(err, "remove %s", p->sig);
		return 0;
	}
	return lp_write_file_atomic(p->sig, body, len, err);
}

static void remove_file(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		fprintf(stderr, "limpet image pull: remove %s: %s\n", path, strerror(errno));
}

/*
 * After an import the archive has served its purpose; after a refused one it
 * is suspect, so the next pull fetches it afresh.  The signature is fetched
 * again by every pull.  Only an interrupted download keeps FILE.partial (and
 * so its directory), to resume.
 */
static void clean_up(const struct pull *p, bool imported, bool import_tried, bool keep)
{
	if (!p->dir[0] || (imported && keep))
		return;
	if (import_tried)
		remove_file(p->file);
	remove_file(p->sig);
	if (rmdir(p->dir) < 0 && errno != ENOTEMPTY && errno != ENOENT)
		fprintf(stderr, "limpet image pull: remove %s: %s\n", p->dir, strerror(errno));
}

/* The downloaded copy's path means nothing to whoever gave the URL: name the URL. */
static int blame_url(const struct pull *p, struct lp_err *err)
{
	size_t len = strlen(p->file);
	char rest[LP_ERR_MAX];

	if (strncmp(err->msg, p->file, len) || err->msg[len] != ':')
		return -1;
	snprintf(rest, sizeof(rest), "%s", err->msg + len);
	snprintf(err->msg, sizeof(err->msg), "%s%s", p->url, rest);
	return -1;
}

static int pull(struct lp_globals *g, struct pull *p, char **name, struct lp_err *err)
{
	bool import_tried = false;
	unsigned char digest[LP_SHA256_LEN];
	cleanup_trust struct lp_trust trust = { 0 };
	cleanup_fd int fd = -1;
	int rc;

	rc = lp_host_trust(&g->host, p->extra_trust.pem, p->extra_trust.n, &trust, err);
	if (rc == 0)
		rc = download_paths(g, p, err);
	if (rc == 0)
		rc = fetch_signature(p, err);
	if (rc == 0)
		rc = lp_fetch_file_fd(p->url, p->file, p->size, p->sha256_pinned ? p->sha256 : NULL,
				      digest, &fd, &p->fetch, err);
	if (rc == 0) {
		p->import.file = p->file;
		/*
		 * Hashed on the way in: the signature is checked without reading
		 * the file again, and the import reads it through our fd without
		 * hashing it again.
		 */
		p->import.file_sha256 = digest;
		p->import.own_fd = true;
		p->import.fd = fd;
		p->import.trust = &trust;
		import_tried = true;
		rc = lp_image_import(&g->host, &p->import, name, err);
		if (rc < 0)
			blame_url(p, err);
	}
	clean_up(p, rc == 0, import_tried, g->host.cfg.fleet.keep_downloads);
	return rc;
}

static int cmd_image_pull(int argc, char **argv, struct lp_globals *g)
{
	struct pull p = { 0 };
	struct lp_err err = { 0 };
	char *name = NULL;
	int rc;

	rc = parse_args(argc, argv, g, &p);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if (p.registry) {
		struct lp_cli_pull a = {
			.ref = p.url,
			.name = p.import.name,
			.platform = p.import.platform,
			.trust = &p.extra_trust,
			.auth_file = p.auth_file,
			.fetch = p.fetch,
			.json = p.json,
		};

		return lp_cli_pull_ref(g, &a, NULL, &err) < 0 ? lp_cmd_fail("image pull", &err) : 0;
	}
	if (pull(g, &p, &name, &err) < 0)
		return lp_cmd_fail("image pull", &err);
	printf("%s\n", name);
	free(name);
	return 0;
}
