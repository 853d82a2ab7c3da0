// SPDX-License-Identifier: Apache-2.0
#include "agent/daemon/control.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "platform/lib/util.h"

#define MSG_MAX (1024 * 1024)

/* A stream socket and the address of RUN_DIR/agent.sock; -1 on failure. */
static int control_socket(const struct lp_host *host, struct sockaddr_un *sa, struct lp_err *err)
{
	int fd;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (lp_path(sa->sun_path, sizeof(sa->sun_path), err, "%s/agent.sock", host->run_dir) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return lp_fail_errno(err, "control socket");
	return fd;
}

int lp_control_listen(const struct lp_host *host, struct lp_err *err)
{
	struct sockaddr_un sa;
	cleanup_fd int fd = control_socket(host, &sa, err);

	if (fd < 0)
		return -1;
	unlink(sa.sun_path); /* the caller holds the agent lock: a leftover is stale */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return lp_fail_errno(err, "bind %s", sa.sun_path);
	if (chmod(sa.sun_path, 0600) < 0)
		return lp_fail_errno(err, "chmod %s", sa.sun_path);
	if (listen(fd, 16) < 0)
		return lp_fail_errno(err, "listen %s", sa.sun_path);
	return steal_fd(&fd);
}

int lp_control_write(int fd, json_t *msg, struct lp_err *err)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	size_t len, off = 0;

	if (!text)
		return lp_fail(err, ENOMEM, "control: cannot encode message");
	len = strlen(text);
	while (off < len) {
		ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(text);
			return lp_fail_errno(err, "control: send");
		}
		off += (size_t)n;
	}
	free(text);
	shutdown(fd, SHUT_WR);
	return 0;
}

int lp_control_read(int fd, json_t **msg, struct lp_err *err)
{
	cleanup_free char *buf = malloc(MSG_MAX);
	size_t used = 0;
	json_error_t jerr;

	if (!buf)
		return lp_fail(err, ENOMEM, "control: out of memory");
	for (;;) {
		ssize_t n = recv(fd, buf + used, MSG_MAX - used, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return lp_fail_errno(err, "control: receive");
		if (n == 0)
			break;
		used += (size_t)n;
		if (used == MSG_MAX)
			return lp_fail(err, EMSGSIZE, "control: message over %d bytes", MSG_MAX);
	}
	*msg = json_loadb(buf, used, 0, &jerr);
	if (!*msg)
		return lp_fail(err, EINVAL, "control: bad message: %s", jerr.text);
	return 0;
}

int lp_control_call(const struct lp_host *host, json_t *req, json_t **reply, struct lp_err *err)
{
	struct sockaddr_un sa;
	cleanup_fd int fd = control_socket(host, &sa, err);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			return lp_fail(err, errno,
				       "no agent is running for %s (start `limpet agent`, or run "
				       "in the foreground without -d)",
				       host->root);
		return lp_fail_errno(err, "connect %s", sa.sun_path);
	}
	if (lp_control_write(fd, req, err) < 0)
		return -1;
	return lp_control_read(fd, reply, err);
}
