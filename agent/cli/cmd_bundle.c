// SPDX-License-Identifier: Apache-2.0
/*
 * limpet bundle create: the limpet/ folder a USB stick carries (the
 * deployment, its signature, and each image archive where the document's
 * relative URL says), checked against the pins so that a stick made this way
 * is never refused for a missing or wrong file.  limpet import PATH: apply
 * such a folder, or the stick's block device, by hand.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/deploy/deploy_doc.h"
#include "agent/image/import.h"
#include "platform/lib/util.h"
#include "agent/trust/trust.h"
#include "agent/fleet/usb.h"

#define MAX_IMAGES 64

struct image_arg {
	const char *path;
	unsigned char sha256[LP_SHA256_LEN];
	int64_t size;
	bool used;
};

static int hash_file(struct image_arg *im, struct lp_err *err)
{
	uint64_t size;
	int fd = lp_open_regular(AT_FDCWD, im->path, O_RDONLY, 0, err);

	if (fd < 0)
		return -1;
	if (lp_sha256_fd(fd, im->sha256, &size, err) < 0) {
		close(fd);
		return lp_prefix(err, "%s", im->path);
	}
	close(fd);
	im->size = (int64_t)size;
	return 0;
}

/* Copy src to dst (creating its directories), then fsync it. */
static int copy_file(const char *src, const char *dst, struct lp_err *err)
{
	char dir[PATH_MAX];
	struct stat st;
	int in, out, rc = 0;
	off_t off = 0;

	if (lp_path(dir, sizeof(dir), err, "%s", dst) < 0)
		return -1;
	*strrchr(dir, '/') = '\0';
	if (lp_mkdir_p(dir, 0755, err) < 0)
		return -1;
	in = lp_open_regular(AT_FDCWD, src, O_RDONLY, 0, err);
	if (in < 0)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0 || fstat(in, &st) < 0) {
		rc = lp_fail_errno(err, "%s", out < 0 ? dst : src);
		goto out;
	}
	while (off < st.st_size) {
		ssize_t n = sendfile(out, in, &off, (size_t)(st.st_size - off));

		if (n <= 0) {
			rc = n < 0 ? lp_fail_errno(err, "copy %s to %s", src, dst)
				   : lp_fail(err, EIO, "%s: shorter than it was", src);
			goto out;
		}
	}
	if (fsync(out) < 0)
		rc = lp_fail_errno(err, "fsync %s", dst);
out:
	close(in);
	if (out >= 0)
		close(out);
	return rc;
}

/* Each container's archive goes where its relative URL points. */
static int place_images(const struct lp_deployment *d, struct image_arg *ims, size_t n,
			const char *dir, struct lp_err *err)
{
	size_t i, k;

	for (i = 0; i < d->n; i++) {
		const struct lp_deploy_container *c = &d->containers[i];
		char hex[LP_SHA256_HEX_LEN + 1], dst[PATH_MAX];
		struct image_arg *match = NULL;

		if (c->image_ref)
			return lp_fail(err, EINVAL,
				       "containers[%zu].image.ref: a device offline cannot pull %s "
				       "(give an archive: url, sha256 and size)",
				       i, c->image_ref);
		lp_hex(c->image_sha256, LP_SHA256_LEN, hex);
		if (!strncmp(c->image_url, "https://", 8))
			return lp_fail(err, EINVAL,
				       "containers[%zu].image.url: %s is fetched from the network; "
				       "a device offline cannot (use a relative path)",
				       i, c->image_url);
		for (k = 0; k < n && !match; k++)
			if (!memcmp(ims[k].sha256, c->image_sha256, LP_SHA256_LEN))
				match = &ims[k];
		if (!match)
			return lp_fail(err, ENOENT,
				       "containers[%zu] (%s): no IMAGE given has the pinned sha256 "
				       "%.16s... (for %s)",
				       i, c->cfg.name, hex, c->image_url);
		if (match->size != c->image_size)
			return lp_fail(err, EBADMSG, "%s: %lld bytes, but containers[%zu].image.size "
						     "pins %lld",
				       match->path, (long long)match->size, i,
				       (long long)c->image_size);
		if (lp_path(dst, sizeof(dst), err, "%s/%s", dir, c->image_url) < 0)
			return -1;
		/* Two containers of one image: one file is enough. */
		if (access(dst, F_OK) == 0)
			continue;
		if (copy_file(match->path, dst, err) < 0)
			return -1;
		match->used = true;
	}
	for (k = 0; k < n; k++)
		if (!ims[k].used)
			return lp_fail(err, EINVAL, "%s: no container of the deployment pins it",
				       ims[k].path);
	return 0;
}

static int create_bundle(const char *outdir, const char *doc, const char *key,
			 struct image_arg *ims, size_t n, struct lp_err *err)
{
	char final[PATH_MAX], tmp[PATH_MAX], dst[PATH_MAX], sig[PATH_MAX];
	unsigned char digest[LP_SHA256_LEN];
	struct lp_deployment d;
	struct lp_sha256 h;
	char *text;
	size_t len, i;
	int rc;

