// SPDX-License-Identifier: Apache-2.0
/*
 * Each entry of a layer's tar through limpet's rules onto disk (unpack.h
 * says which); unpack.c brings the tar here.
 */
#include "agent/image/unpack_internal.h"

#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "platform/lib/util.h"

#define WHITEOUT ".wh."
#define OPAQUE ".wh..wh..opq"

/* ---------------------------------------------------------------- path rules */

/* Deeper than any real image goes; a depth bomb stops here. */
#define MAX_DEPTH 256

/* Relative, no "..", no whiteout as a directory, not too long or deep. */
static int check_path(const char *what, const char *p, struct lp_err *err)
{
	const char *c = p;
	int depth = 0;

	if (!p || !*p)
		return lp_fail(err, EINVAL, "%s: empty path", what);
	if (strlen(p) >= PATH_MAX)
		return lp_fail(err, ENAMETOOLONG, "%s: path longer than %d bytes", what, PATH_MAX);
	if (p[0] == '/')
		return lp_fail(err, EPERM, "%s %s: absolute path", what, p);
	while (*c) {
		size_t len = strcspn(c, "/");
		bool last = !c[len] || !c[len + strspn(c + len, "/")];

		if (len == 2 && c[0] == '.' && c[1] == '.')
			return lp_fail(err, EPERM, "%s %.200s: '..' escapes the layer", what, p);
		if (len > NAME_MAX)
			return lp_fail(err, ENAMETOOLONG, "%s %.200s: a name longer than %d bytes",
				       what, p, NAME_MAX);
		if (!last && !strncmp(c, WHITEOUT, strlen(WHITEOUT)))
			return lp_fail(err, EINVAL, "%s %.200s: a whiteout used as a directory",
				       what, p);
		if (++depth > MAX_DEPTH)
			return lp_fail(err, ELOOP, "%s %.100s...: deeper than %d levels", what, p,
				       MAX_DEPTH);
		c += len;
		while (*c == '/')
			c++;
	}
	return 0;
}

static const char *base_name(const char *p)
{
	const char *slash = strrchr(p, '/');

	return slash ? slash + 1 : p;
}

/*
 * The directory dir (relative to the cwd: the layer), made where missing,
 * opened without following a symlink anywhere on the way: a layer's own
 * symlink ("x -> /etc") must not carry a whiteout or an opaque mark out of
 * the layer.  Returns an fd, or -1.
 */
static int open_layer_dir(const char *dir, struct lp_err *err)
{
	char buf[PATH_MAX];
	char *name, *next;
	int fd, sub;

	if (lp_path(buf, sizeof(buf), err, "%s", dir) < 0)
		return -1;
	fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return lp_fail_errno(err, "open the layer");
	for (name = buf; name; name = next) {
		next = strchr(name, '/');
		if (next)
			*next++ = '\0';
		if (!*name)
			continue;
		if (mkdirat(fd, name, 0755) < 0 && errno != EEXIST) {
			lp_fail_errno(err, "mkdir %s", name);
			break;
		}
		sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			if (errno == ELOOP || errno == ENOTDIR)
				lp_fail(err, EPERM, "%s is a symlink or not a directory", name);
			else
				lp_fail_errno(err, "open %s", name);
			break;
		}
		close(fd);
		fd = sub;
	}
	if (name) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A ".wh.NAME" entry hides NAME of the lower layers: overlayfs wants a 0:0 char device. */
static int make_whiteout(const char *rel, struct lp_err *err)
{
	const char *name = base_name(rel);
	const char *hidden = name + strlen(WHITEOUT);
	char dir[PATH_MAX];
	cleanup_fd int fd = -1;

	/* ".wh." alone, ".wh..", ".wh..." would white out nothing, the dir, or its parent. */
	if (!*hidden || !strcmp(hidden, ".") || !strcmp(hidden, ".."))
		return lp_fail(err, EINVAL, "whiteout %s names no file", rel);
	snprintf(dir, sizeof(dir), "%.*s", (int)(name - rel), rel);
	fd = open_layer_dir(dir, err);
	if (fd < 0)
		return lp_prefix(err, "whiteout %s", rel);
	if (mknodat(fd, hidden, S_IFCHR | 0000, makedev(0, 0)) < 0 && errno != EEXIST)
		return lp_fail_errno(err, "whiteout %s", rel);
	return 0;
}

