// SPDX-License-Identifier: Apache-2.0
/*
 * lp_fetch_file: a download into dest.partial, locked while it runs, resumed
 * with Range, cut off at the pinned size, hashed as it arrives, and renamed
 * to dest only when complete and matching its pins.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/fetch/fetch_internal.h"
#include "platform/lib/util.h"
#include "agent/trust/trust.h"

#define PROGRESS_EVERY_MS 250
#define WRITEBACK_EVERY (8 << 20)

struct download {
	int fd;
	bool locked;		/* the partial file is ours to change or remove */
	const char *partial;
	int64_t size;		/* bytes in the partial file */
	bool inherited;		/* its first bytes are an earlier call's */
	int64_t pinned;		/* -1: unknown */
	int64_t expected;	/* the whole file's size as the server announced it; -1: unknown */
	/*
	 * SHA-256 of the file's first `hashed` bytes, kept up to date as bytes
	 * arrive, so a finished download needs no second read.  A partial file
	 * from an earlier call is caught up on (read once) before appending.
	 */
	struct lp_sha256 hash;
	int64_t hashed;
	int64_t written_back;	/* bytes handed to the disk already; -1: the file system cannot */
	/* progress bar */
	bool bar;
	char name[48];
	int64_t started_ms, last_drawn_ms, size_at_start;
};

static void human_size(int64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	double v = (double)bytes;
	int u = -1;

	while (v >= 1024.0 && u < 3) {
		v /= 1024.0;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%lldB", (long long)bytes);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
}

static void draw_bar(struct xfer *x, struct download *d, bool final)
{
	int64_t now = lp_now_ms(), elapsed = now - d->started_ms;
	char have[16], total[16] = "?", rate[16];

	if (!final && now - d->last_drawn_ms < PROGRESS_EVERY_MS)
		return;
	d->last_drawn_ms = now;
	human_size(d->size, have, sizeof(have));
	if (d->expected > 0)
		human_size(d->expected, total, sizeof(total));
	human_size(elapsed > 0 ? (d->size - d->size_at_start) * 1000 / elapsed : 0, rate,
		   sizeof(rate));
	fprintf(stderr, "\r%-24.24s %8s of %-8s", d->name, have, total);
	if (d->expected > 0)
		fprintf(stderr, " %3d%%", (int)(d->size * 100 / d->expected));
	fprintf(stderr, " %8s/s ", rate);
	x->bar_on_line = true;
}

static void on_progress(struct xfer *x)
{
	draw_bar(x, x->sink.data, false);
}

static void end_bar(struct xfer *x, struct download *d, bool complete)
{
	if (complete && d->bar)
		draw_bar(x, d, true);
	if (x->bar_on_line)
		fputc('\n', stderr);
	x->bar_on_line = false;
}

static void hash_restart(struct download *d)
{
	lp_sha256_free(&d->hash);
	lp_sha256_init(&d->hash);
	d->hashed = 0;
}

/* Bring the hash up to the bytes already in the partial file. */
static int hash_catch_up(struct download *d, struct lp_err *err)
{
	char buf[64 * 1024];

	while (d->hashed < d->size) {
		size_t want = d->size - d->hashed < (int64_t)sizeof(buf)
				      ? (size_t)(d->size - d->hashed)
				      : sizeof(buf);
		ssize_t n = pread(d->fd, buf, want, (off_t)d->hashed);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return lp_fail(err, n < 0 ? errno : EIO, "read %s: %s", d->partial,
				       n < 0 ? strerror(errno) : "shorter than it was");
		lp_sha256_update(&d->hash, buf, (size_t)n);
		d->hashed += n;
	}
	return 0;
}

static int start_over(struct xfer *x, struct download *d)
{
	if (ftruncate(d->fd, 0) < 0)
		return lp_fail_errno(&x->abort_err, "truncate %s", d->partial);
	d->size = 0;
	d->written_back = d->written_back < 0 ? -1 : 0;
	d->size_at_start = 0;
	d->inherited = false;
	hash_restart(d);
	return 0;
}

static int64_t content_length(struct xfer *x)
{
	curl_off_t len = -1;

	if (curl_easy_getinfo(x->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) != CURLE_OK)
		return -1;
	return len;
}

static int download_start(struct xfer *x)
{
	struct download *d = x->sink.data;

	if (x->status != 200 && x->status != 206) {
		lp_fail(&x->abort_err, EPROTO, "%s: HTTP %ld %s: not a file", x->url, x->status,
			x->reason);
		return lp_xfer_abort_transfer(x);
	}
	if (x->status == 206 && x->range_start != d->size) {
		long long asked = d->size;

		if (start_over(x, d) == 0)
			lp_fail(&x->abort_err, EAGAIN,
				"%s: asked for the rest from byte %lld, got byte %lld; starting over",
				x->url, asked, (long long)x->range_start);
		return lp_xfer_abort_transfer(x);
	}
	/* 200 to a Range request: the server sends the whole file, from byte 0. */
	if (x->status == 200 && d->size > 0 && start_over(x, d) < 0)
		return lp_xfer_abort_transfer(x);
	d->expected = x->status == 206 ? x->range_total : content_length(x);
	if (d->pinned >= 0 && d->expected >= 0 && d->expected != d->pinned) {
		lp_fail(&x->abort_err, d->expected > d->pinned ? EFBIG : EBADMSG,
			"%s: the server has %lld bytes, not the pinned %lld", x->url,
			(long long)d->expected, (long long)d->pinned);
		return lp_xfer_abort_transfer(x);
	}
	return 0;
}

static int pwrite_all(int fd, const char *buf, size_t len, off_t at)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
		at += n;
	}
	return 0;
}

