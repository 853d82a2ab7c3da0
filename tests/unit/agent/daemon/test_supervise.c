// SPDX-License-Identifier: Apache-2.0
/*
 * The supervisor: its restart policy and backoff, the updater it keeps
 * alive, how SIGTERM and a control request reach its loop, and how a
 * container an earlier agent started is watched to its end.
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
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/daemon/supervise.h"
#include "agent/spec/parse.h"
#include "platform/lib/util.h"

static char dir[32];
static struct lp_host host;

static int setup(void **state)
{
	struct lp_err err;

	(void)state;
	memset(&host, 0, sizeof(host));
	snprintf(dir, sizeof(dir), "/tmp/limpet-sv-XXXXXX");
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

static void test_restart_no(void **state)
{
	struct lp_restart r = { .policy = LP_RESTART_NO };
	struct lp_ct_state st = { .exit_code = 1 };
	int attempt = 0;

	(void)state;
	assert_int_equal(lp_sv_restart_plan(&r, &st, 0, &attempt), LP_SV_NO_RESTART);
	assert_int_equal(attempt, 0);
}

/* always: quick failures double the wait up to its cap; a long run starts it over. */
static void test_restart_always_backoff(void **state)
{
	struct lp_restart r = { .policy = LP_RESTART_ALWAYS };
	struct lp_ct_state st = { 0 };
	int64_t want[] = { 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000 };
	int attempt = 0;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(want); i++)
		assert_int_equal(lp_sv_restart_plan(&r, &st, 5, &attempt), want[i]);
	assert_int_equal(lp_sv_restart_plan(&r, &st, LP_RESTART_RESET_MS, &attempt), 100);
	assert_int_equal(attempt, 1);
	assert_int_equal(lp_sv_restart_plan(&r, &st, LP_RESTART_RESET_MS - 1, &attempt), 200);
}

/* A stop the user asked for is never undone, whatever the policy. */
static void test_restart_stop_requested(void **state)
{
	struct lp_restart always = { .policy = LP_RESTART_ALWAYS };
	struct lp_restart onfail = { .policy = LP_RESTART_ON_FAILURE };
	struct lp_ct_state st = { .stop_requested = true, .exit_code = 137, .signal = 9 };
	int attempt = 0;

	(void)state;
	assert_int_equal(lp_sv_restart_plan(&always, &st, 0, &attempt), LP_SV_NO_RESTART);
	assert_int_equal(lp_sv_restart_plan(&onfail, &st, 0, &attempt), LP_SV_NO_RESTART);
}

/* on-failure: what counts as a failure, and its retry limit. */
static void test_restart_on_failure(void **state)
{
	struct lp_restart r = { .policy = LP_RESTART_ON_FAILURE, .max_retries = 3 };
	struct lp_ct_state ok = { 0 };
	struct lp_ct_state failures[] = {
		{ .exit_code = 1 },
		{ .exit_code = 137, .signal = 9 },
		{ .oom_killed = true, .exit_code = 137, .signal = 9 },
		/* an exit nobody saw (an adopted container) is not taken for success */
		{ .exit_unknown = true },
	};
	struct lp_ct_state used = { .exit_code = 1, .restarts = 3 };
	int attempt = 0;
	size_t i;

	(void)state;
	assert_int_equal(lp_sv_restart_plan(&r, &ok, 0, &attempt), LP_SV_NO_RESTART);
	for (i = 0; i < ARRAY_SIZE(failures); i++) {
		attempt = 0;
		assert_int_equal(lp_sv_restart_plan(&r, &failures[i], 0, &attempt), 100);
	}
	assert_int_equal(lp_sv_restart_plan(&r, &used, 0, &attempt), LP_SV_GIVE_UP);
	r.max_retries = 0; /* no limit */
	assert_int_equal(lp_sv_restart_plan(&r, &used, 0, &attempt), 200);
}

/* The updater (fleet poller, USB watcher) is brought back with backoff. */
struct worker_log {
	int spawned;
	int64_t at[3];
	pid_t last;
};

static struct worker_log wlog;

