/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limpet cp: files, directories and symlinks between the host and a
 * container's root, as docker cp copies them.  The container's side is an
 * fd of its root: every path in it resolves inside that root (openat2
 * RESOLVE_IN_ROOT), and below the first component nothing is followed, so
 * neither a symlink the image planted nor one its process swaps in while we
 * walk can lead out of it.  The host's side is the operator's.
 */
#ifndef LIMPET_COPY_H
#define LIMPET_COPY_H

#include <stdbool.h>
#include <stdint.h>

#include "platform/lib/err.h"

struct lp_copy_spec {
	const char *src;	/* as typed: "/etc/hosts", "dir/.", "./x" */
	const char *dst;
	bool into;		/* dst is in the container (src on the host); else src is */
	bool follow;		/* -L: src's own last symlink is followed (inside the root) */
	bool archive;		/* -a: keep uid and gid; else the container's root or ours */
	/* The container's user namespace (count 0: none): its 0 is host userns_uid. */
	uint32_t userns_uid, userns_count;
	const char *label;	/* "NAME:", in front of the container's paths in messages */
};

/*
 * Copy spec->src to spec->dst by docker cp's rules, one side inside the
 * directory rootfd (an fd of the container's root).  Device nodes, FIFOs and
 * sockets are refused, naming the path; hardlinks become separate files.
 */
int lp_copy(int rootfd, const struct lp_copy_spec *spec, struct lp_err *err);

#endif
