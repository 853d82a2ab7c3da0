// SPDX-License-Identifier: Apache-2.0
/*
 * The exit device: limpet's guest init writes the entrypoint's status here
 * (guest_abi.h) and the VM ends at once.  Console output the guest sent
 * before is written out first, so a log never misses the last lines.
 */
#include "platform/kvm/vmm.h"

#include <string.h>

#include "platform/kvm/guest/guest_abi.h"

void lp_exitdev_io(struct lp_vm *vm, void *priv, uint64_t off, uint8_t *data, uint32_t len,
		   bool is_write)
{
	uint32_t v = 0;
	uint32_t i;

	(void)priv;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	/* Any width up to 32 bits at offset 0: a shell can write one byte to /dev/port. */
	if (off != 0 || len > 4)
		return;
	for (i = 0; i < len; i++)
		v |= (uint32_t)data[i] << (8 * i);
	lp_uart_flush(vm->console);
	if (v & LP_GUEST_EXIT_NOSTART)
		lp_vm_end(vm, LP_VM_NOSTART, (int)(v & 0xffff));
	else if (v & LP_GUEST_EXIT_SIGNALED)
		lp_vm_end(vm, LP_VM_SIGNALED, (int)(v & 0xff));
	else
		lp_vm_end(vm, LP_VM_EXITED, (int)LP_GUEST_EXIT_CODE(v));
}
