// SPDX-License-Identifier: Apache-2.0
/*
 * The VM's life: /dev/kvm checks, guest RAM, vCPUs, the architecture's boot
 * setup, then the main thread's loop (signals for the guest, console input,
 * buffered output) until a vCPU thread or a signal ends it, and teardown.
 */
#include "platform/kvm/vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "platform/board.h"
#include "platform/lib/util.h"
#include "platform/kvm/guest/guest_abi.h"
#include "platform/kvm/vcpu.h"

/* Guest RAM comes in 2 MiB steps: a multiple of every host page size and of THP. */
#define RAM_ALIGN (2ull << 20)
/* How often buffered console output reaches the log when the guest is quiet. */
#define FLUSH_MS 50
/* ... and a terminal, where a prompt or an echo must show as it is typed. */
#define FLUSH_TTY_MS 5

void *lp_vm_gpa(struct lp_vm *vm, uint64_t gpa, uint64_t len)
{
	if (gpa < vm->ram_base || len > vm->ram_size || gpa - vm->ram_base > vm->ram_size - len)
		return NULL;
	return vm->ram + (gpa - vm->ram_base);
}

int lp_vm_add_io(struct lp_vm *vm, uint64_t base, uint64_t len, bool pio, lp_io_fn fn,
		 void *priv, struct lp_err *err)
{
	if (vm->n_io == LP_VM_MAX_IO)
		return lp_fail(err, ENOSPC, "more than %d device regions", LP_VM_MAX_IO);
	vm->io[vm->n_io++] = (struct lp_io_region){ base, len, pio, fn, priv };
	return 0;
}

void lp_vm_end(struct lp_vm *vm, enum lp_vm_end how, int value)
{
	uint64_t one = 1;

	if (atomic_exchange(&vm->ended, true))
		return;
	vm->t_end_ns = lp_now_ns();
	vm->result->end = how;
	vm->result->value = value;
	/* The main thread is in poll(); a failed write would leave it there. */
	while (write(vm->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

int lp_vm_load_file(struct lp_vm *vm, const char *path, uint64_t gpa, uint64_t limit,
		    uint64_t *len, struct lp_err *err)
{
	cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *dst;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0)
		return lp_fail_errno(err, "%s", path);
	if (!S_ISREG(st.st_mode))
		return lp_fail(err, EINVAL, "%s: not a regular file", path);
	if ((uint64_t)st.st_size > limit - gpa || gpa > limit)
		return lp_fail(err, EFBIG, "%s: %lld bytes do not fit in guest RAM (%llu MiB)", path,
			       (long long)st.st_size, (unsigned long long)(vm->ram_size >> 20));
	dst = lp_vm_gpa(vm, gpa, (uint64_t)st.st_size);
	if (!dst)
		return lp_fail(err, EFBIG, "%s: does not fit in guest RAM", path);
	n = lp_pread_all(fd, dst, (size_t)st.st_size, 0);
	if (n < 0)
		return lp_fail_errno(err, "read %s", path);
	if (n < st.st_size)
		return lp_fail(err, EIO, "read %s: file shrank while loading", path);
	*len = (uint64_t)n;
	return 0;
}

/* ---------------------------------------------------------------- probe */

int lp_vm_probe(struct lp_vm_caps *caps)
{
	struct lp_board_kvm kvm;

	memset(caps, 0, sizeof(*caps));
	lp_board_probe_kvm(&kvm);
	caps->max_vcpus = kvm.max_vcpus;
	if (!kvm.present)
		snprintf(caps->why, sizeof(caps->why), "no /dev/kvm on this board");
	else if (kvm.open_errno)
		snprintf(caps->why, sizeof(caps->why), "/dev/kvm: %s", strerror(kvm.open_errno));
	else if (!kvm.usable)
		snprintf(caps->why, sizeof(caps->why), "/dev/kvm speaks API %d, not 12",
			 kvm.api_version);
#if defined(__aarch64__)
	else if (!kvm.arm_vgic_v2 && !kvm.arm_vgic_v3)
		snprintf(caps->why, sizeof(caps->why), "KVM offers no in-kernel vGIC (v2 or v3)");
	caps->gic = kvm.arm_vgic_v3 ? "v3" : kvm.arm_vgic_v2 ? "v2" : NULL;
#elif !defined(__x86_64__)
	else
		snprintf(caps->why, sizeof(caps->why), "limpet has no VMM for this architecture");
#endif
	caps->usable = !caps->why[0];
	return caps->usable ? 0 : -1;
}

/* ---------------------------------------------------------------- setup */

static int open_kvm(struct lp_vm *vm, struct lp_err *err)
{
	unsigned long type;
	int v;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return lp_fail_errno(err, "open /dev/kvm");
	v = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION)
		return lp_fail(err, ENOTSUP, "/dev/kvm speaks API %d, not %d", v, KVM_API_VERSION);
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0)
		return lp_fail(err, ENOTSUP, "/dev/kvm lacks KVM_CAP_USER_MEMORY");
	v = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (v < (int)sizeof(struct kvm_run))
		return lp_fail_errno(err, "KVM_GET_VCPU_MMAP_SIZE");
	vm->run_size = (size_t)v;
	if (lp_arch_vm_type(vm->kvm_fd, &type, err) < 0)
		return -1;
	do
		vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, type);
	while (vm->fd < 0 && errno == EINTR);
	if (vm->fd < 0)
		return lp_fail_errno(err, "KVM_CREATE_VM");
	return 0;
}

