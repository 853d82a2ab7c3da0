/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The deployment document: the signed deployment.json a fleet server or a
 * USB stick hands a device.  It says which containers the device runs, made
 * from which pinned image archives or registry digests, and for which
 * devices, until when and with which version number it applies.  This module reads, checks and
 * describes it; applying it is someone else's job.
 *
 * The schema is in README.md, "Deployment documents".
 */
#ifndef LIMPET_DEPLOY_DOC_H
#define LIMPET_DEPLOY_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform/lib/err.h"
#include "agent/spec/spec.h"
#include "agent/trust/trust.h"

/* A document is a few KiB; anything this large is not one. */
#define LP_DEPLOY_MAX (1024 * 1024)
/* "2026-12-31T23:59:59Z" and its NUL */
#define LP_RFC3339_LEN 21

/* Without a "health" entry: healthy = still running after this long. */
#define LP_HEALTH_START_PERIOD_MS 10000
#define LP_HEALTH_INTERVAL_MS 10000
#define LP_HEALTH_TIMEOUT_MS 5000
#define LP_HEALTH_RETRIES 3

struct lp_health {
	char **argv;		/* probe run inside the container; NULL: none */
	int64_t interval_ms;	/* between probes */
	int64_t timeout_ms;	/* a probe running longer has failed */
	int64_t start_period_ms;	/* failures before this do not count */
	int retries;		/* consecutive failures that make it unhealthy */
};

struct lp_deploy_container {
	/*
	 * What to run, checked with lp_container_cfg_check.  cfg.image is the
	 * store name to import the archive (or pull the image) as and to run:
	 * image.name, or "deploy/NAME:" and the first 12 hex digits of
	 * image_sha256.  cfg.rootfs, cfg.devices and cfg.userns_* are never set
	 * by the parser (see lp_deploy_resolve_devices); cfg.volumes holds the
	 * "volumes".
	 *
	 * The image is an archive (image_url, image_sha256 of the whole file,
	 * image_size) or, with image_ref set, a registry image pinned by the
	 * digest in image_ref, which image_sha256 holds too (image_url NULL,
	 * image_size 0).
	 */
	struct lp_container_cfg cfg;
	char *image_url;	/* as written: https://..., or relative to the document */
	char *image_ref;	/* as written: "registry.example.com/app[:tag]@sha256:..." */
	unsigned char image_sha256[LP_SHA256_LEN];	/* the archive file's, or image_ref's digest */
	int64_t image_size;	/* bytes of the archive file */
	struct lp_health health;
	char **device_specs;	/* "HOST[:INNER][:PERMS]", syntax checked; never NULL */
};

struct lp_deployment {
	int64_t version;	/* >= 1 */
	int64_t expires;	/* seconds since the epoch, UTC */
	char **target_devices;	/* NULL-terminated, never NULL, may be empty */
	char **target_groups;	/* same; at least one of the two lists is not empty */
	struct lp_deploy_container *containers;
	size_t n;		/* may be 0: the device runs no deployed container */
};

/*
 * Parse and check a document strictly: unknown fields, wrong types, values
 * out of range and duplicate container names are refused, and the message
 * names the field ("containers[1].limits.memory: '64Q' is not a size ...").
 * json need not be NUL terminated.  On failure *d is left empty.
 */
int lp_deploy_parse(const char *json, size_t len, struct lp_deployment *d, struct lp_err *err);
void lp_deploy_free(struct lp_deployment *d);

/*
 * Read path (at most LP_DEPLOY_MAX bytes), check its signature in sig_path
 * (NULL: path.sig) against trust, and only then parse the very bytes that
 * were hashed.  digest (may be NULL) gets the SHA-256 of the file, to
 * record which document is running.  Messages start with path.
 */
int lp_deploy_load_signed(const char *path, const char *sig_path, const struct lp_trust *trust,
			  struct lp_deployment *d, unsigned char digest[LP_SHA256_LEN],
			  struct lp_err *err);

/*
 * May this device apply d now?  Refusals, one line each, with err->code
 * telling them apart:
 *   EALREADY  version equal to current_version (nothing to do)
 *   ESTALE    version older than current_version (rollback refused)
 *   ETIME     now is at or past d->expires
 *   ENXIO     neither device_id nor any of groups (NULL-terminated, may
 *             be NULL) is targeted
 * current_version 0 means no deployment has been applied yet.
 */
int lp_deploy_check_applicable(const struct lp_deployment *d, int64_t current_version,
			       int64_t now, const char *device_id, char *const *groups,
			       struct lp_err *err);

/*
 * Where an image's url points.  deployment_url is where the document came
 * from: an https:// URL, or an absolute local path (the document's file,
 * or a bundle directory: one ending in '/' or that exists as a directory).
 * An https:// ref is returned as it is; a relative ref replaces what follows
 * the base's last '/'.  Refused: other schemes, refs starting with '/',
 * ".." segments, and characters a file name would not need.  *out must be
 * freed.
 */
/* An image reference: https://... or a relative path without '..' (no leading '/'). */
int lp_deploy_check_ref(const char *ref, struct lp_err *err);
int lp_deploy_resolve_url(const char *deployment_url, const char *ref, char **out,
			  struct lp_err *err);

/*
 * Look up the nodes of c->device_specs on this machine and fill in
 * c->cfg.devices, ready to run.  Messages name the entry ("devices[0]: ...").
 */
int lp_deploy_resolve_devices(struct lp_deploy_container *c, struct lp_err *err);

/* RFC 3339 date-times: "2026-12-31T23:59:59Z", "...T01:00:00.5+01:00". */
int lp_rfc3339_parse(const char *s, int64_t *t, struct lp_err *err);
/* t as "YYYY-MM-DDTHH:MM:SSZ" into buf (LP_RFC3339_LEN bytes). */
void lp_rfc3339_format(int64_t t, char buf[LP_RFC3339_LEN]);

#endif
