// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's control socket (agent/daemon/control.c): a real socket, a
 * server process answering through stand-in lp_agent_ops, and the typed
 * client.  What is checked is what crosses: the container config, the
 * deployment, and a refusal's message with its errno.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/config/config.h"
#include "agent/config/host.h"
#include "agent/daemon/control.h"
#include "agent/spec/spec.h"
#include "platform/lib/util.h"

static char dir[] = "/tmp/limpet-control-XXXXXX";
static struct lp_host host;

/* The server's side: what the stand-in ops saw, sent back to the test as the refusal. */
static int fake_run(void *ctx, struct lp_container_cfg *cfg, bool remove, const char *deploy_name,
		    int64_t deploy_version, struct lp_err *err)
{
	(void)ctx;
	if (!strcmp(cfg->name, "ok")) {
		lp_container_cfg_free(cfg);
		return 0;
	}
	lp_fail(err, EEXIST, "run %s argv1=%s env0=%s rm=%d deployment=%s:%lld", cfg->name,
		cfg->argv[1], cfg->env[0], remove, deploy_name ? deploy_name : "-",
		(long long)deploy_version);
	lp_container_cfg_free(cfg);
	return -1;
}

static int fake_start(void *ctx, const char *name, struct lp_err *err)
{
	(void)ctx;
	return strcmp(name, "ok") ? lp_fail(err, ENOENT, "no container %s", name) : 0;
}

static int fake_remove(void *ctx, const char *name, struct lp_err *err)
{
	(void)ctx;
	return lp_fail(err, EALREADY, "container %s is running", name);
}

/* Serve n requests in a child process, as the agent's loop would. */
static pid_t serve(int n)
{
	static const struct lp_agent_ops ops = {
		.run = fake_run, .start = fake_start, .remove = fake_remove,
	};
	struct lp_err err = { 0 };
	int fd = lp_control_listen(&host, &err);
	pid_t pid;

	if (fd < 0)
		fail_msg("listen: %s", err.msg);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		while (n-- > 0) {
			int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

			if (conn < 0)
				_exit(1);
			lp_control_serve(conn, &ops, "test");
			close(conn);
		}
		_exit(0);
	}
	close(fd);
	return pid;
}

static void served(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int setup(void **state)
{
	struct lp_err err;

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(host.root, sizeof(host.root), "%s", dir);
	snprintf(host.run_dir, sizeof(host.run_dir), "%s", dir);
	return lp_config_defaults(&host.cfg, &err);
}

static int teardown(void **state)
{
	struct lp_err err;

	(void)state;
	lp_config_free(&host.cfg);
	lp_remove_tree(dir, &err);
	return 0;
}

static void test_no_agent(void **state)
{
	struct lp_err err = { 0 };

	(void)state;
	assert_int_equal(lp_agent_ping(&host, NULL, &err), -1);
	assert_int_equal(err.code, ENOTCONN);
	assert_non_null(strstr(err.msg, "no agent is running for"));
	assert_int_equal(lp_agent_start(&host, "web", &err), -1);
	assert_int_equal(err.code, ENOTCONN);
}

static void test_refusals_carry_errno(void **state)
{
	struct lp_err err = { 0 };
	pid_t server = serve(4), pid = 0;

	(void)state;
	assert_int_equal(lp_agent_ping(&host, &pid, &err), 0);
	assert_int_equal(pid, server);
	assert_int_equal(lp_agent_start(&host, "ok", &err), 0);
	assert_int_equal(lp_agent_start(&host, "web", &err), -1);
	assert_int_equal(err.code, ENOENT);
	assert_string_equal(err.msg, "no container web");
	/* what a switch tells apart from other refusals (deploy_journal.c) */
	assert_int_equal(lp_agent_remove(&host, "web.v2", &err), -1);
	assert_int_equal(err.code, EALREADY);
	assert_string_equal(err.msg, "container web.v2 is running");
	served(server);
}

static void test_run_sends_the_config(void **state)
{
	struct lp_container_cfg c = { 0 };
	struct lp_err err = { 0 };
	char *argv[] = { "/bin/sh", "-c \"x\" \xc3\xa9", NULL }, *env[] = { "A=1", NULL };
	pid_t server = serve(3);

	(void)state;
	c.name = "web.v7";
	c.rootfs = "/srv";
	c.argv = argv;
	c.env = env;
	assert_int_equal(lp_agent_run(&host, &c, true, "web", 7, &err), -1);
	assert_int_equal(err.code, EEXIST);
	assert_string_equal(err.msg,
			    "run web.v7 argv1=-c \"x\" \xc3\xa9 env0=A=1 rm=1 deployment=web:7");
	assert_int_equal(lp_agent_run(&host, &c, false, NULL, 0, &err), -1);
	assert_string_equal(err.msg,
			    "run web.v7 argv1=-c \"x\" \xc3\xa9 env0=A=1 rm=0 deployment=-:0");
	c.name = "ok";
	assert_int_equal(lp_agent_run(&host, &c, false, NULL, 0, &err), 0);
	served(server);
	/* checked before it is sent: nothing reaches the agent */
	c.argv[0] = "";
	assert_int_equal(lp_agent_run(&host, &c, false, NULL, 0, &err), -1);
	assert_non_null(strstr(err.msg, "command: the program name is empty"));
}

/* An agent that dies after reading the request: the client says so, as ENOTCONN. */
static void test_agent_went_away(void **state)
{
	struct lp_err err = { 0 };
	int fd = lp_control_listen(&host, &err), status;
	pid_t pid;

	(void)state;
	assert_true(fd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[256];
		int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		while (conn >= 0 && read(conn, buf, sizeof(buf)) > 0)
			;
		_exit(0);
	}
	close(fd);
	assert_int_equal(lp_agent_start(&host, "web", &err), -1);
	assert_int_equal(err.code, ENOTCONN);
	assert_non_null(strstr(err.msg, "the agent went away"));
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_agent),
		cmocka_unit_test(test_refusals_carry_errno),
		cmocka_unit_test(test_run_sends_the_config),
		cmocka_unit_test(test_agent_went_away),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
