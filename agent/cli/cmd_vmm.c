// SPDX-License-Identifier: Apache-2.0
/*
 * limpet vmm: one microVM in the foreground.  The agent starts a container
 * with `--isolation vm` as this command in the container's cgroup (so the
 * cgroup's limits hold the whole VM); it also boots any kernel and
 * initramfs by hand.  Its exit status is the guest entrypoint's, as for a
 * namespace container: the code, 128+signal when killed, 127/126 when the
 * command could not start, 255 when the VM itself failed.  With --probe it
 * runs a guest of a few instructions instead (lp_vm_probe_guest): exit 0
 * when it ran, 255 and the reason when it did not.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cli/cli.h"
#include "agent/spec/parse.h"
#include "platform/lib/util.h"
#include "platform/vm.h"

#define EXIT_VM_FAILED 255
#define DEFAULT_MEMORY (256ll << 20)
/*
 * A guest of a few instructions ends in milliseconds where KVM works; the
 * margin is for a board that is busy or emulated (nested KVM under TCG).
 */
#define PROBE_TIMEOUT_S 10
#define STR_(x) #x
#define STR(x) STR_(x)

enum { OPT_KERNEL = 256, OPT_INITRD, OPT_MEMORY, OPT_CPUS, OPT_APPEND, OPT_KERNEL_LOG, OPT_TIMES,
       OPT_EXIT_FILE, OPT_KERNEL_LOG_FILE, OPT_PROBE, OPT_TTY };

static const struct lp_opt vmm_opts[] = {
	{ OPT_KERNEL, 0, "kernel", "IMAGE", "the guest kernel (bzImage, or arm64 Image)" },
	{ OPT_INITRD, 0, "initrd", "CPIO", "its initramfs" },
	{ OPT_MEMORY, 0, "memory", "SIZE", "guest RAM (default 256M, at least 16M)" },
	{ OPT_CPUS, 0, "cpus", "N", "vCPUs, 1 to 64 (default 1)" },
	{ OPT_APPEND, 0, "append", "ARGS", "the guest kernel's command line" },
	{ OPT_KERNEL_LOG, 0, "kernel-log", NULL, "the guest kernel's console on stderr" },
	{ OPT_KERNEL_LOG_FILE, 0, "kernel-log-file", "FILE", "... or into FILE" },
	{ OPT_TIMES, 0, "times", NULL, "print how long boot and run took" },
	{ OPT_EXIT_FILE, 0, "exit-file", "FILE", "write how the guest ended into FILE" },
	{ OPT_PROBE, 0, "probe", NULL, "only check that a guest of a few instructions runs here" },
	{ OPT_TTY, 0, "tty", NULL, "stdin is the guest entrypoint's terminal: pass its size on" },
	{ 0 },
};

static int cmd_vmm(int argc, char **argv, struct lp_globals *g);

const struct lp_cmd_doc lp_doc_vmm = {
	.name = "vmm",
	.summary = "Run one KVM microVM in the foreground (what --isolation vm uses)",
	.opts = vmm_opts,
	.notes = "Its console is this terminal. Exit status: the guest's, or 255.",
	.fn = cmd_vmm,
};

static int parse_vcpus(const char *s, unsigned int *n)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 64)
		return -1;
	*n = (unsigned int)v;
	return 0;
}

/* How the guest ended, as an exit status and (if it is not the entrypoint's own) a line. */
static int report(const struct lp_vm_result *res)
{
	switch (res->end) {
	case LP_VM_EXITED:
		return res->value;
	case LP_VM_SIGNALED:
		return 128 + res->value;
	case LP_VM_NOSTART:
		fprintf(stderr, "limpet vmm: the guest could not start its command: %s\n",
			strerror(res->value));
		return res->value == ENOENT ? 127 : 126;
	case LP_VM_POWEROFF:
		fprintf(stderr, "limpet vmm: the guest powered off without an exit status%s%s\n",
			res->kernel_tail[0] ? "; its console ended: " : "", res->kernel_tail);
		return EXIT_VM_FAILED;
	case LP_VM_RESET:
		fprintf(stderr, "limpet vmm: the guest kernel reset (a panic?)%s%s\n",
			res->kernel_tail[0] ? "; its console ended: " : "", res->kernel_tail);
		return EXIT_VM_FAILED;
	default:
		return EXIT_VM_FAILED;
	}
}

/*
 * For the supervisor, as limpet's container init writes it: our own exit
 * status cannot tell "killed by signal N" from "exited 128+N".
 */
