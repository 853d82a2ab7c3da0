// SPDX-License-Identifier: Apache-2.0
/*
 * Default seccomp profile: an allowlist, with Docker's default profile as the
 * reference, taken as it stands for Docker's default capability set (caps.c):
 * the syscalls it allows, with the same argument filters.  Where limpet is
 * stricter, it says why below and README.md ("Seccomp") lists it.
 * tests/unit/platform/linux/test_seccomp_docker.c compares the filter with Docker's profile,
 * syscall by syscall, on every architecture limpet builds.
 *
 * What is not listed fails with ENOSYS, as if the kernel were too old for
 * it: a libc meeting a syscall newer than this list (faccessat2, clone3...)
 * falls back to an older one.  Syscalls Docker refuses a container with its
 * default capabilities, and those limpet refuses on purpose, fail with EPERM,
 * the answer a program gets under Docker.
 */
#include "platform/linux/linux.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <stdint.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <unistd.h>

#include "platform/lib/util.h"

/* Allowed with any arguments, on every architecture that has them. */
static const char *const allowed[] = {
	"_llseek", "_newselect", "accept", "accept4", "access", "alarm", "bind", "brk",
	"cachestat", "capget", "capset", "chdir", "chmod", "chown", "chown32", "chroot",
	"clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
	"clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect",
	"copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
	"epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
	"epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
	"faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark",
	"fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl",
	"fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
	"fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync",
	"ftruncate", "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait",
	"futex_waitv", "futex_wake", "futimesat", "get_robust_list", "get_thread_area",
	"getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32", "geteuid",
	"geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer",
	"getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom",
	"getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "getrusage",
	"getsid", "getsockname", "getsockopt", "gettid", "gettimeofday", "getuid", "getuid32",
	"getxattr", "getxattrat", "inotify_add_watch", "inotify_init", "inotify_init1",
	"inotify_rm_watch", "io_cancel", "io_destroy", "io_getevents", "io_pgetevents",
	"io_pgetevents_time64", "io_setup", "io_submit", "ioctl", "ioprio_get", "ioprio_set",
	"ipc", "kill", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
	"lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listmount", "listxattr",
	"listxattrat", "llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64",
	"madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore",
	"mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
	"mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
	"mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap",
	"mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall",
	"munmap", "name_to_handle_at", "nanosleep", "newfstatat", "open", "openat", "openat2",
	"pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
	"pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv",
	"preadv2", "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64",
	"pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recv",
	"recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr",
	"removexattrat", "rename", "renameat", "renameat2", "restart_syscall", "rmdir", "rseq",
	"rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
	"rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
	"sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity",
	"sched_getattr", "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
	"sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
	"sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop",
	"semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
	"sendmsg", "sendto", "set_robust_list", "set_thread_area", "set_tid_address",
	"setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
	"setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
	"setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
	"setrlimit", "setsid", "setsockopt", "setuid", "setuid32", "setxattr", "setxattrat",
	"shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd",
	"signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice", "stat",
	"stat64", "statfs", "statfs64", "statmount", "statx", "symlink", "symlinkat", "sync",
	"sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
	"timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
	"timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
	"timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
	"ugetrlimit", "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime", "utimensat",
	"utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid",
	"write", "writev",
};

