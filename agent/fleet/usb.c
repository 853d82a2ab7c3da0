// SPDX-License-Identifier: Apache-2.0
#include "agent/fleet/usb.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent/fleet/status.h"
#include "agent/image/import.h"
#include "platform/board.h"
#include "platform/lib/util.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

/*
 * Every mount of a stick: read-only, and no symlink on it is followed (one
 * could name a host file, or send the status we write to the host's /etc).
 */
#define STICK_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOSYMFOLLOW)

/* Media handled lately, so that the several uevents of one insert apply it once. */
#define SEEN_MAX 16
#define UEVENT_MAX 8192

/* File systems a stick may carry; the kernel has to know them too. */
static const char *const stick_fs[] = { "vfat", "exfat", "ext4", "ext3", "ext2", "f2fs",
					"btrfs", "xfs",	 "ntfs3", "iso9660" };

struct lp_usb {
	const struct lp_host *host;
	const char *prefix;
	int fd;
	struct lp_trust trust;
	char board[128];
	char seen[SEEN_MAX][64];
	size_t next_seen;
};

/* What this process mounts stays here: nobody else sees a stick half read. */
static int private_mounts(struct lp_err *err)
{
	if (unshare(CLONE_NEWNS) < 0)
		return lp_fail_errno(err, "unshare a mount namespace for sticks");
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return lp_fail_errno(err, "make / a slave mount");
	return 0;
}

/* ---------------------------------------------------------------- mounting */

static bool kernel_has_fs(const char *fs)
{
	char line[128];
	bool found = false;
	FILE *f = fopen("/proc/filesystems", "re");

	if (!f)
		return true; /* let mount(2) tell */
	while (!found && fgets(line, sizeof(line), f)) {
		char *name = strrchr(line, '\t');

		name = name ? name + 1 : line;
		name[strcspn(name, "\n")] = '\0';
		found = strncmp(line, "nodev", 5) && !strcmp(name, fs);
	}
	fclose(f);
	return found;
}

/* Mount dev at dir (STICK_FLAGS) with the first file system that fits. */
static int mount_stick(const char *dev, const char *dir, struct lp_err *err)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(stick_fs); i++)
		if (kernel_has_fs(stick_fs[i]) && mount(dev, dir, stick_fs[i], STICK_FLAGS, NULL) == 0)
			return 0;
	return lp_fail(err, EMEDIUMTYPE, "no file system this kernel can mount on %s (tried "
					 "vfat, exfat, ext2/3/4, f2fs, btrfs, xfs, ntfs3, iso9660)",
		       dev);
}

