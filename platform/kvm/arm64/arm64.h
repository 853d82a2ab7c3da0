/* SPDX-License-Identifier: Apache-2.0 */
/* The arm64 VM's own state, shared by its files (vm.c, gic.c, fdt.c, boot.c). */
#ifndef LIMPET_KVM_ARM64_H
#define LIMPET_KVM_ARM64_H

#include "platform/kvm/vmm.h"

/* Where the boot pieces go in guest RAM (filled by boot.c). */
struct arm64_layout {
	uint64_t kernel, kernel_end;	/* Image load address and end of its footprint */
	uint64_t initrd, initrd_size;
	uint64_t dtb;
};

struct arm64_vm {
	struct kvm_vcpu_init init;	/* the preferred target, for every vCPU */
	int gic_fd;
	int gic_version;		/* 2 or 3 */
	struct arm64_layout layout;
};

static inline struct arm64_vm *arm64(struct lp_vm *vm)
{
	return vm->arch;
}

/* In-kernel vGIC: v3 when the host offers it, else v2 (a Pi's GIC-400). */
int arm64_gic_create(struct lp_vm *vm, struct lp_err *err);
/* After the vCPUs exist: KVM_DEV_ARM_VGIC_CTRL_INIT. */
int arm64_gic_init(struct lp_vm *vm, struct lp_err *err);

/* The device tree for this VM, written into guest RAM at layout.dtb. */
int arm64_fdt_build(struct lp_vm *vm, const char *cmdline, struct lp_err *err);

/* Load the Image and the initrd, and set layout. */
int arm64_load(struct lp_vm *vm, struct lp_err *err);

/* Largest device tree we write; the boot protocol allows 2 MiB. */
#define ARM64_FDT_MAX 0x10000ull

#endif
