// SPDX-License-Identifier: Apache-2.0
/*
 * lp_ct_kill (limpet kill): the signal reaches the recorded PID 1; KILL and
 * TERM mark the container stopped, so no restart policy undoes them; a
 * microVM, whose pid is its VMM, takes no other signal.  The "container"
 * is a record made by lp_ct_create around a child of the test.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/container/container.h"
#include "platform/lib/util.h"

static char dir[32];
static struct lp_host host;

static int setup(void **state)
{
	struct lp_err err;

	(void)state;
	memset(&host, 0, sizeof(host));
	snprintf(dir, sizeof(dir), "/tmp/limpet-kill-XXXXXX");
	if (!mkdtemp(dir) || lp_config_defaults(&host.cfg, &err) < 0)
		return -1;
	snprintf(host.root, sizeof(host.root), "%s", dir);
	snprintf(host.run_dir, sizeof(host.run_dir), "%s/run", dir);
	return 0;
}

static int teardown(void **state)
{
	struct lp_err err;

	(void)state;
	lp_remove_tree(dir, &err);
	lp_config_free(&host.cfg);
	return 0;
}

/* A running container around a child that reports SIGHUP on its pipe and dies of SIGTERM. */
static pid_t make_running(const char *name, bool vm, struct lp_container *ct, int *report)
{
	struct lp_container_cfg cfg = { 0 };
	struct lp_err err = { 0 };
	int pipefd[2], ready[2];
	char c;
	pid_t pid;

	cfg.name = strdup(name);
	cfg.rootfs = strdup("/nonexistent");
	cfg.argv = calloc(2, sizeof(char *));
	cfg.argv[0] = strdup("/bin/true");
	cfg.env = calloc(1, sizeof(char *));
	assert_int_equal(lp_ct_create(&host, &cfg, true, false, ct, &err), 0);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sigset_t hup;
		int sig;

		sigemptyset(&hup);
		sigaddset(&hup, SIGHUP);
		sigprocmask(SIG_BLOCK, &hup, NULL);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		sigwait(&hup, &sig);
		_exit(write(pipefd[1], "H", 1) == 1 ? 0 : 1);
	}
	close(pipefd[1]);
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	*report = pipefd[0];
	ct->st.status = LP_CT_RUNNING;
	ct->st.pid = pid;
	ct->st.starttime = lp_proc_starttime(pid);
	ct->st.vm = vm;
	assert_int_equal(lp_ct_save(ct, &err), 0);
	return pid;
}

static void test_signal_reaches_pid1(void **state)
{
	struct lp_container ct, seen;
	struct lp_err err = { 0 };
	int report, status;
	char c = 0;
	pid_t pid;

	(void)state;
	pid = make_running("hup", false, &ct, &report);
	assert_int_equal(lp_ct_kill(&ct, SIGHUP, &err), 0);
	assert_int_equal(read(report, &c, 1), 1);
	assert_int_equal(c, 'H');
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* another signal is not a stop: its restart policy still applies */
	assert_int_equal(lp_ct_load(&host, "hup", &seen, &err), 0);
	assert_false(seen.st.stop_requested);
	lp_ct_free(&seen);
	lp_ct_free(&ct);
	close(report);
}

static void test_term_is_a_stop(void **state)
{
	struct lp_container ct, seen;
	struct lp_err err = { 0 };
	int report, status;
	pid_t pid;

	(void)state;
	pid = make_running("term", false, &ct, &report);
	assert_int_equal(lp_ct_kill(&ct, SIGTERM, &err), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	assert_int_equal(lp_ct_load(&host, "term", &seen, &err), 0);
	assert_true(seen.st.stop_requested);
	lp_ct_free(&seen);
	/* gone now: a second kill says so */
	assert_int_equal(lp_ct_kill(&ct, SIGKILL, &err), -1);
	assert_int_equal(err.code, ESRCH);
	assert_string_equal(err.msg, "container term is not running");
	lp_ct_free(&ct);
	close(report);
}

static void test_vm_takes_only_kill_and_term(void **state)
{
	struct lp_container ct;
	struct lp_err err = { 0 };
	int report, status;
	pid_t pid;

	(void)state;
	pid = make_running("micro", true, &ct, &report);
	assert_int_equal(lp_ct_kill(&ct, SIGHUP, &err), -1);
	assert_int_equal(err.code, ENOTSUP);
	assert_string_equal(err.msg,
			    "container micro runs in a microVM: only KILL and TERM reach it");
	/* the VMM did not get it: it is still there */
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
	assert_int_equal(lp_ct_kill(&ct, SIGKILL, &err), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	lp_ct_free(&ct);
	close(report);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_signal_reaches_pid1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_term_is_a_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm_takes_only_kill_and_term, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