static void unmount_stick(const char *dir)
{
	/* Detached at once even if a file is still open: the stick may be gone. */
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

/* The bundle directory under root: root/limpet, or root itself when it is one. */
static int find_bundle(const char *root, char *out, size_t len, struct lp_err *err)
{
	char doc[PATH_MAX];

	if (lp_path(out, len, err, "%s/limpet", root) < 0 ||
	    lp_path(doc, sizeof(doc), err, "%s/deployment.json", out) < 0)
		return -1;
	if (access(doc, F_OK) == 0)
		return 0;
	if (lp_path(doc, sizeof(doc), err, "%s/deployment.json", root) < 0)
		return -1;
	if (access(doc, F_OK) == 0)
		return lp_path(out, len, err, "%s", root);
	return lp_fail(err, ENOENT, "%s: no limpet/deployment.json", root);
}

/* ---------------------------------------------------------------- applying */

static enum lp_apply_result apply_bundle(const struct lp_host *host, const char *bundle,
					 const struct lp_trust *trust, const char *prefix,
					 struct lp_err *err)
{
	const struct lp_fleet_config *f = &host->cfg.fleet;
	struct lp_fetch_opts fetch = { .ca_file = f->ca, .cert_file = f->cert, .key_file = f->key,
				       .max_bytes_per_s = f->max_download_rate };
	char doc[PATH_MAX], origin[PATH_MAX];
	struct lp_apply_opts o = { .doc = doc, .trust = trust, .fetch = &fetch,
				   .log_prefix = prefix, .origin = origin, .offline = true };

	if (lp_path(doc, sizeof(doc), err, "%s/deployment.json", bundle) < 0 ||
	    lp_path(origin, sizeof(origin), err, "%s/", bundle) < 0)
		return LP_APPLY_REFUSED;
	return lp_deploy_apply(host, &o, err);
}

/* limpet/status/DEVICE.json on the stick, for field staff to collect. */
static void write_status(struct lp_usb *u, const char *mnt, const char *bundle,
			 const char *last_error)
{
	const unsigned long flags = MS_REMOUNT | (STICK_FLAGS & ~MS_RDONLY);
	json_t *j = lp_status_report(u->host, u->board, last_error, true);
	char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	char dir[PATH_MAX], path[PATH_MAX];
	struct lp_err err = { 0 };
	int fd;

	json_decref(j);
	if (!text)
		return;
	if (mount(NULL, mnt, NULL, flags, NULL) < 0) {
		lp_say(u->prefix, "status: remount %s read-write: %s", mnt, strerror(errno));
		free(text);
		return;
	}
	if (lp_path(dir, sizeof(dir), &err, "%s/status", bundle) < 0 ||
	    lp_path(path, sizeof(path), &err, "%s/%s.json", dir,
		    u->host->cfg.fleet.device_id) < 0 ||
	    lp_mkdir_p(dir, 0755, &err) < 0 || lp_write_file_atomic(path, text, strlen(text), &err) < 0)
		lp_say(u->prefix, "status: %s", err.msg);
	else
		lp_say(u->prefix, "status written to the stick (limpet/status/%s.json)",
		    u->host->cfg.fleet.device_id);
	fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		syncfs(fd);
		close(fd);
	}
	mount(NULL, mnt, NULL, flags | MS_RDONLY, NULL);
	free(text);
}

/* A block device node for the uevent's device: /dev's, or one of our own. */
static int device_node(struct lp_usb *u, const struct lp_uevent *ev, char *out, size_t len,
		       struct lp_err *err)
{
	struct stat st;

	if (lp_path(out, len, err, "/dev/%s", ev->devname) < 0)
		return -1;
	if (stat(out, &st) == 0 && S_ISBLK(st.st_mode))
		return 0;
	/* No devtmpfs entry (yet): the numbers in the uevent are enough. */
	if (!ev->major || !ev->minor ||
	    lp_path(out, len, err, "%s/usb/%s.node", u->host->run_dir, ev->devname) < 0)
		return lp_fail(err, ENODEV, "no device node for %s", ev->devname);
	unlink(out);
	if (mknod(out, S_IFBLK | 0600, makedev(atoi(ev->major), atoi(ev->minor))) < 0)
		return lp_fail_errno(err, "mknod %s", out);
	return 0;
}

static void apply_device(struct lp_usb *u, const struct lp_uevent *ev)
{
	char node[PATH_MAX], mnt[PATH_MAX], bundle[PATH_MAX], name[NAME_MAX + 8];
	struct lp_err err = { 0 };
	enum lp_apply_result r;

	/* Messages name the device as the kernel does, whichever node we use. */
	snprintf(name, sizeof(name), "/dev/%s", ev->devname);
	if (device_node(u, ev, node, sizeof(node), &err) < 0 ||
	    lp_path(mnt, sizeof(mnt), &err, "%s/usb/%s", u->host->run_dir, ev->devname) < 0 ||
	    lp_mkdir_p(mnt, 0700, &err) < 0) {
		lp_say(u->prefix, "%s: %s", ev->devname, err.msg);
		return;
	}
	if (mount_stick(node, mnt, &err) < 0) {
		rmdir(mnt);
		lp_say(u->prefix, "%s: %s", name, err.msg);
		return;
	}
	if (find_bundle(mnt, bundle, sizeof(bundle), &err) < 0) {
		lp_say(u->prefix, "%s: nothing for limpet on it (no limpet/deployment.json)", name);
		unmount_stick(mnt);
		return;
	}
	lp_say(u->prefix, "%s: a deployment bundle; applying it", name);
	r = apply_bundle(u->host, bundle, &u->trust, u->prefix, &err);
	if (r == LP_APPLY_DONE || r == LP_APPLY_UNCHANGED)
		lp_say(u->prefix, "%s: %s", name,
		    r == LP_APPLY_DONE ? "applied" : "already running this deployment");
	else
		lp_say(u->prefix, "%s: ignored (%s): %s", name, lp_apply_result_name(r), err.msg);
	if (u->host->cfg.usb.write_status)
		write_status(u, mnt, bundle,
			     r == LP_APPLY_DONE || r == LP_APPLY_UNCHANGED ? NULL : err.msg);
	unmount_stick(mnt);
	if (strncmp(node, "/dev/", 5))
		unlink(node); /* the node device_node made, never one of /dev */
}