	if (lp_path(final, sizeof(final), err, "%s/limpet", outdir) < 0 ||
	    lp_path(tmp, sizeof(tmp), err, "%s/.limpet.tmp", outdir) < 0)
		return -1;
	if (access(final, F_OK) == 0)
		return lp_fail(err, EEXIST, "%s exists already (remove it first)", final);
	if (lp_read_file(doc, LP_DEPLOY_MAX, &text, &len, err) < 0)
		return -1;
	rc = lp_deploy_parse(text, len, &d, err);
	lp_sha256_init(&h);
	lp_sha256_update(&h, text, len);
	if (lp_sha256_final(&h, digest, err) < 0)
		rc = -1;
	lp_sha256_free(&h);
	free(text);
	if (rc < 0)
		return lp_prefix(err, "%s", doc);
	for (i = 0; i < n && rc == 0; i++)
		rc = hash_file(&ims[i], err);
	if (rc == 0 && (lp_remove_tree(tmp, err) < 0 || lp_mkdir_p(tmp, 0755, err) < 0))
		rc = -1;
	if (rc == 0)
		rc = place_images(&d, ims, n, tmp, err);
	lp_deploy_free(&d);
	if (rc == 0 && (lp_path(dst, sizeof(dst), err, "%s/deployment.json", tmp) < 0 ||
			copy_file(doc, dst, err) < 0 ||
			lp_path(sig, sizeof(sig), err, "%s/deployment.json.sig", tmp) < 0))
		rc = -1;
	if (rc == 0 && key)
		rc = lp_sign_digest_to_file(key, digest, sig, err);
	else if (rc == 0) {
		char given[PATH_MAX];

		rc = lp_path(given, sizeof(given), err, "%s.sig", doc);
		if (rc == 0 && access(given, F_OK) < 0)
			rc = lp_fail(err, ENOENT, "%s is not signed: give --key KEY.pem, or sign it "
						  "first (limpet image sign)",
				     doc);
		if (rc == 0)
			rc = copy_file(given, sig, err);
	}
	if (rc == 0 && rename(tmp, final) < 0)
		rc = lp_fail_errno(err, "rename %s to %s", tmp, final);
	if (rc < 0) {
		struct lp_err ignored;

		lp_remove_tree(tmp, &ignored);
	}
	return rc;
}

static const struct lp_opt create_opts[] = {
	{ 'k', 0, "key", "KEY", "sign the deployment with this private key (else it must be signed)" },
	{ 0 },
};

static int bundle_create(int argc, char **argv, struct lp_globals *g);

static const struct lp_cmd_doc doc_create = {
	.name = "bundle create",
	.operands = "OUTDIR DEPLOYMENT.json IMAGE...",
	.summary = "Put a deployment and its image archives in OUTDIR/limpet/, for a USB stick",
	.opts = create_opts,
	.fn = bundle_create,
};

static int bundle_create(int argc, char **argv, struct lp_globals *g)
{
	struct image_arg ims[MAX_IMAGES] = { 0 };
	struct lp_err err = { 0 };
	struct lp_opts p;
	const char *key = NULL;
	size_t n = 0;
	int opt, i, first;

	(void)g;
	lp_opts_init(&p, &doc_create, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0)
		key = p.arg;
	if (opt == LP_OPT_EXIT)
		return p.status;
	first = p.ind;
	if (argc - first < 2)
		return lp_usage_error("bundle create", "needs OUTDIR, DEPLOYMENT.json and the "
						       "IMAGE archives it names");
	if (argc - first - 2 > MAX_IMAGES)
		return lp_usage_error("bundle create", "at most %d images", MAX_IMAGES);
	for (i = first + 2; i < argc; i++)
		ims[n++].path = argv[i];
	if (create_bundle(argv[first], argv[first + 1], key, ims, n, &err) < 0)
		return lp_cmd_fail("bundle create", &err);
	printf("%s/limpet\n", argv[first]);
	return 0;
}

static const struct lp_cmd_doc *const bundle_subs[] = { &doc_create, NULL };

static int cmd_bundle(int argc, char **argv, struct lp_globals *g)
{
	return lp_cmd_dispatch(&lp_doc_bundle, argc, argv, g);
}

const struct lp_cmd_doc lp_doc_bundle = {
	.name = "bundle",
	.operands = "COMMAND",
	.summary = "Make an offline update for a USB stick",
	.subs = bundle_subs,
	.fn = cmd_bundle,
};

static const struct lp_opt import_opts[] = {
	LP_OPT_TRUST('t'),
	{ 0 },
};

static int cmd_import(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_import = {
	.name = "import",
	.operands = "PATH",
	.summary = "Apply the update on a USB stick: a folder with limpet/ in it, or its block device",
	.opts = import_opts,
	.fn = cmd_import,
};

static int cmd_import(int argc, char **argv, struct lp_globals *g)
{
	cleanup_trust struct lp_trust trust = { 0 };
	struct lp_trust_args extra = { 0 };
	struct lp_err err = { 0 };
	struct lp_opts p;
	enum lp_apply_result r;
	int opt, first;

	lp_opts_init(&p, &lp_doc_import, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0)
		if (lp_trust_arg(&extra, p.arg, &err) < 0)
			return lp_usage_error("import", "%s", err.msg);
	if (opt == LP_OPT_EXIT)
		return p.status;
	first = p.ind;
	if (first + 1 != argc)
		return lp_usage_error("import", "needs one PATH: a folder with limpet/ in it, or "
						"a block device");
	if (lp_host_trust(&g->host, extra.pem, extra.n, &trust, &err) < 0)
		return lp_cmd_fail("import", &err);
	r = lp_usb_import(&g->host, argv[first], &trust, "limpet import", &err);
	return lp_apply_finish("import", argv[first], r, &err);
}