/* EPERM: what Docker grants only with capabilities a container lacks here. */
static const char *const refused[] = {
	/* CAP_SYS_ADMIN: mounts, namespaces, names; the view of the world is limpet's */
	"mount", "umount", "umount2", "move_mount", "open_tree", "fsopen", "fsconfig",
	"fsmount", "fspick", "mount_setattr", "setns", "unshare", "sethostname",
	"setdomainname", "quotactl", "quotactl_fd", "lookup_dcookie", "fanotify_init",
	"lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules",
	/* CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON, CAP_SYSLOG: the kernel's own state */
	"bpf", "perf_event_open", "syslog",
	/* CAP_SYS_MODULE, CAP_SYS_BOOT, CAP_SYS_PACCT, CAP_SYS_RAWIO, CAP_SYS_TTY_CONFIG */
	"init_module", "finit_module", "delete_module", "reboot", "acct", "iopl", "ioperm",
	"vhangup",
	/* CAP_SYS_TIME: clocks are host-wide */
	"settimeofday", "stime", "clock_settime", "clock_settime64",
	/* CAP_SYS_PTRACE: other processes' memory and files */
	"kcmp", "pidfd_getfd", "process_madvise",
	/* CAP_SYS_NICE: NUMA placement reaches memory other containers use */
	"get_mempolicy", "set_mempolicy", "set_mempolicy_home_node", "mbind",
	/* CAP_DAC_READ_SEARCH: file handles bypass the mount view (the "shocker" escape) */
	"open_by_handle_at",

	/*
	 * Absent from Docker's profile (so EPERM there too), named here so that
	 * they fail as they do under Docker rather than as "too new".
	 */
	"pivot_root", "kexec_load", "kexec_file_load", "create_module", "query_module",
	"get_kernel_syms", "swapon", "swapoff", "nfsservctl", "sysfs", "_sysctl", "uselib",
	"ustat", "vm86", "vm86old", "migrate_pages", "move_pages",
	/* keys are not namespaced */
	"keyctl", "add_key", "request_key",
	/* page faults handled in user space make kernel races easy to win */
	"userfaultfd",

	/*
	 * limpet's own, stricter than Docker (README.md, "Seccomp"):
	 * ptrace, which Docker allows on kernels from 4.8, and the process_vm_*
	 * calls that read and write another process's memory the same way;
	 */
	"ptrace", "process_vm_readv", "process_vm_writev",
	/* io_uring, a large attack surface that bypasses syscall filtering; */
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	/* the clock-adjusting calls Docker allows (read-only without CAP_SYS_TIME). */
	"adjtimex", "clock_adjtime", "clock_adjtime64",
};

/* The native architecture a rule is for (Docker's "arches" includes). */
enum rule_arch { ANY, X86, ARM };

struct rule {
	const char *name;
	int err;		/* 0: allowed; otherwise refused with this errno */
	enum rule_arch only;
	/*
	 * Not for the i386 entry point: there libseccomp gives each socket()
	 * rule a socketcall(SYS_SOCKET) twin, with the family unseen, and the
	 * twin of a refusal would contradict the twins of the ALLOWs.  Those
	 * families fall to the default there (ENOSYS instead of EPERM).
	 */
	bool not_i386;
	bool has_arg;
	struct scmp_arg_cmp arg;
};

/* Argument 0 compared with op to a (masked with a, compared to b for MASKED_EQ). */
#define A0(o, a, b) { .arg = 0, .op = o, .datum_a = (a), .datum_b = (b) }
#define ALLOW_IF(n, o, a, b) { .name = n, .has_arg = true, .arg = A0(o, a, b) }
#define REFUSE_IF(n, o, a, b) { .name = n, .err = EPERM, .has_arg = true, .arg = A0(o, a, b) }
#define ONLY(n, o) { .name = n, .only = o }

/* Namespaces clone must not create without CAP_SYS_ADMIN. */
#define CLONE_NS_FLAGS                                                              \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | \
	 CLONE_NEWNET | CLONE_NEWCGROUP)


