// SPDX-License-Identifier: Apache-2.0
/*
 * The x86_64 vCPUs: the CPUID each one reports (what KVM supports, with its
 * own APIC ID), and the boot vCPU put straight into 64-bit long mode on
 * identity-mapped page tables, as the Linux 64-bit boot protocol asks
 * (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol").
 */
#include "platform/kvm/x86_64/x86.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "platform/lib/util.h"

/* KVM_GET_SUPPORTED_CPUID says E2BIG until the array is big enough. */
#define CPUID_START 64
#define CPUID_MAX 1024

#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)

#define CR0_PE (1ull << 0)
#define CR0_ET (1ull << 4)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)	/* a 2 MiB page in a page directory */

#define MSR_MTRR_DEF_TYPE 0x2ff
#define MTRR_ENABLE (1ull << 11)
#define MTRR_TYPE_WB 6ull

int x86_cpuid_fetch(struct lp_vm *vm, struct lp_err *err)
{
	struct kvm_cpuid2 *c = NULL;
	uint32_t n;

	for (n = CPUID_START; n <= CPUID_MAX; n *= 2) {
		free(c);
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return lp_fail(err, ENOMEM, "out of memory");
		c->nent = n;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			x86(vm)->cpuid = c;
			return 0;
		}
		if (errno != E2BIG)
			break;
	}
	lp_fail_errno(err, "KVM_GET_SUPPORTED_CPUID");
	free(c);
	return -1;
}

/* What this vCPU reports: KVM's CPUID, with its APIC ID and as a guest. */
static void adjust_cpuid(struct x86_vm *x, struct kvm_cpuid2 *c, unsigned int id)
{
	uint32_t i;

	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			/* Initial APIC ID in EBX[31:24]; the local APIC's ID is the vCPU's. */
			e->ebx = (e->ebx & 0x00ffffffu) | (id << 24);
			/*
			 * Linux looks for KVM's paravirt leaves (kvmclock) only on
			 * a CPU that says it is a guest.
			 */
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			/*
			 * KVM emulates the TSC deadline timer but leaves saying so to
			 * us: with it the guest needs no timer calibration.
			 */
			if (x->tsc_deadline)
				e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
			break;
		case 0xb:
		case 0x1f:
			/* Extended topology: EDX is the x2APIC ID in every sub-leaf. */
			e->edx = id;
			break;
		case 0x8000001e:
			/* AMD's extended APIC ID. */
			e->eax = id;
			break;
		}
	}
}

static int set_msr(struct lp_vcpu *vcpu, uint32_t index, uint64_t value, struct lp_err *err)
{
	union {
		struct kvm_msrs hdr;
		uint8_t raw[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} m;
	int n;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	m.hdr.entries[0].index = index;
	m.hdr.entries[0].data = value;
	/* KVM_SET_MSRS returns how many it set: 0 means KVM refused this one. */
	n = ioctl(vcpu->fd, KVM_SET_MSRS, &m);
	if (n < 0)
		return lp_fail_errno(err, "KVM_SET_MSRS 0x%x", index);
	if (n != 1)
		return lp_fail(err, EINVAL, "KVM_SET_MSRS 0x%x: KVM refused it", index);
	return 0;
}

int x86_vcpu_setup(struct lp_vcpu *vcpu, struct lp_err *err)
{
	struct x86_vm *x = x86(vcpu->vm);
	size_t size = sizeof(*x->cpuid) + x->cpuid->nent * sizeof(x->cpuid->entries[0]);
	cleanup_free struct kvm_cpuid2 *c = malloc(size);

	if (!c)
		return lp_fail(err, ENOMEM, "out of memory");
	memcpy(c, x->cpuid, size);
	adjust_cpuid(x, c, vcpu->id);
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0)
		return lp_fail_errno(err, "KVM_SET_CPUID2");
	/*
	 * With no firmware to set the MTRRs up, memory would be uncached by
	 * default; write-back is what RAM is.
	 */
	return set_msr(vcpu, MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WB, err);
}

/* ---------------------------------------------------------------- boot vCPU */

