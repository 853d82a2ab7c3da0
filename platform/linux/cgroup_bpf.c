// SPDX-License-Identifier: Apache-2.0
/*
 * cgroup v2 device allowlist: v2 has no devices controller, so access to
 * device nodes is decided by a BPF_PROG_TYPE_CGROUP_DEVICE program attached
 * to the cgroup.  The program is a chain of rules, each "if the device and
 * access match, return 1", ending in "return 0" (deny).
 */
#include "platform/cgroup.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "platform/lib/util.h"

/* Registers once the context is unpacked (r1 is free again after that). */
#define REG_RET BPF_REG_0
#define REG_CTX BPF_REG_1
#define REG_SCRATCH BPF_REG_1
#define REG_TYPE BPF_REG_2
#define REG_ACCESS BPF_REG_3
#define REG_MAJOR BPF_REG_4
#define REG_MINOR BPF_REG_5

#define DEVCG_ALL_ACCESS (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)

/* Unpacking the context: 6 instructions; the final deny: 2. */
#define PROLOGUE_INSNS 6
#define EPILOGUE_INSNS 2
/* Type check, 3 for access, major, minor, return 1. */
#define MAX_RULE_INSNS 8

struct prog {
	struct bpf_insn *insns;
	size_t n;
};

static void emit(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off,
		 int32_t imm)
{
	p->insns[p->n++] = (struct bpf_insn){
		.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm,
	};
}

static void emit_load_u32(struct prog *p, uint8_t dst, int16_t ctx_off)
{
	emit(p, BPF_LDX | BPF_MEM | BPF_W, dst, REG_CTX, ctx_off, 0);
}

static void emit_return(struct prog *p, int32_t value)
{
	emit(p, BPF_ALU64 | BPF_MOV | BPF_K, REG_RET, 0, 0, value);
	emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

/* A "jump to the next rule if reg != imm"; the offset is patched by end_rule(). */
static void emit_skip_unless(struct prog *p, uint8_t reg, int32_t imm)
{
	emit(p, BPF_JMP | BPF_JNE | BPF_K, reg, 0, 0, imm);
}

static void emit_prologue(struct prog *p)
{
	emit_load_u32(p, REG_TYPE, offsetof(struct bpf_cgroup_dev_ctx, access_type));
	emit(p, BPF_ALU64 | BPF_MOV | BPF_X, REG_ACCESS, REG_TYPE, 0, 0);
	/* access_type is (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_* */
	emit(p, BPF_ALU64 | BPF_AND | BPF_K, REG_TYPE, 0, 0, 0xffff);
	emit(p, BPF_ALU64 | BPF_RSH | BPF_K, REG_ACCESS, 0, 0, 16);
	emit_load_u32(p, REG_MAJOR, offsetof(struct bpf_cgroup_dev_ctx, major));
	emit_load_u32(p, REG_MINOR, offsetof(struct bpf_cgroup_dev_ctx, minor));
}

static int32_t devcg_access(const char *perms)
{
	int32_t acc = 0;

	for (; *perms; perms++) {
		if (*perms == 'r')
			acc |= BPF_DEVCG_ACC_READ;
		else if (*perms == 'w')
			acc |= BPF_DEVCG_ACC_WRITE;
		else if (*perms == 'm')
			acc |= BPF_DEVCG_ACC_MKNOD;
	}
	return acc;
}

static void emit_rule(struct prog *p, const struct lp_cgroup_dev_rule *rule)
{
	int32_t denied = DEVCG_ALL_ACCESS & ~devcg_access(rule->perms);
	size_t start = p->n, i;

	emit_skip_unless(p, REG_TYPE,
			 rule->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
	if (denied) {
		/* Any requested access outside the rule's perms: not this rule. */
		emit(p, BPF_ALU64 | BPF_MOV | BPF_X, REG_SCRATCH, REG_ACCESS, 0, 0);
		emit(p, BPF_ALU64 | BPF_AND | BPF_K, REG_SCRATCH, 0, 0, denied);
		emit_skip_unless(p, REG_SCRATCH, 0);
	}
	if (rule->major != LP_CGROUP_DEV_ANY)
		emit_skip_unless(p, REG_MAJOR, (int32_t)rule->major);
	if (rule->minor != LP_CGROUP_DEV_ANY)
		emit_skip_unless(p, REG_MINOR, (int32_t)rule->minor);
	emit_return(p, 1);
	/* Every conditional jump of the rule lands on the first instruction after it. */
	for (i = start; i < p->n; i++) {
		if (p->insns[i].code == (BPF_JMP | BPF_JNE | BPF_K))
			p->insns[i].off = (int16_t)(p->n - i - 1);
	}
}

static int build_prog(const struct lp_device *devs, size_t n, struct prog *p,
		      struct lp_err *err)
{
	size_t rules = lp_cgroup_n_default_devices + n, i;
	struct lp_cgroup_dev_rule rule;

	p->n = 0;
	p->insns = calloc(PROLOGUE_INSNS + rules * MAX_RULE_INSNS + EPILOGUE_INSNS,
			  sizeof(*p->insns));
	if (!p->insns)
		return lp_fail_errno(err, "build device filter");
	emit_prologue(p);
	for (i = 0; i < lp_cgroup_n_default_devices; i++)
		emit_rule(p, &lp_cgroup_default_devices[i]);
	for (i = 0; i < n; i++) {
		if (lp_cgroup_dev_rule(&devs[i], &rule, err) < 0)
			return -1;
		emit_rule(p, &rule);
	}
	emit_return(p, 0);
	return 0;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int load_prog(const struct prog *p, struct lp_err *err)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)p->insns;
	attr.insn_cnt = (uint32_t)p->n;
	attr.license = (uint64_t)(uintptr_t)"Apache-2.0";
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd < 0)
		return lp_fail_errno(err, "load device filter (bpf BPF_PROG_LOAD)");
	return fd;
}

static int attach_prog(int cgroup_dirfd, int prog_fd, struct lp_err *err)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgroup_dirfd;
	attr.attach_bpf_fd = (uint32_t)prog_fd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	/* Stack with filters of ancestors (systemd's DevicePolicy): all must allow. */
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (sys_bpf(BPF_PROG_ATTACH, &attr) == 0)
		return 0;
	if (errno == EPERM || errno == EINVAL)
		return lp_fail_errno(err,
				     "attach device filter (needs CAP_SYS_ADMIN, a kernel with CONFIG_CGROUP_BPF, and no ancestor filter attached without BPF_F_ALLOW_MULTI)");
	return lp_fail_errno(err, "attach device filter");
}

int lp_cgroup_bpf_devices(int cgroup_dirfd, const struct lp_device *devs, size_t n,
			  struct lp_err *err)
{
	struct prog p = { 0 };
	cleanup_free struct bpf_insn *insns = NULL;
	cleanup_fd int prog_fd = -1;
	int ret;

	ret = build_prog(devs, n, &p, err);
	insns = p.insns;
	if (ret < 0)
		return -1;
	prog_fd = load_prog(&p, err);
	if (prog_fd < 0)
		return -1;
	/* The attachment holds its own reference; our fd can close. */
	return attach_prog(cgroup_dirfd, prog_fd, err);
}