static const struct rule special[] = {
	/* Each architecture's own calls, where Docker allows them. */
	ONLY("arch_prctl", X86), ONLY("modify_ldt", X86),
	ONLY("arm_fadvise64_64", ARM), ONLY("arm_sync_file_range", ARM),
	ONLY("sync_file_range2", ARM), ONLY("breakpoint", ARM), ONLY("cacheflush", ARM),
	ONLY("set_tls", ARM),

	/*
	 * The execution domains programs use; not ADDR_NO_RANDOMIZE,
	 * READ_IMPLIES_EXEC and the like.  Other values get the default
	 * (ENOSYS; Docker: EPERM): libseccomp cannot say "none of these".
	 */
	ALLOW_IF("personality", SCMP_CMP_EQ, PER_LINUX, 0),
	ALLOW_IF("personality", SCMP_CMP_EQ, PER_LINUX32, 0),
	ALLOW_IF("personality", SCMP_CMP_EQ, UNAME26, 0),
	ALLOW_IF("personality", SCMP_CMP_EQ, UNAME26 | PER_LINUX32, 0),
	ALLOW_IF("personality", SCMP_CMP_EQ, 0xffffffff, 0), /* a query */

	/*
	 * Every socket family but AF_ALG (the kernel's crypto API, a steady
	 * source of kernel bugs) and AF_VSOCK (it reaches the hypervisor and
	 * the host past the network namespace).  i386's socketcall(SYS_SOCKET)
	 * keeps the family in memory, out of seccomp's sight: Docker leaves that
	 * to AppArmor, and limpet has no LSM (README.md, "Seccomp").
	 */
	ALLOW_IF("socket", SCMP_CMP_LT, AF_ALG, 0),
	ALLOW_IF("socket", SCMP_CMP_EQ, AF_ALG + 1, 0),
	ALLOW_IF("socket", SCMP_CMP_GT, AF_VSOCK, 0),
	{ .name = "socket", .err = EPERM, .not_i386 = true, .has_arg = true,
	  .arg = A0(SCMP_CMP_EQ, AF_ALG, 0) },
	{ .name = "socket", .err = EPERM, .not_i386 = true, .has_arg = true,
	  .arg = A0(SCMP_CMP_EQ, AF_VSOCK, 0) },

	/* clone without new namespaces; clone3 hides its flags in memory: ENOSYS. */
	ALLOW_IF("clone", SCMP_CMP_MASKED_EQ, CLONE_NS_FLAGS, 0),
	REFUSE_IF("clone", SCMP_CMP_MASKED_EQ, CLONE_NEWNS, CLONE_NEWNS),
	REFUSE_IF("clone", SCMP_CMP_MASKED_EQ, CLONE_NEWUTS, CLONE_NEWUTS),
	REFUSE_IF("clone", SCMP_CMP_MASKED_EQ, CLONE_NEWIPC, CLONE_NEWIPC),
	REFUSE_IF("clone", SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER),
	REFUSE_IF("clone", SCMP_CMP_MASKED_EQ, CLONE_NEWPID, CLONE_NEWPID),
	REFUSE_IF("clone", SCMP_CMP_MASKED_EQ, CLONE_NEWNET, CLONE_NEWNET),
	REFUSE_IF("clone", SCMP_CMP_MASKED_EQ, CLONE_NEWCGROUP, CLONE_NEWCGROUP),
	{ .name = "clone3", .err = ENOSYS },
};

static enum rule_arch family(uint32_t native)
{
	switch (native) {
	case SCMP_ARCH_X86_64:
		return X86;
	case SCMP_ARCH_AARCH64:
		return ARM;
	default:
		return ANY;
	}
}

static int add_rule(scmp_filter_ctx ctx, const struct rule *r, struct lp_err *err)
{
	uint32_t action = r->err ? SCMP_ACT_ERRNO((uint32_t)r->err) : SCMP_ACT_ALLOW;
	/* The number is this machine's (or a pseudo one): libseccomp maps it by name. */
	int nr = seccomp_syscall_resolve_name(r->name), rc;

	/* Unknown to this libseccomp: it cannot be allowed, and stays ENOSYS. */
	if (nr == __NR_SCMP_ERROR)
		return 0;
	rc = seccomp_rule_add(ctx, action, nr, r->has_arg ? 1 : 0, r->arg);
	/* -EDOM: not a syscall of any architecture in this filter. */
	if (rc < 0 && rc != -EDOM)
		return lp_fail(err, -rc, "seccomp: rule for %s: %s", r->name, strerror(-rc));
	return 0;
}