/* ".wh..wh..opq": the directory hides everything below it in lower layers. */
static int make_opaque(const char *rel, struct lp_err *err)
{
	char dir[PATH_MAX];
	cleanup_fd int fd = -1;

	snprintf(dir, sizeof(dir), "%.*s", (int)(base_name(rel) - rel), rel);
	fd = open_layer_dir(dir, err);
	if (fd < 0)
		return lp_prefix(err, "opaque %s", rel);
	if (fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
		return lp_fail_errno(err, "mark %s opaque", dir[0] ? dir : ".");
	return 0;
}

/* Layers may not set overlayfs' own xattrs: they would forge whiteouts or redirects. */
static void drop_overlay_xattrs(struct archive_entry *e)
{
	const char *name;
	const void *value;
	size_t size, n, i = 0;
	struct {
		char *name;
		void *value;
		size_t size;
	} keep[32];

	n = (size_t)archive_entry_xattr_reset(e);
	if (!n)
		return;
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK && i < 32) {
		if (!strncmp(name, "trusted.overlay.", 16))
			continue;
		keep[i].name = strdup(name);
		keep[i].value = malloc(size ? size : 1);
		if (!keep[i].name || !keep[i].value) {
			free(keep[i].name);
			free(keep[i].value);
			continue;
		}
		memcpy(keep[i].value, value, size);
		keep[i].size = size;
		i++;
	}
	archive_entry_xattr_clear(e);
	for (n = 0; n < i; n++) {
		archive_entry_xattr_add_entry(e, keep[n].name, keep[n].value, keep[n].size);
		free(keep[n].name);
		free(keep[n].value);
	}
}

/* Decide what to do with one entry; 1: write it, 0: handled here, -1: refuse. */
static int vet_entry(struct archive_entry *e, const struct lp_unpack_limits *lim,
		     struct lp_err *err)
{
	const char *path = archive_entry_pathname(e);
	const char *link = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	int64_t size = archive_entry_size(e);

	if (check_path("entry", path, err) < 0)
		return -1;
	if (link && check_path("hardlink target", link, err) < 0)
		return -1;
	if (!strcmp(base_name(path), OPAQUE))
		return make_opaque(path, err) < 0 ? -1 : 0;
	if (!strncmp(base_name(path), WHITEOUT, strlen(WHITEOUT))) {
		if (type == AE_IFDIR)
			return lp_fail(err, EINVAL, "whiteout %s is a directory", path);
		return make_whiteout(path, err) < 0 ? -1 : 0;
	}
	if (type == AE_IFCHR || type == AE_IFBLK)
		return lp_fail(err, EPERM,
			       "%s: device nodes are not allowed in layers (the runtime makes "
			       "/dev): empty the root's dev/ before packing it (mmdebstrap: "
			       "--skip=output/dev)",
			       path);
	/* A hard link's mode has no type bits when tar, not Go, wrote the layer. */
	if (!link && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFIFO)
		return lp_fail(err, EPERM, "%s: unsupported entry type", path);
	if (size > lim->max_file_size)
		return lp_fail(err, EFBIG, "%s: %lld bytes is over the %lld-byte file limit", path,
			       (long long)size, (long long)lim->max_file_size);
	if (size > 0 && (*lim->budget -= size) < 0)
		return lp_fail(err, EFBIG, "%s: the image is over its size limit", path);
	drop_overlay_xattrs(e);
	return 1;
}

/* ---------------------------------------------------------------- no symlink on the way */

/* path beneath the layer dir, following no symlink at all; the last one is opened itself. */
static int open_beneath(int layer, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};

	return (int)syscall(SYS_openat2, layer, path, &how, sizeof(how));
}

/*
 * What libarchive's ARCHIVE_EXTRACT_SECURE_SYMLINKS ensures, with one
 * openat2 per entry where it stats and opens every component of the path
 * (about 16 system calls for an entry, an eighth of an import's CPU time):
 * nothing is made through a symlink, a hard link's target is not reached
 * through one, and a symlink where the entry goes is removed first, as
 * libarchive does (else a directory entry would chmod and chown the
 * symlink's target).  Only this thread writes in the layer meanwhile.
 */
static int guard_path(int layer, const char *what, const char *path, bool target,
		      struct lp_err *err)
{
	char rel[PATH_MAX];
	size_t len = strlen(path);
	struct stat st;
	int fd;

