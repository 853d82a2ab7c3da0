// SPDX-License-Identifier: Apache-2.0
/*
 * The x86_64 hooks of the VMM: VM type, the in-kernel irqchip (PIC, IOAPIC,
 * local APICs) and PIT, the two legacy UARTs and the exit port, interrupt
 * lines into the irqchip, and the exits only x86 has (a triple fault).
 */
#include "platform/kvm/x86_64/x86.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "platform/kvm/guest/guest_abi.h"
#include "platform/lib/util.h"

/* Port ranges of a 16550A and of the exit register. */
#define UART_PORTS 8
#define EXIT_PORTS 4

int lp_arch_vm_type(int kvm_fd, unsigned long *type, struct lp_err *err)
{
	(void)kvm_fd;
	(void)err;
	*type = 0; /* the default VM: x86 has no other kind worth asking for here */
	return 0;
}

uint64_t lp_arch_ram_base(void)
{
	return 0;
}

/* The capabilities lp_arch_vm_init relies on; NULL when all are there. */
static const char *missing_cap(int kvm_fd)
{
	static const struct {
		int cap;
		const char *name;
	} need[] = {
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
		{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
		{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
		{ KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(need); i++)
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0)
			return need[i].name;
	return NULL;
}

static int add_uart(struct lp_vm *vm, struct lp_uart **u, const char *name, uint16_t port,
		    unsigned int irq, int out_fd, struct lp_err *err)
{
	*u = lp_uart_new(vm, name, irq, out_fd, err);
	if (!*u)
		return -1;
	return lp_vm_add_io(vm, port, UART_PORTS, true, lp_uart_io, *u, err);
}

int lp_arch_vm_init(struct lp_vm *vm, struct lp_err *err)
{
	struct kvm_pit_config pit = { .flags = 0 };
	uint64_t identity = X86_IDENTITY_MAP;
	struct x86_vm *x;
	const char *cap;

	/*
	 * Without ACPI's help Linux finds no RAM above a 32-bit hole, and the
	 * core maps RAM as one slot from 0: it must end below the hole.
	 */
	if (vm->ram_size > X86_RAM_MAX)
		return lp_fail(err, EINVAL,
			       "%llu MiB of memory: an x86_64 guest has at most %llu MiB",
			       (unsigned long long)(vm->ram_size >> 20),
			       (unsigned long long)(X86_RAM_MAX >> 20));
	cap = missing_cap(vm->kvm_fd);
	if (cap)
		return lp_fail(err, ENOTSUP, "KVM lacks %s", cap);
	x = calloc(1, sizeof(*x));
	if (!x)
		return lp_fail(err, ENOMEM, "out of memory");
	vm->arch = x;
	x->tsc_deadline = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	if (x86_cpuid_fetch(vm, err) < 0)
		return -1;
	/* Both before the first vCPU: Intel's real-mode emulation needs the pages. */
	if (ioctl(vm->fd, KVM_SET_TSS_ADDR, (unsigned long)X86_TSS) < 0)
		return lp_fail_errno(err, "KVM_SET_TSS_ADDR");
	if (ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
		return lp_fail_errno(err, "KVM_SET_IDENTITY_MAP_ADDR");
	/*
	 * PIC, IOAPIC and local APICs in the kernel: interrupts, IPIs and HLT
	 * never leave KVM, and KVM_IRQ_LINE drives GSI n as ISA IRQ n.
	 */
	if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return lp_fail_errno(err, "KVM_CREATE_IRQCHIP");
	if (ioctl(vm->fd, KVM_CREATE_PIT2, &pit) < 0)
		return lp_fail_errno(err, "KVM_CREATE_PIT2");
	if (add_uart(vm, &vm->console, "console", LP_X86_UART0_PORT, LP_X86_UART0_IRQ,
		     vm->cfg->console_out, err) < 0 ||
	    add_uart(vm, &vm->control, "kernel console", LP_X86_UART1_PORT, LP_X86_UART1_IRQ,
		     vm->cfg->kernel_log, err) < 0)
		return -1;
	return lp_vm_add_io(vm, LP_X86_EXIT_PORT, EXIT_PORTS, true, lp_exitdev_io, NULL, err);
}

int lp_arch_vcpu_init(struct lp_vcpu *vcpu, struct lp_err *err)
{
	/*
	 * vCPU 0 gets its registers in lp_arch_vm_boot; the others wait in
	 * KVM for the INIT and startup IPIs the guest sends them.
	 */
	return x86_vcpu_setup(vcpu, err);
}

int lp_arch_irq_line(struct lp_vm *vm, unsigned int irq, int level)
{
	struct kvm_irq_level l = { .irq = irq, .level = (uint32_t)level };

	return ioctl(vm->fd, KVM_IRQ_LINE, &l);
}

static const char *exit_name(uint32_t reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "EXCEPTION",
		[KVM_EXIT_HYPERCALL] = "HYPERCALL",
		[KVM_EXIT_DEBUG] = "DEBUG",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
		[KVM_EXIT_SET_TPR] = "SET_TPR",
		[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
		[KVM_EXIT_NMI] = "NMI",
		[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
		[KVM_EXIT_IOAPIC_EOI] = "IOAPIC_EOI",
		[KVM_EXIT_HYPERV] = "HYPERV",
		[KVM_EXIT_X86_RDMSR] = "X86_RDMSR",
		[KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
		[KVM_EXIT_DIRTY_RING_FULL] = "DIRTY_RING_FULL",
		[KVM_EXIT_X86_BUS_LOCK] = "X86_BUS_LOCK",
	};

	if (reason < ARRAY_SIZE(names) && names[reason])
		return names[reason];
	return "?";
}

int lp_arch_vcpu_exit(struct lp_vcpu *vcpu, struct lp_err *err)
{
	struct kvm_run *run = vcpu->run;

	switch (run->exit_reason) {
	case KVM_EXIT_HLT:
		/*
		 * The in-kernel local APIC keeps a halted vCPU inside KVM_RUN
		 * until an interrupt; should one come out anyway, going back
		 * in waits there.
		 */
		return 0;
	case KVM_EXIT_SHUTDOWN:
		/*
		 * A triple fault: how an x86 guest without firmware resets
		 * (reboot=t), so also how a guest kernel panic ends.
		 */
		lp_vm_end(vcpu->vm, LP_VM_RESET, 0);
		return 1;
	default:
		return lp_fail(err, EIO, "vCPU %u: unexpected KVM exit %u (KVM_EXIT_%s)", vcpu->id,
			       run->exit_reason, exit_name(run->exit_reason));
	}
}

void lp_arch_vm_free(struct lp_vm *vm)
{
	struct x86_vm *x = vm->arch;

	if (!x)
		return;
	free(x->cpuid);
	free(x);
	vm->arch = NULL;
}