/* The profile for arches, on a board of the family native belongs to. */
static scmp_filter_ctx build_arches(enum rule_arch fam, const uint32_t *arches, size_t n,
				    struct lp_err *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
	bool i386 = false, has_native = false;
	struct rule r = { 0 };
	size_t i;
	int rc;

	if (!ctx) {
		lp_fail(err, ENOMEM, "seccomp: cannot create filter");
		return NULL;
	}
	for (i = 0; i < n; i++) {
		rc = seccomp_arch_add(ctx, arches[i]);
		if (rc < 0 && rc != -EEXIST) {
			lp_fail(err, -rc, "seccomp: add architecture %#x: %s", arches[i],
				strerror(-rc));
			goto fail;
		}
		i386 |= arches[i] == SCMP_ARCH_X86;
		has_native |= arches[i] == seccomp_arch_native();
	}
	/* A filter for another board (the unit test's) or entry point drops this one's. */
	if (!has_native && (rc = seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE)) < 0) {
		lp_fail(err, -rc, "seccomp: remove native architecture: %s", strerror(-rc));
		goto fail;
	}
	for (i = 0; i < ARRAY_SIZE(allowed); i++) {
		r.name = allowed[i];
		if (add_rule(ctx, &r, err) < 0)
			goto fail;
	}
	r.err = EPERM;
	for (i = 0; i < ARRAY_SIZE(refused); i++) {
		r.name = refused[i];
		if (add_rule(ctx, &r, err) < 0)
			goto fail;
	}
	for (i = 0; i < ARRAY_SIZE(special); i++) {
		const struct rule *s = &special[i];

		if ((s->only != ANY && s->only != fam) || (s->not_i386 && i386))
			continue;
		/* The default says it already (libseccomp refuses a rule that repeats it). */
		if (s->err == ENOSYS && !s->has_arg)
			continue;
		if (add_rule(ctx, s, err) < 0)
			goto fail;
	}
	return ctx;
fail:
	seccomp_release(ctx);
	return NULL;
}

/*
 * The filter for a board whose native architecture is native, with its 32-bit
 * entry points (armhf images on a Pi 4): x86_64 and x32, then i386 on its own
 * (see not_i386) merged in; aarch64 and arm.
 */
static scmp_filter_ctx build(uint32_t native, struct lp_err *err)
{
	static const uint32_t x86[] = { SCMP_ARCH_X86_64, SCMP_ARCH_X32 };
	static const uint32_t i386[] = { SCMP_ARCH_X86 };
	static const uint32_t arm[] = { SCMP_ARCH_AARCH64, SCMP_ARCH_ARM };
	scmp_filter_ctx ctx, more;
	int rc;

	switch (family(native)) {
	case ARM:
		return build_arches(ARM, arm, ARRAY_SIZE(arm), err);
	case X86:
		ctx = build_arches(X86, x86, ARRAY_SIZE(x86), err);
		more = ctx ? build_arches(X86, i386, ARRAY_SIZE(i386), err) : NULL;
		if (!more)
			break;
		rc = seccomp_merge(ctx, more);
		if (rc == 0)
			return ctx;
		seccomp_release(more);
		lp_fail(err, -rc, "seccomp: merge the i386 filter: %s", strerror(-rc));
		break;
	default:
		return build_arches(ANY, &native, 1, err);
	}
	if (ctx)
		seccomp_release(ctx);
	return NULL;
}

int lp_seccomp_export_bpf(uint32_t native, int fd, struct lp_err *err)
{
	scmp_filter_ctx ctx = build(native, err);
	int rc;

	if (!ctx)
		return -1;
	rc = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	if (rc < 0)
		return lp_fail(err, -rc, "seccomp: export filter: %s", strerror(-rc));
	return 0;
}

/*
 * Building the filter costs libseccomp tens of milliseconds on a board (more
 * than a whole container start), so it is built once per process and kept
 * as BPF, and kept on disk too (cache_dir: the run-time directory, root's)
 * for the next limpet process: a container start, a probe or a PID 1 then
 * only loads it.  The file's name hashes everything the program is made of,
 * so another rule table, libseccomp or limpet never reads a stale one.
 */
static struct sock_filter *prepared;
static size_t prepared_len; /* instructions */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

static uint64_t rules_key(void)
{
	const struct scmp_version *v = seccomp_version();
	uint64_t h = 0xcbf29ce484222325ULL;
	uint32_t native = seccomp_arch_native();
	size_t i;

	h = fnv(h, LIMPET_VERSION, strlen(LIMPET_VERSION));
	h = fnv(h, &native, sizeof(native));
	if (v)
		h = fnv(h, v, sizeof(*v));
	for (i = 0; i < ARRAY_SIZE(allowed); i++)
		h = fnv(h, allowed[i], strlen(allowed[i]) + 1);
	for (i = 0; i < ARRAY_SIZE(refused); i++)
		h = fnv(h, refused[i], strlen(refused[i]) + 1);
	for (i = 0; i < ARRAY_SIZE(special); i++) {
		const struct rule *r = &special[i];

		h = fnv(h, r->name, strlen(r->name) + 1);
		h = fnv(h, &r->err, sizeof(r->err));
		h = fnv(h, &r->only, sizeof(r->only));
		h = fnv(h, &r->not_i386, sizeof(r->not_i386));
		h = fnv(h, &r->has_arg, sizeof(r->has_arg));
		h = fnv(h, &r->arg.arg, sizeof(r->arg.arg));
		h = fnv(h, &r->arg.op, sizeof(r->arg.op));
		h = fnv(h, &r->arg.datum_a, sizeof(r->arg.datum_a));
		h = fnv(h, &r->arg.datum_b, sizeof(r->arg.datum_b));
	}
	return h;
}

