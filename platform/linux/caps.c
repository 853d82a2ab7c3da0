// SPDX-License-Identifier: Apache-2.0
/* Docker's default capability set, so images that run under Docker run here. */
#include "platform/linux/linux.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CAPBIT(c) (1ULL << (c))

static const unsigned long long default_caps =
	CAPBIT(CAP_CHOWN) | CAPBIT(CAP_DAC_OVERRIDE) | CAPBIT(CAP_FOWNER) | CAPBIT(CAP_FSETID) |
	CAPBIT(CAP_KILL) | CAPBIT(CAP_SETGID) | CAPBIT(CAP_SETUID) | CAPBIT(CAP_SETPCAP) |
	CAPBIT(CAP_NET_BIND_SERVICE) | CAPBIT(CAP_NET_RAW) | CAPBIT(CAP_SYS_CHROOT) |
	CAPBIT(CAP_MKNOD) | CAPBIT(CAP_AUDIT_WRITE) | CAPBIT(CAP_SETFCAP);

unsigned long long lp_caps_default(void)
{
	return default_caps;
}

static unsigned long long wanted_caps(bool keep_mknod)
{
	return keep_mknod ? default_caps : default_caps & ~CAPBIT(CAP_MKNOD);
}

static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int last = CAP_LAST_CAP;

	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = CAP_LAST_CAP;
		fclose(f);
	}
	return last;
}

int lp_caps_bound(bool keep_mknod, struct lp_err *err)
{
	unsigned long long want = wanted_caps(keep_mknod);
	int cap, last = last_cap();

	for (cap = 0; cap <= last; cap++) {
		if (want & CAPBIT(cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return lp_fail_errno(err, "drop capability %d from the bounding set", cap);
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return lp_fail_errno(err, "clear ambient capabilities");
	return 0;
}

int lp_caps_apply(bool keep_mknod, struct lp_err *err)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { { 0 } };
	unsigned long long want = wanted_caps(keep_mknod);

	data[0].effective = data[0].permitted = (unsigned int)want;
	data[1].effective = data[1].permitted = (unsigned int)(want >> 32);
	/* Inheritable stays empty (CVE-2022-24769: never hand caps across exec that way). */
	if (syscall(SYS_capset, &hdr, data) < 0)
		return lp_fail_errno(err, "set capabilities");
	return 0;
}
