// SPDX-License-Identifier: Apache-2.0
/*
 * limpet attach NAME: the operator's terminal on a detached container's
 * (run -d -t), through a session the agent relays (agent/daemon/console.h),
 * until the detach keys, or the container's end, whose status becomes ours.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/cli/term.h"
#include "agent/daemon/console.h"
#include "agent/daemon/control.h"
#include "platform/lib/util.h"

enum { OPT_DETACH_KEYS = 256, OPT_NO_STDIN };

static const struct lp_opt attach_opts[] = {
	{ OPT_DETACH_KEYS, 0, "detach-keys", "KEYS", "what detaches (default ctrl-p,ctrl-q)" },
	{ OPT_NO_STDIN, 0, "no-stdin", NULL, "watch only: what is typed does not reach it" },
	{ 0 },
};

static int cmd_attach(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_attach = {
	.name = "attach",
	.operands = "NAME",
	.summary = "Connect to the terminal of a running container (run -d -t)",
	.opts = attach_opts,
	.notes = "KEYS: a comma list of a-z and ctrl-a..ctrl-z, ctrl-@, ctrl-[, ctrl-\\,\n"
		 "ctrl-], ctrl-^, ctrl-_. Detaching leaves it running and exits 0; when it\n"
		 "ends, its exit status is attach's. Many may be attached at once.",
	.fn = cmd_attach,
};

/* What stands between the operator and the session; done once either side ends. */
struct session {
	int sock;
	bool input;		/* reading the operator's input */
	struct lp_detach_keys keys;
	bool detached, ended;
	bool exited;		/* the agent said the container ended, with status */
	int status;
};

static int send_packet(int sock, char kind, const void *buf, size_t n)
{
	unsigned char pkt[LP_CONSOLE_PACKET_MAX];

	pkt[0] = (unsigned char)kind;
	memcpy(pkt + 1, buf, n);
	return send(sock, pkt, n + 1, MSG_NOSIGNAL) == (ssize_t)(n + 1) ? 0 : -1;
}

static void send_size(struct session *s)
{
	uint16_t size[2];
	unsigned short rows, cols;

	if (!lp_relay_size(0, 1, &rows, &cols))
		return;
	size[0] = rows;
	size[1] = cols;
	send_packet(s->sock, 'w', size, sizeof(size));
}

static void from_operator(struct session *s)
{
	unsigned char in[LP_RELAY_BUF - LP_DETACH_KEYS_MAX], out[LP_RELAY_BUF];
	size_t n_out = 0;
	ssize_t n = read(0, in, sizeof(in));

	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		s->input = false; /* its input ended; what it writes still comes */
		return;
	}
	s->detached = lp_detach_keys_feed(&s->keys, in, (size_t)n, out, &n_out);
	if (n_out && send_packet(s->sock, 'd', out, n_out) < 0)
		s->ended = true;
}

static void from_session(struct session *s)
{
	unsigned char pkt[LP_CONSOLE_PACKET_MAX];
	int32_t status;
	ssize_t n = recv(s->sock, pkt, sizeof(pkt), 0);

	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		s->ended = true;
		return;
	}
	if (pkt[0] == 'd')
		lp_write_all(1, pkt + 1, (size_t)n - 1);
	else if (pkt[0] == 'x' && n == 1 + (ssize_t)sizeof(status)) {
		memcpy(&status, pkt + 1, sizeof(status));
		s->status = status;
		s->exited = s->ended = true;
	}
}

/* Until a detach, the container's end or the session's; a signal ends it as 128+N. */
static int relay(struct session *s)
{
	struct signalfd_siginfo si;
	struct pollfd p[3];
	sigset_t set;
	int sfd;

	sigemptyset(&set);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		return -1;
	while (!s->detached && !s->ended) {
		p[0] = (struct pollfd){ .fd = s->sock, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		p[2] = (struct pollfd){ .fd = 0, .events = POLLIN };
		if (poll(p, s->input ? 3 : 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			from_session(s);
		if (s->input && p[2].revents && !s->ended)
			from_operator(s);
		if (!p[1].revents || read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		if (si.ssi_signo == SIGWINCH) {
			send_size(s);
			continue;
		}
		close(sfd);
		return 128 + (int)si.ssi_signo;
	}
	close(sfd);
	return 0;
}

static int cmd_attach(int argc, char **argv, struct lp_globals *g)
{
	struct session s = { .sock = -1, .input = true };
	const char *keys = NULL;
	struct lp_err err = { 0 };
	unsigned short rows = 0, cols = 0;
	struct lp_opts p;
	bool raw;
	int opt, rc;

	lp_opts_init(&p, &lp_doc_attach, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0) {
		if (opt == OPT_DETACH_KEYS)
			keys = p.arg;
		else
			s.input = false;
	}
	if (opt == LP_OPT_EXIT)
		return p.status;
	if (argc - p.ind != 1)
		return lp_usage_error("attach", "needs one container NAME");
	if (lp_detach_keys_parse(keys, &s.keys, &err) < 0)
		return lp_usage_error("attach", "--detach-keys %s", err.msg);
	/* Raw only when a person types: piped input is passed on as it comes. */
	raw = s.input && isatty(0);
	if (raw && lp_term_check(0, &err) < 0)
		return lp_cmd_fail("attach", &err);
	lp_relay_size(0, 1, &rows, &cols);
	s.sock = lp_agent_attach(&g->host, argv[p.ind], rows, cols, &err);
	if (s.sock < 0)
		return lp_cmd_fail("attach", &err);
	if (raw && lp_term_raw(0, &err) < 0) {
		close(s.sock);
		return lp_cmd_fail("attach", &err);
	}
	rc = relay(&s);
	close(s.sock);
	lp_term_restore();
	if (rc < 0) {
		lp_fail_errno(&err, "signalfd");
		return lp_cmd_fail("attach", &err);
	}
	if (rc > 0)
		return rc;
	if (s.detached) {
		fprintf(stderr, "read escape sequence\n");
		return 0;
	}
	if (s.exited)
		return s.status;
	lp_fail(&err, EPIPE, "%s: the agent ended the session (it stopped, or this terminal fell "
			     "behind the output)",
		argv[p.ind]);
	return lp_cmd_fail("attach", &err);
}
