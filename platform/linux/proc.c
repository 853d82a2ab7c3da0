// SPDX-License-Identifier: Apache-2.0
/* Recognising a process again later: pid plus its start time, held by a pidfd. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "platform/lib/util.h"
#include "platform/runtime.h"

/*
 * /proc/PID/stat into buf, returning its fields from the third (state) on,
 * or NULL when the process is gone.  comm may hold spaces and ')': the
 * fields start after the last ')'.
 */
static const char *stat_fields(pid_t pid, char *buf, size_t len)
{
	char path[64];
	cleanup_fd int fd = -1;
	ssize_t n;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, len - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || !p[1] || !p[2])
		return NULL;
	return p + 2;
}

/* The start of field `want` (numbered as proc(5) does) in fields that begin at field 3. */
static const char *field_at(const char *p, int want)
{
	int field;

	for (field = 3; field < want && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return p;
}

/* Fields 3 (state) and 22 (starttime) of /proc/PID/stat; 0 when it is gone. */
static unsigned long long read_stat(pid_t pid, char *state)
{
	char buf[1024];
	unsigned long long start = 0;
	const char *p = stat_fields(pid, buf, sizeof(buf));

	if (!p)
		return 0;
	*state = *p;
	p = field_at(p, 22);
	if (!p || sscanf(p, "%llu", &start) != 1)
		return 0;
	return start;
}

int64_t lp_proc_cpu_us(pid_t pid)
{
	char buf[1024];
	unsigned long long utime, stime;
	const char *p = stat_fields(pid, buf, sizeof(buf));
	long tck = sysconf(_SC_CLK_TCK);

	p = p ? field_at(p, 14) : NULL;
	if (!p || tck <= 0 || sscanf(p, "%llu %llu", &utime, &stime) != 2)
		return -1;
	return (int64_t)((utime + stime) * 1000000ULL / (unsigned long long)tck);
}

unsigned long long lp_proc_starttime(pid_t pid)
{
	char state;

	return read_stat(pid, &state);
}

bool lp_proc_running(pid_t pid, unsigned long long starttime)
{
	char state = 0;

	/* A zombie has exited: only its parent's wait is missing. */
	return pid > 0 && starttime && read_stat(pid, &state) == starttime && state != 'Z' &&
	       state != 'X';
}

int lp_proc_adopt(pid_t pid, unsigned long long starttime, struct lp_proc *proc)
{
	int fd;

	memset(proc, 0, sizeof(*proc));
	proc->pidfd = -1;
	if (pid <= 0)
		return -1;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -1;
	/* Checked after opening: from now on the pid cannot be reused under us. */
	if (lp_proc_starttime(pid) != starttime) {
		close(fd);
		return -1;
	}
	proc->pid = pid;
	proc->pidfd = fd;
	proc->starttime = starttime;
	return 0;
}
