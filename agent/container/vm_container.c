// SPDX-License-Identifier: Apache-2.0
/*
 * A container as a microVM: its rootfs (the image's layers, flattened) and
 * limpet itself as the guest's init go into an initramfs, and the container
 * process is limpet's VMM in the container's cgroup.  The memory limit is
 * the guest's RAM, --cpus its vCPU count (and the cgroup's CPU quota), the
 * pids limit is applied by the guest init inside.
 */
#include "agent/container/vm_container.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/container/initramfs.h"
#include "agent/spec/parse.h"
#include "platform/kvm/guest/guest_abi.h"
#include "platform/lib/util.h"
#include "platform/vm.h"

/* What the VMM and the guest kernel's own page tables and slabs need beside guest RAM. */
#define VMM_OVERHEAD ((int64_t)24 << 20)
#define SELF_EXE "/proc/self/exe"

/*
 * The guest runs this very binary as its init, with no libraries beside it:
 * only a static build can do that.
 */
static int check_static_init(struct lp_err *err)
{
	cleanup_fd int fd = open(SELF_EXE, O_RDONLY | O_CLOEXEC);
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int i;

	if (fd < 0 || pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh))
		return lp_fail_errno(err, "read %s", SELF_EXE);
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64)
		return lp_fail(err, ENOEXEC, "%s: not a 64-bit ELF program", SELF_EXE);
	for (i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) !=
		    (ssize_t)sizeof(ph))
			return lp_fail_errno(err, "read %s", SELF_EXE);
		if (ph.p_type == PT_INTERP)
			return lp_fail(err, ENOEXEC,
				       "this limpet is dynamically linked and cannot be a microVM's "
				       "init; use the static build (make static)");
	}
	return 0;
}

/* ---------------------------------------------------------------- can a guest run here */

/* `limpet vmm --probe` ends by itself after 10 s; this is for a VMM that cannot. */
#define PROBE_KILL_MS 15000

static bool boot_id(char *out, size_t len)
{
	char *text = NULL;
	struct lp_err ignored;

	if (lp_read_file("/proc/sys/kernel/random/boot_id", 64, &text, NULL, &ignored) < 0)
		return false;
	snprintf(out, len, "%.*s", (int)strcspn(text, "\n"), text);
	free(text);
	return out[0] != '\0';
}

/* The verdict an earlier probe of this boot left in path: 1 ran, 0 did not (why), -1 none. */
static int cached_verdict(const char *path, const char *boot, char *why, size_t len)
{
	cleanup_free char *text = NULL;
	struct lp_err ignored;
	size_t blen = strlen(boot);
	const char *v;

	if (lp_read_file(path, 1024, &text, NULL, &ignored) < 0 || strncmp(text, boot, blen) ||
	    text[blen] != '\n')
		return -1;
	v = text + blen + 1;
	if (!strcmp(v, "ok\n"))
		return 1;
	if (strncmp(v, "no ", 3))
		return -1;
	snprintf(why, len, "%.*s", (int)strcspn(v + 3, "\n"), v + 3);
	return 0;
}

/* stderr's first line from fd until the child ends it, or until deadline (ms). */
static bool read_until(int fd, char *buf, size_t len, int64_t deadline)
{
	size_t used = 0;

	buf[0] = '\0';
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - lp_now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) == 0)
			return false;
		n = read(fd, buf + used, len - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		buf[used] = '\0';
		if (used == len - 1)
			break;
	}
	buf[strcspn(buf, "\n")] = '\0';
	return true;
}

/* Run `limpet vmm --probe` in a process of its own: 1 a guest ran, 0 it did not (why). */
static int run_probe(char *why, size_t len)
{
	char *const argv[] = { "limpet", "vmm", "--probe", NULL };
	char out[256], *msg;
	int pipefd[2], status = -1, null_fd;
	bool ended;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(why, len, "cannot start a probe guest: %s", strerror(errno));
		return 0;
	}
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	pid = fork();
	if (pid == 0) {
		if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 ||
		    dup2(pipefd[1], 2) < 0)
			_exit(127);
		execv(SELF_EXE, argv);
		_exit(127);
	}
	close(pipefd[1]);
	if (null_fd >= 0)
		close(null_fd);
	if (pid < 0) {
		close(pipefd[0]);
		snprintf(why, len, "cannot start a probe guest: %s", strerror(errno));
		return 0;
	}
	ended = read_until(pipefd[0], out, sizeof(out), lp_now_ms() + PROBE_KILL_MS);
	close(pipefd[0]);
	if (!ended)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (ended && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 1;
	msg = strncmp(out, "limpet vmm: ", 12) ? out : out + 12;
	if (!ended)
		snprintf(why, len, "a probe guest did not finish in %d s", PROBE_KILL_MS / 1000);
	else
		snprintf(why, len, "a probe guest did not run: %s", *msg ? msg : "no reason given");
	return 0;
}

