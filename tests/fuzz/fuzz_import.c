// SPDX-License-Identifier: Apache-2.0
/*
 * Image archives (agent/image/import_select.c): the OCI layout's
 * index.json, nested indexes, manifests and image config, and docker save's
 * manifest.json, with every descriptor checked against what the archive holds.
 *
 * A descriptor names its target by SHA-256, which a fuzzer cannot forge, so
 * the input describes the archive instead and this file writes it: parts
 * separated by FZ_SEP, each a member, its first line the member's path
 * ("PATH", "PATH -> TARGET" for a symlink, "PATH => TARGET" for a hard
 * link), the rest its content.  In the content, @N stands for
 * "sha256:<hex>" of part N's content, $N for the hex alone and #N for its
 * size in bytes, where N is a later part (a digit); L instead of N names a
 * small uncompressed layer that every archive holds as blobs/sha256/$L (its
 * diff_id is @L too).  The path line may refer to its own part as well.
 */
#include "tests/fuzz/fuzz.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>

#include "agent/config/host.h"
#include "agent/config/config.h"
#include "agent/image/import.h"
#include "agent/image/store.h"
#include "agent/trust/trust.h"

#define PARTS 10

struct member {
	char *path, *link;
	bool hard;
	char *data;
	size_t len;
	char hex[LP_SHA256_HEX_LEN + 1];
};

static struct lp_host host;
static struct lp_trust no_keys;
static struct member layer;
static char store[4096 + 16];

static void sha256_hex(const void *data, size_t len, char hex[LP_SHA256_HEX_LEN + 1])
{
	unsigned char d[LP_SHA256_LEN];
	struct lp_sha256 h;
	struct lp_err err = { 0 };

	lp_sha256_init(&h);
	lp_sha256_update(&h, data, len);
	if (lp_sha256_final(&h, d, &err) < 0)
		fz_fail("%s", err.msg);
	lp_sha256_free(&h);
	lp_hex(d, sizeof(d), hex);
}

static void write_member(struct archive *w, const struct member *m)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	if (!e)
		fz_fail("out of memory");
	archive_entry_set_pathname(e, m->path);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, 1700000000, 0);
	if (m->link && m->hard) {
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_hardlink(e, m->link);
	} else if (m->link) {
		archive_entry_set_filetype(e, AE_IFLNK);
		archive_entry_set_symlink(e, m->link);
	} else {
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_size(e, (la_int64_t)m->len);
	}
	r = archive_write_header(w, e);
	archive_entry_free(e);
	if (r == ARCHIVE_FATAL)
		fz_fail("write %s: %s", m->path, archive_error_string(w));
	if (r < ARCHIVE_WARN)
		return; /* a name or link tar cannot hold: the archive goes without it */
	if (!m->link && m->len && archive_write_data(w, m->data, m->len) != (la_ssize_t)m->len)
		fz_fail("write %s: %s", m->path, archive_error_string(w));
}

/* A one-file layer, the same for every input. */
static void make_layer(void)
{
	static char tar[8192];
	struct archive *w = archive_write_new();
	struct member hello = { .path = "hello", .data = "hi\n", .len = 3 };
	size_t used = 0;

	if (!w || archive_write_set_format_ustar(w) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w, 0) != ARCHIVE_OK ||
	    archive_write_open_memory(w, tar, sizeof(tar), &used) != ARCHIVE_OK)
		fz_fail("layer: %s", w ? archive_error_string(w) : "out of memory");
	write_member(w, &hello);
	if (archive_write_close(w) != ARCHIVE_OK)
		fz_fail("layer: %s", archive_error_string(w));
	archive_write_free(w);
	layer.data = tar;
	layer.len = used;
	sha256_hex(tar, used, layer.hex);
	if (asprintf(&layer.path, "blobs/sha256/%s", layer.hex) < 0)
		fz_fail("out of memory");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct lp_err err = { 0 };

	if (lp_config_defaults(&host.cfg, &err) < 0)
		fz_fail("%s", err.msg);
	/* Small caps: a layer the fuzzer makes up must not fill the tmpfs. */
	host.cfg.image_max_file_size = 1 << 20;
	host.cfg.image_max_size = 8 << 20;
	snprintf(host.root, sizeof(host.root), "%s/root", fz_scratch());
	snprintf(host.run_dir, sizeof(host.run_dir), "%s/run", fz_scratch());
	snprintf(store, sizeof(store), "%s/store", host.root);
	lp_trust_init(&no_keys);
	make_layer();
	return 0;
}

/* Append s[0..n) to the growing buffer *out. */
static void put(char **out, size_t *len, const char *s, size_t n)
{
	char *grown = realloc(*out, *len + n + 1);

	if (!grown)
		fz_fail("out of memory");
	memcpy(grown + *len, s, n);
	*len += n;
	grown[*len] = '\0';
	*out = grown;
}

