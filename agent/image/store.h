/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image store under ROOT/store:
 *
 *   layers/<diff_id hex>/   an unpacked layer, shared by every image using it
 *   images/<sha256 of name>.json   an image: its layers (bottom first), config
 *   staging/<id>/           imports in progress; nothing here is ever used
 *   lock                    held (flock) by whoever changes the store
 *
 * An import becomes visible only by renames after fsync: first its layers,
 * then its record.  A crash at any point leaves complete layers (perhaps
 * unreferenced, for gc) and either the old record or the new one.
 */
#ifndef LIMPET_STORE_H
#define LIMPET_STORE_H

#include <jansson.h>
#include <limits.h>
#include <stdint.h>

#include "agent/config/host.h"
#include "agent/spec/parse.h"

/* A resolved name with its NUL: NAME may have gained ":latest". */
#define LP_IMAGE_REF_MAX (LP_IMAGE_NAME_MAX + sizeof(":latest"))

struct lp_store {
	char dir[PATH_MAX];
	int lock_fd;
};

/* Open (creating it) and lock the store; stale staging dirs are removed. */
int lp_store_open(const struct lp_host *host, struct lp_store *st, struct lp_err *err);
void lp_store_close(struct lp_store *st);

/* A fresh, empty directory under staging/; removed by lp_store_close. */
int lp_store_staging(struct lp_store *st, char *out, size_t len, struct lp_err *err);

int lp_store_layer_dir(const struct lp_store *st, const char *diff_hex, char *out, size_t len,
		       struct lp_err *err);
/* Move a verified layer into place (or drop it when that layer is already there). */
int lp_store_commit_layer(struct lp_store *st, const char *staged, const char *diff_hex,
			  struct lp_err *err);

/* Image records: {"name", "digest", "platform", "layers": [hex...], "config", ...}. */
int lp_store_save_image(struct lp_store *st, json_t *record, struct lp_err *err);

/*
 * The one way an image name is read, by every command: the stored name it
 * means (out, LP_IMAGE_REF_MAX bytes): NAME itself, else NAME:latest
 * when NAME has no tag.  ENOENT: "no such image: NAME".
 */
int lp_store_resolve(const struct lp_host *host, const char *name, char *out, size_t len,
		     struct lp_err *err);
/* The record of the image name resolves to. */
int lp_store_load_image(const struct lp_host *host, const char *name, json_t **record,
			struct lp_err *err);
/* All records, sorted by name; the array must be json_decref'd. */
int lp_store_list_images(const struct lp_host *host, json_t **records, struct lp_err *err);
/* Remove the record name resolves to (its layers stay for gc). */
int lp_store_remove_image(struct lp_store *st, const char *name, struct lp_err *err);

/*
 * Remove the layers no image references and keep (diff_id hex, NULL-terminated,
 * may be NULL) does not list; layers_freed counts what went.
 */
int lp_store_gc(struct lp_store *st, char *const *keep, unsigned int *layers_freed,
		struct lp_err *err);

/* "a:b:c" overlay lowerdir of an image record, top layer first. */
int lp_store_lowerdir(const struct lp_host *host, json_t *record, char **lowerdir,
		      struct lp_err *err);

#endif
