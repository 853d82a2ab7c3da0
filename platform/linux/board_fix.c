// SPDX-License-Identifier: Apache-2.0
/*
 * What to do about a controller the probe (board.c) found missing: the
 * kernel parameter, the mount or the kernel option, said for this board
 * (a Raspberry Pi's cmdline.txt, a kernel that dropped v1 memory).  Apart
 * from the probe because it reads only the probe's result.
 */
#include "platform/board.h"

#include <stdio.h>
#include <string.h>

#define GRUB_HINT "(with GRUB: GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub)"

static bool is_v1_mode(const struct lp_board *b)
{
	return b->cgroup_mode == LP_BOARD_CGROUP_V1 || b->cgroup_mode == LP_BOARD_CGROUP_HYBRID;
}

/* Fixes every controller shares: no hierarchy at all, or not mounted on v1. */
static const char *mount_fix(const struct lp_board *b, enum lp_board_ctrl c, char *buf,
			     size_t len)
{
	const char *name = lp_board_ctrl_name(b, c);

	if (b->cgroup_mode == LP_BOARD_CGROUP_NONE) {
		snprintf(buf, len,
			 "mount the cgroup filesystem: mount -t cgroup2 cgroup2 /sys/fs/cgroup");
		return buf;
	}
	if (is_v1_mode(b) && b->ctrl[c].enabled && !b->ctrl[c].mounted) {
		snprintf(buf, len,
			 "mkdir -p /sys/fs/cgroup/%s && "
			 "mount -t cgroup -o %s cgroup /sys/fs/cgroup/%s",
			 name, name, name);
		return buf;
	}
	return NULL;
}

static const char *cmdline_location(const struct lp_board *b)
{
	if (!b->is_raspberry_pi)
		return "the kernel command line " GRUB_HINT;
	return b->pi_cmdline_txt[0] ? b->pi_cmdline_txt : "/boot/firmware/cmdline.txt";
}

static const char *pi_memory_fix(const struct lp_board *b, char *buf, size_t len)
{
	const char *file = b->pi_cmdline_txt;

	if (!file[0]) {
		snprintf(buf, len,
			 "append 'cgroup_enable=memory cgroup_memory=1' to the single line in "
			 "/boot/firmware/cmdline.txt (/boot/cmdline.txt before bookworm), "
			 "then reboot");
		return buf;
	}
	snprintf(buf, len,
		 "append 'cgroup_enable=memory cgroup_memory=1' to the single line in %s "
		 "(sed -i '1 s/$/ cgroup_enable=memory cgroup_memory=1/' %s), then reboot",
		 file, file);
	return buf;
}

const char *lp_board_memory_fix(const struct lp_board *b, char *buf, size_t len)
{
	const struct lp_board_ctrl_state *mem = &b->ctrl[LP_CTRL_MEMORY];

	if (lp_board_ctrl_usable(b, LP_CTRL_MEMORY))
		return NULL;
	if (mount_fix(b, LP_CTRL_MEMORY, buf, len))
		return buf;
	/* 6.12 made v1 memory support optional (CONFIG_MEMCG_V1) and many builds drop it */
	if (is_v1_mode(b) && !mem->available && lp_board_kernel_at_least(b, 6, 12)) {
		snprintf(buf, len,
			 "this kernel has no cgroup v1 memory controller (CONFIG_MEMCG_V1 is off): "
			 "boot with cgroup v2 (remove systemd.unified_cgroup_hierarchy=0 from %s), "
			 "then reboot",
			 cmdline_location(b));
		return buf;
	}
	if (b->is_raspberry_pi)
		return pi_memory_fix(b, buf, len);
	if (is_v1_mode(b) && !mem->available) {
		snprintf(buf, len,
			 "the kernel has no memory controller: use a kernel built with %s=y",
			 lp_board_ctrl_kconfig(LP_CTRL_MEMORY));
		return buf;
	}
	if (b->cmdline_disables_memory) {
		snprintf(buf, len,
			 "remove cgroup_disable=memory from the kernel command line " GRUB_HINT
			 ", then reboot");
		return buf;
	}
	snprintf(buf, len,
		 "add cgroup_enable=memory to the kernel command line " GRUB_HINT
		 ", then reboot; if memory is still missing the kernel lacks CONFIG_MEMCG");
	return buf;
}

const char *lp_board_ctrl_fix(const struct lp_board *b, enum lp_board_ctrl c, char *buf,
			      size_t len)
{
	const struct lp_board_ctrl_state *st = &b->ctrl[c];
	const char *name = lp_board_ctrl_name(b, c);

	if (c == LP_CTRL_MEMORY)
		return lp_board_memory_fix(b, buf, len);
	if (lp_board_ctrl_usable(b, c))
		return NULL;
	if (mount_fix(b, c, buf, len))
		return buf;
	if (!st->available)
		snprintf(buf, len, "the kernel has no %s controller: use a kernel built with %s=y",
			 name, lp_board_ctrl_kconfig(c));
	else if (is_v1_mode(b))
		snprintf(buf, len,
			 "remove cgroup_disable=%s from the kernel command line, then reboot",
			 name);
	else
		snprintf(buf, len,
			 "remove cgroup_disable=%s from the kernel command line and reboot, "
			 "or use a kernel built with %s=y",
			 name, lp_board_ctrl_kconfig(c));
	return buf;
}
