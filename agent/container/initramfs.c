// SPDX-License-Identifier: Apache-2.0
/*
 * A microVM's initramfs: the image's layers flattened into one cpio "newc"
 * archive, with limpet as the guest's init.
 *
 * The walk merges directories the way overlayfs' lookup does, so that a
 * container sees the same tree in a VM as under namespaces: the topmost
 * layer that has a name decides what it is; a whiteout (0:0 char device)
 * hides it; a non-directory hides lower directories of the same path
 * wholesale; an opaque directory hides everything below it.  Each directory
 * is read once per layer it is merged from, names sorted, so the same
 * layers always give the same archive, parents before their children (the
 * kernel's unpacker creates each entry in a directory that must exist).
 *
 * What newc cannot carry stays behind: xattrs (file capabilities such as
 * ping's cap_net_raw are lost, and the kernel's unpacker would ignore them
 * anyway) and hard links, which become separate copies: every entry gets
 * an inode number of its own and nlink 1, so the unpacker never links two.
 */
#include "agent/container/initramfs.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "platform/kvm/guest/guest_abi.h"
#include "platform/lib/util.h"

/* File data moves through one buffer of this size, whatever the file's size. */
#define CHUNK (64 * 1024)
#define OPAQUE_XATTR "trusted.overlay.opaque"
/* As agent/image/unpack.c allows in a layer: a deeper tree is an attack, not an image. */
#define MAX_DEPTH 256

struct layer {
	const char *dir;	/* as given, for messages */
	int fd;			/* the layer's root directory */
};

struct builder {
	struct archive *ar;
	const char *out;	/* the file being written, for messages */
	char *lowerdir;		/* our copy, split in place: the layers' dir point into it */
	struct layer *layers;
	size_t n_layers;
	char rel[PATH_MAX];	/* the entry at hand, relative to the root ("" is the root) */
	unsigned int depth;
	char *buf;		/* CHUNK bytes of file data */
	la_int64_t next_ino;
	struct lp_err *err;
};

struct names {
	char **v;
	size_t n, cap;
};

/* ---------------------------------------------------------------- errors */

static int layer_fail(struct builder *b, const struct layer *l)
{
	return lp_fail_errno(b->err, "read layer %s%s%s", l->dir, *b->rel ? "/" : "", b->rel);
}

static int archive_fail(struct builder *b, const char *entry)
{
	const char *why = archive_error_string(b->ar);
	int code = archive_errno(b->ar);

	return lp_fail(b->err, code > 0 ? code : EIO, "write %s (entry %s): %s", b->out, entry,
		       why ? why : "unknown libarchive error");
}

/* ---------------------------------------------------------------- writing entries */

/* One header; type, permissions, owner and times come from st. */
static int write_header(struct builder *b, const char *name, const struct stat *st,
			const char *target)
{
	struct archive_entry *e = archive_entry_new();
	int rc;

	if (!e)
		return lp_fail(b->err, ENOMEM, "write %s: out of memory", b->out);
	archive_entry_set_pathname(e, name);
	archive_entry_set_mode(e, st->st_mode);
	archive_entry_set_uid(e, st->st_uid);
	archive_entry_set_gid(e, st->st_gid);
	archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	archive_entry_set_ino64(e, b->next_ino++);
	archive_entry_set_nlink(e, S_ISDIR(st->st_mode) ? 2 : 1);
	/* libarchive sizes a symlink's data (its target) itself. */
	archive_entry_set_size(e, S_ISREG(st->st_mode) ? st->st_size : 0);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		archive_entry_set_rdevmajor(e, major(st->st_rdev));
		archive_entry_set_rdevminor(e, minor(st->st_rdev));
	}
	if (target)
		archive_entry_set_symlink(e, target);
	rc = archive_write_header(b->ar, e);
	archive_entry_free(e);
	return rc == ARCHIVE_OK ? 0 : archive_fail(b, name);
}

/*
 * Stream size bytes of fd into the entry just started.  The header already
 * promised that size: a file that grows or shrinks meanwhile is an error
 * rather than a silently cut or zero-padded file in the guest.
 */