/*
 * Whether a guest runs on this host, asked once per boot: the answer is kept
 * in RUN_DIR/vm-probe beside the boot's id.
 */
static bool guest_runs(const char *run_dir, char *why, size_t len)
{
	char path[PATH_MAX], boot[64], text[512];
	struct lp_err ignored;
	int v;

	if (!boot_id(boot, sizeof(boot)) ||
	    lp_path(path, sizeof(path), &ignored, "%s/vm-probe", run_dir) < 0)
		return run_probe(why, len) == 1;
	v = cached_verdict(path, boot, why, len);
	if (v >= 0)
		return v == 1;
	v = run_probe(why, len);
	snprintf(text, sizeof(text), "%s\n%s%s\n", boot, v ? "ok" : "no ", v ? "" : why);
	if (lp_mkdir_p(run_dir, 0700, &ignored) == 0)
		lp_write_file_atomic(path, text, strlen(text), &ignored);
	return v == 1;
}

enum lp_vm_missing lp_vm_ready(const struct lp_vm_settings *vs, const char *run_dir,
			       struct lp_vm_caps *caps, char *why, size_t len)
{
	struct lp_err err = { 0 };

	why[0] = '\0';
	if (lp_vm_probe(caps) < 0) {
		snprintf(why, len, "%s", caps->why);
		return LP_VM_NO_KVM;
	}
	if (access(vs->kernel, R_OK) < 0) {
		snprintf(why, len, "no guest kernel: %s: %s (vm.kernel)", vs->kernel,
			 strerror(errno));
		return LP_VM_NO_KERNEL;
	}
	if (check_static_init(&err) < 0) {
		snprintf(why, len, "%s", err.msg);
		return LP_VM_NOT_STATIC;
	}
	/* Last: it costs a VM, once per boot. */
	return guest_runs(run_dir, why, len) ? LP_VM_READY : LP_VM_NO_GUEST;
}

int lp_vm_choose(const struct lp_host *host, const struct lp_container_cfg *cfg, bool *use_vm,
		 struct lp_err *err)
{
	struct lp_vm_caps caps;
	char why[256];

	*use_vm = false;
	if (cfg->isolation == LP_ISOLATION_CONTAINER)
		return 0;
	if (cfg->isolation == LP_ISOLATION_VM) {
		/* Asked for by name: the start says what is missing, if anything. */
		if (lp_vm_probe(&caps) < 0)
			return lp_fail(err, ENOTSUP, "isolation vm: %s", caps.why);
		*use_vm = true;
		return 0;
	}
	if (lp_vm_ready(&host->cfg.vm, host->run_dir, &caps, why, sizeof(why)) != LP_VM_READY) {
		lp_say("limpet", "container %s: isolation auto: namespaces (%s)", cfg->name, why);
		return 0;
	}
	*use_vm = true;
	lp_say("limpet", "container %s: isolation auto: microVM (KVM works here%s%s)", cfg->name,
	       caps.gic ? ", vGIC " : "", caps.gic ? caps.gic : "");
	return 0;
}

/*
 * Checked: an entry json_string refuses (not UTF-8, as a HOME from /etc/passwd
 * may be) must fail the start, not vanish from argv or env.
 */
