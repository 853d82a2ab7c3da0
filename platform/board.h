/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What board and kernel we are running on, and which of the kernel features
 * limpet relies on are there.  Deliberately independent of the cgroup and
 * runtime code: `limpet doctor` must still explain a board on which those
 * fail.
 *
 * Every file is read below $LIMPET_SYSROOT (default: none) so tests can fake
 * /proc, /sys, /dev and /boot.  With a sysroot set no syscall probes the real
 * kernel (prctl, pidfd_open, ioctl on /dev/kvm): their answers are derived
 * from the fake tree instead.  $LIMPET_CGROUP_MODE=v1|hybrid|v2 overrides the
 * detected cgroup mode, since a filesystem magic cannot be faked.
 */
#ifndef LIMPET_BOARD_H
#define LIMPET_BOARD_H

#include <stdbool.h>
#include <stddef.h>

#include "platform/lib/err.h"

#define LP_BOARD_STR_MAX 128

enum lp_board_cgroup_mode {
	LP_BOARD_CGROUP_NONE = 0,	/* nothing usable mounted at /sys/fs/cgroup */
	LP_BOARD_CGROUP_V1,		/* per-controller hierarchies only */
	LP_BOARD_CGROUP_HYBRID,		/* v1 controllers plus an empty v2 at unified/ */
	LP_BOARD_CGROUP_V2,		/* unified hierarchy owns the controllers */
};

enum lp_board_ctrl {
	LP_CTRL_MEMORY,
	LP_CTRL_CPU,
	LP_CTRL_PIDS,
	LP_CTRL_IO,		/* "blkio" on v1 */
	LP_CTRL_CPUSET,
	LP_CTRL_DEVICES,	/* on v2 an eBPF program, not a listed controller */
	LP_CTRL_COUNT,
};

struct lp_board_ctrl_state {
	bool available;	/* the kernel has it (/proc/cgroups, or v2 cgroup.controllers) */
	bool enabled;	/* not disabled at boot: v1 "enabled" column; v2 root cgroup.controllers */
	bool mounted;	/* v1: attached to a hierarchy; v2: same as enabled */
	bool subtree;	/* v2: listed in the root cgroup.subtree_control */
};

enum lp_board_ns {
	LP_NS_MNT,
	LP_NS_PID,
	LP_NS_UTS,
	LP_NS_IPC,
	LP_NS_NET,
	LP_NS_USER,
	LP_NS_CGROUP,
	LP_NS_COUNT,
};

struct lp_board_kvm {
	bool present;		/* /dev/kvm exists */
	bool usable;		/* opened, and the API version is the stable one (12) */
	int open_errno;		/* why opening /dev/kvm failed; 0 if it did not */
	int api_version;	/* KVM_GET_API_VERSION; -1 when not asked */
	int max_vcpus;		/* KVM_CAP_MAX_VCPUS; 0 when not asked */
	int arm_ipa_bits;	/* arm64 KVM_CAP_ARM_VM_IPA_SIZE; 0 elsewhere or not asked */
	bool arm_vgic_v2;	/* arm64: a VM can have a GICv2 (Pi 4's GIC-400) */
	bool arm_vgic_v3;	/* arm64: a VM can have a GICv3 (Pi 5, most servers) */
};

struct lp_board {
	bool from_sysroot;			/* read from $LIMPET_SYSROOT, no kernel probes */
	char model[LP_BOARD_STR_MAX];		/* device tree or DMI model, else "unknown" */
	bool is_raspberry_pi;
	char pi_cmdline_txt[32];		/* the Pi's cmdline.txt (path on the board) */
	char machine[LP_BOARD_STR_MAX];		/* uname -m */
	char kernel_release[LP_BOARD_STR_MAX];	/* uname -r */
	int kernel_major, kernel_minor;
	long page_size;
	bool cmdline_disables_memory;		/* cgroup_disable=memory on /proc/cmdline */

	enum lp_board_cgroup_mode cgroup_mode;
	struct lp_board_ctrl_state ctrl[LP_CTRL_COUNT];

	bool ns[LP_NS_COUNT];			/* /proc/self/ns/<name> exists */
	long max_user_namespaces;		/* -1 when the sysctl is missing */
	bool userns_allowed;			/* max_user_namespaces > 0 */

	bool overlay;				/* "overlay" in /proc/filesystems */
	bool overlay_module;			/* overlay.ko installed for this kernel */

	bool seccomp;				/* prctl(PR_GET_SECCOMP) and Seccomp: in status */
	bool seccomp_filter;			/* /proc/sys/kernel/seccomp/actions_avail */

	bool pidfd;				/* pidfd_open works (sysroot: kernel >= 5.3) */
	int pidfd_errno;			/* why pidfd_open failed; 0 if it did not */

	struct lp_board_kvm kvm;
};

/* Fill b; missing files mean "feature absent".  Fails only on real errors. */
int lp_board_probe(struct lp_board *b, struct lp_err *err);
/* Only the KVM part, from the real /dev/kvm (the microVM path asks this). */
void lp_board_probe_kvm(struct lp_board_kvm *kvm);

const char *lp_board_cgroup_mode_name(enum lp_board_cgroup_mode mode);
/* The controller's name in the board's cgroup mode ("io" or "blkio"). */
const char *lp_board_ctrl_name(const struct lp_board *b, enum lp_board_ctrl c);
/* Enabled and mounted: limpet can put limits through it. */
bool lp_board_ctrl_usable(const struct lp_board *b, enum lp_board_ctrl c);
const char *lp_board_ns_name(enum lp_board_ns ns);
/* The kernel release is at least major.minor. */
/* The kernel option controller c needs ("CONFIG_MEMCG"). */
const char *lp_board_ctrl_kconfig(enum lp_board_ctrl c);
bool lp_board_kernel_at_least(const struct lp_board *b, int major, int minor);

/*
 * The exact action that makes the memory controller usable on this board
 * (e.g. the cmdline.txt change on a Raspberry Pi), written to buf.  Returns
 * buf, or NULL when the memory controller is already usable.
 */
const char *lp_board_memory_fix(const struct lp_board *b, char *buf, size_t len);
/* The same for any controller; memory gets lp_board_memory_fix(). */
const char *lp_board_ctrl_fix(const struct lp_board *b, enum lp_board_ctrl c, char *buf,
			      size_t len);

/* This machine as an OCI platform ("linux/arm64", "linux/arm/v7"), the image a store picks. */
const char *lp_board_platform(void);

#endif
