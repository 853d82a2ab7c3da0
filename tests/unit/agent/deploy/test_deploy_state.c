// SPDX-License-Identifier: Apache-2.0
/*
 * The deployment slots (current/previous/staging) and their switches, the
 * fleet poller's backoff, and the status report it builds.
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/config/host.h"
#include "agent/config/config.h"
#include "agent/deploy/deploy.h"
#include "agent/deploy/deploy_internal.h"
#include "agent/deploy/deploy_state.h"
#include "agent/fleet/fleet.h"
#include "agent/fleet/status.h"
#include "agent/trust/trust.h"
#include "platform/lib/util.h"

static char dir[] = "/tmp/limpet-dstate-XXXXXX";
static struct lp_host host;

static int setup(void **state)
{
	struct lp_err err;

	if (!mkdtemp(dir))
		return -1;
	snprintf(host.root, sizeof(host.root), "%s/root", dir);
	snprintf(host.run_dir, sizeof(host.run_dir), "%s/root/run", dir);
	return lp_config_defaults(&host.cfg, &err);
}

static int teardown(void **state)
{
	struct lp_err err;

	lp_config_free(&host.cfg);
	lp_remove_tree(dir, &err);
	return 0;
}

/* A minimal valid document of this version, written to dir/NAME (with a stand-in .sig). */
static void write_doc(const char *name, int version, unsigned char digest[LP_SHA256_LEN])
{
	char path[PATH_MAX], sig[PATH_MAX + 8], doc[512];
	struct lp_sha256 h;
	struct lp_err err;
	int n;

	n = snprintf(doc, sizeof(doc),
		     "{\"version\": %d, \"expires\": \"2099-01-01T00:00:00Z\", "
		     "\"target\": {\"devices\": [\"pi\"]}, \"containers\": []}",
		     version);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(sig, sizeof(sig), "%s.sig", path);
	assert_int_equal(lp_write_file(path, doc, (size_t)n, &err), 0);
	assert_int_equal(lp_write_file(sig, "sig", 3, &err), 0);
	lp_sha256_init(&h);
	lp_sha256_update(&h, doc, (size_t)n);
	assert_int_equal(lp_sha256_final(&h, digest, &err), 0);
	lp_sha256_free(&h);
}

static int64_t slot_version(struct lp_dstate *ds, const char *slot)
{
	struct lp_dslot s;
	struct lp_err err;
	int64_t v;

	if (lp_dstate_load(ds, slot, &s, &err) < 0) {
		assert_int_equal(err.code, ENOENT);
		return 0;
	}
	v = s.d.version;
	lp_dslot_free(&s);
	return v;
}

static void stage(struct lp_dstate *ds, int version)
{
	unsigned char digest[LP_SHA256_LEN];
	char path[PATH_MAX], name[32];
	struct lp_err err = { 0 };

	snprintf(name, sizeof(name), "d%d.json", version);
	write_doc(name, version, digest);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (lp_dstate_stage(ds, path, NULL, version, digest, &err) < 0)
		fail_msg("%s", err.msg);
}

/* 0 when another process can take the lock now, else the errno it got. */
static int lock_from_another_process(void)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct lp_dstate ds;
		struct lp_err err = { 0 };

		if (lp_dstate_open(&host, &ds, false, &err) < 0)
			_exit(err.code > 0 && err.code < 256 ? err.code : 255);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* What the switch does once every new container is healthy. */
static void commit(struct lp_dstate *ds)
{
	char cur[NAME_MAX + 1], next[NAME_MAX + 1];
	struct lp_err err = { 0 }, ignored;

	assert_int_equal(lp_dstate_slot_target(ds, "staging", next, sizeof(next), &err), 0);
	if (lp_dstate_slot_target(ds, "current", cur, sizeof(cur), &ignored) < 0)
		cur[0] = '\0';
	assert_int_equal(lp_dstate_commit(ds, cur, next, &err), 0);
	/* A commit cut short is finished by doing it again: that changes nothing. */
	assert_int_equal(lp_dstate_commit(ds, cur, next, &err), 0);
	lp_dstate_prune(ds);
}

