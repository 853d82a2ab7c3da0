// SPDX-License-Identifier: Apache-2.0
/*
 * seccomp-probe NAME...: make the syscalls tests/integration/21-seccomp.t
 * asks about, from inside a container, and print "NAME: ok" or "NAME: ERRNO"
 * (EPERM, ENOSYS...) for each; "NAME: signal N" if the call killed it.
 * Each runs in a child of its own, so a call that works (a personality
 * change, a new namespace) leaves the next one untouched.  Built static:
 * it needs nothing from the image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* open_tree_attr (Linux 6.15): the same number on x86_64 and aarch64. */
#define NR_OPEN_TREE_ATTR 467

#if defined(__x86_64__)
/* The i386 entry point, from 64-bit code: the filter's x86 part answers. */
static long int80(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}
#define I386_SOCKET 359
#define I386_PERSONALITY 136
#endif

/* musl has no strerrorname_np: the names these probes can meet. */
static const char *errno_name(int e)
{
#define E(x) { x, #x }
	static const struct {
		int e;
		const char *name;
	} names[] = {
		E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EBADF), E(EAGAIN), E(ENOMEM), E(EACCES),
		E(EFAULT), E(EBUSY), E(EEXIST), E(ENODEV), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOSPC),
		E(ENOSYS), E(EOPNOTSUPP), E(EAFNOSUPPORT), E(EPROTONOSUPPORT), E(ESOCKTNOSUPPORT),
		E(EPFNOSUPPORT),
	};
#undef E
	static char other[32];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == e)
			return names[i].name;
	snprintf(other, sizeof(other), "errno %d", e);
	return other;
}

static long probe(const char *name)
{
	if (strcmp(name, "getpid") == 0)
		return getpid();
	if (strcmp(name, "inet") == 0)
		return socket(AF_INET, SOCK_STREAM, 0);
	if (strcmp(name, "vsock") == 0)
		return socket(AF_VSOCK, SOCK_STREAM, 0);
	if (strcmp(name, "alg") == 0)
		return socket(AF_ALG, SOCK_SEQPACKET, 0);
	if (strcmp(name, "personality-query") == 0)
		return personality(0xffffffff);
	if (strcmp(name, "no-randomize") == 0)
		return personality(PER_LINUX | ADDR_NO_RANDOMIZE);
	if (strcmp(name, "read-implies-exec") == 0)
		return personality(PER_LINUX | READ_IMPLIES_EXEC);
	if (strcmp(name, "open_tree_attr") == 0)
		return syscall(NR_OPEN_TREE_ATTR, -1, "", 0, NULL, 0);
	if (strcmp(name, "nr-1000") == 0)
		return syscall(1000, 0, 0, 0);
	if (strcmp(name, "clone3") == 0)
		return syscall(SYS_clone3, NULL, 0);
	if (strcmp(name, "clone-newuser") == 0) {
		long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);

		if (pid == 0)
			_exit(0);
		if (pid > 0)
			waitpid((pid_t)pid, NULL, 0);
		return pid;
	}
	if (strcmp(name, "fanotify") == 0)
		return syscall(SYS_fanotify_init, FAN_CLASS_NOTIF | FAN_REPORT_FID, O_RDONLY);
	if (strcmp(name, "mbind") == 0)
		return syscall(SYS_mbind, 0, 0, 0, 0, 0, 0);
	if (strcmp(name, "ptrace") == 0)
		return syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
	if (strcmp(name, "io_uring_setup") == 0)
		return syscall(SYS_io_uring_setup, 1, NULL);
#if defined(__x86_64__)
	if (strcmp(name, "i386-getpid") == 0)
		return int80(20, 0, 0, 0);
	if (strcmp(name, "i386-vsock") == 0)
		return int80(I386_SOCKET, AF_VSOCK, SOCK_STREAM, 0);
	if (strcmp(name, "i386-no-randomize") == 0)
		return int80(I386_PERSONALITY, PER_LINUX | ADDR_NO_RANDOMIZE, 0, 0);
	if (strcmp(name, "i386-nr-1000") == 0)
		return int80(1000, 0, 0, 0);
#endif
	errno = EINVAL;
	fprintf(stderr, "seccomp-probe: %s: no such probe\n", name);
	_exit(2);
}

int main(int argc, char **argv)
{
	int i, status;
	pid_t pid;

	setvbuf(stdout, NULL, _IONBF, 0);
	for (i = 1; i < argc; i++) {
		pid = fork();
		if (pid < 0) {
			perror("seccomp-probe: fork");
			return 1;
		}
		if (pid == 0) {
			long rc = probe(argv[i]);

			if (rc < 0)
				printf("%s: %s\n", argv[i], errno_name(errno));
			else
				printf("%s: ok\n", argv[i]);
			_exit(0);
		}
		if (waitpid(pid, &status, 0) < 0) {
			perror("seccomp-probe: waitpid");
			return 1;
		}
		if (WIFSIGNALED(status))
			printf("%s: signal %d\n", argv[i], WTERMSIG(status));
		else if (WEXITSTATUS(status) != 0)
			return WEXITSTATUS(status);
	}
	return 0;
}
