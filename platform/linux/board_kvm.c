// SPDX-License-Identifier: Apache-2.0
/*
 * What /dev/kvm offers a microVM (board.h's lp_board_probe_kvm): the API,
 * vCPUs, and on arm64 the IPA size and which vGIC.  Apart from the rest of
 * the probe because it asks the kernel through ioctls rather than reading
 * files, so it has no fake-tree form.
 */
#include "platform/board.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "platform/lib/util.h"

/*
 * Which virtual GIC a microVM can get depends on the host's GIC (a GIC-400
 * offers only v2, a GICv3 without the v2 compatibility interface only v3):
 * ask a throw-away VM, which KVM_CREATE_DEVICE_TEST does not change.
 */
#if defined(__aarch64__)
static void query_vgic(int fd, struct lp_board_kvm *kvm)
{
	struct kvm_create_device dev = { .flags = KVM_CREATE_DEVICE_TEST };
	int vm = ioctl(fd, KVM_CREATE_VM, 0);

	if (vm < 0)
		return;
	dev.type = KVM_DEV_TYPE_ARM_VGIC_V2;
	kvm->arm_vgic_v2 = ioctl(vm, KVM_CREATE_DEVICE, &dev) == 0;
	dev.type = KVM_DEV_TYPE_ARM_VGIC_V3;
	kvm->arm_vgic_v3 = ioctl(vm, KVM_CREATE_DEVICE, &dev) == 0;
	close(vm);
}
#endif

static void query_kvm(int fd, struct lp_board_kvm *kvm)
{
	int n;

	kvm->api_version = ioctl(fd, KVM_GET_API_VERSION, 0);
	kvm->usable = kvm->api_version == KVM_API_VERSION;
	if (!kvm->usable)
		return;
	n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	kvm->max_vcpus = n > 0 ? n : 0;
#if defined(__aarch64__)
	n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);
	kvm->arm_ipa_bits = n > 0 ? n : 0;
	query_vgic(fd, kvm);
#endif
}

void lp_board_probe_kvm(struct lp_board_kvm *kvm)
{
	cleanup_fd int fd = -1;

	memset(kvm, 0, sizeof(*kvm));
	kvm->api_version = -1;
	kvm->present = access("/dev/kvm", F_OK) == 0;
	if (!kvm->present)
		return;
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		kvm->open_errno = errno;
		return;
	}
	query_kvm(fd, kvm);
}
