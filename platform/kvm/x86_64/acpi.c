// SPDX-License-Identifier: Apache-2.0
/*
 * The ACPI tables of the x86_64 guest: how it learns its vCPUs (MADT: one
 * local APIC each, and the IOAPIC) and its two serial ports (DSDT).
 *
 * Why ACPI and not an MP table: Debian's cloud kernel, the guest kernel we
 * test with, is built without CONFIG_X86_MPPARSE, so only ACPI's MADT can
 * show it more than one CPU. The FADT says "hardware-reduced ACPI": no PM
 * timer, SCI, PIC or PIT for the kernel to use (it takes the local APIC
 * timers and kvmclock), no legacy keyboard controller, VGA or CMOS clock to
 * probe, each probe being an exit to the VMM. The serial ports are then
 * ACPI devices (PNP0501) whose interrupts go through the IOAPIC.
 */
#include "platform/kvm/x86_64/x86.h"

#include <errno.h>
#include <string.h>

#include "platform/kvm/guest/guest_abi.h"

#define OEM_ID "LIMPET"
#define OEM_TABLE_ID "LIMPETVM"
#define CREATOR_ID "LMPT"

#define HDR_SIZE 36

/* FADT (ACPI 6.0: revision 6, 276 bytes). */
#define FADT_REVISION 6
#define FADT_SIZE 276
#define FADT_DSDT 40
#define FADT_IAPC_BOOT_ARCH 109
#define FADT_FLAGS 112
#define FADT_X_DSDT 140
#define FADT_HYPERVISOR_ID 268
#define BOOT_NO_VGA (1u << 2)
#define BOOT_NO_MSI (1u << 3)
#define BOOT_NO_ASPM (1u << 4)
#define BOOT_NO_CMOS_RTC (1u << 5)
#define FLAG_POWER_BUTTON (1u << 4)	/* set: no fixed power button */
#define FLAG_SLEEP_BUTTON (1u << 5)	/* set: no fixed sleep button */
#define FLAG_HW_REDUCED (1u << 20)

#define MADT_REVISION 5
#define MADT_LOCAL_APIC 0
#define MADT_IO_APIC 1
#define MADT_ENABLED 1u

/* AML opcodes and resource descriptors (ACPI 6.0, sections 19 and 20). */
#define AML_NAME 0x08
#define AML_BYTE 0x0a
#define AML_DWORD 0x0c
#define AML_SCOPE 0x10
#define AML_BUFFER 0x11
#define AML_EXT 0x5b
#define AML_DEVICE 0x82
#define AML_ROOT '\\'
#define RES_IO 0x47		/* I/O port, 7 bytes follow */
#define RES_IO_DECODE16 0x01
#define RES_IRQ 0x22		/* IRQ mask, 2 bytes: edge, active high */
#define RES_END 0x79

/* A growing table in a fixed buffer; overflow is caught once, at the end. */
struct buf {
	uint8_t *p;
	size_t len, cap;
	bool full;
};

