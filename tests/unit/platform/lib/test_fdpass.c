// SPDX-License-Identifier: Apache-2.0
/*
 * Descriptors over a Unix socket: the one sent arrives (close-on-exec, the
 * same open file), a packet without one says so, and a sender that crams
 * in more than one leaves none of the extras open in the receiver.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/lib/fdpass.h"

static int open_fds(void)
{
	struct stat st;
	int fd, n = 0;

	for (fd = 0; fd < 1024; fd++)
		n += fstat(fd, &st) == 0;
	return n;
}

static void test_roundtrip(void **state)
{
	struct lp_err err = { 0 };
	struct stat a, b;
	int sv[2], p[2], fd;
	size_t got;
	char tag;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(lp_fd_send(sv[0], p[1], "t", 1, &err), 0);
	assert_int_equal(lp_fd_recv(sv[1], MSG_DONTWAIT, &tag, 1, &got, &fd, &err), 0);
	assert_int_equal(got, 1);
	assert_int_equal(tag, 't');
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(fstat(p[1], &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(read(p[0], &tag, 1), 1);
	assert_int_equal(tag, 'x');
	close(fd);

	/* data alone, then the end of the stream */
	assert_int_equal(write(sv[0], "pid!", 4), 4);
	close(sv[0]);
	assert_int_equal(lp_fd_recv(sv[1], 0, &tag, 1, &got, &fd, &err), 0);
	assert_int_equal(fd, -1);
	assert_int_equal(lp_fd_recv(sv[1], 0, &tag, 1, &got, &fd, &err), 0);
	assert_int_equal(got, 0);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

static void test_refusals(void **state)
{
	struct lp_err err = { 0 };
	int sv[2], fd;
	size_t got;
	char tag;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(lp_fd_send(sv[0], 0, "", 0, &err), -1);
	assert_int_equal(err.code, EINVAL);
	assert_int_equal(lp_fd_recv(sv[1], MSG_DONTWAIT, &tag, 1, &got, &fd, &err), -1);
	assert_int_equal(err.code, EAGAIN);
	assert_int_equal(fd, -1);
	close(sv[0]);
	close(sv[1]);
}

/* Four descriptors in one message: the first is kept, the others closed. */
static void test_extras_closed(void **state)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = "t", .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fds[4] = { 0, 1, 2, 0 }, sv[2], fd, before;
	struct lp_err err = { 0 };
	struct cmsghdr *c;
	size_t got;
	char tag;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	memset(&u, 0, sizeof(u));
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	assert_int_equal(sendmsg(sv[0], &mh, 0), 1);
	before = open_fds();
	assert_int_equal(lp_fd_recv(sv[1], 0, &tag, 1, &got, &fd, &err), 0);
	assert_true(fd >= 0);
	assert_int_equal(open_fds(), before + 1);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_extras_closed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
