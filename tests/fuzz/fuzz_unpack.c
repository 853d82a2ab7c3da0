// SPDX-License-Identifier: Apache-2.0
/*
 * Image layers through limpet's own extraction rules (agent/image/unpack.c): the
 * input is a layer blob (tar, or gzip or zstd of one), handed over the way
 * an import does, as a member of an outer archive, then the way a registry
 * pull does, as a file; both must come to the same result.  It is extracted
 * into SANDBOX/a/layer, and after every input nothing outside that
 * directory may have changed: the sandbox holds a canary tree next to it,
 * and a symlink in a layer can name the canary by its absolute path, so the
 * sandbox lives at a fixed place, /dev/shm/limpet-fuzz-unpack
 * (LIMPET_FUZZ_TMP moves it).
 */
#include "tests/fuzz/fuzz.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/xattr.h>

#include "agent/trust/hasher.h"
#include "agent/trust/trust.h"
#include "agent/image/unpack.h"

#define PEEK 1024

static char sandbox[4096], layer[4096 + 16];
static struct lp_hasher *hasher;
static char *before;

struct text {
	char *s;
	size_t len, cap;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			fz_fail("vsnprintf");
		if (t->s && t->len + (size_t)n < t->cap) {
			t->len += (size_t)n;
			return;
		}
		t->cap = 2 * (t->cap + (size_t)n + 64);
		t->s = realloc(t->s, t->cap);
		if (!t->s)
			fz_fail("out of memory");
	}
}

/* Everything about a tree that a write through an escaping path could change. */
static void describe(struct text *t, const char *path, const char *rel)
{
	char names[4096], content[64];
	struct stat st;
	ssize_t n;

	if (lstat(path, &st) < 0) {
		add(t, "%s: %s\n", rel, strerror(errno));
		return;
	}
	add(t, "%s: mode %o uid %u gid %u rdev %lx", rel, st.st_mode, st.st_uid, st.st_gid,
	    (unsigned long)st.st_rdev);
	/* A hard link made to a file outside shows in its count (a directory's counts subdirs). */
	if (!S_ISDIR(st.st_mode))
		add(t, " links %lu", (unsigned long)st.st_nlink);
	n = llistxattr(path, names, sizeof(names));
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1)
		add(t, " xattr %s", names + i);
	if (S_ISREG(st.st_mode)) {
		cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

		n = fd < 0 ? -1 : read(fd, content, sizeof(content) - 1);
		content[n > 0 ? n : 0] = '\0';
		add(t, " size %lld mtime %lld '%s'", (long long)st.st_size,
		    (long long)st.st_mtime, content);
	}
	add(t, "\n");
	if (S_ISDIR(st.st_mode) && strcmp(path, layer)) {
		struct dirent **list;
		int i, count = scandir(path, &list, NULL, alphasort);

		for (i = 0; i < count; i++) {
			char sub[8192], subrel[8192];

			if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, "..")) {
				snprintf(sub, sizeof(sub), "%s/%s", path, list[i]->d_name);
				snprintf(subrel, sizeof(subrel), "%s/%s", rel, list[i]->d_name);
				describe(t, sub, subrel);
			}
			free(list[i]);
		}
		free(list);
	}
}

static char *sandbox_state(void)
{
	struct text t = { 0 };

	describe(&t, sandbox, ".");
	return t.s;
}

static void make(const char *rel, const char *content)
{
	char path[8192];
	struct lp_err err = { 0 };

	snprintf(path, sizeof(path), "%s/%s", sandbox, rel);
	if (!content ? mkdir(path, 0755) < 0 :
		       lp_write_file(path, content, strlen(content), &err) < 0)
		fz_fail("make %s: %s", path, content ? err.msg : strerror(errno));
}

static void fresh_layer(void)
{
	struct lp_err err = { 0 };

	if (lp_remove_tree(layer, &err) < 0 || mkdir(layer, 0755) < 0)
		fz_fail("empty %s: %s", layer, err.msg[0] ? err.msg : strerror(errno));
}

