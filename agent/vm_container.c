// SPDX-License-Identifier: Apache-2.0
/*
 * A container as a microVM: its rootfs (the image's layers, flattened) and
 * limpet itself as the guest's init go into an initramfs, and the container
 * process is limpet's VMM in the container's cgroup.  The memory limit is
 * the guest's RAM, --cpus its vCPU count (and the cgroup's CPU quota), the
 * pids limit is applied by the guest init inside.
 */
#include "vm_container.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "initramfs.h"
#include "parse.h"
#include "platform/lib/util.h"
#include "platform/vm.h"

/* What the VMM and the guest kernel's own page tables and slabs need beside guest RAM. */
#define VMM_OVERHEAD ((int64_t)24 << 20)
#define SELF_EXE "/proc/self/exe"

int lp_vm_choose(const struct lp_container_cfg *cfg, bool *use_vm, struct lp_err *err)
{
	struct lp_vm_caps caps;

	*use_vm = false;
	if (cfg->isolation == LP_ISOLATION_CONTAINER)
		return 0;
	if (lp_vm_probe(&caps) == 0) {
		*use_vm = true;
		if (cfg->isolation == LP_ISOLATION_AUTO)
			lp_say("limpet", "container %s: isolation auto: microVM (KVM works here%s%s)",
			       cfg->name, caps.gic ? ", vGIC " : "", caps.gic ? caps.gic : "");
		return 0;
	}
	if (cfg->isolation == LP_ISOLATION_VM)
		return lp_fail(err, ENOTSUP, "isolation vm: %s", caps.why);
	lp_say("limpet", "container %s: isolation auto: namespaces (%s)", cfg->name, caps.why);
	return 0;
}

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

static char *guest_spec_json(const struct lp_spec *spec, struct lp_err *err)
{
	json_t *argv = json_array(), *env = json_array(), *root;
	char *text;
	size_t i;

	for (i = 0; argv && spec->argv[i]; i++)
		json_array_append_new(argv, json_string(spec->argv[i]));
	for (i = 0; env && spec->envp[i]; i++)
		json_array_append_new(env, json_string(spec->envp[i]));
	root = json_pack("{s:o?, s:o?, s:s, s:I, s:I, s:s, s:I}", "argv", argv, "env", env, "cwd",
			 spec->cwd ? spec->cwd : "/", "uid", (json_int_t)spec->uid, "gid",
			 (json_int_t)spec->gid, "hostname",
			 spec->hostname ? spec->hostname : spec->name, "pids",
			 (json_int_t)spec->limits.pids);
	text = root ? json_dumps(root, JSON_COMPACT) : NULL;
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
			 "--kernel-log-file", klog, NULL };

	if (access(vs->kernel, R_OK) < 0)
		return lp_fail_errno(err, "guest kernel %s (vm.kernel in limpet.conf)", vs->kernel);
	if (check_static_init(err) < 0 || kvm_device(&kvm, err) < 0)
		return -1;
	if (lp_path(initrd, sizeof(initrd), err, "%s/initramfs.cpio", ct_dir) < 0 ||
	    lp_path(klog, sizeof(klog), err, "%s/kernel.log", ct_dir) < 0)
		return -1;
	json = guest_spec_json(ns_spec, err);
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
