// SPDX-License-Identifier: Apache-2.0
/*
 * The device tree the guest kernel boots from, written with libfdt's
 * sequential API: memory, the vCPUs (started through PSCI 0.2 over HVC),
 * the vGIC, the architected timer, the two 16550 UARTs and /chosen with
 * the command line and the initrd.
 */
#include "platform/kvm/arm64/arm64.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/kvm/guest/guest_abi.h"
#include "platform/lib/util.h"

#define GIC_PHANDLE 1
/* interrupts = <type number flags> */
#define FDT_SPI 0
#define FDT_PPI 1
#define IRQ_LEVEL_HIGH 4
#define IRQ_LEVEL_LOW 8
#define UART_CLOCK 1843200

/* Stops at the first libfdt error; the message names where. */
struct fdt_writer {
	void *buf;
	int rc;
	const char *at;
};

static void w_check(struct fdt_writer *w, int rc, const char *at)
{
	if (w->rc == 0 && rc < 0) {
		w->rc = rc;
		w->at = at;
	}
}

static void begin(struct fdt_writer *w, const char *name)
{
	w_check(w, fdt_begin_node(w->buf, name), name);
}

static void end(struct fdt_writer *w)
{
	w_check(w, fdt_end_node(w->buf), "end of node");
}

static void prop_str(struct fdt_writer *w, const char *name, const char *v)
{
	w_check(w, fdt_property_string(w->buf, name, v), name);
}

static void prop_u32(struct fdt_writer *w, const char *name, uint32_t v)
{
	w_check(w, fdt_property_u32(w->buf, name, v), name);
}

static void prop_u64(struct fdt_writer *w, const char *name, uint64_t v)
{
	w_check(w, fdt_property_u64(w->buf, name, v), name);
}

static void prop_empty(struct fdt_writer *w, const char *name)
{
	w_check(w, fdt_property(w->buf, name, NULL, 0), name);
}

/* A property of 32-bit cells, big-endian as the format wants. */
static void prop_cells(struct fdt_writer *w, const char *name, const uint32_t *cells, size_t n)
{
	fdt32_t be[16];
	size_t i;

	for (i = 0; i < n && i < ARRAY_SIZE(be); i++)
		be[i] = cpu_to_fdt32(cells[i]);
	w_check(w, fdt_property(w->buf, name, be, (int)(i * sizeof(be[0]))), name);
}

/* reg = <addr size>... with #address-cells = #size-cells = 2: each value is hi, lo. */
static void prop_reg(struct fdt_writer *w, const uint64_t *vals, size_t n)
{
	uint32_t cells[16];
	size_t i;

	for (i = 0; i < n && 2 * i + 1 < ARRAY_SIZE(cells); i++) {
		cells[2 * i] = (uint32_t)(vals[i] >> 32);
		cells[2 * i + 1] = (uint32_t)vals[i];
	}
	prop_cells(w, "reg", cells, 2 * i);
}

static void add_cpus(struct fdt_writer *w, const struct lp_vm *vm)
{
	char name[32];
	unsigned int i;

	begin(w, "cpus");
	prop_u32(w, "#address-cells", 1);
	prop_u32(w, "#size-cells", 0);
	for (i = 0; i < vm->n_vcpus; i++) {
		snprintf(name, sizeof(name), "cpu@%u", i);
		begin(w, name);
		prop_str(w, "device_type", "cpu");
		prop_str(w, "compatible", "arm,arm-v8");
		prop_str(w, "enable-method", "psci");
		prop_u32(w, "reg", i);
		end(w);
	}
	end(w);
	begin(w, "psci");
	/* 0.2 is what KVM_ARM_VCPU_PSCI_0_2 gives; the function ids are its standard ones. */
	w_check(w, fdt_property(w->buf, "compatible", "arm,psci-0.2\0arm,psci",
				sizeof("arm,psci-0.2\0arm,psci")), "compatible");
	prop_str(w, "method", "hvc");
	end(w);
}

static void add_gic(struct fdt_writer *w, const struct lp_vm *vm)
{
	const struct arm64_vm *a = vm->arch;
	uint64_t v3[] = { LP_ARM64_GIC_DIST, 0x10000, LP_ARM64_GIC_REDIST,
			  0x20000ull * vm->n_vcpus };
	uint64_t v2[] = { LP_ARM64_GIC_DIST, 0x1000, LP_ARM64_GIC_CPU, 0x2000 };

	begin(w, "intc@8000000");
	prop_str(w, "compatible", a->gic_version == 3 ? "arm,gic-v3" : "arm,cortex-a15-gic");
	prop_u32(w, "#interrupt-cells", 3);
	prop_empty(w, "interrupt-controller");
	prop_reg(w, a->gic_version == 3 ? v3 : v2, 4);
	prop_u32(w, "phandle", GIC_PHANDLE);
	end(w);
}