static void test_slots_switch(void **state)
{
	struct lp_dstate ds;
	struct lp_err err = { 0 };
	char link[PATH_MAX + 32];

	assert_int_equal(lp_dstate_open(&host, &ds, false, &err), 0);
	assert_int_equal(slot_version(&ds, "current"), 0);

	/* A second applier is turned away at once, not queued. */
	assert_int_equal(lock_from_another_process(), EBUSY);

	stage(&ds, 1);
	assert_int_equal(slot_version(&ds, "staging"), 1);
	commit(&ds);
	assert_int_equal(slot_version(&ds, "current"), 1);
	assert_int_equal(slot_version(&ds, "previous"), 0);
	assert_int_equal(slot_version(&ds, "staging"), 0);

	stage(&ds, 2);
	commit(&ds);
	stage(&ds, 3);
	commit(&ds);
	assert_int_equal(slot_version(&ds, "current"), 3);
	assert_int_equal(slot_version(&ds, "previous"), 2);

	/* Only the kept versions stay on disk. */
	snprintf(link, sizeof(link), "%s/deployments/v1-", host.root);
	{
		char cmd[PATH_MAX + 128];

		snprintf(cmd, sizeof(cmd), "test -z \"$(ls -d %s* 2>/dev/null)\"", link);
		assert_int_equal(system(cmd), 0);
	}

	/* A failed switch leaves current and previous as they were. */
	stage(&ds, 4);
	assert_int_equal(lp_dstate_unstage(&ds, &err), 0);
	lp_dstate_prune(&ds);
	assert_int_equal(slot_version(&ds, "current"), 3);
	assert_int_equal(slot_version(&ds, "previous"), 2);
	assert_int_equal(slot_version(&ds, "staging"), 0);
	lp_dstate_close(&ds);
}

/*
 * A child forked while the lock is held (a health probe between fork and
 * exec) must not keep it once the applier is gone.
 */
static void test_lock_not_inherited(void **state)
{
	struct lp_dstate ds;
	struct lp_err err = { 0 };
	pid_t child;

	assert_int_equal(lp_dstate_open(&host, &ds, false, &err), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		/* Gone with the test, even when an assert below fails. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pause();
		_exit(0);
	}
	lp_dstate_close(&ds);
	assert_int_equal(lock_from_another_process(), 0);
	kill(child, SIGKILL);
	assert_int_equal(waitpid(child, NULL, 0), child);
}

static void test_stage_checks_the_copy(void **state)
{
	unsigned char digest[LP_SHA256_LEN];
	struct lp_dstate ds;
	struct lp_err err = { 0 };
	char path[PATH_MAX];

	write_doc("changed.json", 9, digest);
	digest[0] ^= 1; /* as if the file changed after it was verified */
	snprintf(path, sizeof(path), "%s/changed.json", dir);
	assert_int_equal(lp_dstate_open(&host, &ds, true, &err), 0);
	assert_int_equal(lp_dstate_stage(&ds, path, NULL, 9, digest, &err), -1);
	assert_non_null(strstr(err.msg, "changed while it was applied"));
	lp_dstate_close(&ds);
}

static void test_result_round_trip(void **state)
{
	struct lp_dstate ds;
	struct lp_err err = { 0 };
	json_t *j, *back;

	assert_int_equal(lp_dstate_open(&host, &ds, true, &err), 0);
	j = json_pack("{s:i, s:s}", "version", 5, "result", "rolled back");
	assert_int_equal(lp_dstate_save_result(&ds, j, &err), 0);
	back = lp_dstate_load_result(&host);
	assert_non_null(back);
	assert_true(json_equal(j, back));
	json_decref(j);
	json_decref(back);
	lp_dstate_close(&ds);
}

/* A switch's journal, read back for status reports: none is JSON null. */
static void test_journal_status(void **state)
{
	struct lp_dstate ds;
	struct lp_switch sw = { .host = &host, .ds = &ds, .log_prefix = "test" };
	struct lp_err err = { 0 };
	json_t *j;

	assert_int_equal(lp_dstate_open(&host, &ds, false, &err), 0);
	j = lp_journal_status(&ds);
	assert_true(json_is_null(j));
	json_decref(j);

	sw.j.version = 7;
	sw.j.from = 6;
	sw.j.attempt = 2;
	sw.j.state = LP_J_SWITCHING;
	memset(sw.j.sha256, 'a', LP_SHA256_HEX_LEN);
	lp_dstate_dir_name(7, sw.j.sha256, sw.j.dir);
	assert_string_equal(sw.j.dir, "v7-aaaaaaaaaaaa");
	assert_int_equal(lp_journal_step(&sw, &err, "stage %s", sw.j.dir), 0);
	assert_int_equal(lp_journal_set_state(&sw, LP_J_COMMITTING, NULL, "commit", &err), 0);
	j = lp_journal_status(&ds);
	assert_int_equal(json_integer_value(json_object_get(j, "version")), 7);
	assert_int_equal(json_integer_value(json_object_get(j, "attempt")), 2);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "committing");
	json_decref(j);
	assert_int_equal(json_array_size(sw.j.steps), 2);

	assert_int_equal(lp_dstate_remove_file(&ds, "journal.json", &err), 0);
	j = lp_journal_status(&ds);
	assert_true(json_is_null(j));
	json_decref(j);
	lp_journal_free(&sw.j);
	lp_dstate_close(&ds);
}