static int copy_data(struct builder *b, int fd, off_t size, const char *src, const char *entry)
{
	off_t done = 0;
	ssize_t n;

	for (;;) {
		n = read(fd, b->buf, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return lp_fail_errno(b->err, "read %s", src);
		if (n == 0)
			break;
		if (n > size - done)
			return lp_fail(b->err, EIO, "read %s: it grew while being read", src);
		if (archive_write_data(b->ar, b->buf, (size_t)n) != n)
			return archive_fail(b, entry);
		done += n;
	}
	if (done != size)
		return lp_fail(b->err, EIO, "read %s: it shrank while being read", src);
	return 0;
}

static int write_file(struct builder *b, const struct layer *l)
{
	char src[LP_ERR_MAX];
	cleanup_fd int fd = -1;
	struct stat st;

	snprintf(src, sizeof(src), "layer %.240s/%.240s", l->dir, b->rel);
	/* O_NONBLOCK: should it have been swapped for a FIFO, do not hang on it. */
	fd = openat(l->fd, b->rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return layer_fail(b, l);
	if (!S_ISREG(st.st_mode))
		return lp_fail(b->err, EIO, "read %s: replaced while being read", src);
	if (write_header(b, b->rel, &st, NULL) < 0)
		return -1;
	return copy_data(b, fd, st.st_size, src, b->rel);
}

static int write_symlink(struct builder *b, const struct layer *l, const struct stat *st)
{
	/* st_size is the target's length, except on file systems that report 0. */
	size_t cap = st->st_size > 0 ? (size_t)st->st_size : PATH_MAX;
	cleanup_free char *target = malloc(cap + 1);
	ssize_t n;

	if (!target)
		return lp_fail(b->err, ENOMEM, "read layer %s/%s: out of memory", l->dir, b->rel);
	n = readlinkat(l->fd, b->rel, target, cap + 1);
	if (n < 0)
		return layer_fail(b, l);
	if ((size_t)n > cap)
		return lp_fail(b->err, EIO, "read layer %s/%s: the link changed while being read",
			       l->dir, b->rel);
	target[n] = '\0';
	return write_header(b, b->rel, st, target);
}

/* Anything but a directory, found topmost in layer l. */
static int write_node(struct builder *b, const struct layer *l, const struct stat *st)
{
	if (S_ISREG(st->st_mode))
		return write_file(b, l);
	if (S_ISLNK(st->st_mode))
		return write_symlink(b, l, st);
	/* Device nodes, FIFOs and sockets: the header is all there is of them. */
	return write_header(b, b->rel, st, NULL);
}

/* ---------------------------------------------------------------- merging layers */

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* b->rel in layer l: 1 found (st filled), 0 absent, -1 error. */
static int lookup(struct builder *b, const struct layer *l, struct stat *st)
{
	if (!fstatat(l->fd, b->rel, st, AT_SYMLINK_NOFOLLOW))
		return 1;
	if (errno == ENOENT)
		return 0;
	return layer_fail(b, l);
}

/* Overlayfs' test, value exactly "y": 1 opaque, 0 not, -1 error. */
static int is_opaque(struct builder *b, const struct layer *l)
{
	cleanup_fd int fd = -1;
	char value[2];
	ssize_t n;

	fd = openat(l->fd, b->rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return layer_fail(b, l);
	n = fgetxattr(fd, OPAQUE_XATTR, value, sizeof(value));
	if (n < 0 && (errno == ENODATA || errno == ENOTSUP || errno == ERANGE))
		return 0;
	if (n < 0)
		return layer_fail(b, l);
	return n == 1 && value[0] == 'y';
}

static int add_name(struct names *names, const char *name)
{
	char **v;

	if (names->n == names->cap) {
		names->cap = names->cap ? 2 * names->cap : 64;
		v = realloc(names->v, names->cap * sizeof(*v));
		if (!v)
			return -1;
		names->v = v;
	}
	names->v[names->n] = strdup(name);
	if (!names->v[names->n])
		return -1;
	names->n++;
	return 0;
}

static void free_names(struct names *names)
{
	for (size_t i = 0; i < names->n; i++)
		free(names->v[i]);
	free(names->v);
}

/* Add the names in directory b->rel of layer l. */
static int read_names(struct builder *b, const struct layer *l, struct names *names)
{
	struct dirent *de;
	int fd, saved;
	DIR *d;

	fd = openat(l->fd, *b->rel ? b->rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return layer_fail(b, l);
	d = fdopendir(fd);
	if (!d) {
		saved = errno;
		close(fd);
		errno = saved;
		return layer_fail(b, l);
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (add_name(names, de->d_name) < 0) {
			errno = ENOMEM;
			break;
		}
	}
	saved = errno;
	closedir(d);
	errno = saved;
	return saved ? layer_fail(b, l) : 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, each name once: several layers may list it. */
static void sort_unique(struct names *names)
{
	size_t i, kept = 0;

	if (!names->n)
		return;
	qsort(names->v, names->n, sizeof(*names->v), cmp_names);
	for (i = 1; i < names->n; i++) {
		if (!strcmp(names->v[i], names->v[kept]))
			free(names->v[i]);
		else
			names->v[++kept] = names->v[i];
	}
	names->n = kept + 1;
}

/* b->rel = b->rel[0..len) + "/" + name. */
static int set_rel(struct builder *b, size_t len, const char *name)
{
	size_t room = sizeof(b->rel) - len;
	int n = snprintf(b->rel + len, room, "%s%s", len ? "/" : "", name);

	if (n < 0 || (size_t)n >= room) {
		b->rel[len] = '\0';
		return lp_fail(b->err, ENAMETOOLONG, "read layers: %s/%.100s...: path too long",
			       b->rel, name);
	}
	return 0;
}

static int write_merged(struct builder *b, const size_t *idx, size_t n);

/* Write the children of the merged directory b->rel, made of layers idx[0..n), top first. */
static int walk_dir(struct builder *b, const size_t *idx, size_t n)
{
	size_t len = strlen(b->rel), i;
	struct names names = { 0 };
	int rc = 0;

	if (++b->depth > MAX_DEPTH) {
		rc = lp_fail(b->err, ELOOP, "read layers: %.100s...: deeper than %d levels", b->rel,
			     MAX_DEPTH);
		goto out;
	}
	for (i = 0; i < n && !rc; i++)
		rc = read_names(b, &b->layers[idx[i]], &names);
	sort_unique(&names);
	for (i = 0; i < names.n && !rc; i++) {
		/* Ours replaces whatever the image has there. */
		if (!len && !strcmp(names.v[i], LP_GUEST_DIR + 1))
			continue;
		rc = set_rel(b, len, names.v[i]);
		if (!rc)
			rc = write_merged(b, idx, n);
	}
	b->rel[len] = '\0';
out:
	b->depth--;
	free_names(&names);
	return rc;
}

/*
 * Write b->rel, a name listed in some of the parent's layers idx[0..n).
 * Overlayfs' lookup: the topmost layer that has it decides what it is; a
 * directory there merges with the directories below it down to the first
 * opaque one, or the first layer with a non-directory (a whiteout too) there.
 */
static int write_merged(struct builder *b, const size_t *idx, size_t n)
{
	cleanup_free size_t *sub = NULL;
	struct stat top, st;
	size_t i, n_sub = 0;
	int found = 0, opaque;

	for (i = 0; i < n && !found; i++)
		found = lookup(b, &b->layers[idx[i]], &top);
	if (found < 0)
		return -1;
	if (!found)
		return lp_fail(b->err, ENOENT, "read layers: %s vanished while being read", b->rel);
	i--;
	if (is_whiteout(&top))
		return 0;
	if (!S_ISDIR(top.st_mode))
		return write_node(b, &b->layers[idx[i]], &top);
	sub = malloc((n - i) * sizeof(*sub));
	if (!sub)
		return lp_fail(b->err, ENOMEM, "read layers: %s: out of memory", b->rel);
	for (; i < n; i++) {
		if (n_sub) {
			found = lookup(b, &b->layers[idx[i]], &st);
			if (found < 0)
				return -1;
			if (!found)
				continue;
			if (!S_ISDIR(st.st_mode))
				break;
		}
		sub[n_sub++] = idx[i];
		opaque = is_opaque(b, &b->layers[idx[i]]);
		if (opaque < 0)
			return -1;
		if (opaque)
			break;
	}
	if (write_header(b, b->rel, &top, NULL) < 0)
		return -1;
	return walk_dir(b, sub, n_sub);
}

/* ---------------------------------------------------------------- limpet's own files */

static int write_guest_init(struct builder *b, const char *init_bin)
{
	const char *name = LP_GUEST_INIT + 1;
	cleanup_fd int fd = -1;
	char src[LP_ERR_MAX];
	struct stat st, entry = { .st_mode = S_IFREG | 0755 };

	snprintf(src, sizeof(src), "init %.480s", init_bin);
	fd = open(init_bin, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return lp_fail_errno(b->err, "read %s", src);
	if (!S_ISREG(st.st_mode))
		return lp_fail(b->err, EINVAL, "read %s: not a regular file", src);
	entry.st_size = st.st_size;
	entry.st_mtim = st.st_mtim;
	if (write_header(b, name, &entry, NULL) < 0)
		return -1;
	return copy_data(b, fd, st.st_size, src, name);
}

/* LP_GUEST_DIR with the init and the spec: root's alone, like the init itself. */
static int write_guest_files(struct builder *b, const char *init_bin, const char *spec_json)
{
	struct stat dir = { .st_mode = S_IFDIR | 0700 };
	struct stat spec = { .st_mode = S_IFREG | 0600 };
	size_t len = strlen(spec_json);
	const char *name = LP_GUEST_SPEC + 1;

	if (write_header(b, LP_GUEST_DIR + 1, &dir, NULL) < 0 || write_guest_init(b, init_bin) < 0)
		return -1;
	spec.st_size = (off_t)len;
	if (write_header(b, name, &spec, NULL) < 0)
		return -1;
	if (archive_write_data(b->ar, spec_json, len) != (la_ssize_t)len)
		return archive_fail(b, name);
	return 0;
}

/*
 * The root directory first: its mode would otherwise be that of the
 * kernel's rootfs (1777 on tmpfs).  Overlayfs always merges the root of
 * every layer, opaque or not, and so do we.
 */
static int write_tree(struct builder *b, const char *init_bin, const char *spec_json)
{
	cleanup_free size_t *all = NULL;
	struct stat st;

	if (fstat(b->layers[0].fd, &st) < 0)
		return layer_fail(b, &b->layers[0]);
	if (write_header(b, ".", &st, NULL) < 0)
		return -1;
	if (write_guest_files(b, init_bin, spec_json) < 0)
		return -1;
	all = malloc(b->n_layers * sizeof(*all));
	if (!all)
		return lp_fail(b->err, ENOMEM, "read layers: out of memory");
	for (size_t i = 0; i < b->n_layers; i++)
		all[i] = i;
	return walk_dir(b, all, b->n_layers);
}

/* ---------------------------------------------------------------- setup */

static int open_layers(struct builder *b, const char *lowerdir)
{
	size_t n = 1;
	char *tok, *end;

	b->lowerdir = strdup(lowerdir);
	if (!b->lowerdir)
		return lp_fail(b->err, ENOMEM, "lowerdir: out of memory");
	for (const char *c = lowerdir; *c; c++)
		n += *c == ':';
	b->layers = calloc(n, sizeof(*b->layers));
	if (!b->layers)
		return lp_fail(b->err, ENOMEM, "lowerdir: out of memory");
	for (tok = b->lowerdir; tok; tok = end) {
		end = strchr(tok, ':');
		if (end)
			*end++ = '\0';
		if (!*tok)
			return lp_fail(b->err, EINVAL, "lowerdir '%s': an empty layer", lowerdir);
		b->layers[b->n_layers].dir = tok;
		b->layers[b->n_layers].fd = open(tok, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (b->layers[b->n_layers].fd < 0)
			return lp_fail_errno(b->err, "open layer %s", tok);
		b->n_layers++;
	}
	return 0;
}

static int start_archive(struct builder *b, int fd)
{
	b->ar = archive_write_new();
	if (!b->ar)
		return lp_fail(b->err, ENOMEM, "write %s: out of memory", b->out);
	/* Uncompressed: the guest kernel then needs no decompressor, and starts sooner. */
	if (archive_write_set_format_cpio_newc(b->ar) != ARCHIVE_OK ||
	    archive_write_add_filter_none(b->ar) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(b->ar, CHUNK) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(b->ar, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(b->ar, fd) != ARCHIVE_OK)
		return archive_fail(b, "(start)");
	return 0;
}

static void free_builder(struct builder *b)
{
	if (b->ar)
		archive_write_free(b->ar);
	for (size_t i = 0; i < b->n_layers; i++)
		close(b->layers[i].fd);
	free(b->layers);
	free(b->lowerdir);
	free(b->buf);
}

/*
 * Not fsync'd: the file is made afresh for each start of a VM, and nothing
 * reads one left over from before a crash.
 */
int lp_initramfs_write(const char *lowerdir, const char *init_bin, const char *spec_json,
		       const char *out_path, struct lp_err *err)
{
	struct builder b = { .err = err, .next_ino = 1 };
	char tmp[PATH_MAX];
	cleanup_fd int fd = -1;
	bool created = false;
	int rc = -1;

	if (lp_path(tmp, sizeof(tmp), err, "%s.tmp", out_path) < 0)
		return lp_prefix(err, "initramfs");
	b.out = tmp;
	if (open_layers(&b, lowerdir) < 0)
		goto out;
	b.buf = malloc(CHUNK);
	if (!b.buf) {
		lp_fail(err, ENOMEM, "out of memory");
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
	if (fd < 0) {
		lp_fail_errno(err, "create %s", tmp);
		goto out;
	}
	created = true;
	if (start_archive(&b, fd) < 0 || write_tree(&b, init_bin, spec_json) < 0)
		goto out;
	if (archive_write_close(b.ar) != ARCHIVE_OK) {
		archive_fail(&b, "TRAILER!!!");
		goto out;
	}
	if (close(steal_fd(&fd)) < 0) {
		lp_fail_errno(err, "write %s", tmp);
		goto out;
	}
	if (rename(tmp, out_path) < 0) {
		lp_fail_errno(err, "rename %s to %s", tmp, out_path);
		goto out;
	}
	rc = 0;
out:
	free_builder(&b);
	if (rc < 0) {
		if (created)
			unlink(tmp);
		lp_prefix(err, "initramfs");
	}
	return rc;
}
