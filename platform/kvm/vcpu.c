// SPDX-License-Identifier: Apache-2.0
/*
 * One thread per vCPU.  Each runs KVM_RUN and serves the exits it gets: MMIO
 * and port I/O go to the device registered for the address, the rest to the
 * architecture.  To stop them, the main thread sends each a signal whose
 * handler sets immediate_exit, so a thread about to enter KVM_RUN cannot
 * miss it.
 */
#include "platform/kvm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "platform/lib/util.h"

#define KICK_SIGNAL (SIGRTMIN + 1)

static _Thread_local struct kvm_run *this_run;

static void kick_handler(int sig)
{
	(void)sig;
	if (this_run)
		this_run->immediate_exit = 1;
}

int lp_vcpu_create(struct lp_vm *vm, unsigned int id, struct lp_err *err)
{
	struct lp_vcpu *vcpu = &vm->vcpus[id];
	void *run;

	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0)
		return lp_fail_errno(err, "KVM_CREATE_VCPU %u", id);
	run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED)
		return lp_fail_errno(err, "map vCPU %u's kvm_run", id);
	vcpu->run = run;
	if (lp_arch_vcpu_init(vcpu, err) < 0)
		return lp_prefix(err, "vCPU %u", id);
	return 0;
}

void lp_vcpu_destroy(struct lp_vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->run_size);
	if (vcpu->fd > 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

static struct lp_io_region *find_io(struct lp_vm *vm, uint64_t addr, uint32_t len, bool pio)
{
	unsigned int i;

	for (i = 0; i < vm->n_io; i++) {
		struct lp_io_region *r = &vm->io[i];

		if (r->pio == pio && addr >= r->base && addr - r->base + len <= r->len)
			return r;
	}
	return NULL;
}

/* An access nowhere: reads see zeros, writes vanish, as on an empty bus. */
static void dispatch(struct lp_vm *vm, uint64_t addr, uint8_t *data, uint32_t len, bool write,
		     bool pio)
{
	struct lp_io_region *r = find_io(vm, addr, len, pio);

	if (r)
		r->fn(vm, r->priv, addr - r->base, data, len, write);
	else if (!write)
		memset(data, 0, len);
}

static void handle_io(struct lp_vm *vm, struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t i;

	for (i = 0; i < run->io.count; i++, data += run->io.size)
		dispatch(vm, run->io.port, data, run->io.size,
			 run->io.direction == KVM_EXIT_IO_OUT, true);
}

static const char *internal_error_name(uint32_t suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "KVM could not emulate an instruction";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "an exception while delivering another";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "KVM could not deliver an event";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
		return "an exit KVM does not know";
	default:
		return "unknown";
	}
}

/* 0: run on; 1: the VM ended; -1: err says what went wrong. */
static int handle_exit(struct lp_vcpu *vcpu, struct lp_err *err)
{
	struct kvm_run *run = vcpu->run;

	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		dispatch(vcpu->vm, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
			 run->mmio.is_write, false);
		return 0;
	case KVM_EXIT_IO:
		handle_io(vcpu->vm, run);
		return 0;
	case KVM_EXIT_INTR:
		return 0;
	case KVM_EXIT_FAIL_ENTRY:
		return lp_fail(err, EIO, "vCPU %u: KVM could not enter the guest (reason 0x%llx)",
			       vcpu->id,
			       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
	case KVM_EXIT_INTERNAL_ERROR:
		/* Going back in would only repeat it: end the VM now, saying which. */
		return lp_fail(err, EIO, "vCPU %u: KVM internal error %u (%s)", vcpu->id,
			       run->internal.suberror, internal_error_name(run->internal.suberror));
	default:
		return lp_arch_vcpu_exit(vcpu, err);
	}
}

static void *vcpu_thread(void *arg)
{
	struct lp_vcpu *vcpu = arg;
	struct lp_vm *vm = vcpu->vm;
	struct lp_err err;
	sigset_t kick;
	int rc = 0;

	this_run = vcpu->run;
	sigemptyset(&kick);
	sigaddset(&kick, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	lp_err_clear(&err);
	while (!atomic_load(&vm->ended)) {
		if (vcpu->id == 0 && !vm->t_first_run_ns)
			vm->t_first_run_ns = lp_now_ns();
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->run->immediate_exit = 0;
				continue;
			}
			rc = lp_fail_errno(&err, "vCPU %u: KVM_RUN", vcpu->id);
			break;
		}
		rc = handle_exit(vcpu, &err);
		if (rc != 0)
			break;
	}
	if (rc < 0 && !atomic_load(&vm->ended)) {
		vm->vcpu_err = err;
		lp_vm_end(vm, LP_VM_FAILED, 0);
	}
	return NULL;
}

int lp_vcpus_start(struct lp_vm *vm, struct lp_err *err)
{
	struct sigaction sa;
	unsigned int i;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: KVM_RUN must return EINTR to the thread. */
	if (sigaction(KICK_SIGNAL, &sa, NULL) < 0)
		return lp_fail_errno(err, "sigaction");
	for (i = 0; i < vm->n_vcpus; i++) {
		rc = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);
		if (rc != 0) {
			errno = rc;
			return lp_fail_errno(err, "start vCPU %u's thread", i);
		}
		vm->vcpus[i].started = true;
	}
	return 0;
}

void lp_vcpus_stop(struct lp_vm *vm)
{
	unsigned int i;

	atomic_store(&vm->ended, true);
	for (i = 0; i < vm->n_vcpus; i++)
		if (vm->vcpus[i].started)
			pthread_kill(vm->vcpus[i].thread, KICK_SIGNAL);
	for (i = 0; i < vm->n_vcpus; i++)
		if (vm->vcpus[i].started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].started = false;
		}
}
