// SPDX-License-Identifier: Apache-2.0
/*
 * The arm64 boot protocol (the kernel's Documentation/arm64/booting.rst):
 * the Image goes text_offset bytes above a 2 MiB aligned base and needs
 * image_size bytes there; the device tree is 8-byte aligned within RAM and
 * at most 2 MiB; the initrd anywhere else in RAM.  We put the kernel at the
 * bottom of RAM and the device tree and initrd at the top, out of its way.
 */
#include "platform/kvm/arm64/arm64.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "platform/lib/util.h"

#define IMAGE_MAGIC 0x644d5241u /* "ARM\x64" */
#define SZ_2M (2ull << 20)
/* Kernels before 3.17 left text_offset 0 with this meaning. */
#define OLD_TEXT_OFFSET 0x80000ull

/* The Image header, all little-endian. */
struct image_header {
	uint32_t code0, code1;
	uint64_t text_offset;
	uint64_t image_size;
	uint64_t flags;
	uint64_t res2, res3, res4;
	uint32_t magic;
	uint32_t res5;
};

static int read_header(const char *path, struct image_header *h, struct lp_err *err)
{
	cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return lp_fail_errno(err, "kernel %s", path);
	n = read(fd, h, sizeof(*h));
	if (n < 0)
		return lp_fail_errno(err, "kernel %s", path);
	if ((size_t)n < sizeof(*h) || le32toh(h->magic) != IMAGE_MAGIC)
		return lp_fail(err, EINVAL,
			       "kernel %s: not an arm64 Image (a compressed vmlinuz must be "
			       "unpacked first)", path);
	return 0;
}

static uint64_t align_down(uint64_t v, uint64_t a)
{
	return v & ~(a - 1);
}

int arm64_load(struct lp_vm *vm, struct lp_err *err)
{
	struct arm64_layout *l = &arm64(vm)->layout;
	const char *initrd = vm->cfg->initrd;
	uint64_t ram_end = vm->ram_base + vm->ram_size, text_offset, image_size, len;
	struct image_header h;

	if (read_header(vm->cfg->kernel, &h, err) < 0)
		return -1;
	text_offset = le64toh(h.image_size) ? le64toh(h.text_offset) : OLD_TEXT_OFFSET;
	image_size = le64toh(h.image_size);
	l->kernel = vm->ram_base + text_offset;
	if (lp_vm_load_file(vm, vm->cfg->kernel, l->kernel, ram_end, &len, err) < 0)
		return lp_prefix(err, "kernel");
	l->kernel_end = l->kernel + (image_size > len ? image_size : len);

	/* The device tree in the last 2 MiB, the initrd right below it. */
	l->dtb = ram_end - SZ_2M;
	if (initrd) {
		cleanup_fd int ifd = open(initrd, O_RDONLY | O_CLOEXEC);
		off_t size;

		if (ifd < 0)
			return lp_fail_errno(err, "initramfs %s", initrd);
		size = lseek(ifd, 0, SEEK_END);
		if (size < 0)
			return lp_fail_errno(err, "initramfs %s", initrd);
		if ((uint64_t)size + SZ_2M > l->dtb - l->kernel_end)
			return lp_fail(err, EFBIG,
				       "initramfs %s: %lld MiB do not fit in %llu MiB of guest RAM "
				       "beside the kernel", initrd, (long long)(size >> 20),
				       (unsigned long long)(vm->ram_size >> 20));
		l->initrd = align_down(l->dtb - (uint64_t)size, (uint64_t)vm->page_size);
		if (lp_vm_load_file(vm, initrd, l->initrd, l->dtb, &l->initrd_size, err) < 0)
			return lp_prefix(err, "initramfs");
	}
	return 0;
}
