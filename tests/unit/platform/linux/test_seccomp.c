// SPDX-License-Identifier: Apache-2.0
/*
 * limpet's own seccomp choices, which do not depend on Docker's profile, on
 * every architecture limpet builds: the BPF program limpet loads runs in
 * seccomp_bpf.h's interpreter.  test_seccomp_docker.c compares the rest,
 * syscall by syscall, with Docker's default profile.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmocka.h>

#ifdef CONFIG_SECCOMP

#include "seccomp_bpf.h"

/* ---------------------------------------------------------------- limpet's own choices */

static uint32_t call(const struct prog *p, uint32_t arch, const char *name, uint64_t arg0)
{
	struct syscalls sys = { 0 };
	uint32_t got = 0;
	size_t i;

	syscalls_of(&sys, arch);
	for (i = 0; i < sys.n && strcmp(sys.name[i], name); i++)
		;
	if (i == sys.n)
		fail_msg("%s: %s is not a syscall there", arch_name(arch), name);
	else
		got = verdict(p, arch, sys.nr[i], 0, arg0);
	free_syscalls(&sys);
	return got;
}

/* The answers that do not depend on Docker's profile, on every architecture. */
static void check_refusals(uint32_t native, const uint32_t *arches, size_t n)
{
	struct prog p = export_filter(native);
	size_t i;

	for (i = 0; i < n; i++) {
		uint32_t arch = arches[i], refused;
		int unknown = (arch == SCMP_ARCH_X32 ? 0x40000000 : 0) + 1000;

		print_message("# %s\n", arch_name(arch));
		/* A syscall newer than the filter: ENOSYS, so that a libc falls back. */
		assert_int_equal(verdict(&p, arch, unknown, 0, 0), ERRNO(ENOSYS));
		assert_int_equal(call(&p, arch, "clone3", 0), ERRNO(ENOSYS));
		assert_int_equal(call(&p, arch, "read", 0), SCMP_ACT_ALLOW);
		assert_int_equal(call(&p, arch, "mount", 0), ERRNO(EPERM));
		assert_int_equal(call(&p, arch, "ptrace", 0), ERRNO(EPERM));
		assert_int_equal(call(&p, arch, "io_uring_setup", 0), ERRNO(EPERM));
		assert_int_equal(call(&p, arch, "userfaultfd", 0), ERRNO(EPERM));
		assert_int_equal(call(&p, arch, "keyctl", 0), ERRNO(EPERM));
		assert_int_equal(call(&p, arch, "fanotify_init", 0), ERRNO(EPERM));
		assert_int_equal(call(&p, arch, "mbind", 0), ERRNO(EPERM));
		assert_int_equal(call(&p, arch, "clone", CLONE_NEWUSER), ERRNO(EPERM));
		assert_int_equal(call(&p, arch, "clone", CLONE_VM | CLONE_THREAD),
				 SCMP_ACT_ALLOW);
		/* i386: ENOSYS (seccomp.c, not_i386) */
		refused = arch == SCMP_ARCH_X86 ? ERRNO(ENOSYS) : ERRNO(EPERM);
		assert_int_equal(call(&p, arch, "socket", 40 /* AF_VSOCK */), refused);
		assert_int_equal(call(&p, arch, "socket", 38 /* AF_ALG */), refused);
		assert_int_equal(call(&p, arch, "socket", 10 /* AF_INET6 */), SCMP_ACT_ALLOW);
		assert_int_equal(call(&p, arch, "personality", 0xffffffff), SCMP_ACT_ALLOW);
		assert_int_not_equal(call(&p, arch, "personality", 0x0040000), SCMP_ACT_ALLOW);
	}
	free(p.insn);
}

static void test_refusals(void **state)
{
	static const uint32_t x86[] = { SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32 };
	static const uint32_t arm[] = { SCMP_ARCH_AARCH64, SCMP_ARCH_ARM };

	(void)state;
	check_refusals(SCMP_ARCH_X86_64, x86, 3);
	check_refusals(SCMP_ARCH_AARCH64, arm, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* !CONFIG_SECCOMP */

static void test_no_seccomp(void **state)
{
	(void)state;
	print_message("# built without CONFIG_SECCOMP: no filter to compare\n");
	skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_no_seccomp) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
