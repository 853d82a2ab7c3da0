// SPDX-License-Identifier: Apache-2.0
/*
 * A 16550A UART, the one serial port every Linux kernel drives without a
 * special driver (of_serial "ns16550a" on arm64, the legacy COM ports on
 * x86).  Transmission is instant: the transmitter is always empty, so the
 * guest never waits, and what it sends is buffered here and written out by
 * line (or when the main thread flushes).  Received bytes wait in a ring
 * until the guest reads them, raising the interrupt while any are there.
 *
 * Just enough of the chip for Linux's 8250 driver: its probe (scratch
 * register, FIFO detection, the loopback test of the modem lines), the
 * THRE and RX-data interrupts, and the divisor latch it writes and forgets.
 */
#include "platform/kvm/vmm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "platform/lib/util.h"

#define RX_RING 4096
#define TX_BUF 4096
#define TAIL 512

/* Register offsets. */
enum { RBR_THR_DLL, IER_DLM, IIR_FCR, LCR, MCR, LSR, MSR, SCR };

#define IER_RDI 0x01	/* interrupt when data is ready */
#define IER_THRI 0x02	/* interrupt when the transmitter is empty */
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO 0xc0	/* FIFOs enabled: what tells the driver it is a 16550A */
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

struct lp_uart {
	struct lp_vm *vm;
	const char *name;
	unsigned int irq;
	int out_fd;			/* -1: output kept only in the tail */
	uint64_t out_left;		/* bytes out_fd may still take; then only the tail */
	int irq_level;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thr_ipending;		/* "transmitter empty" not yet seen by the guest */
	uint8_t rx[RX_RING];
	size_t rx_head, rx_len;
	uint8_t tx[TX_BUF];
	size_t tx_len;
	char tail[TAIL];		/* ring of the last bytes sent */
	size_t tail_pos;
	bool tail_wrapped;
	uint8_t hello[8];		/* received again whenever the guest opens the port */
	size_t hello_len;
};

struct lp_uart *lp_uart_new(struct lp_vm *vm, const char *name, unsigned int irq, int out_fd,
			    struct lp_err *err)
{
	struct lp_uart *u = calloc(1, sizeof(*u));

	if (!u) {
		lp_fail(err, ENOMEM, "%s: out of memory", name);
		return NULL;
	}
	u->vm = vm;
	u->name = name;
	u->irq = irq;
	u->out_fd = out_fd;
	u->out_left = UINT64_MAX;
	u->irq_level = -1;
	return u;
}

void lp_uart_free(struct lp_uart *u)
{
	free(u);
}

/* Called with vm->lock held. */
static void tx_flush_locked(struct lp_uart *u)
{
	size_t n = u->tx_len < u->out_left ? u->tx_len : (size_t)u->out_left;

	/* A reader that went away loses the output, not the VM. */
	if (u->out_fd >= 0 && n)
		lp_write_all(u->out_fd, u->tx, n);
	u->out_left -= n;
	u->tx_len = 0;
}

static uint8_t iir(const struct lp_uart *u)
{
	uint8_t fifo = u->fcr & FCR_ENABLE ? IIR_FIFO : 0;

	if (u->ier & IER_RDI && u->rx_len)
		return fifo | IIR_RDI;
	if (u->ier & IER_THRI && u->thr_ipending)
		return fifo | IIR_THRI;
	return fifo | IIR_NONE;
}

static void update_irq(struct lp_uart *u)
{
	int level = !(iir(u) & IIR_NONE);

	if (level != u->irq_level) {
		u->irq_level = level;
		lp_arch_irq_line(u->vm, u->irq, level);
	}
}

static void rx_push(struct lp_uart *u, uint8_t b)
{
	if (u->rx_len == RX_RING)
		return;
	u->rx[(u->rx_head + u->rx_len) % RX_RING] = b;
	u->rx_len++;
}

static void transmit(struct lp_uart *u, uint8_t b)
{
	if (u->mcr & MCR_LOOP) {
		rx_push(u, b);
		return;
	}
	u->tail[u->tail_pos++] = (char)b;
	if (u->tail_pos == TAIL) {
		u->tail_pos = 0;
		u->tail_wrapped = true;
	}
	u->tx[u->tx_len++] = b;
	if (b == '\n' || u->tx_len == TX_BUF)
		tx_flush_locked(u);
}

static uint8_t msr(const struct lp_uart *u)
{
	uint8_t m = u->mcr;

	/* In loopback the modem inputs mirror the outputs: the driver's probe checks this. */
	if (m & MCR_LOOP)
		return (uint8_t)((m & MCR_RTS ? MSR_CTS : 0) | (m & MCR_DTR ? MSR_DSR : 0) |
				 (m & MCR_OUT1 ? MSR_RI : 0) | (m & MCR_OUT2 ? MSR_DCD : 0));
	return MSR_DCD | MSR_DSR | MSR_CTS;
}

