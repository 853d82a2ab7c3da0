// SPDX-License-Identifier: Apache-2.0
/*
 * keygen, image sign, image verify: the operator's side of signed images.
 * Keys and signatures interoperate with openssl, so a release can be signed
 * with either tool and checked with the other.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "platform/lib/util.h"
#include "agent/trust/trust.h"

/* Remove a file that --force replaces; a missing one is fine. */
static int remove_existing(const char *path, struct lp_err *err)
{
	if (unlink(path) < 0 && errno != ENOENT)
		return lp_fail_errno(err, "remove %s", path);
	return 0;
}

static int keygen_failed(const struct lp_err *err)
{
	if (err->code != EEXIST)
		return lp_cmd_fail("keygen", err);
	fprintf(stderr, "limpet keygen: %s (--force replaces it)\n", err->msg);
	return LP_EXIT_FAILURE;
}

static const struct lp_opt keygen_opts[] = {
	{ 'f', 'f', "force", NULL, "replace PREFIX.key and PREFIX.pub if they exist" },
	{ 0 },
};

static int cmd_keygen(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_keygen = {
	.name = "keygen",
	.operands = "PREFIX",
	.summary = "Make a signing key pair: PREFIX.key (private) and PREFIX.pub",
	.opts = keygen_opts,
	.notes = "Sign images with PREFIX.key (limpet image sign, images/build.sh --key);\n"
		 "boards trust PREFIX.pub (--trust, or trusted_keys in limpet.conf).",
	.fn = cmd_keygen,
};

static int cmd_keygen(int argc, char **argv, struct lp_globals *g)
{
	char priv[PATH_MAX], pub[PATH_MAX];
	struct lp_err err = { 0 };
	struct lp_opts p;
	bool force = false;
	int opt, first;

	lp_opts_init(&p, &lp_doc_keygen, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0)
		force = true;
	if (opt == LP_OPT_EXIT)
		return p.status;
	first = p.ind;
	if (first + 1 != argc)
		return lp_usage_error("keygen",
				      "needs exactly one PREFIX (writes PREFIX.key and PREFIX.pub)");
	if (lp_path(priv, sizeof(priv), &err, "%s.key", argv[first]) < 0 ||
	    lp_path(pub, sizeof(pub), &err, "%s.pub", argv[first]) < 0)
		return lp_cmd_fail("keygen", &err);
	if (force && remove_existing(priv, &err) < 0)
		return lp_cmd_fail("keygen", &err);
	if (lp_keygen(priv, pub, &err) < 0)
		return keygen_failed(&err);
	printf("%s\n%s\n", priv, pub);
	return 0;
}

/* SIG as given, else FILE.sig beside the file. */
static int sig_path(char sig[PATH_MAX], const char *given, const char *file, struct lp_err *err)
{
	if (given)
		return lp_path(sig, PATH_MAX, err, "%s", given);
	return lp_path(sig, PATH_MAX, err, "%s.sig", file);
}

static int hash_file(const char *path, unsigned char digest[LP_SHA256_LEN], struct lp_err *err)
{
	cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return lp_fail_errno(err, "open %s", path);
	if (lp_sha256_fd(fd, digest, NULL, err) < 0)
		return lp_prefix(err, "%s", path);
	return 0;
}

static const struct lp_opt sign_opts[] = {
	{ 'o', 'o', "out", "SIG", "where the signature goes (default: FILE.sig)" },
	{ 0 },
};

static int cmd_image_sign(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_image_sign = {
	.name = "image sign",
	.operands = "KEY FILE",
	.summary = "Sign an image archive with a private key (from limpet keygen)",
	.opts = sign_opts,
	.fn = cmd_image_sign,
};

static int cmd_image_sign(int argc, char **argv, struct lp_globals *g)
{
	unsigned char digest[LP_SHA256_LEN];
	struct lp_err err = { 0 };
	struct lp_opts p;
	const char *out = NULL;
	char sig[PATH_MAX];
	int opt, first;

	lp_opts_init(&p, &lp_doc_image_sign, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0)
		out = p.arg;
	if (opt == LP_OPT_EXIT)
		return p.status;
	first = p.ind;
	if (first + 2 != argc)
		return lp_usage_error("image sign", "needs a KEY and a FILE");
	if (sig_path(sig, out, argv[first + 1], &err) < 0)
		return lp_cmd_fail("image sign", &err);
	if (hash_file(argv[first + 1], digest, &err) < 0 ||
	    lp_sign_digest_to_file(argv[first], digest, sig, &err) < 0)
		return lp_cmd_fail("image sign", &err);
	printf("%s\n", sig);
	return 0;
}

static int verify_file(struct lp_trust *t, const char *file, const char *sig_opt,
		       struct lp_err *err)
{
	unsigned char digest[LP_SHA256_LEN];
	const char *signer = NULL;
	char sig[PATH_MAX];

	if (sig_path(sig, sig_opt, file, err) < 0 || hash_file(file, digest, err) < 0)
		return -1;
	if (lp_trust_verify(t, digest, sig, &signer, err) < 0) {
		/* the other failures name their file already */
		if (err->code == EKEYREJECTED)
			lp_prefix(err, "%s", file);
		return -1;
	}
	printf("%s: signed by %s\n", file, signer);
	return 0;
}

static const struct lp_opt verify_opts[] = {
	{ 't', 't', "trust", "PEM", "trust this public key too (repeatable)" },
	{ 0 },
};

static int cmd_image_verify(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_image_verify = {
	.name = "image verify",
	.operands = "FILE [SIG]",
	.summary = "Check a file's signature against the trusted keys, and say whose it is",
	.opts = verify_opts,
	.fn = cmd_image_verify,
};

static int cmd_image_verify(int argc, char **argv, struct lp_globals *g)
{
	cleanup_trust struct lp_trust trust = { 0 };
	struct lp_trust_args given = { 0 };
	struct lp_err err = { 0 };
	struct lp_opts p;
	int opt, first;

	lp_opts_init(&p, &lp_doc_image_verify, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0)
		if (lp_trust_arg(&given, p.arg, &err) < 0)
			return lp_usage_error("image verify", "%s", err.msg);
	if (opt == LP_OPT_EXIT)
		return p.status;
	first = p.ind;
	if (first == argc || argc - first > 2)
		return lp_usage_error("image verify", "needs a FILE, and at most a SIG after it");
	if (lp_host_trust(&g->host, given.pem, given.n, &trust, &err) < 0 ||
	    verify_file(&trust, argv[first], argc - first == 2 ? argv[first + 1] : NULL,
			&err) < 0)
		return lp_cmd_fail("image verify", &err);
	return 0;
}
