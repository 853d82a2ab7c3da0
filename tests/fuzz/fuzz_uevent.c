// SPDX-License-Identifier: Apache-2.0
/*
 * Kernel uevents (agent/fleet/usb.c), as the netlink socket delivers them to the
 * USB stick watcher: "ACTION@DEVPATH" then NUL-separated KEY=VALUE strings.
 * The input is one message; every field found must lie inside it.
 */
#include "tests/fuzz/fuzz.h"

#include "agent/fleet/usb.h"

static void check_field(const char *name, const char *v, const char *buf, size_t len)
{
	if (!v)
		return;
	if (v < buf || v > buf + len)
		fz_fail("%s points outside the message", name);
	if (!memchr(v, '\0', (size_t)(buf + len + 1 - v)))
		fz_fail("%s is not terminated inside the message", name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* lp_usb_handle's buffer: the datagram and a NUL after it */
	cleanup_free char *buf = fz_strndup(data, size);
	struct lp_uevent ev;

	lp_uevent_parse(buf, size, &ev);
	check_field("ACTION", ev.action, buf, size);
	check_field("SUBSYSTEM", ev.subsystem, buf, size);
	check_field("DEVNAME", ev.devname, buf, size);
	check_field("MAJOR", ev.major, buf, size);
	check_field("MINOR", ev.minor, buf, size);
	return 0;
}
