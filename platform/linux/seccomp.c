// SPDX-License-Identifier: Apache-2.0
/*
 * Default seccomp profile: allow by default, refuse (EPERM) the syscalls a
 * container never needs and that widen the kernel's attack surface or reach
 * outside the container.  Close to Docker's profile for a container without
 * CAP_SYS_ADMIN, which is what limpet's default capability set gives.
 */
#include "linux.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>

static const char *const refused[] = {
	/* mounting and namespaces: the view of the world is fixed by limpet */
	"mount", "umount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen",
	"fsconfig", "fsmount", "fspick", "mount_setattr", "setns", "unshare",
	/* the kernel itself */
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"create_module", "query_module", "get_kernel_syms", "reboot", "swapon", "swapoff",
	"syslog", "acct", "quotactl", "nfsservctl", "sysfs", "_sysctl", "uselib", "ustat",
	"bpf", "perf_event_open", "lookup_dcookie", "iopl", "ioperm", "vm86", "vm86old",
	/* keys are not namespaced */
	"keyctl", "add_key", "request_key",
	/* other processes' memory */
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
	/* clocks are host-wide */
	"settimeofday", "stime", "clock_settime", "clock_settime64", "clock_adjtime",
	"clock_adjtime64", "adjtimex",
	/* file handles bypass the mount view (the "shocker" escape) */
	"open_by_handle_at",
	/* rarely needed, often exploited */
	"userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
};

/* clone flags that would create namespaces (we refuse them like unshare). */
static const unsigned long ns_flags[] = {
	CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
	CLONE_NEWCGROUP,
};

static int add_arches(scmp_filter_ctx ctx, struct lp_err *err)
{
	/* 32-bit binaries on a 64-bit board (armhf images on a Pi 4) take the same rules. */
#if defined(__aarch64__)
	static const uint32_t extra[] = { SCMP_ARCH_ARM };
#elif defined(__x86_64__)
	static const uint32_t extra[] = { SCMP_ARCH_X86, SCMP_ARCH_X32 };
#else
	static const uint32_t extra[] = { 0 };
#endif
	size_t i;
	int rc;

	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		if (!extra[i])
			continue;
		rc = seccomp_arch_add(ctx, extra[i]);
		if (rc < 0 && rc != -EEXIST)
			return lp_fail(err, -rc, "seccomp: add architecture: %s", strerror(-rc));
	}
	return 0;
}

static int add_rules(scmp_filter_ctx ctx, struct lp_err *err)
{
	int nr, rc;
	size_t i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		nr = seccomp_syscall_resolve_name(refused[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not a syscall on any architecture in the filter */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (rc < 0 && rc != -EDOM)
			return lp_fail(err, -rc, "seccomp: rule for %s: %s", refused[i],
				       strerror(-rc));
	}
	for (i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
		if (rc < 0)
			return lp_fail(err, -rc, "seccomp: clone rule: %s", strerror(-rc));
	}
	/* clone3 hides its flags in memory seccomp cannot read: make libc fall back to clone. */
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc < 0 && rc != -EDOM)
		return lp_fail(err, -rc, "seccomp: clone3 rule: %s", strerror(-rc));
	return 0;
}

int lp_seccomp_apply(struct lp_err *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int rc;

	if (!ctx)
		return lp_fail(err, ENOMEM, "seccomp: cannot create filter");
	if (add_arches(ctx, err) < 0 || add_rules(ctx, err) < 0) {
		seccomp_release(ctx);
		return -1;
	}
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0)
		return lp_fail(err, -rc, "seccomp: load filter: %s", strerror(-rc));
	return 0;
}