static void write_exit_file(const char *path, const struct lp_vm_result *res, int status)
{
	char buf[32];
	struct lp_err err;
	int len;

	if (!path || (res->end != LP_VM_EXITED && res->end != LP_VM_SIGNALED &&
		      res->end != LP_VM_NOSTART))
		return;
	len = snprintf(buf, sizeof(buf), res->end == LP_VM_SIGNALED ? "signal %d\n" : "exit %d\n",
		       res->end == LP_VM_SIGNALED ? res->value : status);
	if (lp_write_file(path, buf, (size_t)len, &err) < 0)
		fprintf(stderr, "limpet vmm: %s\n", err.msg);
}

static void probe_timeout(int sig)
{
	static const char msg[] = "limpet vmm: the probe guest did not finish in "
				  STR(PROBE_TIMEOUT_S) " s\n";
	ssize_t n;

	(void)sig;
	n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	/* Ends the vCPU thread too, wherever in KVM it waits. */
	_exit(EXIT_VM_FAILED);
}

static int cmd_vmm(int argc, char **argv, struct lp_globals *g)
{
	struct lp_vm_config cfg = {
		.console_in = STDIN_FILENO,
		.console_out = STDOUT_FILENO,
		.kernel_log = -1,
		.vcpus = 1,
		.memory = DEFAULT_MEMORY,
	};
	struct lp_vm_result res;
	struct lp_err err = { 0 };
	const char *exit_file = NULL, *klog_file = NULL;
	cleanup_fd int klog_fd = -1;
	bool probe = false;
	struct lp_opts p;
	const char *arg;
	int64_t mem;
	int opt, status;

	(void)g;
	lp_opts_init(&p, &lp_doc_vmm, argc, argv);
	while ((opt = lp_opt_next(&p)) > 0) {
		arg = p.arg;
		switch (opt) {
		case OPT_KERNEL:
			cfg.kernel = arg;
			break;
		case OPT_INITRD:
			cfg.initrd = arg;
			break;
		case OPT_MEMORY:
			if (lp_parse_size(arg, &mem, &err) < 0)
				return lp_usage_error("vmm", "--memory %s: %s", arg, err.msg);
			cfg.memory = (uint64_t)mem;
			break;
		case OPT_CPUS:
			if (parse_vcpus(arg, &cfg.vcpus) < 0)
				return lp_usage_error("vmm", "--cpus %s: a whole number from 1 to 64",
						      arg);
			break;
		case OPT_APPEND:
			cfg.cmdline = arg;
			break;
		case OPT_KERNEL_LOG:
			cfg.kernel_log = STDERR_FILENO;
			break;
		case OPT_TIMES:
			cfg.times = true;
			break;
		case OPT_EXIT_FILE:
			exit_file = arg;
			break;
		case OPT_KERNEL_LOG_FILE:
			klog_file = arg;
			break;
		case OPT_PROBE:
			probe = true;
			break;
		case OPT_TTY:
			cfg.tty = true;
			break;
		}
	}
	if (opt == LP_OPT_EXIT)
		return p.status;
	if (lp_opts_left(&p))
		return lp_usage_error("vmm", "unexpected argument %s", argv[p.ind]);
	if (probe) {
		/* A KVM that cannot run a guest may hold it for minutes: give up at once. */
		signal(SIGALRM, probe_timeout);
		alarm(PROBE_TIMEOUT_S);
		if (lp_vm_probe_guest(&err) < 0) {
			fprintf(stderr, "limpet vmm: %s\n", err.msg);
			return EXIT_VM_FAILED;
		}
		printf("a probe guest ran\n");
		return 0;
	}
	if (!cfg.kernel || !cfg.initrd)
		return lp_usage_error("vmm", "needs --kernel and --initrd");
	if (cfg.memory < (16u << 20))
		return lp_usage_error("vmm", "--memory: at least 16M (the guest kernel needs it)");
	if (exit_file)
		unlink(exit_file);
	if (klog_file) {
		klog_fd = open(klog_file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (klog_fd < 0) {
			fprintf(stderr, "limpet vmm: %s: %s\n", klog_file, strerror(errno));
			return EXIT_VM_FAILED;
		}
		cfg.kernel_log = klog_fd;
	}
	if (lp_vm_run(&cfg, &res, &err) < 0) {
		fprintf(stderr, "limpet vmm: %s\n", err.msg);
		return EXIT_VM_FAILED;
	}
	status = report(&res);
	write_exit_file(exit_file, &res, status);
	return status;
}
