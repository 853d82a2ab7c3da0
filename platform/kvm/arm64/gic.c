// SPDX-License-Identifier: Apache-2.0
/*
 * The in-kernel vGIC.  A GICv3 host gives v3 (up to 512 vCPUs); a Pi 4's
 * GIC-400 only v2, and a v3 host without the v2 compatibility interface
 * only v3: try v3, fall back to v2.  KVM wants the addresses before the
 * first KVM_RUN and CTRL_INIT after every vCPU exists.
 */
#include "platform/kvm/arm64/arm64.h"

#include <errno.h>
#include <sys/ioctl.h>

#include "platform/kvm/guest/guest_abi.h"

/* INTIDs 0-31 are per-CPU; 32 SPIs are plenty for two UARTs. */
#define GIC_NR_IRQS 64

static int set_attr(int fd, uint32_t group, uint64_t attr, void *addr, const char *what,
		    struct lp_err *err)
{
	struct kvm_device_attr a = {
		.group = group,
		.attr = attr,
		.addr = (uintptr_t)addr,
	};

	if (ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0)
		return lp_fail_errno(err, "vGIC: set %s", what);
	return 0;
}

static int create(struct lp_vm *vm, uint32_t type)
{
	struct kvm_create_device dev = { .type = type };

	if (ioctl(vm->fd, KVM_CREATE_DEVICE, &dev) < 0)
		return -1;
	return (int)dev.fd;
}

int arm64_gic_create(struct lp_vm *vm, struct lp_err *err)
{
	struct arm64_vm *a = arm64(vm);
	uint64_t dist = LP_ARM64_GIC_DIST, cpu = LP_ARM64_GIC_CPU, redist = LP_ARM64_GIC_REDIST;

	a->gic_fd = create(vm, KVM_DEV_TYPE_ARM_VGIC_V3);
	if (a->gic_fd >= 0) {
		a->gic_version = 3;
		if (set_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST,
			     &dist, "distributor address", err) < 0 ||
		    set_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST,
			     &redist, "redistributor address", err) < 0)
			return -1;
		return 0;
	}
	a->gic_fd = create(vm, KVM_DEV_TYPE_ARM_VGIC_V2);
	if (a->gic_fd < 0)
		return lp_fail_errno(err, "KVM offers neither a vGIC v3 nor a v2");
	a->gic_version = 2;
	if (set_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_DIST, &dist,
		     "distributor address", err) < 0 ||
	    set_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_CPU, &cpu,
		     "CPU interface address", err) < 0)
		return -1;
	return 0;
}

int arm64_gic_init(struct lp_vm *vm, struct lp_err *err)
{
	struct arm64_vm *a = arm64(vm);
	uint32_t nr = GIC_NR_IRQS;

	if (set_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr, "number of IRQs", err) < 0)
		return -1;
	return set_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL,
			"init", err);
}
