// SPDX-License-Identifier: Apache-2.0
/*
 * Booting an x86_64 Linux bzImage without firmware, by the kernel's boot
 * protocol (Documentation/arch/x86/boot.rst): the protected-mode part of the
 * bzImage at 1 MiB, the initrd as high as the kernel allows, boot_params
 * (the "zero page": a copy of the image's setup header, the command line,
 * the initrd, the e820 memory map and where the ACPI tables are) and vCPU 0
 * in long mode at the 64-bit entry point.
 */
#include "platform/kvm/x86_64/x86.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/kvm/guest/guest_abi.h"
#include "platform/lib/util.h"

/* Offsets in boot_params (arch/x86/include/uapi/asm/bootparam.h). */
#define BP_ACPI_RSDP 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_E820_ENTRIES 0x1e8
#define BP_SETUP_HEADER 0x1f1
#define BP_E820_TABLE 0x2d0
#define BP_SIZE 0x1000

/* Offsets of setup header fields, in the bzImage file and in boot_params alike. */
#define HDR_SETUP_SECTS 0x1f1
#define HDR_JUMP 0x200		/* jumps over the header, which ends at 0x202 + byte 0x201 */
#define HDR_MAGIC 0x202		/* "HdrS" */
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_XLOADFLAGS 0x236
#define HDR_CMDLINE_SIZE 0x238
#define HDR_PREF_ADDRESS 0x258
#define HDR_INIT_SIZE 0x260
#define HDR_END_MAX 0x290	/* boot_params' next field */

#define LOADED_HIGH 0x01	/* loadflags: a bzImage, loaded at 1 MiB */
#define XLF_KERNEL_64 0x01	/* xloadflags: has the 64-bit entry point at +0x200 */
#define PROTOCOL_64BIT 0x020c	/* 2.12: xloadflags, so the 64-bit entry can be checked */
#define LOADER_UNDEFINED 0xff

#define E820_RAM 1
#define E820_RESERVED 2

#define PAGE 0x1000ull

/*
 * What the VMM adds to every x86 guest's command line, before the core's
 * (so a caller's own value wins):
 *   reboot=t         there is no keyboard controller or ACPI reset: a triple
 *                    fault is the reset KVM reports, so a panic ends the VM
 *   pci=off          there is no PCI bus; probing its config ports would cost
 *                    an exit to the VMM each
 *   8250.nr_uarts=2  only COM1 and COM2 exist; no probing for COM3 and COM4
 */
#define X86_CMDLINE_ARGS "reboot=t pci=off 8250.nr_uarts=2"

static uint16_t get16(const uint8_t *p, size_t off)
{
	return (uint16_t)(p[off] | p[off + 1] << 8);
}

static uint32_t get32(const uint8_t *p, size_t off)
{
	return (uint32_t)get16(p, off) | (uint32_t)get16(p, off + 2) << 16;
}

static uint64_t get64(const uint8_t *p, size_t off)
{
	return (uint64_t)get32(p, off) | (uint64_t)get32(p, off + 4) << 32;
}

