// SPDX-License-Identifier: Apache-2.0
/*
 * kvm-hold: keeps one KVM VM with one vCPU open, never run, until killed.
 *
 * Only for the emulated x86_64 board (tests/board/README.md). KVM flips a
 * static key when the board's first VM is made and again when its last one
 * goes, and the kernel patches that jump with text_poke_bp()'s int3 dance.
 * Under QEMU 7.2's multi-threaded TCG the other vCPU now and then keeps
 * running the int3 it had already translated, and the board hangs. With a
 * VM held open from boot, the microVMs the tests start never flip it.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int vm, vcpu;

	if (kvm < 0) {
		fprintf(stderr, "kvm-hold: /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0UL);
	if (vm < 0) {
		fprintf(stderr, "kvm-hold: KVM_CREATE_VM: %s\n", strerror(errno));
		return 1;
	}
	/* A vCPU too: its local APIC, software-disabled at reset, holds another key. */
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
	if (vcpu < 0) {
		fprintf(stderr, "kvm-hold: KVM_CREATE_VCPU: %s\n", strerror(errno));
		return 1;
	}
	for (;;)
		pause();
}
