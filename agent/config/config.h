/* SPDX-License-Identifier: Apache-2.0 */
/* The agent config file (libconfig), turned into a validated struct. */
#ifndef LIMPET_CONFIG_H
#define LIMPET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform/lib/err.h"
#include "agent/spec/spec.h"

#define LP_DEFAULT_CONFIG "/etc/limpet/limpet.conf"
#define LP_DEFAULT_ROOT "/var/lib/limpet"
#define LP_DEFAULT_RUN_DIR "/run/limpet"

/* Where the agent gets its deployments: fleet = { ... } (all optional). */
struct lp_fleet_config {
	char *server;		/* https:// URL of this device's directory; NULL: no fleet */
	char *status_url;	/* where status reports are PUT; NULL: server + "status.json" */
	int64_t status_interval_ms;	/* unchanged status is sent again this often */
	char *ca;		/* PEM bundle the server must chain to; NULL: system store */
	char *cert;		/* this device's client certificate (PEM); with key */
	char *key;		/* its private key (PEM); with cert */
	char *device_id;	/* default: the hostname */
	char **groups;		/* NULL-terminated, never NULL */
	int64_t poll_interval_ms;
	int64_t poll_jitter_ms;	/* up to this much is added to each interval at random */
	int64_t max_download_rate;	/* bytes per second; 0: no cap */
	bool keep_downloads;	/* keep archives in ROOT/downloads after an import */
};

/* One registry's settings: registry = { hosts = ( { host = ...; ... } ) }. */
struct lp_registry_host {
	char *host;		/* "registry.example.com:5000", "docker.io" */
	char *ca;		/* PEM bundle its certificate must chain to; NULL: system store */
	char *cert;		/* client certificate (PEM), with key */
	char *key;
	char **mirrors;		/* tried first, in order, for what is named by digest; never NULL */
	bool mirror_tags;	/* tags may resolve at a mirror too (a site offline from the origin) */
};

/* Pulls from registries: registry = { ... } (all optional). */
struct lp_registry_config {
	char *auth_file;	/* credentials (docker config.json format); NULL: anonymous */
	/*
	 * A signature whose identity is the repository without a tag (what
	 * cosign writes) is enough: signatures = "repository".  Default
	 * "exact": the reference with its tag, as skopeo signs.
	 */
	bool signatures_by_repository;
	struct lp_registry_host *hosts;
	size_t n_hosts;
};

/* The settings for host (as a reference names it), or NULL. */
const struct lp_registry_host *lp_registry_host_find(const struct lp_registry_config *r,
						     const char *host);

/* Deployments from USB sticks (or any block device): usb = { ... }. */
struct lp_usb_config {
	bool enabled;		/* watch uevents for new block devices */
	bool write_status;	/* write limpet/status/DEVICE.json back to the stick */
};

/* microVMs (isolation vm or auto). */
struct lp_vm_settings {
	char *kernel;		/* the guest kernel: arm64 Image or x86_64 bzImage */
	int64_t memory;		/* guest RAM of a container without a memory limit */
};

#define LP_DEFAULT_VM_KERNEL "/usr/lib/limpet/vmlinuz"
#define LP_DEFAULT_VM_MEMORY ((int64_t)256 << 20)

struct lp_agent_config {
	char *path;		/* file it was read from; NULL when defaults only */
	char *root;		/* persistent state (containers' upper dirs, logs) */
	char *run_dir;		/* run-time state; NULL: derived from root */
	char *cgroup_parent;	/* NULL: lp_cgroup_default_parent() */
	int64_t log_max_size;	/* bytes per log file before rotation */
	int log_files;		/* files kept per container, current included */
	int64_t stop_timeout_ms;
	char **trusted_keys;	/* PEM paths of image signing keys; NULL-terminated */
	bool allow_unsigned;	/* import images without a valid signature */
	int64_t image_max_file_size;	/* largest single file in an image layer */
	int64_t image_max_size;		/* total uncompressed size of one image */
	struct lp_container_cfg *containers;
	size_t n_containers;
	struct lp_fleet_config fleet;
	struct lp_registry_config registry;
	struct lp_usb_config usb;
	struct lp_vm_settings vm;
};

/* Defaults only (used when no file exists and -c was not given). */
int lp_config_defaults(struct lp_agent_config *cfg, struct lp_err *err);

/*
 * Load path.  must_exist=0 means a missing file gives the defaults (the
 * default path need not exist); a file given with -c must exist.
 * Errors read "FILE:LINE: SETTING: reason".
 */
int lp_config_load(const char *path, int must_exist, struct lp_agent_config *cfg,
		   struct lp_err *err);

void lp_config_free(struct lp_agent_config *cfg);

#endif