/* ---------------------------------------------------------------- uevents */

void lp_uevent_parse(char *buf, size_t len, struct lp_uevent *ev)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "ACTION=", offsetof(struct lp_uevent, action) },
		{ "SUBSYSTEM=", offsetof(struct lp_uevent, subsystem) },
		{ "DEVNAME=", offsetof(struct lp_uevent, devname) },
		{ "MAJOR=", offsetof(struct lp_uevent, major) },
		{ "MINOR=", offsetof(struct lp_uevent, minor) },
	};
	char *p = buf, *end = buf + len;
	size_t i;

	memset(ev, 0, sizeof(*ev));
	/* "ACTION@DEVPATH" then NUL-separated KEY=VALUE lines. */
	while (p < end) {
		size_t n = strnlen(p, (size_t)(end - p));

		for (i = 0; i < ARRAY_SIZE(keys); i++)
			if (!strncmp(p, keys[i].key, strlen(keys[i].key)))
				*(const char **)((char *)ev + keys[i].off) = p + strlen(keys[i].key);
		p += n + 1;
	}
}

/* Sectors of media in the device; 0 when there is none (an empty card reader, a loop device without a file). */
static long long media_size(const char *devname)
{
	char path[PATH_MAX], *text = NULL;
	struct lp_err err;
	long long n = 0;
	size_t len;

	if (strchr(devname, '/') ||
	    lp_path(path, sizeof(path), &err, "/sys/class/block/%s/size", devname) < 0 ||
	    lp_read_file(path, 64, &text, &len, &err) < 0)
		return 0;
	n = atoll(text);
	free(text);
	return n;
}

static void handle_uevent(struct lp_usb *u, const struct lp_uevent *ev)
{
	char key[64];
	size_t i;

	if (!ev->action || !ev->subsystem || !ev->devname || strcmp(ev->subsystem, "block"))
		return;
	if (strcmp(ev->action, "add") && strcmp(ev->action, "change") && strcmp(ev->action, "remove"))
		return;
	/*
	 * One insert sends several events (add, change, partitions, a loop
	 * device's setup steps): a device is handled once until its medium is
	 * gone (size 0, or removed).
	 */
	snprintf(key, sizeof(key), "%s:", ev->devname);
	if (!strcmp(ev->action, "remove") || media_size(ev->devname) <= 0) {
		/* The medium went away: the next one under this name is new. */
		for (i = 0; i < SEEN_MAX; i++)
			if (!strncmp(u->seen[i], ev->devname, strlen(ev->devname)) &&
			    u->seen[i][strlen(ev->devname)] == ':')
				u->seen[i][0] = '\0';
		return;
	}
	for (i = 0; i < SEEN_MAX; i++)
		if (!strcmp(u->seen[i], key))
			return;
	snprintf(u->seen[u->next_seen], sizeof(u->seen[0]), "%s", key);
	u->next_seen = (u->next_seen + 1) % SEEN_MAX;
	apply_device(u, ev);
}

