/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What limpet's VMM and limpet's guest init (the same binary, on both sides
 * of the VM) agree on: where the guest's init and its instructions sit in
 * the initramfs, which serial port carries what, and the exit device.
 *
 *   UART 0 (ttyS0)  the container's stdin, stdout and stderr, raw bytes.
 *   UART 1 (ttyS1)  the guest kernel's console (the VMM keeps its tail for
 *                   error messages); host->guest each received byte is a
 *                   signal number the init forwards to the entrypoint, but
 *                   LP_GUEST_RESIZE and the four bytes after it: a new size
 *                   of the container's terminal (a spec with "tty").
 *   exit device     one 32-bit register; the init writes the entrypoint's
 *                   status to it and the VMM ends the VM right there, so no
 *                   firmware power-off path is needed (x86 has none without
 *                   ACPI).
 */
#ifndef LIMPET_KVM_GUEST_ABI_H
#define LIMPET_KVM_GUEST_ABI_H

#include <stdint.h>

/* In the initramfs: the init (a copy of the static limpet) and its spec. */
#define LP_GUEST_DIR "/.limpet"
#define LP_GUEST_INIT LP_GUEST_DIR "/init"
#define LP_GUEST_SPEC LP_GUEST_DIR "/spec.json"

#define LP_GUEST_CONSOLE_TTY "/dev/ttyS0"
#define LP_GUEST_CONTROL_TTY "/dev/ttyS1"

/*
 * The resize escape: rows and cols (each below 4096) as two bytes each of
 * 0x80 | six bits, high bits first.  Neither it nor those bytes are 1..64,
 * so a reader that knows only signals takes none of them for one.
 */
#define LP_GUEST_RESIZE 0xfeu
#define LP_GUEST_RESIZE_LEN 5
#define LP_GUEST_SIZE_MAX 4095u

/* Exit device register values. */
#define LP_GUEST_EXIT_SIGNALED 0x100u	/* | signal number: killed by it */
#define LP_GUEST_EXIT_NOSTART 0x10000u	/* | errno: the entrypoint never ran */
#define LP_GUEST_EXIT_CODE(code) ((uint32_t)(code) & 0xffu)

/* arm64 guest physical map (the first 2 GiB are devices, RAM above). */
#define LP_ARM64_GIC_DIST 0x08000000ull
#define LP_ARM64_GIC_CPU 0x08010000ull		/* v2 CPU interface */
#define LP_ARM64_GIC_REDIST 0x080a0000ull	/* v3: 128 KiB per vCPU */
#define LP_ARM64_UART0 0x09000000ull
#define LP_ARM64_UART1 0x09001000ull
#define LP_ARM64_UART_SIZE 0x1000ull
/* 64 KiB aligned, alone in its page for any guest page size. */
#define LP_ARM64_EXIT_DEV 0x09010000ull
#define LP_ARM64_EXIT_SIZE 0x10000ull
#define LP_ARM64_RAM 0x80000000ull
/* SPI numbers (INTID - 32) of the UARTs. */
#define LP_ARM64_UART0_SPI 1
#define LP_ARM64_UART1_SPI 2

/* x86_64: the legacy COM1 and COM2 and an isa-debug-exit-like port. */
#define LP_X86_UART0_PORT 0x3f8
#define LP_X86_UART0_IRQ 4
#define LP_X86_UART1_PORT 0x2f8
#define LP_X86_UART1_IRQ 3
#define LP_X86_EXIT_PORT 0xf4

#endif