static json_t *strings_json(const char *key, char *const *v, struct lp_err *err)
{
	json_t *arr = json_array(), *s;
	size_t i;

	for (i = 0; arr && v[i]; i++) {
		errno = 0;
		s = json_string(v[i]);
		if (!s && errno != ENOMEM) {
			json_decref(arr);
			lp_fail(err, EILSEQ, "guest spec: %s[%zu] is not valid UTF-8", key, i);
			return NULL;
		}
		if (json_array_append_new(arr, s) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	if (!arr)
		lp_fail(err, ENOMEM, "guest spec: out of memory");
	return arr;
}

static json_t *groups_json(const struct lp_spec *spec, struct lp_err *err)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr && i < spec->n_groups; i++)
		if (json_array_append_new(arr, json_integer(spec->groups[i])) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	if (!arr)
		lp_fail(err, ENOMEM, "guest spec: out of memory");
	return arr;
}

char *lp_vm_guest_spec_json(const struct lp_spec *spec, struct lp_err *err)
{
	json_t *argv, *env = NULL, *groups = NULL, *root;
	json_error_t je;
	char *text;

	argv = strings_json("argv", spec->argv, err);
	if (argv)
		env = strings_json("env", spec->envp, err);
	if (env)
		groups = groups_json(spec, err);
	if (!groups) {
		json_decref(argv);
		json_decref(env);
		return NULL;
	}
	/* "o" steals each array, even when the pack fails. */
	root = json_pack_ex(&je, 0, "{s:o, s:o, s:s, s:I, s:I, s:o, s:s, s:I, s:i, s:i, s:i}",
			    "argv", argv, "env", env, "cwd", spec->cwd ? spec->cwd : "/", "uid",
			    (json_int_t)spec->uid, "gid", (json_int_t)spec->gid, "groups", groups,
			    "hostname", spec->hostname ? spec->hostname : spec->name, "pids",
			    (json_int_t)spec->limits.pids, "tty", spec->tty ? 1 : 0, "rows",
			    spec->tty_rows > LP_GUEST_SIZE_MAX ? (int)LP_GUEST_SIZE_MAX
							       : (int)spec->tty_rows,
			    "cols",
			    spec->tty_cols > LP_GUEST_SIZE_MAX ? (int)LP_GUEST_SIZE_MAX
							       : (int)spec->tty_cols);
	if (!root) {
		lp_fail(err, EINVAL, "guest spec: %s", je.text);
		return NULL;
	}
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!text)
		lp_fail(err, ENOMEM, "guest spec: out of memory");
	return text;
}

static unsigned int vcpu_count(const struct lp_limits *l)
{
	long host = sysconf(_SC_NPROCESSORS_ONLN);
	int64_t n = 1;

	/* --cpus 1.5 gets two vCPUs; the cgroup quota keeps them to 1.5 CPUs. */
	if (l->cpu_quota > 0 && l->cpu_period > 0)
		n = (l->cpu_quota + l->cpu_period - 1) / l->cpu_period;
	if (host > 0 && n > host)
		n = host;
	if (n > LP_VM_VCPUS_MAX)
		n = LP_VM_VCPUS_MAX;
	return n < 1 ? 1 : (unsigned int)n;
}

static int kvm_device(struct lp_device *dev, struct lp_err *err)
{
	struct stat st;

	if (stat("/dev/kvm", &st) < 0)
		return lp_fail_errno(err, "/dev/kvm");
	memset(dev, 0, sizeof(*dev));
	snprintf(dev->host, sizeof(dev->host), "/dev/kvm");
	snprintf(dev->inner, sizeof(dev->inner), "/dev/kvm");
	snprintf(dev->perms, sizeof(dev->perms), "rw");
	dev->type = 'c';
	dev->major = major(st.st_rdev);
	dev->minor = minor(st.st_rdev);
	return 0;
}

int lp_vm_container_start(const struct lp_vm_settings *vs, const char *ct_dir,
			  const struct lp_spec *ns_spec, struct lp_proc *proc, struct lp_err *err)
{
	char initrd[PATH_MAX], klog[PATH_MAX], mem[32], cpus[16];
	int64_t ram = ns_spec->limits.memory ? ns_spec->limits.memory : vs->memory;
	cleanup_free char *json = NULL;
	struct lp_device kvm;
	struct lp_spec spec = *ns_spec;
	char *argv[] = { "limpet", "vmm", "--kernel", vs->kernel, "--initrd", initrd, "--memory",
			 mem, "--cpus", cpus, "--exit-file", (char *)ns_spec->exit_file,
			 "--kernel-log-file", klog, ns_spec->tty ? "--tty" : NULL, NULL };

	if (access(vs->kernel, R_OK) < 0)
		return lp_fail_errno(err, "guest kernel %s (vm.kernel in limpet.conf)", vs->kernel);
	if (check_static_init(err) < 0 || kvm_device(&kvm, err) < 0)
		return -1;
	if (lp_path(initrd, sizeof(initrd), err, "%s/initramfs.cpio", ct_dir) < 0 ||
	    lp_path(klog, sizeof(klog), err, "%s/kernel.log", ct_dir) < 0)
		return -1;
	json = lp_vm_guest_spec_json(ns_spec, err);
	if (!json || lp_initramfs_write(ns_spec->lowerdir, SELF_EXE, json, initrd, err) < 0)
		return -1;
	snprintf(mem, sizeof(mem), "%" PRId64, ram);
	snprintf(cpus, sizeof(cpus), "%u", vcpu_count(&ns_spec->limits));
	/* The cgroup holds the whole VM: guest RAM, VMM, KVM's own allocations. */
	spec.limits.memory = ram + VMM_OVERHEAD + ram / 64;
	spec.limits.pids = 0;
	spec.devices = &kvm;
	spec.n_devices = 1;
	spec.vmm_argv = argv;
	spec.init = false;
	return lp_runtime_start(&spec, proc, err);
}