/*
 * Start writing what has arrived to the disk every few MB, without waiting
 * for it: the fsync before the rename then waits for the last few MB, not
 * for the whole file, and the disk works while the network does.
 */
static void start_writeback(struct download *d)
{
	if (d->written_back < 0 || d->size - d->written_back < WRITEBACK_EVERY)
		return;
	/* A hint only: where it fails, the fsync does all of it, as it would anyway. */
	if (sync_file_range(d->fd, d->written_back, d->size - d->written_back,
			    SYNC_FILE_RANGE_WRITE) < 0)
		d->written_back = -1;
	else
		d->written_back = d->size;
}

static int download_write(struct xfer *x, const char *data, size_t len)
{
	struct download *d = x->sink.data;

	if (d->pinned >= 0 && (int64_t)len > d->pinned - d->size) {
		lp_fail(&x->abort_err, EFBIG,
			"%s: the server sent more than the pinned %lld bytes; cut off", x->url,
			(long long)d->pinned);
		return lp_xfer_abort_transfer(x);
	}
	if (hash_catch_up(d, &x->abort_err) < 0)
		return lp_xfer_abort_transfer(x);
	if (pwrite_all(d->fd, data, len, (off_t)d->size) < 0) {
		lp_fail_errno(&x->abort_err, "write %s", d->partial);
		return lp_xfer_abort_transfer(x);
	}
	lp_sha256_update(&d->hash, data, len);
	d->size += (int64_t)len;
	d->hashed = d->size;
	start_writeback(d);
	return 0;
}

/* 416: nothing left from where we are; fine if the file is already whole. */
static int range_refused(struct xfer *x, struct download *d, struct lp_err *err)
{
	if (x->range_total >= 0 && x->range_total == d->size)
		return 0;
	if (start_over(x, d) < 0) {
		*err = x->abort_err;
		return -1;
	}
	return lp_fail(err, EAGAIN, "%s: the partial download is not a part of the file on the "
				    "server; starting over",
		       x->url);
}

static int download_once(struct xfer *x, struct lp_err *err)
{
	struct download *d = x->sink.data;
	char range[32];

	snprintf(range, sizeof(range), "%lld-", (long long)d->size);
	lp_xfer_opt(x, curl_easy_setopt(x->curl, CURLOPT_RANGE, d->size > 0 ? range : NULL));
	if (lp_xfer_ready(x, err) < 0 || lp_xfer_perform_once(x, err) < 0)
		return -1;
	if (x->status == 200 || x->status == 206)
		return 0;
	if (x->status == 416)
		return range_refused(x, d, err);
	return lp_xfer_http_failed(x, err);
}