static void put8(uint8_t *p, size_t off, uint8_t v)
{
	p[off] = v;
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	unsigned int i;

	for (i = 0; i < 4; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
	put32(p, off, (uint32_t)v);
	put32(p, off + 4, (uint32_t)(v >> 32));
}

/* pread all of len bytes at off, or fail (a short file is an error here). */
static int read_at(int fd, const char *path, void *buf, size_t len, off_t off,
		   struct lp_err *err)
{
	ssize_t n = lp_pread_all(fd, buf, len, off);

	if (n < 0)
		return lp_fail_errno(err, "read kernel %s", path);
	if ((size_t)n < len)
		return lp_fail(err, EIO, "kernel %s: shorter than its header says", path);
	return 0;
}

/* The parts of the bzImage's setup header the boot needs. */
struct bzimage {
	uint8_t hdr[0x400];	/* the first two sectors: boot sector and setup header */
	size_t hdr_end;		/* end of the setup header, as the image says */
	uint64_t setup_size;	/* real-mode part, skipped: we enter at 64 bits */
	uint64_t kernel_size;	/* the protected-mode part, loaded at X86_KERNEL */
	uint64_t kernel_end;	/* end of what the kernel may use while it unpacks */
	uint32_t initrd_max;	/* highest address the initrd may end at */
	uint32_t cmdline_max;	/* longest command line, without its NUL */
};

static int parse_bzimage(const char *path, int fd, uint64_t file_size, struct bzimage *bz,
			 struct lp_err *err)
{
	uint16_t version;
	unsigned int sects;
	uint64_t align, start;

	if (file_size < sizeof(bz->hdr))
		return lp_fail(err, EINVAL, "kernel %s: not a bzImage (only %llu bytes)", path,
			       (unsigned long long)file_size);
	if (read_at(fd, path, bz->hdr, sizeof(bz->hdr), 0, err) < 0)
		return -1;
	if (memcmp(bz->hdr + HDR_MAGIC, "HdrS", 4) != 0)
		return lp_fail(err, EINVAL, "kernel %s: not a bzImage (no HdrS)", path);
	version = get16(bz->hdr, HDR_VERSION);
	if (version < PROTOCOL_64BIT)
		return lp_fail(
			err, EINVAL,
			"kernel %s: boot protocol %u.%02u, older than the 2.12 of 64-bit boot",
			path, version >> 8, version & 0xff);
	if (!(get16(bz->hdr, HDR_XLOADFLAGS) & XLF_KERNEL_64))
		return lp_fail(err, EINVAL, "kernel %s: has no 64-bit entry point (XLF_KERNEL_64)",
			       path);
	if (!(bz->hdr[HDR_LOADFLAGS] & LOADED_HIGH))
		return lp_fail(err, EINVAL,
			       "kernel %s: a zImage (loads below 1 MiB), not a bzImage", path);
	bz->hdr_end = 0x202u + bz->hdr[HDR_JUMP + 1];
	if (bz->hdr_end > HDR_END_MAX)
		bz->hdr_end = HDR_END_MAX;
	sects = bz->hdr[HDR_SETUP_SECTS];
	bz->setup_size = ((sects ? sects : 4) + 1ull) * 512;
	if (bz->setup_size >= file_size)
		return lp_fail(err, EINVAL,
			       "kernel %s: no protected-mode part after %llu setup bytes", path,
			       (unsigned long long)bz->setup_size);
	bz->kernel_size = file_size - bz->setup_size;
	/*
	 * The 64-bit entry unpacks the kernel at its preferred address (or the
	 * load address aligned up, if higher) and needs init_size bytes there.
	 */
	align = get32(bz->hdr, HDR_KERNEL_ALIGNMENT);
	start = X86_KERNEL;
	if (align > 1 && (align & (align - 1)) == 0)
		start = (start + align - 1) & ~(align - 1);
	if (start < get64(bz->hdr, HDR_PREF_ADDRESS))
		start = get64(bz->hdr, HDR_PREF_ADDRESS);
	bz->kernel_end = start + get32(bz->hdr, HDR_INIT_SIZE);
	if (bz->kernel_end < X86_KERNEL + bz->kernel_size)
		bz->kernel_end = X86_KERNEL + bz->kernel_size;
	bz->initrd_max = get32(bz->hdr, HDR_INITRD_ADDR_MAX);
	bz->cmdline_max = get32(bz->hdr, HDR_CMDLINE_SIZE);
	return 0;
}

static int load_kernel(struct lp_vm *vm, struct bzimage *bz, struct lp_err *err)
{
	const char *path = vm->cfg->kernel;
	cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *dst;

	if (fd < 0 || fstat(fd, &st) < 0)
		return lp_fail_errno(err, "kernel %s", path);
	if (!S_ISREG(st.st_mode))
		return lp_fail(err, EINVAL, "kernel %s: not a regular file", path);
	if (parse_bzimage(path, fd, (uint64_t)st.st_size, bz, err) < 0)
		return -1;
	if (bz->kernel_end > vm->ram_size)
		return lp_fail(err, EFBIG,
			       "kernel %s: needs %llu MiB of RAM to unpack, the VM has %llu", path,
			       (unsigned long long)((bz->kernel_end + (1 << 20) - 1) >> 20),
			       (unsigned long long)(vm->ram_size >> 20));
	dst = lp_vm_gpa(vm, X86_KERNEL, bz->kernel_size);
	if (!dst)
		return lp_fail(err, EFBIG, "kernel %s: does not fit in guest RAM", path);
	return read_at(fd, path, dst, bz->kernel_size, (off_t)bz->setup_size, err);
}

/* The initrd at the highest page below the kernel's limit and RAM's end. */
static int load_initrd(struct lp_vm *vm, const struct bzimage *bz, uint64_t *gpa, uint64_t *size,
		       struct lp_err *err)
{
	const char *path = vm->cfg->initrd;
	uint64_t top = vm->ram_size;
	struct stat st;

	*gpa = *size = 0;
	if (!path)
		return 0;
	if (stat(path, &st) < 0)
		return lp_fail_errno(err, "initrd %s", path);
	if ((uint64_t)bz->initrd_max + 1 < top)
		top = (uint64_t)bz->initrd_max + 1;
	if ((uint64_t)st.st_size > top ||
	    ((top - (uint64_t)st.st_size) & ~(PAGE - 1)) < bz->kernel_end)
		return lp_fail(
			err, EFBIG,
			"initrd %s: %llu MiB do not fit beside the kernel in %llu MiB of RAM", path,
			(unsigned long long)((uint64_t)st.st_size >> 20),
			(unsigned long long)(vm->ram_size >> 20));
	*gpa = (top - (uint64_t)st.st_size) & ~(PAGE - 1);
	if (lp_vm_load_file(vm, path, *gpa, top, size, err) < 0)
		return lp_prefix(err, "initrd");
	return 0;
}

static int write_cmdline(struct lp_vm *vm, const struct bzimage *bz, const char *cmdline,
			 struct lp_err *err)
{
	char *dst = lp_vm_gpa(vm, X86_CMDLINE, X86_CMDLINE_MAX);
	uint64_t max = bz->cmdline_max < X86_CMDLINE_MAX ? bz->cmdline_max : X86_CMDLINE_MAX - 1;
	int n;

	if (!dst)
		return lp_fail(err, EFBIG, "kernel command line: outside guest RAM");
	n = snprintf(dst, X86_CMDLINE_MAX, "%s %s", X86_CMDLINE_ARGS, cmdline);
	if (n < 0 || (uint64_t)n > max)
		return lp_fail(err, E2BIG, "kernel command line: %d bytes, the kernel takes %llu",
			       n, (unsigned long long)max);
	return 0;
}

static void e820_add(uint8_t *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	size_t off = BP_E820_TABLE + 20u * bp[BP_E820_ENTRIES];

	put64(bp, off, addr);
	put64(bp, off + 8, size);
	put32(bp, off + 16, type);
	bp[BP_E820_ENTRIES]++;
}

/*
 * The probe guest (platform/vm.h) where the kernel's 64-bit entry would be,
 * reached the same way: mov dx, EXIT_PORT; mov eax, CODE; out dx, eax; then
 * hlt forever.
 */
static int load_probe(struct lp_vm *vm, struct lp_err *err)
{
	static const uint8_t code[] = {
		0x66, 0xba, LP_X86_EXIT_PORT & 0xff, LP_X86_EXIT_PORT >> 8,
		0xb8, LP_VM_PROBE_CODE, 0x00, 0x00, 0x00,
		0xef,
		0xf4,
		0xeb, 0xfd,
	};
	uint8_t *dst = lp_vm_gpa(vm, X86_KERNEL + 0x200, sizeof(code));

	if (!dst)
		return lp_fail(err, EFBIG, "probe: outside guest RAM");
	memcpy(dst, code, sizeof(code));
	return x86_boot_cpu(vm, err);
}

int lp_arch_vm_boot(struct lp_vm *vm, const char *cmdline, struct lp_err *err)
{
	struct bzimage bz;
	uint64_t initrd, initrd_size, rsdp;
	uint8_t *bp;

	if (vm->cfg->probe)
		return load_probe(vm, err);
	if (load_kernel(vm, &bz, err) < 0 || load_initrd(vm, &bz, &initrd, &initrd_size, err) < 0 ||
	    write_cmdline(vm, &bz, cmdline, err) < 0 || x86_acpi_build(vm, &rsdp, err) < 0)
		return -1;
	bp = lp_vm_gpa(vm, X86_BOOT_PARAMS, BP_SIZE);
	if (!bp)
		return lp_fail(err, EFBIG, "boot_params: outside guest RAM");
	memset(bp, 0, BP_SIZE);
	memcpy(bp + BP_SETUP_HEADER, bz.hdr + BP_SETUP_HEADER, bz.hdr_end - BP_SETUP_HEADER);
	put8(bp, HDR_TYPE_OF_LOADER, LOADER_UNDEFINED);
	put32(bp, HDR_CMD_LINE_PTR, (uint32_t)X86_CMDLINE);
	put32(bp, HDR_RAMDISK_IMAGE, (uint32_t)initrd);
	put32(bp, HDR_RAMDISK_SIZE, (uint32_t)initrd_size);
	put32(bp, BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd >> 32));
	put32(bp, BP_EXT_RAMDISK_SIZE, (uint32_t)(initrd_size >> 32));
	/* The kernel would also find the RSDP by scanning 0xe0000-0xfffff; this is quicker. */
	put64(bp, BP_ACPI_RSDP, rsdp);
	/* A PC's map: low RAM, the legacy hole (our ACPI tables), then the rest. */
	e820_add(bp, 0, X86_EBDA, E820_RAM);
	e820_add(bp, X86_EBDA, X86_KERNEL - X86_EBDA, E820_RESERVED);
	e820_add(bp, X86_KERNEL, vm->ram_size - X86_KERNEL, E820_RAM);
	return x86_boot_cpu(vm, err);
}
