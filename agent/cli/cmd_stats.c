// SPDX-License-Identifier: Apache-2.0
/*
 * stats and top: what running containers use and run, from their cgroups
 * (v1 or v2).  stats as docker stats shows it: CPU over the last interval,
 * memory against its limit, tasks, block I/O; what the host does not say is
 * "--" (null in JSON), never 0.  top lists the processes in a container's
 * cgroup, as the host sees them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/container/container.h"
#include "platform/cgroup.h"
#include "platform/lib/util.h"
#include "platform/runtime.h"

#define INTERVAL_MS 1000

struct sample {
	char name[LP_NAME_MAX + 1];
	bool running;
	struct lp_cgroup_stats now;
	int64_t cpu_before_us;		/* -1: no earlier reading */
	int64_t at_ms, before_ms;
};

static const struct lp_opt stats_opts[] = {
	{ 'n', 0, "no-stream", NULL, "one reading (over a second), not one every second" },
	{ 'j', 0, "json", NULL, "as JSON: an array per reading" },
	{ 0 },
};

static int cmd_stats(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_stats = {
	.name = "stats",
	.operands = "[NAME...]",
	.summary = "Show what running containers use: CPU, memory, tasks, block I/O",
	.opts = stats_opts,
	.notes = "Without NAME, every running container. CPU is a percentage of one CPU\n"
		 "(200% is two CPUs' worth), over the last second.",
	.fn = cmd_stats,
};

/* One reading of one container; a container that is not running reads as unknown. */
static int read_one(struct lp_globals *g, struct sample *s, struct lp_err *err)
{
	struct lp_container ct;
	int rc = 0;

	if (lp_ct_load(&g->host, s->name, &ct, err) < 0)
		return -1;
	s->before_ms = s->at_ms;
	s->cpu_before_us = s->running ? s->now.cpu_usage_us : -1;
	s->at_ms = lp_now_ms();
	s->running = lp_ct_alive(&ct) && ct.st.cgroup[0];
	s->now = (struct lp_cgroup_stats){ -1, -1, -1, -1, -1, -1 };
	if (s->running && lp_cgroup_stats(ct.st.cgroup, &s->now, err) < 0)
		rc = lp_prefix(err, "container %s", s->name);
	lp_ct_free(&ct);
	return rc;
}

static double cpu_percent(const struct sample *s)
{
	if (!s->running || s->now.cpu_usage_us < 0 || s->cpu_before_us < 0 ||
	    s->at_ms <= s->before_ms)
		return -1;
	return (double)(s->now.cpu_usage_us - s->cpu_before_us) * 100.0 /
	       ((double)(s->at_ms - s->before_ms) * 1000.0);
}

static json_t *number(int64_t v)
{
	return v < 0 ? json_null() : json_integer((json_int_t)v);
}

static json_t *sample_json(const struct sample *s)
{
	double cpu = cpu_percent(s);
	const struct lp_cgroup_stats *n = &s->now;

	return json_pack("{s:s, s:b, s:o, s:{s:o, s:o}, s:o, s:{s:o, s:o}}", "name", s->name,
			 "running", s->running, "cpu_percent",
			 cpu < 0 ? json_null() : json_real(cpu), "memory", "usage",
			 number(n->memory_bytes), "limit", number(n->memory_limit), "pids",
			 number(n->pids), "io", "read", number(n->io_read_bytes), "write",
			 number(n->io_write_bytes));
}

/* Bytes as docker stats writes them: 1.5MiB, 32MiB, 812kB for I/O. */
static void size_text(char *buf, size_t len, int64_t v, bool binary)
{
	static const char *const bin[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	static const char *const dec[] = { "B", "kB", "MB", "GB", "TB" };
	double d = (double)v, unit = binary ? 1024.0 : 1000.0;
	int i = 0;

	if (v < 0) {
		snprintf(buf, len, "--");
		return;
	}
	while (d >= unit && i < 4) {
		d /= unit;
		i++;
	}
	snprintf(buf, len, i ? "%.4g%s" : "%.0f%s", d, binary ? bin[i] : dec[i]);
}

static void print_table(const struct sample *v, size_t n)
{
	size_t i;

	printf("%-20s %8s %21s %8s %6s %21s\n", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %",
	       "PIDS", "BLOCK I/O");
	for (i = 0; i < n; i++) {
		const struct lp_cgroup_stats *st = &v[i].now;
		char cpu[24] = "--", mem[16], lim[16], memp[24] = "--", pids[24] = "--";
		char rd[16], wr[16], col[40];
		double c = cpu_percent(&v[i]);

		if (c >= 0)
			snprintf(cpu, sizeof(cpu), "%.2f%%", c);
		size_text(mem, sizeof(mem), st->memory_bytes, true);
		size_text(lim, sizeof(lim), st->memory_limit, true);
		if (st->memory_bytes >= 0 && st->memory_limit > 0)
			snprintf(memp, sizeof(memp), "%.2f%%",
				 (double)st->memory_bytes * 100.0 / (double)st->memory_limit);
		if (st->pids >= 0)
			snprintf(pids, sizeof(pids), "%lld", (long long)st->pids);
		size_text(rd, sizeof(rd), st->io_read_bytes, false);
		size_text(wr, sizeof(wr), st->io_write_bytes, false);
		snprintf(col, sizeof(col), "%s / %s", mem, lim);
		printf("%-20s %8s %21s %8s %6s ", v[i].name, cpu, col, memp, pids);
		snprintf(col, sizeof(col), "%s / %s", rd, wr);
		printf("%21s\n", col);
	}
}

static int print_json(const struct sample *v, size_t n, bool pretty)
{
	json_t *all = json_array();
	char *s;
	size_t i;

	for (i = 0; all && i < n; i++)
		json_array_append_new(all, sample_json(&v[i]));
	s = all ? json_dumps(all, pretty ? JSON_INDENT(2) : JSON_COMPACT) : NULL;
	json_decref(all);
	if (!s)
		return -1;
	printf("%s\n", s);
	free(s);
	return 0;
}

/* The named containers, or every running one. */
static int pick(struct lp_globals *g, int argc, char **argv, struct sample **v, size_t *n,
		struct lp_err *err)
{
	char **names = NULL;
	size_t i, count = 0;

	*v = NULL;
	*n = 0;
	if (argc == 0 && lp_ct_names(&g->host, &names, &count, err) < 0)
		return -1;
	if (argc > 0)
		count = (size_t)argc;
	*v = calloc(count ? count : 1, sizeof(**v));
	if (!*v) {
		lp_ct_names_free(names, names ? count : 0);
		return lp_fail(err, ENOMEM, "out of memory");
	}
	for (i = 0; i < count; i++) {
		struct sample *s = &(*v)[*n];

		snprintf(s->name, sizeof(s->name), "%s", argc ? argv[i] : names[i]);
		if (read_one(g, s, err) < 0) {
			lp_ct_names_free(names, names ? count : 0);
			free(*v);
			return -1;
		}
		/* Asked for by name, shown whatever its state; else only the running ones. */
		if (argc || s->running)
			(*n)++;
	}
	lp_ct_names_free(names, names ? count : 0);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int cmd_stats(int argc, char **argv, struct lp_globals *g)
{
	struct lp_err err = { 0 };
	struct lp_opts p;
	struct sample *v;
	bool stream = true, as_json = false, tty = isatty(STDOUT_FILENO);
	size_t n, i;
	int opt, rc = 0;

	lp_opts_init(&p, &lp_doc_stats, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0) {
		stream = stream && opt != 'n';
		as_json = as_json || opt == 'j';
	}
	if (opt == LP_OPT_EXIT)
		return p.status;
	if (pick(g, argc - p.ind, argv + p.ind, &v, &n, &err) < 0)
		return lp_cmd_fail("stats", &err);
	do {
		/* CPU is a rate: the first reading only starts the interval. */
		sleep_ms(INTERVAL_MS);
		for (i = 0; i < n && rc == 0; i++)
			if (read_one(g, &v[i], &err) < 0)
				rc = lp_cmd_fail("stats", &err);
		if (rc)
			break;
		if (stream && tty && !as_json)
			printf("\033[H\033[2J");
		if (as_json)
			rc = print_json(v, n, !stream) < 0 ? LP_EXIT_FAILURE : 0;
		else
			print_table(v, n);
		fflush(stdout);
	} while (stream && rc == 0);
	free(v);
	return rc;
}

/* ---------------------------------------------------------------- top */

/* /proc/PID/NAME into buf, NUL-terminated; its length, 0 if it cannot be read. */
static size_t read_proc(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64];
	cleanup_fd int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

/* One process: its host pid, owner, CPU time and command line ([comm] for a kernel-ish one). */
static void print_process(pid_t pid)
{
	char path[64], cmd[256], comm[64], when[32];
	struct stat st;
	int64_t us = lp_proc_cpu_us(pid);
	size_t n, i;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (stat(path, &st) < 0 || us < 0)
		return; /* gone since the list was read */
	n = read_proc(pid, "cmdline", cmd, sizeof(cmd));
	for (i = 0; i + 1 < n; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	if (!n) {
		read_proc(pid, "comm", comm, sizeof(comm));
		comm[strcspn(comm, "\n")] = '\0';
		snprintf(cmd, sizeof(cmd), "[%s]", comm);
	}
	snprintf(when, sizeof(when), "%lld:%02lld", (long long)(us / 60000000),
		 (long long)(us / 1000000 % 60));
	printf("%-8d %-8u %8s  %s\n", (int)pid, (unsigned)st.st_uid, when, cmd);
}

/* The processes of the cgroup at dir and of those below it. */
static int list_processes(const char *dir, int depth, struct lp_err *err)
{
	char path[PATH_MAX];
	cleanup_free char *text = NULL;
	char *line, *save = NULL;
	struct dirent *de;
	DIR *d;

	if (depth > 16)
		return 0;
	if (lp_path(path, sizeof(path), err, "%s/cgroup.procs", dir) < 0 ||
	    lp_read_file(path, 1 << 20, &text, NULL, err) < 0)
		return -1;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		print_process((pid_t)strtol(line, NULL, 10));
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (lp_path(path, sizeof(path), err, "%s/%s", dir, de->d_name) < 0 ||
		    list_processes(path, depth + 1, err) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

static int cmd_top(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_top = {
	.name = "top",
	.operands = "NAME",
	.summary = "List the processes of a running container, as the host sees them",
	.notes = "PID is the host's; UID is the host's view of the process's owner.",
	.fn = cmd_top,
};

static int cmd_top(int argc, char **argv, struct lp_globals *g)
{
	struct lp_container ct;
	struct lp_err err = { 0 };
	char dir[PATH_MAX];
	int first = 0, rc = lp_opts_none(&lp_doc_top, argc, argv, &first);

	if (rc >= 0)
		return rc;
	if (argc - first != 1)
		return lp_usage_error("top", "needs exactly one container NAME");
	if (lp_ct_load(&g->host, argv[first], &ct, &err) < 0)
		return lp_cmd_fail("top", &err);
	if (!lp_ct_alive(&ct) || !ct.st.cgroup[0]) {
		lp_fail(&err, ESRCH, "container %s is not running", ct.cfg.name);
		rc = lp_cmd_fail("top", &err);
	} else if (lp_cgroup_dir(ct.st.cgroup, "pids", dir, sizeof(dir), &err) < 0) {
		rc = lp_cmd_fail("top", &err);
	} else {
		printf("%-8s %-8s %8s  %s\n", "PID", "UID", "TIME", "COMMAND");
		rc = list_processes(dir, 0, &err) < 0 ? lp_cmd_fail("top", &err) : 0;
	}
	lp_ct_free(&ct);
	return rc;
}
