/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The x86_64 VM's own state and guest physical map, shared by its files
 * (vm.c, cpu.c, boot.c, acpi.c).
 *
 * Guest physical map (RAM starts at 0; at most X86_RAM_MAX of it, below the
 * 32-bit hole where the IOAPIC, the local APICs and KVM's TSS live):
 *
 *   0x00500   GDT
 *   0x07000   boot_params (the "zero page")
 *   0x09000   page tables: PML4, PDPT, 4 page directories (4 GiB, 2 MiB pages)
 *   0x20000   kernel command line
 *   0x9fc00   reserved to 1 MiB (where a PC has its EBDA, VGA and BIOS)
 *   0xe0000   ACPI tables (RSDP first, where the kernel also searches)
 *   0x100000  the protected-mode kernel (its 64-bit entry at +0x200)
 *   top       the initrd, as high as the kernel allows
 */
#ifndef LIMPET_KVM_X86_H
#define LIMPET_KVM_X86_H

#include "platform/kvm/vmm.h"

#define X86_GDT 0x500ull
#define X86_BOOT_PARAMS 0x7000ull
#define X86_BOOT_STACK 0x9000ull	/* grows down from the page tables */
#define X86_PML4 0x9000ull
#define X86_PDPT 0xa000ull
#define X86_PD 0xb000ull		/* 4 pages */
#define X86_CMDLINE 0x20000ull
#define X86_CMDLINE_MAX 0x10000ull
#define X86_EBDA 0x9fc00ull
#define X86_ACPI 0xe0000ull
#define X86_ACPI_END 0x100000ull
#define X86_KERNEL 0x100000ull
/* RAM ends below the 32-bit hole (PCI, IOAPIC 0xfec00000, LAPIC 0xfee00000). */
#define X86_RAM_MAX (3ull << 30)

/* KVM's own pages, in the hole (Intel needs them; AMD ignores them). */
#define X86_IDENTITY_MAP 0xfffbc000ull
#define X86_TSS 0xfffbd000ull

#define X86_IOAPIC 0xfec00000ull
#define X86_LAPIC 0xfee00000ull

#define X86_SEL_CODE 0x10	/* __BOOT_CS, as boot.rst requires */
#define X86_SEL_DATA 0x18	/* __BOOT_DS */
#define X86_SEL_TSS 0x20

struct x86_vm {
	struct kvm_cpuid2 *cpuid;	/* KVM_GET_SUPPORTED_CPUID, adjusted per vCPU */
	bool tsc_deadline;		/* KVM_CAP_TSC_DEADLINE_TIMER */
};

static inline struct x86_vm *x86(struct lp_vm *vm)
{
	return vm->arch;
}

/* cpu.c: CPUID (and MSRs) of each vCPU; long mode for the boot vCPU. */
int x86_cpuid_fetch(struct lp_vm *vm, struct lp_err *err);
int x86_vcpu_setup(struct lp_vcpu *vcpu, struct lp_err *err);
int x86_boot_cpu(struct lp_vm *vm, struct lp_err *err);

/* acpi.c: RSDP, XSDT, FADT, DSDT and MADT at X86_ACPI; *rsdp is where. */
int x86_acpi_build(struct lp_vm *vm, uint64_t *rsdp, struct lp_err *err);

#endif
