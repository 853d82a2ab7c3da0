/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c, one per parser of
 * untrusted bytes).  A target is a single C file: it includes this header
 * once, and LLVMFuzzerTestOneInput feeds the input to its parser.
 *
 * What a parser must never do is reported with fz_fail(), which aborts: the
 * fuzzer then keeps the input as a crash, like a sanitizer finding.
 */
#ifndef LIMPET_FUZZ_H
#define LIMPET_FUZZ_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/lib/err.h"
#include "platform/lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Inputs that hold several parts (files of an archive, fields) separate them so. */
#define FZ_SEP "\n%%\n"
#define FZ_PARTS_MAX 16

struct fz_part {
	const char *p;
	size_t len;
};

static inline __attribute__((noreturn, format(printf, 1, 2))) void fz_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* The input as a C string (the parsers of text take one); must be freed. */
static inline char *fz_strndup(const void *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		fz_fail("out of memory");
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Split at FZ_SEP into at most max parts; returns how many. */
static inline size_t fz_split(const uint8_t *data, size_t size, struct fz_part *parts,
			      size_t max)
{
	const char *p = (const char *)data, *end = p + size;
	size_t n = 0;

	while (n < max) {
		const char *sep = memmem(p, (size_t)(end - p), FZ_SEP, strlen(FZ_SEP));

		parts[n].p = p;
		parts[n].len = sep && n + 1 < max ? (size_t)(sep - p) : (size_t)(end - p);
		n++;
		if (!sep || n == max)
			break;
		p = sep + strlen(FZ_SEP);
	}
	return n;
}

/*
 * A scratch directory for this process, removed at exit: on tmpfs when
 * there is one, because the code under test fsyncs.  LIMPET_FUZZ_TMP
 * chooses another place.
 */
static inline const char *fz_base_dir(void)
{
	const char *env = getenv("LIMPET_FUZZ_TMP");
	struct stat st;

	if (env && *env)
		return env;
	return stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
}

static char fz_scratch_dir[4096];

static inline void fz_remove_scratch(void)
{
	struct lp_err err;

	if (fz_scratch_dir[0] && lp_remove_tree(fz_scratch_dir, &err) < 0)
		fprintf(stderr, "fuzz: %s\n", err.msg);
}

static inline const char *fz_scratch(void)
{
	if (fz_scratch_dir[0])
		return fz_scratch_dir;
	snprintf(fz_scratch_dir, sizeof(fz_scratch_dir), "%s/limpet-fuzz.XXXXXX", fz_base_dir());
	if (!mkdtemp(fz_scratch_dir))
		fz_fail("mkdtemp %s: %s", fz_scratch_dir, strerror(errno));
	atexit(fz_remove_scratch);
	return fz_scratch_dir;
}

/* Write (replace) a file in the scratch directory; returns its path (static). */
static inline const char *fz_write(const char *name, const void *data, size_t size)
{
	static char path[4096 + 256];
	struct lp_err err;

	snprintf(path, sizeof(path), "%s/%s", fz_scratch(), name);
	if (lp_write_file(path, data, size, &err) < 0)
		fz_fail("%s", err.msg);
	return path;
}

/*
 * A refusal: err.msg must be a terminated string, whatever the parser did.
 * With LIMPET_FUZZ_VERBOSE set it is printed, to see why a seed is refused.
 */
static inline void fz_check_err(const struct lp_err *err)
{
	if (!memchr(err->msg, '\0', sizeof(err->msg)))
		fz_fail("error message not terminated");
	if (getenv("LIMPET_FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz: refused: %s\n", err->msg);
}

#endif