static int map_ram(struct lp_vm *vm, struct lp_err *err)
{
	struct kvm_userspace_memory_region region;

	vm->ram_base = lp_arch_ram_base();
	vm->ram_size = (vm->cfg->memory + RAM_ALIGN - 1) & ~(RAM_ALIGN - 1);
	/*
	 * Untouched guest pages cost the host nothing: the guest's RAM size is
	 * a ceiling (the cgroup holds the real one), not a reservation.
	 */
	vm->ram = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		return lp_fail_errno(err, "map %llu MiB of guest RAM",
				     (unsigned long long)(vm->ram_size >> 20));
	}
	madvise(vm->ram, vm->ram_size, MADV_MERGEABLE);
	memset(&region, 0, sizeof(region));
	region.slot = 0;
	region.guest_phys_addr = vm->ram_base;
	region.memory_size = vm->ram_size;
	region.userspace_addr = (uintptr_t)vm->ram;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return lp_fail_errno(err, "KVM_SET_USER_MEMORY_REGION (%llu MiB at 0x%llx)",
				     (unsigned long long)(vm->ram_size >> 20),
				     (unsigned long long)vm->ram_base);
	return 0;
}

static int build_cmdline(const struct lp_vm_config *cfg, char **out, struct lp_err *err)
{
	const char *extra = cfg->cmdline ? cfg->cmdline : "";

	if (asprintf(out, "%s%s%s", LP_VM_BASE_CMDLINE, extra[0] ? " " : "", extra) < 0) {
		*out = NULL;
		return lp_fail(err, ENOMEM, "kernel command line: out of memory");
	}
	return 0;
}

static int vm_setup(struct lp_vm *vm, struct lp_err *err)
{
	cleanup_free char *cmdline = NULL;
	unsigned int i;
	int max;

	if (open_kvm(vm, err) < 0 || map_ram(vm, err) < 0)
		return -1;
	max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = 1;
	if (vm->cfg->vcpus < 1 || vm->cfg->vcpus > LP_VM_MAX_VCPUS ||
	    vm->cfg->vcpus > (unsigned int)max)
		return lp_fail(err, EINVAL, "%u vCPUs: this board's KVM runs 1 to %d", vm->cfg->vcpus,
			       max < LP_VM_MAX_VCPUS ? max : LP_VM_MAX_VCPUS);
	if (lp_arch_vm_init(vm, err) < 0)
		return lp_prefix(err, "VM setup");
	lp_uart_limit_output(vm->control, LP_VM_KERNEL_LOG_MAX);
	for (i = 0; i < vm->cfg->vcpus; i++) {
		if (lp_vcpu_create(vm, i, err) < 0)
			return -1;
		vm->n_vcpus++;
	}
	if (build_cmdline(vm->cfg, &cmdline, err) < 0)
		return -1;
	return lp_arch_vm_boot(vm, cmdline, err);
}

static void vm_teardown(struct lp_vm *vm)
{
	unsigned int i;

	lp_vcpus_stop(vm);
	for (i = 0; i < vm->n_vcpus; i++)
		lp_vcpu_destroy(&vm->vcpus[i]);
	if (vm->console)
		lp_uart_flush(vm->console);
	if (vm->control) {
		lp_uart_flush(vm->control);
		lp_uart_tail(vm->control, vm->result->kernel_tail, sizeof(vm->result->kernel_tail));
	}
	lp_uart_free(vm->console);
	lp_uart_free(vm->control);
	lp_arch_vm_free(vm);
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->wake_fd >= 0)
		close(vm->wake_fd);
	pthread_mutex_destroy(&vm->lock);
}

/* ---------------------------------------------------------------- main loop */

/* The signals `limpet stop` and a terminal send: they are the guest's, not ours. */
static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

