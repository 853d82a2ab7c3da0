/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside limpet's VMM: the VM (memory, vCPU threads, I/O regions) shared by
 * the core (vm.c, vcpu.c), the devices (uart.c, exitdev.c) and the two
 * architectures (arm64/, x86_64/), which fill in the lp_arch_* hooks.
 *
 * Threads: one per vCPU runs KVM_RUN and the device handlers of the exits
 * it gets; the main thread waits for signals, console input and the end of
 * the VM.  Device state is guarded by vm->lock.
 */
#ifndef LIMPET_KVM_VMM_H
#define LIMPET_KVM_VMM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "platform/lib/err.h"
#include "platform/vm.h"

#define LP_VM_MAX_IO 8
#define LP_VM_MAX_VCPUS 8
/* The guest kernel's console is a diagnosis aid: it never gets more than this. */
#define LP_VM_KERNEL_LOG_MAX (1ull << 20)
/* Guest kernel arguments the VMM always passes (before the caller's). */
#define LP_VM_BASE_CMDLINE "console=ttyS1 panic=-1 quiet rdinit=/.limpet/init"

struct lp_vm;

/*
 * An MMIO (arm64) or port I/O (x86) range.  fn gets the offset into the
 * range; for reads it fills data[0..len).  Called from vCPU threads.
 */
typedef void (*lp_io_fn)(struct lp_vm *vm, void *priv, uint64_t off, uint8_t *data,
			 uint32_t len, bool is_write);

struct lp_io_region {
	uint64_t base, len;
	bool pio;
	lp_io_fn fn;
	void *priv;
};

struct lp_vcpu {
	struct lp_vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

struct lp_uart;

struct lp_vm {
	const struct lp_vm_config *cfg;
	int kvm_fd, fd;
	long page_size;			/* the host's: 4K, 16K (Pi 5) or 64K */
	uint8_t *ram;			/* host mapping of guest RAM */
	uint64_t ram_base, ram_size;	/* guest physical */
	size_t run_size;		/* KVM_GET_VCPU_MMAP_SIZE */
	unsigned int n_vcpus;
	struct lp_vcpu vcpus[LP_VM_MAX_VCPUS];
	struct lp_io_region io[LP_VM_MAX_IO];
	unsigned int n_io;
	struct lp_uart *console, *control;	/* UART 0 and UART 1 */
	pthread_mutex_t lock;		/* device state */
	int wake_fd;			/* eventfd: a vCPU thread ended the VM */
	atomic_bool ended;
	unsigned int tty_rows, tty_cols;	/* the size the guest's terminal was last given */
	struct lp_vm_result *result;	/* written once, by whoever ends the VM */
	struct lp_err vcpu_err;		/* why a vCPU thread failed (LP_VM_FAILED) */
	void *arch;			/* the architecture's own state */
	uint64_t t_start_ns, t_first_run_ns, t_end_ns;
};

/* ---- core services for the devices and architectures */

/* Host pointer to guest physical [gpa, gpa+len) in RAM, or NULL. */
void *lp_vm_gpa(struct lp_vm *vm, uint64_t gpa, uint64_t len);
int lp_vm_add_io(struct lp_vm *vm, uint64_t base, uint64_t len, bool pio, lp_io_fn fn,
		 void *priv, struct lp_err *err);
/* End the VM (first caller wins); safe from any thread. */
void lp_vm_end(struct lp_vm *vm, enum lp_vm_end how, int value);
/* Read a whole file into guest RAM at gpa (must fit below limit); size in *len. */
int lp_vm_load_file(struct lp_vm *vm, const char *path, uint64_t gpa, uint64_t limit,
		    uint64_t *len, struct lp_err *err);

/* ---- devices */

/* A 16550A UART; irq is what lp_arch_irq_line takes. in_fd may be -1. */
struct lp_uart *lp_uart_new(struct lp_vm *vm, const char *name, unsigned int irq, int out_fd,
			    struct lp_err *err);
void lp_uart_free(struct lp_uart *u);
void lp_uart_io(struct lp_vm *vm, void *priv, uint64_t off, uint8_t *data, uint32_t len,
		bool is_write);
/* Queue host input for the guest; returns how much was taken (0: full). */
size_t lp_uart_input(struct lp_uart *u, const uint8_t *buf, size_t len);
/*
 * Bytes (at most 8) the guest receives each time it turns the receive
 * interrupt on (it opened the port, or a kernel console write ended): what
 * was sent before it listened is lost (a terminal's size while it boots),
 * so this must be something to hear more than once.
 */
void lp_uart_set_hello(struct lp_uart *u, const uint8_t *buf, size_t len);
/* Write at most bytes more to out_fd (a log file must not fill the disk). */
void lp_uart_limit_output(struct lp_uart *u, uint64_t bytes);
/* Write out what the guest sent that is still buffered. */
void lp_uart_flush(struct lp_uart *u);
/* The last bytes the guest wrote (kept for error messages). */
void lp_uart_tail(struct lp_uart *u, char *buf, size_t len);

/* The exit device: a 32-bit write of a LP_GUEST_EXIT_* value ends the VM. */
void lp_exitdev_io(struct lp_vm *vm, void *priv, uint64_t off, uint8_t *data, uint32_t len,
		   bool is_write);

/* ---- what each architecture provides (arm64/ or x86_64/) */

/* KVM_CREATE_VM's type argument (arm64: the IPA size). */
int lp_arch_vm_type(int kvm_fd, unsigned long *type, struct lp_err *err);
/* Where RAM goes in the guest physical map. */
uint64_t lp_arch_ram_base(void);
/* After RAM, before vCPUs: in-kernel irqchip/timers, I/O regions (UARTs, exit). */
int lp_arch_vm_init(struct lp_vm *vm, struct lp_err *err);
/* Each vCPU once created (vcpu->fd and ->run are set). */
int lp_arch_vcpu_init(struct lp_vcpu *vcpu, struct lp_err *err);
/* After all vCPUs: load kernel and initrd, boot data, boot vCPU registers. */
int lp_arch_vm_boot(struct lp_vm *vm, const char *cmdline, struct lp_err *err);
/* Raise or lower an interrupt line (the number given to lp_uart_new). */
int lp_arch_irq_line(struct lp_vm *vm, unsigned int irq, int level);
/*
 * An exit the core does not handle (not MMIO or I/O): 0 to run on, 1 when
 * the VM has ended (lp_vm_end called), -1 with err for an unexpected exit.
 */
int lp_arch_vcpu_exit(struct lp_vcpu *vcpu, struct lp_err *err);
void lp_arch_vm_free(struct lp_vm *vm);

#endif