static void add_timer(struct fdt_writer *w, const struct lp_vm *vm)
{
	const struct arm64_vm *a = vm->arch;
	uint32_t flags = IRQ_LEVEL_LOW;
	/* Secure, non-secure, virtual and hypervisor timer PPIs. */
	uint32_t irqs[12] = { FDT_PPI, 13, 0, FDT_PPI, 14, 0, FDT_PPI, 11, 0, FDT_PPI, 10, 0 };
	size_t i;

	/* A GICv2 PPI names the CPUs it reaches. */
	if (a->gic_version == 2)
		flags |= ((1u << vm->n_vcpus) - 1) << 8;
	for (i = 2; i < ARRAY_SIZE(irqs); i += 3)
		irqs[i] = flags;
	begin(w, "timer");
	prop_str(w, "compatible", "arm,armv8-timer");
	prop_cells(w, "interrupts", irqs, ARRAY_SIZE(irqs));
	prop_empty(w, "always-on");
	end(w);
}

static void add_uart(struct fdt_writer *w, uint64_t base, uint32_t spi)
{
	uint64_t reg[] = { base, LP_ARM64_UART_SIZE };
	uint32_t irq[] = { FDT_SPI, spi, IRQ_LEVEL_HIGH };
	char name[32];

	snprintf(name, sizeof(name), "serial@%llx", (unsigned long long)base);
	begin(w, name);
	prop_str(w, "compatible", "ns16550a");
	prop_reg(w, reg, 2);
	prop_cells(w, "interrupts", irq, ARRAY_SIZE(irq));
	prop_u32(w, "clock-frequency", UART_CLOCK);
	end(w);
}

int arm64_fdt_build(struct lp_vm *vm, const char *cmdline, struct lp_err *err)
{
	struct arm64_layout *l = &arm64(vm)->layout;
	uint64_t mem[] = { vm->ram_base, vm->ram_size };
	cleanup_free void *buf = calloc(1, ARM64_FDT_MAX);
	struct fdt_writer w = { .buf = buf };
	void *dst;

	if (!buf)
		return lp_fail(err, ENOMEM, "device tree: out of memory");
	w_check(&w, fdt_create(buf, (int)ARM64_FDT_MAX), "header");
	w_check(&w, fdt_finish_reservemap(buf), "reserve map");
	begin(&w, "");
	prop_str(&w, "compatible", "linux,dummy-virt");
	prop_u32(&w, "#address-cells", 2);
	prop_u32(&w, "#size-cells", 2);
	prop_u32(&w, "interrupt-parent", GIC_PHANDLE);

	begin(&w, "chosen");
	prop_str(&w, "bootargs", cmdline);
	prop_u64(&w, "linux,initrd-start", l->initrd);
	prop_u64(&w, "linux,initrd-end", l->initrd + l->initrd_size);
	end(&w);

	/* ttyS0 and ttyS1 by address, not by probe order (guest_abi.h gives each a job). */
	begin(&w, "aliases");
	prop_str(&w, "serial0", "/serial@9000000");
	prop_str(&w, "serial1", "/serial@9001000");
	end(&w);

	begin(&w, "memory@80000000");
	prop_str(&w, "device_type", "memory");
	prop_reg(&w, mem, 2);
	end(&w);

	add_cpus(&w, vm);
	add_gic(&w, vm);
	add_timer(&w, vm);
	add_uart(&w, LP_ARM64_UART0, LP_ARM64_UART0_SPI);
	add_uart(&w, LP_ARM64_UART1, LP_ARM64_UART1_SPI);
	end(&w);
	w_check(&w, fdt_finish(buf), "finish");
	if (w.rc < 0)
		return lp_fail(err, EINVAL, "device tree: %s: %s", w.at, fdt_strerror(w.rc));
	dst = lp_vm_gpa(vm, l->dtb, fdt_totalsize(buf));
	if (!dst)
		return lp_fail(err, EFBIG, "device tree: no room in guest RAM");
	memcpy(dst, buf, fdt_totalsize(buf));
	return 0;
}
