/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limpet as PID 1 inside a microVM: the guest kernel runs LP_GUEST_INIT
 * (rdinit=), which is this same binary; main() hands over to it before any
 * command line parsing.
 */
#ifndef LIMPET_KVM_GUEST_INIT_H
#define LIMPET_KVM_GUEST_INIT_H

#include <jansson.h>
#include <sys/types.h>

#include "platform/lib/err.h"
#include "platform/runtime.h"

/* What the host asks of the guest (agent/container/vm_container.c writes it). */
struct lp_guest_spec {
	json_t *json;		/* owns every string below */
	char **argv;		/* NULL-terminated */
	char **env;		/* NULL-terminated, exactly the entrypoint's environment */
	const char *cwd;
	const char *hostname;	/* NULL: the kernel's */
	uid_t uid;
	gid_t gid;
	gid_t groups[LP_GROUPS_MAX];	/* supplementary */
	size_t n_groups;
	long long pids;		/* 0: no limit */
	/* The console is the entrypoint's terminal (-t), rows x cols at the start. */
	bool tty;
	unsigned short rows, cols;
};

/*
 * Read and check the spec at path (LP_GUEST_SPEC in the guest).  A key
 * the host did not send takes its default ("groups": none), so a guest
 * reads the spec of an older host.  On failure nothing is left to free.
 */
int lp_guest_spec_load(struct lp_guest_spec *s, const char *path, struct lp_err *err);
void lp_guest_spec_free(struct lp_guest_spec *s);

/*
 * Mount the API file systems, run the entrypoint LP_GUEST_SPEC describes,
 * forward signals to it, and report its end through the exit device.  Never
 * returns: PID 1 exiting would panic the guest kernel.
 */
int lp_guest_init_main(int argc, char **argv);

#endif
