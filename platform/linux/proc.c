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

/* Fields 3 (state) and 22 (starttime) of /proc/PID/stat; 0 when it is gone. */
static unsigned long long read_stat(pid_t pid, char *state)
{
	char path[64], buf[1024];
	unsigned long long start = 0;
	cleanup_fd int fd = -1;
	ssize_t n;
	char *p;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may contain spaces and ')': the fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || !p[1] || !p[2])
		return 0;
	p += 2;
	*state = *p;
	for (field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || sscanf(p, "%llu", &start) != 1)
		return 0;
	return start;
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
