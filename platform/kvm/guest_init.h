/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limpet as PID 1 inside a microVM: the guest kernel runs LP_GUEST_INIT
 * (rdinit=), which is this same binary; main() hands over to it before any
 * command line parsing.
 */
#ifndef LIMPET_KVM_GUEST_INIT_H
#define LIMPET_KVM_GUEST_INIT_H

/*
 * Mount the API file systems, run the entrypoint LP_GUEST_SPEC describes,
 * forward signals to it, and report its end through the exit device.  Never
 * returns: PID 1 exiting would panic the guest kernel.
 */
int lp_guest_init_main(int argc, char **argv);

#endif