void lp_usb_handle(struct lp_usb *u)
{
	char buf[UEVENT_MAX + 1];
	struct sockaddr_nl from;
	socklen_t from_len = sizeof(from);
	ssize_t n;

	while ((n = recvfrom(u->fd, buf, UEVENT_MAX, MSG_DONTWAIT, (struct sockaddr *)&from,
			     &from_len)) > 0) {
		struct lp_uevent ev;

		/* Only the kernel's own uevents (port 0) say a stick came: udevd's and others' are not. */
		if (from_len != sizeof(from) || from.nl_pid != 0) {
			from_len = sizeof(from);
			continue;
		}
		from_len = sizeof(from);
		buf[n] = '\0';
		lp_uevent_parse(buf, (size_t)n, &ev);
		handle_uevent(u, &ev);
	}
}

int lp_usb_fd(const struct lp_usb *u)
{
	return u->fd;
}

int lp_usb_open(const struct lp_host *host, const char *log_prefix, struct lp_usb **out,
		struct lp_err *err)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	struct lp_usb *u = calloc(1, sizeof(*u));
	struct lp_board b;
	int size = 1 << 20;

	if (!u)
		return lp_fail(err, ENOMEM, "out of memory");
	u->host = host;
	u->prefix = log_prefix;
	u->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		       NETLINK_KOBJECT_UEVENT);
	if (u->fd < 0) {
		free(u);
		return lp_fail_errno(err, "uevent socket");
	}
	/* A burst of uevents (a hub with several sticks) must not overflow it. */
	setsockopt(u->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	if (bind(u->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		lp_fail_errno(err, "bind the uevent socket");
		goto fail;
	}
	if (private_mounts(err) < 0 || lp_host_trust(host, NULL, 0, &u->trust, err) < 0)
		goto fail;
	snprintf(u->board, sizeof(u->board), "%s",
		 lp_board_probe(&b, err) == 0 ? b.model : "unknown");
	*out = u;
	return 0;
fail:
	close(u->fd);
	free(u);
	return -1;
}

void lp_usb_close(struct lp_usb *u)
{
	if (!u)
		return;
	close(u->fd);
	lp_trust_free(&u->trust);
	free(u);
}

/* ---------------------------------------------------------------- by hand */

enum lp_apply_result lp_usb_import(const struct lp_host *host, const char *path,
				   const struct lp_trust *trust, const char *log_prefix,
				   struct lp_err *err)
{
	char mnt[PATH_MAX], bundle[PATH_MAX];
	enum lp_apply_result r;
	struct stat st;

	if (stat(path, &st) < 0) {
		lp_fail_errno(err, "%s", path);
		return LP_APPLY_REFUSED;
	}
	if (S_ISDIR(st.st_mode)) {
		/* Image paths resolve against an absolute bundle directory. */
		char *abs = realpath(path, NULL);
		int rc = abs ? find_bundle(abs, bundle, sizeof(bundle), err)
			     : lp_fail_errno(err, "%s", path);

		free(abs);
		if (rc < 0)
			return LP_APPLY_REFUSED;
		return apply_bundle(host, bundle, trust, log_prefix, err);
	}
	if (!S_ISBLK(st.st_mode)) {
		lp_fail(err, EINVAL, "%s: neither a folder nor a block device", path);
		return LP_APPLY_REFUSED;
	}
	if (private_mounts(err) < 0 ||
	    lp_path(mnt, sizeof(mnt), err, "%s/usb/import-%d", host->run_dir, (int)getpid()) < 0 ||
	    lp_mkdir_p(mnt, 0700, err) < 0)
		return LP_APPLY_RETRY;
	if (mount_stick(path, mnt, err) < 0) {
		rmdir(mnt);
		return LP_APPLY_REFUSED;
	}
	if (find_bundle(mnt, bundle, sizeof(bundle), err) < 0) {
		lp_fail(err, ENOENT, "%s: no limpet/deployment.json on it", path);
		unmount_stick(mnt);
		return LP_APPLY_REFUSED;
	}
	r = apply_bundle(host, bundle, trust, log_prefix, err);
	unmount_stick(mnt);
	return r;
}