static void emit(struct buf *b, const void *data, size_t len)
{
	if (b->full || len > b->cap - b->len) {
		b->full = true;
		return;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void emit8(struct buf *b, uint8_t v)
{
	emit(b, &v, 1);
}

static void emit16(struct buf *b, uint16_t v)
{
	emit8(b, (uint8_t)v);
	emit8(b, (uint8_t)(v >> 8));
}

static void emit32(struct buf *b, uint32_t v)
{
	emit16(b, (uint16_t)v);
	emit16(b, (uint16_t)(v >> 16));
}

static void emit64(struct buf *b, uint64_t v)
{
	emit32(b, (uint32_t)v);
	emit32(b, (uint32_t)(v >> 32));
}

static void put32_at(uint8_t *p, uint32_t v)
{
	unsigned int i;

	for (i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *p++);
	return (uint8_t)-sum;
}

/* The common header; length and checksum are filled in by finish(). */
static void header(struct buf *b, const char *sig, uint8_t revision)
{
	emit(b, sig, 4);
	emit32(b, 0);
	emit8(b, revision);
	emit8(b, 0);
	emit(b, OEM_ID, 6);
	emit(b, OEM_TABLE_ID, 8);
	emit32(b, 1);
	emit(b, CREATOR_ID, 4);
	emit32(b, 1);
}

static void finish(struct buf *b)
{
	if (b->full)
		return;
	put32_at(b->p + 4, (uint32_t)b->len);
	b->p[9] = 0;
	b->p[9] = checksum(b->p, b->len);
}

/* ---------------------------------------------------------------- AML */

/*
 * AML packages start with their length (PkgLength, 1 to 3 bytes, counting
 * itself), so each is built in a scratch buffer and then wrapped.
 */
static void emit_pkg(struct buf *b, const struct buf *body)
{
	size_t n = body->len;

	if (body->full) {
		b->full = true;
		return;
	}
	if (n + 1 < 0x40) {
		emit8(b, (uint8_t)(n + 1));
	} else if (n + 2 < 0x1000) {
		emit8(b, (uint8_t)(0x40 | ((n + 2) & 0xf)));
		emit8(b, (uint8_t)((n + 2) >> 4));
	} else {
		emit8(b, (uint8_t)(0x80 | ((n + 3) & 0xf)));
		emit8(b, (uint8_t)((n + 3) >> 4));
		emit8(b, (uint8_t)((n + 3) >> 12));
	}
	emit(b, body->p, n);
}

/* EISAID("PNP0501"): three letters in 5 bits each, then four hex digits. */
static uint32_t eisa_id(const char *id)
{
	uint32_t v = (uint32_t)(id[0] - '@') << 26 | (uint32_t)(id[1] - '@') << 21 |
		     (uint32_t)(id[2] - '@') << 16;
	unsigned int i;

	for (i = 3; i < 7; i++) {
		char c = id[i];

		v |= (uint32_t)(c <= '9' ? c - '0' : c - 'A' + 10) << (4 * (6 - i));
	}
	/* Stored big-endian in the DWord. */
	return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}

/* Device (COMn) { _HID PNP0501, _UID n, _CRS { IO port, 8 ports; IRQ } } */
static void emit_serial(struct buf *b, const char *name, uint8_t uid, uint16_t port,
			unsigned int irq)
{
	uint8_t dev_mem[64], crs_mem[32];
	struct buf dev = { dev_mem, 0, sizeof(dev_mem), false };
	struct buf crs = { crs_mem, 0, sizeof(crs_mem), false };

	emit8(&crs, AML_BYTE);
	emit8(&crs, 13); /* the descriptors' size */
	emit8(&crs, RES_IO);
	emit8(&crs, RES_IO_DECODE16);
	emit16(&crs, port);
	emit16(&crs, port);
	emit8(&crs, 1);
	emit8(&crs, 8);
	emit8(&crs, RES_IRQ);
	emit16(&crs, (uint16_t)(1u << irq));
	emit8(&crs, RES_END);
	emit8(&crs, 0); /* a zero checksum: "not checked" */

	emit(&dev, name, 4);
	emit8(&dev, AML_NAME);
	emit(&dev, "_HID", 4);
	emit8(&dev, AML_DWORD);
	emit32(&dev, eisa_id("PNP0501"));
	emit8(&dev, AML_NAME);
	emit(&dev, "_UID", 4);
	emit8(&dev, AML_BYTE);
	emit8(&dev, uid);
	emit8(&dev, AML_NAME);
	emit(&dev, "_CRS", 4);
	emit8(&dev, AML_BUFFER);
	emit_pkg(&dev, &crs);

	emit8(b, AML_EXT);
	emit8(b, AML_DEVICE);
	emit_pkg(b, &dev);
}

static void build_dsdt(struct buf *b)
{
	uint8_t sb_mem[256];
	struct buf sb = { sb_mem, 0, sizeof(sb_mem), false };

	header(b, "DSDT", 2);
	emit8(&sb, AML_ROOT);
	emit(&sb, "_SB_", 4);
	emit_serial(&sb, "COM1", 1, LP_X86_UART0_PORT, LP_X86_UART0_IRQ);
	emit_serial(&sb, "COM2", 2, LP_X86_UART1_PORT, LP_X86_UART1_IRQ);
	emit8(b, AML_SCOPE);
	emit_pkg(b, &sb);
	finish(b);
}

/* ---------------------------------------------------------------- tables */

static void build_fadt(struct buf *b, uint64_t dsdt)
{
	header(b, "FACP", FADT_REVISION);
	while (b->len < FADT_SIZE && !b->full)
		emit8(b, 0);
	if (b->full)
		return;
	put32_at(b->p + FADT_DSDT, (uint32_t)dsdt);
	b->p[FADT_IAPC_BOOT_ARCH] = (uint8_t)(BOOT_NO_VGA | BOOT_NO_MSI | BOOT_NO_ASPM |
					      BOOT_NO_CMOS_RTC);
	put32_at(b->p + FADT_FLAGS, FLAG_HW_REDUCED | FLAG_POWER_BUTTON | FLAG_SLEEP_BUTTON);
	put32_at(b->p + FADT_X_DSDT, (uint32_t)dsdt);
	put32_at(b->p + FADT_X_DSDT + 4, (uint32_t)(dsdt >> 32));
	memcpy(b->p + FADT_HYPERVISOR_ID, "LIMPETVM", 8);
	finish(b);
}

static void build_madt(struct buf *b, unsigned int n_vcpus)
{
	unsigned int i;

	header(b, "APIC", MADT_REVISION);
	emit32(b, (uint32_t)X86_LAPIC);
	/* No PCAT_COMPAT: hardware-reduced, the guest leaves the 8259s alone. */
	emit32(b, 0);
	for (i = 0; i < n_vcpus; i++) {
		emit8(b, MADT_LOCAL_APIC);
		emit8(b, 8);
		emit8(b, (uint8_t)i);	/* ACPI processor UID */
		emit8(b, (uint8_t)i);	/* APIC ID: KVM gives vCPU n the ID n */
		emit32(b, MADT_ENABLED);
	}
	emit8(b, MADT_IO_APIC);
	emit8(b, 12);
	/* KVM's IOAPIC resets to ID 0; on x86_64 it need not differ from the CPUs'. */
	emit8(b, 0);
	emit8(b, 0);
	emit32(b, (uint32_t)X86_IOAPIC);
	emit32(b, 0); /* GSI base: KVM wires ISA IRQ n to pin n, no overrides */
	finish(b);
}

static void build_xsdt(struct buf *b, const uint64_t *tables, size_t n)
{
	size_t i;

	header(b, "XSDT", 1);
	for (i = 0; i < n; i++)
		emit64(b, tables[i]);
	finish(b);
}

/* ACPI 2.0 RSDP: XSDT only. */
static void build_rsdp(struct buf *b, uint64_t xsdt)
{
	emit(b, "RSD PTR ", 8);
	emit8(b, 0);
	emit(b, OEM_ID, 6);
	emit8(b, 2);
	emit32(b, 0);
	emit32(b, 36);
	emit64(b, xsdt);
	emit8(b, 0);
	emit8(b, 0);
	emit16(b, 0);
	if (b->full)
		return;
	b->p[8] = checksum(b->p, 20);
	b->p[32] = checksum(b->p, 36);
}

/* Tables go one after another, each on a 64-byte boundary, in [X86_ACPI, X86_ACPI_END). */
static int place(struct lp_vm *vm, uint64_t *next, size_t cap, struct buf *b, uint64_t *gpa,
		 struct lp_err *err)
{
	uint64_t at = (*next + 63) & ~63ull;

	if (at + cap > X86_ACPI_END)
		return lp_fail(err, ENOSPC, "ACPI tables: more than %llu KiB",
			       (unsigned long long)((X86_ACPI_END - X86_ACPI) >> 10));
	b->p = lp_vm_gpa(vm, at, cap);
	if (!b->p)
		return lp_fail(err, EFBIG, "ACPI tables: outside guest RAM");
	memset(b->p, 0, cap);
	b->len = 0;
	b->cap = cap;
	b->full = false;
	*gpa = at;
	*next = at + cap;
	return 0;
}

static int check(const struct buf *b, const char *what, struct lp_err *err)
{
	if (b->full)
		return lp_fail(err, ENOSPC, "ACPI %s: larger than its %zu bytes", what, b->cap);
	return 0;
}

int x86_acpi_build(struct lp_vm *vm, uint64_t *rsdp, struct lp_err *err)
{
	uint64_t next = X86_ACPI, tables[2], dsdt, xsdt;
	struct buf r, b;

	/* The RSDP first, at 0xe0000, where the kernel also looks for it. */
	if (place(vm, &next, 36, &r, rsdp, err) < 0)
		return -1;
	if (place(vm, &next, 512, &b, &dsdt, err) < 0)
		return -1;
	build_dsdt(&b);
	if (check(&b, "DSDT", err) < 0 || place(vm, &next, FADT_SIZE, &b, &tables[0], err) < 0)
		return -1;
	build_fadt(&b, dsdt);
	if (check(&b, "FADT", err) < 0 ||
	    place(vm, &next, HDR_SIZE + 8 + 8 * LP_VM_MAX_VCPUS + 12, &b, &tables[1], err) < 0)
		return -1;
	build_madt(&b, vm->n_vcpus);
	if (check(&b, "MADT", err) < 0 ||
	    place(vm, &next, HDR_SIZE + sizeof(tables), &b, &xsdt, err) < 0)
		return -1;
	build_xsdt(&b, tables, 2);
	if (check(&b, "XSDT", err) < 0)
		return -1;
	build_rsdp(&r, xsdt);
	return check(&r, "RSDP", err);
}
