/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by agent/ and platform/: scoped cleanup, file I/O. */
#ifndef LIMPET_UTIL_H
#define LIMPET_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include "platform/lib/err.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Scope-bound cleanup: a variable declared with one of these is released
 * when it goes out of scope, so early returns cannot leak it.  Ownership is
 * handed on with steal_ptr()/steal_fd().
 */
void lp_freep(void *p);
void lp_closep(int *fd);
void lp_fclosep(void *f);
void lp_strvp(void *v);
#define cleanup_free __attribute__((cleanup(lp_freep)))
#define cleanup_fd __attribute__((cleanup(lp_closep)))
#define cleanup_file __attribute__((cleanup(lp_fclosep)))
#define cleanup_strv __attribute__((cleanup(lp_strvp)))	/* lp_strv_free */

static inline void *steal_ptr_(void **p)
{
	void *v = *p;

	*p = NULL;
	return v;
}
#define steal_ptr(p) steal_ptr_((void **)&(p))
static inline int steal_fd(int *fd)
{
	int v = *fd;

	*fd = -1;
	return v;
}

/* Every character of s is an ASCII letter or digit or in extra (locale-free). */
bool lp_chars_in(const char *s, const char *extra);
/* An ASCII letter or digit (isalnum() would follow the locale). */
bool lp_ascii_alnum(char ch);
/* s is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
bool lp_utf8_valid(const char *s);

/* Zero len bytes at p in a way the compiler may not drop (secrets before free). */
void lp_wipe(void *p, size_t len);

/* Free a NULL-terminated vector of strings and the strings in it. */
void lp_strv_free(char **v);

/* pread(2) until len bytes or end of file (EINTR retried): the count, or -1 with errno. */
ssize_t lp_pread_all(int fd, void *buf, size_t len, off_t off);
/* write(2) until all of buf is written (EINTR retried); -1 with errno. */
int lp_write_all(int fd, const void *buf, size_t len);
/* Write all of buf to path (created/truncated with mode 0644; never through a symlink). */
int lp_write_file(const char *path, const char *buf, size_t len, struct lp_err *err);
/* Same as lp_write_file for a NUL-terminated string, relative to dirfd. */
int lp_write_at(int dirfd, const char *name, const char *s, struct lp_err *err);
/*
 * Create path for writing, made afresh: whatever a crash (or anyone else)
 * left under that name, a link say, is removed, never written through.
 */
int lp_open_fresh(const char *path, mode_t mode, struct lp_err *err);
/* Write to a temporary file beside path, fsync, rename over path. */
int lp_write_file_atomic(const char *path, const char *buf, size_t len, struct lp_err *err);
/*
 * openat(dirfd, path, flags, mode) of a regular file only: a FIFO, a device or a
 * socket is refused at once instead of waited on (O_NONBLOCK for the open,
 * cleared after), each with a message that says what it is.  With O_NOFOLLOW
 * in flags a symlink is refused too.  For files someone else may have put
 * there: a stick, a download, a container's directory.
 */
int lp_open_regular(int dirfd, const char *path, int flags, mode_t mode, struct lp_err *err);
/* What a file of this mode is, for messages: "a FIFO", "a character device"... */
const char *lp_file_kind(mode_t mode);
/*
 * Lock the whole file open at fd for this process alone (a POSIX record
 * lock; wait: block until it is free).  Unlike flock() and OFD locks it is
 * not shared with the children forked while it is held, so a child caught
 * between fork and exec, or one that outlives a killed parent for a moment,
 * cannot keep it.  It ends when this process closes any descriptor of the
 * file: only the holder may open it.  -1 with errno EAGAIN when it is held.
 */
int lp_lock_whole(int fd, bool wait);
/* Read at most max bytes of a regular file; *out is NUL terminated and must be freed. */
int lp_read_file(const char *path, size_t max, char **out, size_t *len, struct lp_err *err);
/* Same, refusing a symlink as the last component of path. */
int lp_read_file_nofollow(const char *path, size_t max, char **out, size_t *len,
			  struct lp_err *err);
/* mkdir -p with the given mode for created components. */
int lp_mkdir_p(const char *path, mode_t mode, struct lp_err *err);
/* rm -rf that never crosses into another mount (st_dev checked). */
int lp_remove_tree(const char *path, struct lp_err *err);
/*
 * Every signal back to its default action and none blocked, just before
 * exec'ing a container's process: an ignored signal stays ignored across
 * exec, and a container must not inherit what its starter ignored (nohup's
 * SIGHUP, systemd's SIGPIPE), which a shell then cannot even trap.
 */
void lp_signals_reset(void);
/* The bytes of the regular files under dir, following no symlink (0 if it is not there). */
uint64_t lp_tree_bytes(const char *dir);
/* snprintf that reports truncation as an error instead of silently cutting. */
int lp_path(char *buf, size_t size, struct lp_err *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* One line on stderr: "prefix: message". */
void lp_say(const char *prefix, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lp_vsay(const char *prefix, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Monotonic clock in milliseconds. */
int64_t lp_now_ms(void);
/* The same in nanoseconds, for the VMM's timings. */
uint64_t lp_now_ns(void);
/* Realtime clock in seconds. */
int64_t lp_wall_s(void);
/* The same in nanoseconds (Unix time), for the times of log lines. */
int64_t lp_wall_ns(void);

#endif