static int open_partial(struct download *d, const char *url, struct lp_err *err)
{
	struct stat by_fd, by_path;

	d->fd = open(d->partial, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (d->fd < 0)
		return lp_fail_errno(err, "open %s", d->partial);
	if (lp_lock_whole(d->fd, false) < 0) {
		if (errno == EAGAIN)
			return lp_fail(err, EBUSY, "%s: another process is downloading it to %s",
				       url, d->partial);
		return lp_fail_errno(err, "lock %s", d->partial);
	}
	if (fstat(d->fd, &by_fd) < 0)
		return lp_fail_errno(err, "stat %s", d->partial);
	/* The one who held the lock may have just renamed it into place. */
	if (stat(d->partial, &by_path) < 0 || by_path.st_ino != by_fd.st_ino ||
	    by_path.st_dev != by_fd.st_dev)
		return lp_fail(err, EBUSY, "%s: another process has just downloaded it", url);
	d->locked = true;
	d->size = by_fd.st_size;
	if (d->pinned >= 0 && d->size > d->pinned) {
		if (ftruncate(d->fd, 0) < 0)
			return lp_fail_errno(err, "truncate %s", d->partial);
		d->size = 0;
	}
	d->inherited = d->size > 0;
	hash_restart(d);
	return 0;
}

static void setup_bar(struct xfer *x, struct download *d)
{
	struct lp_err ignored;

	d->bar = lp_xfer_interactive(x);
	if (!d->bar)
		return;
	if (x->o->progress_name)
		snprintf(d->name, sizeof(d->name), "%s", x->o->progress_name);
	else if (lp_fetch_url_file_name(x->url, d->name, sizeof(d->name), &ignored) < 0)
		snprintf(d->name, sizeof(d->name), "download");
	d->started_ms = lp_now_ms();
	d->size_at_start = d->size;
	x->on_progress = on_progress;
}

static int download(struct xfer *x, struct download *d, struct lp_err *err)
{
	/* a partial file of exactly the pinned size only needs checking */
	if (d->pinned >= 0 && d->size == d->pinned)
		return 0;
	x->sink = (struct sink){ download_start, download_write, d };
	setup_bar(x, d);
	return lp_xfer_with_retries(x, download_once, err);
}

static int check_pins(struct download *d, const char *url, const unsigned char *pinned_sha256,
		      unsigned char digest[LP_SHA256_LEN], struct lp_err *err)
{
	char want[LP_SHA256_HEX_LEN + 1], got[LP_SHA256_HEX_LEN + 1];

	if (d->pinned >= 0 && d->size != d->pinned)
		return lp_fail(err, EBADMSG, "%s: got %lld bytes, not the pinned %lld", url,
			       (long long)d->size, (long long)d->pinned);
	if (hash_catch_up(d, err) < 0 || lp_sha256_final(&d->hash, digest, err) < 0)
		return -1;
	if (!pinned_sha256 || !memcmp(digest, pinned_sha256, LP_SHA256_LEN))
		return 0;
	lp_hex(pinned_sha256, LP_SHA256_LEN, want);
	lp_hex(digest, LP_SHA256_LEN, got);
	return lp_fail(err, EBADMSG, "%s: SHA-256 is %.16s..., not the pinned %.16s...", url, got,
		       want);
}

static int download_checked(struct xfer *x, struct download *d, const char *url,
			    const unsigned char *pinned_sha256, unsigned char digest[LP_SHA256_LEN],
			    struct lp_err *err)
{
	if (download(x, d, err) < 0)
		return -1;
	return check_pins(d, url, pinned_sha256, digest, err);
}

/*
 * A partial file an earlier call left is taken for the file's start; if
 * the whole does not check out, that part may be what is wrong (another
 * server's bytes, a broken transfer's): the file is fetched once more from
 * its first byte before it is refused.
 */
static int fetch_checked(struct xfer *x, struct download *d, const char *url,
			 const unsigned char *pinned_sha256, unsigned char digest[LP_SHA256_LEN],
			 struct lp_err *err)
{
	if (download_checked(x, d, url, pinned_sha256, digest, err) == 0)
		return 0;
	if (err->code != EBADMSG || !d->inherited)
		return -1;
	if (start_over(x, d) < 0) {
		*err = x->abort_err;
		return -1;
	}
	return download_checked(x, d, url, pinned_sha256, digest, err);
}

static int fsync_parent(const char *path, struct lp_err *err)
{
	char dir[PATH_MAX];
	cleanup_fd int fd = -1;
	char *slash;

	if (lp_path(dir, sizeof(dir), err, "%s", path) < 0)
		return -1;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		return lp_fail_errno(err, "sync %s", dir);
	return 0;
}

/* Durable before visible: the bytes, then the name, then the directory. */
static int install(const struct download *d, const char *dest, struct lp_err *err)
{
	if (fsync(d->fd) < 0)
		return lp_fail_errno(err, "sync %s", d->partial);
	if (rename(d->partial, dest) < 0)
		return lp_fail_errno(err, "rename %s to %s", d->partial, dest);
	return fsync_parent(dest, err);
}

int lp_fetch_file(const char *url, const char *dest, int64_t pinned_size,
		  const unsigned char *pinned_sha256, unsigned char *sha256_out,
		  const struct lp_fetch_opts *o, struct lp_err *err)
{
	return lp_fetch_file_fd(url, dest, pinned_size, pinned_sha256, sha256_out, NULL, o, err);
}

int lp_fetch_file_fd(const char *url, const char *dest, int64_t pinned_size,
		     const unsigned char *pinned_sha256, unsigned char *sha256_out, int *fd_out,
		     const struct lp_fetch_opts *o, struct lp_err *err)
{
	struct download d = { .fd = -1, .pinned = pinned_size, .expected = -1 };
	unsigned char digest[LP_SHA256_LEN];
	char partial[PATH_MAX];
	struct xfer x;
	int rc;

	if (lp_path(partial, sizeof(partial), err, "%s.partial", dest) < 0)
		return -1;
	d.partial = partial;
	lp_sha256_init(&d.hash);
	rc = lp_xfer_open(&x, url, o, err);
	if (rc == 0)
		rc = open_partial(&d, url, err);
	if (rc == 0)
		rc = fetch_checked(&x, &d, url, pinned_sha256, digest, err);
	end_bar(&x, &d, rc == 0);
	/* Not what was pinned, or nothing at all: nothing worth resuming. */
	if (rc < 0 && d.locked && (err->code == EFBIG || err->code == EBADMSG || d.size == 0))
		unlink(partial);
	if (rc == 0)
		rc = install(&d, dest, err);
	if (rc == 0 && sha256_out)
		memcpy(sha256_out, digest, LP_SHA256_LEN);
	if (rc == 0 && fd_out) {
		*fd_out = d.fd;
		d.fd = -1;
	}
	lp_sha256_free(&d.hash);
	if (d.fd >= 0)
		close(d.fd);
	lp_xfer_close(&x);
	return rc;
}
