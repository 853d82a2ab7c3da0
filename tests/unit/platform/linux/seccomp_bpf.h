/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limpet's seccomp filter as the kernel would run it, for the seccomp unit
 * tests: the BPF program limpet loads, exported, and a small interpreter of
 * classic BPF (loads from seccomp_data only), plus the syscalls libseccomp
 * knows on an architecture.  Included by test_seccomp*.c, after cmocka.h.
 */
#ifndef LIMPET_TEST_SECCOMP_BPF_H
#define LIMPET_TEST_SECCOMP_BPF_H

#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>

#include "platform/linux/linux.h"

/* ---------------------------------------------------------------- limpet's filter */

struct prog {
	struct sock_filter *insn;
	size_t len;
};

static struct prog export_filter(uint32_t native)
{
	struct lp_err err = { 0 };
	struct prog p = { 0 };
	int fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
	off_t size;

	assert_true(fd >= 0);
	if (lp_seccomp_export_bpf(native, fd, &err) < 0)
		fail_msg("export the filter for %#x: %s", native, err.msg);
	size = lseek(fd, 0, SEEK_END);
	assert_true(size > 0 && size % (off_t)sizeof(struct sock_filter) == 0);
	p.len = (size_t)size / sizeof(struct sock_filter);
	/* The kernel refuses a longer program. */
	assert_true(p.len <= BPF_MAXINSNS);
	p.insn = malloc((size_t)size);
	assert_non_null(p.insn);
	assert_int_equal(pread(fd, p.insn, (size_t)size, 0), size);
	close(fd);
	return p;
}

/* Classic BPF as the kernel's seccomp runs it (loads from seccomp_data only). */
static uint32_t run_filter(const struct prog *p, const struct seccomp_data *d)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };
	size_t pc = 0;

	while (pc < p->len) {
		const struct sock_filter *f = &p->insn[pc++];

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			assert_true(f->k % 4 == 0 && f->k + 4 <= sizeof(*d));
			memcpy(&a, (const char *)d + f->k, 4);
			break;
		case BPF_LD | BPF_IMM:
			a = f->k;
			break;
		case BPF_LDX | BPF_IMM:
			x = f->k;
			break;
		case BPF_LD | BPF_MEM:
			a = mem[f->k % BPF_MEMWORDS];
			break;
		case BPF_LDX | BPF_MEM:
			x = mem[f->k % BPF_MEMWORDS];
			break;
		case BPF_ST:
			mem[f->k % BPF_MEMWORDS] = a;
			break;
		case BPF_STX:
			mem[f->k % BPF_MEMWORDS] = x;
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			a &= f->k;
			break;
		case BPF_ALU | BPF_OR | BPF_K:
			a |= f->k;
			break;
		case BPF_MISC | BPF_TAX:
			x = a;
			break;
		case BPF_MISC | BPF_TXA:
			a = x;
			break;
		case BPF_JMP | BPF_JA:
			pc += f->k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGT | BPF_K:
			pc += a > f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += a >= f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (a & f->k) ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JEQ | BPF_X:
			pc += a == x ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGT | BPF_X:
			pc += a > x ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_X:
			pc += a >= x ? f->jt : f->jf;
			break;
		case BPF_RET | BPF_K:
			return f->k;
		case BPF_RET | BPF_A:
			return a;
		default:
			fail_msg("BPF instruction %#x at %zu: not in this interpreter", f->code,
				 pc - 1);
		}
	}
	fail_msg("the BPF program runs off its end");
	return 0;
}

static uint32_t verdict(const struct prog *p, uint32_t arch, int nr, unsigned int idx,
			uint64_t value)
{
	/* x32 is x86_64's audit architecture with __X32_SYSCALL_BIT in nr. */
	struct seccomp_data d = { .nr = nr,
				  .arch = arch == SCMP_ARCH_X32 ? SCMP_ARCH_X86_64 : arch };

	d.args[idx] = value;
	return run_filter(p, &d);
}

#define ERRNO(e) (SECCOMP_RET_ERRNO | (uint32_t)(e))

struct syscalls {
	char **name;
	int *nr;
	size_t n;
};

static void add_syscall(struct syscalls *s, const char *name, int nr)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->name[i], name) == 0)
			return;
	s->name = realloc(s->name, (s->n + 1) * sizeof(*s->name));
	s->nr = realloc(s->nr, (s->n + 1) * sizeof(*s->nr));
	assert_true(s->name && s->nr);
	s->nr[s->n] = nr;
	s->name[s->n] = strdup(name);
	assert_non_null(s->name[s->n++]);
}

/*
 * Every syscall libseccomp knows on arch, by number: by name, i386's direct
 * socket calls resolve to socketcall's multiplexed pseudo numbers instead.
 */
static void syscalls_of(struct syscalls *s, uint32_t arch)
{
	/* x32's numbers carry __X32_SYSCALL_BIT; arm's private ones start at 0xf0000. */
	const int base[] = { arch == SCMP_ARCH_X32 ? 0x40000000 : 0, 0xf0000 };
	size_t b;
	int nr;

	for (b = 0; b < 2; b++) {
		for (nr = base[b]; nr < base[b] + 1024; nr++) {
			char *name = seccomp_syscall_resolve_num_arch(arch, nr);

			if (name)
				add_syscall(s, name, nr);
			free(name);
		}
	}
}

static void free_syscalls(struct syscalls *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->name[i]);
	free(s->name);
	free(s->nr);
}

static const char *arch_name(uint32_t arch)
{
	switch (arch) {
	case SCMP_ARCH_X86_64:
		return "x86_64";
	case SCMP_ARCH_X86:
		return "i386";
	case SCMP_ARCH_X32:
		return "x32";
	case SCMP_ARCH_AARCH64:
		return "aarch64";
	case SCMP_ARCH_ARM:
		return "arm";
	default:
		return "?";
	}
}

#endif