/* text with @N, $N and #N replaced; parts N >= first are final already. */
static char *expand(const char *text, size_t n, const struct member *m, size_t count,
		    size_t first, size_t *out_len)
{
	char *out = NULL, num[32];
	size_t len = 0, i;

	put(&out, &len, "", 0);
	for (i = 0; i < n; i++) {
		const struct member *ref = NULL;
		char c = i + 1 < n ? text[i + 1] : '\0';

		if (strchr("@$#", text[i]) && c == 'L')
			ref = &layer;
		else if (strchr("@$#", text[i]) && c >= '0' && c <= '9' &&
			 (size_t)(c - '0') >= first && (size_t)(c - '0') < count)
			ref = &m[c - '0'];
		if (!ref) {
			put(&out, &len, text + i, 1);
			continue;
		}
		if (text[i] == '@')
			put(&out, &len, "sha256:", strlen("sha256:"));
		if (text[i] == '#') {
			snprintf(num, sizeof(num), "%zu", ref->len);
			put(&out, &len, num, strlen(num));
		} else {
			put(&out, &len, ref->hex, LP_SHA256_HEX_LEN);
		}
		i++;
	}
	*out_len = len;
	return out;
}

static void parse_member(struct member *m, size_t index, const struct fz_part *part,
			 struct member *all, size_t count)
{
	const char *nl = memchr(part->p, '\n', part->len);
	size_t head_len = nl ? (size_t)(nl - part->p) : part->len, len;
	char *head, *arrow;

	/* Content first: the path line may name this part's own digest. */
	m->data = nl ? expand(nl + 1, part->len - head_len - 1, all, count, index + 1, &m->len) :
		       expand("", 0, all, count, index + 1, &m->len);
	sha256_hex(m->data, m->len, m->hex);
	head = expand(part->p, head_len, all, count, index, &len);
	if (strlen(head) != len) /* a NUL in the path: no tar can hold it */
		head[strlen(head)] = '_';
	arrow = strstr(head, " -> ");
	if (!arrow && (arrow = strstr(head, " => ")))
		m->hard = true;
	if (arrow) {
		*arrow = '\0';
		m->link = strdup(arrow + 4);
		if (!m->link)
			fz_fail("out of memory");
	}
	m->path = head;
}

static void write_archive(const char *path, struct member *m, size_t count)
{
	struct archive *w = archive_write_new();
	size_t i;

	if (!w || archive_write_set_format_pax_restricted(w) != ARCHIVE_OK ||
	    archive_write_open_filename(w, path) != ARCHIVE_OK)
		fz_fail("%s: %s", path, w ? archive_error_string(w) : "out of memory");
	write_member(w, &layer);
	for (i = 0; i < count; i++)
		if (m[i].path[0])
			write_member(w, &m[i]);
	if (archive_write_close(w) != ARCHIVE_OK)
		fz_fail("%s: %s", path, archive_error_string(w));
	archive_write_free(w);
}

static void check_imported(const char *name)
{
	struct lp_err err = { 0 };
	cleanup_free char *lowerdir = NULL;
	json_t *rec = NULL;

	if (lp_image_name_valid(name, &err) < 0)
		fz_fail("imported as '%s': %s", name, err.msg);
	if (lp_store_load_image(&host, name, &rec, &err) < 0)
		fz_fail("imported as '%s', which does not load: %s", name, err.msg);
	if (lp_store_lowerdir(&host, rec, &lowerdir, &err) < 0)
		fz_fail("imported as '%s' without its layers: %s", name, err.msg);
	json_decref(rec);
	if (getenv("LIMPET_FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz: imported as %s\n", name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_part parts[PARTS];
	struct member m[PARTS];
	struct lp_import_opts o = { 0 };
	unsigned char digest[LP_SHA256_LEN];
	char path[4096 + 16];
	struct lp_err err = { 0 };
	char *name = NULL;
	size_t count = fz_split(data, size, parts, PARTS), i;
	int fd;

	memset(m, 0, sizeof(m));
	for (i = count; i-- > 0;)
		parse_member(&m[i], i, &parts[i], m, count);
	snprintf(path, sizeof(path), "%s/image.tar", fz_scratch());
	write_archive(path, m, count);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || lp_sha256_fd(fd, digest, NULL, &err) < 0)
		fz_fail("%s: %s", path, fd < 0 ? strerror(errno) : err.msg);
	close(fd);
	/* Pinned as a signed deployment pins it: no signature file, no note about one. */
	o.file = path;
	o.name = NULL;
	o.platform = "linux/amd64";
	o.trust = &no_keys;
	o.pinned_sha256 = digest;
	if (lp_image_import(&host, &o, &name, &err) == 0) {
		check_imported(name);
		free(name);
	} else {
		fz_check_err(&err);
	}
	if (lp_remove_tree(store, &err) < 0)
		fz_fail("%s", err.msg);
	for (i = 0; i < count; i++) {
		free(m[i].path);
		free(m[i].link);
		free(m[i].data);
	}
	return 0;
}
