/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The narrow interface agent/ uses to run a container's rootfs in a KVM
 * microVM (platform/kvm/).  The VMM runs in its own process (`limpet vmm`,
 * started by the agent like a container's PID 1): lp_vm_run blocks until the
 * guest is gone, forwarding the signals this process gets to the guest's
 * entrypoint.
 */
#ifndef LIMPET_VM_H
#define LIMPET_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "platform/lib/err.h"

struct lp_vm_config {
	const char *kernel;	/* arm64 Image / x86_64 bzImage */
	const char *initrd;	/* cpio newc holding the rootfs and limpet as init */
	const char *cmdline;	/* appended to the VMM's own kernel arguments; may be NULL */
	uint64_t memory;	/* guest RAM, bytes */
	unsigned int vcpus;
	int console_in;		/* read into the guest's UART 0; -1: none */
	int console_out;	/* the guest's UART 0 output */
	/*
	 * console_in is the guest entrypoint's terminal: its size, and each new
	 * one (SIGWINCH), go to the guest's (guest_abi.h), not as a signal.
	 */
	bool tty;
	int kernel_log;		/* the guest kernel's console (UART 1, its first MiB); -1: only its tail */
	bool times;		/* print the VMM's own start and exit costs on stderr */
	bool probe;		/* run the probe guest (lp_vm_probe_guest), not kernel and initrd */
};

enum lp_vm_end {
	LP_VM_EXITED,		/* value: the entrypoint's exit code */
	LP_VM_SIGNALED,		/* value: the signal that killed the entrypoint */
	LP_VM_NOSTART,		/* value: errno of the entrypoint's exec */
	LP_VM_POWEROFF,		/* the guest powered off without an exit status */
	LP_VM_RESET,		/* the guest reset itself (a kernel panic, usually) */
	LP_VM_FAILED,		/* the VMM could not go on (KVM error); err says why */
};

struct lp_vm_result {
	enum lp_vm_end end;
	int value;
	char kernel_tail[512];	/* last lines of the guest kernel's console */
};

/* What KVM on this host offers a microVM. */
struct lp_vm_caps {
	bool usable;		/* /dev/kvm opens and speaks API 12 */
	int max_vcpus;
	const char *gic;	/* arm64: "v3" or "v2" (the one lp_vm_run would use), else NULL */
	char why[160];		/* when !usable: the reason, for one log line */
};

int lp_vm_probe(struct lp_vm_caps *caps);

/*
 * Whether a guest really runs here, which an open /dev/kvm does not prove
 * (a nested KVM may fail every guest, after minutes): a guest of a few
 * instructions, entered the way a Linux kernel is (x86_64: long mode;
 * arm64: EL1, MMU off, with the vGIC made), writes LP_VM_PROBE_CODE to the
 * exit device.  0 when it did; else err says what happened instead.  It
 * may hang in KVM: callers run it in a process of its own (`limpet vmm
 * --probe`) under a timeout.
 */
#define LP_VM_PROBE_CODE 42
int lp_vm_probe_guest(struct lp_err *err);

/* Boot the guest and run it to its end.  -1 only when it could not start. */
int lp_vm_run(const struct lp_vm_config *cfg, struct lp_vm_result *res, struct lp_err *err);

#endif
