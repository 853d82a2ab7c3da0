/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deployments on disk, ROOT/deployments:
 *
 *   v<version>-<sha256 prefix>/   deployment.json and deployment.json.sig as received
 *   current -> v...               what the device runs
 *   previous -> v...              what it ran before (its images are kept)
 *   staging -> v...               the deployment a switch in progress goes to
 *   journal.json                  that switch, step by step (deploy_journal.c)
 *   last_result.json              how the last attempt ended, for status reports
 *   lock                          locked (fcntl) by whoever applies a deployment
 *
 * Each slot is a symlink replaced by rename after fsync, so after a power cut
 * current is the old deployment or the new one, never a mix.  Files are
 * written the same way: a temporary file, fsync, rename, fsync of the
 * directory.
 */
#ifndef LIMPET_DEPLOY_STATE_H
#define LIMPET_DEPLOY_STATE_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>

#include "agent/config/host.h"
#include "agent/deploy/deploy_doc.h"

struct lp_dstate {
	char dir[PATH_MAX];
	int dir_fd;
	int lock_fd;
};

/* A deployment kept in a slot. */
struct lp_dslot {
	struct lp_deployment d;
	char sha256[LP_SHA256_HEX_LEN + 1];	/* of its deployment.json */
	char dir[PATH_MAX];
};

/*
 * Open ROOT/deployments (creating it) and take its lock; with wait false a
 * lock held elsewhere fails with EBUSY at once.
 */
int lp_dstate_open(const struct lp_host *host, struct lp_dstate *ds, bool wait, struct lp_err *err);
/* Open it only to read (status reports): no lock, nothing created. */
int lp_dstate_peek(const struct lp_host *host, struct lp_dstate *ds, struct lp_err *err);
void lp_dstate_close(struct lp_dstate *ds);

/* The deployment in slot ("current", "previous", "staging"); ENOENT when empty. */
int lp_dstate_load(const struct lp_dstate *ds, const char *slot, struct lp_dslot *out,
		   struct lp_err *err);
/* The same for the version directory name ("v3-0123456789ab"). */
int lp_dstate_load_dir(const struct lp_dstate *ds, const char *name, struct lp_dslot *out,
		       struct lp_err *err);
void lp_dslot_free(struct lp_dslot *s);

/* Where slot points (a version directory's name); ENOENT when it is empty. */
int lp_dstate_slot_target(const struct lp_dstate *ds, const char *slot, char *out, size_t len,
			  struct lp_err *err);

/* The name of the version directory lp_dstate_stage makes for a document. */
void lp_dstate_dir_name(int64_t version, const char *sha256_hex, char out[NAME_MAX + 1]);

/*
 * Keep a copy of the verified document (whose SHA-256 is digest) and its
 * signature, and point staging at it.  The copy is checked against digest.
 */
int lp_dstate_stage(struct lp_dstate *ds, const char *doc, const char *sig, int64_t version,
		    const unsigned char digest[LP_SHA256_LEN], struct lp_err *err);

/*
 * The switch from was_current (a directory name; NULL or "": none ran) to
 * next worked: previous := was_current (kept as it is without one), current
 * := next, no staging.  Doing it again changes nothing, so a commit cut
 * short is finished by repeating it.
 */
int lp_dstate_commit(struct lp_dstate *ds, const char *was_current, const char *next,
		     struct lp_err *err);

/* The switch failed or was cut short: no staging. */
int lp_dstate_unstage(struct lp_dstate *ds, struct lp_err *err);

/* Remove version directories no slot points at. */
void lp_dstate_prune(struct lp_dstate *ds);

/* ds's file name := j, durably (see above). */
int lp_dstate_write_json(struct lp_dstate *ds, const char *name, json_t *j,
			 struct lp_err *err);
/* ds's file name; ENOENT when there is none. */
int lp_dstate_read_json(const struct lp_dstate *ds, const char *name, json_t **out,
			struct lp_err *err);
/* Remove ds's file name durably (none is fine). */
int lp_dstate_remove_file(struct lp_dstate *ds, const char *name, struct lp_err *err);

/* last_result.json: written after every attempt; NULL when there is none. */
int lp_dstate_save_result(struct lp_dstate *ds, json_t *result, struct lp_err *err);
json_t *lp_dstate_load_result(const struct lp_host *host);

#endif
