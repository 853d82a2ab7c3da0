/* SPDX-License-Identifier: Apache-2.0 */
/* Containers run as KVM microVMs (isolation vm, or auto where KVM works). */
#ifndef LIMPET_VM_CONTAINER_H
#define LIMPET_VM_CONTAINER_H

#include <stdbool.h>

#include "config.h"
#include "platform/runtime.h"
#include "spec.h"

/* The most vCPUs a container's microVM gets (KVM's GICv2 limit). */
#define LP_VM_VCPUS_MAX 8

/*
 * Where cfg runs this time: *use_vm for isolation vm, or auto on a board
 * whose KVM works (auto logs its choice and why).  vm without a usable KVM
 * is an error saying why.
 */
int lp_vm_choose(const struct lp_container_cfg *cfg, bool *use_vm, struct lp_err *err);

/*
 * Start the container described by spec (as a namespace container would
 * be) as a microVM: write ct_dir/initramfs.cpio and start the VMM in
 * spec->cgroup.  spec->exit_file receives the entrypoint's status.
 */
int lp_vm_container_start(const struct lp_vm_settings *vs, const char *ct_dir,
			  const struct lp_spec *spec, struct lp_proc *proc, struct lp_err *err);

#endif