	/* "dir/" would follow a symlink named dir */
	while (len > 1 && path[len - 1] == '/')
		len--;
	snprintf(rel, sizeof(rel), "%.*s", (int)len, path);
	fd = open_beneath(layer, rel);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* libarchive makes the missing directories */
		if (errno == ELOOP || errno == EXDEV)
			return lp_fail(err, EPERM, "%s %.200s: through a symlink in the layer", what,
				       path);
		return lp_fail_errno(err, "%s %.200s", what, path);
	}
	if (!target && fstat(fd, &st) < 0) {
		close(fd);
		return lp_fail_errno(err, "%s %.200s", what, path);
	}
	close(fd);
	if (!target && S_ISLNK(st.st_mode) && unlinkat(layer, rel, 0) < 0)
		return lp_fail_errno(err, "%s %.200s: remove the symlink there", what, path);
	return 0;
}

static int guard_entry(int layer, struct archive_entry *e, struct lp_err *err)
{
	const char *link = archive_entry_hardlink(e);

	if (guard_path(layer, "entry", archive_entry_pathname(e), false, err) < 0)
		return -1;
	return link ? guard_path(layer, "hardlink target", link, true, err) : 0;
}

/* Whether the kernel has openat2 (5.6): else libarchive's own walk guards the paths. */
static bool kernel_guards(int layer)
{
	int fd = open_beneath(layer, ".");

	if (fd < 0)
		return errno != ENOSYS;
	close(fd);
	return true;
}

static struct archive *open_writer(bool guarded)
{
	struct archive *w = archive_write_disk_new();

	if (!w)
		return NULL;
	/*
	 * libarchive's own guards (as bsdtar -x uses them) on top of ours: no
	 * "..", no absolute names, never follow a symlink while creating a
	 * path (guard_entry does that where the kernel can).
	 */
	archive_write_disk_set_options(
		w, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
			   ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
			   ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
			   (guarded ? 0 : ARCHIVE_EXTRACT_SECURE_SYMLINKS));
	return w;
}

/* libarchive's text, plus the errno behind it when it left that out ("Write failed"). */
static int archive_fail(struct lp_err *err, struct archive *a, const char *what)
{
	const char *text = archive_error_string(a);
	int code = archive_errno(a);

	if (!text)
		text = "failed";
	if (code > 0 && !strstr(text, strerror(code)))
		return lp_fail(err, code, "%.200s: %s: %s", what, text, strerror(code));
	return lp_fail(err, code, "%.200s: %s", what, text);
}

static int copy_data(struct archive *in, struct archive *out, const char *path,
		     struct lp_err *err)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;

	while ((r = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK) {
		if (archive_write_data_block(out, buf, len, off) < ARCHIVE_OK)
			return archive_fail(err, out, path);
	}
	if (r != ARCHIVE_EOF)
		return archive_fail(err, in, path);
	return 0;
}

int lp_unpack_extract(struct archive *tar, int layer, const struct lp_unpack_limits *lim,
		      struct lp_layer_result *res, struct lp_err *err)
{
	bool guarded = kernel_guards(layer);
	struct archive *w = open_writer(guarded);
	struct archive_entry *e;
	int r, rc = 0, vet;

	if (!w)
		return lp_fail(err, ENOMEM, "out of memory");
	while ((r = archive_read_next_header(tar, &e)) == ARCHIVE_OK) {
		vet = vet_entry(e, lim, err);
		if (vet == 1 && guarded && guard_entry(layer, e, err) < 0)
			vet = -1;
		if (vet < 0) {
			rc = -1;
			break;
		}
		if (vet == 0)
			continue;
		if (archive_write_header(w, e) < ARCHIVE_OK) {
			rc = archive_fail(err, w, archive_entry_pathname(e));
			break;
		}
		if (archive_entry_size(e) > 0 &&
		    copy_data(tar, w, archive_entry_pathname(e), err) < 0) {
			rc = -1;
			break;
		}
		if (archive_write_finish_entry(w) < ARCHIVE_OK) {
			rc = archive_fail(err, w, archive_entry_pathname(e));
			break;
		}
		res->files++;
		if (archive_entry_size(e) > 0)
			res->unpacked += (uint64_t)archive_entry_size(e);
	}
	if (rc == 0 && r != ARCHIVE_EOF)
		rc = lp_fail(err, archive_errno(tar), "layer tar: %s", archive_error_string(tar));
	/* Directory times and modes are applied last, as tar -x does. */
	if (archive_write_close(w) < ARCHIVE_OK && rc == 0)
		rc = lp_fail(err, archive_errno(w), "finish layer: %s", archive_error_string(w));
	archive_write_free(w);
	return rc;
}
