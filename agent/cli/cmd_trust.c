// SPDX-License-Identifier: Apache-2.0
/*
 * keygen, image sign, image verify: the operator's side of signed images.
 * Keys and signatures interoperate with openssl, so a release can be signed
 * with either tool and checked with the other.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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

int cmd_keygen(int argc, char **argv, struct lp_globals *g)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	char priv[PATH_MAX], pub[PATH_MAX];
	struct lp_err err = { 0 };
	bool force = false;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+f", opts, NULL)) != -1) {
		if (opt != 'f')
			return lp_usage_error("keygen", "%s: unknown option", argv[optind - 1]);
		force = true;
	}
	if (optind + 1 != argc)
		return lp_usage_error("keygen",
				      "needs exactly one PREFIX (writes PREFIX.key and PREFIX.pub)");
	if (lp_path(priv, sizeof(priv), &err, "%s.key", argv[optind]) < 0 ||
	    lp_path(pub, sizeof(pub), &err, "%s.pub", argv[optind]) < 0)
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

int cmd_image_sign(int argc, char **argv, struct lp_globals *g)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned char digest[LP_SHA256_LEN];
	struct lp_err err = { 0 };
	const char *out = NULL;
	char sig[PATH_MAX];
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+o:", opts, NULL)) != -1) {
		if (opt != 'o')
			return lp_usage_error("image sign", "%s: unknown option or missing value",
					      argv[optind - 1]);
		out = optarg;
	}
	if (optind + 2 != argc)
		return lp_usage_error("image sign", "usage: image sign [--out SIG] KEY FILE");
	if (sig_path(sig, out, argv[optind + 1], &err) < 0)
		return lp_cmd_fail("image sign", &err);
	if (hash_file(argv[optind + 1], digest, &err) < 0 ||
	    lp_sign_digest_to_file(argv[optind], digest, sig, &err) < 0)
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

int cmd_image_verify(int argc, char **argv, struct lp_globals *g)
{
	static const struct option opts[] = {
		{ "trust", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	cleanup_trust struct lp_trust trust = { 0 };
	struct lp_trust_args given = { 0 };
	struct lp_err err = { 0 };
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+t:", opts, NULL)) != -1) {
		if (opt != 't')
			return lp_usage_error("image verify", "%s: unknown option or missing value",
					      argv[optind - 1]);
		if (lp_trust_arg(&given, optarg, &err) < 0)
			return lp_usage_error("image verify", "%s", err.msg);
	}
	if (optind == argc || argc - optind > 2)
		return lp_usage_error("image verify",
				      "usage: image verify [--trust PEM]... FILE [SIG]");
	if (lp_host_trust(&g->host, given.pem, given.n, &trust, &err) < 0 ||
	    verify_file(&trust, argv[optind], argc - optind == 2 ? argv[optind + 1] : NULL,
			&err) < 0)
		return lp_cmd_fail("image verify", &err);
	return 0;
}
