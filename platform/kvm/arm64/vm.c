// SPDX-License-Identifier: Apache-2.0
/*
 * The arm64 hooks of the VMM: VM type (IPA size), devices, vCPU init with
 * PSCI 0.2, boot (vGIC, Image, initrd, device tree, registers of vCPU 0),
 * interrupt lines into the vGIC and PSCI's SYSTEM_OFF/RESET exits.
 */
#include "platform/kvm/arm64/arm64.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "platform/kvm/guest/guest_abi.h"
#include "platform/lib/util.h"

/* KVM's default when the VM type does not say (and the most a Pi 4 guest needs). */
#define IPA_BITS 40

#define PSR_MODE_EL1H 0x5
#define PSR_DAIF_MASKED (0xfu << 6)

#define CORE_REG(name)                                                                            \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(name))

int lp_arch_vm_type(int kvm_fd, unsigned long *type, struct lp_err *err)
{
	int max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);

	(void)err;
	/* Without the capability only type 0 (40 bits) exists; with it, ask for what fits. */
	*type = max > 0 ? KVM_VM_TYPE_ARM_IPA_SIZE(max < IPA_BITS ? max : IPA_BITS) : 0;
	return 0;
}

uint64_t lp_arch_ram_base(void)
{
	return LP_ARM64_RAM;
}

int lp_arch_vm_init(struct lp_vm *vm, struct lp_err *err)
{
	struct arm64_vm *a = calloc(1, sizeof(*a));

	if (!a)
		return lp_fail(err, ENOMEM, "out of memory");
	a->gic_fd = -1;
	vm->arch = a;
	if (ioctl(vm->fd, KVM_ARM_PREFERRED_TARGET, &a->init) < 0)
		return lp_fail_errno(err, "KVM_ARM_PREFERRED_TARGET");
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PSCI_0_2) <= 0)
		return lp_fail(err, ENOTSUP, "KVM lacks PSCI 0.2 (KVM_CAP_ARM_PSCI_0_2)");
	vm->console = lp_uart_new(vm, "console", LP_ARM64_UART0_SPI, vm->cfg->console_out, err);
	vm->control = lp_uart_new(vm, "kernel console", LP_ARM64_UART1_SPI, vm->cfg->kernel_log,
				  err);
	if (!vm->console || !vm->control)
		return -1;
	if (lp_vm_add_io(vm, LP_ARM64_UART0, LP_ARM64_UART_SIZE, false, lp_uart_io, vm->console,
			 err) < 0 ||
	    lp_vm_add_io(vm, LP_ARM64_UART1, LP_ARM64_UART_SIZE, false, lp_uart_io, vm->control,
			 err) < 0 ||
	    lp_vm_add_io(vm, LP_ARM64_EXIT_DEV, LP_ARM64_EXIT_SIZE, false, lp_exitdev_io, NULL,
			 err) < 0)
		return -1;
	return 0;
}

int lp_arch_vcpu_init(struct lp_vcpu *vcpu, struct lp_err *err)
{
	struct kvm_vcpu_init init = arm64(vcpu->vm)->init;

	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	/* Only vCPU 0 starts; the guest brings the others up with PSCI CPU_ON. */
	if (vcpu->id > 0)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (ioctl(vcpu->fd, KVM_ARM_VCPU_INIT, &init) < 0)
		return lp_fail_errno(err, "KVM_ARM_VCPU_INIT");
	return 0;
}

static int set_reg(struct lp_vcpu *vcpu, uint64_t id, uint64_t value, const char *name,
		   struct lp_err *err)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uintptr_t)&value };

	if (ioctl(vcpu->fd, KVM_SET_ONE_REG, &reg) < 0)
		return lp_fail_errno(err, "set %s of vCPU 0", name);
	return 0;
}

/*
 * The probe guest (platform/vm.h) at the bottom of RAM, where an Image would
 * go: x1 = the exit device; w0 = CODE; str w0, [x1]; then wfi forever.
 */
static int load_probe(struct lp_vm *vm, struct lp_err *err)
{
	static const uint32_t code[] = {
		0xd2a00000u | ((uint32_t)(LP_ARM64_EXIT_DEV >> 16) << 5) | 1, /* movz x1, #hi, lsl 16 */
		0x52800000u | (LP_VM_PROBE_CODE << 5),	/* movz w0, #CODE */
		0xb9000020u,				/* str w0, [x1] */
		0xd503207fu,				/* wfi */
		0x17ffffffu,				/* b . - 4 */
	};
	struct arm64_layout *l = &arm64(vm)->layout;
	uint8_t *dst = lp_vm_gpa(vm, vm->ram_base, sizeof(code));
	size_t i;

	if (!dst)
		return lp_fail(err, EFBIG, "probe: outside guest RAM");
	for (i = 0; i < ARRAY_SIZE(code); i++) {
		uint32_t le = htole32(code[i]);

		memcpy(dst + 4 * i, &le, sizeof(le));
	}
	l->kernel = vm->ram_base;
	l->dtb = 0;
	return 0;
}

int lp_arch_vm_boot(struct lp_vm *vm, const char *cmdline, struct lp_err *err)
{
	struct arm64_vm *a = arm64(vm);
	struct lp_vcpu *boot = &vm->vcpus[0];

	if (arm64_gic_create(vm, err) < 0 || arm64_gic_init(vm, err) < 0)
		return -1;
	if (vm->cfg->probe ? load_probe(vm, err) < 0
			   : arm64_load(vm, err) < 0 || arm64_fdt_build(vm, cmdline, err) < 0)
		return -1;
	/* booting.rst: MMU off, interrupts masked, EL1, x0 = the device tree. */
	if (set_reg(boot, CORE_REG(regs.pstate), PSR_MODE_EL1H | PSR_DAIF_MASKED, "pstate",
		    err) < 0 ||
	    set_reg(boot, CORE_REG(regs.regs[0]), a->layout.dtb, "x0", err) < 0 ||
	    set_reg(boot, CORE_REG(regs.pc), a->layout.kernel, "pc", err) < 0)
		return -1;
	return 0;
}

int lp_arch_irq_line(struct lp_vm *vm, unsigned int irq, int level)
{
	struct kvm_irq_level l = {
		.irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (32 + irq),
		.level = (uint32_t)level,
	};

	return ioctl(vm->fd, KVM_IRQ_LINE, &l);
}

int lp_arch_vcpu_exit(struct lp_vcpu *vcpu, struct lp_err *err)
{
	struct kvm_run *run = vcpu->run;

	if (run->exit_reason != KVM_EXIT_SYSTEM_EVENT)
		return lp_fail(err, EIO, "vCPU %u: unexpected KVM exit %u", vcpu->id,
			       run->exit_reason);
	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		lp_vm_end(vcpu->vm, LP_VM_POWEROFF, 0);
		return 1;
	case KVM_SYSTEM_EVENT_RESET:
		lp_vm_end(vcpu->vm, LP_VM_RESET, 0);
		return 1;
	default:
		return lp_fail(err, EIO, "vCPU %u: unexpected system event %u", vcpu->id,
			       run->system_event.type);
	}
}

void lp_arch_vm_free(struct lp_vm *vm)
{
	struct arm64_vm *a = vm->arch;

	if (!a)
		return;
	if (a->gic_fd >= 0)
		close(a->gic_fd);
	free(a);
	vm->arch = NULL;
}
