/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deployments from USB sticks: a folder limpet/ on any stick (vfat, exfat,
 * ext4, ...) holding deployment.json, its .sig and the image archives it
 * names by relative path, applied with exactly the checks of the fleet path.
 *
 * The watcher listens to kernel uevents (netlink), so it needs no udev,
 * udisks or systemd.  A new block device with media is mounted read-only,
 * nosuid, nodev, noexec in a private mount namespace, its bundle applied,
 * and it is unmounted again whatever happened.
 */
#ifndef LIMPET_USB_H
#define LIMPET_USB_H

#include "agent/config/host.h"
#include "agent/deploy/deploy.h"

struct lp_usb;

/*
 * Start watching: a uevent socket, and (once per process) a private mount
 * namespace so that what is mounted here is seen nowhere else.
 */
int lp_usb_open(const struct lp_host *host, const char *log_prefix, struct lp_usb **out,
		struct lp_err *err);
void lp_usb_close(struct lp_usb *u);
/* Readable when uevents are waiting. */
int lp_usb_fd(const struct lp_usb *u);
/* Read the waiting uevents and apply the bundle of each new medium. */
void lp_usb_handle(struct lp_usb *u);

/* The fields of a kernel uevent the watcher looks at; NULL when absent. */
struct lp_uevent {
	const char *action, *subsystem, *devname, *major, *minor;
};

/*
 * A uevent as the netlink socket delivers it, "ACTION@DEVPATH" then
 * NUL-separated KEY=VALUE strings, len bytes with buf[len] == '\0'.  The
 * fields point into buf.
 */
void lp_uevent_parse(char *buf, size_t len, struct lp_uevent *ev);

/*
 * limpet import PATH: a folder holding limpet/ (or limpet/ itself), or a
 * block device (mounted as the watcher does).
 */
enum lp_apply_result lp_usb_import(const struct lp_host *host, const char *path,
				   const struct lp_trust *trust, const char *log_prefix,
				   struct lp_err *err);

#endif
