/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A microVM's root filesystem: the image's layers flattened the way
 * overlayfs shows them, plus limpet as the guest's init and its spec, in one
 * uncompressed cpio "newc" archive the guest kernel unpacks as its initramfs.
 */
#ifndef LIMPET_INITRAMFS_H
#define LIMPET_INITRAMFS_H

#include "platform/lib/err.h"

/*
 * lowerdir: ':'-separated layer directories, top layer first (overlayfs'
 * lowerdir).  init_bin is copied to LP_GUEST_INIT, spec_json becomes
 * LP_GUEST_SPEC; whatever the image has at LP_GUEST_DIR is replaced.
 * out_path appears complete or not at all (written beside it, renamed).
 */
int lp_initramfs_write(const char *lowerdir, const char *init_bin, const char *spec_json,
		       const char *out_path, struct lp_err *err);

#endif