static int block_signals(sigset_t *fwd, struct lp_err *err)
{
	size_t i;

	sigemptyset(fwd);
	for (i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaddset(fwd, forwarded[i]);
	/* A log reader that went away must not kill the VM. */
	signal(SIGPIPE, SIG_IGN);
	if (pthread_sigmask(SIG_BLOCK, fwd, NULL) != 0)
		return lp_fail(err, EINVAL, "block signals");
	return 0;
}

/*
 * A terminal's new size goes to the guest's terminal, whose kernel then
 * sends SIGWINCH to what runs on it; without a terminal, SIGWINCH is a
 * signal like the others.
 */
static void put_size(uint8_t b[LP_GUEST_RESIZE_LEN], unsigned int rows, unsigned int cols)
{
	b[0] = LP_GUEST_RESIZE;
	b[1] = (uint8_t)(0x80 | (rows >> 6));
	b[2] = (uint8_t)(0x80 | (rows & 0x3f));
	b[3] = (uint8_t)(0x80 | (cols >> 6));
	b[4] = (uint8_t)(0x80 | (cols & 0x3f));
}

/*
 * Our terminal's size as the resize escape (guest_abi.h) in b; false when
 * it has none.  A SIGWINCH that finds the size the guest has already is a
 * redraw asked for (someone attached, limpet's console nudged the size):
 * the guest's terminal is nudged too, one row more first, since its kernel
 * signals only a change.
 */
static bool size_escape(struct lp_vm *vm, uint8_t b[LP_GUEST_RESIZE_LEN], bool nudge)
{
	struct winsize ws;
	unsigned int rows, cols;
	uint8_t more[LP_GUEST_RESIZE_LEN];

	if (ioctl(vm->cfg->console_in, TIOCGWINSZ, &ws) < 0 || !ws.ws_row || !ws.ws_col)
		return false;
	rows = ws.ws_row < LP_GUEST_SIZE_MAX ? ws.ws_row : LP_GUEST_SIZE_MAX;
	cols = ws.ws_col < LP_GUEST_SIZE_MAX ? ws.ws_col : LP_GUEST_SIZE_MAX;
	if (nudge && rows == vm->tty_rows && cols == vm->tty_cols && rows < LP_GUEST_SIZE_MAX) {
		put_size(more, rows + 1, cols);
		lp_uart_input(vm->control, more, sizeof(more));
	}
	vm->tty_rows = rows;
	vm->tty_cols = cols;
	put_size(b, rows, cols);
	/* Should the guest not listen yet (it boots), it hears it when it opens the line. */
	lp_uart_set_hello(vm->control, b, LP_GUEST_RESIZE_LEN);
	return true;
}

static void forward_signal(struct lp_vm *vm, int sig)
{
	uint8_t b[LP_GUEST_RESIZE_LEN] = { (uint8_t)sig };
	size_t len = 1;

	if (sig == SIGWINCH && vm->cfg->tty && size_escape(vm, b, true))
		len = sizeof(b);
	/* A full control queue drops it: the guest is not reading, stop will SIGKILL. */
	lp_uart_input(vm->control, b, len);
}

/* Input the console's receive queue has not taken yet. */
struct pending {
	uint8_t buf[4096];
	size_t off, len;
};

/*
 * Read more only when the guest took all of the last: its receive queue is
 * small, and a paste into a terminal must arrive whole.
 */
static void feed_console(struct lp_vm *vm, struct pollfd *p, struct pending *in)
{
	ssize_t n;

	if (!in->len) {
		n = read(vm->cfg->console_in, in->buf, sizeof(in->buf));
		if (n <= 0) {
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				return;
			p->fd = -1; /* end of input: the guest just sees no more bytes */
			return;
		}
		in->off = 0;
		in->len = (size_t)n;
	}
	n = (ssize_t)lp_uart_input(vm->console, in->buf + in->off, in->len);
	in->off += (size_t)n;
	in->len -= (size_t)n;
	/* Not polled while some waits; the next timeout tries again. */
	p->fd = in->len ? -1 : vm->cfg->console_in;
}

static int main_loop(struct lp_vm *vm, int sfd)
{
	struct pollfd p[3] = {
		{ .fd = vm->wake_fd, .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
		{ .fd = vm->cfg->console_in, .events = POLLIN },
	};
	int flush_ms = isatty(vm->cfg->console_out) ? FLUSH_TTY_MS : FLUSH_MS;
	uint8_t size[LP_GUEST_RESIZE_LEN];
	struct signalfd_siginfo si;
	struct pending in = { .len = 0 };

	if (vm->cfg->tty)
		size_escape(vm, size, false);
	while (!atomic_load(&vm->ended)) {
		int n = poll(p, 3, flush_ms);

		if (n < 0 && errno != EINTR)
			return -1;
		if (in.len)
			feed_console(vm, &p[2], &in);
		if (n <= 0) {
			lp_uart_flush(vm->console);
			lp_uart_flush(vm->control);
			continue;
		}
		if (p[1].revents & POLLIN && read(sfd, &si, sizeof(si)) == sizeof(si))
			forward_signal(vm, (int)si.ssi_signo);
		if (p[2].fd >= 0 && p[2].revents & (POLLIN | POLLHUP | POLLERR))
			feed_console(vm, &p[2], &in);
	}
	return 0;
}

/* kB of guest RAM the host actually holds (pages the guest touched). */
static unsigned long guest_resident_kb(const struct lp_vm *vm)
{
	size_t pages = vm->ram_size / (uint64_t)vm->page_size, i;
	cleanup_free unsigned char *vec = malloc(pages);
	unsigned long n = 0;

	if (!vec || mincore(vm->ram, vm->ram_size, vec) < 0)
		return 0;
	for (i = 0; i < pages; i++)
		n += vec[i] & 1;
	return n * (unsigned long)(vm->page_size / 1024);
}

static unsigned long vm_rss_kb(void)
{
	char line[128];
	unsigned long kb = 0;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* The VMM's own memory: what it holds beyond the guest's pages. */
static void print_memory(const struct lp_vm *vm)
{
	unsigned long rss = vm_rss_kb(), guest = guest_resident_kb(vm);

	fprintf(stderr, "vmm: RSS %lu kB, of which guest RAM %lu kB: %lu kB beyond guest RAM\n",
		rss, guest, rss > guest ? rss - guest : 0);
}

static void print_times(const struct lp_vm *vm, uint64_t t_done)
{
	fprintf(stderr, "vmm: start to first KVM_RUN %.2f ms; guest end to teardown %.2f ms\n",
		(double)(vm->t_first_run_ns - vm->t_start_ns) / 1e6,
		(double)(t_done - vm->t_end_ns) / 1e6);
}

int lp_vm_run(const struct lp_vm_config *cfg, struct lp_vm_result *res, struct lp_err *err)
{
	struct lp_vm vm;
	cleanup_fd int sfd = -1;
	sigset_t fwd;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	memset(&vm, 0, sizeof(vm));
	vm.t_start_ns = lp_now_ns();
	vm.cfg = cfg;
	vm.result = res;
	vm.kvm_fd = vm.fd = -1;
	vm.page_size = sysconf(_SC_PAGESIZE);
	pthread_mutex_init(&vm.lock, NULL);
	vm.wake_fd = eventfd(0, EFD_CLOEXEC);
	if (vm.wake_fd < 0) {
		lp_fail_errno(err, "eventfd");
		goto out;
	}
	if (block_signals(&fwd, err) < 0)
		goto out;
	sfd = signalfd(-1, &fwd, SFD_CLOEXEC);
	if (sfd < 0) {
		lp_fail_errno(err, "signalfd");
		goto out;
	}
	if (vm_setup(&vm, err) < 0 || lp_vcpus_start(&vm, err) < 0)
		goto out;
	if (main_loop(&vm, sfd) < 0) {
		lp_fail_errno(err, "poll");
		lp_vm_end(&vm, LP_VM_FAILED, 0);
	}
	rc = 0;
out:
	if (cfg->times && vm.ram)
		print_memory(&vm);
	vm_teardown(&vm);
	if (rc == 0 && res->end == LP_VM_FAILED) {
		*err = vm.vcpu_err;
		rc = -1;
	}
	if (cfg->times && vm.t_first_run_ns)
		print_times(&vm, lp_now_ns());
	return rc;
}

/* Enough for the probe's few pages (arm64 puts nothing at the top of RAM for it). */
#define PROBE_MEMORY (16ull << 20)

int lp_vm_probe_guest(struct lp_err *err)
{
	struct lp_vm_config cfg = {
		.memory = PROBE_MEMORY,
		.vcpus = 1,
		.console_in = -1,
		.console_out = -1,
		.kernel_log = -1,
		.probe = true,
	};
	struct lp_vm_result res;

	if (lp_vm_run(&cfg, &res, err) < 0)
		return -1;
	if (res.end == LP_VM_EXITED && res.value == LP_VM_PROBE_CODE)
		return 0;
	if (res.end == LP_VM_EXITED)
		return lp_fail(err, EIO, "the probe guest wrote %d, not %d", res.value,
			       LP_VM_PROBE_CODE);
	return lp_fail(err, EIO, "the probe guest ended without writing its code (%s)",
		       res.end == LP_VM_RESET ? "it reset: a fault" :
		       res.end == LP_VM_POWEROFF ? "it powered off" : "an unexpected end");
}