static int spawn_worker(struct lp_supervisor *sv)
{
	pid_t pid;

	(void)sv;
	pid = fork();
	if (pid == 0) {
		sigset_t none;

		if (wlog.spawned < 2)
			_exit(3);
		/* as the agent's updater does: the supervisor's blocked signals are its own */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		pause(); /* the last one runs until the supervisor ends it */
		_exit(0);
	}
	if (pid < 0)
		return -1;
	wlog.at[wlog.spawned++] = lp_now_ms();
	wlog.last = pid;
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int quit_after_three(struct lp_supervisor *sv)
{
	if (wlog.spawned == 3)
		sv->quit = true;
	return 20;
}

static void test_worker_restarted(void **state)
{
	struct lp_supervisor sv;
	struct lp_err err = { 0 };

	(void)state;
	memset(&wlog, 0, sizeof(wlog));
	assert_int_equal(lp_sv_init(&sv, &host, false, &err), 0);
	sv.spawn_worker = spawn_worker;
	sv.on_tick = quit_after_three;
	assert_int_equal(lp_sv_loop(&sv, &err), 0);
	assert_int_equal(wlog.spawned, 3);
	/* two quick deaths in a row: at least 100 ms, then 200 ms, before the next */
	assert_true(wlog.at[1] - wlog.at[0] >= 100);
	assert_true(wlog.at[2] - wlog.at[1] >= 200);
	assert_int_equal(sv.worker_attempt, 2);
	/* leaving the loop ended the last one and reaped it */
	assert_int_equal(sv.worker_pidfd, -1);
	assert_int_equal(waitpid(wlog.last, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	lp_sv_free(&sv);
}

static int raise_term(struct lp_supervisor *sv)
{
	(void)sv;
	raise(SIGTERM);
	return -1;
}

/* The agent leaves its loop on SIGTERM, taken from its signalfd, and keeps running otherwise. */
static void test_sigterm_ends_agent_loop(void **state)
{
	struct lp_supervisor sv;
	struct lp_err err = { 0 };

	(void)state;
	assert_int_equal(lp_sv_init(&sv, &host, false, &err), 0);
	sv.on_tick = raise_term;
	assert_int_equal(lp_sv_loop(&sv, &err), 0);
	assert_true(sv.quit);
	lp_sv_free(&sv);
}

static int requests;

static void on_request(struct lp_supervisor *sv, int conn)
{
	char c = 0;

	assert_int_equal(read(conn, &c, 1), 1);
	assert_int_equal(c, 'x');
	requests++;
	sv->quit = true;
}

static int connect_once(struct lp_supervisor *sv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static int client = -1;

	(void)sv;
	if (client >= 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl", dir);
	client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(client >= 0);
	assert_int_equal(connect(client, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(client, "x", 1), 1);
	return -1;
}

/* A connection on the control socket is handed to on_request, one at a time. */
static void test_control_request(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct lp_supervisor sv;
	struct lp_err err = { 0 };

	(void)state;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl", dir);
	assert_int_equal(lp_sv_init(&sv, &host, false, &err), 0);
	sv.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(sv.listen_fd >= 0);
	assert_int_equal(bind(sv.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(sv.listen_fd, 4), 0);
	sv.on_request = on_request;
	sv.on_tick = connect_once;
	requests = 0;
	assert_int_equal(lp_sv_loop(&sv, &err), 0);
	assert_int_equal(requests, 1);
	close(sv.listen_fd);
	lp_sv_free(&sv);
}

/*
 * A container an earlier agent started: here a child of the test, which the
 * supervisor did not start and so cannot wait for.  It runs until
 * adopted_fd is closed.  Its root is missing, so a restart fails to start.
 */
static int adopted_fd = -1;

static pid_t make_adopted(const char *name, struct lp_restart restart, struct lp_container *ct)
{
	struct lp_container_cfg cfg = { .restart = restart };
	struct lp_err err = { 0 };
	char rootfs[64];
	int pipefd[2];
	pid_t pid;

	snprintf(rootfs, sizeof(rootfs), "%s/missing-rootfs", dir);
	cfg.name = strdup(name);
	cfg.rootfs = strdup(rootfs);
	cfg.argv = calloc(2, sizeof(char *));
	cfg.argv[0] = strdup("/bin/true");
	cfg.env = calloc(1, sizeof(char *));
	assert_int_equal(lp_ct_create(&host, &cfg, true, false, ct, &err), 0);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;

		close(pipefd[1]);
		_exit(read(pipefd[0], &c, 1) == 0 ? 0 : 1);
	}
	close(pipefd[0]);
	adopted_fd = pipefd[1];
	ct->st.status = LP_CT_RUNNING;
	ct->st.pid = pid;
	ct->st.starttime = lp_proc_starttime(pid);
	assert_int_equal(lp_ct_save(ct, &err), 0);
	return pid;
}

/* Run a supervisor that adopts ct, and ends the adopted process at its first tick. */
static void supervise_adopted(struct lp_container *ct, int (*on_tick)(struct lp_supervisor *))
{
	struct lp_supervisor sv;
	struct lp_err err = { 0 };

	assert_int_equal(lp_sv_init(&sv, &host, false, &err), 0);
	sv.on_tick = on_tick;
	assert_int_equal(lp_sv_adopt(&sv, ct, &err), 0);
	assert_int_equal(lp_sv_running(&sv), 1);
	assert_int_equal(lp_sv_loop(&sv, &err), 0);
	lp_sv_free(&sv);
}

static void end_adopted(void)
{
	if (adopted_fd >= 0) {
		close(adopted_fd); /* the adopted process reads EOF and exits */
		adopted_fd = -1;
	}
}

static int quit_at_first_exit(struct lp_supervisor *sv)
{
	end_adopted();
	if (lp_sv_running(sv) == 0)
		sv->quit = true;
	return 20;
}

/* Its end is seen through its pidfd, and recorded as unknown: never a made-up 0. */
static void test_adopted_exit_unknown(void **state)
{
	struct lp_container ct, seen;
	struct lp_err err = { 0 };
	pid_t pid;

	(void)state;
	pid = make_adopted("lost", (struct lp_restart){ .policy = LP_RESTART_NO }, &ct);
	supervise_adopted(&ct, quit_at_first_exit);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(lp_ct_load(&host, "lost", &seen, &err), 0);
	assert_int_equal(seen.st.status, LP_CT_EXITED);
	assert_true(seen.st.exit_unknown);
	assert_false(lp_ct_exit_known(&seen));
	lp_ct_free(&seen);
}

static int quit_when_given_up(struct lp_supervisor *sv)
{
	end_adopted();
	if (!lp_sv_has(sv, "retried"))
		sv->quit = true;
	return 20;
}

/*
 * An unknown end counts as a failure for on-failure; a start that fails
 * counts as a failed run, until the retries are used up.
 */
static void test_adopted_on_failure_gives_up(void **state)
{
	struct lp_restart r = { .policy = LP_RESTART_ON_FAILURE, .max_retries = 2 };
	struct lp_container ct, seen;
	struct lp_err err = { 0 };
	pid_t pid;

	(void)state;
	pid = make_adopted("retried", r, &ct);
	supervise_adopted(&ct, quit_when_given_up);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(lp_ct_load(&host, "retried", &seen, &err), 0);
	assert_int_equal(seen.st.status, LP_CT_EXITED);
	assert_int_equal(seen.st.restarts, 2);
	assert_true(seen.st.exit_code == 127 || seen.st.exit_code == 126);
	lp_ct_free(&seen);
}

/* Adopting a process that is gone already is refused, naming the container. */
static void test_adopt_gone(void **state)
{
	struct lp_container ct;
	struct lp_supervisor sv;
	struct lp_err err = { 0 };
	pid_t pid;

	(void)state;
	pid = make_adopted("gone", (struct lp_restart){ .policy = LP_RESTART_ALWAYS }, &ct);
	end_adopted();
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(lp_sv_init(&sv, &host, false, &err), 0);
	assert_int_equal(lp_sv_adopt(&sv, &ct, &err), -1);
	assert_int_equal(err.code, ESRCH);
	assert_non_null(strstr(err.msg, "container gone: its process is gone"));
	assert_false(lp_sv_has(&sv, "gone"));
	lp_sv_free(&sv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_no),
		cmocka_unit_test(test_restart_always_backoff),
		cmocka_unit_test(test_restart_stop_requested),
		cmocka_unit_test(test_restart_on_failure),
		cmocka_unit_test_setup_teardown(test_worker_restarted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_ends_agent_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopted_exit_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopted_on_failure_gives_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_gone, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