static uint8_t uart_read(struct lp_uart *u, uint64_t off)
{
	uint8_t v;

	switch (off) {
	case RBR_THR_DLL:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		if (!u->rx_len)
			return 0;
		v = u->rx[u->rx_head];
		u->rx_head = (u->rx_head + 1) % RX_RING;
		u->rx_len--;
		return v;
	case IER_DLM:
		return u->lcr & LCR_DLAB ? u->dlm : u->ier;
	case IIR_FCR:
		v = iir(u);
		/* Reading IIR acknowledges "transmitter empty". */
		if ((v & 0x0f) == IIR_THRI)
			u->thr_ipending = false;
		return v;
	case LCR:
		return u->lcr;
	case MCR:
		return u->mcr;
	case LSR:
		return (uint8_t)(LSR_THRE | LSR_TEMT | (u->rx_len ? LSR_DR : 0));
	case MSR:
		return msr(u);
	default:
		return u->scr;
	}
}

static void uart_write(struct lp_uart *u, uint64_t off, uint8_t v)
{
	switch (off) {
	case RBR_THR_DLL:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
			return;
		}
		transmit(u, v);
		u->thr_ipending = true;
		return;
	case IER_DLM:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			return;
		}
		/* Enabling the THRE interrupt while empty raises it at once. */
		if (!(u->ier & IER_THRI) && v & IER_THRI)
			u->thr_ipending = true;
		/*
		 * The receive interrupt going on: a driver that has just opened
		 * the port (and dropped what came before), or a console write
		 * ending.  Either way it listens now: what it must hear, again.
		 */
		if (!(u->ier & IER_RDI) && v & IER_RDI)
			for (size_t i = 0; i < u->hello_len && u->rx_len < RX_RING; i++)
				rx_push(u, u->hello[i]);
		u->ier = v & 0x0f;
		return;
	case IIR_FCR:
		u->fcr = v & FCR_ENABLE;
		if (v & FCR_CLEAR_RX)
			u->rx_len = 0;
		return;
	case LCR:
		u->lcr = v;
		return;
	case MCR:
		u->mcr = v & 0x1f;
		return;
	case SCR:
		u->scr = v;
		return;
	default:
		return; /* LSR and MSR are read-only */
	}
}

void lp_uart_io(struct lp_vm *vm, void *priv, uint64_t off, uint8_t *data, uint32_t len,
		bool is_write)
{
	struct lp_uart *u = priv;

	/* Byte registers: wider accesses touch the first byte only. */
	if (off > SCR) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&vm->lock);
	if (is_write) {
		uart_write(u, off, data[0]);
	} else {
		memset(data, 0, len);
		data[0] = uart_read(u, off);
	}
	update_irq(u);
	pthread_mutex_unlock(&vm->lock);
}

size_t lp_uart_input(struct lp_uart *u, const uint8_t *buf, size_t len)
{
	size_t i;

	pthread_mutex_lock(&u->vm->lock);
	for (i = 0; i < len && u->rx_len < RX_RING; i++)
		rx_push(u, buf[i]);
	update_irq(u);
	pthread_mutex_unlock(&u->vm->lock);
	return i;
}

void lp_uart_set_hello(struct lp_uart *u, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&u->vm->lock);
	u->hello_len = len < sizeof(u->hello) ? len : sizeof(u->hello);
	memcpy(u->hello, buf, u->hello_len);
	pthread_mutex_unlock(&u->vm->lock);
}

void lp_uart_limit_output(struct lp_uart *u, uint64_t bytes)
{
	u->out_left = bytes;
}

void lp_uart_flush(struct lp_uart *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->vm->lock);
	tx_flush_locked(u);
	pthread_mutex_unlock(&u->vm->lock);
}

void lp_uart_tail(struct lp_uart *u, char *buf, size_t len)
{
	size_t n = 0, i, start, count;

	if (!len)
		return;
	pthread_mutex_lock(&u->vm->lock);
	start = u->tail_wrapped ? u->tail_pos : 0;
	count = u->tail_wrapped ? TAIL : u->tail_pos;
	for (i = 0; i < count && n + 1 < len; i++) {
		char c = u->tail[(start + i) % TAIL];

		/* Keep it printable: it ends up in a one-line error message. */
		buf[n++] = c == '\n' ? '|' : (c >= 0x20 && c < 0x7f) ? c : ' ';
	}
	buf[n] = '\0';
	pthread_mutex_unlock(&u->vm->lock);
}
