/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 compression on the CPU's own instructions, where it has them (trust.c). */
#ifndef LIMPET_SHA256_HW_H
#define LIMPET_SHA256_HW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether this CPU has the instructions: asks the CPU each time (cheap, no state). */
bool lp_sha256_hw_available(void);
/* Hash n 64-byte blocks at p into state (a..h); only where available says so. */
void lp_sha256_hw_blocks(uint32_t state[8], const unsigned char *p, size_t n);

#endif