static int take_program(char *buf, size_t len)
{
	if (!len || len % sizeof(struct sock_filter) || len / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		free(buf);
		return -1;
	}
	prepared = (struct sock_filter *)(void *)buf;
	prepared_len = len / sizeof(struct sock_filter);
	return 0;
}

/* The cached program, if root wrote it and nobody else can have changed it. */
static int read_cached(const char *path)
{
	cleanup_fd int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	char *buf;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 022) || st.st_size <= 0 ||
	    (size_t)st.st_size > BPF_MAXINSNS * sizeof(struct sock_filter))
		return -1;
	buf = malloc((size_t)st.st_size);
	if (!buf)
		return -1;
	if (lp_pread_all(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		free(buf);
		return -1;
	}
	return take_program(buf, (size_t)st.st_size);
}

int lp_seccomp_prepare(const char *cache_dir, struct lp_err *err)
{
	char path[PATH_MAX];
	cleanup_fd int fd = -1;
	struct lp_err ignored;
	off_t size;
	char *buf;

	if (prepared)
		return 0;
	path[0] = '\0';
	if (cache_dir &&
	    lp_path(path, sizeof(path), &ignored, "%s/seccomp-%016llx.bpf", cache_dir,
		    (unsigned long long)rules_key()) == 0 &&
	    read_cached(path) == 0)
		return 0;
	fd = memfd_create("limpet-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return lp_fail_errno(err, "seccomp: memfd");
	if (lp_seccomp_export_bpf(seccomp_arch_native(), fd, err) < 0)
		return -1;
	size = lseek(fd, 0, SEEK_CUR);
	if (size <= 0 || lseek(fd, 0, SEEK_SET) < 0 || !(buf = malloc((size_t)size)))
		return lp_fail(err, EIO, "seccomp: the exported filter is empty");
	if (lp_pread_all(fd, buf, (size_t)size, 0) != size) {
		free(buf);
		return lp_fail_errno(err, "seccomp: read the exported filter");
	}
	if (take_program(buf, (size_t)size) < 0)
		return lp_fail(err, E2BIG, "seccomp: the filter has %lld bytes", (long long)size);
	/* Best effort: without the cache the next process builds it again. */
	if (path[0])
		lp_write_file_atomic(path, (const char *)prepared,
				     prepared_len * sizeof(struct sock_filter), &ignored);
	return 0;
}

const void *lp_seccomp_program(size_t *len)
{
	*len = prepared_len * sizeof(struct sock_filter);
	return prepared;
}

int lp_seccomp_set_program(const void *prog, size_t len, struct lp_err *err)
{
	char *buf = malloc(len ? len : 1);

	if (!buf)
		return lp_fail(err, ENOMEM, "out of memory");
	memcpy(buf, prog, len);
	free(prepared);
	prepared = NULL;
	if (take_program(buf, len) < 0)
		return lp_fail(err, EINVAL, "seccomp: a program of %zu bytes", len);
	return 0;
}

int lp_seccomp_apply(struct lp_err *err)
{
	struct sock_fprog prog;

	if (lp_seccomp_prepare(NULL, err) < 0)
		return -1;
	prog.len = (unsigned short)prepared_len;
	prog.filter = prepared;
	/* no_new_privs is set by the caller (lp_privileges_drop), as seccomp needs. */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0)
		return 0;
	if (errno != EINVAL)
		return lp_fail_errno(err, "seccomp: load filter");
	/* A cached program the kernel refuses (a damaged file): build it afresh. */
	free(prepared);
	prepared = NULL;
	if (lp_seccomp_prepare(NULL, err) < 0)
		return -1;
	prog.len = (unsigned short)prepared_len;
	prog.filter = prepared;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return lp_fail_errno(err, "seccomp: load filter");
	return 0;
}
