/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container as the user describes it (CLI flags, a config entry, a
 * deployment).  Serialised as JSON in the state directory so `ps`, `stop`
 * and a restarted agent see exactly what was asked for.
 */
#ifndef LIMPET_SPEC_H
#define LIMPET_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <stdint.h>

#include "platform/lib/err.h"
#include "platform/runtime.h"

#define LP_NAME_MAX 64
/* Below this the runtime itself (init, libc, page tables) gets OOM killed. */
#define LP_MEMORY_MIN ((int64_t)4 << 20)
#define LP_CPU_WEIGHT_MAX 10000
#define LP_CPU_PERIOD_US 100000		/* period used for --cpus quotas */
#define LP_CPU_QUOTA_MIN_US 1000	/* the kernel refuses smaller quotas */
#define LP_CPUS_MAX 1024
/* A microVM's RAM holds its kernel and its initramfs twice (packed and unpacked). */
#define LP_VM_MEMORY_MIN ((int64_t)64 << 20)

enum lp_restart_policy {
	LP_RESTART_NO = 0,
	LP_RESTART_ON_FAILURE,
	LP_RESTART_ALWAYS,
};

struct lp_restart {
	enum lp_restart_policy policy;
	int max_retries;	/* on-failure:N; 0 = no limit */
};

enum lp_net_mode {
	LP_NET_NONE = 0,	/* own network namespace with loopback only */
	LP_NET_HOST,
};

/*
 * Where a container runs: namespaces, a KVM microVM, or a microVM where KVM
 * works and namespaces elsewhere (decided at each start, and logged).
 */
enum lp_isolation {
	LP_ISOLATION_CONTAINER = 0,
	LP_ISOLATION_VM,
	LP_ISOLATION_AUTO,
};

/* A named directory, ROOT/volumes/NAME, that outlives the containers using it. */
#define LP_VOLUME_NAME_MAX 64
struct lp_volume {
	char *name;		/* [A-Za-z0-9_.-]{1,64}, never "." or ".." */
	char *path;		/* inside: absolute, no "." or "..", not / nor under /proc /sys /dev */
};

struct lp_container_cfg {
	char *name;
	char *rootfs;		/* absolute path of the read-only root directory, or: */
	char *image;		/* an image in the store (exactly one of rootfs, image) */
	char **argv;		/* NULL-terminated; may be empty with an image (its Cmd) */
	char *user;		/* with an image: "name[:group]" or "uid[:gid]" to resolve in it */
	char **env;		/* NULL-terminated "K=V" list, may be empty */
	char *hostname;		/* NULL: the container name */
	char *cwd;		/* NULL: "/" */
	uint32_t uid, gid;
	enum lp_net_mode net;
	bool read_only;
	bool init;		/* limpet's init as PID 1 */
	bool tty;		/* a terminal as its stdio (-t) */
	bool interactive;	/* its input is kept open for an operator (-i) */
	struct lp_limits limits;
	struct lp_device *devices;
	size_t n_devices;
	struct lp_volume *volumes;	/* bound read-write at their paths */
	size_t n_volumes;
	struct lp_restart restart;
	uint32_t userns_uid, userns_count; /* userns_count 0: no user namespace */
	enum lp_isolation isolation;
	const char *source;	/* config file it came from, for messages; not owned */
	int source_line;
};

void lp_container_cfg_free(struct lp_container_cfg *c);

/* Container names: [A-Za-z0-9][A-Za-z0-9_.-]{0,63}. */
int lp_name_valid(const char *name, struct lp_err *err);
#define LP_IMAGE_NAME_MAX 255
/* Image names: registry-like references, [A-Za-z0-9._/:@-], at most LP_IMAGE_NAME_MAX bytes. */
int lp_image_name_valid(const char *name, struct lp_err *err);
/* Absolute and without ".." components: stays inside whatever root it is joined to. */
bool lp_path_confined(const char *path);

/* Check the whole entry (name, rootfs absolute, argv non-empty, limits sane). */
int lp_container_cfg_validate(const struct lp_container_cfg *c, struct lp_err *err);
/*
 * The same check, with the message left without the field name, which is
 * returned in *field instead ("memory", "command", ... as the config spells
 * them) so the config loader can point at that setting's line.
 */
int lp_container_cfg_check(const struct lp_container_cfg *c, const char **field,
			   struct lp_err *err);
/* One device entry: paths absolute (inner confined), perms a subset of "rwm", type c or b. */
int lp_device_check(const struct lp_device *dev, struct lp_err *err);

/* Volume names: 1 to 64 of [A-Za-z0-9_.-], not "." or "..". */
int lp_volume_name_valid(const char *name, struct lp_err *err);
/*
 * vols[i]: a valid name and path, neither used by vols[0..i-1] (which have
 * passed already).  *field (may be NULL) gets "name" or "path", the part
 * that is wrong; a message about the path does not say which volume it is.
 */
int lp_volume_check(const struct lp_volume *vols, size_t i, const char **field,
		    struct lp_err *err);
/* Free n volumes and their strings. */
void lp_volumes_free(struct lp_volume *vols, size_t n);

/* JSON round trip (jansson); the string from _to_json must be freed. */
char *lp_container_cfg_to_json(const struct lp_container_cfg *c, struct lp_err *err);
/* The same as a JSON object, to put in a larger document (a control request). */
json_t *lp_container_cfg_encode(const struct lp_container_cfg *c, struct lp_err *err);
int lp_container_cfg_from_json(const char *json, struct lp_container_cfg *c, struct lp_err *err);
/* The same from a JSON object (checked as strictly; c is left zeroed on failure). */
int lp_container_cfg_decode(json_t *root, struct lp_container_cfg *c, struct lp_err *err);

#endif