/*
 * GDT descriptors: a flat 64-bit code segment, a flat data segment and a
 * TSS (16 bytes in long mode), at the selectors boot.rst names.
 */
static int write_gdt(struct lp_vm *vm, struct lp_err *err)
{
	static const uint64_t gdt[] = {
		0,
		0,
		[X86_SEL_CODE / 8] = 0x00af9b000000ffffull, /* P, DPL 0, code r/x, L, G */
		[X86_SEL_DATA / 8] = 0x00cf93000000ffffull, /* P, DPL 0, data r/w, D/B, G */
		[X86_SEL_TSS / 8] = 0x00008b0000000067ull, /* P, busy 64-bit TSS, 104 bytes */
		0,
	};
	uint64_t *dst = lp_vm_gpa(vm, X86_GDT, sizeof(gdt));

	if (!dst)
		return lp_fail(err, EFBIG, "GDT: outside guest RAM");
	memcpy(dst, gdt, sizeof(gdt));
	return 0;
}

/* Identity map of the first 4 GiB in 2 MiB pages: RAM and the devices above it. */
static int write_page_tables(struct lp_vm *vm, struct lp_err *err)
{
	uint64_t *pml4 = lp_vm_gpa(vm, X86_PML4, 0x1000);
	uint64_t *pdpt = lp_vm_gpa(vm, X86_PDPT, 0x1000);
	uint64_t *pd = lp_vm_gpa(vm, X86_PD, 4 * 0x1000);
	unsigned int i;

	if (!pml4 || !pdpt || !pd)
		return lp_fail(err, EFBIG, "page tables: outside guest RAM");
	memset(pml4, 0, 0x1000);
	memset(pdpt, 0, 0x1000);
	pml4[0] = X86_PDPT | PTE_P | PTE_RW;
	for (i = 0; i < 4; i++)
		pdpt[i] = (X86_PD + i * 0x1000ull) | PTE_P | PTE_RW;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

static struct kvm_segment segment(uint16_t sel, uint8_t type, bool code)
{
	struct kvm_segment s = {
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = code ? 0 : 1,	/* long mode code has L set and D/B clear */
		.s = 1,
		.l = code ? 1 : 0,
		.g = 1,
	};

	return s;
}

int x86_boot_cpu(struct lp_vm *vm, struct lp_err *err)
{
	struct lp_vcpu *boot = &vm->vcpus[0];
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (write_gdt(vm, err) < 0 || write_page_tables(vm, err) < 0)
		return -1;
	if (ioctl(boot->fd, KVM_GET_SREGS, &sregs) < 0)
		return lp_fail_errno(err, "KVM_GET_SREGS of vCPU 0");
	sregs.gdt.base = X86_GDT;
	sregs.gdt.limit = 6 * 8 - 1;
	/* No IDT: the kernel loads its own before it enables interrupts. */
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cs = segment(X86_SEL_CODE, 0xb, true);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = segment(X86_SEL_DATA, 0x3, false);
	sregs.tr = (struct kvm_segment){
		.selector = X86_SEL_TSS, .limit = 0x67, .type = 0xb, .present = 1,
	};
	sregs.cr3 = X86_PML4;
	sregs.cr4 = CR4_PAE;
	/* Protected mode with paging, caches on (the reset value has CD and NW set). */
	sregs.cr0 = CR0_PE | CR0_ET | CR0_PG;
	sregs.efer = EFER_LME | EFER_LMA;
	if (ioctl(boot->fd, KVM_SET_SREGS, &sregs) < 0)
		return lp_fail_errno(err, "KVM_SET_SREGS of vCPU 0");
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 2; /* bit 1 is always set; IF clear: interrupts off */
	regs.rip = X86_KERNEL + 0x200; /* the 64-bit entry point */
	regs.rsi = X86_BOOT_PARAMS;
	regs.rsp = X86_BOOT_STACK;
	if (ioctl(boot->fd, KVM_SET_REGS, &regs) < 0)
		return lp_fail_errno(err, "KVM_SET_REGS of vCPU 0");
	return 0;
}