static void remove_sandbox(void)
{
	struct lp_err err = { 0 };

	if (lp_remove_tree(sandbox, &err) < 0)
		fprintf(stderr, "fuzz: %s\n", err.msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct lp_err err = { 0 };
	char lock[4096 + 8];
	int fd;

	snprintf(sandbox, sizeof(sandbox), "%s/limpet-fuzz-unpack", fz_base_dir());
	snprintf(lock, sizeof(lock), "%s.lock", sandbox);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
		fz_fail("%s: another fuzz_unpack is running (%s)", lock, strerror(errno));
	/* fd stays open: the lock is held until the process exits */
	if (lp_remove_tree(sandbox, &err) < 0 || mkdir(sandbox, 0700) < 0)
		fz_fail("make %s: %s", sandbox, err.msg[0] ? err.msg : strerror(errno));
	make("canary", NULL);
	make("canary/file", "canary\n");
	make("canary/dir", NULL);
	make("a", NULL);
	make("a/layer", NULL);
	snprintf(layer, sizeof(layer), "%s/a/layer", sandbox);
	before = sandbox_state();
	atexit(remove_sandbox);
	if (lp_hasher_start(&hasher, &err) < 0)
		fz_fail("%s", err.msg);
	return 0;
}

/* The import's view of a layer: the current member of an outer tar. */
static struct archive *outer_archive(const uint8_t *data, size_t size, void **mem)
{
	size_t cap = size + 8192, used = 0;
	struct archive *w = archive_write_new(), *r = archive_read_new();
	struct archive_entry *e = archive_entry_new();

	*mem = malloc(cap);
	if (!w || !r || !e || !*mem)
		fz_fail("out of memory");
	archive_entry_set_pathname(e, "blobs/sha256/layer");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	if (archive_write_set_format_ustar(w) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w, 0) != ARCHIVE_OK ||
	    archive_write_open_memory(w, *mem, cap, &used) != ARCHIVE_OK ||
	    archive_write_header(w, e) != ARCHIVE_OK ||
	    (size && archive_write_data(w, data, size) != (la_ssize_t)size) ||
	    archive_write_close(w) != ARCHIVE_OK)
		fz_fail("outer tar: %s", archive_error_string(w));
	archive_write_free(w);
	archive_entry_free(e);
	archive_read_support_format_tar(r);
	if (archive_read_open_memory(r, *mem, used) != ARCHIVE_OK ||
	    archive_read_next_header(r, &e) != ARCHIVE_OK)
		fz_fail("outer tar: %s", archive_error_string(r));
	return r;
}

static bool compressed(const uint8_t *p, size_t n)
{
	return (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) ||
	       (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd);
}

/* The same bytes as a pull hands them over: a file, its blob digest already checked. */
static int unpack_file(const uint8_t *data, size_t size, const struct lp_unpack_limits *lim,
		       struct lp_layer_result *res, struct lp_err *err)
{
	cleanup_fd int fd = memfd_create("layer", MFD_CLOEXEC);
	size_t done = 0;
	ssize_t n;

	if (fd < 0)
		fz_fail("memfd_create: %s", strerror(errno));
	for (; done < size; done += (size_t)n)
		if ((n = write(fd, data + done, size - done)) <= 0)
			fz_fail("write the layer file: %s", strerror(errno));
	if (lseek(fd, 0, SEEK_SET) < 0)
		fz_fail("lseek: %s", strerror(errno));
	return lp_unpack_layer_fd(fd, size, layer, lim, hasher, false, res, err);
}

/* Nothing outside the layer changed, and the layer is emptied for the next run. */
static void check_sandbox(void)
{
	cleanup_free char *after = sandbox_state();

	if (strcmp(before, after))
		fz_fail("the layer changed something outside its directory:\n"
			"before:\n%s\nafter:\n%s", before, after);
	fresh_layer();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t budget = 4 << 20, file_budget = 4 << 20;
	struct lp_unpack_limits lim = { 1 << 20, &budget }, file_lim = { 1 << 20, &file_budget };
	struct lp_layer_result res, file_res;
	struct lp_err err = { 0 }, file_err = { 0 };
	unsigned char want[LP_SHA256_LEN];
	struct lp_sha256 h;
	cleanup_free void *mem = NULL;
	struct archive *outer = outer_archive(data, size, &mem);
	char peek[PEEK];
	la_ssize_t n;
	size_t got = 0;
	int rc, file_rc;

	while (got < sizeof(peek) &&
	       (n = archive_read_data(outer, peek + got, sizeof(peek) - got)) > 0)
		got += (size_t)n;
	rc = lp_unpack_layer(outer, peek, got, layer, &lim, hasher, &res, &err);
	archive_read_free(outer);
	if (rc < 0)
		fz_check_err(&err);
	check_sandbox();
	if (rc == 0) {
		lp_sha256_init(&h);
		lp_sha256_update(&h, data, size);
		if (lp_sha256_final(&h, want, &err) < 0)
			fz_fail("%s", err.msg);
		lp_sha256_free(&h);
		if (res.blob_size != size || memcmp(res.blob_digest, want, sizeof(want)))
			fz_fail("blob digest or size is not that of the %zu bytes read", size);
		if (!compressed(data, size) && memcmp(res.diff_id, want, sizeof(want)))
			fz_fail("an uncompressed layer's diff_id is not its digest");
	}
	file_rc = unpack_file(data, size, &file_lim, &file_res, &file_err);
	if (file_rc < 0)
		fz_check_err(&file_err);
	check_sandbox();
	if (file_rc != rc)
		fz_fail("from an archive: %s; from a file: %s", rc ? err.msg : "taken",
			file_rc ? file_err.msg : "taken");
	if (rc == 0 && (memcmp(res.diff_id, file_res.diff_id, sizeof(res.diff_id)) ||
			res.files != file_res.files || res.unpacked != file_res.unpacked ||
			file_res.blob_size != size))
		fz_fail("a file and an archive member with the same bytes unpack differently");
	return 0;
}