static void test_backoff(void **state)
{
	/* A normal poll: the interval and up to the jitter. */
	assert_int_equal(lp_fleet_delay_ms(60000, 10000, 0, 0), 60000);
	assert_int_equal(lp_fleet_delay_ms(60000, 10000, 0, 10000), 70000);
	assert_int_equal(lp_fleet_delay_ms(60000, 0, 0, 12345), 60000);
	/* Failures: 5 s, doubling, +-50 %, at most 16 intervals. */
	assert_int_equal(lp_fleet_delay_ms(60000, 10000, 1, 0), 2500);
	assert_int_equal(lp_fleet_delay_ms(60000, 10000, 1, 5000), 7500);
	assert_int_equal(lp_fleet_delay_ms(60000, 10000, 2, 0), 5000);
	assert_int_equal(lp_fleet_delay_ms(60000, 10000, 30, 0), 480000);
	assert_true(lp_fleet_delay_ms(60000, 10000, 30, UINT32_MAX) <= 16 * 60000 * 3 / 2);
	assert_true(lp_fleet_delay_ms(1000, 0, 30, UINT32_MAX) <= 16 * 1000 * 3 / 2);
}

/* Runs after test_slots_switch, which left version 3 current. */
static void test_status_report(void **state)
{
	json_t *j = lp_status_report(&host, "Raspberry Pi 4 Model B", "boom", true), *k;

	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "board")),
			    "Raspberry Pi 4 Model B");
	assert_string_equal(json_string_value(json_object_get(j, "last_error")), "boom");
	assert_non_null(json_object_get(j, "uptime_s"));
	assert_non_null(json_object_get(j, "disk_free_bytes"));
	k = json_object_get(j, "deployment");
	assert_true(json_is_object(json_object_get(k, "current")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(k, "current"),
							    "version")),
			 3);
	json_decref(j);
	/* Without volatile fields, two reports of an unchanged device are equal. */
	j = lp_status_report(&host, "b", NULL, false);
	assert_null(json_object_get(j, "uptime_s"));
	assert_true(json_is_null(json_object_get(j, "last_error")));
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots_switch),
		cmocka_unit_test(test_lock_not_inherited),
		cmocka_unit_test(test_stage_checks_the_copy),
		cmocka_unit_test(test_result_round_trip),
		cmocka_unit_test(test_journal_status),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_status_report),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
