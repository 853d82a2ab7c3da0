/* SPDX-License-Identifier: Apache-2.0 */
/* Containers run as KVM microVMs (isolation vm, or auto where KVM works). */
#ifndef LIMPET_VM_CONTAINER_H
#define LIMPET_VM_CONTAINER_H

#include <stdbool.h>

#include "agent/config/host.h"
#include "agent/config/config.h"
#include "platform/runtime.h"
#include "platform/vm.h"
#include "agent/spec/spec.h"

/* The most vCPUs a container's microVM gets (KVM's GICv2 limit). */
#define LP_VM_VCPUS_MAX 8

/* What lp_vm_ready found missing, first thing first. */
enum lp_vm_missing {
	LP_VM_READY = 0,
	LP_VM_NO_KVM,		/* no usable /dev/kvm */
	LP_VM_NO_KERNEL,	/* no guest kernel at vm.kernel */
	LP_VM_NOT_STATIC,	/* this limpet is dynamically linked: it cannot be the guest's init */
	LP_VM_NO_GUEST,		/* KVM opens, but a probe guest does not run */
};

/*
 * Whether a microVM can really start here: KVM usable, the guest kernel
 * (vs->kernel) there, a static limpet to be the guest's init, and a probe
 * guest that ran (asked once per boot, remembered in run_dir).  When not,
 * why says so in a few words (for a log line); caps as lp_vm_probe fills it.
 */
enum lp_vm_missing lp_vm_ready(const struct lp_vm_settings *vs, const char *run_dir,
			       struct lp_vm_caps *caps, char *why, size_t len);

/*
 * Where cfg runs this time: *use_vm for isolation vm, or auto where
 * lp_vm_ready says a microVM starts (auto logs its choice and why).  vm
 * without a usable KVM is an error saying why.
 */
int lp_vm_choose(const struct lp_host *host, const struct lp_container_cfg *cfg, bool *use_vm,
		 struct lp_err *err);

/*
 * The guest's spec (platform/kvm/guest/guest_init.h reads it), JSON text to free;
 * NULL with err when spec cannot be said in JSON.
 */
char *lp_vm_guest_spec_json(const struct lp_spec *spec, struct lp_err *err);

/*
 * Start the container described by spec (as a namespace container would
 * be) as a microVM: write ct_dir/initramfs.cpio and start the VMM in
 * spec->cgroup.  spec->exit_file receives the entrypoint's status.
 */
int lp_vm_container_start(const struct lp_vm_settings *vs, const char *ct_dir,
			  const struct lp_spec *spec, struct lp_proc *proc, struct lp_err *err);

#endif
