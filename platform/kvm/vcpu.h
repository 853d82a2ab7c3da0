/* SPDX-License-Identifier: Apache-2.0 */
/* vCPUs: creation, one thread each running KVM_RUN, and stopping them. */
#ifndef LIMPET_KVM_VCPU_H
#define LIMPET_KVM_VCPU_H

#include "platform/kvm/vmm.h"

int lp_vcpu_create(struct lp_vm *vm, unsigned int id, struct lp_err *err);
void lp_vcpu_destroy(struct lp_vcpu *vcpu);
int lp_vcpus_start(struct lp_vm *vm, struct lp_err *err);
/* Make every vCPU thread leave KVM_RUN and wait for it. */
void lp_vcpus_stop(struct lp_vm *vm);

#endif
